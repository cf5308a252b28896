"""Prototype driver of benchmarks/model_geometry.md, "The share's spread" (patches priors.BETWEEN_DOMAIN; run from benchmarks/)."""
import sys, warnings, time
warnings.simplefilter("ignore")
from bayes_scaling import priors
from bayes_scaling.backtest import backtest
from bayes_scaling.datasets import openlm_transfer_split
train, held = openlm_transfer_split()
cols = ["params", "tokens", "loss", "domain"]
for s in [float(x) for x in sys.argv[1].split(",")]:
    priors.BETWEEN_DOMAIN["share"] = (len(sys.argv) > 2, s)
    t = time.time()
    res = backtest(None, (train[cols], held[cols]), methods={"bayes": {"reference": "chinchilla", "extrapolation": "learned_without_openlm"}}, random_seed=0)
    r = res.summary.iloc[0]
    print(f"transfer share={s}: mape {r.mape:.3f} cov90 {r.coverage_90:.3f} width {r.width_90:.3f} rhat {r.max_rhat:.3f} ess {r.min_ess:.0f} div {r.divergent_pct:.2f} t {time.time()-t:.0f}", flush=True)
