"""bayes_scaling.display: the Jupyter and text representations of a fit (law, prior, data, key intervals,
diagnostics; names escaped) and the number and table formatting the reports share."""

from __future__ import annotations

import dataclasses
import html
from html.parser import HTMLParser

import pandas as pd
import pytest

from bayes_scaling.diagnostics import Diagnostics
from bayes_scaling.priors import get_prior
from bayes_scaling.display import SUMMARY_MAX_DOMAINS, format_number, short_citation, table_html


class _Page(HTMLParser):
    """Tags and visible text of an HTML fragment."""

    def __init__(self, source: str):
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.chunks: list[str] = []
        self.feed(source)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)

    def handle_data(self, data):
        self.chunks.append(data)

    @property
    def text(self) -> str:
        return " ".join(" ".join(self.chunks).split())


def _interval(fit, parameter: str, domain: str) -> str:
    p = fit.parameters(0.9)
    r = p[(p["parameter"] == parameter) & (p["domain"] == domain)].iloc[0]
    return f"{r['median']:.4g} [{r['lower']:.4g}, {r['upper']:.4g}]"


def _renamed(fit, name: str):
    """The same posterior with its one domain renamed (a user-supplied name)."""
    return dataclasses.replace(fit, domains=[name], runs=fit.runs.assign(domain=name))


@pytest.mark.parametrize(
    ("citation", "short"),
    [
        ("Besiroglu, Erdil, Barnett, You (2024). Chinchilla Scaling: A replication attempt. arXiv:2404.10102",
         "Besiroglu et al. 2024"),
        ("Hoffmann et al. (2022), arXiv:2203.15556, Eq. 2; log-space form as in Besiroglu et al. (2024).",
         "Hoffmann et al. 2022"),
        ("Kaplan et al. (2020). Scaling Laws for Neural Language Models. arXiv:2001.08361", "Kaplan et al. 2020"),
        ("Smith (2019). A paper.", "Smith 2019"),
        ("bayes_scaling weakly-informative default (see the law's weak_prior docstring)", ""),
        ("", ""),
    ],
)
def test_short_citation(citation, short):
    assert short_citation(citation) == short


def test_text_repr_shows_law_prior_data_intervals_and_diagnostics(fake_chinchilla_fit):
    fit = fake_chinchilla_fit
    text = repr(fit)
    lines = text.splitlines()
    assert lines[0] == (
        "ScalingFit(law=chinchilla [Hoffmann et al. 2022], prior=weak [weakly informative], runs=234, domains=1, "
        f"draws={fit.n_draws}, diagnostics=ok)"
    )
    d = fit.diagnostics
    assert lines[1] == f"  diagnostics: max R-hat {d.max_rhat:.3f}, min ESS {d.min_ess_bulk:.0f}, {d.divergences} divergences"
    assert lines[2].split() == ["90%", "intervals", "E", "alpha", "beta"]
    (row,) = [ln for ln in lines if ln.startswith("  chinchilla ")]
    for name in ("E", "alpha", "beta"):
        assert _interval(fit, name, "chinchilla") in row
    # compact: the scale parameters A and B are left to fit.parameters()
    assert "A=" not in text and " B " not in text and len(lines) == 4


def test_html_repr_shows_the_same_summary(fake_chinchilla_fit):
    fit = fake_chinchilla_fit
    source = fit._repr_html_()
    page = _Page(source)
    text = page.text
    assert text.startswith("ScalingFit · law chinchilla (Hoffmann et al. 2022) · prior weak (weakly informative) · "
                           f"234 runs in 1 domain · {fit.n_draws} draws · diagnostics ok (max R-hat")
    for name in ("E", "alpha", "beta"):
        assert _interval(fit, name, "chinchilla") in text
    assert "posterior median [90% credible interval]" in text
    assert "script" not in page.tags
    assert page.tags.count("table") == 2  # the key intervals, and every parameter inside <details>
    assert "details" in page.tags
    assert 'class="ok" style="color:#006d43' in source


def test_jupyter_display_uses_both_representations(fake_fit):
    from IPython.core.interactiveshell import InteractiveShell  # a test dependency (ipykernel): never skipped

    fit = fake_fit
    shell = InteractiveShell.instance()
    data, _ = shell.display_formatter.format(fit)
    assert set(data) == {"text/plain", "text/html"}
    assert data["text/plain"] == repr(fit)
    assert data["text/html"] == fit._repr_html_()


def test_informative_prior_shows_its_citation_and_published_values(fake_fit):
    fit = fake_fit
    informative = dataclasses.replace(fit, prior=get_prior("besiroglu2024", law="chinchilla", widen=2))
    text = repr(informative)
    assert "prior=besiroglu2024 widened 2x [Besiroglu et al. 2024]" in text
    (published,) = [ln for ln in text.splitlines() if ln.startswith("  published (Besiroglu et al. 2024)")]
    pub = informative.parameters(0.9).drop_duplicates("parameter").set_index("parameter")["published"]
    assert published.split()[-3:] == [f"{pub[k]:.4g}" for k in ("E", "alpha", "beta")]
    assert published.split()[-3:-1] == ["1.817", "0.3478"]  # Besiroglu et al. (2024) point estimate
    page = _Page(informative._repr_html_())
    assert "prior besiroglu2024 widened 2x (Besiroglu et al. 2024)" in page.text
    assert f"published (Besiroglu et al. 2024) {pub['E']:.4g} {pub['alpha']:.4g} {pub['beta']:.4g}" in page.text


