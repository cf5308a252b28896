"""Issue 6 benchmark: how fit time grows with the number of runs and of domains (2 cores).

Synthetic runs from the Besiroglu et al. (2024) law with 0.5 % noise. For each size the
first fit of a new model shape includes compilation (``cold``); a second fit of the same
shape reuses the compiled model (``warm``: data swapped with nutpie's ``with_data``).
Runs are fitted without the discrepancy term so that only the sampler's scaling is
measured; chains x draws = 4 x 500 (tune 500).

Run: ``python benchmarks/bench_scale.py [max_runs] [max_domains]`` (defaults 10000, 200).
"""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd

from _common import Timer, machine, md_table, quiet

quiet()

import bayes_scaling as bs  # noqa: E402
from bayes_scaling.laws import chinchilla_loss  # noqa: E402

PUB = {"E": 1.81686, "A": 482.006, "B": 2085.434, "alpha": 0.34781, "beta": 0.36585}
CFG = bs.SamplerConfig(draws=500, tune=500, chains=4)


def synth(n_runs: int, n_domains: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = np.exp(rng.uniform(np.log(5e7), np.log(1e10), n_runs))
    d = n * np.exp(rng.uniform(np.log(2), np.log(500), n_runs))
    dom = rng.integers(0, n_domains, n_runs)
    offset = rng.normal(0, 0.05, n_domains)[dom]
    loss = chinchilla_loss(n, d, **PUB) * np.exp(offset + rng.normal(0, 0.005, n_runs))
    return pd.DataFrame({"params": n, "tokens": d, "loss": loss, "domain": [f"d{i}" for i in dom]})


def fit_time(runs):
    spec = bs.ScalingLaw(prior="besiroglu2024", discrepancy="none", sampler=CFG)
    with Timer() as cold:
        f = spec.fit(runs, random_seed=0)
    with Timer() as warm:
        spec.fit(runs.assign(loss=runs["loss"] * 1.001), random_seed=1)
    return cold.seconds, warm.seconds, f.diagnostics.max_rhat


def main(max_runs=10_000, max_domains=200) -> str:
    rows = []
    for n in [v for v in (10, 100, 1_000, 10_000) if v <= max_runs]:
        c, w, r = fit_time(synth(n, 1))
        rows.append({"runs": n, "domains": 1, "cold_s": c, "warm_s": w, "max_rhat": r})
    for k in [v for v in (1, 10, 50, 200) if v <= max_domains]:
        c, w, r = fit_time(synth(8 * k, k))
        rows.append({"runs": 8 * k, "domains": k, "cold_s": c, "warm_s": w, "max_rhat": r})
    df = pd.DataFrame(rows)
    return f"## Fit time vs runs and domains ({machine()}, 4 chains x 500 draws)\n\n" + md_table(df)


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:]]
    print(main(*args))
