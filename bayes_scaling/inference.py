"""Floor 1. Sampling: nutpie by default, PyMC's NUTS as fallback, compiled models reused.

Compilation dominates PyMC run time (seconds per graph, see
``pymc-arviz-notes.md`` §0.4), so this module keeps one compiled nutpie model per
:class:`~bayes_scaling.model.Structure` for the life of the process and swaps
data in with ``CompiledPyMCModel.with_data`` (0.2 s instead of 6-20 s).

Convergence diagnostics (R-hat, bulk/tail ESS, divergences) are computed with
ArviZ here because the nutpie path skips PyMC's own checks; see
:mod:`bayes_scaling.diagnostics`.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import sys
import time
import warnings
from dataclasses import dataclass, field

import numpy as np
import pymc as pm
import xarray as xr
import pytensor

from ._warnings import quiet_library_noise
from .model import Structure, build_model

__all__ = ["SamplerConfig", "sample_posterior", "chain_seeds", "clear_compile_cache", "compile_cache_info",
           "mass_matrix_gamma", "adaptation_options", "MASS_MATRIX_GAMMA", "LARGE_MODEL_DIM"]

_log = logging.getLogger("bayes_scaling")

_COMPILED: dict[Structure, object] = {}
_MODELS: dict[Structure, pm.Model] = {}


#: Regularisation of nutpie's low-rank mass matrix for models with more than :data:`LARGE_MODEL_DIM` free
#: parameters (see :class:`SamplerConfig`); smaller models keep nutpie's default (1e-5). The low-rank correction's
#: cost per leapfrog step grows with the dimension: at 346 parameters (8 domains x 50 runs with a discrepancy
#: term) it cost ~1 ms per step against 0.1 ms for the gradient, and 1e-3 sampled that fit 5-6x faster with the
#: same steps per draw and ESS (1e-5/1e-4/1e-3/1e-2: 125/80/19-25/15 s of sampling, measured with a row-gathered
#: discrepancy basis since reverted; ``bench_speed.py`` on this code: 25-29 s at 1e-3, 126-140 s before); on the
#: OpenLM transfer split it gave the same coverage and ESS with a fit of 30-36 s instead of 41-65 s. Small models gain nothing: on one
#: domain of 5 runs 1e-3 left one fit at R-hat 1.0104 where 1e-5 and 1e-2 passed (notebook 04's fit).
MASS_MATRIX_GAMMA = 1e-3
#: Free parameters above which :data:`MASS_MATRIX_GAMMA` is used by default.
LARGE_MODEL_DIM = 100
#: nutpie's own default regularisation (nutpie 0.16).
NUTPIE_MASS_MATRIX_GAMMA = 1e-5


def mass_matrix_gamma(config: SamplerConfig, n_dim: int) -> float:
    """The low-rank regularisation for a model of ``n_dim`` free parameters: the configured value, or by size."""
    if config.mass_matrix_gamma is not None:
        return float(config.mass_matrix_gamma)
    return MASS_MATRIX_GAMMA if n_dim > LARGE_MODEL_DIM else NUTPIE_MASS_MATRIX_GAMMA


def adaptation_options(config: SamplerConfig, n_dim: int) -> dict:
    """``nutpie.sample`` keyword arguments of the mass-matrix adaptation for a model of ``n_dim`` free parameters.

    ``adaptation``, and with ``low_rank`` its regularisation (:func:`mass_matrix_gamma`). Shared by the
    scaling-law fit and the downstream stage (:mod:`bayes_scaling.downstream`).
    """
    if config.adaptation == "low_rank":
        return {"adaptation": config.adaptation, "mass_matrix_gamma": mass_matrix_gamma(config, n_dim)}
    return {"adaptation": config.adaptation}


@dataclass(frozen=True)
class SamplerConfig:
    """NUTS settings.

    Attributes
    ----------
    draws, chains : int
        Draws kept per chain, number of chains.
    tune : int or None
        Warm-up draws per chain; None = by model shape (:meth:`resolved`): 1000 for
        hierarchical fits (funnels need the longer warm-up), 300 for one domain
        (nutpie's low-rank adaptation has converged by then on the whitened one-domain
        model: R-hat <= 1.006 and bulk ESS >= 750 on the Chinchilla runs, seeds 1-3).
    cores : int or None
        Parallel chains (threads for nutpie); None = all CPUs.
    target_accept : float
        NUTS target acceptance.
    sampler : {"nutpie", "pymc"}
        ``nutpie`` (default, compiled once per structure) or PyMC's own NUTS.
    adaptation : str
        nutpie mass-matrix adaptation; ``low_rank`` adapts to the correlated
        posteriors of scaling laws (10x the ESS per second of ``diag`` measured on
        the Chinchilla runs).
    mass_matrix_gamma : float or None
        Regularisation of the eigenvalues of nutpie's low-rank mass matrix (nutpie's
        ``mass_matrix_gamma``). Larger values keep fewer directions in the low-rank correction, so each
        leapfrog step is cheaper. None = by model size (:func:`mass_matrix_gamma`): 1e-3 above
        :data:`LARGE_MODEL_DIM` free parameters, nutpie's 1e-5 below.
    max_treedepth : int or None
        Largest NUTS tree depth (2**depth - 1 leapfrog steps); None = by model shape:
        10 (Stan's and nutpie's default) for hierarchical fits, 6 for one domain, whose
        whitened posterior needs depth 4 (15 steps) once adapted, while the first warm-up
        iterations, before the mass matrix is known, ran at depth 8-10 and cost as much as
        all the draws. Draws that hit the limit are counted in the diagnostics. When both
        ``tune`` and ``max_treedepth`` are None and a one-domain fit fails its checks with
        the quick settings, :meth:`ScalingLaw.fit` samples it again with
        :data:`LONG_TUNE` and :data:`LONG_TREEDEPTH` and says so in ``fit.notes``.
    """

    draws: int = 1000
    tune: int | None = None
    chains: int = 4
    cores: int | None = None
    target_accept: float = 0.9
    sampler: str = "nutpie"
    adaptation: str = "low_rank"
    max_treedepth: int | None = None
    mass_matrix_gamma: float | None = None

    def __post_init__(self):
        for k in ("draws", "tune", "chains", "max_treedepth"):
            v = getattr(self, k)
            if v is None and k in ("tune", "max_treedepth"):
                continue
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < (0 if k == "tune" else 1):
                raise ValueError(f"SamplerConfig.{k} must be a positive integer, got {v!r}.")
        if not (isinstance(self.target_accept, (int, float)) and 0.0 < float(self.target_accept) < 1.0):
            raise ValueError(f"SamplerConfig.target_accept must be between 0 and 1 (exclusive), got "
                             f"{self.target_accept!r}; 0.9 is the default, 0.95-0.99 for divergences.")
        g = self.mass_matrix_gamma
        if g is not None and (isinstance(g, bool) or not isinstance(g, (int, float)) or not float(g) > 0):
            raise ValueError(f"SamplerConfig.mass_matrix_gamma must be a positive number or None (by model size), "
                             f"got {g!r}.")
        if self.sampler not in ("nutpie", "pymc"):
            raise ValueError(f"SamplerConfig.sampler must be 'nutpie' or 'pymc', got {self.sampler!r}.")

    def resolved(self, structure: Structure) -> SamplerConfig:
        """The settings with ``tune`` and ``max_treedepth`` filled in for a model shape.

        Parameters
        ----------
        structure : Structure

        Returns
        -------
        SamplerConfig
            No field is None.
        """
        one = not structure.hierarchical
        return dataclasses.replace(
            self,
            tune=self.tune if self.tune is not None else (300 if one else LONG_TUNE),
            max_treedepth=self.max_treedepth if self.max_treedepth is not None else (6 if one else LONG_TREEDEPTH),
        )

    def to_dict(self) -> dict:
        """JSON-serialisable form."""
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


#: Warm-up draws and tree depth of hierarchical fits, and of a one-domain fit whose quick
#: settings (300, depth 6) failed the checks (it is sampled again with these).
LONG_TUNE = 1000
LONG_TREEDEPTH = 10

def clear_compile_cache() -> None:
    """Forget every compiled model (the next fit compiles again)."""
    _COMPILED.clear()
    _MODELS.clear()


def compile_cache_info() -> list[Structure]:
    """Structures with a compiled model in this process."""
    return list(_COMPILED)


def get_model(structure: Structure, arrays: dict[str, np.ndarray], refs) -> pm.Model:
    """The PyMC model of a structure, built once and re-used with new data."""
    model = _MODELS.get(structure)
    if model is None:
        model = build_model(structure, arrays, refs)
        _MODELS[structure] = model
    else:
        with model:
            pm.set_data({k: v for k, v in arrays.items()})
    return model


@dataclass
class SampleResult:
    """Raw result of :func:`sample_posterior`.

    Attributes
    ----------
    posterior : xarray.DataTree
        Groups ``posterior`` and ``sample_stats``.
    compile_seconds, sample_seconds : float
    sampler : str
        Sampler that produced the draws.
    notes : list of str
        What happened (fallbacks).
    """

    posterior: xr.DataTree
    compile_seconds: float
    sample_seconds: float
    sampler: str
    notes: list[str] = field(default_factory=list)


def _nutpie_compile(structure, arrays, refs, progress):
    import nutpie

    compiled = _COMPILED.get(structure)
    t0 = time.perf_counter()
    if compiled is None:
        if progress:
            _log.info("compiling the model (once per model shape; about 10-30 s)")
        model = build_model(structure, arrays, refs)
        # Without fast-math: LLVM may reorder floating-point arithmetic differently in a freshly
        # compiled and in a disk-cached kernel, and the same seed then gave different draws in
        # another process (measured: medians 0.008 apart; /work/scratch/determinism). The flag is
        # part of PyTensor's cache key, so no fast-math kernel is reused. Cost: sampling ~1.2x on
        # one domain, none measured on hierarchical fits.
        with warnings.catch_warnings(), pytensor.config.change_flags(numba__fastmath=False):
            warnings.simplefilter("ignore")
            compiled = nutpie.compile_pymc_model(model)
        _COMPILED[structure] = compiled
        _MODELS.setdefault(structure, model)
    # Only the containers the compiled functions read (a one-domain graph does not use dom_idx).
    used = {var.name for var in compiled.shared_var_keys}
    compiled = compiled.with_data(**{k: v for k, v in arrays.items() if k in used})
    return compiled, time.perf_counter() - t0


def sample_posterior(
    structure: Structure,
    arrays: dict[str, np.ndarray],
    refs: dict[str, float],
    config: SamplerConfig,
    random_seed: int,
    progress: bool = False,
    more_draws=None,
    max_draws: int | None = None,
) -> SampleResult:
    """Draw from the posterior of the model.

    Parameters
    ----------
    structure : Structure
        Graph shape (compile-cache key).
    arrays : dict of ndarray
        ``pm.Data`` values (see :func:`bayes_scaling.model.data_arrays`).
    refs : dict
        Reference scales.
    config : SamplerConfig
        Resolved settings (see :meth:`SamplerConfig.resolved`).
    random_seed : int
        Seed; the same seed gives identical draws.
    progress : bool
        Show the sampler's progress bar (hierarchical structures with nutpie: one line for all chains).
    more_draws : callable, optional
        Hierarchical structures, nutpie: ``more_draws(tree) -> int or None``, called with the first
        ``config.draws`` draws of every chain (a DataTree with groups ``posterior`` and ``sample_stats``). None
        keeps them; a larger number continues the same chains, after their warm-up, to that many draws per chain
        (at most ``max_draws``), and it is called again with those. A chain's first n draws do not depend on how
        many it was asked for (nutpie; checked to the bit on the eight Porian et al. 2024 recipes), so continuing
        gives the draws of sampling again with more draws and the same seed, without a second warm-up, which is
        most of a rich fit's sampling (there: 7 s instead of 70 s). Ignored by PyMC's sampler and one-domain
        structures.
    max_draws : int, optional
        Draws per chain the continued chains may reach (default ``4 * config.draws``).

    Notes
    -----
    With nutpie, each chain of a hierarchical structure is a sampler of its own, seeded by :func:`chain_seeds`,
    and ``cores`` of them run at a time: a chain pauses once it has its draws and its core goes to another (with
    one call for all chains, two pairs on two cores took as long as the slower chain of each pair).

    Returns
    -------
    SampleResult
    """
    with quiet_library_noise():
        return _sample(structure, arrays, refs, config.resolved(structure), random_seed, progress, more_draws,
                       max_draws)


def _stored(trace) -> np.ndarray:
    """Draws stored per chain of a (ragged) nutpie trace: where the step size is finite (nutpie pads with NaN)."""
    return np.isfinite(trace["sample_stats"]["step_size"].values).sum(axis=1)


def _is_finished(sampler) -> bool:
    """Whether a background nutpie sampler has finished (nutpie 0.16 raises TimeoutError while it has not)."""
    try:
        return bool(sampler.is_finished)
    except TimeoutError:
        return False


def chain_seeds(random_seed: int, chains: int) -> list[int]:
    """The nutpie seed of each chain of a hierarchical fit (see :func:`sample_posterior`).

    Each chain is a sampler of its own, so each needs its own seed: ``numpy.random.SeedSequence`` of
    ``(random_seed, chain)``, the same in any process.

    Parameters
    ----------
    random_seed : int
        The fit's seed.
    chains : int
        Number of chains.

    Returns
    -------
    list of int
        One seed per chain (32-bit).
    """
    return [int(np.random.SeedSequence([int(random_seed), c]).generate_state(1, np.uint32)[0]) for c in range(chains)]


class _Chain:
    """One chain sampled in the background (a nutpie sampler of one chain), paused once it has the draws asked for."""

    def __init__(self, compiled, config: SamplerConfig, seed: int, max_draws: int):
        import nutpie

        self.done = 0  # draws finished, warm-up included (nutpie's progress report)
        self.trace = None  # the whole trace once the chain has its max_draws (nutpie's handle is then spent)
        self.running = True
        self.tune = config.tune

        def on_progress(chains):
            self.done = chains[0].finished_draws

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.sampler = nutpie.sample(
                compiled, draws=int(max_draws), tune=config.tune, chains=1, cores=1, seed=int(seed),
                progress_bar=False, save_warmup=False, target_accept=config.target_accept,
                maxdepth=config.max_treedepth, blocking=False, progress_callback=on_progress, progress_rate=20,
                **adaptation_options(config, compiled.n_dim),
            )

    def has(self, draws: int) -> bool:
        """Whether the chain has ``draws`` draws after its warm-up (taking its trace if it has finished)."""
        if self.trace is None and _is_finished(self.sampler):
            self.trace, self.running = self.sampler.wait(), False
        return self.trace is not None or self.done >= self.tune + draws

    def pause(self):
        if self.trace is None:
            self.sampler.pause()
        self.running = False

    def resume(self):
        if self.trace is None:
            self.sampler.resume()
            self.running = True

    def first(self, draws: int) -> tuple[xr.Dataset, xr.Dataset]:
        """The chain's first ``draws`` draws (posterior, sample_stats) of a paused or finished chain."""
        while True:
            trace = self.trace if self.trace is not None else self.sampler.inspect()
            if _stored(trace)[0] >= draws:
                break
            self.resume()  # the progress report runs ahead of the stored draws: let the chain store them
            time.sleep(0.02)
            self.pause()
        sl = {"draw": slice(0, draws)}
        return trace["posterior"].to_dataset().isel(sl), trace["sample_stats"].to_dataset().isel(sl)

    def cancel(self):
        if self.trace is None:
            self.sampler.cancel()


