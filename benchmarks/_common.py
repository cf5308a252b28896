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
