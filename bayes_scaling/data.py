"""Floor 0. Runs tables: reading, validating and normalising training-run data.

A *runs table* has one row per training run:

========== ======================================== ==========================
column     meaning                                  unit
========== ======================================== ==========================
params     N, model parameters                      count (raw, e.g. 7e9)
tokens     D, training tokens                       count (raw, e.g. 1.4e11)
flops      C, training compute (alternative to D)   FLOPs; D = C / (6 N)
loss       final loss                               nats per token
domain     optional: the data domain / eval set     text
========== ======================================== ==========================

``unique_tokens`` (U, count) is optional and used by the data-constrained law of
Muennighoff et al. (2023).

Every problem is reported with the column, the row and the fix. Problems that
make the data unusable raise :class:`RunsTableError` (a ``ValueError``);
problems where the data may still be right emit a :class:`RunsTableWarning`.
Row numbers refer to the table's index; for CSV files read by :func:`read_runs`
the index starts at 1 for the first data row, so row *k* is file line *k + 1*
(skipped blank lines keep their numbers).
"""

from __future__ import annotations

import csv
import gzip
import io
import os
import re
import warnings
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from ._text import closest_name, did_you_mean, format_count, format_span, listed
from ._warnings import warn_caller

__all__ = [
    "DEFAULT_DOMAIN",
    "DEFAULT_DOMAIN_LABEL",
    "DOMAINS_CHECKED",
    "warn_unseen_domain",
    "PLAUSIBLE_TOKENS_PER_PARAM",
    "in_canonical_order",
    "LeftOutRunsWarning",
    "fitted_tokens_per_param",
    "MIN_TOKENS",
    "MIN_PARAMS",
    "epochs_column",
    "below_tokens_per_param",
    "repeated_configurations",
    "unseen_domain_note",
    "one_domain_of",
    "domain_column_words",
    "missing_domain_column",
    "single_size_axis",
    "OTHER_SIZE",
    "TABLE_SUFFIXES",
    "require_unique_labels",
    "configuration_words",
    "RunsTableError",
    "RunsTableWarning",
    "REQUIRED_COLUMNS",
    "OPTIONAL_COLUMNS",
    "LAW_COLUMNS",
    "read_runs",
    "validate_runs",
    "validate_targets",
    "estimated_fit_seconds",
    "MAX_LOSS_NATS",
]

#: The domain of runs without a domain column (kept in saved fits and tables; a report calls it "your runs",
#: :func:`bayes_scaling.display.domain_label`).
DEFAULT_DOMAIN = "default"
#: How a report names :data:`DEFAULT_DOMAIN` to a reader (:func:`bayes_scaling.display.domain_label`).
DEFAULT_DOMAIN_LABEL = "your runs"

#: Columns every runs table needs (``tokens`` may be replaced by ``flops``).
REQUIRED_COLUMNS = ("params", "tokens", "loss")
#: Columns the package understands besides the required ones.
OPTIONAL_COLUMNS = ("flops", "domain", "unique_tokens")
#: Columns of sizes and losses: never a domain column.
LAW_COLUMNS = ("params", "tokens", "flops", "unique_tokens", "loss")

# Plausibility bounds. They are physical, not tuned to a data set:
# - the smallest published language-model scaling runs have ~1e5-1e6 parameters;
#   a value below 1e4 is almost surely a count in millions or billions;
# - a training run sees at least ~1e6 tokens;
# - cross-entropy in nats cannot exceed log(vocabulary size) for a model that
#   is at least uniform; log(1e6) = 13.8, so > 20 is a perplexity.
#: Fewest parameters a run or a model-size constraint can have; smaller numbers are millions or billions.
MIN_PARAMS = 1e4
#: Fewest tokens (or unique tokens) a run or a budget can have; smaller numbers are millions or billions.
MIN_TOKENS = 1e5
#: Fewest FLOPs a run or a target can have: 6 x MIN_PARAMS x MIN_TOKENS rounded up (smaller numbers are PF-days or
#: exponents).
MIN_FLOPS = 1e12
#: Largest plausible loss in nats per token (see above); larger values are perplexities.
MAX_LOSS_NATS = 20.0
_MAX_LOSS_NATS = MAX_LOSS_NATS
_THOUSANDS = re.compile(r"^\s*[+-]?\d{1,3}(,\d{3})+(\.\d*)?\s*$")


class RunsTableError(ValueError):
    """A runs or targets table cannot be used as given; the message says how to fix it."""


class RunsTableWarning(UserWarning):
    """A runs table looks suspicious but may be right; the message says what to check."""


class LeftOutRunsWarning(RunsTableWarning):
    """A :class:`RunsTableWarning` about runs only that a fit leaves out by default (fewer than 0.1 tokens per
    parameter, below ``min_tokens_per_param``): it asks the user to check the units, but the fit's numbers do not rest
    on those runs unless ``min_tokens_per_param`` lets them in. A report tells it from warnings that may change its
    numbers by this class (a fresh user's isoFLOP sweep was told "WARNING: the runs raised 1 warning ..., which may
    change the numbers above" about 48 runs the fit had left out)."""


@dataclass(frozen=True)
class _Ctx:
    """Where a table came from, to phrase row numbers.

    ``what`` names a table that is not the user's runs table (e.g. "reference runs"): its
    rows are then called "row 3 of the reference runs", so a warning about them never
    reads as one about the user's file. ``line_word`` is how the source counts lines
    ("file line" for CSV, "sheet row" for a spreadsheet).
    """

    source: str | None = None
    one_based_file: bool = False
    what: str | None = None
    line_word: str = "file line"

    @classmethod
    def of(cls, table: pd.DataFrame) -> _Ctx:
        what = table.attrs.get("what")
        return cls(table.attrs.get("source"), bool(table.attrs.get("one_based_file", False)),
                   None if what in (None, "runs table", "targets table", "plans table", "pilots table") else str(what),
                   str(table.attrs.get("line_word", "file line")))

    def row(self, label) -> str:
        where = f" of the {self.what}" if self.what else ""
        if self.one_based_file:
            return f"row {label}{where} ({self.line_word} {int(label) + 1})"
        return f"row {label}{where}"


def _rows(ctx: _Ctx, labels: Sequence, limit: int = 3) -> str:
    return listed((ctx.row(x) for x in labels), limit)


#: Most columns an error about a missing column names (a fresh user's table of 86 logged metrics gave one error line
#: of 3,080 characters, the loss columns lost among them).
LISTED_COLUMNS = 15


def _column_list(cols, wanted: Sequence[str] = ()) -> str:
    """The columns of a table, for an error about a missing one: all of them, or for a wide table their number and
    those whose names contain a missing column's stem (``loss`` finds 'val_loss' and 'train/CrossEntropyLoss'), else
    the first :data:`LISTED_COLUMNS`."""
    cols = [str(c) for c in cols]
    if len(cols) <= LISTED_COLUMNS:
        return ", ".join(cols)
    stems = [_COLUMN_STEMS.get(w, w).lower() for w in wanted]
    # the shortest names first: 'val_loss' and 'train/CrossEntropyLoss' before 46 per-task 'eval/downstream/..._loss'
    like = sorted((c for c in cols if any(s in c.lower() for s in stems)), key=len)
    shown = like or cols
    more = f" and {len(shown) - LISTED_COLUMNS} more" if len(shown) > LISTED_COLUMNS else ""
    what = f"those like {' or '.join(repr(w) for w in wanted)}" if like else "the first"
    return f"{len(cols)}, {what}: {', '.join(shown[:LISTED_COLUMNS])}{more}"


def _columns_found(cols, wanted: Sequence[str] = ()) -> str:
    """"Columns found: ..." (:func:`_column_list`)."""
    return f"Columns found: {_column_list(cols, wanted)}."


#: File extensions read with pandas instead of the CSV reader, and the optional package each needs.
_OTHER_FORMATS = {
    ".xlsx": ("Excel workbook", "openpyxl", "excel"),
    ".xlsm": ("Excel workbook", "openpyxl", "excel"),
    ".xls": ("Excel 97-2003 workbook", "xlrd", None),
    ".parquet": ("Parquet file", "pyarrow", None),
    ".pq": ("Parquet file", "pyarrow", None),
    ".json": ("JSON file", None, None),
}
#: Extensions of files that are not tables, with what they are: refused by :func:`read_runs` before it parses them as
#: CSV (the files a report, a saved fit or a cost model is made of, and documents).
NOT_TABLES = {".md": "Markdown document", ".html": "HTML page", ".htm": "HTML page", ".png": "image",
              ".jpg": "image", ".jpeg": "image", ".svg": "image", ".pdf": "PDF document", ".nc": "NetCDF file (a "
              "saved fit's draws)", ".toml": "TOML file (a cost or value model)", ".ipynb": "notebook",
              ".py": "Python script"}

#: Extensions of files that are runs tables (:func:`read_runs` reads the others as CSV too, gzip-compressed or not).
TABLE_SUFFIXES = (".csv", ".tsv", ".txt", ".gz", *_OTHER_FORMATS)

#: The first bytes of binary formats people save runs in, and what to tell them.
_MAGIC = (
    (b"PK\x03\x04", "an Excel workbook (.xlsx) or another zip archive"),
    (b"\xd0\xcf\x11\xe0", "an Excel 97-2003 workbook (.xls)"),
    (b"PAR1", "a Parquet file"),
    (b"\x89HDF", "an HDF5/NetCDF file"),
    (b"\x89PNG", "a PNG image"),
    (b"%PDF", "a PDF document"),
    (b"\xff\xfe", "UTF-16 text (Excel's 'Unicode text')"),
    (b"\xfe\xff", "UTF-16 text"),
    (b"\x80", "a Python pickle"),
)


def _expected_header(what: str, columns=None) -> tuple[str, str]:
    """The header line and the row noun a table named ``what`` needs (for messages about empty files); ``columns``,
    when given, are the header's names (a law's variables and ``loss``)."""
    if columns:
        return "'" + ",".join(columns) + "'", "target" if "target" in what else "run"
    for key, header, row in (("target", "'params,tokens'", "target"), ("plan", "'label,params,tokens'", "plan"),
                             ("pilot", "'label,params,tokens'", "pilot")):
        if key in what:
            return header, row
    return "'params,tokens,loss'", "run"


#: The plausible range of tokens per parameter of a run or a target (D/N), outside which a row is warned about as a
#: likely unit slip: Chinchilla's runs reach 0.04 and 3,300 (Hoffmann et al. 2022), over-trained runs ~1,000-2,000
#: (Gadre et al. 2024; Llama 3 8B on 15T tokens: 1,900).
PLAUSIBLE_TOKENS_PER_PARAM = (0.1, 1e4)

#: Runs whose N (or D) all lie within this factor of each other are "at one size": a spread under 10 % moves a power
#: term by under 0.04 of its exponent in log loss, far below the run-to-run noise, so the exponent is the prior's.
SAME_SIZE_FACTOR = 1.1

#: Tokens per parameter above which a table whose every row lies there is refused as FLOPs typed into 'tokens'
#: (:func:`_refuse_flops_as_tokens`): 100x the plausible bound, so that no real run (the most over-trained public ones
#: are near 2,000) is refused.
FLOPS_AS_TOKENS_RATIO = 1e6


#: Share of the rows with fewer tokens than parameters above which the tokens-per-parameter warning asks whether
#: 'params' and 'tokens' are swapped. Training runs put D above N almost always; an isoFLOP sweep's largest models
#: at its smallest budgets do not, and in Porian et al. (2024)'s sweeps they are 24 % of the runs (75 % swapped).
MOST_ROWS_FEWER_TOKENS = 0.5


#: The end of the tokens-per-parameter warning when some of its rows have too few tokens: a fit leaves such runs out by
#: default, and more of them than the warning counts (a fresh user read "48 runs below 0.1" here and "171 runs left
#: out" in the fit's note as a mismatch).
_LEFT_OUT_TAIL = (" (by default a fit leaves out every run on fewer tokens than parameters, not only those below 0.1: "
                  "min_tokens_per_param)")


