"""Parameter loader: the ``s_axis_w`` stream into the lanes' weight and bias memories."""

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from golden.layout import N_GATES

from . import interfaces
from .fixedpoint import sign_extends
from .interfaces import Geometry

__all__ = ["ParamLoader"]

PHASE_IH, PHASE_HH, PHASE_B = 0, 1, 2


class ParamLoader(wiring.Component):
    """Accepts one signed value per beat in PyTorch order: W_ih row-major (G H x X), W_hh
    row-major (G H x H), b (G H); rows in gate order i, f, g, o (G = 4 gates). Row ``q H + u``
    (gate q, unit u) goes to lane ``u mod N``, local row ``G (u div N) + q``
    (``golden.layout.place``, computed here incrementally); column c of W_hh is column
    ``X + c`` of that lane's memory.

    Protocol: a load is exactly ``G H (X + H + 1)`` beats with ``tlast`` on the last one.
    ``tlast`` earlier (short load) or missing on the last beat (long load) pulses ``error``;
    a long load's extra beats are dropped up to its ``tlast``. Either way the load does not
    complete (``loaded`` does not pulse) and the memories hold a mix of old and new values:
    reload. A beat whose value is not the sign extension of the weight (bias) format pulses
    ``error`` as well and its low bits are written.

    Members
    -------
    enable : beats are accepted only while 1 (no step in flight).
    w : ``In(interfaces.param_stream(data_width))``, the parameter beats.
    active : a load has begun and not ended (steps must not start).
    loaded : pulse, a complete load ended. error : pulse, a protocol error.
    param : ``Out(interfaces.param_write)``, the weight and bias writes with the lane they
        are for (registered: a beat's write leaves the cycle after it is accepted).
    """

    def __init__(self, cfg, data_width):
        self.cfg = cfg
        self.total = N_GATES * cfg.hidden_size * (cfg.columns + 1)
        geo = Geometry(cfg)
        super().__init__({
            "enable": In(1), "w": In(interfaces.param_stream(data_width)),
            "active": Out(1), "loaded": Out(1), "error": Out(1),
            "param": Out(interfaces.param_write(geo)),
        })

    def elaborate(self, platform):
        m = Module()
        cfg = self.cfg
        f = cfg.formats
        N, X, H = cfg.lanes, cfg.input_size, cfg.hidden_size
        wb, bb = f.weight.bits, f.bias.bits

        # Internal state: position in the load
        count = Signal(range(self.total + 1), name="count")
        phase = Signal(range(3), name="phase")
        q = Signal(range(N_GATES), name="gate")
        j = Signal(range(max(cfg.h_groups, 2)), name="unit_group")
        k = Signal(range(max(N, 2)), name="lane")
        c = Signal(range(max(X, H, 2)), name="col")
        dropping = Signal(name="dropping")

        s_valid, s_data, s_last = self.w.valid, self.w.payload.data, self.w.payload.last
        started = Signal(name="started")                     # count != 0, registered
        in_b = Signal(name="in_bias")                        # phase == PHASE_B, registered
        m.d.comb += [self.w.ready.eq(self.enable), self.active.eq(started | dropping)]
        m.d.sync += self.loaded.eq(0)

        # Memory address of the current row: rowbase = (G j + q) * columns (+ X for the
        # recurrent part), kept incrementally so that no multiplier sits in the write path.
        C = cfg.columns
        rowbase = Signal(self.param.w_addr.shape(), name="rowbase")
        local_row = j * N_GATES + q
        # registered flags: the load's last beat, a row's last column (no wide comparison in
        # the accept path)
        count_last = Signal(init=int(self.total == 1), name="count_last")
        c_last = Signal(init=int(X == 1), name="col_last")

        # The position after an accepted beat, from the registered position alone: an
        # accepted beat only enables the registers (it selects nothing but a restart), so
        # that the accept, which depends on the enable and tvalid, stays out of the logic.
        # Row order: row = q H + u, u = j N + k; k fastest, then j, then q.
        n_phase, n_q, n_j, n_k = (Signal.like(s, name=f"next_{s.name}") for s in (phase, q, j, k))
        n_c, n_rowbase = Signal.like(c, name="next_col"), Signal.like(rowbase, name="next_rowbase")
        n_c_last, n_in_b = Signal(name="next_col_last"), Signal(name="next_in_bias")
        # registered flags k == N - 1, j == groups - 1, q == G - 1 (likewise: the next
        # position decodes no counter)
        k_last = Signal(init=int(N == 1), name="lane_last")
        j_last = Signal(init=int(cfg.h_groups == 1), name="unit_group_last")
        q_last = Signal(name="gate_last")
        n_k_last, n_j_last, n_q_last = (Signal(name=f"next_{s.name}")
                                        for s in (k_last, j_last, q_last))
        row_end = in_b | c_last
        m.d.comb += [n_phase.eq(phase), n_q.eq(q), n_j.eq(j), n_k.eq(k), n_rowbase.eq(rowbase),
                     n_c.eq(c + 1), n_in_b.eq(in_b),
                     n_c_last.eq(Mux(phase == PHASE_IH, c == X - 2, c == H - 2)),
                     n_k_last.eq(k_last), n_j_last.eq(j_last), n_q_last.eq(q_last)]
        with m.If(row_end):
            m.d.comb += [n_c.eq(0), n_c_last.eq(Mux(phase == PHASE_IH, X == 1, H == 1)),
                         n_k.eq(k + 1), n_k_last.eq(k == N - 2)]
            with m.If(k_last):
                m.d.comb += [n_k.eq(0), n_k_last.eq(N == 1),
                             n_j.eq(j + 1), n_j_last.eq(j == cfg.h_groups - 2),
                             n_rowbase.eq(rowbase + N_GATES * C)]
                with m.If(j_last):
                    m.d.comb += [n_j.eq(0), n_j_last.eq(cfg.h_groups == 1),
                                 n_q.eq(q + 1), n_q_last.eq(q == N_GATES - 2),
                                 n_rowbase.eq(rowbase - N_GATES * C * (cfg.h_groups - 1) + C)]
                    with m.If(q_last):
                        m.d.comb += [n_q.eq(0), n_q_last.eq(0), n_phase.eq(phase + 1),
                                     n_in_b.eq(phase == PHASE_HH),
                                     n_rowbase.eq(Mux(phase == PHASE_IH, X, 0))]
                        with m.If(phase == PHASE_IH):            # the next row is W_hh's
                            m.d.comb += n_c_last.eq(H == 1)

        accept = Signal(name="accept")
        m.d.comb += accept.eq(s_valid & self.enable & ~dropping)
        # the writes leave registered (they fan out to every lane; the accept reaches only
        # the two valid flags)
        m.d.sync += [
            self.param.w_addr.eq(rowbase + c),
            self.param.w_data.eq(s_data[:wb]), self.param.b_addr.eq(local_row),
            self.param.b_data.eq(s_data[:bb]), self.param.lane.eq(k),
            self.param.w_valid.eq(accept & ~in_b), self.param.b_valid.eq(accept & in_b),
        ]

        with m.If(s_valid & self.enable & dropping & s_last):
            m.d.sync += dropping.eq(0)
        with m.If(accept):
            fits = Mux(in_b, sign_extends(s_data, bb), sign_extends(s_data, wb))
            with m.If(~fits):
                m.d.comb += self.error.eq(1)
            with m.If(count_last | s_last):
                # the load ends: complete (tlast on its last beat), short (tlast early) or
                # long (no tlast on the last beat: drop up to tlast)
                m.d.sync += [count.eq(0), started.eq(0), phase.eq(PHASE_IH), in_b.eq(0),
                             q.eq(0), j.eq(0), k.eq(0), c.eq(0), rowbase.eq(0),
                             count_last.eq(self.total == 1), c_last.eq(X == 1),
                             k_last.eq(N == 1), j_last.eq(cfg.h_groups == 1), q_last.eq(0)]
                with m.If(count_last & s_last):
                    m.d.sync += self.loaded.eq(1)
                with m.Else():
                    m.d.comb += self.error.eq(1)
                with m.If(count_last & ~s_last):
                    m.d.sync += dropping.eq(1)
            with m.Else():
                m.d.sync += [count.eq(count + 1), started.eq(1),
                             count_last.eq(count == self.total - 2),
                             phase.eq(n_phase), in_b.eq(n_in_b), q.eq(n_q), j.eq(n_j),
                             k.eq(n_k), c.eq(n_c), c_last.eq(n_c_last),
                             k_last.eq(n_k_last), j_last.eq(n_j_last), q_last.eq(n_q_last),
                             rowbase.eq(n_rowbase)]
        return m

