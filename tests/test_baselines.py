"""Baselines: Huber least squares (Hoffmann 2022 / Besiroglu 2024), its bootstrap, the published law."""

from __future__ import annotations

import warnings

import joblib
import numpy as np
import pandas as pd
import pytest

import bayes_scaling as bs
from bayes_scaling.baselines import (
    HuberLeastSquares,
    PublishedLaw,
    PublishedLawOffset,
    hoffmann_grid,
    huber_objective,
    log_loss_lse,
)
from bayes_scaling.baselines.huber import DEFAULT_GRID_STRIDE, grid_axes, law_grid, law_objective
from bayes_scaling.laws import LAWS, chinchilla_loss, data_constrained_loss, kaplan_loss
from bayes_scaling.priors import besiroglu2024_covariance

# Besiroglu et al. (2024), notebook cells 24-25 and 54: MLE and bootstrap SEs.
BESIROGLU = {"A": 482.006, "B": 2085.434, "E": 1.81686, "alpha": 0.34781, "beta": 0.36585}
BESIROGLU_SE = {"A": 124.522, "B": 1293.284, "E": 0.02566, "alpha": 0.01540, "beta": 0.02060}


@pytest.fixture(scope="module")
def besiroglu_runs():
    """The 240 Chinchilla runs left after dropping the 5 highest-loss points (Besiroglu et al. 2024)."""
    df = bs.datasets.load_chinchilla()
    return df.drop(df["loss"].nlargest(5).index)


@pytest.fixture(scope="module")
def huber_fit(besiroglu_runs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bs.RunsTableWarning)
        return HuberLeastSquares().fit(besiroglu_runs)  # default: every 7th start of the grid


@pytest.fixture(scope="module")
def huber_boot(huber_fit):
    return huber_fit.bootstrap(n_boot=60, random_seed=3)


def _synthetic(theta, n_sizes=5, noise=0.0, seed=0, domain="synthetic"):
    rng = np.random.default_rng(seed)
    n = np.repeat(np.geomspace(5e7, 5e9, n_sizes), 4)
    d = n * np.tile([5, 20, 60, 200], n_sizes)
    loss = np.exp(log_loss_lse(theta, np.log(n), np.log(d))) * np.exp(rng.normal(0, noise, n.size))
    return pd.DataFrame({"params": n, "tokens": d, "loss": loss, "domain": domain})


# ---------------------------------------------------------------- the law and objective


def test_log_loss_lse_equals_linear_chinchilla_law():
    n, d = np.array([1e8, 7e10]), np.array([2e9, 1.4e12])
    th = np.array([np.log(406.4), np.log(410.7), np.log(1.69), 0.34, 0.28])
    np.testing.assert_allclose(
        np.exp(log_loss_lse(th, np.log(n), np.log(d))),
        chinchilla_loss(n, d, E=1.69, A=406.4, B=410.7, alpha=0.34, beta=0.28),
        rtol=1e-12,
    )


def test_huber_objective_value_and_gradient():
    rng = np.random.default_rng(1)
    ln, ld = rng.uniform(18, 23, 40), rng.uniform(20, 26, 40)
    th = np.array([6.0, 7.0, 0.5, 0.33, 0.36])
    y = log_loss_lse(th, ln, ld) + rng.normal(0, 2e-3, 40)  # residuals on both sides of delta
    f, g = huber_objective(th, ln, ld, y, 1e-3)
    r = log_loss_lse(th, ln, ld) - y
    expect = np.where(np.abs(r) <= 1e-3, 0.5 * r**2, 1e-3 * (np.abs(r) - 0.5e-3)).sum()
    assert f == pytest.approx(expect, rel=1e-12)
    num = np.array([(huber_objective(th + h, ln, ld, y)[0] - huber_objective(th - h, ln, ld, y)[0]) / 2e-7
                    for h in np.eye(5) * 1e-7])
    np.testing.assert_allclose(g, num, rtol=1e-4, atol=1e-9)