def _implausible_allocation(table: pd.DataFrame, ctx, one: str, derived: bool = False,
                            fit_leaves_out: bool = True) -> tuple[str, type[Warning]]:
    """The warning for rows outside 0.1-10,000 tokens per parameter, or for most rows having fewer tokens than
    parameters (:data:`MOST_ROWS_FEWER_TOKENS`), "" if neither: a unit slip or a column mix-up; and its class,
    :class:`LeftOutRunsWarning` when it names only runs with too few tokens that a fit leaves out by default,
    :class:`RunsTableWarning` otherwise.
    ``derived``: the tokens were derived from 'flops', so the fix names that column (a fresh user's FLOPs in the
    wrong unit were blamed on a 'tokens' column the table did not have).
    ``fit_leaves_out``: the fit these runs are for leaves out the runs on too few tokens (False with
    ``min_tokens_per_param=0``, when the warning must not say that it does: a fresh user's fit of every run was told so).

    Rows of the data-constrained law with many epochs of little data (14M parameters on 900B tokens of 100M unique)
    are runs of that law, not a slip: above the range, only rows whose unique tokens are also above it count.
    """
    if "params" not in table or "tokens" not in table:
        return "", RunsTableWarning
    with np.errstate(over="ignore"):
        tpp = table["tokens"] / table["params"]
    low, high = tpp < PLAUSIBLE_TOKENS_PER_PARAM[0], tpp > PLAUSIBLE_TOKENS_PER_PARAM[1]
    if "unique_tokens" in table:
        high &= table["unique_tokens"] / table["params"] > PLAUSIBLE_TOKENS_PER_PARAM[1]
    parts = []
    if low.any():
        parts.append(f"{int(low.sum())} {one}(s) ({_rows(ctx, table.index[low])}) have as few as {tpp[low].min():.3g} "
                     "tokens per parameter")
    if high.any():
        parts.append(f"{int(high.sum())} {one}(s) ({_rows(ctx, table.index[high])}) have as many as "
                     f"{tpp[high].max():.3g} tokens per parameter")
    # most rows with fewer tokens than parameters: a fresh user's isoFLOP sweep with the two columns swapped (75 % of
    # its runs below 1, against 24 % as published) was warned about its 313 rows below 0.1 only, fitted, and then its
    # compute-optimal targets were refused as "swapped": the targets the package had made from the swapped runs
    fewer = tpp < 1.0
    swap = not derived and len(table) >= 2 and fewer.mean() > MOST_ROWS_FEWER_TOKENS
    if not parts and not swap:
        return "", RunsTableWarning
    check = ("'params' is a raw count and 'flops' is in FLOPs (tokens are derived as flops / (6 params))" if derived
             else "'params' and 'tokens' are raw counts of the same run")
    text = "; ".join(parts) + ", outside 0.1-10,000; " if parts else ""
    if swap:
        return (f"{text}{int(fewer.sum())} of {len(table)} {one}s have fewer tokens than parameters (median "
                f"{float(np.median(tpp)):.3g} tokens per parameter, where compute-optimal training uses about 20): "
                "are 'params' and 'tokens' swapped? If so, swap the two column names."), RunsTableWarning
    # such runs are left out of a fit by default (inputs.MIN_TOKENS_PER_PARAM): the warning still asks about units, and
    # says the numbers do not rest on them (a fresh user's report called them "may change the numbers above")
    left_out = bool(low.any()) and not derived and one == "run" and fit_leaves_out
    if left_out and not high.any():
        # only runs the fit leaves out: said first, and that an isoFLOP sweep's small-data end looks the same (a fresh
        # user's correct sweep of three recipes read "check that ... are raw counts" as a data error, next to the fit's
        # note that left the same runs out)
        return (f"{parts[0]}, outside 0.1-10,000: a fit leaves them out by default, with every run on fewer tokens than "
                "parameters (min_tokens_per_param), so its numbers do not rest on them. The small-data end of an "
                f"isoFLOP sweep looks like this, and so does a unit slip: check that {check}."), LeftOutRunsWarning
    return text + f"check that {check}{_LEFT_OUT_TAIL if left_out else ''}.", RunsTableWarning


def _plausible_ratio(ratio: pd.Series) -> bool:
    """Whether every tokens-per-parameter ratio lies in :data:`PLAUSIBLE_TOKENS_PER_PARAM`."""
    r = ratio.to_numpy(float)
    return bool(r.size) and bool(np.all((r >= PLAUSIBLE_TOKENS_PER_PARAM[0]) & (r <= PLAUSIBLE_TOKENS_PER_PARAM[1])))


def _refuse_flops_as_tokens(table: pd.DataFrame, what: str) -> None:
    """Raise when every row's 'tokens' reads as training compute C = 6 N D rather than a token count.

    Every row above :data:`FLOPS_AS_TOKENS_RATIO` tokens per parameter, which no training run reaches: a fresh
    user's FLOPs under a 'tokens' header were fitted, with a headline of "a 66.6T-parameter model on 523T tokens", and
    only a warning. It is refused whatever tokens / (6 params) would give: an isoFLOP sweep's FLOPs in 'tokens' read
    back as 0.0102-97.1 tokens per parameter (its small-data end below 0.1), and another fresh user's such table was
    fitted for nine minutes before a later step refused it. Data-constrained tables (with ``unique_tokens``) are left
    to their own checks: their many-epoch runs have large D/N by design."""
    if "params" not in table or "tokens" not in table or "unique_tokens" in table or table.empty:
        return
    ratio = table["tokens"] / table["params"]
    if not (ratio.to_numpy(float) > FLOPS_AS_TOKENS_RATIO).all():
        return
    implied = table["tokens"] / (6.0 * table["params"] ** 2)
    raise RunsTableError(
        f"{what} looks like training compute (FLOPs), not a token count: every row has {format_span(ratio)} tokens per "
        f"parameter, while tokens / (6 params) would give {format_span(implied)}; if it holds FLOPs, rename it 'flops' "
        "(tokens are then derived as flops / (6 params))"
        + ("." if _plausible_ratio(implied) else "; if not, give the number of tokens each run was trained on.")
    )


def _refuse_swapped_sizes(table: pd.DataFrame, what: str) -> None:
    """Raise when every row has fewer tokens than :data:`PLAUSIBLE_TOKENS_PER_PARAM` allows and the columns read the
    other way round would all be plausible: 'params' and 'tokens' swapped (a fresh user's swapped table was fitted,
    with a warning, into "a 9.49B-parameter model on 3.98B tokens")."""
    if "params" not in table or "tokens" not in table or table.empty:
        return
    ratio = table["tokens"] / table["params"]
    if (ratio.to_numpy(float) < PLAUSIBLE_TOKENS_PER_PARAM[0]).all() and _plausible_ratio(1.0 / ratio):
        raise RunsTableError(
            f"{what}: every row has fewer tokens than parameters ({format_span(ratio)} tokens per parameter), while the "
            f"columns read the other way round give {format_span(1.0 / ratio)}: are 'params' and 'tokens' swapped? Swap "
            "the two column names."
        )


def _warn_unused_domain_like_column(df: pd.DataFrame, out: pd.DataFrame) -> None:
    """Warn when runs fitted as one domain have a text column that tells apart runs of the same N and D.

    A fresh user's isoFLOP sweep of three data mixes, with the mix in a column 'mix' and no ``--domain-col``, was
    fitted as one domain whose 25 configurations each had three "seeds", without a word. A text column is named
    when it takes two or more values within one configuration (so it is not a label of the sizes, such as '2b8')
    and is not an identifier (fewer distinct values than half the runs, and more than one model size per value: a
    fresh user's checkpoints of 6 runs were told to use the run's ``hyper_id`` as the domain, a fit of 6 domains of
    one N each).
    """
    keys = [c for c in ("params", "tokens", "unique_tokens") if c in out]
    found: list[tuple[str, int, str]] = []
    for col in df.columns:
        if col in LAW_COLUMNS or col in out.columns or col.lower() in ("label", "name", "run", "run_name", "notes"):
            continue
        s = df[col]
        if pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s):
            continue
        text = s.astype(str).str.strip()
        n_values = text.nunique()
        if not 2 <= n_values <= len(text) / 2:
            continue
        if "params" in out and out["params"].groupby(text).nunique().max() == 1:
            continue  # one model size per value: a run's name or id (checkpoints of one run), not a domain
        within = text.groupby([out[k] for k in keys]).nunique()
        if (within > 1).any():
            found.append((col, n_values, listed((f"'{v}'" for v in sorted(text.unique())), 4)))
    if len(found) == 1:
        col, n_values, shown = found[0]
        warnings.warn(
            f"column '{col}' holds {n_values} names ({shown}) and tells apart runs of the same size, but it is "
            "not used: every run is fitted as one domain. If it names each run's domain (a data mix, a corpus, a "
            f"training recipe), pass --domain-col {col} (domain_col='{col}' in Python); else drop the column.",
            RunsTableWarning,
            stacklevel=3,
        )
    elif found:
        # OpenLM's long table (training corpus x evaluation set) named only the first, and its 8 evaluation sets of
        # each run were fitted as 8 seeds of one domain (a fresh user)
        names = " and ".join(f"'{c}' ({n} names: {shown})" for c, n, shown in found[:3])
        first, second = found[0][0], found[1][0]
        warnings.warn(
            f"columns {names} tell apart runs of the same size, but they are not used: every run is fitted as one "
            "domain, and rows that differ only in them count as seeds. If together they name each run's domain (a "
            f"training corpus and an evaluation set), add a column such as domain = {first} + '/' + {second} and pass "
            "--domain-col domain; else drop them.",
            RunsTableWarning,
            stacklevel=3,
        )


#: Token counts a model size needs, in equal steps, before its rows are read as checkpoints of one training run.
#: Not 5: an isoFLOP sweep at five evenly spaced budgets (1e18, 2e18, ..., 5e18) gives each N five D in equal steps;
#: a loss curve is logged at tens of checkpoints (the DeepMind routing curves: 25 a run).
CHECKPOINT_LADDER = 8
#: Steps between sorted token counts count as equal within this relative difference of their median.
_EQUAL_STEP = 0.01
#: Names of columns that count training steps.
_STEP_COLUMNS = ("step", "steps", "global_step", "iteration", "iterations", "iter", "checkpoint", "ckpt",
                 "train_step", "training_step")


def _step_column(columns) -> str | None:
    """The first column named like a count of training steps (:data:`_STEP_COLUMNS`), or None."""
    return next((c for c in columns if str(c).strip().lower() in _STEP_COLUMNS), None)


def _checkpoint_ladders(out: pd.DataFrame) -> list[tuple]:
    """(domain, N, token counts) of each model size whose token counts form a ladder of equal steps.

    Checkpoints are saved every k steps, so one run's D values are evenly spaced (5.2B, 10.5B, ..., 131B); runs
    planned at several D are spaced by factors (Hoffmann et al. 2022 §3.1-3.2, OpenLM), or by whole epochs of one
    unique-token budget (datablations), which are not read as checkpoints. A ladder of :data:`CHECKPOINT_LADDER` or
    more equal steps that starts below a third of its top is read as a loss curve.
    """
    found = []
    dom = out["domain"] if "domain" in out else pd.Series(DEFAULT_DOMAIN, index=out.index)
    keys = [dom, out["params"]] + ([out["unique_tokens"]] if "unique_tokens" in out else [])
    # only sizes with enough distinct token counts are looked at (100,000 runs of distinct N: one pass, no loop)
    enough = out["tokens"].groupby(keys, sort=False).transform("nunique") >= CHECKPOINT_LADDER
    if not enough.any():
        return []
    out, keys = out[enough], [k[enough] for k in keys]
    for (d, n, *_), sub in out.groupby(keys, sort=False):
        t = np.unique(sub["tokens"].to_numpy(float))
        if len(t) < CHECKPOINT_LADDER or t[0] > t[-1] / 3:
            continue
        if "unique_tokens" in sub:  # whole epochs of one unique-token budget (datablations: D = 12B, 24B, ..., 84B)
            epochs = sub["tokens"].to_numpy(float) / sub["unique_tokens"].to_numpy(float)
            if np.all(np.abs(epochs - np.round(epochs)) < _EQUAL_STEP * np.maximum(epochs, 1.0)):
                continue
        steps = np.diff(t)
        med = float(np.median(steps))
        if np.mean(np.abs(steps - med) <= _EQUAL_STEP * med) >= 0.8:
            found.append((d, n, t))
    return found


def _warn_checkpoints(df: pd.DataFrame, out: pd.DataFrame, ctx: _Ctx) -> None:
    """Warn when rows look like checkpoints of training runs (loss curves) rather than separate runs.

    A fresh user's DeepMind routing curves (25 checkpoints of each of 6 runs, a ``step`` column left in) were fitted
    as 150 independent runs without a word: the compute-optimal tokens per parameter came out 0.9 (0.45-1.8), and a
    backtest forecasting larger D from the early checkpoints covered 0.77 at 90 %. Checkpoints before the end of the
    learning-rate schedule lie above the loss of a run trained to that D, and the points of one curve share its
    noise (Hoffmann et al. 2022 §3.1 use the curves only through their lower envelope, with schedules matched to D).
    Two signs: a column named like a step count, or a model size whose token counts form a ladder of equal steps
    (:func:`_checkpoint_ladders`).
    """
    if "params" not in out or "tokens" not in out:
        return
    step = _step_column(df.columns)
    ladders = _checkpoint_ladders(out)
    if step is None and not ladders:
        return
    signs = []
    if ladders:
        d, n, t = ladders[0]
        where = f" of domain '{d}'" if out["domain"].nunique() > 1 else ""
        signs.append(f"{len(ladders)} model size(s) have token counts in equal steps, e.g. N = {format_count(n)}{where}: "
                     f"{len(t)} values from D = {format_count(t[0])} to {format_count(t[-1])}, "
                     f"{format_count(float(np.median(np.diff(t))))} apart")
    if step is not None:
        signs.append(f"column '{step}' counts training steps")
    sign = ", and ".join(signs)
    warnings.warn(
        f"the {ctx.what or 'runs'} look like checkpoints of training runs (loss curves), not separate runs: {sign}. "
        "A checkpoint before the end of its learning-rate schedule lies above the loss of a run trained to that D, and "
        "the points of one curve are not independent, so the fit is over-confident and the D exponent and the "
        "compute-optimal tokens per parameter are biased. Keep one row per run (its final checkpoint), or only "
        "checkpoints whose schedule ended there.",
        RunsTableWarning,
        stacklevel=3,
    )


