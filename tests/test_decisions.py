"""bayes_scaling.decisions: the compute-optimal frontier (closed form and search, constraints), comparing
candidate runs; on the real Chinchilla fit (slow), the published allocation band and the far discrepancy."""

from __future__ import annotations

import dataclasses
import re
import warnings

import numpy as np
import pandas as pd
import pytest

import bayes_scaling as bs
from bayes_scaling.data import RunsTableError
from bayes_scaling.decisions import compare, compare_summary, frontier, optimal_allocation_draws

FRONTIER_COLUMNS = ["flops"] + [f"{k}_{s}" for k in ("params_opt", "tokens_opt", "tokens_per_param", "loss_opt")
                                for s in ("median", "lower", "upper")] + ["domain"]


def test_closed_form_frontier_matches_numeric_search(fake_fit):
    fit = fake_fit
    th = fit.theta(fit.default_domain)[:200]
    closed = optimal_allocation_draws(fit, np.array([1e21, 1e24]), th)
    numeric = optimal_allocation_draws(fit, np.array([1e21, 1e24]), th, max_params=1e30)
    np.testing.assert_allclose(closed["params_opt"], numeric["params_opt"], rtol=1e-5)
    np.testing.assert_allclose(closed["loss_opt"], numeric["loss_opt"], rtol=1e-9)


def test_the_allocation_with_a_discrepancy_minimises_the_law_plus_it(fake_fit):
    """A discrepancy that falls with N moves each draw's optimum to a larger model: the same as a brute-force search
    of the law plus it, while the frontier's own allocation stays the law's optimum."""
    fit = fake_fit
    th = fit.theta(fit.default_domain)[:50]
    budgets = np.array([1e21, 1e23])

    def tilt(x):  # -0.02 per e-fold of N (log loss), per draw
        return -0.02 * x["params"]

    law = optimal_allocation_draws(fit, budgets, th, discrepancy=tilt)
    closed = optimal_allocation_draws(fit, budgets, th)
    np.testing.assert_allclose(law["params_opt"], closed["params_opt"], rtol=1e-12)  # the law's optimum
    moved = optimal_allocation_draws(fit, budgets, th, discrepancy=tilt, allocate_with_discrepancy=True)
    assert (moved["params_opt"] > 1.2 * law["params_opt"]).all()
    nat = fit.law.natural(fit.theta_dict(th), fit.refs)
    for j, c in enumerate(budgets):  # brute force on a fine grid of ln N
        log_n = np.linspace(np.log(1e8), np.log(1e12), 20001)[None, :]
        d = c / (6 * np.exp(log_n))
        loss = np.log(bs.laws.chinchilla_loss(np.exp(log_n), d, E=nat["E"][:, None], A=nat["A"][:, None],
                                              B=nat["B"][:, None], alpha=nat["alpha"][:, None],
                                              beta=nat["beta"][:, None])) - 0.02 * (log_n - fit.refs["params"])
        np.testing.assert_allclose(moved["params_opt"][:, j], np.exp(log_n[0, np.argmin(loss, axis=1)]), rtol=1e-3)


def test_the_frontier_says_where_the_discrepancy_favours_another_size(fake_fit, monkeypatch):
    """A fresh user's data-constrained frontier said 4.26B (3.08-5.91B) at 1e22 FLOPs while compare, on the law
    plus its discrepancy term, ranked 8.67B first, without a word."""
    import bayes_scaling.decisions as dec

    monkeypatch.setattr(dec, "discrepancy_of", lambda fit, domain, draws=None: lambda x: -0.02 * x["params"])
    with pytest.warns(UserWarning) as rec:
        fr = frontier(fake_fit, [1e21, 1e23])
    notes = [str(r.message) for r in rec if "lowest at another model size" in str(r.message)]
    assert len(notes) == 1 and notes[0].startswith(
        "the loss the forecasts use (the law plus the discrepancy term: the runs' smooth misfit to the law, held at "
        "its edge value beyond the runs) is lowest at another model size than the frontier's, which is the law's "
        "optimum: 1e21 FLOPs: ")
    fc = bs.display.format_count
    assert (f", against the frontier's {fc(fr['params_opt_median'][0])} (90% interval {fc(fr['params_opt_lower'][0])}-"
            f"{fc(fr['params_opt_upper'][0])}), ") in notes[0]
    gains = [float(g) for g in re.findall(r"\), ([0-9.e-]+) nats/token lower", notes[0])]
    assert len(gains) == 2 and all(g > 0 for g in gains)  # what is at stake, at both budgets
    assert notes[0].endswith("(medians over the posterior). Comparing runs (compare) uses that loss and may rank such a run first; "
                             "the frontier does not follow the misfit beyond the runs, so compare the two allocations, "
                             "and the loss at stake against the width of their intervals, before choosing.")
    # no discrepancy term (the fake fit's own): no note
    monkeypatch.undo()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        frontier(fake_fit, [1e21, 1e23])


def test_the_discrepancy_note_leaves_out_a_loss_at_stake_within_one_runs_noise(fake_fit, monkeypatch):
    """A fresh user's fit got the note for 0.0012 nats/token at a loss of 2.3, where one run scatters by 0.007."""
    import bayes_scaling.decisions as dec

    monkeypatch.setattr(dec, "discrepancy_of", lambda fit, domain, draws=None: lambda x: -0.02 * x["params"])
    fr = frontier(fake_fit, [1e21, 1e23], warn_far=False)
    note = dec.discrepancy_allocation_note(fake_fit, fr, fake_fit.theta(fake_fit.default_domain), fake_fit.default_domain)
    gains = [float(g) for g in re.findall(r"\), ([0-9.e-]+) nats/token lower", note)]
    assert len(gains) == 2
    rel = np.array(gains) / fr["loss_opt_median"].to_numpy()  # the loss at stake, relative
    for scale, said in ((0.5 * rel.min(), ["1e21", "1e23"]), (0.5 * (rel[0] + rel[1]), ["1e21" if rel[0] > rel[1] else "1e23"]),
                        (2 * rel.max(), [])):
        monkeypatch.setattr(type(fake_fit), "noise_scale", lambda self, d, s=scale: np.full(self.n_draws, s))
        note = dec.discrepancy_allocation_note(fake_fit, fr, fake_fit.theta(fake_fit.default_domain),
                                               fake_fit.default_domain)
        assert re.findall(r"(1e2[13]) FLOPs: ", note) == said


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
    with pytest.raises(bs.RunsTableError) as err:
        compare(fake_fit, cands.iloc[:1])
    assert str(err.value) == ("compare needs at least two candidate runs; add another row (e.g. the same compute at "
                              "another N), or forecast one run with predict.")
    # its loss columns are predict's for the same seed: mean_loss_* for expected losses, loss_* with new_run (a fresh
    # user read 1.4652 [1.1594, 1.7862] in compare --new-run and 1.4642 [1.1511, 1.7795] in predict for one run)
    pred = fake_fit.predict(cands)
    cols = ["loss_median", "loss_lower", "loss_upper"]
    np.testing.assert_allclose(res[cols].to_numpy(float), pred[["mean_" + c for c in cols]].to_numpy(float), rtol=1e-12)
    one = compare(fake_fit, cands, new_run=True)
    np.testing.assert_allclose(one[cols].to_numpy(float), pred[cols].to_numpy(float), rtol=1e-12)
    assert one["p_best"].sum() == pytest.approx(1.0) and (one["expected_gap"] > res["expected_gap"]).all()
    # single runs: every gap, the best's too, includes the luck of the lowest run's noise, and the legend says so (a
    # fresh user read ~0.10 for every candidate as "what choosing it costs")
    from bayes_scaling.decisions import COMPARE_COLUMNS, compare_loss_columns
    assert "expected_gap" not in compare_loss_columns(False)
    assert compare_loss_columns(True)["expected_gap"].startswith(
        "E[loss - lowest loss among the candidates' runs], nats/token: each run has noise of its own")
    assert COMPARE_COLUMNS["expected_gap"].endswith("what choosing it costs on average")


