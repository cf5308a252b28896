"""Floor 6. Command-line interface: ``bayes-scaling demo | fit | predict | frontier | compare | risk | next-run | backtest
| decide``.

Columns: runs tables have ``params`` (N), ``tokens`` (D) or ``flops`` (C = 6ND),
``loss`` (nats/token) and optional ``domain``; forecasts add ``loss_median``,
``loss_lower``, ``loss_upper`` (one new run) and ``mean_loss_lower``,
``mean_loss_upper`` (expected loss).

Exit codes
----------
0  success
1  internal error (a bug: please report it; ``BAYES_SCALING_DEBUG=1`` shows the traceback)
2  bad input: runs/targets table, arguments, unknown prior or domain
3  sampling failed its convergence checks under ``--strict``
4  file problem: output exists (use ``--force``), saved fit missing or damaged

Errors are one readable line on stderr, never a traceback. Warnings are one
line each, prefixed ``warning:``. Progress goes to stderr, results to stdout.

A thin shell: ``demo`` and ``fit`` run :func:`bayes_scaling.workflow.fit_and_report`;
the other commands load a saved fit and call one analysis.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import math
import os
import re
import sys
import warnings
from collections import Counter
from pathlib import Path

import matplotlib
import pandas as pd

from ._text import did_you_mean, listed
from ._version import __version__
from .backtest import backtest_cli
from .baselines import FITTED_ON
from .backtest.command import add_backtest_arguments
from .costs import ValueModel, load_costs, load_value
from .data import (MIN_FLOPS, RunsTableError, RunsTableWarning, missing_domain_column, read_runs, unseen_domain_note,
                   validate_targets, warn_unseen_domain)
from .display import column_legend, print_table
from .datasets import NAMES as DATASET_NAMES
from .datasets import citation, embedded, load_chinchilla
from .datasets import load as load_dataset
from .fit import default_prior_name
from .decisions import (COMPARE_COLUMNS, DISCREPANCY_NOTE, check_constraints, check_metric, compare,
                        compare_loss_columns, compare_summary, decide, frontier_columns)
from .investment import STATUS_QUO, format_money
from .diagnostics import SamplingError
from .inference import SamplerConfig
from .inputs import MIN_TOKENS_PER_PARAM
from .io import FitFileError, fit_dir_problem, out_file_problem, saved_fit_dir
from .laws import get_law
from .posterior import ScalingFit
from .sensitivity import SENSITIVITY_LAW
from .predict import ExtrapolationWarning, forecast_column_legend, predict
from .extrapolation import list_extrapolation_priors
from .priors import list_priors
from .report import DATA_WARNING_NOTE, FRONTIER_WARNING_NOTE, LEFT_OUT_WARNING_NOTE, TARGET_WARNING_NOTE
from .risk import DEPARTURE_VS_CONFLICT, RISK_COLUMNS, prior_data_conflict, risk_table
from .value_of_information import MIN_SIMS, NEXT_RUN_COLUMNS, next_run
from .workflow import (NEW_DOMAIN, StepError, domain_frontiers, expand_targets, fit_and_report,
                       write_decision)

EXIT_OK, EXIT_INTERNAL, EXIT_INPUT, EXIT_SAMPLING, EXIT_FILE = 0, 1, 2, 3, 4

#: Headline targets of the demo (Chinchilla 70B on 1.4T tokens, Hoffmann et al. 2022 Table 1;
#: Gopher 280B on 300B tokens; a 7B model on 140B tokens; a 1T model on 20T tokens).
DEMO_TARGETS = [
    {"label": "Chinchilla 70B / 1.4T", "params": 70e9, "tokens": 1.4e12},
    {"label": "Gopher 280B / 300B", "params": 280e9, "tokens": 300e9},
    {"label": "7B / 140B", "params": 7e9, "tokens": 140e9},
    {"label": "1T / 20T", "params": 1e12, "tokens": 20e12},
]


class CliError(Exception):
    """An error with an exit code, printed as one line."""

    def __init__(self, message: str, code: int = EXIT_INPUT):
        super().__init__(message)
        self.code = code


def _progress(msg: str, quiet: bool = False) -> None:
    if not quiet:
        print(f"[bayes-scaling] {msg}", file=sys.stderr, flush=True)


_SHOWN: set[str] = set()

# Advice in library messages names Python settings (draws=2000, prior='besiroglu2024'); on the
# command line the same advice is a flag.
_SETTING = re.compile(r"\b(draws|tune|target_accept|max_treedepth|widen|min_tokens_per_param)=([0-9.]+)")
_CHOICE = re.compile(r"\b(prior|reference|loss_unit)='([\w.-]+)'")


def _as_flags(text: str) -> str:
    """Rewrite Python-style settings in advice as CLI flags (``draws=2000`` -> ``--draws 2000``)."""
    text = _SETTING.sub(lambda m: f"--{m.group(1).replace('_', '-')} {m.group(2)}", text)
    text = _CHOICE.sub(lambda m: f"--{m.group(1).replace('_', '-')} {m.group(2)}", text)
    return re.sub(r"SamplerConfig\((--[\w-]+ [0-9.]+)\)", r"\1", text)


def _showwarning(message, category, filename, lineno, file=None, line=None):
    """Print a warning as one line, once per run of the CLI (the runs table is validated when it is
    read and again by the fit, which would otherwise repeat every data warning)."""
    text = " ".join(str(message).split())
    if getattr(category, "cli_flags", True):  # advice a CLI flag can follow (not a downstream fit's)
        text = _as_flags(text)
    # the same warning about the same rows, named by file line when the file was read and by row index when the
    # table was checked again (predict's targets: a fresh run printed "row 15 (file line 16)" and then "row 14")
    key = re.sub(r"\brow \d+( \(file line \d+\))?", "row", text)
    if key in _SHOWN:
        return
    _SHOWN.add(key)
    print(f"warning: {text}", file=sys.stderr, flush=True)


def _error(message) -> None:
    """Print an error as exactly one line (messages may quote file content with line breaks)."""
    text = _as_flags(" ".join(str(message).split()))
    print(f"error: {text}", file=sys.stderr, flush=True)


def _tokens_per_param(text: str) -> float:
    """``--min-tokens-per-param``: a finite number >= 0, checked when the arguments are read (before any runs are)."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not (math.isfinite(value) and value >= 0):
        raise argparse.ArgumentTypeError(f"expects a finite number >= 0 (0 fits every run), not '{text}'")
    return value + 0.0  # "-0" is 0


def _floats(text: str, what: str, example: str = "1e21,5.88e23") -> list[float]:
    try:
        vals = [float(v) for v in text.replace(";", ",").split(",") if v.strip()]
    except ValueError:
        raise CliError(f"{what} must be comma-separated numbers such as {example}, got '{text}'.") from None
    if not vals:
        raise CliError(f"{what} is empty; give comma-separated numbers such as {example}.")
    return vals


def _one_prob(text: str) -> float:
    """``--prob`` of a command that takes one level: "0.9,0.5" is said to be predict's alone (a fresh user read argparse's
    "invalid float value: '0.9,0.5'" on frontier)."""
    try:
        return float(text)
    except ValueError:
        several = "," in text or ";" in text
        raise argparse.ArgumentTypeError(
            f"'{text}' is not one probability" + ("; only predict takes several levels (--prob 0.9,0.5)" if several
                                                  else " such as 0.9")) from None


