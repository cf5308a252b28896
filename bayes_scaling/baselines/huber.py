"""Floor 3. Huber least squares on log loss (Hoffmann et al. 2022 Approach 3; Besiroglu et al. 2024) and its bootstrap.

:class:`HuberLeastSquares` minimises the **sum** of Huber (delta = 1e-3) losses of
log-loss residuals of ``log L = LSE(a - alpha log N, b - beta log D, e)`` by L-BFGS-B
from a grid of starting values and keeps the best; one fit per domain by default.
:meth:`HuberFit.bootstrap` adds the nonparametric bootstrap of Besiroglu et al. (2024).
The intervals of both are described in :mod:`bayes_scaling.baselines`.

Any other law of :data:`bayes_scaling.laws.LAWS` (``HuberLeastSquares(law="data_constrained")``,
``"kaplan"``, ``"power_params"``, ...) is fitted the same way over its catalog parameters
(:func:`law_grid` gives its grid of starts, :func:`law_objective` the objective), so that a
backtest can compare every law with the least-squares fit of the *same* law.
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
from threadpoolctl import threadpool_limits

from ..data import RunsTableError
from ..intervals import interval
from ..laws import Law, get_law
from ..scoring import kde_log_density
from .base import BaselineFit, Forecast, log_loss_lse, validated_runs

__all__ = ["HuberLeastSquares", "HuberFit", "HuberBootstrap", "DomainHuberFit", "fit_domain", "bootstrap_chunk",
           "bootstrap_tasks", "hoffmann_grid", "huber_objective", "POOLED_DOMAIN", "MIN_RUNS_FOR_INTERVALS",
           "HUBER_THETA_NAMES", "DEFAULT_GRID_STRIDE", "EXPONENT_FLOOR", "fit_domain_law", "grid_axes", "law_grid",
           "law_objective"]

#: Parameter order of the Huber fits: a = ln A, b = ln B, e = ln E, alpha, beta (Hoffmann et al. 2022, Eq. 3).
HUBER_THETA_NAMES = ("a", "b", "e", "alpha", "beta")
#: Runs a domain needs for intervals (residual degrees of freedom for 5 law parameters).
MIN_RUNS_FOR_INTERVALS = 6
#: L-BFGS-B options of the final polish and of the bootstrap refits.
_TIGHT = {"ftol": 1e-15, "gtol": 1e-10, "maxiter": 20_000, "maxfun": 40_000}
_BOOT_CHUNK = 25
#: Default stride of the grid of starts per law (see :func:`law_grid`): 643 starts for the Chinchilla law
#: (every 7th of Hoffmann's 4500), 664 for the data-constrained law (every 61st of 40,500: a stride
#: co-prime with the axis lengths 2, 3 and 5 visits every value of every axis), the full grids of the
#: Kaplan law (625) and of the one-variable laws (150).
DEFAULT_GRID_STRIDE = {"chinchilla": 7, "data_constrained": 61, "kaplan": 1, "power_params": 1, "power_tokens": 1,
                       "power_flops": 1}
#: Lower bound of every exponent in the fits of laws other than the Chinchilla law (a zero exponent
#: makes the data-constrained law, with alpha in a denominator, and the Kaplan law undefined).
EXPONENT_FLOOR = 1e-3
_EXPONENT_NAMES = ("alpha", "beta", "alpha_N", "alpha_D")
#: Relative step of the central differences of the law in :func:`law_objective` (~ eps^(1/3)).
_FD_STEP = 6e-6
# _ONE_BLAS_THREAD: L-BFGS-B calls BLAS on vectors of 3-7 numbers; with OpenBLAS's default of one
# thread per core, thread hand-offs dominate (5x slower on 2 cores for the data-constrained law, 1.6x
# for the Chinchilla law, same numbers), so the fits and bootstrap refits run with one BLAS thread.


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


#: Axes of the Hoffmann et al. (2022) grid by catalog parameter (Besiroglu et al. 2024 use the same).
_HOFFMANN_AXES = {
    "logA": np.arange(0, 30, 5.0),
    "logB": np.arange(0, 30, 5.0),
    "logE": np.arange(-1, 1.5, 0.5),
    "alpha": np.arange(0, 2.5, 0.5),
    "beta": np.arange(0, 2.5, 0.5),
}
#: Kaplan et al. (2020) Table 2: N_c = 6.4e13 (non-embedding parameters), D_c = 1.8e13 tokens.
_KAPLAN_TABLE2 = {"logNc": np.log(6.4e13), "logDc": np.log(1.8e13)}


def grid_axes(law: str | Law) -> dict[str, np.ndarray]:
    """The axes of a law's grid of starting values, by catalog parameter.

    Parameters
    ----------
    law : str or Law
        A law of :data:`bayes_scaling.laws.LAWS`.

    Returns
    -------
    dict of ndarray
        In the order of ``law.catalog_names``:

        * ``logA``, ``logB`` (ln A, ln B) in {0, 5, ..., 25}, ``logE`` in {-1, -0.5, ..., 1},
          ``alpha``, ``beta`` in {0, 0.5, ..., 2}: the grid of Hoffmann et al. (2022, §D.2) as
          replicated by Besiroglu et al. (2024), for the Chinchilla law, the Chinchilla part of the
          data-constrained law and the one-variable laws (``logA``, ``logE``, ``alpha`` of the
          variable N, D or C);
        * ``logRD``, ``logRN`` (ln R_D*, ln R_N*) in {ln 5, ln 15, ln 50}: around the published
          R_D* = 15.4 and R_N* = 5.3 (Muennighoff et al. 2023, datablations README "Parametric Fit"),
          from a third to three times them;
        * ``logNc``, ``logDc`` (ln N_c, ln D_c) at 10^-4, 10^-2, 1, 10^2, 10^4 times Kaplan et al.
          (2020) Table 2's N_c = 6.4e13 and D_c = 1.8e13 (with exponents near 0.08, a factor 10 in
          N_c moves the loss by ~20 %, so other data sets need decades either way);
          ``alpha_N``, ``alpha_D`` in {0.05, 0.1, 0.2, 0.35, 0.5} (Table 2: 0.076, 0.103).

    Raises
    ------
    ValueError
        For an unknown law.
    """
    law = get_law(law)
    out = {}
    for k in law.catalog_names:
        if k in _HOFFMANN_AXES:
            out[k] = _HOFFMANN_AXES[k]
        elif k in ("logRD", "logRN"):
            out[k] = np.log([5.0, 15.0, 50.0])
        elif k in _KAPLAN_TABLE2:
            out[k] = _KAPLAN_TABLE2[k] + np.log(10.0) * np.arange(-4, 5, 2.0)
        elif k in ("alpha_N", "alpha_D"):
            out[k] = np.array([0.05, 0.1, 0.2, 0.35, 0.5])
        else:  # pragma: no cover - every law of LAWS is covered
            raise ValueError(f"no grid of starts for parameter '{k}' of the {law.name} law.")
    return out


def law_grid(law: str | Law, stride: int | None = None) -> np.ndarray:
    """Starting values of the Huber fit of a law: every ``stride``-th point of the product of its axes.

    Parameters
    ----------
    law : str or Law
        A law of :data:`bayes_scaling.laws.LAWS`.
    stride : int, optional
        Keep every ``stride``-th start of the full grid, in the order
        ``product(*grid_axes(law).values())``; default :data:`DEFAULT_GRID_STRIDE` of the law.

    Returns
    -------
    ndarray, shape (ceil(size / stride), len(law.catalog_names))
        Columns in the order of ``law.catalog_names`` (see :func:`grid_axes`). For the
        Chinchilla law this is :func:`hoffmann_grid`. Full sizes: Chinchilla 4500,
        data-constrained 40,500, Kaplan 625, one-variable laws 150.

    Raises
    ------
    ValueError
        Unknown law, or ``stride`` not a positive integer.
    """
    law = get_law(law)
    stride = DEFAULT_GRID_STRIDE[law.name] if stride is None else stride
    if int(stride) != stride or stride < 1:
        raise ValueError(f"grid stride must be a positive integer, got {stride}.")
    return np.array(list(product(*grid_axes(law).values())))[:: int(stride)]


def law_objective(cat, law: Law, x: dict, log_loss, ref: dict, delta: float = 1e-3):
    """Summed Huber loss of log-loss residuals of any law, and its gradient.

    Parameters
    ----------
    cat : ndarray, shape (p,)
        Catalog parameters of the law, in the order of ``law.catalog_names``.
    law : Law
    x : dict
        Centred log inputs of the runs, ``law.inputs(runs, ref)`` (arrays of shape (n,)).
    log_loss : ndarray, shape (n,)
        Natural log of the observed loss (nats/token).
    ref : dict
        The reference scales ``x`` was centred with (``law.reference(runs)``).
    delta : float, default 1e-3
        Huber threshold (Hoffmann et al. 2022 §3.3; Besiroglu et al. 2024).

    Returns
    -------
    (value, gradient) : tuple of float and ndarray of shape (p,)
        ``sum_i Huber_delta(law.log_loss(x_i, theta) - log L_i)`` as in
        :func:`huber_objective`; the gradient is ``J^T psi(r)`` with J the
        Jacobian of each run's log loss by central differences (relative step
        6e-6, one vectorised evaluation of the law at 2p + 1 points) and
        psi(r) = clip(r, -delta, delta). ``(inf, 0)`` where the law is not finite.
    """
    cat = np.asarray(cat, float)
    p = cat.size
    h = _FD_STEP * np.maximum(1.0, np.abs(cat))
    stack = np.vstack([cat, cat + np.diag(h), cat - np.diag(h)])
    with np.errstate(all="ignore"):
        f = law.log_loss(x, law.catalog_theta(stack, ref), np)
    r = f[0] - log_loss
    if not np.all(np.isfinite(r)):
        return np.inf, np.zeros(p)
    ar = np.abs(r)
    val = float(np.where(ar <= delta, 0.5 * r * r, delta * (ar - 0.5 * delta)).sum())
    with np.errstate(all="ignore"):
        jac = (f[1 : p + 1] - f[p + 1 :]) / (2.0 * h[:, None])
    grad = np.nan_to_num(jac, nan=0.0, posinf=0.0, neginf=0.0) @ np.clip(r, -delta, delta)
    return val, grad


def _law_bounds(law: Law) -> list:
    return [(EXPONENT_FLOOR, None) if k in _EXPONENT_NAMES else (None, None) for k in law.catalog_names]


def _minimize_law(x0, law, x, y, ref, delta, options=None):
    bounds = _law_bounds(law)
    lower = np.array([b[0] if b[0] is not None else -np.inf for b in bounds])
    with np.errstate(over="ignore", invalid="ignore"):
        return minimize(
            law_objective, np.maximum(np.asarray(x0, float), lower), args=(law, x, y, ref, delta), jac=True,
            method="L-BFGS-B", bounds=bounds, options=options or {},
        )


def _minimize(x0, log_n, log_d, y, delta, options=None):
    with np.errstate(over="ignore", invalid="ignore"):
        return minimize(
            huber_objective, np.asarray(x0, float), args=(log_n, log_d, y, delta), jac=True,
            method="L-BFGS-B", options=options or {},
        )


def _fit_arrays(log_n, log_d, y, delta, starts, polish=True):
    """Multi-start fit of one domain (Chinchilla law). Returns (theta, objective, n_success)."""
    return _multistart(lambda x0, options=None: _minimize(x0, log_n, log_d, y, delta, options), starts, polish)


def _multistart(run, starts, polish=True):
    """Run the minimiser ``run(x0, options)`` from every start, keep the best converged one, polish it.

    Returns (theta, objective, n_success); a start that did not converge is kept only when none did.
    """
    with threadpool_limits(1, user_api="blas"):  # see _ONE_BLAS_THREAD
        return _multistart_loop(run, starts, polish)


def _multistart_loop(run, starts, polish):
    best_f, best_x, n_ok = np.inf, None, 0
    fallback_f, fallback_x = np.inf, None
    for x0 in starts:
        res = run(x0)
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
        res = run(best_x, _TIGHT)
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
    theta : ndarray, shape (p,)
        Chinchilla law: ``(a, b, e, alpha, beta)``; other laws: their catalog
        parameters in the order of ``law.catalog_names``.
    objective : float
        Summed Huber loss at ``theta``.
    n_runs : int
    n_starts, n_converged : int
        Starts tried and starts at which L-BFGS-B reported convergence.
    residuals : ndarray, shape (n_runs,)
        In-sample log residuals ``log L_i - log L_hat_i``.
    log_n, log_d, log_loss : ndarray, shape (n_runs,)
        The fitted data (logs), kept for the bootstrap (``log_n``, ``log_d`` empty
        for a one-variable law whose runs lack N or D).
    seconds : float
        Wall time of the fit.
    law : str, default "chinchilla"
        Name of the fitted law (:data:`bayes_scaling.laws.LAWS`).
    ref : dict, optional
        Reference scales of a law other than Chinchilla (``law.reference(runs)``).
    inputs : dict, optional
        Its centred log inputs of the runs (``law.inputs(runs, ref)``), kept for the bootstrap.
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
    law: str = "chinchilla"
    ref: dict | None = None
    inputs: dict | None = None

    @property
    def min_runs_for_intervals(self) -> int:
        """Runs needed for intervals: one more than the law's parameters (6 for the Chinchilla law)."""
        return int(self.theta.size) + 1

    def natural(self) -> dict[str, float]:
        """Parameters of the point estimate in the units analysts quote.

        ``{"E", "A", "B", "alpha", "beta"}`` for the Chinchilla law; for the others
        the keys of ``law.natural`` (e.g. ``RD_star``, ``RN_star`` for the
        data-constrained law, ``Nc``, ``Dc``, ``alpha_N``, ``alpha_D`` for Kaplan's).
        """
        if self.law == "chinchilla":
            a, b, e, al, be = self.theta
            return {"E": float(np.exp(e)), "A": float(np.exp(a)), "B": float(np.exp(b)), "alpha": float(al),
                    "beta": float(be)}
        return {k: float(v[0]) for k, v in self.natural_draws(self.theta[None, :]).items()}

    def natural_draws(self, theta: np.ndarray) -> dict[str, np.ndarray]:
        """:meth:`natural` of each row of ``theta`` (shape (B, p)), as arrays of shape (B,)."""
        th = np.asarray(theta, float)
        if self.law == "chinchilla":
            return {"E": np.exp(th[:, 2]), "A": np.exp(th[:, 0]), "B": np.exp(th[:, 1]), "alpha": th[:, 3],
                    "beta": th[:, 4]}
        law = get_law(self.law)
        cat = {k: th[:, j] for j, k in enumerate(law.catalog_names)}
        return {k: np.asarray(v, float).reshape(-1) for k, v in law.natural(law.from_catalog(cat, self.ref),
                                                                           self.ref).items()}

    def log_loss_at(self, table: pd.DataFrame, theta=None) -> np.ndarray:
        """The fitted law's log loss at the rows of ``table``.

        Parameters
        ----------
        table : pandas.DataFrame
            Rows with the law's variables (``unique_tokens`` for the data-constrained law), n rows.
        theta : ndarray, shape (p,) or (B, p), optional
            Parameters (as :attr:`theta`); default the point estimate.

        Returns
        -------
        ndarray, shape (n,) or (B, n)

        Raises
        ------
        RunsTableError
            When ``table`` lacks a column the law needs.
        """
        theta = self.theta if theta is None else np.asarray(theta, float)
        if self.law == "chinchilla":
            return log_loss_lse(theta, np.log(table["params"].to_numpy(float)), np.log(table["tokens"].to_numpy(float)))
        law = get_law(self.law)
        _require_columns(law, table, "targets")
        with np.errstate(over="ignore", invalid="ignore"):
            return law.log_loss(law.inputs(table, self.ref), law.catalog_theta(theta, self.ref), np)


