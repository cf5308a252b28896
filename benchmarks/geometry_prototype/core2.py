"""Prototype v2 core, law-generic (scratch). Sampling coordinates z per law; hierarchy with
learned spreads for level/exponent and fixed spreads for shares/allocation/extras."""
from __future__ import annotations
import time, warnings, hashlib
import numpy as np, pandas as pd
import pymc as pm, pytensor, pytensor.tensor as pt
import nutpie
from scipy import optimize
from bayes_scaling.laws import get_law
from bayes_scaling.priors import get_prior

def _lse(xp, *a):
    if xp is np:
        out = a[0]
        for b in a[1:]:
            out = np.logaddexp(out, b)
        return out
    return xp.log(sum(xp.exp(b) for b in a))

def _sig(xp, v):
    return 1 / (1 + np.exp(-v)) if xp is np else pt.sigmoid(v)

class ZMap:
    """z <-> law theta for one law. roles: level, share, exponent, allocation, extra."""
    def __init__(self, law):
        self.law = get_law(law)
        n = self.law.name
        if n in ("chinchilla", "data_constrained"):
            self.names = ["ell", "uN", "uD", "ls", "la"]; self.roles = ["level", "share", "share", "exponent", "allocation"]
            if n == "data_constrained":
                self.names += ["logRD", "logRN"]; self.roles += ["extra", "extra"]
        elif n.startswith("power"):
            self.names = ["ell", "u", "lalpha"]; self.roles = ["level", "share", "exponent"]
        else:
            raise NotImplementedError(n)
        self.p = len(self.names)

    def to_theta(self, z, xp=np):
        n = self.law.name
        if n.startswith("power"):
            logE = z["ell"] - _lse(xp, 0.0 * z["u"], z["u"])
            return {"logE": logE, "tX": logE + z["u"], "alpha": xp.exp(z["lalpha"])}
        logE = z["ell"] - _lse(xp, 0.0 * z["uN"], z["uN"], z["uD"])
        th = {"logE": logE, "tN": logE + z["uN"], "tD": logE + z["uD"], "s": xp.exp(z["ls"]), "a": _sig(xp, z["la"])}
        if n == "data_constrained":
            th["logRD"] = z["logRD"]; th["logRN"] = z["logRN"]
        return th

    def to_z(self, th):
        th = {k: np.asarray(v, float) for k, v in th.items()}
        n = self.law.name
        if n.startswith("power"):
            return {"ell": np.logaddexp(th["logE"], th["tX"]), "u": th["tX"] - th["logE"], "lalpha": np.log(th["alpha"])}
        z = {"ell": _lse(np, th["logE"], th["tN"], th["tD"]), "uN": th["tN"] - th["logE"], "uD": th["tD"] - th["logE"],
             "ls": np.log(th["s"]), "la": np.log(th["a"] / (1 - th["a"]))}
        if n == "data_constrained":
            z["logRD"] = th["logRD"]; z["logRN"] = th["logRN"]
        return z

    def vec(self, z):
        return np.stack([np.asarray(z[k], float) for k in self.names], axis=-1)

    def theta_vec(self, Z):
        """(..., p) z -> (..., p_law) theta in law.params order"""
        th = self.to_theta({k: Z[..., j] for j, k in enumerate(self.names)})
        return np.stack([th[k] for k in self.law.params], axis=-1)

    def weak(self, loss):
        med = float(np.median(loss))
        if self.law.name.startswith("power"):
            c = 0.2 if self.law.name == "power_flops" else 0.35
            return np.array([np.log(med), -1.0, np.log(c)]), np.array([0.5, 1.5, 0.6])
        m = [np.log(med), -1.0, -1.0, np.log(0.35), 0.0]; s = [0.5, 1.5, 1.5, 0.5, 0.6]
        if self.law.name == "data_constrained":
            m += [np.log(10.0), np.log(10.0)]; s += [1.0, 1.0]
        return np.array(m), np.array(s)

    def published(self, prior, refs):
        spec = get_prior(prior, law=self.law.name)
        keys = self.law.catalog_params
        mu = np.array([spec.mean[k] for k in keys]); cov = np.asarray(spec.cov)
        def f(v):
            return self.vec(self.to_z(self.law.from_catalog(dict(zip(keys, v)), refs)))
        m = f(mu); J = np.empty((self.p, len(keys)))
        for j in range(len(keys)):
            h = 1e-6 * max(1, abs(mu[j])); e = np.zeros(len(keys)); e[j] = h
            J[:, j] = (f(mu + e) - f(mu - e)) / (2 * h)
        C = J @ cov @ J.T
        wm, ws = self.weak(np.array([1.0]))
        for wp in spec.weak_params:   # e.g. logE of one-variable sweeps: level gets weak
            pass
        return m, 0.5 * (C + C.T)

