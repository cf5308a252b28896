import sys, numpy as np, pandas as pd, warnings
warnings.simplefilter("ignore")
sys.path.insert(0, "/work/scratch/v2")
import core, bayes_scaling as bs, arviz as az
o = bs.datasets.load_openlm(); cols = ["params", "tokens", "loss", "domain"]
tr = o[o.params <= 5e8]
sel = sys.argv[2] if len(sys.argv) > 2 else "all"
if sel != "all": tr = tr[tr.eval_domain == sel]
out = core.fit_v2(tr[cols], seed=int(sys.argv[3]) if len(sys.argv) > 3 else 0, **eval(sys.argv[1]))
t = out["tree"]
s = az.summary(t, var_names=["tau", "mu", "s_mu", "nu"], kind="diagnostics")
print(s.sort_values("r_hat", ascending=False).head(12))
post = t["posterior"].to_dataset()
print("tau by chain median", np.round(np.median(post["tau"].values, axis=1), 3))
