"""Floor 4. Reports: one self-contained HTML page and a Markdown twin.

The HTML embeds its figures as base64 PNG (no network, no scripts), has a print
stylesheet for A4 and Letter, and escapes every piece of user-supplied text
(domain names, file names, column values). The Markdown twin references the PNG
files written next to it and pastes into a document.
"""

from __future__ import annotations

import base64
import html
import io
import json
import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib import pyplot as plt

from ._text import listed, tokens_per_param_text
from ._version import __version__
from .data import DEFAULT_DOMAIN, OTHER_SIZE, PLAUSIBLE_TOKENS_PER_PARAM, below_tokens_per_param, fitted_tokens_per_param, configuration_words, repeated_configurations, single_size_axis
from .display import domain_label, format_count, format_flops, format_number, format_p_value, format_probability, table_html
from .investment import format_money
from .plots import (
    plot_departures,
    plot_domains,
    plot_fit,
    plot_forecast,
    plot_frontier,
    plot_net_value,
    plot_parameters,
    prior_natural_draws,
)
from .model import RICH_RUNS
from .predict import FORECAST_MIN_TAIL_WEIGHT, MANY_EPOCHS, keyed_predictive_draws
from .priors import BETWEEN_DOMAIN, BETWEEN_STUDY
from .intervals import interval
from .risk import (DEPARTURE_COMPUTE_FACTOR, DEPARTURE_SIZE_FACTOR, DEPARTURE_VS_CONFLICT, departures, exceedance,
                   prior_data_conflict)

__all__ = [
    "Report",
    "Section",
    "Figure",
    "build_fit_report",
    "domains_compared_sentence",
    "COMPARED_CAVEAT",
    "forecasts_below_floor_sentence",
    "DEFAULT_TARGETS",
    "sensitivity_section",
    "TARGET_BUDGETS",
    "DATA_WARNING_NOTE",
    "LEFT_OUT_WARNING_NOTE",
    "TARGET_WARNING_NOTE", "FRONTIER_WARNING_NOTE",
    "FIT_REPORT_FIGURES",
    "figure_domain",
    "risk_section",
    "decision_section",
    "decision_report",
    "headline_sentence",
    "heavy_tail_note",
    "runs_far_above",
    "far_runs_sentence",
    "write_json",
    "HEAVY_TAIL_NU",
    "FAR_ABOVE_SCALES",
]

_CSS = """
*,*::before,*::after{box-sizing:border-box}
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;
color:#1a1a1a;line-height:1.45;overflow-wrap:break-word}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{font-size:1.2rem;border-bottom:1px solid #ddd;padding-bottom:.2rem;margin-top:2rem}
.summary{background:#f3f7fb;border-left:4px solid #0072B2;padding:.8rem 1rem;margin:1rem 0}
.summary ul{margin:.4rem 0 0;padding-left:1.2rem}
.ok{color:#006d43;font-weight:600}.bad{color:#b03000;font-weight:600}
.table-wrap{max-width:100%;overflow-x:auto;margin:.5rem 0}
table{border-collapse:collapse;font-size:.85rem;margin:0;width:auto;font-variant-numeric:tabular-nums}
caption{caption-side:top;text-align:left;font-size:.85rem;color:#444;padding:.2rem 0}
th,td{border:1px solid #ccc;padding:.2rem .45rem;text-align:right;vertical-align:top}
th{background:#f4f4f4;font-weight:600}td{white-space:nowrap}
td.t,th.t{text-align:left}td.t{white-space:normal;overflow-wrap:break-word;min-width:4em}
figure{margin:1.2rem 0;page-break-inside:avoid;break-inside:avoid}
img{display:block;max-width:100%;height:auto}figcaption{font-size:.85rem;color:#444;margin-top:.3rem}
.small{font-size:.8rem;color:#555}
@page{size:auto;margin:15mm}
@media print{
body{max-width:none;margin:0;padding:0;font-size:10pt}
h1{font-size:16pt}h2{font-size:12.5pt;page-break-after:avoid;break-after:avoid}
.summary{border:1px solid #0072B2;border-left-width:4px;break-inside:avoid}
.table-wrap{overflow:visible}
table{font-size:7.5pt;page-break-inside:avoid;break-inside:avoid}
th,td{padding:.1rem .25rem}
img{max-height:21cm;width:auto}
a{color:inherit;text-decoration:none}}
"""


#: Resolution of the report's PNG figures; the HTML shows them at their size in inches (96 CSS px per inch).
_FIG_DPI = 150


def _png_css_size(png: bytes, dpi: float = _FIG_DPI) -> tuple[int, int] | None:
    """Width and height in CSS pixels of a PNG rendered at ``dpi`` (None if the bytes are not a PNG)."""
    if len(png) < 24 or png[:8] != b"\x89PNG\r\n\x1a\n" or png[12:16] != b"IHDR":
        return None
    w, h = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
    return max(1, round(w * 96 / dpi)), max(1, round(h * 96 / dpi))


def _figure_html(fig: Figure) -> str:
    b64 = base64.b64encode(fig.png).decode("ascii")
    size = _png_css_size(fig.png)
    dims = f' width="{size[0]}" height="{size[1]}"' if size else ""
    return (
        f'<figure><img alt="{html.escape(fig.caption)}"{dims} src="data:image/png;base64,{b64}">'
        f"<figcaption>{html.escape(fig.caption)}</figcaption></figure>"
    )


@dataclass
class Figure:
    """A figure of a report: a matplotlib figure saved as PNG."""

    name: str
    caption: str
    png: bytes


#: matplotlib's warning for a character its font lacks: "Glyph 25968 (\\N{CJK UNIFIED IDEOGRAPH-6570}) missing from
#: font(s) DejaVu Sans."
_MISSING_GLYPH = re.compile(r"Glyph (\d+) .*missing from font")


@dataclass
class Section:
    """A report section: a title, paragraphs, tables and figures, in order."""

    title: str
    blocks: list = field(default_factory=list)

    def text(self, s: str) -> Section:
        """Add a paragraph (plain text; escaped in HTML)."""
        self.blocks.append(("text", s))
        return self

    def table(self, df: pd.DataFrame, caption: str = "") -> Section:
        """Add a table (cells escaped in HTML; a ``domain`` column shows :func:`~bayes_scaling.display.domain_label`)."""
        if "domain" in df:  # the CSV files keep "default"; a reader sees "your runs" (a fresh user)
            df = df.assign(domain=df["domain"].map(lambda d: domain_label(d) if isinstance(d, str) else d))
        self.blocks.append(("table", (df, caption)))
        return self

    def figure(self, fig, name: str, caption: str) -> Section:
        """Add a matplotlib figure (rendered to PNG at 150 dpi and closed; shown at its size in inches)."""
        buf = io.BytesIO()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            fig.savefig(buf, format="png", dpi=_FIG_DPI, bbox_inches="tight")
        plt.close(fig)
        missing = []
        for w in caught:  # matplotlib warns once per glyph, naming neither the figure nor a fix (a fresh user's CJK)
            m = _MISSING_GLYPH.search(str(w.message))
            if m is None:
                warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
            elif (char := f"'{chr(int(m.group(1)))}'") not in missing:
                missing.append(char)
        if missing:
            warnings.warn(f"figure '{name}': its font cannot draw {listed(missing, 5)} (in a domain or label name), drawn "
                          "as empty boxes; the tables are right. Use names in Latin letters, or give matplotlib a "
                          "font that has these characters (rcParams['font.family']).", UserWarning, stacklevel=2)
        self.blocks.append(("figure", Figure(name, caption, buf.getvalue())))
        return self


def _md_escape(s: str) -> str:
    """Text for the Markdown twin: table pipes escaped, and a ``<`` that could open an HTML tag backslash-escaped
    (CommonMark); "<= 1.01" and "< 1 %" stay as written, never as HTML entities."""
    text = str(s).replace("|", "\\|")
    return re.sub(r"<(?=[A-Za-z/!?])", r"\\<", text)


def _table_md(df: pd.DataFrame, caption: str) -> str:
    cols = list(df.columns)
    lines = []
    if caption:
        lines.append(f"*{_md_escape(caption)}*\n")
    lines.append("| " + " | ".join(_md_escape(c) for c in cols) + " |")
    lines.append("|" + "|".join("---:" if pd.api.types.is_numeric_dtype(df[c]) else "---" for c in cols) + "|")
    for _, r in df.iterrows():
        cells = []
        for c in cols:
            v = r[c]
            if isinstance(v, (float, np.floating, int, np.integer)) and not isinstance(v, bool):
                cells.append(format_number(v))
            else:
                cells.append(_md_escape(v))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


@dataclass
class Report:
    """A report: title, plain-language summary lines, sections."""

    title: str
    summary: list[str] = field(default_factory=list)
    sections: list[Section] = field(default_factory=list)
    footer: str = ""

    def section(self, title: str) -> Section:
        """Append and return a new section."""
        s = Section(title)
        self.sections.append(s)
        return s

    def to_html(self) -> str:
        """Self-contained HTML (figures inline as base64 PNG)."""
        parts = [
            "<!DOCTYPE html>",
            '<html lang="en"><head><meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{html.escape(self.title)}</title><style>{_CSS}</style></head><body>",
            f"<h1>{html.escape(self.title)}</h1>",
        ]
        if self.summary:
            parts.append('<div class="summary"><strong>Summary</strong><ul>')
            parts += [f"<li>{html.escape(s)}</li>" for s in self.summary]
            parts.append("</ul></div>")
        for sec in self.sections:
            parts.append(f"<h2>{html.escape(sec.title)}</h2>")
            for kind, obj in sec.blocks:
                if kind == "text":
                    parts.append(f"<p>{html.escape(obj)}</p>")
                elif kind == "table":
                    parts.append(table_html(*obj))
                elif kind == "figure":
                    parts.append(_figure_html(obj))
        if self.footer:
            parts.append(f'<p class="small">{html.escape(self.footer)}</p>')
        parts.append("</body></html>")
        return "\n".join(parts)

    def to_markdown(self) -> str:
        """Markdown twin; figures are referenced as ``<name>.png`` next to the file."""
        out = [f"# {_md_escape(self.title)}", ""]
        if self.summary:
            out += ["**Summary**", ""] + [f"- {_md_escape(s)}" for s in self.summary] + [""]
        for sec in self.sections:
            out += [f"## {_md_escape(sec.title)}", ""]
            for kind, obj in sec.blocks:
                if kind == "text":
                    out += [_md_escape(obj), ""]
                elif kind == "table":
                    out += [_table_md(*obj), ""]
                elif kind == "figure":
                    out += [f"![{_md_escape(obj.caption)}]({obj.name}.png)", "", f"*{_md_escape(obj.caption)}*", ""]
        if self.footer:
            out += ["", f"<sub>{_md_escape(self.footer)}</sub>"]
        return "\n".join(out) + "\n"

    def write(self, out_dir, stem: str = "report") -> dict[str, Path]:
        """Write ``<stem>.html``, ``<stem>.md`` and one PNG per figure into ``out_dir``.

        Parameters
        ----------
        out_dir : str or Path
        stem : str, default "report"
            File name of the HTML page and its Markdown twin (``decision`` for ``bayes-scaling decide``).

        Returns
        -------
        dict of Path
            ``html``, ``markdown`` and ``figures`` (list).
        """
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        figs = []
        for sec in self.sections:
            for kind, obj in sec.blocks:
                if kind == "figure":
                    p = out_dir / f"{obj.name}.png"
                    p.write_bytes(obj.png)
                    figs.append(p)
        h = out_dir / f"{stem}.html"
        h.write_text(self.to_html(), encoding="utf-8")
        m = out_dir / f"{stem}.md"
        m.write_text(self.to_markdown(), encoding="utf-8")
        return {"html": h, "markdown": m, "figures": figs}


