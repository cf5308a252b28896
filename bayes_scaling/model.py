"""Floor 1. The PyMC model: a (hierarchical) scaling law with a robust likelihood.

Structure (all sizes in natural logs, centred at the reference scales; z are the law's
sampling coordinates ``law.z_names``, e.g. for the Chinchilla law the log loss at the centre
of the runs, the log ratios of the size terms to E there, log s and logit a)::

    z_pop ~ N(0, I_q)
    mu    = m0 + L0 z_pop                       # population centre in z; prior N(m0, L0 L0')
    tau_j ~ LogNormal(log scale_j, 0.75)        # learned spread (loss level, exponent), else fixed
                                                # (bayes_scaling.priors.BETWEEN_DOMAIN)
    z_d   = mu + tau * e_d, e_d ~ N(0, I)       # non-centred, or centred (z_d ~ N(mu, tau)) where the
                                                # runs pin the coordinate (``centre``)
    theta_d = law.theta_from_z(z_d)             # E, exponents > 0 by construction
    (one domain: z = m0 + L0 w, w ~ N(0, I))
    log sigma_d = s_mu + 0.5 * zs_d             # per-domain noise, partially pooled (fixed spread)
    nu ~ Gamma(2, 0.1)                          # Student-t tail weight shared by the data-rich domains
                                                # (Juárez & Steel 2010); domains with few runs: normal noise
    delta_d(x) = psi_d(x) (sqrt_spectral(eta, ls) * zg_d)   # orthogonal HSGP, rich domains only
    log L_i ~ StudentT(nu, law(x_i, theta_{d_i}) + delta_{d_i}(x_i), sigma_{d_i})

Why these coordinates: a few runs over a decade measure the loss level and its local slopes,
not E and the size term separately (the published E-A bootstrap correlation is 0.9993,
Besiroglu et al. 2024). Sampled in (log E, log-term, exponent) the posterior is a banana
across domains that mixed slowly (R-hat 1.03 with 1000 draws on 24 OpenLM domains) and, with a
free sign, let an exponent go negative (a second mode); in z the level is a coordinate of its
own, the split is a separate, prior-dominated one, and every exponent is positive.
Measurements of the alternatives tried are in ``benchmarks/model_geometry.md``.

Everything that changes between fits of the same *shape* — the runs, the
prior mean and Cholesky factor, the between-domain scales, the discrepancy
basis — is a ``pm.Data`` container, so one compiled model serves every refit
(``nutpie``'s ``with_data``). The structure key :class:`Structure` names what
does need a new graph (law, number of domains, number of discrepancy domains).

The likelihood is on log loss because the published fits minimise a Huber loss
on log L (Hoffmann et al. 2022, Eq. 3; Besiroglu et al. 2024); Student-t is the
Bayesian counterpart of that robust loss, with the tail weight learned.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pymc as pm
import pytensor.tensor as pt

from .discrepancy import M_PER_DIM, DiscrepancyBasis
from .laws import Law, get_law
from .priors import SPREAD_LOG_SD, between_domain_spread

__all__ = ["Structure", "build_model", "data_arrays", "PosteriorNames", "VARS", "NOISE_PRIOR", "NOISE_SPREAD", "RICH_RUNS",
           "SPARSE_NU", "MIN_DOMAINS_TO_LEARN_SPREAD"]

#: Runs above which a domain counts as data-rich (centred parameterisation, own tail weight).
RICH_RUNS = 30
#: Fewest domains of the user's own (reference domains not counted) from which the hierarchy learns a
#: between-domain spread. Two domains give one degree of freedom for a spread: its posterior is the prior,
#: and sampling it left 0.3-0.9 % divergent draws on two OpenLM domains of 5 runs (0-0.05 % with three).
MIN_DOMAINS_TO_LEARN_SPREAD = 3
#: Between-domain spread of the log noise scale (fixed; see build_model).
NOISE_SPREAD = 0.5
#: Student-t degrees of freedom used for domains with fewer runs (numerically normal noise).
SPARSE_NU = 1e6

#: Prior of the log noise scale (log-loss units), learned across data sets: the robust residual
#: scale (1.4826 MAD) of each domain's Huber least-squares fit of its own law, over the 32 domains of
#: the four public data sets (Chinchilla, OpenLM, data-constrained, routing), has geometric mean 0.0117
#: and log sd 0.67 (``benchmarks/learn_noise.py``): centre 0.012, sd 0.7. The order of the
#: seed-to-seed variation (~0.02 nats at L ~ 3, Kaplan et al. 2020, §4.2). The earlier sd of 1 let
#: five runs of one size that the law fits to 0.1 % pull the noise to 0.0005, where the law's
#: coordinates and the noise form a funnel (3 of 24 five-run OpenLM fits diverged).
NOISE_PRIOR = (float(np.log(0.012)), 0.7)


@dataclass(frozen=True)
class PosteriorNames:
    """Names of the model's variables in the posterior draws, declared once.

    :func:`build_model` names its variables with these; :class:`bayes_scaling.posterior.ScalingFit`
    reads the draws through them (analyses use the fit's accessors, never the names). A saved
    fit (format 3) stores the draws under these names.

    Attributes
    ----------
    population : str
        Population centre of the law's parameters (``law.theta_names``), dims (``param``); for a
        one-domain fit, that domain's parameters.
    population_z : str
        Population centre in the model's sampling coordinates (``law.z_names``), dims (``zparam``).
    theta : str
        Each fitted domain's parameters, dims (``domain_idx``, ``param``).
    spread : str
        Between-domain spread of each sampling coordinate, dims (``zparam``) (0 where shared).
    noise : str
        Noise scale of log loss per domain, dims (``domain_idx``).
    noise_centre : str
        Population centre of the log noise scales (several domains).
    tail_weight : str
        Student-t degrees of freedom per domain, dims (``domain_idx``) (Student-t likelihood).
    discrepancy_scale, discrepancy_weights : str
        Discrepancy amplitude and whitened basis coefficients (n_gp, m) of the domains with a discrepancy term.
    z_pop, w, spread_learned, z_dom, log_sigma, zs, nu_rich, log_sigma_rich : str
        Free variables of the graph (sampled coordinates; see :func:`build_model`).
    param_dim, z_dim, domain_dim : str
        Dimension names of the law's parameters, of the sampling coordinates and of the domains.
    """

    population: str = "theta_pop"
    population_z: str = "mu"
    theta: str = "theta"
    spread: str = "tau"
    noise: str = "sigma"
    noise_centre: str = "s_mu"
    tail_weight: str = "nu_dom"
    discrepancy_scale: str = "eta"
    discrepancy_weights: str = "zg"
    z_pop: str = "z_pop"
    w: str = "w"
    spread_learned: str = "tau_learned"
    z_dom: str = "z_dom"
    log_sigma: str = "log_sigma"
    zs: str = "zs"
    nu_rich: str = "nu_rich"
    log_sigma_rich: str = "log_sigma_rich"
    param_dim: str = "param"
    z_dim: str = "zparam"
    domain_dim: str = "domain_idx"

    @property
    def checked(self) -> tuple[str, ...]:
        """Variables whose convergence is checked (the free variables and the population centre), in report order."""
        return (self.z_pop, self.w, self.log_sigma, self.spread_learned, self.z_dom, self.noise_centre, self.zs,
                self.nu_rich, self.log_sigma_rich, self.discrepancy_scale, self.discrepancy_weights, self.population)

    @property
    def traced(self) -> tuple[str, ...]:
        """Population-level variables drawn by default in trace and rank plots."""
        return (self.population, self.log_sigma, self.noise_centre, self.discrepancy_scale)

    def describe(self, name: str) -> str:
        """What a variable is, in the law's words (for convergence messages), e.g. ``'tau_learned'`` ->
        ``'the between-domain spread of the law's parameters'``."""
        return {
            self.z_pop: "the population centre of the law's parameters",
            self.w: "the law's parameters",
            self.population: "the law's parameters (E, scales, exponents)",
            self.spread_learned: "the between-domain spread of the loss level and of the exponent",
            self.z_dom: "the domains' own parameters",
            self.log_sigma: "the noise scale",
            self.noise_centre: "the typical noise scale of the domains",
            self.zs: "the domains' noise scales",
            self.log_sigma_rich: "the noise scales of the domains with many runs",
            self.nu_rich: "the tail weight of the noise (Student-t degrees of freedom)",
            self.discrepancy_scale: "the size of the model discrepancy",
            self.discrepancy_weights: "the shape of the model discrepancy",
        }.get(name, name)


#: The posterior's variable names (see :class:`PosteriorNames`).
VARS = PosteriorNames()


@dataclass(frozen=True)
class Structure:
    """What fixes the shape of the PyMC graph (the compile-cache key).

    Attributes
    ----------
    law : str
        Law name.
    n_domains : int
        Number of domains (1 = no hierarchy).
    n_gp : int
        Number of domains with a discrepancy term.
    likelihood : str
        ``"student_t"`` or ``"normal"``.
    hierarchical : bool
        Domain parameters drawn around a population mean (True with several domains
        or an informative prior: the prior then centres the population, and each
        domain may depart from it by the between-domain spread).
    rich : tuple of int
        Domains with many runs (:data:`RICH_RUNS`): own Student-t tail weight and noise
        drawn centred; the others have normal noise.
    summarized : tuple of int
        Reference domains that enter through a normal summary of their own posterior
        (a two-stage hierarchical model, as in meta-analysis; see
        :func:`bayes_scaling.reference.reference_summary`).
    learn_spread : bool
        Whether the spreads marked learned in :data:`bayes_scaling.priors.BETWEEN_DOMAIN` are learned; with
        fewer than :data:`MIN_DOMAINS_TO_LEARN_SPREAD` domains of the user's own they are fixed at their scale.
    """

    law: str
    n_domains: int
    n_gp: int = 0
    likelihood: str = "student_t"
    hierarchical: bool = False
    rich: tuple[int, ...] = ()
    summarized: tuple[int, ...] = ()
    learn_spread: bool = True

    def to_dict(self) -> dict:
        """JSON-serialisable form (the ``structure`` field of a saved fit)."""
        return {"law": self.law, "n_domains": self.n_domains, "n_gp": self.n_gp, "likelihood": self.likelihood,
                "hierarchical": self.hierarchical, "rich": list(self.rich), "summarized": list(self.summarized),
                "learn_spread": self.learn_spread}

    @classmethod
    def from_dict(cls, d: dict) -> Structure:
        """Inverse of :meth:`to_dict` (``summarized`` is optional: fits saved before it was recorded lack it)."""
        return cls(d["law"], int(d["n_domains"]), int(d["n_gp"]), d["likelihood"], bool(d["hierarchical"]),
                   tuple(int(i) for i in d["rich"]), tuple(int(i) for i in d.get("summarized", ())),
                   bool(d.get("learn_spread", True)))

    @property
    def gp_dim(self) -> int:
        """Input dimension of the discrepancy (the law's size variables)."""
        return len(get_law(self.law).size_variables)

    @property
    def n_basis(self) -> int:
        """Basis functions per discrepancy domain."""
        return M_PER_DIM[self.gp_dim] ** self.gp_dim


def data_arrays(
    law: Law,
    x: dict[str, np.ndarray],
    log_loss: np.ndarray,
    dom_idx: np.ndarray,
    prior_mean: np.ndarray,
    prior_cov: np.ndarray,
    spread_scale: np.ndarray,
    psi: np.ndarray | None,
    structure: Structure,
    gp_lengthscale: float = 1.0,
    vary: np.ndarray | None = None,
    centre: np.ndarray | None = None,
    noise_vary: float | None = None,
    summary: dict | None = None,
) -> dict[str, np.ndarray]:
    """All ``pm.Data`` values of a fit, by container name.

    Parameters
    ----------
    law : Law
    x : dict of ndarray
        Centred log inputs, each (n,).
    log_loss : ndarray, shape (n,)
    dom_idx : ndarray of int, shape (n,)
        Domain index of each run.
    prior_mean : ndarray, shape (q,)
    prior_cov : ndarray, shape (q, q)
        Prior of the population centre (or of the one domain) in sampling coordinates (``law.z_names``).
    spread_scale : ndarray, shape (q,)
        Between-domain spread of each coordinate: the fixed value, or the centre of the log-normal
        prior of a learned one (:func:`bayes_scaling.priors.between_domain_spread`).
    psi : ndarray, shape (n_gp, n, m) or None
        Orthogonal discrepancy basis of each discrepancy domain (zero outside its runs). With several
        discrepancy domains the container holds one row per run, ``psi.sum(axis=0)`` (n, m), and ``gp_idx``
        (n,) the discrepancy domain of each run (0 for runs of a domain without one, whose row is zero).
    structure : Structure
    gp_lengthscale : float, default 1
        Discrepancy length scale in units of the data half-range.
    vary : ndarray, shape (q,), optional
        1 where a coordinate varies by domain, 0 where it is shared (default: all vary).
    centre : ndarray, shape (domains, q), optional
        1 where a domain's coordinate is sampled centred (its own value), 0 non-centred (its
        standardised departure from the population); default: the loss level centred.
    noise_vary : float, optional
        1 = per-domain noise scales, 0 = one shared scale.
    summary : dict, optional
        Normal summaries of reference domains (``mean``, ``chol``, ``sigma``, ``nu``) in sampling coordinates.

    Returns
    -------
    dict of ndarray
    """
    q = len(law.z_names)
    out = {f"x_{k}": np.asarray(v, float) for k, v in x.items() if not k.startswith("_")}
    out["log_loss"] = np.asarray(log_loss, float)
    out["dom_idx"] = np.asarray(dom_idx, "int64")
    out["prior_mean"] = np.asarray(prior_mean, float)
    out["prior_chol"] = np.linalg.cholesky(np.asarray(prior_cov, float))
    if structure.hierarchical:
        out["spread_scale"] = np.asarray(spread_scale, float)
        out["vary"] = np.ones(q) if vary is None else np.asarray(vary, float)
        if centre is None:
            centre = np.zeros((structure.n_domains, q))
            centre[:, [j for j, r in enumerate(law.z_roles) if r == "level"]] = 1.0
        out["centre"] = np.asarray(centre, float) * out["vary"][None, :]
    if summary is not None:
        out["ref_mean"] = np.asarray(summary["mean"], float)
        out["ref_chol"] = np.asarray(summary["chol"], float)
        out["ref_sigma"] = np.asarray(summary["sigma"], float)
        out["ref_nu"] = np.asarray(summary["nu"], float)
    if structure.n_domains > 1 and len(structure.rich) + len(structure.summarized) < structure.n_domains:
        out["noise_vary"] = np.asarray(1.0 if noise_vary is None else noise_vary, float)
    if structure.n_gp == 1:
        out["psi"] = np.asarray(psi, float)
    elif structure.n_gp > 1:
        # one row per run: its own discrepancy domain's basis (the others' are zero there) and that domain's index
        psi = np.asarray(psi, float)
        out["psi"] = psi.sum(axis=0)
        out["gp_idx"] = np.argmax(np.abs(psi).sum(axis=2) > 0, axis=0).astype("int64")
    if structure.n_gp > 0:
        out["gp_lengthscale"] = np.full(structure.gp_dim, float(gp_lengthscale))
    return out


def _fixed(name: str, value, shape: tuple | None = None):
    """A ``pm.Data`` container whose shape is fixed by the :class:`Structure` (static in the graph).

    Static shapes let PyTensor drop the run-time shape checks and broadcasting asserts that
    dynamic containers need; each of those is a function Numba compiles. Refits of the same
    structure pass arrays of the same shape (``shape`` may leave the run axis as ``None``).
    """
    value = np.asarray(value)
    return pm.Data(name, value, shape=value.shape if shape is None else shape)


def _group(domains: list[int]):
    """Index of a group of domains: a slice when they are consecutive (basic indexing, which
    compiles and differentiates more cheaply than a list), else the list."""
    if domains and domains == list(range(domains[0], domains[-1] + 1)):
        return slice(domains[0], domains[-1] + 1)
    return domains


def _rowsum(matrix, vector):
    """``matrix @ vector`` as a broadcast product and a sum over the last axis.

    The same numbers as ``pt.dot``; for the small products here (p x p, runs x basis) the fused
    elementwise loop compiles in a fraction of the time of Numba's BLAS-backed ``dot`` and its
    gradient (cold compile of the one-domain model: ~40 s -> ~25 s together with ``_fixed``)."""
    return (matrix * vector[None, :]).sum(axis=1)


def _student_t_logp(value, nu, mu, sigma, log_norm):
    """Student-t log density with a precomputed normaliser ``log_norm`` =
    gammaln((nu+1)/2) - gammaln(nu/2) - log(pi nu)/2 (Student 1908; as ``pm.StudentT``)."""
    z = (value - mu) / sigma
    return log_norm - pt.log(sigma) - (nu + 1.0) / 2.0 * pt.log1p(z * z / nu)


def build_model(structure: Structure, arrays: dict[str, np.ndarray], refs: dict[str, float] | None = None) -> pm.Model:
    """Build the PyMC model for a structure and initial data.

    Parameters
    ----------
    structure : Structure
        Graph shape.
    arrays : dict of ndarray
        Output of :func:`data_arrays`.
    refs : dict, optional
        Reference scales (only the data-constrained law needs them in the graph).

    Returns
    -------
    pymc.Model
        Free variables (see :class:`PosteriorNames`): ``z_pop``, ``tau_learned``, ``z_dom`` (several
        domains) or ``w`` (one domain), the noise (``log_sigma``, or ``s_mu``/``zs``/``log_sigma_rich``),
        ``nu_rich`` (Student-t, domains with many runs), ``eta``/``zg`` (discrepancy); deterministics
        ``theta_pop`` (p,), ``theta`` (domains, p), ``sigma`` and ``nu_dom`` (domains,), and for several
        domains ``mu`` and ``tau`` (q,) in sampling coordinates.
    """
    law = get_law(structure.law)
    p = len(law.theta_names)
    q = len(law.z_names)
    nd = structure.n_domains
    coords = {VARS.param_dim: list(law.theta_names), VARS.z_dim: list(law.z_names), VARS.domain_dim: list(range(nd))}
    spread_scale, learned = between_domain_spread(law)
    learned_idx = [int(j) for j in np.flatnonzero(learned)] if structure.learn_spread else []

    def to_theta(zmat):
        th = law.theta_from_z({k: zmat[..., j] for j, k in enumerate(law.z_names)}, pt)
        return pt.stack([th[k] for k in law.theta_names], axis=-1)

    with pm.Model(coords=coords) as model:
        xs = {}
        for k in law.variables:
            xs[k] = pm.Data(f"x_{k}", arrays[f"x_{k}"])
        if "unique_tokens" in law.variables:
            xs["_ref_params"] = refs["params"]
            xs["_ref_tokens"] = refs["tokens"]
        y = pm.Data("log_loss", arrays["log_loss"])
        dom = pm.Data("dom_idx", arrays["dom_idx"])
        m0 = _fixed("prior_mean", arrays["prior_mean"])
        l0 = _fixed("prior_chol", arrays["prior_chol"])
        rich = list(structure.rich)
        summ = list(structure.summarized)
        sparse = [i for i in range(nd) if i not in rich and i not in summ]

        if structure.hierarchical:
            # Population centre in sampling coordinates, non-centred around its prior.
            z_pop = pm.Normal(VARS.z_pop, 0.0, 1.0, shape=q)
            mu = pm.Deterministic(VARS.population_z, m0 + _rowsum(l0, z_pop), dims=VARS.z_dim)
            # Between-domain spreads: the loss level's and the exponent's are learned with a log-normal
            # prior (kept away from zero, where few domains make a funnel); the others are fixed
            # (bayes_scaling.priors.BETWEEN_DOMAIN). Shared coordinates (vary = 0) have no spread.
            scale = _fixed("spread_scale", arrays["spread_scale"])
            vary = _fixed("vary", arrays["vary"])
            tau = scale
            if learned_idx:
                tl = pm.LogNormal(VARS.spread_learned, mu=pt.log(scale[learned_idx]), sigma=SPREAD_LOG_SD,
                                  shape=len(learned_idx))
                tau = pt.set_subtensor(tau[learned_idx], tl)
            tau = pm.Deterministic(VARS.spread, tau * vary, dims=VARS.z_dim)
            # Each domain's coordinates: centred (c = 1, the free variable is the domain's own value)
            # where its runs pin the coordinate (the loss level always; the exponent of a domain with
            # many runs; a reference domain's summary), non-centred (c = 0, its standardised departure
            # from the population) where they do not; no funnel either way (Papaspiliopoulos,
            # Roberts & Skold 2007). A shared coordinate is exactly the population value.
            c = _fixed("centre", arrays["centre"])
            raw = pm.Normal(VARS.z_dom, mu=c * mu[None, :], sigma=c * tau[None, :] + (1.0 - c), shape=(nd, q))
            zmat = c * raw + (1.0 - c) * (mu[None, :] + tau[None, :] * raw)
            if summ:  # reference domains enter through a normal summary of their own posterior
                ref_mean = _fixed("ref_mean", arrays["ref_mean"])
                ref_chol = _fixed("ref_chol", arrays["ref_chol"])
                for k, i in enumerate(summ):
                    pm.MvNormal(f"ref_summary_{k}", mu=zmat[i], chol=ref_chol[k], observed=ref_mean[k])
            theta = pm.Deterministic(VARS.theta, to_theta(zmat), dims=(VARS.domain_dim, VARS.param_dim))
            pm.Deterministic(VARS.population, to_theta(mu), dims=VARS.param_dim)
        else:
            # One domain: its coordinates in prior units (non-centred), z = m0 + L0 w, w ~ N(0, I). The
            # sampling coordinates separate what the runs pin (the loss level and its slopes) from what
            # only the prior knows (the E vs size-term split), so the posterior needs no whitening.
            w = pm.Normal(VARS.w, 0.0, 1.0, shape=q)
            zvec = m0 + _rowsum(l0, w)
            th_vec = pm.Deterministic(VARS.population, to_theta(zvec), dims=VARS.param_dim)
            theta = pm.Deterministic(VARS.theta, th_vec[None, :], dims=(VARS.domain_dim, VARS.param_dim))
        if nd > 1:
            s_mu = pm.Normal(VARS.noise_centre, *NOISE_PRIOR)
            # Spread of log noise scales between domains, fixed: domains with 3-8 runs cannot learn it,
            # and learning it left a funnel (R-hat 1.06 on the OpenLM split). 0.5 = scales differ by
            # a factor of about 1.6 between typical domains.
            s_tau = NOISE_SPREAD
            log_sigma = pt.zeros(nd)
            if sparse:
                zs = pm.Normal(VARS.zs, 0.0, 1.0, shape=len(sparse))
                noise_vary = _fixed("noise_vary", arrays["noise_vary"])
                log_sigma = pt.set_subtensor(log_sigma[_group(sparse)], s_mu + noise_vary * s_tau * zs)
            if rich:
                ls_rich = pm.Normal(VARS.log_sigma_rich, s_mu, s_tau, shape=len(rich))
                log_sigma = pt.set_subtensor(log_sigma[_group(rich)], ls_rich)
            if summ:
                log_sigma = pt.set_subtensor(log_sigma[_group(summ)], pt.log(_fixed("ref_sigma", arrays["ref_sigma"])))
            sigma = pm.Deterministic(VARS.noise, pt.exp(log_sigma), dims=VARS.domain_dim)
        else:
            log_sigma = pm.Normal(VARS.log_sigma, *NOISE_PRIOR)
            sigma = pm.Deterministic(VARS.noise, pt.exp(log_sigma)[None], dims=VARS.domain_dim)

        if nd == 1:
            # One domain: per-domain quantities are scalars that broadcast over the runs; gathering
            # them by dom_idx would add advanced-indexing ops (and their gradients) that Numba
            # compiles slowly and that sample no faster.
            named = {name: theta[0, j] for j, name in enumerate(law.theta_names)}

            def gather(v):
                return v[0]
        else:
            th_obs = theta[dom]
            named = {name: th_obs[:, j] for j, name in enumerate(law.theta_names)}

            def gather(v):
                return v[dom]
        mean = law.log_loss(xs, named, pt)
        if structure.n_gp > 0:
            d = structure.gp_dim
            # Amplitude prior: half-normal with scale 0.02 in log loss (~2 % of the loss),
            # the size of the extrapolation errors seen in published ladders (Choshen et al.
            # 2024 report ~4 % as the practical floor of absolute relative error).
            eta = pm.HalfNormal(VARS.discrepancy_scale, 0.02)
            # Length scales in units of each domain's data half-range, fixed (not learned):
            # learning them mixed slowly (R-hat 1.02, ESS ~200 per 4000 draws on the Chinchilla
            # runs) and did not improve forecasts; 1 = correlation over half the data range.
            ls = _fixed("gp_lengthscale", arrays["gp_lengthscale"])
            zg = pm.Normal(VARS.discrepancy_weights, 0.0, 1.0, shape=(structure.n_gp, structure.n_basis))
            basis = DiscrepancyBasis(law.size_variables, np.zeros(d), np.ones(d), np.zeros(p), np.zeros((p, 1)))
            sqrt_s = basis.sqrt_spectral(eta, ls, pt)
            coef = zg * sqrt_s[None, :]
            if structure.n_gp == 1:
                psi = _fixed("psi", arrays["psi"], (1, None, structure.n_basis))
                mean = mean + _rowsum(psi[0], coef[0])
            else:
                # each run's basis row times its own domain's coefficients: one product per run, instead of
                # one (runs x basis) product per discrepancy domain whose rows are zero outside it, which
                # made the discrepancy two thirds of the gradient's cost on 8 domains of 66 runs
                psi = _fixed("psi", arrays["psi"], (None, structure.n_basis))
                gp_idx = pm.Data("gp_idx", arrays["gp_idx"])
                mean = mean + (psi * coef[gp_idx]).sum(axis=1)
        if structure.likelihood == "student_t":
            # Tail weight: one learned value shared by the domains with many runs (a tail weight per
            # domain traded off against the between-domain spreads and opened a second mode on the
            # OpenLM split: R-hat 2.07); a domain with few runs cannot learn it, and a heavy tail on
            # 3-8 points opens modes in which some runs are declared outliers, so those domains use
            # normal noise (nu = 1e6).
            nu_rich = pm.Gamma(VARS.nu_rich, alpha=2.0, beta=0.1) if rich else None
            if nd == 1:  # one domain, no set_subtensor (see gather above)
                nu_dom = nu_rich[None] if rich else pt.as_tensor([SPARSE_NU])
            else:
                nu_dom = pt.zeros(nd)
                if sparse:
                    nu_dom = pt.set_subtensor(nu_dom[_group(sparse)], SPARSE_NU)
                if rich:
                    nu_dom = pt.set_subtensor(nu_dom[_group(rich)], nu_rich)
                if summ:
                    nu_dom = pt.set_subtensor(nu_dom[_group(summ)], _fixed("ref_nu", arrays["ref_nu"]))
            nu_dom = pm.Deterministic(VARS.tail_weight, nu_dom, dims=VARS.domain_dim)
            # Student-t log density with its normalising constant computed once per domain and
            # gathered, instead of gammaln/digamma at every run as pm.StudentT does (the same
            # density; 245 runs: the log-density-and-gradient call takes ~20 % less time).
            log_norm = pt.gammaln((nu_dom + 1.0) / 2.0) - pt.gammaln(nu_dom / 2.0) - 0.5 * pt.log(np.pi * nu_dom)
            pm.CustomDist("obs", gather(nu_dom), mean, gather(sigma), gather(log_norm), logp=_student_t_logp,
                          observed=y, shape=y.shape)
        elif structure.likelihood == "normal":
            pm.Normal("obs", mu=mean, sigma=gather(sigma), observed=y, shape=y.shape)
        else:
            raise ValueError(f"unknown likelihood '{structure.likelihood}'; use 'student_t' or 'normal'.")
    return model
