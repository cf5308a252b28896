"""Floor 0. Credible (and predictive) intervals of draws: the one interval routine of the package.

Every interval the package reports — posterior parameters, forecasts, the frontier,
the baselines' percentile intervals, the importance-weighted intervals of the value
of information — comes from :func:`interval`, which calls ArviZ
(``arviz_stats.base.array_stats``: NumPy's quantiles underneath).
"""

from __future__ import annotations

import numpy as np
from arviz_stats.base import array_stats

__all__ = ["interval", "check_prob", "thin_tails", "level_label", "MIN_TAIL_DRAWS"]


def level_label(p: float) -> str:
    """Column suffix of an interval level: 0.9 -> ``"90"``, 0.95 -> ``"95"`` (as in ``loss_lower_90``: the backtest's
    columns, and predict's for ``extra_probs``)."""
    return format(round(100 * p, 6), "g")


def check_prob(prob: float) -> float:
    """``prob`` as a float, or a ValueError when it is not in (0, 1).

    Raises
    ------
    ValueError
        ``interval probability must be between 0 and 1 (exclusive), got ...``.
    """
    try:  # "0.9" from a widget gave "'<' not supported between instances of 'int' and 'str'" (a fresh user)
        p = float(prob)
    except (TypeError, ValueError):
        raise ValueError(f"interval probability must be a number between 0 and 1 (exclusive), got {prob!r}.") from None
    if not 0 < p < 1:
        percent = f"; for {p:g} % give {p / 100:g}" if 1 < p < 100 else ""
        raise ValueError(f"interval probability must be between 0 and 1 (exclusive), got {prob}{percent}.")
    return p


#: Fewest draws beyond each end of an equal-tailed interval for its ends to be read as numbers (:func:`thin_tails`): a
#: round number, not fitted; a quantile's Monte Carlo error grows fast as the tail empties.
MIN_TAIL_DRAWS = 10


def thin_tails(prob: float, n_draws: int) -> str:
    """Why an interval of ``prob`` from ``n_draws`` draws cannot be read, or ``""``.

    With fewer than :data:`MIN_TAIL_DRAWS` draws beyond each end (``(1 - prob) / 2 * n_draws``), the ends are the
    most extreme draws or fewer, i.e. the sample's accidents: ``--prob 0.999999`` on 4000 draws gave a loss interval
    of 2.9e-6 to 1.3e9 nats/token (a fresh user).

    Parameters
    ----------
    prob : float
        Interval probability in (0, 1).
    n_draws : int
        Posterior draws the interval is computed from.

    Returns
    -------
    str
        The sentence for a warning, naming the draws in each tail and the largest ``prob`` they support.

    Raises
    ------
    ValueError
        ``prob`` outside (0, 1) (:func:`check_prob`).
    """
    tail = (1.0 - check_prob(prob)) / 2.0 * n_draws  # prob=90 warned of -1.8e5 draws before it was refused
    if tail >= MIN_TAIL_DRAWS:
        return ""
    most = 1.0 - 2.0 * MIN_TAIL_DRAWS / n_draws
    return (f"a {prob:g} interval from {n_draws} posterior draws leaves {tail:.3g} draws beyond each end, fewer than "
            f"{MIN_TAIL_DRAWS}: its ends are accidents of the sample, not estimates; use a probability of at most "
            f"{most:.3g} (or sample more draws).")


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
