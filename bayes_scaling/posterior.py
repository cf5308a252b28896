"""Floor 2. The fitted posterior, :class:`ScalingFit`: the floor every analysis stands on.

A fit holds the posterior draws and everything needed to use them (law, prior,
reference scales, domains, runs, discrepancy bases, sampler settings, diagnostics).
Analyses (:mod:`~bayes_scaling.predict`, :mod:`~bayes_scaling.decisions`,
:mod:`~bayes_scaling.risk`, :mod:`~bayes_scaling.value_of_information`,
:mod:`~bayes_scaling.plots`, :mod:`~bayes_scaling.report`) take a fit as an argument
and read it only through the public accessors below and ``fit.law.log_loss``; the
names of the model's variables are declared once, in
:data:`bayes_scaling.model.VARS`, and read only here.

Accessors (S = chains x draws, p = the law's sampling parameters, k = domain effects)
--------------------------------------------------------------------------------------
``theta(domain)`` (S, p), ``population_theta()`` (S, p), ``between_domain_spread()`` (S, k),
``noise_scale(domain)`` (S,), ``noise_scales()`` (S, domains), ``tail_weight(domain)`` (S,),
``discrepancy_scale()`` (S,), ``discrepancy_coefficients(domain)`` (S, m),
``new_domain_draws(rng)`` -> (theta, sigma, nu), ``draws(name)`` for any other variable;
``n_draws``, ``domains``, ``reference_domains``, ``varying``, ``default_domain``.

Saving: :meth:`ScalingFit.to_dict` / :meth:`ScalingFit.from_dict` give the JSON
configuration; :meth:`ScalingFit.save` and :meth:`ScalingFit.load` hand it, the draws
and the runs to :mod:`bayes_scaling.io` (the file format).
"""

from __future__ import annotations

import dataclasses
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from ._version import __version__
from ._warnings import warn_caller
from ._text import did_you_mean
from .data import RunsTableError, repeated_configurations, warn_unseen_domain
from .diagnostics import ConvergenceWarning, Diagnostics
from .discrepancy import DiscrepancyBasis
from .extrapolation import (NO_EXTRAPOLATION_ERROR, NO_UNDERTRAINED_ERROR, ExtrapolationPrior, UndertrainedError,
                            extrapolation_distance)
from .display import fit_html_summary, fit_text_summary
from .inference import SamplerConfig
from .intervals import interval
from .io import FitFileError, config_errors, read_fit, write_fit
from .laws import Law, get_law
from .model import NOISE_SPREAD, SPARSE_NU, VARS, Structure
from .priors import PriorSpec, between_study_spread, get_prior, published_prior_name

__all__ = ["ScalingFit", "label_draws"]


def label_draws(tree: xr.DataTree, domains: list[str], law: Law) -> xr.DataTree:
    """The sampler's draws with the domain and parameter coordinates named (domain names, ``law.theta_names``).

    Parameters
    ----------
    tree : xarray.DataTree
        Groups ``posterior`` and ``sample_stats`` as the sampler returns them.
    domains : list of str
        Domain names in model order.
    law : Law

    Returns
    -------
    xarray.DataTree
        The same tree (modified in place and returned).
    """
    post = tree["posterior"].to_dataset()
    if VARS.domain_dim in post.dims:
        post = post.assign_coords({VARS.domain_dim: domains[: post.sizes[VARS.domain_dim]]})
    if VARS.param_dim in post.dims:
        post = post.assign_coords({VARS.param_dim: list(law.theta_names)})
    if VARS.z_dim in post.dims:
        post = post.assign_coords({VARS.z_dim: list(law.z_names)})
    tree["posterior"] = xr.DataTree(post)
    return tree


