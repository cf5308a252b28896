"""Shared helpers of the benchmark scripts (not part of the package)."""

from __future__ import annotations

import os
import platform
import time
import warnings

import pandas as pd


def quiet():
    warnings.simplefilter("ignore")
    os.environ.setdefault("MPLBACKEND", "Agg")


def machine() -> str:
    return f"{platform.python_implementation()} {platform.python_version()}, {os.cpu_count()} CPUs, {platform.machine()}"


def md_table(df: pd.DataFrame, floatfmt: str = ".4g") -> str:
    cols = list(df.columns)
    out = ["| " + " | ".join(str(c) for c in cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for _, r in df.iterrows():
        cells = []
        for c in cols:
            v = r[c]
            if isinstance(v, float):
                cells.append(format(v, floatfmt))
            else:
                cells.append(str(v))
        out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out)


def forecast_scores(g: pd.DataFrame, width: str = "mean") -> dict:
    """Median APE, median signed error (%), 50 % and 90 % coverage and the relative 90 % width (its ``width``:
    "mean" as ``width_90``, or "median" as ``median_width_90``) of some forecasts (``backtest`` points)."""
    import numpy as np

    y, f = g["loss"].to_numpy(), g["loss_median"].to_numpy()

    def cover(p):
        lo, hi = g[f"loss_lower_{p}"], g[f"loss_upper_{p}"]
        return float(((y >= lo) & (y <= hi)).mean()) if lo.notna().all() else np.nan

    rel = (g["loss_upper_90"] - g["loss_lower_90"]) / f
    return {"n": len(g), "median_ape_pct": 100 * float(np.median(np.abs(f - y) / y)),
            "median_signed_pct": 100 * float(np.median((f - y) / y)), "coverage_50": cover(50),
            "coverage_90": cover(90),
            **({"width_90": float(np.mean(rel))} if width == "mean" else {"median_width_90": float(np.median(rel))})}


def budget_split_tables(res, held: pd.DataFrame, largest: float, group: str, *, beyond_digits: int = 0,
                        width: str = "mean") -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The tables of an isoFLOP split's ``backtest`` result: per method, by budget and by domain (named ``group``).

    ``held`` carries each held-out run's ``budget`` (FLOPs); ``largest`` is the largest fitted compute, from which the
    "x beyond" column is counted (``beyond_digits`` decimals). Scores by :func:`forecast_scores`.
    """
    p = res.points.merge(held[["params", "tokens", "domain", "budget"]], on=["params", "tokens", "domain"], how="left")
    rows, by_budget, by_group = [], [], []
    for m, g in p.groupby("method"):
        s = res.summary.set_index("method").loc[m]
        rows.append({"method": m, **forecast_scores(g, width), "max_rhat": s["max_rhat"], "min_ess": s["min_ess"],
                     "divergent_pct": s["divergent_pct"], "fit_seconds": s["fit_seconds"]})
        for b, gg in g.groupby("budget"):
            by_budget.append({"method": m, "budget (FLOPs)": f"{b:.3g}", "x beyond": f"{b / largest:.{beyond_digits}f}",
                              **forecast_scores(gg, width)})
        for d, gg in g.groupby("domain"):
            by_group.append({"method": m, group: d, **forecast_scores(gg, width)})
    return pd.DataFrame(rows), pd.DataFrame(by_budget), pd.DataFrame(by_group)


#: Evaluation sets of the routing dense runs (Clark et al. 2022), each a domain in the benchmarks.
ROUTING_EVAL_SETS = ("c4", "curation_corpus", "lambada", "pile", "validation", "wikitext103")


def routing_domains() -> pd.DataFrame:
    """The routing dense runs on every evaluation set, one domain per set (``domain`` = the set's name)."""
    import bayes_scaling as bs

    return pd.concat([bs.datasets.load_routing(eval_set=ev).assign(domain=ev) for ev in ROUTING_EVAL_SETS],
                     ignore_index=True)


class Timer:
    def __enter__(self):
        self.t0 = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.t0