def test_compare_summary_says_when_the_choice_is_nearly_a_coin_toss(fake_fit):
    # 7B against 13B at 1e22 FLOPs, P(best) 0.59 against 0.41 and 0.0014 nats/token apart, read as a clear pick (a
    # fresh user)
    from bayes_scaling.decisions import compare_summary

    c = 1e22
    n_opt = float(frontier(fake_fit, [c])["params_opt_median"].iloc[0])
    clear = pd.DataFrame({"label": ["optimum", "tenth"], "params": [n_opt, 0.1 * n_opt]})
    res = compare(fake_fit, clear.assign(tokens=c / (6 * clear["params"])))
    assert res.attrs["beats_runner_up"] == pytest.approx(res.loc[0, "p_best"])  # two candidates: the same event
    assert compare_summary(res) == (f"optimum ranks first: it has the lowest expected loss, and the lowest loss in "
                                    f"{res.loc[0, 'p_best']:.0%} of the posterior draws; it beats the runner-up, tenth, in "
                                    f"{res.attrs['beats_runner_up']:.0%} of them.")
    close = pd.DataFrame({"label": ["a", "b"], "params": [n_opt, 1.002 * n_opt]})
    res = compare(fake_fit, close.assign(tokens=c / (6 * close["params"])))
    text = compare_summary(res)
    assert res.attrs["beats_runner_up"] < 0.6 and text.endswith(
        "nats/token, against 90% intervals " + f"{np.mean(res['loss_upper'] - res['loss_lower']):.2g} wide; choose "
        "between them on cost or on what the forecast leaves out.")
    assert ": nearly a coin toss. Their median losses differ by " in text


def test_compare_warns_about_candidates_that_are_the_same_run(fake_fit):
    # two rows of one run got p_best 1 and 0 without a word (a fresh user)
    cands = pd.DataFrame({"label": ["7B", "13B", "7B again"], "params": [7e9, 1.3e10, 7e9],
                          "tokens": [2.4e11, 1.3e11, 2.4e11]})
    with pytest.warns(bs.RunsTableWarning) as rec:
        res = compare(fake_fit, cands)
    assert [str(r.message) for r in rec if "same run" in str(r.message)] == [
        "candidate 3 (7B again) repeats candidate 1 (7B): the same run (same params, tokens), tied in every draw, so "
        "they share p_best; drop the repeats."]
    # the tie is split, not given to the first (it had p_best 1 and 0 for one run)
    first, again = (res.loc[res["label"] == lab, "p_best"].iloc[0] for lab in ("7B", "7B again"))
    assert first == pytest.approx(again) and first + again + res.loc[res["label"] == "13B", "p_best"].iloc[0] == 1.0
    assert res.loc[res["label"] == "7B", "loss_median"].iloc[0] == res.loc[res["label"] == "7B again", "loss_median"].iloc[0]


def test_compare_says_when_its_first_two_are_one_run_and_labels_unique_tokens(fake_fit):
    # "ranks first ... beats the runner-up in 0 %: nearly a coin toss" for a repeated run read as a contradiction, and
    # candidates that differed only in U were all labelled 'N=4e+09, D=8e+10' (a fresh user)
    from bayes_scaling.decisions import compare_summary
    from conftest import make_fake_fit, synthetic_runs

    cands = pd.DataFrame({"label": ["13B", "13B again", "1B"], "params": [1.3e10, 1.3e10, 1e9],
                          "tokens": [2.6e11, 2.6e11, 2e10]})
    with pytest.warns(bs.RunsTableWarning, match="the same run"):
        res = compare(fake_fit, cands)
    assert compare_summary(res) == (
        f"13B ranks first: it has the lowest expected loss, and the lowest loss in {res.loc[0, 'p_best']:.0%} of the "
        "posterior draws; the runner-up, "
        "13B again, is the same run repeated, so they tie (drop the repeat to compare the others).")
    runs = synthetic_runs()
    dc = make_fake_fit(runs.assign(unique_tokens=runs["tokens"]), law_name="data_constrained")
    by_u = pd.DataFrame({"params": [4e9] * 2, "tokens": [8e10] * 2, "unique_tokens": [2e10, 8e10]})
    assert list(compare(dc, by_u)["label"]) == ["N=4e+09, D=8e+10, U=2e+10", "N=4e+09, D=8e+10, U=8e+10"]


@pytest.mark.slow
def test_frontier_matches_besiroglu_band(chinchilla_fit):
    fr = chinchilla_fit.frontier([5.88e23], prob=0.8).iloc[0]
    # Besiroglu et al. (2024) bootstrap 10th-90th percentile of D/N at 5.88e23: 9.9-29.0
    assert 9.9 <= fr["tokens_per_param_median"] <= 29.0
    assert fr["tokens_per_param_lower"] < fr["tokens_per_param_median"] < fr["tokens_per_param_upper"]
    # The README's figure for this fit (weak prior, seed 1, default sampler; the 11 runs on fewer tokens than
    # parameters left out): N_opt 67B (60-75B), 21.7 tokens per parameter (17.5-26.9), 90 % intervals. Tolerance =
    # the README's rounding + 4 Monte Carlo standard errors: the interval gives a posterior sd of about
    # (75 - 60) / 3.29 = 4.4B (tokens per parameter: 2.9); with a bulk ESS of >= 700 the MCSE of the median is about
    # 1.25 sd / sqrt(ESS) = 0.21B (0.14) and of a 5 % quantile about 0.08 sd = 0.35B (0.23).
    q = chinchilla_fit.frontier([5.88e23], prob=0.9).iloc[0]
    assert q["params_opt_median"] == pytest.approx(67e9, abs=0.5e9 + 4 * 0.21e9)
    assert q["params_opt_lower"] == pytest.approx(60e9, abs=0.5e9 + 4 * 0.35e9)
    assert q["params_opt_upper"] == pytest.approx(75e9, abs=0.5e9 + 4 * 0.35e9)
    assert q["tokens_per_param_median"] == pytest.approx(21.7, abs=0.05 + 4 * 0.14)
    assert q["tokens_per_param_lower"] == pytest.approx(17.5, abs=0.05 + 4 * 0.23)
    assert q["tokens_per_param_upper"] == pytest.approx(26.9, abs=0.05 + 4 * 0.23)


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


# ----------------------------------------------------------------------------- decide: the investment decision

from bayes_scaling.costs import CostModel, ValueModel  # noqa: E402
from bayes_scaling.decisions import decide  # noqa: E402
from bayes_scaling.display import format_count  # noqa: E402
from bayes_scaling.investment import STATUS_QUO, format_money  # noqa: E402
from bayes_scaling.predict import keyed_predictive_draws, predictive_draws  # noqa: E402

COSTS = CostModel(price_per_flop=1e-18, currency="USD")  # 1 USD per 1e18 FLOPs
PLANS = pd.DataFrame({"label": ["1B", "10B", "70B"], "params": [1e9, 1e10, 7e10], "tokens": [2e10, 2e11, 1.4e12]})


def _loss_value(baseline=2.3, per_point=2e3, keep_current=True):
    """Money per 0.01 nats/token of loss below ``baseline``."""
    return ValueModel(metric="loss", higher_is_better=False, baseline=baseline, money_per_unit=per_point, unit=0.01,
                      keep_current=keep_current)


def test_decide_zero_value_never_pays_off(fake_fit, fake_hier_fit):
    """Known answer: a value model that is zero gives P(pays off) = 0 for every plan with a cost."""
    for fit, dom in ((fake_fit, None), (fake_hier_fit, "unseen")):
        res = decide(fit, PLANS, COSTS, ValueModel.zero(metric="loss"), domain=dom, random_seed=1)
        t = res.plans.set_index("label")
        assert (t.loc[["1B", "10B", "70B"], "total_cost"] > 0).all()
        assert (t.loc[["1B", "10B", "70B"], "p_pays_off"] == 0.0).all()
        assert res.recommended == STATUS_QUO and res.evpi == 0.0
        assert t.loc["70B", "net_value_mean"] == pytest.approx(-6 * 7e10 * 1.4e12 * 1e-18)
        assert res.summary_text().startswith("No plan is expected to pay off")


