"""Per-run forecast errors (%) of the Bayesian fit and the per-domain Huber fit on the routing split (six evaluation sets, fit N < 4e8). Usage: python benchmarks/geometry_prototype/routing_errors.py (from the repo root; run it from another directory with PYTHONPATH set to try a scratch copy of the package)."""
import sys, warnings; warnings.simplefilter("ignore")
sys.path.insert(0, "/work/main/benchmarks")
import numpy as np, pandas as pd, bayes_scaling as bs
from _common import routing_domains
from bayes_scaling.backtest import Split, backtest
r = routing_domains()[["params", "tokens", "loss", "domain"]]
print(r.groupby("domain").params.agg(["count","min","max"]))
kw = dict(sys.argv[1:] and [a.split("=") for a in sys.argv[1:]] or [])
res = backtest(r, Split.cutoff("params", 4e8), methods={"bayes": {"law": "power_params", "extrapolation": "learned_without_routing", **kw}, "huber_ls": {}}, random_seed=0)
p = res.points.copy()
p["err"] = 100*(p.loss_median - p.loss)/p.loss
pd.set_option("display.width", 250)
print(p.pivot_table(index=["domain","params"], columns="method", values="err").round(2).to_string())
print(res.summary[["method","mape","coverage_90"]])
