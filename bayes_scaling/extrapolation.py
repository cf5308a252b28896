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
* ``z``: one draw per posterior draw, shared by every target of a domain: the error is a
  systematic drift of the law beyond the runs (a random slope in log size), so options at the
  same distance are compared on the law, not on independent noise. Each domain drifts on its own
  (as :func:`update_extrapolation_prior` scores them): shared across domains, the drift cancelled
  from their comparison, and a fresh user's report named one of three isoFLOP recipes the lowest "in
  99 % of the draws" at a budget 64x beyond the runs where another was lower (recipes fitted to 4e17
  FLOPs: forecast 17 % too low for one, 13 % too high for another).

A fit updates the distribution of its own ``kappa`` with its own errors beyond its runs
(:func:`leave_future_out`, :func:`update_extrapolation_prior`): the runs in the top third of each
domain's compute range are forecast from a fit of the others, and the misfit grows or shrinks
``kappa`` from the population's prior (``ScalingLaw(extrapolation_update=...)``: by default from the domains with
at least :data:`LEAVE_FUTURE_OUT_MIN_HELD` such runs, see its docstring). The update reaches only as far as those
held-out runs lie beyond the others; further out the error per decade is the population's
(:meth:`ExtrapolationPrior.drift`).

Below the tokens per parameter a fit keeps (``ScalingLaw(min_tokens_per_param=...)``) a second error grows with the
target's depth below that bound (:class:`UndertrainedError`), measured on the runs the fit left out there.

The learned priors are stored in ``_resources/extrapolation_prior.json`` with the data sets
they were learned from; ``learned`` uses all of them, ``learned_without_<data set>`` leaves
one out (for an honest backtest of that data set), ``none`` adds nothing.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from importlib import resources

import numpy as np
import pandas as pd

