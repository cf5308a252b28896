"""Floor 6. The package namespace of bayes_scaling: Bayesian, uncertainty-aware forecasting of neural scaling laws.

Priors from published fits (Hoffmann et al. 2022; Besiroglu et al. 2024; Kaplan
et al. 2020; Muennighoff et al. 2023) are updated with a few runs of a new domain
in a hierarchical PyMC model; forecasts come with credible intervals and a
quantified transfer risk.

Main entry points
-----------------
ScalingLaw, ScalingFit
    Configure and fit a law (:mod:`bayes_scaling.fit`); the fitted posterior
    (:mod:`bayes_scaling.posterior`): ``fit.parameters()``, ``fit.predict()``,
    ``fit.frontier()``, ``fit.save()``, ``ScalingFit.load()``.
fit_and_report
    Fit, save, forecast and write the report in one call (:mod:`bayes_scaling.workflow`),
    as ``bayes-scaling fit`` does.
datasets
    Embedded real runs (Chinchilla, OpenLM, datablations, routing).
validate_runs, read_runs
    Runs-table validation (:mod:`bayes_scaling.data`).
Law, get_law, PriorSpec, get_prior, list_priors
    The laws and the prior catalog (:mod:`bayes_scaling.laws`, :mod:`bayes_scaling.priors`).
quiet_library_noise
    A context manager that silences known-harmless library warnings and log lines;
    the package already uses it around its own sampling calls.

The analyses are modules: :mod:`~bayes_scaling.predict`, :mod:`~bayes_scaling.decisions`,
:mod:`~bayes_scaling.risk`, :mod:`~bayes_scaling.value_of_information`,
:mod:`~bayes_scaling.sensitivity`, :mod:`~bayes_scaling.scoring`,
:mod:`~bayes_scaling.backtest`, :mod:`~bayes_scaling.baselines`,
:mod:`~bayes_scaling.plots`, :mod:`~bayes_scaling.report`.
"""

from . import datasets, laws, workflow
from ._version import __version__
from ._warnings import quiet_library_noise
from .data import LeftOutRunsWarning, RunsTableError, RunsTableWarning, read_runs, validate_runs
from .diagnostics import ConvergenceWarning, DownstreamConvergenceWarning, SamplingError
from .fit import ScalingLaw
from .inference import SamplerConfig
from .io import FitFileError
from .laws import Law, get_law
from .posterior import ScalingFit
from .predict import ExtrapolationWarning
from .priors import PriorSpec, get_prior, list_priors
from .workflow import fit_and_report

__all__ = [
    "__version__",
    "datasets",
    "laws",
    "workflow",
    "ScalingLaw",
    "ScalingFit",
    "SamplerConfig",
    "fit_and_report",
    "Law",
    "get_law",
    "PriorSpec",
    "get_prior",
    "list_priors",
    "RunsTableError",
    "RunsTableWarning",
    "LeftOutRunsWarning",
    "ConvergenceWarning",
    "DownstreamConvergenceWarning",
    "ExtrapolationWarning",
    "SamplingError",
    "FitFileError",
    "read_runs",
    "validate_runs",
    "quiet_library_noise",
]
