"""bayes_scaling.predict: the forecast contract, new-domain forecasts, the discrepancy in forecasts, extrapolation
warnings and, on a real fit (slow), calibration on the largest Chinchilla runs."""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pandas as pd
import pytest

import bayes_scaling as bs
from bayes_scaling import scoring
from bayes_scaling.extrapolation import ExtrapolationPrior
from bayes_scaling.predict import FORECAST_COLUMNS, discrepancy_draws, predict, predictive_draws, prepare_targets


def test_predict_contract_and_flops_input(fake_fit):
    fit = fake_fit
    t = pd.DataFrame({"params": [1e9, 1e10], "flops": [6 * 1e9 * 2e10, 6 * 1e10 * 2e11]})
    out = fit.predict(t, prob=0.8)
    for col in ("params", "flops", "tokens", "loss_median", "loss_lower", "loss_upper", "mean_loss_lower", "mean_loss_upper"):
        assert col in out.columns
    np.testing.assert_allclose(out["tokens"], [2e10, 2e11])
    assert np.all(out["loss_lower"] < out["loss_median"]) and np.all(out["loss_median"] < out["loss_upper"])
    assert np.all(out["mean_loss_lower"] >= out["loss_lower"]) and np.all(out["mean_loss_upper"] <= out["loss_upper"])
    wide = fit.predict(t, prob=0.95)
    assert np.all(wide["loss_upper"] - wide["loss_lower"] > out["loss_upper"] - out["loss_lower"])
    assert set(FORECAST_COLUMNS) <= set(out) and out.attrs == {"prob": 0.8, "interval_kind": "eti"}
    assert (out["domain_kind"] == "fitted").all()


def test_extra_probs_add_the_intervals_of_other_levels_from_the_same_draws(fake_fit):
    # a fresh user called predict twice for a report's 90 % and 50 % intervals
    t = pd.DataFrame({"params": [1e9, 7e10], "tokens": [2e10, 1.4e12]})
    both = predict(fake_fit, t, extra_probs=[0.5, 0.99])
    pd.testing.assert_frame_equal(both[list(predict(fake_fit, t).columns)], predict(fake_fit, t))  # the 90 % unchanged
    added = ["loss_lower_50", "loss_upper_50", "mean_loss_lower_50", "mean_loss_upper_50",
             "loss_lower_99", "loss_upper_99", "mean_loss_lower_99", "mean_loss_upper_99"]
    assert list(both.columns) == list(t.columns) + ["flops", "domain", *FORECAST_COLUMNS, *added, "domain_kind"]
    assert both.attrs["extra_probs"] == [0.5, 0.99]
    half = predict(fake_fit, t, prob=0.5)  # each level's columns are that level's interval, from the same draws
    for c in ("loss_lower", "loss_upper", "mean_loss_lower", "mean_loss_upper"):
        np.testing.assert_array_equal(both[f"{c}_50"], half[c])
    assert np.all(both["loss_lower_99"] < both["loss_lower"]) and np.all(both["loss_lower"] < both["loss_lower_50"])
    assert np.all(both["loss_upper_50"] < both["loss_upper"]) and np.all(both["loss_upper"] < both["loss_upper_99"])
    assert list(predict(fake_fit, t, extra_probs=0.5).columns) == list(both.columns[:-5]) + ["domain_kind"]
    with pytest.raises(ValueError, match=r"extra_probs \[0.5, 0.5\] repeat a probability \(prob is 0.9\)"):
        predict(fake_fit, t, extra_probs=[0.5, 0.5])
    with pytest.raises(ValueError, match="repeat a probability"):
        predict(fake_fit, t, extra_probs=[0.9])
    with pytest.raises(ValueError, match="between 0 and 1"):
        predict(fake_fit, t, extra_probs=[50])
    pd.testing.assert_frame_equal(predict(fake_fit, t, extra_probs=None), predict(fake_fit, t))  # None: no extra level
    with pytest.warns(UserWarning, match="a 0.999 interval from"):  # the widest level's tails are the thin ones
        predict(fake_fit, t, extra_probs=[0.999])


def test_forecast_is_the_known_law_with_its_noise(fake_fit):
    """Draws centred on the law E=1.8, A=480, B=2000, alpha=0.35, beta=0.37: the median forecast is that law."""
    t = pd.DataFrame({"params": [1e9, 7e10], "tokens": [2e10, 1.4e12]})
    out = predict(fake_fit, t)
    truth = bs.laws.chinchilla_loss(t["params"], t["tokens"], E=1.8, A=480.0, B=2000.0, alpha=0.35, beta=0.37)
    np.testing.assert_allclose(out["mean_loss_median"], truth, rtol=2e-3)
    # one new run adds noise of sd ~0.005 in log loss (the fake's sigma): the new-run interval is wider
    assert np.all(out["loss_upper"] - out["loss_lower"] > out["mean_loss_upper"] - out["mean_loss_lower"])


