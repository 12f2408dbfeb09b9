"""Character-level Penn Treebank: pruning-aware training of the default model.

    python -m train.ptb --out models/ptb [--config configs/default.toml] [--epochs 3] ...

The hidden size and formats come from the configuration (default: H = 256).

Training: truncated BPTT over ``batch`` contiguous streams of the training text, state
carried between windows (as the hardware carries it), Adam with a cosine learning rate,
gradient clipping (``train.recipe.Schedule``). Dense for the first ``prune-start`` fraction of
the steps; then theta ramps to ``--theta`` and a feedback loop on each batch's measured h
sparsity sets the weight of an L1 penalty on the pre-threshold h (or, with ``--feedback
theta``, the threshold itself) so that the sparsity follows a cubic ramp to ``--target``; the
gradient passes straight through the pruning (``--prune-grad ste``; ``zero``: none to a
pruned element). ``--penalty l0`` replaces the L1 by a smooth count of the elements at or
above theta; ``--teacher`` adds distillation from a dense bundle's output. The last
``--qat-epochs`` epochs train with fake quantisation to the hardware formats. Seeded;
``--resume`` continues from the checkpoint the run writes after every epoch.
"""

from __future__ import annotations

import argparse
import math
import sys

import numpy as np
import torch

from golden.config import DEFAULT_CONFIG, load_config

from golden.bundle import save_bundle
from .data import ptb_chars
from .checkpoint import TrainingRun
from .model import SparseLSTM, activity_penalty, distilled, load_teacher
from flow.progress import Progress
from .recipe import Schedule, add_recipe_arguments, training_record

__all__ = ["train", "main", "bpc_float"]


def batchify(ids, batch):
    n = len(ids) // batch
    return torch.from_numpy(ids[:n * batch].reshape(batch, n).copy())


@torch.no_grad()
def bpc_float(model, ids, batch=32, bptt=200, limit=None):
    """Bits per character and hidden-state sparsity of ``ids`` (contiguous streams)."""
    model.eval()
    data = batchify(ids if limit is None else ids[:limit], batch)
    state, total, count, zeros, hcount = None, 0.0, 0, 0, 0
    for s in range(0, data.shape[1] - 1, bptt):
        x = data[:, s:s + bptt]
        y = data[:, s + 1:s + 1 + bptt]
        x = x[:, :y.shape[1]]
        h, state, _ = model(x, state)
        logits = model.out(h)
        total += torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]),
                                                   y.reshape(-1), reduction="sum").item()
        count += y.numel()
        zeros += (h == 0).sum().item()
        hcount += h.numel()
    model.train()
    return total / count / math.log(2), zeros / hcount


def train(args):
    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    torch.set_num_threads(args.threads)
    cfg = load_config(args.config)
    vocab, splits = ptb_chars()
    if cfg.input_size != len(vocab):
        raise SystemExit(f"error: configuration {args.config} has input_size = {cfg.input_size}, "
                         f"but the PTB data have {len(vocab)} symbols (one-hot inputs); use a "
                         f"configuration with input_size = {len(vocab)}")
    model = SparseLSTM(len(vocab), cfg.hidden_size, len(vocab), theta=0.0,
                       prune_grad=args.prune_grad, norm=args.norm)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    teacher, t_state = None, None
    if args.teacher:
        teacher = load_teacher(args.teacher, cfg, len(vocab), len(vocab))
    data = batchify(splits["train"], args.batch)
    windows = (data.shape[1] - 1) // args.bptt
    if args.max_windows:
        windows = min(windows, args.max_windows)
    total_steps = windows * args.epochs
    sched = Schedule(total_steps, args.lr, args.theta, args.prune_start, args.warmup,
                     args.target, args.l1, feedback=args.feedback,
                     freeze=1.0 - args.qat_epochs / args.epochs, l1_max=args.l1_max,
                     lr_floor=args.lr_floor)
    tr = TrainingRun(args, cfg, model, opt)
    epoch0, history, l1, theta = tr.epoch0, tr.history, tr.l1, tr.theta
    run = Progress(total_steps, "ptb", start=epoch0 * windows)
    for epoch in range(epoch0, args.epochs):
        qat = epoch >= args.epochs - args.qat_epochs
        model.quant = cfg if qat else None
        state = None
        zeros_sum, bits_sum = 0.0, 0.0
        for w in range(windows):
            step = epoch * windows + w
            model.theta = theta
            for group in opt.param_groups:
                group["lr"] = sched.lr_at(step)
            x = data[:, w * args.bptt:(w + 1) * args.bptt]
            y = data[:, w * args.bptt + 1:(w + 1) * args.bptt + 1]
            if state is not None:
                state = tuple(s.detach() for s in state)
            penalty = l1 > 0 and sched.fraction(step) >= sched.prune_start
            h, state, pre = model(x, state, return_pre=penalty)
            logits = model.out(h)
            loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]),
                                                     y.reshape(-1))
            task = loss
            if teacher is not None:
                with torch.no_grad():
                    t_h, t_state, _ = teacher(x, None if w == 0 else t_state)
                task = distilled(loss, logits, teacher.out(t_h), args.kd)
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
            bits_sum += loss.item() / math.log(2)
            run.update(step + 1, f"epoch {epoch + 1}/{args.epochs}{' qat' if qat else ''} "
                                 f"bpc {loss.item() / math.log(2):.3f} zeros {zeros:.2f} "
                                 f"target {sched.target_at(step):.2f} l1 {l1:.3f} "
                                 f"theta {model.theta:.3f}")
        vb, vs = bpc_float(model, splits["valid"], limit=args.valid_limit)
        tr.end_epoch({"epoch": epoch + 1, "train_bpc": bits_sum / windows,
                      "train_sparsity": zeros_sum / windows, "valid_bpc": vb,
                      "valid_sparsity": vs, "theta": model.theta, "l1": l1, "qat": qat,
                      "lr": sched.lr_at(step)}, l1, theta)
        run.write(f"epoch {epoch + 1}: valid bpc {vb:.4f}, h sparsity {vs:.3f}")
    run.close()
    model.theta = theta if args.target > 0 and args.feedback == "theta" else args.theta
    meta = {"dataset": "Penn Treebank characters (treebank package, standard split)",
            "task": "next-character prediction", "vocab": vocab,
            "theta": model.theta, "training": training_record(args, history, tr.seconds)}
    model.fold_norm()                 # a plain LSTM for the bundle and the hardware
    save_bundle(args.out, model, cfg, meta)
    print(f"wrote model bundle {args.out}")
    return model, history


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m train.ptb", description=__doc__.split("\n")[0])
    add_recipe_arguments(ap, config=DEFAULT_CONFIG, out="models/ptb", epochs=5, qat_epochs=1,
                         batch=32, warmup=0.6)
    ap.add_argument("--bptt", type=int, default=100)
    ap.add_argument("--max-windows", type=int, default=0, help="windows per epoch (0: all)")
    ap.add_argument("--valid-limit", type=int, default=None, help="validation characters")
    args = ap.parse_args(argv)
    train(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
