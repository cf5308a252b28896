"""Floor 4. Figures (matplotlib). Each function returns ``(Figure, Axes)`` and accepts ``ax=``
(except :func:`plot_diagnostics`, whose figure ``arviz_plots`` lays out).

Conventions: log axes with readable units (``1B``, ``10B``, ``1T`` for counts;
``1e21`` for FLOPs), the colour-blind-safe Okabe-Ito palette (Okabe & Ito 2008),
credible bands at several levels (default 50 % and 90 %, equal-tailed).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib import pyplot as plt
from scipy import stats
from matplotlib.cm import ScalarMappable
from matplotlib.colors import LogNorm
from matplotlib.ticker import FixedLocator, FuncFormatter, LogLocator, MaxNLocator, NullLocator

from ._warnings import quiet_library_noise
from .data import DEFAULT_DOMAIN, OTHER_SIZE, single_size_axis
from .decisions import discrepancy_of, extrapolation_of, frontier, optimal_allocation_draws
from .display import domain_label, format_count, format_flops, format_probability
from .intervals import interval
from .investment import STATUS_QUO, format_money
from .predict import keyed_predictive_draws, predict, predictive_draws

__all__ = [
    "OKABE_ITO",
    "format_count",
    "plot_fit",
    "plot_domains",
    "plot_parameters",
    "prior_natural_draws",
    "plot_frontier",
    "plot_forecast",
    "plot_departures",
    "plot_net_value",
    "plot_calibration",
    "plot_diagnostics",
]

#: Okabe-Ito colour-blind-safe palette.
OKABE_ITO = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"]
_BAND = "#0072B2"
_PUBLISHED = "#D55E00"
_HELDOUT = "#CC79A7"
#: Span of the runs' tokens per parameter (90th / 10th percentile, each a run's own ratio) above which ``plot_fit`` along N or D also draws
#: the median curves at those two ratios: one ray cannot pass through runs 3x apart in D/N.
RAYS_MIN_SPAN = 3.0


def _format_flops(v: float, _pos=None) -> str:
    """Format FLOPs as 1e21, 5.9e23 (two significant digits, for axes)."""
    return format_flops(v)


def _plain(text) -> str:
    """User text (domain names, prior names) shown literally: no mathtext from ``$``."""
    return str(text).replace("$", r"\$")


def _log_axis(ax, which: str, kind: str) -> None:
    axis = ax.xaxis if which == "x" else ax.yaxis
    (ax.set_xscale if which == "x" else ax.set_yscale)("log")
    axis.set_major_locator(LogLocator(base=10.0))
    axis.set_major_formatter(FuncFormatter(_format_flops if kind == "flops" else format_count))


def _ax(ax, figsize=(6.4, 4.2)):
    if ax is None:
        fig, ax = plt.subplots(figsize=figsize, layout="constrained")
    else:
        fig = ax.figure
    return fig, ax


_LABELS = {
    "params": "parameters N",
    "tokens": "training tokens D",
    "flops": "training compute C (FLOPs)",
}


#: Appended to the error of a one-domain figure asked of a fit of several domains without ``domain=``.
_EVERY_DOMAIN = "plot_domains(fit) draws every domain in one figure."


def plot_fit(
    fit,
    x: str | None = None,
    *,
    domain: str | None = None,
    probs=(0.5, 0.9),
    tokens_per_param: float | None = None,
    heldout: pd.DataFrame | None = None,
    published: bool = True,
    extend: float = 10.0,
    colorbar: bool = True,
    legend: bool = True,
    ax=None,
    colour_norm: LogNorm | None = None,
):
    """Loss against N, D or C: the runs, the posterior median and credible bands.

    For an N-D law the curve needs a path through (N, D): along ``flops`` it is the
    compute-optimal frontier L_opt(C); along ``params`` or ``tokens`` it is the ray
    of constant ``tokens_per_param`` (default: the posterior-median optimum at the
    largest run's compute, brought into the range of the runs' own D/N, so the curve
    runs through the runs it was fitted to; when the runs' D/N span more than
    :data:`RAYS_MIN_SPAN`, dash-dotted median curves at their 10th and 90th percentile D/N
    too, coloured as the runs).

    Parameters
    ----------
    fit : ScalingFit
    x : {"flops", "params", "tokens"}, optional
        Default: ``flops`` for an N-D law, the law's variable for a one-variable law
        (which can only be drawn along its own variable).
    domain : str, optional
    probs : sequence of float
        Band probabilities, widest drawn lightest.
    tokens_per_param : float, optional
        Ratio D/N of the ray for ``x`` = params/tokens.
    heldout : DataFrame, optional
        Runs not used in the fit, drawn as crosses (a second scatter); FLOPs are
        taken as 6ND when the table has no ``flops`` column.
    published : bool
        Draw the prior's published law (informative priors only).
    extend : float
        Extend the curve this factor beyond the largest run (and at least 1.5x beyond the held-out runs).
    colorbar, legend : bool
        Draw the colour bar of tokens per parameter and the legend (a figure of its own gets
        the legend below the axes, where it cannot hide a run).
    ax : matplotlib Axes, optional
    colour_norm : matplotlib.colors.LogNorm, optional
        The colour scale of the runs' tokens per parameter (default: this domain's runs,
        :func:`tokens_per_param_norm`); :func:`plot_domains` gives every panel the same one.

    Returns
    -------
    (Figure, Axes)
        Lines: ``[posterior median]`` (+ ``published law``) (+ the medians at the runs'
        10th and 90th percentile D/N, with the default ``tokens_per_param``); one ``PolyCollection``
        per band, the credible band of the expected loss (along ``flops`` the
        ``loss_opt`` band of :meth:`ScalingFit.frontier`, discrepancy included;
        otherwise the ``mean_loss`` band of :meth:`ScalingFit.predict`); runs as a
        scatter (``Axes.collections``), held-out runs as a second one.

    Raises
    ------
    ValueError
        For an unknown ``x``, or an ``x`` a one-variable law does not depend on.
    """
    law = fit.law
    if x is None:
        x = "flops" if law.has_allocation else law.variables[0]
    allowed = ("flops", "params", "tokens") if law.has_allocation else (law.variables[0],)
    if x not in allowed:
        raise ValueError(f"x must be one of {', '.join(allowed)} for the {law.name} law, not '{x}'.")
    own_figure = ax is None
    fig, ax = _ax(ax)
    domain = fit.domain_for("figure", domain, every=_EVERY_DOMAIN)
    runs = fit.runs[fit.runs["domain"] == domain]
    theta = fit.theta(domain)
    xv = runs[x].to_numpy(float)
    top = xv.max() * extend
    if heldout is not None and len(heldout):  # the curve reaches the held-out runs it is compared with (they sat in
        hx0 = _heldout_x(heldout, x)           # empty space 50x beyond the largest run: a fresh user)
        top = max(top, float(np.nanmax(hx0)) * 1.5)
    grid = np.geomspace(xv.min() / 2, top, 80)
    rng = np.random.default_rng(fit.random_seed)
    extra_curves: list[tuple[float, np.ndarray]] = []  # (D/N, posterior median) of the runs' extreme ratios
    if law.has_allocation and x == "flops":
        res = optimal_allocation_draws(fit, grid, theta, discrepancy=discrepancy_of(fit, domain),
                                       extrapolation=extrapolation_of(fit, domain))
        curve = res["loss_opt"]
        label_path = "compute-optimal L(C)"
    else:
        extra_rays = []
        other = OTHER_SIZE.get(x)
        if law.has_allocation and tokens_per_param is None and single_size_axis(runs) == other:
            # every run at one D (or N): the curve at that D, through the runs (rays of constant D/N crossed each run
            # at one point only, a fresh user's routing figure)
            table = pd.DataFrame({x: grid, other: float(runs[other].iloc[0])})
            if "unique_tokens" in law.variables:
                table["unique_tokens"] = table["tokens"]
            label_path = f"at {'D' if other == 'tokens' else 'N'} = {format_count(float(runs[other].iloc[0]))}"
        elif law.has_allocation:
            if tokens_per_param is None:
                opt = optimal_allocation_draws(fit, np.array([runs["flops"].max()]), theta)
                ratio = (runs["tokens"] / runs["params"]).to_numpy(float)
                # an optimum outside the runs' ratios (OpenLM c4_val: 3.4 against runs at 5-640) drew the ray below
                # every run, which read as a bad fit
                tokens_per_param = float(np.clip(np.median(opt["tokens_per_param"]), ratio.min(), ratio.max()))
                # runs at other ratios lie off that one ray (OpenLM: 5-640 tokens per parameter at each N), which
                # also read as a bad fit: the runs' 10th and 90th percentile ratios get a median curve of their own
                # (not the extremes: one Chinchilla run at 0.04 tokens per parameter drew a curve at 20 nats), taken
                # at a run's own ratio: interpolated between three runs at 20 and one at 320, a curve "D/N = 230" passed
                # beside the run at 320 and read as a miss
                lo_r, hi_r = (float(v) for v in np.quantile(ratio, [0.1, 0.9], method="nearest"))
                extra_rays = [r for r in (lo_r, hi_r)
                              if hi_r / lo_r > RAYS_MIN_SPAN and max(r, tokens_per_param) / min(r, tokens_per_param) > 1.5]
            table = _ray(law, x, grid, tokens_per_param)
            label_path = f"D/N = {_ratio_text(tokens_per_param)}"
        else:
            table = pd.DataFrame({law.variables[0]: grid})
            label_path = ""
        curve = np.exp(predictive_draws(fit, table, domain, rng)[0])
        for r in extra_rays:
            med = np.median(np.exp(predictive_draws(fit, _ray(law, x, grid, r), domain, rng)[0]), 0)
            extra_curves.append((r, med))
    for p, alpha in zip(sorted(probs, reverse=True), np.linspace(0.18, 0.4, len(probs)), strict=True):
        lo, hi = interval(curve, p)
        ax.fill_between(grid, lo, hi, color=_BAND, alpha=alpha, lw=0, label=f"{p:.0%} band (expected loss)")
    # a data-constrained law's curves assume unique data: said on the figure, not only in a report caption (a fresh
    # user's figure review)
    unique = ", U = D" if "unique_tokens" in law.variables else ""
    ax.plot(grid, np.median(curve, 0), color=_BAND, lw=2, label=f"posterior median {label_path}".strip() + unique)
    # not when the prior leaves a parameter weak: a one-variable law's "published" curve had the published E, which
    # lacks the fixed other term the law folds into E, and sat far below the runs (a fresh user)
    if published and fit.prior.informative and not fit.prior.weak_names:
        th0 = fit.published_theta()[None, :]  # the prior's centre, shape (1, p)
        if law.has_allocation and x == "flops":
            pub = optimal_allocation_draws(fit, grid, th0)["loss_opt"][0]
        else:
            pub = law.loss(table, {k: th0[0, j] for j, k in enumerate(law.theta_names)}, fit.refs)
        ax.plot(grid, pub, color=_PUBLISHED, lw=1.5, ls="--", label=f"published law ({_plain(fit.prior.name)})")
    colour = (runs["tokens"] / runs["params"]).to_numpy(float) if law.has_allocation else None
    norm = None
    if colour is not None:
        norm = colour_norm or tokens_per_param_norm(colour)
    for r, med in extra_curves:
        ax.plot(grid, med, color=plt.get_cmap("cividis")(norm(r)), lw=1.2, ls="-.",
                label=f"posterior median D/N = {_ratio_text(r)}{unique}")
    sc = ax.scatter(xv, runs["loss"], c=colour, cmap="cividis" if colour is not None else None, norm=norm, s=14,
                    zorder=3, label="runs", edgecolors="none" if colour is not None else None)
    if colour is not None and colorbar:
        _tokens_per_param_colorbar(fig, sc, ax)
    if heldout is not None and len(heldout):
        ax.scatter(hx0, heldout["loss"], marker="x", color=_HELDOUT, s=36, zorder=4, label="held-out runs")
    _log_axis(ax, "x", x)
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _p: f"{v:.3g}"))
    ax.yaxis.set_minor_formatter(FuncFormatter(lambda v, _p: f"{v:.3g}"))
    _thin_minor_labels(ax)
    ax.set_xlabel(_LABELS.get(x, x))
    ax.set_ylabel("loss (nats/token)")
    what = {"flops": "compute", "params": "parameters", "tokens": "tokens"}.get(x, x)
    named = len(fit.domains) > 1 or domain not in (DEFAULT_DOMAIN, law.name)
    ax.set_title(_plain(f"Loss vs {what}" + (f": {domain_label(domain)}" if named else "")), fontsize=10)
    if legend:
        if own_figure:  # below the axes: a legend inside would hide runs
            handles, labels = ax.get_legend_handles_labels()
            fig.legend(handles, labels, fontsize=8, loc="outside lower center", ncols=2, frameon=False)
        else:
            ax.legend(fontsize=7, loc="best")
    return fig, ax


def _ratio_text(r: float) -> str:
    """A tokens-per-parameter ratio for a legend: 20, 1.5, 4,560 (not 4.56e+03, a fresh user)."""
    return f"{r:.3g}" if r < 1000 else f"{float(f'{r:.3g}'):,.0f}"


def _heldout_x(heldout: pd.DataFrame, x: str) -> np.ndarray:
    """The held-out runs' position along ``x`` (FLOPs as 6ND when the table has no ``flops``)."""
    if x in heldout:
        return heldout[x].to_numpy(float)
    if x == "flops" and {"params", "tokens"} <= set(heldout.columns):
        return 6.0 * heldout["params"].to_numpy(float) * heldout["tokens"].to_numpy(float)
    raise ValueError(f"the held-out runs have no '{x}' column to draw them along.")


