"""Prototype v2 hierarchical core (Chinchilla law) - scratch, not package code."""
from __future__ import annotations
import time, warnings
import numpy as np, pandas as pd
import pymc as pm, pytensor.tensor as pt
import nutpie
import bayes_scaling as bs
from bayes_scaling.laws import get_law
from bayes_scaling.priors import get_prior

LAW = get_law("chinchilla")
NAMES = ("ell", "uN", "uD", "ls", "la")
# between-domain prior scales (HalfNormal) in sampling coords
BETWEEN = np.array([0.5, 1.0, 1.0, 0.3, 0.3])

def z_to_theta(z, xp=np):
    """z: dict of ell,uN,uD,ls,la -> law theta dict logE,tN,tD,s,a"""
    ell, uN, uD, ls, la = (z[k] for k in NAMES)
    if xp is np:
        lse = np.logaddexp(np.logaddexp(0.0, uN), uD)
        a = 1 / (1 + np.exp(-la))
    else:
        lse = pt.log(1 + pt.exp(uN) + pt.exp(uD))
        a = pt.sigmoid(la)
    logE = ell - lse
    return {"logE": logE, "tN": logE + uN, "tD": logE + uD, "s": xp.exp(ls), "a": a}

def theta_to_z(th):
    logE, tN, tD, s, a = (np.asarray(th[k], float) for k in ("logE", "tN", "tD", "s", "a"))
    ell = np.logaddexp(np.logaddexp(logE, tN), tD)
    return {"ell": ell, "uN": tN - logE, "uD": tD - logE, "ls": np.log(s), "la": np.log(a / (1 - a))}

def vec(d, names=NAMES):
    return np.array([d[k] for k in names], float)

def published_prior_z(refs, name="besiroglu2024"):
    spec = get_prior(name, law="chinchilla")
    keys = LAW.catalog_params
    mu = np.array([spec.mean[k] for k in keys]); cov = np.asarray(spec.cov)
    def f(v):
        th = LAW.from_catalog(dict(zip(keys, v)), refs)
        return vec(theta_to_z(th))
    m = f(mu); J = np.empty((5, 5))
    for j in range(5):
        h = 1e-6 * max(1, abs(mu[j])); e = np.zeros(5); e[j] = h
        J[:, j] = (f(mu + e) - f(mu - e)) / (2 * h)
    return m, J @ cov @ J.T

def weak_prior_z(loss):
    med = np.median(loss)
    return np.array([np.log(med), -0.9, -0.9, np.log(0.35), 0.0]), np.diag(np.array([0.7, 1.5, 1.5, 0.5, 0.6]) ** 2)

def law_log_loss(x, th, xp=np):
    return LAW.log_loss(x, th, xp)

RICH = 30
SPARSE_NU = 1e6

def prepare(runs, reference=None, prior="besiroglu2024"):
    runs = runs.copy()
    runs["is_ref"] = False
    if reference is not None:
        ref = reference.copy(); ref["is_ref"] = True
        if "domain" not in ref or (ref["domain"] == ref["domain"].iloc[0]).all():
            ref["domain"] = "reference"
        runs = pd.concat([runs, ref[runs.columns.intersection(ref.columns)]], ignore_index=True)
    own = runs[~runs.is_ref]
    refs = {"params": float(np.mean(np.log(own.params))), "tokens": float(np.mean(np.log(own.tokens)))}
    domains = list(dict.fromkeys(runs.domain))
    return runs, refs, domains

def summarise_reference(ref_runs, refs_joint, seed=0):
    """fit reference alone with weak prior, return mean/cov of z at joint refs, sigma, nu"""
    f = fit_v2(ref_runs.assign(domain="reference"), prior="weak", seed=seed, quiet=True)
    th = f["theta_draws"][:, 0, :]  # (S, 5) law theta at f refs
    cat = LAW.to_catalog({k: th[:, j] for j, k in enumerate(LAW.params)}, f["refs"])
    th2 = LAW.from_catalog(cat, refs_joint)
    z = theta_to_z(th2)
    Z = np.column_stack([z[k] for k in NAMES])
    return Z.mean(0), np.cov(Z, rowvar=False) + 1e-10 * np.eye(5), float(np.median(f["sigma"][:, 0])), float(np.median(f["nu"]))

_CACHE = {}

