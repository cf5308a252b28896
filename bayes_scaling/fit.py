"""Floor 2. Fitting: :class:`ScalingLaw` (what to fit) and its :meth:`~ScalingLaw.fit`, which returns a
:class:`~bayes_scaling.posterior.ScalingFit`.

``fit`` builds the model inputs (:func:`bayes_scaling.inputs.build_inputs`, with the
reference summaries of :mod:`bayes_scaling.reference`), samples
(:func:`bayes_scaling.inference.sample_posterior`), checks convergence
(:func:`bayes_scaling.diagnostics.check_convergence`) and applies the retry policy
(:data:`RETRY`): a one-domain fit with the quick default settings that fails its checks
is sampled once more with the long settings; a hierarchical fit that fails them for want of effective draws has
its chains continued to more draws.

Example
-------
>>> from bayes_scaling import ScalingLaw, datasets
>>> fit = ScalingLaw(prior="weak").fit(datasets.load_chinchilla(), random_seed=1)  # doctest: +SKIP
>>> fit.predict(pd.DataFrame({"params": [7e10], "tokens": [1.4e12]}))               # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import time
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .data import RunsTableError
from .diagnostics import ESS_MIN_PER_CHAIN, ConvergenceWarning, Diagnostics, check_convergence
from .inference import LONG_TREEDEPTH, LONG_TUNE, SampleResult, SamplerConfig, sample_posterior
from .inputs import MIN_TOKENS_PER_PARAM, FitInputs, build_inputs
from .laws import ROLE_ORDER, Law, get_law
from .model import VARS
from .posterior import ScalingFit, label_draws
from .predict import predictive_draws
from .extrapolation import (NO_EXTRAPOLATION_ERROR, NO_UNDERTRAINED_ERROR, UNDERTRAINED_PRIOR, ExtrapolationPrior,
                            UndertrainedError, extrapolation_distance, get_extrapolation_prior,
                            LEAVE_FUTURE_OUT_MIN_FIT, LEAVE_FUTURE_OUT_MIN_HELD, leave_future_out,
                            update_extrapolation_prior)
from .priors import PriorSpec, get_prior, published_prior_name
from .reference import reference_summary

__all__ = ["ScalingLaw", "RetryPolicy", "RETRY", "default_prior_name"]


@dataclass(frozen=True)
class RetryPolicy:
    """When and how a fit is sampled a second time.

    A one-domain fit whose sampler settings were left to the package samples with the
    quick settings first (300 warm-up draws, tree depth 6: :meth:`SamplerConfig.resolved
    <bayes_scaling.inference.SamplerConfig.resolved>`). If those draws fail the
    convergence checks, the fit is sampled once more with :attr:`tune` warm-up draws and
    tree depth :attr:`max_treedepth`, with twice the draws when the quick attempt had too
    few effective draws, at the same target acceptance; if that attempt fails with divergent draws, once more at
    target acceptance :attr:`target_accept`. Only the last attempt's verdict is reported, and ``fit.notes``
    says what happened. Settings the user chose are never overridden. Hierarchical fits
    use the long settings from the start; if they fail, they get twice the
    draws, or as many as their effective sample size asks for (up to :attr:`max_draws_factor` times),
    or are sampled once more with target acceptance :attr:`target_accept` after divergent draws. More draws
    at the same settings continue the first attempt's chains (with nutpie, see
    :func:`~bayes_scaling.inference.sample_posterior`): the same draws as sampling again with the same
    seed, without a second warm-up, which is 85 % of a rich fit's sampling (8 isoFLOP recipes of Porian et al.
    2024, 527 runs: 221 s against 391 s for two seeds that continued, ``benchmarks/results/continue.md``).

    Attributes
    ----------
    tune, max_treedepth : int
        The long settings (:data:`~bayes_scaling.inference.LONG_TUNE`,
        :data:`~bayes_scaling.inference.LONG_TREEDEPTH`).
    ess_per_chain : float
        Effective draws per chain below which the retry doubles the draws
        (:data:`~bayes_scaling.diagnostics.ESS_MIN_PER_CHAIN`).
    target_accept : float
        Target acceptance of a retry after divergent draws (when the default was used).
    ess_margin, max_draws_factor : float
        A first attempt with the long settings and too few effective draws is sampled again with
        ``ess_margin`` times the draws its effective sample size asks for (it grows in proportion to the
        draws), rounded up to a half multiple, at least twice and at most ``max_draws_factor`` times the draws.
    """

    tune: int = LONG_TUNE
    max_treedepth: int = LONG_TREEDEPTH
    ess_per_chain: float = ESS_MIN_PER_CHAIN
    target_accept: float = 0.99
    ess_margin: float = 1.25
    max_draws_factor: float = 4.0

    def applies(self, requested: SamplerConfig, hierarchical: bool) -> bool:
        """Whether a failed first attempt is sampled again: the warm-up and tree depth were left to the package.

        One-domain fits retry with the long settings; hierarchical fits, which start with them, retry
        with twice the draws (or a higher target acceptance after divergent draws).
        """
        return requested.tune is None and requested.max_treedepth is None

    def retry_settings(self, quick: SamplerConfig, first: Diagnostics) -> SamplerConfig:
        """The settings of the second attempt, given the first attempt's settings and diagnostics.

        Twice the draws when the first had too few effective draws (with the long settings already, as many as
        its effective sample size asks for, see :attr:`ess_margin`); target acceptance
        :attr:`target_accept` (smaller steps) when an attempt with the long settings had divergent draws and the
        default target was used (measured on 24 OpenLM domains with 5 runs each, all at one model size: the fits
        that still diverged after the long warm-up, 0.2-1.8 % of their draws at target 0.95, are where the
        step size was too large; at 0.99 none of them fails, ``benchmarks/bench_few_runs.py``). After the quick
        settings the long warm-up adapts the step size anew at the same target: the demo's fit (245 Chinchilla
        runs, seed 0) diverged 9 times in 4000 quick draws, and passed with none at the default target in 2.8 s
        of sampling against 6.2 s at 0.99 (seeds 1 and 2: 3.2 / 2.9 s against 6.2 / 6.4 s, all passing; session 36).
        """
        need = self.ess_per_chain * quick.chains
        have = min(first.min_ess_bulk, first.min_ess_tail)
        low_ess = have < need
        target = quick.target_accept
        long_first = (quick.tune, quick.max_treedepth) == (self.tune, self.max_treedepth)
        # after quick settings the long warm-up adapts the step size anew: of 4 fits whose quick draws diverged
        # within the limit in ~140 (Chinchilla seeds 0-19, 24 OpenLM 5-run domains and 6 routing sets at 3-4
        # seeds), all passed at the default target and 3 at 0.99, which took twice as long
        # (benchmarks/results/quick_settings.md); the demo's fit, 9 divergences (over the limit), likewise. A long
        # attempt that still diverges is sampled once more at the higher target (ScalingLaw.fit).
        diverged = long_first and first.divergences > 0
        if diverged and target == SamplerConfig().target_accept:
            target = max(target, self.target_accept)
        # a first attempt that already had the long settings (a hierarchical fit) gets twice the draws
        # unless a higher target acceptance changes it: the same settings would give the same draws
        same = long_first and quick.target_accept == target
        draws = 2 * quick.draws if low_ess or same else quick.draws
        if low_ess and long_first and np.isfinite(have) and have > 0:
            # the effective draws grow in proportion to the draws once the settings are the long ones: ask for
            # enough, with a margin, up to MAX_DRAWS_FACTOR times (28 routing recipes of 4-6 runs: bulk ESS 151 of
            # 4000 draws, then 287 of 8000 after doubling, which failed again)
            factor = min(self.max_draws_factor, max(2.0, np.ceil(2.0 * self.ess_margin * need / have) / 2.0))
            draws = int(round(factor * quick.draws))
        return dataclasses.replace(quick, tune=self.tune, max_treedepth=self.max_treedepth, draws=draws,
                                   target_accept=target)

    def note(self, quick: SamplerConfig, first: Diagnostics, retry: SamplerConfig, continued: bool = False,
             which: str | None = None) -> str:
        """The sentence ``fit.notes`` records after a retry (``continued``: the same chains went on to more draws;
        ``which`` names the failed settings, by default "quick" or "first")."""
        which = which or ("quick" if quick.tune != self.tune else "first")
        head = (
            f"the {which} settings (warm-up {quick.tune}, tree depth "
            f"{quick.max_treedepth}) failed the "
            f"checks (max R-hat {first.rhat_text}, min bulk ESS {first.min_ess_bulk:.0f}, min tail ESS "
            f"{first.min_ess_tail:.0f}, {first.divergences} divergences); "
        )
        if continued:
            return head + (f"the same chains were continued to {retry.draws} draws per chain (the draws of sampling "
                           f"again with {retry.draws} draws and the same seed)")
        return head + (
            f"sampled again with warm-up {retry.tune}, tree depth {retry.max_treedepth}, {retry.draws} draws per chain"
            + (f" and target acceptance {retry.target_accept}" if retry.target_accept != quick.target_accept else "")
        )


#: The package's retry policy (see :class:`RetryPolicy`).
RETRY = RetryPolicy()


def default_prior_name(law: str) -> str:
    """The published prior used by default for a law (``weak`` when none exists).

    Parameters
    ----------
    law : str

    Returns
    -------
    str
        ``besiroglu2024`` (Chinchilla law), ``kaplan2020``, ``muennighoff2023``,
        ``besiroglu2024_params`` / ``besiroglu2024_tokens`` (one-variable sweeps) or ``weak``.
    """
    return published_prior_name(law) or "weak"


#: New runs drawn per posterior draw of the smaller fit in :meth:`ScalingLaw.leave_future_out_errors` (the tail
#: quantiles of a heavy-tailed new run's loss set the update of the model-form error): with one, the update of the
#: demo's fit moved with the noise's draws alone (kappa sd 0.0007 over 8 redraws, 0.0003 with 8; the 70B interval
#: 11.7-14.1 % wide over seeds 0-5; ``benchmarks/model_geometry.md``, session 30). No refit: cheap.
NEW_RUNS_PER_DRAW = 8


#: Most coordinates that vary between domains with no more runs than the law has parameters.
MAX_SPARSE_VARYING = 3


@dataclass
class ScalingLaw:
    """What to fit: a law, a prior, the likelihood and the sampler.

    Parameters
    ----------
    law : str or Law, default "chinchilla"
        ``chinchilla`` (Hoffmann et al. 2022, Eq. 2), ``kaplan`` (Kaplan et al. 2020,
        Eq. 1.5), ``data_constrained`` (Muennighoff et al. 2023), ``power_params``,
        ``power_tokens``, ``power_flops`` (L = E + A x^-alpha).
    prior : str or PriorSpec, optional
        Catalog name (see :mod:`bayes_scaling.priors`); default: the law's published
        prior (:func:`default_prior_name`). ``"weak"`` gives the weakly-informative default.
    widen : float, default 1
        Multiply the prior's standard deviations by this factor (trust it less).
    discrepancy : {"auto", "gp", "none"}, default "auto"
        Model-discrepancy term (:mod:`bayes_scaling.discrepancy`); ``auto`` uses it for
        domains with enough runs to identify it.
    likelihood : {"student_t", "normal"}, default "student_t"
        Noise on log loss.
    sampler : SamplerConfig, optional
        NUTS settings (nutpie, 4 chains x 1000 draws by default).
    domain_col : str, default "domain"
        Column naming the domain of each run.
    param_convention : str, optional
        How the runs count N ("total parameters including embeddings" or
        "non-embedding parameters"); a mismatch with the prior's source is a warning.
    extrapolation : str or ExtrapolationPrior, default "learned"
        Model-form error added to forecasts beyond the runs, growing with the decades of
        extrapolation (:mod:`bayes_scaling.extrapolation`): ``learned`` (learned from backtests
        of public data sets), ``learned_without_<data set>`` (that data set left out), ``none``.
    extrapolation_update : {"auto", True, False}, default "auto"
        Update that prior with the fit's own errors beyond its runs: the runs in the top third of each
        domain's compute range are forecast from a second fit of the others
        (:func:`~bayes_scaling.extrapolation.leave_future_out`,
        :func:`~bayes_scaling.extrapolation.update_extrapolation_prior`), which costs a second fit.
        ``"auto"`` uses the domains with at least
        :data:`~bayes_scaling.extrapolation.LEAVE_FUTURE_OUT_MIN_HELD` runs in that top third and makes no
        second fit when none has them; ``True`` uses every domain that can spare a run (fewer than 4 runs at
        distinct compute cannot); ``False`` never updates. With one held-out run a domain the update
        under-covered (OpenLM transfer, 4 runs a domain: 90 % coverage 0.79 against 0.94); from domains with
        many runs it narrowed the intervals at the same medians (Porian et al.'s isoFLOP recipes: width 0.135
        -> 0.106, coverage 0.992 -> 0.975; ``benchmarks/extrapolation_update.md``).
    min_tokens_per_param : float, default 1
        Runs trained on fewer tokens than this per parameter are left out of the fit, with a note in
        ``fit.notes`` (:data:`~bayes_scaling.inputs.MIN_TOKENS_PER_PARAM`, where the evidence is; a domain keeps
        them when it would otherwise keep fewer than 3 runs or fewer than half); 0 fits every run. ``fit.runs``
        holds the fitted runs. A law of one variable (``power_params``, ``power_tokens``, ``power_flops``) reads
        no tokens per parameter: it is set to 0 (a warning says so if another value was given).
    rich_domains : tuple of str, optional
        The domains fitted as data-rich (their own Student-t tail weight, the exponent sampled centred); default
        those with at least :data:`~bayes_scaling.model.RICH_RUNS` runs. :meth:`leave_future_out_errors` sets it to
        the full fit's, so that its fit of the smaller runs has the full fit's noise model: with a domain's top third
        held out, OpenLM's domains of 31 runs fell below :data:`~bayes_scaling.model.RICH_RUNS` and the smaller fit,
        with normal noise, read their outlying runs as an error beyond the runs (``benchmarks/extrapolation_update.md``,
        session 32). Which domains get the discrepancy term is left to the smaller runs
        (:func:`~bayes_scaling.discrepancy.wants_discrepancy`).
    """

    law: str | Law = "chinchilla"
    prior: str | PriorSpec | None = None
    widen: float = 1.0
    discrepancy: str = "auto"
    likelihood: str = "student_t"
    sampler: SamplerConfig = field(default_factory=SamplerConfig)
    domain_col: str = "domain"
    param_convention: str | None = None
    gp_lengthscale: float = 1.0
    vary: tuple[str, ...] | str | None = "auto"
    noise: str = "domain"
    reference_mode: str = "summary"
    extrapolation: str | ExtrapolationPrior = "learned"
    extrapolation_update: bool | str = "auto"
    min_tokens_per_param: float = MIN_TOKENS_PER_PARAM
    rich_domains: tuple[str, ...] | None = None

    def __post_init__(self):
        self.law = get_law(self.law)
        if self.prior is None:
            self.prior = default_prior_name(self.law.name)
        self.prior = get_prior(self.prior, law=self.law.name, widen=self.widen)
        self.extrapolation = get_extrapolation_prior(self.extrapolation)
        if self.discrepancy not in ("auto", "gp", "none"):
            raise ValueError(f"discrepancy must be 'auto', 'gp' or 'none', not '{self.discrepancy}'.")
        if self.likelihood not in ("student_t", "normal"):
            raise ValueError(f"likelihood must be 'student_t' or 'normal', not '{self.likelihood}'.")
        if self.extrapolation_update not in ("auto", True, False):
            raise ValueError(f"extrapolation_update must be 'auto', True or False, not {self.extrapolation_update!r}.")
        mtp = self.min_tokens_per_param
        if isinstance(mtp, bool) or not isinstance(mtp, (int, float, np.integer, np.floating)) or not (
                np.isfinite(mtp) and mtp >= 0):
            raise ValueError(f"min_tokens_per_param must be a finite number >= 0 (0 fits every run), not "
                             f"{self.min_tokens_per_param!r}.")
        if not self.law.has_allocation:
            # a law of one variable reads no tokens per parameter: a fresh user's fine-tuning curves (a law of D alone,
            # 'params' given beside it) had runs "fitted all the same" below the bound and targets warned about
            if mtp not in (0, MIN_TOKENS_PER_PARAM):
                warnings.warn(f"min_tokens_per_param={mtp!r} is ignored: the law '{self.law.name}' reads "
                              f"{' and '.join(self.law.variables)} alone, not tokens per parameter.", UserWarning,
                              stacklevel=2)
            self.min_tokens_per_param = 0.0
        if self.param_convention and self.prior.informative and self.param_convention != self.prior.param_convention:
            warnings.warn(
                f"the runs count N as '{self.param_convention}' but the prior '{self.prior.name}' was fitted on "
                f"'{self.prior.param_convention}'; exponents are biased at small scale by the convention "
                "(Pearce & Song 2024; Porian et al. 2024). Consider prior='weak' or widen=2.",
                UserWarning,
                stacklevel=2,
            )

    # ------------------------------------------------------------------ fit
    def varying_parameters(self, counts: np.ndarray, table: pd.DataFrame, domains: list[str]) -> tuple[str, ...]:
        """Sampling coordinates that vary by domain in a hierarchical fit (the others are shared).

        With ``vary="auto"``: every coordinate when the typical (median) domain without
        reference runs has more runs than the law has parameters; otherwise only as many as
        such a domain can identify (runs - 1, at most :data:`MAX_SPARSE_VARYING`), in the order of their roles
        (:data:`bayes_scaling.laws.ROLE_ORDER`: the loss level, the exponent, the size-term
        shares, the allocation, the rest). For the Chinchilla law and 4 runs per domain: the
        loss level, the exponent and the N-term share (a common offset of the loss curve is
        how other distributions differ most, Kaplan et al. 2020 §3.2.2).

        Parameters
        ----------
        counts : ndarray of int
            Runs per domain.
        table : DataFrame
            Validated runs with ``is_reference``.
        domains : list of str

        Returns
        -------
        tuple of str
            Coordinate names (``law.z_names``).

        Raises
        ------
        ValueError
            For unknown coordinate names in ``vary``.
        """
        law: Law = self.law  # type: ignore[assignment]
        names = list(law.z_names)
        if self.vary not in (None, "auto"):
            unknown = set(self.vary) - set(names)
            if unknown:
                raise ValueError(f"vary names unknown sampling coordinates {sorted(unknown)}; the {law.name} law has "
                                 f"{names}.")
            return tuple(n for n in names if n in self.vary)
        ordered = sorted(names, key=lambda n: (ROLE_ORDER.index(law.z_roles[names.index(n)]), names.index(n)))
        own = [c for c, d in zip(counts, domains, strict=True) if not table.loc[table["domain"] == d, "is_reference"].any()]
        typical = int(np.median(own)) if own else int(np.median(counts))
        if typical > len(names):
            return tuple(names)
        # at most the level, the exponent and the N-term share: a few runs pin the loss level and its local
        # slopes; letting the D-term share vary as well on 5 runs per domain opened a banana in the two
        # shares (0.9 % divergent draws on two OpenLM domains; on the 24-domain split 0.2 % and a median
        # error of 3.9 % instead of 3.4 %, benchmarks/model_geometry.md)
        keep = set(ordered[: min(max(1, typical - 1), MAX_SPARSE_VARYING)])
        return tuple(n for n in names if n in keep)

    # ------------------------------------------------------------------ fit
    def fit(
        self,
        runs,
        *,
        reference=None,
        random_seed: int = 0,
        strict: bool = False,
        progress: bool = False,
        loss_unit: str = "nats",
    ) -> ScalingFit:
        """Fit the law to runs and return the posterior.

        Parameters
        ----------
        runs : DataFrame or path
            Runs table (see :mod:`bayes_scaling.data`).
        reference : {"chinchilla"}, path or DataFrame, optional
            Reference runs fitted alongside as sibling domains of a hierarchical model.
        random_seed : int, default 0
            The same seed gives identical numbers, in any process and whatever the order of the runs within each
            domain (domains are fitted in the order they first appear in the table, which can change the draws).
        strict : bool, default False
            Raise :class:`~bayes_scaling.diagnostics.SamplingError` when sampling fails
            its checks instead of warning.
        progress : bool, default False
            Show the sampler's progress: nutpie's bar for one domain; for several domains, whose chains
            are samplers of their own, one line counting every chain's draws (updated in place in
            Jupyter, on stderr elsewhere).
        loss_unit : {"nats", "bits"}, default "nats"
            Unit of the runs' ``loss`` column: natural-log loss per token, or log2 (bits), converted to nats
            (x ln 2) before the fit; forecasts are in nats/token either way.

        Returns
        -------
        ScalingFit

        Raises
        ------
        RunsTableError
            Invalid runs.
        SamplingError
            Failed convergence checks with ``strict=True``.
        """
        t0 = time.perf_counter()
        inputs = self.inputs(runs, reference=reference, loss_unit=loss_unit)
        t_prep = time.perf_counter() - t0
        sampler = self.sampler.resolved(inputs.structure)
        retry = RETRY.applies(self.sampler, inputs.hierarchical)
        # a hierarchical first attempt has the long settings already: when it fails only for want of effective
        # draws, its chains are continued (the draws a fresh attempt with more draws would give, without its warm-up)
        attempt: dict = {}

        def more_draws(tree):
            probe = self._wrap(inputs, sampler, random_seed, t_prep, SampleResult(tree, 0.0, 0.0, "nutpie"))
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                d = _checked(probe, sampler, False, True)
            if d.ok:  # these are the fit's draws (the last call's): their checks are its checks
                attempt["passed"] = d
            if d.ok or "continued" in attempt:  # one continuation, as one retry: its verdict is the fit's
                return None
            attempt["diagnostics"] = d
            nxt = RETRY.retry_settings(sampler, d)
            if dataclasses.replace(nxt, draws=sampler.draws) != sampler:  # other settings: a fresh attempt below
                return None
            attempt["continued"] = nxt
            return nxt.draws

        continued = retry and inputs.hierarchical
        fit = self._sample(inputs, sampler, random_seed, progress, t_prep, more_draws if continued else None,
                           int(RETRY.max_draws_factor * sampler.draws))
        if "continued" in attempt:
            sampler = fit.sampler = attempt["continued"]
            fit.notes.append(RETRY.note(self.sampler.resolved(inputs.structure), attempt["diagnostics"], sampler,
                                        continued=True))
        if "passed" in attempt:
            fit.diagnostics = attempt["passed"]
        else:
            with warnings.catch_warnings():
                if retry and "continued" not in attempt:  # a failed first attempt is retried below: its verdict counts
                    warnings.simplefilter("ignore", ConvergenceWarning)
                fit.diagnostics = _checked(fit, sampler, strict and (not retry or "continued" in attempt),
                                           inputs.hierarchical)
        if retry and "continued" not in attempt and not fit.diagnostics.ok:
            first, quick, quick_timings = fit.diagnostics, sampler, fit.timings
            sampler = RETRY.retry_settings(quick, first)
            # the long warm-up at the quick attempt's target; if it still diverges, once more at RETRY.target_accept
            default_target = SamplerConfig().target_accept
            again = not inputs.hierarchical and sampler.target_accept == default_target < RETRY.target_accept
            said: list[str] = []
            for attempt_no in (1, 2) if again else (1,):
                fit = self._sample(inputs, sampler, random_seed, progress, t_prep)
                fit.timings["sample_seconds"] += quick_timings["sample_seconds"]
                fit.timings["compile_seconds"] += quick_timings["compile_seconds"]  # the retry reuses the compiled model
                said.append(RETRY.note(quick, first, sampler, which="long" if attempt_no == 2 else None))
                fit.notes.extend(said)
                if attempt_no == 2 or not again:
                    fit.diagnostics = _checked(fit, sampler, strict, inputs.hierarchical)
                    break
                with warnings.catch_warnings():  # said below unless a third attempt follows
                    warnings.simplefilter("ignore", ConvergenceWarning)
                    fit.diagnostics = _checked(fit, sampler, False, inputs.hierarchical)
                if fit.diagnostics.ok or fit.diagnostics.divergences == 0:  # passed, or failed on R-hat or ESS alone
                    fit.diagnostics.report(strict)
                    break
                first, quick, quick_timings = fit.diagnostics, sampler, fit.timings
                sampler = RETRY.retry_settings(quick, first)
        fit.undertrained = undertrained_error(fit, inputs.left_out_runs)
        if self.extrapolation_update and fit.extrapolation.active:
            self._update_extrapolation(fit, inputs, reference, random_seed)
        fit.timings["total_seconds"] = time.perf_counter() - t0
        return fit

    def _update_extrapolation(self, fit: ScalingFit, inputs: FitInputs, reference, random_seed: int) -> None:
        """Update ``fit.extrapolation`` with the fit's own errors beyond its runs (see ``extrapolation_update``)."""
        t0 = time.perf_counter()
        auto = self.extrapolation_update == "auto"
        # a weak prior needs as many runs as the law has parameters (the runs' check refuses fewer): a domain that
        # would keep fewer keeps all its runs, rather than a smaller fit that cannot be made
        min_fit = LEAVE_FUTURE_OUT_MIN_FIT if self.prior.informative else max(LEAVE_FUTURE_OUT_MIN_FIT,
                                                                                len(self.law.theta_names))
        errors, draws, small = self.leave_future_out_errors(inputs=inputs, reference=reference,
                                                            random_seed=random_seed, min_fit=min_fit,
                                                            min_held=LEAVE_FUTURE_OUT_MIN_HELD if auto else 1)
        if small is None:
            why = errors.attrs.get("why_not")
            if auto and not why:  # the default: a fit whose domains have few runs each is not told so on every run
                return
            fit.notes.append("the extrapolation prior was not updated: " + (
                f"the runs left to fit without each domain's largest ones cannot be fitted ({why})" if why else
                "no domain has runs to spare (at least 4 runs at distinct compute) for a forecast of its largest runs "
                "from its smaller ones"))
            return
        d = small.diagnostics
        seconds = fit.timings["extrapolation_update_seconds"] = time.perf_counter() - t0  # the smaller fit's time
        if auto and not d.ok:  # errors of a fit that did not converge would set the interval of every forecast
            fit.notes.append(f"the model-form error beyond the runs was not updated with the fit's own runs: the fit of "
                             f"the smaller runs did not converge (max R-hat {d.rhat_text}, {d.divergences} "
                             "divergences); it is the prior learned across data sets.")
            return
        fit.extrapolation = update_extrapolation_prior(fit.extrapolation, errors["log_loss"], *draws,
                                                       errors["distance"], errors["domain"])
        if not auto:  # the default's update is said in the report's model-form paragraph (own_runs_update)
            fit.notes.append(f"model-form error beyond the runs: {fit.extrapolation.where}; the fit of the smaller "
                             f"runs took {seconds:.1f} s (max R-hat {d.rhat_text}, {d.divergences} divergences)")

    def leave_future_out_errors(self, runs=None, *, reference=None, random_seed: int = 0, inputs: FitInputs | None = None,
                                loss_unit: str = "nats", min_held: int = 1,
                                min_fit: int = LEAVE_FUTURE_OUT_MIN_FIT) -> tuple[pd.DataFrame, tuple, ScalingFit | None]:
        """Forecast each domain's largest runs from a fit of its smaller ones: the law's own errors beyond its runs.

        The held-out runs are those of :func:`~bayes_scaling.extrapolation.leave_future_out` (the top third of
        each domain's compute range); the fit of the others uses this law, prior, reference and sampler settings
        without the model-form error. What :meth:`fit` feeds to
        :func:`~bayes_scaling.extrapolation.update_extrapolation_prior`.

        Parameters
        ----------
        runs : DataFrame or path, optional
            Runs table (or pass ``inputs``, the result of :meth:`inputs`).
        reference, random_seed, loss_unit
            As in :meth:`fit`.
        min_held : int, default 1
            A domain with fewer runs in its top third keeps all its runs
            (:func:`~bayes_scaling.extrapolation.leave_future_out`).
        min_fit : int, default :data:`~bayes_scaling.extrapolation.LEAVE_FUTURE_OUT_MIN_FIT`
            A domain that would keep fewer runs to fit keeps all its runs.

        Returns
        -------
        errors : pandas.DataFrame
            One row per held-out run: its own columns and ``log_loss`` (observed), ``median`` and ``scale`` (the
            forecast's median and 90 % range / 3.29, log loss, run-to-run noise included) and ``distance``
            (decades beyond the fitted runs).
        draws : tuple of two ndarray, each (NEW_RUNS_PER_DRAW * S, k)
            The forecast's draws of the expected and of a new run's log loss (the rows of ``errors``):
            :data:`NEW_RUNS_PER_DRAW` new runs per posterior draw, the expected loss repeated beside them.
        small : ScalingFit or None
            The fit of the other runs (None when no domain can spare runs, or when the other runs alone cannot be
            fitted: ``errors`` is then empty, with the fit's error message in ``errors.attrs["why_not"]``).
        """
        if inputs is None:
            inputs = self.inputs(runs, reference=reference, loss_unit=loss_unit)
        own = inputs.runs[~inputs.runs["is_reference"]].drop(columns="is_reference").reset_index(drop=True)
        held = leave_future_out(own, min_fit=min_fit, min_held=min_held)
        cols = ["log_loss", "median", "scale", "distance"]
        if not held.any():
            return own.iloc[:0].assign(**{c: np.zeros(0) for c in cols}), (np.zeros((0, 0)),) * 2, None
        # the full fit's noise model for each domain (its error beyond the runs is what is measured): a domain whose
        # top third is held out may fall below RICH_RUNS. The discrepancy term stays the smaller runs' choice: given
        # to every domain the full fit has it for, it narrowed the isoFLOP recipes fitted to 4e17 FLOPs, which already
        # under-covered (three recipes: 0.770 -> 0.702; benchmarks/extrapolation_update.md, session 32)
        # the validated runs name their domains in 'domain', whatever the user's column was (a fresh user's
        # --domain-col recipe made every smaller fit fail, so the default update never happened)
        inner = dataclasses.replace(self, widen=1.0, extrapolation=NO_EXTRAPOLATION_ERROR, extrapolation_update=False,
                                    domain_col="domain",
                                    rich_domains=tuple(inputs.domains[i] for i in inputs.structure.rich))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                small = inner.fit(own[~held].reset_index(drop=True), reference=reference, random_seed=random_seed)
            except RunsTableError as exc:  # the smaller runs alone cannot be fitted (3 runs of 5 parameters, weak prior)
                empty = own.iloc[:0].assign(**{c: np.zeros(0) for c in cols})
                empty.attrs["why_not"] = " ".join(str(exc).split())
                return empty, (np.zeros((0, 0)),) * 2, None
        test = own[held].reset_index(drop=True)
        rng = np.random.default_rng([int(random_seed), 0x1F0])
        out = {c: np.zeros(len(test)) for c in cols}
        k = NEW_RUNS_PER_DRAW
        expected, new_run = np.zeros((k * small.n_draws, len(test))), np.zeros((k * small.n_draws, len(test)))
        for dom, idx in test.groupby("domain").groups.items():
            sub = test.loc[idx]
            draws = [predictive_draws(small, sub, dom, rng) for _ in range(k)]
            mean, new = np.concatenate([d[0] for d in draws]), np.concatenate([d[1] for d in draws])
            expected[:, idx], new_run[:, idx] = mean, new
            q05, q50, q95 = np.nanquantile(new, [0.05, 0.5, 0.95], axis=0)
            out["log_loss"][idx] = np.log(sub["loss"].to_numpy(float))
            out["median"][idx], out["scale"][idx] = q50, (q95 - q05) / 3.29
            out["distance"][idx] = extrapolation_distance(small.own_runs(dom), sub)
        return test.assign(**out), (expected, new_run), small

    def inputs(self, runs, reference=None, loss_unit: str = "nats") -> FitInputs:
        """Validate runs (and reference runs) and build every model input; see :func:`bayes_scaling.inputs.build_inputs`.

        Reference domains enter through :func:`bayes_scaling.reference.reference_summary`.

        Raises
        ------
        RunsTableError
            On invalid runs.
        """
        return build_inputs(self, runs, reference=reference, loss_unit=loss_unit,
                            summarize=lambda table, refs: reference_summary(self, table, refs))

    def _sample(self, inputs: FitInputs, sampler: SamplerConfig, random_seed: int, progress: bool,
                t_prep: float, more_draws=None, max_draws: int | None = None) -> ScalingFit:
        """Sample the model with resolved settings and wrap the draws (no diagnostics).

        ``more_draws`` and ``max_draws``: see :func:`~bayes_scaling.inference.sample_posterior`.
        """
        res = sample_posterior(inputs.structure, inputs.arrays, inputs.refs, sampler, random_seed, progress=progress,
                               more_draws=more_draws, max_draws=max_draws)
        return self._wrap(inputs, sampler, random_seed, t_prep, res)

    def _wrap(self, inputs: FitInputs, sampler: SamplerConfig, random_seed: int, t_prep: float,
              res: SampleResult) -> ScalingFit:
        """A fit of the sampled draws ``res`` (no diagnostics)."""
        return ScalingFit(
            law=self.law,  # type: ignore[arg-type]
            prior=self.prior,  # type: ignore[arg-type]
            structure=inputs.structure,
            hierarchical=inputs.hierarchical,
            refs=inputs.refs,
            domains=inputs.domains,
            reference_domains=inputs.reference_domains,
            runs=inputs.runs,
            posterior=label_draws(res.posterior, inputs.domains, self.law),  # type: ignore[arg-type]
            bases=inputs.bases,
            sampler=sampler,
            random_seed=int(random_seed),
            timings={
                "prepare_seconds": t_prep,
                "compile_seconds": res.compile_seconds,
                "sample_seconds": res.sample_seconds,
            },
            notes=list(inputs.notes) + list(res.notes),
            min_tokens_per_param=float(self.min_tokens_per_param),
            runs_left_out=int(inputs.runs_left_out),
            sampler_used=res.sampler,
            discrepancy=self.discrepancy,
            gp_lengthscale=self.gp_lengthscale,
            varying=inputs.varying,
            domain_col=self.domain_col,
            extrapolation=self.extrapolation,  # type: ignore[arg-type]
        )