def test_hoffmann_grid_and_subsample_cover_every_axis_value():
    full = hoffmann_grid(1)
    assert full.shape == (4500, 5)
    sub = hoffmann_grid(7)
    assert sub.shape == (643, 5)
    for j in range(5):
        assert set(np.unique(sub[:, j])) == set(np.unique(full[:, j]))
    with pytest.raises(ValueError, match="positive integer"):
        hoffmann_grid(0)


# ---------------------------------------------------------------- Besiroglu reproduction


def test_huber_ls_reproduces_besiroglu_estimates(huber_fit):
    p = huber_fit.parameters().iloc[0]
    assert p["n_runs"] == 240
    # within a tenth of a bootstrap standard error of every published estimate
    for k, v in BESIROGLU.items():
        assert abs(p[k] - v) < 0.1 * BESIROGLU_SE[k], (k, p[k], v)
    # tighter, in the units people quote
    assert p["A"] == pytest.approx(482.0, rel=0.02)
    assert p["B"] == pytest.approx(2085.4, rel=0.05)
    assert p["E"] == pytest.approx(1.817235, abs=2e-4)  # notebook cell 18, plain Huber minimisation
    assert p["alpha"] == pytest.approx(0.3478, abs=2e-3)
    assert p["beta"] == pytest.approx(0.3658, abs=2e-3)
    # our minimiser is at least as good as the published one on the same objective
    cov = besiroglu2024_covariance()
    pub = np.array(cov["point_estimate_MLE_log"])  # (logA, logB, logE, alpha, beta) = (a, b, e, alpha, beta)
    f = huber_fit.fits["chinchilla"]
    assert p["objective"] <= huber_objective(pub, f.log_n, f.log_d, f.log_loss)[0]


def test_bootstrap_standard_errors_match_besiroglu(huber_boot):
    par = huber_boot.parameters(0.95).set_index("parameter")
    assert (par["n_boot"] == 60).all()
    for k in ("E", "alpha", "beta", "A"):
        assert par.loc[k, "se"] == pytest.approx(BESIROGLU_SE[k], rel=0.3), k
    assert (par["lower"] < par["estimate"]).all() and (par["estimate"] < par["upper"]).all()


def test_bootstrap_intervals_contain_point_and_widen_with_prob(huber_fit, huber_boot):
    targets = pd.DataFrame({"params": [1e9, 7e10, 1e12], "tokens": [2e10, 1.4e12, 2e13]})
    point = np.exp(log_loss_lse(huber_fit.fits["chinchilla"].theta, np.log(targets["params"]), np.log(targets["tokens"])))
    widths = []
    for prob in (0.5, 0.8, 0.95):
        out = huber_boot.predict(targets, prob)
        for c in ("loss_median", "loss_lower", "loss_upper", "mean_loss_lower", "mean_loss_upper"):
            assert out[c].notna().all()
        assert (out["loss_lower"] < point).all() and (point < out["loss_upper"]).all()
        assert (out["mean_loss_lower"] <= point).all() and (point <= out["mean_loss_upper"]).all()
        # the new-run interval includes the residual noise, so it is wider than the law's
        assert ((out["loss_upper"] - out["loss_lower"]) > (out["mean_loss_upper"] - out["mean_loss_lower"])).all()
        widths.append((out["loss_upper"] - out["loss_lower"]).to_numpy())
    assert (widths[0] < widths[1]).all() and (widths[1] < widths[2]).all()
    # extrapolating further widens the law's interval
    out = huber_boot.predict(targets, 0.9)
    rel = (out["mean_loss_upper"] - out["mean_loss_lower"]) / out["mean_loss_median"]
    assert rel.iloc[0] < rel.iloc[1] < rel.iloc[2]


def test_plug_in_intervals_use_residual_quantiles(huber_fit):
    t = pd.DataFrame({"params": [7e10], "tokens": [1.4e12]})
    out = huber_fit.predict(t, 0.9)
    f = huber_fit.fits["chinchilla"]
    point = log_loss_lse(f.theta, np.log([7e10]), np.log([1.4e12]))[0]
    lo, hi = np.quantile(f.residuals, [0.05, 0.95])
    assert out["loss_lower"].iloc[0] == pytest.approx(np.exp(point + lo), rel=1e-12)
    assert out["loss_upper"].iloc[0] == pytest.approx(np.exp(point + hi), rel=1e-12)
    assert out["mean_loss_median"].iloc[0] == pytest.approx(np.exp(point), rel=1e-12)


