"""Parameter image order, weight import errors, and the cycle model on hand-computed cases."""

import numpy as np
import pytest
import torch

from golden import cycles
from golden.config import Config
from golden.params import (FloatParams, ParamError, QuantParams, from_npz, from_torch,
                           load_quant_npz, quantize_params, save_quant_npz, stream_image)

TINY = Config(input_size=2, hidden_size=1, lanes=1)


def test_stream_image_order_hand_checked():
    # X=2, H=1: W_ih is 4x2, W_hh 4x1, b 4; values chosen to spell out the order
    q = QuantParams(w_ih=np.array([[1, 2], [3, 4], [5, 6], [7, 8]]),
                    w_hh=np.array([[11], [12], [13], [14]]),
                    b=np.array([21, 22, 23, 24]), saturated={})
    assert stream_image(q).tolist() == [1, 2, 3, 4, 5, 6, 7, 8, 11, 12, 13, 14,
                                        21, 22, 23, 24]


def test_bias_is_folded_and_quantised_once():
    cfg = TINY
    p = FloatParams.checked(np.zeros((4, 2)), np.zeros((4, 1)),
                            [0.25, 1 / 8192, 0, -1], [0.25, 1 / 8192, 0, -1])
    q = quantize_params(p, cfg)
    assert q.b.tolist() == [2048, 1, 0, -8192]    # 2/8192 -> 1 LSB at frac 12 (half even: 1)


def test_quantisation_reports_saturation():
    cfg = TINY
    p = FloatParams.checked(np.full((4, 2), 5.0), np.zeros((4, 1)), np.zeros(4))
    q = quantize_params(p, cfg)
    assert q.saturated == {"w_ih": 8, "w_hh": 0, "b": 0}
    assert q.w_ih.max() == 127


@pytest.mark.parametrize("w_ih,w_hh,b,msg", [
    (np.zeros((4, 3)), np.zeros((4, 1)), np.zeros(4), r"'weight_ih' has shape \(4, 3\); expected \(4, 2\)"),
    (np.zeros((4, 2)), np.zeros((3, 1)), np.zeros(4), r"'weight_hh' has shape \(3, 1\); expected \(4H, H\)"),
    (np.zeros((4, 2)), np.zeros((4, 1)), np.zeros(5), r"'bias_ih' has shape \(5,\); expected \(4,\)"),
    (np.full((4, 2), np.nan), np.zeros((4, 1)), np.zeros(4), r"'weight_ih' has a non-finite value nan at index \(0, 0\)"),
    (np.zeros((4, 2)), np.zeros((4, 1)), [0, 0, np.inf, 0], r"'bias_ih' has a non-finite value inf at index \(2,\)"),
])
def test_bad_weights_are_rejected(w_ih, w_hh, b, msg):
    with pytest.raises(ParamError, match=msg):
        FloatParams.checked(w_ih, w_hh, b, input_size=2)


def test_weights_for_other_sizes_are_rejected():
    p = FloatParams.checked(np.zeros((8, 3)), np.zeros((8, 2)), np.zeros(8))
    with pytest.raises(ParamError, match="input_size=3, hidden_size=2; the configuration has "
                                         "input_size=2, hidden_size=1"):
        quantize_params(p, TINY)


