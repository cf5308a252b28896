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


def test_embedded_runs_finds_copies_of_an_embedded_set_rounded_or_compute_only_and_nothing_else():
    # two matchers (backtest: N, D to 1e-6; inputs: loss and sizes in buckets of 1e-3) disagreed on the same table: a
    # copy rounded to 3 significant digits was "seen" by one and not by the other
    chin = bs.datasets.load_chinchilla()
    rounded = chin[["params", "tokens", "loss"]].apply(lambda c: c.map(lambda v: float(f"{v:.3g}")))
    assert bs.datasets.embedded_runs(chin, "chinchilla").all()
    assert bs.datasets.embedded_runs(rounded, "chinchilla").sum() == 245
    assert bs.datasets.embedded_runs(chin[["flops", "loss"]], "chinchilla").sum() == 245  # C alone
    assert bs.datasets.embedded_runs(chin[["params", "tokens"]], "chinchilla").sum() == 245  # no loss column
    assert not bs.datasets.embedded_runs(chin.assign(loss=chin["loss"] * 1.02), "chinchilla").any()  # other runs
    # 1 % off is another run too, but for one: two runs at N = 6.7956e9 lie within 1 % of each other in N, D and loss
    assert bs.datasets.embedded_runs(chin.assign(loss=chin["loss"] * 1.01), "chinchilla").sum() == 1
    assert not bs.datasets.embedded_runs(chin.assign(params=chin["params"] * 1.01), "chinchilla").any()
    assert not bs.datasets.embedded_runs(chin, "datablations").any()
    assert not bs.datasets.embedded_runs(chin, "no such set").any()
    assert not bs.datasets.embedded_runs(chin[["loss"]], "chinchilla").any()  # no size column
    mixed = chin.head(3).assign(params=[chin["params"].iloc[0], 0.0, np.nan])  # an invalid size is not a match
    assert bs.datasets.embedded_runs(mixed, "chinchilla").tolist() == [True, False, False]