def test_the_same_seed_gives_the_same_forecast_and_hdi_is_offered(fake_fit):
    t = pd.DataFrame({"params": [1e10], "tokens": [2e11]})
    pd.testing.assert_frame_equal(predict(fake_fit, t), predict(fake_fit, t))
    other = predict(fake_fit, t, random_seed=99)
    assert other["loss_lower"].iloc[0] != predict(fake_fit, t)["loss_lower"].iloc[0]  # noise draws differ
    assert other["mean_loss_median"].iloc[0] == predict(fake_fit, t)["mean_loss_median"].iloc[0]  # the law does not
    hdi = predict(fake_fit, t, kind="hdi")
    assert hdi.attrs["interval_kind"] == "hdi" and hdi["loss_lower"].iloc[0] < hdi["loss_upper"].iloc[0]
    with pytest.raises(ValueError, match="interval kind must be 'eti' or 'hdi', not 'x'"):
        predict(fake_fit, t, kind="x")


def test_new_domain_forecast_needs_a_hierarchy(fake_fit):
    with pytest.raises(bs.RunsTableError, match="^domain 'elsewhere' is not in this fit: this fit has a single "
                       "domain and no hierarchy, so it cannot forecast another domain; use domain '"):
        fake_fit.predict(pd.DataFrame({"params": [1e9], "tokens": [2e10], "domain": ["elsewhere"]}))


def test_new_domain_forecast_is_the_wider_population_predictive(fake_hier_fit):
    t = pd.DataFrame({"params": [7e10, 7e10], "tokens": [1.4e12, 1.4e12], "domain": ["books", "unseen"]})
    out = predict(fake_hier_fit, t)
    assert out["domain_kind"].tolist() == ["fitted", "new_domain"]
    width = out["loss_upper"] - out["loss_lower"]
    assert width.iloc[1] > 3 * width.iloc[0]
    with pytest.raises(bs.RunsTableError, match="several domains; say which one: a 'domain' column in the targets, or domain=NAME"):
        predict(fake_hier_fit, t[["params", "tokens"]])
    filled = prepare_targets(fake_hier_fit, t[["params", "tokens"]], domain="code")
    assert filled["domain"].tolist() == ["code", "code"]


def test_a_new_runs_interval_contains_the_expected_loss_interval(fake_hier_fit):
    # a new domain: wide spread, small run-to-run noise; before, 17-21 of these 40 rows had one end of the new-run
    # interval inside the expected-loss interval (by up to 0.015 nats), a table no reader can make sense of
    n = np.geomspace(1e8, 7e10, 40)
    for dom in ("unseen", "books"):
        out = predict(fake_hier_fit, pd.DataFrame({"params": n, "tokens": 20 * n, "domain": dom}), random_seed=0)
        assert (out["loss_lower"] <= out["mean_loss_lower"]).all()
        assert (out["loss_upper"] >= out["mean_loss_upper"]).all()
        assert (out["loss_upper"] - out["loss_lower"] > 0).all()


def test_discrepancy_is_the_gp_on_the_runs_and_its_edge_value_beyond(fake_gp_fit):
    fit = fake_gp_fit
    basis = fit.bases["default"]
    x_in = fit.law.inputs(fit.runs.iloc[:3], fit.refs)
    top = fit.runs.loc[fit.runs["flops"].idxmax(), ["params", "tokens"]]
    far = pd.DataFrame({"params": [top["params"] * 10, top["params"] * 100], "tokens": [top["tokens"] * 10, top["tokens"] * 100]})
    x_far = fit.law.inputs(far, fit.refs)
    coef = fit.discrepancy_coefficients("default")
    np.testing.assert_allclose(discrepancy_draws(fit, "default", x_in), coef @ basis.psi(fit.law, x_in).T)
    d_far = discrepancy_draws(fit, "default", x_far)
    np.testing.assert_allclose(d_far[:, 0], d_far[:, 1])  # both far targets: the same corner of the runs' box
    corner = {v: np.array([c + h]) for v, c, h in zip(basis.variables, basis.centre, basis.half_range, strict=True)}
    np.testing.assert_allclose(d_far[:, 0], (coef @ basis.psi(fit.law, corner).T)[:, 0])
    mean, new = predictive_draws(fit, far, "default", np.random.default_rng(0))
    assert mean.shape == new.shape == (fit.n_draws, 2)


