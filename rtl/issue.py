"""Column issue: walks the nonzero-index lists once per gate row, one column per cycle."""

from amaranth.hdl import Const, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2

from golden.layout import N_GATES

from .index_list import entry_layout

__all__ = ["ColumnIssue"]


def _lowest_set_bit(v, width):
    """Index of the lowest set bit of ``v`` (0 when ``v`` is 0), as a balanced tree: log2
    levels of 2:1 multiplexers with OR-reduced halves, not a chain as long as the mask."""
    bits = ceil_log2(max(width, 2))

    def tree(lo, n):                              # (any bit set, index) of v[lo : lo + n]
        if n == 1:
            return v[lo], Const(0, bits)
        half = 1 << (ceil_log2(n) - 1)
        any_lo, idx_lo = tree(lo, half)
        any_hi, idx_hi = tree(lo + half, n - half)
        return any_lo | any_hi, Mux(any_lo, idx_lo, idx_hi + half)

    if width == 1:
        return Const(0, bits)
    any_set, idx = tree(0, width)
    return Mux(any_set, idx[:bits], 0)


class ColumnIssue(wiring.Component):
    """For each of the ``R = 4H/N`` local rows, issues the step's columns back to back: the
    x entries then the h entries (sparse: the nonzero-index lists; dense: every group with
    every valid bit). The mask of the current entry is consumed lowest bit first, so a column
    costs exactly one cycle and a zero none. A step without any nonzero column issues one
    null column per row (value forced to 0) so that each row still adds its bias. Each row
    starts after ``pad`` idle cycles (the top sets it so that a row lasts at least
    ``min_columns`` cycles, the time the shared cell units take to drain a row's results).

    Timing: the list entry after the current one is prefetched into a register, and the
    first two entries of the step are kept to restart each row, so the one-column-per-cycle
    loop only sees registers (the list reads sit in the prefetch path). A step spends two
    cycles loading entries 0 and 1; the outputs are registered (``ISSUE_LATENCY`` = 3 cycles
    in all before the first column reaches the lanes).

    Members
    -------
    start, sparse, fresh, n_x, n_h, pad : latched at ``start``.
    x_index / x_entry, h_index / h_entry : list reads (combinational, from ``IndexList``).
    issue_valid, issue_first, issue_last, issue_addr, issue_row : the column, to the lanes.
    v_en, v_kind, v_group, v_bit, v_zero : the element read, to ``IndexList``.
    running : a step is issuing; last : pulse with the step's final column.
    """

    #: cycles of a step spent before its first column is on the outputs
    ISSUE_LATENCY = 3

    def __init__(self, cfg):
        self.cfg = cfg
        self.xg, self.hg = cfg.x_groups, cfg.h_groups
        depth = cfg.rows_per_lane * cfg.columns
        self.addr_width = ceil_log2(max(depth, 2))
        self.row_width = ceil_log2(max(cfg.rows_per_lane, N_GATES))
        self.gwidth = ceil_log2(max(self.xg, self.hg, 2))
        N = cfg.lanes
        super().__init__({
            "start": In(1), "sparse": In(1), "fresh": In(1),
            "n_x": In(range(self.xg + 1)), "n_h": In(range(self.hg + 1)),
            "pad": In(range(cfg.min_columns + 1)),
            "x_index": Out(range(max(self.xg, 1))), "x_entry": In(entry_layout(cfg, self.xg)),
            "h_index": Out(range(max(self.hg, 1))), "h_entry": In(entry_layout(cfg, self.hg)),
            "issue_valid": Out(1), "issue_first": Out(1), "issue_last": Out(1),
            "issue_addr": Out(self.addr_width), "issue_row": Out(self.row_width),
            "v_en": Out(1), "v_kind": Out(1), "v_group": Out(self.gwidth),
            "v_bit": Out(range(max(N, 2))), "v_zero": Out(1),
            "running": Out(1), "last": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        cfg = self.cfg
        N, X, R, C = cfg.lanes, cfg.input_size, cfg.rows_per_lane, cfg.columns
        xg, hg = self.xg, self.hg
        gw = self.gwidth

        # Step state, latched at start
        sparse, fresh, null = Signal(name="sparse_r"), Signal(name="fresh_r"), Signal(name="null")
        n_x = Signal(range(xg + 1), name="n_x_r")
        n_last = Signal(range(xg + hg + 1), name="n_last")      # index of the last entry
        row = Signal(range(max(R, 2)), name="row")
        rowbase = Signal(self.addr_width, name="rowbase")
        row_first = Signal(name="row_first")
        phase = Signal(2, name="phase")                         # 0 idle, 1/2 load, 3 run
        pad = Signal.like(self.pad, name="pad_r")
        wait = Signal.like(self.pad, name="wait")               # idle cycles before a row

        # List pointer of the next entry to fetch: entry index, x / h list index, x side
        rp = Signal(range(xg + hg + 2), name="rp")
        xp = Signal(range(xg + 1), name="xp")
        hp = Signal(range(hg + 1), name="hp")
        rp_x = Signal(name="rp_x")
        # pointer after entries 0 and 1 (where each row's fetching resumes)
        rp2, xp2, hp2, rp2_x = (Signal.like(rp, name="rp2"), Signal.like(xp, name="xp2"),
                                Signal.like(hp, name="hp2"), Signal(name="rp2_x"))

        def entry(name):
            return {"group": Signal(gw, name=f"{name}_group"), "mask": Signal(N, name=f"{name}_mask"),
                    "x": Signal(name=f"{name}_x"), "last": Signal(name=f"{name}_last"),
                    "base": Signal(range(C + 1), name=f"{name}_base")}
        cur, nxt, e0, e1 = entry("cur"), entry("nxt"), entry("e0"), entry("e1")

        def copy(dst, src):
            return [dst[k].eq(src[k]) for k in dst]

        # The entry at the pointer (list read, or synthesised in dense mode)
        full = (1 << N) - 1
        tail = ((1 << (X % N)) - 1) if X % N else full
        m.d.comb += [self.x_index.eq(xp), self.h_index.eq(hp)]
        f_group = Mux(sparse, Mux(rp_x, self.x_entry.group, self.h_entry.group),
                      Mux(rp_x, xp, hp))
        f_mask = Mux(sparse, Mux(rp_x, self.x_entry.mask, self.h_entry.mask),
                     Mux(rp_x & (xp == xg - 1), tail, full))
        fetched = {
            "group": Mux(null, 0, f_group), "mask": Mux(null, 1, f_mask),
            "x": rp_x | null, "last": null | (rp == n_last),
            "base": Mux(null, 0, Mux(rp_x, 0, X) + f_group * N),
        }

        def advance():
            return [rp.eq(rp + 1),
                    rp_x.eq(rp_x & (xp + 1 != n_x)),
                    xp.eq(Mux(rp_x & (xp + 1 != n_x), xp + 1, xp)),
                    hp.eq(Mux(rp_x, hp, hp + 1))]

        # Column of the current entry
        bit = _lowest_set_bit(cur["mask"], N)
        rest = cur["mask"] & (cur["mask"] - 1)
        entry_done = rest == 0
        row_done = entry_done & cur["last"]

        m.d.sync += [self.issue_valid.eq(0), self.v_en.eq(0), self.last.eq(0)]
        m.d.comb += self.running.eq(phase != 0)

        with m.If(self.start):
            n_tot = Mux(self.sparse, self.n_x + Mux(self.fresh, 0, self.n_h), xg + hg)
            n_x0 = Mux(self.sparse, self.n_x, xg)
            m.d.sync += [
                phase.eq(1), sparse.eq(self.sparse), fresh.eq(self.fresh),
                n_x.eq(n_x0), n_last.eq(n_tot - 1), null.eq(n_tot == 0),
                row.eq(0), rowbase.eq(0), row_first.eq(1),
                rp.eq(0), xp.eq(0), hp.eq(0), rp_x.eq(n_x0 != 0),
                pad.eq(self.pad), wait.eq(self.pad),
            ]
        with m.Elif(phase == 1):
            m.d.sync += copy(cur, fetched) + copy(e0, fetched) + advance() + [phase.eq(2)]
        with m.Elif(phase == 2):
            m.d.sync += copy(nxt, fetched) + copy(e1, fetched) + advance() + [phase.eq(3)]
            m.d.sync += [rp2.eq(rp + 1), rp2_x.eq(rp_x & (xp + 1 != n_x)),
                         xp2.eq(Mux(rp_x & (xp + 1 != n_x), xp + 1, xp)),
                         hp2.eq(Mux(rp_x, hp, hp + 1))]
        with m.Elif((phase == 3) & (wait != 0)):
            m.d.sync += wait.eq(wait - 1)
        with m.Elif(phase == 3):
            m.d.sync += [
                self.issue_valid.eq(1), self.issue_first.eq(row_first),
                self.issue_last.eq(row_done), self.issue_row.eq(row),
                self.issue_addr.eq(rowbase + cur["base"] + bit),
                self.v_en.eq(1), self.v_kind.eq(~cur["x"]), self.v_group.eq(cur["group"]),
                self.v_bit.eq(bit), self.v_zero.eq(null | (~cur["x"] & fresh)),
                self.last.eq(row_done & (row == R - 1)),
                row_first.eq(0),
            ]
            with m.If(row_done):
                m.d.sync += copy(cur, e0) + copy(nxt, e1) + [
                    rp.eq(rp2), xp.eq(xp2), hp.eq(hp2), rp_x.eq(rp2_x),
                    row.eq(row + 1), rowbase.eq(rowbase + C), row_first.eq(1), wait.eq(pad)]
                with m.If(row == R - 1):
                    m.d.sync += phase.eq(0)
            with m.Elif(entry_done):
                m.d.sync += copy(cur, nxt) + copy(nxt, fetched) + advance()
            with m.Else():
                m.d.sync += cur["mask"].eq(rest)
        return m