def _prob(p: float) -> float:
    if not 0 < p < 1:
        raise CliError(f"--prob must be between 0 and 1 (e.g. 0.9), got {p}.")
    return p


#: A negative number in scientific notation ('-1e20'), which argparse takes for an option ("expected one argument").
_NEGATIVE_NUMBER = re.compile(r"^-(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")


def _join_negative_values(argv: list[str]) -> list[str]:
    """``['--budget', '-1e20']`` as ``['--budget=-1e20']``, so that the value reaches its check and its message."""
    out: list[str] = []
    for tok in argv:
        if out and _NEGATIVE_NUMBER.match(tok) and out[-1].startswith("--") and "=" not in out[-1]:
            out[-1] = f"{out[-1]}={tok}"
        else:
            out.append(tok)
    return out


def _check_args(args) -> None:
    """Checks of plain arguments, before anything is read, fitted or written."""
    if args.command == "predict":  # predict's levels, "0.9,0.5": the first and the others (backtest parses its own)
        probs = [_prob(p) for p in _floats(args.prob, "--prob", "0.9,0.5")]
        args.prob, args.extra_probs = probs[0], probs[1:]
        twice = sorted(p for p, n in Counter(round(p, 8) for p in probs).items() if n > 1)
        if twice:  # "(0.9 and 0.5, 0.5)" read as garbled (a fresh user's 0.9,0.5,0.5)
            raise CliError(f"--prob gives {' and '.join(f'{p:g}' for p in twice)} twice; give each level once, e.g. "
                           "0.9,0.5.")
    elif getattr(args, "prob", None) is not None and args.command != "backtest":
        _prob(args.prob)
    seed = getattr(args, "seed", None)
    if seed is not None and seed < 0:
        raise CliError(f"--seed must be a non-negative integer, got {seed}.")
    widen = getattr(args, "widen", None)
    if widen is not None and not widen > 0:
        raise CliError(f"--widen must be a positive factor (1 = the published prior, 2 = twice its spread), got {widen}.")
    threshold = getattr(args, "threshold", None)
    if threshold is not None and not threshold > 0:
        raise CliError(f"--threshold is a target loss in nats/token and must be positive, got {threshold}.")
    budget = getattr(args, "budget", None)  # next-run; '--budget 0' said "no candidate run fits the budget" (a fresh user)
    if budget is not None and not (math.isfinite(budget) and budget > 0):
        raise CliError(f"--budget must be a positive compute budget in FLOPs such as 1e21, got {budget:g}.")
    if getattr(args, "flops", None) and args.command != "backtest":
        values = _floats(args.flops, "--flops")
        if any(not v > 0 for v in values):
            raise CliError(f"--flops must be positive budgets in FLOPs such as 1e21,5.88e23, got '{args.flops}'.")
        if any(v < MIN_FLOPS for v in values):  # '--flops 22' failed after the fit, naming neither the flag nor the fix
            small = min(values)
            hint = f" (an exponent? write 1e{small:g})" if small < 100 and float(small).is_integer() else ""
            raise CliError(f"--flops {args.flops}: a budget of {small:g} FLOPs is below any training run "
                           f"({MIN_FLOPS:g}){hint}; give FLOPs, such as 1e22 (1 PF-day = 8.64e19 FLOPs).")
    if getattr(args, "sensitivity", False) and get_law(args.law).name != SENSITIVITY_LAW:  # in the flag's words
        raise CliError(f"--sensitivity compares the Chinchilla law's published priors; the '{args.law}' law has no such "
                       "set: leave --sensitivity out or fit --law chinchilla.", EXIT_INPUT)
    if args.command != "backtest":
        _sampler_config(args)


def _check_out_file(path: str | None, force: bool) -> Path | None:
    if path is None:
        return None
    problem = out_file_problem(path, force)  # also a folder that takes no file ('/proc/x.csv' gave a raw errno)
    if problem:
        raise CliError(problem, EXIT_FILE)
    return Path(path)


@contextlib.contextmanager
def _out_dir(out: str, force: bool, fit: bool = True):
    """The output directory of demo/fit; one this run created is removed again if the run fails before
    writing anything into it (no empty directories left behind by bad input)."""
    created = not Path(out).exists()
    p = _prepare_out_dir(out, force, fit)
    try:
        yield p
    except BaseException:
        if created and p.is_dir() and not any(p.iterdir()):
            p.rmdir()
        raise


def _prepare_out_dir(out: str, force: bool, fit: bool = True) -> Path:
    p = Path(out)
    if p.exists() and not p.is_dir():
        raise CliError(f"--out '{p}' is a file; give a directory.", EXIT_FILE)
    if p.exists() and any(p.iterdir()) and not force:
        raise CliError(
            f"output directory '{p}' already exists and is not empty; choose another --out or pass --force to replace its results.",
            EXIT_FILE,
        )
    problem = fit_dir_problem(p / "fit", suggest=False) if fit else None
    if problem:  # checked now, not after the sampling: the fit goes to DIR/fit, and --force replaces a saved fit only
        raise CliError(f"{problem} Move those files or choose another --out.", EXIT_FILE)
    p.mkdir(parents=True, exist_ok=True)
    return p


def _write_csv(df, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        df.to_csv(tmp, index=False)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)  # no stray temporary file when the write or the rename fails


def _sampler_config(args):
    kw = {}
    for k in ("draws", "tune", "chains", "max_treedepth"):
        v = getattr(args, k, None)
        if v is not None:
            if k == "tune" and v < 0:  # as SamplerConfig: no warm-up is allowed (a fixed, tuned step)
                raise CliError(f"--tune must be a non-negative integer, got {v}.")
            if k != "tune" and v < 1:
                raise CliError(f"--{k.replace('_', '-')} must be a positive integer, got {v}.")
            kw[k] = v
    if getattr(args, "sampler", None):
        kw["sampler"] = args.sampler
    ta = getattr(args, "target_accept", None)
    if ta is not None:
        if not 0.0 < ta < 1.0:
            raise CliError(f"--target-accept must be between 0 and 1 (exclusive), got {ta}; try 0.95.")
        kw["target_accept"] = ta
    return SamplerConfig(**kw)


def _extrapolation_update(args) -> bool | str:
    """``ScalingLaw(extrapolation_update=...)`` from ``--extrapolation-update`` / ``--no-extrapolation-update`` (neither:
    ``"auto"``, the library's default)."""
    return {None: "auto", True: True, False: False}[getattr(args, "extrapolation_update", None)]


