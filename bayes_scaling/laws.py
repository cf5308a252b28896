"""Floor 0. Scaling laws as pure functions, written once for NumPy and PyTensor.

Every law is evaluated **in log space**: it returns ``log L`` (L in nats/token)
as a log-sum-exp of terms, which is numerically stable for N, D from 1e3 to
1e16 and is the form used in the fits of Hoffmann et al. (2022, Eq. 3) and
Besiroglu et al. (2024): ``log L = LSE(a - alpha log N, b - beta log D, e)``.

Each law is *reparameterised around reference scales* for sampling. For the
Chinchilla law the published bootstrap correlation of log A and alpha is 0.9993
and of log B and beta 0.9997 (Besiroglu et al. 2024, recomputed covariance in
``_resources/besiroglu2024_bootstrap_cov.json``). Sampling instead

    t_N = log A - alpha log N_ref,     t_D = log B - beta log D_ref,

the log of each term at the centre of the data, removes that ridge.

A law object knows:

* ``theta_names``: the sampling parameters (all real-valued), in order (``params``
  always means N, the model size, never a law parameter);
* ``catalog_names``: the parameterisation in which published fits are quoted;
* ``log_loss(x, theta, xp)``: the law, for ``xp`` = :mod:`numpy` or
  :mod:`pytensor.tensor` (``x`` holds log sizes minus log reference scales);
* ``to_catalog`` / ``from_catalog``: conversion between the two parameterisations.

All functions broadcast: parameters of shape ``(S, 1)`` against sizes of
shape ``(n,)`` give ``(S, n)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ._text import did_you_mean

__all__ = [
    "Law",
    "ROLE_ORDER",
    "ChinchillaLaw",
    "PowerLaw",
    "KaplanLaw",
    "DataConstrainedLaw",
    "get_law",
    "LAWS",
    "chinchilla_loss",
    "compute_optimal_chinchilla",
    "data_constrained_loss",
    "kaplan_loss",
]


def _lse3(xp, a, b, c):
    """log(e^a + e^b + e^c): stable ``logaddexp`` in numpy; in the PyTensor graph the direct
    form, whose log density and gradient evaluate ~1.3x faster (the terms are logs of losses
    and loss terms, |a|, |b|, |c| << 700, so nothing overflows)."""
    if xp is np:
        return np.logaddexp(np.logaddexp(a, b), c)
    return xp.log(xp.exp(a) + xp.exp(b) + xp.exp(c))


def _lse2(xp, a, b):
    """log(e^a + e^b); see :func:`_lse3`."""
    if xp is np:
        return np.logaddexp(a, b)
    return xp.log(xp.exp(a) + xp.exp(b))


def _sigmoid(xp, v):
    """Logistic function in NumPy or PyTensor."""
    if xp is np:
        return 1.0 / (1.0 + np.exp(-v))
    return xp.sigmoid(v)


def _softplus_share(xp, *u):
    """log(1 + sum_k exp(u_k)): the log of (E + size terms) / E at the centre, from the share logits."""
    if xp is np:
        out = np.zeros_like(np.asarray(u[0], float))
        for v in u:
            out = np.logaddexp(out, v)
        return out
    return xp.log(1.0 + sum(xp.exp(v) for v in u))


#: Roles of sampling coordinates, in the order in which they are allowed to vary between
#: domains when domains have few runs (a domain with n runs varies in its first n - 1).
ROLE_ORDER = ("level", "exponent", "share", "allocation", "extra")


@dataclass(frozen=True)
class Law:
    """Base class of a scaling law (see the module docstring).

    Attributes
    ----------
    name : str
        Catalog name.
    variables : tuple of str
        Runs-table columns the law uses (``params``, ``tokens``, ``flops``, ``unique_tokens``).
    theta_names : tuple of str
        Sampling parameters (the columns of a ``theta`` draw matrix).
    catalog_names : tuple of str
        Parameters of published fits.
    param_convention : str
        How N is counted in the published fits behind the law's priors.
    citation : str
        Source of the functional form.
    """

    name: str = ""
    variables: tuple[str, ...] = ()
    theta_names: tuple[str, ...] = ()
    catalog_names: tuple[str, ...] = ()
    param_convention: str = "total parameters including embeddings"
    citation: str = ""
    #: sampling coordinates of the model (see :meth:`theta_from_z`), and the role of each:
    #: ``level`` (log loss at the centre of the runs), ``share`` (log ratio of a size term to the
    #: irreducible term there), ``exponent`` (log of the overall exponent), ``allocation`` (how the
    #: exponent splits between N and D) or ``extra`` (other parameters, e.g. repetition constants)
    z_names: tuple[str, ...] = ()
    z_roles: tuple[str, ...] = ()

    # --- sampling coordinates ---------------------------------------------
    def theta_from_z(self, z: dict[str, Any], xp=np) -> dict[str, Any]:  # pragma: no cover - abstract
        """The law's parameters (``theta_names``) from the model's sampling coordinates (``z_names``)."""
        raise NotImplementedError

    def z_from_theta(self, theta: dict[str, Any]) -> dict[str, np.ndarray]:  # pragma: no cover - abstract
        """Sampling coordinates from the law's parameters (NumPy); the inverse of :meth:`theta_from_z`."""
        raise NotImplementedError

    def weak_prior_z(self, runs) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover - abstract
        """Weakly-informative independent normal prior (mean, sd) in sampling coordinates, each (len(z_names),)."""
        raise NotImplementedError

    def theta_matrix(self, z: np.ndarray) -> np.ndarray:
        """Sampling coordinates (..., len(z_names)) -> law parameters (..., len(theta_names)) (NumPy)."""
        z = np.asarray(z, float)
        th = self.theta_from_z({k: z[..., j] for j, k in enumerate(self.z_names)}, np)
        return np.stack([np.broadcast_to(np.asarray(th[k], float), z.shape[:-1]) for k in self.theta_names], axis=-1)

    def z_matrix(self, theta: np.ndarray) -> np.ndarray:
        """Law parameters (..., len(theta_names)) -> sampling coordinates (..., len(z_names)) (NumPy)."""
        theta = np.asarray(theta, float)
        z = self.z_from_theta({k: theta[..., j] for j, k in enumerate(self.theta_names)})
        return np.stack([np.broadcast_to(np.asarray(z[k], float), theta.shape[:-1]) for k in self.z_names], axis=-1)

    # --- reference scales -------------------------------------------------
    def reference(self, runs) -> dict[str, float]:
        """Log reference scales: the geometric centre of the runs for each variable.

        Parameters
        ----------
        runs : pandas.DataFrame
            Validated runs table.

        Returns
        -------
        dict
            ``{"params": ln N_ref, ...}`` (natural logs).
        """
        return {v: float(np.round(np.mean(np.log(runs[v].to_numpy(float))), 6)) for v in self.size_variables}

    @property
    def size_variables(self) -> tuple[str, ...]:
        """Variables that get a reference scale (all but ``unique_tokens``)."""
        return tuple(v for v in self.variables if v != "unique_tokens")

    def inputs(self, table, ref: dict[str, float]) -> dict[str, np.ndarray]:
        """Centred log inputs ``{"params": ln N - ln N_ref, ...}`` for :meth:`log_loss`.

        Parameters
        ----------
        table : pandas.DataFrame
            Runs or targets with the law's variables.
        ref : dict
            Output of :meth:`reference`.
        """
        out = {v: np.log(table[v].to_numpy(float)) - ref[v] for v in self.size_variables}
        if "unique_tokens" in self.variables:
            out["unique_tokens"] = np.log(table["unique_tokens"].to_numpy(float)) - ref["tokens"]
            out["_ref_params"] = ref["params"]
            out["_ref_tokens"] = ref["tokens"]
        return out

    def log_loss(self, x: dict[str, Any], theta: dict[str, Any], xp=np):  # pragma: no cover - abstract
        """Log loss (nats/token) for centred log inputs ``x`` and sampling parameters ``theta``."""
        raise NotImplementedError

    def to_catalog(self, theta: dict[str, np.ndarray], ref: dict[str, float]) -> dict[str, np.ndarray]:  # pragma: no cover
        """Sampling parameters → published (catalog) parameters."""
        raise NotImplementedError

    def from_catalog(self, cat: dict[str, np.ndarray], ref: dict[str, float]) -> dict[str, np.ndarray]:  # pragma: no cover
        """Published (catalog) parameters → sampling parameters."""
        raise NotImplementedError

    def natural(self, theta: dict[str, np.ndarray], ref: dict[str, float]) -> dict[str, np.ndarray]:
        """Parameters in the units analysts quote (E, A, B, alpha, beta, ...).

        Parameters
        ----------
        theta : dict of ndarray
            Sampling parameters (any common shape).
        ref : dict
            Reference scales.

        Returns
        -------
        dict of ndarray
            Natural parameters (log-parameters exponentiated).
        """
        cat = self.to_catalog(theta, ref)
        out = {}
        for k, v in cat.items():
            if k.startswith("log") and k != "log":
                out[k[3:]] = np.exp(v)
            else:
                out[k] = v
        return out

    def catalog_theta(self, cat, ref: dict[str, float]) -> dict[str, np.ndarray]:
        """Catalog vector(s) -> the law's sampling parameters, each of shape (..., 1), broadcasting against runs.

        Parameters
        ----------
        cat : array_like, shape (..., len(catalog_names))
            Published (catalog) parameters in the order of ``catalog_names``.
        ref : dict
            Reference scales (:meth:`reference`) of the inputs they will be evaluated at.

        Returns
        -------
        dict of ndarray
        """
        cat = np.asarray(cat, float)
        return self.from_catalog({k: cat[..., j, None] for j, k in enumerate(self.catalog_names)}, ref)

    def catalog_log_loss(self, cat, table) -> np.ndarray:
        """Log loss (nats/token) of catalog parameters at the rows of ``table``.

        Parameters
        ----------
        cat : array_like, shape (len(catalog_names),) or (S, len(catalog_names))
            Published (catalog) parameters, e.g. a fit from ``published-fits.md``.
        table : pandas.DataFrame
            Runs or targets with the law's variables (``unique_tokens`` for the data-constrained law).

        Returns
        -------
        ndarray, shape (n,) or (S, n)

        Raises
        ------
        KeyError
            A column of the law's variables is missing.
        """
        ref = self.reference(table)
        return np.asarray(self.log_loss(self.inputs(table, ref), self.catalog_theta(cat, ref), np), float)

    def weak_prior(self, runs) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover - abstract
        """Weakly-informative independent Normal prior (mean, sd) in sampling space."""
        raise NotImplementedError

    def loss(self, table, theta: dict[str, np.ndarray], ref: dict[str, float]) -> np.ndarray:
        """Loss in nats/token at the rows of ``table`` (NumPy).

        Parameters
        ----------
        table : pandas.DataFrame
            Rows with the law's variables, shape (n,).
        theta : dict of ndarray
            Sampling parameters, each of shape (S,) or scalar.
        ref : dict
            Reference scales.

        Returns
        -------
        ndarray
            Shape (S, n) (or (n,) for scalar parameters).
        """
        x = self.inputs(table, ref)
        th = {k: np.asarray(v)[..., None] if np.ndim(v) else v for k, v in theta.items()}
        return np.exp(self.log_loss(x, th, np))

    def log_loss_jacobian(self, x: dict[str, Any], point, coords: str = "theta") -> np.ndarray:
        """Derivatives of the log loss at the runs ``x`` with respect to the law's parameters, by central differences.

        Parameters
        ----------
        x : dict of ndarray
            Centred log inputs (:meth:`inputs`), each of shape (n,).
        point : array_like, shape (p,)
            Where the derivatives are taken: the parameters ``theta_names`` (``coords="theta"``) or the
            sampling coordinates ``z_names`` (``coords="z"``).
        coords : {"theta", "z"}
            The coordinates of ``point``.

        Returns
        -------
        ndarray, shape (n, p)
            ``d log L_i / d point_j``; step ``1e-5 * max(1, |point_j|)``.
        """
        point = np.asarray(point, float)

        def log_loss_at(p):
            th = self.theta_matrix(p) if coords == "z" else p
            return np.asarray(self.log_loss(x, dict(zip(self.theta_names, th, strict=True)), np), float)

        cols = []
        for j in range(len(point)):
            h = 1e-5 * max(1.0, abs(point[j]))
            up, dn = point.copy(), point.copy()
            up[j] += h
            dn[j] -= h
            cols.append((log_loss_at(up) - log_loss_at(dn)) / (2 * h))
        return np.stack(cols, axis=-1)

    @property
    def has_allocation(self) -> bool:
        """Whether the law depends on both N and D (so a compute-optimal split exists)."""
        return "params" in self.variables and "tokens" in self.variables


