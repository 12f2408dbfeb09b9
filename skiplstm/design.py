"""From a trained PyTorch LSTM to a verified Verilog IP.

    import skiplstm
    design = skiplstm.from_torch(lstm, lanes=4, theta=0.0, name="mylstm")
    design.write("out/")            # out/mylstm.v, out/mylstm.json, out/mylstm_params.npz, .hex
    h = design.predict(x)           # (T, X) float -> (T, H) float: the bit-exact golden model
    run = design.simulate(x)        # the generated Verilog on the compiled Verilator harness
    run.h, run.counters["CYCLES"]   # run.h equals predict(x) exactly
    print(design.report())

``from_torch`` takes a one-layer ``torch.nn.LSTM`` (``batch_first`` either way), a
``torch.nn.LSTMCell``, a ``state_dict`` of either, or the path of a ``.pt`` file holding one
of them. ``formats=None`` chooses the weight and bias formats from the parameters' range
(8-bit weights, 16-bit biases, as many fraction bits as the largest magnitude allows); the
input, state and cell formats take the defaults (input and h with 12 fraction bits, c with 11)
unless given. ``predict`` agrees with PyTorch within the quantisation error (about 1e-2 on h
for weights of unit scale over tens of steps; ``tests/test_api.py`` states the bound it
checks); ``simulate`` equals ``predict`` bit for bit.

This module imports NumPy and the golden model only; PyTorch, Amaranth and the simulators are
imported when a method needs them.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = ["DesignError", "Design", "SimRun", "from_torch", "choose_formats"]

ROOT = Path(__file__).resolve().parent.parent


class DesignError(ValueError):
    """A model, option or input the generator cannot take; the message says what is allowed."""


# -- import from PyTorch ---------------------------------------------------------------------

def _as_numpy(v):
    return v.detach().cpu().double().numpy() if hasattr(v, "detach") else np.asarray(v, float)


def _load_pt(path):
    path = Path(path)
    if not path.is_file():
        raise DesignError(f"model file {str(path)!r} does not exist")
    import torch
    try:
        obj = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:                      # pickle, zip and torch errors alike
        raise DesignError(f"model file {str(path)!r} cannot be read by torch.load: "
                          f"{type(exc).__name__}: {exc}") from None
    if isinstance(obj, dict):
        for key in ("state_dict", "model_state_dict", "model"):
            if key in obj and (isinstance(obj[key], dict) or hasattr(obj[key], "state_dict")):
                return obj[key]
    return obj


def _params_of(model):
    """``(w_ih, w_hh, b_ih, b_hh)`` of a one-layer LSTM; refuses what the hardware lacks."""
    if isinstance(model, (str, Path)):
        model = _load_pt(model)
    if hasattr(model, "weight_ih") and hasattr(model, "weight_hh"):          # nn.LSTMCell
        if type(model).__name__ != "LSTMCell":
            raise DesignError(f"{type(model).__name__} is not supported: only torch.nn.LSTM "
                              "(one layer) and torch.nn.LSTMCell")
        return (model.weight_ih, model.weight_hh, getattr(model, "bias_ih", None),
                getattr(model, "bias_hh", None))
    if hasattr(model, "state_dict") and not isinstance(model, dict):
        kind = type(model).__name__
        if kind != "LSTM":
            raise DesignError(f"{kind} is not supported: only torch.nn.LSTM (one layer) and "
                              "torch.nn.LSTMCell")
        problems = []
        if getattr(model, "num_layers", 1) != 1:
            problems.append(f"stacked layers (num_layers={model.num_layers}; one layer only)")
        if getattr(model, "bidirectional", False):
            problems.append("bidirectional=True (one direction only)")
        if getattr(model, "proj_size", 0):
            problems.append(f"projections (proj_size={model.proj_size})")
        if problems:
            raise DesignError("this nn.LSTM is not supported: " + "; ".join(problems))
        model = model.state_dict()
    if not isinstance(model, dict):
        raise DesignError(f"a {type(model).__name__} is not a model: pass a torch.nn.LSTM, a "
                          "torch.nn.LSTMCell, a state_dict of either or the path of a .pt file")
    keys = set(model)
    if any(k.endswith("_reverse") for k in keys):
        raise DesignError("this state_dict is of a bidirectional LSTM (keys *_reverse); one "
                          "direction only")
    if any(k.startswith("weight_hr") for k in keys):
        raise DesignError("this state_dict has projections (weight_hr_l0); not supported")
    if "weight_ih_l1" in keys:
        raise DesignError("this state_dict is of a stacked LSTM (weight_ih_l1); one layer only")
    for suffix in ("_l0", ""):
        if f"weight_ih{suffix}" in keys and f"weight_hh{suffix}" in keys:
            return (model[f"weight_ih{suffix}"], model[f"weight_hh{suffix}"],
                    model.get(f"bias_ih{suffix}"), model.get(f"bias_hh{suffix}"))
    raise DesignError(f"this state_dict has no LSTM weights: expected weight_ih_l0 and "
                      f"weight_hh_l0 (nn.LSTM) or weight_ih and weight_hh (nn.LSTMCell); "
                      f"found {sorted(keys)[:8]}")


def _format_for(values, bits):
    """The format of ``bits`` bits with the most fraction bits that holds ``values``."""
    from golden.fixed import Format
    peak = float(np.max(np.abs(values))) if np.size(values) else 0.0
    for ibits in range(bits):
        fmt = Format(bits, bits - 1 - ibits)
        if peak <= fmt.max / fmt.scale:
            return fmt
    return Format(bits, 0)


def choose_formats(fp, weight_bits=8, bias_bits=16, overrides=None):
    """Formats for float parameters ``fp``: the weight and bias formats from their range,
    the others default; ``overrides`` (name -> Format or {bits, frac}) win."""
    from golden.config import Formats
    from golden.fixed import Format
    chosen = dict(Formats().items())
    chosen["weight"] = _format_for(np.concatenate([fp.w_ih.ravel(), fp.w_hh.ravel()]),
                                   weight_bits)
    chosen["bias"] = _format_for(fp.b, bias_bits)
    for name, value in (overrides or {}).items():
        if name not in chosen:
            raise DesignError(f"formats: unknown format {name!r}; allowed: {sorted(chosen)}")
        chosen[name] = value if isinstance(value, Format) else Format(**value)
    # the bias cannot have more fraction bits than the products it is added to
    limit = chosen["weight"].frac + max(chosen["input"].frac, chosen["state"].frac)
    if chosen["bias"].frac > limit and "bias" not in (overrides or {}):
        chosen["bias"] = Format(chosen["bias"].bits, limit)
    return chosen


def from_torch(model, lanes=4, theta=0.0, name="skiplstm", formats=None, cell_units=None,
               overlap=False):
    """A :class:`Design` from a trained one-layer PyTorch LSTM (see the module docstring).

    ``lanes`` must divide the hidden size; ``theta`` is the pruning threshold on |h| (0: no
    pruning, the hardware still skips zero elements); ``formats`` overrides some or all of
    ``input``, ``weight``, ``bias``, ``state``, ``cell`` (Format or {bits, frac});
    ``overlap`` builds the overlap option (docs/contract.md section 6)."""
    from golden.config import Config, ConfigError
    from golden.params import FloatParams, ParamError
    w_ih, w_hh, b_ih, b_hh = (None if v is None else _as_numpy(v) for v in _params_of(model))
    if b_ih is None:
        b_ih = np.zeros(w_ih.shape[0])
    try:
        fp = FloatParams.checked(w_ih, w_hh, b_ih, b_hh)
    except ParamError as exc:
        raise DesignError(str(exc)) from None
    try:
        cfg = Config(name=name, input_size=fp.input_size, hidden_size=fp.hidden_size,
                     lanes=lanes, cell_units=cell_units, overlap=overlap,
                     formats=choose_formats(fp, overrides=formats))
    except ConfigError as exc:
        raise DesignError(str(exc)) from None
    if not (isinstance(theta, (int, float)) and 0 <= theta < 1):
        raise DesignError(f"theta = {theta!r}: the pruning threshold on |h| must be a number "
                          "in [0, 1)")
    return Design(cfg, fp, float(theta))


# -- the design --------------------------------------------------------------------------------

@dataclass
class SimRun:
    """What a simulation of the generated Verilog returned."""
    h: np.ndarray                 # (T, H) float
    h_raw: np.ndarray             # (T, H) state-format integers
    counters: dict                # CYCLES, STEPS, COLUMNS, SKIPPED
    step_cycles: list             # CYCLES of every step
    simulator: str
    seconds: float = 0.0
    workdir: Path | None = field(default=None, repr=False)


class Design:
    """A configured accelerator with quantised parameters; see :func:`from_torch`."""

    def __init__(self, cfg, fp, theta=0.0):
        from golden.params import quantize_params
        self.cfg, self.fp, self.theta = cfg, fp, theta
        self.q = quantize_params(fp, cfg)
        self.theta_raw = int(round(theta * cfg.formats.state.scale))
        self.written = None               # directory of the last write()
        self._last_x = None

    # -- products ------------------------------------------------------------------------

    def write(self, out_dir, target="generic"):
        """``<name>.v`` (parameters baked in), ``<name>.json`` (manifest),
        ``<name>_params.npz`` (the quantised parameters) and ``<name>_w.hex`` (the s_axis_w
        beats, one per line, for a reload); returns their paths."""
        import os
        os.environ.setdefault("AMARANTH_USE_YOSYS", "builtin")
        from flow.generate import generate
        from golden.params import save_quant_npz, stream_image
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        npz = out / f"{self.cfg.name}_params.npz"
        save_quant_npz(npz, self.q)
        vpath, jpath = generate(self.cfg, out, weights=npz, quiet=True, target=target)
        bits = int(json.loads(jpath.read_text())["stream_widths"]["w"])
        mask = (1 << bits) - 1
        hexpath = out / f"{self.cfg.name}_w.hex"
        hexpath.write_text("".join(f"{int(v) & mask:0{bits // 4}x}\n"
                                   for v in stream_image(self.q)))
        self.written = out
        return {"verilog": vpath, "manifest": jpath, "params": npz, "w_hex": hexpath}

    def _inputs(self, x):
        from golden.model import quantize_inputs
        x = np.asarray(x, dtype=np.float64)
        if x.ndim == 1 and x.size == self.cfg.input_size:
            x = x[None, :]
        if x.ndim != 2 or x.shape[1] != self.cfg.input_size:
            raise DesignError(f"x has shape {x.shape}; expected (T, {self.cfg.input_size}) "
                              "(one time step per row)")
        if not np.all(np.isfinite(x)):
            raise DesignError("x has non-finite values")
        xi, clipped = quantize_inputs(self.cfg, x)
        if clipped:
            fmt = self.cfg.formats.input
            raise DesignError(f"x has {clipped} values outside the input format {fmt} (range "
                              f"[{fmt.min / fmt.scale:g}, {fmt.max / fmt.scale:g}]); choose "
                              f"one that holds them, e.g. formats={{'input': "
                              f"{_format_for(x, fmt.bits).to_dict()}}}")
        self._last_x = xi
        return xi

    def predict_raw(self, x):
        """The golden model's h as state-format integers, (T, H)."""
        from golden.model import GoldenLSTM
        return GoldenLSTM(self.cfg, self.q).run_fast(self._inputs(x), theta=self.theta_raw)[0]

    def predict(self, x):
        """h of the bit-exact golden model for float inputs ``x`` (T, X), as floats (T, H)."""
        return self.predict_raw(x) / self.cfg.formats.state.scale

    def simulate(self, x, simulator="verilator", workdir=None):
        """Runs ``x`` through the generated Verilog (written first if it was not):
        ``simulator="verilator"`` on the compiled harness, ``"icarus"`` through cocotb; the
        same command file either way. Returns a :class:`SimRun`."""
        import time
        if simulator not in ("verilator", "icarus"):
            raise DesignError(f"simulator {simulator!r} is not supported; allowed: "
                              "'verilator', 'icarus'")
        if simulator == "verilator":
            from sim.harness import HarnessError, verilator
            try:
                verilator()
            except HarnessError as exc:
                raise DesignError(f"simulator 'verilator' not found: {exc}") from None
        elif shutil.which("iverilog") is None:
            raise DesignError("simulator 'icarus' not found (iverilog is not on PATH): "
                              "apt-get install iverilog (make setup does it)")
        xi = self._inputs(x)
        if self.written is None:
            key = hashlib.sha256(repr((self.cfg.to_dict(), self.theta_raw)).encode()
                                 + self.q.w_ih.tobytes() + self.q.w_hh.tobytes()
                                 + self.q.b.tobytes()).hexdigest()[:12]
            self.write(ROOT / "build" / "designs" / f"{self.cfg.name}-{key}")
        from golden.interface import Ctrl, Reg
        from sim.harness import Commands, build, run
        man = json.loads((self.written / f"{self.cfg.name}.json").read_text())
        cmd = Commands.for_manifest(self.cfg, man).timeout(10 ** 9).reset()
        cmd.wr(Reg.THRESHOLD, self.theta_raw).wr(
            Reg.CTRL, Ctrl.SPARSE | Ctrl.CLEAR_STATE | Ctrl.CLEAR_COUNTERS)
        cmd.sequence(xi, first=True).wait_h(len(xi) * self.cfg.hidden_size).idle()
        for reg in (Reg.CYCLES_LO, Reg.CYCLES_HI, Reg.STEPS, Reg.COLUMNS, Reg.SKIPPED):
            cmd.rd(reg)
        work = Path(workdir) if workdir else self.written / f"sim_{simulator}"
        t0 = time.monotonic()
        vpath = self.written / f"{self.cfg.name}.v"
        if simulator == "verilator":
            res = run(build(vpath, self.cfg.name), cmd, work)
        else:
            from sim.icarus_harness import run_icarus
            res = run_icarus(vpath, self.cfg.name, cmd, work)
        if res.returncode:
            raise DesignError(f"the {simulator} run failed (exit {res.returncode}); see {work}")
        reads = {int(a): int(v) for a, v, _ in res.reads()}
        counters = {"CYCLES": reads[Reg.CYCLES_LO] | (reads[Reg.CYCLES_HI] << 32),
                    "STEPS": reads[Reg.STEPS], "COLUMNS": reads[Reg.COLUMNS],
                    "SKIPPED": reads[Reg.SKIPPED]}
        h_raw = np.asarray(res.h, dtype=np.int64).reshape(-1, self.cfg.hidden_size)
        return SimRun(h_raw / self.cfg.formats.state.scale, h_raw, counters,
                      res.step_cycles(), simulator, time.monotonic() - t0, work)

    # -- what it is ----------------------------------------------------------------------

    def saturation(self):
        """Per tensor: values clipped by quantisation, and the format that would hold them."""
        out = {}
        f = self.cfg.formats
        for tensor, values, fmt in (("w_ih", self.fp.w_ih, f.weight),
                                    ("w_hh", self.fp.w_hh, f.weight), ("b", self.fp.b, f.bias)):
            n = int(self.q.saturated.get(tensor, 0))
            if n:
                out[tensor] = {"saturated": n, "format": str(fmt),
                               "would_hold": str(_format_for(values, fmt.bits))}
        return out

    def report(self):
        """Sizes, formats, saturation, the cycle model and the speed-up predicted on the last
        inputs given to ``predict`` or ``simulate``; a text."""
        from golden import cycles
        from golden.model import GoldenLSTM
        cfg = self.cfg
        weights = cfg.columns * 4 * cfg.hidden_size
        lines = [f"SkipLSTM design {cfg.name!r}: X = {cfg.input_size}, H = {cfg.hidden_size}, "
                 f"{cfg.lanes} lanes, {cfg.cell_units} cell units, theta = {self.theta:g} "
                 f"(raw {self.theta_raw})",
                 f"parameters: {weights:,} weights x {cfg.formats.weight.bits} bits = "
                 f"{weights * cfg.formats.weight.bits / 8192:.1f} KiB, "
                 f"{4 * cfg.hidden_size} biases",
                 "formats: " + ", ".join(f"{k} {v}" for k, v in cfg.formats.items())]
        sat = self.saturation()
        if sat:
            lines.append("SATURATED on quantisation: " + "; ".join(
                f"{t}: {s['saturated']} values outside {s['format']} (would fit "
                f"{s['would_hold']})" for t, s in sat.items()))
        else:
            lines.append("saturation: none")
        d = cycles.describe(cfg)
        if cfg.overlap:
            lines.append(f"cycle model (overlap): T_step = {cfg.rows_per_lane} * max(nnz_h, "
                         f"{cfg.min_columns}, 1) + {d['L']} + max(0, {cfg.rows_per_lane} * "
                         f"max(nnz_x, 1) + {d['F']} - {d['W']}) (the first step after idle: "
                         f"+ {cfg.rows_per_lane} * max(nnz_x, 1) + {d['F']}); dense step "
                         f"{d['dense_step_cycles']} cycles")
        else:
            lines.append(f"cycle model: T_step = {cfg.rows_per_lane} * max(nnz_t, "
                         f"{cfg.min_columns}, 1) + {d['L']}; dense step "
                         f"{d['dense_step_cycles']} cycles")
        if self._last_x is not None:
            xs = self._last_x
            hs = GoldenLSTM(cfg, self.q).run_fast(xs, theta=self.theta_raw)[0]
            sp = cycles.cycle_model(cfg, xs, hs)["CYCLES"]
            dn = cycles.cycle_model(cfg, xs, hs, sparse=False)["CYCLES"]
            zeros = 1 - np.count_nonzero(hs) / hs.size
            lines.append(f"on the last x ({len(xs)} steps): {100 * zeros:.1f}% zeros in h, "
                         f"{sp:,} cycles sparse vs {dn:,} dense = {dn / max(sp, 1):.2f}x")
        return "\n".join(lines)

    def __repr__(self):
        c = self.cfg
        return (f"<Design {c.name} X={c.input_size} H={c.hidden_size} lanes={c.lanes} "
                f"theta={self.theta:g}>")

