"""bayes_scaling.risk (issue 3): transfer risk with known answers — exceedance, departures from the published law,
prior-data conflict and the risk table; on fake fits, and on real fits with the published prior (slow)."""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import bayes_scaling as bs
from conftest import TRUTH, make_fake_fit

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
    # alpha 1.05, three times the published 0.35: beyond the exponent's between-study spread (priors.BETWEEN_STUDY)
    far = _fit(simulate(alpha_shift=0.7, seed=2))
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
    # the risk table is the functions it summarises; inside the runs' range (no model-form error beyond them)
    # its gap is departures()' loss gap of the same draws
    inside = pd.DataFrame({"params": [1e9], "tokens": [4e10]})
    table = risk_table(fit_same, inside, threshold=float(pred.loc[0, "loss_median"]))
    ex = exceedance(fit_same, inside, float(pred.loc[0, "loss_median"]))
    assert table.loc[0, "p_exceed"] == ex.loc[0, "p_exceed"]
    assert table.loc[0, "expected_shortfall"] == ex.loc[0, "expected_shortfall"]
    # and carries how far a miss lands (the CLI's table did not have it)
    assert table.loc[0, "mean_excess_if_missed"] == ex.loc[0, "mean_excess_if_missed"] > 0
    gap = departures(fit_same, targets=inside).set_index("quantity").loc["loss gap"]
    assert table.loc[0, "loss_gap_median"] == pytest.approx(gap["median"], rel=1e-12)
    assert table.loc[0, "p_departure"] == gap["p_outside"]
    assert table.loc[0, "conflict_p"] == prior_data_conflict(fit_same)["p_value"]


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
    # alpha 1.05, three times the published 0.35: beyond the exponent's between-study spread (0.5 in log,
    # priors.BETWEEN_STUDY); 0.85 (alpha_shift 0.5) lies within it and is not flagged
    far = prior_data_conflict(_fake(alpha_shift=0.7, seed=2))
    assert far["flag"] == "strong" and far["p_value"] < 0.01
    expected = "p < 0.001" if far["p_value"] < 1e-3 else f"p = {far['p_value']:.2g}"
    assert far["message"].startswith(f"Strong prior-data conflict ({expected}): ")
    from bayes_scaling.display import format_p_value  # a chi-square tail that underflows to 0 is not 'p = 0'
    assert [format_p_value(0.0), format_p_value(9.9e-4), format_p_value(0.034)] == ["p < 0.001", "p < 0.001",
                                                                                     "p = 0.034"]
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


def test_a_threshold_far_above_the_runs_is_asked_about_as_a_perplexity(fake_fit):
    # '--threshold 30' (a perplexity) ran silently and reported P(exceed) = 0.00025 (a fresh user)
    t = pd.DataFrame({"params": [7e10], "tokens": [1.4e12]})
    mid = fake_fit.runs["loss"].median()  # the median: over-fitted runs at 11 nats/token let a perplexity of 12 through
    with pytest.warns(UserWarning) as rec:
        exceedance(fake_fit, t, 30.0)
    assert [str(r.message) for r in rec] == [
        f"threshold 30 is {30 / mid:.1f}x the median loss of the runs ({mid:.3g} nats/token): is it a perplexity or "
        "in other units? The threshold is a loss in nats/token (a perplexity p is ln p nats/token: 30 -> 3.4)."]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        exceedance(fake_fit, t, 2.0)  # a loss near the runs': no question


