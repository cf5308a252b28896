"""bayes_scaling.value_of_information: ranking candidate next runs by the expected shrinkage of the forecast
interval at a target (importance reweighting, no refit)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import bayes_scaling as bs
from bayes_scaling.value_of_information import expected_width_after, next_run

# next_run says what a ranking cannot tell (test_next_run_says_what_its_ranking_cannot_tell checks the words); the fake
# fit's few-draw candidates would repeat it in every test
pytestmark = pytest.mark.filterwarnings("ignore:.*(few posterior draws|are left out|measurably).*:UserWarning")

CANDIDATES = pd.DataFrame({"params": [5e7, 2e10], "tokens": [2.5e8, 4e11], "label": ["repeat smallest", "near target"]})
TARGET = {"params": 7e10, "tokens": 1.4e12}


def test_next_run_table_contract_and_determinism(fake_fit):
    out = next_run(fake_fit, CANDIDATES, TARGET, random_seed=0, n_sims=16)
    assert out.columns[0] == "rank" and set(out["label"]) == {"near target", "repeat smallest"}
    assert {"flops", "width_now", "width_after", "shrinkage", "shrinkage_se", "shrinkage_per_exaflop", "ess",
            "ess_low", "measurable", "domain"} <= set(out)
    assert list(out["rank"]) == [1, 2]
    # ranked per FLOP by default: measurable gains first, and among those the estimates on enough draws first
    for _, group in out.groupby(["measurable", "ess_low"]):
        assert (group["shrinkage_per_exaflop"].diff().dropna() <= 0).all()
    keys = list(zip(out["measurable"], ~out["ess_low"]))
    assert keys == sorted(keys, reverse=True)
    np.testing.assert_array_equal(out["measurable"], (out["shrinkage"] >= 0.01 * out["width_now"])
                                  & (out["shrinkage"] >= 2 * out["shrinkage_se"]))
    assert (out["shrinkage_se"] > 0).all()
    np.testing.assert_allclose(out["shrinkage"], out["width_now"] - out["width_after"])
    np.testing.assert_allclose(out["shrinkage_per_exaflop"], out["shrinkage"] / (out["flops"] / 1e18))
    assert (out["domain"] == "default").all() and out.attrs["prob"] == 0.9
    pd.testing.assert_frame_equal(out, next_run(fake_fit, CANDIDATES, TARGET, random_seed=0, n_sims=16))


def test_a_candidate_on_few_draws_ranks_after_the_sound_measurable_ones(fake_fit):
    """A fresh user's first-ranked candidate rested on one reweighted draw (ess 1.0) and was flagged measurable: its
    optimistic estimate, divided by a small run's compute, outranked every sound one."""
    cands = pd.DataFrame({"params": [5e7, 2e10, 1e9], "tokens": [2.5e8, 4e11, 2e10],
                          "label": ["repeat smallest", "near target", "mid"]})
    out = next_run(fake_fit, cands, TARGET, random_seed=0, n_sims=16).set_index("label")
    few = out.loc["repeat smallest"]
    assert few["ess_low"] and few["measurable"]  # the case this tests: the highest gain per FLOP, on ~40 draws
    assert few["shrinkage_per_exaflop"] > 100 * out.loc[["mid", "near target"], "shrinkage_per_exaflop"].max()
    assert not out.loc[["mid", "near target"], "ess_low"].any() and out.loc[["mid", "near target"], "measurable"].all()
    assert list(out["rank"]) == [1, 2, 3] and out.loc["repeat smallest", "rank"] == 3
    # the sound candidate ranked before the one on few draws is not in a tie with it (a fresh user was told two
    # candidates 80x apart were "within twice the estimate's Monte Carlo error")
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        two = next_run(fake_fit, CANDIDATES, TARGET, random_seed=0, n_sims=16)
    assert list(two["label"]) == ["near target", "repeat smallest"] and list(two["ess_low"]) == [False, True]
    assert not any("within twice" in str(r.message) for r in rec)


