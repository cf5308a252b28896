"""Floor 3. Transfer risk: how likely a run misses its target, and how far a domain departs from the published law.

* :func:`exceedance` — P(loss of one new run > threshold) and the expected
  shortfall E[max(L - threshold, 0)] at each target.
* :func:`departures` — the posterior of each domain's departure from the
  published law (Δalpha, Δbeta, ΔE and the loss gap at a target) and the
  probability that it lies outside a tolerance.
* :func:`prior_data_conflict` — how surprising a domain's runs are under the
  prior predictive of the published law (Box 1980; Evans & Moshonov 2006),
  flagged in plain words.
* :func:`risk_table` — the per-target table behind ``bayes-scaling risk``.

The *published law* is the prior's mean (e.g. Besiroglu et al. 2024 for
``besiroglu2024``); for a fit with a weak prior it is the Besiroglu et al.
(2024) estimate of the same law, when the catalog has one
(:meth:`ScalingFit.published_prior <bayes_scaling.posterior.ScalingFit.published_prior>`).
How much of a forecast's interval the prior removes is
:func:`bayes_scaling.sensitivity.prior_contribution`.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy import stats

from ._text import did_you_mean, listed
from ._warnings import warn_caller
from .data import RunsTableError, RunsTableWarning, validate_targets
from .decisions import frontier
from .display import format_count, format_p_value
from .intervals import interval
from .model import NOISE_PRIOR
from .predict import keyed_predictive_draws, predict, prepare_targets

__all__ = [
    "check_threshold",
    "exceedance",
    "departures",
    "prior_data_conflict",
    "risk_table",
    "DEFAULT_TOLERANCE",
    "THRESHOLD_SCALE_FACTOR",
    "ES_TAIL_SHARE",
    "DEPARTURE_VS_CONFLICT",
    "default_departure_target",
    "DEPARTURE_COMPUTE_FACTOR",
    "DEPARTURE_SIZE_FACTOR",
    "RISK_COLUMNS",
]

#: Default tolerances of a departure: exponents ±0.05 (about the published bootstrap
#: spread of the Chinchilla exponents, 2-3 SE; Besiroglu et al. 2024), E ±10 %, and the
#: expected loss at the target ±2 % (the practical accuracy floor of extrapolated
#: scaling laws is a few percent; Choshen et al. 2024).
DEFAULT_TOLERANCE = {"alpha": 0.05, "beta": 0.05, "E_rel": 0.10, "loss_gap_rel": 0.02}

#: Why a domain can depart from the published law and still be consistent with the prior, in words.
DEPARTURE_VS_CONFLICT = (
    "A domain can depart from the published law and still show no prior-data conflict. The departure asks whether "
    "this domain's loss curve differs from the published one at all (beyond a small tolerance); the conflict check "
    "asks whether its runs are surprising for a domain drawn from the prior, and the prior already lets every new "
    "domain differ from the published fit by the spread seen between data sets (another corpus or evaluation set "
    "shifts the whole curve, often by 10-20 %). A departure without conflict is a domain that differs as domains "
    "usually do: its own runs set its forecast. A conflict means it differs by more than that: check the runs."
)

#: What each column of :func:`risk_table` means (printed by ``bayes-scaling risk``).
RISK_COLUMNS = {
    "threshold": "the target loss, nats/token",
    # "heavy-tailed" was said of fits whose noise is normal (domains of fewer than RICH_RUNS runs; a fresh user)
    "p_exceed": "P(one new run at the target has a loss above the threshold), with the fit's run-to-run noise "
                "(Student-t where the fit learned a tail weight, else normal; the two means below take it as normal, "
                "so with a Student-t their misses can be fewer: a NaN mean with a small p_exceed means only its tail "
                "misses)",
    "expected_shortfall": "E[max(loss - threshold, 0)] of one new run, nats/token (run-to-run noise taken as normal "
                          "with the same 90 % interval: a Student-t noise has no mean in loss)",
    "mean_excess_if_missed": "E[loss - threshold | the run misses], nats/token: how far above the threshold a run "
                             "that misses lands on average (NaN if no draw misses; normal noise, as expected_shortfall)",
    "loss_gap_median": "relative gap of the expected loss to the published law at the target, "
                       "(L_domain - L_published) / L_published: 0.14 = 14 % above the published law",
    "loss_gap_lower": "lower end of the gap's credible interval (relative)",
    "loss_gap_upper": "upper end of the gap's credible interval (relative)",
    "departure_tolerance": "the relative gap counted as no departure (default 0.02 = 2 %)",
    "p_departure": "P(|loss gap| > departure_tolerance): that the domain's loss at the target departs from the "
                   "published law by more than the tolerance",
    "conflict_p": "prior-data conflict p-value of the domain's runs (small = the runs are surprising under the "
                  "published prior with its between-domain spread; see the sentences below the table)",
}


def _targets(fit, targets, domain):
    # the targets' domain names are checked as predict checks them: a near miss of a fitted name in the domain
    # column silently gave a new domain's P(miss) (a fresh user)
    return prepare_targets(fit, targets, domain)


#: A threshold this factor above the median loss of the runs is warned about as a perplexity or another unit
#: (:func:`exceedance`). Not fitted to data: the embedded public runs' losses span 1.2-7.3 nats/token, and a perplexity
#: is e^loss, 3-1500 there; a target loss is set below the runs' losses, so 2x their median is one no run of the law's
#: would be asked to reach. The median, not the largest: over-fitted runs at 11 nats/token let a perplexity of 12
#: through (a fresh user's datablations fit).
THRESHOLD_SCALE_FACTOR = 2.0

#: ``expected_shortfall`` is warned about when the most extreme 1 % of the draws give more than this share of it
#: while at least 20 % of the draws miss (:func:`exceedance`; below that the top 1 % carries much of the mean even for
#: a normal tail): a mean that rests on a handful of draws is not a stable number.
ES_TAIL_SHARE = 0.5

#: ``mean_excess_if_missed`` is warned about when fewer posterior draws than this miss the threshold: a mean of a
#: few draws in the far tail (a fresh user read 3.66 nats of excess, a 12B model at 6.2 nats/token, from 16 draws of
#: 4000 at a threshold above every run). 100 is the effective sample size the package asks of a reweighted
#: estimate too (:func:`bayes_scaling.value_of_information.next_run`'s ``min_ess``).
MIN_MISS_DRAWS = 100


def check_threshold(threshold: float, losses) -> None:
    """Warn (UserWarning) when a loss threshold is above :data:`THRESHOLD_SCALE_FACTOR` times the runs' median loss.

    Parameters
    ----------
    threshold : float
        Target loss, nats/token.
    losses : array_like
        The runs' losses, nats/token.

    Used by :func:`exceedance` and by ``bayes-scaling fit --threshold``, whose report gave "< 1 % chance of missing
    the target 250 nats/token" for runs at 3.3-5.4 without a word (a fresh user; '--threshold 30', a perplexity, ran
    silently in risk before this check).
    """
    typical = float(np.median(np.asarray(losses, float)))
    if threshold > THRESHOLD_SCALE_FACTOR * typical:
        as_nats = f" (a perplexity p is ln p nats/token: {threshold:g} -> {np.log(threshold):.3g})" if threshold > 1 else ""
        warn_caller(f"threshold {threshold:g} is {threshold / typical:.1f}x the median loss of the runs ({typical:.3g} "
                    f"nats/token): is it a perplexity or in other units? The threshold is a loss in nats/token"
                    f"{as_nats}.", UserWarning)


def exceedance(fit, targets, threshold: float, domain: str | None = None, random_seed: int | None = None) -> pd.DataFrame:
    """Probability that one new run at each target misses a loss threshold.

    Parameters
    ----------
    fit : ScalingFit
    targets : DataFrame or path
        ``params`` and ``tokens`` (or ``flops``), optional ``domain``.
    threshold : float
        Target loss in nats/token (a run "misses" when its loss is above it).
    domain : str, optional
        Domain for targets without one (a new name gives the new-domain forecast).
    random_seed : int, optional

    Returns
    -------
    pandas.DataFrame
        The targets plus ``threshold``, ``p_exceed`` = P(L > threshold),
        ``expected_shortfall`` = E[max(L - threshold, 0)] (nats/token) and
        ``mean_excess_if_missed`` = E[L - threshold | L > threshold] (NaN if never). The two means take
        the run-to-run noise as normal with the Student-t's 90 % interval (a Student-t log noise has no
        mean in loss space; :func:`bayes_scaling.predict.predictive_draws`), so they stay finite for the
        heavy tails that many-run fits learn; ``p_exceed`` uses the Student-t.

    Raises
    ------
    ValueError
        For a non-positive or non-finite threshold.

    Warns
    -----
    UserWarning
        A threshold above :data:`THRESHOLD_SCALE_FACTOR` times the median loss of the runs (a perplexity?);
        targets whose ``expected_shortfall`` rests on the most extreme 1 % of the draws (:data:`ES_TAIL_SHARE`).
    """
    try:  # "3.0" from a widget or a config file gave numpy's "ufunc 'isfinite' not supported" (a fresh user)
        threshold = float(threshold)
    except (TypeError, ValueError):
        raise ValueError(f"threshold must be a positive loss in nats/token, got {threshold!r}.") from None
    if not np.isfinite(threshold) or threshold <= 0:
        raise ValueError(f"threshold must be a positive loss in nats/token, got {threshold}.")
    check_threshold(threshold, fit.own_runs()["loss"])
    t = _targets(fit, targets, domain)
    seed = fit.random_seed if random_seed is None else random_seed
    out = t.copy()
    fragile: list = []
    rare: list = []
    out["threshold"] = float(threshold)
    for col in ("p_exceed", "expected_shortfall", "mean_excess_if_missed"):
        out[col] = np.nan
    for dom, idx in t.groupby("domain", sort=False).groups.items():
        # the draws predict() makes for these targets (keyed by seed, domain and sizes: p_exceed at predict's
        # interval ends is 0.05 and 0.95), and the same draws of the law for the normal noise of the means
        _, new = keyed_predictive_draws(fit, t.loc[idx], dom, seed)
        out.loc[idx, "p_exceed"] = (np.exp(new) > threshold).mean(0)
        # the means in loss space take a normal run-to-run noise of the same 90 % interval (a Student-t log noise
        # has no mean in loss space: predictive_draws)
        _, new = keyed_predictive_draws(fit, t.loc[idx], dom, seed, noise="matched_normal")
        excess = np.exp(new) - threshold
        miss = excess > 0
        pos = np.maximum(excess, 0)
        out.loc[idx, "expected_shortfall"] = pos.mean(0)
        with np.errstate(invalid="ignore"):
            out.loc[idx, "mean_excess_if_missed"] = np.where(miss.any(0), (excess * miss).sum(0) / miss.sum(0), np.nan)
            # share of the mean given by the most extreme 1 % of the draws
            top_share = np.where(pos.sum(0) > 0, (pos * (pos >= np.quantile(pos, 0.99, axis=0))).sum(0) / pos.sum(0), 0)
        # among at least 20 % of draws that miss: with fewer, the top 1 % carries much of the mean even for a normal
        # tail (a threshold at the 95 % quantile warned on a Chinchilla fit's 70B forecast)
        fragile.extend(t.loc[idx].index[(top_share > ES_TAIL_SHARE) & (miss.mean(0) >= 0.2)])
        n_miss = miss.sum(0)
        rare.extend((i, int(k)) for i, k in zip(t.loc[idx].index, n_miss, strict=True) if 0 < k < MIN_MISS_DRAWS)
    if fragile:  # 3.04 nats beyond a threshold of 1.45 whose interval ended at 2.38, at 1e27 FLOPs (a fresh user)
        rows = listed([_sizes(t, i) for i in fragile], 3)
        warn_caller(f"the expected_shortfall of {len(fragile)} target(s) ({rows}) rests on the most extreme 1 % of the "
                    f"forecast's draws (they give more than {ES_TAIL_SHARE:.0%} of it): far beyond the runs the "
                    "forecast's tail is the model-form error's, and a mean there is not a stable number; read p_exceed "
                    "and the interval instead.", UserWarning)
    if rare:
        rows = listed([f"{_sizes(t, i)}: {k} draws" for i, k in rare], 3)
        warn_caller(f"the mean_excess_if_missed of {len(rare)} target(s) ({rows}) rests on fewer than "
                    f"{MIN_MISS_DRAWS} of the forecast's draws, those that miss the threshold: a mean of a few draws "
                    "far in the tail, not a stable number; read p_exceed instead.", UserWarning)
    return out


def departures(
    fit,
    targets=None,
    tolerance: dict | None = None,
    prob: float = 0.9,
    domains: list[str] | None = None,
) -> pd.DataFrame:
    """Each domain's departure from the published law, with P(outside tolerance).

    Parameters
    ----------
    fit : ScalingFit
        A fit of a law with a published counterpart (e.g. the Chinchilla law).
    targets : DataFrame, optional
        One target (the first row is used) for the loss gap; default
        (:func:`default_departure_target`): the compute-optimal run at 100x each
        domain's largest compute, or for a law of one variable its largest run
        with that variable 10x larger.
    tolerance : dict, optional
        Overrides of :data:`DEFAULT_TOLERANCE`.
    prob : float
        Interval probability.
    domains : list of str, optional
        Default: every fitted domain.

    Returns
    -------
    pandas.DataFrame
        Rows ``domain`` x ``quantity`` (``Δalpha``, ``Δbeta``, ``ΔE``, ``loss gap``) with
        ``median``, ``lower``, ``upper``, ``tolerance`` and ``p_outside`` =
        P(|Δ| > tolerance). The loss gap is relative: (L_domain - L_published) / L_published
        of the expected loss at the target.

    Raises
    ------
    ValueError
        If the law has no published fit to compare with.
    """
    tol = {**DEFAULT_TOLERANCE, **(tolerance or {})}
    th_pub = fit.published_theta()
    if th_pub is None:
        raise ValueError(f"the {fit.law.name} law has no published fit in the catalog to measure departures from.")
    law = fit.law
    pub = law.natural({k: np.asarray([v]) for k, v in zip(law.theta_names, th_pub, strict=True)}, fit.refs)
    published, _ = fit.published_values()
    rows = []
    for dom in domains or fit.domains:
        th = fit.theta(dom)
        nat = law.natural(fit.theta_dict(th), fit.refs)
        quantities = []
        # each exponent the law has (a one-variable law in N has alpha only)
        quantities += [(f"Δ{e}", nat[e] - pub[e][0], tol[e]) for e in ("alpha", "beta") if e in nat and e in pub]
        # only against a published E: a one-variable law's E holds the other term, which the prior leaves weak (a
        # fresh user's tokens-only fit read "ΔE -1.77" against an E the prior table shows as "-")
        if "E" in nat and "E" in published:
            quantities.append(("ΔE", nat["E"] - pub["E"][0], tol["E_rel"] * float(pub["E"][0])))
        if targets is not None:
            t = validate_targets(targets, needs=tuple(v for v in law.variables if v != "unique_tokens"),
                                 domain_col=fit.domain_col).iloc[[0]]
        else:
            t = default_departure_target(fit, dom)
        if "unique_tokens" in law.variables and "unique_tokens" not in t:
            t = t.assign(unique_tokens=t["tokens"])
        x = law.inputs(t, fit.refs)
        l_dom = np.exp(law.log_loss(x, {k: v[:, None] for k, v in fit.theta_dict(th).items()}, np))[:, 0]
        l_pub = float(np.exp(law.log_loss(x, dict(zip(law.theta_names, th_pub, strict=True)), np))[0])
        quantities.append(("loss gap", (l_dom - l_pub) / l_pub, tol["loss_gap_rel"]))
        for name, draws, tl in quantities:
            lo, hi = interval(np.asarray(draws, float), prob)
            rows.append({
                "domain": dom,
                "quantity": name,
                "median": float(np.median(draws)),
                "lower": float(lo),
                "upper": float(hi),
                "tolerance": float(tl),
                "p_outside": float((np.abs(draws) > tl).mean()),
                "target_params": float(t["params"].iloc[0]) if name == "loss gap" and "params" in t else np.nan,
                "target_tokens": float(t["tokens"].iloc[0]) if name == "loss gap" and "tokens" in t else np.nan,
            })
    return pd.DataFrame(rows)


#: How far beyond a domain's largest run :func:`departures` measures the loss gap by default: 100x its compute
#: (at the compute-optimal split), or, for a law of one variable (no split), 10x that variable.
DEPARTURE_COMPUTE_FACTOR = 100.0
DEPARTURE_SIZE_FACTOR = 10.0


def default_departure_target(fit, domain: str) -> pd.DataFrame:
    """The run at which :func:`departures` compares a domain's loss with the published law's, by default.

    For a law with an allocation between N and D (Chinchilla, Kaplan, data-constrained): the compute-optimal run
    (posterior median split) at :data:`DEPARTURE_COMPUTE_FACTOR` times the domain's largest compute. For a law of
    one variable (``power_params``, ``power_tokens``, ``power_flops``), which has no such split: the domain's
    largest run with that variable :data:`DEPARTURE_SIZE_FACTOR` times larger.

    Parameters
    ----------
    fit : ScalingFit
    domain : str
        A fitted domain.

    Returns
    -------
    pandas.DataFrame
        One row: ``params``, ``tokens``, ``flops`` (FLOPs; ``6 N D`` unless the law's variable is ``flops``), those
        of them the runs have for a law of one variable.
    """
    runs = fit.runs[fit.runs["domain"] == domain]
    if fit.law.has_allocation:
        return _optimal_target(fit, domain, DEPARTURE_COMPUTE_FACTOR * float(runs["flops"].max()))
    # the largest run in the law's variable; the other sizes as the runs give them (a fresh user's fine-tuning curves,
    # a law of D alone, had no 'params' and so no 'flops': the report's risk step failed with "flops")
    var = fit.law.size_variables[0]
    cols = [c for c in ("params", "tokens", "flops") if c in runs]
    t = runs.loc[[runs[var].idxmax()], cols].astype(float).reset_index(drop=True)
    for v in fit.law.size_variables:
        t[v] = t[v] * DEPARTURE_SIZE_FACTOR
    if "flops" not in fit.law.size_variables and {"params", "tokens"} <= set(t):
        t["flops"] = 6.0 * t["params"] * t["tokens"]
    return t


def _sizes(t: pd.DataFrame, i) -> str:
    """A target's sizes in a warning: "6.89B x 138B" (N x D), or the one size a law of one variable reads (a fresh
    user's tokens-only targets stopped the risk command with "error: params")."""
    if "params" in t and "tokens" in t:
        return f"{format_count(t.loc[i, 'params'])} x {format_count(t.loc[i, 'tokens'])}"
    col, unit = next((c, u) for c, u in (("tokens", "tokens"), ("params", "parameters"), ("flops", "FLOPs")) if c in t)
    return f"{format_count(t.loc[i, col])} {unit}"


def _optimal_target(fit, domain, flops) -> pd.DataFrame:
    # the package's own reference point, not a budget the user asked for: no warnings about it (the workflow's risk
    # step repeated the frontier's discrepancy note at 100x the largest run), and no note computed for it
    fr = frontier(fit, [flops], domain=domain, warn_far=False).iloc[0]
    n = float(fr["params_opt_median"])
    return pd.DataFrame({"params": [n], "tokens": [flops / (6 * n)], "flops": [flops]})


def prior_data_conflict(fit, domain: str | None = None, n_draws: int = 4000, random_seed: int = 0) -> dict:
    """How surprising a domain's runs are under the prior predictive of the published law.

    The prior predictive draws domain parameters from the published prior widened
    by the between-domain spread (the hierarchy's prior for a new domain) and
    noise from the noise prior, and replicates the domain's runs. The check is a
    Gaussian approximation of Box's (1980) prior predictive p-value: the squared
    Mahalanobis distance of the observed log losses from the replicated ones,
    referred to a chi-square with as many degrees of freedom as runs.

    Parameters
    ----------
    fit : ScalingFit
    domain : str, optional
        A fitted domain (default: the fit's default domain).
    n_draws : int
        Prior predictive draws.
    random_seed : int

    Returns
    -------
    dict
        ``domain``, ``n_runs``, ``distance2``, ``p_value`` (small = conflict),
        ``worst_run`` (row index of the run farthest from the prior predictive),
        ``flag`` (``none``, ``mild``, ``strong``), ``message`` in plain words and ``exponents_outside_prior`` (the
        exponents whose posterior 90 % interval lies wholly outside the published prior's for a new domain, in
        words; the message says them too). ``p_value`` is NaN when the law has no published fit.

    Raises
    ------
    RunsTableError
        For a domain the fit has no runs of (the check compares a domain's own runs with the prior).
    """
    domain = fit.domain_for("check", domain)
    if domain not in fit.domains or domain in fit.reference_domains:
        # "argmax of an empty sequence" was all a fresh user read for a new or misspelt name
        own = fit.own_domains
        hint = did_you_mean(domain, own, cutoff=0.6, contains=True)
        raise RunsTableError(f"domain '{domain}' has no runs in this fit, so there is nothing to compare with the "
                             f"prior; give one of its domains ({', '.join(own)})" + (f"; {hint}" if hint else "."))
    law = fit.law
    runs = fit.runs[fit.runs["domain"] == domain]
    th_pub = fit.published_theta()
    if th_pub is None:
        return {"domain": domain, "n_runs": len(runs), "distance2": np.nan, "p_value": np.nan, "worst_run": None,
                "flag": "none", "message": "No published law to compare with."}
    spec = fit.published_prior()
    rng = np.random.default_rng(random_seed)
    th = fit.prior_draws(n_draws, rng, prior=spec, domain=domain)
    sigma = np.exp(rng.normal(*NOISE_PRIOR, size=n_draws))
    x = law.inputs(runs, fit.refs)
    with np.errstate(all="ignore"):
        mu = law.log_loss(x, {k: th[:, j, None] for j, k in enumerate(law.theta_names)}, np)
    rep = mu + sigma[:, None] * rng.standard_normal(mu.shape)
    ok = np.all(np.isfinite(rep), axis=1)
    rep = rep[ok]
    y = np.log(runs["loss"].to_numpy(float))
    m = rep.mean(0)
    c = np.cov(rep, rowvar=False).reshape(len(y), len(y)) + 1e-12 * np.eye(len(y))
    r = y - m
    d2 = float(r @ np.linalg.solve(c, r))
    p = float(stats.chi2.sf(d2, df=len(y)))
    z = np.abs(r) / np.sqrt(np.diag(c))
    worst = runs.index[int(np.argmax(z))]
    if p < 0.01:
        flag, msg = "strong", (
            f"Strong prior-data conflict ({format_p_value(p)}): the {len(y)} runs of '{domain}' are very unlikely under the "
            f"published law ({spec.name}) even allowing for the usual spread between data sets. The domain departs "
            "from the published law; rely on its own runs, widen the prior, or check the runs (units, evaluation set)."
        )
    elif p < 0.1:
        flag, msg = "mild", (
            f"Mild prior-data conflict ({format_p_value(p)}): the runs of '{domain}' are somewhat unusual under the published "
            f"law ({spec.name}); forecasts lean on the domain's own runs where they disagree."
        )
    else:
        # "consistent with the published law" read as a contradiction next to a +49 % departure (a fresh user's PTB
        # domain): say how far the runs lie from the published law, and that the spread between data sets allows it
        with np.errstate(all="ignore"):
            pub_log = law.log_loss(x, dict(zip(law.theta_names, th_pub, strict=True)), np)
            gap = float(np.expm1(np.median(y - pub_log)))
            # how far the prior lets a new domain's curve lie from the published law: its replicates' median shift
            shifts = np.expm1(np.median(rep - pub_log, axis=1))
        q25, q75 = np.quantile(shifts, [0.25, 0.75])
        if q25 <= gap <= q75:
            spread = "within the usual spread between data sets, so they are no surprise for a new domain."
        else:  # "-80 %, within the usual spread" beside "often by 10-20 %" (a fresh user's fine-tuning curves)
            q05, q95 = np.quantile(shifts, [0.05, 0.95])
            weak_e = "logE" in law.catalog_names and "E" not in fit.published_values()[0]
            weak = "; a law of one variable leaves E weak: it holds the other term" if weak_e else ""
            spread = (f"which the prior allows a new domain (90 % of its curves lie {q05:+.0%} to {q95:+.0%} from the "
                      f"published law{weak}), so the check finds no surprise." if q05 <= gap <= q95 else
                      f"further than 90 % of the prior's curves for a new domain ({q05:+.0%} to {q95:+.0%}{weak}), but "
                      "the runs as a whole (their shape and scatter) are not unusual for it, so the check finds no "
                      "conflict.")
        shown = f"{gap:+.1%}" if abs(gap) < 0.01 else f"{gap:+.0%}"  # "-0%" on the Chinchilla runs (a fresh user)
        flag, msg = "none", (
            f"No prior-data conflict ({format_p_value(p)}): the runs of '{domain}' lie {shown} from the published "
            f"law ({spec.name}) at their sizes (median), {spread}"
        )
    # the loss check above can pass while the runs' slope is far from the published one: 28 recipes at -17 % from the
    # published law got "no surprise" while each one's alpha (0.10-0.15) lay below the prior's 0.16-0.79 (a fresh
    # user); the exponents are what a forecast far beyond the runs rests on
    outside = []

    def natural(draws):
        return law.natural({k: draws[:, j] for j, k in enumerate(law.theta_names)}, fit.refs)

    prior_nat, post_nat = natural(th[ok]), natural(fit.theta(domain))
    for name in ("alpha", "beta"):
        if name not in prior_nat or name not in post_nat:
            continue
        (plo, phi), (qlo, qhi) = (interval(x[np.isfinite(x)], 0.9) for x in (prior_nat[name], post_nat[name]))
        if qhi < plo or qlo > phi:
            outside.append(f"{name} at {qlo:.3g}-{qhi:.3g} ({'below' if qhi < plo else 'above'} the published prior's "
                           f"{plo:.3g}-{phi:.3g} for a new domain; 90 % intervals)")
    if outside:
        msg += (" But the runs put " + " and ".join(outside) + ": their slope is unusual for the published law, and "
                "forecasts far beyond the runs rest on it.")
    return {"domain": domain, "n_runs": int(len(y)), "distance2": d2, "p_value": p, "worst_run": worst,
            "flag": flag, "message": msg, "exponents_outside_prior": outside}


def risk_table(fit, targets, threshold: float, prob: float = 0.9, domain: str | None = None,
               tolerance: dict | None = None) -> pd.DataFrame:
    """Forecast, miss probability and departure from the published law at each target.

    Parameters
    ----------
    fit : ScalingFit
    targets : DataFrame or path
    threshold : float
        Target loss (nats/token).
    prob : float
    domain : str, optional
    tolerance : dict, optional
        See :data:`DEFAULT_TOLERANCE`.

    Returns
    -------
    pandas.DataFrame
        Per target: the forecast columns of :func:`bayes_scaling.predict.predict`,
        ``threshold``, ``p_exceed``, ``expected_shortfall``, ``mean_excess_if_missed`` (as
        :func:`exceedance`), and (for laws with a
        published fit) ``loss_gap_median``, ``loss_gap_lower``, ``loss_gap_upper`` (relative
        gap of the expected loss to the published law, (L - L_pub) / L_pub, with its
        interval), ``departure_tolerance`` (the relative gap counted as none),
        ``p_departure`` = P(|gap| > tolerance) and the domain's prior-data conflict
        ``conflict_p``; :data:`RISK_COLUMNS` says the same in words.
    """
    tol = {**DEFAULT_TOLERANCE, **(tolerance or {})}
    pred = predict(fit, targets, prob=prob, domain=domain)
    with warnings.catch_warnings():  # predict has said what these targets raise
        warnings.simplefilter("ignore", RunsTableWarning)
        ex = exceedance(fit, targets, threshold, domain=domain)
    out = pred.copy()
    for col in ("threshold", "p_exceed", "expected_shortfall", "mean_excess_if_missed"):
        out[col] = ex[col].to_numpy()
    th_pub = fit.published_theta()
    if th_pub is not None:
        law = fit.law
        gaps, lows, highs, pdep, conflict = [], [], [], [], {}
        for _, row in out.iterrows():
            t = pd.DataFrame([row])
            # predict's draws of the expected loss: a new domain's gap no longer moves with the rows before it
            mean, _ = keyed_predictive_draws(fit, t, row["domain"], fit.random_seed)
            l_pub = float(np.exp(law.log_loss(law.inputs(t, fit.refs), dict(zip(law.theta_names, th_pub, strict=True)), np))[0])
            gap = (np.exp(mean[:, 0]) - l_pub) / l_pub
            gaps.append(float(np.median(gap)))
            lo, hi = interval(gap, prob)
            lows.append(float(lo))
            highs.append(float(hi))
            pdep.append(float((np.abs(gap) > tol["loss_gap_rel"]).mean()))
            if row["domain"] in fit.domains and row["domain"] not in conflict:
                conflict[row["domain"]] = prior_data_conflict(fit, row["domain"])["p_value"]
        out["loss_gap_median"] = gaps
        out["loss_gap_lower"] = lows
        out["loss_gap_upper"] = highs
        out["departure_tolerance"] = float(tol["loss_gap_rel"])
        out["p_departure"] = pdep
        out["conflict_p"] = out["domain"].map(conflict)
    if out.empty:
        raise RunsTableError("no targets to assess.")
    return out
