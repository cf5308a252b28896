import sys, numpy as np, pandas as pd, warnings, time
warnings.simplefilter("ignore")
sys.path.insert(0, "/work/scratch/v2")
import core, bayes_scaling as bs
o = bs.datasets.load_openlm()
cols = ["params", "tokens", "loss", "domain"]
tr, te = o[o.params <= 5e8], o[o.params > 5e8]
kw = eval(sys.argv[1]) if len(sys.argv) > 1 else {}
sel = sys.argv[2] if len(sys.argv) > 2 else "all"
if sel != "all":  # e.g. 'c4_val' -> 3 domains
    tr = tr[tr.eval_domain == sel]; te = te[te.eval_domain == sel]
out = core.fit_v2(tr[cols], seed=0, **kw)
rng = np.random.default_rng(0); ape=[]; cov=[]
for d, g in te.groupby("domain"):
    m, new = core.predict_logloss(out, g, d, rng)
    med = np.exp(np.median(m, 0)); lo, hi = np.exp(np.quantile(new, [0.05, 0.95], axis=0))
    ape += list(100*np.abs(med-g.loss)/g.loss); cov += list((g.loss>=lo)&(g.loss<=hi))
print("MAPE %.2f cov90 %.3f" % (np.median(ape), np.mean(cov)), "tau", np.round(np.median(out["tau"],0),3), "nu", np.median(out["nu"][:,0]))