__all__ = ["ExtrapolationPrior", "UndertrainedError", "UNDERTRAINED_PRIOR", "NO_UNDERTRAINED_ERROR",
           "extrapolation_distance", "get_extrapolation_prior", "list_extrapolation_priors",
           "leave_future_out", "update_extrapolation_prior", "DISTANCE_VARIABLES", "NO_EXTRAPOLATION_ERROR",
           "LEAVE_FUTURE_OUT_SHARE", "LEAVE_FUTURE_OUT_MIN_FIT", "LEAVE_FUTURE_OUT_MIN_HELD"]

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
    def own_runs_update(self) -> str:
        """How a fit's own runs updated this prior (:func:`update_extrapolation_prior`), in words; '' if they did not."""
        d = self.details
        if "n_groups" not in d:
            return ""
        # "7 runs of 1 domain(s)" (a fresh user): a one-domain fit's runs are its runs
        whose = "" if d["n_groups"] == 1 else f" of {d['n_groups']} domains"
        return (f"this fit's own errors: {d['n_points']} runs{whose} forecast from the smaller "
                f"ones, up to {d['max_distance']:.2f} decades beyond them (kappa median {np.exp(self.log_kappa_mean):.3g})")

    def before_update(self) -> ExtrapolationPrior:
        """The distribution before this fit's own runs updated it (:func:`update_extrapolation_prior`); itself if they
        did not."""
        d = self.details
        if "prior_log_kappa_mean" not in d:
            return self
        return dataclasses.replace(self, log_kappa_mean=d["prior_log_kappa_mean"],
                                   log_kappa_sd=d["prior_log_kappa_sd"], details={})

    @property
    def active(self) -> bool:
        """Whether the prior adds any error."""
        return bool(np.isfinite(self.log_kappa_mean))

    def slopes(self, n: int, random_seed: int, key: int = 0) -> np.ndarray:
        """Draws of ``kappa * z``, the model-form error per decade, one per posterior draw, shape (n,).

        The same ``random_seed`` and ``key`` give the same draws in any process (a dedicated stream of the
        fit's seed, independent of every other random draw of a forecast). ``key`` tells the domains of one fit
        apart: each domain's law drifts on its own (:meth:`bayes_scaling.posterior.ScalingFit.drift_key`).
        """
        if not self.active:
            return np.zeros(n)
        rng = np.random.default_rng([int(random_seed), 0xE7A9] + ([int(key)] if key else []))
        kappa = np.exp(self.log_kappa_mean + self.log_kappa_sd * rng.standard_normal(n))
        return kappa * rng.standard_normal(n)

    def drift(self, h, n: int, random_seed: int, paired: bool = False, key: int = 0) -> np.ndarray:
        """Draws of the model-form error of log loss at ``h`` decades beyond the runs.

        ``kappa_s z_s h`` (:meth:`slopes`). For a distribution a fit's own runs updated
        (:func:`update_extrapolation_prior`), that error is measured only as far as its held-out runs reached
        (``details["max_distance"]``, ``h_own``): beyond it the slope is the distribution's before the update,
        ``kappa_s z_s min(h, h_own) + kappa0_s z_s max(h - h_own, 0)``, with the same standard normal draws (a law that
        drifts one way keeps drifting that way; how fast, its own runs no longer say). The update learned kappa from
        errors a third of the runs' range beyond the others and a straight line carried it to targets 16-64x beyond
        them: the isoFLOP recipes of Porian et al. fitted to 4e17 FLOPs covered 0.78 / 0.84 / 0.92 of their held-out
        runs (three selections of three recipes), 0.82 / 0.85 / 0.92 with the population's slope beyond; the four
        shared data sets' splits, whose targets lie within that reach, did not change (``benchmarks/extrapolation_update.md``,
        session 32).

        Parameters
        ----------
        h : array_like
            Decades beyond the runs (:func:`extrapolation_distance`), shape (k,), or with ``paired`` shape (n, ...).
        n : int
            Number of draws (a fit's posterior draws).
        random_seed : int
            The fit's seed (:meth:`slopes`).
        paired : bool, default False
            Row s of ``h`` belongs to draw s.
        key : int, default 0
            The domain's stream (:meth:`slopes`).

        Returns
        -------
        ndarray
            Shape (n, k), or ``h``'s shape with ``paired``.
        """
        h = np.asarray(h, float)
        shape = (-1,) + (1,) * (h.ndim - 1 if paired else h.ndim)
        own = self.details.get("max_distance") if self.details else None
        if own is None:
            return self.slopes(n, random_seed, key).reshape(shape) * h
        near = self.slopes(n, random_seed, key).reshape(shape) * np.minimum(h, own)
        return near + self.before_update().slopes(n, random_seed, key).reshape(shape) * np.maximum(h - own, 0.0)

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
                "where": self.where, "details": self.details}

    @classmethod
    def from_dict(cls, d: dict) -> ExtrapolationPrior:
        """Inverse of :meth:`to_dict`."""
        m = d.get("log_kappa_mean")
        return cls(str(d["name"]), -np.inf if m is None else float(m), float(d["log_kappa_sd"]),
                   tuple(d.get("learned_from", ())), str(d.get("citation", "")), str(d.get("where", "")),
                   details=dict(d.get("details") or {}))


#: No model-form error beyond the runs (forecasts rest on the law's posterior alone).
NO_EXTRAPOLATION_ERROR = ExtrapolationPrior("none", -np.inf, 0.0, where="no model-form error is added")


