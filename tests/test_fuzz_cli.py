"""Issue 7: fuzz the loaders and the CLI with random and malformed CSV files.

Inputs are generated deterministically (seeded NumPy RNG, and hypothesis with
``derandomize=True``). The contract:

* loaders: either a validated table (whose numbers really are finite, positive
  and equal to the numbers in the file) or a :class:`RunsTableError`, never
  another exception;
* CLI (``main([...])`` in-process): exit code 0, 2 or 4, exactly one ``error:``
  line when non-zero, never a traceback; ``fit`` never samples invalid input.
"""

from __future__ import annotations

import csv
import io
import math
import warnings
from collections import Counter

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import bayes_scaling.cli as cli_module
import bayes_scaling.fit as fit_module
import bayes_scaling.inference as inference_module
from bayes_scaling.cli import main
from bayes_scaling.data import RunsTableError, read_runs, validate_runs, validate_targets

WEIRD_VALUES = [
    "", " ", "nan", "NaN", "NA", "N/A", "null", "None", "inf", "-inf", "Infinity", "-1", "0", "-0", "1e308",
    "1e-308", "5e-324", "1e400", "-1e400", "abc", "1,000,000", "1 000", "TRUE", "false", "1e9e9", "１２３", "١٢٣",
    "1_000", "0x10", "+5e9", " 3 ", "3.", ".5", "ü", "😀", "\"", "''", "7B", "1.4T", "2,5", "1e9;2", "\\N",
    "=1+1", "\t", "1e-400", "9" * 400, "0.000", "1e15", "1e25",
]
NAMES = ["params", "tokens", "loss", "flops", "domain", "unique_tokens", "label", "param", "Params", "Loss", "N", "D",
         "L", "toks", "final_loss", "compute", "", " params", "loss ", "ünïcödé", "名前", "a,b", "x\ny", "\ufeffparams"]
SEPS = [",", ";", "\t", "|", " "]


def _cell(v: str, rng) -> str:
    """Quote a cell like a CSV writer would (sometimes, to fuzz the quoting too)."""
    if any(ch in v for ch in ',"\n') or rng.random() < 0.05:
        return '"' + v.replace('"', '""') + '"'
    return v


def _valid_columns(rng, n, kind):
    log_n = rng.uniform(np.log(1e6), np.log(1e11), n)
    params = np.exp(log_n)
    tokens = params * np.exp(rng.uniform(np.log(1), np.log(1000), n))
    cols = {"params": [f"{x:.6g}" for x in params]}
    if kind == "targets" and rng.random() < 0.3:
        cols["flops"] = [f"{6 * a * b:.6g}" for a, b in zip(params, tokens, strict=True)]
    else:
        cols["tokens"] = [f"{x:.6g}" for x in tokens]
    if kind == "runs":
        loss = 1.8 + 400 / params**0.34 + 400 / tokens**0.28
        cols["loss"] = [f"{x:.5g}" for x in loss]
        if rng.random() < 0.2:
            cols["flops"] = [f"{6 * a * b:.6g}" for a, b in zip(params, tokens, strict=True)]
        if rng.random() < 0.15:
            cols["unique_tokens"] = [f"{x * rng.uniform(0.05, 1.0):.6g}" for x in tokens]
    if rng.random() < 0.25:
        cols["domain"] = list(rng.choice(["web", "code", "ü x", "default", ""], n))
    if rng.random() < 0.15:
        cols["label"] = [rng.choice(["run a", "b,c", 'q"uote', "😀"]) for _ in range(n)]
    return cols


def _apply(f, x: str) -> str:
    try:
        return f"{f(float(x)):.6g}"
    except (ValueError, OverflowError):
        return x  # a mutated cell stays as it is


