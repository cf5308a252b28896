"""Session 30 probe (model_geometry.md): the demo fit at seeds 0-5, the 70B one-run interval width and the updated
model-form error per decade (kappa) that sets it."""
import warnings; warnings.simplefilter("ignore")
import numpy as np, pandas as pd, bayes_scaling as bs
runs = bs.datasets.load_chinchilla()
t = pd.DataFrame({"params": [7e10], "tokens": [1.4e12]})
for seed in range(6):
    fit = bs.ScalingLaw(prior="weak").fit(runs, random_seed=seed)
    p = fit.predict(t).iloc[0]
    ex = fit.extrapolation
    print(seed, "width %.2f%%" % (100 * (p.loss_upper - p.loss_lower) / p.loss_median), "median %.4f" % p.loss_median,
          "kappa", ex.name, round(float(np.exp(ex.log_kappa_mean)), 5), round(ex.log_kappa_sd, 3), flush=True)