def test_an_expected_shortfall_that_rests_on_a_few_draws_is_warned_about(fake_fit, monkeypatch):
    # 3.04 nats beyond a threshold of 1.45 whose 90 % interval ended at 2.38, at 1e27 FLOPs (a fresh user): the mean of a
    # far forecast's heavy tail
    import bayes_scaling.risk as risk_module

    s = 4000
    heavy = np.log(np.r_[np.full(s - 40, 2.0), np.full(40, 1000.0)])[:, None]  # 1 % of the draws far out
    light = np.log(np.linspace(1.5, 2.5, s))[:, None]
    t = pd.DataFrame({"params": [7e10, 1e10], "tokens": [1.4e12, 2e11]})
    monkeypatch.setattr(risk_module, "keyed_predictive_draws",
                        lambda fit, rows, dom, seed, noise="student_t": (None, np.hstack([heavy, light])[:, :len(rows)]))
    with pytest.warns(UserWarning) as rec:
        ex = exceedance(fake_fit, t, 1.9)
    assert [str(r.message) for r in rec] == [
        "the expected_shortfall of 1 target(s) (70B x 1.4T) rests on the most extreme 1 % of the forecast's draws (they "
        "give more than 50% of it): far beyond the runs the forecast's tail is the model-form error's, and a mean there "
        "is not a stable number; read p_exceed and the interval instead."]
    assert ex.loc[0, "expected_shortfall"] == pytest.approx(0.99 * 0.1 + 0.01 * 998.1)
    assert ex.loc[1, "expected_shortfall"] == pytest.approx(np.maximum(np.linspace(1.5, 2.5, s) - 1.9, 0).mean())


def test_risk_table_of_a_fake_fit(fake_fit):
    t = pd.DataFrame({"params": [7e10, 1e10], "tokens": [1.4e12, 2e11]})
    table = risk_table(fake_fit, t, threshold=2.0)
    assert {"loss_median", "p_exceed", "expected_shortfall", "loss_gap_median", "p_departure", "conflict_p"} <= set(table)
    assert (table["conflict_p"] > 0.1).all()  # the runs follow a law close to Besiroglu et al. (2024)
    assert table["p_exceed"].iloc[1] > table["p_exceed"].iloc[0]  # the smaller model misses 2.0 more often


# ----------------------------------------------------------------------------- known answers (issue 17 item 4)


def _point_fit(fit, sigma: float):
    """A copy of a fake fit whose every draw is the known law (TRUTH) with noise scale ``sigma``: one new run's log
    loss at a target is then exactly normal, N(log L_true, sigma^2), and P(miss) has a closed form."""
    law = fit.law
    cat = {"logA": np.log(TRUTH["A"]), "logB": np.log(TRUTH["B"]), "logE": np.log(TRUTH["E"]), "alpha": TRUTH["alpha"],
           "beta": TRUTH["beta"]}
    th = law.from_catalog(cat, fit.refs)
    tree = fit.posterior.copy(deep=True)
    post = tree["posterior"].to_dataset()
    post["theta"] = post["theta"] * 0 + np.array([float(th[k]) for k in law.theta_names])
    post["theta_pop"] = post["theta_pop"] * 0 + np.array([float(th[k]) for k in law.theta_names])
    post["sigma"] = post["sigma"] * 0 + sigma
    tree["posterior"] = post
    return dataclasses.replace(fit, posterior=tree)


TARGET = pd.DataFrame({"params": [7e10], "tokens": [1.4e12]})


def test_exceedance_equals_the_closed_form_of_a_lognormal_run(fake_fit):
    """log L ~ N(m, s^2): P(L > t) = Phi((m - log t) / s) and E[max(L - t, 0)] = e^(m + s^2/2) Phi(d + s) - t Phi(d)
    with d = (m - log t) / s (the Black-Scholes call value); tolerance: 4 Monte Carlo standard errors of the
    fit's 1000 draws."""
    sigma = 0.01
    fit = _point_fit(fake_fit, sigma)
    m = float(np.log(bs.laws.chinchilla_loss(7e10, 1.4e12, **TRUTH)))
    n = fit.n_draws
    for z in (-1.5, 0.0, 0.7):
        t = float(np.exp(m - z * sigma))
        d = (m - np.log(t)) / sigma
        p = stats.norm.cdf(d)
        es = np.exp(m + sigma**2 / 2) * stats.norm.cdf(d + sigma) - t * stats.norm.cdf(d)
        row = exceedance(fit, TARGET, t).iloc[0]
        assert row["p_exceed"] == pytest.approx(p, abs=4 * np.sqrt(p * (1 - p) / n)), z
        assert row["expected_shortfall"] == pytest.approx(es, abs=4 * np.exp(m) * sigma / np.sqrt(n)), z


