"""Column issue: walks the nonzero-index lists once per gate row, one column per cycle."""

from amaranth.hdl import Const, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2

from . import interfaces
from .interfaces import Geometry
from .reduce import or_all

__all__ = ["ColumnIssue"]


def _sum(values):
    """Sum of small unsigned values (a popcount when they are bits), as a balanced adder
    tree."""
    terms = list(values)
    while len(terms) > 1:
        terms = [terms[i] + terms[i + 1] if i + 1 < len(terms) else terms[i]
                 for i in range(0, len(terms), 2)]
    return terms[0] if terms else Const(0, 1)


def _select_small(chunk, j, width):
    """Position of the ``j``-th set bit (from 0) of a narrow ``chunk`` (at most 8 bits); a
    function of at most 11 inputs, mapped by the synthesis tool."""
    bits = ceil_log2(max(width, 2))
    idx = Const(0, bits)
    for p in range(1, width):
        hit = chunk[p] & (_sum(chunk[q] for q in range(p)) == j)
        idx = idx | Mux(hit, p, 0)
    return idx


class ColumnIssue(wiring.Component):
    """For each of the ``R = 4H/N`` local rows, issues the step's columns back to back: the
    x entries then the h entries (sparse: the nonzero-index lists; dense: every group with
    every valid bit). Each entry costs exactly as many cycles as it has set bits, and a zero
    none. A step without any nonzero column issues one null column per row (value forced to
    0) so that each row still adds its bias. Each row starts after ``pad`` idle cycles (the
    top sets it so that a row lasts at least ``min_columns`` cycles, the time the shared cell
    units take to drain a row's results).

    Timing: the one-column-per-cycle loop only counts. Each list entry carries the number of
    its set bits less one (and whether it is one), so the loop walks ``j = 0 .. count - 1``
    with a precomputed "last column of the entry" flag; the position of the ``j``-th set bit
    of the mask is found afterwards by a feed-forward pipeline (``SELECT_STAGES``: chunk
    popcounts, their prefix sums, the chunk holding bit ``j``, the bit within the chunk, the
    weight address). The list entry after
    the current one is prefetched into a register, and the first two entries of the step are
    kept to restart each row. A step spends two cycles loading entries 0 and 1
    (``ISSUE_LATENCY`` cycles in all before its first column reaches the lanes).

    Members
    -------
    start, sparse, fresh, n_x, n_h : latched at ``start``; pad : latched two cycles after.
    hpass : with the ``overlap`` option, latched at ``start``: 0 an x pass (each row visits
        the x entries only, its columns marked ``part``), 1 an h pass (the h entries only).
    x_list, h_list : ``Out(interfaces.list_read)``, list reads (combinational, from
        ``IndexList``).
    column : ``Out(interfaces.column)``, the column, to the lanes.
    element : ``Out(interfaces.element)``, the element read, to ``IndexList``.
    running : a step is issuing; last : pulse with the step's final column.
    """

    #: registers from the counting loop to the outputs (the set-bit search)
    SELECT_STAGES = 7
    #: cycles of a step spent before its first column is on the outputs
    ISSUE_LATENCY = 2 + 1 + SELECT_STAGES

    def __init__(self, cfg):
        self.cfg = cfg
        self.xg, self.hg = cfg.x_groups, cfg.h_groups
        geo = Geometry(cfg)
        self.addr_width, self.row_width, self.gwidth = (geo.addr_width, geo.row_width,
                                                        geo.group_width)
        passes = {"hpass": In(1)} if cfg.overlap else {}
        super().__init__({
            "start": In(1), "sparse": In(1), "fresh": In(1), **passes,
            "n_x": In(range(self.xg + 1)), "n_h": In(range(self.hg + 1)),
            "pad": In(range(cfg.min_columns + 1)),
            "x_list": Out(interfaces.list_read(cfg, self.xg)),
            "h_list": Out(interfaces.list_read(cfg, self.hg)),
            "column": Out(interfaces.column(geo)), "element": Out(interfaces.element(geo)),
            "running": Out(1), "last": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        cfg = self.cfg
        N, X, R, C = cfg.lanes, cfg.input_size, cfg.rows_per_lane, cfg.columns
        xg, hg = self.xg, self.hg
        gw = self.gwidth
        jw = range(max(N, 2))                                   # a column within an entry

        # Step state, latched at start
        sparse, fresh, null = Signal(name="sparse_r"), Signal(name="fresh_r"), Signal(name="null")
        n_x = Signal(range(xg + 1), name="n_x_r")
        n_last = Signal(range(xg + hg + 1), name="n_last")      # index of the last entry
        row = Signal(range(max(R, 2)), name="row")
        rowbase = Signal(self.addr_width, name="rowbase")
        row_first = Signal(name="row_first")
        # one flag per phase (load entry 0, load entry 1, run), so that the loop decodes none
        load0, load1, run = Signal(name="load0"), Signal(name="load1"), Signal(name="run")
        pad = Signal.like(self.pad, name="pad_r")
        wait = Signal.like(self.pad, name="wait")               # idle cycles before a row
        waiting = Signal(name="waiting")                        # wait != 0

        # List pointer of the next entry to fetch: entry index, x / h list index, x side
        rp = Signal(range(xg + hg + 2), name="rp")
        xp = Signal(range(xg + 1), name="xp")
        hp = Signal(range(hg + 1), name="hp")
        rp_x = Signal(name="rp_x")
        # pointer after entries 0 and 1 (where each row's fetching resumes)
        rp2, xp2, hp2, rp2_x = (Signal.like(rp, name="rp2"), Signal.like(xp, name="xp2"),
                                Signal.like(hp, name="hp2"), Signal(name="rp2_x"))

        def entry(name):
            return {"group": Signal(gw, name=f"{name}_group"),
                    "mask": Signal(N, name=f"{name}_mask"),
                    "x": Signal(name=f"{name}_x"), "last": Signal(name=f"{name}_last"),
                    "base": Signal(range(C + 1), name=f"{name}_base"),
                    "cm1": Signal(jw, name=f"{name}_cm1"),          # set bits - 1
                    "single": Signal(name=f"{name}_single")}       # one set bit
        nxt, e0, e1 = entry("nxt"), entry("e0"), entry("e1")
        cur = entry("cur")
        del cur["cm1"], cur["single"]
        j = Signal(jw, name="cur_j")               # the current column: set bit j of the mask
        left = Signal(jw, name="cur_left")         # columns of the entry after this one
        final = Signal(name="cur_final")           # left == 0

        def load(src):
            return ([cur[k].eq(src[k]) for k in cur] +
                    [j.eq(0), left.eq(src["cm1"]), final.eq(src["single"])])

        def copy(dst, src):
            return [dst[k].eq(src[k]) for k in dst]

        # The entry at the pointer (list read, or synthesised in dense mode)
        full = (1 << N) - 1
        tail_n = X % N or N
        tail = (1 << tail_n) - 1
        m.d.comb += [self.x_list.index.eq(xp), self.h_list.index.eq(hp)]
        f_group = Mux(sparse, Mux(rp_x, self.x_list.entry.group, self.h_list.entry.group),
                      Mux(rp_x, xp, hp))
        f_mask = Mux(sparse, Mux(rp_x, self.x_list.entry.mask, self.h_list.entry.mask),
                     Mux(rp_x & (xp == xg - 1), tail, full))
        xe, he = self.x_list.entry, self.h_list.entry
        x_tail = rp_x & (xp == xg - 1)
        f_cm1 = Mux(sparse, Mux(rp_x, xe.cm1, he.cm1), Mux(x_tail, tail_n - 1, N - 1))
        f_single = Mux(sparse, Mux(rp_x, xe.single, he.single),
                       Mux(x_tail, int(tail_n == 1), int(N == 1)))
        f_base = Mux(sparse, Mux(rp_x, xe.base, he.base), Mux(rp_x, xp * N, X + hp * N))
        fetched = {
            "group": Mux(null, 0, f_group), "mask": Mux(null, 1, f_mask),
            "x": rp_x | null, "last": null | (rp == n_last),
            "base": Mux(null, 0, f_base), "cm1": Mux(null, 0, f_cm1), "single": null | f_single,
        }

        def advance():
            return [rp.eq(rp + 1),
                    rp_x.eq(rp_x & (xp + 1 != n_x)),
                    xp.eq(Mux(rp_x & (xp + 1 != n_x), xp + 1, xp)),
                    hp.eq(Mux(rp_x, hp, hp + 1))]

        entry_done = final
        row_done = final & cur["last"]

        # The column, as the counting loop emits it (stage 0 of the search pipeline)
        s0 = {"valid": Signal(name="s0_valid"), "first": Signal(name="s0_first"),
              "last": Signal(name="s0_last"), "row": Signal(self.row_width, name="s0_row"),
              "abase": Signal(self.addr_width, name="s0_abase"),
              "kind": Signal(name="s0_kind"), "group": Signal(gw, name="s0_group"),
              "zero": Signal(name="s0_zero"), "step_last": Signal(name="s0_step_last")}
        part = Signal(name="part")                              # an x pass (overlap)
        if cfg.overlap:
            s0["part"] = Signal(name="s0_part")
        s0_mask, s0_j = Signal(N, name="s0_mask"), Signal(jw, name="s0_j")

        m.d.sync += [s0["valid"].eq(0), s0["step_last"].eq(0)]
        m.d.comb += self.running.eq(load0 | load1 | run)

        with m.If(self.start):
            if cfg.overlap:
                # an x pass walks the x entries, an h pass the h entries
                n_x0 = Mux(self.hpass, 0, Mux(self.sparse, self.n_x, xg))
                n_tot = Mux(self.hpass, Mux(self.sparse, Mux(self.fresh, 0, self.n_h), hg), n_x0)
                m.d.sync += part.eq(~self.hpass)
            else:
                n_tot = Mux(self.sparse, self.n_x + Mux(self.fresh, 0, self.n_h), xg + hg)
                n_x0 = Mux(self.sparse, self.n_x, xg)
            m.d.sync += [
                load0.eq(1), sparse.eq(self.sparse), fresh.eq(self.fresh),
                n_x.eq(n_x0), n_last.eq(n_tot - 1), null.eq(n_tot == 0),
                row.eq(0), rowbase.eq(0), row_first.eq(1),
                rp.eq(0), xp.eq(0), hp.eq(0), rp_x.eq(n_x0 != 0),
            ]
        with m.Elif(load0):
            # entry 0 goes to the prefetch register first (no path from the list read to
            # the loop's registers), and from there to the loop in the next cycle
            m.d.sync += copy(nxt, fetched) + copy(e0, fetched) + advance() + [load0.eq(0),
                                                                              load1.eq(1)]
        with m.Elif(load1):
            m.d.sync += [pad.eq(self.pad), wait.eq(self.pad), waiting.eq(self.pad != 0)]
            m.d.sync += load(nxt) + copy(nxt, fetched) + copy(e1, fetched) + advance() + [
                load1.eq(0), run.eq(1)]
            m.d.sync += [rp2.eq(rp + 1), rp2_x.eq(rp_x & (xp + 1 != n_x)),
                         xp2.eq(Mux(rp_x & (xp + 1 != n_x), xp + 1, xp)),
                         hp2.eq(Mux(rp_x, hp, hp + 1))]
        with m.Elif(run & waiting):
            m.d.sync += [wait.eq(wait - 1), waiting.eq(wait != 1)]
        with m.Elif(run):
            m.d.sync += [
                s0["valid"].eq(1), s0["first"].eq(row_first), s0["last"].eq(row_done),
                s0["row"].eq(row), s0["abase"].eq(rowbase + cur["base"]),
                s0["kind"].eq(~cur["x"]), s0["group"].eq(cur["group"]),
                s0["zero"].eq(null | (~cur["x"] & fresh)),
                s0["step_last"].eq(row_done & (row == R - 1)),
                s0_mask.eq(cur["mask"]), s0_j.eq(j),
                row_first.eq(0),
            ]
            if cfg.overlap:
                m.d.sync += s0["part"].eq(part)
            with m.If(row_done):
                m.d.sync += load(e0) + copy(nxt, e1) + [
                    rp.eq(rp2), xp.eq(xp2), hp.eq(hp2), rp_x.eq(rp2_x),
                    row.eq(row + 1), rowbase.eq(rowbase + C), row_first.eq(1), wait.eq(pad),
                    waiting.eq(pad != 0)]
                with m.If(row == R - 1):
                    m.d.sync += run.eq(0)
            with m.Elif(entry_done):
                m.d.sync += load(nxt) + copy(nxt, fetched) + advance()
            with m.Else():
                m.d.sync += [j.eq(j + 1), left.eq(left - 1), final.eq(left == 1)]

        # The search for set bit j of the mask: the mask in K chunks of W bits
        W = min(N, 8)
        K = -(-N // W)
        ww = ceil_log2(max(W, 2))
        payload = s0
        mask, jj = s0_mask, s0_j

        def stage(n, sigs):
            """Registers ``sigs`` (name -> value) and the payload for search stage ``n``."""
            nonlocal payload
            out = {}
            for k, v in sigs.items():
                out[k] = Signal.like(v, name=f"s{n}_{k}") if isinstance(v, Signal) else \
                    Signal(v.shape(), name=f"s{n}_{k}")
                m.d.sync += out[k].eq(v)
            moved = {}
            for k, v in payload.items():
                moved[k] = Signal.like(v, name=f"s{n}_{k}")
                m.d.sync += moved[k].eq(v)
            payload = moved
            return out

        chunks = [mask[k * W:(k + 1) * W] for k in range(K)]
        # 1: popcount of each chunk
        r1 = stage(1, {"mask": mask, "j": jj,
                       **{f"pc{k}": _sum(chunks[k][b] for b in range(len(chunks[k])))
                          for k in range(K - 1)}})
        # 2: sums of chunk pairs; 3: prefix sums, prefix[k] = set bits in chunks 0 .. k-1
        # (at most two adder levels per stage)
        pcs = [r1[f"pc{k}"] for k in range(K - 1)]
        r2 = stage(2, {"mask": r1["mask"], "j": r1["j"],
                       **{f"pc{k}": pcs[k] for k in range(K - 1)},
                       **{f"pair{i}": pcs[2 * i] + pcs[2 * i + 1] for i in range((K - 1) // 2)}})
        prefix = {f"pre{k}": _sum([r2[f"pair{i}"] for i in range(k // 2)] +
                                  ([r2[f"pc{k - 1}"]] if k % 2 else []))
                  for k in range(1, K)}
        r2 = stage(3, {"mask": r2["mask"], "j": r2["j"], **prefix})
        # 4: which chunks start at or before bit j; j relative to each chunk
        ge = {f"ge{k}": r2["j"] >= r2[f"pre{k}"] for k in range(1, K)}
        rel = {f"rel{k}": (r2["j"] - (r2[f"pre{k}"] if k else 0))[:ww] for k in range(K)}
        r3 = stage(4, {"mask": r2["mask"], **ge, **rel})
        # 5: the chunk holding bit j (the last one that starts at or before it)
        geb = [Const(1, 1)] + [r3[f"ge{k}"] for k in range(1, K)] + [Const(0, 1)]
        sel = [geb[k] & ~geb[k + 1] for k in range(K)]
        cw = ceil_log2(max(K, 2))
        r4 = stage(5, {
            "chunk": or_all([Mux(sel[k], r3["mask"][k * W:(k + 1) * W], 0) for k in range(K)],
                             W),
            "rel": or_all([Mux(sel[k], r3[f"rel{k}"], 0) for k in range(K)], ww),
            "c": or_all([Mux(sel[k], k, 0) for k in range(K)], cw),
        })
        # 6: the bit within the chunk
        bit = (r4["c"] * W + _select_small(r4["chunk"], r4["rel"], W))[:ceil_log2(max(N, 2))]
        r5 = stage(6, {"bit": bit})
        # 7: the outputs, registered
        p = payload
        col, el = self.column, self.element
        m.d.sync += [
            col.valid.eq(p["valid"]), col.first.eq(p["first"]), col.last.eq(p["last"]),
            col.row.eq(p["row"]), col.addr.eq(p["abase"] + r5["bit"]),
            el.en.eq(p["valid"]), el.kind.eq(p["kind"]), el.group.eq(p["group"]),
            el.bit.eq(r5["bit"]), el.zero.eq(p["zero"]),
            self.last.eq(p["step_last"]),
        ]
        if cfg.overlap:
            m.d.sync += col.part.eq(p["part"])
        return m