def test_failed_diagnostics_are_shown_with_the_problems(fake_fit):
    fit = fake_fit
    problem = "R-hat is 1.08 for 'mu' (should be <= 1.01): run more draws & check <the priors>."
    bad = dataclasses.replace(
        fit,
        diagnostics=Diagnostics(ok=False, max_rhat=1.08, min_ess_bulk=55.0, min_ess_tail=40.0, divergences=3,
                                n_draws=fit.n_draws, problems=[problem]),
    )
    text = repr(bad)
    assert "diagnostics=PROBLEMS)" in text.splitlines()[0]
    assert "  diagnostics: max R-hat 1.080, min ESS 55, 3 divergences" in text
    assert f"  problem: {problem}" in text
    source = bad._repr_html_()
    assert html.escape(problem) in source and "<the priors>" not in source
    assert 'class="bad" style="color:#b03000;font-weight:600">problems</span>' in source
    unchecked = dataclasses.replace(fit, diagnostics=None)
    assert repr(unchecked).splitlines()[0].endswith("diagnostics=not checked)")
    assert "diagnostics not checked" in _Page(unchecked._repr_html_()).text


def test_html_repr_escapes_domain_names(fake_fit):
    fit = fake_fit
    name = '<script>alert("x")</script> & <b onmouseover=alert(2)>web</b>'
    renamed = _renamed(fit, name)
    source = renamed._repr_html_()
    page = _Page(source)
    assert "script" not in page.tags
    assert page.tags.count("b") == 3  # ScalingFit, the law, the prior: none from the name
    assert "<script>" not in source and "<b onmouseover" not in source
    assert html.escape(name) in source
    assert f"{name} {_interval(renamed, 'E', name)}" in page.text
    # the text repr shows the name as it is
    assert any(ln.startswith(f"  {name} ") for ln in repr(renamed).splitlines())


def test_many_domains_are_listed_up_to_a_limit(fake_fit):
    fit = fake_fit
    n = SUMMARY_MAX_DOMAINS + 3
    names = [f"domain-{i:02d}" for i in range(n)]
    # a one-domain posterior read for every name (theta() maps each to the one fitted domain)
    many = dataclasses.replace(fit, domains=names, runs=fit.runs.assign(domain=[names[i % n] for i in range(len(fit.runs))]))
    text = repr(many)
    assert f"domains={n}" in text.splitlines()[0]
    rows = [ln for ln in text.splitlines() if ln.startswith("  domain-")]
    assert [r.split()[0] for r in rows] == names[:SUMMARY_MAX_DOMAINS]
    assert text.splitlines()[-1] == "  ... and 3 more domains (fit.parameters() lists them all)"
    page = _Page(many._repr_html_())
    assert f"{len(fit.runs)} runs in {n} domains" in page.text
    assert "and 3 more domains" in page.text
    assert "domain-14" in page.text  # still in the collapsed full table


@pytest.mark.parametrize(("value", "text"), [(7e10, "70B"), (1.4e12, "1.4T"), (5.88e23, "5.88e23"), (2.99e9, "2.99B"),
                                             (1.2e5, "120K"), (1e21, "1e21"),
                                             (2.5, "2.5"), (0.3478, "0.3478"), (1.81686, "1.817"), (3, "3"),
                                             (0.0004, "4e-4"), (float("nan"), "–"), (None, "–")])
def test_numbers_as_reports_show_them(value, text):
    assert format_number(value) == text


def test_table_html_escapes_and_aligns():
    df = pd.DataFrame({"domain": ["<b>x</b>"], "loss_median": [1.94123]})
    out = table_html(df, "a <caption>")
    assert "<b>x</b>" not in out and "&lt;b&gt;x&lt;/b&gt;" in out
    assert '<td class="t">' in out and "<td>1.941</td>" in out
    assert "<caption>a &lt;caption&gt;</caption>" in out and "loss_<wbr>median" in out


def test_runs_repeated_with_several_seeds_are_noted(fake_fit):
    """Issue 14: a seed column with repeated (N, D) is noted in the fit's summary."""
    import dataclasses

    runs = pd.concat([fake_fit.runs, fake_fit.runs.iloc[:3].assign(loss=lambda d: d["loss"] * 1.001)], ignore_index=True)
    fit = dataclasses.replace(fake_fit, runs=runs)
    note = "3 configuration(s) (same N, D and domain) trained more than once, e.g. seeds (6 runs): every run is kept"
    assert f"  data: {note}" in repr(fit).splitlines()
    assert note in fit._repr_html_()
    assert fit.to_dict()["data"]["repeated_configurations"] == 3
    assert "data:" not in repr(fake_fit)


def test_a_column_legend_follows_the_tables_column_order():
    # a fresh user found next-run's shrinkage_se explained after ess_low, three columns past where it stood
    from bayes_scaling.display import column_legend
    from bayes_scaling.value_of_information import NEXT_RUN_COLUMNS

    shown = ["rank", "label", "width_now", "width_after", "shrinkage", "shrinkage_se", "shrinkage_per_exaflop", "ess",
             "ess_low", "measurable"]
    lines = column_legend(NEXT_RUN_COLUMNS, shown).splitlines()
    assert [ln.split(":")[0].strip() for ln in lines] == ["Columns", *shown[2:]]
    assert column_legend(NEXT_RUN_COLUMNS, ["rank", "label"]) == ""
