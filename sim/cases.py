"""Simulation cases of the cocotb regression (``tests/test_cocotb.py``): generated Verilog,
parameters and the case file the testbench reads, and one function that builds and runs a
case with ``cocotb_tools.runner``; the source fingerprint that every cached build uses."""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path

from golden.config import load_config

__all__ = ["ROOT", "BUILD", "PTB_BUNDLE", "fingerprint", "is_current",
           "prepare_board_case", "run_cocotb"]

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / "build" / "sim"
PTB_BUNDLE = Path(os.environ.get("SKIPLSTM_PTB_BUNDLE", ROOT / "models" / "ptb"))


def fingerprint(*extra):
    """Hash of the generator's sources (rtl/, golden/) and ``extra`` strings: a case built
    from older sources is rebuilt."""
    h = hashlib.sha256()
    for path in sorted([*(ROOT / "rtl").glob("*.py"), *(ROOT / "golden").glob("*.py")]):
        h.update(path.read_bytes())
    for item in extra:
        h.update(str(item).encode())
    return h.hexdigest()


def is_current(case_file, fp):
    case_file = Path(case_file)
    return case_file.exists() and json.loads(case_file.read_text()).get("fingerprint") == fp


def prepare_board_case(name="board", chars=6, bundle=PTB_BUNDLE, divisor=8):
    """``SkipLSTMBoard`` (UART bridge + core, the PTB bundle baked in) in Verilog, for the
    host-driver end-to-end test ``sim.tb_board``; the first ``chars`` PTB test characters."""
    from golden.bundle import load_bundle
    from rtl.board import SkipLSTMBoard
    from flow.generate import load_weights, to_verilog
    from train.data import ptb_chars
    out = BUILD / "cases" / name
    case_file = out / "case.json"
    fp = fingerprint(name, chars, divisor, (Path(bundle) / "params.npz").read_bytes(),
                     *(p.read_bytes() for p in sorted((ROOT / "skiplstm").glob("*.py"))))
    if is_current(case_file, fp):
        return case_file
    cfg = load_config()
    load_bundle(bundle, cfg)
    out.mkdir(parents=True, exist_ok=True)
    board = SkipLSTMBoard(cfg, load_weights(bundle, cfg)[0], divisor=divisor,
                          frame_timeout=20_000, stall_timeout=20_000)
    vpath = out / "skiplstm_board.v"
    vpath.write_text(to_verilog(board, "skiplstm_board"))
    ids = ptb_chars()[1]["test"][:chars]
    case_file.write_text(json.dumps({
        "config": cfg.to_dict(), "ptb": str(bundle), "ptb_ids": [int(i) for i in ids],
        "divisor": divisor, "verilog": str(vpath), "toplevel": "skiplstm_board",
        "test_module": "sim.tb_board", "fingerprint": fp}))
    return case_file


def run_cocotb(sim, name, case_file, test_filter=None, waves=False):
    """Builds (once per simulator and case) and runs the case's cocotb module (default
    ``sim.tb_skiplstm``); returns ``(build_seconds, test_seconds)``. Raises (pytest) or exits
    (otherwise) on a failure."""
    from cocotb_tools.runner import get_runner
    case = json.loads(Path(case_file).read_text())
    top = case.get("toplevel", "skiplstm")
    module = case.get("test_module", "sim.tb_skiplstm")
    runner = get_runner(sim)
    build_dir = BUILD / sim / name
    t0 = time.monotonic()
    build_args = ["-Wno-fatal", "-Wno-lint", "-Wno-style"] if sim == "verilator" else []
    runner.build(sources=[case["verilog"]], hdl_toplevel=top, build_dir=build_dir,
                 build_args=build_args, timescale=("1ns", "1ps"), waves=waves,
                 log_file=build_dir / "build.log")
    t1 = time.monotonic()
    env = {"SKIPLSTM_CASE": str(case_file), "PYTHONPATH": str(ROOT)}
    runner.test(test_module=module, hdl_toplevel=top, build_dir=build_dir,
                test_dir=build_dir, extra_env=env, waves=waves, timescale=("1ns", "1ps"),
                log_file=build_dir / "test.log", test_filter=test_filter)
    return t1 - t0, time.monotonic() - t1
