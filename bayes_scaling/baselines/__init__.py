"""Floor 3. Non-Bayesian baselines with the output contract of :meth:`ScalingFit.predict`.

Every baseline is fitted to a runs table (validated by
:func:`bayes_scaling.data.validate_runs`) and returns forecasts as a DataFrame
with the target columns plus ``domain``, ``loss_median``, ``loss_lower``,
``loss_upper`` (a new run), and ``mean_loss_median``, ``mean_loss_lower``,
``mean_loss_upper`` (the law's expected loss), all in nats/token.

Baselines
---------
:class:`HuberLeastSquares`
    The fitting procedure of Hoffmann et al. (2022, Approach 3, Eq. 3) as
    replicated by Besiroglu et al. (2024): minimise the **sum** of Huber
    (delta = 1e-3) losses of log-loss residuals of

        log L = LSE(a - alpha log N, b - beta log D, e)

    (A = e^a, B = e^b, E = e^e) by L-BFGS-B from a grid of starting values and
    keep the best. One fit per domain by default. :meth:`HuberFit.bootstrap`
    adds the nonparametric bootstrap of Besiroglu et al. (2024).
    ``HuberLeastSquares(law=...)`` fits any other law of
    :data:`bayes_scaling.laws.LAWS` the same way (the data-constrained,
    Kaplan and one-variable laws; grids of starts in :func:`law_grid`), with
    the same intervals. The published baselines exist for the Chinchilla law
    and the data-constrained law (:data:`PUBLISHED_SOURCES`).
:class:`PublishedLaw`
    The published Besiroglu et al. (2024) law, unchanged (a point forecast);
    ``law="data_constrained"``: the Muennighoff et al. (2023) fit.
:class:`PublishedLawOffset`
    The published law plus a per-domain offset on log loss (the median log
    residual of the domain's runs): Kaplan et al. (2020, §3.2.2) find that other
    text distributions shift the loss by a roughly constant offset.

Predictive intervals (exactly what each baseline does)
------------------------------------------------------
``HuberFit`` (plug-in)
    The law at the point estimate plus the empirical distribution of the
    domain's in-sample log residuals r_i = log L_i - log L_hat_i: the draws of
    a new run's log loss are ``log L_hat(x) + r_i`` for every fitted run i.
    In-sample residuals understate out-of-sample error (no leverage
    correction). With n <= 5 runs (no residual degrees of freedom for 5
    parameters; n <= p for a law with p parameters) the intervals are NaN.
``HuberBootstrap``
    B resamples (default 200) of the domain's runs with replacement, each refit
    by L-BFGS-B started at the full-data estimate. Draw s of a new run's log
    loss is ``log L(x; theta_b) + r`` with b = s mod B and r one of the
    full-data residuals drawn uniformly at random (a seeded generator): the
    convolution of the bootstrap distribution of the law with the residual
    distribution. Intervals are equal-tailed percentiles of these draws;
    ``mean_loss_*`` are percentiles of the B law predictions alone (parameter
    uncertainty only). NaN with n <= 5 runs.
``PublishedLaw``
    Intervals are NaN: the unchanged law uses no data and the paper gives no
    predictive noise. ``uncertainty="parameters"`` instead draws the parameters
    from the shipped Besiroglu et al. (2024) bootstrap covariance (parameter
    uncertainty of the Chinchilla fit, no run-to-run noise).
``PublishedLawOffset``
    A Student-t prediction interval for one new observation of a location
    model: ``log L_pub(x) + m + s sqrt(1 + 1/n) t_{n-1}``, with m the median and
    s the sample standard deviation (ddof = 1) of the n log residuals
    ``log L_i - log L_pub(x_i)`` of the domain (the classical interval
    ybar +- t s sqrt(1 + 1/n), with the median in place of the mean for
    robustness). NaN for a domain with a single run.

All intervals are equal-tailed. Point forecasts (``loss_median``) are medians
of the draws (the point law itself for :class:`PublishedLaw`).
"""

from __future__ import annotations

from .base import FORECAST_COLUMNS, BaselineFit, Forecast, Forecaster, log_loss_lse
from .huber import (
    POOLED_DOMAIN,
    DomainHuberFit,
    HuberBootstrap,
    HuberFit,
    HuberLeastSquares,
    bootstrap_chunk,
    bootstrap_tasks,
    fit_domain,
    fit_domain_law,
    hoffmann_grid,
    huber_objective,
    law_grid,
    law_objective,
)
from .published import FITTED_ON, PUBLISHED_SOURCES, PublishedFit, PublishedLaw, PublishedLawOffset

__all__ = [
    "PUBLISHED_SOURCES",
    "FITTED_ON",
    "Forecaster",
    "Forecast",
    "BaselineFit",
    "FORECAST_COLUMNS",
    "HuberLeastSquares",
    "HuberFit",
    "HuberBootstrap",
    "DomainHuberFit",
    "PublishedLaw",
    "PublishedLawOffset",
    "PublishedFit",
    "POOLED_DOMAIN",
    "fit_domain",
    "bootstrap_chunk",
    "bootstrap_tasks",
    "fit_domain_law",
    "hoffmann_grid",
    "huber_objective",
    "law_grid",
    "law_objective",
    "log_loss_lse",
]
