"""Learn the extrapolation-error prior (bayes_scaling.extrapolation) from backtests of the public data sets,
check it by leaving each whole data set out, and write ``bayes_scaling/_resources/extrapolation_prior.json``.

Model (see ``bayes_scaling/extrapolation.py``): beyond the runs, the log loss of a forecast is off by
``delta = kappa_j * z * h`` with ``h`` the decades beyond the runs and ``kappa_j`` the error per decade of
data set j; across data sets ``log kappa_j ~ N(mu, sigma)``. For each held-out run i of data set j the
package's forecast without the term (``extrapolation="none"``) gives a predictive median ``m_i`` and scale
``s_i`` (from its 5-95 % range); then ``log L_i ~ StudentT(4, m_i, sqrt(s_i^2 + kappa_j^2 h_i^2))`` (heavy
tails so that a few runs no law describes, e.g. datablations' runs at hundreds of epochs whose loss rises,
do not set kappa). ``mu ~ N(log 0.02, 1)``, ``sigma ~ HalfNormal(0.5)``; sampled with nutpie. The prior of a
new data set is the posterior predictive of ``log kappa_new``, summarised by its mean and sd.

Backtests (fit below a scale cutoff, forecast the rest; the package's defaults for each law):

* Chinchilla (Hoffmann et al. 2022 via Besiroglu et al. 2024; weak prior): C < 1e20, 3e20, 1e21;
* OpenLM over-training (Gadre et al. 2024; 24 domains): N <= 154M, N <= 411M;
* data-constrained runs (Muennighoff et al. 2023; data-constrained law; weak prior, as the law's default prior was
  fitted on these runs): N < 1B, N < 2B;
* routing, dense models (Clark et al. 2022; power law in N; the 6 evaluation sets as domains): N <= 110M, 370M.

Writes ``learned`` (all four data sets) and ``learned_without_<data set>`` (each left out), and prints,
for each data set, the 90 % coverage of its forecasts with the prior learned WITHOUT it (as the package
forecasts by default), with that prior updated with the fit's own errors beyond its runs (each domain's top
third of compute forecast from the rest: ``ScalingLaw(extrapolation_update=True)``,
``ScalingLaw.leave_future_out_errors``, ``extrapolation.update_extrapolation_prior``), and with no
model-form error.

Run: ``python benchmarks/learn_extrapolation.py [--cache DIR]`` (~10 min on 2 cores; ``--cache`` keeps the
backtest forecasts between runs).
"""

from __future__ import annotations

import argparse
import datetime
import json
import pickle
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from _common import machine, md_table, quiet, routing_domains

quiet()

import bayes_scaling as bs  # noqa: E402
from bayes_scaling.extrapolation import ExtrapolationPrior, extrapolation_distance, update_extrapolation_prior  # noqa: E402
from bayes_scaling.predict import predictive_draws  # noqa: E402

RESOURCE = Path(bs.__file__).parent / "_resources" / "extrapolation_prior.json"
CITATIONS = {
    "chinchilla": "Hoffmann et al. (2022), arXiv:2203.15556, runs extracted by Besiroglu et al. (2024), arXiv:2404.10102",
    "openlm": "Gadre et al. (2024), arXiv:2403.08540 (github.com/mlfoundations/scaling, MIT)",
    "datablations": "Muennighoff et al. (2023), arXiv:2305.16264 (via IBM ColPret, MIT)",
    "routing": "Clark et al. (2022), arXiv:2202.01169 (github.com/google-deepmind/scaling_laws_for_routing, CC-BY 4.0)",
}
#: The split of each data set that benchmarks/bench_backtest.py scores (also scored here, LODO).
EVAL_SPLIT = {"chinchilla": "C < 1e21", "openlm": "N <= 411M", "datablations": "N < 2B", "routing": "N <= 370M"}


def splits():
    """(data set, split label, train, held-out, ScalingLaw keyword arguments)."""
    chin = bs.datasets.load_chinchilla()[["params", "tokens", "flops", "loss", "domain"]]
    for c, label in ((1e20, "C < 1e20"), (3e20, "C < 3e20"), (1e21, "C < 1e21")):
        yield "chinchilla", label, chin[chin.flops < c], chin[chin.flops >= c], {"prior": "weak"}
    o = bs.datasets.load_openlm()[["params", "tokens", "flops", "loss", "domain"]]
    for cut, label in ((1.6e8, "N <= 154M"), (5e8, "N <= 411M")):
        yield "openlm", label, o[o.params <= cut], o[o.params > cut], {}
    db = bs.datasets.load_datablations()[["params", "tokens", "unique_tokens", "flops", "loss", "domain"]]
    for cut, label in ((1e9, "N < 1B"), (2e9, "N < 2B")):
        # weak prior: the law's default prior (Muennighoff et al.'s fit) was made on these runs, held-out ones included
        yield "datablations", label, db[db.params < cut], db[db.params >= cut], {"law": "data_constrained", "prior": "weak"}
    rt = routing_domains()[["params", "tokens", "flops", "loss", "domain"]]
    for cut, label in ((1.1e8, "N <= 110M"), (4e8, "N <= 370M")):
        yield "routing", label, rt[rt.params <= cut], rt[rt.params > cut], {"law": "power_params"}


