"""Floor 3. Running a backtest: fit every method on the fitting runs of each split, forecast the
held-out runs, score the forecasts (:mod:`bayes_scaling.scoring`).

Independent work (the Bayesian fit of each split, the Huber fit of each split and
domain, chunks of 25 bootstrap resamples) runs through :class:`joblib.Parallel` or a
Dask cluster; every task gets its seed from ``random_seed``, the domain name and the
resample number, so the numbers do not depend on the backend or the number of workers.
"""

from __future__ import annotations

import re
import time
import warnings
from collections.abc import Mapping
from dataclasses import dataclass

import joblib
import numpy as np
import pandas as pd
from scipy import stats
from scipy.special import logsumexp

from ..baselines import (
    POOLED_DOMAIN,
    Forecast,
    HuberBootstrap,
    HuberFit,
    HuberLeastSquares,
    FITTED_ON,
    PUBLISHED_SOURCES,
    PublishedLaw,
    PublishedLawOffset,
    bootstrap_tasks,
)
from ..data import RunsTableError, RunsTableWarning, below_tokens_per_param, in_canonical_order, validate_runs
from .. import datasets
from ..extrapolation import get_extrapolation_prior
from ..fit import ScalingLaw
from ..inputs import validate_own_runs
from ..intervals import interval
from ..laws import get_law
from ..predict import keyed_predictive_draws
from .._text import listed
from .._warnings import warn_caller
from ..scoring import ape, crps_from_draws, kde_log_density, level_label, summarize_points
from .splits import normalise_splits

__all__ = ["METHODS", "BacktestResult", "backtest", "calibration_table", "method_law", "normalise_methods",
           "warn_if_learned_from", "warn_if_published_saw", "warn_if_below_bound", "score_points"]

#: Method names understood by :func:`backtest`.
METHODS = ("bayes", "huber_ls", "huber_ls_bootstrap", "published", "published_offset")


_HUBER_KEYS = ("delta", "grid_stride", "per_domain", "polish", "law")
_BOOT_KEYS = ("n_boot", "n_draws")
_PUB_KEYS = ("source", "uncertainty", "n_draws", "random_seed", "law")
_BAYES_FIT_KEYS = ("reference", "strict")

#: Convergence columns of the summary (the Bayesian method's fit; NaN for baselines): the largest R-hat,
#: the smallest bulk or tail ESS and the percentage of divergent draws.
DIAGNOSTIC_COLUMNS = ("max_rhat", "min_ess", "divergent_pct")


def normalise_methods(methods) -> list[tuple[str, str, dict]]:
    """The ``methods`` argument of :func:`backtest` as ``(label, base method, kwargs)`` triples.

    A ``huber_ls`` or ``huber_ls_bootstrap`` method without a ``law`` gets the law of the
    ``bayes`` method(s) (the Chinchilla law when there is none), so that every law is
    compared with the least-squares fit of the same law.

    Raises
    ------
    ValueError
        Unknown methods or options, duplicate labels, no methods; Bayesian methods of
        different laws next to a Huber method that names none.
    """
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
            "published_offset": ("source", "n_draws", "law"),
        }.get(base)
        if allowed is not None:
            bad = sorted(set(kw) - set(allowed))
            if bad:
                raise ValueError(f"method '{label}' ({base}) does not take {', '.join(bad)}; it takes {', '.join(allowed)}.")
        out.append((str(label), base, kw))
    labels = [o[0] for o in out]
    if len(set(labels)) != len(labels):
        raise ValueError(f"method labels must be unique, got {labels}.")
    bayes_laws = sorted({method_law(base, kw) for _, base, kw in out if base == "bayes"})
    for label, base, kw in out:
        if base in ("published", "published_offset"):
            # the published fit of the bayes methods' law where there is one (data-constrained: Muennighoff et al.
            # 2023), else the Chinchilla law's (a note says so)
            if "law" in kw:
                kw["law"] = get_law(kw["law"]).name
            elif len(bayes_laws) == 1 and bayes_laws[0] in PUBLISHED_SOURCES:
                kw["law"] = bayes_laws[0]
        if base in ("huber_ls", "huber_ls_bootstrap"):
            if "law" in kw:
                kw["law"] = get_law(kw["law"]).name
            elif len(bayes_laws) > 1:
                raise ValueError(f"the bayes methods fit different laws ({', '.join(bayes_laws)}); say which law "
                                 f"'{label}' fits, e.g. {{'{label}': {{'law': '{bayes_laws[0]}'}}}}.")
            else:
                kw["law"] = bayes_laws[0] if bayes_laws else "chinchilla"
    return out


