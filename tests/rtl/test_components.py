"""Per-component tests in the Amaranth simulator, bit-exact against golden: the nonzero-index
unit with the column issue (which columns, in which order, with which values), one lane
(weights, multiply-accumulate) and one cell unit (activations, cell update, pruning)."""

import numpy as np
import pytest
from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.sim import Simulator

from golden.config import Config
from rtl.index_list import IndexList
from rtl.issue import ColumnIssue
from golden.layout import lane_images, lane_rows
from rtl.cell import CellUnit
from rtl.lane import Lane
from sim.scenario import Scenario, random_params, random_sequences, to_unsigned


def issue_harness(cfg):
    m = Module()
    m.submodules.il = il = IndexList(cfg)
    m.submodules.issue = issue = ColumnIssue(cfg)
    m.d.comb += [
        il.start.eq(issue.start), issue.n_x.eq(il.rd_x_entries), issue.n_h.eq(il.next_h_entries),
    ]
    wiring.connect(m, issue.x_list, il.x_list)
    wiring.connect(m, issue.h_list, il.h_list)
    wiring.connect(m, issue.element, il.element)
    return m, il, issue


def run_issue(cfg, x, h_prev, sparse, fresh=False):
    m, il, issue = issue_harness(cfg)
    N, hb = cfg.lanes, cfg.formats.state.bits
    got = []

    async def bench(ctx):
        for j in range(cfg.h_groups):                   # h_{t-1}, as the lanes write it
            hw = il.h_write
            ctx.set(hw.en, 1)
            ctx.set(hw.group, j)
            ctx.set(hw.row, sum(to_unsigned(h_prev[j * N + k], hb) << (k * hb)
                                for k in range(N)))
            ctx.set(hw.mask, sum(int(h_prev[j * N + k] != 0) << k for k in range(N)))
            ctx.set(hw.count, int(np.count_nonzero(h_prev[j * N:(j + 1) * N])))
            await ctx.tick()
        ctx.set(il.h_write.en, 0)
        for e, v in enumerate(x):
            ctx.set(il.x.valid, 1)
            ctx.set(il.x.payload, {"data": int(v), "last": e == len(x) - 1, "user": 0,
                                   "nz": int(v) != 0})
            await ctx.tick()
        ctx.set(il.x.valid, 0)
        assert not ctx.get(il.rd_x_full)     # committed to its slot a cycle later
        await ctx.tick()
        assert ctx.get(il.rd_x_full)
        ctx.set(issue.start, 1)
        ctx.set(issue.sparse, sparse)
        ctx.set(issue.fresh, fresh)
        await ctx.tick()
        ctx.set(issue.start, 0)
        issued, values = [], []          # per cycle: the issued column, v_data
        idle = 0
        while idle < 6:                  # outputs are registered: drain after `running` falls
            values.append(ctx.get(il.v_data))
            col = issue.column
            if ctx.get(col.valid):
                issued.append((ctx.get(col.row), ctx.get(col.addr), ctx.get(col.first),
                               ctx.get(col.last)))
                idle = 0
            else:
                issued.append(None)
                idle += not ctx.get(issue.running)
            await ctx.tick()
        # the element's value follows its column by three cycles
        got.extend(col + (values[t + 3],) for t, col in enumerate(issued) if col is not None)

    sim = Simulator(m)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    return got


# lane counts of one search chunk (4, 1, 6), of two chunks with a short last one (12) and of
# four (32)
ISSUE_CFGS = [Config(input_size=5, hidden_size=8, lanes=4), Config(input_size=3, hidden_size=8,
              lanes=1), Config(input_size=2, hidden_size=6, lanes=6),
              Config(input_size=20, hidden_size=24, lanes=12),
              Config(input_size=40, hidden_size=64, lanes=32)]


@pytest.mark.parametrize("sparse", [True, False], ids=["sparse", "dense"])
@pytest.mark.parametrize("cfg", ISSUE_CFGS, ids=lambda c: f"X{c.X}H{c.H}N{c.N}")
@pytest.mark.parametrize("density", [0.0, 0.3, 1.0])
def test_issue_visits_the_golden_columns_with_the_golden_values(rng, cfg, sparse, density):
    sc = Scenario(cfg, random_params(rng, cfg), [])
    x = random_sequences(rng, cfg, [1], density)[0][0]
    h_prev = (rng.integers(-3000, 3000, cfg.H) * (rng.random(cfg.H) < density)).astype(np.int64)
    got = run_issue(cfg, x, h_prev, sparse)
    v = sc.golden.vector(x, h_prev)
    cols = sc.golden.visited(v, sparse)
    want = []
    for r in range(cfg.rows_per_lane):
        if len(cols) == 0:                               # null column: bias only
            want.append((r, r * cfg.columns, 1, 1, 0))
        for i, c in enumerate(cols):
            want.append((r, r * cfg.columns + int(c), int(i == 0), int(i == len(cols) - 1),
                         int(v[c])))
    assert len(got) == len(want) == cfg.rows_per_lane * max(len(cols), 1)
    assert got == want


