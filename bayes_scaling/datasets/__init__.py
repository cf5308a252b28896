"""Floor 0. Real public training runs shipped with the package.

See ``PROVENANCE.md`` in this folder for sources, licences and citations.

Functions
---------
load_chinchilla
    245 Chinchilla runs (Hoffmann et al. 2022 Fig. 4, extracted by Besiroglu et al. 2024).
load_openlm
    OpenLM over-training runs (Gadre et al. 2024): 3 training corpora x 8 eval domains.
load_openlm_downstream
    The same 104 OpenLM models' accuracy on 46 downstream tasks, with each model's loss.
openlm_transfer_split
    The few-small-runs / large-held-out split used to test transfer.
load_datablations
    Data-constrained runs with repeated data (Muennighoff et al. 2023).
load_routing
    Dense and mixture-of-experts runs (Clark et al. 2022).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = [
    "load_chinchilla",
    "load_openlm",
    "load_openlm_downstream",
    "openlm_transfer_split",
    "load_datablations",
    "load_routing",
    "load",
    "embedded",
    "embedded_runs",
    "RUN_MATCH_TOLERANCE",
    "NAMES",
    "citation",
]

_CITATIONS = {
    "chinchilla": (
        "Hoffmann, J. et al. (2022). Training Compute-Optimal Large Language Models. arXiv:2203.15556. "
        "Data re-extracted by Besiroglu, T., Erdil, E., Barnett, M., You, J. (2024). "
        "Chinchilla Scaling: A replication attempt. arXiv:2404.10102."
    ),
    "openlm": (
        "Gadre, S. Y. et al. (2024). Language models scale reliably with over-training and on "
        "downstream tasks. arXiv:2403.08540 (data: github.com/mlfoundations/scaling, MIT licence)."
    ),
    "datablations": (
        "Muennighoff, N. et al. (2023). Scaling Data-Constrained Language Models. arXiv:2305.16264 "
        "(values via IBM ColPret, MIT licence)."
    ),
    "routing": (
        "Clark, A. et al. (2022). Unified Scaling Laws for Routed Language Models. arXiv:2202.01169 "
        "(data CC-BY 4.0)."
    ),
}


def citation(name: str) -> str:
    """Return the citation for an embedded data set.

    Parameters
    ----------
    name : {"chinchilla", "openlm", "datablations", "routing"}

    Returns
    -------
    str
        Full citation text.

    Raises
    ------
    KeyError
        For an unknown data set name.
    """
    return _CITATIONS[name]


def _read(fname: str) -> pd.DataFrame:
    with resources.files(__name__).joinpath(fname).open("r", encoding="utf-8") as fh:
        return pd.read_csv(fh)


def load_chinchilla() -> pd.DataFrame:
    """The 245 Chinchilla training runs.

    Returns
    -------
    pandas.DataFrame
        245 rows, columns ``params`` (N, total parameters), ``tokens`` (D = C / (6 N),
        as in Besiroglu et al. 2024), ``flops`` (C, FLOPs), ``loss`` (nats/token,
        final smoothed training loss on MassiveText), ``domain`` (``"chinchilla"``).
        ``attrs["citation"]`` holds the citation.

    Notes
    -----
    Source: ``data/svg_extracted_data.csv`` of github.com/epoch-research/analyzing-chinchilla
    (Besiroglu et al. 2024, arXiv:2404.10102), extracted from Hoffmann et al. (2022),
    arXiv:2203.15556, Figure 4. Losses were decoded from a colour bar, so they are
    quantised and contain outliers (Besiroglu et al. drop the 5 highest-loss points).
    """
    raw = _read("chinchilla_svg_extracted_data.csv")
    n = raw["Model Size"].to_numpy(float)
    c = raw["Training FLOP"].to_numpy(float)
    df = pd.DataFrame(
        {
            "params": n,
            "tokens": c / (6.0 * n),
            "flops": c,
            "loss": raw["loss"].to_numpy(float),
            "domain": "chinchilla",
        }
    )
    df.attrs["citation"] = _CITATIONS["chinchilla"]
    return df


def load_openlm(eval_domains: list[str] | None = None, train_datasets: list[str] | None = None) -> pd.DataFrame:
    """OpenLM over-training runs (Gadre et al. 2024), one row per run and eval domain.

    Parameters
    ----------
    eval_domains : list of str, optional
        Keep only these eval domains (e.g. ``["c4_val"]``). Default: all 8.
    train_datasets : list of str, optional
        Keep only these training corpora (``c4_original``, ``rpj``, ``rw_original``).

    Returns
    -------
    pandas.DataFrame
        Columns ``params`` (N including embeddings), ``tokens`` (D), ``flops``
        (6 N D), ``loss`` (nats/token on the eval domain), ``train_dataset``,
        ``eval_domain``, ``domain`` (``"<train_dataset>/<eval_domain>"``),
        ``tokens_per_param`` and ``params_no_embed``. 832 rows when unfiltered.

    Notes
    -----
    Source: github.com/mlfoundations/scaling (MIT). Parameter convention: total
    parameters including embeddings, like Chinchilla (Hoffmann et al. 2022).
    """
    raw = _read("openlm_losses_long.csv")
    if eval_domains is not None:
        raw = raw[raw["eval_domain"].isin(eval_domains)]
    if train_datasets is not None:
        raw = raw[raw["train_dataset"].isin(train_datasets)]
    df = pd.DataFrame(
        {
            "params": raw["params"].astype(float),
            "tokens": raw["tokens"].astype(float),
            "flops": 6.0 * raw["params"].astype(float) * raw["tokens"].astype(float),
            "loss": raw["loss"].astype(float),
            "train_dataset": raw["train_dataset"],
            "eval_domain": raw["eval_domain"],
            "domain": raw["train_dataset"] + "/" + raw["eval_domain"],
            "tokens_per_param": raw["tokens"].astype(float) / raw["params"].astype(float),
            "params_no_embed": raw["params_no_embed"].astype(float),
        }
    ).reset_index(drop=True)
    df.attrs["citation"] = _CITATIONS["openlm"]
    return df


def load_openlm_downstream(eval_domain: str = "c4_val") -> pd.DataFrame:
    """Downstream accuracy of the 104 OpenLM models (Gadre et al. 2024), one row per model and task.

    Parameters
    ----------
    eval_domain : str, default "c4_val"
        Eval domain whose loss is attached to each model (see :func:`load_openlm`);
        Gadre et al. (2024, §4) relate downstream error to the C4 eval loss.

    Returns
    -------
    pandas.DataFrame
        4784 rows (104 models x 46 tasks): ``run_name``, ``train_dataset``, ``params``,
        ``tokens``, ``chinchilla_multiplier``, ``loss`` (nats/token on ``eval_domain``),
        ``task``, ``metric`` (accuracy in [0, 1]), ``chance`` (the task's random
        baseline as a fraction, from ``eval_metadata.csv``, where it is in percent),
        ``n_items`` (the task's number of examples), ``task_type``, ``task_category``.

    Raises
    ------
    KeyError
        For an unknown eval domain (the message lists the known ones).

    Notes
    -----
    Source: ``exp_data/evals/*.json`` (``icl`` scores) and ``exp_data/eval_metadata.csv`` of
    github.com/mlfoundations/scaling (MIT), see ``PROVENANCE.md``.
    """
    wide = _read("openlm_downstream_wide.csv")
    meta = _read("eval_metadata.csv").set_index("Eval Task")
    losses = _read("openlm_losses_long.csv")
    known = sorted(losses["eval_domain"].unique())
    if eval_domain not in known:
        raise KeyError(f"unknown eval domain '{eval_domain}'; known: {known}.")
    loss = losses[losses["eval_domain"] == eval_domain].set_index("run_name")["loss"]
    ids = ["run_name", "train_dataset", "params", "tokens", "chinchilla_multiplier"]
    tasks = [c for c in wide.columns if c in meta.index]
    long = wide[ids + tasks].melt(id_vars=ids, var_name="task", value_name="metric")
    long.insert(len(ids), "loss", long["run_name"].map(loss).astype(float))
    long["params"] = long["params"].astype(float)
    long["tokens"] = long["tokens"].astype(float)
    long["chance"] = long["task"].map(meta["Random baseline"]).astype(float) / 100.0
    long["n_items"] = long["task"].map(meta["#datapoints"]).astype(int)
    long["task_type"] = long["task"].map(meta["Task Type"])
    long["task_category"] = long["task"].map(meta["Task Category"])
    long.attrs["citation"] = _CITATIONS["openlm"]
    long.attrs["eval_domain"] = eval_domain
    return long


def openlm_transfer_split(max_params: float = 1.6e8, max_runs_per_domain: int = 4) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The transfer test: a few small runs per domain, forecasts of the large ones.

    The design follows Gadre et al. (2024, §3): a ladder of models at the
    compute-optimal 20 tokens per parameter plus one over-trained run. With
    N <= 154M this is the three sizes 11M, 79M and 154M at 20 tokens/param and
    the 154M model at 320 tokens/param (multiplier 16), i.e. 4 runs per domain.
    The held-out runs are all runs with N >= 1.4B (1.4B and 6.9B parameters).

    Parameters
    ----------
    max_params : float, default 1.6e8
        Largest model size used for fitting.
    max_runs_per_domain : int, default 4
        Number of fitting runs kept per domain (the design above, truncated).

    Returns
    -------
    (train, heldout) : tuple of pandas.DataFrame
        Both in the format of :func:`load_openlm`; 24 domains.
    """
    df = load_openlm()
    small = df[df["params"] <= max_params]
    mult = small["tokens_per_param"] / 20.0
    sizes = np.sort(small["params"].unique())
    at20 = small[np.isclose(mult, 1.0)]
    over = small[np.isclose(mult, 16.0) & (small["params"] == sizes.max())]
    train = pd.concat([at20, over]).sort_values(["domain", "params", "tokens"])
    train = train.groupby("domain", sort=False).head(max_runs_per_domain).reset_index(drop=True)
    heldout = df[df["params"] >= 1e9].sort_values(["domain", "params", "tokens"]).reset_index(drop=True)
    return train, heldout


def load_datablations() -> pd.DataFrame:
    """Data-constrained runs with repeated data (Muennighoff et al. 2023).

    Returns
    -------
    pandas.DataFrame
        229 rows: ``params``, ``tokens`` (D, total tokens seen), ``unique_tokens`` (U),
        ``epochs`` (D / U), ``flops`` (6 N D), ``loss`` (nats/token), ``domain`` (``"c4"``).
    """
    raw = _read("datablations_final_losses_clean.csv")
    df = pd.DataFrame(
        {
            "params": raw["params"].astype(float),
            "tokens": raw["tokens"].astype(float),
            "unique_tokens": raw["unique_tokens"].astype(float),
            "epochs": raw["epochs"].astype(float),
            "flops": 6.0 * raw["params"].astype(float) * raw["tokens"].astype(float),
            "loss": raw["loss"].astype(float),
            "domain": raw["train_data"].astype(str),
        }
    )
    df.attrs["citation"] = _CITATIONS["datablations"]
    return df


def load_routing(dense_only: bool = True, eval_set: str = "validation") -> pd.DataFrame:
    """Final losses of the routing scaling-law runs (Clark et al. 2022).

    Parameters
    ----------
    dense_only : bool, default True
        Keep the 13 dense models only (the mixture-of-experts models have a
        different parameter-count meaning).
    eval_set : str, default "validation"
        One of ``c4``, ``curation_corpus``, ``lambada``, ``pile``, ``validation``, ``wikitext103``.

    Returns
    -------
    pandas.DataFrame
        ``params`` (total parameters), ``tokens`` (tokens seen at the final step),
        ``flops`` (6 N D), ``loss``, ``domain`` (the router type), ``num_experts``.
    """
    raw = _read("routing_final.csv")
    if dense_only:
        raw = raw[raw["router_type"] == "Dense"]
    col = f"loss_{eval_set}"
    step = raw[f"step_{eval_set}"].astype(float)
    tokens = step * 2048 * 256
    df = pd.DataFrame(
        {
            "params": raw["total_parameter_count"].astype(float),
            "tokens": tokens,
            "flops": 6.0 * raw["total_parameter_count"].astype(float) * tokens,
            "loss": raw[col].astype(float),
            "domain": raw["router_type"].astype(str),
            "num_experts": raw["num_experts"].astype(int),
        }
    ).dropna().reset_index(drop=True)
    df.attrs["citation"] = _CITATIONS["routing"]
    return df


#: Names of the embedded data sets (the keys of :func:`citation` and :func:`load`).
NAMES = tuple(_CITATIONS)


def load(name: str) -> pd.DataFrame:
    """An embedded data set by name: the default table of its loader (``load_<name>()``).

    Parameters
    ----------
    name : {"chinchilla", "openlm", "datablations", "routing"}

    Returns
    -------
    pandas.DataFrame
        As :func:`load_chinchilla`, :func:`load_openlm`, :func:`load_datablations` or :func:`load_routing`.

    Raises
    ------
    KeyError
        For an unknown data set name.
    """
    loaders = {"chinchilla": load_chinchilla, "openlm": load_openlm, "datablations": load_datablations,
               "routing": load_routing}
    return loaders[name]()


#: Relative tolerance within which a row's sizes and loss equal an embedded run's (:func:`embedded_runs`): a copy
#: rounded to 3 significant digits (at most 0.5 % off) is still the same run; a loss 1 % off is another run.
RUN_MATCH_TOLERANCE = 5e-3


def embedded_runs(table: pd.DataFrame, name: str, tolerance: float = RUN_MATCH_TOLERANCE) -> np.ndarray:
    """Which rows of a runs table are runs of an embedded data set.

    A row is one of the data set's runs when its sizes and its loss all equal that run's to a relative
    ``tolerance``. The sizes are N and D (``params``, ``tokens``) when the table has both, else whichever of
    ``params``, ``tokens`` and ``flops`` it has (C alone for a compute-only table); the loss is compared when
    the table has a ``loss`` column. This is the one test of "these runs were seen before" for the warnings
    that a prior or a published fit was made on a user's runs (:mod:`bayes_scaling.inputs`,
    :mod:`bayes_scaling.backtest`).

    Parameters
    ----------
    table : pandas.DataFrame
        n runs: ``params``, ``tokens`` and/or ``flops`` (positive), optionally ``loss`` (nats per token).
    name : str
        An embedded data set, one of :data:`NAMES`; any other name matches nothing.
    tolerance : float, default :data:`RUN_MATCH_TOLERANCE`
        Largest relative difference (of natural logs) of every compared column.

    Returns
    -------
    ndarray of bool, shape (n,)
        True for the rows that are runs of ``name``; all False when the table has no size column or
        ``name`` is not embedded.
    """
    from scipy.spatial import cKDTree

    found = np.zeros(len(table), bool)
    sizes = ["params", "tokens"] if {"params", "tokens"} <= set(table.columns) else \
        [c for c in ("params", "tokens", "flops") if c in table.columns]
    if name not in NAMES or not sizes or not len(table):
        return found
    cols = sizes + (["loss"] if "loss" in table.columns else [])
    ref = load(name)[cols].to_numpy(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        keys = np.log(table[cols].to_numpy(float))
    ok = np.isfinite(keys).all(axis=1)
    if ok.any():
        dist, _ = cKDTree(np.log(ref)).query(keys[ok], k=1, p=np.inf, distance_upper_bound=tolerance * (1 + 1e-9))
        found[ok] = np.isfinite(dist)
    return found


def embedded(source) -> str | None:
    """The embedded data set that a runs argument names, or None for a file.

    ``bayes-scaling fit chinchilla`` and ``backtest datablations`` read the embedded runs by name, as
    ``--reference chinchilla`` does; a file of that name in the working directory wins.

    Parameters
    ----------
    source : str or path-like
        What the user gave as the runs table.

    Returns
    -------
    str or None
        One of :data:`NAMES`, or None when ``source`` is not one of them or a file of that name exists.
    """
    name = str(source)
    return name if name in NAMES and not Path(name).exists() else None