def test_a_threshold_below_or_above_every_draw_gives_a_certain_answer(fake_fit):
    sigma = 0.01
    fit = _point_fit(fake_fit, sigma)
    true = float(bs.laws.chinchilla_loss(7e10, 1.4e12, **TRUTH))
    low = exceedance(fit, TARGET, true * np.exp(-10 * sigma)).iloc[0]  # 10 sd below: no draw of 1000 is under it
    assert low["p_exceed"] == 1.0
    # every run misses: the shortfall is the mean loss minus the threshold, e^(m + s^2/2) - t
    expected = true * np.exp(sigma**2 / 2) - true * np.exp(-10 * sigma)
    assert low["expected_shortfall"] == pytest.approx(expected, abs=4 * true * sigma / np.sqrt(fit.n_draws))
    assert low["mean_excess_if_missed"] == low["expected_shortfall"]
    high = exceedance(fit, TARGET, true * np.exp(10 * sigma)).iloc[0]
    assert high["p_exceed"] == 0.0 and high["expected_shortfall"] == 0.0 and np.isnan(high["mean_excess_if_missed"])


def test_risk_table_is_the_functions_it_summarises():
    """Each column of risk_table equals the function it summarises (fake fits: no discrepancy, no model-form
    error, so the expected-loss draws are the law's and departures() sees the same gap), for a domain on the
    published law and one whose alpha is 0.1 higher."""
    targets = pd.DataFrame({"params": [7e10, 1e9], "tokens": [1.4e12, 2e10]})
    for shift, seed in ((0.0, 0), (0.1, 1)):
        fit = _fake(alpha_shift=shift, seed=seed)
        table = risk_table(fit, targets, threshold=2.2)
        pd.testing.assert_frame_equal(table[list(fit.predict(targets))], fit.predict(targets))
        ex = exceedance(fit, targets, 2.2)
        for col in ("threshold", "p_exceed", "expected_shortfall"):
            np.testing.assert_array_equal(table[col].to_numpy(), ex[col].to_numpy())
        assert (table["conflict_p"] == prior_data_conflict(fit)["p_value"]).all()
        assert (table["departure_tolerance"] == DEFAULT_TOLERANCE["loss_gap_rel"]).all()
        for i in range(len(targets)):
            gap = departures(fit, targets=targets.iloc[[i]]).set_index("quantity").loc["loss gap"]
            row = table.iloc[i]
            assert row["loss_gap_median"] == pytest.approx(gap["median"], rel=1e-12, abs=1e-15)
            assert row["loss_gap_lower"] == pytest.approx(gap["lower"], rel=1e-12, abs=1e-15)
            assert row["loss_gap_upper"] == pytest.approx(gap["upper"], rel=1e-12, abs=1e-15)
            assert row["p_departure"] == gap["p_outside"]


def test_risk_table_gap_has_the_known_answer():
    """On the published law: no gap (|median| below the draws' jitter, 0.5 %) and P(departure) = 0; alpha 0.1
    higher (A kept equal at N = 1e9): the gap at N = 1e8 is the true gap of the two laws (within 0.5 %) and,
    more than twice the 2 % tolerance, P(departure) = 1."""
    t = pd.DataFrame({"params": [7e10, 1e8], "tokens": [1.4e12, 2e9]})
    same = risk_table(_fake(), t, threshold=2.0)
    assert (same["loss_gap_median"].abs() < 0.005).all() and (same["p_departure"] == 0.0).all()
    shifted = risk_table(_fake(alpha_shift=0.1, seed=1), t, threshold=2.0).iloc[1]
    truth = dict(PUB, A=PUB["A"] * 1e9**0.1, alpha=PUB["alpha"] + 0.1)
    true_gap = chinchilla_loss(1e8, 2e9, **truth) / chinchilla_loss(1e8, 2e9, **PUB) - 1
    assert true_gap > 2 * DEFAULT_TOLERANCE["loss_gap_rel"]  # below N = 1e9 the steeper N term costs loss
    assert shifted["loss_gap_median"] == pytest.approx(true_gap, abs=0.005) and shifted["p_departure"] == 1.0


