"""Pipelined piecewise-linear sigmoid / tanh unit, bit-exact with ``golden.activation``."""

import math

from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from golden.activation import pwl_tables

from .fixedpoint import saturate
from .primitives import Multiplier, TableRom

__all__ = ["Activation"]


class Activation(wiring.Component):
    """Sigmoid (``i_tanh = 0``) or tanh (``i_tanh = 1``) of a pre-activation, one per cycle.

    Parameters
    ----------
    act_input, gate : golden ``Format`` of the input and of the output.
    segments : sigmoid table segments (power of two).
    tag_width : width of a side-band tag delayed along with the data.
    target : ``"generic"`` or ``"ecp5"`` (the slope multiplier as a registered
        ``MULT18X18D``, the table as ``DP16KD`` with output registers; ``rtl.primitives``).
        Same latency.
    external_table : the table is outside (``t_addr`` / ``t_data``, read in
        ``TableRom.latency`` cycles; the words of ``table_words()``), so that two units
        share one two-port block.

    Members
    -------
    i_valid, i_data, i_tanh, i_tag : input, accepted every cycle.
    o_valid, o_data, o_tag : result, ``latency`` cycles later.
    t_addr, t_data : the table read (``external_table`` only).
    """

    #: segment register, table read (its read and output registers), a fabric register for
    #: the table word, multiply (``Multiplier.latency``: its input and product registers),
    #: interpolate with the tanh fix-up
    latency = 1 + 2 + 1 + Multiplier.latency + 1

    def __init__(self, act_input, gate, segments, tag_width=1, target="generic",
                 external_table=False):
        self.act_input, self.gate, self.segments = act_input, gate, segments
        self.target = target
        self.external_table = external_table
        self.tag_width = tag_width
        base, slope = pwl_tables(act_input, gate, segments)
        self._base, self._slope = [int(v) for v in base], [int(v) for v in slope]
        self._bw = max(max(self._base).bit_length(), 1)
        self._sw = max(max(self._slope).bit_length(), 1)
        table = {"t_addr": Out(range(segments)), "t_data": In(self._bw + self._sw)} \
            if external_table else {}
        super().__init__({
            "i_valid": In(1), "i_data": In(signed(act_input.bits)), "i_tanh": In(1),
            "i_tag": In(tag_width),
            "o_valid": Out(1), "o_data": Out(signed(gate.bits)), "o_tag": Out(tag_width),
            **table,
        })

    def table_words(self):
        """The table: word ``s`` holds segment ``s``'s base (low bits) and slope."""
        return [b | (s << self._bw) for b, s in zip(self._base, self._slope)]

    def elaborate(self, platform):
        m = Module()
        ab, gf = self.act_input.bits, self.gate.frac
        sb = int(math.log2(self.segments))
        tb = ab - sb

        # Table: base and slope packed in one word, read in two cycles (read register,
        # output register)
        if self.external_table:
            t_addr, t_data = self.t_addr, self.t_data
        else:
            m.submodules.rom = rom = TableRom(self._bw + self._sw, self.segments,
                                              self.table_words(), self.target)
            t_addr, t_data = rom.r0_addr, rom.r0_data

        # Stage 0: double for tanh, offset binary; the segment (table address) and the offset
        # in it into registers (the address reaches the block RAM from a register)
        doubled = saturate(self.i_data << 1, ab)
        a = Mux(self.i_tanh, doubled, self.i_data)
        u = Cat(a[:ab - 1], ~a[ab - 1])
        seg0 = Signal(len(t_addr), name="seg0")
        t0 = Signal(max(tb, 1), name="t0")
        v0, tanh0 = Signal(name="v0"), Signal(name="tanh0")
        tag0 = Signal(self.tag_width, name="tag0")
        m.d.sync += [seg0.eq(u[tb:]), t0.eq(u[:tb] if tb else 0), v0.eq(self.i_valid),
                     tanh0.eq(self.i_tanh), tag0.eq(self.i_tag)]
        m.d.comb += t_addr.eq(seg0)
        t1 = Signal(max(tb, 1), name="t1")
        v1, tanh1 = Signal(name="v1"), Signal(name="tanh1")
        tag1 = Signal(self.tag_width, name="tag1")
        m.d.sync += [t1.eq(t0), v1.eq(v0), tanh1.eq(tanh0), tag1.eq(tag0)]

        # Stage 1: the table word in the table's output register, then in a fabric register
        # (the block RAM and the multiplier need not sit side by side)
        assert TableRom.latency == 2
        base2, slope2 = Signal(self._bw, name="base2"), Signal(self._sw, name="slope2")
        t2 = Signal(max(tb, 1), name="t2")
        v2, tanh2 = Signal(name="v2"), Signal(name="tanh2")
        tag2 = Signal(self.tag_width, name="tag2")
        m.d.sync += [base2.eq(t_data[:self._bw]), slope2.eq(t_data[self._bw:]), t2.eq(t1),
                     v2.eq(v1), tanh2.eq(tanh1), tag2.eq(tag1)]
        t2b = Signal(max(tb, 1), name="t2b")
        v2b, tanh2b = Signal(name="v2b"), Signal(name="tanh2b")
        tag2b = Signal(self.tag_width, name="tag2b")
        m.d.sync += [t2b.eq(t2), v2b.eq(v2), tanh2b.eq(tanh2), tag2b.eq(tag2)]

        # Stage 2: slope times the offset in the segment, both unsigned (one more sign bit
        # for the signed multiplier), with its input and product registers
        m.submodules.mul = mul = Multiplier(self._sw + 1, max(tb, 1) + 1, target=self.target)
        m.d.comb += [mul.op_a.eq(slope2), mul.op_b.eq(t2b)]
        prod3 = mul.product[:self._sw + max(tb, 1)]
        # the base goes alongside as base 2^tb + 1/2 (its low bits are 0, so the half is
        # or-ed in): base + (prod + half) >> tb = (prod + base 2^tb + half) >> tb, one adder
        rnd = (1 << (tb - 1)) if tb else 0
        bw = self._bw + tb
        base3 = Signal(bw, name="base3")
        v3, tanh3 = Signal(name="v3"), Signal(name="tanh3")
        tag3 = Signal(self.tag_width, name="tag3")
        prev = (Cat(Const(rnd, tb), base2) if tb else base2, v2b, tanh2b, tag2b)
        for n in range(Multiplier.latency):
            regs = (Signal(bw, name=f"base3_{n}"), Signal(name=f"v3_{n}"),
                    Signal(name=f"tanh3_{n}"), Signal(self.tag_width, name=f"tag3_{n}"))
            m.d.sync += [r.eq(p) for r, p in zip(regs, prev)]
            prev = regs
        m.d.comb += [base3.eq(prev[0]), v3.eq(prev[1]), tanh3.eq(prev[2]), tag3.eq(prev[3])]

        # Stage 3: interpolate, round half up; tanh = 2 sigmoid(2a) - 1 in the same cycle.
        # The sigmoid y is in [0, 2^gf], so 2 y - 2^gf only shifts y up by one and sets its
        # top two bits from y's (a function of at most four inputs per bit after the adder):
        # y >> (gf - 1) = 0, 1, 2 gives -1, 0, 1, i.e. bits (gf + 1, gf) = 11, 00, 01.
        y = Signal(unsigned(gf + 2), name="y3")
        m.d.comb += y.eq((prod3 + base3) >> tb)
        hi0 = ~y[gf - 1]
        hi1 = ~y[gf] & ~y[gf - 1]
        tanh_y = Cat(Const(0, 1), y[:gf - 1], hi0, hi1).as_signed()
        m.d.sync += [
            self.o_data.eq(Mux(tanh3, tanh_y, y.as_signed())),
            self.o_valid.eq(v3), self.o_tag.eq(tag3),
        ]
        return m
