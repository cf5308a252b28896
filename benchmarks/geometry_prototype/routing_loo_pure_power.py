"""Can leave-one-out (or leave-future-out) choose between a law with a floor E and the pure power law (E = 0)?

The question behind stacking law families with LOO weights (issue 13, scope 2): on the routing split (six
evaluation sets, fit N < 4e8, forecast 481M-1.3B) the per-set least-squares fits put E at 0 on two sets and
at 1.3 nats on two others, and the Bayesian fit cannot reach E = 0 (``model_geometry.md``, session 9). Per set,
least squares on log L of both forms: ``log L = LSE(a - alpha x, e)`` and ``log L = a - alpha x``
(x = log(N / 1e8)); printed: in-sample LOO RMSE (log loss), leave-future-out RMSE (the 3 largest fitted runs
forecast from the others) and the median APE (%) on the held-out models.

Usage: python benchmarks/geometry_prototype/routing_loo_pure_power.py
"""
import sys
import warnings

warnings.simplefilter("ignore")
sys.path.insert(0, "/work/main/benchmarks")
import numpy as np  # noqa: E402
from scipy.optimize import minimize  # noqa: E402

from _common import routing_domains  # noqa: E402


def with_floor(x, y):
    best = None
    for e0 in (-3, -1, 0, 0.5):
        for al in (0.1, 0.3):
            res = minimize(lambda t: np.sum((np.logaddexp(t[0] - t[1] * x, t[2]) - y) ** 2), [np.log(20), al, e0],
                           method="Nelder-Mead", options={"maxiter": 5000, "xatol": 1e-9, "fatol": 1e-12})
            best = res if best is None or res.fun < best.fun else best
    t = best.x
    return lambda xx: np.logaddexp(t[0] - t[1] * xx, t[2])


def pure_power(x, y):
    c = np.polyfit(x, y, 1)
    return lambda xx: np.polyval(c, xx)


r = routing_domains()
print(f"{'set':16s} {'form':6s} {'LOO':>7s} {'LFO':>7s} {'held-out APE %':>15s}")
for d, g in r.groupby("domain"):
    tr, te = g[g.params < 4e8], g[g.params >= 4e8]
    x, y = np.log(tr.params.to_numpy() / 1e8), np.log(tr.loss.to_numpy())
    for name, fn in (("E", with_floor), ("E = 0", pure_power)):
        loo = [fn(np.delete(x, i), np.delete(y, i))(x[i:i + 1])[0] - y[i] for i in range(len(x))]
        o = np.argsort(x)
        lfo = fn(x[o[:-3]], y[o[:-3]])(x[o[-3:]]) - y[o[-3:]]
        ape = 100 * np.median(np.abs(np.exp(fn(x, y)(np.log(te.params.to_numpy() / 1e8))) / te.loss.to_numpy() - 1))
        print(f"{d:16s} {name:6s} {np.sqrt(np.mean(np.square(loo))):7.4f} {np.sqrt(np.mean(lfo ** 2)):7.4f} {ape:15.2f}")
