"""Floor 2. Everything the model needs from a runs table: :class:`FitInputs` and :func:`build_inputs`.

The runs (and any reference runs) are validated, given reference scales, split by
domain, and turned into the model's data arrays: centred log inputs, the prior in
sampling coordinates (widened by the between-study spread for a published prior),
the discrepancy bases of the domains that can identify one, the domain effects that
vary and which of them are sampled centred, and the normal summaries of reference
domains.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ._text import did_you_mean, tokens_per_param_text
from ._warnings import warn_caller
from .data import (DEFAULT_DOMAIN, RunsTableError, RunsTableWarning, below_tokens_per_param, in_canonical_order, read_runs,
                   validate_runs)
from .datasets import embedded_runs, load_chinchilla
from .discrepancy import DiscrepancyBasis, wants_discrepancy
from .laws import Law
from .model import MIN_DOMAINS_TO_LEARN_SPREAD, RICH_RUNS, Structure, data_arrays
from .priors import between_domain_spread, between_study_spread, published_prior_name

__all__ = ["FitInputs", "build_inputs", "validate_own_runs", "resolve_reference", "REFERENCE_DOMAIN", "REPEATS_NEGLIGIBLE",
           "MIN_TOKENS_PER_PARAM", "MIN_RUNS_KEPT", "undertrained_runs", "undertrained_note"]

#: Domain name given to reference runs that have no domain column.
REFERENCE_DOMAIN = "reference"

#: Runs trained on fewer tokens than this per parameter are left out of a fit by default
#: (``ScalingLaw(min_tokens_per_param=...)``; 0 fits every run). A run that sees less than one token per
#: parameter has stopped early in its optimisation: its loss is set by the warm-up and a learning-rate schedule
#: cut short rather than by its size and data (Porian et al. 2024, arXiv:2406.19146, §3-4, find warm-up and
#: schedule decide the small budgets' isoFLOP curves), and the law of Hoffmann et al. (2022, Eq. 2), fitted
#: through them, is pulled away from the runs near compute-optimal training (~20 tokens per parameter) that
#: forecasts are about. The bound is the boundary the runs' check asks about ("fewer tokens than parameters",
#: ``data.MOST_ROWS_FEWER_TOKENS``), chosen before it was scored, not tuned: on the Porian et al. isoFLOP recipes
#: (171 of 698 runs below it) the median error 2-16x beyond the fitted budgets went from 2.45 % to 1.34 %
#: (``benchmarks/bench_porian_recipes.py``), on Chinchilla's backtest split (11 of 222) from 0.60 % to 0.48 %; on
#: the data-constrained sets one run is below it (datablations 3.68 % -> 3.87 %, SLDBench's split 3.35 % -> 3.40 %;
#: ``benchmarks/model_geometry.md``, session 26).
MIN_TOKENS_PER_PARAM = 1.0
#: A domain keeps all its runs, under-trained ones too, when leaving them out would leave it fewer than this many
#: runs or fewer than half of them (a table of mostly such runs is more likely mislabelled, and the runs' check
#: asks whether 'params' and 'tokens' are swapped).
MIN_RUNS_KEPT = 3


def undertrained_runs(table: pd.DataFrame, min_tokens_per_param: float = MIN_TOKENS_PER_PARAM) -> np.ndarray:
    """Which runs a fit leaves out as trained on too few tokens per parameter (:data:`MIN_TOKENS_PER_PARAM`).

    Parameters
    ----------
    table : pandas.DataFrame
        Validated runs with ``domain``, n rows; without both ``params`` and ``tokens`` no run is left out.
    min_tokens_per_param : float, default :data:`MIN_TOKENS_PER_PARAM`
        Runs with ``tokens / params`` below it are left out; 0 keeps every run.

    Returns
    -------
    ndarray of bool, shape (n,)
        True for a run left out. A domain keeps all its runs when leaving them out would leave fewer than
        :data:`MIN_RUNS_KEPT` runs or fewer than half of them.
    """
    low = below_tokens_per_param(table, min_tokens_per_param)
    out = np.zeros(len(table), bool)
    dom = table["domain"].to_numpy() if "domain" in table else np.zeros(len(table))
    for d in pd.unique(dom):
        i = dom == d
        kept = int((i & ~low).sum())
        if kept >= MIN_RUNS_KEPT and 2 * kept >= int(i.sum()):
            out |= i & low
    return out


def undertrained_note(table: pd.DataFrame, left_out: np.ndarray, min_tokens_per_param: float) -> str:
    """The fit's note on the runs below ``min_tokens_per_param`` (:func:`undertrained_runs`): those left out, and
    those a domain kept because it would otherwise keep too few ("" if there are none of either).

    Parameters
    ----------
    table : pandas.DataFrame
        The user's validated runs (not reference runs), n rows.
    left_out : ndarray of bool, shape (n,)
        The runs left out.
    min_tokens_per_param : float
        The bound.
    """
    kept = below_tokens_per_param(table, min_tokens_per_param) & ~left_out
    if not (left_out.any() or kept.any()):
        return ""
    tpp = table["tokens"].to_numpy(float) / table["params"].to_numpy(float)
    bound = tokens_per_param_text(min_tokens_per_param)
    several = table["domain"].nunique() > 1

    def where(mask):
        counts = table.loc[mask, "domain"].value_counts(sort=False)
        return f" (in {len(counts)} domain(s): {', '.join(f'{d!r} {n}' for d, n in counts.items())})" if several else ""

    parts = []
    if left_out.any():
        parts.append(
            f"{int(left_out.sum())} of {len(table)} runs were left out of the fit{where(left_out)}: they were trained on "
            f"fewer than {bound} (as few as {tpp[left_out].min():.2g}), where the loss reflects a warm-up and schedule "
            "cut short more than the model's size and data, and they pull the law away from the runs near "
            "compute-optimal training that forecasts are about. To fit them too, set min_tokens_per_param=0.")
    if kept.any():
        parts.append(
            f"{int(kept.sum())} run(s) trained on fewer than {bound} were fitted all the same{where(kept)}: leaving "
            f"them out would have left their domain fewer than {MIN_RUNS_KEPT} runs or under half of its runs (are "
            "'params' and 'tokens' the right columns?).")
    return " ".join(parts)


def resolve_reference(reference) -> pd.DataFrame | None:
    """The reference runs as a table.

    Parameters
    ----------
    reference : {"chinchilla"}, path, DataFrame or None
        The embedded Chinchilla runs, a CSV file of runs, or a table.

    Returns
    -------
    pandas.DataFrame or None

    Raises
    ------
    RunsTableError
        For anything else, or a file that cannot be read as runs.
    """
    if reference is None:
        return None
    if isinstance(reference, str) and reference == "chinchilla":
        return load_chinchilla()
    if isinstance(reference, (str, Path)):
        if not Path(reference).exists() and did_you_mean(str(reference), ["chinchilla"], cutoff=0.8):
            # '--reference chinchila' was told only "file 'chinchila' does not exist; check the path" (a fresh user)
            raise RunsTableError(f"reference runs file '{reference}' does not exist; did you mean the embedded "
                                 "'chinchilla' (reference='chinchilla')?")
        return read_runs(reference, what="reference runs")
    if isinstance(reference, pd.DataFrame):
        return reference
    raise RunsTableError("reference must be 'chinchilla', a CSV path or a DataFrame of runs.")


@dataclass
class FitInputs:
    """The model's inputs for one fit (the output of :func:`build_inputs`).

    Attributes
    ----------
    runs : pandas.DataFrame
        Validated runs with ``is_reference`` (reference runs appended).
    structure : Structure
        Shape of the model graph (compile-cache key).
    hierarchical : bool
        Several domains (each drawn around a population centre).
    arrays : dict of ndarray
        ``pm.Data`` values (:func:`bayes_scaling.model.data_arrays`).
    refs : dict
        Log reference scales (natural logs of N_ref, D_ref, ...).
    domains, reference_domains : list of str
        Domain names in model order, and those of the reference runs.
    bases : dict of DiscrepancyBasis
        Discrepancy basis of each domain that has one.
    prior_mean : ndarray, shape (q,)
    prior_cov : ndarray, shape (q, q)
        Prior in the model's sampling coordinates (``law.z_names``), widened by the between-study
        spread for a published prior.
    varying : tuple of str
        Sampling coordinates that vary by domain (empty for one domain).
    centre : ndarray, shape (domains, q) or None
        1 where a domain's coordinate is sampled centred, 0 non-centred (several domains).
    notes : list of str
        What the fit should say about its inputs (runs left out by :func:`undertrained_runs`).
    runs_left_out : int
        How many of the user's runs were left out by :func:`undertrained_runs` (not in ``runs``).
    left_out_runs : pandas.DataFrame or None
        Those runs (validated, with ``domain``): their misfit to the fitted law measures the error of forecasts
        below the bound (:class:`~bayes_scaling.extrapolation.UndertrainedError`).
    """

    runs: pd.DataFrame
    structure: Structure
    hierarchical: bool
    arrays: dict[str, np.ndarray]
    refs: dict[str, float]
    domains: list[str]
    reference_domains: list[str]
    bases: dict[str, DiscrepancyBasis]
    prior_mean: np.ndarray
    prior_cov: np.ndarray
    varying: tuple[str, ...]
    centre: np.ndarray | None = None
    notes: list[str] = field(default_factory=list)
    runs_left_out: int = 0
    left_out_runs: pd.DataFrame | None = None


#: Epochs of repeated data below which a law that does not see repeats is still accurate: "up to ~4 epochs, repeated
#: data is almost as good as unique data" (Muennighoff et al. 2023, §5 and Fig. 3).
REPEATS_NEGLIGIBLE = 4.0


def validate_own_runs(spec, runs, *, loss_unit: str = "nats", with_reference: bool = False) -> pd.DataFrame:
    """The user's runs validated as :func:`build_inputs` validates them for a fit of ``spec`` (not the reference runs).

    Parameters
    ----------
    spec : ScalingLaw
        What is fitted (law, prior, domain column).
    runs : DataFrame or path
    loss_unit : {"nats", "bits"}
    with_reference : bool, default False
        Whether reference runs are fitted alongside (they make a few runs per domain enough).

    Returns
    -------
    pandas.DataFrame
        The runs in canonical form (:func:`bayes_scaling.data.validate_runs`).

    Raises
    ------
    RunsTableError
        On invalid runs, or a data-constrained law without ``unique_tokens``.
    """
    law: Law = spec.law
    table = validate_runs(
        runs,
        n_law_parameters=len(law.theta_names),
        informative_prior=spec.prior.informative or with_reference,
        domain_col=spec.domain_col,
        needs=tuple(law.variables),
        loss_unit=loss_unit,
        reference=with_reference,
        published_prior=published_prior_name(law),
        leaves_out_undertrained=spec.min_tokens_per_param > 0,
    )
    if "unique_tokens" in table and "unique_tokens" not in law.variables:
        # datablations through the Chinchilla law (the default) forecast 12.6 % off where the data-constrained law is
        # 3.5 % off, and nothing said that the repeats were ignored (a fresh user's backtest)
        epochs = table["tokens"] / pd.to_numeric(table["unique_tokens"], errors="coerce")
        many = epochs > REPEATS_NEGLIGIBLE
        if many.any():
            warn_caller(f"{int(many.sum())} run(s) repeat their data more than {REPEATS_NEGLIGIBLE:g} times (up to "
                        f"{epochs.max():.0f} epochs by tokens / unique_tokens), but the {law.name} law does not see "
                        "repeated data: unique_tokens is ignored. Fit law='data_constrained' (--law data_constrained) "
                        "to model the repeats.", RunsTableWarning)
    _warn_prior_fitted_on_runs(table, spec.prior)
    return table


#: Runs of the user's table that coincide with runs a published prior was fitted on, from which on a fit is said to
#: count them twice (three runs equal in N, D and loss to 3-4 digits do not coincide by chance).
PRIOR_SEEN_RUNS = 3


def _warn_prior_fitted_on_runs(table: pd.DataFrame, prior) -> None:
    """Warn when the runs include those the informative prior was fitted on (their evidence would count twice)."""
    if not prior.informative or not prior.fitted_on:
        return

    seen = embedded_runs(table, prior.fitted_on)
    if int(seen.sum()) >= PRIOR_SEEN_RUNS:
        # a fresh user fitted the embedded Chinchilla runs under the default prior, fitted on those same runs, and got
        # intervals that counted them twice without a word (the demo uses the weak prior for this reason)
        warn_caller(f"{int(seen.sum())} of the {len(table)} runs are runs of the embedded '{prior.fitted_on}' data "
                    f"set, which the prior '{prior.name}' was fitted on: the fit counts them twice, so its intervals "
                    "are too narrow. Fit them with prior='weak' (as the demo does), or leave them out.",
                    RunsTableWarning)


def build_inputs(spec, runs, reference=None, loss_unit: str = "nats",
                 summarize: Callable | None = None) -> FitInputs:
    """Validate runs (and reference runs) and build every model input.

    Parameters
    ----------
    spec : ScalingLaw
        What to fit (law, prior, likelihood, discrepancy, domain column, ...).
    runs : DataFrame or path
        The domain runs.
    reference : {"chinchilla"}, path or DataFrame, optional
        Reference runs fitted alongside as sibling domain(s).
    loss_unit : {"nats", "bits"}
    summarize : callable, optional
        ``summarize(runs_of_one_reference_domain, refs) -> (mean, cov, sigma, nu)``: the
        normal summary of a reference domain's own posterior
        (:func:`bayes_scaling.reference.reference_summary`); needed when reference runs
        enter as a summary (``spec.reference_mode == "summary"``, the default).

    Returns
    -------
    FitInputs

    Raises
    ------
    RunsTableError
        On invalid runs or reference runs.
    """
    law: Law = spec.law
    needs = tuple(v for v in law.variables if v != "unique_tokens")
    ref_runs = resolve_reference(reference)
    multi = ref_runs is not None
    table = validate_own_runs(spec, runs, loss_unit=loss_unit, with_reference=multi)
    # the user's runs only: reference runs stand for the published study whose fit is the prior, and enter as it fitted
    # them (leaving Chinchilla's 11 such runs out of the reference moved the OpenLM transfer's median error from 3.05 %
    # to 3.42 %, benchmarks/model_geometry.md, session 26)
    left_out = undertrained_runs(table, spec.min_tokens_per_param)
    note = undertrained_note(table, left_out, spec.min_tokens_per_param)
    notes = [note] if note else []
    # the same runs in another row order give the same draws: each domain's runs in a canonical order (by size, then
    # loss), the domains in the order they first appear (the order the report lists them in). NUTS is chaotic in
    # the last bit of the log density, so a sum over the runs in another order gave other draws (~0.001 in a median).
    left_out_runs = table[left_out].reset_index(drop=True)
    table = in_canonical_order(table[~left_out], domains_as_listed=True).reset_index(drop=True)
    table["is_reference"] = False
    if ref_runs is not None:
        with warnings.catch_warnings():
            if ref_runs.attrs.get("citation"):
                # embedded public runs (their quirks are documented in their provenance): a warning about them, e.g.
                # Chinchilla's run at 0.036 tokens per parameter, named a row the user cannot fix and set off the
                # report's "the runs raised 1 warning" (a fresh user's --reference chinchilla)
                warnings.simplefilter("ignore", RunsTableWarning)
            rt = validate_runs(ref_runs, n_law_parameters=len(law.theta_names), informative_prior=True, needs=needs)
        if (rt["domain"] == DEFAULT_DOMAIN).all():
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
    summarized = spec.reference_mode == "summary" and bool(reference_domains)
    own = table[~table["is_reference"]] if summarized else table
    x = law.inputs(own, refs)
    y = np.log(own["loss"].to_numpy(float))
    dom_idx = own["domain"].map({d: i for i, d in enumerate(domains)}).to_numpy()
    summary = None
    if summarized:
        if summarize is None:
            raise ValueError("reference runs entered as a summary need summarize=(runs, refs) -> (mean, cov, sigma, nu).")
        summary = {"mean": [], "chol": [], "sigma": [], "nu": []}
        for d in reference_domains:
            m, c, sig, nu = summarize(table[table["domain"] == d], refs)
            summary["mean"].append(m)
            summary["chol"].append(np.linalg.cholesky(c))
            summary["sigma"].append(sig)
            summary["nu"].append(nu)
    prior_mean, prior_cov = spec.prior.z_prior(law, refs, table)
    weak_mean, weak_sd = law.weak_prior(table)
    # With several domains, each domain's parameters are drawn around a population centre.
    # With one domain and a published prior, the domain may depart from the published law by
    # the between-study spread: the prior covariance is widened by it (a hierarchy with a
    # single domain would leave the spread unidentified, a funnel for the sampler).
    hierarchical = len(domains) > 1
    # GP discrepancy for domains that can identify it
    bases: dict[str, DiscrepancyBasis] = {}
    if spec.discrepancy != "none":
        for i, d in enumerate(domains):
            sel = dom_idx == i
            xd = _select(x, sel)
            if spec.discrepancy == "gp" or wants_discrepancy(xd, law):
                if sel.sum() < 2 * len(law.theta_names):
                    continue
                bases[d] = DiscrepancyBasis.build(law, xd, y[sel], weak_mean, weak_sd, spec.gp_lengthscale)
    counts = np.bincount(dom_idx, minlength=len(domains))
    summ_idx = tuple(domains.index(d) for d in reference_domains) if summarized else ()
    is_rich = counts >= RICH_RUNS if spec.rich_domains is None else np.isin(domains, list(spec.rich_domains))
    rich = tuple(int(i) for i in np.flatnonzero(is_rich) if int(i) not in summ_idx)
    structure = Structure(
        law=law.name,
        n_domains=len(domains),
        n_gp=len(bases),
        likelihood=spec.likelihood,
        hierarchical=hierarchical,
        rich=rich,
        summarized=summ_idx,
        learn_spread=len(domains) - len(reference_domains) >= MIN_DOMAINS_TO_LEARN_SPREAD,
    )
    if spec.prior.informative:
        # The published fit is one domain drawn from the population of domains: the population
        # centre (several domains) or this domain (one domain) is known only up to the
        # between-domain spread.
        prior_cov = prior_cov + np.diag(between_study_spread(law) ** 2)
    psi = None
    if bases:
        psi = np.zeros((len(bases), len(y), structure.n_basis))
        for s, (d, basis) in enumerate(bases.items()):
            sel = dom_idx == domains.index(d)
            xd = _select(x, sel)
            psi[s, sel] = basis.psi(law, xd)
    all_counts = table["domain"].value_counts().reindex(domains).to_numpy()
    vary_names = spec.varying_parameters(all_counts, table, domains)
    vary = np.array([1.0 if name in vary_names else 0.0 for name in law.z_names])
    spread_scale, _ = between_domain_spread(law)
    pinned = None
    if hierarchical:
        # What each domain's runs pin, judged at the narrow between-domain spreads (pinned_coordinates).
        pinned = pinned_coordinates(law, x, dom_idx, len(domains), prior_mean, spread_scale)
        own_idx = [i for i, d in enumerate(domains) if d not in reference_domains]
        if vary.all() and pinned[own_idx].mean(axis=0).min() > 0.5:
            # The runs of most of the user's own domains pin every coordinate: the domains' split between E and
            # the size terms is measured, not assumed, and may differ between them as much as between studies
            # (priors.BETWEEN_DOMAIN, "share").
            spread_scale, _ = between_domain_spread(law, identified=True)
    centre = None
    if hierarchical:
        # Centred where the runs pin the coordinate: every domain's loss level, the exponent of a domain
        # with many runs, every coordinate of a reference summary, and any coordinate whose runs carry
        # more information than the between-domain spread (pinned_coordinates); non-centred elsewhere.
        centre = np.zeros((len(domains), len(law.z_names)))
        centre[:, [j for j, r in enumerate(law.z_roles) if r == "level"]] = 1.0
        centre[np.ix_(list(rich), [j for j, r in enumerate(law.z_roles) if r == "exponent"])] = 1.0
        centre[list(summ_idx), :] = 1.0
        centre = np.maximum(centre, pinned)
        centre = centre * vary[None, :]
    arrays = data_arrays(law, x, y, dom_idx, prior_mean, prior_cov, spread_scale, psi, structure, spec.gp_lengthscale,
                         vary=vary, centre=centre, noise_vary=1.0 if spec.noise == "domain" else 0.0, summary=summary)
    return FitInputs(
        runs=table,
        structure=structure,
        hierarchical=hierarchical,
        arrays=arrays,
        refs=refs,
        domains=domains,
        reference_domains=reference_domains,
        bases=bases,
        prior_mean=prior_mean,
        prior_cov=prior_cov,
        varying=tuple(vary_names) if hierarchical else (),
        centre=centre,
        notes=notes,
        runs_left_out=int(left_out.sum()),
        left_out_runs=left_out_runs,
    )


#: Noise of the log loss at which :func:`pinned_coordinates` judges what a domain's runs measure: 1 %,
#: the order of the runs' residual scale (``model.NOISE_PRIOR``: geometric mean 1.2 % over 32 domains).
PINNING_NOISE = 0.01


def pinned_coordinates(law, x: dict, dom_idx: np.ndarray, n_domains: int, z0: np.ndarray, spread: np.ndarray,
                       sigma: float = PINNING_NOISE) -> np.ndarray:
    """Which sampling coordinates each domain's runs pin down better than the between-domain spread does.

    A hierarchical coordinate ``z_dj ~ N(mu_j, tau_j)`` samples best centred (the free variable is
    ``z_dj``) when the domain's likelihood carries more information about it than the prior, and
    non-centred (``z_dj = mu_j + tau_j e_dj``) otherwise (Papaspiliopoulos, Roberts & Sköld 2007;
    Betancourt & Girolami 2015, §3). The information is judged at the population centre ``z0``: with
    ``J`` the Jacobian of the domain's log losses in ``z`` and noise ``sigma``, the precision given the
    spread is ``P = J'J / sigma^2 + diag(1 / tau^2)``; the coordinate is pinned when its conditional
    variance ``(P^-1)_jj`` is below half the prior's ``tau_j^2``, i.e. the runs carry more than half of
    what is known about it.

    Parameters
    ----------
    law : Law
    x : dict of ndarray
        Centred log inputs of the runs (:meth:`Law.inputs`), each of shape (n,).
    dom_idx : ndarray of int, shape (n,)
        Domain of each run.
    n_domains : int
    z0 : ndarray, shape (q,)
        Point of the sampling coordinates (``law.z_names``) at which the Jacobian is taken.
    spread : ndarray, shape (q,)
        Between-domain spread of each coordinate (``priors.between_domain_spread``).
    sigma : float, default PINNING_NOISE
        Noise sd of the log loss.

    Returns
    -------
    ndarray of float, shape (n_domains, q)
        1.0 where the coordinate is pinned, else 0.0. Domains without runs here (reference
        summaries) get 0.
    """
    q = len(law.z_names)
    spread = np.asarray(spread, float)
    out = np.zeros((n_domains, q))
    for d in range(n_domains):
        sel = dom_idx == d
        if not sel.any():
            continue
        jac = law.log_loss_jacobian(_select(x, sel), z0, coords="z")
        prec = jac.T @ jac / sigma**2 + np.diag(1.0 / spread**2)
        out[d] = (np.diag(np.linalg.inv(prec)) < 0.5 * spread**2).astype(float)
    return out


def _select(x: dict, sel: np.ndarray) -> dict:
    """The runs ``sel`` of centred log inputs ``x`` (scalar entries, e.g. reference scales, kept)."""
    return {k: (v[sel] if isinstance(v, np.ndarray) else v) for k, v in x.items()}
