"""The ``skiplstm`` top: AXI4-Stream x / h / parameter ports, AXI4-Lite registers."""

from amaranth.hdl import Cat, Module, Mux, Signal, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from golden.layout import lane_images

from .cell import CellUnit
from .fanout import LaneFanout, fanout_groups
from .fifo import RoomFIFO
from .fixedpoint import sign_extends
from .floorplan import DEVICES, lane_sites
from .index_list import IndexList
from .issue import ColumnIssue
from .lane import Lane
from .loader import ParamLoader
from .regs import Registers, axil_ports
from .skid import SkidBuffer

__all__ = ["SkipLSTM", "stream_width"]


def stream_width(bits):
    """AXI4-Stream ``tdata`` width for a signed value of ``bits`` bits: whole bytes."""
    return 8 * -(-bits // 8)


class SkipLSTM(wiring.Component):
    """The accelerator (docs/contract.md).

    Parameters
    ----------
    cfg : golden ``Config``.
    params : optional golden ``QuantParams`` baked into the memories (ARCH bit 16 set).
    target : ``"generic"`` (portable Verilog) or ``"ecp5"`` (lane multipliers and weight
        block RAMs as ECP5 primitives with their registers; ``rtl.primitives``).
    floorplan : with ``target="ecp5"``, a device (``rtl.floorplan.DEVICES``) on which each
        lane's weight block RAMs are fixed side by side and its multiplier beside them;
        ``None``: free.

    Step scheduling: a step starts the cycle after its x_t is complete in its slot (a cycle
    after the index unit takes the last element), no step is in flight, no parameter load is
    under way (a parameter beat waiting then wins over the step), and the h output buffer has
    room for H elements; it then runs without stalls for the cycles of ``golden.cycles``.
    With the ``overlap`` option a step is two passes: its x pass starts as soon as x_t is
    complete and the column issue is free (while the previous step drains), with nothing in
    flight but steps, no parameter load, no parameter beat waiting; its h pass starts when the
    x pass's partial sums are written, no step is in flight and the h output buffer has room.
    ``rst`` clears state, buffers and counters; parameters survive it.
    """

    def __init__(self, cfg, params=None, target="generic", floorplan=None):
        self.cfg = cfg
        self.params = params
        self.target = target
        if floorplan is not None and (target != "ecp5" or floorplan not in DEVICES):
            self._MustUse__silence = True
            raise ValueError(f"floorplan {floorplan!r} needs target 'ecp5' and one of the "
                             f"devices {list(DEVICES)} (target is {target!r})")
        self.floorplan = floorplan
        f = cfg.formats
        self.x_width = stream_width(f.input.bits)
        self.h_width = stream_width(f.state.bits)
        self.w_width = stream_width(max(f.weight.bits, f.bias.bits))
        self._axil = axil_ports()
        ports = {
            "s_axis_x_tdata": In(self.x_width), "s_axis_x_tvalid": In(1),
            "s_axis_x_tready": Out(1), "s_axis_x_tlast": In(1), "s_axis_x_tuser": In(1),
            "m_axis_h_tdata": Out(self.h_width), "m_axis_h_tvalid": Out(1),
            "m_axis_h_tready": In(1), "m_axis_h_tlast": Out(1),
            "s_axis_w_tdata": In(self.w_width), "s_axis_w_tvalid": In(1),
            "s_axis_w_tready": Out(1), "s_axis_w_tlast": In(1),
        }
        super().__init__({**ports, **self._axil})

    @staticmethod
    def latency(cfg):
        """Cycles of a step beyond ``rows_per_lane * max(nnz, min_columns, 1)`` (the cycle
        model's L): issue, fan-out register, lane, the N row results handed to the cell
        units P per cycle along the lanes' result chains (N/P cycles), cell unit, the
        gathered h group written."""
        return (ColumnIssue.ISSUE_LATENCY + LaneFanout.latency + Lane.latency + cfg.min_columns
                + CellUnit.latency + 1)

    def elaborate(self, platform):
        m = Module()
        cfg = self.cfg
        f = cfg.formats
        N = cfg.lanes
        hg, hb = cfg.h_groups, f.state.bits
        P, S = cfg.cell_units, cfg.min_columns           # cell units; slots (lanes) per unit

        # Submodules
        m.submodules.regs = regs = Registers(cfg, baked=self.params is not None)
        m.submodules.index_list = il = IndexList(cfg, target=self.target)
        m.submodules.issue = issue = ColumnIssue(cfg)
        m.submodules.loader = loader = ParamLoader(cfg, self.w_width)
        # h output FIFO: P values (one slot of the cell units) per word, 2H values in all, in
        # distributed RAM; a step starts only with room for its H values, so the writes need
        # no "full" test
        m.submodules.h_fifo = fifo = RoomFIFO(P * hb, 2 * hg * S)
        images = lane_images(cfg, self.params) if self.params is not None else [(None, None)] * N
        sites = lane_sites(cfg, Lane.bank_count(cfg), self.floorplan)
        lanes = []
        for k in range(N):
            lane = Lane(cfg, *images[k], target=self.target, index=k,
                        sites=sites[k] if sites else None)
            m.submodules[f"lane{k}"] = lane
            lanes.append(lane)
        cells = []
        for p in range(P):
            cell = CellUnit(cfg, target=self.target)
            m.submodules[f"cell{p}"] = cell
            cells.append(cell)

        for name, member in self._axil.items():
            if member.flow == In:
                m.d.comb += getattr(regs, name).eq(getattr(self, name))
            else:
                m.d.comb += getattr(self, name).eq(getattr(regs, name))

        # The x and parameter streams enter through register slices: the ports reach
        # flip-flops, and the core's logic sees the slices, not the ports (apart from the
        # step-start decision, which also waits on a parameter beat at the port). The x
        # slice also carries whether the element is nonzero and whether it is out of the
        # input format, computed at the port, so the receiver's accept path stays short.
        m.submodules.x_in = x_in = SkidBuffer(data.StructLayout(
            {"data": f.input.bits, "last": 1, "user": 1, "nz": 1, "range_err": 1}))
        m.submodules.w_in = w_in = SkidBuffer(data.StructLayout(
            {"data": self.w_width, "last": 1}))
        m.d.comb += [
            x_in.i.valid.eq(self.s_axis_x_tvalid), self.s_axis_x_tready.eq(x_in.i.ready),
            x_in.i.payload.data.eq(self.s_axis_x_tdata[:f.input.bits]),
            x_in.i.payload.last.eq(self.s_axis_x_tlast),
            x_in.i.payload.user.eq(self.s_axis_x_tuser),
            x_in.i.payload.nz.eq(self.s_axis_x_tdata[:f.input.bits] != 0),
            x_in.i.payload.range_err.eq(~sign_extends(self.s_axis_x_tdata, f.input.bits)),
            w_in.i.valid.eq(self.s_axis_w_tvalid), self.s_axis_w_tready.eq(w_in.i.ready),
            w_in.i.payload.data.eq(self.s_axis_w_tdata),
            w_in.i.payload.last.eq(self.s_axis_w_tlast),
        ]

        # x stream -> nonzero-index unit
        x_range_err = Signal(name="x_range_err")
        xb = x_in.o.payload
        m.d.comb += [
            il.x.valid.eq(x_in.o.valid), x_in.o.ready.eq(il.x.ready),
            il.x.payload.data.eq(xb.data), il.x.payload.nz.eq(xb.nz),
            il.x.payload.last.eq(xb.last), il.x.payload.user.eq(xb.user),
        ]
        m.d.comb += x_range_err.eq(x_in.o.valid & il.x.ready & xb.range_err)

        # Parameter stream -> lanes
        busy = Signal(name="busy")
        start = Signal(name="start")                      # registered (step control below)
        w_enable = Signal(init=1, name="w_enable")         # ~busy & ~start, registered
        m.d.comb += [
            loader.enable.eq(w_enable), loader.w.valid.eq(w_in.o.valid),
            w_in.o.ready.eq(loader.w.ready), loader.w.payload.data.eq(w_in.o.payload.data),
            loader.w.payload.last.eq(w_in.o.payload.last),
        ]
        # The column, the v element and the parameter writes reach the lanes through one
        # register per group of neighbouring lanes (``LaneFanout``)
        fanouts = []
        for r, group in enumerate(fanout_groups(cfg)):
            fan = LaneFanout(cfg)
            m.submodules[f"lane_fanout{r}"] = fan
            fanouts.append(fan)
            m.d.comb += [lanes[k].value.eq(fan.o_value) for k in group]
            wiring.connect(m, fan.o_column, *(lanes[k].column for k in group))
            wiring.connect(m, fan.o_param, *(lanes[k].param for k in group))
        # the loader's writes pass one more register on their way to the group registers, so
        # that the loader's own logic need not sit where the writes fan out
        param_r = loader.param.signature.create(path=("param_r",))
        m.d.sync += [getattr(param_r, key).eq(getattr(loader.param, key))
                     for key in loader.param.signature.members]
        wiring.connect(m, param_r, *(fan.param for fan in fanouts))

        # Step control
        pending_clear = Signal(init=1, name="pending_clear")
        fresh = Signal(name="fresh")
        theta = Signal(unsigned(hb), name="theta_step")
        step_nnz = Signal(range(cfg.columns + 1), name="step_nnz")
        room = fifo.level <= hg * S                          # room for H values
        # the decision is registered: a step starts the cycle after its conditions hold (x_t
        # complete, no step, no load under way, no parameter beat waiting, room for h); none
        # of them can be undone in between (the loader takes no beat in the start cycle)
        go = (~busy & ~start & il.rd_x_full & ~loader.active & ~w_in.o.valid &
              ~self.s_axis_w_tvalid & room)
        overlap = cfg.overlap
        if overlap:
            # x pass: decided like a step, but only the column issue need be free (the
            # previous step may be draining); x_t's slot is read at its start and freed when
            # its partial sums are written (``x_done``); the h pass then waits for the
            # previous step to end and for room
            start_x = Signal(name="start_x")
            x_phase = Signal(name="x_phase")        # from start_x to the h pass's start
            x_busy = Signal(name="x_busy")          # the x pass in flight (counted in CYCLES)
            x_ready = Signal(name="x_ready")        # its partial sums written
            fresh_x = Signal(name="fresh_x")        # x_t's tuser, mode and nnz
            sparse_x = Signal(name="sparse_x")
            x_nnz_x = Signal.like(il.rd_x_nnz, name="x_nnz_x")
            go_x = (~x_phase & ~start_x & ~start & ~issue.running & il.rd_x_full &
                    ~loader.active & ~w_in.o.valid & ~self.s_axis_w_tvalid)
            go = x_ready & ~busy & ~start & room
            m.d.sync += start_x.eq(go_x)
        m.d.sync += start.eq(go)
        # a sequence start: tuser, CLEAR_STATE (now or since the last step), or a complete
        # parameter load (``pending_clear``, set the cycle ``loaded`` pulses: a step never
        # starts in that cycle, the load kept ``active`` high the cycle before)
        fresh_now = il.rd_x_fresh | pending_clear | regs.clear_state
        # the step's nnz: its parts latched at start, the sum registered the cycle after
        sparse_s = Signal(name="sparse_step")
        x_nnz = Signal.like(il.rd_x_nnz, name="x_nnz_step")
        h_nnz = Signal.like(il.next_h_nnz, name="h_nnz_step")
        m.d.sync += step_nnz.eq(Mux(sparse_s, x_nnz + Mux(fresh, 0, h_nnz), cfg.columns))
        if overlap:
            fresh_now = fresh_x | pending_clear | regs.clear_state
            # the h pass's rows visit h only: the padding from the h part
            pass_nnz = Signal(range(cfg.hidden_size + 1), name="pass_nnz")
            m.d.sync += pass_nnz.eq(Mux(sparse_s, Mux(fresh, 0, h_nnz), cfg.hidden_size))
            x_done = issue.last & issue.column.part
            for n in range(LaneFanout.latency + Lane.latency):  # the lanes write it
                later = Signal(name=f"x_done{n + 1}")
                m.d.sync += later.eq(x_done)
                x_done = later
            with m.If(start_x):
                m.d.sync += [x_phase.eq(1), x_busy.eq(1), sparse_x.eq(regs.sparse),
                             x_nnz_x.eq(il.rd_x_nnz), fresh_x.eq(il.rd_x_fresh)]
            with m.If(x_done):
                m.d.sync += [x_busy.eq(0), x_ready.eq(1)]
            with m.If(start):
                m.d.sync += [x_phase.eq(0), x_ready.eq(0)]
        else:
            pass_nnz = step_nnz
        # a row lasts at least min_columns cycles: the idle cycles before each row
        # (from the step's nnz, registered a cycle after start: the issue takes the padding
        # two cycles after start; an x pass has none)
        cols = Mux(pass_nnz == 0, 1, pass_nnz)
        pad = Mux(cols < S, S - cols, 0) if S > 1 else 0
        if overlap:
            pad = Mux(x_phase, 0, pad)
        m.d.comb += [
            il.start.eq(start), issue.start.eq(start), issue.sparse.eq(regs.sparse),
            issue.fresh.eq(fresh_now), issue.n_x.eq(il.rd_x_entries),
            issue.n_h.eq(il.next_h_entries), issue.pad.eq(pad),
        ]
        if overlap:
            m.d.comb += [issue.start.eq(start | start_x), issue.hpass.eq(start),
                         issue.sparse.eq(Mux(start_x, regs.sparse, sparse_x))]
        wiring.connect(m, issue.x_list, il.x_list)
        wiring.connect(m, issue.h_list, il.h_list)
        wiring.connect(m, issue.element, il.element)
        # X + H - nnz, from the registered nnz (it is read when the step ends)
        step_skipped = Signal(range(cfg.columns + 1), name="step_skipped")
        m.d.sync += step_skipped.eq(cfg.columns - step_nnz)
        with m.If(start):
            if overlap:     # (the mode and x's nnz as the x pass latched them)
                m.d.sync += [busy.eq(1), fresh.eq(fresh_now), theta.eq(regs.theta),
                             sparse_s.eq(sparse_x), x_nnz.eq(x_nnz_x),
                             h_nnz.eq(il.next_h_nnz), pending_clear.eq(0)]
            else:
                m.d.sync += [busy.eq(1), fresh.eq(fresh_now), theta.eq(regs.theta),
                             sparse_s.eq(regs.sparse), x_nnz.eq(il.rd_x_nnz),
                             h_nnz.eq(il.next_h_nnz), pending_clear.eq(0)]
        with m.If((regs.clear_state | loader.loaded) & ~start):
            m.d.sync += pending_clear.eq(1)

        wiring.connect(m, issue.column, *(fan.column for fan in fanouts))
        m.d.comb += [fan.value.eq(il.v_data) for fan in fanouts]

        # Row results: all lanes finish a row together and each puts it into its result
        # register; the results are handed to the cell units P per cycle: in cycle s after
        # the row end, unit p takes lane P s + p (slot s). The result registers form P shift
        # chains (lane k takes lane k + P's result when its own row does not end), so the
        # hand-off needs no enable across the lanes. A row lasts at least S = N / P cycles,
        # so a row's results have drained when the next row ends.
        for k, lane in enumerate(lanes):
            m.d.comb += lane.chain.eq(lanes[k + P].result if k + P < N else 0)
        acc_row = Signal(lanes[0].row_width, name="res_row")
        next_row = Signal(range(max(cfg.rows_per_lane, 2)), name="next_row")  # rows in order
        slot = Signal(range(max(S, 2)), name="res_slot")
        draining = Signal(name="res_draining")
        row_done = issue.column.valid & issue.column.last     # the lanes hold it
        if overlap:
            row_done = row_done & ~issue.column.part          # (an x pass's: partial sums)
        for n in range(LaneFanout.latency + Lane.latency):    # LaneFanout + Lane latency later
            later = Signal(name=f"row_done{n + 1}")
            m.d.sync += later.eq(row_done)
            row_done = later
        with m.If(start):
            m.d.sync += next_row.eq(0)
        with m.Elif(row_done):
            m.d.sync += next_row.eq(next_row + 1)
        with m.If(row_done):
            m.d.sync += [acc_row.eq(next_row), slot.eq(0), draining.eq(1)]
        with m.Elif(draining):
            m.d.sync += slot.eq(slot + 1)
            with m.If(slot == S - 1):
                m.d.sync += draining.eq(0)
        for p, cell in enumerate(cells):
            m.d.comb += [cell.rows.valid.eq(draining), cell.rows.payload.acc.eq(lanes[p].result),
                         cell.rows.payload.row.eq(acc_row), cell.rows.payload.slot.eq(slot),
                         cell.fresh.eq(fresh), cell.theta.eq(theta)]

        # h_t: the cell units deliver a unit group P values per cycle, slot by slot, in unit
        # order; each slot's values go to the output FIFO as they come, and the group is
        # gathered in a shift register for the index unit, written whole after its last slot
        h_row = Signal(N * hb, name="h_row")
        h_mask = Signal(N, name="h_mask")
        h_count = Signal(range(N + 1), name="h_count")     # bits set in h_mask
        h_valid = Signal(name="h_valid")
        h_group = Signal(range(max(hg, 2)), name="h_group")
        h0 = cells[0].h
        new_h = Cat(cell.h.payload.data for cell in cells)
        with m.If(h0.valid):
            new_nz = Cat(cell.h.payload.nz for cell in cells)
            new_count = sum(cell.h.payload.nz for cell in cells)
            m.d.sync += [h_row.eq(Cat(h_row[P * hb:], new_h) if S > 1 else new_h),
                         h_mask.eq(Cat(h_mask[P:], new_nz) if S > 1 else new_nz),
                         h_count.eq(Mux(h0.payload.slot == 0, 0, h_count) + new_count)]
        h_last = Signal(name="h_last_group")               # h_group == hg - 1, registered
        m.d.sync += [h_valid.eq(h0.valid & (h0.payload.slot == S - 1)),
                     h_group.eq(h0.payload.unit), h_last.eq(h0.payload.unit == hg - 1)]
        step_done = h_valid & h_last
        m.d.comb += [
            il.h_write.en.eq(h_valid), il.h_write.group.eq(h_group), il.h_write.row.eq(h_row),
            il.h_write.mask.eq(h_mask), il.h_write.count.eq(h_count),
            fifo.w_en.eq(h0.valid), fifo.w_data.eq(new_h),
            il.done.eq(x_done if overlap else step_done),
        ]
        with m.If(step_done):
            m.d.sync += busy.eq(0)
        if overlap:
            m.d.sync += w_enable.eq(~Mux(step_done, 0, start | busy) & ~go &
                                    ~(x_phase | start_x | go_x))
        else:
            m.d.sync += w_enable.eq(~Mux(step_done, 0, start | busy) & ~go)

        # Status and counters
        m.d.comb += [
            regs.busy.eq(busy | start | loader.active | w_in.holds), regs.cycle_inc.eq(busy),
            regs.protocol_error.eq(il.x_error | loader.error | x_range_err),
            regs.step_inc.eq(step_done), regs.columns_add.eq(step_nnz),
            regs.skipped_add.eq(step_skipped),
        ]
        if overlap:     # (the x pass counts as in flight; its sums waiting for room do not)
            m.d.comb += [regs.busy.eq(busy | start | start_x | x_busy | loader.active |
                                      w_in.holds),
                         regs.cycle_inc.eq(busy | x_busy)]

        # h output: a FIFO word (P values) moves into a shift register, whose low value goes
        # out, sign-extended; the next word follows as the last value of a word leaves, so
        # the values leave back to back
        ob = Signal(range(max(N, 2)), name="out_bit")      # value within the unit group
        og = Signal(range(max(hg, 2)), name="out_group")
        oe = Signal(range(max(P, 2)), name="out_elem")     # value within the word
        oe_last = Signal(init=int(P == 1), name="out_elem_last")
        out_last = Signal(init=int(N * hg == 1), name="out_last")   # the value is h_t's last
        out_word = Signal(P * hb, name="out_word")
        out_full = Signal(name="out_full")
        # ... through a register slice to the port (the value leaves flip-flops inside the
        # core, not the logic of whatever takes h)
        m.submodules.h_out = h_out = SkidBuffer(data.StructLayout(
            {"data": self.h_width, "last": 1}))
        m.d.comb += [
            h_out.i.valid.eq(out_full),
            h_out.i.payload.data.eq(out_word[:hb].as_signed()),
            h_out.i.payload.last.eq(out_last),
            self.m_axis_h_tvalid.eq(h_out.o.valid), self.m_axis_h_tdata.eq(h_out.o.payload.data),
            self.m_axis_h_tlast.eq(h_out.o.payload.last), h_out.o.ready.eq(self.m_axis_h_tready),
        ]
        sent = h_out.i.valid & h_out.i.ready
        # the register takes the FIFO's read data whenever it is empty or sends its last
        # value, and is full if the FIFO had a word (whether it had one reaches only
        # out_full, not the enable of the P values)
        load = ~out_full | (sent & oe_last)
        m.d.comb += fifo.r_en.eq(load)
        with m.If(load):
            m.d.sync += [out_word.eq(fifo.r_data), out_full.eq(fifo.r_rdy), oe.eq(0),
                         oe_last.eq(P == 1)]
        with m.Elif(sent):
            m.d.sync += [out_word.eq(out_word[hb:]), oe.eq(oe + 1), oe_last.eq(oe == P - 2)]
        # whether the value after this one is h_t's last (group hg - 1, value N - 1)
        next_last_in_group = (og == hg - 1) & (ob == N - 2) if N > 1 else 0
        next_last_across = ((og == hg - 2) if hg > 1 else 1) if N == 1 else 0
        with m.If(sent):
            m.d.sync += [ob.eq(ob + 1), out_last.eq(next_last_in_group)]
            with m.If(ob == N - 1):
                m.d.sync += [ob.eq(0), og.eq(Mux(og == hg - 1, 0, og + 1)),
                             out_last.eq(next_last_across)]
        return m
