"""cocotb end-to-end test of the board top: the host driver (``skiplstm.Device``, blocking
code) talks over a simulated serial line to the generated Verilog of ``SkipLSTMBoard``
(bridge + accelerator, shipped PTB model baked in) and must get the golden model's h,
bit for bit, and the cycle model's counters; corrupted frames are rejected, not executed.

The case file (``SKIPLSTM_CASE``) names the configuration, the bundle, the UART divisor and
the PTB test characters.
"""

from __future__ import annotations

import json
import os
from collections import deque

import cocotb
import numpy as np
from cocotb._bridge import bridge, resume
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, FallingEdge, RisingEdge, Timer

from golden import cycles
from golden.bundle import load_bundle
from golden.config import config_from_dict
from golden.model import GoldenLSTM, one_hot_inputs
from skiplstm import Device
from skiplstm.protocol import Cmd, FrameDecoder, Status, encode_request

CASE = json.loads(open(os.environ["SKIPLSTM_CASE"]).read())
PERIOD_NS = 40                                  # 25 MHz, as on the board


class CocotbUART:
    """Transport for ``Device``: ``write`` queues bytes for the board's rx pin, sent bit by
    bit when the host next reads (a request is always followed by reading its response);
    bytes are decoded from the tx pin; ``clock()`` is simulated time in seconds."""

    def __init__(self, dut, divisor):
        self.dut, self.div = dut, divisor
        self.to_board, self.from_board = deque(), deque()
        self.framing_errors = 0
        self.bit_ns = divisor * PERIOD_NS

    async def monitor(self):
        while True:
            await FallingEdge(self.dut.tx)
            await Timer(self.bit_ns // 2, unit="ns")
            if int(self.dut.tx.value):
                continue                          # glitch
            byte = 0
            for i in range(8):
                await Timer(self.bit_ns, unit="ns")
                byte |= int(self.dut.tx.value) << i
            await Timer(self.bit_ns, unit="ns")
            if int(self.dut.tx.value):
                self.from_board.append(byte)
            else:
                self.framing_errors += 1

    def clock(self):
        return cocotb.utils.get_sim_time("ns") * 1e-9

    def write(self, data):
        self.to_board.extend(bytes(data))

    @resume
    async def _transfer(self, n, timeout):
        """Sends what ``write`` queued, then waits for ``n`` bytes or ``timeout``; timers,
        not clock edges, so that Python wakes once per bit or character, not per cycle."""
        while self.to_board:
            byte = self.to_board.popleft()
            for level in [0] + [(byte >> i) & 1 for i in range(8)] + [1]:
                self.dut.rx.value = level
                await Timer(self.bit_ns, unit="ns")
        end = self.clock() + timeout
        while len(self.from_board) < n and self.clock() < end:
            await Timer(10 * self.bit_ns, unit="ns")

    def read(self, n, timeout):
        self._transfer(n, timeout)
        k = min(n, len(self.from_board))
        return bytes(self.from_board.popleft() for _ in range(k))


async def start(dut):
    Clock(dut.clk, PERIOD_NS, unit="ns").start()
    dut.rx.value = 1
    dut.rst.value = 1
    await ClockCycles(dut.clk, 4)
    dut.rst.value = 0
    await RisingEdge(dut.clk)
    uart = CocotbUART(dut, CASE["divisor"])
    cocotb.start_soon(uart.monitor())
    return uart


@cocotb.test()
async def test_host_driver_ptb_end_to_end(dut):
    """identify, threshold, the PTB characters step by step, counters, corrupted frames."""
    uart = await start(dut)
    cfg = config_from_dict(CASE["config"])
    b = load_bundle(CASE["ptb"], cfg)
    xs = one_hot_inputs(cfg, CASE["ptb_ids"])
    want, _ = GoldenLSTM(cfg, b.q).run(xs, theta=b.theta_raw)
    log = dut._log

    @bridge
    def host():
        dev = Device(uart, timeout=0.05)
        ident = dev.identify()
        log.info("board: %s", ident)
        assert (ident["input_size"], ident["hidden_size"], ident["lanes"]) == \
            (cfg.input_size, cfg.hidden_size, cfg.lanes) and ident["baked"]
        dev.write_reg("THRESHOLD", b.theta_raw)
        dev.write_reg("CTRL", 1 | 4)                     # sparse, clear counters
        # a corrupted x frame first: rejected, reported, not executed
        payload = bytes([3]) + b"".join(int(v).to_bytes(2, "little") for v in xs[0])
        frame = bytearray(encode_request(Cmd.SEND_X, payload))
        frame[8] ^= 0x01
        uart.write(bytes(frame))
        dec = FrameDecoder()
        got = []
        while not got:
            got = dec.feed(uart.read(dec.needed(), 0.05))
        assert got[0] == (Status.BAD_CRC, b""), got
        assert dev.counters()["STEPS"] == 0
        hs = dev.run(xs, input_bits=cfg.formats.input.bits)
        return hs, dev.counters()

    hs, counters = await host()
    bad = np.argwhere(hs != want)
    assert len(bad) == 0, f"{len(bad)} h mismatches; first at step {bad[0][0]}, unit {bad[0][1]}"
    model = cycles.cycle_model(cfg, xs, want, sparse=True)
    assert {k: counters[k] for k in model} == model, (counters, model)
    assert counters["STATUS"] == 0 and uart.framing_errors == 0
    zeros = 1 - np.count_nonzero(want) / want.size
    log.info("%d PTB characters bit-exact through driver -> UART -> board top; h zeros %.1f%%; "
             "CYCLES %d (= cycle model)", len(xs), 100 * zeros, counters["CYCLES"])
