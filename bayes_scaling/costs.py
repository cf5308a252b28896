"""Floor 0. Costs and value of a training plan, in the user's currency.

A deliberately small, explicit model: every number is given by the user (a
TOML file or Python), every formula is printed by :meth:`CostModel.formulas_text`
so a report can show it next to the result.

Costs of a plan with N parameters trained on D tokens, U of them unique
(U = D unless the plan says otherwise):

* **training** ``C_train = 6 N D`` FLOPs (Kaplan et al. 2020, §2.1; Hoffmann et
  al. 2022, §3), priced per FLOP. The price per FLOP is given directly
  (``price_per_flop``) or derived from a GPU-hour price, the GPU's peak FLOP/s
  and the model FLOP utilisation (MFU, Chowdhery et al. 2022, App. B):
  ``price_per_flop = price_per_gpu_hour / (3600 * gpu_peak_flops * utilization)``.
* **data**: ``price_per_unique_token * U``. Repeating data costs compute, not
  data (the unique-token budget of the data-constrained law, Muennighoff et al. 2023).
* **inference**: ``tokens_served * 2 N`` FLOPs (a forward pass costs 2 N FLOPs per
  token, Kaplan et al. 2020 Table 1; used for lifetime cost by Sardana et al. 2024,
  arXiv:2401.00448), priced per FLOP like training (with its own price, GPU and
  utilisation if given, otherwise the training price).
* **fixed**: ``fixed_cost_per_run`` (staff, evaluation, anything that does not scale).

The value of a plan is given by :class:`ValueModel`: money per unit of metric
improvement over a baseline (linear), or a table of (metric, money) points
interpolated linearly.
"""

from __future__ import annotations

import math
import tomllib
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ._text import did_you_mean

__all__ = ["CostModel", "ValueModel", "CostsFileError", "load_costs", "load_value", "GPU_PRESETS",
           "GPU_PEAK_FLOPS_RANGE"]

#: Dense BF16 peak FLOP/s of common accelerators, from the vendors' data sheets
#: (NVIDIA A100 SXM 312 TFLOP/s; H100 SXM 989 TFLOP/s without sparsity). Use them as
#: ``gpu = "h100"`` in a costs file, or give ``gpu_peak_flops`` instead (not both).
GPU_PRESETS = {"a100": 312e12, "h100": 989e12}
#: Range of ``gpu_peak_flops`` accepted (FLOP/s of one accelerator): from 1e11, below any GPU used for training
#: (an NVIDIA K80 has 8.7e12 FP32), to 1e17, above any announced one (B200: 2e16 sparse FP4). A value outside is
#: a unit slip: 312 for an A100's 312e12 priced a 1.4B run at 4e16 EUR without a word (a fresh user).
GPU_PEAK_FLOPS_RANGE = (1e11, 1e17)


class CostsFileError(ValueError):
    """A costs or value file (or dict) is missing a key, has a bad value, or is unreadable.

    The message names the key and the fix.
    """


def _number(section: dict, key: str, where: str, *, positive: bool = False, allow_zero: bool = True,
            at_most: float | None = None) -> float | None:
    if key not in section:
        return None
    v = section[key]
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise CostsFileError(f"{where}{key} must be a number, got {v!r}; write e.g. {key} = 2.5 (no quotes, no units).")
    v = float(v)
    if not math.isfinite(v):
        raise CostsFileError(f"{where}{key} must be finite, got {v!r}.")
    if v < 0 or (v == 0 and not allow_zero) or (positive and v <= 0):
        need = "positive" if (positive or not allow_zero) else "zero or positive"
        raise CostsFileError(f"{where}{key} must be {need}, got {v:g}.")
    if at_most is not None and v > at_most:
        raise CostsFileError(f"{where}{key} must be at most {at_most:g}, got {v:g}; give a fraction "
                             f"(0.4 for 40 %).")
    return v


