"""Piecewise-linear sigmoid and tanh, bit-exact with the RTL activation unit.

One table serves both functions: ``tanh(x) = 2 * sigmoid(2x) - 1``.

Input: a pre-activation ``a`` in the ``act_input`` format (range [-16, 16)). With
``S = act_segments`` = 2**sb and ``u = a + 2**(bits-1)`` (offset binary), the segment is the
top ``sb`` bits of ``u`` and ``t`` its low ``tb = bits - sb`` bits::

    sigmoid(a) = base[seg] + ((slope[seg] * t + 2**(tb-1)) >> tb)      (round half up)
    tanh(a)    = 2 * sigmoid(sat(2a)) - 2**gate.frac                  (sat: to act_input)

``base`` and ``slope`` are integers in the ``gate`` format: the knots are sigmoid at the segment
ends rounded half up, so the curve is continuous and monotone. The worst-case error over every
representable input is measured by :func:`measure_error` and written in the manifest.
"""

from __future__ import annotations

import math

import numpy as np

from .fixed import saturate

__all__ = ["pwl_tables", "sigmoid_q", "tanh_q", "measure_error"]

_cache = {}


def _sigmoid(x):
    return 0.5 * (1.0 + np.tanh(0.5 * np.asarray(x, dtype=np.float64)))


def pwl_tables(act_input, gate, segments):
    """Returns ``(base, slope)`` int64 arrays of length ``segments``."""
    key = (act_input, gate, segments)
    if key in _cache:
        return _cache[key]
    sb = int(math.log2(segments))
    tb = act_input.bits - sb
    lo = act_input.min / act_input.scale
    width = (1 << tb) / act_input.scale
    gscale = gate.scale
    knots = np.floor(_sigmoid(lo + np.arange(segments + 1) * width) * gscale + 0.5)
    base = knots[:-1].astype(np.int64)
    slope = np.diff(knots).astype(np.int64)
    _cache[key] = (base, slope)
    return base, slope


def sigmoid_q(a, act_input, gate, segments):
    """Sigmoid of integer pre-activations ``a`` (``act_input`` format) -> ``gate`` format."""
    base, slope = pwl_tables(act_input, gate, segments)
    sb = int(math.log2(segments))
    tb = act_input.bits - sb
    u = np.asarray(a, dtype=np.int64) - act_input.min
    seg = u >> tb
    t = u & ((1 << tb) - 1)
    rnd = (1 << (tb - 1)) if tb > 0 else 0
    return base[seg] + ((slope[seg] * t + rnd) >> tb)


def tanh_q(a, act_input, gate, segments):
    """Tanh of integer ``a`` (``act_input`` format) -> ``gate`` format, via the sigmoid table."""
    doubled, _ = saturate(2 * np.asarray(a, dtype=np.int64), act_input)
    return 2 * sigmoid_q(doubled, act_input, gate, segments) - (1 << gate.frac)


def measure_error(act_input, gate, segments):
    """Worst-case absolute error of both functions over every representable input.

    Returns ``{"sigmoid": err, "tanh": err}`` in real units; tanh is measured over the inputs
    whose doubled value is representable (|x| < 8) plus the saturated tail beyond.
    """
    a = np.arange(act_input.min, act_input.max + 1, dtype=np.int64)
    x = a / act_input.scale
    s = sigmoid_q(a, act_input, gate, segments) / gate.scale
    t = tanh_q(a, act_input, gate, segments) / gate.scale
    return {"sigmoid": float(np.max(np.abs(s - _sigmoid(x)))),
            "tanh": float(np.max(np.abs(t - np.tanh(x))))}
