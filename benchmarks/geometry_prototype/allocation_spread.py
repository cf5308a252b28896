"""The between-domain spread of the allocation (logit of beta / (alpha + beta)) where the runs pin every coordinate:
python allocation_spread.py SPREAD PROBES, PROBES a comma list of 411 (OpenLM N <= 411M), 154 (N <= 154M),
mix4e18 / mix2.5e19 (geometry_prototype/three_mixes.py's splits), transfer. model_geometry.md, session 23.
"""
import sys, warnings, numpy as np, pandas as pd
warnings.simplefilter("ignore")
import bayes_scaling as bs
import bayes_scaling.inputs as inp
from bayes_scaling.priors import between_domain_spread as orig
from bayes_scaling.backtest import Split, backtest
ALLOC = float(sys.argv[1]); probes = sys.argv[2].split(",")
HITS = []
def patched(law, identified=False):
    s, l = orig(law, identified)
    if identified:
        HITS.append(1)
        s = np.array([ALLOC if r == "allocation" else v for r, v in zip(law.z_roles, s)])
    return s, l
inp.between_domain_spread = patched
o = bs.datasets.load_openlm()
def run(name, runs, split, kw):
    HITS.clear()
    s, p = backtest(runs, split, methods={"bayes": kw}, random_seed=0, n_jobs=1)
    r = s.iloc[0]
    print(f"{ALLOC} {name:28s} identified={bool(HITS)} mape {r.mape:.3f} cov90 {r.coverage_90:.3f} width {r.width_90:.3f} "
          f"rhat {r.max_rhat:.4f} ess {r.min_ess:.0f} div% {r.divergent_pct:.3f} t {r.fit_seconds:.0f}s", flush=True)
kw = {"extrapolation": "learned_without_openlm"}
for pr in probes:
    if pr == "411":
        run("openlm N<=411M", o[["params", "tokens", "loss", "domain"]], Split.cutoff("params", 5e8), kw)
    if pr == "154":
        run("openlm N<=154M", o[["params", "tokens", "loss", "domain"]], Split.cutoff("params", 1.6e8), kw)
    if pr.startswith("mix"):
        cut = float(pr[3:])
        for ev in ["c4_val", "openlm_val", "paloma_ptb", "paloma_redpajama"]:
            r = o[o.eval_domain == ev][["params", "tokens", "loss", "domain"]]
            run(f"3 mixes {ev} <{cut:g}", r, Split.cutoff("flops", cut), kw)
    if pr == "transfer":
        train, held = bs.datasets.openlm_transfer_split()
        HITS.clear()
        f = bs.ScalingLaw(extrapolation="learned_without_openlm").fit(train, reference="chinchilla", random_seed=0)
        pp = f.predict(held[["params", "tokens", "domain"]])
        ape = (100 * np.abs(pp.loss_median.values / held.loss.values - 1))
        cov = np.mean((held.loss.values >= pp.loss_lower.values) & (held.loss.values <= pp.loss_upper.values))
        print(f"{ALLOC} transfer identified={bool(HITS)} mape {np.median(ape):.3f} cov {cov:.3f}", flush=True)
