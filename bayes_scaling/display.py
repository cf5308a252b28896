"""Floor 2. What a fit shows about itself: ``repr(fit)`` and the Jupyter summary, and the number and
table formatting they share with the reports.

Law and prior with their sources, the runs and domains, the diagnostics status and the
posterior median with the 90 % interval of the key parameters (E, alpha, beta). Every
piece of user text is escaped in HTML. The functions take the fit as an argument and use
its public accessors only (:class:`bayes_scaling.posterior.ScalingFit` calls them; this
module does not import it).
"""

from __future__ import annotations

import html
import re
import sys

import numpy as np
import pandas as pd

from ._text import format_count, format_flops
from .data import DEFAULT_DOMAIN, DEFAULT_DOMAIN_LABEL, configuration_words, repeated_configurations

__all__ = ["column_legend", "domain_label", "fit_text_summary", "fit_html_summary", "short_citation", "format_number", "format_count", "format_flops",
           "format_probability", "format_p_value", "table_html", "print_table", "SUMMARY_MAX_DOMAINS"]


def format_probability(p) -> str:
    """A probability as a report states it: "< 1 %", "> 99 %", else two significant digits ("12 %", "2.5 %").

    A Monte Carlo estimate of 0 or 1 from a few thousand draws is not a certainty, so the
    ends read "< 1 %" and "> 99 %"; "–" for None and NaN.
    """
    if p is None or not np.isfinite(p):
        return "–"
    p = float(p)
    if p < 0.01:
        return "< 1 %"
    if p > 0.99:
        return "> 99 %"
    return f"{100 * p:.2g} %"


def format_p_value(p: float) -> str:
    """A p-value as a sentence states it: "p = 0.034", or "p < 0.001" (a tail probability that underflows to 0
    for data far from a model read "p = 0", a certainty it is not)."""
    return "p < 0.001" if p < 1e-3 else f"p = {p:.2g}"


def domain_label(domain) -> str:
    """A domain's name as a reader sees it: "your runs" for the domain of a table without a domain column (named
    ``default`` in files and tables, :data:`bayes_scaling.data.DEFAULT_DOMAIN`; next to reference runs a fresh
    user's report said "domain 'default'"), else the name itself."""
    return DEFAULT_DOMAIN_LABEL if str(domain) == DEFAULT_DOMAIN else str(domain)


def format_number(v, digits=4) -> str:
    """A number as a report shows it: integers as such; 1e5 to 1e15 as counts (2.99B, 70B, 1.4T); larger as
    5.88e23; small as 4e-4; else 4 significant digits; "–" for None and non-finite values."""
    if v is None or (isinstance(v, float) and not np.isfinite(v)):
        return "–"
    if isinstance(v, (int, np.integer)) and abs(int(v)) < 100_000:
        return f"{int(v):d}"
    v = float(v)
    if not np.isfinite(v):
        return "–"
    if v != 0 and abs(v) >= 1e5:
        sign = "-" if v < 0 else ""
        return sign + (format_count(abs(v)) if abs(v) < 1e15 else format_flops(abs(v), digits=3))
    if abs(v) >= 1e4:
        return f"{v:.0f}"  # 12950, not 1.295e+04
    if v != 0 and abs(v) < 1e-3:
        mant, exp = f"{v:.{digits - 1}e}".split("e")
        mant = mant.rstrip("0").rstrip(".") if "." in mant else mant
        return f"{mant}e{int(exp):+d}"  # 4e-4 (no padding zeros)
    return f"{v:.{digits}g}"


def column_legend(columns: dict, shown) -> str:
    """What each shown column of a printed table means: ``"Columns:"`` and one indented line per column of
    ``columns`` (name -> meaning) that is in ``shown``, in the order of ``shown`` (the table's: a fresh user found
    next-run's ``shrinkage_se`` explained after ``ess_low``, three columns past where it stood); ``""`` when none is."""
    lines = [f"  {c}: {columns[c]}" for c in dict.fromkeys(shown) if c in columns]
    return "\n".join(["Columns:", *lines]) if lines else ""


def print_table(df: pd.DataFrame, legend: str = "", *, quiet: bool = False, digits: int = 4,
                max_columns: int = 30) -> None:
    """Print a command's table on stdout, and under it its ``legend`` (:func:`column_legend`).

    With ``quiet`` the table alone, as CSV at full precision, for scripts: a label with spaces split into columns
    when a script split the aligned text on whitespace (a fresh user). Otherwise aligned text with ``digits``
    significant digits.
    """
    if quiet:
        df.to_csv(sys.stdout, index=False)
        return
    with pd.option_context("display.width", 200, "display.max_columns", max_columns, "display.float_format",
                           f"{{:.{digits}g}}".format):
        print(df.to_string(index=False))
    if legend:
        print(legend)


def _header_html(name) -> str:
    """A column name, escaped, that may wrap after its underscores (long names such as tokens_per_param_median)."""
    return html.escape(str(name)).replace("_", "_<wbr>")