def _ray(law, x: str, grid: np.ndarray, tokens_per_param: float) -> pd.DataFrame:
    """Targets along a ray of constant D/N, ``grid`` being N (``x`` = params) or D (``x`` = tokens); unique data
    (U = D) for a law with ``unique_tokens``."""
    if x == "params":
        t = pd.DataFrame({"params": grid, "tokens": grid * tokens_per_param})
    else:
        t = pd.DataFrame({"tokens": grid, "params": grid / tokens_per_param})
    if "unique_tokens" in law.variables:
        t["unique_tokens"] = t["tokens"]
    return t


def _thin_minor_labels(ax) -> None:
    """Readable ticks on a log loss axis that spans less than a decade: about five round values (2, 2.5, 3, 3.5),
    each labelled once, none overlapping (the default labels only 2, 3, 4 or nothing at all)."""
    lo, hi = ax.get_ylim()
    if not (np.isfinite(lo) and np.isfinite(hi)) or lo <= 0 or hi / lo >= 10:
        return
    span = hi - lo
    step = 10 ** np.floor(np.log10(span / 4))
    for m in (1, 2, 2.5, 5, 10):
        if span / (m * step) <= 6:
            step *= m
            break
    ticks = np.arange(np.ceil(lo / step) * step, hi + 1e-12, step)
    ax.yaxis.set_major_locator(FixedLocator(ticks))
    ax.yaxis.set_minor_locator(NullLocator())
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _p: f"{v:.3g}"))