def test_bootstrap_is_deterministic_and_independent_of_workers():
    runs = _synthetic(np.array([6.2, 7.6, 0.6, 0.35, 0.37]), noise=0.005, seed=4)
    fit = HuberLeastSquares(grid_stride=31).fit(runs)
    a = fit.bootstrap(n_boot=30, random_seed=5, n_jobs=1)
    with joblib.parallel_config(backend="threading"):  # other workers, other chunk order (loky: test_backtest)
        b = fit.bootstrap(n_boot=30, random_seed=5, n_jobs=2)
    c = fit.bootstrap(n_boot=30, random_seed=6, n_jobs=1)
    np.testing.assert_array_equal(a.theta["synthetic"], b.theta["synthetic"])
    assert not np.array_equal(a.theta["synthetic"], c.theta["synthetic"])
    t = pd.DataFrame({"params": [2e10], "tokens": [4e11]})
    pd.testing.assert_frame_equal(a.predict(t), b.predict(t))
    with pytest.raises(ValueError, match="n_boot"):
        fit.bootstrap(n_boot=1)


# ---------------------------------------------------------------- per-domain fits


def test_per_domain_fits_recover_each_domain_and_pooled_fit_forecasts_any_domain():
    th1 = np.array([np.log(480.0), np.log(2000.0), np.log(1.8), 0.35, 0.37])
    th2 = np.array([np.log(300.0), np.log(900.0), np.log(2.4), 0.30, 0.32])
    runs = pd.concat([_synthetic(th1, domain="one"), _synthetic(th2, domain="two")], ignore_index=True)
    fit = HuberLeastSquares(grid_stride=31).fit(runs)
    par = fit.parameters().set_index("domain")
    assert list(par.index) == ["one", "two"]
    for dom, th in (("one", th1), ("two", th2)):
        assert par.loc[dom, "E"] == pytest.approx(np.exp(th[2]), rel=1e-3)
        assert par.loc[dom, "alpha"] == pytest.approx(th[3], abs=1e-3)
        assert par.loc[dom, "beta"] == pytest.approx(th[4], abs=1e-3)
    t = pd.DataFrame({"params": [1e10, 1e10], "tokens": [2e11, 2e11], "domain": ["one", "two"]})
    out = fit.predict(t)
    expect = np.exp([log_loss_lse(th, np.log(1e10), np.log(2e11))[0] for th in (th1, th2)])
    np.testing.assert_allclose(out["mean_loss_median"], expect, rtol=1e-4)
    with pytest.raises(bs.RunsTableError, match="no fit for domain 'three'"):
        fit.predict(t.assign(domain="three"))
    with pytest.raises(bs.RunsTableError, match="several domains"):
        fit.predict(t.drop(columns="domain"))
    pooled = HuberLeastSquares(grid_stride=31, per_domain=False).fit(runs)
    assert pooled.parameters()["n_runs"].tolist() == [len(runs)]
    assert pooled.predict(t.assign(domain="three"))["loss_median"].notna().all()


def test_huber_warns_and_gives_no_interval_for_underdetermined_domain():
    runs = _synthetic(np.array([6.2, 7.6, 0.6, 0.35, 0.37]), n_sizes=1)  # 4 runs, 5 parameters
    runs = pd.concat([runs, _synthetic(np.array([6.2, 7.6, 0.6, 0.35, 0.37]), domain="big")], ignore_index=True)
    with pytest.warns(UserWarning, match="4 runs for 5 parameters"):
        fit = HuberLeastSquares(grid_stride=31).fit(runs)
    out = fit.predict(pd.DataFrame({"params": [1e10, 1e10], "tokens": [2e11, 2e11], "domain": ["synthetic", "big"]}))
    assert out["loss_median"].notna().all()
    assert np.isnan(out.loc[0, "loss_lower"]) and np.isfinite(out.loc[1, "loss_lower"])
    boot = fit.bootstrap(n_boot=10)
    assert boot.theta["synthetic"].shape == (0, 5) and boot.theta["big"].shape == (10, 5)
    bout = boot.predict(out[["params", "tokens", "domain"]])
    assert np.isnan(bout.loc[0, "loss_lower"]) and np.isfinite(bout.loc[1, "loss_lower"])
    assert boot.parameters().query("domain == 'synthetic'")["se"].isna().all()


