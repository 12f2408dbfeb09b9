"""Harness command files on Icarus Verilog, through cocotb (``sim/tb_commands.py``): the
slice of the soak that runs on the second simulator. One build per Verilog text."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

from .harness import Commands, load_result

__all__ = ["run_icarus"]

ROOT = Path(__file__).resolve().parent.parent


def run_icarus(verilog, top, commands: Commands, workdir, waves=False, simulator="icarus"):
    """Runs ``commands`` through cocotb on ``simulator`` (Icarus; Verilator to compare the
    cocotb path with the compiled harness on the same programme)."""
    from cocotb_tools.runner import get_runner
    verilog, workdir = Path(verilog), Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    cmd_file = workdir / "commands.txt"
    cmd_file.write_text(commands.text())
    key = hashlib.sha256(verilog.read_bytes() + top.encode()).hexdigest()[:16]
    build_dir = ROOT / "build" / "harness" / f"{simulator}-cocotb-{key}"
    runner = get_runner(simulator)
    runner.build(sources=[verilog], hdl_toplevel=top, build_dir=build_dir,
                 build_args=["-Wno-fatal", "-Wno-lint", "-Wno-style"] if simulator == "verilator"
                 else [], timescale=("1ns", "1ps"), waves=waves,
                 log_file=build_dir / "build.log")
    prefix = workdir / "out"
    for suffix in (".h", ".log"):
        prefix.with_suffix(suffix).unlink(missing_ok=True)
    t0 = time.monotonic()
    rc = 0
    try:
        runner.test(test_module="sim.tb_commands", hdl_toplevel=top, build_dir=build_dir,
                    test_dir=workdir, waves=waves, timescale=("1ns", "1ps"),
                    extra_env={"SKIPLSTM_COMMANDS": str(cmd_file), "SKIPLSTM_OUT": str(prefix),
                               "PYTHONPATH": str(ROOT)},
                    log_file=workdir / "test.log")
    except SystemExit as exc:                       # the runner exits on a failed test
        rc = int(exc.code or 1)
    res = load_result(prefix, rc, time.monotonic() - t0)
    if not prefix.with_suffix(".log").exists():
        res.returncode = res.returncode or 1
    return res
