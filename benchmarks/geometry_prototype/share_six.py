"""Prototype driver of benchmarks/model_geometry.md, "The share's spread" (patches priors.BETWEEN_DOMAIN; run from benchmarks/)."""
import sys, warnings, time
warnings.simplefilter("ignore")
import numpy as np
import bayes_scaling as bs
from bayes_scaling import priors, inputs as inp
from bayes_scaling.backtest import backtest
ratios = [float(x) for x in sys.argv[1].split(",")]; mode = sys.argv[2]
o = bs.datasets.load_openlm()[["params", "tokens", "loss", "domain"]]
sm = o[o.params < 2e8].copy()
sm["lr"] = np.log(sm.tokens / sm.params)
rows = []
for r in ratios:
    sm["d"] = (sm.lr - np.log(r)).abs()
    rows.append(sm.loc[sm.groupby(["domain", "params"])["d"].idxmin()])
import pandas as pd
train = pd.concat(rows).drop_duplicates(subset=["domain", "params", "tokens"])[["params", "tokens", "loss", "domain"]]
print(train.groupby("domain").size().median())
held = o[o.params > 1e9][["params", "tokens", "loss", "domain"]]
if mode == "old":
    orig = priors.between_domain_spread
    inp.between_domain_spread = lambda law, identified=False: orig(law, False)
t = time.time()
res = backtest(None, (train, held), methods={"bayes": {"extrapolation": "learned_without_openlm"}, "huber_ls": {}}, random_seed=0)
for _, r in res.summary.iterrows():
    print(f"r={ratios} {mode} {r.method}: mape {r.mape:.3f} cov90 {r.coverage_90:.3f} width {r.width_90:.3f} rhat {r.max_rhat:.3f} ess {r.min_ess:.0f} div {r.divergent_pct:.2f} t {time.time()-t:.0f}", flush=True)
