"""bayes_scaling.cli ``decide``: files written, the printed verdict, exit codes and exact one-line errors.

No sampling: the synthetic fits of conftest.py are saved with ``fit.save`` and the CLI runs in-process.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bayes_scaling.cli import main
from bayes_scaling.costs import CostModel, ValueModel
from bayes_scaling.decisions import decide

PLANS = pd.DataFrame({"label": ["1B", "10B", "70B"], "params": [1e9, 1e10, 7e10], "tokens": [2e10, 2e11, 1.4e12]})
PILOTS = pd.DataFrame({"label": ["small", "medium"], "params": [1e9, 5e9], "tokens": [2e10, 1e11]})
#: 1 USD per 1e18 FLOPs; 2000 USD per 0.01 nats/token below 2.3 (the known law reaches ~2.1-2.3 at these plans)
COSTS_TOML = """currency = "USD"
[training]
price_per_flop = 1e-18
[value]
metric = "loss"
higher_is_better = false
baseline = 2.3
money_per_unit = 2000
unit = 0.01
"""
NO_VALUE_TOML = COSTS_TOML.split("[value]")[0]


@pytest.fixture(scope="module")
def files(tmp_path_factory, fake_fit, fake_hier_fit):
    d = tmp_path_factory.mktemp("decide")
    fake_fit.save(d / "fit")
    fake_hier_fit.save(d / "hier")
    PLANS.to_csv(d / "plans.csv", index=False)
    PILOTS.to_csv(d / "pilots.csv", index=False)
    (d / "costs.toml").write_text(COSTS_TOML)
    (d / "no_value.toml").write_text(NO_VALUE_TOML)
    return d


def _args(files, out, *extra, fit="fit", costs="costs.toml"):
    return ["decide", str(files / fit), "--plans", str(files / "plans.csv"), "--costs", str(files / costs),
            "--out", str(out), "--quiet", *extra]


def test_decide_writes_the_tables_and_the_report_with_the_numbers_of_decide(files, fake_fit, tmp_path, capsys):
    out = tmp_path / "decision"
    code = main(_args(files, out, "--pilots", str(files / "pilots.csv"), "--budgets", "1e3,1e5", "--seed", "3"))
    captured = capsys.readouterr()
    assert code == 0, captured.err
    # --quiet: no progress; the table alone on stdout, as CSV (as --help says); the verdict and paths on stderr
    assert "[bayes-scaling]" not in captured.err and captured.err.startswith("Plan 10B")
    assert captured.out == (out / "decision.csv").read_text()
    assert sorted(p.name for p in out.iterdir()) == ["decision.csv", "decision.html", "decision.md", "frontier.csv",
                                                    "net_value.png", "pilots.csv"]
    # the CLI's numbers are decide()'s on the saved fit with the same seed
    costs = CostModel(price_per_flop=1e-18, currency="USD")
    value = ValueModel(metric="loss", higher_is_better=False, baseline=2.3, money_per_unit=2000.0, unit=0.01)
    ref = decide(fake_fit, PLANS, costs, value, pilots=PILOTS, budgets=[1e3, 1e5], random_seed=3)
    assert ref.recommended == "10B"  # 1B earns nothing below 2.3 nats/token, 70B costs 588 k USD
    table = pd.read_csv(out / "decision.csv")
    assert list(table["label"]) == ["1B", "10B", "70B", "do nothing"]
    np.testing.assert_allclose(table["net_value_mean"], ref.plans["net_value_mean"], rtol=1e-9)
    np.testing.assert_allclose(table["p_pays_off"], ref.plans["p_pays_off"])
    assert table.loc[table["recommended"], "label"].tolist() == [ref.recommended]
    assert table.set_index("label").loc["70B", "total_cost"] == pytest.approx(6 * 7e10 * 1.4e12 * 1e-18)
    pilots = pd.read_csv(out / "pilots.csv")
    assert sorted(pilots["label"]) == ["medium", "small"] and (pilots["evsi"] >= 0).all()
    assert list(pd.read_csv(out / "frontier.csv")["budget"]) == [1e3, 1e5]
    # without --quiet: the printed table, then the verdict in words, then where the files are
    loud = [a for a in _args(files, out, "--pilots", str(files / "pilots.csv"), "--budgets", "1e3,1e5", "--seed", "3")
            if a != "--quiet"] + ["--force"]
    assert main(loud) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["option", "cost", "expected", "net", "value", "90%", "interval", "P(pays", "off)",
                                "P(best)"]
    assert [ln.split()[0] for ln in lines[1:5]] == ["1B", "10B", "70B", "do"]
    # doing nothing costs and earns nothing: no P(pays off) (it printed 0.00), its P(best) as decide's
    assert lines[4].split()[-2:] == ["-", f"{ref.plans.loc[ref.plans['label'] == 'do nothing', 'p_best'].item():.2f}"]
    assert lines[6].split()[:3] == ["pilot", "cost", "EVSI"]
    assert any(ln.startswith(f"Plan {ref.recommended} has the highest expected net value") for ln in lines)
    assert ref.summary_text() in lines
    assert lines[-2] == f"report: {out / 'decision.html'}"
    assert lines[-1] == f"tables: {out / 'decision.csv'}, {out / 'pilots.csv'}, {out / 'frontier.csv'}"
    html = (out / "decision.html").read_text()
    assert "data:image/png;base64," in html and ref.recommended in html


def test_decide_with_value_per_point_and_baseline(files, tmp_path, capsys):
    out = tmp_path / "d"
    assert main(_args(files, out, "--value-per-point", "2000", "--baseline", "2.3", costs="no_value.toml")) == 0
    with_file = tmp_path / "d2"
    assert main(_args(files, with_file)) == 0  # the same value model, from the costs file's [value]
    pd.testing.assert_frame_equal(pd.read_csv(out / "decision.csv"), pd.read_csv(with_file / "decision.csv"))
    capsys.readouterr()


@pytest.mark.parametrize("extra, costs, message", [
    (["--value-per-point", "2000"], "no_value.toml",
     "error: --value-per-point needs --baseline, the nats/token of the current model's loss, e.g. --baseline 3.2."),
    (["--value", "VALUE", "--value-per-point", "2000", "--baseline", "2.3"], "costs.toml",
     "error: give the value either as --value FILE or as --value-per-point X with --baseline B, not both."),
    ([], "no_value.toml",
     "error: no value model: 'COSTS' has no [value] section; add one, or give --value FILE (a TOML file with a "
     "[value] section) or --value-per-point X with --baseline B."),
])
def test_decide_value_errors_are_one_line_exit_2_and_write_nothing(files, tmp_path, capsys, extra, costs, message):
    out = tmp_path / "d"
    extra = [str(files / "costs.toml") if x == "VALUE" else x for x in extra]
    assert main(_args(files, out, *extra, costs=costs)) == 2
    assert capsys.readouterr().err == message.replace("COSTS", str(files / costs)) + "\n"
    assert not out.exists()


def test_decide_in_a_fit_of_several_domains_needs_domain(files, tmp_path, capsys):
    out = tmp_path / "d"
    assert main(_args(files, out, fit="hier")) == 2
    assert capsys.readouterr().err == (
        "error: this fit has several domains (books, code, web); say which one the plans are for with --domain NAME "
        "(a name the fit has not seen, e.g. --domain '(new domain)', gives the forecast for a new domain).\n")
    assert not out.exists()
    assert main(_args(files, out, "--domain", "code", fit="hier")) == 0
    assert (out / "decision.csv").exists()
    capsys.readouterr()


def test_decide_does_not_replace_a_non_empty_out_without_force(files, tmp_path, capsys):
    out = tmp_path / "d"
    out.mkdir()
    (out / "decision.csv").write_text("mine\n")
    assert main(_args(files, out)) == 4
    assert capsys.readouterr().err == (
        f"error: output directory '{out}' already exists and is not empty; choose another --out or pass --force to "
        "replace its decision files.\n")
    assert (out / "decision.csv").read_text() == "mine\n" and len(list(out.iterdir())) == 1
    assert main(_args(files, out, "--force")) == 0
    assert pd.read_csv(out / "decision.csv")["label"].iloc[0] == "1B"
    capsys.readouterr()


def test_decide_refuses_to_write_into_a_fit_directory_even_with_force(files, tmp_path, capsys):
    """A fit's --out holds its own frontier.csv and report: --force must not replace them with a decision's."""
    import shutil

    fit_out = tmp_path / "fitdir"
    shutil.copytree(files / "fit", fit_out / "fit")
    (fit_out / "frontier.csv").write_text("the fit's frontier\n")
    for out in (fit_out, fit_out / "fit"):
        assert main(["decide", str(fit_out), "--plans", str(files / "plans.csv"), "--costs", str(files / "costs.toml"),
                     "--out", str(out), "--force", "--quiet"]) == 4
        assert capsys.readouterr().err == (f"error: --out '{out}' holds a saved fit and its tables; write the decision "
                                           "to another directory (the default is bayes-scaling-decision).\n")
    assert (fit_out / "frontier.csv").read_text() == "the fit's frontier\n"


@pytest.fixture(scope="module")
def downstream_dir(tmp_path_factory, fake_fit):
    """A saved DownstreamFit whose posterior is a point (test_downstream._fake_fit), tasks 'language' and 'rises'."""
    import dataclasses

    from test_downstream import _fake_fit

    ds = _fake_fit(np.random.default_rng(0), s_draws=fake_fit.n_draws)
    ds = dataclasses.replace(ds, runs=pd.DataFrame({"loss": [3.0, 3.5], "task": ["rises", "rises"], "metric": [0.5, 0.4],
                                                    "chance": [0.25, 0.25], "n_items": [2000, 2000]}))
    return ds, ds.save(tmp_path_factory.mktemp("ds") / "ds")


def test_decide_on_a_downstream_task_gives_decides_numbers(files, downstream_dir, fake_fit, tmp_path, capsys):
    ds, path = downstream_dir
    out = tmp_path / "d"
    args = ["--downstream", str(path), "--metric", "rises", "--value-per-point", "1000", "--baseline", "0.6"]
    assert main(_args(files, out, *args, costs="no_value.toml")) == 0, capsys.readouterr().err
    value = ValueModel(metric="rises", baseline=0.6, money_per_unit=1000.0, unit=0.01)
    ref = decide(fake_fit, PLANS, CostModel(price_per_flop=1e-18), value, metric="rises", downstream=ds)
    table = pd.read_csv(out / "decision.csv")
    np.testing.assert_allclose(table["metric_median"].iloc[:3], ref.plans["metric_median"].iloc[:3], rtol=1e-12)
    np.testing.assert_allclose(table["net_value_mean"], ref.plans["net_value_mean"], rtol=1e-9)
    assert "the score on rises as one evaluation of the new model shows it" in (out / "decision.md").read_text()
    capsys.readouterr()


@pytest.mark.parametrize("extra, message", [
    (["--metric", "flat"], "error: task 'flat' is not yet predictable (at chance: no rise beyond noise and no trend "
                           "in loss): it was not fitted; choose one of ['language', 'rises'] or 'mean' (their mean)."),
    (["--metric", "rises", "--no-downstream"],
     "error: --metric rises is a downstream task: give --downstream DIR, a downstream fit saved with "
     "DownstreamFit.save (bayes_scaling.downstream), or use --metric loss."),
    (["--metric", "loss"], "error: --downstream is not used with --metric loss: give --metric TASK (or --metric mean) "
                           "for a downstream metric, or drop --downstream."),
    (["--metric", "loss", "--group", "rpj", "--no-downstream"],
     "error: --group is the training corpus for a downstream fit; give it with --downstream DIR and --metric TASK, or "
     "drop it."),
    (["--metric", "rises", "--group", "rpj"],
     "error: --group ['rpj'] given, but this fit has no training corpora (fitted without group_col): it cannot tell "
     "corpora apart ('{ds}'); drop --group."),
])
def test_decide_downstream_errors(files, downstream_dir, tmp_path, capsys, extra, message):
    out = tmp_path / "d"
    ds_args = [] if "--no-downstream" in extra else ["--downstream", str(downstream_dir[1])]
    extra = [x for x in extra if x != "--no-downstream"]
    baseline = "2.3" if "loss" in extra else "0.6"
    assert main(_args(files, out, *ds_args, *extra, "--value-per-point", "1000", "--baseline", baseline,
                      costs="no_value.toml")) == 2
    assert capsys.readouterr().err == message.format(ds=downstream_dir[1]) + "\n"
    assert not out.exists()


def test_decide_says_a_wrong_metric_before_any_progress_line(files, downstream_dir, tmp_path, capsys):
    out = tmp_path / "d"
    args = [a for a in _args(files, out, "--downstream", str(downstream_dir[1]), "--metric", "rise",
                             "--value-per-point", "1000", "--baseline", "0.6", costs="no_value.toml") if a != "--quiet"]
    assert main(args) == 2
    assert capsys.readouterr().err == ("error: task 'rise' is not in the downstream fit (did you mean 'rises'?); choose "
                                       "one of ['language', 'rises'] or 'mean' (their mean), or 'loss'.\n")


@pytest.fixture(scope="module")
def downstream_corpora_dir(tmp_path_factory, fake_fit):
    """The fake downstream fit of downstream_dir with two training corpora, 'c4' (shift +0.1 nats) and 'rpj' (-0.1)."""
    import dataclasses

    from test_downstream import _two_corpus_fake

    ds = _two_corpus_fake(np.random.default_rng(0), s_draws=fake_fit.n_draws)
    ds = dataclasses.replace(ds, runs=pd.DataFrame({"loss": [3.0, 3.5], "task": ["rises", "rises"], "metric": [0.5, 0.4],
                                                    "chance": [0.25, 0.25], "n_items": [2000, 2000]}))
    return ds.save(tmp_path_factory.mktemp("ds2") / "ds")


def test_decide_with_a_downstream_fit_of_several_corpora_needs_group(files, downstream_corpora_dir, tmp_path, capsys):
    out = tmp_path / "d"
    args = ["--downstream", str(downstream_corpora_dir), "--metric", "rises", "--value-per-point", "1000",
            "--baseline", "0.6"]
    assert main(_args(files, out, *args, costs="no_value.toml")) == 2
    assert capsys.readouterr().err == (
        f"error: the downstream fit '{downstream_corpora_dir}' has several training corpora ['c4', 'rpj']: give --group "
        "NAME, the corpus the plans would be trained on (a name it has not seen gets a new corpus's forecast).\n")
    assert not out.exists()
    assert main(_args(files, out, *args, "--group", "rpj", costs="no_value.toml")) == 0, capsys.readouterr().err
    capsys.readouterr()


def test_decide_warns_about_a_group_the_downstream_fit_has_not_seen(files, downstream_corpora_dir, tmp_path, capsys):
    args = ["--downstream", str(downstream_corpora_dir), "--metric", "rises", "--value-per-point", "1000",
            "--baseline", "0.6"]
    assert main(_args(files, tmp_path / "d", *args, "--group", "rpjj", costs="no_value.toml")) == 0
    err = capsys.readouterr().err.splitlines()
    assert err[0] == ("warning: --group 'rpjj' is not a training corpus of the downstream fit ['c4', 'rpj'], so it gets "
                      "a new corpus's forecast (a shift drawn from the spread between corpora); did you mean 'rpj'?")


# ----------------------------------------------------------------------------- the README's example, on its files
EXAMPLE = __import__("pathlib").Path(__file__).resolve().parents[1] / "examples" / "decide"


def test_readme_decide_example_files_are_the_openlm_runs():
    import bayes_scaling as bs
    from bayes_scaling.costs import load_costs, load_value

    openlm = bs.datasets.load_openlm(eval_domains=["c4_val"], train_datasets=["rpj"])
    runs = pd.read_csv(EXAMPLE / "runs.csv")
    both = runs.merge(openlm, on=["params", "tokens"], suffixes=("", "_openlm"))
    assert len(both) == 5 and (both["loss"] == both["loss_openlm"]).all() and runs["params"].max() < 1.6e8
    # the plans OpenLM trained, with the losses the README quotes
    plans = pd.read_csv(EXAMPLE / "plans.csv").merge(openlm, on=["params", "tokens"])
    assert [round(v, 3) for v in plans["loss"]] == [2.769, 2.502, 2.425]
    assert load_costs(EXAMPLE / "costs.toml").currency == "USD"
    assert load_value(EXAMPLE / "costs.toml") is not None
    readme = (EXAMPLE.parents[1] / "README.md").read_text(encoding="utf-8")
    for name in ("runs.csv", "plans.csv", "pilots.csv", "costs.toml"):
        assert f"examples/decide/{name}" in readme, name


@pytest.mark.slow
def test_readme_decide_example_prints_what_the_readme_shows(tmp_path, capsys):
    """The README's two commands on examples/decide/, in-process: the verdict and figures it quotes."""
    fit = tmp_path / "fit"
    assert main(["fit", str(EXAMPLE / "runs.csv"), "--out", str(fit), "--target-accept", "0.99", "--quiet"]) == 0
    capsys.readouterr()
    assert main(["decide", str(fit), "--plans", str(EXAMPLE / "plans.csv"), "--costs", str(EXAMPLE / "costs.toml"),
                 "--pilots", str(EXAMPLE / "pilots.csv"), "--out", str(tmp_path / "decision")]) == 0
    out = capsys.readouterr().out
    assert "Plan B: 1.4B x 921B has the highest expected net value, 361 k USD (90 % interval -148 k USD to 758 k USD)" in out
    assert "pays off with probability 0.91 and is the best option with probability 0.90" in out
    assert "It beats the runner-up, C: 6.9B x 138B (expected net value 195 k USD), in 99 % of the draws." in out
    assert "is not worth its cost (8.8 k USD of information for 13.5 k USD)" in out


