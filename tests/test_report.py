"""bayes_scaling.report: the standard report of a fit (sections, tables, figures, plain-language summary), its
Markdown twin, the transfer-risk section and summary.json's NaN handling. Rendering in a browser: test_report_browser.py."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest

import bayes_scaling as bs
from bayes_scaling.display import format_count, format_flops
from bayes_scaling.model import VARS
from bayes_scaling.report import Report, build_fit_report, headline_sentence, heavy_tail_note, risk_section, write_json

TARGETS = pd.DataFrame({"params": [7e10, 1e10], "tokens": [1.4e12, 2e11]})


@pytest.fixture(scope="module")
def report(fake_fit):
    pred = fake_fit.predict(TARGETS)
    front = fake_fit.frontier([1e21, 5.88e23])
    return build_fit_report(fake_fit, pred, front, title="Test report", data_note="Runs: synthetic.", threshold=1.95)


def test_report_has_the_standard_sections_and_figures(report):
    assert [s.title for s in report.sections] == ["Data", "Law and prior", "Posterior parameters", "Diagnostics", "Fit",
                                                  "Compute-optimal frontier", "Forecasts"]
    figures = [obj.name for s in report.sections for kind, obj in s.blocks if kind == "figure"]
    assert figures == ["parameters", "fit_flops", "fit_params", "frontier", "forecast"]
    assert all(obj.png[:8] == b"\x89PNG\r\n\x1a\n" for s in report.sections for kind, obj in s.blocks if kind == "figure")
    assert report.footer.startswith(f"bayes_scaling {bs.__version__}. Law: Hoffmann et al. (2022)")
    frontier_text = [obj for s in report.sections if s.title == "Compute-optimal frontier" for kind, obj in s.blocks
                     if kind == "text"]
    assert frontier_text[0].startswith("flops is the compute budget C; params_opt_* the compute-optimal N, tokens_opt_* "
                                       "its D = C / (6 N),")  # the table's headers explained (a fresh user)


def test_a_figure_whose_font_lacks_characters_warns_once_naming_the_figure_and_them():
    # matplotlib warned once per glyph ("Glyph 25968 (\\N{CJK UNIFIED IDEOGRAPH-6570}) missing from font(s)"),
    # naming neither the figure nor a fix (a fresh user's CJK domain names)
    import warnings

    from matplotlib import pyplot as plt

    from bayes_scaling.report import Section

    fig, ax = plt.subplots()
    ax.set_title("\u6570\u636e \u6570")
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        sec = Section("x").figure(fig, "fit_domains", "caption")
    assert [str(r.message) for r in rec] == [
        "figure 'fit_domains': its font cannot draw '\u6570', '\u636e' (in a domain or label name), drawn as empty "
        "boxes; the tables are right. Use names in Latin letters, or give matplotlib a font that has these characters "
        "(rcParams['font.family'])."]
    assert sec.blocks[0][1].png[:8] == b"\x89PNG\r\n\x1a\n"


def test_report_summary_says_the_runs_raised_warnings_before_the_diagnostics(fake_fit):
    # a fresh user's runs in bits: the summary said "reaches 3.523 nats/token" and the warning sat in the Notes at the end
    pred = fake_fit.predict(TARGETS)
    notes = ["warning about the runs: the losses look like bits per token", "some other note"]
    rep = build_fit_report(fake_fit, pred, None, notes=notes)
    assert rep.summary[-2:] == ["WARNING: the runs raised 1 warning (listed under Notes at the end), which may change "
                                "the numbers above; read it first.",
                                "Sampling diagnostics passed (R-hat, effective sample size, divergences)."]
    two = build_fit_report(fake_fit, pred, None, notes=notes[:1] * 2)
    assert two.summary[-2].startswith("WARNING: the runs raised 2 warnings (listed under Notes at the end)")
    assert not any("WARNING" in line for line in build_fit_report(fake_fit, pred, None, notes=notes[1:]).summary)


def test_a_warning_about_runs_the_fit_leaves_out_is_its_own_kind_and_not_a_summary_warning(fake_fit):
    # a fresh user's isoFLOP sweep: 48 runs below 0.1 tokens per parameter, all left out of the fit, and the summary said
    # "WARNING: the runs raised 1 warning ..., which may change the numbers above"
    from bayes_scaling.data import LeftOutRunsWarning, RunsTableWarning, validate_runs
    from bayes_scaling.report import LEFT_OUT_WARNING_NOTE

    runs = pd.DataFrame({"params": [1e9, 1e8, 2e8, 3e8, 4e8, 5e8], "tokens": [5e7, 4e9, 8e9, 6e9, 9e9, 1.2e10],
                         "loss": [3.0, 3.1, 2.9, 2.85, 2.8, 2.75]})
    with pytest.warns(RunsTableWarning) as rec:
        validate_runs(runs)
    kinds = [r.category for r in rec if "tokens per parameter" in str(r.message)]
    assert kinds == [LeftOutRunsWarning]
    runs.loc[5, "tokens"] = 2e4 * runs.loc[5, "params"]  # and one with too many tokens, which the fit keeps
    with pytest.warns(RunsTableWarning) as rec:
        validate_runs(runs)
    assert [r.category for r in rec if "tokens per parameter" in str(r.message)] == [RunsTableWarning]
    flops = runs.iloc[:5].assign(flops=lambda d: 6 * d["params"] * d["tokens"]).drop(columns="tokens")
    with pytest.warns(RunsTableWarning) as rec:  # tokens derived from FLOPs: a unit slip in 'flops', not left out
        validate_runs(flops)
    assert [r.category for r in rec if "tokens per parameter" in str(r.message)] == [RunsTableWarning]
    pred = fake_fit.predict(TARGETS)
    notes = [LEFT_OUT_WARNING_NOTE + "1 run(s) (row 0) have as few as 0.05 tokens per parameter"]
    report = build_fit_report(fake_fit, pred, None, notes=notes)
    assert not any("WARNING" in line for line in report.summary)
    assert report.sections[-1].blocks[-1] == ("text", notes[0][0].upper() + notes[0][1:])  # still under Notes
    # beside a warning that counts, the summary says what the other warning in Notes is ("raised 1 warning" above two
    # warnings in Notes read as a miscount: a fresh user)
    both = build_fit_report(fake_fit, pred, None, notes=notes + ["warning about the runs: the loss rises with tokens"])
    assert ("WARNING: the runs raised 1 warning that may change the numbers above (listed under Notes at the end, beside "
            "1 about runs the fit leaves out); read it first.") in both.summary


def test_report_summary_names_a_strong_prior_data_conflict(monkeypatch):
    # the conflict (fitted E 2.30 against the published 1.87, p < 0.001) was said only in the Transfer risk section;
    # a fresh user's manager would not have read it
    import bayes_scaling.report as report_module
    from conftest import make_fake_fit, synthetic_runs

    fit = make_fake_fit(synthetic_runs(), prior="besiroglu2024")
    pred = fit.predict(TARGETS)
    assert not any("prior-data conflict" in line for line in build_fit_report(fit, pred, None).summary)
    monkeypatch.setattr(report_module, "prior_data_conflict",
                        lambda fit, domain: {"domain": domain, "flag": "strong", "p_value": 2e-4})
    rep = build_fit_report(fit, pred, None)
    summary = rep.summary
    # the section the line points to gives the test's own words (it said nothing on the p-value: a fresh user)
    monkeypatch.setattr(report_module, "prior_data_conflict", lambda fit, domain: {
        "domain": domain, "flag": "strong", "p_value": 2e-4, "message": "Strong prior-data conflict (p < 0.001): why."})
    texts = [b[1] for s in build_fit_report(fit, pred, None).sections if s.title == "Posterior parameters"
             for b in s.blocks if b[0] == "text"]
    assert "Strong prior-data conflict (p < 0.001): why." in texts
    assert summary[-2] == ("Strong prior-data conflict (p < 0.001): the runs are very unlikely under the "
                           "published law even allowing for the usual spread between data sets, so the forecast losses "
                           "rest on the runs, not on the published law; check their units and evaluation set (Posterior parameters "
                           "section).")  # one domain: no Transfer risk section (a fresh user looked for it)
    # with several domains, each one in conflict is named, and the Transfer risk section is there
    runs = pd.concat([synthetic_runs(n_sizes=4, ratios=(10, 40), domain=d, seed=i) for i, d in enumerate(("a", "b"))],
                     ignore_index=True)
    hier = make_fake_fit(runs, prior="besiroglu2024")
    monkeypatch.setattr(report_module, "prior_data_conflict",
                        lambda fit, domain: {"domain": domain, "flag": "strong" if domain == "b" else "none",
                                             "p_value": 0.004})
    line = [ln for ln in build_fit_report(hier, hier.predict(TARGETS.assign(domain="a")), None).summary
            if "prior-data conflict" in ln]
    assert line == ["Strong prior-data conflict for 'b' (p = 0.004): the runs are very unlikely under the published "
                    "law even allowing for the usual spread between data sets, so the forecast losses rest on the "
                    "runs, not on the published law; check their units and evaluation set (Transfer risk section)."]


def test_report_summary_is_plain_language_with_the_numbers_of_the_tables(report, fake_fit):
    pred = fake_fit.predict(TARGETS).iloc[0]
    head, frontier_line, diag = report.summary
    assert head.startswith(f"A 70B-parameter model on 1.4T tokens reaches {pred['loss_median']:.3f} nats/token "
                           f"(90% interval {pred['loss_lower']:.3f}–{pred['loss_upper']:.3f}, one training run)")
    assert " % chance of missing the target 1.95 nats/token." in head
    assert frontier_line.startswith("At 5.88e23 FLOPs the compute-optimal model has ")
    assert diag == "Sampling diagnostics passed (R-hat, effective sample size, divergences)."


def test_headline_sentence_names_a_domain_and_the_risk():
    row = pd.Series({"params": 7e10, "tokens": 1.4e12, "domain": "code", "loss_median": 1.94, "loss_lower": 1.9,
                     "loss_upper": 1.98})
    assert headline_sentence(row, 0.9, 1.95, 0.123) == (
        "A 70B-parameter model on 1.4T tokens (code) reaches 1.940 nats/token (90% interval 1.900–1.980, one training "
        "run); 12 % chance of missing the target 1.95 nats/token.")
    assert "(default)" not in headline_sentence(pd.Series({**row.to_dict(), "domain": "default"}), 0.9)
    # issue 14: the risk table had 0.0025 where the headline said "0% chance of missing the target 3"
    assert headline_sentence(row, 0.9, 3.0, 0.0025).endswith("; < 1 % chance of missing the target 3 nats/token.")
    assert headline_sentence(row, 0.9, 3.0, 0.02512).endswith("; 2.5 % chance of missing the target 3 nats/token.")
    assert headline_sentence(row, 0.9, 3.0, 0.9975).endswith("; > 99 % chance of missing the target 3 nats/token.")
    new = pd.Series({**row.to_dict(), "domain": "(new domain)", "domain_kind": "new_domain"})
    assert "tokens (a new domain: the population forecast) reaches" in headline_sentence(new, 0.9)
    # a one-variable law's forecast has no tokens (the report step of `fit --law power_params` failed on it), and a
    # data-constrained one says how often its data repeat
    one = pd.Series({"params": 1.31e10, "loss_median": 1.97, "loss_lower": 1.849, "loss_upper": 2.12})
    assert headline_sentence(one, 0.9) == ("A 13.1B-parameter model reaches 1.970 nats/token (90% interval 1.849–2.120, "
                                           "one training run).")
    dc = pd.Series({"params": 2.16e9, "tokens": 4.6e10, "unique_tokens": 1e8, "loss_median": 3.573, "loss_lower": 3.1,
                    "loss_upper": 4.1})
    assert headline_sentence(dc, 0.9).startswith("A 2.16B-parameter model on 46B tokens (100M unique, 460 epochs) reaches")
    fresh = dc.copy()
    fresh["unique_tokens"] = fresh["tokens"]  # a default target of a data-constrained fit: every token unique
    assert headline_sentence(fresh, 0.9).startswith("A 2.16B-parameter model on 46B tokens (all unique: one epoch) "
                                                    "reaches")


def test_report_writes_html_markdown_and_pngs(report, tmp_path):
    files = report.write(tmp_path / "out")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(
        ["report.html", "report.md", "parameters.png", "fit_flops.png", "fit_params.png", "frontier.png", "forecast.png"])
    html = files["html"].read_text()
    assert html.startswith("<!DOCTYPE html>") and html.count("<img") == 5 and "<script" not in html
    md = files["markdown"].read_text()
    assert md.startswith("# Test report\n") and "![Posterior predictive distribution" in md and "(forecast.png)" in md
    assert "| domain | params | tokens |" in md


def test_risk_section_of_a_hierarchy_with_a_published_law(fake_hier_fit):
    fit = dataclasses.replace(fake_hier_fit, prior=bs.get_prior("besiroglu2024"))
    pred = fit.predict(TARGETS.assign(domain="code"))
    sec = risk_section(fit, pred, threshold=2.0)
    kinds = [k for k, _ in sec.blocks]
    assert sec.title == "Transfer risk" and kinds.count("figure") == 1 and kinds.count("table") == 2
    texts = [obj for k, obj in sec.blocks if k == "text"]
    assert sum(t.startswith(("No prior-data conflict", "Mild", "Strong")) for t in texts) == 3  # one per domain
    flops = dataclasses.replace(fake_hier_fit, law=bs.get_law("power_flops"), prior=bs.get_prior("weak", law="power_flops"))
    assert risk_section(flops) is None  # no published law to depart from
    # a weak prior's fit of a law with a published fit compares with it (Kaplan et al. 2020 here); the Kaplan law has
    # no E or exponent among the compared quantities, so the loss gap alone ("law:  (domain minus" before)
    kaplan = dataclasses.replace(fake_hier_fit, law=bs.get_law("kaplan"), prior=bs.get_prior("weak", law="kaplan"))
    first = risk_section(kaplan).blocks[0][1]
    assert first.startswith("Departure of each domain from the published law: the loss gap: the relative difference "
                            "(L_domain − L_published) / L_published"), first


def test_write_json_turns_nan_into_null(tmp_path):
    path = write_json({"a": np.float64("nan"), "b": [np.int64(3), np.bool_(True)], 4: float("inf")}, tmp_path / "s.json")
    assert json.loads(path.read_text()) == {"a": None, "b": [3, True], "4": None}


def test_an_empty_report_is_still_a_page(tmp_path):
    files = Report("Nothing yet").write(tmp_path)
    assert "<h1>Nothing yet</h1>" in files["html"].read_text() and files["figures"] == []


def test_figures_of_a_hierarchy_are_drawn_for_the_headline_domain(fake_fit, fake_hier_fit):
    from bayes_scaling.report import figure_domain

    assert figure_domain(fake_fit, fake_fit.predict(TARGETS)) is None  # one domain: the default
    pred = fake_hier_fit.predict(TARGETS.assign(domain=["web", "code"]))
    assert figure_domain(fake_hier_fit, pred) == "web"
    assert figure_domain(fake_hier_fit, pred.assign(domain="unseen")) == "books"  # the first domain of the runs
    assert figure_domain(fake_hier_fit) == "books"


# ---------------------------------------------------------------- issue 14


def test_reference_runs_are_kept_apart_from_the_users(fake_hier_fit, unrasterized_figures):
    runs = fake_hier_fit.runs.assign(is_reference=fake_hier_fit.runs["domain"] == "web")
    fit = dataclasses.replace(fake_hier_fit, runs=runs, reference_domains=["web"], prior=bs.get_prior("besiroglu2024"))
    pred = fit.predict(TARGETS.assign(domain="code"))
    rep = build_fit_report(fit, pred, None)
    texts = [obj for kind, obj in rep.sections[0].blocks if kind == "text"]
    assert texts[0].startswith("16 training runs in 2 domains; N from ")
    assert "Reference runs, fitted alongside but not part of your data: 8 runs of web" in texts[1]
    assert texts[1].endswith("summary of their own posterior, fitted with a weak prior on every reference run as "
                             "given).")
    # a fresh user's Chinchilla reference had B 3434 where the demo's fit of the same runs had 1506, without a word:
    # the reference keeps its runs below the bound the user's runs are held to
    i = runs.index[runs["is_reference"]][:2]
    runs.loc[i, "tokens"] = 0.5 * runs.loc[i, "params"]
    fit = dataclasses.replace(fit, runs=runs, min_tokens_per_param=1.0)
    texts = [obj for kind, obj in build_fit_report(fit, pred, None).sections[0].blocks if kind == "text"]
    assert texts[1].endswith("fitted with a weak prior on every reference run as given, including the 2 on fewer than "
                             "1 token per parameter that your runs' rule leaves out, as the published fit did; so "
                             "their parameters here differ from a fit that leaves those out, such as the demo's).")


def test_markdown_has_no_escaped_html_and_says_when_the_published_value_is_outside(fake_fit, tmp_path,
                                                                                   unrasterized_figures):
    from bayes_scaling.diagnostics import Diagnostics

    diag = dataclasses.replace(fake_fit.diagnostics, ok=False,
                               problems=["R-hat is 1.040 for 'E' (should be <= 1.01): run more draws."])
    fit = dataclasses.replace(fake_fit, diagnostics=diag)
    assert isinstance(fit.diagnostics, Diagnostics)
    rep = build_fit_report(fit, fit.predict(TARGETS), None)
    md = rep.to_markdown()
    assert "&lt;" not in md and "&gt;" not in md and "(should be <= 1.01)" in md
    # the synthetic law has E = 1.8 with a tight posterior; Besiroglu et al. (2024) give 1.817
    post = rep.sections[2]
    (sentence,) = [obj for kind, obj in post.blocks if kind == "text" and obj.startswith("The published value lies")]
    # one domain: no "in default" (the domain of a table without a domain column, named so in files only)
    assert sentence.startswith("The published value lies outside the 90% posterior interval for E (1.817 vs ")
    assert "- \\<script>" in Report("x", summary=["<script>"]).to_markdown()  # a tag is escaped, not turned into HTML


def test_the_published_value_outside_names_your_runs(unrasterized_figures):
    """A fresh user's fit next to reference runs read "A in default (482 vs 18.88-76.2)"."""
    from conftest import make_fake_fit, synthetic_runs

    from bayes_scaling.data import DEFAULT_DOMAIN

    runs = pd.concat([synthetic_runs(domain=DEFAULT_DOMAIN), synthetic_runs(domain="web", seed=1)], ignore_index=True)
    fit = make_fake_fit(runs, prior="besiroglu2024", law={"E": 2.3})  # every E far from the published 1.817
    rep = build_fit_report(fit, fit.predict(TARGETS, domain=DEFAULT_DOMAIN), None)
    (sentence,) = [obj for sec in rep.sections for kind, obj in sec.blocks
                   if kind == "text" and obj.startswith("The published value lies")]
    assert sentence.startswith("The published value lies outside the 90% posterior interval for E in your runs (1.817 vs ")
    assert "; E in web (1.817 vs " in sentence and "default" not in sentence


