"""Floor 3. The ``bayes-scaling backtest`` command: arguments, and printing and saving the scores."""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

from ..baselines import FITTED_ON, PUBLISHED_SOURCES
from ..data import RunsTableError, RunsTableWarning, missing_domain_column, read_runs
from .. import datasets
from ..display import column_legend, print_table
from ..extrapolation import list_extrapolation_priors
from ..fit import default_prior_name
from ..io import out_file_problem
from ..inference import SamplerConfig
from .runner import METHODS, backtest, normalise_methods
from .splits import SIZE_VARIABLES, Split

__all__ = ["add_backtest_arguments", "backtest_cli"]

#: The sampler's defaults, quoted in --help (read from SamplerConfig so the text cannot drift from it).
_DEFAULT = SamplerConfig()


def add_backtest_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add the ``backtest`` options to an argparse (sub)parser: the one parser of the command.

    ``bayes-scaling backtest`` and :func:`backtest_cli` with a list of strings both use it, so
    every flag a message suggests exists in both. Adds ``runs`` (a path, or an embedded data set by name), ``--law``, ``--split-by``
    (``params``, ``tokens``, ``flops`` or ``smallest``), ``--cutoff``, ``--k``, ``--methods``,
    ``--prob`` (comma-separated levels), ``--n-boot``, ``--prior``, ``--reference``, the
    sampler settings of the bayes method (``--draws``, ``--tune``, ``--chains``,
    ``--target-accept``, ``--max-treedepth``, ``--sampler``), ``--seed``, ``--n-jobs``,
    ``--out``, ``--points-out``, ``--force``, ``--quiet``.

    Returns
    -------
    argparse.ArgumentParser
        The same parser.
    """
    parser.add_argument("runs", help="runs table (CSV, .xlsx, .parquet or .json) with params, tokens (or flops), loss "
                        f"[, domain], or the name of an embedded data set ({', '.join(datasets.NAMES)})")
    parser.add_argument("--law", default=None,
                        help="law of the bayes method and of the least-squares baselines: chinchilla, kaplan, "
                             "data_constrained, power_params, power_tokens, power_flops (default: chinchilla)")
    parser.add_argument("--domain-col", default=None, dest="domain_col",
                        help="column naming each run's domain, as for fit (default: domain, if the table has one)")
    parser.add_argument("--split-by", dest="split_by", choices=[*SIZE_VARIABLES, "smallest"], default="flops",
                        help="how to split: fit the runs below --cutoff in params, tokens or flops, or 'smallest': fit "
                             "the --k smallest runs (by compute) of each domain; score the rest (default: flops)")
    parser.add_argument("--cutoff", type=float, default=None,
                        help="fit on runs with split-by < cutoff, score the rest, e.g. 1e21 (default: none; give "
                             "--cutoff or --split-by smallest --k K)")
    parser.add_argument("--k", dest="k", type=int, default=None,
                        help="with --split-by smallest: runs per domain used for fitting, e.g. 4 (default: none)")
    parser.add_argument("--heldout", default=None,
                        help="a file of runs to score, forecast from methods fitted on every run of RUNS: any split, "
                             "e.g. a published benchmark's (instead of --cutoff or --k; default: none)")
    parser.add_argument("--methods", default=None,
                        help=f"comma-separated methods (default: all, {','.join(METHODS)}; without the published "
                             "baselines for a law that has no published fit)")
    parser.add_argument("--prob", default="0.5,0.8,0.9,0.95",
                        help="interval probabilities scored, comma-separated (default: 0.5,0.8,0.9,0.95)")
    parser.add_argument("--n-boot", dest="n_boot", type=int, default=200,
                        help="bootstrap resamples of huber_ls_bootstrap (default: 200)")
    parser.add_argument("--prior", default=None,
                        help="prior of the bayes method (default: the law's published prior; weak for an embedded "
                             "data set that prior was fitted on)")
    parser.add_argument("--reference", default=None,
                        help="reference runs of the bayes method: 'chinchilla' or a runs file (default: none)")
    parser.add_argument("--extrapolation", choices=list_extrapolation_priors(), default=None,
                        help="bayes method: model-form error beyond the runs, as for fit; learned_without_<data set> "
                             "scores a data set of the package's catalog without its own errors (default: learned; "
                             "learned_without_<name> for an embedded data set given by name)")
    parser.add_argument("--draws", type=int, default=None,
                        help=f"bayes method: posterior draws per chain (default: {_DEFAULT.draws})")
    parser.add_argument("--tune", type=int, default=None,
                        help="bayes method: warm-up draws per chain (default: 300 for one domain, 1000 for several)")
    parser.add_argument("--chains", type=int, default=None, help=f"bayes method: chains (default: {_DEFAULT.chains})")
    parser.add_argument("--target-accept", dest="target_accept", type=float, default=None,
                        help=f"bayes method: NUTS target acceptance rate; raise it (0.95-0.99) against divergences "
                             f"(default: {_DEFAULT.target_accept:g})")
    parser.add_argument("--max-treedepth", dest="max_treedepth", type=int, default=None,
                        help="bayes method: largest NUTS tree depth (default: 6 for one domain, 10 for several)")
    parser.add_argument("--sampler", choices=["nutpie", "pymc"], default=None,
                        help="bayes method: NUTS implementation (default: nutpie)")
    parser.add_argument("--seed", type=int, default=0, help="random seed; the same seed gives the same numbers (default: 0)")
    parser.add_argument("--n-jobs", dest="n_jobs", type=int, default=1,
                        help="parallel workers (joblib; -1 = all cores) (default: 1)")
    parser.add_argument("--out", default=None, help="write the summary table (one row per method) to this CSV "
                                                    "(default: print only)")
    parser.add_argument("--points-out", dest="points_out", default=None,
                        help="write the per-run table to this CSV (default: not written)")
    parser.add_argument("--force", action="store_true", help="overwrite existing output files (default: refuse)")
    parser.add_argument("--quiet", action="store_true", help="no progress messages on stderr, and the summary table "
                        "alone on stdout, as CSV, without the column legend (default: shown)")
    return parser


def _sampler_of(g):
    """The bayes method's SamplerConfig from the sampler flags (None when none is given)."""
    kw = {k: g(k) for k in ("draws", "tune", "chains", "target_accept", "max_treedepth", "sampler") if g(k) is not None}
    for k in ("draws", "chains", "max_treedepth"):
        if k in kw and kw[k] < 1:
            raise ValueError(f"--{k.replace('_', '-')} must be a positive integer, got {kw[k]}.")
    if "tune" in kw and kw["tune"] < 0:
        raise ValueError(f"--tune must be a non-negative integer, got {kw['tune']}.")
    if "target_accept" in kw and not 0 < kw["target_accept"] < 1:
        raise ValueError(f"--target-accept must be between 0 and 1 (exclusive), got {kw['target_accept']}; try 0.95.")
    return SamplerConfig(**kw) if kw else None


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