def _price_per_flop(section: dict, where: str, required: bool) -> tuple[float | None, str]:
    """Price per FLOP from a [training] or [inference] table and how it was obtained."""
    direct = _number(section, "price_per_flop", where)
    hourly = _number(section, "price_per_gpu_hour", where)
    peak = _number(section, "gpu_peak_flops", where, positive=True)
    lo, hi = GPU_PEAK_FLOPS_RANGE
    if peak is not None and not lo <= peak <= hi:
        hint = f" (did you mean {peak:g}e12, in TFLOP/s?)" if 1 <= peak < 1e5 else ""
        raise CostsFileError(f"{where}gpu_peak_flops is the peak FLOP/s of one GPU, between {lo:.0e} and {hi:.0e}; got "
                             f"{peak:g}{hint}: e.g. 312e12 for an A100, 989e12 for an H100 (BF16 dense).")
    gpu = section.get("gpu")
    if gpu is not None and peak is not None:  # as price_per_flop and price_per_gpu_hour: one source of a number
        raise CostsFileError(f"{where}gpu and gpu_peak_flops are both given; keep one (gpu = \"{gpu}\" means "
                             f"{GPU_PRESETS.get(str(gpu).lower(), float('nan')):.3g} FLOP/s).")
    if gpu is not None:
        if not isinstance(gpu, str) or gpu.lower() not in GPU_PRESETS:
            raise CostsFileError(f"{where}gpu must be one of {sorted(GPU_PRESETS)}, got {gpu!r}; or give "
                                 f"gpu_peak_flops (FLOP/s) instead.")
        peak = GPU_PRESETS[gpu.lower()]
    util = _number(section, "utilization", where, positive=True, at_most=1.0)
    if direct is not None and hourly is not None:
        raise CostsFileError(f"{where}price_per_flop and price_per_gpu_hour are both given; keep one.")
    if direct is not None:
        return direct, "price_per_flop"
    if hourly is not None:
        missing = [k for k, v in (("gpu_peak_flops", peak), ("utilization", util)) if v is None]
        if missing:
            raise CostsFileError(
                f"{where}price_per_gpu_hour needs {' and '.join(missing)}: add e.g. gpu_peak_flops = 989e12 "
                f"(H100 BF16 dense, or gpu = \"h100\") and utilization = 0.4 (model FLOP utilisation).")
        return hourly / (3600.0 * peak * util), f"price_per_gpu_hour / (3600 s * {peak:.3g} FLOP/s * {util:g})"
    if required:
        raise CostsFileError(
            f"{where}needs a compute price: add price_per_flop = 1.5e-18, or price_per_gpu_hour = 2.0 with "
            f"gpu_peak_flops = 989e12 and utilization = 0.4.")
    return None, ""


