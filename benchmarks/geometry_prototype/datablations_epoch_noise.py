"""Datablations backtests of three splits (model_geometry.md, session 19). Run: python datablations_epoch_noise.py normal|student_t"""
import sys, os; from pathlib import Path; sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _common import quiet; quiet()
import bayes_scaling as bs, pandas as pd, numpy as np
from bayes_scaling.backtest import Split, backtest
dc = bs.datasets.load_datablations()[["params", "tokens", "unique_tokens", "loss", "domain"]]
lik = sys.argv[1]
dcut = float(np.sort(dc.tokens.unique())[-4])
for name, split in [("N<1B", Split.cutoff("params", 1e9)), ("N<2B", Split.cutoff("params", 2e9)), (f"D<{dcut:.3g}", Split.cutoff("tokens", dcut))]:
    res = backtest(dc, split, methods={"bayes": {"law": "data_constrained", "prior": "weak", "extrapolation": "learned_without_datablations", "likelihood": lik}, "huber_ls": {}}, random_seed=0)
    s = res.summary
    print(lik, name, s[["method", "n_heldout", "mape", "coverage_90", "width_90", "max_rhat", "divergent_pct"]].to_string(index=False), flush=True)
