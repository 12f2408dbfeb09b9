"""Cycle model of the accelerator (docs/contract.md section 6), exact for the RTL's CYCLES counter.

CYCLES counts the cycles from the one after a step's start to the one that writes its last
h group. A step starts when its whole x_t has arrived, the previous step has finished, and the h output
buffer has room for H elements; from then on it never stalls. Each lane computes
``R = G H / N`` gate rows (``golden.layout``, G = 4 gates) one after the other; a row visits the step's ``nnz_t`` columns, one
per cycle, back to back (a step with no nonzero column still spends one cycle per row, to add
the bias). After the last column the pipeline drains in ``L`` cycles::

    T_step = R * max(nnz_t, 1) + L
    nnz_t  = nnz(x_t) + nnz(h_{t-1})  (sparse; h part 0 on the first step of a sequence)
           = X + H                    (dense)

``L`` (``PIPELINE_LATENCY``) is the sum of the RTL pipeline stages after column issue:

=============  ======  ==========================================================
stage          cycles  what
=============  ======  ==========================================================
prefetch       2       entries 0 and 1 of the step's nonzero-index lists loaded
issue          1       column registered at the column-issue unit
fetch          4       column registered in each lane; weight, bias and v-element
                       memory reads; weight-bank outputs registered; bank selected
multiply       1       registered product
accumulate     1       accumulator (bias + sum), row done
round          1       accumulator -> activation input, round half up, saturate
activation     5       table read, table word register, slope x offset, interpolate,
                       tanh fix-up
cell           3       f*c and i*g; exact sum; one rounding, saturate, c written
round_c        1       c -> activation input
tanh           5       tanh(c), as above
output         5       o*tanh(c); round and saturate; compare with theta; prune; the h
                       group of the N lanes registered; written to the h buffer, the
                       index list and the output FIFO as the step ends
=============  ======  ==========================================================

Throughput bounds outside a step (not counted in CYCLES): x arrives one element per beat
(X beats per step) and h leaves one element per beat (H beats per step).
"""

from __future__ import annotations

import numpy as np

from .config import Config

__all__ = ["PIPELINE_LATENCY", "STAGES", "step_cycles", "nnz_per_step", "cycle_model",
           "describe"]

STAGES = {"prefetch": 2, "issue": 1, "fetch": 4, "multiply": 1, "accumulate": 1, "round": 1, "activation": 5, "cell": 3,
          "round_c": 1, "tanh": 5, "output": 5}
PIPELINE_LATENCY = sum(STAGES.values())


def step_cycles(cfg: Config, nnz):
    """Cycles of steps with ``nnz`` visited columns (scalar or array)."""
    nnz = np.asarray(nnz, dtype=np.int64)
    return cfg.rows_per_lane * np.maximum(nnz, 1) + PIPELINE_LATENCY


def nnz_per_step(cfg: Config, xs, hs, sparse=True):
    """Visited columns per step of one sequence that starts from zero state; ``xs`` (T, X)
    inputs, ``hs`` (T, H) outputs."""
    xs = np.asarray(xs).reshape(-1, cfg.input_size)
    hs = np.asarray(hs).reshape(-1, cfg.hidden_size)
    if not sparse:
        return np.full(len(xs), cfg.columns, dtype=np.int64)
    nx = np.count_nonzero(xs, axis=1)
    nh = np.concatenate([[0], np.count_nonzero(hs[:-1], axis=1)]) if len(hs) else nx * 0
    return (nx + nh).astype(np.int64)


def cycle_model(cfg: Config, xs, hs, sparse=True):
    """Counters after running one sequence from zero state: CYCLES, STEPS, COLUMNS, SKIPPED."""
    nnz = nnz_per_step(cfg, xs, hs, sparse)
    return {"CYCLES": int(step_cycles(cfg, nnz).sum()), "STEPS": int(len(nnz)),
            "COLUMNS": int(nnz.sum()), "SKIPPED": int((cfg.columns - nnz).sum())}


def describe(cfg: Config):
    """The constants and the formula, for the manifest."""
    R = cfg.rows_per_lane
    return {
        "L": PIPELINE_LATENCY,
        "stages": dict(STAGES),
        "rows_per_lane": R,
        "formula": "T_step = ceil(4H/N) * max(nnz_t, 1) + L cycles, counted from step start "
                   "to the last h_t element written; nnz_t = nonzero elements of "
                   "[x_t ; h_{t-1}] in sparse mode (h part 0 on a sequence's first step), "
                   "X + H in dense mode",
        "dense_step_cycles": int(step_cycles(cfg, cfg.columns)),
        "dense_lane_utilisation": R * cfg.columns / int(step_cycles(cfg, cfg.columns)),
    }
