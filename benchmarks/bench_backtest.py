"""Issue 13 benchmark: backtests of the four data sets, each with the extrapolation-error prior learned WITHOUT it.

Data sets and splits (fit below the scale cutoff, forecast the rest):

* Chinchilla (Hoffmann et al. 2022 via Besiroglu et al. 2024): fit C < 1e21, forecast the 23 runs with C >= 1e21
  (weak prior: the published priors were fitted on these runs);
* OpenLM over-training (Gadre et al. 2024): fit N <= 411M, forecast the 1.4B and 6.9B runs, 24 domains;
* data-constrained runs (Muennighoff et al. 2023): fit N < 2B, forecast N >= 2B (data-constrained law; weak prior:
  the published data-constrained fit, the law's default prior, was made on these runs, held-out ones included);
* dense runs of the routing data set (Clark et al. 2022) on its six evaluation sets (each a domain, as in
  ``learn_extrapolation.py``): fit N <= 370M, forecast the 481M, 708M and 1.3B models (18 runs; all at 130B
  tokens: a one-variable law in N). One evaluation set alone has 3 held-out runs, whose coverage can only be
  0, 1/3, 2/3 or 1.

Methods: ``bayes`` (the package with its default sampler settings and the extrapolation-error prior
``learned_without_<data set>``, so no data set's own errors set its intervals), ``huber_ls`` (Huber least
squares on log L from a grid of starts, Hoffmann 2022 Eq. 3, fitting the same law as ``bayes``:
data-constrained on datablations, one-variable in N on routing), ``huber_ls_bootstrap`` (its 200-resample
bootstrap), ``published`` (the published fit of the same law, unchanged) and ``published_offset`` (the same + a
per-domain offset): Besiroglu et al.'s Chinchilla-law fit, on datablations Muennighoff et al.'s data-constrained fit,
on routing (no published one-variable fit) Besiroglu's. On Chinchilla and on datablations the published fit was made
on runs that include the held-out ones (leakage: Muennighoff et al. fitted about 400 runs up to 9B), so the check
against the best baseline excludes the two published baselines there. Fit time: ``cold`` is the first fit in the process
(compilation included), ``warm`` a refit with the compiled model reused.

Checks (issue 13): the Bayesian fit passes its diagnostics with the defaults (R-hat <= 1.01, ESS >= 400,
< 0.2 % divergent draws); 90 % coverage in 0.85-0.95 per data set and 0.87-0.93 pooled; median APE no
worse than the best baseline. Every sentence of the notes is computed from the run.

Run: ``python benchmarks/bench_backtest.py`` — writes ``benchmarks/results.md`` and prints it.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd

from _common import machine, md_table, quiet, routing_domains

quiet()

import bayes_scaling as bs  # noqa: E402
from bayes_scaling.backtest import Split, backtest  # noqa: E402

BASELINES = ("huber_ls", "huber_ls_bootstrap", "published", "published_offset")
LEAKY = {"chinchilla": ("published", "published_offset"), "datablations": ("published", "published_offset")}


def datasets():
    chin = bs.datasets.load_chinchilla()
    openlm = bs.datasets.load_openlm()[["params", "tokens", "loss", "domain"]]
    dc = bs.datasets.load_datablations()[["params", "tokens", "unique_tokens", "loss", "domain"]]
    routing = routing_domains()[["params", "tokens", "loss", "domain"]]
    return [
        ("chinchilla", "Chinchilla, fit C < 1e21", chin, Split.cutoff("flops", 1e21), {"prior": "weak"}),
        ("openlm", "OpenLM, fit N <= 411M, forecast 1.4B and 6.9B", openlm, Split.cutoff("params", 5e8), {}),
        # weak prior: the published data-constrained fit (the law's default prior) was made on these runs, as on Chinchilla
        ("datablations", "datablations, fit N < 2B", dc, Split.cutoff("params", 2e9),
         {"law": "data_constrained", "prior": "weak"}),
        ("routing", "routing dense, 6 evaluation sets, fit N <= 370M", routing, Split.cutoff("params", 4e8),
         {"law": "power_params"}),
    ]


def run_one(key, name, runs, split, bayes_kw, seed=0):
    bayes_kw = {**bayes_kw, "extrapolation": f"learned_without_{key}"}
    methods = {"bayes": dict(bayes_kw)} | {m: {} for m in BASELINES}
    res = backtest(runs, split, methods=methods, random_seed=seed, n_jobs=2)
    warm = backtest(runs, split, methods={"bayes": dict(bayes_kw)}, random_seed=seed)
    warm_s = float(warm.summary["fit_seconds"].iloc[0])
    s = res.summary.copy()
    s["fit_seconds_cold"] = s["fit_seconds"]
    s["fit_seconds_warm"] = np.where(s["method"] == "bayes", warm_s, s["fit_seconds"])
    fair = [m for m in BASELINES if m not in LEAKY.get(key, ())]
    base = s[s["method"].isin(fair)]
    s["mape_ratio_to_best_baseline"] = s["mape"] / base["mape"].min()
    s["crps_ratio_to_best_baseline"] = s["crps"] / base["crps"].min()
    s.insert(0, "data set", name)
    return s, res, fair


def _misses(res) -> str:
    """The held-out runs outside the Bayesian 90 % interval, worst first (computed)."""
    p = res.points[res.points["method"] == "bayes"].copy()
    p["out"] = (p["loss"] < p["loss_lower_90"]) | (p["loss"] > p["loss_upper_90"])
    p["err"] = 100 * (p["loss"] - p["loss_median"]) / p["loss"]
    miss = p[p["out"]].reindex(p[p["out"]]["err"].abs().sort_values(ascending=False).index)
    if miss.empty:
        return "none"
    parts = [f"N={r.params:.3g}, D={r.tokens:.3g}: loss {r.loss:.3f} vs {r.loss_median:.3f} "
             f"[{r.loss_lower_90:.3f}, {r.loss_upper_90:.3f}]" for r in miss.head(3).itertuples()]
    side = "above" if (miss["err"] > 0).mean() > 0.5 else "below"
    return f"{len(miss)} of {len(p)} outside, mostly {side} the interval; worst: " + "; ".join(parts)


def main() -> str:
    t0 = time.perf_counter()
    tables, checks, notes = [], [], []
    pooled_n = pooled_cov = 0.0
    for key, name, runs, split, kw in datasets():
        s, res, fair = run_one(key, name, runs, split, kw)
        tables.append(s)
        b = s[s["method"] == "bayes"].iloc[0]
        base = s[s["method"].isin(fair)]
        best = base.loc[base["mape"].idxmin()]
        diag_ok = b["max_rhat"] <= 1.01 and b["min_ess"] >= 400 and b["divergent_pct"] < 0.2
        cov_ok = 0.85 <= b["coverage_90"] <= 0.95
        mape_ok = b["mape"] <= best["mape"] + 1e-12
        pooled_n += b["n_scored"]
        pooled_cov += b["coverage_90"] * b["n_scored"]
        checks.append({"data set": name, "n_heldout": int(b["n_heldout"]), "bayes_mape": b["mape"],
                       "best_baseline_mape": best["mape"], "best_baseline": best["method"],
                       "bayes_coverage_90": b["coverage_90"], "max_rhat": b["max_rhat"], "min_ess": b["min_ess"],
                       "divergent_pct": b["divergent_pct"], "fit_seconds_warm": b["fit_seconds_warm"],
                       "diagnostics_pass": "yes" if diag_ok else "NO", "coverage_in_85_95": "yes" if cov_ok else "NO",
                       "mape_not_worse_than_best_baseline": "yes" if mape_ok else "NO"})
        if not (diag_ok and cov_ok and mape_ok):
            why = []
            if not diag_ok:
                why.append(f"diagnostics: max R-hat {b['max_rhat']:.3f}, min ESS {b['min_ess']:.0f}, "
                           f"{b['divergent_pct']:.2f} % divergent")
            if not cov_ok:
                why.append(f"coverage {b['coverage_90']:.3f} ({_misses(res)})")
            if not mape_ok:
                why.append(f"median APE {b['mape']:.2f} % vs {best['method']} {best['mape']:.2f} %")
            notes.append(f"- {name}: " + "; ".join(why) + ".")
    pooled = pooled_cov / pooled_n
    all_s = pd.concat(tables, ignore_index=True)
    cols = ["data set", "method", "n_heldout", "mape", "rmsle", "coverage_50", "coverage_90", "coverage_95", "width_90",
            "crps", "max_rhat", "min_ess", "divergent_pct", "fit_seconds_cold", "fit_seconds_warm",
            "mape_ratio_to_best_baseline", "crps_ratio_to_best_baseline"]
    out = [
        "# Backtest results (`python benchmarks/bench_backtest.py`)",
        "",
        f"Machine: {machine()}. Generated by a fresh run in {time.perf_counter() - t0:.0f} s. MAPE in percent; width_90 "
        "is the mean relative width of the 90 % interval; CRPS of log loss (~ relative error); ratios are to the best "
        "fair baseline on the same data set. Baselines without intervals show NaN coverage. `bayes` uses the package's "
        "default sampler settings and the extrapolation-error prior learned without the data set it is scored on.",
        "",
        "## Checks (issue 13)",
        "",
        md_table(pd.DataFrame(checks)),
        "",
        f"Pooled 90 % coverage over the four data sets: {pooled:.3f} (check: 0.87-0.93: "
        f"{'yes' if 0.87 <= pooled <= 0.93 else 'NO'}).",
        "",
        "Where a check says NO (computed by the script):",
        *(notes or ["- none"]),
        "",
        "## All methods",
        "",
        md_table(all_s[cols]),
        "",
        "Notes: on Chinchilla, `published` and `published_offset` use the Besiroglu et al. (2024) fit of all 240 runs, "
        "and on datablations the Muennighoff et al. (2023) fit of the data-constrained law to about 400 runs up to 9B, "
        "both including the held-out ones (leakage), so the best-baseline check leaves them out there, and `bayes` "
        "uses a weak prior on both. `fit_seconds` sums the fits of a method (per-domain fits, bootstrap chunks); the diagnostics "
        "columns are the Bayesian fit's (NaN for baselines).",
    ]
    return "\n".join(out)


if __name__ == "__main__":
    text = main()
    Path(__file__).with_name("results.md").write_text(text + "\n", encoding="utf-8")
    print(text)
