"""Floor 5. The fit-and-report pipeline: :func:`fit_and_report`, what ``bayes-scaling fit`` and ``demo`` run;
and :func:`write_decision`, the files of ``bayes-scaling decide``.

From a runs table to a directory with the saved fit, the forecast and frontier
tables, the HTML and Markdown report with its figures, and ``summary.json``. The fit
is saved first, before anything is derived from it, so a failure later on (a figure,
a disk that fills up) never loses the posterior.

Example
-------
>>> import bayes_scaling as bs
>>> res = bs.workflow.fit_and_report(bs.datasets.load_chinchilla(), out="chinchilla-report",
...                                  prior="weak", random_seed=1)  # doctest: +SKIP
>>> res.paths["html"], res.predictions, res.frontier                  # doctest: +SKIP
"""

from __future__ import annotations

import os
import threading
import time
import warnings
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ._text import format_span, listed, tokens_per_param_text
from ._warnings import warn_caller
from .data import DEFAULT_DOMAIN, OTHER_SIZE, PLAUSIBLE_TOKENS_PER_PARAM, DOMAINS_CHECKED, fitted_tokens_per_param, LeftOutRunsWarning, RunsTableError, RunsTableWarning, single_size_axis, validate_targets
from .datasets import load_chinchilla
from .decisions import DISCREPANCY_NOTE, discrepancy_allocation_sentence, discrepancy_of, optimal_allocation_draws
from .decisions import frontier as frontier_table
from .diagnostics import ConvergenceWarning
from .fit import ScalingLaw
from .inputs import MIN_TOKENS_PER_PARAM, validate_own_runs
from .inference import SamplerConfig, compile_cache_info
from .intervals import check_prob, interval
from .posterior import ScalingFit
from .predict import (EXTRAPOLATION_FACTOR, BelowBoundWarning, ExtrapolationWarning, domain_draws, predict,
                      refuse_blank_domains)
from .risk import check_threshold
from .sensitivity import SENSITIVITY_LAW, SENSITIVITY_PRIORS
from .sensitivity import sensitivity as prior_sensitivity_table
from .report import (timings_text, OWN_SPLIT_TARGETS, DATA_WARNING_NOTE, LEFT_OUT_WARNING_NOTE, TARGET_WARNING_NOTE, FRONTIER_WARNING_NOTE, DEFAULT_TARGETS, TARGET_BUDGETS, sensitivity_section, FIT_REPORT_FIGURES, Report, build_fit_report, decision_report,
                     far_runs_sentence, risk_section, runs_far_above, write_json)

__all__ = ["fit_and_report", "FitReport", "StepError", "ALLOCATION_NOTE", "default_targets",
           "expand_targets", "domain_frontiers", "write_decision", "DECISION_FILES", "NEW_DOMAIN", "DEFAULT_BUDGETS",
           "default_budgets"]

#: Budgets (FLOPs) of the frontier table when none are given: 1e21 to the Chinchilla budget
#: (5.88e23 FLOPs, Hoffmann et al. 2022 Table 1), those within reach of the runs (:func:`default_budgets`).
DEFAULT_BUDGETS = (1e21, 1e22, 1e23, 5.88e23)


def default_budgets(fit: ScalingFit) -> tuple[float, ...]:
    """Budgets of the frontier table when none are given, in FLOPs.

    The budgets of :data:`DEFAULT_BUDGETS` that lie within :data:`~bayes_scaling.predict.EXTRAPOLATION_FACTOR`
    (1000x) of the compute of the fit's own runs (a reference's runs do not count); when fewer than two do, 10x,
    100x and 1000x the largest run's compute (to two significant digits; 1000x rounded down). Five runs below 1e19 FLOPs
    got a table up to 5.88e23, 4.7 decades beyond them, and a warning about budgets nobody had asked for.

    Parameters
    ----------
    fit : ScalingFit

    Returns
    -------
    tuple of float
        Increasing budgets, at least two.
    """
    runs = fit.runs[fit.runs["domain"].isin(fit.own_domains)]  # not a reference's runs
    c = runs["flops"].to_numpy(float)
    lo, hi = float(np.min(c)), float(np.max(c))
    keep = tuple(b for b in DEFAULT_BUDGETS if lo / EXTRAPOLATION_FACTOR <= b <= hi * EXTRAPOLATION_FACTOR)
    if len(keep) >= 2:
        return keep
    out = []
    for k in (10.0, 100.0, EXTRAPOLATION_FACTOR):
        # two significant digits, as the default targets at 10x and 100x are printed (rounded down, a largest run of
        # 1.6e18 FLOPs put the frontier at 1.5e19 under a headline at 1.6e19, and their sizes disagreed: a fresh
        # user); 1000x is rounded down, never beyond EXTRAPOLATION_FACTOR
        step = 10.0 ** (np.floor(np.log10(hi * k)) - 1)
        rounded = np.floor(hi * k / step) if k >= EXTRAPOLATION_FACTOR else np.round(hi * k / step)
        out.append(float(f"{rounded * step:.2g}"))
    return tuple(out)

#: Domain name of the population forecast: a domain the fit has not seen (any name outside
#: ``fit.domains`` gets the population predictive; this one says so in tables).
NEW_DOMAIN = "(new domain)"


@contextmanager
def _shown_and_kept(kept: list[str]):
    """Show the warnings raised in the block as usual, once it ends, and keep the package's warnings about tables and
    extrapolation (``RunsTableWarning``, ``ExtrapolationWarning``) in ``kept``, once each, for the report's notes and
    summary.json. When the block raises, its warnings are not shown (the step's error says what failed)."""
    shown = warnings.showwarning
    with warnings.catch_warnings(record=True) as rec:
        yield
    for w in rec:
        shown(w.message, w.category, w.filename, w.lineno)
        if issubclass(w.category, (RunsTableWarning, ExtrapolationWarning)) and str(w.message) not in kept:
            kept.append(str(w.message))


