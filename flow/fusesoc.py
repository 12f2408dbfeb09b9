#!/usr/bin/env python3
"""FuseSoC generator (``skiplstm.core``, generator ``skiplstm_gen``): a configured SkipLSTM
core and the data of a self-checking testbench.

FuseSoC runs ``python3 flow/fusesoc.py <input.yml>`` in a scratch directory; the input names
the parameters below, with paths relative to the calling core's root (``files_root``):

    config      TOML configuration (required)
    weights     model bundle or .npz baked into the memories (default: none; the testbench
                then loads seeded random parameters through s_axis_w)
    target      generic (default) or ecp5
    test_steps  time steps of the testbench's vectors (default 16)
    seed        seed of the random inputs / parameters (default 1)

It writes ``<name>.v`` and ``<name>.json`` (the IP), ``skiplstm_tb.vh`` (the testbench's
defines), ``tb_x.hex``, ``tb_w.hex``, ``tb_h.hex`` (inputs, parameter beats, the golden h
expected), and ``<vlnv>.core`` listing them. Errors end in one message and exit status 2.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("AMARANTH_USE_YOSYS", "builtin")


def _hex(values, bits):
    mask = (1 << bits) - 1
    return "".join(f"{int(v) & mask:0{-(-bits // 4)}x}\n" for v in values)


def generate(params, files_root, vlnv, out=Path(".")):
    import numpy as np

    from flow.generate import generate as write_ip
    from flow.generate import load_weights
    from golden.config import load_config
    from golden.model import GoldenLSTM
    from golden.params import stream_image
    from sim.scenario import random_params

    def path_of(key):
        p = Path(params[key])
        return p if p.is_absolute() else Path(files_root) / p

    if "config" not in params:
        raise ValueError("generator parameter 'config' (a TOML configuration) is required")
    cfg = load_config(path_of("config"))
    target = params.get("target", "generic")
    steps = int(params.get("test_steps", 16))
    rng = np.random.default_rng(int(params.get("seed", 1)))
    weights = path_of("weights") if params.get("weights") else None
    if weights is not None:
        q, info = load_weights(weights, cfg)
        theta = int((info or {}).get("theta_raw", 0))
    else:
        q, theta = random_params(rng, cfg), 0
    vpath, jpath = write_ip(cfg, out, weights=weights, quiet=True, target=target)
    man = json.loads(jpath.read_text())
    w = man["stream_widths"]
    f = cfg.formats
    density = 0.5
    xs = rng.integers(f.input.min // 4, f.input.max // 4 + 1, (steps, cfg.input_size))
    xs[rng.random(xs.shape) > density] = 0
    hs = GoldenLSTM(cfg, q).run_fast(xs, theta=theta)[0]
    beats = stream_image(q)
    (out / "tb_x.hex").write_text(_hex(xs.ravel(), w["x"]))
    (out / "tb_h.hex").write_text(_hex(hs.ravel(), w["h"]))
    (out / "tb_w.hex").write_text(_hex(beats, w["w"]))
    (out / "skiplstm_tb.vh").write_text("\n".join([
        f"`define SKL_TOP {cfg.name}", f"`define SKL_X {cfg.input_size}",
        f"`define SKL_H {cfg.hidden_size}", f"`define SKL_T {steps}",
        f"`define SKL_XW {w['x']}", f"`define SKL_HW {w['h']}", f"`define SKL_WW {w['w']}",
        f"`define SKL_WBEATS {len(beats)}", f"`define SKL_BAKED {int(weights is not None)}",
        f"`define SKL_THETA {theta}", ""]))
    name = vlnv.replace(":", "_")
    core = {
        "name": vlnv,
        "filesets": {
            "rtl": {"files": [{vpath.name: {"file_type": "verilogSource"}}]},
            "tb_data": {"files": [
                {"skiplstm_tb.vh": {"file_type": "verilogSource", "is_include_file": True}},
                {"tb_x.hex": {"file_type": "user", "copyto": "tb_x.hex"}},
                {"tb_w.hex": {"file_type": "user", "copyto": "tb_w.hex"}},
                {"tb_h.hex": {"file_type": "user", "copyto": "tb_h.hex"}}]},
        },
        "targets": {"default": {"filesets": ["rtl", "tb_data"]}},
    }
    import yaml
    (out / f"{name}.core").write_text("CAPI=2:\n" + yaml.safe_dump(core, sort_keys=False))
    return vpath


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: fusesoc.py GENERATOR_INPUT.yml (FuseSoC runs this)", file=sys.stderr)
        return 2
    import yaml
    doc = yaml.safe_load(Path(argv[0]).read_text())
    try:
        generate(doc.get("parameters") or {}, doc["files_root"], doc["vlnv"])
    except Exception as exc:                      # one message for FuseSoC's log
        print(f"skiplstm generator: error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
