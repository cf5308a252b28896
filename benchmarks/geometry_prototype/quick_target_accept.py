"""Session 31: the quick attempt of one-domain fits (warm-up 300, tree depth 6) at target acceptance 0.9 against 0.95, on the cases of bench_quick_settings.py. Usage (from benchmarks/): python geometry_prototype/quick_target_accept.py"""
import sys, time
sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[1]))
import bench_quick_settings as b
from bayes_scaling.inference import LONG_TREEDEPTH, LONG_TUNE, SamplerConfig
import pandas as pd
rows = []
t0 = time.time()
for group, name, runs, kw, seed in b.cases():
    row = {"group": group, "case": name}
    for ta in (0.9, 0.95):
        ok, s, rhat, ess, div = b.one(runs, kw, seed, SamplerConfig(tune=300, max_treedepth=b.QUICK_DEPTH, target_accept=ta))
        row |= {f"ok_{ta}": ok, f"s_{ta}": s, f"rhat_{ta}": rhat, f"div_{ta}": div}
    ok, s, *_ = b.one(runs, kw, seed, SamplerConfig(tune=LONG_TUNE, max_treedepth=LONG_TREEDEPTH))
    row |= {"ok_long": ok, "s_long": s}
    rows.append(row); print(row, flush=True)
df = pd.DataFrame(rows)
for group, g in [("all", df)] + list(df.groupby("group", sort=False)):
    out = [group, len(g)]
    for ta in (0.9, 0.95):
        fail = ~g[f"ok_{ta}"]
        out += [f"pass {ta}: {int((~fail).sum())}/{len(g)}", f"quick {g[f's_{ta}'].mean():.3f}", f"expected {(g[f's_{ta}'] + fail * g['s_long']).mean():.3f}"]
    print(*out)
print("took", time.time() - t0)
df.to_csv("quick_ta.csv", index=False)
