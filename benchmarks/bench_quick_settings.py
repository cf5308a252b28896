"""How often a one-domain fit passes its checks with the quick sampler settings, and what the retry costs.

A one-domain fit whose sampler settings are left to the package samples first with quick settings (warm-up
draws, tree depth 6) and, if they fail the checks, once more with the long ones (warm-up 1000, tree depth 10,
target acceptance 0.99 after divergent draws: :class:`bayes_scaling.fit.RetryPolicy`). The demo's fit of the
Chinchilla runs failed the quick attempt (R-hat 1.012) and paid for both (sampling 8.2 of its 28 s). This
script fits one-domain cases of the four shared data sets with each candidate quick warm-up (explicit settings,
so no retry), and with the retry's settings, and prints per candidate: the share of fits that pass, the
quick attempt's sampling time, and the expected sampling time of the policy (quick + failures x retry).

Cases (defaults otherwise; the extrapolation update off, so that only the main fit is timed):

* Chinchilla runs (Besiroglu et al. 2024), weak prior (the demo's fit), seeds 0-5;
* the 5 smallest runs of each of the 24 OpenLM domains (Gadre et al. 2024), seed 0 (``bench_few_runs.py``);
* datablations (Muennighoff et al. 2023), data-constrained law, weak prior, seeds 0-1;
* the routing dense models (Clark et al. 2022) on each of the 6 evaluation sets, one-variable law, seed 0.

Run: ``python benchmarks/bench_quick_settings.py [TUNE ...]`` (default 300 500; ~10 min on 2 cores).
"""

from __future__ import annotations

import sys
import time
import warnings

import pandas as pd

from _common import machine, md_table, quiet, routing_domains

quiet()

import bayes_scaling as bs  # noqa: E402
from bayes_scaling.inference import LONG_TREEDEPTH, LONG_TUNE, SamplerConfig  # noqa: E402

QUICK_DEPTH = 6


def cases():
    chin = bs.datasets.load_chinchilla()
    for seed in range(6):
        yield "chinchilla", f"seed {seed}", chin, {"prior": "weak"}, seed
    openlm = bs.datasets.load_openlm()
    for dom in sorted(openlm["domain"].unique()):
        runs = openlm[openlm["domain"] == dom].sort_values("flops").head(5)[["params", "tokens", "loss"]]
        yield "openlm 5 runs", dom, runs.reset_index(drop=True), {}, 0
    dc = bs.datasets.load_datablations()[["params", "tokens", "unique_tokens", "loss"]]
    for seed in range(2):
        yield "datablations", f"seed {seed}", dc, {"law": "data_constrained", "prior": "weak"}, seed
    routing = routing_domains()
    for dom in sorted(routing["domain"].unique()):
        runs = routing[routing["domain"] == dom][["params", "tokens", "loss"]].reset_index(drop=True)
        yield "routing", dom, runs, {"law": "power_params"}, 0


def one(runs, kw, seed, sampler):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = bs.ScalingLaw(sampler=sampler, extrapolation_update=False, **kw).fit(runs, random_seed=seed)
    d = fit.diagnostics
    return bool(d.ok), float(fit.timings["sample_seconds"]), d.max_rhat, d.min_ess_bulk, d.divergences


def main(tunes=(300, 500)) -> str:
    t0 = time.perf_counter()
    rows = []
    for group, name, runs, kw, seed in cases():
        row = {"group": group, "case": name}
        for tune in tunes:
            ok, s, rhat, ess, div = one(runs, kw, seed, SamplerConfig(tune=tune, max_treedepth=QUICK_DEPTH))
            row |= {f"ok_{tune}": ok, f"s_{tune}": s, f"rhat_{tune}": rhat, f"div_{tune}": div}
        # the retry's settings (after divergent draws it also raises the target acceptance; timed without: a floor)
        ok, s, *_ = one(runs, kw, seed, SamplerConfig(tune=LONG_TUNE, max_treedepth=LONG_TREEDEPTH))
        row |= {"ok_long": ok, "s_long": s}
        rows.append(row)
        print(row, flush=True)
    df = pd.DataFrame(rows)
    summary = []
    for group, g in [("all", df)] + list(df.groupby("group", sort=False)):
        r = {"cases": group, "n": len(g)}
        for tune in tunes:
            fail = ~g[f"ok_{tune}"]
            r[f"pass_{tune}"] = f"{int((~fail).sum())}/{len(g)}"
            r[f"quick_s_{tune}"] = g[f"s_{tune}"].mean()
            r[f"expected_s_{tune}"] = (g[f"s_{tune}"] + fail * g["s_long"]).mean()
        r["long_s"] = g["s_long"].mean()
        r["pass_long"] = f"{int(g['ok_long'].sum())}/{len(g)}"
        summary.append(r)
    s = pd.DataFrame(summary)
    base = tunes[0]
    for tune in tunes[1:]:
        s[f"expected_ratio_{tune}_to_{base}"] = s[f"expected_s_{tune}"] / s[f"expected_s_{base}"]
    lines = [f"## Quick sampler settings of one-domain fits: warm-up {', '.join(map(str, tunes))} at tree depth "
             f"{QUICK_DEPTH} ({machine()}; {time.perf_counter() - t0:.0f} s)", "",
             "Sampling seconds per fit (the compile excluded: each model shape is compiled once). `expected_s` = the "
             "quick attempt plus, for the fits that fail it, the long attempt (the package's retry).", "",
             md_table(s), "", "### Per fit", "", md_table(df)]
    return "\n".join(lines)


if __name__ == "__main__":
    tunes = tuple(int(a) for a in sys.argv[1:]) or (300, 500)
    print(main(tunes))
