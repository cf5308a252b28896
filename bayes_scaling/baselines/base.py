"""Floor 3. What every baseline is: the :class:`Forecaster` protocol, its :class:`Forecast`, the shared
output columns, and the Chinchilla law in the baselines' parameterisation.

A baseline is fitted to a runs table (validated by :func:`bayes_scaling.data.validate_runs`)
and forecasts targets as a table with the target columns plus ``domain`` and
:data:`FORECAST_COLUMNS` — the same contract as :meth:`ScalingFit.predict
<bayes_scaling.posterior.ScalingFit.predict>` — and, for scoring, as a :class:`Forecast`
of log loss.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np
import pandas as pd

from ..data import RunsTableError, RunsTableWarning, validate_runs, validate_targets
from ..intervals import check_prob, interval
from ..predict import FORECAST_COLUMNS

__all__ = ["Forecaster", "Forecast", "BaselineFit", "FORECAST_COLUMNS", "NEEDS", "log_loss_lse", "validated_runs",
           "domain_arrays"]

#: Target columns every baseline needs (the Chinchilla law in N and D).
NEEDS = ("params", "tokens")


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


@dataclass
class Forecast:
    """Predictive distribution of new-run log loss at n targets (what :meth:`Forecaster.forecast` returns).

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
    has_interval : bool
        False when the draws give no interval (too few runs).
    """

    point_log: np.ndarray
    draws_log: np.ndarray | None
    mean_draws_log: np.ndarray | None = None
    log_density: np.ndarray | None = None
    density_kind: str = "none"
    has_interval: bool = True


@runtime_checkable
class Forecaster(Protocol):
    """A fitted baseline: forecasts of new-run loss for the domains it was fitted to.

    Attributes
    ----------
    name : str
        Method name (``huber_ls``, ``huber_ls_bootstrap``, ``published``, ``published_offset``).
    domains : list of str
        Fitted domains.
    """

    name: str
    domains: list[str]

    def forecast(self, table: pd.DataFrame, domain: str, loss=None) -> Forecast:
        """Predictive distribution of log loss at the rows of ``table`` for one domain."""
        ...

    def predict(self, targets, prob: float = 0.9, domain: str | None = None) -> pd.DataFrame:
        """Forecast table: the targets plus ``domain`` and :data:`FORECAST_COLUMNS`."""
        ...


class BaselineFit:
    """Shared prediction code of the baselines (a :class:`Forecaster`): subclasses implement
    :meth:`forecast_domain` and may override :meth:`check_domain` and :meth:`default_domain`."""

    domains: list[str]
    name: str = "baseline"
    #: Target columns the baseline's law needs (a Huber fit of a one-variable law needs one).
    needs: tuple[str, ...] = NEEDS

    def default_domain(self) -> str:
        """The domain of targets that name none: the only fitted domain.

        Raises
        ------
        RunsTableError
            When the baseline has several domains.
        """
        if len(self.domains) == 1:
            return self.domains[0]
        raise RunsTableError(
            f"this {self.name} fit has several domains; add a 'domain' column to the targets. Known domains: "
            + ", ".join(self.domains)
            + "."
        )

    def _targets(self, targets, domain):
        t = validate_targets(targets, domains=self.domains, needs=self.needs)
        if domain is not None:
            t["domain"] = t["domain"].where(t["domain"].notna(), domain)
        if t["domain"].isna().any():
            t["domain"] = t["domain"].where(t["domain"].notna(), self.default_domain())
        return t

    def check_domain(self, dom: str) -> None:
        """Raise :class:`RunsTableError` for a domain the baseline cannot forecast."""
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
        self.check_domain(domain)
        log_n = np.log(table["params"].to_numpy(float))
        log_d = np.log(table["tokens"].to_numpy(float))
        y = None if loss is None else np.log(np.asarray(loss, float))
        return self.forecast_domain(domain, log_n, log_d, y)

    def forecast_domain(self, domain, log_n, log_d, y) -> Forecast:  # pragma: no cover - abstract
        """The :class:`Forecast` of one fitted domain at natural-log sizes (y: observed log loss or None)."""
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
        check_prob(prob)
        t = self._targets(targets, domain)
        out = t.copy()
        for c in FORECAST_COLUMNS:
            out[c] = np.nan
        for dom, idx in t.groupby("domain", sort=False).groups.items():
            fc = self.forecast(t.loc[idx], dom)
            out.loc[idx, "mean_loss_median"] = np.exp(
                np.median(fc.mean_draws_log, 0) if fc.mean_draws_log is not None else fc.point_log
            )
            if fc.mean_draws_log is not None and fc.mean_draws_log.shape[0] > 1:
                lo, hi = interval(fc.mean_draws_log, prob)
                out.loc[idx, "mean_loss_lower"] = np.exp(lo)
                out.loc[idx, "mean_loss_upper"] = np.exp(hi)
            if fc.draws_log is None or fc.draws_log.shape[0] == 1:
                out.loc[idx, "loss_median"] = np.exp(fc.point_log)
                continue
            out.loc[idx, "loss_median"] = np.exp(np.median(fc.draws_log, 0))
            if fc.has_interval:
                lo, hi = interval(fc.draws_log, prob)
                out.loc[idx, "loss_lower"] = np.exp(lo)
                out.loc[idx, "loss_upper"] = np.exp(hi)
        out.attrs["prob"] = prob
        out.attrs["interval_kind"] = "eti"
        out.attrs["method"] = self.name
        return out


def validated_runs(runs, loss_unit="nats", quiet=False, needs=NEEDS, n_law_parameters=5) -> pd.DataFrame:
    """Runs validated for a baseline: by default a Chinchilla-law one (N and D needed; 5 law parameters)."""
    with warnings.catch_warnings():
        if quiet:
            warnings.simplefilter("ignore", RunsTableWarning)
        return validate_runs(runs, n_law_parameters=n_law_parameters, informative_prior=True, needs=tuple(needs),
                             loss_unit=loss_unit)


def domain_arrays(table: pd.DataFrame) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """``{domain: (log N, log D, log L)}`` of validated runs, in order of appearance."""
    out = {}
    for dom, sub in table.groupby("domain", sort=False):
        out[str(dom)] = (
            np.log(sub["params"].to_numpy(float)),
            np.log(sub["tokens"].to_numpy(float)),
            np.log(sub["loss"].to_numpy(float)),
        )
    return out
