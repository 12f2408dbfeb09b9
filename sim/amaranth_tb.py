"""Whole-top testbench in the Amaranth simulator: drivers for the x, h and parameter streams
and the AXI4-Lite registers, built on async testbenches."""

from __future__ import annotations

from amaranth.hdl import ClockDomain, Module
from amaranth.sim import Simulator

from golden.interface import REGISTERS
from rtl.top import SkipLSTM

from .scenario import from_unsigned, to_unsigned, x_beats

__all__ = ["TopBench"]


class TopBench:
    """Owns a ``SkipLSTM`` in the Amaranth simulator.

    ``run(main)`` runs the async ``main(tb, ctx)`` next to an h collector that stores each
    beat as ``(value, tlast)`` in ``self.h`` and the cycle it was taken in ``self.h_cycles``;
    it drives ``m_axis_h_tready`` from ``self.h_ready`` (read every cycle). ``self.rst`` is the
    synchronous reset.
    """

    def __init__(self, cfg, params=None):
        self.cfg = cfg
        self.dut = SkipLSTM(cfg, params)
        self.h = []
        self.h_cycles = []
        self.h_ready = True

    # -- AXI4-Lite -----------------------------------------------------------------------

    async def write(self, ctx, name_or_addr, value):
        d = self.dut
        addr = REGISTERS.get(name_or_addr, name_or_addr)
        ctx.set(d.s_axil_awaddr, addr)
        ctx.set(d.s_axil_wdata, value)
        ctx.set(d.s_axil_wstrb, 0xF)
        ctx.set(d.s_axil_awvalid, 1)
        ctx.set(d.s_axil_wvalid, 1)
        await ctx.tick().until(d.s_axil_awready)
        ctx.set(d.s_axil_awvalid, 0)
        ctx.set(d.s_axil_wvalid, 0)
        ctx.set(d.s_axil_bready, 1)
        (resp,) = await ctx.tick().sample(d.s_axil_bresp).until(d.s_axil_bvalid)
        ctx.set(d.s_axil_bready, 0)
        return resp

    async def read(self, ctx, name_or_addr):
        d = self.dut
        addr = REGISTERS.get(name_or_addr, name_or_addr)
        ctx.set(d.s_axil_araddr, addr)
        ctx.set(d.s_axil_arvalid, 1)
        await ctx.tick().until(d.s_axil_arready)
        ctx.set(d.s_axil_arvalid, 0)
        ctx.set(d.s_axil_rready, 1)
        data, resp = await ctx.tick().sample(d.s_axil_rdata, d.s_axil_rresp) \
            .until(d.s_axil_rvalid)
        ctx.set(d.s_axil_rready, 0)
        return data if resp == 0 else ("SLVERR", data)

    async def counters(self, ctx):
        lo = await self.read(ctx, "CYCLES_LO")
        hi = await self.read(ctx, "CYCLES_HI")
        return {"CYCLES": lo | (hi << 32), "STEPS": await self.read(ctx, "STEPS"),
                "COLUMNS": await self.read(ctx, "COLUMNS"),
                "SKIPPED": await self.read(ctx, "SKIPPED")}

    # -- streams -------------------------------------------------------------------------

    async def send_w(self, ctx, beats, last_at=None):
        """Parameter beats; ``tlast`` on beat ``last_at`` (default: the last one)."""
        d = self.dut
        last_at = len(beats) - 1 if last_at is None else last_at
        for i, v in enumerate(beats):
            ctx.set(d.s_axis_w_tdata, to_unsigned(v, self.dut.w_width))
            ctx.set(d.s_axis_w_tlast, i == last_at)
            ctx.set(d.s_axis_w_tvalid, 1)
            await ctx.tick().until(d.s_axis_w_tready)
        ctx.set(d.s_axis_w_tvalid, 0)

    async def send_x_beats(self, ctx, beats):
        d = self.dut
        for v, last, user in beats:
            ctx.set(d.s_axis_x_tdata, to_unsigned(v, self.dut.x_width))
            ctx.set(d.s_axis_x_tlast, last)
            ctx.set(d.s_axis_x_tuser, user)
            ctx.set(d.s_axis_x_tvalid, 1)
            await ctx.tick().until(d.s_axis_x_tready)
        ctx.set(d.s_axis_x_tvalid, 0)

    async def send_sequence(self, ctx, sequence):
        await self.send_x_beats(ctx, x_beats(sequence))

    async def wait_h(self, ctx, count, timeout=10_000_000):
        for _ in range(timeout):
            if len(self.h) >= count:
                return
            await ctx.tick()
        raise TimeoutError(f"only {len(self.h)} of {count} h elements arrived")

    async def wait_idle(self, ctx):
        while (await self.read(ctx, "STATUS")) & 1:
            pass

    async def _collect(self, ctx):
        d = self.dut
        ctx.set(d.m_axis_h_tready, self.h_ready)
        cycle = 0
        async for _, _, valid, ready, data, last in ctx.tick().sample(
                d.m_axis_h_tvalid, d.m_axis_h_tready, d.m_axis_h_tdata, d.m_axis_h_tlast):
            if valid and ready:
                self.h.append((from_unsigned(data, self.dut.h_width), bool(last)))
                self.h_cycles.append(cycle)
            cycle += 1
            ctx.set(d.m_axis_h_tready, self.h_ready)

    def run(self, main, vcd=None):
        top = Module()
        top.domains.sync = cd = ClockDomain("sync")
        top.submodules.dut = self.dut
        self.rst = cd.rst
        sim = Simulator(top)
        sim.add_clock(1e-8)
        sim.add_process(self._collect)

        async def bench(ctx):
            await main(self, ctx)

        sim.add_testbench(bench)
        if vcd:
            with sim.write_vcd(vcd):
                sim.run()
        else:
            sim.run()