# between-domain spread by role: (learned?, scale)
TAU = {"level": (True, 0.3), "exponent": (True, 0.15), "share": (False, 0.3), "allocation": (False, 0.16), "extra": (False, 0.5)}
TAU_LOG_SD = 0.75
VARY_ORDER = ["level", "exponent", "share", "share", "allocation", "extra", "extra"]
RICH = 30
SPARSE_NU = 1e6

def vary_mask(zmap, typical_runs):
    """vary the first (typical_runs - 1) coordinates in role order; all when typical > p"""
    order = sorted(range(zmap.p), key=lambda j: (["level", "exponent", "share", "allocation", "extra"].index(zmap.roles[j]), j))
    k = zmap.p if typical_runs > zmap.p else max(1, typical_runs - 1)
    m = np.zeros(zmap.p); m[order[:k]] = 1.0
    return m

def _x(law, table, refs):
    return law.inputs(table, refs)

_REF = {}

def summarise_reference(zmap, ref_runs, refs_joint, seed=0):
    key = (zmap.law.name, hashlib.sha256(ref_runs[["params", "tokens", "loss"]].to_numpy(float).tobytes()).hexdigest(), tuple(sorted(refs_joint.items())))
    if key not in _REF:
        f = fit(ref_runs.assign(domain="reference"), law=zmap.law.name, prior="weak", seed=seed, quiet=True)
        th = f["theta"][:, 0, :]
        cat = zmap.law.to_catalog({k: th[:, j] for j, k in enumerate(zmap.law.params)}, f["refs"])
        Z = zmap.vec(zmap.to_z(zmap.law.from_catalog(cat, refs_joint)))
        _REF[key] = (Z.mean(0), np.cov(Z, rowvar=False) + 1e-10 * np.eye(zmap.p), float(np.median(f["sigma"][:, 0])), float(np.median(f["nu"][:, 0])))
    return _REF[key]

