"""The ``skiplstm`` top: AXI4-Stream x / h / parameter ports, AXI4-Lite registers."""

from amaranth.hdl import Cat, Module, Mux, Signal, unsigned
from amaranth.lib import wiring
from amaranth.lib.fifo import SyncFIFOBuffered
from amaranth.lib.wiring import In, Out

from golden.layout import lane_images

from .fixedpoint import sign_extends
from .index_list import IndexList
from .issue import ColumnIssue
from .lane import Lane
from .loader import ParamLoader
from .regs import Registers, axil_ports

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

    Step scheduling: a step starts when its x_t has fully arrived, no step is in flight, no
    parameter load is under way (a waiting parameter beat wins over a step start), and the h
    output buffer has room for H elements; it then runs without stalls for the cycles of
    ``golden.cycles``. ``rst`` clears state, buffers and counters; parameters survive it.
    """

    def __init__(self, cfg, params=None):
        self.cfg = cfg
        self.params = params
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

    #: Cycles of a step beyond ``rows_per_lane * max(nnz, 1)`` (the cycle model's L).
    latency = ColumnIssue.ISSUE_LATENCY + Lane.latency + 1       # + the h-group register

    def elaborate(self, platform):
        m = Module()
        cfg = self.cfg
        f = cfg.formats
        N, X, H = cfg.lanes, cfg.input_size, cfg.hidden_size
        hg, hb = cfg.h_groups, f.state.bits

        # Submodules
        m.submodules.regs = regs = Registers(cfg, baked=self.params is not None)
        m.submodules.index_list = il = IndexList(cfg)
        m.submodules.issue = issue = ColumnIssue(cfg)
        m.submodules.loader = loader = ParamLoader(cfg, self.w_width)
        m.submodules.h_fifo = fifo = SyncFIFOBuffered(width=N * hb, depth=2 * hg)
        images = lane_images(cfg, self.params) if self.params is not None else [(None, None)] * N
        lanes = []
        for k in range(N):
            lane = Lane(cfg, *images[k])
            m.submodules[f"lane{k}"] = lane
            lanes.append(lane)

        for name, member in self._axil.items():
            if member.flow == In:
                m.d.comb += getattr(regs, name).eq(getattr(self, name))
            else:
                m.d.comb += getattr(self, name).eq(getattr(regs, name))

        # x stream -> nonzero-index unit
        x_range_err = Signal(name="x_range_err")
        m.d.comb += [
            il.x_valid.eq(self.s_axis_x_tvalid), self.s_axis_x_tready.eq(il.x_ready),
            il.x_data.eq(self.s_axis_x_tdata[:f.input.bits]),
            il.x_last.eq(self.s_axis_x_tlast), il.x_user.eq(self.s_axis_x_tuser),
        ]
        m.d.comb += x_range_err.eq(self.s_axis_x_tvalid & il.x_ready &
                                   ~sign_extends(self.s_axis_x_tdata, f.input.bits))

        # Parameter stream -> lanes
        busy = Signal(name="busy")
        m.d.comb += [
            loader.enable.eq(~busy), loader.s_valid.eq(self.s_axis_w_tvalid),
            self.s_axis_w_tready.eq(loader.s_ready), loader.s_data.eq(self.s_axis_w_tdata),
            loader.s_last.eq(self.s_axis_w_tlast),
        ]
        for k, lane in enumerate(lanes):
            m.d.comb += [
                lane.w_en.eq(loader.w_lane_en[k]), lane.w_addr.eq(loader.w_addr),
                lane.w_data.eq(loader.w_data), lane.b_en.eq(loader.b_lane_en[k]),
                lane.b_addr.eq(loader.b_addr), lane.b_data.eq(loader.b_data),
            ]

        # Step control
        pending_clear = Signal(init=1, name="pending_clear")
        fresh = Signal(name="fresh")
        theta = Signal(unsigned(hb), name="theta_step")
        step_nnz = Signal(range(cfg.columns + 1), name="step_nnz")
        room = fifo.level <= 2 * hg - hg
        start = Signal(name="start")
        m.d.comb += start.eq(~busy & il.rd_x_full & ~loader.active & ~self.s_axis_w_tvalid & room)
        # a sequence start: tuser, CLEAR_STATE (now or since the last step), or a complete
        # parameter load (now: a waiting x_t may start in the cycle ``loaded`` pulses)
        fresh_now = il.rd_x_fresh | pending_clear | regs.clear_state | loader.loaded
        nnz_now = Mux(regs.sparse, il.rd_x_nnz + Mux(fresh_now, 0, il.next_h_nnz), cfg.columns)
        m.d.comb += [
            il.start.eq(start), issue.start.eq(start), issue.sparse.eq(regs.sparse),
            issue.fresh.eq(fresh_now), issue.n_x.eq(il.rd_x_entries),
            issue.n_h.eq(il.next_h_entries),
            il.x_index.eq(issue.x_index), issue.x_entry.eq(il.x_entry),
            il.h_index.eq(issue.h_index), issue.h_entry.eq(il.h_entry),
            il.v_en.eq(issue.v_en), il.v_kind.eq(issue.v_kind), il.v_group.eq(issue.v_group),
            il.v_bit.eq(issue.v_bit), il.v_zero.eq(issue.v_zero),
        ]
        with m.If(start):
            m.d.sync += [busy.eq(1), fresh.eq(fresh_now), theta.eq(regs.theta),
                         step_nnz.eq(nnz_now), pending_clear.eq(0)]
        with m.If((regs.clear_state | loader.loaded) & ~start):
            m.d.sync += pending_clear.eq(1)

        for lane in lanes:
            m.d.comb += [
                lane.issue_valid.eq(issue.issue_valid), lane.issue_first.eq(issue.issue_first),
                lane.issue_last.eq(issue.issue_last), lane.issue_addr.eq(issue.issue_addr),
                lane.issue_row.eq(issue.issue_row), lane.value.eq(il.v_data),
                lane.fresh.eq(fresh), lane.theta.eq(theta),
            ]

        # h_t: all lanes deliver a group of N units together
        # (registered here: it gathers the outputs of lanes spread over the whole device)
        h_row = Signal(N * hb, name="h_row")
        h_valid = Signal(name="h_valid")
        h_group = Signal(range(max(hg, 2)), name="h_group")
        h_mask = Signal(N, name="h_mask")
        m.d.sync += [h_row.eq(Cat(lane.h_data for lane in lanes)), h_valid.eq(lanes[0].h_valid),
                     h_mask.eq(Cat(lane.h_nz for lane in lanes)),
                     h_group.eq(lanes[0].h_unit)]
        step_done = h_valid & (h_group == hg - 1)
        m.d.comb += [
            il.h_we.eq(h_valid), il.h_group.eq(h_group), il.h_row.eq(h_row), il.h_mask.eq(h_mask),
            fifo.w_en.eq(h_valid), fifo.w_data.eq(h_row),
            il.done.eq(step_done),
        ]
        with m.If(step_done):
            m.d.sync += busy.eq(0)

        # Status and counters
        m.d.comb += [
            regs.busy.eq(busy | loader.active), regs.cycle_inc.eq(busy),
            regs.protocol_error.eq(il.x_error | loader.error | x_range_err),
            regs.step_inc.eq(step_done), regs.columns_add.eq(step_nnz),
            regs.skipped_add.eq(cfg.columns - step_nnz),
        ]

        # h output: serialise each group, element by element, sign-extended
        ob = Signal(range(max(N, 2)), name="out_bit")
        og = Signal(range(max(hg, 2)), name="out_group")
        word = fifo.r_data.word_select(ob, hb).as_signed()
        m.d.comb += [
            self.m_axis_h_tvalid.eq(fifo.r_rdy),
            self.m_axis_h_tdata.eq(word),
            self.m_axis_h_tlast.eq((og == hg - 1) & (ob == N - 1)),
        ]
        with m.If(self.m_axis_h_tvalid & self.m_axis_h_tready):
            with m.If(ob == N - 1):
                m.d.comb += fifo.r_en.eq(1)
                m.d.sync += [ob.eq(0), og.eq(Mux(og == hg - 1, 0, og + 1))]
            with m.Else():
                m.d.sync += ob.eq(ob + 1)
        return m
