"""Routing: each of four evaluation sets fitted alone (no hierarchy), forecast errors (%) of the three held-out models and the posterior medians of E, A, alpha. PRIOR=weak for the weak prior. Usage: python benchmarks/geometry_prototype/routing_one_domain.py"""
import sys, warnings; warnings.simplefilter("ignore")
sys.path.insert(0, "/work/main/benchmarks")
import numpy as np, pandas as pd, bayes_scaling as bs, os
KW = {"prior": os.environ["PRIOR"]} if os.environ.get("PRIOR") else {}
from _common import routing_domains
r = routing_domains()[["params", "tokens", "loss", "domain"]]
for d in ["curation_corpus", "pile", "lambada", "c4"]:
    g = r[r.domain == d]
    small, big = g[g.params < 4e8], g[g.params >= 4e8]
    fit = bs.ScalingLaw(law="power_params", extrapolation="learned_without_routing", **KW).fit(small.drop(columns="domain"), random_seed=0)
    p = fit.predict(big.drop(columns="domain"))
    err = 100 * (p["loss_median"].to_numpy() - big.loss.to_numpy()) / big.loss.to_numpy()
    pr = fit.parameters().set_index("parameter")["median"]
    print(d, np.round(err, 2), "E %.2f A %.1f alpha %.3f" % (pr["E"], pr["A"], pr["alpha"]))
