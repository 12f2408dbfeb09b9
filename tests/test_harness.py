"""The compiled harness (Verilator, C++ driver): the soak slice CI runs, and the PTB model
through the default configuration's Verilog, per-step cycles and the RTL's own BPC."""

import json

import numpy as np
import pytest

from golden import cycles
from golden.bundle import load_bundle
from golden.interface import Reg
from golden.model import one_hot_inputs
from golden.model import GoldenLSTM
from sim import soak
from sim.bench import bpc_of, prepare_model
from sim.cases import PTB_BUNDLE
from sim.harness import Commands, HarnessError, build, run

PTB_CHARS = 300


def test_soak_slice(tmp_path):
    """A slice of ``make soak``: the first configurations (tiny, lanes = H, narrow formats),
    random traffic, resets, malformed traffic; a slice of it on Icarus through cocotb."""
    out = tmp_path / "soak.json"
    rc = soak.main(["--steps", "20000", "--configs", "4", "--no-default", "--icarus-steps",
                    "300", "--out", str(out)])
    report = json.loads(out.read_text())
    assert report["mismatches"] == 0, report["failures"]
    assert rc == 0
    assert report["steps"] >= 20000 + 300
    assert report["simulators"] == ["icarus", "verilator"]


def test_soak_check_finds_a_wrong_h_and_a_wrong_counter():
    """The soak's comparison fails on a changed h element and a changed register value."""
    case = soak.soak_configs(1, default=False)[0]
    verilog, manifest, params = soak.prepare(case)
    prog = soak.Programme(case, manifest, params, np.random.default_rng(3), 50)
    cmd = prog.build()
    res = run(build(verilog, case.cfg.name), cmd, soak.BUILD / "runs" / "test_check")
    assert soak.check(prog, res) == []
    res.h[len(res.h) // 2] += 1
    assert any("h segment" in m for m in soak.check(prog, res))
    res.h[len(res.h) // 2] -= 1
    k = next(i for i, w in enumerate(res.log) if w[0] == "rd")
    res.log[k][2] = str(int(res.log[k][2]) + 1)
    assert any("read" in m for m in soak.check(prog, res))


def test_harness_reports_a_bad_command(tmp_path):
    case = soak.soak_configs(1, default=False)[0]
    verilog, manifest, _ = soak.prepare(case)
    cmd = Commands.for_manifest(case.cfg, manifest).add("jump 3")
    with pytest.raises(HarnessError, match="unknown command 'jump'"):
        run(build(verilog, case.cfg.name), cmd, tmp_path)


def test_ptb_model_through_the_default_configuration():
    """The first PTB test characters through the default Verilog with the model baked in:
    h bit-exact, CYCLES of every step equal to the cycle model, sparse and dense, and the
    RTL's BPC (its h through the read-out) equal to the golden model's."""
    verilog, manifest, cfg = prepare_model()
    b = load_bundle(PTB_BUNDLE, cfg)
    from train.data import ptb_chars
    ids = ptb_chars()[1]["test"][:PTB_CHARS + 1]
    xs = one_hot_inputs(cfg, ids[:-1], dtype=np.int32)
    want = GoldenLSTM(cfg, b.q).run_fast(xs, theta=b.theta_raw)[0]
    exe = build(verilog, cfg.name)
    for sparse, n in ((1, PTB_CHARS), (0, 20)):
        cmd = Commands.for_manifest(cfg, manifest).reset()
        cmd.wr(Reg.THRESHOLD, b.theta_raw).wr(Reg.CTRL, sparse)
        cmd.xfile(soak.BUILD / f"ptb_x{sparse}.bin", xs[:n], stepwise=True)
        res = run(exe, cmd, soak.BUILD / "runs" / f"ptb{sparse}")
        got = res.h.reshape(-1, cfg.hidden_size)
        np.testing.assert_array_equal(got, want[:n])
        nnz = cycles.nnz_per_step(cfg, xs[:n], want[:n], sparse=bool(sparse))
        assert res.step_cycles() == [int(v) for v in cycles.step_cycles(cfg, nnz)]
        if sparse:
            assert bpc_of(b, got.astype(float), ids[1:]) == bpc_of(b, want.astype(float),
                                                                  ids[1:])


def test_ptb_model_through_the_overlap_configuration():
    """``configs/overlap.toml`` (the default with the overlap option), the PTB model baked in,
    the first test characters streamed (x_t queued ahead): h bit-exact and the sequence's
    CYCLES equal to the overlap model, below the model without the option (one-hot x: every
    x pass but the first hides in the previous step's drain)."""
    from sim.cases import ROOT
    verilog, manifest, cfg = prepare_model(config=ROOT / "configs" / "overlap.toml")
    assert cfg.overlap
    b = load_bundle(PTB_BUNDLE, cfg)
    from train.data import ptb_chars
    n = 200
    ids = ptb_chars()[1]["test"][:n + 1]
    xs = one_hot_inputs(cfg, ids[:-1], dtype=np.int32)
    want = GoldenLSTM(cfg, b.q).run_fast(xs, theta=b.theta_raw)[0]
    cmd = Commands.for_manifest(cfg, manifest).reset()
    cmd.wr(Reg.THRESHOLD, b.theta_raw).wr(Reg.CTRL, 1)
    cmd.xfile(soak.BUILD / "ptb_x_overlap.bin", xs, stepwise=False)
    cmd.wait_h(n * cfg.hidden_size).idle().rd(Reg.CYCLES_LO).rd(Reg.CYCLES_HI)
    res = run(build(verilog, cfg.name), cmd, soak.BUILD / "runs" / "ptb_overlap")
    np.testing.assert_array_equal(res.h.reshape(-1, cfg.hidden_size), want)
    lo, hi = (v for _, v, _ in res.reads()[-2:])
    model = cycles.cycle_model(cfg, xs, want)["CYCLES"]
    assert lo | hi << 32 == model
    assert model < cycles.cycle_model(cfg.replace(overlap=False), xs, want)["CYCLES"]