def forecasts(cache: Path | None, seed: int = 0) -> list[dict]:
    """Forecasts of every held-out run without the model-form error (cached by data set and split)."""
    out = []
    for ds, label, train, held, kw in splits():
        fn = cache / f"{ds}_{label.replace(' ', '').replace('<', 'lt').replace('=', 'e')}.pkl" if cache else None
        if fn is not None and fn.exists():
            out.append(pickle.loads(fn.read_bytes()))
            continue
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = bs.ScalingLaw(extrapolation="none", **kw).fit(train.reset_index(drop=True), random_seed=seed)
        held = held.reset_index(drop=True)
        rng = np.random.default_rng(seed)
        mean = np.full((fit.n_draws, len(held)), np.nan)
        new = mean.copy()
        h = np.zeros(len(held))
        for dom, idx in held.groupby("domain").groups.items():
            sub = held.loc[idx]
            m, n = predictive_draws(fit, sub, dom, rng)
            mean[:, idx], new[:, idx] = m, n
            h[idx] = extrapolation_distance(fit.own_runs(dom), sub)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            err, (exp_, new_), _ = bs.ScalingLaw(**kw).leave_future_out_errors(train.reset_index(drop=True),
                                                                               random_seed=seed)
        d = fit.diagnostics
        rec = {"own": {"err": err, "exp": exp_.astype(np.float32), "new": new_.astype(np.float32)}, "ds": ds, "split": label, "y": np.log(held["loss"].to_numpy(float)), "h": h,
               "mean": mean.astype(np.float32), "new": new.astype(np.float32), "seconds": time.perf_counter() - t0,
               "diag": f"R-hat {d.max_rhat:.3f}, ESS {d.min_ess_bulk:.0f}, {d.divergences} div"}
        print(f"  {ds:12s} {label:10s} {len(held):4d} held-out runs, fit {rec['seconds']:.0f} s, {rec['diag']}", flush=True)
        if fn is not None:
            fn.parent.mkdir(parents=True, exist_ok=True)
            fn.write_bytes(pickle.dumps(rec))
        out.append(rec)
    return out


def _table(recs, names):
    rows = []
    for r in recs:
        if r["ds"] not in names:
            continue
        q05, q50, q95 = np.nanquantile(r["new"], [0.05, 0.5, 0.95], axis=0)
        for i in range(len(r["y"])):
            if np.isfinite(q50[i]) and r["h"][i] > 0:  # inside the runs' range nothing is learned about kappa
                rows.append((names.index(r["ds"]), r["y"][i], q50[i], (q95[i] - q05[i]) / 3.29, r["h"][i]))
    return np.array(rows)


def learn(recs, names, seed=0):
    """Posterior predictive of log kappa for a new data set, learned from ``names``: (mean, sd, details)."""
    import nutpie
    import pymc as pm
    import pytensor

    t = _table(recs, names)
    j = t[:, 0].astype(int)
    with pm.Model() as model:
        mu = pm.Normal("mu", np.log(0.02), 1.0)
        sg = pm.HalfNormal("sigma", 0.5)
        lk = pm.Normal("log_kappa_raw", 0.0, 1.0, shape=len(names))
        kappa = pm.math.exp(mu + sg * lk)
        pm.StudentT("y", nu=4.0, mu=t[:, 2], sigma=pm.math.sqrt(t[:, 3] ** 2 + (kappa[j] * t[:, 4]) ** 2),
                    observed=t[:, 1])
    with warnings.catch_warnings(), pytensor.config.change_flags(numba__fastmath=False):
        warnings.simplefilter("ignore")
        compiled = nutpie.compile_pymc_model(model)
    tr = nutpie.sample(compiled, draws=2000, tune=1000, chains=4, cores=2, seed=seed, progress_bar=False,
                       target_accept=0.95)
    post = tr["posterior"].to_dataset()
    m = post["mu"].values.ravel()
    s = post["sigma"].values.ravel()
    rng = np.random.default_rng(seed)
    new = m + s * rng.standard_normal(m.size)
    per = np.exp(m[:, None] + s[:, None] * post["log_kappa_raw"].values.reshape(m.size, -1))
    details = {"kappa_per_data_set_median": {n: round(float(np.median(per[:, i])), 5) for i, n in enumerate(names)},
               "mu_median": round(float(np.median(m)), 4), "sigma_median": round(float(np.median(s)), 4),
               "divergences": int(tr["sample_stats"]["diverging"].values.sum()), "n_points": int(len(t))}
    return float(new.mean()), float(new.std()), details


