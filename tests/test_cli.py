"""bayes_scaling.cli: the command-line contract — commands, files written, exit codes, one-line errors and warnings.

The loaders and ``predict``/``fit`` are fuzzed in test_fuzz_cli.py; real fits (``demo``, ``--strict``) are ``slow``."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import bayes_scaling as bs
from bayes_scaling.cli import main
from bayes_scaling.predict import predict
from conftest import make_fake_fit, synthetic_runs
from bayes_scaling.diagnostics import ConvergenceWarning


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


def test_cli_demo_writes_everything_without_a_sampler(tmp_path, fake_chinchilla_fit, monkeypatch, capsys,
                                                      unrasterized_figures):
    """The demo's files, tables and stdout, with the fit replaced by synthetic draws (the real run is the test above;
    the figures are rasterized there, in test_report.py and in test_report_browser.py)."""
    import bayes_scaling.fit as fit_module

    monkeypatch.setattr(fit_module.ScalingLaw, "fit", lambda self, runs, **kw: fake_chinchilla_fit)
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--quiet"]) == 0
    stdout = capsys.readouterr().out.splitlines()
    assert stdout[0].startswith("A 70B-parameter model on 1.4T tokens (chinchilla) reaches ")
    assert stdout[1:] == [f"report: {out / 'report.html'}", f"markdown: {out / 'report.md'}", f"saved fit: {out / 'fit'}"]
    for name in ("report.html", "report.md", "predictions.csv", "summary.json", "frontier.csv", "fit/fit.json",
                 "fit/posterior.nc", "fit/runs.csv", "fit_flops.png", "fit_params.png", "parameters.png",
                 "frontier.png", "forecast.png"):
        assert (out / name).exists(), name
    pred = pd.read_csv(out / "predictions.csv")
    assert list(pred["label"]) == ["Chinchilla 70B / 1.4T", "Gopher 280B / 300B", "7B / 140B", "1T / 20T"]
    assert {"loss_median", "loss_lower", "loss_upper", "mean_loss_median", "mean_loss_lower", "mean_loss_upper",
            "domain_kind"} <= set(pred)
    fr = pd.read_csv(out / "frontier.csv")
    assert list(fr["flops"]) == [1e21, 1e22, 1e23, 5.88e23]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["diagnostics_ok"] is True and len(summary["predictions"]) == 4 and len(summary["frontier"]) == 4
    # the saved fit is the fit: forecasts from it are the table's
    again = bs.ScalingFit.load(out / "fit").predict(pd.read_csv(out / "predictions.csv")[["params", "tokens"]])
    np.testing.assert_allclose(again["loss_median"], pred["loss_median"], rtol=1e-12)


def test_analysis_commands_on_a_saved_fit(tmp_path, fake_fit, capsys):
    """predict, frontier, compare, next-run and risk read a saved fit and write the documented columns."""
    saved = fake_fit.save(tmp_path / "run" / "fit")
    at = tmp_path / "at.csv"
    pd.DataFrame({"params": [7e10, 1e10], "tokens": [1.4e12, 2e11]}).to_csv(at, index=False)
    cands = tmp_path / "cands.csv"
    pd.DataFrame({"label": ["small run", "big run"], "params": [1e9, 1e10], "tokens": [2e10, 2e11]}).to_csv(cands, index=False)
    runs = [
        (["predict", str(tmp_path / "run"), "--at", str(at)], {"loss_median", "mean_loss_upper", "domain_kind"}),
        (["frontier", str(saved), "--flops", "1e21,5.88e23"], {"params_opt_median", "tokens_per_param_lower",
                                                              "loss_opt_upper"}),
        (["compare", str(saved), "--candidates", str(cands)], {"p_best", "expected_gap", "rank"}),
        (["next-run", str(saved), "--candidates", str(cands), "--target-params", "7e10", "--target-tokens", "1.4e12",
          "--n-sims", "8"], {"width_now", "width_after", "shrinkage_per_exaflop", "ess_low"}),
        (["risk", str(saved), "--at", str(at), "--threshold", "2.0"], {"p_exceed", "expected_shortfall",
                                                                       "loss_gap_median", "p_departure", "conflict_p"}),
    ]
    for i, (args, columns) in enumerate(runs):
        out = tmp_path / f"{args[0]}.csv"
        assert main([*args, "--out", str(out), "--quiet"]) == 0, capsys.readouterr().err
        quiet = capsys.readouterr()
        table = pd.read_csv(out)
        assert columns <= set(table.columns), args[0]
        # with --quiet stdout is the table alone, as CSV (the --out file's), for scripts; a verdict or a check goes to
        # stderr (read with sep=r"\s+", the aligned text split a label with spaces into columns: a fresh user)
        pd.testing.assert_frame_equal(pd.read_csv(io.StringIO(quiet.out)), table)
        assert main([*args, "--out", str(out), "--force"]) == 0
        printed = capsys.readouterr().out
        assert printed.split()[:2] == [str(c) for c in table.columns[:2]] and "Columns:" in printed, args[0]
        if args[0] in ("compare", "risk"):  # the sentence under the table is on stderr with --quiet, not lost
            assert printed.splitlines()[-1] in quiet.err.splitlines(), args[0]
        if args[0] == "compare":  # the legend says what the rank orders by (a rank below a lower median puzzled a user)
            assert "  rank: order by expected_gap (1 = the lowest expected loss), ties by p_best; near-identical " \
                   "candidates split p_best between them, so p_best does not rank" in printed.splitlines()
            # compare's loss_median is the expected loss, predict's mean_loss_median (a fresh user pasted one for the other)
            # ... with its discrepancy term, which the frontier's note says compare uses (a fresh user read "the law")
            assert ("  loss_median: median of the expected loss at the candidate: the law with its discrepancy term "
                    "and the model-form error beyond the runs, without one run's noise (predict's mean_loss_*; "
                    "--new-run for one run), nats/token") in printed.splitlines()
        if args[0] == "predict":  # legends under predict and frontier too (a fresh user found them only elsewhere)
            assert ("  mean_loss_median: median of the expected loss at the target: the law with its discrepancy term "
                    "and the model-form error beyond the runs, without one run's noise, nats/token") in printed.splitlines()
        if args[0] == "frontier":
            assert "  loss_opt_median: expected loss of the compute-optimal run, nats/token" in printed.splitlines()
        if args[0] == "risk":  # and the prior-data conflict in words, after what each column means
            lines = printed.splitlines()
            assert any(ln.startswith(("No prior-data conflict", "Mild", "Strong")) for ln in lines)
            assert "  loss_gap_median: relative gap of the expected loss to the published law at the target, " \
                   "(L_domain - L_published) / L_published: 0.14 = 14 % above the published law" in lines
            assert any(ln.startswith("  p_departure: P(|loss gap| > departure_tolerance)") for ln in lines)
            assert table["departure_tolerance"].eq(0.02).all()
            if table["p_departure"].gt(0.5).any() and "No prior-data conflict" in printed:
                assert lines[-1].startswith("A domain can depart from the published law and still show no")
        if args[0] == "next-run":  # units of every column
            assert "  width_now: width of the credible interval of the expected loss at the target today, relative " \
                   "to its median (0.12 = the interval spans 12 % of the forecast loss)" in printed.splitlines()
            assert any(ln.startswith("  ess_low: True when ess is below 100") for ln in printed.splitlines())
    assert main(["frontier", str(saved), "--flops", "1e21", "--out", str(tmp_path / "frontier.csv"), "--quiet"]) == 4
    assert capsys.readouterr().err.startswith(f"error: '{tmp_path / 'frontier.csv'}' already exists")
    # predict --seed is predict(random_seed=): the same numbers as Python, other than the fit's seed's
    assert main(["predict", str(saved), "--at", str(at), "--seed", "7", "--out", str(tmp_path / "p7.csv"),
                 "--quiet"]) == 0
    p7, p0 = pd.read_csv(tmp_path / "p7.csv"), pd.read_csv(tmp_path / "predict.csv")
    py7 = bs.ScalingFit.load(saved).predict(pd.read_csv(at), random_seed=7)
    np.testing.assert_allclose(p7["loss_upper"], py7["loss_upper"], rtol=1e-12)
    assert not np.allclose(p7["loss_upper"], p0["loss_upper"], rtol=1e-9, atol=0)


def test_cli_version_is_the_package_version(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--version"])
    assert e.value.code == 0
    assert capsys.readouterr().out.strip() == f"bayes_scaling {bs.__version__}"


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
        (["fit", "runs.csv", "--out", "o", "--domain-col", "corpus"], 2,
         "error: --domain-col 'corpus' is not a column of 'runs.csv' (columns: params, tokens, flops, loss, domain); name the column "
         "that holds each run's domain, or leave --domain-col out to fit the runs as one domain."),
        (["fit", "runs.csv", "--out", "o", "--domain-col", "Domain"], 2,
         "error: --domain-col 'Domain' is not a column of 'runs.csv'; did you mean 'domain'? (columns: params, tokens, flops, "
         "loss, domain); name the column that holds each run's domain, or leave --domain-col out to fit the runs as one "
         "domain."),
        (["fit", "runs.csv", "--out", "o", "--domain-col", "loss", "--quiet"], 2,
         "error: the domain column 'loss' holds sizes or losses, not domains (names such as 'c4' or 'code'); name the "
         "column that holds each run's domain (domain_col=, --domain-col), or leave it out to fit the runs as one domain."),
        # a negative number in scientific notation after a flag was taken for an option ("expected one argument"), and
        # '--budget 0' said "no candidate run fits the budget" (a fresh user)
        (["next-run", "nosuch", "--candidates", "c.csv", "--target-params", "1e10", "--target-tokens", "2e11", "--budget",
          "-1e20"], 2, "error: --budget must be a positive compute budget in FLOPs such as 1e21, got -1e+20."),
        (["next-run", "nosuch", "--candidates", "c.csv", "--target-params", "1e10", "--target-tokens", "2e11", "--budget",
          "0"], 2, "error: --budget must be a positive compute budget in FLOPs such as 1e21, got 0."),
        (["predict", "nosuch", "--at", "t.csv"], 4,
         "error: fit directory 'nosuch' does not exist; give the --out directory of a fit or demo run."),
        (["predict", "nosuch", "--at", "t.csv", "--out", "adir", "--force"], 4,
         "error: --out 'adir' is a directory; give a CSV file name such as 'adir/table.csv'."),
        # the fit goes to rep/fit, which --force may not empty: said before the sampling, not after it (a fresh user
        # waited for the fit, then read a suggestion 'rep/fit/fit' that no --out can give)
        (["fit", "runs.csv", "--out", "rep", "--force", "--quiet"], 4,
         "error: 'rep/fit' already exists and holds files that are not part of a saved fit (notes.txt); a fit is saved "
         "into a new directory or over another saved fit only, so nothing else is deleted. Move those files or choose "
         "another --out."),
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
    (tmp_path / "rep" / "fit").mkdir(parents=True)
    (tmp_path / "rep" / "fit" / "notes.txt").write_text("mine")
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
@pytest.mark.parametrize("process", [
    "in-process",  # main() as the console script calls it
    pytest.param("subprocess", marks=pytest.mark.slow),  # `python -m bayes_scaling.cli`: the exit code of the process
])
def test_cli_errors_are_one_line_without_traceback(tmp_path, monkeypatch, capsys, args, code, message, process):
    args = [a.replace("OUT", str(tmp_path / "o")) for a in args]
    if process == "subprocess":  # ~3 s, nearly all of it importing the package
        r = subprocess.run([sys.executable, "-m", "bayes_scaling.cli", *args], capture_output=True, text=True,
                           cwd=tmp_path)
        returncode, stderr = r.returncode, r.stderr
    else:
        monkeypatch.chdir(tmp_path)
        returncode = main(args)
        stderr = capsys.readouterr().err
    assert returncode == code
    assert "Traceback" not in stderr
    lines = [ln for ln in stderr.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1 and message in lines[0], stderr


# ----------------------------------------------------------------------------- --strict and failed sampling (real fits)

@pytest.fixture
def few_runs_csv(tmp_path):
    """6 runs of the known law: too few draws cannot pass the checks (the same runs as test_fit.py's few_runs)."""
    rng = np.random.default_rng(0)
    n = np.geomspace(5e7, 5e9, 6)
    d = n * np.array([5, 20, 60, 200, 20, 60])
    loss = bs.laws.chinchilla_loss(n, d, E=1.8, A=480.0, B=2000.0, alpha=0.35, beta=0.37)
    path = tmp_path / "runs.csv"
    pd.DataFrame({"params": n, "tokens": d, "loss": loss * np.exp(rng.normal(0, 0.004, n.size))}).to_csv(path, index=False)
    return path


CLI_BAD = ["--draws", "30", "--tune", "10", "--chains", "2", "--target-accept", "0.3", "--prior", "weak",
           "--discrepancy", "none", "--quiet", "--seed", "1"]


@pytest.mark.slow
def test_cli_strict_exits_3_with_one_error_line(few_runs_csv, tmp_path, capsys):
    out = tmp_path / "out"
    code = main(["fit", str(few_runs_csv), "--out", str(out), *CLI_BAD, "--strict"])
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
def test_cli_without_strict_exits_0_with_one_warning_line(few_runs_csv, tmp_path, capsys):
    out = tmp_path / "out"
    code = main(["fit", str(few_runs_csv), "--out", str(out), *CLI_BAD])
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
        assert bs.ScalingFit.load(out / "fit").diagnostics.ok is False
    # a later forecast from that saved fit repeats the warning (one line), and still works
    targets = tmp_path / "t.csv"
    pd.DataFrame({"params": [1e10], "tokens": [2e11]}).to_csv(targets, index=False)
    code = main(["predict", str(out), "--at", str(targets), "--quiet"])
    stdout, err = capsys.readouterr()
    assert code == 0
    warn = [ln for ln in err.splitlines() if ln.startswith("warning: ")]
    assert len(warn) == 2 and "failed its convergence checks when it was made" in warn[0], err
    # and 60 draws leave 3 beyond each end of a 90 % interval (intervals.thin_tails)
    assert warn[1].startswith("warning: a 0.9 interval from 60 posterior draws leaves 3 draws beyond each end"), err
    assert "loss_median" in stdout


# ---------------------------------------------------------------- issue 14: the multi-domain path and a new user's findings


@pytest.fixture
def hier_runs_csv(fake_hier_fit, tmp_path):
    path = tmp_path / "two_domains.csv"
    fake_hier_fit.runs[["params", "tokens", "loss", "domain"]].to_csv(path, index=False)
    return path


def test_cli_fit_of_several_domains_writes_every_domain(fake_hier_fit, hier_runs_csv, tmp_path, monkeypatch, capsys,
                                                         unrasterized_figures):
    """Issue 14: `fit` with a domain column ended in 'add a domain column to the targets', exit 2, nothing written."""
    import dataclasses

    import bayes_scaling.fit as fit_module

    informative = dataclasses.replace(fake_hier_fit, prior=bs.get_prior("besiroglu2024"))
    monkeypatch.setattr(fit_module.ScalingLaw, "fit", lambda self, runs, **kw: informative)
    out = tmp_path / "o"
    assert main(["fit", str(hier_runs_csv), "--out", str(out), "--quiet"]) == 0, capsys.readouterr().err
    for name in ("report.html", "report.md", "predictions.csv", "frontier.csv", "summary.json", "fit/fit.json",
                 "fit_domains.png", "departures.png"):
        assert (out / name).exists(), name
    pred = pd.read_csv(out / "predictions.csv")
    assert list(dict.fromkeys(pred["domain"])) == ["books", "code", "web", "(new domain)"]
    assert list(pred.groupby("domain", sort=False).size()) == [2, 2, 2, 2]
    assert list(pred["domain_kind"].unique()) == ["fitted", "new_domain"]
    fr = pd.read_csv(out / "frontier.csv")
    assert list(dict.fromkeys(fr["domain"])) == ["books", "code", "web", "(new domain)"] and len(fr) == 16
    # targets without a domain: every domain and a new one
    targets = tmp_path / "t.csv"
    pd.DataFrame({"params": [1e9, 7e9], "tokens": [2e10, 1.4e11]}).to_csv(targets, index=False)
    capsys.readouterr()
    assert main(["fit", str(hier_runs_csv), "--out", str(tmp_path / "o2"), "--targets", str(targets), "--quiet"]) == 0
    pred = pd.read_csv(tmp_path / "o2" / "predictions.csv")
    assert len(pred) == 8 and list(pred["domain"][:4]) == ["books", "code", "web", "(new domain)"]
    # the analysis commands on the result: the directory the CLI wrote, every domain where none is named
    capsys.readouterr()
    assert main(["predict", str(out), "--at", str(targets)]) == 0
    assert capsys.readouterr().out.count("(new domain)") == 2
    assert main(["frontier", str(out), "--flops", "1e21", "--domain", "code", "--out", str(tmp_path / "f.csv")]) == 0
    assert pd.read_csv(tmp_path / "f.csv").columns[0] == "domain"  # first, as without --domain (last before)
    assert main(["risk", str(out), "--at", str(targets), "--threshold", "2.5"]) == 0
    assert main(["compare", str(out), "--candidates", str(targets)]) == 2
    assert "this fit has several domains (books, code, web); say which one the candidates are for with --domain NAME" \
        in capsys.readouterr().err
    assert main(["compare", str(out), "--candidates", str(targets), "--domain", "web", "--out",
                 str(tmp_path / "c.csv")]) == 0
    assert (pd.read_csv(tmp_path / "c.csv")["domain"] == "web").all()  # not None: as predict shows it
    assert main(["next-run", str(out), "--candidates", str(targets), "--domain", "web", "--target-params", "7e10",
                 "--target-tokens", "1.4e12", "--n-sims", "8"]) == 0
    assert bs.ScalingFit.load(out).domains == ["books", "code", "web"]  # the directory the CLI wrote


def test_a_failing_step_after_the_fit_keeps_it_and_says_how_to_redo_it(fake_hier_fit, hier_runs_csv, tmp_path,
                                                                       monkeypatch, capsys, unrasterized_figures):
    import bayes_scaling.fit as fit_module
    import bayes_scaling.workflow as workflow_module

    monkeypatch.setattr(fit_module.ScalingLaw, "fit", lambda self, runs, **kw: fake_hier_fit)

    def broken(*a, **k):
        raise ValueError("the risk section broke.")

    monkeypatch.setattr(workflow_module, "risk_section", broken)
    out = tmp_path / "o"
    assert main(["fit", str(hier_runs_csv), "--out", str(out), "--quiet"]) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"error: the fit is saved in '{out / 'fit'}', but the transfer risk step failed: the risk section broke. Redo "
        f"that step from the saved fit with: bayes-scaling risk {out} --at TARGETS.csv --threshold LOSS"]
    assert bs.ScalingFit.load(out / "fit").n_draws == fake_hier_fit.n_draws


