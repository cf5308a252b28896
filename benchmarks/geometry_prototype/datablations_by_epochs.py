"""datablations backtest (fit N < 2B and N < 1B, extrapolation prior learned without datablations, seed 0), coverage, width and median APE split at R_D* = 15.4 epochs. Usage: [BS_EPOCH_NOISE=1 PYTHONPATH=scratch-copy] python benchmarks/geometry_prototype/datablations_by_epochs.py"""
import sys, os; sys.path.insert(0, '/work/main/benchmarks')
from _common import quiet; quiet()
import numpy as np, pandas as pd
import bayes_scaling as bs
print(bs.__file__)
from bayes_scaling.backtest import backtest, Split
dc = bs.datasets.load_datablations()[["params", "tokens", "unique_tokens", "loss", "domain"]]
for cut in (2e9, 1e9):
    res = backtest(dc, Split.cutoff("params", cut), methods={"bayes": {"law": "data_constrained", "extrapolation": "learned_without_datablations"}}, random_seed=0)
    p = res.points; s = res.summary.iloc[0]
    p["ep"] = p.tokens / p.unique_tokens
    p["cov"] = (p.loss >= p.loss_lower_90) & (p.loss <= p.loss_upper_90)
    p["w"] = (p.loss_upper_90 - p.loss_lower_90) / p.loss_median
    lo = p.ep <= 15.4
    print(f"cut {cut:g} env={os.environ.get('BS_EPOCH_NOISE')}: cov {p['cov'].mean():.3f} MdAPE {p.ape.median():.2f} width {p.w.mean():.3f} | <=15ep n={lo.sum()} cov {p['cov'][lo].mean():.3f} w {p.w[lo].mean():.3f} MdAPE {p.ape[lo].median():.2f} | >15ep n={(~lo).sum()} cov {p['cov'][~lo].mean():.3f} w {p.w[~lo].mean():.3f} | rhat {s.max_rhat:.3f} ess {s.min_ess:.0f} div% {s.divergent_pct:.3f} r2 {s.r2:.3f}", flush=True)
