"""Floor 3. The ``bayes-scaling backtest`` command: arguments, and printing and saving the scores."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import pandas as pd

from ..data import read_runs
from .runner import METHODS, backtest, normalise_methods
from .splits import SIZE_VARIABLES, Split

__all__ = ["add_backtest_arguments", "backtest_cli"]


def add_backtest_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add the ``backtest`` options to an argparse (sub)parser.

    Adds ``runs``, ``--split-by``, ``--cutoff``, ``--k-smallest``, ``--methods``,
    ``--prob`` (comma-separated levels), ``--n-boot``, ``--prior``, ``--reference``, ``--seed``,
    ``--n-jobs``, ``--out``, ``--points-out``, ``--force``, ``--quiet``. Do not add
    the CLI's common ``--prob`` option as well.

    Returns
    -------
    argparse.ArgumentParser
        The same parser.
    """
    parser.add_argument("runs", help="CSV with params, tokens (or flops), loss [, domain]")
    parser.add_argument("--split-by", dest="split_by", choices=list(SIZE_VARIABLES), default="flops",
                        help="size variable of the split (default flops)")
    parser.add_argument("--cutoff", type=float, default=None,
                        help="fit on runs with split-by < cutoff, score the rest (e.g. 1e21)")
    parser.add_argument("--k-smallest", dest="k_smallest", type=int, default=None,
                        help="instead of --cutoff: fit on the k smallest runs of each domain, score the rest")
    parser.add_argument("--methods", default=",".join(METHODS),
                        help=f"comma-separated methods (default all: {','.join(METHODS)})")
    parser.add_argument("--prob", default="0.5,0.8,0.9,0.95", help="interval probabilities scored (default 0.5,0.8,0.9,0.95)")
    parser.add_argument("--n-boot", dest="n_boot", type=int, default=200, help="bootstrap resamples (default 200)")
    parser.add_argument("--prior", default=None, help="prior of the bayes method (default: the package default)")
    parser.add_argument("--reference", default=None, help="reference runs of the bayes method: 'chinchilla' or a CSV")
    parser.add_argument("--seed", type=int, default=0, help="random seed (same seed, same numbers)")
    parser.add_argument("--n-jobs", dest="n_jobs", type=int, default=1, help="parallel workers (joblib; -1 = all cores)")
    parser.add_argument("--out", default=None, help="write the summary table to this CSV")
    parser.add_argument("--points-out", dest="points_out", default=None, help="write the per-run table to this CSV")
    parser.add_argument("--force", action="store_true", help="overwrite existing output files")
    parser.add_argument("--quiet", action="store_true", help="no progress messages")
    return parser


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


def backtest_cli(args) -> int:
    """``bayes-scaling backtest RUNS.csv --split-by flops --cutoff 1e21 ...``: print and save the scores.

    Parameters
    ----------
    args : argparse.Namespace or sequence of str
        Parsed options (see :func:`add_backtest_arguments`) or the argument list.
        The convention of ``bayes_scaling.cli`` is accepted too: ``--split-by
        smallest --k K`` (the K smallest runs of each domain by compute),
        ``--methods`` None (all), and a single float ``--prob`` (scored together
        with 0.5, 0.8, 0.9, 0.95).

    Returns
    -------
    int
        0 on success.

    Raises
    ------
    ValueError
        Neither or both of ``--cutoff`` and ``--k-smallest``, bad ``--prob``,
        unknown methods, non-positive ``--n-jobs`` other than -1.
    RunsTableError
        Unreadable or invalid runs, a cutoff leaving nothing to fit or to score.
    FileExistsError
        An output file exists and ``--force`` was not given.
    """
    if not isinstance(args, argparse.Namespace):
        parser = add_backtest_arguments(argparse.ArgumentParser(prog="bayes-scaling backtest"))
        args = parser.parse_args(list(args))
    g = lambda name, default=None: getattr(args, name, default)  # noqa: E731
    cutoff = g("cutoff")
    k = g("k_smallest") if g("k_smallest") is not None else g("k")
    by = g("split_by", "flops") or "flops"
    if by == "smallest":  # cli.py convention: --split-by smallest --k K (k smallest runs by compute)
        if k is None:
            raise ValueError("--split-by smallest needs --k (runs per domain used for fitting), e.g. --k 4.")
        by = "flops"
    if (cutoff is None) == (k is None):
        raise ValueError("give exactly one of --cutoff (e.g. --cutoff 1e21) and --k-smallest (e.g. --k-smallest 4).")
    split = Split.cutoff(by, cutoff) if cutoff is not None else Split.smallest(k, by)
    prob = g("prob", "0.5,0.8,0.9,0.95")
    probs = _parse_probs(prob)
    if isinstance(prob, float):  # a single --prob (the CLI's common option): score it with the default levels
        probs = sorted(set(probs) | {0.5, 0.8, 0.9, 0.95})
    names = [m.strip() for m in str(g("methods") or ",".join(METHODS)).split(",") if m.strip()]
    methods = normalise_methods(names)
    n_jobs = g("n_jobs", 1)
    if n_jobs is not None and n_jobs != -1 and n_jobs < 1:
        raise ValueError(f"--n-jobs must be a positive integer or -1, got {n_jobs}.")
    outs = [Path(p) for p in (g("out"), g("points_out")) if p]
    for p in outs:
        if p.exists() and not g("force", False):
            raise FileExistsError(f"'{p}' already exists; choose another path or pass --force to overwrite it.")
    spec = {}
    for label, base, kw in methods:
        if base == "bayes" and g("prior"):
            kw = {**kw, "prior": g("prior")}
        if base == "bayes" and g("reference"):
            kw = {**kw, "reference": g("reference")}
        spec[label] = {"method": base, **kw}
    if not g("quiet", False):
        print(f"[bayes-scaling] backtest {split.label}: methods {', '.join(spec)}", file=sys.stderr, flush=True)
    runs = read_runs(g("runs"))
    t0 = time.perf_counter()
    res = backtest(runs, split, spec, probs, random_seed=g("seed", 0), n_jobs=n_jobs, n_boot=g("n_boot", 200))
    if not g("quiet", False):
        print(f"[bayes-scaling] done in {time.perf_counter() - t0:.1f} s", file=sys.stderr, flush=True)
    show = res.summary.drop(columns=["density"])
    with pd.option_context("display.width", 200, "display.max_columns", 50):
        print(show.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    for path, df in ((g("out"), res.summary), (g("points_out"), res.points)):
        if path:
            p = Path(path)
            if p.parent and not p.parent.exists():
                p.parent.mkdir(parents=True, exist_ok=True)
            df.to_csv(p, index=False)
    return 0
