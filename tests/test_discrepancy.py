"""bayes_scaling.discrepancy: when the term is used, its basis is orthogonal to the law's Jacobian (it cannot
absorb a change of the law's parameters), the forecast taper, and the basis round trip through a saved fit."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import synthetic_runs

from bayes_scaling.discrepancy import MIN_RUNS, TAPER_END, DiscrepancyBasis, robust_point_fit, wants_discrepancy
from bayes_scaling.laws import get_law

LAW = get_law("chinchilla")


@pytest.fixture(scope="module")
def domain():
    runs = synthetic_runs(n_sizes=8, ratios=(5, 10, 20, 40, 80, 200))
    ref = LAW.reference(runs)
    x = LAW.inputs(runs, ref)
    y = np.log(runs["loss"].to_numpy())
    m, sd = LAW.weak_prior(runs)
    return x, y, m, sd, DiscrepancyBasis.build(LAW, x, y, m, sd)


def test_term_is_used_for_many_runs_over_a_decade(domain):
    x, *_ = domain
    assert len(x["params"]) == 48 >= MIN_RUNS and wants_discrepancy(x, LAW)
    assert not wants_discrepancy({k: v[:MIN_RUNS - 1] for k, v in x.items()}, LAW)
    narrow = {k: v * 0.3 for k, v in x.items()}  # less than one decade in N and D
    assert not wants_discrepancy(narrow, LAW)


def test_basis_is_orthogonal_to_the_law_jacobian(domain):
    x, y, m, sd, basis = domain
    theta0, sigma, nu = robust_point_fit(LAW, x, y, m, sd)
    np.testing.assert_allclose(basis.theta0, theta0)
    jac = np.empty((len(y), len(theta0)))
    for j in range(len(theta0)):
        h = 1e-6
        up, dn = theta0.copy(), theta0.copy()
        up[j] += h
        dn[j] -= h
        jac[:, j] = (LAW.log_loss(x, dict(zip(LAW.theta_names, up, strict=True)))
                     - LAW.log_loss(x, dict(zip(LAW.theta_names, dn, strict=True)))) / (2 * h)
    r = y - LAW.log_loss(x, dict(zip(LAW.theta_names, theta0, strict=True)))
    w = (nu + 1.0) / (nu + (r / sigma) ** 2)  # the Student-t weights of the conditioning
    psi = basis.psi(LAW, x)
    cross = (jac.T * w) @ psi
    assert np.abs(cross).max() < 1e-6 * np.abs(jac.T * w).sum(axis=1).max() * np.abs(psi).max()


def test_taper_is_one_on_the_runs_and_zero_beyond_its_end(domain):
    x, *_, basis = domain
    np.testing.assert_allclose(basis.taper(x), 1.0)
    far = {v: np.array([c + TAPER_END * h * 1.01]) for v, c, h in zip(basis.variables, basis.centre, basis.half_range,
                                                                      strict=True)}
    assert basis.taper(far)[0] == pytest.approx(0.0, abs=1e-12)
    mid = {v: np.array([c + 0.5 * (1 + TAPER_END) * h]) for v, c, h in zip(basis.variables, basis.centre,
                                                                          basis.half_range, strict=True)}
    assert basis.taper(mid)[0] == pytest.approx(0.5)


def test_basis_round_trips_through_json(domain):
    *_, basis = domain
    back = DiscrepancyBasis.from_dict(basis.to_dict())
    x = {"params": np.array([0.1, -0.5]), "tokens": np.array([0.3, 1.0])}
    np.testing.assert_array_equal(back.psi(LAW, x), basis.psi(LAW, x))
    assert back.n_basis == basis.n_basis == 36
