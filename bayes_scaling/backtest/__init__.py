"""Floor 3. Backtests: fit on small runs, forecast the large ones, score the forecasts.

:func:`backtest` splits a runs table (a scale cutoff on ``params``, ``tokens``
or ``flops``, or the k smallest runs per domain), fits every method on the
fitting runs and scores its forecasts of the held-out runs.

Methods
-------
``bayes``
    :class:`bayes_scaling.ScalingLaw` with the given keyword arguments (package
    defaults otherwise: the published ``besiroglu2024`` prior for the Chinchilla
    law). One hierarchical fit over all domains of the fitting runs. **Beware:**
    the default prior was fitted to all 240 Chinchilla runs, including those
    held out by a Chinchilla split, so a Chinchilla backtest of ``bayes`` with
    that prior is optimistic; pass ``{"bayes": {"prior": "weak"}}`` for a clean
    one. The same leak makes ``published`` and ``published_offset`` optimistic
    on any Chinchilla split: they are honest baselines only on other data.
``huber_ls``
    :class:`bayes_scaling.baselines.HuberLeastSquares` (Hoffmann et al. 2022,
    Eq. 3; Besiroglu et al. 2024), one fit per domain, plug-in residual intervals.
    It fits the **same law** as the ``bayes`` method (``{"bayes": {"law":
    "data_constrained"}, "huber_ls": {}}`` compares two fits of the data-constrained
    law) unless its kwargs name a ``law``.
``huber_ls_bootstrap``
    The same fit plus its nonparametric bootstrap (default 200 resamples).
``published``
    The published Besiroglu et al. (2024) law, unchanged (a point forecast); for a
    backtest of the data-constrained law, the Muennighoff et al. (2023) fit.
    For the other laws (no published fit in the catalog) the Chinchilla law, and
    its ``notes`` say so.
``published_offset``
    The same published fit plus a per-domain offset on log loss.

The summary's ``law`` column names the law each method fits.

Scores (per method, pooled over the held-out runs)
--------------------------------------------------
``mape``
    Median absolute percentage error of the median forecast, in percent:
    ``median_i 100 |L_hat_i - L_i| / L_i``.
``rmsle``
    ``sqrt(mean_i (log L_hat_i - log L_i)^2)``.
``r2``
    ``1 - sum (L_i - L_hat_i)^2 / sum (L_i - mean L)^2`` on loss (pooled).
``coverage_XX``
    Fraction of held-out runs inside the equal-tailed XX % interval.
``width_90``
    Mean of ``(upper - lower) / median`` of the 90 % interval.
``crps``
    Mean continuous ranked probability score of the **log** loss, from the
    predictive draws: ``CRPS(F, y) = E|X - y| - E|X - X'| / 2`` (Gneiting &
    Raftery 2007, Eq. 21) evaluated exactly for the empirical distribution of
    the draws (:func:`bayes_scaling.scoring.crps_from_draws`), with ``X`` the predictive draws of log L
    and ``y`` the observed log L. A point forecast is a point mass, so its CRPS
    is the absolute log error. On the log scale the score is a relative error
    (0.01 ~ 1 %), comparable across data sets, and finite for every method: a
    new-run forecast with Student-t noise of tail weight nu <= 2 on log L has no
    finite mean on the loss scale, where the score would be undefined (its
    draws overflow exp()).
``log_pred_density``
    Mean over held-out runs of the log predictive density of the observed
    **log** loss. ``bayes``: ``log mean_s p(log L | theta_s, sigma_s, nu_s)``
    (exact Student-t or normal density per posterior draw, log-mean-exp over
    draws; a Gaussian KDE of the draws for domains the fit has not seen).
    ``huber_ls`` and ``huber_ls_bootstrap``: a Gaussian KDE (Scott's bandwidth)
    of their draws. ``published_offset``: the exact Student-t density.
    ``published``: NaN (a point mass has no density).
``fit_seconds``
    Wall time of the method's fits summed over its tasks (per-domain fits,
    bootstrap chunks): the serial cost, not the elapsed time under parallelism.

Parallelism and determinism
---------------------------
Independent work (the Bayesian fit of each split, the Huber fit of each split
and domain, chunks of 25 bootstrap resamples) runs through :class:`joblib.Parallel`
with ``n_jobs`` workers, or on a Dask cluster when a ``dask.distributed.Client``
is passed (``joblib.parallel_config(backend="dask", client=client)``): the
code path is the same. Every task gets its seed from ``random_seed``, the
domain name and the resample number, never from the worker, so the same seed
gives the same numbers whatever the backend or the number of workers.

Layout: :mod:`~bayes_scaling.backtest.splits` (how runs are split),
:mod:`~bayes_scaling.backtest.runner` (fitting, forecasting, scoring),
:mod:`~bayes_scaling.backtest.command` (the ``bayes-scaling backtest`` command); the
scores are :mod:`bayes_scaling.scoring`.
"""

from __future__ import annotations

from .command import add_backtest_arguments, backtest_cli
from .runner import METHODS, BacktestResult, backtest, calibration_table
from .splits import Split

__all__ = ["METHODS", "Split", "BacktestResult", "backtest", "calibration_table", "add_backtest_arguments",
           "backtest_cli"]
