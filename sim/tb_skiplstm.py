"""cocotb system tests of the generated ``skiplstm`` Verilog against the golden model.

The case (configuration, parameters, seed, size knobs) comes as a JSON file named by the
environment variable ``SKIPLSTM_CASE`` (written by ``tests/test_cocotb.py``); the generated
Verilog has no parameters to read back. ``SKIPLSTM_SEED`` overrides the seed and
``SKIPLSTM_NUM_SAMPLES`` the number of random sequences.
"""

from __future__ import annotations

import json
import os
import random

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, RisingEdge
from cocotbext.axi import (AxiLiteBus, AxiLiteMaster, AxiStreamBus, AxiStreamFrame,
                           AxiStreamSink, AxiStreamSource)

from golden import cycles
from golden.config import config_from_dict
from golden.params import load_quant_npz, stream_image
from golden.interface import ARCH_BAKED, ARCH_OVERLAP, ID_VALUE, REGISTERS, StatusBit

from .scenario import Scenario, from_unsigned, random_params, random_sequences, to_unsigned

CASE = json.loads(open(os.environ["SKIPLSTM_CASE"]).read())
CFG = config_from_dict(CASE["config"])
SEED = int(os.environ.get("SKIPLSTM_SEED", CASE["seed"]))
NUM_SAMPLES = int(os.environ.get("SKIPLSTM_NUM_SAMPLES", CASE["num_samples"]))
SMALL = CASE["small"]                    # small enough to load parameters through s_axis_w
# deadlock guard: a test that has not finished after this much simulated time fails
LIMIT = {"timeout_time": CASE["timeout_ms"], "timeout_unit": "ms"}


def theta_of(value):
    """A pruning threshold of ``value`` (real units) in raw state-format LSBs, at least 1."""
    return max(1, int(round(value * CFG.formats.state.scale)))


def rng_for(name):
    seed = [SEED, sum(map(ord, name))]
    cocotb.log.info("seed %d for %s (SKIPLSTM_SEED overrides)", SEED, name)
    return np.random.default_rng(seed)


