"""Floor 3. A published fit as a baseline, unchanged (:class:`PublishedLaw`) or with a per-domain offset on log
loss (:class:`PublishedLawOffset`; Kaplan et al. 2020, §3.2.2): the Chinchilla law (Besiroglu et al. 2024 or
Hoffmann et al. 2022) or the data-constrained law (Muennighoff et al. 2023).

Their intervals are described in :mod:`bayes_scaling.baselines`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from ..data import RunsTableError
from ..laws import get_law
from ..priors import CATALOG, get_prior
from ..scoring import kde_log_density
from .base import BaselineFit, Forecast, validated_runs

__all__ = ["PublishedLaw", "PublishedLawOffset", "PublishedFit", "PUBLISHED_SOURCES", "FITTED_ON"]


#: The laws with a published baseline, and the published fit each uses by default (prior catalog names).
PUBLISHED_SOURCES = {"chinchilla": "besiroglu2024", "data_constrained": "muennighoff2023"}

#: The embedded data set (``bayes_scaling.datasets``) whose runs each published fit was made on
#: (:attr:`bayes_scaling.priors.PriorSpec.fitted_on`): a backtest of those runs scores the published baselines on their
#: own training data.
FITTED_ON = {name: spec.fitted_on for name, spec in CATALOG.items() if spec.fitted_on}

_SOURCE_HINT = {"chinchilla": "'besiroglu2024' or 'hoffmann2022'", "data_constrained": "'muennighoff2023'"}


def _published_theta(source: str, law: str = "chinchilla") -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance of a published fit in the catalog order of its law (``ln A, ln B, ln E, alpha, beta``,
    then ``ln R_D*, ln R_N*`` for the data-constrained law)."""
    if law not in PUBLISHED_SOURCES:
        raise ValueError(f"no published baseline for the {law} law; the published baselines are the "
                         f"{' and '.join(PUBLISHED_SOURCES)} laws.")
    prior = get_prior(source, law=law)
    if not prior.informative or prior.law != law:
        raise ValueError(f"'{source}' is not a published {law}-law fit; use {_SOURCE_HINT[law]}.")
    m = prior.mean
    mean = np.array([m[k] for k in get_law(law).catalog_names], float)
    return mean, np.asarray(prior.cov, float)


def _log_loss(theta: np.ndarray, law: str, table: pd.DataFrame) -> np.ndarray:
    """Log loss of a published fit (catalog order, rows (5,) or (S, 5|7)) at the rows of ``table``: (n,) or (S, n).

    The data-constrained law (Muennighoff et al. 2023, §3.1, :func:`bayes_scaling.laws.data_constrained_loss`)
    needs ``unique_tokens``.
    """
    if law == "data_constrained" and "unique_tokens" not in table:
        raise RunsTableError("the published data-constrained baseline needs the column 'unique_tokens' (U, the "
                             "unique tokens of each run's training data; U = tokens for one epoch).")
    return get_law(law).catalog_log_loss(theta, table)


@dataclass
class PublishedLaw:
    """A published fit of the Chinchilla law or the data-constrained law, unchanged.

    Parameters
    ----------
    source : str, optional
        An entry of the prior catalog fitted with ``law``. Chinchilla law:
        ``besiroglu2024`` (the default; Besiroglu et al. 2024: A = 482.0,
        B = 2085.4, E = 1.817, alpha = 0.3478, beta = 0.3658) or
        ``hoffmann2022`` (Hoffmann et al. 2022, App. D.2, Eq. 10).
        Data-constrained law: ``muennighoff2023`` (the default; Muennighoff
        et al. 2023, the datablations 'Parametric Fit': R_D* = 15.4,
        R_N* = 5.3).
    uncertainty : {"none", "parameters"}, default "none"
        ``none``: a point forecast, intervals NaN. ``parameters``: draws of
        the law's parameters from the catalog's covariance (Besiroglu et
        al. 2024's bootstrap; parameter uncertainty only, no run-to-run noise).
    n_draws : int, default 4000
    random_seed : int, default 0
    law : {"chinchilla", "data_constrained"}, default "chinchilla"
        The law of the published fit (:data:`PUBLISHED_SOURCES`). The
        data-constrained law needs ``unique_tokens`` in runs and targets.

    Raises
    ------
    ValueError
        A law without a published baseline, a source not fitted with the law,
        an unknown ``uncertainty``.
    """

    source: str | None = None
    uncertainty: str = "none"
    n_draws: int = 4000
    random_seed: int = 0
    law: str = "chinchilla"

    offset = False

    def __post_init__(self):
        if self.uncertainty not in ("none", "parameters"):
            raise ValueError(f"uncertainty must be 'none' or 'parameters', not '{self.uncertainty}'.")
        self.law = get_law(self.law).name
        if self.source is None:
            self.source = PUBLISHED_SOURCES.get(self.law, "besiroglu2024")
        _published_theta(self.source, self.law)

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
        mean, cov = _published_theta(self.source, self.law)
        table = validated_runs(runs, loss_unit) if runs is not None else None
        doms = list(dict.fromkeys(table["domain"])) if table is not None else []
        return PublishedFit(self, mean, cov, {d: 0.0 for d in doms}, {d: np.nan for d in doms},
                            {d: 0 for d in doms}, table)


