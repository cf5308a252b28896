"""Would K new-run draws per posterior draw steady the model-form error update? (session 30 probe)"""
import warnings; warnings.simplefilter("ignore")
import numpy as np, pandas as pd, bayes_scaling as bs
from bayes_scaling.extrapolation import update_extrapolation_prior, get_extrapolation_prior
from bayes_scaling.predict import predictive_draws
runs = bs.datasets.load_chinchilla()
spec = bs.ScalingLaw(prior="weak")
errors, (expected, new), small = spec.leave_future_out_errors(runs, random_seed=0, min_held=3)
prior = get_extrapolation_prior("learned")
y, h, g = errors["log_loss"].to_numpy(), errors["distance"].to_numpy(), errors["domain"].to_numpy()
def kap(e, n):
    return float(np.exp(update_extrapolation_prior(prior, y, e, n, h, g).log_kappa_mean))
test = errors[["params", "tokens", "domain"]]
dom = test["domain"].iloc[0]
for K in (1, 8):
    ks = []
    for rep in range(8):
        rng = np.random.default_rng(100 + rep)
        es, ns = [], []
        for k in range(K):
            m, n_ = predictive_draws(small, test, dom, rng)
            es.append(m); ns.append(n_)
        ks.append(kap(np.concatenate(es), np.concatenate(ns)))
    print(f"K={K}: kappa {min(ks):.4f}-{max(ks):.4f} sd {np.std(ks):.4f}", flush=True)