def test_a_near_tie_of_the_first_two_candidates_is_said(fake_fit):
    # a fresh user's first-ranked run flipped between two candidates over seeds 0-4: a near tie the table did not say
    import re

    twins = pd.DataFrame({"params": [2e10, 2.0001e10], "tokens": [4e11, 4e11], "label": ["near target", "its twin"]})
    with pytest.warns(UserWarning) as rec:
        out = next_run(fake_fit, twins, TARGET, random_seed=0, n_sims=16)
    ties = [str(r.message) for r in rec if "Monte Carlo error of each other" in str(r.message)]
    assert out["measurable"].all() and len(ties) == 1
    first, second = out["label"]
    assert re.fullmatch(rf"the first two candidates, '{first}' and '{second}', are within twice the estimate's Monte "
                        r"Carlo error of each other \(shrinkage_per_exaflop [0-9.e-]+ \+- [0-9.e-]+ and [0-9.e-]+ \+- "
                        r"[0-9.e-]+\): either is a good next run, and their order can change with the seed; raise "
                        r"--n-sims \(n_sims=\) to tell them apart\.", ties[0])
    with warnings.catch_warnings(record=True) as rec:  # a clear winner: no such warning
        warnings.simplefilter("always")
        next_run(fake_fit, CANDIDATES, TARGET, rank_by="shrinkage", random_seed=0, n_sims=32)
    assert not any("Monte Carlo error of each other" in str(r.message) for r in rec)


def test_a_run_near_the_target_is_worth_more_than_a_repeat_of_the_smallest(fake_fit):
    out = next_run(fake_fit, CANDIDATES, TARGET, rank_by="shrinkage", random_seed=0, n_sims=32).set_index("label")
    assert list(out.index) == ["near target", "repeat smallest"]
    assert out.loc["near target", "shrinkage"] > out.loc["repeat smallest", "shrinkage"]
    assert out.loc["near target", "width_after"] < out.loc["near target", "width_now"]


def test_width_now_is_the_interval_of_the_expected_loss_at_the_target(fake_fit):
    cand, target = CANDIDATES.iloc[[1]], pd.DataFrame([TARGET])
    res = expected_width_after(fake_fit, cand, target, "default", n_sims=8, rng=np.random.default_rng(0))
    pred = fake_fit.predict(target).iloc[0]
    rel = (pred["mean_loss_upper"] - pred["mean_loss_lower"]) / pred["mean_loss_median"]
    assert res["width_now"] == pytest.approx(rel, rel=0.02)  # inverted-CDF vs linear quantiles
    assert 0 < res["min_ess"] <= fake_fit.n_draws


def test_budget_and_ranking_options_are_checked(fake_fit):
    with pytest.raises(bs.RunsTableError, match=r"no candidate run fits the budget of 1e\+10 FLOPs"):
        next_run(fake_fit, CANDIDATES, TARGET, budget=1e10)
    only_small = next_run(fake_fit, CANDIDATES, TARGET, budget=1e18, n_sims=8)
    assert list(only_small["label"]) == ["repeat smallest"]
    with pytest.raises(ValueError, match="rank_by must be 'per_flop' or 'absolute'"):
        next_run(fake_fit, CANDIDATES, TARGET, rank_by="cost", n_sims=8)


def test_a_candidate_keeps_its_numbers_when_a_budget_drops_others(fake_fit):
    """Issue 14: ESS 49 -> 105 for the same candidate once --budget was added (a shared random stream)."""
    both = next_run(fake_fit, CANDIDATES, TARGET, n_sims=16).set_index("label")
    small = next_run(fake_fit, CANDIDATES, TARGET, budget=1e18, n_sims=16).set_index("label")
    reordered = next_run(fake_fit, CANDIDATES.iloc[::-1], TARGET, n_sims=16).set_index("label")
    cols = ["width_now", "width_after", "shrinkage", "ess"]
    pd.testing.assert_series_equal(both.loc["repeat smallest", cols], small.loc["repeat smallest", cols])
    pd.testing.assert_frame_equal(both[cols], reordered.loc[both.index, cols])
    other = next_run(fake_fit, CANDIDATES, TARGET, n_sims=16, random_seed=5).set_index("label")
    assert other.loc["near target", "width_after"] != both.loc["near target", "width_after"]
    absolute = next_run(fake_fit, CANDIDATES, TARGET, n_sims=16, rank_by="absolute")
    assert (absolute["shrinkage"].diff().dropna() <= 0).all()


