"""Stimulus and golden expectations shared by every testbench (Amaranth and cocotb).

No simulator import: a scenario is plain data (parameters, sequences, threshold, mode) and
its expected h values and counters come from ``golden``.
"""

from __future__ import annotations

from dataclasses import dataclass, field


from golden import cycles
from golden.config import Config
from golden.model import GoldenLSTM, quantize_inputs
from golden.params import FloatParams, QuantParams, quantize_params, stream_image

__all__ = ["Scenario", "random_params", "random_sequences", "expected", "to_unsigned",
           "from_unsigned", "x_beats"]


def to_unsigned(v, width):
    return int(v) & ((1 << width) - 1)


def from_unsigned(v, width):
    v = int(v) & ((1 << width) - 1)
    return v - (1 << width) if v >> (width - 1) else v


def random_params(rng, cfg: Config, scale=0.6) -> QuantParams:
    X, H = cfg.input_size, cfg.hidden_size
    p = FloatParams(rng.uniform(-scale, scale, (4 * H, X)),
                    rng.uniform(-scale, scale, (4 * H, H)), rng.uniform(-1, 1, 4 * H))
    return quantize_params(p, cfg)


def random_sequences(rng, cfg: Config, lengths, density=0.5):
    """Input-format sequences with a controlled fraction of nonzero inputs."""
    out = []
    for T in lengths:
        xs = rng.uniform(-1.5, 1.5, (T, cfg.input_size))
        xs *= rng.random((T, cfg.input_size)) < density
        out.append(quantize_inputs(cfg, xs)[0])
    return out


@dataclass
class Scenario:
    cfg: Config
    params: QuantParams
    sequences: list
    theta: int = 0
    sparse: bool = True
    golden: GoldenLSTM = field(init=False)

    def __post_init__(self):
        self.golden = GoldenLSTM(self.cfg, self.params)

    def weight_beats(self):
        return [int(v) for v in stream_image(self.params)]

    def expected(self, idle=False):
        """``(list of (T, H) h arrays, counters dict)`` for the whole scenario; ``idle``
        (``overlap`` option): as if every step found the core idle, the most CYCLES can be
        when x arrives with gaps."""
        return expected(self.cfg, self.golden, self.sequences, self.theta, self.sparse, idle)


def expected(cfg, golden, sequences, theta, sparse, idle=False):
    hs_all = []
    total = {"CYCLES": 0, "STEPS": 0, "COLUMNS": 0, "SKIPPED": 0}
    for i, xs in enumerate(sequences):
        hs, _ = golden.run_fast(xs, theta=theta)
        hs_all.append(hs)
        # the sequences are sent back to back (with ``overlap``, a sequence's first x pass
        # runs while the previous sequence's last step drains)
        for k, v in cycles.cycle_model(cfg, xs, hs, sparse, follows=i > 0, idle=idle).items():
            total[k] += v
    return hs_all, total


def x_beats(sequence):
    """``(value, tlast, tuser)`` beats of one sequence (tuser on its first element)."""
    beats = []
    for t, x in enumerate(sequence):
        for e, v in enumerate(x):
            beats.append((int(v), e == len(x) - 1, t == 0 and e == 0))
    return beats
