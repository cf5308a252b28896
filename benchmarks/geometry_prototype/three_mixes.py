"""A probe like the unseen "isoFLOP sweep of three data mixes" of issue 13: OpenLM's three training mixes
(c4_original, rpj, rw_original; Gadre et al. 2024) scored on one evaluation set, each mix a domain, fit below
FLOPS_CUT and forecast every larger run (0.1-3.2 decades of compute beyond the fit; N up to 6.9B).

Prints, per evaluation set and method, median APE, 90 % coverage and mean relative width, and the Bayesian
coverage and signed error (median forecast over actual, in %) by decades beyond the fit. The extrapolation-error
prior is learned without OpenLM, so OpenLM's own errors do not set these intervals.

Usage: python benchmarks/geometry_prototype/three_mixes.py [FLOPS_CUT] [EVAL_SETS]
(defaults 4e18 and c4_val,openlm_val,paloma_ptb,paloma_redpajama).
"""
import sys
import warnings

warnings.simplefilter("ignore")
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

import bayes_scaling as bs  # noqa: E402
from bayes_scaling.backtest import Split, backtest  # noqa: E402

cut = float(sys.argv[1]) if len(sys.argv) > 1 else 4e18
evs = sys.argv[2].split(",") if len(sys.argv) > 2 else ["c4_val", "openlm_val", "paloma_ptb", "paloma_redpajama"]
o = bs.datasets.load_openlm()
rows, bins = [], []
for ev in evs:
    r = o[o.eval_domain == ev][["params", "tokens", "loss", "domain"]]
    fit_max = (6 * r.params * r.tokens)[6 * r.params * r.tokens < cut].max()
    res = backtest(r, Split.cutoff("flops", cut), random_seed=0,
                   methods={"bayes": {"extrapolation": "learned_without_openlm"}, "huber_ls": {}})
    s = res.summary.set_index("method")
    for m in s.index:
        rows.append({"eval set": ev, "method": m, "n_fit": int((6 * r.params * r.tokens < cut).sum()),
                     "n_heldout": int(s.loc[m, "n_heldout"]), "mape": s.loc[m, "mape"],
                     "coverage_90": s.loc[m, "coverage_90"], "width_90": s.loc[m, "width_90"],
                     "max_rhat": s.loc[m, "max_rhat"], "min_ess": s.loc[m, "min_ess"],
                     "divergent_pct": s.loc[m, "divergent_pct"]})
    p = res.points[res.points["method"] == "bayes"].copy()
    p["decades"] = np.log10(6 * p.params * p.tokens / fit_max)
    p["inside"] = (p.loss >= p.loss_lower_90) & (p.loss <= p.loss_upper_90)
    p["err"] = 100 * (p.loss_median / p.loss - 1)
    g = p.groupby(pd.cut(p.decades, [0, 0.5, 1, 1.5, 3.5]), observed=True).agg(
        n=("err", "size"), coverage_90=("inside", "mean"), signed_error=("err", "mean"))
    bins.append(g.assign(**{"eval set": ev}).reset_index())
pd.set_option("display.width", 200)
print(pd.DataFrame(rows).round(4).to_string(index=False))
print()
print(pd.concat(bins).round(3).to_string(index=False))