def _run_fit_and_report(args, runs, out_dir: Path, *, title: str, data_note: str, targets=None, prior="weak",
                        law="chinchilla", reference=None, quiet=False):
    """:func:`bayes_scaling.workflow.fit_and_report` with the command's options; prints where the results are."""
    widen = getattr(args, "widen", None)
    said: set[str] = set()  # notes the progress lines showed on stderr (a fresh user read each note twice)

    def progress(msg: str) -> None:
        if msg.startswith("note: "):
            msg = _as_flags(msg)  # advice as flags, as in the notes printed below
            if not quiet:
                said.add(msg.removeprefix("note: "))
        _progress(msg, quiet=quiet)

    res = fit_and_report(
        runs, out_dir, law=law, prior=prior, widen=1.0 if widen is None else widen, reference=reference,
        targets=targets, flops=_floats(args.flops, "--flops") if getattr(args, "flops", None) else None,
        prob=_prob(args.prob), threshold=getattr(args, "threshold", None), random_seed=args.seed,
        sampler=_sampler_config(args), strict=getattr(args, "strict", False),
        domain_col=getattr(args, "domain_col", "domain") or "domain",
        discrepancy=getattr(args, "discrepancy", "auto") or "auto", loss_unit=getattr(args, "loss_unit", "nats") or "nats",
        extrapolation=getattr(args, "extrapolation", "learned") or "learned",
        extrapolation_update=_extrapolation_update(args),
        min_tokens_per_param=getattr(args, "min_tokens_per_param", MIN_TOKENS_PER_PARAM),
        title=title, data_note=data_note,
        force=True,  # _out_dir has checked --out (and --force) already
        progress=progress,
        advice_style=_as_flags,  # the report's notes give the advice as flags, as stderr does
        sensitivity=bool(getattr(args, "sensitivity", False)),
    )
    print(res.report.summary[0] if res.report.summary else "")
    for note in res.notes:  # the warnings were printed when they were raised, the notes in the progress lines
        # the frontier's warnings were printed as warnings when raised (a fresh user read each twice, then as a note)
        if (not note.startswith((DATA_WARNING_NOTE, LEFT_OUT_WARNING_NOTE, TARGET_WARNING_NOTE, FRONTIER_WARNING_NOTE))
                and note not in said):
            print(f"note: {note}")
    print(f"report: {res.paths['html']}")
    print(f"markdown: {res.paths['markdown']}")
    print(f"saved fit: {res.paths['fit']}")
    return res.fit


def cmd_demo(args) -> int:
    """Fit the embedded Chinchilla runs and write a report."""
    runs = load_chinchilla()
    targets = pd.DataFrame(DEMO_TARGETS)
    with _out_dir(args.out, args.force) as out, warnings.catch_warnings():
        # the embedded runs include 6.8B-parameter models on 245M tokens (0.04 tokens/param): real, known
        warnings.filterwarnings("ignore", message=".*tokens per parameter, outside.*")
        _run_fit_and_report(
            args, runs, out, title="bayes_scaling demo: Chinchilla runs (Hoffmann et al. 2022)",
            data_note="Data: " + citation("chinchilla") + " The prior is weakly informative because the published "
            "priors were fitted on these same runs.", targets=targets, prior="weak", quiet=args.quiet,
        )
    return EXIT_OK


def cmd_fit(args) -> int:
    """Fit a runs table and write a report."""
    name = embedded(args.runs)  # `fit chinchilla`, as `backtest chinchilla` and `--reference chinchilla`
    # an empty file's message suggests the law's header (params,tokens,loss for a data-constrained fit, which needs U)
    runs = load_dataset(name) if name else read_runs(args.runs, columns=(*get_law(args.law).variables, "loss"))
    if args.domain_col is not None and args.domain_col not in runs.columns:  # named, so meant: never fit one domain
        raise CliError(missing_domain_column(args.domain_col, args.runs, runs.columns), EXIT_INPUT)
    targets = None
    if args.targets:  # checked now, not after the fit
        needs = tuple(v for v in get_law(args.law).variables if v != "unique_tokens")
        targets = read_runs(args.targets, what="targets table")
        validate_targets(targets, needs=needs, domain_col=args.domain_col or "domain")
    reference = args.reference
    prior, prior_note = _prior_for_embedded(name, args.law, args.prior) if name else (args.prior, "")
    note = (f"Data: {citation(name)}" if name else f"Runs: {args.runs}") + (
        f"; reference runs: {reference}" if reference else "") + prior_note
    with _out_dir(args.out, args.force) as out, warnings.catch_warnings():
        if name:  # their quirks are in their provenance; a warning would name a row the user cannot fix (as backtest)
            warnings.simplefilter("ignore", RunsTableWarning)
        _run_fit_and_report(args, runs, out, title=f"Scaling-law forecast: {Path(args.runs).name}", data_note=note,
                            targets=targets, prior=prior, law=args.law, reference=reference, quiet=args.quiet)
    return EXIT_OK


def _prior_for_embedded(name: str, law: str, prior: str | None) -> tuple[str | None, str]:
    """The prior of a fit of the embedded data set ``name`` and a sentence for the data note: a published prior fitted
    on those same runs (:data:`~bayes_scaling.baselines.FITTED_ON`) would count them twice, so the default becomes the
    weak prior, as in ``demo``; one the user named is kept, with a warning and a sentence in the report's data note
    (the warning alone did not reach the report a reader gets: a fresh user)."""
    chosen = prior or default_prior_name(law)
    if FITTED_ON.get(chosen) != name:
        return prior, ""
    if prior is None:
        return "weak", f" The prior is weakly informative: the published prior '{chosen}' was fitted on these same runs."
    warnings.warn(f"the prior '{prior}' was fitted on the embedded '{name}' runs, so this fit counts them twice and its "
                  "intervals are too narrow; leave --prior out (or give --prior weak) for an honest fit.", UserWarning,
                  stacklevel=2)
    return prior, (f" The prior '{prior}' was fitted on these same runs, so this fit counts them twice and its "
                   "intervals are too narrow.")


def _load(dir_: str, domain: str | None = None) -> ScalingFit:
    """The saved fit in ``dir_``; a ``--domain`` that is not the fit's but close to one of its names gets a warning."""
    if not Path(dir_).exists():
        raise CliError(f"fit directory '{dir_}' does not exist; give the --out directory of a fit or demo run.", EXIT_FILE)
    fit = ScalingFit.load(dir_)
    if domain is not None and domain not in fit.domains and not fit.hierarchical:
        # it warned "gets the forecast for a new domain", then failed because a one-domain fit has none (a fresh user)
        hint = did_you_mean(domain, list(fit.domains), cutoff=0.8, contains=True)
        raise CliError(f"--domain '{domain}' is not a domain of this fit{f' ({hint})' if hint else ''}: the fit has a "
                       f"single domain, '{fit.domains[0]}', and no hierarchy, so it cannot forecast another domain; "
                       "leave --domain out, or refit with reference runs (--reference chinchilla).")
    if domain is not None:  # the API says it in the same words, so it is printed once
        warn_unseen_domain(domain, fit.domains)
    return fit


def _emit(df, out_path: Path | None, quiet: bool = False, legend: dict | None = None) -> None:
    """Print the table with what its columns mean (:func:`~bayes_scaling.display.print_table`: CSV alone with
    --quiet) and write it to --out."""
    print_table(df, column_legend(legend or {}, df.columns), quiet=quiet)
    if out_path is not None:
        _write_csv(df, out_path)
        _progress(f"wrote {out_path}", quiet)


def _several(fit: ScalingFit) -> bool:
    return len(fit.own_domains) > 1


def _say(text: str, quiet: bool = False) -> None:
    """A sentence under a table (a verdict, a conflict check): on stdout, or on stderr with --quiet, where stdout is
    the table alone, as CSV, for scripts that read it."""
    print(text, file=sys.stderr if quiet else sys.stdout)