def require_unique_labels(labels: pd.Series, what: str, role: str) -> None:
    """Raise :class:`RunsTableError` when a label is used twice, naming it and its rows (counted from 1).

    Parameters
    ----------
    labels : pandas.Series of str
        The table's ``label`` column, in row order.
    what : str
        The table, as messages name it ("plans table 'p.csv'").
    role : str
        What the labels name, e.g. "the options in the decision".

    Raises
    ------
    RunsTableError
        "plans table: the label 'A' is used by rows 1 and 3 (counted from 1); ..."
    """
    lab = labels.astype(str).reset_index(drop=True)
    if not lab.duplicated().any():
        return
    dup = lab[lab.duplicated()].iloc[0]
    rows = [str(k + 1) for k in np.flatnonzero(lab.to_numpy() == dup)]
    raise RunsTableError(f"{what}: the label '{dup}' is used by rows {', '.join(rows[:-1])} and {rows[-1]} (counted "
                         f"from 1); labels name {role}, so they must be unique: rename or drop the repeats.")


#: The other size of the N-D split: the axis the runs measure when every run has one of the two (:func:`single_size_axis`).
OTHER_SIZE = {"params": "tokens", "tokens": "params"}


def single_size_axis(runs: pd.DataFrame) -> str | None:
    """The size column in which every run has one value while the other varies: ``"tokens"`` (runs of several N
    trained on one D, as the DeepMind routing runs), ``"params"`` (one N, several D), else None.

    Along the other axis the law is measured; the split of a larger budget between N and D is not (that
    exponent comes from the prior alone), so default targets scale the measured axis only.

    Parameters
    ----------
    runs : pandas.DataFrame
        Validated runs of one domain (``params``, ``tokens``).

    Returns
    -------
    str or None
    """
    if not {"params", "tokens"} <= set(runs.columns):
        return None
    n_params, n_tokens = runs["params"].nunique(), runs["tokens"].nunique()
    if n_tokens == 1 and n_params > 1:
        return "tokens"
    if n_params == 1 and n_tokens > 1:
        return "params"
    return None


#: Spread (max / min) of a size the law does not read above which runs are said to lie off its curve: half a decade.
IGNORED_SPREAD = 3.0


def _warn_ignored_sizes(out: pd.DataFrame, needs: tuple[str, ...]) -> None:
    """Warn when a one-variable law is fitted to runs that vary in a size it does not read.

    A fresh user's 245 Chinchilla runs (D over three decades) were fitted with the law of N alone, and all of them with
    the law of C alone (as if each were compute-optimal), without a word.
    """
    def spread(values: pd.Series) -> float:  # the largest max / min of a domain
        return float(values.groupby(out["domain"]).agg(lambda v: v.max() / v.min()).max())

    if needs == ("params",) and "tokens" in out:
        if (tokens := spread(out["tokens"])) > IGNORED_SPREAD:
            warnings.warn(
                f"column 'tokens' varies {tokens:.3g}x across the runs, but the law reads N alone: runs trained on other "
                "D lie off its curve, and its forecasts mix them. Fit a law of N and D (the default, chinchilla), or "
                "keep the runs of one token budget.", RunsTableWarning, stacklevel=3)
    if needs == ("flops",) and {"params", "tokens"} <= set(out.columns):
        ratio = out["tokens"] / out["params"]
        if spread(ratio) > IGNORED_SPREAD:
            warnings.warn(
                f"the runs span {ratio.min():.3g}-{ratio.max():.3g} tokens per parameter, but the law reads C alone, as "
                "if every run were compute-optimal: runs off the optimum lie above its curve. Fit a law of N and D (the "
                "default, chinchilla), or keep the best run of each budget (the isoFLOP minima).",
                RunsTableWarning, stacklevel=3)


def repeated_configurations(runs: pd.DataFrame) -> pd.Series:
    """Configurations trained more than once (e.g. several seeds): run counts above 1, indexed by configuration.

    A configuration is the same N, D, unique tokens U (where the table has them: runs of the data-constrained law
    at one N and D but different U are different runs, not seeds) and domain; the same C for a table of compute only.

    Parameters
    ----------
    runs : pandas.DataFrame
        Validated runs (``params``, ``tokens`` [, ``unique_tokens``] [, ``domain``]).

    Returns
    -------
    pandas.Series
        Run count of each repeated configuration (empty when none is repeated).
    """
    keys = _configuration_keys(runs)
    counts = runs.groupby(keys).size() if set(keys) - {"domain"} else pd.Series(dtype=int)
    return counts[counts > 1]


def _configuration_keys(runs: pd.DataFrame) -> list[str]:
    """The columns that make a run's configuration (seeds of one configuration share them): N, D and U where the
    table has them, else C (a compute-only table), and the domain."""
    # a compute-only table's configuration is its FLOPs (every run of it was one configuration, 'trained 9 times')
    sizes = [c for c in ("params", "tokens", "unique_tokens") if c in runs] or [c for c in ("flops",) if c in runs]
    return sizes + (["domain"] if "domain" in runs else [])


def configuration_words(repeated: pd.Series) -> str:
    """What a configuration of :func:`repeated_configurations` is made of, in symbols: "N, D and domain", "C and
    domain" (a compute-only table, which was said to repeat "N, D and domain")."""
    symbol = {"params": "N", "tokens": "D", "unique_tokens": "U", "flops": "C", "domain": "domain"}
    names = [symbol.get(str(n), str(n)) for n in repeated.index.names if n is not None]
    return (", ".join(names[:-1]) + " and " + names[-1]) if len(names) > 1 else "".join(names) or "N, D and domain"


def _domain_column_hint(col: str, columns) -> str:
    """did-you-mean for a domain column among ``columns``, leaving out the columns of sizes and losses."""
    return did_you_mean(col, [c for c in columns if c not in LAW_COLUMNS])


def missing_domain_column(col: str, source, columns, action: str = "fit") -> str:
    """The message for a ``--domain-col`` that names no column of the runs: the closest name, the columns found.

    Parameters
    ----------
    col : str
        The column asked for.
    source : str or Path
        The runs file (named in the message).
    columns : iterable
        The file's columns.
    action : str
        What happens to the runs without it ("fit", "score").
    """
    columns = [str(c) for c in columns]
    hint = _domain_column_hint(col, columns)
    return (f"--domain-col '{col}' is not a column of '{source}'" + (f"; {hint}" if hint else "")
            + f" (columns: {_column_list(columns)}); name the column that holds each run's domain, or leave --domain-col "
            f"out to {action} the runs as one domain.")


def domain_column_words(domain_col: str = "domain") -> str:
    """The column a table's domains were read from, in words: the fit's domain column or, without it, 'domain'
    (a fresh user's 'domain' column was called 'mix', the fit's, which the file did not have).

    Parameters
    ----------
    domain_col : str
        The fit's domain column, as the user named it.

    Returns
    -------
    str
        ``"column 'domain'"`` or ``"column 'mix' (or 'domain')"``.
    """
    return f"column '{domain_col}'" if domain_col == "domain" else f"column '{domain_col}' (or 'domain')"


def one_domain_of(table: pd.DataFrame, domain: str | None, what: str, domain_col: str = "domain") -> str | None:
    """The one domain the rows of an analysis that ranks them against each other belong to.

    ``compare`` and ``next-run`` rank their rows within one domain; a table naming two domains took the
    first row's for every row (a fresh user's candidates in ``c4`` and ``chin`` were all ranked as ``c4``,
    and in the other order as ``chin``).

    Parameters
    ----------
    table : DataFrame
        Validated rows with a ``domain`` column (None where not given).
    domain : str or None
        The domain passed as an argument (``--domain``).
    what : str
        What the rows are, for the message ("candidates").
    domain_col : str
        The fit's domain column, as the user named it.

    Returns
    -------
    str or None
        ``domain`` if given, else the one domain the rows name, else None.

    Raises
    ------
    RunsTableError
        If the rows name several domains, or one other than ``domain``.
    """
    named = list(dict.fromkeys(d for d in table["domain"] if isinstance(d, str)))
    col = domain_column_words(domain_col)
    if len(named) > 1:
        raise RunsTableError(
            f"the {what} name several domains in {col} ({', '.join(named)}); they are ranked against "
            f"each other within one domain: give the rows of one domain at a time.")
    if domain is not None and named and named[0] != domain:
        raise RunsTableError(
            f"the {what} say domain '{named[0]}' in {col} but '{domain}' was asked for "
            "(domain= / --domain); drop one of the two.")
    return domain if domain is not None else (named[0] if named else None)


#: Key of ``DataFrame.attrs`` set on a targets table whose domain names were already checked against the fit's
#: (:func:`unseen_domain_note`, e.g. by ``workflow.expand_targets``, which renumbers the rows), so that a later
#: validation does not question them again under other row numbers.
DOMAINS_CHECKED = "domains_checked"


def unseen_domain_note(name, domains, who: str) -> str:
    """The warning for a domain name a fit does not have but that is close to one of its names, else ``""``.

    An unseen name is a new domain (the population forecast), so only a near-typo or a part of a fitted name
    (``rpj`` of ``rpj/c4_val``) is questioned: ``did_you_mean(cutoff=0.8, contains=True)``.

    Parameters
    ----------
    name : str
        The domain name given.
    domains : sequence of str
        The fit's domains.
    who : str
        How the message names it, e.g. ``"--domain 'cod'"`` or ``"targets domain 'cod' (row 1)"``.
    """
    known = [str(d) for d in domains]
    if str(name).strip().lower() == DEFAULT_DOMAIN_LABEL and DEFAULT_DOMAIN in known:
        # the report's name for the runs of a table without a domain column: a fresh user copied it into --domain and
        # got the new-domain forecast, 7x wider, without a word
        return (f"{who} is how the report names the domain '{DEFAULT_DOMAIN}' (the runs of a table without a domain "
                f"column), not a domain of this fit, so it gets the forecast for a new domain; give "
                f"'{DEFAULT_DOMAIN}' for your runs' forecast.")
    hint = did_you_mean(name, known, cutoff=0.8, contains=True) if str(name) not in known else ""
    return f"{who} is not a domain of this fit, so it gets the forecast for a new domain; {hint}" if hint else ""


def warn_unseen_domain(name, domains) -> None:
    """Warn (:class:`RunsTableWarning`) when a domain given by argument (``domain=``, ``--domain``) is not a fitted
    one but close to one (:func:`unseen_domain_note`): a misspelt name silently gave the new-domain forecast.

    Parameters
    ----------
    name : str
        The domain given.
    domains : sequence of str
        The fit's domains.
    """
    note = unseen_domain_note(name, domains, f"domain '{name}' (domain= / --domain)")
    if note:
        warn_caller(note, RunsTableWarning)


