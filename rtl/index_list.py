"""Nonzero-index unit ("mask registers"): the double-buffered lists of nonzero v_t elements."""

from types import SimpleNamespace

from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal, unsigned
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2

from . import interfaces
from .interfaces import Geometry, entry_layout
from .primitives import WeightBank

__all__ = ["IndexList"]


class IndexList(wiring.Component):
    """Builds, on the fly, the list of nonzero elements of v_t = [x_t ; h_{t-1}].

    Elements are kept in groups of N (the lane count): x group g is x[gN .. gN+N-1], h group
    j is h[jN .. jN+N-1] (the h_t values of one unit group, gathered from the cell units). A
    list entry is a group with its N-bit nonzero mask and what the column issue needs of it
    (``interfaces.entry_layout``); groups without a nonzero element are never listed, so a
    zero costs no cycle. An x group is appended when its last element arrives; an h group
    when the top writes it. Both sides are double-buffered: x has two slots (one filling, one
    read by the step), h has two buffers (step t reads h_{t-1} while it writes h_t).

    Parameters
    ----------
    cfg : golden ``Config``.
    target : ``"generic"`` or ``"ecp5"`` (the x buffer as a ``DP16KD`` with its output
        register; ``rtl.primitives``). Same latency.

    Members
    -------
    x : ``In(interfaces.x_stream)``, x elements (input format), one per beat.
    x_error : pulse, a vector whose ``last`` is not on element X-1 (the vector is dropped;
        a long one up to its ``last``).
    start, done : a step starts (h buffers swap) / ends (the read x slot is freed).
    rd_x_full, rd_x_fresh, rd_x_entries, rd_x_nnz : the x slot the next step reads.
    next_h_entries, next_h_nnz : the h buffer the next step reads (being written now).
    x_list, h_list : ``In(interfaces.list_read)``, combinational list reads for the running
        step.
    element : ``In(interfaces.element)``, element read, cycle 0 (kind 1 = h).
    v_data : the element in the vector format, cycle 3 (0 when ``element.zero``; registered
        here, then broadcast to the lanes).
    h_write : ``In(interfaces.h_write)``, a group of h_t (N state-format words), its
        nonzero mask (bit k: word k is not 0; computed by the cell units) and the number of
        bits set in the mask (counted by the top as the group is gathered); registered
        here and written the cycle after (``next_h_entries`` and ``next_h_nnz`` count it
        from then on).
    """

    def __init__(self, cfg, target="generic"):
        self.cfg = cfg
        self.target = target
        self.xg, self.hg = cfg.x_groups, cfg.h_groups
        self.x_entry_layout = entry_layout(cfg, self.xg)
        self.h_entry_layout = entry_layout(cfg, self.hg)
        geo = Geometry(cfg)
        super().__init__({
            "x": In(interfaces.x_stream(geo)), "x_error": Out(1),
            "start": In(1), "done": In(1),
            "rd_x_full": Out(1), "rd_x_fresh": Out(1),
            "rd_x_entries": Out(range(self.xg + 1)), "rd_x_nnz": Out(range(cfg.input_size + 1)),
            "next_h_entries": Out(range(self.hg + 1)),
            "next_h_nnz": Out(range(cfg.hidden_size + 1)),
            "x_list": In(interfaces.list_read(cfg, self.xg)),
            "h_list": In(interfaces.list_read(cfg, self.hg)),
            "element": In(interfaces.element(geo)), "v_data": Out(geo.vector_shape),
            "h_write": In(interfaces.h_write(geo)),
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
        # x elements: read in two cycles (read register, output register: on ecp5 a DP16KD
        # with OUTREG, so no path starts at a block RAM's slow unregistered output)
        xtarget = self.target if xb <= 18 else "generic"
        m.submodules.xmem = xmem = WeightBank(xb, 2 * xp, target=xtarget)
        hmem = Memory(shape=unsigned(N * hb), depth=2 * hg, init=[])
        xlist = Memory(shape=self.x_entry_layout, depth=2 * xg, init=[])
        hlist = Memory(shape=self.h_entry_layout, depth=2 * hg, init=[])
        m.submodules.hmem = hmem
        m.submodules.xlist, m.submodules.hlist = xlist, hlist
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
        # the vector's nonzero elements, list entries and tuser so far; committed to the
        # slot a cycle after its last element (the slot registers change only then and at a
        # step's end, so the accept path drives plain counters)
        v_nnz = Signal(range(X + 1), name="x_nnz")
        v_entries = Signal(range(xg + 1), name="x_entries")
        v_fresh = Signal(name="x_fresh")
        dropping = Signal(name="x_dropping")
        cm_valid, cm_slot, cm_fresh = (Signal(name="x_commit"), Signal(name="x_commit_slot"),
                                       Signal(name="x_commit_fresh"))
        cm_entries = Signal.like(v_entries, name="x_commit_entries")
        cm_nnz = Signal.like(v_nnz, name="x_commit_nnz")
        m.d.sync += cm_valid.eq(0)
        x = self.x.payload
        # tready is a register: the value ~full[xf] | dropping will have next cycle, from
        # the next values of the slot flags, xf and dropping (xf_n, drop_n below)
        x_ready = Signal(init=1, name="x_ready")
        xf_n, drop_n = Signal(name="xf_next"), Signal(name="x_dropping_next")
        m.d.comb += [self.x.ready.eq(x_ready), xf_n.eq(xf), drop_n.eq(dropping)]
        m.d.sync += [xf.eq(xf_n), dropping.eq(drop_n)]
        nz = x.nz
        # the mask shifts right, each element entering at the top: after a whole group its
        # element 0 is at bit 0; the short last group (X mod N elements) is aligned by a
        # constant shift
        shifted = Cat(mask[1:], nz)
        tail_n = X % N
        # registered flags: e == X - 1, b == N - 1, count != 0 (the accept path compares
        # nothing wide)
        last_elem = Signal(init=int(X == 1), name="x_last_elem")
        last_bit = Signal(init=int(N == 1), name="x_last_bit")
        any_nz = Signal(name="x_any_nz")
        mask_next = Mux(last_elem, shifted >> (N - tail_n), shifted) if tail_n else shifted
        count_next = count + nz
        group_end = last_bit | last_elem
        # the list entry is written one cycle after the group's last element (registered;
        # the slot is marked full in that same cycle, so a step, which starts the cycle
        # after, reads the list and the elements after they are written)
        xl_we = Signal(name="xl_we")
        xl_addr = Signal.like(xlist_w.addr, name="xl_addr")
        xl_data = Signal(self.x_entry_layout, name="xl_data")
        m.d.sync += xl_we.eq(0)
        m.d.comb += [xlist_w.en.eq(xl_we), xlist_w.addr.eq(xl_addr), xlist_w.data.eq(xl_data)]
        # likewise the element
        xw_en = Signal(name="xw_en")
        xw_addr = Signal.like(xmem.w_addr, name="xw_addr")
        xw_data = Signal.like(xmem.w_data, name="xw_data")
        m.d.sync += xw_en.eq(0)
        m.d.comb += [xmem.w_en.eq(xw_en), xmem.w_addr.eq(xw_addr), xmem.w_data.eq(xw_data)]

        def restart():
            return [e.eq(0), g.eq(0), b.eq(0), mask.eq(0), count.eq(0), v_nnz.eq(0),
                    v_entries.eq(0), last_elem.eq(X == 1), last_bit.eq(N == 1), any_nz.eq(0)]

        with m.If(self.x.valid & self.x.ready):
            with m.If(dropping):
                with m.If(x.last):
                    m.d.comb += drop_n.eq(0)
            with m.Else():
                m.d.sync += [xw_en.eq(1), xw_addr.eq(xf * xp + e), xw_data.eq(x.data)]
                m.d.sync += v_nnz.eq(v_nnz + nz)
                with m.If(e == 0):
                    m.d.sync += v_fresh.eq(x.user)
                listed = group_end & (any_nz | nz)
                with m.If(group_end):
                    m.d.sync += [mask.eq(0), count.eq(0), b.eq(0), g.eq(g + 1),
                                 last_bit.eq(N == 1), any_nz.eq(0)]
                    with m.If(any_nz | nz):
                        m.d.sync += [xl_we.eq(1), xl_addr.eq(xf * xg + v_entries),
                                     xl_data.group.eq(g), xl_data.mask.eq(mask_next),
                                     xl_data.cm1.eq(count + nz - 1),
                                     xl_data.single.eq(count_next == 1),
                                     xl_data.base.eq(g * N)]
                        m.d.sync += v_entries.eq(v_entries + 1)
                with m.Else():
                    m.d.sync += [mask.eq(shifted), count.eq(count_next), b.eq(b + 1),
                                 last_bit.eq(b == N - 2), any_nz.eq(any_nz | nz)]
                m.d.sync += [e.eq(e + 1), last_elem.eq(e == X - 2)]
                with m.If(last_elem & x.last):
                    m.d.comb += xf_n.eq(~xf)
                    m.d.sync += [cm_valid.eq(1), cm_slot.eq(xf),
                                 cm_entries.eq(v_entries + listed), cm_nnz.eq(v_nnz + nz),
                                 cm_fresh.eq(x.user if X == 1 else v_fresh)] + restart()
                with m.Elif(last_elem | x.last):
                    # wrong length: drop the vector (a long one up to its x_last)
                    m.d.comb += self.x_error.eq(1)
                    m.d.sync += restart()
                    m.d.comb += drop_n.eq(~x.last)

        # A complete vector is committed to its slot a cycle after its last element (the
        # slot registers are written from registers, not from the accept logic); xf moves on
        # at once, and the other slot's registers are the ones that decide tready
        with m.If(cm_valid):
            m.d.sync += [full[cm_slot].eq(1), nx[cm_slot].eq(cm_entries),
                         xnnz[cm_slot].eq(cm_nnz), fresh[cm_slot].eq(cm_fresh)]

        # Step boundaries
        with m.If(self.start):
            m.d.sync += [hr.eq(~hr), nh[hr].eq(0), hnnz[hr].eq(0)]
        with m.If(self.done):
            m.d.sync += [full[xr].eq(0), xr.eq(~xr)]
        # the slot flags' next values, as the two blocks above set them
        full_n = [(full[k] | (cm_valid & (cm_slot == k))) & ~(self.done & (xr == k))
                  for k in range(2)]
        m.d.sync += x_ready.eq(~Mux(xf_n, full_n[1], full_n[0]) | drop_n)

        # h writer: one group of N lanes per write, into the buffer not being read. The
        # group is registered here first (it comes from the gather register beside the cell
        # units): it is written a cycle after the top hands it over, which is still before
        # the next step can start (two cycles after the step's last group)
        hw = SimpleNamespace(**{k: Signal.like(getattr(self.h_write, k), name=f"hw_{k}")
                                for k in ("en", "group", "row", "count")})
        m.d.sync += [v.eq(getattr(self.h_write, k)) for k, v in vars(hw).items()]
        hw_listed = Signal(name="hw_listed")                # a set bit: the group is listed
        m.d.sync += hw_listed.eq(self.h_write.en & (self.h_write.count != 0))
        # the list entry's derived fields, computed as the group is registered
        hw_entry = Signal(self.h_entry_layout, name="hw_entry")
        m.d.sync += [hw_entry.group.eq(self.h_write.group), hw_entry.mask.eq(self.h_write.mask),
                     hw_entry.cm1.eq(self.h_write.count - 1),
                     hw_entry.single.eq(self.h_write.count == 1),
                     hw_entry.base.eq(X + self.h_write.group * N)]
        m.d.comb += [hmem_w.en.eq(hw.en), hmem_w.addr.eq((~hr) * hg + hw.group),
                     hmem_w.data.eq(hw.row)]
        with m.If(hw_listed):
            m.d.comb += [hlist_w.en.eq(1), hlist_w.addr.eq((~hr) * hg + nh[~hr]),
                         hlist_w.data.eq(hw_entry)]
            for b in range(2):
                with m.If(hr != b):
                    m.d.sync += [nh[b].eq(nh[b] + 1), hnnz[b].eq(hnnz[b] + hw.count)]

        # List reads for the running step (combinational)
        m.d.comb += [xlist_r.addr.eq(xr * xg + self.x_list.index),
                     self.x_list.entry.eq(xlist_r.data),
                     hlist_r.addr.eq(hr * hg + self.h_list.index),
                     self.h_list.entry.eq(hlist_r.data)]

        # Element read: cycle 0 address, cycle 1 memory data
        el = self.element
        m.d.comb += [xmem.r_addr.eq(xr * xp + el.group * N + el.bit),
                     hmem_r.addr.eq(hr * hg + el.group),
                     hmem_r.en.eq(el.en)]
        kind1, zero1 = Signal(name="kind1"), Signal(name="zero1")
        bit1 = Signal(range(max(N, 2)), name="bit1")
        m.d.sync += [kind1.eq(el.kind), zero1.eq(el.zero), bit1.eq(el.bit)]
        # cycle 2: the x word in its output register; of the h group, the chunk of 4 words
        # holding the element (the selection is split over cycles 2 and 3; the 4-to-1 half
        # is the one that shares cycle 3 with the x / h / zero choice)
        assert WeightBank.latency == 2
        lo = min(2, ceil_log2(max(N, 2)))
        chunk_w = (1 << lo) * hb
        n_chunks = -(-N // (1 << lo))
        h_words = Cat(hmem_r.data, Const(0, n_chunks * chunk_w - N * hb))
        x2, h2 = xmem.r_data, Signal(chunk_w, name="h2")
        kind2, zero2 = Signal(name="kind2"), Signal(name="zero2")
        bit2 = Signal(lo, name="bit2")
        m.d.sync += [h2.eq(h_words.word_select(bit1 >> lo, chunk_w) if n_chunks > 1 else h_words),
                     kind2.eq(kind1), zero2.eq(zero1), bit2.eq(bit1[:lo])]
        # cycle 3: the element selected, aligned to the vector format, registered
        xval = x2 << (vf - f.input.frac)
        hval = h2.word_select(bit2, hb).as_signed() << (vf - f.state.frac)
        # (data only: not reset, so that no reset logic sits before the broadcast)
        v3 = Signal.like(self.v_data, name="v3", reset_less=True)
        m.d.sync += v3.eq(Mux(zero2, 0, Mux(kind2, hval, xval)))
        m.d.comb += self.v_data.eq(v3)
        return m