def cmd_predict(args) -> int:
    """Forecast loss at targets from a saved fit."""
    out_path = _check_out_file(args.out, args.force)
    fit = _load(args.fit_dir, getattr(args, "domain", None))
    targets = args.at
    if args.domain is None and _several(fit):  # targets without a domain: every domain, and a new one
        targets = expand_targets(fit, targets)
    extra = getattr(args, "extra_probs", [])
    pred = predict(fit, targets, prob=_prob(args.prob), domain=args.domain, random_seed=args.seed, extra_probs=extra)
    _emit(pred, out_path, args.quiet, forecast_column_legend(args.prob, extra))
    # names a warning has already questioned (a near miss of a fitted name, unseen_domain_note) need no second word
    unseen = [d for d in pd.unique(pred.loc[pred["domain_kind"] == "new_domain", "domain"])
              if d != NEW_DOMAIN and not unseen_domain_note(d, fit.domains, "")]
    if unseen and fit.hierarchical:  # asked for by name, not added by expand_targets
        n = int(pred["domain"].isin(unseen).sum())
        _say(f"note: {n} target(s) name domain(s) this fit has not seen ({', '.join(map(repr, unseen))}): they get the "
              f"forecast of a new domain, wider than a fitted domain's (domain_kind 'new_domain'); the fitted domains "
              f"are {listed(map(repr, fit.own_domains), 6)}.", args.quiet)
    return EXIT_OK


def cmd_frontier(args) -> int:
    """Compute-optimal frontier from a saved fit."""
    out_path = _check_out_file(args.out, args.force)
    fit = _load(args.fit_dir, getattr(args, "domain", None))
    budgets = _floats(args.flops, "--flops")
    kw = dict(max_params=args.max_params, unique_tokens=args.unique_tokens, inference_tokens=args.inference_tokens or 0.0)
    try:
        check_constraints(fit, **kw, flags=True)
    except ValueError as exc:  # said in the flags' words
        raise CliError(str(exc)) from None
    # every domain and a new one, or the one asked for: with the notes of domain_frontiers either way (an optimum
    # outside the runs' tokens per parameter was said for several domains only)
    several = args.domain is None and _several(fit)
    fr, notes = domain_frontiers(fit, budgets, prob=_prob(args.prob),
                                 domains=None if several else [args.domain or fit.default_domain], **kw)
    # the discrepancy note is advice on the table, said under it as predict's notes are (a fresh user read it as a
    # "warning"); the others (allocations beyond the runs, undefined optima) are warnings, before the table
    advice = [n for n in notes if n.startswith(DISCREPANCY_NOTE)]
    for note in notes:
        if note not in advice:
            warnings.warn(note, UserWarning, stacklevel=1)
    if fr.empty:
        raise CliError("no domain has a defined compute-optimal frontier at these budgets." if several else
                       "the compute-optimal frontier is undefined at these budgets (see the warning above).")
    legend = frontier_columns(_prob(args.prob))
    if _several(fit):  # several domains: say whose row it is first, with or without --domain
        fr = fr[["domain"] + [c for c in fr.columns if c != "domain"]]
        # a fresh user read 0.0037-49006 tokens per parameter for the new domain "printed with no comment"
        legend = {"domain": f"the fitted domain, or '{NEW_DOMAIN}': one this fit has not seen, its parameters drawn "
                            f"from the population of the {len(fit.own_domains)} fitted domains, so its intervals span "
                            "how much domains may differ (wide with few domains)", **legend}
    _emit(fr, out_path, args.quiet, legend)
    for note in advice:
        _say(f"note: {note}", args.quiet)
    return EXIT_OK


def _need_domain(fit: ScalingFit, domain, table, what: str) -> None:
    """A command that compares rows within one domain needs it named in a fit of several domains."""
    if domain is not None or not _several(fit):
        return
    has = False
    try:
        has = bool(validate_targets(table, needs=tuple(v for v in fit.law.variables if v != "unique_tokens"),
                                    domain_col=fit.domain_col)["domain"]
                   .notna().any())
    except RunsTableError:
        return  # the analysis reports the table's problem itself
    if not has:
        raise _name_the_domain(fit, what)


def _name_the_domain(fit: ScalingFit, what: str) -> CliError:
    """The error of a command about rows of one domain, run on a fit of several without --domain."""
    return CliError(f"this fit has several domains ({', '.join(fit.own_domains)}); say which one the {what} are "
                    f"for with --domain NAME (a name the fit has not seen, e.g. --domain '{NEW_DOMAIN}', gives the "
                    "forecast for a new domain).")


def cmd_compare(args) -> int:
    """Compare candidate runs."""
    out_path = _check_out_file(args.out, args.force)
    fit = _load(args.fit_dir, getattr(args, "domain", None))
    _need_domain(fit, args.domain, args.candidates, "candidates")
    res = compare(fit, args.candidates, prob=_prob(args.prob), domain=args.domain, new_run=args.new_run)
    # the table by rank (a fresh user read it in the candidates' order); the loss columns' legend last, so that a
    # single run's expected_gap is said as such
    res = res.sort_values("rank", kind="stable")
    _emit(res, out_path, args.quiet, {**COMPARE_COLUMNS, **compare_loss_columns(args.new_run, args.prob)})
    _say(compare_summary(res), args.quiet)
    return EXIT_OK


def cmd_risk(args) -> int:
    """Transfer-risk table at targets: P(miss threshold), expected shortfall, departure from the published law."""
    out_path = _check_out_file(args.out, args.force)
    fit = _load(args.fit_dir, getattr(args, "domain", None))
    targets = args.at
    if args.domain is None and _several(fit):
        targets = expand_targets(fit, targets)
    table = risk_table(fit, targets, args.threshold, prob=_prob(args.prob), domain=args.domain)
    _emit(table, out_path, args.quiet, RISK_COLUMNS)
    flags = [prior_data_conflict(fit, dom) for dom in dict.fromkeys(d for d in table["domain"] if d in fit.domains)]
    for res in flags:
        _say(res["message"], args.quiet)
    if "p_departure" in table and any(f["flag"] == "none" for f in flags) and (table["p_departure"] > 0.5).any():
        _say(DEPARTURE_VS_CONFLICT, args.quiet)
    return EXIT_OK


def cmd_next_run(args) -> int:
    """Rank candidate next runs by expected interval shrinkage at the target per FLOP."""
    out_path = _check_out_file(args.out, args.force)
    if args.n_sims < MIN_SIMS:  # NumPy's "zero-size array to reduction" was all a fresh user read for --n-sims 0
        raise CliError(f"--n-sims must be at least {MIN_SIMS} (simulated outcomes per candidate), got {args.n_sims}; "
                       "the default is 64.")
    fit = _load(args.fit_dir, getattr(args, "domain", None))
    _need_domain(fit, args.domain, args.candidates, "candidates")
    target = pd.DataFrame([{"params": args.target_params, "tokens": args.target_tokens}])
    if args.target_unique_tokens is not None:
        if "unique_tokens" not in fit.law.variables:  # ignored silently, it would look as if repeats were forecast
            raise CliError(f"--target-unique-tokens is for a fit of the data-constrained law; this fit's law is "
                           f"'{fit.law.name}', which does not see repeated data. Drop the flag.")
        target["unique_tokens"] = args.target_unique_tokens
        if args.target_unique_tokens > args.target_tokens:  # the table's message said "in row 0" of no table
            raise CliError(f"--target-unique-tokens {args.target_unique_tokens:g} exceeds --target-tokens "
                           f"{args.target_tokens:g}: a run cannot see more unique tokens than it trains on; give "
                           "U <= D (U = D for a run that never repeats its data).")
    try:
        validate_targets(target)
    except RunsTableError as exc:  # said in the flags' words: the target is not a table the user wrote
        msg = str(exc).replace("targets column 'params'", "--target-params").replace("targets column 'tokens'",
                                                                                   "--target-tokens")
        msg = msg.replace("targets column 'unique_tokens'", "--target-unique-tokens")
        msg = re.sub(r", row \d+( \(file line \d+\))?:", ":", msg)
        raise CliError(msg.replace("fix or drop that target", "fix the flag")) from None
    res = next_run(fit, args.candidates, target, domain=args.domain, budget=args.budget, prob=_prob(args.prob),
                   n_sims=args.n_sims, random_seed=args.seed, rank_by=args.rank_by)
    _emit(res, out_path, args.quiet, NEXT_RUN_COLUMNS)
    return EXIT_OK


