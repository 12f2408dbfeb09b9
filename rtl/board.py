"""Board top: ``skiplstm`` behind the UART host bridge (``SkipLSTMBoard``), and its ULX3S
pin-out (``ULX3STop``). The bitstream flow is ``flow.bitstream`` (``make bitstream``)."""

from __future__ import annotations

from amaranth.hdl import ClockDomain, Elaboratable, Instance, Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .bridge import UARTBridge
from .top import SkipLSTM
from .uart import UARTRx, UARTTx, divisor_for

__all__ = ["SkipLSTMBoard", "ULX3STop", "CLK_HZ", "DEFAULT_BAUD", "ecp5_pll"]

CLK_HZ = 25_000_000                 # ULX3S on-board oscillator (clk25)
DEFAULT_BAUD = 1_000_000            # an exact divisor (25) of 25 MHz; FT231X supports it


class SkipLSTMBoard(wiring.Component):
    """The accelerator with a UART (8N1) and the framed host bridge.

    Parameters
    ----------
    cfg, params, target, floorplan : as for ``SkipLSTM`` (``params`` are baked in).
    divisor : UART clock cycles per bit.
    frame_timeout, stall_timeout : bridge timeouts in clock cycles.

    Members
    -------
    rx, tx : the serial lines. leds : 0 last response OK, 1 last response an error,
        2 received-byte activity (toggles), 3 h waiting in the output FIFO.
    """

    def __init__(self, cfg, params=None, divisor=25, frame_timeout=2_500_000,
                 stall_timeout=2_500_000, target="generic", floorplan=None):
        self.cfg, self.params, self.target, self.floorplan = cfg, params, target, floorplan
        self.divisor, self.frame_timeout, self.stall_timeout = divisor, frame_timeout, \
            stall_timeout
        super().__init__({"rx": In(1, init=1), "tx": Out(1, init=1), "leds": Out(4)})

    def elaborate(self, platform):
        m = Module()
        m.submodules.core = core = SkipLSTM(self.cfg, self.params, target=self.target,
                                            floorplan=self.floorplan)
        m.submodules.uart_rx = rx = UARTRx(self.divisor)
        m.submodules.uart_tx = tx = UARTTx(self.divisor)
        m.submodules.bridge = br = UARTBridge(core.x_width // 8, core.w_width // 8,
                                              core.h_width // 8, self.divisor,
                                              self.frame_timeout, self.stall_timeout)
        m.d.comb += [
            rx.rx.eq(self.rx), self.tx.eq(tx.tx),
            br.rx_valid.eq(rx.o_valid), br.rx_data.eq(rx.o_data),
            tx.i_valid.eq(br.tx_valid), tx.i_data.eq(br.tx_data), br.tx_ready.eq(tx.i_ready),
            # AXI4-Lite
            core.s_axil_awaddr.eq(br.m_axil_awaddr), core.s_axil_awvalid.eq(br.m_axil_awvalid),
            br.m_axil_awready.eq(core.s_axil_awready), core.s_axil_awprot.eq(0),
            core.s_axil_wdata.eq(br.m_axil_wdata), core.s_axil_wstrb.eq(0xF),
            core.s_axil_wvalid.eq(br.m_axil_wvalid), br.m_axil_wready.eq(core.s_axil_wready),
            br.m_axil_bresp.eq(core.s_axil_bresp), br.m_axil_bvalid.eq(core.s_axil_bvalid),
            core.s_axil_bready.eq(br.m_axil_bready),
            core.s_axil_araddr.eq(br.m_axil_araddr), core.s_axil_arprot.eq(0),
            core.s_axil_arvalid.eq(br.m_axil_arvalid), br.m_axil_arready.eq(core.s_axil_arready),
            br.m_axil_rdata.eq(core.s_axil_rdata), br.m_axil_rresp.eq(core.s_axil_rresp),
            br.m_axil_rvalid.eq(core.s_axil_rvalid), core.s_axil_rready.eq(br.m_axil_rready),
            # streams
            core.s_axis_x_tdata.eq(br.x_tdata), core.s_axis_x_tvalid.eq(br.x_tvalid),
            br.x_tready.eq(core.s_axis_x_tready), core.s_axis_x_tlast.eq(br.x_tlast),
            core.s_axis_x_tuser.eq(br.x_tuser),
            core.s_axis_w_tdata.eq(br.w_tdata), core.s_axis_w_tvalid.eq(br.w_tvalid),
            br.w_tready.eq(core.s_axis_w_tready), core.s_axis_w_tlast.eq(br.w_tlast),
            br.h_tdata.eq(core.m_axis_h_tdata), br.h_tvalid.eq(core.m_axis_h_tvalid),
            core.m_axis_h_tready.eq(br.h_tready), br.h_tlast.eq(core.m_axis_h_tlast),
        ]
        ok, bad, act = Signal(name="led_ok"), Signal(name="led_bad"), Signal(name="led_rx")
        with m.If(br.frame_ok):
            m.d.sync += [ok.eq(1), bad.eq(0)]
        with m.If(br.frame_bad):
            m.d.sync += [ok.eq(0), bad.eq(1)]
        with m.If(rx.o_valid):
            m.d.sync += act.eq(~act)
        m.d.comb += self.leds.eq(ok | (bad << 1) | (act << 2) | (core.m_axis_h_tvalid << 3))
        return m