def test_decide_net_value_is_the_value_of_the_forecast_loss_minus_the_cost(fake_fit):
    """Known answer: with a linear value the expected net value is per_point * (baseline - E[loss]) / 0.01 - cost,
    E[loss] over the draws of one new run that predict gives for the same seed (keyed_predictive_draws)."""
    value = _loss_value(keep_current=False)
    res = decide(fake_fit, PLANS, COSTS, value, random_seed=5)
    _, new = keyed_predictive_draws(fake_fit, PLANS[["params", "tokens"]], fake_fit.default_domain, 5)
    loss = np.exp(new)
    t = res.plans.set_index("label")
    cost = COSTS.total_cost(PLANS["params"], PLANS["tokens"])
    expect = 2e3 * (2.3 - loss.mean(0)) / 0.01 - cost
    np.testing.assert_allclose(t.loc[["1B", "10B", "70B"], "net_value_mean"], expect, rtol=1e-12)
    np.testing.assert_allclose(t.loc[["1B", "10B", "70B"], "metric_median"], np.median(loss, 0), rtol=1e-12)
    assert list(res.plans["label"]) == ["1B", "10B", "70B", STATUS_QUO]
    assert res.net_value.shape == (fake_fit.n_draws, 4) and res.metric == "loss"
    # a plan's numbers do not change when another plan is added (a fresh user saw 802 k become 800 k USD)
    more = decide(fake_fit, pd.concat([PLANS, PLANS.iloc[[0]].assign(label="2B", params=2e9)]), COSTS, value,
                  random_seed=5).plans.set_index("label")
    np.testing.assert_array_equal(more.loc[["1B", "10B", "70B"], "net_value_mean"], t.loc[["1B", "10B", "70B"],
                                                                                            "net_value_mean"])


def test_decide_a_plan_dominated_in_loss_and_cost_is_never_best(fake_fit):
    """Known answer: 1e11 x 2.5e10 costs more than 1e10 x 2e11 (1.5e22 vs 1.2e22 FLOPs) and reaches a higher loss
    (2.15 vs 2.08 nats/token under the known law): it is never the best option, under any value model."""
    plans = pd.DataFrame({"label": ["good", "dominated"], "params": [1e10, 1e11], "tokens": [2e11, 2.5e10]})
    for value in (_loss_value(), _loss_value(keep_current=False), _loss_value(baseline=2.0, per_point=1e5),
                  ValueModel(metric="loss", higher_is_better=False, table=((2.0, 1e6), (2.2, 0.0)))):
        res = decide(fake_fit, plans, COSTS, value, random_seed=2)
        t = res.plans.set_index("label")
        assert (res.decision.metric_draws[:, 1] > res.decision.metric_draws[:, 0]).all()  # higher loss in every draw
        assert t.loc["dominated", "p_best"] == 0.0 and res.recommended != "dominated"


def test_decide_pilot_evsi_is_zero_when_it_cannot_change_the_decision(fake_fit):
    """Known answer: when the 70B plan is the best in every draw, no pilot outcome changes the choice."""
    pilots = pd.DataFrame({"label": ["small", "medium"], "params": [1e9, 5e9], "tokens": [2e10, 1e11]})
    res = decide(fake_fit, PLANS, COSTS, _loss_value(per_point=2e5), pilots=pilots, random_seed=0)
    t = res.plans.set_index("label")
    assert t.loc["70B", "p_best"] == 1.0 and res.evpi == 0.0
    assert (res.pilots["evsi"] == 0.0).all() and (res.pilots["p_change"] == 0.0).all()
    assert not res.pilots["worth_it"].any()
    assert res.pilots.set_index("label").loc["small", "pilot_cost"] == pytest.approx(6 * 1e9 * 2e10 * 1e-18)
    assert "Running the pilot 'small' first would change the decision with probability 0.00 and is not worth its cost" in \
        res.summary_text()


def test_pilot_caveat_names_the_pilots_whose_value_rests_on_few_draws(fake_fit):
    import dataclasses

    pilots = pd.DataFrame({"label": ["small", "medium"], "params": [1e9, 5e9], "tokens": [2e10, 1e11]})
    res = decide(fake_fit, PLANS, COSTS, _loss_value(per_point=2e5), pilots=pilots, random_seed=0)
    assert not res.pilots["ess_low"].any() and res.pilot_caveat() == ""
    small = res.pilots["label"] == "small"
    one = dataclasses.replace(res, pilots=res.pilots.assign(ess_low=small, ess_changing=np.where(small, 1.0, 900.0)))
    tail = "(a pilot that pins the forecast down this much is valued by reweighting few draws)."
    assert one.pilot_caveat() == (f"The value of pilot 'small' is approximate: after the outcomes that would change the "
                                  f"decision, typically only 1 of the {fake_fit.n_draws} posterior draws carries the "
                                  f"weight {tail}")
    both = dataclasses.replace(res, pilots=res.pilots.assign(ess_low=True, ess_changing=np.where(small, 12.0, 30.0)))
    assert both.pilot_caveat().startswith(f"The value of pilots {', '.join(repr(x) for x in res.pilots['label'])} is "
                                          f"approximate: after the outcomes that would change the decision, typically "
                                          f"only 12 of the {fake_fit.n_draws} posterior draws carry the weight")
    assert one.pilot_caveat() in one.summary_text()


def test_decide_pilots_of_a_new_domain_are_worth_something_never_negative(fake_hier_fit):
    """A new domain is uncertain (the between-domain spread): a pilot in it can change the choice. Its EVSI is
    never negative and never above the EVPI; the plans' numbers do not depend on which pilots are asked about."""
    value = _loss_value(baseline=2.1, per_point=6e4)
    pilots = pd.DataFrame({"label": ["small", "medium"], "params": [1e9, 5e9], "tokens": [2e10, 1e11]})
    res = decide(fake_hier_fit, PLANS, COSTS, value, pilots=pilots, domain="unseen", random_seed=0)
    alone = decide(fake_hier_fit, PLANS, COSTS, value, domain="unseen", random_seed=0)
    pd.testing.assert_frame_equal(res.plans, alone.plans)
    assert res.evpi > 0
    assert (res.pilots["evsi"] >= 0).all() and (res.pilots["evsi"] <= res.evpi * 1.05).all()
    assert (res.pilots["p_change"] > 0).all()
    assert res.domain == "unseen"
    # the same seed gives the same numbers; another seed other ones
    again = decide(fake_hier_fit, PLANS, COSTS, value, pilots=pilots, domain="unseen", random_seed=0)
    pd.testing.assert_frame_equal(res.pilots, again.pilots)
    other = decide(fake_hier_fit, PLANS, COSTS, value, domain="unseen", random_seed=1)
    assert not np.allclose(other.plans["net_value_mean"].iloc[:3], res.plans["net_value_mean"].iloc[:3])


def test_decide_budgets_give_the_money_frontier(fake_fit):
    res = decide(fake_fit, PLANS, COSTS, _loss_value(baseline=3.0, per_point=1e4), budgets=[1e3, 1e5],
                 params_range=(1e8, 1e12))
    fr = res.frontier
    assert list(fr["budget"]) == [1e3, 1e5]
    # no data or inference price: the amount spent (at most the budget) buys C = spend / price FLOPs, spent on the
    # compute-optimal split
    assert (fr["spend"] <= fr["budget"] * (1 + 1e-12)).all()
    assert fr["flops"].to_numpy() == pytest.approx(fr["spend"].to_numpy() / 1e-18, rel=1e-9)
    n_opt = frontier(fake_fit, fr["flops"].to_numpy())["params_opt_median"].to_numpy()
    assert np.all(np.abs(np.log(fr["params_best"].to_numpy() / n_opt)) < np.log(1.2))
    assert {"net_value_mean", "p_pays_off"} <= set(fr.columns)
    assert "With a budget of 1 k USD, the best plan" in res.summary_text()
    # a budget whose best plan loses money says that spending nothing is better (a fresh user read "best" as advice)
    assert "no plan is expected to pay off" not in res.summary_text() and (fr["net_value_mean"] > 0).all()
    # (a fixed cost that no improvement repays: with a budget as a cap, a cheaper run is otherwise always found)
    poor = decide(fake_fit, PLANS, CostModel(price_per_flop=1e-18, currency="USD", fixed_cost_per_run=1e4),
                  _loss_value(baseline=3.0, per_point=1.0), budgets=[1e5], params_range=(1e8, 1e12))
    r = poor.frontier.iloc[0]
    assert r["net_value_mean"] < 0
    assert (f"paying off with probability {r['p_pays_off']:.2f}, so at this budget no plan is expected to pay off "
            "and spending nothing is better." in poor.summary_text())


