"""Signed forecast errors (median - truth, % of truth) of bayes and huber_ls on the four LODO splits."""
import sys, warnings; warnings.simplefilter("ignore")
sys.path.insert(0, "/work/main/benchmarks")
import numpy as np, pandas as pd
import bench_backtest as bb
from bayes_scaling.backtest import backtest
rows = []
for key, name, runs, split, kw in bb.datasets():
    res = backtest(runs, split, methods={"bayes": {**kw, "extrapolation": f"learned_without_{key}"}, "huber_ls": {}}, random_seed=0)
    p = res.points.copy(); p["err"] = 100 * (p.loss_median - p.loss) / p.loss
    for m, g in p.groupby("method"):
        e = g.err.to_numpy()
        rows.append((key, m, len(e), np.median(e), np.mean(e > 0), np.median(np.abs(e))))
    if key == "openlm":
        q = p[p.method == "bayes"]
        print(q.groupby("params").err.agg(["median", lambda x: np.mean(x > 0)]).round(2))
print(pd.DataFrame(rows, columns=["data", "method", "n", "median_signed_err_%", "share_too_high", "median_abs_err_%"]).round(3).to_string())
