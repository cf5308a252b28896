"""bayes_scaling.extrapolation: the distance beyond the runs, the catalog of learned priors and the draws of the
model-form error (their use in forecasts: test_predict.py; the learning: benchmarks/learn_extrapolation.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bayes_scaling.extrapolation import (
    NO_EXTRAPOLATION_ERROR,
    ExtrapolationPrior,
    extrapolation_distance,
    get_extrapolation_prior,
    list_extrapolation_priors,
)

RUNS = pd.DataFrame({"params": [1e8, 1e9], "tokens": [2e9, 2e10]})


def test_distance_is_the_largest_number_of_decades_beyond_the_runs():
    targets = pd.DataFrame({"params": [5e8, 1e10, 1e9, 1e11], "tokens": [1e10, 2e10, 2e12, 2e9]})
    # inside; 1 decade in N (and in C); 2 decades in D (and in C); 2 in N, 1 in C
    np.testing.assert_allclose(extrapolation_distance(RUNS, targets), [0.0, 1.0, 2.0, 2.0])
    # compute alone can be beyond while N and D are each inside (an isoFLOP target between the runs' corners)
    corner = pd.DataFrame({"params": [1e9], "tokens": [2e10], "flops": [6 * 1e9 * 2e10 * 10]})
    assert extrapolation_distance(RUNS, corner)[0] == pytest.approx(1.0)
    # a law in one variable: only the columns both tables have count
    assert extrapolation_distance(RUNS[["params"]], pd.DataFrame({"params": [1e11]}))[0] == pytest.approx(2.0)


def test_catalog_names_and_unknown_name():
    names = list_extrapolation_priors()
    assert {"learned", "none"} <= set(names)
    assert get_extrapolation_prior("none") is NO_EXTRAPOLATION_ERROR
    with pytest.raises(ValueError) as err:
        get_extrapolation_prior("bogus")
    assert str(err.value) == f"unknown extrapolation prior 'bogus'; choose one of: {', '.join(sorted(names))}."
    learned = get_extrapolation_prior("learned")
    assert learned.active and learned.learned_from and learned.log_kappa_sd > 0


def test_slopes_are_seeded_and_follow_the_prior():
    prior = ExtrapolationPrior("t", np.log(0.03), 0.4)
    a, b = prior.slopes(40000, 7), prior.slopes(40000, 7)
    np.testing.assert_array_equal(a, b)  # same seed, same draws, in any process (a fixed stream of the seed)
    assert not np.array_equal(a, prior.slopes(40000, 8))
    assert np.median(np.abs(a)) == pytest.approx(0.03 * 0.6745, rel=0.05)  # median |kappa z| ~ kappa_med * 0.674
    q = prior.quantiles_per_decade()
    assert q[0.5] == pytest.approx(0.03) and q[0.05] < 0.03 < q[0.95]
    np.testing.assert_array_equal(NO_EXTRAPOLATION_ERROR.slopes(5, 0), np.zeros(5))
    assert not NO_EXTRAPOLATION_ERROR.active


def test_round_trip_through_a_saved_fit_dict():
    prior = ExtrapolationPrior("learned_without_x", -3.5, 0.8, ("a", "b"), "cite", "how")
    assert ExtrapolationPrior.from_dict(prior.to_dict()) == prior
    back = ExtrapolationPrior.from_dict(NO_EXTRAPOLATION_ERROR.to_dict())
    assert back.name == "none" and not back.active