def test_decide_names_the_plans_header_for_an_empty_or_header_only_plans_file(files, tmp_path, capsys):
    empty, header = tmp_path / "empty.csv", tmp_path / "header.csv"
    empty.write_text("")
    header.write_text("label,params,tokens\n")
    for plans, tail in ((empty, "is empty; it needs a header line 'label,params,tokens' and one line per plan."),
                        (header, "has a header but no data rows; add one line per plan.")):
        assert main(["decide", str(files / "fit"), "--plans", str(plans), "--costs", str(files / "costs.toml"),
                     "--out", str(tmp_path / "d"), "--quiet"]) == 2
        assert capsys.readouterr().err == f"error: plans table file '{plans}' {tail}\n"


@pytest.mark.parametrize("budgets, message", [
    ("abc", "--budgets must be comma-separated numbers such as 1e5,1e6 (money), got 'abc'."),
    ("1e5,0", "--budgets must be positive amounts of money such as 1e5,1e6, got '1e5,0'."),
    ("", "--budgets is empty; give comma-separated numbers such as 1e5,1e6 (money)."),  # no budget table, no word
])
def test_decide_budgets_errors_give_a_money_example(files, tmp_path, capsys, budgets, message):
    assert main(_args(files, tmp_path / "d", "--budgets", budgets)) == 2
    assert capsys.readouterr().err == f"error: {message}\n"


