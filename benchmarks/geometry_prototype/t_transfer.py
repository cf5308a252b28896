import sys, numpy as np, pandas as pd, warnings
warnings.simplefilter("ignore")
sys.path.insert(0, "/work/scratch/v2")
import core, bayes_scaling as bs
train, held = bs.datasets.openlm_transfer_split()
cols = ["params", "tokens", "loss", "domain"]
seed = int(sys.argv[1]) if len(sys.argv) > 1 else 0
out = core.fit_v2(train[cols], reference=bs.datasets.load_chinchilla()[cols], seed=seed)
rng = np.random.default_rng(0)
ape = []; cov = []
for d, g in held.groupby("domain"):
    m, new = core.predict_logloss(out, g, d, rng)
    med = np.exp(np.median(m, 0)); lo, hi = np.exp(np.quantile(new, [0.05, 0.95], axis=0))
    ape += list(100 * np.abs(med - g.loss) / g.loss); cov += list((g.loss >= lo) & (g.loss <= hi))
print("MAPE", np.median(ape), "cov90", np.mean(cov))
print("tau", np.median(out["tau"], 0), "mu", np.median(out["mu"], 0))