def _domain_phrase(row, first_of: int | None = None) -> str:
    dom = row.get("domain")
    if row.get("domain_kind") == "new_domain":
        return " (a new domain: the population forecast)"
    if isinstance(dom, str) and dom != DEFAULT_DOMAIN:
        # a fresh user's six corpora got a headline for one of them, read as the recommended or best one
        return f" ({dom}, the first of the {first_of} domains in the runs table)" if first_of else f" ({dom})"
    return ""


def _known(row: pd.Series, col: str) -> bool:
    """Whether a forecast row has a finite value in ``col``."""
    return col in row.index and pd.notna(row[col]) and np.isfinite(float(row[col]))


#: Most domains named one by one in :func:`domains_compared_sentence` (the rest are counted).
COMPARED_DOMAINS = 6
_VARIABLE_WORDS = {"params": "parameters", "tokens": "tokens", "flops": "FLOPs"}


#: The end of :func:`domains_compared_sentence`: where comparing domains' losses means something.
COMPARED_CAVEAT = (" These compare like with like only where the domains are scored on the same data (training mixes or "
                   "recipes evaluated on one validation set), not across evaluation sets.")


def domains_compared_sentence(fit, row: pd.Series, caveat: bool = True) -> str:
    """The fit's own domains compared at one run: each one's expected loss there and how often it is the lowest.

    The expected log loss of every domain at the run's sizes comes from the same posterior draws
    (:func:`~bayes_scaling.predict.keyed_predictive_draws`), so ``P(lowest)`` is the share of draws in which a
    domain's expected loss is below every other's: which data mix or recipe to pick, with how sure one can be. A
    fresh user with three data mixes found the mixes' forecasts in separate tables and no word on which was better.

    Parameters
    ----------
    fit : ScalingFit
    row : pandas.Series or dict
        A target with the law's variables (the report's headline run), e.g. ``{"params": 1.3e9, "tokens": 1.3e11}``.
    caveat : bool, default True
        End with :data:`COMPARED_CAVEAT` (a report comparing at several sizes says it once).

    Returns
    -------
    str
        One sentence, or "" for a fit of one domain.
    """
    row = pd.Series(row)  # a dict failed with AttributeError (a fresh user)
    own = fit.own_domains
    if len(own) < 2 or not all(v in row.index for v in fit.law.variables):
        return ""
    t = pd.DataFrame([{v: float(row[v]) for v in fit.law.variables}])
    mean = np.column_stack([keyed_predictive_draws(fit, t, d, fit.random_seed)[0][:, 0] for d in own])  # (S, domains)
    p_low = np.bincount(np.argmin(mean, axis=1), minlength=len(own)) / mean.shape[0]
    med = np.exp(np.median(mean, axis=0))
    order = np.argsort(med, kind="stable")
    parts = [f"{domain_label(own[j])} {med[j]:.3f} (lowest in {format_probability(p_low[j])} of the draws)"
             for j in order[:COMPARED_DOMAINS]]
    more = f" and {len(own) - COMPARED_DOMAINS} more" if len(own) > COMPARED_DOMAINS else ""
    sizes = " on ".join(f"{format_count(row[v])} {_VARIABLE_WORDS.get(v, v)}" for v in fit.law.variables
                        if v in ("params", "tokens", "flops"))
    return (f"At {sizes}, the domains' expected losses, lowest first: " + ", ".join(parts) + more + "."
            + (COMPARED_CAVEAT if caveat else ""))


def headline_sentence(row: pd.Series, prob: float, threshold: float | None = None, p_exceed: float | None = None,
                      first_of: int | None = None) -> str:
    """Plain-language forecast sentence.

    Example: "A 70B-parameter model on 1.4T tokens reaches 1.940 nats/token (90% interval
    1.900–1.980, one training run); 12 % chance of missing the target 1.95 nats/token."
    Probabilities read as :func:`bayes_scaling.display.format_probability` writes them
    ("< 1 %", "2.5 %", "> 99 %"). ``first_of``: the row is the default target of the first of that many
    domains, and the sentence says so (not a pick among them).
    """
    size = (f"A {format_count(row['params'])}-parameter model" if _known(row, "params") else
            f"A run of {row['flops']:.3g} FLOPs" if _known(row, "flops") else "A run")
    if _known(row, "tokens"):
        size += f" on {format_count(row['tokens'])} tokens"
        if _known(row, "unique_tokens") and row["unique_tokens"] < row["tokens"]:
            size += f" ({format_count(row['unique_tokens'])} unique, {row['tokens'] / row['unique_tokens']:.3g} epochs)"
        elif _known(row, "unique_tokens"):  # a data-constrained forecast that assumes fresh data said so only bullets
            size += " (all unique: one epoch)"  # later, where a manager reading the headline did not get (a fresh user)
    s = (
        size
        + _domain_phrase(row, first_of)
        + f" reaches {row['loss_median']:.3f} nats/token ({prob:.0%} interval {row['loss_lower']:.3f}–{row['loss_upper']:.3f}"
        + ", one training run)"
    )
    if threshold is not None and p_exceed is not None:
        s += f"; {format_probability(p_exceed)} chance of missing the target {threshold:.4g} nats/token"
    return s + "."


def figure_domain(fit, predictions: pd.DataFrame | None = None) -> str | None:
    """The domain the report's figures and frontier table are drawn for.

    Parameters
    ----------
    fit : ScalingFit
    predictions : DataFrame, optional
        The forecast table (its first row is the report's headline).

    Returns
    -------
    str or None
        None (the fit's default domain) for a fit with one domain of its own (reference
        domains aside); otherwise the headline forecast's domain when the fit has seen it,
        else the first domain of the runs.
    """
    own = fit.own_domains
    if len(own) <= 1:
        return None
    if predictions is not None and len(predictions) and predictions["domain"].iloc[0] in own:
        return str(predictions["domain"].iloc[0])
    return own[0]


def likelihood_text(fit) -> str:
    """The report's sentence on the noise model: which domains have a learned Student-t tail, and the noise scales.

    A domain with fewer than :data:`~bayes_scaling.model.RICH_RUNS` runs has normal noise (its tail weight is fixed,
    :data:`~bayes_scaling.model.SPARSE_NU`); the report said "Student-t (robust; tail weight learned)" for a fit of
    three such domains, and named no noise scale, which set most of the width of their one-run intervals (a fresh
    user had to dig it out of the posterior).

    Parameters
    ----------
    fit : ScalingFit

    Returns
    -------
    str
        One or two sentences, ending with a space.
    """
    own = fit.own_domains
    rich = [fit.domains[i] for i in fit.structure.rich if fit.domains[i] in own]
    if fit.structure.likelihood != "student_t":
        noise = "normal noise on log loss"
    elif not rich:
        noise = (f"normal noise on log loss (a domain of fewer than {RICH_RUNS} runs is too small to learn a Student-t "
                 "tail weight: a heavy tail on few runs declares some of them outliers)")
    elif len(rich) == len(own):
        noise = "Student-t noise on log loss (robust; tail weight learned)"
    else:
        noise = (f"Student-t noise on log loss (robust; tail weight learned) for the domains of at least {RICH_RUNS} "
                 f"runs ({listed((domain_label(d) for d in rich), 5)}), normal for the others")
    sigma = np.median(fit.noise_scales(), axis=0)
    scales = np.array([sigma[fit.domains.index(d)] for d in own])
    lo, hi = f"{scales.min():.2g}", f"{scales.max():.2g}"
    pct = f"{scales.min():.1%}" if f"{scales.min():.1%}" == f"{scales.max():.1%}" else f"{scales.min():.1%} to {scales.max():.1%}"
    scale = (f"noise scale {lo}" if lo == hi else f"noise scale per domain {lo} to {hi}") + f" (about {pct} of the loss)"
    return f"Likelihood: {noise}; {scale}. "