def test_fit_prints_the_frontiers_warning_once(fake_hier_fit, hier_runs_csv, tmp_path, monkeypatch, capsys,
                                               unrasterized_figures):
    # a six-domain OpenLM fit through the CLI (session 30): three warnings about compute-optimal runs below the bound (one per domain), then
    # the same three again as "note: the frontier: ..." lines
    import dataclasses

    import bayes_scaling.fit as fit_module

    fit = dataclasses.replace(fake_hier_fit, min_tokens_per_param=1e4)
    monkeypatch.setattr(fit_module.ScalingLaw, "fit", lambda self, runs, **kw: fit)
    assert main(["fit", str(hier_runs_csv), "--out", str(tmp_path / "o"), "--quiet"]) == 0
    captured = capsys.readouterr()
    said = [ln for ln in (captured.err + captured.out).splitlines() if "compute-optimal run(s)" in ln and "fewer" in ln]
    assert len(said) == 1 and said[0].startswith("warning: 16 compute-optimal run(s) of 4 domains ('books', 'code', "
                                                 "'web', a new domain) are trained on fewer than 10000 tokens")
    assert "The frontier: 16 compute-optimal run(s) of 4 domains" in (tmp_path / "o" / "report.md").read_text()


def test_every_option_has_a_sentence_and_its_default():
    import argparse

    from bayes_scaling.cli import build_parser

    parser = build_parser()
    (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    for name, sp in sub.choices.items():
        for action in sp._actions:
            if isinstance(action, argparse._HelpAction) or not action.option_strings:
                continue
            text = action.help or ""
            assert len(text.split()) >= 3, (name, action.option_strings)
            assert "default" in text or "required" in text, (name, action.option_strings, text)


def test_every_flag_a_message_suggests_exists(tmp_path, capsys):
    """Issue 14: backtest suggested --k-smallest and --draws/--tune/--target-accept, which it did not accept."""
    import re

    from bayes_scaling.backtest.command import backtest_cli
    from bayes_scaling.cli import _as_flags, build_parser

    parser = build_parser()
    csv = tmp_path / "runs.csv"
    bs.datasets.load_chinchilla().head(40).to_csv(csv, index=False)
    messages = []
    for args in (["--methods", "published"], ["--split-by", "smallest", "--methods", "published"],
                 ["--cutoff", "1e21", "--k", "3"]):
        with pytest.raises(ValueError) as e:
            backtest_cli([str(csv), *args, "--quiet"])
        messages.append(str(e.value))
    messages.append(_as_flags("Run more draws (draws=2000, tune=2000). Try target_accept=0.95. Raise max_treedepth "
                              "(SamplerConfig(max_treedepth=10)). pass loss_unit='bits'"))
    for cmd in ("backtest", "fit"):
        (sub,) = [a for a in parser._actions if hasattr(a, "choices") and isinstance(a.choices, dict)]
        known = {o for a in sub.choices[cmd]._actions for o in a.option_strings}
        for msg in messages:
            for flag in re.findall(r"--[a-z][a-z-]+", msg):
                if cmd == "fit" and flag in ("--cutoff", "--k", "--split-by", "--methods", "--heldout"):
                    continue  # backtest's own
                if cmd == "backtest" and flag == "--loss-unit":
                    continue
                assert flag in known, (cmd, flag, msg)
    args = build_parser().parse_args(["backtest", str(csv), "--split-by", "smallest", "--k", "4", "--draws", "200",
                                      "--tune", "100", "--target-accept", "0.95"])
    assert (args.k, args.draws, args.tune, args.target_accept) == (4, 200, 100, 0.95)


def test_loss_unit_reaches_the_fit_and_the_threshold_is_converted(fake_fit, tmp_path, monkeypatch, capsys,
                                                                  unrasterized_figures):
    import bayes_scaling.fit as fit_module

    seen = {}

    def fake(self, runs, **kw):
        seen.update(kw)
        return fake_fit

    monkeypatch.setattr(fit_module.ScalingLaw, "fit", fake)
    csv = tmp_path / "runs.csv"
    fake_fit.runs[["params", "tokens", "loss"]].assign(loss=lambda d: d["loss"] / np.log(2)).to_csv(csv, index=False)
    assert main(["fit", str(csv), "--out", str(tmp_path / "o"), "--loss-unit", "bits", "--threshold", "3",
                 "--quiet"]) == 0
    assert seen["loss_unit"] == "bits"
    head = capsys.readouterr().out.splitlines()[0]
    assert head.endswith(f"chance of missing the target {3 * np.log(2):.4g} nats/token.")
    assert "converted to nats" in (tmp_path / "o" / "report.md").read_text()


def test_the_embedded_reference_is_labelled_in_warnings(fake_fit, tmp_path, monkeypatch, unrasterized_figures):
    import bayes_scaling.fit as fit_module
    from bayes_scaling.workflow import fit_and_report

    seen = {}

    def fake(self, runs, **kw):
        seen.update(kw)
        return fake_fit

    monkeypatch.setattr(fit_module.ScalingLaw, "fit", fake)
    fit_and_report(fake_fit.runs, tmp_path / "o", reference="chinchilla")
    assert seen["reference"].attrs["what"] == "reference runs (embedded Chinchilla data)"
    assert len(seen["reference"]) == 245


def test_the_retry_note_comes_before_the_verdict(fake_fit, tmp_path, monkeypatch, unrasterized_figures):
    import dataclasses
    import warnings as w

    import bayes_scaling.fit as fit_module
    from bayes_scaling.workflow import fit_and_report

    noted = dataclasses.replace(fake_fit, notes=["the quick settings failed the checks; sampled again"])
    events = []

    def fake(self, runs, **kw):
        w.warn("Sampling problems: R-hat is 1.02", ConvergenceWarning, stacklevel=1)
        return noted

    monkeypatch.setattr(fit_module.ScalingLaw, "fit", fake)
    old = w.showwarning
    monkeypatch.setattr(w, "showwarning", lambda message, *a, **k: events.append(f"warning: {message}"))
    try:
        with w.catch_warnings():
            w.simplefilter("always")
            w.showwarning = lambda message, *a, **k: events.append(f"warning: {message}")
            fit_and_report(fake_fit.runs, tmp_path / "o", progress=events.append)
    finally:
        w.showwarning = old
    note = events.index("note: the quick settings failed the checks; sampled again")
    warn = events.index("warning: Sampling problems: R-hat is 1.02")
    verdict = next(i for i, e in enumerate(events) if e.startswith("fitted in"))
    assert note < warn < verdict


def test_a_progress_line_while_the_model_compiles(monkeypatch):
    import time as t

    import bayes_scaling.workflow as workflow_module

    cache = []
    monkeypatch.setattr(workflow_module, "compile_cache_info", lambda: list(cache))
    lines = []
    with workflow_module._CompileWatch(lines.append, every=0.2, poll=0.02):
        t.sleep(0.3)
        cache.append("model")
        t.sleep(0.1)
        cache.append("reference summary")  # a fit with --reference compiles a second model
        t.sleep(0.1)
    assert lines[0].startswith("still compiling or sampling (")
    assert [ln.split(", ")[0].split(" (")[0] for ln in lines if "compiled" in ln] == ["model compiled",
                                                                                     "second model compiled"]
    assert " s into the fit (kept for later fits in this process); sampling" in lines[1]
    assert lines[2].startswith("second model compiled (a model of another shape: the reference runs' own fit or the "
                               "fit of the smaller runs for the model-form error), ")


@pytest.mark.slow
def test_same_seed_gives_byte_identical_files_in_two_processes(few_runs_csv, tmp_path):
    """Issue 13 item 5: `fit --seed 1` in two processes (each compiles or loads the model itself) writes the same
    predictions.csv and frontier.csv, byte for byte; another seed does not."""
    def fit(out, seed):
        r = subprocess.run([sys.executable, "-m", "bayes_scaling.cli", "fit", str(few_runs_csv), "--out", str(out),
                            "--seed", str(seed), "--prior", "weak", "--quiet"], capture_output=True, text=True,
                           cwd=tmp_path)
        assert r.returncode == 0, r.stderr
        return {name: (out / name).read_bytes() for name in ("predictions.csv", "frontier.csv")}

    first, second = fit(tmp_path / "a", 1), fit(tmp_path / "b", 1)
    assert first == second
    assert fit(tmp_path / "c", 2)["predictions.csv"] != first["predictions.csv"]


def test_out_below_a_file_is_a_file_error(fake_fit, tmp_path, capsys):
    fit_dir = fake_fit.save(tmp_path / "fit")
    (tmp_path / "notes.txt").write_text("mine")
    code = main(["frontier", str(fit_dir), "--flops", "1e21", "--out", str(tmp_path / "notes.txt" / "f.csv")])
    err = capsys.readouterr().err
    assert code == 4, err
    assert err.strip() == f"error: '{tmp_path / 'notes.txt'}' is a file, not a directory; choose another output path."
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_a_closed_pipe_ends_quietly(fake_fit, tmp_path, monkeypatch, capsys):
    """`bayes-scaling frontier ... | head -1`: the reader closes the pipe; exit 0 and no error line."""
    from bayes_scaling import cli

    def closed(args):
        raise BrokenPipeError(32, "Broken pipe")

    fit_dir = fake_fit.save(tmp_path / "fit")
    monkeypatch.setattr(cli, "cmd_frontier", closed)
    monkeypatch.setattr(sys, "stdout", sys.stdout)  # main() replaces stdout with devnull; the fixture restores it
    assert main(["frontier", str(fit_dir), "--flops", "1e21"]) == 0
    assert "error" not in capsys.readouterr().err


def test_a_misspelt_domain_is_named_with_the_closest_one(fake_hier_fit, tmp_path, capsys):
    fit_dir = fake_hier_fit.save(tmp_path / "fit")
    targets = tmp_path / "t.csv"
    pd.DataFrame({"params": [1e9], "tokens": [2e10]}).to_csv(targets, index=False)
    assert main(["predict", str(fit_dir), "--at", str(targets), "--domain", "cod"]) == 0
    captured = capsys.readouterr()
    said = ("warning: domain 'cod' (domain= / --domain) is not a domain of this fit, so it gets the forecast for a new "
            "domain; did you mean 'code'?")
    assert captured.err.count(said) == 1  # the command's check and predict's say it in the same words, once
    assert "new_domain" in captured.out
    # an intended new domain far from every name: no warning
    assert main(["predict", str(fit_dir), "--at", str(targets), "--domain", "legal-contracts"]) == 0
    captured = capsys.readouterr()
    assert "warning" not in captured.err
    # ... but the table's reader is told which rows are new domains (a fresh user's 'rpj_v2' went unnoticed)
    assert captured.out.splitlines()[-1] == (
        "note: 1 target(s) name domain(s) this fit has not seen ('legal-contracts'): they get the forecast of a new "
        "domain, wider than a fitted domain's (domain_kind 'new_domain'); the fitted domains are 'books', 'code', 'web'.")
    # with --quiet the note goes to stderr: stdout stays the table alone for a script
    assert main(["predict", str(fit_dir), "--at", str(targets), "--domain", "legal-contracts", "--quiet"]) == 0
    captured = capsys.readouterr()
    assert "note:" not in captured.out and "note: 1 target(s) name domain(s) this fit has not seen" in captured.err
    # the new-domain rows that predict adds itself, without --domain, need no note
    assert main(["predict", str(fit_dir), "--at", str(targets)]) == 0
    assert "note:" not in capsys.readouterr().out


def test_next_run_says_when_no_candidate_changes_the_forecast(tmp_path, fake_fit, capsys, monkeypatch):
    """On the demo fit, with a 70B / 1.4T target, candidates from 10M to 1B read -0.014 to +0.0008 of shrinkage on a
    width of 0.194: noise of either sign, ranked per FLOP as if it were a gain, without a word."""
    import bayes_scaling.value_of_information as voi

    monkeypatch.setattr(voi, "SHRINKAGE_RESOLUTION", 0.5)  # on the fake fit every candidate informs the target
    saved = fake_fit.save(tmp_path / "fit")
    cands = tmp_path / "cands.csv"
    pd.DataFrame({"params": [5e7], "tokens": [2.5e8], "label": ["repeat smallest"]}).to_csv(cands, index=False)
    assert main(["next-run", str(saved), "--candidates", str(cands), "--target-params", "7e10", "--target-tokens",
                 "1.4e12", "--n-sims", "16", "--seed", "0", "--out", str(tmp_path / "n.csv"), "--quiet"]) == 0
    err = capsys.readouterr().err
    row = pd.read_csv(tmp_path / "n.csv").iloc[0]
    assert not bool(row["measurable"]) and row["shrinkage"] < 0.5 * row["width_now"]
    assert err == ("warning: 1 candidate(s) repeat a run already made: repeat smallest; a repeat measures the run-to-run "
                   "noise, not the law.\n"
                   f"warning: no candidate narrows the interval at the target measurably (by 50 % of its width, "
                   f"width_now {row['width_now']:.3g}, and by twice the estimate's Monte Carlo error): one more run of "
                   "these sizes would not change this forecast measurably, so the ranking says nothing; try candidates "
                   "nearer the target.\n")


def test_next_run_refuses_too_few_simulations_in_the_flags_words(tmp_path, fake_fit, capsys):
    """--n-sims 0 printed NumPy's "zero-size array to reduction operation minimum which has no identity"."""
    saved = fake_fit.save(tmp_path / "fit")
    cands = tmp_path / "cands.csv"
    pd.DataFrame({"params": [5e7], "tokens": [2.5e8]}).to_csv(cands, index=False)
    for bad in ("0", "1", "-3"):
        assert main(["next-run", str(saved), "--candidates", str(cands), "--target-params", "7e10", "--target-tokens",
                     "1.4e12", "--n-sims", bad, "--quiet"]) == 2
        assert capsys.readouterr().err == (f"error: --n-sims must be at least 2 (simulated outcomes per candidate), "
                                           f"got {bad}; the default is 64.\n")


def test_the_cli_drops_matplotlibs_font_fallback_lines_only(fake_fit, tmp_path, caplog):
    # every fit printed 21 "findfont: Font family ['STIXGeneral'] not found" lines, even with --quiet (a fresh user)
    import logging

    fit_dir = fake_fit.save(tmp_path / "fit")
    assert main(["frontier", str(fit_dir), "--flops", "1e21", "--quiet"]) == 0
    log = logging.getLogger("matplotlib.font_manager")
    with caplog.at_level(logging.WARNING, logger="matplotlib.font_manager"):
        log.warning("findfont: Font family ['STIXGeneral'] not found. Falling back to DejaVu Sans.")
        log.warning("findfont: something else")
    assert [r.getMessage() for r in caplog.records] == ["findfont: something else"]


def test_a_bad_runs_table_is_said_before_the_fitting_line(tmp_path, capsys):
    # "fitting the chinchilla law ... compiling the model first (~15 s ...)" came before the error (a fresh user)
    runs = synthetic_runs()
    runs.loc[6, "params"] = -1.05693e7
    path = tmp_path / "runs.csv"
    runs.to_csv(path, index=False)
    assert main(["fit", str(path), "--out", str(tmp_path / "o")]) == 2
    assert capsys.readouterr().err.splitlines() == [
        "[bayes-scaling] validating runs and building the model",
        "error: column 'params' must be positive; row 7 (file line 8) has -1.05693e+07; fix or drop those runs."]
    assert not (tmp_path / "o").exists()


def test_next_run_names_the_target_flag_it_rejects(fake_fit, tmp_path, capsys):
    # "--target-params 3800" was rejected as "targets column 'params'", a table the user never wrote (a fresh user)
    saved = fake_fit.save(tmp_path / "fit")
    cands = tmp_path / "c.csv"
    pd.DataFrame({"params": [1e9, 2e9], "tokens": [2e10, 4e10]}).to_csv(cands, index=False)
    base = ["next-run", str(saved), "--candidates", str(cands), "--target-tokens", "4e10", "--quiet"]
    assert main([*base, "--target-params", "3800"]) == 2
    assert capsys.readouterr().err == ("error: --target-params looks like it is in millions or billions "
                                       "(largest value 3800); give raw counts, e.g. 7e9 for 7B.\n")
    assert main([*base, "--target-params", "-5"]) == 2
    assert capsys.readouterr().err == "error: --target-params: '-5.0' is not a positive finite number; fix the flag.\n"
    # in scientific notation argparse took it for an option: "expected one argument" (a fresh user)
    assert main([*base, "--target-params", "-1e10"]) == 2
    assert capsys.readouterr().err == ("error: --target-params: '-10000000000.0' is not a positive finite number; fix "
                                       "the flag.\n")


def test_next_run_warns_when_other_candidates_rest_on_few_draws(tmp_path, fake_fit, capsys):
    # 3 of 4 candidates had ess 1-15 and reordered between seeds, with no warning as the first one was fine (a fresh
    # user); ranked by absolute shrinkage, the run near the target comes first and the repeat of the smallest is ess_low
    saved = fake_fit.save(tmp_path / "fit")
    cands = tmp_path / "cands.csv"
    pd.DataFrame({"params": [5e7, 2e10], "tokens": [2.5e8, 4e11], "label": ["repeat smallest", "near target"]}).to_csv(
        cands, index=False)
    assert main(["next-run", str(saved), "--candidates", str(cands), "--target-params", "7e10", "--target-tokens",
                 "1.4e12", "--n-sims", "16", "--seed", "0", "--rank-by", "absolute", "--out", str(tmp_path / "n.csv"),
                 "--quiet"]) == 0
    err = capsys.readouterr().err
    table = pd.read_csv(tmp_path / "n.csv")
    assert list(table["label"]) == ["near target", "repeat smallest"] and list(table["ess_low"]) == [False, True]
    assert err == ("warning: 1 candidate(s) repeat a run already made: repeat smallest; a repeat measures the run-to-run "
                   "noise, not the law.\n"
                   "warning: 1 of 2 candidates' width_after rest on few posterior draws (ess_low True): their shrinkage "
                   "is optimistic and their rank can change with --seed; rank by those with ess_low False.\n")


@pytest.mark.slow
def test_cli_fit_of_data_constrained_runs_explains_their_heavy_tail(tmp_path, capsys):
    """The embedded datablations runs with N < 2B (168, of which many over-fitted at 30-9000 epochs): the fit's
    report says what sets the noise's heavy tail, and the default targets (one epoch) raise no unique_tokens warning."""
    runs = bs.datasets.load_datablations()[["params", "tokens", "unique_tokens", "loss"]]
    csv = tmp_path / "dc.csv"
    runs[runs["params"] < 2e9].to_csv(csv, index=False)
    out = tmp_path / "out"
    assert main(["fit", str(csv), "--law", "data_constrained", "--out", str(out), "--seed", "0"]) == 0
    err = capsys.readouterr().err
    assert "unique_tokens" not in err
    # the note's forecasts of the fit's own runs at many epochs warn nobody; the runs far above the law are said
    assert not [line for line in err.splitlines() if line.startswith("warning:") and "epochs" in line], err
    assert re.search(r"note: \d+ run\(s\) lie more than 5 noise scales above the fitted law \(N = ", err), err
    # all of them in a file: the note named two of 31 (a fresh user)
    far = pd.read_csv(out / "runs_far_above.csv")
    assert f"; and {len(far) - 2} more; all of them in runs_far_above.csv): " in err
    assert (far["noise_scales"] > 5).all() and far["noise_scales"].is_monotonic_decreasing
    assert list(far.columns) == ["domain", "params", "tokens", "unique_tokens", "loss", "noise_scales"]
    md = (out / "report.md").read_text()
    note = next(ln for ln in md.splitlines() if ln.startswith("Heavy-tailed runs"))
    nu = float(re.search(r"degrees of freedom of its Student-t\) is ([\d.]+) ", note).group(1))
    assert 0.5 < nu < 1.5
    m = re.search(r"It is set by (\d+) run\(s\) more than 5 noise scales above the law, (\d+) of them beyond the "
                  r"published R_D\* = 15.4 epochs", note)
    assert 20 <= int(m.group(1)) <= 60 and int(m.group(2)) >= int(m.group(1)) // 2  # mostly over-fitted runs
    ratio = float(re.search(r"one new run is ([\d.]+)x as wide", note).group(1))
    assert ratio > 3
    pred = pd.read_csv(out / "predictions.csv")
    np.testing.assert_array_equal(pred["unique_tokens"], pred["tokens"])
    assert ("- These forecasts and the frontier assume every training token is unique (one epoch, U = D)." in md
            and "The curves assume unique data (U = D): runs that repeat their data lie above them." in md
            and "The curve assumes unique data (U = D): runs that repeat their data lie above it." in md)
    # compare and frontier say what predict says: candidates without U, runs beyond R_D* epochs
    cand = tmp_path / "cand.csv"
    pd.DataFrame({"params": [8.67e9, 2e9], "tokens": [2.2e10, 4e10]}).to_csv(cand, index=False)
    assert main(["compare", str(out), "--candidates", str(cand), "--quiet"]) == 0
    err = capsys.readouterr().err
    assert "warning: the candidates have no 'unique_tokens' column: every token is taken as unique" in err
    pd.DataFrame({"params": [8.67e9, 2e9], "tokens": [2.2e10, 4e10], "unique_tokens": [1e8, 4e10]}).to_csv(cand, index=False)
    assert main(["compare", str(out), "--candidates", str(cand), "--quiet"]) == 0
    assert "warning: 1 candidate(s) repeat their data more than 15.4 times (up to 220 epochs" in capsys.readouterr().err
    assert main(["frontier", str(out), "--flops", "1e21,1e22", "--unique-tokens", "1e8", "--quiet"]) == 0
    err = capsys.readouterr().err
    assert "warning: 2 compute-optimal run(s) repeat their data more than 15.4 times" in err
    assert "most repeated first: N " in err  # the frontier's optimal N, D and U (it crashed naming them: 'params')
    # next-run says it once for the candidates (it filled U silently), never for the target, which has no flag for U
    pd.DataFrame({"params": [8.67e9, 2e9], "tokens": [2.2e10, 4e10]}).to_csv(cand, index=False)
    assert main(["next-run", str(out), "--candidates", str(cand), "--target-params", "8.7e9", "--target-tokens",
                 "1.8e11", "--n-sims", "16", "--quiet"]) == 0
    err = capsys.readouterr().err
    assert err.count("have no 'unique_tokens' column") == 1
    assert "warning: the candidates have no 'unique_tokens' column: every token is taken as unique (one epoch, no " \
           "repeated data); add unique_tokens to rank runs that repeat their data." in err


def test_next_run_takes_the_targets_unique_tokens_from_a_flag(fake_fit, tmp_path, capsys):
    # the target of a data-constrained fit was always read as one epoch: the CLI had no flag for its U (noticed in
    # session 12); the flag is refused for a law that does not see repeated data, where it would be ignored silently
    from conftest import make_fake_fit, synthetic_runs

    runs = synthetic_runs()
    dc = make_fake_fit(runs.assign(unique_tokens=runs["tokens"]), law_name="data_constrained")
    saved = dc.save(tmp_path / "dc")
    cands = tmp_path / "c.csv"
    pd.DataFrame({"params": [1e9, 2e9], "tokens": [2e10, 4e10], "unique_tokens": [2e10, 4e10]}).to_csv(cands,
                                                                                                       index=False)
    base = ["next-run", str(saved), "--candidates", str(cands), "--target-params", "7e10", "--target-tokens", "1.4e12",
            "--n-sims", "4", "--seed", "0", "--quiet", "--force"]
    widths = {}
    for u in ("1.4e12", "1e10"):
        assert main([*base, "--target-unique-tokens", u, "--out", str(tmp_path / f"n{u}.csv")]) == 0
        widths[u] = pd.read_csv(tmp_path / f"n{u}.csv")["width_now"].iloc[0]
    assert main([*base, "--out", str(tmp_path / "default.csv")]) == 0  # default: one epoch, U = D
    assert pd.read_csv(tmp_path / "default.csv")["width_now"].iloc[0] == widths["1.4e12"]
    assert widths["1e10"] != widths["1.4e12"]  # 140 epochs: the law's repeated-data term moves the forecast
    capsys.readouterr()
    assert main([*base, "--target-unique-tokens", "-5"]) == 2
    assert capsys.readouterr().err == ("error: --target-unique-tokens: '-5.0' is not a positive finite number; fix "
                                       "the flag.\n")
    chin = fake_fit.save(tmp_path / "chin")
    assert main(["next-run", str(chin), *base[2:], "--target-unique-tokens", "1e10"]) == 2
    assert capsys.readouterr().err == (
        "error: --target-unique-tokens is for a fit of the data-constrained law; this fit's law is 'chinchilla', which "
        "does not see repeated data. Drop the flag.\n")


@pytest.mark.parametrize("flag, value, message", [
    ("--max-params", "0", "--max-params must be a positive count (e.g. 7e10), got 0; drop the flag for no constraint."),
    # '4' for 4B gave N = 4 and a loss of 7953 nats/token with exit 0 (a fresh user)
    ("--max-params", "4", "--max-params 4 looks like millions or billions of parameters; give a raw count, e.g. 4e9 "
                          "for 4B."),
    ("--inference-tokens", "-5", "--inference-tokens must be zero or a positive count of tokens served (e.g. 1e12), "
                                 "got -5."),
    ("--unique-tokens", "-1", "--unique-tokens must be a positive count (e.g. 7e10), got -1; drop the flag for no "
                              "constraint."),
    ("--unique-tokens", "1e9", "--unique-tokens is a budget of unique data for a fit of the data-constrained law; "
                               "this fit's law is 'chinchilla', which does not see repeated data. Drop the flag."),
])
def test_frontier_refuses_constraints_that_cannot_hold(fake_fit, fake_hier_fit, tmp_path, capsys, flag, value, message):
    # --max-params 0 printed NumPy's "divide by zero encountered in log" and an all-NaN table with exit 0; a
    # --unique-tokens budget on a Chinchilla-law fit was ignored without a word (a fresh user); with and without
    # --domain on a fit of several domains, and in Python
    for fit, extra in ((fake_fit, []), (fake_hier_fit, []), (fake_hier_fit, ["--domain", "code"])):
        saved = fit.save(tmp_path / f"f{len(extra)}{len(fit.domains)}", force=True)
        assert main(["frontier", str(saved), "--flops", "1e21", "--quiet", *extra, flag, value]) == 2
        assert capsys.readouterr().err == f"error: {message}\n"
    name = flag.removeprefix("--").replace("-", "_")
    with pytest.raises(ValueError, match="^" + name):
        fake_fit.frontier([1e21], **{name: float(value)})


def test_frontier_of_one_domain_says_when_the_optimum_lies_outside_the_runs_ratios(fake_fit, tmp_path, capsys):
    # the note was printed for a fit of several domains only: a one-domain frontier at 1.67k tokens per parameter
    # (from runs at 5-200) came without a word
    saved = fake_fit.save(tmp_path / "fit")
    assert main(["frontier", str(saved), "--flops", "1e22", "--max-params", "1e9", "--quiet"]) == 0
    assert capsys.readouterr().err == (
        "warning: the compute-optimal tokens per parameter at these budgets lie outside the D/N of the runs: "
        "1.67e+03 (the runs 5-200): the allocation is an extrapolation of the law; runs near the suggested ratio "
        "would check it.\n")
    assert main(["frontier", str(saved), "--flops", "1e22", "--out", str(tmp_path / "f.csv"), "--quiet"]) == 0
    assert capsys.readouterr().err == ""  # at the unconstrained optimum (~17 tokens per parameter) nothing to say


def test_frontier_of_several_domains_says_what_the_new_domain_row_is(fake_hier_fit, tmp_path, capsys):
    # a fresh user read 0.0037-49006 tokens per parameter for '(new domain)', "printed with no comment"
    saved = fake_hier_fit.save(tmp_path / "fit")
    assert main(["frontier", str(saved), "--flops", "1e21"]) == 0
    printed = capsys.readouterr().out
    n = len([d for d in fake_hier_fit.domains if d not in fake_hier_fit.reference_domains])
    assert "(new domain)" in printed and (
        "\n  domain: the fitted domain, or '(new domain)': one this fit has not seen, its parameters drawn from the "
        f"population of the {n} fitted domains, so its intervals span how much domains may differ (wide with few "
        "domains)\n") in printed


def test_frontier_refuses_a_unique_token_budget_in_billions(tmp_path, capsys):
    # '--unique-tokens 10' (10B meant) gave N = 1.6e16 parameters, D = 10.5k tokens and a loss of 1514 with exit 0
    runs = synthetic_runs().assign(unique_tokens=lambda d: d["tokens"])
    saved = make_fake_fit(runs, law_name="data_constrained").save(tmp_path / "dc")
    assert main(["frontier", str(saved), "--flops", "1e21", "--unique-tokens", "10", "--quiet"]) == 2
    assert capsys.readouterr().err == ("error: --unique-tokens 10 looks like millions or billions of tokens; give a raw "
                                       "count of unique tokens, e.g. 1e10 for 10B.\n")
    with pytest.raises(ValueError, match=r"^unique_tokens 10 looks like millions or billions"):
        bs.ScalingFit.load(saved).frontier([1e21], unique_tokens=10)
    assert main(["frontier", str(saved), "--flops", "1e21", "--unique-tokens", "1e10", "--quiet",
                 "--out", str(tmp_path / "f.csv")]) == 0
    # and says how many epochs the optimum repeats the budget (a fresh user worked them out by hand)
    f = pd.read_csv(tmp_path / "f.csv").iloc[0]
    assert f["unique_tokens"] == 1e10
    for q in ("median", "lower", "upper"):
        assert f[f"epochs_{q}"] == pytest.approx(f[f"tokens_opt_{q}"] / 1e10, rel=1e-12)
    assert f["epochs_lower"] < f["epochs_median"] < f["epochs_upper"]


def test_predict_without_domain_names_the_users_row_of_a_near_miss_domain(fake_hier_fit, tmp_path, capsys):
    # targets without --domain on a fit of several domains are expanded to every domain first, which renumbered the
    # rows: a fresh user read "row 2" for the domain on file line 4 (and "row 3 (file line 4)" with --domain)
    saved = fake_hier_fit.save(tmp_path / "fit")
    at = tmp_path / "t.csv"
    for first, extra in (("code", []), (None, ["--domain", "web"])):  # --domain fills a row that names none
        pd.DataFrame({"params": [1e9, 1e9, 1e9], "tokens": [2e10] * 3, "domain": [first, "code", "cod"]}).to_csv(
            at, index=False)
        assert main(["predict", str(saved), "--at", str(at), "--quiet", "--out", str(tmp_path / "p.csv"), "--force",
                     *extra]) == 0
        assert capsys.readouterr().err == (
            "warning: targets domain 'cod' (row 3 (file line 4)) is not a domain of this fit, so it gets the forecast "
            "for a new domain; did you mean 'code'?\n")


def test_predict_gives_several_levels_in_one_table(fake_fit, tmp_path, capsys):
    # a fresh user called predict twice, with --prob 0.9 and --prob 0.5, to score both levels
    saved = fake_fit.save(tmp_path / "fit")
    at = tmp_path / "t.csv"
    pd.DataFrame({"params": [1e9, 7e10], "tokens": [2e10, 1.4e12]}).to_csv(at, index=False)
    assert main(["predict", str(saved), "--at", str(at), "--prob", "0.9,0.5", "--out", str(tmp_path / "p.csv")]) == 0
    table = pd.read_csv(tmp_path / "p.csv")
    expected = predict(fake_fit, pd.read_csv(at), extra_probs=[0.5])
    np.testing.assert_allclose(table[["loss_lower", "loss_upper_50", "mean_loss_lower_50"]],
                               expected[["loss_lower", "loss_upper_50", "mean_loss_lower_50"]], rtol=1e-12)
    assert "loss_lower_50: lower end of the one-run 50% credible interval" in capsys.readouterr().out
    for prob, message in (("0.9,0.9", "error: --prob gives 0.9 twice; give each level once, e.g. 0.9,0.5.\n"),
                          ("0.9,0.5,0.5", "error: --prob gives 0.5 twice; give each level once, e.g. 0.9,0.5.\n"),
                          ("0.9,x", "error: --prob must be comma-separated numbers such as 0.9,0.5, got '0.9,x'.\n"),
                          ("0.5,90", "error: --prob must be between 0 and 1 (e.g. 0.9), got 90.0.\n")):
        assert main(["predict", str(saved), "--at", str(at), "--prob", prob, "--out", str(tmp_path / "q.csv")]) == 2
        assert capsys.readouterr().err.endswith(message)
    assert not (tmp_path / "q.csv").exists()
    # a command of one level says that predict alone takes several (it read "invalid float value: '0.9,0.5'")
    with pytest.raises(SystemExit) as stop:
        main(["frontier", str(saved), "--flops", "1e22", "--prob", "0.9,0.5"])
    assert stop.value.code == 2 and capsys.readouterr().err == (
        "error: bayes-scaling frontier: argument --prob: '0.9,0.5' is not one probability; only predict takes several "
        "levels (--prob 0.9,0.5) (see 'bayes-scaling frontier --help')\n")


@pytest.mark.filterwarnings("ignore::bayes_scaling.RunsTableWarning")
def test_backtest_through_the_cli_keeps_its_own_levels(tmp_path, capsys):
    # predict's "--prob 0.9,0.5" is parsed before the command runs; backtest's list of levels is its own, and an early
    # version of that parsing turned it into predict's (one level, the others dropped)
    csv = tmp_path / "runs.csv"
    bs.datasets.load_chinchilla().to_csv(csv, index=False)
    assert main(["backtest", str(csv), "--split-by", "flops", "--cutoff", "1e21", "--methods", "published_offset",
                 "--prob", "0.8,0.95", "--points-out", str(tmp_path / "p.csv"), "--quiet"]) == 0
    points = pd.read_csv(tmp_path / "p.csv")
    assert {"loss_lower_80", "loss_lower_95"} <= {c for c in points if c.startswith("loss_lower")}


def test_backtest_and_tables_check_their_output_paths_before_any_work(tmp_path, capsys):
    # backtest --out DIR --force ran the whole fit, then failed with "[Errno 21] Is a directory"; --points-out in a
    # folder that takes no file failed after the summary had been written (a fresh user)
    runs = tmp_path / "runs.csv"
    pd.DataFrame({"params": [1e8] * 3, "tokens": [2e9] * 3, "loss": [3.0] * 3}).to_csv(runs, index=False)
    (tmp_path / "adir").mkdir()
    blocker = tmp_path / "afile"
    blocker.write_text("mine")
    base = ["backtest", str(runs), "--split-by", "smallest", "--k", "2", "--methods", "huber_ls", "--quiet"]
    assert main([*base, "--out", str(tmp_path / "adir"), "--force"]) == 4
    assert capsys.readouterr().err == (f"error: --out '{tmp_path / 'adir'}' is a directory; give a CSV file name such "
                                       f"as '{tmp_path / 'adir' / 'table.csv'}'.\n")
    assert main([*base, "--out", str(tmp_path / "s.csv"), "--points-out", str(blocker / "p.csv")]) == 4
    assert capsys.readouterr().err == f"error: '{blocker}' is a file, not a directory; choose another output path.\n"
    assert not (tmp_path / "s.csv").exists() and blocker.read_text() == "mine"
    from bayes_scaling.io import out_file_problem

    if Path("/proc/self").is_dir():  # a folder that exists and takes no new file, even for root
        assert out_file_problem("/proc/x.csv", False) == (
            "--out '/proc/x.csv' cannot be written: No such file or directory in '/proc'; choose a folder you can "
            "write to.")


def test_fit_force_over_an_earlier_result_leaves_none_of_its_figures(fake_hier_fit, fake_fit, hier_runs_csv, tmp_path,
                                                                      monkeypatch, capsys, unrasterized_figures):
    # a one-domain fit with --force over a three-domain result left its fit_domains.png and departures.png next to
    # the new report (a fresh user); the user's own files in the directory stay
    import bayes_scaling.fit as fit_module

    out = tmp_path / "o"
    monkeypatch.setattr(fit_module.ScalingLaw, "fit", lambda self, runs, **kw: fake_hier_fit)
    assert main(["fit", str(hier_runs_csv), "--out", str(out), "--quiet"]) == 0
    from bayes_scaling.report import FIT_REPORT_FIGURES

    first = {p.name for p in out.glob("*.png")}
    assert {"fit_domains.png", "departures.png"} <= first
    assert {p.removesuffix(".png") for p in first} <= set(FIT_REPORT_FIGURES)  # the list knows every figure
    (out / "my_notes.txt").write_text("mine")
    runs = tmp_path / "one.csv"
    fake_fit.runs[["params", "tokens", "loss"]].to_csv(runs, index=False)
    monkeypatch.setattr(fit_module.ScalingLaw, "fit", lambda self, runs, **kw: fake_fit)
    assert main(["fit", str(runs), "--out", str(out), "--force", "--quiet"]) == 0
    capsys.readouterr()
    pngs = sorted(p.name for p in out.glob("*.png"))
    assert pngs == ["fit_flops.png", "fit_params.png", "forecast.png", "frontier.png", "parameters.png"]
    assert (out / "my_notes.txt").read_text() == "mine"


def test_fit_without_targets_says_how_the_headline_target_was_chosen(fake_fit, tmp_path, monkeypatch, capsys,
                                                                     unrasterized_figures):
    # "A 715M-parameter model on 190B tokens reaches ..." with no word on where that run came from (a fresh user)
    import bayes_scaling.fit as fit_module

    monkeypatch.setattr(fit_module.ScalingLaw, "fit", lambda self, runs, **kw: fake_fit)
    runs = tmp_path / "runs.csv"
    fake_fit.runs[["params", "tokens", "loss"]].to_csv(runs, index=False)
    note = ("No targets were given, so this is the compute-optimal run at 10x the compute of its domain's largest run "
            "(the forecast table also has 100x); give the runs you plan as targets (--targets T.csv, targets=).")
    assert main(["fit", str(runs), "--out", str(tmp_path / "o"), "--quiet"]) == 0
    assert note in (tmp_path / "o" / "report.md").read_text()
    targets = tmp_path / "t.csv"
    pd.DataFrame({"params": [7e10], "tokens": [1.4e12]}).to_csv(targets, index=False)
    assert main(["fit", str(runs), "--out", str(tmp_path / "o2"), "--targets", str(targets), "--quiet"]) == 0
    assert "No targets were given" not in (tmp_path / "o2" / "report.md").read_text()
    capsys.readouterr()


def test_compare_on_a_chinchilla_fit_says_unique_tokens_are_not_used(tmp_path, fake_fit, capsys):
    """A candidates table with repeated data (U < D) on a law without unique tokens was compared without a word."""
    saved = fake_fit.save(tmp_path / "fit")
    cands = tmp_path / "cands.csv"
    pd.DataFrame({"params": [1e9, 1e10], "tokens": [2e10, 2e11], "unique_tokens": [2e10, 5e10]}).to_csv(cands,
                                                                                                         index=False)
    assert main(["compare", str(saved), "--candidates", str(cands), "--quiet", "--out", str(tmp_path / "c")]) == 0
    assert ("warning: column 'unique_tokens' is not used: 1 of the candidates repeat their data, but this fit's law "
            "'chinchilla' takes every token as unique, so they are forecast as if they did not; fit the "
            "data-constrained law (law='data_constrained', --law data_constrained) to compare repeated data."
            in capsys.readouterr().err)
    # unique data (U = D) changes nothing, so nothing is said
    pd.DataFrame({"params": [1e9], "tokens": [2e10], "unique_tokens": [2e10]}).to_csv(cands, index=False)
    assert main(["predict", str(saved), "--at", str(cands), "--quiet", "--out", str(tmp_path / "p")]) == 0
    assert "unique_tokens" not in capsys.readouterr().err


def test_targets_with_epochs_but_no_unique_tokens_are_refused_for_a_data_constrained_fit(tmp_path, capsys):
    """Targets with an 'epochs' column and no unique_tokens were forecast as one epoch with a mere warning: a
    460-epoch run (true loss 10.9) came out at 2.6 (a fresh user). The runs table already refused this."""
    from conftest import make_fake_fit, synthetic_runs

    runs = synthetic_runs()
    saved = make_fake_fit(runs.assign(unique_tokens=runs["tokens"]), law_name="data_constrained").save(tmp_path / "fit")
    at = tmp_path / "at.csv"
    pd.DataFrame({"params": [2.16e9, 4e9], "tokens": [4.6e10, 8e10], "epochs": [460, 1]}).to_csv(at, index=False)
    for cmd in (["predict", str(saved), "--at", str(at)], ["compare", str(saved), "--candidates", str(at)]):
        assert main(cmd + ["--quiet", "--out", str(tmp_path / cmd[0])]) == 2
        assert capsys.readouterr().err.strip().splitlines()[-1] == (
            f"error: the {'targets' if cmd[0] == 'predict' else 'candidates'} have a column 'epochs' but no "
            "'unique_tokens', which the data-constrained law reads: add unique_tokens = tokens / epochs (U, the "
            "unique tokens of each run's data; U = D for a run that never repeats it).")


def test_next_run_target_unique_tokens_above_tokens_is_named_by_its_flags(tmp_path, capsys):
    """The error named "row 0" of a table the user never wrote (a fresh user)."""
    from conftest import make_fake_fit, synthetic_runs

    runs = synthetic_runs()
    saved = make_fake_fit(runs.assign(unique_tokens=runs["tokens"]), law_name="data_constrained").save(tmp_path / "fit")
    cands = tmp_path / "c.csv"
    pd.DataFrame({"params": [1e9, 2e9], "tokens": [2e10, 4e10]}).to_csv(cands, index=False)
    assert main(["next-run", str(saved), "--candidates", str(cands), "--target-params", "8e9", "--target-tokens",
                 "1.6e11", "--target-unique-tokens", "2e11", "--quiet"]) == 2
    assert capsys.readouterr().err == (
        "error: --target-unique-tokens 2e+11 exceeds --target-tokens 1.6e+11: a run cannot see more unique tokens "
        "than it trains on; give U <= D (U = D for a run that never repeats its data).\n")


def test_frontier_with_a_unique_token_budget_says_what_epochs_mean(tmp_path, capsys):
    """epochs_median 0.12 puzzled a fresh user (the budget did not bind); the legend says what it means. A budget the
    optimum repeats more than R_D* times crashed with 'error: params' (exit 2)."""
    from conftest import make_fake_fit, synthetic_runs

    runs = synthetic_runs()
    saved = make_fake_fit(runs.assign(unique_tokens=runs["tokens"]), law_name="data_constrained").save(tmp_path / "fit")
    assert main(["frontier", str(saved), "--flops", "1e19,1e22", "--unique-tokens", "1e9"]) == 0
    cap = capsys.readouterr()
    assert ("  epochs_median: tokens_opt / unique_tokens: how many times the compute-optimal run repeats the unique "
            "data; below 1 the budget does not bind (the optimum uses only that fraction of it, once)"
            in cap.out.splitlines())
    assert "warning: 1 compute-optimal run(s) repeat their data more than 15.4 times" in cap.err


def test_a_domain_a_one_domain_fit_cannot_forecast_is_refused_at_once(tmp_path, fake_fit, capsys):
    """--domain 'defualt' on a one-domain fit warned "it gets the forecast for a new domain", then failed because
    such a fit has none: two messages that contradict each other (a fresh user)."""
    saved = fake_fit.save(tmp_path / "fit")
    at = tmp_path / "at.csv"
    pd.DataFrame({"params": [7e10], "tokens": [1.4e12]}).to_csv(at, index=False)
    assert main(["predict", str(saved), "--at", str(at), "--domain", "defualt", "--quiet"]) == 2
    assert capsys.readouterr().err == (
        "error: --domain 'defualt' is not a domain of this fit (did you mean 'default'?): the fit has a single domain, "
        "'default', and no hierarchy, so it cannot forecast another domain; leave --domain out, or refit with "
        "reference runs (--reference chinchilla).\n")


def _captured_fit(monkeypatch):
    """Replace the fit-and-report step of `fit` by a recorder of what it was given (no sampling)."""
    from bayes_scaling import cli

    seen = {}

    def record(args, runs, out_dir, **kw):
        seen.update(kw, runs=runs, warnings=[])
        return None

    monkeypatch.setattr(cli, "_run_fit_and_report", record)
    return seen


def test_fit_reads_an_embedded_data_set_by_name_with_a_weak_prior(tmp_path, monkeypatch):
    """`fit chinchilla` as `backtest chinchilla`: the embedded runs; the default prior (Besiroglu et al. 2024) was
    fitted on them, so the fit uses the weak prior and says why (it was "file 'chinchilla' does not exist")."""
    seen = _captured_fit(monkeypatch)
    monkeypatch.chdir(tmp_path)
    assert main(["fit", "chinchilla", "--out", "c", "--quiet"]) == 0
    assert len(seen["runs"]) == len(bs.datasets.load_chinchilla())
    assert seen["prior"] == "weak"
    assert seen["data_note"].startswith("Data: Hoffmann")
    assert seen["data_note"].endswith("The prior is weakly informative: the published prior 'besiroglu2024' was "
                                      "fitted on these same runs.")
    seen.clear()
    assert main(["fit", "datablations", "--law", "data_constrained", "--out", "d", "--quiet"]) == 0
    assert "unique_tokens" in seen["runs"] and seen["prior"] == "weak"  # muennighoff2023 was fitted on them
    seen.clear()
    assert main(["fit", "openlm", "--out", "o", "--quiet"]) == 0
    assert seen["prior"] is None  # the default published prior never saw the OpenLM runs


def test_fit_of_an_embedded_data_set_with_its_own_prior_warns(tmp_path, monkeypatch, capsys):
    seen = _captured_fit(monkeypatch)
    monkeypatch.chdir(tmp_path)
    assert main(["fit", "chinchilla", "--prior", "besiroglu2024", "--out", "c", "--quiet"]) == 0
    assert seen["prior"] == "besiroglu2024"
    assert ("the prior 'besiroglu2024' was fitted on the embedded 'chinchilla' runs, so this fit counts them twice and "
            "its intervals are too narrow; leave --prior out (or give --prior weak) for an honest fit."
            in capsys.readouterr().err)
    # ... and the report says it too (the warning alone did not reach the report a reader gets: a fresh user)
    assert seen["data_note"].endswith("The prior 'besiroglu2024' was fitted on these same runs, so this fit counts them "
                                      "twice and its intervals are too narrow.")


def test_a_file_named_like_an_embedded_data_set_wins(tmp_path, monkeypatch):
    seen = _captured_fit(monkeypatch)
    monkeypatch.chdir(tmp_path)
    synthetic_runs().to_csv(tmp_path / "chinchilla", index=False)
    assert main(["fit", "chinchilla", "--out", "c", "--quiet"]) == 0
    assert len(seen["runs"]) == len(synthetic_runs()) and seen["prior"] is None


def test_fit_help_says_which_default_budgets_are_kept(capsys):
    """--help promised 1e21,1e22,1e23,5.88e23 while a fit of small runs kept two of them (a fresh user)."""
    with pytest.raises(SystemExit):
        main(["fit", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert ("(default: those of 1e21,1e22,1e23,5.88e23 within 1000x of the runs' compute, else 10x, 100x and 1000x the "
            "largest run's)") in text



def test_fit_checks_its_budgets_before_fitting(tmp_path, capsys):
    # '--flops 22' fitted, saved, then failed in the forecasts step naming neither the flag nor the fix (a fresh user)
    assert main(["fit", "chinchilla", "--out", str(tmp_path / "o"), "--flops", "22"]) == 2
    assert capsys.readouterr().err.endswith(
        "error: --flops 22: a budget of 22 FLOPs is below any training run (1e+12) (an exponent? write 1e22); give "
        "FLOPs, such as 1e22 (1 PF-day = 8.64e19 FLOPs).\n")
    assert not (tmp_path / "o").exists()


def test_sensitivity_needs_the_chinchilla_law_and_says_so_before_anything_is_made(tmp_path, capsys):
    assert main(["fit", "chinchilla", "--law", "kaplan", "--sensitivity", "--out", str(tmp_path / "o")]) == 2
    assert capsys.readouterr().err.endswith(
        "error: --sensitivity compares the Chinchilla law's published priors; the 'kaplan' law has no such set: leave "
        "--sensitivity out or fit --law chinchilla.\n")
    assert not (tmp_path / "o").exists()


def test_fit_says_each_note_once(fake_fit, tmp_path, monkeypatch, capsys, unrasterized_figures):
    # a fresh user read the frontier's note twice: in the progress lines on stderr, then again after the headline
    import bayes_scaling.decisions as dec
    import bayes_scaling.fit as fit_module

    monkeypatch.setattr(fit_module.ScalingLaw, "fit", lambda self, runs, **kw: fake_fit)
    monkeypatch.setattr(dec, "discrepancy_of", lambda fit, domain, draws=None: lambda x: -0.02 * x["params"])
    runs = tmp_path / "runs.csv"
    fake_fit.runs[["params", "tokens", "loss"]].to_csv(runs, index=False)
    for quiet, out in ((False, "o1"), (True, "o2")):
        assert main(["fit", str(runs), "--out", str(tmp_path / out)] + (["--quiet"] if quiet else [])) == 0
        captured = capsys.readouterr()
        said = [(stream, line) for stream, text in (("out", captured.out), ("err", captured.err))
                for line in text.splitlines() if dec.DISCREPANCY_NOTE in line]
        # on the terminal with the progress lines; with --quiet after the headline, where a script reads it
        assert [s for s, _ in said] == (["out"] if quiet else ["err"]), said
        assert said[0][1].startswith(("note: " if quiet else "[bayes-scaling] note: ") + dec.DISCREPANCY_NOTE)


def test_frontier_gives_the_discrepancy_note_under_the_table(fake_fit, tmp_path, monkeypatch, capsys):
    # a fresh user read the note on where law plus discrepancy is lowest as a "warning:" before the table
    import bayes_scaling.decisions as dec

    monkeypatch.setattr(dec, "discrepancy_of", lambda fit, domain, draws=None: lambda x: -0.02 * x["params"])
    saved = fake_fit.save(tmp_path / "fit")
    assert main(["frontier", str(saved), "--flops", "1e21,1e23"]) == 0
    captured = capsys.readouterr()
    assert "warning" not in captured.err
    assert captured.out.splitlines()[-1].startswith("note: " + dec.DISCREPANCY_NOTE + " (the law plus")
    assert main(["frontier", str(saved), "--flops", "1e21,1e23", "--quiet"]) == 0  # stdout: the CSV alone
    captured = capsys.readouterr()
    assert "note:" not in captured.out and captured.err.startswith("note: " + dec.DISCREPANCY_NOTE)


def test_predict_refuses_one_empty_domain_cell_as_python_does(fake_hier_fit, tmp_path, capsys):
    # the command line gave the row with an empty domain cell the forecast of every domain, without a word, where
    # Python refused it (a fresh user)
    fit_dir = fake_hier_fit.save(tmp_path / "fit")
    targets = tmp_path / "t.csv"
    targets.write_text("params,tokens,domain\n1e9,2e10,code\n2e9,4e10,\n")
    assert main(["predict", str(fit_dir), "--at", str(targets)]) == 2
    assert capsys.readouterr().err.startswith("error: targets column 'domain' is empty in row 2, and this fit has "
                                              "several domains; name the domain of each row")
    targets.write_text("params,tokens\n1e9,2e10\n")  # no domain column at all: every domain, as documented
    assert main(["predict", str(fit_dir), "--at", str(targets), "--quiet"]) == 0


def test_compare_ranks_candidates_of_several_domains_on_the_command_line(tmp_path, fake_hier_fit, capsys):
    """A fresh user with 28 recipes had no command for 'which recipe to scale to 1.3B?'."""
    saved = fake_hier_fit.save(tmp_path / "fit")
    cands = tmp_path / "cands.csv"
    pd.DataFrame({"domain": ["books", "code", "web"], "params": [7e10] * 3, "tokens": [1.4e12] * 3}).to_csv(cands,
                                                                                                          index=False)
    out = tmp_path / "c.csv"
    assert main(["compare", str(saved), "--candidates", str(cands), "--out", str(out)]) == 0
    res = pd.read_csv(out)
    # the table in the order of the rank (a fresh user read it in the candidates' order)
    assert res["rank"].tolist() == [1, 2, 3] and res["domain"].tolist() == ["web", "books", "code"]
    assert res["label"].tolist() == [f"{d}: N=7e+10, D=1.4e+12" for d in ("web", "books", "code")]
    said = "".join(capsys.readouterr())
    assert "web: N=7e+10, D=1.4e+12 ranks first" in said and "The candidates are in several domains" in said


def test_fit_passes_min_tokens_per_param_and_its_advice_reads_as_the_flag(tmp_path, monkeypatch, capsys):
    """`--min-tokens-per-param` reaches the fit (default 1: runs on fewer tokens than parameters are left out), and
    the note's advice "set min_tokens_per_param=0" reads as the flag on the command line."""
    from types import SimpleNamespace

    from bayes_scaling import cli
    from bayes_scaling.cli import _as_flags

    seen = []

    def record(runs, out, **kw):
        seen.append(kw["min_tokens_per_param"])
        return SimpleNamespace(report=SimpleNamespace(summary=[]), notes=[], paths={"html": "", "markdown": "", "fit": ""},
                               fit=None)

    monkeypatch.setattr(cli, "fit_and_report", record)
    monkeypatch.chdir(tmp_path)
    synthetic_runs().to_csv("runs.csv", index=False)
    assert main(["fit", "runs.csv", "--out", "a", "--quiet"]) == 0
    assert main(["fit", "runs.csv", "--out", "b", "--quiet", "--min-tokens-per-param", "0"]) == 0
    assert seen == [1.0, 0.0]
    assert _as_flags("To fit them too, set min_tokens_per_param=0.") == "To fit them too, set --min-tokens-per-param 0."
    # a bad value is refused when the arguments are read, before the runs (it was said after "validating runs")
    for bad in ("nan", "1e400", "-1", "abc"):
        with pytest.raises(SystemExit) as exc:
            main(["fit", "missing.csv", "--out", "c", "--min-tokens-per-param", bad])
        assert exc.value.code == 2
        assert f"argument --min-tokens-per-param: expects a finite number >= 0 (0 fits every run), not '{bad}'" in (
            capsys.readouterr().err)
    assert seen == [1.0, 0.0]


def test_extrapolation_update_flags_give_the_three_settings():
    # the default is the library's "auto" (the update from domains with 3 runs beyond the others); the two flags force
    # it on or off
    from bayes_scaling.cli import _extrapolation_update, build_parser

    p = build_parser()
    got = [_extrapolation_update(p.parse_args([cmd, *flag, "--out", "o"] + (["r.csv"] if cmd == "fit" else [])))
           for cmd in ("fit", "demo") for flag in ([], ["--extrapolation-update"], ["--no-extrapolation-update"])]
    assert got == ["auto", True, False] * 2
