"""Shared fixtures.

Two kinds of fit:

* **fake fits** (``fake_fit``, ``fake_gp_fit``, ``fake_hier_fit``, ``fake_chinchilla_fit``): the
  real model inputs of a runs table (:meth:`ScalingLaw.inputs`: validation, reference scales,
  discrepancy bases, domain effects) with synthetic posterior draws of a known Chinchilla law
  (E=1.8, A=480, B=2000, alpha=0.35, beta=0.37, small Gaussian jitter per draw), assembled into
  a :class:`~bayes_scaling.ScalingFit` without any sampler. They serve the analysis, plot,
  report and io tests of the quick loop (``pytest tests -m "not slow"``).
* **real fits** (``small_fit``, ``chinchilla_fit``, ``chinchilla_split_fit``): nutpie, session-scoped
  so each model shape is compiled once per test run; every test that uses one is marked ``slow``.

``slow`` also marks tests whose point is a fresh process (a subprocess CLI, a pytest run under another
environment, worker processes) and the full-size runs of the fuzz and property tests (the quick tier runs about
a quarter of their inputs). Tests of a report's text, tables and files use ``unrasterized_figures``.

Fixtures are shared across tests: never modify a fit in place (``dataclasses.replace`` it).
"""

from __future__ import annotations

import warnings

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import xarray as xr  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

import bayes_scaling as bs  # noqa: E402
from bayes_scaling.diagnostics import check_convergence  # noqa: E402
from bayes_scaling.inference import SamplerConfig  # noqa: E402
from bayes_scaling.model import SPARSE_NU, VARS  # noqa: E402
from bayes_scaling.posterior import label_draws  # noqa: E402

# One BLAS thread in the test process: the baselines' L-BFGS-B fits (5 parameters) gain nothing from BLAS threads,
# and on a shared 2-core machine OpenBLAS's spinning threads made one Huber fit of the Chinchilla runs take 4-35 s
# instead of 0.8 s. Subprocesses (the CLI tests) are not affected.
threadpool_limits(limits=1, user_api="blas")

#: The known law of the synthetic runs and draws (Chinchilla form, Hoffmann et al. 2022 Eq. 2).
TRUTH = {"E": 1.8, "A": 480.0, "B": 2000.0, "alpha": 0.35, "beta": 0.37}
#: Per-draw jitter (sd) of the sampling parameters (logE, tN, tD, s, a) of the fake posteriors.
JITTER = np.array([0.004, 0.01, 0.01, 0.002, 0.004])


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    import matplotlib.pyplot as plt

    plt.close("all")


def unrasterize(monkeypatch) -> list[str]:
    """Report figures are built (every plot function runs and the figure is closed) but not rasterized: a 1x1 PNG
    stands in for each. For tests of a report's text, tables and files: ``savefig`` is ~85 % of a report's 2-4 s.
    The PNGs themselves are checked where reports are rendered for real (test_report's ``report`` for the standard
    figures, test_workflow's hierarchical fit for those of several domains, the real demo in test_cli and
    test_report_browser, both slow). Returns the names of the figures built."""
    import io

    import matplotlib.pyplot as plt
    from PIL import Image

    from bayes_scaling import report as report_module

    buf = io.BytesIO()
    Image.new("RGB", (1, 1), "white").save(buf, format="PNG")
    png = buf.getvalue()
    drawn = []

    def figure(self, fig, name, caption):
        plt.close(fig)
        drawn.append(name)
        self.blocks.append(("figure", report_module.Figure(name, caption, png)))
        return self

    monkeypatch.setattr(report_module.Section, "figure", figure)
    return drawn


@pytest.fixture
def unrasterized_figures(monkeypatch):
    """:func:`unrasterize` for one test."""
    return unrasterize(monkeypatch)


# ----------------------------------------------------------------------------- data


def synthetic_runs(n_sizes: int = 6, ratios=(5, 20, 60, 200), noise: float = 0.004, seed: int = 0, domain=None,
                   **law) -> pd.DataFrame:
    """Runs from the known law (``TRUTH``, overridden by ``law``) with log-normal noise: N from 5e7 to 5e9."""
    p = {**TRUTH, **law}
    rng = np.random.default_rng(seed)
    n = np.repeat(np.geomspace(5e7, 5e9, n_sizes), len(ratios))
    d = n * np.tile(np.asarray(ratios, float), n_sizes)
    loss = bs.laws.chinchilla_loss(n, d, **p) * np.exp(rng.normal(0, noise, n.size))
    runs = pd.DataFrame({"params": n, "tokens": d, "loss": loss})
    if domain is not None:
        runs["domain"] = domain
    return runs


