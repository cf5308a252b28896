"""A hierarchical fit short of effective draws: its chains continued, against sampling again (the old retry).

With the default settings a hierarchical fit samples 1000 warm-up and 1000 draws per chain; when that fails the
checks for want of effective draws, it gets more draws (:class:`bayes_scaling.fit.RetryPolicy`). Before, it sampled
again from scratch with the larger number, warm-up included. Now the first attempt's chains go on
(:func:`bayes_scaling.inference.sample_posterior`, ``more_draws``). This script fits the synthetic 8 domains x 50
runs of ``bench_speed.py``, or the eight isoFLOP recipes of Porian et al. (2024) fitted to 1.6e18 FLOPs as in
``bench_porian_recipes.py``, at several seeds with the defaults. For each seed whose fit continued, it times the
old retry in the same process: an explicit-settings fit with 1000 draws, then one with the continued fit's draws.
It checks that the continued draws are those of the second.

Run: ``python benchmarks/bench_continue.py [synthetic|porian] [N_SEEDS] [DRAWS]`` (~1-4 min per seed on 2 cores);
prints a Markdown table. ``DRAWS`` (default 1000, the package's) is the first attempt's draws per chain, warm-up and
tree depth left to the package; fewer (e.g. 250) make every fit short of effective draws, so that each seed times a
continuation.
"""

from __future__ import annotations

import sys
import time
import warnings

import numpy as np
import pandas as pd

from _common import machine, md_table, quiet

quiet()

import bayes_scaling as bs  # noqa: E402
from bayes_scaling.inference import SamplerConfig  # noqa: E402
from bench_speed import isoflop_domains  # noqa: E402


def _fit(runs, seed, sampler=None):
    spec = bs.ScalingLaw(extrapolation_update=False, **({"sampler": sampler} if sampler else {}))
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = spec.fit(runs, random_seed=seed)
    return fit, time.perf_counter() - t0


def _runs(which: str) -> tuple[pd.DataFrame, str]:
    if which == "synthetic":
        return isoflop_domains(8, 50).reset_index(drop=True), "synthetic 8 domains x 50 runs"
    import bench_porian_recipes as porian

    train, _ = porian.runs_and_split()
    label = f"Porian et al. 2024, 8 recipes, {len(train)} runs to 1.6e18 FLOPs"
    return train[["domain", "params", "tokens", "loss"]].reset_index(drop=True), label


def main(which: str = "synthetic", n_seeds: int = 6, draws: int = 1000) -> str:
    t_all = time.perf_counter()
    runs, label = _runs(which)
    _fit(runs, 99, SamplerConfig(draws=100))  # compile once, outside the timings
    rows = []
    for seed in range(n_seeds):
        fit, seconds = _fit(runs, seed, SamplerConfig(draws=draws))
        continued = any("continued" in n for n in fit.notes)
        row = {"seed": seed, "continued": continued, "draws": fit.sampler.draws, "fit_s": seconds,
               "max_rhat": fit.diagnostics.max_rhat, "min_ess_bulk": fit.diagnostics.min_ess_bulk,
               "old_retry_s": np.nan, "ratio": np.nan, "same_draws": ""}
        if continued:
            long = dict(tune=1000, max_treedepth=10)
            _, first_s = _fit(runs, seed, SamplerConfig(draws=draws, **long))
            again, again_s = _fit(runs, seed, SamplerConfig(draws=fit.sampler.draws, **long))
            same = all(np.array_equal(fit.posterior["posterior"][v].values, again.posterior["posterior"][v].values)
                       for v in fit.free_variables())
            row.update(old_retry_s=first_s + again_s, ratio=seconds / (first_s + again_s), same_draws=str(same))
        rows.append(row)
        print(row, file=sys.stderr, flush=True)
    df = pd.DataFrame(rows)
    out = [f"## Continued chains against sampling again, {label} ({machine()}, "
           f"{time.perf_counter() - t_all:.0f} s)", "",
           f"First attempt {draws} draws per chain, the package's warm-up and tree depth (the model-form update off, so "
           "only the sampling is timed); `old_retry_s` is the old retry's cost in the same process: a fit with those "
           "draws plus a fit with the continued fit's draws, warm-up included each time; `same_draws`: the continued "
           "draws equal the second fit's, to the bit.", "",
           md_table(df), ""]
    cont = df[df["continued"]]
    if len(cont):
        out.append(f"{len(cont)} of {len(df)} seeds continued; their fits took {cont['fit_s'].sum():.0f} s against "
                   f"{cont['old_retry_s'].sum():.0f} s (ratio {cont['fit_s'].sum() / cont['old_retry_s'].sum():.2f}).")
    else:
        out.append(f"None of {len(df)} seeds continued.")
    return "\n".join(out)


if __name__ == "__main__":
    args = sys.argv[1:]
    print(main(args[0] if args else "synthetic", int(args[1]) if len(args) > 1 else 6,
               int(args[2]) if len(args) > 2 else 1000))
