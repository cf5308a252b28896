"""The README's one-corpus downstream fit (rpj, N <= 420M) with longer sampler settings (session 29). Usage (repo root):
python benchmarks/geometry_prototype/downstream_long_settings.py SEED DRAWS [TARGET_ACCEPT [TUNE]]; prints max R-hat, min
bulk ESS, divergent draws (per chain) and whether the package's checks pass."""
import sys, time, warnings, numpy as np
warnings.simplefilter("ignore")
import bayes_scaling as bs
from bayes_scaling.downstream import fit_downstream
seed, draws = int(sys.argv[1]), int(sys.argv[2])
d = bs.datasets.load_openlm_downstream()
small = d[(d["params"] <= 4.2e8) & (d["train_dataset"] == "rpj")]
t0 = time.time()
ta = float(sys.argv[3]) if len(sys.argv) > 3 else 0.9
kw = {} if draws == 1000 and ta == 0.9 else {"sampler": bs.SamplerConfig(draws=draws, tune=int(sys.argv[4]) if len(sys.argv) > 4 else 1000, max_treedepth=10, target_accept=ta)}
f = fit_downstream(small, random_seed=seed, **kw)
dg = f.diagnostics
ss = f.posterior["sample_stats"]
print(f"seed {seed} draws {draws} ta {ta}: {time.time()-t0:.0f}s rhat {dg.max_rhat:.3f} ess {dg.min_ess_bulk:.0f} div {dg.divergences} "
      f"div/chain {ss['diverging'].sum('draw').values} ok {dg.ok}", flush=True)
