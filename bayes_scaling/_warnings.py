"""Floor 0. Our warnings, and filters for known, harmless warnings and log lines of the libraries we build on.

Analysts should see one readable line per real problem, not walls of library noise.
Only the messages listed here (each seen with the pinned stack, see
``pymc-arviz-notes.md`` §6.1) are silenced, and only around the package's own calls
into those libraries (building, compiling and sampling a model, ArviZ diagnostics):
:func:`quiet_library_noise` is a context manager that restores every filter and log
level on exit, so importing bayes_scaling changes nothing in the user's session.
"""

from __future__ import annotations

import contextlib
import logging
import os
import warnings

__all__ = ["quiet_library_noise", "warn_caller"]

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))

#: Loggers whose INFO and WARNING lines are progress chatter during compilation and sampling.
NOISY_LOGGERS = ("pymc", "pymc.sampling", "pytensor", "nutpie")


def _filter_known_warnings() -> None:
    warnings.filterwarnings("ignore", message=".*Importing 'IfElse' from 'pytensor.ifelse' is deprecated.*")
    warnings.filterwarnings("ignore", message=".*Importing 'ifelse' from 'pytensor.ifelse' is deprecated.*")
    warnings.filterwarnings("ignore", message=".*Cannot cache compiled function.*")
    warnings.filterwarnings("ignore", category=FutureWarning, module="arviz.*")
    try:  # numba performance hints are not actionable for users
        from numba.core.errors import NumbaPerformanceWarning

        warnings.filterwarnings("ignore", category=NumbaPerformanceWarning)
    except Exception:  # pragma: no cover - numba always present with pytensor 3
        pass


@contextlib.contextmanager
def quiet_library_noise():
    """Silence known-harmless warnings and log lines of PyMC, PyTensor, numba and ArviZ inside the block.

    Every warning filter and logger level is restored when the block ends.

    Examples
    --------
    >>> with quiet_library_noise():  # doctest: +SKIP
    ...     compiled = nutpie.compile_pymc_model(model)
    """
    loggers = [logging.getLogger(name) for name in NOISY_LOGGERS]
    levels = [lg.level for lg in loggers]
    with warnings.catch_warnings():
        _filter_known_warnings()
        for lg in loggers:
            lg.setLevel(max(lg.level, logging.ERROR))
        try:
            yield
        finally:
            for lg, level in zip(loggers, levels, strict=True):
                lg.setLevel(level)


def warn_caller(message: str | Warning, category: type[Warning] | None = None) -> None:
    """Issue a warning attributed to the first caller outside bayes_scaling (the user's line, not ours).

    However deep in the package the warning arises (``fit.predict`` -> ``predict`` -> the check), the
    file and line shown are the user's call (``warnings.warn(skip_file_prefixes=...)``, Python 3.12).
    ``message`` may be a warning instance (its class is then the category), e.g. one that carries the
    numbers it states for a caller that gathers several.
    """
    warnings.warn(message, category, skip_file_prefixes=(_PACKAGE_DIR,))
