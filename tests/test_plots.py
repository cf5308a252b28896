"""bayes_scaling.plots: what the figures draw — bands equal to the predicted intervals, the right lines, axes
and labels.

The figures are drawn from fake posteriors (synthetic draws of a known law, conftest.py); the
Chinchilla-specific figure along compute is also checked on the real fit (slow).
"""

from __future__ import annotations

import dataclasses
import math
import re

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import LineCollection, PathCollection, PolyCollection
from matplotlib.colors import to_hex
from matplotlib.figure import Figure

from bayes_scaling import laws, plots
from bayes_scaling.plots import (
    OKABE_ITO,
    format_count,
    format_probability,
    plot_calibration,
    plot_departures,
    plot_diagnostics,
    plot_net_value,
    plot_fit,
    plot_forecast,
    plot_frontier,
    plot_parameters,
)
from bayes_scaling.data import RunsTableError
from bayes_scaling.priors import get_prior
from bayes_scaling.risk import departures, exceedance

RTOL = 1e-9  # the figures are computed from the same draws as the tables: equal up to rounding


# ----------------------------------------------------------------- helpers
def bands(ax) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """{label: (x, lower, upper)} of every fill_between polygon of an Axes."""
    out = {}
    for coll in ax.collections:
        if isinstance(coll, PolyCollection):
            v = coll.get_paths()[0].vertices
            xs = np.unique(v[:, 0])
            lo = np.array([v[v[:, 0] == x, 1].min() for x in xs])
            hi = np.array([v[v[:, 0] == x, 1].max() for x in xs])
            out[coll.get_label()] = (xs, lo, hi)
    return out


def scatters(ax) -> list[PathCollection]:
    return [c for c in ax.collections if isinstance(c, PathCollection)]


def tick_texts(axis) -> list[str]:
    """Labels of the major ticks inside the view, as drawn."""
    axis.axes.figure.canvas.draw()
    lo, hi = sorted(axis.get_view_interval())
    return [
        t.get_text()
        for loc, t in zip(axis.get_majorticklocs(), axis.get_majorticklabels(), strict=True)
        if lo <= loc <= hi and t.get_text()
    ]


def decades(lo: float, hi: float) -> list[int]:
    return list(range(math.ceil(math.log10(lo) - 1e-9), math.floor(math.log10(hi) + 1e-9) + 1))


def with_published_prior(fit):
    """The same posterior labelled with the informative Besiroglu et al. (2024) prior.

    The figures only read the prior's name, mean and covariance, so this checks the
    informative-prior drawing without compiling the hierarchical model.
    """
    return dataclasses.replace(fit, prior=get_prior("besiroglu2024", law="chinchilla"))


# ------------------------------------------------------- formatting, palette
@pytest.mark.parametrize(
    ("value", "text"),
    [
        (1e9, "1B"),
        (1e10, "10B"),
        (1e12, "1T"),
        (1.4e12, "1.4T"),
        (7e10, "70B"),
        (5.73e7, "57.3M"),
        (2.5e3, "2.5K"),
        (999.0, "999"),
        (999.7e9, "1T"),  # rounds up into the next unit, never "1e+03B"
        (999.96e6, "1B"),
        (1e15, "1e15"),
        (0.0, ""),
        (-5.0, ""),
        (float("nan"), ""),
        (float("inf"), ""),
    ],
)
def test_format_count(value, text):
    assert format_count(value) == text


@pytest.mark.parametrize(("value", "text"), [(1e21, "1e21"), (5.88e23, "5.9e23"), (9.97e22, "1e23"), (3e18, "3e18")])
def test_flops_format(value, text):
    assert plots._format_flops(value) == text


def test_palette_is_okabe_ito():
    # Okabe & Ito (2008), "Color Universal Design": the eight colours, black included
    canonical = {"#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7", "#000000"}
    assert {c.upper() for c in OKABE_ITO} == canonical
    assert len(OKABE_ITO) == 8
    for colour in (plots._BAND, plots._PUBLISHED, plots._HELDOUT):
        assert colour.upper() in canonical


# ------------------------------------------------------------------ plot_fit
def test_plot_fit_along_params_bands_equal_predict(fake_fit):
    fit = fake_fit
    runs = fit.runs
    fig, ax = plot_fit(fit, "params", tokens_per_param=20.0, probs=(0.5, 0.9))
    assert isinstance(fig, Figure)
    b = bands(ax)
    assert set(b) == {"50% band (expected loss)", "90% band (expected loss)"}
    xs = b["90% band (expected loss)"][0]
    assert len(xs) == 80
    np.testing.assert_allclose([xs[0], xs[-1]], [runs["params"].min() / 2, runs["params"].max() * 10], rtol=1e-12)
    for p in (0.5, 0.9):
        x, lo, hi = b[f"{p:.0%} band (expected loss)"]
        np.testing.assert_array_equal(x, xs)
        pred = fit.predict(pd.DataFrame({"params": x, "tokens": 20.0 * x}), prob=p)
        np.testing.assert_allclose(lo, pred["mean_loss_lower"], rtol=RTOL)
        np.testing.assert_allclose(hi, pred["mean_loss_upper"], rtol=RTOL)
    # the 50 % band lies inside the 90 % band and is strictly narrower somewhere
    _, lo50, hi50 = b["50% band (expected loss)"]
    _, lo90, hi90 = b["90% band (expected loss)"]
    assert np.all(lo90 <= lo50) and np.all(hi50 <= hi90) and np.any(hi90 - lo90 > hi50 - lo50)
    # one line (the median) for a weak prior, equal to the predicted median
    assert len(ax.lines) == 1
    (median,) = ax.lines
    assert "D/N = 20" in median.get_label()
    pred = fit.predict(pd.DataFrame({"params": xs, "tokens": 20.0 * xs}), prob=0.9)
    np.testing.assert_allclose(median.get_xdata(), xs)
    np.testing.assert_allclose(median.get_ydata(), pred["mean_loss_median"], rtol=RTOL)
    # the runs, one point each, at (N, loss)
    (sc,) = scatters(ax)
    np.testing.assert_allclose(sc.get_offsets(), runs[["params", "loss"]].to_numpy())
    # log axes, counts as 100M / 1B / 10B
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    lo_x, hi_x = ax.get_xlim()
    expected = [format_count(10.0**k) for k in decades(lo_x, hi_x)]
    assert tick_texts(ax.xaxis) == expected
    assert {"100M", "1B", "10B"} <= set(expected)
    assert ax.get_xlabel() == "parameters N"