class StepError(RuntimeError):
    """A step after the fit failed; the fit itself is saved.

    Attributes
    ----------
    step : str
        What failed (``forecasts``, ``frontier``, ``transfer risk``, ``report``, ``tables``).
    fit_path : Path
        Where the fit was saved.
    rerun : str
        The command that redoes the step from the saved fit.
    """

    def __init__(self, step: str, fit_path: Path, rerun: str, cause: BaseException):
        self.step, self.fit_path, self.rerun = step, Path(fit_path), rerun
        why = " ".join(str(cause.args[0] if isinstance(cause, KeyError) and cause.args else cause).split())
        super().__init__(
            f"the fit is saved in '{fit_path}', but the {step} step failed: {why} "
            f"Redo that step from the saved fit with: {rerun}"
        )


@dataclass
class FitReport:
    """What :func:`fit_and_report` made.

    Attributes
    ----------
    fit : ScalingFit
        The fitted posterior (also saved at ``paths["fit"]``).
    predictions : pandas.DataFrame
        Forecasts at the targets (and at held-out runs, with their ``loss``), as ``predictions.csv``.
    frontier : pandas.DataFrame or None
        Compute-optimal allocation per budget and domain (every domain of the runs, and
        :data:`NEW_DOMAIN` when there are several), as ``frontier.csv`` (None for a law
        without an N-D split).
    report : Report
        The report (``report.html``, ``report.md`` and the figures).
    summary : dict
        The content of ``summary.json``.
    paths : dict
        ``fit``, ``predictions``, ``frontier`` (if any), ``html``, ``markdown``, ``summary`` (Path)
        and ``figures`` (list of Path).
    notes : list of str
        What the pipeline could not do for some domain (e.g. a frontier that is undefined), in words.
    """

    fit: ScalingFit
    predictions: pd.DataFrame
    frontier: pd.DataFrame | None
    report: Report
    summary: dict
    paths: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def _with_population(fit: ScalingFit) -> bool:
    """Whether tables add the population forecast for a new domain (a hierarchy over several domains of one's own)."""
    return bool(fit.hierarchical) and len(fit.own_domains) > 1


def _finite_frontier(fit: ScalingFit, flops, prob: float, domain: str, **kwargs) -> tuple[pd.DataFrame | None, float]:
    """The frontier of one domain from the draws whose optimum is finite; and the share of draws left out."""
    flops = np.atleast_1d(np.asarray(flops, float))
    # a new domain's draws as predict, compare and decisions.frontier draw them (keyed by the seed)
    theta = domain_draws(fit, domain, fit.random_seed)[0]
    res = optimal_allocation_draws(fit, flops, theta, discrepancy=discrepancy_of(fit, domain), **kwargs)
    ok = np.all([np.all(np.isfinite(v), axis=1) for v in res.values()], axis=0)  # (S,): finite at every budget
    if ok.mean() < 0.5:
        return None, float(1 - ok.mean())
    out = {"flops": flops}
    for key, val in res.items():
        lo, hi = interval(val[ok], prob)
        out[f"{key}_median"] = np.median(val[ok], axis=0)
        out[f"{key}_lower"] = lo
        out[f"{key}_upper"] = hi
    df = pd.DataFrame(out)
    df["domain"] = domain
    return df, float(1 - ok.mean())


#: How the note on a compute-optimal allocation outside the runs' D/N begins (:func:`domain_frontiers`).
ALLOCATION_NOTE = "the compute-optimal tokens per parameter at these budgets lie outside the D/N of the runs: "


def _allocation_outside_the_runs(fit: ScalingFit, fr: pd.DataFrame, dom: str) -> str:
    """``"domain 'name' a-b (its runs lo-hi)"`` when a domain's compute-optimal tokens per parameter lie outside the
    D/N of the runs behind it (``"a-b (the runs lo-hi)"`` for a fit of one domain, ``"a-b (your runs lo-hi)"`` for
    the user's one domain next to reference runs, ``"a new domain a-b (all your runs lo-hi)"`` for the population
    frontier; '' if not).

    The split between N and D is set by the ratio of the two exponents and the two size terms, which runs at other
    ratios measure only by extrapolation (a fresh user's OpenLM c4_val fit: 1-3 tokens per parameter from runs at
    5-640)."""
    if "tokens_per_param_median" not in fr or fr.empty:
        return ""
    ends = fit.tokens_per_param_span(dom)  # a domain's runs, or every run of the user's for the new domain
    if ends is None:
        return ""
    lo, hi = ends
    tpp = fr["tokens_per_param_median"].to_numpy(float)
    if not ((tpp < lo) | (tpp > hi)).any():
        return ""
    span, runs_span = format_span(tpp), format_span(ends)
    if dom != NEW_DOMAIN and len(fit.domains) == 1:
        return f"{span} (the runs {runs_span})"
    if dom == DEFAULT_DOMAIN:  # next to reference runs: "your runs 109-149 (its runs 5-10)" read as the runs' ratio
        return f"{span} (your runs {runs_span})"
    if dom == NEW_DOMAIN:  # it has no runs: its ratio is compared with every run of the user's ("its runs" read odd)
        return f"a new domain {span} (all your runs {runs_span})"
    return f"domain '{dom}' {span} (its runs {runs_span})"


