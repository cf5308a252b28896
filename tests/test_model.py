"""bayes_scaling.model: the PyMC graph names its variables with the declared names (VARS), and the structure
key round-trips through a saved fit. (Sampling it: test_fit.py, slow.)"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from conftest import synthetic_runs

import bayes_scaling as bs
from bayes_scaling.model import VARS, PosteriorNames, Structure, build_model


def _model(runs, **spec):
    inputs = bs.ScalingLaw(prior="weak", **spec).inputs(runs)
    return inputs, build_model(inputs.structure, inputs.arrays, inputs.refs)


def test_one_domain_graph_uses_the_declared_names():
    inputs, model = _model(synthetic_runs(), discrepancy="none")
    names = set(model.named_vars)
    assert {VARS.w, VARS.population, VARS.theta, VARS.log_sigma, VARS.noise, VARS.tail_weight} <= names
    assert VARS.spread not in names and VARS.z_pop not in names and VARS.population_z not in names
    assert [v.name for v in model.free_RVs] == [VARS.w, VARS.log_sigma]
    assert set(model.named_vars_to_dims[VARS.theta]) == {VARS.domain_dim, VARS.param_dim}
    assert list(model.coords[VARS.param_dim]) == list(bs.get_law("chinchilla").theta_names)


def test_hierarchical_graph_with_a_discrepancy_term_uses_the_declared_names():
    runs = pd.concat([synthetic_runs(n_sizes=8, ratios=(5, 10, 20, 40, 80, 200), domain="big"),
                      synthetic_runs(n_sizes=2, ratios=(10, 40), domain="small", seed=1),
                      synthetic_runs(n_sizes=2, ratios=(10, 40), domain="third", seed=2)], ignore_index=True)
    inputs, model = _model(runs, discrepancy="gp")
    assert inputs.structure.hierarchical and inputs.structure.n_gp >= 1 and inputs.structure.learn_spread
    free = {v.name for v in model.free_RVs}
    assert free <= set(VARS.checked), free - set(VARS.checked)  # every free variable is checked for convergence
    assert {VARS.z_pop, VARS.spread_learned, VARS.z_dom, VARS.noise_centre, VARS.discrepancy_scale,
            VARS.discrepancy_weights} <= free
    assert {VARS.population, VARS.population_z, VARS.spread, VARS.theta, VARS.noise, VARS.tail_weight} <= set(model.named_vars)
    assert list(model.coords[VARS.z_dim]) == list(bs.get_law("chinchilla").z_names)


def test_several_discrepancy_domains_give_each_run_its_own_domains_basis_row():
    runs = pd.concat([synthetic_runs(n_sizes=8, ratios=(5, 10, 20, 40, 80, 200), domain=d, seed=i)
                      for i, d in enumerate(["a", "b"])]
                     + [synthetic_runs(n_sizes=2, ratios=(10, 40), domain="small", seed=2)], ignore_index=True)
    inputs, _ = _model(runs, discrepancy="gp")
    assert inputs.structure.n_gp == 2
    psi, gp_idx, dom_idx = inputs.arrays["psi"], inputs.arrays["gp_idx"], inputs.arrays["dom_idx"]
    assert psi.shape == (len(dom_idx), inputs.structure.n_basis)
    for s, (d, basis) in enumerate(inputs.bases.items()):
        sel = dom_idx == inputs.domains.index(d)
        x = {k: v[sel] for k, v in inputs.arrays.items() if k.startswith("x_")}
        np.testing.assert_array_equal(psi[sel], basis.psi(bs.get_law("chinchilla"), {k[2:]: v for k, v in x.items()}))
        assert (gp_idx[sel] == s).all()
    small = dom_idx == inputs.domains.index("small")
    assert (psi[small] == 0).all() and (gp_idx[small] == 0).all()


def test_names_are_declared_once_and_distinct():
    values = [getattr(VARS, f.name) for f in dataclasses.fields(PosteriorNames)]
    assert len(values) == len(set(values))
    assert VARS.traced == ("theta_pop", "log_sigma", "s_mu", "eta")
    assert VARS.describe(VARS.spread_learned) == "the between-domain spread of the loss level and of the exponent"


def test_structure_round_trips_and_reads_fits_saved_before_summarized_was_recorded():
    st = Structure("chinchilla", 3, n_gp=1, likelihood="student_t", hierarchical=True, rich=(0,), summarized=(2,),
                   learn_spread=False)
    assert Structure.from_dict(st.to_dict()) == st
    old = {k: v for k, v in st.to_dict().items() if k not in ("summarized", "learn_spread")}
    assert Structure.from_dict(old) == dataclasses.replace(st, summarized=(), learn_spread=True)
    assert st.gp_dim == 2 and st.n_basis == 36
    with pytest.raises(KeyError):
        Structure.from_dict({"law": "chinchilla"})
