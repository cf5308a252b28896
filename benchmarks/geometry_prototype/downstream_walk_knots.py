"""Prototype: the README one-corpus downstream fit (rpj) with K knots of the argument walk. Usage: python downstream_walk_knots.py K SEED [TARGET_ACCEPT]"""
import sys, time, warnings
warnings.simplefilter("ignore")
import numpy as np
import bayes_scaling as bs
from bayes_scaling import downstream
K, seed = int(sys.argv[1]), int(sys.argv[2]); ta = float(sys.argv[3]) if len(sys.argv) > 3 else 0.9
downstream.RW_KNOTS = K
downstream._KNOT_INDEX = np.arange(K, dtype=float)
downstream._TREND = downstream._KNOT_INDEX / (downstream._KNOT_INDEX @ downstream._KNOT_INDEX)
runs = bs.datasets.load_openlm_downstream()
small = runs[(runs["params"] <= 4.2e8) & (runs["train_dataset"] == "rpj")]
t0 = time.time()
ds = downstream.fit_downstream(small, random_seed=seed, sampler=bs.SamplerConfig(tune=1000, max_treedepth=10, target_accept=ta))
ss = ds.posterior["sample_stats"]
print(f"K={K} seed={seed} ta={ta}: rhat {ds.diagnostics.max_rhat:.3f} ess {ds.diagnostics.min_ess_bulk:.0f} div {ds.diagnostics.divergences} "
      f"per chain {ss['diverging'].sum('draw').values} steps {float(ss['n_steps'].mean()):.0f} {time.time()-t0:.0f}s", flush=True)
