"""bayes_scaling.posterior: the fitted posterior's accessors, summaries, published values, to_dict/from_dict
and save/load (the file format itself and its damage checks are test_io.py)."""

from __future__ import annotations

import dataclasses
import json
import warnings

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import bayes_scaling as bs
from bayes_scaling.model import SPARSE_NU, VARS
from bayes_scaling.posterior import ScalingFit

TARGETS = pd.DataFrame({"params": [3e9, 7e10], "tokens": [6e10, 1.4e12]})


# ----------------------------------------------------------------------------- accessors


def test_accessors_have_the_documented_shapes(fake_fit, fake_hier_fit, fake_gp_fit):
    s = fake_fit.n_draws
    assert s == 1000
    p = len(fake_fit.law.theta_names)
    assert fake_fit.theta("default").shape == (s, p)
    assert fake_fit.population_theta().shape == (s, p)
    np.testing.assert_array_equal(fake_fit.theta(None), fake_fit.population_theta())
    assert fake_fit.noise_scale("default").shape == (s,)
    assert fake_fit.noise_scales().shape == (s, 1)
    assert fake_fit.tail_weight("default").shape == (s,)
    assert (fake_fit.tail_weight("unseen") == SPARSE_NU).all()  # a new domain gets normal noise
    h = fake_hier_fit
    assert h.between_domain_spread().shape == (h.n_draws, len(h.spread_names))
    assert h.spread_names == ("ell", "uN", "uD", "ls", "la")  # the model's sampling coordinates
    assert h.noise_scales().shape == (h.n_draws, 3)
    m = fake_gp_fit.bases["default"].n_basis
    assert fake_gp_fit.discrepancy_coefficients("default").shape == (fake_gp_fit.n_draws, m)
    assert fake_gp_fit.discrepancy_scale().shape == (fake_gp_fit.n_draws,)


def test_the_draws_are_read_by_the_declared_names(fake_hier_fit):
    h = fake_hier_fit
    post = h.posterior["posterior"]
    np.testing.assert_array_equal(h.theta("code"), post[VARS.theta].sel({VARS.domain_dim: "code"}).values.reshape(-1, 5))
    np.testing.assert_array_equal(h.draws(VARS.population), h.population_theta())
    with pytest.raises(KeyError, match="the posterior has no variable 'nope'"):
        h.draws("nope")
    assert h.free_variables() == [VARS.z_pop, VARS.noise_centre, VARS.population]
    assert h.trace_variables() == [VARS.population, VARS.noise_centre]


def test_unknown_domain_and_default_domain_messages(fake_fit, fake_hier_fit):
    with pytest.raises(KeyError, match="unknown domain 'x'; known domains: default."):
        fake_fit.theta("x")
    assert fake_fit.default_domain == "default"
    # the CLI's advice (--domain NAME) was wrong here: without --domain the command line forecasts every domain
    msg = ("this fit has several domains; say which one: a 'domain' column in the targets, or domain=NAME. Known "
           "domains: books, code, web (any other name gives the forecast for a new, unseen domain). For every domain "
           "at once, as the command line does without --domain, pass the targets through "
           "bayes_scaling.workflow.expand_targets first.")
    with pytest.raises(bs.RunsTableError) as err:
        fake_hier_fit.default_domain
    assert str(err.value) == msg
    with pytest.raises(bs.RunsTableError) as err:  # the frontier has no targets table: no word of a column
        fake_hier_fit.frontier([1e21])
    assert str(err.value) == ("this fit has several domains; say which one the frontier is for with domain=NAME. "
                              "Known domains: books, code, web (any other name gives the frontier of a new, unseen "
                              "domain). For every domain at once, as the command line does without --domain, use "
                              "bayes_scaling.workflow.domain_frontiers.")
    from bayes_scaling.workflow import domain_frontiers, expand_targets

    fr, _ = domain_frontiers(fake_hier_fit, [1e21])  # what the message points to works
    assert {"books", "code", "web"} <= set(fr["domain"])
    pred = fake_hier_fit.predict(expand_targets(fake_hier_fit, pd.DataFrame({"params": [1e9], "tokens": [2e10]})))
    assert {"books", "code", "web"} <= set(pred["domain"])
    with pytest.raises(bs.RunsTableError, match="single domain and no hierarchy, so it has no between-domain spread"):
        fake_fit.between_domain_spread()