class _ChainsProgress:
    """One progress line for the chains of :func:`_sample_chains`, updated in place.

    Each chain is a nutpie sampler of its own, and nutpie's progress bar is per sampler: ``fit(progress=True)``
    showed one bar per chain, each appearing as its chain started. This line counts every chain's draws (warm-up
    included) against what the fit asks for: in Jupyter as an updated display, elsewhere on stderr with ``\\r``.
    """

    def __init__(self, chains: int, tune: int, every: float = 0.5):
        self.chains, self.tune, self.every = chains, tune, every
        self.t0 = self.last = time.perf_counter()
        self.handle = None
        self.closed = False
        try:
            from IPython import get_ipython

            if type(get_ipython()).__name__ == "ZMQInteractiveShell":  # Jupyter: \r is not a carriage return there
                from IPython.display import Pretty, display

                self._pretty = Pretty
                self.handle = display(Pretty(self._text(0, 0, 0)), display_id=True)
        except ImportError:
            pass

    def _text(self, done: int, want: int, running: int) -> str:
        total = self.chains * (self.tune + want)
        return (f"sampling {self.chains} chains: {min(done, total):,} of {total:,} draws ({self.tune:,} warm-up and "
                f"{want:,} a chain), {running} running, {time.perf_counter() - self.t0:.0f} s")

    def update(self, done: int, want: int, running: int, force: bool = False) -> None:
        now = time.perf_counter()
        if not force and now - self.last < self.every:
            return
        self.last = now
        text = self._text(done, want, running)
        if self.handle is not None:
            self.handle.update(self._pretty(text))
        else:
            sys.stderr.write("\r" + text)
            sys.stderr.flush()

    def close(self, done: int | None = None, want: int = 0) -> None:
        """End the line: with the final count, or as it stands (a fit that stopped on an error)."""
        if done is not None:
            self.update(done, want, 0, force=True)
        if self.handle is None and not self.closed:
            sys.stderr.write("\n")
            sys.stderr.flush()
        self.closed = True


