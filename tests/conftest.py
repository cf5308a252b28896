"""Shared fixtures.

Real fits are session-scoped so each model shape is compiled once per test run;
they are marked ``slow`` by the tests that use them (and run in CI).
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

import bayes_scaling as bs  # noqa: E402
from bayes_scaling.inference import SamplerConfig  # noqa: E402

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    import matplotlib.pyplot as plt

    plt.close("all")


@pytest.fixture(scope="session")
def chinchilla():
    return bs.datasets.load_chinchilla()


def _quiet_fit(law, runs, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bs.RunsTableWarning)
        return law.fit(runs, **kw)


@pytest.fixture(scope="session")
def chinchilla_fit(chinchilla):
    """Weak-prior fit of all 245 Chinchilla runs, default sampler (real nutpie)."""
    return _quiet_fit(bs.ScalingLaw(prior="weak"), chinchilla, random_seed=1)


@pytest.fixture(scope="session")
def chinchilla_split_fit(chinchilla):
    """Fit on runs with C < 1e21 (same model shape as chinchilla_fit: no recompilation)."""
    train = chinchilla[chinchilla["flops"] < 1e21]
    return _quiet_fit(bs.ScalingLaw(prior="weak"), train, random_seed=1)


@pytest.fixture(scope="session")
def small_fit():
    """A quick real fit of synthetic runs from a known law (no discrepancy term), few draws."""
    rng = np.random.default_rng(0)
    n = np.repeat(np.geomspace(5e7, 5e9, 6), 4)
    d = n * np.tile([5, 20, 60, 200], 6)
    law = bs.laws.chinchilla_loss(n, d, E=1.8, A=480.0, B=2000.0, alpha=0.35, beta=0.37)
    loss = law * np.exp(rng.normal(0, 0.004, n.size))
    runs = pd.DataFrame({"params": n, "tokens": d, "loss": loss})
    cfg = SamplerConfig(draws=500, tune=500, chains=4)
    return _quiet_fit(bs.ScalingLaw(prior="weak", discrepancy="none", sampler=cfg), runs, random_seed=3), runs
