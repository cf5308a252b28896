"""Session 30 probe (model_geometry.md): how much the model-form error update moves with the smaller fit's draws alone
(bootstrap of its 4000 draws), and with a Ledoit-Wolf shrinkage of their correlation."""
import warnings; warnings.simplefilter("ignore")
import numpy as np, bayes_scaling as bs
from bayes_scaling.extrapolation import update_extrapolation_prior, get_extrapolation_prior
runs = bs.datasets.load_chinchilla()
spec = bs.ScalingLaw(prior="weak")
errors, draws, small = spec.leave_future_out_errors(runs, random_seed=0, min_held=3)
expected, new = draws
print(len(errors), expected.shape)
prior = get_extrapolation_prior("learned")
def kap(e, n):
    u = update_extrapolation_prior(prior, errors["log_loss"].to_numpy(), e, n, errors["distance"].to_numpy(), errors["domain"].to_numpy())
    return float(np.exp(u.log_kappa_mean))
print("full", kap(expected, new))
rng = np.random.default_rng(0)
ks = []
for b in range(20):
    idx = rng.integers(0, expected.shape[0], expected.shape[0])
    ks.append(kap(expected[idx], new[idx]))
print("bootstrap of draws: %.4f-%.4f sd %.4f" % (min(ks), max(ks), np.std(ks)))
half = []
for b in range(10):
    idx = rng.choice(expected.shape[0], expected.shape[0] // 2, replace=False)
    half.append(kap(expected[idx], new[idx]))
print("halves: %.4f-%.4f" % (min(half), max(half)))

# Ledoit-Wolf shrinkage of the draws' correlation (Ledoit & Wolf 2004), through np.cov inside the update
import bayes_scaling.extrapolation as ext
real_cov = np.cov
def lw_cov(m, rowvar=False):
    X = np.asarray(m, float)
    if rowvar:
        X = X.T
    n, p = X.shape
    X = X - X.mean(axis=0)
    S = X.T @ X / n
    sd = np.sqrt(np.diag(S)); Z = X / sd
    R = Z.T @ Z / n
    mu = 1.0
    d2 = np.sum((R - np.eye(p)) ** 2)
    b2 = sum(np.sum((np.outer(z, z) - R) ** 2) for z in Z[:: max(1, n // 1000)]) / (len(Z[:: max(1, n // 1000)]) * n)
    lam = min(1.0, min(b2, d2) / d2) if d2 > 0 else 1.0
    Rs = (1 - lam) * R + lam * np.eye(p)
    return Rs * np.outer(sd, sd)
np.cov = lw_cov
print("LW full", kap(expected, new))
ks = []
rng = np.random.default_rng(0)
for b in range(20):
    idx = rng.integers(0, expected.shape[0], expected.shape[0])
    ks.append(kap(expected[idx], new[idx]))
print("LW bootstrap of draws: %.4f-%.4f sd %.4f" % (min(ks), max(ks), np.std(ks)))
np.cov = real_cov
rng = np.random.default_rng(1)
a, b_ = [], []
for b in range(20):
    idx = rng.integers(0, expected.shape[0], expected.shape[0])
    a.append(kap(expected, new[idx]))       # only the new-run draws resampled
    b_.append(kap(expected[idx], new))      # only the expected draws resampled
print("new-run draws only: %.4f-%.4f sd %.4f" % (min(a), max(a), np.std(a)))
print("expected draws only: %.4f-%.4f sd %.4f" % (min(b_), max(b_), np.std(b_)))