def test_prior_table_is_the_prior_drawn_in_the_parameter_figure(fake_fit, unrasterized_figures):
    """Issue 14: the prior table said sd 0.0154 for alpha while parameters.png drew 0.18-0.52."""
    from bayes_scaling.plots import plot_parameters

    fit = dataclasses.replace(fake_fit, prior=bs.get_prior("besiroglu2024"))
    rep = build_fit_report(fit, fit.predict(TARGETS), None)
    tables = [obj for kind, obj in rep.sections[1].blocks if kind == "table"]
    (prior_table,) = [df for df, cap in tables if cap.startswith("prior of each domain's parameters")]
    _, axes = plot_parameters(fit, prob=0.9)
    for a in axes:
        name = a.get_title(loc="left")
        grey = [ln for ln in a.lines if ln.get_label() == "prior 90%"][0]
        row = prior_table.set_index("parameter").loc[name]
        np.testing.assert_allclose(sorted(grey.get_xdata()), [row["lower"], row["upper"]], rtol=1e-12)


def test_numbers_in_tables_read_as_counts(report):
    md = report.to_markdown()
    assert "| 70B | 1.4T |" in md and "e+" not in md


# ----------------------------------------------------------------------------- the investment decision

@pytest.fixture(scope="module")
def decision(fake_hier_fit):
    from bayes_scaling.costs import CostModel, ValueModel
    from bayes_scaling.decisions import decide

    plans = pd.DataFrame({"label": ["1B", "10B", "70B"], "params": [1e9, 1e10, 7e10], "tokens": [2e10, 2e11, 1.4e12]})
    pilots = pd.DataFrame({"label": ["pilot 1B"], "params": [1e9], "tokens": [2e10]})
    costs = CostModel(price_per_flop=1.4e-18, currency="EUR", tokens_served=1e12)
    value = ValueModel(metric="loss", higher_is_better=False, baseline=2.1, money_per_unit=6e4, unit=0.01,
                       currency="EUR")
    return decide(fake_hier_fit, plans, costs, value, pilots=pilots, budgets=[1e5], domain="unseen", random_seed=0)


