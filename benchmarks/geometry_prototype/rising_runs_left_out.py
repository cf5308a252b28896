"""Probe: leave out of the fit the runs whose loss rises with tokens at fixed (params, unique_tokens)."""
import sys, numpy as np, pandas as pd, warnings
sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[1]))
from _common import quiet
quiet()
import bayes_scaling as bs
from bayes_scaling.backtest import backtest
from bayes_scaling.data import RISE_WITH_TOKENS
import bench_sldbench_dc as sb

def rising(t):
    keys = ["domain", "params"] + (["unique_tokens"] if "unique_tokens" in t else [])
    t = t.assign(logl=np.log(t["loss"]))
    per = t.groupby(keys + ["tokens"], sort=True)["logl"].min().reset_index()
    per["best_before"] = per.assign(cm=per.groupby(keys)["logl"].cummin()).groupby(keys)["cm"].shift()
    bb = t.merge(per[keys + ["tokens", "best_before"]], on=keys + ["tokens"], how="left")["best_before"].to_numpy(float)
    return (t["logl"].to_numpy() - bb) > RISE_WITH_TOKENS

def score(name, res):
    g = res.points[res.points.method == "bayes"]
    y, f = g.loss.to_numpy(), g.loss_median.to_numpy()
    inside = (y >= g.loss_lower_90) & (y <= g.loss_upper_90)
    s = res.summary.set_index("method").loc["bayes"]
    print(f"{name}: n={len(g)} APE={100*np.median(abs(f-y)/y):.2f}% signed={100*np.median((f-y)/y):+.2f}% "
          f"cov={inside.mean():.3f} width={np.mean((g.loss_upper_90-g.loss_lower_90)/f):.3f} "
          f"rhat={s['max_rhat']:.3f} ess={s['min_ess']:.0f} div={s['divergent_pct']:.2f}", flush=True)

which = sys.argv[1]
if which == "sld":
    train, held = sb.runs_and_split()
    kw = {"law": "data_constrained", "prior": "weak", "extrapolation": "learned_without_datablations"}
else:
    dc = bs.datasets.load_datablations()[["params", "tokens", "unique_tokens", "loss", "domain"]]
    train, held = dc[dc.params < 2e9].reset_index(drop=True), dc[dc.params >= 2e9].reset_index(drop=True)
    kw = {"law": "data_constrained", "prior": "weak", "extrapolation": "learned_without_datablations"}
r = rising(train)
print(which, "train", len(train), "rising", r.sum(), "held", len(held), "held rising(within held)", rising(held).sum())
for name, tr in [("shipped", train), ("no rising", train[~r].reset_index(drop=True))]:
    res = backtest(pd.concat([tr, held], ignore_index=True), (tr, held), methods={"bayes": kw}, random_seed=0)
    score(name, res)
    if which != "sld":
        g = res.points[res.points.method == "bayes"].copy()
        g["ep"] = g.tokens / g.unique_tokens
        for lab, gg in g.groupby(g.ep > 15.4):
            y, f = gg.loss.to_numpy(), gg.loss_median.to_numpy()
            print("   epochs>15.4" if lab else "   epochs<=15.4", len(gg), f"APE={100*np.median(abs(f-y)/y):.2f}% cov={((y>=gg.loss_lower_90)&(y<=gg.loss_upper_90)).mean():.3f}")
