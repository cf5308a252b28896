"""Coverage and width of one-run 90 % intervals on the four backtest splits of bench_backtest.py (and datablations' 21 largest-D runs) when the forecast's Student-t tail weight is floored at 0 (none), 1, 1.5, 2, 3, 5, 10 or infinity (normal). Fits as bench_backtest.py (extrapolation prior learned without the set, seed 0); writes numin.csv. The noise is drawn here from the fit's own tail weight, not through predictive_draws. Run from the repo root: python benchmarks/geometry_prototype/forecast_tail_floor.py"""
import warnings; warnings.simplefilter("ignore")
import sys; sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[1]))
import numpy as np, pandas as pd, bayes_scaling as bs
from _common import routing_domains
from bayes_scaling.predict import predictive_draws
NUMIN = [0, 1, 1.5, 2, 3, 5, 10, np.inf]
chin = bs.datasets.load_chinchilla()
openlm = bs.datasets.load_openlm()[["params", "tokens", "loss", "domain"]]
dc = bs.datasets.load_datablations()[["params", "tokens", "unique_tokens", "loss", "domain"]]
routing = routing_domains()[["params", "tokens", "loss", "domain"]]
dcs = dc.sort_values("tokens", kind="stable").reset_index(drop=True)
sets = [
 ("chinchilla", chin, chin.flops < 1e21, {"prior": "weak"}),
 ("openlm", openlm, openlm.params < 5e8, {}),
 ("datablations", dc, dc.params < 2e9, {"law": "data_constrained"}),
 ("routing", routing, routing.params < 4e8, {"law": "power_params"}),
 ("datablations_D", dcs, pd.Series(np.arange(len(dcs)) < len(dcs) - 21), {"law": "data_constrained"}),
]
rows = []
for key, d, trmask, kw in sets:
    lk = key.split("_")[0]
    tr, te = d[trmask.to_numpy()], d[~trmask.to_numpy()]
    f = bs.ScalingLaw(**kw, extrapolation=f"learned_without_{lk}").fit(tr, random_seed=0)
    cols = [c for c in f.law.variables]
    for dom, g in te.groupby("domain") if "domain" in te else [(f.default_domain, te)]:
        dname = dom if dom in f.domains else f.default_domain
        mean, _ = predictive_draws(f, g[cols], dname, np.random.default_rng(0))
        sig, nu = f.noise_scale(dname), np.broadcast_to(f.tail_weight(dname), (mean.shape[0],))
        y = g.loss.to_numpy()
        eps_rng = np.random.default_rng(1)
        u = eps_rng.standard_normal(mean.shape); chi = eps_rng.standard_normal((mean.shape[0], 1))
        for nm in NUMIN:
            nf = np.maximum(nu, nm)
            if np.isinf(nm):
                eps = u
            else:
                eps = np.stack([np.random.default_rng([2, j]).standard_t(nf) for j in range(mean.shape[1])], axis=1)
            L = np.exp(mean + np.clip(sig[:, None] * eps, -30, 30))
            lo, hi = np.quantile(L, [0.05, 0.95], axis=0); med = np.median(L, 0)
            for i in range(len(y)):
                rows.append(dict(set=key, domain=dom, numin=nm, inside=bool(lo[i] <= y[i] <= hi[i]), width=(hi[i]-lo[i])/med[i], nu=float(np.median(nu))))
    print(key, "done", flush=True)
r = pd.DataFrame(rows)
r.to_csv("numin.csv", index=False)
print(r.groupby(["set","numin"]).agg(cov=("inside","mean"), width=("width","mean"), n=("inside","size"), nu=("nu","median")).round(3).to_string())
main4 = r[r.set != "datablations_D"]
print(main4.groupby("numin").inside.mean().round(3))
