"""Floor 2. The saved-fit file format: NetCDF for the draws, JSON for the configuration, CSV for the runs.

This module knows files, not fits: :func:`write_fit` takes a configuration dict (a fit's
:meth:`~bayes_scaling.posterior.ScalingFit.to_dict`), the draws and the runs;
:func:`read_fit` gives them back after checking them. :meth:`ScalingFit.save
<bayes_scaling.posterior.ScalingFit.save>` and :meth:`ScalingFit.load
<bayes_scaling.posterior.ScalingFit.load>` are the user-facing calls.

A saved fit is a directory::

    fit.json        configuration, prior, reference scales, discrepancy bases,
                    diagnostics, checksums of the other two files
    posterior.nc    posterior draws and sampler statistics (xarray DataTree, h5netcdf)
    runs.csv        the validated runs the fit used

Guarantees
----------
* **No pickle, no code**: loading reads NetCDF, JSON and CSV only.
* **Never overwrites** an existing fit unless ``force=True``; the write is
  atomic (a temporary directory in the same parent, then a rename), so an
  interrupted save leaves the old fit intact.
* **Damage is detected**: SHA-256 checksums of ``posterior.nc`` and ``runs.csv``
  are stored in ``fit.json``, and ``fit.json`` records the checksum of its own
  content (``config_sha256``, over the canonical JSON without that field); a
  truncated or edited file, a missing JSON field or a file from an incompatible
  format version gives a :class:`FitFileError` that says what is wrong, never a
  wrong prediction.

Format versions: 1 (no ``config_sha256``) and 2 (the model before sampling coordinates and the
extrapolation error, bayes_scaling 0.1) are no longer read; 3 is current.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import xarray as xr

from ._version import __version__
from ._text import listed
from ._warnings import warn_caller
from .data import TABLE_SUFFIXES, RunsTableError, read_runs

__all__ = ["write_fit", "read_fit", "saved_fit_dir", "SavedFit", "FitFileError", "FORMAT_VERSION", "config_errors", "FIT_FILES", "fit_dir_problem",
           "out_file_problem"]

#: Version of the on-disk format; bumped on incompatible changes.
FORMAT_VERSION = 3

#: Fields of fit.json that this module writes and needs (after the caller's own).
_ENVELOPE_FIELDS = ("checksums", "config_sha256")


class FitFileError(ValueError):
    """A saved fit cannot be loaded (missing, damaged, edited or incompatible)."""


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _config_digest(cfg: dict) -> str:
    """SHA-256 of the canonical JSON of a fit.json object without its own checksum."""
    body = {k: v for k, v in cfg.items() if k != "config_sha256"}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), allow_nan=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass
class SavedFit:
    """What :func:`read_fit` returns: the checked parts of a saved fit.

    Attributes
    ----------
    path : Path
        The fit directory.
    config : dict
        The content of ``fit.json`` (format version and checksums included).
    posterior : xarray.DataTree
        The draws (loaded into memory; the file is closed).
    runs : pandas.DataFrame
        The runs the fit used (``domain`` read as text).
    """

    path: Path
    config: dict
    posterior: xr.DataTree
    runs: pd.DataFrame


#: The files of a saved fit: the only ones ``write_fit(force=True)`` replaces.
FIT_FILES = ("fit.json", "posterior.nc", "runs.csv")


def out_file_problem(path, force: bool, flag: str = "--out") -> str | None:
    """Why a table cannot be written to the file ``path`` (None if it can), checked before any work is done.

    A directory is not a file; an existing file is replaced only with ``force``; the folder must exist (or be
    creatable) and take a new file, which is tried with an empty temporary file that is removed again. A fresh user's
    ``backtest --out DIR --force`` failed with "[Errno 21] Is a directory" after the whole fit, and
    ``--points-out /proc/p.csv`` failed after the summary had been written.

    Parameters
    ----------
    path : str or Path
    force : bool
        Whether an existing file may be replaced.
    flag : str
        How the message names the option.

    Returns
    -------
    str or None
    """
    import tempfile

    p = Path(path)
    if p.is_dir():
        return f"{flag} '{p}' is a directory; give a CSV file name such as '{p / 'table.csv'}'."
    if p.exists() and not force:
        return f"'{p}' already exists; choose another {flag} or pass --force to overwrite it."
    parent = p.parent if str(p.parent) else Path(".")
    for up in (parent, *parent.parents):
        if up.exists():
            if not up.is_dir():
                return f"'{up}' is a file, not a directory; choose another output path."
            break
    try:
        parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=parent, prefix=".bayes-scaling-probe-"):
            pass
    except OSError as exc:
        return f"{flag} '{p}' cannot be written: {exc.strerror or exc} in '{parent}'; choose a folder you can write to."
    return None


def fit_dir_problem(path, suggest: bool = True) -> str | None:
    """Why a fit cannot be saved at ``path`` even with ``force`` (None if it can).

    A fit replaces only another saved fit (:data:`FIT_FILES`) or an empty directory: a directory holding any
    other file (a report, the user's own notes) is never emptied, and a file is not a directory. Checked by
    :func:`write_fit` and, before anything is fitted, by the CLI for ``--out DIR --force`` (whose fit goes to
    ``DIR/fit``).

    Parameters
    ----------
    path : str or Path
        The directory a fit would be saved into.
    suggest : bool, default True
        End the message with another path to choose (the CLI gives its own advice, in terms of ``--out``).

    Returns
    -------
    str or None
        The message, naming the files in the way and another path to choose.
    """
    path = Path(path)
    if not path.exists():
        return None
    if not path.is_dir():
        return f"'{path}' is a file, not a fit directory" + ("; choose another path." if suggest else ".")
    others = sorted(p.name for p in path.iterdir() if p.name not in FIT_FILES)
    if not others:
        return None
    shown = listed(others, 4)
    # a directory named 'fit' is usually a report's own fit directory: suggest a sibling, not 'fit/fit'
    other = path.with_name(path.name + "-2") if path.name == "fit" else path / "fit"
    return (f"'{path}' already exists and holds files that are not part of a saved fit ({shown}); a fit is saved "
            f"into a new directory or over another saved fit only, so nothing else is deleted."
            + (f" Choose another path, e.g. '{other}'." if suggest else ""))


def _not_a_fit_hint(path: Path) -> str:
    """What a file given where a fit directory belongs probably is, and the fix ('' if unknown).

    A fit's own file (its directory is meant), a table with a ``loss`` column (runs: fit them first) or without
    one (targets: the fit directory comes first). Fresh users gave ``DIR/fit/fit.json`` and swapped
    ``predict TARGETS --at DIR``, and were told to fit either as a runs table."""
    if path.name in FIT_FILES and (path.parent / "fit.json").exists():
        return f" It is a file of the saved fit in '{path.parent}': give that directory."
    if path.suffix.lower() not in TABLE_SUFFIXES:
        return ""
    try:  # read as every table is read (any format the package takes)
        columns = [str(c).strip().lower() for c in read_runs(path).columns]
    except (RunsTableError, OSError, ValueError):
        columns = None
    if columns is not None and "loss" not in columns:
        return (" It looks like a targets table (it has no 'loss' column): the fit's directory comes first, e.g. "
                f"bayes-scaling predict DIR --at {path}.")
    # `decide runs.csv` (a runs table where a fit belongs) said only what it is not (a fresh user)
    return (f" It looks like a runs table: fit it first (bayes-scaling fit {path} --out DIR, or "
            "bayes_scaling.ScalingLaw().fit) and give the fit's directory DIR.")


def write_fit(path, config: dict, posterior: xr.DataTree, runs: pd.DataFrame, force: bool = False) -> Path:
    """Write a fit's configuration, draws and runs to a directory, atomically.

    Parameters
    ----------
    path : str or Path
        Target directory (created).
    config : dict
        JSON-serialisable configuration (:meth:`ScalingFit.to_dict
        <bayes_scaling.posterior.ScalingFit.to_dict>`); ``format_version``,
        ``checksums`` and ``config_sha256`` are added.
    posterior : xarray.DataTree
        Groups ``posterior`` and ``sample_stats`` (text variables such as nutpie's
        divergence messages are left out).
    runs : pandas.DataFrame
    force : bool, default False
        Replace an existing saved fit (or empty directory) at ``path``. A directory holding any
        other file (:data:`FIT_FILES` aside) is never replaced.

    Returns
    -------
    Path
        The directory.

    Raises
    ------
    FileExistsError
        If ``path`` exists and ``force`` is False, if it holds files other than a saved fit's,
        or if ``path`` is a file.
    """
    path = Path(path)
    problem = fit_dir_problem(path)
    if problem:
        raise FileExistsError(problem)
    if path.exists() and not force:
        raise FileExistsError(f"'{path}' already exists; choose another path or pass force=True (--force) to replace "
                              "it.")
    parent = path.parent if str(path.parent) else Path(".")
    parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.tmp-", dir=parent))
    try:
        post = tmp / "posterior.nc"
        tree = xr.DataTree.from_dict({name: posterior[name].to_dataset() for name in posterior.children})
        for node in tree.subtree:
            for var in list(node.data_vars):
                if node[var].dtype == object:  # nutpie's divergence messages are strings
                    del node[var]
        tree.to_netcdf(post, engine="h5netcdf")
        runs_file = tmp / "runs.csv"
        runs.to_csv(runs_file, index=False)
        cfg = {"format_version": FORMAT_VERSION, **config,
               "checksums": {"posterior.nc": _sha256(post), "runs.csv": _sha256(runs_file)}}
        cfg = json.loads(json.dumps(cfg))  # canonical JSON types, so the digest is what loading recomputes
        cfg["config_sha256"] = _config_digest(cfg)
        with (tmp / "fit.json").open("w", encoding="utf-8") as fh:
            json.dump(cfg, fh, indent=1)
            fh.flush()
            os.fsync(fh.fileno())
        if path.exists():
            backup = Path(tempfile.mkdtemp(prefix=f".{path.name}.old-", dir=parent))
            backup.rmdir()
            os.replace(path, backup)
            try:
                os.replace(tmp, path)
            except BaseException:
                os.replace(backup, path)  # put the previous fit back
                raise
            shutil.rmtree(backup, ignore_errors=True)
        else:
            os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return path


def saved_fit_dir(path) -> Path | None:
    """The saved fit in ``path``: ``path`` itself when it holds ``fit.json``, its ``fit/`` subdirectory when
    ``path`` is the ``--out`` directory of ``bayes-scaling fit``/``demo`` (or of ``fit_and_report``), else None.

    Parameters
    ----------
    path : str or Path

    Returns
    -------
    Path or None
    """
    path = Path(path)
    for d in (path, path / "fit"):
        if (d / "fit.json").exists():
            return d
    return None


@contextmanager
def config_errors(cfg_file: Path):
    """Turn the errors a damaged or edited ``fit.json`` raises while it is read into a :class:`FitFileError`.

    A missing field (``KeyError``) and a malformed one (``TypeError``, ``ValueError``, ``AttributeError``,
    ``IndexError``, ``OverflowError``) each get a message naming the file and what to do;
    a :class:`FitFileError` raised inside passes unchanged.

    Parameters
    ----------
    cfg_file : Path
        The ``fit.json`` being read (named in the message).

    Raises
    ------
    FitFileError
    """
    try:
        yield
    except FitFileError:
        raise
    except KeyError as exc:
        raise FitFileError(
            f"'{cfg_file}' is damaged or was edited: the field {exc} is missing. Restore it from a backup or refit."
        ) from None
    except (TypeError, ValueError, AttributeError, IndexError, OverflowError) as exc:
        raise FitFileError(
            f"'{cfg_file}' is damaged or was edited: a field is malformed ({type(exc).__name__}: {exc}). "
            "Restore it from a backup or refit."
        ) from None


def read_fit(path, required=()) -> SavedFit:
    """Read and check a fit written by :func:`write_fit`.

    Parameters
    ----------
    path : str or Path
        Fit directory, or a directory written by ``bayes-scaling fit``/``demo`` (its ``fit`` subdirectory is read).
    required : sequence of str
        Configuration fields the caller needs (checked before anything else is read).

    Returns
    -------
    SavedFit

    Raises
    ------
    FitFileError
        Missing directory or files, checksum mismatch (truncated or edited file),
        missing fields, JSON that is not an object, incompatible format version,
        a posterior that cannot be read.

    Warns
    -----
    UserWarning
        When the fit was written by another version of bayes_scaling.
    """
    path = saved_fit_dir(path) or Path(path)
    if not path.exists():
        raise FitFileError(f"'{path}' does not exist; give the directory of a saved fit (fit.save(DIR), or the --out "
                           "directory of bayes-scaling fit or demo).")
    if not path.is_dir():
        raise FitFileError(f"'{path}' is not a saved fit directory (it should hold fit.json and posterior.nc)."
                           f"{_not_a_fit_hint(path)}")
    cfg_file = path / "fit.json"
    if not cfg_file.exists():
        raise FitFileError(f"'{path}' has no fit.json; it is not a saved fit or it is incomplete.")
    try:
        cfg = json.loads(cfg_file.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        why = "not UTF-8 text" if isinstance(exc, UnicodeDecodeError) else f"not valid JSON: {exc}"
        if isinstance(exc, RecursionError):
            why = "nested too deeply"
        raise FitFileError(f"'{cfg_file}' is damaged ({why}); restore it from a backup or refit.") from None
    except OSError as exc:
        raise FitFileError(f"'{cfg_file}' cannot be read ({exc.strerror or type(exc).__name__}); check the path.") from None
    if not isinstance(cfg, dict):
        raise FitFileError(f"'{cfg_file}' is damaged (expected a JSON object); restore it from a backup or refit.")
    fmt = cfg.get("format_version")
    if "format_version" not in cfg:
        raise FitFileError(
            f"'{cfg_file}' has no 'format_version' field: it is damaged or was not written by bayes_scaling. "
            "Restore it from a backup or refit."
        )
    if fmt != FORMAT_VERSION:
        raise FitFileError(
            f"'{path}' uses saved-fit format {fmt!r} but this bayes_scaling reads format {FORMAT_VERSION}; "
            f"it was written by bayes_scaling {cfg.get('bayes_scaling_version', 'unknown')}. Refit with this version "
            "or install the version that wrote it."
        )
    missing_fields = [k for k in (*required, *_ENVELOPE_FIELDS) if k not in cfg]
    if missing_fields and cfg.get("kind") == "downstream":  # it was called "damaged or edited" (a fresh user)
        raise FitFileError(f"'{path}' holds a downstream fit (loss -> task metric; DownstreamFit.save), not a "
                           "scaling-law fit: give the directory a scaling-law fit was saved in (ScalingFit.save, "
                           "'bayes-scaling fit --out'), or read this one with DownstreamFit.load (--downstream).")
    if missing_fields:
        raise FitFileError(
            f"'{cfg_file}' lacks the field(s) {', '.join(repr(k) for k in missing_fields)}: it is damaged or was "
            "edited. Restore it from a backup or refit; it was not loaded."
        )
    if cfg["config_sha256"] != _config_digest(cfg):
        raise FitFileError(
            f"'{cfg_file}' does not match the checksum it records ('config_sha256'): it was damaged or edited. "
            "Restore it from a backup or refit; it was not loaded."
        )
    if cfg.get("bayes_scaling_version") != __version__:
        warn_caller(
            f"'{path}' was saved by bayes_scaling {cfg.get('bayes_scaling_version')} and is read by {__version__}; "
            "the format is compatible, but check forecasts against the original report.",
            UserWarning,
        )
    with config_errors(cfg_file):
        checks = cfg["checksums"]
        for name in ("posterior.nc", "runs.csv"):
            f = path / name
            if not f.exists():
                raise FitFileError(f"'{f}' is missing; the saved fit is incomplete. Refit or restore the file.")
            if _sha256(f) != checks[name]:
                raise FitFileError(
                    f"'{f}' does not match the checksum recorded in fit.json: the file was truncated, damaged or "
                    "edited. Restore it from a backup or refit; it was not loaded."
                )
        try:
            with xr.open_datatree(path / "posterior.nc", engine="h5netcdf") as tree:
                posterior = tree.load().copy()
        except Exception as exc:  # h5py/h5netcdf raise many types for damaged files
            raise FitFileError(f"'{path / 'posterior.nc'}' cannot be read ({type(exc).__name__}); refit.") from None
        runs = pd.read_csv(path / "runs.csv", dtype={"domain": str})
    return SavedFit(path, cfg, posterior, runs)
