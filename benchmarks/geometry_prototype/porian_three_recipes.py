"""Session 29: the Porian isoFLOP recipes with three recipes only (WHICH: mix3, rw3, owt3) fitted up to CUT FLOPs and
forecast beyond, through `backtest` with the defaults, next to huber_ls; scores by budget and by tokens per parameter.
Usage (repo root): python benchmarks/geometry_prototype/porian_three_recipes.py mix3 4e17"""
import sys; sys.path.insert(0, "/work/main/benchmarks")
import time, numpy as np, pandas as pd
from _common import quiet; quiet()
import bench_porian_recipes as B
from bayes_scaling.backtest import backtest
which, cut = sys.argv[1], float(sys.argv[2])
raw = pd.read_csv(B.DATA); raw = raw[(raw["param_count"] == "standard") & (raw["loss_kind"] == "val")]
runs = pd.DataFrame({"domain": raw["dataset"] + "/" + raw["hparams"] + "_" + raw["warmup"] + "_" + raw["decay"],
                     "params": raw["params"], "tokens": raw["tokens"], "loss": raw["loss"], "budget": raw["flops"]})
doms = sorted(runs.domain.unique())
pick = {"rw3": [d for d in doms if d.startswith("rw/")][:3], "owt3": [d for d in doms if d.startswith("owt2/")][1:4],
        "mix3": [doms[0], doms[3], doms[6]]}[which]
runs = runs[runs.domain.isin(pick)]
held = runs.budget > cut
train, test = runs[~held].reset_index(drop=True), runs[held].reset_index(drop=True)
cols = ["domain", "params", "tokens", "loss"]
t0 = time.time()
res = backtest(pd.concat([train, test], ignore_index=True)[cols], (train[cols], test[cols]), methods={"bayes": {}, "huber_ls": {}}, random_seed=0)
p = res.points.merge(test[["params", "tokens", "domain", "budget"]], on=["params", "tokens", "domain"], how="left")
print(which, pick, f"cut {cut:g}", f"{time.time()-t0:.0f}s")
print(res.summary[["method", "mape", "coverage_90", "width_90", "max_rhat", "min_ess", "divergent_pct", "fit_seconds"]].to_string())
for m, g in p.groupby("method"):
    for b, gg in g.groupby("budget"):
        y, f = gg.loss.values, gg.loss_median.values
        cov = np.mean((y >= gg.loss_lower_90) & (y <= gg.loss_upper_90)) if gg.loss_lower_90.notna().all() else np.nan
        print(m, f"{b:.3g}", f"x{b/cut:.0f}", len(gg), f"ape {100*np.median(np.abs(f-y)/y):.2f}", f"signed {100*np.median((f-y)/y):+.2f}", f"cov {cov:.2f}", f"width {np.mean((gg.loss_upper_90-gg.loss_lower_90)/f):.3f}")
p["tpp"] = p.tokens / p.params
for m, g in p.groupby("method"):
    for lab, gg in [("tpp<1", g[g.tpp < 1]), ("1-10", g[(g.tpp >= 1) & (g.tpp < 10)]), ("10-100", g[(g.tpp >= 10) & (g.tpp < 100)]), (">=100", g[g.tpp >= 100])]:
        if not len(gg): continue
        y, f = gg.loss.values, gg.loss_median.values
        cov = np.mean((y >= gg.loss_lower_90) & (y <= gg.loss_upper_90)) if gg.loss_lower_90.notna().all() else np.nan
        print(m, lab, len(gg), f"ape {100*np.median(np.abs(f-y)/y):.2f}", f"signed {100*np.median((f-y)/y):+.2f}", f"cov {cov:.2f}", f"width {np.mean((gg.loss_upper_90-gg.loss_lower_90)/f):.3f}")
p.to_csv(f"porian3_{which}_{cut:g}.csv", index=False)