def fit(runs, law="chinchilla", reference=None, prior="besiroglu2024", draws=1000, tune=None, chains=4, seed=0, quiet=False,
        target_accept=0.9, maxdepth=None, vary=None, lik="t"):
    t0 = time.perf_counter()
    zmap = ZMap(law); L = zmap.law; p = zmap.p
    runs = runs.copy()
    if "domain" not in runs: runs["domain"] = "default"
    domains = list(dict.fromkeys(runs.domain))
    refs = L.reference(runs)
    summary = None
    if reference is not None:
        summary = summarise_reference(zmap, reference, refs, seed)
        domains = domains + ["reference"]
    nd = len(domains); nown = nd - (summary is not None)
    x = L.inputs(runs, refs)
    y = np.log(runs.loss.to_numpy(float))
    didx = runs.domain.map({d: i for i, d in enumerate(domains)}).to_numpy()
    counts = np.bincount(didx, minlength=nd)[:nown]
    rich = np.concatenate([counts >= RICH, np.zeros(nd - nown, bool)]).astype(bool)
    if prior == "weak":
        m0, s0 = zmap.weak(runs.loss.to_numpy()); C0 = np.diag(s0 ** 2)
    else:
        m0, C0 = zmap.published(prior, refs)
    scale = np.array([TAU[r][1] for r in zmap.roles]); learned = np.array([TAU[r][0] for r in zmap.roles])
    hier = nd > 1
    if hier or prior != "weak":
        C0 = C0 + np.diag(scale ** 2)   # published = one domain of the population
    vm = vary_mask(zmap, int(np.median(counts))) if vary is None else np.asarray(vary, float)
    tune = tune if tune is not None else (1000 if hier else 300)
    maxdepth = maxdepth if maxdepth is not None else (10 if hier else 6)
    with pm.Model() as model:
        L0 = np.linalg.cholesky(C0)
        if hier:
            zp = pm.Normal("z_pop", 0, 1, shape=p)
            mu = pm.Deterministic("mu", pt.as_tensor(m0) + pt.dot(pt.as_tensor(L0), zp))
            if learned.any():
                tl = pm.LogNormal("tau_learned", mu=np.log(scale[learned]), sigma=TAU_LOG_SD, shape=int(learned.sum()))
                tau = pt.set_subtensor(pt.as_tensor(scale)[np.flatnonzero(learned)], tl)
            else:
                tau = pt.as_tensor(scale)
            tau = pm.Deterministic("tau", tau * vm)
            c = np.zeros((nd, p)); c[:, [j for j in range(p) if zmap.roles[j] == "level"]] = 1.0
            c[np.ix_(rich, [j for j in range(p) if zmap.roles[j] == "exponent"])] = 1.0
            if summary is not None: c[nd - 1, :] = 1.0
            c = c * vm[None, :]
            raw = pm.Normal("raw", mu=c * mu[None, :], sigma=c * tau[None, :] + (1 - c), shape=(nd, p))
            Z = c * raw + (1 - c) * (mu[None, :] + tau[None, :] * raw)
            if summary is not None:
                pm.MvNormal("ref_summary", mu=Z[nd - 1], chol=np.linalg.cholesky(summary[1]), observed=summary[0])
        else:
            w = pm.Normal("w", 0, 1, shape=p)
            Z = (pt.as_tensor(m0) + pt.dot(pt.as_tensor(L0), w))[None, :]
        Z = pm.Deterministic("Z", Z)
        th = zmap.to_theta({k: Z[:, j] for j, k in enumerate(zmap.names)}, pt)
        theta = pm.Deterministic("theta", pt.stack([th[k] for k in L.params], axis=1))
        if nown > 1:
            s_mu = pm.Normal("s_mu", np.log(0.01), 1.0); zs = pm.Normal("zs", 0, 1, shape=nown); ls = s_mu + 0.5 * zs
        else:
            ls = pm.Normal("log_sigma", np.log(0.01), 1.0, shape=1)
        if summary is not None:
            ls = pt.concatenate([ls, pt.as_tensor([np.log(summary[2])])])
        sigma = pm.Deterministic("sigma", pt.exp(ls))
        if rich.any() and lik == "mix":
            pi = pm.Beta("pi_out", 1.0, 19.0)
            s_out = pm.LogNormal("sigma_out", np.log(0.1), 1.0)
            richd = pt.as_tensor(rich.astype(float))[didx]
            thd0 = theta[didx]
            mean0 = L.log_loss({k: v for k, v in x.items()}, {k: thd0[:, j] for j, k in enumerate(L.params)}, pt)
            sd = sigma[didx]
            lp_core = pm.logp(pm.Normal.dist(mean0, sd), y)
            lp_out = pm.logp(pm.Normal.dist(mean0, s_out), y)
            lp_mix = pt.logaddexp(pt.log1p(-pi) + lp_core, pt.log(pi) + lp_out)
            pm.Potential("obs_mix", pt.sum(richd * lp_mix + (1 - richd) * lp_core))
            nu_d = pm.Deterministic("nu_d", pt.as_tensor(np.full(nd, SPARSE_NU)) * pt.ones(nd))
            pm.Deterministic("pi_d", pt.switch(pt.as_tensor(rich), pi, 0.0) * pt.ones(nd))
            pm.Deterministic("sout_d", s_out * pt.ones(nd))
        if rich.any() and lik == "mix":
            pass
        elif rich.any():
            nu1 = pm.Gamma("nu", 2.0, 0.1)
            nu_d = pt.switch(pt.as_tensor(rich), nu1, SPARSE_NU)
        else:
            nu_d = pt.as_tensor(np.full(nd, SPARSE_NU))
        if not (rich.any() and lik == "mix"):
            if summary is not None:
                nu_d = pt.set_subtensor(nu_d[nd - 1], summary[3])
            nu_d = pm.Deterministic("nu_d", nu_d * pt.ones(nd))
            thd = theta[didx]
            xx = {k: v for k, v in x.items()}
            mean = L.log_loss(xx, {k: thd[:, j] for j, k in enumerate(L.params)}, pt)
            pm.StudentT("obs", nu=nu_d[didx], mu=mean, sigma=sigma[didx], observed=y)
    tc = time.perf_counter()
    with warnings.catch_warnings(), pytensor.config.change_flags(numba__fastmath=False):
        warnings.simplefilter("ignore")
        compiled = nutpie.compile_pymc_model(model)
    tc = time.perf_counter() - tc
    ts = time.perf_counter()
    tr = nutpie.sample(compiled, draws=draws, tune=tune, chains=chains, cores=2, seed=seed, progress_bar=False,
                       save_warmup=False, adaptation="low_rank", target_accept=target_accept, maxdepth=maxdepth)
    ts = time.perf_counter() - ts
    post = tr["posterior"].to_dataset()
    S = post.sizes["chain"] * post.sizes["draw"]
    out = {"law": L.name, "zmap": zmap, "refs": refs, "domains": domains, "runs": runs,
           "theta": post["theta"].values.reshape(S, nd, -1), "Z": post["Z"].values.reshape(S, nd, p),
           "sigma": post["sigma"].values.reshape(S, nd), "nu": post["nu_d"].values.reshape(S, nd),
           "pi": post["pi_d"].values.reshape(S, nd) if "pi_d" in post else np.zeros((S, nd)),
           "sout": post["sout_d"].values.reshape(S, nd) if "sout_d" in post else np.ones((S, nd)),
           "tree": tr, "times": (time.perf_counter() - t0 - tc - ts, tc, ts), "hier": hier, "vary": vm}
    if hier:
        out["mu"] = post["mu"].values.reshape(S, p); out["tau"] = post["tau"].values.reshape(S, p)
        out["s_mu"] = post["s_mu"].values.reshape(S) if "s_mu" in post else np.log(out["sigma"][:, 0])
    names = [v for v in ("z_pop", "tau_learned", "raw", "w", "s_mu", "zs", "log_sigma", "nu", "pi_out", "sigma_out") if v in post]
    out["diag"] = diagnose(tr, names)
    if not quiet:
        d = out["diag"]
        print(f"  [{L.name}] nd={nd} n={len(y)} prep {out['times'][0]:.1f}s compile {tc:.1f}s sample {ts:.1f}s | rhat {d['rhat']:.3f} ({d['worst']}) "
              f"ess {d['ess']:.0f} steps {d['n_steps']:.0f} div {d['div']} ({100*d['div']/S:.2f}%)", flush=True)
    return out