def test_issue_fresh_step_ignores_stale_h(rng):
    cfg = ISSUE_CFGS[0]
    x = np.array([0, 5, 0, 0, 7])
    h_prev = np.arange(1, cfg.H + 1)
    sparse = run_issue(cfg, x, h_prev, True, fresh=True)
    assert [g[1] for g in sparse[:2]] == [1, 4] and len(sparse) == 2 * cfg.rows_per_lane
    dense = run_issue(cfg, x, h_prev, False, fresh=True)
    assert all(g[4] == 0 for g in dense if g[1] % cfg.columns >= cfg.X)   # h part zeroed


@pytest.mark.parametrize("cfg", [Config(input_size=3, hidden_size=8, lanes=2),
                                 Config(input_size=4, hidden_size=4, lanes=4)],
                         ids=lambda c: f"X{c.X}H{c.H}N{c.N}")
def test_lane_matches_golden_accumulators(rng, cfg):
    k = cfg.lanes - 1
    sc = Scenario(cfg, random_params(rng, cfg), [])
    w, b = lane_images(cfg, sc.params)[k]
    lane = Lane(cfg, w, b)
    xs = random_sequences(rng, cfg, [3], 0.7)[0]
    trace = sc.golden.trace(xs, theta=200)
    got, done_at = [], set()
    sentinel = -(2 ** (cfg.accumulator.bits - 1)) + 3          # a value no row produces

    async def bench(ctx):
        ctx.set(lane.chain, sentinel)
        h_prev = np.zeros(cfg.H, dtype=np.int64)
        prev = []
        cycle = 0
        for t, st in enumerate(trace):
            v = sc.golden.vector(xs[t], h_prev if t else h_prev * 0)
            cols = st.visited
            if len(cols) == 0:                    # as the column issue does: a null column
                cols, v = [0], np.zeros_like(v)
            for r in range(cfg.rows_per_lane):
                for i, c in enumerate(cols):
                    ctx.set(lane.column.valid, 1)
                    ctx.set(lane.column.first, i == 0)
                    ctx.set(lane.column.addr, r * cfg.columns + int(c))
                    ctx.set(lane.column.row, r)
                    ctx.set(lane.column.last, i == len(cols) - 1)
                    if i == len(cols) - 1:            # the row's result, Lane.latency + 1
                        done_at.add(cycle + 2 + Lane.latency)      # cycles later
                    await ctx.tick()
                    cycle += 1
                    if len(prev) == 2:
                        ctx.set(lane.value, prev.pop(0))  # value arrives three cycles later
                    prev.append(int(v[c]))
            ctx.set(lane.column.valid, 0)
            while prev:
                await ctx.tick()
                cycle += 1
                ctx.set(lane.value, prev.pop(0))
            for _ in range(Lane.latency + 2):
                await ctx.tick()
                cycle += 1
            h_prev = st.h

    chained = []

    async def collect(ctx):
        t = 0
        async for _, _, result in ctx.tick().sample(lane.result):
            t += 1
            if t in done_at:
                got.append(result)
            elif t - 1 in done_at:                # the cycle after: the chain's value
                chained.append(result)

    sim = Simulator(lane)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.add_process(collect)
    sim.run()
    rows = lane_rows(cfg, k)
    want = [int(st.acc[rows[r]]) for st in trace for r in range(cfg.rows_per_lane)]
    assert got == want
    assert chained and set(chained) == {sentinel}, "between row ends the result shifts"


@pytest.mark.parametrize("cfg,p", [(Config(input_size=3, hidden_size=8, lanes=4, cell_units=2), 1),
                                   (Config(input_size=5, hidden_size=12, lanes=6, cell_units=2), 0),
                                   (Config(input_size=2, hidden_size=4, lanes=1), 0)],
                         ids=lambda c: f"X{c.X}H{c.H}N{c.N}P{c.cell_units}" if hasattr(c, "X")
                         else f"unit{c}")
def test_cell_unit_matches_golden(rng, cfg, p):
    """Cell unit p fed the golden accumulators of its lanes P s + p, slot by slot, row by
    row, gives the golden h of units N j + P s + p."""
    sc = Scenario(cfg, random_params(rng, cfg), [])
    xs = random_sequences(rng, cfg, [4], 0.6)[0]
    theta = 150
    trace = sc.golden.trace(xs, theta=theta)
    P, S, N = cfg.cell_units, cfg.min_columns, cfg.lanes
    cell = CellUnit(cfg)
    got = []

    async def bench(ctx):
        ctx.set(cell.theta, theta)
        for t, st in enumerate(trace):
            ctx.set(cell.fresh, t == 0)
            for r in range(cfg.rows_per_lane):
                for s in range(S):
                    k = P * s + p
                    ctx.set(cell.rows.valid, 1)
                    ctx.set(cell.rows.payload, {"acc": int(st.acc[lane_rows(cfg, k)[r]]),
                                                "row": r, "slot": s})
                    await ctx.tick()
                ctx.set(cell.rows.valid, 0)
                await ctx.tick()                  # rows need not be back to back
            for _ in range(CellUnit.latency + 2):
                await ctx.tick()

    async def collect(ctx):
        h = cell.h.payload
        async for _, _, valid, data, unit, slot in ctx.tick().sample(
                cell.h.valid, h.data, h.unit, h.slot):
            if valid:
                got.append((unit, slot, data))

    sim = Simulator(cell)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.add_process(collect)
    sim.run()
    want = [(j, s, int(st.h[N * j + P * s + p])) for st in trace
            for j in range(cfg.h_groups) for s in range(S)]
    assert got == want