def read_runs(path: str | Path, *, what: str = "runs table", columns=None) -> pd.DataFrame:
    """Read a runs (or targets) table from a file without interpreting it.

    Parameters
    ----------
    path : str or Path
        A CSV file (a UTF-8 byte-order mark in the header is accepted; gzip-compressed CSV too, by its
        content, whatever the extension: row numbers count the lines of the decompressed text); or, by extension, an
        Excel workbook (``.xlsx``/``.xlsm``, first sheet; needs the optional ``openpyxl``:
        ``pip install 'bayes_scaling[excel]'``), a Parquet file (``.parquet``; ``pyarrow``,
        installed with nutpie) or a JSON file (``.json``: a list of records
        ``[{"params": 7e9, "tokens": 1.4e11, "loss": 2.1}, ...]`` or an object of columns).
    what : str
        Name used in error messages.
    columns : sequence of str, optional
        The columns the table needs, for the header a message about an empty file suggests (default by ``what``:
        ``params,tokens,loss`` for runs); e.g. a data-constrained fit's ``params,tokens,unique_tokens,loss``.

    Returns
    -------
    pandas.DataFrame
        Raw table (strings for CSV; the cells' own types for the other formats). The index is
        the row number: row *k* is file line (sheet row) *k + 1*, so the first data row after
        the header is row 1. Blank lines (and lines of empty cells, as spreadsheets export them)
        are skipped but keep their numbers, so a row number in a message always points at the
        file. Validate the table with :func:`validate_runs`.

    Raises
    ------
    RunsTableError
        If the file does not exist, is empty, is a binary file under a text extension (its
        format is named), is not UTF-8 text, is not a comma-separated file, has a line with
        more or fewer values than the header names, repeats a column name, has no data rows,
        or needs an optional package that is not installed (the package is named).
    """
    if not isinstance(path, (str, os.PathLike)):  # a list of rows gave "argument should be a str or an os.PathLike"
        raise RunsTableError(f"the {what} must be a pandas DataFrame or a path to a CSV file, not a "
                             f"{type(path).__name__}; e.g. pd.DataFrame({{'params': [7e9], 'tokens': [1.4e11]}}).")
    path = Path(path)
    if not path.exists():
        raise RunsTableError(f"{what} file '{path}' does not exist; check the path.")
    if path.is_dir():
        # a fresh user's `backtest FITDIR` was told "give a CSV file" (other formats are read too, and the directory
        # was a saved fit whose runs table was inside)
        saved = next((d for d in (path, path / "fit") if (d / "fit.json").exists() and (d / "runs.csv").exists()), None)
        hint = (f"; it holds a saved fit, whose runs are in '{saved / 'runs.csv'}' (commands that read a fit take the "
                "directory itself)" if saved is not None else "")
        raise RunsTableError(f"{what} path '{path}' is a directory{hint}; give a table file (CSV or TSV, optionally "
                             "gzip-compressed, .xlsx, .parquet or .json).")
    if path.suffix.lower() in NOT_TABLES:
        # `predict DIR --at DIR/report.md` was read as a CSV and said "row 4 has 2 values but the header names 1
        # columns" (a fresh user)
        raise RunsTableError(f"{what} '{path}' is a {NOT_TABLES[path.suffix.lower()]} ({path.suffix}), not a table; "
                             "give a table file (CSV or TSV, optionally gzip-compressed, .xlsx, .parquet or .json).")
    if path.suffix.lower() in _OTHER_FORMATS:
        df = _read_other(path, what)
        df.attrs.update(source=str(path), what=what)
        return df
    raw = path.read_bytes()
    if raw.startswith(b"\x1f\x8b"):  # a gzip-compressed CSV (curves.csv.gz) was called "a binary file (NUL bytes)"
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as exc:
            raise RunsTableError(f"{what} file '{path}' is a damaged gzip file ({exc}); decompress it again or export "
                                 "the runs as CSV.") from None
    if len(raw) == 0:
        header, rows = _expected_header(what, columns)
        raise RunsTableError(f"{what} file '{path}' is empty; it needs a header line {header} and one line per {rows}.")
    for magic, kind in _MAGIC:
        if raw.startswith(magic):
            raise RunsTableError(
                f"{what} file '{path}' is {kind}, not a CSV text file; save it as CSV (UTF-8), or give an Excel "
                "workbook the extension .xlsx and a Parquet file .parquet: both are read as they are."
            )
    if b"\x00" in raw[:4096]:
        raise RunsTableError(
            f"{what} file '{path}' is a binary file (it contains NUL bytes), not a CSV text file; export the runs as "
            "CSV (UTF-8), .xlsx, .parquet or .json."
        )
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise RunsTableError(
            f"{what} file '{path}' is not UTF-8 text (byte {exc.start}); save it as UTF-8 CSV."
        ) from None
    reader = csv.reader(io.StringIO(text, newline=""), skipinitialspace=True, strict=False)
    header: list[str] | None = None
    labels: list[int] = []
    records: list[list[str]] = []
    last = 0
    try:
        for rec in reader:
            start, last = last + 1, reader.line_num
            if not rec or all(not f.strip() for f in rec):
                continue  # blank line or a line of empty cells
            if header is None:
                header = _check_header([f.strip().lstrip("\ufeff") for f in rec], path, what)
                continue
            if len(rec) != len(header):
                if len(rec) > len(header) and all(not f.strip() for f in rec[len(header):]):
                    rec = rec[: len(header)]  # trailing empty cells (a spreadsheet's trailing commas)
                else:
                    raise RunsTableError(
                        f"{what} file '{path}', row {start - 1} (file line {start}) has {len(rec)} "
                        f"values but the header names {len(header)} columns ({', '.join(header)}); "
                        "remove the extra values or add the missing ones (quote text that contains commas)."
                    )
            labels.append(start - 1)
            records.append(rec)
    except csv.Error as exc:
        raise RunsTableError(
            f"{what} file '{path}' is not a well-formed CSV (line {reader.line_num}: {exc}); "
            "check for stray quotes or control characters."
        ) from None
    if header is None:
        raise RunsTableError(
            f"{what} file '{path}' has no header; the first line must name the columns, e.g. {_expected_header(what, columns)[0]}."
        )
    if not records:
        raise RunsTableError(f"{what} file '{path}' has a header but no data rows; add one line per "
                             f"{_expected_header(what, columns)[1]}.")
    df = pd.DataFrame.from_records(records, columns=header, index=pd.Index(labels, dtype=int))
    df.attrs["source"] = str(path)
    df.attrs["one_based_file"] = True
    df.attrs["what"] = what
    return df


def _read_other(path: Path, what: str) -> pd.DataFrame:
    """An Excel, Parquet or JSON table, numbered like a CSV (row 1 = the first data row)."""
    kind, package, extra = _OTHER_FORMATS[path.suffix.lower()]
    if path.stat().st_size == 0:
        raise RunsTableError(f"{what} file '{path}' is empty; it needs columns params, tokens and loss.")
    try:
        if path.suffix.lower() == ".json":
            try:
                df = pd.read_json(path, orient=None)
            except ValueError:
                df = pd.read_json(path, lines=True)
        elif package == "pyarrow":
            df = pd.read_parquet(path)
        else:
            df = pd.read_excel(path, sheet_name=0)
    except ImportError:
        how = f"pip install 'bayes_scaling[{extra}]' (or pip install {package})" if extra else f"pip install {package}"
        raise RunsTableError(
            f"reading the {kind} '{path}' needs the optional package {package}, which is not installed: {how}; "
            "or save the table as CSV."
        ) from None
    except Exception as exc:  # noqa: BLE001 - pandas/openpyxl/pyarrow raise many kinds for a file they cannot read
        example = ('a list of records such as [{"params": 7e9, "tokens": 1.4e11, "loss": 2.1}, ...]'
                   if kind == "JSON file" else f"a valid {kind}")
        raise RunsTableError(
            f"{what} file '{path}' could not be read as a {kind} ({type(exc).__name__}: {' '.join(str(exc).split())[:200]}); "
            f"it should be {example}, or save the table as CSV."
        ) from None
    if not isinstance(df, pd.DataFrame) or df.shape[1] == 0:
        raise RunsTableError(f"{what} file '{path}' holds no table; it needs columns params, tokens and loss.")
    df.columns = [str(c).strip() for c in df.columns]
    dup = next((c for i, c in enumerate(df.columns) if c in list(df.columns)[:i]), None)
    if dup is not None:
        raise RunsTableError(f"{what} file '{path}' names column '{dup}' twice; keep one.")
    df = df.reset_index(drop=True)
    df.index = pd.Index(np.arange(1, len(df) + 1), dtype=int)
    empty = df.isna().all(axis=1) | df.apply(lambda r: all(str(v).strip() == "" for v in r), axis=1)
    df = df[~empty]
    if df.empty:
        raise RunsTableError(f"{what} file '{path}' has column names but no data rows; add one row per run.")
    df.attrs["one_based_file"] = path.suffix.lower() in (".xlsx", ".xlsm", ".xls")
    df.attrs["line_word"] = "sheet row"
    return df


def _check_header(header: list[str], path: Path, what: str) -> list[str]:
    if len(header) == 1:
        for sep, name in ((";", "semicolons"), ("\t", "tabs"), ("|", "'|'")):
            if sep in header[0]:
                raise RunsTableError(
                    f"{what} file '{path}' separates values with {name}, not commas (header '{header[0]}'); "
                    "save it as a comma-separated CSV."
                )
    named = [c for c in header if c]
    dup = next((c for i, c in enumerate(named) if c in named[:i]), None)
    if dup is not None:
        raise RunsTableError(f"{what} file '{path}' names column '{dup}' twice in its header; keep one.")
    return [c if c else f"Unnamed: {i}" for i, c in enumerate(header)]


#: Column names of published run tables, read as the package's (exact, case-insensitive): Epoch AI's
#: Chinchilla table (Besiroglu et al. 2024, data/svg_extracted_data.csv) and spelled-out variants.
PUBLISHED_HEADERS = {
    "model size": "params",
    "training tokens": "tokens",
    "training flop": "flops",
    "training flops": "flops",
}


def _published_headers(df: pd.DataFrame, ctx: _Ctx) -> pd.DataFrame:
    """Rename the columns of a published table (Epoch's 'Model Size', 'Training Tokens', 'Training FLOP') in one go."""
    have = set(df.columns)
    renames = {}
    for c in df.columns:
        target = PUBLISHED_HEADERS.get(str(c).strip().lower())
        if target and target not in have and target not in renames.values():
            renames[c] = target
    if not renames:
        return df
    warnings.warn(
        "read the columns " + ", ".join(f"'{a}' as '{b}'" for a, b in renames.items())
        + (f" in the {ctx.what}" if ctx.what else "")
        + " (the names of Epoch AI's Chinchilla table, Besiroglu et al. 2024); rename them to silence this.",
        RunsTableWarning,
        stacklevel=4,
    )
    return df.rename(columns=renames)


#: A run's loss below 1/LOSS_GAP_FACTOR of every other loss of its domain is warned about (:func:`validate_runs`).
#: Not fitted to data: across the four shared data sets the lowest loss of a domain is within a factor 1.14 of the
#: next lowest (OpenLM), while a domain's highest loss is at most 5.4 times its lowest (failed and over-trained runs
#: included), so a factor 3 between the two lowest runs is no scaling.
LOSS_GAP_FACTOR = 3.0


#: Level of the check that a domain's loss rises with compute (:func:`validate_runs`: a positive Spearman correlation
#: with a two-sided p-value below it; a conventional 1 %, not tuned). Every domain of the four shared data sets falls
#: with compute (Spearman correlation -0.72 to -0.99 over 32 domains).
RISING_LOSS_P = 0.01
#: Spearman correlation of loss with compute from which the runs are refused rather than warned about: no scaling law
#: rises that steadily (every shared domain falls, -0.72 to -0.99), so such a column is not a loss.
RISING_LOSS_REFUSED = 0.8
#: Rise in log loss between two runs of one model size, the later on more tokens, from which
#: :func:`validate_runs` warns that the loss rises with data: three standard deviations of the difference of two
#: runs' log losses at the typical run-to-run noise, 3 * sqrt(2) * 0.012 = 0.051 (about 5 %; 0.012 is the centre of
#: ``model.NOISE_PRIOR``, the geometric mean residual scale over the 32 domains of the four shared data sets,
#: ``benchmarks/learn_noise.py``). Not tuned to a data set: no Chinchilla or routing run rises by it; in OpenLM it
#: finds code and PTB evaluated on models trained on C4 or RefinedWeb, whose loss rises with over-training.
RISE_WITH_TOKENS = 3.0 * float(np.sqrt(2.0)) * 0.012


def _small_tokens_advice(tokens: pd.Series, params: pd.Series) -> tuple[str, str]:
    """What token numbers below 1e5 next to raw parameter counts look like, and the fix: ``(what, fix)``.

    Tokens per parameter, unless, read as billions of tokens, they give at least 90 % of the rows a plausible
    0.1-10,000 tokens per parameter (then either; the Chinchilla runs themselves have one run at 0.04). A fresh
    user's Chinchilla runs with tokens in billions were told only "tokens per parameter"; so was a fresh user's
    routing table, every run on 130.5B tokens (a constant column was taken for a ratio).
    """
    t, n = tokens.to_numpy(float), params.to_numpy(float)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        ratio = t * 1e9 / n
    billions = float(np.mean((ratio >= 0.1) & (ratio <= 1e4))) >= 0.9
    if billions:
        return ("tokens per parameter or billions of tokens",
                "give total training tokens D as a raw count: tokens = tokens_per_param * params, or tokens * 1e9 "
                "for billions.")
    return "tokens per parameter", "give total training tokens D, e.g. tokens = tokens_per_param * params."


def fitted_tokens_per_param(bound: float) -> tuple[float, float]:
    """The tokens per parameter (D / N) a fit's law is fitted on: from the fit's ``min_tokens_per_param`` (at least the
    plausible 0.1) to the plausible 10,000 (:data:`PLAUSIBLE_TOKENS_PER_PARAM`). A compute-optimal split outside it is
    not measured by the runs: the default targets keep the runs' own D/N there and the report says not to plan on it.

    Parameters
    ----------
    bound : float
        The fit's ``min_tokens_per_param``.

    Returns
    -------
    (float, float)
        Lowest and highest tokens per parameter.
    """
    return max(PLAUSIBLE_TOKENS_PER_PARAM[0], float(bound)), PLAUSIBLE_TOKENS_PER_PARAM[1]


def in_canonical_order(runs: pd.DataFrame, domains_as_listed: bool = False) -> pd.DataFrame:
    """The runs in one order whatever the table's (a stable sort; the index is kept): by domain, then the size columns
    and the loss.

    Parameters
    ----------
    runs : pandas.DataFrame
        Validated runs (:func:`validate_runs`).
    domains_as_listed : bool, default False
        Keep the domains in the order they first appear (the order a report lists them in) instead of by name.

    Returns
    -------
    pandas.DataFrame
    """
    keys = [c for c in ("params", "tokens", "unique_tokens", "flops", "loss") if c in runs]
    if "domain" not in runs:
        return runs.sort_values(keys, kind="stable")
    if not domains_as_listed:
        return runs.sort_values(["domain", *keys], kind="stable")
    first = {d: i for i, d in enumerate(dict.fromkeys(runs["domain"]))}
    order = runs.assign(_domain_order=runs["domain"].map(first)).sort_values(["_domain_order", *keys], kind="stable")
    return order.drop(columns="_domain_order")


def below_tokens_per_param(table: pd.DataFrame, bound: float) -> np.ndarray:
    """Rows trained on fewer than ``bound`` tokens per parameter (D / N < bound), shape (n,).

    The one test behind the fit's ``min_tokens_per_param`` (which runs it leaves out), the warning on targets below
    it and next-run's on candidates below it. No row for a bound of 0 or a table without both ``params`` and
    ``tokens``.

    Parameters
    ----------
    table : pandas.DataFrame
        Runs, targets or candidates, n rows.
    bound : float
        Tokens per parameter.
    """
    if not bound or "params" not in table or "tokens" not in table:
        return np.zeros(len(table), bool)
    with np.errstate(divide="ignore", invalid="ignore"):
        return (table["tokens"].to_numpy(float) / table["params"].to_numpy(float)) < float(bound)