def generate(rng, kind: str) -> bytes:
    """One fuzzed CSV file (bytes)."""
    r = rng.random()
    if r < 0.07:  # random bytes
        return bytes(rng.integers(0, 256, rng.integers(0, 300)).astype(np.uint8))
    if r < 0.14:  # random text and random column names
        ncol = int(rng.integers(1, 6))
        lines = [",".join(_cell(str(x), rng) for x in rng.choice(NAMES, ncol))]
        for _ in range(rng.integers(0, 8)):
            lines.append(",".join(_cell(str(x), rng) for x in rng.choice(WEIRD_VALUES, rng.integers(0, ncol + 2))))
        return "\n".join(lines).encode("utf-8")
    n = int(rng.integers(5, 14) if rng.random() < 0.8 else rng.integers(1, 5))
    cols = _valid_columns(rng, n, kind)
    for _ in range(rng.choice([0, 0, 0, 1, 1, 2, 3])):  # value mutations
        c = str(rng.choice(list(cols)))
        cols[c][int(rng.integers(0, n))] = str(rng.choice(WEIRD_VALUES))
    names = list(cols)
    m = rng.random()
    if m < 0.08:  # rename a column
        names[int(rng.integers(0, len(names)))] = str(rng.choice(NAMES))
    elif m < 0.12:  # drop a column
        names.pop(j := int(rng.integers(0, len(names))))
        cols.pop(list(cols)[j])
    elif m < 0.17:  # unit mistakes: billions, tokens per parameter, perplexity
        c = str(rng.choice([c for c in ("params", "tokens", "loss") if c in cols] or list(cols)))
        f = {"params": lambda x: x / 1e9, "tokens": lambda x: x / 1e9, "loss": math.exp}.get(c, lambda x: x)
        cols[c] = [_apply(f, x) for x in cols[c]]
    sep = "," if rng.random() < 0.9 else str(rng.choice(SEPS[1:]))
    rows = [[_cell(v, rng) for v in cols[c]] if c in cols else [] for c in cols]
    lines = [sep.join(_cell(x, rng) for x in names)]
    ragged = int(rng.integers(0, n)) if rng.random() < 0.15 else -1  # one row with a wrong number of fields
    for i in range(n):
        fields = [rows[j][i] for j in range(len(rows))]
        if i == ragged:
            s = rng.random()
            if s < 0.4:
                fields.append("extra")
            elif s < 0.7 and fields:
                fields.pop()
            else:
                fields.append("")  # trailing comma
        lines.append(sep.join(fields))
        if rng.random() < 0.05:
            lines.append(str(rng.choice(["", " ", ",,", sep * 3])))  # empty lines
    if rng.random() < 0.05:
        lines.insert(0, "")
    if rng.random() < 0.03:
        lines = lines[:1]  # header only
    text = "\n".join(lines) + ("\n" if rng.random() < 0.8 else "")
    if rng.random() < 0.08:
        text = "\ufeff" + text
    if rng.random() < 0.01:
        text = "\ufeff\ufeff" + text
    if rng.random() < 0.05:
        text = text.replace("\n", "\r\n")
    data = text.encode("utf-8")
    t = rng.random()
    if t < 0.02:
        data = data[: int(rng.integers(0, len(data) + 1))]  # truncated
    elif t < 0.03:
        k = int(rng.integers(0, len(data) + 1))
        data = data[:k] + b"\x00" + data[k:]
    elif t < 0.04:
        data = text.encode("utf-16")
    elif t < 0.05:
        data = text.encode("latin-1", errors="replace")
    return data


def _column_values(path, col) -> list[float]:
    """Independent reading of one column: the numbers the file holds (thousands separators removed)."""
    text = path.read_bytes().decode("utf-8-sig")
    recs = [r for r in csv.reader(io.StringIO(text, newline=""), skipinitialspace=True)
            if r and any(f.strip() for f in r)]
    header = [h.strip().lstrip("\ufeff") for h in recs[0]]
    j = header.index(col)
    return [float(r[j].strip().replace(",", "")) for r in recs[1:]]


def _check_valid(out, path, kind):
    checked = ("params", "tokens", "flops", "unique_tokens") + (("loss",) if kind == "runs" else ())
    num = out[[c for c in checked if c in out]].to_numpy(float)
    assert np.isfinite(num).all() and (num > 0).all(), out
    # nothing was shifted or misread: the validated numbers are the file's numbers, in order
    for col in [c for c in ("params", "tokens", "loss") if c in checked]:
        if col in out and col in read_runs(path).columns:
            np.testing.assert_array_equal(out[col].to_numpy(float), _column_values(path, col))
    if kind == "runs":
        assert (out["loss"] <= 20).all()
        assert (out["params"] >= 1e4).all() and (out["tokens"] >= 1e5).all()


N_LOADER, N_PREDICT, N_FIT = 600, 300, 300  # + 300 hypothesis inputs: 1,500 in all
#: The quick tier fuzzes the first quarter of each seeded stream (the same inputs, fewer of them) and expects a
#: quarter of each outcome count; all of them (``slow``) run in tier 2. Each input costs a few milliseconds.
QUICK = 4