def test_expected_shortfall_stays_finite_with_the_heavy_tails_that_many_run_fits_learn(fake_fit):
    """A fresh user's `risk` on OpenLM c4_val runs printed an expected shortfall of 3.29e14 nats/token: the fit's
    Student-t tail weight was 0.65-2.3, and E[exp(sigma t)] is infinite for any tail weight. P(miss) keeps the
    Student-t; the two means take a normal noise with its 90 % interval (predict.predictive_draws)."""
    sigma, nu = 0.015, 0.8
    fit = _point_fit(fake_fit, sigma)
    tree = fit.posterior.copy(deep=True)
    post = tree["posterior"].to_dataset()
    post["nu_dom"] = post["nu_dom"] * 0 + nu
    tree["posterior"] = post
    fit = dataclasses.replace(fit, posterior=tree)
    m = float(np.log(bs.laws.chinchilla_loss(7e10, 1.4e12, **TRUTH)))
    t = float(np.exp(m + 0.01))
    row = exceedance(fit, TARGET, t).iloc[0]
    # P(miss): the Student-t's, P(t_nu > 0.01 / sigma), with the forecast's tail weight (at least 1, a Cauchy)
    nu = max(nu, bs.predict.FORECAST_MIN_TAIL_WEIGHT)
    assert nu == 1.0
    p = stats.t.sf(0.01 / sigma, nu)
    assert row["p_exceed"] == pytest.approx(p, abs=4 * np.sqrt(p * (1 - p) / fit.n_draws))
    # the shortfall: the closed form of a lognormal run with the matched scale
    s = sigma * stats.t.ppf(0.95, nu) / stats.norm.ppf(0.95)
    d = (m - np.log(t)) / s
    es = np.exp(m + s**2 / 2) * stats.norm.cdf(d + s) - t * stats.norm.cdf(d)
    assert row["expected_shortfall"] == pytest.approx(es, rel=0.15)
    assert row["expected_shortfall"] < 0.2 and row["mean_excess_if_missed"] < 0.5
    # the Student-t draws themselves have no mean in loss space: their Monte Carlo mean is set by the largest draw;
    # the largest are held at e^20 times the expected loss, so exp() stays finite (no overflow warning)
    mean, new = bs.predict.predictive_draws(fit, TARGET, fit.domains[0], np.random.default_rng(0))
    assert np.exp(new).max() > 10 * np.exp(m)
    post["nu_dom"] = post["nu_dom"] * 0 + 0.3  # a fitted tail weight of 0.3 is forecast with 1, as 0.8 was
    tree["posterior"] = post
    heavier = dataclasses.replace(fit, posterior=tree)
    _, new_heavier = bs.predict.predictive_draws(heavier, TARGET, fit.domains[0], np.random.default_rng(0))
    np.testing.assert_array_equal(new_heavier, new)
    # a Cauchy with a noise scale of 0.5 puts some of 1000 draws beyond e^20: held there, exp() stays finite
    wide = _point_fit(fake_fit, 0.5)
    wtree = wide.posterior.copy(deep=True)
    wpost = wtree["posterior"].to_dataset()
    wpost["nu_dom"] = wpost["nu_dom"] * 0 + 1.0
    wtree["posterior"] = wpost
    wide = dataclasses.replace(wide, posterior=wtree)
    mean, new = bs.predict.predictive_draws(wide, TARGET, wide.domains[0], np.random.default_rng(0))
    assert np.abs(new - mean).max() == bs.predict.RUN_NOISE_CLIP and np.isfinite(np.exp(new)).all()