def forecasts_below_floor_sentence(params: pd.DataFrame, predictions: pd.DataFrame, prob: float = 0.9,
                                   default_domain: str = DEFAULT_DOMAIN) -> str:
    """Say where a fitted domain's forecast lies below the lower end of its floor E's credible interval, "" if nowhere.

    E is the floor of the law fitted to the runs (Hoffmann et al. 2022, Eq. 2), but a forecast adds the discrepancy
    term and the model-form error, which can take it below E. A fresh user's isoFLOP recipes had E at 3.08 (90 %
    interval 3.03-3.15) above a forecast of 2.99 and the held-out runs, and the report did not say why.

    Parameters
    ----------
    params : DataFrame
        :meth:`ScalingFit.parameters` (columns ``domain``, ``parameter``, ``median``, ``lower``, ``upper``).
    predictions : DataFrame
        Forecasts with ``mean_loss_median`` (nats per token) and the target's ``flops``; ``domain`` optional (else
        ``default_domain``).
    prob : float
        Mass of the intervals in ``params``, for the wording.
    """
    if "mean_loss_median" not in predictions or "E" not in set(params["parameter"]):
        return ""
    floor = params[params["parameter"] == "E"].set_index("domain")
    doms = predictions["domain"] if "domain" in predictions else pd.Series(default_domain, index=predictions.index)
    below = []
    for dom in pd.unique(doms):
        if not isinstance(dom, str) or dom not in floor.index:  # a new domain's forecast is the population's
            continue
        rows = predictions[(doms == dom).to_numpy() & (predictions["mean_loss_median"] < floor.loc[dom, "lower"])]
        if len(rows):
            r = rows.loc[rows["mean_loss_median"].idxmin()]
            at = f" at {r['flops']:.3g} FLOPs" if "flops" in r and np.isfinite(float(r["flops"])) else ""
            e = floor.loc[dom]
            below.append(f"{domain_label(dom)} ({r['mean_loss_median']:.4g}{at} against E {e['median']:.4g}, "
                         f"{prob:.0%} interval {e['lower']:.4g}-{e['upper']:.4g})")
    if not below:
        return ""
    return (f"The forecasts of {listed(below, 3, '; ')} lie below the law's floor E. E is the floor of the law "
            "fitted to these runs, not a bound on the loss a larger run can reach: the forecast adds the discrepancy "
            "term (how these runs depart from the law's shape) and the model-form error, which take it below E here.")


def _published_outside(table: pd.DataFrame, prob: float) -> str | None:
    """One sentence naming the parameters whose published value lies outside the posterior interval."""
    out = table[np.isfinite(table["published"]) & ((table["published"] < table["lower"]) | (table["published"] > table["upper"]))]
    if out.empty:
        return None
    def where(domain) -> str:  # "A in default" (a fresh user's report of one domain next to reference runs)
        return "" if table["domain"].nunique() == 1 else f" in {domain_label(domain)}"

    parts = [f"{r.parameter}{where(r.domain)} ({format_number(r.published)} vs {format_number(r.lower)}–"
             f"{format_number(r.upper)})" for r in out.itertuples()]
    return (f"The published value lies outside the {prob:.0%} posterior interval for " + listed(parts, 8, "; ")
            + ": the runs pull these parameters away from the published fit.")


def _between_domain_text(fit) -> str:
    """How far each domain may depart from the population, in words, from the fit's own spreads (posterior medians)."""
    roles = dict(zip(fit.law.z_names, fit.law.z_roles))
    tau = np.median(fit.between_domain_spread(), axis=0)
    by_role = {}
    for name, t in zip(fit.spread_names, tau):
        if t > 0:
            by_role.setdefault(roles[name], []).append(float(t))
    words = {"level": "loss level", "exponent": "exponent", "share": "split of the loss between E and the size terms",
             "allocation": "allocation between N and D", "extra": "other parameters"}
    learned = [r for r in ("level", "exponent") if r in by_role and fit.structure.learn_spread]
    fixed = [r for r in by_role if r not in learned]
    text = "Each domain's parameters may depart from the population. "
    if learned:
        text += (f"How far the {' and the '.join(words[r] for r in learned)} differ between domains is learned from the "
                 "domains (log-normal priors kept away from zero; posterior median "
                 + ", ".join(f"{words[r]} {np.median(by_role[r]):.2g}" for r in learned) + ", log scale). ")
    if fixed:
        text += ("Fixed at literature values (log or logit scale): " + "; ".join(f"{words[r]} {max(by_role[r]):.2g}"
                                                                             for r in fixed) + ".")
        if "share" in fixed:
            text += (" The split may differ between domains as much as between published studies "
                     f"({BETWEEN_STUDY['share']:.2g}) where every domain's runs measure it, and by "
                     f"{BETWEEN_DOMAIN['share'][1]:.2g} where they cannot.")
    return text


#: Key of ``predictions.attrs``: True when the targets were chosen by the package (``workflow.default_targets``),
#: which the report's summary then says.
DEFAULT_TARGETS = "default_targets"

#: Key of ``predictions.attrs``: the budgets (FLOPs) whose compute-optimal runs are the default targets, when the
#: user gave budgets (``--flops``) and no targets.
TARGET_BUDGETS = "target_budgets"

#: Key of ``predictions.attrs`` (and of ``workflow.default_targets``' table): {domain: tokens per parameter} of the
#: domains whose default targets keep the runs' typical D/N, because the fit's compute-optimal split lies outside what
#: the runs measure.
OWN_SPLIT_TARGETS = "own_split_targets"

#: How a note that repeats a warning about the runs begins (the report's notes and summary.json keep them; the
#: summary counts them).
DATA_WARNING_NOTE = "warning about the runs: "
#: How a note that repeats a warning about runs the fit leaves out begins (:class:`~bayes_scaling.data.LeftOutRunsWarning`
#: while ``min_tokens_per_param`` leaves them out): kept in the notes, not counted by the summary, since the numbers do
#: not rest on those runs.
LEFT_OUT_WARNING_NOTE = "warning about runs the fit leaves out: "
#: How a note that repeats a warning about the targets begins (beyond R_D* epochs, implausible tokens per parameter:
#: a fresh user's headline target at 460 epochs was warned about on stderr only, not in the report or summary.json).
TARGET_WARNING_NOTE = "warning about the targets: "
#: How a note that repeats a warning the frontier raised begins (compute-optimal runs beyond the runs or below the
#: fit's tokens-per-parameter bound): the command line showed it as a warning and does not print it again as a note.
FRONTIER_WARNING_NOTE = "the frontier: "

#: Target sizes at which the report of several domains compares them (:func:`domains_compared_sentence`).
COMPARED_TARGETS = 3

#: Panels of the report's figure of every domain (``fit_domains.png``): 48 at 4 a row is a figure 30 inches tall.
MAX_DOMAIN_PANELS = 48

#: Every figure a fit's report (:func:`build_fit_report` and :func:`risk_section`) may hold, by name (``<name>.png``
#: next to the report): ``workflow.fit_and_report`` removes an earlier run's figures that a new run does not write.
FIT_REPORT_FIGURES = ("parameters", "fit_domains", "fit_flops", "fit_params", "fit", "frontier", "forecast",
                      "departures")

#: Student-t tail weight below which the report explains the noise's heavy tail: below 2 the run-to-run scatter has
#: no finite variance, and a few runs far above the law make the interval for one new run several times that of the
#: expected loss (datablations, fit N < 2B: tail weight 0.84, one-run interval 0.28 wide against 0.037; 12 of the
#: runs far above its law are over-fitted at 30-460 epochs; ``benchmarks/model_geometry.md``, session 11).
HEAVY_TAIL_NU = 2.0
#: A run this many noise scales above the law's median (log loss) is counted as far above it in that note.
FAR_ABOVE_SCALES = 5.0


def heavy_tail_note(fit, prob: float = 0.9) -> str:
    """The report's note on a heavy-tailed noise: which domains, what set it, and what it does to the intervals.

    Parameters
    ----------
    fit : ScalingFit
    prob : float
        Credible-interval probability of the widths compared.

    Returns
    -------
    str
        Empty unless a fitted domain of the user's (not a reference) has a Student-t tail weight with posterior
        median below :data:`HEAVY_TAIL_NU`. Otherwise: the tail weights, the runs more than
        :data:`FAR_ABOVE_SCALES` noise scales above the law (count, how many beyond :data:`MANY_EPOCHS` epochs for
        the data-constrained law, and the three furthest), and the ratio of the one-run interval
        (``loss_lower/upper``) to the expected-loss interval (``mean_loss_lower/upper``) at the run of largest
        compute of the heaviest-tailed domain.
    """
    own = fit.own_domains
    heavy = [(d, fit.tail_weight(d)) for d in own]
    heavy = [(d, nu) for d, nu in heavy if np.all(np.isfinite(nu)) and np.median(nu) < HEAVY_TAIL_NU]
    if not heavy:
        return ""
    cols = [c for c in fit.law.variables if c in fit.runs]
    with warnings.catch_warnings():  # forecasts of the fit's own runs: their warnings were given when they were read
        warnings.simplefilter("ignore")
        return _heavy_tail_text(fit, heavy, cols, prob)


def _run_phrase(r, cols) -> str:
    """'N = 1.52B, D = 66B, U = 100M (660 epochs)' for a run (the law's size columns it has)."""
    parts = []
    if "params" in cols:
        parts.append(f"N = {format_count(r.params)}")
    if "tokens" in cols:
        parts.append(f"D = {format_count(r.tokens)}")
    if "unique_tokens" in cols:
        parts.append(f"U = {format_count(r.unique_tokens)} ({format_number(r.tokens / r.unique_tokens, 3)} epochs)")
    if "flops" in cols:  # the law of C alone (its runs were named by nothing: "(, loss 5.006", a fresh user)
        parts.append(f"C = {format_flops(r.flops)} FLOPs")
    return ", ".join(parts)


def _scaled_residuals(fit, domain, cols, prob):
    """A domain's own runs (index reset), their forecasts, and their log-loss residuals in noise scales."""
    runs = fit.own_runs(domain).reset_index(drop=True)
    pred = fit.predict(runs[cols].assign(domain=domain), prob=prob)
    z = (np.log(runs["loss"].to_numpy(float)) - np.log(pred["mean_loss_median"].to_numpy(float))) / float(
        np.median(fit.noise_scale(domain)))
    return runs, pred, z


def runs_far_above(fit, prob: float = 0.9) -> pd.DataFrame:
    """The fit's own runs that lie more than :data:`FAR_ABOVE_SCALES` noise scales above the law, furthest first.

    A run that far above is more often a failure (a diverged or over-fitted run, an early checkpoint, a mis-logged
    loss) than the regime being forecast; a heavy-tailed noise discounts it, but it widens every one-run interval.

    Parameters
    ----------
    fit : ScalingFit
    prob : float
        Interval probability of the forecasts of the runs (their median is what is used).

    Returns
    -------
    pandas.DataFrame
        ``domain``, the law's size columns, ``loss`` (nats/token) and ``noise_scales`` (log-loss residual from the
        posterior-median expected loss, in units of the domain's median noise scale); empty when none.
    """
    cols = [c for c in fit.law.variables if c in fit.runs]
    parts = []
    with warnings.catch_warnings():  # forecasts of the fit's own runs: their warnings were given when they were read
        warnings.simplefilter("ignore")
        for d in fit.own_domains:
            runs, _, z = _scaled_residuals(fit, d, cols, prob)
            far = z > FAR_ABOVE_SCALES
            parts.append(runs.loc[far, cols + ["loss"]].assign(domain=d, noise_scales=z[far]))
    out = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    if out.empty:
        return pd.DataFrame(columns=["domain", *cols, "loss", "noise_scales"])
    return out[["domain", *cols, "loss", "noise_scales"]].sort_values("noise_scales", ascending=False,
                                                                      ignore_index=True)