@pytest.mark.slow
def test_next_run_prefers_the_informative_candidate(small_fit):
    """A run near the target shrinks its interval more than a repeat of the smallest run; ranking and
    columns are as documented, and the same seed gives the same table."""
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


def test_candidates_need_their_tokens_whatever_the_law_reads(fake_fit):
    """A one-variable fit's next-run with params-only candidates stopped on a bare KeyError 'flops': the cost of a
    candidate needs N and D."""
    with pytest.raises(bs.RunsTableError, match="^candidates table has no column 'tokens' \\(or give 'flops'\\)"):
        next_run(fake_fit, CANDIDATES[["params"]], TARGET, n_sims=8)


def test_a_cheap_run_with_no_measurable_gain_does_not_outrank_a_real_one(fake_fit, monkeypatch):
    """On the demo fit 10M-parameter candidates read -0.014 to +0.0008 of shrinkage on a width of 0.194 across seeds:
    noise, which per FLOP would outrank any real gain. On the fake fit the repeat of the smallest run (1/1e5 of the
    compute of the run near the target) shrinks the width by ~1.6 %: measurable at the 1 % resolution, and first per
    FLOP; at a resolution of 5 % it is not, and ranks after the run near the target (which shrinks it by a sixth)."""
    import bayes_scaling.value_of_information as voi

    # min_ess 10: the repeat rests on ~40 reweighted draws, which at the default 100 would rank it after the run near
    # the target on its own (test_a_candidate_on_few_draws_ranks_after_the_sound_measurable_ones)
    out = next_run(fake_fit, CANDIDATES, TARGET, random_seed=0, n_sims=16, min_ess=10).set_index("label")
    assert list(out.index) == ["repeat smallest", "near target"] and out["measurable"].all()
    assert 0.01 < out.loc["repeat smallest", "shrinkage"] / out.loc["repeat smallest", "width_now"] < 0.05
    assert out.loc["near target", "shrinkage"] > 0.15 * out.loc["near target", "width_now"]
    monkeypatch.setattr(voi, "SHRINKAGE_RESOLUTION", 0.05)
    coarse = next_run(fake_fit, CANDIDATES, TARGET, random_seed=0, n_sims=16, min_ess=10).set_index("label")
    assert list(coarse.index) == ["near target", "repeat smallest"]
    assert coarse.loc["repeat smallest", "shrinkage_per_exaflop"] > coarse.loc["near target", "shrinkage_per_exaflop"]
    assert list(coarse["measurable"]) == [True, False] and list(coarse["rank"]) == [1, 2]


def test_next_run_says_what_its_ranking_cannot_tell(fake_fit):
    """The CLI's warnings came from the CLI only: a notebook user got none (a fresh user, ess 1.06 ranked first). And
    with every candidate on few draws the advice was to prefer one that did not exist."""
    from bayes_scaling.value_of_information import _warn_about_ranking

    def table(ess, measurable=(True, True)):
        return pd.DataFrame({"width_now": [0.2, 0.2], "ess": ess, "ess_low": [e < 100 for e in ess],
                             "measurable": measurable})

    cases = [
        (table([3.0, 4.5]), "every candidate's width_after rests on few posterior draws (ess below 100; at most 4.5): "
                            "each of these runs would pin the forecast more tightly than the fit's draws can show, so "
                            "the shrinkage is optimistic and the order can change with the seed; read them as large "
                            "gains of uncertain size, not as a ranking."),
        (table([1.06, 900.0]), "the first-ranked candidate's width_after rests on few posterior draws (ess 1.06): an "
                               "optimistic estimate; prefer a candidate with ess_low False."),
        (table([900.0, 2.0]), "1 of 2 candidates' width_after rest on few posterior draws (ess_low True): their "
                              "shrinkage is optimistic and their rank can change with --seed; rank by those with "
                              "ess_low False."),
        (table([900.0, 900.0], (False, False)), "no candidate narrows the interval at the target measurably (by 1 % of "
                                                "its width, width_now 0.2, and by twice the estimate's Monte Carlo "
                                                "error): one more run of these sizes would not change this forecast "
                                                "measurably, so the ranking says nothing; try candidates nearer the "
                                                "target."),
    ]
    for t, message in cases:
        with pytest.warns(UserWarning) as rec:
            _warn_about_ranking(t, 100.0)
        assert [str(r.message) for r in rec] == [message]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _warn_about_ranking(table([900.0, 900.0]), 100.0)
    # from next_run itself, in Python: the budget that leaves a candidate out is said, with its label
    with pytest.warns(UserWarning, match=r"^1 candidate\(s\) cost more than the budget of 1e\+18 FLOPs \(C = 6 N D\) "
                                         r"and are left out: near target\.$"):
        next_run(fake_fit, CANDIDATES, TARGET, budget=1e18, n_sims=8)


