"""Floor 0. The prior catalog: published scaling-law fits as priors, with their sources.

Each :class:`PriorSpec` is a multivariate normal over a law's *catalog
parameters* (the parameterisation in which the paper quotes its fit, e.g.
``(log A, log B, log E, alpha, beta)`` for the Chinchilla law), with the
citation, the place in the paper, the units and the parameter-count convention.
The model converts it to the law's sampling parameters around the reference
scales of the data (exact for the linear Chinchilla reparameterisation, first
order otherwise).

Catalog
-------
``besiroglu2024``
    Chinchilla law; point estimate and full 5x5 bootstrap covariance of
    Besiroglu et al. (2024), arXiv:2404.10102 (authors' notebook cells 24-25, 54;
    covariance recomputed from their data and procedure, 4000 resamples).
``hoffmann2022``
    Chinchilla law; Hoffmann et al. (2022), arXiv:2203.15556, App. D.2 Eq. 10
    (unrounded TeX values). The paper's Approach-3 intervals are implausibly
    narrow (Besiroglu et al. 2024), so the *uncertainty* is taken from the
    Besiroglu bootstrap covariance of the same data and form.
``kaplan2020``
    Kaplan law; Kaplan et al. (2020), arXiv:2001.08361, Table 2 (joint L(N, D)
    fit). The paper reports no uncertainty; we assign sd 0.02 to each exponent and
    1.0 to log N_c, log D_c. N counts non-embedding parameters.
``muennighoff2023``
    Data-constrained law; Muennighoff et al. (2023), arXiv:2305.16264
    (datablations README "Parametric Fit"). No uncertainty reported: the first five
    parameters take the Besiroglu covariance, ln R_D* and ln R_N* sd 0.3.
``weak``
    Weakly-informative default of each law (see the law's ``weak_prior``).

Use :meth:`PriorSpec.widen` to trust a prior less (multiplies its standard
deviations by a factor).
"""

from __future__ import annotations


import json
from dataclasses import dataclass, field, replace
from importlib import resources

import numpy as np

from ._text import did_you_mean
from .laws import Law, get_law

__all__ = ["PriorSpec", "get_prior", "list_priors", "CATALOG", "besiroglu2024_covariance", "BETWEEN_DOMAIN",
           "BETWEEN_STUDY", "SPREAD_LOG_SD", "between_domain_spread", "between_study_spread", "published_prior_name"]

#: The published prior of each law that has one (its default prior).
PUBLISHED_PRIOR = {
    "chinchilla": "besiroglu2024",
    "kaplan": "kaplan2020",
    "data_constrained": "muennighoff2023",
    "power_params": "besiroglu2024_params",
    "power_tokens": "besiroglu2024_tokens",
}


def published_prior_name(law: str | Law) -> str | None:
    """The catalog name of a law's published prior, or None for a law without one (e.g. ``power_flops``).

    Parameters
    ----------
    law : str or Law

    Returns
    -------
    str or None
        ``besiroglu2024`` (Chinchilla law), ``kaplan2020``, ``muennighoff2023``, ``besiroglu2024_params`` /
        ``besiroglu2024_tokens`` (one-variable sweeps), or None.
    """
    return PUBLISHED_PRIOR.get(get_law(law).name)

