"""One processing lane: weight memory, multiply-accumulate, activation, cell update, h."""

from amaranth.hdl import Array, Module, Mux, Signal, signed, unsigned
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2

from .activation import Activation
from golden.layout import GATE_ACTIVATION, GATES, N_GATES

from .fixedpoint import rescale, round_half_up, saturate

__all__ = ["Lane"]

# A local row is G j + q (``golden.layout``): with G a power of two, its low bits are the gate.
assert N_GATES & (N_GATES - 1) == 0, "the lane splits local rows into unit and gate bits"
GATE_BITS = (N_GATES - 1).bit_length()
I, F_GATE, G, O = (GATES.index(name) for name in ("i", "f", "g", "o"))


class Lane(wiring.Component):
    """Lane ``k`` owns hidden units ``u = k + N j`` (``j = 0 .. H/N - 1``): the gate rows
    ``G j + q`` (q = i, f, g, o; ``golden.layout``) of its weight memory, and that unit's
    cell state.

    All lanes receive the same column stream and run in lock step. Row ``r`` of a step visits
    the issued columns between ``first`` and ``last``; the accumulator starts from the bias.
    Rows of one unit come in the order i, f, g, o; after o the cell update and h follow.

    Parameters
    ----------
    cfg : golden ``Config``.
    weights, biases : optional initial contents (``rows_per_lane * columns`` weights, row-major
        by local row; ``rows_per_lane`` biases), for weights baked in at generation.

    Members
    -------
    issue_valid, issue_first, issue_last, issue_addr, issue_row : a column, cycle 0.
    value : the column's v element (vector format), cycle 3.
    fresh : the step starts a sequence (c_{t-1} = 0); theta : pruning threshold.
    w_en, w_addr, w_data, b_en, b_addr, b_data : parameter writes.
    h_valid, h_data, h_unit, h_nz : pruned h of unit ``k + N h_unit`` and whether it is
        nonzero, ``latency`` after the last
        column of its o row.
    """

    def __init__(self, cfg, weights=None, biases=None):
        self.cfg = cfg
        f = cfg.formats
        self.depth = cfg.rows_per_lane * cfg.columns
        self.weights, self.biases = weights, biases
        self.addr_width = ceil_log2(max(self.depth, 2))
        self.row_width = ceil_log2(max(cfg.rows_per_lane, N_GATES))
        self.unit_width = max(self.row_width - 2, 1)
        super().__init__({
            "issue_valid": In(1), "issue_first": In(1), "issue_last": In(1),
            "issue_addr": In(self.addr_width), "issue_row": In(self.row_width),
            "value": In(signed(cfg.vector.bits)),
            "fresh": In(1), "theta": In(unsigned(f.state.bits)),
            "w_en": In(1), "w_addr": In(self.addr_width), "w_data": In(signed(f.weight.bits)),
            "b_en": In(1), "b_addr": In(self.row_width), "b_data": In(signed(f.bias.bits)),
            "h_valid": Out(1), "h_data": Out(signed(f.state.bits)), "h_nz": Out(1),
            "h_unit": Out(self.unit_width),
        })

    #: Cycles from the issue of a unit's last column to its h on ``h_data``: fetch (4: column
    #: register, memory read, bank output registers, bank select), multiply, accumulate,
    #: round, activation, cell (3), round, tanh(c), output (4).
    latency = 4 + 1 + 1 + 1 + Activation.latency + 3 + 1 + Activation.latency + 4

    def elaborate(self, platform):
        m = Module()
        cfg = self.cfg
        f = cfg.formats
        gf, cf = cfg.gate.frac, f.cell.frac
        pf = cfg.product.frac

        # Internal state: parameter memories. The weight memory is split into banks of one
        # block RAM each (2048 x 9, 1024 x 18 or 512 x 36 on ECP5); every bank output is
        # registered next to its block RAM and the bank is selected a cycle later, so no
        # path runs from a block RAM across the chip through a wide multiplexer.
        wbits = f.weight.bits
        bank_depth = 2048 if wbits <= 9 else 1024 if wbits <= 18 else 512
        bank_bits = ceil_log2(bank_depth)
        n_banks = -(-self.depth // bank_depth)
        init = [] if self.weights is None else [int(v) for v in self.weights]
        banks = []
        for k in range(n_banks):
            d = min(bank_depth, self.depth - k * bank_depth)
            bank = Memory(shape=signed(wbits), depth=d,
                          init=init[k * bank_depth:k * bank_depth + d])
            m.submodules[f"wmem{k}"] = bank
            banks.append(bank)
        bmem = Memory(shape=signed(f.bias.bits), depth=cfg.rows_per_lane,
                      init=[] if self.biases is None else [int(v) for v in self.biases])
        cmem = Memory(shape=signed(f.cell.bits), depth=cfg.h_groups, init=[])
        m.submodules.bmem, m.submodules.cmem = bmem, cmem
        w_rds = [bank.read_port() for bank in banks]
        w_wrs = [bank.write_port() for bank in banks]
        b_rd, b_wr = bmem.read_port(), bmem.write_port()
        c_rd, c_wr = cmem.read_port(), cmem.write_port()
        # Parameter writes are registered in each lane (they reach every memory of the chip)
        w_en = Signal(name="w_en_r")
        w_addr = Signal(self.addr_width, name="w_addr_r")
        w_data = Signal(signed(wbits), name="w_data_r")
        m.d.sync += [
            w_en.eq(self.w_en), w_addr.eq(self.w_addr), w_data.eq(self.w_data),
            b_wr.en.eq(self.b_en), b_wr.addr.eq(self.b_addr), b_wr.data.eq(self.b_data),
        ]
        for k, wr in enumerate(w_wrs):
            m.d.comb += [wr.en.eq(w_en & ((w_addr >> bank_bits) == k)),
                         wr.addr.eq(w_addr[:bank_bits]), wr.data.eq(w_data)]

        # Stage 0 -> 1: the column is registered in each lane (fan-out to the lanes and to
        # the block RAMs of this lane's weight memory are separate timing paths)
        addr1 = Signal(self.addr_width, name="addr1")
        v1, first1, last1 = Signal(name="v1"), Signal(name="first1"), Signal(name="last1")
        row1 = Signal(self.row_width, name="row1")
        m.d.sync += [addr1.eq(self.issue_addr), v1.eq(self.issue_valid),
                     first1.eq(self.issue_first), last1.eq(self.issue_last),
                     row1.eq(self.issue_row)]

        # Stage 1 -> 2: memory reads
        m.d.comb += [rd.addr.eq(addr1[:bank_bits]) for rd in w_rds]
        m.d.comb += b_rd.addr.eq(row1)
        v2, first2, last2 = Signal(name="v2"), Signal(name="first2"), Signal(name="last2")
        row2 = Signal(self.row_width, name="row2")
        sel2 = Signal(range(max(n_banks, 2)), name="sel2")
        m.d.sync += [v2.eq(v1), first2.eq(first1), last2.eq(last1),
                     row2.eq(row1), sel2.eq(addr1 >> bank_bits)]

        # Stage 2 -> 3a: every bank output registered
        wb = [Signal(signed(wbits), name=f"wbank{k}") for k in range(n_banks)]
        b3a = Signal(signed(f.bias.bits), name="b3a")
        v3a, first3a, last3a = Signal(name="v3a"), Signal(name="first3a"), Signal(name="last3a")
        row3a = Signal(self.row_width, name="row3a")
        sel3a = Signal(range(max(n_banks, 2)), name="sel3a")
        m.d.sync += [wb[k].eq(rd.data) for k, rd in enumerate(w_rds)]
        m.d.sync += [b3a.eq(b_rd.data), v3a.eq(v2), first3a.eq(first2),
                     last3a.eq(last2), row3a.eq(row2), sel3a.eq(sel2)]

        # Stage 3a -> 3: bank selected
        w3 = Signal(signed(wbits), name="w3")
        b3 = Signal(signed(f.bias.bits), name="b3")
        value3 = Signal(signed(cfg.vector.bits), name="value3")
        v3, first3, last3 = Signal(name="v3"), Signal(name="first3"), Signal(name="last3")
        row3 = Signal(self.row_width, name="row3")
        m.d.sync += [w3.eq(Array(wb)[sel3a] if n_banks > 1 else wb[0]), b3.eq(b3a),
                     value3.eq(self.value), v3.eq(v3a), first3.eq(first3a), last3.eq(last3a),
                     row3.eq(row3a)]

        # Stage 3 -> 4: product (exact), bias aligned to the accumulator
        prod4 = Signal(signed(cfg.product.bits), name="prod4")
        bias4 = Signal(signed(cfg.accumulator.bits), name="bias4")
        v4, first4, last4 = Signal(name="v4"), Signal(name="first4"), Signal(name="last4")
        row4 = Signal(self.row_width, name="row4")
        m.d.sync += [prod4.eq(w3 * value3),
                     bias4.eq(b3 << (pf - f.bias.frac)),
                     v4.eq(v3), first4.eq(first3), last4.eq(last3), row4.eq(row3)]

        # Stage 4 -> 5: accumulate (never overflows: width from Config.accumulator)
        acc = Signal(signed(cfg.accumulator.bits), name="acc")
        done5 = Signal(name="done5")
        row5 = Signal(self.row_width, name="row5")
        with m.If(v4):
            m.d.sync += acc.eq(Mux(first4, bias4, acc) + prod4)
        m.d.sync += [done5.eq(v4 & last4), row5.eq(row4)]

        # Stage 5 -> 6: round half up and saturate to the activation input
        pre6 = Signal(signed(cfg.act_input.bits), name="pre6")
        done6 = Signal(name="done6")
        row6 = Signal(self.row_width, name="row6")
        m.d.sync += [pre6.eq(rescale(acc, pf, cfg.act_input)), done6.eq(done5), row6.eq(row5)]

        # Gate activation: sigmoid for i, f, o; tanh for g
        m.submodules.gate_act = gate_act = Activation(cfg.act_input, cfg.gate, cfg.act_segments,
                                                      tag_width=self.row_width)
        m.d.comb += [gate_act.i_valid.eq(done6), gate_act.i_data.eq(pre6),
                     gate_act.i_tanh.eq(row6[:GATE_BITS] == G), gate_act.i_tag.eq(row6)]
        assert [GATE_ACTIVATION[g] for g in GATES].count("tanh") == 1
        y = gate_act.o_data
        q = gate_act.o_tag[:GATE_BITS]
        j = gate_act.o_tag[GATE_BITS:] if self.row_width > GATE_BITS else 0

        # Cell update, stage A: gather i, f, g; on o form f*c and i*g
        gate_s = signed(cfg.gate.bits)
        i_r, f_r, g_r = Signal(gate_s, name="i_r"), Signal(gate_s, name="f_r"), \
            Signal(gate_s, name="g_r")
        c_raddr = Signal(self.unit_width, name="c_raddr")
        m.d.comb += c_rd.addr.eq(c_raddr)
        # c_{t-1} = 0 at a sequence start: f is zeroed instead of c, so that the multiplier
        # sees only registers (c_rd.data is a registered read)
        fc8 = Signal(signed(cfg.gate.bits + f.cell.bits), name="fc8")
        ig8 = Signal(signed(2 * cfg.gate.bits), name="ig8")
        o8 = Signal(gate_s, name="o8")
        v8 = Signal(name="v8")
        j8 = Signal(self.unit_width, name="j8")
        m.d.sync += v8.eq(0)
        with m.If(gate_act.o_valid):
            with m.Switch(q):
                with m.Case(I):
                    m.d.sync += i_r.eq(y)
                with m.Case(F_GATE):
                    m.d.sync += [f_r.eq(Mux(self.fresh, 0, y)),
                                 c_raddr.eq(j)]                  # c read ahead of o
                with m.Case(G):
                    m.d.sync += g_r.eq(y)
                with m.Case(O):
                    m.d.sync += [fc8.eq(f_r * c_rd.data), ig8.eq(i_r * g_r), o8.eq(y),
                                 v8.eq(1), j8.eq(j)]

        # Cell update, stage B: exact sum; stage C: one rounding, saturate, write back
        F = max(gf + cf, 2 * gf)
        s = (fc8 << (F - gf - cf)) + (ig8 << (F - 2 * gf))
        s8b = Signal(signed(len(s)), name="s8b")
        o8b = Signal(gate_s, name="o8b")
        v8b = Signal(name="v8b")
        j8b = Signal(self.unit_width, name="j8b")
        m.d.sync += [s8b.eq(s), o8b.eq(o8), v8b.eq(v8), j8b.eq(j8)]
        c_new = saturate(round_half_up(s8b, F - cf), f.cell.bits)
        c9 = Signal(signed(f.cell.bits), name="c9")
        o9 = Signal(gate_s, name="o9")
        v9 = Signal(name="v9")
        j9 = Signal(self.unit_width, name="j9")
        m.d.comb += [c_wr.en.eq(v9), c_wr.addr.eq(j9), c_wr.data.eq(c9)]    # from registers
        m.d.sync += [c9.eq(c_new), o9.eq(o8b), v9.eq(v8b), j9.eq(j8b)]

        # tanh(c): round/saturate to the activation input, then the second activation unit
        tc10 = Signal(signed(cfg.act_input.bits), name="tc10")
        v10 = Signal(name="v10")
        tag10 = Signal(gate_s.width + self.unit_width, name="tag10")
        m.d.sync += [tc10.eq(rescale(c9, cf, cfg.act_input)), v10.eq(v9),
                     tag10.eq(o9.as_unsigned() | (j9 << gate_s.width))]
        m.submodules.cell_act = cell_act = Activation(
            cfg.act_input, cfg.gate, cfg.act_segments, tag_width=gate_s.width + self.unit_width)
        m.d.comb += [cell_act.i_valid.eq(v10), cell_act.i_data.eq(tc10), cell_act.i_tanh.eq(1),
                     cell_act.i_tag.eq(tag10)]

        # Output: h~ = o * tanh(c), round, saturate, prune
        hp14 = Signal(signed(2 * cfg.gate.bits), name="hp14")
        v14 = Signal(name="v14")
        j14 = Signal(self.unit_width, name="j14")
        o13 = cell_act.o_tag[:gate_s.width].as_signed()
        m.d.sync += [hp14.eq(o13 * cell_act.o_data), v14.eq(cell_act.o_valid),
                     j14.eq(cell_act.o_tag[gate_s.width:])]
        h15 = Signal(signed(f.state.bits), name="h15")
        v15 = Signal(name="v15")
        j15 = Signal(self.unit_width, name="j15")
        m.d.sync += [h15.eq(rescale(hp14, 2 * gf, f.state)), v15.eq(v14), j15.eq(j14)]
        # |h| < theta as two comparisons against registered +-theta (no negation of h)
        theta_r = Signal(unsigned(f.state.bits), name="theta_r")
        neg_theta = Signal(signed(f.state.bits + 1), name="neg_theta")
        m.d.sync += [theta_r.eq(self.theta), neg_theta.eq(-self.theta)]
        h16, small16 = Signal(signed(f.state.bits), name="h16"), Signal(name="small16")
        v16 = Signal(name="v16")
        j16 = Signal(self.unit_width, name="j16")
        m.d.sync += [h16.eq(h15), small16.eq((h15 < theta_r) & (h15 > neg_theta)),
                     v16.eq(v15), j16.eq(j15)]
        m.d.sync += [self.h_data.eq(Mux(small16, 0, h16)), self.h_valid.eq(v16),
                     self.h_unit.eq(j16), self.h_nz.eq(~small16 & (h16 != 0))]
        return m