def test_plot_fit_default_ray_adds_medians_at_the_runs_spread_of_tokens_per_param(fake_fit):
    fit = fake_fit
    ratio = (fit.runs["tokens"] / fit.runs["params"]).to_numpy(float)
    lo_r, hi_r = np.quantile(ratio, [0.1, 0.9], method="nearest")
    assert {lo_r, hi_r} <= set(ratio)  # each ray at a run's own ratio (230 between runs at 20 and 320 read as a miss)
    assert hi_r / lo_r > plots.RAYS_MIN_SPAN  # the fake runs span enough D/N for the extra rays
    _, ax = plot_fit(fit, "params")
    extra = [ln for ln in ax.lines if ln.get_linestyle() == "-."]
    assert [ln.get_label() for ln in extra] == [f"posterior median D/N = {lo_r:.3g}", f"posterior median D/N = {hi_r:.3g}"]
    for ln, r in zip(extra, (lo_r, hi_r), strict=True):
        x = ln.get_xdata()
        pred = fit.predict(pd.DataFrame({"params": x, "tokens": r * x}), prob=0.9)
        np.testing.assert_allclose(ln.get_ydata(), pred["mean_loss_median"], rtol=RTOL)
    # more tokens per parameter, lower loss at every N
    assert np.all(extra[1].get_ydata() < extra[0].get_ydata())
    # runs mostly at 20 and a few at 320: the upper ray at 320, not interpolated to 290 beside those runs
    from conftest import make_fake_fit, synthetic_runs

    few = make_fake_fit(synthetic_runs(n_sizes=2, ratios=(20, 20, 20, 20, 20, 320)))
    _, ax = plot_fit(few, "params")
    assert [ln.get_label() for ln in ax.lines if ln.get_linestyle() == "-."] == ["posterior median D/N = 320"]
    plt.close("all")
    # an explicit ray draws that ray only
    _, ax = plot_fit(fit, "params", tokens_per_param=20.0)
    assert [ln.get_label() for ln in ax.lines] == ["posterior median D/N = 20"]


def test_plot_fit_along_tokens(fake_fit):
    fit = fake_fit
    runs = fit.runs
    fig, ax = plot_fit(fit, "tokens", tokens_per_param=40.0, probs=(0.9,))
    x, lo, hi = bands(ax)["90% band (expected loss)"]
    np.testing.assert_allclose([x[0], x[-1]], [runs["tokens"].min() / 2, runs["tokens"].max() * 10], rtol=1e-12)
    pred = fit.predict(pd.DataFrame({"params": x / 40.0, "tokens": x}), prob=0.9)
    np.testing.assert_allclose(lo, pred["mean_loss_lower"], rtol=RTOL)
    np.testing.assert_allclose(hi, pred["mean_loss_upper"], rtol=RTOL)
    assert ax.get_xlabel() == "training tokens D"
    assert all(re.fullmatch(r"\d+(\.\d+)?[KMBT]", t) for t in tick_texts(ax.xaxis))


@pytest.mark.slow
def test_plot_fit_along_flops_bands_equal_frontier(chinchilla_fit):
    """Along C the curve is L_opt(C): the band is the frontier's loss_opt band, discrepancy term included."""
    fit = chinchilla_fit
    assert fit.bases, "the Chinchilla fit is expected to carry a discrepancy term"
    fig, ax = plot_fit(fit, probs=(0.5, 0.9))
    runs = fit.runs
    for p in (0.5, 0.9):
        x, lo, hi = bands(ax)[f"{p:.0%} band (expected loss)"]
        np.testing.assert_allclose([x[0], x[-1]], [runs["flops"].min() / 2, runs["flops"].max() * 10], rtol=1e-12)
        fr = fit.frontier(x, prob=p)
        np.testing.assert_allclose(lo, fr["loss_opt_lower"], rtol=RTOL)
        np.testing.assert_allclose(hi, fr["loss_opt_upper"], rtol=RTOL)
    (median,) = ax.lines
    np.testing.assert_allclose(median.get_ydata(), fit.frontier(median.get_xdata(), prob=0.9)["loss_opt_median"], rtol=RTOL)
    assert median.get_label() == "posterior median compute-optimal L(C)"
    (sc,) = scatters(ax)
    assert len(sc.get_offsets()) == len(runs) == 234  # the fitted runs (11 on fewer tokens than parameters left out)
    # a colour bar of tokens per parameter next to the axes
    assert len(fig.axes) == 2 and fig.axes[1].get_ylabel() == "tokens per parameter (D/N)"
    lo_x, hi_x = ax.get_xlim()
    assert tick_texts(ax.xaxis) == [f"1e{k}" for k in decades(lo_x, hi_x)]
    assert "1e21" in tick_texts(ax.xaxis)
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"


