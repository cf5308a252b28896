"""Session 33 probe: the discrepancy held at the nearest point of the runs' convex hull instead of their box.

Usage: ``python porian_hull_hold_4e17.py SET [CUT]``, SET in chinchilla|openlm|datablations|mix3|owt3|rw3|help3|eight.
Needs a tree with ``discrepancy_hull_hold.diff`` applied (``git apply``; not shipped: see
``model_geometry.md``); ``HULL=0`` makes it return None, the shipped box hold. Prints median APE, 90 % coverage and
median width, then by budget (multiple of CUT) and by domain, and writes the points to pts_SET_HULL.csv in the working directory.
"""
import sys, os, warnings, time
warnings.simplefilter("ignore")
sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[1]))
from _common import quiet; quiet()
import numpy as np, pandas as pd
import bayes_scaling as bs
import bayes_scaling.discrepancy as D
if os.environ.get("HULL", "1") == "0":
    D.runs_hull = lambda p: None
from bayes_scaling.backtest import backtest, Split
which = sys.argv[1]
t0 = time.time()
cut = None
if which in ("mix3", "owt3", "rw3", "eight", "help3"):
    import bench_porian_recipes as B
    raw = pd.read_csv(B.DATA); raw = raw[(raw["param_count"] == "standard") & (raw["loss_kind"] == "val")]
    runs = pd.DataFrame({"domain": raw["dataset"] + "/" + raw["hparams"] + "_" + raw["warmup"] + "_" + raw["decay"],
                         "params": raw["params"], "tokens": raw["tokens"], "loss": raw["loss"], "budget": raw["flops"]})
    doms = sorted(runs.domain.unique())
    pick = {"rw3": [d for d in doms if d.startswith("rw/")][:3], "owt3": [d for d in doms if d.startswith("owt2/")][1:4],
            "mix3": [doms[0], doms[3], doms[6]], "eight": doms,
            "help3": ["rw/base_short_kaplan", "owt2/tuned_short_const", "owt2/base_long_kaplan"]}[which]
    cut = 1.6e18 if which == "eight" else float(sys.argv[2]) if len(sys.argv) > 2 else 4e17
    runs = runs[runs.domain.isin(pick)]
    held = runs.budget > cut
    cols = ["domain", "params", "tokens", "loss"]
    tr, te = runs[~held][cols].reset_index(drop=True), runs[held][cols].reset_index(drop=True)
    res = backtest(None, (tr, te), methods={"bayes": {}}, random_seed=0)
else:
    if which == "openlm":
        runs = bs.datasets.load_openlm()[["params", "tokens", "loss", "domain"]]; split = Split.cutoff("params", 5e8); kw = {}
    elif which == "chinchilla":
        runs = bs.datasets.load_chinchilla(); split = Split.cutoff("flops", 1e21); kw = {"prior": "weak"}
    else:
        runs = bs.datasets.load_datablations()[["params", "tokens", "unique_tokens", "loss", "domain"]]; split = Split.cutoff("params", 2e9); kw = {"law": "data_constrained", "prior": "weak"}
    res = backtest(runs, split, methods={"bayes": {**kw, "extrapolation": f"learned_without_{which}"}}, random_seed=0)
g = res.points
y, f = g.loss.to_numpy(), g.loss_median.to_numpy()
inside = (y >= g.loss_lower_90) & (y <= g.loss_upper_90)
tag = f"{which} HULL {os.environ.get('HULL', '1')}"
print(tag, f"APE {100*np.median(abs(f-y)/y):.3f}% cov {inside.mean():.3f} width {np.median((g.loss_upper_90-g.loss_lower_90)/f):.4f} {time.time()-t0:.0f}s", flush=True)
if cut is not None:
    g = g.assign(x=np.round(6 * g.params * g.tokens / cut), ape=100 * abs(f - y) / y, signed=100 * (f / y - 1), inside=inside,
                 width=(g.loss_upper_90 - g.loss_lower_90) / f)
    print(g.groupby("x").agg(n=("ape", "size"), ape=("ape", "median"), signed=("signed", "median"), cov=("inside", "mean"), width=("width", "median")).round(3).to_string())
    print(g.groupby("domain").agg(n=("ape", "size"), ape=("ape", "median"), signed=("signed", "median"), cov=("inside", "mean"), width=("width", "median")).round(3).to_string())
    g.to_csv(f"pts_{which}_{os.environ.get('HULL', '1')}.csv", index=False)
