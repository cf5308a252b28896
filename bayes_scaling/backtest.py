"""Backtests: fit on small runs, forecast the large ones, score the forecasts.

:func:`backtest` splits a runs table (a scale cutoff on ``params``, ``tokens``
or ``flops``, or the k smallest runs per domain), fits every method on the
fitting runs and scores its forecasts of the held-out runs.

Methods
-------
``bayes``
    :class:`bayes_scaling.ScalingLaw` with the given keyword arguments (package
    defaults otherwise: the published ``besiroglu2024`` prior for the Chinchilla
    law). One hierarchical fit over all domains of the fitting runs. **Beware:**
    the default prior was fitted to all 240 Chinchilla runs, including those
    held out by a Chinchilla split, so a Chinchilla backtest of ``bayes`` with
    that prior is optimistic; pass ``{"bayes": {"prior": "weak"}}`` for a clean
    one. The same leak makes ``published`` and ``published_offset`` optimistic
    on any Chinchilla split: they are honest baselines only on other data.
``huber_ls``
    :class:`bayes_scaling.baselines.HuberLeastSquares` (Hoffmann et al. 2022,
    Eq. 3; Besiroglu et al. 2024), one fit per domain, plug-in residual intervals.
``huber_ls_bootstrap``
    The same fit plus its nonparametric bootstrap (default 200 resamples).
``published``
    The published Besiroglu et al. (2024) law, unchanged (a point forecast).
``published_offset``
    The published law plus a per-domain offset on log loss.

Scores (per method, pooled over the held-out runs)
--------------------------------------------------
``mape``
    Median absolute percentage error of the median forecast, in percent:
    ``median_i 100 |L_hat_i - L_i| / L_i``.
``rmsle``
    ``sqrt(mean_i (log L_hat_i - log L_i)^2)``.
``r2``
    ``1 - sum (L_i - L_hat_i)^2 / sum (L_i - mean L)^2`` on loss (pooled).
``coverage_XX``
    Fraction of held-out runs inside the equal-tailed XX % interval.
``width_90``
    Mean of ``(upper - lower) / median`` of the 90 % interval.
``crps``
    Mean continuous ranked probability score of the **log** loss, from the
    predictive draws: ``CRPS(F, y) = E|X - y| - E|X - X'| / 2`` (Gneiting &
    Raftery 2007, Eq. 21) evaluated exactly for the empirical distribution of
    the draws (:func:`crps_from_draws`), with ``X`` the predictive draws of log L
    and ``y`` the observed log L. A point forecast is a point mass, so its CRPS
    is the absolute log error. On the log scale the score is a relative error
    (0.01 ~ 1 %), comparable across data sets, and finite for every method: a
    new-run forecast with Student-t noise of tail weight nu <= 2 on log L has no
    finite mean on the loss scale, where the score would be undefined (its
    draws overflow exp()).
``log_pred_density``
    Mean over held-out runs of the log predictive density of the observed
    **log** loss. ``bayes``: ``log mean_s p(log L | theta_s, sigma_s, nu_s)``
    (exact Student-t or normal density per posterior draw, log-mean-exp over
    draws; a Gaussian KDE of the draws for domains the fit has not seen).
    ``huber_ls`` and ``huber_ls_bootstrap``: a Gaussian KDE (Scott's bandwidth)
    of their draws. ``published_offset``: the exact Student-t density.
    ``published``: NaN (a point mass has no density).
``fit_seconds``
    Wall time of the method's fits summed over its tasks (per-domain fits,
    bootstrap chunks): the serial cost, not the elapsed time under parallelism.

Parallelism and determinism
---------------------------
Independent work (the Bayesian fit of each split, the Huber fit of each split
and domain, chunks of 25 bootstrap resamples) runs through :class:`joblib.Parallel`
with ``n_jobs`` workers, or on a Dask cluster when a ``dask.distributed.Client``
is passed (``joblib.parallel_config(backend="dask", client=client)``): the
code path is the same. Every task gets its seed from ``random_seed``, the
domain name and the resample number, never from the worker, so the same seed
gives the same numbers whatever the backend or the number of workers.
"""

from __future__ import annotations

import argparse
import math
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
from scipy import stats
from scipy.special import logsumexp

from .baselines import (
    Forecast,
    HuberBootstrap,
    HuberFit,
    HuberLeastSquares,
    PublishedLaw,
    PublishedLawOffset,
    _kde_log_density,
    _quantiles,
    bootstrap_tasks,
    fit_domain,
    POOLED_DOMAIN,
)
from .data import RunsTableError, RunsTableWarning, validate_runs

__all__ = [
    "METHODS",
    "Split",
    "BacktestResult",
    "backtest",
    "calibration_table",
    "summarize_points",
    "crps_from_draws",
    "crps_normal",
    "add_backtest_arguments",
    "backtest_cli",
]

#: Method names understood by :func:`backtest`.
METHODS = ("bayes", "huber_ls", "huber_ls_bootstrap", "published", "published_offset")
_SIZE_VARS = ("params", "tokens", "flops")


# ----------------------------------------------------------------------------
# Scores
# ----------------------------------------------------------------------------


