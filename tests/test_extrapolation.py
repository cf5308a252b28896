"""bayes_scaling.extrapolation: the distance beyond the runs, the catalog of learned priors and the draws of the
model-form error (their use in forecasts: test_predict.py; the learning: benchmarks/learn_extrapolation.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bayes_scaling.extrapolation import (
    NO_EXTRAPOLATION_ERROR,
    NO_UNDERTRAINED_ERROR,
    UNDERTRAINED_PRIOR,
    ExtrapolationPrior,
    UndertrainedError,
    extrapolation_distance,
    get_extrapolation_prior,
    leave_future_out,
    list_extrapolation_priors,
    update_extrapolation_prior,
)

RUNS = pd.DataFrame({"params": [1e8, 1e9], "tokens": [2e9, 2e10]})


def test_distance_is_the_largest_number_of_decades_beyond_the_runs():
    targets = pd.DataFrame({"params": [5e8, 1e10, 1e9, 1e11], "tokens": [1e10, 2e10, 2e12, 2e9]})
    # inside; 1 decade in N (and in C); 2 decades in D (and in C); 2 in N, 1 in C
    np.testing.assert_allclose(extrapolation_distance(RUNS, targets), [0.0, 1.0, 2.0, 2.0])
    # compute alone can be beyond while N and D are each inside (an isoFLOP target between the runs' corners)
    corner = pd.DataFrame({"params": [1e9], "tokens": [2e10], "flops": [6 * 1e9 * 2e10 * 10]})
    assert extrapolation_distance(RUNS, corner)[0] == pytest.approx(1.0)
    # a law in one variable: only the columns both tables have count
    assert extrapolation_distance(RUNS[["params"]], pd.DataFrame({"params": [1e11]}))[0] == pytest.approx(2.0)


def test_catalog_names_and_unknown_name():
    names = list_extrapolation_priors()
    assert {"learned", "none"} <= set(names)
    assert get_extrapolation_prior("none") is NO_EXTRAPOLATION_ERROR
    with pytest.raises(ValueError) as err:
        get_extrapolation_prior("bogus")
    assert str(err.value) == f"unknown extrapolation prior 'bogus'; choose one of: {', '.join(sorted(names))}."
    learned = get_extrapolation_prior("learned")
    assert learned.active and learned.learned_from and learned.log_kappa_sd > 0


def test_slopes_are_seeded_and_follow_the_prior():
    prior = ExtrapolationPrior("t", np.log(0.03), 0.4)
    a, b = prior.slopes(40000, 7), prior.slopes(40000, 7)
    np.testing.assert_array_equal(a, b)  # same seed, same draws, in any process (a fixed stream of the seed)
    assert not np.array_equal(a, prior.slopes(40000, 8))
    assert np.median(np.abs(a)) == pytest.approx(0.03 * 0.6745, rel=0.05)  # median |kappa z| ~ kappa_med * 0.674
    q = prior.quantiles_per_decade()
    assert q[0.5] == pytest.approx(0.03) and q[0.05] < 0.03 < q[0.95]
    np.testing.assert_array_equal(NO_EXTRAPOLATION_ERROR.slopes(5, 0), np.zeros(5))
    assert not NO_EXTRAPOLATION_ERROR.active


def test_beyond_the_reach_of_the_own_runs_the_drift_takes_the_populations_slope():
    # an update learned kappa from errors up to 0.5 decades beyond the smaller runs; a straight line carried it to
    # targets 16-64x beyond (the Porian recipes fitted to 4e17 FLOPs under-covered, 0.78): beyond 0.5 decades the slope
    # is the population's, with the same draws
    before = get_extrapolation_prior("learned")
    updated = ExtrapolationPrior("learned + own runs", np.log(0.002), 0.2, details={
        "n_points": 9, "n_groups": 1, "max_distance": 0.5, "prior_log_kappa_mean": before.log_kappa_mean,
        "prior_log_kappa_sd": before.log_kappa_sd})
    h = np.array([0.0, 0.2, 0.5, 1.5])
    own, pop = updated.slopes(4000, 3), updated.before_update().slopes(4000, 3)
    d = updated.drift(h, 4000, 3)
    assert d.shape == (4000, 4)
    np.testing.assert_allclose(d[:, :3], own[:, None] * h[:3])
    np.testing.assert_allclose(d[:, 3], own * 0.5 + pop * 1.0)
    assert (np.sign(own) == np.sign(pop)).all()  # one drift: the same z
    q = np.quantile(np.abs(d[:, 3] - d[:, 2]), 0.9)  # the last decade's error is the population's, not the own runs'
    assert q == pytest.approx(np.quantile(np.abs(pop), 0.9), rel=1e-9) and q > 5 * np.quantile(np.abs(own), 0.9)
    # paired: row s of h belongs to draw s
    hp = np.tile(h, (4000, 1))
    np.testing.assert_allclose(updated.drift(hp, 4000, 3, paired=True), d)
    np.testing.assert_allclose(updated.drift(h[:1].repeat(4000), 4000, 3, paired=True), 0.0)
    # not updated: the straight line
    np.testing.assert_allclose(before.drift(h, 4000, 3), before.slopes(4000, 3)[:, None] * h)
    np.testing.assert_array_equal(NO_EXTRAPOLATION_ERROR.drift(h, 5, 0), np.zeros((5, 4)))


def test_round_trip_through_a_saved_fit_dict():
    prior = ExtrapolationPrior("learned_without_x", -3.5, 0.8, ("a", "b"), "cite", "how")
    assert ExtrapolationPrior.from_dict(prior.to_dict()) == prior
    back = ExtrapolationPrior.from_dict(NO_EXTRAPOLATION_ERROR.to_dict())
    assert back.name == "none" and not back.active


def test_leave_future_out_holds_out_the_top_third_of_each_domains_compute_range():
    # domain a: compute 1e18 .. 1e23 in decades -> top third is above 10**21.33: the two largest runs;
    # domain b: 3 runs cannot spare any (3 must remain to fit); domain c: one compute, no range
    runs = pd.DataFrame({"flops": [1e18, 1e19, 1e20, 1e21, 1e22, 1e23, 1e18, 1e19, 1e20, 1e20, 1e20, 1e20, 1e20],
                         "domain": ["a"] * 6 + ["b"] * 3 + ["c"] * 4})
    np.testing.assert_array_equal(leave_future_out(runs), [False] * 4 + [True, True] + [False] * 7)
    # C = 6 N D where the table has no flops
    nd = pd.DataFrame({"params": [1e7, 1e8, 1e9, 1e10], "tokens": [1e9] * 4, "domain": "x"})
    np.testing.assert_array_equal(leave_future_out(nd), [False, False, False, True])


def _draws(k, s, S=400, seed=1):
    """Forecast draws without the model-form error: centred at 0, independent run-to-run noise of sd s."""
    rng = np.random.default_rng(seed)
    expected = 1e-4 * rng.standard_normal((S, k))
    return expected, expected + s * rng.standard_normal((S, k))


def _errors(kappa, n_domains, n_per, seed=0, s=0.01):
    """Held-out errors simulated from the model: one drift per domain, h from 0.2 to 1 decade."""
    rng = np.random.default_rng(seed)
    h = np.tile(np.linspace(0.2, 1.0, n_per), n_domains)
    z = np.repeat(rng.standard_normal(n_domains), n_per)
    y = kappa * z * h + s * rng.standard_normal(h.size)
    return (y, *_draws(h.size, s), h, np.repeat(np.arange(n_domains), n_per))


@pytest.mark.parametrize("kappa", [0.003, 0.1])
def test_update_recovers_the_error_per_decade_of_simulated_data_sets(kappa):
    prior = get_extrapolation_prior("learned")
    post = update_extrapolation_prior(prior, *_errors(kappa, n_domains=40, n_per=5))
    # 40 domains: log kappa within 0.35 of the truth, far from the prior's median (0.014) at either end
    assert abs(post.log_kappa_mean - np.log(kappa)) < 0.35
    assert post.log_kappa_sd < 0.5 * prior.log_kappa_sd
    assert post.details["n_points"] == 200 and post.details["n_groups"] == 40
    assert post.name == "learned + own runs"
    assert post.own_runs_update == ("this fit's own errors: 200 runs of 40 domains forecast from the smaller ones, "
                                    f"up to 1.00 decades beyond them (kappa median {np.exp(post.log_kappa_mean):.3g})")
    median = f"{np.exp(prior.log_kappa_mean):.3g}"  # 0.014 (the catalog's value, learned by learn_extrapolation.py)
    assert post.where == f"learned (kappa median {median} per decade), updated with {post.own_runs_update}"
    assert prior.own_runs_update == ""
    assert ExtrapolationPrior.from_dict(post.to_dict()) == post


def test_runs_of_one_domain_are_one_piece_of_evidence():
    # one domain that drifted by 0.02 per decade: one draw of kappa * z, consistent with many kappas
    prior = get_extrapolation_prior("learned")
    h = np.linspace(0.2, 1.0, 40)
    y = 0.02 * h + 0.001 * np.random.default_rng(0).standard_normal(40)
    expected, new = _draws(40, 0.001)
    one = update_extrapolation_prior(prior, y, expected, new, h, np.zeros(40))
    independent = update_extrapolation_prior(prior, y, expected, new, h, np.arange(40))
    # read as 40 domains, the errors would pin kappa at 0.02 (sd 0.13); as one domain they cannot (sd 0.65)
    assert independent.log_kappa_sd < 0.2 and abs(np.exp(independent.log_kappa_mean) - 0.02) < 0.002
    assert one.log_kappa_sd > 0.5


def test_errors_the_parameters_explain_do_not_count_as_model_form_error():
    # a forecast whose slope is uncertain: errors growing with h are what its own draws predict
    rng = np.random.default_rng(2)
    h = np.linspace(0.2, 1.0, 8)
    slope = 0.05 * rng.standard_normal((2000, 1))
    expected = slope * h
    new = expected + 0.002 * rng.standard_normal(expected.shape)
    y = 0.05 * h + 0.002 * rng.standard_normal(8)  # one sd of the slope's uncertainty
    prior = get_extrapolation_prior("learned")
    post = update_extrapolation_prior(prior, y, expected, new, h)
    # not much above the prior's median: the draws explained the drift (as independent noise it would not be)
    assert post.log_kappa_mean < prior.log_kappa_mean + 0.5
    naive = update_extrapolation_prior(prior, y, np.zeros_like(expected), expected + new - expected, h)
    assert naive.log_kappa_mean > post.log_kappa_mean


def test_update_without_information_returns_the_prior():
    prior = get_extrapolation_prior("learned")
    inside = np.zeros(3)  # h = 0: inside the runs' range
    expected, new = _draws(3, 0.01)
    assert update_extrapolation_prior(prior, np.ones(3), expected, new, inside) is prior
    assert update_extrapolation_prior(NO_EXTRAPOLATION_ERROR, np.ones(3), expected, new,
                                      np.ones(3)) is NO_EXTRAPOLATION_ERROR


# ----------------------------------------------------------------------------- below the fit's tokens-per-parameter bound


def test_depth_counts_decades_below_the_bound_and_nothing_above_it():
    err = UNDERTRAINED_PRIOR.with_bound(1.0)
    t = pd.DataFrame({"params": [1e9, 1e9, 1e9, 1e9], "tokens": [1e7, 1e8, 1e9, 2e10]})
    np.testing.assert_allclose(err.depth(t), [2.0, 1.0, 0.0, 0.0])
    np.testing.assert_allclose(err.with_bound(0.5).depth(t), [np.log10(50), np.log10(5), 0.0, 0.0])
    assert not err.depth(pd.DataFrame({"flops": [1e20]})).any()  # a law of compute alone: no depth
    assert not NO_UNDERTRAINED_ERROR.depth(t).any() and not err.with_bound(0.0).active


def test_undertrained_update_is_the_conjugate_one_and_skips_runs_at_the_bound():
    prior = UndertrainedError(1.0, 0.17, 4.0)
    r, d = np.array([0.3, -0.1, 0.05, 9.0]), np.array([1.44, 0.25, 0.01, 0.0])
    post = prior.updated(r, d, where="own")
    assert post.dof == 7.0 and post.n_runs == 3 and post.where == "own"
    expected = np.sqrt((4 * 0.17**2 + 0.3**2 / 1.44 + 0.1**2 / 0.25 + 0.05**2 / 0.01) / 7)
    assert post.scale == pytest.approx(expected, rel=1e-12)
    # two domains: two pieces of evidence, each run's misfit weighing 2 / 3
    two = prior.updated(r, d, groups=["a", "a", "b", "b"])
    assert two.dof == 6.0 and two.n_runs == 3
    assert two.scale == pytest.approx(np.sqrt((4 * 0.17**2 + 2 * (expected**2 * 7 - 4 * 0.17**2) / 3) / 6), rel=1e-12)
    assert prior.updated([0.2], [0.0]) is prior  # no run below the bound: the prior as it was


def test_undertrained_draws_are_student_t_growing_with_the_square_root_of_depth_and_seeded():
    err = UndertrainedError(1.0, 0.2, 5.0)
    x = err.draws([0.0, 1.0, 4.0], 200_000, random_seed=3)
    assert not x[:, 0].any()
    # b sqrt(d) z with b^2 ~ scaled-Inv-chi^2(5, 0.2^2): a Student-t with 5 degrees of freedom, scale 0.2 sqrt(d)
    q = np.quantile(x[:, 1:], [0.05, 0.25, 0.75, 0.95], axis=0)
    from scipy import stats
    want = stats.t.ppf([0.05, 0.25, 0.75, 0.95], 5)[:, None] * 0.2 * np.sqrt([1.0, 4.0])[None, :]
    np.testing.assert_allclose(q, want, rtol=0.03)
    np.testing.assert_array_equal(x, err.draws([0.0, 1.0, 4.0], 200_000, random_seed=3))
    assert not np.array_equal(x, err.draws([0.0, 1.0, 4.0], 200_000, random_seed=3, key=1))  # another domain
    assert UndertrainedError.from_dict(err.to_dict()) == err and UndertrainedError.from_dict(None) == NO_UNDERTRAINED_ERROR


def test_a_fits_left_out_runs_set_the_error_of_targets_below_the_bound(fake_fit):
    """The misfit of the runs the fit left out (their log loss minus the median expected log loss) updates the
    population's scale; forecasts below the bound widen by it, those above do not move."""
    from dataclasses import replace

    from bayes_scaling.fit import undertrained_error
    from bayes_scaling.predict import predictive_draws

    fit = replace(fake_fit, min_tokens_per_param=1.0)
    lo = pd.DataFrame({"domain": "default", "params": [1e9, 2e9, 4e9], "tokens": [1e8, 5e8, 4e8]})
    mean, _ = predictive_draws(fit, lo, "default", np.random.default_rng(0))
    r = np.array([0.2, -0.1, 0.3])
    lo["loss"] = np.exp(np.median(mean, axis=0) + r)
    err = undertrained_error(fit, lo)
    d = np.log10(lo["params"] / lo["tokens"]).to_numpy()
    # the three runs of one domain are one piece of evidence (their departures from the law go together)
    want = np.sqrt((4 * UNDERTRAINED_PRIOR.scale**2 + np.mean(r**2 / d)) / 5)
    assert err.n_runs == 3 and err.dof == 5.0 and err.scale == pytest.approx(want, rel=2e-3)
    assert undertrained_error(fit, None) == UNDERTRAINED_PRIOR  # none left out: the population's
    assert undertrained_error(replace(fit, min_tokens_per_param=0.0), lo) == NO_UNDERTRAINED_ERROR

    t = pd.DataFrame({"params": [1e9, 1e9], "tokens": [1e7, 2e10]})  # 2 decades below the bound, and 20 above it
    wide = replace(fit, undertrained=err).predict(t, random_seed=0)
    plain = fit.predict(t, random_seed=0)
    w = np.log(wide["mean_loss_upper"] / wide["mean_loss_lower"]).to_numpy()
    w0 = np.log(plain["mean_loss_upper"] / plain["mean_loss_lower"]).to_numpy()
    assert w[1] == w0[1]
    # the 90 % interval of a Student-t (5 dof) of scale err.scale * sqrt(2) dominates the law's own width
    from scipy import stats
    assert w[0] == pytest.approx(np.hypot(w0[0], 2 * stats.t.ppf(0.95, 5) * err.scale * np.sqrt(2)), rel=0.1)
    # runs the fit kept below the bound (too few otherwise) put the regime inside it: the error starts below them
    kept = replace(fit, runs=fit.runs.assign(tokens=fit.runs["tokens"] * np.where(np.arange(len(fit.runs)) == 0,
                                                                                     0.01, 1.0)))
    low = float((kept.runs["tokens"] / kept.runs["params"]).min())
    assert low < 1 and undertrained_error(kept, None).bound == pytest.approx(low)