def test_prior_data_conflict_names_the_domains_for_one_it_has_no_runs_of(fake_hier_fit):
    # "attempt to get argmax of an empty sequence" was all a fresh user read for 'rpj' and '(new domain)'
    own = ", ".join(fake_hier_fit.domains)
    with pytest.raises(bs.RunsTableError) as exc:
        prior_data_conflict(fake_hier_fit, "unseen")
    assert str(exc.value) == (f"domain 'unseen' has no runs in this fit, so there is nothing to compare with the prior; "
                              f"give one of its domains ({own}).")
    near = fake_hier_fit.domains[0][:-1]
    with pytest.raises(bs.RunsTableError, match=f"; did you mean '{fake_hier_fit.domains[0]}'\\?$"):
        prior_data_conflict(fake_hier_fit, near)


def test_a_mean_excess_of_a_few_missing_draws_is_warned_about(fake_fit):
    # 3.66 nats of excess from 16 of 4000 draws, at a threshold above every run, without a word (a fresh user)
    sigma = 0.01
    fit = _point_fit(fake_fit, sigma)
    true = float(bs.laws.chinchilla_loss(7e10, 1.4e12, **TRUTH))
    with pytest.warns(UserWarning) as rec:
        row = exceedance(fit, TARGET, true * np.exp(2.6 * sigma)).iloc[0]  # ~0.5 % of the draws miss
    k = int(round(row["p_exceed"] * fit.n_draws))
    assert 0 < k < 100
    assert [str(r.message) for r in rec if "mean_excess_if_missed" in str(r.message)] == [
        f"the mean_excess_if_missed of 1 target(s) (70B x 1.4T: {k} draws) rests on fewer than 100 of the forecast's "
        "draws, those that miss the threshold: a mean of a few draws far in the tail, not a stable number; read "
        "p_exceed instead."]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        exceedance(fit, TARGET, true)  # half the draws miss


def test_no_prior_data_conflict_says_how_far_the_runs_lie_from_the_published_law(fake_fit):
    # "consistent with the published law" read as a contradiction next to a +49 % departure (a fresh user's PTB domain)
    fit = dataclasses.replace(fake_fit, runs=fake_fit.runs.assign(loss=fake_fit.runs["loss"] * 1.3))
    res = prior_data_conflict(fit)
    pub = chinchilla_loss(fit.runs["params"], fit.runs["tokens"], **PUB)
    gap = float(np.median(fit.runs["loss"] / pub)) - 1
    assert res["flag"] == "none" and res["message"] == (
        f"No prior-data conflict (p = 1): the runs of 'default' lie {gap:+.0%} from the published law (besiroglu2024) at "
        "their sizes (median), within the usual spread between data sets, so they are no surprise for a new domain.")
    assert 0.2 < gap < 0.3
    # beyond the middle half of the prior's shifts, the spread it allows is said in numbers (a fresh user read "-80 %,
    # within the usual spread" beside the report's "often by 10-20 %")
    far = prior_data_conflict(dataclasses.replace(fake_fit, runs=fake_fit.runs.assign(loss=fake_fit.runs["loss"] * 0.7)))
    assert far["message"].endswith(" lie -32% from the published law (besiroglu2024) at their sizes (median), which the "
                                   "prior allows a new domain (90 % of its curves lie -56% to +125% from the published "
                                   "law), so the check finds no surprise.")


def test_prior_data_conflict_says_when_an_exponent_lies_outside_the_published_prior(fake_fit, monkeypatch):
    """28 recipes at -17 % from the published law got "no surprise" while each one's alpha (0.10-0.15) lay below the
    prior's 0.16-0.79 for a new domain (a fresh user): the exponents are what far forecasts rest on."""
    res = prior_data_conflict(fake_fit)
    assert res["exponents_outside_prior"] == [] and "But the runs put" not in res["message"]
    th = fake_fit.theta(fake_fit.default_domain).copy()
    j = fake_fit.law.theta_names.index("s")  # the mean exponent (alpha + beta) / 2: both exponents far below
    th[:, j] = np.log(np.linspace(0.01, 0.02, len(th)))
    monkeypatch.setattr(fake_fit, "theta", lambda domain=None: th)
    res = prior_data_conflict(fake_fit)
    assert [x.split(" at ")[0] for x in res["exponents_outside_prior"]] == ["alpha", "beta"]
    assert all("(below the published prior's " in x for x in res["exponents_outside_prior"])
    assert res["message"].endswith(f" But the runs put {' and '.join(res['exponents_outside_prior'])}: their slope is "
                                   "unusual for the published law, and forecasts far beyond the runs rest on it.")