@pytest.mark.parametrize("target", ["generic", "ecp5"])
@pytest.mark.parametrize("cell_bits", [16, 24])
def test_cell_state_memory_of_any_width_elaborates(target, cell_bits):
    """A cell unit with more than ``LUT_RAM_WORDS`` cell states (here 128) holds them in a
    block RAM on ecp5 when a word fits its 18-bit port, else in the portable memory (24-bit
    states); both elaborate."""
    from amaranth.back import rtlil
    from golden.fixed import Format
    cfg = Config(input_size=4, hidden_size=128, lanes=16,
                 formats={"input": Format(16, 12), "weight": Format(8, 6), "bias": Format(16, 12),
                          "state": Format(16, 12), "cell": Format(cell_bits, cell_bits - 6)})
    assert cfg.h_groups * cfg.min_columns > CellUnit.LUT_RAM_WORDS
    m = Module()
    m.submodules.cell = CellUnit(cfg, target=target)
    text = rtlil.convert(m, name="c", ports=[], emit_src=False)
    cmem = text[text.index("module \\c.cell.cmem"):]
    cmem = cmem[:cmem.index("\nend\n")]
    assert ("DP16KD" in cmem) == (target == "ecp5" and cell_bits <= 18)


@pytest.mark.parametrize("width", [1, 2, 3, 5, 8])
def test_select_small_exhaustive(width):
    """The j-th set bit of every mask of ``width`` bits, for every j below its popcount."""
    from amaranth.hdl import Signal
    from rtl.issue import _select_small
    m = Module()
    v, j, o = Signal(width), Signal(3), Signal(3)
    m.d.comb += o.eq(_select_small(v, j, width))
    bad = []

    async def bench(ctx):
        for x in range(1 << width):
            ones = [b for b in range(width) if x >> b & 1]
            for k, want in enumerate(ones):
                ctx.set(v, x)
                ctx.set(j, k)
                if ctx.get(o) != want:
                    bad.append((x, k, ctx.get(o), want))

    sim = Simulator(m)
    sim.add_testbench(bench)
    sim.run()
    assert bad == []


@pytest.mark.parametrize("p_valid,p_ready", [(1.0, 1.0), (0.7, 0.4), (0.3, 0.9)])
def test_skid_buffer_passes_every_beat_in_order(rng, p_valid, p_ready):
    """Random source valid and sink ready: every beat leaves once, in order; with both
    always high, one beat per cycle; ``ready`` toward the source is a register."""
    from rtl.skid import SkidBuffer
    dut = SkidBuffer(16)
    beats = [int(v) for v in rng.integers(0, 1 << 16, 300)]
    got, cycles = [], [0]

    async def source(ctx):
        for b in beats:
            ctx.set(dut.i.payload, b)
            ctx.set(dut.i.valid, 0)
            while rng.random() >= p_valid:
                await ctx.tick()
            ctx.set(dut.i.valid, 1)
            await ctx.tick().until(dut.i.ready)
        ctx.set(dut.i.valid, 0)

    async def sink(ctx):
        while len(got) < len(beats) and cycles[0] < 20 * len(beats):
            ready = int(rng.random() < p_ready)
            ctx.set(dut.o.ready, ready)
            _, _, valid, payload = await ctx.tick().sample(dut.o.valid, dut.o.payload)
            cycles[0] += 1
            if valid and ready:
                got.append(payload)

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(source)
    sim.add_testbench(sink)
    sim.run()
    assert got == beats
    if p_valid == p_ready == 1.0:
        assert cycles[0] == len(beats) + 1            # full rate, one cycle through


def test_skid_buffer_ready_does_not_depend_on_the_sink(rng):
    """Within a cycle, ``i.ready`` does not change with the sink's ``ready`` or the source's
    ``valid``: it comes from a register."""
    from rtl.skid import SkidBuffer
    dut = SkidBuffer(8)
    seen = []

    async def bench(ctx):
        for _ in range(200):
            readies = set()
            for o_ready, i_valid in ((0, 0), (1, 0), (0, 1), (1, 1)):
                ctx.set(dut.o.ready, o_ready)
                ctx.set(dut.i.valid, i_valid)
                readies.add(ctx.get(dut.i.ready))
            assert len(readies) == 1
            seen.append(readies.pop())
            ctx.set(dut.o.ready, int(rng.random() < 0.3))
            ctx.set(dut.i.valid, int(rng.random() < 0.8))
            await ctx.tick()

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    assert set(seen) == {0, 1}                    # the skid register did fill and drain