def test_published_law_only_for_informative_priors(fake_fit):
    fit = fake_fit
    _, ax = plot_fit(fit, "params", tokens_per_param=20.0)
    assert not fit.prior.informative
    assert [ln.get_label() for ln in ax.lines if "published" in ln.get_label()] == []

    informative = with_published_prior(fit)
    _, ax = plot_fit(informative, "params", tokens_per_param=20.0)
    pub = [ln for ln in ax.lines if ln.get_label().startswith("published law")]
    assert len(ax.lines) == 2 and len(pub) == 1
    assert pub[0].get_label() == "published law (besiroglu2024)" and pub[0].get_linestyle() == "--"
    # the line is the Besiroglu et al. (2024) point estimate: E=1.817, A=482.0, B=2085.4, alpha=0.3478, beta=0.3658
    n = pub[0].get_xdata()
    expected = laws.chinchilla_loss(n, 20.0 * n, E=1.817, A=482.0, B=2085.4, alpha=0.3478, beta=0.3658)
    np.testing.assert_allclose(pub[0].get_ydata(), expected, rtol=2e-3)

    _, ax = plot_fit(informative, "params", tokens_per_param=20.0, published=False)
    assert len(ax.lines) == 1


def test_published_compute_optimal_law_along_flops(fake_fit):
    fit = fake_fit
    _, ax = plot_fit(with_published_prior(fit), probs=(0.9,))
    (pub,) = [ln for ln in ax.lines if ln.get_label().startswith("published law")]
    c = pub.get_xdata()
    n_opt, d_opt = laws.compute_optimal_chinchilla(c, 482.0, 2085.4, 0.3478, 0.3658)
    expected = laws.chinchilla_loss(n_opt, d_opt, E=1.817, A=482.0, B=2085.4, alpha=0.3478, beta=0.3658)
    np.testing.assert_allclose(pub.get_ydata(), expected, rtol=2e-3)


def test_heldout_runs_are_a_separate_scatter(fake_fit):
    fit = fake_fit
    runs = fit.runs
    heldout = pd.DataFrame({"params": [1e10, 2e10, 3e10, 5e10, 8e10], "tokens": [2e11, 4e11, 6e11, 1e12, 1.6e12],
                            "loss": [2.2, 2.15, 2.1, 2.05, 2.0]})
    # no flops column: drawn at C = 6ND
    _, ax = plot_fit(fit, "flops", heldout=heldout)
    sc = scatters(ax)
    assert [s.get_label() for s in sc] == ["runs", "held-out runs"]
    assert len(sc[0].get_offsets()) == len(runs)
    np.testing.assert_allclose(sc[1].get_offsets(), np.column_stack([6 * heldout["params"] * heldout["tokens"],
                                                                      heldout["loss"]]))
    _, ax = plot_fit(fit, "params", heldout=heldout, tokens_per_param=20.0)
    np.testing.assert_allclose(scatters(ax)[1].get_offsets(), heldout[["params", "loss"]].to_numpy())
    _, ax = plot_fit(fit, "params", heldout=heldout.iloc[:0], tokens_per_param=20.0)
    assert len(scatters(ax)) == 1
    # the curve reaches held-out runs far beyond 10x the largest run (they sat in empty space: a fresh user)
    far = heldout.assign(params=heldout["params"] * 100, tokens=heldout["tokens"] * 100)
    for x, hx in (("flops", 6 * far["params"] * far["tokens"]), ("params", far["params"])):
        _, ax = plot_fit(fit, x, heldout=far, tokens_per_param=20.0 if x == "params" else None)
        assert ax.lines[0].get_xdata().max() == pytest.approx(1.5 * hx.max(), rel=1e-9)


def test_runs_at_one_d_are_drawn_at_that_d():
    # a fresh user's routing runs (every one on 131B tokens) were drawn along rays of constant D/N, each crossing one
    # run, with a legend "D/N = 4.56e+03"
    import warnings

    from conftest import TRUTH, make_fake_fit

    from bayes_scaling.plots import _ratio_text

    n = np.geomspace(1.6e7, 1.3e8, 6)
    runs = pd.DataFrame({"params": n, "tokens": 1.3e11, "loss": laws.chinchilla_loss(n, 1.3e11, **TRUTH)})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = make_fake_fit(runs, prior="besiroglu2024")
    _, ax = plot_fit(fit, "params")
    median = [ln for ln in ax.lines if ln.get_label().startswith("posterior median")]
    assert [ln.get_label() for ln in median] == ["posterior median at D = 130B"]
    x = median[0].get_xdata()
    pred = fit.predict(pd.DataFrame({"params": x, "tokens": 1.3e11}))
    np.testing.assert_allclose(median[0].get_ydata(), pred["mean_loss_median"], rtol=0.01)
    assert (_ratio_text(4560.4), _ratio_text(20.0), _ratio_text(1.53)) == ("4,560", "20", "1.53")


def test_a_data_constrained_fits_curves_say_they_assume_unique_data():
    # the U = D assumption was said only in the report's captions (a fresh user's figure review)
    from conftest import make_fake_fit, synthetic_runs

    runs = synthetic_runs().assign(unique_tokens=lambda d: d["tokens"] / 4)
    fit = make_fake_fit(runs, law_name="data_constrained")
    for x in ("flops", "params"):
        _, ax = plot_fit(fit, x)
        labels = [ln.get_label() for ln in ax.lines if ln.get_label().startswith("posterior median")]
        assert labels and all(lab.endswith(", U = D") for lab in labels), labels


def test_plot_fit_rejects_an_unknown_axis(fake_fit):
    fit = fake_fit
    with pytest.raises(ValueError, match="x must be one of flops, params, tokens"):
        plot_fit(fit, "loss")


def test_domain_name_with_dollars_is_drawn_literally(fake_fit):
    fit = fake_fit
    name = r"price $\frac{$ per run"  # invalid mathtext: would raise when drawn if not escaped
    renamed = dataclasses.replace(fit, domains=[name], runs=fit.runs.assign(domain=name))
    fig, ax = plot_fit(renamed, "params", tokens_per_param=20.0)
    fig.canvas.draw()
    assert ax.title.get_text().endswith(name.replace("$", r"\$"))