# ----------------------------------------------------------------------------
# Chinchilla: L = E + A / N^alpha + B / D^beta  (Hoffmann et al. 2022, Eq. 2)
# ----------------------------------------------------------------------------


def chinchilla_loss(params, tokens, E, A, B, alpha, beta):
    """Chinchilla law in linear space, L = E + A / N^alpha + B / D^beta.

    Parameters
    ----------
    params, tokens : array_like
        N (parameters) and D (tokens), raw counts.
    E, A, B, alpha, beta : array_like
        Law parameters (E in nats/token).

    Returns
    -------
    ndarray
        Loss in nats/token, broadcast shape.

    Notes
    -----
    Hoffmann et al. (2022), arXiv:2203.15556, Eq. 2. Used as the linear-space
    reference against which the log-space form of :class:`ChinchillaLaw` is tested.
    """
    params = np.asarray(params, float)
    tokens = np.asarray(tokens, float)
    return E + A / params**alpha + B / tokens**beta


def compute_optimal_chinchilla(flops, A, B, alpha, beta):
    """Closed-form compute-optimal allocation under C = 6 N D.

    Parameters
    ----------
    flops : array_like
        Compute budget C in FLOPs.
    A, B, alpha, beta : array_like
        Chinchilla-law parameters.

    Returns
    -------
    (params_opt, tokens_opt) : tuple of ndarray
        N_opt(C) = G (C/6)^a, D_opt(C) = G^-1 (C/6)^b with
        G = (alpha A / (beta B))^(1/(alpha+beta)), a = beta/(alpha+beta),
        b = alpha/(alpha+beta) (Hoffmann et al. 2022, Eq. 4).
    """
    flops = np.asarray(flops, float)
    s = alpha + beta
    log_g = (np.log(alpha) + np.log(A) - np.log(beta) - np.log(B)) / s
    log_c6 = np.log(flops / 6.0)
    log_n = log_g + (beta / s) * log_c6
    log_d = -log_g + (alpha / s) * log_c6
    return np.exp(log_n), np.exp(log_d)


