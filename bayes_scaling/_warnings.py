"""Filters for known, harmless warnings of the libraries we build on.

Analysts should see one readable line per real problem, not walls of library
noise. Only warnings listed here (each seen with the pinned stack, see
``pymc-arviz-notes.md`` §6.1) are silenced; everything else is kept.
"""

from __future__ import annotations

import logging
import warnings

__all__ = ["quiet_library_noise"]


def quiet_library_noise() -> None:
    """Silence known-harmless warnings and log lines from PyMC, PyTensor, numba and ArviZ."""
    warnings.filterwarnings("ignore", message=".*Importing 'IfElse' from 'pytensor.ifelse' is deprecated.*")
    warnings.filterwarnings("ignore", message=".*Importing 'ifelse' from 'pytensor.ifelse' is deprecated.*")
    warnings.filterwarnings("ignore", message=".*Cannot cache compiled function.*")
    warnings.filterwarnings("ignore", category=FutureWarning, module="arviz.*")
    try:  # numba performance hints are not actionable for users
        from numba.core.errors import NumbaPerformanceWarning

        warnings.filterwarnings("ignore", category=NumbaPerformanceWarning)
    except Exception:  # pragma: no cover - numba always present with pytensor 3
        pass
    for name in ("pymc", "pymc.sampling", "pytensor", "nutpie"):
        logging.getLogger(name).setLevel(logging.ERROR)