def crps_from_draws(draws, y) -> np.ndarray:
    """CRPS of the empirical distribution of draws, per target.

    Parameters
    ----------
    draws : array_like, shape (S, n)
        Predictive draws (S >= 1) for n targets; S = 1 is a point forecast.
    y : array_like, shape (n,)
        Observations, same units as the draws.

    Returns
    -------
    ndarray, shape (n,)
        ``mean_s |x_s - y| - (1 / (2 S^2)) sum_{s,t} |x_s - x_t|``, the kernel
        form of the CRPS (Gneiting & Raftery 2007, J. Am. Stat. Assoc. 102:359,
        Eq. 21) for the empirical distribution; the double sum is computed in
        O(S log S) as ``2 sum_i (2i - S - 1) x_(i)`` over the sorted draws.
        Same units as ``y``; 0 for a perfect point forecast.

    Raises
    ------
    ValueError
        If the shapes do not match.
    """
    x = np.asarray(draws, float)
    if x.ndim == 1:
        x = x[:, None]
    y = np.atleast_1d(np.asarray(y, float))
    if x.shape[1] != y.shape[0]:
        raise ValueError(f"draws have {x.shape[1]} columns but there are {y.shape[0]} observations.")
    s = x.shape[0]
    term1 = np.mean(np.abs(x - y[None, :]), axis=0)
    xs = np.sort(x, axis=0)
    w = 2.0 * np.arange(1, s + 1) - s - 1.0
    term2 = (w @ xs) / (s * s)  # = (1 / (2 S^2)) sum_{s,t} |x_s - x_t|
    return term1 - term2


def crps_normal(y, mu, sigma) -> np.ndarray:
    """Closed-form CRPS of a normal predictive distribution.

    Parameters
    ----------
    y, mu, sigma : array_like
        Observation, mean and standard deviation (sigma > 0); broadcast.

    Returns
    -------
    ndarray
        ``sigma [z (2 Phi(z) - 1) + 2 phi(z) - 1 / sqrt(pi)]``, z = (y - mu) / sigma
        (Gneiting, Raftery, Westveld & Goldman 2005, Eq. 5; Gneiting & Raftery
        2007, §4.2).
    """
    y, mu, sigma = (np.asarray(v, float) for v in (y, mu, sigma))
    z = (y - mu) / sigma
    return sigma * (z * (2 * stats.norm.cdf(z) - 1) + 2 * stats.norm.pdf(z) - 1 / np.sqrt(np.pi))


def _pct(p: float) -> str:
    return format(round(100 * p, 6), "g")


def summarize_points(points: pd.DataFrame, prob_levels=(0.5, 0.8, 0.9, 0.95)) -> dict:
    """Scores of one method's forecasts from its per-point table.

    Parameters
    ----------
    points : pandas.DataFrame
        One row per held-out run with ``loss`` and ``loss_median`` (nats/token),
        ``loss_lower_XX`` / ``loss_upper_XX`` for each level (XX = 100 p, e.g.
        ``loss_lower_90``), and optionally ``crps`` and ``log_density``. Rows with
        a NaN ``loss_median`` are not scored.
    prob_levels : sequence of float
        Interval probabilities; 0.9 is always scored (``width_90``).

    Returns
    -------
    dict
        ``n_heldout`` (rows), ``n_scored``, ``mape`` (percent), ``rmsle``, ``r2``,
        ``coverage_XX`` per level, ``width_90``, ``crps``, ``log_pred_density``
        (see the module docstring). NaN when a score cannot be computed (no
        intervals, fewer than 2 runs for R²).
    """
    out: dict = {"n_heldout": int(len(points))}
    ok = points["loss_median"].notna() if len(points) else pd.Series([], dtype=bool)
    p = points[ok]
    out["n_scored"] = int(len(p))
    y = p["loss"].to_numpy(float)
    yh = p["loss_median"].to_numpy(float)
    nan = float("nan")
    if len(p):
        out["mape"] = float(np.median(100 * np.abs(yh - y) / y))
        out["rmsle"] = float(np.sqrt(np.mean((np.log(yh) - np.log(y)) ** 2)))
        sst = float(np.sum((y - y.mean()) ** 2))
        out["r2"] = float(1 - np.sum((y - yh) ** 2) / sst) if len(p) > 1 and sst > 0 else nan
    else:
        out["mape"] = out["rmsle"] = out["r2"] = nan
    levels = sorted(set(float(q) for q in prob_levels) | {0.9})
    for q in levels:
        lo_c, hi_c = f"loss_lower_{_pct(q)}", f"loss_upper_{_pct(q)}"
        if lo_c in p and hi_c in p and len(p) and p[lo_c].notna().all() and p[hi_c].notna().all():
            lo, hi = p[lo_c].to_numpy(float), p[hi_c].to_numpy(float)
            out[f"coverage_{_pct(q)}"] = float(np.mean((lo <= y) & (y <= hi)))
            if math.isclose(q, 0.9):
                out["width_90"] = float(np.mean((hi - lo) / yh))
        else:
            out[f"coverage_{_pct(q)}"] = nan
            if math.isclose(q, 0.9):
                out["width_90"] = nan
    for col, key in (("crps", "crps"), ("log_density", "log_pred_density")):
        v = p[col].to_numpy(float) if col in p else np.array([])
        out[key] = float(np.mean(v)) if v.size and np.isfinite(v).all() else nan
    return out