def method_law(base: str, kwargs: dict) -> str:
    """The law a method fits: its ``law`` keyword, else the Chinchilla law.

    :func:`normalise_methods` gives ``published`` and ``published_offset`` the law of the ``bayes`` method(s) when a
    published fit of it exists (:data:`bayes_scaling.baselines.PUBLISHED_SOURCES`), so they stay on the Chinchilla
    law only for the other laws.
    """
    return get_law(kwargs.get("law", "chinchilla")).name


def _sizes_needed(specs) -> tuple[str, ...]:
    """The size columns the runs need: N and D, or the one variable every method's law reads (a fresh user's
    compute-only table was refused for want of 'params' with every method on the law of C alone)."""
    variables = {get_law(kw.get("law") or "chinchilla").variables for _, _, kw in specs}
    if len(variables) == 1 and len(one := next(iter(variables))) == 1:
        return one
    return ("params", "tokens")


def warn_if_published_saw(heldout: pd.DataFrame, sources, min_share: float = 0.5, *, prior: bool = False) -> None:
    """Warn when most held-out runs are runs a published fit was made on (:data:`FITTED_ON`): the published
    baselines' fit, or with ``prior=True`` the prior of the bayes method.

    A fresh user's backtest of the datablations runs showed ``published_offset`` at 1.93 % against the Bayesian
    3.41 % without a word: Muennighoff et al. (2023) fitted those held-out runs. Another's backtest of the Chinchilla
    runs with the default prior (Besiroglu et al. 2024, fitted on them) was told only about the baselines.

    Parameters
    ----------
    heldout : pandas.DataFrame
        Validated held-out runs (``params``, ``tokens``).
    sources : iterable of str
        Catalog names of the published fits the backtest's published methods (or its bayes method's prior) use.
    min_share : float, default 0.5
        As :func:`warn_if_learned_from`.
    prior : bool, default False
        The sources are priors of the bayes method, not baselines.
    """
    for source in dict.fromkeys(sources):
        name = FITTED_ON.get(source)
        hit = int(datasets.embedded_runs(heldout, name).sum()) if name else 0
        if hit >= 5 and hit / len(heldout) >= min_share:
            start = f"{hit} of the {len(heldout)} held-out runs are runs of the embedded '{name}' data, on which "
            warnings.warn(start + (
                f"the bayes method's prior '{source}' was fitted: its scores are not out of sample; give it "
                "prior='weak' to score it fairly." if prior else
                f"the published fit '{source}' of the 'published' and 'published_offset' baselines was made: "
                "they have seen these runs, so their scores are not forecasts; leave them out of the comparison."),
                UserWarning, stacklevel=3)


def warn_if_below_bound(heldout: pd.DataFrame, bound: float) -> None:
    """Warn when held-out runs are trained on fewer tokens per parameter than the bayes fit's bound.

    The fit leaves such runs out of its own runs (``min_tokens_per_param``), and ``predict`` warns about such
    targets, but a backtest scores them with the others: a fresh user's isoFLOP backtest reported 90 % coverage
    0.84, where 90 of its 361 held-out runs were below 1 token per parameter and covered 0.42-0.64, the others
    0.92-0.97, without a word.

    Parameters
    ----------
    heldout : pandas.DataFrame
        Validated held-out runs (``params``, ``tokens``).
    bound : float
        The bayes method's ``min_tokens_per_param`` (0: no warning).
    """
    below = below_tokens_per_param(heldout, bound)
    if below.any():
        tpp = heldout["tokens"].to_numpy(float) / heldout["params"].to_numpy(float)
        warnings.warn(f"{int(below.sum())} of the {len(heldout)} held-out runs are trained on fewer than {bound:g} "
                      f"token(s) per parameter (down to {tpp[below].min():.3g}), the regime the bayes fit leaves its own "
                      f"runs out of (min_tokens_per_param={bound:g}); their forecasts extrapolate the law of "
                      "better-trained runs with an error for that regime and still fall outside the interval more "
                      "often than others, and the summary scores them with the "
                      "others. The points table (BacktestResult.points, --points-out) has each run's params and "
                      "tokens to score them apart.",
                      UserWarning, stacklevel=3)