def test_decision_section_has_the_verdict_the_figure_the_tables_and_the_formulas(decision):
    from bayes_scaling.report import decision_section

    sec = decision_section(decision)
    texts = [obj for kind, obj in sec.blocks if kind == "text"]
    assert texts[0] == decision.summary_text()
    assert [obj.name for kind, obj in sec.blocks if kind == "figure"] == ["net_value"]
    tables = [obj for kind, obj in sec.blocks if kind == "table"]
    assert [caption.split(":")[0].split(",")[0] for _, caption in tables] == ["options", "pilots", "the best plan each "
                                                                             "budget buys under the cost model (EUR; the budget covers training"]
    # one (N, D) had two net values, in the options and the budget tables, without a word on why (a fresh user)
    assert "metric and net value of the expected loss, not of one run as in the options table" in tables[2][1]
    options = tables[0][0]
    assert list(options["label"]) == ["1B", "10B", "70B", "do nothing"]
    # money in readable units, the numbers of the decision table
    row = decision.plans.set_index("label").loc["10B"]
    assert options.set_index("label").loc["10B", "net_value_mean"] == bs.investment.format_money(row["net_value_mean"])
    assert tables[1][0]["worth_it"].isin(["yes", "no"]).all()
    # every cost and value formula with its numbers
    assert "Training: 6 x N x D FLOPs x 1.4e-18 EUR/FLOP (Kaplan et al. 2020; Hoffmann et al. 2022)." in texts
    assert any(t.startswith("Value: 6e+04 EUR per 0.01 of loss x (2.1 - loss) / 0.01") for t in texts)
    assert any(t.startswith("The metric is the loss of one new training run") and "in domain 'unseen'" in t for t in texts)
    assert decision_section(decision, summary=False).blocks[0][0] == "figure"  # a report that states it above


