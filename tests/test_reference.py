"""bayes_scaling.reference: a reference domain's own posterior as a normal summary at the joint fit's reference
scales, fitted once per process (the nested fit is replaced by a fake posterior here)."""

from __future__ import annotations

import numpy as np
import pytest

import bayes_scaling as bs
import bayes_scaling.fit as fit_module
from bayes_scaling.model import SPARSE_NU
from bayes_scaling.reference import clear_reference_cache, reference_summary


def test_summary_is_the_reference_posterior_at_the_joint_scales(fake_fit, monkeypatch):
    specs = []

    def fake(self, runs, **kw):
        specs.append((self, kw))
        return fake_fit

    monkeypatch.setattr(fit_module.ScalingLaw, "fit", fake)
    clear_reference_cache()
    spec = bs.ScalingLaw(prior="besiroglu2024", discrepancy="none", widen=3.0,
                         sampler=bs.SamplerConfig(draws=8000, tune=2000))
    refs = {"params": fake_fit.refs["params"] + 1.0, "tokens": fake_fit.refs["tokens"] - 0.5}  # another centre
    mean, cov, sigma, nu = reference_summary(spec, fake_fit.runs, refs)
    alone, kw = specs[0]
    # the reference runs are fitted alone: weak prior, default sampler settings, same law and likelihood
    assert alone.prior.name == "weak" and alone.prior.widen_factor == 1.0 and kw == {"random_seed": 0}
    assert alone.sampler == bs.SamplerConfig() and alone.discrepancy == "none"
    law = fake_fit.law
    cat = law.to_catalog(fake_fit.theta_dict(fake_fit.theta("default")), fake_fit.refs)
    th = law.from_catalog(cat, refs)
    draws = law.z_matrix(np.column_stack([th[k] for k in law.theta_names]))  # in sampling coordinates
    np.testing.assert_allclose(mean, draws.mean(0))
    np.testing.assert_allclose(cov, np.cov(draws, rowvar=False), atol=1e-9)
    assert sigma == pytest.approx(float(np.median(fake_fit.noise_scale("default"))))
    assert nu == SPARSE_NU
    # cached: the same runs are not fitted again in this process
    reference_summary(spec, fake_fit.runs, refs)
    assert len(specs) == 1
    clear_reference_cache()
    reference_summary(spec, fake_fit.runs, refs)
    assert len(specs) == 2
    clear_reference_cache()