def tokens_per_param_norm(tokens_per_param: np.ndarray) -> LogNorm:
    """The colour scale of runs coloured by D/N (tokens per parameter): their range, widened 1.5x each way when it
    spans less than 3x (so that one D/N is not drawn at the ends of the colour map)."""
    lo_c, hi_c = float(np.min(tokens_per_param)), float(np.max(tokens_per_param))
    return LogNorm(vmin=lo_c / 1.5, vmax=hi_c * 1.5) if hi_c / lo_c < 3 else LogNorm(vmin=lo_c, vmax=hi_c)


def _tokens_per_param_colorbar(fig, mappable, ax):
    """The colour bar of runs coloured by D/N, with plain tick labels."""
    cb = fig.colorbar(mappable, ax=ax, pad=0.01)
    cb.set_label("tokens per parameter (D/N)")
    norm = mappable.norm
    if norm.vmax / norm.vmin < 300:  # under ~2 decades: 1, 2, 5, 10, 20, 50 ... (else only 100 may show)
        cb.ax.yaxis.set_major_locator(LogLocator(base=10.0, subs=(1.0, 2.0, 5.0)))
    cb.ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _p: f"{v:g}"))
    cb.ax.yaxis.set_minor_formatter(FuncFormatter(lambda v, _p: ""))
    return cb


