"""Issue 3 benchmark: few-run transfer on OpenLM over-training runs (Gadre et al. 2024).

Split (``bayes_scaling.datasets.openlm_transfer_split``): 24 domains (3 training
corpora x 8 eval sets), 4 fitting runs per domain with N <= 154M; forecast the
72 held-out runs at 1.4B and 6.9B parameters. Methods, scored in one harness
(``bayes_scaling.backtest``):

* ``bayes``: hierarchical fit, published prior (besiroglu2024), Chinchilla runs as reference, the
  package's default sampler settings (4 chains x 1000 draws) and its learned extrapolation-error prior
  with OpenLM left out (``learned_without_openlm``: an honest test of data it was not learned from);
* ``huber_ls``: the same law fitted per domain without priors (Huber least squares);
* ``published_offset``: the published Besiroglu law with only a per-domain offset.

Run: ``python benchmarks/bench_transfer.py [seed] [--extrapolation-update]`` (prints the tables; ~2-5 min on 2 cores).
"""

from __future__ import annotations

import sys

from _common import Timer, machine, md_table, quiet

quiet()

from bayes_scaling import scoring  # noqa: E402
from bayes_scaling.backtest import backtest  # noqa: E402
from bayes_scaling.datasets import openlm_transfer_split  # noqa: E402



def main(seed: int = 0, update: bool = False) -> str:
    train, held = openlm_transfer_split()
    cols = ["params", "tokens", "loss", "domain"]
    with Timer() as t:
        res = backtest(None, (train[cols], held[cols]),
                       methods={"bayes": {"reference": "chinchilla", "extrapolation": "learned_without_openlm",
                                          "extrapolation_update": update}, "huber_ls": {},
                                "published_offset": {}},
                       random_seed=seed)
    s = res.summary
    lines = [f"## OpenLM transfer: 4 runs/domain (N <= 154M) + Chinchilla reference, forecast 1.4B and 6.9B ({machine()})"
             + (", extrapolation prior updated with the fit's own runs (extrapolation_update=True)" if update else ""), ""]
    show = s[["method", "n_heldout", "n_scored", "mape", "rmsle", "coverage_80", "coverage_90", "coverage_95",
              "width_90", "crps", "fit_seconds", "notes"]].copy()
    lines.append(md_table(show))
    lines.append("")
    pts = res.points
    per = pts.pivot_table(index="domain", columns="method", values="ape", aggfunc="median").round(2)
    cov = pts[pts["method"] == "bayes"].assign(
        covered=lambda d: scoring.covered(d["loss"], d["loss_lower_90"], d["loss_upper_90"])
    ).groupby("domain")["covered"].mean().rename("bayes_coverage_90")
    per = per.join(cov).reset_index()
    lines.append("### Median absolute percentage error per domain (%), and the Bayesian 90 % coverage")
    lines.append("")
    lines.append(md_table(per))
    by_size = pts.pivot_table(index="params", columns="method", values="ape", aggfunc="median").round(2).reset_index()
    lines += ["", "### By model size (median APE %)", "", md_table(by_size)]
    best_base = s[s["method"] != "bayes"]["mape"].min()
    b = s[s["method"] == "bayes"].iloc[0]
    lines += ["", f"bayes MAPE {b['mape']:.2f} % vs best baseline {best_base:.2f} % (ratio {b['mape'] / best_base:.2f}); "
              f"90 % coverage {b['coverage_90']:.3f}; wall time of the whole benchmark {t.seconds:.0f} s."]
    return "\n".join(lines)


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if a != "--extrapolation-update"]
    print(main(int(args[0]) if args else 0, update="--extrapolation-update" in sys.argv[1:]))
