"""Fitting: :class:`ScalingLaw` (what to fit) and :class:`ScalingFit` (the result).

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
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

__version__ = "0.1.0"
from .data import RunsTableError, validate_runs
from .diagnostics import ESS_MIN_PER_CHAIN, ConvergenceWarning, Diagnostics, check_convergence
from .discrepancy import DiscrepancyBasis, wants_discrepancy
from .inference import LONG_TREEDEPTH, LONG_TUNE, SamplerConfig, laplace_precondition, sample_posterior
from .laws import Law, get_law
from .model import RICH_RUNS, SPARSE_NU, Structure, data_arrays
from .priors import PriorSpec, get_prior

__all__ = ["ScalingLaw", "ScalingFit", "default_prior_name", "REFERENCE_DOMAIN"]

#: Domain name given to reference runs that have no domain column.
REFERENCE_DOMAIN = "reference"


_REFERENCE_CACHE: dict = {}


def reference_summary(spec: ScalingLaw, runs: pd.DataFrame, refs: dict[str, float]):
    """Normal summary of one reference domain's own posterior, in the joint fit's parameterisation.

    The reference runs are fitted alone with a weak prior (same law, likelihood,
    discrepancy and sampler implementation as ``spec``, default draws and warm-up); the draws are converted to the joint fit's
    reference scales through the law's catalog parameters. Results are cached for
    the process by the runs' content.

    Parameters
    ----------
    spec : ScalingLaw
    runs : DataFrame
        Validated runs of one reference domain.
    refs : dict
        Reference scales of the joint fit.

    Returns
    -------
    (mean, cov, sigma, nu) : tuple
        Mean (p,) and covariance (p, p) of the sampling parameters; posterior medians
        of the noise scale and Student-t degrees of freedom.
    """
    import hashlib

    law = spec.law
    # The summary needs a mean and covariance, not the long chains a hierarchical fit may ask for:
    # the default settings of a one-domain fit, with the user's sampler choice.
    sampler = SamplerConfig(sampler=spec.sampler.sampler, cores=spec.sampler.cores)
    key = (
        law.name,
        spec.likelihood,
        spec.discrepancy,
        spec.gp_lengthscale,
        sampler,
        hashlib.sha256(runs[["params", "tokens", "loss"]].to_numpy(float).tobytes()).hexdigest(),
    )
    if key not in _REFERENCE_CACHE:
        alone = ScalingLaw(law=law, prior="weak", discrepancy=spec.discrepancy, likelihood=spec.likelihood,
                           sampler=sampler, gp_lengthscale=spec.gp_lengthscale)
        cols = [c for c in ("params", "tokens", "flops", "unique_tokens", "loss") if c in runs]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            f = alone.fit(runs[cols].reset_index(drop=True), random_seed=0)
        th = f.theta(f.domains[0])
        _REFERENCE_CACHE[key] = (law.to_catalog(f.theta_dict(th), f.refs), float(np.median(f.sigma(f.domains[0]))),
                                 float(np.median(f.nu(f.domains[0]))))
    cat, sigma, nu = _REFERENCE_CACHE[key]
    th = law.from_catalog(cat, refs)
    draws = np.column_stack([th[k] for k in law.params])
    return draws.mean(0), np.cov(draws, rowvar=False) + 1e-10 * np.eye(draws.shape[1]), sigma, min(nu, SPARSE_NU)


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
    return {
        "chinchilla": "besiroglu2024",
        "kaplan": "kaplan2020",
        "data_constrained": "muennighoff2023",
        "power_params": "besiroglu2024_params",
        "power_tokens": "besiroglu2024_tokens",
    }.get(get_law(law).name, "weak")


def _resolve_reference(reference) -> pd.DataFrame | None:
    if reference is None:
        return None
    if isinstance(reference, str) and reference == "chinchilla":
        from .datasets import load_chinchilla

        return load_chinchilla()
    if isinstance(reference, (str, Path)):
        from .data import read_runs

        return read_runs(reference, what="reference runs")
    if isinstance(reference, pd.DataFrame):
        return reference
    raise RunsTableError("reference must be 'chinchilla', a CSV path or a DataFrame of runs.")


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

    def __post_init__(self):
        self.law = get_law(self.law)
        if self.prior is None:
            self.prior = default_prior_name(self.law.name)
        self.prior = get_prior(self.prior, law=self.law.name, widen=self.widen)
        if self.discrepancy not in ("auto", "gp", "none"):
            raise ValueError(f"discrepancy must be 'auto', 'gp' or 'none', not '{self.discrepancy}'.")
        if self.likelihood not in ("student_t", "normal"):
            raise ValueError(f"likelihood must be 'student_t' or 'normal', not '{self.likelihood}'.")
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
        """Domain effects that vary by domain in a hierarchical fit (the others are shared).

        With ``vary="auto"``: every effect when the typical (median) domain without
        reference runs has more runs than the law has parameters; otherwise only as
        many as such a domain can identify (runs - 1), in the order of
        ``law.domain_effects`` (for the Chinchilla law: a common log-offset of the
        loss curve, the mean exponent, the irreducible loss; Kaplan et al. 2020
        §3.2.2 find other distributions shift the loss by a roughly constant offset).

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
            Effect names (see :meth:`Law.effects`).

        Raises
        ------
        ValueError
            For unknown effect names in ``vary``.
        """
        law: Law = self.law  # type: ignore[assignment]
        names = [n for n, _ in law.effects()]
        if self.vary not in (None, "auto"):
            unknown = set(self.vary) - set(names)
            if unknown:
                raise ValueError(f"vary names unknown domain effects {sorted(unknown)}; the {law.name} law has {names}.")
            return tuple(self.vary)
        own = [c for c, d in zip(counts, domains, strict=True) if not table.loc[table["domain"] == d, "is_reference"].any()]
        typical = int(np.median(own)) if own else int(np.median(counts))
        if typical > len(law.params):
            return tuple(names)
        return tuple(names[: max(1, typical - 1)])

    def prepare(self, runs, reference=None, loss_unit: str = "nats"):
        """Validate runs (and reference runs) and build every model input.

        Parameters
        ----------
        runs : DataFrame or path
            The domain runs.
        reference : {"chinchilla"}, path or DataFrame, optional
            Reference runs fitted alongside as sibling domain(s).
        loss_unit : {"nats", "bits"}

        Returns
        -------
        dict
            Keys ``runs`` (validated, with ``is_reference``), ``structure``,
            ``arrays``, ``refs``, ``domains``, ``reference_domains``, ``bases``,
            ``prior_mean``, ``prior_cov``.

        Raises
        ------
        RunsTableError
            On invalid runs.
        """
        law: Law = self.law  # type: ignore[assignment]
        needs = tuple(v for v in law.variables if v != "unique_tokens")
        ref_runs = _resolve_reference(reference)
        multi = ref_runs is not None
        table = validate_runs(
            runs,
            law_n_params=len(law.params),
            informative_prior=self.prior.informative or multi,
            domain_col=self.domain_col,
            needs=needs,
            loss_unit=loss_unit,
        )
        if "unique_tokens" in law.variables and "unique_tokens" not in table:
            raise RunsTableError(
                "the data-constrained law needs a column 'unique_tokens' (U, unique tokens in the training data)."
            )
        table["is_reference"] = False
        if ref_runs is not None:
            rt = validate_runs(ref_runs, law_n_params=len(law.params), informative_prior=True, needs=needs)
            if (rt["domain"] == "default").all():
                rt["domain"] = REFERENCE_DOMAIN
            clash = set(rt["domain"]) & set(table["domain"])
            if clash:
                raise RunsTableError(
                    f"reference domain(s) {sorted(clash)} have the same name as domains of the runs; rename them."
                )
            rt["is_reference"] = True
            if "unique_tokens" in law.variables and "unique_tokens" not in rt:
                rt["unique_tokens"] = rt["tokens"]
            table = pd.concat([table, rt[[c for c in table.columns if c in rt.columns]]], ignore_index=True)
        domains = list(dict.fromkeys(table["domain"]))
        refs = law.reference(table[~table["is_reference"]] if (~table["is_reference"]).any() else table)
        reference_domains = list(dict.fromkeys(table.loc[table["is_reference"], "domain"]))
        summarized = self.reference_mode == "summary" and bool(reference_domains)
        own = table[~table["is_reference"]] if summarized else table
        x = law.inputs(own, refs)
        y = np.log(own["loss"].to_numpy(float))
        dom_idx = own["domain"].map({d: i for i, d in enumerate(domains)}).to_numpy()
        summary = None
        if summarized:
            summary = {"mean": [], "chol": [], "sigma": [], "nu": []}
            for d in reference_domains:
                m, c, sig, nu = reference_summary(self, table[table["domain"] == d], refs)
                summary["mean"].append(m)
                summary["chol"].append(np.linalg.cholesky(c))
                summary["sigma"].append(sig)
                summary["nu"].append(nu)
        prior_mean, prior_cov = self.prior.sampling_prior(law, refs, table)
        weak_mean, weak_sd = law.weak_prior(table)
        # With several domains, each domain's parameters are drawn around a population centre.
        # With one domain and a published prior, the domain may depart from the published law by
        # the between-domain spread: the prior covariance is widened by it (a hierarchy with a
        # single domain would leave the spread unidentified, a funnel for the sampler).
        hierarchical = len(domains) > 1
        # GP discrepancy for domains that can identify it
        bases: dict[str, DiscrepancyBasis] = {}
        if self.discrepancy != "none":
            for i, d in enumerate(domains):
                sel = dom_idx == i
                xd = {k: (v[sel] if isinstance(v, np.ndarray) else v) for k, v in x.items()}
                if self.discrepancy == "gp" or wants_discrepancy(xd, law):
                    if sel.sum() < 2 * len(law.params):
                        continue
                    bases[d] = DiscrepancyBasis.build(law, xd, y[sel], weak_mean, weak_sd, self.gp_lengthscale)
        counts = np.bincount(dom_idx, minlength=len(domains))
        summ_idx = tuple(domains.index(d) for d in reference_domains) if summarized else ()
        rich = tuple(int(i) for i in np.flatnonzero(counts >= RICH_RUNS) if int(i) not in summ_idx)
        structure = Structure(
            law=law.name,
            n_domains=len(domains),
            n_gp=len(bases),
            likelihood=self.likelihood,
            hierarchical=hierarchical,
            rich=rich,
            summarized=summ_idx,
        )
        if self.prior.informative:
            # The published fit is one domain drawn from the population of domains: the population
            # centre (several domains) or this domain (one domain) is known only up to the
            # between-domain spread.
            prior_cov = prior_cov + law.between_domain_cov()
        psi = None
        if bases:
            psi = np.zeros((len(bases), len(y), structure.n_basis))
            for s, (d, basis) in enumerate(bases.items()):
                sel = dom_idx == domains.index(d)
                xd = {k: (v[sel] if isinstance(v, np.ndarray) else v) for k, v in x.items()}
                psi[s, sel] = basis.psi(law, xd)
        tau_scale = law.effect_scales()
        all_counts = table["domain"].value_counts().reindex(domains).to_numpy()
        vary_names = self.varying_parameters(all_counts, table, domains)
        vary = np.array([1.0 if name in vary_names else 0.0 for name, _ in law.effects()])
        precond = None if hierarchical else laplace_precondition(law, x, y, prior_mean, prior_cov)
        arrays = data_arrays(law, x, y, dom_idx, prior_mean, prior_cov, tau_scale, psi, structure, self.gp_lengthscale,
                             vary=vary, noise_vary=1.0 if self.noise == "domain" else 0.0, summary=summary,
                             precond=precond)
        return {
            "runs": table,
            "structure": structure,
            "hierarchical": hierarchical,
            "arrays": arrays,
            "refs": refs,
            "domains": domains,
            "reference_domains": reference_domains,
            "bases": bases,
            "prior_mean": prior_mean,
            "prior_cov": prior_cov,
            "varying": tuple(vary_names) if hierarchical else (),
        }

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
            The same seed gives identical numbers.
        strict : bool, default False
            Raise :class:`~bayes_scaling.diagnostics.SamplingError` when sampling fails
            its checks instead of warning.
        progress : bool, default False
            Show the sampler's progress bar.
        loss_unit : {"nats", "bits"}

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
        prep = self.prepare(runs, reference=reference, loss_unit=loss_unit)
        t_prep = time.perf_counter() - t0
        sampler = self.sampler.resolved(prep["structure"])
        def checked(fit: ScalingFit, sampler: SamplerConfig, strict: bool) -> Diagnostics:
            return check_convergence(fit.posterior, fit.free_variables(), strict=strict,
                                     bound_checks=fit._bound_checks(), target_accept=sampler.target_accept,
                                     hierarchical=prep["hierarchical"])

        fit = self._sample(prep, sampler, random_seed, progress, t_prep)
        quick = self.sampler.tune is None and self.sampler.max_treedepth is None and not prep["hierarchical"]
        with warnings.catch_warnings():
            if quick:  # a failed quick attempt is retried below; only the retry's verdict is reported
                warnings.simplefilter("ignore", ConvergenceWarning)
            fit.diagnostics = checked(fit, sampler, strict and not quick)
        if quick and not fit.diagnostics.ok:
            # The short warm-up and depth limit of one-domain fits (SamplerConfig.resolved) suit most
            # posteriors; when the checks fail, sample once more with the long settings.
            first, quick_cfg, quick_seconds = fit.diagnostics, sampler, fit.timings["sample_seconds"]
            quick_compile = fit.timings["compile_seconds"]
            # too few effective draws: the retry also draws twice as many (one-domain sampling takes seconds)
            low_ess = min(first.min_ess_bulk, first.min_ess_tail) < ESS_MIN_PER_CHAIN * sampler.chains
            draws = 2 * sampler.draws if low_ess else sampler.draws
            sampler = dataclasses.replace(sampler, tune=LONG_TUNE, max_treedepth=LONG_TREEDEPTH, draws=draws)
            fit = self._sample(prep, sampler, random_seed, progress, t_prep)
            fit.timings["sample_seconds"] += quick_seconds
            fit.timings["compile_seconds"] += quick_compile  # the retry reuses the compiled model
            fit.notes.append(
                f"the quick settings (warm-up {quick_cfg.tune}, tree depth {quick_cfg.max_treedepth}) failed the "
                f"checks (max R-hat {first.max_rhat:.3f}, min bulk ESS {first.min_ess_bulk:.0f}, min tail ESS "
                f"{first.min_ess_tail:.0f}, {first.divergences} divergences); sampled again with warm-up {LONG_TUNE}, "
                f"tree depth {LONG_TREEDEPTH} and {draws} draws per chain"
            )
            fit.diagnostics = checked(fit, sampler, strict)
        fit.timings["total_seconds"] = time.perf_counter() - t0
        return fit

    def _sample(self, prep: dict, sampler: SamplerConfig, random_seed: int, progress: bool, t_prep: float) -> ScalingFit:
        """Sample the prepared model with resolved settings and wrap the draws (no diagnostics)."""
        res = sample_posterior(prep["structure"], prep["arrays"], prep["refs"], sampler, random_seed, progress=progress)
        fit = ScalingFit(
            law=self.law,  # type: ignore[arg-type]
            prior=self.prior,  # type: ignore[arg-type]
            structure=prep["structure"],
            hierarchical=prep["hierarchical"],
            refs=prep["refs"],
            domains=prep["domains"],
            reference_domains=prep["reference_domains"],
            runs=prep["runs"],
            posterior=res.posterior,
            bases=prep["bases"],
            sampler=sampler,
            random_seed=int(random_seed),
            timings={
                "prepare_seconds": t_prep,
                "compile_seconds": res.compile_seconds,
                "sample_seconds": res.sample_seconds,
            },
            notes=list(res.notes),
            sampler_used=res.sampler,
            discrepancy=self.discrepancy,
            gp_lengthscale=self.gp_lengthscale,
            varying=prep["varying"],
        )
        fit._attach_coords()
        return fit


@dataclass
class ScalingFit:
    """A fitted scaling law: posterior draws plus everything needed to use them.

    Attributes
    ----------
    law : Law
    prior : PriorSpec
    structure : Structure
    hierarchical : bool
    refs : dict
        Log reference scales (natural logs of N_ref, D_ref, ...).
    domains : list of str
        Domain names, in model order.
    reference_domains : list of str
        Domains that came from reference runs.
    runs : pandas.DataFrame
        Validated runs used in the fit (with ``is_reference``).
    posterior : xarray.DataTree
        Groups ``posterior`` and ``sample_stats``.
    bases : dict of DiscrepancyBasis
        Discrepancy basis per domain that has one.
    diagnostics : Diagnostics
    timings : dict
        Seconds spent preparing, compiling and sampling.
    varying : tuple of str or None
        Domain effects that vary by domain (hierarchical fits); the others are shared by
        every domain, a new one included. None (fits saved before it was recorded): all vary.
    """

    law: Law
    prior: PriorSpec
    structure: Structure
    hierarchical: bool
    refs: dict[str, float]
    domains: list[str]
    reference_domains: list[str]
    runs: pd.DataFrame
    posterior: xr.DataTree
    bases: dict[str, DiscrepancyBasis]
    sampler: SamplerConfig
    random_seed: int
    timings: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    sampler_used: str = "nutpie"
    discrepancy: str = "auto"
    gp_lengthscale: float = 1.0
    diagnostics: Diagnostics | None = None
    version: str = __version__
    varying: tuple[str, ...] | None = None

    # -------------------------------------------------------------- helpers
    def _attach_coords(self) -> None:
        post = self.posterior["posterior"].to_dataset()
        if "domain_idx" in post.dims:
            post = post.assign_coords(domain_idx=self.domains[: post.sizes["domain_idx"]])
        if "param" in post.dims:
            post = post.assign_coords(param=list(self.law.params))
        self.posterior["posterior"] = xr.DataTree(post)

    def free_variables(self) -> list[str]:
        """Names of the model's free parameters (checked by the diagnostics)."""
        names = ["z_pop", "w_pop", "log_sigma", "tau", "u_rich", "u_ref", "u_dom", "s_mu", "s_tau", "zs", "nu_rich", "log_sigma_rich",
                 "eta", "zg", "mu"]
        return [n for n in names if n in self.posterior["posterior"].data_vars]

    def _bound_checks(self) -> dict[str, tuple[float, float]]:
        return {}

    @property
    def n_draws(self) -> int:
        """Total posterior draws S (chains x draws)."""
        p = self.posterior["posterior"]
        return int(p.sizes["chain"] * p.sizes["draw"])

    def _flat(self, name: str) -> np.ndarray:
        v = np.asarray(self.posterior["posterior"][name].values)
        return v.reshape(self.n_draws, *v.shape[2:])

    def theta(self, domain: str | None = None) -> np.ndarray:
        """Posterior draws of a domain's sampling parameters, shape (S, p).

        Parameters
        ----------
        domain : str, optional
            Domain name; None gives the population mean ``mu``.

        Raises
        ------
        KeyError
            For an unknown domain.
        """
        if domain is None:
            return self._flat("mu")
        if domain not in self.domains:
            raise KeyError(f"unknown domain '{domain}'; known domains: {', '.join(self.domains)}.")
        th = self._flat("theta")
        return th[:, self.domains.index(domain) if th.shape[1] > 1 else 0, :]

    def theta_dict(self, theta: np.ndarray) -> dict[str, np.ndarray]:
        """Split (S, p) draws into ``{param: (S,)}``."""
        return {k: theta[:, j] for j, k in enumerate(self.law.params)}

    def sigma(self, domain: str) -> np.ndarray:
        """Posterior draws of a domain's noise scale (log-loss units), shape (S,)."""
        s = self._flat("sigma")
        return s[:, self.domains.index(domain) if s.shape[1] > 1 else 0]

    def nu(self, domain: str | None = None) -> np.ndarray:
        """Student-t degrees of freedom of a domain, shape (S,) (``inf`` for a normal likelihood).

        A domain the fit has not seen gets the normal noise of the domains with few runs.
        """
        post = self.posterior["posterior"]
        if "nu_dom" not in post.data_vars:
            return np.full(self.n_draws, np.inf)
        if domain in self.domains:
            v = self._flat("nu_dom")
            return v[:, self.domains.index(domain) if v.shape[1] > 1 else 0]
        return np.full(self.n_draws, SPARSE_NU)

    @property
    def default_domain(self) -> str:
        """The domain used when a target names none: the only non-reference domain."""
        own = [d for d in self.domains if d not in self.reference_domains]
        if len(own) == 1:
            return own[0]
        if len(self.domains) == 1:
            return self.domains[0]
        raise RunsTableError(
            "this fit has several domains; add a 'domain' column to the targets. Known domains: "
            + ", ".join(self.domains)
            + " (any other name gives the forecast for a new, unseen domain)."
        )

    # ------------------------------------------------------------ summaries
    def parameters(self, prob: float = 0.9, domain: str | None = None) -> pd.DataFrame:
        """Posterior median and equal-tailed interval of the natural parameters.

        Parameters
        ----------
        prob : float, default 0.9
            Interval probability.
        domain : str, optional
            Domain; default: every domain (and the population mean for hierarchical fits).

        Returns
        -------
        pandas.DataFrame
            Columns ``domain``, ``parameter``, ``median``, ``lower``, ``upper``,
            ``published`` (the prior's value, NaN for a weak prior).
        """
        from arviz_stats.base import array_stats

        doms = [domain] if domain else list(self.domains)
        rows = []
        published = self.published_values()[0] if self.prior.informative else {}  # the prior's centre
        targets = [(d, self.theta(d)) for d in doms]
        if self.hierarchical and len(self.domains) > 1 and domain is None:
            targets.append(("(population)", self.theta(None)))
        for d, th in targets:
            nat = self.law.natural(self.theta_dict(th), self.refs)
            for k, v in nat.items():
                lo, hi = array_stats.eti(np.asarray(v, float), prob=prob, axis=0)
                rows.append(
                    {
                        "domain": d,
                        "parameter": k,
                        "median": float(np.median(v)),
                        "lower": float(lo),
                        "upper": float(hi),
                        "published": published.get(k, np.nan),
                    }
                )
        return pd.DataFrame(rows)

    def predict(self, targets, prob: float = 0.9, domain: str | None = None, random_seed: int | None = None):
        """Posterior predictive loss at targets; see :func:`bayes_scaling.predict.predict`."""
        from .predict import predict

        return predict(self, targets, prob=prob, domain=domain, random_seed=random_seed)

    def frontier(self, flops, prob: float = 0.9, domain: str | None = None, **kwargs):
        """Compute-optimal allocation; see :func:`bayes_scaling.decisions.frontier`."""
        from .decisions import frontier

        return frontier(self, flops, prob=prob, domain=domain, **kwargs)

    def summary(self, prob: float = 0.9) -> dict:
        """JSON-serialisable summary: parameters, diagnostics, timings, prior, data."""
        params = self.parameters(prob)
        out = {
            "bayes_scaling_version": self.version,
            "law": self.law.name,
            "law_citation": self.law.citation,
            "prior": {
                "name": self.prior.name,
                "citation": self.prior.citation,
                "where": self.prior.where,
                "widen_factor": self.prior.widen_factor,
            },
            "interval": {"prob": prob, "kind": "equal-tailed"},
            "data": {
                "n_runs": int(len(self.runs)),
                "domains": self.domains,
                "reference_domains": self.reference_domains,
                "params_range": [float(self.runs["params"].min()), float(self.runs["params"].max())]
                if "params" in self.runs
                else None,
                "tokens_range": [float(self.runs["tokens"].min()), float(self.runs["tokens"].max())]
                if "tokens" in self.runs
                else None,
            },
            "parameters": {},
            "diagnostics": self.diagnostics.to_dict() if self.diagnostics else None,
            "diagnostics_ok": bool(self.diagnostics.ok) if self.diagnostics else None,
            "discrepancy_domains": list(self.bases),
            "sampler": {**self.sampler.to_dict(), "used": self.sampler_used, "random_seed": self.random_seed},
            "timings": {k: round(float(v), 3) for k, v in self.timings.items()},
            "notes": self.notes,
        }
        published, source = self.published_values()  # as the report's table (for comparison under a weak prior)
        out["published_source"] = source
        for d, sub in params.groupby("domain", sort=False):
            out["parameters"][d] = {
                r.parameter: {"median": r.median, "lower": r.lower, "upper": r.upper,
                              "published": published.get(r.parameter)}
                for r in sub.itertuples()
            }
        return out

    def published_values(self) -> tuple[dict[str, float], str | None]:
        """Published estimates of the law's natural parameters to show next to the posterior.

        Returns
        -------
        values : dict of float
            The informative prior's centre; for a weak prior, the Besiroglu et al. (2024,
            Table 1) fit for comparison when the catalog has one for this law; else empty.
        source : str or None
            The catalog entry the values come from.
        """
        from .priors import get_prior

        prior = self.prior
        if not prior.informative:
            try:
                prior = get_prior("besiroglu2024", law=self.law.name)
            except ValueError:
                return {}, None
        cat = {k: np.asarray(v) for k, v in prior.mean.items()}
        nat = self.law.natural(self.law.from_catalog(cat, self.refs), self.refs)
        return {k: float(v) for k, v in nat.items()}, prior.name

    def save(self, path, force: bool = False) -> Path:
        """Save to a directory (NetCDF + JSON); see :func:`bayes_scaling.io.save_fit`."""
        from .io import save_fit

        return save_fit(self, path, force=force)

    @staticmethod
    def load(path) -> ScalingFit:
        """Load a fit saved by :meth:`save`; see :func:`bayes_scaling.io.load_fit`."""
        from .io import load_fit

        return load_fit(path)

    # ----------------------------------------------------------------- repr
    def __repr__(self) -> str:
        """Law and prior with their sources, runs, domains, diagnostics and the 90 % intervals of E, alpha, beta."""
        from .report import fit_text_summary

        return fit_text_summary(self)

    def _repr_html_(self) -> str:
        """The same summary as HTML for Jupyter (names escaped), with every parameter in a collapsed table."""
        from .report import fit_html_summary

        return fit_html_summary(self)
