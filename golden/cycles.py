"""Cycle model of the accelerator (docs/contract.md section 6), exact for the RTL's CYCLES
counter.

CYCLES counts the cycles from the one after a step's start to the one that writes its last
h group. A step starts when its whole x_t has arrived, the previous step has finished, and
the h output buffer has room for H elements; from then on it never stalls. Each of the N
multiply-accumulate lanes computes ``R = G H / N`` gate rows (``golden.layout``, G = 4 gates)
one after the other; a row visits the step's ``nnz_t`` columns, one per cycle, back to back
(a step with no nonzero column still spends one cycle per row, to add the bias). The P shared
activation / cell-update units take the N row results of a row P per cycle, so a row lasts at
least ``m = N / P`` cycles (``min_columns``): a row with fewer columns waits before its first
column. After the last row the pipeline drains in ``L`` cycles::

    T_step = R * max(nnz_t, m, 1) + L
    nnz_t  = nnz(x_t) + nnz(h_{t-1})  (sparse; h part 0 on the first step of a sequence)
           = X + H                    (dense)

``L`` is the sum of the RTL pipeline stages after the last column (``stages(cfg)``):

=============  ========  ========================================================
stage          cycles    what
=============  ========  ========================================================
prefetch       2         entries 0 and 1 of the step's nonzero-index lists loaded
issue          1         the counting loop's column (mask, rank j of its set bit) registered
search         7         position of the j-th set bit (chunk popcounts, prefix sums, chunk,
                         bit), column address and element read registered
fanout         1         column, v element (read meanwhile, it follows the column by
                         three cycles) and parameter writes into one register per group
                         of neighbouring lanes
fetch          6         column registered in each lane; weight, bias and v-element
                         memory reads; weight-bank outputs registered in the block RAM,
                         then beside it (v element registered in the lane); bank
                         selected; multiplier input registers
multiply       2         product registered in the multiplier, then beside the
                         accumulator
accumulate     1         accumulator (bias + sum), row done
drain          N/P       the N row results in the lanes' result registers, then handed
                         to the P cell units along shift chains, P per cycle (the last
                         ones N/P cycles after the row ends)
round          2         row result registered in the cell unit; accumulator ->
                         activation input, round half up, saturate
activation     7         segment (table address) registered, table read (read and output
                         registers), table word in a fabric register, slope x offset
                         (multiplier input and product registers), interpolate with the
                         tanh fix-up
cell           5         the slot's i, f, g, c, o selected; f*c and i*g (multiplier input
                         and product registers); exact sum; one rounding, saturate,
                         c written
round_c        1         c -> activation input
tanh           7         tanh(c), as above
output         6         o*tanh(c) (multiplier input and product registers); round and
                         saturate; compare with theta; prune;
                         the P values of each slot into the output FIFO and the
                         gather register; the unit group's N h values handed to the
                         index unit (h buffer and list written the cycle after, before
                         the next step can start)
=============  ========  ========================================================

Throughput bounds outside a step (not counted in CYCLES): x arrives one element per beat
(X beats per step) and h leaves one element per beat (H beats per step).

With the ``overlap`` option a step is two passes through the same pipeline. Its x pass visits
only the x columns of each row (no padding: its rows do not reach the cell units) and leaves
every row's sum in the lane's partial-sum memory; it starts as soon as x_t is complete and the
column issue has finished the previous step, so it runs while the previous step drains. The
h pass visits only the h columns, starting each row from its partial sum; it starts when the
x pass's partial sums are written and the previous step has ended. CYCLES counts every cycle
in which either pass is in flight, so a step costs::

    T_step = R * max(nnz_h, m, 1) + L + E
    E      = R * max(nnz_x, 1) + F            the first step after the core was idle
           = max(0, R * max(nnz_x, 1) + F - W)  a step whose x_t was complete when the
                                              previous step issued its last column
    F      = prefetch + issue + search + fanout + fetch + multiply + accumulate = 20
    W      = L - 4                            (the x pass starts 4 cycles after the
                                              previous step's last column leaves the loop,
                                              L - 4 cycles before that step ends)

with nnz_x, nnz_h the x and h parts of nnz_t (dense: X and H). The x pass is hidden whenever
``R * max(nnz_x, 1) + F <= W``. If x_t arrives later than that, E grows by the wait (CYCLES
counts the x pass, not the wait).
"""

from __future__ import annotations

import numpy as np

from .config import Config

__all__ = ["stages", "latency", "front", "window", "step_cycles", "nnz_per_step",
           "nnz_parts", "cycle_model", "describe"]

_FIXED = {"prefetch": 2, "issue": 1, "search": 7, "fanout": 1, "fetch": 6, "multiply": 2,
          "accumulate": 1}
_CELL = {"round": 2, "activation": 7, "cell": 5, "round_c": 1, "tanh": 7, "output": 6}


def stages(cfg: Config):
    """The pipeline stages after the last column of a step, in cycles."""
    return {**_FIXED, "drain": cfg.min_columns, **_CELL}


