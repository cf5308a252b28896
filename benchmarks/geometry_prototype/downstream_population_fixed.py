"""Prototype (session 31): the downstream stage 2 with the population parameters fixed at a first fit's posterior medians, by patching pm.Normal/pm.HalfNormal (one corpus only; the three-corpus model's ZeroSumNormal needs pm.Normal.dist). The package's fit_downstream(population="estimated") replaced it.
Usage: python eb_proto.py SEED [--corpus rpj]"""
import os, sys, time, numpy as np, pandas as pd, warnings
warnings.simplefilter("ignore")
import bayes_scaling as bs
import bayes_scaling.downstream as dsm
from bayes_scaling.downstream import fit_downstream, predictable_tasks
args = sys.argv[1:]
corpus = None
if "--corpus" in args:
    i = args.index("--corpus"); corpus = args[i + 1]; del args[i:i + 2]
seed = int(args[0])
HYP = ["mu_a", "tau_a", "mu_ls", "tau_ls", "mu_r", "tau_r", "mu_ln", "tau_ln", "mu_lk", "tau_d", "tau_e"]
FIX = os.environ.get("FIX", ",".join(HYP)).split(",")
d = bs.datasets.load_openlm_downstream("c4_val")
small = d[d["params"] <= 5e8] if corpus is None else d[(d["params"] <= 4.2e8) & (d["train_dataset"] == corpus)]
fl = predictable_tasks(small)
tasks = list(fl.loc[fl.predictable, "task"])
t0 = time.time()
f1 = fit_downstream(small[small.task.isin(tasks)], tasks, group_col=None if corpus else "train_dataset", random_seed=seed, population="sampled")
dg = f1.diagnostics
print(f"stage1 seed {seed}: {time.time()-t0:.0f}s rhat {dg.max_rhat:.3f} ess {dg.min_ess_bulk:.0f} div {dg.divergences}", flush=True)
post = f1.posterior["posterior"]
fixed = {v: float(post[v].median()) for v in FIX if v in post}
print("fixed", {k: round(v, 3) for k, v in fixed.items()})

import pymc as pm
orig_normal, orig_half = pm.Normal, pm.HalfNormal
def patched(cls):
    def f(name, *a, **k):
        if name in fixed:
            return pm.Data(name + "_fixed", np.array(fixed[name]))
        return cls(name, *a, **k)
    return f
pm.Normal = patched(orig_normal); pm.HalfNormal = patched(orig_half)
dsm._COMPILED.clear()
t0 = time.time()
f2 = fit_downstream(small[small.task.isin(tasks)], tasks, group_col=None if corpus else "train_dataset", random_seed=seed, population="sampled")
dg = f2.diagnostics
print(f"stage2 seed {seed}: {time.time()-t0:.0f}s rhat {dg.max_rhat:.3f} ess {dg.min_ess_bulk:.0f} div {dg.divergences}", flush=True)
ss = f2.posterior["sample_stats"]
print("div/chain", ss["diverging"].sum("draw").values, "steps", ss["n_steps"].mean("draw").values.round(1))
import arviz_stats
rh = arviz_stats.rhat(f2.posterior["posterior"])
out = [(v, j, float(r)) for v in rh.data_vars for j, r in enumerate(np.atleast_1d(rh[v].values).ravel())]
print(pd.DataFrame(out, columns=["var", "j", "rhat"]).sort_values("rhat", ascending=False).head(8).to_string())
