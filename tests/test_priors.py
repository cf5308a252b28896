"""bayes_scaling.priors: the catalog, its messages, and the prior's round trip through a saved fit."""

from __future__ import annotations

import numpy as np
import pytest

from bayes_scaling.laws import get_law
from bayes_scaling.priors import PriorSpec, get_prior, list_priors


def test_unknown_prior_suggests_the_closest_name_of_the_law():
    with pytest.raises(ValueError) as e:
        get_prior("besiroglu2023")
    assert str(e.value) == (
        "unknown prior 'besiroglu2023'; did you mean 'besiroglu2024'? the chinchilla law has: "
        "besiroglu2024, hoffmann2022, weak."
    )


def test_catalog_names_the_priors_of_each_law():
    assert list_priors("chinchilla") == ["besiroglu2024", "hoffmann2022", "weak"]
    assert "kaplan2020" in list_priors() and "muennighoff2023" in list_priors()


def test_to_dict_round_trip_keeps_every_field_and_the_saved_key():
    for name, law in (("besiroglu2024", "chinchilla"), ("besiroglu2024_params", "power_params"), ("weak", "chinchilla")):
        spec = get_prior(name, law=law, widen=2.0)
        d = spec.to_dict()
        assert "weak_params" in d  # the key of saved fits (format 2) is kept
        back = PriorSpec.from_dict(d)
        assert back.name == spec.name and back.weak_names == spec.weak_names and back.widen_factor == 2.0
        if spec.cov is None:
            assert back.cov is None
        else:
            np.testing.assert_array_equal(back.cov, spec.cov)


def test_besiroglu_prior_centre_is_the_published_point_estimate():
    """A = 482.0, B = 2085.4, E = 1.817, alpha = 0.3478, beta = 0.3658 (Besiroglu et al. 2024, cells 24-25)."""
    spec = get_prior("besiroglu2024")
    law = get_law("chinchilla")
    assert tuple(spec.mean) == law.catalog_names
    m = spec.mean
    np.testing.assert_allclose([np.exp(m["logA"]), np.exp(m["logB"]), np.exp(m["logE"]), m["alpha"], m["beta"]],
                               [482.0, 2085.4, 1.817, 0.3478, 0.3658], rtol=1e-3)
    assert [r["parameter"] for r in spec.table()] == list(law.catalog_names)
    wide = spec.widen(3.0)
    np.testing.assert_allclose([r["sd"] for r in wide.table()], [3 * r["sd"] for r in spec.table()])
    with pytest.raises(ValueError, match="widen factor must be positive"):
        spec.widen(0)