@dataclass(frozen=True)
class ChinchillaLaw(Law):
    """Chinchilla law L = E + A N^-alpha + B D^-beta (Hoffmann et al. 2022, Eq. 2).

    Sampling parameters: ``logE``, ``tN = log A - alpha ln N_ref``,
    ``tD = log B - beta ln D_ref``, the mean exponent ``s = (alpha + beta) / 2`` and
    the allocation exponent ``a = beta / (alpha + beta)`` (N_opt ∝ C^a, Hoffmann et al.
    2022 Eq. 4), so alpha = 2 s (1 - a) and beta = 2 s a.

    Why (s, a) rather than (alpha, beta): when the runs of a domain follow one
    tokens-per-parameter ratio, D ∝ N and the N and D terms trade places, which
    makes (alpha, beta) bimodal; the allocation exponent is the best-documented
    quantity across data sets (a = 0.45-0.58, DeepSeek 2024 Table 4; 0.46-0.53,
    Hoffmann 2022 Table 2 and App. C; 0.497-0.518, Porian et al. 2024), so its prior
    removes the ambiguity. Catalog parameters: ``logA``, ``logB``, ``logE``,
    ``alpha``, ``beta`` (the order of the Besiroglu et al. 2024 covariance).
    """

    name: str = "chinchilla"
    variables: tuple[str, ...] = ("params", "tokens")
    theta_names: tuple[str, ...] = ("logE", "tN", "tD", "s", "a")
    catalog_names: tuple[str, ...] = ("logA", "logB", "logE", "alpha", "beta")
    citation: str = "Hoffmann et al. (2022), arXiv:2203.15556, Eq. 2; log-space form as in Besiroglu et al. (2024)."

    # Sampling coordinates: the loss at the centre of the runs and how it splits, then the exponents.
    # ell = log L at the reference scales = LSE(logE, tN, tD) (what a few runs pin down first);
    # uN = tN - logE, uD = tD - logE (log ratio of each size term to E there: the E vs size-term
    # split, which a few runs over one decade cannot pin down); ls = log s; la = logit a, so that
    # both exponents are positive by construction (alpha = 2 s (1 - a), beta = 2 s a > 0).
    z_names: tuple[str, ...] = ("ell", "uN", "uD", "ls", "la")
    z_roles: tuple[str, ...] = ("level", "share", "share", "exponent", "allocation")

    def theta_from_z(self, z, xp=np):
        """logE = ell - log(1 + e^uN + e^uD), tN = logE + uN, tD = logE + uD, s = e^ls, a = logistic(la)."""
        log_e = z["ell"] - _softplus_share(xp, z["uN"], z["uD"])
        return {"logE": log_e, "tN": log_e + z["uN"], "tD": log_e + z["uD"], "s": xp.exp(z["ls"]),
                "a": _sigmoid(xp, z["la"])}

    def z_from_theta(self, theta):
        th = {k: np.asarray(v, float) for k, v in theta.items()}
        with np.errstate(invalid="ignore", divide="ignore"):
            return {"ell": np.logaddexp(np.logaddexp(th["logE"], th["tN"]), th["tD"]), "uN": th["tN"] - th["logE"],
                    "uD": th["tD"] - th["logE"], "ls": np.log(th["s"]), "la": np.log(th["a"] / (1.0 - th["a"]))}

    def weak_prior_z(self, runs):
        """Weak prior in sampling coordinates: ell ~ N(log median L, 0.5); uN, uD ~ N(-1, 1.5); ls ~ N(log 0.35, 0.5);
        la ~ N(0, 0.6).

        The loss at the centre of the runs is about their median loss; at the centre the irreducible
        loss is usually the largest term (e^-1: each size term about a third of E; Besiroglu et al. 2024
        at N = 1e9, D = 2e10: 0.36 and 0.36 of E = 1.82), with a factor e^1.5 either way; the
        exponent centre 0.35 is the order of every published LM fit (0.28-0.37, published-fits.md §1)
        and sd 0.5 in log covers 0.15-0.8; la sd 0.6 covers every published allocation exponent
        (a = 0.45-0.73, §2.6).
        """
        loss = runs["loss"].to_numpy(float)
        return (np.array([np.log(np.median(loss)), -1.0, -1.0, np.log(0.35), 0.0]),
                np.array([0.5, 1.5, 1.5, 0.5, 0.6]))

    @staticmethod
    def exponents(theta):
        """(alpha, beta) from the sampling parameters: alpha = 2 s (1 - a), beta = 2 s a."""
        return 2.0 * theta["s"] * (1.0 - theta["a"]), 2.0 * theta["s"] * theta["a"]

    def log_loss(self, x, theta, xp=np):
        """log L = LSE(logE, tN - alpha x_N, tD - beta x_D) (see class docstring)."""
        alpha, beta = self.exponents(theta)
        return _lse3(
            xp,
            theta["logE"] + 0.0 * x["params"],
            theta["tN"] - alpha * x["params"],
            theta["tD"] - beta * x["tokens"],
        )

    def to_catalog(self, theta, ref):
        alpha, beta = self.exponents(theta)
        return {
            "logA": theta["tN"] + alpha * ref["params"],
            "logB": theta["tD"] + beta * ref["tokens"],
            "logE": theta["logE"],
            "alpha": alpha,
            "beta": beta,
        }

    def from_catalog(self, cat, ref):
        total = cat["alpha"] + cat["beta"]
        return {
            "logE": cat["logE"],
            "tN": cat["logA"] - cat["alpha"] * ref["params"],
            "tD": cat["logB"] - cat["beta"] * ref["tokens"],
            "s": total / 2.0,
            "a": cat["beta"] / total,
        }

    def weak_prior(self, runs):
        """Weak prior: logE ~ N(log(0.6 min L), 1); tN, tD ~ N(log(0.2 median L), 2); s ~ N(0.35, 0.2); a ~ N(0.5, 0.15).

        The exponent centre 0.35 is the order of every published LM fit (0.28-0.37,
        published-fits.md §1) with an sd wide enough to cover 0-0.75; a = 0.5 ± 0.15
        covers every published allocation exponent (0.45-0.73, §2.6); the term scales
        are centred on a fraction of the observed loss (bambi-style auto-scaling), with
        sd 2 in log space (a factor 7).
        """
        loss = runs["loss"].to_numpy(float)
        mean = np.array([np.log(0.6 * loss.min()), np.log(0.2 * np.median(loss)), np.log(0.2 * np.median(loss)), 0.35, 0.5])
        sd = np.array([1.0, 2.0, 2.0, 0.2, 0.15])
        return mean, sd


