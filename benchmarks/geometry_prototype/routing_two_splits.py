import sys; from pathlib import Path; sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _common import quiet, routing_domains; quiet()
import bayes_scaling as bs, pandas as pd, numpy as np
from bayes_scaling.backtest import Split, backtest
rt = routing_domains()[["params", "tokens", "loss", "domain"]]
for cut in (1.1e8, 4e8):
    res = backtest(rt, Split.cutoff("params", cut), methods={"bayes": {"law": "power_params", "extrapolation": "learned_without_routing"}, "huber_ls": {}}, random_seed=int(sys.argv[1]) if len(sys.argv) > 1 else 0)
    print(cut, res.summary[["method", "n_heldout", "mape", "coverage_50", "coverage_90", "width_90", "max_rhat", "min_ess", "divergent_pct", "fit_seconds"]].to_string(index=False), flush=True)
