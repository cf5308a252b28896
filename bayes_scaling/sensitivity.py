"""Floor 3. The analyses that refit: how the answer depends on the prior.

* :func:`sensitivity` — the compute-optimal frontier under other priors, side by side.
* :func:`prior_contribution` — how much of the forecast interval the prior removes:
  interval width with the published prior vs with the same prior widened tenfold
  (nearly flat), fitted with the same compiled model.

Both fit the runs several times (:meth:`bayes_scaling.ScalingLaw.fit`); fits of the
same model shape reuse one compiled model.
"""

from __future__ import annotations

import warnings
from dataclasses import replace

import pandas as pd

from .decisions import frontier
from .fit import ScalingLaw
from .inference import SamplerConfig
from .predict import predict

__all__ = ["sensitivity", "prior_contribution", "SENSITIVITY_PRIORS", "SENSITIVITY_LAW"]


#: The priors :func:`sensitivity` compares by default: the Chinchilla law's published fits and the weak prior.
SENSITIVITY_PRIORS = ("weak", "hoffmann2022", "besiroglu2024")
#: The law whose published priors those are: a fit of another law has no set of priors to compare (the workflow and
#: the command line refuse ``sensitivity`` / ``--sensitivity`` for it).
SENSITIVITY_LAW = "chinchilla"


def sensitivity(runs, flops, priors=SENSITIVITY_PRIORS, widen=(1.0, 3.0), prob=0.9,
                random_seed=0, sampler=None, reference=None, spec: ScalingLaw | None = None) -> pd.DataFrame:
    """The compute-optimal decision under different priors, side by side.

    Parameters
    ----------
    runs : DataFrame or path
        Runs to fit.
    flops : float or sequence of float
        Budgets.
    priors : sequence of str
        Catalog priors for the Chinchilla law.
    widen : sequence of float
        Widening factors applied to each informative prior.
    prob : float
    random_seed : int
    sampler : SamplerConfig, optional
    reference : optional
        Reference runs (see :meth:`ScalingLaw.fit`).
    spec : ScalingLaw, optional
        The fit whose prior is varied: every other setting (likelihood, discrepancy, extrapolation
        prior, sampler, domain column) is kept; ``sampler`` is then ignored. Default: the package's
        defaults for the Chinchilla law.

    Returns
    -------
    pandas.DataFrame
        The :func:`frontier` rows of every (prior, widen) combination, with columns
        ``prior`` and ``widen`` in front. Fits of the same shape reuse one compiled model.
    """
    rows = []
    for name in priors:
        for w in widen if name != "weak" else (1.0,):
            law = (replace(spec, prior=name, widen=w) if spec is not None
                   else ScalingLaw(prior=name, widen=w, sampler=sampler or SamplerConfig()))
            fit = law.fit(runs, reference=reference, random_seed=random_seed)
            fr = frontier(fit, flops, prob=prob)
            fr.insert(0, "widen", w)
            fr.insert(0, "prior", name)
            fr["diagnostics_ok"] = fit.diagnostics.ok
            rows.append(fr)
    return pd.concat(rows, ignore_index=True)


def prior_contribution(spec, runs, targets, *, reference=None, prob: float = 0.9, random_seed: int = 0,
                       widen_weak: float = 10.0) -> pd.DataFrame:
    """How much of the forecast interval comes from the prior and how much from the runs.

    Fits the same model twice: with the prior as given and with its standard
    deviations multiplied by ``widen_weak`` (a nearly flat prior of the same
    shape, so the compiled model is reused), and compares the new-run interval
    widths at the targets.

    Parameters
    ----------
    spec : ScalingLaw
        The fit specification (with an informative prior).
    runs, targets : DataFrame or path
    reference : optional
        Reference runs, as in :meth:`ScalingLaw.fit`.
    prob : float
    random_seed : int
    widen_weak : float
        Widening factor of the comparison prior.

    Returns
    -------
    pandas.DataFrame
        Per target: ``domain``, ``params``, ``tokens``, ``width_prior`` and ``width_weak``
        (relative widths (upper - lower) / median), ``prior_share`` = 1 - width_prior / width_weak
        (the fraction of the interval the prior removes; 0 = the runs alone decide,
        near 1 = the prior decides; negative when the published prior *widens* the interval,
        which happens when it disagrees with the runs or when the weak-prior fit is itself
        narrow: the published law then adds its between-domain spread) and
        ``median_shift`` (relative change of the median).
    """
    if not spec.prior.informative:
        raise ValueError("prior_contribution needs an informative prior (e.g. prior='besiroglu2024').")
    weak_spec = replace(spec, prior=replace(spec.prior, widen_factor=spec.prior.widen_factor * widen_weak), widen=1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = predict(spec.fit(runs, reference=reference, random_seed=random_seed), targets, prob=prob)
        b = predict(weak_spec.fit(runs, reference=reference, random_seed=random_seed), targets, prob=prob)
    w_a = (a["loss_upper"] - a["loss_lower"]) / a["loss_median"]
    w_b = (b["loss_upper"] - b["loss_lower"]) / b["loss_median"]
    out = a[[c for c in ("domain", "params", "tokens") if c in a]].copy()
    out["width_prior"] = w_a.to_numpy()
    out["width_weak"] = w_b.to_numpy()
    out["prior_share"] = (1.0 - w_a / w_b).to_numpy()
    out["median_shift"] = ((a["loss_median"] - b["loss_median"]) / b["loss_median"]).to_numpy()
    return out
