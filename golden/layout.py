"""The cell's gates, described once, and how their rows are laid out over the lanes.

Gate rows follow PyTorch: row ``q H + u`` is gate ``GATES[q]`` of hidden unit ``u``. Lane
``k`` owns the units ``u = j N + k`` (``j`` = 0 .. H/N - 1) and, for each, that unit's rows of
every gate: its local row ``G j + q`` (``G`` = number of gates) is global row ``q H + j N + k``.
Rows of one unit are consecutive in the lane, so its cell update follows the unit's last gate
row. The RTL's baked memories (``lane_images``), its parameter loader and the cycle model read
this layout; ``docs/architecture.md`` draws it.
"""

from __future__ import annotations

import numpy as np

__all__ = ["GATES", "N_GATES", "GATE_ACTIVATION", "split_gates", "place", "lane_rows",
           "lane_images"]

GATES = ("i", "f", "g", "o")               # input, forget, cell candidate, output
N_GATES = len(GATES)
GATE_ACTIVATION = {"i": "sigmoid", "f": "sigmoid", "g": "tanh", "o": "sigmoid"}


def split_gates(a, hidden_size):
    """The per-gate parts ``(i, f, g, o)`` of a (..., G H) array of gate rows."""
    return tuple(a[..., q * hidden_size:(q + 1) * hidden_size] for q in range(N_GATES))


def place(cfg, row):
    """``(lane, local_row)`` of global gate row ``row``."""
    q, u = divmod(int(row), cfg.hidden_size)
    j, k = divmod(u, cfg.lanes)
    return k, N_GATES * j + q


def lane_rows(cfg, lane):
    """The global gate rows of ``lane``, in its local row order."""
    H, N = cfg.hidden_size, cfg.lanes
    return [q * H + j * N + lane for j in range(H // N) for q in range(N_GATES)]


def lane_images(cfg, q):
    """Each lane's weight memory (local rows x columns, flattened) and bias memory contents
    from quantised parameters ``q`` (``golden.params.QuantParams``)."""
    W, b = q.W, q.b
    out = []
    for k in range(cfg.lanes):
        rows = lane_rows(cfg, k)
        out.append((np.asarray(W[rows]).reshape(-1), np.asarray(b[rows])))
    return out
