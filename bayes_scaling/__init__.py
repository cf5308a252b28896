"""bayes_scaling: Bayesian, uncertainty-aware forecasting of neural scaling laws.

Priors from published fits (Hoffmann et al. 2022; Besiroglu et al. 2024; Kaplan
et al. 2020; Muennighoff et al. 2023) are updated with a few runs of a new domain
in a hierarchical PyMC model; forecasts come with credible intervals and a
quantified transfer risk.

Main entry points
-----------------
ScalingLaw, ScalingFit
    Configure and fit a law; the fitted posterior (:mod:`bayes_scaling.fit`).
datasets
    Embedded real runs (Chinchilla, OpenLM, datablations, routing).
validate_runs, read_runs
    Runs-table validation (:mod:`bayes_scaling.data`).
"""

__version__ = "0.1.0"

from . import datasets, laws  # noqa: E402
from ._warnings import quiet_library_noise  # noqa: E402
from .data import RunsTableError, RunsTableWarning, read_runs, validate_runs  # noqa: E402
from .diagnostics import ConvergenceWarning, SamplingError  # noqa: E402
from .fit import ScalingFit, ScalingLaw  # noqa: E402
from .inference import SamplerConfig  # noqa: E402
from .predict import ExtrapolationWarning  # noqa: E402
from .priors import get_prior, list_priors  # noqa: E402

quiet_library_noise()

__all__ = [
    "__version__",
    "datasets",
    "ScalingLaw",
    "ScalingFit",
    "SamplerConfig",
    "RunsTableError",
    "RunsTableWarning",
    "ConvergenceWarning",
    "ExtrapolationWarning",
    "SamplingError",
    "read_runs",
    "validate_runs",
    "get_prior",
    "list_priors",
]
