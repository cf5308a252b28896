"""Saving and loading fits: NetCDF for the draws, JSON for the configuration.

A saved fit is a directory::

    fit.json        configuration, prior, reference scales, discrepancy bases,
                    diagnostics, checksums of the other two files
    posterior.nc    posterior draws and sampler statistics (xarray DataTree, h5netcdf)
    runs.csv        the validated runs the fit used

Guarantees
----------
* **No pickle, no code**: loading reads NetCDF and JSON only.
* **Never overwrites** an existing fit unless ``force=True``; the write is
  atomic (a temporary directory in the same parent, then a rename), so an
  interrupted save leaves the old fit intact.
* **Damage is detected**: SHA-256 checksums of ``posterior.nc`` and ``runs.csv``
  are stored in ``fit.json``, and ``fit.json`` records the checksum of its own
  content (``config_sha256``, over the canonical JSON without that field); a
  truncated or edited file, a missing JSON field or a file from an incompatible
  format version gives a :class:`FitFileError` that says what is wrong, never a
  wrong prediction.

Format versions: 1 (no ``config_sha256``) is no longer read; 2 is current.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

__all__ = ["save_fit", "load_fit", "FitFileError", "FORMAT_VERSION"]

#: Version of the on-disk format; bumped on incompatible changes.
FORMAT_VERSION = 2

#: Top-level fields of fit.json that loading needs.
_REQUIRED_FIELDS = (
    "bayes_scaling_version", "law", "prior", "structure", "hierarchical", "refs", "domains",
    "reference_domains", "bases", "sampler", "sampler_used", "random_seed", "timings", "notes",
    "discrepancy", "gp_lengthscale", "diagnostics", "checksums", "config_sha256",
)


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


def _prior_to_dict(prior) -> dict:
    return {
        "name": prior.name,
        "law": prior.law,
        "mean": prior.mean,
        "cov": None if prior.cov is None else np.asarray(prior.cov).tolist(),
        "citation": prior.citation,
        "where": prior.where,
        "units": prior.units,
        "param_convention": prior.param_convention,
        "widen_factor": prior.widen_factor,
        "weak_params": list(prior.weak_params),
    }


def _prior_from_dict(d: dict):
    from .priors import PriorSpec

    return PriorSpec(
        name=d["name"],
        law=d["law"],
        mean=d["mean"],
        cov=None if d["cov"] is None else np.asarray(d["cov"], float),
        citation=d["citation"],
        where=d["where"],
        units=d["units"],
        param_convention=d["param_convention"],
        widen_factor=float(d["widen_factor"]),
        weak_params=tuple(d["weak_params"]),
    )


def save_fit(fit, path, force: bool = False) -> Path:
    """Save a fit to a directory.

    Parameters
    ----------
    fit : ScalingFit
    path : str or Path
        Target directory (created).
    force : bool, default False
        Replace an existing directory at ``path``.

    Returns
    -------
    Path
        The directory.

    Raises
    ------
    FileExistsError
        If ``path`` exists and ``force`` is False.
    """
    path = Path(path)
    if path.exists() and not force:
        raise FileExistsError(f"'{path}' already exists; choose another path or pass force=True (--force) to replace it.")
    if path.exists() and not path.is_dir():
        raise FileExistsError(f"'{path}' is a file, not a fit directory; choose another path.")
    parent = path.parent if str(path.parent) else Path(".")
    parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.tmp-", dir=parent))
    try:
        post = tmp / "posterior.nc"
        tree = xr.DataTree.from_dict(
            {name: fit.posterior[name].to_dataset() for name in fit.posterior.children}
        )
        for node in tree.subtree:
            for var in list(node.data_vars):
                if node[var].dtype == object:  # nutpie's divergence messages are strings
                    del node[var]
        tree.to_netcdf(post, engine="h5netcdf")
        runs_file = tmp / "runs.csv"
        fit.runs.to_csv(runs_file, index=False)
        config = {
            "format_version": FORMAT_VERSION,
            "bayes_scaling_version": fit.version,
            "law": fit.law.name,
            "prior": _prior_to_dict(fit.prior),
            "structure": {
                "law": fit.structure.law,
                "n_domains": fit.structure.n_domains,
                "n_gp": fit.structure.n_gp,
                "likelihood": fit.structure.likelihood,
                "hierarchical": fit.structure.hierarchical,
                "rich": list(fit.structure.rich),
            },
            "hierarchical": fit.hierarchical,
            "refs": fit.refs,
            "domains": fit.domains,
            "reference_domains": fit.reference_domains,
            "bases": {d: b.to_dict() for d, b in fit.bases.items()},
            "sampler": fit.sampler.to_dict(),
            "sampler_used": fit.sampler_used,
            "random_seed": fit.random_seed,
            "timings": fit.timings,
            "notes": fit.notes,
            "discrepancy": fit.discrepancy,
            "gp_lengthscale": fit.gp_lengthscale,
            "varying": list(fit.varying) if fit.varying is not None else None,
            "diagnostics": fit.diagnostics.to_dict() if fit.diagnostics else None,
            "checksums": {"posterior.nc": _sha256(post), "runs.csv": _sha256(runs_file)},
        }
        config = json.loads(json.dumps(config))  # canonical JSON types, so the digest is what loading recomputes
        config["config_sha256"] = _config_digest(config)
        with (tmp / "fit.json").open("w", encoding="utf-8") as fh:
            json.dump(config, fh, indent=1)
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


def load_fit(path):
    """Load a fit saved by :func:`save_fit`.

    Parameters
    ----------
    path : str or Path
        Fit directory.

    Returns
    -------
    ScalingFit
        Predictions from it are identical to those of the saved fit (same draws,
        same seed).

    Raises
    ------
    FitFileError
        Missing directory or files, checksum mismatch (truncated or edited file),
        missing or malformed JSON fields, incompatible format version.

    Warns
    -----
    ConvergenceWarning
        If the saved fit failed its convergence checks (``diagnostics.ok`` is False).
    """
    from .diagnostics import Diagnostics
    from .discrepancy import DiscrepancyBasis
    from .fit import ScalingFit
    from .inference import SamplerConfig
    from .laws import get_law
    from .model import Structure

    path = Path(path)
    if not path.is_dir():
        raise FitFileError(f"'{path}' is not a saved fit directory (it should hold fit.json and posterior.nc).")
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
    missing_fields = [k for k in _REQUIRED_FIELDS if k not in cfg]
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
    from . import __version__

    if cfg.get("bayes_scaling_version") != __version__:
        warnings.warn(
            f"'{path}' was saved by bayes_scaling {cfg.get('bayes_scaling_version')} and is read by {__version__}; "
            "the format is compatible, but check forecasts against the original report.",
            UserWarning,
            stacklevel=2,
        )
    try:
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
        law = get_law(cfg["law"])
        st = cfg["structure"]
        fit = ScalingFit(
            law=law,
            prior=_prior_from_dict(cfg["prior"]),
            structure=Structure(st["law"], int(st["n_domains"]), int(st["n_gp"]), st["likelihood"], bool(st["hierarchical"]),
                                tuple(int(i) for i in st["rich"])),
            hierarchical=bool(cfg["hierarchical"]),
            refs={k: float(v) for k, v in cfg["refs"].items()},
            domains=[str(d) for d in cfg["domains"]],
            reference_domains=[str(d) for d in cfg["reference_domains"]],
            runs=runs,
            posterior=posterior,
            bases={d: DiscrepancyBasis.from_dict(b) for d, b in cfg["bases"].items()},
            sampler=SamplerConfig(**cfg["sampler"]),
            random_seed=int(cfg["random_seed"]),
            timings=dict(cfg["timings"]),
            notes=list(cfg["notes"]),
            sampler_used=cfg["sampler_used"],
            discrepancy=cfg["discrepancy"],
            gp_lengthscale=float(cfg["gp_lengthscale"]),
            varying=tuple(str(v) for v in cfg["varying"]) if cfg.get("varying") is not None else None,
            diagnostics=Diagnostics.from_dict(cfg["diagnostics"]) if cfg["diagnostics"] else None,
        )
        post = fit.posterior["posterior"]
        needed = ["mu", "theta", "sigma"] + (["eta", "zg"] if fit.bases else [])
        missing = [v for v in needed if v not in post.data_vars]
        if missing:
            raise FitFileError(f"'{path / 'posterior.nc'}' lacks the variables {missing}; it is not a bayes_scaling fit.")
        if post["theta"].shape[-1] != len(law.params) or post["theta"].shape[-2] != len(fit.domains):
            raise FitFileError(f"'{path}' is inconsistent: the draws do not match the law and domains in fit.json.")
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
    if fit.diagnostics is not None and not fit.diagnostics.ok:
        from .diagnostics import ConvergenceWarning

        warnings.warn(
            f"the fit in '{path}' failed its convergence checks when it was made, so its forecasts may be wrong: "
            + " ".join(fit.diagnostics.problems),
            ConvergenceWarning,
            stacklevel=2,
        )
    return fit
