"""bayes_scaling.diagnostics (issue 7): failed sampling is reported once, in plain words with an action;
``strict`` raises. Real failing fits are in test_fit.py, the CLI's exit code 3 in test_cli.py."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import xarray as xr

from bayes_scaling.diagnostics import (
    ConvergenceWarning,
    Diagnostics,
    SamplingError,
    check_convergence,
)

RHAT_ACTION = "Run more draws (draws=2000, tune=2000) or use a more informative prior."
DIV_ACTION = "Try target_accept=0.95, a more informative prior, or check the runs for outliers."


def _tree(a: np.ndarray, diverging: np.ndarray | None = None, seed: int = 0) -> xr.DataTree:
    """Posterior with a scalar 'a' (given) and a well-mixed vector 'b' (iid normal)."""
    rng = np.random.default_rng(seed)
    post = xr.Dataset(
        {"a": (("chain", "draw"), a), "b": (("chain", "draw", "k"), rng.normal(size=(*a.shape, 2)))},
        coords={"chain": np.arange(a.shape[0]), "draw": np.arange(a.shape[1])},
    )
    groups = {"posterior": post}
    if diverging is not None:
        groups["sample_stats"] = xr.Dataset({"diverging": (("chain", "draw"), diverging)})
    return xr.DataTree.from_dict(groups)


def _check(tree, **kw):
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        diag = check_convergence(tree, ["a", "b"], **kw)
    conv = [str(w.message) for w in rec if issubclass(w.category, ConvergenceWarning)]
    return diag, conv


# ----------------------------------------------------------------------------- synthetic, deterministic


def test_well_mixed_chains_pass_silently():
    rng = np.random.default_rng(1)
    diag, conv = _check(_tree(rng.normal(size=(4, 1000)), np.zeros((4, 1000), bool)))
    assert conv == []
    assert diag.ok and diag.problems == []
    assert diag.max_rhat < 1.01 and diag.min_ess_bulk > 400 and diag.divergences == 0
    assert diag.n_draws == 4000
    assert list(diag.table.index) == ["a", "b"]


def test_chains_with_different_means_give_one_rhat_warning():
    rng = np.random.default_rng(2)
    a = rng.normal(size=(4, 1000))
    a[2:] += 3.0  # two chains found another mode
    diag, conv = _check(_tree(a))
    assert not diag.ok
    assert diag.max_rhat > 1.5
    assert diag.table["r_hat"].idxmax() == "a"
    rhat_msg = (f"R-hat is {diag.max_rhat:.3f} for 'a' (should be <= 1.01): the chains disagree, so the posterior is "
                f"not reliable. {RHAT_ACTION}")
    assert diag.problems[0] == rhat_msg
    assert diag.problems[1].startswith("effective sample size is ") and "for 'a' (should be >= 400)" in diag.problems[1]
    assert diag.problems[1].endswith("interval ends are noisy. Run more draws (draws=4000).")  # at most 4x
    assert conv == ["Sampling problems: " + " ".join(diag.problems)]  # reported once, every problem in one warning


def test_rhat_failure_raises_under_strict():
    rng = np.random.default_rng(2)
    a = rng.normal(size=(4, 1000))
    a[2:] += 3.0
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)  # strict raises instead of warning
        with pytest.raises(SamplingError) as e:
            check_convergence(_tree(a), ["a", "b"], strict=True)
    assert str(e.value).startswith("Sampling problems: R-hat is ")
    assert RHAT_ACTION in str(e.value)


@pytest.mark.parametrize("used, advice", [
    (0.8, "Try target_accept=0.95, a more informative prior"),
    (0.95, "Try target_accept=0.99, a more informative prior"),
    (0.99, "Try a more informative prior"),
])
def test_divergence_advice_names_a_higher_target_accept_than_the_one_used(used, advice):
    rng = np.random.default_rng(3)
    div = np.zeros((4, 1000), bool)
    div[0, :9] = True
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        diag = check_convergence(_tree(rng.normal(size=(4, 1000)), div), ["a", "b"], target_accept=used)
    assert diag.problems == [
        "9 divergent transitions: the sampler could not follow the posterior everywhere, so intervals may be "
        f"wrong. {advice}, or check the runs for outliers."
    ]


def test_a_few_divergences_are_counted_but_below_two_per_mille_they_are_not_a_problem():
    rng = np.random.default_rng(3)
    div = np.zeros((4, 1000), bool)
    div.flat[rng.choice(4000, 7, replace=False)] = True  # 7 < 0.2 % of 4000 draws
    diag, conv = _check(_tree(rng.normal(size=(4, 1000)), div))
    assert diag.divergences == 7 and diag.ok and diag.problems == [] and conv == []


@pytest.mark.parametrize("n_div, word", [(8, "8 divergent transitions:"), (40, "40 divergent transitions:")])
def test_divergences_are_counted_and_explained(n_div, word):
    rng = np.random.default_rng(3)
    div = np.zeros((4, 1000), bool)
    div.flat[rng.choice(4000, n_div, replace=False)] = True
    diag, conv = _check(_tree(rng.normal(size=(4, 1000)), div))
    assert diag.divergences == n_div
    assert not diag.ok
    assert diag.problems == [
        f"{word} the sampler could not follow the posterior everywhere, so intervals may be wrong. {DIV_ACTION}"
    ]
    assert conv == [f"Sampling problems: {diag.problems[0]}"]
    with pytest.raises(SamplingError, match=word):
        check_convergence(_tree(rng.normal(size=(4, 1000)), div), ["a", "b"], strict=True)


def test_low_effective_sample_size():
    rng = np.random.default_rng(4)
    a = np.empty((4, 1000))
    a[:, 0] = rng.normal(size=4)
    for t in range(1, 1000):  # AR(1) with rho = 0.995: ~2-3 effective draws per 1000
        a[:, t] = 0.995 * a[:, t - 1] + np.sqrt(1 - 0.995**2) * rng.normal(size=4)
    diag, conv = _check(_tree(a))
    assert not diag.ok
    ess_msgs = [p for p in diag.problems if p.startswith("effective sample size is")]
    assert len(ess_msgs) == 1
    assert f"is {min(diag.min_ess_bulk, diag.min_ess_tail):.0f} for 'a' (should be >= 400)" in ess_msgs[0]
    assert len(conv) == 1


def test_stuck_sampler_is_a_failure_not_a_pass():
    """Draws that never move give NaN R-hat; NaN must not compare as 'fine'."""
    diag, conv = _check(_tree(np.full((4, 1000), 0.3)))
    assert not diag.ok
    assert diag.problems[0] == (
        "the draws of 'a' do not move (a stuck sampler) or are not finite, so R-hat and effective sample size are "
        "meaningless and the posterior is not usable. Run more warm-up draws (tune=2000), check the runs for errors, "
        "or use a more informative prior."
    )
    assert len(conv) == 1


def test_stuck_single_chain_is_detected():
    diag, _ = _check(_tree(np.full((1, 500), 1.0)))
    assert not diag.ok and "the draws of 'a' do not move" in diag.problems[0]


def test_non_finite_draws_are_a_failure():
    rng = np.random.default_rng(5)
    a = rng.normal(size=(4, 1000))
    a[1, 10] = np.nan
    diag, _ = _check(_tree(a))
    assert not diag.ok and "the draws of 'a' do not move (a stuck sampler) or are not finite" in diag.problems[0]


def test_bound_check_reports_mass_outside_range():
    rng = np.random.default_rng(6)
    a = np.abs(rng.normal(size=(4, 1000))) + 0.01
    a.flat[rng.permutation(4000)[:1000]] *= -1  # exactly 25 % below the lower bound, spread over all chains
    diag, conv = _check(_tree(a), bound_checks={"a": (0.0, 10.0)})
    assert diag.problems == [
        "the posterior of 'a' has 25% of its mass outside its plausible range [0, 10]: the runs do not constrain it. "
        "Add runs over a wider range of sizes or use a published prior."
    ]
    assert len(conv) == 1


def test_diagnostics_round_trip_keeps_the_failure():
    rng = np.random.default_rng(2)
    a = rng.normal(size=(4, 1000))
    a[2:] += 3.0
    diag, _ = _check(_tree(a))
    back = Diagnostics.from_dict(json.loads(json.dumps(diag.to_dict())))
    assert back.ok is False and back.problems == diag.problems and back.max_rhat == pytest.approx(diag.max_rhat)


@pytest.mark.parametrize("value, text", [(1.0103, "1.0103"), (1.034, "1.034"), (1.01001, "1.01001"), (1.2, "1.200")])
def test_rhat_in_messages_never_rounds_down_to_the_limit(value, text):
    from bayes_scaling.diagnostics import _above

    assert _above(value, 1.01) == text


# ----------------------------------------------------------------------------- tree depth


def _tree_with_depth_hits(hits: np.ndarray, key: str) -> xr.DataTree:
    rng = np.random.default_rng(5)
    tree = _tree(rng.normal(size=hits.shape))
    tree["sample_stats"] = xr.DataTree(xr.Dataset({key: (("chain", "draw"), hits)}))
    return tree


@pytest.mark.parametrize("key", ["maxdepth_reached", "reached_max_treedepth"])  # nutpie, PyMC
def test_tree_depth_hits_are_counted_and_reported_above_five_percent(key):
    hits = np.zeros((4, 1000), bool)
    hits.flat[:200] = True  # 5 % exactly: counted, not a problem
    diag, conv = _check(_tree_with_depth_hits(hits, key))
    assert diag.treedepth_hits == 200 and diag.ok and conv == []
    hits.flat[:201] = True
    diag, conv = _check(_tree_with_depth_hits(hits, key))
    assert diag.treedepth_hits == 201 and not diag.ok
    assert diag.problems == [
        "201 of 4000 draws hit the maximum tree depth: the sampler took its longest allowed trajectories, so it "
        "explores slowly. Raise max_treedepth (SamplerConfig(max_treedepth=10))."
    ]
    assert Diagnostics.from_dict(json.loads(json.dumps(diag.to_dict()))).treedepth_hits == 201


def test_rhat_text_never_rounds_a_failure_to_the_limit():
    # "max R-hat 1.010 ... sampling diagnostics flagged problems" for 1.0103 (a fresh user's backtest notes)
    from bayes_scaling.diagnostics import Diagnostics

    def d(r):
        return Diagnostics(ok=r <= 1.01, max_rhat=r, min_ess_bulk=500.0, min_ess_tail=500.0, divergences=0, n_draws=4000)

    assert [d(r).rhat_text for r in (1.0103, 1.01, 1.004, 1.01004, 1.53)] == ["1.0103", "1.010", "1.004", "1.01004",
                                                                               "1.530"]


def test_ess_advice_asks_for_the_draws_the_effective_sample_size_needs():
    """"Run more draws (draws=2000)" was advised to a fit that had drawn 2000 per chain after its retry and had an
    effective sample size of 364 (a fresh user); the advice now scales the draws used by the shortfall."""
    rng = np.random.default_rng(3)
    a = np.zeros((4, 2000))
    for c in range(4):  # AR(1) chains with the same mean: R-hat fine, effective sample size low
        e = rng.normal(size=2000)
        for t in range(1, 2000):
            a[c, t] = 0.95 * a[c, t - 1] + e[t]
    diag, _ = _check(_tree(a))
    ess = min(diag.min_ess_bulk, diag.min_ess_tail)
    assert 100 < ess < 400 and diag.max_rhat <= 1.01
    expect = max(2000, min(int(np.ceil(1.25 * 2000 * 400 / ess / 500)) * 500, 8000))
    assert expect > 2000
    assert diag.problems[-1].endswith(f"interval ends are noisy. Run more draws (draws={expect}).")


def test_rhat_advice_doubles_the_draws_used_and_adds_a_calmer_sampler_when_some_draws_diverged():
    # "Run more draws (draws=2000)" after a retry with 2000, then the divergence limit, then target_accept: a fresh
    # user needed three reruns to find the settings
    rng = np.random.default_rng(2)
    a = rng.normal(size=(4, 3000))
    a[2:] += 3.0
    div = np.zeros((4, 3000), bool)
    div.flat[rng.choice(12000, 5, replace=False)] = True  # 5 < 0.2 % of 12000: not a problem of its own
    diag, _ = _check(_tree(a, div), target_accept=0.9)
    assert diag.problems[0].endswith("the chains disagree, so the posterior is not reliable. Run more draws "
                                     "(draws=6000, tune=6000) and target_accept=0.95 (5 draws diverged) or use a more "
                                     "informative prior.")