# ---------------------------------------------------------- plot_parameters
def test_plot_parameters_intervals_equal_parameters_table(fake_fit):
    fit = fake_fit
    fig, axes = plot_parameters(fit, prob=0.8)
    table = fit.parameters(0.8).set_index("parameter")
    assert [a.get_title(loc="left") for a in axes] == list(table.index) == ["A", "B", "E", "alpha", "beta"]
    for a in axes:
        name = a.get_title(loc="left")
        intervals = [ln for ln in a.lines if len(ln.get_xdata()) == 2 and not ln.get_label().startswith("published")]
        assert [ln.get_label() for ln in intervals] == ["prior 80%", "posterior 80%"]
        post = intervals[1]
        np.testing.assert_allclose(post.get_xdata(), table.loc[name, ["lower", "upper"]].to_numpy(float), rtol=RTOL)
        np.testing.assert_allclose(post.get_ydata(), [0, 0])
        markers = [ln for ln in a.lines if len(ln.get_xdata()) == 1]
        assert len(markers) == 2
        np.testing.assert_allclose(markers[1].get_xdata(), [table.loc[name, "median"]], rtol=RTOL)
        # the weak prior is much wider than the posterior
        prior_width = np.ptp(intervals[0].get_xdata())
        assert prior_width > 3 * np.ptp(post.get_xdata())
        assert a.get_xscale() == ("log" if name in ("A", "B") else "linear")
        assert len([ln for ln in a.lines if "published" in ln.get_label()]) == 1  # weak prior: Besiroglu et al.
    # the legend sits above the panels (not over an interval)
    assert len(fig.legends) == 1
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["prior 80%", "posterior 80%",
                                                                   "published (besiroglu2024)"]


def test_plot_parameters_published_values(fake_fit):
    fit = fake_fit
    informative = with_published_prior(fit)
    fig, axes = plot_parameters(informative)
    published = informative.parameters(0.9).set_index("parameter")["published"]
    for a in axes:
        name = a.get_title(loc="left")
        (line,) = [ln for ln in a.lines if ln.get_label() == "published (besiroglu2024)"]
        np.testing.assert_allclose(line.get_xdata(), [published[name]] * 2, rtol=1e-12)
    np.testing.assert_allclose(published[["E", "alpha", "beta"]].to_numpy(float), [1.817, 0.3478, 0.3658], rtol=2e-3)
    # a weak prior: the report compares with Besiroglu et al. (2024), so does the figure (its caption says so)
    assert fit.prior.name == "weak"
    _, weak_axes = plot_parameters(fit)
    for a in weak_axes:
        (line,) = [ln for ln in a.lines if ln.get_label() == "published (besiroglu2024)"]
        np.testing.assert_allclose(line.get_xdata(), [published[a.get_title(loc="left")]] * 2, rtol=1e-12)


# ------------------------------------------------------------- plot_frontier
def test_plot_frontier_bands_equal_frontier(fake_fit):
    fit = fake_fit
    # twelve budgets are drawn on 60 points between them (two budgets were joined by a straight line: a fresh user)
    fig, ax = plot_frontier(fit, np.geomspace(1e19, 1e24, 12), prob=0.8)
    flops = np.geomspace(1e19, 1e24, 60)
    fr = fit.frontier(flops, prob=0.8)
    polys = [c for c in ax.collections if isinstance(c, PolyCollection)]
    assert len(polys) == 2
    for coll, key in zip(polys, ("params_opt", "tokens_opt"), strict=True):
        v = coll.get_paths()[0].vertices
        xs = np.unique(v[:, 0])
        np.testing.assert_allclose(xs, flops)
        lo = np.array([v[v[:, 0] == x, 1].min() for x in xs])
        hi = np.array([v[v[:, 0] == x, 1].max() for x in xs])
        np.testing.assert_allclose(lo, fr[f"{key}_lower"], rtol=RTOL)
        np.testing.assert_allclose(hi, fr[f"{key}_upper"], rtol=RTOL)
        assert to_hex(coll.get_facecolor()[0]).upper() in {c.upper() for c in OKABE_ITO}
    assert [ln.get_label() for ln in ax.lines] == ["N_opt (parameters), 80% band", "D_opt (tokens), 80% band"]
    np.testing.assert_allclose(ax.lines[0].get_ydata(), fr["params_opt_median"], rtol=RTOL)
    np.testing.assert_allclose(ax.lines[1].get_ydata(), fr["tokens_opt_median"], rtol=RTOL)
    # tokens per parameter on a twin axis
    (twin,) = [a for a in fig.axes if a is not ax]
    np.testing.assert_allclose(twin.lines[0].get_ydata(), fr["tokens_per_param_median"], rtol=RTOL)
    assert twin.get_ylabel() == "tokens per parameter (D/N)"
    # issue 14: the tokens-per-parameter line has its band too
    (tpp,) = [c for c in twin.collections if isinstance(c, PolyCollection)]
    v = tpp.get_paths()[0].vertices
    np.testing.assert_allclose([v[v[:, 0] == x, 1].min() for x in flops], fr["tokens_per_param_lower"], rtol=RTOL)
    np.testing.assert_allclose([v[v[:, 0] == x, 1].max() for x in flops], fr["tokens_per_param_upper"], rtol=RTOL)
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log" and twin.get_yscale() == "log"
    assert ax.get_legend() is None and len(fig.legends) == 1  # below the axes, off the bands
    lo_x, hi_x = ax.get_xlim()
    assert tick_texts(ax.xaxis) == [f"1e{k}" for k in decades(lo_x, hi_x)]
    lo_y, hi_y = ax.get_ylim()
    ylabels = tick_texts(ax.yaxis)
    assert ylabels == [format_count(10.0**k) for k in decades(lo_y, hi_y)]
    assert {"1B", "10B", "1T"} <= set(ylabels)


