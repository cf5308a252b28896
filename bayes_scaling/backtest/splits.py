"""Floor 3. How a backtest splits runs into fitting and held-out runs: :class:`Split`.

A scale cutoff (fit below ``cutoff`` in ``params``, ``tokens`` or ``flops``, score the
rest), the k smallest runs of each domain, or a given (train, heldout) pair.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..data import RunsTableError

__all__ = ["Split", "normalise_splits", "SIZE_VARIABLES"]

#: Size variables a split can use.
SIZE_VARIABLES = ("params", "tokens", "flops")


@dataclass(frozen=True)
class Split:
    """How to split runs into fitting and held-out runs.

    Use :meth:`cutoff` or :meth:`smallest`, or pass ``(train, heldout)``
    DataFrames directly to :func:`backtest`.

    Attributes
    ----------
    kind : {"cutoff", "smallest"}
    by : {"params", "tokens", "flops"}
    value : float
        The cutoff (``cutoff``) or k (``smallest``).
    """

    kind: str
    by: str
    value: float

    def __post_init__(self):
        if self.kind not in ("cutoff", "smallest"):
            raise ValueError(f"split kind must be 'cutoff' or 'smallest', not '{self.kind}'.")
        if self.by not in SIZE_VARIABLES:
            raise ValueError(f"split by must be one of {', '.join(SIZE_VARIABLES)}, not '{self.by}'.")
        if self.kind == "cutoff" and not (np.isfinite(self.value) and self.value > 0):
            raise ValueError(f"cutoff must be a positive number, got {self.value}.")
        if self.kind == "smallest" and (int(self.value) != self.value or self.value < 1):
            raise ValueError(f"k (runs kept per domain) must be a positive integer, got {self.value}.")

    @classmethod
    def cutoff(cls, by: str, value: float) -> Split:
        """Fit on runs with ``by < value``, score runs with ``by >= value``.

        Parameters
        ----------
        by : {"params", "tokens", "flops"}
        value : float
            Cutoff in raw counts (FLOPs for ``flops``).
        """
        return cls("cutoff", by, float(value))

    @classmethod
    def smallest(cls, k: int, by: str = "flops") -> Split:
        """Fit on the k smallest runs of each domain (by ``by``; ties by order), score the rest."""
        return cls("smallest", by, int(k))

    @property
    def label(self) -> str:
        """Short description, e.g. ``flops<1e+21`` or ``4 smallest by flops``."""
        if self.kind == "cutoff":
            return f"{self.by}<{self.value:g}"
        return f"{int(self.value)} smallest by {self.by}"

    def _other_size(self, runs: pd.DataFrame) -> str:
        """", or split by 'params' (--split-by params), whose runs span the cutoff" when the cutoff splits the runs of
        another size column ('' if none): a fresh user's `backtest chinchilla --cutoff 2e9` meant parameters."""
        for col in SIZE_VARIABLES:
            if col != self.by and col in runs:
                w = runs[col].to_numpy(float)
                w = w[np.isfinite(w)]
                if w.size and w.min() < self.value <= w.max():
                    return (f", or split by '{col}' (--split-by {col}), whose runs ({w.min():.3g} to {w.max():.3g}) "
                            "the cutoff would split")
        return ""

    def apply(self, runs: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Split validated runs.

        Returns
        -------
        (train, heldout) : tuple of pandas.DataFrame

        Raises
        ------
        RunsTableError
            When no run is left to fit or none to score.
        """
        v = runs[self.by].to_numpy(float)
        if self.kind == "cutoff":
            train_mask = v < self.value
            if not train_mask.any():
                raise RunsTableError(
                    f"cutoff {self.by} < {self.value:g} leaves no runs to fit (the smallest run has "
                    f"{self.by} = {v.min():g}); raise the cutoff{self._other_size(runs)}."
                )
            if train_mask.all():
                raise RunsTableError(
                    f"cutoff {self.by} >= {self.value:g} leaves no runs to score (the largest run has "
                    f"{self.by} = {v.max():g}); lower the cutoff{self._other_size(runs)}."
                )
        else:
            k = int(self.value)
            order = runs.assign(_v=v, _pos=np.arange(len(runs))).sort_values(["domain", "_v", "_pos"], kind="stable")
            keep = order.groupby("domain", sort=False).head(k)["_pos"].to_numpy()
            train_mask = np.zeros(len(runs), bool)
            train_mask[keep] = True
            if train_mask.all():
                raise RunsTableError(
                    f"keeping the {k} smallest runs of each domain leaves no runs to score "
                    f"(the largest domain has {runs['domain'].value_counts().max()} runs); lower k."
                )
        return runs[train_mask], runs[~train_mask]


def normalise_splits(split) -> list[tuple[str, pd.DataFrame | None, pd.DataFrame | None, Split | None]]:
    """The ``split`` argument of :func:`bayes_scaling.backtest.backtest` as a list of ``(label, train, heldout, Split)``.

    Raises
    ------
    ValueError
        For anything that is not a split, a (train, heldout) pair, or a list of these.
    """
    if isinstance(split, Split):
        return [(split.label, None, None, split)]
    if isinstance(split, tuple) and len(split) == 2 and all(isinstance(s, pd.DataFrame) for s in split):
        return [("given", split[0], split[1], None)]
    if isinstance(split, Mapping):
        if "cutoff" in split:
            return [(None, None, None, Split.cutoff(split.get("by", "flops"), split["cutoff"]))]
        if "k" in split:
            return [(None, None, None, Split.smallest(split["k"], split.get("by", "flops")))]
        raise ValueError("a split dict needs 'cutoff' (with 'by') or 'k' (with 'by').")
    if isinstance(split, tuple) and len(split) == 2 and isinstance(split[0], str):
        return [(None, None, None, Split.cutoff(split[0], split[1]))]
    if isinstance(split, Sequence) and not isinstance(split, str):
        out = []
        for i, s in enumerate(split):
            for lab, tr, te, sp in normalise_splits(s):
                out.append((lab if lab != "given" else f"given{i}", tr, te, sp))
        if not out:
            raise ValueError("split is an empty list; give at least one split.")
        return out
    raise ValueError(
        "split must be a Split (Split.cutoff('flops', 1e21) or Split.smallest(4)), a ('flops', 1e21) tuple, "
        "a dict {'by': 'flops', 'cutoff': 1e21}, a (train, heldout) pair of DataFrames, or a list of these."
    )