#: Size of one "point" of --value-per-point on the metric's scale: one percentage point of accuracy, or
#: 0.01 nats/token of loss.
POINT = 0.01


def _value_model(args, costs) -> ValueModel:
    """The value model of ``decide``: --value FILE, --value-per-point X with --baseline, or the costs file's [value]."""
    per_point = args.value_per_point
    if args.value and per_point is not None:
        raise CliError("give the value either as --value FILE or as --value-per-point X with --baseline B, not both.")
    if per_point is None and (args.baseline is not None or args.currency is not None):
        raise CliError("--baseline and --currency go with --value-per-point X (money per point of improvement).")
    if per_point is not None:
        if not per_point >= 0:
            raise CliError(f"--value-per-point is money per point of improvement and must be zero or positive, got "
                           f"{per_point:g}.")
        if args.baseline is None:
            unit = "nats/token of the current model's loss, e.g. --baseline 3.2" if args.metric == "loss" else \
                "score of the current product, e.g. --baseline 0.62"
            raise CliError(f"--value-per-point needs --baseline, the {unit}.")
        return ValueModel(metric=args.metric, higher_is_better=args.metric != "loss", baseline=args.baseline,
                          money_per_unit=per_point, unit=POINT, currency=args.currency or costs.currency)
    path = args.value or args.costs
    try:
        return load_value(path, currency=costs.currency)
    except ValueError as exc:
        if args.value is None and "has no [value] section" in str(exc):
            raise CliError(f"no value model: '{args.costs}' has no [value] section; add one, or give --value FILE (a "
                           "TOML file with a [value] section) or --value-per-point X with --baseline B.") from None
        raise


def _downstream(args):
    if args.metric == "loss":
        if args.downstream:
            raise CliError("--downstream is not used with --metric loss: give --metric TASK (or --metric mean) for a "
                           "downstream metric, or drop --downstream.")
        if args.group is not None:  # ignored silently, it would look as if the corpus had been taken into account
            raise CliError("--group is the training corpus for a downstream fit; give it with --downstream DIR and "
                           "--metric TASK, or drop it.")
        return None
    if not args.downstream:
        raise CliError(f"--metric {args.metric} is a downstream task: give --downstream DIR, a downstream fit saved "
                       "with DownstreamFit.save (bayes_scaling.downstream), or use --metric loss.")
    from .downstream import DownstreamFit

    if not Path(args.downstream).exists():
        raise CliError(f"downstream fit '{args.downstream}' does not exist; give the directory DownstreamFit.save "
                       "wrote.", EXIT_FILE)
    ds = DownstreamFit.load(args.downstream)
    problem = ds.corpus_problem(args.group)
    if problem:
        raise CliError(f"--group {problem} ('{args.downstream}'); drop --group.")
    if len(ds.groups) > 1:
        if args.group is None:
            raise CliError(f"the downstream fit '{args.downstream}' has several training corpora {ds.groups}: give "
                           "--group NAME, the corpus the plans would be trained on (a name it has not seen gets a new "
                           "corpus's forecast).")
        if args.group not in ds.groups:
            # said here in the flag's words; the library's own warning (DownstreamFit._shift_for) is silenced in decide
            hint = did_you_mean(args.group, ds.groups, cutoff=0.8)
            warnings.warn(f"--group '{args.group}' is not a training corpus of the downstream fit {ds.groups}, so it "
                          "gets a new corpus's forecast (a shift drawn from the spread between corpora)"
                          + (f"; {hint}" if hint else "."), UserWarning, stacklevel=1)
    return ds


def _decision_lines(res) -> list[str]:
    """The options (and pilots) as short aligned tables for the terminal, money in readable units."""
    c = res.currency
    t = res.plans
    # doing nothing costs nothing and earns nothing: "P(pays off) 0.00" there read as a verdict (a fresh user)
    rows = [(str(r["label"]), format_money(r["total_cost"], c), format_money(r["net_value_mean"], c),
             f"{format_money(r['net_value_lower'], c)} to {format_money(r['net_value_upper'], c)}",
             "-" if r["label"] == STATUS_QUO else f"{r['p_pays_off']:.2f}", f"{r['p_best']:.2f}")
            for _, r in t.iterrows()]
    head = ("option", "cost", "expected net value", f"{res.prob:.0%} interval", "P(pays off)", "P(best)")
    lines = _aligned(head, rows)
    if res.pilots is not None and len(res.pilots):
        prow = [(str(r["label"]), format_money(r["pilot_cost"], c), format_money(r["evsi"], c),
                 format_money(r["pilot_net_value"], c), f"{r['p_change']:.2f}", "yes" if r["worth_it"] else "no")
                for _, r in res.pilots.iterrows()]
        lines += [""] + _aligned(("pilot", "cost", "EVSI", "EVSI - cost", "P(changes decision)", "worth it"), prow)
    return lines


def _aligned(head, rows) -> list[str]:
    widths = [max(len(x) for x in col) for col in zip(head, *rows, strict=True)]
    fmt = lambda cells: "  ".join(x.ljust(w) if i == 0 else x.rjust(w) for i, (x, w) in enumerate(zip(cells, widths,  # noqa: E731
                                                                                                      strict=True)))
    return [fmt(head)] + [fmt(r) for r in rows]