def test_decide_with_a_downstream_metric(fake_fit):
    """Task metric from a downstream fit whose posterior is one point (the 'rises' sigmoid of test_downstream):
    the plans' accuracy is the link at their loss."""
    from test_downstream import TASKS, _fake_fit

    from bayes_scaling.downstream import link_mean

    ds = _fake_fit(np.random.default_rng(0), s_draws=fake_fit.n_draws)
    value = ValueModel(metric="rises", baseline=0.6, money_per_unit=1e3, unit=0.01, keep_current=False)
    res = decide(fake_fit, PLANS, COSTS, value, metric="rises", downstream=ds, random_seed=3)
    _, new = predictive_draws(fake_fit, PLANS[["params", "tokens"]], fake_fit.default_domain, np.random.default_rng(3))
    chance, ceil, b, s = TASKS["rises"]
    expect = link_mean(np.median(np.exp(new), 0), chance, ceil, b, s)
    got = res.plans.set_index("label").loc[["1B", "10B", "70B"], "metric_median"].to_numpy()
    np.testing.assert_allclose(got, expect, atol=0.01)  # plus the binomial noise of one evaluation (2000 items)
    assert res.metric == "rises"
    mean = decide(fake_fit, PLANS, COSTS, ValueModel(baseline=0.3, money_per_unit=1e3, unit=0.01), metric="mean",
                  downstream=ds, random_seed=3)
    assert (mean.plans["metric_median"].iloc[:3] < got).all()  # the other task is lower at these losses


def test_decide_says_what_a_downstream_metric_is(fake_fit):
    """A decision on a score was reported without the score's floor (what guessing gets) or, for the mean of tasks,
    which tasks the mean leaves out as not yet predictable."""
    from test_downstream import _fake_fit

    ds = _fake_fit(np.random.default_rng(0), s_draws=fake_fit.n_draws)
    one = decide(fake_fit, PLANS, COSTS, ValueModel(metric="rises", baseline=0.6, money_per_unit=1e3, unit=0.01),
                 metric="rises", downstream=ds, random_seed=3)
    assert one.metric_note == ("The metric is the score on 'rises', the share of its 2,000 items right; guessing "
                               "scores 0.25 (its chance level, the floor of the forecast).")
    mean = decide(fake_fit, PLANS, COSTS, ValueModel(baseline=0.3, money_per_unit=1e3, unit=0.01), metric="mean",
                  downstream=ds, random_seed=3)
    assert mean.metric_note == (
        "The metric is the mean score over the 2 tasks fitted ('language', 'rises'); guessing scores 0.12 on that "
        "mean (chance levels 0 to 0.25). 1 task of the evaluations is not in it, not yet predictable from these runs "
        "('flat'; DownstreamFit.unfitted_tasks() says why).")
    for res in (one, mean):
        assert res.summary_text().index(res.metric_note) > 0  # after the verdict, in the report's summary
    loss = decide(fake_fit, PLANS, COSTS, _loss_value(), random_seed=3)
    assert loss.metric_note == "" and "The metric is" not in loss.summary_text()


@pytest.mark.parametrize("kwargs, value, message", [
    ({}, ValueModel(baseline=0.6, money_per_unit=1.0),
     "the value model must say higher_is_better = false for metric 'loss' (a lower loss is better); set it in the "
     "[value] section, or choose a downstream metric."),
    ({"metric": "arc_easy"}, ValueModel(baseline=0.6, money_per_unit=1.0),
     "metric 'arc_easy' is a downstream task: pass downstream= (a DownstreamFit of the loss -> metric stage), or use "
     "metric='loss'."),
    ({}, ValueModel(metric="loss", higher_is_better=False, baseline=30.0, money_per_unit=1.0),
     "the value model's loss 30 is not a loss in nats per token (above 20: a perplexity?); give today's model's "
     "loss, the log of its perplexity, e.g. baseline = 3.0."),
    ({}, ValueModel(metric="accuracy", higher_is_better=False, baseline=2.0, money_per_unit=1.0),
     "the value model is stated for 'accuracy' but the decision is about 'loss'; set metric = \"loss\" in the [value] "
     "section (ValueModel(metric='loss')), or choose that downstream metric."),
    ({}, ValueModel(metric="loss", higher_is_better=False, baseline=2.0, money_per_unit=1.0, currency="EUR"),
     "the value model is in EUR but the costs are in USD; use one currency."),
    ({"budgets": [0.0]}, ValueModel(metric="loss", higher_is_better=False, baseline=2.0, money_per_unit=1.0),
     "budgets must be positive amounts of money, e.g. 1e5,1e6."),
])
def test_decide_rejects_a_value_model_that_does_not_fit_the_metric(fake_fit, kwargs, value, message):
    with pytest.raises(ValueError) as e:
        decide(fake_fit, PLANS, COSTS, value, **kwargs)
    assert str(e.value) == message


def test_decide_names_the_task_that_is_not_predictable(fake_fit):
    from test_downstream import _fake_fit

    ds = _fake_fit(np.random.default_rng(0))
    with pytest.raises(ValueError, match=r"^task 'flat' is not yet predictable \(at chance: no rise beyond noise and "
                                         r"no trend in loss\): it was not fitted; choose one of \['language', 'rises'\]"):
        decide(fake_fit, PLANS, COSTS, ValueModel(baseline=0.3, money_per_unit=1.0), metric="flat", downstream=ds)


def test_decide_says_a_predictable_task_was_not_given_to_the_fit(fake_fit):
    import dataclasses

    from test_downstream import _fake_fit

    ds = _fake_fit(np.random.default_rng(0))
    flags = pd.concat([ds.flags, pd.DataFrame({"task": ["piqa"], "chance": [0.5], "predictable": [True],
                                               "reason": ["rises above chance beyond noise, monotone in loss"]})],
                      ignore_index=True)
    ds = dataclasses.replace(ds, flags=flags)
    with pytest.raises(ValueError) as e:
        decide(fake_fit, PLANS, COSTS, ValueModel(baseline=0.3, money_per_unit=1.0), metric="piqa", downstream=ds)
    assert str(e.value) == ("task 'piqa' was not fitted: it is predictable, but not among the tasks given to "
                            "fit_downstream; refit with it in tasks=, or choose one of ['language', 'rises'] or 'mean' "
                            "(their mean).")


def test_decide_bad_plans_name_the_column_row_and_fix(fake_fit):
    bad = PLANS.assign(params=["1e9", "lots", "7e10"])
    with pytest.raises(bs.RunsTableError) as e:
        decide(fake_fit, bad, COSTS, _loss_value())
    assert str(e.value) == "plans column 'params', row 1: 'lots' is not a number; write plain numbers such as 7e9 or 7000000000."
    with pytest.raises(bs.RunsTableError) as e:
        decide(fake_fit, PLANS.assign(tokens=[2e10, -1.0, 1.4e12]), COSTS, _loss_value())
    assert str(e.value) == "plans column 'tokens', row 1: '-1.0' is not a positive finite number; fix or drop that plan."
    with pytest.raises(bs.RunsTableError, match=r"^plans table has no column 'tokens'"):
        decide(fake_fit, PLANS.drop(columns="tokens"), COSTS, _loss_value())
    with pytest.raises(ValueError, match=r"^plans table: the label '1B' is used by rows 1 and 2 \(counted from 1\); "
                                         r"labels name the options in the decision, so they must be unique: rename "
                                         r"or drop the repeats.$"):
        decide(fake_fit, PLANS.assign(label=["1B", "1B", "70B"]), COSTS, _loss_value())
    res = decide(fake_fit, PLANS.drop(columns="label").assign(flops=6 * PLANS["params"] * PLANS["tokens"])
                 .drop(columns="tokens"), COSTS, _loss_value())
    assert list(res.plans["label"])[:3] == ["1B x 20B tokens", "10B x 200B tokens", "70B x 1.4T tokens"]


