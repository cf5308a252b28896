"""Floor 3. The published Chinchilla-law fit as a baseline, unchanged (:class:`PublishedLaw`) or with a
per-domain offset on log loss (:class:`PublishedLawOffset`; Kaplan et al. 2020, §3.2.2).

Their intervals are described in :mod:`bayes_scaling.baselines`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from ..data import RunsTableError
from ..priors import get_prior
from ..scoring import kde_log_density
from .base import BaselineFit, Forecast, domain_arrays, log_loss_lse, validated_runs

__all__ = ["PublishedLaw", "PublishedLawOffset", "PublishedFit"]


def _published_theta(source: str) -> tuple[np.ndarray, np.ndarray]:
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
        table = validated_runs(runs, loss_unit) if runs is not None else None
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
        table = validated_runs(runs, loss_unit)
        offsets, scales, counts = {}, {}, {}
        for dom, (ln, ld, y) in domain_arrays(table).items():
            r = y - log_loss_lse(mean, ln, ld)
            offsets[dom] = float(np.median(r))
            scales[dom] = float(np.std(r, ddof=1)) if r.size > 1 else np.nan
            counts[dom] = int(r.size)
        return PublishedFit(self, mean, cov, offsets, scales, counts, table)


class PublishedFit(BaselineFit):
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
        """One row per domain: ``domain``, ``E``, ``A``, ``B``, ``alpha``, ``beta``, ``offset``, ``scale``, ``n_runs``."""
        a, b, e, al, be = self.theta
        nat = {"E": np.exp(e), "A": np.exp(a), "B": np.exp(b), "alpha": al, "beta": be}
        return pd.DataFrame([{"domain": d, **nat, "offset": self.offsets[d], "scale": self.scales[d],
                              "n_runs": self.counts[d]} for d in self.domains])

    def forecast_domain(self, domain, log_n, log_d, y) -> Forecast:
        """See :meth:`BaselineFit.forecast_domain`."""
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
            dens = kde_log_density(law, y) if y is not None else None
            return Forecast(point, law, law, dens, "kde")
        return Forecast(point, point[None, :], None, nan_dens, "none", has_interval=False)
