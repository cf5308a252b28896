"""Is the forecast biased one way when the fitted runs are small? (model_geometry.md, session 23)

Each split of learn_extrapolation.py plus three at smaller scale (OpenLM N <= 79M, routing N <= 57M, datablations
N < 300M); the forecast without the model-form error; prints each split's median signed error (median forecast -
truth, % of log loss) beyond the runs and per decade of extrapolation. Run: python drift_by_scale.py [CACHE_DIR]
"""
import sys, pickle, time, warnings
from pathlib import Path
import numpy as np, pandas as pd
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import learn_extrapolation as le
import bayes_scaling as bs
from bayes_scaling.extrapolation import extrapolation_distance
from bayes_scaling.predict import predictive_draws
from _common import routing_domains
cache = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("drift_cache")
cache.mkdir(parents=True, exist_ok=True)

def extra():
    o = bs.datasets.load_openlm()[["params", "tokens", "flops", "loss", "domain"]]
    yield "openlm", "N <= 79M", o[o.params <= 1e8], o[o.params > 1e8], {}
    rt = routing_domains()[["params", "tokens", "flops", "loss", "domain"]]
    yield "routing", "N <= 57M", rt[rt.params <= 6e7], rt[rt.params > 6e7], {"law": "power_params"}
    db = bs.datasets.load_datablations()[["params", "tokens", "unique_tokens", "flops", "loss", "domain"]]
    yield "datablations", "N < 300M", db[db.params < 3e8], db[db.params >= 3e8], {"law": "data_constrained", "prior": "weak"}

rows = []
import itertools
for ds, label, train, held, kw in itertools.chain(le.splits(), extra()):
    fn = cache / f"{ds}_{label.replace(' ', '').replace('<', 'lt').replace('=', 'e')}.pkl"
    if fn.exists():
        rec = pickle.loads(fn.read_bytes())
    else:
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = bs.ScalingLaw(extrapolation="none", **kw).fit(train.reset_index(drop=True), random_seed=0)
        held = held.reset_index(drop=True)
        rng = np.random.default_rng(0)
        mean = np.full((fit.n_draws, len(held)), np.nan); new = mean.copy(); h = np.zeros(len(held))
        hn = np.zeros(len(held))
        for dom, idx in held.groupby("domain").groups.items():
            sub = held.loc[idx]
            m, n = predictive_draws(fit, sub, dom, rng)
            mean[:, idx], new[:, idx] = m, n
            h[idx] = extrapolation_distance(fit.own_runs(dom), sub)
            hn[idx] = np.log10(sub.params.values / fit.own_runs(dom).params.max())
        rec = {"ds": ds, "split": label, "y": np.log(held.loss.values), "h": h, "hn": hn,
               "maxN": float(train.params.max()), "medN": float(np.median(train.params)), "minN": float(train.params.min()),
               "q": np.nanquantile(new, [0.05, 0.5, 0.95], axis=0), "med": np.nanmedian(mean, axis=0),
               "params": held.params.values, "sec": time.perf_counter() - t0}
        fn.write_bytes(pickle.dumps(rec))
        print(ds, label, round(rec["sec"]), flush=True)
    e = rec["med"] - rec["y"]
    for i in range(len(e)):
        rows.append(dict(ds=ds, split=label, maxN=rec["maxN"], minN=rec["minN"], h=rec["h"][i], hn=rec["hn"][i], err=e[i]))
r = pd.DataFrame(rows)

g = r[r.h > 0].groupby(["ds", "split"]).agg(maxN=("maxN", "first"), minN=("minN", "first"), n=("err", "size"),
    h=("h", "median"), err=("err", "median"), slope=("err", lambda s: np.nan))
g["err_per_dec"] = g.err / g.h
print((g.assign(err=100 * g.err, err_per_dec=100 * g.err_per_dec)).round(3).to_string())
