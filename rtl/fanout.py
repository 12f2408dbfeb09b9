"""One register stage of the broadcasts to the lanes: column, v element, parameter write."""

from amaranth.hdl import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from . import interfaces
from .interfaces import Geometry

__all__ = ["LaneFanout", "fanout_groups"]

#: Lane groups (one ``LaneFanout`` each) of a configuration with at least this many lanes.
GROUPS = 8


def fanout_groups(cfg):
    """The lanes split into at most ``GROUPS`` groups of ``ceil(N / GROUPS)`` consecutive
    lanes (the last group may be smaller) in result-chain order (chain p: lanes p, p + P,
    p + 2P, ...; ``rtl.floorplan`` places the lanes in the same order, so at 64 lanes on the
    LFE5U-85F a group is half a block-RAM row)."""
    N, P = cfg.lanes, cfg.cell_units
    order = [p + s * P for p in range(P) for s in range(N // P)]
    size = -(-N // min(GROUPS, N))
    return [order[i:i + size] for i in range(0, N, size)]


class LaneFanout(wiring.Component):
    """A register for everything the top broadcasts to a group of lanes: the column, the v
    element and the parameter write. Without it one register would drive every lane of the
    chip (at 64 lanes, 200 block RAMs over four rows); with one copy per group each drives a
    few neighbouring lanes. The flow keeps these flip-flops from being merged
    (``flow.nextpnr.yosys_keep_lane_registers``: the instances are named ``lane_fanout*``).

    Members
    -------
    column, value, param : the broadcast in (``In`` of the signatures of
        ``rtl.interfaces`` and the vector shape).
    o_column, o_value, o_param : the same, ``latency`` cycle later (one copy per group).
    """

    latency = 1

    def __init__(self, cfg):
        geo = Geometry(cfg)
        super().__init__({
            "column": In(interfaces.column(geo)), "value": In(geo.vector_shape),
            "param": In(interfaces.param_write(geo)),
            "o_column": Out(interfaces.column(geo)), "o_value": Out(geo.vector_shape),
            "o_param": Out(interfaces.param_write(geo)),
        })

    #: the members that are flags (reset); the rest are data (not reset: no reset logic in
    #: the broadcast paths, and a datum counts only with its flag)
    FLAGS = {("column", "valid"), ("column", "first"), ("column", "last"),
             ("param", "w_valid"), ("param", "b_valid")}

    def elaborate(self, platform):
        m = Module()
        pairs = [((None, "value"), self.value, self.o_value)]
        for name in ("column", "param"):
            src, dst = getattr(self, name), getattr(self, f"o_{name}")
            pairs += [((name, key), getattr(src, key), getattr(dst, key))
                      for key in src.signature.members]
        for (name, key), src, dst in pairs:
            reg = Signal.like(dst, name=f"{name or 'o'}_{key}_r",
                              reset_less=(name, key) not in self.FLAGS)
            m.d.sync += reg.eq(src)
            m.d.comb += dst.eq(reg)
        return m