def domain_frontiers(fit: ScalingFit, flops, prob: float = 0.9, domains: list[str] | None = None,
                     **kwargs) -> tuple[pd.DataFrame, list[str]]:
    """The compute-optimal frontier of every domain, and notes on the domains where it is undefined.

    Parameters
    ----------
    fit : ScalingFit
    flops : sequence of float
        Budgets in FLOPs.
    prob : float
    domains : list of str, optional
        Default: the domains of the runs (:attr:`ScalingFit.own_domains`) and, for a fit of several
        domains, :data:`NEW_DOMAIN` (the population frontier of a domain not yet seen).
    **kwargs
        ``max_params``, ``unique_tokens``, ``inference_tokens``
        (:func:`bayes_scaling.decisions.frontier`).

    Returns
    -------
    (table, notes) : (pandas.DataFrame, list of str)
        Rows of :func:`bayes_scaling.decisions.frontier` for each domain, stacked (column
        ``domain``). Where some posterior draws give no finite optimum (e.g. a new domain's
        exponents drawn near zero), the frontier is computed from the others and a note says
        how many were left out; a domain where most draws have none is left out and named in
        ``notes``; so is a domain whose discrepancy term favours another model size
        (:func:`bayes_scaling.decisions.discrepancy_allocation_note`).
    """
    if domains is None:
        domains = fit.own_domains + ([NEW_DOMAIN] if _with_population(fit) else [])
    parts, notes, outside, disc = [], [], [], {}
    below: dict[str, tuple[int, str, float]] = {}  # domain -> (count, noun, lowest): said once for all of them below
    for dom in domains:
        # recorded under the caller's filters (the default targets' frontier ignores extrapolation warnings); entering
        # catch_warnings resets the "shown once" registry, so each domain's first warning is recorded
        with np.errstate(all="ignore"), warnings.catch_warnings(record=True) as rec:
            own = []
            fr = frontier_table(fit, flops, prob=prob, domain=dom, notes=own, **kwargs)
        for w in rec:
            if isinstance(w.message, BelowBoundWarning):
                below[dom] = (w.message.count, w.message.noun, w.message.lowest)
            else:
                warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        with np.errstate(all="ignore"):
            if fr.attrs.get("discrepancy_parts"):
                disc[dom] = (own, fr.attrs["discrepancy_parts"])
            else:
                notes.extend(own)
            med = fr[[c for c in fr if c.endswith("_median")]].to_numpy(float)
            if not np.isfinite(med).all():
                fr, dropped = _finite_frontier(fit, flops, prob, dom, **kwargs)
                name = "a new domain" if dom == NEW_DOMAIN else f"domain '{dom}'"
                if fr is None:
                    notes.append(f"the compute-optimal frontier of {name} is undefined: {dropped:.0%} of its posterior "
                                 "draws give no finite optimum at these budgets, so it has no frontier row and no "
                                 "default target.")
                    continue
                notes.append(f"{dropped:.1%} of the posterior draws of {name} give no finite compute-optimal "
                             "allocation (an exponent drawn at or below zero has no optimum); its frontier is computed from the others.")
        parts.append(fr)
        outside.append(_allocation_outside_the_runs(fit, fr, dom))
    if len(disc) == 1:
        notes.extend(next(iter(disc.values()))[0])
    elif disc:  # one note for all: a fresh user's eight recipes gave eight near-identical paragraphs of ~900 characters
        each = [("a new domain" if d == NEW_DOMAIN else f"'{d}'") + f" at {p[-1]}"
                + (f" (also at {len(p) - 1} other budget{'s' if len(p) > 2 else ''})" if len(p) > 1 else "")
                for d, (_, p) in disc.items()]
        # counted among the fitted domains (a new domain has no discrepancy term): a fresh user read "3 of the 4
        # domains", the 4th the new domain, next to the report's "The runs cover 3 domains"
        hit, fitted = len(disc), len(fit.own_domains)
        where = f" of all {fitted} fitted domains" if hit == fitted else f" of {hit} of the {fitted} fitted domains"
        notes.append(discrepancy_allocation_sentence(where, listed(each, 4, "; ")))
    if len(below) == 1:
        count, noun, lowest = next(iter(below.values()))
        warn_caller(BelowBoundWarning(count, noun, fit.min_tokens_per_param, lowest))
    elif below:  # one warning: a six-domain OpenLM fit through the CLI (session 30) gave three near-identical ones, then three notes of them
        names = listed((("a new domain" if d == NEW_DOMAIN else repr(d)) for d in below), 4, ", ")
        warn_caller(BelowBoundWarning(sum(c for c, _, _ in below.values()), next(iter(below.values()))[1],
                                      fit.min_tokens_per_param, min(lo for *_, lo in below.values()),
                                      where=f" of {len(below)} domains ({names})"))
    outside = [o for o in outside if o]
    if outside:
        notes.append(ALLOCATION_NOTE + "; ".join(outside) + ": the allocation is an extrapolation of the law; runs near the suggested "
                     "ratio would check it.")
    if not parts:
        return pd.DataFrame(columns=["flops", "domain"]), notes
    return pd.concat(parts, ignore_index=True), notes


