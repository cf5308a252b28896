"""bayes_scaling._warnings: library noise is silenced only inside the package's own calls, and restored after."""

from __future__ import annotations

import logging
import subprocess
import sys
import warnings

import pytest

from bayes_scaling import quiet_library_noise


def test_quieting_is_scoped_and_restores_filters_and_log_levels():
    logger = logging.getLogger("pymc")
    logger.setLevel(logging.INFO)
    before = list(warnings.filters)
    with quiet_library_noise():
        assert logger.level == logging.ERROR
        with warnings.catch_warnings(record=True) as rec:
            warnings.simplefilter("always")  # inside the block the user's own filter still wins when set later
            warnings.warn("Cannot cache compiled function 'x'", UserWarning)
        assert len(rec) == 1
        with warnings.catch_warnings(record=True) as rec:
            warnings.warn("Cannot cache compiled function 'x'", UserWarning)
        assert rec == []  # silenced
    assert logger.level == logging.INFO and warnings.filters == before
    logger.setLevel(logging.NOTSET)


@pytest.mark.slow  # needs a fresh interpreter; importing pymc and the package there takes ~3 s
def test_importing_the_package_changes_no_filter_and_no_log_level():
    """In a fresh process: the libraries' own imports first, then ours, which must leave both alone."""
    code = (
        "import logging, warnings\n"
        "import arviz, joblib, matplotlib.pyplot, pymc, pytensor, scipy.stats, xarray\n"  # what we import at module level
        "names = ('pymc', 'pymc.sampling', 'pytensor', 'nutpie')\n"
        "levels = [logging.getLogger(n).level for n in names]\n"
        "filters = list(warnings.filters)\n"
        "import bayes_scaling, bayes_scaling.cli\n"
        "assert [logging.getLogger(n).level for n in names] == levels, 'log levels changed'\n"
        "assert list(warnings.filters) == filters, 'warning filters changed'\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]


def test_package_warnings_point_at_the_users_line(fake_fit):
    """A warning raised deep inside the package (fit.predict -> predict -> the check) names the caller's file."""
    import pandas as pd

    import bayes_scaling as bs

    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        fake_fit.predict(pd.DataFrame({"params": [1e15], "tokens": [2e11]}))
    (w,) = [w for w in rec if issubclass(w.category, bs.ExtrapolationWarning)]
    assert w.filename == __file__