#: What the less obvious columns of the printed summary mean (printed under it; see :mod:`bayes_scaling.backtest`).
BACKTEST_COLUMNS = {
    # every column explained (a fresh user found four of about twenty, and read 'mape' as a mean)
    "split": "which runs were fitted (below the cutoff) and which forecast",
    "method": "bayes (this package's fit), huber_ls (least squares of the same law per domain, Huber loss, from a "
              "grid of starts; plug-in intervals from its residuals), huber_ls_bootstrap (the same, median of "
              "bootstrap refits, intervals from their spread), published (the published fit as is), "
              "published_offset (the published fit with a loss offset per domain)",
    "law": "the law every method fits (published baselines: the published fit of that law)",
    "n_train": "runs the methods were fitted on",
    "n_heldout": "runs held out beyond the cutoff",
    "n_scored": "held-out runs the method forecast (fewer than n_heldout: see notes; its scores then cover only those)",
    "mape": "MEDIAN (not mean) absolute percentage error of the median forecast over the held-out runs, in percent "
            "(the name is kept for scripts)",
    "rmsle": "root mean squared error of log loss (about a relative error; punishes large misses more than mape)",
    "r2": "coefficient of determination of the median forecasts on the loss scale, pooled (1 is perfect)",
    "coverage_XX": "share of held-out runs inside the method's XX % interval (a calibrated method: about XX/100; "
                   "NaN for methods without intervals)",
    "width_90": "mean width of the 90 % interval relative to the median forecast (0.2 = 20 %)",
    "crps": "continuous ranked probability score of log loss (about a relative error; lower is better)",
    "log_pred_density": "mean log predictive density of the held-out log losses (higher is better; NaN without a "
                        "predictive distribution)",
    "fit_seconds": "wall time of the method's fits (all domains, bootstrap resamples)",
    "max_rhat": "the Bayesian fit's largest R-hat (<= 1.01 passes)",
    "min_ess": "the Bayesian fit's smallest effective sample size, bulk or tail (the notes give the bulk one)",
    "divergent_pct": "the Bayesian fit's divergent transitions, percent of draws (< 0.2 passes)",
    "notes": "what else the method reports: domains forecast by the population, runs it could not forecast",
}