@pytest.fixture(scope="session")
def chinchilla():
    return bs.datasets.load_chinchilla()


# ----------------------------------------------------------------------------- fake fits


def make_fake_fit(runs: pd.DataFrame, *, prior="weak", discrepancy="none", chains: int = 2, draws: int = 500,
                  seed: int = 0, offsets: dict | None = None, tau=(0.1, 0.3, 0.3, 0.1, 0.16), law=None,
                  law_name: str = "chinchilla") -> bs.ScalingFit:
    """A ScalingFit of ``runs`` whose draws are synthetic: the known law plus Gaussian jitter, no sampler.

    Parameters
    ----------
    runs : DataFrame
        Runs table (one or several domains).
    prior, discrepancy : str
        As :class:`bs.ScalingLaw` (the model inputs are built for real).
    chains, draws : int
    seed : int
    offsets : dict, optional
        ``{domain: {sampling parameter: shift}}``: a domain's departure from the population centre.
    tau : sequence of float
        Between-domain spread of each sampling coordinate (hierarchical fits), in ``law.z_names`` order.
    law : dict, optional
        Natural parameters of the draws' centre (default ``TRUTH``).
    law_name : str, default "chinchilla"
        The law fitted; ``"data_constrained"`` adds R_D* = 15.4 and R_N* = 5.3 (Muennighoff et al. 2023, Eq. 5 fit).
    """
    spec = bs.ScalingLaw(law=law_name, prior=prior, discrepancy=discrepancy,
                         sampler=SamplerConfig(chains=chains, draws=draws))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bs.RunsTableWarning)
        inputs = spec.inputs(runs)
    lw = spec.law
    p = {**TRUTH, **(law or {})}
    cat = {"logA": np.log(p["A"]), "logB": np.log(p["B"]), "logE": np.log(p["E"]), "alpha": p["alpha"], "beta": p["beta"],
           "logRD": np.log(15.4), "logRN": np.log(5.3)}
    centre = lw.from_catalog(cat, inputs.refs)
    theta0 = np.array([float(centre[k]) for k in lw.theta_names])
    rng = np.random.default_rng(seed)
    s, nd, k = chains * draws, len(inputs.domains), len(lw.theta_names)
    # ln R_D*, ln R_N* of the data-constrained law get 0.01; a one-variable law takes the first k
    jitter = np.concatenate([JITTER, np.full(max(0, k - len(JITTER)), 0.01)])[:k]
    mu = theta0 + jitter * rng.standard_normal((s, k))
    mu_z = lw.z_matrix(mu)
    q = len(lw.z_names)
    theta = np.empty((s, nd, k))
    for i, dom in enumerate(inputs.domains):
        shift = np.array([(offsets or {}).get(dom, {}).get(name, 0.0) for name in lw.theta_names])
        theta[:, i] = (mu if nd == 1 else mu + shift + jitter * rng.standard_normal((s, k)))
    sigma = 0.005 * np.exp(0.1 * rng.standard_normal((s, nd)))
    shape = (chains, draws)
    post = {
        VARS.population: ((*("chain", "draw"), VARS.param_dim), mu.reshape(*shape, k)),
        VARS.theta: (("chain", "draw", VARS.domain_dim, VARS.param_dim), theta.reshape(*shape, nd, k)),
        VARS.noise: (("chain", "draw", VARS.domain_dim), sigma.reshape(*shape, nd)),
        VARS.tail_weight: (("chain", "draw", VARS.domain_dim), np.full((*shape, nd), SPARSE_NU)),
    }
    if inputs.hierarchical:
        spread = np.abs(np.asarray(tau) * (1 + 0.05 * rng.standard_normal((s, q))))
        post[VARS.spread] = (("chain", "draw", VARS.z_dim), spread.reshape(*shape, q))
        post[VARS.population_z] = (("chain", "draw", VARS.z_dim), mu_z.reshape(*shape, q))
        post[VARS.noise_centre] = (("chain", "draw"), (np.log(0.005) + 0.05 * rng.standard_normal(s)).reshape(shape))
        post[VARS.z_pop] = (("chain", "draw", "z_pop_dim"), rng.standard_normal((*shape, q)))
    else:
        post[VARS.w] = (("chain", "draw", "w_dim"), rng.standard_normal((*shape, q)))
        post[VARS.log_sigma] = (("chain", "draw"), np.log(sigma[:, 0]).reshape(shape))
    if inputs.bases:
        m = inputs.structure.n_basis
        post[VARS.discrepancy_scale] = (("chain", "draw"), np.abs(0.01 + 0.002 * rng.standard_normal(shape)))
        post[VARS.discrepancy_weights] = (("chain", "draw", "gp", "basis"),
                                          rng.standard_normal((*shape, len(inputs.bases), m)))
    coords = {"chain": np.arange(chains), "draw": np.arange(draws)}
    tree = xr.DataTree.from_dict({
        "posterior": xr.Dataset({name: xr.Variable(dims, v) for name, (dims, v) in post.items()}, coords=coords),
        "sample_stats": xr.Dataset({"diverging": (("chain", "draw"), np.zeros(shape, bool)),
                                    "energy": (("chain", "draw"), rng.standard_normal(shape))}, coords=coords),
    })
    fit = bs.ScalingFit(
        law=lw, prior=spec.prior, structure=inputs.structure, hierarchical=inputs.hierarchical, refs=inputs.refs,
        domains=inputs.domains, reference_domains=inputs.reference_domains, runs=inputs.runs,
        posterior=label_draws(tree, inputs.domains, lw), bases=inputs.bases, sampler=spec.sampler.resolved(inputs.structure),
        random_seed=seed, timings={"prepare_seconds": 0.0, "compile_seconds": 0.0, "sample_seconds": 0.0,
                                   "total_seconds": 0.0},
        sampler_used="fake", discrepancy=discrepancy, varying=inputs.varying,
    )
    fit.diagnostics = check_convergence(fit.posterior, fit.free_variables())
    return fit


