"""Issue 3: hierarchical transfer, new-domain forecasts and transfer risk with known answers."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import bayes_scaling as bs
from bayes_scaling.laws import chinchilla_loss
from bayes_scaling.risk import departures, exceedance, prior_data_conflict, risk_table

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


def test_new_domain_forecast_needs_a_hierarchy(small_fit):
    fit, _ = small_fit
    with pytest.raises(bs.RunsTableError, match="^domain 'elsewhere' is not in this fit: this fit has a single "
                       "domain and no hierarchy, so it cannot forecast another domain; use domain '"):
        fit.predict(pd.DataFrame({"params": [1e9], "tokens": [2e10], "domain": ["elsewhere"]}))


def test_new_domain_spread_follows_effect_order_and_shared_effects():
    """tau is indexed by domain effect (logE, tN, s, tD, a), not by parameter (logE, tN, tD, s, a);
    effects shared by all fitted domains stay shared for a new domain."""
    from types import SimpleNamespace

    from bayes_scaling.predict import _new_domain_draws

    law = bs.laws.get_law("chinchilla")
    s = 20000
    tau = np.array([0.3, 0.5, 0.1, 0.4, 0.05])  # effect order
    draws = {"mu": np.zeros((s, 5)), "tau": np.tile(tau, (s, 1)), "s_mu": np.full(s, np.log(0.01))}
    stub = SimpleNamespace(hierarchical=True, law=law, varying=("logE", "tN", "s"), n_draws=s,
                           posterior={"posterior": SimpleNamespace(data_vars=set(draws))},
                           _flat=lambda name: draws[name])
    theta, sigma = _new_domain_draws(stub, np.random.default_rng(0))
    sd = dict(zip(law.params, theta.std(0), strict=True))
    assert sd["logE"] == pytest.approx(0.3, rel=0.03)
    assert sd["tN"] == pytest.approx(0.5, rel=0.03)
    assert sd["s"] == pytest.approx(0.1, rel=0.03)
    assert sd["tD"] == 0.0 and sd["a"] == 0.0
    assert sigma.shape == (s,)


@pytest.mark.slow
def test_far_extrapolation_warns_once_with_the_numbers(small_fit):
    fit, runs = small_fit
    targets = pd.DataFrame({"params": [1e10, 1e15], "tokens": [2e11, 2e11]})
    with pytest.warns(bs.ExtrapolationWarning) as rec:
        fit.predict(targets)
    msgs = [str(w.message) for w in rec if issubclass(w.category, bs.ExtrapolationWarning)]
    assert msgs == [
        "1 target(s) lie more than 1000x beyond the largest run in 'params' (largest run 5e+09, target up to 1e+15, "
        "5.3 decades): the forecast rests on the law's form alone; treat its interval as a lower bound on the "
        "uncertainty."
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("error", bs.ExtrapolationWarning)
        fit.predict(targets.iloc[:1])  # 2x beyond: no warning


@pytest.mark.slow
def test_next_run_prefers_the_informative_candidate(small_fit):
    """A run near the target shrinks its interval more than a repeat of the smallest run; ranking and
    columns are as documented, and the same seed gives the same table."""
    from bayes_scaling.value_of_information import next_run

    fit, runs = small_fit
    cands = pd.DataFrame({"params": [5e7, 2e10], "tokens": [2.5e8, 4e11], "label": ["repeat smallest", "near target"]})
    target = {"params": 7e10, "tokens": 1.4e12}
    out = next_run(fit, cands, target, rank_by="shrinkage", random_seed=0, n_sims=32)
    assert list(out["label"]) == ["near target", "repeat smallest"]
    assert list(out["rank"]) == [1, 2]
    near = out.set_index("label").loc["near target"]
    small = out.set_index("label").loc["repeat smallest"]
    assert near["shrinkage"] > 0.2 * near["width_now"]  # at least a fifth of the interval
    assert abs(small["shrinkage"]) < 0.1 * small["width_now"]
    assert np.allclose(out["shrinkage"], out["width_now"] - out["width_after"])
    again = next_run(fit, cands, target, rank_by="shrinkage", random_seed=0, n_sims=32)
    pd.testing.assert_frame_equal(out, again)
