"""A host-driver transport that talks to ``SkipLSTMBoard`` in the Amaranth simulator through
its serial lines, bit by bit (8N1 at the board's divisor)."""

from __future__ import annotations

from collections import deque

from amaranth.sim import Simulator

__all__ = ["SimulatedUART", "uart_bits"]


def uart_bits(byte):
    """Line levels of one 8N1 character: start, 8 data bits LSB first, stop."""
    return [0] + [(byte >> i) & 1 for i in range(8)] + [1]


class SimulatedUART:
    """``write``/``read`` as a serial port, ``clock()`` in simulated seconds at ``clk_hz``.

    ``read(n, timeout)`` runs the simulation until ``n`` bytes have come back or ``timeout``
    simulated seconds have passed. ``framing_errors`` counts characters from the board whose
    stop bit was low.
    """

    def __init__(self, board, clk_hz=25e6):
        self.board, self.div, self.clk_hz = board, board.divisor, clk_hz
        self.to_board, self.from_board = deque(), deque()
        self.cycles = 0
        self.framing_errors = 0
        self.sim = Simulator(board)
        self.sim.add_clock(1 / clk_hz)
        for bench in (self._drive, self._monitor, self._count):
            self.sim.add_testbench(bench, background=True)

    async def _count(self, ctx):
        async for _ in ctx.tick():
            self.cycles += 1

    async def _drive(self, ctx):
        ctx.set(self.board.rx, 1)
        while True:
            if not self.to_board:
                await ctx.tick()
                continue
            for level in uart_bits(self.to_board.popleft()):
                ctx.set(self.board.rx, level)
                for _ in range(self.div):
                    await ctx.tick()

    async def _monitor(self, ctx):
        tx = self.board.tx
        while True:
            await ctx.tick()
            if ctx.get(tx):
                continue
            for _ in range(self.div // 2):           # to the middle of the start bit
                await ctx.tick()
            byte = 0
            for i in range(8):
                for _ in range(self.div):
                    await ctx.tick()
                byte |= ctx.get(tx) << i
            for _ in range(self.div):
                await ctx.tick()
            if ctx.get(tx):
                self.from_board.append(byte)
            else:
                self.framing_errors += 1

    def clock(self):
        return self.cycles / self.clk_hz

    def run_cycles(self, n):
        end = self.cycles + n
        while self.cycles < end:
            self.sim.advance()

    def write(self, data):
        self.to_board.extend(bytes(data))

    def read(self, n, timeout):
        end = self.cycles + int(timeout * self.clk_hz) + 1
        while len(self.from_board) < n and self.cycles < end:
            self.sim.advance()
        k = min(n, len(self.from_board))
        return bytes(self.from_board.popleft() for _ in range(k))
