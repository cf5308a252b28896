"""Issue 13: one-domain fits of 5 runs converge with the default settings.

For each of the 24 OpenLM domains (Gadre et al. 2024: 3 training corpora x 8 evaluation sets), fit the
Chinchilla law with the package defaults (published prior ``besiroglu2024``, 4 chains x 1000 draws) to the
domain's 5 smallest runs (by compute) and check the diagnostics: R-hat <= 1.01, bulk and tail ESS >= 400 and
fewer than 0.2 % divergent draws (``ScalingFit.diagnostics.ok``). The model is compiled once and reused.

Run: ``python benchmarks/bench_few_runs.py`` (prints the table for seeds 0 and 1; ~1 min on 2 cores).
"""

from __future__ import annotations

import time
import warnings

import pandas as pd

from _common import machine, md_table, quiet

quiet()

import bayes_scaling as bs  # noqa: E402


def main(seed: int = 0) -> str:
    openlm = bs.datasets.load_openlm()
    rows = []
    t0 = time.perf_counter()
    for dom in sorted(openlm["domain"].unique()):
        runs = openlm[openlm["domain"] == dom].sort_values("flops").head(5)[["params", "tokens", "loss"]]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = bs.ScalingLaw().fit(runs.reset_index(drop=True), random_seed=seed)
        d = fit.diagnostics
        rows.append({"domain": dom, "max_rhat": d.max_rhat, "min_ess_bulk": d.min_ess_bulk, "min_ess_tail": d.min_ess_tail,
                     "divergent_pct": 100 * d.divergences / d.n_draws, "retried": any("sampled again" in n for n in fit.notes),
                     "fit_seconds": fit.timings["total_seconds"], "ok": bool(d.ok)})
    df = pd.DataFrame(rows)
    n_ok = int(df["ok"].sum())
    lines = [f"## One-domain fits of 5 runs, default settings, 24 OpenLM domains, seed {seed} ({machine()})", "",
             md_table(df), "",
             f"{n_ok} of {len(df)} fits pass the diagnostics with the defaults (R-hat <= 1.01, ESS >= 400, < 0.2 % "
             f"divergent); {int(df['retried'].sum())} needed the automatic retry with the long settings; median fit "
             f"{df['fit_seconds'].median():.1f} s (the first includes compiling), all fits {time.perf_counter() - t0:.0f} s."]
    return "\n".join(lines)


if __name__ == "__main__":
    print("\n\n".join(main(seed) for seed in (0, 1)))
