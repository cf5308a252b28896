"""Does the model-form error per decade depend on the scale of the fitted runs? (session 14, not kept)

Adds log kappa += gamma * (log10 of the largest fitted compute of the point's domain - 20) to the hierarchical model
of benchmarks/learn_extrapolation.py and compares leave-one-data-set-out coverage with and without gamma.
Usage: python benchmarks/geometry_prototype/scale_kappa.py [logc|logn] [CACHE_DIR] (CACHE_DIR: learn_extrapolation.py --cache).
"""
import sys, warnings, pickle
from pathlib import Path
import numpy as np, pandas as pd
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
warnings.simplefilter("ignore")
import learn_extrapolation as le
COV = sys.argv[1] if len(sys.argv) > 1 else "logc"
recs = le.forecasts(Path(sys.argv[2]) if len(sys.argv) > 2 else None)
# per point covariate: the train set's largest compute (or N) in the point's domain
for r, (ds, label, train, held, kw) in zip(recs, le.splits()):
    held = held.reset_index(drop=True)
    tr = train.assign(flops=6 * train.params * train.tokens)
    cmax = tr.groupby("domain")["flops"].max(); nmax = tr.groupby("domain")["params"].max()
    r["logc"] = np.log10(held["domain"].map(cmax).to_numpy(float))
    r["logn"] = np.log10(held["domain"].map(nmax).to_numpy(float))
    r["nfit"] = held["domain"].map(tr.groupby("domain").size()).to_numpy(float)
C0 = 20.0 if COV == "logc" else 8.5
names = sorted(le.CITATIONS)
# per split own kappa (MLE on a grid) to see the pattern
def table(rr, cov):
    q05, q50, q95 = np.nanquantile(rr["new"], [0.05, 0.5, 0.95], axis=0)
    ok = np.isfinite(q50) & (rr["h"] > 0)
    return rr["y"][ok], q50[ok], ((q95 - q05) / 3.29)[ok], rr["h"][ok], rr[cov][ok]
from scipy import stats
grid = np.linspace(-9, 0, 400)
for r in recs:
    y, m, s, h, c = table(r, COV)
    ll = [stats.t.logpdf(y, 4, m, np.sqrt(s**2 + np.exp(2*g) * h**2)).sum() for g in grid]
    print(f"{r['ds']:12s} {r['split']:10s} cov {np.median(c):.2f}  h median {np.median(h):.2f}  kappa MLE {np.exp(grid[int(np.argmax(ll))]):.4f}")

def learn(use, gamma_on=True, seed=0):
    import nutpie, pymc as pm, pytensor
    rows = []
    for r in recs:
        if r["ds"] in use:
            y, m, s, h, c = table(r, COV)
            rows.append(np.column_stack([np.full(len(y), use.index(r["ds"])), y, m, s, h, c - C0]))
    t = np.vstack(rows); j = t[:, 0].astype(int)
    with pm.Model():
        mu = pm.Normal("mu", np.log(0.02), 1.0)
        sg = pm.HalfNormal("sigma", 0.5)
        ga = pm.Normal("gamma", 0.0, 0.5) if gamma_on else 0.0
        lk = pm.Normal("lk", 0.0, 1.0, shape=len(use))
        kappa = pm.math.exp(mu + sg * lk[j] + ga * t[:, 5])
        pm.StudentT("y", nu=4.0, mu=t[:, 2], sigma=pm.math.sqrt(t[:, 3] ** 2 + (kappa * t[:, 4]) ** 2), observed=t[:, 1])
        model = pm.modelcontext(None)
    with pytensor.config.change_flags(numba__fastmath=False):
        compiled = nutpie.compile_pymc_model(model)
    tr = nutpie.sample(compiled, draws=2000, tune=1000, chains=4, cores=2, seed=seed, progress_bar=False, target_accept=0.95)
    p = tr["posterior"].to_dataset()
    m = p["mu"].values.ravel(); s = p["sigma"].values.ravel()
    g = p["gamma"].values.ravel() if gamma_on else np.zeros_like(m)
    return m, s, g

def lodo_cov(r, m, s, g, seed=0):
    rng = np.random.default_rng(seed)
    new = r["new"].astype(float); mean = r["mean"].astype(float); S = new.shape[0]
    i = rng.integers(0, m.size, S)
    lk = m[i][:, None] + s[i][:, None] * rng.standard_normal(S)[:, None] + g[i][:, None] * (r[COV][None, :] - C0)
    d = np.exp(lk) * rng.standard_normal(S)[:, None] * r["h"][None, :]
    lo, hi = np.nanquantile(new + d, [0.05, 0.95], axis=0); med = np.nanmedian(mean + d, axis=0)
    y = r["y"]
    return float(np.mean((y >= lo) & (y <= hi))), float(np.mean(np.exp(hi - med) - np.exp(lo - med)))

out = []
for gamma_on in (False, True):
    for held in names:
        use = [n for n in names if n != held]
        m, s, g = learn(use, gamma_on)
        for r in recs:
            if r["ds"] == held:
                c, w = lodo_cov(r, m, s, g)
                out.append(dict(gamma=gamma_on, ds=held, split=r["split"], scored=r["split"] == le.EVAL_SPLIT[held], n=len(r["y"]), cov=c, width=w, g_med=float(np.median(g)), g_sd=float(np.std(g))))
    m, s, g = learn(names, gamma_on)
    print("all four: gamma", gamma_on, "mu", np.median(m), "sigma", np.median(s), "gamma", np.median(g), np.std(g))
res = pd.DataFrame(out)
print(res.round(4).to_string())
for gm, sub in res.groupby("gamma"):
    sc = sub[sub.scored]
    print(gm, "pooled scored", np.average(sc["cov"], weights=sc["n"]).round(4), "pooled all", np.average(sub["cov"], weights=sub["n"]).round(4))