def plot_domains(fit, domains=None, *, probs=(0.5, 0.9), ncols: int = 4, max_panels: int = 24):
    """Loss vs compute for several domains, one small panel each (the runs, the posterior median and bands).

    Parameters
    ----------
    fit : ScalingFit
    domains : list of str, optional
        Default: the domains of the runs (reference domains aside).
    probs : sequence of float
    ncols : int
        Panels per row.
    max_panels : int
        At most this many domains are drawn (the first ones); the figure's title says how many were left out.

    Returns
    -------
    (Figure, ndarray of Axes)
        One axis per domain drawn (:func:`plot_fit` along ``flops`` without colour bar and
        legend); one legend and, for a law in N and D, one colour bar of the runs' tokens per parameter for the
        figure (one colour scale for every panel).
    """
    if domains is None:
        domains = fit.own_domains
    domains = list(domains)
    left_out = len(domains) - max_panels  # 4 of 28 recipes were left out without a word (a fresh user)
    domains = domains[:max_panels]
    ncols = max(1, min(ncols, len(domains)))
    nrows = int(np.ceil(len(domains) / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.0 * ncols + 0.4, 2.5 * nrows + 0.6), layout="constrained",
                             squeeze=False)
    x = "flops" if fit.law.has_allocation else fit.law.variables[0]
    norm = None
    if fit.law.has_allocation:  # the runs' colours had no key, and each panel had its own scale (a fresh user)
        drawn = fit.runs[fit.runs["domain"].isin(domains)]
        norm = tokens_per_param_norm((drawn["tokens"] / drawn["params"]).to_numpy(float))
    for a, dom in zip(axes.ravel(), domains, strict=False):
        plot_fit(fit, x, domain=dom, probs=probs, colorbar=False, legend=False, ax=a, colour_norm=norm)
        a.set_title(_plain(dom), fontsize=8)
        a.set_xlabel(a.get_xlabel(), fontsize=7)
        a.set_ylabel("loss (nats/token)", fontsize=7)
        a.tick_params(labelsize=6, which="both")
        a.xaxis.set_major_locator(LogLocator(base=10.0, numticks=4))
    for a in axes.ravel()[len(domains):]:
        a.set_visible(False)
    if norm is not None:
        _tokens_per_param_colorbar(fig, ScalarMappable(norm=norm, cmap="cividis"), list(axes.ravel()[: len(domains)]))
    handles, labels = axes.ravel()[0].get_legend_handles_labels()
    fig.legend(handles, labels, fontsize=8, loc="outside lower center", ncols=min(4, len(labels)), frameon=False)
    if left_out > 0:
        fig.suptitle(f"the first {len(domains)} of {len(domains) + left_out} domains ({left_out} not drawn: pass "
                     "domains= to choose, or max_panels=)", fontsize=9)
    return fig, axes.ravel()[: len(domains)]


def prior_natural_draws(fit, n: int = 4000, random_seed: int = 0, domain: str | None = None) -> dict[str, np.ndarray]:
    """Draws of one domain's prior in the law's own parameters, as :func:`plot_parameters` draws it.

    :meth:`ScalingFit.prior_draws <bayes_scaling.posterior.ScalingFit.prior_draws>` (for a published
    prior: widened by the between-domain spread, because a domain may depart from the published law by
    that much) in natural parameters. The report's prior table shows the same draws, so table and
    figure agree.

    Returns
    -------
    dict of ndarray
        ``{parameter: (n,)}`` in the law's natural parameters.
    """
    draws = fit.prior_draws(n, np.random.default_rng(random_seed), domain=domain)
    return fit.law.natural(fit.theta_dict(draws), fit.refs)


def plot_parameters(fit, *, prob: float = 0.9, domain: str | None = None, ax=None):
    """Prior vs posterior of each natural parameter, next to the published value.

    Parameters
    ----------
    fit : ScalingFit
    prob : float
        Interval probability.
    domain : str, optional
        Domain (default: the fit's default domain).
    ax : array of Axes, optional
        One axis per parameter.

    Returns
    -------
    (Figure, ndarray of Axes)
        Per axis: a prior interval line (grey) and a posterior interval line (blue),
        each with a median marker, and the published value as a vertical dashed line
        (for a weak prior, the published fit the report compares with).
    """
    domain = fit.domain_for("figure", domain)
    law = fit.law
    post = law.natural(fit.theta_dict(fit.theta(domain)), fit.refs)
    prior = prior_natural_draws(fit, domain=domain)
    published, source = fit.published_values()  # a weak prior still has the published fit to compare with
    names = list(post)
    own_figure = ax is None
    if own_figure:
        fig, axes = plt.subplots(len(names), 1, figsize=(6.4, 0.9 * len(names) + 0.6), layout="constrained")
    else:
        axes = np.atleast_1d(ax).ravel()
        if len(axes) != len(names):
            raise ValueError(f"ax must hold one Axes per parameter ({len(names)}: {', '.join(names)}), got {len(axes)}.")
        fig = axes[0].figure
    axes = np.atleast_1d(axes)
    for a, name in zip(axes, names, strict=True):
        logscale = name in ("A", "B", "Nc", "Dc")
        for y, draws, colour, label in ((1, prior[name], "#999999", "prior"), (0, post[name], _BAND, "posterior")):
            lo, hi = interval(np.asarray(draws, float), prob)
            a.plot([lo, hi], [y, y], color=colour, lw=3, solid_capstyle="butt", label=f"{label} {prob:.0%}")
            a.plot([np.median(draws)], [y], "o", color=colour, ms=5)
        if name in published:
            a.axvline(float(published[name]), color=_PUBLISHED, ls="--", lw=1.2,
                      label=f"published ({_plain(source)})")
        if logscale:
            a.set_xscale("log")
        a.set_yticks([0, 1], ["posterior", "prior"])
        a.set_ylim(-0.6, 1.6)
        a.set_title(name, loc="left", fontsize=9)
    if len(fit.domains) > 1:  # next to reference runs the figure did not say whose parameters it shows (a fresh user)
        axes[0].set_title(_plain(domain_label(domain)), loc="right", fontsize=8)
    handles, labels = axes[0].get_legend_handles_labels()
    if own_figure:  # above the panels, where it cannot hide an interval
        fig.legend(handles, labels, fontsize=7, loc="outside upper center", ncols=3, frameon=False)
    else:
        axes[0].legend(handles, labels, fontsize=7, loc="upper right", ncols=3)
    return fig, axes