def test_plot_frontier_labels_a_decade_of_tokens_per_parameter(fake_fit, monkeypatch):
    """A D/N band of 4-45: its labels were 5, 10, 20 (and 50 at the frame), 20-50 unlabelled (a fresh user)."""
    c = np.geomspace(1e18, 1e22, 60)
    n = np.sqrt(c / (6 * 16.0))
    band = {"flops": c, "tokens_per_param_median": np.full(60, 16.0), "tokens_per_param_lower": np.linspace(9, 4, 60),
            "tokens_per_param_upper": np.linspace(30, 45, 60)}
    for key, mid in (("params_opt", n), ("tokens_opt", 16.0 * n)):
        band |= {f"{key}_median": mid, f"{key}_lower": mid / 1.5, f"{key}_upper": mid * 1.5}
    monkeypatch.setattr(plots, "frontier", lambda *a, **k: pd.DataFrame(band))
    fig, ax = plot_frontier(fake_fit, c)
    (twin,) = [a for a in fig.axes if a is not ax]
    assert tick_texts(twin.yaxis) == ["5", "10", "20", "30", "50"]


def test_plot_frontier_default_budgets(fake_fit):
    fit = fake_fit
    _, ax = plot_frontier(fit)
    x = ax.lines[0].get_xdata()
    assert len(x) == 60
    np.testing.assert_allclose([x[0], x[-1]], [fit.runs["flops"].min(), 1000 * fit.runs["flops"].max()], rtol=1e-12)


# ------------------------------------------------------------- plot_forecast
def test_plot_forecast_threshold_and_exceedance(fake_fit):
    fit = fake_fit
    target = {"params": 2e10, "tokens": 4e11}
    pred = fit.predict(pd.DataFrame([target]), prob=0.9).iloc[0]
    threshold = round(float(pred["loss_median"] + 0.3 * (pred["loss_upper"] - pred["loss_median"])), 4)
    fig, ax = plot_forecast(fit, target, threshold=threshold, prob=0.9)
    p_exceed = float(exceedance(fit, pd.DataFrame([target]), threshold)["p_exceed"].iloc[0])
    assert 0.1 < p_exceed < 0.45
    (thr,) = [ln for ln in ax.lines if ln.get_label().startswith("threshold")]
    np.testing.assert_allclose(thr.get_xdata(), [threshold, threshold])
    shown = float(re.search(r"P\(loss > threshold\) = ([\d.]+) %", thr.get_label()).group(1)) / 100
    assert shown == pytest.approx(p_exceed, rel=0.05)  # two significant digits
    assert f"P(miss {threshold:.4g}) = {format_probability(p_exceed)}" in ax.get_title()
    assert "nats/token" in thr.get_label()
    assert ax.get_title().startswith("N=20B, D=400B")
    # interval ends and median: the new-run interval of predict()
    by_label = {ln.get_label(): ln for ln in ax.lines}
    np.testing.assert_allclose(by_label["median"].get_xdata(), [pred["loss_median"]] * 2, rtol=RTOL)
    ends = sorted(float(ln.get_xdata()[0]) for ln in ax.lines if ln.get_linestyle() == "--")
    np.testing.assert_allclose(ends, [pred["loss_lower"], pred["loss_upper"]], rtol=RTOL)
    # a density histogram of 60 bins
    bars = ax.containers[0].patches
    heights = np.array([r.get_height() for r in bars])
    widths = np.array([r.get_width() for r in bars])
    assert len(bars) == 60
    assert float((heights * widths).sum()) == pytest.approx(1.0, rel=1e-9)
    # the region above the threshold shaded, to the right edge of the view
    (shade,) = [p for p in ax.patches if p not in bars]
    x0, x1 = shade.get_x(), shade.get_x() + shade.get_width()
    assert x0 == pytest.approx(threshold) and x1 == pytest.approx(ax.get_xlim()[1])


def test_plot_forecast_without_threshold(fake_fit):
    fit = fake_fit
    _, ax = plot_forecast(fit, {"params": 7e10, "tokens": 1.4e12})
    assert len(ax.lines) == 3
    assert not [ln for ln in ax.lines if "threshold" in ln.get_label()]
    assert ax.get_title() == "N=70B, D=1.4T"


# ----------------------------------------------------------- plot_departures
def _departures_table(domains):
    rows = []
    for i, d in enumerate(domains):
        for q in ("Δalpha", "Δbeta", "ΔE", "loss gap"):
            m = 0.01 * (i + 1)
            rows.append({"domain": d, "quantity": q, "median": m, "lower": m - 0.02 * (i + 1), "upper": m + 0.03})
    return pd.DataFrame(rows)


def test_plot_departures_one_interval_per_domain():
    domains = ["code", "math", "web $5 and $6"]
    dep = _departures_table(domains)
    fig, axes = plot_departures(dep)
    assert [a.get_title() for a in axes] == ["Δalpha", "Δbeta", "ΔE", "loss gap"]
    for a, (q, sub) in zip(axes, dep.groupby("quantity", sort=False), strict=True):
        (segments,) = [c for c in a.collections if isinstance(c, LineCollection)]
        segs = segments.get_segments()
        assert len(segs) == len(domains)
        for seg, (_, row) in zip(segs, sub.iterrows(), strict=True):
            np.testing.assert_allclose(seg[:, 0], [row["lower"], row["upper"]])
        medians = [ln for ln in a.lines if ln.get_marker() == "o"]
        np.testing.assert_allclose(medians[0].get_xdata(), sub["median"])
        zero = [ln for ln in a.lines if list(ln.get_xdata()) == [0, 0]]
        assert len(zero) == 1
    fig.canvas.draw()  # '$' in a domain name is text, not mathtext
    assert [t.get_text().replace("\\$", "$") for t in axes[0].get_yticklabels()] == domains