def far_runs_sentence(fit, far: pd.DataFrame, listed_in: str = "") -> str:
    """One sentence on the runs of :func:`runs_far_above` (empty when there are none), for the terminal and the
    report's summary; ``listed_in`` names the file that lists all of them (the command line writes
    ``runs_far_above.csv``)."""
    if far.empty:
        return ""
    cols = [c for c in fit.law.variables if c in far]
    several = far["domain"].nunique() > 1 or len(fit.own_domains) > 1
    shown = "; ".join((f"{r.domain}: " if several else "") + f"{_run_phrase(r, cols)}, loss {r.loss:.3f} nats/token "
                      f"({r.noise_scales:.1f} noise scales)" for r in far.head(2).itertuples(index=False))
    return (f"{len(far)} run(s) lie more than {FAR_ABOVE_SCALES:g} noise scales above the fitted law ({shown}"
            + (f"; and {len(far) - 2} more" if len(far) > 2 else "")
            + (f"; all of them in {listed_in}" if listed_in and len(far) > 2 else "")
            + "): outside the law's regime (very few tokens "
            "per parameter, many epochs), failed runs, early checkpoints or mis-logged losses? They can widen the "
            "interval for one new run (through the noise's tail); if they are not the regime you forecast, drop them "
            "and fit again.")


def _heavy_tail_text(fit, heavy, cols, prob) -> str:
    far, preds = [], {}
    for d, _ in heavy:
        runs, preds[d], z = _scaled_residuals(fit, d, cols, prob)
        far.extend((float(zi), d, r) for zi, r in zip(z, runs.itertuples(index=False), strict=True) if zi > FAR_ABOVE_SCALES)
    d0, nu0 = min(heavy, key=lambda t: float(np.median(t[1])))
    runs0 = fit.own_runs(d0).reset_index(drop=True)
    i0 = int(runs0["flops"].idxmax()) if "flops" in runs0 else len(runs0) - 1
    big, p0 = runs0.loc[[i0]], preds[d0].iloc[i0]  # the run of largest compute, forecast above (draws keyed by sizes)
    ratio = (p0["loss_upper"] - p0["loss_lower"]) / (p0["mean_loss_upper"] - p0["mean_loss_lower"])
    lo, hi = interval(nu0, prob)
    # the domains of many runs share one tail weight: "c4_original 1.6, rpj 1.6, rw_original 1.6" read as three
    # (a fresh user)
    several = len(heavy) > 1
    shared = several and all(np.array_equal(np.asarray(nu), np.asarray(nu0)) for _, nu in heavy)
    names = (f"{float(np.median(nu0)):.2g}" if not several or shared
             else ", ".join(f"{domain_label(d)} {float(np.median(nu)):.2g}" for d, nu in heavy))
    text = (f"Heavy-tailed runs: the noise's tail weight learned from the runs (the degrees of freedom of its "
            f"Student-t) is {names}" + (f" ({prob:.0%} interval {lo:.2g}–{hi:.2g})" if not several or shared else "")
            + (f", shared by {', '.join(domain_label(d) for d, _ in heavy)}" if shared else "")
            + f"; below {HEAVY_TAIL_NU:g}, runs very far from the law are expected now and then, and the interval "
              "for one run has to reach them. ")
    if far:
        far.sort(key=lambda t: -t[0])
        text += f"It is set by {len(far)} run(s) more than {FAR_ABOVE_SCALES:g} noise scales above the law"
        if "unique_tokens" in cols:
            many = sum(r.tokens / r.unique_tokens > MANY_EPOCHS for _, _, r in far)
            text += (f", {many} of them beyond the published R_D* = {MANY_EPOCHS:g} epochs, where large models "
                     "over-fit and the data-constrained law has no term for it")
        text += "; the furthest: " + "; ".join(
            (f"{dz}: " if several else "") + f"{_run_phrase(r, cols)}, loss {r.loss:.3f} nats/token"
            for _, dz, r in far[:3]) + ". "
    text += (f"At the run of largest compute{' of ' + d0 if several else ''} ({_run_phrase(big.iloc[0], cols)}) the "
             f"{prob:.0%} interval for one new run is {ratio:.1f}x as wide as that of the expected loss (columns "
             "loss_* against mean_loss_*). If such runs are failures (diverged, over-fitted, mis-logged) rather than "
             "the regime you forecast, a fit without them gives narrower one-run intervals and different medians; "
             "compare the two fits before choosing.")
    if float(np.median(nu0)) < FORECAST_MIN_TAIL_WEIGHT:
        text += (f" The forecasts use a tail weight of at least {FORECAST_MIN_TAIL_WEIGHT:g} (a Cauchy): below it "
                 "the weight is set by the few most extreme runs, and the noise has no mean even in log loss.")
    return text


def timings_text(timings: dict, reference: bool = False) -> str:
    """Where a fit's seconds went, in words: "compile 24.0 s, sampling 102.7 s, the model inputs 2.4 s, checks 1.5 s, the
    fit of the smaller runs for the model-form error 99.4 s" (the parts add up to ``total_seconds``; parts under a
    second are said together as "the rest", when they reach half a second).

    Parameters
    ----------
    timings : dict
        ``ScalingFit.timings``: ``prepare_seconds`` (the runs' validation and the model's inputs, the reference runs'
        own fit among them), ``compile_seconds``, ``sample_seconds``, ``total_seconds`` and, when the model-form
        error was updated, ``extrapolation_update_seconds``.
    reference : bool, default False
        Whether the fit has reference runs, whose own fit is most of the rest.
    """
    update = timings.get("extrapolation_update_seconds", 0.0)
    compile_s, sample_s = timings.get("compile_seconds", 0.0), timings.get("sample_seconds", 0.0)
    prep = timings.get("prepare_seconds", 0.0)
    other = timings.get("total_seconds", 0.0) - compile_s - sample_s - update - prep
    # every part, so that they add up to the total ("second model compiled after 33 s" beside a total without the
    # reference runs' own fit read as a contradiction); the runs' checks and the model's inputs (the robust point fit
    # of each domain with a discrepancy term, and the reference runs' own fit) were one "checks 11.1 s", read as the
    # convergence checks, which take under a second (a fresh user's six corpora)
    text = f"compile {compile_s:.1f} s, sampling {sample_s:.1f} s"
    if prep >= 1.0:
        text += f", {'the reference runs and the model inputs' if reference else 'the model inputs'} {prep:.1f} s"
    text += f", checks {other:.1f} s" if other >= 1.0 else ""
    # the model-form error's second fit, of the smaller runs, was 142 of "checks 141.6 s" (a fresh user's recipes)
    text += f", the fit of the smaller runs for the model-form error {update:.1f} s" if update >= 1.0 else ""
    # the parts under a second, together: "fitted in 9.0 s (compile 8.1 s, sampling 0.2 s)" left 0.7 s unexplained
    # (a fresh user)
    rest = sum(v for v in (prep, other, update) if 0.0 < v < 1.0)
    return text + (f", the rest {rest:.1f} s" if rest >= 0.5 else "")