def undertrained_error(fit: ScalingFit, left_out: pd.DataFrame | None) -> UndertrainedError:
    """The error of a fit's forecasts below its ``min_tokens_per_param``, updated with the runs it left out there.

    :data:`~bayes_scaling.extrapolation.UNDERTRAINED_PRIOR` below the fit's bound, updated
    (:meth:`~bayes_scaling.extrapolation.UndertrainedError.updated`) with the misfit of each left-out run: its log
    loss minus the median of its domain's expected log loss (the law and the discrepancy term, over the posterior
    draws). No error with a bound of 0 (every run fitted).

    Parameters
    ----------
    fit : ScalingFit
        The fit, its :attr:`~bayes_scaling.posterior.ScalingFit.undertrained` not yet set.
    left_out : pandas.DataFrame or None
        The runs it left out (:attr:`~bayes_scaling.inputs.FitInputs.left_out_runs`), with ``domain`` and ``loss``.

    Returns
    -------
    UndertrainedError
    """
    if not fit.min_tokens_per_param > 0:
        return NO_UNDERTRAINED_ERROR
    bound = fit.min_tokens_per_param
    own = fit.own_runs()
    if len(own) and {"params", "tokens"} <= set(own.columns):
        # runs a domain kept below the bound (it would have kept too few) put their regime inside the fit: the
        # error starts below the lowest of them (a fresh user's fit of runs all below one token per parameter got
        # intervals 68 % wide at targets among its own runs)
        bound = min(bound, float((own["tokens"] / own["params"]).min()))
    error = UNDERTRAINED_PRIOR.with_bound(bound)
    if left_out is None or not len(left_out):
        return error
    rng = np.random.default_rng([int(fit.random_seed), 0x0D7B])
    r, d, g_of = [], [], []
    for dom, g in left_out.groupby("domain", sort=False):
        if dom not in fit.domains:
            continue
        mean, _ = predictive_draws(fit, g, str(dom), rng)
        r.append(np.log(g["loss"].to_numpy(float)) - np.median(mean, axis=0))
        d.append(error.depth(g))
        g_of += [str(dom)] * len(g)
    if not r:
        return error
    r, d = np.concatenate(r), np.concatenate(d)
    return error.updated(r, d, groups=g_of, where=f"the population's, updated with the {int((d > 0).sum())} runs the "
                                                  f"fit left out below {bound:g} token(s) per parameter")


def _checked(fit: ScalingFit, sampler: SamplerConfig, strict: bool, hierarchical: bool) -> Diagnostics:
    """Convergence checks of a fit's draws (R-hat, ESS, divergences, tree depth)."""
    return check_convergence(fit.posterior, fit.free_variables(), strict=strict, target_accept=sampler.target_accept,
                             hierarchical=hierarchical, describe=VARS.describe)
