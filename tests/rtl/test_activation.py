"""Activation unit in the Amaranth simulator: every representable input, bit-exact."""

import numpy as np
from amaranth.sim import Simulator

from golden.activation import sigmoid_q, tanh_q
from golden.config import Config
from golden.fixed import Format
from rtl.activation import Activation


def run_activation(act_input, gate, segments, inputs, tanh_flags):
    dut = Activation(act_input, gate, segments, tag_width=16)
    got = []

    async def producer(ctx):
        for k, (a, th) in enumerate(zip(inputs, tanh_flags)):
            ctx.set(dut.i_valid, 1)
            ctx.set(dut.i_data, int(a))
            ctx.set(dut.i_tanh, int(th))
            ctx.set(dut.i_tag, k & 0xFFFF)
            await ctx.tick()
        ctx.set(dut.i_valid, 0)

    async def consumer(ctx):
        while len(got) < len(inputs):
            await ctx.tick()
            if ctx.get(dut.o_valid):
                got.append((ctx.get(dut.o_data), ctx.get(dut.o_tag)))

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(producer)
    sim.add_testbench(consumer)
    sim.run()
    return got


def check(act_input, gate, segments, n=None, seed=0):
    a = np.arange(act_input.min, act_input.max + 1)
    if n is not None:
        a = np.random.default_rng(seed).choice(a, n)
    th = np.arange(a.size) % 3 == 1
    got = run_activation(act_input, gate, segments, a, th)
    want = np.where(th, tanh_q(a, act_input, gate, segments),
                    sigmoid_q(a, act_input, gate, segments))
    data = np.array([g[0] for g in got])
    tags = [g[1] for g in got]
    assert tags == [k & 0xFFFF for k in range(a.size)]
    mism = np.flatnonzero(data != want)
    assert mism.size == 0, f"{mism.size} mismatches, first at a={a[mism[:5]]}: " \
                           f"{data[mism[:5]]} != {want[mism[:5]]}"


def test_activation_every_input_small_format():
    check(Format(9, 4), Format(10, 8), 16)


def test_activation_default_format_sampled():
    cfg = Config()
    check(cfg.act_input, cfg.gate, cfg.act_segments, n=3000)