@dataclass(frozen=True)
class CostModel:
    """Prices of training compute, data and inference, in one currency.

    Parameters
    ----------
    price_per_flop : float
        Money per training FLOP. Use :meth:`from_gpu_hours` to derive it from a
        GPU-hour price, peak FLOP/s and utilisation.
    price_per_unique_token : float, default 0
        Money per unique training token (data acquisition, licensing, cleaning).
    tokens_served : float, default 0
        Tokens the model will serve over its life (each costs 2 N FLOPs).
    inference_price_per_flop : float, optional
        Money per inference FLOP; default: ``price_per_flop``.
    fixed_cost_per_run : float, default 0
        Cost of a run that does not scale with N or D.
    currency : str, default "USD"
        Name printed with every amount.
    source : str, default ""
        How the price per FLOP was obtained (printed in :meth:`formulas_text`).

    Raises
    ------
    CostsFileError
        For negative or non-finite prices.
    """

    price_per_flop: float
    price_per_unique_token: float = 0.0
    tokens_served: float = 0.0
    inference_price_per_flop: float | None = None
    fixed_cost_per_run: float = 0.0
    currency: str = "USD"
    source: str = ""

    def __post_init__(self):
        for k in ("price_per_flop", "price_per_unique_token", "tokens_served", "fixed_cost_per_run",
                  "inference_price_per_flop"):
            v = getattr(self, k)
            if v is None:
                continue
            _number({k: v}, k, "CostModel.")
        if not isinstance(self.currency, str) or not self.currency.strip():
            raise CostsFileError("currency must be a non-empty name, e.g. currency = \"EUR\".")

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_gpu_hours(cls, price_per_gpu_hour: float, gpu_peak_flops: float, utilization: float, **kwargs) -> CostModel:
        """Cost model with the FLOP price derived from GPU-hours.

        ``price_per_flop = price_per_gpu_hour / (3600 * gpu_peak_flops * utilization)``.

        Parameters
        ----------
        price_per_gpu_hour : float
            Money per GPU-hour.
        gpu_peak_flops : float
            Peak FLOP/s of one GPU at the training precision (e.g. 989e12, H100 BF16 dense).
        utilization : float
            Model FLOP utilisation in (0, 1] (typically 0.3-0.5 for large dense models;
            Chowdhery et al. 2022, Table 3).
        **kwargs
            Other :class:`CostModel` fields.

        Returns
        -------
        CostModel
        """
        sec = {"price_per_gpu_hour": price_per_gpu_hour, "gpu_peak_flops": gpu_peak_flops, "utilization": utilization}
        ppf, src = _price_per_flop(sec, "", required=True)
        return cls(price_per_flop=ppf, source=src, **kwargs)

    @classmethod
    def from_dict(cls, spec: dict) -> CostModel:
        """Cost model from a dict with the layout of a costs TOML file (see :func:`load_costs`).

        Raises
        ------
        CostsFileError
            Missing or bad keys, with the key and the fix in the message.
        """
        if not isinstance(spec, dict):
            raise CostsFileError("a costs specification must be a table (dict).")
        known_top = {"currency", "training", "data", "inference", "fixed_cost_per_run", "value"}
        unknown = sorted(set(spec) - known_top)
        if unknown:
            raise CostsFileError(f"unknown key(s) {unknown} at the top of the costs file; known: {sorted(known_top)}.")
        currency = spec.get("currency", "USD")
        if not isinstance(currency, str) or not currency.strip():
            raise CostsFileError(f"currency must be a name in quotes, e.g. currency = \"EUR\", got {currency!r}.")
        for name in ("training", "data", "inference"):
            if name in spec and not isinstance(spec[name], dict):
                raise CostsFileError(f"[{name}] must be a table: write it as a [{name}] section.")
        if "training" not in spec:
            raise CostsFileError("missing [training] section: add [training] with price_per_flop = 1.5e-18, or "
                                 "price_per_gpu_hour = 2.0, gpu_peak_flops = 989e12 and utilization = 0.4.")
        train = spec["training"]
        _check_keys(train, {"price_per_flop", "price_per_gpu_hour", "gpu_peak_flops", "gpu", "utilization"}, "training")
        ppf, src = _price_per_flop(train, "[training] ", required=True)
        data = spec.get("data", {})
        _check_keys(data, {"price_per_unique_token"}, "data")
        ppt = _number(data, "price_per_unique_token", "[data] ") or 0.0
        inf = spec.get("inference", {})
        _check_keys(inf, {"tokens_served", "price_per_flop", "price_per_gpu_hour", "gpu_peak_flops", "gpu",
                          "utilization"}, "inference")
        served = _number(inf, "tokens_served", "[inference] ") or 0.0
        ippf, isrc = _price_per_flop(inf, "[inference] ", required=False)
        fixed = _number(spec, "fixed_cost_per_run", "") or 0.0
        return cls(price_per_flop=ppf, price_per_unique_token=ppt, tokens_served=served,
                   inference_price_per_flop=ippf, fixed_cost_per_run=fixed, currency=currency.strip(),
                   source=src + (f"; inference: {isrc}" if isrc else ""))

    # ------------------------------------------------------------------ costs
    @property
    def inference_flop_price(self) -> float:
        """Money per inference FLOP (``inference_price_per_flop`` or the training price)."""
        return self.price_per_flop if self.inference_price_per_flop is None else self.inference_price_per_flop

    def training_cost(self, params, tokens) -> np.ndarray:
        """Training compute cost ``price_per_flop * 6 N D``.

        Parameters
        ----------
        params, tokens : array_like
            N (parameters) and D (training tokens, repeats included), broadcastable.

        Returns
        -------
        ndarray
            Money, broadcast shape.
        """
        return self.price_per_flop * 6.0 * np.asarray(params, float) * np.asarray(tokens, float)

    def data_cost(self, tokens, unique_tokens=None) -> np.ndarray:
        """Data cost ``price_per_unique_token * U`` with ``U = unique_tokens`` (default: ``U = D``).

        Parameters
        ----------
        tokens : array_like
            D, training tokens.
        unique_tokens : array_like, optional
            U, unique tokens (U <= D; epochs = D / U). Default: every token unique.

        Returns
        -------
        ndarray
            Money.

        Raises
        ------
        ValueError
            If some ``unique_tokens`` exceed ``tokens``.
        """
        d = np.asarray(tokens, float)
        u = d if unique_tokens is None else np.asarray(unique_tokens, float)
        if np.any(u > d * (1 + 1e-12)):
            raise ValueError("unique_tokens cannot exceed tokens (U <= D); a plan repeats data, it cannot skip it.")
        return self.price_per_unique_token * np.broadcast_to(u, np.broadcast_shapes(d.shape, u.shape))

    def inference_cost(self, params) -> np.ndarray:
        """Inference cost ``inference_price_per_flop * tokens_served * 2 N`` (Sardana et al. 2024).

        Parameters
        ----------
        params : array_like
            N.

        Returns
        -------
        ndarray
            Money.
        """
        return self.inference_flop_price * self.tokens_served * 2.0 * np.asarray(params, float)

    def total_cost(self, params, tokens, unique_tokens=None) -> np.ndarray:
        """Training + data + inference + fixed cost of plans.

        Parameters
        ----------
        params, tokens : array_like
        unique_tokens : array_like, optional

        Returns
        -------
        ndarray
            Money.
        """
        return self.run_cost(params, tokens, unique_tokens) + self.inference_cost(params)

    def run_cost(self, params, tokens, unique_tokens=None) -> np.ndarray:
        """Cost of a run that is not deployed (a pilot): training + data + fixed, no inference.

        Parameters
        ----------
        params, tokens : array_like
        unique_tokens : array_like, optional

        Returns
        -------
        ndarray
            Money.
        """
        return self.training_cost(params, tokens) + self.data_cost(tokens, unique_tokens) + self.fixed_cost_per_run

    def breakdown(self, plans) -> "pd.DataFrame":  # noqa: F821
        """Cost components of plans as a table.

        Parameters
        ----------
        plans : pandas.DataFrame
            Columns ``params``, ``tokens``, optional ``unique_tokens``.

        Returns
        -------
        pandas.DataFrame
            ``training_cost``, ``data_cost``, ``inference_cost``, ``fixed_cost``, ``total_cost``,
            one row per plan, in :attr:`currency`.
        """
        import pandas as pd

        n, d = plans["params"].to_numpy(float), plans["tokens"].to_numpy(float)
        u = plans["unique_tokens"].to_numpy(float) if "unique_tokens" in plans else None
        out = pd.DataFrame({
            "training_cost": self.training_cost(n, d),
            "data_cost": self.data_cost(d, u),
            "inference_cost": self.inference_cost(n),
            "fixed_cost": np.full(len(n), self.fixed_cost_per_run),
        }, index=plans.index)
        out["total_cost"] = out.sum(axis=1)
        return out

    def tokens_for_budget(self, params, budget, unique_tokens=None) -> np.ndarray:
        """Training tokens D that exhaust a money budget at model size N.

        Solves ``total_cost(N, D) = budget`` for D. With every token unique
        (``unique_tokens`` None): ``D = (budget - fixed - inference(N)) / (6 N p_flop + p_token)``.
        With a unique-token budget U (data repeated beyond it):
        data cost is ``p_token * min(D, U)``, and D is found piecewise.

        Parameters
        ----------
        params : array_like
            N.
        budget : array_like
            Money, broadcastable with N.
        unique_tokens : float, optional
            Largest number of unique tokens available.

        Returns
        -------
        ndarray
            D (NaN where the budget does not cover the fixed and inference costs).
        """
        n = np.asarray(params, float)
        left = np.asarray(budget, float) - self.fixed_cost_per_run - self.inference_cost(n)
        per_token = 6.0 * n * self.price_per_flop
        with np.errstate(divide="ignore", invalid="ignore"):
            d = left / (per_token + self.price_per_unique_token)
            if unique_tokens is not None:
                u = float(unique_tokens)
                beyond = d > u  # past U, extra tokens are repeats: compute only
                d_rep = (left - self.price_per_unique_token * u) / per_token
                d = np.where(beyond, d_rep, d)
        return np.where(left > 0, d, np.nan)

    def formulas_text(self) -> str:
        """The cost formulas with this model's numbers, in plain text for a report.

        Returns
        -------
        str
            One line per component.
        """
        c = self.currency
        lines = [
            f"Training: 6 x N x D FLOPs x {self.price_per_flop:.4g} {c}/FLOP"
            + (f" ({self.source.split(';')[0]})" if self.source else "")
            + " (Kaplan et al. 2020; Hoffmann et al. 2022).",
            f"Data: unique tokens U x {self.price_per_unique_token:.4g} {c}/token (U = D unless data are repeated; "
            "repeats cost compute only, Muennighoff et al. 2023).",
            f"Inference: {self.tokens_served:.4g} tokens served x 2 x N FLOPs x {self.inference_flop_price:.4g} {c}/FLOP "
            "(Sardana et al. 2024).",
            f"Fixed: {self.fixed_cost_per_run:.4g} {c} per run.",
            "Total = training + data + inference + fixed.",
        ]
        return "\n".join(lines)


