"""bayes_scaling.inference: sampler settings, their defaults by model shape,
the compile cache and the scoped silencing of library noise around sampling (real sampling: test_fit.py)."""

from __future__ import annotations

import pytest

from bayes_scaling.inference import SamplerConfig
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


def test_low_rank_regularisation_follows_the_model_size_unless_set():
    from bayes_scaling.inference import LARGE_MODEL_DIM, MASS_MATRIX_GAMMA, adaptation_options, mass_matrix_gamma

    assert mass_matrix_gamma(SamplerConfig(), LARGE_MODEL_DIM + 1) == MASS_MATRIX_GAMMA == 1e-3
    assert mass_matrix_gamma(SamplerConfig(), LARGE_MODEL_DIM) == 1e-5  # nutpie's own default for small models
    assert mass_matrix_gamma(SamplerConfig(mass_matrix_gamma=0.02), 5) == 0.02
    assert SamplerConfig().to_dict()["mass_matrix_gamma"] is None
    assert adaptation_options(SamplerConfig(), 346) == {"adaptation": "low_rank", "mass_matrix_gamma": 1e-3}
    assert adaptation_options(SamplerConfig(adaptation="diag", mass_matrix_gamma=0.02), 346) == {"adaptation": "diag"}
    with pytest.raises(ValueError, match=r"SamplerConfig.mass_matrix_gamma must be a positive number or None \(by model "
                                         r"size\), got -1.0."):
        SamplerConfig(mass_matrix_gamma=-1.0)