# ----------------------------------------------------------------------------
# Saturating power law in one variable: L(x) = E + A x^-alpha
# ----------------------------------------------------------------------------


@dataclass(frozen=True)
class PowerLaw(Law):
    """Saturating power law in one variable, L(x) = E + A x^-alpha, x = N, D or C.

    The form of Henighan et al. (2020, Eq. 1.1), L = L_inf + (x_0/x)^alpha_x, and
    of Hestness et al. (2017). Sampling parameters ``logE``, ``tX = log A - alpha ln x_ref``,
    ``alpha``; catalog parameters ``logA``, ``logE``, ``alpha``.
    """

    name: str = "power_params"
    x: str = "params"
    variables: tuple[str, ...] = ("params",)
    theta_names: tuple[str, ...] = ("logE", "tX", "alpha")
    catalog_names: tuple[str, ...] = ("logA", "logE", "alpha")
    citation: str = "Henighan et al. (2020), arXiv:2010.14701, Eq. 1.1; Hestness et al. (2017), arXiv:1712.00409."

    # ell = log L at the reference scale = LSE(logE, tX); u = tX - logE; lalpha = log alpha (> 0).
    z_names: tuple[str, ...] = ("ell", "u", "lalpha")
    z_roles: tuple[str, ...] = ("level", "share", "exponent")

    def theta_from_z(self, z, xp=np):
        """logE = ell - log(1 + e^u), tX = logE + u, alpha = e^lalpha."""
        log_e = z["ell"] - _softplus_share(xp, z["u"])
        return {"logE": log_e, "tX": log_e + z["u"], "alpha": xp.exp(z["lalpha"])}

    def z_from_theta(self, theta):
        th = {k: np.asarray(v, float) for k, v in theta.items()}
        with np.errstate(invalid="ignore", divide="ignore"):
            return {"ell": np.logaddexp(th["logE"], th["tX"]), "u": th["tX"] - th["logE"], "lalpha": np.log(th["alpha"])}

    def weak_prior_z(self, runs):
        """Weak prior: ell ~ N(log median L, 0.5); u ~ N(-1, 1.5); lalpha ~ N(log 0.35, 0.6) (log 0.2 for C)."""
        loss = runs["loss"].to_numpy(float)
        centre = 0.2 if self.x == "flops" else 0.35
        return np.array([np.log(np.median(loss)), -1.0, np.log(centre)]), np.array([0.5, 1.5, 0.6])

    def log_loss(self, x, theta, xp=np):
        """log L = logaddexp(logE, tX - alpha (ln x - ln x_ref))."""
        return _lse2(xp, theta["logE"] + 0.0 * x[self.x], theta["tX"] - theta["alpha"] * x[self.x])

    def to_catalog(self, theta, ref):
        return {"logA": theta["tX"] + theta["alpha"] * ref[self.x], "logE": theta["logE"], "alpha": theta["alpha"]}

    def from_catalog(self, cat, ref):
        return {"logE": cat["logE"], "tX": cat["logA"] - cat["alpha"] * ref[self.x], "alpha": cat["alpha"]}

    def weak_prior(self, runs):
        """Weak prior as :meth:`ChinchillaLaw.weak_prior`; the exponent centre is 0.2 for C (compute exponents are smaller)."""
        loss = runs["loss"].to_numpy(float)
        centre = 0.2 if self.x == "flops" else 0.35
        return (
            np.array([np.log(0.6 * loss.min()), np.log(0.3 * np.median(loss)), centre]),
            np.array([1.0, 2.0, 0.25]),
        )