def default_targets(fit: ScalingFit, notes: list[str] | None = None, budgets=None) -> pd.DataFrame:
    """Targets when none are given: compute-optimal runs at 10x and 100x each domain's largest compute, or at
    ``budgets`` when the user gave some (``--flops``).

    A domain whose runs all have one D (or one N) measures the law along the other axis only, and its
    compute-optimal split is the prior's: its targets are 10x and 100x its largest N at that D (or D at that N),
    see :func:`bayes_scaling.data.single_size_axis`.

    For a fit of several domains, the same two budgets (10x and 100x the largest run of
    all) are added for :data:`NEW_DOMAIN`, the population forecast of a domain not yet seen.

    Parameters
    ----------
    fit : ScalingFit
    notes : list of str, optional
        Receives a sentence for each domain left out because its frontier is undefined.
    budgets : sequence of float, optional
        Training compute in FLOPs of the targets, instead of 10x and 100x the largest run (a fresh user's
        ``--flops 1e22`` report headlined the default target at 2.3e20 FLOPs, with its 93 % chance of missing the
        threshold, and gave the budget asked about no interval). Domains whose runs share one N or D keep theirs.

    Returns
    -------
    pandas.DataFrame
        ``domain`` and ``params``, ``tokens`` (N rounded to a million) for a law with an
        N-D split, and ``unique_tokens`` = ``tokens`` (one epoch) for the data-constrained law;
        otherwise ``domain`` and the law's variable at 10x and 100x the largest run.
    """
    rows = []
    own_split: dict[str, float] = {}
    own = fit.own_domains
    doms = own + ([NEW_DOMAIN] if _with_population(fit) else [])
    mine = fit.runs[fit.runs["domain"].isin(own)]
    for dom in doms:
        runs = fit.runs[fit.runs["domain"] == dom] if dom in own else mine
        fixed = single_size_axis(runs) if fit.law.has_allocation else None
        if fixed is not None:  # the split of a larger budget is the prior's alone: scale the measured axis
            grow = OTHER_SIZE[fixed]
            for f in (10, 100):
                size = {fixed: float(runs[fixed].iloc[0]), grow: float(runs[grow].max() * f)}
                # never beyond the plausible D/N the targets are checked against: runs of 100M parameters on up to
                # 24B tokens got a default target at 24,000 tokens per parameter and a warning about it (a fresh user).
                # Only the grown size is held back: the fixed one is every run's.
                lo, hi = PLAUSIBLE_TOKENS_PER_PARAM
                if grow == "tokens":
                    size["tokens"] = float(np.clip(size["tokens"], size["params"] * lo, size["params"] * hi))
                else:
                    size["params"] = float(np.clip(size["params"], size["tokens"] / hi, size["tokens"] / lo))
                row = {"domain": dom, "params": size["params"], "tokens": size["tokens"]}
                if row not in rows:  # two factors clipped to one target
                    rows.append(row)
        elif fit.law.has_allocation:
            cmax = float(runs["flops"].max())
            at = [float(b) for b in budgets] if budgets is not None else [10 * cmax, 100 * cmax]
            with warnings.catch_warnings():  # about the frontier's runs, which the frontier step warns about; the
                warnings.simplefilter("ignore", ExtrapolationWarning)  # targets are checked when forecast
                fr, why = domain_frontiers(fit, at, domains=[dom])
            if notes is not None:  # the allocation and discrepancy notes are the frontier table's (its budgets)
                notes.extend(n for n in why if not n.startswith((ALLOCATION_NOTE, DISCREPANCY_NOTE)))
            # a split the fit cannot have measured (fewer tokens per parameter than the runs it fits, or beyond the
            # plausible D/N): 3 runs with the published prior put the compute-optimal split at 0.08 tokens per
            # parameter, and the report failed after saving the fit (a fresh user). Such targets are scaled up at the
            # domain's own typical D/N instead, and the note says so.
            lo, hi = fitted_tokens_per_param(fit.min_tokens_per_param)
            own_ratio = float(np.exp(np.median(np.log(runs["tokens"].to_numpy(float) / runs["params"].to_numpy(float)))))
            outside = []
            for r in fr.itertuples():
                ratio = float(r.flops / (6 * r.params_opt_median ** 2))
                n_opt = r.params_opt_median
                if not lo <= ratio <= hi:
                    n_opt = float(np.sqrt(r.flops / (6 * own_ratio)))
                    outside.append((r.flops, ratio))
                n = float(np.round(n_opt, -6 if n_opt > 1e7 else 0))
                rows.append({"domain": dom, "params": n, "tokens": float(r.flops / (6 * n))})
            if outside:
                own_split[dom] = own_ratio
            if outside and notes is not None:
                low, high = (f"{f(q for _, q in outside):.2g}" for f in (min, max))
                span = low if low == high else f"{low}-{high}"
                notes.append(
                    f"the fit's compute-optimal split of {dom!r} at {listed([f'{c:.2g}' for c, _ in outside], 4)} FLOPs is "
                    f"{span} tokens per parameter, outside {lo:g} to {hi:,.0f}: the runs do not measure the split, so "
                    f"the default targets there keep their typical {tokens_per_param_text(float(f'{own_ratio:.2g}'))}; "
                    "give targets (--targets) for other sizes")
        else:
            var = fit.law.variables[0]
            for f in (10, 100):
                rows.append({"domain": dom, var: float(runs[var].max() * f)})
    if not rows:
        raise ValueError("no domain has a defined compute-optimal frontier, so there are no default targets; "
                         "give targets (--targets T.csv).")
    out = pd.DataFrame(rows)
    if own_split:
        out.attrs[OWN_SPLIT_TARGETS] = own_split
    if "unique_tokens" in fit.law.variables and "tokens" in out:
        # one epoch, said in the table: without the column predict warned about targets the user never wrote
        out["unique_tokens"] = out["tokens"]
    return out


def expand_targets(fit: ScalingFit, targets) -> pd.DataFrame:
    """Targets with a domain on every row: a row without one is forecast for every domain of the runs.

    In a fit of one domain (reference domains aside) a row without a domain belongs to that
    domain. In a fit of several, it is repeated for each domain of the runs and for
    :data:`NEW_DOMAIN` (the population forecast), so nothing is dropped and nothing guessed.

    Parameters
    ----------
    fit : ScalingFit
    targets : DataFrame or path
        See :func:`bayes_scaling.data.validate_targets`.

    Returns
    -------
    pandas.DataFrame
        Validated targets with a ``domain`` on every row, in the input order (rows without a
        domain expanded in place).

    Raises
    ------
    RunsTableError
        Invalid targets.
    """
    needs = tuple(v for v in fit.law.variables if v != "unique_tokens")
    # a name close to a fitted one is questioned here, with the row of the user's table (after the expansion the
    # rows are renumbered, and a fresh user read "row 2" for the domain on file line 4)
    t = validate_targets(targets, domains=fit.domains, needs=needs, domain_col=fit.domain_col)
    refuse_blank_domains(fit, t)  # under the user's row numbers; rows of no domain at all get every domain below
    t = t.reset_index(drop=True)
    own = fit.own_domains
    if len(own) == 1:
        out = t.assign(domain=t["domain"].where(t["domain"].notna(), own[0]))
    else:
        doms = own + ([NEW_DOMAIN] if _with_population(fit) else [])
        parts = []
        for _, row in t.iterrows():
            if row["domain"] is not None and isinstance(row["domain"], str):
                parts.append(pd.DataFrame([row]))
            else:
                parts.append(pd.DataFrame([row.to_dict() | {"domain": d} for d in doms]))
        out = pd.concat(parts, ignore_index=True)
    out.attrs = {DOMAINS_CHECKED: True}  # predict() does not question the names again
    return out


