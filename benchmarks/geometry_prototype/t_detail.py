import sys, numpy as np, pandas as pd, warnings, json, time
warnings.simplefilter("ignore")
sys.path.insert(0, "/work/scratch/v2")
import core, bayes_scaling as bs
pd.set_option("display.width", 200)
train, held = bs.datasets.openlm_transfer_split()
cols = ["params", "tokens", "loss", "domain"]
ref = bs.datasets.load_chinchilla()[cols]
kw = eval(sys.argv[1]) if len(sys.argv) > 1 else dict(vary=(1,1,0,1,0))
useref = ref if (len(sys.argv) < 3 or sys.argv[2] != "noref") else None
seed = kw.pop("seed_", 0)
out = core.fit_v2(train[cols], reference=useref, seed=seed, **kw)
rng = np.random.default_rng(0); rows=[]
for d, g in held.groupby("domain"):
    m, new = core.predict_logloss(out, g, d, rng)
    med = np.exp(np.median(m, 0)); lo, hi = np.exp(np.quantile(new, [0.05, 0.95], axis=0))
    for i in range(len(g)):
        rows.append(dict(domain=d, N=g.params.iloc[i], tpp=g.tokens_per_param.iloc[i], err=100*(g.loss.iloc[i]-med[i])/g.loss.iloc[i],
                         width=100*(hi[i]-lo[i])/med[i], cov=lo[i]<=g.loss.iloc[i]<=hi[i]))
df = pd.DataFrame(rows)
print("MAPE", df.err.abs().median(), "cov", df["cov"].mean())
print(df.groupby(["N","tpp"]).agg(mean_err=("err","mean"), mape=("err", lambda e: e.abs().median()), width=("width","median"), cov=("cov","mean")).round(2))
df["eval"] = df.domain.str.split("/").str[1]; df["corpus"] = df.domain.str.split("/").str[0]
print(df.groupby("eval").agg(mean_err=("err","mean"), mape=("err", lambda e: e.abs().median()), cov=("cov","mean")).round(2))
print(df.groupby("corpus").agg(mean_err=("err","mean"), mape=("err", lambda e: e.abs().median()), cov=("cov","mean")).round(2))
Z = out["Z"]; print("mu", np.round(np.median(out["mu"],0),3))
th = out["theta_draws"]
nat = bs.laws.get_law("chinchilla").natural({k: th[:, :, j] for j, k in enumerate(core.LAW.params)}, out["refs"])
print(pd.DataFrame({k: np.median(v, 0) for k, v in nat.items()}, index=out["domains"]).round(3))