# ----------------------------------------------------------------------------
# Kaplan et al. 2020: L(N, D) = [(N_c/N)^(alpha_N/alpha_D) + D_c/D]^alpha_D
# ----------------------------------------------------------------------------


def kaplan_loss(params, tokens, Nc, Dc, alpha_N, alpha_D):
    """Kaplan et al. (2020) joint law, Eq. 1.5: L = [(N_c/N)^(alpha_N/alpha_D) + D_c/D]^alpha_D.

    Parameters
    ----------
    params, tokens : array_like
        N (non-embedding parameters in the paper) and D (tokens).
    Nc, Dc, alpha_N, alpha_D : array_like
        Table 2 of the paper: alpha_N = 0.076, alpha_D = 0.103, N_c = 6.4e13, D_c = 1.8e13.

    Returns
    -------
    ndarray
        Loss in nats/token.
    """
    params = np.asarray(params, float)
    tokens = np.asarray(tokens, float)
    return ((Nc / params) ** (alpha_N / alpha_D) + Dc / tokens) ** alpha_D


@dataclass(frozen=True)
class KaplanLaw(Law):
    """Kaplan et al. (2020) L(N, D) = [(N_c/N)^(alpha_N/alpha_D) + D_c/D]^alpha_D (Eq. 1.5).

    Sampling parameters: ``alpha_N``, ``alpha_D``, ``sN = (alpha_N/alpha_D)(ln N_c - ln N_ref)``
    and ``sD = ln D_c - ln D_ref`` (the log of each inner term at the reference scales).
    Catalog parameters: ``logNc``, ``logDc``, ``alpha_N``, ``alpha_D``. There is no
    irreducible term. N counts **non-embedding** parameters in the paper.
    """

    name: str = "kaplan"
    variables: tuple[str, ...] = ("params", "tokens")
    theta_names: tuple[str, ...] = ("sN", "sD", "alpha_N", "alpha_D")
    catalog_names: tuple[str, ...] = ("logNc", "logDc", "alpha_N", "alpha_D")
    param_convention: str = "non-embedding parameters"
    citation: str = "Kaplan et al. (2020), arXiv:2001.08361, Eq. 1.5 and Table 2."

    # ell = log L at the reference scales = alpha_D LSE(sN, sD); u = sN - sD; lad = log alpha_D;
    # lr = log(alpha_N / alpha_D), so both exponents are positive by construction.
    z_names: tuple[str, ...] = ("ell", "u", "lad", "lr")
    z_roles: tuple[str, ...] = ("level", "share", "exponent", "allocation")

    def theta_from_z(self, z, xp=np):
        """alpha_D = e^lad, alpha_N = e^(lr + lad), sD = ell / alpha_D - log(1 + e^u), sN = sD + u."""
        alpha_d = xp.exp(z["lad"])
        s_d = z["ell"] / alpha_d - _softplus_share(xp, z["u"])
        return {"sN": s_d + z["u"], "sD": s_d, "alpha_N": xp.exp(z["lr"] + z["lad"]), "alpha_D": alpha_d}

    def z_from_theta(self, theta):
        th = {k: np.asarray(v, float) for k, v in theta.items()}
        with np.errstate(invalid="ignore", divide="ignore"):
            return {"ell": th["alpha_D"] * np.logaddexp(th["sN"], th["sD"]), "u": th["sN"] - th["sD"],
                    "lad": np.log(th["alpha_D"]), "lr": np.log(th["alpha_N"] / th["alpha_D"])}

    def weak_prior_z(self, runs):
        """Weak prior: ell ~ N(log median L, 0.5); u ~ N(0, 3); lad ~ N(log 0.09, 0.6); lr ~ N(0, 0.5)."""
        loss = runs["loss"].to_numpy(float)
        return np.array([np.log(np.median(loss)), 0.0, np.log(0.09), 0.0]), np.array([0.5, 3.0, 0.6, 0.5])

    def log_loss(self, x, theta, xp=np):
        """log L = alpha_D * logaddexp(sN - (alpha_N/alpha_D) x_N, sD - x_D)."""
        ratio = theta["alpha_N"] / theta["alpha_D"]
        return theta["alpha_D"] * _lse2(xp, theta["sN"] - ratio * x["params"], theta["sD"] - x["tokens"])

    def to_catalog(self, theta, ref):
        ratio = theta["alpha_N"] / theta["alpha_D"]
        return {
            "logNc": ref["params"] + theta["sN"] / ratio,
            "logDc": ref["tokens"] + theta["sD"],
            "alpha_N": theta["alpha_N"],
            "alpha_D": theta["alpha_D"],
        }

    def from_catalog(self, cat, ref):
        ratio = cat["alpha_N"] / cat["alpha_D"]
        return {
            "sN": ratio * (cat["logNc"] - ref["params"]),
            "sD": cat["logDc"] - ref["tokens"],
            "alpha_N": cat["alpha_N"],
            "alpha_D": cat["alpha_D"],
        }

    def natural(self, theta, ref):
        cat = self.to_catalog(theta, ref)
        return {"Nc": np.exp(cat["logNc"]), "Dc": np.exp(cat["logDc"]), "alpha_N": cat["alpha_N"], "alpha_D": cat["alpha_D"]}

    def weak_prior(self, runs):
        """Weak prior: alpha_N, alpha_D ~ N(0.09, 0.05); sN, sD ~ N(log(median L)/0.09 - log 2, 4)."""
        loss = runs["loss"].to_numpy(float)
        s0 = np.log(np.median(loss)) / 0.09 - np.log(2.0)
        return np.array([s0, s0, 0.09, 0.09]), np.array([4.0, 4.0, 0.05, 0.05])