def _sample_chains(compiled, config: SamplerConfig, random_seed: int, progress: bool, cores: int, more_draws=None,
                   max_draws: int | None = None) -> xr.DataTree:
    """Sample each chain as a background nutpie sampler of its own, ``cores`` at a time; see :func:`sample_posterior`.

    A chain is paused as soon as it has the draws asked for, and its core goes to a chain still sampling (with
    one call for all chains, a chain that finished first left its core idle: two pairs of chains on two cores
    took as long as the slower of each pair). ``more_draws`` looks at the draws while every chain is paused.
    Returns the tree of every chain's draws (groups ``posterior`` and ``sample_stats``).
    """
    want = int(config.draws)
    room = max(want, int(max_draws or 4 * want)) if more_draws is not None else want
    seeds = chain_seeds(random_seed, config.chains)
    chains: list[_Chain] = []
    shown = _ChainsProgress(len(seeds), config.tune) if progress else None
    try:
        while True:
            while True:
                for c in chains:
                    if c.running and c.has(want):
                        c.pause()
                running = sum(c.running for c in chains)
                todo = [c for c in chains if not c.running and not c.has(want)]
                while running < cores and (todo or len(chains) < len(seeds)):
                    if todo:
                        todo.pop(0).resume()
                    else:
                        chains.append(_Chain(compiled, config, seeds[len(chains)], room))
                    running += 1
                if shown is not None:
                    shown.update(sum(min(c.done, c.tune + want) for c in chains), want, running)
                if not running:
                    break
                time.sleep(0.01)
            parts = [c.first(want) for c in chains]
            tree = xr.DataTree.from_dict({
                group: xr.concat([part[g].assign_coords(chain=[i]) for i, part in enumerate(parts)], dim="chain")
                for g, group in enumerate(("posterior", "sample_stats"))
            })
            more = more_draws(tree) if more_draws is not None else None
            if more is None or int(more) <= want:
                if shown is not None:
                    shown.close(len(chains) * (config.tune + want), want)
                return tree
            want = min(int(more), room)
    finally:
        for c in chains:
            c.cancel()
        if shown is not None:
            shown.close()


