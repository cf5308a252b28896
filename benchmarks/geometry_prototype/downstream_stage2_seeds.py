"""Stage-2 (downstream) fit of bench_downstream.py on the OpenLM tasks, per-chain diagnostics. Usage from the repo root: python benchmarks/geometry_prototype/downstream_stage2_seeds.py SEED [task,to,exclude]"""
import sys, time
import numpy as np
import bayes_scaling as bs
from bayes_scaling.downstream import fit_downstream, predictable_tasks
seed = int(sys.argv[1]); excl = sys.argv[2].split(",") if len(sys.argv) > 2 and sys.argv[2] else []
d = bs.datasets.load_openlm_downstream("c4_val")
small = d[d["params"] <= 5e8]
fl = predictable_tasks(small)
tasks = [t for t in fl.loc[fl.predictable, "task"] if t not in excl]
t0 = time.time()
f = fit_downstream(small[small.task.isin(tasks)], tasks, group_col="train_dataset", random_seed=seed)
dg = f.diagnostics
print(f"seed {seed} tasks {len(tasks)} excl {excl}: {time.time()-t0:.0f}s rhat {dg.max_rhat:.3f} ess {dg.min_ess_bulk:.0f} div {dg.divergences}")
post = f.posterior["posterior"]
ss = f.posterior["sample_stats"]
for v in ("mu_lk", "tau_lk", "tau_ls", "mu_ls", "tau_d"):
    if v in post: print(v, np.round(post[v].mean(("draw",)).values, 3))
print("steps/chain", ss["n_steps"].mean("draw").values if "n_steps" in ss else "")
P = f.parameter_draws() if hasattr(f, "parameter_draws") else None
P = f.parameter_draws()
nc = f.posterior["posterior"].sizes["chain"]
for name in ("kappa", "s"):
    v = P[name].reshape(nc, -1, len(f.tasks))
    med = np.median(v, axis=1)
    spread = med.max(0) / med.min(0)
    for k in np.argsort(-spread)[:3]:
        print(name, f.tasks[k], np.round(med[:, k], 3))
