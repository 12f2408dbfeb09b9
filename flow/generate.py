"""Generator: configuration (+ optional weights) -> Verilog and its JSON manifest.

    python -m rtl.generate [--config configs/default.toml] [--weights FILE] [--out build/rtl]

Weights (optional; baked into the lane memories so no parameter load is needed):
``.npz`` with quantised integers ``w_ih``, ``w_hh``, ``b`` (already in the configured
formats), or with float PyTorch arrays ``weight_ih``, ``weight_hh``, ``bias_ih`` [``bias_hh``]
(quantised here, round half to even, saturation counts reported), or a model bundle directory
holding ``params.npz`` and ``model.json``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from pathlib import Path

import numpy as np
from amaranth.hdl import Shape

from golden import cycles
from golden.activation import measure_error
from golden.config import DEFAULT_CONFIG, Config, ConfigError, load_config
from golden.params import ParamError, from_npz, load_quant_npz, param_order, quantize_params

__all__ = ["load_weights", "manifest", "generate", "main"]


def load_weights(path, cfg: Config):
    """Quantised parameters from a weights file or bundle; returns ``(QuantParams, info)``."""
    path = Path(path)
    if path.is_dir():
        from golden.bundle import BundleError, load_bundle
        try:
            b = load_bundle(path, cfg)
        except BundleError as exc:
            raise ParamError(str(exc)) from None
        return b.q, {"file": str(path), "kind": "model bundle",
                     "sha256": b.meta["params_sha256"], "theta": b.meta["theta"],
                     "theta_raw": b.theta_raw, "dataset": b.meta.get("dataset"),
                     "metrics": b.meta.get("metrics", {})}
    if not path.exists():
        raise ParamError(f"weights file {str(path)!r} does not exist")
    try:
        with np.load(path, allow_pickle=False) as z:
            names = set(z.files)
    except (OSError, ValueError) as exc:
        raise ParamError(f"cannot read weights file {str(path)!r}: {exc}") from None
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if {"w_ih", "w_hh", "b"} <= names:
        q = load_quant_npz(path, cfg)
        return q, {"file": str(path), "sha256": digest, "kind": "quantised"}
    q = quantize_params(from_npz(path), cfg)
    return q, {"file": str(path), "sha256": digest, "kind": "float, quantised here",
               "saturated": q.saturated}


def manifest(cfg: Config, top, weights_info=None):
    ports = {"clk": 1, "rst": 1}
    for name, member in top.signature.members.items():
        ports[name] = Shape.cast(member.shape).width
    from rtl.regs import ARCH_BAKED, ID_VALUE, REGISTERS
    return {
        "name": cfg.name,
        "config": {k: v for k, v in cfg.to_dict().items() if k != "internal"},
        "formats": {**{k: v.to_dict() for k, v in cfg.formats.items()},
                    **{k: v.to_dict() for k, v in cfg.internal_formats().items()}},
        "activation": {
            "kind": "piecewise-linear sigmoid, continuous knots rounded half up; "
                    "tanh(x) = 2 sigmoid(2x) - 1",
            "segments": cfg.act_segments, "input_range": [-16, 16],
            "max_abs_error": measure_error(cfg.act_input, cfg.gate, cfg.act_segments),
        },
        "rounding": "every internal narrowing rounds half up then saturates; host "
                    "quantisation of floats rounds half to even and saturates",
        "ports": ports,
        "stream_widths": {"x": top.x_width, "h": top.h_width, "w": top.w_width},
        "registers": dict(REGISTERS),
        "register_values": {"ID": ID_VALUE, "ARCH_build_options": {"16": "weights baked in",
                                                                    "value": ARCH_BAKED}},
        "param_order": param_order(cfg),
        "param_beats": 4 * cfg.hidden_size * (cfg.columns + 1),
        "cycle_model": cycles.describe(cfg),
        "weights": weights_info,
    }


def to_verilog(top, name):
    """Verilog of an Amaranth component through the builtin Yosys.

    Unlike ``amaranth.back.verilog.convert`` (``proc -nomux``), processes are lowered fully
    (``proc``), so combinational logic is written as continuous assignments rather than
    ``always @*`` blocks: simulators then evaluate it at time 0 even when its inputs are
    constant registers (Icarus otherwise leaves such signals X until an input changes).
    Uses the Yosys runner of Amaranth's toolchain module (Amaranth is pinned to 0.5.10).
    """
    from amaranth._toolchain.yosys import find_yosys
    from amaranth.back import rtlil

    rtlil_text = rtlil.convert(top, name=name, emit_src=False)
    yosys = find_yosys(lambda ver: ver >= (0, 40))
    script = [
        f"read_rtlil <<rtlil\n{rtlil_text}\nrtlil",
        "proc",
        "memory_collect",
        "opt_clean",
        "attrmap -remove generator -remove top -remove src -remove amaranth.hierarchy "
        "-remove amaranth.decoding",
        "attrmap -modattr -remove generator -remove top -remove src "
        "-remove amaranth.hierarchy -remove amaranth.decoding",
        "write_verilog",
    ]
    return yosys.run(["-q", "-"], "\n".join(script))


def generate(cfg: Config, out_dir, weights=None, quiet=False):
    """Write ``<name>.v`` and ``<name>.json`` into ``out_dir``; returns their paths."""
    os.environ.setdefault("AMARANTH_USE_YOSYS", "builtin")
    from rtl.top import SkipLSTM

    q, info = (None, None) if weights is None else load_weights(weights, cfg)
    top = SkipLSTM(cfg, q)
    text = to_verilog(top, cfg.name)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    vpath, jpath = out_dir / f"{cfg.name}.v", out_dir / f"{cfg.name}.json"
    vpath.write_text(text)
    jpath.write_text(json.dumps(manifest(cfg, top, info), indent=2, sort_keys=False) + "\n")
    if not quiet:
        sat = (info or {}).get("saturated")
        print(f"wrote {vpath} ({len(text) // 1024} KiB) and {jpath}"
              + (f"; weights baked from {info['file']}" if info else "; no weights baked "
                 "(load them through s_axis_w)")
              + (f"; saturated on quantisation: {sat}" if sat else ""))
    return vpath, jpath


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m rtl.generate", description=__doc__.split("\n")[0])
    ap.add_argument("--config", default=str(DEFAULT_CONFIG), help="TOML configuration")
    ap.add_argument("--weights", default="", help="weights .npz or model bundle to bake in")
    ap.add_argument("--out", default="build/rtl", help="output directory")
    args = ap.parse_args(argv)
    try:
        cfg = load_config(args.config)
        generate(cfg, args.out, args.weights or None)
    except (ConfigError, ParamError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
