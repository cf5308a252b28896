import sys, numpy as np, warnings; warnings.simplefilter("ignore"); sys.path.insert(0, "/work/scratch/v2")
import core2, bayes_scaling as bs
train, held = bs.datasets.openlm_transfer_split(); cols = ["params", "tokens", "loss", "domain"]
out = core2.fit(train[cols], reference=bs.datasets.load_chinchilla()[cols], seed=0)
rng = np.random.default_rng(0); ape=[]; cov=[]
for d, g in held.groupby("domain"):
    m, new = core2.draws_at(out, g, d, rng)
    med = np.exp(np.median(m, 0)); lo, hi = np.exp(np.quantile(new, [0.05, 0.95], axis=0))
    ape += list(100*np.abs(med-g.loss)/g.loss); cov += list((g.loss>=lo)&(g.loss<=hi))
print("MAPE %.2f cov %.3f" % (np.median(ape), np.mean(cov)), out["vary"])