def test_decision_report_writes_decision_html_with_its_figure(decision, tmp_path):
    from bayes_scaling.report import decision_report

    rep = decision_report(decision, title="Which model to train", data_note="Fit: synthetic.")
    assert " ".join(rep.summary) == decision.summary_text()
    files = rep.write(tmp_path, stem="decision")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["decision.html", "decision.md", "net_value.png"]
    html = files["html"].read_text()
    assert html.count('<img alt="Net value of each option (EUR)') == 1 and "data:image/png;base64," in html
    assert html.count(decision.summary_text().split(";")[0]) == 1  # the verdict once, in the summary box
    md = files["markdown"].read_text()
    assert md.startswith("# Which model to train\n") and "(net_value.png)" in md and "Fit: synthetic." in md


def test_law_section_states_the_between_domain_spreads_of_the_fit(fake_hier_fit, unrasterized_figures):
    """The report said 'half-normal priors' for every spread; it now reads the fit's own spreads (the fake fit's
    draws: loss level and exponent 0.1 learned, shares 0.3 and allocation 0.16 fixed)."""
    rep = build_fit_report(fake_hier_fit, fake_hier_fit.predict(TARGETS.assign(domain="books")), None)
    texts = [obj for sec in rep.sections for kind, obj in sec.blocks if kind == "text"]
    (text,) = [t for t in texts if t.startswith("Each domain's parameters may depart")]
    assert text == (
        "Each domain's parameters may depart from the population. How far the loss level and the exponent differ "
        "between domains is learned from the domains (log-normal priors kept away from zero; posterior median loss "
        "level 0.1, exponent 0.1, log scale). Fixed at literature values (log or logit scale): split of the loss "
        "between E and the size terms 0.3; allocation between N and D 0.16. The split may differ between domains as "
        "much as between published studies (0.7) where every domain's runs measure it, and by 0.3 where they cannot.")


def test_the_frontier_figure_reaches_the_largest_budget_of_its_table(fake_fit, monkeypatch):
    # the figure stopped at 1000x the largest run (1e23 on a fresh user's runs) while the table and the headline were at
    # 5.88e23
    import bayes_scaling.report as report_module

    seen = {}
    real = report_module.plot_frontier

    def spy(fit, flops=None, **kw):
        seen["flops"] = np.asarray(flops)
        return real(fit, flops, **kw)

    monkeypatch.setattr(report_module, "plot_frontier", spy)
    budget = float(fake_fit.runs["flops"].max()) * 1e5
    build_fit_report(fake_fit, fake_fit.predict(TARGETS), fake_fit.frontier([budget]))
    assert seen["flops"].max() == pytest.approx(1.5 * budget)
    assert seen["flops"].min() == pytest.approx(float(fake_fit.runs["flops"].min()))


def test_the_summary_keeps_two_significant_digits_of_a_small_allocation_bound(fake_fit):
    # "trained on 1.5 tokens per parameter (0.0–45.1)" for a lower bound of 0.0476 (a fresh user)
    front = fake_fit.frontier([5.88e23]).assign(tokens_per_param_median=1.5, tokens_per_param_lower=0.0476,
                                                 tokens_per_param_upper=45.1)
    rep = build_fit_report(fake_fit, fake_fit.predict(TARGETS), front)
    assert "trained on 1.5 tokens per parameter (0.048–45.1)" in rep.summary[1]


def test_the_summary_says_when_the_allocation_lies_outside_the_runs_tokens_per_parameter(fake_fit):
    # "4.7 tokens per parameter (1.1–34.9)" headlined from runs at 20-320, the caveat only under Notes (a fresh user)
    front = fake_fit.frontier([5.88e23]).assign(tokens_per_param_median=1.5)
    rep = build_fit_report(fake_fit, fake_fit.predict(TARGETS), front)
    assert rep.summary[1].endswith("; the runs lie at 5–200 tokens per parameter, so this split is an extrapolation of "
                                   "the law.")
    inside = build_fit_report(fake_fit, fake_fit.predict(TARGETS), front.assign(tokens_per_param_median=30.0))
    assert "extrapolation" not in inside.summary[1] and inside.summary[1].endswith(" nats/token.")


