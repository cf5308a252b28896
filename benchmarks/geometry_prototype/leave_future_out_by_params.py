"""Session 31 probe: hold out each domain's top third of log-PARAMS (not compute) for the model-form error update, by patching fit.leave_future_out. Usage (repo root): python benchmarks/geometry_prototype/leave_future_out_by_params.py openlm|chinchilla|datablations|routing params"""
import sys, numpy as np, pandas as pd, warnings
warnings.simplefilter("ignore")
sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[1]))
from _common import quiet, routing_domains
quiet()
import bayes_scaling as bs
import bayes_scaling.fit as F
from bayes_scaling.backtest import backtest, Split
orig = F.leave_future_out
def by_params(runs, share=1/3, min_fit=3, min_held=1):
    if "params" not in runs: return orig(runs, share=share, min_fit=min_fit, min_held=min_held)
    logc = np.log10(runs["params"].to_numpy(float))
    dom = runs["domain"].to_numpy() if "domain" in runs else np.zeros(len(runs))
    held = np.zeros(len(runs), bool)
    for d in pd.unique(dom):
        i = np.flatnonzero(dom == d)
        top, bottom = logc[i].max(), logc[i].min()
        h = logc[i] > top - share * (top - bottom) + 1e-9
        if top > bottom and h.any() and h.sum() >= min_held and (~h).sum() >= min_fit:
            held[i[h]] = True
    return held
which = sys.argv[1]; variant = sys.argv[2]
if variant == "params": F.leave_future_out = by_params
if which == "openlm":
    runs = bs.datasets.load_openlm()[["params", "tokens", "loss", "domain"]]; split = Split.cutoff("params", 5e8); kw = {}
elif which == "chinchilla":
    runs = bs.datasets.load_chinchilla(); split = Split.cutoff("flops", 1e21); kw = {"prior": "weak"}
elif which == "routing":
    runs = routing_domains()[["params", "tokens", "loss", "domain"]]; split = Split.cutoff("params", 4e8); kw = {"law": "power_params"}
else:
    runs = bs.datasets.load_datablations()[["params", "tokens", "unique_tokens", "loss", "domain"]]; split = Split.cutoff("params", 2e9); kw = {"law": "data_constrained", "prior": "weak"}
res = backtest(runs, split, methods={"bayes": {**kw, "extrapolation": f"learned_without_{which}"}}, random_seed=0)
g = res.points
y, f = g.loss.to_numpy(), g.loss_median.to_numpy()
inside = (y >= g.loss_lower_90) & (y <= g.loss_upper_90)
print(which, variant, f"APE {100*np.median(abs(f-y)/y):.3f}% cov {inside.mean():.3f} width {np.mean((g.loss_upper_90-g.loss_lower_90)/f):.4f}", flush=True)
