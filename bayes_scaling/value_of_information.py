"""Floor 3. Which run to make next: preposterior value of information.

For each candidate run c (N_c, D_c) the question is how much it would narrow
the credible interval of the forecast at the target. Preposterior analysis
(Raiffa & Schlaifer 1961; Lindley 1956): simulate the candidate's loss from
the current posterior predictive, update the posterior with it, measure the
interval at the target, and average over simulations.

The update is done by **importance reweighting** of the existing posterior
draws: a draw s gets weight proportional to the likelihood of the simulated
loss under s (the same Student-t or normal noise on log loss as the model).
This needs no compilation and no refit, so ranking many candidates takes
seconds; the effective sample size of the weights is reported and a candidate
whose weights degenerate (ESS < ``min_ess``) is flagged (its estimate is then
optimistic) and ranks after the candidates with a measurable gain that are not.
Weighted interval ends use the inverted-CDF quantile (the method NumPy supports
with weights; :func:`bayes_scaling.intervals.interval`).

The estimate has a resolution: a candidate that barely informs the target (a run
far below the fitted ones, or one among hundreds like it) reads a few thousandths
of shrinkage of either sign that change with the seed (on the demo fit, a 10M
model read -0.014, -0.009 and -0.004 at seeds 0-2, with 3-11 effective draws).
Divided by a cheap run's compute, that noise would outrank every real gain per
FLOP, so a shrinkage below :data:`SHRINKAGE_RESOLUTION` of the width is not
counted as a gain (column ``measurable``) and ranks after those that are.

Tried as a fallback for degenerate weights (2026-12-05, not kept): the Bayes
linear adjustment (Goldstein & Wooff 2007, §3.1) of the log loss at the target
by the candidate's, ``Var - Cov^2 / (Var_c + sigma^2 (nu + 3) / (nu + 1))``, the
noise counted by the Student-t's Fisher information (Lange, Little & Taylor
1989). On the next-run benchmark (``benchmarks/bench_next_run.py``) it predicted
a mean width of 0.159 after the package's choice, where the refits gave 0.188
and the reweighting predicted 0.200: stable, but further off.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from ._text import listed, tokens_per_param_text
from ._warnings import warn_caller
from .data import RunsTableError, below_tokens_per_param, one_domain_of, validate_targets
from .intervals import interval
from .predict import assume_unique_tokens, domain_generator, draws_key, predictive_draws, warn_extrapolation

__all__ = ["next_run", "expected_width_after", "NEXT_RUN_COLUMNS", "RANK_BY", "SHRINKAGE_RESOLUTION", "MIN_SIMS"]

#: What each column of :func:`next_run` means, with its unit (printed by ``bayes-scaling next-run``).
NEXT_RUN_COLUMNS = {
    "flops": "training compute of the candidate, C = 6 N D (FLOPs)",
    "width_now": "width of the credible interval of the expected loss at the target today, relative to its median "
                 "(0.12 = the interval spans 12 % of the forecast loss)",
    "width_after": "the same width expected after the candidate run is made (relative, averaged over its simulated outcomes)",
    "shrinkage": "width_now - width_after (relative; 0.01 = the interval narrows by 1 % of the forecast loss)",
    "shrinkage_per_exaflop": "shrinkage per 1e18 FLOPs of the candidate's compute",
    "ess": "smallest effective sample size of the importance weights over the simulated outcomes (draws)",
    "ess_low": "True when ess is below 100: the reweighted posterior rests on few draws, so width_after is an "
               "optimistic estimate (the simulated run would say more than the draws can resolve: far from what the "
               "fit has seen, or a repeat of a run it pins down); such candidates rank after the others with a "
               "measurable gain",
    "shrinkage_se": "Monte Carlo standard error of shrinkage (the simulated outcomes' spread; more --n-sims lowers it)",
    "measurable": "True when shrinkage is at least 1 % of width_now (the estimate's resolution) and twice "
                  "shrinkage_se; below that, of either sign, it is noise; candidates without a measurable gain are "
                  "ranked after the others",
}

#: A shrinkage below this fraction of ``width_now`` is not told apart from none (column ``measurable``). The
#: reweighting's own bias is about 1 % of the width, which is why :func:`expected_width_after` measures
#: ``width_now`` with the same weighted quantiles; on the demo fit, candidates the target cannot learn from read
#: -0.014 to +0.0008 on a width of 0.194 (-7 % to +0.4 %), across seeds.
SHRINKAGE_RESOLUTION = 0.01

#: Student-t tail weight below which a fit's noise counts as heavy-tailed in next-run's warning about candidates that
#: widen the interval (the variance of a Student-t is infinite below 2; 4 is the weight robust regression usually
#: fixes, Lange, Little & Taylor 1989).
HEAVY_TAIL = 4.0

#: Fewest simulated outcomes per candidate :func:`next_run` accepts (a Monte Carlo error needs several).
MIN_SIMS = 2

#: Ranking orders of :func:`next_run`: the option names and the column each sorts by.
RANK_BY = {"per_flop": "shrinkage_per_exaflop", "absolute": "shrinkage",
           "shrinkage_per_exaflop": "shrinkage_per_exaflop", "shrinkage": "shrinkage"}


def _candidate_rng(seed: int, candidate: pd.DataFrame) -> np.random.Generator:
    """A generator for one candidate, fixed by the seed and the candidate's own sizes: the same candidate gets the same
    numbers whatever else is in the table (another candidate, a budget that drops some)."""
    sizes = np.array([float(candidate[c].iloc[0]) for c in ("params", "tokens", "flops", "unique_tokens")
                      if c in candidate and pd.notna(candidate[c].iloc[0])], dtype=np.float64)
    return np.random.default_rng([int(seed), *np.frombuffer(sizes.tobytes(), dtype=np.uint32).tolist()])


def _loglik(y: np.ndarray, mean: np.ndarray, sigma: np.ndarray, nu: np.ndarray) -> np.ndarray:
    if np.all(nu > 1e5):
        return stats.norm.logpdf(y, loc=mean, scale=sigma)
    return stats.t.logpdf(y, df=nu, loc=mean, scale=sigma)


def _weighted_width(draws: np.ndarray, log_w: np.ndarray, prob: float) -> tuple[float, float]:
    w = np.exp(log_w - log_w.max())
    w /= w.sum()
    ess = 1.0 / np.sum(w**2)
    lo, hi = interval(draws, prob, weights=w)
    return float(hi - lo), float(ess)


def expected_width_after(
    fit,
    candidate: pd.DataFrame,
    target: pd.DataFrame,
    domain: str,
    *,
    prob: float = 0.9,
    n_sims: int = 64,
    rng: np.random.Generator,
    domain_seed: int | None = None,
) -> dict:
    """Expected interval width at the target after observing one candidate run.

    Parameters
    ----------
    fit : ScalingFit
    candidate, target : DataFrame
        One row each (law variables).
    domain : str
    prob : float
    n_sims : int
        Simulated outcomes of the candidate.
    rng : numpy.random.Generator
        The simulated outcomes and the run-to-run noise.
    domain_seed : int, optional
        For a domain the fit has not seen: its parameters are drawn once from
        :func:`~bayes_scaling.predict.domain_generator` with this seed, for the candidate and the target alike (as
        predict draws them). Default: from ``rng``, once for both.

    Returns
    -------
    dict
        ``width_now``, ``width_after`` (mean over simulations, of the expected loss
        at the target, relative to its median), ``width_after_se`` (its Monte Carlo
        standard error: the simulations' standard deviation over sqrt(n_sims); NaN for
        one simulation), ``min_ess`` (smallest effective sample size of the importance
        weights).
    """
    # the candidate and the target under the same parameter draws: a new domain's were drawn twice, once for each, so
    # the reweighting by the candidate's outcome said nothing of the target, and width_now differed by candidate
    # (a fresh user's five candidates for one target had width_now 0.955-1.023)
    if domain in fit.domains:
        mean_c, new_c = predictive_draws(fit, candidate, domain, rng)
        mean_t, _ = predictive_draws(fit, target, domain, rng)
    else:
        state = (domain_generator(domain_seed, draws_key(fit, domain)) if domain_seed is not None
                 else np.random.default_rng(rng.integers(2**63)))
        shared = state.bit_generator.state
        mean_c, new_c = predictive_draws(fit, candidate, domain, state, row_rngs=[rng])
        state.bit_generator.state = shared
        mean_t, _ = predictive_draws(fit, target, domain, state, row_rngs=[rng])
    lt = np.exp(mean_t[:, 0])
    med = float(np.median(lt))
    # the width now uses the same (inverted-CDF) quantiles as the reweighted widths, with equal
    # weights, so that the method's own bias (~1 % of the width) does not pose as shrinkage
    width_now = _weighted_width(lt, np.zeros(lt.shape[0]), prob)[0] / med
    sigma = fit.noise_scale(domain) if domain in fit.domains else np.full(fit.n_draws, float(np.median(fit.noise_scales())))
    nu = fit.tail_weight(domain)
    sims = rng.choice(new_c.shape[0], size=n_sims, replace=False)
    widths, esses = [], []
    for s in sims:
        y = new_c[s, 0]
        lw = _loglik(y, mean_c[:, 0], sigma, nu)
        w, ess = _weighted_width(lt, lw, prob)
        widths.append(w / med)
        esses.append(ess)
    se = float(np.std(widths, ddof=1) / np.sqrt(len(widths))) if len(widths) > 1 else float("nan")
    return {"width_now": width_now, "width_after": float(np.mean(widths)), "width_after_se": se,
            "min_ess": float(np.min(esses))}


def next_run(
    fit,
    candidates,
    target,
    *,
    domain: str | None = None,
    budget: float | None = None,
    prob: float = 0.9,
    n_sims: int = 64,
    min_ess: float = 100.0,
    random_seed: int | None = None,
    rank_by: str = "shrinkage_per_exaflop",
) -> pd.DataFrame:
    """Rank candidate next runs by the expected shrinkage of the forecast interval (per FLOP by default).

    Parameters
    ----------
    fit : ScalingFit
    candidates : DataFrame or path
        Candidate runs: ``params`` and ``tokens`` (or ``flops``), optional ``label``.
    target : DataFrame, dict or path
        The run to forecast (first row used): ``params`` and ``tokens`` (or ``flops``).
    domain : str, optional
        Domain of the candidates and the target (default: the fit's own domain).
    budget : float, optional
        Compute budget in FLOPs; candidates costing more (C = 6 N D) are dropped.
    prob : float
        Interval probability.
    n_sims : int
        Simulated outcomes per candidate (preposterior average).
    min_ess : float
        Candidates whose importance weights fall below this effective sample size
        are flagged ``ess_low`` (their shrinkage is then an optimistic estimate).
    random_seed : int, optional
        Default: the fit's seed. Each candidate's simulations are seeded by the seed and its own
        sizes, so a candidate's numbers do not change when others are added or dropped (``budget``).
    rank_by : {"shrinkage_per_exaflop", "shrinkage", "per_flop", "absolute"}
        Rank by shrinkage per FLOP spent (default; ``per_flop``) or by shrinkage alone
        within the budget (``absolute``).

    Returns
    -------
    pandas.DataFrame
        One row per candidate, best first (those with a ``measurable`` shrinkage, at least
        :data:`SHRINKAGE_RESOLUTION` of ``width_now`` and twice its Monte Carlo error, before the
        others; among them, those whose weights do not degenerate, ``ess_low`` False, first): candidate
        columns, ``flops``,
        ``width_now`` and ``width_after`` (relative 90 % width of the expected
        loss at the target), ``shrinkage`` (= width_now - width_after),
        ``shrinkage_per_exaflop`` (shrinkage per 1e18 FLOPs), ``shrinkage_se``, ``ess``, ``ess_low``
        and ``measurable`` (see :data:`NEXT_RUN_COLUMNS`). Warns (UserWarning) when no candidate
        is measurable, when candidates' weights rest on few draws, and when ``budget`` leaves some out.

    Raises
    ------
    RunsTableError
        Invalid candidates/target, or no candidate within the budget.
    ValueError
        An unknown ``rank_by``, or ``n_sims`` below :data:`MIN_SIMS`.
    """
    if rank_by not in RANK_BY:
        raise ValueError(f"rank_by must be 'per_flop' or 'absolute' (or 'shrinkage_per_exaflop', 'shrinkage'), "
                         f"not '{rank_by}'.")
    if isinstance(n_sims, bool) or not isinstance(n_sims, (int, np.integer)) or n_sims < MIN_SIMS:
        raise ValueError(f"n_sims must be a whole number of at least {MIN_SIMS} (simulated outcomes per candidate; "
                         f"the estimate's Monte Carlo error needs several), got {n_sims!r}; the default is 64.")
    needs = tuple(v for v in fit.law.variables if v != "unique_tokens")
    # a candidate is a run to train: its cost needs N and D (or C), whatever the law reads
    cand = validate_targets(candidates, domains=fit.domains, needs=("params", "tokens"), what="candidates table",
                            domain_col=fit.domain_col)
    if isinstance(target, dict):
        target = pd.DataFrame([target])
    tgt = validate_targets(target, needs=needs, domain_col=fit.domain_col).iloc[[0]]
    assume_unique_tokens(fit, cand, "candidates", "rank")
    if "unique_tokens" in fit.law.variables and "unique_tokens" not in tgt:
        tgt["unique_tokens"] = tgt["tokens"]  # the big run, on unique data unless given (--target-unique-tokens)
    if "label" not in cand:  # one default label, for the ranking and for the candidates a budget leaves out
        cand.insert(0, "label", [f"N={n:.3g}, D={d:.3g}" for n, d in zip(cand["params"], cand["tokens"], strict=True)])
    if budget is not None:
        over = cand[cand["flops"] > budget]
        cand = cand[cand["flops"] <= budget]
        if cand.empty:
            raise RunsTableError(f"no candidate run fits the budget of {budget:g} FLOPs (C = 6 N D).")
        if len(over):  # a fresh user's candidates near the target vanished without a word
            names = over["label"].astype(str).tolist()
            warn_caller(f"{len(over)} candidate(s) cost more than the budget of {budget:g} FLOPs (C = 6 N D) and are "
                        f"left out: {'; '.join(names[:5])}{' and more' if len(names) > 5 else ''}.", UserWarning)
    dom = one_domain_of(cand, domain, "candidates", fit.domain_col) or fit.default_domain
    _warn_about_candidates(fit, cand, tgt, dom)
    # the target's own regime: beyond R_D* epochs or below the fit's tokens-per-parameter bound, as predict says (a
    # fresh user's target at 0.5 tokens per parameter was ranked for without a word); far beyond the runs is what a
    # next-run target is for, so that is not warned about here
    warn_extrapolation(fit, tgt.assign(domain=dom), "target", beyond_runs=False)
    seed = fit.random_seed if random_seed is None else random_seed
    rows = []
    for i in range(len(cand)):
        c = cand.iloc[[i]]
        res = expected_width_after(fit, c, tgt, dom, prob=prob, n_sims=n_sims, rng=_candidate_rng(seed, c),
                                   domain_seed=seed)
        rows.append(res)
    out = cand.copy().reset_index(drop=True)
    out["width_now"] = [r["width_now"] for r in rows]
    out["width_after"] = [r["width_after"] for r in rows]
    out["shrinkage"] = out["width_now"] - out["width_after"]
    out["shrinkage_se"] = [r["width_after_se"] for r in rows]
    out["shrinkage_per_exaflop"] = out["shrinkage"] / (out["flops"] / 1e18)
    out["ess"] = [r["min_ess"] for r in rows]
    out["ess_low"] = out["ess"] < min_ess
    # a gain is measurable above the method's resolution and twice its own Monte Carlo error (a fresh user saw
    # -0.038, +0.002, +0.0004, -0.036 for one candidate at seeds 0-3, and 1-4 simulations ranked noise first)
    out["measurable"] = ((out["shrinkage"] >= SHRINKAGE_RESOLUTION * out["width_now"])
                         & (out["shrinkage"] >= 2.0 * out["shrinkage_se"]))
    out["domain"] = dom
    # measurable gains first; among them, those whose estimate rests on enough draws (an estimate from one or two
    # reweighted draws is optimistic, and a fresh user's ess-1 candidate ranked first)
    out = (out.assign(_sound=~out["ess_low"])
              .sort_values(["measurable", "_sound", RANK_BY[rank_by]], ascending=False, kind="stable")
              .drop(columns="_sound").reset_index(drop=True))
    out.insert(0, "rank", np.arange(1, len(out) + 1))
    out.attrs["target"] = tgt.iloc[0].to_dict()
    out.attrs["prob"] = prob
    _warn_about_ranking(out, min_ess)
    _warn_about_tie(out, RANK_BY[rank_by])
    _warn_about_widening(out, float(np.median(fit.tail_weight(dom))) if dom in fit.domains else None)
    return out


def _warn_about_tie(out: pd.DataFrame, column: str) -> None:
    """Say when the first two measurable candidates are within twice the estimate's Monte Carlo error of each other.

    A fresh user's first-ranked run flipped between '411M x 20' and '154M x 20 (repeat)' over seeds 0-4, also at 512
    simulations: the two were a near tie (0.0033-0.0052 against 0.0037-0.0043 per exaFLOP at 256), which the table
    did not say.
    """
    # the first two of the same kind: a sound candidate ranked before one on few draws is not in a tie with it (its
    # gain is optimistic, and ranked lower by design: a fresh user was told two candidates 80x apart were a tie)
    top = out[out["measurable"]]
    top = top[top["ess_low"] == top["ess_low"].iloc[0]].head(2) if len(top) else top
    if len(top) < 2:
        return
    scale = top["flops"] / 1e18 if column == "shrinkage_per_exaflop" else pd.Series(1.0, index=top.index)
    value, se = top[column].to_numpy(float), (top["shrinkage_se"] / scale).to_numpy(float)
    if value[0] - value[1] < 2.0 * float(np.hypot(se[0], se[1])):
        a, b = (str(x) for x in top["label"])
        warn_caller(f"the first two candidates, '{a}' and '{b}', are within twice the estimate's Monte Carlo error of "
                    f"each other ({column} {value[0]:.3g} +- {se[0]:.2g} and {value[1]:.3g} +- {se[1]:.2g}): either is a "
                    "good next run, and their order can change with the seed; raise --n-sims (n_sims=) to tell them "
                    "apart.", UserWarning)


def _warn_about_widening(out: pd.DataFrame, tail_weight: float | None) -> None:
    """Say when candidates are expected to widen the target's interval by more than the estimate's noise.

    Not necessarily an error of the estimate: the expected posterior *variance* cannot grow, but the width of an
    interval can, when a heavy-tailed likelihood meets a result that is neither near the law nor clearly an outlier
    and leaves two readings of it (O'Hagan 1979, J. R. Stat. Soc. B 41:358); the likely cause, not one shown by
    experiment here, so for a light-tailed fit the warning asks for more simulations instead. A fresh user read such a candidate's
    ``measurable False`` as "noise" (datablations, tail weight 0.84: -0.0097 +- 0.0024 at 512 simulations).
    """
    wide = ((out["shrinkage"] <= -SHRINKAGE_RESOLUTION * out["width_now"])
            & (out["shrinkage"] <= -2.0 * out["shrinkage_se"]))
    if not wide.any():
        return
    names = listed((repr(str(x)) for x in out.loc[wide, "label"]), 3)
    if tail_weight is not None and tail_weight < HEAVY_TAIL:
        why = (f"this fit's noise is heavy-tailed (tail weight {tail_weight:.2g}): a result that is neither near the "
               "law nor clearly an outlier leaves two readings of it (an outlier, or the law bends there), and the "
               "interval widens; such a run would not settle the forecast")
    else:
        why = ("this fit's noise is not heavy-tailed, so check it with more --n-sims (n_sims=) before reading it as "
               "a real widening")
    warn_caller(f"{int(wide.sum())} candidate(s) ({names}) are expected to widen the interval at the target, by more "
                f"than twice the estimate's Monte Carlo error (shrinkage below zero); {why}.", UserWarning)


def _warn_about_candidates(fit, cand: pd.DataFrame, tgt: pd.DataFrame, dom: str) -> None:
    """Say which candidates are no pilot: as costly as the target run, trained on fewer tokens per parameter than a
    refit keeps (``fit.min_tokens_per_param``), or a repeat of a run already made (a fresh user's 50B x 1T candidate,
    3e23 FLOPs against a 1e22 target, ranked second without a word)."""
    c_target = 6.0 * float(tgt["params"].iloc[0]) * float(tgt["tokens"].iloc[0]) if "tokens" in tgt else None
    if c_target is not None:
        big = cand[cand["flops"] >= c_target]
        if len(big):
            warn_caller(f"{len(big)} candidate(s) cost as much as the target run or more ({c_target:.3g} FLOPs): "
                        f"{listed(big['label'].astype(str), 3)}; a run that large is no pilot, training the target "
                        "itself answers the question.", UserWarning)
    bound = fit.min_tokens_per_param
    under = cand[below_tokens_per_param(cand, bound)]
    if len(under):  # a refit leaves such a run out, so it cannot narrow the forecast (a fresh user's 0.5-token pilot)
        warn_caller(f"{len(under)} candidate(s) train on fewer than {tokens_per_param_text(bound)}: "
                    f"{listed(under['label'].astype(str), 3)}; a refit with this fit's settings leaves such "
                    "runs out (min_tokens_per_param, --min-tokens-per-param), so the shrinkage shown for them would not "
                    "happen.", UserWarning)
    runs = fit.runs[fit.runs["domain"] == dom] if dom in fit.domains else fit.runs.iloc[:0]
    if len(runs) and {"params", "tokens"} <= set(runs):
        made = {(round(float(n), -3), round(float(d), -3)) for n, d in zip(runs["params"], runs["tokens"], strict=True)}
        same = [str(lab) for lab, n, d in zip(cand["label"], cand["params"], cand["tokens"], strict=True)
                if (round(float(n), -3), round(float(d), -3)) in made]
        if same:
            warn_caller(f"{len(same)} candidate(s) repeat a run already made: {listed(same, 3)}; a repeat measures the "
                        "run-to-run noise, not the law.", UserWarning)


def _warn_about_ranking(out: pd.DataFrame, min_ess: float) -> None:
    """What a ranking cannot tell, said by :func:`next_run` itself (the CLI showed it, a notebook did not)."""
    if not out["measurable"].any():  # e.g. a rich fit whose target interval is the model-form error beyond the runs
        warn_caller(f"no candidate narrows the interval at the target measurably (by {100 * SHRINKAGE_RESOLUTION:g} % "
                    f"of its width, width_now {out['width_now'].iloc[0]:.3g}, and by twice the estimate's Monte Carlo "
                    "error): one more run of these sizes would not change this forecast measurably, so the ranking "
                    "says nothing; try candidates nearer the target.", UserWarning)
    # no "refit with more draws": a fresh user's refit with 4x the draws left 4 of 5 candidates at low ess (one went
    # from 390 to 102): such a run would pin the forecast more tightly than any affordable number of draws can show
    elif out["ess_low"].all():
        warn_caller(f"every candidate's width_after rests on few posterior draws (ess below {min_ess:g}; at most "
                    f"{out['ess'].max():.3g}): each of these runs would pin the forecast more tightly than the fit's "
                    "draws can show, so the shrinkage is optimistic and the order can change with the seed; read them "
                    "as large gains of uncertain size, not as a ranking.", UserWarning)
    elif bool(out["ess_low"].iloc[0]):  # a fresh user's first-ranked candidate rested on one draw (ess 1-3)
        warn_caller(f"the first-ranked candidate's width_after rests on few posterior draws (ess "
                    f"{out['ess'].iloc[0]:.3g}): an optimistic estimate; prefer a candidate with ess_low False.",
                    UserWarning)
    elif out["ess_low"].any():  # 3 of 4 candidates at ess 1-15 reordered between seeds, without a word (a fresh user)
        warn_caller(f"{int(out['ess_low'].sum())} of {len(out)} candidates' width_after rest on few posterior draws "
                    "(ess_low True): their shrinkage is optimistic and their rank can change with --seed; rank by "
                    "those with ess_low False.", UserWarning)