def table_html(df: pd.DataFrame, caption: str = "") -> str:
    """An HTML table (cells and header escaped; numbers right-aligned, text left-aligned), wrapped so it scrolls."""
    cols = list(df.columns)
    head = "".join(
        f'<th class="{"t" if not pd.api.types.is_numeric_dtype(df[c]) else ""}">{_header_html(c)}</th>' for c in cols
    )
    rows = []
    for _, r in df.iterrows():
        cells = []
        for c in cols:
            v = r[c]
            if isinstance(v, (float, np.floating, int, np.integer)) and not isinstance(v, bool):
                cells.append(f"<td>{html.escape(format_number(v))}</td>")
            else:
                cells.append(f'<td class="t">{html.escape(str(v))}</td>')
        rows.append("<tr>" + "".join(cells) + "</tr>")
    cap = f"<caption>{html.escape(caption)}</caption>" if caption else ""
    return f'<div class="table-wrap"><table>{cap}<thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table></div>'


def short_citation(citation: str) -> str:
    """First author and year of a citation: "Besiroglu, Erdil, ... (2024). ..." -> "Besiroglu et al. 2024".

    Returns the empty string when the text names no year in parentheses.
    """
    m = re.match(r"\s*([^(]+?)\s*\((\d{4})\)", citation or "")
    if not m:
        return ""
    authors, year = m.group(1).strip().rstrip(",."), m.group(2)
    if authors.endswith("et al"):
        return f"{authors}. {year}"
    first = authors.split(",")[0].strip()
    return f"{first} et al. {year}" if "," in authors else f"{first} {year}"


def _fit_overview(fit) -> dict:
    """What the Jupyter and text summaries of a fit show (plain values, not yet escaped)."""
    pr = fit.prior
    prior = pr.name + (f" widened {pr.widen_factor:g}x" if pr.widen_factor != 1 else "")
    prior_source = short_citation(pr.citation) if pr.informative else "weakly informative"
    params = fit.parameters(0.9)
    names = list(dict.fromkeys(params["parameter"]))
    key = [k for k in ("E", "alpha", "beta") if k in names]
    key = key if len(key) >= 2 else names
    rows = []
    for dom, sub in params.groupby("domain", sort=False):
        sub = sub.set_index("parameter")
        rows.append((str(dom), {k: (sub.loc[k, "median"], sub.loc[k, "lower"], sub.loc[k, "upper"]) for k in key}))
    published = {}
    if pr.informative:
        first = params.drop_duplicates("parameter").set_index("parameter")["published"]
        published = {k: float(first[k]) for k in key if np.isfinite(first[k])}
    runs = fit.runs
    own = runs[~runs["is_reference"].astype(bool)] if "is_reference" in runs else runs
    repeated = repeated_configurations(own)
    d = fit.diagnostics
    if d is None:
        status, detail = "not checked", ""
    else:
        status = "ok" if d.ok else "problems"
        detail = f"max R-hat {d.rhat_text}, min ESS {d.min_ess_bulk:.0f}, {d.divergences} divergences"
    return {
        "law": fit.law.name,
        "law_source": short_citation(fit.law.citation),
        "prior": prior,
        "prior_source": prior_source,
        "n_runs": len(fit.runs),
        "n_domains": len(fit.domains),
        "n_reference": len(fit.reference_domains),
        "draws": fit.n_draws,
        "key": key,
        "rows": rows,
        "published": published,
        "status": status,
        "detail": detail,
        "problems": list(d.problems) if d is not None and not d.ok else [],
        "repeated": (f"{len(repeated)} configuration(s) (same {configuration_words(repeated)}) trained more than once, e.g. seeds "
                     f"({int(repeated.sum())} runs): every run is kept") if len(repeated) else "",
    }


#: Domains listed in the Jupyter/text summaries; fit.parameters() has them all.
SUMMARY_MAX_DOMAINS = 12


def _g(v: float) -> str:
    return f"{v:.4g}"