def build_fit_report(
    fit,
    predictions: pd.DataFrame,
    frontier: pd.DataFrame | None,
    *,
    prob: float = 0.9,
    title: str = "Scaling-law forecast",
    data_note: str = "",
    threshold: float | None = None,
    heldout: pd.DataFrame | None = None,
    extra_sections: list[Section] | None = None,
    notes: list[str] | None = None,
    loss_unit: str = "nats",
    far_runs: pd.DataFrame | None = None,
    far_runs_file: str = "",
    advice_style: Callable[[str], str] | None = None,
) -> Report:
    """The standard report of a fit.

    Parameters
    ----------
    fit : ScalingFit
    predictions : DataFrame
        Output of :meth:`ScalingFit.predict` (the forecast table; its first row is the headline).
    frontier : DataFrame, optional
        Output of :meth:`ScalingFit.frontier`, or the frontiers of several domains stacked
        (column ``domain``; :func:`bayes_scaling.workflow.domain_frontiers`).
    prob : float
    title : str
    data_note : str
        Where the runs came from (citation), shown in the data section.
    threshold : float, optional
        Target loss (nats/token) for the headline P(miss).
    heldout : DataFrame, optional
        Held-out runs drawn on the fit figure.
    extra_sections : list of Section, optional
        Appended after the standard sections (risk, backtest).
    notes : list of str, optional
        What could not be done for some domain; a "Notes" section.
    loss_unit : {"nats", "bits"}
        Unit the runs' losses were given in (bits are converted to nats before the fit; the data section says so).
    far_runs : DataFrame, optional
        :func:`runs_far_above` of the fit, when the caller has it (computed otherwise).
    far_runs_file : str, optional
        The file the caller writes them to, named in the summary's sentence on them.
    advice_style : callable, optional
        Rewrites the advice in the fit's own notes (``fit.notes``, under Diagnostics), as the caller's other notes
        were (the CLI turns ``min_tokens_per_param=0`` into ``--min-tokens-per-param 0``); default: unchanged.

    Returns
    -------
    Report
    """
    rep = Report(title)
    law = fit.law
    own = fit.own_domains
    several = len(own) > 1
    fig_dom = figure_domain(fit, predictions)  # None: the fit's default domain
    head_dom = fig_dom or fit.default_domain
    if fig_dom is not None and heldout is not None and "domain" in heldout:
        heldout = heldout[heldout["domain"] == fig_dom]
    diag = fit.diagnostics
    front_dom = frontier
    if frontier is not None and "domain" in frontier and frontier["domain"].nunique() > 1:
        front_dom = frontier[frontier["domain"] == head_dom]
    # --- summary
    head_key = predictions.iloc[0].get("domain") if len(predictions) else None
    head_runs = fit.own_runs(head_key)
    fixed = single_size_axis(head_runs) if law.has_allocation else None  # runs at one D (or one N)
    if len(predictions):
        row = predictions.iloc[0]
        p_ex = None
        if threshold is not None:
            # predict's and risk's draws for this target (keyed by seed, domain and sizes): the headline said 1.6 %
            # from a fresh generator where the risk table of the same report said < 1 % (a fresh user)
            dom = row["domain"] if isinstance(row.get("domain"), str) else fit.default_domain
            _, new = keyed_predictive_draws(fit, predictions.iloc[[0]], dom, fit.random_seed)
            p_ex = float((np.exp(new[:, 0]) > threshold).mean())
        first_of = len(own) if several and predictions.attrs.get(DEFAULT_TARGETS) and row.get("domain") == own[0] \
            else None
        rep.summary.append(headline_sentence(row, prob, threshold, p_ex, first_of=first_of))
        if predictions.attrs.get(DEFAULT_TARGETS):
            what = ("the compute-optimal run at 10x the compute of its domain's largest run" if law.has_allocation
                    else f"10x the '{law.variables[0]}' of its domain's largest run")
            if fixed is not None:  # as default_targets chose them (a fresh user read "27.8B on 6.21B tokens")
                size = format_count(head_runs[fixed].iloc[0])
                what = (f"a run with 10x the parameters of its domain's largest run, on the {size} tokens every run "
                        "was trained on" if fixed == "tokens" else
                        f"a run on 10x the tokens of its domain's largest run, with the {size} parameters every run had")
            own_split = (predictions.attrs.get(OWN_SPLIT_TARGETS) or {}).get(row.get("domain"))
            if own_split is not None and fixed is None:  # a fresh user read "compute-optimal" next to the note saying
                # the targets were not (3 runs, whose split came out at 0.08 tokens per parameter)
                what = (f"a run at 10x the compute of its domain's largest run at the runs' typical "
                        f"{tokens_per_param_text(float(f'{own_split:.2g}'))}, not at the fit's compute-optimal split, "
                        "which the runs do not measure")
            also = "100x" if fixed != "params" else \
                f"100x; both at most {PLAUSIBLE_TOKENS_PER_PARAM[1]:,.0f} tokens per parameter"
            budgets = predictions.attrs.get(TARGET_BUDGETS)
            if budgets and fixed is None:  # the budgets the user asked about (--flops), not 10x the largest run
                what = f"the compute-optimal run at the budget of {format_flops(budgets[0])} FLOPs"
                also = (f"the other budgets, {', '.join(format_flops(b) for b in budgets[1:])} FLOPs"
                        if len(budgets) > 1 else "")
            rep.summary.append(f"No targets were given, so this is {what}" + (
                f" (the forecast table also has {also})" if also else "") + "; give the runs you plan as targets "
                "(--targets T.csv, targets=).")
        if law.variables == ("params",):  # a fresh user read "A 13.1B-parameter model reaches 1.944" as any D's
            rep.summary.append("The law reads N alone: its forecasts hold for models trained as the runs were (on "
                               "their number of tokens, whose term it folds into E); for another D fit a law of N and "
                               "D.")
        elif law.variables == ("tokens",):
            rep.summary.append("The law reads D alone: its forecasts hold for the runs' model size (its term is folded "
                               "into E); for another N fit a law of N and D.")
    if front_dom is not None and len(front_dom):
        f = front_dom.iloc[-1]
        where = f" for {head_dom}" if several else ""
        ends = (fit.tokens_per_param_span(head_dom if head_dom in fit.domains else head_key) if law.has_allocation
                else None)
        beyond = ""
        if not fixed and ends is not None and not ends[0] <= f["tokens_per_param_median"] <= ends[1]:
            # said only under Notes, while the headline gave 4.7 tokens per parameter from runs at 20-320 (a fresh user)
            beyond = (f"; the runs lie at {format_number(ends[0], 2)}–{format_number(ends[1], 3)} tokens per "
                      "parameter, so this split is an extrapolation of the law")
            lo, hi = fitted_tokens_per_param(fit.min_tokens_per_param)
            if not lo <= f["tokens_per_param_median"] <= hi:
                # 3 runs gave "15B parameters on 0.074 tokens per parameter" as the compute-optimal model (a fresh user)
                beyond += (f"; it is also outside the {lo:g} to {hi:,.0f} tokens per parameter the law is fitted on, "
                           "so do not plan on it")
        rep.summary.append(
            f"At {format_number(f['flops'])} FLOPs the compute-optimal model{where} has {format_count(f['params_opt_median'])} "
            f"parameters ({prob:.0%} interval {format_count(f['params_opt_lower'])}–{format_count(f['params_opt_upper'])}) "
            f"trained on {format_number(f['tokens_per_param_median'], 3)} tokens per parameter "
            f"({format_number(f['tokens_per_param_lower'], 2)}–{format_number(f['tokens_per_param_upper'], 3)}), reaching "
            f"{f['loss_opt_median']:.3f} nats/token"
            + (f"; every run has one {_SIZE_WORDS[fixed]}, so the runs do not measure this split: it rests on the "
               "prior and the law's form." if fixed else beyond + ".")
        )
    if "unique_tokens" in law.variables and len(predictions) and "unique_tokens" in predictions:
        one_epoch = np.allclose(predictions["unique_tokens"], predictions["tokens"])
        if one_epoch:  # a data-constrained reader is told what the numbers above take for granted
            rep.summary.append(
                "These forecasts and the frontier assume every training token is unique (one epoch, U = D). With a "
                "limited data budget, add a unique_tokens column to the targets and give the frontier a unique-token "
                "budget (unique_tokens=, --unique-tokens).")
    if several:
        rep.summary.append(
            f"The runs cover {len(own)} domains: the Forecasts "
            + ("and Compute-optimal frontier sections give" if frontier is not None and len(frontier) else
               "section gives")  # a law of N alone has no frontier section (a fresh user)
            + " each of them and a new, unseen domain (the population forecast); one figure draws every domain's "
            "runs and fit, the others are drawn for " + head_dom + "."
        )
        # at each target size (up to COMPARED_TARGETS): the first only was compared, and a manager asking which recipe
        # to scale to 1.3B got the answer at 370M (a fresh user)
        sizes = [v for v in law.variables if v in predictions]
        # smallest first, the caveat once, after the last (a fresh user's three bullets came as 2.26B, 7.34B, 3.96B,
        # each with the same caveat)
        rows = (predictions.drop_duplicates(sizes).head(COMPARED_TARGETS).sort_values(sizes, kind="stable")
                if sizes else predictions.iloc[:0])
        for k, (_, row) in enumerate(rows.iterrows()):
            if compared := domains_compared_sentence(fit, row, caveat=k == len(rows) - 1):
                rep.summary.append(compared)
    far = runs_far_above(fit, prob) if far_runs is None else far_runs
    if len(far):  # said only under "Law and prior", and only for a heavy tail (two fresh users)
        rep.summary.append(far_runs_sentence(fit, far, listed_in=far_runs_file))
    # a warning about runs the fit leaves out (LEFT_OUT_WARNING_NOTE) does not bear on the numbers above (the summary of
    # a fresh user's isoFLOP sweep told them to read it first)
    n_warn = sum(str(n).lower().startswith(DATA_WARNING_NOTE) for n in notes or [])
    # ... but Notes lists it beside them: "raised 1 warning" above two warnings read as a miscount (a fresh user)
    n_left = sum(str(n).lower().startswith(LEFT_OUT_WARNING_NOTE) for n in notes or [])
    if n_warn:  # a fresh user read "reaches 3.523 nats/token" here, and the runs' bits warning only at the end
        s = "s" if n_warn > 1 else ""
        if n_left:
            rep.summary.append(f"WARNING: the runs raised {n_warn} warning{s} that may change the numbers above "
                               f"(listed under Notes at the end, beside {n_left} about runs the fit leaves out); read "
                               f"{'them' if n_warn > 1 else 'it'} first.")
        else:
            rep.summary.append(f"WARNING: the runs raised {n_warn} warning{s} (listed under Notes at the end), which may "
                               f"change the numbers above; read {'them' if n_warn > 1 else 'it'} first.")
    n_target = sum(str(n).lower().startswith(TARGET_WARNING_NOTE) for n in notes or [])
    if n_target:
        rep.summary.append(f"WARNING: the targets raised {n_target} warning{'s' if n_target > 1 else ''} (listed under "
                           "Notes at the end): some forecasts above lie where the law is known to fail or the sizes "
                           "look mistyped; read " + ("them" if n_target > 1 else "it") + " before using those rows.")
    # the prior-data conflict of each domain, once: the summary's line and a one-domain Posterior parameters section
    conflicts = [prior_data_conflict(fit, d) for d in own[:30]] if fit.published_theta() is not None else []
    if conflicts:  # said only in the Transfer risk section, a manager missed it (a fresh user)
        strong = [c for c in conflicts if c["flag"] == "strong"]
        if strong:
            names = (f"({format_p_value(strong[0]['p_value'])})" if len(own) == 1 else "for " + ", ".join(
                f"'{domain_label(c['domain'])}' ({format_p_value(c['p_value'])})" for c in strong))
            # the Transfer risk section is written for fits of several domains; one domain's report pointed to it
            where = "Transfer risk section" if fit.hierarchical else "Posterior parameters section"
            rep.summary.append(f"Strong prior-data conflict {names}: the runs are very unlikely under the published "
                               "law even allowing for the usual spread between data sets, so the forecast losses rest on "
                               f"the runs, not on the published law; check their units and evaluation set ({where}).")
    if diag is not None:
        rep.summary.append(
            "Sampling diagnostics passed (R-hat, effective sample size, divergences)."
            if diag.ok
            else "WARNING: sampling diagnostics failed; treat the numbers with caution: " + " ".join(diag.problems)
        )
    # --- data
    runs = fit.runs
    is_ref = runs["is_reference"].astype(bool) if "is_reference" in runs else runs["domain"].isin(fit.reference_domains)
    mine, ref = runs[~is_ref], runs[is_ref]
    sec = rep.section("Data")
    # the runs left out of the fit (inputs.undertrained_runs) are counted: "527 training runs" read as all of a file of 698
    given = (f"{len(mine)} of the {len(mine) + fit.runs_left_out} training runs given (the {fit.runs_left_out} trained "
             f"on fewer than {tokens_per_param_text(fit.min_tokens_per_param)} were left out, see Diagnostics)"
             if fit.runs_left_out else f"{len(mine)} training runs")
    sec.text(
        f"{given} in {len(own)} domain{'s' if len(own) != 1 else ''}; N from "
        f"{format_count(mine['params'].min())} to {format_count(mine['params'].max())} parameters, D from "
        f"{format_count(mine['tokens'].min())} to {format_count(mine['tokens'].max())} tokens, loss from "
        f"{mine['loss'].min():.3f} to {mine['loss'].max():.3f} nats/token."
        if "params" in mine and "tokens" in mine
        else f"{given} in {len(own)} domain(s)."
    )
    if loss_unit == "bits":
        sec.text("The losses were given in bits per token (log2) and converted to nats (x ln 2 = 0.693); every loss in "
                 "this report is in nats/token.")
    reps = repeated_configurations(mine)
    if len(reps):
        sec.text(f"{len(reps)} configuration(s) (same {configuration_words(reps)}) were trained more than once ({int(reps.sum())} "
                 "runs, e.g. several seeds): every run is kept, and their spread informs the run-to-run noise.")
    if len(ref):
        # a fresh user's Chinchilla reference had B 3434 (beta 0.39) where the demo's fit of the same runs had 1506
        # (0.35), without a word: the reference keeps its 11 runs below the bound the user's runs are held to
        low = int(below_tokens_per_param(ref, fit.min_tokens_per_param).sum()) if fit.min_tokens_per_param > 0 else 0
        sec.text(
            f"Reference runs, fitted alongside but not part of your data: {len(ref)} runs of "
            + ", ".join(fit.reference_domains)
            + " (they inform the population of domains through a summary of their own posterior, fitted with a weak "
              "prior on every reference run as given"
            + (f", including the {low} on fewer than {tokens_per_param_text(fit.min_tokens_per_param)} that your "
               "runs' rule leaves out, as the published fit did; so their parameters here differ from a fit that "
               "leaves those out, such as the demo's" if low else "")
            + ")."
        )
    if data_note:
        sec.text(data_note)
    counts = runs.groupby("domain", sort=False).size().rename("runs").reset_index()
    counts["reference"] = counts["domain"].isin(fit.reference_domains).map({True: "yes", False: "no"})
    sec.table(counts, "runs per domain")
    # --- prior
    sec = rep.section("Law and prior")
    sec.text(f"Law: {law.name}. {law.citation}")
    pr = fit.prior
    if pr.informative:
        sec.text(
            f"Prior: {pr.name} — {pr.citation}. Values: {pr.where}. Units: {pr.units}; N counted as {pr.param_convention}."
            + (f" Standard deviations widened {pr.widen_factor:g}x." if pr.widen_factor != 1 else "")
        )
        sec.table(pd.DataFrame(pr.table()), "the published fit (catalog parameters): mean and standard deviation of its estimate")
    else:
        # "shown for comparison" where no published fit of the law was at hand read as a promise the table broke (a fresh
        # user's data-constrained fit: every published value "–")
        sec.text("Prior: weakly informative (wide independent normals; see the law's weak_prior)."
                 + (" Published values are shown for comparison." if fit.published_values()[0] else ""))
    prior_draws = prior_natural_draws(fit)
    ptab = pd.DataFrame([
        {"parameter": k, "median": float(np.median(v)), "lower": float(interval(np.asarray(v, float), prob)[0]),
         "upper": float(interval(np.asarray(v, float), prob)[1])}
        for k, v in prior_draws.items()
    ])
    if pr.informative:
        sec.text(
            "A new domain may depart from the published law by the spread seen between data sets, so the prior a domain "
            "actually gets is wider than the published fit's own uncertainty above: the table below is that prior, the "
            "grey lines of the parameter figure."
        )
    sec.table(ptab, f"prior of each domain's parameters: median and {prob:.0%} interval (as drawn in the parameter figure)")
    if fit.hierarchical:
        sec.text(_between_domain_text(fit))
    sec.text(
        likelihood_text(fit)
        + (
            f"Model-discrepancy term (orthogonal Gaussian process) for: {', '.join(map(domain_label, fit.bases))}."
            if fit.bases
            else "No model-discrepancy term (too few runs to identify one)."
        )
    )
    tail = heavy_tail_note(fit, prob)
    if tail:
        sec.text(tail)
    ex = fit.extrapolation
    if ex.active:
        q = ex.quantiles_per_decade((0.05, 0.5, 0.95))
        learned = f"learned from backtests of public data sets ({', '.join(ex.learned_from)})"
        if ex.own_runs_update:  # the median quoted is the updated one; say where the population's was
            q0 = ex.before_update().quantiles_per_decade((0.5, 0.95))
            learned = (f"the distribution {learned}, median {q0[0.5]:.3g} per decade (95th percentile {q0[0.95]:.2g}), "
                       f"updated with {ex.own_runs_update}; further beyond the runs than that, the error per decade is the "
                       "distribution's before the update (the fit's own runs do not reach there)")
        sec.text(
            "Model-form error beyond the runs: the law is an approximation whose error grows with the decades a "
            "target lies beyond the runs (in N, D or C), so each forecast adds kappa times those decades to its log "
            f"loss, kappa median {q[0.5]:.3g} per decade (90% interval {q[0.05]:.2g} to {q[0.95]:.2g}): {learned}. "
            "The law's own parameters, less certain far out, widen the interval as well."
        )
    else:
        sec.text("Model-form error beyond the runs: none added (extrapolation='none'); intervals far beyond the runs "
                 "rest on the law's form alone.")
    u = fit.undertrained
    # said where it is at work: the fit left runs out below the bound (and measured the error on them), or a target
    # lies below it; a fresh user's runs at 18-466 tokens per parameter read it as a regime of theirs
    if u.active and (u.n_runs > 0 or (len(predictions) and below_tokens_per_param(predictions, u.bound).any())):
        sec.text(f"Below {tokens_per_param_text(u.bound)}, the regime the fit leaves its runs out of, a forecast adds "
                 "an error that grows with the square root of the decades below it: "
                 f"{u.scale:.2g} per square root of a decade (Student-t, {u.dof:g} degrees of freedom), {u.where}.")
    # --- posterior
    sec = rep.section("Posterior parameters")
    params = fit.parameters(prob)
    published, _ = fit.published_values()
    if published:
        params["published"] = params["parameter"].map(published)
        if not pr.informative:
            sec.text("Published column: Besiroglu et al. (2024) estimates, for comparison.")
    outside = _published_outside(params[params["domain"].isin(own)], prob) if published else None
    if outside:
        sec.text(outside)
    if not fit.hierarchical and conflicts and conflicts[0]["flag"] != "none" and conflicts[0].get("message"):
        # the summary's "strong prior-data conflict (p < 0.001) ... (Posterior parameters section)" found nothing
        # here on the p-value (a fresh user): the test's own words, which the Transfer risk section gives for several
        sec.text(conflicts[0]["message"])
    sec.table(params, f"posterior median and {prob:.0%} equal-tailed credible interval")
    sec.figure(plot_parameters(fit, prob=prob, domain=fig_dom)[0], "parameters",
               f"Prior (grey) and posterior (blue) {prob:.0%} intervals of each parameter"
               + (f" for {head_dom}" if several else "")
               + ("; dashed: published value." if published else "."))
    # --- diagnostics
    sec = rep.section("Diagnostics")
    if diag is not None:
        sec.text(
            f"Sampler: {fit.sampler_used}, {fit.sampler.chains} chains x {fit.sampler.draws} draws "
            f"(seed {fit.random_seed}). Max R-hat {diag.max_rhat:.4f}, min bulk ESS {diag.min_ess_bulk:.0f}, "
            f"min tail ESS {diag.min_ess_tail:.0f}, divergences {diag.divergences}. "
            + ("All checks passed." if diag.ok else "Problems: " + " ".join(diag.problems))
        )
    for note in fit.notes:
        sec.text(f"Note: {(advice_style or str)(note)}")
    # the parts the command line says (a fresh user's report and stderr disagreed: the report left out the second fit)
    sec.text(f"Time: {timings_text(fit.timings, bool(fit.reference_domains))}, total "
             f"{fit.timings.get('total_seconds', 0):.1f} s.")
    # --- figures
    sec = rep.section("Fit")
    if several:  # a fit of 28 recipes by a law of N alone had no per-domain figure at all (a fresh user)
        drawn = own[:MAX_DOMAIN_PANELS]
        which = "Every domain" if len(drawn) == len(own) else \
            f"The first {len(drawn)} of the {len(own)} domains (plots.plot_domains(fit, [names]) draws others)"
        curve = ("compute-optimal posterior median" if law.has_allocation else
                 f"posterior median along {_SIZE_WORDS.get(law.variables[0], law.variables[0])}")
        colour = "runs (colour: tokens per parameter, dark few, yellow many)" if law.has_allocation else "runs"
        sec.figure(plot_domains(fit, drawn, probs=(0.5, prob), max_panels=MAX_DOMAIN_PANELS)[0], "fit_domains",
                   f"{which}: {colour}, {curve} with 50 % and {prob:.0%} bands of the expected loss.")
    if law.has_allocation and fixed is not None:  # runs at one D (or N): their loss along the measured axis only
        grow = OTHER_SIZE[fixed]
        sec.text(f"Every run has one {_SIZE_WORDS[fixed]}, {format_count(head_runs[fixed].iloc[0])}: the runs measure the "
                 f"loss along {_SIZE_WORDS[grow]} only, so the loss-vs-compute figure of the compute-optimal allocation "
                 "is left out (its curve would be the prior's split of each budget, not what the runs measured).")
        sec.figure(plot_fit(fit, grow, domain=fig_dom, heldout=heldout, probs=(0.5, prob))[0], "fit_params",
                   f"Loss vs {_SIZE_WORDS[grow]} at the runs' {_SIZE_WORDS[fixed]}, with 50 % and {prob:.0%} bands of the "
                   "expected loss.")
    elif law.has_allocation:
        # the loss-vs-compute and loss-vs-N curves reach the headline target (a fresh user's --flops 1e22 forecast lay
        # 50x beyond the figure's end, 10x the largest run); at most 1e6x the runs
        reach = {}
        if len(predictions) and {"params", "tokens"} <= set(predictions):
            t0 = predictions.iloc[0]
            for v, size in (("flops", 6.0 * float(t0["params"]) * float(t0["tokens"])), ("params", float(t0["params"]))):
                largest = float(head_runs[v].max()) if v in head_runs and len(head_runs) else float("nan")
                if np.isfinite(size) and largest > 0:
                    reach[v] = float(np.clip(1.5 * size / largest, 10.0, 1e6))
        sec.figure(plot_fit(fit, "flops", domain=fig_dom, heldout=heldout, probs=(0.5, prob),
                            extend=reach.get("flops", 10.0))[0], "fit_flops",
                   f"Loss vs compute{' for ' + head_dom if several else ''}: runs (colour: tokens per parameter), "
                   f"compute-optimal posterior median with 50 % and {prob:.0%} bands."
                   # the next figure's caption said it, this one's did not, and its curve sat below most runs (a fresh
                   # user's datablations fit)
                   + (" The curve assumes unique data (U = D): runs that repeat their data lie above it."
                      if "unique_tokens" in law.variables else ""))
        sec.figure(plot_fit(fit, "params", domain=fig_dom, heldout=heldout, probs=(0.5, prob),
                            extend=reach.get("params", 10.0))[0], "fit_params",
                   "Loss vs parameters along a constant tokens-per-parameter ray (solid, with bands: the compute-"
                   "optimal ratio at the largest run's compute, kept within the runs' ratios)"
                   + (f" for {head_dom}" if several else "")
                   + "; where the runs' tokens per parameter span more than 3x, dash-dotted medians at their 10th and 90th "
                   "percentile ratios, coloured as the runs."
                   + (" The curves assume unique data (U = D): runs that repeat their data lie above them."
                      if "unique_tokens" in law.variables else ""))
    else:
        sec.figure(plot_fit(fit, law.variables[0], domain=fig_dom, heldout=heldout, probs=(0.5, prob))[0], "fit",
                   f"Loss vs {law.variables[0]} with 50 % and {prob:.0%} bands.")
    if frontier is not None and len(frontier) and law.has_allocation:
        sec = rep.section("Compute-optimal frontier")
        # the figure reaches the largest budget of the table under it (a fresh user's figure stopped at 1e23, 1000x the
        # largest run, while the report's headline budget was 5.88e23)
        c = fit.runs["flops"]
        top = max(float(c.max()) * 1000.0, float(frontier["flops"].max()) * 1.5)
        if fixed is not None:  # a fresh user's routing frontier: 6e-5 tokens per parameter, sizes over six decades
            sec.text(f"Every run has one {_SIZE_WORDS[fixed]}: the runs do not measure how a budget splits between N and "
                     "D, so this table rests on the prior and the law's form, not on the runs; its figure is left out. "
                     "Runs at other " + ("token counts" if fixed == "tokens" else "model sizes") + " would measure it.")
        else:
            sec.figure(plot_frontier(fit, np.geomspace(float(c.min()), top, 60), prob=prob, domain=fig_dom)[0], "frontier",
                       f"N_opt(C) and D_opt(C) with {prob:.0%} bands (C = 6ND), and their ratio D/N, tokens per "
                       "parameter (dotted, right axis)" + (f" for {head_dom}." if several else "."))
        cols = ["flops"] + [f"{k}_{s}" for k in ("params_opt", "tokens_opt", "tokens_per_param", "loss_opt") for s in ("median", "lower", "upper")]
        # the table's headers explained, as the Forecasts section does (a fresh user found them raw)
        sec.text("flops is the compute budget C; params_opt_* the compute-optimal N, tokens_opt_* its D = C / (6 N), "
                 "tokens_per_param_* their ratio D / N and loss_opt_* the expected loss of that run (nats/token): each "
                 f"as the posterior median (_median) and the ends of its {prob:.0%} credible interval (_lower, _upper).")
        if several and "domain" in frontier:
            last = frontier[frontier["flops"] == frontier["flops"].max()]
            sec.table(last[["domain"] + cols], f"compute-optimal allocation of each domain at {format_number(last['flops'].iloc[0])} "
                      f"FLOPs, {prob:.0%} intervals (frontier.csv has every budget)")
        else:
            sec.table(frontier[cols], f"compute-optimal allocation, {prob:.0%} intervals")
    # --- forecasts
    sec = rep.section("Forecasts")
    sec.text(
        "loss_* is one new training run (run-to-run noise included); mean_loss_* is the expected loss "
        f"(parameter, discrepancy and model-form uncertainty, no run-to-run noise). Intervals are {prob:.0%} equal-tailed. All losses in nats/token."
        + (" A domain the fit has not seen (domain_kind new_domain) gets the population forecast." if several else "")
    )
    show = [c for c in ("label", "domain", "domain_kind", "params", "tokens", "unique_tokens", "flops", "loss_median", "loss_lower", "loss_upper",
                        "mean_loss_median", "mean_loss_lower", "mean_loss_upper", "loss") if c in predictions]
    if not several:
        show = [c for c in show if c != "domain_kind"]
    sec.table(predictions[show], "forecast table")
    if below := forecasts_below_floor_sentence(params, predictions, prob, own[0] if len(own) == 1 else DEFAULT_DOMAIN):
        sec.text(below)
    if len(predictions):
        r0 = predictions.iloc[0]
        # every size column the law reads (a data-constrained forecast without unique_tokens drew another run)
        target = {c: float(r0[c]) for c in ("params", "tokens", "flops", "unique_tokens") if _known(r0, c)}
        dom = r0["domain"] if isinstance(r0.get("domain"), str) else None
        sec.figure(plot_forecast(fit, target, threshold=threshold, prob=prob, domain=dom)[0], "forecast",
                   "Posterior predictive distribution of one new run at the headline target.")
    for s_ in extra_sections or []:
        rep.sections.append(s_)
    if notes:
        sec = rep.section("Notes")
        for n in notes:
            sec.text(n[0].upper() + n[1:])
    rep.footer = (
        f"bayes_scaling {__version__}. Law: {law.citation} Prior: {fit.prior.citation}. "
        "Credible intervals are equal-tailed posterior intervals."
    )
    return rep