#: Between-domain spread of each sampling coordinate, by role (see ``Law.z_roles``): whether the
#: hierarchy learns it from the domains (``True``: a log-normal prior centred on the scale, sd
#: :data:`SPREAD_LOG_SD`) or keeps it fixed at the scale (``False``), and the scale.
#:
#: * ``level`` (log loss at the centre of the runs): learned, 0.3. Evaluation sets and corpora
#:   shift the loss by tens of per cent (Kaplan et al. 2020 §3.2.2: "a roughly constant offset";
#:   the 8 OpenLM evaluation sets of Gadre et al. 2024 span 2.4-4.5 nats at one model size).
#: * ``exponent`` (log of the overall exponent): learned, 0.3. Loss exponents of language data
#:   sets range 0.28-0.37 (published-fits.md §1), about +-15 %, but other modalities and set-ups range
#:   far wider (0.07-0.24, Henighan et al. 2020 Table 1; Kaplan's 0.076-0.095 under a fixed schedule;
#:   Kumar et al. 2024's 0.50), so a domain's exponent is allowed about +-30 % (one sd) around
#:   its study's centre (and the centre +-50 % around the published one, :data:`BETWEEN_STUDY`).
#:   With 0.15 a one-variable sweep whose runs want an exponent of half the published one (a
#:   1.2-decade N sweep at fixed D) was held at the prior and forecast 4 % high.
#: * ``share`` (log ratio of a size term to the irreducible loss at the centre): fixed, 0.3.
#:   A few runs over a decade cannot tell the irreducible loss from the size term (the E-A ridge,
#:   correlation 0.9993 in the Besiroglu et al. 2024 bootstrap), so neither can the hierarchy learn
#:   how much that split varies between domains: a learned spread mixed slowly (R-hat 1.02, bulk
#:   ESS ~150 of 4000 draws on the 24 OpenLM domains, benchmarks/model_geometry.md). Where the runs
#:   of most domains pin every coordinate (``between_domain_spread(law, identified=True)``, decided by
#:   ``inputs.pinned_coordinates``) the share's spread is the between-study one (:data:`BETWEEN_STUDY`,
#:   0.7): evaluation sets and corpora split their loss between E and the size terms as differently as
#:   studies do (per-domain least squares on the six routing evaluation sets: E from 0 to 1.36 nats),
#:   and 0.3 held such domains to the population's split (``benchmarks/model_geometry.md``, "The
#:   share's spread").
#: * ``allocation`` (logit of a = beta / (alpha + beta)): fixed, 0.16, i.e. a sd of 0.04 in a at
#:   a = 0.5: the spread of a across data sets (0.45-0.58, DeepSeek-AI 2024 Table 4; 0.46-0.53,
#:   Hoffmann et al. 2022 Table 2 and App. C).
#: * ``extra`` (other parameters, e.g. ln R_D*, ln R_N*): fixed, 0.5 (one study only, Muennighoff
#:   et al. 2023).
BETWEEN_DOMAIN: dict[str, tuple[bool, float]] = {
    "level": (True, 0.3),
    "exponent": (True, 0.3),
    "share": (False, 0.3),
    "allocation": (False, 0.16),
    "extra": (False, 0.5),
}

#: How far your study's law (one domain, or the population centre of several) may lie from a published
#: fit of another study, by role (the sd of a normal departure in sampling coordinates). A published fit
#: comes from other data, another tokenizer and another training set-up, so it is wider than the spread
#: between the domains of one study (:data:`BETWEEN_DOMAIN`):
#:
#: * ``level``: 0.5 (irreducible losses of published LM fits range 1.69-2.76 nats, Hoffmann et al. 2022 to
#:   Kumar et al. 2024: 0.5 in log; tokenizers shift the loss level further);
#: * ``share``: 0.7 (the log ratio of the N term to E at N = 1e9 is -1.56 for Hoffmann et al. 2022, -1.63
#:   for Besiroglu et al. 2024, -1.69 for Muennighoff et al. 2023 and -2.95 for Kumar et al. 2024);
#: * ``exponent``: 0.5, i.e. about +-50 % (one sd) around the published exponent: across set-ups and
#:   modalities exponents range 0.07-0.5 (Henighan et al. 2020 Table 1; Kaplan et al. 2020's 0.076-0.095
#:   under a fixed schedule; Kumar et al. 2024's 0.50), a log range of about 2, i.e. +-2 sd of 0.5. The
#:   between-domain 0.3 held sparse sweeps of another set-up near the published 0.35 (the routing sweeps want
#:   0.13-0.2) and their forecasts high (``benchmarks/model_geometry.md``, "The exponent's between-study
#:   spread");
#: * ``allocation``: 0.16, ``extra``: 0.5 (as between domains).
BETWEEN_STUDY: dict[str, float] = {"level": 0.5, "share": 0.7, "exponent": 0.5, "allocation": 0.16, "extra": 0.5}

#: Standard deviation of the log-normal prior of a learned between-domain spread: the spread is
#: kept away from zero, where a hierarchy with few domains has its funnel (Neal 2003), and may
#: move by a factor of about 4 either way (90 %) if the domains ask for it.
SPREAD_LOG_SD = 0.5


