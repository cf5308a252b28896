#!/usr/bin/env bash
# Every benchmark whose figures the README and benchmarks/README.md quote, in dependency order; each prints
# a Markdown table, saved under benchmarks/results/ (bench_backtest.py writes benchmarks/results.md itself).
# learn_extrapolation.py rewrites bayes_scaling/_resources/extrapolation_prior.json, which the backtests use.
# About 60-90 min on 2 cores. Usage: bash benchmarks/run_all.sh [PYTHON]
set -euo pipefail
cd "$(dirname "$0")"
PY="${1:-../.venv/bin/python}"
mkdir -p results
run() { local name="$1"; shift; echo "== $name" >&2; "$PY" "$@" > "results/$name.md"; }
run learn_noise learn_noise.py
run learn_extrapolation learn_extrapolation.py
"$PY" bench_backtest.py > /dev/null            # writes results.md
run transfer bench_transfer.py
run few_runs bench_few_runs.py
run baselines bench_baselines.py
run speed bench_speed.py
run continue bench_continue.py porian 3
run main bench_main.py
run next_run bench_next_run.py
run sldbench_dc bench_sldbench_dc.py
run porian_recipes bench_porian_recipes.py
run porian_recipes_1e17 bench_porian_recipes.py 0 1e17
# an outside data set without a licence, not shipped: run where its file is (see benchmarks/README.md)
if [ -n "${LOSS_TO_LOSS_SWEEP:-}" ]; then run loss_to_loss bench_loss_to_loss.py "$LOSS_TO_LOSS_SWEEP"; fi
