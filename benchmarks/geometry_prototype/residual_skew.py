"""Are the runs' residuals skewed? Standardised log residuals of each domain's Huber least-squares fit of its own
law (Chinchilla law, data-constrained law, power law in N), pooled per data set: the share beyond +-3 and +-5
robust scales (1.4826 MAD) on each side, the 1 % and 99 % quantiles and the extremes.

Run from ``benchmarks/``: ``python geometry_prototype/residual_skew.py`` (~1 min on 2 cores).
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from _common import quiet, routing_domains  # noqa: E402

quiet()
import bayes_scaling as bs  # noqa: E402
from bayes_scaling.baselines.huber import fit_domain_law  # noqa: E402

SETS = [("chinchilla", bs.datasets.load_chinchilla(), "chinchilla"), ("openlm", bs.datasets.load_openlm(), "chinchilla"),
        ("datablations", bs.datasets.load_datablations(), "data_constrained"), ("routing", routing_domains(), "power_params")]

rows = []
for name, table, law in SETS:
    zs = []
    for dom, runs in table.groupby("domain"):
        r = fit_domain_law(str(dom), runs.reset_index(drop=True), law=law).residuals
        zs.append((r - np.median(r)) / (1.4826 * np.median(np.abs(r - np.median(r)))))
    z = np.concatenate(zs)
    rows.append({"data set": name, "runs": len(z), "share > +3": (z > 3).mean(), "share < -3": (z < -3).mean(),
                 "share > +5": (z > 5).mean(), "share < -5": (z < -5).mean(), "q01": np.quantile(z, 0.01),
                 "q99": np.quantile(z, 0.99), "min": z.min(), "max": z.max()})
print(pd.DataFrame(rows).round(3).to_string(index=False))
