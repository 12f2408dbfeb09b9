"""The life of a training run, shared by ``train.ptb`` and ``train.mnist``: start (optionally
from a bundle's float weights, ``--init``), resume from the checkpoint of the same recipe
(``--resume``), and after every epoch one JSON line in the log and an atomically replaced
checkpoint, so an interrupted run loses at most one epoch."""

from __future__ import annotations

import json
import time
from pathlib import Path

import torch

from golden.bundle import load_bundle

from .model import load_float_params
from .recipe import same_recipe

__all__ = ["TrainingRun"]


class TrainingRun:
    """``epoch0``, ``history``, ``l1`` and ``theta`` are where the run starts; ``gen`` (a
    ``torch.Generator``) is saved and restored too when given."""

    def __init__(self, args, cfg, model, opt, gen=None):
        self.args, self.model, self.opt, self.gen = args, model, opt, gen
        name = Path(args.out).name
        self.ckpt = Path(args.checkpoint or (Path(args.log_dir) / f"{name}.ckpt"))
        self.log = Path(args.log_dir) / f"{name}.jsonl"
        self.epoch0, self.history, self.l1, self.theta = 0, [], args.l1, 0.0
        state = None
        if args.resume and self.ckpt.exists():
            state = torch.load(self.ckpt, weights_only=False)
            if not same_recipe(state["args"], vars(args)):
                print(f"{self.ckpt} was written by a different recipe; starting afresh")
                state = None
        if state is not None:
            model.load_state_dict(state["model"])
            opt.load_state_dict(state["opt"])
            self.epoch0, self.history = state["epoch"], state["history"]
            self.l1, self.theta = state.get("l1", args.l1), state.get("theta", 0.0)
            torch.set_rng_state(state["rng"])
            if gen is not None and "gen" in state:
                gen.set_state(state["gen"])
            print(f"resumed from {self.ckpt} after epoch {self.epoch0}")
        else:
            if args.init:
                load_float_params(model, load_bundle(args.init, cfg))
            self.log.unlink(missing_ok=True)
        self.t_start = time.time() - (self.history[-1]["seconds"] if self.history else 0.0)

    def end_epoch(self, record, l1, theta):
        """Appends ``record`` (with the elapsed seconds) to the history and the log, and
        replaces the checkpoint."""
        self.history.append({**record, "seconds": time.time() - self.t_start})
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("a") as f:
            f.write(json.dumps(self.history[-1]) + "\n")
        self.ckpt.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.ckpt.with_suffix(".tmp")
        state = {"model": self.model.state_dict(), "opt": self.opt.state_dict(),
                 "epoch": len(self.history), "history": self.history, "l1": l1,
                 "theta": theta, "rng": torch.get_rng_state(), "args": vars(self.args)}
        if self.gen is not None:
            state["gen"] = self.gen.get_state()
        torch.save(state, tmp)
        tmp.replace(self.ckpt)

    @property
    def seconds(self):
        return time.time() - self.t_start