def test_heavy_tail_note_names_the_tail_weight_the_runs_far_above_and_the_width_ratio():
    from conftest import make_fake_fit, synthetic_runs

    runs = synthetic_runs()
    runs.loc[3, "loss"] *= 1.5  # two failed runs, 0.41 and 0.26 in log loss above the law (noise scale 0.005)
    runs.loc[7, "loss"] *= 1.3
    fit = make_fake_fit(runs)
    assert heavy_tail_note(fit) == ""  # normal noise (the fake fit's tail weight is SPARSE_NU): nothing to say
    post = fit.posterior["posterior"]
    post[VARS.tail_weight] = post[VARS.tail_weight] * 0 + 0.9
    note = heavy_tail_note(fit)
    assert note.startswith("Heavy-tailed runs: the noise's tail weight learned from the runs (the degrees of freedom of "
                           "its Student-t) is 0.9 (90% interval 0.9–0.9); below 2, runs very far from the law are "
                           "expected now and then, and the interval for one run has to reach them. It is set by 2 "
                           "run(s) more than 5 noise scales above the law; the furthest: ")
    assert note.endswith("compare the two fits before choosing. The forecasts use a tail weight of at least 1 (a "
                         "Cauchy): below it the weight is set by the few most extreme runs, and the noise has no mean "
                         "even in log loss.")
    r3, r7 = runs.loc[3], runs.loc[7]  # furthest first, each with its sizes and loss
    assert (f"the furthest: N = {format_count(r3.params)}, D = {format_count(r3.tokens)}, loss {r3.loss:.3f} "
            f"nats/token; N = {format_count(r7.params)}, D = {format_count(r7.tokens)}, loss {r7.loss:.3f} "
            "nats/token. At the run of largest compute (N = ") in note
    big = fit.runs.loc[[fit.runs["flops"].idxmax()], ["params", "tokens"]].reset_index(drop=True)
    p = fit.predict(big).iloc[0]
    ratio = (p["loss_upper"] - p["loss_lower"]) / (p["mean_loss_upper"] - p["mean_loss_lower"])
    assert ratio > 2
    assert f"the 90% interval for one new run is {ratio:.1f}x as wide as that of the expected loss" in note


def test_a_shared_tail_weight_is_given_once():
    """The domains of many runs share one tail weight; a fresh user read "c4_original 1.6, rpj 1.6, rw_original 1.6"."""
    from conftest import make_fake_fit, synthetic_runs

    runs = pd.concat([synthetic_runs(domain="a"), synthetic_runs(domain="b", seed=1)], ignore_index=True)
    runs.loc[3, "loss"] *= 1.5
    fit = make_fake_fit(runs)
    post = fit.posterior["posterior"]
    post[VARS.tail_weight] = post[VARS.tail_weight] * 0 + 1.6
    assert heavy_tail_note(fit).startswith("Heavy-tailed runs: the noise's tail weight learned from the runs (the "
                                           "degrees of freedom of its Student-t) is 1.6 (90% interval "
                                           "1.6–1.6), shared by a, b; below 2,")


def test_runs_far_above_the_law_are_named_in_the_summary_whatever_the_tail_weight():
    # a fresh user's checkpoint at 9.5 nats among losses of ~3 was said nowhere but under "Law and prior", and only
    # when the tail weight was below 2
    from conftest import make_fake_fit, synthetic_runs

    from bayes_scaling.report import far_runs_sentence, runs_far_above

    runs = synthetic_runs()
    runs.loc[3, "loss"] *= 1.5
    runs.loc[7, "loss"] *= 1.3
    fit = make_fake_fit(runs)
    far = runs_far_above(fit)
    assert list(far.columns) == ["domain", "params", "tokens", "loss", "noise_scales"]
    np.testing.assert_allclose(far["loss"], [runs.loc[3, "loss"], runs.loc[7, "loss"]], rtol=1e-12)
    assert far["noise_scales"].iloc[0] > far["noise_scales"].iloc[1] > 5
    r3, r7 = runs.loc[3], runs.loc[7]
    sentence = (f"2 run(s) lie more than 5 noise scales above the fitted law (N = {format_count(r3.params)}, D = "
                f"{format_count(r3.tokens)}, loss {r3.loss:.3f} nats/token ({far['noise_scales'].iloc[0]:.1f} noise "
                f"scales); N = {format_count(r7.params)}, D = {format_count(r7.tokens)}, loss {r7.loss:.3f} nats/token "
                f"({far['noise_scales'].iloc[1]:.1f} noise scales)): outside the law's regime (very few tokens per "
                "parameter, many epochs), failed runs, early checkpoints or mis-logged losses? They can widen the "
                "interval for one new run (through the noise's tail); if they are not the regime you forecast, drop "
                "them and fit again.")
    assert "more than 5 noise scales" in sentence and "(5 noise scales)" not in sentence  # 5.07 read as 5 (a fresh user)
    assert far_runs_sentence(fit, far) == sentence
    assert sentence in build_fit_report(fit, fit.predict(TARGETS), None).summary
    # a law of C alone names its runs by C (they were named by nothing: "(, loss 5.006", a fresh user)
    c = synthetic_runs().assign(flops=lambda d: 6 * d["params"] * d["tokens"])[["flops", "loss"]]
    c.loc[3, "loss"] *= 1.5
    fit_c = make_fake_fit(c, law_name="power_flops")
    far_c = runs_far_above(fit_c)
    assert far_runs_sentence(fit_c, far_c).startswith(
        f"{len(far_c)} run(s) lie more than 5 noise scales above the fitted law (C = {format_flops(far_c['flops'][0])} "
        f"FLOPs, loss {far_c['loss'][0]:.3f} nats/token (")
    # none: nothing said
    clean = make_fake_fit(synthetic_runs())
    assert runs_far_above(clean).empty and far_runs_sentence(clean, runs_far_above(clean)) == ""
    three = pd.concat([far] * 2, ignore_index=True).head(3)
    assert "; and 1 more; all of them in runs_far_above.csv): " in far_runs_sentence(fit, three, "runs_far_above.csv")
    assert "all of them" not in far_runs_sentence(fit, far, "runs_far_above.csv")  # both named already


def test_report_headline_chance_of_missing_is_the_risk_tables(fake_fit):
    """The headline drew its own noise and said 1.6 % where the same report's risk table said < 1 % (a fresh user):
    both are now predict's keyed draws, so the headline's probability is exceedance()'s to the digit."""
    from bayes_scaling.display import format_probability
    from bayes_scaling.risk import exceedance

    pred = fake_fit.predict(TARGETS)
    thr = float(pred["loss_median"].iloc[0]) * 1.01  # a threshold inside the interval: a probability of a few %
    rep = build_fit_report(fake_fit, pred, None, title="t", data_note="", threshold=thr)
    p = float(exceedance(fake_fit, TARGETS.iloc[[0]], thr)["p_exceed"].iloc[0])
    assert 0.01 < p < 0.5
    assert f"; {format_probability(p)} chance of missing the target {thr:.4g} nats/token" in rep.summary[0]