def warn_if_learned_from(heldout: pd.DataFrame, extrapolation="learned", min_share: float = 0.5) -> None:
    """Warn when most held-out runs are runs of a data set the extrapolation prior was learned from.

    The default prior (``learned``) has seen every public data set's backtest errors; scoring one of them with
    it scores the prior on its own training data (a fresh user's datablations backtest covered 0.787 with it,
    0.754 with ``learned_without_datablations``, the figure the README reports).

    Parameters
    ----------
    heldout : pandas.DataFrame
        Validated held-out runs (``params``, ``tokens``).
    extrapolation : str or ExtrapolationPrior or None, default "learned"
        The bayes method's ``extrapolation`` (None = the default).
    min_share : float, default 0.5
        Share of the held-out runs that are a data set's runs (:func:`datasets.embedded_runs`) from which
        the warning is given; at least 5 runs must match.
    """
    prior = get_extrapolation_prior("learned" if extrapolation is None else extrapolation)
    for name in prior.learned_from:
        hit = int(datasets.embedded_runs(heldout, name).sum())
        if hit >= 5 and hit / max(len(heldout), 1) >= min_share:
            warnings.warn(f"{hit} of the {len(heldout)} held-out runs are runs of the embedded '{name}' data, "
                          f"from whose backtest errors the bayes method's extrapolation prior ('{prior.name}') was "
                          f"learned: its intervals have seen these errors. For a fair score pass "
                          f"extrapolation='learned_without_{name}' (--extrapolation learned_without_{name}).",
                          UserWarning, stacklevel=3)


def _warn_fitting_runs(splits, specs, said: set[str]) -> None:
    """Say what the Bayesian fit's own check of each split's fitting runs finds beyond the whole table's warnings.

    The fit runs with its runs warnings off (the table's were given), so a split that leaves 4 runs for a law of 5
    parameters, or a domain of one run, went without a word (a fresh user).
    """
    for label, tr, _ in splits:
        for _, base, kw in specs:
            if base != "bayes":
                continue
            spec = ScalingLaw(**{k: v for k, v in kw.items() if k not in _BAYES_FIT_KEYS})
            with warnings.catch_warnings(record=True) as rec:
                warnings.simplefilter("always")
                try:
                    validate_own_runs(spec, tr, with_reference=kw.get("reference") is not None)
                except RunsTableError:
                    continue  # the fit raises it, in its own words
            for w in rec:
                msg = str(w.message)
                if issubclass(w.category, RunsTableWarning) and _gist(msg) not in {_gist(m) for m in said}:
                    said.add(msg)
                    warn_caller(f"split '{label}', the runs it fits: {msg}", RunsTableWarning)


def _gist(message: str) -> str:
    """A warning without its counts, rows and values: the same check on a subset of the runs says nothing new."""
    text, before = message, None
    while text != before:  # nested: "(row 1 (file line 2))"
        before, text = text, re.sub(r"\([^()]*\)", "", text)
    # numbers without a sentence's full stop after them, and the spaces a removed "(file line 58)" leaves: the same
    # warning about a split's runs ("in row 67. No law") and about the file ("in row 67 (file line 68). No law") was
    # said twice (a fresh user)
    text = re.sub(r"[-+]?\d+(?:[.,]\d+)*(?:e[-+]?\d+)?", "#", text)
    return re.sub(r"\s+([.,;:])", r"\1", re.sub(r"\s+", " ", text)).strip()