def _sample(structure, arrays, refs, config: SamplerConfig, random_seed: int, progress: bool, more_draws=None,
            max_draws: int | None = None) -> SampleResult:
    notes: list[str] = []
    cores = config.cores or min(os.cpu_count() or 1, config.chains)
    if config.sampler == "nutpie":
        try:
            import nutpie

            compiled, tc = _nutpie_compile(structure, arrays, refs, progress)
            t0 = time.perf_counter()
            if structure.hierarchical:
                tree = _sample_chains(compiled, config, random_seed, progress, cores, more_draws, max_draws)
                return SampleResult(tree, tc, time.perf_counter() - t0, "nutpie", notes)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                trace = nutpie.sample(
                    compiled,
                    draws=config.draws,
                    tune=config.tune,
                    chains=config.chains,
                    cores=cores,
                    seed=int(random_seed),
                    progress_bar=progress,
                    save_warmup=False,
                    target_accept=config.target_accept,
                    maxdepth=config.max_treedepth,
                    **adaptation_options(config, compiled.n_dim),
                )
            ts = time.perf_counter() - t0
            tree = xr.DataTree.from_dict(
                {"posterior": trace["posterior"].to_dataset(), "sample_stats": trace["sample_stats"].to_dataset()}
            )
            return SampleResult(tree, tc, ts, "nutpie", notes)
        except ImportError:
            notes.append("nutpie is not installed; used PyMC's NUTS sampler instead")
        except Exception as exc:  # pragma: no cover - depends on numba/nutpie failures
            notes.append(f"nutpie failed ({type(exc).__name__}: {exc}); used PyMC's NUTS sampler instead")
            _log.warning(notes[-1])
    t0 = time.perf_counter()
    model = get_model(structure, arrays, refs)
    tc = time.perf_counter() - t0
    t0 = time.perf_counter()
    with warnings.catch_warnings(), pytensor.config.change_flags(numba__fastmath=False):
        warnings.simplefilter("ignore")
        idata = pm.sample(
            draws=config.draws,
            tune=config.tune,
            chains=config.chains,
            cores=1,
            random_seed=int(random_seed),
            progressbar=progress,
            quiet=not progress,
            nuts_sampler="pymc",
            nuts={"target_accept": config.target_accept, "max_treedepth": config.max_treedepth},
            compute_convergence_checks=False,
            model=model,
        )
    ts = time.perf_counter() - t0
    groups = {"posterior": idata["posterior"].to_dataset()}
    if "sample_stats" in idata.children:
        groups["sample_stats"] = idata["sample_stats"].to_dataset()
    tree = xr.DataTree.from_dict(groups)
    return SampleResult(tree, tc, ts, "pymc", notes)