#: Points of the grid :func:`plot_frontier` draws on between the smallest and the largest budget it is given.
FRONTIER_GRID = 60


def plot_frontier(fit, flops=None, *, prob: float = 0.9, domain: str | None = None, ax=None):
    """Compute-optimal N_opt(C) and D_opt(C) with credible bands.

    Parameters
    ----------
    fit : ScalingFit
    flops : sequence of float, optional
        Budgets (default: from the smallest run's compute to 1000x the largest); fewer than
        :data:`FRONTIER_GRID` are drawn on that many points between the smallest and the largest.
    prob : float
    domain : str, optional
    ax : Axes, optional

    Returns
    -------
    (Figure, Axes)
        Two median lines (N_opt, D_opt) and two bands; tokens per parameter on a twin log axis. A figure of its
        own has the legend below the axes.
    """
    own_figure = ax is None
    fig, ax = _ax(ax)
    if flops is None:
        c = fit.runs["flops"]
        flops = np.geomspace(c.min(), c.max() * 1000, 60)
    flops = np.unique(np.asarray(flops, float))
    if 2 <= len(flops) < FRONTIER_GRID:  # drawn between the budgets, not joined by straight lines (a fresh user's
        flops = np.geomspace(flops[0], flops[-1], FRONTIER_GRID)  # two budgets read 17 tokens/param where it is 11.5)
    # a drawing grid, not budgets the user chose: the report's reached 1.5x its table's largest budget and warned
    # about a budget 1355x beyond the runs that nobody had asked for
    domain = fit.domain_for("figure", domain, new="frontier")
    fr = frontier(fit, flops, prob=prob, domain=domain, warn_far=False)
    for key, colour, label in (("params_opt", OKABE_ITO[0], "N_opt (parameters)"), ("tokens_opt", OKABE_ITO[1], "D_opt (tokens)")):
        ax.fill_between(fr["flops"], fr[f"{key}_lower"], fr[f"{key}_upper"], color=colour, alpha=0.25, lw=0)
        ax.plot(fr["flops"], fr[f"{key}_median"], color=colour, lw=2, label=f"{label}, {prob:.0%} band")
    _log_axis(ax, "x", "flops")
    _log_axis(ax, "y", "count")
    ax.set_xlabel(_LABELS["flops"])
    ax.set_ylabel("compute-optimal size")
    twin = ax.twinx()
    twin.fill_between(fr["flops"], fr["tokens_per_param_lower"], fr["tokens_per_param_upper"], color=OKABE_ITO[2],
                      alpha=0.12, lw=0)
    twin.plot(fr["flops"], fr["tokens_per_param_median"], color=OKABE_ITO[2], lw=1.2, ls=":",
              label=f"tokens per parameter, {prob:.0%} band")
    twin.set_ylabel("tokens per parameter (D/N)", color=OKABE_ITO[2])
    # a log axis: on a linear one a ratio of 0-1600 (datablations) sat flat on zero below 1e20 (a fresh user)
    twin.set_yscale("log")
    twin.yaxis.set_major_formatter(FuncFormatter(lambda v, _p: f"{v:g}"))
    twin.yaxis.set_minor_formatter(FuncFormatter(lambda v, _p: ""))
    lo_t, hi_t = twin.get_ylim()
    if hi_t / lo_t < 30:  # about a decade: 5, 10, 20, 30 (the band reached 45 and the last label was 20; a fresh user)
        twin.yaxis.set_major_locator(LogLocator(base=10.0, subs=(1.0, 2.0, 3.0, 5.0)))
    elif hi_t / lo_t < 100:  # two decades: 2, 5, 10, 20 (only "10" was labelled on 3-35)
        twin.yaxis.set_major_locator(LogLocator(base=10.0, subs=(1.0, 2.0, 5.0)))
    _thin_minor_labels(twin)  # under a decade (10-30 tokens per parameter): round values, not "2 x 10^1"
    lines = ax.get_legend_handles_labels()
    lines2 = twin.get_legend_handles_labels()
    if own_figure:  # below the axes: inside, it covered the tokens-per-parameter band (a fresh user)
        fig.legend(lines[0] + lines2[0], lines[1] + lines2[1], fontsize=8, loc="outside lower center", ncols=2,
                   frameon=False)
    else:
        ax.legend(lines[0] + lines2[0], lines[1] + lines2[1], fontsize=8, loc="upper left")
    # next to reference runs (or among several domains) the title says whose frontier it is
    ax.set_title("compute-optimal allocation (C = 6ND)" + (f": {_plain(domain_label(domain))}" if len(fit.domains) > 1
                                                            else ""), fontsize=10)
    return fig, ax