def _bayes_task(train: pd.DataFrame, test: pd.DataFrame, kwargs: dict, random_seed: int) -> dict:
    """Fit the Bayesian model and return its forecast of the held-out runs (a joblib task)."""
    kw = dict(kwargs)
    fit_kw = {k: kw.pop(k) for k in _BAYES_FIT_KEYS if k in kw}
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RunsTableWarning)
        fit = ScalingLaw(**kw).fit(train, random_seed=random_seed, **fit_kw)
    secs = time.perf_counter() - t0
    n = len(test)
    draws = mean = None
    dens = np.full(n, np.nan)
    kinds = set()
    y = np.log(test["loss"].to_numpy(float))
    for dom in sorted(test["domain"].unique()):
        pos = np.flatnonzero(test["domain"].to_numpy() == dom)
        # predict's draws (keyed by seed, domain and sizes): a split's intervals are those predict gives with the
        # same fit and seed, whatever the other domains and rows of the split
        m, new = keyed_predictive_draws(fit, test.iloc[pos], dom, random_seed)
        if draws is None:
            draws = np.full((new.shape[0], n), np.nan)
            mean = np.full((new.shape[0], n), np.nan)
        draws[:, pos] = new
        mean[:, pos] = m
        if dom in fit.domains:
            sig = fit.noise_scale(dom)[:, None]
            nu = fit.tail_weight(dom)[:, None]
            if np.isfinite(nu).all():
                lp = stats.t.logpdf(y[pos][None, :], df=nu, loc=m, scale=sig)
            else:
                lp = stats.norm.logpdf(y[pos][None, :], loc=m, scale=sig)
            dens[pos] = logsumexp(lp, axis=0) - np.log(lp.shape[0])
            kinds.add("exact")
        else:
            dens[pos] = kde_log_density(new, y[pos])
            kinds.add("kde")
    notes = []
    d = fit.diagnostics
    if d is not None:
        notes.append(f"max R-hat {d.rhat_text}, min bulk ESS {d.min_ess_bulk:.0f}, {d.divergences} divergences"
                     + ("" if d.ok else ": sampling diagnostics flagged problems"))
    unseen = sorted(set(test["domain"]) - set(fit.domains))
    if unseen:
        notes.append(f"population predictive for unseen domain(s) {listed(unseen, 4)}")
    diag = {"max_rhat": float(d.max_rhat), "min_ess": float(min(d.min_ess_bulk, d.min_ess_tail)),
            "divergent_pct": 100.0 * d.divergences / d.n_draws} if d is not None else {}
    return {
        "forecast": Forecast(np.median(mean, 0), draws, mean, dens, "+".join(sorted(kinds))),
        "seconds": secs,
        "notes": notes,
        "diagnostics": diag,
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


@dataclass
class BacktestResult:
    """Result of :func:`backtest`; unpacks as ``summary, points = result``.

    Attributes
    ----------
    summary : pandas.DataFrame
        One row per split and method: ``split``, ``method``, ``law`` (the law the
        method fits; ``published`` and ``published_offset`` that of the ``bayes`` methods where a published fit of
        it exists, else the Chinchilla law), ``n_train``,
        ``n_heldout``, ``n_scored``, ``mape`` (percent), ``rmsle``, ``r2``,
        ``coverage_50``, ``coverage_80``, ``coverage_90``, ``coverage_95`` (one
        per level), ``width_90``, ``crps`` (of log loss), ``log_pred_density``,
        ``max_rhat``, ``min_ess``, ``divergent_pct`` (the Bayesian fit's convergence; NaN for baselines),
        ``fit_seconds``, ``density``, ``notes``.
    points : pandas.DataFrame
        One row per split, method and held-out run: ``split``, ``method``,
        ``run`` (index in the validated runs), ``domain``, ``params``, ``tokens``,
        ``flops``, (runs with unique tokens: ``unique_tokens``, ``epochs``), ``loss``, ``loss_median``,
        ``loss_lower_XX``, ``loss_upper_XX``,
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
            lo, hi = sub[f"loss_lower_{level_label(q)}"], sub[f"loss_upper_{level_label(q)}"]
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
        :class:`~bayes_scaling.baselines.PublishedLaw`. The Huber methods fit the
        law of the ``bayes`` method (``{"bayes": {"law": "data_constrained"},
        "huber_ls": {}}`` fits the data-constrained law by least squares) unless
        their kwargs name a ``law``; so do ``published`` and ``published_offset``
        where a published fit of that law exists (the data-constrained law:
        Muennighoff et al. 2023); otherwise they stay the published Chinchilla-law
        fit (their ``notes`` say so).
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
    specs = normalise_methods(methods)
    given = normalise_splits(split)
    needs = _sizes_needed(specs)
    table = None
    said: set[str] = set()  # the whole table's warnings, not repeated for the runs a split fits
    if runs is not None:
        with warnings.catch_warnings(record=True) as rec:
            warnings.simplefilter("always")
            table = validate_runs(runs, n_law_parameters=5, informative_prior=True, needs=needs, loss_unit=loss_unit)
        for w in rec:
            said.add(str(w.message))
            warn_caller(str(w.message), w.category)
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
                tr = validate_runs(tr, n_law_parameters=5, informative_prior=True, needs=needs, loss_unit=loss_unit)
                te = validate_runs(te, n_law_parameters=5, informative_prior=True, needs=needs, loss_unit=loss_unit)
        # one canonical order, so the scores do not move with the rows' order (a fresh user's shuffled table moved the
        # deterministic least-squares fit's MAPE and the bootstrap's)
        splits.append((label, in_canonical_order(tr), in_canonical_order(te)))
    labels = [s[0] for s in splits]
    if len(set(labels)) != len(labels):
        raise ValueError(f"split labels must be unique, got {labels}.")
    _warn_fitting_runs(splits, specs, said)
    heldout = pd.concat([te for *_, te in splits])
    for _, base, kw in specs:
        if base == "bayes":
            warn_if_learned_from(heldout, kw.get("extrapolation", "learned"))
    bayes_specs = [ScalingLaw(**{k: v for k, v in kw.items() if k not in _BAYES_FIT_KEYS})
                   for _, base, kw in specs if base == "bayes"]
    if bayes_specs:
        warn_if_below_bound(heldout, max(spec.min_tokens_per_param for spec in bayes_specs))
    warn_if_published_saw(heldout, [kw.get("source") or PUBLISHED_SOURCES.get(kw.get("law") or "chinchilla", "")
                                     for _, base, kw in specs if base in ("published", "published_offset")])
    warn_if_published_saw(heldout, [spec.prior.name for spec in bayes_specs], prior=True)

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
                cfg.validate(tr, quiet=True)  # e.g. the data-constrained law without 'unique_tokens'
                huber_cfgs[cfg_key] = cfg
                sub = tr if cfg.per_domain else tr.assign(domain=POOLED_DOMAIN)
                for dom, g in sub.groupby("domain", sort=True):
                    tasks.append(cfg.domain_task(dom, g))
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
                fits = model.fit.fits if base == "huber_ls_bootstrap" else model.fits
                small = sorted(d for d, f in fits.items() if f.n_runs < f.min_runs_for_intervals)
                if small:
                    k = min(f.min_runs_for_intervals for f in fits.values())
                    notes.append(f"no intervals for domain(s) with fewer than {k} fitting runs: {listed(small, 4)}")
            else:
                t0 = time.perf_counter()
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", RunsTableWarning)  # already reported for the whole table
                    model = (PublishedLaw if base == "published" else PublishedLawOffset)(**kw).fit(tr)
                seconds = time.perf_counter() - t0
                own = method_law(base, kw)
                others = sorted({method_law(b, k) for _, b, k in specs if b not in ("published", "published_offset")}
                                - {own})
                if others:
                    notes.append(f"the published {own} law ({model.config.source}), not the {', '.join(others)} "
                                 "law of the other methods")
            pts = score_points(te, y, levels, model, fc_by_dom if base == "bayes" else None, notes)
            scored = pts["loss_median"].notna()
            bare = scored & pts["loss_lower_90"].isna()
            if bare.any() and not bare[scored].all():  # coverage is then over the others (scoring.summarize_points)
                named = any(n.startswith("no intervals for domain(s)") for n in notes)  # a baseline's note names them
                notes.append(f"intervals for {int((scored & ~bare).sum())} of the {int(scored.sum())} scored runs, "
                             "coverage and width over those" + ("" if named else "; none in domain(s) " + listed(
                                 pd.unique(te["domain"].to_numpy()[bare.to_numpy()]), 4)))
            pts.insert(0, "method", label)
            pts.insert(0, "split", split_label)
            point_frames.append(pts)
            density = {"bayes": bayes_out[(si, label)]["forecast"].density_kind if base == "bayes" else "",
                       "huber_ls": "kde", "huber_ls_bootstrap": "kde", "published": "none",
                       "published_offset": "exact"}[base]
            row = {"split": split_label, "method": label, "law": method_law(base, kw), "n_train": int(len(tr))}
            row.update(summarize_points(pts, levels))
            row["fit_seconds"] = float(seconds)
            diag = bayes_out[(si, label)].get("diagnostics", {}) if base == "bayes" else {}
            for col in DIAGNOSTIC_COLUMNS:
                row[col] = diag.get(col, np.nan)
            row["density"] = density
            row["notes"] = "; ".join(notes)
            summary_rows.append(row)
    summary = pd.DataFrame(summary_rows)
    cov_cols = [f"coverage_{level_label(q)}" for q in levels]
    order = ["split", "method", "law", "n_train", "n_heldout", "n_scored", "mape", "rmsle", "r2", *cov_cols, "width_90",
             "crps", "log_pred_density", "fit_seconds", *DIAGNOSTIC_COLUMNS, "density", "notes"]
    summary = summary[order]
    points = pd.concat(point_frames, ignore_index=True)
    return BacktestResult(summary=summary, points=points, prob_levels=levels)


def score_points(te: pd.DataFrame, y: np.ndarray, levels, model, bayes_fc, notes: list) -> pd.DataFrame:
    """Per-point forecasts and scores of one method on one split's held-out runs.

    Parameters
    ----------
    te : pandas.DataFrame
        Held-out runs (``domain``, ``params``, ``tokens``, ``flops``).
    y : ndarray, shape (n,)
        Their observed losses (nats/token).
    levels : sequence of float
        Interval probabilities.
    model : Forecaster or None
        A fitted baseline (forecasts per domain); None when ``bayes_fc`` is given.
    bayes_fc : dict or None
        ``{None: Forecast}``: one forecast of every held-out run (the Bayesian method).
    notes : list of str
        Appended to: held-out runs a per-domain baseline could not forecast.

    Returns
    -------
    pandas.DataFrame
        One row per held-out run: ``run``, ``domain``, ``params``, ``tokens``, ``flops``,
        (with unique tokens: ``unique_tokens`` and ``epochs`` = tokens / unique_tokens), ``loss``, ``loss_median``,
        ``loss_lower_XX`` / ``loss_upper_XX`` per level, ``ape``,
        ``log_error``, ``crps`` (of log loss) and ``log_density``.
    """
    n = len(te)
    pts = pd.DataFrame({
        "run": te.index.to_numpy(),
        "domain": te["domain"].to_numpy(),
        **{c: (te[c].to_numpy(float) if c in te else np.full(n, np.nan)) for c in ("params", "tokens", "flops")},
        "loss": y,
    })
    if "unique_tokens" in te:  # a data-constrained split: where the runs repeat their data
        pts.insert(pts.columns.get_loc("flops") + 1, "unique_tokens", te["unique_tokens"].to_numpy(float))
        pts.insert(pts.columns.get_loc("unique_tokens") + 1, "epochs", pts["tokens"] / pts["unique_tokens"])
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
            notes.append(f"{k} held-out run(s) in domain(s) without fitting runs not scored: {listed(missing, 4)}")
    for pos, fc in groups:
        if fc.draws_log is None or fc.draws_log.shape[0] == 1:
            med[pos] = np.exp(fc.point_log)
            crps[pos] = np.abs(fc.point_log - np.log(y[pos]))
        else:
            with np.errstate(over="ignore"):  # a far-tail draw may overflow; the median does not
                med[pos] = np.median(np.exp(fc.draws_log), 0)
            crps[pos] = crps_from_draws(fc.draws_log, np.log(y[pos]))
            if fc.has_interval:
                for q in levels:
                    lo, hi = interval(fc.draws_log, q)
                    lows[q][pos] = np.exp(lo)
                    highs[q][pos] = np.exp(hi)
        if fc.log_density is not None:
            dens[pos] = fc.log_density
    pts["loss_median"] = med
    for q in levels:
        pts[f"loss_lower_{level_label(q)}"] = lows[q]
        pts[f"loss_upper_{level_label(q)}"] = highs[q]
    pts["ape"] = ape(med, y)
    pts["log_error"] = np.log(med) - np.log(y)
    pts["crps"] = crps
    pts["log_density"] = dens
    return pts
