"""``make soak``: millions of randomised steps through the generated Verilog, checked against
the golden model, on the compiled harness (Verilator) with a slice on Icarus.

    python -m sim.soak [--steps 1000000] [--configs 22] [--seed 1] [--icarus-steps 10000]
                       [--only NAME] [--waves] [--out build/reports/soak.json]

Each configuration (seeded: sizes from tiny to the default with the PTB model baked in,
every lane count that divides a hidden size, extreme formats) gets a random programme of
segments, each followed by a check of h (bit-exact), the counters (exact) and STATUS:

- traffic: sequences of random lengths (one step to long), random density and threshold,
  sparse or dense, random gaps on x and w and back-pressure on h; sequences that continue
  the state (no tuser) and CLEAR_STATE between sequences;
- reset in mid-stream, after a random number of cycles: h received before it is a prefix of
  the expected h; registers and counters back to their reset values; parameters kept;
- malformed x: short and long vectors (PROTOCOL_ERROR, no step), values that are not a
  sign extension of the input format (PROTOCOL_ERROR, low bits used);
- malformed parameter loads: short and long (PROTOCOL_ERROR), then a good reload; new
  parameters between sequences.

PROTOCOL_ERROR must be set exactly after the malformed traffic and clear everywhere else.
A mismatch prints the configuration, the seed and a command that replays that configuration
alone with waveforms (``--only NAME --seed S --waves``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from golden import cycles
from golden.config import Config, ConfigError, load_config
from golden.fixed import Format
from golden.model import GoldenLSTM
from golden.params import QuantParams, save_quant_npz, stream_image
from golden.interface import ID_VALUE, REGISTERS, Ctrl, StatusBit

from .harness import Commands, build, locked, run
from .scenario import random_params, random_sequences

__all__ = ["SoakCase", "soak_configs", "Programme", "check", "main"]

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / "build" / "soak"
REG = REGISTERS

ICARUS_SLICE = ("x1h1n1", "x3h8n8", "narrow")     # the configurations Icarus also runs
NARROW = {"input": Format(4, 3), "weight": Format(2, 1), "bias": Format(4, 2),
          "state": Format(4, 3), "cell": Format(6, 3)}
WIDE = {"input": Format(18, 14), "weight": Format(18, 14), "bias": Format(32, 26),
        "state": Format(18, 15), "cell": Format(24, 18)}


@dataclass
class SoakCase:
    name: str
    cfg: Config
    weight: float                      # share of the step budget
    baked: str | None = None           # a model bundle baked in (no parameter loads)


def _divisors(n):
    return [d for d in range(1, n + 1) if n % d == 0]


def _random_formats(rng):
    """A valid random set of user formats (extremes included)."""
    while True:
        f = {}
        for key, hi in (("input", 18), ("weight", 18), ("state", 18), ("bias", 32),
                        ("cell", 24)):
            bits = int(rng.choice([2, 3, hi, int(rng.integers(2, hi + 1))]))
            frac = int(rng.integers(0, bits))
            f[key] = Format(bits, frac)
        try:
            Config(input_size=2, hidden_size=2, lanes=1, formats=f)
            return f
        except ConfigError:
            continue


def soak_configs(n, seed=1, default=True):
    """``n`` configurations: fixed corner cases, every lane count dividing H = 12, random
    sizes and formats, and (``default``) the default configuration with the PTB model."""
    rng = np.random.default_rng([seed, 77])
    cases = [
        SoakCase("x1h1n1", Config(input_size=1, hidden_size=1, lanes=1), 1.0),
        SoakCase("x3h8n2", Config(input_size=3, hidden_size=8, lanes=2), 1.0),
        SoakCase("x3h8n8", Config(input_size=3, hidden_size=8, lanes=8), 1.0),
        SoakCase("narrow", Config(input_size=5, hidden_size=6, lanes=2, formats=NARROW), 1.0),
        SoakCase("wide", Config(input_size=5, hidden_size=6, lanes=3, formats=WIDE), 1.0),
    ]
    cases += [SoakCase(f"x4h12n{N}", Config(input_size=4, hidden_size=12, lanes=N), 1.0)
              for N in _divisors(12)]
    if default:
        cases.append(SoakCase("default_ptb", load_config(), 0.02, baked="models/ptb"))
    k = 0
    while len(cases) < n:
        H = int(rng.integers(1, 41))
        N = int(rng.choice(_divisors(H)))
        X = int(rng.integers(1, 41))
        fmts = _random_formats(rng) if k % 2 else None
        try:
            cfg = Config(input_size=X, hidden_size=H, lanes=N,
                         **({"formats": fmts} if fmts else {}))
        except ConfigError:
            continue
        cases.append(SoakCase(f"r{k}_x{X}h{H}n{N}{'f' if fmts else ''}", cfg, 0.5))
        k += 1
    return cases[:n]


def _sign_extend_low(v, bits):
    v = int(v) & ((1 << bits) - 1)
    return v - (1 << bits) if v >> (bits - 1) else v


class Programme:
    """A random programme for one configuration: the command file and what must come out."""

    def __init__(self, case: SoakCase, manifest, params: QuantParams, rng, steps):
        self.case, self.cfg, self.rng = case, case.cfg, rng
        self.cmd = Commands.for_manifest(case.cfg, manifest)
        self.xbits = manifest["ports"]["s_axis_x_tdata"]
        self.wbits = manifest["ports"]["s_axis_w_tdata"]
        self.params = params
        self.golden = GoldenLSTM(self.cfg, params)
        H = self.cfg.hidden_size
        self.h = np.zeros(H, dtype=np.int64)
        self.c = np.zeros(H, dtype=np.int64)
        self.theta, self.sparse = 0, True
        self.expect_h = []             # ("exact", array) | ("reset", array)
        self.notes = []                # what each entry of expect_h is
        self.expect_reads = []         # (address, value or None, what)
        self.steps = 0
        self.beats = 0                 # h beats since the last reset of all queued steps
        self.steps_target = steps
        self.cmd.seed(int(rng.integers(1 << 31))).timeout(50_000_000)
        self.cmd.reset()

    # -- helpers -------------------------------------------------------------------------

    def read(self, name, value, what):
        self.cmd.rd(REG[name])
        self.expect_reads.append((REG[name], value, what))

    def sequences(self, lengths, density):
        return random_sequences(self.rng, self.cfg, lengths, density)

    def expect_counters(self, counters, what):
        self.read("CYCLES_LO", counters["CYCLES"] & 0xFFFFFFFF, what + " CYCLES_LO")
        self.read("CYCLES_HI", counters["CYCLES"] >> 32, what + " CYCLES_HI")
        for k in ("STEPS", "COLUMNS", "SKIPPED"):
            self.read(k, counters[k], what + " " + k)

    def gaps(self):
        kind = self.rng.integers(4)
        if kind == 0:
            self.cmd.gaps(0, 0, 0)
        else:
            self.cmd.gaps(*(int(v) for v in self.rng.integers(0, 700, 3)))

    def run_steps(self, xs, fresh):
        """Golden h of ``xs`` from the current state (or zero state); updates the state and
        returns ``(hs, counters)``."""
        h0 = None if fresh else self.h
        c0 = None if fresh else self.c
        hs, cs = self.golden.run_fast(xs, theta=self.theta, h0=h0, c0=c0)
        if self.sparse:
            prev = np.zeros_like(self.h) if fresh else self.h
            hprev = np.vstack([prev[None, :], hs[:-1]])
            nnz = np.count_nonzero(xs, axis=1) + np.count_nonzero(hprev, axis=1)
        else:
            nnz = np.full(len(xs), self.cfg.columns)
        self.h, self.c = hs[-1].copy(), cs[-1].copy()
        self.steps += len(xs)
        cyc = cycles.step_cycles(self.cfg, nnz)
        return hs, {"CYCLES": int(cyc.sum()), "STEPS": len(xs), "COLUMNS": int(nnz.sum()),
                    "SKIPPED": int((self.cfg.columns - nnz).sum())}

    # -- segments ------------------------------------------------------------------------

    def traffic(self):
        cfg, rng = self.cfg, self.rng
        self.sparse = bool(rng.random() < 0.75)
        hi = cfg.formats.state.max
        self.theta = int(rng.choice([0, 1, int(rng.integers(0, max(2, hi // 4)))]))
        self.cmd.idle()
        self.cmd.wr(REG["THRESHOLD"], self.theta)
        self.cmd.wr(REG["CTRL"], int(self.sparse) | Ctrl.CLEAR_COUNTERS)
        self.gaps()
        total = {"CYCLES": 0, "STEPS": 0, "COLUMNS": 0, "SKIPPED": 0}
        long = max(2, min(200, self.steps_target // 20))
        n_seq = int(rng.integers(1, 6))
        for s in range(n_seq):
            T = int(rng.choice([1, 2, int(rng.integers(1, long + 1))]))
            density = float(rng.choice([0.0, 0.1, 0.5, 1.0, rng.random()]))
            xs = self.sequences([T], density)[0]
            how = rng.integers(6)
            if how == 0 and s > 0:                       # continue the state: no tuser
                fresh, first, note = False, False, "no tuser, state continued"
            elif how == 1:                               # CLEAR_STATE, then no tuser
                # every earlier step must have started: STATUS.BUSY is 0 while a complete x
                # vector waits for room in the h output FIFO, and CLEAR_STATE applies to the
                # next step to start
                self.cmd.wait_h(self.beats)
                self.cmd.idle()
                self.cmd.wr(REG["CTRL"], int(self.sparse) | Ctrl.CLEAR_STATE)
                fresh, first, note = True, False, "CLEAR_STATE, no tuser"
            else:
                fresh, first, note = True, True, "tuser"
            self.cmd.add(f"# h segment {len(self.expect_h)}")
            self.cmd.sequence(xs, first=first)
            hs, cnt = self.run_steps(xs, fresh)
            self.expect_h.append(("exact", hs))
            self.notes.append(f"traffic sequence of {T} steps, {note}, "
                              f"{'sparse' if self.sparse else 'dense'}, theta {self.theta}, "
                              f"density {density:.2f}")
            self.beats += hs.size
            for k in total:
                total[k] += cnt[k]
        self.cmd.wait_h(self.beats)
        self.cmd.idle()
        self.cmd.gaps(0, 0, 0)
        self.expect_counters(total, "traffic")
        self.read("STATUS", 0, "STATUS after good traffic")

    def reset_mid_stream(self):
        cfg, rng = self.cfg, self.rng
        T = int(rng.integers(1, 4))
        xs = self.sequences([T], 0.6)[0]
        self.cmd.idle()
        self.cmd.sequence(xs, first=True)
        hs, _ = self.run_steps(xs, True)
        self.expect_h.append(("reset", hs))
        self.notes.append(f"sequence of {T} steps cut by a reset")
        step = int(cycles.step_cycles(cfg, cfg.columns))
        self.cmd.run(int(rng.integers(0, T * (step + cfg.input_size + cfg.hidden_size) + 2)))
        self.cmd.reset(int(rng.integers(1, 5)))
        self.beats = 0
        self.h[:] = 0
        self.c[:] = 0
        self.theta, self.sparse = 0, True
        self.read("ID", ID_VALUE, "ID after reset")
        self.read("CTRL", 1, "CTRL after reset")
        self.read("THRESHOLD", 0, "THRESHOLD after reset")
        self.read("STATUS", 0, "STATUS after reset")
        self.expect_counters({"CYCLES": 0, "STEPS": 0, "COLUMNS": 0, "SKIPPED": 0},
                             "after reset")

    def protocol_error(self, what):
        self.cmd.run(3)
        self.read("STATUS", StatusBit.PROTOCOL_ERROR, what)
        self.cmd.wr(REG["STATUS"], StatusBit.PROTOCOL_ERROR)
        self.read("STATUS", 0, what + ", cleared")

    def malformed_x(self):
        cfg, rng = self.cfg, self.rng
        X = cfg.input_size
        self.cmd.idle()
        self.gaps()
        if X > 1:
            xs = self.sequences([1], 0.8)[0][0]
            self.cmd.x(xs[:int(rng.integers(1, X))], first=True)
            self.cmd.wait_x()
            self.protocol_error("STATUS after a short x vector")
        xs = self.sequences([2], 0.8)[0].reshape(-1)
        self.cmd.x(xs[:X + int(rng.integers(1, X + 2))], first=True)
        self.cmd.wait_x()
        self.protocol_error("STATUS after a long x vector")
        f = cfg.formats.input
        if self.xbits > f.bits:                            # a value outside the format
            xs = self.sequences([1], 0.7)[0]
            e = int(rng.integers(X))
            raw = int(xs[0, e]) ^ (1 << int(rng.integers(f.bits, self.xbits)))
            self.cmd.x([raw if i == e else v for i, v in enumerate(xs[0])], first=True)
            xs[0, e] = _sign_extend_low(raw, f.bits)
            hs, _ = self.run_steps(xs, True)
            self.expect_h.append(("exact", hs))
            self.notes.append("one step with an x value outside the input format")
            self.beats += hs.size
            self.cmd.wait_h(self.beats)
            self.cmd.idle()
            self.protocol_error("STATUS after an x value outside the input format")
        self.cmd.gaps(0, 0, 0)

    def load(self, params):
        self.cmd.w(stream_image(params))
        self.cmd.wait_w()
        self.params = params
        self.golden = GoldenLSTM(self.cfg, params)
        self.h[:] = 0                                   # a complete load clears h and c
        self.c[:] = 0

    def malformed_w(self):
        rng = self.rng
        beats = stream_image(self.params)
        self.cmd.idle()
        self.gaps()
        self.cmd.w(beats[:int(rng.integers(1, len(beats)))])
        self.cmd.wait_w()
        self.protocol_error("STATUS after a short parameter load")
        self.cmd.w(np.concatenate([beats, beats[:int(rng.integers(1, 8))]]))
        self.cmd.wait_w()
        self.protocol_error("STATUS after a long parameter load")
        self.load(self.params)                          # the memories hold a mix: reload
        self.cmd.gaps(0, 0, 0)

    def reload(self):
        self.cmd.idle()
        self.load(random_params(self.rng, self.cfg, scale=float(self.rng.choice([0.3, 1.0]))))

    # -- the programme -------------------------------------------------------------------

    def build(self):
        if self.case.baked is None:
            self.load(self.params)
        kinds = ["traffic"] * 8 + ["reset", "malformed_x"]
        if self.case.baked is None:
            kinds += ["malformed_w", "reload"]
        while self.steps < self.steps_target:
            getattr(self, {"traffic": "traffic", "reset": "reset_mid_stream",
                           "malformed_x": "malformed_x", "malformed_w": "malformed_w",
                           "reload": "reload"}[self.rng.choice(kinds)])()
        self.finish()
        return self.cmd

    def finish(self):
        self.cmd.idle()
        self.read("STATUS", 0, "STATUS at the end")




def check(prog: Programme, res, limit=5):
    """Mismatches (strings) between a harness run and the programme's expectations."""
    bad = []
    if res.returncode != 0:
        bad.append(f"harness exit {res.returncode}: {res.faults}")
    bad += list(res.faults)
    resets = [int(w[2]) for w in res.log if w[0] == "reset"]
    h = res.h
    pos, epoch_beats, r = 0, 0, 1                       # resets[0] is the programme's first
    H = prog.cfg.hidden_size
    for k, (kind, hs) in enumerate(prog.expect_h):
        want = hs.reshape(-1)
        if kind == "exact":
            got = h[pos:pos + want.size]
            if got.size != want.size or np.any(got != want):
                diff = np.flatnonzero(got != want[:got.size]) if got.size else [0]
                i = int(diff[0]) if len(diff) else got.size
                bad.append(f"h segment {k} ({prog.notes[k]}): step {i // H}, unit {i % H}: got "
                           f"{got[i] if i < got.size else 'nothing'}, want {want[i]}")
            pos += want.size
            epoch_beats += want.size
        else:
            if r >= len(resets):
                bad.append(f"h segment {k}: reset not reached")
                break
            partial = resets[r] - epoch_beats
            r += 1
            got = h[pos:pos + max(partial, 0)]
            if not 0 <= partial <= want.size or np.any(got != want[:got.size]):
                bad.append(f"h segment {k}: {partial} beats before reset are not a prefix "
                           f"of the {want.size} expected")
            pos += max(partial, 0)
            epoch_beats = 0
        if len(bad) >= limit:
            return bad
    if pos != h.size:
        bad.append(f"{h.size - pos} h beats more than expected")
    reads = res.reads()
    if len(reads) != len(prog.expect_reads):
        bad.append(f"{len(reads)} register reads done, {len(prog.expect_reads)} expected")
    for (addr, value, resp), (want_addr, want, what) in zip(reads, prog.expect_reads):
        if resp != 0 or (want is not None and value != want):
            bad.append(f"{what}: read {value} (resp {resp}), want {want}")
            if len(bad) >= limit:
                break
    bad += [f"write to 0x{a:02x} answered {r}" for a, _, r in res.writes() if r != 0]
    return bad[:limit]


