"""Floor 3. Decisions: compute-optimal allocation and comparing options.

All functions work on posterior draws, so every answer comes with a credible
interval and a probability.

* :func:`frontier` — N_opt(C), D_opt(C), tokens per parameter and L_opt(C) over
  budgets (Hoffmann et al. 2022, Eq. 4 in closed form for the Chinchilla law;
  a vectorised golden-section search for the other laws, with a maximum model
  size, a unique-token budget or inference cost (Sardana et al. 2024) as options).
* :func:`compare` — posterior loss of candidate runs, probability that each is
  the best and the expected loss gap to the best.

The next run to make is :func:`bayes_scaling.value_of_information.next_run`; the
frontier under other priors is :func:`bayes_scaling.sensitivity.sensitivity`.

The allocation on the frontier is the *law's* optimum: the discrepancy term is
orthogonal to the law on the runs and held at its edge value beyond them
(:mod:`bayes_scaling.discrepancy`). ``loss_opt`` includes the discrepancy and the
model-form error beyond the runs (:mod:`bayes_scaling.extrapolation`), so it agrees
with :func:`bayes_scaling.predict.predict` at the same (N, D).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .data import RunsTableError, validate_targets
from .intervals import interval
from .laws import ChinchillaLaw, compute_optimal_chinchilla
from .extrapolation import extrapolation_distance
from .predict import discrepancy_draws, predictive_draws

__all__ = ["frontier", "optimal_allocation_draws", "compare", "discrepancy_of", "extrapolation_of"]

_GOLDEN = (np.sqrt(5.0) - 1.0) / 2.0


def _domain_theta(fit, domain, rng):
    if domain is None:
        domain = fit.default_domain
    if domain in fit.domains:
        return fit.theta(domain), domain
    return fit.new_domain_draws(rng, domain)[0], domain


def extrapolation_of(fit, domain):
    """The ``extrapolation`` argument of :func:`optimal_allocation_draws` for a domain: draw s's model-form
    error at its own (N, D) (:meth:`ScalingFit.extrapolation_error`, paired by draw)."""
    slopes = fit.extrapolation.slopes(fit.n_draws, fit.random_seed)
    runs = fit.own_runs(domain)

    def f(params, tokens):
        return slopes * extrapolation_distance(runs, pd.DataFrame({"params": params, "tokens": tokens}))
    return f


def discrepancy_of(fit, domain):
    """The ``discrepancy`` argument of :func:`optimal_allocation_draws` for a domain (None without one)."""
    if domain not in fit.bases:
        return None
    return lambda x: discrepancy_draws(fit, domain, x, paired=True)


def optimal_allocation_draws(
    fit,
    flops: np.ndarray,
    theta: np.ndarray,
    *,
    max_params: float | None = None,
    unique_tokens: float | None = None,
    inference_tokens: float = 0.0,
    iterations: int = 60,
    discrepancy=None,
    extrapolation=None,
) -> dict[str, np.ndarray]:
    """Compute-optimal N, D and L for each posterior draw and budget.

    Parameters
    ----------
    fit : ScalingFit
        Supplies the law and the reference scales.
    flops : ndarray, shape (K,)
        Total compute budgets in FLOPs.
    theta : ndarray, shape (S, p)
        Draws of the law's sampling parameters.
    max_params : float, optional
        Largest allowed model size N.
    unique_tokens : float, optional
        Unique tokens available (data-constrained law, Muennighoff et al. 2023);
        other laws ignore it.
    inference_tokens : float, default 0
        Tokens to be served after training; each costs 2 N FLOPs (Sardana et al.
        2024), so training gets D = (C - 2 N D_inf) / (6 N).
    iterations : int
        Golden-section iterations (60 narrow ln N to 3e-13 of its bracket).
    discrepancy : callable, optional
        ``f(x) -> (S,)``: discrepancy of draw s at centred log inputs ``x`` (each (S,)), for
        example ``lambda x: predict.discrepancy_draws(fit, domain, x, paired=True)``; added to ``loss_opt``
        (the allocation itself is the law's optimum).
    extrapolation : callable, optional
        ``f(params (S,), tokens (S,)) -> (S,)``: the model-form error of draw s at its own optimum
        (:meth:`ScalingFit.extrapolation_error`, paired by draw); added to ``loss_opt``.

    Returns
    -------
    dict of ndarray, each (S, K)
        ``params_opt``, ``tokens_opt``, ``tokens_per_param``, ``loss_opt`` (nats/token).

    Raises
    ------
    ValueError
        If the law does not depend on both N and D.
    """
    law = fit.law
    if not law.has_allocation:
        raise ValueError(f"the {law.name} law does not depend on both N and D, so it has no compute-optimal split.")
    flops = np.asarray(flops, float)[None, :]
    th = fit.theta_dict(theta)
    simple = isinstance(law, ChinchillaLaw) and max_params is None and not inference_tokens
    if simple:
        nat = law.natural(th, fit.refs)
        n_opt, d_opt = compute_optimal_chinchilla(
            flops, nat["A"][:, None], nat["B"][:, None], nat["alpha"][:, None], nat["beta"][:, None]
        )
        log_n = np.log(n_opt)
    else:
        log_c6 = np.log(flops / 6.0)
        lo = np.full((theta.shape[0], flops.shape[1]), np.log(1e3))
        hi = log_c6 - np.log(1.0)  # D >= 1 token
        if inference_tokens:
            hi = np.minimum(hi, np.log(flops / (2.0 * inference_tokens)) - 1e-9)
        if max_params is not None:
            hi = np.minimum(hi, np.log(max_params))
        lo = np.minimum(lo, hi - 1e-6)
        thb = {k: v[:, None] for k, v in th.items()}

        def objective(log_n):
            n = np.exp(log_n)
            train = flops - 2.0 * n * inference_tokens
            d = np.maximum(train, 1e-300) / (6.0 * n)
            x = {"params": log_n - fit.refs["params"], "tokens": np.log(d) - fit.refs["tokens"]}
            if "unique_tokens" in law.variables:
                u = d if unique_tokens is None else np.minimum(unique_tokens, d)
                x["unique_tokens"] = np.log(u) - fit.refs["tokens"]
                x["_ref_params"], x["_ref_tokens"] = fit.refs["params"], fit.refs["tokens"]
            with np.errstate(all="ignore"):
                val = law.log_loss(x, thb, np)
            return np.where(np.isfinite(val), val, np.inf)

        a, b = lo, hi
        for _ in range(iterations):
            c = b - _GOLDEN * (b - a)
            d = a + _GOLDEN * (b - a)
            left = objective(c) < objective(d)
            b = np.where(left, d, b)
            a = np.where(left, a, c)
        log_n = (a + b) / 2.0
        n_opt = np.exp(log_n)
        d_opt = (flops - 2.0 * n_opt * inference_tokens) / (6.0 * n_opt)
    x = {"params": log_n - fit.refs["params"], "tokens": np.log(d_opt) - fit.refs["tokens"]}
    if "unique_tokens" in law.variables:
        u = d_opt if unique_tokens is None else np.minimum(unique_tokens, d_opt)
        x["unique_tokens"] = np.log(u) - fit.refs["tokens"]
        x["_ref_params"], x["_ref_tokens"] = fit.refs["params"], fit.refs["tokens"]
    log_loss = law.log_loss(x, {k: v[:, None] for k, v in th.items()}, np)
    if discrepancy is not None:
        # the same discrepancy draws as predict() at these (N, D): the GP on the runs, held at its value
        # on the edge of their range beyond them (bayes_scaling.predict.discrepancy_draws)
        k = log_n.shape[1]
        for j in range(k):
            xj = {key: (v[:, j] if isinstance(v, np.ndarray) and v.ndim == 2 else v) for key, v in x.items()}
            log_loss[:, j] = log_loss[:, j] + discrepancy(xj)  # draw s at its own optimum
    if extrapolation is not None:
        for j in range(log_n.shape[1]):
            log_loss[:, j] = log_loss[:, j] + extrapolation(n_opt[:, j], d_opt[:, j])
    loss = np.exp(log_loss)
    return {"params_opt": n_opt, "tokens_opt": d_opt, "tokens_per_param": d_opt / n_opt, "loss_opt": loss}


def frontier(
    fit,
    flops,
    prob: float = 0.9,
    domain: str | None = None,
    *,
    max_params: float | None = None,
    unique_tokens: float | None = None,
    inference_tokens: float = 0.0,
    random_seed: int | None = None,
) -> pd.DataFrame:
    """Compute-optimal frontier with credible bands.

    Parameters
    ----------
    fit : ScalingFit
    flops : float or sequence of float
        Budgets C in FLOPs (training, plus inference when ``inference_tokens`` > 0).
    prob : float, default 0.9
        Interval probability (equal-tailed).
    domain : str, optional
        Fitted domain, or a new name for the population (new-domain) frontier.
    max_params, unique_tokens, inference_tokens
        Constraints, see :func:`optimal_allocation_draws`.
    random_seed : int, optional
        Seed for new-domain draws.

    Returns
    -------
    pandas.DataFrame
        One row per budget: ``flops`` and, each as ``_median``, ``_lower``, ``_upper``:
        ``params_opt``, ``tokens_opt``, ``tokens_per_param``, ``loss_opt``; plus ``domain``.

    Raises
    ------
    ValueError
        For non-positive budgets or a law without an N-D split.
    """
    flops = np.atleast_1d(np.asarray(flops, float))
    if flops.size == 0 or not np.all(np.isfinite(flops)) or np.any(flops <= 0):
        raise ValueError("budgets must be positive finite FLOP counts, e.g. 1e21,5.88e23.")
    if flops.max() < 1e12:
        raise ValueError(f"budgets look like PF-days or exponents (largest {flops.max():g}); give FLOPs, e.g. 5.88e23.")
    rng = np.random.default_rng(fit.random_seed if random_seed is None else random_seed)
    theta, dom = _domain_theta(fit, domain, rng)
    res = optimal_allocation_draws(
        fit, flops, theta, max_params=max_params, unique_tokens=unique_tokens, inference_tokens=inference_tokens,
        discrepancy=discrepancy_of(fit, dom), extrapolation=extrapolation_of(fit, dom),
    )
    out = {"flops": flops}
    for key, val in res.items():
        lo, hi = interval(val, prob)
        out[f"{key}_median"] = np.median(val, axis=0)
        out[f"{key}_lower"] = lo
        out[f"{key}_upper"] = hi
    df = pd.DataFrame(out)
    df["domain"] = dom
    df.attrs["prob"] = prob
    return df


def _loss_draws(fit, candidates: pd.DataFrame, domain, rng, noise: bool):
    dom = domain or fit.default_domain
    mean, new = predictive_draws(fit, candidates, dom, rng)
    return np.exp(new if noise else mean)


def compare(
    fit,
    candidates,
    prob: float = 0.9,
    domain: str | None = None,
    *,
    new_run: bool = False,
    random_seed: int | None = None,
) -> pd.DataFrame:
    """Compare candidate runs: posterior loss, P(best) and expected gap to the best.

    Parameters
    ----------
    fit : ScalingFit
    candidates : DataFrame or path
        Columns ``params`` and ``tokens`` (or ``flops``); optional ``label``.
    prob : float, default 0.9
    domain : str, optional
    new_run : bool, default False
        Compare single runs (noise included) instead of expected losses.
    random_seed : int, optional

    Returns
    -------
    pandas.DataFrame
        One row per candidate: the candidate columns, ``domain`` and ``domain_kind`` (as
        :func:`~bayes_scaling.predict.predict` gives them), ``loss_median``, ``loss_lower``,
        ``loss_upper``, ``p_best`` (probability of the lowest loss), ``expected_gap``
        (E[L - min over candidates], nats/token) and ``rank`` (by ``p_best``).

    Raises
    ------
    RunsTableError
        Invalid candidates or fewer than two.
    """
    needs = tuple(v for v in fit.law.variables if v != "unique_tokens")
    cand = validate_targets(candidates, needs=needs)
    if len(cand) < 2:
        raise RunsTableError("compare needs at least two candidate runs.")
    if "unique_tokens" in fit.law.variables and "unique_tokens" not in cand:
        cand["unique_tokens"] = cand["tokens"]
    rng = np.random.default_rng(fit.random_seed if random_seed is None else random_seed)
    dom = domain or (cand["domain"].dropna().iloc[0] if cand["domain"].notna().any() else None)
    draws = _loss_draws(fit, cand, dom, rng, new_run)
    best = draws.min(axis=1, keepdims=True)
    winner = draws.argmin(axis=1)
    lo, hi = interval(draws, prob)
    out = cand.copy()
    if "label" not in out:
        out.insert(0, "label", [f"N={n:.3g}, D={d:.3g}" for n, d in zip(out["params"], out["tokens"], strict=True)])
    out["domain"] = dom if dom is not None else fit.default_domain  # as predict shows it (never None)
    out["domain_kind"] = "fitted" if out["domain"].iloc[0] in fit.domains else "new_domain"
    out["loss_median"] = np.median(draws, 0)
    out["loss_lower"] = lo
    out["loss_upper"] = hi
    out["p_best"] = np.bincount(winner, minlength=len(cand)) / draws.shape[0]
    out["expected_gap"] = (draws - best).mean(axis=0)
    out["rank"] = out["p_best"].rank(ascending=False, method="min").astype(int)
    out.attrs["prob"] = prob
    return out
