import sys, numpy as np, pandas as pd, warnings
warnings.simplefilter("ignore")
sys.path.insert(0, "/work/scratch/v2")
import core, bayes_scaling as bs
o = bs.datasets.load_openlm(); cols = ["params", "tokens", "loss", "domain"]
kw = eval(sys.argv[1]) if len(sys.argv) > 1 else {}
npass = 0; rows = []
doms = sorted(o.domain.unique())[: int(sys.argv[2]) if len(sys.argv) > 2 else 24]
for d in doms:
    g = o[o.domain == d].sort_values("flops").head(5)
    out = core.fit_v2(g[cols], seed=0, quiet=True, **kw)
    dg = out["diag"]; ok = dg["rhat"] <= 1.01 and dg["ess"] >= 400 and dg["div"] < 0.002 * 4000
    npass += ok
    print(f"{d:55s} rhat {dg['rhat']:.3f} ess {dg['ess']:.0f} div {dg['div']} steps {out['n_steps']:.0f} t {sum(out['times']):.1f} {'ok' if ok else 'FAIL'}", flush=True)
print("pass", npass, "of", len(doms))
