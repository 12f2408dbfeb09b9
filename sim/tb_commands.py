"""The harness command language (``sim/harness/harness.cpp``) interpreted in cocotb, so the
same programmes run on Icarus; writes the same ``<out>.h`` / ``<out>.log`` files.

Environment: ``SKIPLSTM_COMMANDS`` (the command file), ``SKIPLSTM_OUT`` (output prefix).
"""

from __future__ import annotations

import os
import random
from collections import deque

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import RisingEdge

from golden.interface import Reg, StatusBit


class Fault(Exception):
    pass


class Driver:
    def __init__(self, dut, log):
        self.dut, self.log = dut, log
        self.xq, self.wq = deque(), deque()
        self.x_valid = self.w_valid = False
        self.rng = random.Random(1)
        self.px = self.pw = self.ph = 0
        self.X, self.H, self.hbits = 1, 1, 32
        self.xmask = self.wmask = 0xFFFFFFFF
        self.cycle, self.h_count, self.limit = 0, 0, 200_000_000
        self.h_out = []
        self.tready = 0
        self.driven = {}
        self.in_reset = True
        self.edge = RisingEdge(dut.clk)
        dut.rst.value = 1
        for name in ("s_axis_x_tvalid", "s_axis_w_tvalid", "m_axis_h_tready", "s_axil_awvalid",
                     "s_axil_wvalid", "s_axil_bready", "s_axil_arvalid", "s_axil_rready",
                     "s_axis_x_tdata", "s_axis_x_tlast", "s_axis_x_tuser", "s_axis_w_tdata",
                     "s_axis_w_tlast", "s_axil_awaddr", "s_axil_wdata", "s_axil_araddr",
                     "s_axil_awprot", "s_axil_arprot"):
            getattr(dut, name).value = 0
        dut.s_axil_wstrb.value = 0xF

    def chance(self, per_mille):
        return per_mille > 0 and self.rng.randrange(1000) < per_mille

    def drive(self, name, value):
        """Writes a port only when its value changes (each write costs a simulator call)."""
        if self.driven.get(name) != value:
            self.driven[name] = value
            getattr(self.dut, name).value = value

    async def tick(self):
        d = self.dut
        if not self.x_valid and self.xq and not self.chance(self.px):
            self.x_valid = True
            v, last, user = self.xq[0]
            self.drive("s_axis_x_tdata", v)
            self.drive("s_axis_x_tlast", int(last))
            self.drive("s_axis_x_tuser", int(user))
        if not self.w_valid and self.wq and not self.chance(self.pw):
            self.w_valid = True
            v, last, _ = self.wq[0]
            self.drive("s_axis_w_tdata", v)
            self.drive("s_axis_w_tlast", int(last))
        self.drive("s_axis_x_tvalid", int(self.x_valid))
        self.drive("s_axis_w_tvalid", int(self.w_valid))
        self.tready = 0 if self.chance(self.ph) else 1
        self.drive("m_axis_h_tready", self.tready)
        await self.edge
        self.cycle += 1
        if self.x_valid and d.s_axis_x_tready.value:
            self.xq.popleft()
            self.x_valid = False
        if self.w_valid and d.s_axis_w_tready.value:
            self.wq.popleft()
            self.w_valid = False
        if not self.in_reset and self.tready and d.m_axis_h_tvalid.value:
            raw = int(d.m_axis_h_tdata.value)
            v = raw - (1 << self.hbits) if raw >> (self.hbits - 1) else raw
            self.h_out.append(v)
            want_last = self.h_count % self.H == self.H - 1
            if bool(int(d.m_axis_h_tlast.value)) != want_last:
                self.log.append(f"fault h_tlast beat {self.h_count} "
                                f"tlast {int(d.m_axis_h_tlast.value)}")
            self.h_count += 1

    async def wait(self, what, done):
        start = self.cycle
        while not done():
            await self.tick()
            if self.cycle - start > self.limit:
                raise Fault(f"timeout in {what}")

    async def write(self, addr, value):
        d = self.dut
        d.s_axil_awaddr.value = addr
        d.s_axil_wdata.value = value
        aw = w = False
        while not (aw and w):
            d.s_axil_awvalid.value = int(not aw)
            d.s_axil_wvalid.value = int(not w)
            await self.tick()
            aw = aw or bool(d.s_axil_awready.value)
            w = w or bool(d.s_axil_wready.value)
        d.s_axil_awvalid.value = 0
        d.s_axil_wvalid.value = 0
        d.s_axil_bready.value = 1
        while True:
            await self.tick()
            if d.s_axil_bvalid.value:
                resp = int(d.s_axil_bresp.value)
                break
        d.s_axil_bready.value = 0
        return resp

    async def read(self, addr):
        d = self.dut
        d.s_axil_araddr.value = addr
        d.s_axil_arvalid.value = 1
        while True:
            await self.tick()
            if d.s_axil_arready.value:
                break
        d.s_axil_arvalid.value = 0
        d.s_axil_rready.value = 1
        while True:
            await self.tick()
            if d.s_axil_rvalid.value:
                value, resp = int(d.s_axil_rdata.value), int(d.s_axil_rresp.value)
                break
        d.s_axil_rready.value = 0
        return value, resp

    async def idle(self):
        await self.wait("wait_x", lambda: not self.xq and not self.x_valid)
        await self.wait("wait_w", lambda: not self.wq and not self.w_valid)
        start = self.cycle
        while (await self.read(Reg.STATUS))[0] & StatusBit.BUSY:
            if self.cycle - start > self.limit:
                raise Fault("timeout in idle (STATUS.BUSY stays 1)")

    async def read_cycles(self):
        lo, _ = await self.read(Reg.CYCLES_LO)
        hi, _ = await self.read(Reg.CYCLES_HI)
        return lo | hi << 32


