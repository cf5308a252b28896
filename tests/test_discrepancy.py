"""bayes_scaling.discrepancy: when the term is used, its basis is orthogonal to the law's Jacobian (it cannot
absorb a change of the law's parameters), the edge hold of forecasts beyond the runs, and the basis round trip through a saved fit."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import synthetic_runs

from bayes_scaling.discrepancy import MIN_RUNS, DiscrepancyBasis, robust_point_fit, wants_discrepancy
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


def test_beyond_the_runs_the_inputs_are_held_on_the_edge_of_their_box(domain):
    x, *_, basis = domain
    inside = basis.clip_to_runs(x)
    for v in basis.variables:
        np.testing.assert_array_equal(inside[v], x[v])  # the runs lie in their box
    far = {v: np.array([c + 3.0 * h, c - 0.5 * h]) for v, c, h in zip(basis.variables, basis.centre, basis.half_range,
                                                                       strict=True)}
    held = basis.clip_to_runs(far)
    for v, c, h in zip(basis.variables, basis.centre, basis.half_range, strict=True):
        np.testing.assert_allclose(held[v], [c + h, c - 0.5 * h])  # beyond: the edge; inside: unchanged


def test_basis_round_trips_through_json(domain):
    *_, basis = domain
    back = DiscrepancyBasis.from_dict(basis.to_dict())
    x = {"params": np.array([0.1, -0.5]), "tokens": np.array([0.3, 1.0])}
    np.testing.assert_array_equal(back.psi(LAW, x), basis.psi(LAW, x))
    assert back.n_basis == basis.n_basis == 36


def test_basis_functions_are_the_products_of_each_dimensions_sines(domain):
    # phi computes each dimension's sines once and multiplies them (a third of the report's time went to one sine per
    # basis function and dimension); column k must stay the product for multi-index indices[k], in that order
    from bayes_scaling.discrepancy import BOX, CLIP

    x, *_, basis = domain
    u = np.stack([(x[v] - c) / h for v, c, h in zip(basis.variables, basis.centre, basis.half_range, strict=True)], -1)
    u = np.clip(u, -CLIP * BOX, CLIP * BOX)
    phi = basis.phi(x)
    assert phi.shape == (48, basis.n_basis) == (48, 36)
    for k in (0, 1, 6, 35):
        j = basis.indices[k]
        want = np.prod(np.sqrt(1.0 / BOX) * np.sin(np.pi * j * (u + BOX) / (2 * BOX)), axis=1)
        np.testing.assert_allclose(phi[:, k], want, rtol=1e-12, atol=1e-15)


def test_the_robust_point_fit_overflows_silently():
    # a fresh user's eight isoFLOP recipes (Porian et al. 2024, fitted to 1.6e18 FLOPs) printed "overflow encountered
    # in exp" and two "invalid value" warnings from the optimiser's steps before the fit began
    import warnings
    from pathlib import Path

    import pandas as pd

    import bayes_scaling as bs
    from bayes_scaling.inputs import build_inputs

    raw = pd.read_csv(Path(__file__).parents[1] / "benchmarks" / "data" / "porian2024_isoflop_recipes.csv")
    raw = raw[(raw["param_count"] == "standard") & (raw["loss_kind"] == "val") & (raw["flops"] <= 1.6e18)]
    runs = pd.DataFrame({"recipe": raw["dataset"] + "/" + raw["hparams"] + "_" + raw["warmup"] + "_" + raw["decay"],
                         "params": raw["params"], "tokens": raw["tokens"], "loss": raw["loss"]})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        warnings.simplefilter("error", RuntimeWarning)
        inputs = build_inputs(bs.ScalingLaw(domain_col="recipe"), runs)
    assert len(inputs.bases) == 8  # every recipe has the term, so each ran the point fit
