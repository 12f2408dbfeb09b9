"""Column issue: walks the nonzero-index lists once per gate row, one column per cycle."""

from amaranth.hdl import Const, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2

from .index_list import entry_layout

__all__ = ["ColumnIssue"]


def _lowest_set_bit(v, width):
    """Index of the lowest set bit of ``v`` (0 when ``v`` is 0)."""
    idx = Const(0, ceil_log2(max(width, 2)))
    for k in reversed(range(width)):
        idx = Mux(v[k], k, idx)
    return idx


class ColumnIssue(wiring.Component):
    """For each of the ``R = 4H/N`` local rows, issues the step's columns back to back: the
    x entries then the h entries (sparse: the nonzero-index lists; dense: every group with
    every valid bit). The mask of the current entry is consumed lowest bit first, so a column
    costs exactly one cycle and a zero none. A step without any nonzero column issues one
    null column per row (value forced to 0) so that each row still adds its bias.

    Members
    -------
    start, sparse, fresh, n_x, n_h : latched at ``start``; the step runs from the next cycle.
    x_index / x_entry, h_index / h_entry : list reads (combinational, from ``IndexList``).
    issue_valid, issue_first, issue_last, issue_addr, issue_row : the column, to the lanes.
    v_en, v_kind, v_group, v_bit, v_zero : the element read, to ``IndexList``.
    running : a step is issuing; last : pulse with the step's final column.
    """

    def __init__(self, cfg):
        self.cfg = cfg
        self.xg, self.hg = cfg.x_groups, cfg.h_groups
        depth = cfg.rows_per_lane * cfg.columns
        self.addr_width = ceil_log2(max(depth, 2))
        self.row_width = ceil_log2(max(cfg.rows_per_lane, 4))
        self.gwidth = ceil_log2(max(self.xg, self.hg, 2))
        N = cfg.lanes
        super().__init__({
            "start": In(1), "sparse": In(1), "fresh": In(1),
            "n_x": In(range(self.xg + 1)), "n_h": In(range(self.hg + 1)),
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
        N, X, R = cfg.lanes, cfg.input_size, cfg.rows_per_lane
        xg, hg = self.xg, self.hg

        # Internal state
        sparse, fresh = Signal(name="sparse_r"), Signal(name="fresh_r")
        n_x = Signal(range(xg + 1), name="n_x_r")
        n_tot = Signal(range(xg + hg + 1), name="n_tot")
        row = Signal(range(max(R, 2)), name="row")
        rowbase = Signal(self.addr_width, name="rowbase")
        ei = Signal(range(xg + hg + 1), name="entry")
        rem = Signal(N, name="rem")
        loaded = Signal(name="loaded")
        row_first = Signal(name="row_first")

        with m.If(self.start):
            m.d.sync += [
                self.running.eq(1), sparse.eq(self.sparse), fresh.eq(self.fresh),
                n_x.eq(Mux(self.sparse, self.n_x, xg)),
                n_tot.eq(Mux(self.sparse, self.n_x + Mux(self.fresh, 0, self.n_h), xg + hg)),
                row.eq(0), rowbase.eq(0), ei.eq(0), loaded.eq(0), row_first.eq(1),
            ]

        # Current entry: from the lists (sparse) or synthesised (dense)
        is_x = ei < n_x
        hi = ei - n_x
        m.d.comb += [self.x_index.eq(ei), self.h_index.eq(hi)]
        full = (1 << N) - 1
        tail = ((1 << (X % N)) - 1) if X % N else full
        dense_group = Mux(is_x, ei, hi)
        dense_mask = Mux(is_x & (ei == xg - 1), tail, full)
        group = Mux(sparse, Mux(is_x, self.x_entry.group, self.h_entry.group), dense_group)
        entry_mask = Mux(sparse, Mux(is_x, self.x_entry.mask, self.h_entry.mask), dense_mask)
        null = n_tot == 0

        msk = Mux(loaded, rem, entry_mask)
        bit = _lowest_set_bit(msk, N)
        rest = msk & (msk - 1)
        entry_done = null | (rest == 0)
        last_entry = null | (ei == n_tot - 1)
        col = Mux(is_x, group * N + bit, X + group * N + bit)

        # Issue
        m.d.comb += [
            self.issue_valid.eq(self.running), self.issue_first.eq(row_first),
            self.issue_last.eq(entry_done & last_entry),
            self.issue_addr.eq(rowbase + Mux(null, 0, col)), self.issue_row.eq(row),
            self.v_en.eq(self.running), self.v_kind.eq(~is_x), self.v_group.eq(group),
            self.v_bit.eq(bit), self.v_zero.eq(null | (~is_x & fresh)),
            self.last.eq(self.running & entry_done & last_entry & (row == R - 1)),
        ]

        # Advance
        with m.If(self.running):
            m.d.sync += row_first.eq(0)
            with m.If(entry_done):
                m.d.sync += loaded.eq(0)
                with m.If(last_entry):
                    m.d.sync += [ei.eq(0), row.eq(row + 1), rowbase.eq(rowbase + cfg.columns),
                                 row_first.eq(1)]
                    with m.If(row == R - 1):
                        m.d.sync += self.running.eq(0)
                with m.Else():
                    m.d.sync += ei.eq(ei + 1)
            with m.Else():
                m.d.sync += [rem.eq(rest), loaded.eq(1)]
        return m