async def execute(drv: Driver, lines):
    d, log = drv.dut, drv.log
    for lineno, line in enumerate(lines, 1):
        words = line.split("#")[0].split()
        if not words:
            continue
        cmd, a = words[0], words[1:]
        try:
            if cmd == "shape":
                drv.X, drv.H = int(a[0]), int(a[1])
                drv.xmask, drv.wmask = (1 << int(a[2])) - 1, (1 << int(a[3])) - 1
                drv.hbits = int(a[4])
            elif cmd == "seed":
                drv.rng.seed(int(a[0]))
            elif cmd == "gaps":
                drv.px, drv.pw, drv.ph = (int(v) for v in a[:3])
            elif cmd == "timeout":
                drv.limit = int(a[0])
            elif cmd == "reset":
                before = drv.h_count
                drv.xq.clear()
                drv.wq.clear()
                drv.x_valid = drv.w_valid = False
                d.rst.value = 1
                drv.in_reset = True
                for _ in range(int(a[0])):
                    await drv.tick()
                d.rst.value = 0
                drv.in_reset = False
                drv.h_count = 0
                log.append(f"reset {drv.cycle} {before}")
            elif cmd == "x":
                user, n = int(a[0]), int(a[1])
                for i in range(n):
                    drv.xq.append((int(a[2 + i]) & drv.xmask, i == n - 1, bool(user) and i == 0))
            elif cmd == "w":
                n = int(a[0])
                for i in range(n):
                    drv.wq.append((int(a[1 + i]) & drv.wmask, i == n - 1, False))
            elif cmd == "xfile":
                T, mode = int(a[1]), int(a[2])
                xs = np.fromfile(a[0], dtype=np.int32).reshape(T, drv.X)
                prev = await drv.read_cycles() if mode else 0
                for t in range(T):
                    for e in range(drv.X):
                        drv.xq.append((int(xs[t, e]) & drv.xmask, e == drv.X - 1,
                                       t == 0 and e == 0))
                    if mode:
                        target = drv.h_count - drv.h_count % drv.H + drv.H
                        await drv.wait("wait_h", lambda: drv.h_count >= target)
                        await drv.idle()
                        c = await drv.read_cycles()
                        log.append(f"cyc {t} {c - prev}")
                        prev = c
            elif cmd == "wr":
                addr, value = int(a[0], 16), int(a[1])
                log.append(f"wr {addr} {value} {await drv.write(addr, value)}")
            elif cmd == "rd":
                addr = int(a[0], 16)
                value, resp = await drv.read(addr)
                log.append(f"rd {addr} {value} {resp}")
            elif cmd == "wait_x":
                await drv.wait("wait_x", lambda: not drv.xq and not drv.x_valid)
            elif cmd == "wait_w":
                await drv.wait("wait_w", lambda: not drv.wq and not drv.w_valid)
            elif cmd == "wait_h":
                n = int(a[0])
                await drv.wait("wait_h", lambda: drv.h_count >= n)
            elif cmd == "idle":
                await drv.idle()
            elif cmd == "run":
                for _ in range(int(a[0])):
                    await drv.tick()
            elif cmd == "mark":
                log.append(f"mark {' '.join(a)} {drv.h_count}")
            else:
                raise Fault(f"unknown command '{cmd}'")
        except Fault as exc:
            log.append(f"error line {lineno} ({cmd}): {exc}")
            return 3
    return 0


@cocotb.test()
async def run_commands(dut):
    """Runs the command file; the comparison with the golden model is done by the caller."""
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    log = []
    drv = Driver(dut, log)
    lines = open(os.environ["SKIPLSTM_COMMANDS"]).read().splitlines()
    rc = await execute(drv, lines)
    log.append(f"end {drv.cycle}")
    prefix = os.environ["SKIPLSTM_OUT"]
    np.array(drv.h_out, dtype=np.int32).tofile(prefix + ".h")
    with open(prefix + ".log", "w") as f:
        f.write("\n".join(log) + "\n")
    assert rc == 0, log[-2]