def test_plot_departures_of_a_real_fit(fake_fit):
    fit = fake_fit
    dep = departures(fit)
    _, axes = plot_departures(dep)
    assert len(axes) == dep["quantity"].nunique() == 4
    for a in axes:
        q = a.get_title()
        row = dep[dep["quantity"] == q].iloc[0]
        (segments,) = [c for c in a.collections if isinstance(c, LineCollection)]
        np.testing.assert_allclose(segments.get_segments()[0][:, 0], [row["lower"], row["upper"]])
        # the tolerance p_outside is counted against, as a band (it was not drawn: a fresh user's figure review)
        (band,) = [p for p in a.patches if p.get_label() == "tolerance (no departure)"]
        assert (band.get_x(), band.get_x() + band.get_width()) == pytest.approx((-row["tolerance"], row["tolerance"]))


def test_plot_departures_checks_the_number_of_axes():
    _, axes = plt.subplots(1, 2)
    with pytest.raises(ValueError, match="one Axes per quantity"):
        plot_departures(_departures_table(["a"]), ax=axes)


# ----------------------------------------------------------- plot_net_value
def _decision(value_per_point=6e4, baseline=2.1, seed=0):
    """An investment decision on synthetic net values: three plans, the status quo (bayes_scaling.investment)."""
    from bayes_scaling.costs import CostModel, ValueModel
    from bayes_scaling.investment import decide

    rng = np.random.default_rng(seed)
    plans = pd.DataFrame({"label": ["1B", "10B $big$", "70B"], "params": [1e9, 1e10, 7e10],
                          "tokens": [2e10, 2e11, 1.4e12]})
    loss = np.array([2.3, 2.05, 1.95]) + 0.12 * rng.standard_normal((4000, 1)) + 0.02 * rng.standard_normal((4000, 3))
    value = ValueModel(metric="loss", higher_is_better=False, baseline=baseline, money_per_unit=value_per_point,
                       unit=0.01, currency="EUR")
    return decide(loss, plans, CostModel(price_per_flop=1.4e-18, currency="EUR"), value)


def test_plot_net_value_rows_intervals_and_labels():
    d = _decision()
    fig, ax = plot_net_value(d)
    t = d.table
    # one row per option, first on top; each label states P(pays off) and the expected net value of the table
    fig.canvas.draw()
    labels = [x.get_text().replace("\\$", "$") for x in ax.get_yticklabels()]
    assert len(labels) == 4 and labels[3].startswith("do nothing")
    for lab, (_, row) in zip(labels[:3], t.iloc[:3].iterrows(), strict=True):
        assert lab.startswith(row["label"])
        assert f"P(pays off) {row['p_pays_off']:.2f}, mean {plots.format_money(row['net_value_mean'], 'EUR')}" in lab
    rec = int(np.flatnonzero(t["recommended"])[0])
    assert "(recommended)" in labels[rec] and ax.get_yticklabels()[rec].get_fontweight() == "bold"
    # the interval lines are the table's intervals
    segs = [seg for c in ax.collections if isinstance(c, LineCollection) for seg in c.get_segments()]
    got = sorted((float(s[0, 0]), float(s[1, 0])) for s in segs if len(s) == 2 and s[0, 1] == s[1, 1])
    want = sorted(zip(t["net_value_lower"].iloc[:3], t["net_value_upper"].iloc[:3], strict=True))
    np.testing.assert_allclose(got, want)
    # the break-even line, money in readable units on the axis
    assert any(list(ln.get_xdata()) == [0, 0] for ln in ax.lines)
    ticks = [x.get_text() for x in ax.get_xticklabels()]
    assert any(re.fullmatch(r"-?[\d.]+ [kM]", x) for x in ticks), ticks
    assert ax.get_xlabel() == "net value (EUR) = value of the improvement - total cost"
    # areas where an option pays off (green) and loses money (vermillion)
    colours = {to_hex(c.get_facecolor()[0]) for c in ax.collections if isinstance(c, PolyCollection)}
    assert {"#009e73", "#d55e00"} <= colours


def test_plot_net_value_says_how_many_draws_lie_beyond_the_axis():
    """The axis shows the central 99 % of the draws; the share of each option's draws beyond an edge is written at
    that edge (a density cut by the frame looked like a drawing error)."""
    d = _decision()
    fig, ax = plot_net_value(d)
    left, right = ax.get_xlim()
    notes = {round(t.get_position()[1]): t.get_text() for t in ax.texts if "beyond" in t.get_text()}
    nv = np.asarray(d.net_value, float)
    for i in range(3):
        beyond = float(np.mean(nv[:, i] > right))
        if beyond > 0:
            assert plots.format_probability(beyond) + " beyond \u2192" in " ".join(
                t.get_text() for t in ax.texts if abs(t.get_position()[1] - (i - 0.08)) < 1e-9)
    assert notes, "no option of the synthetic decision has draws beyond the axis"


def test_plot_net_value_of_a_value_model_that_is_zero():
    """Every draw of a plan is minus its cost: a bar at that point, no density; the label says so."""
    d = _decision(value_per_point=0.0)
    fig, ax = plot_net_value(d)
    fig.canvas.draw()
    assert not [c for c in ax.collections if isinstance(c, PolyCollection)]
    labels = [x.get_text() for x in ax.get_yticklabels()]
    assert all("P(pays off) 0.00" in lab and "no gain in > 99 % of draws" in lab for lab in labels[:3])
    assert "(recommended)" not in " ".join(labels[:3]) and labels[3].startswith("do nothing (recommended)")
    left, right = ax.get_xlim()
    assert left < -float(d.table["total_cost"].max()) and right > 0


# ----------------------------------------------------------- plot_calibration
def _coverage():
    rng = np.random.default_rng(0)
    rows = [{"method": m, "nominal": q, "empirical": min(1.0, q * f + rng.uniform(0, 0.02))}
            for m, f in (("bayes", 1.0), ("huber_ls", 0.7), ("published_offset", 0.4))
            for q in (0.5, 0.8, 0.9, 0.95)]
    return pd.DataFrame(rows).sample(frac=1.0, random_state=1)  # rows out of order