def epochs_column(columns: Sequence[str]) -> str | None:
    """The name of a column of epochs (D / U) among ``columns`` ("epochs", "n_epochs", "repeats", ...), or None.

    Parameters
    ----------
    columns : sequence of str

    Returns
    -------
    str or None
    """
    return next((c for c in columns if str(c).lower() in ("epochs", "epoch", "n_epochs", "num_epochs", "repeats")), None)


#: Other names of the law's columns, lower case (a column named so is suggested for renaming).
_COLUMN_ALIASES = {
    "params": ["n", "model size", "model_size", "parameters", "num_params", "n_params", "nparams", "size"],
    "tokens": ["d", "data", "num_tokens", "n_tokens", "training_tokens", "train_tokens"],
    "loss": ["l", "final_loss", "eval_loss", "val_loss", "train_loss", "nll"],
    "flops": ["c", "compute", "training flop", "training_flop", "flop", "train_flops"],
    "unique_tokens": ["u", "unique", "unique tokens", "unique_data", "num_unique_tokens", "n_unique_tokens",
                      "unique_toks"],
}


#: The word a column of the law's is named with inside longer headers ('total_parameter_count', 'loss_validation').
_COLUMN_STEMS = {"params": "param", "tokens": "token", "loss": "loss", "flops": "flop", "unique_tokens": "unique"}


def _suggested_columns(name: str, columns: Sequence[str]) -> list[str]:
    """Columns of ``columns`` that are likely ``name`` under another header: a known alias; else every header that
    contains the column's word (:data:`_COLUMN_STEMS`), rates and ratios left out, the likeliest first (for ``loss``
    the validation losses: a fresh user's routing table has six evaluation losses and was offered 'loss_c4' only;
    for ``flops`` and ``params`` the training or total counts); else a near-typo."""
    for col in columns:
        if col.lower() in _COLUMN_ALIASES.get(name, []):
            return [col]
    # never suggest renaming a column that already has a meaning of its own (loss -> 'flops')
    free = [c for c in columns if c not in _COLUMN_ALIASES and c != "domain"]
    stem = _COLUMN_STEMS.get(name)
    # not a rate or a ratio ('flops_per_step', 'flop_increase', 'tokens_per_param') nor a step count ('step_c4')
    found = [c for c in free if stem and stem in c.lower() and not c.lower().startswith(("step", "n_step"))
             and not {"per", "increase", "ratio", "factor", "frac"} & set(re.split(r"[^a-z0-9]+", c.lower()))]
    first = {"loss": ("val", "eval", "test"), "flops": ("train", "total"), "params": ("total",)}.get(name, ())
    found.sort(key=lambda c: not any(w in c.lower() for w in first))
    if found:
        return found
    near = closest_name(name, free)
    return [] if near is None else [near]


def _suggested_column(name: str, columns: Sequence[str]) -> str | None:
    """The most likely of :func:`_suggested_columns`, or None."""
    found = _suggested_columns(name, columns)
    return found[0] if found else None


def _closest(name: str, columns: Sequence[str]) -> str:
    lowered = {c.lower(): c for c in columns}
    if name.lower() in lowered:
        return f"; found '{lowered[name.lower()]}': column names are case-sensitive, rename it to '{name}'"
    found = _suggested_columns(name, columns)
    if len(found) > 1:
        return (f"; did you mean one of {listed((repr(c) for c in found), 3)}? Rename the one you mean to '{name}'"
                + (" (each evaluation set is a domain of its own: fit one, or stack them with a domain column)"
                   if name == "loss" else ""))
    return f"; did you mean '{found[0]}'? Rename it to '{name}'" if found else ""


def _size_columns(needs: Sequence[str], cols: Sequence[str]) -> list[str]:
    """The size columns a table must have for a law that reads ``needs``, given the columns it has: D may come as
    C (tokens = C / 6N) and C as N and D (C = 6ND), each derived after validation."""
    size_cols = list(needs)
    if "tokens" in size_cols and "tokens" not in cols and "flops" in cols:
        size_cols = [c if c != "tokens" else "flops" for c in size_cols]
    if "flops" in size_cols and "flops" not in cols and {"params", "tokens"} <= set(cols):
        size_cols = [c for c in size_cols if c != "flops"] + ["params", "tokens"]
    return size_cols


def _to_numeric(df: pd.DataFrame, col: str, ctx: _Ctx) -> pd.Series:
    s = df[col]
    if pd.api.types.is_bool_dtype(s):
        raise RunsTableError(f"column '{col}' holds true/false values; it must hold numbers.")
    if pd.api.types.is_numeric_dtype(s):
        return s.astype(float)
    text = s.astype(str).str.strip()
    out = pd.to_numeric(text, errors="coerce")
    bad = out.isna() & ~text.str.lower().isin(["", "nan", "na", "n/a", "none", "null", "inf", "-inf", "+inf"])
    if bad.any():
        thousands = text[bad].str.match(_THOUSANDS)
        if thousands.all():
            fixed = pd.to_numeric(text[bad].str.replace(",", "", regex=False), errors="coerce")
            out[bad] = fixed
            first = bad[bad].index[0]
            warnings.warn(
                f"column '{col}' uses ',' as a thousands separator (e.g. '{text[first]}' in "
                f"{ctx.row(first)}); read as {fixed[first]:g}. Export numbers without separators to silence this.",
                RunsTableWarning,
                stacklevel=4,
            )
        else:
            idx = bad[bad].index
            first = idx[0]
            raise RunsTableError(
                f"column '{col}', {ctx.row(first)}: '{text[first]}' is not a number"
                + (f" (also {_rows(ctx, idx[1:])})" if len(idx) > 1 else "")
                + "; write plain numbers such as 7e9 or 7000000000."
            )
    # words that pandas reads as missing/infinite are handled by the finiteness check
    vals = np.array(out.to_numpy(dtype=float, na_value=np.nan), dtype=float)
    lowered = text.str.lower().to_numpy(dtype=object)
    vals[np.isin(lowered, ["inf", "+inf"])] = np.inf
    vals[lowered == "-inf"] = -np.inf
    return pd.Series(vals, index=s.index, name=col)


#: How far a given ``flops`` may differ from 6 N D (as a ratio) before :func:`validate_runs` warns and replaces it:
#: rounding, not another way of counting compute. A fresh user's flops 1.3x 6ND were kept without a word, and moved
#: the report's default targets and the distances beyond the runs, while budgets elsewhere are read as 6ND.
FLOPS_TOLERANCE = 1.05


def _flops_from_tokens(table: pd.DataFrame, ctx: _Ctx, prefix: str) -> None:
    """Where ``flops`` differs from 6 N D by more than :data:`FLOPS_TOLERANCE`, warn and set it to 6 N D (tokens win;
    in place).

    Kaplan et al. 2020, §2.1: C = 6 N D. ``prefix`` names a table other than the runs ("plans: ")."""
    with np.errstate(over="ignore", divide="ignore"):
        implied = 6.0 * table["params"] * table["tokens"]
        ratio = table["flops"] / implied
        off = np.abs(np.log(ratio)) > np.log(FLOPS_TOLERANCE)
    if off.any():
        first = table.index[off][0]
        lo, hi = float(ratio[off].min()), float(ratio[off].max())
        span = f"{lo:.3g}x" if np.isclose(lo, hi, rtol=0.005) else f"{lo:.3g}x to {hi:.3g}x"
        # a plans table's flops in PF-days beside params and tokens read "1.16e-20x 6ND" with no word on the unit (a
        # fresh user; the runs table refuses such a column)
        unit = (" ('flops' looks like PF-days: 1 PF-day = 8.64e19 FLOPs)"
                if float(table.loc[off, "flops"].max()) < MIN_FLOPS else "")
        warnings.warn(
            f"{prefix}column 'flops' differs from 6 * params * tokens in {_rows(ctx, table.index[off])} ({span} "
            f"6ND, e.g. {table.loc[first, 'flops']:g} vs {implied[first]:g}){unit}; 'tokens' is used and 'flops' is "
            "replaced by 6ND, the compute every budget here is counted in (Kaplan et al. 2020, §2.1). Drop the "
            "column to silence this; compute counted another way (attention included) does not enter the law.",
            RunsTableWarning,
            stacklevel=3,  # the caller of validate_runs / validate_targets
        )
        # as the warning says: C = 6ND everywhere (distances beyond the runs, figures); rows within rounding keep theirs
        table.loc[off, "flops"] = implied[off]


def _check_unique_tokens(table: pd.DataFrame, ctx: _Ctx, prefix: str, tail: str) -> None:
    """Raise when some rows have more unique tokens U than tokens seen D (U <= D), naming them."""
    more = table["unique_tokens"] > table["tokens"] * (1 + 1e-9)
    if more.any():
        fewer = table["unique_tokens"] < table["tokens"] * (1 - 1e-9)
        # a published data-constrained table (SLDBench's) has the two columns swapped: every row then has U >= D
        swapped = ("; no row has fewer unique tokens than tokens, so the two columns look swapped (rename "
                   "'unique_tokens' to 'tokens' and 'tokens' to 'unique_tokens')"
                   if not fewer.any() and more.sum() > 1 else "")
        raise RunsTableError(f"{prefix}column 'unique_tokens' exceeds 'tokens' in {_rows(ctx, table.index[more])}; "
                             f"unique tokens U cannot exceed the tokens seen D{swapped}{tail}")


