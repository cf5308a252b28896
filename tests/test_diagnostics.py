"""Issue 7: failed sampling is reported once, in plain words with an action; ``strict`` raises; the CLI exits 3."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import bayes_scaling as bs
from bayes_scaling.cli import main
from bayes_scaling.diagnostics import (
    ConvergenceWarning,
    Diagnostics,
    SamplingError,
    check_convergence,
)
from bayes_scaling.inference import SamplerConfig
from bayes_scaling.io import load_fit

RHAT_ACTION = ("Run more draws (draws=2000, tune=2000; a hierarchical fit of many domains with few runs each mixes "
               "slowly and may need draws=8000) or use a more informative prior.")
DIV_ACTION = "Try target_accept=0.95, a more informative prior, or check the runs for outliers."


def _tree(a: np.ndarray, diverging: np.ndarray | None = None, seed: int = 0) -> xr.DataTree:
    """Posterior with a scalar 'a' (given) and a well-mixed vector 'b' (iid normal)."""
    rng = np.random.default_rng(seed)
    post = xr.Dataset(
        {"a": (("chain", "draw"), a), "b": (("chain", "draw", "k"), rng.normal(size=(*a.shape, 2)))},
        coords={"chain": np.arange(a.shape[0]), "draw": np.arange(a.shape[1])},
    )
    groups = {"posterior": post}
    if diverging is not None:
        groups["sample_stats"] = xr.Dataset({"diverging": (("chain", "draw"), diverging)})
    return xr.DataTree.from_dict(groups)


def _check(tree, **kw):
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        diag = check_convergence(tree, ["a", "b"], **kw)
    conv = [str(w.message) for w in rec if issubclass(w.category, ConvergenceWarning)]
    return diag, conv


# ----------------------------------------------------------------------------- synthetic, deterministic


def test_well_mixed_chains_pass_silently():
    rng = np.random.default_rng(1)
    diag, conv = _check(_tree(rng.normal(size=(4, 1000)), np.zeros((4, 1000), bool)))
    assert conv == []
    assert diag.ok and diag.problems == []
    assert diag.max_rhat < 1.01 and diag.min_ess_bulk > 400 and diag.divergences == 0
    assert diag.n_draws == 4000
    assert list(diag.table.index) == ["a", "b"]


def test_chains_with_different_means_give_one_rhat_warning():
    rng = np.random.default_rng(2)
    a = rng.normal(size=(4, 1000))
    a[2:] += 3.0  # two chains found another mode
    diag, conv = _check(_tree(a))
    assert not diag.ok
    assert diag.max_rhat > 1.5
    assert diag.table["r_hat"].idxmax() == "a"
    rhat_msg = (f"R-hat is {diag.max_rhat:.3f} for 'a' (should be <= 1.01): the chains disagree, so the posterior is "
                f"not reliable. {RHAT_ACTION}")
    assert diag.problems[0] == rhat_msg
    assert diag.problems[1].startswith("effective sample size is ") and "for 'a' (should be >= 400)" in diag.problems[1]
    assert diag.problems[1].endswith("interval ends are noisy. Run more draws (draws=2000).")
    assert conv == ["Sampling problems: " + " ".join(diag.problems)]  # reported once, every problem in one warning


def test_rhat_failure_raises_under_strict():
    rng = np.random.default_rng(2)
    a = rng.normal(size=(4, 1000))
    a[2:] += 3.0
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)  # strict raises instead of warning
        with pytest.raises(SamplingError) as e:
            check_convergence(_tree(a), ["a", "b"], strict=True)
    assert str(e.value).startswith("Sampling problems: R-hat is ")
    assert RHAT_ACTION in str(e.value)


@pytest.mark.parametrize("used, advice", [
    (0.8, "Try target_accept=0.95, a more informative prior"),
    (0.95, "Try target_accept=0.99, a more informative prior"),
    (0.99, "Try a more informative prior"),
])
def test_divergence_advice_names_a_higher_target_accept_than_the_one_used(used, advice):
    rng = np.random.default_rng(3)
    div = np.zeros((4, 1000), bool)
    div[0, :3] = True
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        diag = check_convergence(_tree(rng.normal(size=(4, 1000)), div), ["a", "b"], target_accept=used)
    assert diag.problems == [
        "3 divergent transitions: the sampler could not follow the posterior everywhere, so intervals may be "
        f"wrong. {advice}, or check the runs for outliers."
    ]


@pytest.mark.parametrize("n_div, word", [(1, "1 divergent transition:"), (7, "7 divergent transitions:")])
def test_divergences_are_counted_and_explained(n_div, word):
    rng = np.random.default_rng(3)
    div = np.zeros((4, 1000), bool)
    div.flat[rng.choice(4000, n_div, replace=False)] = True
    diag, conv = _check(_tree(rng.normal(size=(4, 1000)), div))
    assert diag.divergences == n_div
    assert not diag.ok
    assert diag.problems == [
        f"{word} the sampler could not follow the posterior everywhere, so intervals may be wrong. {DIV_ACTION}"
    ]
    assert conv == [f"Sampling problems: {diag.problems[0]}"]
    with pytest.raises(SamplingError, match=word):
        check_convergence(_tree(rng.normal(size=(4, 1000)), div), ["a", "b"], strict=True)


def test_low_effective_sample_size():
    rng = np.random.default_rng(4)
    a = np.empty((4, 1000))
    a[:, 0] = rng.normal(size=4)
    for t in range(1, 1000):  # AR(1) with rho = 0.995: ~2-3 effective draws per 1000
        a[:, t] = 0.995 * a[:, t - 1] + np.sqrt(1 - 0.995**2) * rng.normal(size=4)
    diag, conv = _check(_tree(a))
    assert not diag.ok
    ess_msgs = [p for p in diag.problems if p.startswith("effective sample size is")]
    assert len(ess_msgs) == 1
    assert f"is {min(diag.min_ess_bulk, diag.min_ess_tail):.0f} for 'a' (should be >= 400)" in ess_msgs[0]
    assert len(conv) == 1


def test_stuck_sampler_is_a_failure_not_a_pass():
    """Draws that never move give NaN R-hat; NaN must not compare as 'fine'."""
    diag, conv = _check(_tree(np.full((4, 1000), 0.3)))
    assert not diag.ok
    assert diag.problems[0] == (
        "the draws of 'a' do not move (a stuck sampler) or are not finite, so R-hat and effective sample size are "
        "meaningless and the posterior is not usable. Run more warm-up draws (tune=2000), check the runs for errors, "
        "or use a more informative prior."
    )
    assert len(conv) == 1


def test_stuck_single_chain_is_detected():
    diag, _ = _check(_tree(np.full((1, 500), 1.0)))
    assert not diag.ok and "the draws of 'a' do not move" in diag.problems[0]


def test_non_finite_draws_are_a_failure():
    rng = np.random.default_rng(5)
    a = rng.normal(size=(4, 1000))
    a[1, 10] = np.nan
    diag, _ = _check(_tree(a))
    assert not diag.ok and "the draws of 'a' do not move (a stuck sampler) or are not finite" in diag.problems[0]


def test_bound_check_reports_mass_outside_range():
    rng = np.random.default_rng(6)
    a = np.abs(rng.normal(size=(4, 1000))) + 0.01
    a.flat[rng.permutation(4000)[:1000]] *= -1  # exactly 25 % below the lower bound, spread over all chains
    diag, conv = _check(_tree(a), bound_checks={"a": (0.0, 10.0)})
    assert diag.problems == [
        "the posterior of 'a' has 25% of its mass outside its plausible range [0, 10]: the runs do not constrain it. "
        "Add runs over a wider range of sizes or use a published prior."
    ]
    assert len(conv) == 1


def test_diagnostics_round_trip_keeps_the_failure():
    rng = np.random.default_rng(2)
    a = rng.normal(size=(4, 1000))
    a[2:] += 3.0
    diag, _ = _check(_tree(a))
    back = Diagnostics.from_dict(json.loads(json.dumps(diag.to_dict())))
    assert back.ok is False and back.problems == diag.problems and back.max_rhat == pytest.approx(diag.max_rhat)


# ----------------------------------------------------------------------------- real failing fits

BAD = SamplerConfig(draws=30, tune=10, chains=2, target_accept=0.3)


@pytest.fixture(scope="module")
def few_runs():
    rng = np.random.default_rng(0)
    n = np.geomspace(5e7, 5e9, 6)
    d = n * np.array([5, 20, 60, 200, 20, 60])
    loss = bs.laws.chinchilla_loss(n, d, E=1.8, A=480.0, B=2000.0, alpha=0.35, beta=0.37)
    return pd.DataFrame({"params": n, "tokens": d, "loss": loss * np.exp(rng.normal(0, 0.004, n.size))})


def _bad_fit(runs, strict=False, seed=1):
    # same model shape as conftest's small_fit (weak prior, one domain, no discrepancy): compiled once per session
    return bs.ScalingLaw(prior="weak", discrepancy="none", sampler=BAD).fit(runs, random_seed=seed, strict=strict)


@pytest.mark.slow
def test_real_unconverged_fit_warns_once_and_carries_ok_false(few_runs):
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        fit = _bad_fit(few_runs)
    conv = [str(w.message) for w in rec if issubclass(w.category, ConvergenceWarning)]
    assert len(conv) == 1
    d = fit.diagnostics
    assert d.ok is False
    assert d.n_draws == 60
    assert d.problems and conv[0] == "Sampling problems: " + " ".join(d.problems)
    # 60 draws cannot reach the 200 effective draws two chains need
    assert any(p.startswith("effective sample size is") and "(should be >= 200)" in p for p in d.problems)
    assert all(any(k in p for k in ("Run more", "Try target_accept", "Raise max_treedepth")) for p in d.problems)  # each says what to do
    assert "diagnostics=PROBLEMS" in repr(fit)
    assert fit.summary()["diagnostics_ok"] is False


@pytest.mark.slow
def test_real_unconverged_fit_raises_under_strict(few_runs):
    with pytest.raises(SamplingError, match=r"^Sampling problems: .*effective sample size is \d+ for '\w+' "
                                            r"\(should be >= 200\)"):
        _bad_fit(few_runs, strict=True)


@pytest.mark.slow
def test_real_unconverged_fit_keeps_ok_false_after_save(few_runs, tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        fit = _bad_fit(few_runs)
    path = fit.save(tmp_path / "bad")
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        loaded = load_fit(path)
    assert loaded.diagnostics.ok is False
    assert loaded.diagnostics.problems == fit.diagnostics.problems
    # loading says so once, so forecasts from it are never silently trusted
    conv = [str(w.message) for w in rec if issubclass(w.category, ConvergenceWarning)]
    assert conv == [f"the fit in '{path}' failed its convergence checks when it was made, so its forecasts may be "
                    "wrong: " + " ".join(fit.diagnostics.problems)]


@pytest.fixture
def runs_csv(few_runs, tmp_path):
    path = tmp_path / "runs.csv"
    few_runs.to_csv(path, index=False)
    return path


CLI_BAD = ["--draws", "30", "--tune", "10", "--chains", "2", "--target-accept", "0.3", "--prior", "weak",
           "--discrepancy", "none", "--quiet", "--seed", "1"]


@pytest.mark.slow
def test_cli_strict_exits_3_with_one_error_line(runs_csv, tmp_path, capsys):
    out = tmp_path / "out"
    code = main(["fit", str(runs_csv), "--out", str(out), *CLI_BAD, "--strict"])
    stdout, err = capsys.readouterr()
    assert code == 3
    errors = [ln for ln in err.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1, err
    assert errors[0].startswith("error: Sampling problems: ")
    assert errors[0].endswith("(exiting because of --strict)")
    assert "Traceback" not in err
    assert not any(ln.startswith("warning: Sampling problems") for ln in err.splitlines())  # error, not also a warning
    assert stdout == ""
    assert not (out / "fit").exists()  # nothing is saved from a failed strict fit


@pytest.mark.slow
def test_cli_without_strict_exits_0_with_one_warning_line(runs_csv, tmp_path, capsys):
    out = tmp_path / "out"
    code = main(["fit", str(runs_csv), "--out", str(out), *CLI_BAD])
    stdout, err = capsys.readouterr()
    assert code == 0, err
    warn = [ln for ln in err.splitlines() if ln.startswith("warning: Sampling problems: ")]
    assert len(warn) == 1, err
    assert "Run more draws" in warn[0]
    assert not any(ln.startswith("error:") for ln in err.splitlines())
    summary = json.loads((out / "summary.json").read_text())
    assert summary["diagnostics_ok"] is False
    assert summary["diagnostics"]["problems"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        assert load_fit(out / "fit").diagnostics.ok is False
    # a later forecast from that saved fit repeats the warning (one line), and still works
    targets = tmp_path / "t.csv"
    pd.DataFrame({"params": [1e10], "tokens": [2e11]}).to_csv(targets, index=False)
    code = main(["predict", str(out), "--at", str(targets), "--quiet"])
    stdout, err = capsys.readouterr()
    assert code == 0
    warn = [ln for ln in err.splitlines() if ln.startswith("warning: ")]
    assert len(warn) == 1 and "failed its convergence checks when it was made" in warn[0], err
    assert "loss_median" in stdout


@pytest.mark.parametrize("value, text", [(1.0103, "1.0103"), (1.034, "1.034"), (1.01001, "1.01001"), (1.2, "1.200")])
def test_rhat_in_messages_never_rounds_down_to_the_limit(value, text):
    from bayes_scaling.diagnostics import _above

    assert _above(value, 1.01) == text


# ----------------------------------------------------------------------------- tree depth, sampler defaults


def _tree_with_depth_hits(hits: np.ndarray, key: str) -> xr.DataTree:
    rng = np.random.default_rng(5)
    tree = _tree(rng.normal(size=hits.shape))
    tree["sample_stats"] = xr.DataTree(xr.Dataset({key: (("chain", "draw"), hits)}))
    return tree


@pytest.mark.parametrize("key", ["maxdepth_reached", "reached_max_treedepth"])  # nutpie, PyMC
def test_tree_depth_hits_are_counted_and_reported_above_five_percent(key):
    hits = np.zeros((4, 1000), bool)
    hits.flat[:200] = True  # 5 % exactly: counted, not a problem
    diag, conv = _check(_tree_with_depth_hits(hits, key))
    assert diag.treedepth_hits == 200 and diag.ok and conv == []
    hits.flat[:201] = True
    diag, conv = _check(_tree_with_depth_hits(hits, key))
    assert diag.treedepth_hits == 201 and not diag.ok
    assert diag.problems == [
        "201 of 4000 draws hit the maximum tree depth: the sampler took its longest allowed trajectories, so it "
        "explores slowly. Raise max_treedepth (SamplerConfig(max_treedepth=10))."
    ]
    assert Diagnostics.from_dict(json.loads(json.dumps(diag.to_dict()))).treedepth_hits == 201


def test_sampler_defaults_depend_on_the_model_shape_and_explicit_values_win():
    from bayes_scaling.model import Structure

    one = Structure("chinchilla", 1)
    many = Structure("chinchilla", 24, hierarchical=True)
    assert (SamplerConfig().resolved(one).tune, SamplerConfig().resolved(one).max_treedepth) == (300, 6)
    assert (SamplerConfig().resolved(many).tune, SamplerConfig().resolved(many).max_treedepth) == (1000, 10)
    cfg = SamplerConfig(tune=50, max_treedepth=8).resolved(one)
    assert (cfg.tune, cfg.max_treedepth, cfg.draws) == (50, 8, 1000)
    with pytest.raises(ValueError, match=r"^SamplerConfig.max_treedepth must be a positive integer, got 0\.$"):
        SamplerConfig(max_treedepth=0)


def test_laplace_preconditioner_recovers_the_law_and_its_scale():
    """On 60 runs simulated from the Chinchilla law (1 % noise), the Laplace centre is within 2.5 of its
    own standard deviations of the truth, and no preconditioner is built from too few runs."""
    from bayes_scaling.inference import laplace_precondition
    from bayes_scaling.laws import get_law

    law = get_law("chinchilla")
    rng = np.random.default_rng(11)
    n = np.exp(rng.uniform(np.log(5e7), np.log(1e10), 60))
    d = n * np.exp(rng.uniform(np.log(5), np.log(200), 60))
    loss = bs.laws.chinchilla_loss(n, d, E=1.8, A=480.0, B=2000.0, alpha=0.35, beta=0.37)
    runs = pd.DataFrame({"params": n, "tokens": d, "loss": loss * np.exp(rng.normal(0, 0.01, n.size))})
    ref = law.reference(runs)
    x = law.inputs(runs, ref)
    y = np.log(runs["loss"].to_numpy())
    m, sd = law.weak_prior(runs)
    mean, chol = laplace_precondition(law, x, y, m, np.diag(sd**2))
    truth = law.from_catalog({"logA": np.log(480.0), "logB": np.log(2000.0), "logE": np.log(1.8),
                              "alpha": 0.35, "beta": 0.37}, ref)
    true = np.array([truth[k] for k in law.params])
    post_sd = np.sqrt(np.diag(chol @ chol.T))
    assert np.all(np.abs(mean - true) < 2.5 * post_sd), (mean, true, post_sd)
    assert np.all(post_sd < 0.5 * sd)  # the data, not the prior, set the scale
    assert laplace_precondition(law, {k: v[:19] for k, v in x.items()}, y[:19], m, np.diag(sd**2)) is None


@pytest.mark.slow
def test_quick_one_domain_fit_that_fails_is_sampled_again_with_long_settings(few_runs, monkeypatch):
    import bayes_scaling.fit as fit_module

    real, calls = fit_module.check_convergence, []

    def first_fails(posterior, names, **kw):
        calls.append(kw["strict"])
        diag = real(posterior, names, **kw)
        if len(calls) == 1:
            diag.ok, diag.max_rhat = False, 1.05
        return diag

    monkeypatch.setattr(fit_module, "check_convergence", first_fails)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = bs.ScalingLaw(prior="weak", discrepancy="none").fit(few_runs, random_seed=1)
    assert len(calls) == 2
    assert (fit.sampler.tune, fit.sampler.max_treedepth) == (1000, 10)
    assert fit.notes[-1].startswith("the quick settings (warm-up 300, tree depth 6) failed the checks (max R-hat 1.050, ")
    # the retry doubles the draws only when the quick attempt had too few effective draws
    assert fit.sampler.draws in (1000, 2000)
    assert fit.notes[-1].endswith(f"sampled again with warm-up 1000, tree depth 10 and {fit.sampler.draws} draws per chain")
    calls.clear()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fixed = bs.ScalingLaw(prior="weak", discrepancy="none", sampler=SamplerConfig(tune=300)).fit(few_runs, random_seed=1)
    assert calls == [False] and fixed.sampler.tune == 300  # settings the user chose are not overridden
