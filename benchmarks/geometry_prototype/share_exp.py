"""Prototype driver of benchmarks/model_geometry.md, "The share's spread" (patches priors.BETWEEN_DOMAIN; run from benchmarks/)."""
import sys, warnings, time
sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[1]))
warnings.simplefilter("ignore")
from _common import routing_domains
import bayes_scaling as bs
from bayes_scaling import priors
from bayes_scaling.backtest import Split, backtest
which = sys.argv[1]
spreads = [float(s) for s in sys.argv[2].split(",")]
learn = len(sys.argv) > 3 and sys.argv[3] == "learn"
if which == "routing":
    runs = routing_domains()[["params", "tokens", "loss", "domain"]]; split = Split.cutoff("params", 4e8); kw = {"law": "power_params"}
elif which == "openlm":
    runs = bs.datasets.load_openlm()[["params", "tokens", "loss", "domain"]]; split = Split.cutoff("params", 5e8); kw = {}
elif which == "datablations":
    runs = bs.datasets.load_datablations()[["params", "tokens", "unique_tokens", "loss", "domain"]]; split = Split.cutoff("params", 2e9); kw = {"law": "data_constrained"}
elif which == "chinchilla":
    runs = bs.datasets.load_chinchilla(); split = Split.cutoff("flops", 1e21); kw = {"prior": "weak"}
kw["extrapolation"] = f"learned_without_{which}"
for s in spreads:
    priors.BETWEEN_DOMAIN["share"] = (learn, s)
    t = time.time()
    res = backtest(runs, split, methods={"bayes": kw}, random_seed=0)
    r = res.summary.iloc[0]
    print(f"{which} share={s} learn={learn}: mape {r.mape:.3f} cov90 {r.coverage_90:.3f} width {r.width_90:.3f} rhat {r.max_rhat:.3f} ess {r.min_ess:.0f} div {r.divergent_pct:.2f} t {time.time()-t:.0f}", flush=True)
