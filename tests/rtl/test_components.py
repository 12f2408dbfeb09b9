"""Per-component tests in the Amaranth simulator, bit-exact against golden: the nonzero-index
unit with the column issue (which columns, in which order, with which values) and one lane
(weights, MAC, activations, cell update, pruning)."""

import numpy as np
import pytest
from amaranth.hdl import Cat, Module
from amaranth.sim import Simulator

from golden.config import Config
from rtl.index_list import IndexList
from rtl.issue import ColumnIssue
from rtl.lane import Lane
from golden.layout import lane_images
from sim.scenario import Scenario, random_params, random_sequences, to_unsigned


def issue_harness(cfg):
    m = Module()
    m.submodules.il = il = IndexList(cfg)
    m.submodules.issue = issue = ColumnIssue(cfg)
    m.d.comb += [
        il.start.eq(issue.start), issue.n_x.eq(il.rd_x_entries), issue.n_h.eq(il.next_h_entries),
        il.x_index.eq(issue.x_index), issue.x_entry.eq(il.x_entry),
        il.h_index.eq(issue.h_index), issue.h_entry.eq(il.h_entry),
        il.v_en.eq(issue.v_en), il.v_kind.eq(issue.v_kind), il.v_group.eq(issue.v_group),
        il.v_bit.eq(issue.v_bit), il.v_zero.eq(issue.v_zero),
    ]
    return m, il, issue


def run_issue(cfg, x, h_prev, sparse, fresh=False):
    m, il, issue = issue_harness(cfg)
    N, hb = cfg.lanes, cfg.formats.state.bits
    got = []

    async def bench(ctx):
        for j in range(cfg.h_groups):                   # h_{t-1}, as the lanes write it
            ctx.set(il.h_we, 1)
            ctx.set(il.h_group, j)
            ctx.set(il.h_row, sum(to_unsigned(h_prev[j * N + k], hb) << (k * hb)
                                  for k in range(N)))
            ctx.set(il.h_mask, sum(int(h_prev[j * N + k] != 0) << k for k in range(N)))
            await ctx.tick()
        ctx.set(il.h_we, 0)
        for e, v in enumerate(x):
            ctx.set(il.x_valid, 1)
            ctx.set(il.x_data, int(v))
            ctx.set(il.x_last, e == len(x) - 1)
            await ctx.tick()
        ctx.set(il.x_valid, 0)
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
            if ctx.get(issue.issue_valid):
                issued.append((ctx.get(issue.issue_row), ctx.get(issue.issue_addr),
                               ctx.get(issue.issue_first), ctx.get(issue.issue_last)))
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


ISSUE_CFGS = [Config(input_size=5, hidden_size=8, lanes=4), Config(input_size=3, hidden_size=8,
              lanes=1), Config(input_size=2, hidden_size=6, lanes=6)]


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
def test_lane_matches_golden_units(rng, cfg):
    k = cfg.lanes - 1
    sc = Scenario(cfg, random_params(rng, cfg), [])
    w, b = lane_images(cfg, sc.params)[k]
    lane = Lane(cfg, w, b)
    xs = random_sequences(rng, cfg, [3], 0.7)[0]
    theta = 200
    trace = sc.golden.trace(xs, theta=theta)
    got = []

    async def bench(ctx):
        ctx.set(lane.theta, theta)
        h_prev = np.zeros(cfg.H, dtype=np.int64)
        prev = []
        for t, st in enumerate(trace):
            ctx.set(lane.fresh, t == 0)
            v = sc.golden.vector(xs[t], h_prev)
            cols = st.visited
            if len(cols) == 0:                    # as the column issue does: a null column
                cols, v = [0], np.zeros_like(v)
            for r in range(cfg.rows_per_lane):
                for i, c in enumerate(cols):
                    ctx.set(lane.issue_valid, 1)
                    ctx.set(lane.issue_first, i == 0)
                    ctx.set(lane.issue_last, i == len(cols) - 1)
                    ctx.set(lane.issue_addr, r * cfg.columns + int(c))
                    ctx.set(lane.issue_row, r)
                    await ctx.tick()
                    if len(prev) == 2:
                        ctx.set(lane.value, prev.pop(0))  # value arrives three cycles later
                    prev.append(int(v[c]))
            ctx.set(lane.issue_valid, 0)
            while prev:
                await ctx.tick()
                ctx.set(lane.value, prev.pop(0))
            for _ in range(Lane.latency + 2):
                await ctx.tick()
            h_prev = st.h

    async def collect(ctx):
        async for _, _, valid, data, unit in ctx.tick().sample(lane.h_valid, lane.h_data,
                                                                lane.h_unit):
            if valid:
                got.append((unit, data))

    sim = Simulator(lane)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.add_process(collect)
    sim.run()
    want = [(j, int(st.h[k + cfg.lanes * j])) for st in trace for j in range(cfg.h_groups)]
    assert got == want
