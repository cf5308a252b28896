"""bayes_scaling.inference: sampler settings, their defaults by model shape, the Laplace preconditioner,
the compile cache and the scoped silencing of library noise around sampling (real sampling: test_fit.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import bayes_scaling as bs
from bayes_scaling.inference import SamplerConfig, laplace_precondition
from bayes_scaling.laws import get_law
from bayes_scaling.model import Structure


@pytest.mark.parametrize(
    "kw, message",
    [
        ({"target_accept": 0}, "SamplerConfig.target_accept must be between 0 and 1 (exclusive), got 0; "
                               "0.9 is the default, 0.95-0.99 for divergences."),
        ({"target_accept": 1.2}, "SamplerConfig.target_accept must be between 0 and 1 (exclusive), got 1.2; "
                                 "0.9 is the default, 0.95-0.99 for divergences."),
        ({"draws": 0}, "SamplerConfig.draws must be a positive integer, got 0."),
        ({"chains": 2.5}, "SamplerConfig.chains must be a positive integer, got 2.5."),
        ({"sampler": "stan"}, "SamplerConfig.sampler must be 'nutpie' or 'pymc', got 'stan'."),
    ],
)
def test_sampler_config_rejects_bad_settings(kw, message):
    with pytest.raises(ValueError) as err:
        SamplerConfig(**kw)
    assert str(err.value) == message


def test_sampler_defaults_depend_on_the_model_shape_and_explicit_values_win():
    one = Structure("chinchilla", 1)
    many = Structure("chinchilla", 24, hierarchical=True)
    assert (SamplerConfig().resolved(one).tune, SamplerConfig().resolved(one).max_treedepth) == (300, 6)
    assert (SamplerConfig().resolved(many).tune, SamplerConfig().resolved(many).max_treedepth) == (1000, 10)
    cfg = SamplerConfig(tune=50, max_treedepth=8).resolved(one)
    assert (cfg.tune, cfg.max_treedepth, cfg.draws) == (50, 8, 1000)
    with pytest.raises(ValueError, match=r"^SamplerConfig.max_treedepth must be a positive integer, got 0\.$"):
        SamplerConfig(max_treedepth=0)


def test_laplace_preconditioner_recovers_the_law_and_its_scale():
    """On 60 runs simulated from the Chinchilla law (1 % noise), the Laplace centre is within 2.5 of its
    own standard deviations of the truth, and no preconditioner is built from too few runs."""
    law = get_law("chinchilla")
    rng = np.random.default_rng(11)
    n = np.exp(rng.uniform(np.log(5e7), np.log(1e10), 60))
    d = n * np.exp(rng.uniform(np.log(5), np.log(200), 60))
    loss = bs.laws.chinchilla_loss(n, d, E=1.8, A=480.0, B=2000.0, alpha=0.35, beta=0.37)
    runs = pd.DataFrame({"params": n, "tokens": d, "loss": loss * np.exp(rng.normal(0, 0.01, n.size))})
    ref = law.reference(runs)
    x = law.inputs(runs, ref)
    y = np.log(runs["loss"].to_numpy())
    m, sd = law.weak_prior(runs)
    mean, chol = laplace_precondition(law, x, y, m, np.diag(sd**2))
    truth = law.from_catalog({"logA": np.log(480.0), "logB": np.log(2000.0), "logE": np.log(1.8),
                              "alpha": 0.35, "beta": 0.37}, ref)
    true = np.array([truth[k] for k in law.theta_names])
    post_sd = np.sqrt(np.diag(chol @ chol.T))
    assert np.all(np.abs(mean - true) < 2.5 * post_sd), (mean, true, post_sd)
    assert np.all(post_sd < 0.5 * sd)  # the data, not the prior, set the scale
    assert laplace_precondition(law, {k: v[:19] for k, v in x.items()}, y[:19], m, np.diag(sd**2)) is None