class TB:
    """Clock, reset, AXI drivers and golden scoreboard for one ``skiplstm`` instance."""

    def __init__(self, dut):
        self.dut = dut
        self.cfg = CFG
        self.xw = len(dut.s_axis_x_tdata)
        self.hw = len(dut.m_axis_h_tdata)
        self.ww = len(dut.s_axis_w_tdata)
        dut.rst.value = 1
        for name in ("s_axis_x_tvalid", "s_axis_w_tvalid", "m_axis_h_tready", "s_axil_awvalid",
                     "s_axil_wvalid", "s_axil_bready", "s_axil_arvalid", "s_axil_rready"):
            getattr(dut, name).value = 0
        cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
        self.x = AxiStreamSource(AxiStreamBus.from_prefix(dut, "s_axis_x"), dut.clk, dut.rst,
                                 byte_size=self.xw)
        self.w = AxiStreamSource(AxiStreamBus.from_prefix(dut, "s_axis_w"), dut.clk, dut.rst,
                                 byte_size=self.ww)
        self.h = AxiStreamSink(AxiStreamBus.from_prefix(dut, "m_axis_h"), dut.clk, dut.rst,
                               byte_size=self.hw)
        self.axil = AxiLiteMaster(AxiLiteBus.from_prefix(dut, "s_axil"), dut.clk, dut.rst)
        self.params = load_quant_npz(CASE["params"], CFG)

    async def reset(self):
        self.dut.rst.value = 1
        await ClockCycles(self.dut.clk, 3)
        self.dut.rst.value = 0
        await RisingEdge(self.dut.clk)

    # -- traffic shaping -----------------------------------------------------------------

    def set_traffic(self, kind, seed=1):
        """``smooth``: no gaps, no back-pressure. ``gappy``: random input gaps and output
        back-pressure (each about 40% of cycles)."""
        if kind == "smooth":
            self.x.set_pause_generator(None)
            self.h.set_pause_generator(None)
        else:
            r = random.Random(seed)
            self.x.set_pause_generator(iter(lambda: r.random() < 0.4, None))
            self.h.set_pause_generator(iter(lambda: r.random() < 0.4, None))

    # -- registers -----------------------------------------------------------------------

    async def read(self, name):
        return int.from_bytes((await self.axil.read(REGISTERS[name], 4)).data, "little")

    async def write(self, name, value):
        await self.axil.write(REGISTERS[name], int(value).to_bytes(4, "little"))

    async def counters(self):
        lo = await self.read("CYCLES_LO")
        hi = await self.read("CYCLES_HI")
        return {"CYCLES": lo | hi << 32, "STEPS": await self.read("STEPS"),
                "COLUMNS": await self.read("COLUMNS"), "SKIPPED": await self.read("SKIPPED")}

    async def wait_idle(self, limit=10_000_000):
        for _ in range(limit):
            if not (await self.read("STATUS")) & 1:
                return
        raise TimeoutError("STATUS.BUSY never cleared")

    # -- streams -------------------------------------------------------------------------

    async def load(self, beats, last_at=None):
        data = [to_unsigned(v, self.ww) for v in beats]
        if last_at is None or last_at == len(data) - 1:
            await self.w.send(AxiStreamFrame(data))
        else:                                       # tlast early: two frames
            await self.w.send(AxiStreamFrame(data[:last_at + 1]))
            if data[last_at + 1:]:
                await self.w.send(AxiStreamFrame(data[last_at + 1:]))
        await self.w.wait()

    async def send_vector(self, x, first):
        n = len(x)
        await self.x.send(AxiStreamFrame([to_unsigned(v, self.xw) for v in x],
                                         tuser=[int(first)] + [0] * (n - 1)))

    async def send_sequence(self, xs, tuser=True):
        for t, x in enumerate(xs):
            await self.send_vector(x, tuser and t == 0)

    async def recv_steps(self, n):
        out = []
        for _ in range(n):
            frame = await self.h.recv()
            out.append([from_unsigned(v, self.hw) for v in frame.tdata])
        return np.array(out, dtype=np.int64).reshape(n, -1)

    # -- scoreboard ----------------------------------------------------------------------

    def check(self, got_seqs, want_seqs):
        """Names the first mismatching (sequence, step, unit); counts all mismatches."""
        bad, first = 0, None
        for s, (got, want) in enumerate(zip(got_seqs, want_seqs)):
            assert got.shape == want.shape, f"sequence {s}: shape {got.shape} != {want.shape}"
            diff = np.argwhere(got != want)
            bad += len(diff)
            if len(diff) and first is None:
                t, u = diff[0]
                first = f"sequence {s}, step {t}, unit {u}: got {got[t, u]}, want {want[t, u]}"
        assert bad == 0, f"{bad} h mismatches; first at {first}"


async def start(dut, load=None):
    tb = TB(dut)
    await tb.reset()
    if load is None:
        load = not CASE["baked"]
    if load:
        await tb.load(stream_image(tb.params))
    return tb


def scenario(tb, rng, lengths, density, theta, sparse=True):
    return Scenario(CFG, tb.params, random_sequences(rng, CFG, lengths, density), theta, sparse)


# -- tests ---------------------------------------------------------------------------------


@cocotb.test(**LIMIT)
async def test_identity_registers(dut):
    tb = await start(dut, load=False)
    assert await tb.read("ID") == ID_VALUE
    assert await tb.read("SHAPE") == CFG.input_size | CFG.hidden_size << 16
    assert await tb.read("ARCH") == (CFG.lanes | (ARCH_BAKED if CASE["baked"] else 0)
                                     | (ARCH_OVERLAP if CFG.overlap else 0))
    assert await tb.read("CTRL") == 1
    assert await tb.read("THRESHOLD") == 0
    assert await tb.read("STATUS") == 0


