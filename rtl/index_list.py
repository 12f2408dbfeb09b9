"""Nonzero-index unit ("mask registers"): the double-buffered lists of nonzero v_t elements."""

from amaranth.hdl import Array, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2

__all__ = ["IndexList", "entry_layout"]


def entry_layout(cfg, groups):
    """A list entry: a group of N consecutive elements, the mask of its nonzero ones and
    their number (so that the column issue never counts the bits of a wide mask)."""
    return data.StructLayout({"group": ceil_log2(max(groups, 2)), "mask": cfg.lanes,
                              "count": range(cfg.lanes + 1)})


class IndexList(wiring.Component):
    """Builds, on the fly, the list of nonzero elements of v_t = [x_t ; h_{t-1}].

    Elements are kept in groups of N (the lane count): x group g is x[gN .. gN+N-1], h group
    j is h[jN .. jN+N-1] (the h_t values of one unit group, gathered from the cell units). A list entry is a
    group with its N-bit nonzero mask; groups without a nonzero element are never listed, so
    a zero costs no cycle. An x group is appended when its last element arrives; an h group
    when the top writes it. Both sides are double-buffered: x has two slots (one filling, one
    read by the step), h has two buffers (step t reads h_{t-1} while it writes h_t).

    Members
    -------
    x_valid, x_ready, x_data, x_last, x_user : x elements (input format), one per beat.
    x_error : pulse, a vector whose ``x_last`` is not on element X-1 (the vector is dropped;
        a long one up to its ``x_last``).
    start, done : a step starts (h buffers swap) / ends (the read x slot is freed).
    rd_x_full, rd_x_fresh, rd_x_entries, rd_x_nnz : the x slot the next step reads.
    next_h_entries, next_h_nnz : the h buffer the next step reads (being written now).
    x_index / x_entry, h_index / h_entry : combinational list reads for the running step.
    v_en, v_kind, v_group, v_bit, v_zero : element read, cycle 0 (kind 1 = h).
    v_data : the element in the vector format, cycle 3 (0 when ``v_zero``; registered
        here, then broadcast to the lanes).
    h_we, h_group, h_row, h_mask, h_count : a group of h_t (N state-format words), its
        nonzero mask (bit k: word k is not 0; computed by the cell units) and the number of
        bits set in the mask (counted by the top as the group is gathered).
    """

    def __init__(self, cfg):
        self.cfg = cfg
        f = cfg.formats
        N = cfg.lanes
        self.xg, self.hg = cfg.x_groups, cfg.h_groups
        self.x_entry_layout = entry_layout(cfg, self.xg)
        self.h_entry_layout = entry_layout(cfg, self.hg)
        self.gwidth = ceil_log2(max(self.xg, self.hg, 2))
        super().__init__({
            "x_valid": In(1), "x_ready": Out(1), "x_data": In(signed(f.input.bits)),
            "x_last": In(1), "x_user": In(1), "x_error": Out(1),
            "start": In(1), "done": In(1),
            "rd_x_full": Out(1), "rd_x_fresh": Out(1),
            "rd_x_entries": Out(range(self.xg + 1)), "rd_x_nnz": Out(range(cfg.input_size + 1)),
            "next_h_entries": Out(range(self.hg + 1)),
            "next_h_nnz": Out(range(cfg.hidden_size + 1)),
            "x_index": In(range(max(self.xg, 1))), "x_entry": Out(self.x_entry_layout),
            "h_index": In(range(max(self.hg, 1))), "h_entry": Out(self.h_entry_layout),
            "v_en": In(1), "v_kind": In(1), "v_group": In(self.gwidth),
            "v_bit": In(range(max(N, 2))), "v_zero": In(1),
            "v_data": Out(signed(cfg.vector.bits)),
            "h_we": In(1), "h_group": In(range(max(self.hg, 2))),
            "h_row": In(unsigned(N * f.state.bits)), "h_mask": In(N),
            "h_count": In(range(N + 1)),
        })

    def elaborate(self, platform):
        m = Module()
        cfg = self.cfg
        f = cfg.formats
        N, X = cfg.lanes, cfg.input_size
        xg, hg = self.xg, self.hg
        xp = xg * N                               # padded x slot size
        xb, hb, vf = f.input.bits, f.state.bits, cfg.vector.frac

        # Internal state: memories
        xmem = Memory(shape=signed(xb), depth=2 * xp, init=[])
        hmem = Memory(shape=unsigned(N * hb), depth=2 * hg, init=[])
        xlist = Memory(shape=self.x_entry_layout, depth=2 * xg, init=[])
        hlist = Memory(shape=self.h_entry_layout, depth=2 * hg, init=[])
        m.submodules.xmem, m.submodules.hmem = xmem, hmem
        m.submodules.xlist, m.submodules.hlist = xlist, hlist
        xmem_w, xmem_r = xmem.write_port(), xmem.read_port()
        hmem_w, hmem_r = hmem.write_port(), hmem.read_port()
        xlist_w, xlist_r = xlist.write_port(), xlist.read_port(domain="comb")
        hlist_w, hlist_r = hlist.write_port(), hlist.read_port(domain="comb")

        # Internal state: slots and buffers
        xf = Signal(name="xf")                    # x slot being filled
        xr = Signal(name="xr")                    # x slot read by the next / current step
        full = Array(Signal(name=f"full{s}") for s in range(2))
        fresh = Array(Signal(name=f"fresh{s}") for s in range(2))
        nx = Array(Signal(range(xg + 1), name=f"nx{s}") for s in range(2))
        xnnz = Array(Signal(range(X + 1), name=f"xnnz{s}") for s in range(2))
        hr = Signal(name="hr")                    # h buffer read by the current step
        nh = Array(Signal(range(hg + 1), name=f"nh{s}") for s in range(2))
        hnnz = Array(Signal(range(cfg.hidden_size + 1), name=f"hnnz{s}") for s in range(2))

        m.d.comb += [
            self.rd_x_full.eq(full[xr]), self.rd_x_fresh.eq(fresh[xr]),
            self.rd_x_entries.eq(nx[xr]), self.rd_x_nnz.eq(xnnz[xr]),
            self.next_h_entries.eq(nh[~hr]), self.next_h_nnz.eq(hnnz[~hr]),
        ]

        # x receiver: element counters, group mask, protocol check
        e = Signal(range(max(X, 2)), name="x_elem")
        g = Signal(range(max(xg, 2)), name="x_group")
        b = Signal(range(max(N, 2)), name="x_bit")
        mask = Signal(N, name="x_mask")
        count = Signal(range(N + 1), name="x_count")
        dropping = Signal(name="x_dropping")
        m.d.comb += self.x_ready.eq(~full[xf] | dropping)
        nz = self.x_data != 0
        mask_next = mask | (nz << b)[:N]
        count_next = count + nz
        group_end = (b == N - 1) | (e == X - 1)

        def restart():
            return [e.eq(0), g.eq(0), b.eq(0), mask.eq(0), count.eq(0)]

        with m.If(self.x_valid & self.x_ready):
            with m.If(dropping):
                with m.If(self.x_last):
                    m.d.sync += dropping.eq(0)
            with m.Else():
                m.d.comb += [xmem_w.en.eq(1), xmem_w.addr.eq(xf * xp + e),
                             xmem_w.data.eq(self.x_data)]
                m.d.sync += xnnz[xf].eq(xnnz[xf] + nz)
                with m.If(e == 0):
                    m.d.sync += fresh[xf].eq(self.x_user)
                with m.If(group_end):
                    m.d.sync += [mask.eq(0), count.eq(0), b.eq(0), g.eq(g + 1)]
                    with m.If(mask_next != 0):
                        m.d.comb += [xlist_w.en.eq(1), xlist_w.addr.eq(xf * xg + nx[xf]),
                                     xlist_w.data.group.eq(g), xlist_w.data.mask.eq(mask_next),
                                     xlist_w.data.count.eq(count_next)]
                        m.d.sync += nx[xf].eq(nx[xf] + 1)
                with m.Else():
                    m.d.sync += [mask.eq(mask_next), count.eq(count_next), b.eq(b + 1)]
                m.d.sync += e.eq(e + 1)
                with m.If((e == X - 1) & self.x_last):
                    m.d.sync += [full[xf].eq(1), xf.eq(~xf)] + restart()
                with m.Elif((e == X - 1) | self.x_last):
                    # wrong length: drop the vector (a long one up to its x_last)
                    m.d.comb += self.x_error.eq(1)
                    m.d.sync += [nx[xf].eq(0), xnnz[xf].eq(0)] + restart()
                    m.d.sync += dropping.eq(~self.x_last)

        # Step boundaries
        with m.If(self.start):
            m.d.sync += [hr.eq(~hr), nh[hr].eq(0), hnnz[hr].eq(0)]
        with m.If(self.done):
            m.d.sync += [full[xr].eq(0), nx[xr].eq(0), xnnz[xr].eq(0), xr.eq(~xr)]

        # h writer: one group of N lanes per write, into the buffer not being read
        hmask = self.h_mask
        m.d.comb += [hmem_w.en.eq(self.h_we), hmem_w.addr.eq((~hr) * hg + self.h_group),
                     hmem_w.data.eq(self.h_row)]
        with m.If(self.h_we & (hmask != 0)):
            m.d.comb += [hlist_w.en.eq(1), hlist_w.addr.eq((~hr) * hg + nh[~hr]),
                         hlist_w.data.group.eq(self.h_group), hlist_w.data.mask.eq(hmask),
                         hlist_w.data.count.eq(self.h_count)]
            for b in range(2):
                with m.If(hr != b):
                    m.d.sync += [nh[b].eq(nh[b] + 1), hnnz[b].eq(hnnz[b] + self.h_count)]

        # List reads for the running step (combinational)
        m.d.comb += [xlist_r.addr.eq(xr * xg + self.x_index), self.x_entry.eq(xlist_r.data),
                     hlist_r.addr.eq(hr * hg + self.h_index), self.h_entry.eq(hlist_r.data)]

        # Element read: cycle 0 address, cycle 1 memory data
        m.d.comb += [xmem_r.addr.eq(xr * xp + self.v_group * N + self.v_bit),
                     hmem_r.addr.eq(hr * hg + self.v_group),
                     xmem_r.en.eq(self.v_en), hmem_r.en.eq(self.v_en)]
        kind1, zero1 = Signal(name="kind1"), Signal(name="zero1")
        bit1 = Signal(range(max(N, 2)), name="bit1")
        m.d.sync += [kind1.eq(self.v_kind), zero1.eq(self.v_zero), bit1.eq(self.v_bit)]
        # cycle 2: the memory words registered as read (block-RAM outputs go to flip-flops)
        x2, h2 = Signal.like(xmem_r.data, name="x2"), Signal.like(hmem_r.data, name="h2")
        kind2, zero2 = Signal(name="kind2"), Signal(name="zero2")
        bit2 = Signal(range(max(N, 2)), name="bit2")
        m.d.sync += [x2.eq(xmem_r.data), h2.eq(hmem_r.data), kind2.eq(kind1), zero2.eq(zero1),
                     bit2.eq(bit1)]
        # cycle 3: the element selected, aligned to the vector format, registered
        xval = x2 << (vf - f.input.frac)
        hval = h2.word_select(bit2, hb).as_signed() << (vf - f.state.frac)
        m.d.sync += self.v_data.eq(Mux(zero2, 0, Mux(kind2, hval, xval)))
        return m
