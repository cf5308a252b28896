"""Chinchilla backtest split (fit C < 1e21, weak prior): one-run and expected-loss interval widths with the learned extrapolation error and without it. Usage: python benchmarks/geometry_prototype/chinchilla_width.py"""
import warnings; warnings.simplefilter("ignore")
import pandas as pd, numpy as np, bayes_scaling as bs, sys
c = bs.datasets.load_chinchilla().copy()
r = c[c.flops<1e21]; t = c[c.flops>=1e21].reset_index(drop=True)
for ex in ("learned","none"):
    f = bs.ScalingLaw(prior="weak", extrapolation=ex).fit(r[["params","tokens","loss"]], random_seed=0)
    p = f.predict(t[["params","tokens"]])
    w = (p.loss_upper-p.loss_lower)/p.loss_median
    mw = (p.mean_loss_upper-p.mean_loss_lower)/p.loss_median
    cov = ((t.loss>=p.loss_lower)&(t.loss<=p.loss_upper)).mean()
    ape = 100*abs(p.loss_median-t.loss)/t.loss
    print(ex, "width", w.median().round(4), "mean width", mw.median().round(4), "cov", cov, "ape med", ape.median().round(3), flush=True)
    if ex=="learned":
        po=f.posterior["posterior"]
        print("eta", float(po["eta"].median()), "sigma", float(po["sigma"].median()), "nu", float(po["nu_rich"].median()))
        print(p.columns.tolist())
        print(pd.concat([t[["params","tokens","loss"]], p[["loss_median","loss_lower","loss_upper","mean_loss_lower","mean_loss_upper"]]],axis=1).round(3).head(23).to_string())