def test_the_domain_of_a_table_without_one_reads_your_runs(tmp_path):
    # next to reference runs a fresh user's report listed "domain 'default'", a name they never gave
    from conftest import make_fake_fit, synthetic_runs

    from bayes_scaling.display import domain_label

    assert domain_label("default") == "your runs" and domain_label("rpj/c4_val") == "rpj/c4_val"
    runs = pd.concat([synthetic_runs(n_sizes=4, ratios=(10, 40), domain="default", seed=1),
                      synthetic_runs(n_sizes=4, ratios=(10, 40), domain="chinchilla", seed=2)], ignore_index=True)
    fit = make_fake_fit(runs, seed=2)
    md = build_fit_report(fit, fit.predict(TARGETS.assign(domain="default")), None).to_markdown()
    assert "| your runs | 8 |" in md and "| default |" not in md
    from bayes_scaling.plots import plot_fit

    _, ax = plot_fit(fit, "params", domain="default")
    assert ax.get_title() == "Loss vs parameters: your runs"
    ax.figure.clf()


def test_the_sensitivity_section_says_when_the_prior_sets_the_allocation():
    from bayes_scaling.report import sensitivity_section

    table = pd.DataFrame({"prior": ["weak", "hoffmann2022", "besiroglu2024"] * 2, "widen": 1.0,
                          "flops": [1e21] * 3 + [1e22] * 3,
                          "params_opt_median": [5e9, 3e9, 4e9, 15.7e9, 7.7e9, 11.5e9],
                          "params_opt_lower": 1e9, "params_opt_upper": 3e10, "tokens_per_param_median": 20.0,
                          "loss_opt_median": 2.0, "diagnostics_ok": True})
    sec, sentence = sensitivity_section(table)
    assert sentence == ("Across the priors (weak, hoffmann2022, besiroglu2024) the compute-optimal size at 1e22 FLOPs is "
                        "7.7B (hoffmann2022) to 15.7B (weak) parameters, a factor of 2.0: the prior, not the runs, "
                        "sets the allocation; runs at other tokens per parameter would tell the priors apart.")
    assert sec.title == "Prior sensitivity" and sec.blocks[1][1][0]["params_opt_median"].tolist()[-1] == "11.5B"
    # runs at three sizes over 5-640 tokens per parameter were told to add "other tokens per parameter" (a fresh user)
    three = pd.DataFrame({"params": np.repeat([1.06e7, 7.9e7, 1.54e8], 4), "tokens": 0.0})
    three["tokens"] = three["params"] * np.tile([5, 20, 160, 640], 3)
    _, sentence = sensitivity_section(table, three)
    assert sentence.endswith("sets the allocation; runs at more model sizes would tell the priors apart (these are at "
                             "3, 10.6M to 154M parameters).")
    many = pd.DataFrame({"params": np.geomspace(1e7, 1e9, 6), "tokens": 0.0}).assign(tokens=lambda d: 20 * d["params"])
    assert sensitivity_section(table, many)[1].endswith("runs at other tokens per parameter would tell the priors apart.")


def test_the_fit_figures_reach_the_headline_target(fake_fit, monkeypatch):
    # a fresh user's --flops 1e22 forecast lay 50x beyond the end of the loss-vs-compute figure (10x the largest run)
    import bayes_scaling.report as report_module

    seen = {}
    real = report_module.plot_fit

    def spy(fit, x=None, **kw):
        seen[x] = kw.get("extend")
        return real(fit, x, **kw)

    monkeypatch.setattr(report_module, "plot_fit", spy)
    runs = fake_fit.runs
    target = pd.DataFrame({"params": [float(runs["params"].max()) * 20], "tokens": [float(runs["tokens"].max()) * 50]})
    build_fit_report(fake_fit, fake_fit.predict(target), None)
    c_target = 6 * target["params"].iloc[0] * target["tokens"].iloc[0]
    assert seen["flops"] == pytest.approx(1.5 * c_target / float(runs["flops"].max()))
    assert seen["params"] == pytest.approx(30.0)
    near = pd.DataFrame({"params": [1e9], "tokens": [2e10]})  # within the runs: the default reach of 10x
    build_fit_report(fake_fit, fake_fit.predict(near), None)
    assert seen["params"] == seen["flops"] == 10.0


def test_the_likelihood_sentence_says_which_domains_have_a_learned_tail_and_the_noise_scale():
    """A fresh user's three domains of 25 runs each had normal noise (fewer than 30 runs), and the report said
    "Student-t (robust; tail weight learned)" and named no noise scale, which set most of the one-run width."""
    from conftest import make_fake_fit, synthetic_runs

    from bayes_scaling.report import likelihood_text

    few = make_fake_fit(synthetic_runs())  # 24 runs: normal noise
    assert few.structure.rich == ()
    assert likelihood_text(few) == (
        "Likelihood: normal noise on log loss (a domain of fewer than 30 runs is too small to learn a Student-t tail "
        "weight: a heavy tail on few runs declares some of them outliers); noise scale 0.005 (about 0.5% of the loss). ")
    mixed = make_fake_fit(pd.concat([synthetic_runs(n_sizes=8, domain="a"), synthetic_runs(domain="b", seed=1)],
                                    ignore_index=True))  # 32 runs and 24
    assert mixed.structure.rich == (0,)
    assert likelihood_text(mixed).startswith(
        "Likelihood: Student-t noise on log loss (robust; tail weight learned) for the domains of at least 30 runs (a), "
        "normal for the others; noise scale ")
    rep = build_fit_report(few, few.predict(TARGETS), None)
    assert any(kind == "text" and obj.startswith(likelihood_text(few)) for sec in rep.sections for kind, obj in sec.blocks)


def test_a_weak_prior_without_a_published_fit_promises_no_published_column(unrasterized_figures):
    """A fresh user's data-constrained fit with the weak prior read "Published values are shown for comparison" above
    a column of dashes; its discrepancy term was "for: default"."""
    from conftest import make_fake_fit, synthetic_runs

    runs = synthetic_runs().assign(unique_tokens=lambda d: d["tokens"])
    # the weak prior of a law with a published fit is compared with it (Muennighoff et al. 2023 here: a fresh user's
    # risk command said "No published law to compare with"); a law without one promises no column
    fit = make_fake_fit(runs, law_name="data_constrained")
    assert fit.published_values()[1] == "muennighoff2023" and fit.published_values()[0]
    flops = make_fake_fit(synthetic_runs(), law_name="power_flops")
    assert not flops.published_values()[0]
    texts = [obj for sec in build_fit_report(flops, flops.predict(TARGETS), None).sections for kind, obj in sec.blocks
             if kind == "text"]
    assert "Prior: weakly informative (wide independent normals; see the law's weak_prior)." in texts
    chin = make_fake_fit(synthetic_runs(), discrepancy="gp")
    texts = [obj for sec in build_fit_report(chin, chin.predict(TARGETS), None).sections for kind, obj in sec.blocks
             if kind == "text"]
    assert ("Prior: weakly informative (wide independent normals; see the law's weak_prior). Published values are "
            "shown for comparison.") in texts
    assert any(t.endswith("Model-discrepancy term (orthogonal Gaussian process) for: your runs.") for t in texts)


