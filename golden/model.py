"""Bit-exact integer model of the accelerator (NumPy int64, the hardware's order of operations).

Per step, with formats from :class:`~golden.config.Config` (``vf`` vector frac, ``pf`` product
frac, ``gf`` gate frac, ``cf`` cell frac)::

    v     = [x << (vf - input.frac) ; h << (vf - state.frac)]         exact alignment
    acc_r = (b_r << (pf - bias.frac)) + sum over visited columns c of W[r, c] * v[c]
                                                                      exact, never overflows
    a_r   = sat_act_input(round_half_up(acc_r, pf -> act_input.frac))
    i, f, o = sigmoid_pwl(a), g = tanh_pwl(a)                         gate format
    s     = f * c << (F - gf - cf) + i * g << (F - 2 gf),  F = max(gf + cf, 2 gf)
    c     = sat_cell(round_half_up(s, F -> cf))
    h~    = sat_state(round_half_up(o * tanh_pwl(round_half_up(c, cf -> act_input.frac)),
                                    2 gf -> state.frac))
    h     = 0 where |h~| < theta else h~                               theta: raw magnitude

Sparse mode visits only the nonzero columns of v (ascending: x part, then h part); dense mode
visits all of them. The accumulator is exact, so both give identical bits.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .activation import sigmoid_q, tanh_q
from .config import Config
from .fixed import quantize, rescale, shift_round, saturate
from .layout import split_gates
from .params import QuantParams

__all__ = ["GoldenLSTM", "StepTrace", "quantize_inputs", "one_hot_inputs"]


def quantize_inputs(cfg: Config, xs, mode="half_even"):
    """Float inputs (T, X) -> input-format integers; returns ``(ints, n_saturated)``."""
    return quantize(xs, cfg.formats.input, mode, "input sequence")


def one_hot_inputs(cfg: Config, ids, dtype=np.int64):
    """Symbol ids (T,) -> one-hot input vectors (T, X) in the input format (1.0 exact)."""
    ids = np.asarray(ids)
    xs = np.zeros((len(ids), cfg.input_size), dtype=dtype)
    xs[np.arange(len(ids)), ids] = 1 << cfg.formats.input.frac
    return xs


@dataclass
class StepTrace:
    """Everything one step computed; integers in their formats."""
    visited: np.ndarray      # column indices of v visited, in hardware order
    acc: np.ndarray          # (4H,) accumulator
    pre: np.ndarray          # (4H,) activation inputs
    i: np.ndarray
    f: np.ndarray
    g: np.ndarray
    o: np.ndarray
    c: np.ndarray
    h_raw: np.ndarray        # before pruning
    h: np.ndarray
    fresh: bool = False
    saturated: dict = field(default_factory=dict)


class GoldenLSTM:
    """The hardware's arithmetic. ``q``: quantised parameters checked against ``cfg``."""

    def __init__(self, cfg: Config, q: QuantParams):
        self.cfg = cfg
        self.q = q.check(cfg)
        self.W = q.W
        f = cfg.formats
        self.vf = cfg.vector.frac
        self.pf = cfg.product.frac
        self.bias_acc = q.b << (self.pf - f.bias.frac)
        gf, cf = cfg.gate.frac, f.cell.frac
        self.F = max(gf + cf, 2 * gf)
        # float64 holds every partial sum exactly when the accumulator fits its 53-bit
        # significand, so BLAS can do the sums; otherwise plain int64
        self._exact_float = cfg.accumulator.bits <= 53
        self._WT = np.ascontiguousarray(self.W.T.astype(np.float64 if self._exact_float
                                                        else np.int64))

    # -- pieces --------------------------------------------------------------------------

    def vector(self, x, h):
        f = self.cfg.formats
        return np.concatenate([np.asarray(x, dtype=np.int64) << (self.vf - f.input.frac),
                               np.asarray(h, dtype=np.int64) << (self.vf - f.state.frac)])

    def visited(self, v, sparse=True):
        return np.flatnonzero(v) if sparse else np.arange(v.size)

    def sigmoid(self, a):
        c = self.cfg
        return sigmoid_q(a, c.act_input, c.gate, c.act_segments)

    def tanh(self, a):
        c = self.cfg
        return tanh_q(a, c.act_input, c.gate, c.act_segments)

    def cell(self, acc, c):
        """The cell after the matrix product, for every unit at once: accumulators ``acc``
        (G H,) and the previous cell state ``c`` (H,) -> ``(pre, (i, f, g, o), c_new, h_raw,
        saturated)``; ``h_raw`` before pruning. Every model path calls this one function."""
        cfg = self.cfg
        fm = cfg.formats
        gf, cf = cfg.gate.frac, fm.cell.frac
        pre, n_pre = rescale(acc, self.pf, cfg.act_input)
        a_i, a_f, a_g, a_o = split_gates(pre, cfg.hidden_size)
        i, f, g, o = self.sigmoid(a_i), self.sigmoid(a_f), self.tanh(a_g), self.sigmoid(a_o)
        s = ((f * np.asarray(c, dtype=np.int64)) << (self.F - gf - cf)) \
            + ((i * g) << (self.F - 2 * gf))
        c_new, n_c = saturate(shift_round(s, self.F - cf), fm.cell)
        tc = self.tanh(rescale(c_new, cf, cfg.act_input)[0])
        h_raw, n_h = rescale(o * tc, 2 * gf, fm.state)
        return pre, (i, f, g, o), c_new, h_raw, {"act_input": n_pre, "cell": n_c, "state": n_h}

    @staticmethod
    def prune(h_raw, theta):
        """h = 0 where |h~| < theta (raw state-format magnitude)."""
        return np.where(np.abs(h_raw) < int(theta), 0, h_raw)

    # -- one step ------------------------------------------------------------------------

    def step(self, x, h, c, theta=0, sparse=True, fresh=False) -> StepTrace:
        cfg, H = self.cfg, self.cfg.hidden_size
        fm = cfg.formats
        x = np.asarray(x, dtype=np.int64)
        if x.shape != (cfg.input_size,):
            raise ValueError(f"input vector has shape {x.shape}; expected ({cfg.input_size},)")
        if x.size and (x.min() < fm.input.min or x.max() > fm.input.max):
            raise ValueError(f"input vector has values in [{x.min()}, {x.max()}]; input "
                             f"format {fm.input} allows [{fm.input.min}, "
                             f"{fm.input.max}]")
        if fresh:
            h = np.zeros(H, dtype=np.int64)
            c = np.zeros(H, dtype=np.int64)
        v = self.vector(x, h)
        cols = self.visited(v, sparse)
        acc = self.bias_acc.copy()
        for col in cols:                       # column-at-a-time, as the lanes do
            acc += self.W[:, col] * v[col]
        pre, (i, f, g, o), c_new, h_raw, sat = self.cell(acc, c)
        return StepTrace(cols, acc, pre, i, f, g, o, c_new, h_raw, self.prune(h_raw, theta),
                         fresh, sat)

    # -- sequences -----------------------------------------------------------------------

    def trace(self, xs, theta=0, sparse=True, h0=None, c0=None):
        """Per-step traces of one sequence (state starts at h0/c0, zero by default)."""
        H = self.cfg.hidden_size
        h = np.zeros(H, dtype=np.int64) if h0 is None else np.asarray(h0, dtype=np.int64)
        c = np.zeros(H, dtype=np.int64) if c0 is None else np.asarray(c0, dtype=np.int64)
        out = []
        for x in np.asarray(xs, dtype=np.int64).reshape(-1, self.cfg.input_size):
            st = self.step(x, h, c, theta, sparse)
            h, c = st.h, st.c
            out.append(st)
        return out

    def run(self, xs, theta=0, sparse=True, h0=None, c0=None):
        """Returns ``(hs, cs)`` as (T, H) int64 arrays."""
        tr = self.trace(xs, theta, sparse, h0, c0)
        H = self.cfg.hidden_size
        return (np.array([t.h for t in tr], dtype=np.int64).reshape(-1, H),
                np.array([t.c for t in tr], dtype=np.int64).reshape(-1, H))

    def run_fast(self, xs, theta=0, h0=None, c0=None):
        """Same bits as :meth:`run`, computed with a product over the nonzero columns: exact
        (in float64 when the accumulator fits 53 bits, else int64), so the order of the
        sums does not matter."""
        cfg, H = self.cfg, self.cfg.hidden_size
        h = np.zeros(H, dtype=np.int64) if h0 is None else np.asarray(h0, dtype=np.int64)
        c = np.zeros(H, dtype=np.int64) if c0 is None else np.asarray(c0, dtype=np.int64)
        hs, cs = [], []
        for x in np.asarray(xs, dtype=np.int64).reshape(-1, cfg.input_size):
            v = self.vector(x, h)
            nz = np.flatnonzero(v)
            part = v[nz].astype(self._WT.dtype) @ self._WT[nz]
            acc = self.bias_acc + part.astype(np.int64)
            _, _, c, h_raw, _ = self.cell(acc, c)
            h = self.prune(h_raw, theta)
            hs.append(h)
            cs.append(c)
        return (np.array(hs, dtype=np.int64).reshape(-1, H),
                np.array(cs, dtype=np.int64).reshape(-1, H))
