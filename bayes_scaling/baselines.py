"""Non-Bayesian baselines with the output contract of :meth:`ScalingFit.predict`.

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
:class:`PublishedLaw`
    The published Besiroglu et al. (2024) law, unchanged (a point forecast).
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
    parameters) the intervals are NaN.
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

import time
import warnings
import zlib
from dataclasses import dataclass
from itertools import product

import joblib
import numpy as np
import pandas as pd
from scipy import stats
from scipy.optimize import minimize

from .data import RunsTableError, RunsTableWarning, validate_runs, validate_targets

__all__ = [
    "HuberLeastSquares",
    "HuberFit",
    "HuberBootstrap",
    "PublishedLaw",
    "PublishedLawOffset",
    "PublishedFit",
    "hoffmann_grid",
    "huber_objective",
    "log_loss_lse",
]

#: Parameter order of the Huber fits: a = ln A, b = ln B, e = ln E, alpha, beta (Hoffmann et al. 2022, Eq. 3).
HUBER_PARAMS = ("a", "b", "e", "alpha", "beta")
_NEEDS = ("params", "tokens")
#: Runs needed for residual degrees of freedom (5 law parameters).
_MIN_RUNS_FOR_INTERVALS = 6
#: L-BFGS-B options of the final polish and of the bootstrap refits.
_TIGHT = {"ftol": 1e-15, "gtol": 1e-10, "maxiter": 20_000, "maxfun": 40_000}
_BOOT_CHUNK = 25


# ----------------------------------------------------------------------------
# The law and the objective
# ----------------------------------------------------------------------------


def log_loss_lse(theta, log_n, log_d):
    """Chinchilla law in log space, log L = LSE(a - alpha log N, b - beta log D, e).

    Parameters
    ----------
    theta : array_like, shape (..., 5)
        ``(a, b, e, alpha, beta)`` with a = ln A, b = ln B, e = ln E.
    log_n, log_d : array_like, shape (n,)
        Natural logs of N (parameters) and D (tokens).

    Returns
    -------
    ndarray, shape (..., n)
        log L in log-nats/token.

    Notes
    -----
    Hoffmann et al. (2022), arXiv:2203.15556, Eq. 3 (the form used for
    fitting); equal to ``log(E + A N^-alpha + B D^-beta)`` (Eq. 2).
    """
    th = np.asarray(theta, float)
    a, b, e, al, be = (th[..., k, None] for k in range(5))
    return np.logaddexp(np.logaddexp(a - al * np.asarray(log_n), b - be * np.asarray(log_d)), e)


def huber_objective(theta, log_n, log_d, log_loss, delta: float = 1e-3):
    """Summed Huber loss of log-loss residuals and its gradient.

    Parameters
    ----------
    theta : ndarray, shape (5,)
        ``(a, b, e, alpha, beta)``.
    log_n, log_d, log_loss : ndarray, shape (n,)
        Natural logs of N, D and the observed loss L (nats/token).
    delta : float, default 1e-3
        Huber threshold (Hoffmann et al. 2022 §3.3; Besiroglu et al. 2024).

    Returns
    -------
    (value, gradient) : tuple of float and ndarray of shape (5,)
        ``sum_i Huber_delta(LSE(a - alpha log N_i, b - beta log D_i, e) - log L_i)``
        with ``Huber_delta(r) = r^2 / 2`` for ``|r| <= delta`` and
        ``delta (|r| - delta / 2)`` otherwise. Summed, not averaged: averaging
        makes L-BFGS stop early (Besiroglu et al. 2024).
    """
    a, b, e, al, be = theta
    t1 = a - al * log_n
    t2 = b - be * log_d
    m = np.maximum(np.maximum(t1, t2), e)
    w1 = np.exp(t1 - m)
    w2 = np.exp(t2 - m)
    w3 = np.exp(e - m)
    s = w1 + w2 + w3
    r = m + np.log(s) - log_loss
    ar = np.abs(r)
    val = float(np.where(ar <= delta, 0.5 * r * r, delta * (ar - 0.5 * delta)).sum())
    g = np.clip(r, -delta, delta) / s
    gw1 = g * w1
    gw2 = g * w2
    grad = np.array([gw1.sum(), gw2.sum(), (g * w3).sum(), -(gw1 @ log_n), -(gw2 @ log_d)])
    return val, grad


def hoffmann_grid(stride: int = 1) -> np.ndarray:
    """Starting values of the Hoffmann et al. (2022) / Besiroglu et al. (2024) grid.

    Parameters
    ----------
    stride : int, default 1
        Keep every ``stride``-th start of the full grid, in the order
        ``product(a, b, e, alpha, beta)``. 1 gives all 4500 starts.

    Returns
    -------
    ndarray, shape (ceil(4500 / stride), 5)
        Columns ``(a, b, e, alpha, beta)``; a, b in {0, 5, ..., 25},
        e in {-1, -0.5, ..., 1}, alpha, beta in {0, 0.5, ..., 2}.

    Raises
    ------
    ValueError
        If ``stride`` is not a positive integer.

    Notes
    -----
    A stride co-prime with 5 and 6 (the axis lengths), such as the default 7 of
    :class:`HuberLeastSquares`, visits every value of every axis.
    """
    if int(stride) != stride or stride < 1:
        raise ValueError(f"grid stride must be a positive integer, got {stride}.")
    axes = (
        np.arange(0, 30, 5.0),
        np.arange(0, 30, 5.0),
        np.arange(-1, 1.5, 0.5),
        np.arange(0, 2.5, 0.5),
        np.arange(0, 2.5, 0.5),
    )
    return np.array(list(product(*axes)))[:: int(stride)]


def _minimize(x0, log_n, log_d, y, delta, options=None):
    with np.errstate(over="ignore", invalid="ignore"):
        return minimize(
            huber_objective, np.asarray(x0, float), args=(log_n, log_d, y, delta), jac=True,
            method="L-BFGS-B", options=options or {},
        )


def _fit_arrays(log_n, log_d, y, delta, starts, polish=True):
    """Multi-start fit of one domain. Returns (theta, objective, n_success)."""
    best_f, best_x, n_ok = np.inf, None, 0
    fallback_f, fallback_x = np.inf, None
    for x0 in starts:
        res = _minimize(x0, log_n, log_d, y, delta)
        if not np.isfinite(res.fun) or not np.all(np.isfinite(res.x)):
            continue
        if res.success:
            n_ok += 1
            if res.fun < best_f:
                best_f, best_x = float(res.fun), res.x
        elif res.fun < fallback_f:
            fallback_f, fallback_x = float(res.fun), res.x
    if best_x is None:
        best_f, best_x = fallback_f, fallback_x
    if best_x is None:
        raise RuntimeError("no start of the Huber fit gave a finite objective.")
    if polish:
        res = _minimize(best_x, log_n, log_d, y, delta, _TIGHT)
        if np.isfinite(res.fun) and res.fun <= best_f and np.all(np.isfinite(res.x)):
            best_f, best_x = float(res.fun), res.x
    return np.asarray(best_x, float), best_f, n_ok


def _domain_seed(random_seed: int, domain: str, stream: int) -> np.random.SeedSequence:
    """Seed of one domain and purpose: independent of domain order and of scheduling."""
    return np.random.SeedSequence([int(random_seed), zlib.crc32(str(domain).encode()), int(stream)])


# ----------------------------------------------------------------------------
# Per-domain fit and bootstrap chunks (the units of parallel work)
# ----------------------------------------------------------------------------


@dataclass
class DomainHuberFit:
    """Huber least-squares fit of one domain (see :class:`HuberLeastSquares`).

    Attributes
    ----------
    domain : str
    theta : ndarray, shape (5,)
        ``(a, b, e, alpha, beta)``.
    objective : float
        Summed Huber loss at ``theta``.
    n_runs : int
    n_starts, n_converged : int
        Starts tried and starts at which L-BFGS-B reported convergence.
    residuals : ndarray, shape (n_runs,)
        In-sample log residuals ``log L_i - log L_hat_i``.
    log_n, log_d, log_loss : ndarray, shape (n_runs,)
        The fitted data (logs), kept for the bootstrap.
    seconds : float
        Wall time of the fit.
    """

    domain: str
    theta: np.ndarray
    objective: float
    n_runs: int
    n_starts: int
    n_converged: int
    residuals: np.ndarray
    log_n: np.ndarray
    log_d: np.ndarray
    log_loss: np.ndarray
    seconds: float

    def natural(self) -> dict[str, float]:
        """``{"E", "A", "B", "alpha", "beta"}`` of the point estimate."""
        a, b, e, al, be = self.theta
        return {"E": float(np.exp(e)), "A": float(np.exp(a)), "B": float(np.exp(b)), "alpha": float(al), "beta": float(be)}


def fit_domain(domain: str, log_n, log_d, log_loss, *, delta=1e-3, grid_stride=7, polish=True) -> DomainHuberFit:
    """Fit one domain by multi-start L-BFGS-B (the unit of parallel work).

    Parameters
    ----------
    domain : str
    log_n, log_d, log_loss : ndarray, shape (n,)
        Natural logs of N, D and L (nats/token).
    delta : float
        Huber threshold.
    grid_stride : int
        See :func:`hoffmann_grid`.
    polish : bool
        Re-run L-BFGS-B from the best start with tight tolerances
        (ftol 1e-15, gtol 1e-10) so the minimiser does not depend on where the
        default tolerances stop.

    Returns
    -------
    DomainHuberFit
    """
    t0 = time.perf_counter()
    log_n, log_d, y = (np.asarray(v, float) for v in (log_n, log_d, log_loss))
    starts = hoffmann_grid(grid_stride)
    theta, f, n_ok = _fit_arrays(log_n, log_d, y, delta, starts, polish)
    resid = y - log_loss_lse(theta, log_n, log_d)
    return DomainHuberFit(
        domain=str(domain), theta=theta, objective=f, n_runs=int(y.size), n_starts=len(starts), n_converged=n_ok,
        residuals=resid, log_n=log_n, log_d=log_d, log_loss=y, seconds=time.perf_counter() - t0,
    )


def bootstrap_chunk(fit: DomainHuberFit, seeds, delta: float = 1e-3) -> tuple[np.ndarray, float]:
    """Refit bootstrap resamples of one domain (the unit of parallel work).

    Parameters
    ----------
    fit : DomainHuberFit
        Full-data fit: supplies the data and the starting point.
    seeds : sequence of numpy.random.SeedSequence
        One seed per resample; resample b draws n run indices with replacement
        from ``default_rng(seeds[b])``.
    delta : float

    Returns
    -------
    (theta, seconds) : tuple of ndarray of shape (len(seeds), 5) and float
        Refitted ``(a, b, e, alpha, beta)``; a row of NaN where the refit did not
        give a finite objective.
    """
    t0 = time.perf_counter()
    n = fit.n_runs
    out = np.full((len(seeds), 5), np.nan)
    for k, s in enumerate(seeds):
        idx = np.random.default_rng(s).integers(0, n, n)
        res = _minimize(fit.theta, fit.log_n[idx], fit.log_d[idx], fit.log_loss[idx], delta, _TIGHT)
        if np.isfinite(res.fun) and np.all(np.isfinite(res.x)):
            out[k] = res.x
    return out, time.perf_counter() - t0


def _kde_log_density(draws_log: np.ndarray, y_log: np.ndarray) -> np.ndarray:
    """Gaussian-KDE (Scott's bandwidth) log density of each column's draws at y; NaN if degenerate."""
    out = np.full(y_log.shape, np.nan)
    for j in range(y_log.size):
        col = draws_log[:, j]
        col = col[np.isfinite(col)]
        if col.size < 2 or np.ptp(col) == 0:
            continue
        try:
            out[j] = float(stats.gaussian_kde(col).logpdf(y_log[j])[0])
        except (np.linalg.LinAlgError, ValueError):
            pass
    return out


# ----------------------------------------------------------------------------
# Common forecast machinery
# ----------------------------------------------------------------------------


@dataclass
class Forecast:
    """Predictive distribution of new-run log loss at n targets (internal contract of the baselines).

    Attributes
    ----------
    point_log : ndarray, shape (n,)
        The law's point forecast of log loss.
    draws_log : ndarray, shape (S, n), or None
        Draws (or an evenly spaced quantile grid) of a new run's log loss; one
        row (S = 1) means a point forecast (no interval).
    mean_draws_log : ndarray, shape (S', n), or None
        Draws of the law's expected log loss (parameter uncertainty only).
    log_density : ndarray, shape (n,), or None
        Log predictive density of the observed log loss, when observations were given.
    density_kind : str
        ``exact``, ``kde`` or ``none``.
    """

    point_log: np.ndarray
    draws_log: np.ndarray | None
    mean_draws_log: np.ndarray | None = None
    log_density: np.ndarray | None = None
    density_kind: str = "none"
    has_interval: bool = True


def _quantiles(draws: np.ndarray, probs) -> dict[float, tuple[np.ndarray, np.ndarray]]:
    out = {}
    for p in probs:
        if not 0 < p < 1:
            raise ValueError(f"interval probability must be between 0 and 1 (exclusive), got {p}.")
        lo, hi = np.quantile(draws, [(1 - p) / 2, (1 + p) / 2], axis=0)
        out[p] = (lo, hi)
    return out


class _BaselineFit:
    """Shared prediction code: subclasses implement ``_forecast_domain``."""

    domains: list[str]
    name: str = "baseline"

    def _default_domain(self) -> str:
        if len(self.domains) == 1:
            return self.domains[0]
        raise RunsTableError(
            f"this {self.name} fit has several domains; add a 'domain' column to the targets. Known domains: "
            + ", ".join(self.domains)
            + "."
        )

    def _targets(self, targets, domain):
        t = validate_targets(targets, domains=self.domains, needs=_NEEDS)
        if domain is not None:
            t["domain"] = t["domain"].where(t["domain"].notna(), domain)
        if t["domain"].isna().any():
            t["domain"] = t["domain"].where(t["domain"].notna(), self._default_domain())
        return t

    def _check_domain(self, dom: str) -> None:
        if dom not in self.domains:
            raise RunsTableError(
                f"the {self.name} baseline has no fit for domain '{dom}' (fitted: {', '.join(self.domains)}); "
                "a non-hierarchical baseline cannot forecast an unseen domain."
            )

    def forecast(self, table: pd.DataFrame, domain: str, loss=None) -> Forecast:
        """Predictive distribution at the rows of ``table`` (one domain).

        Parameters
        ----------
        table : pandas.DataFrame
            Rows with ``params`` and ``tokens``, n rows.
        domain : str
            A fitted domain.
        loss : array_like, shape (n,), optional
            Observed losses (nats/token); when given, ``log_density`` is filled.

        Returns
        -------
        Forecast

        Raises
        ------
        RunsTableError
            For a domain the baseline has not fitted.
        """
        self._check_domain(domain)
        log_n = np.log(table["params"].to_numpy(float))
        log_d = np.log(table["tokens"].to_numpy(float))
        y = None if loss is None else np.log(np.asarray(loss, float))
        return self._forecast_domain(domain, log_n, log_d, y)

    def _forecast_domain(self, domain, log_n, log_d, y) -> Forecast:  # pragma: no cover - abstract
        raise NotImplementedError

    def predict(self, targets, prob: float = 0.9, domain: str | None = None) -> pd.DataFrame:
        """Forecast the loss of a new run at targets, with an equal-tailed interval.

        Parameters
        ----------
        targets : DataFrame or path
            Columns ``params`` and ``tokens`` (or ``flops``; D = C / (6 N)),
            optional ``domain``.
        prob : float, default 0.9
            Interval probability in (0, 1).
        domain : str, optional
            Domain for targets without a ``domain`` column.

        Returns
        -------
        pandas.DataFrame
            The target columns plus ``domain``, ``loss_median``, ``loss_lower``,
            ``loss_upper`` (a new run), ``mean_loss_median``, ``mean_loss_lower``,
            ``mean_loss_upper`` (the law), in nats/token; NaN where the baseline
            has no interval (see the module docstring).

        Raises
        ------
        RunsTableError
            Invalid targets, or a domain the baseline has not fitted.
        ValueError
            If ``prob`` is not in (0, 1).
        """
        if not 0 < prob < 1:
            raise ValueError(f"interval probability must be between 0 and 1 (exclusive), got {prob}.")
        t = self._targets(targets, domain)
        out = t.copy()
        cols = ["loss_median", "loss_lower", "loss_upper", "mean_loss_median", "mean_loss_lower", "mean_loss_upper"]
        for c in cols:
            out[c] = np.nan
        for dom, idx in t.groupby("domain", sort=False).groups.items():
            fc = self.forecast(t.loc[idx], dom)
            out.loc[idx, "mean_loss_median"] = np.exp(
                np.median(fc.mean_draws_log, 0) if fc.mean_draws_log is not None else fc.point_log
            )
            if fc.mean_draws_log is not None and fc.mean_draws_log.shape[0] > 1:
                lo, hi = _quantiles(fc.mean_draws_log, [prob])[prob]
                out.loc[idx, "mean_loss_lower"] = np.exp(lo)
                out.loc[idx, "mean_loss_upper"] = np.exp(hi)
            if fc.draws_log is None or fc.draws_log.shape[0] == 1:
                out.loc[idx, "loss_median"] = np.exp(fc.point_log)
                continue
            out.loc[idx, "loss_median"] = np.exp(np.median(fc.draws_log, 0))
            if fc.has_interval:
                lo, hi = _quantiles(fc.draws_log, [prob])[prob]
                out.loc[idx, "loss_lower"] = np.exp(lo)
                out.loc[idx, "loss_upper"] = np.exp(hi)
        out.attrs["prob"] = prob
        out.attrs["interval_kind"] = "eti"
        out.attrs["method"] = self.name
        return out


def _validated(runs, loss_unit="nats", quiet=False) -> pd.DataFrame:
    with warnings.catch_warnings():
        if quiet:
            warnings.simplefilter("ignore", RunsTableWarning)
        return validate_runs(runs, law_n_params=5, informative_prior=True, needs=_NEEDS, loss_unit=loss_unit)


def _domain_arrays(table: pd.DataFrame) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    out = {}
    for dom, sub in table.groupby("domain", sort=False):
        out[str(dom)] = (
            np.log(sub["params"].to_numpy(float)),
            np.log(sub["tokens"].to_numpy(float)),
            np.log(sub["loss"].to_numpy(float)),
        )
    return out


# ----------------------------------------------------------------------------
# Huber least squares
# ----------------------------------------------------------------------------

POOLED_DOMAIN = "(pooled)"


@dataclass
class HuberLeastSquares:
    """Hoffmann et al. (2022) Approach 3 / Besiroglu et al. (2024) fitting procedure.

    Minimises ``sum_i Huber_delta(LSE(a - alpha log N_i, b - beta log D_i, e) - log L_i)``
    (Hoffmann et al. 2022, Eq. 3; summed as in Besiroglu et al. 2024) by
    L-BFGS-B (scipy) from each start of a grid and keeps the lowest objective
    among the starts that converged (as the Besiroglu et al. notebook does),
    then polishes it with tight tolerances.

    Parameters
    ----------
    delta : float, default 1e-3
        Huber threshold on log-loss residuals.
    grid_stride : int, default 7
        Use every 7th start of Hoffmann's 4500-point grid (643 starts; see
        :func:`hoffmann_grid`). On the 240 Chinchilla runs about 6.5 % of the
        full grid's starts reach the global minimum, so the subsample keeps ~40
        of them; ``grid_stride=1`` runs the full grid (about 7x slower) and gives
        the same estimate.
    per_domain : bool, default True
        One independent fit per ``domain``; False fits one law to all runs
        (domain labels ignored, forecasts for any domain).
    polish : bool, default True
        Re-run L-BFGS-B from the best start with ftol 1e-15, gtol 1e-10.
    n_jobs : int, optional
        Parallel per-domain fits (joblib; honours an active
        ``joblib.parallel_config``, e.g. the Dask backend).

    Notes
    -----
    The runs are not filtered: Besiroglu et al. (2024) drop the 5 highest-loss
    Chinchilla points before fitting; do that on the table if you want their
    setup. Only the Chinchilla law (N and D) is supported.
    """

    delta: float = 1e-3
    grid_stride: int = 7
    per_domain: bool = True
    polish: bool = True
    n_jobs: int | None = None

    def __post_init__(self):
        if not self.delta > 0:
            raise ValueError(f"Huber delta must be positive, got {self.delta}.")
        hoffmann_grid(self.grid_stride)

    def fit(self, runs, loss_unit: str = "nats") -> HuberFit:
        """Fit the law to runs.

        Parameters
        ----------
        runs : DataFrame or path
            Runs table (``params``, ``tokens`` or ``flops``, ``loss``, optional ``domain``).
        loss_unit : {"nats", "bits"}

        Returns
        -------
        HuberFit

        Raises
        ------
        RunsTableError
            Invalid runs.

        Warns
        -----
        UserWarning
            A domain with fewer than 5 runs (the 5 parameters are not identified;
            the fit is the best grid start and has no intervals).
        """
        t0 = time.perf_counter()
        table = _validated(runs, loss_unit)
        if not self.per_domain:
            table = table.assign(domain=POOLED_DOMAIN)
        arrays = _domain_arrays(table)
        for dom, (ln, _, _) in arrays.items():
            if ln.size < 5:
                warnings.warn(
                    f"Huber least squares on domain '{dom}': {ln.size} runs for 5 parameters, so the law is not "
                    "identified; the forecast is that of the best grid start and has no interval.",
                    UserWarning,
                    stacklevel=2,
                )
        fits = joblib.Parallel(n_jobs=self.n_jobs)(
            joblib.delayed(fit_domain)(d, *arr, delta=self.delta, grid_stride=self.grid_stride, polish=self.polish)
            for d, arr in arrays.items()
        )
        return HuberFit(config=self, fits={f.domain: f for f in fits}, runs=table,
                        timings={"fit_seconds": time.perf_counter() - t0})


class HuberFit(_BaselineFit):
    """Result of :meth:`HuberLeastSquares.fit`: point estimates per domain.

    Forecasts: the law at the estimate plus the empirical distribution of the
    in-sample log residuals (see the module docstring); NaN intervals with
    fewer than 6 runs.

    Attributes
    ----------
    config : HuberLeastSquares
    fits : dict of DomainHuberFit
        One per domain (a single ``"(pooled)"`` one when ``per_domain=False``).
    runs : pandas.DataFrame
        The validated runs.
    timings : dict
    """

    name = "huber_ls"

    def __init__(self, config: HuberLeastSquares, fits: dict[str, DomainHuberFit], runs: pd.DataFrame,
                 timings: dict | None = None):
        self.config = config
        self.fits = fits
        self.runs = runs
        self.timings = timings or {}
        self.domains = list(fits)

    @property
    def pooled(self) -> bool:
        """True for a single fit over all domains (``per_domain=False``)."""
        return not self.config.per_domain

    def _check_domain(self, dom: str) -> None:
        if not self.pooled:
            super()._check_domain(dom)

    def _default_domain(self) -> str:
        return POOLED_DOMAIN if self.pooled else super()._default_domain()

    def _fit_of(self, domain: str) -> DomainHuberFit:
        return self.fits[POOLED_DOMAIN] if self.pooled else self.fits[domain]

    def parameters(self) -> pd.DataFrame:
        """Point estimates per domain.

        Returns
        -------
        pandas.DataFrame
            One row per domain: ``domain``, ``E``, ``A``, ``B``, ``alpha``,
            ``beta``, ``objective`` (summed Huber loss), ``n_runs``,
            ``n_starts``, ``n_converged``, ``seconds``.
        """
        rows = []
        for d, f in self.fits.items():
            rows.append({"domain": d, **f.natural(), "objective": f.objective, "n_runs": f.n_runs,
                         "n_starts": f.n_starts, "n_converged": f.n_converged, "seconds": f.seconds})
        return pd.DataFrame(rows)

    def _forecast_domain(self, domain, log_n, log_d, y) -> Forecast:
        f = self._fit_of(domain)
        point = log_loss_lse(f.theta, log_n, log_d)
        if f.n_runs < _MIN_RUNS_FOR_INTERVALS:
            dens = np.full(point.shape, np.nan) if y is not None else None
            return Forecast(point, point[None, :], None, dens, "none", has_interval=False)
        draws = point[None, :] + f.residuals[:, None]
        dens = _kde_log_density(draws, y) if y is not None else None
        return Forecast(point, draws, None, dens, "kde")

    def bootstrap(self, n_boot: int = 200, random_seed: int = 0, n_jobs: int | None = None,
                  n_draws: int = 4000) -> HuberBootstrap:
        """Nonparametric bootstrap of the fit (Besiroglu et al. 2024).

        Parameters
        ----------
        n_boot : int, default 200
            Resamples per domain: n runs drawn with replacement from the domain's
            n runs, each refit by L-BFGS-B from the full-data estimate. Domains
            with fewer than 6 runs are not resampled (no interval).
        random_seed : int, default 0
            Resample b of domain d uses ``SeedSequence([seed, crc32(d), 0]).spawn(n_boot)[b]``,
            so results do not depend on chunking, worker count or backend.
        n_jobs : int, optional
            joblib workers over chunks of 25 resamples (honours an active
            ``joblib.parallel_config``, e.g. the Dask backend).
        n_draws : int, default 4000
            Predictive draws per target (see the module docstring).

        Returns
        -------
        HuberBootstrap

        Raises
        ------
        ValueError
            If ``n_boot`` < 2 or ``n_draws`` < 2.
        """
        if n_boot < 2:
            raise ValueError(f"n_boot must be at least 2, got {n_boot}.")
        if n_draws < 2:
            raise ValueError(f"n_draws must be at least 2, got {n_draws}.")
        tasks, keys = bootstrap_tasks(self, n_boot, random_seed)
        results = joblib.Parallel(n_jobs=n_jobs)(tasks)
        return HuberBootstrap.from_chunks(self, keys, results, n_boot=n_boot, random_seed=random_seed, n_draws=n_draws)


def bootstrap_tasks(fit: HuberFit, n_boot: int, random_seed: int):
    """joblib tasks of a bootstrap: ``(tasks, keys)`` with one key (domain, start, stop) per chunk.

    Domains with fewer than 6 runs get no tasks (and no bootstrap draws).
    """
    tasks, keys = [], []
    for dom, f in fit.fits.items():
        if f.n_runs < _MIN_RUNS_FOR_INTERVALS:
            continue  # no residual degrees of freedom: the bootstrap would give no interval
        seeds = _domain_seed(random_seed, dom, 0).spawn(n_boot)
        for lo in range(0, n_boot, _BOOT_CHUNK):
            hi = min(n_boot, lo + _BOOT_CHUNK)
            tasks.append(joblib.delayed(bootstrap_chunk)(f, seeds[lo:hi], fit.config.delta))
            keys.append((dom, lo, hi))
    return tasks, keys


class HuberBootstrap(_BaselineFit):
    """Bootstrap distribution of a :class:`HuberFit` (see :meth:`HuberFit.bootstrap`).

    Attributes
    ----------
    fit : HuberFit
        The full-data fit.
    theta : dict of ndarray
        Per domain, the (B, 5) refitted ``(a, b, e, alpha, beta)`` (failed refits dropped).
    n_failed : dict of int
        Refits without a finite objective, per domain.
    random_seed, n_draws : int
    seconds : float
        Summed wall time of the refits.
    """

    name = "huber_ls_bootstrap"

    def __init__(self, fit: HuberFit, theta: dict[str, np.ndarray], n_failed: dict[str, int], *, n_boot: int,
                 random_seed: int, n_draws: int, seconds: float):
        self.fit = fit
        self.theta = theta
        self.n_failed = n_failed
        self.n_boot = n_boot
        self.random_seed = int(random_seed)
        self.n_draws = int(n_draws)
        self.seconds = seconds
        self.domains = fit.domains

    @classmethod
    def from_chunks(cls, fit: HuberFit, keys, results, *, n_boot, random_seed, n_draws) -> HuberBootstrap:
        """Assemble chunk results of :func:`bootstrap_chunk` (in ``keys`` order)."""
        parts: dict[str, list] = {d: [None] * n_boot for d in fit.fits}
        secs = 0.0
        for (dom, lo, hi), (th, s) in zip(keys, results, strict=True):
            secs += s
            for k in range(hi - lo):
                parts[dom][lo + k] = th[k]
        theta, failed = {}, {}
        done = {k[0] for k in keys}
        for dom, rows in parts.items():
            if dom not in done:
                theta[dom] = np.empty((0, 5))
                failed[dom] = 0
                continue
            arr = np.array(rows, float)
            ok = np.all(np.isfinite(arr), axis=1)
            theta[dom] = arr[ok]
            failed[dom] = int((~ok).sum())
        return cls(fit, theta, failed, n_boot=n_boot, random_seed=random_seed, n_draws=n_draws, seconds=secs)

    def _check_domain(self, dom):
        self.fit._check_domain(dom)

    def _default_domain(self):
        return self.fit._default_domain()

    def parameters(self, prob: float = 0.9) -> pd.DataFrame:
        """Point estimates with bootstrap standard errors and percentile intervals.

        Parameters
        ----------
        prob : float, default 0.9

        Returns
        -------
        pandas.DataFrame
            Columns ``domain``, ``parameter`` (E, A, B, alpha, beta), ``estimate``,
            ``se``, ``lower``, ``upper``, ``n_boot`` (NaN and 0 for a domain with
            fewer than 6 runs, which is not bootstrapped).
        """
        rows = []
        for dom, f in self.fit.fits.items():
            th = self.theta[dom]
            if th.shape[0] < 2:
                rows.extend({"domain": dom, "parameter": k, "estimate": v, "se": np.nan, "lower": np.nan,
                             "upper": np.nan, "n_boot": int(th.shape[0])} for k, v in f.natural().items())
                continue
            nat = {"E": np.exp(th[:, 2]), "A": np.exp(th[:, 0]), "B": np.exp(th[:, 1]), "alpha": th[:, 3],
                   "beta": th[:, 4]}
            est = f.natural()
            for k, v in nat.items():
                lo, hi = np.quantile(v, [(1 - prob) / 2, (1 + prob) / 2])
                rows.append({"domain": dom, "parameter": k, "estimate": est[k], "se": float(np.std(v, ddof=1)),
                             "lower": float(lo), "upper": float(hi), "n_boot": int(th.shape[0])})
        return pd.DataFrame(rows)

    def _forecast_domain(self, domain, log_n, log_d, y) -> Forecast:
        f = self.fit._fit_of(domain)
        key = f.domain
        point = log_loss_lse(f.theta, log_n, log_d)
        th = self.theta[key]
        if f.n_runs < _MIN_RUNS_FOR_INTERVALS or th.shape[0] < 2:
            dens = np.full(point.shape, np.nan) if y is not None else None
            return Forecast(point, point[None, :], None, dens, "none", has_interval=False)
        law = log_loss_lse(th, log_n, log_d)  # (B, n)
        rng = np.random.default_rng(_domain_seed(self.random_seed, key, 1))
        b = np.arange(self.n_draws) % th.shape[0]
        r = f.residuals[rng.integers(0, f.n_runs, self.n_draws)]
        draws = law[b] + r[:, None]
        dens = _kde_log_density(draws, y) if y is not None else None
        return Forecast(point, draws, law, dens, "kde")


# ----------------------------------------------------------------------------
# Published law, with and without a per-domain offset
# ----------------------------------------------------------------------------


def _published_theta(source: str) -> tuple[np.ndarray, np.ndarray]:
    from .priors import get_prior

    prior = get_prior(source, law="chinchilla")
    if not prior.informative or prior.law != "chinchilla":
        raise ValueError(f"'{source}' is not a published Chinchilla-law fit; use 'besiroglu2024' or 'hoffmann2022'.")
    m = prior.mean
    mean = np.array([m["logA"], m["logB"], m["logE"], m["alpha"], m["beta"]], float)
    return mean, np.asarray(prior.cov, float)


@dataclass
class PublishedLaw:
    """The published Chinchilla-law fit, unchanged.

    Parameters
    ----------
    source : str, default "besiroglu2024"
        A Chinchilla-law entry of the prior catalog: ``besiroglu2024``
        (Besiroglu et al. 2024: A = 482.0, B = 2085.4, E = 1.817,
        alpha = 0.3478, beta = 0.3658) or ``hoffmann2022`` (Hoffmann et al.
        2022, App. D.2, Eq. 10).
    uncertainty : {"none", "parameters"}, default "none"
        ``none``: a point forecast, intervals NaN. ``parameters``: draws of
        (ln A, ln B, ln E, alpha, beta) from the catalog's bootstrap covariance
        (Besiroglu et al. 2024; parameter uncertainty only, no run-to-run noise).
    n_draws : int, default 4000
    random_seed : int, default 0
    """

    source: str = "besiroglu2024"
    uncertainty: str = "none"
    n_draws: int = 4000
    random_seed: int = 0

    offset = False

    def __post_init__(self):
        if self.uncertainty not in ("none", "parameters"):
            raise ValueError(f"uncertainty must be 'none' or 'parameters', not '{self.uncertainty}'.")
        _published_theta(self.source)

    def fit(self, runs=None, loss_unit: str = "nats") -> PublishedFit:
        """Attach the published law to runs (only their domain names are used).

        Parameters
        ----------
        runs : DataFrame or path, optional
            Runs; without them the law forecasts any domain.
        loss_unit : {"nats", "bits"}

        Returns
        -------
        PublishedFit

        Raises
        ------
        RunsTableError
            Invalid runs.
        """
        mean, cov = _published_theta(self.source)
        table = _validated(runs, loss_unit) if runs is not None else None
        doms = list(dict.fromkeys(table["domain"])) if table is not None else []
        return PublishedFit(self, mean, cov, {d: 0.0 for d in doms}, {d: np.nan for d in doms},
                            {d: 0 for d in doms}, table)


@dataclass
class PublishedLawOffset(PublishedLaw):
    """The published law with a per-domain offset on log loss.

    ``log L = log L_pub(N, D) + m_d`` with ``m_d`` the median of the domain's log
    residuals ``log L_i - log L_pub(N_i, D_i)``; a Student-t predictive interval
    from the residual spread (see the module docstring). Kaplan et al. (2020,
    §3.2.2): other distributions shift the loss by a roughly constant offset.

    Parameters
    ----------
    source : str, default "besiroglu2024"
    n_draws : int, default 4000
        Size of the quantile grid used as draws (CRPS, intervals).
    """

    offset = True

    def fit(self, runs, loss_unit: str = "nats") -> PublishedFit:
        """Estimate the per-domain offsets.

        Parameters
        ----------
        runs : DataFrame or path
        loss_unit : {"nats", "bits"}

        Returns
        -------
        PublishedFit

        Raises
        ------
        RunsTableError
            Invalid or missing runs.
        """
        if runs is None:
            raise RunsTableError("the offset baseline needs runs of each domain to estimate its offset.")
        mean, cov = _published_theta(self.source)
        table = _validated(runs, loss_unit)
        offsets, scales, counts = {}, {}, {}
        for dom, (ln, ld, y) in _domain_arrays(table).items():
            r = y - log_loss_lse(mean, ln, ld)
            offsets[dom] = float(np.median(r))
            scales[dom] = float(np.std(r, ddof=1)) if r.size > 1 else np.nan
            counts[dom] = int(r.size)
        return PublishedFit(self, mean, cov, offsets, scales, counts, table)


class PublishedFit(_BaselineFit):
    """A published law attached to runs (see :class:`PublishedLaw`, :class:`PublishedLawOffset`).

    Attributes
    ----------
    config : PublishedLaw
    theta : ndarray, shape (5,)
        ``(ln A, ln B, ln E, alpha, beta)`` of the published fit.
    offsets, scales : dict of float
        Per-domain median log residual and residual standard deviation (offset baseline).
    counts : dict of int
        Runs per domain.
    """

    def __init__(self, config, theta, cov, offsets, scales, counts, runs):
        self.config = config
        self.theta = theta
        self.cov = cov
        self.offsets = offsets
        self.scales = scales
        self.counts = counts
        self.runs = runs
        self.domains = list(offsets)
        self.name = "published_offset" if config.offset else "published"

    def _check_domain(self, dom):
        if self.config.offset:
            super()._check_domain(dom)

    def _default_domain(self):
        if not self.config.offset and not self.domains:
            return "default"
        return super()._default_domain()

    def parameters(self) -> pd.DataFrame:
        """One row per domain: ``domain``, ``E``, ``A``, ``B``, ``alpha``, ``beta``, ``offset``, ``scale``, ``n_runs``."""
        a, b, e, al, be = self.theta
        nat = {"E": np.exp(e), "A": np.exp(a), "B": np.exp(b), "alpha": al, "beta": be}
        return pd.DataFrame([{"domain": d, **nat, "offset": self.offsets[d], "scale": self.scales[d],
                              "n_runs": self.counts[d]} for d in self.domains])

    def _forecast_domain(self, domain, log_n, log_d, y) -> Forecast:
        off = self.offsets.get(domain, 0.0)
        point = log_loss_lse(self.theta, log_n, log_d) + off
        nan_dens = np.full(point.shape, np.nan) if y is not None else None
        if self.config.offset:
            n, s = self.counts[domain], self.scales[domain]
            if n < 2 or not np.isfinite(s) or s == 0:
                return Forecast(point, point[None, :], None, nan_dens, "none", has_interval=False)
            scale = s * np.sqrt(1.0 + 1.0 / n)
            q = (np.arange(self.config.n_draws) + 0.5) / self.config.n_draws
            z = stats.t.ppf(q, df=n - 1)
            draws = point[None, :] + scale * z[:, None]
            dens = stats.t.logpdf(y, df=n - 1, loc=point, scale=scale) if y is not None else None
            return Forecast(point, draws, point[None, :], dens, "exact")
        if self.config.uncertainty == "parameters":
            rng = np.random.default_rng(self.config.random_seed)
            th = rng.multivariate_normal(self.theta, self.cov, size=self.config.n_draws)
            # catalog order (lnA, lnB, lnE, alpha, beta) is also the (a, b, e, alpha, beta) order
            law = log_loss_lse(th, log_n, log_d)
            dens = _kde_log_density(law, y) if y is not None else None
            return Forecast(point, law, law, dens, "kde")
        return Forecast(point, point[None, :], None, nan_dens, "none", has_interval=False)