def test_decide_warns_when_a_pilot_is_not_smaller_than_a_plan(fake_fit):
    value = ValueModel(metric="loss", higher_is_better=False, baseline=2.3, money_per_unit=1e3, unit=0.01)
    big = pd.DataFrame({"label": ["huge"], "params": [7e10], "tokens": [1.4e12]})
    with pytest.warns(UserWarning) as rec:
        res = decide(fake_fit, PLANS, COSTS, value, pilots=big, random_seed=0)
    assert [str(w.message) for w in rec] == [
        "pilot 'huge' costs at least as much compute as the largest plan, '70B' (5.88e+23 FLOPs): a pilot is a "
        "smaller run that informs the choice; its value is computed all the same."]
    assert list(res.pilots["label"]) == ["huge"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a small pilot: no warning
        decide(fake_fit, PLANS, COSTS, value, pilots=PLANS.iloc[1:2].assign(label="as the 10B plan"), random_seed=0)


@pytest.mark.parametrize("value, message", [
    (ValueModel(baseline=45.0, money_per_unit=1.0),
     "the value model's score 45 for 'rises' is not a fraction in [0, 1]: a downstream metric is the share of the "
     "task's items right; give today's score as a fraction, e.g. 0.45 for 45 %."),
    (ValueModel(metric="loss", higher_is_better=False, baseline=3.0, money_per_unit=1.0),
     "the value model is stated for 'loss' but the decision is about 'rises'; for a score, set metric = \"rises\", "
     "higher_is_better = true and a baseline score in [0, 1] in the [value] section, or give --value-per-point with "
     "--baseline."),
])
def test_decide_rejects_a_value_model_off_the_scale_of_a_downstream_metric(fake_fit, value, message):
    """A fresh user's --baseline 45 (percent) or the example's loss [value] section made every plan worthless,
    silently ('keep the current product'); the loss section's first error led to a second one."""
    from test_downstream import _fake_fit

    ds = _fake_fit(np.random.default_rng(0), s_draws=fake_fit.n_draws)
    with pytest.raises(ValueError) as e:
        decide(fake_fit, PLANS, COSTS, value, metric="rises", downstream=ds)
    assert str(e.value) == message


def test_decide_passes_on_the_downstream_fits_sampling_problems(fake_fit):
    """Shown when the downstream fit was made, perhaps in another session; the decision's intervals inherit them."""
    import dataclasses

    from test_downstream import _fake_fit

    from bayes_scaling.diagnostics import ConvergenceWarning, Diagnostics

    ds = _fake_fit(np.random.default_rng(0), s_draws=fake_fit.n_draws)
    bad = Diagnostics(False, 1.033, 109.0, 200.0, 69, 4000, ["69 divergent transitions"])
    value = ValueModel(metric="rises", baseline=0.6, money_per_unit=1e3, unit=0.01)
    with pytest.warns(ConvergenceWarning, match=r"^the downstream fit did not pass the sampling checks, so the "
                                                r"metric's intervals, and so the probabilities below, are "
                                                r"approximate\. 69 divergent transitions\. No command of the CLI "
                                                r"fits a downstream stage: refit it in Python \(fit_downstream\(\.\.\., "
                                                r"sampler=SamplerConfig\(\.\.\.\)\)\) to follow that advice\.$") as rec:
        res = decide(fake_fit, PLANS, COSTS, value, metric="rises", downstream=dataclasses.replace(ds, diagnostics=bad))
    assert rec[0].category.cli_flags is False  # the CLI shows its advice as Python settings, not flags
    # the written report says it too (a fresh user found decision.md silent about it)
    caveat = ("The downstream fit did not pass its sampling checks (max R-hat 1.033, 69 divergent transitions in 4000), "
              "so these probabilities are approximate.")
    assert res.sampling_caveat == caveat and caveat in res.summary_text()


def test_a_perfect_baseline_score_is_warned_about(fake_fit):
    from test_downstream import _fake_fit

    ds = _fake_fit(np.random.default_rng(0), s_draws=fake_fit.n_draws)
    value = ValueModel(metric="rises", baseline=1.0, money_per_unit=1e3, unit=0.01)
    with pytest.warns(UserWarning, match=r"^the baseline score for 'rises' is 1 \(every item right\): no plan can "
                                         r"improve on it"):
        res = decide(fake_fit, PLANS, COSTS, value, metric="rises", downstream=ds)
    assert (res.plans["p_pays_off"] == 0).all()


def test_cli_says_a_warning_about_the_same_rows_once_whether_they_are_named_by_file_line_or_index(capsys):
    from bayes_scaling import cli

    cli._SHOWN.clear()
    cli._showwarning("targets: 2 target(s) (row 15 (file line 16), row 16 (file line 17)) are odd.", UserWarning, "f", 1)
    cli._showwarning("targets: 2 target(s) (row 14, row 15) are odd.", UserWarning, "f", 1)
    cli._showwarning("targets: 1 target(s) (row 3) are odd.", UserWarning, "f", 1)  # another count: said
    assert capsys.readouterr().err.splitlines() == [
        "warning: targets: 2 target(s) (row 15 (file line 16), row 16 (file line 17)) are odd.",
        "warning: targets: 1 target(s) (row 3) are odd."]
    cli._SHOWN.clear()


def test_cli_shows_a_downstream_fits_advice_as_python_settings(capsys):
    # no command of the CLI fits a downstream stage: "--target-accept 0.95" would be advice nobody can follow
    from bayes_scaling import cli
    from bayes_scaling.diagnostics import ConvergenceWarning, DownstreamConvergenceWarning

    cli._showwarning("Try target_accept=0.95, or more data.", DownstreamConvergenceWarning, "f.py", 1)
    cli._showwarning("Try target_accept=0.99, or more data.", ConvergenceWarning, "f.py", 1)
    err = capsys.readouterr().err.splitlines()
    assert err == ["warning: Try target_accept=0.95, or more data.", "warning: Try --target-accept 0.99, or more data."]


def test_decide_suggests_the_task_a_misspelt_metric_is_closest_to(fake_fit):
    from test_downstream import _fake_fit

    ds = _fake_fit(np.random.default_rng(0))
    with pytest.raises(ValueError) as e:
        decide(fake_fit, PLANS, COSTS, ValueModel(baseline=0.3, money_per_unit=1.0), metric="rise", downstream=ds)
    assert str(e.value) == ("task 'rise' is not in the downstream fit (did you mean 'rises'?); choose one of "
                            "['language', 'rises'] or 'mean' (their mean), or 'loss'.")


def test_compare_ranks_candidates_of_several_domains_each_in_its_own_domain(fake_hier_fit):
    """A fresh user's candidates in two domains were all ranked as the first row's domain (row order changed it), then
    refused; a fresh user with 28 recipes then had no command for 'which recipe to scale?'. Each row is now forecast
    in its own domain under the same posterior draws."""
    from bayes_scaling.predict import keyed_predictive_draws
    from bayes_scaling.report import domains_compared_sentence

    fit = fake_hier_fit
    d0, d1 = fit.domains[:2]
    same = pd.DataFrame({"params": [7e10] * 3, "tokens": [1.4e12] * 3, "domain": ["books", "code", "web"]})
    with warnings.catch_warnings():
        warnings.simplefilter("error", bs.RunsTableWarning)  # the same sizes in three domains are not repeats
        res = compare(fit, same)
    # the known answer: 'web' has the lowest E, 'code' the highest
    assert list(res.sort_values("rank")["domain"]) == ["web", "books", "code"]
    assert list(res["domain_kind"]) == ["fitted"] * 3
    t = same[["params", "tokens"]].iloc[[0]]
    mean = np.column_stack([keyed_predictive_draws(fit, t, d, fit.random_seed)[0][:, 0]
                            for d in ("books", "code", "web")])
    np.testing.assert_allclose(res["loss_median"], np.exp(np.median(mean, axis=0)))
    p_low = np.bincount(np.argmin(mean, axis=1), minlength=3) / mean.shape[0]
    np.testing.assert_allclose(res["p_best"], p_low)
    assert f"web {res.loc[2, 'loss_median']:.3f}" in domains_compared_sentence(fit, t.iloc[0])  # the report agrees
    with pytest.warns(bs.RunsTableWarning, match=r"^candidate 4 repeats candidate 3: the same run"):
        twice = compare(fit, pd.concat([same, same.iloc[[2]]], ignore_index=True))  # a repeat within one domain
    assert twice.loc[2, "p_best"] + twice.loc[3, "p_best"] == pytest.approx(res.loc[2, "p_best"])
    # the row order does not change a row's numbers
    rev = compare(fit, same.iloc[::-1].reset_index(drop=True))
    np.testing.assert_allclose(rev["loss_median"].to_numpy()[::-1], res["loss_median"])
    assert compare_summary(res).endswith(
        "The candidates are in several domains: this compares like with like only where the domains are scored on "
        "the same data (training mixes or recipes evaluated on one validation set), not across evaluation sets.")
    one = same.assign(domain=d0)
    with pytest.raises(RunsTableError, match=rf"^the candidates say domain '{d0}' in column 'domain' but '{d1}' was "
                                             r"asked for \(domain= / --domain\); drop one of the two.$"):
        compare(fit, one.iloc[:2].assign(params=[1e9, 2e9]), domain=d1)
    with pytest.raises(RunsTableError) as err:
        compare(fit, same, domain="books")  # a domain= with rows of several: a fresh user was told "one at a time"
    assert str(err.value) == ("the candidates name several domains in column 'domain' (books, code, web) and domain "
                              "'books' was given: leave the domain out (--domain) to rank them across domains, each "
                              "forecast in its own, or keep the rows of 'books' only.")
    with pytest.raises(RunsTableError, match=r"name none; give every row its domain.$"):
        compare(fit, same.assign(domain=["books", None, "web"]))
    assert "several domains" not in compare_summary(compare(fit, one.assign(params=[1e9, 2e9, 3e9])))
    from bayes_scaling.value_of_information import next_run
    with pytest.raises(RunsTableError, match="the candidates name several domains"):  # next-run: one domain's runs
        next_run(fit, same, pd.DataFrame({"params": [7e10], "tokens": [1.4e12]}), n_sims=4)


def test_compare_names_its_table_candidates():
    """A fresh user's bad candidates file was called 'targets column ...' by compare."""
    from conftest import make_fake_fit, synthetic_runs

    fit = make_fake_fit(synthetic_runs())
    with pytest.raises(RunsTableError) as e:
        compare(fit, pd.DataFrame({"params": [1e9, "abc"], "tokens": [2e10, 2e10]}))
    assert str(e.value).startswith("candidates column 'params', row 1: 'abc' is not a number")


def test_decide_report_says_when_plans_are_read_as_unique_data():
    """A data-constrained fit and plans without unique_tokens: the warning went to the terminal only, and the report,
    which is what a manager reads, did not say that every plan was priced and forecast as one epoch of unique data."""
    from conftest import make_fake_fit, synthetic_runs

    runs = synthetic_runs()
    fit = make_fake_fit(runs.assign(unique_tokens=runs["tokens"]), law_name="data_constrained")
    pilots = PLANS.iloc[:1].assign(label="pilot", params=1e8, tokens=2e9)
    with pytest.warns(bs.RunsTableWarning) as rec:
        res = decide(fit, PLANS, COSTS, _loss_value(), pilots=pilots, random_seed=0)
    assert [str(r.message) for r in rec] == [  # plans and pilots, once each
        f"the {w} have no 'unique_tokens' column: every token is taken as unique (one epoch, no repeated data); add "
        "unique_tokens to price and value runs that repeat their data." for w in ("plans", "pilots")]
    note = ("The plans and the pilots have no unique_tokens: each is read as one epoch of unique data, with no "
            "repeated tokens.")
    assert res.assumption_note == note and note in res.summary_text()
    with warnings.catch_warnings():
        warnings.simplefilter("error", bs.RunsTableWarning)
        given = decide(fit, PLANS.assign(unique_tokens=PLANS["tokens"]), COSTS, _loss_value(), random_seed=0)
    assert given.assumption_note == "" and "unique_tokens" not in given.summary_text()
    # the same numbers either way: U = D is what the fill assumes
    np.testing.assert_allclose(given.plans["net_value_mean"], res.plans["net_value_mean"], rtol=1e-12)


def test_frontier_says_when_a_budget_is_far_from_the_runs(fake_fit):
    # frontier --flops 1e12 (runs of 3e15 FLOPs and up) forecast 13 nats/token without a word (a fresh user)
    from bayes_scaling.predict import ExtrapolationWarning

    c = 6 * fake_fit.runs["params"] * fake_fit.runs["tokens"]
    lo, hi = float(c.min()), float(c.max())
    with pytest.warns(ExtrapolationWarning) as rec:
        frontier(fake_fit, [lo / 2e3, hi * 2e3])
    assert [str(r.message) for r in rec] == [
        f"1 budget(s) lie more than 1000x below the smallest run's compute ({lo:.3g} FLOPs; budget {lo / 2e3:.3g}, "
        "3.3 decades away): the frontier there is the law's form, not what the runs measured.",
        f"1 budget(s) lie more than 1000x above the largest run's compute ({hi:.3g} FLOPs; budget {hi * 2e3:.3g}, "
        "3.3 decades away): the frontier there is the law's form, not what the runs measured."]
    with warnings.catch_warnings():
        warnings.simplefilter("error", ExtrapolationWarning)
        frontier(fake_fit, [lo / 5, hi * 500])  # within the factor: nothing to say
    # within the budgets' factor, but the optimum's N is 50x below the smallest run: the size check says so
    with pytest.warns(ExtrapolationWarning, match=r"^1 compute-optimal run\(s\) lie more than 10x below the smallest "
                                                  r"run in 'params'"):
        frontier(fake_fit, [lo / 500])


def test_frontier_with_a_tight_unique_token_budget_warns_with_the_optimal_runs():
    """``frontier(..., unique_tokens=U)`` where the optimum repeats U more than R_D* times crashed with KeyError 'params'
    (the warning's row list read a column the frontier's table did not have; a fresh user)."""
    from conftest import make_fake_fit, synthetic_runs
    from bayes_scaling.predict import ExtrapolationWarning

    runs = synthetic_runs()
    fit = make_fake_fit(runs.assign(unique_tokens=runs["tokens"]), law_name="data_constrained")
    with pytest.warns(ExtrapolationWarning) as rec:
        fr = frontier(fit, [1e21, 1e22], unique_tokens=1e9)
    assert fr["epochs_median"].min() > 15.4
    msg = str(rec[0].message)
    assert msg.startswith("2 compute-optimal run(s) repeat their data more than 15.4 times")
    n, d = fr["params_opt_median"].iloc[1], fr["tokens_opt_median"].iloc[1]
    assert f"most repeated first: N {n:.3g}, D {d:.3g}, U 1e+09 ({d / 1e9:.3g} epochs)" in msg


def test_compare_ranks_candidates_that_never_win_by_their_expected_gap(fake_fit):
    """Two candidates with p_best 0 both got rank 3 and no candidate got 4 (a fresh user): ties go by expected_gap."""
    cands = pd.DataFrame({"label": ["big", "bigger", "tiny", "small"], "params": [1e10, 1.2e10, 1e7, 1e8],
                          "tokens": [2e11, 2e11, 2e8, 2e9]})
    out = compare(fake_fit, cands, random_seed=0).set_index("label")
    assert out.loc[["tiny", "small"], "p_best"].tolist() == [0.0, 0.0]
    assert out.loc["tiny", "expected_gap"] > out.loc["small", "expected_gap"]
    assert out["rank"].to_dict() == {"big": 2, "bigger": 1, "tiny": 4, "small": 3}


def test_compare_ranks_by_expected_loss_not_by_the_share_of_draws_won(fake_fit):
    """Ranked by p_best, 1.03x the optimum came before 1.02x though it costs more in expectation: the sizes near the
    optimum split the draws between them by where each draw's optimum falls. The rank is the expected loss's."""
    c = 1e22
    n_opt = float(frontier(fake_fit, [c])["params_opt_median"].iloc[0])
    x = [0.85, 1.0, 1.01, 1.02, 1.03]
    cands = pd.DataFrame({"label": [f"{v:g}" for v in x], "params": [v * n_opt for v in x]})
    out = compare(fake_fit, cands.assign(tokens=c / (6 * cands["params"])), random_seed=0).set_index("label")
    assert out.loc["1.03", "p_best"] > out.loc["1.02", "p_best"]  # the share of draws won says 1.03
    assert out.loc["1.03", "expected_gap"] > 1.5 * out.loc["1.02", "expected_gap"]  # the expected loss says 1.02
    assert out["rank"].to_dict() == {"0.85": 5, "1": 1, "1.01": 2, "1.02": 3, "1.03": 4}
    assert out.sort_values("rank")["expected_gap"].is_monotonic_increasing


def test_a_negative_loss_baseline_is_refused():
    """--baseline -3 was accepted (exit 0, "keeping the current product is the better bet"; a fresh user)."""
    from bayes_scaling.decisions import check_metric

    with pytest.raises(ValueError) as e:
        check_metric("loss", _loss_value(baseline=-3.0))
    assert str(e.value) == ("the value model's loss -3 is not a loss: losses in nats per token are positive; give "
                            "today's model's loss, e.g. baseline = 3.0.")
    check_metric("loss", _loss_value(baseline=3.0))


def test_decide_says_when_the_runs_do_not_measure_what_the_plans_differ_in():
    """Five runs at one N: "Plan B pays off with probability 0.74" and nothing said that the N exponent, on which B vs
    C rests, came from the prior alone (the fit's warning was in its own report only; a fresh user)."""
    from conftest import make_fake_fit, synthetic_runs

    runs = synthetic_runs()
    one_n = runs[runs["params"] == runs["params"].iloc[0]]
    assert one_n["params"].nunique() == 1 and one_n["tokens"].nunique() > 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bs.RunsTableWarning)
        fit = make_fake_fit(one_n, prior="besiroglu2024")
    with pytest.warns(UserWarning) as rec:
        res = decide(fit, PLANS, COSTS, _loss_value(baseline=3.0, per_point=1e4), random_seed=0)
    said = (f"The fit's runs all have one N ({one_n['params'].iloc[0]:.3g}): how the loss changes with N comes from "
            "the prior, not from the runs, and so does the comparison of plans that differ in it.")
    assert said in [str(r.message) for r in rec] and said in res.summary_text()
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        assert decide(make_fake_fit(runs), PLANS, COSTS, _loss_value(baseline=3.0, per_point=1e4),
                      random_seed=0).fit_caveat == ""