# ----------------------------------------------------------------------------
# Muennighoff et al. 2023: data-constrained law with unique tokens U
# ----------------------------------------------------------------------------


def data_constrained_loss(params, tokens, unique_tokens, E, A, B, alpha, beta, rd_star, rn_star):
    """Muennighoff et al. (2023) data-constrained law in linear space.

    D' = U + U R_D* (1 - exp(-R_D / R_D*)), R_D = D/U - 1;
    U_N = min(N, N_opt(U)), N_opt(D) = G (D G)^(beta/alpha), G = (alpha A / (beta B))^(1/(alpha+beta));
    N' = U_N + U_N R_N* (1 - exp(-R_N / R_N*)), R_N = N / U_N - 1;
    L = E + A / N'^alpha + B / D'^beta.

    Parameters
    ----------
    params, tokens, unique_tokens : array_like
        N, D (tokens seen) and U (unique tokens), raw counts.
    E, A, B, alpha, beta, rd_star, rn_star : array_like
        Law parameters; published values (datablations README, "Parametric Fit"):
        A = e^6.255414, B = e^7.3049974, E = e^0.6254804, alpha = beta = 0.3526596,
        R_D* = 15.387756, R_N* = 5.309743.

    Returns
    -------
    ndarray
        Loss in nats/token. At N = 6.34e9, D = 242e9, U = 25e9 the published
        constants give 2.2256 (README worked example).
    """
    params, tokens, unique_tokens = (np.asarray(v, float) for v in (params, tokens, unique_tokens))
    rd = tokens / unique_tokens - 1.0
    d_eff = unique_tokens + unique_tokens * rd_star * (1.0 - np.exp(-rd / rd_star))
    g = (alpha * A / (beta * B)) ** (1.0 / (alpha + beta))
    n_opt_u = g * (unique_tokens * g) ** (beta / alpha)
    un = np.minimum(params, n_opt_u)
    rn = params / un - 1.0
    n_eff = un + un * rn_star * (1.0 - np.exp(-rn / rn_star))
    return E + A / n_eff**alpha + B / d_eff**beta