def _require_columns(law: Law, table: pd.DataFrame, what: str) -> None:
    missing = [v for v in law.variables if v not in table.columns]
    if missing:
        extra = " (U, the unique tokens of each run's training data)" if "unique_tokens" in missing else ""
        raise RunsTableError(f"the {law.name} law needs column(s) {', '.join(repr(m) for m in missing)}{extra} in the "
                             f"{what} table; add them or fit another law.")


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


def fit_domain_law(domain: str, table: pd.DataFrame, *, law: str | Law, delta=1e-3, grid_stride=None,
                   polish=True) -> DomainHuberFit:
    """Fit any law to one domain by multi-start L-BFGS-B over its catalog parameters (the unit of parallel work).

    Parameters
    ----------
    domain : str
    table : pandas.DataFrame
        The domain's validated runs, with the law's variables (``unique_tokens``
        for the data-constrained law) and ``loss`` (nats/token).
    law : str or Law
        A law of :data:`bayes_scaling.laws.LAWS`. The Chinchilla law goes to
        :func:`fit_domain` (analytic gradient), the others minimise
        :func:`law_objective` (gradient by central differences) with every
        exponent bounded below by :data:`EXPONENT_FLOOR`.
    delta : float
        Huber threshold.
    grid_stride : int, optional
        See :func:`law_grid` (default: the law's :data:`DEFAULT_GRID_STRIDE`).
    polish : bool
        Re-run L-BFGS-B from the best converged start with ftol 1e-15, gtol 1e-10.

    Returns
    -------
    DomainHuberFit
        ``theta`` holds the catalog parameters; ``ref`` and ``inputs`` the law's
        reference scales and centred inputs (the reference scales are the
        geometric centre of the domain's runs: they do not change the minimiser,
        only the conditioning of the law's evaluation).

    Raises
    ------
    RunsTableError
        When ``table`` lacks a column the law needs.
    """
    law = get_law(law)
    stride = DEFAULT_GRID_STRIDE[law.name] if grid_stride is None else grid_stride
    if law.name == "chinchilla":
        return fit_domain(domain, np.log(table["params"].to_numpy(float)), np.log(table["tokens"].to_numpy(float)),
                          np.log(table["loss"].to_numpy(float)), delta=delta, grid_stride=stride, polish=polish)
    t0 = time.perf_counter()
    _require_columns(law, table, "runs")
    ref = law.reference(table)
    x = law.inputs(table, ref)
    y = np.log(table["loss"].to_numpy(float))
    starts = law_grid(law, stride)
    theta, f, n_ok = _multistart(lambda x0, options=None: _minimize_law(x0, law, x, y, ref, delta, options), starts,
                                 polish)
    with np.errstate(over="ignore", invalid="ignore"):
        resid = y - law.log_loss(x, law.catalog_theta(theta, ref), np)

    def logs(col):
        return np.log(table[col].to_numpy(float)) if col in table else np.empty(0)

    return DomainHuberFit(
        domain=str(domain), theta=theta, objective=f, n_runs=int(y.size), n_starts=len(starts), n_converged=n_ok,
        residuals=resid, log_n=logs("params"), log_d=logs("tokens"), log_loss=y, seconds=time.perf_counter() - t0,
        law=law.name, ref=ref, inputs=x,
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
    (theta, seconds) : tuple of ndarray of shape (len(seeds), p) and float
        Refitted parameters (``(a, b, e, alpha, beta)`` for the Chinchilla law,
        the catalog parameters of other laws); a row of NaN where the refit did
        not give a finite objective.
    """
    t0 = time.perf_counter()
    n = fit.n_runs
    out = np.full((len(seeds), fit.theta.size), np.nan)
    law = get_law(fit.law)
    with threadpool_limits(1, user_api="blas"):  # see _ONE_BLAS_THREAD
        for k, s in enumerate(seeds):
            idx = np.random.default_rng(s).integers(0, n, n)
            if fit.law == "chinchilla":
                res = _minimize(fit.theta, fit.log_n[idx], fit.log_d[idx], fit.log_loss[idx], delta, _TIGHT)
            else:
                x = {key: (v[idx] if np.ndim(v) else v) for key, v in fit.inputs.items()}
                res = _minimize_law(fit.theta, law, x, fit.log_loss[idx], fit.ref, delta, _TIGHT)
            if np.isfinite(res.fun) and np.all(np.isfinite(res.x)):
                out[k] = res.x
    return out, time.perf_counter() - t0


POOLED_DOMAIN = "(pooled)"


@dataclass
class HuberLeastSquares:
    """Hoffmann et al. (2022) Approach 3 / Besiroglu et al. (2024) fitting procedure, for any law.

    Minimises ``sum_i Huber_delta(LSE(a - alpha log N_i, b - beta log D_i, e) - log L_i)``
    (Hoffmann et al. 2022, Eq. 3; summed as in Besiroglu et al. 2024) by
    L-BFGS-B (scipy) from each start of a grid and keeps the lowest objective
    among the starts that converged (as the Besiroglu et al. notebook does),
    then polishes it with tight tolerances.

    For a law other than the Chinchilla law the objective is the same sum of
    Huber losses of the log residuals of ``law.log_loss`` (:func:`law_objective`),
    minimised over the law's catalog parameters (``law.catalog_names``; e.g.
    ln A, ln B, ln E, alpha, beta, ln R_D*, ln R_N* for the data-constrained law)
    from the grid of :func:`law_grid` (axes and their sources in
    :func:`grid_axes`), with a gradient by central differences and every exponent
    bounded below by :data:`EXPONENT_FLOOR`.

    Parameters
    ----------
    delta : float, default 1e-3
        Huber threshold on log-loss residuals.
    grid_stride : int, optional
        Keep every ``grid_stride``-th start of the law's grid. Default
        (:data:`DEFAULT_GRID_STRIDE`): 7 for the Chinchilla law, i.e. 643 of
        Hoffmann's 4500 starts (see :func:`hoffmann_grid`; on the 240 Chinchilla
        runs about 6.5 % of the full grid's starts reach the global minimum, so
        the subsample keeps ~40 of them; ``grid_stride=1`` runs the full grid,
        about 7x slower, and gives the same estimate); 61 for the
        data-constrained law (664 of 40,500); 1 (the full grid) for the Kaplan
        law (625) and the one-variable laws (150).
    per_domain : bool, default True
        One independent fit per ``domain``; False fits one law to all runs
        (domain labels ignored, forecasts for any domain).
    polish : bool, default True
        Re-run L-BFGS-B from the best start with ftol 1e-15, gtol 1e-10.
    n_jobs : int, optional
        Parallel per-domain fits (joblib; honours an active
        ``joblib.parallel_config``, e.g. the Dask backend).
    law : str, default "chinchilla"
        A law of :data:`bayes_scaling.laws.LAWS`: ``chinchilla``,
        ``data_constrained`` (needs ``unique_tokens`` in runs and targets),
        ``kaplan``, ``power_params``, ``power_tokens``, ``power_flops``.

    Raises
    ------
    ValueError
        Non-positive ``delta``, bad ``grid_stride``, unknown law.

    Notes
    -----
    The runs are not filtered: Besiroglu et al. (2024) drop the 5 highest-loss
    Chinchilla points before fitting; do that on the table if you want their
    setup.
    """

    delta: float = 1e-3
    grid_stride: int | None = None
    per_domain: bool = True
    polish: bool = True
    n_jobs: int | None = None
    law: str = "chinchilla"

    def __post_init__(self):
        if not self.delta > 0:
            raise ValueError(f"Huber delta must be positive, got {self.delta}.")
        self.law = get_law(self.law).name
        if self.grid_stride is None:
            self.grid_stride = DEFAULT_GRID_STRIDE[self.law]
        law_grid(self.law, self.grid_stride)

    @property
    def n_parameters(self) -> int:
        """Free parameters of the law per domain."""
        return len(get_law(self.law).catalog_names)

    def validate(self, runs, loss_unit: str = "nats", quiet: bool = False) -> pd.DataFrame:
        """The runs validated for this law (its size columns; ``unique_tokens`` for the data-constrained law).

        Raises
        ------
        RunsTableError
            Invalid runs, or a column the law needs is missing.
        """
        law = get_law(self.law)
        needs = tuple(v for v in law.variables if v != "unique_tokens")
        table = validated_runs(runs, loss_unit, quiet=quiet, needs=needs, n_law_parameters=self.n_parameters)
        _require_columns(law, table, "runs")
        return table

    def domain_task(self, domain: str, table: pd.DataFrame):
        """The joblib task fitting one domain's validated runs (returns a :class:`DomainHuberFit`)."""
        if self.law == "chinchilla":
            arr = (np.log(table["params"].to_numpy(float)), np.log(table["tokens"].to_numpy(float)),
                   np.log(table["loss"].to_numpy(float)))
            return joblib.delayed(fit_domain)(domain, *arr, delta=self.delta, grid_stride=self.grid_stride,
                                              polish=self.polish)
        return joblib.delayed(fit_domain_law)(domain, table, law=self.law, delta=self.delta,
                                              grid_stride=self.grid_stride, polish=self.polish)

    def fit(self, runs, loss_unit: str = "nats") -> HuberFit:
        """Fit the law to runs.

        Parameters
        ----------
        runs : DataFrame or path
            Runs table (``params``, ``tokens`` or ``flops``, ``loss``, optional
            ``domain``; ``unique_tokens`` for the data-constrained law).
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
            A domain with fewer runs than the law has parameters (5 for the
            Chinchilla law: the parameters are not identified; the fit is the best
            grid start and has no intervals).
        """
        t0 = time.perf_counter()
        table = self.validate(runs, loss_unit)
        if not self.per_domain:
            table = table.assign(domain=POOLED_DOMAIN)
        k = self.n_parameters
        groups = list(table.groupby("domain", sort=False))
        for dom, sub in groups:
            if len(sub) < k:
                warnings.warn(
                    f"Huber least squares on domain '{dom}': {len(sub)} runs for {k} parameters, so the law is not "
                    "identified; the forecast is that of the best grid start and has no interval.",
                    UserWarning,
                    stacklevel=2,
                )
        fits = joblib.Parallel(n_jobs=self.n_jobs)(self.domain_task(str(d), sub) for d, sub in groups)
        return HuberFit(config=self, fits={f.domain: f for f in fits}, runs=table,
                        timings={"fit_seconds": time.perf_counter() - t0})


