"""Floor 3. Downstream metrics from loss: the second stage of a two-stage forecast.

Published practice forecasts a downstream metric in two steps: compute -> loss
(a scaling law), then loss -> metric (Llama 3, arXiv:2407.21783, §3.2.1, a
sigmoid; Gadre et al. 2024, arXiv:2403.08540, §4, Eq. 5, an exponential of the C4
eval loss), fitted by least squares with no interval carried through. Here the
second step is a hierarchical Bayesian model, and a forecast at a target (N, D)
integrates over the posterior draws of both stages.

The link (per task k; x is the loss that drives the metric)::

    metric = floor_k + (ceil_k - floor_k) * sigmoid((b_k + delta_gk - x) / s_k)

* ``floor_k`` is the task's chance level (fixed, from the task's metadata);
* ``ceil_k`` in (floor_k, 1), ``b_k`` the loss at which the metric is halfway,
  ``s_k`` the width of the rise in nats;
* ``delta_gk`` shifts the loss axis for the training corpus g of a model
  (``delta_g`` shared by all tasks plus a smaller task-specific part, both
  summing to zero over corpora): a model trained on C4 has a lower C4 eval loss
  than a model of the same capability trained elsewhere.

For a loss well above ``b_k`` the sigmoid is ``floor + (ceil - floor) exp((b - x)/s)``,
which is Gadre et al.'s exponential ``Err = eps - k exp(-gamma L)`` with
``gamma = 1/s``; it also saturates below ``b_k`` as the Llama 3 sigmoid does, so a
forecast never leaves [floor, 1].

Task parameters are partially pooled across tasks (normal populations of ``a``, the
log lift over chance at the low end of the runs' losses, ``log s``, ``logit`` of the
ceiling, and ``log`` of the extra noise; all non-centred, except ``a`` in a fit of
several corpora, which mixes faster centred: ``benchmarks/model_geometry.md``). By default the population
(the normals' means and spreads, the walk's rate and the corpora's shift spreads, :data:`POPULATION_PARAMETERS`)
is estimated first and held at its posterior medians while the tasks are sampled (empirical Bayes,
``fit_downstream(population="estimated")``): sampled together, the population's directions mixed slowly (R-hat
1.02-1.04, ~1 % divergent transitions on one corpus, whatever the parameterisation), while given the population the
tasks are independent and pass every check. The noise of an evaluation is binomial plus a task-specific extra
term::

    metric_ik ~ Normal(m_ik, sqrt(m_ik (1 - m_ik) / n_k + 1 / n_k^2 + sigma_k^2))

where n_k is the number of examples of task k: binomial sampling of the test items
is a floor for the noise; ``sigma_k`` absorbs what else differs between models at
the same loss (prompt format effects, checkpoint noise). The ``1 / n_k^2`` term (one
item's worth) keeps the normal approximation honest where the binomial is not normal,
at a metric near 0 or 1: without it the density of an observed 0 grows without bound as
``m_ik -> 0`` (the binomial's probability of no item right is at most 1, the normal
density times the bin width ``1 / n_k`` would be ``1 / sqrt(2 pi n_k m_ik)``). A task
with many exact zeros (``jeopardy`` on the small OpenLM runs) then pulled its sigmoid
into a step (``s -> 0``) that set those zeros exactly: on one corpus every transition
diverged, R-hat 4.1; with the term, 10 divergent transitions in 4,000
(``benchmarks/model_geometry.md``). With it, the density times ``1 / n_k`` is at most
``1 / sqrt(2 pi)``.

**Discrepancy.** The sigmoid is a convenient shape, not a law: tasks rise more
sharply or more slowly than it says. A random walk ``W_k(x)`` (Brownian motion with
rate ``kappa``, one path per task, on :data:`RW_KNOTS` knots over the runs' losses,
anchored at the lowest loss, linearly interpolated) is added to the sigmoid's argument::

    metric = floor + (ceil - floor) * sigmoid((b_k + delta_gk - x) / s_k + W_k(x))

Within the runs it absorbs the systematic departures from the sigmoid, and their
size sets ``kappa``; beyond the runs the walk continues, so the forecast's uncertainty
grows like ``kappa^2 * distance``. The rate is one for all tasks: a rate per task,
partially pooled, funnelled in the spread of the rates (R-hat 1.19 and 12 % divergent
on the README's one-corpus example; ``benchmarks/model_geometry.md``). On the OpenLM backtest at
the held-out models' true loss (stage 2 alone, 17 tasks, 9 models;
``benchmarks/bench_downstream.py --ablation``): pooled 90 % coverage 0.63 without the
walk, 0.92 with it; median absolute error 2.65 and 2.28 points.

``fit_downstream(walk="loss")`` instead shifts the loss axis by a walk in nats, with its
straight line removed (:func:`detrend_walk`). It was the default on 2026-12-04 only,
while exact zeros (above) made the argument walk bimodal; with the noise floor, the
argument walk had the lower R-hat on five of six fits (three corpora, 16 tasks: 1.008-1.009
against 1.028-1.046; ``benchmarks/model_geometry.md``).

A task is forecast only when the small runs show a rise above chance beyond this
noise (:func:`predictable_tasks`); the others are reported as *not yet
predictable* instead of being extrapolated.
"""

from __future__ import annotations

import json
import time
import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from ._text import closest_name, did_you_mean
from ._warnings import warn_caller
from ._version import __version__
from .diagnostics import check_convergence
from .inference import SamplerConfig, adaptation_options
from .intervals import interval
from .io import FitFileError, config_errors, read_fit, write_fit

__all__ = ["predictable_tasks", "fit_downstream", "DownstreamFit", "DownstreamTableError", "link_mean", "detrend_walk",
           "PREDICTABLE_ALPHA", "POPULATION_PARAMETERS", "POPULATION_FIT_DRAWS", "ESTIMATED_POPULATION_DRAWS",
           "validate_downstream"]

#: One-sided significance level of both checks of :func:`predictable_tasks` (a conventional 5 %, not tuned).
PREDICTABLE_ALPHA = 0.05

#: Fraction of runs (those with the lowest losses) whose median metric measures how far a task has risen.
BEST_FRACTION = 0.1

_REQUIRED = ("loss", "task", "metric", "chance", "n_items")


class DownstreamTableError(ValueError):
    """A downstream table is malformed; the message names the column, the row and the fix."""


def link_mean(x, floor, ceil, b, s):
    """The sigmoid link with a chance floor, in NumPy.

    ``floor + (ceil - floor) / (1 + exp((x - b) / s))``.

    Parameters
    ----------
    x : array_like
        Loss driving the metric (nats/token), shifted by the corpus effect if any.
    floor, ceil, b, s : array_like
        Chance level, ceiling, midpoint loss and width (nats), broadcastable with ``x``.

    Returns
    -------
    ndarray
        Expected metric.
    """
    z = (np.asarray(x, float) - b) / s
    return floor + (ceil - floor) * np.exp(-np.logaddexp(0.0, z))


def _unknown_tasks(unknown: list, known) -> str:
    """The message for task names the table lacks, with the closest names it has (:func:`._text.did_you_mean`)."""
    names = sorted(set(map(str, known)))
    hint = "; ".join(f"{u!r}: {h}" for u in unknown if (h := did_you_mean(u, names)))
    return f"task(s) {unknown} are not in the table's 'task' column" + (f" ({hint})" if hint else "") + "."