def test_npz_roundtrip_and_errors(tmp_path):
    lstm = torch.nn.LSTM(2, 1).double()
    sd = {k.replace("_l0", ""): v.detach().numpy() for k, v in lstm.state_dict().items()}
    np.savez(tmp_path / "w.npz", **sd)
    a, b = from_npz(tmp_path / "w.npz"), from_torch(lstm)
    np.testing.assert_array_equal(a.w_ih, b.w_ih)
    np.testing.assert_array_equal(a.b, b.b)
    np.savez(tmp_path / "bad.npz", weight_ih=sd["weight_ih"])
    with pytest.raises(ParamError, match="has no array 'weight_hh'"):
        from_npz(tmp_path / "bad.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(ParamError, match="weights file .* is not an .npz archive"):
        from_npz(tmp_path / "junk.npz")
    q = quantize_params(a, TINY)
    save_quant_npz(tmp_path / "q.npz", q)
    np.testing.assert_array_equal(load_quant_npz(tmp_path / "q.npz", TINY).W, q.W)
    with pytest.raises(ParamError, match=r"'w_ih' has shape \(4, 2\); expected \(4, 3\)"):
        load_quant_npz(tmp_path / "q.npz", Config(input_size=3, hidden_size=1, lanes=1))
    np.savez(tmp_path / "qbig.npz", w_ih=q.w_ih * 0 + 500, w_hh=q.w_hh, b=q.b)
    with pytest.raises(ParamError, match=r"'w_ih' has values in \[500, 500\]; format "
                                         r"\{bits=8, frac=6\} allows \[-128, 127\]"):
        load_quant_npz(tmp_path / "qbig.npz", TINY)


def test_cycle_model_hand_computed():
    cfg = Config()                     # X=50, H=256, N=64, P=4: R = 16 rows, m = 16 columns
    L = cycles.latency(cfg)
    assert (cfg.rows_per_lane, cfg.min_columns) == (16, 16)
    assert L == 20 + 16 + 28                 # issue + fan-out + lane, drain N/P, cell unit
    assert cycles.step_cycles(cfg, 306) == 16 * 306 + L
    assert cycles.step_cycles(cfg, 26) == 16 * 26 + L
    assert cycles.step_cycles(cfg, 10) == 16 * 16 + L    # a row lasts at least m cycles
    assert cycles.step_cycles(cfg, 0) == 16 * 16 + L     # no nonzero column: bias only
    small = Config(input_size=3, hidden_size=8, lanes=2)   # R = 16, P = 1, m = 2
    L = cycles.latency(small)
    assert L == 20 + 2 + 28
    xs = np.array([[1, 0, 2], [0, 0, 0], [0, 5, 0]])
    hs = np.array([[0, 1, 0, 0, 0, 0, 0, 3], [0] * 8, [1] * 8])
    # sparse nnz: step0 = 2 (x only, fresh), step1 = 0 + 2, step2 = 1 + 0 (row takes m = 2)
    assert cycles.nnz_per_step(small, xs, hs).tolist() == [2, 2, 1]
    assert cycles.cycle_model(small, xs, hs) == {
        "CYCLES": 16 * 2 + 16 * 2 + 16 * 2 + 3 * L, "STEPS": 3, "COLUMNS": 5,
        "SKIPPED": 3 * 11 - 5}
    assert cycles.cycle_model(small, xs, hs, sparse=False) == {
        "CYCLES": 3 * (16 * 11 + L), "STEPS": 3, "COLUMNS": 33, "SKIPPED": 0}


def test_overlap_cycle_model_hand_computed():
    cfg = Config(overlap=True)         # R = 16, m = 16, L = 64: F = 20, W = 60
    assert (cycles.front(cfg), cycles.window(cfg)) == (20, 60)
    # a one-hot x: its x pass (16 x 1 + 20 cycles) hides in the previous step's drain; the h
    # pass is a step with h columns only
    assert cycles.step_cycles(cfg, 33, 1) == 16 * 32 + 64
    assert cycles.step_cycles(cfg, 33, 1, first=True) == 16 * 32 + 64 + 16 + 20
    assert cycles.step_cycles(cfg, 10, 1) == 16 * 16 + 64                # h rows take m
    assert cycles.step_cycles(cfg, 1, 0) == 16 * 16 + 64                # nothing: bias only
    assert cycles.step_cycles(cfg, 3 + 30, 3) == 16 * 30 + 64 + 8        # 16 x 3 + 20 - 60
    dense = cycles.describe(cfg)["dense_step_cycles"]
    assert dense == 16 * 256 + 64 + 16 * 50 + 20 - 60
    with pytest.raises(ValueError, match="overlap = true needs x_nnz"):
        cycles.step_cycles(cfg, 33)
    xs = np.zeros((3, 50))
    xs[[0, 1, 2], [4, 7, 9]] = 1
    hs = np.zeros((3, 256))
    hs[0, :40] = 1
    assert cycles.nnz_parts(cfg, xs, hs)[1].tolist() == [0, 40, 0]
    steps = [16 * 16 + 64 + 36, 16 * 40 + 64, 16 * 16 + 64]
    assert cycles.cycle_model(cfg, xs, hs)["CYCLES"] == sum(steps)
    assert cycles.cycle_model(cfg, xs, hs, follows=True)["CYCLES"] == sum(steps) - 36
    assert cycles.cycle_model(cfg, xs, hs, idle=True)["CYCLES"] == sum(steps) + 2 * 36
    # without the option the same steps cost their x columns in the rows
    plain = Config()
    assert cycles.cycle_model(plain, xs, hs)["CYCLES"] == 16 * 16 + 64 + 16 * 41 + 64 + 16 * 16 + 64


def test_default_dense_utilisation_meets_goal():
    d = cycles.describe(Config())
    assert d["dense_lane_utilisation"] >= 0.90
    cfg = Config()
    # the fixed cost L (64 cycles with 64 lanes) is under 5% of the ideal for every step with
    # at least 20 L / R = 80 nonzero elements of v_t; sparser steps pay more (bench reports it)
    first = -(-20 * cycles.latency(cfg) // cfg.rows_per_lane)
    assert first == 80
    for nnz in range(first, cfg.columns + 1):
        ideal = cfg.rows_per_lane * nnz
        assert cycles.step_cycles(cfg, nnz) <= 1.05 * ideal
