"""bayes_scaling.datasets: the embedded public runs load with their documented sizes, columns and citations."""

from __future__ import annotations

import warnings

import numpy as np

import bayes_scaling as bs


def test_chinchilla_runs():
    runs = bs.datasets.load_chinchilla()
    assert len(runs) == 245 and {"params", "tokens", "flops", "loss"} <= set(runs)
    np.testing.assert_allclose(runs["flops"], 6 * runs["params"] * runs["tokens"], rtol=0.05)
    assert "Besiroglu" in runs.attrs["citation"] and bs.datasets.citation("chinchilla") == runs.attrs["citation"]


def test_openlm_transfer_split_is_four_small_runs_per_domain_and_the_large_ones_held_out():
    train, heldout = bs.datasets.openlm_transfer_split()
    assert train["domain"].nunique() == heldout["domain"].nunique() == 24
    assert (train.groupby("domain").size() == 4).all() and train["params"].max() <= 1.6e8
    assert set(np.round(heldout["params"] / 1e9, 1)) == {1.4, 6.9}
    assert len(heldout) == 72


def test_other_embedded_sets_validate():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bs.RunsTableWarning)  # a few real runs outside the usual tokens per parameter
        dc = bs.validate_runs(bs.datasets.load_datablations(), informative_prior=True)
        routing = bs.validate_runs(bs.datasets.load_routing(), informative_prior=True, needs=("params",))
    assert len(dc) == len(bs.datasets.load_datablations()) > 10 and "unique_tokens" in dc
    assert len(routing) == len(bs.datasets.load_routing()) > 3