def test_next_run_needs_several_simulations(fake_fit):
    for bad in (0, 1, -3, 2.5, True):
        with pytest.raises(ValueError, match=r"^n_sims must be a whole number of at least 2 \(simulated outcomes per "
                                             r"candidate; the estimate's Monte Carlo error needs several\), got "):
            next_run(fake_fit, CANDIDATES, TARGET, n_sims=bad)


def test_a_candidate_expected_to_widen_the_interval_is_said_to_and_why():
    """A fresh user read shrinkage -0.0097 +- 0.0024 (a datablations fit, tail weight 0.84) as noise: measurable False."""
    from bayes_scaling.value_of_information import _warn_about_widening

    out = pd.DataFrame({"label": ["wide", "fine", "noisy"], "width_now": [0.1, 0.1, 0.1],
                        "shrinkage": [-0.0097, 0.02, -0.004], "shrinkage_se": [0.0024, 0.001, 0.003]})
    with pytest.warns(UserWarning) as rec:
        _warn_about_widening(out, 0.84)
    assert [str(r.message) for r in rec] == [
        "1 candidate(s) ('wide') are expected to widen the interval at the target, by more than twice the estimate's "
        "Monte Carlo error (shrinkage below zero); this fit's noise is heavy-tailed (tail weight 0.84): a result that "
        "is neither near the law nor clearly an outlier leaves two readings of it (an outlier, or the law bends "
        "there), and the interval widens; such a run would not settle the forecast."]
    with pytest.warns(UserWarning, match="not heavy-tailed, so check it with more --n-sims"):
        _warn_about_widening(out, 1e6)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _warn_about_widening(out.iloc[1:], 0.84)  # -0.004 is within twice its error (and under 1 % of the width)


def test_candidates_that_are_no_pilot_are_said(fake_fit):
    # a 50B x 1T candidate (3e23 FLOPs against a 1e22 target) ranked second, and a repeat of a run already made was not
    # flagged (a fresh user)
    cands = pd.DataFrame({"params": [5e7, 2e10, 5e10], "tokens": [2.5e8, 4e11, 1e12],
                          "label": ["repeat smallest", "near target", "bigger than the target"]})
    with pytest.warns(UserWarning) as rec:
        next_run(fake_fit, cands, {"params": 2e10, "tokens": 8e10}, random_seed=0, n_sims=8)
    said = [str(r.message) for r in rec if "no pilot" in str(r.message) or "already made" in str(r.message)]
    assert said == [
        "2 candidate(s) cost as much as the target run or more (9.6e+21 FLOPs): near target, bigger than the target; a "
        "run that large is no pilot, training the target itself answers the question.",
        "1 candidate(s) repeat a run already made: repeat smallest; a repeat measures the run-to-run noise, not the "
        "law."]


