"""Whole top in the Amaranth simulator: parameters through s_axis_w, several sequences, every
h element and the CYCLES / STEPS / COLUMNS / SKIPPED counters against golden, exactly."""

import numpy as np
import pytest

from golden import cycles
from golden.config import Config
from golden.fixed import Format
from golden.interface import ARCH_BAKED, ARCH_OVERLAP, ID_VALUE, Resp
from rtl.top import SkipLSTM
from sim.amaranth_tb import TopBench
from sim.scenario import Scenario, random_params, random_sequences, x_beats

CONFIGS = {
    "X3H8N2": Config(input_size=3, hidden_size=8, lanes=2),
    "X3H8N1": Config(input_size=3, hidden_size=8, lanes=1),
    "X3H8N8": Config(input_size=3, hidden_size=8, lanes=8),
    "X1H6N3": Config(input_size=1, hidden_size=6, lanes=3),
    "X5H12N6P2": Config(input_size=5, hidden_size=12, lanes=6, cell_units=2),   # m = 3
    "X2H8N8P8": Config(input_size=2, hidden_size=8, lanes=8, cell_units=8),     # m = 1
    "X3H32N16P4": Config(input_size=3, hidden_size=32, lanes=16, cell_units=4),  # m = 4
    "X7H12N4-narrow": Config(input_size=7, hidden_size=12, lanes=4, formats={
        "input": Format(8, 7), "weight": Format(4, 2), "bias": Format(8, 4),
        "state": Format(8, 6), "cell": Format(10, 6)}),
}


def compare(tb, want_hs, H):
    got = np.array([v for v, _ in tb.h])
    want = np.concatenate([w.reshape(-1) for w in want_hs])
    assert got.size == want.size, f"{got.size} h elements, expected {want.size}"
    mism = np.flatnonzero(got != want)
    if mism.size:
        k = mism[0]
        raise AssertionError(f"{mism.size} mismatches; first at step {k // H}, unit {k % H}: "
                             f"{got[k]} != {want[k]}")
    lasts = [i for i, (_, last) in enumerate(tb.h) if last]
    assert lasts == list(range(H - 1, got.size, H))


def run_scenario(sc, load=True, baked=False):
    cfg = sc.cfg
    tb = TopBench(cfg, sc.params if baked else None)
    out = {}

    async def main(tb, ctx):
        if load:
            await tb.send_w(ctx, sc.weight_beats())
        await tb.write(ctx, "THRESHOLD", sc.theta)
        await tb.write(ctx, "CTRL", int(sc.sparse))
        for s in sc.sequences:
            await tb.send_sequence(ctx, s)
        await tb.wait_h(ctx, sum(len(s) for s in sc.sequences) * cfg.hidden_size)
        await tb.wait_idle(ctx)
        out["counters"] = await tb.counters(ctx)
        out["status"] = await tb.read(ctx, "STATUS")
        out["arch"] = await tb.read(ctx, "ARCH")

    tb.run(main)
    return tb, out


@pytest.mark.parametrize("sparse", [True, False], ids=["sparse", "dense"])
@pytest.mark.parametrize("name", list(CONFIGS))
def test_top_bit_exact_and_cycle_exact(rng, name, sparse):
    cfg = CONFIGS[name]
    seqs = random_sequences(rng, cfg, [4, 3], density=0.6) + \
        random_sequences(rng, cfg, [3], density=0.0)        # all-zero inputs
    theta = 1 << (cfg.formats.state.frac - 3)             # prune |h| < 1/8
    sc = Scenario(cfg, random_params(rng, cfg), seqs, theta=theta, sparse=sparse)
    want_h, want_counters = sc.expected()
    tb, out = run_scenario(sc)
    compare(tb, want_h, cfg.hidden_size)
    assert out["counters"] == want_counters
    assert out["status"] == 0
    if sparse:
        assert want_counters["SKIPPED"] > 0


