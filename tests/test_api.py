"""The Python API (``skiplstm.from_torch``) and ``skiplstm generate``: from a PyTorch LSTM to
Verilog whose simulation equals the golden model, and the models it refuses."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

import skiplstm
from golden import cycles
from skiplstm.design import DesignError

# |h_golden - h_torch| for random unit-scale weights over 30 steps: 8-bit weights (7 fraction
# bits for |w| < 1) and the 512-segment activation tables; the stated tolerance of the API
TOLERANCE = 0.02


def _lstm(X=3, H=8, batch_first=False, seed=0, **kw):
    torch.manual_seed(seed)
    return torch.nn.LSTM(X, H, batch_first=batch_first, **kw)


def _torch_h(lstm, x):
    with torch.no_grad():
        xt = torch.tensor(x, dtype=torch.float32)
        h, _ = lstm(xt[None] if lstm.batch_first else xt[:, None])
    return (h[0] if lstm.batch_first else h[:, 0]).numpy()


@pytest.mark.parametrize("batch_first", [False, True])
def test_predict_matches_torch_within_tolerance(batch_first):
    lstm = _lstm(batch_first=batch_first)
    x = np.random.default_rng(1).uniform(-1, 1, (30, 3))
    design = skiplstm.from_torch(lstm, lanes=2)
    err = np.abs(design.predict(x) - _torch_h(lstm, x)).max()
    assert err < TOLERANCE


def test_lstmcell_state_dict_and_pt_files_give_the_same_design(tmp_path):
    lstm = _lstm()
    cell = torch.nn.LSTMCell(3, 8)
    with torch.no_grad():
        for a, b in (("weight_ih", "weight_ih_l0"), ("weight_hh", "weight_hh_l0"),
                     ("bias_ih", "bias_ih_l0"), ("bias_hh", "bias_hh_l0")):
            getattr(cell, a).copy_(getattr(lstm, b))
    torch.save(lstm, tmp_path / "module.pt")
    torch.save(lstm.state_dict(), tmp_path / "sd.pt")
    x = np.random.default_rng(2).uniform(-1, 1, (10, 3))
    want = skiplstm.from_torch(lstm, lanes=2).predict_raw(x)
    for model in (cell, lstm.state_dict(), cell.state_dict(), tmp_path / "module.pt",
                  str(tmp_path / "sd.pt")):
        np.testing.assert_array_equal(skiplstm.from_torch(model, lanes=2).predict_raw(x), want)


@pytest.mark.parametrize("model,words", [
    (lambda: _lstm(num_layers=2), "stacked layers (num_layers=2"),
    (lambda: _lstm(bidirectional=True), "bidirectional=True"),
    (lambda: _lstm(H=8, proj_size=4), "projections (proj_size=4)"),
    (lambda: _lstm(num_layers=2).state_dict(), "stacked LSTM (weight_ih_l1)"),
    (lambda: _lstm(bidirectional=True).state_dict(), "bidirectional LSTM"),
    (lambda: torch.nn.GRU(3, 8), "GRU is not supported"),
    (lambda: {"foo": torch.zeros(2)}, "has no LSTM weights"),
    (lambda: "missing.pt", "does not exist"),
])
def test_unsupported_models_are_refused_by_name(model, words):
    with pytest.raises(DesignError) as exc:
        skiplstm.from_torch(model(), lanes=2)
    assert words in str(exc.value)


def test_bad_options_and_inputs():
    lstm = _lstm()
    with pytest.raises(DesignError, match="'lanes' = 3 is invalid: must divide hidden_size=8"):
        skiplstm.from_torch(lstm, lanes=3)
    with pytest.raises(DesignError, match="theta"):
        skiplstm.from_torch(lstm, lanes=2, theta=2)
    design = skiplstm.from_torch(lstm, lanes=2)
    with pytest.raises(DesignError, match=r"x has shape \(4, 2\); expected \(T, 3\)"):
        design.predict(np.zeros((4, 2)))
    with pytest.raises(DesignError, match="outside the input format"):
        design.predict(np.full((2, 3), 100.0))
    with pytest.raises(DesignError, match="simulator 'modelsim' is not supported"):
        design.simulate(np.zeros((1, 3)), simulator="modelsim")


def test_saturation_is_reported_with_the_format_that_would_hold_it():
    lstm = _lstm()
    with torch.no_grad():
        lstm.weight_hh_l0[0, 0] = 3.5
    design = skiplstm.from_torch(lstm, lanes=2, formats={"weight": {"bits": 8, "frac": 7}})
    sat = design.saturation()
    assert sat["w_hh"]["saturated"] >= 1 and sat["w_hh"]["would_hold"] == "{bits=8, frac=5}"
    assert "SATURATED" in design.report() and "w_hh" in design.report()
    auto = skiplstm.from_torch(lstm, lanes=2)                 # chosen from the range: no clip
    assert auto.saturation() == {} and auto.cfg.formats.weight.frac == 5


@pytest.mark.parametrize("simulator,overlap", [("verilator", False), ("icarus", False),
                                               ("icarus", True)])
def test_simulate_equals_predict_and_the_cycle_model(tmp_path, simulator, overlap):
    lstm = _lstm(X=4, H=8, seed=3)
    x = np.random.default_rng(4).uniform(-1, 1, (12, 4))
    x[3:6] = 0                                                 # zero inputs are skipped
    design = skiplstm.from_torch(lstm, lanes=4, theta=0.05, name="api_lstm", overlap=overlap)
    assert design.written is None
    run = design.simulate(x, simulator=simulator)             # writes the design first
    assert design.written is not None
    np.testing.assert_array_equal(run.h, design.predict(x))
    hs = design.predict_raw(x)
    assert run.counters == cycles.cycle_model(design.cfg, design._last_x, hs)
    assert "zeros in h" in design.report()
    assert ("cycle model (overlap)" in design.report()) == overlap


def test_write_products(tmp_path):
    design = skiplstm.from_torch(_lstm(), lanes=2, name="mylstm")
    paths = design.write(tmp_path)
    assert {p.name for p in paths.values()} == {"mylstm.v", "mylstm.json", "mylstm_params.npz",
                                                "mylstm_w.hex"}
    beats = paths["w_hex"].read_text().split()
    assert len(beats) == 4 * 8 * (3 + 8 + 1)


def test_cli_generate(tmp_path):
    torch.save(_lstm(), tmp_path / "m.pt")
    proc = subprocess.run([sys.executable, "-m", "skiplstm", "generate", str(tmp_path / "m.pt"),
                           "--lanes", "4", "--out", str(tmp_path / "out"), "--name", "cli_lstm"],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "cycle model" in proc.stdout and (tmp_path / "out" / "cli_lstm.v").exists()
    proc = subprocess.run([sys.executable, "-m", "skiplstm", "generate", str(tmp_path / "none.pt")],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and "does not exist" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_readme_example_runs(tmp_path, monkeypatch):
    """The README's Python example, as written."""
    from pathlib import Path
    text = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    code = text.split("## From a PyTorch model to Verilog, in Python")[1].split("```python")[1]
    code = code.split("```")[0].replace('"build/mylstm"', repr(str(tmp_path / "mylstm")))
    exec(compile(code, "README.md", "exec"), {})