def _as_probabilities(df: pd.DataFrame, cols) -> pd.DataFrame:
    """Probability columns as a reader takes them: "< 1 %", "12 %", "> 99 %" (never a bare 0 or 1)."""
    out = df.copy()
    for c in cols:
        if c in out:
            out[c] = [format_probability(v) for v in out[c]]
    return out


#: The law's size variables in words (report text).
_SIZE_WORDS = {"params": "N (parameters)", "tokens": "D (tokens)", "flops": "C (FLOPs)", "unique_tokens": "U (unique tokens)"}


#: Fewest distinct model sizes below which the report asks for more of them when the prior sets the allocation.
SENSITIVITY_MIN_SIZES = 4


def _allocation_advice(runs: pd.DataFrame | None) -> str:
    """Which runs would pin the allocation the prior sets: more model sizes when the runs have few (a fresh user's 24
    runs at 3 sizes spanning 5-640 tokens per parameter were told to add "other tokens per parameter"), else a wider
    spread of tokens per parameter."""
    if runs is not None and {"params", "tokens"} <= set(runs):
        sizes = np.unique(np.round(np.log10(runs["params"].to_numpy(float)), 2))
        if len(sizes) < SENSITIVITY_MIN_SIZES:
            return (f"runs at more model sizes would tell the priors apart (these are at {len(sizes)}, "
                    f"{format_count(runs['params'].min())} to {format_count(runs['params'].max())} parameters).")
    return "runs at other tokens per parameter would tell the priors apart."


