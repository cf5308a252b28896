"""Floor 1. Convergence diagnostics with ArviZ, reported in plain words.

Thresholds follow Vehtari et al. (2021), *Rank-normalization, folding, and
localization: an improved R-hat*, Bayesian Analysis 16(2): rank R-hat <= 1.01
and bulk and tail ESS >= 100 per chain (400 for 4 chains). Any divergent
transition is reported (Betancourt 2017).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import arviz as az
import numpy as np
import pandas as pd
import xarray as xr

from ._warnings import warn_caller

__all__ = ["Diagnostics", "ConvergenceWarning", "SamplingError", "check_convergence", "RHAT_MAX", "ESS_MIN_PER_CHAIN",
           "TREEDEPTH_HIT_MAX", "DIVERGENT_MAX"]

RHAT_MAX = 1.01
ESS_MIN_PER_CHAIN = 100
#: Fraction of draws at the maximum tree depth above which it is reported (Stan reports any;
#: here the one-domain default depth is 6, so a few hits are expected and harmless).
TREEDEPTH_HIT_MAX = 0.05
#: Fraction of divergent draws from which they are reported as a problem (0.2 %: 8 of 4000 draws). Stan
#: reports any divergence; a handful among thousands of draws, at the thin end of a well-mixed posterior,
#: changes no interval measurably, while a systematic problem shows far more (hundreds in the
#: 24-domain fit of bayes_scaling 0.1). The count is always recorded in :class:`Diagnostics`.
DIVERGENT_MAX = 0.002


class ConvergenceWarning(UserWarning):
    """The sampler did not converge well; the message says what it means and what to try."""

    #: The advice names Python settings (``target_accept=0.95``) that the CLI shows as its own flags.
    cli_flags = True


class DownstreamConvergenceWarning(ConvergenceWarning):
    """A downstream fit (:func:`bayes_scaling.downstream.fit_downstream`) did not pass its sampling checks.

    Its advice names settings of ``fit_downstream``, which only Python can change (no command of the CLI fits
    a downstream stage), so the CLI shows them as they are, not as flags."""

    cli_flags = False


class SamplingError(RuntimeError):
    """Raised instead of :class:`ConvergenceWarning` when a fit is run with ``strict=True``."""


@dataclass
class Diagnostics:
    """Convergence summary of a fit.

    Attributes
    ----------
    ok : bool
        True when every check passed.
    max_rhat : float
    min_ess_bulk, min_ess_tail : float
    divergences : int
    n_draws : int
        Total posterior draws (chains x draws).
    treedepth_hits : int
        Draws whose NUTS tree reached the maximum depth (an efficiency concern, not a
        validity one; reported as a problem above :data:`TREEDEPTH_HIT_MAX` of the draws).
    problems : list of str
        One plain-language sentence per failed check, with the action to take.
    table : pandas.DataFrame
        Per-variable ``r_hat``, ``ess_bulk``, ``ess_tail`` (worst element of each variable).
    """

    ok: bool
    max_rhat: float
    min_ess_bulk: float
    min_ess_tail: float
    divergences: int
    n_draws: int
    problems: list[str] = field(default_factory=list)
    table: pd.DataFrame | None = None
    treedepth_hits: int = 0

    @property
    def rhat_text(self) -> str:
        """``max_rhat`` for messages: 3 decimals, more when they would hide that it exceeds :data:`RHAT_MAX`
        (a fresh user read "max R-hat 1.010 ... flagged problems" for 1.0103)."""
        if np.isfinite(self.max_rhat) and self.max_rhat > RHAT_MAX:
            return _above(self.max_rhat, RHAT_MAX)
        return f"{self.max_rhat:.3f}"

    def report(self, strict: bool = False) -> None:
        """Say the failed checks as :func:`check_convergence` does: one :class:`ConvergenceWarning` listing them, or
        with ``strict`` a :class:`SamplingError`; nothing when every check passed.

        Raises
        ------
        SamplingError
            With ``strict=True`` when any check failed.
        """
        if self.problems:
            msg = "Sampling problems: " + " ".join(self.problems)
            if strict:
                raise SamplingError(msg)
            warn_caller(msg, ConvergenceWarning)

    def to_dict(self) -> dict:
        """JSON-serialisable form."""
        return {
            "ok": bool(self.ok),
            "max_rhat": float(self.max_rhat),
            "min_ess_bulk": float(self.min_ess_bulk),
            "min_ess_tail": float(self.min_ess_tail),
            "divergences": int(self.divergences),
            "n_draws": int(self.n_draws),
            "treedepth_hits": int(self.treedepth_hits),
            "problems": list(self.problems),
        }

    @classmethod
    def from_dict(cls, d: dict) -> Diagnostics:
        """Inverse of :meth:`to_dict` (without the table)."""
        return cls(
            bool(d["ok"]),
            float(d["max_rhat"]),
            float(d["min_ess_bulk"]),
            float(d["min_ess_tail"]),
            int(d["divergences"]),
            int(d["n_draws"]),
            list(d.get("problems", [])),
            treedepth_hits=int(d.get("treedepth_hits", 0)),
        )


def _above(value: float, limit: float) -> str:
    """``value`` with enough decimals to show it exceeds ``limit`` (1.0103 vs 1.01 prints 1.0103, not 1.010)."""
    for digits in (3, 4, 5, 6):
        text = f"{value:.{digits}f}"
        if float(text) > limit:
            return text
    return f"{value:.6g}"


def _worst(tree: xr.DataTree, fn, var_names, reduce) -> tuple[dict[str, float], list[str]]:
    """Worst finite value of a statistic per variable, and the variables where it is not finite anywhere."""
    res = fn(tree, var_names=var_names)
    if isinstance(res, xr.DataTree):
        ds = res["posterior"].to_dataset() if "posterior" in res.children else res.to_dataset()
    else:
        ds = res
    out, nonfinite = {}, []
    for k, v in ds.data_vars.items():
        vals = np.asarray(v.values, float).ravel()
        if not np.isfinite(vals).all():
            nonfinite.append(k)
        vals = vals[np.isfinite(vals)]
        out[k] = float(reduce(vals)) if vals.size else float("nan")
    return out, nonfinite


def check_convergence(
    posterior: xr.DataTree,
    var_names: list[str],
    *,
    strict: bool = False,
    bound_checks: dict[str, tuple[float, float]] | None = None,
    target_accept: float | None = None,
    hierarchical: bool | None = None,
    describe=None,
    setting: str = "{}",
    prior_advice: bool = True,
) -> Diagnostics:
    """Compute R-hat, bulk/tail ESS and divergences and report problems once.

    Parameters
    ----------
    posterior : xarray.DataTree
        With groups ``posterior`` (dims ``chain``, ``draw``) and optionally ``sample_stats``.
    var_names : list of str
        Variables to check (free parameters of the model).
    strict : bool, default False
        Raise :class:`SamplingError` instead of warning.
    bound_checks : dict, optional
        ``{name: (lower, upper)}`` of natural bounds; a posterior with more than 5 %
        of its mass beyond one is reported as pressed against the bound.
    target_accept : float, optional
        The sampler's target acceptance rate, so that the advice on divergences
        names a higher one (0.95, then 0.99) rather than the one already used.
    hierarchical : bool, optional
        Whether the model has several domains (kept for callers; the advice no longer depends on it).
    describe : callable, optional
        ``describe(variable name) -> str``: what a variable is in the law's words
        (:meth:`bayes_scaling.model.PosteriorNames.describe`), used in the messages.
    setting : str, default "{}"
        How the advice names sampler settings: ``setting.format("draws=2000, tune=2000")``. The
        scaling-law fit takes them as keywords (the default); :func:`bayes_scaling.downstream.fit_downstream`
        passes ``"fit_downstream(..., sampler=SamplerConfig({}))"``.
    prior_advice : bool, default True
        Whether "use a more informative prior" is advice the caller can follow (not for a
        downstream fit, which has no prior to choose).

    Returns
    -------
    Diagnostics

    Raises
    ------
    SamplingError
        With ``strict=True`` when any check fails.

    Warns
    -----
    ConvergenceWarning
        One warning listing every failed check, in plain words.
    """
    post = posterior["posterior"]
    n_chains = post.sizes["chain"]
    n_draws = post.sizes["chain"] * post.sizes["draw"]
    names = [v for v in var_names if v in post.data_vars]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rhat, bad_r = (
            _worst(posterior, lambda t, var_names: az.rhat(t, var_names=var_names), names, np.max)
            if n_chains > 1
            else ({}, [])
        )
        essb, bad_b = _worst(posterior, lambda t, var_names: az.ess(t, var_names=var_names, method="bulk"), names, np.min)
        esst, bad_t = _worst(posterior, lambda t, var_names: az.ess(t, var_names=var_names, method="tail"), names, np.min)
    # a statistic that cannot be computed (NaN: draws that never move, or non-finite draws) is a failure, not a pass
    stuck = [n for n in names if n in set(bad_r) | set(bad_b) | set(bad_t)]
    for n in names:
        v = np.asarray(post[n].values, float).reshape(n_draws, -1)
        if n not in stuck and v.size and (not np.isfinite(v).all() or (v.max(0) == v.min(0)).any()):
            stuck.append(n)  # non-finite draws, or an element that never moved (one chain: R-hat cannot tell)
    table = pd.DataFrame(
        {"r_hat": pd.Series(rhat, dtype=float), "ess_bulk": pd.Series(essb, dtype=float), "ess_tail": pd.Series(esst, dtype=float)}
    ).reindex(names)
    div = 0
    if "sample_stats" in posterior.children and "diverging" in posterior["sample_stats"].data_vars:
        div = int(np.asarray(posterior["sample_stats"]["diverging"].values).sum())
    hits = 0
    if "sample_stats" in posterior.children:
        ss = posterior["sample_stats"]
        for key in ("maxdepth_reached", "reached_max_treedepth"):  # nutpie, PyMC
            if key in ss.data_vars:
                hits = int(np.asarray(ss[key].values, bool).sum())
                break
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns: reported as 'stuck' below
        max_rhat = float(np.nanmax(table["r_hat"])) if n_chains > 1 and len(table) else float("nan")
        min_b = float(np.nanmin(table["ess_bulk"])) if len(table) else float("nan")
        min_t = float(np.nanmin(table["ess_tail"])) if len(table) else float("nan")
    need = ESS_MIN_PER_CHAIN * n_chains
    problems = []

    def named(n):
        text = describe(n) if describe is not None else n
        return f"{text} ('{n}')" if text != n else f"'{n}'"

    prior = " or use a more informative prior" if prior_advice else ""
    if div >= DIVERGENT_MAX * n_draws:
        higher = next((setting.format(f"target_accept={t}") + ", " for t in (0.95, 0.99)
                       if target_accept is None or target_accept < t), "")
        problems.append(
            f"{div} divergent transition{'s' if div != 1 else ''}: the sampler could not follow the posterior "
            f"everywhere, so intervals may be wrong. Try {higher}{'a more informative prior, ' if prior_advice else ''}"
            "or check the runs for outliers."
        )
    if stuck:
        problems.append(
            f"the draws of {', '.join(named(n) for n in stuck[:3])} do not move (a stuck sampler) or are not finite, "
            "so R-hat and effective sample size are meaningless and the posterior is not usable. "
            f"Run more warm-up draws ({setting.format('tune=2000')}), check the runs for errors"
            + (", or use a more informative prior." if prior_advice else ".")
        )
    if n_chains > 1 and max_rhat > RHAT_MAX:
        worst = table["r_hat"].idxmax()
        # twice the draws this fit had (a retried fit already had 2000 or more), and with a few divergent draws a
        # higher target acceptance too: more draws alone then crossed the divergence limit, and a fresh user
        # needed three reruns to find the settings
        more = max(2000, 2 * (n_draws // max(n_chains, 1)))
        calmer = ""
        if 0 < div < DIVERGENT_MAX * n_draws:
            t = next((t for t in (0.95, 0.99) if target_accept is None or target_accept < t), None)
            calmer = f" and {setting.format(f'target_accept={t}')} ({div} draws diverged)" if t else ""
        problems.append(
            f"R-hat is {_above(max_rhat, RHAT_MAX)} for {named(worst)} (should be <= {RHAT_MAX}): the chains disagree, "
            f"so the posterior is not reliable. Run more draws ({setting.format(f'draws={more}, tune={more}')})"
            f"{calmer}{prior}."
        )
    if min_b < need or min_t < need:
        worst = table["ess_bulk"].idxmin() if min_b < need else table["ess_tail"].idxmin()
        # as many draws as the effective sample size asks for, with a margin: "draws=2000" was advised to a fit that
        # had already drawn 2000 per chain after its automatic retry (a fresh user)
        per_chain = n_draws // max(n_chains, 1)
        asked = int(np.ceil(1.25 * per_chain * need / max(min(min_b, min_t), 1.0) / 500.0)) * 500
        more_ess = max(2000, min(asked, 4 * per_chain))  # at most 4x: a far lower ESS is a mixing problem (R-hat)
        problems.append(
            f"effective sample size is {min(min_b, min_t):.0f} for {named(worst)} (should be >= {need}): "
            f"interval ends are noisy. Run more draws ({setting.format(f'draws={more_ess}')})."
        )
    if hits > TREEDEPTH_HIT_MAX * n_draws:
        problems.append(
            f"{hits} of {n_draws} draws hit the maximum tree depth: the sampler took its longest allowed "
            "trajectories, so it explores slowly. Raise max_treedepth (SamplerConfig(max_treedepth=10))."
        )
    for name, (lo, hi) in (bound_checks or {}).items():
        if name not in post.data_vars:
            continue
        v = np.asarray(post[name].values, float).reshape(n_draws, -1)
        frac = np.maximum((v < lo).mean(0), (v > hi).mean(0)).max()
        if frac > 0.05:
            problems.append(
                f"the posterior of '{name}' has {frac:.0%} of its mass outside its plausible range "
                f"[{lo:g}, {hi:g}]: the runs do not constrain it. Add runs over a wider range of sizes or use a "
                "published prior."
            )
    ok = not problems
    diag = Diagnostics(ok, max_rhat, min_b, min_t, div, n_draws, problems, table, hits)
    diag.report(strict)
    return diag