@dataclass
class PublishedLawOffset(PublishedLaw):
    """The published law with a per-domain offset on log loss.

    ``log L = log L_pub(N, D) + m_d`` (``L_pub(N, D, U)`` for the data-constrained
    law) with ``m_d`` the median of the domain's log residuals
    ``log L_i - log L_pub(N_i, D_i)``; a Student-t predictive interval
    from the residual spread (see the module docstring). Kaplan et al. (2020,
    §3.2.2): other distributions shift the loss by a roughly constant offset.

    Parameters
    ----------
    source : str, optional
    n_draws : int, default 4000
        Size of the quantile grid used as draws (CRPS, intervals).
    law : {"chinchilla", "data_constrained"}, default "chinchilla"
        See :class:`PublishedLaw`.
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
        mean, cov = _published_theta(self.source, self.law)
        table = validated_runs(runs, loss_unit)
        offsets, scales, counts = {}, {}, {}
        for dom, rows in table.groupby("domain", sort=False):
            r = np.log(rows["loss"].to_numpy(float)) - _log_loss(mean, self.law, rows)
            offsets[dom] = float(np.median(r))
            scales[dom] = float(np.std(r, ddof=1)) if r.size > 1 else np.nan
            counts[dom] = int(r.size)
        return PublishedFit(self, mean, cov, offsets, scales, counts, table)


class PublishedFit(BaselineFit):
    """A published law attached to runs (see :class:`PublishedLaw`, :class:`PublishedLawOffset`).

    Attributes
    ----------
    config : PublishedLaw
    theta : ndarray, shape (5,) or (7,)
        ``(ln A, ln B, ln E, alpha, beta)`` of the published fit, then ``(ln R_D*, ln R_N*)`` for the
        data-constrained law.
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

    def check_domain(self, dom):
        """The unchanged law forecasts any domain; the offset law only the fitted ones."""
        if self.config.offset:
            super().check_domain(dom)

    def default_domain(self):
        """``default`` for the unchanged law without runs, else the only fitted domain."""
        if not self.config.offset and not self.domains:
            return "default"
        return super().default_domain()

    def parameters(self) -> pd.DataFrame:
        """One row per domain: ``domain``, ``E``, ``A``, ``B``, ``alpha``, ``beta`` (and ``R_D*``, ``R_N*`` for the
        data-constrained law), ``offset``, ``scale``, ``n_runs``."""
        a, b, e, al, be = self.theta[:5]
        nat = {"E": np.exp(e), "A": np.exp(a), "B": np.exp(b), "alpha": al, "beta": be}
        if self.config.law == "data_constrained":
            nat.update({"R_D*": np.exp(self.theta[5]), "R_N*": np.exp(self.theta[6])})
        return pd.DataFrame([{"domain": d, **nat, "offset": self.offsets[d], "scale": self.scales[d],
                              "n_runs": self.counts[d]} for d in self.domains])

    def forecast(self, table: pd.DataFrame, domain: str, loss=None) -> Forecast:
        """See :meth:`BaselineFit.forecast`; for the data-constrained law ``table`` needs ``unique_tokens``."""
        self.check_domain(domain)
        y = None if loss is None else np.log(np.asarray(loss, float))
        return self._forecast(domain, lambda theta: _log_loss(theta, self.config.law, table), y)

    def forecast_domain(self, domain, log_n, log_d, y) -> Forecast:
        """See :meth:`BaselineFit.forecast_domain` (the Chinchilla law; other laws need :meth:`forecast`)."""
        rows = pd.DataFrame({"params": np.exp(log_n), "tokens": np.exp(log_d)})
        return self._forecast(domain, lambda theta: _log_loss(theta, self.config.law, rows), y)

    def _forecast(self, domain, log_law, y) -> Forecast:
        """The forecast of one domain, ``log_law(theta)`` giving the law's log loss at its rows."""
        off = self.offsets.get(domain, 0.0)
        point = log_law(self.theta) + off
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
            law = log_law(th)  # draws in the catalog order of the law, as theta
            dens = kde_log_density(law, y) if y is not None else None
            return Forecast(point, law, law, dens, "kde")
        return Forecast(point, point[None, :], None, nan_dens, "none", has_interval=False)
