"""cocotb system tests on Icarus and Verilator: one pytest function per (simulator,
configuration), one simulator build per configuration, all cocotb tests of
``sim/tb_skiplstm.py`` in it (AXI protocol checks with cocotbext-axi on small
configurations), and the board top (host driver -> UART -> bridge -> core with the PTB model)
on Verilator. The volume, and the default configuration, run on the compiled harness
(``tests/test_harness.py``). Wall time per run goes to ``build/reports/sim.json``.

Knobs: ``SIM=icarus|verilator`` runs one simulator; ``WAVES=1`` keeps waveforms;
``SKIPLSTM_SEED`` / ``SKIPLSTM_NUM_SAMPLES`` as in the testbench.
"""

import json
import os

import numpy as np
import pytest

from golden.config import Config
from golden.fixed import Format
from golden.params import save_quant_npz
from flow.generate import generate
from sim.cases import BUILD, ROOT, fingerprint, is_current, prepare_board_case, run_cocotb
from sim.scenario import random_params

REPORT = ROOT / "build" / "reports" / "sim.json"
BOARD_CHARS = 6

WIDE = {"input": Format(18, 14), "weight": Format(18, 14), "bias": Format(32, 26),
        "state": Format(18, 15), "cell": Format(24, 18)}
NARROW = {"input": Format(4, 3), "weight": Format(2, 1), "bias": Format(4, 2),
          "state": Format(4, 3), "cell": Format(6, 3)}

# name -> (config, small: parameters go through s_axis_w, samples, max sequence length)
CASES = {
    "x3h8n2": (Config(input_size=3, hidden_size=8, lanes=2), True, 4, 4),
    "x3h8n1": (Config(input_size=3, hidden_size=8, lanes=1), True, 3, 3),
    "x3h8n8": (Config(input_size=3, hidden_size=8, lanes=8), True, 3, 3),
    "x1h6n3": (Config(input_size=1, hidden_size=6, lanes=3), True, 3, 3),
    "narrow": (Config(input_size=5, hidden_size=6, lanes=2, formats=NARROW), True, 3, 3),
    "wide": (Config(input_size=5, hidden_size=6, lanes=3, formats=WIDE), True, 3, 3),
    "overlap": (Config(input_size=5, hidden_size=12, lanes=6, cell_units=2, overlap=True),
                True, 4, 4),
}
SIMS = [s for s in ("icarus", "verilator") if os.environ.get("SIM", s) == s]


def prepare_case(name):
    """Verilog (shared by both simulators), parameters and the case file; built once."""
    if name == "board":
        return prepare_board_case("board", BOARD_CHARS)
    cfg, small, samples, max_len = CASES[name]
    out = BUILD / "cases" / name
    case_file = out / "case.json"
    fp = fingerprint(name, CASES[name], os.environ.get("SKIPLSTM_SEED", 1234))
    if is_current(case_file, fp):
        return case_file
    out.mkdir(parents=True, exist_ok=True)
    params = random_params(np.random.default_rng(7), cfg)
    save_quant_npz(out / "params.npz", params)
    generate(cfg, out, weights=None if small else out / "params.npz", quiet=True)
    case_file.write_text(json.dumps({
        "config": cfg.to_dict(), "params": str(out / "params.npz"), "baked": not small,
        "small": small, "seed": int(os.environ.get("SKIPLSTM_SEED", 1234)),
        "num_samples": samples, "max_len": max_len, "timeout_ms": 2 if small else 10,
        "verilog": str(out / f"{cfg.name}.v"), "fingerprint": fp,
    }))
    return case_file


def record(sim, name, phase, seconds):
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    data = json.loads(REPORT.read_text()) if REPORT.exists() else {}
    data.setdefault(sim, {}).setdefault(name, {})[phase] = round(seconds, 2)
    REPORT.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


def run_case(sim, name, test_filter=None):
    build_s, test_s = run_cocotb(sim, name, prepare_case(name), test_filter,
                                 waves=os.environ.get("WAVES") == "1")
    record(sim, name, "build_s", build_s)
    record(sim, name, "test_s", test_s)


# (simulator, case, cocotb test filter): every case on every simulator, and the board top
# (host driver -> UART -> bridge -> core, the PTB model baked in) on Verilator
# Verilator also runs every configuration through the compiled harness (tests/test_harness.py,
# make soak); here it takes the two whose cocotb builds cover the widest spread of formats and
# lane counts, and the overlap option; Icarus (builds in a second) all of them.
VERILATOR_CASES = ("x3h8n2", "wide", "overlap")
RUNS = [(sim, name, None) for sim in SIMS for name in CASES
        if sim == "icarus" or name in VERILATOR_CASES]
RUNS += [("verilator", "board", None)] if "verilator" in SIMS else []


@pytest.mark.parametrize("sim,name,test_filter", RUNS, ids=[f"{s}-{n}" for s, n, _ in RUNS])
def test_cocotb(sim, name, test_filter):
    run_case(sim, name, test_filter)