def test_plot_calibration_one_line_per_method_and_diagonal():
    cov = _coverage()
    fig, ax = plot_calibration(cov)
    assert len(ax.lines) == 1 + cov["method"].nunique() == 4
    diag = ax.lines[0]
    assert list(diag.get_xdata()) == [0, 1] and list(diag.get_ydata()) == [0, 1]
    assert diag.get_label() == "perfect calibration"
    methods = list(dict.fromkeys(cov["method"]))
    assert [ln.get_label() for ln in ax.lines[1:]] == methods
    for ln in ax.lines[1:]:
        sub = cov[cov["method"] == ln.get_label()].sort_values("nominal")
        np.testing.assert_allclose(ln.get_xdata(), sub["nominal"])
        np.testing.assert_allclose(ln.get_ydata(), sub["empirical"])
    colours = [to_hex(ln.get_color()).upper() for ln in ax.lines[1:]]
    assert len(set(colours)) == 3 and set(colours) <= {c.upper() for c in OKABE_ITO}
    assert ax.get_xlim() == (0, 1)


# ----------------------------------------------------------- plot_diagnostics
def test_plot_diagnostics_rank_plots(fake_fit):
    fit = fake_fit
    fig, axes = plot_diagnostics(fit)
    assert isinstance(fig, Figure)
    assert isinstance(axes, np.ndarray) and all(a.figure is fig for a in axes)
    post = fit.posterior["posterior"]
    chains = post.sizes["chain"]
    drawn = [a for a in axes if len(a.lines) >= chains]
    # the law's own parameters of the fit's domain, then its scalar hyper-parameters (the sampling coordinates tN,
    # tD, s, a meant nothing to a reader: a fresh user's figure review)
    scalars = [v for v in fit.trace_variables() if v in post and post[v].dims == ("chain", "draw")]
    assert [a.get_title().split("\n")[0] for a in drawn] == ["A", "B", "E", "alpha", "beta", *scalars]
    assert all(a.get_title().split("\n")[1] == fit.domains[0] for a in drawn[:5])
    assert _overlapping_titles(fig) == []


def _overlapping_titles(fig) -> list[tuple[str, str]]:
    """(title, tick label) pairs of different panels whose boxes overlap once drawn."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    clashes = []
    for a in fig.axes:
        titles = [t for t in (a.title, a._left_title, a._right_title) if t.get_text()]
        for b in fig.axes:
            if b is a:
                continue
            labels = [t for t in b.get_xticklabels() + b.get_yticklabels() if t.get_text() and t.get_visible()]
            for t in titles:
                box = t.get_window_extent(renderer)
                clashes += [(t.get_text(), lab.get_text()) for lab in labels if box.overlaps(lab.get_window_extent(renderer))]
    return clashes


def test_plot_diagnostics_kinds(fake_fit):
    fit = fake_fit
    fig, axes = plot_diagnostics(fit, kind="trace", var_names=["theta_pop"])
    assert isinstance(fig, Figure) and len(axes) >= 1
    assert sum(len(a.lines) for a in axes) >= fit.posterior["posterior"].sizes["chain"] * len(fit.law.theta_names)
    fig, axes = plot_diagnostics(fit, kind="energy")
    assert isinstance(fig, Figure) and len(axes) >= 1
    chains = [a for a in axes if a.get_ylabel().lower() == "chain"]
    assert len(chains) == 1
    fig.canvas.draw()
    ticks = [t for t in chains[0].get_yticks() if chains[0].get_ylim()[0] <= t <= chains[0].get_ylim()[1]]
    assert ticks and all(float(t).is_integer() for t in ticks), ticks  # chains are counted, not 0.5 of one
    with pytest.raises(ValueError, match="kind must be"):
        plot_diagnostics(fit, kind="pairs")


# ------------------------------------------------------------------ ax=
def _draws_into_given_axes(call):
    fig, (other, target) = plt.subplots(1, 2)
    got_fig, got_ax = call(target)
    assert got_ax is target and got_fig is fig
    assert not other.lines and not other.collections
    assert target.lines or target.collections


@pytest.mark.parametrize("which", ["fit", "frontier", "forecast"])
def test_ax_is_honoured_by_fit_figures(fake_fit, which):
    fit = fake_fit
    calls = {
        "fit": lambda ax: plot_fit(fit, "params", tokens_per_param=20.0, ax=ax),
        "frontier": lambda ax: plot_frontier(fit, [1e20, 1e21, 1e22], ax=ax),
        "forecast": lambda ax: plot_forecast(fit, {"params": 1e10, "tokens": 2e11}, threshold=2.0, ax=ax),
    }
    _draws_into_given_axes(calls[which])


def test_ax_is_honoured_by_calibration():
    _draws_into_given_axes(lambda ax: plot_calibration(_coverage(), ax=ax))


def test_ax_is_honoured_by_departures():
    fig, axes = plt.subplots(2, 2)
    got_fig, got = plot_departures(_departures_table(["a", "b"]), ax=axes)
    assert got_fig is fig
    assert list(got) == list(axes.ravel())
    assert all(len(a.collections) == 1 for a in axes.ravel())


def test_ax_is_honoured_by_parameters(fake_fit):
    fit = fake_fit
    fig, axes = plt.subplots(5, 1)
    got_fig, got = plot_parameters(fit, ax=axes)
    assert got_fig is fig and list(got) == list(axes)
    assert all(len(a.lines) == 5 for a in axes)  # prior and posterior: line and median marker; published value
    assert axes[0].get_legend() is not None and not fig.legends
    with pytest.raises(ValueError, match="one Axes per parameter"):
        plot_parameters(fit, ax=axes[:3])


def test_plot_fit_along_flops_with_a_discrepancy_term_bands_equal_frontier(fake_gp_fit):
    """Along C the curve is L_opt(C): the band is the frontier's loss_opt band, discrepancy term included."""
    fit = fake_gp_fit
    fig, ax = plot_fit(fit, probs=(0.5, 0.9))
    for p in (0.5, 0.9):
        x, lo, hi = bands(ax)[f"{p:.0%} band (expected loss)"]
        np.testing.assert_allclose([x[0], x[-1]], [fit.runs["flops"].min() / 2, fit.runs["flops"].max() * 10], rtol=1e-12)
        fr = fit.frontier(x, prob=p)
        np.testing.assert_allclose(lo, fr["loss_opt_lower"], rtol=RTOL)
        np.testing.assert_allclose(hi, fr["loss_opt_upper"], rtol=RTOL)
    (median,) = ax.lines
    assert median.get_label() == "posterior median compute-optimal L(C)"
    assert len(fig.axes) == 2 and fig.axes[1].get_ylabel() == "tokens per parameter (D/N)"


