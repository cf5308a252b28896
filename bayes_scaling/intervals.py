"""Floor 0. Credible (and predictive) intervals of draws: the one interval routine of the package.

Every interval the package reports — posterior parameters, forecasts, the frontier,
the baselines' percentile intervals, the importance-weighted intervals of the value
of information — comes from :func:`interval`, which calls ArviZ
(``arviz_stats.base.array_stats``: NumPy's quantiles underneath).
"""

from __future__ import annotations

import numpy as np
from arviz_stats.base import array_stats

__all__ = ["interval", "check_prob"]


def check_prob(prob: float) -> float:
    """``prob`` as a float, or a ValueError when it is not in (0, 1).

    Raises
    ------
    ValueError
        ``interval probability must be between 0 and 1 (exclusive), got ...``.
    """
    if not 0 < prob < 1:
        raise ValueError(f"interval probability must be between 0 and 1 (exclusive), got {prob}.")
    return float(prob)


def interval(draws, prob: float, kind: str = "eti", weights=None) -> tuple[np.ndarray, np.ndarray]:
    """Credible interval of draws along axis 0.

    Parameters
    ----------
    draws : array_like, shape (S, ...)
    prob : float
        Probability mass in (0, 1).
    kind : {"eti", "hdi"}
        Equal-tailed (default: quantiles (1 - prob) / 2 and (1 + prob) / 2, NumPy's
        linear method, Hyndman & Fan 1996 type 7) or highest-density interval.
    weights : array_like, shape (S,), optional
        Weights of the draws (importance reweighting); an equal-tailed interval with the
        inverted-CDF quantile, the method NumPy supports with weights.

    Returns
    -------
    (lower, upper) : tuple of ndarray
        Each of shape ``draws.shape[1:]`` (0-d for 1-d draws).

    Raises
    ------
    ValueError
        If ``prob`` is not in (0, 1), ``kind`` is unknown, or weights are combined with ``hdi``.
    """
    check_prob(prob)
    draws = np.asarray(draws, float)
    flat = draws.reshape(draws.shape[0], -1)
    if weights is not None:
        if kind != "eti":
            raise ValueError("weighted intervals are equal-tailed: use kind='eti'.")
        w = np.broadcast_to(np.asarray(weights, float)[:, None], flat.shape)
        res = array_stats.eti(flat, prob=prob, axis=0, weights=w, method="inverted_cdf")
    elif kind == "eti":
        res = array_stats.eti(flat, prob=prob, axis=0)
    elif kind == "hdi":
        res = array_stats.hdi(flat, prob=prob, axis=0)
    else:
        raise ValueError(f"interval kind must be 'eti' or 'hdi', not '{kind}'.")
    res = np.asarray(res).reshape(*draws.shape[1:], 2)
    return res[..., 0], res[..., 1]
