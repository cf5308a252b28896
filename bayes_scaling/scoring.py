"""Floor 3. Scores of forecasts against observed losses: CRPS, interval coverage, MAPE, RMSLE, R².

One place for every score the package reports: the backtest
(:mod:`bayes_scaling.backtest`), the benchmarks and the notebooks use these
functions. All take plain arrays (or columns) and return floats or arrays.

Definitions
-----------
``ape``
    Absolute percentage error of a point forecast, ``100 |L_hat - L| / L`` (percent).
``mape``
    Its median over the held-out runs (the backtest's ``mape`` column), or its mean
    with ``average="mean"``.
``rmsle``
    ``sqrt(mean (log L_hat - log L)^2)``.
``r2``
    ``1 - sum (L - L_hat)^2 / sum (L - mean L)^2`` (NaN for fewer than 2 runs or a
    constant observed loss).
``coverage``
    Fraction of observations inside their intervals (ends included).
``relative_width``
    Mean of ``(upper - lower) / median``.
``crps_from_draws``, ``crps_normal``
    Continuous ranked probability score (Gneiting & Raftery 2007), of an empirical
    distribution of draws and of a normal distribution.
``kde_log_density``
    Log predictive density of an observation under a Gaussian KDE of draws.
``summarize_points``
    All of the above for one method's per-point backtest table.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats

from .intervals import level_label  # the column suffix, shared with predict's extra_probs

__all__ = [
    "ape",
    "mape",
    "rmsle",
    "r2",
    "covered",
    "coverage",
    "relative_width",
    "crps_from_draws",
    "crps_normal",
    "kde_log_density",
    "level_label",
    "summarize_points",
]


def _pair(forecast, actual) -> tuple[np.ndarray, np.ndarray]:
    f = np.asarray(forecast, float).ravel()
    y = np.asarray(actual, float).ravel()
    if f.shape != y.shape:
        raise ValueError(f"{f.size} forecasts but {y.size} observations.")
    return f, y


def ape(forecast, actual) -> np.ndarray:
    """Absolute percentage error of point forecasts, in percent.

    Parameters
    ----------
    forecast, actual : array_like, shape (n,)
        Forecast (e.g. ``loss_median``) and observed loss, nats/token.

    Returns
    -------
    ndarray, shape (n,)
        ``100 |forecast - actual| / actual``.

    Raises
    ------
    ValueError
        If the lengths differ.
    """
    f, y = _pair(forecast, actual)
    return 100 * np.abs(f - y) / y


def mape(forecast, actual, average: str = "median") -> float:
    """Median (default) or mean absolute percentage error, in percent.

    The backtest reports the median (robust to the odd outlier run); ``average="mean"``
    gives the usual mean. NaN for no runs.

    Raises
    ------
    ValueError
        If the lengths differ or ``average`` is not ``median`` or ``mean``.
    """
    if average not in ("median", "mean"):
        raise ValueError(f"average must be 'median' or 'mean', not '{average}'.")
    e = ape(forecast, actual)
    if not e.size:
        return float("nan")
    return float(np.median(e) if average == "median" else np.mean(e))


def rmsle(forecast, actual) -> float:
    """Root mean squared log error, ``sqrt(mean (log forecast - log actual)^2)``; NaN for no runs."""
    f, y = _pair(forecast, actual)
    if not f.size:
        return float("nan")
    return float(np.sqrt(np.mean((np.log(f) - np.log(y)) ** 2)))


def r2(forecast, actual) -> float:
    """Coefficient of determination of point forecasts on the loss scale (pooled).

    Returns
    -------
    float
        ``1 - sum (actual - forecast)^2 / sum (actual - mean actual)^2``; NaN for fewer
        than 2 runs or a constant observed loss.
    """
    f, y = _pair(forecast, actual)
    sst = float(np.sum((y - y.mean()) ** 2)) if y.size else 0.0
    if y.size < 2 or sst <= 0:
        return float("nan")
    return float(1 - np.sum((y - f) ** 2) / sst)


def covered(actual, lower, upper) -> np.ndarray:
    """Whether each observation lies inside its interval (ends included), shape (n,)."""
    y = np.asarray(actual, float)
    return (np.asarray(lower, float) <= y) & (y <= np.asarray(upper, float))


def coverage(actual, lower, upper) -> float:
    """Fraction of observations inside their intervals (NaN for none)."""
    c = covered(actual, lower, upper)
    return float(np.mean(c)) if c.size else float("nan")


def relative_width(lower, upper, median) -> float:
    """Mean relative interval width, ``mean (upper - lower) / median`` (NaN for none)."""
    w = (np.asarray(upper, float) - np.asarray(lower, float)) / np.asarray(median, float)
    return float(np.mean(w)) if w.size else float("nan")


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


def kde_log_density(draws, y) -> np.ndarray:
    """Log density of each observation under a Gaussian KDE (Scott's bandwidth) of its column of draws.

    Parameters
    ----------
    draws : array_like, shape (S, n)
    y : array_like, shape (n,)

    Returns
    -------
    ndarray, shape (n,)
        NaN where a column has fewer than 2 finite draws or no spread.
    """
    draws = np.asarray(draws, float)
    y = np.asarray(y, float)
    out = np.full(y.shape, np.nan)
    for j in range(y.size):
        col = draws[:, j]
        col = col[np.isfinite(col)]
        if col.size < 2 or np.ptp(col) == 0:
            continue
        try:
            out[j] = float(stats.gaussian_kde(col).logpdf(y[j])[0])
        except (np.linalg.LinAlgError, ValueError):
            pass
    return out


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
        ``n_heldout`` (rows), ``n_scored``, ``mape`` (median APE, percent), ``rmsle``,
        ``r2``, ``coverage_XX`` per level, ``width_90``, ``crps``, ``log_pred_density``
        (means over the scored runs; coverage and width over those with both ends of the interval). NaN when a
        score cannot be computed (no intervals, fewer than 2 runs for R²).
    """
    out: dict = {"n_heldout": int(len(points))}
    ok = points["loss_median"].notna() if len(points) else pd.Series([], dtype=bool)
    p = points[ok]
    out["n_scored"] = int(len(p))
    y = p["loss"].to_numpy(float)
    yh = p["loss_median"].to_numpy(float)
    out["mape"] = mape(yh, y)
    out["rmsle"] = rmsle(yh, y)
    out["r2"] = r2(yh, y)
    nan = float("nan")
    levels = sorted(set(float(q) for q in prob_levels) | {0.9})
    for q in levels:
        lo_c, hi_c = f"loss_lower_{level_label(q)}", f"loss_upper_{level_label(q)}"
        # over the runs with both ends: one domain without intervals (too few runs for a baseline's) made the whole
        # method's coverage NaN (a fresh user); the backtest's notes say how many runs have them
        have = (p[lo_c].notna() & p[hi_c].notna()).to_numpy() if lo_c in p and hi_c in p else np.zeros(len(p), bool)
        if have.any():
            lo, hi = p[lo_c].to_numpy(float)[have], p[hi_c].to_numpy(float)[have]
            out[f"coverage_{level_label(q)}"] = coverage(y[have], lo, hi)
            if math.isclose(q, 0.9):
                out["width_90"] = relative_width(lo, hi, yh[have])
        else:
            out[f"coverage_{level_label(q)}"] = nan
            if math.isclose(q, 0.9):
                out["width_90"] = nan
    for col, key in (("crps", "crps"), ("log_density", "log_pred_density")):
        v = p[col].to_numpy(float) if col in p else np.array([])
        out[key] = float(np.mean(v)) if v.size and np.isfinite(v).all() else nan
    return out
