"""A shared cell unit: activation of the gate rows and the LSTM cell update, for N/P lanes."""

from amaranth.hdl import Cat, Module, Mux, Signal, signed, unsigned
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from golden.layout import GATE_ACTIVATION, GATES, N_GATES

from . import interfaces
from .activation import Activation
from .fixedpoint import rescale, round_half_up, saturate
from .interfaces import GATE_BITS, Geometry
from .primitives import Multiplier, TableRom, WeightBank, dp16kd_geometry

__all__ = ["CellUnit"]

I, F, G, O = (GATES.index(name) for name in ("i", "f", "g", "o"))
assert [GATE_ACTIVATION[g] for g in GATES].count("tanh") == 1
assert O == N_GATES - 1, "the cell update follows a unit's last gate row, o"


class CellUnit(wiring.Component):
    """Serves the lanes ``k = P s + p`` (slot ``s = 0 .. N/P - 1``) of one of the P units.

    Takes one row result per cycle: rounds the accumulator to the activation input, applies
    sigmoid (i, f, o) or tanh (g), keeps i, f, g of each slot, and on the o row of a unit
    computes ``c = f c + i g`` (one rounding), ``h~ = o tanh(c)``, and prunes ``|h~| < theta``
    to 0. The cell state of unit ``u = N j + P s + p`` lives here, at address (j, s).

    Parameters
    ----------
    cfg : golden ``Config``.
    target : ``"generic"`` or ``"ecp5"`` (every multiplier a registered ``MULT18X18D``;
        ``rtl.primitives``). Same latency.

    Members
    -------
    rows : ``In(interfaces.row_results)``, a row result (accumulator format), its local row
        and slot.
    fresh : the step starts a sequence (c_{t-1} = 0); theta : pruning threshold. Both are
        constant while a step runs.
    h : ``Out(interfaces.h_values)``, pruned h of slot ``h.payload.slot``, unit group
        ``h.payload.unit``, and whether it is nonzero; ``latency`` cycles after the o row's
        input.
    """

    #: input register and round, activation, cell (slot select, f c and i g in registered
    #: multipliers, sum, round), round, tanh(c), output (o tanh(c) in a registered
    #: multiplier, round, compare, prune)
    latency = (2 + Activation.latency + 1 + Multiplier.latency + 2 + 1 + Activation.latency
               + Multiplier.latency + 3)

    #: on ecp5, a cell-state memory of more words is a block RAM
    LUT_RAM_WORDS = 64

    def __init__(self, cfg, target="generic"):
        self.cfg = cfg
        self.target = target
        f = cfg.formats
        self.slots = cfg.min_columns
        geo = Geometry(cfg)
        self.slot_width, self.row_width = geo.slot_width, geo.row_width
        self.unit_width = geo.unit_width
        super().__init__({
            "rows": In(interfaces.row_results(geo)),
            "fresh": In(1), "theta": In(unsigned(f.state.bits)),
            "h": Out(interfaces.h_values(geo)),
        })

    def elaborate(self, platform):
        m = Module()
        cfg = self.cfg
        f = cfg.formats
        gf, cf = cfg.gate.frac, f.cell.frac
        pf = cfg.product.frac
        sw, uw = self.slot_width, self.unit_width
        gate_s = signed(cfg.gate.bits)

        # The row result registered beside the unit (it comes from a lane anywhere on the
        # chip), then rounded half up and saturated to the activation input
        rows = Signal.like(self.rows.payload, name="rows_in")
        v_in = Signal(name="v_in")
        m.d.sync += [rows.eq(self.rows.payload), v_in.eq(self.rows.valid)]
        pre = Signal(signed(cfg.act_input.bits), name="pre")
        v_pre = Signal(name="v_pre")
        row_pre = Signal(self.row_width, name="row_pre")
        slot_pre = Signal(sw, name="slot_pre")
        m.d.sync += [pre.eq(rescale(rows.acc, pf, cfg.act_input)), v_pre.eq(v_in),
                     row_pre.eq(rows.row), slot_pre.eq(rows.slot)]

        # Gate activation: sigmoid for i, f, o; tanh for g
        tag_w = self.row_width + sw
        m.submodules.gate_act = gate_act = Activation(cfg.act_input, cfg.gate, cfg.act_segments,
                                                      tag_width=tag_w, target=self.target,
                                                      external_table=True)
        m.d.comb += [gate_act.i_valid.eq(v_pre), gate_act.i_data.eq(pre),
                     gate_act.i_tanh.eq(row_pre[:GATE_BITS] == G),
                     gate_act.i_tag.eq(Cat(row_pre, slot_pre))]
        y = gate_act.o_data
        q = gate_act.o_tag[:GATE_BITS]
        j = gate_act.o_tag[GATE_BITS:self.row_width] if self.row_width > GATE_BITS else 0
        slot = gate_act.o_tag[self.row_width:]

        # The cell state of (unit group j, slot s); read for the o row so that the data
        # arrives with the activation result (the address goes through the same delay, less
        # the memory's two cycles: its read register and an output register, so that no path
        # runs from the memory through the slot select into the cell stage). On ecp5 a state
        # memory of more than 64 words is a block RAM with its output register (fewer words
        # are distributed RAM, which the tool maps from the portable model, as are more
        # words than one block RAM holds and words wider than its 18 bits).
        depth = cfg.h_groups << sw
        block = (self.target == "ecp5" and f.cell.bits <= 18
                 and self.LUT_RAM_WORDS < depth <= dp16kd_geometry(f.cell.bits)[1])
        cmem = WeightBank(f.cell.bits, depth, target=self.target if block else "generic")
        m.submodules.cmem = cmem
        assert Activation.latency >= cmem.latency
        addr = Cat(slot_pre, row_pre[GATE_BITS:]) if self.row_width > GATE_BITS else slot_pre
        for n in range(Activation.latency - cmem.latency):
            nxt = Signal(len(cmem.r_addr), name=f"c_addr{n}")
            m.d.sync += nxt.eq(addr)
            addr = nxt
        m.d.comb += cmem.r_addr.eq(addr)

        # Cell update, stage A: keep i, f, g per slot; on o select the slot's i, f, g with c
        # and o into registers; stages A1, A2: f*c and i*g in two registered multipliers
        # (the slot multiplexer and the multipliers are separate timing paths). c_{t-1} = 0
        # at a sequence start: f is stored as 0 instead.
        # i, f, g per slot: three small memories (distributed RAM: the slot multiplexer is
        # the memory's read port, and no write enable fans out to slots x 16 registers);
        # each slot is written on its i, f, g rows and read on its o row, never both at once
        gmem = {}
        for n in "ifg":
            mem = Memory(shape=gate_s, depth=max(self.slots, 2), init=[])
            m.submodules[f"{n}mem"] = mem
            gmem[n] = (mem.write_port(), mem.read_port(domain="comb"))
        i7, f7, g7, o7 = (Signal(gate_s, name=f"{n}7") for n in "ifgo")
        c7 = Signal(signed(f.cell.bits), name="c7")
        v7 = Signal(name="v7")
        j7, s7 = Signal(uw, name="j7"), Signal(sw, name="s7")
        m.d.sync += v7.eq(0)
        m.submodules.mul_fc = mul_fc = Multiplier(cfg.gate.bits, f.cell.bits, target=self.target)
        m.submodules.mul_ig = mul_ig = Multiplier(cfg.gate.bits, cfg.gate.bits, target=self.target)
        m.d.comb += [mul_fc.op_a.eq(f7), mul_fc.op_b.eq(c7),
                     mul_ig.op_a.eq(i7), mul_ig.op_b.eq(g7)]
        fc8, ig8 = mul_fc.product, mul_ig.product
        o8 = Signal(gate_s, name="o8")
        v8 = Signal(name="v8")
        j8 = Signal(uw, name="j8")
        s8 = Signal(sw, name="s8")
        prev = (o7, v7, j7, s7)
        for n in range(Multiplier.latency - 1):
            regs = (Signal(gate_s, name=f"o7_{n}"), Signal(name=f"v7_{n}"),
                    Signal(uw, name=f"j7_{n}"), Signal(sw, name=f"s7_{n}"))
            m.d.sync += [r.eq(p) for r, p in zip(regs, prev)]
            prev = regs
        m.d.sync += [r.eq(p) for r, p in zip((o8, v8, j8, s8), prev)]
        for n, gate in zip("ifg", (I, F, G)):
            wr, rd = gmem[n]
            m.d.comb += [wr.en.eq(gate_act.o_valid & (q == gate)), wr.addr.eq(slot),
                         wr.data.eq(Mux(self.fresh, 0, y) if n == "f" else y), rd.addr.eq(slot)]
        with m.If(gate_act.o_valid & (q == O)):
            m.d.sync += [i7.eq(gmem["i"][1].data), f7.eq(gmem["f"][1].data),
                         g7.eq(gmem["g"][1].data),
                         c7.eq(cmem.r_data), o7.eq(y), v7.eq(1), j7.eq(j), s7.eq(slot)]

        # Stage B: exact sum; stage C: one rounding, saturate, write back
        Fw = max(gf + cf, 2 * gf)
        s = (fc8 << (Fw - gf - cf)) + (ig8 << (Fw - 2 * gf))
        s8b = Signal(signed(len(s)), name="s8b")
        o8b = Signal(gate_s, name="o8b")
        v8b = Signal(name="v8b")
        j8b, s8b_slot = Signal(uw, name="j8b"), Signal(sw, name="s8b_slot")
        m.d.sync += [s8b.eq(s), o8b.eq(o8), v8b.eq(v8), j8b.eq(j8), s8b_slot.eq(s8)]
        c_new = saturate(round_half_up(s8b, Fw - cf), f.cell.bits)
        c9 = Signal(signed(f.cell.bits), name="c9")
        o9 = Signal(gate_s, name="o9")
        v9 = Signal(name="v9")
        j9, s9 = Signal(uw, name="j9"), Signal(sw, name="s9")
        waddr = Cat(s9, j9) if self.row_width > GATE_BITS else s9
        m.d.comb += [cmem.w_en.eq(v9), cmem.w_addr.eq(waddr), cmem.w_data.eq(c9)]  # registers
        m.d.sync += [c9.eq(c_new), o9.eq(o8b), v9.eq(v8b), j9.eq(j8b), s9.eq(s8b_slot)]

        # tanh(c): round/saturate to the activation input, then the second activation unit
        tc10 = Signal(signed(cfg.act_input.bits), name="tc10")
        v10 = Signal(name="v10")
        tag10 = Signal(gate_s.width + uw + sw, name="tag10")
        m.d.sync += [tc10.eq(rescale(c9, cf, cfg.act_input)), v10.eq(v9),
                     tag10.eq(Cat(o9, j9, s9))]
        m.submodules.cell_act = cell_act = Activation(
            cfg.act_input, cfg.gate, cfg.act_segments, tag_width=len(tag10), target=self.target,
            external_table=True)

        # One table, two read ports: the gate activation's and tanh(c)'s
        words = gate_act.table_words()
        m.submodules.table = table = TableRom(len(gate_act.t_data), len(words), words,
                                              self.target)
        m.d.comb += [table.r0_addr.eq(gate_act.t_addr), gate_act.t_data.eq(table.r0_data),
                     table.r1_addr.eq(cell_act.t_addr), cell_act.t_data.eq(table.r1_data)]
        m.d.comb += [cell_act.i_valid.eq(v10), cell_act.i_data.eq(tc10), cell_act.i_tanh.eq(1),
                     cell_act.i_tag.eq(tag10)]

        # Output: h~ = o * tanh(c), round, saturate, prune
        tag13 = cell_act.o_tag
        o13 = tag13[:gate_s.width].as_signed()
        m.submodules.mul_h = mul_h = Multiplier(cfg.gate.bits, cfg.gate.bits, target=self.target)
        m.d.comb += [mul_h.op_a.eq(o13), mul_h.op_b.eq(cell_act.o_data)]
        hp14 = mul_h.product
        v14, js14 = cell_act.o_valid, tag13[gate_s.width:]
        for n in range(Multiplier.latency):
            v_n, js_n = Signal(name=f"v14_{n}"), Signal(uw + sw, name=f"js14_{n}")
            m.d.sync += [v_n.eq(v14), js_n.eq(js14)]
            v14, js14 = v_n, js_n
        h15 = Signal(signed(f.state.bits), name="h15")
        v15 = Signal(name="v15")
        js15 = Signal(uw + sw, name="js15")
        m.d.sync += [h15.eq(rescale(hp14, 2 * gf, f.state)), v15.eq(v14), js15.eq(js14)]
        # |h| < theta as two comparisons against registered +-theta (no negation of h)
        theta_r = Signal(unsigned(f.state.bits), name="theta_r")
        neg_theta = Signal(signed(f.state.bits + 1), name="neg_theta")
        m.d.sync += [theta_r.eq(self.theta), neg_theta.eq(-self.theta)]
        # (each comparison, and h != 0, into its own register: one carry chain per path)
        h16 = Signal(signed(f.state.bits), name="h16")
        below16, above16, nz16 = Signal(name="below16"), Signal(name="above16"), Signal(name="nz16")
        v16 = Signal(name="v16")
        js16 = Signal(uw + sw, name="js16")
        m.d.sync += [h16.eq(h15), below16.eq(h15 < theta_r), above16.eq(h15 > neg_theta),
                     nz16.eq(h15 != 0), v16.eq(v15), js16.eq(js15)]
        small16 = below16 & above16
        h = self.h.payload
        m.d.sync += [h.data.eq(Mux(small16, 0, h16)), self.h.valid.eq(v16),
                     h.unit.eq(js16[:uw]), h.slot.eq(js16[uw:]),
                     h.nz.eq(~small16 & nz16)]
        return m