def plot_forecast(fit, target: dict, *, threshold: float | None = None, prob: float = 0.9, domain: str | None = None,
                  ax=None):
    """Distribution of the new-run loss at one target, with a threshold and P(exceed).

    Parameters
    ----------
    fit : ScalingFit
    target : dict
        ``{"params": N, "tokens": D}`` (or ``flops``).
    threshold : float, optional
        Target loss; P(loss > threshold) is shaded and printed.
    prob : float
    domain : str, optional
    ax : Axes, optional

    Returns
    -------
    (Figure, Axes)
        A histogram of draws (its bars are ``ax.containers[0]``; the view is their central 95 %), vertical
        lines at the interval ends and the median (and the threshold, with the region above it shaded).
    """
    fig, ax = _ax(ax)
    table = pd.DataFrame([target])
    domain = fit.domain_for("forecast", domain or (target.get("domain") if isinstance(target, dict) else None))
    pred = predict(fit, table, prob=prob, domain=domain)
    t = pred.iloc[[0]]
    # the draws predict() used for this target (keyed by seed, domain and sizes), so the histogram is its interval
    _, new = keyed_predictive_draws(fit, t, domain, fit.random_seed)
    draws = np.exp(new[:, 0])
    lo, hi = interval(draws, prob)
    # the central 95 % of the draws (and the threshold) set the view and the bins: a heavy tail (Student-t noise,
    # the model-form error far beyond the runs) would otherwise squash the histogram into a few bins (a
    # data-constrained fit's tail weight near 1 put its 99.5 % quantile at 60 nats/token)
    view = [float(v) for v in np.quantile(draws, [0.025, 0.975])] + ([threshold] if threshold is not None else [])
    pad = 0.05 * (max(view) - min(view))
    span = (min(view) - pad, max(view) + pad)
    ax.hist(draws, bins=60, range=span, color=_BAND, alpha=0.55, density=True,
            label="new-run loss (posterior predictive)")
    ax.axvline(float(lo), color=_BAND, ls="--", lw=1, label=f"{prob:.0%} interval")
    ax.axvline(float(hi), color=_BAND, ls="--", lw=1)
    ax.axvline(float(np.median(draws)), color=_BAND, lw=2, label="median")
    size = {c: float(t[c].iloc[0]) for c in ("params", "tokens", "flops") if c in t and np.isfinite(t[c].iloc[0])}
    parts = [f"{sym}={format_count(size[c])}" for c, sym in (("params", "N"), ("tokens", "D")) if c in size]
    if len(parts) < 2 and "flops" in size:
        parts.append(f"C={_format_flops(size['flops'])}")
    if "unique_tokens" in t and "tokens" in size and float(t["unique_tokens"].iloc[0]) < size["tokens"]:
        parts.append(f"U={format_count(float(t['unique_tokens'].iloc[0]))}")
    title = ", ".join(parts)
    if len(fit.domains) > 1 or domain not in fit.domains:
        title += f" ({_plain(domain)})"
    if threshold is not None:
        p = float((draws > threshold).mean())
        ax.axvline(threshold, color=_PUBLISHED, lw=2,
                   label=f"threshold {threshold:.4g} nats/token: P(loss > threshold) {_p_text(p)}")
        # the region the probability is of, shaded as the docstring says (it was not: a fresh user's figure review)
        ax.axvspan(threshold, max(span[1], threshold), color=_PUBLISHED, alpha=0.08, lw=0)
        title += f" - P(miss {threshold:.4g}) {_p_text(p)}"
    ax.set_xlim(*span)
    # the view is the central 95 % of the draws: say so, the tails run on beyond the edges (a fresh user)
    ax.set_xlabel("loss (nats/token); the central 95 % of the draws shown")
    ax.set_ylabel("density")
    ax.set_title(title, fontsize=10)
    # below the axes: inside, the legend covered the histogram's peak (a fresh user)
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2, frameon=False)
    return fig, ax


def _p_text(p: float) -> str:
    """``= 12 %``, ``< 1 %`` (the phrase after "P(...)")."""
    text = format_probability(p)
    return text if text[0] in "<>" else f"= {text}"


