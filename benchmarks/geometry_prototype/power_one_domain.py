import sys; from pathlib import Path; sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _common import quiet; quiet()
import bayes_scaling as bs, pandas as pd, numpy as np
from bayes_scaling.backtest import Split, backtest
chin = bs.datasets.load_chinchilla()
# compute-optimal envelope: per flops budget bin, the best run -> a compute-only table
c = chin.assign(bucket=np.round(np.log10(chin.flops) * 4) / 4).sort_values("loss").groupby("bucket").first().reset_index()
c = c[["flops", "loss"]].assign(domain="chinchilla")
print(len(c))
for cut in (1e20, 1e21):
    res = backtest(c, Split.cutoff("flops", cut), methods={"bayes": {"law": "power_flops", "extrapolation": "learned_without_chinchilla", "prior": "weak"}, "huber_ls": {}}, random_seed=0)
    print(cut, res.summary[["method", "n_heldout", "mape", "coverage_90", "width_90", "max_rhat", "min_ess", "divergent_pct"]].to_string(index=False))
o = bs.datasets.load_openlm()
o = o[o.domain == o.domain.iloc[0]][["params", "tokens", "loss"]]
for seed in (0, 1):
    res = backtest(o.assign(domain="x"), Split.cutoff("params", 5e8), methods={"bayes": {"law": "power_params", "extrapolation": "learned_without_openlm"}}, random_seed=seed)
    print("openlm one domain power_params", res.summary[["method", "n_heldout", "mape", "coverage_90", "width_90", "max_rhat", "min_ess", "divergent_pct"]].to_string(index=False))