@dataclass(eq=False)  # as DownstreamFit: the generated == compared DataFrames and raised
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
    sampler : SamplerConfig
        Settings of the kept draws.
    random_seed : int
    diagnostics : Diagnostics
    timings : dict
        Seconds spent preparing, compiling and sampling.
    notes : list of str
        What happened (fallbacks, a retry with the long sampler settings, runs left out).
    min_tokens_per_param : float
        Runs on fewer tokens per parameter than this were left out of the fit
        (``ScalingLaw(min_tokens_per_param=...)``; 0 for fits saved before it existed).
    runs_left_out : int
        How many of the user's runs that left out (they are not in ``runs``).
    undertrained : UndertrainedError
        The model-form error of targets below ``min_tokens_per_param`` (:class:`~bayes_scaling.extrapolation.UndertrainedError`),
        updated with the misfit of the runs the fit left out.
    varying : tuple of str or None
        Sampling coordinates (``law.z_names``) that vary by domain (hierarchical fits); the
        others are shared by every domain, a new one included.
    extrapolation : ExtrapolationPrior
        The model-form error added to forecasts beyond the runs
        (:mod:`bayes_scaling.extrapolation`).
    domain_col : str
        The column of the runs that named their domains (``ScalingLaw(domain_col=...)``); targets
        without a ``domain`` column read their domains from it.
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
    extrapolation: ExtrapolationPrior = NO_EXTRAPOLATION_ERROR
    domain_col: str = "domain"
    min_tokens_per_param: float = 0.0
    runs_left_out: int = 0
    undertrained: UndertrainedError = NO_UNDERTRAINED_ERROR

    # ------------------------------------------------------------ the draws
    @property
    def n_draws(self) -> int:
        """Total posterior draws S (chains x draws)."""
        p = self.posterior["posterior"]
        return int(p.sizes["chain"] * p.sizes["draw"])

    def has(self, name: str) -> bool:
        """Whether the posterior holds a variable of this name (see :data:`bayes_scaling.model.VARS`)."""
        return name in self.posterior["posterior"].data_vars

    def draws(self, name: str) -> np.ndarray:
        """Draws of one posterior variable with chains and draws flattened, shape (S, ...).

        Parameters
        ----------
        name : str
            A name of :data:`bayes_scaling.model.VARS`.

        Raises
        ------
        KeyError
            When the posterior has no such variable.
        """
        if not self.has(name):
            raise KeyError(f"the posterior has no variable '{name}'.")
        v = np.asarray(self.posterior["posterior"][name].values)
        return v.reshape(self.n_draws, *v.shape[2:])

    def _slot(self, values: np.ndarray, domain: str) -> np.ndarray:
        """Column of a per-domain (S, domains, ...) array for a fitted domain (a one-domain draw serves every name)."""
        return values[:, self.domains.index(domain) if values.shape[1] > 1 else 0]

    def free_variables(self) -> list[str]:
        """Names of the model's variables whose convergence is checked (those present in this posterior)."""
        return [n for n in VARS.checked if self.has(n)]

    def trace_variables(self) -> list[str]:
        """Population-level variables drawn by default in trace and rank plots (those present)."""
        return [n for n in VARS.traced if self.has(n)]

    # ------------------------------------------------------------ accessors
    def theta(self, domain: str | None = None) -> np.ndarray:
        """Posterior draws of a fitted domain's sampling parameters, shape (S, p).

        Parameters
        ----------
        domain : str, optional
            Domain name; None gives the population centre (:meth:`population_theta`).

        Raises
        ------
        KeyError
            For a domain the fit has not seen (see :meth:`new_domain_draws`).
        """
        if domain is None:
            return self.population_theta()
        if domain not in self.domains:
            hint = did_you_mean(domain, list(self.domains), cutoff=0.8, contains=True)
            raise KeyError(f"unknown domain '{domain}'{f' ({hint})' if hint else ''}; known domains: "
                           f"{', '.join(self.domains)}.")
        return self._slot(self.draws(VARS.theta), domain)

    def population_theta(self) -> np.ndarray:
        """Posterior draws of the population centre of the sampling parameters, shape (S, p)."""
        return self.draws(VARS.population)

    def theta_dict(self, theta: np.ndarray) -> dict[str, np.ndarray]:
        """Split (S, p) draws into ``{name: (S,)}`` by ``law.theta_names``."""
        return {k: theta[:, j] for j, k in enumerate(self.law.theta_names)}

    @property
    def spread_names(self) -> tuple[str, ...]:
        """Names of the model's sampling coordinates (``law.z_names``), the columns of :meth:`between_domain_spread`."""
        return tuple(self.law.z_names)

    def between_domain_spread(self) -> np.ndarray:
        """Posterior draws of the between-domain spread of each sampling coordinate, shape (S, q).

        Columns follow :attr:`spread_names`; coordinates not in :attr:`varying` are shared by
        every domain (spread 0).

        Raises
        ------
        RunsTableError
            For a fit without a hierarchy (one domain).
        """
        if not self.hierarchical:
            raise RunsTableError("this fit has a single domain and no hierarchy, so it has no between-domain spread.")
        return self.draws(VARS.spread)

    def noise_scale(self, domain: str) -> np.ndarray:
        """Posterior draws of a fitted domain's noise scale (log-loss units), shape (S,)."""
        return self._slot(self.draws(VARS.noise), domain)

    def noise_scales(self) -> np.ndarray:
        """Posterior draws of every fitted domain's noise scale, shape (S, domains)."""
        return self.draws(VARS.noise)

    def tail_weight(self, domain: str | None = None) -> np.ndarray:
        """Student-t degrees of freedom of a domain, shape (S,) (``inf`` for a normal likelihood).

        A domain the fit has not seen gets the normal noise of the domains with few runs
        (:data:`bayes_scaling.model.SPARSE_NU`).
        """
        if not self.has(VARS.tail_weight):
            return np.full(self.n_draws, np.inf)
        if domain in self.domains:
            return self._slot(self.draws(VARS.tail_weight), domain)
        return np.full(self.n_draws, SPARSE_NU)

    def discrepancy_scale(self) -> np.ndarray:
        """Posterior draws of the discrepancy amplitude eta (log-loss units), shape (S,).

        Raises
        ------
        KeyError
            For a fit without a discrepancy term.
        """
        return self.draws(VARS.discrepancy_scale)

    def discrepancy_coefficients(self, domain: str) -> np.ndarray:
        """Posterior draws of a domain's discrepancy coefficients, shape (S, m).

        The discrepancy at centred log inputs ``x`` is ``coef @ basis.psi(law, x).T``
        (see :mod:`bayes_scaling.discrepancy`).

        Raises
        ------
        KeyError
            For a domain without a discrepancy term.
        """
        basis = self.bases[domain]
        slot = list(self.bases).index(domain)
        ls = np.full((self.n_draws, basis.dim), self.gp_lengthscale)
        return basis.sqrt_spectral(self.discrepancy_scale(), ls) * self.draws(VARS.discrepancy_weights)[:, slot, :]

    def prior_draws(self, n: int, rng: np.random.Generator, prior: PriorSpec | None = None,
                    domain: str | None = None) -> np.ndarray:
        """Draws of one domain's parameters from a prior, shape (n, p) in ``law.theta_names``.

        The prior in the model's sampling coordinates (:meth:`PriorSpec.z_prior`) at this fit's
        reference scales; a published prior is widened by the between-study spread (a domain
        departs from the published law by about as much as studies differ, :data:`~bayes_scaling.priors.BETWEEN_STUDY`).

        Parameters
        ----------
        n : int
        rng : numpy.random.Generator
        prior : PriorSpec, optional
            Default: the fit's prior.
        domain : str, optional
            Whose runs set a weak prior's scale (default: every run of the fit).
        """
        prior = prior or self.prior
        runs = self.own_runs(domain) if domain is not None else self.runs
        mean, cov = prior.z_prior(self.law, self.refs, runs)
        if prior.informative:
            cov = cov + np.diag(between_study_spread(self.law) ** 2)
        return self.law.theta_matrix(rng.multivariate_normal(mean, cov, size=n))

    def own_runs(self, domain: str | None = None) -> pd.DataFrame:
        """The runs a domain's forecasts rest on: its own runs, or every non-reference run for a domain the
        fit has not seen (or for ``None``)."""
        runs = self.runs
        if domain in self.domains:
            return runs[runs["domain"] == domain]
        own = runs[~runs["is_reference"]] if "is_reference" in runs else runs
        return own if len(own) else runs

    def tokens_per_param_span(self, domain: str | None = None) -> tuple[float, float] | None:
        """Lowest and highest tokens per parameter (D / N) of the runs a domain's forecasts rest on
        (:meth:`own_runs`): a compute-optimal split or a candidate outside it is an extrapolation of the law. None
        for runs without ``params`` and ``tokens`` (a law of C alone)."""
        runs = self.own_runs(domain)
        if not len(runs) or not {"params", "tokens"} <= set(runs):
            return None
        ratio = (runs["tokens"] / runs["params"]).to_numpy(float)
        return float(ratio.min()), float(ratio.max())

    def extrapolation_error(self, table: pd.DataFrame, domain: str | None = None) -> np.ndarray:
        """Draws of the model-form error of log loss at the rows of ``table``, shape (S, n).

        ``kappa_s z_s h(x)`` (:mod:`bayes_scaling.extrapolation`): zero inside the runs' range,
        growing with the decades ``h`` beyond the domain's runs (:meth:`own_runs`); one
        ``kappa_s z_s`` per posterior draw and domain (:meth:`drift_key`), the same in every call for this fit; beyond the distance the fit's own
        runs measured it, the population's slope (:meth:`~bayes_scaling.extrapolation.ExtrapolationPrior.drift`).
        Plus, for targets on fewer tokens per parameter than the fit kept (:attr:`min_tokens_per_param`), the error
        of that regime (:attr:`undertrained`), which grows with their depth below it.

        Parameters
        ----------
        table : pandas.DataFrame
            Targets with the law's variables, n rows.
        domain : str, optional
            A fitted domain, or any other name (or None) for a new domain.
        """
        h = extrapolation_distance(self.own_runs(domain), table)
        key = self.drift_key(domain)
        drift = self.extrapolation.drift(h, self.n_draws, self.random_seed, key=key)
        depth = self.undertrained.depth(table)
        if depth.any():
            drift = drift + self.undertrained.draws(depth, self.n_draws, self.random_seed, key=key)
        return drift

    def drift_key(self, domain: str | None = None) -> int:
        """The stream of a domain's model-form drift (:meth:`~bayes_scaling.extrapolation.ExtrapolationPrior.slopes`):
        its place among :attr:`domains` (0 for the first, so a fit of one domain draws as before domains drifted on
        their own), one more for every domain the fit has not seen (they are one population)."""
        return self.domains.index(domain) if domain in self.domains else len(self.domains)

    def new_domain_draws(self, rng: np.random.Generator, domain: str | None = None):
        """Draws of the parameters and noise of a domain the fit has not seen (the population predictive).

        A new domain's sampling coordinates are drawn around the population centre with the
        fitted between-domain spread of each coordinate (shared coordinates stay at the
        centre), and a noise scale from the fitted noise population.

        Parameters
        ----------
        rng : numpy.random.Generator
        domain : str, optional
            Name of the new domain (only used in the error message).

        Returns
        -------
        (theta, sigma, nu) : tuple of ndarray
            Shapes (S, p), (S,) and (S,).

        Raises
        ------
        RunsTableError
            For a fit without a hierarchy (one domain).
        """
        if not self.hierarchical:
            asked = f"domain '{domain}' is not in this fit: " if domain is not None else ""
            raise RunsTableError(
                f"{asked}this fit has a single domain and no hierarchy, so it cannot forecast another domain; "
                f"use domain '{self.domains[0]}' or refit with reference runs."
            )
        # a new domain's sampling coordinates around the population centre, with the fitted spread
        # of each (0 for coordinates shared by every domain)
        z = self.draws(VARS.population_z) + self.between_domain_spread() * rng.standard_normal((self.n_draws, len(self.law.z_names)))
        theta = self.law.theta_matrix(z)
        if self.has(VARS.noise_centre):
            sigma = np.exp(self.draws(VARS.noise_centre) + NOISE_SPREAD * rng.standard_normal(self.n_draws))
        else:
            sigma = self.noise_scale(self.domains[0])
        return theta, sigma, self.tail_weight(None)

    def _only_domain(self) -> str | None:
        """The only non-reference domain (or the only domain), None for a fit of several."""
        own = self.own_domains
        return own[0] if len(own) == 1 else None

    @property
    def own_domains(self) -> list[str]:
        """The domains of the user's runs, a reference's domains aside, in model order.

        Every fit has at least one; were every domain a reference's, all domains are returned.
        """
        return [d for d in self.domains if d not in self.reference_domains] or list(self.domains)

    @property
    def default_domain(self) -> str:
        """The domain used when a target names none: the only non-reference domain."""
        only = self._only_domain()
        if only is not None:
            return only
        raise RunsTableError(
            f"this fit has several domains; say which one: a '{self.domain_col}' column in the targets, or domain=NAME. "
            "Known domains: " + ", ".join(self.domains) + " (any other name gives the forecast for a new, unseen "
            "domain). For every domain at once, as the command line does without --domain, pass the targets through "
            "bayes_scaling.workflow.expand_targets first."
        )

    def domain_for(self, what: str, domain: str | None = None, *, new: str | None = None, every: str = "") -> str:
        """``domain`` if given, else :attr:`default_domain`, with an error that names what the domain is for.

        Parameters
        ----------
        what : str
            What needs one domain, e.g. "figure" (used in the message).
        domain : str, optional
        new : str, optional
            What a name the fit has not seen gives (e.g. "frontier": that of a new, unseen domain), said in
            the message; None when an unseen name is an error there.
        every : str, optional
            A sentence appended to the message: how to get every domain at once.

        Returns
        -------
        str

        Raises
        ------
        RunsTableError
            When ``domain`` is None and the fit has several domains of its own: the message lists
            them (:attr:`default_domain`'s speaks of targets, which a figure or a frontier has none of).
        """
        if domain is not None:
            if new:  # an unseen name gives a new domain's numbers: a near miss of a fitted name is questioned
                warn_unseen_domain(domain, self.domains)
            return domain
        only = self._only_domain()
        if only is not None:
            return only
        raise RunsTableError(
            f"this fit has several domains; say which one the {what} is for with domain=NAME. Known domains: "
            f"{', '.join(self.domains)}" + (f" (any other name gives the {new} of a new, unseen domain)" if new else "")
            + "." + (f" {every}" if every else ""))

    # ------------------------------------------------------------ summaries
    def published_prior(self) -> PriorSpec | None:
        """The published fit this posterior is compared with.

        Returns
        -------
        PriorSpec or None
            The informative prior; for a weak prior the law's published prior
            (:func:`bayes_scaling.priors.published_prior_name`: Besiroglu et al. 2024 for the Chinchilla law,
            Muennighoff et al. 2023 for the data-constrained law, ...); None for a law without one.
        """
        if self.prior.informative:
            return self.prior
        # the data-constrained law fitted with the weak prior it is advised for embedded runs had "No published law to
        # compare with" in risk (a fresh user): only besiroglu2024 was looked up, which has no such entry
        name = published_prior_name(self.law)
        if name is None:
            return None
        try:
            return get_prior(name, law=self.law.name)
        except ValueError:
            return None

    def published_theta(self) -> np.ndarray | None:
        """Sampling parameters of the published law (:meth:`published_prior`), shape (p,), or None."""
        prior = self.published_prior()
        if prior is None:
            return None
        th = self.law.from_catalog({k: np.asarray(v, float) for k, v in prior.mean.items()}, self.refs)
        return np.array([float(th[k]) for k in self.law.theta_names])

    def published_values(self) -> tuple[dict[str, float], str | None]:
        """Published estimates of the law's natural parameters to show next to the posterior.

        Returns
        -------
        values : dict of float
            The natural parameters of :meth:`published_prior` (empty when there is none), without those the
            prior leaves weak (``PriorSpec.weak_names``: a one-variable law's E).
        source : str or None
            The catalog entry the values come from.
        """
        prior = self.published_prior()
        if prior is None:
            return {}, None
        cat = {k: np.asarray(v) for k, v in prior.mean.items()}
        nat = self.law.natural(self.law.from_catalog(cat, self.refs), self.refs)
        # not a parameter the prior leaves weak: a one-variable law's E holds the fixed other term, so the
        # published E is no estimate of it (a params-only fit was said to "pull E away" from 1.817)
        weak = {k[3:] if k.startswith("log") else k for k in prior.weak_names}
        return {k: float(v) for k, v in nat.items() if k not in weak}, prior.name

    def parameters(self, prob: float = 0.9, domain: str | None = None) -> pd.DataFrame:
        """Posterior median and equal-tailed interval of the natural parameters.

        Parameters
        ----------
        prob : float, default 0.9
            Interval probability.
        domain : str, optional
            Domain; default: every domain (and the population centre for hierarchical fits).

        Returns
        -------
        pandas.DataFrame
            Columns ``domain``, ``parameter``, ``median``, ``lower``, ``upper``,
            ``published`` (the prior's value, NaN for a weak prior). Units of the Chinchilla law
            L = E + A / N^alpha + B / D^beta (Hoffmann et al. 2022, Eq. 2): E in nats/token, A in nats/token x
            parameters^alpha, B in nats/token x tokens^beta, alpha and beta dimensionless; the other laws' parameters
            likewise (:mod:`bayes_scaling.laws`).
        """
        doms = [domain] if domain else list(self.domains)
        rows = []
        published = self.published_values()[0] if self.prior.informative else {}  # the prior's centre
        targets = [(d, self.theta(d)) for d in doms]
        if self.hierarchical and len(self.domains) > 1 and domain is None:
            targets.append(("(population)", self.population_theta()))
        for d, th in targets:
            nat = self.law.natural(self.theta_dict(th), self.refs)
            for k, v in nat.items():
                lo, hi = interval(np.asarray(v, float), prob)
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

    def summary(self, prob: float = 0.9) -> pd.DataFrame:
        """Per parameter and domain: posterior median, interval, R-hat, effective sample sizes, published value.

        The law's natural parameters (E, A, B, alpha, beta for the Chinchilla law), as
        :meth:`parameters` gives them, with the convergence diagnostics of those same
        parameters (ArviZ rank-normalised R-hat and bulk/tail ESS, computed on the draws
        :meth:`add_natural_parameters` puts in the posterior) and the published value they
        are compared with (:meth:`published_values`; for a weak prior the Besiroglu et al.
        (2024) estimate when the catalog has one). The JSON form, with the fit's data,
        prior, diagnostics and timings, is :meth:`to_dict`.

        Parameters
        ----------
        prob : float, default 0.9
            Interval probability (equal-tailed).

        Returns
        -------
        pandas.DataFrame
            Columns ``domain``, ``parameter``, ``median``, ``lower``, ``upper``, ``r_hat``,
            ``ess_bulk``, ``ess_tail``, ``published``; ``attrs["published_source"]`` names
            the catalog entry of ``published`` (None without one). Parameter units as in :meth:`parameters`.
        """
        import arviz as az  # imported on use: diagnostics are the only caller of ArviZ here

        from ._warnings import quiet_library_noise

        table = self.parameters(prob)
        published, source = self.published_values()
        table["published"] = table["parameter"].map(lambda k: published.get(k, np.nan)).astype(float)
        for col in ("r_hat", "ess_bulk", "ess_tail"):
            table[col] = np.nan
        tree = self.posterior
        names = [k for k in dict.fromkeys(table["parameter"]) if self.has(k)]
        if names and self.NATURAL_DIM in tree["posterior"].dims:
            with quiet_library_noise(), np.errstate(all="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # a constant parameter has no R-hat (NaN)
                stats = {
                    "r_hat": az.rhat(tree, var_names=names) if tree["posterior"].sizes["chain"] > 1 else None,
                    "ess_bulk": az.ess(tree, var_names=names, method="bulk"),
                    "ess_tail": az.ess(tree, var_names=names, method="tail"),
                }
            for col, res in stats.items():
                if res is None:
                    continue
                ds = res["posterior"].to_dataset() if "posterior" in res.children else res.to_dataset()
                for i, r in enumerate(table.itertuples()):
                    if r.parameter in ds and r.domain in ds[r.parameter][self.NATURAL_DIM].values:
                        table.iloc[i, table.columns.get_loc(col)] = float(ds[r.parameter].sel({self.NATURAL_DIM: r.domain}))
        table = table[["domain", "parameter", "median", "lower", "upper", "r_hat", "ess_bulk", "ess_tail", "published"]]
        table.attrs["published_source"] = source
        table.attrs["prob"] = prob
        return table

    # ------------------------------------------------- natural parameters
    #: Dimension of the natural parameters in the posterior (fitted domains, then ``(population)``).
    NATURAL_DIM = "domain"
    #: Entry of :attr:`NATURAL_DIM` holding the population centre (hierarchical fits of several domains).
    POPULATION = "(population)"

    def __post_init__(self):
        self.add_natural_parameters()

    def natural_parameter_names(self) -> list[str]:
        """Names of the law's own parameters as the posterior holds them (``E``, ``A``, ``B``, ``alpha``, ``beta``)."""
        sampling = {getattr(VARS, f.name) for f in dataclasses.fields(VARS)}
        th = np.zeros((1, len(self.law.theta_names)))
        try:
            names = list(self.law.natural(self.theta_dict(th), self.refs))
        except (KeyError, ValueError, TypeError):
            return []
        return [k for k in names if k not in sampling]

    def add_natural_parameters(self) -> ScalingFit:
        """Put the law's own parameters in the posterior group, under their own names.

        For the Chinchilla law: ``E``, ``A``, ``B``, ``alpha``, ``beta``, each with dims
        (``chain``, ``draw``, ``domain``); the ``domain`` coordinate lists the fitted domains
        and, for a hierarchical fit of several domains, ``(population)`` (the population
        centre). ``az.summary(fit.posterior, var_names=["E", "alpha", "beta"])``,
        ``arviz_plots`` and one's own plots then need no knowledge of the sampling
        coordinates. The values are :meth:`Law.natural <bayes_scaling.laws.Law.natural>`
        of the sampled draws (deterministic: nothing is re-sampled); convergence is still
        checked on the sampled variables. Called when a fit is made or loaded; calling it
        again recomputes the same values. The fit's tree is copied, never changed in place
        (a fit made with ``dataclasses.replace`` leaves the original's tree as it was).

        Returns
        -------
        ScalingFit
            The same fit.
        """
        names = self.natural_parameter_names()
        tree = self.posterior
        if not names or tree is None or "posterior" not in tree.children or not self.has(VARS.theta):
            return self
        try:
            post = tree["posterior"].to_dataset()
            chains, draws = post.sizes["chain"], post.sizes["draw"]
            doms = list(self.domains)
            thetas = [self.theta(d) for d in doms]
            if self.hierarchical and len(doms) > 1 and self.has(VARS.population):
                doms.append(self.POPULATION)
                thetas.append(self.population_theta())
            nat = [self.law.natural(self.theta_dict(th), self.refs) for th in thetas]
            values = {k: np.stack([np.asarray(n[k], float).reshape(chains, draws) for n in nat], axis=-1) for k in names}
        except (KeyError, ValueError, IndexError):  # a posterior without the draws this needs: nothing to add
            return self
        old = [k for k in post.data_vars if self.NATURAL_DIM in post[k].dims]
        post = post.drop_vars(old)
        if self.NATURAL_DIM in post.coords:
            post = post.drop_vars(self.NATURAL_DIM)
        post = post.assign({k: (("chain", "draw", self.NATURAL_DIM), v) for k, v in values.items()})
        post = post.assign_coords({self.NATURAL_DIM: doms})
        for k in names:
            post[k].attrs["description"] = f"the {self.law.name} law's parameter {k} (derived from the sampled draws)"
        tree = tree.copy(deep=False)
        tree["posterior"] = xr.DataTree(post)
        self.posterior = tree
        return self

    # ------------------------------------------------------ convenience API
    def predict(self, targets, prob: float = 0.9, domain: str | None = None, random_seed: int | None = None,
                kind: str = "eti", extra_probs=()) -> pd.DataFrame:
        """Posterior predictive loss at targets (:func:`bayes_scaling.predict.predict`, which says more).

        Parameters
        ----------
        targets : DataFrame or path
            One row per target: ``params`` (N) and ``tokens`` (D) or ``flops`` (C; D = C / (6 N)), raw counts;
            optional ``domain`` (a fitted domain, or a new name for the forecast of an unseen domain); with the
            data-constrained law ``unique_tokens`` (U).
        prob : float, default 0.9
            Probability of the credible intervals, in (0, 1).
        domain : str, optional
            Domain of the rows that name none (required for a fit of several domains without a ``domain`` column).
        random_seed : int, optional
            Seed of the run-to-run noise draws (default: the fit's seed).
        kind : {"eti", "hdi"}, default "eti"
            Equal-tailed or highest-density intervals.
        extra_probs : sequence of float, default ()
            Further interval probabilities from the same draws, e.g. ``(0.5,)``: columns ``loss_lower_50``,
            ``loss_upper_50``, ``mean_loss_lower_50``, ``mean_loss_upper_50``.

        Returns
        -------
        pandas.DataFrame
            The targets' columns plus ``domain``, ``domain_kind`` (``fitted`` or ``new_domain``) and, in nats/token,
            ``loss_median``, ``loss_lower``, ``loss_upper`` (one new training run, its noise included) and
            ``mean_loss_median``, ``mean_loss_lower``, ``mean_loss_upper`` (the expected loss: the law, its
            discrepancy term and the model-form error beyond the runs).

        Raises
        ------
        RunsTableError
            Invalid targets (the message names the column, the row and the fix), or no domain for a row of a fit of
            several domains.
        """
        from .predict import predict  # the one upward import: a convenience method (tests/test_architecture.py)

        return predict(self, targets, prob=prob, domain=domain, random_seed=random_seed, kind=kind,
                       extra_probs=extra_probs)

    def frontier(self, flops, prob: float = 0.9, domain: str | None = None, *, max_params: float | None = None,
                 unique_tokens: float | None = None, inference_tokens: float = 0.0, random_seed: int | None = None,
                 notes: list | None = None) -> pd.DataFrame:
        """Compute-optimal allocation with credible intervals (:func:`bayes_scaling.decisions.frontier`, which says
        more).

        Parameters
        ----------
        flops : float or sequence of float
            Budgets C in FLOPs (C = 6 N D for training; plus 2 N per inference token with ``inference_tokens``).
        prob : float, default 0.9
            Probability of the credible intervals.
        domain : str, optional
            A fitted domain, or a new name for the frontier of an unseen domain (required for a fit of several).
        max_params : float, optional
            Largest model (parameters) allowed.
        unique_tokens : float, optional
            Unique tokens available (data-constrained law): the optimum repeats them when it needs more.
        inference_tokens : float, default 0
            Tokens the model will serve, charged at 2 N FLOPs each (Sardana et al. 2024).
        random_seed : int, optional
            Seed of the draws of a new domain.
        notes : list, optional
            Receives the note on where the law plus its discrepancy term is lowest instead of a warning.

        Returns
        -------
        pandas.DataFrame
            One row per budget: ``flops`` and, each as ``_median``, ``_lower``, ``_upper``: ``params_opt`` (N),
            ``tokens_opt`` (D), ``tokens_per_param`` (D / N) and ``loss_opt`` (expected loss, nats/token); with
            ``unique_tokens`` also ``unique_tokens`` and ``epochs``; plus ``domain``.

        Raises
        ------
        ValueError
            Non-positive budgets or constraints, or a law without an N-D split.
        RunsTableError
            A fit of several domains without ``domain``.
        """
        from .decisions import frontier  # the other upward import: a convenience method

        return frontier(self, flops, prob=prob, domain=domain, max_params=max_params, unique_tokens=unique_tokens,
                        inference_tokens=inference_tokens, random_seed=random_seed, notes=notes)

    # --------------------------------------------------------------- saving
    #: Fields of :meth:`to_dict` that :meth:`from_dict` needs (``varying`` is optional: older fits lack it).
    REQUIRED_FIELDS = (
        "bayes_scaling_version", "law", "prior", "structure", "hierarchical", "refs", "domains",
        "reference_domains", "bases", "sampler", "sampler_used", "random_seed", "timings", "notes",
        "discrepancy", "gp_lengthscale", "diagnostics", "extrapolation",
    )

    def to_dict(self, prob: float = 0.9) -> dict:
        """The fit as JSON-serialisable values: its configuration and its summary (everything but the draws and the runs).

        Parameters
        ----------
        prob : float, default 0.9
            Interval probability of the parameter summary.

        Returns
        -------
        dict
            The fields of ``fit.json`` (format 3; :meth:`from_dict` reads them back) except those
            :mod:`bayes_scaling.io` adds (``format_version``, ``checksums``, ``config_sha256``),
            plus the summary: ``law_citation``, ``interval``, ``data`` (runs, domains, ranges,
            configurations repeated with several seeds), ``parameters`` (per domain and parameter:
            median, lower, upper, r_hat, ess_bulk, ess_tail, published), ``published_source``,
            ``diagnostics_ok``, ``discrepancy_domains``. What ``summary()`` returned before it
            became a table; ``summary.json`` of ``bayes-scaling fit`` is this plus the forecasts.
        """
        out = {
            "bayes_scaling_version": self.version,
            "law": self.law.name,
            "prior": self.prior.to_dict(),
            "structure": self.structure.to_dict(),
            "hierarchical": self.hierarchical,
            "refs": self.refs,
            "domains": self.domains,
            "reference_domains": self.reference_domains,
            "bases": {d: b.to_dict() for d, b in self.bases.items()},
            "sampler": self.sampler.to_dict(),
            "sampler_used": self.sampler_used,
            "random_seed": self.random_seed,
            "timings": self.timings,
            "notes": self.notes,
            "discrepancy": self.discrepancy,
            "gp_lengthscale": self.gp_lengthscale,
            "varying": list(self.varying) if self.varying is not None else None,
            "extrapolation": self.extrapolation.to_dict(),
            "domain_col": self.domain_col,
            "min_tokens_per_param": self.min_tokens_per_param,
            "runs_left_out": self.runs_left_out,
            "undertrained": self.undertrained.to_dict(),
            "diagnostics": self.diagnostics.to_dict() if self.diagnostics else None,
        }
        runs = self.runs
        own = runs[~runs["is_reference"]] if "is_reference" in runs else runs
        repeated = repeated_configurations(own)
        table = self.summary(prob)

        def clean(v):
            return None if v is None or not np.isfinite(v) else float(v)

        out.update({
            "law_citation": self.law.citation,
            "interval": {"prob": prob, "kind": "equal-tailed"},
            "data": {
                "n_runs": int(len(own)),
                "n_reference_runs": int(len(runs) - len(own)),
                "domains": self.own_domains,
                "reference_domains": self.reference_domains,
                "params_range": [float(own["params"].min()), float(own["params"].max())] if "params" in own else None,
                "tokens_range": [float(own["tokens"].min()), float(own["tokens"].max())] if "tokens" in own else None,
                "repeated_configurations": int(len(repeated)),
                "runs_in_repeated_configurations": int(repeated.sum()),
            },
            "parameters": {
                str(d): {r.parameter: {"median": float(r.median), "lower": float(r.lower), "upper": float(r.upper),
                                       "r_hat": clean(r.r_hat), "ess_bulk": clean(r.ess_bulk),
                                       "ess_tail": clean(r.ess_tail), "published": clean(r.published)}
                         for r in sub.itertuples()}
                for d, sub in table.groupby("domain", sort=False)
            },
            "published_source": table.attrs["published_source"],
            "diagnostics_ok": bool(self.diagnostics.ok) if self.diagnostics else None,
            "discrepancy_domains": list(self.bases),
        })
        return out

    @classmethod
    def from_dict(cls, config: dict, posterior: xr.DataTree, runs: pd.DataFrame) -> ScalingFit:
        """Inverse of :meth:`to_dict`, given the draws and the runs.

        Raises
        ------
        KeyError, TypeError, ValueError, AttributeError
            For a missing or malformed field (:meth:`load` turns them into a :class:`FitFileError`).
        """
        cfg = config
        return cls(
            law=get_law(cfg["law"]),
            prior=PriorSpec.from_dict(cfg["prior"]),
            structure=Structure.from_dict(cfg["structure"]),
            hierarchical=bool(cfg["hierarchical"]),
            refs={k: float(v) for k, v in cfg["refs"].items()},
            domains=[str(d) for d in cfg["domains"]],
            reference_domains=[str(d) for d in cfg["reference_domains"]],
            runs=runs,
            posterior=posterior,
            bases={d: DiscrepancyBasis.from_dict(b) for d, b in cfg["bases"].items()},
            sampler=SamplerConfig(**cfg["sampler"]),
            random_seed=int(cfg["random_seed"]),
            timings=dict(cfg["timings"]),
            notes=list(cfg["notes"]),
            sampler_used=cfg["sampler_used"],
            discrepancy=cfg["discrepancy"],
            gp_lengthscale=float(cfg["gp_lengthscale"]),
            varying=tuple(str(v) for v in cfg["varying"]) if cfg.get("varying") is not None else None,
            extrapolation=ExtrapolationPrior.from_dict(cfg["extrapolation"]),
            domain_col=str(cfg.get("domain_col", "domain")),  # fits saved before it was recorded: "domain"
            min_tokens_per_param=float(cfg.get("min_tokens_per_param", 0.0)),  # fits saved before: every run fitted
            runs_left_out=int(cfg.get("runs_left_out", 0)),
            undertrained=UndertrainedError.from_dict(cfg.get("undertrained")),  # fits saved before: no such error
            diagnostics=Diagnostics.from_dict(cfg["diagnostics"]) if cfg["diagnostics"] else None,
        )

    def save(self, path, force: bool = False) -> Path:
        """Save to a directory (NetCDF + JSON + CSV); see :func:`bayes_scaling.io.write_fit`.

        Parameters
        ----------
        path : str or Path
        force : bool, default False
            Replace an existing fit at ``path``.

        Returns
        -------
        Path

        Raises
        ------
        FileExistsError
            If ``path`` exists and ``force`` is False, or is a file.
        """
        return write_fit(path, self.to_dict(), self.posterior, self.runs, force=force)

    @classmethod
    def load(cls, path) -> ScalingFit:
        """Load a fit saved by :meth:`save`.

        Predictions from it are identical to those of the saved fit (same draws, same seed).

        Parameters
        ----------
        path : str or Path
            The directory :meth:`save` wrote (``fit.json``, ``posterior.nc``, ``runs.csv``), e.g. the ``fit``
            directory of a ``bayes-scaling fit --out DIR`` run.

        Returns
        -------
        ScalingFit

        Raises
        ------
        FitFileError
            Missing directory or files, checksum mismatch (truncated or edited file),
            missing or malformed JSON fields, incompatible format version, draws that do
            not match the configuration.

        Warns
        -----
        ConvergenceWarning
            If the saved fit failed its convergence checks (``diagnostics.ok`` is False).
        """
        saved = read_fit(path, required=cls.REQUIRED_FIELDS)
        path, cfg_file = saved.path, saved.path / "fit.json"
        with config_errors(cfg_file):
            fit = cls.from_dict(saved.config, saved.posterior, saved.runs)
            missing = [v for v in fit.required_variables() if not fit.has(v)]
            if missing:
                raise FitFileError(f"'{path / 'posterior.nc'}' lacks the variables {missing}; it is not a bayes_scaling fit.")
            theta = fit.posterior["posterior"][VARS.theta]
            if theta.shape[-1] != len(fit.law.theta_names) or theta.shape[-2] != len(fit.domains):
                raise FitFileError(f"'{path}' is inconsistent: the draws do not match the law and domains in fit.json.")
        if fit.diagnostics is not None and not fit.diagnostics.ok:
            warn_caller(
                f"the fit in '{path}' failed its convergence checks when it was made, so its forecasts may be wrong: "
                + " ".join(fit.diagnostics.problems),
                ConvergenceWarning,
            )
        return fit

    def required_variables(self) -> list[str]:
        """Variables a usable posterior of this fit must hold."""
        return [VARS.population, VARS.theta, VARS.noise] + (
            [VARS.discrepancy_scale, VARS.discrepancy_weights] if self.bases else [])

    # ----------------------------------------------------------------- repr
    def __repr__(self) -> str:
        """Law and prior with their sources, runs, domains, diagnostics and the 90 % intervals of E, alpha, beta."""
        return fit_text_summary(self)

    def _repr_html_(self) -> str:
        """The same summary as HTML for Jupyter (names escaped), with every parameter in a collapsed table."""
        return fit_html_summary(self)
