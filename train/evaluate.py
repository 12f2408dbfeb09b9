"""``make eval``: accuracy, sparsity and predicted speed-up of the shipped model bundles, in
float, in fake quantisation and in the bit-exact golden model; a threshold sweep.

    python -m train.evaluate [--ptb models/ptb] [--ptb-dense models/ptb_dense]
                             [--mnist models/mnist] [--mnist-dense models/mnist_dense]
                             [--sweep-chars 20000] [--limit N] [--mnist-limit N]
                             [--out build/reports]

PTB: the whole test set (449,945 characters) as one sequence from zero state, as the
hardware runs it. MNIST: the 1,000 held-out images, each a sequence from zero state.
Speed-up: the cycle model's dense cycles over sparse cycles on the same sequences.
Also: training curves of every bundle (``training_curves.png``, from the training record in
``model.json``) and how often each hidden unit is zero in the golden run
(``unit_sparsity.png``). A bundle that does not fit its data (input size, read-out outputs)
stops the run with a message.
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
from flow.progress import Progress
from golden.config import DEFAULT_CONFIG, ConfigError, load_config
from golden.model import GoldenLSTM, one_hot_inputs

from golden.bundle import Bundle, BundleError, load_bundle, update_metrics
from .data import DataError, mnist_5k, ptb_chars
from .model import SparseLSTM

__all__ = ["torch_model", "ptb_golden", "ptb_float", "mnist_golden", "mnist_float",
           "check_bundle", "unit_sparsity", "main"]

SWEEP = [0.0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.5]
PTB_SYMBOLS = 50          # one-hot inputs and next-symbol outputs (train.data.ptb_chars)
MNIST_ROW = 28            # pixels per step (one image row)
MNIST_CLASSES = 10


class BundleDataError(ValueError):
    """A model bundle whose shape does not fit the data it is evaluated on."""


def check_bundle(b: Bundle, data):
    """Raises :class:`BundleDataError` if bundle ``b`` cannot run on ``data`` ("ptb" or
    "mnist"): one-hot PTB needs input_size = 50 and 50 read-out outputs, sequential MNIST
    input_size = 28 and 10 read-out outputs."""
    X, n_out = b.cfg.input_size, b.readout_w.shape[0]
    if data == "ptb":
        need_x, need_out = PTB_SYMBOLS, PTB_SYMBOLS
        what = (f"the Penn Treebank character data have {PTB_SYMBOLS} symbols, fed one-hot "
                f"and predicted as the next symbol")
    else:
        need_x, need_out = MNIST_ROW, MNIST_CLASSES
        what = (f"sequential MNIST feeds one image row of {MNIST_ROW} pixels per step and "
                f"reads out {MNIST_CLASSES} classes")
    if X == need_x and n_out == need_out:
        return
    article = "a PTB" if data == "ptb" else "an MNIST"
    has = []
    if X != need_x:
        has.append(f"input_size = {X} in its configuration")
    if n_out != need_out:
        has.append(f"a read-out with {n_out} outputs")
    raise BundleDataError(
        f"model bundle {str(b.path)!r} cannot be evaluated on {data.upper()}: it has "
        f"{' and '.join(has)}, but {what}, so {article} bundle needs input_size = "
        f"{need_x} and a read-out with {need_out} outputs. Pass {article} bundle "
        f"(--{data}, --{data}-dense; an empty value skips it) or retrain it with "
        f"python -m train.{data}.")


def unit_sparsity(unit_zeros, steps):
    """Summary of the fraction of ``steps`` on which each hidden unit is zero
    (``unit_zeros``: per-unit counts of zero steps)."""
    frac = np.asarray(unit_zeros, dtype=np.float64) / max(steps, 1)
    hist, _ = np.histogram(frac, bins=10, range=(0.0, 1.0))
    return {"always_zero": int(np.count_nonzero(np.asarray(unit_zeros) == steps)),
            "histogram": [int(v) for v in hist], "min": float(frac.min()),
            "median": float(np.median(frac)), "max": float(frac.max())}


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


def ptb_golden(b: Bundle, ids, theta_raw=None, chunk=20000):
    """Bit-exact run over ``ids`` (one sequence): BPC of next-symbol prediction, sparsity,
    cycles sparse/dense, and per hidden unit the fraction of steps its integer h is zero
    (``unit_zero_fraction``, an array; summarised by :func:`unit_sparsity`)."""
    cfg = b.cfg
    g = GoldenLSTM(cfg, b.q)
    theta_raw = b.theta_raw if theta_raw is None else theta_raw
    h = c = None
    nll_bits, zeros, nnz_all = 0.0, 0, []
    unit_zeros = np.zeros(cfg.hidden_size, dtype=np.int64)
    prev_nnz_h = 0
    for s in range(0, len(ids) - 1, chunk):
        seg = ids[s:min(s + chunk, len(ids) - 1)]
        xs = one_hot_inputs(cfg, seg)
        hs, cs = g.run_fast(xs, theta=theta_raw, h0=h, c0=c)
        h, c = hs[-1], cs[-1]
        hf = dequantize(hs, cfg.formats.state)
        logits = hf @ b.readout_w.T + b.readout_b
        nll_bits += _bpc(logits, ids[s + 1:s + 1 + len(seg)]) * len(seg)
        zeros += int((hs == 0).sum())
        unit_zeros += (hs == 0).sum(axis=0)
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
            "ideal_cycles": int(cfg.rows_per_lane * nnz.sum()), "chars": n,
            "unit_sparsity": unit_sparsity(unit_zeros, n), "unit_zero_fraction": unit_zeros / n}


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
    unit_zeros = np.zeros(cfg.hidden_size, dtype=np.int64)
    for img, label in zip(x, y):
        xs = quantize(img, cfg.formats.input, name="image")[0]
        hs, _ = g.run_fast(xs, theta=theta_raw)
        logits = dequantize(hs[-1], cfg.formats.state) @ b.readout_w.T + b.readout_b
        correct += int(np.argmax(logits) == label)
        zeros += int((hs == 0).sum())
        unit_zeros += (hs == 0).sum(axis=0)
        nnz = cycles.nnz_per_step(cfg, xs, hs)
        sparse_c += int(cycles.step_cycles(cfg, nnz).sum())
        dense_c += int(cycles.step_cycles(cfg, cfg.columns)) * len(xs)
        ideal += int(cfg.rows_per_lane * nnz.sum())
    steps = len(y) * MNIST_ROW
    return {"accuracy": correct / len(y), "sparsity": zeros / (steps * cfg.hidden_size),
            "sparse_cycles": sparse_c, "dense_cycles": dense_c, "speedup": dense_c / sparse_c,
            "ideal_cycles": ideal, "images": len(y),
            "unit_sparsity": unit_sparsity(unit_zeros, steps),
            "unit_zero_fraction": unit_zeros / steps}


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


# training-record keys per data set: (metric, its label, h sparsity); older bundles may lack some
CURVE_KEYS = {"ptb": (("valid_bpc",), "validation BPC", ("valid_sparsity", "sparsity")),
              "mnist": (("test_accuracy", "accuracy"), "test accuracy",
                        ("sparsity", "valid_sparsity", "test_sparsity"))}


def _history(b: Bundle, key="history"):
    h = (b.meta.get("training") or {}).get(key)
    return [e for e in h if isinstance(e, dict)] if isinstance(h, list) else []


def _scope(b: Bundle):
    """How much of the validation set a bundle's per-epoch figures cover, when not all."""
    limit = (b.meta.get("training") or {}).get("valid_limit")
    return f", first {limit:,} chars" if isinstance(limit, int) and limit > 0 else ""