def _sizes(n_full):
    """Parameters (n, fraction of the full count) of a fuzz test: a quarter in the quick tier, all of it when slow."""
    return pytest.mark.parametrize("n, share", [
        pytest.param(n_full // QUICK, 1 / QUICK, id="quick"),
        pytest.param(n_full, 1.0, id="full", marks=pytest.mark.slow),
    ])


@_sizes(N_LOADER)
def test_loaders_never_raise_anything_but_runs_table_error(tmp_path, n, share):
    rng = np.random.default_rng(20240601)
    path = tmp_path / "fuzz.csv"
    outcome = Counter()
    for i in range(n):
        kind = "runs" if i % 3 else "targets"
        path.write_bytes(generate(rng, kind))
        for what, fn in (("runs", validate_runs), ("targets", validate_targets)):
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    out = fn(path)
            except RunsTableError as exc:
                msg = str(exc)
                assert msg and msg[-1] in ".)'", msg  # a sentence
                outcome[f"{what} error"] += 1
            except Exception as exc:  # noqa: BLE001 - the point of the test
                pytest.fail(f"{what} loader raised {type(exc).__name__}: {exc} on input {path.read_bytes()[:300]!r}")
            else:
                _check_valid(out, path, what)
                outcome[f"{what} ok"] += 1
    # the generator exercises both outcomes for both loaders
    assert outcome["runs ok"] >= 40 * share and outcome["runs error"] >= 300 * share, outcome
    assert outcome["targets ok"] >= 100 * share and outcome["targets error"] >= 300 * share, outcome


HYPOTHESIS_CSV = st.one_of(
    st.binary(max_size=200),
    st.text(max_size=200).map(lambda s: s.encode("utf-8")),
    st.lists(st.lists(st.one_of(st.sampled_from(WEIRD_VALUES + NAMES), st.text(max_size=8)), max_size=5),
             min_size=1, max_size=8).map(lambda rows: "\n".join(",".join(r) for r in rows).encode("utf-8")),
)


def _hypothesis_settings(n):
    return settings(max_examples=n, derandomize=True, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.mark.slow
@_hypothesis_settings(300)
@given(data=HYPOTHESIS_CSV)
def test_loaders_on_hypothesis_inputs(tmp_path, data):
    _loaders_accept_or_reject(tmp_path, data)


@_hypothesis_settings(300 // QUICK)
@given(data=HYPOTHESIS_CSV)
def test_loaders_on_hypothesis_inputs_quick(tmp_path, data):
    """The quick tier's share of the test above (hypothesis's first examples, derandomized)."""
    _loaders_accept_or_reject(tmp_path, data)


def _loaders_accept_or_reject(tmp_path, data):
    path = tmp_path / "h.csv"
    path.write_bytes(data)
    for what, fn in (("runs", validate_runs), ("targets", validate_targets)):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                out = fn(path)
        except RunsTableError:
            continue
        _check_valid(out, path, what)


# ----------------------------------------------------------------------------- CLI


def _one_error_line(code, err):
    assert "Traceback" not in err
    errors = [ln for ln in err.splitlines() if ln.startswith("error:")]
    if code == 0:
        assert errors == [], err
    else:
        assert len(errors) == 1, err
        assert all(ln.startswith(("error:", "warning:", "[bayes-scaling]")) for ln in err.splitlines() if ln), err


@pytest.fixture(scope="module")
def saved_fit_dir(fake_fit, tmp_path_factory):
    return fake_fit.save(tmp_path_factory.mktemp("fuzzfit") / "fit")


@_sizes(N_PREDICT)
def test_cli_predict_on_fuzzed_targets(saved_fit_dir, tmp_path, capsys, monkeypatch, n, share):
    # loading the NetCDF takes ~0.5 s; load it for real once and hand the CLI the same fit afterwards
    # (loading damaged fits is fuzzed in test_io_damage.py)
    real_load, cache = cli_module._load, {}
    monkeypatch.setattr(cli_module, "_load", lambda d, domain=None: cache[d] if d in cache else cache.setdefault(d, real_load(d)))
    rng = np.random.default_rng(7)
    codes = Counter()
    for i in range(n):
        at = tmp_path / f"t{i}.csv"
        at.write_bytes(generate(rng, "targets"))
        code = main(["predict", str(saved_fit_dir), "--at", str(at), "--quiet"])
        out, err = capsys.readouterr()
        assert code in (0, 2, 4), (code, err, at.read_bytes()[:300])
        _one_error_line(code, err)
        if code == 0:
            assert "loss_median" in out.splitlines()[0]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                assert len(out.splitlines()) == len(validate_targets(at)) + 1
        else:
            assert out == ""
        codes[code] += 1
    assert len(cache) == 1  # the same saved fit every time
    assert codes[0] > 50 * share and codes[2] > 50 * share, codes


class _ReachedSampling(BaseException):  # noqa: N818 - a sentinel, not an error; BaseException passes main()'s handlers
    """Raised instead of sampling: the input passed validation."""


@_sizes(N_FIT)
def test_cli_fit_on_fuzzed_runs_never_samples_invalid_input(tmp_path, capsys, monkeypatch, n, share):
    def sentinel(*args, **kwargs):
        raise _ReachedSampling

    monkeypatch.setattr(fit_module, "sample_posterior", sentinel)  # the name ScalingLaw.fit calls
    monkeypatch.setattr(inference_module, "sample_posterior", sentinel)
    rng = np.random.default_rng(11)
    codes = Counter()
    for i in range(n):
        runs = tmp_path / f"r{i}.csv"
        runs.write_bytes(generate(rng, "runs"))
        try:
            code = main(["fit", str(runs), "--out", str(tmp_path / f"o{i}"), "--quiet"])
        except _ReachedSampling:
            capsys.readouterr()
            # only valid input reaches the sampler
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                out = validate_runs(runs, informative_prior=True)
            _check_valid(out, runs, "runs")
            codes["sampling"] += 1
            continue
        _, err = capsys.readouterr()
        assert code in (2, 4), (code, err, runs.read_bytes()[:300])
        _one_error_line(code, err)
        codes[code] += 1
    assert codes["sampling"] > 10 * share and codes[2] > 100 * share, codes


@pytest.mark.parametrize("value", ["0", "1", "-0.5", "1.5"])
def test_cli_rejects_target_accept_outside_0_1(tmp_path, capsys, value):
    runs = tmp_path / "runs.csv"
    runs.write_text("params,tokens,loss\n1e8,2e9,3.1\n2e8,4e9,2.9\n4e8,8e9,2.7\n8e8,1.6e10,2.55\n1.6e9,3.2e10,2.45\n"
                    "3.2e9,6.4e10,2.37\n")
    code = main(["fit", str(runs), "--out", str(tmp_path / "o"), "--quiet", "--target-accept", value])
    _, err = capsys.readouterr()
    assert code == 2
    assert err.strip() == (f"error: --target-accept must be between 0 and 1 (exclusive), got {float(value)}; "
                           "try 0.95.")
    assert not (tmp_path / "o").exists()


def test_cli_next_run_and_compare_write_ranked_tables(saved_fit_dir, tmp_path, capsys):
    import pandas as pd

    cands = tmp_path / "cands.csv"
    cands.write_text("label,params,tokens\nrepeat smallest,5e7,2.5e8\nnear target,2e10,4e11\n")
    out = tmp_path / "next.csv"
    code = main(["next-run", str(saved_fit_dir), "--candidates", str(cands), "--target-params", "7e10",
                 "--target-tokens", "1.4e12", "--n-sims", "16", "--out", str(out), "--quiet"])
    capsys.readouterr()
    assert code == 0
    res = pd.read_csv(out)
    assert list(res["rank"]) == [1, 2]
    assert {"label", "width_now", "width_after", "shrinkage", "shrinkage_per_exaflop", "ess", "ess_low"} <= set(res)
    # ranked per FLOP by default, measurable gains on enough draws first (the repeat rests on few: ranked after)
    for _, group in res.groupby(["measurable", "ess_low"]):
        assert (group["shrinkage_per_exaflop"].diff().dropna() <= 0).all()
    assert list(res["label"]) == ["near target", "repeat smallest"] and list(res["ess_low"]) == [False, True]
    out2 = tmp_path / "cmp.csv"
    code = main(["compare", str(saved_fit_dir), "--candidates", str(cands), "--out", str(out2), "--quiet"])
    capsys.readouterr()
    assert code == 0
    cmp = pd.read_csv(out2)
    assert cmp["p_best"].sum() == pytest.approx(1.0, abs=1e-9)
    assert cmp.set_index("label").loc["near target", "p_best"] > 0.99  # 400x the compute of the other
