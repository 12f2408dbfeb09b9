"""cocotb system tests on Icarus and Verilator: one pytest function per (simulator,
configuration), one simulator build per configuration, all cocotb tests of
``sim/tb_skiplstm.py`` in it. Wall time per run goes to ``build/reports/sim.json``.

Knobs: ``SIM=icarus|verilator`` runs one simulator; ``WAVES=1`` keeps waveforms;
``SKIPLSTM_SEED`` / ``SKIPLSTM_NUM_SAMPLES`` as in the testbench.
"""

import json
import os
import time
from pathlib import Path

import numpy as np
import pytest
from cocotb_tools.runner import get_runner

from golden.config import Config
from golden.fixed import Format
from golden.params import save_quant_npz
from rtl.generate import generate
from sim.scenario import random_params

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / "build" / "sim"
REPORT = ROOT / "build" / "reports" / "sim.json"

WIDE = {"input": Format(18, 14), "weight": Format(18, 14), "bias": Format(32, 26),
        "state": Format(18, 15), "cell": Format(24, 18)}
NARROW = {"input": Format(4, 3), "weight": Format(2, 1), "bias": Format(4, 2),
          "state": Format(4, 3), "cell": Format(6, 3)}

# name -> (config, small: parameters go through s_axis_w, samples, max sequence length)
CASES = {
    "default": (Config(), False, 2, 2),
    "x3h8n2": (Config(input_size=3, hidden_size=8, lanes=2), True, 4, 4),
    "x3h8n1": (Config(input_size=3, hidden_size=8, lanes=1), True, 3, 3),
    "x3h8n8": (Config(input_size=3, hidden_size=8, lanes=8), True, 3, 3),
    "x1h6n3": (Config(input_size=1, hidden_size=6, lanes=3), True, 3, 3),
    "narrow": (Config(input_size=5, hidden_size=6, lanes=2, formats=NARROW), True, 3, 3),
    "wide": (Config(input_size=5, hidden_size=6, lanes=3, formats=WIDE), True, 3, 3),
}
SIMS = [s for s in ("icarus", "verilator") if os.environ.get("SIM", s) == s]
PTB_BUNDLE = Path(os.environ.get("SKIPLSTM_PTB_BUNDLE", ROOT / "models" / "ptb"))
PTB_CHARS = 200


def prepare_ptb_case(bundle=PTB_BUNDLE, chars=PTB_CHARS):
    """The trained PTB bundle baked into the default configuration; the first ``chars``
    test characters."""
    from golden.config import load_config
    from golden.bundle import load_bundle
    from train.data import ptb_chars
    out = BUILD / "cases" / "ptb"
    case_file = out / "case.json"
    if case_file.exists():
        return case_file
    cfg = load_config()
    load_bundle(bundle, cfg)
    out.mkdir(parents=True, exist_ok=True)
    generate(cfg, out, weights=bundle, quiet=True)
    ids = ptb_chars()[1]["test"][:chars + 1]
    case_file.write_text(json.dumps({
        "config": cfg.to_dict(), "params": str(bundle / "params.npz"), "baked": True,
        "small": False, "seed": 0, "num_samples": 0, "max_len": 1, "timeout_ms": 50,
        "verilog": str(out / f"{cfg.name}.v"), "ptb": str(bundle),
        "ptb_ids": [int(i) for i in ids]}))
    return case_file


def prepare_case(name):
    """Verilog (shared by both simulators), parameters and the case file; built once."""
    if name == "ptb":
        return prepare_ptb_case()
    cfg, small, samples, max_len = CASES[name]
    out = BUILD / "cases" / name
    case_file = out / "case.json"
    if case_file.exists():
        return case_file
    out.mkdir(parents=True, exist_ok=True)
    params = random_params(np.random.default_rng(7), cfg)
    save_quant_npz(out / "params.npz", params)
    generate(cfg, out, weights=None if small else out / "params.npz", quiet=True)
    case_file.write_text(json.dumps({
        "config": cfg.to_dict(), "params": str(out / "params.npz"), "baked": not small,
        "small": small, "seed": int(os.environ.get("SKIPLSTM_SEED", 1234)),
        "num_samples": samples, "max_len": max_len, "timeout_ms": 2 if small else 10, "verilog": str(out / f"{cfg.name}.v"),
    }))
    return case_file


def record(sim, name, phase, seconds):
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    data = json.loads(REPORT.read_text()) if REPORT.exists() else {}
    data.setdefault(sim, {}).setdefault(name, {})[phase] = round(seconds, 2)
    REPORT.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


def run_case(sim, name, test_filter=None):
    case_file = prepare_case(name)
    case = json.loads(case_file.read_text())
    waves = os.environ.get("WAVES") == "1"
    runner = get_runner(sim)
    build_dir = BUILD / sim / name
    t0 = time.monotonic()
    build_args = ["-Wno-fatal", "-Wno-lint", "-Wno-style"] if sim == "verilator" else []
    runner.build(sources=[case["verilog"]], hdl_toplevel="skiplstm", build_dir=build_dir,
                 build_args=build_args, timescale=("1ns", "1ps"), waves=waves,
                 log_file=build_dir / "build.log")
    record(sim, name, "build_s", time.monotonic() - t0)
    t1 = time.monotonic()
    env = {"SKIPLSTM_CASE": str(case_file), "PYTHONPATH": str(ROOT)}
    runner.test(test_module="sim.tb_skiplstm", hdl_toplevel="skiplstm", build_dir=build_dir,
                test_dir=build_dir, extra_env=env, waves=waves, timescale=("1ns", "1ps"),
                log_file=build_dir / "test.log", test_filter=test_filter)
    record(sim, name, "test_s", time.monotonic() - t1)


@pytest.mark.parametrize("name", list(CASES))
@pytest.mark.parametrize("sim", SIMS)
def test_cocotb(sim, name):
    run_case(sim, name)


@pytest.mark.skipif("verilator" not in SIMS, reason="SIM selects another simulator")
def test_ptb_characters_through_the_rtl():
    """The first 200 PTB test characters on Verilator with the shipped model baked in."""
    run_case("verilator", "ptb", test_filter="test_ptb_characters|test_identity_registers")
