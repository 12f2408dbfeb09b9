"""``make bench``: the shipped PTB model through the RTL (Verilator, cocotb testbench) on the
first ``--chars`` test characters, sparse and dense mode, cycles per step from the CYCLES
counter; speed-up, lane utilisation against the ideal ``(4H/N) * nnz_t``, agreement with the
cycle model. Reports: ``build/reports/bench.{json,md}`` and ``bench_cycles.png``.

    python -m sim.bench [--chars 1000] [--mhz F] [--from-raw]

``--from-raw`` rebuilds the reports from the last run's ``build/sim/bench_raw.json`` without
simulating again (e.g. after ``make synth`` has produced an Fmax).

``--mhz`` converts cycles to time and GOp/s (dense-equivalent operations: 2 per weight per
step); by default the Fmax of ``build/reports/synth.json`` if present.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from golden import cycles
from golden.config import load_config

from .cases import BUILD, ROOT, prepare_ptb_case, run_cocotb

REPORTS = ROOT / "build" / "reports"


TARGETS = {"speedup": 10.0, "sparse_over_ideal": 1.05, "fmax_mhz": 150.0}


def targets(s, synth=None):
    """Each target of the performance issue: met or not, by how much, and what limits it."""
    cols = s["config"]["X"] + s["config"]["H"]
    need_nnz = cols / TARGETS["speedup"]
    rows = [{
        "target": f"speed-up sparse vs dense >= {TARGETS['speedup']:g}x",
        "measured": f"{s['speedup']:.2f}x", "met": s["speedup"] >= TARGETS["speedup"],
        "limit": f"the model's sparsity: the speed-up is about (X+H) / mean nnz(v_t) = "
                 f"{cols} / {s['mean_nnz']:.1f}; {TARGETS['speedup']:g}x needs mean nnz <= "
                 f"{need_nnz:.1f} (>= {100 * (1 - 1 / TARGETS['speedup']):.0f}% zeros in v_t); "
                 f"the hardware reaches the ideal within {100 * (s['sparse_over_ideal'] - 1):.2f}%",
    }, {
        "target": "sparse T_step within 5% of (4H/N) nnz_t (benchmark average)",
        "measured": f"{100 * (s['sparse_over_ideal'] - 1):.2f}% above",
        "met": s["sparse_over_ideal"] <= TARGETS["sparse_over_ideal"],
        "limit": "the fixed L cycles per step (pipeline fill and drain)",
    }]
    if synth:
        fmax = min(synth["fmax_mhz"].values()) if synth["fmax_mhz"] else 0.0
        crit = synth.get("critical_path") or []
        path = f"`{crit[0]['from']}` -> `{crit[-1]['to']}`" if crit else "see synth.md"
        rows.append({
            "target": f"Fmax >= {TARGETS['fmax_mhz']:g} MHz (LFE5U-85F, speed 6, default "
                      f"configuration)",
            "measured": f"{fmax:.1f} MHz ({100 * (fmax / TARGETS['fmax_mhz'] - 1):+.0f}%)",
            "met": fmax >= TARGETS["fmax_mhz"], "limit": f"critical path {path}"})
    return rows


def summarise(raw, cfg, mhz=None):
    R = cfg.rows_per_lane
    sp, de = raw["sparse"], raw["dense"]
    sc, dc = np.array(sp["cycles_per_step"]), np.array(de["cycles_per_step"])
    nnz = np.array(sp["nnz"])
    ideal = R * nnz
    ops_per_step = 2 * 4 * cfg.hidden_size * cfg.columns
    out = {
        "steps": raw["steps"], "theta_raw": raw["theta_raw"],
        "config": {"X": cfg.input_size, "H": cfg.hidden_size, "N": cfg.lanes},
        "sparse_cycles": int(sc.sum()), "dense_cycles": int(dc.sum()),
        "speedup": float(dc.sum() / sc.sum()),
        "mean_nnz": float(nnz.mean()), "mean_cycles_per_step": {"sparse": float(sc.mean()),
                                                                "dense": float(dc.mean())},
        "sparse_over_ideal": float(sc.sum() / ideal.sum()),
        "dense_lane_utilisation": float(R * cfg.columns * len(dc) / dc.sum()),
        "cycle_model_agrees": bool(np.array_equal(sc, cycles.step_cycles(cfg, nnz)) and
                                   np.array_equal(dc, cycles.step_cycles(cfg, de["nnz"]))),
        "dense_equivalent_ops_per_cycle": {"sparse": float(ops_per_step * len(sc) / sc.sum()),
                                           "dense": float(ops_per_step * len(dc) / dc.sum())},
    }
    if mhz:
        out["clock_mhz"] = mhz
        out["gops"] = {k: v * mhz / 1e3 for k, v in out["dense_equivalent_ops_per_cycle"].items()}
    return out


def plot(raw, cfg, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    nnz = np.array(raw["sparse"]["nnz"])
    sc = np.array(raw["sparse"]["cycles_per_step"])
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    ax.plot(nnz, sc, ".", ms=3, label="RTL, sparse (CYCLES per step)")
    xs = np.arange(0, cfg.columns + 1)
    ax.plot(xs, cfg.rows_per_lane * xs, "-", lw=1, label="ideal (4H/N) nnz")
    ax.axhline(np.mean(raw["dense"]["cycles_per_step"]), color="tab:red", ls="--", lw=1,
               label="RTL, dense")
    ax.set_xlabel("nnz of v_t = [x_t ; h_{t-1}]")
    ax.set_ylabel("cycles per step")
    ax.set_title(f"PTB, {raw['steps']} test characters, X={cfg.input_size} H={cfg.hidden_size} "
                 f"N={cfg.lanes}")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def markdown(s):
    lines = ["# Benchmark: PTB model through the RTL (Verilator)", "",
             f"{s['steps']} test characters, X={s['config']['X']}, H={s['config']['H']}, "
             f"N={s['config']['N']}, theta {s['theta_raw']} raw.", "",
             "| | sparse | dense |", "|---|---|---|",
             f"| cycles | {s['sparse_cycles']:,} | {s['dense_cycles']:,} |",
             f"| cycles per step | {s['mean_cycles_per_step']['sparse']:.1f} | "
             f"{s['mean_cycles_per_step']['dense']:.1f} |",
             f"| dense-equivalent ops per cycle | "
             f"{s['dense_equivalent_ops_per_cycle']['sparse']:.1f} | "
             f"{s['dense_equivalent_ops_per_cycle']['dense']:.1f} |"]
    if "gops" in s:
        lines.append(f"| GOp/s at {s['clock_mhz']:.1f} MHz | {s['gops']['sparse']:.2f} | "
                     f"{s['gops']['dense']:.2f} |")
    lines += ["", f"Speed-up sparse vs dense: **{s['speedup']:.2f}x**; mean nnz(v_t) "
                  f"{s['mean_nnz']:.1f} of {s['config']['X'] + s['config']['H']}; sparse cycles "
                  f"/ ideal (4H/N) nnz: {s['sparse_over_ideal']:.4f}; dense lane utilisation "
                  f"{100 * s['dense_lane_utilisation']:.2f}%; CYCLES equal to the cycle model "
                  f"on every step: {s['cycle_model_agrees']}.", "",
              "![cycles per step](bench_cycles.png)", ""]
    if s.get("targets"):
        lines += ["## Targets", "", "| target | measured | met | what limits it |",
                  "|---|---|---|---|"]
        lines += [f"| {t['target']} | {t['measured']} | {'yes' if t['met'] else '**no**'} | "
                  f"{t['limit']} |" for t in s["targets"]]
        lines.append("")
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m sim.bench", description=__doc__.split("\n")[0])
    ap.add_argument("--chars", type=int, default=1000)
    ap.add_argument("--mhz", type=float, default=0.0)
    ap.add_argument("--from-raw", action="store_true", help="reports from the last run's data")
    args = ap.parse_args(argv)
    cfg = load_config()
    raw_path = BUILD / "bench_raw.json"
    if not args.from_raw:
        raw_path.unlink(missing_ok=True)
        case = prepare_ptb_case("bench", args.chars, timeout_ms=10 * args.chars,
                                extra={"bench_out": str(raw_path)})
        run_cocotb("verilator", "bench", case, test_filter="test_bench")
    elif not raw_path.exists():
        ap.error(f"--from-raw: {raw_path} does not exist; run without --from-raw first")
    raw = json.loads(raw_path.read_text())
    mhz = args.mhz
    synth_path, synth = REPORTS / "synth.json", None
    if synth_path.exists():
        rep = [r for r in json.loads(synth_path.read_text())
               if r["config"]["lanes"] == cfg.lanes]
        synth = rep[0] if rep else None
    if not mhz and synth and synth["fmax_mhz"]:
        mhz = min(synth["fmax_mhz"].values())
    s = summarise(raw, cfg, mhz or None)
    s["targets"] = targets(s, synth)
    REPORTS.mkdir(parents=True, exist_ok=True)
    (REPORTS / "bench.json").write_text(json.dumps({**s, "per_step": raw}, indent=1) + "\n")
    plot(raw, cfg, REPORTS / "bench_cycles.png")
    (REPORTS / "bench.md").write_text(markdown(s))
    print(markdown(s))
    return 0


if __name__ == "__main__":
    sys.exit(main())
