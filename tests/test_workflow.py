"""bayes_scaling.workflow: fit_and_report, the pipeline behind ``bayes-scaling fit`` — the same files as the CLI,
the fit saved before anything is derived from it, nothing overwritten without force. The fit itself is replaced by
a fake posterior (real fits: test_cli.py's demo, slow)."""

from __future__ import annotations

import dataclasses
import json
import warnings

import numpy as np
import pandas as pd
import pytest

import bayes_scaling as bs
import bayes_scaling.fit as fit_module
import bayes_scaling.workflow as workflow_module
from bayes_scaling.cli import main
from bayes_scaling.predict import BelowBoundWarning
from bayes_scaling.report import Report
from bayes_scaling.workflow import DEFAULT_BUDGETS, NEW_DOMAIN, FitReport, default_budgets, default_targets, domain_frontiers, fit_and_report
from conftest import TRUTH, make_fake_fit, unrasterize

FILES = ["fit", "fit_flops.png", "fit_params.png", "forecast.png", "frontier.csv", "frontier.png", "parameters.png",
         "predictions.csv", "report.html", "report.md", "summary.json"]


@pytest.fixture
def fake_fitting(fake_fit, monkeypatch):
    """ScalingLaw.fit returns the fake posterior (and records the specs and keyword arguments)."""
    calls = []

    def fake(self, runs, **kw):
        calls.append((self, kw))
        return fake_fit

    monkeypatch.setattr(fit_module.ScalingLaw, "fit", fake)
    return calls


@pytest.fixture(scope="module")
def notebook_run(fake_fit, tmp_path_factory):
    """fit_and_report as a notebook calls it, once for the module (the fit replaced by the fake posterior)."""
    calls, lines = [], []

    def fake(self, runs, **kw):
        calls.append((self, kw))
        return fake_fit

    out = tmp_path_factory.mktemp("workflow") / "nb"
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(fit_module.ScalingLaw, "fit", fake)
        unrasterize(mp)  # the files and paths are the point here; test_report.py rasterizes the same figures
        res = fit_and_report(fake_fit.runs[["params", "tokens", "loss"]], out, prior="weak", random_seed=3, title="t",
                             progress=lines.append)
    return res, out, calls, lines


def test_fit_and_report_writes_what_the_cli_writes(fake_fit, fake_fitting, notebook_run, tmp_path, capsys,
                                                   monkeypatch):
    res, out, calls, lines = notebook_run
    assert isinstance(res, FitReport) and res.fit is fake_fit
    assert sorted(p.name for p in out.iterdir()) == FILES
    assert res.paths["fit"] == out / "fit" and res.paths["html"].name == "report.html"
    assert [p.name for p in res.paths["figures"]] == ["parameters.png", "fit_flops.png", "fit_params.png",
                                                      "frontier.png", "forecast.png"]
    spec, kw = calls[0]
    assert spec.prior.name == "weak" and kw["random_seed"] == 3 and kw["strict"] is False
    assert lines[0] == "validating runs and building the model" and lines[-1].startswith("writing the report")
    # the same run through the CLI: the same tables (its report is the same call; not drawn twice here)
    monkeypatch.setattr(workflow_module, "build_fit_report", lambda *a, **k: Report("stub", summary=["stub"]))
    fake_fit.runs[["params", "tokens", "loss"]].to_csv(tmp_path / "runs.csv", index=False)
    assert main(["fit", str(tmp_path / "runs.csv"), "--out", str(tmp_path / "cli"), "--prior", "weak", "--seed", "3",
                 "--quiet"]) == 0
    capsys.readouterr()
    for name in ("predictions.csv", "frontier.csv"):
        pd.testing.assert_frame_equal(pd.read_csv(out / name), pd.read_csv(tmp_path / "cli" / name))
    a, b = (json.loads((d / "summary.json").read_text()) for d in (out, tmp_path / "cli"))
    a.pop("timings"), b.pop("timings")
    assert a == b
    pd.testing.assert_frame_equal(res.predictions, pd.read_csv(out / "predictions.csv"), check_dtype=False)


def _small_runs(top_params):
    n = np.geomspace(1e7, top_params, 5)
    return pd.DataFrame({"params": n, "tokens": 20 * n, "loss": bs.laws.chinchilla_loss(n, 20 * n, **TRUTH)})


@pytest.mark.parametrize("top_params, budgets", [
    (1.5e8, (2.7e19, 2.7e20, 2.7e21)),  # largest run 2.7e18 FLOPs: only 1e21 of the defaults within 1000x
    (3e8, (1e21, 1e22)),          # largest run 1.1e19 FLOPs (README's decide example): 1e23 and 5.88e23 are beyond
    (1.1535e8, (1.6e19, 1.6e20, 1.5e21)),  # largest run 1.597e18: 10x and 100x as the default targets are printed
])
def test_default_budgets_stay_within_reach_of_the_runs(top_params, budgets):
    fit = make_fake_fit(_small_runs(top_params))
    assert default_budgets(fit) == budgets
    with warnings.catch_warnings():
        warnings.simplefilter("error", bs.ExtrapolationWarning)  # five small runs were warned about 5.88e23 FLOPs
        fr, _notes = domain_frontiers(fit, default_budgets(fit))
    assert list(fr["flops"]) == list(budgets)
    with pytest.warns(bs.ExtrapolationWarning, match=r"budget\(s\) lie more than 1000x above the largest run's compute"):
        domain_frontiers(fit, DEFAULT_BUDGETS)