def test_a_report_of_several_domains_says_which_is_lowest_at_the_headline_run(fake_hier_fit):
    """A fresh user with three data mixes found each mix's forecast in its own table and no word on which was lower."""
    from conftest import make_fake_fit, synthetic_runs
    from bayes_scaling.report import domains_compared_sentence
    from bayes_scaling.predict import keyed_predictive_draws

    row = pd.Series({"params": 7e10, "tokens": 1.4e12, "domain": "books"})
    text = domains_compared_sentence(fake_hier_fit, row)
    # the known answer: 'web' has the lowest E (logE -0.1), 'code' the highest (+0.1)
    assert text.startswith("At 70B parameters on 1.4T tokens, the domains' expected losses, lowest first: web ")
    assert text.index("web") < text.index("books") < text.index("code")
    t = pd.DataFrame({"params": [7e10], "tokens": [1.4e12]})
    mean = np.column_stack([keyed_predictive_draws(fake_hier_fit, t, d, fake_hier_fit.random_seed)[0][:, 0]
                            for d in ("books", "code", "web")])
    p_web = float((np.argmin(mean, axis=1) == 2).mean())
    assert f"web {np.exp(np.median(mean[:, 2])):.3f} (lowest in {bs.display.format_probability(p_web)} of the draws)" \
        in text
    assert text.endswith("not across evaluation sets.")
    assert domains_compared_sentence(make_fake_fit(synthetic_runs()), row) == ""  # one domain: nothing to compare
    assert domains_compared_sentence(fake_hier_fit, {"params": 7e10, "tokens": 1.4e12}) == text  # a dict failed


def test_a_report_of_several_domains_compares_them_at_each_target_size_and_names_its_sections(fake_hier_fit):
    """A manager asking which recipe to scale to 1.3B got the comparison at 370M, the first target, only; and the
    summary named a frontier section that a law of N alone does not have (two fresh users)."""
    from bayes_scaling.report import domains_compared_sentence
    from bayes_scaling.workflow import expand_targets

    t = pd.DataFrame({"params": [7e10, 1e9], "tokens": [1.4e12, 2e10]})
    pred = fake_hier_fit.predict(expand_targets(fake_hier_fit, t))
    summary = build_fit_report(fake_hier_fit, pred, None).summary
    compared = [s for s in summary if "the domains' expected losses" in s]
    # smallest first, and the caveat once, at the end (a fresh user's came as 2.26B, 7.34B, 3.96B, each with it)
    assert compared == [domains_compared_sentence(fake_hier_fit, t.iloc[1], caveat=False),
                        domains_compared_sentence(fake_hier_fit, t.iloc[0])]
    assert sum("not across evaluation sets" in s for s in summary) == 1
    assert ("The runs cover 3 domains: the Forecasts section gives each of them and a new, unseen domain (the "
            "population forecast); one figure draws every domain's runs and fit, the others are drawn for ") in \
        " ".join(summary)
    front = fake_hier_fit.frontier([1e21], domain="web")
    assert "the Forecasts and Compute-optimal frontier sections give each" in \
        " ".join(build_fit_report(fake_hier_fit, pred, front).summary)


def test_the_fits_own_notes_give_their_advice_in_the_callers_style(fake_fit):
    """A CLI fit's report said "set min_tokens_per_param=0" under Diagnostics, where the terminal said the flag."""
    from dataclasses import replace

    from bayes_scaling.cli import _as_flags

    fit = replace(fake_fit, notes=["11 of 245 runs were left out of the fit. To fit them too, set min_tokens_per_param=0."])
    pred = fit.predict(TARGETS)
    plain = build_fit_report(fit, pred, None).to_markdown()
    styled = build_fit_report(fit, pred, None, advice_style=_as_flags).to_markdown()
    assert "Note: 11 of 245 runs were left out of the fit. To fit them too, set min_tokens_per_param=0." in plain
    assert "Note: 11 of 245 runs were left out of the fit. To fit them too, set --min-tokens-per-param 0." in styled


def test_the_data_section_counts_the_runs_left_out(fake_fit):
    """A fresh user read "527 training runs" as all of a file of 698."""
    from dataclasses import replace

    fit = replace(fake_fit, runs_left_out=3, min_tokens_per_param=1.0)
    md = build_fit_report(fit, fit.predict(TARGETS), None).to_markdown()
    assert ("24 of the 27 training runs given (the 3 trained on fewer than 1 token per parameter were left out, see "
            "Diagnostics) in 1 domain; N from") in md
    assert "were left out" not in build_fit_report(fake_fit, fake_fit.predict(TARGETS), None).to_markdown()


def test_law_and_prior_section_states_the_error_below_the_tokens_per_parameter_bound(fake_fit):
    from bayes_scaling.extrapolation import UNDERTRAINED_PRIOR

    fit = dataclasses.replace(fake_fit, min_tokens_per_param=1.0,
                              undertrained=UNDERTRAINED_PRIOR.updated([0.3, 0.1], [1.0, 0.25], where="measured"))
    md = build_fit_report(fit, fit.predict(TARGETS), None).to_markdown()
    assert ("Below 1 token per parameter, the regime the fit leaves its runs out of, a forecast adds an error that grows "
            "with the square root of the decades below it: 0.2 per square root of a decade (Student-t, 6 degrees of "
            "freedom), measured.") in md
    assert "square root of the decades" not in build_fit_report(fake_fit, fake_fit.predict(TARGETS), None).to_markdown()
    # the population's error, no run left out: said only when a target lies below the bound (a fresh user's runs at
    # 18-466 tokens per parameter read the sentence as about a regime of theirs)
    population = dataclasses.replace(fake_fit, min_tokens_per_param=1.0, undertrained=UNDERTRAINED_PRIOR)
    above = build_fit_report(population, population.predict(TARGETS), None).to_markdown()
    assert "square root of the decades" not in above
    low = pd.DataFrame({"params": [1e10], "tokens": [2e9]})
    with pytest.warns(UserWarning, match="fewer than 1 token per parameter"):
        below = build_fit_report(population, population.predict(low), None).to_markdown()
    assert ("a forecast adds an error that grows with the square root of the decades below it: 0.17 per square root of "
            "a decade (Student-t, 4 degrees of freedom), the population's (Chinchilla's 11 such runs).") in below