def _check_keys(section: dict, known: set[str], name: str) -> None:
    unknown = sorted(set(section) - known)
    if unknown:
        hints = []
        for k in unknown:
            hint = did_you_mean(k, sorted(known))
            hints.append(f"'{k}'" + (f" ({hint})" if hint else ""))
        raise CostsFileError(f"unknown key {', '.join(hints)} in [{name}]; known keys: {sorted(known)}.")


@dataclass(frozen=True)
class ValueModel:
    """Money earned by an improvement of a metric.

    Two forms:

    * **linear**: ``value = money_per_unit * (metric - baseline) / unit`` for a metric
      where higher is better (accuracy, pass rate), ``(baseline - metric) / unit`` where
      lower is better (loss, error). ``unit`` is the size of one unit on the metric's
      scale: 0.01 for "per accuracy point" when accuracy is a fraction.
    * **table**: points ``(metric, money)`` interpolated linearly (``numpy.interp``),
      constant beyond the first and last point (no extrapolation of a value nobody stated).

    With ``keep_current=True`` (default) a plan that turns out worse than the baseline
    earns 0, not a loss: the current product is kept (the value is ``max(value, 0)``).

    Parameters
    ----------
    metric : str
        Name of the metric (``"accuracy"``, ``"loss"``, a task name); printed in reports.
    higher_is_better : bool
    baseline : float, optional
        Metric of the current product (linear form).
    money_per_unit : float, optional
        Money per unit of improvement (linear form); zero gives no value.
    unit : float, default 1
        Size of a unit on the metric's scale.
    table : tuple of (metric, money) pairs, optional
        Table form; money must not decrease as the metric improves.
    keep_current : bool, default True
    currency : str, default "USD"

    Raises
    ------
    CostsFileError
        Neither or both forms given, a table that is not monotone, bad numbers.
    """

    metric: str = "accuracy"
    higher_is_better: bool = True
    baseline: float | None = None
    money_per_unit: float | None = None
    unit: float = 1.0
    table: tuple[tuple[float, float], ...] | None = None
    keep_current: bool = True
    currency: str = "USD"
    _xy: tuple = field(default=(), init=False, repr=False, compare=False)

    def __post_init__(self):
        linear = self.money_per_unit is not None
        if linear == (self.table is not None):
            raise CostsFileError("give the value either as money_per_unit with baseline (linear) or as a table of "
                                 "[metric, money] points, not both and not neither.")
        if linear:
            if self.baseline is None:
                raise CostsFileError("a linear value needs baseline = the metric of the current product, e.g. "
                                     "baseline = 0.62.")
            _number({"money_per_unit": self.money_per_unit}, "money_per_unit", "[value] ")
            if isinstance(self.baseline, bool) or not isinstance(self.baseline, (int, float)) or not math.isfinite(
                    self.baseline):
                raise CostsFileError(f"[value] baseline must be a finite number, got {self.baseline!r}.")
            _number({"unit": self.unit}, "unit", "[value] ", positive=True)
        else:
            try:
                pts = np.asarray(self.table, float)
            except (TypeError, ValueError) as exc:
                raise CostsFileError(f"[value] table must be a list of [metric, money] pairs: {exc}") from None
            if pts.ndim != 2 or pts.shape[1] != 2 or len(pts) < 2 or not np.all(np.isfinite(pts)):
                raise CostsFileError("[value] table must have at least two [metric, money] pairs of finite numbers, "
                                     "e.g. table = [[0.60, 0], [0.70, 5e6]].")
            order = np.argsort(pts[:, 0])
            x, y = pts[order, 0], pts[order, 1]
            if np.any(np.diff(x) == 0):
                raise CostsFileError("[value] table repeats a metric value; give each metric once.")
            better = y if self.higher_is_better else y[::-1]
            if np.any(np.diff(better) < 0):
                raise CostsFileError("[value] table: money must not decrease as the metric improves (a better model "
                                     "can always be used like the current one); check the order of the points.")
            object.__setattr__(self, "_xy", (x, y))

    @classmethod
    def from_dict(cls, spec: dict, currency: str = "USD") -> ValueModel:
        """Value model from a ``[value]`` table of a TOML file (see :func:`load_value`).

        Raises
        ------
        CostsFileError
        """
        if not isinstance(spec, dict):
            raise CostsFileError("[value] must be a table: write it as a [value] section.")
        _check_keys(spec, {"metric", "higher_is_better", "baseline", "money_per_unit", "unit", "table",
                           "keep_current"}, "value")
        kw = {k: spec[k] for k in ("metric", "higher_is_better", "baseline", "money_per_unit", "unit", "keep_current")
              if k in spec}
        for k in ("higher_is_better", "keep_current"):
            if k in kw and not isinstance(kw[k], bool):
                raise CostsFileError(f"[value] {k} must be true or false, got {kw[k]!r}.")
        for k in ("baseline", "money_per_unit", "unit"):
            if k in kw and (isinstance(kw[k], bool) or not isinstance(kw[k], (int, float))):
                raise CostsFileError(f"[value] {k} must be a number, got {kw[k]!r}.")
        if "table" in spec:
            kw["table"] = tuple(tuple(p) for p in spec["table"]) if isinstance(spec["table"], list) else spec["table"]
        return cls(currency=currency, **kw)

    @classmethod
    def zero(cls, metric: str = "accuracy", currency: str = "USD") -> ValueModel:
        """A value model that earns nothing (for checks: every plan with a cost loses money)."""
        return cls(metric=metric, baseline=0.0, money_per_unit=0.0, currency=currency)

    def value(self, metric) -> np.ndarray:
        """Money earned at metric values.

        Parameters
        ----------
        metric : array_like
            Metric values (any shape), on the metric's own scale.

        Returns
        -------
        ndarray
            Money, same shape.
        """
        m = np.asarray(metric, float)
        if self.table is None:
            gain = (m - self.baseline) if self.higher_is_better else (self.baseline - m)
            v = self.money_per_unit * gain / self.unit
        else:
            x, y = self._xy
            v = np.interp(m, x, y)
        return np.maximum(v, 0.0) if self.keep_current else v

    def formula_text(self) -> str:
        """The value formula with its numbers, in plain text."""
        c = self.currency
        if self.table is None:
            sign = f"({self.metric} - {self.baseline:g})" if self.higher_is_better else f"({self.baseline:g} - {self.metric})"
            txt = f"Value: {self.money_per_unit:.4g} {c} per {self.unit:g} of {self.metric} x {sign} / {self.unit:g}"
        else:
            pts = ", ".join(f"{x:g} -> {y:.4g}" for x, y in zip(*self._xy, strict=True))
            txt = f"Value: {self.metric} interpolated linearly in the table {pts} {c} (constant beyond its ends)"
        if self.keep_current:
            txt += "; a plan worse than the current product earns 0 (the current one is kept)"
        return txt + "."