def test_huber_validates_runs():
    with pytest.raises(bs.RunsTableError, match="no column 'loss'"):
        HuberLeastSquares().fit(pd.DataFrame({"params": [1e8, 1e9], "tokens": [1e9, 1e10]}))
    with pytest.raises(ValueError, match="delta"):
        HuberLeastSquares(delta=0)


# ---------------------------------------------------------------- other laws than Chinchilla

# Muennighoff et al. (2023), datablations README "Parametric Fit".
MUENNIGHOFF = {"E": np.exp(0.6254804), "A": np.exp(6.255414), "B": np.exp(7.3049974), "alpha": 0.3526596,
               "beta": 0.3526596, "rd_star": 15.387756, "rn_star": 5.309743}


def _repeated_data_runs(noise=0.0, seed=0):
    """30 runs of the data-constrained law: N 1e8..3e9, U = 1e9 or 4e9 unique tokens seen for 1, 4 or 16 epochs.

    N_opt(U) is 5e7 (U = 1e9) and 2e8 (U = 4e9), so most runs also have excess parameters (R_N* matters).
    """
    rng = np.random.default_rng(seed)
    n = np.repeat(np.geomspace(1e8, 3e9, 5), 6)
    u = np.tile(np.repeat([1e9, 4e9], 3), 5)
    d = u * np.tile([1.0, 4.0, 16.0], 10)
    loss = data_constrained_loss(n, d, u, **MUENNIGHOFF) * np.exp(rng.normal(0, noise, n.size))
    return pd.DataFrame({"params": n, "tokens": d, "unique_tokens": u, "loss": loss})