# the overlap option on a spread of lane counts, cell units and formats; in X3H8N1 dense
# (R = 32 rows of 3 x columns) the x pass does not fit the previous step's drain
OVERLAP = ["X3H8N1", "X3H8N2", "X5H12N6P2", "X3H32N16P4", "X7H12N4-narrow"]


@pytest.mark.parametrize("sparse", [True, False], ids=["sparse", "dense"])
@pytest.mark.parametrize("name", OVERLAP)
def test_overlap_bit_exact_and_cycle_exact(rng, name, sparse):
    """``overlap``: each step's x columns run while the previous step drains; h as without,
    the counters equal the overlap model (sequences back to back: only the first step finds
    the core idle), and CYCLES is below the model without the option."""
    plain = CONFIGS[name]
    cfg = plain.replace(overlap=True)
    seqs = random_sequences(rng, cfg, [4, 3], density=0.6) + \
        random_sequences(rng, cfg, [3], density=0.0)
    sc = Scenario(cfg, random_params(rng, cfg), seqs, theta=1 << (cfg.formats.state.frac - 3),
                  sparse=sparse)
    want_h, want_counters = sc.expected()
    tb, out = run_scenario(sc)
    compare(tb, want_h, cfg.hidden_size)
    assert out["counters"] == want_counters
    assert out["status"] == 0 and out["arch"] == cfg.lanes | ARCH_OVERLAP
    without = Scenario(plain, sc.params, seqs, theta=sc.theta, sparse=sparse).expected()[1]
    assert out["counters"]["CYCLES"] < without["CYCLES"]


def test_overlap_steps_that_find_the_core_idle_pay_their_x_pass(rng):
    """``overlap``, each x_t sent only after h_{t-1} has left: no x pass is hidden, every step
    costs its x pass too (``cycle_model(idle=True)``, the most CYCLES can be)."""
    cfg = CONFIGS["X5H12N6P2"].replace(overlap=True)
    X, H = cfg.input_size, cfg.hidden_size
    sc = Scenario(cfg, random_params(rng, cfg), random_sequences(rng, cfg, [4], density=0.6))
    xs = sc.sequences[0]
    want_h, _ = sc.expected()
    tb = TopBench(cfg)
    out = {}

    async def main(tb, ctx):
        await tb.send_w(ctx, sc.weight_beats())
        beats = x_beats(xs)
        for t in range(len(xs)):
            await tb.send_x_beats(ctx, beats[t * X:(t + 1) * X])
            await tb.wait_h(ctx, (t + 1) * H)
            await tb.wait_idle(ctx)
        out.update(await tb.counters(ctx))

    tb.run(main)
    compare(tb, want_h, H)
    assert out == cycles.cycle_model(cfg, xs, want_h[0], idle=True)
    assert out["CYCLES"] > cycles.cycle_model(cfg, xs, want_h[0])["CYCLES"]


def test_sparse_and_dense_give_identical_h(rng):
    cfg = CONFIGS["X3H8N2"]
    params = random_params(rng, cfg)
    seqs = random_sequences(rng, cfg, [5], density=0.4)
    results = []
    for sparse in (True, False):
        tb, _ = run_scenario(Scenario(cfg, params, seqs, theta=300, sparse=sparse))
        results.append([v for v, _ in tb.h])
    assert results[0] == results[1]