def validate_runs(
    runs: pd.DataFrame | str | Path,
    *,
    n_law_parameters: int = 5,
    informative_prior: bool = False,
    domain_col: str = "domain",
    needs: Sequence[str] = ("params", "tokens"),
    loss_unit: str = "nats",
    reference: bool = False,
    published_prior: str | None = "besiroglu2024",
    leaves_out_undertrained: bool = True,
) -> pd.DataFrame:
    """Validate a runs table and return it in canonical form.

    Parameters
    ----------
    runs : DataFrame, str or Path
        The runs; a path is read with :func:`read_runs`.
    n_law_parameters : int, default 5
        Free parameters of the law per domain (5 for the Chinchilla law,
        Hoffmann et al. 2022 Eq. 2). A single-domain fit with fewer runs than this
        is an error under a weak prior and a warning under an informative one.
    informative_prior : bool, default False
        Whether the fit uses a published (informative) prior.
    domain_col : str, default "domain"
        Column naming each run's domain; absent means one domain "default".
    needs : sequence of str
        Which size columns the law uses: ``("params", "tokens")`` for N-D laws;
        ``("params",)``, ``("tokens",)`` or ``("flops",)`` for one-variable laws.
    loss_unit : {"nats", "bits"}
        Unit of the ``loss`` column; bits are converted to nats (× ln 2).
    reference : bool, default False
        Whether reference runs are fitted alongside as sibling domains. Then a domain with fewer
        runs than the law has parameters is the intended few-run transfer (its parameters borrow
        from the reference through the hierarchy), so it is not warned about; runs that all share
        one size are still warned about, naming the reference as the exponent's source.
    published_prior : str or None, default "besiroglu2024"
        The published prior of the law being fitted, named in the advice when a weak prior cannot determine the law
        (None: the law has none, and the advice does not name one). A data-constrained fit was told to use
        ``besiroglu2024``, a prior of the Chinchilla law it refused (a fresh user).
    leaves_out_undertrained : bool, default True
        Whether the fit these runs are for leaves out the runs on fewer tokens than parameters (a fit's default;
        False for ``min_tokens_per_param=0``). The warning about runs below 0.1 tokens per parameter says that the fit
        leaves them out only when it does.

    Returns
    -------
    pandas.DataFrame
        Columns ``params``, ``tokens``, ``flops`` (C = 6 N D when missing; Kaplan
        et al. 2020 §2.1), ``loss`` (nats/token), ``domain`` (str) and
        ``unique_tokens`` when given; the original index is kept.

    Raises
    ------
    RunsTableError
        Missing or misspelt columns, non-numeric values, NaN or infinite values,
        non-positive N, D, C or loss, sizes given in millions/billions, tokens given
        as tokens per parameter, loss given as perplexity, too few runs.

    Warns
    -----
    RunsTableWarning
        Identical duplicated rows, thousands separators, D < 0.1 N or more than
        10,000 tokens per parameter, a domain with a single run, very large tables.
    """
    if not isinstance(runs, pd.DataFrame):
        runs = read_runs(runs)  # refuses anything but a path
    ctx = _Ctx.of(runs)
    if len(runs) == 0:
        raise RunsTableError("the runs table is empty; give one row per training run with params, tokens and loss.")
    df = runs.copy()
    if not df.index.is_unique:  # e.g. pd.concat without ignore_index: messages count rows from 0 instead
        df = df.reset_index(drop=True)
    df.columns = [str(c).strip().lstrip("\ufeff") for c in df.columns]
    if df.columns.duplicated().any():
        dup = df.columns[df.columns.duplicated()][0]
        raise RunsTableError(f"column '{dup}' appears twice in the header; keep one.")
    df = _published_headers(df, ctx)
    cols = list(df.columns)

    size_cols = _size_columns(needs, cols)
    required = [*size_cols, "loss"]
    missing, absent = [], []
    for col in required:  # every missing column in one message: one round of renaming, not one per column
        if col not in cols:
            hint = _closest(col, cols)
            if col == "tokens":
                compute = None if "flops" in (c.lower() for c in cols) else _suggested_column("flops", cols)
                if compute is not None:  # an isoFLOP table: compute, not tokens
                    hint += (f" (or give 'flops' and tokens are derived as flops / (6 params): rename '{compute}' to "
                             "'flops' if it holds training compute in FLOPs)")
                else:
                    hint += " (or give 'flops' and tokens are derived as flops / (6 params))"
                steps = _step_column(cols)
                if steps is not None:  # loss curves logged by step (a fresh user)
                    hint += (f"; column '{steps}' counts training steps: tokens = {steps} x batch size (sequences) x "
                             "sequence length")
            if col == "loss" and not hint:  # "no column 'loss'. Columns found: params, tokens." named no fix (a fresh user)
                hint = (" (add each run's final evaluation loss in nats per token; in bits, add it as 'loss' and pass "
                        "loss_unit='bits')")
            if col == "unique_tokens":
                ep = epochs_column(cols)
                hint += (" (U, the unique tokens in each run's training data, which the data-constrained law needs; "
                         "U = D for a run that never repeats its data"
                         + (f"; from column '{ep}', U = tokens / epochs" if ep else "") + ")")
            missing.append(f"'{col}'{hint}")
            absent.append(col)
    if missing:
        name = "runs table" if ctx.what is None else ctx.what
        # a table with one size column fits a one-variable law (a fresh user's compute-only and params-only tables)
        one = None
        if {"params", "tokens"} <= set(needs) and "loss" in cols:
            if "flops" in cols and "params" not in cols and "tokens" not in cols:
                one = ("compute and loss only", "power_flops")
            elif "params" in cols and "tokens" not in cols and "flops" not in cols:
                one = ("parameters and loss only (every run on the same number of tokens)", "power_params")
        raise RunsTableError(
            (f"{name} has no column " if len(missing) == 1 else f"{name} lacks {len(missing)} columns: ")
            + "; ".join(missing) + ". " + _columns_found(cols, absent)
            + (f" A table of {one[0]} fits the one-variable law {one[1]} (--law {one[1]}; "
               f"ScalingLaw(law='{one[1]}') in Python)." if one else "")
        )
    if "flops" in size_cols and "params" not in cols and "tokens" in size_cols:
        raise RunsTableError("column 'flops' needs 'params' to derive tokens = flops / (6 params); add 'params'.")

    out = pd.DataFrame(index=df.index)
    numeric_cols = [c for c in ("params", "tokens", "flops", "loss", "unique_tokens") if c in cols]
    for col in numeric_cols:
        out[col] = _to_numeric(df, col, ctx)

    problems = []  # every column's, in one message (a fresh user fixed a NaN in 'tokens' to meet one in 'loss')
    for col in numeric_cols:
        s = out[col]
        nan = s.isna()
        if nan.any():
            problems.append(f"column '{col}' is empty or NaN in {_rows(ctx, s.index[nan])}; fill it in or drop those runs.")
            continue
        inf = ~np.isfinite(s)
        if inf.any():
            problems.append(f"column '{col}' is infinite in {_rows(ctx, s.index[inf])}; give a finite value or drop "
                            "those runs.")
            continue
        nonpos = s <= 0
        if nonpos.any():
            first = s.index[nonpos][0]
            problems.append(
                f"column '{col}' must be positive; {ctx.row(first)} has {s[first]:g}"
                + (f" (also {_rows(ctx, s.index[nonpos][1:])})" if nonpos.sum() > 1 else "")
                + "; fix or drop those runs."
            )
    if problems:
        raise RunsTableError(" Also: ".join(problems))

    if loss_unit not in ("nats", "bits"):
        raise RunsTableError(f"loss_unit must be 'nats' or 'bits', not '{loss_unit}'.")
    if loss_unit == "bits":
        out["loss"] = out["loss"] * np.log(2.0)

    # domain
    if domain_col in LAW_COLUMNS:  # one "domain" per run, a hierarchical fit of hundreds of one-run domains
        raise RunsTableError(f"the domain column '{domain_col}' holds sizes or losses, not domains (names such as 'c4' "
                             "or 'code'); name the column that holds each run's domain (domain_col=, --domain-col), or "
                             "leave it out to fit the runs as one domain.")
    if domain_col in cols:
        dom = df[domain_col]
        missing = dom.isna() | (dom.astype(str).str.strip() == "")
        if missing.any():
            raise RunsTableError(
                f"column '{domain_col}' is empty in {_rows(ctx, dom.index[missing])}; name the domain of every run."
            )
        out["domain"] = dom.astype(str).str.strip()
    elif domain_col != "domain":
        raise RunsTableError(
            f"runs table has no domain column '{domain_col}'{_closest(domain_col, cols)}. "
            + _columns_found(cols, [domain_col])
        )
    else:
        out["domain"] = DEFAULT_DOMAIN

    # unit checks, per domain so that a domain in other units is named
    for col, lo, what in (("params", MIN_PARAMS, "parameters"), ("tokens", MIN_TOKENS, "tokens"),
                          ("unique_tokens", MIN_TOKENS, "unique tokens")):
        if col not in out:
            continue
        for dname, sub in out.groupby("domain", sort=False):
            if sub[col].max() < lo:
                where = f" in domain '{dname}'" if out["domain"].nunique() > 1 else ""
                first = sub[col].idxmax()
                if col == "tokens" and "params" in out and (sub["tokens"] < 1e5).all() and (sub["params"] > 1e5).all():
                    looks, fix = _small_tokens_advice(sub["tokens"], sub["params"])
                    raise RunsTableError(
                        f"column 'tokens'{where} looks like {looks} (largest value {sub[col].max():g}, "
                        f"{ctx.row(first)}); {fix}"
                    )
                if col == "unique_tokens":  # a fresh user's epochs were told only "millions or billions"
                    raise RunsTableError(
                        f"column 'unique_tokens'{where} looks like epochs or a count in millions or billions (largest "
                        f"value {sub[col].max():g}, {ctx.row(first)}); give U, the raw count of unique tokens: "
                        "tokens / epochs for epochs, e.g. 1.25e9 for 1.25B."
                    )
                raise RunsTableError(
                    f"column '{col}'{where} looks like it is in millions or billions (largest value "
                    f"{sub[col].max():g}, {ctx.row(first)}); give raw counts of {what}, e.g. 7e9 for 7B."
                )
    if "flops" in out:  # with or without params (a fresh user's compute-only table in PF-days was fitted)
        if out["flops"].max() < MIN_FLOPS:
            first = out["flops"].idxmax()
            # token counts typed under a 'flops' header were told only about PF-days (a fresh user)
            as_tokens = ("params" in out and "tokens" not in out
                         and _plausible_ratio(out["flops"] / out["params"]))
            raise RunsTableError(
                f"column 'flops' is at most {out['flops'].max():g} ({ctx.row(first)}); give FLOPs, "
                "not PF-days (1 PF-day = 8.64e19 FLOPs, Kaplan et al. 2020 §2.1)"
                + ("; if it holds token counts (flops / params gives a plausible "
                   f"{format_span(out['flops'] / out['params'])} tokens per parameter), rename it 'tokens'." if as_tokens
                   # a table with tokens as well was told only about PF-days (a fresh user's 'flops' was another count)
                   else "; 'params' and 'tokens' are given, so drop 'flops' (C = 6ND is derived from them)."
                   if {"params", "tokens"} <= set(out) else ".")
            )
    big = out["loss"] > _MAX_LOSS_NATS
    if big.any():
        first = out.index[big][0]
        raise RunsTableError(
            f"column 'loss', {ctx.row(first)}: {out.loc[first, 'loss']:g} looks like a perplexity, not a loss "
            "in nats per token; give log(perplexity)."
        )

    # derive D from C = 6 N D (Kaplan et al. 2020, §2.1; Hoffmann et al. 2022, §3)
    if loss_unit == "nats" and "params" in out and ("tokens" in out or "flops" in out):
        _check_bits(out, ctx)

    if "tokens" not in out and "flops" in out and "params" in out:
        out["tokens"] = out["flops"] / (6.0 * out["params"])
        if out["tokens"].max() < MIN_TOKENS:
            raise RunsTableError(
                "tokens derived as flops / (6 params) are all below 1e5; check that 'flops' is in FLOPs "
                "and 'params' is a raw count."
            )
    elif "tokens" in out and "flops" in out and "params" in out:
        _flops_from_tokens(out, ctx, "")
    if "params" in out and "tokens" in out and "flops" not in out:
        with np.errstate(over="ignore"):
            out["flops"] = 6.0 * out["params"] * out["tokens"]
    _check_derived(out, ctx, "runs")
    # per-row unit checks: a single row typed in billions among raw counts passes the per-domain checks above
    for col, lo, what in (("params", MIN_PARAMS, "parameters"), ("tokens", MIN_TOKENS, "tokens"),
                          ("unique_tokens", MIN_TOKENS, "unique tokens"), ("flops", MIN_FLOPS, "FLOPs")):
        if col not in out or (col == "flops" and "flops" not in cols):
            continue
        small = out[col] < lo
        if small.any():
            idx = out.index[small]
            first = idx[0]
            fix = (
                "tokens are derived as flops / (6 params): check that 'flops' is in FLOPs and 'params' a raw count"
                if col == "tokens" and "tokens" not in cols
                else "it looks like PF-days (1 PF-day = 8.64e19 FLOPs) or an exponent while other rows are FLOPs; "
                "give FLOPs, e.g. 5.88e23" if col == "flops"
                else "it looks like millions or billions"
                + (" (or tokens per parameter)" if col == "tokens" else "")
                + " while other rows are raw counts; give raw counts, e.g. 7e9 for 7B"
            )
            steps = _step_column(cols) if col == "tokens" and "tokens" in cols else None
            if steps is not None:  # a fresh user's tokens were the step count of each checkpoint
                fix += (f"; if 'tokens' holds training steps (the table has a '{steps}' column), give tokens = steps x "
                        "batch size (sequences) x sequence length")
            raise RunsTableError(
                f"column '{col}', {ctx.row(first)}: {out.loc[first, col]:g} is below {lo:g}, too few {what} for a "
                f"training run" + (f" (also {_rows(ctx, idx[1:])})" if len(idx) > 1 else "") + f"; {fix}."
            )

    if "unique_tokens" in out and "tokens" in out:
        _check_unique_tokens(out, ctx, "", "; check that both are raw token counts of the same run (U = D for a "
                             "run that never repeats its data).")

    # allocation plausibility: for a law of N and D only (a law of D alone with a 'params' column beside it, a fresh
    # user's fine-tuning curves on 1e5-4e8 tokens of 124M-7B models, was asked "are 'params' and 'tokens' swapped?")
    if {"params", "tokens"} <= set(needs):
        _refuse_flops_as_tokens(out, "column 'tokens'")
        _refuse_swapped_sizes(out, "columns 'params' and 'tokens'")
        message, kind = _implausible_allocation(out, ctx, "run", derived="tokens" not in cols,
                                                fit_leaves_out=leaves_out_undertrained)
        if message:
            warnings.warn(message, kind, stacklevel=2)

    # duplicates: identical rows warn; same N, D with different loss are seeds (kept)
    keycols = [c for c in ("params", "tokens", "flops", "loss", "domain") if c in out]
    dup = out.duplicated(subset=keycols, keep="first")
    if dup.any():
        # which earlier row: a fresh user was told the copies' rows only
        group = out.groupby(keycols, sort=False, dropna=False).ngroup().to_numpy()
        first = int(np.flatnonzero(dup.to_numpy())[0])
        original = out.index[int(np.flatnonzero(group == group[first])[0])]
        example = "" if dup.sum() == 1 else f"{ctx.row(out.index[first])} "
        warnings.warn(
            f"{_rows(ctx, out.index[dup])} {'repeats' if dup.sum() == 1 else 'repeat'} an earlier row exactly "
            f"({example}repeats {ctx.row(original)}: same size, loss and domain); kept and counted as independent runs "
            "(seeds that agree to the digit), which weights them more and narrows the intervals: drop the copies if "
            "they were pasted twice.",
            RunsTableWarning,
            stacklevel=2,
        )

    _warn_seeds_apart(out, ctx)

    if domain_col not in cols:
        _warn_unused_domain_like_column(df, out)
    _warn_checkpoints(df, out, ctx)

    # per domain, losses no scaling law gives: one far below every other (a typo, another unit; a fresh user's 0.05
    # among losses of 2-8 was fitted without a word), or losses that rise with compute (an accuracy or a score: a
    # fresh user's accuracies of 0.3-0.7 were fitted as losses, "reaches 0.451 nats/token")
    for dname, sub in out.groupby("domain", sort=False):
        where = f" of domain '{dname}'" if out["domain"].nunique() > 1 else ""
        ordered = sub["loss"].sort_values()
        if len(sub) >= 3 and ordered.iloc[0] < ordered.iloc[1] / LOSS_GAP_FACTOR:
            warnings.warn(
                f"column 'loss', {ctx.row(ordered.index[0])}: {ordered.iloc[0]:g} is less than 1/{LOSS_GAP_FACTOR:g} "
                f"of every other loss{where} (the next lowest is {ordered.iloc[1]:g}); a scaling law does not fall "
                "that far between runs: check its value and unit (nats per token), or drop the row.",
                RunsTableWarning,
                stacklevel=2,
            )
        if "flops" in out and len(sub) >= 5 and sub["flops"].nunique() >= 3 and sub["loss"].nunique() >= 3:
            rho, p = stats.spearmanr(sub["flops"], sub["loss"])
            if rho > 0 and p < RISING_LOSS_P:
                text = (f"column 'loss'{where} rises with compute (Spearman correlation {rho:.2f} over {len(sub)} "
                        f"runs, p = {p:.2g}), where a loss falls: is it an accuracy or a score (higher is better)? "
                        "Give the loss in nats per token.")
                if rho >= RISING_LOSS_REFUSED:  # a fresh user's accuracies were still fitted and headlined in nats
                    raise RunsTableError(text)
                warnings.warn(text, RunsTableWarning, stacklevel=2)

    if "tokens" in needs:
        _warn_loss_rising_with_tokens(out, ctx)

    # identifiability
    n = len(out)
    if n == 1:
        raise RunsTableError(
            "a single run cannot determine a scaling law; add runs at other sizes "
            "(at least 3 for a new domain with a published prior, and a reference data set)."
        )
    doms = out["domain"].value_counts()
    if len(doms) == 1 and n < n_law_parameters:
        msg = (
            f"{n} runs cannot determine the {n_law_parameters} parameters of the law"
        )
        if reference:
            # the few-run transfer the package is built for: the domain borrows what its runs leave open from the
            # reference through the hierarchy. The old warning ("the forecast rests mainly on the prior") headed the
            # report of 4 runs whose exponents the runs had pulled far from the published ones (a fresh user)
            pass
        elif informative_prior:
            warnings.warn(
                msg + "; what the runs leave open comes from the prior. Add runs at other sizes to learn the domain.",
                RunsTableWarning,
                stacklevel=2,
            )
        else:
            published = f"use a published prior (prior='{published_prior}'), " if published_prior else ""
            raise RunsTableError(
                msg + f" with a weak prior; add runs (at least {n_law_parameters}), {published}or fit next to reference "
                "runs (reference='chinchilla')."
            )
    for axis, label in (("params", "N"), ("tokens", "D")):
        if axis not in needs or axis not in out:
            continue
        v = out[axis].to_numpy(float)
        # every domain's runs, within a few percent: 28 routing recipes at 1.300e11-1.311e11 tokens (and several
        # domains at one D) went without a word (a fresh user); so did domains each at its own single D
        spread = pd.Series(v, index=out.index).groupby(out["domain"] if "domain" in out else 0).agg(
            lambda s: s.max() / s.min() if len(s) > 1 else np.nan)
        if v.max() / v.min() < SAME_SIZE_FACTOR:
            same = (f"({v[0]:g})" if out[axis].nunique() == 1
                    else f"to within {v.max() / v.min() - 1:.1%} ({v.min():g}-{v.max():g})")
            msg = f"all runs have the same '{axis}' {same}, so the {label} exponent is not identified"
        elif spread.notna().any() and (spread.dropna() < SAME_SIZE_FACTOR).all():
            msg = (f"the runs of each domain have one '{axis}' (to within {spread.max() - 1:.1%}), so the {label} "
                   "exponent is not identified within any domain")
        else:
            continue
        if informative_prior:
            source = "the prior and the reference runs" if reference else "the prior alone"
            warnings.warn(msg + f"; it comes from {source}.", RunsTableWarning, stacklevel=2)
        else:
            published = f" or use a published prior (prior='{published_prior}')" if published_prior else ""
            raise RunsTableError(msg + f"; add runs at other sizes{published}.")
    single = doms[doms == 1]
    if len(doms) > 1 and len(single):
        # a one-run domain that differs from another only in case or by a typo ('RPJ' beside 'rpj') is most likely that
        # domain misspelt in one row (a fresh user's was fitted as a domain of its own without a word on it)
        typos = []
        for d in single.index[:5]:
            others = [str(o) for o in doms.index if o != d]
            # closest_name puts a name that differs only in case first ('RPJ' beside 'rpj'); names that differ only
            # in their numbers are other configurations, not typos ('Hash-1024experts' was asked about beside
            # 'Hash-512experts'; a fresh user)
            m = closest_name(str(d), others, cutoff=0.8)
            if m is not None and re.sub(r"\d+", "#", m) != re.sub(r"\d+", "#", str(d)):
                typos.append(f"'{d}' ({_rows(ctx, out.index[out['domain'] == d])}) is close to '{m}'")
        warnings.warn(
            f"domain(s) {', '.join(repr(d) for d in single.index[:5])} have a single run; "
            "their forecasts rest on the other domains and the prior."
            + (f" Is it a misspelt name? {'; '.join(typos)}: correct the cell if it is the same domain."
               if typos else ""),
            RunsTableWarning,
            stacklevel=2,
        )
    two = doms[doms == 2]
    if len(doms) > 1 and len(two):
        warnings.warn(
            f"domain(s) {listed((repr(d) for d in two.index), 5)} have only two runs: too few to check the law or "
            "measure the noise on them, so their forecasts lean on the other domains and the prior; a third run at "
            "another size would test them.",
            RunsTableWarning,
            stacklevel=2,
        )
    _warn_ignored_sizes(out, tuple(needs))
    if n > 20_000:
        warnings.warn(
            f"{n:,} runs: the fit will take about {estimated_fit_seconds(n) / 60:.0f} minutes on 2 cores.",
            RunsTableWarning,
            stacklevel=2,
        )
    order = [c for c in ("params", "tokens", "flops", "unique_tokens", "loss", "domain") if c in out]
    out = out[order]
    out.attrs = {}
    return out