def diagnose(tr, names):
    import arviz as az
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = az.rhat(tr, var_names=names); eb = az.ess(tr, var_names=names, method="bulk"); et = az.ess(tr, var_names=names, method="tail")
    def vals(res, f):
        ds = res["posterior"].to_dataset() if "posterior" in res.children else res.to_dataset()
        return {k: f(np.asarray(v.values)) for k, v in ds.data_vars.items()}
    rv = vals(r, np.nanmax); bv = vals(eb, np.nanmin); tv = vals(et, np.nanmin)
    k = max(rv, key=rv.get); ss = tr["sample_stats"]
    return {"rhat": rv[k], "worst": k, "ess": min(min(bv.values()), min(tv.values())),
            "div": int(np.asarray(ss["diverging"].values).sum()), "n_steps": float(np.asarray(ss["n_steps"].values).mean())}

def draws_at(out, table, domain, rng):
    """(mean log loss (S,n), new-run log loss (S,n))"""
    L = get_law(out["law"]); zmap = out["zmap"]
    t = table.copy()
    if "unique_tokens" in L.variables and "unique_tokens" not in t: t["unique_tokens"] = t["tokens"]
    x = L.inputs(t, out["refs"])
    if domain in out["domains"]:
        i = out["domains"].index(domain); th = out["theta"][:, i, :]; sig = out["sigma"][:, i]; nu = out["nu"][:, i]
        if out["pi"][:, i].max() > 0:
            outl = rng.random(len(sig)) < out["pi"][:, i]
            sig = np.where(outl, out["sout"][:, i], sig)
    else:
        Z = out["mu"] + out["tau"] * rng.standard_normal(out["mu"].shape)
        th = zmap.theta_vec(Z); sig = np.exp(out["s_mu"] + 0.5 * rng.standard_normal(len(th))); nu = np.full(len(th), SPARSE_NU)
    with np.errstate(all="ignore"):
        m = L.log_loss(x, {k: th[:, j, None] for j, k in enumerate(L.params)}, np)
    noise = rng.standard_t(np.broadcast_to(np.minimum(nu, 1e6)[:, None], m.shape)) * sig[:, None]
    draws_at.last = (sig, nu)
    return m, m + noise