def _legend(columns) -> str:
    """:data:`BACKTEST_COLUMNS` for the shown columns, ``coverage_XX`` spelt out for each level shown."""
    entries = {}
    for name, text in BACKTEST_COLUMNS.items():
        if name == "coverage_XX":
            for c in columns:
                if str(c).startswith("coverage_"):
                    level = str(c).removeprefix("coverage_")
                    entries[c] = text.replace("XX/100", f"{float(level) / 100:g}").replace("XX", level)
        else:
            entries[name] = text
    return column_legend(entries, columns)


def backtest_cli(args) -> int:
    """``bayes-scaling backtest RUNS.csv --split-by flops --cutoff 1e21 ...``: print and save the scores.

    Parameters
    ----------
    args : argparse.Namespace or sequence of str
        Parsed options (see :func:`add_backtest_arguments`) or the argument list.
        ``--split-by smallest --k K`` fits the K smallest runs of each domain (by compute).

    Returns
    -------
    int
        0 on success.

    Raises
    ------
    ValueError
        Neither or both of ``--cutoff`` and ``--split-by smallest --k``, bad ``--prob``,
        unknown methods, non-positive ``--n-jobs`` other than -1.
    RunsTableError
        Unreadable or invalid runs, a --domain-col that is not a column, a cutoff leaving nothing to fit or to score.
    FileExistsError
        An output file exists and ``--force`` was not given.
    """
    if not isinstance(args, argparse.Namespace):
        parser = add_backtest_arguments(argparse.ArgumentParser(prog="bayes-scaling backtest"))
        args = parser.parse_args(list(args))
    g = lambda name, default=None: getattr(args, name, default)  # noqa: E731
    cutoff = g("cutoff")
    k = g("k")
    by = g("split_by", "flops") or "flops"
    heldout = g("heldout")
    # a published split that no cutoff expresses (N < 4.2B and D < 600B) needed two files and two runs (a fresh user)
    if heldout is not None and (cutoff is not None or k is not None):
        raise ValueError("give --heldout (a file of runs to score, fitted on all of RUNS) or a split of RUNS "
                         "(--cutoff, or --split-by smallest --k), not both.")
    if heldout is not None:
        split = None
    elif by == "smallest":  # --split-by smallest --k K: the k smallest runs of each domain, by compute
        if cutoff is not None:
            # a fresh user gave --split-by smallest --cutoff 1e21 and was told only that --k was missing
            raise ValueError("give exactly one of --cutoff (e.g. --split-by flops --cutoff 1e21) and --split-by "
                             f"smallest --k K (e.g. --k 4): --cutoff {cutoff:g} goes with --split-by params, tokens "
                             "or flops, not with smallest.")
        if k is None:
            raise ValueError("--split-by smallest needs --k (runs per domain used for fitting), e.g. --k 4.")
        by = "flops"
    elif k is not None:
        raise ValueError(f"--k goes with --split-by smallest (the k smallest runs of each domain); with --split-by {by} "
                         "give --cutoff instead.")
    if heldout is None and (cutoff is None) == (k is None):
        raise ValueError("give exactly one of --cutoff (e.g. --split-by flops --cutoff 1e21) and --split-by smallest "
                         "--k K (e.g. --split-by smallest --k 4), or --heldout FILE.")
    if heldout is None:
        split = Split.cutoff(by, cutoff) if cutoff is not None else Split.smallest(k, by)
    probs = _parse_probs(g("prob", "0.5,0.8,0.9,0.95"))
    sampler = _sampler_of(g)
    law = g("law")  # before the baselines take the bayes method's law (normalise_methods)
    default = [m for m in METHODS if not (law and law not in PUBLISHED_SOURCES and m in ("published", "published_offset"))]
    # (the published baselines exist for the Chinchilla and data-constrained laws only: a fresh user's compute-only
    # table with --law power_flops was refused for want of the Chinchilla law's 'params')
    names = [m.strip() for m in str(g("methods") or ",".join(default)).split(",") if m.strip()]
    methods = normalise_methods({n: ({"law": law} if law and n in ("bayes", "huber_ls", "huber_ls_bootstrap") else {})
                                 for n in names})
    n_jobs = g("n_jobs", 1)
    if n_jobs is not None and n_jobs != -1 and n_jobs < 1:
        raise ValueError(f"--n-jobs must be a positive integer or -1, got {n_jobs}.")
    for flag, p in (("--out", g("out")), ("--points-out", g("points_out"))):
        problem = out_file_problem(p, g("force", False), flag) if p else None
        if problem:  # before the fit: the paths were first tried after it
            raise FileExistsError(problem)
    name = str(g("runs"))
    embedded = datasets.embedded(name) is not None
    prior, extrapolation, fair = g("prior"), g("extrapolation"), []
    if embedded:
        # as `fit chinchilla`: a prior or an extrapolation prior that has seen these runs scores itself, so the default
        # is the fair one (a fresh user ran `backtest chinchilla` with both, warned three times, and needed two flags
        # to reproduce the README's figures)
        seen_by = default_prior_name(law or "chinchilla")
        if prior is None and FITTED_ON.get(seen_by) == name:
            prior = "weak"
            fair.append(f"prior weak (the published '{seen_by}' was fitted on these runs)")
        if extrapolation is None and f"learned_without_{name}" in list_extrapolation_priors():
            extrapolation = f"learned_without_{name}"
            fair.append(f"extrapolation {extrapolation} (the default was learned from these runs' backtest errors)")
    spec = {}
    for label, base, kw in methods:
        if base == "bayes" and prior:
            kw = {**kw, "prior": prior}
        if base == "bayes" and g("reference"):
            kw = {**kw, "reference": g("reference")}
        if base == "bayes" and extrapolation:
            kw = {**kw, "extrapolation": extrapolation}
        if base == "bayes" and sampler is not None:
            kw = {**kw, "sampler": sampler}
        spec[label] = {"method": base, **kw}
    if not g("quiet", False):
        what = split.label if split is not None else f"fit {g('runs')}, score {heldout}"
        print(f"[bayes-scaling] backtest {what}: methods {', '.join(spec)}", file=sys.stderr, flush=True)
        if fair and "bayes" in {base for _, base, _ in methods}:
            print(f"[bayes-scaling] embedded '{name}' runs, scored out of sample: bayes with {'; '.join(fair)}; "
                  "name --prior or --extrapolation to choose otherwise", file=sys.stderr, flush=True)
    if embedded:  # as --reference chinchilla: the embedded runs by name
        runs = datasets.load(name)
        runs.attrs["what"] = f"embedded {name} runs"
    else:
        runs = read_runs(g("runs"))
    held = read_runs(heldout) if heldout is not None else None
    col = g("domain_col")
    if col is not None and col != "domain":
        for table, path in ((runs, g("runs")), (held, heldout)):
            if table is not None and col not in table.columns:
                raise RunsTableError(missing_domain_column(col, path, table.columns, action="score"))
        runs = runs.assign(domain=runs[col])  # the named column wins over a 'domain' column
        held = held.assign(domain=held[col]) if held is not None else None
    if held is not None:
        split = (runs, held)
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        if embedded:  # their quirks are in their provenance; a warning would name a row the user cannot fix (Chinchilla's
            # run at 0.036 tokens per parameter warned on the README's `backtest chinchilla` example)
            warnings.simplefilter("ignore", RunsTableWarning)
        res = backtest(runs, split, spec, probs, random_seed=g("seed", 0), n_jobs=n_jobs, n_boot=g("n_boot", 200))
    if not g("quiet", False):
        print(f"[bayes-scaling] done in {time.perf_counter() - t0:.1f} s", file=sys.stderr, flush=True)
    short = res.summary[res.summary["n_scored"] < res.summary["n_heldout"]]
    for _, row in short.iterrows():
        # said only at the end of the long notes column, off screen in --quiet's CSV (a fresh user: 35 runs of a
        # domain without fitting runs dropped from a baseline's score)
        warnings.warn(f"{row['method']} scored {int(row['n_scored'])} of the {int(row['n_heldout'])} held-out runs, so "
                      "its scores are not comparable with the others' (see its notes: e.g. a domain without fitting "
                      "runs).", UserWarning, stacklevel=2)
    show = res.summary.drop(columns=["density"])
    print_table(show, _legend(show.columns), quiet=g("quiet", False), digits=4, max_columns=50)
    for path, df in ((g("out"), res.summary), (g("points_out"), res.points)):
        if path:
            p = Path(path)
            if p.parent and not p.parent.exists():
                p.parent.mkdir(parents=True, exist_ok=True)
            df.to_csv(p, index=False)
    return 0