def sensitivity_section(table: pd.DataFrame, runs: pd.DataFrame | None = None) -> tuple[Section, str]:
    """The report section of :func:`bayes_scaling.sensitivity.sensitivity` and its summary sentence.

    Parameters
    ----------
    table : pandas.DataFrame
        ``sensitivity``'s rows: ``prior``, ``widen``, ``flops``, ``params_opt_*``, ``tokens_per_param_median``,
        ``loss_opt_median``, ``diagnostics_ok``.
    runs : pandas.DataFrame, optional
        The fitted runs (``params``, ``tokens``): which runs would pin the allocation, said when the prior sets it.

    Returns
    -------
    (Section, str)
        The section (a sentence and the table) and one sentence for the summary: how far apart the priors put
        the compute-optimal size at the largest budget. A fresh user found N_opt at 1e22 FLOPs 7.7B-15.7B across
        the priors by rerunning a notebook; the report had shown one prior.
    """
    last = table[table["flops"] == table["flops"].max()].set_index("prior")["params_opt_median"]
    lo, hi = last.idxmin(), last.idxmax()
    ratio = float(last[hi] / last[lo])
    c = format_flops(float(table["flops"].max()))
    sentence = (f"Across the priors ({', '.join(last.index)}) the compute-optimal size at {c} FLOPs is "
                f"{format_count(last[lo])} ({lo}) to {format_count(last[hi])} ({hi}) parameters"
                + (f", a factor of {ratio:.1f}: the prior, not the runs, sets the allocation; "
                   + _allocation_advice(runs) if ratio > SENSITIVITY_FACTOR else
                   ": the data (the runs, and reference runs if any), not the prior, set the allocation."))
    sec = Section("Prior sensitivity")
    sec.text("The same runs fitted under each prior, every other setting unchanged (bayes_scaling.sensitivity."
             "sensitivity); the compute-optimal allocation at each budget. " + sentence)
    show = table[["prior", "flops", "params_opt_median", "params_opt_lower", "params_opt_upper",
                  "tokens_per_param_median", "loss_opt_median", "diagnostics_ok"]].copy()
    show["flops"] = show["flops"].map(format_flops)
    for col in ("params_opt_median", "params_opt_lower", "params_opt_upper"):
        show[col] = show[col].map(format_count)
    sec.table(show, "compute-optimal allocation under each prior (medians; N_opt with its interval)")
    return sec, sentence


#: Spread of the compute-optimal size across priors (largest / smallest median) above which the report says that the
#: prior, not the runs, sets the allocation: 1.5x, a model half again as large being another model to buy. Not fitted
#: to any data; for scale, Hoffmann et al. (2022)'s own approaches disagree by about 1.7x at 5.88e23 FLOPs (D/N about
#: 20 for approaches 1-2 against about 59 for approach 3 with its TeX values, and N_opt = sqrt(C / (6 D/N))).
SENSITIVITY_FACTOR = 1.5