def test_law_grids_are_hoffmanns_axes_and_cover_every_axis_value():
    np.testing.assert_array_equal(law_grid("chinchilla", 7), hoffmann_grid(7))
    np.testing.assert_array_equal(law_grid("chinchilla"), hoffmann_grid(7))
    full = {"chinchilla": 4500, "data_constrained": 40_500, "kaplan": 625, "power_params": 150, "power_tokens": 150,
            "power_flops": 150}
    for name, law in LAWS.items():
        axes = grid_axes(name)
        assert tuple(axes) == law.catalog_names
        assert law_grid(name, 1).shape == (full[name], len(law.catalog_names))
        sub = law_grid(name)
        assert sub.shape[0] == -(-full[name] // DEFAULT_GRID_STRIDE[name])
        for j, values in enumerate(axes.values()):  # the default stride visits every value of every axis
            assert set(np.unique(sub[:, j])) == set(values), (name, j)
    assert law_grid("data_constrained").shape == (664, 7)
    np.testing.assert_allclose(grid_axes("data_constrained")["logRD"], np.log([5, 15, 50]))
    np.testing.assert_allclose(np.exp(grid_axes("kaplan")["logNc"][2]), 6.4e13)
    with pytest.raises(ValueError, match="positive integer"):
        law_grid("kaplan", 0)
    with pytest.raises(ValueError, match=r"^unknown law 'chinchila'; did you mean 'chinchilla'\? Choose one of: "):
        HuberLeastSquares(law="chinchila")


def test_law_objective_equals_the_analytic_chinchilla_objective():
    rng = np.random.default_rng(1)
    runs = pd.DataFrame({"params": np.exp(rng.uniform(18, 23, 40)), "tokens": np.exp(rng.uniform(20, 26, 40))})
    th = np.array([6.0, 7.0, 0.5, 0.33, 0.36])
    ln, ld = np.log(runs["params"].to_numpy()), np.log(runs["tokens"].to_numpy())
    y = log_loss_lse(th, ln, ld) + rng.normal(0, 2e-3, 40)
    law = LAWS["chinchilla"]
    ref = law.reference(runs)
    f, g = law_objective(th, law, law.inputs(runs, ref), y, ref)
    f0, g0 = huber_objective(th, ln, ld, y)
    assert f == pytest.approx(f0, rel=1e-10)
    np.testing.assert_allclose(g, g0, rtol=1e-6, atol=1e-10)  # central differences of the law


def test_data_constrained_huber_recovers_published_parameters_from_repeated_data():
    runs = _repeated_data_runs()
    fit = HuberLeastSquares(law="data_constrained", grid_stride=1013).fit(runs)  # 40 starts keep the test fast
    p = fit.parameters().iloc[0]
    assert p["n_starts"] == 40 and p["n_converged"] >= 30
    truth = {"E": MUENNIGHOFF["E"], "A": MUENNIGHOFF["A"], "B": MUENNIGHOFF["B"], "RD_star": MUENNIGHOFF["rd_star"],
             "RN_star": MUENNIGHOFF["rn_star"]}
    for k, v in truth.items():
        assert p[k] == pytest.approx(v, rel=1e-3), k
    assert p["alpha"] == pytest.approx(0.3526596, abs=1e-4) and p["beta"] == pytest.approx(0.3526596, abs=1e-4)
    # forecast far beyond the runs: 4x the largest model, 40 epochs of 25B unique tokens (README worked example scale)
    t = pd.DataFrame({"params": [1.2e10, 6.34e9], "tokens": [1e12, 242e9], "unique_tokens": [25e9, 25e9]})
    out = fit.predict(t)
    np.testing.assert_allclose(out["mean_loss_median"], data_constrained_loss(t["params"], t["tokens"],
                                                                              t["unique_tokens"], **MUENNIGHOFF),
                               rtol=1e-4)
    assert out["mean_loss_median"].iloc[1] == pytest.approx(2.2256, abs=1e-4)  # README: 2.2256
    with pytest.raises(bs.RunsTableError, match="needs column\\(s\\) 'unique_tokens'"):
        fit.predict(t.drop(columns="unique_tokens"))
    with pytest.raises(bs.RunsTableError, match="needs column\\(s\\) 'unique_tokens'"):
        HuberLeastSquares(law="data_constrained").fit(runs.drop(columns="unique_tokens"))


def test_kaplan_and_power_law_huber_recover_parameters():
    n = np.repeat(np.geomspace(1e7, 3e9, 6), 4)
    d = n * np.tile([5, 20, 60, 200], 6)
    runs = pd.DataFrame({"params": n, "tokens": d, "loss": kaplan_loss(n, d, 6.4e13, 1.8e13, 0.076, 0.103)})
    p = HuberLeastSquares(law="kaplan", grid_stride=7).fit(runs).parameters().iloc[0]  # 90 of the 625 starts
    assert p["n_starts"] == 90
    assert p["Nc"] == pytest.approx(6.4e13, rel=1e-3) and p["Dc"] == pytest.approx(1.8e13, rel=1e-3)
    assert p["alpha_N"] == pytest.approx(0.076, abs=1e-5) and p["alpha_D"] == pytest.approx(0.103, abs=1e-5)

    rng = np.random.default_rng(3)
    n = np.geomspace(1e7, 3e9, 12)
    pw = pd.DataFrame({"params": n, "tokens": 1e11, "loss": (1.7 + 400 * n**-0.34) * np.exp(rng.normal(0, 0.003, 12))})
    fit = HuberLeastSquares(law="power_params").fit(pw)
    p = fit.parameters().iloc[0]
    assert p["n_starts"] == 150
    assert p["E"] == pytest.approx(1.7, rel=0.03) and p["alpha"] == pytest.approx(0.34, abs=0.03)
    # targets need only N; the interval is the law plus the in-sample residuals, as for the Chinchilla law
    out = fit.predict(pd.DataFrame({"params": [1e10]}), 0.9)
    f = fit.fits["default"]
    point = np.log(p["E"] + p["A"] * 1e10 ** -p["alpha"])
    lo, hi = np.quantile(f.residuals, [0.05, 0.95])
    assert out["mean_loss_median"].iloc[0] == pytest.approx(np.exp(point), rel=1e-10)
    assert out["loss_lower"].iloc[0] == pytest.approx(np.exp(point + lo), rel=1e-10)
    assert out["loss_upper"].iloc[0] == pytest.approx(np.exp(point + hi), rel=1e-10)


def test_generic_law_fit_and_bootstrap_are_deterministic():
    runs = _repeated_data_runs(noise=0.003, seed=5)
    cfg = HuberLeastSquares(law="data_constrained", grid_stride=2027)  # 20 starts
    a, b = cfg.fit(runs), cfg.fit(runs)
    np.testing.assert_array_equal(a.fits["default"].theta, b.fits["default"].theta)
    ba = a.bootstrap(n_boot=12, random_seed=1)
    with joblib.parallel_config(backend="threading"):
        bb = b.bootstrap(n_boot=12, random_seed=1, n_jobs=2)
    np.testing.assert_array_equal(ba.theta["default"], bb.theta["default"])
    assert ba.theta["default"].shape == (12, 7)
    t = pd.DataFrame({"params": [6e9], "tokens": [1e11], "unique_tokens": [1e10]})
    pa, pb = ba.predict(t), bb.predict(t)
    pd.testing.assert_frame_equal(pa, pb)
    assert pa["loss_lower"].iloc[0] < pa["mean_loss_median"].iloc[0] < pa["loss_upper"].iloc[0]
    par = ba.parameters().set_index("parameter")
    assert set(par.index) == {"A", "B", "E", "alpha", "beta", "RD_star", "RN_star"}
    assert (par["se"] > 0).all() and (par["n_boot"] == 12).all()


# ---------------------------------------------------------------- published law


def test_published_law_is_the_besiroglu_law_with_nan_intervals():
    t = pd.DataFrame({"params": [7e10, 1e9], "tokens": [1.4e12, 2e10]})
    out = PublishedLaw().fit().predict(t)
    cov = besiroglu2024_covariance()
    la, lb, le, al, be = cov["point_estimate_MLE_log"]
    expect = chinchilla_loss(t["params"], t["tokens"], E=np.exp(le), A=np.exp(la), B=np.exp(lb), alpha=al, beta=be)
    np.testing.assert_allclose(out["loss_median"], expect, rtol=1e-12)
    assert out["loss_lower"].isna().all() and out["loss_upper"].isna().all()
    par = PublishedLaw().fit().parameters()
    assert par.empty  # no runs, no domains
    hoff = PublishedLaw(source="hoffmann2022").fit().predict(t)
    assert hoff["loss_median"].iloc[0] == pytest.approx(
        chinchilla_loss(7e10, 1.4e12, E=1.6934, A=406.4, B=410.7, alpha=0.33917084, beta=0.2849083), rel=1e-4)
    with pytest.raises(ValueError):
        PublishedLaw(source="kaplan2020")


def test_published_law_parameter_uncertainty_option():
    t = pd.DataFrame({"params": [7e10], "tokens": [1.4e12]})
    out = PublishedLaw(uncertainty="parameters", random_seed=1).fit().predict(t, 0.9)
    assert out["loss_lower"].iloc[0] < out["loss_median"].iloc[0] < out["loss_upper"].iloc[0]
    assert out["loss_upper"].iloc[0] / out["loss_lower"].iloc[0] < 1.05


@pytest.mark.filterwarnings("ignore:3 runs cannot determine the 5 parameters")
def test_published_data_constrained_law_is_muennighoff_fit_at_the_runs_unique_tokens():
    # Muennighoff et al. (2023), datablations README 'Parametric Fit': a, b, e, alpha, beta, R_D*, R_N*
    dc = {"E": np.exp(0.6254804), "A": np.exp(6.255414), "B": np.exp(7.3049974), "alpha": 0.3526596,
          "beta": 0.3526596, "rd_star": 15.387756, "rn_star": 5.309743}
    t = pd.DataFrame({"params": [2.8e9, 2.8e9, 1e8], "tokens": [5.5e10, 5.5e10, 4e9],
                      "unique_tokens": [5.5e10, 1.1e9, 1e8]})
    fit = PublishedLaw(law="data_constrained").fit()
    assert fit.config.source == "muennighoff2023"
    out = fit.predict(t)
    expect = data_constrained_loss(t["params"], t["tokens"], t["unique_tokens"], **dc)
    np.testing.assert_allclose(out["loss_median"], expect, rtol=1e-10)
    assert out["loss_median"].iloc[1] > out["loss_median"].iloc[0] + 0.05  # 50 epochs lose to one
    # one epoch: the Chinchilla law at Muennighoff's A, B, E, alpha, beta
    assert out["loss_median"].iloc[0] == pytest.approx(
        chinchilla_loss(2.8e9, 5.5e10, E=dc["E"], A=dc["A"], B=dc["B"], alpha=dc["alpha"], beta=dc["beta"]), rel=1e-9)
    par = PublishedLawOffset(law="data_constrained").fit(t.assign(loss=expect * 1.05)).parameters()
    assert par["offset"].iloc[0] == pytest.approx(np.log(1.05), abs=1e-12)
    assert par["R_D*"].iloc[0] == pytest.approx(15.387756, rel=1e-6)
    with pytest.raises(bs.RunsTableError) as err:
        fit.predict(t.drop(columns="unique_tokens"))
    assert str(err.value) == ("the published data-constrained baseline needs the column 'unique_tokens' (U, the "
                              "unique tokens of each run's training data; U = tokens for one epoch).")
    with pytest.raises(ValueError) as err:
        PublishedLaw(law="kaplan")
    assert str(err.value) == ("no published baseline for the kaplan law; the published baselines are the chinchilla "
                              "and data_constrained laws.")


@pytest.mark.filterwarnings("ignore:domain\\(s\\) 'single' have a single run")
def test_published_offset_recovers_offset_and_t_interval():
    cov = besiroglu2024_covariance()
    th = np.array(cov["point_estimate_MLE_log"])
    rng = np.random.default_rng(2)
    a = _synthetic(th, n_sizes=2, domain="shifted")  # 8 runs
    noise = rng.normal(0, 0.01, len(a))
    a["loss"] = a["loss"] * np.exp(0.1 + noise)
    single = _synthetic(th, n_sizes=1, domain="single").iloc[:1]
    fit = PublishedLawOffset().fit(pd.concat([a, single], ignore_index=True))
    par = fit.parameters().set_index("domain")
    assert par.loc["shifted", "offset"] == pytest.approx(0.1 + np.median(noise), abs=1e-12)
    assert par.loc["shifted", "scale"] == pytest.approx(np.std(noise, ddof=1), rel=1e-9)
    t = pd.DataFrame({"params": [1e10], "tokens": [2e11], "domain": ["shifted"]})
    out = fit.predict(t, 0.9)
    from scipy import stats

    centre = log_loss_lse(th, np.log([1e10]), np.log([2e11]))[0] + par.loc["shifted", "offset"]
    half = stats.t.ppf(0.95, df=7) * par.loc["shifted", "scale"] * np.sqrt(1 + 1 / 8)
    assert out["loss_median"].iloc[0] == pytest.approx(np.exp(centre), rel=1e-6)
    assert out["loss_lower"].iloc[0] == pytest.approx(np.exp(centre - half), rel=1e-4)
    assert out["loss_upper"].iloc[0] == pytest.approx(np.exp(centre + half), rel=1e-4)
    one = fit.predict(t.assign(domain="single"), 0.9)
    assert np.isfinite(one["loss_median"].iloc[0]) and np.isnan(one["loss_lower"].iloc[0])
    with pytest.raises(bs.RunsTableError, match="no fit for domain"):
        fit.predict(t.assign(domain="other"))
    with pytest.raises(bs.RunsTableError):
        PublishedLawOffset().fit(None)