@pytest.mark.parametrize("name", ["X3H32N16P4", "X3H8N8", "X3H32N16P4-overlap"])
def test_h_held_back_then_leaves_back_to_back(rng, name):
    """With tready low, the core stops after two steps (the FIFO then holds 2H values) and
    loses nothing; released, the held values leave one per cycle, across words, unit groups
    and steps, and every step's h is bit-exact. STATUS.BUSY is 0 while the core waits only
    for room. (With ``overlap`` the third step's x pass runs; its h pass waits.)"""
    base, _, option = name.partition("-")
    cfg = CONFIGS[base].replace(overlap=option == "overlap")
    sc = Scenario(cfg, random_params(rng, cfg), random_sequences(rng, cfg, [4], density=0.6),
                  theta=1 << (cfg.formats.state.frac - 3))
    tb = TopBench(cfg)
    tb.h_ready = False
    steps = []

    async def main(tb, ctx):
        await tb.send_w(ctx, sc.weight_beats())
        await tb.write(ctx, "THRESHOLD", sc.theta)
        await tb.send_sequence(ctx, sc.sequences[0])
        while await tb.read(ctx, "STEPS") < 2:
            pass
        # long enough for two more steps, were they allowed to start
        await ctx.tick().repeat(4 * cycles.latency(cfg) + 8 * cfg.rows_per_lane * cfg.columns)
        steps.append(await tb.read(ctx, "STEPS"))
        steps.append(await tb.read(ctx, "STATUS") & 1)   # BUSY 0: waiting only for room
        assert not tb.h
        tb.h_ready = True
        await tb.wait_h(ctx, 4 * cfg.hidden_size)

    tb.run(main)
    assert steps == [2, 0]
    compare(tb, sc.expected()[0], cfg.hidden_size)
    gaps = np.diff(tb.h_cycles[:2 * cfg.hidden_size])
    assert (gaps == 1).all(), f"gaps after values {np.flatnonzero(gaps != 1).tolist()}"


def test_exact_zeros_without_pruning_are_skipped(rng):
    """theta = 0 prunes nothing, so the cell units' nonzero flag alone decides which h values
    are skipped: units whose g gate rows are all zero have c = 0 and h exactly 0 at every
    step (skipped), the others rarely 0. h and the counters, COLUMNS and CYCLES included,
    must equal golden."""
    cfg = CONFIGS["X3H8N2"]
    H = cfg.hidden_size
    params = random_params(rng, cfg)
    dead = np.arange(0, H, 3)                          # units 0, 3, 6
    for arr in (params.w_ih, params.w_hh, params.b):
        arr[2 * H + dead] = 0                           # gate g rows: g = tanh(0) = 0
    sc = Scenario(cfg, params, random_sequences(rng, cfg, [5], density=0.8), theta=0)
    want_h, want_counters = sc.expected()
    assert all((h[:, dead] == 0).all() for h in want_h)
    tb, out = run_scenario(sc)
    compare(tb, want_h, H)
    assert out["counters"] == want_counters


def test_baked_weights_need_no_load(rng):
    cfg = CONFIGS["X3H8N2"]
    sc = Scenario(cfg, random_params(rng, cfg), random_sequences(rng, cfg, [3]), theta=100)
    tb, out = run_scenario(sc, load=False, baked=True)
    compare(tb, sc.expected()[0], cfg.hidden_size)
    assert out["arch"] == cfg.lanes | ARCH_BAKED


def test_registers():
    cfg = Config(input_size=3, hidden_size=8, lanes=2)
    tb = TopBench(cfg)
    got = {}

    async def main(tb, ctx):
        for name in ("ID", "SHAPE", "ARCH", "CTRL", "THRESHOLD", "STATUS", "CYCLES_LO"):
            got[name] = await tb.read(ctx, name)
        got["unmapped_read"] = await tb.read(ctx, 0x40)
        got["unmapped_write"] = await tb.write(ctx, 0x44, 1)
        got["ro_write"] = await tb.write(ctx, "ID", 0)
        got["ID_after"] = await tb.read(ctx, "ID")
        await tb.write(ctx, "THRESHOLD", 0x1234)
        await tb.write(ctx, "CTRL", 0)
        got["THRESHOLD_after"] = await tb.read(ctx, "THRESHOLD")
        got["CTRL_after"] = await tb.read(ctx, "CTRL")

    tb.run(main)
    assert got["ID"] == ID_VALUE == 0x534B4C31
    assert got["SHAPE"] == 3 | (8 << 16)
    assert got["ARCH"] == 2
    assert got["CTRL"] == 1                     # SPARSE resets to 1
    assert got["THRESHOLD"] == 0 and got["STATUS"] == 0 and got["CYCLES_LO"] == 0
    assert got["unmapped_read"] == ("SLVERR", 0)
    assert got["unmapped_write"] == Resp.SLVERR
    assert got["ro_write"] == 0 and got["ID_after"] == ID_VALUE
    assert got["THRESHOLD_after"] == 0x1234 and got["CTRL_after"] == 0