@pytest.fixture(scope="session")
def fake_fit():
    """One domain ('default'), 24 runs of the known law, weak prior, no discrepancy term (like small_fit)."""
    return make_fake_fit(synthetic_runs())


@pytest.fixture(scope="session")
def fake_gp_fit():
    """One domain with a discrepancy term (a real orthogonal basis, synthetic coefficients)."""
    return make_fake_fit(synthetic_runs(n_sizes=8, ratios=(5, 10, 20, 40, 80, 200)), discrepancy="gp", seed=1)


@pytest.fixture(scope="session")
def fake_hier_fit():
    """Three domains of 8 runs, hierarchical: 'code' has a higher E (logE +0.1), 'web' a lower one."""
    runs = pd.concat([
        synthetic_runs(n_sizes=4, ratios=(10, 40), domain="books", seed=1),
        synthetic_runs(n_sizes=4, ratios=(10, 40), domain="code", seed=2, E=1.8 * np.exp(0.1)),
        synthetic_runs(n_sizes=4, ratios=(10, 40), domain="web", seed=3, E=1.8 * np.exp(-0.1)),
    ], ignore_index=True)
    return make_fake_fit(runs, offsets={"code": {"logE": 0.1}, "web": {"logE": -0.1}}, seed=2)


@pytest.fixture(scope="session")
def fake_chinchilla_fit(chinchilla):
    """The embedded Chinchilla runs (domain 'chinchilla' after validation; 234 of the 245 fitted, those on fewer tokens than
    parameters left out) with synthetic draws, no discrepancy."""
    return make_fake_fit(chinchilla.assign(domain="chinchilla"), seed=3)


# ----------------------------------------------------------------------------- real fits (slow)


def _quiet_fit(law, runs, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bs.RunsTableWarning)
        return law.fit(runs, **kw)


@pytest.fixture(scope="session")
def chinchilla_fit(chinchilla):
    """Weak-prior fit of the 245 Chinchilla runs (234 fitted), default sampler (real nutpie)."""
    return _quiet_fit(bs.ScalingLaw(prior="weak"), chinchilla, random_seed=1)


@pytest.fixture(scope="session")
def chinchilla_split_fit(chinchilla):
    """Fit on runs with C < 1e21 (same model shape as chinchilla_fit: no recompilation), with the model-form error
    learned without Chinchilla: the ``learned`` prior has seen its small errors, so a calibration check on its own
    held-out runs would not be honest (with it, 18 of 23 covered; without it 20, as ``bench_backtest.py``)."""
    train = chinchilla[chinchilla["flops"] < 1e21]
    return _quiet_fit(bs.ScalingLaw(prior="weak", extrapolation="learned_without_chinchilla"), train, random_seed=1)


@pytest.fixture(scope="session")
def small_fit():
    """A quick real fit of synthetic runs from the known law (no discrepancy term), few draws; with its runs."""
    runs = synthetic_runs()
    cfg = SamplerConfig(draws=500, tune=500, chains=4)
    return _quiet_fit(bs.ScalingLaw(prior="weak", discrepancy="none", sampler=cfg), runs, random_seed=3), runs
