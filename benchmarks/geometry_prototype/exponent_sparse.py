"""Prototype driver of benchmarks/model_geometry.md, "The exponent's between-study spread" (patches
priors.BETWEEN_STUDY["exponent"]; run from benchmarks/: ``python geometry_prototype/exponent_sparse.py 0.3,0.5``).

Sparse designs, where the prior sets the curvature: one-domain fits of each OpenLM domain's 5 smallest models at
20 tokens per parameter (forecast its 1.4B and 6.9B runs), and the 5 smallest models of each routing evaluation
set (16-57M, forecast 481M-1.3B), fitted alone and as one hierarchy; each with the extrapolation prior learned
without its data set. Prints median APE, mean signed error (forecast - actual, %) and 90 % coverage.
"""
import sys, warnings
sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[1]))
warnings.simplefilter("ignore")
import numpy as np, pandas as pd
from _common import routing_domains, quiet
quiet()
import bayes_scaling as bs
from bayes_scaling import priors
from bayes_scaling.backtest import Split, backtest

o = bs.datasets.load_openlm()
openlm = o[(o.tokens_per_param == 20) | (o.params > 5e8)][["params", "tokens", "loss", "domain"]]
openlm = pd.concat([openlm[openlm.params < 5e8].sort_values("params").groupby("domain").head(5), openlm[openlm.params > 5e8]])
r = routing_domains()[["params", "tokens", "loss", "domain"]]
rout = pd.concat([r[r.params < 4e8].sort_values("params").drop_duplicates(["domain", "params"]).groupby("domain").head(5),
                  r[r.params >= 4e8]])
designs = [("openlm 5 runs, alone", openlm, 5e8, {"extrapolation": "learned_without_openlm"}, False),
           ("routing 5 runs, alone", rout, 4e8, {"law": "power_params", "extrapolation": "learned_without_routing"}, False),
           ("routing 5 runs, hierarchy", rout, 4e8, {"law": "power_params", "extrapolation": "learned_without_routing"}, True)]
rows = []
for v in [float(s) for s in sys.argv[1].split(",")]:
    priors.BETWEEN_STUDY["exponent"] = v
    for name, data, cut, kw, hier in designs:
        parts = [data] if hier else [g for _, g in data.groupby("domain")]
        p = pd.concat([backtest(d, Split.cutoff("params", cut), methods={"bayes": kw}, random_seed=0).points for d in parts])
        e = 100 * (p.loss_median - p.loss) / p.loss
        rows.append({"design": name, "exponent_spread": v, "n": len(p), "median_ape": round(float(np.median(e.abs())), 2),
                     "mean_error": round(float(e.mean()), 2),
                     "coverage_90": round(float(((p.loss >= p.loss_lower_90) & (p.loss <= p.loss_upper_90)).mean()), 3)})
        print(rows[-1], flush=True)
print(pd.DataFrame(rows).to_markdown(index=False))