def validate_downstream(table, tasks=None, group_col: str | None = None) -> pd.DataFrame:
    """Check a long downstream table and return a clean copy.

    Parameters
    ----------
    table : pandas.DataFrame
        One row per (model, task): ``loss`` (nats/token), ``task``, ``metric`` (in [0, 1]),
        ``chance`` (the task's random baseline as a fraction), ``n_items`` (examples in the
        task), optional ``group_col``.
    tasks : sequence of str, optional
        Keep only these tasks.
    group_col : str, optional

    Returns
    -------
    pandas.DataFrame

    Raises
    ------
    DownstreamTableError
        Missing columns, values out of range, a task with several chance levels.
    """
    if not isinstance(table, pd.DataFrame):
        raise DownstreamTableError("the downstream table must be a pandas DataFrame (one row per model and task).")
    need = list(_REQUIRED) + ([group_col] if group_col else [])
    missing = [c for c in need if c not in table.columns]
    if missing:
        # a misspelt column ('metrics', 'Loss', group_col='train_datset') got no hint (a fresh user)
        spare = [str(c) for c in table.columns if c not in need]
        hints = [(f"group_col='{c}': did you mean '{m}'?" if c == group_col and c not in _REQUIRED
                  else f"rename '{m}' to '{c}'?") for c in missing if (m := closest_name(c, spare))]
        raise DownstreamTableError(
            f"downstream table is missing column(s) {missing}" + (f" ({'; '.join(hints)})" if hints else "")
            + f"; it needs {need} (see bayes_scaling.datasets.load_openlm_downstream for the layout).")
    t = table.copy()
    if tasks is not None:
        unknown = sorted(set(tasks) - set(t["task"]))
        if unknown:
            raise DownstreamTableError(_unknown_tasks(unknown, t["task"]))
        t = t[t["task"].isin(list(tasks))]
    rows = t.index  # the caller's row labels, for the messages (a filtered table keeps its own)
    t = t.reset_index(drop=True)
    for col, lo, hi, what in (("loss", 0.0, 20.0, "nats per token (not perplexity)"),
                              ("metric", 0.0, 1.0, "a fraction (45 % -> 0.45)"),
                              ("chance", 0.0, 1.0, "a fraction (25 % -> 0.25)")):
        v = pd.to_numeric(t[col], errors="coerce").to_numpy(float)
        bad = ~np.isfinite(v) | (v < lo) | (v > hi) | ((v <= 0) if col == "loss" else False)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            if pd.isna(t[col].iloc[i]):
                raise DownstreamTableError(f"column '{col}' row {rows[i]}: the value is missing; fill it in or drop "
                                           "the row.")
            finite = v[np.isfinite(v)]
            if hi == 1.0 and bad.sum() > 1 and finite.max() <= 100.0 and (finite > 1.0).mean() > 0.5:
                # most of the column above 1 and none above 100: percent, not one bad row
                raise DownstreamTableError(f"column '{col}' looks like percent ({int(bad.sum())} of {len(v)} rows "
                                           f"above 1, up to {finite.max():g}): give {what} in [0, 1], i.e. divide "
                                           "the column by 100.")
            raise DownstreamTableError(f"column '{col}' row {rows[i]}: {t[col].iloc[i]} is not {what} in "
                                       f"[{lo:g}, {hi:g}]; fix or drop the row.")
        t[col] = v
    n = pd.to_numeric(t["n_items"], errors="coerce").to_numpy(float)
    bad = ~np.isfinite(n) | (n < 1) | (n != np.round(n))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DownstreamTableError(f"column 'n_items' row {rows[i]}: {t['n_items'].iloc[i]} is not a whole, positive "
                                   "count of examples; give the number of examples the task has, e.g. 2376.")
    t["n_items"] = n
    for col in ("chance", "n_items"):
        k = t.groupby("task")[col].nunique()
        if (k > 1).any():
            raise DownstreamTableError(f"task '{k[k > 1].index[0]}' has several values of '{col}'; a task has one.")
    if t.empty:
        raise DownstreamTableError("the downstream table has no rows.")
    return t


