"""Floor 5. The fit-and-report pipeline: :func:`fit_and_report`, what ``bayes-scaling fit`` and ``demo`` run.

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
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .decisions import frontier as frontier_table
from .fit import ScalingLaw
from .inference import SamplerConfig
from .intervals import check_prob
from .posterior import ScalingFit
from .predict import predict
from .report import Report, build_fit_report, figure_domain, risk_section, write_json

__all__ = ["fit_and_report", "FitReport", "default_targets", "DEFAULT_BUDGETS"]

#: Budgets (FLOPs) of the frontier table when none are given: 1e21 to the Chinchilla budget
#: (5.88e23 FLOPs, Hoffmann et al. 2022 Table 1).
DEFAULT_BUDGETS = (1e21, 1e22, 1e23, 5.88e23)


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
        Compute-optimal allocation per budget, as ``frontier.csv`` (None for a law without an N-D split), for
        the report's domain (:func:`bayes_scaling.report.figure_domain`).
    report : Report
        The report (``report.html``, ``report.md`` and the figures).
    summary : dict
        The content of ``summary.json``.
    paths : dict
        ``fit``, ``predictions``, ``frontier`` (if any), ``html``, ``markdown``, ``summary`` (Path)
        and ``figures`` (list of Path).
    """

    fit: ScalingFit
    predictions: pd.DataFrame
    frontier: pd.DataFrame | None
    report: Report
    summary: dict
    paths: dict = field(default_factory=dict)