@dataclass(frozen=True)
class UndertrainedError:
    """The model-form error of a target trained on fewer tokens per parameter than the fit's bound.

    A fit leaves out the runs below ``bound`` tokens per parameter (``ScalingLaw(min_tokens_per_param=...)``,
    :func:`bayes_scaling.inputs.undertrained_runs`): their loss reflects a warm-up and a schedule cut short, which
    the law does not describe. A target there is forecast by the law with an error that grows with its depth below
    the bound, ``d = log10(bound / (D / N))`` decades::

        delta = b * sqrt(d) * z,   b^2 ~ scaled-Inv-chi^2(dof, scale^2),   z ~ N(0, 1)

    one ``b z`` per posterior draw and domain (a domain's targets there depart from the law together), so the
    forecast is Student-t with ``dof`` degrees of freedom and scale ``scale * sqrt(d)``. The population's
    distribution (:data:`UNDERTRAINED_PRIOR`) is updated with the fit's own left-out runs (:meth:`updated`): their
    misfit to the fitted law measures ``b`` for this data set.

    Measured (``benchmarks/model_geometry.md``, session 36): the misfit of the runs a fit leaves out, per square
    root of a decade below one token per parameter, is 0.169 on Chinchilla's 11 runs (Hoffmann et al. 2022, as
    extracted by Besiroglu et al. 2024) and 0.151-0.178 on the isoFLOP sweeps of eight recipes (Porian et al. 2024)
    fitted to 1e17, 4e17 and 1.6e18 FLOPs (81-171 runs); without this error the held-out runs of those sweeps below
    one token per parameter were covered 0.38-0.63 by the 90 % intervals.

    Attributes
    ----------
    bound : float
        Tokens per parameter below which the error applies (the fit's ``min_tokens_per_param``; 0: never).
    scale : float
        Scale of ``b``, error of log loss per square root of a decade (~ relative error).
    dof : float
        Degrees of freedom of ``b^2`` (the prior's pseudo-runs plus the runs that updated it).
    n_runs : int
        The fit's own left-out runs that updated the population's distribution.
    where : str
        Where the distribution comes from, for reports.
    """

    bound: float
    scale: float
    dof: float
    n_runs: int = 0
    where: str = ""

    @property
    def active(self) -> bool:
        """Whether any error is added (a positive bound and scale)."""
        return bool(self.bound > 0 and self.scale > 0 and np.isfinite(self.scale) and self.dof > 0)

    def with_bound(self, bound: float) -> UndertrainedError:
        """The same distribution below another bound (a fit's ``min_tokens_per_param``)."""
        return dataclasses.replace(self, bound=float(bound))

    def depth(self, targets: pd.DataFrame) -> np.ndarray:
        """Decades below the bound of each target's tokens per parameter, ``max(0, log10(bound N / D))``, shape (n,).

        0 for targets without ``params`` and ``tokens``, and for every target when the error is not :attr:`active`.
        """
        if not self.active or not {"params", "tokens"} <= set(targets.columns):
            return np.zeros(len(targets))
        with np.errstate(divide="ignore", invalid="ignore"):
            d = np.log10(self.bound * targets["params"].to_numpy(float) / targets["tokens"].to_numpy(float))
        return np.clip(np.nan_to_num(d, nan=0.0, posinf=0.0, neginf=0.0), 0.0, None)

    def draws(self, depth, n: int, random_seed: int, key: int = 0) -> np.ndarray:
        """Draws of the error of log loss at ``depth`` decades below the bound, shape (n, k).

        Parameters
        ----------
        depth : array_like, shape (k,)
            :meth:`depth` of the targets.
        n : int
            Number of draws (a fit's posterior draws).
        random_seed : int
            The fit's seed: the same seed and ``key`` give the same draws in any process.
        key : int, default 0
            The domain's stream (:meth:`bayes_scaling.posterior.ScalingFit.drift_key`).
        """
        depth = np.asarray(depth, float)
        if not self.active or not depth.any():
            return np.zeros((n,) + depth.shape)
        rng = np.random.default_rng([int(random_seed), 0x0D7A] + ([int(key)] if key else []))
        b = self.scale * np.sqrt(self.dof / rng.chisquare(self.dof, n))
        return (b * rng.standard_normal(n))[:, None] * np.sqrt(depth)[None, :]

    def updated(self, residuals, depth, groups=None, where: str = "") -> UndertrainedError:
        """The distribution updated with the misfit of a fit's own left-out runs.

        Conjugate update of ``b^2`` (normal misfits ``r_i ~ N(0, b^2 d_i)``), each group (domain) one piece of
        evidence, as :func:`update_extrapolation_prior` counts them: with ``n`` runs in ``k`` groups,
        ``dof' = dof + k``, ``scale'^2 = (dof scale^2 + (k / n) sum r_i^2 / d_i) / dof'``. A domain's runs there
        depart from the law together (each of the eight Porian et al. recipes fitted to 1e17 FLOPs has its own sign),
        so counting them as independent gave 85 degrees of freedom from 8 recipes and tails too light: the held-out
        runs of two recipes were covered 0.21 and 0.29 (a fresh user, session 36). Runs at depth 0 carry no
        information and are skipped.

        Parameters
        ----------
        residuals : array_like, shape (n,)
            Log loss of each left-out run minus the fit's median forecast of its expected log loss.
        depth : array_like, shape (n,)
            Their :meth:`depth`.
        groups : array_like, shape (n,), optional
            Each run's domain; default: each run a group of its own.
        where : str, optional
            Replaces :attr:`where`.
        """
        r, d = np.asarray(residuals, float), np.asarray(depth, float)
        ok = np.isfinite(r) & (d > 0)
        if not ok.any():
            return self
        k = len(pd.unique(np.asarray(groups, dtype=object)[ok])) if groups is not None else int(ok.sum())
        dof = self.dof + k
        scale = float(np.sqrt((self.dof * self.scale**2 + k * np.mean(r[ok] ** 2 / d[ok])) / dof))
        return dataclasses.replace(self, scale=scale, dof=float(dof), n_runs=self.n_runs + int(ok.sum()),
                                   where=where or self.where)

    def to_dict(self) -> dict:
        """JSON-serialisable form (for saved fits)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict | None) -> UndertrainedError:
        """Inverse of :meth:`to_dict`; fits saved before it existed (``None``) add no error."""
        if not d:
            return NO_UNDERTRAINED_ERROR
        return cls(float(d["bound"]), float(d["scale"]), float(d["dof"]), int(d.get("n_runs", 0)), str(d.get("where", "")))


#: The population's distribution of :class:`UndertrainedError` before a fit's own runs update it: scale 0.17 per
#: square root of a decade, the misfit of Chinchilla's 11 runs below one token per parameter to the fit of the other
#: 234 (0.169; Hoffmann et al. 2022, arXiv:2203.15556, runs extracted by Besiroglu et al. 2024, arXiv:2404.10102),
#: with the weight of 4 runs, so that a fit's own left-out runs outweigh it from a handful on. Checked, not set, on
#: the isoFLOP sweeps of Porian et al. (2024): 0.151-0.178 (``benchmarks/model_geometry.md``, session 36).
UNDERTRAINED_PRIOR = UndertrainedError(1.0, 0.17, 4.0, 0, "the population's (Chinchilla's 11 such runs)")
#: No error for under-trained targets (fits saved before it existed, or ``min_tokens_per_param=0``).
NO_UNDERTRAINED_ERROR = UndertrainedError(0.0, 0.0, 0.0, 0, "none")


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


#: Share of each domain's log-compute range held out by :func:`leave_future_out`: the runs in the top third
#: are forecast from the others. Chosen before it was scored (not tuned); one half gave similar
#: leave-one-data-set-out coverage (``benchmarks/learn_extrapolation.py``).
LEAVE_FUTURE_OUT_SHARE = 1.0 / 3.0
#: Fewest runs a domain keeps to fit when some of its runs are held out by :func:`leave_future_out`.
LEAVE_FUTURE_OUT_MIN_FIT = 3
#: Fewest held-out runs a domain needs for the default update (``ScalingLaw(extrapolation_update="auto")``): three
#: points beyond the fitted runs are the fewest that show a drift growing with distance apart from the uncertainty of
#: the law's parameters. With one held-out run a domain (the OpenLM transfer, 4 runs a domain) the update took the
#: typical domain's error as every domain's and covered 0.79 instead of 0.94 (``benchmarks/extrapolation_update.md``).
LEAVE_FUTURE_OUT_MIN_HELD = 3


def leave_future_out(runs: pd.DataFrame, share: float = LEAVE_FUTURE_OUT_SHARE,
                     min_fit: int = LEAVE_FUTURE_OUT_MIN_FIT, min_held: int = 1) -> np.ndarray:
    """Which runs to forecast from the others to measure the law's own error beyond its runs.

    In each domain, the runs whose compute ``C = 6 N D`` (or ``flops``) lies in the top ``share`` of the
    domain's log-compute range are held out, when at least ``min_fit`` runs remain to fit and the range
    is not empty; a domain that cannot spare them keeps all its runs.

    Parameters
    ----------
    runs : pandas.DataFrame
        Validated runs with ``domain`` and ``flops``, or ``params`` and ``tokens``, or the one size variable of a
        law of one variable (its range stands for compute's), n rows.
    share : float, default :data:`LEAVE_FUTURE_OUT_SHARE`
    min_fit : int, default :data:`LEAVE_FUTURE_OUT_MIN_FIT`
    min_held : int, default 1
        A domain with fewer runs than this in its top ``share`` keeps all its runs
        (:data:`LEAVE_FUTURE_OUT_MIN_HELD` for the default update).

    Returns
    -------
    ndarray of bool, shape (n,)
        True for a held-out run.
    """
    if "flops" in runs:
        logc = np.log10(runs["flops"].to_numpy(float))
    elif "params" in runs and "tokens" in runs:
        logc = np.log10(6.0 * runs["params"].to_numpy(float) * runs["tokens"].to_numpy(float))
    else:  # a law of one variable, its runs without the other (a fresh user's fine-tuning curves: tokens alone)
        logc = np.log10(runs["tokens" if "tokens" in runs else "params"].to_numpy(float))
    dom = runs["domain"].to_numpy() if "domain" in runs else np.zeros(len(runs))
    held = np.zeros(len(runs), bool)
    for d in pd.unique(dom):
        i = np.flatnonzero(dom == d)
        top, bottom = logc[i].max(), logc[i].min()
        h = logc[i] > top - share * (top - bottom) + 1e-9
        if top > bottom and h.any() and h.sum() >= min_held and (~h).sum() >= min_fit:
            held[i[h]] = True
    return held


def update_extrapolation_prior(prior: ExtrapolationPrior, log_loss: np.ndarray, expected: np.ndarray,
                               new_run: np.ndarray, distance: np.ndarray, group=None,
                               nu: float = 4.0) -> ExtrapolationPrior:
    """The extrapolation prior updated with a fit's own forecast errors beyond its runs.

    The forecasts of held-out runs from a fit of the others (:func:`leave_future_out`) are scored by the
    model of :mod:`bayes_scaling.extrapolation`. Within a group (a domain) the errors of log loss move
    together, through the uncertain parameters of the law and through one drift beyond the runs,
    ``kappa z h`` with ``z ~ N(0, 1)``: they are jointly multivariate Student-t (``nu`` degrees of freedom,
    heavy tails so that a domain no law describes does not set kappa) with covariance ``V + kappa^2 h h^T``,
    where ``V`` is the covariance of the forecast without the model-form error (parameters from the
    draws' covariance, run-to-run noise on the diagonal, the total variance of each point being its
    90 % range / 3.29, squared). The posterior of ``log kappa`` on a grid (prior ``N(m, s)`` of ``prior``)
    is summarised by its mean and sd. A data set whose law holds far beyond its runs thus gets narrower
    intervals than the population of data sets, one whose law bends gets wider ones (kappa differs by a
    factor of 40 between the public data sets, ``_resources/extrapolation_prior.json``).

    Parameters
    ----------
    prior : ExtrapolationPrior
        An active prior (learned across data sets).
    log_loss : ndarray, shape (k,)
        Observed log loss of each held-out run.
    expected, new_run : ndarray, shape (S, k)
        Draws of the forecast without the model-form error: the expected log loss and a new run's
        (:func:`bayes_scaling.predict.predictive_draws` of a fit with ``extrapolation="none"``).
    distance : ndarray, shape (k,)
        Decades ``h`` beyond the fitted runs (:func:`extrapolation_distance`). Points with ``h = 0`` or
        non-finite values carry no information.
    group : array-like, shape (k,), optional
        The domain of each point (default: one group).
    nu : float, default 4
        Degrees of freedom of the multivariate Student-t.

    Returns
    -------
    ExtrapolationPrior
        ``prior`` itself when no point informs it; else named ``"<prior> + own runs"`` with
        ``details`` giving the points and groups used and the prior's mean and sd.
    """
    from scipy import special, stats

    y, h = np.asarray(log_loss, float), np.asarray(distance, float)
    expected, new_run = np.asarray(expected, float), np.asarray(new_run, float)
    g = np.zeros(len(y), int) if group is None else pd.factorize(np.asarray(group))[0]
    q_new = np.nanquantile(new_run, [0.05, 0.5, 0.95], axis=0)
    q_exp = np.nanquantile(expected, [0.05, 0.95], axis=0)
    var_new = ((q_new[2] - q_new[0]) / 3.29) ** 2
    var_exp = ((q_exp[1] - q_exp[0]) / 3.29) ** 2
    ok = np.isfinite(y) & np.isfinite(q_new).all(axis=0) & (var_new > 0) & (h > 0) & np.isfinite(expected).all(axis=0)
    if not prior.active or not ok.any():
        return prior
    mu0, sd0 = prior.log_kappa_mean, prior.log_kappa_sd
    grid = np.linspace(mu0 - 6 * sd0, mu0 + 6 * sd0, 1201)
    k2 = np.exp(2 * grid)
    lp = stats.norm.logpdf(grid, mu0, sd0)
    for j in np.unique(g[ok]):
        i = np.flatnonzero(ok & (g == j))
        p = i.size
        # parameters: the draws' covariance, scaled so that each point's total variance is its range's
        cov = np.atleast_2d(np.cov(expected[:, i], rowvar=False)) if expected.shape[0] > 1 else np.zeros((p, p))
        sd_e = np.sqrt(np.clip(np.diag(cov), 1e-300, None))
        corr = cov / np.outer(sd_e, sd_e)
        v_par = np.minimum(var_exp[i], var_new[i])
        V = corr * np.sqrt(np.outer(v_par, v_par)) + np.diag(var_new[i] - v_par + 1e-10)
        L = np.linalg.cholesky(V)
        r = y[i] - q_new[1, i]
        wr, wh = np.linalg.solve(L, r), np.linalg.solve(L, h[i])
        a, b, c = wh @ wh, wh @ wr, wr @ wr
        q = c - k2 * b * b / (1 + k2 * a)          # r' (V + k2 h h')^-1 r, rank-one update
        logdet = 2 * np.sum(np.log(np.diag(L))) + np.log1p(k2 * a)
        lp = lp + (special.gammaln((nu + p) / 2) - special.gammaln(nu / 2) - p / 2 * np.log(nu * np.pi)
                   - logdet / 2 - (nu + p) / 2 * np.log1p(q / nu))
    w = np.exp(lp - lp.max())
    w /= w.sum()
    mean = float(np.sum(w * grid))
    sd = float(np.sqrt(np.sum(w * (grid - mean) ** 2)))
    details = {"n_points": int(ok.sum()), "n_groups": int(np.unique(g[ok]).size),
               "max_distance": round(float(h[ok].max()), 3),
               "prior_log_kappa_mean": mu0, "prior_log_kappa_sd": sd0}
    updated = ExtrapolationPrior(f"{prior.name} + own runs", mean, sd, prior.learned_from, prior.citation, "", details)
    where = f"{prior.name} (kappa median {np.exp(mu0):.3g} per decade), updated with {updated.own_runs_update}"
    return dataclasses.replace(updated, where=where)