def test_the_model_form_error_grows_with_the_decades_beyond_the_runs(fake_fit):
    """Inside the runs' range nothing is added; beyond, a random slope per draw (kappa z) times the decades,
    the same in every call; its spread follows the prior (log kappa ~ N(m, s))."""
    prior = ExtrapolationPrior("test", np.log(0.02), 0.5)
    fit = dataclasses.replace(fake_fit, extrapolation=prior)
    top_n, top_d = fit.runs["params"].max(), fit.runs["tokens"].max()
    t = pd.DataFrame({"params": [top_n / 10, top_n * 10, top_n * 100], "tokens": [top_d / 10, top_d, top_d]})
    err = fit.extrapolation_error(t, "default")
    np.testing.assert_array_equal(err[:, 0], 0.0)
    # one decade beyond in N (and in compute), two decades: exactly twice the error of the same draw
    np.testing.assert_allclose(err[:, 2], 2 * err[:, 1])
    np.testing.assert_array_equal(err, fit.extrapolation_error(t, "default"))
    kappa_z = err[:, 1]
    s = len(kappa_z)
    # E|kappa z| = E kappa * sqrt(2/pi) with E kappa = exp(m + s^2/2)
    expected = np.exp(np.log(0.02) + 0.5**2 / 2) * np.sqrt(2 / np.pi)
    assert np.mean(np.abs(kappa_z)) == pytest.approx(expected, rel=4 / np.sqrt(s))
    base_mean, _ = predictive_draws(fake_fit, t, "default", np.random.default_rng(0))
    mean, _ = predictive_draws(fit, t, "default", np.random.default_rng(0))
    np.testing.assert_allclose(mean - base_mean, err, atol=1e-12)
    # updated by the fit's own runs up to 1.5 decades beyond them: the second decade beyond 1.5 is the population's
    # slope, in forecasts and in the frontier's allocation (decisions.extrapolation_of) alike
    own = ExtrapolationPrior("test + own runs", np.log(0.002), 0.2, details={
        "n_points": 9, "n_groups": 1, "max_distance": 1.5, "prior_log_kappa_mean": np.log(0.02),
        "prior_log_kappa_sd": 0.5})
    upd = dataclasses.replace(fake_fit, extrapolation=own)
    e2 = upd.extrapolation_error(t, "default")
    np.testing.assert_allclose(e2[:, 1], own.slopes(s, upd.random_seed))
    np.testing.assert_allclose(e2[:, 2], 1.5 * own.slopes(s, upd.random_seed) + 0.5 * kappa_z)
    from bayes_scaling.decisions import extrapolation_of
    np.testing.assert_allclose(extrapolation_of(upd, "default")(np.full(s, top_n * 100), np.full(s, top_d)), e2[:, 2])


def test_each_domain_drifts_on_its_own(fake_hier_fit):
    # shared by every domain, the drift cancelled from their comparison: a fresh user's report named one of three
    # isoFLOP recipes the lowest "in 99 % of the draws" 64x beyond the runs, where another was lower
    prior = ExtrapolationPrior("test", np.log(0.02), 0.5)
    fit = dataclasses.replace(fake_hier_fit, extrapolation=prior)
    a, b = fit.own_domains[:2]
    top_n, top_d = fit.runs["params"].max(), fit.runs["tokens"].max()
    t = pd.DataFrame({"params": [top_n * 10, top_n * 100], "tokens": [top_d, top_d]})
    ea, eb = fit.extrapolation_error(t, a), fit.extrapolation_error(t, b)
    assert abs(np.corrcoef(ea[:, 0], eb[:, 0])[0, 1]) < 0.1  # independent between domains
    np.testing.assert_allclose(ea[:, 1], 2 * ea[:, 0])  # one drift within a domain
    assert fit.drift_key(fit.domains[0]) == 0 and fit.drift_key(b) == fit.domains.index(b) > 0
    np.testing.assert_allclose(fit.extrapolation_error(t, fit.domains[0])[:, 0], prior.slopes(fit.n_draws, fit.random_seed))
    # every domain the fit has not seen is one population: one stream
    np.testing.assert_array_equal(fit.extrapolation_error(t, "legal"), fit.extrapolation_error(t, "medical"))
    assert fit.drift_key("legal") == len(fit.domains)
    # the frontier's allocation uses the same domain's drift
    from bayes_scaling.decisions import extrapolation_of
    s = fit.n_draws
    np.testing.assert_allclose(extrapolation_of(fit, b)(np.full(s, top_n * 10), np.full(s, top_d)), eb[:, 0])