def test_model_form_paragraph_says_where_an_updated_kappa_came_from(fake_fit):
    # an updated prior's median was quoted as "learned from backtests of public data sets", then again after "updated
    # with": the population's own median and tail are now named, next to what the fit's runs made of them
    from bayes_scaling.extrapolation import ExtrapolationPrior

    ex = ExtrapolationPrior("learned + own runs", float(np.log(0.01)), 0.5, ("chinchilla", "openlm"),
                            details={"n_points": 12, "n_groups": 2, "max_distance": 0.5,
                                     "prior_log_kappa_mean": float(np.log(0.0144)), "prior_log_kappa_sd": 1.33})
    fit = dataclasses.replace(fake_fit, extrapolation=ex)
    md = build_fit_report(fit, fit.predict(TARGETS), None).to_markdown()
    assert ("so each forecast adds kappa times those decades to its log loss, kappa median 0.01 per decade (90% "
            "interval 0.0044 to 0.023): the distribution learned from backtests of public data sets (chinchilla, "
            "openlm), median 0.0144 per decade (95th percentile 0.13), updated with this fit's "
            "own errors: 12 runs of 2 domains forecast from the smaller ones, up to 0.50 decades beyond them (kappa "
            "median 0.01); further beyond the runs than that, the error per decade is the distribution's before the "
            "update (the fit's own runs do not reach there). The law's own parameters, less certain far out, widen "
            "the interval as well.") in " ".join(md.split())
    learned = dataclasses.replace(fake_fit, extrapolation=bs.extrapolation.get_extrapolation_prior("learned"))
    plain = build_fit_report(learned, learned.predict(TARGETS), None).to_markdown()
    assert ("to its log loss, kappa median 0.0144 per decade (90% interval 0.0016 to 0.13): learned from backtests "
            "of public data sets (chinchilla, datablations, openlm, routing).") in " ".join(plain.split())


def test_forecasts_below_the_laws_floor_are_explained(fake_fit):
    # a fresh user's isoFLOP recipes had E at 3.08 (3.03-3.15) above a forecast of 2.99 and the report did not say why
    from bayes_scaling.report import forecasts_below_floor_sentence

    params = pd.DataFrame({"domain": ["a", "a", "b"], "parameter": ["E", "alpha", "E"], "median": [3.084, 0.3, 2.0],
                           "lower": [3.031, 0.2, 1.9], "upper": [3.148, 0.4, 2.1]})
    pred = pd.DataFrame({"domain": ["a", "a", "b", "new"], "flops": [1.6e19, 1.6e20, 1.6e20, 1.6e20],
                         "mean_loss_median": [3.136, 2.991, 2.5, 1.0]})
    assert forecasts_below_floor_sentence(params, pred, 0.9) == (
        "The forecasts of a (2.991 at 1.6e+20 FLOPs against E 3.084, 90% interval 3.031-3.148) lie below the law's "
        "floor E. E is the floor of the law fitted to these runs, not a bound on the loss a larger run can reach: the "
        "forecast adds the discrepancy term (how these runs depart from the law's shape) and the model-form error, "
        "which take it below E here.")
    assert forecasts_below_floor_sentence(params, pred.iloc[[0, 2, 3]], 0.9) == ""  # within E's interval: nothing
    pred = fake_fit.predict(TARGETS)
    e_low = float(fake_fit.parameters(0.9).query("parameter == 'E'")["lower"].iloc[0])
    rep = build_fit_report(fake_fit, pred, None)
    texts = [b[1] for s in rep.sections if s.title == "Forecasts" for b in s.blocks if b[0] == "text"]
    assert not any("below the law's floor" in t for t in texts)
    low = pred.assign(mean_loss_median=e_low - 0.01)
    rep = build_fit_report(fake_fit, low, None)
    texts = [b[1] for s in rep.sections if s.title == "Forecasts" for b in s.blocks if b[0] == "text"]
    assert any(t.startswith("The forecasts of your runs (") and "below the law's floor E" in t for t in texts)


def test_no_conflict_next_to_a_far_loss_gap_says_where_each_is_measured(fake_hier_fit, monkeypatch):
    # a fresh user's recipe: "No prior-data conflict (p = 1): the runs ... lie -3% from the published law" over a loss
    # gap of +39 % (38-39 %) at 100x its largest compute, read as a contradiction
    import bayes_scaling.report as report_module

    fit = dataclasses.replace(fake_hier_fit, prior=bs.get_prior("besiroglu2024"))
    dep = report_module.departures(fit, domains=fit.own_domains)
    dep.loc[dep["quantity"] == "loss gap", ["median", "lower", "upper"]] = [0.3863, 0.3806, 0.3906]
    monkeypatch.setattr(report_module, "departures", lambda *a, **k: dep)
    monkeypatch.setattr(report_module, "prior_data_conflict", lambda fit, d: {
        "flag": "none", "message": f"No prior-data conflict (p = 1): the runs of '{d}' lie -3% from the published law."})
    texts = [obj for k, obj in risk_section(fit).blocks if k == "text"]
    said = [t for t in texts if t.startswith("No prior-data conflict")]
    assert len(said) == len(fit.own_domains)
    assert said[0] == (
        f"No prior-data conflict (p = 1): the runs of '{fit.own_domains[0]}' lie -3% from the published law. Further "
        "out its curve departs from the published one: the loss gap at the compute-optimal run with 100x the domain's "
        "largest compute is +39% (90% interval +38% to +39%, in the table above), so forecasts there rest on the "
        "domain's own runs, not on the published law.")
    dep.loc[dep["quantity"] == "loss gap", ["median", "lower", "upper"]] = [0.03, 0.01, 0.05]  # within the tolerance
    texts = [obj for k, obj in risk_section(fit).blocks if k == "text"]
    assert not any("Further out" in t for t in texts)


@pytest.mark.parametrize("fixed, words", [("tokens", "token counts"), ("params", "model sizes")])
def test_runs_of_one_size_are_told_which_runs_would_measure_the_split(fixed, words):
    # all runs at N = 10.6M on five token counts were told "Runs at other token counts would measure it" (a fresh user)
    import warnings as w

    from conftest import make_fake_fit, synthetic_runs

    runs = synthetic_runs(ratios=(5, 10, 20, 40, 80, 160))
    runs = runs[runs[fixed] == runs[fixed].iloc[0]] if fixed == "params" else runs.assign(tokens=2e10)
    with w.catch_warnings():
        w.simplefilter("ignore")
        fit = make_fake_fit(runs.reset_index(drop=True), prior="besiroglu2024")
        rep = build_fit_report(fit, fit.predict(TARGETS), fit.frontier([1e21]))
    texts = [b[1] for s in rep.sections if s.title == "Compute-optimal frontier" for b in s.blocks if b[0] == "text"]
    assert any(t.startswith("Every run has one ") and t.endswith(f"Runs at other {words} would measure it.")
               for t in texts), texts