def test_default_targets_and_budgets(fake_fit, notebook_run):
    res = notebook_run[0]
    targets = default_targets(fake_fit)
    assert len(targets) == 2 and (targets["domain"] == "default").all()
    c = 6 * targets["params"] * targets["tokens"]
    pd.testing.assert_series_equal(c / c.iloc[0], pd.Series([1.0, 10.0]), check_names=False, rtol=1e-9)
    assert c.iloc[0] == pytest.approx(10 * fake_fit.runs["flops"].max(), rel=1e-9)
    pd.testing.assert_frame_equal(res.predictions[["domain", "params", "tokens"]], targets, check_dtype=False)
    assert list(res.frontier["flops"]) == list(DEFAULT_BUDGETS)
    assert res.summary["predictions"][0]["params"] == targets["params"].iloc[0]


def _fit_of_the_law(params, tokens):
    """A fake fit (published prior) of runs that lie on the known law at these sizes, built without its warnings."""
    runs = pd.DataFrame({"params": params, "tokens": tokens,
                         "loss": bs.laws.chinchilla_loss(params, tokens, **TRUTH)})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return make_fake_fit(runs, prior="besiroglu2024")


def test_runs_at_one_d_get_targets_that_scale_n_at_that_d():
    # a fresh user's routing runs (6 sizes, every one on 131B tokens) were headlined "A 27.8B-parameter model on
    # 6.21B tokens": a compute-optimal split that only the prior knows
    from bayes_scaling.report import build_fit_report

    n = np.geomspace(1.6e7, 1.3e8, 6)
    fit = _fit_of_the_law(n, 1.3e11)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        targets = default_targets(fit)
    assert list(targets.columns) == ["domain", "params", "tokens"]
    np.testing.assert_allclose(targets["params"], [10 * n[-1], 100 * n[-1]], rtol=1e-12)
    assert (targets["tokens"] == 1.3e11).all()
    pred = fit.predict(targets)
    pred.attrs[workflow_module.DEFAULT_TARGETS] = True
    front, _ = domain_frontiers(fit, [1e23])
    summary = build_fit_report(fit, pred, front).summary
    assert summary[1] == ("No targets were given, so this is a run with 10x the parameters of its domain's largest "
                          "run, on the 130B tokens every run was trained on (the forecast table also has 100x); give the "
                          "runs you plan as targets (--targets T.csv, targets=).")
    assert summary[2].endswith("; every run has one D (tokens), so the runs do not measure this split: it rests on the "
                               "prior and the law's form.")
    # its figures: loss along N (the measured axis), no compute-optimal curve or frontier figure
    report = build_fit_report(fit, pred, front)
    text = report.to_markdown()
    assert "fit_params.png" in text and "fit_flops.png" not in text and "frontier.png" not in text
    assert "so the loss-vs-compute figure of the compute-optimal allocation is left out" in text
    # runs at several D keep the compute-optimal targets
    assert bs.data.single_size_axis(fit.runs.assign(tokens=20 * n)) is None


def test_a_params_only_fit_reports_and_has_no_frontier(tmp_path, monkeypatch):
    # a fresh user's params-only table (one-variable law) sampled, saved, then stopped at "error: flops" (the default
    # budgets read the runs' FLOPs) and its frontier at "error: tokens"
    n = np.geomspace(1.6e7, 1.3e9, 8)
    runs = pd.DataFrame({"params": n, "loss": 1.8 + 400 / n**0.3})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = make_fake_fit(runs, law_name="power_params", prior="weak")
    monkeypatch.setattr(fit_module.ScalingLaw, "fit", lambda self, r, **kw: fit)
    res = fit_and_report(runs, tmp_path / "o", law="power_params", prior="weak")
    assert res.frontier is None and list(res.predictions["params"]) == [10 * n[-1], 100 * n[-1]]
    assert ("The law reads N alone: its forecasts hold for models trained as the runs were (on their number of tokens, "
            "whose term it folds into E); for another D fit a law of N and D.") in res.report.summary
    assert {"report.html", "predictions.csv", "fit"} <= {p.name for p in (tmp_path / "o").iterdir()}
    with pytest.raises(ValueError, match=r"^the power_params law does not depend on both N and D, so it has no "
                                         r"compute-optimal split\.$"):
        fit.frontier([1e21])


