"""bayes_scaling.scoring: every score with a known answer — APE and MAPE, RMSLE, R², coverage, relative width,
CRPS (from draws and closed form), KDE log density, and the per-method summary of a backtest."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from bayes_scaling import scoring
from bayes_scaling.scoring import crps_from_draws, crps_normal, kde_log_density, summarize_points


def test_point_scores_by_hand():
    y = np.array([2.0, 2.0, 2.0, 2.0])
    f = np.array([2.02, 1.96, 2.0, 2.1])  # APE 1, 2, 0, 5 %
    np.testing.assert_allclose(scoring.ape(f, y), [1.0, 2.0, 0.0, 5.0])
    assert scoring.mape(f, y) == pytest.approx(1.5)  # the median
    assert scoring.mape(f, y, average="mean") == pytest.approx(2.0)
    assert scoring.rmsle(f, y) == pytest.approx(np.sqrt(np.mean(np.log(f / y) ** 2)))
    assert np.isnan(scoring.r2(f, y))  # constant observed loss: R^2 undefined
    assert scoring.r2([2.5, 2.5], [2.0, 3.0]) == pytest.approx(0.0)  # no better than the mean
    assert scoring.r2([2.0, 3.0], [2.0, 3.0]) == 1.0
    with pytest.raises(ValueError, match="2 forecasts but 3 observations"):
        scoring.ape([1.0, 2.0], [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="average must be 'median' or 'mean'"):
        scoring.mape(f, y, average="mode")
    assert np.isnan(scoring.mape([], [])) and np.isnan(scoring.rmsle([], []))


def test_coverage_and_width_by_hand():
    y = np.array([1.0, 2.0, 3.0, 4.0])
    lo, hi = np.array([0.5, 2.0, 3.5, 3.0]), np.array([1.5, 2.5, 4.0, 4.0])  # ends included: 1, 2 and 4 covered
    np.testing.assert_array_equal(scoring.covered(y, lo, hi), [True, True, False, True])
    assert scoring.coverage(y, lo, hi) == 0.75
    assert scoring.relative_width(lo, hi, y) == pytest.approx(np.mean([1.0, 0.25, 0.5 / 3, 0.25]))
    assert np.isnan(scoring.coverage([], [], []))


# ---------------------------------------------------------------- scores with known answers


def test_crps_point_forecast_is_absolute_error_and_zero_when_perfect():
    y = np.array([2.0, 2.5, 3.0])
    np.testing.assert_allclose(crps_from_draws(y[None, :], y), 0.0)
    np.testing.assert_allclose(crps_from_draws(np.array([[2.1, 2.5, 2.7]]), y), [0.1, 0.0, 0.3], atol=1e-12)


def test_crps_of_normal_draws_matches_closed_form():
    mu, sigma = 2.0, 0.05
    y = np.array([2.0, 2.03, 1.9, 2.2])
    s = 20_000
    grid = mu + sigma * stats.norm.ppf((np.arange(s) + 0.5) / s)  # exact quantiles as draws
    got = crps_from_draws(np.repeat(grid[:, None], y.size, axis=1), y)
    np.testing.assert_allclose(got, crps_normal(y, mu, sigma), rtol=2e-3)
    # at y = mu: sigma (2 phi(0) - 1/sqrt(pi)) = sigma (sqrt(2/pi) - 1/sqrt(pi))
    assert crps_normal(mu, mu, sigma) == pytest.approx(sigma * (np.sqrt(2 / np.pi) - 1 / np.sqrt(np.pi)), rel=1e-12)
    # the O(S log S) form equals the O(S^2) definition
    x = np.random.default_rng(0).normal(size=(300, 2))
    yy = np.array([0.3, -1.0])
    direct = np.mean(np.abs(x - yy), 0) - 0.5 * np.mean(np.abs(x[:, None, :] - x[None, :, :]), axis=(0, 1))
    np.testing.assert_allclose(crps_from_draws(x, yy), direct, rtol=1e-12)
    with pytest.raises(ValueError, match="columns"):
        crps_from_draws(x, np.zeros(3))


def _points(loss, median, half_widths: dict, crps=None, dens=None):
    df = pd.DataFrame({"loss": loss, "loss_median": median})
    for p, h in half_widths.items():
        pct = format(100 * p, "g")
        df[f"loss_lower_{pct}"] = np.asarray(median) - h
        df[f"loss_upper_{pct}"] = np.asarray(median) + h
    if crps is not None:
        df["crps"] = crps
    if dens is not None:
        df["log_density"] = dens
    return df


def test_perfect_forecasts_score_perfectly():
    y = np.array([2.0, 2.2, 2.5, 3.0])
    s = summarize_points(_points(y, y, {0.5: 0.01, 0.9: 0.02}, crps=np.zeros(4), dens=np.ones(4)), (0.5, 0.9))
    assert s["n_heldout"] == s["n_scored"] == 4
    assert s["mape"] == 0 and s["rmsle"] == 0 and s["r2"] == 1
    assert s["coverage_50"] == 1 and s["coverage_90"] == 1
    assert s["width_90"] == pytest.approx(np.mean(0.04 / y))
    assert s["crps"] == 0 and s["log_pred_density"] == 1


def test_hand_made_scores():
    y = np.array([2.0, 2.0, 2.0, 2.0])
    med = np.array([2.02, 1.96, 2.0, 2.1])  # APE 1, 2, 0, 5 %: median 1.5 %
    half = {0.5: 0.03, 0.9: 0.05}  # 50 %: covers runs 0 and 2 only (|err| <= 0.03); 90 %: all but run 3
    s = summarize_points(_points(y, med, half), (0.5, 0.9))
    assert s["mape"] == pytest.approx(1.5)
    assert s["rmsle"] == pytest.approx(np.sqrt(np.mean(np.log(med / y) ** 2)))
    assert np.isnan(s["r2"])  # constant observed loss: R^2 undefined
    assert s["coverage_50"] == pytest.approx(0.5)
    assert s["coverage_90"] == pytest.approx(0.75)
    assert np.isnan(s["crps"]) and np.isnan(s["log_pred_density"])
    s2 = summarize_points(_points(np.array([2.0, 3.0]), np.array([2.5, 2.5]), {}), (0.9,))
    assert s2["r2"] == pytest.approx(1 - 0.5 / 0.5)  # = 0: no better than the mean
    assert np.isnan(s2["coverage_90"]) and np.isnan(s2["width_90"])




def test_kde_log_density_of_normal_draws_is_the_normal_density():
    draws = np.random.default_rng(1).normal(0.0, 1.0, size=(20_000, 2))
    got = kde_log_density(draws, np.array([0.0, 1.0]))
    # Scott's bandwidth h = S^(-1/5) sd widens the normal to variance 1 + h^2
    h = 20_000 ** (-1 / 5)
    np.testing.assert_allclose(got, stats.norm.logpdf([0.0, 1.0], scale=np.sqrt(1 + h**2)), atol=0.03)
    assert np.isnan(kde_log_density(np.ones((10, 1)), np.array([1.0]))[0])  # no spread: no density


def test_level_labels_name_the_interval_columns():
    assert [scoring.level_label(p) for p in (0.5, 0.8, 0.9, 0.95, 0.975)] == ["50", "80", "90", "95", "97.5"]
