"""Float reference == torch.nn.LSTM, and the pruning semantics of docs/contract.md section 1."""

import numpy as np
import pytest
import torch

from golden.float_model import lstm_float, prune
from golden.params import from_torch


@pytest.mark.parametrize("X,H,T", [(1, 1, 5), (3, 8, 17), (50, 64, 40), (7, 33, 25)])
def test_float_model_matches_torch(rng, X, H, T):
    torch.manual_seed(int(rng.integers(1 << 31)))
    lstm = torch.nn.LSTM(X, H, batch_first=True).double()
    xs = rng.normal(size=(T, X))
    with torch.no_grad():
        ref, (h_n, c_n) = lstm(torch.from_numpy(xs)[None])
    hs, cs = lstm_float(from_torch(lstm), xs, theta=0.0)
    np.testing.assert_allclose(hs, ref[0].numpy(), rtol=0, atol=1e-9)
    np.testing.assert_allclose(cs[-1], c_n[0, 0].numpy(), rtol=0, atol=1e-9)


def test_state_dict_import_equals_module_import():
    lstm = torch.nn.LSTM(4, 6).double()
    a, b = from_torch(lstm), from_torch(lstm.state_dict())
    for name in ("w_ih", "w_hh", "b"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    np.testing.assert_array_equal(
        a.b, (lstm.bias_ih_l0 + lstm.bias_hh_l0).detach().numpy())


def test_prune_semantics():
    h = np.array([-0.5, -0.1, -0.0999, 0.0, 0.0999, 0.1, 0.7])
    np.testing.assert_array_equal(prune(h, 0.1), [-0.5, -0.1, 0, 0, 0, 0.1, 0.7])
    np.testing.assert_array_equal(prune(h, 0.0), h)      # theta = 0 prunes nothing


def test_pruning_feeds_back_as_state(rng):
    lstm = torch.nn.LSTM(3, 16).double()
    p = from_torch(lstm)
    xs = rng.normal(size=(30, 3))
    hs, _ = lstm_float(p, xs, theta=0.05)
    assert np.all((hs == 0) | (np.abs(hs) >= 0.05))
    assert np.count_nonzero(hs == 0) > 0
    # the pruned h is the recurrent state: re-running step by step from the pruned state
    h = np.zeros(16)
    c = np.zeros(16)
    for t in range(len(xs)):
        h1, c1 = lstm_float(p, xs[t:t + 1], theta=0.05, h0=h, c0=c)
        h, c = h1[0], c1[0]
        np.testing.assert_array_equal(h, hs[t])