def test_new_domain_draws_spread_each_sampling_coordinate_and_keep_shared_ones(fake_hier_fit):
    """A new domain's coordinates are the population centre plus the fitted spread of each (0 = shared):
    with only the loss level spread, the new domain's loss at the centre of the runs (ell) has that
    sd while the E/term split, the exponents and the allocation stay at the centre."""
    s = 20000
    law = fake_hier_fit.law
    centre = np.array([1.0, -1.0, -1.2, np.log(0.35), 0.1])
    tau = np.array([0.3, 0.0, 0.0, 0.0, 0.0])
    post = xr.Dataset({
        VARS.population_z: (("chain", "draw", VARS.z_dim), np.tile(centre, (1, s, 1))),
        VARS.spread: (("chain", "draw", VARS.z_dim), np.tile(tau, (1, s, 1))),
        VARS.noise_centre: (("chain", "draw"), np.full((1, s), np.log(0.01))),
    })
    stub = dataclasses.replace(fake_hier_fit, posterior=xr.DataTree.from_dict({"posterior": post}))
    theta, sigma, nu = stub.new_domain_draws(np.random.default_rng(0))
    z = law.z_matrix(theta)
    assert z[:, 0].std() == pytest.approx(0.3, rel=0.03)
    np.testing.assert_allclose(z[:, 1:], np.tile(centre[1:], (s, 1)), atol=1e-9)
    th = dict(zip(law.theta_names, theta.T, strict=True))
    alpha, beta = law.exponents(th)
    assert (alpha > 0).all() and (beta > 0).all()  # positive by construction
    assert sigma.shape == (s,) and nu.shape == (s,)
    # the noise of a new domain: log-normal around exp(s_mu) with the fixed spread 0.5 (model.NOISE_SPREAD)
    assert np.log(sigma).std() == pytest.approx(0.5, rel=0.03)
    assert np.median(sigma) == pytest.approx(0.01, rel=0.03)


def test_a_new_domain_needs_a_hierarchy(fake_fit):
    with pytest.raises(bs.RunsTableError, match="^domain 'elsewhere' is not in this fit: this fit has a single domain"):
        fake_fit.new_domain_draws(np.random.default_rng(0), "elsewhere")


# ----------------------------------------------------------------------------- summaries


def test_parameters_table_recovers_the_known_law(fake_fit):
    p = fake_fit.parameters(0.9).set_index("parameter")
    assert list(p.index) == ["A", "B", "E", "alpha", "beta"]
    for name, true in (("A", 480.0), ("B", 2000.0), ("E", 1.8), ("alpha", 0.35), ("beta", 0.37)):
        assert p.loc[name, "lower"] < true < p.loc[name, "upper"], name
    assert p["published"].isna().all()  # a weak prior has no published centre in this table
    wide = fake_fit.parameters(0.99).set_index("parameter")
    assert (wide["upper"] - wide["lower"] > p["upper"] - p["lower"]).all()


def test_hierarchical_parameters_add_the_population(fake_hier_fit):
    p = fake_hier_fit.parameters(0.9)
    assert list(dict.fromkeys(p["domain"])) == ["books", "code", "web", "(population)"]
    e = p[p["parameter"] == "E"].set_index("domain")["median"]
    assert e["code"] == pytest.approx(1.8 * np.exp(0.1), rel=0.01) and e["books"] == pytest.approx(1.8, rel=0.01)


def test_to_dict_carries_the_published_values(fake_chinchilla_fit):
    # weak prior: compared with Besiroglu et al. (2024, Table 1); the files (summary.json, the report) are
    # test_workflow.py's test_summary_json_carries_the_published_values_the_report_shows
    s = fake_chinchilla_fit.to_dict(0.9)
    assert s["published_source"] == "besiroglu2024"
    pub = {k: v["published"] for k, v in s["parameters"]["chinchilla"].items()}
    assert pub["alpha"] == pytest.approx(0.3478, abs=5e-4) and pub["beta"] == pytest.approx(0.3658, abs=5e-4)
    assert pub["E"] == pytest.approx(1.817, abs=1e-3)
    assert json.loads(json.dumps(s)) == s  # JSON-serialisable
    assert s["data"]["n_runs"] == 234 and s["diagnostics_ok"] is True


