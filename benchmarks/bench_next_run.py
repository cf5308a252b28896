"""Issue 4 benchmarks: next-run backtest on OpenLM, and compare / next-run speed on the demo fit.

Next-run backtest (one domain at a time): start from the 3 runs at 20 tokens per
parameter with N <= 154M and the published prior; candidates are the other runs
of that domain with N <= 154M (21 runs); the target is the 1.4B model at 20 tokens
per parameter. The package ranks the candidates by expected shrinkage of the 90 %
interval of the expected loss at the target (preposterior importance reweighting,
``bayes_scaling.value_of_information.next_run``, ``rank_by="shrinkage"``), we add the
top candidate's *real* run and refit, and measure the new interval width. The
baseline adds a candidate chosen at random among the same candidates (the mean over
``N_RANDOM`` random picks). Reported: relative 90 % width at the target before, after
the package's choice, after a random choice, per domain and averaged.

Run: ``python benchmarks/bench_next_run.py [n_domains]`` (default 8 domains, ~5 min).
"""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd

from _common import Timer, machine, md_table, quiet

quiet()

import bayes_scaling as bs  # noqa: E402
from bayes_scaling.decisions import compare  # noqa: E402
from bayes_scaling.value_of_information import next_run  # noqa: E402

N_RANDOM = 4
COLS = ["params", "tokens", "loss"]


def width_at(fit, target) -> float:
    p = fit.predict(target, prob=0.9)
    return float(((p["mean_loss_upper"] - p["mean_loss_lower"]) / p["mean_loss_median"]).iloc[0])


def backtest_next_run(n_domains: int = 8, seed: int = 0) -> pd.DataFrame:
    df = bs.datasets.load_openlm()
    spec = bs.ScalingLaw(prior="besiroglu2024")
    rows = []
    rng = np.random.default_rng(seed)
    domains = sorted(df["domain"].unique())
    picked = [domains[i] for i in np.linspace(0, len(domains) - 1, n_domains).round().astype(int)]
    for dom in picked:
        d = df[df["domain"] == dom]
        small = d[d["params"] <= 1.6e8]
        start = small[np.isclose(small["tokens_per_param"], 20.0)]
        cands = small.drop(start.index)
        target = d[(d["params"] > 1e9) & (d["params"] < 2e9) & np.isclose(d["tokens_per_param"], 20.0)][["params", "tokens"]]
        fit0 = spec.fit(start[COLS], random_seed=seed)
        w0 = width_at(fit0, target)
        with Timer() as t:
            rank = next_run(fit0, cands[["params", "tokens"]], target, rank_by="shrinkage", random_seed=seed)
        best = rank.iloc[0]
        chosen = cands[(cands["params"] == best["params"]) & np.isclose(cands["tokens"], best["tokens"])].iloc[[0]]
        w_pkg = width_at(spec.fit(pd.concat([start, chosen])[COLS], random_seed=seed), target)
        w_rand = []
        for i in rng.choice(len(cands), size=N_RANDOM, replace=False):
            w_rand.append(width_at(spec.fit(pd.concat([start, cands.iloc[[i]]])[COLS], random_seed=seed), target))
        rows.append({
            "domain": dom,
            "width_before": w0,
            "package_choice": f"{best['params'] / 1e6:.0f}M x {best['tokens'] / best['params']:.0f} tok/param",
            "expected_width_after": float(best["width_after"]),
            "width_after_package": w_pkg,
            "width_after_random_mean": float(np.mean(w_rand)),
            "rank_seconds": t.seconds,
        })
    return pd.DataFrame(rows)


def speed_on_demo_fit() -> pd.DataFrame:
    runs = bs.datasets.load_chinchilla()
    fit = bs.ScalingLaw(prior="weak").fit(runs, random_seed=1)
    c = 1e22
    cands = pd.DataFrame({"params": [2e9, 4e9, 8e9, 16e9]})
    cands["tokens"] = c / (6 * cands["params"])
    with Timer() as t1:
        compare(fit, cands)
    grid = pd.DataFrame({"params": np.repeat([1e9, 3e9, 1e10], 4)})
    grid["tokens"] = grid["params"] * np.tile([5, 20, 80, 320], 3)
    with Timer() as t2:
        next_run(fit, grid, {"params": 7e10, "tokens": 1.4e12})
    return pd.DataFrame([
        {"command": "compare (4 splits of C = 1e22) on the demo fit", "seconds": t1.seconds},
        {"command": "next-run (12 candidates, 64 simulations each) on the demo fit", "seconds": t2.seconds},
    ])


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 8
    res = backtest_next_run(n)
    print(f"## next-run backtest on OpenLM ({machine()})\n")
    print(md_table(res))
    print(f"\nmean width after the package's choice {res['width_after_package'].mean():.4f} vs random "
          f"{res['width_after_random_mean'].mean():.4f} (before {res['width_before'].mean():.4f}); "
          f"package better in {(res['width_after_package'] < res['width_after_random_mean']).sum()}/{len(res)} domains")
    print("\n## speed on the demo fit\n")
    print(md_table(speed_on_demo_fit()))
