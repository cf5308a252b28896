"""bayes_scaling.decisions: the compute-optimal frontier (closed form and search, constraints), comparing
candidate runs; on the real Chinchilla fit (slow), the published allocation band and the far discrepancy."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import bayes_scaling as bs
from bayes_scaling.decisions import compare, frontier, optimal_allocation_draws

FRONTIER_COLUMNS = ["flops"] + [f"{k}_{s}" for k in ("params_opt", "tokens_opt", "tokens_per_param", "loss_opt")
                                for s in ("median", "lower", "upper")] + ["domain"]


def test_closed_form_frontier_matches_numeric_search(fake_fit):
    fit = fake_fit
    th = fit.theta(fit.default_domain)[:200]
    closed = optimal_allocation_draws(fit, np.array([1e21, 1e24]), th)
    numeric = optimal_allocation_draws(fit, np.array([1e21, 1e24]), th, max_params=1e30)
    np.testing.assert_allclose(closed["params_opt"], numeric["params_opt"], rtol=1e-5)
    np.testing.assert_allclose(closed["loss_opt"], numeric["loss_opt"], rtol=1e-9)


def test_frontier_is_the_known_law_optimum(fake_fit):
    """The posterior centre is the law E=1.8, A=480, B=2000, alpha=0.35, beta=0.37 (Hoffmann et al. 2022, Eq. 4)."""
    fr = frontier(fake_fit, [1e21, 5.88e23])
    assert list(fr.columns) == FRONTIER_COLUMNS and fr.attrs["prob"] == 0.9
    n_opt, d_opt = bs.laws.compute_optimal_chinchilla(np.array([1e21, 5.88e23]), 480.0, 2000.0, 0.35, 0.37)
    np.testing.assert_allclose(fr["params_opt_median"], n_opt, rtol=0.05)
    np.testing.assert_allclose(fr["tokens_per_param_median"], d_opt / n_opt, rtol=0.1)
    np.testing.assert_allclose(6 * fr["params_opt_median"] * fr["tokens_opt_median"], fr["flops"], rtol=0.05)
    assert (fr["params_opt_lower"] < fr["params_opt_median"]).all() and (fr["params_opt_median"] < fr["params_opt_upper"]).all()


def test_constraints_cap_the_model_and_charge_inference(fake_fit):
    free = frontier(fake_fit, [1e24])
    capped = frontier(fake_fit, [1e24], max_params=1e10)
    assert capped["params_opt_upper"].iloc[0] <= 1e10 * (1 + 1e-9) < free["params_opt_median"].iloc[0]
    assert capped["loss_opt_median"].iloc[0] > free["loss_opt_median"].iloc[0]  # the cap costs loss
    serving = frontier(fake_fit, [1e24], inference_tokens=1e13)
    assert serving["params_opt_median"].iloc[0] < free["params_opt_median"].iloc[0]  # serving favours smaller models


@pytest.mark.parametrize("budgets, message", [
    ([0.0], "budgets must be positive finite FLOP counts"),
    ([], "budgets must be positive finite FLOP counts"),
    ([24.0], "budgets look like PF-days or exponents"),
])
def test_frontier_rejects_budgets_that_are_not_flops(fake_fit, budgets, message):
    with pytest.raises(ValueError, match=message):
        frontier(fake_fit, budgets)


def test_frontier_of_a_new_domain_is_wider(fake_hier_fit):
    fitted = frontier(fake_hier_fit, [1e22], domain="books")
    new = frontier(fake_hier_fit, [1e22], domain="unseen")
    assert new["domain"].iloc[0] == "unseen"
    width = lambda f: float(f["loss_opt_upper"].iloc[0] - f["loss_opt_lower"].iloc[0])  # noqa: E731
    assert width(new) > 2 * width(fitted)


def test_compare_ranks_candidates_under_the_same_draws(fake_fit):
    c = 1e22
    n_opt = float(frontier(fake_fit, [c])["params_opt_median"].iloc[0])
    cands = pd.DataFrame({"label": ["half", "optimum", "double"], "params": [0.25 * n_opt, n_opt, 4 * n_opt]})
    cands["tokens"] = c / (6 * cands["params"])
    res = compare(fake_fit, cands)
    assert res["p_best"].sum() == pytest.approx(1.0)
    best = res.sort_values("rank").iloc[0]
    assert best["label"] == "optimum" and best["p_best"] > 0.9
    assert (res["expected_gap"] >= 0).all() and res.set_index("label").loc["optimum", "expected_gap"] < 1e-3
    with pytest.raises(bs.RunsTableError, match="compare needs at least two candidate runs"):
        compare(fake_fit, cands.iloc[:1])


@pytest.mark.slow
def test_frontier_matches_besiroglu_band(chinchilla_fit):
    fr = chinchilla_fit.frontier([5.88e23], prob=0.8).iloc[0]
    # Besiroglu et al. (2024) bootstrap 10th-90th percentile of D/N at 5.88e23: 9.9-29.0
    assert 9.9 <= fr["tokens_per_param_median"] <= 29.0
    assert fr["tokens_per_param_lower"] < fr["tokens_per_param_median"] < fr["tokens_per_param_upper"]
    # The README's figure for this fit (weak prior, seed 1, default sampler): N_opt 91B (81-101B), 11.9 tokens per
    # parameter (9.5-14.9), 90 % intervals. Tolerance = the README's rounding + 4 Monte Carlo standard errors: the
    # interval gives a posterior sd of about (101 - 81) / 3.29 = 6.1B (tokens per parameter: 1.6); with a bulk ESS of
    # >= 700 the MCSE of the median is about 1.25 sd / sqrt(ESS) = 0.3B (0.08) and of a 5 % quantile about
    # 0.08 sd = 0.5B (0.13).
    q = chinchilla_fit.frontier([5.88e23], prob=0.9).iloc[0]
    assert q["params_opt_median"] == pytest.approx(91e9, abs=0.5e9 + 4 * 0.3e9)
    assert q["params_opt_lower"] == pytest.approx(81e9, abs=0.5e9 + 4 * 0.5e9)
    assert q["params_opt_upper"] == pytest.approx(101e9, abs=0.5e9 + 4 * 0.5e9)
    assert q["tokens_per_param_median"] == pytest.approx(11.9, abs=0.05 + 4 * 0.08)
    assert q["tokens_per_param_lower"] == pytest.approx(9.5, abs=0.05 + 4 * 0.13)
    assert q["tokens_per_param_upper"] == pytest.approx(14.9, abs=0.05 + 4 * 0.13)


@pytest.mark.slow
def test_far_discrepancy_is_one_offset_so_frontier_and_compare_agree(chinchilla_fit):
    """Beyond the runs the discrepancy is held at its edge value (one offset per draw): the frontier's optimum
    is the best of a split of the same budget, and the uncapped optimal loss falls with compute."""
    fit = chinchilla_fit
    basis = fit.bases["chinchilla"]
    x_far = fit.law.inputs(pd.DataFrame({"params": [7e10], "tokens": [1.4e12]}), fit.refs)
    x_in = fit.law.inputs(fit.runs.iloc[:5], fit.refs)
    held = basis.clip_to_runs(x_far)
    assert all(held[v][0] == pytest.approx(c + h) for v, c, h in zip(basis.variables, basis.centre, basis.half_range))
    for v in basis.variables:
        np.testing.assert_array_equal(basis.clip_to_runs(x_in)[v], x_in[v])
    fr = fit.frontier([1e23, 5.88e23, 1e24, 1e25])
    assert (np.diff(fr["loss_opt_median"].to_numpy()) < 0).all()
    n_opt = float(fr.loc[1, "params_opt_median"])
    cands = pd.DataFrame({"params": [0.5 * n_opt, n_opt, 2 * n_opt]})
    cands["tokens"] = 5.88e23 / (6 * cands["params"])
    res = compare(fit, cands)
    best = res.sort_values("rank").iloc[0]
    assert best["params"] == pytest.approx(n_opt)
    assert best["p_best"] > 0.8
