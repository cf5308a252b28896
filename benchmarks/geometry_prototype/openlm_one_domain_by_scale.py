"""OpenLM, each of the 24 domains fitted alone (default prior), forecast its 1.4B and 6.9B runs, by the largest
fitted size: python openlm_one_domain_by_scale.py {4,16,154,411} [ne]  (4: N < 100M at 20 and 80 tokens per parameter;
16: every run with N < 100M; 154 / 411: every run up to that size; "ne": N without the embedding parameters).
Prints 90 % coverage, median APE and median signed error (%). model_geometry.md, session 23.
"""
import sys, time, warnings, numpy as np, pandas as pd
warnings.simplefilter("ignore")
import bayes_scaling as bs
o = bs.datasets.load_openlm()
o = o.assign(tpp=(o.tokens / o.params).round(0))
if len(sys.argv) > 2: o = o.assign(params=o.params_no_embed)
design = sys.argv[1]
spec = bs.ScalingLaw()
rows = []
for dom in sorted(o.domain.unique()):
    d = o[o.domain == dom]
    if design == "4":
        tr = d[(d.params < 1e8) & d.tpp.isin([20, 80])]
    elif design == "16":
        tr = d[d.params < 1e8]
    elif design == "154":
        tr = d[d.params < 2e8]
    elif design == "411":
        tr = d[d.params < 5e8]
    elif design == "5x20":
        tr = d[(d.params < 5e8) & d.tpp.isin([20])]
    te = d[d.params > 1e9]
    f = spec.fit(tr[["params", "tokens", "loss"]].reset_index(drop=True), random_seed=0)
    p = f.predict(te[["params", "tokens"]].reset_index(drop=True))
    lo, hi = p.filter(like="lower").iloc[:, 0].values, p.filter(like="upper").iloc[:, 0].values
    y = te.loss.values
    for i in range(len(y)):
        rows.append(dict(domain=dom, params=te.params.values[i], err=p.loss_median.values[i] / y[i] - 1,
                         cov=(lo[i] <= y[i] <= hi[i]), width=(hi[i] - lo[i]) / p.loss_median.values[i],
                         rhat=f.diagnostics.max_rhat))
r = pd.DataFrame(rows)
print(design, "n", len(r), "cov", r["cov"].mean().round(3), "medAPE", (100 * r.err.abs().median()).round(2),
      "signed", (100 * r.err.median()).round(2), "width", r.width.mean().round(3), "maxrhat", r.rhat.max().round(3))
print(r.groupby("params")[["cov", "width"]].mean(), (100*r.groupby("params").err.median()).round(2))
