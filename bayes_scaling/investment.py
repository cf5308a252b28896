"""Floor 3. Investment decisions in money: which plan, whether it pays off, and whether to run a pilot first.

Everything here works on posterior draws given as arrays, so it plugs into any
stage that produces them (the loss posterior of :mod:`bayes_scaling.predict`,
the downstream metric of :mod:`bayes_scaling.downstream`):

* :func:`decide` — for candidate plans, the posterior of the net value
  (value of the metric improvement minus the cost, :mod:`bayes_scaling.costs`),
  P(pays off) = P(net value > 0), P(best), expected regret and the expected value
  of perfect information (EVPI);
* :func:`pilot_value` and :func:`staged_decision` — the staged plan as a decision
  tree: run a small pilot first, then choose. The expected value of sample
  information (EVSI) of a pilot is computed by preposterior analysis (Raiffa &
  Schlaifer 1961, ch. 4): simulate the pilot's outcome from the posterior
  predictive, reweight the posterior draws by the outcome's likelihood
  (importance weights, as :mod:`bayes_scaling.value_of_information` does for
  interval widths; no refit), and take the best plan's expected value after it;
* :func:`cost_frontier` — the compute-optimal allocation under the cost model
  (a money budget instead of C = 6 N D), maximising expected net value or
  minimising expected loss.

The module is named for what it answers (is the investment worth it) and keeps
the money-denominated decisions apart from the loss-denominated ones of
:mod:`bayes_scaling.decisions`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import special

from .costs import CostModel, ValueModel
from .data import require_unique_labels
from .intervals import interval

__all__ = ["decide", "Decision", "net_value_draws", "probability_best", "pilot_value", "staged_decision", "cost_frontier",
           "format_money", "STATUS_QUO", "CLOSE_CALL"]

#: Label of the option to invest nothing and keep the current product (net value 0).
STATUS_QUO = "do nothing"


def format_money(x: float, currency: str = "") -> str:
    """Money in plain words: 1234567 -> '1.23 M', with the currency after it.

    Parameters
    ----------
    x : float
    currency : str, optional

    Returns
    -------
    str
    """
    a = abs(x)
    for scale, suffix in ((1e12, " T"), (1e9, " B"), (1e6, " M"), (1e3, " k")):
        if a >= scale:
            txt = f"{x / scale:.3g}{suffix}"
            break
    else:
        txt = f"{x:.3g}"
    return f"{txt} {currency}".strip()


def _plans_table(plans) -> pd.DataFrame:
    if not isinstance(plans, pd.DataFrame):
        raise ValueError("plans must be a pandas DataFrame with columns params and tokens (optional label, "
                         "unique_tokens).")
    missing = [c for c in ("params", "tokens") if c not in plans.columns]
    if missing:
        raise ValueError(f"plans table is missing column(s) {missing}; it needs params (N) and tokens (D), optional "
                         "label and unique_tokens.")
    p = plans.reset_index(drop=True).copy()
    for c in ("params", "tokens") + (("unique_tokens",) if "unique_tokens" in p else ()):
        v = pd.to_numeric(p[c], errors="coerce").to_numpy(float)
        bad = ~np.isfinite(v) | (v <= 0)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ValueError(f"plans column '{c}' row {i}: {p[c].iloc[i]} is not a positive number.")
        p[c] = v
    if "label" not in p:
        p.insert(0, "label", [f"N={n:.3g}, D={d:.3g}" for n, d in zip(p["params"], p["tokens"], strict=True)])
    p["label"] = p["label"].astype(str)
    require_unique_labels(p["label"], "plans table", "the options in the decision")
    if (p["label"] == STATUS_QUO).any():
        raise ValueError(f"'{STATUS_QUO}' is reserved for the option of not investing; rename that plan.")
    return p


def probability_best(draws, higher_is_better: bool = True) -> np.ndarray:
    """P(each option is the best), from joint posterior draws, with ties split equally.

    Options tied in a draw (the same run listed twice, or every plan at the same value) share that draw's credit;
    counting only the first gave two copies of one plan P(best) 0.98 and 0.00 (a fresh user).

    Parameters
    ----------
    draws : array_like, shape (S, k)
        Joint draws of the options' outcome (net value, loss).
    higher_is_better : bool, default True
        False for a loss.

    Returns
    -------
    ndarray, shape (k,)
        Sums to 1.
    """
    d = np.asarray(draws, float)
    d = d if higher_is_better else -d
    top = d.max(axis=1, keepdims=True)
    tied = d >= top - 1e-12 * np.maximum(1.0, np.abs(top))
    return (tied / tied.sum(axis=1, keepdims=True)).mean(axis=0)


def net_value_draws(metric_draws, plans: pd.DataFrame, costs: CostModel, value: ValueModel) -> np.ndarray:
    """Net value of each plan per posterior draw: ``value(metric) - total_cost``.

    Parameters
    ----------
    metric_draws : array_like, shape (S, n)
        Posterior draws of the metric the value model is stated in (accuracy, or loss
        with ``value.higher_is_better=False``) for the n plans.
    plans : pandas.DataFrame
        n rows with ``params``, ``tokens`` and optionally ``unique_tokens``.
    costs : CostModel
    value : ValueModel

    Returns
    -------
    ndarray, shape (S, n)
        Money in ``costs.currency``.

    Raises
    ------
    ValueError
        When shapes disagree or the currencies differ.
    """
    m = np.asarray(metric_draws, float)
    p = _plans_table(plans)
    if m.ndim != 2 or m.shape[1] != len(p):
        raise ValueError(f"metric_draws must have shape (S, {len(p)}) (draws x plans), got {m.shape}.")
    if value.currency != costs.currency:
        raise ValueError(f"the value model is in {value.currency} but the costs are in {costs.currency}; use one "
                         "currency.")
    u = p["unique_tokens"].to_numpy(float) if "unique_tokens" in p else None
    cost = costs.total_cost(p["params"].to_numpy(float), p["tokens"].to_numpy(float), u)
    return value.value(m) - cost[None, :]


#: Below this probability of beating the runner-up plan (over the joint posterior draws), the summary calls the
#: recommendation nearly a coin toss. A wording convention (60:40 odds), not a fitted value.
CLOSE_CALL = 0.6


@dataclass
class Decision:
    """Result of :func:`decide`.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per option (the plans, then :data:`STATUS_QUO` when included); see :func:`decide`.
    net_value : ndarray, shape (S, n_options)
        Net value draws in the table's order.
    metric_draws : ndarray, shape (S, n_plans)
    recommended : str
        Label of the option with the highest expected net value.
    evpi : float
        Expected value of perfect information: ``E[max_a V_a] - max_a E[V_a]``, the most any
        pilot can be worth.
    currency : str
    prob : float
    formulas : str
        The cost and value formulas with their numbers.
    """

    table: pd.DataFrame
    net_value: np.ndarray
    metric_draws: np.ndarray
    recommended: str
    evpi: float
    currency: str
    prob: float
    formulas: str = ""
    metric: str = "metric"
    pilots: pd.DataFrame | None = field(default=None)

    def summary_text(self) -> str:
        """The decision in plain words, for a report.

        Returns
        -------
        str
        """
        c = self.currency
        t = self.table.set_index("label")
        best = t.loc[self.recommended]
        pct = int(round(self.prob * 100))
        lines = []
        if self.recommended == STATUS_QUO:
            top = t.drop(index=STATUS_QUO)["net_value_mean"].idxmax()
            r = t.loc[top]
            lines.append(
                f"No plan is expected to pay off: the best, {top}, has expected net value "
                f"{format_money(r['net_value_mean'], c)} ({pct} % interval {format_money(r['net_value_lower'], c)} to "
                f"{format_money(r['net_value_upper'], c)}) and pays off with probability {r['p_pays_off']:.2f}. "
                "Keeping the current product is the better bet.")
        else:
            lines.append(
                f"Plan {self.recommended} has the highest expected net value, {format_money(best['net_value_mean'], c)} "
                f"({pct} % interval {format_money(best['net_value_lower'], c)} to "
                f"{format_money(best['net_value_upper'], c)}); it pays off with probability {best['p_pays_off']:.2f} "
                f"and is the best option with probability {best['p_best']:.2f}.")
            # the runner-up may be doing nothing: a plan +3 k on a 64 k bet was compared with a plan at -21 k, and
            # the sentence hid that the choice was close to not funding anything (a fresh user)
            others = t.drop(index=[self.recommended])
            if len(others):  # B at 359 k and C at 356 k read as a clear winner (a fresh user)
                ru = others["net_value_mean"].idxmax()
                labels = list(self.table["label"])
                a, b = self.net_value[:, labels.index(self.recommended)], self.net_value[:, labels.index(ru)]
                beats = float(np.mean(a > b) + 0.5 * np.mean(a == b))  # a tie is half a win
                close = (f", nearly a coin toss: the two are about equally good, so choose between them on what the "
                         "forecast leaves out, or learn more first" if beats < CLOSE_CALL else "")
                if ru == STATUS_QUO:  # P(pays off) above says how often it beats doing nothing; said again if close
                    if close:
                        lines.append(f"The runner-up is to {STATUS_QUO} (net value 0), which the plan beats in only "
                                     f"{100 * beats:.0f} % of the draws{close}.")
                else:
                    lines.append(f"It beats the runner-up, {ru} (expected net value "
                                 f"{format_money(others.loc[ru, 'net_value_mean'], c)}), in {100 * beats:.0f} % of the "
                                 f"draws{close}.")
        lines.append(
            f"Knowing the outcome in advance would be worth at most {format_money(self.evpi, c)} (expected value of "
            "perfect information): no pilot can be worth more.")
        if self.pilots is not None and len(self.pilots):
            for _, r in self.pilots.iterrows():
                verdict = (f"is worth {format_money(r['pilot_net_value'], c)} after its cost"
                           if r["pilot_net_value"] > 0 else
                           f"is not worth its cost ({format_money(r['evsi'], c)} of information for "
                           f"{format_money(r['pilot_cost'], c)})")
                lines.append(
                    f"Running the pilot '{r['label']}' first would change the decision with probability {r['p_change']:.2f} and "
                    f"{verdict}.")
        return " ".join(lines)


def decide(metric_draws, plans, costs: CostModel, value: ValueModel, *, prob: float = 0.9,
           status_quo: bool = True) -> Decision:
    """Net value, P(pays off), P(best) and expected regret of candidate plans.

    Parameters
    ----------
    metric_draws : array_like, shape (S, n)
        Joint posterior draws of the metric of the n plans (draw s of every plan from the
        same posterior draw, so comparisons keep their correlation): e.g. the downstream
        metric from :meth:`bayes_scaling.downstream.DownstreamFit.metric_draws`, or the
        loss from :func:`bayes_scaling.predict.predictive_draws` (``exp`` of it).
    plans : pandas.DataFrame
        n rows: ``params`` (N), ``tokens`` (D), optional ``unique_tokens`` and ``label``.
    costs : CostModel
    value : ValueModel
    prob : float, default 0.9
        Interval probability.
    status_quo : bool, default True
        Include the option of not investing (net value 0, label :data:`STATUS_QUO`): a plan
        is recommended only if it beats keeping the current product.

    Returns
    -------
    Decision
        ``table`` has one row per option: ``label``, ``params``, ``tokens`` (and
        ``unique_tokens``), the cost breakdown (``training_cost``, ``data_cost``,
        ``inference_cost``, ``fixed_cost``, ``total_cost``), ``metric_median``,
        ``metric_lower``, ``metric_upper``, ``value_mean``, ``net_value_mean``,
        ``net_value_median``, ``net_value_lower``, ``net_value_upper``, ``p_pays_off``
        (P(net value > 0)), ``p_best`` (P(highest net value among the options)),
        ``expected_regret`` (E[max over options - this option's net value]), ``rank`` (by
        expected net value) and ``recommended``; money in ``costs.currency``.

    Raises
    ------
    ValueError
        Bad plans, shapes or currencies.

    Notes
    -----
    Ties in expected net value go to the option listed first, except that a plan must beat doing nothing
    (expected net value > 0) to be recommended over it. The expected regret of the recommended
    option equals the EVPI.
    """
    if not 0 < prob < 1:
        raise ValueError(f"prob must be between 0 and 1 (exclusive), got {prob}.")
    p = _plans_table(plans)
    m = np.asarray(metric_draws, float)
    nv = net_value_draws(m, p, costs, value)
    val = value.value(m)
    out = p.copy()
    out = out.join(costs.breakdown(p))
    lo, hi = interval(m, prob)
    out["metric_median"] = np.median(m, 0)
    out["metric_lower"] = lo
    out["metric_upper"] = hi
    out["value_mean"] = val.mean(0)
    if status_quo:
        sq = {c: np.nan for c in out.columns}
        sq.update(label=STATUS_QUO, training_cost=0.0, data_cost=0.0, inference_cost=0.0, fixed_cost=0.0,
                  total_cost=0.0, value_mean=0.0)
        out = pd.concat([out, pd.DataFrame([sq])], ignore_index=True)
        nv = np.concatenate([nv, np.zeros((nv.shape[0], 1))], axis=1)
    vlo, vhi = interval(nv, prob)
    out["net_value_mean"] = nv.mean(0)
    out["net_value_median"] = np.median(nv, 0)
    out["net_value_lower"] = vlo
    out["net_value_upper"] = vhi
    out["p_pays_off"] = (nv > 0).mean(0)
    best = nv.max(1, keepdims=True)
    out["p_best"] = probability_best(nv)
    out["expected_regret"] = (best - nv).mean(0)
    out["rank"] = out["net_value_mean"].rank(ascending=False, method="min").astype(int)
    k = int(np.argmax(out["net_value_mean"].to_numpy()))
    if status_quo and out["net_value_mean"].iloc[k] <= 0:  # a plan that only ties with doing nothing is not funded
        k = len(out) - 1
    out["recommended"] = np.arange(len(out)) == k
    evpi = float(out["expected_regret"].iloc[k])
    formulas = costs.formulas_text() + "\n" + value.formula_text()
    return Decision(table=out, net_value=nv, metric_draws=m, recommended=str(out["label"].iloc[k]), evpi=evpi,
                    currency=costs.currency, prob=prob, formulas=formulas, metric=value.metric)


def _loglik(y, mean, sd, nu):
    z = (y - mean) / sd
    if nu is None:
        return -0.5 * z**2 - np.log(sd)
    return (special.gammaln((nu + 1) / 2) - special.gammaln(nu / 2) - 0.5 * np.log(nu * np.pi) - np.log(sd)
            - (nu + 1) / 2 * np.log1p(z**2 / nu))


def pilot_value(net_value, pilot_mean, pilot_sd, *, pilot_nu=None, pilot_cost: float = 0.0, n_sims: int | None = None,
                rng: np.random.Generator | None = None, min_ess: float = 50.0) -> dict:
    """Expected value of sample information (EVSI) of a pilot, in money.

    Preposterior analysis with importance reweighting: for j = 1..J, pick a posterior
    draw s_j, simulate the pilot's observation ``y_j = mean[s_j] + sd[s_j] * e`` (normal,
    or Student-t with ``pilot_nu``), weight every draw s by the likelihood
    ``w_js ∝ p(y_j | s)``, and compute each option's expected net value after the pilot,
    ``M_ja = Σ_s w_js V_sa``. Then, with ``a0 = argmax_a mean_j M_ja`` (the choice
    without the pilot, estimated from the same simulations),

    ``EVSI = mean_j (max_a M_ja - M_j,a0) = mean_j max_a M_ja - max_a mean_j M_ja``

    Every term is >= 0, so EVSI >= 0 exactly (Jensen's inequality holds for the sample,
    not only in expectation), and EVSI = 0 exactly when no simulated outcome changes the
    best option (e.g. one option beats the others in every draw). ``mean_j M_ja``
    estimates ``E[V_a]`` (law of iterated expectations).

    Parameters
    ----------
    net_value : array_like, shape (S, A)
        Net value draws of the options (include the status quo column to let the pilot
        reveal that no plan pays off), e.g. :attr:`Decision.net_value`.
    pilot_mean : array_like, shape (S,) or (S, m)
        Expected value of the pilot's m observables under draw s (e.g. the pilot's
        expected log loss), aligned with ``net_value``'s draws.
    pilot_sd : array_like, broadcastable to ``pilot_mean``
        Noise scale of one observation under draw s (e.g. the run-to-run noise of log loss).
    pilot_nu : array_like, optional
        Student-t degrees of freedom of the noise (default normal).
    pilot_cost : float, default 0
        Money.
    n_sims : int, optional
        Simulated pilot outcomes J. Default: one from every posterior draw (J = S, in a
        random order), so that ``mean_j M_ja`` matches ``E[V_a]`` closely and the
        estimate is not biased down by a noisy choice ``a0`` (cost O(S^2 m)).
    rng : numpy.random.Generator, optional
    min_ess : float, default 50
        Effective sample size of the weights below which the estimate is flagged.

    Returns
    -------
    dict
        ``evsi``, ``pilot_cost``, ``pilot_net_value`` (EVSI - cost), ``p_change`` (fraction of
        simulated outcomes after which another option is best), ``choice_now`` (index a0),
        ``ess_min``, ``ess_median`` (of the importance weights), ``ess_low`` (bool),
        ``choice_after`` (ndarray (J,), the best option after each simulated outcome).

    Raises
    ------
    ValueError
        On shape mismatches.
    """
    rng = np.random.default_rng(0) if rng is None else rng
    v = np.asarray(net_value, float)
    if v.ndim != 2:
        raise ValueError(f"net_value must be (S, options), got shape {v.shape}.")
    s = v.shape[0]
    mu = np.asarray(pilot_mean, float)
    mu = mu[:, None] if mu.ndim == 1 else mu
    if mu.shape[0] != s:
        raise ValueError(f"pilot_mean has {mu.shape[0]} draws, net_value {s}; they must be the same posterior draws.")
    sd = np.broadcast_to(np.asarray(pilot_sd, float).reshape(-1, 1) if np.ndim(pilot_sd) == 1 else pilot_sd,
                         mu.shape)
    nu = None if pilot_nu is None else np.broadcast_to(
        np.asarray(pilot_nu, float).reshape(-1, 1) if np.ndim(pilot_nu) == 1 else pilot_nu, mu.shape)
    if nu is not None and np.all(nu > 1e5):
        nu = None
    n_sims = s if n_sims is None else int(n_sims)
    sims = rng.permutation(s) if n_sims == s else rng.choice(s, size=n_sims, replace=n_sims > s)
    eps = rng.standard_normal((n_sims, mu.shape[1])) if nu is None else rng.standard_t(nu[sims])
    y = mu[sims] + sd[sims] * eps  # (J, m)
    after = np.empty((n_sims, v.shape[1]))
    ess = np.empty(n_sims)
    for lo in range(0, n_sims, 256):  # blocks of simulated outcomes: (block, S) weights at a time
        yb = y[lo:lo + 256]
        lw = _loglik(yb[:, None, :], mu[None], sd[None], None if nu is None else nu[None]).sum(axis=2)
        w = np.exp(lw - lw.max(axis=1, keepdims=True))
        w /= w.sum(axis=1, keepdims=True)
        ess[lo:lo + 256] = 1.0 / np.sum(w**2, axis=1)
        after[lo:lo + 256] = w @ v
    a0 = int(np.argmax(after.mean(0)))
    choice = after.argmax(1)
    evsi = float(np.mean(after.max(1) - after[:, a0]))
    # the EVSI is made of the outcomes that change the choice (elsewhere max_a = a0 adds 0): its reweighting is as
    # good as theirs. The single worst outcome (ess_min) was 1 draw in every fit tried, which made the caveat noise
    changed = choice != a0
    ess_changing = float(np.median(ess[changed])) if changed.any() else float("nan")
    return {"evsi": evsi, "pilot_cost": float(pilot_cost), "pilot_net_value": evsi - float(pilot_cost),
            "p_change": float(np.mean(changed)), "choice_now": a0, "ess_min": float(ess.min()),
            "ess_median": float(np.median(ess)), "ess_changing": ess_changing,
            "ess_low": bool(changed.any() and ess_changing < min_ess), "choice_after": choice}


def staged_decision(decision: Decision, pilots, observe, costs: CostModel, *, n_sims: int | None = None,
                    random_seed: int = 0, min_ess: float = 50.0) -> pd.DataFrame:
    """Rank pilots by the money their information is worth after their cost (the staged plan).

    The decision tree: either choose a plan now (expected net value ``max_a E[V_a]``), or
    run pilot p (cost c_p), observe it, then choose (expected net value
    ``E[max_a E[V_a | pilot]] - c_p``). A pilot is worth running when
    ``EVSI_p - c_p > 0`` (see :func:`pilot_value`); the best pilot is the one with the
    largest ``EVSI_p - c_p``, and no pilot at all when none is positive.

    Parameters
    ----------
    decision : Decision
        From :func:`decide` (its draws must be the posterior draws ``observe`` refers to).
    pilots : pandas.DataFrame
        Candidate pilots: ``params``, ``tokens`` (optional ``unique_tokens``, ``label``).
    observe : callable
        ``observe(pilot_row: pandas.Series) -> (mean, sd, nu)``: per posterior draw, the
        expected observation of the pilot (S,) or (S, m), its noise scale and Student-t
        degrees of freedom (None for normal). For a loss pilot from a :class:`ScalingFit`:
        the expected log loss from :func:`bayes_scaling.predict.predictive_draws` and
        ``fit.sigma(domain)``, ``fit.nu(domain)``.
    costs : CostModel
        Prices the pilot with :meth:`CostModel.run_cost` (no inference: a pilot is not deployed).
    n_sims : int, optional
        See :func:`pilot_value` (default: every posterior draw once).
    random_seed : int, default 0
    min_ess : float, default 50

    Returns
    -------
    pandas.DataFrame
        One row per pilot, best first: the pilot columns, ``pilot_cost``, ``evsi``,
        ``pilot_net_value``, ``p_change``, ``worth_it`` (EVSI > cost), ``ess_min``,
        ``ess_low``, ``value_decide_now`` (max_a E[V_a]), ``value_with_pilot`` (that plus
        ``pilot_net_value``), ``rank``. Also stored as ``decision.pilots`` so that
        :meth:`Decision.summary_text` reports it.
    """
    p = _plans_table(pilots)
    rng = np.random.default_rng(random_seed)
    u = p["unique_tokens"].to_numpy(float) if "unique_tokens" in p else None
    cost = costs.run_cost(p["params"].to_numpy(float), p["tokens"].to_numpy(float), u)
    now = float(decision.table["net_value_mean"].max())
    rows = []
    for i in range(len(p)):
        mean, sd, nu = observe(p.iloc[i])
        res = pilot_value(decision.net_value, mean, sd, pilot_nu=nu, pilot_cost=float(cost[i]), n_sims=n_sims,
                          rng=rng, min_ess=min_ess)
        rows.append({k: res[k] for k in ("pilot_cost", "evsi", "pilot_net_value", "p_change", "ess_min", "ess_changing",
                                         "ess_low")})
    out = p.join(pd.DataFrame(rows))
    out["worth_it"] = out["pilot_net_value"] > 0
    out["value_decide_now"] = now
    out["value_with_pilot"] = now + out["pilot_net_value"]
    out = out.sort_values("pilot_net_value", ascending=False, kind="stable").reset_index(drop=True)
    out.insert(0, "rank", np.arange(1, len(out) + 1))
    decision.pilots = out
    return out


#: Amounts spent that :func:`cost_frontier` compares under a budget B with a value model: SPEND_LEVELS amounts,
#: log-spaced from B / SPEND_RANGE to B (a factor 1.26 apart: a plan's expected net value is resolved to about
#: a quarter of its cost).
SPEND_LEVELS = 41
SPEND_RANGE = 1e4


def cost_frontier(draws_fn, budgets, costs: CostModel, value: ValueModel | None = None, *,
                  params_range: tuple[float, float] = (1e7, 1e13), n_grid: int = 96,
                  unique_tokens: float | None = None, prob: float = 0.9, lower_is_better: bool = True) -> pd.DataFrame:
    """The compute-optimal allocation under a money budget and the cost model.

    For each budget B and model size N on a log grid, the training tokens are those the
    budget buys, ``D = costs.tokens_for_budget(N, B)`` (training + data + inference +
    fixed = B; with a unique-token limit the extra tokens are repeats). Then:

    * without ``value``: the N minimising the metric (loss), per posterior draw (the
      band) and for the expected metric (the decision);
    * with ``value``: the budget is a cap, not an obligation: over amounts spent s <= B
      (:data:`SPEND_LEVELS` log-spaced amounts from B / :data:`SPEND_RANGE` to B for each budget,
      pooled over the budgets, so a larger budget never does worse than a smaller one) and model
      sizes, the plan with the highest expected net value, value - s. Spending all of a large
      budget on the compute-optimal model costs more than the loss it buys is worth, so a
      frontier that always spent B said "spend nothing" at 1 M EUR while a 66 k EUR plan
      netted +667 k (a fresh user). ``spend`` is the amount chosen.

    A budget that does not cover the fixed and inference costs of any model size in
    ``params_range`` gets a row with ``affordable`` False and NaN elsewhere.

    With no data or inference price this is the FLOP frontier of
    :func:`bayes_scaling.decisions.frontier` at C = B / price_per_flop (up to the grid).

    Parameters
    ----------
    draws_fn : callable
        ``draws_fn(table) -> ndarray (S, len(table))``: joint posterior draws of the metric
        at the rows of a table with ``params``, ``tokens`` (and ``unique_tokens`` when
        given), e.g. ``lambda t: np.exp(predictive_draws(fit, t, domain, rng)[0])`` for the
        expected loss. The same draw s must be the same posterior draw in every call.
    budgets : sequence of float
        Money.
    costs : CostModel
    value : ValueModel, optional
    params_range : (float, float), default (1e7, 1e13)
        Smallest and largest N searched.
    n_grid : int, default 96
        Grid points in log N (the optimum is resolved to a factor (max/min)^(1/(n_grid-1))).
    unique_tokens : float, optional
        Unique tokens available (data repeated beyond them).
    prob : float, default 0.9
    lower_is_better : bool, default True
        Direction of the metric when ``value`` is None (loss: True).

    Returns
    -------
    pandas.DataFrame
        One row per budget: ``budget``, ``affordable``, ``spend`` (the budget itself without ``value``),
        ``params_best``, ``tokens_best`` (the decision),
        ``tokens_per_param_best``, ``metric_median``, ``metric_lower``, ``metric_upper`` at it,
        ``params_opt_median``, ``params_opt_lower``, ``params_opt_upper`` (per-draw optima, over the draws
        whose score varies with N; NaN when none does),
        ``flops`` (6 N D at the decision) and with ``value``: ``value_mean``,
        ``net_value_mean``, ``net_value_lower``, ``net_value_upper``, ``p_pays_off``.

    Raises
    ------
    ValueError
        When ``draws_fn`` returns draws of the wrong shape.
    """
    budgets = np.atleast_1d(np.asarray(budgets, float))
    grid = np.geomspace(params_range[0], params_range[1], n_grid)
    rows = []

    def best_at(spend):
        """The best model size when ``spend`` is spent: (row dict, score draws at it) or None if nothing is affordable."""
        d = costs.tokens_for_budget(grid, spend, unique_tokens)
        ok = np.isfinite(d) & (d >= 1.0)
        if not ok.any():
            return None
        n, dd = grid[ok], d[ok]
        t = pd.DataFrame({"params": n, "tokens": dd})
        if unique_tokens is not None:
            t["unique_tokens"] = np.minimum(dd, unique_tokens)
        m = np.asarray(draws_fn(t), float)
        if m.shape[1] != len(t):
            raise ValueError(f"draws_fn returned shape {m.shape} for {len(t)} rows.")
        score = value.value(m) if value is not None else (-m if lower_is_better else m)  # higher is better
        k = int(np.argmax(score.mean(0)))
        # a draw whose score is the same at every size (a value floored at 0 where no size beats the baseline) has no
        # optimum: argmax gave the smallest size searched, and the interval read "10M-2.2B" (a fresh user)
        varies = np.ptp(score, axis=1) > 0
        per_draw = n[np.argmax(score[varies], axis=1)]
        plo, phi = interval(np.log(per_draw)[:, None], prob) if per_draw.size else ([np.nan], [np.nan])
        lo, hi = interval(m[:, [k]], prob)
        row = {"spend": float(spend), "params_best": n[k], "tokens_best": dd[k], "tokens_per_param_best": dd[k] / n[k],
               "metric_median": float(np.median(m[:, k])), "metric_lower": float(lo[0]), "metric_upper": float(hi[0]),
               "params_opt_median": float(np.exp(np.median(np.log(per_draw)))) if per_draw.size else np.nan,
               "params_opt_lower": float(np.exp(plo[0])),
               "params_opt_upper": float(np.exp(phi[0])), "flops": 6.0 * n[k] * dd[k],
               "at_grid_edge": bool(k in (0, len(n) - 1))}
        return row, score[:, k]

    # one grid of amounts for every budget, each searched up to its budget: a budget can then never do worse than a
    # smaller one (each budget's own grid made 1 M EUR net 89.7 k where 150 k netted 90.1 k; a fresh user)
    pooled = np.unique(np.concatenate([np.geomspace(b / SPEND_RANGE, b, SPEND_LEVELS) for b in budgets])) \
        if value is not None and budgets.size else np.array([])
    cache: dict[float, tuple | None] = {}

    def cached(s):
        if s not in cache:
            cache[s] = best_at(s)
        return cache[s]

    for b in budgets:
        spends = [b] if value is None else pooled[pooled <= b]
        found = [r for r in (cached(float(s)) for s in spends) if r is not None]
        if not found:
            rows.append({"budget": b, "affordable": False})
            continue
        # the amount with the highest expected net value (ties: the smaller amount)
        row, score = max(found, key=lambda rs: float(rs[1].mean()) - rs[0]["spend"] if value is not None else 0.0)
        row = {"budget": b, "affordable": True, **row}
        if value is not None:
            nv = score - row["spend"]
            vlo, vhi = interval(nv[:, None], prob)
            row.update(value_mean=float(score.mean()), net_value_mean=float(nv.mean()),
                       net_value_lower=float(vlo[0]), net_value_upper=float(vhi[0]), p_pays_off=float((nv > 0).mean()))
        rows.append(row)
    out = pd.DataFrame(rows)
    out.attrs["currency"] = costs.currency
    out.attrs["prob"] = prob
    return out
