"""bayes_scaling.intervals: the one interval routine — equal-tailed, highest-density and importance-weighted."""

from __future__ import annotations

import numpy as np
import pytest

from bayes_scaling.intervals import check_prob, interval


def test_equal_tailed_interval_is_numpy_quantiles():
    x = np.random.default_rng(0).normal(size=(4000, 3, 2))
    for p in (0.5, 0.8, 0.9, 0.95):
        lo, hi = interval(x, p)
        assert lo.shape == hi.shape == (3, 2)
        np.testing.assert_array_equal(lo, np.quantile(x, (1 - p) / 2, axis=0))
        np.testing.assert_array_equal(hi, np.quantile(x, (1 + p) / 2, axis=0))
    lo, hi = interval(x[:, 0, 0], 0.9)
    assert np.ndim(lo) == 0 and lo < hi


def test_highest_density_interval_of_a_skewed_distribution_is_shorter():
    x = np.random.default_rng(1).exponential(size=20_000)
    e_lo, e_hi = interval(x, 0.9)
    h_lo, h_hi = interval(x, 0.9, kind="hdi")
    assert h_hi - h_lo < e_hi - e_lo and h_lo < e_lo
    assert np.mean((x >= h_lo) & (x <= h_hi)) == pytest.approx(0.9, abs=0.002)


def test_weighted_interval_uses_the_weights():
    x = np.arange(1000.0)
    lo, hi = interval(x, 0.9, weights=np.ones(1000))
    assert (lo, hi) == (49.0, 949.0)  # inverted-CDF quantiles of equal weights
    w = np.where(x < 500, 1.0, 0.0)  # all weight on the lower half
    lo, hi = interval(x, 0.9, weights=w)
    assert (lo, hi) == (24.0, 474.0)


@pytest.mark.parametrize("kw, message", [
    ({"prob": 1.0}, "interval probability must be between 0 and 1 (exclusive), got 1.0."),
    ({"prob": 0.9, "kind": "box"}, "interval kind must be 'eti' or 'hdi', not 'box'."),
    ({"prob": 0.9, "kind": "hdi", "weights": np.ones(10)}, "weighted intervals are equal-tailed: use kind='eti'."),
])
def test_bad_arguments(kw, message):
    with pytest.raises(ValueError) as e:
        interval(np.arange(10.0), **kw)
    assert str(e.value) == message
    assert check_prob(0.5) == 0.5