def _check_out(out: Path, force: bool) -> None:
    if out.exists() and not out.is_dir():
        raise FileExistsError(f"'{out}' is a file; give a directory for the report.")
    if out.exists() and any(out.iterdir()) and not force:
        raise FileExistsError(f"'{out}' already exists and is not empty; choose another directory or pass force=True "
                              "to replace its results.")


def _write_csv(df: pd.DataFrame, path: Path) -> Path:
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        df.to_csv(tmp, index=False)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)  # no stray temporary file when the write or the rename fails
    return path


class _CompileWatch:
    """Progress lines while :meth:`ScalingLaw.fit` runs: when a model finishes compiling, and every
    ``every`` seconds while nothing else is said (the fit itself prints nothing)."""

    def __init__(self, say: Callable[[str], None], every: float = 20.0, poll: float = 0.5):
        self.say, self.every, self.poll = say, every, poll
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _compiled(self) -> int:
        try:
            return len(compile_cache_info())
        except RuntimeError:  # the cache changed size while it was read
            return -1

    def _run(self) -> None:
        t0 = last = time.perf_counter()
        known = self._compiled()
        said = 0
        while not self._stop.wait(self.poll):
            now, n = time.perf_counter(), self._compiled()
            if n > known >= 0:
                # a fit with a reference compiles two models (the reference's summary, then the fit): said twice
                # in the same words, it read as a repeated line
                what = "model compiled" if not said else "second model compiled" if said == 1 else "another model compiled"
                if said:  # "second model compiled" was unexplained (a fresh user): say which fits need another shape
                    what += (" (a model of another shape: the reference runs' own fit or the fit of the smaller runs "
                             "for the model-form error)")
                # "after 68 s" counted the runs' checks and the model's build as well, where the Time line's compile
                # is the compiler's alone (a fresh user read a contradiction): said as time into the fit
                self.say(f"{what}, {now - t0:.0f} s into the fit (kept for later fits in this process); sampling")
                known, last, said = n, now, said + 1
            elif now - last >= self.every:
                self.say(f"still compiling or sampling ({now - t0:.0f} s so far)")
                last = now

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        return False


def _reference_table(reference):
    """The embedded Chinchilla runs, labelled so warnings about them name them (not the user's file)."""
    if isinstance(reference, str) and reference == "chinchilla":
        table = load_chinchilla()
        table.attrs["what"] = "reference runs (embedded Chinchilla data)"
        return table
    return reference


