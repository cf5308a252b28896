"""Floor 1. Model-discrepancy term: an orthogonal Hilbert-space Gaussian process.

Why
---
A scaling law is an approximation. On the Chinchilla runs the errors of a
robust law fit are not spread along compute but follow the isoFLOP curves
(``calibration-findings.md``), so a law-only posterior is over-confident when
it forecasts larger runs. Following Kennedy & O'Hagan (2001) the log loss is
modelled as ``law(theta) + delta(x) + noise`` with ``delta`` a Gaussian process
over the centred log sizes.

Two details keep this fast and the law parameters meaningful:

* **Hilbert-space approximation** (Solin & Särkkä 2020; Riutort-Mayol et al.
  2023, the method behind PyMC's ``HSGP``): ``delta(x) = sum_j phi_j(x) s_j z_j``
  with fixed sine eigenfunctions ``phi_j`` on a box ``[-L, L]^d``, spectral
  weights ``s_j`` of an exponentiated-quadratic kernel and ``z_j ~ N(0, 1)``.
  The basis is deterministic (no random features), and NumPy evaluates it at
  new points without PyTensor.
* **Orthogonality to the law** (after Plumlee 2017, *Bayesian calibration with
  nonidentifiable models*): the GP weights ``w = s * z`` are conditioned on
  ``A w = 0`` with ``A = J'W Phi``, where ``J`` is the law's Jacobian at a robust
  point estimate ``theta0`` on the fitting runs and ``W`` the Student-t weights of
  that fit. For a Gaussian ``w ~ N(0, S)`` this is the fixed linear map
  ``P = I - S A'(A S A')^-1 A`` (it does not depend on the amplitude), so
  ``delta(x) = phi(x) P (s * z)`` and ``psi(x) = phi(x) P``. On the runs the
  discrepancy cannot imitate a change of E, A, B, alpha or beta, so those keep
  their meaning; away from the runs ``delta`` reverts to zero mean (no hidden
  parameter shift), so far forecasts centre on the law.

Beyond the runs the sine basis is not a GP any more (it is periodic on the box), so
forecasts hold the discrepancy at its value on the edge of the runs' box
(:meth:`DiscrepancyBasis.clip_to_runs`): a target beyond the runs gets the misfit of the
nearest point of the runs' range, so forecast curves continue the law's slope from there
(no bend where a fade-out would pull the curve back to the law), and the uncertainty that
grows beyond the runs is the model-form error of :mod:`bayes_scaling.extrapolation`. The
fitted model is unchanged: the runs lie inside the box.

The term is used only for a domain with enough runs to tell a smooth misfit
from noise (:data:`MIN_RUNS`, spread over at least :data:`MIN_DECADES` decades
in every variable of the law); the threshold is about identifiability, not
tuned to a data set.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
from scipy import optimize, special

from .laws import Law

__all__ = ["DiscrepancyBasis", "MIN_RUNS", "MIN_DECADES", "wants_discrepancy", "robust_point_fit"]

#: Fewest runs of a domain for which the discrepancy term is switched on.
MIN_RUNS = 40
#: Smallest spread (decades) of each law variable over a domain's runs.
MIN_DECADES = 1.0
#: Box half-width in units of the data half-range (Riutort-Mayol et al. 2023 suggest c >= 1.2; 3 leaves room to extrapolate).
BOX = 3.0
#: Basis functions per dimension.
M_PER_DIM = {1: 10, 2: 6}
#: Inputs are clipped to this fraction of the box before evaluating the basis (the
#: sine basis is periodic beyond the box).
CLIP = 0.9


def wants_discrepancy(x: dict[str, np.ndarray], law: Law) -> bool:
    """Whether a domain's runs can identify a discrepancy term.

    Parameters
    ----------
    x : dict of ndarray
        Centred log inputs of one domain (see :meth:`Law.inputs`).
    law : Law
        The law.

    Returns
    -------
    bool
        True if there are at least :data:`MIN_RUNS` runs spanning at least
        :data:`MIN_DECADES` decades in every size variable of the law.
    """
    n = len(next(iter(x.values())))
    if n < MIN_RUNS:
        return False
    return all(np.ptp(x[v]) >= MIN_DECADES * np.log(10.0) for v in law.size_variables)


def student_t_logpdf(r: np.ndarray, scale: float, nu: float) -> np.ndarray:
    """Student-t log density of residuals ``r`` with scale and degrees of freedom, shape of ``r``.

    gammaln((nu+1)/2) - gammaln(nu/2) - log(pi nu)/2 - log(scale) - (nu+1)/2 log1p((r/scale)^2/nu),
    the density of ``scipy.stats.t`` written out: ``scipy.stats.t.logpdf`` spends ~0.3 ms per call
    on argument checks, and the point fits evaluate it thousands of times.
    """
    return (special.gammaln((nu + 1) / 2) - special.gammaln(nu / 2) - 0.5 * np.log(np.pi * nu) - np.log(scale)
            - (nu + 1) / 2 * np.log1p((r / scale) ** 2 / nu))


def robust_point_fit(
    law: Law,
    x: dict[str, np.ndarray],
    log_loss: np.ndarray,
    prior_mean: np.ndarray,
    prior_sd: np.ndarray,
) -> tuple[np.ndarray, float, float]:
    """Maximum a-posteriori fit of the law with a Student-t likelihood on log loss.

    Parameters
    ----------
    law : Law
        The law.
    x : dict of ndarray
        Centred log inputs, each of shape (n,).
    log_loss : ndarray, shape (n,)
        Observed log loss.
    prior_mean, prior_sd : ndarray, shape (p,)
        Independent normal prior in sampling space (keeps the fit well posed).

    Returns
    -------
    (theta0, sigma, nu) : tuple
        Sampling parameters (p,), noise scale and degrees of freedom.
    """

    def unpack(v):
        return dict(zip(law.theta_names, v[: len(law.theta_names)], strict=True))

    def nll(v):
        th = unpack(v)
        # the optimiser's steps can overflow the law, the noise scale or the tail weight (a fresh user's eight
        # isoFLOP recipes printed "overflow encountered in exp" three times): such a point is refused by its value
        with np.errstate(all="ignore"):
            r = log_loss - law.log_loss(x, th, np)
            s, nu = np.exp(v[-2]), np.exp(v[-1])
            val = -student_t_logpdf(r, s, nu).sum() + 0.5 * (((v[:-2] - prior_mean) / prior_sd) ** 2).sum()
        return val if np.isfinite(val) else 1e30

    best = None
    for shift in (0.0, -0.5, 0.5):
        start = np.r_[prior_mean + shift * prior_sd * np.sign(np.arange(len(prior_mean)) % 2 - 0.5), np.log(0.01), np.log(3.0)]
        res = optimize.minimize(nll, start, method="L-BFGS-B")
        if best is None or res.fun < best.fun:
            best = res
    v = best.x
    return v[: len(law.theta_names)], float(np.exp(v[-2])), float(np.exp(v[-1]))


@dataclass
class DiscrepancyBasis:
    """The orthogonal HSGP basis of one domain (see the module docstring).

    Attributes
    ----------
    variables : tuple of str
        Size variables of the GP input (the law's).
    centre, half_range : ndarray, shape (d,)
        Box centre and half-range of the centred log inputs of the domain's runs.
    theta0 : ndarray, shape (p,)
        Robust point estimate where the law's Jacobian is taken.
    proj : ndarray, shape (m, m)
        The conditioning map ``P`` (see the module docstring), scaled so that the
        prior variance of the discrepancy, averaged over the fitting runs, is eta^2.
    """

    variables: tuple[str, ...]
    centre: np.ndarray
    half_range: np.ndarray
    theta0: np.ndarray
    proj: np.ndarray

    @property
    def dim(self) -> int:
        """Input dimension d."""
        return len(self.variables)

    @property
    def indices(self) -> np.ndarray:
        """Multi-indices of the basis, shape (m, d)."""
        m = M_PER_DIM[self.dim]
        return np.array(list(itertools.product(range(1, m + 1), repeat=self.dim)), float)

    @property
    def n_basis(self) -> int:
        """Number of basis functions m."""
        return M_PER_DIM[self.dim] ** self.dim

    def eigenvalues(self) -> np.ndarray:
        """Laplacian eigenvalues per dimension, shape (m, d): (pi j / (2 L))^2."""
        return (np.pi * self.indices / (2 * BOX)) ** 2

    def phi(self, x: dict[str, np.ndarray]) -> np.ndarray:
        """Raw sine basis at centred log inputs, shape (n, m)."""
        u = np.stack([(x[v] - c) / h for v, c, h in zip(self.variables, self.centre, self.half_range, strict=True)], -1)
        u = np.clip(u, -CLIP * BOX, CLIP * BOX)
        # each dimension's m sines once, then their products in the order of `indices` (itertools.product): the same
        # numbers as one sine per basis function and dimension, with d*m sines per point instead of d*m^d
        j = np.arange(1, M_PER_DIM[self.dim] + 1, dtype=float)
        out = np.ones((u.shape[0], 1))
        for k in range(self.dim):
            per = np.sqrt(1.0 / BOX) * np.sin(np.pi * j * (u[:, k, None] + BOX) / (2 * BOX))
            out = (out[:, :, None] * per[:, None, :]).reshape(u.shape[0], -1)
        return out

    def clip_to_runs(self, x: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Centred log inputs moved to the nearest point of the runs' box (``centre +- half_range``).

        Inputs inside the runs' range are unchanged; beyond it each variable is held at the edge,
        so the discrepancy of a far target is that of the nearest point the runs cover. Keys that are
        not the basis's variables (e.g. ``unique_tokens``) are returned unchanged.
        """
        out = dict(x)
        for v, c, h in zip(self.variables, self.centre, self.half_range, strict=True):
            out[v] = np.clip(np.asarray(x[v], float), c - h, c + h)
        return out

    def psi(self, law: Law, x: dict[str, np.ndarray]) -> np.ndarray:
        """Orthogonalised basis ``phi(x) P`` at centred log inputs, shape (n, m)."""
        return self.phi(x) @ self.proj

    @classmethod
    def build(cls, law: Law, x: dict[str, np.ndarray], log_loss: np.ndarray, prior_mean, prior_sd,
              lengthscale: float = 1.0) -> DiscrepancyBasis:
        """Build the basis from one domain's runs.

        Parameters
        ----------
        law : Law
        x : dict of ndarray
            Centred log inputs of the domain's runs, each (n,).
        log_loss : ndarray, shape (n,)
        prior_mean, prior_sd : ndarray, shape (p,)
            Prior used by the robust point fit.
        lengthscale : float
            GP length scale (half-range units) used to weight the conditioning.

        Returns
        -------
        DiscrepancyBasis
        """
        variables = law.size_variables
        lo = np.array([x[v].min() for v in variables])
        hi = np.array([x[v].max() for v in variables])
        centre, half = (lo + hi) / 2, np.maximum((hi - lo) / 2, 1e-3)
        theta0, sigma, nu = robust_point_fit(law, x, log_loss, prior_mean, prior_sd)
        r = log_loss - law.log_loss(x, dict(zip(law.theta_names, theta0, strict=True)), np)
        w = (nu + 1.0) / (nu + (r / sigma) ** 2)
        tmp = cls(variables, centre, half, theta0, np.zeros((len(theta0), 1)))
        phi = tmp.phi(x)
        jac = law.log_loss_jacobian(x, theta0)
        a = (jac.T * w) @ phi  # (p, m)
        s0 = tmp.sqrt_spectral(np.asarray(1.0), np.full(len(variables), float(lengthscale)))
        sa = (s0**2)[:, None] * a.T  # S A'
        proj = np.eye(phi.shape[1]) - sa @ np.linalg.pinv(a @ sa, rcond=1e-10) @ a
        # normalise so that the amplitude eta is the prior sd of the conditioned discrepancy
        # averaged over the fitting runs (its prior then reads "misfit of about eta in log loss")
        psi = phi @ proj
        var = ((psi * s0[None, :]) ** 2).sum(axis=1).mean()
        proj = proj / np.sqrt(max(var, 1e-300))
        return cls(variables, centre, half, theta0, proj)

    def sqrt_spectral(self, eta, ls, xp=np):
        """Square root of the exponentiated-quadratic spectral density at the eigenvalues.

        Parameters
        ----------
        eta : scalar or array, shape (...)
            Amplitude (log-loss units).
        ls : array, shape (..., d)
            Length scales in half-range units.

        Returns
        -------
        array, shape (..., m)
            ``eta (2 pi)^(d/4) sqrt(prod ls) exp(-sum ls^2 lambda / 4)`` (Rasmussen &
            Williams 2006, Eq. 4.20, square-rooted).
        """
        lam = self.eigenvalues()
        d = self.dim
        prod = ls[..., 0] if d == 1 else ls[..., 0] * ls[..., 1]
        scale = eta * (2 * np.pi) ** (d / 4) * xp.sqrt(prod)
        expo = 0.0
        for k in range(d):
            expo = expo + (ls[..., k, None] ** 2) * lam[:, k]
        return scale[..., None] * xp.exp(-0.25 * expo)

    def to_dict(self) -> dict:
        """JSON-serialisable form (for saved fits)."""
        return {
            "variables": list(self.variables),
            "centre": self.centre.tolist(),
            "half_range": self.half_range.tolist(),
            "theta0": self.theta0.tolist(),
            "proj": self.proj.tolist(),
        }

    @classmethod
    def from_dict(cls, d: dict) -> DiscrepancyBasis:
        """Inverse of :meth:`to_dict`."""
        return cls(
            tuple(d["variables"]),
            np.asarray(d["centre"], float),
            np.asarray(d["half_range"], float),
            np.asarray(d["theta0"], float),
            np.asarray(d["proj"], float),
        )
