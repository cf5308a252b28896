"""Issue 13 speed targets, with the package's default settings, on this machine (2 cores).

* OpenLM transfer: 24 domains x 4 runs (N <= 154M) + the Chinchilla runs as reference (target < 60 s);
* 8 domains x 50 runs (synthetic isoFLOP-like sweeps of the Besiroglu et al. 2024 law with per-domain
  offsets and 1 % noise; target < 90 s);
* one-domain warm refit (the compiled model reused, data swapped; target < 1 s): 5 OpenLM runs, and the 245
  Chinchilla runs (with its discrepancy term).

Each fit is timed cold (first fit of its model shape in this process: the compile included, or read from
the on-disk cache when a previous process compiled the same graph) and warm (refit, another seed), with its
diagnostics. Run: ``python benchmarks/bench_speed.py``.
"""

from __future__ import annotations

import time
import warnings

import numpy as np
import pandas as pd

from _common import machine, md_table, quiet

quiet()

import bayes_scaling as bs  # noqa: E402
from bayes_scaling.laws import chinchilla_loss  # noqa: E402

PUB = {"E": 1.81686, "A": 482.006, "B": 2085.434, "alpha": 0.34781, "beta": 0.36585}


def isoflop_domains(n_domains: int, n_runs: int, seed: int = 0) -> pd.DataFrame:
    """Synthetic isoFLOP sweeps: per domain, 5 budgets x n_runs/5 model sizes, its own E, A and exponents."""
    rng = np.random.default_rng(seed)
    rows = []
    budgets = np.geomspace(1e18, 1e20, 5)
    for d in range(n_domains):
        e = PUB["E"] * np.exp(rng.normal(0, 0.1))
        a = PUB["A"] * np.exp(rng.normal(0, 0.3))
        al = PUB["alpha"] * np.exp(rng.normal(0, 0.05))
        be = PUB["beta"] * np.exp(rng.normal(0, 0.05))
        for c in budgets:
            for n in np.geomspace(3e7, 3e9, n_runs // 5):
                t = c / (6 * n)
                loss = chinchilla_loss(n, t, e, a, PUB["B"], al, be) * np.exp(rng.normal(0, 0.01))
                rows.append({"params": n, "tokens": t, "loss": loss, "domain": f"recipe{d}"})
    return pd.DataFrame(rows)


def timed(spec, runs, seed, **kw):
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = spec.fit(runs, random_seed=seed, **kw)
    d = fit.diagnostics
    return {"seconds": time.perf_counter() - t0, "compile_s": fit.timings["compile_seconds"],
            "sample_s": fit.timings["sample_seconds"], "max_rhat": d.max_rhat,
            "min_ess": min(d.min_ess_bulk, d.min_ess_tail), "divergent_pct": 100 * d.divergences / d.n_draws,
            "ok": d.ok, "retried": bool(fit.notes)}


def main() -> str:
    rows = []
    train, _ = bs.datasets.openlm_transfer_split()
    cases = [
        ("OpenLM 24 x 4 + Chinchilla reference", bs.ScalingLaw(), train[["params", "tokens", "loss", "domain"]],
         {"reference": "chinchilla"}, 60.0),
        ("synthetic 8 domains x 50 runs", bs.ScalingLaw(), isoflop_domains(8, 50), {}, 90.0),
    ]
    openlm = bs.datasets.load_openlm()
    five = openlm[openlm["domain"] == openlm["domain"].iloc[0]].sort_values("flops").head(5)[["params", "tokens", "loss"]]
    five_b = openlm[openlm["domain"] == openlm["domain"].iloc[-1]].sort_values("flops").head(5)[["params", "tokens", "loss"]]
    for name, spec, runs, kw, target in cases:
        for kind, seed in (("cold", 0), ("warm", 1)):
            rows.append({"fit": name, "kind": kind, "target_s": target, **timed(spec, runs.reset_index(drop=True), seed, **kw)})
    spec = bs.ScalingLaw()
    rows.append({"fit": "one domain, 5 OpenLM runs", "kind": "cold", "target_s": np.nan,
                 **timed(spec, five.reset_index(drop=True), 0)})
    rows.append({"fit": "one domain, 5 OpenLM runs (another domain)", "kind": "warm", "target_s": 1.0,
                 **timed(spec, five_b.reset_index(drop=True), 1)})
    chin = bs.datasets.load_chinchilla()
    weak = bs.ScalingLaw(prior="weak")
    rows.append({"fit": "one domain, 245 Chinchilla runs", "kind": "cold", "target_s": np.nan, **timed(weak, chin, 0)})
    rows.append({"fit": "one domain, 245 Chinchilla runs", "kind": "warm", "target_s": 1.0, **timed(weak, chin, 1)})
    df = pd.DataFrame(rows)
    df["meets_target"] = np.where(df["target_s"].isna(), "", np.where(df["seconds"] <= df["target_s"], "yes", "NO"))
    return "\n".join([f"## Fit times with the default settings ({machine()})", "", md_table(df)])


if __name__ == "__main__":
    print(main())
