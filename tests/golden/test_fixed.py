"""Quantisation, rounding and saturation at the format limits."""

import numpy as np
import pytest

from golden.fixed import Format, quantize, rescale, saturate, shift_round


def test_format_limits():
    f = Format(8, 6)
    assert (f.min, f.max) == (-128, 127)
    q, n = quantize([-2.0, -2.5, 127 / 64, 2.0, 100.0, -1e9], f)
    assert q.tolist() == [-128, -128, 127, 127, 127, -128]
    assert n == 4


@pytest.mark.parametrize("mode,expect", [
    ("truncate",  [-3, -2, -2, -1, 0, 1, 1, 2]),
    ("half_up",   [-2, -2, -1, 0, 1, 1, 2, 3]),
    ("half_even", [-2, -2, -2, 0, 0, 1, 2, 2]),
])
def test_rounding_modes_on_halves(mode, expect):
    # values -2.5 -1.75 -1.5 -0.5 0.5 1.25 1.5 2.5 in units of 1 (frac 0)
    x = np.array([-2.5, -1.75, -1.5, -0.5, 0.5, 1.25, 1.5, 2.5])
    got, _ = quantize(x, Format(8, 0), mode)
    assert got.tolist() == expect
    # the integer shift implements the same named mode
    assert shift_round((x * 4).astype(np.int64), 2, mode).tolist() == expect


def test_shift_round_matches_float_definitions(rng):
    q = rng.integers(-10 ** 6, 10 ** 6, 10000)
    for s in (1, 3, 7):
        np.testing.assert_array_equal(shift_round(q, s, "truncate"), np.floor(q / 2 ** s))
        np.testing.assert_array_equal(shift_round(q, s, "half_up"),
                                      np.floor(q / 2 ** s + 0.5))
        np.testing.assert_array_equal(shift_round(q, s, "half_even"), np.round(q / 2 ** s))
    np.testing.assert_array_equal(shift_round(q, -3), q * 8)


def test_rescale_saturates_and_counts():
    out, n = rescale([1 << 20, -(1 << 20), 5], 4, Format(8, 2))
    assert out.tolist() == [127, -128, 1] and n == 2


def test_saturate_counts():
    out, n = saturate([200, -200, 3], Format(8, 0))
    assert out.tolist() == [127, -128, 3] and n == 2


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_quantize_rejects_non_finite(bad):
    with pytest.raises(ValueError, match=r"weights has a non-finite value .* at index \(1,\)"):
        quantize([0.0, bad], Format(8, 4), name="weights")


def test_quantize_rejects_unknown_mode():
    with pytest.raises(ValueError, match="rounding mode 'nearest' is invalid"):
        quantize([0.0], Format(8, 4), "nearest")