def _offset(history, n):
    """``history`` with its epochs counted after ``n`` earlier ones."""
    return [{**e, "epoch": n + e.get("epoch", i + 1)} for i, e in enumerate(history)]


def _series(history, keys):
    """``(epochs, values)`` of the first of ``keys`` each entry has (entries without one skipped)."""
    xs, ys = [], []
    for i, e in enumerate(history):
        for k in keys:
            if isinstance(e.get(k), (int, float)) and not isinstance(e.get(k), bool):
                xs.append(e.get("epoch", i + 1))
                ys.append(float(e[k]))
                break
    return xs, ys


def plot_training_curves(bundles, path):
    """Per-epoch validation metric and h sparsity of each bundle's training record.
    ``bundles``: ``{data: {"pruned": Bundle or None, "dense": Bundle or None}}``. Returns
    False (and writes nothing) when no bundle has a training record."""
    if not any(_history(b) for pair in bundles.values() for b in pair.values() if b):
        return False
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    titles = {"ptb": "PTB characters", "mnist": "Sequential MNIST"}
    styles = {"pruned": dict(color="tab:blue", marker="o", ls="-"),
              "dense": dict(color="tab:gray", marker="s", ls="--")}
    rows = [d for d in ("ptb", "mnist") if d in bundles]
    fig, axes = plt.subplots(len(rows), 2, figsize=(9.6, 3.3 * len(rows)), squeeze=False)
    for r, data in enumerate(rows):
        metric_keys, metric_label, sparsity_keys = CURVE_KEYS[data]
        ax_m, ax_s = axes[r]
        # a run that fine-tunes another bundle (--init) carries that bundle's epochs: drawn
        # once, the run's own epochs after them
        runs, starts = {}, {}
        for kind, b in bundles[data].items():
            start = _history(b, "init_history") if b else []
            if start:
                starts[len(start)] = start
            runs[kind] = _offset(_history(b) if b else [], len(start))
        for n, start in starts.items():
            for ax, keys in ((ax_m, metric_keys), (ax_s, sparsity_keys)):
                xs, ys = _series(start, keys)
                if xs:
                    ax.plot(xs, [100 * v for v in ys] if ax is ax_s else ys, ms=4,
                            color="black", marker="^", ls=":",
                            label=f"dense start ({n} epochs), continued by")
        for kind, hist in runs.items():
            if not hist:
                continue
            b = bundles[data][kind]
            label = f"{kind} ({b.path.name}, theta {b.meta.get('theta', 0):g}{_scope(b)})"
            for ax, keys in ((ax_m, metric_keys), (ax_s, sparsity_keys)):
                xs, ys = _series(hist, keys)
                if xs:
                    ax.plot(xs, [100 * v for v in ys] if ax is ax_s else ys, ms=4,
                            label=label, **styles[kind])
        hist = runs.get("pruned") or []
        qat = [e["epoch"] for e in hist if e.get("qat")]
        if qat:
            for ax in (ax_m, ax_s):
                ax.axvspan(min(qat) - 0.5, max(qat) + 0.5, color="tab:orange", alpha=0.12,
                           lw=0, label="fake-quantised epochs (pruned)" if ax is ax_m else None)
        epochs = [e["epoch"] for hist in runs.values() for e in hist] + \
            [e.get("epoch", i + 1) for start in starts.values() for i, e in enumerate(start)]
        if epochs:
            for ax in (ax_m, ax_s):
                ax.set_xlim(min(epochs) - 0.6, max(epochs) + 0.6)
        ax_m.set_ylabel(metric_label)
        ax_s.set_ylabel("h sparsity (% zeros)")
        ax_m.set_title(f"{titles[data]}: {metric_label}", fontsize=10)
        ax_s.set_title(f"{titles[data]}: h sparsity on held-out data", fontsize=10)
        for ax in (ax_m, ax_s):
            ax.set_xlabel("epoch")
            ax.grid(alpha=0.3)
            ax.xaxis.get_major_locator().set_params(integer=True)
            if ax.lines:
                ax.legend(fontsize=7)
            else:
                ax.text(0.5, 0.5, "no training record", ha="center", va="center",
                        transform=ax.transAxes, color="gray")
        ax_s.set_ylim(-3, 103)
    fig.suptitle("Training curves (float model, per epoch, from each bundle's model.json)",
                 fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def plot_unit_sparsity(fractions, path):
    """Histogram of the per-unit zero fraction of the golden run; ``fractions``:
    ``{title: (array, description of the steps)}``."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, len(fractions), figsize=(4.8 * len(fractions), 3.6),
                             squeeze=False)
    bins = np.linspace(0.0, 1.0, 11)
    for ax, (title, (frac, steps)) in zip(axes[0], fractions.items()):
        always = int(np.count_nonzero(frac == 1.0))
        never = int(np.count_nonzero(frac == 0.0))
        counts, _, _ = ax.hist(frac, bins=bins, color="tab:blue", edgecolor="white")
        ax.set_ylim(0, max(counts.max(), 1) * 1.4)      # room for the notes above the bars
        if always:
            ax.bar(0.95, always, width=0.1, color="tab:red", edgecolor="white",
                   label="always zero (part of the last bin)")
            ax.legend(fontsize=7, loc="upper center")
        ax.set_xticks(bins)
        ax.set_xticklabels([f"{v:.1f}" for v in bins], fontsize=8)
        ax.set_xlim(0, 1)
        ax.set_xlabel("fraction of steps the unit's h is zero")
        ax.set_ylabel("hidden units")
        ax.set_title(f"{title}: {len(frac)} units, {steps}", fontsize=10)
        ax.text(0.03, 0.95, f"always zero: {always}\nnever zero: {never}\n"
                            f"median: {np.median(frac):.2f}",
                transform=ax.transAxes, va="top", fontsize=8,
                bbox=dict(facecolor="white", alpha=0.8, edgecolor="lightgray"))
        ax.grid(axis="y", alpha=0.3)
    fig.suptitle("Per-unit h sparsity, bit-exact golden model", fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def load_bundles(args):
    """Loads every bundle named in ``args`` and checks that it fits its data; raises
    :class:`BundleError` or :class:`BundleDataError`. The cycle counts (speed-ups) are for
    the hardware of the task's configuration file (``--ptb-config``, ``--mnist-config``): its
    lane and cell-unit counts replace the bundle's (they do not change the arithmetic)."""
    out = {}
    for data, keys in (("ptb", ("ptb", "ptb_dense")), ("mnist", ("mnist", "mnist_dense"))):
        hw = load_config(getattr(args, f"{data}_config"))
        for key in keys:
            if getattr(args, key):
                b = load_bundle(getattr(args, key))
                check_bundle(b, data)
                b.cfg = b.cfg.replace(lanes=hw.lanes, cell_units=hw.cell_units)
                out[key] = b
    return out


def record_metrics(bundles, report, full):
    """The test-set figures into each evaluated bundle's ``model.json`` (``metrics``), so that
    a bundle says how good it is; only from a whole-test-set evaluation."""
    if not full:
        return
    keys = {"ptb": ("bpc", "sparsity", "speedup", "chars"),
            "mnist": ("accuracy", "sparsity", "speedup", "images")}
    for data, r in report.items():
        golden = {k: r["golden"][k] for k in keys[data] if k in r["golden"]}
        update_metrics(bundles[data].path, {
            "test_set": "full", "golden_fixed_point": golden,
            "float": {k: v for k, v in r["float"].items() if k in keys[data]},
            "theta": r["theta"], "command": "make eval"})
        dense = bundles.get(f"{data}_dense")
        if dense is not None and "dense_float_baseline" in r:
            update_metrics(dense.path, {
                "test_set": "full", "command": "make eval",
                "float": {k: v for k, v in r["dense_float_baseline"].items()
                          if k in keys[data]}})


def evaluate(args):
    out = Path(args.out)
    bundles = load_bundles(args)
    out.mkdir(parents=True, exist_ok=True)
    report, units = {}, {}
    parts = sum(3 + ("%s_dense" % d in bundles) + len(SWEEP) for d in ("ptb", "mnist")
                if d in bundles)
    bar = Progress(parts, "eval", unit="part")

    def tick(what):
        bar.update(bar.bar.n + 1, what)
    if "ptb" in bundles:
        b = bundles["ptb"]
        _, splits = ptb_chars()
        test = splits["test"][:args.limit] if args.limit else splits["test"]
        r = {"float": ptb_float(b, test)}
        tick("ptb float")
        r["fake_quant"] = ptb_float(b, test, quant=True)
        tick("ptb fake-quantised")
        r.update({"golden": ptb_golden(b, test), "theta": b.meta["theta"],
                  "theta_raw": b.theta_raw})
        tick("ptb golden")
        units[f"PTB, theta {r['theta']:g}"] = (r["golden"].pop("unit_zero_fraction"),
                        f"{r['golden']['chars']:,} test chars")
        if "ptb_dense" in bundles:
            r["dense_float_baseline"] = ptb_float(bundles["ptb_dense"], test, theta=0.0)
            r["bpc_gap"] = r["golden"]["bpc"] - r["dense_float_baseline"]["bpc"]
            tick("ptb dense baseline")
        sweep_ids = splits["test"][:args.sweep_chars]
        rows = []
        for th in SWEEP:
            gr = ptb_golden(b, sweep_ids, int(round(th * b.cfg.formats.state.scale)))
            rows.append({"theta": th, "bpc": gr["bpc"], "sparsity": gr["sparsity"],
                         "speedup": gr["speedup"], "mean_nnz": gr["mean_nnz"]})
            bar.write(f"ptb theta {th:.2f}: bpc {gr['bpc']:.4f} sparsity {gr['sparsity']:.3f} "
                      f"speed-up {gr['speedup']:.2f}")
            tick(f"ptb theta {th:.2f}")
        r["sweep"] = {"chars": len(sweep_ids) - 1, "rows": rows}
        _plot(rows, "bpc", "bits per character", out / "accuracy_sweep_ptb.png",
              f"PTB chars, golden fixed point, first {len(sweep_ids) - 1} test chars")
        report["ptb"] = r
    if "mnist" in bundles:
        b = bundles["mnist"]
        _, _, xte, yte = mnist_5k()
        if args.mnist_limit:
            xte, yte = xte[:args.mnist_limit], yte[:args.mnist_limit]
        r = {"float": mnist_float(b, xte, yte)}
        tick("mnist float")
        r["fake_quant"] = mnist_float(b, xte, yte, quant=True)
        tick("mnist fake-quantised")
        r.update({"golden": mnist_golden(b, xte, yte), "theta": b.meta["theta"],
                  "theta_raw": b.theta_raw})
        tick("mnist golden")
        units[f"MNIST, theta {r['theta']:g}"] = (r["golden"].pop("unit_zero_fraction"),
                          f"{len(yte):,} test images x {MNIST_ROW} steps")
        if "mnist_dense" in bundles:
            r["dense_float_baseline"] = mnist_float(bundles["mnist_dense"], xte, yte, theta=0.0)
            r["accuracy_gap"] = r["golden"]["accuracy"] - r["dense_float_baseline"]["accuracy"]
            tick("mnist dense baseline")
        rows = []
        for th in SWEEP:
            gr = mnist_golden(b, xte, yte, int(round(th * b.cfg.formats.state.scale)))
            rows.append({"theta": th, "accuracy": gr["accuracy"], "sparsity": gr["sparsity"],
                         "speedup": gr["speedup"]})
            bar.write(f"mnist theta {th:.2f}: accuracy {gr['accuracy']:.4f} sparsity "
                      f"{gr['sparsity']:.3f} speed-up {gr['speedup']:.2f}")
            tick(f"mnist theta {th:.2f}")
        r["sweep"] = {"images": len(yte), "rows": rows}
        _plot(rows, "accuracy", "test accuracy", out / "accuracy_sweep_mnist.png",
              f"Sequential MNIST, golden fixed point, {len(yte)} test images")
        report["mnist"] = r
    bar.close()
    if units:
        plot_unit_sparsity(units, out / "unit_sparsity.png")
    curves = plot_training_curves(
        {data: {"pruned": bundles.get(data), "dense": bundles.get(f"{data}_dense")}
         for data in ("ptb", "mnist") if data in bundles or f"{data}_dense" in bundles},
        out / "training_curves.png")
    (out / "accuracy.json").write_text(json.dumps(report, indent=2) + "\n")
    (out / "accuracy.md").write_text(markdown(report, curves=curves))
    record_metrics(bundles, report, full=not args.limit and not args.mnist_limit)
    print((out / "accuracy.md").read_text())
    return report


def _unit_sentence(g, steps):
    u = g.get("unit_sparsity")
    if not u:
        return []
    n, k = sum(u["histogram"]), u["always_zero"]
    spread = (f"Fraction of steps a unit is zero: min {u['min']:.3f}, median {u['median']:.3f}, "
              f"max {u['max']:.3f} ([histogram](unit_sparsity.png)).")
    if k == 0:
        return ["", f"Per-unit sparsity (golden, {steps}): no hidden unit is zero on every step, "
                    f"so none can be dropped from the hardware for free. {spread}"]
    return ["", f"Per-unit sparsity (golden, {steps}): **{k} of {n} hidden units "
                f"{'is' if k == 1 else 'are'} zero on every step**, a free hardware saving: "
                f"{'its' if k == 1 else 'their'} W_hh columns are never visited, and "
                f"{'its' if k == 1 else 'their'} four gate rows (and read-out weights) could be "
                f"dropped (zero on this test set, not proven for every input). {spread}"]


def markdown(report, curves=False):
    lines = ["# Accuracy, sparsity and predicted speed-up", ""]
    if curves:
        lines += ["Training curves of the bundles (validation BPC / test accuracy and h "
                  "sparsity per epoch): [training_curves.png](training_curves.png)", "",
                  "![Training curves](training_curves.png)", ""]
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
        lines += _unit_sentence(g, f"{g['chars']:,} test chars")
        lines += ["", f"Threshold sweep (golden, first {r['sweep']['chars']} test chars):", "",
                  "| theta | BPC | sparsity | speed-up |", "|---|---|---|---|"]
        lines += [f"| {x['theta']:.2f} | {x['bpc']:.4f} | {x['sparsity']:.3f} | "
                  f"{x['speedup']:.2f} |" for x in r["sweep"]["rows"]]
        lines += ["", "![PTB sweep](accuracy_sweep_ptb.png)", ""]
    if "mnist" in report:
        r = report["mnist"]
        lines += [f"## Sequential MNIST ({r['golden']['images']:,} held-out images)", "",
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
        lines += _unit_sentence(g, f"{g['images']:,} test images x {MNIST_ROW} steps")
        lines += ["", "| theta | accuracy | sparsity | speed-up |", "|---|---|---|---|"]
        lines += [f"| {x['theta']:.2f} | {x['accuracy']:.4f} | {x['sparsity']:.3f} | "
                  f"{x['speedup']:.2f} |" for x in r["sweep"]["rows"]]
        lines += ["", "![MNIST sweep](accuracy_sweep_mnist.png)", ""]
    if any("unit_sparsity" in report[d]["golden"] for d in ("ptb", "mnist") if d in report):
        lines += ["## Per-unit h sparsity (golden)", "",
                  "Fraction of the test steps on which each hidden unit's h is zero; a unit "
                  "that is always zero costs nothing in the sparse schedule.", "",
                  "![Per-unit sparsity](unit_sparsity.png)", ""]
    return "\n".join(lines) + "\n"


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m train.evaluate",
                                 description=__doc__.split("\n")[0])
    ap.add_argument("--ptb", default="models/ptb")
    ap.add_argument("--ptb-dense", default="models/ptb_dense")
    ap.add_argument("--mnist", default="models/mnist")
    ap.add_argument("--mnist-dense", default="models/mnist_dense")
    ap.add_argument("--ptb-config", default=str(DEFAULT_CONFIG),
                    help="the hardware whose cycles the PTB speed-ups count")
    ap.add_argument("--mnist-config", default="configs/mnist.toml",
                    help="the hardware whose cycles the MNIST speed-ups count")
    ap.add_argument("--sweep-chars", type=int, default=20000)
    ap.add_argument("--limit", type=int, default=0, help="PTB test characters (0: all)")
    ap.add_argument("--mnist-limit", type=int, default=0, help="MNIST test images (0: all)")
    ap.add_argument("--out", default="build/reports")
    args = ap.parse_args(argv)
    for k in ("ptb", "ptb_dense", "mnist", "mnist_dense"):
        if getattr(args, k) and not Path(getattr(args, k)).exists():
            print(f"note: {getattr(args, k)} not found; skipped", file=sys.stderr)
            setattr(args, k, "")
    try:
        evaluate(args)
    except (BundleError, BundleDataError, DataError, ConfigError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