def predictable_tasks(table, *, alpha: float = PREDICTABLE_ALPHA) -> pd.DataFrame:
    """Flag the tasks whose small-run metrics rise above chance beyond noise.

    A task is *predictable* from the runs in ``table`` when all three hold:

    1. **trend**: the metric falls as the loss rises: Kendall's tau between loss and
       metric is negative with one-sided p-value < ``alpha`` (a rank test, robust to
       outlying evaluations);
    2. **lift**: the median metric of the runs with the lowest losses (the best
       :data:`BEST_FRACTION` of runs, at least 3), ``m*``, exceeds chance by more than
       ``z_(1-alpha)`` times the noise of one evaluation, taken as the larger of the
       binomial standard deviation ``sqrt(m* (1 - m*) / n_items)`` (the test items are a
       sample) and the difference-based noise scale of the runs ordered by loss
       (Rice 1984: ``1.4826 MAD(y_(i+1) - y_i) / sqrt(2)``, free of any assumed trend shape).

    3. **still rising**: among the better half of the runs (the lower half of their losses,
       at least 5 runs), Kendall's tau between loss and metric is again negative with
       one-sided p-value < ``alpha``. A metric that has stopped rising or turns down among
       the best runs (saturated, or reversing: on the OpenLM runs ``pubmed_qa_labeled``
       falls from 0.51 to 0.42 over the lowest losses) follows no monotone link there, so
       the link cannot say where it goes next; fitted, such a task also split the
       posterior into separate modes (``benchmarks/model_geometry.md``).

    So a task is forecast only when the best small runs are distinguishable from a
    model at chance by one evaluation's noise, and the rise is monotone in loss and still
    under way among the best runs. Nothing here is tuned to a data set: ``alpha`` is the
    conventional 5 %, and "half" is the median split of the runs.

    Parameters
    ----------
    table : pandas.DataFrame
        Long downstream table of the runs available (see :func:`validate_downstream`).
    alpha : float, default 0.05

    Returns
    -------
    pandas.DataFrame
        One row per task: ``task``, ``chance``, ``n_items``, ``n_runs``, ``kendall_tau``,
        ``p_trend``, ``metric_at_best`` (m*), ``noise_sd``, ``lift_z`` ((m* - chance) /
        noise_sd), ``kendall_tau_best_half``, ``p_trend_best_half`` (check 3),
        ``predictable`` (bool), ``reason`` (plain words).
    """
    t = validate_downstream(table)
    z = stats.norm.ppf(1.0 - alpha)
    rows = []
    for task, g in t.groupby("task", sort=True):
        x, y = g["loss"].to_numpy(), g["metric"].to_numpy()
        chance, n = float(g["chance"].iloc[0]), float(g["n_items"].iloc[0])
        row = {"task": task, "chance": chance, "n_items": int(n), "n_runs": len(g)}
        if len(g) < 5 or np.ptp(x) == 0:
            row.update(kendall_tau=np.nan, p_trend=np.nan, metric_at_best=np.nan, noise_sd=np.nan, lift_z=np.nan,
                       kendall_tau_best_half=np.nan, p_trend_best_half=np.nan,
                       predictable=False, reason="fewer than 5 runs with different losses")
            rows.append(row)
            continue
        res = stats.kendalltau(x, y, alternative="less")
        tau, p = float(res.statistic), float(res.pvalue)
        if not np.isfinite(tau):  # constant metric
            tau, p = 0.0, 1.0
        order = np.argsort(x, kind="stable")
        ys = y[order]
        k_best = max(3, int(np.ceil(BEST_FRACTION * len(ys))))
        m_best = float(np.median(ys[:k_best]))
        # difference-based noise scale (Rice 1984): neighbours in loss differ by noise, not by the trend
        diffs = np.diff(ys)
        rice = 1.4826 * float(np.median(np.abs(diffs - np.median(diffs)))) / np.sqrt(2.0)
        noise = max(np.sqrt(m_best * (1.0 - m_best) / n), rice)
        lift = (m_best - chance) / noise if noise > 0 else (np.inf if m_best > chance else 0.0)
        trend_ok, lift_ok = p < alpha, lift > z
        # check 3: the rise goes on among the better half of the runs (median split of the losses)
        best = order[: max(5, len(order) // 2)]
        if np.ptp(x[best]) > 0 and np.ptp(y[best]) > 0:
            res_h = stats.kendalltau(x[best], y[best], alternative="less")
            tau_h, p_h = float(res_h.statistic), float(res_h.pvalue)
        else:
            tau_h, p_h = 0.0, 1.0
        rising_ok = p_h < alpha
        if trend_ok and lift_ok and rising_ok:
            reason = "rises above chance beyond noise, monotone in loss"
        elif trend_ok and lift_ok:
            reason = ("above chance but no longer rising among the better half of the runs (saturated or turning "
                      "down: not extrapolable)")
        elif not trend_ok and not lift_ok:
            reason = "at chance: no rise beyond noise and no trend in loss"
        elif not trend_ok:
            reason = "above chance but no monotone trend in loss (not extrapolable)"
        else:
            reason = "trend in loss but still within noise of chance"
        row.update(kendall_tau=tau, p_trend=p, metric_at_best=m_best, noise_sd=noise, lift_z=lift,
                   kendall_tau_best_half=tau_h, p_trend_best_half=p_h,
                   predictable=bool(trend_ok and lift_ok and rising_ok), reason=reason)
        rows.append(row)
    out = pd.DataFrame(rows)
    out.attrs["alpha"] = alpha
    return out


# ---------------------------------------------------------------------------------------- model

_COMPILED: dict[tuple, object] = {}

#: The population parameters of the model: the tasks' means and spreads of the lift, width, ceiling and extra noise,
#: the walk's rate and the corpora's shift spreads. ``fit_downstream(population="estimated")`` (the default) fixes
#: them at their posterior medians from a first fit of the whole model and samples the tasks given them (empirical
#: Bayes); ``"sampled"`` samples them with the tasks.
POPULATION_PARAMETERS = ("mu_a", "tau_a", "mu_ls", "tau_ls", "mu_r", "tau_r", "mu_ln", "tau_ln", "mu_lk", "tau_d",
                         "tau_e")

#: Draws per chain of the first fit of ``fit_downstream(population="estimated")``, which only gives the population
#: parameters' medians (at most the sampler's ``draws``).
POPULATION_FIT_DRAWS = 500

#: Draws per chain of the tasks given the estimated population (``fit_downstream(population="estimated")`` without a
#: ``sampler``): 3000, not the scaling-law fits' 1000. Given the population the tasks mix slowly along their walk (the
#: autocorrelation of ``lambada_openai``'s walk and width is ~10 draws), so 1000 draws left a bulk ESS of 323-485 and
#: R-hat 1.007-1.017 on the README's one-corpus example (seeds 0-2); 3000 draws pass every check at seeds 0-2 (R-hat
#: 1.003-1.008, bulk ESS 979-1256, 2-5 divergent of 12,000) in 12-14 s of sampling (``benchmarks/model_geometry.md``,
#: session 31).
ESTIMATED_POPULATION_DRAWS = 3000

#: Variables of the model sampled by NUTS (checked for convergence).
_FREE = ("mu_a", "tau_a", "z_a", "a_k", "mu_ls", "tau_ls", "z_s", "mu_r", "tau_r", "z_r", "mu_ln", "tau_ln", "z_n",
         "tau_d", "z_d", "tau_e", "z_e", "mu_lk", "tau_lk", "z_k", "z_w")


#: What each sampled variable is, for the messages of a failed sampling check: the convergence warning named
#: 'tau_r' and 'mu_lk', which the documentation never mentions (a fresh user). The link's parameters are those of
#: :meth:`DownstreamFit.parameters` (a, s, ceil, sigma, kappa).
_DESCRIBE = {
    "mu_a": "the tasks' mean lift a", "tau_a": "the spread of the tasks' lift a", "z_a": "a task's lift a",
    "a_k": "a task's lift a", "mu_ls": "the tasks' mean log width s", "tau_ls": "the spread of the tasks' width s",
    "z_s": "a task's width s", "mu_r": "the tasks' mean ceiling", "tau_r": "the spread of the tasks' ceilings",
    "z_r": "a task's ceiling", "mu_ln": "the tasks' mean extra noise sigma", "tau_ln": "the spread of the extra noise",
    "z_n": "a task's extra noise sigma", "tau_d": "the spread of the corpora's loss shift", "z_d": "a corpus's shift",
    "tau_e": "the spread of a task's own corpus shift", "z_e": "a task's own corpus shift",
    "mu_lk": "the random walk's log rate kappa", "tau_lk": "the spread of the walk's rate", "z_k": "a task's walk rate",
    "z_w": "a task's random walk",
}


#: How the advice of a failed sampling check names a setting (:func:`bayes_scaling.diagnostics.check_convergence`):
#: ``fit_downstream`` takes them in a :class:`~bayes_scaling.inference.SamplerConfig`, not as keywords.
SAMPLER_SETTING = "fit_downstream(..., sampler=SamplerConfig({}))"


def _sampling_checks(post, target_accept, strict: bool = False):
    """The sampling checks of a downstream posterior (its free variables, advice in ``fit_downstream``'s terms)."""
    names = [v for v in _FREE if v in post["posterior"].data_vars]
    return check_convergence(post, names, strict=strict, target_accept=target_accept, hierarchical=True,
                             setting=SAMPLER_SETTING, prior_advice=False, describe=lambda n: _DESCRIBE.get(n, n))


#: A target's median loss this factor below the runs' lowest loss or above their highest is taken as a unit
#: mistake (log loss, perplexity) and warned about (:meth:`DownstreamFit.metric_draws`). Not fitted to data: the
#: 6.9B models of the OpenLM backtest lie 0.31 nats (11 %) below the runs (2.38 vs 2.69); log loss and perplexity
#: are off by a factor of 2.5 or more there. Bits (a factor 1.44) are caught only far from the runs.
LOSS_SCALE_FACTOR = 2.0

#: Knots of the random-walk discrepancy over the loss range of the runs.
RW_KNOTS = 10


#: Knot index (0 at the anchor) and the least-squares projection on the straight line through the anchor:
#: ``walk @ _TREND`` is the slope of that line, which the walk must not carry (see :func:`detrend_walk`).
_KNOT_INDEX = np.arange(RW_KNOTS, dtype=float)
_TREND = _KNOT_INDEX / (_KNOT_INDEX @ _KNOT_INDEX)


def detrend_walk(walk: np.ndarray) -> np.ndarray:
    """Remove from each walk its least-squares straight line through the anchor (knot 0).

    A straight line along the loss is what the width ``s`` already describes (the link's
    argument is ``(b - x) / s``); a walk free to carry one too trades off
    against ``s`` along a long ridge, which made the sampler take about 300 leapfrog steps
    per draw (``benchmarks/model_geometry.md``). The walk keeps its bends; beyond the
    runs it continues as Brownian motion from its end, as before.

    Parameters
    ----------
    walk : ndarray or PyTensor tensor, shape (..., RW_KNOTS)
        Walk values at the evenly spaced knots, 0 at knot 0 (the model and the forecasts use
        this one function).

    Returns
    -------
    same type and shape
    """
    return walk - (walk @ _TREND)[..., None] * _KNOT_INDEX


def _eval_variance(m, n_items, sigma):
    """Variance of one evaluation of a task with ``n_items`` examples at expected metric ``m``: binomial, one
    item's worth (``1 / n^2``: the normal approximation's floor, see the module docstring) and the extra
    ``sigma^2``. NumPy arrays or PyTensor tensors: the model and the forecasts use this one formula."""
    return m * (1.0 - m) / n_items + 1.0 / n_items**2 + sigma**2


def _rw_weights(x: np.ndarray, knots: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Index of the knot at or below each x (clipped to the grid) and the linear weight of the next knot."""
    j = np.clip(np.searchsorted(knots, x, side="right") - 1, 0, len(knots) - 2)
    w = np.clip((x - knots[j]) / (knots[j + 1] - knots[j]), 0.0, 1.0)
    return j.astype(int), w


def _build_model(key: tuple, arrays: dict):
    import pymc as pm
    import pytensor.tensor as pt

    n_tasks, n_groups, free_ceiling, rw, estimated = key

    def population(name, dist, *args):
        # population="estimated": the population parameter is data (its stage-1 posterior median), else sampled
        return pm.Data(name, arrays[name]) if estimated else dist(name, *args)

    with pm.Model() as model:
        x = pm.Data("x", arrays["x"])  # loss minus x_ref (the low end of the runs' losses)
        y = pm.Data("y", arrays["y"])
        ti = pm.Data("task_idx", arrays["task_idx"])
        floor = pm.Data("floor", arrays["floor"])
        n_items = pm.Data("n_items", arrays["n_items"])
        # a_k: log of (metric - chance) at x_ref in the exponential regime (well identified by the best runs);
        # the midpoint b_k follows from a_k, s_k and the ceiling (see DownstreamFit.parameter_draws)
        mu_a = population("mu_a", pm.Normal, np.log(0.1), 1.5)
        tau_a = population("tau_a", pm.HalfNormal, 1.5)
        if n_groups > 1:
            # several corpora: a_k centred. Non-centred, z_a mixed slowly along tau_a (three corpora, seed 0: R-hat
            # 1.060, ESS 85, 390 s; centred 1.022, 197, 237 s). With one corpus centring did worse on all three fits
            # measured (R-hat or divergences; benchmarks/model_geometry.md), so those stay non-centred.
            a = pm.Normal("a_k", mu_a, tau_a, shape=n_tasks)
        else:
            z_a = pm.Normal("z_a", 0.0, 1.0, shape=n_tasks)
            a = mu_a + tau_a * z_a
        mu_ls = population("mu_ls", pm.Normal, np.log(0.3), 1.0)  # width of the rise: ~0.3 nats
        tau_ls = population("tau_ls", pm.HalfNormal, 0.5)
        z_s = pm.Normal("z_s", 0.0, 1.0, shape=n_tasks)
        s = pt.exp(mu_ls + tau_ls * z_s)
        if free_ceiling:
            mu_r = population("mu_r", pm.Normal, 1.0, 1.5)
            tau_r = population("tau_r", pm.HalfNormal, 1.0)
            z_r = pm.Normal("z_r", 0.0, 1.0, shape=n_tasks)
            ceil = floor + (1.0 - floor) * pm.math.sigmoid(mu_r + tau_r * z_r)
        else:
            ceil = pt.ones(n_tasks)
        mu_ln = population("mu_ln", pm.Normal, np.log(0.02), 1.0)  # extra noise ~2 accuracy points
        tau_ln = population("tau_ln", pm.HalfNormal, 1.0)
        z_n = pm.Normal("z_n", 0.0, 1.0, shape=n_tasks)
        sigma = pt.exp(mu_ln + tau_ln * z_n)
        shift = pt.zeros_like(x)
        if n_groups > 1:
            gi = pm.Data("group_idx", arrays["group_idx"])
            tau_d = population("tau_d", pm.HalfNormal, 0.2)  # corpus shift of the loss axis, nats
            z_d = pm.ZeroSumNormal("z_d", sigma=1.0, shape=n_groups)
            tau_e = population("tau_e", pm.HalfNormal, 0.1)  # task-specific part of the shift
            z_e = pm.ZeroSumNormal("z_e", sigma=1.0, shape=(n_tasks, n_groups))
            shift = tau_d * z_d[gi] + tau_e * z_e[ti, gi]
        if rw:
            # random-walk discrepancy (Brownian motion anchored at the lowest-loss knot): the wiggles of the runs
            # around the sigmoid set its rate kappa, which also sets how fast the uncertainty grows beyond the
            # runs. walk "argument" (default): in units of the link's argument, not detrended; "loss": in nats on
            # the loss axis, detrended. With the noise floor the argument walk had the lower R-hat on five of six
            # fits (benchmarks/model_geometry.md)
            kj = pm.Data("rw_idx", arrays["rw_idx"])
            kw = pm.Data("rw_w", arrays["rw_w"])
            dk = pm.Data("rw_sqrt_step", arrays["rw_sqrt_step"])  # sqrt of knot spacing, nats^0.5
            # ~0.5 in the argument per sqrt(nat); in nats ~0.2 (0.5 in the argument at s 0.4)
            mu_lk = population("mu_lk", pm.Normal, np.log(0.5) if rw == "argument" else np.log(0.2), 1.0)
            # one rate for every task: a rate per task, partially pooled, funnelled in the spread of the rates
            # (R-hat 1.19 for tau_lk, 12 % divergent on the README's one-corpus example; model_geometry.md)
            kappa = pt.exp(mu_lk) * pt.ones(n_tasks)
            z_w = pm.Normal("z_w", 0.0, 1.0, shape=(n_tasks, RW_KNOTS - 1))
            walk = pt.concatenate([pt.zeros((n_tasks, 1)), pt.cumsum(kappa[:, None] * dk * z_w, axis=1)], axis=1)
            if rw == "loss":
                walk = detrend_walk(walk)  # its straight line is 1/s's job
            walk_x = (1.0 - kw) * walk[ti, kj] + kw * walk[ti, kj + 1]  # at each run's loss
            if rw == "loss":
                shift = shift + walk_x
        u = (x - shift) / s[ti] - a[ti] + pt.log(ceil[ti] - floor[ti])
        if rw == "argument":
            u = u - walk_x
        m = floor[ti] + (ceil[ti] - floor[ti]) * pt.exp(-pt.softplus(u))
        sd = pt.sqrt(_eval_variance(m, n_items[ti], sigma[ti]))
        pm.Normal("metric", m, sd, observed=y)
    return model


def _sample(key: tuple, arrays: dict, config: SamplerConfig, random_seed: int):
    import nutpie
    import pytensor
    import xarray as xr

    t0 = time.perf_counter()
    compiled = _COMPILED.get(key)
    if compiled is None:
        model = _build_model(key, arrays)
        # Without fast-math, as bayes_scaling.inference compiles the scaling-law model: with it, the first
        # process that compiled this graph gave other draws for the same seed than later processes that
        # loaded the kernel from the cache (benchmark 2.58/0.948 vs 2.67/0.954). The flag is part of
        # PyTensor's cache key, so no fast-math kernel is reused.
        with warnings.catch_warnings(), pytensor.config.change_flags(numba__fastmath=False):
            warnings.simplefilter("ignore")
            compiled = nutpie.compile_pymc_model(model)
        _COMPILED[key] = compiled
    used = {v.name for v in compiled.shared_var_keys}
    compiled = compiled.with_data(**{k: v for k, v in arrays.items() if k in used})
    t_compile = time.perf_counter() - t0
    cfg = config
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trace = nutpie.sample(compiled, draws=cfg.draws, tune=cfg.tune if cfg.tune is not None else 1000,
                              chains=cfg.chains, cores=cfg.cores or min(2, cfg.chains), seed=int(random_seed),
                              progress_bar=False, save_warmup=False, target_accept=cfg.target_accept,
                              maxdepth=cfg.max_treedepth if cfg.max_treedepth is not None else 10,
                              **adaptation_options(cfg, compiled.n_dim))
    tree = xr.DataTree.from_dict({"posterior": trace["posterior"].to_dataset(),
                                  "sample_stats": trace["sample_stats"].to_dataset()})
    return tree, t_compile, time.perf_counter() - t0


def _check_loss_draws(L: np.ndarray) -> None:
    """Raise a ValueError naming the problem for loss draws that are not a 2-D array of positive finite losses."""
    if L.ndim != 2:
        hint = (f"; for one point loss per target write np.asarray(losses)[None, :] (shape (1, {L.shape[0]})), for "
                f"draws of one target losses[:, None] (shape ({L.shape[0]}, 1))") if L.ndim == 1 else ""
        raise ValueError(f"loss_draws must have shape (S, n) (draws x targets), got {L.shape}{hint}.")
    if L.shape[0] == 0 or L.shape[1] == 0:
        raise ValueError(f"loss_draws is empty (shape {L.shape}): give at least one draw of at least one target's "
                         "loss (nats/token).")
    bad = ~np.isfinite(L) | (L <= 0)
    if bad.any():
        s, j = (int(i) for i in np.argwhere(bad)[0])
        raise ValueError(f"loss_draws must be positive finite losses in nats/token (not log loss): {int(bad.sum())} "
                         f"entr{'y is' if bad.sum() == 1 else 'ies are'} not, the first at draw {s}, target {j} "
                         f"({float(L[s, j])!r}).")


@dataclass(eq=False)  # the generated == compared arrays and raised "truth value ... ambiguous" (a fresh user)
class DownstreamFit:
    """Posterior of the loss -> metric stage.

    Attributes
    ----------
    posterior : xarray.DataTree
        Draws of the model's variables (see the module docstring).
    tasks : list of str
        Tasks fitted (predictable ones), in parameter order.
    groups : list of str
        Training corpora (values of ``group_col``); ``[]`` without groups.
    chance, n_items : ndarray, shape (K,)
    flags : pandas.DataFrame
        :func:`predictable_tasks` of every task in the input, fitted or not.
    runs : pandas.DataFrame
        The validated table fitted.
    diagnostics : Diagnostics
    random_seed : int
    timings : dict
    walk : str
        ``"argument"`` (the default of :func:`fit_downstream`): the random walk is added to
        the link's argument; ``"loss"``: it shifts the loss axis (nats) and its straight
        line through its anchor is removed (:func:`detrend_walk`).
    population_estimates : dict or None
        ``fit_downstream(population="estimated")``: the population parameters
        (:data:`POPULATION_PARAMETERS`) held fixed at these values (posterior medians of a first
        fit of the whole model) while the tasks were sampled; None when they were sampled too.
    population_checks : dict or None
        The sampling checks of that first fit (``max_rhat``, ``min_ess_bulk``, ``divergences``,
        ``draws``): its medians are what it is used for, and medians hold where its R-hat and divergent
        draws would fail the checks of a fit whose draws are used (the README's example: R-hat 1.02,
        ~1 % divergent); :attr:`diagnostics` are the second fit's.
    """

    posterior: object
    tasks: list
    groups: list
    chance: np.ndarray
    n_items: np.ndarray
    flags: pd.DataFrame
    runs: pd.DataFrame
    diagnostics: object = None
    random_seed: int = 0
    free_ceiling: bool = True
    group_col: str | None = None
    x_ref: float = 0.0
    knots: np.ndarray | None = None
    timings: dict = field(default_factory=dict)
    target_accept: float = 0.9
    walk: str = "argument"
    population_estimates: dict | None = None
    population_checks: dict | None = None

    # ------------------------------------------------------------------ files
    def save(self, path, force: bool = False) -> Path:
        """Save the fit to a directory: ``posterior.nc`` (draws), ``runs.csv`` (the table fitted), ``fit.json``.

        The format of :mod:`bayes_scaling.io` (checksums, atomic write, never pickled), with
        ``"kind": "downstream"`` in ``fit.json``; :meth:`load` reads it back and ``bayes-scaling
        decide --downstream DIR`` uses it.

        Parameters
        ----------
        path : str or Path
        force : bool, default False
            Replace an existing directory.

        Returns
        -------
        Path

        Raises
        ------
        FileExistsError
            ``path`` exists and ``force`` is False.
        """
        config = {
            "kind": "downstream", "bayes_scaling_version": __version__, "tasks": list(self.tasks),
            "groups": list(self.groups), "chance": [float(v) for v in self.chance],
            "n_items": [float(v) for v in self.n_items], "flags": json.loads(self.flags.to_json(orient="records")),
            "random_seed": int(self.random_seed), "free_ceiling": bool(self.free_ceiling), "group_col": self.group_col,
            "x_ref": float(self.x_ref), "knots": None if self.knots is None else [float(v) for v in self.knots],
            "timings": {k: float(v) for k, v in self.timings.items()}, "target_accept": float(self.target_accept),
            "walk": self.walk,
            "population_estimates": None if self.population_estimates is None
            else {k: float(v) for k, v in self.population_estimates.items()},
            "population_checks": None if self.population_checks is None
            else {k: float(v) for k, v in self.population_checks.items()},
        }
        return write_fit(path, config, self.posterior, self.runs, force=force)

    @classmethod
    def load(cls, path) -> DownstreamFit:
        """Read a fit written by :meth:`save` (checksums verified; convergence checks recomputed).

        Raises
        ------
        FitFileError
            Missing, damaged or edited files, or a directory that holds a scaling-law fit instead.
        """
        if not Path(path).exists():  # read_fit's advice names a scaling-law fit's save (a fresh user)
            raise FitFileError(f"downstream fit '{path}' does not exist; give the directory DownstreamFit.save wrote.")
        saved = read_fit(path)
        cfg = saved.config
        if cfg.get("kind") != "downstream":
            raise FitFileError(f"'{saved.path}' holds a scaling-law fit, not a downstream fit; give the directory "
                               "DownstreamFit.save wrote.")
        with config_errors(saved.path / "fit.json"):
            flags = pd.DataFrame(cfg["flags"])
            post = saved.posterior
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                diag = _sampling_checks(post, cfg.get("target_accept"))
            knots = cfg["knots"]
            return cls(posterior=post, tasks=list(cfg["tasks"]), groups=list(cfg["groups"]),
                       chance=np.asarray(cfg["chance"], float), n_items=np.asarray(cfg["n_items"], float), flags=flags,
                       runs=saved.runs, diagnostics=diag, random_seed=int(cfg["random_seed"]),
                       free_ceiling=bool(cfg["free_ceiling"]), group_col=cfg["group_col"], x_ref=float(cfg["x_ref"]),
                       knots=None if knots is None else np.asarray(knots, float), timings=dict(cfg.get("timings", {})),
                       target_accept=float(cfg.get("target_accept", 0.9)),
                       walk=str(cfg.get("walk", "argument")),
                       population_estimates=cfg.get("population_estimates"),
                       population_checks=cfg.get("population_checks"))

    def __repr__(self) -> str:
        """One line: tasks, corpora, draws, walk and the sampling checks (the dataclass's own repr printed every
        table and array it holds, about 12,000 characters)."""
        unfitted = self.unfitted_tasks()["status"]
        chosen_not = int((unfitted == self.NOT_CHOSEN).sum())
        skipped = f"{len(unfitted) - chosen_not} not yet predictable" + (
            f", {chosen_not} predictable but not given to the fit" if chosen_not else "")
        d = self.diagnostics
        checks = ("not run" if d is None else "passed" if d.ok else
                  f"FAILED (max R-hat {d.rhat_text}, min ESS {min(d.min_ess_bulk, d.min_ess_tail):.0f}, "
                  f"{d.divergences} divergent)")
        return (f"DownstreamFit({len(self.tasks)} tasks fitted, {skipped}; "
                f"{len(self.groups) or 'no'} corpora; {len(self.runs) if self.runs is not None else 0} evaluations; "
                f"{self.n_draws} draws; walk={self.walk!r}; population {self._population_text()}; sampling checks "
                f"{checks})")

    def _population_text(self) -> str:
        if self.population_estimates is None:
            return "sampled"
        c = self.population_checks
        if not c:
            return "estimated"
        return (f"estimated by a first fit (max R-hat {c['max_rhat']:.3f}, {int(c['divergences'])} divergent of "
                f"{int(c['draws'])})")

    #: Status of a task that passed the checks of :func:`predictable_tasks` but was not among the tasks fitted.
    NOT_CHOSEN = "not fitted: predictable, but not among the tasks given to fit_downstream (refit with it in tasks=)"

    def unfitted_tasks(self) -> pd.DataFrame:
        """The tasks of the table that were not fitted, and why.

        Returns
        -------
        pandas.DataFrame
            One row per task of :attr:`flags` not in :attr:`tasks`: ``task``, ``chance`` and ``status``,
            ``"not yet predictable: <reason>"`` for a task the checks flagged (:func:`predictable_tasks`), or
            :attr:`NOT_CHOSEN` for a predictable task the fit was not given; the latter first.
        """
        if self.flags is None or not len(self.flags):
            return pd.DataFrame(columns=["task", "chance", "status"])
        f = self.flags[~self.flags["task"].isin(self.tasks)]
        ok = f["predictable"].astype(bool) if "predictable" in f else pd.Series(False, index=f.index)
        status = np.where(ok, self.NOT_CHOSEN, "not yet predictable: " + f["reason"].astype(str))
        out = pd.DataFrame({"task": f["task"].to_numpy(), "chance": f["chance"].to_numpy(), "status": status})
        # the tasks a refit could add first, then those not yet predictable; each in the table's order
        return out.iloc[np.argsort(~ok.to_numpy(), kind="stable")].reset_index(drop=True)

    def _repr_html_(self) -> str:
        """Jupyter: the one-line summary, then per fitted task the link's midpoint ``b``, width ``s`` and ceiling
        (posterior median [90 % interval]), and the tasks not fitted with the reason."""
        import html

        from .display import format_number, table_html

        p = self.parameters(0.9)
        cell = {name: [f"{format_number(m, 3)} [{format_number(lo, 3)}, {format_number(hi, 3)}]"
                       for m, lo, hi in zip(p[f"{name}_median"], p[f"{name}_lower"], p[f"{name}_upper"])]
                for name in ("b", "s", "ceil")}
        tab = pd.DataFrame({"task": p["task"], "chance": p["chance"], "midpoint b (nats)": cell["b"],
                            "width s (nats)": cell["s"], "ceiling": cell["ceil"]})
        out = f"<p>{html.escape(repr(self))}</p>" + table_html(tab, "posterior median [90 % credible interval]")
        skipped = self.unfitted_tasks()
        if len(skipped):
            out += table_html(skipped, "not fitted")
        return out

    # ------------------------------------------------------------------ draws
    @property
    def n_draws(self) -> int:
        """Number of posterior draws S (chains x draws)."""
        post = self.posterior["posterior"]
        return int(post.sizes["chain"] * post.sizes["draw"])

    def _flat(self, name: str) -> np.ndarray:
        post = self.posterior["posterior"]
        if name not in post and self.population_estimates is not None and name in self.population_estimates:
            return np.full(self.n_draws, float(self.population_estimates[name]))  # held fixed (empirical Bayes)
        v = np.asarray(post[name].values, float)
        return v.reshape(self.n_draws, *v.shape[2:])

    def parameter_draws(self) -> dict[str, np.ndarray]:
        """Draws of the link's parameters per task.

        Returns
        -------
        dict of ndarray
            ``a`` (log lift over chance at ``x_ref`` in the exponential regime), ``s`` (width,
            nats), ``ceil``, ``b`` (midpoint loss, nats: ``x_ref + s (a - log(ceil - chance))``),
            ``sigma`` (extra noise), each (S, K); ``shift`` (S, K, G) (zeros with one group);
            ``tau_d``, ``tau_e`` (S,) (zeros with one group); ``kappa`` (S, K) and ``walk``
            (S, K, J) with the random-walk discrepancy (zeros without).
        """
        f = self._flat
        if "a_k" in self.posterior["posterior"]:  # several corpora: sampled centred (fits saved since 2026-12-05)
            a = f("a_k")
        else:
            a = f("mu_a")[:, None] + f("tau_a")[:, None] * f("z_a")
        s = np.exp(f("mu_ls")[:, None] + f("tau_ls")[:, None] * f("z_s"))
        if self.free_ceiling:
            r = f("mu_r")[:, None] + f("tau_r")[:, None] * f("z_r")
            ceil = self.chance + (1.0 - self.chance) / (1.0 + np.exp(-r))
        else:
            ceil = np.ones_like(a)
        sigma = np.exp(f("mu_ln")[:, None] + f("tau_ln")[:, None] * f("z_n"))
        k, g = len(self.tasks), max(len(self.groups), 1)
        if len(self.groups) > 1:
            tau_d, tau_e = f("tau_d"), f("tau_e")
            shift = tau_d[:, None, None] * f("z_d")[:, None, :] + tau_e[:, None, None] * f("z_e")
        else:
            tau_d = tau_e = np.zeros(self.n_draws)
            shift = np.zeros((self.n_draws, k, g))
        if self.knots is not None:
            if "tau_lk" in self.posterior["posterior"]:  # fits saved before 2026-12-05: a rate per task
                kappa = np.exp(f("mu_lk")[:, None] + f("tau_lk")[:, None] * f("z_k"))
            else:
                kappa = np.repeat(np.exp(f("mu_lk"))[:, None], k, axis=1)
            steps = kappa[:, :, None] * np.sqrt(np.diff(self.knots))[None, None, :] * f("z_w")
            walk = np.concatenate([np.zeros((self.n_draws, k, 1)), np.cumsum(steps, axis=2)], axis=2)
            if self.walk == "loss":
                walk = detrend_walk(walk)
        else:
            kappa = np.zeros((self.n_draws, k))
            walk = np.zeros((self.n_draws, k, 2))
        b = self.x_ref + s * (a - np.log(ceil - self.chance))
        return {"a": a, "s": s, "ceil": ceil, "b": b, "sigma": sigma, "shift": shift, "tau_d": tau_d,
                "tau_e": tau_e, "kappa": kappa, "walk": walk}

    def parameters(self, prob: float = 0.9) -> pd.DataFrame:
        """Posterior medians and intervals of each task's link parameters.

        Returns
        -------
        pandas.DataFrame
            One row per task: ``chance`` and ``a``, ``b``, ``s``, ``ceil``, ``sigma``, ``kappa`` (see
            :meth:`parameter_draws`), each as ``_median``, ``_lower``, ``_upper``.
        """
        d = self.parameter_draws()
        out = pd.DataFrame({"task": self.tasks, "chance": self.chance})
        for name in ("a", "b", "s", "ceil", "sigma", "kappa"):
            lo, hi = interval(d[name], prob)
            out[f"{name}_median"] = np.median(d[name], 0)
            out[f"{name}_lower"] = lo
            out[f"{name}_upper"] = hi
        return out

    def metric_draws(self, loss_draws, group=None, *, new_eval: bool = True,
                     rng: np.random.Generator | None = None) -> np.ndarray:
        """Draws of each task's metric at loss draws from the first stage.

        Stage-1 draw ``s`` is paired with stage-2 draw ``pi(s) mod S2`` for a fixed random
        permutation ``pi`` (the two posteriors are independent, so any pairing that uses
        every draw equally is valid; with S1 > S2 stage-2 draws are reused).

        Parameters
        ----------
        loss_draws : array_like, shape (S1, n)
            Loss (nats/token, *not* log loss) at n targets, e.g. ``exp`` of the new-run
            draws of :func:`bayes_scaling.predict.predictive_draws` for the training corpus
            and eval domain the downstream fit used. One draw is paired with one stage-2 draw:
            for a point loss, repeat it (``np.repeat(L, fit.n_draws, axis=0)``; :meth:`predict`
            does this itself).
        group : str or sequence of str, optional
            Training corpus of each target (one name for all). A corpus the fit has not
            seen gets a shift drawn from the fitted between-corpus spread.
        new_eval : bool, default True
            Add the evaluation noise (binomial + extra): the metric one evaluation of a
            new model would show. False gives the expected metric.
        rng : numpy.random.Generator, optional
            Default: seeded by the fit's seed.

        Returns
        -------
        ndarray, shape (S1, n, K)
            Metric draws per target and task (order :attr:`tasks`).

        Raises
        ------
        ValueError
            For a loss array that is not 2-D or has non-positive values.
        """
        rng = np.random.default_rng([self.random_seed, 0xD0]) if rng is None else rng
        L = np.asarray(loss_draws, float)
        _check_loss_draws(L)
        self._check_loss_scale(L)
        s1, n = L.shape
        d = self.parameter_draws()
        idx = rng.permutation(max(s1, self.n_draws))[:s1] % self.n_draws
        a, sc, ceil, sigma = d["a"][idx], d["s"][idx], d["ceil"][idx], d["sigma"][idx]  # (S1, K)
        shift = self._shift_for(group, n, d, idx, rng)  # (S1, n, K)
        walk = self._walk_at(L, d["kappa"][idx], d["walk"][idx], rng)  # (S1, n, K)
        if self.walk == "argument":  # the walk is in units of the argument (the default)
            u = ((L[:, :, None] - shift - self.x_ref) / sc[:, None, :] - a[:, None, :]
                 + np.log(ceil - self.chance)[:, None, :] - walk)
        else:
            u = ((L[:, :, None] - shift - walk - self.x_ref) / sc[:, None, :] - a[:, None, :]
                 + np.log(ceil - self.chance)[:, None, :])
        m = self.chance + (ceil - self.chance)[:, None, :] * np.exp(-np.logaddexp(0.0, u))
        if new_eval:
            sd = np.sqrt(_eval_variance(m, self.n_items, sigma[:, None, :]))
            m = np.clip(m + sd * rng.standard_normal(m.shape), 0.0, 1.0)
        return m

    @property
    def lowest_run_loss(self) -> float:
        """The lowest loss of the runs the link was fitted on, nats/token (NaN when the fit keeps no runs)."""
        runs = self.runs
        return float(runs["loss"].min()) if runs is not None and "loss" in runs and len(runs) else np.nan

    def loss_below_runs(self, loss_draws) -> np.ndarray:
        """How far each target's median loss lies below the lowest loss of the runs the link was fitted on.

        Parameters
        ----------
        loss_draws : array-like, shape (S, n)
            Draws of each target's loss, nats/token.

        Returns
        -------
        ndarray, shape (n,)
            Nats/token; 0 within the runs' losses, NaN when the fit keeps no runs. Beyond the runs the forecast
            rests on the link's form and its random walk, whose uncertainty grows with this distance.
        """
        return np.maximum(self.lowest_run_loss - np.median(np.asarray(loss_draws, float), axis=0), 0.0)

    def _check_loss_scale(self, L: np.ndarray) -> None:
        """Warn when the targets' median losses lie a factor of :data:`LOSS_SCALE_FACTOR` or more outside the runs'
        losses: a unit mistake (log loss, bits, perplexity) that the link would otherwise turn silently into scores
        near the ceiling or at chance. Forecasts of bigger models lie below the runs, but not by a factor of 2."""
        if self.runs is None or "loss" not in self.runs or not len(self.runs):
            return
        lo, hi = float(self.runs["loss"].min()), float(self.runs["loss"].max())
        med = np.median(L, axis=0)
        off = (med < lo / LOSS_SCALE_FACTOR) | (med > hi * LOSS_SCALE_FACTOR)
        if off.any():
            warn_caller(f"the loss of target(s) {np.flatnonzero(off).tolist()} (median {med[off][0]:.3g}) lies far "
                        f"outside the losses this link was fitted on ({lo:.3g}-{hi:.3g} nats/token): give the loss in "
                        "nats per token on the same eval set (not log loss, bits or perplexity).", UserWarning)

    def _walk_at(self, L, kappa, walk, rng) -> np.ndarray:
        """Random-walk discrepancy at losses L (S, n) for each task: interpolated on the runs' range,
        continued as Brownian motion beyond it (one path per draw, shared by the targets on that side)."""
        s1, n = L.shape
        k = kappa.shape[1]
        if self.knots is None:
            return np.zeros((s1, n, k))
        kn = self.knots
        out = np.empty((s1, n, k))
        for i in range(s1):  # one path per draw: targets sorted by distance from the edge share increments
            x = L[i]
            j, w = _rw_weights(np.clip(x, kn[0], kn[-1]), kn)
            out[i] = (1.0 - w)[:, None] * walk[i][:, j].T + w[:, None] * walk[i][:, j + 1].T
            for edge, side in ((kn[0], x < kn[0]), (kn[-1], x > kn[-1])):
                if not side.any():
                    continue
                pos = np.flatnonzero(side)
                dist = np.abs(x[pos] - edge)
                order = np.argsort(dist)
                gaps = np.diff(np.r_[0.0, dist[order]])
                incr = np.sqrt(gaps)[:, None] * kappa[i][None, :] * rng.standard_normal((len(pos), k))
                out[i, pos[order]] += np.cumsum(incr, axis=0)
        return out

    def corpus_problem(self, group) -> str:
        """Why ``group`` cannot be used with this fit, or "" when it can.

        A fit with no or one training corpus has no between-corpus shift, so it cannot forecast
        another corpus: a name it has not seen would otherwise be silently ignored.

        Parameters
        ----------
        group : str, sequence of str or None

        Returns
        -------
        str
            E.g. ``"['rpj'] given, but this fit has no training corpora (fitted without group_col):
            it cannot tell corpora apart"``; "" for ``None``, a fit of several corpora or its one corpus.
        """
        if group is None or len(self.groups) > 1:
            return ""
        given = {group} if isinstance(group, str) else set(map(str, group))
        unseen = sorted(given - set(self.groups))
        if not unseen:
            return ""
        have = (f"one training corpus, {self.groups[0]!r}" if self.groups
                else "no training corpora (fitted without group_col)")
        return f"{unseen} given, but this fit has {have}: it cannot tell corpora apart"

    def _shift_for(self, group, n, d, idx, rng) -> np.ndarray:
        s1, k = len(idx), len(self.tasks)
        if len(self.groups) <= 1:
            problem = self.corpus_problem(group)
            if problem:  # silently ignored, it would look as if the corpus had been taken into account
                raise ValueError(f"group {problem}. Drop group=, or refit with group_col= on runs of several corpora.")
            return np.zeros((s1, n, k))
        if group is None:
            raise ValueError(f"this fit has several training corpora {self.groups}: pass group= (one name per "
                             "target, or one for all).")
        if not isinstance(group, str) and not (isinstance(group, (list, tuple, np.ndarray, pd.Series))
                                               and all(isinstance(g, str) for g in group)):
            raise ValueError(f"group must be a training corpus name (str) or a list of names, one per target; got "
                             f"{group!r}.")
        groups = [group] * n if isinstance(group, str) else list(group)
        if len(groups) != n:
            raise ValueError(f"group has {len(groups)} entries for {n} targets.")
        for gname in sorted(set(groups) - set(self.groups)):
            hint = did_you_mean(gname, self.groups, cutoff=0.8)
            warn_caller(f"group '{gname}' is not a training corpus of this fit {self.groups}, so it gets a new "
                        "corpus's forecast (a shift drawn from the spread between corpora)"
                        + (f"; {hint}" if hint else "."), UserWarning)
        out = np.empty((s1, n, k))
        new: dict[str, np.ndarray] = {}
        for j, gname in enumerate(groups):
            if gname in self.groups:
                out[:, j, :] = d["shift"][idx][:, :, self.groups.index(gname)]
            else:  # a corpus the fit has not seen: the population of corpora, one draw per corpus name, shared by
                # its targets (drawn per target, two plans on the same new corpus differed by two corpora's spread)
                if gname not in new:
                    new[gname] = d["tau_d"][idx][:, None] * rng.standard_normal((s1, 1)) \
                        + d["tau_e"][idx][:, None] * rng.standard_normal((s1, k))
                out[:, j, :] = new[gname]
        return out

    def predict(self, loss_draws, targets: pd.DataFrame | None = None, group=None, *, prob: float = 0.9,
                rng: np.random.Generator | None = None, include_unpredictable: bool = True) -> pd.DataFrame:
        """Forecast each task's metric at targets with credible intervals.

        Parameters
        ----------
        loss_draws : array_like, shape (S, n)
            Loss draws at n targets (see :meth:`metric_draws`). Fewer draws than the fit has
            (e.g. one row: a point loss) are repeated to its number of draws, so the interval
            carries the whole stage-2 posterior at those losses.
        targets : pandas.DataFrame, optional
            n rows describing the targets (e.g. ``params``, ``tokens``); copied into the output.
        group : str or sequence of str, optional
            Training corpus of each target.
        prob : float, default 0.9
        rng : numpy.random.Generator, optional
        include_unpredictable : bool, default True
            Add a row per target for each task not fitted, with its ``status`` from
            :meth:`unfitted_tasks` ("not yet predictable: ..." or not chosen) and no forecast.

        Returns
        -------
        pandas.DataFrame
            One row per (target, task): the target columns, ``target`` (row number), ``task``,
            ``chance``, ``status``, ``metric_median``, ``metric_lower``, ``metric_upper`` (one
            evaluation of a new model, noise included), ``mean_metric_median``, ``mean_metric_lower``,
            ``mean_metric_upper`` (expected metric), ``p_above_chance`` (P(expected metric > chance + 1
            binomial sd)), ``loss_median`` (the target's median loss, nats/token) and ``loss_below_runs`` (how far
            that lies below the lowest loss of the runs the link was fitted on, nats/token; 0 within them, NaN
            when the fit keeps no runs): beyond the runs the forecast rests on the link's form and its random walk,
            whose uncertainty grows with that distance.

        Raises
        ------
        ValueError
            Loss draws that are not 2-D (a 1-D array gets the reshape to use), empty, or not positive finite
            losses (the first bad entry is named); targets whose rows do not match the loss columns.
        """
        rng = np.random.default_rng([self.random_seed, 0xD1]) if rng is None else rng
        L = np.asarray(loss_draws, float)
        _check_loss_draws(L)  # before repeating a point loss, so the message counts the user's entries
        if 0 < L.shape[0] < self.n_draws:
            # fewer loss draws than stage-2 draws (a point loss, S = 1): repeat them, so the interval carries every
            # stage-2 draw instead of as many as there are loss draws (one draw: lower = upper)
            L = np.resize(L, (self.n_draws, L.shape[1]))
        state = rng.bit_generator.state
        mean = self.metric_draws(L, group, new_eval=False, rng=rng)
        rng.bit_generator.state = state  # same pairing and corpus draws for both
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the same inputs: its warnings were given by the first call
            new = self.metric_draws(L, group, new_eval=True, rng=rng)
        n = L.shape[1]
        lo, hi = interval(new, prob)
        mlo, mhi = interval(mean, prob)
        sd0 = np.sqrt(self.chance * (1 - self.chance) / self.n_items)
        skipped = self.unfitted_tasks() if include_unpredictable else None
        # how far each target's loss lies below the runs: a 6.9B forecast from runs up to 411M sits ~0.4 nats below
        # them, where the interval is the link's form and its walk, and the table did not say so
        loss_med = np.median(L, axis=0)
        below = self.loss_below_runs(L)
        rows = []
        for j in range(n):
            where = {"loss_median": float(loss_med[j]), "loss_below_runs": float(below[j])}
            for k, task in enumerate(self.tasks):
                rows.append({"target": j, "task": task, "chance": self.chance[k], "status": "forecast", **where,
                             "metric_median": float(np.median(new[:, j, k])), "metric_lower": float(lo[j, k]),
                             "metric_upper": float(hi[j, k]), "mean_metric_median": float(np.median(mean[:, j, k])),
                             "mean_metric_lower": float(mlo[j, k]), "mean_metric_upper": float(mhi[j, k]),
                             "p_above_chance": float(np.mean(mean[:, j, k] > self.chance[k] + sd0[k]))})
            if include_unpredictable:
                for _, f in skipped.iterrows():
                    rows.append({"target": j, "task": f["task"], "chance": f["chance"], "status": f["status"],
                                 **where})
        out = pd.DataFrame(rows)
        if targets is not None:
            if len(targets) != n:
                raise ValueError(f"targets has {len(targets)} rows for {n} columns of loss draws.")
            tt = targets.reset_index(drop=True)
            out = tt.iloc[out["target"].to_numpy()].reset_index(drop=True).join(out)
        out.attrs["prob"] = prob
        return out


def fit_downstream(table, tasks=None, *, group_col: str | None = None, free_ceiling: bool = True,
                   discrepancy: bool = True, walk: str = "argument", population: str = "estimated",
                   sampler: SamplerConfig | None = None, random_seed: int = 0, alpha: float = PREDICTABLE_ALPHA,
                   strict: bool = False) -> DownstreamFit:
    """Fit the loss -> metric link of several tasks in one hierarchical model.

    Parameters
    ----------
    table : pandas.DataFrame
        Long table of the runs (see :func:`validate_downstream`): ``loss``, ``task``,
        ``metric``, ``chance``, ``n_items`` and optionally ``group_col``. Use the small runs
        only when forecasting larger ones.
    tasks : sequence of str, optional
        Tasks to fit. Default: the tasks :func:`predictable_tasks` flags (the others are
        kept in ``fit.flags`` and reported as not yet predictable). Named tasks are fitted
        even if not flagged (a warning says so).
    group_col : str, optional
        Column with the training corpus of each model: adds the corpus shift of the loss
        axis (see the module docstring). Needed when the loss is measured on one eval set
        for models trained on different corpora.
    free_ceiling : bool, default True
        Learn each task's ceiling (pooled); False fixes it at 1.
    discrepancy : bool, default True
        Add the random-walk discrepancy of the link along the loss (see the module docstring):
        the runs' departures from the sigmoid set its rate, and the forecast's uncertainty
        grows with the distance of the target's loss from the runs.
    walk : {"argument", "loss"}, default "argument"
        Where the walk acts: ``"argument"`` adds it to the sigmoid's argument; ``"loss"``
        shifts the loss axis in nats and removes its straight line (:func:`detrend_walk`).
        With the noise floor the argument walk had the lower R-hat on five of six fits and the
        closer coverage on the OpenLM backtest (``benchmarks/model_geometry.md``); ``"loss"`` is
        kept for comparison.
    population : {"estimated", "sampled"}, default "estimated"
        ``"estimated"`` (empirical Bayes): a first fit of the whole model (:data:`POPULATION_FIT_DRAWS`
        draws per chain) gives the posterior medians of the population parameters
        (:data:`POPULATION_PARAMETERS`: the tasks' means and spreads, the walk's rate, the corpora's
        shift spreads), and the tasks are sampled given them; the fit's draws, diagnostics and
        forecasts are those of the second fit. Given the population the tasks are independent, and
        the second fit passes the sampling checks where the whole model's slow population directions
        did not (R-hat 1.02-1.04 and ~1 % divergent transitions on the README's one-corpus example over
        eleven sessions of reparameterisations; ``benchmarks/model_geometry.md``, session 31). The
        forecasts leave out the population parameters' uncertainty: on the README's 15 tasks the
        mean 90 % width of the 1.4B and 6.9B forecasts was 0.243 and 0.390 estimated, 0.242 and 0.396
        sampled; on the OpenLM backtest (16 tasks, three corpora) the pooled coverage 0.944 against 0.965.
        With few tasks (the population's spreads then rest on 2-5 tasks) that uncertainty is larger:
        compare with ``"sampled"``, one fit of the whole model (the fit of 2026-12-07 and before), whose
        draws carry it but which mixes slowly (check its diagnostics). The first fit's checks are kept
        in ``population_checks``.
    sampler : SamplerConfig, optional
        Default 4 chains, 1000 warm-up, tree depth 10, target_accept 0.9, and
        :data:`ESTIMATED_POPULATION_DRAWS` (3000) draws per chain with ``population="estimated"``,
        1000 with ``"sampled"``.
    random_seed : int, default 0
    alpha : float, default 0.05
        Level of :func:`predictable_tasks`.
    strict : bool, default False
        Raise :class:`~bayes_scaling.diagnostics.SamplingError` when sampling fails its checks.

    Returns
    -------
    DownstreamFit

    Raises
    ------
    DownstreamTableError
        A malformed table, or no task to fit.
    """

    t0 = time.perf_counter()
    if walk not in ("argument", "loss"):
        raise ValueError(f"walk must be 'argument' or 'loss', not {walk!r}.")
    if population not in ("estimated", "sampled"):
        raise ValueError(f"population must be 'estimated' or 'sampled', not {population!r}.")
    t = validate_downstream(table, group_col=group_col)
    flags = predictable_tasks(t, alpha=alpha)
    if tasks is None:
        fit_tasks = flags.loc[flags["predictable"], "task"].tolist()
        if not fit_tasks:
            raise DownstreamTableError("no task rises above chance beyond noise in these runs (see "
                                       "predictable_tasks); nothing can be forecast yet.")
    else:
        fit_tasks = list(tasks)
        if not fit_tasks:  # a numpy IndexError from the empty table's quantile (a fresh user)
            raise DownstreamTableError("tasks is empty: name at least one task, or leave tasks=None to fit the tasks "
                                       "predictable_tasks flags.")
        unknown = sorted(set(fit_tasks) - set(flags["task"]))
        if unknown:
            raise DownstreamTableError(_unknown_tasks(unknown, flags["task"]))
        weak = flags[flags["task"].isin(fit_tasks) & ~flags["predictable"]]["task"].tolist()
        if weak:
            warnings.warn(f"task(s) {weak} are not flagged predictable (predictable_tasks); their forecasts rest on "
                          "a link fitted to runs at chance.", UserWarning, stacklevel=2)
    t = t[t["task"].isin(fit_tasks)].reset_index(drop=True)
    tasks_sorted = sorted(fit_tasks)
    task_idx = t["task"].map({k: i for i, k in enumerate(tasks_sorted)}).to_numpy(int)
    groups = sorted(t[group_col].astype(str).unique()) if group_col else []
    meta = t.groupby("task")[["chance", "n_items"]].first().loc[tasks_sorted]
    loss = t["loss"].to_numpy(float)
    # the low end of the runs' losses: where the best runs sit and the lift over chance is measured
    x_ref = float(np.quantile(loss, BEST_FRACTION))
    knots = np.linspace(loss.min(), loss.max(), RW_KNOTS) if discrepancy else None
    arrays = {
        "x": t["loss"].to_numpy(float) - x_ref,
        "y": t["metric"].to_numpy(float),
        "task_idx": task_idx,
        "floor": meta["chance"].to_numpy(float),
        "n_items": meta["n_items"].to_numpy(float),
    }
    if discrepancy:
        j, w = _rw_weights(loss, knots)
        arrays.update(rw_idx=j, rw_w=w, rw_sqrt_step=np.array(np.sqrt(knots[1] - knots[0])))
    if len(groups) > 1:
        arrays["group_idx"] = t[group_col].astype(str).map({g: i for i, g in enumerate(groups)}).to_numpy(int)
    key = (len(tasks_sorted), max(len(groups), 1), bool(free_ceiling), walk if discrepancy else False)
    cfg = sampler or SamplerConfig(draws=ESTIMATED_POPULATION_DRAWS if population == "estimated" else 1000,
                                   tune=1000, max_treedepth=10, target_accept=0.9)
    estimates, checks, timings = None, None, {}
    if population == "estimated":
        first = replace(cfg, draws=min(cfg.draws, POPULATION_FIT_DRAWS))
        post1, tc1, ts1 = _sample(key + (False,), arrays, first, random_seed)
        p1 = post1["posterior"]
        estimates = {k: float(np.median(p1[k].values)) for k in POPULATION_PARAMETERS if k in p1}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # its medians are used, not its draws; its checks are kept and shown
            d1 = _sampling_checks(post1, first.target_accept)
        checks = {"max_rhat": float(d1.max_rhat), "min_ess_bulk": float(d1.min_ess_bulk),
                  "divergences": int(d1.divergences), "draws": int(first.draws * first.chains)}
        arrays = {**arrays, **{k: np.array(v) for k, v in estimates.items()}}
        timings = {"population_compile_seconds": tc1, "population_sample_seconds": ts1}
    post, tc, ts = _sample(key + (estimates is not None,), arrays, cfg, random_seed)
    diag = _sampling_checks(post, cfg.target_accept, strict=strict)
    return DownstreamFit(posterior=post, tasks=tasks_sorted, groups=groups, chance=meta["chance"].to_numpy(float),
                         n_items=meta["n_items"].to_numpy(float), flags=flags, runs=t, diagnostics=diag,
                         random_seed=random_seed, free_ceiling=free_ceiling, group_col=group_col,
                         x_ref=x_ref, knots=knots, target_accept=cfg.target_accept, walk=walk,
                         population_estimates=estimates, population_checks=checks,
                         timings={**timings, "compile_seconds": tc, "sample_seconds": ts,
                                  "total_seconds": time.perf_counter() - t0})