class HuberFit(BaselineFit):
    """Result of :meth:`HuberLeastSquares.fit`: point estimates per domain.

    Forecasts: the law at the estimate plus the empirical distribution of the
    in-sample log residuals (see the module docstring); NaN intervals with
    fewer than 6 runs (one more than the law's parameters for other laws).

    Attributes
    ----------
    config : HuberLeastSquares
    law : str
        The fitted law (``config.law``).
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
        self.law = config.law
        self.needs = tuple(v for v in get_law(self.law).variables if v != "unique_tokens")

    @property
    def pooled(self) -> bool:
        """True for a single fit over all domains (``per_domain=False``)."""
        return not self.config.per_domain

    def forecast(self, table: pd.DataFrame, domain: str, loss=None) -> Forecast:
        """See :meth:`BaselineFit.forecast`; for a law other than Chinchilla ``table`` needs that law's columns."""
        if self.law == "chinchilla":
            return super().forecast(table, domain, loss)
        self.check_domain(domain)
        f = self.fit_of(domain)
        y = None if loss is None else np.log(np.asarray(loss, float))
        return _plug_in_forecast(f, f.log_loss_at(table), y)

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
            ``beta`` (other laws: the keys of :meth:`DomainHuberFit.natural`),
            ``objective`` (summed Huber loss), ``n_runs``, ``n_starts``,
            ``n_converged``, ``seconds``.
        """
        rows = []
        for d, f in self.fits.items():
            rows.append({"domain": d, **f.natural(), "objective": f.objective, "n_runs": f.n_runs,
                         "n_starts": f.n_starts, "n_converged": f.n_converged, "seconds": f.seconds})
        return pd.DataFrame(rows)

    def forecast_domain(self, domain, log_n, log_d, y) -> Forecast:
        """See :meth:`BaselineFit.forecast_domain`."""
        f = self.fit_of(domain)
        return _plug_in_forecast(f, log_loss_lse(f.theta, log_n, log_d), y)

    def bootstrap(self, n_boot: int = 200, random_seed: int = 0, n_jobs: int | None = None,
                  n_draws: int = 4000) -> HuberBootstrap:
        """Nonparametric bootstrap of the fit (Besiroglu et al. 2024).

        Parameters
        ----------
        n_boot : int, default 200
            Resamples per domain: n runs drawn with replacement from the domain's
            n runs, each refit by L-BFGS-B from the full-data estimate (any law).
            Domains with fewer than 6 runs (one more than the law's parameters)
            are not resampled (no interval).
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


def _plug_in_forecast(f: DomainHuberFit, point: np.ndarray, y) -> Forecast:
    """The law at the estimate plus the domain's in-sample log residuals (no interval with too few runs)."""
    if f.n_runs < f.min_runs_for_intervals:
        dens = np.full(point.shape, np.nan) if y is not None else None
        return Forecast(point, point[None, :], None, dens, "none", has_interval=False)
    draws = point[None, :] + f.residuals[:, None]
    dens = kde_log_density(draws, y) if y is not None else None
    return Forecast(point, draws, None, dens, "kde")


def bootstrap_tasks(fit: HuberFit, n_boot: int, random_seed: int):
    """joblib tasks of a bootstrap: ``(tasks, keys)`` with one key (domain, start, stop) per chunk.

    Domains with fewer than 6 runs (one more than the law's parameters) get no tasks (and no bootstrap draws).
    """
    tasks, keys = [], []
    for dom, f in fit.fits.items():
        if f.n_runs < f.min_runs_for_intervals:
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
        Per domain, the (B, p) refitted ``(a, b, e, alpha, beta)`` (the catalog
        parameters of other laws; failed refits dropped).
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
        self.law = fit.law
        self.needs = fit.needs

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
                theta[dom] = np.empty((0, fit.fits[dom].theta.size))
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
            Columns ``domain``, ``parameter`` (E, A, B, alpha, beta; other laws:
            the keys of :meth:`DomainHuberFit.natural`), ``estimate``, ``se``,
            ``lower``, ``upper``, ``n_boot`` (NaN and 0 for a domain with fewer
            than 6 runs, which is not bootstrapped).
        """
        rows = []
        for dom, f in self.fit.fits.items():
            th = self.theta[dom]
            if th.shape[0] < 2:
                rows.extend({"domain": dom, "parameter": k, "estimate": v, "se": np.nan, "lower": np.nan,
                             "upper": np.nan, "n_boot": int(th.shape[0])} for k, v in f.natural().items())
                continue
            nat = f.natural_draws(th)
            est = f.natural()
            for k, v in nat.items():
                lo, hi = interval(v, prob)
                rows.append({"domain": dom, "parameter": k, "estimate": est[k], "se": float(np.std(v, ddof=1)),
                             "lower": float(lo), "upper": float(hi), "n_boot": int(th.shape[0])})
        return pd.DataFrame(rows)

    def forecast(self, table: pd.DataFrame, domain: str, loss=None) -> Forecast:
        """See :meth:`BaselineFit.forecast`; for a law other than Chinchilla ``table`` needs that law's columns."""
        if self.law == "chinchilla":
            return super().forecast(table, domain, loss)
        self.check_domain(domain)
        f = self.fit.fit_of(domain)
        y = None if loss is None else np.log(np.asarray(loss, float))
        th = self.theta[f.domain]
        law = f.log_loss_at(table, th) if th.shape[0] >= 2 else None
        return self._draws(f, f.log_loss_at(table), law, y)

    def forecast_domain(self, domain, log_n, log_d, y) -> Forecast:
        """See :meth:`BaselineFit.forecast_domain`."""
        f = self.fit.fit_of(domain)
        th = self.theta[f.domain]
        law = log_loss_lse(th, log_n, log_d) if th.shape[0] >= 2 else None  # (B, n)
        return self._draws(f, log_loss_lse(f.theta, log_n, log_d), law, y)

    def _draws(self, f: DomainHuberFit, point, law, y) -> Forecast:
        """Bootstrap law predictions ``law`` (B, n) convolved with the full-data residuals."""
        key = f.domain
        th = self.theta[key]
        if f.n_runs < f.min_runs_for_intervals or th.shape[0] < 2:
            dens = np.full(point.shape, np.nan) if y is not None else None
            return Forecast(point, point[None, :], None, dens, "none", has_interval=False)
        rng = np.random.default_rng(_domain_seed(self.random_seed, key, 1))
        b = np.arange(self.n_draws) % th.shape[0]
        r = f.residuals[rng.integers(0, f.n_runs, self.n_draws)]
        draws = law[b] + r[:, None]
        dens = kde_log_density(draws, y) if y is not None else None
        return Forecast(point, draws, law, dens, "kde")