def fit_and_report(
    runs,
    out,
    *,
    law: str = "chinchilla",
    prior: str | None = None,
    widen: float = 1.0,
    reference=None,
    targets=None,
    heldout: pd.DataFrame | None = None,
    flops=None,
    prob: float = 0.9,
    threshold: float | None = None,
    random_seed: int = 0,
    sampler: SamplerConfig | None = None,
    strict: bool = False,
    domain_col: str = "domain",
    discrepancy: str = "auto",
    loss_unit: str = "nats",
    extrapolation: str = "learned",
    extrapolation_update: bool | str = "auto",
    min_tokens_per_param: float = MIN_TOKENS_PER_PARAM,
    title: str = "Scaling-law forecast",
    data_note: str = "",
    force: bool = False,
    progress: Callable[[str], None] | None = None,
    advice_style: Callable[[str], str] | None = None,
    sensitivity: bool = False,
) -> FitReport:
    """Fit a runs table and write the saved fit, the tables and the report into ``out``.

    The same pipeline as ``bayes-scaling fit`` (and ``demo``): the fit is saved first
    (``out/fit``), then the forecasts (``predictions.csv``), the compute-optimal frontier
    of every domain (``frontier.csv``), the transfer-risk section (hierarchical fits), the
    report (``report.html``, ``report.md``, PNG figures) and ``summary.json`` are derived
    from it. A step that fails after the fit raises :class:`StepError`, which names the
    step and the command that redoes it from the saved fit.

    Parameters
    ----------
    runs : DataFrame or path
        Runs table (see :mod:`bayes_scaling.data`).
    out : str or Path
        Output directory (created).
    law, prior, widen, discrepancy, domain_col, extrapolation, extrapolation_update, min_tokens_per_param
        See :class:`~bayes_scaling.ScalingLaw` (``prior=None``: the law's published prior).
    reference : {"chinchilla"}, path or DataFrame, optional
        Reference runs fitted alongside as sibling domains.
    targets : DataFrame or path, optional
        Forecast targets; default :func:`default_targets`. In a fit of several domains a
        target without a domain is forecast for every domain and a new one (:func:`expand_targets`).
    heldout : DataFrame, optional
        Held-out runs (``params``, ``tokens``, ``domain``, ``loss``): forecast, appended to
        the predictions with their ``loss`` and drawn on the fit figures.
    flops : sequence of float, optional
        Budgets of the frontier table; default :func:`default_budgets` (those of :data:`DEFAULT_BUDGETS`
        within 1000x of the runs).
    prob : float, default 0.9
        Interval probability.
    threshold : float, optional
        Target loss in nats/token (in bits when ``loss_unit="bits"``: converted like the runs):
        P(loss > threshold) at the first target in the report's summary.
    random_seed : int, default 0
        The same seed gives the same numbers.
    sampler : SamplerConfig, optional
    strict : bool, default False
        Raise :class:`~bayes_scaling.diagnostics.SamplingError` (nothing is written)
        when sampling fails its checks.
    loss_unit : {"nats", "bits"}, default "nats"
        Unit of the runs' ``loss`` column; bits (log2) are converted to nats.
    title, data_note : str
        Report title, and where the runs came from.
    force : bool, default False
        Replace the results in a non-empty ``out``: an earlier run's files of :data:`REPORT_FILES` that this run does
        not write (e.g. ``fit_domains.png`` of a fit of several domains) are removed, other files are left alone.
    progress : callable, optional
        Called with one line of text at each step (the CLI prints them to stderr).
    advice_style : callable, optional
        Rewrites the advice in the notes the report and ``summary.json`` repeat (the CLI turns
        ``loss_unit='bits'`` into ``--loss-unit bits``, as on its stderr); default: unchanged.
    sensitivity : bool, default False
        Also fit the runs under each of :data:`~bayes_scaling.sensitivity.SENSITIVITY_PRIORS` (every other
        setting kept) and add a "Prior sensitivity" section and summary sentence: the compute-optimal
        allocation at the frontier's budgets under each prior. The Chinchilla law and one domain of runs
        only (a ValueError otherwise); three more fits.

    Returns
    -------
    FitReport

    Raises
    ------
    RunsTableError
        Invalid runs or targets.
    SamplingError
        Failed convergence checks with ``strict=True``.
    StepError
        A step after the fit failed (the fit is saved; the message says how to redo the step).
    FileExistsError
        ``out`` is a file, or a non-empty directory and ``force`` is False.
    ValueError
        For ``prob`` outside (0, 1) or bad settings.
    """
    t0 = time.perf_counter()
    say = progress or (lambda _msg: None)
    prob = check_prob(prob)
    out = Path(out)
    _check_out(out, force)
    if loss_unit not in ("nats", "bits"):
        raise ValueError(f"loss_unit must be 'nats' or 'bits', not '{loss_unit}'.")
    if threshold is not None and loss_unit == "bits":
        threshold = float(threshold) * float(np.log(2.0))
    say("validating runs and building the model")
    spec = ScalingLaw(law=law, prior=prior, widen=widen, sampler=sampler or SamplerConfig(), domain_col=domain_col,
                      discrepancy=discrepancy, extrapolation=extrapolation, extrapolation_update=extrapolation_update,
                      min_tokens_per_param=min_tokens_per_param)
    if sensitivity and spec.law.name != SENSITIVITY_LAW:  # said before any fit
        raise ValueError(f"sensitivity compares the Chinchilla law's published priors ({', '.join(SENSITIVITY_PRIORS)}); "
                         f"the '{spec.law.name}' law has no such set: leave sensitivity=False or fit law='chinchilla'.")
    with warnings.catch_warnings():  # a bad runs table is said before "fitting ..."; its warnings come from the fit
        warnings.simplefilter("ignore")
        own_table = validate_own_runs(spec, runs, loss_unit=loss_unit, with_reference=reference is not None)
    if threshold is not None:  # a perplexity as --threshold 250 gave "< 1 % chance of missing" (a fresh user)
        check_threshold(threshold, own_table["loss"])
    say(f"fitting the {spec.law.name} law with prior '{spec.prior.name}' "
        f"({spec.sampler.chains} chains x {spec.sampler.draws} draws); compiling the model first "
        # "once per model shape in a process" promised a saving to a CLI user whose every command is a new process (a
        # fresh user): what carries over between processes is PyTensor's disk cache of compiled code
        "(usually 15-45 s, longer on a busy machine; about half of it again in a later process, which reuses PyTensor's "
        "cache of compiled code)")
    # The fit's convergence warnings are held back until its notes are said, so a note such as "sampled again
    # with the long settings" comes before the verdict it explains; data warnings are shown at once (before the
    # sampling they may make pointless).
    # Warnings about the runs (a loss that looks like bits, repeated rows, a domain of one run) are also kept for the
    # report's notes and summary.json, so the written outputs say what the terminal said.
    held: list[warnings.WarningMessage] = []
    data_warnings: list[tuple[str, bool]] = []  # (message, whether it is only about runs a fit leaves out by default)
    with warnings.catch_warnings():
        shown = warnings.showwarning

        def hold(message, category, filename, lineno, file=None, line=None):
            if issubclass(category, ConvergenceWarning):
                held.append(warnings.WarningMessage(message, category, filename, lineno, file, line))
            else:
                said = (str(message), issubclass(category, LeftOutRunsWarning))
                if issubclass(category, RunsTableWarning) and said not in data_warnings:
                    data_warnings.append(said)
                shown(message, category, filename, lineno, file, line)

        warnings.showwarning = hold
        try:
            with _CompileWatch(say):
                fit = spec.fit(runs, reference=_reference_table(reference), random_seed=random_seed, strict=strict,
                               progress=False, loss_unit=loss_unit)
        except BaseException:
            warnings.showwarning = shown
            for w in held:
                shown(w.message, w.category, w.filename, w.lineno)
            raise
    for note in fit.notes:  # e.g. a quick one-domain fit that was sampled again with the long settings
        say(f"note: {note}")
    for w in held:
        warnings.showwarning(w.message, w.category, w.filename, w.lineno)
    say(f"fitted in {fit.timings['total_seconds']:.1f} s ({timings_text(fit.timings, reference is not None)}); "
        f"diagnostics {'ok' if fit.diagnostics.ok else 'FAILED'}")
    out.mkdir(parents=True, exist_ok=True)
    paths: dict = {"fit": fit.save(out / "fit", force=True)}  # saved before anything is derived from it
    say(f"saved the fit in {paths['fit']}")
    notes: list[str] = []
    own = fit.own_domains
    several = len(own) > 1
    dom_flag = " --domain DOMAIN" if several else ""

    def step(name: str, rerun: str, fn):
        try:
            return fn()
        except Exception as exc:  # noqa: BLE001 - re-raised with the step named and the fit's place
            raise StepError(name, paths["fit"], rerun.replace("DIR", str(out)), exc) from exc

    say("forecasting the targets" + (f" for {len(own)} domains and a new one" if several else ""))

    target_warnings: list[str] = []

    def forecasts():
        # the targets' warnings (epochs beyond R_D*, implausible sizes) are said once, and kept for the report's notes
        # and summary.json: a fresh user's were on stderr only, and twice (again, renumbered, when predict validated
        # the expanded table, and for the headline when the report drew it)
        with _shown_and_kept(target_warnings):
            t = default_targets(fit, notes, budgets=flops) if targets is None else expand_targets(fit, targets)
            with warnings.catch_warnings():
                if targets is not None:  # expand_targets has validated the user's table, with its row numbers
                    warnings.simplefilter("ignore", RunsTableWarning)
                try:
                    pred = predict(fit, t, prob=prob)
                except RunsTableError as exc:
                    if targets is not None:
                        raise
                    # the targets are the fit's own compute-optimal runs: a fresh user's swapped runs were told to
                    # swap the columns of targets they never wrote
                    raise RunsTableError(
                        f"the compute-optimal runs the fit gives as targets{' at --flops' if flops else ''} failed a "
                        f"check ({' '.join(str(exc).split())}). They come from the fitted law, so look at the runs "
                        "table: are its 'params' and 'tokens' columns right (raw counts, not swapped)?") from exc
        if heldout is not None and len(heldout):
            ho = predict(fit, heldout[["params", "tokens", "domain"]], prob=prob)
            ho["loss"] = heldout["loss"].to_numpy()
            ho["label"] = "held-out run"
            pred = pd.concat([pred, ho], ignore_index=True)
        # the report's headline says how its target was chosen (a fresh user read "A 715M-parameter model on 190B
        # tokens" and could not tell where that run came from)
        pred.attrs[DEFAULT_TARGETS] = targets is None
        if targets is None and t.attrs.get(OWN_SPLIT_TARGETS):
            pred.attrs[OWN_SPLIT_TARGETS] = dict(t.attrs[OWN_SPLIT_TARGETS])
        if targets is None and flops is not None and fit.law.has_allocation:
            pred.attrs[TARGET_BUDGETS] = [float(b) for b in flops]
        return pred

    pred = step("forecasts", "bayes-scaling predict DIR --at TARGETS.csv" + dom_flag, forecasts)
    front = None
    if fit.law.has_allocation:  # a one-variable law has no frontier and its runs may have no FLOPs (a fresh user)
        budgets = default_budgets(fit) if flops is None else flops
        say("computing the compute-optimal frontier" + (" of every domain" if several else ""))
        flag = ",".join(f"{b:g}" for b in budgets)
        # its warnings (compute-optimal runs below the fit's tokens-per-parameter bound) are shown and kept for the
        # report's Notes: a fresh user's 3-run fit said one on stderr only
        frontier_warnings: list[str] = []
        with _shown_and_kept(frontier_warnings):
            front, why = step("frontier", f"bayes-scaling frontier DIR --flops {flag}" + dom_flag,
                              lambda: domain_frontiers(fit, budgets, prob=prob))
        notes.extend(FRONTIER_WARNING_NOTE + w for w in frontier_warnings)
        notes.extend(n for n in why if n not in notes)
    seen, unique = set(), []
    for n in notes:  # one note per domain (the targets' and the table's budgets may give two shares of draws)
        key = n.split(" of ", 1)[-1] if "posterior draws of" in n else n
        key = key.split(" give ")[0].split(" is undefined")[0]
        if key not in seen:
            seen.add(key)
            unique.append(n)
    for note in unique:
        say(f"note: {note}")
    far = step("runs far above the law", "bayes-scaling predict DIR --at RUNS.csv (the runs' forecasts)",
               lambda: runs_far_above(fit, prob))
    if len(far):  # said on the terminal too (a fresh user's checkpoint at 9.5 nats among losses of 3 went unmentioned);
        say(f"note: {far_runs_sentence(fit, far, listed_in=FAR_RUNS_FILE)}")  # the report's summary has it
    # the warnings about the runs were shown when they were raised; the report and summary.json repeat them first
    style = advice_style or (lambda text: text)
    # a warning only about runs the fit leaves out is not one that may change its numbers, unless the fit lets them in
    left_out = fit.min_tokens_per_param >= PLAUSIBLE_TOKENS_PER_PARAM[0]
    notes = ([style((LEFT_OUT_WARNING_NOTE if only_left_out and left_out else DATA_WARNING_NOTE) + w)
              for w, only_left_out in data_warnings]
             + [style(TARGET_WARNING_NOTE + w.removeprefix("targets: ")) for w in target_warnings]
             + [style(n) for n in unique])
    extra = []
    if fit.hierarchical:
        say("assessing transfer risk")
        with warnings.catch_warnings():  # the targets' extrapolation was said with the forecasts
            warnings.simplefilter("ignore", ExtrapolationWarning)
            sec = step("transfer risk", "bayes-scaling risk DIR --at TARGETS.csv --threshold LOSS",
                       lambda: risk_section(fit, pred, threshold, prob=prob))
        if sec is not None:
            extra.append(sec)
    sens_sentence = None
    if sensitivity and front is not None:
        if several:
            notes.append("the prior sensitivity was not computed: it compares fits of one domain of runs, and these "
                         f"runs have {len(own)}.")
        else:
            say(f"refitting under each prior for the sensitivity ({', '.join(SENSITIVITY_PRIORS)})")
            budgets_used = sorted(set(float(b) for b in front["flops"]))

            def prior_sensitivity():
                with warnings.catch_warnings():  # the runs' warnings were shown for the main fit
                    warnings.simplefilter("ignore")
                    table = prior_sensitivity_table(runs, budgets_used, priors=SENSITIVITY_PRIORS, widen=(1.0,),
                                                    prob=prob, random_seed=random_seed, spec=spec,
                                                    reference=_reference_table(reference))
                return sensitivity_section(table, fit.own_runs())

            sec, sens_sentence = step("prior sensitivity", "bayes_scaling.sensitivity.sensitivity(runs, flops)",
                                      prior_sensitivity)
            extra.append(sec)
            say(f"note: {sens_sentence}")
    say("writing the report, figures and tables")
    with warnings.catch_warnings():  # the headline's extrapolation and its targets' names were said with the forecasts
        warnings.simplefilter("ignore", ExtrapolationWarning)
        warnings.simplefilter("ignore", RunsTableWarning)  # a near-miss domain was questioned twice (a fresh user)
        rep = step("report", "bayes-scaling predict/frontier/risk DIR ... (the tables); the report needs a new run of fit",
                   lambda: build_fit_report(fit, pred, front, prob=prob, title=title, data_note=data_note,
                                            threshold=threshold, heldout=heldout, extra_sections=extra, notes=notes,
                                            loss_unit=loss_unit, far_runs=far, far_runs_file=FAR_RUNS_FILE,
                                            advice_style=style))

    if sens_sentence:
        rep.summary.append(sens_sentence)

    def tables():
        paths["predictions"] = _write_csv(pred, out / "predictions.csv")
        if front is not None:
            paths["frontier"] = _write_csv(front, out / "frontier.csv")
        if len(far):  # the note named two of 31 such runs and no file listed the others (a fresh user)
            paths["runs_far_above"] = _write_csv(far, out / FAR_RUNS_FILE)
        files = rep.write(out)
        paths.update(html=files["html"], markdown=files["markdown"], figures=files["figures"])
        summary = fit.to_dict(prob)
        summary["timings"] = dict(summary["timings"])
        summary["timings"]["report_seconds"] = round(time.perf_counter() - t0 - fit.timings["total_seconds"], 3)
        summary["timings"]["wall_seconds"] = round(time.perf_counter() - t0, 3)
        summary["loss_unit_of_runs"] = loss_unit
        summary["workflow_notes"] = notes
        summary["notes"] = [style(n) for n in summary["notes"]]  # the fit's notes, advice as the terminal said it
        summary["predictions"] = pred.to_dict(orient="records")
        if front is not None:
            summary["frontier"] = front.to_dict(orient="records")
        paths["summary"] = write_json(summary, out / "summary.json")
        written = {p.name for p in paths.values() if isinstance(p, Path)} | {p.name for p in files["figures"]}
        for name in REPORT_FILES:  # an earlier run's results that this run does not replace (force=True)
            if name not in written:
                (out / name).unlink(missing_ok=True)
        return summary

    summary = step("tables", "bayes-scaling predict DIR --at TARGETS.csv" + dom_flag, tables)
    return FitReport(fit=fit, predictions=pred, frontier=front, report=rep, summary=summary, paths=paths, notes=notes)


