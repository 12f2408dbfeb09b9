"""8N1 UART receiver and transmitter (one clock domain, integer clock divisor)."""

from amaranth.hdl import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.cdc import FFSynchronizer
from amaranth.lib.wiring import In, Out

__all__ = ["UARTRx", "UARTTx", "divisor_for"]


def divisor_for(clk_hz, baud):
    """Clock cycles per bit; the baud-rate error must stay under 2% for 8N1 framing."""
    if baud <= 0 or clk_hz <= 0:
        raise ValueError(f"baud must be > 0 (got {baud}) and clk_hz > 0 (got {clk_hz})")
    div = round(clk_hz / baud)
    if div < 4:
        raise ValueError(f"baud {baud} is too fast for a {clk_hz / 1e6:g} MHz clock: "
                         f"need at least 4 clock cycles per bit (got {clk_hz / baud:.2f})")
    err = abs(clk_hz / div - baud) / baud
    if err > 0.02:
        raise ValueError(f"baud {baud} at {clk_hz / 1e6:g} MHz: divisor {div} is off by "
                         f"{100 * err:.1f}% (allowed: 2%)")
    return div


class UARTRx(wiring.Component):
    """Receiver: start bit checked at mid-bit, 8 data bits LSB first sampled mid-bit, stop bit
    checked. A byte with a low stop bit is dropped and flagged on ``frame_error``.

    Members
    -------
    rx : the serial line (asynchronous; synchronised here).
    o_valid, o_data : one-cycle pulse with each received byte.
    frame_error : one-cycle pulse, a byte was dropped (stop bit low).
    """

    def __init__(self, divisor):
        self.divisor = int(divisor)
        super().__init__({"rx": In(1, init=1), "o_valid": Out(1), "o_data": Out(8),
                          "frame_error": Out(1)})

    def elaborate(self, platform):
        m = Module()
        div = self.divisor
        rx = Signal(init=1, name="rx_sync")
        m.submodules.sync = FFSynchronizer(self.rx, rx, init=1)

        timer = Signal(range(div + 1), name="timer")
        bits = Signal(8, name="bits")
        count = Signal(range(9), name="count")
        m.d.sync += [self.o_valid.eq(0), self.frame_error.eq(0)]
        with m.If(timer != 0):
            m.d.sync += timer.eq(timer - 1)

        with m.FSM(name="rx_fsm"):
            with m.State("IDLE"):
                with m.If(~rx):
                    m.d.sync += timer.eq(div // 2 - 1)
                    m.next = "START"
            with m.State("START"):
                with m.If(timer == 0):
                    with m.If(rx):                      # glitch, not a start bit
                        m.next = "IDLE"
                    with m.Else():
                        m.d.sync += [timer.eq(div - 1), count.eq(0)]
                        m.next = "DATA"
            with m.State("DATA"):
                with m.If(timer == 0):
                    m.d.sync += [bits.eq((bits >> 1) | (rx << 7)), count.eq(count + 1),
                                 timer.eq(div - 1)]
                    with m.If(count == 7):
                        m.next = "STOP"
            with m.State("STOP"):
                with m.If(timer == 0):
                    with m.If(rx):
                        m.d.sync += [self.o_valid.eq(1), self.o_data.eq(bits)]
                        m.next = "IDLE"
                    with m.Else():
                        m.d.sync += self.frame_error.eq(1)
                        m.next = "BREAK"
            with m.State("BREAK"):                      # wait for the line to go idle
                with m.If(rx):
                    m.next = "IDLE"
        return m


class UARTTx(wiring.Component):
    """Transmitter: ``i_valid``/``i_ready`` byte handshake, 8N1, LSB first.

    Members
    -------
    tx : the serial line (idle high).
    i_valid, i_ready, i_data : the byte to send.
    """

    def __init__(self, divisor):
        self.divisor = int(divisor)
        super().__init__({"tx": Out(1, init=1), "i_valid": In(1), "i_ready": Out(1),
                          "i_data": In(8)})

    def elaborate(self, platform):
        m = Module()
        div = self.divisor
        timer = Signal(range(div), name="timer")
        shreg = Signal(10, name="shreg")
        count = Signal(range(11), name="count")
        m.d.comb += self.i_ready.eq((count == 0) & (timer == 0))
        with m.If(timer != 0):
            m.d.sync += timer.eq(timer - 1)
        with m.Elif(count != 0):
            # one bit per divisor cycles; after the stop bit the timer runs out once more
            m.d.sync += [self.tx.eq(shreg[0]), shreg.eq(shreg >> 1), count.eq(count - 1),
                         timer.eq(div - 1)]
        with m.Elif(self.i_valid):
            # stop bit, data, start bit: shifted out LSB first
            m.d.sync += [shreg.eq((1 << 9) | (self.i_data << 1)), count.eq(10)]
        return m