def latency(cfg: Config):
    """L: cycles of a step beyond ``R * max(nnz, m, 1)``."""
    return sum(stages(cfg).values())


def front(cfg: Config):
    """F: cycles from a pass's start to its last row in the lanes' accumulators, beyond its
    columns (``overlap`` option)."""
    return sum(_FIXED.values())


def window(cfg: Config):
    """W: cycles of the previous step's drain that hide an x pass (``overlap`` option)."""
    return latency(cfg) - 4


def step_cycles(cfg: Config, nnz, x_nnz=None, first=False):
    """Cycles of steps with ``nnz`` visited columns (scalar or array). With the ``overlap``
    option also ``x_nnz``, the x part of ``nnz``, and ``first``: the step is the first after
    the core was idle (scalar or array of bools)."""
    nnz = np.asarray(nnz, dtype=np.int64)
    R, m = cfg.rows_per_lane, max(cfg.min_columns, 1)
    if not cfg.overlap:
        return R * np.maximum(nnz, m) + latency(cfg)
    if x_nnz is None:
        raise ValueError("step_cycles: a configuration with overlap = true needs x_nnz, the x "
                         "part of nnz (the x and h passes are timed apart)")
    x_nnz = np.asarray(x_nnz, dtype=np.int64)
    x_pass = R * np.maximum(x_nnz, 1) + front(cfg)
    extra = np.where(np.asarray(first, dtype=bool), x_pass,
                     np.maximum(0, x_pass - window(cfg)))
    return R * np.maximum(nnz - x_nnz, m) + latency(cfg) + extra


def nnz_parts(cfg: Config, xs, hs, sparse=True):
    """``(x part, h part)`` of the visited columns per step of one sequence that starts from
    zero state; ``xs`` (T, X) inputs, ``hs`` (T, H) outputs."""
    xs = np.asarray(xs).reshape(-1, cfg.input_size)
    hs = np.asarray(hs).reshape(-1, cfg.hidden_size)
    if not sparse:
        return (np.full(len(xs), cfg.input_size, dtype=np.int64),
                np.full(len(xs), cfg.hidden_size, dtype=np.int64))
    nx = np.count_nonzero(xs, axis=1).astype(np.int64)
    nh = np.concatenate([[0], np.count_nonzero(hs[:-1], axis=1)]) if len(hs) else nx * 0
    return nx, nh.astype(np.int64)


def nnz_per_step(cfg: Config, xs, hs, sparse=True):
    """Visited columns per step of one sequence that starts from zero state; ``xs`` (T, X)
    inputs, ``hs`` (T, H) outputs."""
    nx, nh = nnz_parts(cfg, xs, hs, sparse)
    return nx + nh


def cycle_model(cfg: Config, xs, hs, sparse=True, follows=False, idle=False):
    """Counters after running one sequence from zero state: CYCLES, STEPS, COLUMNS, SKIPPED.
    With the ``overlap`` option: ``follows``, the sequence's first x_t was complete while the
    step before it, of another sequence, issued its columns (otherwise the core was idle);
    ``idle``, every step found the core idle (x_t sent after h_{t-1} was out: no x pass
    hidden, the most CYCLES can be)."""
    nx, nh = nnz_parts(cfg, xs, hs, sparse)
    nnz = nx + nh
    first = np.full(len(nnz), idle, dtype=bool)
    first[:1] = idle or not follows
    return {"CYCLES": int(step_cycles(cfg, nnz, nx, first).sum()), "STEPS": int(len(nnz)),
            "COLUMNS": int(nnz.sum()), "SKIPPED": int((cfg.columns - nnz).sum())}


def describe(cfg: Config):
    """The constants and the formula, for the manifest."""
    R = cfg.rows_per_lane
    dense = int(step_cycles(cfg, cfg.columns, cfg.input_size))
    extra = {}
    if cfg.overlap:
        extra = {
            "overlap": True, "F": front(cfg), "W": window(cfg),
            "formula_overlap": "with overlap: T_step = (4H/N) * max(nnz_h, min_columns, 1) + L "
                               "+ E; E = (4H/N) * max(nnz_x, 1) + F for the first step after "
                               "the core was idle, else max(0, (4H/N) * max(nnz_x, 1) + F - W); "
                               "nnz_x, nnz_h the x and h parts of nnz_t (dense: X and H)",
        }
    return {
        "L": latency(cfg),
        "min_columns": cfg.min_columns,
        "stages": stages(cfg),
        "rows_per_lane": R,
        "cell_units": cfg.cell_units,
        "formula": "T_step = (4H/N) * max(nnz_t, min_columns, 1) + L cycles, counted from "
                   "step start to the last h_t group written; nnz_t = nonzero elements of "
                   "[x_t ; h_{t-1}] in sparse mode (h part 0 on a sequence's first step), "
                   "X + H in dense mode; min_columns = N / cell_units",
        "dense_step_cycles": dense,
        "dense_lane_utilisation": R * cfg.columns / dense,
        **extra,
    }
