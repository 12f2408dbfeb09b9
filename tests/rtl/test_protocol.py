"""Malformed traffic: PROTOCOL_ERROR is set, nothing hangs, the core resynchronises."""

import numpy as np

from golden.config import Config
from golden.interface import StatusBit
from sim.amaranth_tb import TopBench
from sim.scenario import Scenario, random_params, random_sequences, x_beats

PERR = StatusBit.PROTOCOL_ERROR

CFG = Config(input_size=3, hidden_size=8, lanes=2)


def setup(rng, n=2):
    sc = Scenario(CFG, random_params(rng, CFG), random_sequences(rng, CFG, [2] * n), theta=0)
    return sc, [sc.golden.run_fast(s)[0] for s in sc.sequences]


def h_values(tb):
    return np.array([v for v, _ in tb.h]).reshape(-1, CFG.H)


def test_short_and_long_x_vectors_are_dropped_and_flagged(rng):
    sc, want = setup(rng)
    tb = TopBench(CFG)
    status = []

    async def main(tb, ctx):
        await tb.send_w(ctx, sc.weight_beats())
        await tb.send_x_beats(ctx, [(5, False, True), (7, True, False)])        # short: 2 of 3
        status.append(await tb.read(ctx, "STATUS"))
        await tb.write(ctx, "STATUS", PERR)                                     # W1C
        status.append(await tb.read(ctx, "STATUS"))
        await tb.send_x_beats(ctx, [(1, False, True), (2, False, False), (3, False, False),
                                    (4, False, False), (5, True, False)])       # long: 5 beats
        status.append(await tb.read(ctx, "STATUS"))
        await tb.write(ctx, "STATUS", PERR)
        for s in sc.sequences:                                                 # resynchronised
            await tb.send_sequence(ctx, s)
        await tb.wait_h(ctx, 4 * CFG.H)
        await tb.wait_idle(ctx)
        status.append(await tb.read(ctx, "STATUS"))
        status.append(await tb.read(ctx, "STEPS"))

    tb.run(main)
    assert status == [PERR, 0, PERR, 0, 4]           # no step ran for the malformed vectors
    np.testing.assert_array_equal(h_values(tb), np.concatenate(want))


def test_x_value_not_sign_extended_is_flagged(rng):
    from golden.fixed import Format
    cfg = Config(input_size=3, hidden_size=8, lanes=2, formats={
        "input": Format(12, 8), "weight": Format(8, 6), "bias": Format(16, 12),
        "state": Format(16, 12), "cell": Format(16, 11)})
    tb = TopBench(cfg)
    status = []

    async def main(tb, ctx):
        await tb.send_x_beats(ctx, [(0x0800, False, True), (1, False, False), (2, True, False)])
        status.append(await tb.read(ctx, "STATUS"))

    tb.run(main)
    assert status[0] & PERR


def test_short_and_long_parameter_loads_are_flagged_then_reload_works(rng):
    sc, want = setup(rng, 1)
    beats = sc.weight_beats()
    tb = TopBench(CFG)
    status = []

    async def main(tb, ctx):
        await tb.send_w(ctx, beats[:10])                              # short load
        status.append(await tb.read(ctx, "STATUS"))
        await tb.write(ctx, "STATUS", PERR)
        await tb.send_w(ctx, beats + [0, 0, 0], last_at=len(beats) + 2)   # long load
        status.append(await tb.read(ctx, "STATUS"))
        await tb.write(ctx, "STATUS", PERR)
        await tb.send_w(ctx, beats)                                   # a good load
        status.append(await tb.read(ctx, "STATUS"))
        await tb.send_sequence(ctx, sc.sequences[0])
        await tb.wait_h(ctx, 2 * CFG.H)

    tb.run(main)
    assert status == [PERR, PERR, 0]
    np.testing.assert_array_equal(h_values(tb), want[0])


def test_parameter_value_outside_weight_format_is_flagged(rng):
    sc, _ = setup(rng, 1)
    beats = sc.weight_beats()
    beats[3] = 300                                   # weight format is 8 bits
    tb = TopBench(CFG)
    status = []

    async def main(tb, ctx):
        await tb.send_w(ctx, beats)
        status.append(await tb.read(ctx, "STATUS"))

    tb.run(main)
    assert status == [PERR]


def test_complete_load_clears_state(rng):
    sc, want = setup(rng, 1)
    seq = sc.sequences[0]
    tb = TopBench(CFG)

    async def main(tb, ctx):
        await tb.send_w(ctx, sc.weight_beats())
        await tb.send_sequence(ctx, seq)
        await tb.wait_h(ctx, 2 * CFG.H)
        await tb.wait_idle(ctx)
        await tb.send_w(ctx, sc.weight_beats())
        # no tuser: the load alone must have cleared h and c
        await tb.send_x_beats(ctx, [(v, last, False) for v, last, _ in x_beats(seq)])
        await tb.wait_h(ctx, 4 * CFG.H)

    tb.run(main)
    np.testing.assert_array_equal(h_values(tb), np.concatenate([want[0], want[0]]))