def cmd_decide(args) -> int:
    """Which plan to fund, P(pays off), and the value of a pilot: money from a saved fit."""
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise CliError(f"--out '{out}' is a file; give a directory.", EXIT_FILE)
    if saved_fit_dir(out) is not None:
        # a fit's directory has its own frontier.csv and report, which --force would replace
        raise CliError(f"--out '{out}' holds a saved fit and its tables; write the decision to another directory "
                       "(the default is bayes-scaling-decision).", EXIT_FILE)
    if out.exists() and any(out.iterdir()) and not args.force:
        raise CliError(f"output directory '{out}' already exists and is not empty; choose another --out or pass "
                       "--force to replace its decision files.", EXIT_FILE)
    # '--budgets ""' gave no budget table without a word; a budget given twice was one row twice (a fresh user)
    budgets = (list(dict.fromkeys(_floats(args.budgets, "--budgets", "1e5,1e6 (money)")))
               if args.budgets is not None else None)
    if budgets is not None and any(not b > 0 for b in budgets):
        raise CliError(f"--budgets must be positive amounts of money such as 1e5,1e6, got '{args.budgets}'.")
    costs = load_costs(args.costs)
    value = _value_model(args, costs)
    fit = _load(args.fit_dir, getattr(args, "domain", None))
    downstream = _downstream(args)
    if args.domain is None and _several(fit):
        raise _name_the_domain(fit, "plans")
    check_metric(args.metric, value, downstream)  # a wrong --metric is said before any progress line
    _progress("drawing the forecasts of the plans" + (" and pilots" if args.pilots else ""), args.quiet)
    with warnings.catch_warnings():
        # an unseen --group was warned about in the flag's words (_downstream)
        warnings.filterwarnings("ignore", message="group '.*' is not a training corpus of this fit")
        # plans far beyond the runs: the verdict below says it (decide puts it there for the report), so once
        warnings.filterwarnings("ignore", category=ExtrapolationWarning)
        warnings.filterwarnings("ignore", message="The loss fit and the downstream fit disagree")  # the verdict says it
        res = decide(fit, args.plans, costs, value, metric=args.metric, downstream=downstream, group=args.group,
                     pilots=args.pilots, budgets=budgets, domain=args.domain, prob=_prob(args.prob),
                     random_seed=args.seed)
    note = (f"Fit: {args.fit_dir}; plans: {args.plans}; costs: {args.costs}"
            + (f"; value: {args.value}" if args.value else "") + (f"; pilots: {args.pilots}" if args.pilots else "")
            + (f"; downstream fit: {args.downstream}" if args.downstream else "")
            + (f"; training corpus (--group): {args.group}" if args.group else "") + f"; seed {args.seed if args.seed is not None else fit.random_seed}.")
    with _out_dir(str(out), args.force, fit=False) as out_dir:
        paths = write_decision(res, out_dir, force=True, data_note=note)  # --out and --force checked above
    if args.quiet:  # as --help says for every command: the table alone on stdout, as CSV (the decision.csv rows)
        sys.stdout.write(res.table.to_csv(index=False))
    else:
        print("\n".join(_decision_lines(res)))
        print()
    _say(res.summary_text(), args.quiet)
    _say(f"report: {paths['html']}", args.quiet)
    _say(f"tables: {', '.join(str(paths[k]) for k in ('decision', 'pilots', 'frontier') if k in paths)}", args.quiet)
    return EXIT_OK


def cmd_backtest(args) -> int:
    """Backtest: fit below a scale cutoff, score forecasts of the rest (see bayes_scaling.backtest)."""
    return backtest_cli(args)


class _Parser(argparse.ArgumentParser):
    """argparse with the CLI's error contract: one ``error:`` line on stderr, exit code 2."""

    def error(self, message):  # noqa: D102 - argparse API
        _error(f"{self.prog}: {message} (see '{self.prog} --help')")
        sys.exit(EXIT_INPUT)  # 2, as argparse itself