def _read_toml(path, what: str = "costs file") -> dict:
    p = Path(path)
    try:
        with p.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise CostsFileError(f"{what} '{p}' does not exist; check the path.") from None
    except tomllib.TOMLDecodeError as exc:
        raise CostsFileError(f"{what} '{p}' is not valid TOML ({exc}); numbers without quotes, names in quotes, "
                             "sections as [training].") from None


def load_costs(path) -> CostModel:
    """Read a cost model from a TOML file.

    Layout (every price in ``currency``)::

        currency = "USD"
        fixed_cost_per_run = 0            # optional
        [training]
        price_per_gpu_hour = 2.0          # or: price_per_flop = 1.4e-18
        gpu = "h100"                      # or gpu_peak_flops = 989e12
        utilization = 0.4
        [data]                            # optional
        price_per_unique_token = 1e-9
        [inference]                       # optional
        tokens_served = 1e12
        # price_per_flop / price_per_gpu_hour ...: default the training price

    Parameters
    ----------
    path : str or Path

    Returns
    -------
    CostModel

    Raises
    ------
    CostsFileError
        Unreadable file, invalid TOML, missing or bad keys (the message names the key and the fix).

    Warns
    -----
    UserWarning
        The file names no ``currency`` (its prices are then read as USD).
    """
    spec = _read_toml(path)
    try:
        model = CostModel.from_dict(spec)
    except CostsFileError as exc:  # which file, when a decision reads two (a fresh user)
        raise CostsFileError(f"costs file '{path}': {exc}") from None
    if "currency" not in spec:  # USD is the documented default, but a report labelled USD for EUR prices is wrong
        warnings.warn(f"costs file '{path}' names no currency: its prices are read as USD and the report says USD; "
                      "add currency = \"EUR\" (or yours) at the top of the file.", UserWarning, stacklevel=2)
    return model


def load_value(path, currency: str | None = None) -> ValueModel:
    """Read a value model from the ``[value]`` section of a TOML file (the costs file may hold it).

    Layout::

        currency = "USD"
        [value]
        metric = "accuracy"
        higher_is_better = true
        baseline = 0.62                   # linear form:
        money_per_unit = 2e6              # 2 M per accuracy point ...
        unit = 0.01                       # ... where a point is 0.01
        # table = [[0.60, 0], [0.65, 1e6], [0.70, 5e6]]   # or a table

    Parameters
    ----------
    path : str or Path
    currency : str, optional
        The currency of a file that names none, e.g. the costs file's (a value file without ``currency`` beside
        EUR costs was read as USD and refused as "in USD"; a fresh user); default USD.

    Returns
    -------
    ValueModel

    Raises
    ------
    CostsFileError
    """
    spec = _read_toml(path, "value file")
    if "value" not in spec:
        raise CostsFileError(f"'{path}' has no [value] section: add [value] with baseline and money_per_unit, or a "
                             "table of [metric, money] points.")
    try:
        return ValueModel.from_dict(spec["value"], currency=spec.get("currency", currency or "USD"))
    except CostsFileError as exc:
        raise CostsFileError(f"value file '{path}': {exc}") from None