def test_published_law_is_the_prior_centre_or_besiroglu(fake_fit):
    informative = dataclasses.replace(fake_fit, prior=bs.get_prior("hoffmann2022"))
    assert informative.published_prior().name == "hoffmann2022"
    assert fake_fit.published_prior().name == "besiroglu2024"
    values, source = informative.published_values()
    assert source == "hoffmann2022"
    assert values["E"] == pytest.approx(1.6934, rel=1e-4) and values["beta"] == pytest.approx(0.2849, rel=1e-3)
    th = informative.published_theta()
    nat = fake_fit.law.natural(fake_fit.theta_dict(th[None, :]), fake_fit.refs)
    assert float(nat["alpha"][0]) == pytest.approx(values["alpha"], rel=1e-12)
    # a weak prior compares with the law's own published fit: a data-constrained fit with the weak prior it is advised
    # for embedded runs had "No published law to compare with" (a fresh user); a law with none has none
    for law, name in (("kaplan", "kaplan2020"), ("data_constrained", "muennighoff2023"), ("power_params",
                                                                                        "besiroglu2024_params")):
        other = dataclasses.replace(fake_fit, law=bs.get_law(law), prior=bs.get_prior("weak", law=law))
        assert other.published_prior().name == name
    flops = dataclasses.replace(fake_fit, law=bs.get_law("power_flops"), prior=bs.get_prior("weak", law="power_flops"))
    assert flops.published_prior() is None and flops.published_values() == ({}, None)
    assert flops.published_theta() is None


# ----------------------------------------------------------------------------- to_dict, save, load


def test_to_dict_and_from_dict_round_trip(fake_hier_fit):
    cfg = json.loads(json.dumps(fake_hier_fit.to_dict()))  # through JSON, as in a saved fit
    back = ScalingFit.from_dict(cfg, fake_hier_fit.posterior, fake_hier_fit.runs)
    assert back.to_dict() == cfg
    assert back.structure == fake_hier_fit.structure and back.varying == fake_hier_fit.varying
    pd.testing.assert_frame_equal(back.predict(TARGETS.assign(domain="code")),
                                  fake_hier_fit.predict(TARGETS.assign(domain="code")))
    assert set(ScalingFit.REQUIRED_FIELDS) <= set(cfg)


def test_save_load_round_trip_gives_identical_predictions(fake_fit, fake_gp_fit, tmp_path):
    for fit in (fake_fit, fake_gp_fit):  # with and without a discrepancy term
        path = fit.save(tmp_path / f"fit-{len(fit.bases)}")
        loaded = ScalingFit.load(path)
        pd.testing.assert_frame_equal(fit.predict(TARGETS), loaded.predict(TARGETS))
        pd.testing.assert_frame_equal(fit.frontier([1e22]), loaded.frontier([1e22]))
        assert loaded.to_dict() == json.loads(json.dumps(fit.to_dict()))
        with pytest.raises(FileExistsError, match="already exists; choose another path or pass force=True"):
            fit.save(path)
        fit.save(path, force=True)


@pytest.mark.slow
def test_discrepancy_round_trip(chinchilla_fit, tmp_path):
    path = chinchilla_fit.save(tmp_path / "chin")
    loaded = ScalingFit.load(path)
    t = pd.DataFrame({"params": [7e10, 7e9], "tokens": [1.4e12, 1.4e11]})
    pd.testing.assert_frame_equal(chinchilla_fit.predict(t), loaded.predict(t))


def test_load_refuses_draws_that_do_not_match_the_configuration(fake_fit, tmp_path):
    missing = dataclasses.replace(fake_fit, posterior=xr.DataTree.from_dict(
        {"posterior": fake_fit.posterior["posterior"].to_dataset().drop_vars(VARS.noise)}))
    path = missing.save(tmp_path / "nosigma")
    with pytest.raises(bs.FitFileError, match=r"posterior.nc' lacks the variables \['sigma'\]; it is not a bayes_scaling fit"):
        ScalingFit.load(path)
    other = dataclasses.replace(fake_fit, domains=["a", "b"])
    path = other.save(tmp_path / "twodomains")
    with pytest.raises(bs.FitFileError, match="is inconsistent: the draws do not match the law and domains in fit.json"):
        ScalingFit.load(path)