_FORMATS = "CSV, .xlsx, .parquet or .json"
#: The sampler's defaults, quoted in --help (read from SamplerConfig so the text cannot drift from it).
_DEFAULT = SamplerConfig()


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (documented in the README); every option's help says what it does and its default."""
    p = _Parser(prog="bayes-scaling", description="Bayesian scaling-law forecasts with credible intervals.")
    p.add_argument("--version", action="version", version=f"bayes_scaling {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    def common(sp, seed=True, out_file=True, table=True, several_probs=False):
        if several_probs:  # predict: one table with 90 % and 50 % intervals (a fresh user called predict twice)
            sp.add_argument("--prob", default="0.9",
                            help="credible-interval probability, or several comma-separated (0.9,0.5): the first "
                                 "gives loss_lower/loss_upper and mean_loss_lower/mean_loss_upper, each other adds "
                                 "the same four columns suffixed by its percent (loss_lower_50, ...) (default: 0.9)")
        else:
            sp.add_argument("--prob", type=_one_prob, default=0.9, help="credible-interval probability (default: 0.9)")
        if seed:
            sp.add_argument("--seed", type=int, default=0, help="random seed; the same seed gives the same numbers "
                                                                "(default: 0)")
        quiet = ("no progress messages on stderr, and the table alone on stdout, as CSV: no column legend, and a "
                 "verdict or note goes to stderr (default: shown)" if table else
                 # fit and demo print no table: their headline, notes and paths stay on stdout (a fresh user read
                 # "notes go to stderr" in the help and found them on stdout)
                 "no progress messages on stderr; the headline, the notes and where the files are stay on stdout "
                 "(default: shown)")
        sp.add_argument("--quiet", action="store_true", help=quiet)
        sp.add_argument("--force", action="store_true", help="overwrite existing outputs (default: refuse)")

    def sampling(sp):
        sp.add_argument("--draws", type=int, default=None, help=f"posterior draws per chain (default: {_DEFAULT.draws})")
        sp.add_argument("--tune", type=int, default=None,
                        help="warm-up draws per chain (default: 300 for one domain, 1000 for several)")
        sp.add_argument("--chains", type=int, default=None, help=f"chains (default: {_DEFAULT.chains})")
        sp.add_argument("--sampler", choices=["nutpie", "pymc"], default=None, help="NUTS implementation (default: nutpie)")
        sp.add_argument("--target-accept", type=float, default=None, dest="target_accept",
                        help="NUTS target acceptance rate; raise it (0.95-0.99) against divergences "
                             f"(default: {_DEFAULT.target_accept:g})")
        sp.add_argument("--max-treedepth", type=int, default=None, dest="max_treedepth",
                        help="largest NUTS tree depth (default: 6 for one domain, 10 for several)")
        sp.add_argument("--strict", action="store_true",
                        help="exit with code 3 and write nothing when sampling diagnostics fail (default: warn and go on)")
        sp.add_argument("--discrepancy", choices=["auto", "gp", "none"], default="auto",
                        help="model-discrepancy term: auto uses it for domains with many runs (default: auto)")
        sp.add_argument("--extrapolation", choices=list_extrapolation_priors(), default="learned",
                        help="model-form error added beyond the runs, per decade of extrapolation: learned from "
                             "backtests of public data sets, one of them left out, or none (default: learned)")
        sp.add_argument("--extrapolation-update", action=argparse.BooleanOptionalAction, default=None,
                        dest="extrapolation_update",
                        help="update that error with the runs' own: each domain's largest runs forecast from a second "
                             "fit of its smaller ones (costs that fit); --extrapolation-update uses every domain that "
                             "can spare a run, --no-extrapolation-update never updates, see "
                             "benchmarks/extrapolation_update.md (default: from the domains with at least 3 runs in the "
                             "top third of their compute range, no update when none has them)")
        sp.add_argument("--min-tokens-per-param", type=_tokens_per_param, default=MIN_TOKENS_PER_PARAM,
                        dest="min_tokens_per_param", metavar="RATIO",
                        help="leave out of the fit the runs trained on fewer tokens per parameter than this (their "
                             "loss reflects a warm-up and schedule cut short); a domain keeps them when it would "
                             "otherwise keep fewer than 3 runs or under half; 0 fits every run (default: "
                             f"{MIN_TOKENS_PER_PARAM:g})")

    def domain_opt(sp, what):
        sp.add_argument("--domain", default=None,
                        help=f"domain of {what} without a domain column; a name the fit has not seen gives the forecast "
                             "for a new domain (default: the fit's only domain; in a fit of several domains, every "
                             "domain and a new one)")

    def out_file(sp, what):
        sp.add_argument("--out", default=None, help=f"write {what} to this CSV file (default: print only)")

    d = sub.add_parser("demo", help="fit the embedded Chinchilla runs and write a report")
    d.add_argument("--out", default="bayes-scaling-demo", help="output directory (default: ./bayes-scaling-demo)")
    common(d, table=False)
    sampling(d)
    d.set_defaults(func=cmd_demo)

    f = sub.add_parser("fit", help="fit a runs table and write a report, the saved fit and the tables")
    f.add_argument("runs", help=f"runs table ({_FORMATS}) with params, tokens (or flops), loss [, domain], or the "
                   f"name of an embedded data set ({', '.join(DATASET_NAMES)})")
    f.add_argument("--out", required=True, help="output directory (required; created)")
    f.add_argument("--prior", default=None, help=f"prior from the catalog: {', '.join(list_priors())} "
                                                 "(default: the law's published prior, besiroglu2024 for chinchilla)")
    f.add_argument("--widen", type=float, default=1.0,
                   help="multiply the prior's standard deviations, i.e. trust it less (default: 1)")
    f.add_argument("--law", default="chinchilla",
                   help="chinchilla, kaplan, data_constrained, power_params, power_tokens, power_flops (default: chinchilla)")
    f.add_argument("--domain-col", default=None, dest="domain_col",
                   help="column naming each run's domain (default: domain, if the table has one)")
    f.add_argument("--reference", default=None,
                   help="reference runs fitted alongside as another domain: 'chinchilla' (embedded) or a runs file "
                        "(default: none)")
    f.add_argument("--targets", default=None,
                   help=f"forecast targets ({_FORMATS}) with params, tokens or flops [, domain]; a row without a domain "
                        "is forecast for every domain and a new one (default: the compute-optimal runs at the "
                        "--flops budgets when given, else at 10x and 100x each domain's largest compute)")
    f.add_argument("--threshold", type=float, default=None,
                   help="target loss, in the unit of --loss-unit: the report gives P(loss > threshold) at the first "
                        "target (default: none)")
    f.add_argument("--flops", default=None, help="budgets for the frontier table, e.g. 1e21,5.88e23, and without "
                                                 "--targets their compute-optimal runs are the forecast targets "
                                                 "(default: those of 1e21,1e22,1e23,5.88e23 within 1000x of the "
                                                 "runs' compute, else 10x, 100x and 1000x the largest run's)")
    f.add_argument("--sensitivity", action="store_true",
                   help="also refit under each published prior of the Chinchilla law and the weak prior, and report "
                        "how the compute-optimal allocation depends on the prior (three more fits; one domain of runs; "
                        "default: off)")
    f.add_argument("--loss-unit", choices=["nats", "bits"], default="nats", dest="loss_unit",
                   help="unit of the runs' loss column: nats (natural log) or bits (log2, converted to nats) "
                        "(default: nats)")
    common(f, table=False)
    sampling(f)
    f.set_defaults(func=cmd_fit)

    pr = sub.add_parser("predict", help="forecast loss at targets from a saved fit")
    pr.add_argument("fit_dir", help="directory written by fit/demo (or its 'fit' subdirectory)")
    pr.add_argument("--at", required=True, help=f"targets ({_FORMATS}) with params and tokens (or flops) [, domain] "
                                                "(required)")
    domain_opt(pr, "targets")
    pr.add_argument("--seed", type=int, default=None,
                    help="random seed of the forecast draws, as predict(random_seed=) in Python; a target's numbers "
                         "depend only on it, its domain and its sizes (default: the fit's seed)")
    out_file(pr, "the forecast table")
    common(pr, seed=False, several_probs=True)
    pr.set_defaults(func=cmd_predict)

    fr = sub.add_parser("frontier", help="compute-optimal allocation over budgets")
    fr.add_argument("fit_dir", help="directory written by fit/demo (or its 'fit' subdirectory)")
    fr.add_argument("--flops", required=True, help="budgets in FLOPs, e.g. 1e21,5.88e23 (required)")
    fr.add_argument("--domain", default=None,
                    help="domain of the frontier; a name the fit has not seen gives a new domain's (default: the "
                         "fit's only domain; in a fit of several domains, every domain and a new one)")
    fr.add_argument("--max-params", type=float, default=None, dest="max_params",
                    help="largest allowed model size N (default: no limit)")
    fr.add_argument("--unique-tokens", type=float, default=None, dest="unique_tokens",
                    help="unique tokens available, data-constrained law (default: unlimited)")
    fr.add_argument("--inference-tokens", type=float, default=None, dest="inference_tokens",
                    help="tokens to be served after training, 2N FLOPs each (Sardana et al. 2024) (default: 0)")
    out_file(fr, "the frontier table")
    common(fr, seed=False)
    fr.set_defaults(func=cmd_frontier)

    c = sub.add_parser("compare", help="compare candidate runs: loss, P(best), expected gap")
    c.add_argument("fit_dir", help="directory written by fit/demo (or its 'fit' subdirectory)")
    c.add_argument("--candidates", required=True,
                   help=f"candidate runs ({_FORMATS}) with params and tokens (or flops) [, unique_tokens] [, label] "
                        "[, domain]: rows of several domains are each forecast in their own domain, which ranks data "
                        "mixes or recipes at one size (required)")
    c.add_argument("--domain", default=None,
                   help="domain of the candidates; a name the fit has not seen gives a new domain's forecast "
                        "(default: the fit's only domain; in a fit of several domains, this or a domain column)")
    c.add_argument("--new-run", action="store_true", dest="new_run",
                   help="compare single runs, run-to-run noise included (default: expected losses)")
    out_file(c, "the comparison")
    common(c, seed=False)
    c.set_defaults(func=cmd_compare)

    r = sub.add_parser("risk", help="transfer risk at targets: P(miss threshold), shortfall, departure")
    r.add_argument("fit_dir", help="directory written by fit/demo (or its 'fit' subdirectory)")
    r.add_argument("--at", required=True, help=f"targets ({_FORMATS}) with params and tokens (or flops) [, domain] "
                                               "(required)")
    r.add_argument("--threshold", required=True, type=float, help="target loss in nats/token (required)")
    domain_opt(r, "targets")
    out_file(r, "the risk table")
    common(r, seed=False)
    r.set_defaults(func=cmd_risk)

    n = sub.add_parser("next-run", help="rank candidate next runs by expected interval shrinkage at the target")
    n.add_argument("fit_dir", help="directory written by fit/demo (or its 'fit' subdirectory)")
    n.add_argument("--candidates", required=True,
                   help=f"candidate runs ({_FORMATS}) with params and tokens (or flops) [, label] (required)")
    n.add_argument("--target-params", required=True, type=float, dest="target_params",
                   help="N of the run to forecast, a raw count such as 7e9 (required)")
    n.add_argument("--target-tokens", required=True, type=float, dest="target_tokens",
                   help="D of the run to forecast, a raw count such as 1.4e11 (required)")
    n.add_argument("--target-unique-tokens", type=float, default=None, dest="target_unique_tokens",
                   help="U of the run to forecast, unique tokens, for a fit of the data-constrained law (default: "
                        "the target's tokens, one epoch)")
    n.add_argument("--budget", type=float, default=None,
                   help="drop candidates costing more FLOPs (C = 6ND) than this (default: no budget)")
    n.add_argument("--rank-by", choices=["per_flop", "absolute"], default="per_flop", dest="rank_by",
                   help="rank by interval shrinkage per FLOP spent, or by shrinkage alone (default: per_flop)")
    n.add_argument("--n-sims", type=int, default=64, dest="n_sims",
                   help="simulated outcomes per candidate (default: 64)")
    n.add_argument("--seed", type=int, default=None,
                   help="random seed of the simulations; a candidate's numbers depend only on it and the candidate "
                        "(default: the fit's seed)")
    n.add_argument("--domain", default=None,
                   help="domain of the candidates and the target (default: the fit's only domain; required in a fit "
                        "of several domains)")
    out_file(n, "the ranking")
    common(n, seed=False)
    n.set_defaults(func=cmd_next_run)

    dc = sub.add_parser("decide", help="which plan to fund: net value in money, P(pays off), the value of a pilot")
    dc.add_argument("fit_dir", help="directory written by fit/demo (or its 'fit' subdirectory)")
    dc.add_argument("--plans", required=True,
                    help=f"candidate plans ({_FORMATS}) with params and tokens (or flops) [, label, unique_tokens] "
                         "(required)")
    dc.add_argument("--costs", required=True,
                    help="costs TOML file: currency, [training] price, optional [data], [inference], "
                         "fixed_cost_per_run and [value] (required)")
    dc.add_argument("--value", default=None,
                    help="TOML file with a [value] section: money per improvement of the metric (default: the costs "
                         "file's [value] section)")
    dc.add_argument("--value-per-point", type=float, default=None, dest="value_per_point",
                    help="money per point of improvement instead of a value file: a point is 0.01 of the metric (one "
                         "accuracy point, or 0.01 nats/token of loss); needs --baseline (default: none)")
    dc.add_argument("--baseline", type=float, default=None,
                    help="metric of the current product, with --value-per-point (default: none)")
    dc.add_argument("--currency", default=None,
                    help="currency of --value-per-point; must be the costs file's (default: the costs file's)")
    dc.add_argument("--metric", default="loss",
                    help="what the value is paid for: loss (one new run's, nats/token), a task of --downstream, or "
                         "mean (of its tasks) (default: loss)")
    dc.add_argument("--downstream", default=None,
                    help="directory of a saved downstream fit (DownstreamFit.save), for a task metric (default: none)")
    dc.add_argument("--group", default=None,
                    help="training corpus of the plans, for a downstream fit of several corpora (default: none)")
    dc.add_argument("--pilots", default=None,
                    help=f"candidate pilot runs ({_FORMATS}), same columns as --plans: each is valued by its expected "
                         "value of sample information (default: none)")
    dc.add_argument("--budgets", default=None,
                    help="money budgets, e.g. 1e5,1e6: the best model size each buys under the costs "
                         "(default: none)")
    dc.add_argument("--domain", default=None,
                    help="domain of the plans; a name the fit has not seen gives a new domain's forecast (default: the "
                         "fit's only domain; required in a fit of several domains)")
    dc.add_argument("--out", default="bayes-scaling-decision",
                    help="output directory for decision.csv, pilots.csv, frontier.csv, decision.html/.md "
                         "(default: ./bayes-scaling-decision)")
    dc.add_argument("--seed", type=int, default=None,
                    help="random seed; the same seed gives the same numbers (default: the fit's seed)")
    common(dc, seed=False)
    dc.set_defaults(func=cmd_decide)

    b = sub.add_parser("backtest", help="fit below a scale cutoff and score forecasts of the rest, against baselines")
    add_backtest_arguments(b)
    b.set_defaults(func=cmd_backtest)
    return p


def _resolve_fit_dir(args) -> None:
    d = getattr(args, "fit_dir", None)
    found = saved_fit_dir(d) if d else None
    if found is not None and found != Path(d):
        args.fit_dir = str(found)


def _font_fallback_line(record: logging.LogRecord) -> bool:
    """False for matplotlib's "findfont: Font family [...] not found. Falling back to ..." (kept otherwise)."""
    msg = record.getMessage()
    return not (msg.startswith("findfont: Font family") and "Falling back to" in msg)


def _quiet_font_fallback() -> None:
    """Drop matplotlib's font-fallback log lines from the command's stderr.

    Drawing mathtext makes matplotlib look for its STIX fallback font; with a font cache written by another
    matplotlib installation that lacks it, every figure logged "findfont: Font family ['STIXGeneral'] not found.
    Falling back to DejaVu Sans." (21 lines per fit, even with --quiet). The figure is drawn with DejaVu Sans either
    way, so the line says nothing a user can act on. Only the CLI's own process is changed (once).
    """
    lg = logging.getLogger("matplotlib.font_manager")
    if _font_fallback_line not in lg.filters:
        lg.addFilter(_font_fallback_line)


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``bayes-scaling``; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(_join_negative_values(list(sys.argv[1:] if argv is None else argv)))
    _resolve_fit_dir(args)
    warnings.showwarning = _showwarning
    _SHOWN.clear()
    os.environ.setdefault("MPLBACKEND", "Agg")
    _quiet_font_fallback()
    try:
        matplotlib.use("Agg")
        try:
            _check_args(args)  # plain argument errors before anything is read, fitted or written
            return args.func(args)
        except CliError as exc:
            _error(exc)
            return exc.code
        except RunsTableError as exc:
            _error(exc)
            return EXIT_INPUT
        except SamplingError as exc:
            _error(f"{exc} (exiting because of --strict)")
            return EXIT_SAMPLING
        except StepError as exc:  # the fit is saved; a later step failed: say which and how to redo it
            cause = exc.__cause__
            if os.environ.get("BAYES_SCALING_DEBUG") and cause is not None and not isinstance(
                    cause, (RunsTableError, ValueError, KeyError, FitFileError, OSError)):
                raise
            _error(exc)
            if isinstance(cause, (RunsTableError, ValueError, KeyError)):
                return EXIT_INPUT
            if isinstance(cause, (FitFileError, OSError)):
                return EXIT_FILE
            return EXIT_INTERNAL
        except (FitFileError, FileExistsError, FileNotFoundError, IsADirectoryError, PermissionError) as exc:
            _error(exc)
            return EXIT_FILE
        except NotADirectoryError as exc:  # e.g. --out below a file
            blocker = next((p for p in Path(str(exc.filename)).parents if p.exists()), None)
            _error(f"'{blocker}' is a file, not a directory; choose another output path." if blocker is not None
                   and blocker.is_file() else f"cannot write '{exc.filename}': not a directory.")
            return EXIT_FILE
        except BrokenPipeError:  # the reader went away (e.g. `| head`): nothing left to say to it
            with contextlib.suppress(OSError):
                sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - so that the interpreter's final flush is quiet
            return EXIT_OK
        except (ValueError, KeyError) as exc:
            _error(exc.args[0] if exc.args else exc)
            return EXIT_INPUT
    except KeyboardInterrupt:
        _error("interrupted")
        return 130
    except Exception as exc:  # noqa: BLE001 - the CLI never shows a traceback
        if os.environ.get("BAYES_SCALING_DEBUG"):
            raise
        _error(f"internal error ({type(exc).__name__}: {exc}); rerun with BAYES_SCALING_DEBUG=1 and report it.")
        return EXIT_INTERNAL


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