#: A domain whose losses sit this far above the published Chinchilla laws (median ratio over its runs) may
#: be given in bits (x 1/ln 2 = 1.44). In nats, the 28 public domains of the embedded data sets (Chinchilla,
#: OpenLM's 24 train/eval pairs, datablations, the routing runs) lie at 0.62-1.56 times the larger of the
#: Hoffmann et al. (2022) and Besiroglu et al. (2024) laws at their own N and D (median 1.14); in bits they would
#: lie at 0.90-2.25. The two ranges overlap, so no threshold separates them all. A miss costs more than a false
#: alarm (forecasts 44 % too high without a word, against a warning whose other reading, a much harder domain, is
#: right), so the threshold sits at the top of the nats domains but one: 1.4 catches bits for 26 of the 28 and asks
#: about one nats domain (OpenLM's C4-trained model on PTB, 1.56). It was 1.5 until a fresh user's Chinchilla and
#: routing runs in bits (1.44 and 1.41) went through without a warning; 1.5 caught 23 and asked about the same one.
BITS_RATIO = 1.4


def _warn_seeds_apart(out: pd.DataFrame, ctx: _Ctx) -> None:
    """Warn when runs of one size (seeds, kept) differ in log loss by more than :data:`RISE_WITH_TOKENS`.

    Two seeds of one configuration differ by about the run-to-run noise (~1 %); three times that for two runs is
    the tolerance of :func:`_warn_loss_rising_with_tokens`. A fresh user's copy of a run with a loss 15 % higher
    was kept as a seed without a word, which widened every interval.
    """
    keys = _configuration_keys(out)  # the configurations repeated_configurations counts
    logl = pd.Series(np.log(out["loss"].to_numpy(float)), index=out.index)
    g = logl.groupby([out[k] for k in keys], sort=False, dropna=False)
    spread = g.transform("max") - g.transform("min")
    apart = spread > RISE_WITH_TOKENS
    if not apart.any():
        return
    worst = spread[apart].idxmax()
    same = apart & (g.ngroup() == g.ngroup()[worst])
    lo, hi = logl[same].idxmin(), logl[same].idxmax()
    n_sizes = int(g.ngroup()[apart].nunique())
    warnings.warn(
        f"column 'loss': runs of the same size differ by more than {np.expm1(RISE_WITH_TOKENS):.0%} at {n_sizes} "
        f"size{'s' if n_sizes > 1 else ''}, far more than seeds of one configuration do (about 1 %): e.g. "
        f"{out.at[lo, 'loss']:.4g} in {ctx.row(lo)} and {out.at[hi, 'loss']:.4g} in {ctx.row(hi)}. They are kept as "
        "seeds and widen every interval; check that they are the same configuration, evaluated the same way (a "
        "failed run, another evaluation set or a mis-logged loss?).",
        RunsTableWarning,
        stacklevel=3,
    )


def _warn_loss_rising_with_tokens(out: pd.DataFrame, ctx: _Ctx) -> None:
    """Warn when, at one model size (and one unique-token budget), a run on more tokens has a higher loss than a run
    on fewer, by more than :data:`RISE_WITH_TOKENS` in log loss.

    No law of the package lets the loss rise with data: the Chinchilla law falls with D, and the data-constrained law
    (Muennighoff et al. 2023, Eq. 5) lets repeated tokens stop helping, not hurt. A fresh user's OpenLM domain of
    code evaluated on a model trained on C4 rose from 3.60 to 3.81 nats between 25B and 50B tokens at 79M parameters;
    the fit took it for noise and forecast the larger runs 5-27 % too low, without a word.
    """
    # a law of D alone may come without 'params' (a fresh user's fine-tuning curves crashed here with "['params'] not
    # in index"): then a domain's runs are one model's
    keys = ["domain"] + [c for c in ("params", "unique_tokens") if c in out]
    t = out[keys + ["tokens"]].assign(logl=np.log(out["loss"].to_numpy(float)))
    # per group and token count, the lowest loss; then the lowest on fewer tokens (vectorised: 100,000 runs of
    # distinct sizes are 100,000 groups)
    per = t.groupby(keys + ["tokens"], sort=True)["logl"].min().reset_index()
    per["best_before"] = per.assign(cm=per.groupby(keys)["logl"].cummin()).groupby(keys)["cm"].shift()
    rise = t["logl"].to_numpy() - t.merge(per[keys + ["tokens", "best_before"]], on=keys + ["tokens"],
                                          how="left")["best_before"].to_numpy(float)
    hit = np.flatnonzero(rise > RISE_WITH_TOKENS)
    if not hit.size:
        return
    # the worst rise of each model size, worst first; the earlier run is looked up for the three shown only (a lookup
    # per rising run took 17 s on 100,000 runs with 1,000 rising sizes, a fresh user)
    flagged = t.iloc[hit].assign(rise=rise[hit]).sort_values("rise", ascending=False, kind="stable")
    worst = flagged.drop_duplicates(subset=["domain", "params"], keep="first")
    several = out["domain"].nunique() > 1
    places = len(worst)
    shown = []
    for b, row in worst.head(3).iterrows():
        same = (t[keys] == row[keys]).all(axis=1) & (t["tokens"] < row["tokens"])
        a, dname, n = t.loc[same, "logl"].idxmin(), row["domain"], row["params"]
        where = f"domain '{dname}', " if several else ""
        shown.append(f"{where}N = {format_count(n)}: {out.at[a, 'loss']:.4g} at {format_count(out.at[a, 'tokens'])} "
                     f"tokens in {ctx.row(a)} -> {out.at[b, 'loss']:.4g} at {format_count(out.at[b, 'tokens'])} "
                     f"in {ctx.row(b)}")
    why = ("repeated data beyond the point where it stops helping" if "unique_tokens" in out
           else "over-training on data unlike the evaluated text, or repeated data")
    more = f" and {places - len(shown)} more" if places > len(shown) else ""
    warnings.warn(
        f"column 'loss': at a fixed model size the loss rises with more tokens, by more than {np.expm1(RISE_WITH_TOKENS):.0%}"
        f" (three times the typical run-to-run noise of two runs), at {places} model size"
        f"{'s' if places > 1 else ''}: {'; '.join(shown)}{more}. No law of the package lets the loss rise with data "
        f"({why}); the fit reads those runs as noise, so forecasts on more tokens per parameter there may be too "
        "low: check those runs, or leave the rising ones out of the fit.",
        RunsTableWarning,
        stacklevel=3,
    )


def published_loss(params, tokens) -> np.ndarray:
    """The larger of the Hoffmann et al. (2022) and Besiroglu et al. (2024) Chinchilla laws at (N, D), nats/token."""
    from .laws import chinchilla_loss  # floor 0, imported on use (the catalog loads the bootstrap covariance)
    from .priors import get_prior

    out = []
    for name in ("besiroglu2024", "hoffmann2022"):
        m = get_prior(name).mean
        out.append(chinchilla_loss(np.asarray(params, float), np.asarray(tokens, float), np.exp(m["logE"]),
                                   np.exp(m["logA"]), np.exp(m["logB"]), m["alpha"], m["beta"]))
    return np.maximum(*out)


def _check_bits(out: pd.DataFrame, ctx: _Ctx) -> None:
    """Warn when a domain's losses look like bits per token rather than nats (see :data:`BITS_RATIO`)."""
    tokens = out["tokens"] if "tokens" in out else out["flops"] / (6.0 * out["params"])
    with np.errstate(all="ignore"):
        ratio = out["loss"] / published_loss(out["params"], tokens)
    dom = out["domain"] if "domain" in out else pd.Series(DEFAULT_DOMAIN, index=out.index)
    med = ratio.groupby(dom, sort=False).median()
    high = med[med > BITS_RATIO]
    if high.empty:
        return
    names = "" if dom.nunique() == 1 else " of domain(s) " + ", ".join(repr(d) for d in high.index[:5])
    where = f" in the {ctx.what}" if ctx.what else ""
    warnings.warn(
        f"the losses{names}{where} are {high.max():.2g}x what the published Chinchilla laws give at the same N and D "
        f"(median over the runs; natural-log losses of public domains are typically 0.6-1.4x): are they in bits (log2)? "
        "If so, pass loss_unit='bits' to convert them to nats; if they are in nats, the domain is much harder than "
        "the published data.",
        RunsTableWarning,
        stacklevel=3,
    )