def test_candidates_a_refit_would_leave_out_are_said(fake_fit):
    # a refit leaves runs below the fit's tokens-per-parameter bound out, so their shrinkage would not happen
    import dataclasses

    fit = dataclasses.replace(fake_fit, min_tokens_per_param=1.0)
    cands = pd.DataFrame({"params": [2e8, 1e8], "tokens": [1e8, 2e9], "label": ["half a token", "twenty tokens"]})
    with pytest.warns(UserWarning) as rec:
        next_run(fit, cands, {"params": 2e10, "tokens": 8e10}, random_seed=0, n_sims=8)
    said = [str(r.message) for r in rec if "per parameter" in str(r.message)]
    assert said == [
        "1 candidate(s) train on fewer than 1 token per parameter: half a token; a refit with this fit's settings leaves "
        "such runs out (min_tokens_per_param, --min-tokens-per-param), so the shrinkage shown for them would not happen."]
    with warnings.catch_warnings(record=True) as rec0:
        warnings.simplefilter("always")
        next_run(fake_fit, cands, {"params": 2e10, "tokens": 8e10}, random_seed=0, n_sims=8)  # bound 0: fits every run
    assert not [r for r in rec0 if "per parameter" in str(r.message)]


def test_a_target_below_the_fits_tokens_per_parameter_bound_is_said(fake_fit):
    # a fresh user's next-run target at 0.5 tokens per parameter was ranked for without a word, where predict warns
    import dataclasses

    fit = dataclasses.replace(fake_fit, min_tokens_per_param=1.0)
    cands = pd.DataFrame({"params": [1e8], "tokens": [2e9], "label": ["twenty tokens"]})
    with pytest.warns(bs.ExtrapolationWarning) as rec:
        next_run(fit, cands, {"params": 1e10, "tokens": 5e9}, random_seed=0, n_sims=8)
    said = [str(r.message) for r in rec if issubclass(r.category, bs.ExtrapolationWarning)]
    assert said == [
        "1 target(s) are trained on fewer than 1 token per parameter (down to 0.5), the regime the fit leaves its runs "
        "out of (min_tokens_per_param=1): there the loss depends on the warm-up and schedule more than on size and "
        "data, and the forecast extrapolates the law of better-trained runs, with an error that grows with the depth "
        "below the bound (measured on the runs the fit left out there); such runs still fall outside "
        "the interval more often than others."]
    with warnings.catch_warnings(record=True) as rec0:  # a target far beyond the runs is what next-run is for
        warnings.simplefilter("always")
        next_run(fit, cands, {"params": 7e10, "tokens": 1.4e12}, random_seed=0, n_sims=8)
    assert not [r for r in rec0 if issubclass(r.category, bs.ExtrapolationWarning)]


def test_a_new_domains_candidates_share_one_width_now_and_the_targets_draws(fake_hier_fit):
    # a fresh user's five candidates for one target in a new domain had width_now 0.955-1.023: the new domain's
    # parameters were drawn once for the candidate and again for the target, so the reweighting said nothing of it
    cands = pd.DataFrame({"params": [1e8, 3e8, 1e9], "tokens": [2e9, 6e9, 2e10]})
    target = {"params": 7e9, "tokens": 1.4e11}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = next_run(fake_hier_fit, cands, target, domain="legal-contracts", random_seed=3, n_sims=8)
    assert out["width_now"].nunique() == 1
    from bayes_scaling.predict import keyed_predictive_draws

    mean_t, _ = keyed_predictive_draws(fake_hier_fit, pd.DataFrame([target]), "legal-contracts", 3)
    lt = np.exp(mean_t[:, 0])
    lo, hi = np.quantile(lt, [0.05, 0.95], method="inverted_cdf")
    assert out["width_now"].iloc[0] == pytest.approx((hi - lo) / np.median(lt), rel=1e-9)  # predict's draws of it
    # a candidate at the target itself pins the target: its interval shrinks most (it could not with other draws)
    near = pd.concat([cands, pd.DataFrame([target])], ignore_index=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ranked = next_run(fake_hier_fit, near, target, domain="legal-contracts", random_seed=3, n_sims=8,
                          rank_by="absolute")
    assert ranked.loc[ranked["shrinkage"].idxmax(), "params"] == 7e9
    assert ranked["shrinkage"].max() > 0.5 * ranked["width_now"].iloc[0]