def ecp5_pll(fin_mhz, fout_mhz):
    """EHXPLLL dividers for ``fout_mhz`` from ``fin_mhz`` (feedback from CLKOP): the setting
    with the output closest to the request, at or below it, within the ECP5 limits (PFD
    3.125-400 MHz, VCO 400-800 MHz, output 3.125-400 MHz). Returns a dict with the dividers
    and ``mhz``, the frequency obtained."""
    best = None
    for ki in range(1, 129):
        pfd = fin_mhz / ki
        if not 3.125 <= pfd <= 400:
            continue
        for fb in range(1, 81):
            out = pfd * fb
            if out > fout_mhz + 1e-9 or not 3.125 <= out <= 400:
                continue
            for op in range(1, 129):
                if 400 <= out * op <= 800:
                    if best is None or out > best["mhz"] + 1e-9:
                        best = {"CLKI_DIV": ki, "CLKFB_DIV": fb, "CLKOP_DIV": op, "mhz": out}
                    break
    if best is None:
        raise ValueError(f"no ECP5 PLL setting gives {fout_mhz} MHz from {fin_mhz} MHz "
                         "(allowed outputs 3.125-400 MHz)")
    return best


class ULX3STop(Elaboratable):
    """``SkipLSTMBoard`` on the ULX3S: the FT231X USB serial port, LEDs 0-3 as in
    ``SkipLSTMBoard``. The core runs on clk25, or with ``core_mhz`` on the output of an
    EHXPLLL (held in reset until the PLL locks); the lanes' block RAMs are floorplanned
    (``rtl.floorplan``)."""

    def __init__(self, cfg, params=None, baud=DEFAULT_BAUD, core_mhz=None):
        self.cfg, self.params, self.baud = cfg, params, baud
        self.pll = ecp5_pll(CLK_HZ / 1e6, core_mhz) if core_mhz else None

    @property
    def clk_hz(self):
        return int(round(self.pll["mhz"] * 1e6)) if self.pll else CLK_HZ

    def elaborate(self, platform):
        m = Module()
        if self.pll is not None:
            m.domains.sync = cd = ClockDomain("sync")
            clk25 = platform.request("clk25", 0)
            lock = Signal(name="pll_lock")
            p = self.pll
            m.submodules.pll = Instance(
                "EHXPLLL",
                a_FREQUENCY_PIN_CLKI="25", a_FREQUENCY_PIN_CLKOP=f"{p['mhz']:g}",
                a_ICP_CURRENT="12", a_LPF_RESISTOR="8", a_MFG_ENABLE_FILTEROPAMP="1",
                a_MFG_GMCREF_SEL="2",
                p_PLLRST_ENA="DISABLED", p_INTFB_WAKE="DISABLED", p_STDBY_ENABLE="DISABLED",
                p_DPHASE_SOURCE="DISABLED", p_OUTDIVIDER_MUXA="DIVA", p_CLKOP_ENABLE="ENABLED",
                p_CLKOP_DIV=p["CLKOP_DIV"], p_CLKOP_CPHASE=p["CLKOP_DIV"] - 1,
                p_CLKOP_FPHASE=0, p_FEEDBK_PATH="CLKOP", p_CLKFB_DIV=p["CLKFB_DIV"],
                p_CLKI_DIV=p["CLKI_DIV"],
                i_CLKI=clk25.i, i_CLKFB=cd.clk, i_RST=0, i_STDBY=0, i_PHASESEL0=0,
                i_PHASESEL1=0, i_PHASEDIR=1, i_PHASESTEP=1, i_PHASELOADREG=1,
                i_PLLWAKESYNC=0, i_ENCLKOP=0, o_CLKOP=cd.clk, o_LOCK=lock)
            m.d.comb += cd.rst.eq(~lock)
            platform.add_clock_constraint(cd.clk, self.clk_hz)
        clk_hz = self.clk_hz
        div = divisor_for(clk_hz, self.baud)
        m.submodules.board = board = SkipLSTMBoard(
            self.cfg, self.params, div, frame_timeout=clk_hz // 10, stall_timeout=clk_hz // 10,
            target="ecp5", floorplan="LFE5U-85F")
        uart = platform.request("uart", 0)
        m.d.comb += [board.rx.eq(uart.rx.i), uart.tx.o.eq(board.tx)]
        for i in range(4):
            m.d.comb += platform.request("led", i).o.eq(board.leds[i])
        return m