def fit_v2(runs, reference=None, prior="besiroglu2024", draws=1000, tune=1000, chains=4, seed=0, quiet=False,
           target_accept=0.9, maxdepth=10, centre_rich=True, nu_shared=True, whiten=None, store=None,
           between=None, vary=(1,1,1,1,1), centre_cols=(1,0,0,0,0), rich_centre_cols=None, vip=False, tau_ln=None, tau_fix=None):
    between = BETWEEN if between is None else np.asarray(between, float)
    vary = np.asarray(vary, float)
    t0 = time.perf_counter()
    runs, refs, domains = prepare(runs, None, prior)
    nd_own = len(domains)
    summary = None
    if reference is not None:
        m_r, c_r, s_r, nu_r = summarise_reference(reference, refs, seed)
        domains = domains + ["reference"]
        summary = (m_r, np.linalg.cholesky(c_r), s_r, nu_r)
    nd = len(domains)
    own = runs[~runs.is_ref]
    xN = np.log(own.params.to_numpy()) - refs["params"]
    xD = np.log(own.tokens.to_numpy()) - refs["tokens"]
    y = np.log(own.loss.to_numpy())
    didx = own.domain.map({d: i for i, d in enumerate(domains)}).to_numpy()
    counts = np.bincount(didx, minlength=nd)
    rich = (counts >= RICH)
    if prior == "weak":
        m0, C0 = weak_prior_z(own.loss.to_numpy())
    else:
        m0, C0 = published_prior_z(refs, prior)
        C0 = C0 + np.diag(between ** 2)
    hier = nd > 1
    t_prep = time.perf_counter() - t0
    with pm.Model() as model:
        if hier:
            L0 = np.linalg.cholesky(C0)
            zp = pm.Normal("z_pop", 0, 1, shape=5)
            mu = pm.Deterministic("mu", pt.as_tensor(m0) + pt.dot(pt.as_tensor(L0), zp))
            if tau_ln is None:
                tau = pm.HalfNormal("tau", sigma=between, shape=5) * vary
            else:
                tau = pm.LogNormal("tau", mu=np.log(np.asarray(tau_ln[0], float)), sigma=tau_ln[1], shape=5) * vary
            if tau_fix is not None:
                fixm = np.array([0.0 if t is None else 1.0 for t in tau_fix]); fixv = np.array([0.0 if t is None else t for t in tau_fix])
                tau = tau * (1 - fixm) + fixv
            c = np.zeros((nd, 5)); c[:, :] = np.asarray(centre_cols, float)[None, :]
            if centre_rich:
                c[rich, :] = 1.0 if rich_centre_cols is None else np.asarray(rich_centre_cols, float)[None, :]
            if summary is not None:
                c[nd - 1, :] = 1.0
            c = c * vary[None, :]
            if vip:
                dom_own = [d for d in domains if d != "reference"]
                lam, tau_hat, _, _ = vip_weights(own, refs, dom_own, m0, C0, between)
                if summary is not None:
                    lam = np.vstack([lam, np.ones((1, 5))])
                lam = np.clip(lam, 0.0, 1.0) * vary[None, :]
                out_lam = lam
                if not quiet:
                    print("  lambda mean per coord", np.round(lam.mean(0), 2), "tau_hat", np.round(tau_hat, 3))
                taus = tau[None, :] + 1e-12
                raw = pm.Normal("raw", mu=lam * mu[None, :], sigma=taus ** lam, shape=(nd, 5))
                Z = mu[None, :] + taus ** (1 - lam) * (raw - lam * mu[None, :])
            else:
                raw = pm.Normal("raw", mu=c * mu[None, :], sigma=c * tau[None, :] + (1 - c), shape=(nd, 5))
                Z = c * raw + (1 - c) * (mu[None, :] + tau[None, :] * raw)
            if summary is not None:
                pm.MvNormal("ref_summary", mu=Z[nd - 1], chol=summary[1], observed=summary[0])
        else:
            L0 = np.linalg.cholesky(C0)
            w = pm.Normal("w", 0, 1, shape=5)
            Z = (pt.as_tensor(m0) + pt.dot(pt.as_tensor(L0), w))[None, :]
        Z = pm.Deterministic("Z", Z)
        th = z_to_theta({k: Z[:, j] for j, k in enumerate(NAMES)}, pt)
        theta = pm.Deterministic("theta", pt.stack([th[k] for k in LAW.params], axis=1))
        # noise
        n_noise = nd - (1 if summary is not None else 0)
        if n_noise > 1:
            s_mu = pm.Normal("s_mu", np.log(0.01), 1.0)
            zs = pm.Normal("zs", 0, 1, shape=n_noise)
            ls = s_mu + 0.5 * zs
        else:
            ls = pm.Normal("log_sigma", np.log(0.01), 1.0, shape=1)
        if summary is not None:
            ls = pt.concatenate([ls, pt.as_tensor([np.log(summary[2])])])
        sigma = pm.Deterministic("sigma", pt.exp(ls))
        if rich[:n_noise].any():
            if nu_shared:
                nu1 = pm.Gamma("nu", 2.0, 0.1)
                nu_d = pt.switch(pt.as_tensor(rich), nu1, SPARSE_NU)
            else:
                nur = pm.Gamma("nu", 2.0, 0.1, shape=int(rich.sum()))
                nu_d = pt.set_subtensor(pt.zeros(nd)[np.flatnonzero(rich)], nur)
                nu_d = pt.switch(pt.as_tensor(rich), nu_d, SPARSE_NU)
        else:
            nu_d = pt.as_tensor(np.full(nd, SPARSE_NU))
        nu_d = pm.Deterministic("nu_d", nu_d * pt.ones(nd))
        thd = theta[didx]
        mean = law_log_loss({"params": xN, "tokens": xD}, {k: thd[:, j] for j, k in enumerate(LAW.params)}, pt)
        pm.StudentT("obs", nu=nu_d[didx], mu=mean, sigma=sigma[didx], observed=y)
    tc = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        compiled = nutpie.compile_pymc_model(model)
    tc = time.perf_counter() - tc
    ts = time.perf_counter()
    tr = nutpie.sample(compiled, draws=draws, tune=tune, chains=chains, cores=2, seed=seed, progress_bar=False,
                       save_warmup=False, adaptation="low_rank", target_accept=target_accept, maxdepth=maxdepth)
    ts = time.perf_counter() - ts
    post = tr["posterior"].to_dataset()
    S = post.sizes["chain"] * post.sizes["draw"]
    out = {"refs": refs, "domains": domains, "theta_draws": post["theta"].values.reshape(S, nd, 5),
           "sigma": post["sigma"].values.reshape(S, nd), "nu": post["nu_d"].values.reshape(S, nd),
           "Z": post["Z"].values.reshape(S, -1, 5), "tree": tr, "times": (t_prep, tc, ts), "hier": hier}
    if hier:
        out["mu"] = post["mu"].values.reshape(S, 5); out["tau"] = post["tau"].values.reshape(S, 5) * vary
        if tau_fix is not None:
            out["tau"] = out["tau"] * (1 - fixm) + fixv
        out["s_mu"] = post["s_mu"].values.reshape(S) if "s_mu" in post else None
    out["n_steps"] = float(np.asarray(tr["sample_stats"]["n_steps"].values).mean())
    out["diag"] = diagnose(tr, [v for v in ("z_pop", "tau", "raw", "w", "s_mu", "zs", "log_sigma", "nu") if v in post])
    if not quiet:
        d = out["diag"]
        print(f"  nd={nd} n={len(y)} prep {t_prep:.1f}s compile {tc:.1f}s sample {ts:.1f}s | rhat {d['rhat']:.3f} ({d['worst']}) "
              f"ess {d['ess']:.0f} steps {out['n_steps']:.0f} div {d['div']} ({100*d['div']/S:.2f}%) depth {d['depth']}")
    return out