def test_the_fit_is_saved_before_anything_is_derived_from_it(fake_fit, fake_fitting, tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("figure failed")

    monkeypatch.setattr(workflow_module, "build_fit_report", broken)
    with pytest.raises(RuntimeError, match="figure failed"):
        fit_and_report(fake_fit.runs, tmp_path / "o")
    # the posterior survived the failure; nothing derived was written
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == ["fit"]
    assert bs.ScalingFit.load(tmp_path / "o" / "fit").n_draws == fake_fit.n_draws


def test_nothing_is_overwritten_without_force(fake_fit, fake_fitting, tmp_path, monkeypatch):
    monkeypatch.setattr(workflow_module, "build_fit_report", lambda *a, **k: Report("stub"))  # no figures needed here
    out = tmp_path / "o"
    out.mkdir()
    (out / "mine.txt").write_text("keep")
    with pytest.raises(FileExistsError, match="already exists and is not empty; choose another directory or pass "
                                              "force=True"):
        fit_and_report(fake_fit.runs, out)
    assert fake_fitting == [] and (out / "mine.txt").read_text() == "keep"  # refused before fitting
    fit_and_report(fake_fit.runs, out, force=True)
    assert (out / "mine.txt").read_text() == "keep" and (out / "report.html").exists()
    with pytest.raises(FileExistsError, match="is a file; give a directory"):
        fit_and_report(fake_fit.runs, out / "mine.txt")
    with pytest.raises(ValueError, match="interval probability must be between 0 and 1"):
        fit_and_report(fake_fit.runs, tmp_path / "p", prob=1.5)


def test_a_hierarchical_fit_gets_the_transfer_risk_section(fake_hier_fit, monkeypatch, tmp_path):
    import dataclasses

    informative = dataclasses.replace(fake_hier_fit, prior=bs.get_prior("besiroglu2024"))
    monkeypatch.setattr(fit_module.ScalingLaw, "fit", lambda self, runs, **kw: informative)
    targets = pd.DataFrame({"params": [7e10], "tokens": [1.4e12], "domain": ["code"]})
    heldout = pd.DataFrame({"params": [1e10], "tokens": [2e11], "domain": ["code"], "loss": [2.3]})
    res = fit_and_report(informative.runs, tmp_path / "h", targets=targets, heldout=heldout, threshold=2.0,
                         flops=[1e21])
    assert [s.title for s in res.report.sections][-1] == "Transfer risk"
    assert (tmp_path / "h" / "departures.png").exists() and (tmp_path / "h" / "fit_domains.png").exists()
    assert res.predictions["label"].tolist()[-1] == "held-out run" and res.predictions["loss"].iloc[-1] == 2.3
    # the frontier of every domain and of a new one (issue 14)
    assert list(res.frontier["flops"]) == [1e21] * 4
    assert list(res.frontier["domain"]) == ["books", "code", "web", "(new domain)"]


def test_the_default_headline_of_several_domains_says_it_is_the_first_not_a_pick(fake_hier_fit, monkeypatch, tmp_path,
                                                                                 unrasterized_figures):
    # "A 536M-parameter model on 6.5B tokens (smollm-corpus) reaches 2.355" for the first of six corpora was read as
    # the recommended or best corpus (a fresh user); targets the user gives are headlined as before
    monkeypatch.setattr(fit_module.ScalingLaw, "fit", lambda self, runs, **kw: fake_hier_fit)
    res = fit_and_report(fake_hier_fit.runs[["params", "tokens", "loss", "domain"]], tmp_path / "d")
    head = res.report.summary[0]
    assert head.startswith("A ") and " (books, the first of the 3 domains in the runs table) reaches " in head, head
    targets = pd.DataFrame({"params": [7e10], "tokens": [1.4e12], "domain": ["books"]})
    res = fit_and_report(fake_hier_fit.runs[["params", "tokens", "loss", "domain"]], tmp_path / "t", targets=targets)
    assert res.report.summary[0].startswith("A 70B-parameter model on 1.4T tokens (books) reaches ")


def test_summary_json_carries_the_published_values_the_report_shows(fake_chinchilla_fit, monkeypatch, tmp_path,
                                                                    unrasterized_figures):
    """Weak prior: summary.json and the report's posterior table both carry the Besiroglu et al. (2024) values,
    the same numbers (to the digits the report shows)."""
    monkeypatch.setattr(fit_module.ScalingLaw, "fit", lambda self, runs, **kw: fake_chinchilla_fit)
    res = fit_and_report(fake_chinchilla_fit.runs[["params", "tokens", "loss"]], tmp_path / "r", prior="weak")
    s = json.loads((tmp_path / "r" / "summary.json").read_text(encoding="utf-8"))
    assert s == json.loads(json.dumps(res.summary))
    assert s["published_source"] == "besiroglu2024" and s["data"]["n_runs"] == 234 and s["diagnostics_ok"] is True
    published = {k: v["published"] for k, v in s["parameters"]["chinchilla"].items()}
    assert published == pytest.approx({"A": 482.006, "B": 2085.434, "E": 1.81686, "alpha": 0.34781, "beta": 0.365854},
                                      rel=1e-5)
    md = (tmp_path / "r" / "report.md").read_text(encoding="utf-8")
    assert "Published column: Besiroglu et al. (2024) estimates, for comparison." in md
    rows = [line.split(" | ") for line in md.splitlines() if line.startswith("| chinchilla | ")]
    rows = [r for r in rows if len(r) == 6]  # the posterior table (the Data section has a chinchilla row too)
    shown = {r[1]: float(r[-1].rstrip(" |")) for r in rows}
    assert list(shown) == ["A", "B", "E", "alpha", "beta"]
    for k, v in shown.items():  # four significant digits
        assert v == pytest.approx(published[k], rel=5e-4), k
    html = (tmp_path / "r" / "report.html").read_text(encoding="utf-8")
    assert all(f">{r[-1].rstrip(' |')}</td>" in html for r in rows)


def test_write_decision_writes_the_tables_and_the_report_and_asks_before_replacing(fake_fit, tmp_path):
    from bayes_scaling.costs import CostModel, ValueModel
    from bayes_scaling.decisions import decide
    from bayes_scaling.workflow import write_decision

    plans = pd.DataFrame({"label": ["1B", "10B"], "params": [1e9, 1e10], "tokens": [2e10, 2e11]})
    costs = CostModel(price_per_flop=1e-18)
    value = ValueModel(metric="loss", higher_is_better=False, baseline=2.3, money_per_unit=2e3, unit=0.01)
    with pytest.warns(UserWarning, match="pilot 'p2' costs at least as much compute as the largest plan"):
        res = decide(fake_fit, plans, costs, value, pilots=plans.assign(label=["p1", "p2"]), budgets=[1e4])
    paths = write_decision(res, tmp_path / "d")
    assert sorted(p.name for p in (tmp_path / "d").iterdir()) == ["decision.csv", "decision.html", "decision.md",
                                                                  "frontier.csv", "net_value.png", "pilots.csv"]
    table = pd.read_csv(paths["decision"])
    pd.testing.assert_frame_equal(table[["label", "net_value_mean", "p_pays_off"]],
                                  res.plans[["label", "net_value_mean", "p_pays_off"]], check_exact=False, rtol=1e-12)
    assert list(pd.read_csv(paths["pilots"])["label"]) == list(res.pilots["label"])
    with pytest.raises(FileExistsError, match="already exists and is not empty; choose another directory or pass "
                                              "force=True"):
        write_decision(res, tmp_path / "d")
    # replacing: the files of the earlier run that this one does not write go; the user's own stay
    (tmp_path / "d" / "notes.txt").write_text("mine")
    plain = decide(fake_fit, plans, costs, value)
    write_decision(plain, tmp_path / "d", force=True)
    assert sorted(p.name for p in (tmp_path / "d").iterdir()) == ["decision.csv", "decision.html", "decision.md",
                                                                  "net_value.png", "notes.txt"]


def test_warnings_about_the_targets_reach_the_report_once(fake_fit, monkeypatch, tmp_path):
    """A fresh user's targets at 460 epochs and 0.036 tokens per parameter were warned about on stderr only, and twice
    (again, renumbered "row 7" for "row 8 (file line 9)", when predict validated the expanded table)."""
    monkeypatch.setattr(fit_module.ScalingLaw, "fit", lambda self, runs, **kw: fake_fit)
    targets = pd.DataFrame({"params": [7e10, 1e10], "tokens": [1.4e12, 3.5e8]})  # row 1: 0.035 tokens per parameter
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        res = fit_and_report(fake_fit.runs[["params", "tokens", "loss"]], tmp_path / "out", prior="weak",
                             targets=targets)
    said = [str(w.message) for w in rec if "tokens per parameter, outside" in str(w.message)]
    assert said == ["targets: 1 target(s) (row 1) have as few as 0.035 tokens per parameter, outside 0.1-10,000; check "
                    "that 'params' and 'tokens' are raw counts of the same run."]
    note = "warning about the targets: " + said[0].removeprefix("targets: ")  # not "...targets: targets: 1 target(s)"
    assert note.startswith("warning about the targets: 1 target(s) (row 1) have") and note in res.notes
    assert note in json.loads((tmp_path / "out" / "summary.json").read_text())[
        "workflow_notes"]
    assert ("WARNING: the targets raised 1 warning (listed under Notes at the end): some forecasts above lie where the "
            "law is known to fail or the sizes look mistyped; read it before using those rows.") in res.report.summary


def test_warnings_about_the_runs_reach_the_report_and_summary_json(fake_fit, monkeypatch, tmp_path):
    """A fresh user's runs in bits, or with repeated rows, got a warning on the terminal but a report and a summary.json
    that said nothing of it."""
    message = "the losses run from 3.9 to 5.9: that looks like bits per token; pass loss_unit='bits'"

    def fake(self, runs, **kw):
        warnings.warn(message, bs.RunsTableWarning, stacklevel=2)
        return fake_fit

    monkeypatch.setattr(fit_module.ScalingLaw, "fit", fake)
    seen = {}
    monkeypatch.setattr(workflow_module, "build_fit_report",
                        lambda *a, **k: seen.update(k) or Report("stub", summary=["stub"]))
    lines = []
    with pytest.warns(bs.RunsTableWarning, match="looks like bits"):  # still shown when raised
        res = fit_and_report(fake_fit.runs[["params", "tokens", "loss"]], tmp_path / "out", prior="weak",
                             progress=lines.append)
    assert seen["notes"][0] == "warning about the runs: " + message
    assert json.loads((tmp_path / "out" / "summary.json").read_text())["workflow_notes"][0] == seen["notes"][0]
    assert res.notes == seen["notes"]
    assert not any(message in line for line in lines)  # shown once, when raised, not again as a note
    # the CLI's report gave "pass loss_unit='bits'" where its stderr said --loss-unit bits (a fresh user)
    from bayes_scaling.cli import _as_flags

    with pytest.warns(bs.RunsTableWarning):
        res = fit_and_report(fake_fit.runs[["params", "tokens", "loss"]], tmp_path / "out2", prior="weak",
                             advice_style=_as_flags)
    assert res.notes[0] == ("warning about the runs: the losses run from 3.9 to 5.9: that looks like bits per token; "
                            "pass --loss-unit bits")


def test_a_warning_only_about_runs_the_fit_leaves_out_is_kept_but_not_counted(fake_fit, monkeypatch, tmp_path):
    """A fresh user's isoFLOP sweep was told "WARNING: the runs raised 1 warning ..., which may change the numbers
    above" about 48 runs below 0.1 tokens per parameter that the fit had left out."""
    import dataclasses

    message = "1 run(s) (row 0) have as few as 0.05 tokens per parameter, outside 0.1-10,000; check ..."

    def fake(self, runs, **kw):
        warnings.warn(message, bs.LeftOutRunsWarning, stacklevel=2)
        return self._fit  # set below

    monkeypatch.setattr(fit_module.ScalingLaw, "fit", fake)
    seen = {}
    monkeypatch.setattr(workflow_module, "build_fit_report",
                        lambda *a, **k: seen.update(k) or Report("stub", summary=["stub"]))
    runs = fake_fit.runs[["params", "tokens", "loss"]]
    for bound, prefix in [(1.0, "warning about runs the fit leaves out: "), (0.0, "warning about the runs: ")]:
        monkeypatch.setattr(fit_module.ScalingLaw, "_fit", dataclasses.replace(fake_fit, min_tokens_per_param=bound),
                            raising=False)
        with pytest.warns(bs.LeftOutRunsWarning):
            res = fit_and_report(runs, tmp_path / f"out{bound:g}", prior="weak")
        assert res.notes[0] == prefix + message  # counted by the summary only while the fit lets those runs in


def test_a_compute_optimal_ratio_outside_the_runs_is_named_in_a_note(fake_fit):
    """A fresh user's OpenLM fit reported 1-3 tokens per parameter from runs at 5-640 without a word of caution."""
    from conftest import make_fake_fit, synthetic_runs
    from bayes_scaling.workflow import domain_frontiers

    table, notes = domain_frontiers(fake_fit, [1e21, 1e23])  # runs at 5-200 tokens per parameter, optimum ~20 inside
    assert notes == [] and len(table) == 2
    over = make_fake_fit(synthetic_runs(ratios=(100, 200, 400)))  # the same law, runs far over-trained
    table, notes = domain_frontiers(over, [1e21, 1e23])
    tpp = table["tokens_per_param_median"]
    assert (tpp < 100).all()
    assert notes == ["the compute-optimal tokens per parameter at these budgets lie outside the D/N of the runs: "
                     f"{tpp.min():.3g}-{tpp.max():.3g} (the runs 100-400): the allocation is an extrapolation of "
                     "the law; runs near the suggested ratio would check it."]
    # several domains: each is named
    two = make_fake_fit(pd.concat([synthetic_runs(ratios=(100, 200, 400), domain="a"),
                                   synthetic_runs(ratios=(100, 200, 400), domain="b", seed=1)], ignore_index=True))
    table, notes = domain_frontiers(two, [1e21, 1e23])
    assert len(notes) == 1 and notes[0].startswith(
        "the compute-optimal tokens per parameter at these budgets lie outside the D/N of the runs: domain 'a' ")
    assert "; domain 'b' " in notes[0] and notes[0].count("(its runs 100-400)") == 2
    # a new domain has no runs of its own: its ratio is set against all of the user's ("its runs" read odd, a fresh user)
    assert "; a new domain " in notes[0] and notes[0].count("(all your runs 100-400)") == 1
    # the user's one domain next to another (as next to reference runs): "your runs 109-149 (its runs 5-10)" read as
    # the runs' own ratio (a fresh user's fit with --reference chinchilla)
    from bayes_scaling.data import DEFAULT_DOMAIN

    mine = make_fake_fit(pd.concat([synthetic_runs(ratios=(100, 200, 400), domain=DEFAULT_DOMAIN),
                                    synthetic_runs(ratios=(100, 200, 400), domain="b", seed=1)], ignore_index=True))
    table, notes = domain_frontiers(mine, [1e21, 1e23])
    tpp = table.loc[table["domain"] == DEFAULT_DOMAIN, "tokens_per_param_median"]
    assert len(notes) == 1 and notes[0].startswith(
        "the compute-optimal tokens per parameter at these budgets lie outside the D/N of the runs: "
        f"{tpp.min():.3g}-{tpp.max():.3g} (your runs 100-400); domain 'b' ")


def test_runs_at_one_n_get_default_targets_within_the_plausible_tokens_per_parameter():
    """Runs of 100M parameters on 1.6-24B tokens: the default 100x target was 24,000 tokens per parameter and was
    warned about as a unit slip in targets the user never gave (a fresh user)."""
    from bayes_scaling.report import build_fit_report

    fit = _fit_of_the_law(1e8, np.array([1.6e9, 3e9, 6e9, 1.2e10, 2.4e10]))
    with warnings.catch_warnings():
        warnings.simplefilter("error", bs.RunsTableWarning)
        targets = default_targets(fit)
        pred = fit.predict(targets)
    np.testing.assert_allclose(targets["tokens"], [2.4e11, 1e12], rtol=1e-12)  # 10x, then 100x held at 10,000 D/N
    assert (targets["params"] == 1e8).all()
    pred.attrs[workflow_module.DEFAULT_TARGETS] = True
    front, _ = domain_frontiers(fit, [1e21])
    assert build_fit_report(fit, pred, front).summary[1] == (
        "No targets were given, so this is a run on 10x the tokens of its domain's largest run, with the 100M "
        "parameters every run had (the forecast table also has 100x; both at most 10,000 tokens per parameter); give "
        "the runs you plan as targets (--targets T.csv, targets=).")


def test_runs_at_one_d_keep_their_d_when_the_grown_n_is_held_back():
    """Runs at one D of 10B: 100x the largest N (2B) would be 200B parameters, 0.05 tokens per parameter; the target
    keeps D = 10B and holds N at 100B (0.1); the clip of 8d3c0b9 moved D to 20B instead."""
    fit = _fit_of_the_law(np.geomspace(2e8, 2e9, 5), 1e10)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        targets = default_targets(fit)
    assert (targets["tokens"] == 1e10).all()
    np.testing.assert_allclose(targets["params"], [2e10, 1e11], rtol=1e-12)


def test_the_fit_time_line_accounts_for_the_reference_runs(fake_fit, monkeypatch, tmp_path):
    # "second model compiled after 33 s", then "fitted in 33.7 s (compile 17.5 s, sampling 1.0 s)": the parts did not
    # add up, the rest being the reference runs' own fit (a fresh user)
    timed = dataclasses.replace(fake_fit, timings={"prepare_seconds": 12.0, "compile_seconds": 18.3,
                                                   "sample_seconds": 0.8, "total_seconds": 33.7})
    monkeypatch.setattr(fit_module.ScalingLaw, "fit", lambda self, runs, **kw: timed)
    # the model inputs apart from the checks: a fresh user's "checks 11.1 s" was 10.6 s of inputs, 0.8 s of checks
    for reference, rest in (("chinchilla", ", the reference runs and the model inputs 12.0 s, checks 2.6 s"),
                            (None, ", the model inputs 12.0 s, checks 2.6 s")):
        lines = []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit_and_report(fake_fit.runs[["params", "tokens", "loss"]], tmp_path / str(reference), prior="weak",
                           reference=reference, progress=lines.append)
        assert f"fitted in 33.7 s (compile 18.3 s, sampling 0.8 s{rest}); diagnostics ok" in lines
    updated = dataclasses.replace(fake_fit, timings={"prepare_seconds": 0.1, "compile_seconds": 18.3, "sample_seconds": 0.8,
                                                     "extrapolation_update_seconds": 10.2, "total_seconds": 33.7})
    monkeypatch.setattr(fit_module.ScalingLaw, "fit", lambda self, runs, **kw: updated)
    lines = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit_and_report(fake_fit.runs[["params", "tokens", "loss"]], tmp_path / "u", prior="weak", progress=lines.append)
    assert ("fitted in 33.7 s (compile 18.3 s, sampling 0.8 s, checks 4.3 s, the fit of the smaller runs for the "
            "model-form error 10.2 s); diagnostics ok") in lines
    # the report names the same parts (it said "compile 24.0 s, sampling 102.7 s, total 230.0 s", a fresh user)
    assert ("Time: compile 18.3 s, sampling 0.8 s, checks 4.3 s, the fit of the smaller runs for the model-form error "
            "10.2 s, total 33.7 s.") in (tmp_path / "u" / "report.md").read_text()
    quick = dataclasses.replace(fake_fit, timings={"prepare_seconds": 0.0, "compile_seconds": 0.0,
                                                   "sample_seconds": 0.5, "total_seconds": 0.6})
    monkeypatch.setattr(fit_module.ScalingLaw, "fit", lambda self, runs, **kw: quick)
    lines = []
    fit_and_report(fake_fit.runs[["params", "tokens", "loss"]], tmp_path / "q", prior="weak", progress=lines.append)
    assert "fitted in 0.6 s (compile 0.0 s, sampling 0.5 s); diagnostics ok" in lines
    # parts under a second each, 0.7 s together: "fitted in 9.0 s (compile 8.1 s, sampling 0.2 s)" left them unexplained
    # (a fresh user)
    small = dataclasses.replace(fake_fit, timings={"prepare_seconds": 0.4, "compile_seconds": 8.1, "sample_seconds": 0.2,
                                                   "extrapolation_update_seconds": 0.1, "total_seconds": 9.0})
    monkeypatch.setattr(fit_module.ScalingLaw, "fit", lambda self, runs, **kw: small)
    lines = []
    fit_and_report(fake_fit.runs[["params", "tokens", "loss"]], tmp_path / "s", prior="weak", progress=lines.append)
    assert "fitted in 9.0 s (compile 8.1 s, sampling 0.2 s, the rest 0.7 s); diagnostics ok" in lines


def test_budgets_without_targets_make_the_default_targets(fake_fit, fake_fitting, tmp_path):
    # a fresh user's `fit --flops 1e22` report headlined the default target at 2.3e20 FLOPs, with its 93 % chance of
    # missing the threshold, and gave the budget asked about no interval
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = fit_and_report(fake_fit.runs[["params", "tokens", "loss"]], tmp_path / "b", prior="weak",
                             flops=[1e24, 1e25], progress=None)
    pred = res.predictions
    flops = 6 * pred["params"] * pred["tokens"]
    np.testing.assert_allclose(flops, [1e24, 1e25], rtol=1e-9)
    front = res.frontier.set_index("flops")
    np.testing.assert_allclose(pred["params"], front["params_opt_median"].round(-6), rtol=1e-9)
    summary = res.report.summary
    assert any(s.startswith(f"A {bs.display.format_count(pred['params'].iloc[0])}-parameter model") for s in summary)
    assert ("No targets were given, so this is the compute-optimal run at the budget of 1e24 FLOPs (the forecast "
            "table also has the other budgets, 1e25 FLOPs); give the runs you plan as targets (--targets T.csv, "
            "targets=).") in summary


def test_the_prior_sensitivity_section_says_how_far_apart_the_priors_put_the_allocation(fake_fit, monkeypatch,
                                                                                       tmp_path):
    # a fresh user found N_opt at 1e22 FLOPs from 7.7B to 15.7B across the priors by rerunning a notebook; the report
    # had shown one prior
    priors = []

    def fake(self, runs, **kw):
        priors.append(self.prior.name)
        return fake_fit

    monkeypatch.setattr(fit_module.ScalingLaw, "fit", fake)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = fit_and_report(fake_fit.runs[["params", "tokens", "loss"]], tmp_path / "s", prior="weak", flops=[1e24],
                             sensitivity=True, progress=None)
    assert priors == ["weak", "weak", "hoffmann2022", "besiroglu2024"]  # the fit, then one per prior
    n = bs.display.format_count(res.frontier["params_opt_median"].iloc[0])
    sentence = (f"Across the priors (weak, hoffmann2022, besiroglu2024) the compute-optimal size at 1e24 FLOPs is {n} "
                f"(weak) to {n} (weak) parameters: the data (the runs, and reference runs if any), not the prior, set "
                "the allocation.")
    assert res.report.summary[-1] == sentence
    md = (tmp_path / "s" / "report.md").read_text()
    assert "## Prior sensitivity" in md and "| hoffmann2022 | 1e24 |" in md
    with pytest.raises(ValueError, match=r"^sensitivity compares the Chinchilla law's published priors"):
        fit_and_report(fake_fit.runs[["params", "tokens", "loss"]], tmp_path / "k", law="kaplan", sensitivity=True,
                       progress=None)


def test_a_threshold_far_above_the_runs_is_questioned_before_the_fit(fake_fit, fake_fitting, tmp_path):
    # --threshold 250 (a perplexity) for runs at 3.3-5.4 gave "< 1 % chance of missing" without a word (a fresh user)
    runs = fake_fit.runs[["params", "tokens", "loss"]]
    typical = float(runs["loss"].median())
    with pytest.warns(UserWarning, match=rf"^threshold 250 is {250 / typical:.1f}x the median loss of the runs "
                                         rf"\({typical:.3g} nats/token\): is it a perplexity"):
        fit_and_report(runs, tmp_path / "t", prior="weak", threshold=250.0, progress=None)


def test_default_targets_leave_the_frontier_tables_notes_to_the_table(fake_fit, monkeypatch):
    """The discrepancy note, like the allocation note, is about the frontier table's budgets: at the default targets'
    budgets it was computed again and would have been a second note of the same kind."""
    import bayes_scaling.decisions as dec

    monkeypatch.setattr(dec, "discrepancy_of", lambda fit, domain, draws=None: lambda x: -0.02 * x["params"])
    notes: list[str] = []
    default_targets(fake_fit, notes, budgets=[1e21, 1e23])
    assert notes == []
    _, why = domain_frontiers(fake_fit, [1e21, 1e23])  # the table says it
    assert len(why) == 1 and why[0].startswith(dec.DISCREPANCY_NOTE + " (the law plus the discrepancy term")


def test_a_compute_optimal_split_the_runs_cannot_measure_gives_targets_at_the_runs_own_split(fake_fit, monkeypatch):
    # 3 runs with the published prior put the split at 0.08 tokens per parameter: the default targets failed the
    # targets' check and the report stopped after saving the fit (a fresh user)
    def frontiers(fit, budgets, domains=None):
        n = np.sqrt(np.asarray(budgets) / (6 * 0.08))  # D/N = 0.08
        return pd.DataFrame({"flops": budgets, "params_opt_median": n, "domain": domains[0]}), []

    monkeypatch.setattr(workflow_module, "domain_frontiers", frontiers)
    notes: list[str] = []
    targets = default_targets(fake_fit, notes)
    runs = fake_fit.runs
    own = float(np.exp(np.median(np.log(runs["tokens"] / runs["params"]))))
    np.testing.assert_allclose(targets["tokens"] / targets["params"], own, rtol=1e-3)  # N rounded to a million
    c = 6 * targets["params"] * targets["tokens"]
    np.testing.assert_allclose(c, [10 * runs["flops"].max(), 100 * runs["flops"].max()], rtol=1e-9)
    assert len(notes) == 1 and notes[0].startswith("the fit's compute-optimal split of 'default' at ")
    lo = max(0.1, fake_fit.min_tokens_per_param)
    assert f"is 0.08 tokens per parameter, outside {lo:g} to 10,000: the runs do not measure the split" in notes[0]
    # the summary does not call them compute-optimal, and tells the reader not to plan on the frontier's split
    from bayes_scaling.report import OWN_SPLIT_TARGETS, build_fit_report

    assert targets.attrs[OWN_SPLIT_TARGETS] == {"default": pytest.approx(own)}
    pred = fake_fit.predict(targets)
    pred.attrs.update({workflow_module.DEFAULT_TARGETS: True, OWN_SPLIT_TARGETS: targets.attrs[OWN_SPLIT_TARGETS]})
    c = 6 * targets["params"].iloc[0] * targets["tokens"].iloc[0]
    n = np.sqrt(c / (6 * 0.074))
    front = pd.DataFrame({"flops": [c], "params_opt_median": [n], "params_opt_lower": [n / 5], "params_opt_upper": [n * 9],
                          "tokens_per_param_median": [0.074], "tokens_per_param_lower": [8e-4],
                          "tokens_per_param_upper": [2.17], "loss_opt_median": [2.589], "loss_opt_lower": [2.3],
                          "loss_opt_upper": [2.9], "domain": ["default"]})
    for q, f in (("median", 1.0), ("lower", 1 / 5), ("upper", 9.0)):
        front[f"tokens_opt_{q}"] = c / (6 * n * f)
    summary = build_fit_report(fake_fit, pred, front).summary
    assert summary[1].startswith("No targets were given, so this is a run at 10x the compute of its domain's largest "
                                 f"run at the runs' typical {float(f'{own:.2g}'):g} tokens per parameter, not at the "
                                 "fit's compute-optimal split, which the runs do not measure")
    assert summary[2].endswith(f"; it is also outside the {lo:g} to 10,000 tokens per parameter the law is fitted on, "
                               "so do not plan on it.")


def test_the_frontiers_warnings_reach_the_reports_notes(fake_fit, monkeypatch, tmp_path):
    # a fresh user's 3-run fit warned about compute-optimal runs below the bound on stderr only
    real = workflow_module.domain_frontiers

    def frontiers(fit, budgets, **kw):
        warnings.warn("2 compute-optimal run(s) are trained on fewer than 1 token per parameter", bs.ExtrapolationWarning)
        return real(fit, budgets, **kw)

    monkeypatch.setattr(workflow_module, "domain_frontiers", frontiers)
    monkeypatch.setattr(fit_module.ScalingLaw, "fit", lambda self, runs, **kw: fake_fit)
    targets = pd.DataFrame({"params": [1e9], "tokens": [2e10]})
    with pytest.warns(bs.ExtrapolationWarning, match="compute-optimal run"):
        fit_and_report(fake_fit.runs[["params", "tokens", "loss"]], tmp_path / "o", targets=targets, prior="weak",
                       progress=None)
    assert ("The frontier: 2 compute-optimal run(s) are trained on fewer than 1 token per parameter"
            in (tmp_path / "o" / "report.md").read_text())


def test_compute_optimal_runs_below_the_bound_in_several_domains_are_one_warning(fake_hier_fit):
    # a six-domain OpenLM fit through the CLI (session 30) gave three near-identical warnings (one per domain), then three notes of them
    fit = dataclasses.replace(fake_hier_fit, min_tokens_per_param=1e4)  # every optimum lies below this bound
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        domain_frontiers(fit, [1e21])
    said = [str(w.message) for w in rec if "are trained on fewer than" in str(w.message)]
    assert len(said) == 1
    n = len(fit.own_domains) + 1  # each fitted domain and a new one, one budget each
    # gathered from the warnings' own numbers, not by reading their text back, and said as the same class
    (gathered,) = [w.message for w in rec if isinstance(w.message, BelowBoundWarning)]
    assert (gathered.count, gathered.noun) == (n, "compute-optimal run") and 0 < gathered.lowest < 1e4
    assert said[0].startswith(f"{n} compute-optimal run(s) of {n} domains ('books', 'code', 'web', a new domain) are "
                              "trained on fewer than 10000 tokens per parameter (down to ")
    one = fit
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        domain_frontiers(one, [1e21], domains=["code"])
    assert [str(w.message)[:70] for w in rec if "are trained on fewer than" in str(w.message)] == [
        "1 compute-optimal run(s) are trained on fewer than 10000 tokens per parameter (down to "[:70]]


def test_a_near_miss_target_domain_is_questioned_once(fake_hier_fit, tmp_path, monkeypatch, unrasterized_figures):
    # fit --targets with 'rpj/c4_va' warned again from the report's figure, blaming a --domain nobody gave (a fresh user)
    monkeypatch.setattr(fit_module.ScalingLaw, "fit", lambda self, runs, **kw: fake_hier_fit)
    targets = pd.DataFrame({"params": [1e9], "tokens": [2e10], "domain": ["cod"]})
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        fit_and_report(fake_hier_fit.runs[["params", "tokens", "loss", "domain"]], tmp_path / "o", targets=targets,
                       progress=None)
    said = [str(w.message) for w in rec if "is not a domain of this fit" in str(w.message)]
    assert len(said) == 1 and said[0].startswith("targets domain 'cod' (row 0) is not a domain of this fit")


def test_targets_the_fit_made_that_fail_a_check_send_the_user_to_the_runs(fake_fit, fake_fitting, tmp_path,
                                                                           monkeypatch):
    # a fresh user's runs had 'params' and 'tokens' swapped; the fit's compute-optimal targets at --flops were then
    # refused as "swapped? Swap the two column names": columns of targets the user never wrote
    why = ("targets: columns 'params' and 'tokens': every row has fewer tokens than parameters (0.0134-0.0968 tokens "
           "per parameter), while the columns read the other way round give 10.3-74.5: are 'params' and 'tokens' "
           "swapped? Swap the two column names.")

    def refused(*args, **kwargs):
        raise bs.RunsTableError(why)

    monkeypatch.setattr(workflow_module, "predict", refused)
    monkeypatch.setattr(workflow_module, "build_fit_report", lambda *a, **k: Report("stub"))
    with pytest.raises(workflow_module.StepError) as err:
        fit_and_report(fake_fit.runs, tmp_path / "o", flops=[1e22])
    assert str(err.value) == (
        f"the fit is saved in '{tmp_path / 'o' / 'fit'}', but the forecasts step failed: the compute-optimal runs the "
        f"fit gives as targets at --flops failed a check ({why}). They come from the fitted law, so look at the runs "
        "table: are its 'params' and 'tokens' columns right (raw counts, not swapped)? Redo that step from the saved "
        f"fit with: bayes-scaling predict {tmp_path / 'o'} --at TARGETS.csv")
    # targets the user wrote keep the message about their own columns
    with pytest.raises(workflow_module.StepError, match=r"forecasts step failed: targets: columns 'params' and "
                                                        r"'tokens': every row has fewer tokens"):
        fit_and_report(fake_fit.runs, tmp_path / "p", targets=pd.DataFrame({"params": [1e10], "tokens": [2e11]}))


def test_the_discrepancy_note_of_several_domains_is_one_note(fake_hier_fit, monkeypatch):
    # a fresh user's eight recipes gave eight near-identical notes of ~900 characters each
    import bayes_scaling.decisions as dec

    monkeypatch.setattr(dec, "discrepancy_of", lambda fit, domain, draws=None: (lambda x: -0.02 * x["params"])
                        if domain in fit.domains else None)  # a new domain has no discrepancy term
    table, why = domain_frontiers(fake_hier_fit, [1e21, 1e23])
    said = [n for n in why if dec.DISCREPANCY_NOTE in n]
    assert said == [why[0]]
    assert why[0] == (
        "the loss the forecasts use of all 3 fitted domains (the law plus the discrepancy term: the runs' smooth misfit "
        "to the law, held at its edge value beyond the runs) is lowest at another model size than the frontier's, "
        "which is the law's optimum: 'books' at 1e23 FLOPs: 153B, against the frontier's 33.5B (90% interval "
        "31.8B-35.3B), 0.028 nats/token lower (also at 1 other budget); 'code' at 1e23 FLOPs: 174B, against the "
        "frontier's 33.6B (90% interval 31.8B-35.3B), 0.034 nats/token lower (also at 1 other budget); 'web' at 1e23 "
        "FLOPs: 135B, against the frontier's 33.5B (90% interval 31.8B-35.2B), 0.024 nats/token lower (also at 1 "
        "other budget) (medians over the posterior). Comparing runs (compare) uses that loss and may rank such a "
        "run first; the frontier does not follow the misfit beyond the runs, so compare the two allocations, and the "
        "loss at stake against the width of their intervals, before choosing.")
    # the fitted domains are counted apart from a new one (a fresh user read "3 of the 4 domains" next to the report's
    # "The runs cover 3 domains")
    _, two = domain_frontiers(fake_hier_fit, [1e21, 1e23], domains=["code", "web", NEW_DOMAIN])
    assert [n for n in two if dec.DISCREPANCY_NOTE in n][0].startswith(
        dec.DISCREPANCY_NOTE + " of 2 of the 3 fitted domains (")
    # one domain keeps its own note, which names it
    _, one = domain_frontiers(fake_hier_fit, [1e21, 1e23], domains=["code"])
    assert [n for n in one if dec.DISCREPANCY_NOTE in n][0].startswith(dec.DISCREPANCY_NOTE + " of domain 'code' (")