def test_compare_refuses_a_label_used_twice(fake_fit):
    cands = pd.DataFrame({"label": ["A", "B", "A"], "params": [7e9, 1.3e10, 3e9], "tokens": [2.4e11, 1.3e11, 5e11]})
    with pytest.raises(bs.RunsTableError) as err:
        compare(fake_fit, cands)
    assert str(err.value) == ("candidates table: the label 'A' is used by rows 1 and 3 (counted from 1); labels name "
                              "the candidates in the ranking, so they must be unique: rename or drop the repeats.")



def test_decide_warns_when_a_budget_buys_a_plan_far_beyond_the_runs(fake_fit):
    """A budget's best plan 1000x beyond the runs' compute is an extrapolation, warned about as frontier's budgets."""
    from bayes_scaling.predict import ExtrapolationWarning

    c_max = float((6.0 * fake_fit.runs["params"] * fake_fit.runs["tokens"]).max())
    with pytest.warns(ExtrapolationWarning, match=r"1 budget\(s\) lie more than 1000x above the largest run's compute"):
        res = decide(fake_fit, PLANS, COSTS, _loss_value(baseline=3.0, per_point=1e9), budgets=[c_max * 1e5 * 1e-18],
                     params_range=(1e8, 1e13))
    assert res.frontier["flops"].iloc[0] > 1000 * c_max


