"""Floor 0. Wording shared by error messages and warnings: the closest known name to one that is not known, and
sizes written as people read them (7B, 1.4T, 1e21 FLOPs).

Every "did you mean ...?" of the package (columns, domains, cost keys, priors, tasks) comes from here, so a
misspelt name gets the same suggestion, worded the same way, wherever it is typed.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable

import numpy as np

__all__ = ["CLOSE_ENOUGH", "closest_name", "did_you_mean", "listed", "format_count", "format_flops", "format_span",
           "tokens_per_param_text"]

#: Similarity (``difflib.SequenceMatcher.ratio``) a known name needs to be suggested: difflib's own default.
#: Places where a miss is not an error but means something else (a ``--domain`` the fit does not have is a new
#: domain) ask for 0.8, so that only a near-typo is questioned.
CLOSE_ENOUGH = 0.6


def closest_name(name, known: Iterable, cutoff: float = CLOSE_ENOUGH) -> str | None:
    """The known name closest to ``name`` (as text), or None when none has similarity ``cutoff`` or more.

    Parameters
    ----------
    name : object
        The name that is not known (compared as ``str``).
    known : iterable
        The names that are known (compared as ``str``; order breaks ties).
    cutoff : float, default :data:`CLOSE_ENOUGH`
        In [0, 1].
    """
    known = [str(k) for k in known]
    # a name that differs only in case ('HellaSwag' for 'hellaswag') is the closest, however short (difflib's ratio
    # is case-sensitive: it did not suggest 'hellaswag' for 'HellaSwag'; a fresh user)
    same = [k for k in known if k.lower() == str(name).strip().lower() and k != str(name)]
    if same:
        return same[0]
    match = difflib.get_close_matches(str(name), known, n=1, cutoff=cutoff)
    return match[0] if match else None


def did_you_mean(name, known: Iterable, cutoff: float = CLOSE_ENOUGH, contains: bool = False) -> str:
    """``"did you mean 'x'?"`` for the closest known name (:func:`closest_name`), or ``""`` when none is close.

    With ``contains=True``, a name that is no near-typo of any known name but is part of some (``rpj`` of
    ``rpj/c4_val``, ignoring case) gets those names, at most three: ``"did you mean 'rpj/c4_val' or 'rpj/ptb'?"``;
    and a known name that is a whole word of the name (``rpj`` of ``rpj_original``) comes first, before the closest
    spelling (a fresh user's ``rpj_original`` was asked "did you mean 'rw_original'?" beside a domain ``rpj``).
    """
    known = [str(k) for k in known]
    match = closest_name(name, known, cutoff)
    words = {w for w in re.split(r"[^0-9a-z]+", str(name).strip().lower()) if w} if contains else set()
    whole = [k for k in known if k.lower() in words and k != str(name)][:2]
    if whole:
        names = dict.fromkeys([*whole, *([match] if match else [])])
        return "did you mean " + " or ".join(repr(k) for k in names) + "?"
    if match is not None:
        return f"did you mean '{match}'?"
    part = [k for k in known if contains and str(name).strip() and str(name).strip().lower() in k.lower()][:3]
    return f"did you mean {' or '.join(repr(k) for k in part)}?" if part else ""


def listed(items: Iterable[str], most: int, sep: str = ", ") -> str:
    """The first ``most`` of ``items`` joined by ``sep``, then "and N more" for the rest: "'a', 'b' and 3 more".

    Parameters
    ----------
    items : iterable of str
        Already worded (quoted, with row numbers, ...).
    most : int
        How many to show.
    sep : str, default ", "
    """
    items = list(items)
    return sep.join(items[:most]) + (f" and {len(items) - most} more" if len(items) > most else "")


def format_span(values) -> str:
    """``"lo-hi"`` of some values at 3 significant digits, or one value when both ends read the same ("20", not
    "20-20").

    Parameters
    ----------
    values : array-like of float
        Non-empty.
    """
    v = np.asarray(values, float)
    lo, hi = f"{np.min(v):.3g}", f"{np.max(v):.3g}"
    return lo if lo == hi else f"{lo}-{hi}"


def format_count(v: float, _pos=None) -> str:
    """Format a count as 10M, 1B, 1.5T (for N and D); 1e15 and above in powers of ten (:func:`format_flops`).

    The value is rounded to three significant digits before the unit is chosen, so
    999.7e9 reads ``1T`` (not ``1e+03B``). Empty for non-positive or non-finite values.
    """
    if not np.isfinite(v) or v <= 0:
        return ""
    r = float(f"{v:.3g}")
    if r >= 1e15:
        return format_flops(r)
    for unit, div in (("T", 1e12), ("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if r >= div:
            return f"{r / div:.3g}{unit}"
    return f"{r:.3g}"


def format_flops(v: float, _pos=None, digits: int = 2) -> str:
    """Format FLOPs as 1e21, 5.9e23 (``digits`` significant digits); empty for non-positive or non-finite values."""
    if not np.isfinite(v) or v <= 0:
        return ""
    e = int(np.floor(np.log10(v) + 1e-9))
    m = float(f"{v / 10**e:.{digits}g}")
    if m >= 10:  # 9.96e22 rounds to 1e23
        e, m = e + 1, m / 10
    return f"1e{e}" if abs(m - 1) < 1e-9 else f"{m:.{digits}g}e{e}"


def tokens_per_param_text(ratio: float) -> str:
    """A number of tokens per parameter in words: "1 token per parameter", "2.5 tokens per parameter".

    Parameters
    ----------
    ratio : float
        Tokens per parameter (D / N).
    """
    return f"{ratio:g} token{'' if ratio == 1 else 's'} per parameter"