# -- running --------------------------------------------------------------------------------


def prepare(case: SoakCase):
    """Verilog and manifest of ``case`` (cached by the generator's sources), its parameters."""
    with locked(BUILD / "cases" / f"{case.name}.lock"):
        return _prepare(case)


def _prepare(case: SoakCase):
    from flow.generate import generate
    from .cases import fingerprint, is_current
    out = BUILD / "cases" / case.name
    stamp = out / "case.json"
    fp = fingerprint("soak", case.name, json.dumps(case.cfg.to_dict(), sort_keys=True),
                     case.baked or "")
    if case.baked:
        from golden.bundle import load_bundle
        params = load_bundle(ROOT / case.baked, case.cfg).q
    else:
        params = random_params(np.random.default_rng(zlib.crc32(case.name.encode())), case.cfg)
    if not is_current(stamp, fp):
        out.mkdir(parents=True, exist_ok=True)
        save_quant_npz(out / "params.npz", params)
        generate(case.cfg, out, weights=ROOT / case.baked if case.baked else None, quiet=True)
        stamp.write_text(json.dumps({"fingerprint": fp}))
    else:
        from golden.params import load_quant_npz
        params = load_quant_npz(out / "params.npz", case.cfg) if not case.baked else params
    verilog = out / f"{case.cfg.name}.v"
    manifest = json.loads((out / f"{case.cfg.name}.json").read_text())
    return verilog, manifest, params


