"""Floor 0. Wording shared by error messages and warnings: the closest known name to one that is not known.

Every "did you mean ...?" of the package (columns, domains, cost keys, priors, tasks) comes from here, so a
misspelt name gets the same suggestion, worded the same way, wherever it is typed.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = ["CLOSE_ENOUGH", "closest_name", "did_you_mean", "listed"]

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
    match = difflib.get_close_matches(str(name), [str(k) for k in known], n=1, cutoff=cutoff)
    return match[0] if match else None


def did_you_mean(name, known: Iterable, cutoff: float = CLOSE_ENOUGH, contains: bool = False) -> str:
    """``"did you mean 'x'?"`` for the closest known name (:func:`closest_name`), or ``""`` when none is close.

    With ``contains=True``, a name that is no near-typo of any known name but is part of some (``rpj`` of
    ``rpj/c4_val``, ignoring case) gets those names, at most three: ``"did you mean 'rpj/c4_val' or 'rpj/ptb'?"``.
    """
    known = [str(k) for k in known]
    match = closest_name(name, known, cutoff)
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