def test_a_repeated_label_names_the_file_and_the_rows(files, tmp_path, capsys):
    """'plan label 'A' is used twice' named no file or rows, and said 'plan' for a pilots table (a fresh user)."""
    bad = tmp_path / "pilots_dup.csv"
    pd.DataFrame({"label": ["p", "q", "p"], "params": [1e8, 2e8, 3e8], "tokens": [2e9, 4e9, 6e9]}).to_csv(bad, index=False)
    assert main(_args(files, tmp_path / "d", "--pilots", str(bad))) == 2
    assert capsys.readouterr().err.strip() == (
        f"error: pilots table '{bad}': the label 'p' is used by rows 1 and 3 (counted from 1); labels name the options "
        "in the decision, so they must be unique: rename or drop the repeats.")
    missing = tmp_path / "plans_no_tokens.csv"
    pd.DataFrame({"label": ["a"], "params": [1e9]}).to_csv(missing, index=False)
    args = _args(files, tmp_path / "e")
    args[args.index("--plans") + 1] = str(missing)
    assert main(args) == 2
    assert f"plans table '{missing}'" in capsys.readouterr().err


def test_a_plan_far_beyond_the_runs_is_said_once_and_in_the_report(files, tmp_path, capsys):
    """decide priced a 1e13-parameter plan without the warning predict and compare give (a fresh user)."""
    far = tmp_path / "far.csv"
    pd.concat([PLANS, pd.DataFrame({"label": ["huge"], "params": [1e13], "tokens": [2e14]})]).to_csv(far, index=False)
    argv = _args(files, tmp_path / "d", "--seed", "1")
    argv[argv.index("--plans") + 1] = str(far)
    argv.remove("--quiet")
    assert main(argv) == 0
    out, err = capsys.readouterr()
    said = "plan(s) lie more than 1000x beyond the largest run in 'params'"
    assert out.count(said) == 1 and said not in err  # in the verdict on stdout, not again as a warning
    assert said in (tmp_path / "d" / "decision.md").read_text()