def fit_text_summary(fit) -> str:
    """Plain-text summary of a fit (``repr(ScalingFit)``): law, prior, data, 90 % intervals, diagnostics.

    Example::

        ScalingFit(law=chinchilla [Hoffmann et al. 2022], prior=weak [weakly informative], runs=245, domains=1,
                   draws=4000, diagnostics=ok)
          diagnostics: max R-hat 1.004, min ESS 905, 0 divergences
          90% intervals  E                     alpha                    beta
          chinchilla     1.829 [1.813, 1.843]  0.3391 [0.3298, 0.3487]  0.3906 [0.379, 0.402]
    """
    o = _fit_overview(fit)
    diag = {"ok": "ok", "problems": "PROBLEMS", "not checked": "not checked"}[o["status"]]
    law = o["law"] + (f" [{o['law_source']}]" if o["law_source"] else "")
    prior = o["prior"] + (f" [{o['prior_source']}]" if o["prior_source"] else "")
    lines = [
        f"ScalingFit(law={law}, prior={prior}, runs={o['n_runs']}, domains={o['n_domains']}, "
        f"draws={o['draws']}, diagnostics={diag})"
    ]
    if o["detail"]:
        lines.append(f"  diagnostics: {o['detail']}")
    lines += [f"  problem: {' '.join(str(p).split())}" for p in o["problems"]]
    if o["repeated"]:
        lines.append(f"  data: {o['repeated']}")
    table = [["90% intervals"] + o["key"]]
    for dom, vals in o["rows"][:SUMMARY_MAX_DOMAINS]:
        name = " ".join(dom.split()) or repr(dom)
        table.append([name] + [f"{_g(m)} [{_g(lo)}, {_g(hi)}]" for m, lo, hi in vals.values()])
    if o["published"]:
        table.append([f"published ({o['prior_source'] or o['prior']})"] + [_g(o["published"][k]) if k in o["published"]
                                                                          else "" for k in o["key"]])
    widths = [max(len(r[j]) for r in table) for j in range(len(table[0]))]
    lines += ["  " + "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in table]
    if len(o["rows"]) > SUMMARY_MAX_DOMAINS:
        lines.append(f"  ... and {len(o['rows']) - SUMMARY_MAX_DOMAINS} more domains (fit.parameters() lists them all)")
    return "\n".join(lines)


def fit_html_summary(fit) -> str:
    """Compact HTML summary of a fit for Jupyter (``ScalingFit._repr_html_``).

    Law and prior (with their sources), runs, domains and draws, the diagnostics
    status, and the posterior median with the 90 % interval of the key parameters
    (E, alpha, beta) per domain; every parameter in a collapsed table below. Inline
    styles only (Jupyter has no report stylesheet); every name is escaped.
    """
    o = _fit_overview(fit)
    e = html.escape
    colour = {"ok": "#006d43", "problems": "#b03000", "not checked": "#555555"}[o["status"]]
    status = f'<span class="{"ok" if o["status"] == "ok" else "bad"}" style="color:{colour};font-weight:600">{e(o["status"])}</span>'
    law = f"<b>{e(o['law'])}</b>" + (f" ({e(o['law_source'])})" if o["law_source"] else "")
    prior = f"<b>{e(o['prior'])}</b>" + (f" ({e(o['prior_source'])})" if o["prior_source"] else "")
    runs = f"{o['n_runs']} runs in {o['n_domains']} domain{'s' if o['n_domains'] != 1 else ''}"
    if o["n_reference"]:
        runs += f" ({o['n_reference']} reference)"
    head = (
        f"<p style=\"margin:.2em 0\"><b>ScalingFit</b> &middot; law {law} &middot; prior {prior} &middot; {runs} "
        f"&middot; {o['draws']} draws &middot; diagnostics {status}"
        + (f' <span style="color:#555">({e(o["detail"])})</span>' if o["detail"] else "")
        + "</p>"
    )
    if o["repeated"]:
        head += f'<p style="margin:.2em 0;color:#555">{e(o["repeated"])}.</p>'
    if o["problems"]:
        head += "<ul style=\"margin:.2em 0;color:#b03000\">" + "".join(f"<li>{e(p)}</li>" for p in o["problems"]) + "</ul>"
    cell = "padding:.15em .6em;text-align:right;white-space:nowrap"
    th = "".join(f'<th style="{cell}">{e(k)}</th>' for k in o["key"])
    body = []
    for dom, vals in o["rows"][:SUMMARY_MAX_DOMAINS]:
        tds = "".join(
            f'<td style="{cell}">{e(_g(m))} <span style="color:#666">[{e(_g(lo))}, {e(_g(hi))}]</span></td>'
            for m, lo, hi in vals.values()
        )
        body.append(f'<tr><td style="{cell};text-align:left">{e(dom)}</td>{tds}</tr>')
    if o["published"]:
        tds = "".join(f'<td style="{cell}">{e(_g(o["published"][k])) if k in o["published"] else ""}</td>' for k in o["key"])
        body.append(f'<tr style="color:#555"><td style="{cell};text-align:left">published '
                    f'({e(o["prior_source"] or o["prior"])})</td>{tds}</tr>')
    more = ""
    if len(o["rows"]) > SUMMARY_MAX_DOMAINS:
        more = f"<p style=\"margin:.2em 0\">&hellip; and {len(o['rows']) - SUMMARY_MAX_DOMAINS} more domains.</p>"
    table = (
        f'<table style="border-collapse:collapse;margin:.3em 0"><caption style="text-align:left;color:#555">'
        f"posterior median [90% credible interval]</caption><thead><tr>"
        f'<th style="{cell};text-align:left">domain</th>{th}</tr></thead><tbody>{"".join(body)}</tbody></table>'
    )
    full = table_html(fit.parameters(0.9))
    details = f"<details><summary>all parameters (90% intervals)</summary>{full}</details>"
    return f'<div class="bayes-scaling-fit">{head}{table}{more}{details}</div>'
