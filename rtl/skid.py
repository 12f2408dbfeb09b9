"""A register slice for a stream: every output and ``ready`` toward the source registered."""

from amaranth.hdl import Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

__all__ = ["SkidBuffer"]


class SkidBuffer(wiring.Component):
    """Two-entry register slice (skid buffer) between a stream source and its sink, at full
    throughput: ``i.ready`` is a register (the source's handshake reaches no logic of the
    sink), ``o.valid`` and ``o.payload`` are registers (the sink's logic starts at flip-flops,
    not at the source). A beat takes one cycle through it; a beat accepted while the sink
    stalls waits in the skid register, and ``i.ready`` falls until it has moved on. Beats
    leave in order, none is lost or repeated.

    Members
    -------
    i : ``In(stream.Signature(shape))``. o : ``Out(stream.Signature(shape))``.
    holds : a beat is inside (in either register).
    """

    def __init__(self, shape):
        super().__init__({"i": In(stream.Signature(shape)), "o": Out(stream.Signature(shape)),
                          "holds": Out(1)})

    def elaborate(self, platform):
        m = Module()
        i, o = self.i, self.o
        skid_valid = Signal(name="skid_valid")
        skid = Signal.like(i.payload, name="skid")
        m.d.comb += [i.ready.eq(~skid_valid), self.holds.eq(o.valid | skid_valid)]
        with m.If(o.ready | ~o.valid):
            # the output register is free (or frees now): the skid's beat first, else the input
            with m.If(skid_valid):
                m.d.sync += [o.valid.eq(1), o.payload.eq(skid), skid_valid.eq(0)]
            with m.Else():
                m.d.sync += [o.valid.eq(i.valid), o.payload.eq(i.payload)]
        with m.Elif(i.valid & ~skid_valid):
            # the sink stalls: a beat accepted now waits in the skid register
            m.d.sync += [skid_valid.eq(1), skid.eq(i.payload)]
        return m
