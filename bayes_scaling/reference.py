"""Floor 2. Reference domains as a normal summary of their own posterior (two-stage, as in meta-analysis).

Reference runs (``reference="chinchilla"`` or earlier runs of your own) are fitted once
on their own, and enter the joint fit as a sibling domain through the mean and
covariance of that posterior (:func:`reference_summary`). The one-domain fit uses the
joint fit's law, likelihood, discrepancy setting and sampler implementation with a weak
prior and the default sampler settings; it is cached for the process by the runs'
content.
"""

from __future__ import annotations

import hashlib
import warnings

import numpy as np
import pandas as pd

from .inference import SamplerConfig
from .model import SPARSE_NU

__all__ = ["reference_summary", "clear_reference_cache"]

_CACHE: dict = {}


def clear_reference_cache() -> None:
    """Forget the reference fits of this process (the next joint fit fits its reference runs again)."""
    _CACHE.clear()


def reference_summary(spec, runs: pd.DataFrame, refs: dict[str, float]):
    """Normal summary of one reference domain's own posterior, in the joint fit's parameterisation.

    The reference runs are fitted alone with a weak prior by a copy of ``spec`` (same law,
    likelihood, discrepancy and sampler implementation, default draws and warm-up, the
    same checks and retry); the draws are converted to the joint fit's reference scales
    through the law's catalog parameters.

    Parameters
    ----------
    spec : ScalingLaw
        The joint fit's specification.
    runs : DataFrame
        Validated runs of one reference domain.
    refs : dict
        Reference scales of the joint fit.

    Returns
    -------
    (mean, cov, sigma, nu) : tuple
        Mean (q,) and covariance (q, q) of the model's sampling coordinates (``law.z_names``) at
        the joint fit's reference scales; posterior medians
        of the noise scale and of the Student-t degrees of freedom (at most
        :data:`~bayes_scaling.model.SPARSE_NU`).
    """
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
    if key not in _CACHE:
        alone = type(spec)(law=law, prior="weak", discrepancy=spec.discrepancy, likelihood=spec.likelihood,
                           sampler=sampler, gp_lengthscale=spec.gp_lengthscale, extrapolation="none",
                           min_tokens_per_param=0)  # reference runs enter as published (inputs.build_inputs)
        cols = [c for c in ("params", "tokens", "flops", "unique_tokens", "loss") if c in runs]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = alone.fit(runs[cols].reset_index(drop=True), random_seed=0)
        domain = fit.domains[0]
        _CACHE[key] = (law.to_catalog(fit.theta_dict(fit.theta(domain)), fit.refs),
                       float(np.median(fit.noise_scale(domain))), float(np.median(fit.tail_weight(domain))))
    cat, sigma, nu = _CACHE[key]
    th = law.from_catalog(cat, refs)
    draws = law.z_matrix(np.column_stack([th[k] for k in law.theta_names]))
    return draws.mean(0), np.cov(draws, rowvar=False) + 1e-10 * np.eye(draws.shape[1]), sigma, min(nu, SPARSE_NU)