def run_case(case: SoakCase, steps, seed, simulator="verilator", waves=False):
    """Builds and runs one configuration; returns ``(steps, mismatches, seconds, cycles)``."""
    verilog, manifest, params = prepare(case)
    rng = np.random.default_rng([seed, sum(map(ord, case.name))])
    prog = Programme(case, manifest, params, rng, steps)
    cmd = prog.build()
    work = BUILD / "runs" / simulator / case.name
    vcd = work / "waves.vcd" if waves else None
    if simulator == "verilator":
        exe = build(verilog, case.cfg.name, waves=waves)
        res = run(exe, cmd, work, vcd=vcd, check=False)
    else:
        from .icarus_harness import run_icarus
        res = run_icarus(verilog, case.cfg.name, cmd, work, waves=waves,
                         simulator=simulator.removeprefix("cocotb-"))
    return prog.steps, check(prog, res), res.seconds, res.cycles


def replay_command(case, seed, simulator, steps, configs):
    return (f"python -m sim.soak --only {case.name} --steps {steps} --configs {configs} "
            f"--seed {seed} --simulator {simulator} --waves")


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m sim.soak", description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=1_000_000, help="Verilator steps in all")
    ap.add_argument("--configs", type=int, default=22)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--icarus-steps", type=int, default=10_000,
                    help="steps of the Icarus slice (0: none)")
    ap.add_argument("--no-default", action="store_true",
                    help="leave out the default configuration (its build takes minutes)")
    ap.add_argument("--only", help="one configuration by name (with --waves: waveforms)")
    ap.add_argument("--simulator", choices=("verilator", "icarus", "cocotb-verilator"),
                    default=None, help="one simulator only (cocotb-verilator: the command "
                                       "interpreter in cocotb on Verilator, for comparison)")
    ap.add_argument("--waves", action="store_true")
    ap.add_argument("--out", default=str(ROOT / "build" / "reports" / "soak.json"))
    args = ap.parse_args(argv)
    from flow.progress import Progress
    cases = soak_configs(args.configs, args.seed, default=not args.no_default)
    if args.only:
        cases = [c for c in cases if c.name == args.only]
        if not cases:
            names = ", ".join(c.name for c in soak_configs(args.configs, args.seed))
            raise SystemExit(f"soak: no configuration named {args.only!r}; there are: {names}")
    weights = sum(c.weight for c in cases)
    plan = []
    sims = [args.simulator] if args.simulator else ["verilator"]
    for sim in sims:
        for c in cases:
            plan.append((sim, c, max(1, int(args.steps * c.weight / weights))))
    if args.icarus_steps and not args.simulator and not args.only:
        small = [c for c in cases if c.name in ICARUS_SLICE]
        for c in small:
            plan.append(("icarus", c, max(1, args.icarus_steps // len(small))))
    t0 = time.monotonic()
    total_steps, all_bad, per = 0, [], []
    bar = Progress(sum(s for _, _, s in plan), "soak")
    done = 0
    for sim, case, steps in plan:
        n, bad, secs, cyc = run_case(case, steps, args.seed, sim, waves=args.waves)
        total_steps += n
        done += steps
        per.append({"config": case.name, "simulator": sim, "steps": n, "cycles": cyc,
                    "seconds": round(secs, 2), "mismatches": len(bad)})
        bar.update(done, f"{sim} {case.name}: {n} steps, {len(bad)} mismatches")
        if bad:
            replay = replay_command(case, args.seed, sim, steps, args.configs)
            bar.write(f"MISMATCH {sim} {case.name} (seed {args.seed}):\n  " + "\n  ".join(bad)
                      + f"\n  replay: {replay}")
            all_bad.append({"config": case.name, "simulator": sim, "seed": args.seed,
                            "first": bad, "replay": replay})
    bar.close()
    report = {"steps": total_steps, "configs": len({c.name for _, c, _ in plan}),
              "mismatches": sum(len(b["first"]) for b in all_bad),
              "simulators": sorted({s for s, _, _ in plan}), "seconds": round(time.monotonic() - t0, 1),
              "seed": args.seed, "runs": per, "failures": all_bad}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"soak: {total_steps} steps over {report['configs']} configurations on "
          f"{', '.join(report['simulators'])}: {report['mismatches']} mismatches "
          f"({report['seconds']:.0f} s); {out}")
    return 1 if all_bad else 0


if __name__ == "__main__":
    sys.exit(main())