def plot_departures(departures: pd.DataFrame, *, ax=None):
    """Each domain's departure from the published law (Δalpha, Δbeta, ΔE) with intervals.

    Parameters
    ----------
    departures : DataFrame
        Output of :func:`bayes_scaling.risk.departures` (columns ``domain``,
        ``quantity``, ``median``, ``lower``, ``upper`` [, ``tolerance``]).
    ax : array of Axes, optional

    Returns
    -------
    (Figure, ndarray of Axes)
        One panel per quantity; one interval line per domain; a zero line; with ``tolerance``, a grey band of
        +- the tolerance (the departure counted as none, against which ``p_outside`` is computed).
    """
    quantities = list(dict.fromkeys(departures["quantity"]))
    if ax is not None and len(np.atleast_1d(ax).ravel()) != len(quantities):
        raise ValueError(f"ax must hold one Axes per quantity ({len(quantities)}: {', '.join(quantities)}), "
                         f"got {len(np.atleast_1d(ax).ravel())}.")
    if ax is None:
        n_dom = departures["domain"].nunique()
        fig, axes = plt.subplots(1, len(quantities), figsize=(3.2 * len(quantities), 0.3 * n_dom + 1.5),
                                 layout="constrained", sharey=True)
    else:
        axes = np.atleast_1d(ax).ravel()
        fig = axes[0].figure
    axes = np.atleast_1d(axes)
    for a, q in zip(axes, quantities, strict=True):
        sub = departures[departures["quantity"] == q].reset_index(drop=True)
        y = np.arange(len(sub))
        a.hlines(y, sub["lower"], sub["upper"], color=_BAND, lw=2)
        a.plot(sub["median"], y, "o", color=_BAND, ms=4)
        a.axvline(0, color="#555555", lw=1, ls=":")
        if "tolerance" in sub and np.isfinite(sub["tolerance"]).any():  # the band p_outside is counted against
            tol = float(np.nanmax(sub["tolerance"]))  # (not drawn, a fresh user's figure review)
            a.axvspan(-tol, tol, color="#999999", alpha=0.15, lw=0, label="tolerance (no departure)")
        a.set_yticks(y, [_plain(d) for d in sub["domain"]], fontsize=7)
        a.set_ylim(len(sub) - 0.5, -0.5)  # first domain on top
        a.xaxis.set_major_locator(MaxNLocator(nbins=4, min_n_ticks=3))  # no overlapping tick labels in a narrow panel
        a.tick_params(axis="x", labelsize=7)
        a.set_title(q, fontsize=10)
        if q == "loss gap":
            a.xaxis.set_major_formatter(FuncFormatter(lambda v, _p: f"{100 * v:.3g} %"))
            a.set_xlabel("relative to the published law", fontsize=7)
    return fig, axes


_LOSES = "#D55E00"  # vermillion: the draws in which an option loses money
_PAYS = "#009E73"  # bluish green: the draws in which it pays off


def plot_net_value(decision, *, ax=None):
    """The net value of each option as a distribution, with the break-even line and P(pays off).

    One row per option, top to bottom in the table's order: the posterior density of the
    net value (value of the improvement minus the total cost), green where the option pays
    off and vermillion where it loses money, its median (white dot) and equal-tailed
    interval (black line); the y label gives P(pays off) and the expected net value. Draws
    with no gain over the current product (the value model keeps it: value 0, net value
    minus the cost) are a bar at that point, its height and the density's in proportion to
    their shares. The option of doing nothing is a diamond at 0. Money reads as 1.2 M, -350 k.

    Parameters
    ----------
    decision : InvestmentDecision or Decision
        From :func:`bayes_scaling.decisions.decide` or :func:`bayes_scaling.investment.decide`
        (uses ``table``, ``net_value``, ``currency``, ``prob``, ``recommended``).
    ax : Axes, optional

    Returns
    -------
    (Figure, Axes)
        A dashed vertical line at 0 (``Axes.lines``); per option with spread two filled
        areas (``Axes.collections``: loses, pays off) and its interval line.
    """
    table = decision.table.reset_index(drop=True)
    nv = np.asarray(decision.net_value, float)
    labels = list(table["label"])
    n = len(labels)
    fig, ax = _ax(ax, figsize=(7.0, 0.85 * n + 1.4))
    prob, cur = float(decision.prob), decision.currency
    lo_all, hi_all = interval(nv, prob)
    # x range: the central 99 % of every option and the break-even point, so a heavy tail cannot squash the rest
    q = np.quantile(nv, [0.005, 0.995], axis=0)
    left, right = min(0.0, float(q[0].min())), max(0.0, float(q[1].max()))
    pad = 0.06 * (right - left or max(abs(left), abs(right), 1.0))
    x_lo, x_hi = left - pad, right + pad
    ax.axvline(0.0, color="#555555", lw=1, ls="--", zorder=1)
    ticks = []
    for i, lab in enumerate(labels):
        v = nv[:, i]
        row = table.iloc[i]
        mark = " (recommended)" if lab == decision.recommended else ""
        if lab == STATUS_QUO:
            ax.plot([0.0], [i], "D", color="#555555", ms=7, zorder=3)
            ticks.append(f"{lab}{mark}\nnet value 0 (keep the current product)")
            continue
        tol = 1e-9 * max(1.0, float(np.abs(v).max()))
        # an atom at the lowest value: the draws with no gain over the current product (it is kept, value 0)
        atom = np.abs(v - v.min()) <= tol
        share = float(atom.mean())
        rest = v[~atom]
        # heights in proportion to the share of draws: the atom a bar, the rest a density
        if share >= 0.01:
            x0 = float(v.min())
            ax.vlines(x0, i - 0.42 * share, i + 0.42 * share, color=_LOSES if x0 <= 0 else _PAYS, lw=3, zorder=3)
        if len(rest) > 1 and np.ptp(rest) > tol:
            grid = np.linspace(max(x_lo, float(rest.min())), min(x_hi, float(rest.max())), 400)
            dens = stats.gaussian_kde(rest)(grid)
            h = 0.42 * (1.0 - share) * dens / dens.max()
            neg, pos = grid <= 0, grid >= 0
            if neg.any():
                ax.fill_between(grid[neg], i - h[neg], i + h[neg], color=_LOSES, alpha=0.55, lw=0, zorder=2)
            if pos.any():
                ax.fill_between(grid[pos], i - h[pos], i + h[pos], color=_PAYS, alpha=0.55, lw=0, zorder=2)
        if np.ptp(v) > tol:
            ax.hlines(i, lo_all[i], hi_all[i], color="black", lw=2, zorder=3)
        ax.plot([float(np.median(v))], [i], "o", color="white", mec="black", ms=5, zorder=4)
        # the axis shows the central 99 %: a density cut at the frame looked like a drawing error (a figure review),
        # so the share of draws beyond each edge is written there
        for share_out, x_edge, side in ((float(np.mean(v > x_hi)), x_hi, "right"), (float(np.mean(v < x_lo)), x_lo, "left")):
            if share_out > 0:
                text = f"{format_probability(share_out)} beyond \u2192" if side == "right" else \
                    f"\u2190 {format_probability(share_out)} beyond"
                ax.text(x_edge, i - 0.08, text, ha=side, va="bottom", fontsize=7, color="#555555", zorder=5)
        ticks.append(f"{_plain(lab)}{mark}\nP(pays off) {row['p_pays_off']:.2f}, "
                     f"mean {format_money(float(row['net_value_mean']), cur)}"
                     + (f"\nno gain in {format_probability(share)} of draws (bar)" if share >= 0.01 else ""))
    ax.set_yticks(np.arange(n), ticks, fontsize=8)
    for t, lab in zip(ax.get_yticklabels(), labels, strict=True):
        if lab == decision.recommended:
            t.set_fontweight("bold")
    ax.set_ylim(n - 0.5, -0.5)  # first option on top
    ax.set_xlim(x_lo, x_hi)
    ax.xaxis.set_major_locator(MaxNLocator(nbins=6))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _p: format_money(x)))
    ax.set_xlabel(f"net value ({_plain(cur)}) = value of the improvement - total cost")
    ax.text(0.0, n - 0.5, " break-even", ha="left", va="bottom", fontsize=8, color="#555555")
    ax.set_title(f"Net value of each option: density, median and {prob:.0%} interval", fontsize=10)
    return fig, ax


