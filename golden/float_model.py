"""Float64 reference LSTM with hidden-state pruning (docs/contract.md section 1).

Only a tolerance reference and the bridge to PyTorch: with ``theta = 0`` it equals
``torch.nn.LSTM`` (gate order i, f, g, o) to float64 rounding.
"""

from __future__ import annotations

import numpy as np

from .layout import split_gates

__all__ = ["sigmoid", "prune", "lstm_float"]


def sigmoid(x):
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def prune(h, theta):
    """Elements with ``|h| < theta`` become exactly 0; ``theta = 0`` prunes nothing."""
    h = np.asarray(h, dtype=np.float64)
    return np.where(np.abs(h) < theta, 0.0, h)


def lstm_float(params, xs, theta=0.0, h0=None, c0=None):
    """Run one sequence. ``xs``: (T, X). Returns ``(hs (T, H), cs (T, H))``."""
    xs = np.asarray(xs, dtype=np.float64)
    H = params.w_hh.shape[1]
    if xs.ndim != 2 or xs.shape[1] != params.w_ih.shape[1]:
        raise ValueError(f"input sequence has shape {xs.shape}; expected (T, "
                         f"{params.w_ih.shape[1]})")
    h = np.zeros(H) if h0 is None else np.asarray(h0, dtype=np.float64)
    c = np.zeros(H) if c0 is None else np.asarray(c0, dtype=np.float64)
    hs, cs = [], []
    for x in xs:
        a = params.w_ih @ x + params.w_hh @ h + params.b
        a_i, a_f, a_g, a_o = split_gates(a, H)
        i, f, g, o = sigmoid(a_i), sigmoid(a_f), np.tanh(a_g), sigmoid(a_o)
        c = f * c + i * g
        h = prune(o * np.tanh(c), theta)
        hs.append(h)
        cs.append(c)
    return np.array(hs).reshape(len(xs), H), np.array(cs).reshape(len(xs), H)