def test_decide_warns_about_far_and_identical_plans_and_reads_paths(fake_fit, tmp_path):
    """A 1e12-parameter plan, thousands of times beyond the runs, was priced without the warning predict gives; two
    copies of a plan split P(best) without a word; a costs path gave "'str' object has no attribute 'table'" (a fresh
    user)."""
    from bayes_scaling.predict import ExtrapolationWarning

    far = pd.concat([PLANS, pd.DataFrame({"label": ["huge"], "params": [1e13], "tokens": [2e14]})], ignore_index=True)
    with pytest.warns(ExtrapolationWarning, match=r"^1 plan\(s\) lie more than 1000x beyond the largest run in ") as rec:
        res = decide(fake_fit, far, COSTS, _loss_value(), random_seed=0)
    # and the report says it: a reader of the decision never sees the console
    said = [str(w.message) for w in rec if issubclass(w.category, ExtrapolationWarning)]
    assert said and all(m[0].upper() + m[1:] in res.summary_text() for m in said)
    twice = pd.concat([PLANS, PLANS.iloc[[1]].assign(label="10B again")], ignore_index=True)
    with pytest.warns(bs.RunsTableWarning) as rec:
        decide(fake_fit, twice, COSTS, _loss_value(), random_seed=0)
    assert [str(w.message) for w in rec if "same run" in str(w.message)] == [
        "plans table rows '10B' and '10B again' are the same run (same params, tokens): they are one option, and "
        "P(best) is split between the copies; keep one."]
    toml = tmp_path / "costs.toml"
    toml.write_text('currency = "USD"\n[training]\nprice_per_flop = 1e-18\n[value]\nmetric = "loss"\n'
                    'higher_is_better = false\nbaseline = 2.3\nmoney_per_unit = 2e3\nunit = 0.01\n')
    by_path = decide(fake_fit, PLANS, str(toml), toml, random_seed=0)
    by_model = decide(fake_fit, PLANS, COSTS, _loss_value(), random_seed=0)
    pd.testing.assert_frame_equal(by_path.plans, by_model.plans)
    with pytest.raises(TypeError, match=r"^value must be a ValueModel or the path of a TOML file, e\.g\. "
                                        r"load_value\('costs.toml'\), or ValueModel.zero\(\); got NoneType\.$"):
        decide(fake_fit, PLANS, COSTS, None)
    with pytest.raises(ValueError, match=r"^budgets must be positive amounts of money, e\.g\. \[1e5, 1e6\]; got "
                                         r"\['abc'\]\.$"):
        decide(fake_fit, PLANS, COSTS, _loss_value(), budgets=["abc"])


def test_a_new_domains_frontier_rests_on_predicts_draws_of_it(fake_hier_fit):
    # frontier drew a new domain from one generator of the seed, whatever its name, while predict and compare draw it
    # keyed by the seed and the name: the same new domain had two sets of parameter draws. Every unseen domain is now
    # one key (draws_key): two names of new domains, exchangeable for the fit, get the same frontier
    from bayes_scaling.decisions import discrepancy_of, extrapolation_of, optimal_allocation_draws
    from bayes_scaling.predict import UNSEEN_DOMAIN_KEY, domain_generator

    fit = fake_hier_fit
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fr = frontier(fit, [1e21], domain="unseen")
        other = frontier(fit, [1e21], domain="another")
    theta = fit.new_domain_draws(domain_generator(fit.random_seed, UNSEEN_DOMAIN_KEY), "unseen")[0]
    res = optimal_allocation_draws(fit, np.array([1e21]), theta, discrepancy=discrepancy_of(fit, "unseen"),
                                   extrapolation=extrapolation_of(fit, "unseen"))
    assert fr["params_opt_median"].iloc[0] == pytest.approx(float(np.median(res["params_opt"])), rel=1e-12)
    assert fr["params_opt_median"].iloc[0] == other["params_opt_median"].iloc[0]


