"""Stage-2 (downstream) fit of bench_downstream.py on the OpenLM tasks (three corpora, N <= 411M), or with --corpus NAME one corpus at N <= 420M (the README example: --corpus rpj); prints the 15 parameters with the highest R-hat and per-chain means of the population parameters. Usage (repo root): [DROP=task1,task2] [ADAPT=diag] [GAMMA=1e-5] [TUNE=2000] python benchmarks/geometry_prototype/downstream_stage2_rhat.py SEED [TARGET_ACCEPT] [--corpus NAME]"""
import os, sys, time, numpy as np, pandas as pd, warnings
warnings.simplefilter("ignore")
import bayes_scaling as bs, arviz as az
from bayes_scaling.downstream import fit_downstream, predictable_tasks
args = sys.argv[1:]
corpus = None
if "--corpus" in args:
    i = args.index("--corpus"); corpus = args[i + 1]; del args[i:i + 2]
seed = int(args[0]); ta = float(args[1]) if len(args) > 1 else None
d = bs.datasets.load_openlm_downstream("c4_val")
small = d[d["params"] <= 5e8] if corpus is None else d[(d["params"] <= 4.2e8) & (d["train_dataset"] == corpus)]
fl = predictable_tasks(small)
tasks = [t for t in fl.loc[fl.predictable, "task"] if t not in os.environ.get("DROP", "").split(",")]  # DROP=a,b leaves tasks out
# ADAPT (low_rank, diag), GAMMA (low-rank regularisation) and TUNE in the environment change the sampler (session 18)
env = {k: os.environ[k] for k in ("ADAPT", "GAMMA", "TUNE") if k in os.environ}
kw = {} if ta is None and not env else {"sampler": bs.SamplerConfig(
    tune=int(env.get("TUNE", 1000)), max_treedepth=10, target_accept=ta or 0.9, adaptation=env.get("ADAPT", "low_rank"),
    mass_matrix_gamma=float(env["GAMMA"]) if "GAMMA" in env else None)}
t0 = time.time()
f = fit_downstream(small[small.task.isin(tasks)], tasks, group_col=None if corpus else "train_dataset", random_seed=seed,
                   **kw)
dg = f.diagnostics
print(f"seed {seed} ta {ta}: {time.time()-t0:.0f}s rhat {dg.max_rhat:.3f} ess {dg.min_ess_bulk:.0f} div {dg.divergences}", flush=True)
post = f.posterior["posterior"]
import arviz_stats
rh = arviz_stats.rhat(post) if hasattr(arviz_stats, "rhat") else az.rhat(post)
out = []
for v in rh.data_vars:
    vals = np.atleast_1d(rh[v].values).ravel()
    for j, r in enumerate(vals): out.append((v, j, float(r)))
o = pd.DataFrame(out, columns=["var", "j", "rhat"]).sort_values("rhat", ascending=False)
print(o.head(15).to_string())
print("tasks", list(enumerate(f.tasks)))
print("chain means of mu_lk, tau_d, tau_e, mu_ln, tau_ln:")
for v in ("mu_lk", "tau_d", "tau_e", "mu_ln", "tau_ln", "tau_ls", "tau_a", "tau_r"):
    if v in post: print(v, np.round(post[v].mean("draw").values, 3))
ss = f.posterior["sample_stats"]
print("div/chain", ss["diverging"].sum("draw").values, "steps", ss["n_steps"].mean("draw").values.round(1))