def diagnose(tr, names):
    import arviz as az
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = az.rhat(tr, var_names=names)
        eb = az.ess(tr, var_names=names, method="bulk")
        et = az.ess(tr, var_names=names, method="tail")
    def worst(res, f):
        ds = res["posterior"].to_dataset() if hasattr(res, "children") and "posterior" in res.children else res
        vals = {k: f(np.asarray(v.values)) for k, v in ds.data_vars.items()}
        return vals
    rv = worst(r, np.nanmax); bv = worst(eb, np.nanmin); tv = worst(et, np.nanmin)
    k = max(rv, key=rv.get)
    ss = tr["sample_stats"]
    div = int(np.asarray(ss["diverging"].values).sum())
    depth = int(np.asarray(ss["maxdepth_reached"].values).sum()) if "maxdepth_reached" in ss.data_vars else -1
    return {"rhat": rv[k], "worst": k, "ess": min(min(bv.values()), min(tv.values())), "div": div, "depth": depth,
            "n_steps": float(np.asarray(ss["n_steps"].values).mean()) if "n_steps" in ss.data_vars else np.nan}

def predict_logloss(out, table, domain, rng, new_domain=False):
    refs = out["refs"]
    x = {"params": np.log(table.params.to_numpy()) - refs["params"], "tokens": np.log(table.tokens.to_numpy()) - refs["tokens"]}
    if domain in out["domains"]:
        i = out["domains"].index(domain)
        th = out["theta_draws"][:, i, :]; sig = out["sigma"][:, i]; nu = out["nu"][:, i]
    else:
        Z = out["mu"] + out["tau"] * rng.standard_normal(out["mu"].shape)
        th = np.column_stack([z_to_theta({k: Z[:, j] for j, k in enumerate(NAMES)})[k] for k in LAW.params])
        sig = np.exp(out["s_mu"] + 0.5 * rng.standard_normal(len(th))); nu = np.full(len(th), SPARSE_NU)
    m = law_log_loss(x, {k: th[:, j, None] for j, k in enumerate(LAW.params)})
    noise = rng.standard_t(np.minimum(nu, 1e6)[:, None] * np.ones_like(m)) * sig[:, None]
    return m, m + noise

