"""Generator: configuration (+ optional weights) -> Verilog and its JSON manifest.

    python -m flow.generate [--config configs/default.toml] [--weights FILE] [--out build/rtl]
                            [--target generic|ecp5] [--floorplan LFE5U-85F]

Weights (optional; baked into the lane memories so no parameter load is needed):
``.npz`` with quantised integers ``w_ih``, ``w_hh``, ``b`` (already in the configured
formats), or with float PyTorch arrays ``weight_ih``, ``weight_hh``, ``bias_ih`` [``bias_hh``]
(quantised here, round half to even, saturation counts reported), or a model bundle directory
holding ``params.npz`` and ``model.json``.

The Verilog and the manifest are written together or not at all (temporary files renamed into
place once both are complete). Errors in the configuration, the weights or the output path end
in one paragraph that names the file, the value and what is allowed, and exit status 2.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from pathlib import Path

from golden import cycles
from golden.activation import measure_error
from golden.config import DEFAULT_CONFIG, Config, load_config
from golden.interface import ARCH_BAKED, ARCH_OVERLAP, ID_VALUE, REGISTERS, register_map
from golden.layout import N_GATES
from golden.params import (ParamError, from_npz, load_quant_npz, param_order, quantize_params,
                           read_npz)
from rtl.floorplan import DEVICES
from rtl.primitives import TARGETS

from .errors import FlowError, OutputError, fail

__all__ = ["load_weights", "manifest", "to_verilog", "generate", "main"]


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
    names = set(read_npz(path))
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if {"w_ih", "w_hh", "b"} <= names:
        q = load_quant_npz(path, cfg)
        return q, {"file": str(path), "sha256": digest, "kind": "quantised"}
    q = quantize_params(from_npz(path), cfg)
    return q, {"file": str(path), "sha256": digest, "kind": "float, quantised here",
               "saturated": q.saturated}


def manifest(cfg: Config, top, weights_info=None):
    from amaranth.hdl import Shape
    ports = {"clk": 1, "rst": 1}
    for name, member in top.signature.members.items():
        ports[name] = Shape.cast(member.shape).width
    return {
        "name": cfg.name,
        "target": getattr(top, "target", "generic"),
        "floorplan": getattr(top, "floorplan", None),
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
        "register_map": register_map(),
        "register_values": {"ID": ID_VALUE, "ARCH_build_options": {
            "16": "weights baked in", "value": ARCH_BAKED,
            "17": "overlap option (x pass of a step during the previous step's drain)",
            "value_17": ARCH_OVERLAP}},
        "param_order": param_order(cfg),
        "param_beats": N_GATES * cfg.hidden_size * (cfg.columns + 1),
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


def write_together(files):
    """Writes ``{path: text}``: every file to a temporary name first, then all renamed into
    place, so that a failure leaves the old outputs (or none), never a mix."""
    for path in files:
        if path.is_dir():
            raise OutputError(f"cannot write {str(path)!r}: a directory of that name exists")
    tmps = {}
    try:
        for path, text in files.items():
            tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
            tmp.write_text(text)
            tmps[path] = tmp
        for path, tmp in tmps.items():
            tmp.replace(path)
    except OSError as exc:
        for tmp in tmps.values():
            tmp.unlink(missing_ok=True)
        raise OutputError(f"cannot write {str(path)!r}: {exc.strerror}") from None


def generate(cfg: Config, out_dir, weights=None, quiet=False, target="generic", floorplan=None):
    """Write ``<name>.v`` and ``<name>.json`` into ``out_dir``; returns their paths.
    ``target="ecp5"`` instantiates ECP5 primitives (``rtl.primitives``); ``floorplan``, a
    device, fixes the lanes' block RAMs and multipliers on its sites (``rtl.floorplan``)."""
    os.environ.setdefault("AMARANTH_USE_YOSYS", "builtin")
    from rtl.top import SkipLSTM

    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise OutputError(f"output directory {str(out_dir)!r} is an existing file; OUT= (--out) "
                          "must name a directory (created if missing), e.g. build/rtl")
    q, info = (None, None) if weights is None else load_weights(weights, cfg)
    top = SkipLSTM(cfg, q, target=target, floorplan=floorplan)
    text = to_verilog(top, cfg.name)
    doc = json.dumps(manifest(cfg, top, info), indent=2, sort_keys=False) + "\n"
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create output directory {str(out_dir)!r}: "
                          f"{exc.strerror}") from None
    vpath, jpath = out_dir / f"{cfg.name}.v", out_dir / f"{cfg.name}.json"
    write_together({vpath: text, jpath: doc})
    if not quiet:
        sat = (info or {}).get("saturated")
        print(f"wrote {vpath} ({len(text) // 1024} KiB) and {jpath}"
              + (f"; weights baked from {info['file']}" if info else "; no weights baked "
                 "(load them through s_axis_w)")
              + (f"; saturated on quantisation: {sat}" if sat else ""))
    return vpath, jpath


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m flow.generate",
                                 description=__doc__.split("\n")[0])
    ap.add_argument("--config", default=str(DEFAULT_CONFIG), help="TOML configuration")
    ap.add_argument("--weights", default="", help="weights .npz or model bundle to bake in "
                    "(default: none; parameters are then loaded through s_axis_w)")
    ap.add_argument("--out", default="build/rtl", help="output directory")
    ap.add_argument("--target", choices=TARGETS, default="generic",
                    help="generic: portable Verilog (simulators, any vendor); ecp5: lane "
                         "multipliers and weight block RAMs as MULT18X18D / DP16KD with their "
                         "registers")
    ap.add_argument("--floorplan", choices=DEVICES, default=None,
                    help="with --target ecp5: fix each lane's weight block RAMs and multiplier "
                         "side by side on this device's sites")
    args = ap.parse_args(argv)
    if args.floorplan and args.target != "ecp5":
        ap.error(f"--floorplan {args.floorplan} needs --target ecp5 (got --target {args.target})")
    try:
        cfg = load_config(args.config)
        generate(cfg, args.out, args.weights or None, target=args.target,
                 floorplan=args.floorplan)
    except FlowError as exc:
        return fail("flow.generate", exc)
    return 0


if __name__ == "__main__":
    sys.exit(main())
