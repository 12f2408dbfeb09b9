"""``make eval``: accuracy, sparsity and predicted speed-up of the shipped model bundles, in
float, in fake quantisation and in the bit-exact golden model; a threshold sweep.

    python -m train.evaluate [--ptb models/ptb] [--ptb-dense models/ptb_dense]
                             [--mnist models/mnist] [--mnist-dense models/mnist_dense]
                             [--sweep-chars 20000] [--limit N] [--out build/reports]

PTB: the whole test set (449,945 characters) as one sequence from zero state, as the
hardware runs it. MNIST: the 1,000 held-out images, each a sequence from zero state.
Speed-up: the cycle model's dense cycles over sparse cycles on the same sequences.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np
import torch

from golden import cycles
from golden.fixed import dequantize, quantize
from golden.model import GoldenLSTM

from golden.bundle import Bundle, load_bundle
from .data import mnist_5k, ptb_chars
from .model import SparseLSTM

__all__ = ["torch_model", "ptb_golden", "ptb_float", "mnist_golden", "mnist_float", "main"]

SWEEP = [0.0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.5]


def torch_model(b: Bundle, theta=None, quant=False):
    X, H = b.cfg.input_size, b.cfg.hidden_size
    m = SparseLSTM(X, H, b.readout_w.shape[0], theta=b.meta["theta"] if theta is None else theta)
    with torch.no_grad():
        m.lstm.weight_ih_l0.copy_(torch.from_numpy(b.float_params.w_ih))
        m.lstm.weight_hh_l0.copy_(torch.from_numpy(b.float_params.w_hh))
        m.lstm.bias_ih_l0.copy_(torch.from_numpy(b.float_params.b))
        m.lstm.bias_hh_l0.zero_()
        m.out.weight.copy_(torch.from_numpy(b.readout_w))
        m.out.bias.copy_(torch.from_numpy(b.readout_b))
    m.double()
    m.quant = b.cfg if quant else None
    m.eval()
    return m


def _bpc(logits, targets):
    logits = logits - logits.max(axis=1, keepdims=True)
    logp = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    return float(-logp[np.arange(len(targets)), targets].mean() / math.log(2))


def one_hot_inputs(cfg, ids):
    xs = np.zeros((len(ids), cfg.input_size), dtype=np.int64)
    xs[np.arange(len(ids)), ids] = 1 << cfg.formats["input"].frac
    return xs


def ptb_golden(b: Bundle, ids, theta_raw=None, chunk=20000):
    """Bit-exact run over ``ids`` (one sequence): BPC of next-symbol prediction, sparsity,
    cycles sparse/dense, and the integer h (for the RTL check)."""
    cfg = b.cfg
    g = GoldenLSTM(cfg, b.q)
    theta_raw = b.theta_raw if theta_raw is None else theta_raw
    h = c = None
    nll_bits, zeros, nnz_all = 0.0, 0, []
    prev_nnz_h = 0
    for s in range(0, len(ids) - 1, chunk):
        seg = ids[s:min(s + chunk, len(ids) - 1)]
        xs = one_hot_inputs(cfg, seg)
        hs, cs = g.run_fast(xs, theta=theta_raw, h0=h, c0=c)
        h, c = hs[-1], cs[-1]
        hf = dequantize(hs, cfg.formats["state"])
        logits = hf @ b.readout_w.T + b.readout_b
        nll_bits += _bpc(logits, ids[s + 1:s + 1 + len(seg)]) * len(seg)
        zeros += int((hs == 0).sum())
        nz_h = np.count_nonzero(hs, axis=1)
        nnz_all.append(np.count_nonzero(xs, axis=1) + np.concatenate([[prev_nnz_h], nz_h[:-1]]))
        prev_nnz_h = nz_h[-1]
    n = len(ids) - 1
    nnz = np.concatenate(nnz_all)
    sparse_cycles = int(cycles.step_cycles(cfg, nnz).sum())
    dense_cycles = int(cycles.step_cycles(cfg, cfg.columns)) * n
    return {"bpc": nll_bits / n, "sparsity": zeros / (n * cfg.hidden_size),
            "mean_nnz": float(nnz.mean()), "sparse_cycles": sparse_cycles,
            "dense_cycles": dense_cycles, "speedup": dense_cycles / sparse_cycles,
            "ideal_cycles": int(cfg.rows_per_lane * nnz.sum()), "chars": n}


@torch.no_grad()
def ptb_float(b: Bundle, ids, theta=None, quant=False, chunk=2000):
    m = torch_model(b, theta, quant)
    state, bits, zeros = None, 0.0, 0
    data = torch.from_numpy(ids)
    n = len(ids) - 1
    for s in range(0, n, chunk):
        x = data[s:min(s + chunk, n)][None]
        y = data[s + 1:s + 1 + x.shape[1]]
        h, state, _ = m(x, state)
        logits = m.out(h[0])
        bits += torch.nn.functional.cross_entropy(logits, y, reduction="sum").item() / math.log(2)
        zeros += int((h == 0).sum())
    return {"bpc": bits / n, "sparsity": zeros / (n * b.cfg.hidden_size), "chars": n}


def mnist_golden(b: Bundle, x, y, theta_raw=None):
    cfg = b.cfg
    g = GoldenLSTM(cfg, b.q)
    theta_raw = b.theta_raw if theta_raw is None else theta_raw
    correct, zeros, sparse_c, dense_c, ideal = 0, 0, 0, 0, 0
    for img, label in zip(x, y):
        xs = quantize(img, cfg.formats["input"], name="image")[0]
        hs, _ = g.run_fast(xs, theta=theta_raw)
        logits = dequantize(hs[-1], cfg.formats["state"]) @ b.readout_w.T + b.readout_b
        correct += int(np.argmax(logits) == label)
        zeros += int((hs == 0).sum())
        nnz = cycles.nnz_per_step(cfg, xs, hs)
        sparse_c += int(cycles.step_cycles(cfg, nnz).sum())
        dense_c += int(cycles.step_cycles(cfg, cfg.columns)) * len(xs)
        ideal += int(cfg.rows_per_lane * nnz.sum())
    return {"accuracy": correct / len(y), "sparsity": zeros / (len(y) * 28 * cfg.hidden_size),
            "sparse_cycles": sparse_c, "dense_cycles": dense_c, "speedup": dense_c / sparse_c,
            "ideal_cycles": ideal, "images": len(y)}


@torch.no_grad()
def mnist_float(b: Bundle, x, y, theta=None, quant=False):
    m = torch_model(b, theta, quant)
    h, _, _ = m(torch.from_numpy(x))
    pred = m.out(h[:, -1]).argmax(-1).numpy()
    return {"accuracy": float((pred == y).mean()), "sparsity": float((h == 0).double().mean())}


def _plot(rows, key, label, path, title):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    th = [r["theta"] for r in rows]
    fig, ax1 = plt.subplots(figsize=(6.4, 4.0))
    ax1.plot(th, [r[key] for r in rows], "o-", color="tab:blue", label=label)
    ax1.set_xlabel("pruning threshold theta")
    ax1.set_ylabel(label, color="tab:blue")
    ax2 = ax1.twinx()
    ax2.plot(th, [100 * r["sparsity"] for r in rows], "s--", color="tab:red", label="sparsity")
    ax2.plot(th, [10 * r["speedup"] for r in rows], "^:", color="tab:green",
             label="speed-up x10")
    ax2.set_ylabel("h sparsity (%) / predicted speed-up x10")
    fig.legend(loc="lower center", ncol=3, fontsize=8)
    ax1.set_title(title)
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)


def evaluate(args):
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    report = {}
    if args.ptb:
        b = load_bundle(args.ptb)
        _, splits = ptb_chars()
        test = splits["test"][:args.limit] if args.limit else splits["test"]
        r = {"float": ptb_float(b, test), "fake_quant": ptb_float(b, test, quant=True),
             "golden": ptb_golden(b, test), "theta": b.meta["theta"],
             "theta_raw": b.theta_raw}
        if args.ptb_dense:
            r["dense_float_baseline"] = ptb_float(load_bundle(args.ptb_dense), test, theta=0.0)
            r["bpc_gap"] = r["golden"]["bpc"] - r["dense_float_baseline"]["bpc"]
        sweep_ids = splits["test"][:args.sweep_chars]
        rows = []
        for th in SWEEP:
            gr = ptb_golden(b, sweep_ids, int(round(th * b.cfg.formats["state"].scale)))
            rows.append({"theta": th, "bpc": gr["bpc"], "sparsity": gr["sparsity"],
                         "speedup": gr["speedup"], "mean_nnz": gr["mean_nnz"]})
            print(f"ptb theta {th:.2f}: bpc {gr['bpc']:.4f} sparsity {gr['sparsity']:.3f} "
                  f"speed-up {gr['speedup']:.2f}")
        r["sweep"] = {"chars": len(sweep_ids) - 1, "rows": rows}
        _plot(rows, "bpc", "bits per character", out / "accuracy_sweep_ptb.png",
              f"PTB chars, golden fixed point, first {len(sweep_ids) - 1} test chars")
        report["ptb"] = r
    if args.mnist:
        b = load_bundle(args.mnist)
        _, _, xte, yte = mnist_5k()
        r = {"float": mnist_float(b, xte, yte), "fake_quant": mnist_float(b, xte, yte, quant=True),
             "golden": mnist_golden(b, xte, yte), "theta": b.meta["theta"],
             "theta_raw": b.theta_raw}
        if args.mnist_dense:
            r["dense_float_baseline"] = mnist_float(load_bundle(args.mnist_dense), xte, yte,
                                                    theta=0.0)
            r["accuracy_gap"] = r["golden"]["accuracy"] - r["dense_float_baseline"]["accuracy"]
        rows = []
        for th in SWEEP:
            gr = mnist_golden(b, xte, yte, int(round(th * b.cfg.formats["state"].scale)))
            rows.append({"theta": th, "accuracy": gr["accuracy"], "sparsity": gr["sparsity"],
                         "speedup": gr["speedup"]})
            print(f"mnist theta {th:.2f}: accuracy {gr['accuracy']:.4f} sparsity "
                  f"{gr['sparsity']:.3f} speed-up {gr['speedup']:.2f}")
        r["sweep"] = {"images": len(yte), "rows": rows}
        _plot(rows, "accuracy", "test accuracy", out / "accuracy_sweep_mnist.png",
              "Sequential MNIST, golden fixed point, 1000 test images")
        report["mnist"] = r
    (out / "accuracy.json").write_text(json.dumps(report, indent=2) + "\n")
    (out / "accuracy.md").write_text(markdown(report))
    print((out / "accuracy.md").read_text())
    return report


def markdown(report):
    lines = ["# Accuracy, sparsity and predicted speed-up", ""]
    if "ptb" in report:
        r = report["ptb"]
        lines += ["## Penn Treebank characters (test set, one sequence)", "",
                  f"theta = {r['theta']} ({r['theta_raw']} raw)", "",
                  "| model | BPC | h sparsity |", "|---|---|---|"]
        for k in ("float", "fake_quant", "golden", "dense_float_baseline"):
            if k in r:
                lines.append(f"| {k} | {r[k]['bpc']:.4f} | {r[k]['sparsity']:.3f} |")
        g = r["golden"]
        lines += ["", f"Golden: mean nnz(v_t) {g['mean_nnz']:.1f} of 306; cycles sparse "
                      f"{g['sparse_cycles']:,}, dense {g['dense_cycles']:,}: predicted speed-up "
                      f"**{g['speedup']:.2f}x**; sparse cycles / ideal "
                      f"{g['sparse_cycles'] / g['ideal_cycles']:.4f}."]
        if "bpc_gap" in r:
            lines.append(f"BPC gap golden vs dense float baseline: {r['bpc_gap']:+.4f}.")
        lines += ["", f"Threshold sweep (golden, first {r['sweep']['chars']} test chars):", "",
                  "| theta | BPC | sparsity | speed-up |", "|---|---|---|---|"]
        lines += [f"| {x['theta']:.2f} | {x['bpc']:.4f} | {x['sparsity']:.3f} | "
                  f"{x['speedup']:.2f} |" for x in r["sweep"]["rows"]]
        lines += ["", "![PTB sweep](accuracy_sweep_ptb.png)", ""]
    if "mnist" in report:
        r = report["mnist"]
        lines += ["## Sequential MNIST (1,000 held-out images)", "",
                  f"theta = {r['theta']} ({r['theta_raw']} raw)", "",
                  "| model | accuracy | h sparsity |", "|---|---|---|"]
        for k in ("float", "fake_quant", "golden", "dense_float_baseline"):
            if k in r:
                lines.append(f"| {k} | {r[k]['accuracy']:.4f} | {r[k]['sparsity']:.3f} |")
        g = r["golden"]
        lines += ["", f"Predicted speed-up **{g['speedup']:.2f}x** (cycles sparse "
                      f"{g['sparse_cycles']:,}, dense {g['dense_cycles']:,})."]
        if "accuracy_gap" in r:
            lines.append(f"Accuracy gap golden vs dense float baseline: "
                         f"{100 * r['accuracy_gap']:+.2f} points.")
        lines += ["", "| theta | accuracy | sparsity | speed-up |", "|---|---|---|---|"]
        lines += [f"| {x['theta']:.2f} | {x['accuracy']:.4f} | {x['sparsity']:.3f} | "
                  f"{x['speedup']:.2f} |" for x in r["sweep"]["rows"]]
        lines += ["", "![MNIST sweep](accuracy_sweep_mnist.png)", ""]
    return "\n".join(lines) + "\n"


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m train.evaluate",
                                 description=__doc__.split("\n")[0])
    ap.add_argument("--ptb", default="models/ptb")
    ap.add_argument("--ptb-dense", default="models/ptb_dense")
    ap.add_argument("--mnist", default="models/mnist")
    ap.add_argument("--mnist-dense", default="models/mnist_dense")
    ap.add_argument("--sweep-chars", type=int, default=20000)
    ap.add_argument("--limit", type=int, default=0, help="PTB test characters (0: all)")
    ap.add_argument("--out", default="build/reports")
    args = ap.parse_args(argv)
    for k in ("ptb", "ptb_dense", "mnist", "mnist_dense"):
        if getattr(args, k) and not Path(getattr(args, k)).exists():
            print(f"note: {getattr(args, k)} not found; skipped", file=sys.stderr)
            setattr(args, k, "")
    evaluate(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
