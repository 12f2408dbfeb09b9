"""Reductions over lists of Amaranth values, shared by the units."""

from functools import reduce
from operator import or_

from amaranth.hdl import Const

__all__ = ["or_all"]


def or_all(values, width=None):
    """The OR of ``values``, folded left; with ``width``, folded from a zero of that width and
    cut to it (so an empty list gives that zero)."""
    values = list(values)
    if width is None:
        return reduce(or_, values)
    return reduce(or_, values, Const(0, width))[:width]
