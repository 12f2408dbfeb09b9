"""``make bench``: the shipped PTB model through the RTL on the compiled Verilator harness
(``sim/harness.py``), the first ``--chars`` test characters (``all``: the whole test set) in
sparse mode and the first ``--dense-chars`` in dense mode, one step at a time with the CYCLES
counter read after each; h bit-exact against the golden model, the RTL's own BPC from its h
through the model's read-out, speed-up, lane utilisation against the ideal
``(4H/N) * nnz_t``, agreement with the cycle model, and, in the same run, the time per step of
PyTorch ``nn.LSTM`` on one CPU core and of a sparse-aware NumPy step.
Reports: ``build/reports/bench.{json,md}`` and ``bench_cycles.png``.

    python -m sim.bench [--chars 50000|all] [--dense-chars 1000] [--cpu-chars 5000]
                        [--mhz F] [--from-raw]

The sparse characters run as ``--jobs`` contiguous sequences at once (one harness process per
core), each from zero state; the golden model and the BPC are computed the same way.
Every dense step takes the same cycles, ``ceil(4H/N) (X+H) + L`` (checked on each dense step
measured), so the dense total over the sparse run's characters is that constant times their
number; the dense run on a slice checks it and that dense h equals sparse h.

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
from golden.interface import Ctrl, Reg

from .cases import BUILD, PTB_BUNDLE, ROOT, fingerprint, is_current
from .harness import Commands, build, locked, run

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
    dense_total = int(dc.mean() * len(sc))      # every dense step takes the same cycles
    out = {
        "steps": raw["steps"], "dense_steps": len(dc), "theta_raw": raw["theta_raw"],
        "config": {"X": cfg.input_size, "H": cfg.hidden_size, "N": cfg.lanes},
        "sparse_cycles": int(sc.sum()), "dense_cycles": dense_total,
        "dense_steps_all_equal": bool(np.all(dc == dc[0])),
        "speedup": float(dense_total / sc.sum()),
        "mean_nnz": float(nnz.mean()), "mean_cycles_per_step": {"sparse": float(sc.mean()),
                                                                "dense": float(dc.mean())},
        "sparse_over_ideal": float(sc.sum() / ideal.sum()),
        "dense_lane_utilisation": float(R * cfg.columns * len(dc) / dc.sum()),
        "cycle_model_agrees": bool(np.array_equal(sc, cycles.step_cycles(cfg, nnz)) and
                                   np.array_equal(dc, cycles.step_cycles(cfg, de["nnz"]))),
        "dense_equivalent_ops_per_cycle": {"sparse": float(ops_per_step * len(sc) / sc.sum()),
                                           "dense": float(ops_per_step * len(dc) / dc.sum())},
    }
    for k in ("golden_bpc", "rtl_bpc", "h_mismatches", "harness", "jobs"):
        if k in raw:
            out[k] = raw[k]
    if raw.get("overlap"):
        o = raw["overlap"]
        got, plain = sum(o["cycles"]), sum(o["without_cycles"])
        out["overlap"] = {
            "steps": o["steps"], "cycles": got, "without_cycles": plain,
            "mean_cycles_per_step": got / o["steps"],
            "mean_cycles_per_step_without": plain / o["steps"],
            "saving": 1 - got / plain, "h_mismatches": o["h_mismatches"],
            "cycle_model_agrees": o["cycle_model_agrees"], "window": o["window"],
            "front": o["front"]}
    out["cpu"] = raw.get("cpu")
    if out["cpu"]:
        out["cpu_us_per_step"] = out["cpu"]["torch_us_per_step"]
    out["rtl_us_per_step"] = None
    if mhz:
        out["clock_mhz"] = mhz
        out["gops"] = {k: v * mhz / 1e3 for k, v in out["dense_equivalent_ops_per_cycle"].items()}
        out["rtl_us_per_step"] = float(sc.mean() / mhz)
        out["rtl_us_per_step_dense"] = float(dc.mean() / mhz)
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
    lines += ["", f"Dense mode measured on the first {s['dense_steps']:,} characters (every dense "
                  f"step the same cycles: {s['dense_steps_all_equal']}); the dense total is that "
                  f"per-step count times {s['steps']:,}."]
    if "rtl_bpc" in s:
        lines += ["", f"Accuracy of the RTL itself: **{s['rtl_bpc']:.4f} BPC** from its h through "
                      f"the model's read-out; golden model {s['golden_bpc']:.4f} BPC; h "
                      f"mismatches: {s['h_mismatches']}. The characters ran as "
                      f"{s.get('jobs', 1)} contiguous sequences at once, each from zero state "
                      f"(the golden model likewise)."]
    if s.get("cpu"):
        c = s["cpu"]
        rtl = (f"{s['rtl_us_per_step']:.2f} at {s['clock_mhz']:.1f} MHz ({s.get('clock_source')})"
               if s.get("rtl_us_per_step") else "no Fmax yet (`make synth`, or `--mhz`)")
        lines += ["", "## Time per step, side by side (same characters, batch 1)", "",
                  "| engine | us per step |", "|---|---|",
                  f"| RTL, sparse | {rtl} |",
                  f"| PyTorch nn.LSTM, 1 thread, one call per sequence | "
                  f"{c['torch_sequence_us']:.2f} |",
                  f"| PyTorch nn.LSTM, 1 thread, one call per step | {c['torch_step_us']:.2f} |",
                  f"| NumPy, sparse-aware (gathers the nonzero columns) | "
                  f"{c['numpy_sparse_us']:.2f} |", "",
                  f"CPU figures over the first {c['chars']:,} characters on this machine "
                  f"({c['cpu']}); `cpu_us_per_step` is the faster PyTorch variant."]
    if s.get("overlap"):
        o = s["overlap"]
        lines += ["", "## The overlap option (`configs/overlap.toml`)", "",
                  f"The first {o['steps']:,} characters, streamed (x_t queued ahead): "
                  f"**{o['mean_cycles_per_step']:.1f} cycles per step** against "
                  f"{o['mean_cycles_per_step_without']:.1f} for the same steps without the option "
                  f"(the cycle model), {100 * o['saving']:.2f}% fewer. Each step's x pass "
                  f"(R max(nnz_x, 1) + F = R + {o['front']} cycles here) runs in the "
                  f"{o['window']}-cycle window of the previous step's drain. h mismatches: "
                  f"{o['h_mismatches']}; total CYCLES of each sequence equal to the overlap "
                  f"model: {o['cycle_model_agrees']} (per-step CYCLES cannot be read while "
                  f"steps overlap)."]
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


def cpu_baseline(b, ids, chars):
    """us per step of PyTorch ``nn.LSTM`` (float32, one thread, batch 1; one call per sequence
    and one call per step) and of a NumPy step that gathers only the nonzero columns."""
    import platform
    import time

    import torch
    torch.set_num_threads(1)
    cfg = b.cfg
    ids = ids[:chars]
    X, H = cfg.input_size, cfg.hidden_size
    lstm = torch.nn.LSTM(X, H)
    with torch.no_grad():
        lstm.weight_ih_l0.copy_(torch.from_numpy(b.float_params.w_ih))
        lstm.weight_hh_l0.copy_(torch.from_numpy(b.float_params.w_hh))
        lstm.bias_ih_l0.copy_(torch.from_numpy(b.float_params.b))
        lstm.bias_hh_l0.zero_()
    x = torch.zeros(len(ids), 1, X)
    x[torch.arange(len(ids)), 0, torch.from_numpy(ids)] = 1.0
    with torch.inference_mode():
        lstm(x[:10])
        t0 = time.perf_counter()
        lstm(x)
        seq_us = (time.perf_counter() - t0) / len(ids) * 1e6
        state = None
        t0 = time.perf_counter()
        for t in range(len(ids)):
            _, state = lstm(x[t:t + 1], state)
        step_us = (time.perf_counter() - t0) / len(ids) * 1e6
    W = np.concatenate([b.float_params.w_ih, b.float_params.w_hh], axis=1).T.astype(np.float32)
    W = np.ascontiguousarray(W)                      # (X + H, 4H): a column of W per row
    bias = b.float_params.b.astype(np.float32)
    theta = float(b.meta["theta"])
    h = np.zeros(H, np.float32)
    c = np.zeros(H, np.float32)
    t0 = time.perf_counter()
    for t in range(len(ids)):
        nz = np.flatnonzero(h) + X
        a = bias + W[ids[t]] + W[nz].T @ h[nz - X]
        i, f = 1 / (1 + np.exp(-a[:H])), 1 / (1 + np.exp(-a[H:2 * H]))
        g, o = np.tanh(a[2 * H:3 * H]), 1 / (1 + np.exp(-a[3 * H:]))
        c = f * c + i * g
        h = o * np.tanh(c)
        h[np.abs(h) < theta] = 0.0
    numpy_us = (time.perf_counter() - t0) / len(ids) * 1e6
    return {"chars": int(len(ids)), "torch_sequence_us": seq_us, "torch_step_us": step_us,
            "torch_us_per_step": min(seq_us, step_us), "numpy_sparse_us": numpy_us,
            "torch": torch.__version__, "cpu": platform.processor() or platform.machine()}


def prepare_model(bundle=PTB_BUNDLE, config=None):
    """The default configuration (or ``config``) with ``bundle`` baked in: ``(Verilog,
    manifest, cfg)``."""
    from golden.bundle import load_bundle
    from flow.generate import generate
    cfg = load_config() if config is None else load_config(config)
    load_bundle(bundle, cfg)
    out = BUILD / "cases" / ("ptb_model" if config is None else f"ptb_model_{Path(config).stem}")
    stamp = out / "case.json"
    fp = fingerprint("ptb_model", (Path(bundle) / "params.npz").read_bytes(),
                     json.dumps(cfg.to_dict(), sort_keys=True))
    with locked(BUILD / "cases" / "ptb_model.lock"):
        if not is_current(stamp, fp):
            out.mkdir(parents=True, exist_ok=True)
            generate(cfg, out, weights=bundle, quiet=True)
            stamp.write_text(json.dumps({"fingerprint": fp}))
    return out / f"{cfg.name}.v", json.loads((out / f"{cfg.name}.json").read_text()), cfg


def bpc_of(b, hs, ids):
    """Bits per character of next-symbol prediction from integer h (state format)."""
    logits = (hs / b.cfg.formats.state.scale) @ b.readout_w.T + b.readout_b
    logits = logits - logits.max(axis=1, keepdims=True)
    logp = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    return float(-logp[np.arange(len(ids)), ids].mean() / np.log(2))


def run_segments(exe, cfg, manifest, theta, ctrl, xs, segs, label, stepwise, after=None):
    """Each segment ``(a, e)`` of ``xs`` through its own harness process, all at once (one
    thread each), from zero state with THRESHOLD ``theta`` and CTRL ``ctrl``; ``stepwise``
    as in ``Commands.xfile``; ``after(cmd, a, e)`` appends commands. A progress bar counts
    the steps whose h has arrived; returns the harness results in segment order."""
    from concurrent.futures import ThreadPoolExecutor

    from flow.progress import Progress
    work = BUILD / "bench"
    work.mkdir(parents=True, exist_ok=True)
    H = cfg.hidden_size
    done = [0] * len(segs)
    bar = Progress(segs[-1][1] - segs[0][0], f"bench {label}")

    def one(k, a, e):
        cmd = Commands.for_manifest(cfg, manifest).reset()
        cmd.wr(Reg.THRESHOLD, theta).wr(Reg.CTRL, ctrl | Ctrl.CLEAR_STATE | Ctrl.CLEAR_COUNTERS)
        cmd.xfile(work / f"x_{label}{k}.bin", xs[a:e], stepwise=stepwise)
        if after:
            after(cmd, a, e)

        def progress(beats):
            done[k] = beats // H
            bar.update(sum(done))
        return run(exe, cmd, work / f"{label}{k}", progress=progress)

    with ThreadPoolExecutor(len(segs)) as pool:
        results = list(pool.map(lambda arg: one(*arg), [(k, a, e) for k, (a, e) in
                                                       enumerate(segs)]))
    bar.update(segs[-1][1] - segs[0][0])
    bar.close()
    return results


def measure(chars, dense_chars, cpu_chars, bundle=PTB_BUNDLE, jobs=2, overlap_chars=0):
    """Runs the benchmark; returns the raw per-step data. The sparse characters run as
    ``jobs`` contiguous sequences at once (one harness process each, every one from zero
    state, as the golden model is run too); dense mode runs one sequence."""
    from golden.bundle import load_bundle
    from golden.model import GoldenLSTM, one_hot_inputs
    from train.data import ptb_chars
    verilog, manifest, cfg = prepare_model(bundle)
    b = load_bundle(bundle, cfg)
    test = ptb_chars()[1]["test"]
    n = len(test) - 1 if chars is None else min(chars, len(test) - 1)
    ids = test[:n + 1]
    xs = one_hot_inputs(cfg, ids[:-1], dtype=np.int32)
    print(f"bench: {n:,} PTB test characters; building the harness (once per Verilog)",
          flush=True)
    exe = build(verilog, cfg.name, quiet=False)
    golden = GoldenLSTM(cfg, b.q)
    out = {"steps": n, "theta_raw": b.theta_raw, "jobs": jobs}
    H = cfg.hidden_size
    for mode, sparse, count, parts in (("sparse", 1, n, max(1, min(jobs, n))),
                                       ("dense", 0, min(dense_chars, n), 1)):
        bounds = [int(v) for v in np.linspace(0, count, parts + 1)]
        segs = list(zip(bounds[:-1], bounds[1:]))
        want = np.concatenate([golden.run_fast(xs[a:e], theta=b.theta_raw)[0] for a, e in segs])
        results = run_segments(exe, cfg, manifest, b.theta_raw, sparse, xs, segs, mode,
                               stepwise=True)
        got = np.concatenate([r.h for r in results]).reshape(-1, H)
        mism = int(np.count_nonzero(got != want)) if got.shape == want.shape else -1
        per_step = [c for r in results for c in r.step_cycles()]
        nnz = np.concatenate([cycles.nnz_per_step(cfg, xs[a:e], want[a:e], sparse=bool(sparse))
                              for a, e in segs])
        model = [int(v) for v in cycles.step_cycles(cfg, nnz)]
        if per_step != model:
            raise SystemExit(f"bench: {mode} CYCLES differ from the cycle model")
        seconds = max(r.seconds for r in results)
        sim_cycles = sum(r.cycles for r in results)
        out[mode] = {"cycles_per_step": per_step, "nnz": [int(v) for v in nnz],
                     "h_mismatches": mism, "sim_seconds": seconds, "sim_cycles": sim_cycles,
                     "sequences": segs}
        if mode == "sparse":
            out["h_mismatches"] = mism
            out["rtl_bpc"] = bpc_of(b, got.astype(np.float64), ids[1:])
            out["golden_bpc"] = bpc_of(b, want.astype(np.float64), ids[1:])
            out["harness"] = {"processes": len(segs), "seconds": seconds,
                              "cycles_per_second_per_process":
                                  sim_cycles / sum(r.seconds for r in results)}
        print(f"bench {mode}: {count:,} steps in {len(segs)} sequence(s), h mismatches {mism}, "
              f"{sim_cycles / sum(r.seconds for r in results):,.0f} simulated cycles/s per "
              f"process", flush=True)
    if overlap_chars:
        out["overlap"] = measure_overlap(xs, b, min(overlap_chars, n), jobs)
    out["cpu"] = cpu_baseline(b, ids[:-1], cpu_chars)
    return out


def measure_overlap(xs, b, count, jobs):
    """The first ``count`` characters through the ``configs/overlap.toml`` build, streamed
    (each x_t queued ahead, so each step's x pass can run while the previous step drains),
    ``jobs`` sequences from zero state; h and the total CYCLES of each sequence against
    golden and the overlap cycle model. (Per-step CYCLES cannot be read while steps overlap.)"""
    from golden.model import GoldenLSTM
    verilog, manifest, cfg = prepare_model(config=ROOT / "configs" / "overlap.toml")
    print("bench overlap: building the harness for configs/overlap.toml", flush=True)
    exe = build(verilog, cfg.name, quiet=False)
    golden = GoldenLSTM(cfg, b.q)
    H = cfg.hidden_size
    bounds = [int(v) for v in np.linspace(0, count, max(1, min(jobs, count)) + 1)]
    segs = list(zip(bounds[:-1], bounds[1:]))
    want = [golden.run_fast(xs[a:e], theta=b.theta_raw)[0] for a, e in segs]

    def counters(cmd, a, e):
        cmd.wait_h((e - a) * H).idle().rd(Reg.CYCLES_LO).rd(Reg.CYCLES_HI).rd(Reg.STEPS)
    results = run_segments(exe, cfg, manifest, b.theta_raw, Ctrl.SPARSE, xs, segs, "overlap",
                           stepwise=False, after=counters)
    got_cycles, model, plain, mism = [], [], [], 0
    for r, (a, e), w in zip(results, segs, want):
        got = np.asarray(r.h).reshape(-1, H)
        mism += int(np.count_nonzero(got != w)) if got.shape == w.shape else -1
        lo, hi, steps = (v for _, v, _ in r.reads()[-3:])
        if steps != e - a:
            raise SystemExit(f"bench overlap: STEPS {steps}, expected {e - a}")
        got_cycles.append(lo | hi << 32)
        model.append(cycles.cycle_model(cfg, xs[a:e], w)["CYCLES"])
        plain.append(cycles.cycle_model(cfg.replace(overlap=False), xs[a:e], w)["CYCLES"])
    print(f"bench overlap: {count:,} steps, h mismatches {mism}, CYCLES {sum(got_cycles):,} "
          f"(model {sum(model):,}; without the option {sum(plain):,})", flush=True)
    return {"steps": count, "sequences": segs, "cycles": got_cycles, "model_cycles": model,
            "without_cycles": plain, "h_mismatches": mism,
            "cycle_model_agrees": got_cycles == model,
            "window": cycles.window(cfg), "front": cycles.front(cfg)}


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m sim.bench", description=__doc__.split("\n")[0])
    ap.add_argument("--chars", default="50000", help="sparse-mode characters, or 'all'")
    ap.add_argument("--dense-chars", type=int, default=1000)
    ap.add_argument("--cpu-chars", type=int, default=5000)
    ap.add_argument("--overlap-chars", type=int, default=10000,
                    help="characters through the configs/overlap.toml build (0: none)")
    ap.add_argument("--jobs", type=int, default=2,
                    help="harness processes; the sparse characters split into this many "
                         "sequences, each from zero state")
    ap.add_argument("--mhz", type=float, default=0.0)
    ap.add_argument("--from-raw", action="store_true", help="reports from the last run's data")
    args = ap.parse_args(argv)
    if args.chars != "all" and not (args.chars.isdigit() and int(args.chars) > 0):
        ap.error(f"--chars={args.chars!r}: a positive number of characters or 'all'")
    cfg = load_config()
    raw_path = BUILD / "bench_raw.json"
    if not args.from_raw:
        raw = measure(None if args.chars == "all" else int(args.chars), args.dense_chars,
                      args.cpu_chars, jobs=args.jobs, overlap_chars=args.overlap_chars)
        raw_path.parent.mkdir(parents=True, exist_ok=True)
        raw_path.write_text(json.dumps(raw))
    elif not raw_path.exists():
        ap.error(f"--from-raw: {raw_path} does not exist; run without --from-raw first")
    raw = json.loads(raw_path.read_text())
    mhz = args.mhz
    synth_path, synth = REPORTS / "synth.json", None
    if synth_path.exists():
        rep = [r for r in json.loads(synth_path.read_text())
               if r["config"]["lanes"] == cfg.lanes]
        synth = rep[0] if rep else None
    source = "--mhz" if mhz else None
    if not mhz and synth and synth["fmax_mhz"]:
        mhz = min(synth["fmax_mhz"].values())
        source = "Fmax of build/reports/synth.json"
    s = summarise(raw, cfg, mhz or None)
    s["clock_source"] = source
    s["targets"] = targets(s, synth)
    REPORTS.mkdir(parents=True, exist_ok=True)
    per_step = {k: {kk: vv for kk, vv in v.items() if kk in ("cycles_per_step", "nnz")}
                for k, v in raw.items() if k in ("sparse", "dense")}
    (REPORTS / "bench.json").write_text(json.dumps({**s, "per_step": per_step}) + "\n")
    plot(raw, cfg, REPORTS / "bench_cycles.png")
    (REPORTS / "bench.md").write_text(markdown(s))
    print(markdown(s))
    ov = raw.get("overlap") or {}
    return 0 if raw.get("h_mismatches", 0) == 0 and raw.get("rtl_bpc") == raw.get("golden_bpc") \
        and ov.get("h_mismatches", 0) == 0 and ov.get("cycle_model_agrees", True) else 1


if __name__ == "__main__":
    sys.exit(main())