# ----------------------------------------------------------------------------
# Splits
# ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Split:
    """How to split runs into fitting and held-out runs.

    Use :meth:`cutoff` or :meth:`smallest`, or pass ``(train, heldout)``
    DataFrames directly to :func:`backtest`.

    Attributes
    ----------
    kind : {"cutoff", "smallest"}
    by : {"params", "tokens", "flops"}
    value : float
        The cutoff (``cutoff``) or k (``smallest``).
    """

    kind: str
    by: str
    value: float

    def __post_init__(self):
        if self.kind not in ("cutoff", "smallest"):
            raise ValueError(f"split kind must be 'cutoff' or 'smallest', not '{self.kind}'.")
        if self.by not in _SIZE_VARS:
            raise ValueError(f"split by must be one of {', '.join(_SIZE_VARS)}, not '{self.by}'.")
        if self.kind == "cutoff" and not (np.isfinite(self.value) and self.value > 0):
            raise ValueError(f"cutoff must be a positive number, got {self.value}.")
        if self.kind == "smallest" and (int(self.value) != self.value or self.value < 1):
            raise ValueError(f"k (runs kept per domain) must be a positive integer, got {self.value}.")

    @classmethod
    def cutoff(cls, by: str, value: float) -> Split:
        """Fit on runs with ``by < value``, score runs with ``by >= value``.

        Parameters
        ----------
        by : {"params", "tokens", "flops"}
        value : float
            Cutoff in raw counts (FLOPs for ``flops``).
        """
        return cls("cutoff", by, float(value))

    @classmethod
    def smallest(cls, k: int, by: str = "flops") -> Split:
        """Fit on the k smallest runs of each domain (by ``by``; ties by order), score the rest."""
        return cls("smallest", by, int(k))

    @property
    def label(self) -> str:
        """Short description, e.g. ``flops<1e+21`` or ``4 smallest by flops``."""
        if self.kind == "cutoff":
            return f"{self.by}<{self.value:g}"
        return f"{int(self.value)} smallest by {self.by}"

    def apply(self, runs: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Split validated runs.

        Returns
        -------
        (train, heldout) : tuple of pandas.DataFrame

        Raises
        ------
        RunsTableError
            When no run is left to fit or none to score.
        """
        v = runs[self.by].to_numpy(float)
        if self.kind == "cutoff":
            train_mask = v < self.value
            if not train_mask.any():
                raise RunsTableError(
                    f"cutoff {self.by} < {self.value:g} leaves no runs to fit (the smallest run has "
                    f"{self.by} = {v.min():g}); raise the cutoff."
                )
            if train_mask.all():
                raise RunsTableError(
                    f"cutoff {self.by} >= {self.value:g} leaves no runs to score (the largest run has "
                    f"{self.by} = {v.max():g}); lower the cutoff."
                )
        else:
            k = int(self.value)
            order = runs.assign(_v=v, _pos=np.arange(len(runs))).sort_values(["domain", "_v", "_pos"], kind="stable")
            keep = order.groupby("domain", sort=False).head(k)["_pos"].to_numpy()
            train_mask = np.zeros(len(runs), bool)
            train_mask[keep] = True
            if train_mask.all():
                raise RunsTableError(
                    f"keeping the {k} smallest runs of each domain leaves no runs to score "
                    f"(the largest domain has {runs['domain'].value_counts().max()} runs); lower k."
                )
        return runs[train_mask], runs[~train_mask]


def _normalise_splits(split) -> list[tuple[str, pd.DataFrame | None, pd.DataFrame | None, Split | None]]:
    if isinstance(split, Split):
        return [(split.label, None, None, split)]
    if isinstance(split, tuple) and len(split) == 2 and all(isinstance(s, pd.DataFrame) for s in split):
        return [("given", split[0], split[1], None)]
    if isinstance(split, Mapping):
        if "cutoff" in split:
            return [(None, None, None, Split.cutoff(split.get("by", "flops"), split["cutoff"]))]
        if "k" in split:
            return [(None, None, None, Split.smallest(split["k"], split.get("by", "flops")))]
        raise ValueError("a split dict needs 'cutoff' (with 'by') or 'k' (with 'by').")
    if isinstance(split, tuple) and len(split) == 2 and isinstance(split[0], str):
        return [(None, None, None, Split.cutoff(split[0], split[1]))]
    if isinstance(split, Sequence) and not isinstance(split, str):
        out = []
        for i, s in enumerate(split):
            for lab, tr, te, sp in _normalise_splits(s):
                out.append((lab if lab != "given" else f"given{i}", tr, te, sp))
        if not out:
            raise ValueError("split is an empty list; give at least one split.")
        return out
    raise ValueError(
        "split must be a Split (Split.cutoff('flops', 1e21) or Split.smallest(4)), a ('flops', 1e21) tuple, "
        "a dict {'by': 'flops', 'cutoff': 1e21}, a (train, heldout) pair of DataFrames, or a list of these."
    )


# ----------------------------------------------------------------------------
# Methods
# ----------------------------------------------------------------------------

_HUBER_KEYS = ("delta", "grid_stride", "per_domain", "polish")
_BOOT_KEYS = ("n_boot", "n_draws")
_PUB_KEYS = ("source", "uncertainty", "n_draws", "random_seed")
_BAYES_FIT_KEYS = ("reference", "strict")


def _normalise_methods(methods) -> list[tuple[str, str, dict]]:
    if methods is None:
        methods = METHODS
    if isinstance(methods, str):
        methods = [m.strip() for m in methods.split(",") if m.strip()]
    if isinstance(methods, Mapping):
        items = list(methods.items())
    else:
        items = [(m, {}) for m in methods]
    if not items:
        raise ValueError(f"no methods given; choose from {', '.join(METHODS)}.")
    out = []
    for label, kw in items:
        kw = dict(kw or {})
        base = kw.pop("method", label)
        if base not in METHODS:
            raise ValueError(f"unknown method '{base}'; choose from {', '.join(METHODS)}.")
        allowed = {
            "huber_ls": _HUBER_KEYS,
            "huber_ls_bootstrap": _HUBER_KEYS + _BOOT_KEYS,
            "published": _PUB_KEYS,
            "published_offset": ("source", "n_draws"),
        }.get(base)
        if allowed is not None:
            bad = sorted(set(kw) - set(allowed))
            if bad:
                raise ValueError(f"method '{label}' ({base}) does not take {', '.join(bad)}; it takes {', '.join(allowed)}.")
        out.append((str(label), base, kw))
    labels = [o[0] for o in out]
    if len(set(labels)) != len(labels):
        raise ValueError(f"method labels must be unique, got {labels}.")
    return out


def _nu(fit, domain) -> np.ndarray:
    """Student-t degrees of freedom of a domain, shape (S,) (per-domain where the fit has them)."""
    try:
        return np.asarray(fit.nu(domain), float)
    except TypeError:  # fits whose nu() takes no domain: one shared tail weight
        return np.asarray(fit.nu(), float)


def _bayes_task(train: pd.DataFrame, test: pd.DataFrame, kwargs: dict, seed: int) -> dict:
    """Fit the Bayesian model and return its forecast of the held-out runs (a joblib task)."""
    from .fit import ScalingLaw
    from .predict import predictive_draws

    kw = dict(kwargs)
    fit_kw = {k: kw.pop(k) for k in _BAYES_FIT_KEYS if k in kw}
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RunsTableWarning)
        fit = ScalingLaw(**kw).fit(train, random_seed=seed, **fit_kw)
    secs = time.perf_counter() - t0
    rng = np.random.default_rng(seed)
    n = len(test)
    draws = mean = None
    dens = np.full(n, np.nan)
    kinds = set()
    y = np.log(test["loss"].to_numpy(float))
    for dom in sorted(test["domain"].unique()):
        pos = np.flatnonzero(test["domain"].to_numpy() == dom)
        m, new = predictive_draws(fit, test.iloc[pos], dom, rng)
        if draws is None:
            draws = np.full((new.shape[0], n), np.nan)
            mean = np.full((new.shape[0], n), np.nan)
        draws[:, pos] = new
        mean[:, pos] = m
        if dom in fit.domains:
            sig = fit.sigma(dom)[:, None]
            nu = _nu(fit, dom)[:, None]
            if np.isfinite(nu).all():
                lp = stats.t.logpdf(y[pos][None, :], df=nu, loc=m, scale=sig)
            else:
                lp = stats.norm.logpdf(y[pos][None, :], loc=m, scale=sig)
            dens[pos] = logsumexp(lp, axis=0) - np.log(lp.shape[0])
            kinds.add("exact")
        else:
            dens[pos] = _kde_log_density(new, y[pos])
            kinds.add("kde")
    notes = []
    d = fit.diagnostics
    if d is not None:
        notes.append(f"max R-hat {d.max_rhat:.3f}, min bulk ESS {d.min_ess_bulk:.0f}, {d.divergences} divergences"
                     + ("" if d.ok else ": sampling diagnostics flagged problems"))
    unseen = sorted(set(test["domain"]) - set(fit.domains))
    if unseen:
        notes.append(f"population predictive for unseen domain(s) {', '.join(unseen)}")
    return {
        "forecast": Forecast(np.median(mean, 0), draws, mean, dens, "+".join(sorted(kinds))),
        "seconds": secs,
        "notes": notes,
    }


def _run_parallel(tasks, n_jobs, client):
    if not tasks:
        return []
    if client is not None:
        with joblib.parallel_config(backend="dask", client=client):
            return joblib.Parallel(n_jobs=-1)(tasks)
    return joblib.Parallel(n_jobs=n_jobs)(tasks)


def _key(kw: dict) -> tuple:
    return tuple(sorted((k, repr(v)) for k, v in kw.items()))


# ----------------------------------------------------------------------------
# Backtest
# ----------------------------------------------------------------------------


@dataclass
class BacktestResult:
    """Result of :func:`backtest`; unpacks as ``summary, points = result``.

    Attributes
    ----------
    summary : pandas.DataFrame
        One row per split and method: ``split``, ``method``, ``n_train``,
        ``n_heldout``, ``n_scored``, ``mape`` (percent), ``rmsle``, ``r2``,
        ``coverage_50``, ``coverage_80``, ``coverage_90``, ``coverage_95`` (one
        per level), ``width_90``, ``crps`` (of log loss), ``log_pred_density``,
        ``fit_seconds``, ``density``, ``notes``.
    points : pandas.DataFrame
        One row per split, method and held-out run: ``split``, ``method``,
        ``run`` (index in the validated runs), ``domain``, ``params``, ``tokens``,
        ``flops``, ``loss``, ``loss_median``, ``loss_lower_XX``, ``loss_upper_XX``,
        ``ape`` (percent), ``log_error`` (log median - log loss), ``crps``,
        ``log_density``.
    prob_levels : tuple of float
    """

    summary: pd.DataFrame
    points: pd.DataFrame
    prob_levels: tuple

    def __iter__(self):
        yield self.summary
        yield self.points

    def calibration_table(self, by_split: bool = False) -> pd.DataFrame:
        """Nominal vs empirical coverage; see :func:`calibration_table`."""
        return calibration_table(self, by_split=by_split)


def calibration_table(result, prob_levels=None, by_split: bool = False) -> pd.DataFrame:
    """Nominal vs empirical interval coverage per method (for :func:`bayes_scaling.plots.plot_calibration`).

    Parameters
    ----------
    result : BacktestResult or pandas.DataFrame
        A backtest result or its ``points`` table.
    prob_levels : sequence of float, optional
        Default: every level with ``loss_lower_XX`` columns.
    by_split : bool, default False
        One set of rows per split (column ``split``); default pools the splits.

    Returns
    -------
    pandas.DataFrame
        Columns ``method``, ``nominal``, ``empirical`` (fraction of scored
        held-out runs inside the equal-tailed interval), ``n`` (runs scored)
        [, ``split``]. Methods without intervals (``published``) are left out.
    """
    points = result.points if isinstance(result, BacktestResult) else result
    if prob_levels is None:
        prob_levels = sorted(
            float(c[len("loss_lower_"):]) / 100 for c in points.columns if c.startswith("loss_lower_")
        )
    groups = ["split", "method"] if by_split else ["method"]
    rows = []
    for key, sub in points.groupby(groups, sort=False):
        key = key if isinstance(key, tuple) else (key,)
        for q in prob_levels:
            lo, hi = sub[f"loss_lower_{_pct(q)}"], sub[f"loss_upper_{_pct(q)}"]
            ok = lo.notna() & hi.notna() & sub["loss"].notna()
            if not ok.any():
                continue
            y = sub.loc[ok, "loss"]
            row = dict(zip(groups, key, strict=True))
            row.update({"nominal": float(q), "empirical": float(np.mean((lo[ok] <= y) & (y <= hi[ok]))),
                        "n": int(ok.sum())})
            rows.append(row)
    cols = ["method", "nominal", "empirical", "n"] + (["split"] if by_split else [])
    return pd.DataFrame(rows, columns=cols)


def backtest(
    runs,
    split,
    methods=None,
    prob_levels=(0.5, 0.8, 0.9, 0.95),
    *,
    random_seed: int = 0,
    n_jobs: int | None = None,
    client=None,
    n_boot: int = 200,
    loss_unit: str = "nats",
) -> BacktestResult:
    """Fit each method on the fitting runs and score its forecasts of the held-out runs.

    Parameters
    ----------
    runs : DataFrame or path, or None
        Runs table (``params``, ``tokens`` or ``flops``, ``loss`` [, ``domain``]),
        validated by :func:`bayes_scaling.data.validate_runs`; may be None when
        every split is a given (train, heldout) pair.
    split : Split, tuple, dict, (train, heldout) or list of these
        ``Split.cutoff("flops", 1e21)`` (or ``("flops", 1e21)``, or
        ``{"by": "flops", "cutoff": 1e21}``): fit on runs below the cutoff, score
        the rest. ``Split.smallest(4, by="flops")`` (or ``{"k": 4}``): fit on the
        4 smallest runs of each domain, score the rest. A pair of DataFrames is
        used as given. A list runs several splits (in parallel).
    methods : sequence of str or dict, optional
        Names from :data:`METHODS` (default: all five), or a mapping
        ``label -> kwargs``; kwargs may name the base method (``"method"``) so one
        method can appear twice, e.g. ``{"bayes": {}, "bayes_weak": {"method":
        "bayes", "prior": "weak"}}``. ``bayes`` kwargs go to
        :class:`~bayes_scaling.ScalingLaw` (plus ``reference`` and ``strict`` to
        its ``fit``); Huber kwargs to :class:`~bayes_scaling.baselines.HuberLeastSquares`
        (plus ``n_boot``, ``n_draws`` for the bootstrap); ``published`` kwargs to
        :class:`~bayes_scaling.baselines.PublishedLaw`.
    prob_levels : sequence of float, default (0.5, 0.8, 0.9, 0.95)
        Interval probabilities scored (0.9 is always scored, for ``width_90``).
    random_seed : int, default 0
        Seed of the Bayesian fits, the bootstrap resamples and the predictive draws.
    n_jobs : int, optional
        joblib workers (default: joblib's, i.e. 1 unless a ``parallel_config`` is active).
    client : dask.distributed.Client, optional
        Run the tasks on this Dask cluster (joblib's ``dask`` backend, all
        workers; ``n_jobs`` is then ignored). Same numbers as the local run.
    n_boot : int, default 200
        Bootstrap resamples (``huber_ls_bootstrap``), unless its kwargs say otherwise.
    loss_unit : {"nats", "bits"}

    Returns
    -------
    BacktestResult
        ``summary`` (one row per split and method) and ``points`` (one row per
        held-out run and method); see :class:`BacktestResult` and the module
        docstring for the definitions of the scores.

    Raises
    ------
    RunsTableError
        Invalid runs, or a split that leaves no runs to fit or none to score.
    ValueError
        Unknown methods or method options, bad probability levels, bad split.

    Notes
    -----
    Held-out runs of a domain without fitting runs get NaN forecasts from the
    per-domain baselines (``n_scored`` < ``n_heldout``, see ``notes``); the
    Bayesian fit forecasts them with its population predictive.
    """
    levels = tuple(sorted(set(float(p) for p in prob_levels) | {0.9}))
    for p in levels:
        if not 0 < p < 1:
            raise ValueError(f"interval probabilities must be between 0 and 1 (exclusive), got {p}.")
    if n_boot < 2:
        raise ValueError(f"n_boot must be at least 2, got {n_boot}.")
    specs = _normalise_methods(methods)
    given = _normalise_splits(split)
    table = None
    if runs is not None:
        table = validate_runs(runs, law_n_params=5, informative_prior=True, needs=("params", "tokens"),
                              loss_unit=loss_unit)
    elif any(sp is not None for *_, sp in given):
        raise RunsTableError("runs is None: give the runs table, or the split as a (train, heldout) pair of DataFrames.")
    splits = []
    for label, tr, te, sp in given:
        if sp is not None:
            tr, te = sp.apply(table)
            label = sp.label
        else:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RunsTableWarning)
                tr = validate_runs(tr, law_n_params=5, informative_prior=True, needs=("params", "tokens"),
                                   loss_unit=loss_unit)
                te = validate_runs(te, law_n_params=5, informative_prior=True, needs=("params", "tokens"),
                                   loss_unit=loss_unit)
        splits.append((label, tr, te))
    labels = [s[0] for s in splits]
    if len(set(labels)) != len(labels):
        raise ValueError(f"split labels must be unique, got {labels}.")

    # ---- phase 1: Bayesian fits and per-domain Huber fits (independent tasks)
    tasks, keys = [], []
    huber_cfgs: dict[tuple, HuberLeastSquares] = {}
    for si, (_, tr, te) in enumerate(splits):
        for label, base, kw in specs:
            if base == "bayes":
                tasks.append(joblib.delayed(_bayes_task)(tr, te, kw, random_seed))
                keys.append(("bayes", si, label))
            elif base in ("huber_ls", "huber_ls_bootstrap"):
                hk = {k: v for k, v in kw.items() if k in _HUBER_KEYS}
                cfg_key = (si, _key(hk))
                if cfg_key in huber_cfgs:
                    continue
                cfg = HuberLeastSquares(**hk)
                huber_cfgs[cfg_key] = cfg
                sub = tr if cfg.per_domain else tr.assign(domain=POOLED_DOMAIN)
                for dom, g in sub.groupby("domain", sort=True):
                    arr = (np.log(g["params"].to_numpy(float)), np.log(g["tokens"].to_numpy(float)),
                           np.log(g["loss"].to_numpy(float)))
                    tasks.append(joblib.delayed(fit_domain)(dom, *arr, delta=cfg.delta, grid_stride=cfg.grid_stride,
                                                            polish=cfg.polish))
                    keys.append(("huber", cfg_key, dom))
    results = _run_parallel(tasks, n_jobs, client)
    bayes_out: dict[tuple, dict] = {}
    domain_fits: dict[tuple, dict] = {}
    for key, res in zip(keys, results, strict=True):
        if key[0] == "bayes":
            bayes_out[(key[1], key[2])] = res
        else:
            domain_fits.setdefault(key[1], {})[key[2]] = res
    huber_fits = {}
    for cfg_key, cfg in huber_cfgs.items():
        si = cfg_key[0]
        fits = domain_fits.get(cfg_key, {})
        huber_fits[cfg_key] = HuberFit(cfg, fits, splits[si][1],
                                       {"fit_seconds": sum(f.seconds for f in fits.values())})

    # ---- phase 2: bootstrap chunks
    tasks, keys = [], []
    boot_specs = {}
    for si, _ in enumerate(splits):
        for label, base, kw in specs:
            if base != "huber_ls_bootstrap":
                continue
            hk = {k: v for k, v in kw.items() if k in _HUBER_KEYS}
            nb = int(kw.get("n_boot", n_boot))
            if nb < 2:
                raise ValueError(f"n_boot must be at least 2, got {nb}.")
            fit = huber_fits[(si, _key(hk))]
            t, k = bootstrap_tasks(fit, nb, random_seed)
            boot_specs[(si, label)] = (fit, len(tasks), len(tasks) + len(t), k, nb, int(kw.get("n_draws", 4000)))
            tasks.extend(t)
            keys.extend(k)
    results = _run_parallel(tasks, n_jobs, client)
    boots = {}
    for sk, (fit, lo, hi, k, nb, nd) in boot_specs.items():
        boots[sk] = HuberBootstrap.from_chunks(fit, k, results[lo:hi], n_boot=nb, random_seed=random_seed, n_draws=nd)

    # ---- scoring (main process)
    summary_rows, point_frames = [], []
    for si, (split_label, tr, te) in enumerate(splits):
        y = te["loss"].to_numpy(float)
        for label, base, kw in specs:
            notes: list[str] = []
            if base == "bayes":
                out = bayes_out[(si, label)]
                fc_by_dom = {None: out["forecast"]}
                seconds = out["seconds"]
                notes.extend(out["notes"])
                model = None
            elif base in ("huber_ls", "huber_ls_bootstrap"):
                hk = {k: v for k, v in kw.items() if k in _HUBER_KEYS}
                model = huber_fits[(si, _key(hk))]
                seconds = model.timings["fit_seconds"]
                if base == "huber_ls_bootstrap":
                    model = boots[(si, label)]
                    seconds += model.seconds
                    failed = sum(model.n_failed.values())
                    if failed:
                        notes.append(f"{failed} bootstrap refits failed")
                small = sorted(d for d, f in model.fit.fits.items() if f.n_runs < 6) if base == "huber_ls_bootstrap" \
                    else sorted(d for d, f in model.fits.items() if f.n_runs < 6)
                if small:
                    notes.append(f"no intervals for domain(s) with fewer than 6 fitting runs: {', '.join(small)}")
            else:
                t0 = time.perf_counter()
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", RunsTableWarning)  # already reported for the whole table
                    model = (PublishedLaw if base == "published" else PublishedLawOffset)(**kw).fit(tr)
                seconds = time.perf_counter() - t0
            pts = _score_method(te, y, levels, model, fc_by_dom if base == "bayes" else None, notes)
            pts.insert(0, "method", label)
            pts.insert(0, "split", split_label)
            point_frames.append(pts)
            density = {"bayes": bayes_out[(si, label)]["forecast"].density_kind if base == "bayes" else "",
                       "huber_ls": "kde", "huber_ls_bootstrap": "kde", "published": "none",
                       "published_offset": "exact"}[base]
            row = {"split": split_label, "method": label, "n_train": int(len(tr))}
            row.update(summarize_points(pts, levels))
            row["fit_seconds"] = float(seconds)
            row["density"] = density
            row["notes"] = "; ".join(notes)
            summary_rows.append(row)
    summary = pd.DataFrame(summary_rows)
    cov_cols = [f"coverage_{_pct(q)}" for q in levels]
    order = ["split", "method", "n_train", "n_heldout", "n_scored", "mape", "rmsle", "r2", *cov_cols, "width_90",
             "crps", "log_pred_density", "fit_seconds", "density", "notes"]
    summary = summary[order]
    points = pd.concat(point_frames, ignore_index=True)
    return BacktestResult(summary=summary, points=points, prob_levels=levels)


def _score_method(te: pd.DataFrame, y: np.ndarray, levels, model, bayes_fc, notes: list) -> pd.DataFrame:
    """Per-point forecasts and scores of one method on one split's held-out runs."""
    n = len(te)
    pts = pd.DataFrame({
        "run": te.index.to_numpy(),
        "domain": te["domain"].to_numpy(),
        "params": te["params"].to_numpy(float),
        "tokens": te["tokens"].to_numpy(float),
        "flops": te["flops"].to_numpy(float),
        "loss": y,
    })
    med = np.full(n, np.nan)
    lows = {q: np.full(n, np.nan) for q in levels}
    highs = {q: np.full(n, np.nan) for q in levels}
    crps = np.full(n, np.nan)
    dens = np.full(n, np.nan)
    if bayes_fc is not None:
        groups = [(np.arange(n), bayes_fc[None])]
    else:
        groups = []
        missing = []
        for dom in sorted(te["domain"].unique()):
            pos = np.flatnonzero(te["domain"].to_numpy() == dom)
            try:
                fc = model.forecast(te.iloc[pos], dom, loss=y[pos])
            except RunsTableError:
                missing.append(dom)
                continue
            groups.append((pos, fc))
        if missing:
            k = int(te["domain"].isin(missing).sum())
            notes.append(f"{k} held-out run(s) in domain(s) without fitting runs not scored: {', '.join(missing)}")
    for pos, fc in groups:
        if fc.draws_log is None or fc.draws_log.shape[0] == 1:
            med[pos] = np.exp(fc.point_log)
            crps[pos] = np.abs(fc.point_log - np.log(y[pos]))
        else:
            with np.errstate(over="ignore"):  # a far-tail draw may overflow; the median does not
                med[pos] = np.median(np.exp(fc.draws_log), 0)
            crps[pos] = crps_from_draws(fc.draws_log, np.log(y[pos]))
            if fc.has_interval:
                for q, (lo, hi) in _quantiles(fc.draws_log, levels).items():
                    lows[q][pos] = np.exp(lo)
                    highs[q][pos] = np.exp(hi)
        if fc.log_density is not None:
            dens[pos] = fc.log_density
    pts["loss_median"] = med
    for q in levels:
        pts[f"loss_lower_{_pct(q)}"] = lows[q]
        pts[f"loss_upper_{_pct(q)}"] = highs[q]
    pts["ape"] = 100 * np.abs(med - y) / y
    pts["log_error"] = np.log(med) - np.log(y)
    pts["crps"] = crps
    pts["log_density"] = dens
    return pts


# ----------------------------------------------------------------------------
# Command line
# ----------------------------------------------------------------------------


def add_backtest_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add the ``backtest`` options to an argparse (sub)parser.

    Adds ``runs``, ``--split-by``, ``--cutoff``, ``--k-smallest``, ``--methods``,
    ``--prob`` (comma-separated levels), ``--n-boot``, ``--prior``, ``--reference``, ``--seed``,
    ``--n-jobs``, ``--out``, ``--points-out``, ``--force``, ``--quiet``. Do not add
    the CLI's common ``--prob`` option as well.

    Returns
    -------
    argparse.ArgumentParser
        The same parser.
    """
    parser.add_argument("runs", help="CSV with params, tokens (or flops), loss [, domain]")
    parser.add_argument("--split-by", dest="split_by", choices=list(_SIZE_VARS), default="flops",
                        help="size variable of the split (default flops)")
    parser.add_argument("--cutoff", type=float, default=None,
                        help="fit on runs with split-by < cutoff, score the rest (e.g. 1e21)")
    parser.add_argument("--k-smallest", dest="k_smallest", type=int, default=None,
                        help="instead of --cutoff: fit on the k smallest runs of each domain, score the rest")
    parser.add_argument("--methods", default=",".join(METHODS),
                        help=f"comma-separated methods (default all: {','.join(METHODS)})")
    parser.add_argument("--prob", default="0.5,0.8,0.9,0.95", help="interval probabilities scored (default 0.5,0.8,0.9,0.95)")
    parser.add_argument("--n-boot", dest="n_boot", type=int, default=200, help="bootstrap resamples (default 200)")
    parser.add_argument("--prior", default=None, help="prior of the bayes method (default: the package default)")
    parser.add_argument("--reference", default=None, help="reference runs of the bayes method: 'chinchilla' or a CSV")
    parser.add_argument("--seed", type=int, default=0, help="random seed (same seed, same numbers)")
    parser.add_argument("--n-jobs", dest="n_jobs", type=int, default=1, help="parallel workers (joblib; -1 = all cores)")
    parser.add_argument("--out", default=None, help="write the summary table to this CSV")
    parser.add_argument("--points-out", dest="points_out", default=None, help="write the per-run table to this CSV")
    parser.add_argument("--force", action="store_true", help="overwrite existing output files")
    parser.add_argument("--quiet", action="store_true", help="no progress messages")
    return parser


def _parse_probs(text) -> list[float]:
    if isinstance(text, (int, float)):
        return [float(text)]
    try:
        vals = [float(v) for v in str(text).replace(";", ",").split(",") if v.strip()]
    except ValueError:
        raise ValueError(f"--prob must be comma-separated probabilities such as 0.5,0.9, got '{text}'.") from None
    if not vals:
        raise ValueError("--prob is empty; give comma-separated probabilities such as 0.5,0.9.")
    for v in vals:
        if not 0 < v < 1:
            raise ValueError(f"--prob values must be between 0 and 1 (exclusive), got {v:g}.")
    return vals


def backtest_cli(args) -> int:
    """``bayes-scaling backtest RUNS.csv --split-by flops --cutoff 1e21 ...``: print and save the scores.

    Parameters
    ----------
    args : argparse.Namespace or sequence of str
        Parsed options (see :func:`add_backtest_arguments`) or the argument list.
        The convention of ``bayes_scaling.cli`` is accepted too: ``--split-by
        smallest --k K`` (the K smallest runs of each domain by compute),
        ``--methods`` None (all), and a single float ``--prob`` (scored together
        with 0.5, 0.8, 0.9, 0.95).

    Returns
    -------
    int
        0 on success.

    Raises
    ------
    ValueError
        Neither or both of ``--cutoff`` and ``--k-smallest``, bad ``--prob``,
        unknown methods, non-positive ``--n-jobs`` other than -1.
    RunsTableError
        Unreadable or invalid runs, a cutoff leaving nothing to fit or to score.
    FileExistsError
        An output file exists and ``--force`` was not given.
    """
    import sys

    if not isinstance(args, argparse.Namespace):
        parser = add_backtest_arguments(argparse.ArgumentParser(prog="bayes-scaling backtest"))
        args = parser.parse_args(list(args))
    g = lambda name, default=None: getattr(args, name, default)  # noqa: E731
    cutoff = g("cutoff")
    k = g("k_smallest") if g("k_smallest") is not None else g("k")
    by = g("split_by", "flops") or "flops"
    if by == "smallest":  # cli.py convention: --split-by smallest --k K (k smallest runs by compute)
        if k is None:
            raise ValueError("--split-by smallest needs --k (runs per domain used for fitting), e.g. --k 4.")
        by = "flops"
    if (cutoff is None) == (k is None):
        raise ValueError("give exactly one of --cutoff (e.g. --cutoff 1e21) and --k-smallest (e.g. --k-smallest 4).")
    split = Split.cutoff(by, cutoff) if cutoff is not None else Split.smallest(k, by)
    prob = g("prob", "0.5,0.8,0.9,0.95")
    probs = _parse_probs(prob)
    if isinstance(prob, float):  # a single --prob (the CLI's common option): score it with the default levels
        probs = sorted(set(probs) | {0.5, 0.8, 0.9, 0.95})
    names = [m.strip() for m in str(g("methods") or ",".join(METHODS)).split(",") if m.strip()]
    methods = _normalise_methods(names)
    n_jobs = g("n_jobs", 1)
    if n_jobs is not None and n_jobs != -1 and n_jobs < 1:
        raise ValueError(f"--n-jobs must be a positive integer or -1, got {n_jobs}.")
    outs = [Path(p) for p in (g("out"), g("points_out")) if p]
    for p in outs:
        if p.exists() and not g("force", False):
            raise FileExistsError(f"'{p}' already exists; choose another path or pass --force to overwrite it.")
    spec = {}
    for label, base, kw in methods:
        if base == "bayes" and g("prior"):
            kw = {**kw, "prior": g("prior")}
        if base == "bayes" and g("reference"):
            kw = {**kw, "reference": g("reference")}
        spec[label] = {"method": base, **kw}
    if not g("quiet", False):
        print(f"[bayes-scaling] backtest {split.label}: methods {', '.join(spec)}", file=sys.stderr, flush=True)
    from .data import read_runs

    runs = read_runs(g("runs"))
    t0 = time.perf_counter()
    res = backtest(runs, split, spec, probs, random_seed=g("seed", 0), n_jobs=n_jobs, n_boot=g("n_boot", 200))
    if not g("quiet", False):
        print(f"[bayes-scaling] done in {time.perf_counter() - t0:.1f} s", file=sys.stderr, flush=True)
    show = res.summary.drop(columns=["density"])
    with pd.option_context("display.width", 200, "display.max_columns", 50):
        print(show.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    for path, df in ((g("out"), res.summary), (g("points_out"), res.points)):
        if path:
            p = Path(path)
            if p.parent and not p.parent.exists():
                p.parent.mkdir(parents=True, exist_ok=True)
            df.to_csv(p, index=False)
    return 0
