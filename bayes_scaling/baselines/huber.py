"""Floor 3. Huber least squares on log loss (Hoffmann et al. 2022 Approach 3; Besiroglu et al. 2024) and its bootstrap.

:class:`HuberLeastSquares` minimises the **sum** of Huber (delta = 1e-3) losses of
log-loss residuals of ``log L = LSE(a - alpha log N, b - beta log D, e)`` by L-BFGS-B
from a grid of starting values and keeps the best; one fit per domain by default.
:meth:`HuberFit.bootstrap` adds the nonparametric bootstrap of Besiroglu et al. (2024).
The intervals of both are described in :mod:`bayes_scaling.baselines`.
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
from scipy.optimize import minimize

from ..intervals import interval
from ..scoring import kde_log_density
from .base import BaselineFit, Forecast, domain_arrays, log_loss_lse, validated_runs

__all__ = ["HuberLeastSquares", "HuberFit", "HuberBootstrap", "DomainHuberFit", "fit_domain", "bootstrap_chunk",
           "bootstrap_tasks", "hoffmann_grid", "huber_objective", "POOLED_DOMAIN", "MIN_RUNS_FOR_INTERVALS",
           "HUBER_THETA_NAMES"]

#: Parameter order of the Huber fits: a = ln A, b = ln B, e = ln E, alpha, beta (Hoffmann et al. 2022, Eq. 3).
HUBER_THETA_NAMES = ("a", "b", "e", "alpha", "beta")
#: Runs a domain needs for intervals (residual degrees of freedom for 5 law parameters).
MIN_RUNS_FOR_INTERVALS = 6
#: L-BFGS-B options of the final polish and of the bootstrap refits.
_TIGHT = {"ftol": 1e-15, "gtol": 1e-10, "maxiter": 20_000, "maxfun": 40_000}
_BOOT_CHUNK = 25


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
        table = validated_runs(runs, loss_unit)
        if not self.per_domain:
            table = table.assign(domain=POOLED_DOMAIN)
        arrays = domain_arrays(table)
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


class HuberFit(BaselineFit):
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

    def check_domain(self, dom: str) -> None:
        """A pooled fit forecasts any domain; a per-domain fit only its own."""
        if not self.pooled:
            super().check_domain(dom)

    def default_domain(self) -> str:
        """``(pooled)`` for a pooled fit, else the only fitted domain."""
        return POOLED_DOMAIN if self.pooled else super().default_domain()

    def fit_of(self, domain: str) -> DomainHuberFit:
        """The per-domain fit that forecasts ``domain`` (the pooled one for a pooled fit)."""
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

    def forecast_domain(self, domain, log_n, log_d, y) -> Forecast:
        """See :meth:`BaselineFit.forecast_domain`."""
        f = self.fit_of(domain)
        point = log_loss_lse(f.theta, log_n, log_d)
        if f.n_runs < MIN_RUNS_FOR_INTERVALS:
            dens = np.full(point.shape, np.nan) if y is not None else None
            return Forecast(point, point[None, :], None, dens, "none", has_interval=False)
        draws = point[None, :] + f.residuals[:, None]
        dens = kde_log_density(draws, y) if y is not None else None
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
        if f.n_runs < MIN_RUNS_FOR_INTERVALS:
            continue  # no residual degrees of freedom: the bootstrap would give no interval
        seeds = _domain_seed(random_seed, dom, 0).spawn(n_boot)
        for lo in range(0, n_boot, _BOOT_CHUNK):
            hi = min(n_boot, lo + _BOOT_CHUNK)
            tasks.append(joblib.delayed(bootstrap_chunk)(f, seeds[lo:hi], fit.config.delta))
            keys.append((dom, lo, hi))
    return tasks, keys


class HuberBootstrap(BaselineFit):
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

    def check_domain(self, dom):
        """As the full-data fit."""
        self.fit.check_domain(dom)

    def default_domain(self):
        """As the full-data fit."""
        return self.fit.default_domain()

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
                lo, hi = interval(v, prob)
                rows.append({"domain": dom, "parameter": k, "estimate": est[k], "se": float(np.std(v, ddof=1)),
                             "lower": float(lo), "upper": float(hi), "n_boot": int(th.shape[0])})
        return pd.DataFrame(rows)

    def forecast_domain(self, domain, log_n, log_d, y) -> Forecast:
        """See :meth:`BaselineFit.forecast_domain`."""
        f = self.fit.fit_of(domain)
        key = f.domain
        point = log_loss_lse(f.theta, log_n, log_d)
        th = self.theta[key]
        if f.n_runs < MIN_RUNS_FOR_INTERVALS or th.shape[0] < 2:
            dens = np.full(point.shape, np.nan) if y is not None else None
            return Forecast(point, point[None, :], None, dens, "none", has_interval=False)
        law = log_loss_lse(th, log_n, log_d)  # (B, n)
        rng = np.random.default_rng(_domain_seed(self.random_seed, key, 1))
        b = np.arange(self.n_draws) % th.shape[0]
        r = f.residuals[rng.integers(0, f.n_runs, self.n_draws)]
        draws = law[b] + r[:, None]
        dens = kde_log_density(draws, y) if y is not None else None
        return Forecast(point, draws, law, dens, "kde")