def plot_calibration(coverage: pd.DataFrame, *, ax=None):
    """Calibration curve: nominal vs empirical interval coverage, one line per method.

    Parameters
    ----------
    coverage : DataFrame
        Columns ``method``, ``nominal``, ``empirical``.
    ax : Axes, optional

    Returns
    -------
    (Figure, Axes)
        One line per method plus the diagonal (perfect calibration).
    """
    fig, ax = _ax(ax, figsize=(4.6, 4.2))
    ax.plot([0, 1], [0, 1], color="#555555", ls=":", lw=1, label="perfect calibration")
    for i, (method, sub) in enumerate(coverage.groupby("method", sort=False)):
        sub = sub.sort_values("nominal")
        ax.plot(sub["nominal"], sub["empirical"], "o-", color=OKABE_ITO[i % len(OKABE_ITO)], label=_plain(method))
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("nominal coverage")
    ax.set_ylabel("empirical coverage of held-out runs")
    ax.legend(fontsize=8)
    return fig, ax


def plot_diagnostics(fit, *, kind: str = "rank", var_names=None):
    """MCMC diagnostics through ``arviz_plots`` (rank plots or energy).

    Parameters
    ----------
    fit : ScalingFit
    kind : {"rank", "trace", "energy"}
    var_names : list of str, optional
        Default: the law's parameters (E, A, B, alpha, beta, ...) of the fit's domain (of the population for a fit
        of several domains), then the scalar variables among :meth:`ScalingFit.trace_variables
        <bayes_scaling.posterior.ScalingFit.trace_variables>` (the noise, the discrepancy amplitude).

    Returns
    -------
    (Figure, ndarray of Axes)
        A new figure (``arviz_plots`` lays out its own grid, so there is no ``ax=``),
        with constrained layout so panel titles do not overlap the row above.
    """
    if kind not in ("rank", "trace", "energy"):
        raise ValueError(f"kind must be 'rank', 'trace' or 'energy', not '{kind}'.")
    import arviz_plots as azp  # imported on use: it loads a plotting backend registry (~1 s)

    coords = None
    if var_names is None:
        # the law's own parameters (E, A, B, alpha, beta, ...) of the fit's domain, or of the population for several,
        # then its scalar hyper-parameters: the sampling coordinates (tN, tD, s, a) meant nothing to a reader (a fresh
        # user's figure review)
        post = fit.posterior["posterior"]
        natural = [v for v in post.data_vars if post[v].dims == ("chain", "draw", "domain")]
        names = [str(d) for d in post["domain"].values] if "domain" in post.coords else []
        if natural and names:
            coords = {"domain": [fit.POPULATION if fit.POPULATION in names else names[0]]}
            var_names = natural + [v for v in fit.trace_variables() if v in post and post[v].dims == ("chain", "draw")]
        else:
            var_names = fit.trace_variables()
    with quiet_library_noise():
        if kind == "energy":
            pc = azp.plot_energy(fit.posterior, backend="matplotlib")
        elif kind == "trace":
            pc = azp.plot_trace(fit.posterior, var_names=var_names, coords=coords, backend="matplotlib")
        else:
            pc = azp.plot_rank(fit.posterior, var_names=var_names, coords=coords, backend="matplotlib")
    fig = pc.viz["figure"].item() if hasattr(pc.viz["figure"], "item") else pc.viz["figure"]
    if kind == "energy":  # the BFMI panel's y axis counts chains: 0, 1, 2, 3, not 0.0, 0.5, ... (a figure review)
        for ax in fig.axes:
            if ax.get_ylabel().lower() == "chain":
                ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    if fig.get_layout_engine() is None:
        fig.set_layout_engine("constrained")
    return fig, np.asarray(fig.axes)