def test_summary_is_a_table_with_intervals_diagnostics_and_published_values(fake_chinchilla_fit):
    """Issue 14: fit.summary() is a DataFrame (the dict is fit.to_dict())."""
    t = fake_chinchilla_fit.summary(0.9)
    assert isinstance(t, pd.DataFrame)
    assert list(t.columns) == ["domain", "parameter", "median", "lower", "upper", "r_hat", "ess_bulk", "ess_tail",
                               "published"]
    assert list(t["parameter"]) == ["A", "B", "E", "alpha", "beta"] and (t["domain"] == "chinchilla").all()
    row = t.set_index("parameter").loc["alpha"]
    params = fake_chinchilla_fit.parameters(0.9).set_index("parameter").loc["alpha"]
    assert row["median"] == params["median"] and row["lower"] == params["lower"]
    assert row["published"] == pytest.approx(0.3478, abs=5e-4) and t.attrs["published_source"] == "besiroglu2024"
    # synthetic draws are independent: R-hat about 1, ESS about the number of draws
    assert t["r_hat"].between(0.99, 1.02).all() and (t["ess_bulk"] > 0.5 * fake_chinchilla_fit.n_draws).all()


def test_posterior_carries_the_law_parameters_under_their_names(fake_hier_fit):
    """Issue 14: az.summary and users' plots work on E, A, B, alpha, beta without knowing the sampling coordinates."""
    import arviz as az

    post = fake_hier_fit.posterior["posterior"]
    for name in ("E", "A", "B", "alpha", "beta"):
        assert post[name].dims == ("chain", "draw", "domain")
    assert list(post["domain"].values) == ["books", "code", "web", "(population)"]
    params = fake_hier_fit.parameters(0.9).set_index(["domain", "parameter"])
    e_code = post["E"].sel(domain="code").values.ravel()
    assert float(np.median(e_code)) == pytest.approx(params.loc[("code", "E"), "median"], rel=1e-12)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no ArviZ warning for the law's parameters
        s = az.summary(fake_hier_fit.posterior, var_names=["E", "alpha", "beta"])
    assert "E[code]" in s.index and "beta[(population)]" in s.index
    assert s.loc["E[code]", "mean"] == pytest.approx(float(e_code.mean()), rel=1e-2)


def test_replacing_a_fit_does_not_change_the_original_tree(fake_fit):
    kaplan = dataclasses.replace(fake_fit, law=bs.get_law("kaplan"), prior=bs.get_prior("weak", law="kaplan"))
    assert "E" in fake_fit.posterior["posterior"] and kaplan.posterior is not fake_fit.posterior


def test_a_one_variable_fit_is_not_compared_with_a_published_e_its_law_does_not_have():
    # a params-only fit was said to "pull E away" from the published 1.817 and drawn against a "published law" far
    # below its runs: the law folds the fixed D term into E, and its prior leaves E weak
    from conftest import make_fake_fit

    from bayes_scaling.plots import plot_fit

    n = np.geomspace(1.6e7, 1.3e9, 8)
    runs = pd.DataFrame({"params": n, "loss": 1.8 + 400 / n**0.3})
    fit = make_fake_fit(runs, law_name="power_params", prior="besiroglu2024_params")
    values, source = fit.published_values()
    assert source == "besiroglu2024_params" and sorted(values) == ["A", "alpha"]
    assert np.isnan(fit.parameters().set_index("parameter").loc["E", "published"])
    _, ax = plot_fit(fit)
    assert not [ln for ln in ax.get_lines() if "published" in ln.get_label()]



def test_own_domains_leave_the_reference_out_and_pick_the_default_domain(fake_hier_fit):
    # one place for "the user's domains" (it was written out in 13 modules); a reference is never the default
    import dataclasses

    assert fake_hier_fit.own_domains == ["books", "code", "web"]
    with_ref = dataclasses.replace(fake_hier_fit, reference_domains=["books", "web"])
    assert with_ref.own_domains == ["code"]
    assert with_ref.default_domain == "code"
    every = dataclasses.replace(fake_hier_fit, reference_domains=["books", "code", "web"])
    assert every.own_domains == ["books", "code", "web"]


def test_tokens_per_param_span_is_that_of_the_runs_behind_a_domains_forecasts(fake_fit, fake_hier_fit):
    # one place for the D/N span that compare, the frontier note and the report's frontier sentence check against
    assert fake_fit.tokens_per_param_span() == pytest.approx((5.0, 200.0))
    runs = fake_hier_fit.runs
    code = runs[runs["domain"] == "code"]
    assert fake_hier_fit.tokens_per_param_span("code") == pytest.approx(
        ((code["tokens"] / code["params"]).min(), (code["tokens"] / code["params"]).max()))
    every = runs["tokens"] / runs["params"]
    assert fake_hier_fit.tokens_per_param_span("legal-contracts") == pytest.approx((every.min(), every.max()))