def default_targets(fit: ScalingFit) -> pd.DataFrame:
    """Targets when none are given: compute-optimal runs at 10x and 100x each domain's largest compute.

    Parameters
    ----------
    fit : ScalingFit

    Returns
    -------
    pandas.DataFrame
        ``domain`` and ``params``, ``tokens`` (N rounded to a million) for a law with an
        N-D split; otherwise ``domain`` and the law's variable at 10x and 100x the largest run.
    """
    rows = []
    own = [d for d in fit.domains if d not in fit.reference_domains] or fit.domains
    for dom in own:
        runs = fit.runs[fit.runs["domain"] == dom]
        cmax = float(runs["flops"].max())
        if fit.law.has_allocation:
            fr = frontier_table(fit, [10 * cmax, 100 * cmax], domain=dom)
            for r in fr.itertuples():
                n = float(np.round(r.params_opt_median, -6 if r.params_opt_median > 1e7 else 0))
                rows.append({"domain": dom, "params": n, "tokens": float(r.flops / (6 * n))})
        else:
            var = fit.law.variables[0]
            for f in (10, 100):
                rows.append({"domain": dom, var: float(runs[var].max() * f)})
    return pd.DataFrame(rows)


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
    title: str = "Scaling-law forecast",
    data_note: str = "",
    force: bool = False,
    progress: Callable[[str], None] | None = None,
) -> FitReport:
    """Fit a runs table and write the saved fit, the tables and the report into ``out``.

    The same pipeline as ``bayes-scaling fit`` (and ``demo``): the fit is saved first
    (``out/fit``), then the forecasts (``predictions.csv``), the compute-optimal frontier
    (``frontier.csv``), the transfer-risk section (hierarchical fits), the report
    (``report.html``, ``report.md``, PNG figures) and ``summary.json`` are derived from it.

    Parameters
    ----------
    runs : DataFrame or path
        Runs table (see :mod:`bayes_scaling.data`).
    out : str or Path
        Output directory (created).
    law, prior, widen, discrepancy, domain_col
        See :class:`~bayes_scaling.ScalingLaw` (``prior=None``: the law's published prior).
    reference : {"chinchilla"}, path or DataFrame, optional
        Reference runs fitted alongside as sibling domains.
    targets : DataFrame or path, optional
        Forecast targets; default :func:`default_targets`.
    heldout : DataFrame, optional
        Held-out runs (``params``, ``tokens``, ``domain``, ``loss``): forecast, appended to
        the predictions with their ``loss`` and drawn on the fit figures.
    flops : sequence of float, optional
        Budgets of the frontier table; default :data:`DEFAULT_BUDGETS`.
    prob : float, default 0.9
        Interval probability.
    threshold : float, optional
        Target loss: P(loss > threshold) at the first target in the report's summary.
    random_seed : int, default 0
        The same seed gives the same numbers.
    sampler : SamplerConfig, optional
    strict : bool, default False
        Raise :class:`~bayes_scaling.diagnostics.SamplingError` (nothing is written)
        when sampling fails its checks.
    title, data_note : str
        Report title, and where the runs came from.
    force : bool, default False
        Replace the results in a non-empty ``out``.
    progress : callable, optional
        Called with one line of text at each step (the CLI prints them to stderr).

    Returns
    -------
    FitReport

    Raises
    ------
    RunsTableError
        Invalid runs or targets.
    SamplingError
        Failed convergence checks with ``strict=True``.
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
    say("validating runs and building the model")
    spec = ScalingLaw(law=law, prior=prior, widen=widen, sampler=sampler or SamplerConfig(), domain_col=domain_col,
                      discrepancy=discrepancy)
    say(f"fitting the {spec.law.name} law with prior '{spec.prior.name}' "
        f"({spec.sampler.chains} chains x {spec.sampler.draws} draws; the first fit in a process compiles the model: "
        "~15 s, up to 45 s the first time on a machine)")
    fit = spec.fit(runs, reference=reference, random_seed=random_seed, strict=strict, progress=False)
    say(f"fitted in {fit.timings['total_seconds']:.1f} s (compile {fit.timings['compile_seconds']:.1f} s, "
        f"sampling {fit.timings['sample_seconds']:.1f} s); diagnostics {'ok' if fit.diagnostics.ok else 'FAILED'}")
    for note in fit.notes:  # e.g. a quick one-domain fit that was sampled again with the long settings
        say(f"note: {note}")
    out.mkdir(parents=True, exist_ok=True)
    paths: dict = {"fit": fit.save(out / "fit", force=True)}  # saved before anything is derived from it
    if targets is None:
        targets = default_targets(fit)
    pred = predict(fit, targets, prob=prob)
    if heldout is not None and len(heldout):
        ho = predict(fit, heldout[["params", "tokens", "domain"]], prob=prob)
        ho["loss"] = heldout["loss"].to_numpy()
        ho["label"] = "held-out run"
        pred = pd.concat([pred, ho], ignore_index=True)
    front = None
    if fit.law.has_allocation:
        front = frontier_table(fit, DEFAULT_BUDGETS if flops is None else flops, prob=prob,
                               domain=figure_domain(fit, pred))  # None: the fit's one domain
    say("writing the report, figures, saved fit and tables")
    extra = []
    if fit.hierarchical:
        say("assessing transfer risk")
        sec = risk_section(fit, pred, threshold, prob=prob)
        if sec is not None:
            extra.append(sec)
    rep = build_fit_report(fit, pred, front, prob=prob, title=title, data_note=data_note, threshold=threshold,
                           heldout=heldout, extra_sections=extra)
    paths["predictions"] = _write_csv(pred, out / "predictions.csv")
    if front is not None:
        paths["frontier"] = _write_csv(front, out / "frontier.csv")
    files = rep.write(out)
    paths.update(html=files["html"], markdown=files["markdown"], figures=files["figures"])
    summary = fit.summary(prob)
    summary["timings"]["report_seconds"] = round(time.perf_counter() - t0 - fit.timings["total_seconds"], 3)
    summary["timings"]["wall_seconds"] = round(time.perf_counter() - t0, 3)
    summary["predictions"] = pred.to_dict(orient="records")
    if front is not None:
        summary["frontier"] = front.to_dict(orient="records")
    paths["summary"] = write_json(summary, out / "summary.json")
    return FitReport(fit=fit, predictions=pred, frontier=front, report=rep, summary=summary, paths=paths)