@cocotb.test(**LIMIT)
@cocotb.parametrize(sparse=[True, False], traffic=["smooth", "gappy"])
async def test_random_sequences(dut, sparse, traffic):
    """Random sequences, zeros in x, theta > 0: bit-exact h and exact counters. The counters
    count only cycles of steps in flight, which never stall, so gaps and back-pressure leave
    them unchanged (with ``overlap``, x gaps may keep an x pass from hiding: bounds)."""
    tb = await start(dut)
    rng = rng_for(f"random{sparse}{traffic}")
    n = NUM_SAMPLES if sparse else max(1, NUM_SAMPLES // 2)
    lengths = [int(v) for v in rng.integers(1, CASE["max_len"] + 1, n)]
    theta = theta_of(1 / 8)
    sc = scenario(tb, rng, lengths, density=0.3, theta=theta, sparse=sparse)
    want_h, want_c = sc.expected()
    tb.set_traffic(traffic, SEED)
    await tb.write("THRESHOLD", theta)
    await tb.write("CTRL", int(sparse))
    sender = cocotb.start_soon(_send_all(tb, sc.sequences))
    got = [await tb.recv_steps(len(s)) for s in sc.sequences]
    await sender
    await tb.wait_idle()
    tb.check(got, want_h)
    got_c = await tb.counters()
    if CFG.overlap and traffic == "gappy":
        # x passes hide in the previous step's drain only if x_t is there in time: CYCLES
        # lies between the model and the model with no x pass hidden
        most = sc.expected(idle=True)[1]["CYCLES"]
        assert want_c["CYCLES"] <= got_c["CYCLES"] <= most, (got_c, want_c, most)
        got_c["CYCLES"] = want_c["CYCLES"]
    assert got_c == want_c
    assert await tb.read("STATUS") == 0


async def _send_all(tb, sequences):
    for s in sequences:
        await tb.send_sequence(s)


@cocotb.test(**LIMIT)
async def test_sparse_equals_dense(dut):
    tb = await start(dut)
    rng = rng_for("sparse_dense")
    sc = scenario(tb, rng, [CASE["max_len"]], density=0.2, theta=theta_of(1 / 4))
    await tb.write("THRESHOLD", sc.theta)
    res = []
    for mode in (1, 0):
        await tb.write("CTRL", mode)
        await tb.send_sequence(sc.sequences[0])
        res.append(await tb.recv_steps(len(sc.sequences[0])))
    np.testing.assert_array_equal(res[0], res[1])
    tb.check([res[0]], sc.expected()[0])


@cocotb.test(**LIMIT)
async def test_restart_clear_state_and_threshold_change(dut):
    """tuser restarts a sequence; vectors without tuser continue the state; CLEAR_STATE makes
    the next step start from zero state; THRESHOLD changes between sequences."""
    tb = await start(dut)
    rng = rng_for("restart")
    L = CASE["max_len"]
    a, b, c = random_sequences(rng, CFG, [L, L, L], 0.5)
    g = Scenario(CFG, tb.params, []).golden
    t1, t2 = theta_of(1 / 16), theta_of(1 / 4)
    ha, ca = g.run_fast(a, theta=t1)
    hb, _ = g.run_fast(b, theta=t1, h0=ha[-1], c0=ca[-1])
    hc, _ = g.run_fast(c, theta=t2)
    await tb.write("THRESHOLD", t1)
    await tb.send_sequence(a)
    got_a = await tb.recv_steps(L)
    await tb.send_sequence(b, tuser=False)
    got_b = await tb.recv_steps(L)
    await tb.wait_idle()
    await tb.write("THRESHOLD", t2)
    await tb.write("CTRL", 0b011)
    await tb.send_sequence(c, tuser=False)
    got_c = await tb.recv_steps(L)
    tb.check([got_a, got_b, got_c], [ha, hb, hc])


@cocotb.test(skip=not SMALL, **LIMIT)
async def test_parameter_reload_between_sequences(dut):
    tb = await start(dut)
    rng = rng_for("reload")
    other = random_params(rng, CFG)
    xs = random_sequences(rng, CFG, [CASE["max_len"]], 0.6)[0]
    want1 = Scenario(CFG, tb.params, []).golden.run_fast(xs)[0]
    want2 = Scenario(CFG, other, []).golden.run_fast(xs)[0]
    await tb.send_sequence(xs)
    got1 = await tb.recv_steps(len(xs))
    await tb.wait_idle()
    await tb.load(stream_image(other))
    await tb.send_sequence(xs, tuser=False)        # a complete load cleared the state
    got2 = await tb.recv_steps(len(xs))
    tb.check([got1, got2], [want1, want2])


@cocotb.test(**LIMIT)
async def test_reset_in_the_middle_of_a_stream(dut):
    tb = await start(dut)
    rng = rng_for("reset")
    xs = random_sequences(rng, CFG, [2], 0.8)[0]
    want = Scenario(CFG, tb.params, []).golden.run_fast(xs)[0]
    await tb.send_vector(xs[0], True)
    await tb.x.wait()
    await ClockCycles(dut.clk, 20)                 # the step is in flight
    assert (await tb.read("STATUS")) & 1
    tb.x.clear()
    tb.h.clear()
    await tb.reset()
    assert await tb.counters() == {"CYCLES": 0, "STEPS": 0, "COLUMNS": 0, "SKIPPED": 0}
    assert await tb.read("STATUS") == 0
    await tb.send_sequence(xs)                     # parameters survive reset
    tb.check([await tb.recv_steps(len(xs))], [want])


@cocotb.test(**LIMIT)
async def test_malformed_x_vectors(dut):
    tb = await start(dut)
    rng = rng_for("malformed_x")
    xs = random_sequences(rng, CFG, [2], 0.7)[0]
    want = Scenario(CFG, tb.params, []).golden.run_fast(xs)[0]
    X = CFG.input_size
    if X > 1:                                      # short vector (X = 1 cannot be short)
        await tb.send_vector(xs[0][:X - 1], True)
        await tb.x.wait()
        await ClockCycles(dut.clk, 2)
        assert await tb.read("STATUS") == StatusBit.PROTOCOL_ERROR
        await tb.write("STATUS", StatusBit.PROTOCOL_ERROR)
    await tb.send_vector(np.concatenate([xs[0], xs[0]]), True)      # long vector
    await tb.x.wait()
    await ClockCycles(dut.clk, 2)
    assert await tb.read("STATUS") == StatusBit.PROTOCOL_ERROR
    await tb.write("STATUS", StatusBit.PROTOCOL_ERROR)
    assert await tb.read("STATUS") == 0
    assert await tb.read("STEPS") == 0
    await tb.send_sequence(xs)                                       # resynchronised
    tb.check([await tb.recv_steps(len(xs))], [want])
    assert await tb.read("STATUS") == 0


@cocotb.test(skip=not SMALL, **LIMIT)
async def test_malformed_parameter_loads(dut):
    tb = await start(dut)
    beats = [int(v) for v in stream_image(tb.params)]
    await tb.load(beats[:len(beats) // 2])                           # short
    await ClockCycles(dut.clk, 2)
    assert await tb.read("STATUS") == StatusBit.PROTOCOL_ERROR
    await tb.write("STATUS", StatusBit.PROTOCOL_ERROR)
    await tb.load(beats + beats[:5])                                 # long
    await ClockCycles(dut.clk, 2)
    assert await tb.read("STATUS") == StatusBit.PROTOCOL_ERROR
    await tb.write("STATUS", StatusBit.PROTOCOL_ERROR)
    await tb.load(beats)                                             # good
    rng = rng_for("malformed_w")
    xs = random_sequences(rng, CFG, [2], 0.7)[0]
    await tb.send_sequence(xs)
    tb.check([await tb.recv_steps(len(xs))],
             [Scenario(CFG, tb.params, []).golden.run_fast(xs)[0]])
    assert await tb.read("STATUS") == 0


@cocotb.test(**LIMIT)
async def test_values_at_format_limits(dut):
    """Inputs at the input format's min and max drive the saturation paths (activation input,
    cell, state) with the loaded parameters."""
    tb = await start(dut)
    f = CFG.formats.input
    rng = rng_for("limits")
    xs = rng.choice([f.min, f.max, 0], size=(CASE["max_len"] + 1, CFG.input_size))
    g = Scenario(CFG, tb.params, []).golden
    want = g.run_fast(xs)[0]
    tr = g.trace(xs[:1])
    cocotb.log.info("saturations on step 0: %s", tr[0].saturated)
    await tb.send_sequence(xs)
    tb.check([await tb.recv_steps(len(xs))], [want])
    await tb.wait_idle()
    c = await tb.counters()
    assert c == cycles.cycle_model(CFG, xs, want)