def test_plot_fit_of_one_domain_of_a_hierarchy(fake_hier_fit):
    _, ax = plot_fit(fake_hier_fit, "params", domain="code", tokens_per_param=20.0)
    (sc,) = scatters(ax)
    assert len(sc.get_offsets()) == int((fake_hier_fit.runs["domain"] == "code").sum())
    assert ax.get_title() == "Loss vs parameters: code"  # issue 14: not "chinchilla law fit: chinchilla"


def test_the_frontier_figure_does_not_warn_about_its_own_grid(fake_fit):
    # the report's frontier figure reaches 1.5x its table's largest budget: a fresh 3-domain fit warned about a
    # budget 1355x beyond the runs that nobody had asked for; a user's far budget still warns (test_decisions)
    import warnings

    from bayes_scaling.plots import plot_frontier
    from bayes_scaling.predict import ExtrapolationWarning

    c = 6 * fake_fit.runs["params"] * fake_fit.runs["tokens"]
    with warnings.catch_warnings():
        warnings.simplefilter("error", ExtrapolationWarning)
        fig, _ = plot_frontier(fake_fit, np.geomspace(float(c.min()), float(c.max()) * 1e4, 20))
    assert len(fig.axes[0].lines) >= 2
    with pytest.warns(ExtrapolationWarning, match="1 budget\\(s\\) lie more than 1000x above"):
        fake_fit.frontier([float(c.max()) * 1e4])


def test_one_domain_figures_of_several_domains_ask_for_the_figures_domain(fake_hier_fit):
    # plot_fit without domain= said "say which one: a 'domain' column in the targets ... expand_targets", words for
    # predict that a figure has no use for (a fresh user)
    with pytest.raises(RunsTableError) as e:
        plot_fit(fake_hier_fit, "params")
    assert str(e.value) == ("this fit has several domains; say which one the figure is for with domain=NAME. Known "
                            "domains: books, code, web. plot_domains(fit) draws every domain in one figure.")
    with pytest.raises(RunsTableError, match=r"^this fit has several domains; say which one the figure is for"):
        plot_parameters(fake_hier_fit)
    assert fake_hier_fit.domain_for("figure", "code") == "code"
    plt.close("all")


def test_parameters_and_frontier_figures_name_their_domain_next_to_other_domains(fake_fit, fake_hier_fit):
    # next to the Chinchilla reference, parameters.png and frontier.png did not say whose they were (a fresh user)
    import dataclasses

    from bayes_scaling.plots import plot_frontier, plot_parameters

    with_ref = dataclasses.replace(fake_hier_fit, reference_domains=["books"])
    fig, axes = plot_parameters(with_ref, domain="code")
    assert axes[0].get_title(loc="right") == "code"
    fig2, ax = plot_frontier(with_ref, [1e21, 1e22], domain="code")
    assert ax.get_title() == "compute-optimal allocation (C = 6ND): code"
    fig3, axes1 = plot_parameters(fake_fit)  # one domain: nothing to tell apart
    fig4, ax1 = plot_frontier(fake_fit, [1e21, 1e22])
    assert axes1[0].get_title(loc="right") == "" and ax1.get_title() == "compute-optimal allocation (C = 6ND)"
    for f in (fig, fig2, fig3, fig4):
        plt.close(f)


def test_domains_figure_says_how_many_domains_it_left_out(fake_hier_fit):
    """4 of a fit's 28 recipes were left out of plot_domains' figure without a word (a fresh user)."""
    from bayes_scaling.plots import plot_domains

    fig, axes = plot_domains(fake_hier_fit, max_panels=2)
    assert len(axes) == 2
    assert fig.get_suptitle() == "the first 2 of 3 domains (1 not drawn: pass domains= to choose, or max_panels=)"
    fig, axes = plot_domains(fake_hier_fit)
    assert len(axes) == 3 and fig.get_suptitle() == ""
    plt.close("all")


def test_domains_figure_has_one_colour_scale_with_its_colour_bar(fake_hier_fit):
    """The runs' colours had no key, and each panel scaled them to its own runs (a fresh user's eight recipes)."""
    from bayes_scaling.plots import plot_domains

    fig, axes = plot_domains(fake_hier_fit)
    runs = fake_hier_fit.runs
    tpp = runs["tokens"] / runs["params"]
    norms = {(a.collections[-1].norm.vmin, a.collections[-1].norm.vmax) for a in axes}
    assert len(norms) == 1
    lo, hi = norms.pop()
    assert (lo, hi) in ((pytest.approx(tpp.min()), pytest.approx(tpp.max())),
                        (pytest.approx(tpp.min() / 1.5), pytest.approx(tpp.max() * 1.5)))
    bars = [a for a in fig.axes if a not in list(axes)]
    assert len(bars) == 1 and bars[0].get_ylabel() == "tokens per parameter (D/N)"
    plt.close(fig)