def updated(rec, prior: ExtrapolationPrior) -> ExtrapolationPrior:
    """``prior`` updated with the split's own errors beyond its runs, as ``ScalingLaw.fit`` does."""
    o = rec["own"]
    e = o["err"]
    return update_extrapolation_prior(prior, e["log_loss"], o["exp"], o["new"], e["distance"], e["domain"])


def coverage(rec, prior: ExtrapolationPrior, prob=0.9, seed=0):
    """90 % coverage and median APE of one backtest's forecasts with the model-form error of ``prior``."""
    new, mean = rec["new"].astype(float), rec["mean"].astype(float)
    slopes = prior.slopes(new.shape[0], seed)
    d = slopes[:, None] * rec["h"][None, :]
    lo, hi = np.nanquantile(new + d, [(1 - prob) / 2, (1 + prob) / 2], axis=0)
    y = rec["y"]
    med = np.nanmedian(mean + d, axis=0)
    lo0, hi0 = np.nanquantile(new, [(1 - prob) / 2, (1 + prob) / 2], axis=0)
    return {"coverage_90": float(np.mean((y >= lo) & (y <= hi))), "coverage_90_without": float(np.mean((y >= lo0) & (y <= hi0))),
            "width_90": float(np.mean(np.exp(hi) / np.exp(med) - np.exp(lo) / np.exp(med))),
            "mape": float(np.median(100 * np.abs(np.exp(med) - np.exp(y)) / np.exp(y)))}


def main(cache: Path | None = None) -> str:
    t0 = time.perf_counter()
    print("backtest forecasts without the model-form error:", flush=True)
    recs = forecasts(cache)
    names = sorted(CITATIONS)
    priors, rows = {}, []
    for held in [None, *names]:
        use = [n for n in names if n != held]
        m, s, det = learn(recs, use)
        key = "learned" if held is None else f"learned_without_{held}"
        priors[key] = {"log_kappa_mean": round(m, 4), "log_kappa_sd": round(s, 4), "learned_from": use, **det}
        if held is None:
            continue
        prior = ExtrapolationPrior(key, m, s, tuple(use))
        for r in recs:
            if r["ds"] == held:
                up = updated(r, prior)
                upc = coverage(r, up)
                rows.append({"data set": held, "split": r["split"], "scored in bench_backtest": r["split"] == EVAL_SPLIT[held],
                             "n_heldout": len(r["y"]), "beyond the runs": int((r["h"] > 0).sum()),
                             **coverage(r, prior), "own runs forecast": up.details.get("n_points", 0),
                             "kappa_prior": round(float(np.exp(m)), 4), "kappa_updated": round(float(np.exp(up.log_kappa_mean)), 4),
                             "coverage_90_updated": upc["coverage_90"], "width_90_updated": upc["width_90"], "prior": key})
    res = pd.DataFrame(rows)
    ev = res[res["scored in bench_backtest"]]
    pooled = float(np.average(ev["coverage_90"], weights=ev["n_heldout"]))
    pooled_updated = float(np.average(ev["coverage_90_updated"], weights=ev["n_heldout"]))
    doc = {
        "where": (f"benchmarks/learn_extrapolation.py, run {datetime.date.today().isoformat()} ({machine()}): "
                  "hierarchical model of the backtest errors beyond the runs across data sets, log kappa ~ N(mu, sigma); "
                  "each entry is the posterior predictive of a new data set's log kappa"),
        "citation": "; ".join(f"{k}: {v}" for k, v in CITATIONS.items()),
        "priors": priors,
        "lodo_check": {"pooled_coverage_90_on_the_scored_splits": round(pooled, 4),
                       "pooled_coverage_90_updated_with_own_runs": round(pooled_updated, 4),
                       "per_split": res.round(4).to_dict(orient="records")},
    }
    RESOURCE.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    lines = [f"## Extrapolation-error prior, learned across data sets ({machine()}, {time.perf_counter() - t0:.0f} s)", "",
             md_table(pd.DataFrame([{"prior": k, "learned_from": ", ".join(v["learned_from"]),
                                     "log_kappa_mean": v["log_kappa_mean"], "log_kappa_sd": v["log_kappa_sd"],
                                     "kappa_median_per_decade": round(float(np.exp(v["log_kappa_mean"])), 4),
                                     "kappa_per_data_set": json.dumps(v["kappa_per_data_set_median"])}
                                    for k, v in priors.items()])),
             "", "### Leave one data set out: each data set's forecasts with the prior learned without it", "",
             md_table(res.drop(columns=["prior"])), "",
             f"Pooled 90 % coverage over the splits scored by bench_backtest.py: {pooled:.3f} (the package's default), "
             f"{pooled_updated:.3f} (updated with the fit's own runs, extrapolation_update=True).",
             f"Written: {RESOURCE.relative_to(Path(bs.__file__).parent.parent)}"]
    return "\n".join(lines)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache", type=Path, default=None, help="directory to keep the backtest forecasts between runs")
    args = ap.parse_args()
    print(main(args.cache))
