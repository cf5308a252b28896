"""Probe like the unseen 'several training recipes' sweep: routing recipes (router x experts) as domains."""
import sys; from pathlib import Path; sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _common import quiet; quiet()
import bayes_scaling as bs, pandas as pd, numpy as np
from bayes_scaling.backtest import Split, backtest
d = pd.read_csv(str(Path(__file__).resolve().parents[3] / 'shared/data/deepmind_routing/routing_final.csv'))
d = d[(d.router_type == 'Dense') | ((d.k == 1) & (d.routing_frequency == 0.5) & (d.seed == 42))]
d = d.assign(domain=d.router_type + "-" + d.num_experts.astype(str), params=d.dense_parameter_count,
             tokens=d.tokens_seen, loss=d["loss_" + (sys.argv[2] if len(sys.argv) > 2 else "validation")])
d = d[["params", "tokens", "loss", "domain"]].dropna()
print(d.groupby("domain").size().describe())
cut = float(sys.argv[1])
res = backtest(d, Split.cutoff("params", cut), methods={"bayes": {"law": "power_params", "extrapolation": "learned_without_routing"}, "huber_ls": {}}, random_seed=0)
pd.set_option("display.width", 200)
print(res.summary[["method", "n_heldout", "mape", "coverage_50", "coverage_90", "width_90", "max_rhat", "min_ess", "divergent_pct", "fit_seconds"]].to_string(index=False))
p = res.points; p["err"] = 100 * (p.loss_median / p.loss - 1)
print(p.groupby(["method", "params"])["err"].median().unstack(0))
b = p[p.method == "bayes"]
print("outside by size:", b.assign(out=(b.loss < b.loss_lower_90) | (b.loss > b.loss_upper_90)).groupby("params").out.mean().to_dict())
