"""Floor 2. Posterior predictive forecasts of loss, computed from the draws with NumPy.

No PyTensor graph is compiled here: the laws are pure functions
(:mod:`bayes_scaling.laws`) and the discrepancy basis is evaluated in NumPy
(:mod:`bayes_scaling.discrepancy`), so a forecast on thousands of targets takes
milliseconds.

Two intervals are reported for each target:

* the **expected loss** (``mean_loss_*``): uncertainty of the law's parameters and
  of the discrepancy term; what the loss curve of that configuration would be
  without run-to-run noise;
* a **new run** (``loss_*``): the expected loss plus the fitted run-to-run noise
  (Student-t on log loss), i.e. what one training run at that size reaches.

For a domain the fit has not seen, the *population predictive* is used: new
domain parameters are drawn around the population mean with the fitted
between-domain spread, and a noise scale from the fitted noise population
(:meth:`ScalingFit.new_domain_draws <bayes_scaling.posterior.ScalingFit.new_domain_draws>`).

Every function takes the fit as an argument and reads it through its public
accessors only.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
from scipy import stats

from ._text import listed, tokens_per_param_text
from ._warnings import warn_caller
from .data import (DOMAINS_CHECKED, RunsTableError, RunsTableWarning, below_tokens_per_param, epochs_column,
                   validate_targets, warn_unseen_domain)
from .intervals import check_prob, interval, level_label, thin_tails

__all__ = ["predict", "refuse_blank_domains", "forecast_column_legend", "predictive_draws", "discrepancy_draws", "prepare_targets", "assume_unique_tokens", "ExtrapolationWarning", "BelowBoundWarning", "RUN_NOISE_CLIP",
           "EXTRAPOLATION_FACTOR", "BELOW_RUNS_FACTOR", "FORECAST_COLUMNS", "domain_generator", "row_generators", "keyed_predictive_draws",
           "draws_key", "domain_draws", "UNSEEN_DOMAIN_KEY",
           "MANY_EPOCHS", "warn_extrapolation", "FORECAST_MIN_TAIL_WEIGHT"]

#: Targets beyond this multiple of the largest fitted run (in N or D) get an :class:`ExtrapolationWarning`.
#: The published laws were fitted over about 2-3 decades and checked about 1-1.5 decades beyond
#: (Hoffmann et al. 2022, Fig. 3; Besiroglu et al. 2024); three decades is far beyond any such check.
EXTRAPOLATION_FACTOR = 1000.0

#: Targets below the smallest fitted run by more than this factor (in N or D) get an :class:`ExtrapolationWarning`:
#: the model-form error (:mod:`bayes_scaling.extrapolation`) is learned from, and added to, forecasts beyond the
#: largest runs only, so below the runs the interval is the law's parameter uncertainty alone. One decade, a round
#: number chosen before any data was looked at (not fitted): a decade below, as beyond, the runs no longer check
#: the law's form.
BELOW_RUNS_FACTOR = 10.0


#: The forecast columns every forecaster adds to the targets (nats/token): one new run (noise included) and
#: the expected loss; shared with the baselines (:data:`bayes_scaling.baselines.FORECAST_COLUMNS`).
FORECAST_COLUMNS = ("loss_median", "loss_lower", "loss_upper", "mean_loss_median", "mean_loss_lower", "mean_loss_upper")


def extra_forecast_columns(extra_probs) -> tuple[str, ...]:
    """The columns :func:`predict` adds for ``extra_probs``: ``loss_lower_50``, ``loss_upper_50``,
    ``mean_loss_lower_50``, ``mean_loss_upper_50`` for 0.5, and so on, in the order given."""
    return tuple(f"{c}_{level_label(p)}" for p in extra_probs
                 for c in ("loss_lower", "loss_upper", "mean_loss_lower", "mean_loss_upper"))


def forecast_column_legend(prob: float = 0.9, extra_probs=()) -> dict[str, str]:
    """What the columns of :func:`predict` mean, for the legend under its printed table (``bayes-scaling predict``;
    a fresh user found legends under compare, risk and next-run, and none under predict).

    Parameters
    ----------
    prob : float
        The interval probability.
    extra_probs : sequence of float, default ()
        Further levels (:func:`predict`'s ``extra_probs``), whose columns are explained too.

    Returns
    -------
    dict of str
        Column name -> meaning, for :data:`FORECAST_COLUMNS`, the columns of ``extra_probs`` and ``domain_kind``.
    """
    extra = {}
    for p in extra_probs:
        label = level_label(p)
        extra |= {f"loss_lower_{label}": f"lower end of the one-run {label}% credible interval",  # 99.9%, not 100%
                  f"loss_upper_{label}": f"upper end of the one-run {label}% credible interval",
                  f"mean_loss_lower_{label}": f"lower end of the expected loss's {label}% credible interval",
                  f"mean_loss_upper_{label}": f"upper end of the expected loss's {label}% credible interval"}
    return {
        "loss_median": "median forecast of the loss of one new training run at the target, nats/token (run-to-run "
                       "noise included: what one run will show)",
        "loss_lower": f"lower end of its {prob:.0%} credible interval (never inside the expected loss's: where the "
                      "run-to-run noise is small beside the law's uncertainty the two ends are equal)",
        "loss_upper": f"upper end of its {prob:.0%} credible interval (likewise)",
        "mean_loss_median": "median of the expected loss at the target: the law with its discrepancy term and the "
                            "model-form error beyond the runs, without one run's noise, nats/token",
        "mean_loss_lower": f"lower end of its {prob:.0%} credible interval",
        "mean_loss_upper": f"upper end of its {prob:.0%} credible interval",
        **extra,
        "domain_kind": "fitted: a domain of the runs; new_domain: one the fit has not seen (the forecast for a new "
                       "domain, wider)",
    }


class ExtrapolationWarning(UserWarning):
    """A forecast far beyond the fitted runs: it rests on the law's form, not on data."""


class BelowBoundWarning(ExtrapolationWarning):
    """Targets trained on fewer tokens per parameter than the fit's bound (:func:`below_bound_text`).

    Carries what it states, so that a caller gathering the warnings of several domains can say them
    once (:func:`bayes_scaling.workflow.domain_frontiers`) without reading its text back.

    Attributes
    ----------
    count : int
        Number of targets below the bound.
    noun : str
        What they are ("target", "compute-optimal run").
    lowest : float
        The lowest tokens per parameter among them.
    """

    def __init__(self, count: int, noun: str, bound: float, lowest: float, where: str = ""):
        super().__init__(below_bound_text(count, noun, bound, lowest, where))
        self.count, self.noun, self.lowest = int(count), str(noun), float(lowest)


#: Epochs (D / U) beyond which a data-constrained forecast is warned about: R_D* = 15.4, the published decay
#: constant of the value of repeated tokens (Muennighoff et al. 2023, the datablations README's parametric fit;
#: ``priors`` catalog ``muennighoff2023``). Beyond it more epochs add almost nothing in the law, while large models
#: can over-fit (the loss rises with more epochs), which the law does not model: in the datablations backtest
#: (fit N < 2B) 12 of the 13 runs outside their 90 % interval were at 30-460 epochs, forecast 14-67 % too low.
MANY_EPOCHS = 15.4


def _fitted_rd_star(fit, t: pd.DataFrame) -> str:
    """``"; this fit's R_D* for 'dom': 26.6 (90 % interval 22-33)"`` when the rows are of one fitted domain, else ''.

    The epochs warning's threshold stays the published constant (the over-fitted runs were found beyond it), but a
    fresh user read the fit's own R_D* of 26.6 in the report and the warning's 15.4 as two answers to one question."""
    doms = pd.unique(t["domain"]) if "domain" in t else []
    if len(doms) != 1 or doms[0] not in fit.domains:
        return ""
    p = fit.parameters(domain=doms[0]).set_index("parameter")
    if "RD_star" not in p.index:
        return ""
    r = p.loc["RD_star"]
    own = fit.own_domains  # one domain: not its internal name ('default')
    whose = "this fit's own R_D*" if len(own) == 1 else f"this fit's own R_D* for '{doms[0]}'"
    return f"; {whose}: {r['median']:.3g}, 90 % interval {r['lower']:.3g}-{r['upper']:.3g}"


def warn_extrapolation(fit, t: pd.DataFrame, noun: str = "target", beyond_runs: bool = True) -> None:
    """Warn about rows of ``t`` whose forecast rests on the law's form more than on the runs.

    Three cases, each one :class:`ExtrapolationWarning` naming how many rows and how far: a data-constrained
    fit's rows beyond :data:`MANY_EPOCHS` epochs (``tokens / unique_tokens``), rows more than
    :data:`EXTRAPOLATION_FACTOR` times beyond the largest run in one of the law's size variables, and rows more
    than :data:`BELOW_RUNS_FACTOR` times below the smallest one (no model-form error is added there).
    Used by :func:`predict`, :func:`bayes_scaling.decisions.compare` and ``frontier``.

    Parameters
    ----------
    fit : ScalingFit
    t : DataFrame
        Rows with the law's variables (``unique_tokens`` optional).
    noun : str, default "target"
        What a row is, in the warning ("candidate", "compute-optimal run").
    beyond_runs : bool, default True
        Also warn about rows far beyond the largest run or below the smallest (off: the epochs only).
    """
    if "unique_tokens" in fit.law.variables and "unique_tokens" in t and "tokens" in t:
        epochs = t["tokens"].to_numpy(float) / t["unique_tokens"].to_numpy(float)
        many = epochs > MANY_EPOCHS
        if many.any():
            sizes = [(k, t[c].to_numpy(float)) for k, c in (("N", "params"), ("D", "tokens"), ("U", "unique_tokens"))
                     if c in t]
            rows = listed((", ".join(f"{k} {v[j]:.3g}" for k, v in sizes) + f" ({epochs[j]:.3g} epochs)"
                           for j in np.argsort(-epochs, kind="stable") if many[j]), 3, "; ")
            warn_caller(
                f"{int(many.sum())} {noun}(s) repeat their data more than {MANY_EPOCHS:g} times (up to "
                f"{epochs[many].max():.3g} epochs = tokens / unique_tokens; most repeated first: {rows}): beyond the "
                f"published R_D* = {MANY_EPOCHS:g} "
                f"epochs (Muennighoff et al. 2023{_fitted_rd_star(fit, t)}) more repetition adds little in the "
                "data-constrained law, and large "
                "models can over-fit there (the loss rises with more epochs), which the law does not model; such runs "
                "can land far above the interval.", ExtrapolationWarning)
    bound = fit.min_tokens_per_param
    # below the runs a domain kept under the bound, if any (undertrained_error's bound): above them it was fitted
    under = below_tokens_per_param(t, fit.undertrained.bound if fit.undertrained.active else bound)
    if under.any():
        tpp = t["tokens"].to_numpy(float) / t["params"].to_numpy(float)
        warn_caller(BelowBoundWarning(int(under.sum()), noun, bound, float(tpp[under].min())))
    if not beyond_runs:
        return
    # measured from the runs behind each row's forecast (ScalingFit.own_runs, as the model-form error is): its
    # domain's own runs, or all the user's runs for a new domain, never the reference runs (a fresh user's 1e25-FLOP
    # optimum, 2,900x their largest run in N, got no warning because the Chinchilla reference runs are larger)
    doms = list(t["domain"]) if "domain" in t else [None] * len(t)
    behind = {d: fit.own_runs(d) for d in dict.fromkeys(doms)}
    for v in fit.law.size_variables:  # the law's own inputs (flops only for a law in C)
        if v not in t or v not in fit.runs:
            continue
        span = np.array([(float(behind[d][v].min()), float(behind[d][v].max())) for d in doms]).reshape(len(t), 2)
        x = t[v].to_numpy(float)
        ratio = x / span[:, 1]
        far = ratio > EXTRAPOLATION_FACTOR
        if far.any():
            j = int(np.argmax(np.where(far, ratio, -np.inf)))
            largest, top = float(span[j, 1]), float(x[j])
            warn_caller(
                f"{int(far.sum())} {noun}(s) lie more than {EXTRAPOLATION_FACTOR:.0f}x beyond the largest run in "
                f"'{v}' (largest run {largest:.3g}, target up to {top:.3g}, {np.log10(top / largest):.1f} decades): "
                "the forecast rests on the law's form alone; treat its interval as a lower bound on the uncertainty.",
                ExtrapolationWarning,
            )
        below = span[:, 0] / x
        low = below > BELOW_RUNS_FACTOR
        if low.any():
            j = int(np.argmax(np.where(low, below, -np.inf)))
            smallest, bottom = float(span[j, 0]), float(x[j])
            warn_caller(
                f"{int(low.sum())} {noun}(s) lie more than {BELOW_RUNS_FACTOR:.0f}x below the smallest run in '{v}' "
                f"(smallest run {smallest:.3g}, {noun} down to {bottom:.3g}, {np.log10(smallest / bottom):.1f} "
                "decades): the model-form error is added only beyond the largest runs, so there the interval is the "
                "law's parameter uncertainty alone and the law's form there is not checked by any run; a run near that "
                "size would check it.",
                ExtrapolationWarning,
            )


def discrepancy_draws(fit, domain: str, x: dict[str, np.ndarray], paired: bool = False,
                      draws: np.ndarray | None = None, coefficients: np.ndarray | None = None) -> np.ndarray:
    """Draws of a domain's model discrepancy (log loss) at centred log inputs, shape (S, n).

    The fitted GP inside the runs' range; beyond it, its value on the edge of the range
    (:meth:`DiscrepancyBasis.clip_to_runs`), while the uncertainty that grows beyond the runs is
    :meth:`ScalingFit.extrapolation_error`. Zero for a domain without a discrepancy term. With
    ``paired=True`` the inputs have one point per draw (each (S,)) and the result is (S,): draw s at
    point s. ``draws`` (indices) keeps those posterior draws only (then S is their number).
    ``coefficients`` (S, m), the domain's :meth:`ScalingFit.discrepancy_coefficients` (of ``draws`` only, if
    given), computed once by a caller that evaluates the term at many inputs (an optimiser's objective: the
    report's per-domain frontier figure evaluated them 780 times, 6 s of its 40 s).
    """
    n = len(np.atleast_1d(next(iter(v for k, v in x.items() if not k.startswith("_")))))
    if domain not in fit.bases:
        s = fit.n_draws if draws is None else len(draws)
        return np.zeros(n) if paired else np.zeros((s, n))
    basis = fit.bases[domain]
    psi = basis.psi(fit.law, basis.clip_to_runs(x))
    if coefficients is not None:
        coef = coefficients
    else:
        coef = fit.discrepancy_coefficients(domain)
        if draws is not None:
            coef = coef[draws]
    if paired:
        return np.einsum("sm,sm->s", coef, psi)
    return coef @ psi.T


#: Largest run-to-run deviation of a new run's log loss that :func:`predictive_draws` draws (a factor e^20 ~ 5e8
#: in loss): Student-t draws beyond it are set to it, so that exp() of the draws stays finite.
RUN_NOISE_CLIP = 20.0


#: The smallest Student-t tail weight a forecast's run-to-run noise uses (the fit's own is unchanged). Below 1
#: (heavier than a Cauchy) the noise has no mean even in log loss, and the fitted weight is set by the few most
#: extreme runs (diverged, over-fitted: datablations learns 0.84 from runs at up to 10.9 nats where the law says
#: 3.6). ``bench_backtest.py`` (seed 0): Chinchilla, OpenLM and routing unchanged; datablations (N >= 2B) mean
#: one-run width 0.279 -> 0.199, 90 % coverage 0.787 -> 0.754 (2 more of 61 outside), pooled 0.914 -> 0.902; on
#: its 21 runs of largest D (the kind of split of the unseen Muennighoff benchmark of issue 13) width 0.370 ->
#: 0.224, coverage 1.00 -> 0.905. A floor of 1.5 or more lost datablations' over-fitted runs (coverage 0.67 and
#: below; ``benchmarks/model_geometry.md``), so the heavy tail itself stays.
FORECAST_MIN_TAIL_WEIGHT = 1.0


def predictive_draws(fit, table: pd.DataFrame, domain: str, rng: np.random.Generator,
                     noise: str = "student_t", row_rngs=None) -> tuple[np.ndarray, np.ndarray]:
    """Draws of the expected and the new-run log loss at the rows of ``table`` for one domain.

    Parameters
    ----------
    fit : ScalingFit
    table : pandas.DataFrame
        Targets with the law's variables, n rows.
    domain : str
        A fitted domain, or any other name for the population predictive.
    rng : numpy.random.Generator
    noise : {"student_t", "matched_normal"}, default "student_t"
        The run-to-run noise of a new run: the model's Student-t (its tail weight at least
        :data:`FORECAST_MIN_TAIL_WEIGHT`), or a normal with the same 90 % interval
        (scale ``sigma * t_nu.ppf(0.95) / Phi^-1(0.95)``) for means in loss space. ``E[exp(sigma t)]`` is
        infinite for every tail weight (a Student-t has polynomial tails), so a Monte Carlo mean of one
        run's loss, e.g. an expected shortfall, is set by its few largest draws: with the tail weight of 0.7-1.5
        that many-run fits learn, 1e14 nats/token. The draws of ``theta`` are the same for both (same ``rng`` state).
    row_rngs : sequence of numpy.random.Generator, optional
        One generator per row for its run-to-run noise (:func:`row_generators`), so that a row's draws do not
        depend on the other rows; default: all rows from ``rng``.

    Returns
    -------
    (mean_log_loss, new_run_log_loss) : tuple of ndarray, each (S, n)
        The expected log loss (the law, the discrepancy inside the runs' range and the model-form
        error beyond them) and one new run's (plus the run-to-run noise).

    Raises
    ------
    ValueError
        For an unknown ``noise``.
    """
    if noise not in ("student_t", "matched_normal"):
        raise ValueError(f"noise must be 'student_t' or 'matched_normal', not '{noise}'.")
    law = fit.law
    x = law.inputs(table, fit.refs)
    if domain in fit.domains:
        theta, sigma, nu = fit.theta(domain), fit.noise_scale(domain), fit.tail_weight(domain)
    else:
        theta, sigma, nu = fit.new_domain_draws(rng, domain)
    nu = np.maximum(nu, FORECAST_MIN_TAIL_WEIGHT)  # the forecast's noise: no heavier than a Cauchy
    th = {k: v[:, None] for k, v in fit.theta_dict(theta).items()}
    with np.errstate(over="ignore"):
        mean = law.log_loss(x, th, np)
    if domain in fit.bases:
        mean = mean + discrepancy_draws(fit, domain, x)
    mean = mean + fit.extrapolation_error(table, domain)
    heavy = np.isfinite(nu).all() and noise == "student_t"

    def standard(shape):  # the standardised run-to-run noise, (S, n): from rng, or column j from row_rngs[j]
        if row_rngs is None:
            return rng.standard_t(np.broadcast_to(nu[:, None], shape)) if heavy else rng.standard_normal(shape)
        if len(row_rngs) != shape[1]:
            raise ValueError(f"row_rngs has {len(row_rngs)} generators for {shape[1]} rows.")
        cols = [(g.standard_t(nu) if heavy else g.standard_normal(shape[0])) for g in row_rngs]
        return np.stack(cols, axis=1) if cols else np.empty(shape)

    if noise == "matched_normal":
        scale = sigma * (stats.t.ppf(0.95, nu) / stats.norm.ppf(0.95) if np.isfinite(nu).all() else 1.0)
        return mean, mean + scale[:, None] * standard(mean.shape)
    eps = standard(mean.shape)
    # a tail weight near 1 puts a few draws of the noise at |log loss| in the thousands, where exp() overflows; a
    # factor e^RUN_NOISE_CLIP is beyond any loss a run can have and changes no quantile the package reports
    return mean, mean + np.clip(sigma[:, None] * eps, -RUN_NOISE_CLIP, RUN_NOISE_CLIP)


#: Significant digits of a target's sizes in the key of its draws (:func:`row_generators`): targets that agree to
#: this many digits are the same run (1 parameter in 1e9) and get the same draws.
KEY_DIGITS = 9


def _key(*parts) -> int:
    """A 63-bit integer from text and numbers, the same in every process (unlike ``hash``)."""
    h = hashlib.blake2b(digest_size=8)
    for part in parts:
        h.update(np.asarray(part, float).tobytes() if not isinstance(part, str) else part.encode())
        h.update(b"\x1f")
    return int.from_bytes(h.digest(), "little") >> 1


def below_bound_text(count: int, noun: str, bound: float, lowest: float, where: str = "") -> str:
    """The warning about ``count`` targets trained on fewer tokens per parameter than the fit's bound (its
    ``min_tokens_per_param``), the lowest at ``lowest``; ``where`` (e.g. ``" of 3 domains"``) follows the noun."""
    return (f"{count} {noun}(s){where} are trained on fewer than {tokens_per_param_text(bound)} (down to "
            f"{lowest:.3g}), the regime the fit leaves its runs out of (min_tokens_per_param={bound:g}): "
            "there the loss depends on the warm-up and schedule more than on size and data, and the forecast "
            "extrapolates the law of better-trained runs, with an error that grows with the depth below the bound "
            "(measured on the runs the fit left out there); such runs still fall outside the "
            "interval more often than others.")


def domain_generator(seed: int, domain: str) -> np.random.Generator:
    """The generator of a domain's draws (a new domain's parameters) for a seed: the same whatever else is forecast.

    ``domain`` is the key of :func:`draws_key`: a fitted domain's name, or :data:`UNSEEN_DOMAIN_KEY` for any other.
    """
    return np.random.default_rng([int(seed), _key(str(domain))])


def domain_draws(fit, domain: str, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A domain's draws of the law's parameters, noise scale and tail weight.

    A fitted domain's posterior draws; for a domain the fit has not seen, the population's
    (:meth:`~bayes_scaling.posterior.ScalingFit.new_domain_draws`) from :func:`domain_generator` keyed by
    ``seed`` and :func:`draws_key`, so that the frontier, ``compare``, the decisions and ``predict`` of one
    seed rest on the same draws of a new domain.

    Parameters
    ----------
    fit : ScalingFit
    domain : str
    seed : int

    Returns
    -------
    (theta, sigma, nu) : tuple of ndarray
        Shapes (S, p), (S,) and (S,) (a fitted domain's sigma and nu may be a scalar's broadcast shape).

    Raises
    ------
    RunsTableError
        For a domain not in a fit without a hierarchy (:meth:`ScalingFit.new_domain_draws`).
    """
    if domain in fit.domains:
        return fit.theta(domain), fit.noise_scale(domain), fit.tail_weight(domain)
    return fit.new_domain_draws(domain_generator(int(seed), draws_key(fit, domain)), domain)


#: The key of the draws of every domain a fit has not seen (:func:`draws_key`).
UNSEEN_DOMAIN_KEY = "\x00a domain this fit has not seen"


def draws_key(fit, domain: str) -> str:
    """The key of a domain's draws (:func:`domain_generator`, :func:`row_generators`): its name if the fit has it,
    else :data:`UNSEEN_DOMAIN_KEY`.

    Every domain the fit has not seen is drawn from the same population, so two such names are the same forecast:
    keyed by the name, 'legal' and 'code' got different intervals from the same fit (a fresh user).
    """
    return str(domain) if domain in fit.domains else UNSEEN_DOMAIN_KEY


def row_generators(seed: int, domain: str, table: pd.DataFrame) -> list[np.random.Generator]:
    """One generator per target row, keyed by the seed, the domain and the row's sizes, for its run-to-run noise.

    Two identical targets get the same draws, and a target's draws do not change with the other rows of the
    table (a fresh user saw 3.3839, 3.3868 and 3.3857 for one target in three files).
    """
    sizes = [c for c in ("params", "tokens", "unique_tokens") if c in table]
    # keyed at KEY_DIGITS significant digits: a target computed in floating point (a frontier's 11833172974.38
    # parameters) and the same target written to a CSV and read back (11833172974) got other draws (a fresh user)
    vals = np.array([[float(f"{v:.{KEY_DIGITS}g}") for v in row] for row in table[sizes].to_numpy(float)])
    return [np.random.default_rng([int(seed), _key(str(domain), *row)]) for row in vals.reshape(len(table), -1)]


def keyed_predictive_draws(fit, table: pd.DataFrame, domain: str, seed: int,
                           noise: str = "student_t") -> tuple[np.ndarray, np.ndarray]:
    """:func:`predictive_draws` with the draws :func:`predict` uses: a domain's from :func:`domain_generator`, each
    row's run-to-run noise from :func:`row_generators`, so any caller gets predict's numbers for the same target."""
    key = draws_key(fit, domain)
    return predictive_draws(fit, table, domain, domain_generator(seed, key), noise=noise,
                            row_rngs=row_generators(seed, key, table))


def assume_unique_tokens(fit, table: pd.DataFrame, noun: str, verb: str) -> pd.DataFrame:
    """Fill ``unique_tokens = tokens`` in place where a data-constrained fit needs it and the table has none, saying so.

    A table of runs to forecast, compare, plan or pilot without ``unique_tokens`` is read as runs that never repeat
    their data (one epoch; the data-constrained law then reduces to the Chinchilla law, Muennighoff et al. 2023,
    §3.1). One place for the fill and its :class:`~bayes_scaling.data.RunsTableWarning`: predict, compare, next-run
    and decide each had their own, and two of them filled silently. Conversely, a table whose ``unique_tokens``
    repeat data (U < D) for a law without unique tokens is warned about: the column is not used.

    Parameters
    ----------
    fit : ScalingFit
    table : pandas.DataFrame
        Validated rows with ``tokens``; changed in place.
    noun, verb : str
        How the warning names the rows and what is done with them ("candidates", "compare").

    Returns
    -------
    pandas.DataFrame
        ``table``.

    Raises
    ------
    RunsTableError
        For a data-constrained fit, a table with an epochs column (``epochs``, ``n_epochs``, ...) but no
        ``unique_tokens``: its rows do repeat their data, and one epoch would be wrong.
    """
    if "unique_tokens" in fit.law.variables and "unique_tokens" not in table:
        if (ep := epochs_column(table.columns)) is not None:  # read as one epoch, a 460-epoch run was forecast at 2.6
            raise RunsTableError(f"the {noun} have a column '{ep}' but no 'unique_tokens', which the data-constrained "
                                 f"law reads: add unique_tokens = tokens / {ep} (U, the unique tokens of each run's "
                                 "data; U = D for a run that never repeats it).")
        warn_caller(f"the {noun} have no 'unique_tokens' column: every token is taken as unique (one epoch, no "
                    f"repeated data); add unique_tokens to {verb} runs that repeat their data.", RunsTableWarning)
        # next to tokens, where a table with the column has it (appended, it moved every later column: a script read
        # predict's columns by position, a fresh user)
        table.insert(int(table.columns.get_loc("tokens")) + 1, "unique_tokens", table["tokens"])
    elif "unique_tokens" not in fit.law.variables and "unique_tokens" in table:
        repeat = table["unique_tokens"].to_numpy(float) < table["tokens"].to_numpy(float)
        if repeat.any():  # compare on a Chinchilla fit read a unique-token column without a word (a fresh user)
            warn_caller(f"column 'unique_tokens' is not used: {int(repeat.sum())} of the {noun} repeat their data, but "
                        f"this fit's law '{fit.law.name}' takes every token as unique, so they are forecast as if "
                        "they did not; fit the data-constrained law (law='data_constrained', --law data_constrained) "
                        f"to {verb} repeated data.", RunsTableWarning)
    return table


def prepare_targets(fit, targets, domain: str | None = None, check_domains: bool = True) -> pd.DataFrame:
    """Validated targets with the law's variables and a ``domain`` for every row.

    Rows without a domain get ``domain`` (if given), else the fit's default domain; a
    data-constrained law without ``unique_tokens`` gets ``unique_tokens = tokens``, with a
    :class:`~bayes_scaling.data.RunsTableWarning`.

    Parameters
    ----------
    fit : ScalingFit
    targets : DataFrame or path
    domain : str, optional
    check_domains : bool, default True
        Pass the fit's domains to :func:`bayes_scaling.data.validate_targets` (not for a table marked
        :data:`bayes_scaling.data.DOMAINS_CHECKED`, whose names were checked under the user's row numbers).

    Raises
    ------
    RunsTableError
        Invalid targets.
    """
    needs = tuple(v for v in fit.law.variables if v != "unique_tokens")
    if isinstance(targets, pd.DataFrame) and targets.attrs.get(DOMAINS_CHECKED):
        check_domains = False
    t = validate_targets(targets, domains=fit.domains if check_domains else None, needs=needs, domain_col=fit.domain_col)
    assume_unique_tokens(fit, t, "targets", "forecast")
    if domain is not None:
        warn_unseen_domain(domain, fit.domains)  # a near miss of a fitted name silently gave a new domain's forecast
        if len(t) and t["domain"].notna().all() and (t["domain"] != domain).any():
            # the domain argument fills rows without one; a fresh user's --domain was ignored without a word
            warn_caller(f"domain '{domain}' (domain= / --domain) is not used: every target names its own domain in "
                        f"column '{fit.domain_col}'; the domain argument only fills rows that name none.",
                        RunsTableWarning)
        t["domain"] = t["domain"].where(t["domain"].notna(), domain)
    refuse_blank_domains(fit, t)
    blank = t["domain"].isna()
    if blank.any():
        t["domain"] = t["domain"].where(~blank, fit.default_domain)
    return t


def refuse_blank_domains(fit, t: pd.DataFrame) -> None:
    """Refuse targets whose domain column is empty in some rows but not all, for a fit of several domains.

    "say which one: a 'domain' column in the targets" was all a fresh user read for one empty cell of that column (and
    the command line gave that row the forecast of every domain, without a word).

    Parameters
    ----------
    fit : ScalingFit
    t : DataFrame
        Validated targets (:func:`bayes_scaling.data.validate_targets`) with a ``domain`` column.

    Raises
    ------
    RunsTableError
        Naming the rows and the fix.
    """
    blank = t["domain"].isna()
    if blank.any() and not blank.all() and len(fit.own_domains) > 1:
        rows = ", ".join(f"row {r}" for r in t.index[blank][:3]) + (" and more" if blank.sum() > 3 else "")
        raise RunsTableError(f"targets column '{fit.domain_col}' is empty in {rows}, and this fit has several domains; "
                             f"name the domain of each row (one of {listed(map(repr, fit.own_domains), 6)}, or a new "
                             "name for the forecast of an unseen domain), or pass domain=NAME (--domain NAME) for the "
                             "rows that name none.")


def predict(fit, targets, prob: float = 0.9, domain: str | None = None, random_seed: int | None = None,
            kind: str = "eti", extra_probs=()) -> pd.DataFrame:
    """Forecast the loss at targets with credible intervals.

    Parameters
    ----------
    fit : ScalingFit
    targets : DataFrame or path
        Columns ``params`` and ``tokens`` (or ``flops``; D = C / (6 N)), optional
        ``domain`` (a fitted domain or a new name for an unseen domain).
    prob : float, default 0.9
        Interval probability.
    domain : str, optional
        Domain for targets without a ``domain`` column.
    random_seed : int, optional
        Seed of the run-to-run noise draws (default: the fit's seed). The draws of each target are keyed
        by the seed, its domain and its sizes (:func:`row_generators`): identical targets get identical
        numbers, and a target's numbers do not change with the other rows of ``targets``.
    kind : {"eti", "hdi"}
        Interval kind.
    extra_probs : sequence of float, default ()
        Further interval probabilities, from the same draws: each ``p`` adds the columns ``loss_lower_P``,
        ``loss_upper_P``, ``mean_loss_lower_P`` and ``mean_loss_upper_P`` with ``P`` = 100 ``p`` (0.5 -> ``_50``,
        as the backtest names its levels), after ``mean_loss_upper``. A report with 50 % and 90 % intervals needs
        one call (a fresh user called predict twice).

    Returns
    -------
    pandas.DataFrame
        The target columns plus ``domain``, ``domain_kind`` (``fitted`` or
        ``new_domain``), ``loss_median``, ``loss_lower``, ``loss_upper`` (a new run,
        noise included), ``mean_loss_median``, ``mean_loss_lower``,
        ``mean_loss_upper`` (expected loss), all in nats/token, and the columns of ``extra_probs``. The new-run
        interval contains the expected-loss interval (its ends are held outside it where the finite draws would put
        them inside).

    Raises
    ------
    RunsTableError
        Invalid targets or a missing domain in a multi-domain fit.
    ValueError
        A probability outside (0, 1), or one of ``extra_probs`` equal to ``prob`` or given twice.
    """
    t = prepare_targets(fit, targets, domain)
    warn_extrapolation(fit, t)
    prob = check_prob(prob)  # "0.9" from a widget is read; 90 is refused with its 0.9
    extra = [check_prob(p) for p in ([] if extra_probs is None else [extra_probs] if np.isscalar(extra_probs)
                                     else extra_probs)]
    labels = [level_label(p) for p in extra]
    if len(set(labels)) < len(labels) or level_label(prob) in labels:
        raise ValueError(f"extra_probs {extra} repeat a probability (prob is {prob:g}): give each level once.")
    if thin := thin_tails(max([prob, *extra]), fit.n_draws):  # the widest level's tails (--prob 0.9,0.999)
        warn_caller(thin, UserWarning)
    seed = fit.random_seed if random_seed is None else random_seed
    out = t.copy()
    for c in FORECAST_COLUMNS + extra_forecast_columns(extra):
        out[c] = np.nan
    out["domain_kind"] = ""
    for dom, idx in t.groupby("domain", sort=False).groups.items():
        sub = t.loc[idx]
        # per domain and per row, so a target's numbers do not depend on the other targets of the table
        mean, new = keyed_predictive_draws(fit, sub, dom, seed)
        lm, ln = np.exp(mean), np.exp(new)
        out.loc[idx, "loss_median"] = np.median(ln, 0)
        out.loc[idx, "mean_loss_median"] = np.median(lm, 0)
        # the main level's columns, then each extra level's (suffixed), from the same draws
        for p, suffix in [(prob, ""), *((q, f"_{label}") for q, label in zip(extra, labels, strict=True))]:
            mlo, mhi = interval(lm, p, kind)
            lo, hi = interval(ln, p, kind)
            # a new run is at least as uncertain as its expected loss: with a new domain's wide spread and a small
            # run-to-run noise, the finite draws put one end of the new-run interval inside the other interval
            # (by up to 0.015 nats on 40 targets of a 3-domain fit); its ends are held outside
            out.loc[idx, f"loss_lower{suffix}"] = np.minimum(lo, mlo)
            out.loc[idx, f"loss_upper{suffix}"] = np.maximum(hi, mhi)
            out.loc[idx, f"mean_loss_lower{suffix}"] = mlo
            out.loc[idx, f"mean_loss_upper{suffix}"] = mhi
        out.loc[idx, "domain_kind"] = "fitted" if dom in fit.domains else "new_domain"
    out.attrs["prob"] = prob
    out.attrs["interval_kind"] = kind
    if extra:
        out.attrs["extra_probs"] = extra
    return out