def test_far_extrapolation_warns_once_with_the_numbers(fake_fit):
    targets = pd.DataFrame({"params": [1e10, 1e15], "tokens": [2e11, 2e11]})
    with pytest.warns(bs.ExtrapolationWarning) as rec:
        fake_fit.predict(targets)
    msgs = [str(w.message) for w in rec if issubclass(w.category, bs.ExtrapolationWarning)]
    assert msgs == [
        "1 target(s) lie more than 1000x beyond the largest run in 'params' (largest run 5e+09, target up to 1e+15, "
        "5.3 decades): the forecast rests on the law's form alone; treat its interval as a lower bound on the "
        "uncertainty."
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("error", bs.ExtrapolationWarning)
        fake_fit.predict(targets.iloc[:1])  # 2x beyond: no warning


def test_a_target_far_below_the_runs_is_warned_about(fake_fit):
    # no model-form error is added below the smallest run (extrapolation_distance counts decades beyond the largest
    # only), so a 1M-parameter forecast from runs of 50M-5B had the law's parameter uncertainty alone, without a word
    targets = pd.DataFrame({"params": [1e6, 1e8], "tokens": [2e9, 2e9]})
    with pytest.warns(bs.ExtrapolationWarning) as rec:
        fake_fit.predict(targets)
    assert [str(w.message) for w in rec if issubclass(w.category, bs.ExtrapolationWarning)] == [
        "1 target(s) lie more than 10x below the smallest run in 'params' (smallest run 5e+07, target down to 1e+06, "
        "1.7 decades): the model-form error is added only beyond the largest runs, so there the interval is the law's "
        "parameter uncertainty alone and the law's form there is not checked by any run; a run near that size would "
        "check it."
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("error", bs.ExtrapolationWarning)
        fake_fit.predict(pd.DataFrame({"params": [6e6], "tokens": [2e9]}))  # 8x below: no warning
    # the compute-optimal run of a budget 75x below the runs' smallest compute: the same check (frontier said nothing)
    with pytest.warns(bs.ExtrapolationWarning, match=r"^1 compute-optimal run\(s\) lie more than 10x below the smallest "
                                                     r"run in 'params' \(smallest run 5e\+07, compute-optimal run down "
                                                     r"to 2.59e\+06, 1.3 decades\)"):
        fake_fit.frontier([1e15, 1e21])


@pytest.mark.slow
def test_forecast_of_largest_runs_is_calibrated(chinchilla, chinchilla_split_fit):
    held = chinchilla[chinchilla["flops"] >= 1e21]
    assert len(held) == 23
    pred = chinchilla_split_fit.predict(held[["params", "tokens"]], prob=0.9)
    y = held["loss"].to_numpy()
    assert scoring.mape(pred["loss_median"], y) <= 2.0  # median absolute percentage error, percent
    covered = scoring.covered(y, pred["loss_lower"], pred["loss_upper"])
    assert covered.sum() >= 19, covered.sum()
    # the expected-loss interval is never wider than the new-run interval
    assert np.all(pred["mean_loss_upper"] - pred["mean_loss_lower"] <= pred["loss_upper"] - pred["loss_lower"] + 1e-12)


def test_targets_name_their_domain_in_the_fits_own_domain_column(fake_hier_fit):
    # a fit of runs whose domains were in a column 'mix' (ScalingLaw(domain_col="mix")) predicted every domain
    # (CLI) or asked for a 'domain' column (Python) when the targets named theirs in 'mix' (a fresh user's trial)
    fit = dataclasses.replace(fake_hier_fit, domain_col="mix")
    by_domain = fit.predict(pd.DataFrame({"params": [1e9, 2e9], "tokens": [2e10, 4e10], "domain": ["code", "web"]}))
    by_mix = fit.predict(pd.DataFrame({"params": [1e9, 2e9], "tokens": [2e10, 4e10], "mix": ["code", "web"]}))
    assert list(by_mix["domain"]) == ["code", "web"] and list(by_mix["mix"]) == ["code", "web"]
    pd.testing.assert_frame_equal(by_mix.drop(columns="mix"), by_domain)
    with pytest.raises(bs.RunsTableError, match="several domains"):  # the fit's column only, not any column
        fake_hier_fit.predict(pd.DataFrame({"params": [1e9], "tokens": [2e10], "mix": ["code"]}))


def test_a_target_domain_close_to_a_fitted_one_is_warned_about(fake_hier_fit):
    # 'rpj/c4-val' (a typo) and 'rpj' (part of a name) were forecast as new domains without a word (a fresh user's trial)
    targets = pd.DataFrame({"params": [1e9, 1e9, 1e9], "tokens": [2e10] * 3, "domain": ["code", "cod", "we"]})
    with pytest.warns(bs.RunsTableWarning) as rec:
        out = fake_hier_fit.predict(targets)
    msgs = [str(w.message) for w in rec]
    assert msgs == ["targets domain 'cod' (row 1) is not a domain of this fit, so it gets the forecast for a new "
                    "domain; did you mean 'code'?",
                    "targets domain 'we' (row 2) is not a domain of this fit, so it gets the forecast for a new "
                    "domain; did you mean 'web'?"]
    assert rec[0].filename == __file__  # the user's line
    assert list(out["domain_kind"]) == ["fitted", "new_domain", "new_domain"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an intended new domain far from every name: no warning
        fake_hier_fit.predict(targets.assign(domain=["code", "legal-contracts", "web"]))


def test_two_names_of_unseen_domains_get_the_same_forecast(fake_hier_fit):
    # keyed by the name typed, 'legal' and 'medical' got different intervals from the same fit (a fresh user): both
    # are a domain drawn from the fitted population, the same forecast
    t = pd.DataFrame({"params": [1e9, 7e9], "tokens": [2e10, 1.4e11]})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = fake_hier_fit.predict(t, domain="legal-contracts")
        b = fake_hier_fit.predict(t, domain="medical-notes")
        fitted = fake_hier_fit.predict(t, domain="code")
    cols = [c for c in a.columns if c.startswith(("loss_", "mean_loss_"))]
    pd.testing.assert_frame_equal(a[cols], b[cols])
    assert not np.allclose(a["loss_median"], fitted["loss_median"])  # a fitted domain keeps its own draws


def test_a_targets_numbers_do_not_depend_on_the_other_rows(fake_hier_fit):
    # identical targets got 2.79748 and 2.79635, and one target 3.3839 / 3.3868 / 3.3857 in three files (a fresh user)
    one = pd.DataFrame({"params": [1e9], "tokens": [2e10], "domain": ["web"]})
    others = pd.DataFrame({"params": [3e9, 1e9, 5e8], "tokens": [6e10, 2e10, 1e10], "domain": ["new", "web", "code"]})
    alone = fake_hier_fit.predict(one)
    among = fake_hier_fit.predict(pd.concat([others, one], ignore_index=True))
    cols = ["loss_median", "loss_lower", "loss_upper", "mean_loss_median"]
    np.testing.assert_array_equal(among.loc[1, cols].to_numpy(float), among.loc[3, cols].to_numpy(float))  # identical rows
    np.testing.assert_array_equal(among.loc[3, cols].to_numpy(float), alone.loc[0, cols].to_numpy(float))
    new_alone = fake_hier_fit.predict(others.iloc[[0]])  # a new domain's draws do not depend on the rows before it
    np.testing.assert_array_equal(among.loc[0, cols].to_numpy(float), new_alone.loc[0, cols].to_numpy(float))
    other_seed = fake_hier_fit.predict(one, random_seed=fake_hier_fit.random_seed + 1)
    assert other_seed.loc[0, "loss_lower"] != alone.loc[0, "loss_lower"]  # the seed still matters


def test_the_fits_domain_column_wins_over_a_stray_domain_column_and_the_errors_name_it(fake_hier_fit):
    # t.assign(corpus=t.domain) left a 'domain' column that silently chose another domain's forecast (a fresh user)
    fit = dataclasses.replace(fake_hier_fit, domain_col="corpus")
    both = pd.DataFrame({"params": [1e9], "tokens": [2e10], "corpus": ["code"], "domain": ["web"]})
    with pytest.warns(bs.RunsTableWarning) as rec:
        out = fit.predict(both)
    assert [str(w.message) for w in rec] == ["targets table has both 'corpus' (the fit's domain column) and 'domain', "
                                             "which differ (row 0: 'code' vs 'web'); 'corpus' is used."]
    assert list(out["domain"]) == ["code"]
    pd.testing.assert_frame_equal(out.drop(columns="corpus"), fit.predict(both.drop(columns="corpus").assign(
        domain="code")).drop(columns=[]), check_like=True)
    with pytest.raises(bs.RunsTableError, match="say which one: a 'corpus' column in the targets, or domain=NAME"):
        fit.predict(both.drop(columns=["corpus", "domain"]))
    # names that differ only in spaces are the same domain: no warning, also not when validated twice (the CLI)
    spaced = pd.DataFrame({"params": [1e9], "tokens": [2e10], "corpus": [" code "]})
    with warnings.catch_warnings():
        warnings.simplefilter("error", bs.RunsTableWarning)
        twice = bs.data.validate_targets(bs.data.validate_targets(spaced, domain_col="corpus"), domain_col="corpus")
        assert list(fit.predict(spaced)["domain"]) == ["code"]
    assert list(twice["domain"]) == ["code"]
    with pytest.raises(bs.RunsTableError, match=r"^this fit has several domains; say which one the frontier is for "
                                                r"with domain=NAME\. Known"):
        fit.frontier([1e21])


def test_targets_at_many_epochs_of_a_data_constrained_fit_are_warned_about():
    # beyond R_D* epochs large models over-fit and the law does not say so: 12 of 13 misses of the datablations
    # backtest, and coverage 0.355 above 16 epochs in a fresh user's trial, without a word
    from types import SimpleNamespace

    from bayes_scaling.predict import MANY_EPOCHS, ExtrapolationWarning, warn_extrapolation

    runs = pd.DataFrame({"params": [1e9], "tokens": [1e11], "unique_tokens": [1e10]})
    # the attributes warn_extrapolation reads of a ScalingFit (a fit that kept every run), and own_runs: the runs behind
    # every forecast
    fit = SimpleNamespace(law=bs.get_law("data_constrained"), runs=runs, own_runs=lambda domain=None: runs,
                          undertrained=bs.extrapolation.NO_UNDERTRAINED_ERROR,
                          min_tokens_per_param=0.0)
    t = pd.DataFrame({"params": [1e9, 1e9, 1e9], "tokens": [1e11, 4e10, 4.6e10], "unique_tokens": [1e10, 1e9, 1e8]})
    with pytest.warns(ExtrapolationWarning) as rec:
        warn_extrapolation(fit, t)
    assert MANY_EPOCHS == 15.4
    assert str(rec[0].message).startswith("2 target(s) repeat their data more than 15.4 times (up to 460 epochs = "
                                          "tokens / unique_tokens; most repeated first: N 1e+09, D 4.6e+10, U 1e+08 "
                                          "(460 epochs); N 1e+09, D 4e+10, U 1e+09 (40 epochs)): beyond the published")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warn_extrapolation(fit, t.iloc[[0]])  # 10 epochs: no warning
    # the noun of compare and frontier; beyond_runs=False keeps the epochs only (a frontier reaches far by design)
    far = pd.DataFrame({"params": [1e9], "tokens": [4.6e14], "unique_tokens": [1e11]})  # 4600x the runs' D
    with pytest.warns(ExtrapolationWarning) as rec:
        warn_extrapolation(fit, far, "compute-optimal run", beyond_runs=False)
    assert [str(r.message)[:63] for r in rec] == ["1 compute-optimal run(s) repeat their data more than 15.4 times"]
    # a table without params (a caller's own) is described by what it has; it crashed with KeyError 'params'
    with pytest.warns(ExtrapolationWarning) as rec:
        warn_extrapolation(fit, far.drop(columns="params"), "compute-optimal run", beyond_runs=False)
    assert "most repeated first: D 4.6e+14, U 1e+11 (4.6e+03 epochs))" in str(rec[0].message)
    with pytest.warns(ExtrapolationWarning) as rec:
        warn_extrapolation(fit, far, "candidate")
    assert [str(r.message)[:40] for r in rec] == ["1 candidate(s) repeat their data more th",
                                                   "1 candidate(s) lie more than 1000x beyon"]


def test_one_fill_of_unique_tokens_says_so_once():
    """predict, compare, next-run and decide each had their own fill of U = D; next-run's and decide's were silent."""
    from types import SimpleNamespace

    from bayes_scaling.predict import assume_unique_tokens

    fit = SimpleNamespace(law=bs.get_law("data_constrained"))
    t = pd.DataFrame({"params": [1e9], "tokens": [2e10]})
    with pytest.warns(bs.RunsTableWarning) as rec:
        out = assume_unique_tokens(fit, t, "plans", "value")
    assert out is t and t["unique_tokens"].tolist() == [2e10]
    assert [str(r.message) for r in rec] == [
        "the plans have no 'unique_tokens' column: every token is taken as unique (one epoch, no repeated data); add "
        "unique_tokens to value runs that repeat their data."]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assume_unique_tokens(fit, t, "plans", "value")  # present: nothing to say
        chin = pd.DataFrame({"params": [1e9], "tokens": [2e10]})
        assume_unique_tokens(SimpleNamespace(law=bs.get_law("chinchilla")), chin, "plans", "value")
    assert "unique_tokens" not in chin


def test_a_domain_argument_that_no_target_needs_is_named(fake_hier_fit):
    # predict --domain web with targets that all name their domain: --domain was ignored without a word (a fresh user)
    t = pd.DataFrame({"params": [1e9, 1e9], "tokens": [2e10, 2e10], "domain": ["code", "books"]})
    with pytest.warns(bs.RunsTableWarning) as rec:
        out = fake_hier_fit.predict(t, domain="web")
    assert list(out["domain"]) == ["code", "books"]
    assert [str(r.message) for r in rec] == [
        "domain 'web' (domain= / --domain) is not used: every target names its own domain in column 'domain'; the "
        "domain argument only fills rows that name none."]
    with warnings.catch_warnings():
        warnings.simplefilter("error", bs.RunsTableWarning)
        fake_hier_fit.predict(t.assign(domain=[None, "books"]), domain="web")  # it fills the first row: used
        fake_hier_fit.predict(t.assign(domain="code"), domain="code")  # the same name: nothing to say


def test_an_interval_whose_tails_hold_a_few_draws_is_warned_about(fake_fit):
    # --prob 0.999999 on 4000 draws gave a loss interval of 2.9e-6 to 1.3e9 nats/token without a word (a fresh user)
    t = pd.DataFrame({"params": [1e9], "tokens": [2e10]})
    n = fake_fit.n_draws
    with pytest.warns(UserWarning, match=rf"^a 0.999999 interval from {n} posterior draws leaves 0.00\d+ draws beyond "
                                         rf"each end, fewer than 10: its ends are accidents of the sample"):
        fake_fit.predict(t, prob=0.999999)
    with pytest.warns(UserWarning, match=r"use a probability of at most"):
        fake_fit.frontier([1e21], prob=1 - 1 / n)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fake_fit.predict(t, prob=1 - 20 / n)  # 10 draws beyond each end: readable


def test_predict_puts_an_assumed_unique_tokens_column_next_to_tokens():
    # appended after flops and domain, it moved every later column when targets lacked it (a script read the columns
    # by position, a fresh user)
    from conftest import make_fake_fit, synthetic_runs

    runs = synthetic_runs()
    dc = make_fake_fit(runs.assign(unique_tokens=runs["tokens"]), law_name="data_constrained")
    with pytest.warns(bs.RunsTableWarning, match="no 'unique_tokens' column"):
        without = dc.predict(pd.DataFrame({"params": [4e9], "tokens": [8e10]}))
    given = dc.predict(pd.DataFrame({"params": [4e9], "tokens": [8e10], "unique_tokens": [8e10]}))
    assert list(without.columns) == list(given.columns)
    assert list(without.columns[:3]) == ["params", "tokens", "unique_tokens"]


def test_the_epochs_warning_gives_the_fits_own_r_d_star_next_to_the_published_one():
    # a fresh user read the report's fitted R_D* (26.6) and the warning's published 15.4 as two answers
    from conftest import make_fake_fit, synthetic_runs

    runs = synthetic_runs()
    dc = make_fake_fit(runs.assign(unique_tokens=runs["tokens"]), law_name="data_constrained")
    r = dc.parameters().set_index("parameter").loc["RD_star"]
    with pytest.warns(bs.ExtrapolationWarning) as rec:
        dc.predict(pd.DataFrame({"params": [4e9], "tokens": [8e10], "unique_tokens": [2e9]}))
    text = " ".join(str(w.message) for w in rec)
    # one domain: not named by its internal name ("for 'default'", a fresh user)
    assert (f"beyond the published R_D* = 15.4 epochs (Muennighoff et al. 2023; this fit's own R_D*: "
            f"{r['median']:.3g}, 90 % interval {r['lower']:.3g}-{r['upper']:.3g}) more repetition adds little") in text


def test_extrapolation_is_measured_from_the_runs_behind_the_forecast_not_the_reference(fake_fit):
    # a fresh user's 1e25-FLOP optimum, 2,900x their largest run in N, got no warning: the distance was measured from
    # the Chinchilla reference runs, which are larger
    import dataclasses

    from bayes_scaling.predict import warn_extrapolation

    own = pd.DataFrame({"params": [1e7, 1e8], "tokens": [2e8, 2e9], "domain": "code", "is_reference": False})
    ref = pd.DataFrame({"params": [1e8, 1e11], "tokens": [2e9, 2e12], "domain": "chinchilla", "is_reference": True})
    fit = dataclasses.replace(fake_fit, runs=pd.concat([own, ref], ignore_index=True), domains=["code", "chinchilla"],
                              reference_domains=["chinchilla"])
    for rows in (pd.DataFrame({"params": [5e11], "tokens": [1e13], "domain": ["code"]}),
                 pd.DataFrame({"params": [5e11], "tokens": [1e13]})):  # no domain: the user's runs
        with pytest.warns(bs.ExtrapolationWarning) as rec:
            warn_extrapolation(fit, rows)
        assert [str(w.message).split(":")[0] for w in rec] == [
            "1 target(s) lie more than 1000x beyond the largest run in 'params' (largest run 1e+08, target up to "
            "5e+11, 3.7 decades)",
            "1 target(s) lie more than 1000x beyond the largest run in 'tokens' (largest run 2e+09, target up to "
            "1e+13, 3.7 decades)"]
    with warnings.catch_warnings():  # a target of the reference domain is measured from its own runs
        warnings.simplefilter("error", bs.ExtrapolationWarning)
        warn_extrapolation(fit, pd.DataFrame({"params": [5e11], "tokens": [1e13], "domain": ["chinchilla"]}))


def test_a_target_read_back_from_a_csv_gets_the_same_draws(fake_fit):
    # a frontier's 11833172974.38 parameters and the same target read from a CSV (11833172974) got other one-run
    # intervals (a fresh user)
    a = fake_fit.predict(pd.DataFrame({"params": [11833172974.38], "tokens": [140846979169.2]}))
    b = fake_fit.predict(pd.DataFrame({"params": [11833172974], "tokens": [140846979169]}))
    cols = ["loss_median", "loss_lower", "loss_upper"]
    np.testing.assert_allclose(a[cols].to_numpy(), b[cols].to_numpy(), rtol=1e-6)
    c = fake_fit.predict(pd.DataFrame({"params": [11.9e9], "tokens": [140846979169]}))  # another run: other draws
    assert not np.allclose(a[["loss_lower", "loss_upper"]].to_numpy(), c[["loss_lower", "loss_upper"]].to_numpy(),
                           rtol=1e-9)


def test_a_near_miss_of_a_fitted_domain_given_by_argument_is_questioned(fake_hier_fit):
    # domain="rpj/c4_va" silently gave the new-domain forecast in predict, frontier and exceedance (a fresh user)
    t = pd.DataFrame({"params": [1e9], "tokens": [2e10]})
    said = ("domain 'cod' (domain= / --domain) is not a domain of this fit, so it gets the forecast for a new domain; "
            "did you mean 'code'?")
    for call in (lambda: fake_hier_fit.predict(t, domain="cod"), lambda: fake_hier_fit.frontier([1e21], domain="cod"),
                 lambda: bs.risk.exceedance(fake_hier_fit, t, 3.0, domain="cod")):
        with pytest.warns(bs.RunsTableWarning) as rec:
            call()
        assert [str(w.message) for w in rec if "is not a domain" in str(w.message)] == [said]
    with warnings.catch_warnings():  # a new name far from every fitted one is a new domain on purpose
        warnings.simplefilter("error", bs.RunsTableWarning)
        fake_hier_fit.predict(t, domain="legal-contracts")
    with pytest.raises(KeyError, match=r"unknown domain 'cod' \(did you mean 'code'\?\); known domains: books, "):
        fake_hier_fit.parameters(domain="cod")


def test_one_empty_domain_cell_is_named_by_its_row(fake_hier_fit):
    # "say which one: a 'domain' column in the targets" was all a fresh user read for one empty cell of that column
    t = pd.DataFrame({"params": [1e9, 2e9, 3e9], "tokens": [2e10, 4e10, 6e10], "domain": ["code", None, "web"]})
    with pytest.raises(bs.RunsTableError) as err:
        fake_hier_fit.predict(t)
    assert str(err.value) == ("targets column 'domain' is empty in row 1, and this fit has several domains; name the "
                              "domain of each row (one of 'books', 'code', 'web', or a new name for the forecast of an "
                              "unseen domain), or pass domain=NAME (--domain NAME) for the rows that name none.")
    assert list(fake_hier_fit.predict(t, domain="books")["domain"]) == ["code", "books", "web"]


def test_repeated_index_labels_are_said_and_results_follow_the_position(fake_fit):
    # t["pred"] = predict(t)["loss_median"] gave one row another's forecast: the index was renumbered silently
    t = pd.DataFrame({"params": [1e9, 2e9, 3e9], "tokens": [2e10, 4e10, 6e10]}, index=[0, 0, 1])
    with pytest.warns(bs.RunsTableWarning, match=r"^the targets table's index repeats labels \(0 and maybe more\): its "
                                                 r"rows are numbered 0-2 by position, and so are the results; assign"):
        out = fake_fit.predict(t)
    assert list(out.index) == [0, 1, 2] and list(out["params"]) == [1e9, 2e9, 3e9]


def test_the_fit_methods_take_what_their_functions_take(fake_fit):
    t = pd.DataFrame({"params": [1e9], "tokens": [2e10]})
    pd.testing.assert_frame_equal(fake_fit.predict(t, kind="hdi"), predict(fake_fit, t, kind="hdi"))
    assert not fake_fit.predict(t, kind="hdi").equals(fake_fit.predict(t))
    capped = fake_fit.frontier([1e24], max_params=1e9)
    assert capped["params_opt_median"].iloc[0] <= 1e9
    for method in (type(fake_fit).predict, type(fake_fit).frontier):  # units and columns in help(), not "see ..."
        assert "Returns" in method.__doc__ and "nats/token" in method.__doc__


def test_an_interval_probability_in_percent_is_refused_without_a_warning_first(fake_fit):
    # prob=90 warned of "-1.78e+05 draws beyond each end" before the error (a fresh user)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError, match=r"^interval probability must be between 0 and 1 \(exclusive\), got 90; "
                                             r"for 90 % give 0\.9\.$"):
            fake_fit.predict(pd.DataFrame({"params": [1e9], "tokens": [2e10]}), prob=90)


def test_exceedance_questions_a_near_miss_in_the_targets_domain_column_once(fake_hier_fit):
    # risk.exceedance silently gave a new domain's P(miss) for 'rpj/c4_va' in the domain column (a fresh user)
    t = pd.DataFrame({"params": [1e9], "tokens": [2e10], "domain": ["cod"]})
    for call in (lambda: bs.risk.exceedance(fake_hier_fit, t, 3.0), lambda: bs.risk.risk_table(fake_hier_fit, t, 3.0)):
        with warnings.catch_warnings(record=True) as rec:
            warnings.simplefilter("always")
            call()
        assert [str(w.message) for w in rec if "is not a domain" in str(w.message)] == [
            "targets domain 'cod' (row 0) is not a domain of this fit, so it gets the forecast for a new domain; did you "
            "mean 'code'?"]


def test_an_interval_probability_given_as_text_is_read_or_refused(fake_fit):
    t = pd.DataFrame({"params": [1e9], "tokens": [2e10]})
    assert fake_fit.predict(t, prob="0.8")["loss_upper"].equals(fake_fit.predict(t, prob=0.8)["loss_upper"])
    with pytest.raises(ValueError, match=r"^interval probability must be a number between 0 and 1 \(exclusive\), "
                                         r"got 'high'\.$"):
        fake_fit.predict(t, prob="high")


def test_targets_below_the_fits_tokens_per_parameter_bound_are_warned_about_and_the_bound_is_saved(fake_fit, tmp_path):
    """A fresh user's planned runs at 0.66 tokens per parameter, the regime the fit had left out, were forecast without
    a word; both of their interval misses were there."""
    from dataclasses import replace

    import bayes_scaling as bs
    from bayes_scaling.predict import ExtrapolationWarning

    fit = replace(fake_fit, min_tokens_per_param=1.0, runs_left_out=3)
    targets = pd.DataFrame({"params": [1e9, 9e8], "tokens": [2e10, 5.9e8]})
    with pytest.warns(ExtrapolationWarning) as rec:
        fit.predict(targets)
    said = [str(w.message) for w in rec if "token per parameter" in str(w.message)]
    assert said == ["1 target(s) are trained on fewer than 1 token per parameter (down to 0.656), the regime the fit "
                    "leaves its runs out of (min_tokens_per_param=1): there the loss depends on the warm-up and schedule "
                    "more than on size and data, and the forecast extrapolates the law of better-trained runs, with an "
                    "error that grows with the depth below the bound (measured on the runs the fit "
                    "left out there); such runs still fall outside the interval more often than others."]
    with warnings.catch_warnings():
        warnings.simplefilter("error", ExtrapolationWarning)
        fake_fit.predict(targets.iloc[:1])  # a fit that kept every run (or was saved before the bound) says nothing
    again = bs.ScalingFit.load(fit.save(tmp_path / "fit"))
    assert (again.min_tokens_per_param, again.runs_left_out) == (1.0, 3)


def test_the_reports_name_for_your_runs_given_as_a_domain_is_warned_about():
    # a fresh user copied "your runs" from a report into --domain of a fit with a reference and got the new-domain
    # forecast, 7x wider, without a word
    from bayes_scaling.data import unseen_domain_note

    assert unseen_domain_note("your runs", ["default", "chinchilla"], "--domain 'your runs'") == (
        "--domain 'your runs' is how the report names the domain 'default' (the runs of a table without a domain "
        "column), not a domain of this fit, so it gets the forecast for a new domain; give 'default' for your runs' "
        "forecast.")
    assert unseen_domain_note("your runs", ["code", "web"], "x") == ""  # a fit with named domains: a new domain
