"""Floor 3. Decisions: compute-optimal allocation, comparing options, and the investment decision from a fit.

All functions work on posterior draws, so every answer comes with a credible
interval and a probability.

* :func:`frontier` — N_opt(C), D_opt(C), tokens per parameter and L_opt(C) over
  budgets (Hoffmann et al. 2022, Eq. 4 in closed form for the Chinchilla law;
  a vectorised golden-section search for the other laws, with a maximum model
  size, a unique-token budget or inference cost (Sardana et al. 2024) as options).
* :func:`compare` — posterior loss of candidate runs, probability that each is
  the best and the expected loss gap to the best.
* :func:`decide` — the decision in money from a saved fit: draws the loss (or, with
  a :class:`~bayes_scaling.downstream.DownstreamFit`, a downstream metric) at each
  plan and pilot from the same posterior draws and hands them to
  :mod:`bayes_scaling.investment` (net value, P(pays off), P(best), EVSI of pilots,
  the frontier under a money budget); :class:`InvestmentDecision` holds the tables
  and says the result in plain words.

The next run to make is :func:`bayes_scaling.value_of_information.next_run`; the
frontier under other priors is :func:`bayes_scaling.sensitivity.sensitivity`.

The allocation on the frontier is the *law's* optimum: the discrepancy term is
orthogonal to the law on the runs and held at its edge value beyond them
(:mod:`bayes_scaling.discrepancy`). ``loss_opt`` includes the discrepancy and the
model-form error beyond the runs (:mod:`bayes_scaling.extrapolation`), so it agrees
with :func:`bayes_scaling.predict.predict` at the same (N, D). Where the discrepancy held at the edge
of the runs favours another allocation, :func:`compare` (which uses the full expected loss) can rank
another run first; :func:`frontier` then says so (:func:`discrepancy_allocation_note`). Optimising the
law plus the discrepancy draw by draw was tried as the frontier itself (2026-12-06): at 1e23 FLOPs on the
Chinchilla runs it split the draws between 9.7B and 35B (the edge of the runs' N), an artefact of holding the
discrepancy at its edge value, so it serves only as that check.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ._text import did_you_mean, format_flops, format_span, listed
from ._warnings import warn_caller
from .costs import CostModel, ValueModel, load_costs, load_value
from .data import (MAX_LOSS_NATS, MIN_PARAMS, MIN_TOKENS, RunsTableError, RunsTableWarning, domain_column_words,
                   one_domain_of, require_unique_labels, validate_targets)
from .diagnostics import DownstreamConvergenceWarning
from .display import format_count
from .extrapolation import extrapolation_distance
from .intervals import check_prob, interval, thin_tails
from .investment import CLOSE_CALL, STATUS_QUO, Decision, cost_frontier, format_money, probability_best, staged_decision
from .investment import decide as decide_from_draws
from .laws import ChinchillaLaw, compute_optimal_chinchilla
from .predict import (EXTRAPOLATION_FACTOR, ExtrapolationWarning, assume_unique_tokens, discrepancy_draws,
                      domain_draws, keyed_predictive_draws, warn_extrapolation)

__all__ = ["frontier", "optimal_allocation_draws", "compare", "discrepancy_of", "extrapolation_of", "decide",
           "InvestmentDecision", "check_metric", "metric_note", "check_constraints", "warn_budgets", "COMPARE_COLUMNS",
           "frontier_columns",
           "compare_loss_columns", "compare_summary", "FRONTIER_COLUMNS", "discrepancy_allocation_note",
           "discrepancy_allocation_parts", "discrepancy_allocation_sentence",
           "DISCREPANCY_NOTE", "stage_mismatch_note", "STAGE_LOSS_MISMATCH", "link_extrapolation_note"]

_GOLDEN = (np.sqrt(5.0) - 1.0) / 2.0

#: What the columns of :func:`compare` mean (printed under the table by ``bayes-scaling compare``).
COMPARE_COLUMNS = {
    "p_best": "P(this candidate has the lowest loss of all candidates), over the posterior draws",
    "expected_gap": "E[loss - lowest loss among the candidates], nats/token: what choosing it costs on average",
    "rank": "order by expected_gap (1 = the lowest expected loss), ties by p_best; near-identical candidates split "
            "p_best between them, so p_best does not rank",
}


def compare_loss_columns(new_run: bool, prob: float = 0.9) -> dict[str, str]:
    """What the loss columns of :func:`compare` mean, for the legend under its table: the expected loss (predict's
    ``mean_loss_*``) or, with ``new_run``, one new run's loss (predict's ``loss_*``). A fresh user pasted compare's
    ``loss_median`` next to predict's, which is another quantity.

    Parameters
    ----------
    new_run : bool
        As :func:`compare`'s ``new_run``.
    prob : float
        The interval probability.

    Returns
    -------
    dict of str
        ``loss_median``, ``loss_lower``, ``loss_upper`` and their meaning; with ``new_run`` also ``expected_gap``,
        whose meaning changes with single runs (it overrides :data:`COMPARE_COLUMNS`' entry).
    """
    what = ("the loss of one new training run at the candidate, run-to-run noise included (predict's loss_*)"
            if new_run else "the expected loss at the candidate: the law with its discrepancy term and the model-form "
            "error beyond the runs, without one run's noise (predict's mean_loss_*; --new-run for one run)")
    out = {"loss_median": f"median of {what}, nats/token", "loss_lower": f"lower end of its {prob:.0%} credible interval",
           "loss_upper": f"upper end of its {prob:.0%} credible interval"}
    if new_run:  # every candidate's gap was ~0.10, the best's too, read as "what choosing it costs" (a fresh user)
        out["expected_gap"] = ("E[loss - lowest loss among the candidates' runs], nats/token: each run has noise of its "
                               "own, so every gap includes the luck of whichever run lands lowest (about the same for "
                               "each row); the differences between rows are what choosing costs")
    return out


def frontier_columns(prob: float | None = None) -> dict[str, str]:
    """What the columns of :func:`frontier` mean (printed under the table by ``bayes-scaling frontier``), with the
    interval's probability when given (a fresh user found no level in the legend).

    Parameters
    ----------
    prob : float, optional
        The credible interval's probability.

    Returns
    -------
    dict of str
    """
    level = "its credible interval" if prob is None else f"its {prob:.0%} credible interval"
    return {
        "params_opt_median": "compute-optimal N (parameters) at the budget, median over the posterior (_lower, _upper: "
                             f"{level}, as for every column below)",
        "tokens_opt_median": "compute-optimal D (training tokens) at the budget: flops / (6 N)",
        "tokens_per_param_median": "D / N of the compute-optimal run",
        "loss_opt_median": "expected loss of the compute-optimal run, nats/token",
        "unique_tokens": "the budget of unique tokens U (--unique-tokens)",
        "epochs_median": "tokens_opt / unique_tokens: how many times the compute-optimal run repeats the unique data; "
                         "below 1 the budget does not bind (the optimum uses only that fraction of it, once)",
    }


#: What the columns of :func:`frontier` mean, the interval's probability unsaid (:func:`frontier_columns`).
FRONTIER_COLUMNS = frontier_columns()


def _domain_theta(fit, domain, seed: int):
    """A domain's parameter draws (S, p) (:func:`~bayes_scaling.predict.domain_draws`: a new domain's keyed by the
    seed, so its frontier and its forecasts by predict and compare rest on the same draws), and the domain."""
    if domain is None:
        domain = fit.default_domain
    return domain_draws(fit, domain, seed)[0], domain


def extrapolation_of(fit, domain):
    """The ``extrapolation`` argument of :func:`optimal_allocation_draws` for a domain: draw s's model-form
    error at its own (N, D) (:meth:`ScalingFit.extrapolation_error`, paired by draw), for inputs of shape (S,) or
    (S, K) (row s: draw s)."""
    runs = fit.own_runs(domain)

    def f(params, tokens):
        params, tokens = np.asarray(params, float), np.asarray(tokens, float)
        h = extrapolation_distance(runs, pd.DataFrame({"params": params.ravel(), "tokens": tokens.ravel()}))
        return fit.extrapolation.drift(h.reshape(params.shape), fit.n_draws, fit.random_seed, paired=True,
                                       key=fit.drift_key(domain))
    return f


def discrepancy_of(fit, domain, draws: np.ndarray | None = None):
    """The ``discrepancy`` argument of :func:`optimal_allocation_draws` for a domain (None without one); with
    ``draws`` (indices), for those posterior draws only."""
    if domain not in fit.bases:
        return None
    coef = fit.discrepancy_coefficients(domain)  # once: an optimiser calls the function hundreds of times
    if draws is not None:
        coef = coef[draws]
    return lambda x: discrepancy_draws(fit, domain, x, paired=True, coefficients=coef)


def check_constraints(fit, max_params=None, unique_tokens=None, inference_tokens=0.0, *, flags: bool = False) -> None:
    """Refuse a constraint of the compute-optimal allocation that cannot hold (see :func:`optimal_allocation_draws`).

    A zero or negative ``max_params`` gave an all-NaN frontier and NumPy's "divide by zero encountered in log"; a
    ``unique_tokens`` budget for a law that does not see repeated data was ignored without a word (a fresh user).

    Parameters
    ----------
    fit : ScalingFit
    max_params, unique_tokens, inference_tokens
        As :func:`optimal_allocation_draws`.
    flags : bool, default False
        Name the constraints as the command line's flags (``--max-params``, "drop the flag").

    Raises
    ------
    ValueError
        For a ``max_params`` or ``unique_tokens`` that is not a positive finite count or is below
        :data:`~bayes_scaling.data.MIN_PARAMS` / :data:`~bayes_scaling.data.MIN_TOKENS` (a count in millions or
        billions), an ``inference_tokens`` that is negative or not finite, or ``unique_tokens`` for a law without it.
    """
    def name(arg):
        return "--" + arg.replace("_", "-") if flags else arg

    drop = "drop the flag" if flags else "leave it out"
    for arg, v in (("max_params", max_params), ("unique_tokens", unique_tokens)):
        if v is not None and not (np.isfinite(v) and v > 0):
            raise ValueError(f"{name(arg)} must be a positive count (e.g. 7e10), got {v:g}; {drop} for no constraint.")
    if not (np.isfinite(inference_tokens) and inference_tokens >= 0):
        raise ValueError(f"{name('inference_tokens')} must be zero or a positive count of tokens served (e.g. 1e12), "
                         f"got {inference_tokens:g}.")
    if unique_tokens is not None and "unique_tokens" not in fit.law.variables:
        raise ValueError(f"{name('unique_tokens')} is a budget of unique data for a fit of the data-constrained law; "
                         f"this fit's law is '{fit.law.name}', which does not see repeated data. {drop.capitalize()}.")
    if max_params is not None and max_params < MIN_PARAMS:  # '4' for 4B gave N = 4 and a loss of 7953 (a fresh user)
        raise ValueError(f"{name('max_params')} {max_params:g} looks like millions or billions of parameters; give a "
                         f"raw count, e.g. 4e9 for 4B.")
    if unique_tokens is not None and unique_tokens < MIN_TOKENS:  # '10' for 10B gave N = 1.6e16 and loss 1514
        raise ValueError(f"{name('unique_tokens')} {unique_tokens:g} looks like millions or billions of tokens; give a "
                         f"raw count of unique tokens, e.g. 1e10 for 10B.")


def _require_allocation(law) -> None:
    """Raise for a law without an N-D split, before anything reads the runs' tokens (a params-only fit said only
    'error: tokens', a fresh user)."""
    if not law.has_allocation:
        raise ValueError(f"the {law.name} law does not depend on both N and D, so it has no compute-optimal split.")


def warn_budgets(fit, flops) -> np.ndarray:
    """Warn (:class:`~bayes_scaling.predict.ExtrapolationWarning`) about frontier budgets more than
    :data:`~bayes_scaling.predict.EXTRAPOLATION_FACTOR` times below the smallest run's compute or above the largest's.

    ``frontier --flops 1e12`` on runs of 3e15-9e19 FLOPs forecast 13 nats/token, and ``--flops 1e40`` its own
    number, without a word (a fresh user): the law there is the prior's and the runs' form, not a measurement.

    Returns
    -------
    ndarray of bool
        Shape (len(flops),): the budgets warned about (:func:`frontier` checks the optimum's sizes at the others).
    """
    runs = fit.runs
    c = runs["flops"] if "flops" in runs else 6.0 * runs["params"] * runs["tokens"]
    lo, hi = float(c.min()), float(c.max())
    flops = np.atleast_1d(np.asarray(flops, float))
    below, above = flops < lo / EXTRAPOLATION_FACTOR, flops > hi * EXTRAPOLATION_FACTOR
    for far, side, ref, farthest in ((below, "below the smallest", lo, np.min), (above, "above the largest", hi, np.max)):
        if far.any():
            worst = farthest(flops[far])
            warn_caller(f"{int(far.sum())} budget(s) lie more than {EXTRAPOLATION_FACTOR:.0f}x {side} run's compute "
                        f"({ref:.3g} FLOPs; budget {worst:.3g}, {abs(np.log10(worst / ref)):.1f} decades away): the "
                        "frontier there is the law's form, not what the runs measured.", ExtrapolationWarning)
    return below | above


#: Points of the grid on which :func:`optimal_allocation_draws` brackets each draw's optimum before its golden-section
#: search, when a discrepancy term makes the loss possibly multimodal in ln N (48 points over the search range of
#: about 25 in ln N: a bracket of about 1 in ln N, which the search then narrows to 3e-13).
ALLOCATION_GRID = 48


def _discrepancy_columns(discrepancy, x: dict) -> np.ndarray:
    """``discrepancy`` (a function of per-draw inputs, each (S,)) at inputs of shape (S, K), column by column."""
    k = next(v for v in x.values() if isinstance(v, np.ndarray) and v.ndim == 2).shape[1]
    out = [discrepancy({key: (v[:, j] if isinstance(v, np.ndarray) and v.ndim == 2 else v) for key, v in x.items()})
           for j in range(k)]
    return np.stack(out, axis=1)  # draw s at its own point


def optimal_allocation_draws(
    fit,
    flops: np.ndarray,
    theta: np.ndarray,
    *,
    max_params: float | None = None,
    unique_tokens: float | None = None,
    inference_tokens: float = 0.0,
    iterations: int = 60,
    discrepancy=None,
    extrapolation=None,
    allocate_with_discrepancy: bool = False,
) -> dict[str, np.ndarray]:
    """Compute-optimal N, D and L for each posterior draw and budget.

    Parameters
    ----------
    fit : ScalingFit
        Supplies the law and the reference scales.
    flops : ndarray, shape (K,)
        Total compute budgets in FLOPs.
    theta : ndarray, shape (S, p)
        Draws of the law's sampling parameters.
    max_params : float, optional
        Largest allowed model size N.
    unique_tokens : float, optional
        Unique tokens available (data-constrained law, Muennighoff et al. 2023);
        other laws ignore it.
    inference_tokens : float, default 0
        Tokens to be served after training; each costs 2 N FLOPs (Sardana et al.
        2024), so training gets D = (C - 2 N D_inf) / (6 N).
    iterations : int
        Golden-section iterations (60 narrow ln N to 3e-13 of its bracket).
    discrepancy : callable, optional
        ``f(x) -> (S,)``: discrepancy of draw s at centred log inputs ``x`` (each (S,)), for
        example ``lambda x: predict.discrepancy_draws(fit, domain, x, paired=True)``; added to ``loss_opt``
        (the allocation itself is the law's optimum unless ``allocate_with_discrepancy``).
    extrapolation : callable, optional
        ``f(params (S, K), tokens (S, K)) -> (S, K)``: the model-form error of draw s at its own optimum for each
        budget (:meth:`ScalingFit.extrapolation_error`, paired by draw; :func:`extrapolation_of`); added to
        ``loss_opt``.
    allocate_with_discrepancy : bool, default False
        Whether each draw's allocation minimises the law plus ``discrepancy`` (the expected loss that ``predict``
        and ``compare`` use) instead of the law alone: a grid of :data:`ALLOCATION_GRID` points brackets each
        draw's minimum, which need not be unique, before the golden-section search.

    Returns
    -------
    dict of ndarray, each (S, K)
        ``params_opt``, ``tokens_opt``, ``tokens_per_param``, ``loss_opt`` (nats/token).

    Raises
    ------
    ValueError
        If the law does not depend on both N and D, or a constraint cannot hold (:func:`check_constraints`).
    """
    law = fit.law
    _require_allocation(law)
    check_constraints(fit, max_params, unique_tokens, inference_tokens)
    flops = np.asarray(flops, float)[None, :]
    th = fit.theta_dict(theta)
    with_disc = allocate_with_discrepancy and discrepancy is not None
    simple = isinstance(law, ChinchillaLaw) and max_params is None and not inference_tokens and not with_disc
    if simple:
        nat = law.natural(th, fit.refs)
        n_opt, d_opt = compute_optimal_chinchilla(
            flops, nat["A"][:, None], nat["B"][:, None], nat["alpha"][:, None], nat["beta"][:, None]
        )
        log_n = np.log(n_opt)
    else:
        log_c6 = np.log(flops / 6.0)
        lo = np.full((theta.shape[0], flops.shape[1]), np.log(1e3))
        hi = log_c6 - np.log(1.0)  # D >= 1 token
        if inference_tokens:
            hi = np.minimum(hi, np.log(flops / (2.0 * inference_tokens)) - 1e-9)
        if max_params is not None:
            hi = np.minimum(hi, np.log(max_params))
        lo = np.minimum(lo, hi - 1e-6)
        thb = {k: v[:, None] for k, v in th.items()}

        def objective(log_n):
            n = np.exp(log_n)
            train = flops - 2.0 * n * inference_tokens
            d = np.maximum(train, 1e-300) / (6.0 * n)
            x = {"params": log_n - fit.refs["params"], "tokens": np.log(d) - fit.refs["tokens"]}
            if "unique_tokens" in law.variables:
                u = d if unique_tokens is None else np.minimum(unique_tokens, d)
                x["unique_tokens"] = np.log(u) - fit.refs["tokens"]
                x["_ref_params"], x["_ref_tokens"] = fit.refs["params"], fit.refs["tokens"]
            with np.errstate(all="ignore"):
                val = law.log_loss(x, thb, np)
                if with_disc:
                    val = val + _discrepancy_columns(discrepancy, x)
            return np.where(np.isfinite(val), val, np.inf)

        a, b = lo, hi
        if with_disc:
            # the law plus a discrepancy need not be unimodal in ln N: bracket each draw's minimum on a grid first
            frac = np.linspace(0.0, 1.0, ALLOCATION_GRID)
            grid = lo[..., None] + (hi - lo)[..., None] * frac
            vals = np.stack([objective(grid[..., i]) for i in range(ALLOCATION_GRID)], axis=-1)
            best = np.argmin(vals, axis=-1)
            a = np.take_along_axis(grid, np.maximum(best - 1, 0)[..., None], axis=-1)[..., 0]
            b = np.take_along_axis(grid, np.minimum(best + 1, ALLOCATION_GRID - 1)[..., None], axis=-1)[..., 0]
        for _ in range(iterations):
            c = b - _GOLDEN * (b - a)
            d = a + _GOLDEN * (b - a)
            left = objective(c) < objective(d)
            b = np.where(left, d, b)
            a = np.where(left, a, c)
        log_n = (a + b) / 2.0
        n_opt = np.exp(log_n)
        d_opt = (flops - 2.0 * n_opt * inference_tokens) / (6.0 * n_opt)
    x = {"params": log_n - fit.refs["params"], "tokens": np.log(d_opt) - fit.refs["tokens"]}
    if "unique_tokens" in law.variables:
        u = d_opt if unique_tokens is None else np.minimum(unique_tokens, d_opt)
        x["unique_tokens"] = np.log(u) - fit.refs["tokens"]
        x["_ref_params"], x["_ref_tokens"] = fit.refs["params"], fit.refs["tokens"]
    log_loss = law.log_loss(x, {k: v[:, None] for k, v in th.items()}, np)
    if discrepancy is not None:
        # the same discrepancy draws as predict() at these (N, D): the GP on the runs, held at its value
        # on the edge of their range beyond them (bayes_scaling.predict.discrepancy_draws)
        log_loss = log_loss + _discrepancy_columns(discrepancy, x)
    if extrapolation is not None:  # every budget at once (column by column, the report's figures called it 780 times)
        log_loss = log_loss + extrapolation(n_opt, d_opt)
    loss = np.exp(log_loss)
    return {"params_opt": n_opt, "tokens_opt": d_opt, "tokens_per_param": d_opt / n_opt, "loss_opt": loss}


#: How the note of :func:`discrepancy_allocation_note` begins (a note on the frontier table's budgets, which
#: ``workflow.default_targets`` leaves out for the budgets of its targets, as it does the allocation note).
DISCREPANCY_NOTE = "the loss the forecasts use"
#: Posterior draws :func:`discrepancy_allocation_note` uses at most (every k-th draw): it re-optimises each draw on a
#: grid, ~1 s for 500 draws and five budgets.
NOTE_DRAWS = 500


def discrepancy_allocation_note(fit, table: pd.DataFrame, theta: np.ndarray, domain: str, prob: float = 0.9,
                                **constraints) -> str:
    """Say where the loss the forecasts use is lowest at another model size than the frontier's ('' if nowhere).

    The sentence of :func:`discrepancy_allocation_sentence` around :func:`discrepancy_allocation_parts` (same
    arguments); it names the domain for a fit of several.
    """
    return _domain_note(fit, domain, discrepancy_allocation_parts(fit, table, theta, domain, prob, **constraints))


def _domain_note(fit, domain: str, parts: list[str]) -> str:
    """:func:`discrepancy_allocation_sentence` for one domain's budgets ('' without any)."""
    if not parts:
        return ""
    return discrepancy_allocation_sentence(f" of domain '{domain}'" if len(fit.domains) > 1 else "",
                                           listed(parts, 4, "; "))


def discrepancy_allocation_parts(fit, table: pd.DataFrame, theta: np.ndarray, domain: str, prob: float = 0.9,
                                 **constraints) -> list[str]:
    """The budgets where the loss the forecasts use (the law plus its discrepancy term) is lowest at another model
    size than the frontier's (the law's optimum): where its median N lies outside the frontier's interval and the loss
    at stake is more than one run's noise.

    ``predict`` and ``compare`` include the discrepancy (held at its edge value beyond the runs), the frontier's
    allocation does not: a fresh user's data-constrained frontier said 4.26B (3.08-5.91B) at 1e22 FLOPs while
    ``compare`` ranked 8.67B first, without a word on why. A loss at stake within the run-to-run noise (the median
    noise scale of the domain, relative loss) is not said: no training run could tell the two allocations apart (a
    fresh user's note on 0.0012 nats/token at a loss of 2.3, where one run scatters by 0.007).

    Parameters
    ----------
    fit : ScalingFit
    table : DataFrame
        The frontier (:func:`frontier`'s columns ``flops`` and ``params_opt_*``).
    theta : ndarray, shape (S, p)
        The draws the frontier used.
    domain : str
    prob : float, default 0.9
        The probability of the frontier's intervals.
    **constraints
        ``max_params``, ``unique_tokens``, ``inference_tokens`` as given to the frontier.

    Returns
    -------
    list of str
        One phrase per budget where it is ("1e22 FLOPs: 8.67B, against the frontier's 4.26B (90% interval
        3.08B-5.91B), 0.012 nats/token lower"), in the table's order; empty if nowhere.
    """
    sub = np.arange(0, theta.shape[0], max(1, int(np.ceil(theta.shape[0] / NOTE_DRAWS))))
    disc = discrepancy_of(fit, domain, draws=sub)
    if disc is None:
        return []
    flops = table["flops"].to_numpy(float)
    alt = optimal_allocation_draws(fit, flops, theta[sub], discrepancy=disc, allocate_with_discrepancy=True,
                                   **constraints)
    n_alt = np.median(alt["params_opt"], axis=0)
    off = (n_alt < table["params_opt_lower"].to_numpy()) | (n_alt > table["params_opt_upper"].to_numpy())
    if not off.any():
        return []
    # what is at stake: the expected loss (law plus discrepancy) at the law's optimum minus at the other, per draw (a
    # fresh user could not tell 0.002 nats at 1e21 on the demo from 0.0007 on a fit whose interval was 0.23 wide)
    law_opt = optimal_allocation_draws(fit, flops, theta[sub], discrepancy=disc, **constraints)
    gain = np.median(law_opt["loss_opt"] - alt["loss_opt"], axis=0)
    noise = float(np.median(fit.noise_scale(domain))) * np.median(alt["loss_opt"], axis=0)  # one run's scatter, nats
    off &= gain > noise
    if not off.any():
        return []
    rows = table[off]
    parts = [f"{format_flops(c)} FLOPs: {format_count(a)}, against the frontier's {format_count(m)} ({prob:.0%} interval "
             f"{format_count(lo)}-{format_count(hi)}), {g:.2g} nats/token lower"
             for c, a, m, lo, hi, g in zip(rows["flops"], n_alt[off], rows["params_opt_median"],
                                           rows["params_opt_lower"], rows["params_opt_upper"], gain[off], strict=True)]
    return parts


def discrepancy_allocation_sentence(where: str, what: str) -> str:
    """The note of :func:`discrepancy_allocation_note` around its budgets (``what``); ``where`` names the domain(s),
    e.g. " of domain 'c4'" or " of 8 of the 9 fitted domains" ('' for a fit of one domain)."""
    return (f"{DISCREPANCY_NOTE}{where} (the law plus the discrepancy term: the runs' smooth misfit to the law, "
            f"held at its edge value beyond the runs) is lowest at another model size than the frontier's, which is "
            f"the law's optimum: {what} (medians over the posterior). Comparing runs (compare) uses "
            "that loss and may rank such a run first; the frontier does not follow the misfit beyond the runs, so "
            "compare the two allocations, and the loss at stake against the width of their intervals, before choosing.")


def frontier(
    fit,
    flops,
    prob: float = 0.9,
    domain: str | None = None,
    *,
    max_params: float | None = None,
    unique_tokens: float | None = None,
    inference_tokens: float = 0.0,
    random_seed: int | None = None,
    warn_far: bool = True,
    notes: list | None = None,
) -> pd.DataFrame:
    """Compute-optimal frontier with credible bands.

    Parameters
    ----------
    fit : ScalingFit
    flops : float or sequence of float
        Budgets C in FLOPs (training, plus inference when ``inference_tokens`` > 0).
    prob : float, default 0.9
        Interval probability (equal-tailed).
    domain : str, optional
        Fitted domain, or a new name for the population (new-domain) frontier.
    max_params, unique_tokens, inference_tokens
        Constraints, see :func:`optimal_allocation_draws`.
    random_seed : int, optional
        Seed for new-domain draws.
    warn_far : bool, default True
        Warn about budgets far from the runs (:func:`warn_budgets`), and where the discrepancy term favours another
        model size (:func:`discrepancy_allocation_note`); off for a figure's own grid of budgets, which the user did
        not choose.
    notes : list, optional
        Receives the note of :func:`discrepancy_allocation_note` instead of a warning (a report's notes).

    Returns
    -------
    pandas.DataFrame
        One row per budget: ``flops`` and, each as ``_median``, ``_lower``, ``_upper``:
        ``params_opt``, ``tokens_opt``, ``tokens_per_param``, ``loss_opt``; with ``unique_tokens`` (a data-constrained
        fit) also ``unique_tokens`` and ``epochs`` (``tokens_opt / unique_tokens``, each as ``_median``, ``_lower``,
        ``_upper``); plus ``domain``.

    Raises
    ------
    ValueError
        For non-positive budgets, a law without an N-D split, a non-positive ``max_params`` or ``unique_tokens``, a
        negative ``inference_tokens``, or ``unique_tokens`` for a law that does not see repeated data.
    RunsTableError
        For a fit of several domains without ``domain``.
    """
    _require_allocation(fit.law)
    flops = np.atleast_1d(np.asarray(flops, float))
    if flops.size == 0 or not np.all(np.isfinite(flops)) or np.any(flops <= 0):
        raise ValueError("budgets must be positive finite FLOP counts, e.g. 1e21,5.88e23.")
    if flops.max() < 1e12:
        raise ValueError(f"budgets look like PF-days or exponents (largest {flops.max():g}); give FLOPs, e.g. 5.88e23.")
    prob = check_prob(prob)  # "0.9" from a widget is read; 90 is refused with its 0.9
    if thin := thin_tails(prob, fit.n_draws):
        warn_caller(thin, UserWarning)
    seed = fit.random_seed if random_seed is None else random_seed
    named = warn_budgets(fit, flops) if warn_far else None
    # without a domain, raises for a fit of several (default_domain's message speaks of targets); with one, questions a
    # near miss of a fitted name, which gives a new domain's frontier
    fit.domain_for("frontier", domain, new="frontier", every="For every domain at once, as the command line does "
                   "without --domain, use bayes_scaling.workflow.domain_frontiers.")
    theta, dom = _domain_theta(fit, domain, seed)
    res = optimal_allocation_draws(
        fit, flops, theta, max_params=max_params, unique_tokens=unique_tokens, inference_tokens=inference_tokens,
        discrepancy=discrepancy_of(fit, dom), extrapolation=extrapolation_of(fit, dom),
    )
    out = {"flops": flops}
    for key, val in res.items():
        lo, hi = interval(val, prob)
        out[f"{key}_median"] = np.median(val, axis=0)
        out[f"{key}_lower"] = lo
        out[f"{key}_upper"] = hi
    df = pd.DataFrame(out)
    if unique_tokens is not None:  # a data-constrained fit (check_constraints refused it for the other laws)
        # the question a fixed unique-data budget asks is "how many epochs" (a fresh user worked them out by hand)
        df["unique_tokens"] = float(unique_tokens)
        for q in ("median", "lower", "upper"):
            df[f"epochs_{q}"] = df[f"tokens_opt_{q}"] / float(unique_tokens)
    # the optimum's epochs beyond R_D* with a unique-token budget; with warn_far also its sizes far beyond or below the
    # runs (a budget 75x below the runs came without a word), for the budgets warn_budgets has not named already
    optimum = pd.DataFrame({"params": df["params_opt_median"], "tokens": df["tokens_opt_median"]})
    if unique_tokens is not None:
        warn_extrapolation(fit, optimum.assign(unique_tokens=float(unique_tokens)), "compute-optimal run",
                           beyond_runs=False)
    if named is not None:
        warn_extrapolation(fit, optimum[~named], "compute-optimal run")
    parts = discrepancy_allocation_parts(fit, df, theta, dom, prob, max_params=max_params, unique_tokens=unique_tokens,
                                         inference_tokens=inference_tokens) if warn_far else []
    note = _domain_note(fit, dom, parts)
    df.attrs["discrepancy_parts"] = parts  # for a note on several domains at once (workflow.domain_frontiers)
    if note and notes is not None:
        notes.append(note)
    elif note:
        warn_caller(note, UserWarning)
    df["domain"] = dom
    df.attrs["prob"] = prob
    return df


def _loss_draws(fit, candidates: pd.DataFrame, domain, seed: int, noise: bool) -> tuple[np.ndarray, np.ndarray]:
    """Loss draws of the candidates (S, n): those shown (predict's, keyed by seed, domain and sizes) and those compared.

    Expected losses: the same draws for both. Single runs: shown with predict's Student-t noise, so compare's
    interval is predict's ``loss_*`` (a fresh user read 1.4652 [1.1594, 1.7862] in compare and 1.4642 [1.1511, 1.7795]
    in predict for one run); compared with a normal noise of the same 90 % interval, so that the expected gap (a mean in
    loss space) is finite (:func:`bayes_scaling.predict.predictive_draws`).
    """
    dom = domain or fit.default_domain
    mean, new = keyed_predictive_draws(fit, candidates, dom, seed)
    if not noise:
        return np.exp(mean), np.exp(mean)
    _, normal = keyed_predictive_draws(fit, candidates, dom, seed, noise="matched_normal")
    return np.exp(new), np.exp(normal)


def compare(
    fit,
    candidates,
    prob: float = 0.9,
    domain: str | None = None,
    *,
    new_run: bool = False,
    random_seed: int | None = None,
) -> pd.DataFrame:
    """Compare candidate runs: posterior loss, P(best) and expected gap to the best.

    Parameters
    ----------
    fit : ScalingFit
    candidates : DataFrame or path
        Columns ``params`` and ``tokens`` (or ``flops``); optional ``label``; optional ``domain`` (or the fit's
        domain column): rows of several domains are each forecast in their own domain under the same posterior
        draws, which ranks data mixes or recipes at one size (meaningful where the domains are scored on the same
        evaluation set).
    prob : float, default 0.9
    domain : str, optional
        The one domain of every candidate (not with rows that name several).
    new_run : bool, default False
        Compare single runs (noise included) instead of expected losses. ``loss_*`` are then predict's
        ``loss_*`` for the same seed; ``p_best`` and ``expected_gap`` take the run-to-run noise as normal with
        the same 90 % interval as the fit's Student-t, whose tail has no mean in loss space
        (:func:`bayes_scaling.predict.predictive_draws`).
    random_seed : int, optional

    Returns
    -------
    pandas.DataFrame
        One row per candidate: the candidate columns, ``domain`` and ``domain_kind`` (as
        :func:`~bayes_scaling.predict.predict` gives them), ``loss_median``, ``loss_lower``,
        ``loss_upper``, ``p_best`` (probability of the lowest loss), ``expected_gap``
        (E[L - min over candidates], nats/token) and ``rank`` (by ``expected_gap``, ties by ``p_best``; 1 to n).
        The rank is the choice of least expected loss, the Bayes decision under the posterior (as
        :func:`bayes_scaling.investment.decide` ranks plans by expected net value): ``p_best`` is shared
        between near-identical candidates, so two copies of the best option each won fewer draws than a worse one
        and it ranked behind it.

    Raises
    ------
    RunsTableError
        Invalid candidates or fewer than two.
    """
    needs = tuple(v for v in fit.law.variables if v != "unique_tokens")
    cand = validate_targets(candidates, domains=fit.domains, needs=needs, what="candidates table",
                            domain_col=fit.domain_col)
    if len(cand) < 2:
        raise RunsTableError("compare needs at least two candidate runs; add another row (e.g. the same compute at "
                             "another N), or forecast one run with predict.")
    if "label" in cand:  # decide refused them, compare ranked "A" over "A"
        require_unique_labels(cand["label"], "candidates table", "the candidates in the ranking")
    assume_unique_tokens(fit, cand, "candidates", "compare")
    # rows of several domains (a 'domain' column, or the fit's domain column): each row forecast in its own domain
    # under the same posterior draws, which ranks recipes or data mixes at one size (a fresh user with 28 recipes had
    # no command for "which one to scale?"); they were once all forecast in the first row's domain
    in_domains = list(dict.fromkeys(d for d in cand["domain"] if isinstance(d, str)))
    across = len(in_domains) > 1 and domain is None
    if across and cand["domain"].isna().any():
        raise RunsTableError(f"the candidates name several domains in {domain_column_words(fit.domain_col)} "
                             f"({', '.join(in_domains)}) but row(s) "
                             f"{[int(i) + 1 for i in np.flatnonzero(cand['domain'].isna().to_numpy())][:5]} name none; "
                             "give every row its domain.")
    if len(in_domains) > 1 and domain is not None:  # a fresh user's recipes with --domain were told "one at a time"
        raise RunsTableError(f"the candidates name several domains in {domain_column_words(fit.domain_col)} "
                             f"({listed(in_domains, 5)}) and domain '{domain}' was given: leave the domain out "
                             "(--domain) to rank them across domains, each forecast in its own, or keep the rows of "
                             f"'{domain}' only.")
    dom = None if across else one_domain_of(cand, domain, "candidates", fit.domain_col)
    sizes = [c for c in fit.law.variables if c in cand] + (["domain"] if across else [])
    same = cand.duplicated(subset=sizes, keep="first")
    if same.any():  # two rows of one run got P(best) 1 and 0 without a word (a fresh user)
        def named(i):  # the candidate's place in the table, counted from 1, and its label
            return f"candidate {cand.index.get_loc(i) + 1}" + (f" ({cand.loc[i, 'label']!s})" if "label" in cand else "")

        first = cand.index.to_series().groupby([cand[c] for c in sizes], sort=False).transform("first")
        pairs = [f"{named(i)} repeats {named(first[i])}" for i in cand.index[same]]
        warn_caller(f"{listed(pairs, 3)}: the same run (same {', '.join(sizes)}), tied in every draw, so they share "
                    "p_best; drop the repeats.", RunsTableWarning)
    warn_extrapolation(fit, cand, "candidate")
    seed = fit.random_seed if random_seed is None else random_seed
    if across:
        shown, draws = np.empty((fit.n_draws, len(cand))), np.empty((fit.n_draws, len(cand)))
        for d in in_domains:
            cols = np.flatnonzero((cand["domain"] == d).to_numpy())
            shown[:, cols], draws[:, cols] = _loss_draws(fit, cand.iloc[cols], d, seed, new_run)
    else:
        shown, draws = _loss_draws(fit, cand, dom, seed, new_run)
    best = draws.min(axis=1, keepdims=True)
    lo, hi = interval(shown, prob)
    out = cand.copy()
    if "label" not in out:
        # with unique tokens in the law, U too: candidates that differed only in U all read 'N=4e+09, D=8e+10'
        named = [("N", "params"), ("D", "tokens")] + ([("U", "unique_tokens")] if "unique_tokens" in fit.law.variables
                                                       else [])
        out.insert(0, "label", [(f"{row['domain']}: " if across else "")
                                + ", ".join(f"{k}={row[c]:.3g}" for k, c in named) for _, row in out.iterrows()])
    if not across:
        out["domain"] = dom if dom is not None else fit.default_domain  # as predict shows it (never None)
    out["domain_kind"] = np.where(out["domain"].isin(fit.domains), "fitted", "new_domain")
    out["loss_median"] = np.median(shown, 0)
    out["loss_lower"] = lo
    out["loss_upper"] = hi
    out["p_best"] = probability_best(draws, higher_is_better=False)
    out["expected_gap"] = (draws - best).mean(axis=0)
    # by expected loss (expected_gap differs from E[L] by E[min L], the same for every candidate), ties by p_best: by
    # p_best first, near-identical candidates split the draws they win, so one of two copies of the best size ranked
    # behind a worse candidate, and candidates within the noise ranked by the sampler's luck
    order = np.lexsort((-out["p_best"].to_numpy(), out["expected_gap"].to_numpy()))
    rank = np.empty(len(out), int)
    rank[order] = np.arange(1, len(out) + 1)
    out["rank"] = rank
    out.attrs["prob"] = prob
    out.attrs["several_domains"] = across
    # how often the first-ranked candidate beats the second, draw by draw (compare_summary)
    out.attrs["beats_runner_up"] = float(np.mean(draws[:, order[0]] < draws[:, order[1]]))
    # the first-ranked candidate's tokens per parameter against those of the runs behind its forecast: a lead there
    # rests on the law's form (a fresh user was told "5.7B x 5 tokens per parameter ranks first" from runs at 20-80,
    # with no word, where frontier called that split an extrapolation; the one held-out run there was 5 % off)
    top = out.iloc[order[0]]
    span = fit.tokens_per_param_span(top["domain"])
    if span is not None and "tokens" in out:
        tpp = float(top["tokens"]) / float(top["params"])
        if not span[0] <= tpp <= span[1]:
            out.attrs["first_outside_runs"] = (tpp, *span)
    return out


def compare_summary(res: pd.DataFrame) -> str:
    """The comparison of :func:`compare` in one or two plain sentences, for a report or a manager.

    Says which candidate ranks first (the lowest expected loss), how often it has the lowest loss, how often it beats
    the runner-up draw by draw, and, below :data:`bayes_scaling.investment.CLOSE_CALL`, that the choice is nearly a coin toss (a fresh user's
    7B against 13B at 1e22 FLOPs: P(best) 0.59 against 0.41 and 0.0014 nats/token apart, read as a clear pick).

    Parameters
    ----------
    res : pandas.DataFrame
        The output of :func:`compare`.

    Returns
    -------
    str
    """
    t = res.sort_values("rank")
    a, b = t.iloc[0], t.iloc[1]
    prob = res.attrs.get("prob", 0.9)
    beats = res.attrs.get("beats_runner_up", float("nan"))
    sizes = [c for c in ("params", "tokens", "unique_tokens", "domain") if c in t]
    if all(a[c] == b[c] for c in sizes):  # "beats the runner-up in 0 %: nearly a coin toss" read as a contradiction
        return (f"{a['label']} ranks first: it has the lowest expected loss, and the lowest loss in {a['p_best']:.0%} of "
                f"the posterior draws; the runner-up, {b['label']}, is the same run repeated, so they tie (drop the "
                "repeat to compare the others).")
    text = (f"{a['label']} ranks first: it has the lowest expected loss, and the lowest loss in {a['p_best']:.0%} of "
            f"the posterior draws; it beats the runner-up, {b['label']}, in {beats:.0%} of them")
    if beats < CLOSE_CALL:
        width = float(np.mean([a["loss_upper"] - a["loss_lower"], b["loss_upper"] - b["loss_lower"]]))
        text += (f": nearly a coin toss. Their median losses differ by {abs(a['loss_median'] - b['loss_median']):.2g} "
                 f"nats/token, against {prob:.0%} intervals {width:.2g} wide; choose between them on cost or on what "
                 "the forecast leaves out.")
    else:
        text += "."
    if outside := res.attrs.get("first_outside_runs"):
        tpp, lo, hi = outside
        text += (f" It trains on {tpp:.3g} tokens per parameter, outside the {format_span([lo, hi])} of the runs behind "
                 "its forecast: its lead rests on the law's form at that split, not on runs; a run near that split "
                 "would check it.")
    if res.attrs.get("several_domains"):
        text += (" The candidates are in several domains: this compares like with like only where the domains are "
                 "scored on the same data (training mixes or recipes evaluated on one validation set), not across "
                 "evaluation sets.")
    return text


# ------------------------------------------------------------------------------------------------ money

#: Metric name of :func:`decide` for the mean over a downstream fit's tasks.
MEAN_OF_TASKS = "mean"


@dataclass
class InvestmentDecision:
    """Result of :func:`decide`: the plans, the pilots and the frontier as tidy tables, and the verdict in words.

    Attributes
    ----------
    plans : pandas.DataFrame
        One row per option (the plans, then ``do nothing``; :data:`bayes_scaling.investment.STATUS_QUO`):
        the plan columns, the cost breakdown, ``metric_*``, ``value_mean``, ``net_value_*``,
        ``p_pays_off``, ``p_best``, ``expected_regret``, ``rank``, ``recommended``
        (:func:`bayes_scaling.investment.decide`). Money in :attr:`currency`.
    pilots : pandas.DataFrame or None
        One row per pilot, best first (:func:`bayes_scaling.investment.staged_decision`):
        ``pilot_cost``, ``evsi``, ``pilot_net_value``, ``p_change``, ``worth_it``, ...
    frontier : pandas.DataFrame or None
        The best plan per money budget (:func:`bayes_scaling.investment.cost_frontier`).
    net_value : ndarray, shape (S, options)
        Net-value draws in the order of :attr:`plans`.
    recommended : str
        Label of the option with the highest expected net value.
    evpi : float
        Expected value of perfect information (money).
    metric : str
        ``"loss"``, a task name or ``"mean"`` (of the downstream fit's tasks).
    domain : str
        Domain of the loss forecast (a fitted one, or a new domain's population forecast).
    currency : str
    prob : float
        Interval probability.
    formulas : str
        The cost and value formulas with their numbers, one per line.
    decision : Decision
        The underlying :class:`bayes_scaling.investment.Decision` (with its metric draws).
    assumption_note : str
        A sentence naming the plans or pilots read as one epoch of unique data (a data-constrained fit and
        no ``unique_tokens`` column), '' otherwise.
    sampling_caveat : str
        A sentence when the downstream fit failed its sampling checks ("" otherwise); part of
        :meth:`summary_text`, so the written report says it too.
    fit_caveat : str
        A sentence when the domain's runs all share one N or one D, so that the law's dependence on it, on
        which the choice between the plans rests, comes from the prior ("" otherwise); part of :meth:`summary_text`.
    extrapolation_caveat : str
        The warnings of plans or pilots far beyond (or below) the runs, as :func:`bayes_scaling.predict.predict`
        gives them ("" otherwise); part of :meth:`summary_text`.
    stage_caveat : str
        :func:`stage_mismatch_note`: the loss fit and the downstream fit on different evaluation sets' losses
        ("" otherwise); part of :meth:`summary_text`.
    metric_note : str
        :func:`metric_note`: what a downstream metric is (its chance level; for the mean of tasks, the tasks in it
        and those not yet predictable), "" for loss; part of :meth:`summary_text`.
    link_caveat : str
        :func:`link_extrapolation_note`: the plans whose forecast loss lies below the runs the loss -> metric link
        was fitted on ("" otherwise, and for loss); part of :meth:`summary_text`.
    """

    plans: pd.DataFrame
    pilots: pd.DataFrame | None
    frontier: pd.DataFrame | None
    net_value: np.ndarray
    recommended: str
    evpi: float
    metric: str
    domain: str
    currency: str
    prob: float
    formulas: str
    decision: Decision = field(repr=False)
    sampling_caveat: str = ""
    assumption_note: str = ""
    fit_caveat: str = ""
    extrapolation_caveat: str = ""
    stage_caveat: str = ""
    metric_note: str = ""
    link_caveat: str = ""

    @property
    def table(self) -> pd.DataFrame:
        """The options table (:attr:`plans`), under the name :class:`~bayes_scaling.investment.Decision` uses."""
        return self.plans

    def frontier_text(self) -> str:
        """The best plan at each money budget in plain words ("" without budgets)."""
        if self.frontier is None or not len(self.frontier):
            return ""
        c, parts = self.currency, []
        for _, r in self.frontier.iterrows():
            if not r.get("affordable", True):  # the whole decision was lost to this one budget (a fresh user)
                parts.append(f"a budget of {format_money(r['budget'], c)} does not cover the fixed and inference costs "
                             "of any model size")
                continue
            spent = ("" if r.get("spend", r["budget"]) >= 0.99 * r["budget"] else
                     f" spends {format_money(r['spend'], c)} of it:")
            txt = (f"with a budget of {format_money(r['budget'], c)}, the best plan{spent} "
                   f"{'is ' if not spent else ''}{format_count(r['params_best'])} "
                   f"parameters on {format_count(r['tokens_best'])} tokens ({r['tokens_per_param_best']:.0f} tokens per "
                   "parameter)")
            if "net_value_mean" in r:
                txt += (f", expected net value {format_money(r['net_value_mean'], c)}, paying off with probability "
                        f"{r['p_pays_off']:.2f}")
                if r["net_value_mean"] < 0:  # "the best plan" losing 209 k read as advice to spend (a fresh user)
                    txt += ", so at this budget no plan is expected to pay off and spending nothing is better"
            if r.get("at_grid_edge"):
                txt += " (at the edge of the model sizes searched)"
            parts.append(txt)
        text = "; ".join(parts)
        text = text[0].upper() + text[1:] + "."
        # a budget's best plan netting more than every plan on the list was left for the reader to notice (a fresh
        # user's budget table had 1.62B x 650B at +89.7 k beside the recommended plan's +58.3 k)
        best_plans = self.plans.set_index("label")["net_value_mean"].drop(STATUS_QUO, errors="ignore")
        fr = self.frontier
        ok = fr.iloc[:0] if "net_value_mean" not in fr else \
            fr[fr["net_value_mean"].notna() & (fr["affordable"].astype(bool) if "affordable" in fr else True)]
        if len(best_plans) and len(ok) and ok["net_value_mean"].max() > max(best_plans.max(), 0.0):
            r = ok.loc[ok["net_value_mean"].idxmax()]
            text += (f" A plan not on your list does better: {format_count(r['params_best'])} parameters on "
                     f"{format_count(r['tokens_best'])} tokens, for {format_money(r['spend'], c)}, has expected net "
                     f"value {format_money(r['net_value_mean'], c)} against {format_money(best_plans.max(), c)} for "
                     f"the best plan listed ({best_plans.idxmax()}); add it to the plans to compare it with the same "
                     "one-run noise.")
        return text

    def summary_text(self) -> str:
        """The decision in plain words: the recommended plan, P(pays off), the expected net value, the pilots.

        Returns
        -------
        str
        """
        return " ".join(t for t in (self.decision.summary_text(), self.metric_note, self.link_caveat,
                                    self.stage_caveat, self.fit_caveat, self.extrapolation_caveat, self.sampling_caveat,
                                    self.assumption_note, self.pilot_caveat(), self.frontier_text()) if t)

    def pilot_caveat(self) -> str:
        """A sentence when a pilot's EVSI rests on few posterior draws ("" otherwise).

        The EVSI is made of the simulated pilot outcomes that would change the decision; after each, the
        importance weights may concentrate on a few posterior draws. When the median effective sample size over
        those outcomes is below 50 (``ess_changing``, ``ess_low``), the EVSI is an approximation (biased up;
        Raiffa & Schlaifer's preposterior analysis needs the posterior after the outcome, which reweighting
        approximates).
        """
        if self.pilots is None or "ess_low" not in self.pilots or not self.pilots["ess_low"].any():
            return ""
        low = self.pilots[self.pilots["ess_low"]]
        names = ", ".join(f"'{x}'" for x in low["label"])
        ess = float(low["ess_changing"].min()) if "ess_changing" in low else float(low["ess_min"].min())
        return (f"The value of pilot{'s' if len(low) > 1 else ''} {names} is approximate: after the outcomes that "
                f"would change the decision, typically only {ess:.0f} of the {self.net_value.shape[0]} posterior "
                f"draws carr{'ies' if round(ess) == 1 else 'y'} the weight (a pilot that pins the forecast down this "
                "much is valued by reweighting few draws).")


def check_metric(metric: str, value: ValueModel, downstream=None) -> None:
    """Check that a decision's metric, value model and downstream fit agree, before anything is drawn.

    Parameters
    ----------
    metric : str
        ``"loss"``, a task of ``downstream`` or ``"mean"`` (the mean over its tasks).
    value : ValueModel
        The money per unit of the metric (its direction must match the metric's).
    downstream : DownstreamFit, optional
        Needed for any metric other than ``"loss"``.

    Raises
    ------
    ValueError
        A task the downstream fit does not have (with the closest name), a task not yet predictable, a value
        model stated for another metric or with the wrong direction, or a score outside [0, 1].
    """
    zero = value.table is None and value.money_per_unit == 0  # no value at all: its direction does not matter
    if metric == "loss":
        if value.higher_is_better and not zero:
            raise ValueError("the value model must say higher_is_better = false for metric 'loss' (a lower loss is "
                             "better); set it in the [value] section, or choose a downstream metric.")
        points = [value.baseline] if value.table is None else [p[0] for p in value.table]
        if not zero and any(p is not None and not p > 0 for p in points):  # --baseline -3 was read as a loss
            raise ValueError(f"the value model's loss {min(p for p in points if p is not None):g} is not a loss: "
                             "losses in nats per token are positive; give today's model's loss, e.g. baseline = 3.0.")
        if not zero and any(p is not None and p > MAX_LOSS_NATS for p in points):
            raise ValueError(f"the value model's loss {max(p for p in points if p is not None):g} is not a loss in "
                             f"nats per token (above {MAX_LOSS_NATS:g}: a perplexity?); give today's model's loss, "
                             "the log of its perplexity, e.g. baseline = 3.0.")
        if value.metric != "loss" and not zero:
            raise ValueError(f"the value model is stated for '{value.metric}' but the decision is about 'loss'; set "
                             "metric = \"loss\" in the [value] section (ValueModel(metric='loss')), or choose that "
                             "downstream metric.")
        return
    if downstream is None:
        raise ValueError(f"metric '{metric}' is a downstream task: pass downstream= (a DownstreamFit of the loss -> "
                         "metric stage), or use metric='loss'.")
    tasks = list(downstream.tasks)
    if metric != MEAN_OF_TASKS and metric not in tasks:
        flags = downstream.flags
        unfitted = downstream.unfitted_tasks().set_index("task")["status"]
        if metric in unfitted.index and unfitted[metric] == downstream.NOT_CHOSEN:
            raise ValueError(f"task '{metric}' was not fitted: it is predictable, but not among the tasks given to "
                             f"fit_downstream; refit with it in tasks=, or choose one of {tasks} or '{MEAN_OF_TASKS}' "
                             "(their mean).")
        if metric in unfitted.index:
            reason = flags.loc[flags["task"] == metric, "reason"].iloc[0]
            raise ValueError(f"task '{metric}' is not yet predictable ({reason}): it was not fitted; "
                             f"choose one of {tasks} or '{MEAN_OF_TASKS}' (their mean).")
        hint = did_you_mean(metric, tasks + list(flags["task"] if flags is not None and "task" in flags else []),
                            cutoff=0.8)
        guess = f" ({hint})" if hint else ""
        raise ValueError(f"task '{metric}' is not in the downstream fit{guess}; choose one of {tasks} or "
                         f"'{MEAN_OF_TASKS}' (their mean), or 'loss'.")
    if value.metric == "loss" and not zero:  # before the direction: the whole [value] section is for loss
        raise ValueError(f"the value model is stated for 'loss' but the decision is about '{metric}'; for a score, set "
                         f"metric = \"{metric}\", higher_is_better = true and a baseline score in [0, 1] in the [value] "
                         "section, or give --value-per-point with --baseline.")
    if not value.higher_is_better and not zero:
        raise ValueError(f"the value model says higher_is_better = false, but '{metric}' is a score where higher is "
                         "better; set higher_is_better = true.")
    points = [value.baseline] if value.table is None else [p[0] for p in value.table]
    off = [p for p in points if p is not None and not 0.0 <= p <= 1.0]
    if off and not zero:  # a percent (45) or a loss (3.0) would make every plan look worthless, silently
        hint = f", e.g. {off[0] / 100:g} for {off[0]:g} %" if 1.0 < off[0] <= 100.0 else ""
        raise ValueError(f"the value model's score {off[0]:g} for '{metric}' is not a fraction in [0, 1]: a downstream "
                         f"metric is the share of the task's items right; give today's score as a fraction{hint}.")
    if value.metric not in (metric, "accuracy", "metric"):
        raise ValueError(f"the value model is stated for '{value.metric}' but the decision is about '{metric}'; use "
                         "one metric.")
    if value.table is None and value.baseline == 1.0 and not zero:
        warnings.warn(f"the baseline score for '{metric}' is 1 (every item right): no plan can improve on it, so every "
                      "plan's value is 0 and none pays off; give today's score (e.g. 0.45).", UserWarning, stacklevel=3)
    chance = float(np.mean(downstream.chance)) if metric == MEAN_OF_TASKS else \
        float(downstream.chance[tasks.index(metric)])
    if value.table is None and value.baseline is not None and value.baseline < chance and not zero:
        # --baseline 0.10 on HellaSwag (chance 0.25) counted 15 points a random guesser gets as money (a fresh user)
        warnings.warn(f"the baseline score {value.baseline:g} for '{metric}' is below its chance level {chance:g}, "
                      f"which guessing reaches: the value counts {chance - value.baseline:g} of improvement that any "
                      "model gets; give today's model's score.", UserWarning, stacklevel=3)


#: Smallest median relative difference between the two stages' losses at runs of the same sizes that
#: :func:`stage_mismatch_note` reports: the same models on the same evaluation set agree to rounding; evaluation
#: sets differ by tens of per cent (the OpenLM models' C4 and RedPajama validation losses: ~20 %).
STAGE_LOSS_MISMATCH = 0.05


def stage_mismatch_note(fit, downstream, domain: str, group: str | None = None) -> str:
    """A sentence when the loss fit and the downstream fit disagree on the loss of runs of the same sizes.

    The metric is read off the downstream fit's loss, so both stages must be on one evaluation set's loss. Each of
    the loss fit's own runs is matched with the downstream fit's runs of the same N and D (relative 1e-3; of
    ``group`` when the downstream fit has corpora); when at least 3 match and their median relative difference in
    loss exceeds :data:`STAGE_LOSS_MISMATCH`, the note names it and one example. A fresh user's loss fit on the
    RedPajama validation loss, with a downstream fit on C4 validation loss, moved a plan's P(pays off) from 0.32
    to 0.98 without a word.

    Parameters
    ----------
    fit : ScalingFit
    downstream : DownstreamFit
    domain : str
        The loss fit's domain of the decision.
    group : str, optional
        The plans' training corpus in the downstream fit.

    Returns
    -------
    str
        The sentence, or "".
    """
    ds = downstream.runs
    if not {"params", "tokens", "loss"} <= set(ds.columns):
        return ""
    if group is not None and downstream.group_col and downstream.group_col in ds:
        ds = ds[ds[downstream.group_col] == group]
    ds = ds.drop_duplicates(["params", "tokens", "loss"])
    own = fit.own_runs(domain)
    if not len(ds) or not {"params", "tokens"} <= set(own.columns):
        return ""
    found = []
    for _, r in own.iterrows():
        same = ds[(np.abs(np.log(ds["params"] / r["params"])) < 1e-3)
                  & (np.abs(np.log(ds["tokens"] / r["tokens"])) < 1e-3)]
        if len(same):
            gap = np.log(same["loss"].to_numpy(float) / float(r["loss"]))
            j = int(np.argmin(np.abs(gap)))
            found.append((abs(gap[j]), r["params"], r["tokens"], float(r["loss"]), float(same["loss"].iloc[j])))
    if len(found) < 3:
        return ""
    gaps = np.array([f[0] for f in found])
    if np.median(gaps) <= STAGE_LOSS_MISMATCH:
        return ""
    _, n, d, l1, l2 = max(found, key=lambda f: f[0])
    return (f"The loss fit and the downstream fit disagree on the loss of the {len(found)} runs of the same sizes "
            f"(median {100 * np.expm1(np.median(gaps)):.0f} % apart; {format_count(n)} x {format_count(d)} tokens: "
            f"{l1:.3g} vs {l2:.3g} nats/token): the metric is read off the downstream fit's loss, so if these are the "
            "same models, the two stages are on different evaluation sets and the metric's forecasts are off. Fit both "
            "on the loss of one evaluation set (the downstream fit's).")


def link_extrapolation_note(downstream, labels, loss_draws) -> str:
    """A sentence naming the plans whose median loss lies below the lowest loss of the downstream fit's runs.

    There the metric rests on the link's form and its random walk, whose interval widens with the distance
    (:meth:`bayes_scaling.downstream.DownstreamFit.loss_below_runs`); ``DownstreamFit.predict`` gives the distance
    per target, and a decision's report said nothing of it (a fresh user: the README's 6.9B plan lies 0.38 nats
    below the runs).

    Parameters
    ----------
    downstream : DownstreamFit or None
    labels : sequence of str
        The plans' labels, n.
    loss_draws : ndarray, shape (S, n)
        Draws of the plans' loss, nats/token.

    Returns
    -------
    str
        One sentence, or "" when every plan lies within the runs (or without a downstream fit).
    """
    if downstream is None:
        return ""
    below = downstream.loss_below_runs(loss_draws)
    hit = [(lab, b) for lab, b in zip(labels, below) if np.isfinite(b) and b > 0]
    if not hit:
        return ""
    lowest = downstream.lowest_run_loss
    listed = ", ".join(f"'{lab}' (by {b:.2f} nats/token)" for lab, b in hit)
    several = len(hit) > 1
    return (f"The forecast loss of plan{'s' if several else ''} {listed} lie{'' if several else 's'} below the lowest "
            "loss of the runs "
            f"the loss -> metric link was fitted on ({lowest:.3f} nats/token): there the metric rests on the link's "
            "form and its random walk, whose interval widens with that distance, not on runs that reached it.")


def metric_note(downstream, metric: str) -> str:
    """What a downstream metric of a decision is, in words: its chance level and, for the mean, the tasks left out.

    A report of a decision on a score was read without knowing what the score's floor is (a HellaSwag score of 0.25
    is what guessing gets) or which tasks the mean of tasks averages (the tasks not yet predictable from the runs
    are not fitted, so they are not in it).

    Parameters
    ----------
    downstream : DownstreamFit
        The loss -> metric stage (:mod:`bayes_scaling.downstream`).
    metric : str
        A fitted task, or :data:`MEAN_OF_TASKS`. ``"loss"`` gives "".

    Returns
    -------
    str
        One or two sentences, or "".
    """
    if metric == "loss" or downstream is None:
        return ""
    tasks = list(downstream.tasks)
    chance = np.asarray(downstream.chance, float)
    unfitted = downstream.unfitted_tasks()
    skipped = unfitted[unfitted["status"] != downstream.NOT_CHOSEN]["task"].tolist()
    if metric != MEAN_OF_TASKS:
        j = tasks.index(metric)
        return (f"The metric is the score on '{metric}', the share of its {downstream.n_items[j]:,.0f} items right; "
                f"guessing scores {chance[j]:.2g} (its chance level, the floor of the forecast).")
    lo, hi = float(chance.min()), float(chance.max())
    floor = f"{lo:.2g}" if np.isclose(lo, hi) else f"{lo:.2g} to {hi:.2g}"
    names = listed([repr(t) for t in tasks], 4)
    text = (f"The metric is the mean score over the {len(tasks)} tasks fitted ({names}); "
            f"guessing scores {float(chance.mean()):.2g} on that mean (chance levels {floor}).")
    if skipped:
        text += (f" {len(skipped)} task{'s' if len(skipped) > 1 else ''} of the evaluations "
                 f"{'are' if len(skipped) > 1 else 'is'} not in it, not yet predictable from these runs "
                 f"({listed([repr(t) for t in skipped], 4)}; DownstreamFit.unfitted_tasks() says why).")
    return text


def _plans(fit, table, what: str) -> tuple[pd.DataFrame, bool]:
    """A plans or pilots table: validated sizes (flops -> tokens), a unique label for every row; and whether its
    ``unique_tokens`` were filled as one epoch (a data-constrained fit and no such column)."""
    needs = tuple(v for v in fit.law.variables if v != "unique_tokens")
    t = validate_targets(table, domains=fit.domains, needs=needs, what=what, domain_col=fit.domain_col).reset_index(drop=True)
    assumed = "unique_tokens" in fit.law.variables and "unique_tokens" not in t
    assume_unique_tokens(fit, t, what.removesuffix(" table"), "price and value")
    if "label" not in t:
        t.insert(0, "label", [f"{format_count(n)} x {format_count(d)} tokens"
                              for n, d in zip(t["params"], t["tokens"], strict=True)])
    t["label"] = t["label"].astype(str).str.strip()
    if (t["label"] == "").any():
        i = int(np.flatnonzero(t["label"] == "")[0])
        raise RunsTableError(f"{what} column 'label', row {i}: the label is empty; name every row or drop the column.")
    # "plan label 'A' is used twice" named no file or rows, and said plan for pilots
    require_unique_labels(t["label"], f"{what} '{table}'" if isinstance(table, (str, os.PathLike)) else what,
                          "the options in the decision")
    keep = [c for c in ("label", "params", "tokens", "flops", "unique_tokens") if c in t]
    sizes = [c for c in ("params", "tokens", "unique_tokens") if c in t]
    same = t.duplicated(sizes, keep=False)
    if same.any():  # two copies of a plan split its P(best) between them without a word (a fresh user)
        groups = t[same].groupby(sizes, sort=False)["label"].agg(list)
        pairs = "; ".join(" and ".join(repr(x) for x in g) for g in groups)
        warnings.warn(f"{what} rows {pairs} are the same run (same {', '.join(sizes)}): they are one option, and "
                      "P(best) is split between the copies; keep one.", RunsTableWarning, stacklevel=3)
    return t[keep], assumed


def decide(
    fit,
    plans,
    costs: CostModel,
    value: ValueModel,
    *,
    metric: str = "loss",
    downstream=None,
    group=None,
    pilots=None,
    budgets=None,
    domain: str | None = None,
    prob: float = 0.9,
    status_quo: bool = True,
    params_range: tuple[float, float] = (1e7, 1e13),
    n_sims: int | None = None,
    random_seed: int | None = None,
) -> InvestmentDecision:
    """Which plan to fund, whether it pays off, and whether a pilot run first is worth it — from a saved fit.

    The loss at every plan and pilot is drawn from the fit's posterior predictive
    (:func:`bayes_scaling.predict.predictive_draws`) with generators seeded alike, so draw
    s is the same posterior draw (the same law, the same new-domain parameters, the same
    model-form error) for every plan, every pilot and every frontier grid point; only the
    run-to-run noise of each plan is its own. The metric is then

    * ``metric="loss"``: the loss of one new training run at the plan (nats/token; the
      value model must say ``higher_is_better = false``);
    * a task name or ``"mean"``: that task's score (or the mean over the downstream fit's
      tasks) as one evaluation of the new model would show it
      (:meth:`DownstreamFit.metric_draws <bayes_scaling.downstream.DownstreamFit.metric_draws>`
      at the new-run loss draws).

    The net value is ``value(metric) - total cost`` (:mod:`bayes_scaling.costs`); a pilot is
    valued by its EVSI (:func:`bayes_scaling.investment.pilot_value`): it observes its own
    loss (one run, with the fitted run-to-run noise), which updates the plans' draws by
    importance reweighting.

    Parameters
    ----------
    fit : ScalingFit
        Stage 1 (compute -> loss). For a downstream metric, its losses must be on the eval
        set the downstream fit used (e.g. C4 validation loss for the OpenLM tasks).
    plans : pandas.DataFrame or path
        Candidate plans: ``params`` (N) and ``tokens`` (D, or ``flops``), optional ``label``
        and ``unique_tokens`` (data-constrained law, data cost).
    costs : CostModel or path
        Prices (:class:`~bayes_scaling.costs.CostModel`), or a costs TOML file
        (:func:`~bayes_scaling.costs.load_costs`).
    value : ValueModel or path
        Money per improvement of the metric (same currency as ``costs``), or a TOML file with a ``[value]``
        section (:func:`~bayes_scaling.costs.load_value`).
    metric : str, default "loss"
        ``"loss"``, a task of ``downstream``, or ``"mean"`` of its tasks.
    downstream : DownstreamFit, optional
        Stage 2 (loss -> metric); required for a downstream metric.
    group : str, optional
        Training corpus of the plans, for a downstream fit of several corpora (a corpus it
        has not seen gets the between-corpus spread).
    pilots : pandas.DataFrame or path, optional
        Candidate pilot runs (same columns as ``plans``); priced without inference.
    budgets : sequence of float, optional
        Money budgets: the best (N, D) each buys under the cost model
        (:func:`bayes_scaling.investment.cost_frontier`, expected metric, no run-to-run noise).
    domain : str, optional
        A fitted domain, or a new name for the population forecast of an unseen domain
        (default: the fit's only domain).
    prob : float, default 0.9
        Interval probability.
    status_quo : bool, default True
        Include the option of not investing (net value 0).
    params_range : (float, float), default (1e7, 1e13)
        Model sizes searched by the frontier.
    n_sims : int, optional
        Simulated pilot outcomes (default: one per posterior draw).
    random_seed : int, optional
        Default: the fit's seed. The same seed gives the same numbers.

    Returns
    -------
    InvestmentDecision
        Tables ``plans``, ``pilots`` (None without pilots), ``frontier`` (None without
        budgets); ``summary_text()`` in plain words.

    Raises
    ------
    RunsTableError
        Bad plans or pilots (column, row and fix named), or a domain the fit cannot forecast.
    ValueError
        A metric the value model or the downstream fit does not match; currencies that
        differ; a non-positive or non-numeric budget; duplicate labels; a fit of a one-variable law.
    TypeError
        ``costs`` or ``value`` neither a model nor a path.
    CostsFileError
        A costs or value file that cannot be read (the key and the fix named).

    Examples
    --------
    >>> from bayes_scaling.costs import CostModel, ValueModel
    >>> costs = CostModel.from_gpu_hours(2.0, 989e12, 0.4, currency="USD")       # doctest: +SKIP
    >>> value = ValueModel(metric="loss", higher_is_better=False, baseline=3.2,
    ...                    money_per_unit=1e5, unit=0.01)                        # doctest: +SKIP
    >>> res = decide(fit, plans, costs, value, pilots=pilots, random_seed=0)    # doctest: +SKIP
    >>> res.plans, res.pilots, print(res.summary_text())                        # doctest: +SKIP
    """
    prob = check_prob(prob)
    # paths are read, as the plans' are ("'str' object has no attribute 'table'" for a costs path; a fresh user)
    costs = load_costs(costs) if isinstance(costs, (str, os.PathLike)) else costs
    value = load_value(value, costs.currency if isinstance(costs, CostModel) else None) \
        if isinstance(value, (str, os.PathLike)) else value
    for name, obj, cls, hint in (("costs", costs, CostModel, "load_costs('costs.toml')"),
                                 ("value", value, ValueModel, "load_value('costs.toml'), or ValueModel.zero()")):
        if not isinstance(obj, cls):
            raise TypeError(f"{name} must be a {cls.__name__} or the path of a TOML file, e.g. {hint}; got "
                            f"{type(obj).__name__}.")
    if budgets is not None:  # read and checked once, before anything is drawn
        try:
            budgets = np.atleast_1d(np.asarray(budgets, float))
        except (TypeError, ValueError):
            raise ValueError(f"budgets must be positive amounts of money, e.g. [1e5, 1e6]; got {budgets!r}.") from None
        if budgets.size == 0 or not np.all(np.isfinite(budgets)) or np.any(budgets <= 0):
            raise ValueError("budgets must be positive amounts of money, e.g. 1e5,1e6.")
    check_metric(metric, value, downstream)
    caveat = ""
    if downstream is not None and metric != "loss" and downstream.diagnostics is not None and not downstream.diagnostics.ok:
        # shown when it was fitted, perhaps in another session: the decision's intervals inherit it
        dg = downstream.diagnostics
        warnings.warn("the downstream fit did not pass the sampling checks, so the metric's intervals, and so the "
                      "probabilities below, are approximate. " + " ".join(p.rstrip(".") + "." for p in dg.problems)
                      + " No command of the CLI fits a downstream stage: refit it in Python (fit_downstream(..., "
                      "sampler=SamplerConfig(...))) to follow that advice.", DownstreamConvergenceWarning, stacklevel=2)
        caveat = (f"The downstream fit did not pass its sampling checks (max R-hat {dg.rhat_text}, {dg.divergences} "
                  f"divergent transitions in {dg.n_draws}), so these probabilities are approximate.")
    if not fit.law.has_allocation:
        # plans are priced by their tokens, which a one-variable law does not see (a fresh user got the same loss for
        # 1M and 131B tokens, and a cheaper plan for the 1M)
        raise ValueError(f"decide prices plans by their model size and tokens, but the {fit.law.name} law forecasts "
                         "the loss from one of them only; fit a law of N and D (e.g. law='chinchilla') to compare plans.")
    if value.currency != costs.currency:
        raise ValueError(f"the value model is in {value.currency} but the costs are in {costs.currency}; use one "
                         "currency.")
    dom = domain if domain is not None else fit.default_domain
    seed = fit.random_seed if random_seed is None else int(random_seed)
    stage_caveat = stage_mismatch_note(fit, downstream, dom, group) if downstream is not None and metric != "loss" \
        else ""
    if stage_caveat:
        warnings.warn(stage_caveat, UserWarning, stacklevel=2)
    own = fit.own_runs(dom)
    one = [(name, own[col].iloc[0]) for col, name in (("params", "N"), ("tokens", "D"))
           if col in fit.law.variables and len(own) and own[col].nunique() == 1]
    fit_caveat = ""
    if one:  # five runs at one N gave "Plan B pays off with probability 0.74" without a word (a fresh user)
        which = " and ".join(f"one {n} ({v:.3g})" for n, v in one)
        fit_caveat = (f"The fit's runs{'' if dom not in fit.domains or len(fit.domains) == 1 else f' of {dom}'} all "
                      f"have {which}: how the loss changes with {' and '.join(n for n, _ in one)} comes from the "
                      "prior, not from the runs, and so does the comparison of plans that differ in it.")
        warnings.warn(fit_caveat, UserWarning, stacklevel=2)
    plan_t, plans_assumed = _plans(fit, plans, "plans table")
    pilot_t, pilots_assumed = _plans(fit, pilots, "pilots table") if pilots is not None else (None, False)
    if pilot_t is not None and len(plan_t):
        largest = plan_t.loc[plan_t["flops"].idxmax()]
        big = pilot_t[pilot_t["flops"] >= largest["flops"]]
        if len(big):  # a fresh user's 6.9B x 1T pilot was valued without a word
            warnings.warn(f"pilot{'s' if len(big) > 1 else ''} {', '.join(repr(x) for x in big['label'])} "
                          f"cost{'' if len(big) > 1 else 's'} at least as much compute as the largest plan, "
                          f"'{largest['label']}' ({largest['flops']:.3g} FLOPs): a pilot is a smaller run that "
                          "informs the choice; its value is computed all the same.", UserWarning, stacklevel=2)
    # money is attached here, so the caveat predict and compare give is given too (a fresh user's 1e12-parameter plan,
    # 6,500x beyond the runs, was priced without a word)
    with warnings.catch_warnings(record=True) as far:
        warnings.simplefilter("always", ExtrapolationWarning)
        warn_extrapolation(fit, plan_t.assign(domain=dom), "plan")
        if pilot_t is not None:
            warn_extrapolation(fit, pilot_t.assign(domain=dom), "pilot")
    for w in far:  # said on the console and in the report, which a reader of the decision gets
        warn_caller(str(w.message), w.category)
    far_caveat = " ".join(str(w.message)[0].upper() + str(w.message)[1:] for w in far
                          if issubclass(w.category, ExtrapolationWarning))
    law_vars = list(fit.law.variables)
    assumed = [w for w, a in (("plans", plans_assumed), ("pilots", pilots_assumed)) if a]
    # the report says it, not only the warning: a reader of the report never sees the warning
    note = (f"The {' and the '.join(assumed)} have no unique_tokens: each is read as one epoch of unique data, with no "
            "repeated tokens." if assumed else "")

    def loss_draws(table, kind):
        # keyed generators per call: the same domain draws (new domain) in every call, each row's noise its own
        if "unique_tokens" in law_vars and "unique_tokens" not in table:
            table = table.assign(unique_tokens=table["tokens"])
        # predict's draws for the same target (keyed by seed, domain and the row's sizes): a plan's numbers do not
        # change when another plan is added (a fresh user saw A move from 802 k to 800 k USD when D was added)
        mean, new = keyed_predictive_draws(fit, table[law_vars], dom, seed)
        return mean if kind == "mean_log" else np.exp(mean if kind == "mean" else new)

    def metric_of(loss, new_eval):
        if metric == "loss":
            return loss
        m = downstream.metric_draws(loss, group, new_eval=new_eval, rng=np.random.default_rng([seed, 2]))
        return m.mean(axis=2) if metric == MEAN_OF_TASKS else m[:, :, list(downstream.tasks).index(metric)]

    plan_loss = loss_draws(plan_t, "new")
    metric_draws = metric_of(plan_loss, new_eval=True)
    link_caveat = "" if metric == "loss" else link_extrapolation_note(downstream, list(plan_t["label"]), plan_loss)
    d = decide_from_draws(metric_draws, plan_t, costs, value, prob=prob, status_quo=status_quo)
    d.metric = metric
    pilot_out = None
    if pilot_t is not None:
        mean_log = loss_draws(pilot_t, "mean_log")  # (S, pilots): the pilots' expected log loss, draw by draw
        _, sigma, nu = domain_draws(fit, dom, seed)  # a new domain's noise: the same seeded draws as its parameters
        col = {lab: j for j, lab in enumerate(pilot_t["label"])}

        def observe(row):
            return mean_log[:, col[row["label"]]], sigma, nu

        pilot_out = staged_decision(d, pilot_t, observe, costs, n_sims=n_sims, random_seed=seed)
    front = None
    if budgets is not None:
        front = cost_frontier(lambda t: metric_of(loss_draws(t, "mean"), new_eval=False), budgets, costs, value,
                              params_range=params_range, prob=prob)
        # the plan a large budget buys can lie far beyond the runs (10 M EUR bought 3e24 FLOPs, 150,000x the largest
        # run, without a word; a fresh user), as frontier's budgets are warned about
        chosen = front.loc[front["affordable"], "flops"].to_numpy(float) if "flops" in front else np.array([])
        if chosen.size:
            warn_budgets(fit, chosen)
    return InvestmentDecision(plans=d.table, pilots=pilot_out, frontier=front, net_value=d.net_value,
                              recommended=d.recommended, evpi=d.evpi, metric=metric, domain=dom,
                              currency=costs.currency, prob=prob, formulas=d.formulas, decision=d,
                              sampling_caveat=caveat, assumption_note=note, fit_caveat=fit_caveat,
                              extrapolation_caveat=far_caveat, stage_caveat=stage_caveat,
                              metric_note=metric_note(downstream, metric), link_caveat=link_caveat)