def test_complete_load_clears_state_of_a_waiting_step(rng):
    """x_t arrives whole while a load is under way: the step that starts as the load
    completes (the next cycle) starts from zero state, and the one after it does not."""
    sc, want = setup(rng, 1)
    seq = sc.sequences[0]
    tb = TopBench(CFG)
    beats = sc.weight_beats()

    async def main(tb, ctx):
        await tb.send_w(ctx, beats)
        await tb.send_sequence(ctx, seq)
        await tb.wait_h(ctx, 2 * CFG.H)
        await tb.wait_idle(ctx)
        await tb.send_w(ctx, beats[:-1], last_at=len(beats))       # all but the last beat
        no_user = [(v, last, False) for v, last, _ in x_beats(seq)]
        await tb.send_x_beats(ctx, no_user[:CFG.X])                 # x_0 waits for the load
        await tb.send_w(ctx, beats[-1:])
        await tb.send_x_beats(ctx, no_user[CFG.X:])
        await tb.wait_h(ctx, 4 * CFG.H)

    tb.run(main)
    np.testing.assert_array_equal(h_values(tb), np.concatenate([want[0], want[0]]))


def test_reset_in_the_middle_of_a_stream(rng):
    sc, want = setup(rng, 1)
    tb = TopBench(CFG)
    after = {}

    async def main(tb, ctx):
        await tb.send_w(ctx, sc.weight_beats())
        await tb.send_x_beats(ctx, x_beats(sc.sequences[0])[:4])     # 1 vector and a bit
        await ctx.tick().repeat(20)                                   # a step is in flight
        ctx.set(tb.rst, 1)
        for _ in range(2):
            await ctx.tick()                                          # (reset active)
        ctx.set(tb.rst, 0)
        await ctx.tick()
        tb.h.clear()
        after["status"] = await tb.read(ctx, "STATUS")
        after["counters"] = await tb.counters(ctx)
        await tb.send_sequence(ctx, sc.sequences[0])                  # parameters survived
        await tb.wait_h(ctx, 2 * CFG.H)

    tb.run(main)
    assert after["status"] == 0
    assert after["counters"] == {"CYCLES": 0, "STEPS": 0, "COLUMNS": 0, "SKIPPED": 0}
    np.testing.assert_array_equal(h_values(tb), want[0])


def test_parameter_load_sent_while_a_step_runs_waits_for_it(rng):
    """Beats sent while a step runs: two wait in the input register (then tready is 0),
    STATUS.BUSY is 1; when the step ends they win over the next step, whose x has arrived
    meanwhile; the load completes, and that step starts from zero state although its x
    has no tuser."""
    sc, want = setup(rng, 1)
    beats = sc.weight_beats()
    seq = sc.sequences[0]
    xb = x_beats(seq)
    tb = TopBench(CFG)
    log = {}

    async def main(tb, ctx):
        d = tb.dut
        await tb.send_w(ctx, beats)
        await tb.send_x_beats(ctx, xb[:CFG.X])                  # step 0 (tuser on beat 0)
        for _ in range(4):
            await ctx.tick()
        ctx.set(d.s_axis_w_tdata, beats[0] & 0xFFFF)
        ctx.set(d.s_axis_w_tlast, 0)
        ctx.set(d.s_axis_w_tvalid, 1)
        accepted = 0
        for _ in range(20):                                      # the step takes longer
            _, _, ready = await ctx.tick().sample(d.s_axis_w_tready)
            if ready:
                accepted += 1
                ctx.set(d.s_axis_w_tdata, beats[accepted] & 0xFFFF)
        ctx.set(d.s_axis_w_tvalid, 0)
        log["accepted"] = accepted
        # x_1 arrives while the beats wait: when step 0 ends, they win over step 1
        await tb.send_x_beats(ctx, [(v, last, False) for v, last, _ in xb[CFG.X:]])
        log["status"] = await tb.read(ctx, "STATUS")
        for _ in range(200):                       # step 0 ends; the rest of the load comes
            await ctx.tick()                       # later (no beat at the port meanwhile)
        await tb.send_w(ctx, beats[accepted:])
        await tb.wait_h(ctx, 2 * CFG.H)
        await tb.wait_idle(ctx)
        log["steps"] = await tb.read(ctx, "STEPS")

    tb.run(main)
    assert log == {"accepted": 2, "status": StatusBit.BUSY, "steps": 2}
    fresh = sc.golden.run_fast(seq[1:])[0]
    np.testing.assert_array_equal(h_values(tb), np.concatenate([want[0][:1], fresh]))