def test_exceedance_takes_a_threshold_as_text_and_refuses_what_is_not_a_number(fake_fit):
    # "3.0" from a widget gave numpy's "ufunc 'isfinite' not supported for the input types" (a fresh user)
    t = pd.DataFrame({"params": [1e9], "tokens": [2e10]})
    np.testing.assert_array_equal(exceedance(fake_fit, t, "2.5")["p_exceed"], exceedance(fake_fit, t, 2.5)["p_exceed"])
    with pytest.raises(ValueError, match=r"^threshold must be a positive loss in nats/token, got 'low'\.$"):
        exceedance(fake_fit, t, "low")


def test_risk_table_gap_of_a_row_does_not_move_with_the_rows_before_it(fake_hier_fit):
    # the gap's draws came from one generator run through the rows in order: a new domain's gap at a target moved
    # when a row was put before it (predict's own columns are keyed per row and did not)
    a = pd.DataFrame({"params": [1e10], "tokens": [2e11], "domain": ["unseen"]})
    b = pd.DataFrame({"params": [7e10], "tokens": [1.4e12], "domain": ["unseen"]})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        alone = risk_table(fake_hier_fit, b, threshold=2.0).iloc[0]
        after = risk_table(fake_hier_fit, pd.concat([a, b], ignore_index=True), threshold=2.0).iloc[1]
    cols = ["loss_gap_median", "loss_gap_lower", "loss_gap_upper", "p_departure", "mean_loss_median"]
    assert alone[cols].to_dict() == after[cols].to_dict()
    # and the gap is that of predict's expected loss
    l_pub = alone["mean_loss_median"] / (1 + alone["loss_gap_median"])
    assert l_pub == pytest.approx(float(np.exp(fake_hier_fit.law.log_loss(
        fake_hier_fit.law.inputs(b, fake_hier_fit.refs),
        dict(zip(fake_hier_fit.law.theta_names, fake_hier_fit.published_theta(), strict=True)), np))[0]), rel=1e-9)


def test_the_departures_reference_run_raises_no_frontier_warnings(fake_hier_fit, monkeypatch):
    # the loss gap is measured at 100x each domain's largest run, a budget of the package's choosing: the frontier's
    # note on the discrepancy's allocation was said again at it, a budget a fresh user never asked for
    import bayes_scaling.decisions as dec

    monkeypatch.setattr(dec, "discrepancy_of", lambda fit, domain, draws=None: (lambda x: -0.02 * x["params"])
                        if domain in fit.domains else None)
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        dep = departures(fake_hier_fit)
    assert [str(w.message) for w in rec] == []
    assert set(dep["domain"]) == set(fake_hier_fit.domains) and "loss gap" in set(dep["quantity"])
    # the frontier a user asks for at that budget still says it
    flops = 100 * float(fake_hier_fit.own_runs("code")["flops"].max())
    with pytest.warns(UserWarning, match=r"^the loss the forecasts use of domain 'code'"):
        dec.frontier(fake_hier_fit, [flops], domain="code")


def _tokens_only_runs() -> pd.DataFrame:
    """Fine-tuning-like curves of a law of D alone (E + A / D^alpha), two models, no 'params' column."""
    d = np.geomspace(1e5, 4e8, 12)
    rows = [pd.DataFrame({"domain": name, "tokens": d, "loss": e + 40.0 / d**0.25})
            for name, e in (("small", 2.2), ("large", 1.9))]
    return pd.concat(rows, ignore_index=True)


