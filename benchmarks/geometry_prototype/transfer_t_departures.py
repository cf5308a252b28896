"""Transfer (24 x 4 OpenLM + Chinchilla reference) with Student-t domain departures (BS_T_DEPART=df) in a scratch copy."""
import sys, warnings; warnings.simplefilter("ignore")
sys.path.insert(0, "/work/scratch/s17/pkg")  # a scratch copy whose model.py reads BS_T_DEPART (see model_geometry.md)
import bayes_scaling as bs
assert bs.__file__.startswith("/work/scratch/s17/pkg"), bs.__file__
from bayes_scaling.backtest import backtest
from bayes_scaling.datasets import openlm_transfer_split
train, held = openlm_transfer_split()
cols = ["params", "tokens", "loss", "domain"]
seed = int(sys.argv[1]) if len(sys.argv) > 1 else 0
res = backtest(None, (train[cols], held[cols]), methods={"bayes": {"reference": "chinchilla", "extrapolation": "learned_without_openlm"}}, random_seed=seed)
s = res.summary.iloc[0]
print("seed", seed, "mape", round(s.mape, 3), "cov90", round(s.coverage_90, 3), "width", round(s.width_90, 3), "rhat", round(s.max_rhat, 3), "ess", round(s.min_ess), "div%", s.divergent_pct, "t", round(s.fit_seconds, 1))
pts = res.points
print(pts.pivot_table(index="domain", values="ape", aggfunc="median").round(2).T.to_string())
