import sys, numpy as np, pandas as pd, warnings, json, time
warnings.simplefilter("ignore")
sys.path.insert(0, "/work/scratch/v2")
import core, bayes_scaling as bs
train, held = bs.datasets.openlm_transfer_split()
cols = ["params", "tokens", "loss", "domain"]
ref = bs.datasets.load_chinchilla()[cols]
variants = {
 "A_allvary_ncent": dict(),
 "B_shape_shared": dict(vary=(1,1,1,0,0)),
 "C_tight_shape": dict(between=(0.5,1.0,1.0,0.15,0.15)),
 "D_uD_a_shared": dict(vary=(1,1,0,1,0)),
}
names = sys.argv[1:] or list(variants)
for name in names:
    kw = variants[name]
    out = core.fit_v2(train[cols], reference=ref, seed=0, **kw)
    rng = np.random.default_rng(0); ape=[]; cov=[]
    for d, g in held.groupby("domain"):
        m, new = core.predict_logloss(out, g, d, rng)
        med = np.exp(np.median(m, 0)); lo, hi = np.exp(np.quantile(new, [0.05, 0.95], axis=0))
        ape += list(100*np.abs(med-g.loss)/g.loss); cov += list((g.loss>=lo)&(g.loss<=hi))
    print(name, "MAPE %.2f cov90 %.3f" % (np.median(ape), np.mean(cov)), "tau", np.round(np.median(out["tau"],0),3), flush=True)
