"""The discrepancy term on the backtest splits of bench_backtest.py (model_geometry.md, session 24).

Usage (from benchmarks/): python geometry_prototype/gp_ablate.py chinchilla,datablations [auto,none]
With BS_GP=nc|c|v and the package of geometry_prototype/gp_weights_centred.diff on the path, the parameterisation
of the discrepancy's weights (non-centred, centred, amplitude non-centred on the spectral shape).
"""
import os, sys
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _common import quiet
quiet()
import bayes_scaling as bs  # noqa: E402
from bayes_scaling.backtest import backtest  # noqa: E402
import bench_backtest as bb  # noqa: E402

which = sys.argv[1].split(",")
discs = sys.argv[2].split(",") if len(sys.argv) > 2 else ["auto", "none"]
for key, name, runs, split, kw in bb.datasets():
    if key not in which:
        continue
    for disc in discs:
        for seed in (0, 1):
            m = {"bayes": {**kw, "extrapolation": f"learned_without_{key}", "discrepancy": disc}}
            s = backtest(runs, split, methods=m, random_seed=seed).summary.iloc[0]
            print(os.environ.get("BS_GP", "shipped"), f"{key:12s} disc={disc:5s} seed={seed} mape={s.mape:.3f} "
                  f"cov90={s.coverage_90:.3f} width={s.width_90:.4f} rhat={s.max_rhat:.4f} ess={s.min_ess:.0f} "
                  f"div%={s.divergent_pct:.3f} t={s.fit_seconds:.1f}", flush=True)