from scipy import optimize as _opt

def domain_laplace(x, y, m0, C0, sigma0=0.01):
    """MAP and data precision (marginal, diag of inverse) of one domain in z coords, normal noise sigma0 (approx)."""
    P0 = np.linalg.inv(C0)
    def nll_data(v):
        th = z_to_theta(dict(zip(NAMES, v)))
        with np.errstate(all="ignore"):
            r = y - law_log_loss(x, th)
        return 0.5 * np.sum((r / sigma0) ** 2)
    def nlp(v):
        d = v - m0
        val = nll_data(v) + 0.5 * d @ P0 @ d
        return val if np.isfinite(val) else 1e30
    res = _opt.minimize(nlp, m0, method="L-BFGS-B")
    v = res.x; k = len(v); h = 1e-4; H = np.empty((k, k)); f0 = nll_data(v)
    for i in range(k):
        for j in range(i, k):
            ei = np.eye(k)[i] * h; ej = np.eye(k)[j] * h
            if i == j:
                H[i, i] = (nll_data(v + ei) - 2 * f0 + nll_data(v - ei)) / h ** 2
            else:
                H[i, j] = H[j, i] = (nll_data(v+ei+ej) - nll_data(v+ei-ej) - nll_data(v-ei+ej) + nll_data(v-ei-ej)) / (4*h*h)
    return v, H

def vip_weights(runs_own, refs, domains_own, m0, C0, between, sigma0=0.01):
    """lambda per (domain, coord): 1 = centred, 0 = non-centred, from data precision and a DL spread estimate."""
    est, prec = [], []
    for d in domains_own:
        g = runs_own[runs_own.domain == d]
        x = {"params": np.log(g.params.to_numpy()) - refs["params"], "tokens": np.log(g.tokens.to_numpy()) - refs["tokens"]}
        v, H = domain_laplace(x, np.log(g.loss.to_numpy()), m0, C0, sigma0)
        # marginal data precision per coordinate, regularised by the prior so that it is finite
        P0 = np.linalg.inv(C0)
        post_cov = np.linalg.inv(H + P0)
        marg_post = np.diag(post_cov)
        marg_prior = np.diag(C0)
        p = np.maximum(1.0 / marg_post - 1.0 / marg_prior, 0.0)
        est.append(v); prec.append(p)
    est = np.array(est); prec = np.array(prec)
    if len(domains_own) > 2:
        var_within = np.mean(1.0 / np.maximum(prec, 1e-12), axis=0)
        tau2 = np.maximum(np.var(est, axis=0, ddof=1) - var_within, 0.0)
        tau2 = np.minimum(tau2, between ** 2)
        tau2 = np.maximum(tau2, (0.05 * between) ** 2)
    else:
        tau2 = (0.5 * between) ** 2
    lam = prec * tau2[None, :] / (1.0 + prec * tau2[None, :])
    return lam, np.sqrt(tau2), est, prec