#: The table of the runs far above the law (:func:`~bayes_scaling.report.runs_far_above`) that :func:`fit_and_report`
#: writes, and its terminal note and report name.
FAR_RUNS_FILE = "runs_far_above.csv"

#: Files :func:`fit_and_report` may write next to the saved fit; with ``force`` an earlier run's that a new run does
#: not write are removed (a one-domain fit over a three-domain result left its fit_domains.png and departures.png),
#: other files are left alone.
REPORT_FILES = ("predictions.csv", "frontier.csv", FAR_RUNS_FILE, "report.html", "report.md", "summary.json",
                *(f"{name}.png" for name in FIT_REPORT_FIGURES))

#: Files :func:`write_decision` may write (``pilots.csv`` and ``frontier.csv`` only with pilots and budgets).
DECISION_FILES = ("decision.csv", "pilots.csv", "frontier.csv", "decision.html", "decision.md", "net_value.png")


def write_decision(decision, out, *, force: bool = False, title: str = "Investment decision",
                   data_note: str = "") -> dict[str, Path]:
    """Write an investment decision: its tables as CSV and its report (what ``bayes-scaling decide`` writes).

    Parameters
    ----------
    decision : InvestmentDecision
        From :func:`bayes_scaling.decisions.decide`.
    out : str or Path
        Output directory (created).
    force : bool, default False
        Write into a directory that is not empty; the decision files of an earlier run that this
        one does not write (e.g. ``pilots.csv`` when there are no pilots now) are removed, other
        files are left alone.
    title, data_note : str
        The report's title and a sentence on where the fit, plans and prices came from.

    Returns
    -------
    dict of Path
        ``decision`` (decision.csv: one row per option), ``pilots`` (pilots.csv) and
        ``frontier`` (frontier.csv) when present, ``html`` (decision.html), ``markdown``
        (decision.md), ``figures`` (list: net_value.png).

    Raises
    ------
    FileExistsError
        ``out`` is a file, or a directory that is not empty and ``force`` is False.
    """
    out = Path(out)
    _check_out(out, force)
    rep = decision_report(decision, title=title, data_note=data_note)
    out.mkdir(parents=True, exist_ok=True)
    paths: dict = {"decision": _write_csv(decision.plans, out / "decision.csv")}
    if decision.pilots is not None:
        paths["pilots"] = _write_csv(decision.pilots, out / "pilots.csv")
    if decision.frontier is not None:
        paths["frontier"] = _write_csv(decision.frontier, out / "frontier.csv")
    files = rep.write(out, stem="decision")
    paths.update(html=files["html"], markdown=files["markdown"], figures=files["figures"])
    written = {p.name for p in paths.values() if isinstance(p, Path)} | {p.name for p in files["figures"]}
    for name in DECISION_FILES:  # an earlier run's files that this run does not replace
        if name not in written:
            (out / name).unlink(missing_ok=True)
    return paths
