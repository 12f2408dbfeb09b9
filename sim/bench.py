"""``make bench``: the shipped PTB model through the RTL (Verilator, cocotb testbench) on the
first ``--chars`` test characters, sparse and dense mode, cycles per step from the CYCLES
counter; speed-up, lane utilisation against the ideal ``(4H/N) * nnz_t``, agreement with the
cycle model. Reports: ``build/reports/bench.{json,md}`` and ``bench_cycles.png``.

    python -m sim.bench [--chars 1000] [--mhz F]

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
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m sim.bench", description=__doc__.split("\n")[0])
    ap.add_argument("--chars", type=int, default=1000)
    ap.add_argument("--mhz", type=float, default=0.0)
    args = ap.parse_args(argv)
    cfg = load_config()
    raw_path = BUILD / "bench_raw.json"
    raw_path.unlink(missing_ok=True)
    case = prepare_ptb_case("bench", args.chars, timeout_ms=10 * args.chars,
                            extra={"bench_out": str(raw_path)})
    run_cocotb("verilator", "bench", case, test_filter="test_bench")
    raw = json.loads(raw_path.read_text())
    mhz = args.mhz
    synth = REPORTS / "synth.json"
    if not mhz and synth.exists():
        rep = [r for r in json.loads(synth.read_text()) if r["config"]["lanes"] == cfg.lanes]
        if rep and rep[0]["fmax_mhz"]:
            mhz = min(rep[0]["fmax_mhz"].values())
    s = summarise(raw, cfg, mhz or None)
    REPORTS.mkdir(parents=True, exist_ok=True)
    (REPORTS / "bench.json").write_text(json.dumps({**s, "per_step": raw}, indent=1) + "\n")
    plot(raw, cfg, REPORTS / "bench_cycles.png")
    (REPORTS / "bench.md").write_text(markdown(s))
    print(markdown(s))
    return 0


if __name__ == "__main__":
    sys.exit(main())
