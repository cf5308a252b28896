"""Where the width of the Porian recipes' forecasts comes from, and two ways to narrow it (model_geometry.md, session 25).

Usage (from benchmarks/): python geometry_prototype/porian_gp_edge.py [LENGTHSCALE] [EXTRAPOLATION]
Fits the eight recipes of bench_porian_recipes.py up to 1.6e18 FLOPs (seed 0) with the GP length scale given
(half-range units, default 1 as shipped), then prints by budget: the posterior sd of the law and of the discrepancy
term at the held-out runs, and the forecasts' median APE, signed error, 90 % coverage and width with the
discrepancy held at the edge of the runs' box (shipped) and at the nearest point of the runs' convex hull.
"""
import sys
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _common import quiet
quiet()
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from scipy.spatial import ConvexHull  # noqa: E402
from bayes_scaling import discrepancy as disc  # noqa: E402
from bayes_scaling.fit import ScalingLaw  # noqa: E402
from bayes_scaling.predict import discrepancy_draws, predict  # noqa: E402
import bench_porian_recipes as bp  # noqa: E402

ls = float(sys.argv[1]) if len(sys.argv) > 1 else 1.0
ext = sys.argv[2] if len(sys.argv) > 2 else "learned"
train, held = bp.runs_and_split()
cols = ["domain", "params", "tokens", "loss"]
f = ScalingLaw(extrapolation=ext, gp_lengthscale=ls).fit(train[cols], random_seed=0)
print(f"length scale {ls}: {f.diagnostics.max_rhat:.4f} R-hat, ESS {f.diagnostics.min_ess_bulk:.0f}, "
      f"{f.diagnostics.divergences} divergent; eta {np.median(f.draws('eta')):.3f}")

box_clip = disc.DiscrepancyBasis.clip_to_runs


def u_of(b, x):
    return np.stack([(np.asarray(x[v], float) - c) / h for v, c, h in zip(b.variables, b.centre, b.half_range)], -1)


def to_hull(pts, u):
    """Nearest point of the convex hull of pts (k, 2) to each row of u (n, 2)."""
    h = ConvexHull(pts)
    v0 = pts[h.vertices]
    v1 = np.roll(v0, -1, 0)
    inside = (u @ h.equations[:, :2].T + h.equations[:, 2] <= 1e-12).all(1)
    out = u.copy()
    for i in np.where(~inside)[0]:
        dv = v1 - v0
        t = np.clip(((u[i] - v0) * dv).sum(1) / (dv * dv).sum(1), 0, 1)
        q = v0 + t[:, None] * dv
        out[i] = q[np.argmin(((q - u[i]) ** 2).sum(1))]
    return out


def hull_clip(self, x):
    out = dict(x)
    u = to_hull(self._hull, u_of(self, x))
    for k, (v, c, h) in enumerate(zip(self.variables, self.centre, self.half_range)):
        out[v] = c + h * u[:, k]
    return out


rows = []
for dom, b in f.bases.items():
    b._hull = u_of(b, f.law.inputs(f.runs[f.runs[f.domain_col] == dom], f.refs))
    g = held[held["domain"] == dom]
    x = f.law.inputs(g, f.refs)
    th = {k: v[:, None] for k, v in f.theta_dict(f.theta(dom)).items()}
    law_sd, dis_sd = f.law.log_loss(x, th, np).std(0), discrepancy_draws(f, dom, x).std(0)
    for mode in ("box", "hull"):
        disc.DiscrepancyBasis.clip_to_runs = box_clip if mode == "box" else hull_clip
        p = predict(f, g[["params", "tokens"]], domain=dom, random_seed=0)
        rows.append(pd.DataFrame({"mode": mode, "budget": g["budget"].to_numpy(), "loss": g["loss"].to_numpy(),
                                  "law_sd": law_sd, "discrepancy_sd": dis_sd, **{c: p[c].to_numpy() for c in
                                  ("loss_median", "loss_lower", "loss_upper")}}))
    disc.DiscrepancyBasis.clip_to_runs = box_clip
p = pd.concat(rows)
p["ape"] = 100 * (p.loss_median / p.loss - 1).abs()
p["signed"] = 100 * (p.loss_median / p.loss - 1)
p["in90"] = (p.loss >= p.loss_lower) & (p.loss <= p.loss_upper)
p["width"] = (p.loss_upper - p.loss_lower) / p.loss_median
agg = {"law_sd": "mean", "discrepancy_sd": "mean", "ape": "median", "signed": "median", "in90": "mean", "width": "mean"}
pd.set_option("display.width", 200)
print(p.groupby(["mode", "budget"]).agg(agg).round(4).to_string())
print(p.groupby("mode").agg(agg).round(4).to_string())