@pytest.mark.parametrize("overlap", [False, True], ids=["", "overlap"])
def test_state_carries_over_without_tuser_and_clear_state_restarts(rng, overlap):
    cfg = CONFIGS["X3H8N2"].replace(overlap=overlap)
    sc = Scenario(cfg, random_params(rng, cfg), random_sequences(rng, cfg, [2, 2, 2]), theta=0)
    a, b, c = sc.sequences
    g = sc.golden
    ha, ca = g.run_fast(a)
    hb, _ = g.run_fast(b, h0=ha[-1], c0=ca[-1])              # continues: no tuser
    hc, _ = g.run_fast(c)                                     # CLEAR_STATE before it
    tb = TopBench(cfg)

    async def main(tb, ctx):
        await tb.send_w(ctx, sc.weight_beats())
        await tb.send_sequence(ctx, a)
        await tb.send_x_beats(ctx, [(v, last, False) for v, last, _ in
                                    x_beats(b)])
        await tb.wait_h(ctx, 4 * cfg.H)
        await tb.write(ctx, "CTRL", 0b011)                   # SPARSE | CLEAR_STATE
        await tb.send_x_beats(ctx, [(v, last, False) for v, last, _ in
                                    x_beats(c)])
        await tb.wait_h(ctx, 6 * cfg.H)

    tb.run(main)
    compare(tb, [ha, hb, hc], cfg.H)


@pytest.mark.parametrize("overlap", [False, True], ids=["", "overlap"])
def test_threshold_and_mode_change_between_sequences(rng, overlap):
    cfg = CONFIGS["X3H8N2"].replace(overlap=overlap)
    sc = Scenario(cfg, random_params(rng, cfg), random_sequences(rng, cfg, [3, 3]))
    a, b = sc.sequences
    g = sc.golden
    ha, _ = g.run_fast(a, theta=0)
    hb, _ = g.run_fast(b, theta=600)
    want_c = {k: cycles.cycle_model(cfg, a, ha, False)[k] + cycles.cycle_model(cfg, b, hb)[k]
              for k in ("CYCLES", "STEPS", "COLUMNS", "SKIPPED")}
    tb = TopBench(cfg)
    out = {}

    async def main(tb, ctx):
        await tb.send_w(ctx, sc.weight_beats())
        await tb.write(ctx, "CTRL", 0)
        await tb.send_sequence(ctx, a)
        await tb.wait_h(ctx, 3 * cfg.H)
        await tb.wait_idle(ctx)
        await tb.write(ctx, "THRESHOLD", 600)
        await tb.write(ctx, "CTRL", 1)
        await tb.send_sequence(ctx, b)
        await tb.wait_h(ctx, 6 * cfg.H)
        await tb.wait_idle(ctx)
        out.update(await tb.counters(ctx))

    tb.run(main)
    compare(tb, [ha, hb], cfg.H)
    assert out == want_c


@pytest.mark.parametrize("cfg", [Config(), Config(input_size=3, hidden_size=8, lanes=2),
                                 Config(input_size=3, hidden_size=8, lanes=8, cell_units=2)])
def test_elaboration_latency_matches_cycle_model(cfg):
    assert SkipLSTM.latency(cfg) == cycles.latency(cfg)


def test_weight_memory_split_into_banks_loads_and_reads(rng):
    # one lane with 64 rows x 36 columns = 2304 weights: two block-RAM banks (2048 + 256)
    cfg = Config(input_size=20, hidden_size=16, lanes=1)
    assert cfg.rows_per_lane * cfg.columns > 2048
    sc = Scenario(cfg, random_params(rng, cfg), random_sequences(rng, cfg, [2], density=0.8),
                  theta=50, sparse=False)
    tb, out = run_scenario(sc)
    compare(tb, sc.expected()[0], cfg.hidden_size)
    assert out["status"] == 0