def between_domain_spread(law: Law, identified: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Between-domain spread of the law's sampling coordinates (see :data:`BETWEEN_DOMAIN`).

    Parameters
    ----------
    law : Law
    identified : bool, default False
        Whether the runs of most domains pin every coordinate (measure it better than the
        between-domain spread does): the size-term shares then get the between-study spread
        (:data:`BETWEEN_STUDY`) instead of the narrower between-domain one.

    Returns
    -------
    (scale, learned) : tuple of ndarray
        Shapes (len(law.z_names),): the scale of each coordinate's spread (log-loss, log or
        logit units) and whether the hierarchy learns it.
    """
    scale = np.array([BETWEEN_STUDY[r] if identified and r == "share" else BETWEEN_DOMAIN[r][1]
                      for r in law.z_roles], float)
    learned = np.array([BETWEEN_DOMAIN[r][0] for r in law.z_roles], bool)
    return scale, learned


def between_study_spread(law: Law) -> np.ndarray:
    """How far a study's law may depart from a published fit, per sampling coordinate (:data:`BETWEEN_STUDY`).

    Parameters
    ----------
    law : Law

    Returns
    -------
    ndarray, shape (len(law.z_names),)
        Standard deviations (log-loss, log or logit units) added to a published prior.
    """
    return np.array([BETWEEN_STUDY[r] for r in law.z_roles], float)


def besiroglu2024_covariance() -> dict:
    """The Besiroglu et al. (2024) bootstrap results shipped with the package.

    Returns
    -------
    dict
        Keys ``param_order_log`` (``logA, logB, logE, alpha, beta``),
        ``point_estimate_MLE_log`` (5,), ``cov_log`` (5, 5), ``se_natural`` (5,),
        ``pct2.5_97.5_natural`` and ``source``.

    Notes
    -----
    Recomputed from epoch-research/analyzing-chinchilla (``data_analysis.ipynb``):
    4000 nonparametric bootstrap resamples of the 240 points left after dropping
    the 5 highest-loss points, each refit minimising the summed Huber loss
    (delta = 1e-3) of log-loss residuals. The standard errors reproduce the
    notebook's printed values (A 124.522, B 1293.284, E 0.02566, alpha 0.01540,
    beta 0.02060).
    """
    with resources.files("bayes_scaling").joinpath("_resources/besiroglu2024_bootstrap_cov.json").open() as fh:
        return json.load(fh)


@dataclass(frozen=True)
class PriorSpec:
    """A prior over a law's parameters.

    Attributes
    ----------
    name : str
        Catalog name.
    law : str
        Law name (see :data:`bayes_scaling.laws.LAWS`).
    mean : dict of float
        Means of the catalog parameters (``None`` for a weak prior, computed from data).
    cov : ndarray, shape (k, k)
        Covariance of the catalog parameters in ``law.catalog_names`` order.
    citation : str
        Paper.
    where : str
        Table, equation or notebook cell of the values.
    units : str
        Units of N, D and L in the source fit.
    param_convention : str
        How N was counted.
    widen_factor : float
        Factor applied to the standard deviations (1 = as published).
    weak_names : tuple of str
        Parameters that get the law's weak prior even in an informative entry
        (for example E of a one-variable sweep, which absorbs the fixed other term).
    fitted_on : str
        The embedded data set (:func:`bayes_scaling.datasets.load` name) whose runs the published fit used,
        '' if none is embedded: a fit of those runs under this prior counts them twice. Hoffmann et al. (2022) and
        Besiroglu et al. (2024) fitted the Chinchilla runs (Besiroglu's 245 re-extracted points), and the one-variable
        ``besiroglu2024_params`` / ``_tokens`` are their marginals; Muennighoff et al. (2023) fitted about 400
        data-constrained runs up to 9B parameters, the embedded datablations runs among them.
    """

    name: str
    law: str
    mean: dict[str, float] | None
    cov: np.ndarray | None
    citation: str
    where: str = ""
    units: str = "N: parameters; D: tokens; L: nats/token"
    param_convention: str = "total parameters including embeddings"
    widen_factor: float = 1.0
    weak_names: tuple[str, ...] = field(default_factory=tuple)
    fitted_on: str = ""

    @property
    def informative(self) -> bool:
        """True for a published (not weak) prior."""
        return self.mean is not None

    def widen(self, factor: float) -> PriorSpec:
        """Return a copy whose standard deviations are multiplied by ``factor`` (trust less).

        Parameters
        ----------
        factor : float
            Must be > 0; 2 doubles every standard deviation.

        Raises
        ------
        ValueError
            If ``factor`` is not positive.
        """
        if not factor > 0:
            raise ValueError(f"widen factor must be positive, got {factor}.")
        return replace(self, widen_factor=self.widen_factor * float(factor))

    def sampling_prior(self, law: Law, ref: dict[str, float], runs) -> tuple[np.ndarray, np.ndarray]:
        """Mean and covariance in the law's sampling parameters.

        Parameters
        ----------
        law : Law
            The law of the fit (must match ``self.law``).
        ref : dict
            Log reference scales of the data.
        runs : pandas.DataFrame
            Validated runs (used by weak priors to scale term sizes).

        Returns
        -------
        (mean, cov) : tuple of ndarray
            Shapes (p,) and (p, p), in ``law.theta_names`` order. The catalog normal is
            pushed through ``law.from_catalog`` to first order (exact when linear).

        Raises
        ------
        ValueError
            If the prior is for another law.
        """
        if law.name != self.law:
            raise ValueError(
                f"prior '{self.name}' is for the {self.law} law, not {law.name}; "
                f"choose one of: {', '.join(list_priors(law.name))}."
            )
        weak_mean, weak_sd = law.weak_prior(runs)
        if not self.informative:
            sd = weak_sd * self.widen_factor
            return weak_mean, np.diag(sd**2)
        keys = law.catalog_names
        mu = np.array([self.mean[k] for k in keys], float)
        cov = np.asarray(self.cov, float) * self.widen_factor**2

        def f(v):
            th = law.from_catalog(dict(zip(keys, v, strict=True)), ref)
            return np.array([th[k] for k in law.theta_names], float)

        m = f(mu)
        jac = np.empty((len(law.theta_names), len(keys)))
        for j in range(len(keys)):
            h = 1e-6 * max(1.0, abs(mu[j]))
            e = np.zeros(len(keys))
            e[j] = h
            jac[:, j] = (f(mu + e) - f(mu - e)) / (2 * h)
        scov = jac @ cov @ jac.T
        for p in self.weak_names:
            i = law.theta_names.index(p)
            scov[i, :] = 0.0
            scov[:, i] = 0.0
            scov[i, i] = (weak_sd[i] * self.widen_factor) ** 2
            m[i] = weak_mean[i]
        scov = 0.5 * (scov + scov.T) + 1e-12 * np.eye(len(m))
        return m, scov

    def z_prior(self, law: Law, ref: dict[str, float], runs) -> tuple[np.ndarray, np.ndarray]:
        """Mean and covariance in the model's sampling coordinates (``law.z_names``).

        A weak prior is the law's :meth:`~bayes_scaling.laws.Law.weak_prior_z` (times the widening
        factor); a published prior is :meth:`sampling_prior` pushed through ``law.z_from_theta``
        to first order.

        Parameters
        ----------
        law : Law
        ref : dict
            Log reference scales of the data.
        runs : pandas.DataFrame
            Validated runs.

        Returns
        -------
        (mean, cov) : tuple of ndarray
            Shapes (q,) and (q, q), q = len(law.z_names).

        Raises
        ------
        ValueError
            If the prior is for another law.
        """
        if not self.informative:
            if law.name != self.law:
                self.sampling_prior(law, ref, runs)  # raises the wrong-law error
            m, sd = law.weak_prior_z(runs)
            return m, np.diag((sd * self.widen_factor) ** 2)
        mt, ct = self.sampling_prior(law, ref, runs)
        m = law.z_matrix(mt)
        jac = np.empty((len(m), len(mt)))
        for j in range(len(mt)):
            h = 1e-6 * max(1.0, abs(mt[j]))
            e = np.zeros(len(mt))
            e[j] = h
            jac[:, j] = (law.z_matrix(mt + e) - law.z_matrix(mt - e)) / (2 * h)
        cov = jac @ ct @ jac.T
        return m, 0.5 * (cov + cov.T) + 1e-12 * np.eye(len(m))

    def to_dict(self) -> dict:
        """JSON-serialisable form (the ``prior`` field of a saved fit)."""
        return {
            "name": self.name,
            "law": self.law,
            "mean": self.mean,
            "cov": None if self.cov is None else np.asarray(self.cov).tolist(),
            "citation": self.citation,
            "where": self.where,
            "units": self.units,
            "param_convention": self.param_convention,
            "widen_factor": self.widen_factor,
            "weak_params": list(self.weak_names),  # the saved-fit key (format 2)
            "fitted_on": self.fitted_on,
        }

    @classmethod
    def from_dict(cls, d: dict) -> PriorSpec:
        """Inverse of :meth:`to_dict`.

        Raises
        ------
        KeyError, TypeError, ValueError
            For a missing or malformed field.
        """
        return cls(
            name=d["name"],
            law=d["law"],
            mean=d["mean"],
            cov=None if d["cov"] is None else np.asarray(d["cov"], float),
            citation=d["citation"],
            where=d["where"],
            units=d["units"],
            param_convention=d["param_convention"],
            widen_factor=float(d["widen_factor"]),
            weak_names=tuple(d["weak_params"]),
            fitted_on=str(d.get("fitted_on", "")),  # fits saved before it was recorded
        )

    def table(self) -> list[dict]:
        """Rows ``{parameter, mean, sd}`` of the catalog parameters (for reports)."""
        if not self.informative:
            return []
        sd = np.sqrt(np.diag(self.cov)) * self.widen_factor
        law = get_law(self.law)
        return [
            {"parameter": k, "mean": self.mean[k], "sd": float(s)}
            for k, s in zip(law.catalog_names, sd, strict=True)
            if k not in self.weak_names
        ]


def _besiroglu_mean_cov() -> tuple[dict[str, float], np.ndarray]:
    raw = besiroglu2024_covariance()
    keys = raw["param_order_log"]
    return dict(zip(keys, raw["point_estimate_MLE_log"], strict=True)), np.array(raw["cov_log"])


def _build_catalog() -> dict[str, PriorSpec]:
    bmean, bcov = _besiroglu_mean_cov()
    cat: dict[str, PriorSpec] = {}
    cat["besiroglu2024"] = PriorSpec(
        name="besiroglu2024",
        law="chinchilla",
        mean=bmean,
        cov=bcov,
        citation="Besiroglu, Erdil, Barnett, You (2024). Chinchilla Scaling: A replication attempt. arXiv:2404.10102",
        where="Point estimate: data_analysis.ipynb cells 24-25 (A=482.0, B=2085.4, E=1.817, alpha=0.3478, "
        "beta=0.3658); covariance: 4000-resample bootstrap, SEs as in cell 54",
        fitted_on="chinchilla",
    )
    hoff = {"logA": 6.0073404, "logB": 6.0179186, "logE": 0.5267228, "alpha": 0.33917084, "beta": 0.2849083}
    cat["hoffmann2022"] = PriorSpec(
        name="hoffmann2022",
        law="chinchilla",
        mean=hoff,
        cov=bcov,
        citation="Hoffmann et al. (2022). Training Compute-Optimal Large Language Models. arXiv:2203.15556",
        where="App. D.2 Eq. 10, unrounded TeX values (E=1.6934, A=406.4, B=410.7, alpha=0.3392, beta=0.2849); "
        "uncertainty from the Besiroglu et al. (2024) bootstrap (the paper's Approach-3 intervals are too narrow)",
        fitted_on="chinchilla",
    )
    kap = {"logNc": float(np.log(6.4e13)), "logDc": float(np.log(1.8e13)), "alpha_N": 0.076, "alpha_D": 0.103}
    cat["kaplan2020"] = PriorSpec(
        name="kaplan2020",
        law="kaplan",
        mean=kap,
        cov=np.diag([1.0, 1.0, 0.02, 0.02]) ** 2,
        citation="Kaplan et al. (2020). Scaling Laws for Neural Language Models. arXiv:2001.08361",
        where="Table 2 (joint L(N, D) fit: alpha_N=0.076, alpha_D=0.103, N_c=6.4e13, D_c=1.8e13); "
        "no uncertainty reported, sd assigned by bayes_scaling",
        units="N: non-embedding parameters; D: tokens (WebText2, GPT-2 BPE); L: nats/token",
        param_convention="non-embedding parameters",
    )
    mcov = np.zeros((7, 7))
    mcov[:5, :5] = bcov
    mcov[5, 5] = mcov[6, 6] = 0.3**2
    cat["muennighoff2023"] = PriorSpec(
        name="muennighoff2023",
        law="data_constrained",
        mean={
            "logA": 6.255414,
            "logB": 7.3049974,
            "logE": 0.6254804,
            "alpha": 0.3526596,
            "beta": 0.3526596,
            "logRD": float(np.log(15.387756)),
            "logRN": float(np.log(5.309743)),
        },
        cov=mcov,
        citation="Muennighoff et al. (2023). Scaling Data-Constrained Language Models. arXiv:2305.16264",
        where="datablations README 'Parametric Fit' ([a, b, e, alpha, beta, rd_star, rn_star]); "
        "no uncertainty reported: Besiroglu covariance for the first five, sd 0.3 for ln R_D*, ln R_N*",
        fitted_on="datablations",
    )
    # one-variable sweeps: along N at fixed D, L = (E + B/D^beta) + A/N^alpha, so A and
    # alpha keep the Chinchilla meaning and E absorbs the fixed D term (weak prior on E).
    for law, idx in (("power_params", (0, 3)), ("power_tokens", (1, 4))):
        keys = ("logA", "logE", "alpha")
        sel = [idx[0], 2, idx[1]]
        cat[f"besiroglu2024_{law.split('_')[1]}"] = PriorSpec(
            name=f"besiroglu2024_{law.split('_')[1]}",
            law=law,
            mean={
                "logA": bmean["logA" if law == "power_params" else "logB"],
                "logE": bmean["logE"],
                "alpha": bmean["alpha" if law == "power_params" else "beta"],
            },
            cov=bcov[np.ix_(sel, sel)],
            citation=cat["besiroglu2024"].citation,
            where="The A, alpha (or B, beta) marginal of the Besiroglu et al. (2024) fit; E gets a weak prior "
            "because a one-variable sweep folds the fixed other term into it",
            weak_names=("logE",),
            fitted_on="chinchilla",
        )
        assert len(keys) == 3
    for law in ("chinchilla", "power_params", "power_tokens", "power_flops", "kaplan", "data_constrained"):
        cat[f"weak:{law}"] = PriorSpec(
            name="weak",
            law=law,
            mean=None,
            cov=None,
            citation="bayes_scaling weakly-informative default (see the law's weak_prior docstring)",
            where="",
            param_convention=get_law(law).param_convention,
        )
    return cat


CATALOG: dict[str, PriorSpec] = _build_catalog()


def list_priors(law: str | None = None) -> list[str]:
    """Names of the catalog priors, optionally only those for ``law``."""
    names = []
    for key, spec in CATALOG.items():
        if law is None or spec.law == law:
            names.append(spec.name)
    return sorted(set(names))


def get_prior(name: str | PriorSpec, law: str = "chinchilla", widen: float = 1.0) -> PriorSpec:
    """Look up a prior.

    Parameters
    ----------
    name : str or PriorSpec
        Catalog name (``besiroglu2024``, ``hoffmann2022``, ``kaplan2020``,
        ``muennighoff2023``, ``besiroglu2024_params``, ``besiroglu2024_tokens``, ``weak``).
    law : str, default "chinchilla"
        Law of the fit; ``weak`` resolves to that law's weak prior.
    widen : float, default 1
        Multiply the standard deviations by this factor.

    Returns
    -------
    PriorSpec

    Raises
    ------
    ValueError
        For an unknown name or a prior of another law.
    """
    if isinstance(name, PriorSpec):
        spec = name
    elif name == "weak":
        spec = CATALOG[f"weak:{get_law(law).name}"]
    elif name in CATALOG:
        spec = CATALOG[name]
    else:
        hint = did_you_mean(name, list_priors(law))
        hint = f"{hint} " if hint else ""
        raise ValueError(
            f"unknown prior '{name}'; {hint}the {get_law(law).name} law has: {', '.join(list_priors(law))}."
        )
    if spec.law != get_law(law).name:
        raise ValueError(
            f"prior '{spec.name}' is for the {spec.law} law, not {get_law(law).name}; "
            f"choose one of: {', '.join(list_priors(get_law(law).name))}."
        )
    return spec.widen(widen) if widen != 1.0 else spec