def _check_derived(out: pd.DataFrame, ctx: _Ctx, what: str) -> None:
    """Derived sizes (C = 6 N D or D = C / (6 N)) must stay positive and finite."""
    for col in ("tokens", "flops"):
        if col not in out or not pd.api.types.is_numeric_dtype(out[col]):
            continue
        s = out[col]
        bad = ~np.isfinite(s) | (s <= 0)
        if bad.any():
            first = s.index[bad][0]
            raise RunsTableError(
                f"{what} {ctx.row(first)}: {col} derived from the other sizes is {s[first]:g} (C = 6 N D); "
                "the sizes are out of range (params and tokens are raw counts, flops in FLOPs), fix or drop that row."
            )


def estimated_fit_seconds(n_runs: int, n_domains: int = 1) -> float:
    """Rough wall-clock estimate of a default fit on 2 cores.

    Parameters
    ----------
    n_runs, n_domains : int
        Size of the problem.

    Returns
    -------
    float
        Seconds: compilation (~15 s cold) plus sampling, which grows linearly with
        the runs (measured in ``benchmarks/bench_scale.py``).
    """
    return 15.0 + 2.0 + 4e-4 * n_runs * 4 + 0.3 * n_domains


#: What a target column of too-small numbers looks like, and the fix, by column (:func:`validate_targets`): unique
#: tokens in billions were told about PF-days and "(FLOPs for 'flops')" (a fresh user).
_TARGET_UNIT_HINTS = {
    "params": ("millions or billions", "give raw counts, e.g. 7e9 for 7B"),
    "tokens": ("millions or billions", "give raw counts, e.g. 1.4e12 for 1.4T"),
    "unique_tokens": ("epochs or a count in millions or billions", "give the raw count of unique tokens, e.g. 1e11 "
                      "for 100B"),
    "flops": ("PF-days, TFLOPs or an exponent", "give FLOPs, e.g. 5.88e23"),
}


def validate_targets(targets: pd.DataFrame | str | Path, *, domains: Sequence[str] | None = None,
                     needs: Sequence[str] = ("params", "tokens"), what: str = "targets table",
                     domain_col: str = "domain") -> pd.DataFrame:
    """Validate a table of forecast targets.

    Parameters
    ----------
    targets : DataFrame, str or Path
        Columns ``params`` and ``tokens`` (or ``flops``); optional ``domain``,
        optional ``unique_tokens``.
    domains : sequence of str, optional
        Domains known to the fit. A target domain not in this list is forecast with
        the population predictive (a new, unseen domain); one close to a known name (a near-typo, or a
        part of it such as ``rpj`` of ``rpj/c4_val``) gets a :class:`RunsTableWarning` naming it.
    needs : sequence of str
        Size columns the law needs.
    what : str, default "targets table"
        The table's name in messages ("plans table" gives "plans column 'params', row 2 ...: fix or
        drop that plan").
    domain_col : str, default "domain"
        The column that named the domains of the fit's runs (``ScalingLaw(domain_col=...)``, ``--domain-col``):
        without a ``domain`` column, the targets' domains are read from it.

    Returns
    -------
    pandas.DataFrame
        The target table with numeric ``params``, ``tokens``, ``flops`` and
        ``domain`` columns; extra columns are kept unchanged.

    Raises
    ------
    RunsTableError
        On the same problems as :func:`validate_runs` (column, row and fix named).

    Warns
    -----
    RunsTableWarning
        When ``flops`` differs from ``6 * params * tokens`` by more than 1.5x in some rows (Kaplan et
        al. 2020, §2.1): ``tokens`` is used and ``flops`` replaced by 6ND, as in :func:`validate_runs`;
        for a target domain close to one of ``domains``.
    """
    noun = what.removesuffix(" table")  # "targets", "plans"
    if not isinstance(targets, pd.DataFrame):
        path = targets
        targets = read_runs(targets, what=what)
        what = f"{what} '{path}'"  # the file in the messages below ("plans table has no column" named none)
    ctx = _Ctx.of(targets)
    one = {"targets": "target", "plans": "plan", "pilots": "pilot"}.get(noun, "row")
    if len(targets) == 0:
        per = "forecast" if noun == "targets" else one
        raise RunsTableError(f"the {what} is empty; give one row per {per} with params and tokens.")
    df = targets.copy()
    if not df.index.is_unique:  # repeated labels would mix up rows when forecasts are written back
        # ... and renumbering them did so silently: t["pred"] = predict(t)["loss_median"] gave one row another's
        # forecast (a fresh user)
        dup = df.index[df.index.duplicated()][0]
        warn_caller(f"the {what}'s index repeats labels ({dup} and maybe more): its rows are numbered 0-{len(df) - 1} "
                    "by position, and so are the results; assign them back by position (.to_numpy()), or give the "
                    "table a unique index first (.reset_index(drop=True)).", RunsTableWarning)
        df = df.reset_index(drop=True)
    df.columns = [str(c).strip().lstrip("\ufeff") for c in df.columns]
    df = _published_headers(df, ctx)
    if domain_col not in df.columns and "domain" not in df.columns:  # a misspelt domain column forecast every domain
        hint = _domain_column_hint(domain_col, df.columns)
        if hint:
            warn_caller(f"{what} has no column '{domain_col}' (the fit's domain column); {hint} Without it every row "
                        f"is taken as having no domain. Rename the column to '{domain_col}'.", RunsTableWarning)
        elif domains is not None:  # a column of the fit's domain names under another header (a fresh user's 'mix')
            for col in df.columns:
                if col in LAW_COLUMNS or pd.api.types.is_numeric_dtype(df[col]):
                    continue
                named = sorted(set(df[col].dropna().astype(str).str.strip()) & set(map(str, domains)))
                if named:
                    warn_caller(f"{what} column '{col}' holds domain names of the fit ({listed(map(repr, named), 3)}) "
                                f"but the fit's domain column is '{domain_col}': "
                                f"without it every row is taken as having no domain. Rename '{col}' to "
                                f"'{domain_col}'.", RunsTableWarning)
                    break
    if domain_col != "domain" and domain_col in df.columns:
        if "domain" in df.columns:  # e.g. t.assign(corpus=t.domain): the fit's own column wins, said when they differ
            # names are compared as they are used (stripped): ' rpj ' under the fit's column and the 'domain' column
            # the first validation made of it ('rpj') warned in every later one (a fresh user)
            differ = df["domain"].astype(str).str.strip() != df[domain_col].astype(str).str.strip()
            if differ.any():
                first = df.index[differ][0]
                warn_caller(f"{what} has both '{domain_col}' (the fit's domain column) and 'domain', which differ "
                            f"({ctx.row(first)}: '{df.loc[first, domain_col]}' vs '{df.loc[first, 'domain']}'); "
                            f"'{domain_col}' is used.", RunsTableWarning)
        df["domain"] = df[domain_col]  # the fit's own domain column; the user's column is kept as well
    cols = list(df.columns)
    size_cols = _size_columns(needs, cols)
    if "flops" in size_cols and "tokens" in needs and "params" not in cols:
        raise RunsTableError(f"{what} has 'flops' but no 'params'{_closest('params', cols)}; tokens are derived as "
                             "flops / (6 params).")
    for col in size_cols:
        if col not in cols:
            hint = _closest(col, cols)
            if col == "tokens":  # with no column like 'tokens', one like 'flops' is the typo ('flop'; a fresh user)
                flops_hint = _closest("flops", cols)
                hint = hint + " (or give 'flops')" if hint or not flops_hint else flops_hint
            raise RunsTableError(f"{what} has no column '{col}'{hint}. " + _columns_found(cols, [col]))
    # a size the law does not read is the user's own column, not checked: a fresh user's targets of a law of N alone
    # carried tokens = 1e3 and were refused as "tokens per parameter or billions of tokens"
    allocation = {"params", "tokens"} <= set(needs)  # a law of N and D: the split between them is a question
    reads_nd = allocation or "flops" in needs  # a law of C reads N and D when both are given: C = 6 N D, as its runs
    unread = set() if reads_nd else {"params", "tokens", "flops"} - set(size_cols)
    for col in [c for c in ("params", "tokens", "flops", "unique_tokens") if c in cols and c not in unread]:
        try:
            s = _to_numeric(df, col, ctx)
        except RunsTableError as exc:  # name the table, as the messages below do
            raise RunsTableError(f"{noun} {exc}" if str(exc).startswith("column '") else str(exc)) from None
        bad = ~np.isfinite(s) | (s <= 0)
        if bad.any():
            first = s.index[bad][0]
            value = str(df[col][first]).strip()
            raise RunsTableError(
                f"{noun} column '{col}', {ctx.row(first)}: "
                + (f"'{value}' is not" if value and value.lower() != "nan" else "the value is missing; it must be")
                + f" a positive finite number; fix or drop that {one}."
                + (f" The same in {_rows(ctx, s.index[bad][1:])}." if bad.sum() > 1 else "")  # runs name them all
            )
        lo = {"params": MIN_PARAMS, "tokens": MIN_TOKENS, "unique_tokens": MIN_TOKENS, "flops": MIN_FLOPS}[col]
        if col == "flops" and {"params", "tokens"} <= set(cols):
            # tokens win (C = 6 N D, _flops_from_tokens): a small model's compute is no unit error. The command line
            # validates the targets twice (expand_targets, then predict), and a fresh user's N = 1e5, D = 1e6 target,
            # which the Python API forecast with a warning, was refused as "'flops', row 0: ... PF-days"
            df[col] = s
            continue
        if s.max() < lo:
            raw_params = "params" in cols and (pd.to_numeric(df["params"], errors="coerce") > MIN_PARAMS).all()
            if col == "tokens" and raw_params:  # as validate_runs: raw parameter counts next to small token numbers
                looks, fix = _small_tokens_advice(s, pd.to_numeric(df["params"], errors="coerce"))
                raise RunsTableError(f"{noun} column 'tokens' looks like {looks} (largest value {s.max():g}); {fix}")
            looks, fix = _TARGET_UNIT_HINTS.get(col, _TARGET_UNIT_HINTS["params"])
            raise RunsTableError(f"{noun} column '{col}' looks like it is in {looks} (largest value {s.max():g}); {fix}.")
        if (s < lo).any():
            first = s.index[s < lo][0]
            looks, fix = _TARGET_UNIT_HINTS.get(col, _TARGET_UNIT_HINTS["params"])
            raise RunsTableError(
                f"{noun} column '{col}', {ctx.row(first)}: {s[first]:g} is below {lo:g} while other rows are raw "
                f"counts; it looks like {looks}. {fix[0].upper() + fix[1:]}."
            )
        df[col] = s
    with np.errstate(over="ignore", under="ignore"):
        if "tokens" in needs and "tokens" not in cols:
            df["tokens"] = df["flops"] / (6.0 * df["params"])
        if "params" in df and "tokens" in df and "flops" not in cols and reads_nd:
            df["flops"] = 6.0 * df["params"] * df["tokens"]
        if {"params", "tokens", "flops"} <= set(cols) and reads_nd:  # as validate_runs: tokens win, C = 6 N D
            _flops_from_tokens(df, ctx, f"{noun}: ")
    _check_derived(df, ctx, noun)
    if "tokens" in df and "tokens" not in cols and (df["tokens"] < MIN_TOKENS).any():
        first = df.index[df["tokens"] < MIN_TOKENS][0]
        raise RunsTableError(
            f"{noun} {ctx.row(first)}: flops / (6 params) gives {df.loc[first, 'tokens']:g} tokens, below "
            f"{MIN_TOKENS:g}; check that 'flops' is in FLOPs (not PF-days) and 'params' is a raw count."
        )
    # after the derived-token check: flops in GFLOPs gave D = 180 tokens, blamed on 'unique_tokens' (a fresh user)
    if "unique_tokens" in df and "tokens" in df:
        _check_unique_tokens(df, ctx, f"{noun} ", f" (a {one} repeats data, it cannot skip it): lower U or raise D.")
    # FLOPs typed into 'tokens' ranked a 7B candidate first with an expected gap of 432 nats (a fresh user); the
    # allocation is a question for a law of N and D only (as validate_runs)
    if allocation:
        if "tokens" in cols:
            _refuse_flops_as_tokens(df, f"{noun}: column 'tokens'")
            if len(df) > 1:  # one far target (1e15 parameters on 2e11 tokens) is a question, not a swap
                _refuse_swapped_sizes(df, f"{noun}: columns 'params' and 'tokens'")
        message, _ = _implausible_allocation(df, ctx, one, derived="tokens" not in cols)
        if message:
            warn_caller(f"{noun}: {message}", RunsTableWarning)
    if "domain" in cols:
        # an empty cell means "no domain given": the --domain option or the fit's default domain is used
        dom = df["domain"].where(df["domain"].notna(), "").astype(str).str.strip()
        df["domain"] = pd.Series([d if d else None for d in dom], index=df.index, dtype=object)
        if domains is not None:  # an unseen name is a new domain; one close to a fitted name is likely a typo
            for name in pd.unique(df["domain"].dropna()):
                first = df.index[df["domain"] == name][0]
                note = unseen_domain_note(name, domains, f"{noun} domain '{name}' ({ctx.row(first)})")
                if note:
                    warn_caller(note, RunsTableWarning)
    else:
        df["domain"] = None
    return df