def risk_section(fit, targets: pd.DataFrame | None = None, threshold: float | None = None, prob: float = 0.9) -> Section | None:
    """Transfer-risk section: departures from the published law, prior-data conflict, P(miss).

    Parameters
    ----------
    fit : ScalingFit
    targets : DataFrame, optional
        Forecast targets (for P(miss) when ``threshold`` is given).
    threshold : float, optional
        Target loss in nats/token.
    prob : float

    Returns
    -------
    Section or None
        None when the law has no published fit to compare with.
    """
    if fit.published_theta() is None:
        return None
    sec = Section("Transfer risk")
    own = fit.own_domains
    dep = departures(fit, prob=prob, domains=own)
    quantities = ", ".join(dict.fromkeys(q for q in dep["quantity"] if q != "loss gap"))
    where = (f"the compute-optimal run with {DEPARTURE_COMPUTE_FACTOR:.0f}x the domain's largest compute"
             if fit.law.has_allocation else
             f"the domain's largest run with {' and '.join(_SIZE_WORDS[v] for v in fit.law.size_variables)} "
             f"{DEPARTURE_SIZE_FACTOR:.0f}x larger")
    # a law without E or exponents in the comparison (Kaplan's) has the loss gap alone: "law:  (domain minus ..."
    e_tol = ", ±10 % of the published irreducible loss E" if "ΔE" in set(dep["quantity"]) else ""
    lead = (f"{quantities} (domain minus published value; tolerance ±0.05 for an exponent{e_tol}) and the loss gap"
            if quantities else "the loss gap")
    sec.text(
        f"Departure of each domain from the published law: {lead}: the relative difference "
        f"(L_domain − L_published) / L_published of the expected loss at {where} (0.14 = 14 % above the published law; "
        "tolerance ±2 %). p_outside is the posterior probability that the departure is larger than its tolerance."
    )
    sec.table(_as_probabilities(dep[["domain", "quantity", "median", "lower", "upper", "tolerance", "p_outside"]],
                                ["p_outside"]), f"departures from the published law ({prob:.0%} intervals)")
    sec.figure(plot_departures(dep)[0], "departures",
               f"Domain departures from the published law with {prob:.0%} intervals; dotted: no departure; grey: the "
               "tolerance within which a departure counts as none (p_outside is the probability beyond it).")
    gaps = dep[dep["quantity"] == "loss gap"].set_index("domain")
    for d in own[:30]:
        conflict = prior_data_conflict(fit, d)
        text = conflict["message"]
        if conflict["flag"] == "none" and d in gaps.index:
            # "no conflict: the runs lie -3 % from the published law" over a loss gap of +39 % at the departure's
            # point read as a contradiction (a fresh user's recipe): the check is at the runs' sizes, the gap further out
            g = gaps.loc[d]
            if g["lower"] > g["tolerance"] or g["upper"] < -g["tolerance"]:
                text += (f" Further out its curve departs from the published one: the loss gap at {where} is "
                         f"{g['median']:+.0%} ({prob:.0%} interval {g['lower']:+.0%} to {g['upper']:+.0%}, in the table "
                         "above), so forecasts there rest on the domain's own runs, not on the published law.")
        sec.text(text)
    sec.text(DEPARTURE_VS_CONFLICT)
    if threshold is not None and targets is not None and len(targets):
        ex = exceedance(fit, targets, threshold)
        cols = [c for c in ("domain", "params", "tokens", "threshold", "p_exceed", "expected_shortfall") if c in ex]
        sec.table(_as_probabilities(ex[cols], ["p_exceed"]),
                  f"probability that one run misses the target loss {threshold:.4g} nats/token "
                            "(p_exceed; expected_shortfall in nats/token)")
    return sec


_MONEY_COLUMNS = ("training_cost", "data_cost", "inference_cost", "fixed_cost", "total_cost", "value_mean",
                  "net_value_mean", "net_value_median", "net_value_lower", "net_value_upper", "expected_regret",
                  "pilot_cost", "evsi", "pilot_net_value", "budget", "spend")


def _money(df: pd.DataFrame, currency: str) -> pd.DataFrame:
    """Money columns as a reader takes them (1.2 M, -350 k); the CSV files keep the numbers."""
    out = df.copy()
    for c in _MONEY_COLUMNS:
        if c in out:
            out[c] = [format_money(float(v)) if np.isfinite(v) else "–" for v in out[c].astype(float)]
    return out


def _metric_phrase(decision) -> str:
    # a runs table without a domain column has the one domain "default": not worth naming to a reader
    dom = "" if decision.domain == DEFAULT_DOMAIN else f" in domain '{decision.domain}'"
    if decision.metric == "loss":
        return (f"the loss of one new training run at the plan's size (nats/token, run-to-run noise included){dom}")
    what = "the mean score over the downstream tasks" if decision.metric == "mean" else f"the score on {decision.metric}"
    return (f"{what} as one evaluation of the new model shows it, from its loss{dom} through the downstream stage")


def decision_section(decision, *, title: str = "Investment decision", summary: bool = True) -> Section:
    """The investment decision as a report section: the verdict in words, the net-value figure, the tables, the formulas.

    Parameters
    ----------
    decision : InvestmentDecision
        From :func:`bayes_scaling.decisions.decide`.
    title : str
    summary : bool, default True
        Start with the plain-words summary (a report that states it at its top leaves it out).

    Returns
    -------
    Section
        Paragraphs (the plain-words summary, what the metric is, how the numbers are
        computed, the cost and value formulas), the figure ``net_value``
        (:func:`bayes_scaling.plots.plot_net_value`) and the tables of the options, the pilots
        (if any) and the money frontier (if any); money columns in readable units.
    """
    sec = Section(title)
    cur, prob = decision.currency, decision.prob
    if summary:
        sec.text(decision.summary_text())
    sec.figure(plot_net_value(decision)[0], "net_value",
               f"Net value of each option ({cur}): where it pays off (green) and where it loses money (vermillion); "
               f"white dot the median, black line the {prob:.0%} interval; dashed: break-even.")
    sec.text(f"The metric is {_metric_phrase(decision)}. Every option is drawn from the same posterior draws, so the "
             "comparisons keep their correlation. Net value = value of the improvement - total cost; P(pays off) = "
             "P(net value > 0); P(best) = probability of the highest net value among the options; expected regret = "
             "expected shortfall from the best option in each draw.")
    cols = [c for c in ("label", "params", "tokens", "total_cost", "metric_median", "metric_lower", "metric_upper",
                        "net_value_mean", "net_value_lower", "net_value_upper", "p_pays_off", "p_best",
                        "expected_regret") if c in decision.plans]
    sec.table(_money(decision.plans[cols], cur),
              f"options: cost, metric and net value ({cur}) with {prob:.0%} intervals (decision.csv has every column)")
    if decision.pilots is not None and len(decision.pilots):
        sec.text("A pilot is a small run made first; its loss updates the forecast of every plan (importance "
                 "reweighting of the posterior draws), and the plan is chosen after it. EVSI (expected value of sample "
                 "information) is what that is worth before its cost; a pilot is worth running when EVSI exceeds its "
                 "cost (training and data, no inference). p_change is the probability that its outcome changes the "
                 "choice; ess_changing how many posterior draws typically carry the weight after the outcomes that "
                 "change it, which are what EVSI is made of (below 50: approximate).")
        ess_col = "ess_changing" if "ess_changing" in decision.pilots else "ess_min"  # a pilots table made by hand
        pcols = [c for c in ("rank", "label", "params", "tokens", "pilot_cost", "evsi", "pilot_net_value", "p_change",
                             "worth_it", ess_col) if c in decision.pilots]
        pil = decision.pilots[pcols].copy()
        if "worth_it" in pil:
            pil["worth_it"] = pil["worth_it"].map({True: "yes", False: "no"})
        sec.table(_money(pil, cur), f"pilots, best first ({cur})")
    if decision.frontier is not None and len(decision.frontier):
        fcols = [c for c in ("budget", "spend", "params_best", "tokens_best", "tokens_per_param_best", "metric_median",
                             "metric_lower", "metric_upper", "net_value_mean", "p_pays_off") if c in decision.frontier]
        sec.table(_money(decision.frontier[fcols], cur),
                  f"the best plan each budget buys under the cost model ({cur}; the budget covers training, data, "
                  f"inference and fixed costs; metric and net value of the expected loss, not of one run as in the "
                  f"options table, so the same plan has a slightly different net value there; {prob:.0%} intervals)")
    sec.text("How the money is computed (the numbers are the inputs given):")
    for line in decision.formulas.splitlines():
        if line.strip():
            sec.text(line.strip())
    return sec


def decision_report(decision, *, title: str = "Investment decision", data_note: str = "") -> Report:
    """A report of its own for an investment decision (what ``bayes-scaling decide`` writes as decision.html/.md).

    Parameters
    ----------
    decision : InvestmentDecision
    title : str
    data_note : str
        Where the fit, plans and prices came from.

    Returns
    -------
    Report
        Summary lines (the plain-words verdict, sentence by sentence) and :func:`decision_section`;
        write it with ``report.write(out_dir, stem="decision")``.
    """
    rep = Report(title)
    rep.summary += [s if s.endswith(".") else s + "." for s in re.split(r"(?<=\.) (?=[A-Z])", decision.summary_text())]
    sec = decision_section(decision, title="Decision", summary=False)
    if data_note:
        sec.blocks.insert(0, ("text", data_note))
    rep.sections.append(sec)
    rep.footer = (f"bayes_scaling {__version__}. Money in {decision.currency}; intervals are equal-tailed posterior "
                  "intervals.")
    return rep


def write_json(obj, path) -> Path:
    """Write JSON (NaN as null)."""

    def clean(o):
        if isinstance(o, dict):
            return {str(k): clean(v) for k, v in o.items()}
        if isinstance(o, (list, tuple)):
            return [clean(v) for v in o]
        if isinstance(o, (np.floating, float)):
            return None if not np.isfinite(o) else float(o)
        if isinstance(o, np.integer):
            return int(o)
        if isinstance(o, np.bool_):
            return bool(o)
        return o

    path = Path(path)
    path.write_text(json.dumps(clean(obj), indent=1), encoding="utf-8")
    return path