@dataclass(frozen=True)
class DataConstrainedLaw(Law):
    """Muennighoff et al. (2023) data-constrained law (see :func:`data_constrained_loss`).

    Sampling parameters: the Chinchilla ones (``logE``, ``tN``, ``tD``, ``s``,
    ``a``) plus ``logRD`` = ln R_D* and ``logRN`` = ln R_N*. Needs the column
    ``unique_tokens``. With U = D (a single epoch) it reduces to the Chinchilla law.
    """

    name: str = "data_constrained"
    variables: tuple[str, ...] = ("params", "tokens", "unique_tokens")
    theta_names: tuple[str, ...] = ("logE", "tN", "tD", "s", "a", "logRD", "logRN")
    catalog_names: tuple[str, ...] = ("logA", "logB", "logE", "alpha", "beta", "logRD", "logRN")
    citation: str = "Muennighoff et al. (2023), arXiv:2305.16264, §3.1 (datablations README 'Parametric Fit')."

    z_names: tuple[str, ...] = ("ell", "uN", "uD", "ls", "la", "logRD", "logRN")
    z_roles: tuple[str, ...] = ("level", "share", "share", "exponent", "allocation", "extra", "extra")

    def theta_from_z(self, z, xp=np):
        """The Chinchilla map (:meth:`ChinchillaLaw.theta_from_z`) plus ln R_D*, ln R_N* unchanged."""
        out = ChinchillaLaw().theta_from_z(z, xp)
        out["logRD"] = z["logRD"]
        out["logRN"] = z["logRN"]
        return out

    def z_from_theta(self, theta):
        out = ChinchillaLaw().z_from_theta(theta)
        out["logRD"] = np.asarray(theta["logRD"], float)
        out["logRN"] = np.asarray(theta["logRN"], float)
        return out

    def weak_prior_z(self, runs):
        """Chinchilla weak prior plus ln R_D*, ln R_N* ~ N(ln 10, 1)."""
        m, s = ChinchillaLaw().weak_prior_z(runs)
        return np.r_[m, np.log(10.0), np.log(10.0)], np.r_[s, 1.0, 1.0]

    def log_loss(self, x, theta, xp=np):
        """Log-space evaluation of the data-constrained law (centred log inputs)."""
        # x["tokens"], x["unique_tokens"] are both centred by ln D_ref
        rd_star = xp.exp(theta["logRD"])
        rn_star = xp.exp(theta["logRN"])
        log_u = x["unique_tokens"]
        rd = xp.exp(x["tokens"] - log_u) - 1.0
        log_deff = log_u + xp.log1p(rd_star * (1.0 - xp.exp(-rd / rd_star)))
        # N_opt(U) in centred logs: ln G + (beta/alpha)(ln U + ln G), with ln G from the catalog parameters
        ref_n, ref_d = x["_ref_params"], x["_ref_tokens"]
        alpha, beta = ChinchillaLaw.exponents(theta)
        log_a = theta["tN"] + alpha * ref_n
        log_b = theta["tD"] + beta * ref_d
        log_g = (xp.log(alpha) + log_a - xp.log(beta) - log_b) / (alpha + beta)
        log_nopt = log_g + (beta / alpha) * (log_u + ref_d + log_g) - ref_n
        log_un = xp.minimum(x["params"], log_nopt)
        rn = xp.exp(x["params"] - log_un) - 1.0
        log_neff = log_un + xp.log1p(rn_star * (1.0 - xp.exp(-rn / rn_star)))
        return _lse3(
            xp,
            theta["logE"] + 0.0 * x["params"],
            theta["tN"] - alpha * log_neff,
            theta["tD"] - beta * log_deff,
        )

    def to_catalog(self, theta, ref):
        out = ChinchillaLaw().to_catalog(theta, ref)
        out["logRD"] = theta["logRD"]
        out["logRN"] = theta["logRN"]
        return out

    def from_catalog(self, cat, ref):
        out = ChinchillaLaw().from_catalog(cat, ref)
        out["logRD"] = cat["logRD"]
        out["logRN"] = cat["logRN"]
        return out

    def natural(self, theta, ref):
        out = ChinchillaLaw().natural(theta, ref)
        out["RD_star"] = np.exp(theta["logRD"])
        out["RN_star"] = np.exp(theta["logRN"])
        return out

    def weak_prior(self, runs):
        """Chinchilla weak prior plus ln R_D*, ln R_N* ~ N(ln 10, 1)."""
        m, s = ChinchillaLaw().weak_prior(runs)
        return np.r_[m, np.log(10.0), np.log(10.0)], np.r_[s, 1.0, 1.0]


LAWS: dict[str, Law] = {
    "chinchilla": ChinchillaLaw(),
    "power_params": PowerLaw(name="power_params", x="params", variables=("params",)),
    "power_tokens": PowerLaw(name="power_tokens", x="tokens", variables=("tokens",)),
    "power_flops": PowerLaw(name="power_flops", x="flops", variables=("flops",)),
    "kaplan": KaplanLaw(),
    "data_constrained": DataConstrainedLaw(),
}


def get_law(name: str | Law) -> Law:
    """Look up a law by name.

    Parameters
    ----------
    name : str or Law
        One of ``chinchilla``, ``power_params``, ``power_tokens``, ``power_flops``,
        ``kaplan``, ``data_constrained`` (or a Law, returned unchanged).

    Returns
    -------
    Law

    Raises
    ------
    ValueError
        For an unknown name (the message lists the known ones).
    """
    if isinstance(name, Law):
        return name
    try:
        return LAWS[name]
    except KeyError:
        # a fresh user's 'datacontrained' got the list without the one it was close to
        hint = did_you_mean(name, LAWS)
        raise ValueError(f"unknown law '{name}'; " + (f"{hint} Choose" if hint else "choose")
                         + f" one of: {', '.join(LAWS)}.") from None
