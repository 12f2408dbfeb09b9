"""Character-level Penn Treebank: pruning-aware training of the default model.

    python -m train.ptb --out models/ptb [--config configs/default.toml] [--epochs 3] ...

The hidden size and formats come from the configuration (default: H = 256).

Training: truncated BPTT over ``batch`` contiguous streams of the training text, state
carried between windows (as the hardware carries it), Adam, gradient clipping. The pruning
threshold is 0 for the first ``prune-start`` fraction of the steps, then ramps linearly to
``theta`` at the ``warmup`` fraction; an L1 penalty on the unpruned h (``--l1``) pushes values towards zero. The last
``--qat-epochs`` epochs train with fake quantisation to the hardware formats. Seeded;
``--resume`` continues from the checkpoint the run writes after every epoch.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch

from golden.config import DEFAULT_CONFIG, load_config

from golden.bundle import save_bundle
from .data import ptb_chars
from .model import SparseLSTM
from .progress import Progress

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
        raise SystemExit(f"error: configuration input_size={cfg.input_size}; PTB needs "
                         f"{len(vocab)} (one-hot symbols)")
    model = SparseLSTM(len(vocab), cfg.hidden_size, len(vocab), theta=0.0)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    data = batchify(splits["train"], args.batch)
    windows = (data.shape[1] - 1) // args.bptt
    if args.max_windows:
        windows = min(windows, args.max_windows)
    total_steps = windows * args.epochs
    ckpt = Path(args.checkpoint or (Path(args.out) / "checkpoint.pt"))
    epoch0, history = 0, []
    if args.resume and ckpt.exists():
        state = torch.load(ckpt, weights_only=False)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        epoch0, history = state["epoch"], state["history"]
        print(f"resumed from {ckpt} after epoch {epoch0}")
    t_start = time.time()
    for epoch in range(epoch0, args.epochs):
        qat = epoch >= args.epochs - args.qat_epochs
        model.quant = cfg if qat else None
        state = None
        bar = Progress(windows, f"epoch {epoch + 1}/{args.epochs}{' qat' if qat else ''}")
        for w in range(windows):
            step = epoch * windows + w
            ramp = (step / total_steps - args.prune_start) / max(args.warmup - args.prune_start,
                                                                   1e-9)
            model.theta = args.theta * min(1.0, max(0.0, ramp))
            x = data[:, w * args.bptt:(w + 1) * args.bptt]
            y = data[:, w * args.bptt + 1:(w + 1) * args.bptt + 1]
            if state is not None:
                state = tuple(s.detach() for s in state)
            h, state, pre = model(x, state, return_pre=args.l1 > 0)
            logits = model.out(h)
            loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]),
                                                     y.reshape(-1))
            total = loss + (args.l1 * pre.abs().mean() if args.l1 > 0 else 0.0)
            opt.zero_grad()
            total.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            bar.update(w + 1, f"bpc {loss.item() / math.log(2):.3f} "
                              f"zeros {(h == 0).float().mean().item():.2f} "
                              f"theta {model.theta:.3f}")
        bar.close()
        vb, vs = bpc_float(model, splits["valid"], limit=args.valid_limit)
        history.append({"epoch": epoch + 1, "valid_bpc": vb, "valid_sparsity": vs,
                        "qat": qat, "seconds": time.time() - t_start})
        print(f"epoch {epoch + 1}: valid bpc {vb:.4f}, h sparsity {vs:.3f}")
        ckpt.parent.mkdir(parents=True, exist_ok=True)
        torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "epoch": epoch + 1,
                    "history": history, "args": vars(args)}, ckpt)
    model.theta = args.theta
    meta = {"dataset": "Penn Treebank characters (treebank package, standard split)",
            "task": "next-character prediction", "vocab": vocab,
            "theta": args.theta, "training": {**vars(args), "history": history,
                                              "seconds": time.time() - t_start}}
    save_bundle(args.out, model, cfg, meta)
    print(f"wrote model bundle {args.out}")
    return model, history


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m train.ptb", description=__doc__.split("\n")[0])
    ap.add_argument("--config", default=str(DEFAULT_CONFIG))
    ap.add_argument("--out", default="models/ptb")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--qat-epochs", type=int, default=1)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--bptt", type=int, default=100)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--theta", type=float, default=0.3, help="pruning threshold on |h|")
    ap.add_argument("--prune-start", type=float, default=0.05,
                    help="fraction of the steps before pruning starts")
    ap.add_argument("--warmup", type=float, default=0.4,
                    help="fraction of the steps at which theta reaches its final value")
    ap.add_argument("--l1", type=float, default=0.2, help="L1 penalty on unpruned h")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--max-windows", type=int, default=0, help="windows per epoch (0: all)")
    ap.add_argument("--valid-limit", type=int, default=None, help="validation characters")
    ap.add_argument("--checkpoint", default="")
    ap.add_argument("--resume", action="store_true")
    args = ap.parse_args(argv)
    train(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
