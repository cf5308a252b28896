"""Issue 13, item 3: every law's least-squares baseline is a fit of the same law.

Huber least squares (Hoffmann et al. 2022 Eq. 3; Besiroglu et al. 2024) fitted with the law the
Bayesian method uses on a data set, against the same procedure with the Chinchilla law, on the
splits of ``bench_backtest.py``:

* data-constrained runs (Muennighoff et al. 2023): fit N < 2B, forecast N >= 2B; the
  data-constrained law (unique tokens) against the Chinchilla law;
* dense runs of the routing data set (Clark et al. 2022): fit N <= 370M, forecast 481M, 708M, 1.3B
  (all at 130B tokens); the one-variable law in N against the Chinchilla law.

Each row is one method of :func:`bayes_scaling.backtest.backtest` (default grids of starts,
200 bootstrap resamples): ``mape`` is the median absolute percentage error of the median forecast,
``coverage_90`` the fraction of held-out runs inside the 90 % interval, ``crps`` the CRPS of log loss.

Run: ``python benchmarks/bench_baselines.py`` — prints a Markdown table.
"""

from __future__ import annotations

import time

import pandas as pd

from _common import machine, md_table, quiet

quiet()

import bayes_scaling as bs  # noqa: E402
from bayes_scaling.backtest import Split, backtest  # noqa: E402


def datasets():
    dc = bs.datasets.load_datablations()[["params", "tokens", "unique_tokens", "loss", "domain"]]
    routing = bs.datasets.load_routing()[["params", "tokens", "loss", "domain"]]
    return [
        ("datablations, fit N < 2B", dc, Split.cutoff("params", 2e9), "data_constrained"),
        ("routing dense, fit N <= 370M", routing, Split.cutoff("params", 4e8), "power_params"),
    ]


def methods(law: str) -> dict:
    out = {}
    for lw in (law, "chinchilla"):
        out[f"huber_ls[{lw}]"] = {"method": "huber_ls", "law": lw}
        out[f"huber_ls_bootstrap[{lw}]"] = {"method": "huber_ls_bootstrap", "law": lw}
    return out


def main() -> str:
    t0 = time.perf_counter()
    rows = []
    for name, runs, split, law in datasets():
        res = backtest(runs, split, methods=methods(law), random_seed=0, n_jobs=2)
        s = res.summary.copy()
        s.insert(0, "data set", name)
        rows.append(s)
    s = pd.concat(rows, ignore_index=True)
    cols = ["data set", "method", "law", "n_train", "n_heldout", "mape", "coverage_90", "width_90", "crps",
            "fit_seconds"]
    out = [
        "# Least-squares baselines of the same law (`python benchmarks/bench_baselines.py`)",
        "",
        f"Machine: {machine()}. Fresh run in {time.perf_counter() - t0:.0f} s (2 joblib workers). mape: median "
        "absolute percentage error (percent); coverage_90: held-out runs inside the 90 % interval; width_90: mean "
        "relative width of that interval; crps of log loss; fit_seconds summed over tasks.",
        "",
        md_table(s[cols]),
    ]
    return "\n".join(out)


if __name__ == "__main__":
    print(main())