def test_a_law_of_tokens_alone_needs_no_params_column():
    # a fresh user's fine-tuning curves (SLDBench's rectified split, `--law power_tokens`): the runs check crashed with
    # "['params'] not in index", then the model-form error's split, then the report's risk step with "flops"
    from bayes_scaling.extrapolation import leave_future_out
    from bayes_scaling.risk import default_departure_target

    runs = _tokens_only_runs()
    inputs = bs.ScalingLaw(law="power_tokens").inputs(runs)
    assert len(inputs.runs) == 24 and "params" not in inputs.runs
    held = leave_future_out(inputs.runs)  # each model's top third in D
    assert held.sum() == 8 and np.all(inputs.runs.loc[held, "tokens"] > 2e7)
    fit = make_fake_fit(runs, law_name="power_tokens", prior="besiroglu2024_tokens", tau=(0.1, 0.3, 0.1))
    target = default_departure_target(fit, "small")
    assert list(target.columns) == ["tokens"] and target["tokens"].iloc[0] == pytest.approx(4e9)
    dep = departures(fit)
    # no ΔE: a one-variable law's E holds the other term, and the prior table shows no published E for it
    assert set(dep["quantity"]) == {"Δalpha", "loss gap"} and dep["target_params"].isna().all()
    # -65 % from the published law was "within the usual spread between data sets", beside "often by 10-20 %"
    assert prior_data_conflict(fit, "small")["message"] == (
        "No prior-data conflict (p = 0.8): the runs of 'small' lie -65% from the published law (besiroglu2024_tokens) "
        "at their sizes (median), further than 90 % of the prior's curves for a new domain (-59% to +133%; a law of one "
        "variable leaves E weak: it holds the other term), but the runs as a whole (their shape and scatter) are not "
        "unusual for it, so the check finds no conflict.")


def test_risk_warnings_name_a_tokens_only_target_by_its_tokens():
    # `bayes-scaling risk` on a tokens-only fit stopped with "error: params" when a target's tail was thin (the
    # warning named targets as "N x D")
    fit = make_fake_fit(_tokens_only_runs(), law_name="power_tokens", prior="besiroglu2024_tokens", tau=(0.1, 0.3, 0.1))
    t = pd.DataFrame({"tokens": [1e9], "domain": ["small"]})
    threshold = float(fit.predict(t)["loss_upper"].iloc[0])
    with pytest.warns(UserWarning, match=r"the mean_excess_if_missed of 1 target\(s\) \(1B tokens: \d+ draws\)"):
        out = exceedance(fit, t, threshold)
    assert 0 < out["p_exceed"].iloc[0] < 0.1


def test_a_law_of_one_variable_reads_no_tokens_per_parameter():
    # the same user's 'params' column beside the tokens: "are 'params' and 'tokens' swapped?" on every fit, runs
    # "fitted all the same" below one token per parameter, and targets warned about as under-trained
    runs = _tokens_only_runs().assign(params=np.where(_tokens_only_runs()["domain"] == "small", 1.24e8, 7e9))
    spec = bs.ScalingLaw(law="power_tokens")
    assert spec.min_tokens_per_param == 0.0 and bs.ScalingLaw().min_tokens_per_param == 1.0
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        inputs = spec.inputs(runs)
    assert [str(w.message) for w in rec if "tokens per parameter" in str(w.message) or "swapped" in str(w.message)] == []
    assert inputs.runs_left_out == 0 and not inputs.notes
    with pytest.warns(UserWarning, match=r"^min_tokens_per_param=5 is ignored: the law 'power_tokens' reads tokens "
                                         r"alone, not tokens per parameter\.$"):
        bs.ScalingLaw(law="power_tokens", min_tokens_per_param=5)
    # a size the law does not read is not checked, nor used: targets of a law of N alone carried tokens = 1e3 and were
    # refused as "tokens per parameter or billions of tokens"
    by_size = make_fake_fit(_tokens_only_runs().rename(columns={"tokens": "params"}), law_name="power_params",
                            prior="besiroglu2024_params", tau=(0.1, 0.3, 0.1))
    out = by_size.predict(pd.DataFrame({"params": [1e10], "tokens": [1e3], "domain": ["small"]}))
    assert "flops" not in out and out["loss_median"].notna().all()
