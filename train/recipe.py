"""The training schedule shared by ``train.ptb`` and ``train.mnist``: learning rate, pruning
threshold and a feedback loop that holds the hidden-state sparsity on a target.

Phases over the fraction ``p`` of all training steps:

- ``p < prune_start``: dense (theta = 0, no penalty);
- ``prune_start <= p < warmup``: theta ramps linearly to its final value and the target
  sparsity follows a cubic ramp to ``target`` (Zhu and Gupta 2017:
  ``s(p) = target * (1 - (1 - q)^3)``, ``q`` the fraction of the ramp done);
- after: theta and target fixed; the last epochs may add fake quantisation.

A feedback loop holds the measured sparsity of each batch on ``s(p)``. With
``feedback = "theta"`` it sets the threshold,
``theta <- theta * exp(gain * (s(p) - measured))`` within ``[theta_min, theta]`` (``theta`` is
then the ceiling), beside a fixed L1 weight ``l1`` on the pre-threshold ``|h|`` that shapes
the distribution; the threshold is frozen from ``freeze`` on (the fake-quantised epochs).
With ``feedback = "l1"`` (default) theta follows its ramp and the loop sets the L1 weight,
``lambda <- lambda * exp(gain * (s(p) - measured))`` within ``[l1_min, l1_max]``.
``target = 0`` turns the loop off: theta ramps, the L1 weight is fixed.
The learning rate decays on a cosine from ``lr`` to ``lr * lr_floor``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Schedule", "same_recipe", "add_recipe_arguments", "recorded_args",
           "training_record"]

ROOT = Path(__file__).resolve().parent.parent

# options that do not change what a run computes
_NOT_RECIPE = {"out", "resume", "checkpoint", "log_dir", "threads", "config"}


# options added after checkpoints were first written, with what a run computed before them
_ADDED = {"penalty": "l1", "tau": 0.05, "teacher": "", "kd": 0.5, "free_last": False, "shift": 0,
          "norm": "none", "lr_floor": 0.05}


def same_recipe(saved_args: dict, args: dict):
    """True when a checkpoint's options match this run's (apart from paths and threads). An
    option the checkpoint does not record counts as its behaviour before the option existed."""
    keys = (set(saved_args) | set(args)) - _NOT_RECIPE
    return all(saved_args.get(k, _ADDED.get(k)) == args.get(k, _ADDED.get(k)) for k in keys)


def _positive(text):
    v = float(text)
    if not v > 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not allowed; a number > 0")
    return v


def _unit_interval(text):
    v = float(text)
    if not 0 <= v <= 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not allowed; a number from 0 to 1")
    return v


def add_recipe_arguments(ap, *, config, out, epochs, qat_epochs, batch, warmup):
    """The command-line options of the recipe, shared by ``train.ptb`` and ``train.mnist``;
    the per-task defaults are the keyword arguments."""
    ap.add_argument("--config", default=str(config))
    ap.add_argument("--out", default=out)
    ap.add_argument("--epochs", type=int, default=epochs)
    ap.add_argument("--qat-epochs", type=int, default=qat_epochs)
    ap.add_argument("--batch", type=int, default=batch)
    ap.add_argument("--lr", type=float, default=2e-3, help="peak learning rate (cosine decay)")
    ap.add_argument("--lr-floor", type=_unit_interval, default=Schedule.lr_floor,
                    help="where the cosine ends, as a fraction of --lr")
    ap.add_argument("--theta", type=float, default=0.3,
                    help="pruning threshold on |h| (with --feedback theta: the ceiling of the "
                         "feedback loop)")
    ap.add_argument("--feedback", choices=("theta", "l1"), default="l1",
                    help="what the sparsity feedback loop sets")
    ap.add_argument("--prune-start", type=float, default=0.1,
                    help="fraction of the steps before pruning starts")
    ap.add_argument("--warmup", type=float, default=warmup,
                    help="fraction of the steps at which theta and the target reach their "
                         "final values")
    ap.add_argument("--target", type=float, default=0.92,
                    help="target h sparsity held by the feedback loop (0: fixed --l1)")
    ap.add_argument("--l1", type=float, default=0.05,
                    help="weight of the sparsity penalty on the pre-threshold h (initial "
                         "value when --target > 0)")
    ap.add_argument("--penalty", choices=("l1", "l0"), default="l1",
                    help="the sparsity penalty on the pre-threshold h whose weight is --l1: "
                         "|h|, or a smooth count of the elements at or above theta")
    ap.add_argument("--tau", type=_positive, default=0.05,
                    help="width of the smooth count's step around theta (--penalty l0)")
    ap.add_argument("--l1-max", type=float, default=5.0,
                    help="ceiling of the penalty weight under --feedback l1")
    ap.add_argument("--init", default="",
                    help="model bundle whose float weights start the run (sparse fine-tuning "
                         "of a dense baseline); default: random initialisation")
    ap.add_argument("--teacher", default="",
                    help="model bundle (a dense baseline) whose output distribution the run is "
                         "also trained to match (distillation)")
    ap.add_argument("--kd", type=_unit_interval, default=0.5,
                    help="weight of the distillation term against the cross-entropy")
    ap.add_argument("--prune-grad", choices=("zero", "ste"), default="ste",
                    help="gradient of a pruned element: none, or straight through")
    ap.add_argument("--norm", choices=("none", "batch"), default="none",
                    help="batch normalisation of the gate pre-activation terms, folded into "
                         "W and b at export (train.model.GateNorm)")
    ap.add_argument("--log-dir", default="build/train", help="per-epoch logs (JSON lines)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1,
                    help="torch threads (1: fastest at these sizes, and reproducible)")
    ap.add_argument("--checkpoint", default="", help="default: <log-dir>/<out name>.ckpt")
    ap.add_argument("--resume", action="store_true")


def recorded_args(args):
    """The options as a model bundle records them: paths inside the repository relative to it."""
    out = {}
    for k, v in vars(args).items():
        if isinstance(v, str) and os.path.isabs(v) and Path(v).resolve().is_relative_to(ROOT):
            v = str(Path(v).resolve().relative_to(ROOT))
        out[k] = v
    return out


def training_record(args, history, seconds):
    """The ``training`` entry of a bundle's metadata: the options, the per-epoch history and
    the time. A run that starts from ``--init`` also keeps that bundle's epochs (and those it
    started from) as ``init_history``, so the curves of a fine-tune show its whole budget."""
    record = {**recorded_args(args), "history": history, "seconds": seconds}
    if getattr(args, "init", ""):
        start = json.loads((Path(args.init) / "model.json").read_text()).get("training") or {}
        record["init_history"] = (list(start.get("init_history") or [])
                                  + list(start.get("history") or []))
    return record


@dataclass
class Schedule:
    total_steps: int
    lr: float
    theta: float
    prune_start: float = 0.1
    warmup: float = 0.5
    target: float = 0.0
    l1: float = 0.0
    gain: float = 0.01
    l1_min: float = 1e-4
    l1_max: float = 5.0
    lr_floor: float = 0.05
    feedback: str = "l1"
    theta_min: float = 0.005
    freeze: float = 1.0

    def fraction(self, step):
        return min(1.0, step / max(self.total_steps, 1))

    def ramp(self, step):
        """0 before pruning starts, 1 from ``warmup`` on."""
        q = (self.fraction(step) - self.prune_start) / max(self.warmup - self.prune_start, 1e-9)
        return min(1.0, max(0.0, q))

    def theta_at(self, step):
        return self.theta * self.ramp(step)

    def target_at(self, step):
        if self.fraction(step) < self.prune_start:
            return 0.0
        return self.target * (1.0 - (1.0 - self.ramp(step)) ** 3)

    def lr_at(self, step):
        c = 0.5 * (1.0 + math.cos(math.pi * self.fraction(step)))
        return self.lr * (self.lr_floor + (1.0 - self.lr_floor) * c)

    def next_theta(self, theta, step, measured):
        """The threshold for the next batch under ``feedback = "theta"``."""
        if self.target <= 0 or self.feedback != "theta":
            return self.theta_at(step + 1)
        if self.fraction(step) < self.prune_start:
            return 0.0
        if self.fraction(step) >= self.freeze:
            return theta
        theta = max(theta, self.theta_min) * math.exp(self.gain * 100.0 *
                                                      (self.target_at(step) - measured))
        return min(self.theta, max(self.theta_min, theta))

    def next_l1(self, l1, step, measured):
        """The L1 weight for the next batch, given the sparsity ``measured`` on this one."""
        if self.fraction(step) < self.prune_start:
            return l1
        if self.target <= 0 or self.feedback != "l1":
            return self.l1
        l1 = max(l1, self.l1_min) * math.exp(self.gain * 100.0 * (self.target_at(step) - measured))
        return min(self.l1_max, max(self.l1_min, l1))
