"""One multiply-accumulate lane: weight memory, one multiplier, one accumulator."""

from amaranth.hdl import Array, Module, Mux, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2

from . import interfaces
from .interfaces import Geometry
from .primitives import Multiplier, WeightBank, dp16kd_geometry

__all__ = ["Lane"]


class Lane(wiring.Component):
    """Lane ``k`` holds the gate rows of hidden units ``u = k + N j`` (``j = 0 .. H/N - 1``):
    its local row ``G j + q`` (q = i, f, g, o; ``golden.layout``) in its weight and bias
    memories. It knows nothing of the cell: each row is an inner product over the issued
    columns, started from the bias; the accumulator goes to the shared cell units.

    All lanes receive the same column stream and run in lock step. A row's first column
    (``issue_first``) starts its accumulator from the bias. With the ``overlap`` option a
    step's row is computed in two passes: the x pass (columns marked ``part``) starts from
    the bias and leaves the row's sum in a partial-sum memory (one word per local row, not
    the result); the h pass starts from that partial sum and ends in the result.

    Parameters
    ----------
    cfg : golden ``Config``.
    weights, biases : optional initial contents (``rows_per_lane * columns`` weights, row-major
        by local row; ``rows_per_lane`` biases), for weights baked in at generation.
    target : ``"generic"`` or ``"ecp5"`` (``rtl.primitives``: the weight banks and the
        multiplier as ECP5 primitives with their registers; same latency).
    sites : on ``ecp5``, an optional ``rtl.floorplan.LaneSites``: where the weight banks and
        the multiplier are placed.

    Members
    -------
    column : ``In(interfaces.column)``, a column, cycle 0.
    value : the column's v element (vector format), cycle 3.
    param : ``In(interfaces.param_write)``, the writes to the lane numbered ``index``.
    result : a finished row, for the one cycle ``latency + 1`` cycles after the row's last
        column (rows finish in local row order; the top tracks them); in every other cycle
        it takes ``chain``, so the row's result moves down the chain one link per cycle.
    chain : the result this lane takes in the cycles its own row does not finish (the top
        joins the lanes' results into shift chains that drain them to the cell units; the
        row-end decision is each lane's own, so no enable fans out to all lanes).
    """

    def __init__(self, cfg, weights=None, biases=None, target="generic", index=0, sites=None):
        self.cfg = cfg
        self.index = index
        self.sites = sites
        self.target = target
        self.depth = cfg.rows_per_lane * cfg.columns
        self.weights, self.biases = weights, biases
        geo = Geometry(cfg)
        self.addr_width, self.row_width = geo.addr_width, geo.row_width
        super().__init__({
            "column": In(interfaces.column(geo)), "value": In(geo.vector_shape),
            "param": In(interfaces.param_write(geo)),
            "result": Out(geo.acc_shape), "chain": In(geo.acc_shape),
        })

    #: Cycles from the issue of a row's last column to its result in ``acc``: fetch (6: column
    #: register, memory read, bank output registers in the block RAM and beside it, bank
    #: select, multiplier input registers), multiply, product register, accumulate.
    latency = 5 + Multiplier.latency + 1 + 1

    @staticmethod
    def bank_count(cfg):
        """Block RAMs (weight banks) per lane."""
        return -(-cfg.rows_per_lane * cfg.columns // dp16kd_geometry(cfg.formats.weight.bits)[1])

    def elaborate(self, platform):
        m = Module()
        cfg = self.cfg
        f = cfg.formats
        pf = cfg.product.frac

        # Internal state: parameter memories. The weight memory is split into banks of one
        # block RAM each (2048 x 9 or 1024 x 18 on ECP5); every bank output is registered
        # in its block RAM (``WeightBank``) and again beside it, and the bank is selected
        # into a register (cycles 3 to 5 below), so no path runs from a block RAM through a
        # multiplexer.
        wbits = f.weight.bits
        bank_depth = dp16kd_geometry(wbits)[1]
        bank_bits = ceil_log2(bank_depth)
        n_banks = self.bank_count(cfg)
        init = [] if self.weights is None else [int(v) for v in self.weights]
        banks = []
        for k in range(n_banks):
            d = min(bank_depth, self.depth - k * bank_depth)
            bank = WeightBank(wbits, d, init[k * bank_depth:k * bank_depth + d], self.target,
                              site=self.sites.banks[k] if self.sites else None)
            m.submodules[f"wmem{k}"] = bank
            banks.append(bank)
        bmem = Memory(shape=signed(f.bias.bits), depth=cfg.rows_per_lane,
                      init=[] if self.biases is None else [int(v) for v in self.biases])
        m.submodules.bmem = bmem
        b_rd, b_wr = bmem.read_port(), bmem.write_port()
        # Parameter writes are registered in each lane (they reach every memory of the chip);
        # a write is this lane's when its lane number is this lane's index
        w_en = Signal(name="w_en_r")
        w_addr = Signal(self.addr_width, name="w_addr_r")
        w_data = Signal(signed(wbits), name="w_data_r")
        mine = self.param.lane == self.index
        m.d.sync += [
            w_en.eq(self.param.w_valid & mine), w_addr.eq(self.param.w_addr),
            w_data.eq(self.param.w_data),
            b_wr.en.eq(self.param.b_valid & mine), b_wr.addr.eq(self.param.b_addr),
            b_wr.data.eq(self.param.b_data),
        ]
        for k, bank in enumerate(banks):
            m.d.comb += [bank.w_en.eq(w_en & ((w_addr >> bank_bits) == k)),
                         bank.w_addr.eq(w_addr[:bank_bits]), bank.w_data.eq(w_data)]

        # Cycle 0 -> 1: the column is registered in each lane (fan-out to the lanes and to
        # the block RAMs of this lane's weight memory are separate timing paths)
        addr1 = Signal(self.addr_width, name="addr1")
        v1, first1 = Signal(name="v1"), Signal(name="first1")
        row1 = Signal(self.row_width, name="row1")
        m.d.sync += [addr1.eq(self.column.addr), v1.eq(self.column.valid),
                     first1.eq(self.column.first), row1.eq(self.column.row)]
        overlap = cfg.overlap
        if overlap:
            # an x-pass column: its row, carried with ``last`` to the accumulator
            part1 = Signal(name="part1")
            m.d.sync += part1.eq(self.column.part)
            part, prow = part1, row1
            parts, prows = {1: part1}, {1: row1}          # cycle -> the flag, the row
        # a row's last column, carried along the pipeline to the result register (cycle n:
        # ``last{n}``; in cycle ``latency`` the accumulator holds the finished row)
        last = Signal(name="last1")
        m.d.sync += last.eq(self.column.valid & self.column.last)
        for cycle in range(2, self.latency + 1):
            later = Signal(name=f"last{cycle}")
            m.d.sync += later.eq(last)
            last = later
            if overlap:
                part_n = Signal(name=f"part{cycle}")
                prow_n = Signal(self.row_width, name=f"prow{cycle}")
                m.d.sync += [part_n.eq(part), prow_n.eq(prow)]
                part, prow = part_n, prow_n
                parts[cycle], prows[cycle] = part, prow

        # Cycle 1 -> 2: memory reads
        m.d.comb += [bank.r_addr.eq(addr1[:bank_bits]) for bank in banks]
        m.d.comb += b_rd.addr.eq(row1)
        v2, first2 = Signal(name="v2"), Signal(name="first2")
        sel2 = Signal(range(max(n_banks, 2)), name="sel2")
        m.d.sync += [v2.eq(v1), first2.eq(first1), sel2.eq(addr1 >> bank_bits)]

        # Cycle 2 -> 3: every bank output registered (inside the bank)
        wb = [bank.r_data for bank in banks]
        b3a = Signal(signed(f.bias.bits), name="b3a")
        v3a, first3a = Signal(name="v3a"), Signal(name="first3a")
        sel3a = Signal(range(max(n_banks, 2)), name="sel3a")
        m.d.sync += [b3a.eq(b_rd.data), v3a.eq(v2), first3a.eq(first2), sel3a.eq(sel2)]
        if overlap:
            # the partial sums: read in cycle 6 (data in cycle 7), merged into the last bias
            # register (the h pass of a row starts from its partial sum; the top starts an h
            # pass only after the x pass's last row is in its partial sum, and the bias
            # pipeline before stays as narrow as the bias)
            pmem = Memory(shape=signed(cfg.accumulator.bits), depth=cfg.rows_per_lane, init=[])
            m.submodules.pmem = pmem
            p_rd, p_wr = pmem.read_port(), pmem.write_port()
            m.d.comb += p_rd.addr.eq(prows[6])

        # Cycle 3 -> 4: every bank output into a fabric register beside its block RAM (a
        # lane's block RAMs may sit far apart), the broadcast v element (cycle 3) into this
        # lane's own register; 4 -> 5: the bank selected into a register; 5 -> 6: weight
        # and element into the multiplier's input registers; 6 -> 7: the product (exact) in
        # its output register; 7 -> 8: the product into a register beside the accumulator.
        # Every path between a block RAM, the bank multiplexer, the multiplier and the
        # accumulator's carry chain starts and ends at a register.
        wb4 = [Signal(signed(wbits), name=f"wb4_{k}") for k in range(n_banks)]
        m.d.sync += [r.eq(d) for r, d in zip(wb4, wb)]
        sel4 = Signal.like(sel3a, name="sel4")
        val4, val5 = Signal(signed(cfg.vector.bits), name="val4"), \
            Signal(signed(cfg.vector.bits), name="val5")
        w5 = Signal(signed(wbits), name="w5")
        m.d.sync += [sel4.eq(sel3a), val4.eq(self.value), val5.eq(val4),
                     w5.eq(Array(wb4)[sel4] if n_banks > 1 else wb4[0])]
        m.submodules.mul = mul = Multiplier(wbits, cfg.vector.bits, self.target,
                                            site=self.sites.multiplier if self.sites else None)
        m.d.comb += [mul.op_a.eq(w5), mul.op_b.eq(val5)]
        prod8 = Signal.like(mul.product, name="prod8")
        m.d.sync += prod8.eq(mul.product)

        # side signals alongside, from cycle 3 to 8: valid, first column, the bias aligned
        # to the accumulator
        v, first = v3a, first3a
        bias = b3a << (pf - f.bias.frac)
        for cycle in range(4, 5 + 1 + Multiplier.latency + 1):
            v_n, first_n = Signal(name=f"v{cycle}"), Signal(name=f"first{cycle}")
            bias_n = Signal(signed(cfg.accumulator.bits), name=f"bias{cycle}")
            if overlap and cycle == 5 + 1 + Multiplier.latency:
                bias = Mux(parts[cycle - 1], bias, p_rd.data)
            m.d.sync += [v_n.eq(v), first_n.eq(first), bias_n.eq(bias)]
            v, first, bias = v_n, first_n, bias_n

        # Cycle 8 -> 9: accumulate (never overflows: width from Config.accumulator)
        acc = Signal(signed(cfg.accumulator.bits), name="acc")
        with m.If(v):
            m.d.sync += acc.eq(Mux(first, bias, acc) + prod8)

        # Cycle 9 -> 10: a finished row into the result register, else the chain's value
        result = Signal(signed(cfg.accumulator.bits), name="result")
        if overlap:
            # an x-pass row ends in the partial-sum memory, and the chain moves on
            m.d.comb += [p_wr.en.eq(last & part), p_wr.addr.eq(prow), p_wr.data.eq(acc)]
            last = last & ~part
        m.d.sync += result.eq(Mux(last, acc, self.chain))
        m.d.comb += self.result.eq(result)
        return m
