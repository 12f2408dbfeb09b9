"""A first-in first-out buffer whose writer has made room beforehand."""

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

__all__ = ["RoomFIFO"]


class RoomFIFO(wiring.Component):
    """``depth`` words of ``width`` bits in distributed RAM (asynchronous read). A write is
    registered first and lands in the memory the cycle after ``w_en``; it is never refused:
    the writer checks ``level`` for room before it starts a burst of writes, so no "full"
    test sits in the write path (a write into a full buffer would overwrite its oldest
    word). ``level`` counts the words written and not read, a registered write included
    from the cycle after it lands.

    Members
    -------
    w_en, w_data : a word to write. r_en : take the word at ``r_data`` (if ``r_rdy``).
    r_data, r_rdy : the oldest word, and whether there is one. level : words held.
    """

    def __init__(self, width, depth):
        assert depth >= 1
        self.width, self.depth = width, depth
        super().__init__({
            "w_en": In(1), "w_data": In(width), "r_en": In(1),
            "r_data": Out(width), "r_rdy": Out(1), "level": Out(range(depth + 1)),
        })

    def elaborate(self, platform):
        m = Module()
        D = self.depth
        m.submodules.storage = storage = Memory(shape=self.width, depth=D, init=[])
        wr, rd = storage.write_port(), storage.read_port(domain="comb")
        we = Signal(name="we")
        wd = Signal(self.width, name="wd", reset_less=True)
        m.d.sync += [we.eq(self.w_en), wd.eq(self.w_data)]
        produce = Signal(range(D), name="produce")
        consume = Signal(range(D), name="consume")

        def incr(p):
            return Mux(p == D - 1, 0, p + 1) if D & (D - 1) else (p + 1)[:len(p)]

        do_read = self.r_en & self.r_rdy
        m.d.comb += [wr.en.eq(we), wr.addr.eq(produce), wr.data.eq(wd),
                     rd.addr.eq(consume), self.r_data.eq(rd.data),
                     self.r_rdy.eq(self.level != 0)]
        with m.If(we):
            m.d.sync += produce.eq(incr(produce))
        with m.If(do_read):
            m.d.sync += consume.eq(incr(consume))
        with m.If(we & ~do_read):
            m.d.sync += self.level.eq(self.level + 1)
        with m.Elif(do_read & ~we):
            m.d.sync += self.level.eq(self.level - 1)
        return m
