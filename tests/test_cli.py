"""Issue 2: the main job on real Chinchilla runs — recovery, calibration, determinism, save/load, CLI."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import bayes_scaling as bs
from bayes_scaling.cli import main
from bayes_scaling.io import load_fit

# Besiroglu et al. (2024) estimates and bootstrap standard errors (priors module docstring).
BESIROGLU = {"alpha": (0.3478, 0.0154), "beta": (0.3658, 0.0206), "E": (1.817, 0.026)}


@pytest.mark.slow
def test_weak_prior_recovers_besiroglu_within_two_se(chinchilla_fit):
    p = chinchilla_fit.parameters(0.9).set_index("parameter")["median"]
    for name, (value, se) in BESIROGLU.items():
        assert abs(p[name] - value) <= 2 * se, (name, p[name], value, se)
    d = chinchilla_fit.diagnostics
    assert d.max_rhat <= 1.01
    assert d.min_ess_bulk >= 400
    assert d.divergences == 0 or not d.ok  # divergences are never silent
    assert d.ok


@pytest.mark.slow
def test_forecast_of_largest_runs_is_calibrated(chinchilla, chinchilla_split_fit):
    held = chinchilla[chinchilla["flops"] >= 1e21]
    assert len(held) == 23
    pred = chinchilla_split_fit.predict(held[["params", "tokens"]], prob=0.9)
    ape = np.abs(pred["loss_median"].to_numpy() - held["loss"].to_numpy()) / held["loss"].to_numpy()
    covered = (held["loss"].to_numpy() >= pred["loss_lower"].to_numpy()) & (
        held["loss"].to_numpy() <= pred["loss_upper"].to_numpy()
    )
    assert np.median(ape) <= 0.02
    assert covered.sum() >= 19, covered.sum()
    # the expected-loss interval is never wider than the new-run interval
    assert np.all(pred["mean_loss_upper"] - pred["mean_loss_lower"] <= pred["loss_upper"] - pred["loss_lower"] + 1e-12)


@pytest.mark.slow
def test_frontier_matches_besiroglu_band(chinchilla_fit):
    fr = chinchilla_fit.frontier([5.88e23], prob=0.8).iloc[0]
    # Besiroglu et al. (2024) bootstrap 10th-90th percentile of D/N at 5.88e23: 9.9-29.0
    assert 9.9 <= fr["tokens_per_param_median"] <= 29.0
    assert 70e9 / 2 <= fr["params_opt_median"] <= 70e9 * 2
    assert fr["tokens_per_param_lower"] < fr["tokens_per_param_median"] < fr["tokens_per_param_upper"]


def test_small_fit_recovers_known_law(small_fit):
    fit, runs = small_fit
    p = fit.parameters(0.9).set_index("parameter")
    assert abs(p.loc["alpha", "median"] - 0.35) < 0.05
    assert abs(p.loc["beta", "median"] - 0.37) < 0.05
    assert abs(p.loc["E", "median"] - 1.8) < 0.1
    wide = fit.parameters(0.99).set_index("parameter")  # 99 %: three 90 % intervals all cover only ~73 % of the time
    for name, true in (("alpha", 0.35), ("beta", 0.37), ("E", 1.8)):
        assert wide.loc[name, "lower"] < true < wide.loc[name, "upper"], name


def test_same_seed_same_numbers(small_fit):
    fit, runs = small_fit
    again = bs.ScalingLaw(prior="weak", discrepancy="none", sampler=fit.sampler).fit(runs, random_seed=3)
    other = bs.ScalingLaw(prior="weak", discrepancy="none", sampler=fit.sampler).fit(runs, random_seed=4)
    np.testing.assert_array_equal(fit._flat("mu"), again._flat("mu"))
    assert not np.array_equal(fit._flat("mu"), other._flat("mu"))
    t = pd.DataFrame({"params": [1e10], "tokens": [2e11]})
    pd.testing.assert_frame_equal(fit.predict(t), again.predict(t))


def test_predict_contract_and_flops_input(small_fit):
    fit, _ = small_fit
    t = pd.DataFrame({"params": [1e9, 1e10], "flops": [6 * 1e9 * 2e10, 6 * 1e10 * 2e11]})
    out = fit.predict(t, prob=0.8)
    for col in ("params", "flops", "tokens", "loss_median", "loss_lower", "loss_upper", "mean_loss_lower", "mean_loss_upper"):
        assert col in out.columns
    np.testing.assert_allclose(out["tokens"], [2e10, 2e11])
    assert np.all(out["loss_lower"] < out["loss_median"]) and np.all(out["loss_median"] < out["loss_upper"])
    assert np.all(out["mean_loss_lower"] >= out["loss_lower"]) and np.all(out["mean_loss_upper"] <= out["loss_upper"])
    wide = fit.predict(t, prob=0.95)
    assert np.all(wide["loss_upper"] - wide["loss_lower"] > out["loss_upper"] - out["loss_lower"])


def test_save_load_round_trip_gives_identical_predictions(small_fit, tmp_path):
    fit, _ = small_fit
    path = fit.save(tmp_path / "fit")
    loaded = load_fit(path)
    t = pd.DataFrame({"params": [3e9, 7e10], "tokens": [6e10, 1.4e12]})
    pd.testing.assert_frame_equal(fit.predict(t), loaded.predict(t))
    pd.testing.assert_frame_equal(fit.frontier([1e22]), loaded.frontier([1e22]))
    with pytest.raises(FileExistsError, match="already exists; choose another path or pass force=True"):
        fit.save(path)
    fit.save(path, force=True)


@pytest.mark.slow
def test_discrepancy_round_trip(chinchilla_fit, tmp_path):
    path = chinchilla_fit.save(tmp_path / "chin")
    loaded = load_fit(path)
    t = pd.DataFrame({"params": [7e10, 7e9], "tokens": [1.4e12, 1.4e11]})
    pd.testing.assert_frame_equal(chinchilla_fit.predict(t), loaded.predict(t))


def test_closed_form_frontier_matches_numeric_search(small_fit):
    from bayes_scaling.decisions import optimal_allocation_draws

    fit, _ = small_fit
    th = fit.theta(fit.default_domain)[:200]
    closed = optimal_allocation_draws(fit, np.array([1e21, 1e24]), th)
    numeric = optimal_allocation_draws(fit, np.array([1e21, 1e24]), th, max_params=1e30)
    np.testing.assert_allclose(closed["params_opt"], numeric["params_opt"], rtol=1e-5)
    np.testing.assert_allclose(closed["loss_opt"], numeric["loss_opt"], rtol=1e-9)


@pytest.mark.slow
def test_cli_demo_writes_everything(tmp_path, chinchilla_fit):
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--quiet"]) == 0
    for name in ("report.html", "report.md", "predictions.csv", "summary.json", "frontier.csv", "fit/fit.json",
                 "fit/posterior.nc", "fit_flops.png", "parameters.png", "frontier.png", "forecast.png"):
        assert (out / name).exists(), name
    summary = json.loads((out / "summary.json").read_text())
    assert summary["diagnostics_ok"] is True
    alpha = summary["parameters"]["chinchilla"]["alpha"]
    assert alpha["lower"] < alpha["median"] < alpha["upper"]
    assert summary["timings"]["wall_seconds"] > 0
    pred = pd.read_csv(out / "predictions.csv")
    assert list(pred["label"])[:2] == ["Chinchilla 70B / 1.4T", "Gopher 280B / 300B"]
    # second run without --force refuses to overwrite
    assert main(["demo", "--out", str(out), "--quiet"]) == 4
    # predict from the saved fit keeps the target columns and adds the contract columns
    targets = tmp_path / "t.csv"
    pd.DataFrame({"params": [7e10], "flops": [5.88e23]}).to_csv(targets, index=False)
    res = tmp_path / "p.csv"
    assert main(["predict", str(out), "--at", str(targets), "--out", str(res), "--quiet"]) == 0
    got = pd.read_csv(res)
    assert {"params", "flops", "loss_median", "loss_lower", "loss_upper", "mean_loss_lower", "mean_loss_upper"} <= set(got)
    assert got.loc[0, "tokens"] == pytest.approx(5.88e23 / (6 * 7e10))
    assert main(["frontier", str(out), "--flops", "1e21,5.88e23", "--out", str(tmp_path / "f.csv"), "--quiet"]) == 0
    f = pd.read_csv(tmp_path / "f.csv")
    expected = ["flops"] + [f"{k}_{s}" for k in ("params_opt", "tokens_opt", "tokens_per_param", "loss_opt")
                            for s in ("median", "lower", "upper")]
    assert all(c in f.columns for c in expected)
    assert len(f) == 2


@pytest.mark.parametrize(
    "args, line",
    [
        (["fit"], "error: bayes-scaling fit: the following arguments are required: runs, --out "
                  "(see 'bayes-scaling fit --help')"),
        (["demo", "--bogus"], "error: bayes-scaling: unrecognized arguments: --bogus (see 'bayes-scaling --help')"),
        (["demo", "--tune", "-1"], "error: --tune must be a non-negative integer, got -1."),
        (["demo", "--draws", "0"], "error: --draws must be a positive integer, got 0."),
    ],
)
def test_cli_usage_errors_are_exactly_one_line(capsys, tmp_path, monkeypatch, args, line):
    # argparse's own errors follow the CLI contract too: one line, no usage block, exit code 2
    monkeypatch.chdir(tmp_path)
    try:
        code = main(args)
    except SystemExit as exc:  # argparse exits from parse_args
        code = exc.code
    assert code == 2
    assert capsys.readouterr().err.splitlines() == [line]
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_cli_prints_each_data_warning_once(capsys):
    # read_runs and the fit both validate the table; the CLI shows each warning once
    from bayes_scaling import cli
    from bayes_scaling.data import RunsTableWarning

    cli._SHOWN.clear()
    for _ in range(2):
        cli._showwarning(RunsTableWarning("column 'flops' differs\nfrom 6 N D"), RunsTableWarning, "a.py", 1)
    cli._showwarning(RunsTableWarning("another"), RunsTableWarning, "b.py", 2)
    assert capsys.readouterr().err.splitlines() == ["warning: column 'flops' differs from 6 N D", "warning: another"]


@pytest.mark.parametrize(
    "args, code, line",
    [
        (["fit", "runs.csv", "--out", "o", "--widen", "0"], 2,
         "error: --widen must be a positive factor (1 = the published prior, 2 = twice its spread), got 0.0."),
        (["fit", "runs.csv", "--out", "o", "--threshold", "-3"], 2,
         "error: --threshold is a target loss in nats/token and must be positive, got -3.0."),
        (["fit", "runs.csv", "--out", "o", "--flops=1e21,-5"], 2,
         "error: --flops must be positive budgets in FLOPs such as 1e21,5.88e23, got '1e21,-5'."),
        (["fit", "runs.csv", "--out", "o", "--targets", "t.csv"], 2,
         "error: targets table has no column 'tokens' (or give 'flops'). Columns found: params."),
        (["fit", "runs.csv", "--out", "o", "--prob", "1.5"], 2, "error: --prob must be between 0 and 1 (e.g. 0.9), got 1.5."),
        (["predict", "nosuch", "--at", "t.csv"], 4,
         "error: fit directory 'nosuch' does not exist; give the --out directory of a fit or demo run."),
        (["predict", "nosuch", "--at", "t.csv", "--out", "adir", "--force"], 4,
         "error: --out 'adir' is a directory; give a CSV file name such as 'adir/table.csv'."),
    ],
)
def test_cli_bad_arguments_fail_before_fitting_and_leave_nothing_behind(tmp_path, monkeypatch, capsys, args, code, line):
    import bayes_scaling.fit as fit_module

    monkeypatch.chdir(tmp_path)
    runs = bs.datasets.load_chinchilla()
    runs[(runs["tokens"] / runs["params"]).between(1, 1000)].head(40).to_csv("runs.csv", index=False)
    pd.DataFrame({"params": [7e10]}).to_csv("t.csv", index=False)
    (tmp_path / "adir").mkdir()
    (tmp_path / "adir" / "keep.txt").write_text("mine")
    monkeypatch.setattr(fit_module.ScalingLaw, "fit", lambda *a, **k: pytest.fail("must fail before fitting"))
    before = sorted(p.name for p in tmp_path.iterdir())
    assert main(args) == code
    assert capsys.readouterr().err.splitlines() == [line]
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # no empty --out directory, no temporary file
    assert (tmp_path / "adir" / "keep.txt").read_text() == "mine"


def test_cli_removes_the_output_directory_it_created_when_the_fit_fails(tmp_path, monkeypatch, capsys):
    import bayes_scaling.fit as fit_module

    monkeypatch.chdir(tmp_path)
    runs = bs.datasets.load_chinchilla()
    runs[(runs["tokens"] / runs["params"]).between(1, 1000)].head(40).to_csv("runs.csv", index=False)

    def fails(*a, **k):
        raise ValueError("sampling failed")

    monkeypatch.setattr(fit_module.ScalingLaw, "fit", fails)
    assert main(["fit", "runs.csv", "--out", "new", "--quiet"]) == 2
    assert capsys.readouterr().err.splitlines() == ["error: sampling failed"]
    assert not (tmp_path / "new").exists()


def test_cli_advice_names_flags_not_python_settings():
    from bayes_scaling.cli import _as_flags

    assert _as_flags("Run more draws (draws=2000, tune=2000). Try target_accept=0.95, a more informative prior. "
                     "Raise max_treedepth (SamplerConfig(max_treedepth=10)). Use prior='besiroglu2024' or "
                     "reference='chinchilla', or widen=2; got 'x'.") == (
        "Run more draws (--draws 2000, --tune 2000). Try --target-accept 0.95, a more informative prior. "
        "Raise max_treedepth (--max-treedepth 10). Use --prior besiroglu2024 or --reference chinchilla, "
        "or --widen 2; got 'x'.")


def test_summary_json_carries_the_published_values_the_report_shows(chinchilla_fit):
    # weak prior: the report compares with Besiroglu et al. (2024, Table 1); summary.json says the same
    s = chinchilla_fit.summary(0.9)
    assert s["published_source"] == "besiroglu2024"
    pub = {k: v["published"] for k, v in s["parameters"]["chinchilla"].items()}
    assert pub["alpha"] == pytest.approx(0.3478, abs=5e-4) and pub["beta"] == pytest.approx(0.3658, abs=5e-4)
    assert pub["E"] == pytest.approx(1.817, abs=1e-3)


def test_cli_accepts_no_warm_up_like_sampler_config():
    from bayes_scaling.cli import _sampler_config, build_parser

    args = build_parser().parse_args(["demo", "--tune", "0"])
    assert _sampler_config(args).tune == 0


@pytest.mark.parametrize(
    "args, code, message",
    [
        (["predict", "/nonexistent/dir", "--at", "x.csv"], 4, "does not exist; give the --out directory"),
        (["fit", "/nonexistent/runs.csv", "--out", "OUT"], 2, "does not exist; check the path"),
        (["frontier", "/nonexistent", "--flops", "abc"], 2, "--flops must be comma-separated numbers"),
    ],
)
def test_cli_errors_are_one_line_without_traceback(tmp_path, args, code, message):
    args = [a.replace("OUT", str(tmp_path / "o")) for a in args]
    r = subprocess.run([sys.executable, "-m", "bayes_scaling.cli", *args], capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == code
    assert "Traceback" not in r.stderr
    lines = [ln for ln in r.stderr.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1 and message in lines[0], r.stderr
