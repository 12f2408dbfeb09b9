"""Signed two's-complement fixed point on NumPy int64.

A value with format ``{bits, frac}`` is an integer ``q`` in ``[-2**(bits-1), 2**(bits-1) - 1]``
that stands for ``q / 2**frac``.

Rounding modes (named, never implied):

``truncate``
    floor: an arithmetic shift right.
``half_up``
    round half up: ``floor(x + 1/2)``; the hardware's mode at every internal rescale.
``half_even``
    round half to even (``np.round``); used only on the host, for float quantisation.

Saturation clamps to the format's range. Functions that can saturate return how many values
did, so callers can report it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Format", "ROUNDING_MODES", "saturate", "shift_round", "rescale", "quantize",
           "dequantize"]

ROUNDING_MODES = ("truncate", "half_up", "half_even")


@dataclass(frozen=True)
class Format:
    bits: int
    frac: int

    @property
    def min(self) -> int:
        return -(1 << (self.bits - 1))

    @property
    def max(self) -> int:
        return (1 << (self.bits - 1)) - 1

    @property
    def scale(self) -> float:
        return float(2 ** self.frac)

    def to_dict(self):
        return {"bits": self.bits, "frac": self.frac}

    def __str__(self):
        return f"{{bits={self.bits}, frac={self.frac}}}"


def _int64(a):
    return np.asarray(a, dtype=np.int64)


def saturate(q, fmt: Format):
    """Clamp integers to ``fmt``; returns ``(clamped, n_saturated)``."""
    q = _int64(q)
    out = np.clip(q, fmt.min, fmt.max)
    return out, int(np.count_nonzero(out != q))


def shift_round(q, shift: int, mode: str = "half_up"):
    """Divide integers by ``2**shift`` with the named rounding (``shift`` < 0 multiplies)."""
    q = _int64(q)
    if shift <= 0:
        return q << (-shift)
    if mode == "truncate":
        return q >> shift
    if mode == "half_up":
        return (q + (1 << (shift - 1))) >> shift
    if mode == "half_even":
        floor = q >> shift
        rem = q - (floor << shift)
        half = 1 << (shift - 1)
        up = (rem > half) | ((rem == half) & (floor & 1 == 1))
        return floor + up
    raise ValueError(f"rounding mode {mode!r} is invalid; allowed: {ROUNDING_MODES}")


def rescale(q, from_frac: int, to: Format, mode: str = "half_up"):
    """Change an integer's fraction bits from ``from_frac`` to ``to.frac`` with the named
    rounding, then saturate to ``to``; returns ``(values, n_saturated)``."""
    return saturate(shift_round(q, from_frac - to.frac, mode), to)


def quantize(x, fmt: Format, mode: str = "half_even", name: str = "value"):
    """Quantise floats to ``fmt``; returns ``(int64 array, n_saturated)``.

    Raises ``ValueError`` naming ``name`` if any value is NaN or infinite.
    """
    if mode not in ROUNDING_MODES:
        raise ValueError(f"rounding mode {mode!r} is invalid; allowed: {ROUNDING_MODES}")
    x = np.asarray(x, dtype=np.float64)
    bad = ~np.isfinite(x)
    if bad.any():
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(f"{name} has a non-finite value {float(x[idx])} at index {idx}; "
                         f"only finite numbers can be quantised")
    scaled = x * fmt.scale
    lim = float(2 ** (fmt.bits + 1))
    scaled = np.clip(scaled, -lim, lim)  # keeps the int64 conversion exact; saturated below
    if mode == "truncate":
        q = np.floor(scaled)
    elif mode == "half_up":
        q = np.floor(scaled + 0.5)
    else:
        q = np.round(scaled)
    return saturate(q.astype(np.int64), fmt)


def dequantize(q, fmt: Format):
    return _int64(q).astype(np.float64) / fmt.scale