def test_a_domains_draws_are_the_fitted_ones_or_the_populations_keyed_by_the_seed(fake_hier_fit, fake_fit):
    # one function for what the frontier, compare and the decisions each wrote out (fit.new_domain_draws keyed by the
    # seed and draws_key)
    from bayes_scaling.predict import UNSEEN_DOMAIN_KEY, domain_draws, domain_generator

    fit = fake_hier_fit
    theta, sigma, nu = domain_draws(fit, "code", 7)
    np.testing.assert_array_equal(theta, fit.theta("code"))
    np.testing.assert_array_equal(sigma, fit.noise_scale("code"))
    np.testing.assert_array_equal(nu, fit.tail_weight("code"))
    new = domain_draws(fit, "legal", 7)
    for got, want in zip(new, fit.new_domain_draws(domain_generator(7, UNSEEN_DOMAIN_KEY), "legal"), strict=True):
        np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(domain_draws(fit, "medical", 7)[0], new[0])  # every unseen domain: one key
    assert not np.array_equal(domain_draws(fit, "legal", 8)[0], new[0])
    with pytest.raises(bs.RunsTableError, match=r"^domain 'legal' is not in this fit: this fit has a single domain"):
        domain_draws(fake_fit, "legal", 7)


def test_decide_says_when_a_budgets_best_plan_beats_every_plan_listed(fake_fit):
    # the budget table had 1.62B x 650B at +89.7 k beside the recommended +58.3 k, and the summary said nothing
    value = _loss_value(baseline=3.0, per_point=1e4)
    res = decide(fake_fit, PLANS, COSTS, value, budgets=[1e3, 1e5], params_range=(1e8, 1e12))
    r = res.frontier.loc[res.frontier["net_value_mean"].idxmax()]
    best = res.plans.set_index("label")["net_value_mean"].drop(STATUS_QUO)
    assert r["net_value_mean"] > best.max() and best.idxmax() == "10B"
    assert (f"A plan not on your list does better: {format_count(r['params_best'])} parameters on "
            f"{format_count(r['tokens_best'])} tokens, for {format_money(r['spend'], 'USD')}, has expected net value "
            f"{format_money(r['net_value_mean'], 'USD')} against {format_money(best.max(), 'USD')} for the best plan "
            "listed (10B); add it to the plans to compare it with the same one-run noise.") in res.summary_text()
    # a budget whose best plan nets less than a listed plan: nothing to say
    small = decide(fake_fit, PLANS, COSTS, value, budgets=[1e3], params_range=(1e8, 1e12))
    assert small.frontier["net_value_mean"].max() < best.max() and "not on your list" not in small.summary_text()


def test_decide_says_when_the_two_stages_disagree_on_the_loss_of_the_same_runs(fake_fit):
    """A loss fit on the RedPajama validation loss with a downstream fit on C4 validation loss moved a plan's P(pays
    off) from 0.32 to 0.98 without a word (a fresh user); and a baseline below chance counted what guessing gets."""
    import dataclasses

    from test_downstream import _fake_fit

    from bayes_scaling.decisions import stage_mismatch_note

    own = fake_fit.own_runs(fake_fit.default_domain)[["params", "tokens", "loss"]]
    ds = _fake_fit(np.random.default_rng(0), s_draws=fake_fit.n_draws)
    same = dataclasses.replace(ds, runs=own.assign(task="rises"))
    other = dataclasses.replace(ds, runs=own.assign(task="rises", loss=own["loss"] * 1.2))
    value = ValueModel(metric="rises", baseline=0.6, money_per_unit=1e3, unit=0.01)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        assert decide(fake_fit, PLANS, COSTS, value, metric="rises", downstream=same, random_seed=3).stage_caveat == ""
    note = stage_mismatch_note(fake_fit, other, fake_fit.default_domain)
    assert note.startswith(f"The loss fit and the downstream fit disagree on the loss of the {len(own)} runs of the "
                           "same sizes (median 20 % apart; ")
    with pytest.warns(UserWarning, match="^The loss fit and the downstream fit disagree"):
        res = decide(fake_fit, PLANS, COSTS, value, metric="rises", downstream=other, random_seed=3)
    assert note in res.summary_text()
    with pytest.warns(UserWarning, match=r"^the baseline score 0.1 for 'rises' is below its chance level 0.25, which "
                                         r"guessing reaches: the value counts 0.15 of improvement"):
        decide(fake_fit, PLANS, COSTS, ValueModel(metric="rises", baseline=0.1, money_per_unit=1e3, unit=0.01),
               metric="rises", downstream=same, random_seed=3)


def test_a_candidates_domain_close_to_a_fitted_one_is_warned_about(fake_hier_fit):
    # 'c4_orig/c4_val' in a compare candidates file was ranked as a new domain without a word, and flipped the answer
    # (a fresh user); predict and --domain warned
    typo = pd.DataFrame({"params": [7e10] * 3, "tokens": [1.4e12] * 3, "domain": ["books", "cod", "web"]})
    with pytest.warns(bs.RunsTableWarning) as rec:
        res = compare(fake_hier_fit, typo)
    assert [str(r.message) for r in rec if "not a domain" in str(r.message)] == [
        "candidates domain 'cod' (row 1) is not a domain of this fit, so it gets the forecast for a new domain; "
        "did you mean 'code'?"]
    assert list(res["domain_kind"]) == ["fitted", "new_domain", "fitted"]


def test_compare_says_when_its_first_candidate_trains_at_a_split_no_run_has(fake_fit):
    # "5.7B x 5tpp ranks first" from runs at 20-80 tokens per parameter, without a word, where frontier called that
    # split an extrapolation; the one held-out run there was 5 % off (a fresh user). The fake fit's runs: 5-200.
    c = 1e22
    cands = pd.DataFrame({"label": ["300 tpp", "1000 tpp"], "params": [np.sqrt(c / 6 / 300), np.sqrt(c / 6 / 1000)]})
    res = compare(fake_fit, cands.assign(tokens=c / (6 * cands["params"])))
    assert res.loc[res["rank"] == 1, "label"].item() == "300 tpp"
    assert compare_summary(res).endswith(
        " It trains on 300 tokens per parameter, outside the 5-200 of the runs behind its forecast: its lead rests on "
        "the law's form at that split, not on runs; a run near that split would check it.")


def test_decide_names_the_plans_whose_loss_lies_below_the_downstream_runs(fake_fit):
    """The README's 6.9B plan lies 0.39 nats below the runs the accuracy link was fitted on, which DownstreamFit.predict
    reports and the decision's report did not (a fresh user)."""
    from test_downstream import _fake_fit

    from bayes_scaling.decisions import link_extrapolation_note

    ds = dataclasses.replace(_fake_fit(np.random.default_rng(0), s_draws=fake_fit.n_draws),
                             runs=pd.DataFrame({"loss": [2.5, 3.0], "task": ["rises", "rises"], "metric": [0.8, 0.6]}))
    losses = np.tile([2.4, 2.6, 1.9], (50, 1))
    assert link_extrapolation_note(ds, ["a", "b", "c"], losses) == (
        "The forecast loss of plans 'a' (by 0.10 nats/token), 'c' (by 0.60 nats/token) lie below the lowest loss of "
        "the runs the loss -> metric link was fitted on (2.500 nats/token): there the metric rests on the link's form "
        "and its random walk, whose interval widens with that distance, not on runs that reached it.")
    assert link_extrapolation_note(ds, ["b"], losses[:, [1]]) == ""
    assert link_extrapolation_note(None, ["a"], losses[:, [0]]) == ""
    res = decide(fake_fit, PLANS, COSTS, ValueModel(metric="rises", baseline=0.6, money_per_unit=1e3, unit=0.01),
                 metric="rises", downstream=ds, random_seed=3)
    _, new = keyed_predictive_draws(fake_fit, PLANS[["params", "tokens"]], fake_fit.default_domain, 3)
    below = [lab for lab, m in zip(PLANS["label"], np.median(np.exp(new), axis=0)) if m < 2.5]
    assert below and res.link_caveat.startswith("The forecast loss of plan")
    assert all(f"'{lab}'" in res.link_caveat for lab in below)
    assert res.summary_text().index(res.link_caveat) > 0
    loss = decide(fake_fit, PLANS, COSTS, _loss_value(), random_seed=3)
    assert loss.link_caveat == ""


def test_the_frontier_legend_says_the_interval_level():
    # a fresh user found no interval level in the frontier's column legend
    from bayes_scaling.decisions import frontier_columns

    assert frontier_columns(0.8)["params_opt_median"].endswith("(_lower, _upper: its 80% credible interval, as for every "
                                                               "column below)")
    assert frontier_columns()["loss_opt_median"] == "expected loss of the compute-optimal run, nats/token"
