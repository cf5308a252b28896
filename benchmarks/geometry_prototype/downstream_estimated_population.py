"""Session 31: fit_downstream with population="estimated" at a given number of draws per chain. Usage (repo root): python benchmarks/geometry_prototype/downstream_estimated_population.py SEED DRAWS [CORPUS|all] [TARGET_ACCEPT]; prints the checks, the timings and the 4 highest R-hats."""
import sys, time, warnings, numpy as np, pandas as pd
warnings.simplefilter("ignore")
import bayes_scaling as bs, arviz_stats
from bayes_scaling.downstream import fit_downstream
seed = int(sys.argv[1]); draws = int(sys.argv[2]); corpus = sys.argv[3] if len(sys.argv) > 3 and sys.argv[3] != "all" else None
ta = float(sys.argv[4]) if len(sys.argv) > 4 else 0.9
d = bs.datasets.load_openlm_downstream("c4_val")
small = d[d["params"] <= 5e8] if corpus is None else d[(d["params"] <= 4.2e8) & (d["train_dataset"] == corpus)]
t0 = time.time()
f = fit_downstream(small, group_col=None if corpus else "train_dataset", random_seed=seed,
                   sampler=bs.SamplerConfig(draws=draws, tune=1000, max_treedepth=10, target_accept=ta))
dg = f.diagnostics
print(f"{corpus} seed {seed} draws {draws} ta {ta}: {time.time()-t0:.0f}s rhat {dg.max_rhat:.3f} ess {dg.min_ess_bulk:.0f}/{dg.min_ess_tail:.0f} div {dg.divergences} ok {dg.ok}", {k: round(v,1) for k,v in f.timings.items()}, flush=True)
rh = arviz_stats.rhat(f.posterior["posterior"])
out = [(v, j, float(r)) for v in rh.data_vars for j, r in enumerate(np.atleast_1d(rh[v].values).ravel())]
print(pd.DataFrame(out, columns=["var", "j", "rhat"]).sort_values("rhat", ascending=False).head(4).to_string(), "\n", list(enumerate(f.tasks)))
