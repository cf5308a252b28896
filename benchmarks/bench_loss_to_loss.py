"""An outside check on isoFLOP sweeps of six pretraining corpora (Brandfonbrener et al. 2024; measured only).

The issue's unseen data are isoFLOP sweeps of several recipes and data mixes. Brandfonbrener et al. (2024),
"Loss-to-loss prediction: scaling laws for all datasets" (arXiv:2411.12925), publish such sweeps: 529 runs, eight
budgets from 2e17 to 4.84e19 FLOPs, six pretraining corpora (fineweb-100b, fineweb-edu-100b, proof-pile-2,
slimpajama-chunk1, smollm-corpus, starcoder; 84-91 runs each). A fresh user (session 35) found it; nothing in the
package was built or tuned on it. The repository carries no licence, so the data are not shipped here: the script
reads ``data/sweep.csv`` of github.com/KempnerInstitute/loss-to-loss-notebooks at commit 457ce81 from a path given
on the command line.

Each corpus is a domain of one hierarchical fit on the budgets below 3e18 FLOPs (242 runs, up to 2.09e18), with the
package's defaults as a user gets them (`backtest`, the Chinchilla law, the published prior, the `learned`
extrapolation prior); the 287 runs at 4.6e18-4.84e19 (2.2-23x beyond) are forecast, next to `huber_ls` (the
least-squares fit of the same law per corpus, from a grid of starts). The loss is the final training loss on each
run's own corpus (``train/CrossEntropyLoss``), in nats per token.

Run: ``python bench_loss_to_loss.py PATH/TO/sweep.csv [SEED]`` (~3 min on 2 cores); prints a Markdown table.
"""

from __future__ import annotations

import sys
import time

import pandas as pd

from _common import budget_split_tables, machine, md_table, quiet

quiet()

from bayes_scaling.backtest import backtest  # noqa: E402

#: Budgets below this are fitted (the four of 2e17-2.09e18 FLOPs), the four above forecast.
FIT_BELOW = 3e18


def runs_and_split(path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The sweep's runs (domain = pretraining corpus) split by budget: (train, held out)."""
    raw = pd.read_csv(path)
    runs = pd.DataFrame({"domain": raw["data"], "params": raw["params"].astype(float),
                         "tokens": raw["tokens"].astype(float), "loss": raw["train/CrossEntropyLoss"],
                         "budget": raw["iso_flop"]})
    held = runs["budget"] >= FIT_BELOW
    return runs[~held].reset_index(drop=True), runs[held].reset_index(drop=True)


def main(path, seed: int = 0) -> str:
    t0 = time.perf_counter()
    train, held = runs_and_split(path)
    cols = ["domain", "params", "tokens", "loss"]
    res = backtest(pd.concat([train, held], ignore_index=True)[cols], (train[cols], held[cols]),
                   methods={"bayes": {}, "huber_ls": {}}, random_seed=seed)
    largest = float((6 * train["params"] * train["tokens"]).max())
    rows, by_budget, by_domain = budget_split_tables(res, held, largest, "corpus", beyond_digits=1, width="median")
    took = time.perf_counter() - t0
    out = [f"## isoFLOP sweeps of six corpora (Brandfonbrener et al. 2024), seed {seed} ({machine()}, {took:.0f} s)",
           "",
           f"Fit on {len(train)} runs ({train['domain'].nunique()} corpora, budgets 2e17-{largest:.3g} FLOPs), "
           f"forecast {len(held)} at 2-23x beyond. Scores of the median forecast (median_signed_pct > 0: too high) "
           "and of the one-run intervals.",
           "", md_table(rows), "", "### By budget", "", md_table(by_budget),
           "", "### By corpus", "", md_table(by_domain)]
    return "\n".join(out)


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: python bench_loss_to_loss.py PATH/TO/sweep.csv [SEED] (data/sweep.csv of "
                 "github.com/KempnerInstitute/loss-to-loss-notebooks, commit 457ce81)")
    print(main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 0))
