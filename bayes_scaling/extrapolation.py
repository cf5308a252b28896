"""Floor 0. Model-form error beyond the runs: how far a forecast extrapolates, and the error that grows with it.

A scaling law fitted on small runs is an approximation; how wrong it is at the target
grows with how far the target lies beyond the runs, and the scatter of the runs around
the law does not show it (every miss of the intervals in our backtests and in the
published ladders grew with distance: Choshen et al. 2024 report 15-37 % errors for 6-20x
extrapolations of OPT). Forecasts therefore add a model-form error to the law's log loss::

    delta(x) = kappa * h(x) * z,   log kappa ~ N(m, s),   z ~ N(0, 1)

* ``h(x)`` (:func:`extrapolation_distance`): decades beyond the domain's runs, the largest of
  ``log10(x_v / max_runs v)`` over the law's size variables and compute (``params``,
  ``tokens``, ``flops``), floored at 0 (no error is added inside the runs' range);
* ``kappa``: the error per decade of extrapolation (log-loss units, ~ relative error),
  unknown for a new data set: its distribution across data sets, ``N(m, s)`` on the log
  scale, is learned from backtests of public scaling-law data sets
  (``benchmarks/learn_extrapolation.py``), so the tail of the forecast is as heavy as the
  spread between those data sets;
* ``z``: one draw per posterior draw, shared by every target of the fit: the error is a
  systematic drift of the law beyond the runs (a random slope in log size), so options at the
  same distance are compared on the law, not on independent noise.

The learned priors are stored in ``_resources/extrapolation_prior.json`` with the data sets
they were learned from; ``learned`` uses all of them, ``learned_without_<data set>`` leaves
one out (for an honest backtest of that data set), ``none`` adds nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib import resources

import numpy as np
import pandas as pd

__all__ = ["ExtrapolationPrior", "extrapolation_distance", "get_extrapolation_prior", "list_extrapolation_priors",
           "DISTANCE_VARIABLES", "NO_EXTRAPOLATION_ERROR"]

#: Columns whose distance beyond the runs counts (where both the runs and the targets have them).
DISTANCE_VARIABLES = ("params", "tokens", "flops")


@dataclass(frozen=True)
class ExtrapolationPrior:
    """The distribution of the model-form error per decade of extrapolation (see the module docstring).

    Attributes
    ----------
    name : str
        Catalog name.
    log_kappa_mean, log_kappa_sd : float
        Normal distribution of ``log kappa`` (kappa: error of log loss per decade beyond the runs).
        ``log_kappa_sd = 0`` and ``log_kappa_mean = -inf`` mean no error (``none``).
    learned_from : tuple of str
        Data sets (and splits) the distribution was learned from.
    citation : str
        Sources of those data sets.
    where : str
        How it was learned (script, date, LODO check).
    """

    name: str
    log_kappa_mean: float
    log_kappa_sd: float
    learned_from: tuple[str, ...] = ()
    citation: str = ""
    where: str = ""
    details: dict = field(default_factory=dict, compare=False)

    @property
    def active(self) -> bool:
        """Whether the prior adds any error."""
        return bool(np.isfinite(self.log_kappa_mean))

    def slopes(self, n: int, random_seed: int) -> np.ndarray:
        """Draws of ``kappa * z``, the model-form error per decade, one per posterior draw, shape (n,).

        The same ``random_seed`` gives the same draws in any process (a dedicated stream of the
        fit's seed, independent of every other random draw of a forecast).
        """
        if not self.active:
            return np.zeros(n)
        rng = np.random.default_rng([int(random_seed), 0xE7A9])
        kappa = np.exp(self.log_kappa_mean + self.log_kappa_sd * rng.standard_normal(n))
        return kappa * rng.standard_normal(n)

    def quantiles_per_decade(self, probs=(0.05, 0.5, 0.95)) -> dict[float, float]:
        """Quantiles of kappa (error per decade) for reports."""
        from scipy import stats

        if not self.active:
            return {p: 0.0 for p in probs}
        return {p: float(np.exp(self.log_kappa_mean + self.log_kappa_sd * stats.norm.ppf(p))) for p in probs}

    def to_dict(self) -> dict:
        """JSON-serialisable form (for saved fits)."""
        return {"name": self.name, "log_kappa_mean": self.log_kappa_mean if self.active else None,
                "log_kappa_sd": self.log_kappa_sd, "learned_from": list(self.learned_from), "citation": self.citation,
                "where": self.where}

    @classmethod
    def from_dict(cls, d: dict) -> ExtrapolationPrior:
        """Inverse of :meth:`to_dict`."""
        m = d.get("log_kappa_mean")
        return cls(str(d["name"]), -np.inf if m is None else float(m), float(d["log_kappa_sd"]),
                   tuple(d.get("learned_from", ())), str(d.get("citation", "")), str(d.get("where", "")))


#: No model-form error beyond the runs (forecasts rest on the law's posterior alone).
NO_EXTRAPOLATION_ERROR = ExtrapolationPrior("none", -np.inf, 0.0, where="no model-form error is added")


def _catalog() -> dict[str, ExtrapolationPrior]:
    with resources.files("bayes_scaling").joinpath("_resources/extrapolation_prior.json").open() as fh:
        raw = json.load(fh)
    out = {"none": NO_EXTRAPOLATION_ERROR}
    for name, d in raw["priors"].items():
        out[name] = ExtrapolationPrior(name, float(d["log_kappa_mean"]), float(d["log_kappa_sd"]),
                                       tuple(d["learned_from"]), raw.get("citation", ""), raw.get("where", ""),
                                       details=d)
    return out


def list_extrapolation_priors() -> list[str]:
    """Names of the extrapolation priors (``learned``, ``learned_without_<data set>``, ``none``)."""
    return sorted(_catalog())


def get_extrapolation_prior(name: str | ExtrapolationPrior = "learned") -> ExtrapolationPrior:
    """Look up an extrapolation prior.

    Parameters
    ----------
    name : str or ExtrapolationPrior
        ``learned`` (default: learned from every data set in the catalog),
        ``learned_without_<data set>`` (that data set left out) or ``none``.

    Returns
    -------
    ExtrapolationPrior

    Raises
    ------
    ValueError
        For an unknown name (the message lists the known ones).
    """
    if isinstance(name, ExtrapolationPrior):
        return name
    cat = _catalog()
    if name not in cat:
        raise ValueError(f"unknown extrapolation prior '{name}'; choose one of: {', '.join(sorted(cat))}.")
    return cat[name]


def extrapolation_distance(runs: pd.DataFrame, targets: pd.DataFrame) -> np.ndarray:
    """Decades by which each target lies beyond the runs, shape (n,).

    ``h = max_v max(0, log10(target_v / max(runs_v)))`` over ``params``, ``tokens`` and
    ``flops`` (C = 6 N D where a table lacks it), for the variables both tables have. A
    target inside the runs' range in every variable has ``h = 0``.

    Parameters
    ----------
    runs : pandas.DataFrame
        The runs the forecast rests on (one domain's, or all of a fit's own runs for a new domain).
    targets : pandas.DataFrame
        Targets, n rows.

    Returns
    -------
    ndarray
        Non-negative distances in decades.
    """
    def with_flops(t):
        if "flops" not in t and {"params", "tokens"} <= set(t.columns):
            return t.assign(flops=6.0 * t["params"].astype(float) * t["tokens"].astype(float))
        return t

    runs, targets = with_flops(runs), with_flops(targets)
    h = np.zeros(len(targets))
    for v in DISTANCE_VARIABLES:
        if v in runs and v in targets and len(runs):
            top = float(np.nanmax(runs[v].to_numpy(float)))
            with np.errstate(divide="ignore", invalid="ignore"):
                d = np.log10(targets[v].to_numpy(float) / top)
            h = np.maximum(h, np.nan_to_num(d, nan=0.0, neginf=0.0))
    return h
