"""The prior of the noise scale (``bayes_scaling.model.NOISE_PRIOR``), learned across the four public data sets.

For every domain of the Chinchilla runs (Hoffmann et al. 2022 via Besiroglu et al. 2024; 1 domain), the OpenLM
over-training runs (Gadre et al. 2024; 24 domains), the data-constrained runs (Muennighoff et al. 2023; 1) and
the routing dense runs (Clark et al. 2022; the 6 evaluation sets), fit the domain's own law by Huber least
squares (``bayes_scaling.baselines.huber.fit_domain_law``: Chinchilla law, data-constrained law, power law in N)
and take the robust scale of its log residuals, 1.4826 x the median absolute deviation. The noise prior is the
log-normal of these scales over the 32 domains: geometric mean and sd of the log scales.

Run: ``python benchmarks/learn_noise.py`` (prints the table and the summary; ~1 min on 2 cores).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from _common import machine, md_table, quiet, routing_domains

quiet()
import bayes_scaling as bs  # noqa: E402
from bayes_scaling.baselines.huber import fit_domain_law  # noqa: E402
from bayes_scaling.model import NOISE_PRIOR  # noqa: E402

def data_sets():
    """(data set, runs with a domain column, law)."""
    yield "chinchilla", bs.datasets.load_chinchilla(), "chinchilla"
    yield "openlm", bs.datasets.load_openlm(), "chinchilla"
    yield "datablations", bs.datasets.load_datablations(), "data_constrained"
    yield "routing", routing_domains(), "power_params"


def main() -> str:
    rows = []
    for name, table, law in data_sets():
        for dom, runs in table.groupby("domain", sort=True):
            r = fit_domain_law(str(dom), runs.reset_index(drop=True), law=law).residuals
            rows.append({"data set": name, "domain": dom, "law": law, "runs": len(runs),
                         "residual_scale": 1.4826 * float(np.median(np.abs(r - np.median(r))))})
    df = pd.DataFrame(rows)
    logs = np.log(df["residual_scale"])
    per_set = df.assign(log=logs).groupby("data set")["log"].agg(["count", "mean", "std"])
    per_set = per_set.assign(geometric_mean=np.exp(per_set["mean"]))[["count", "geometric_mean", "std"]]
    lines = [f"## Residual scale of log loss per domain, own law by Huber least squares ({machine()})", "",
             md_table(df), "", "### Per data set (log scale: geometric mean, sd over its domains)", "",
             md_table(per_set.reset_index()), "",
             f"Over the {len(df)} domains: geometric mean {np.exp(logs.mean()):.4f}, log sd {logs.std(ddof=1):.2f}; "
             f"the package's NOISE_PRIOR: centre {np.exp(NOISE_PRIOR[0]):.4f}, log sd {NOISE_PRIOR[1]:.2f}."]
    return "\n".join(lines)


if __name__ == "__main__":
    print(main())
