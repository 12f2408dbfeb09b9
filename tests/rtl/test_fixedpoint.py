"""The gateware fixed-point helpers against golden.fixed, exhaustively on narrow widths."""

import numpy as np
import pytest
from amaranth.hdl import Module, Signal, signed, unsigned
from amaranth.sim import Simulator

from golden.fixed import Format, rescale as golden_rescale
from rtl.fixedpoint import rescale, saturate


def _evaluate(shape, fn, out_shape):
    m = Module()
    v, o = Signal(shape), Signal(out_shape)
    m.d.comb += o.eq(fn(v))
    lo, hi = (-(1 << (shape.width - 1)), 1 << (shape.width - 1)) if shape.signed else \
        (0, 1 << shape.width)
    got = {}

    async def bench(ctx):
        for x in range(lo, hi):
            ctx.set(v, x)
            got[x] = ctx.get(o)

    sim = Simulator(m)
    sim.add_testbench(bench)
    sim.run()
    return got


@pytest.mark.parametrize("shape", [signed(7), unsigned(6), signed(4), signed(3)],
                         ids=lambda s: repr(s))
def test_saturate_clamps_to_the_signed_range(shape):
    got = _evaluate(shape, lambda v: saturate(v, 4), signed(4))
    assert got == {x: min(max(x, -8), 7) for x in got}


@pytest.mark.parametrize("shape", [signed(9), signed(11), unsigned(10), signed(6)],
                         ids=lambda s: repr(s))
@pytest.mark.parametrize("from_frac", [0, 2, 5])
def test_rescale_matches_golden(from_frac, shape):
    fmt = Format(5, 1)
    got = _evaluate(shape, lambda v: rescale(v, from_frac, fmt), signed(5))
    xs = np.array(sorted(got))
    want, _ = golden_rescale(xs, from_frac, fmt)
    assert [got[x] for x in xs] == [int(w) for w in want]
