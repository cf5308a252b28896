"""Investment decisions (bayes_scaling.investment) with known answers, on synthetic posterior draws (no sampling)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bayes_scaling.costs import CostModel, ValueModel
from bayes_scaling.investment import CLOSE_CALL, STATUS_QUO, cost_frontier, decide, pilot_value, staged_decision
from bayes_scaling.laws import compute_optimal_chinchilla

S = 4000
COSTS = CostModel(price_per_flop=1e-18, currency="USD")  # 1 USD per EFLOP


@pytest.fixture
def plans():
    return pd.DataFrame({"label": ["A", "B", "C"], "params": [1e9, 3e9, 7e9], "tokens": [2e10, 6e10, 1.4e11]})


def _accuracy_draws(rng, means, sd=0.02, common=0.03):
    # a shared factor (the same posterior draw moves every plan) plus plan-specific spread
    z = rng.standard_normal((S, 1))
    return np.asarray(means)[None, :] + common * z + sd * rng.standard_normal((S, len(means)))


def test_zero_value_never_pays_off(plans):
    rng = np.random.default_rng(0)
    m = _accuracy_draws(rng, [0.6, 0.65, 0.7])
    d = decide(m, plans, COSTS, ValueModel.zero())
    t = d.table.set_index("label")
    assert (t.loc[["A", "B", "C"], "total_cost"] > 0).all()
    assert (t.loc[["A", "B", "C"], "p_pays_off"] == 0.0).all()
    assert d.recommended == STATUS_QUO
    assert t.loc[STATUS_QUO, "p_best"] == 1.0 and d.evpi == 0.0


def test_plan_dominated_in_metric_and_cost_is_never_best():
    rng = np.random.default_rng(1)
    base = _accuracy_draws(rng, [0.62, 0.70])
    worse = base[:, [1]] - np.abs(rng.normal(0.01, 0.01, (S, 1)))  # lower accuracy in every draw ...
    m = np.hstack([base, worse])
    plans = pd.DataFrame({"label": ["small", "big", "big_worse"], "params": [1e9, 7e9, 8e9],
                          "tokens": [2e10, 1.4e11, 1.4e11]})  # ... and a higher cost than 'big'
    for value in (ValueModel(baseline=0.6, money_per_unit=50.0, unit=0.01),
                  ValueModel(table=((0.6, 0.0), (0.65, 300.0), (0.75, 900.0))),
                  ValueModel(baseline=0.6, money_per_unit=50.0, unit=0.01, keep_current=False)):
        d = decide(m, plans, COSTS, value)
        t = d.table.set_index("label")
        assert t.loc["big_worse", "p_best"] == 0.0
        assert t.loc["big_worse", "expected_regret"] > t.loc["big", "expected_regret"]


def test_decide_table_by_hand():
    # two plans with deterministic accuracy: the net values are known exactly
    plans = pd.DataFrame({"label": ["A", "B"], "params": [1e9, 2e9], "tokens": [1e10, 1e10]})
    cost = COSTS.total_cost(plans["params"], plans["tokens"])  # 60 and 120 USD
    m = np.tile([0.61, 0.63], (S, 1))
    v = ValueModel(baseline=0.60, money_per_unit=50.0, unit=0.01)  # 50 and 150 USD
    d = decide(m, plans, COSTS, v)
    t = d.table.set_index("label")
    assert t.loc["A", "net_value_mean"] == pytest.approx(50.0 - cost[0])
    assert t.loc["B", "net_value_mean"] == pytest.approx(150.0 - cost[1])
    assert d.recommended == "B" and t.loc["B", "p_best"] == 1.0 and t.loc["B", "p_pays_off"] == 1.0
    assert t.loc["A", "expected_regret"] == pytest.approx(30.0 - (-10.0))
    assert "Plan B has the highest expected net value, 30 USD" in d.summary_text()


def test_p_pays_off_matches_the_normal_answer():
    # accuracy ~ N(0.65, 0.02): value 100 USD per point above 0.60 -> net value ~ N(500 - cost, 200)
    rng = np.random.default_rng(3)
    plans = pd.DataFrame({"label": ["A"], "params": [1e9], "tokens": [7.5e10]})  # cost 450 USD
    m = 0.65 + 0.02 * rng.standard_normal((200_000, 1))
    d = decide(m, plans, COSTS, ValueModel(baseline=0.60, money_per_unit=100.0, unit=0.01, keep_current=False))
    from scipy import stats

    expect = 1 - stats.norm.cdf(0, loc=50.0, scale=200.0)
    assert d.table.set_index("label").loc["A", "p_pays_off"] == pytest.approx(expect, abs=0.005)


def _pilot_setup(rng, informative=True):
    # one unknown theta ~ N(0, 1) decides which plan is better; a pilot observes theta + noise
    theta = rng.standard_normal(S)
    v = np.column_stack([10.0 * theta, -10.0 * theta, np.zeros(S)])
    return theta, v


def test_evsi_is_nonnegative_and_bounded_by_evpi():
    rng = np.random.default_rng(4)
    theta, v = _pilot_setup(rng)
    evpi = np.mean(v.max(1)) - v.mean(0).max()
    for sd in (0.1, 1.0, 10.0):
        res = pilot_value(v, theta, np.full(S, sd), n_sims=200, rng=np.random.default_rng(5))
        assert res["evsi"] >= 0.0
        assert res["evsi"] <= evpi + 0.5
    sharp = pilot_value(v, theta, np.full(S, 0.05), rng=np.random.default_rng(6))["evsi"]
    vague = pilot_value(v, theta, np.full(S, 20.0), rng=np.random.default_rng(6))["evsi"]
    assert sharp > 5 * vague  # a precise pilot is worth more than a vague one
    # the exact EVSI of observing theta perfectly is E|10 theta| = 10 sqrt(2/pi) = 7.98
    assert sharp == pytest.approx(10 * np.sqrt(2 / np.pi), rel=0.1)


def test_evsi_is_zero_when_the_pilot_cannot_change_the_decision():
    rng = np.random.default_rng(7)
    theta = rng.standard_normal(S)
    # plan 0 beats plan 1 and the status quo in every draw: no outcome can change the choice
    v = np.column_stack([5.0 + theta, 2.0 + theta, np.zeros(S) - 100.0])
    res = pilot_value(v, theta, np.full(S, 0.1), pilot_cost=1.0, n_sims=300, rng=rng)
    assert res["evsi"] == 0.0
    assert res["p_change"] == 0.0
    assert res["pilot_net_value"] == -1.0
    # a pilot that is independent of the values has (numerically) no value either
    noise = rng.standard_normal(S)
    _, v2 = _pilot_setup(rng)
    res2 = pilot_value(v2, noise, np.full(S, 0.5), n_sims=300, rng=rng)
    assert 0.0 <= res2["evsi"] < 0.5  # vs EVPI ~8: only the weights' Monte Carlo noise


def test_staged_decision_ranks_pilots_and_reports_them(plans):
    rng = np.random.default_rng(8)
    theta = rng.standard_normal(S)
    m = np.column_stack([0.62 + 0.0 * theta, 0.65 + 0.03 * theta, 0.70 + 0.06 * theta])
    d = decide(m, plans, COSTS, ValueModel(baseline=0.60, money_per_unit=200.0, unit=0.01))
    pilots = pd.DataFrame({"label": ["precise", "vague", "costly"], "params": [1e8, 1e8, 1e10],
                           "tokens": [2e9, 2e9, 2e11]})
    sds = {"precise": 0.1, "vague": 30.0, "costly": 0.1}

    def observe(row):
        return theta, np.full(S, sds[row["label"]]), None

    out = staged_decision(d, pilots, observe, COSTS, n_sims=200)
    t = out.set_index("label")
    assert out["label"].iloc[0] == "precise"
    assert t.loc["precise", "worth_it"] and not t.loc["costly", "worth_it"]  # costly: 12000 USD for the same information
    assert t.loc["precise", "evsi"] == pytest.approx(t.loc["costly", "evsi"], rel=0.5)
    assert t.loc["precise", "pilot_cost"] == pytest.approx(6 * 1e8 * 2e9 * 1e-18)
    text = d.summary_text()
    assert "Running the pilot 'precise' first would change the decision with probability" in text
    assert "Running the pilot 'costly' first would change the decision" in text and "is not worth its cost" in text


def test_cost_frontier_matches_the_flop_frontier_without_data_or_inference_costs():
    # Chinchilla law with known parameters (Besiroglu et al. 2024 point estimate); draws = one point
    E, A, B, alpha, beta = 1.82, 482.0, 2085.0, 0.3478, 0.3658
    rng = np.random.default_rng(9)
    jitter = 1 + 0.02 * rng.standard_normal((50, 1))

    def draws_fn(t):
        n, d = t["params"].to_numpy()[None, :], t["tokens"].to_numpy()[None, :]
        return E + jitter * (A / n**alpha) + B / d**beta

    budgets = np.array([1e3, 1e5, 1e7])  # USD at 1e-18 USD/FLOP -> C = 1e21, 1e23, 1e25
    fr = cost_frontier(draws_fn, budgets, COSTS, n_grid=400, params_range=(1e7, 1e13))
    n_opt, _ = compute_optimal_chinchilla(budgets / 1e-18, A, B, alpha, beta)
    step = (1e13 / 1e7) ** (1 / 399)
    assert np.all(np.abs(np.log(fr["params_best"] / n_opt)) < 2 * np.log(step))
    assert not fr["at_grid_edge"].any()
    assert fr["flops"].to_numpy() == pytest.approx(budgets / 1e-18, rel=1e-9)


def test_cost_frontier_inference_cost_pushes_to_smaller_models():
    E, A, B, alpha, beta = 1.82, 482.0, 2085.0, 0.3478, 0.3658

    def draws_fn(t):
        n, d = t["params"].to_numpy()[None, :], t["tokens"].to_numpy()[None, :]
        return E + A / n**alpha + B / d**beta

    served = CostModel(price_per_flop=1e-18, tokens_served=1e13)
    plain = cost_frontier(draws_fn, [1e6], COSTS, n_grid=200)
    with_inf = cost_frontier(draws_fn, [1e6], served, n_grid=200)
    assert with_inf["params_best"].iloc[0] < 0.8 * plain["params_best"].iloc[0]
    # with a value model the frontier says whether a budget pays off
    v = ValueModel(metric="loss", higher_is_better=False, baseline=2.6, money_per_unit=1e6, unit=0.01)
    fv = cost_frontier(draws_fn, [1e4, 1e6, 1e9], COSTS, v, n_grid=100)
    assert {"net_value_mean", "p_pays_off", "spend"} <= set(fv.columns)
    # a budget is a cap: a billion is not spent on a loss gain worth at most 260 M, and a larger budget never has a
    # lower expected net value (it spent the whole budget: net value fell as the budget grew; a fresh user)
    assert (fv["spend"] <= fv["budget"] * (1 + 1e-12)).all()
    assert fv["spend"].iloc[-1] < 1e8
    assert np.all(np.diff(fv["net_value_mean"].to_numpy()) >= -0.01 * fv["net_value_mean"].abs().max())
    assert fv["net_value_mean"].iloc[-1] > 0 and fv["p_pays_off"].iloc[-1] > 0.5


def test_cost_frontier_budget_that_buys_nothing_is_a_row_not_an_error():
    """A budget below the fixed cost: the row says so; the other budgets and the decision are kept (the whole
    decide run had stopped with an error)."""
    def draws_fn(t):
        return 2.0 + 0.0 * t["params"].to_numpy()[None, :] * np.ones((10, 1))

    fixed = CostModel(price_per_flop=1e-18, fixed_cost_per_run=5e3)
    fr = cost_frontier(draws_fn, [1e3, 1e5], fixed, n_grid=20)
    assert fr["affordable"].tolist() == [False, True]
    assert np.isnan(fr["params_best"].iloc[0]) and fr["params_best"].iloc[1] > 0


def test_bad_plans_get_clear_errors(plans):
    m = np.zeros((10, 3)) + 0.6
    v = ValueModel(baseline=0.5, money_per_unit=1.0)
    with pytest.raises(ValueError, match=r"plans table is missing column\(s\) \['tokens'\]"):
        decide(m, plans.drop(columns="tokens"), COSTS, v)
    with pytest.raises(ValueError, match=r"metric_draws must have shape \(S, 3\)"):
        decide(m[:, :2], plans, COSTS, v)
    with pytest.raises(ValueError, match=r"the value model is in EUR but the costs are in USD"):
        decide(m, plans, COSTS, ValueModel(baseline=0.5, money_per_unit=1.0, currency="EUR"))
    bad = plans.copy()
    bad.loc[1, "params"] = -1
    with pytest.raises(ValueError, match=r"^plans column 'params' row 1: -1.0 is not a positive number.$"):
        decide(m, bad, COSTS, v)


def test_summary_says_how_often_the_recommended_plan_beats_the_runner_up():
    """B at 359 k and C at 356 k USD, best with probability 0.44 and 0.48, read as a clear pick (a fresh user)."""
    plans = pd.DataFrame({"label": ["A", "B"], "params": [1e9, 1e9], "tokens": [1e10, 1e10]})  # the same cost
    v = ValueModel(baseline=0.50, money_per_unit=1000.0, unit=0.01)
    rng = np.random.default_rng(0)
    tied = _accuracy_draws(rng, [0.7, 0.7005], sd=0.02)
    text = decide(tied, plans, COSTS, v).summary_text()
    beats = np.mean(tied[:, 1] > tied[:, 0])
    assert 0.5 < beats < CLOSE_CALL == 0.6
    assert (f"It beats the runner-up, A (expected net value" in text
            and f"in {100 * beats:.0f} % of the draws, nearly a coin toss: the two are about equally good, so choose "
                "between them on what the forecast leaves out, or learn more first." in text)
    clear = _accuracy_draws(rng, [0.65, 0.75], sd=0.01)
    text = decide(clear, plans, COSTS, v).summary_text()
    assert "It beats the runner-up, A (expected net value" in text and "in 100 % of the draws." in text
    assert "coin toss" not in text
    one = decide(clear[:, [1]], plans.iloc[[1]], COSTS, v).summary_text()
    assert "runner-up" not in one  # one plan (and doing nothing, which P(pays off) already weighs)
    # doing nothing as the runner-up: a plan +3 k on a 64 k bet was compared with a plan at -21 k instead (a fresh user)
    close_to_nothing = _accuracy_draws(rng, [0.40, 0.502], sd=0.01)  # A loses money, B barely pays off
    d = decide(close_to_nothing, plans, COSTS, v)
    t = d.table.set_index("label")
    assert d.recommended == "B" and t.loc["do nothing", "rank"] == 2 and 0.5 < t.loc["B", "p_pays_off"] < CLOSE_CALL
    assert (f"The runner-up is to do nothing (net value 0), which the plan beats in only "
            f"{100 * t.loc['B', 'p_pays_off']:.0f} % of the draws, nearly a coin toss" in d.summary_text())
    assert "It beats the runner-up" not in d.summary_text()


def test_pilot_evsi_is_flagged_by_the_outcomes_that_change_the_decision():
    """The flag read the single worst outcome (ess_min), which was 1 draw in every fit tried, so every decision
    printed the caveat and readers learned to skip it (a fresh user). It now reads the outcomes that make the EVSI."""
    rng = np.random.default_rng(4)
    theta, v = _pilot_setup(rng)
    sharp = pilot_value(v, theta, np.full(S, 0.001), n_sims=300, rng=np.random.default_rng(5))
    assert sharp["p_change"] > 0.2 and sharp["ess_changing"] < 50 and sharp["ess_low"]  # a near-perfect pilot
    vague = pilot_value(v, theta, np.full(S, 1.0), n_sims=300, rng=np.random.default_rng(5))
    assert vague["p_change"] > 0 and vague["ess_changing"] > 50 and not vague["ess_low"]
    # no outcome changes the choice: the EVSI is exactly 0 and nothing is flagged, however few draws the worst has
    theta = rng.standard_normal(S)
    fixed = pilot_value(np.column_stack([5.0 + theta, 2.0 + theta]), theta, np.full(S, 0.001), n_sims=300, rng=rng)
    assert fixed["evsi"] == 0.0 and fixed["ess_min"] < 50 and not fixed["ess_low"]
    assert np.isnan(fixed["ess_changing"])


def test_probability_best_splits_ties():
    """Two copies of one plan share its wins (the first had P(best) 0.98 and the copy 0; a fresh user)."""
    from bayes_scaling.investment import probability_best

    rng = np.random.default_rng(0)
    a = rng.normal(size=(4000, 1))
    draws = np.hstack([a, a, a - 1.0])
    p = probability_best(draws)
    assert p[0] == p[1] and p[2] == 0.0 and p.sum() == pytest.approx(1.0)
    assert probability_best(np.hstack([a, a + 0.5]), higher_is_better=False).tolist() == [1.0, 0.0]
    assert probability_best(np.zeros((10, 4))).tolist() == [0.25] * 4


def test_cost_frontier_a_larger_budget_never_does_worse_and_a_flat_draw_has_no_optimum():
    """Each budget searched its own grid of amounts: 1 M EUR netted 89.7 k where 150 k netted 90.1 k (a fresh user).
    And a draw whose value is 0 at every size (floored at the baseline) put its 'optimum' at the smallest size
    searched: the interval of the optimal size read 10M-2.2B at every budget."""
    E, A, B, alpha, beta = 1.82, 482.0, 2085.0, 0.3478, 0.3658
    jitter = 1 + 0.02 * np.random.default_rng(3).standard_normal((40, 1))

    def draws_fn(t):
        n, d = t["params"].to_numpy()[None, :], t["tokens"].to_numpy()[None, :]
        return E + jitter * (A / n**alpha) + B / d**beta

    v = ValueModel(metric="loss", higher_is_better=False, baseline=2.6, money_per_unit=1e3, unit=0.01)
    budgets = [1e3, 1.5e3, 2e3, 3e3, 1e4, 1e5, 1e6, 1e7]
    fr = cost_frontier(draws_fn, budgets, COSTS, v, n_grid=40)
    assert fr["affordable"].all() and np.all(np.diff(fr["net_value_mean"].to_numpy()) >= 0)
    assert fr["spend"].iloc[-1] < 1e4 and fr["net_value_mean"].iloc[-1] == fr["net_value_mean"].iloc[-4]
    nothing = ValueModel(metric="loss", higher_is_better=False, baseline=1.0, money_per_unit=1e5, unit=0.01)
    flat = cost_frontier(draws_fn, [1e4, 1e6], COSTS, nothing, n_grid=40)
    assert flat[["params_opt_median", "params_opt_lower", "params_opt_upper"]].isna().all().all()
    assert (flat["params_opt_lower"] != 1e7).all()


def test_a_plan_that_only_ties_with_doing_nothing_is_not_recommended():
    """All prices and the value zero: plan A was recommended over doing nothing at 0 USD, 'beating the runner-up in
    0 % of the draws, nearly a coin toss' (a fresh user)."""
    plans = pd.DataFrame({"label": ["A", "B"], "params": [1e9, 2e9], "tokens": [1e10, 2e10]})
    free = CostModel(price_per_flop=0.0, currency="USD")
    d = decide(np.full((S, 2), 0.7), plans, free, ValueModel.zero())
    assert d.recommended == STATUS_QUO and d.evpi == 0.0
    assert d.summary_text().startswith("No plan is expected to pay off")
