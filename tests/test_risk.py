"""bayes_scaling.risk (issue 3): transfer risk with known answers — exceedance, departures from the published law,
prior-data conflict and the risk table; on fake fits, and on real fits with the published prior (slow)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import bayes_scaling as bs
from conftest import make_fake_fit

from bayes_scaling.laws import chinchilla_loss
from bayes_scaling.risk import DEFAULT_TOLERANCE, departures, exceedance, prior_data_conflict, risk_table

# Besiroglu et al. (2024) point estimate (priors.besiroglu2024_covariance)
PUB = {"E": 1.81686, "A": 482.006, "B": 2085.434, "alpha": 0.34781, "beta": 0.36585}


def simulate(alpha_shift=0.0, loss_scale=1.0, seed=0, noise=0.004):
    rng = np.random.default_rng(seed)
    n = np.repeat(np.geomspace(1e8, 1e10, 4), 3)
    d = n * np.tile([10.0, 40.0, 160.0], 4)
    p = dict(PUB)
    # shift alpha but keep the N term equal at N = 1e9 so the runs stay in a plausible range
    p["A"] = PUB["A"] * (1e9 ** (alpha_shift))
    p["alpha"] = PUB["alpha"] + alpha_shift
    loss = chinchilla_loss(n, d, **p) * loss_scale * np.exp(rng.normal(0, noise, n.size))
    return pd.DataFrame({"params": n, "tokens": d, "loss": loss})


def _fit(runs, seed=1):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return bs.ScalingLaw(prior="besiroglu2024").fit(runs, random_seed=seed)


@pytest.fixture(scope="module")
def fit_same():
    return _fit(simulate())


@pytest.fixture(scope="module")
def fit_shifted():
    return _fit(simulate(alpha_shift=0.1, seed=1))


@pytest.mark.slow
def test_departure_low_for_published_law_high_for_shifted_alpha(fit_same, fit_shifted):
    same = departures(fit_same).set_index("quantity")
    shifted = departures(fit_shifted).set_index("quantity")
    assert same.loc["Δalpha", "p_outside"] < 0.2
    assert abs(same.loc["Δalpha", "median"]) < 0.03
    assert shifted.loc["Δalpha", "p_outside"] > 0.8
    assert 0.05 < shifted.loc["Δalpha", "median"] < 0.15
    assert shifted.loc["Δalpha", "lower"] > 0
    # the forecast gap at 100x compute follows the departure: its interval covers the true gap
    for table, shift in ((same, 0.0), (shifted, 0.1)):
        gap = table.loc["loss gap"]
        n, d = gap["target_params"], gap["target_tokens"]
        truth = dict(PUB, A=PUB["A"] * 1e9**shift, alpha=PUB["alpha"] + shift)
        true_gap = chinchilla_loss(n, d, **truth) / chinchilla_loss(n, d, **PUB) - 1
        assert gap["lower"] <= true_gap <= gap["upper"], (shift, true_gap, gap.to_dict())
    assert shifted.loc["loss gap", "median"] < same.loc["loss gap", "median"]


@pytest.mark.slow
def test_prior_data_conflict_flags_a_domain_far_from_the_law(fit_same):
    ok = prior_data_conflict(fit_same)
    assert ok["flag"] == "none" and ok["p_value"] > 0.1
    far = _fit(simulate(alpha_shift=0.5, seed=2))  # an exponent 0.5 above the law: beyond any published spread
    bad = prior_data_conflict(far)
    assert bad["flag"] == "strong" and bad["p_value"] < 0.01
    assert "Strong prior-data conflict" in bad["message"]


@pytest.mark.slow
def test_exceedance_matches_predictive_quantiles(fit_same):
    t = pd.DataFrame({"params": [7e10], "tokens": [1.4e12]})
    pred = fit_same.predict(t, prob=0.9)
    lo, hi = pred.loc[0, "loss_lower"], pred.loc[0, "loss_upper"]
    ex_lo = exceedance(fit_same, t, lo).loc[0, "p_exceed"]
    ex_hi = exceedance(fit_same, t, hi).loc[0, "p_exceed"]
    ex_med = exceedance(fit_same, t, pred.loc[0, "loss_median"]).loc[0, "p_exceed"]
    assert ex_lo == pytest.approx(0.95, abs=0.02)
    assert ex_hi == pytest.approx(0.05, abs=0.02)
    assert ex_med == pytest.approx(0.5, abs=0.03)
    ex = exceedance(fit_same, t, hi)
    assert ex.loc[0, "expected_shortfall"] > 0
    assert ex.loc[0, "expected_shortfall"] < ex.loc[0, "mean_excess_if_missed"]
    table = risk_table(fit_same, t, threshold=float(pred.loc[0, "loss_median"]))
    assert {"p_exceed", "expected_shortfall", "loss_gap_median", "p_departure", "conflict_p"} <= set(table)


# ----------------------------------------------------------------------------- the same checks on fake fits


def _fake(alpha_shift=0.0, seed=0):
    """A fake fit with the published prior whose draws sit on the law the runs were simulated from."""
    law = {"A": PUB["A"] * 1e9**alpha_shift, "alpha": PUB["alpha"] + alpha_shift}
    return make_fake_fit(simulate(alpha_shift=alpha_shift, seed=seed), prior="besiroglu2024", seed=seed,
                         law={**PUB, **law})


def test_departures_of_fake_fits_follow_the_shift_of_alpha():
    same = departures(_fake()).set_index("quantity")
    shifted = departures(_fake(alpha_shift=0.1, seed=1)).set_index("quantity")
    assert list(same.index) == ["Δalpha", "Δbeta", "ΔE", "loss gap"]
    assert abs(same.loc["Δalpha", "median"]) < 0.01 and same.loc["Δalpha", "p_outside"] == 0.0
    assert shifted.loc["Δalpha", "median"] == pytest.approx(0.1, abs=0.01) and shifted.loc["Δalpha", "p_outside"] == 1.0
    assert same.loc["Δalpha", "tolerance"] == DEFAULT_TOLERANCE["alpha"]
    assert same.loc["ΔE", "tolerance"] == pytest.approx(DEFAULT_TOLERANCE["E_rel"] * PUB["E"], rel=1e-3)
    # the loss gap at 100x the largest run is the true gap of the simulated law (the draws' centre)
    for table, shift in ((same, 0.0), (shifted, 0.1)):
        gap = table.loc["loss gap"]
        n, d = gap["target_params"], gap["target_tokens"]
        truth = dict(PUB, A=PUB["A"] * 1e9**shift, alpha=PUB["alpha"] + shift)
        true_gap = chinchilla_loss(n, d, **truth) / chinchilla_loss(n, d, **PUB) - 1
        assert gap["lower"] <= true_gap <= gap["upper"], (shift, true_gap, gap.to_dict())


def test_prior_data_conflict_reads_the_runs_only():
    ok = prior_data_conflict(_fake())
    assert ok["flag"] == "none" and ok["p_value"] > 0.1 and ok["n_runs"] == 12
    far = prior_data_conflict(_fake(alpha_shift=0.5, seed=2))
    assert far["flag"] == "strong" and far["p_value"] < 0.01
    assert far["message"].startswith("Strong prior-data conflict (p = ")
    assert far["worst_run"] in range(12)


def test_exceedance_of_a_fake_fit_matches_its_predictive_quantiles(fake_fit):
    t = pd.DataFrame({"params": [7e10], "tokens": [1.4e12]})
    pred = fake_fit.predict(t, prob=0.9)
    lo, hi, med = pred.loc[0, "loss_lower"], pred.loc[0, "loss_upper"], pred.loc[0, "loss_median"]
    assert exceedance(fake_fit, t, lo).loc[0, "p_exceed"] == pytest.approx(0.95, abs=0.002)
    assert exceedance(fake_fit, t, hi).loc[0, "p_exceed"] == pytest.approx(0.05, abs=0.002)
    assert exceedance(fake_fit, t, med).loc[0, "p_exceed"] == pytest.approx(0.5, abs=0.002)
    ex = exceedance(fake_fit, t, hi)
    assert 0 < ex.loc[0, "expected_shortfall"] < ex.loc[0, "mean_excess_if_missed"]
    with pytest.raises(ValueError, match="threshold must be a positive loss in nats/token, got -1"):
        exceedance(fake_fit, t, -1)


def test_risk_table_of_a_fake_fit(fake_fit):
    t = pd.DataFrame({"params": [7e10, 1e10], "tokens": [1.4e12, 2e11]})
    table = risk_table(fake_fit, t, threshold=2.0)
    assert {"loss_median", "p_exceed", "expected_shortfall", "loss_gap_median", "p_departure", "conflict_p"} <= set(table)
    assert (table["conflict_p"] > 0.1).all()  # the runs follow a law close to Besiroglu et al. (2024)
    assert table["p_exceed"].iloc[1] > table["p_exceed"].iloc[0]  # the smaller model misses 2.0 more often
