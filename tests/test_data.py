"""bayes_scaling.data (issue 7): the runs-table input matrix — every bad input gives a message naming the column, the row and the fix."""

from __future__ import annotations

import re
import time
import warnings

import numpy as np
import pandas as pd
import pytest

import bayes_scaling as bs
from bayes_scaling.data import (
    RunsTableError,
    RunsTableWarning,
    estimated_fit_seconds,
    read_runs,
    validate_runs,
    validate_targets,
)
from bayes_scaling.laws import chinchilla_loss

# Chinchilla law with the Besiroglu et al. (2024) point estimates; 6 runs at 20 tokens/param
N6 = np.geomspace(1e8, 1e10, 6)


def runs(n: int = 6, tpp: float = 20.0, **cols) -> pd.DataFrame:
    """Valid runs from a known law (index 0..n-1, as a DataFrame built in code has)."""
    params = np.geomspace(1e8, 1e10, n) if n > 1 else np.array([1e9])
    tokens = tpp * params
    loss = chinchilla_loss(params, tokens, E=1.82, A=482.0, B=2085.0, alpha=0.348, beta=0.366)
    df = pd.DataFrame({"params": params, "tokens": tokens, "loss": loss})
    for k, v in cols.items():
        df[k] = v
    return df


def csv_text(df: pd.DataFrame) -> str:
    return df.to_csv(index=False, float_format="%.10g")


@pytest.fixture
def write(tmp_path):
    def _write(content: str | bytes, name: str = "runs.csv"):
        path = tmp_path / name
        path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
        return path

    return _write


def no_warnings(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("error", RunsTableWarning)
        return fn(*args, **kwargs)


# ----------------------------------------------------------------------------- the happy path


def test_valid_runs_come_back_canonical():
    out = no_warnings(validate_runs, runs())
    assert list(out.columns) == ["params", "tokens", "flops", "loss", "domain"]
    np.testing.assert_allclose(out["flops"], 6 * out["params"] * out["tokens"])
    assert (out["domain"] == "default").all()
    assert list(out.index) == list(range(6))


def test_flops_instead_of_tokens_derives_tokens():
    df = runs()
    df["flops"] = 6 * df["params"] * df["tokens"]
    out = no_warnings(validate_runs, df.drop(columns="tokens"))
    np.testing.assert_allclose(out["tokens"], 20 * N6)


# ----------------------------------------------------------------------------- columns


def test_misspelt_column_suggests_the_closest_name():
    with pytest.raises(RunsTableError) as e:
        validate_runs(runs().rename(columns={"params": "param"}))
    assert str(e.value) == (
        "runs table has no column 'params'; did you mean 'param'? Rename it to 'params'. "
        "Columns found: param, tokens, loss."
    )


def test_column_with_wrong_case_says_names_are_case_sensitive():
    with pytest.raises(RunsTableError, match=r"no column 'loss'; found 'Loss': column names are case-sensitive, "
                                             r"rename it to 'loss'"):
        validate_runs(runs().rename(columns={"loss": "Loss"}))


def test_common_alias_is_recognised():
    with pytest.raises(RunsTableError, match=r"no column 'tokens'; did you mean 'train_tokens'\? Rename it to "
                                             r"'tokens' \(or give 'flops'"):
        validate_runs(runs().rename(columns={"tokens": "train_tokens"}))


def test_isoflop_table_with_compute_column_is_told_to_rename_it_to_flops():
    # an isoFLOP sweep names each run by its size and compute budget, not by its tokens
    iso = pd.DataFrame({"N": [1e8, 2e8, 4e8], "C": [1e18, 1e18, 1e18], "loss": [3.2, 3.1, 3.15]})
    with pytest.raises(RunsTableError) as e:
        validate_runs(iso)
    assert str(e.value) == (
        "runs table lacks 2 columns: 'params'; did you mean 'N'? Rename it to 'params'; 'tokens' (or give 'flops' and "
        "tokens are derived as flops / (6 params): rename 'C' to 'flops' if it holds training compute in FLOPs). "
        "Columns found: N, C, loss.")


def test_missing_column_without_a_close_name_lists_the_columns():
    with pytest.raises(RunsTableError) as e:
        validate_runs(runs().drop(columns="loss").assign(quality=1.0))
    assert str(e.value) == ("runs table has no column 'loss' (add each run's final evaluation loss in nats per token; "
                            "in bits, add it as 'loss' and pass loss_unit='bits'). Columns found: params, tokens, "
                            "quality.")


def test_duplicated_column_in_a_csv_header(write):
    path = write("params,tokens,loss,loss\n1e9,2e10,2.5,2.6\n2e9,4e10,2.4,2.5\n")
    with pytest.raises(RunsTableError, match=r"names column 'loss' twice in its header; keep one"):
        read_runs(path)


# ----------------------------------------------------------------------------- values


def test_string_in_numeric_column_names_column_and_row():
    df = runs().astype({"loss": object})
    df.loc[3, "loss"] = "2.3 (seed 1)"
    with pytest.raises(RunsTableError) as e:
        validate_runs(df)
    assert str(e.value) == (
        "column 'loss', row 3: '2.3 (seed 1)' is not a number; write plain numbers such as 7e9 or 7000000000."
    )


def test_string_in_csv_names_row_and_file_line(write):
    text = csv_text(runs()).splitlines()
    text[3] = text[3].replace(text[3].split(",")[0], "1.5B")  # row 3 = file line 4
    with pytest.raises(RunsTableError) as e:
        validate_runs(write("\n".join(text) + "\n"))
    assert "column 'params', row 3 (file line 4): '1.5B' is not a number" in str(e.value)


def test_several_bad_strings_are_all_counted():
    df = runs().astype({"tokens": object})
    df.loc[[1, 2, 4], "tokens"] = ["x", "y", "z"]
    with pytest.raises(RunsTableError, match=r"column 'tokens', row 1: 'x' is not a number \(also row 2, row 4\)"):
        validate_runs(df)


def test_nan_names_column_and_rows():
    df = runs()
    df.loc[2, "loss"] = np.nan
    df.loc[5, "loss"] = np.nan
    with pytest.raises(RunsTableError) as e:
        validate_runs(df)
    assert str(e.value) == "column 'loss' is empty or NaN in row 2, row 5; fill it in or drop those runs."
    # every column's problem in one message (a fresh user fixed a NaN in 'tokens' to meet one in 'loss')
    df.loc[4, "tokens"] = np.nan
    df.loc[1, "params"] = -1.0
    with pytest.raises(RunsTableError) as e:
        validate_runs(df)
    assert str(e.value) == ("column 'params' must be positive; row 1 has -1; fix or drop those runs. Also: column "
                            "'tokens' is empty or NaN in row 4; fill it in or drop those runs. Also: column 'loss' is "
                            "empty or NaN in row 2, row 5; fill it in or drop those runs.")


def test_empty_cell_in_csv_is_reported_with_its_file_line(write):
    lines = csv_text(runs()).splitlines()
    cells = lines[2].split(",")
    cells[1] = ""
    lines[2] = ",".join(cells)
    with pytest.raises(RunsTableError, match=r"column 'tokens' is empty or NaN in row 2 \(file line 3\)"):
        validate_runs(write("\n".join(lines) + "\n"))


def test_inf_is_rejected():
    df = runs()
    df.loc[4, "params"] = np.inf
    with pytest.raises(RunsTableError) as e:
        validate_runs(df)
    assert str(e.value) == "column 'params' is infinite in row 4; give a finite value or drop those runs."


def test_inf_written_as_text_is_rejected(write):
    lines = csv_text(runs()).splitlines()
    lines[1] = "inf," + ",".join(lines[1].split(",")[1:])
    with pytest.raises(RunsTableError, match=r"column 'params' is infinite in row 1 \(file line 2\)"):
        validate_runs(write("\n".join(lines) + "\n"))


@pytest.mark.parametrize("col", ["params", "tokens", "loss"])
@pytest.mark.parametrize("value", [0.0, -3.0])
def test_zero_or_negative_size_or_loss(col, value):
    df = runs()
    df.loc[1, col] = value
    with pytest.raises(RunsTableError) as e:
        validate_runs(df)
    assert str(e.value) == f"column '{col}' must be positive; row 1 has {value:g}; fix or drop those runs."


def test_zero_flops():
    df = runs()
    df["flops"] = 6 * df["params"] * df["tokens"]
    df.loc[0, "flops"] = 0.0
    with pytest.raises(RunsTableError, match=r"column 'flops' must be positive; row 0 has 0; fix or drop those runs"):
        validate_runs(df.drop(columns="tokens"))


def test_overflowing_compute_is_rejected_not_stored_as_inf():
    df = runs()
    df.loc[2, "tokens"] = 1e308  # finite, but C = 6 N D overflows
    with pytest.raises(RunsTableError, match=r"runs row 2: flops derived from the other sizes is inf"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RunsTableWarning)
            validate_runs(df)


def test_boolean_column_is_rejected():
    df = runs()
    df["loss"] = True
    with pytest.raises(RunsTableError, match=r"column 'loss' holds true/false values; it must hold numbers"):
        validate_runs(df)


# ----------------------------------------------------------------------------- too few runs


def test_single_run_is_an_error():
    with pytest.raises(RunsTableError, match=r"^a single run cannot determine a scaling law; add runs at other sizes"):
        validate_runs(runs(1))


def test_fewer_runs_than_parameters_needs_a_published_prior():
    with pytest.raises(RunsTableError) as e:
        validate_runs(runs(3))
    assert str(e.value).startswith("3 runs cannot determine the 5 parameters of the law with a weak prior; add runs "
                                   "(at least 5), use a published prior (prior='besiroglu2024')")
    with pytest.warns(RunsTableWarning, match=r"^3 runs cannot determine the 5 parameters of the law; what the runs "
                                              r"leave open comes from the prior\. Add runs"):
        out = validate_runs(runs(3), informative_prior=True)
    assert len(out) == 3


def test_the_advice_names_the_published_prior_of_the_law_being_fitted():
    # a data-constrained fit of 2 runs was told to use besiroglu2024, which the data-constrained law then refused
    # (a fresh user); a law without a published prior is not told to use one
    two = runs(2).assign(unique_tokens=lambda t: t["tokens"] / 2)
    with pytest.raises(RunsTableError) as e:
        bs.ScalingLaw(law="data_constrained", prior="weak").fit(two)
    assert str(e.value) == ("2 runs cannot determine the 7 parameters of the law with a weak prior; add runs (at least "
                            "7), use a published prior (prior='muennighoff2023'), or fit next to reference runs "
                            "(reference='chinchilla').")
    with pytest.raises(RunsTableError) as e:
        bs.ScalingLaw(law="power_flops", prior="weak").fit(runs(2))
    assert str(e.value) == ("2 runs cannot determine the 3 parameters of the law with a weak prior; add runs (at least "
                            "3), or fit next to reference runs (reference='chinchilla').")
    one_size = runs(8).assign(params=1e9, unique_tokens=lambda t: t["tokens"])
    with pytest.raises(RunsTableError, match=r"or use a published prior \(prior='muennighoff2023'\)\.$"):
        bs.ScalingLaw(law="data_constrained", prior="weak").fit(one_size)


def test_few_runs_next_to_reference_runs_are_not_warned_about():
    # the few-run transfer the package is built for: the report of 4 runs fitted next to the Chinchilla runs opened
    # with "the forecast rests mainly on the prior" while the runs had pulled the exponents far from it (a fresh user)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RunsTableWarning)
        out = validate_runs(runs(3), informative_prior=True, reference=True)
    assert len(out) == 3
    df = runs()
    df["params"] = 1e9
    with pytest.warns(RunsTableWarning, match=r"N exponent is not identified; it comes from the prior and the "
                                              r"reference runs\.$"):
        validate_runs(df, informative_prior=True, reference=True)


def test_all_runs_at_one_model_size_error_with_weak_prior():
    df = runs()
    df["params"] = 1e9
    with pytest.raises(RunsTableError) as e:
        validate_runs(df)
    assert str(e.value) == (
        "all runs have the same 'params' (1e+09), so the N exponent is not identified; add runs at other sizes "
        "or use a published prior (prior='besiroglu2024')."
    )


def test_all_runs_at_one_model_size_warns_with_informative_prior():
    df = runs()
    df["params"] = 1e9
    with pytest.warns(RunsTableWarning) as rec:
        out = validate_runs(df, informative_prior=True)
    msgs = [str(w.message) for w in rec if issubclass(w.category, RunsTableWarning)]
    assert msgs == [
        "all runs have the same 'params' (1e+09), so the N exponent is not identified; it comes from the prior alone."
    ]
    assert out["params"].nunique() == 1


def test_one_size_is_fine_for_a_one_variable_law_in_the_other_variable():
    df = runs()
    df["params"] = 1e9  # a token sweep at fixed N
    out = no_warnings(validate_runs, df, n_law_parameters=3, needs=("tokens",))
    assert len(out) == 6


# ----------------------------------------------------------------------------- duplicates


def test_seeds_same_size_different_loss_are_kept_silently():
    df = runs()
    seeds = pd.concat([df, df.assign(loss=df["loss"] * 1.01)], ignore_index=True)
    out = no_warnings(validate_runs, seeds)
    assert len(out) == 12
    np.testing.assert_allclose(out["loss"].to_numpy()[6:], df["loss"].to_numpy() * 1.01)


def test_identical_rows_warn_and_are_kept():
    df = runs()
    dup = pd.concat([df, df.iloc[[2]]], ignore_index=True)
    with pytest.warns(RunsTableWarning) as rec:
        out = validate_runs(dup)
    msgs = [str(w.message) for w in rec if issubclass(w.category, RunsTableWarning)]
    assert msgs == [
        "row 6 repeats an earlier row exactly (repeats row 2: same size, loss and domain); kept and counted as "
        "independent runs (seeds that agree to the digit), which weights them more and narrows the intervals: drop the "
        "copies if they were pasted twice."
    ]
    assert len(out) == 7
    with pytest.warns(RunsTableWarning, match=r"^row 6, row 7 repeat an earlier row exactly \(row 6 repeats row 3: "):
        validate_runs(pd.concat([df, df.iloc[[3, 1]]], ignore_index=True))


# ----------------------------------------------------------------------------- units


def test_params_in_billions():
    df = runs()
    df["params"] = df["params"] / 1e9
    with pytest.raises(RunsTableError) as e:
        validate_runs(df)
    assert str(e.value) == (
        "column 'params' looks like it is in millions or billions (largest value 10, row 5); give raw counts of "
        "parameters, e.g. 7e9 for 7B."
    )


def test_one_row_in_billions_among_raw_counts():
    """The per-domain check sees a plausible largest value; the row itself must still be refused."""
    df = runs()
    df.loc[2, "params"] = 0.631  # 631M typed as 0.631 (billions), tokens of that row also in billions
    df.loc[2, "tokens"] = 12.6
    with pytest.raises(RunsTableError) as e:
        validate_runs(df)
    assert str(e.value) == (
        "column 'params', row 2: 0.631 is below 10000, too few parameters for a training run; it looks like "
        "millions or billions while other rows are raw counts; give raw counts, e.g. 7e9 for 7B."
    )


def test_one_row_of_tokens_per_parameter_among_raw_counts():
    df = runs()
    df.loc[[1, 4], "tokens"] = 20.0
    with pytest.raises(RunsTableError, match=r"^column 'tokens', row 1: 20 is below 100000, too few tokens for a "
                                             r"training run \(also row 4\); it looks like millions or billions "
                                             r"\(or tokens per parameter\)"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RunsTableWarning)
            validate_runs(df)


def test_repeated_index_labels_are_replaced_by_positions():
    """pd.concat without ignore_index repeats labels; messages then count rows from 0 in table order."""
    df = pd.concat([runs(), runs().assign(loss=lambda d: d["loss"] * 1.01)])
    assert not df.index.is_unique
    out = no_warnings(validate_runs, df)
    assert list(out.index) == list(range(12))
    df.iloc[8, df.columns.get_loc("loss")] = -1.0
    with pytest.raises(RunsTableError, match=r"column 'loss' must be positive; row 8 has -1"):
        validate_runs(df)


def test_tokens_given_as_tokens_per_parameter():
    df = runs()
    df["tokens"] = 20.0
    with pytest.raises(RunsTableError) as e:
        validate_runs(df)
    assert str(e.value) == (
        "column 'tokens' looks like tokens per parameter or billions of tokens (largest value 20, row 0); give total "
        "training tokens D as a raw count: tokens = tokens_per_param * params, or tokens * 1e9 for billions."
    )
    df["params"] = np.geomspace(3e5, 1e6, len(df))  # 20B tokens would be 20,000-67,000 per parameter: a ratio
    with pytest.raises(RunsTableError, match=r"^column 'tokens' looks like tokens per parameter \(largest value 20, "):
        validate_runs(df)


def test_flops_in_pf_days():
    df = runs()
    df["flops"] = 6 * df["params"] * df["tokens"] / 8.64e19
    with pytest.raises(RunsTableError, match=r"column 'flops' is at most 138.889 \(row 5\); give FLOPs, not PF-days"):
        validate_runs(df.drop(columns="tokens"))
    # with tokens as well, the 'flops' column is not needed: it says so (a fresh user's 'flops' was another count)
    with pytest.raises(RunsTableError) as e:
        validate_runs(df)
    assert str(e.value) == ("column 'flops' is at most 138.889 (row 5); give FLOPs, not PF-days (1 PF-day = 8.64e19 "
                            "FLOPs, Kaplan et al. 2020 §2.1); 'params' and 'tokens' are given, so drop 'flops' (C = "
                            "6ND is derived from them).")
    # a compute-only table (the one-variable law of FLOPs) in PF-days was fitted (a fresh user)
    with pytest.raises(RunsTableError, match=r"column 'flops' is at most 138.889 \(row 5\); give FLOPs, not PF-days"):
        validate_runs(df[["flops", "loss"]], needs=("flops",))
    # and a few rows in PF-days among FLOPs were left to the forecast step, which blamed its own targets
    mixed = df[["flops", "loss"]].assign(flops=lambda d: d["flops"] * 8.64e19)
    mixed.loc[4:, "flops"] /= 8.64e19
    with pytest.raises(RunsTableError) as e:
        validate_runs(mixed, needs=("flops",))
    assert str(e.value) == ("column 'flops', row 4: 22.0124 is below 1e+12, too few FLOPs for a training run (also row 5); "
                            "it looks like PF-days (1 PF-day = 8.64e19 FLOPs) or an exponent while other rows are "
                            "FLOPs; give FLOPs, e.g. 5.88e23.")


def test_loss_as_perplexity():
    df = runs()
    df.loc[4, "loss"] = 33.1  # exp(3.5)
    with pytest.raises(RunsTableError) as e:
        validate_runs(df)
    assert str(e.value) == (
        "column 'loss', row 4: 33.1 looks like a perplexity, not a loss in nats per token; give log(perplexity)."
    )


def test_loss_in_bits_is_converted_to_nats():
    df = runs()
    out = no_warnings(validate_runs, df, loss_unit="bits")
    np.testing.assert_allclose(out["loss"].to_numpy(), df["loss"].to_numpy() * np.log(2.0), rtol=1e-15)
    with pytest.raises(RunsTableError, match=r"loss_unit must be 'nats' or 'bits', not 'bit'"):
        validate_runs(df, loss_unit="bit")


def test_perplexity_check_applies_after_bits_conversion():
    df = runs()
    df["loss"] = 25.0  # 25 bits = 17.3 nats: a plausible (if high) loss, not a perplexity
    out = validate_runs(df, loss_unit="bits", informative_prior=True, needs=("params",), n_law_parameters=3)
    assert out["loss"].iloc[0] == pytest.approx(25 * np.log(2))


@pytest.mark.parametrize("tpp, shown", [(0.05, "as few as 0.05"), (2e4, "as many as 2e+04")])
def test_implausible_tokens_per_parameter_warns(tpp, shown):
    table = runs(tpp=tpp)
    if tpp < 1:  # one plausible run among them: not the swapped columns test_swapped_params_and_tokens_are_refused has
        table = pd.concat([table, runs(n=1)], ignore_index=True)
    with pytest.warns(RunsTableWarning) as rec:
        out = validate_runs(table)
    msgs = [str(w.message) for w in rec if issubclass(w.category, RunsTableWarning)]
    tail = ("6 of 7 runs have fewer tokens than parameters (median 0.05 tokens per parameter, where compute-optimal "
            "training uses about 20): are 'params' and 'tokens' swapped? If so, swap the two column names." if tpp < 1
            else "check that 'params' and 'tokens' are raw counts of the same run.")
    assert msgs == [f"6 run(s) (row 0, row 1, row 2 and 3 more) have {shown} tokens per parameter, outside 0.1-10,000; "
                    + tail]
    assert len(out) == len(table)


def test_most_runs_with_fewer_tokens_than_parameters_ask_whether_the_columns_are_swapped():
    # an isoFLOP sweep of 8 runs at one budget: its largest models see fewer tokens than they have parameters
    params = np.geomspace(1.05e8, 5e8, 8)
    sweep = pd.DataFrame({"params": params, "tokens": 6e17 / (6 * params)})
    sweep["loss"] = chinchilla_loss(sweep["params"], sweep["tokens"], E=1.82, A=482.0, B=2085.0, alpha=0.348,
                                    beta=0.366)
    assert (sweep["tokens"] < sweep["params"]).sum() == 3  # 3 of 8 (the published sweeps: 24 % of their runs)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RunsTableWarning)
        validate_runs(sweep)  # no warning: 0.4-9.1 tokens per parameter, 5 of 8 above 1
    swapped = sweep.rename(columns={"params": "tokens", "tokens": "params"})
    with pytest.warns(RunsTableWarning) as rec:
        validate_runs(swapped)  # every row in 0.1-10,000, so only the share tells
    assert [str(w.message) for w in rec] == [
        "5 of 8 runs have fewer tokens than parameters (median 0.538 tokens per parameter, where compute-optimal "
        "training uses about 20): are 'params' and 'tokens' swapped? If so, swap the two column names."]


def test_runs_below_a_tenth_of_a_token_per_parameter_are_said_to_be_left_out_first():
    # a fresh user's correct isoFLOP sweep of three recipes read "check that 'params' and 'tokens' are raw counts" as a
    # data error, next to the fit's note that left the same runs out
    df = runs()
    df.loc[[1, 3], "tokens"] = [0.05 * df.loc[1, "params"], 0.02 * df.loc[3, "params"]]
    with pytest.warns(bs.LeftOutRunsWarning) as rec:
        validate_runs(df)
    msgs = [str(w.message) for w in rec if "tokens per parameter" in str(w.message)]
    assert msgs == ["2 run(s) (row 1, row 3) have as few as 0.02 tokens per parameter, outside 0.1-10,000: a fit "
                    "leaves them out by default, with every run on fewer tokens than parameters (min_tokens_per_param), "
                    "so its numbers do not rest on them. The small-data end of an isoFLOP sweep looks like this, and "
                    "so does a unit slip: check that 'params' and 'tokens' are raw counts of the same run."]


def test_implausible_tokens_per_parameter_at_both_ends_are_told_apart():
    # a fresh user read "0.0912 to 6.38e+04" as one range; the two ends are two problems
    df = runs()
    df.loc[1, "tokens"] = 0.05 * df.loc[1, "params"]
    df.loc[4, "tokens"] = 2e4 * df.loc[4, "params"]
    with pytest.warns(RunsTableWarning) as rec:
        validate_runs(df)
    msgs = [str(w.message) for w in rec if "tokens per parameter" in str(w.message)]
    assert msgs == ["1 run(s) (row 1) have as few as 0.05 tokens per parameter; 1 run(s) (row 4) have as many as "
                    "2e+04 tokens per parameter, outside 0.1-10,000; check that 'params' and 'tokens' are raw counts "
                    "of the same run (by default a fit leaves out every run on fewer tokens than parameters, not only "
                    "those below 0.1: min_tokens_per_param)."]


def test_implausible_tokens_per_parameter_from_flops_name_the_flops():
    # runs given as params and flops, one at 5.88e17 (FLOPs of another run): the warning said to check 'tokens',
    # a column the table did not have (a fresh user)
    df = runs()
    df = df.assign(flops=6 * df["params"] * df["tokens"]).drop(columns="tokens")
    df.loc[2, "flops"] = 6 * 0.02 * df.loc[2, "params"] ** 2
    with pytest.warns(RunsTableWarning) as rec:
        validate_runs(df)
    msgs = [str(w.message) for w in rec if "tokens per parameter" in str(w.message)]
    assert msgs == ["1 run(s) (row 2) have as few as 0.02 tokens per parameter, outside 0.1-10,000; check that "
                    "'params' is a raw count and 'flops' is in FLOPs (tokens are derived as flops / (6 params))."]
    with pytest.warns(RunsTableWarning, match=r"check that 'params' is a raw count and 'flops' is in FLOPs"):
        validate_targets(df.drop(columns="loss").iloc[[0, 2]])


def test_flops_inconsistent_with_tokens_warns_and_tokens_win():
    df = runs()
    df["flops"] = 6 * df["params"] * df["tokens"]
    df.loc[3, "flops"] *= 3
    with pytest.warns(RunsTableWarning, match=r"column 'flops' differs from 6 \* params \* tokens in row 3 \(3x 6ND"):
        out = validate_runs(df)
    assert out.loc[3, "tokens"] == pytest.approx(20 * N6[3])
    # the ignored flops are replaced by 6ND, so nothing downstream (distance beyond the runs, figures) uses them
    np.testing.assert_allclose(out["flops"], 6 * out["params"] * out["tokens"], rtol=1e-12)


def test_mixed_units_across_domains_names_the_domain():
    a = runs(domain="web")
    b = runs(domain="code")
    b["params"] = b["params"] / 1e9
    df = pd.concat([a, b], ignore_index=True)
    with pytest.raises(RunsTableError) as e:
        validate_runs(df)
    assert str(e.value) == (
        "column 'params' in domain 'code' looks like it is in millions or billions (largest value 10, row 11); give "
        "raw counts of parameters, e.g. 7e9 for 7B."
    )


def test_domain_with_a_single_run_warns():
    df = pd.concat([runs(domain="web"), runs(domain="code").iloc[[2]]], ignore_index=True)
    with pytest.warns(RunsTableWarning) as rec:
        out = validate_runs(df)
    msgs = [str(w.message) for w in rec if issubclass(w.category, RunsTableWarning)]
    assert msgs == ["domain(s) 'code' have a single run; their forecasts rest on the other domains and the prior."]
    assert out["domain"].value_counts().to_dict() == {"web": 6, "code": 1}
    # one row's 'RPJ' beside 'rpj', or 'rpjj': most likely that domain misspelt (a fresh user's became a domain)
    for typo in ("RPJ", "rpjj"):
        df = pd.concat([runs(domain="rpj"), runs(domain="web"), runs(domain=typo).iloc[[2]]], ignore_index=True)
        with pytest.warns(RunsTableWarning) as rec:
            validate_runs(df)
        assert [str(w.message) for w in rec if "single run" in str(w.message)] == [
            f"domain(s) '{typo}' have a single run; their forecasts rest on the other domains and the prior. Is it a "
            f"misspelt name? '{typo}' (row 12) is close to 'rpj': correct the cell if it is the same domain."]
    # names that differ only in numbers are other configurations ('Hash-1024experts' beside 'Hash-512experts')
    df = pd.concat([runs(domain="Hash-512experts"), runs(domain="web"), runs(domain="Hash-1024experts").iloc[[2]]],
                   ignore_index=True)
    with pytest.warns(RunsTableWarning) as rec:
        validate_runs(df)
    assert [str(w.message) for w in rec if "single run" in str(w.message)] == [
        "domain(s) 'Hash-1024experts' have a single run; their forecasts rest on the other domains and the prior."]


def test_domain_with_two_runs_warns():
    df = pd.concat([runs(domain="web"), runs(domain="code").iloc[[1, 4]]], ignore_index=True)
    with pytest.warns(RunsTableWarning) as rec:
        validate_runs(df)
    msgs = [str(w.message) for w in rec if issubclass(w.category, RunsTableWarning)]
    assert msgs == ["domain(s) 'code' have only two runs: too few to check the law or measure the noise on them, so "
                    "their forecasts lean on the other domains and the prior; a third run at another size would test "
                    "them."]


def test_empty_domain_cell_is_an_error():
    df = runs(domain="web")
    df.loc[3, "domain"] = "  "
    with pytest.raises(RunsTableError, match=r"column 'domain' is empty in row 3; name the domain of every run"):
        validate_runs(df)


def test_unique_tokens_above_tokens():
    df = runs()
    df["unique_tokens"] = df["tokens"] / 2
    df.loc[1, "unique_tokens"] = df.loc[1, "tokens"] * 2
    with pytest.raises(RunsTableError, match=r"column 'unique_tokens' exceeds 'tokens' in row 1; unique tokens U "
                                             r"cannot exceed the tokens seen D"):
        validate_runs(df)


def test_unique_tokens_and_tokens_swapped_are_named_as_such():
    """SLDBench's data-constrained file has the two columns swapped (every row U >= D); the message said only that U
    cannot exceed D."""
    df = runs()
    df["unique_tokens"] = df["tokens"].copy()
    df["tokens"] = df["tokens"] / 4
    df.loc[0, "tokens"] = df.loc[0, "unique_tokens"]  # one epoch: U = D, as in a swapped table
    with pytest.raises(RunsTableError) as e:
        validate_runs(df)
    assert str(e.value).startswith(
        f"column 'unique_tokens' exceeds 'tokens' in row 1, row 2, row 3 and {len(df) - 4} more; unique tokens U cannot "
        "exceed the tokens seen D; no row has fewer unique tokens than tokens, so the two columns look swapped (rename "
        "'unique_tokens' to 'tokens' and 'tokens' to 'unique_tokens'); check that")
    df.loc[0, "tokens"] = df.loc[0, "unique_tokens"] * 2  # one row with U < D: not a swap
    with pytest.raises(RunsTableError) as e:
        validate_runs(df)
    assert "swapped" not in str(e.value)


def test_unique_tokens_in_billions_are_refused_like_tokens():
    """A fresh user's U in billions was fitted and saved (E 0.86, beta 0.17) before a targets message failed."""
    df = runs()
    df["unique_tokens"] = df["tokens"] / 1e9
    with pytest.raises(RunsTableError) as e:
        validate_runs(df)
    big = df["unique_tokens"].idxmax()
    assert str(e.value) == (f"column 'unique_tokens' looks like epochs or a count in millions or billions (largest "
                            f"value {df['unique_tokens'].max():g}, row {big}); give U, the raw count of unique tokens: "
                            "tokens / epochs for epochs, e.g. 1.25e9 for 1.25B.")
    df["unique_tokens"] = df["tokens"]
    df.loc[2, "unique_tokens"] = 40.0  # one row typed in billions
    with pytest.raises(RunsTableError, match=r"^column 'unique_tokens', row 2: 40 is below 100000, too few unique "
                                             r"tokens for a training run; it looks like millions or billions while "
                                             r"other rows are raw counts; give raw counts, e.g. 7e9 for 7B.$"):
        validate_runs(df)


# ----------------------------------------------------------------------------- file formats


def test_thousands_separators_are_read_with_a_warning(write):
    df = runs()
    lines = ["params,tokens,loss"] + [
        f'"{int(n):,}",{int(d)},{loss:.6f}' for n, d, loss in zip(df["params"], df["tokens"], df["loss"], strict=True)
    ]
    with pytest.warns(RunsTableWarning) as rec:
        out = validate_runs(write("\n".join(lines) + "\n"))
    msgs = [str(w.message) for w in rec if issubclass(w.category, RunsTableWarning)]
    assert msgs == [
        "column 'params' uses ',' as a thousands separator (e.g. '100,000,000' in row 1 (file line 2)); read as "
        "1e+08. Export numbers without separators to silence this."
    ]
    np.testing.assert_allclose(out["params"].to_numpy(), np.floor(df["params"].to_numpy()))


def test_decimal_comma_is_not_mistaken_for_a_thousands_separator(write):
    lines = csv_text(runs()).splitlines()
    cells = lines[2].split(",")
    lines[2] = ",".join([*cells[:2], '"2,5"'])
    with pytest.raises(RunsTableError, match=r"column 'loss', row 2 \(file line 3\): '2,5' is not a number"):
        validate_runs(write("\n".join(lines) + "\n"))


def test_utf8_bom_in_header_works(write):
    text = csv_text(runs())
    out = no_warnings(validate_runs, write("\ufeff" + text))
    np.testing.assert_allclose(out["params"].to_numpy(), N6, rtol=1e-9)
    assert list(out.index) == [1, 2, 3, 4, 5, 6]


def test_crlf_and_blank_lines_keep_file_line_numbers(write):
    lines = csv_text(runs()).splitlines()
    text = "\r\n".join([lines[0], "", lines[1], lines[2], ",,", lines[3], lines[4], lines[5], lines[6]]) + "\r\n\r\n"
    df = read_runs(write(text))
    # blank line 2 and the spreadsheet's empty line 5 are skipped; row k is still file line k + 1
    assert list(df.index) == [2, 3, 5, 6, 7, 8]
    out = no_warnings(validate_runs, df)
    np.testing.assert_allclose(out["params"].to_numpy(), N6, rtol=1e-9)
    bad = text.replace(lines[3], lines[3].replace(lines[3].split(",")[2], "oops"))
    with pytest.raises(RunsTableError, match=r"column 'loss', row 5 \(file line 6\): 'oops' is not a number"):
        validate_runs(write(bad))


def test_row_with_extra_values_is_not_silently_shifted(write):
    # pandas would take the first value of every row as an index and shift the columns
    lines = csv_text(runs()).splitlines()
    text = "\n".join([lines[0]] + [ln + ",0.01" for ln in lines[1:]]) + "\n"
    with pytest.raises(RunsTableError) as e:
        read_runs(write(text))
    assert str(e.value).endswith(
        "row 1 (file line 2) has 4 values but the header names 3 columns (params, tokens, loss); remove the extra "
        "values or add the missing ones (quote text that contains commas)."
    )


def test_trailing_commas_are_accepted(write):
    lines = csv_text(runs()).splitlines()
    out = no_warnings(validate_runs, write("\n".join([lines[0]] + [ln + ",," for ln in lines[1:]]) + "\n"))
    np.testing.assert_allclose(out["params"].to_numpy(), N6, rtol=1e-9)


def test_flops_a_third_above_6nd_are_said_and_replaced_while_rounding_is_kept():
    # flops 1.3x 6ND (another way of counting, or an error) were kept without a word: they moved the report's default
    # targets and the distances beyond the runs, while every budget is read as 6ND (a fresh user)
    df = runs()
    exact = 6 * df["params"] * df["tokens"]
    df["flops"] = exact * 1.3
    df.loc[0, "flops"] = exact[0] * 1.01  # rounding: kept as given
    with pytest.warns(RunsTableWarning) as rec:
        out = validate_runs(df)
    said = [str(w.message) for w in rec if "'flops'" in str(w.message)]
    assert len(said) == 1 and said[0].startswith(
        "column 'flops' differs from 6 * params * tokens in row 1, row 2, row 3 and 2 more (1.3x 6ND, e.g. ")
    np.testing.assert_allclose(out["flops"][1:], exact[1:], rtol=1e-12)
    assert out.loc[0, "flops"] == pytest.approx(1.01 * exact[0], rel=1e-12)


def test_targets_with_flops_that_contradict_6nd_warn_and_use_the_tokens():
    """A plans table whose flops are 40x off 6ND (a typo) is warned about, not silently read (fresh-user finding)."""
    t = pd.DataFrame({"label": ["A", "B"], "params": [1.44e9, 1e9], "tokens": [2.88e10, 2e10], "flops": [1e22, 1.2e20]})
    with pytest.warns(RunsTableWarning) as rec:
        out = validate_targets(t, what="plans table")
    assert [str(w.message) for w in rec] == [
        "plans: column 'flops' differs from 6 * params * tokens in row 0 (40.2x 6ND, e.g. 1e+22 vs 2.48832e+20); "
        "'tokens' is used and 'flops' is replaced by 6ND, the compute every budget here is counted in (Kaplan et al. "
        "2020, §2.1). Drop the column to silence this; compute counted another way (attention included) does not "
        "enter the law."]
    np.testing.assert_allclose(out["flops"], [6 * 1.44e9 * 2.88e10, 1.2e20])
    # in PF-days beside params and tokens: the unit is named (a fresh user read "1.16e-20x 6ND")
    pf = t.assign(flops=6 * t["params"] * t["tokens"] / 8.64e19)
    with pytest.warns(RunsTableWarning, match=r"\('flops' looks like PF-days: 1 PF-day = 8.64e19 FLOPs\); 'tokens' is "
                                              r"used"):
        validate_targets(pf, what="plans table")


def test_a_small_models_compute_is_no_unit_error_when_params_and_tokens_are_given(fake_hier_fit):
    # the command line validates targets twice (expand_targets, then predict): a fresh user's N = 1e5, D = 1e6 target,
    # which the Python API forecast with a warning, was refused as "targets column 'flops', row 0: 6e+11 ... PF-days"
    from bayes_scaling.workflow import expand_targets

    t = pd.DataFrame({"params": [1e5, 2e6], "tokens": [1e6, 4e7]})
    once = expand_targets(fake_hier_fit, t)
    twice = validate_targets(once)
    np.testing.assert_allclose(twice["flops"], 6 * twice["params"] * twice["tokens"])
    assert len(twice) == 2 * (len(fake_hier_fit.own_domains) + 1)
    # flops alone are still checked for their unit
    with pytest.raises(RunsTableError, match="column 'flops' looks like it is in PF-days"):
        validate_targets(pd.DataFrame({"flops": [3.5, 7.0]}), needs=("flops",))


def test_targets_errors_name_the_table():
    with pytest.raises(RunsTableError) as e:
        validate_targets(pd.DataFrame({"label": ["A"], "params": ["abc"], "tokens": [2e10]}), what="plans table")
    assert str(e.value) == "plans column 'params', row 0: 'abc' is not a number; write plain numbers such as 7e9 or 7000000000."
    with pytest.raises(RunsTableError) as e:
        validate_targets(pd.DataFrame({"label": ["A", "B"], "params": [1e9, 1e9], "tokens": [2e10, 2e10],
                                       "unique_tokens": [1e10, 3e10]}), what="plans table")
    assert str(e.value) == ("plans column 'unique_tokens' exceeds 'tokens' in row 1; unique tokens U cannot exceed the "
                            "tokens seen D (a plan repeats data, it cannot skip it): lower U or raise D.")
    with pytest.raises(RunsTableError) as e:  # a plan written as 20 tokens per parameter
        validate_targets(pd.DataFrame({"label": ["A"], "params": [1e9], "tokens": [20]}), what="plans table")
    assert str(e.value) == ("plans column 'tokens' looks like tokens per parameter or billions of tokens (largest "
                            "value 20); give total training tokens D as a raw count: tokens = tokens_per_param * params, "
                            "or tokens * 1e9 for billions.")


def test_pandas_index_column_is_ignored(write):
    out = no_warnings(validate_runs, write(runs().to_csv()))  # header ',params,tokens,loss'
    np.testing.assert_allclose(out["tokens"].to_numpy(), 20 * N6, rtol=1e-9)


def test_semicolon_separated_file(write):
    text = csv_text(runs()).replace(",", ";")
    with pytest.raises(RunsTableError, match=r"separates values with semicolons, not commas \(header "
                                             r"'params;tokens;loss'\); save it as a comma-separated CSV"):
        read_runs(write(text))


def test_not_utf8(write):
    with pytest.raises(RunsTableError, match=r"is not UTF-8 text \(byte 23\); save it as UTF-8 CSV"):
        read_runs(write(b"params,tokens,loss\n1e9,\xff2e10,2.5\n"))


def test_empty_file(write):
    path = write("")
    with pytest.raises(RunsTableError) as e:
        read_runs(path)
    assert str(e.value) == (
        f"runs table file '{path}' is empty; it needs a header line 'params,tokens,loss' and one line per run."
    )


def test_empty_file_of_a_data_constrained_fit_names_its_header(write, tmp_path, capsys):
    # the hint said 'params,tokens,loss' to a user of the data-constrained law, which also needs unique_tokens
    from bayes_scaling.cli import main

    path = write("")
    assert main(["fit", str(path), "--law", "data_constrained", "--out", str(tmp_path / "o"), "--quiet"]) == 2
    assert capsys.readouterr().err == (f"error: runs table file '{path}' is empty; it needs a header line "
                                       "'params,tokens,unique_tokens,loss' and one line per run.\n")


def test_empty_targets_file_names_the_targets_header(write):
    path = write("")
    with pytest.raises(RunsTableError) as e:
        read_runs(path, what="targets table")
    assert str(e.value) == (
        f"targets table file '{path}' is empty; it needs a header line 'params,tokens' and one line per target."
    )


def test_missing_loss_never_suggests_renaming_a_column_that_has_its_own_meaning():
    df = pd.DataFrame({"params": [1e8, 2e8, 4e8], "flops": [1e18, 4e18, 1.6e19]})
    with pytest.raises(RunsTableError) as e:
        validate_runs(df)
    assert str(e.value) == ("runs table has no column 'loss' (add each run's final evaluation loss in nats per token; "
                            "in bits, add it as 'loss' and pass loss_unit='bits'). Columns found: params, flops.")


def test_only_blank_lines(write):
    with pytest.raises(RunsTableError, match=r"has no header; the first line must name the columns"):
        read_runs(write("\n\n  \n"))


def test_header_only_file(write):
    path = write("params,tokens,loss\n")
    with pytest.raises(RunsTableError) as e:
        validate_runs(path)
    assert str(e.value) == f"runs table file '{path}' has a header but no data rows; add one line per run."


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(RunsTableError, match=r"does not exist; check the path"):
        read_runs(tmp_path / "nope.csv")
    with pytest.raises(RunsTableError) as e:
        read_runs(tmp_path)
    assert str(e.value) == (f"runs table path '{tmp_path}' is a directory; give a table file (CSV or TSV, optionally "
                            "gzip-compressed, .xlsx, .parquet or .json).")
    # a saved fit's directory (or the report directory around it) where a runs table belongs (a fresh user)
    (tmp_path / "fit").mkdir()
    for name in ("fit.json", "runs.csv"):
        (tmp_path / "fit" / name).write_text("{}")
    with pytest.raises(RunsTableError) as e:
        read_runs(tmp_path)
    assert str(e.value) == (f"runs table path '{tmp_path}' is a directory; it holds a saved fit, whose runs are in "
                            f"'{tmp_path / 'fit' / 'runs.csv'}' (commands that read a fit take the directory itself); "
                            "give a table file (CSV or TSV, optionally gzip-compressed, .xlsx, .parquet or .json).")


def test_empty_dataframe():
    with pytest.raises(RunsTableError, match=r"^the runs table is empty"):
        validate_runs(pd.DataFrame({"params": [], "tokens": [], "loss": []}))


def test_hundred_thousand_rows_validate_fast_and_estimate_the_fit_time(write):
    rng = np.random.default_rng(0)
    n = 100_000
    params = np.exp(rng.uniform(np.log(1e7), np.log(1e10), n))
    tokens = params * np.exp(rng.uniform(np.log(5), np.log(200), n))
    loss = chinchilla_loss(params, tokens, E=1.82, A=482.0, B=2085.0, alpha=0.348, beta=0.366)
    path = write(pd.DataFrame({"params": params, "tokens": tokens, "loss": loss}).to_csv(index=False))
    t0 = time.perf_counter()
    with pytest.warns(RunsTableWarning) as rec:
        out = validate_runs(path)
    elapsed = time.perf_counter() - t0
    assert len(out) == n
    assert elapsed < 10, elapsed
    msgs = [str(w.message) for w in rec if issubclass(w.category, RunsTableWarning)]
    # 15 s compile + 2 s + 1.6 ms of sampling per run (benchmarks/bench_scale.py) + 0.3 s per domain = 177.3 s
    assert estimated_fit_seconds(n) == pytest.approx(177.3, abs=1e-9)
    assert msgs == ["100,000 runs: the fit will take about 3 minutes on 2 cores."]
    assert np.isfinite(out[["params", "tokens", "flops", "loss"]].to_numpy()).all()


# ----------------------------------------------------------------------------- targets


def test_targets_valid_with_flops():
    t = validate_targets(pd.DataFrame({"params": [7e10], "flops": [5.88e23], "label": ["70B"]}))
    assert t.loc[0, "tokens"] == pytest.approx(5.88e23 / (6 * 7e10))
    assert t.loc[0, "label"] == "70B"
    assert t.loc[0, "domain"] is None


def test_targets_missing_column_suggests_name():
    with pytest.raises(RunsTableError) as e:
        validate_targets(pd.DataFrame({"params": [7e10], "n_tokens": [1.4e12]}))
    assert str(e.value) == (
        "targets table has no column 'tokens'; did you mean 'n_tokens'? Rename it to 'tokens' (or give 'flops'). "
        "Columns found: params, n_tokens."
    )
    # a misspelt 'flops' or 'params' next to the other one got no suggestion (a fresh user's candidates)
    with pytest.raises(RunsTableError) as e:
        validate_targets(pd.DataFrame({"params": [7e9], "flop": [1e22]}), what="candidates table")
    assert str(e.value) == ("candidates table has no column 'tokens'; did you mean 'flop'? Rename it to 'flops'. "
                            "Columns found: params, flop.")
    with pytest.raises(RunsTableError) as e:
        validate_targets(pd.DataFrame({"parms": [7e9], "flops": [1e22]}), what="candidates table")
    assert str(e.value) == ("candidates table has 'flops' but no 'params'; did you mean 'parms'? Rename it to 'params'; "
                            "tokens are derived as flops / (6 params).")


def test_targets_outside_0_1_to_10000_tokens_per_parameter_are_warned_about():
    # FLOPs typed into 'tokens' ranked a 7B candidate first with an expected gap of 432 nats, without a word (a fresh user)
    t = pd.DataFrame({"label": ["7B", "13B"], "params": [7e9, 1.3e10], "tokens": [1e22, 1.3e11]})
    with pytest.warns(RunsTableWarning) as rec:
        validate_targets(t, what="candidates table")
    assert [str(r.message) for r in rec] == [
        "candidates: 1 row(s) (row 0) have as many as 1.43e+12 tokens per parameter, outside 0.1-10,000; check that "
        "'params' and 'tokens' are raw counts of the same run."]
    with warnings.catch_warnings():
        warnings.simplefilter("error", RunsTableWarning)
        validate_targets(t.assign(tokens=[1.4e11, 1.3e11]))


def test_targets_non_positive_value_names_row(write):
    path = write("params,tokens\n7e10,1.4e12\n7e9,-1\n", "targets.csv")
    with pytest.raises(RunsTableError) as e:
        validate_targets(path)
    assert str(e.value) == (
        "targets column 'tokens', row 2 (file line 3): '-1' is not a positive finite number; fix or drop that target."
    )


@pytest.mark.parametrize("text, message", [
    ("params,tokens\n7e10,1.4e12\n7e9,\n",
     "targets column 'tokens', row 2 (file line 3): the value is missing; it must be a positive finite number; fix or "
     "drop that target."),
    # two rows without unique_tokens: the targets named only the first; the runs table names them all (a fresh user)
    ("params,tokens,unique_tokens\n1e9,2e10,2e10\n2e9,4e10,\n3e9,6e10,1e10\n4e9,8e10,\n",
     "targets column 'unique_tokens', row 2 (file line 3): the value is missing; it must be a positive finite number; "
     "fix or drop that target. The same in row 4 (file line 5)."),
])
def test_targets_empty_values_say_they_are_missing(write, text, message):
    path = write(text, "targets.csv")
    with pytest.raises(RunsTableError) as e:
        validate_targets(path)
    assert str(e.value) == message


def test_targets_string_value(write):
    with pytest.raises(RunsTableError, match=r"column 'params', row 1 \(file line 2\): '70B' is not a number"):
        validate_targets(write("params,tokens\n70B,1.4e12\n", "targets.csv"))


def test_targets_in_billions():
    with pytest.raises(RunsTableError) as e:
        validate_targets(pd.DataFrame({"params": [70.0], "tokens": [1.4e12]}))
    assert str(e.value) == (
        "targets column 'params' looks like it is in millions or billions (largest value 70); give raw counts, e.g. "
        "7e9 for 7B."
    )
    # each column in its own words: unique tokens in billions were told about PF-days (a fresh user)
    with pytest.raises(RunsTableError) as e:
        validate_targets(pd.DataFrame({"params": [7e10], "tokens": [1.4e12], "unique_tokens": [4.0]}))
    assert str(e.value) == ("targets column 'unique_tokens' looks like it is in epochs or a count in millions or "
                            "billions (largest value 4); give the raw count of unique tokens, e.g. 1e11 for 100B.")
    with pytest.raises(RunsTableError) as e:
        validate_targets(pd.DataFrame({"params": [7e10], "flops": [23.0]}))
    assert str(e.value) == ("targets column 'flops' looks like it is in PF-days, TFLOPs or an exponent (largest value "
                            "23); give FLOPs, e.g. 5.88e23.")
    # flops in GFLOPs next to unique tokens: the derived D is named, not 'unique_tokens exceeds tokens' (a fresh user)
    with pytest.raises(RunsTableError) as e:
        validate_targets(pd.DataFrame({"params": [9e9], "flops": [9.72e12], "unique_tokens": [1e9]}))
    assert str(e.value) == ("targets row 0: flops / (6 params) gives 180 tokens, below 100000; check that 'flops' is in "
                            "FLOPs (not PF-days) and 'params' is a raw count.")


def test_targets_one_row_in_billions():
    with pytest.raises(RunsTableError) as e:
        validate_targets(pd.DataFrame({"params": [7e10, 70.0], "tokens": [1.4e12, 1.4e12]}))
    assert str(e.value) == (
        "targets column 'params', row 1: 70 is below 10000 while other rows are raw counts; it looks like millions "
        "or billions. Give raw counts, e.g. 7e9 for 7B."
    )


def test_targets_flops_in_pf_days_for_one_row():
    with pytest.raises(RunsTableError, match=r"targets column 'flops', row 1: 6805.56 is below 1e\+12"):
        validate_targets(pd.DataFrame({"params": [7e10, 7e10], "flops": [5.88e23, 5.88e23 / 8.64e19]}))


def test_targets_with_repeated_index_labels_get_distinct_rows():
    t = pd.concat([pd.DataFrame({"params": [1e9], "tokens": [2e10], "domain": ["a"]}),
                   pd.DataFrame({"params": [1e11], "tokens": [2e12], "domain": ["b"]})])
    out = validate_targets(t)
    assert list(out.index) == [0, 1]
    assert out["params"].tolist() == [1e9, 1e11]


def test_targets_flops_without_params():
    with pytest.raises(RunsTableError, match=r"targets table has 'flops' but no 'params'"):
        validate_targets(pd.DataFrame({"flops": [1e23]}))


def test_targets_overflowing_compute():
    with pytest.raises(RunsTableError, match=r"targets row 0: flops derived from the other sizes is inf"):
        validate_targets(pd.DataFrame({"params": [1e300], "tokens": [1e300]}))


def test_targets_empty_domain_cell_means_no_domain(write):
    t = validate_targets(write("params,tokens,domain\n7e10,1.4e12,code\n7e9,1.4e11,\n", "targets.csv"))
    assert t["domain"].tolist() == ["code", None]


def test_targets_empty_table():
    with pytest.raises(RunsTableError, match=r"^the targets table is empty"):
        validate_targets(pd.DataFrame({"params": [], "tokens": []}))


def test_targets_header_only(write):
    with pytest.raises(RunsTableError, match=r"targets table file '.*' has a header but no data rows"):
        validate_targets(write("params,tokens\n", "targets.csv"))


def test_row_numbers_in_messages_point_at_the_file_line(write):
    """Property of every row-level message: 'row k (file line k+1)', and line k+1 holds the bad value."""
    df = runs()
    for row, col, value in [(1, "loss", "abc"), (4, "tokens", "-7"), (6, "params", "")]:
        lines = csv_text(df).splitlines()
        cells = lines[row].split(",")
        cells[["params", "tokens", "loss"].index(col)] = value
        lines[row] = ",".join(cells)
        path = write("\n".join(lines) + "\n")
        with pytest.raises(RunsTableError) as e:
            validate_runs(path)
        m = re.search(r"row (\d+) \(file line (\d+)\)", str(e.value))
        assert m, str(e.value)
        k, line = int(m.group(1)), int(m.group(2))
        assert (k, line) == (row, row + 1)
        assert path.read_text().splitlines()[line - 1] == lines[row]
        assert f"'{col}'" in str(e.value)


# ---------------------------------------------------------------- issue 14: files users actually have


def test_parquet_and_json_runs_are_read(tmp_path):
    df = runs()
    df.to_parquet(tmp_path / "runs.parquet")
    df.to_json(tmp_path / "runs.json", orient="records")
    df.to_json(tmp_path / "cols.json", orient="columns")
    for name in ("runs.parquet", "runs.json", "cols.json"):
        raw = read_runs(tmp_path / name)
        assert list(raw.index) == [1, 2, 3, 4, 5, 6]  # row 1 = the first data row, as for CSV
        out = validate_runs(raw)
        np.testing.assert_allclose(out["loss"], df["loss"], rtol=1e-9)  # JSON keeps 10 significant digits
    bad = df.copy().astype(object)
    bad.loc[2, "loss"] = "n/a?"
    bad.to_json(tmp_path / "bad.json", orient="records")
    with pytest.raises(RunsTableError, match=r"^column 'loss', row 3: 'n/a\?' is not a number"):
        validate_runs(read_runs(tmp_path / "bad.json"))
    (tmp_path / "broken.json").write_text("{not json")
    with pytest.raises(RunsTableError, match=r"could not be read as a JSON file .* it should be a list of records such "
                                             r"as \[\{\"params\": 7e9"):
        read_runs(tmp_path / "broken.json")


def test_xlsx_runs_are_read_with_sheet_rows(tmp_path):
    pytest.importorskip("openpyxl")
    df = runs().assign(domain="web").astype({"params": object})
    df.loc[3, "params"] = "7B"
    df.to_excel(tmp_path / "runs.xlsx", index=False)
    raw = read_runs(tmp_path / "runs.xlsx")
    with pytest.raises(RunsTableError, match=r"^column 'params', row 4 \(sheet row 5\): '7B' is not a number"):
        validate_runs(raw)
    runs().to_excel(tmp_path / "ok.xlsx", index=False)
    assert len(validate_runs(read_runs(tmp_path / "ok.xlsx"))) == 6


def test_a_missing_excel_reader_is_named(tmp_path, monkeypatch):
    runs().to_csv(tmp_path / "runs.xlsx")  # the content does not matter: the reader is missing

    def no_openpyxl(*args, **kwargs):
        raise ImportError("Missing optional dependency 'openpyxl'.")

    monkeypatch.setattr(pd, "read_excel", no_openpyxl)
    with pytest.raises(RunsTableError) as e:
        read_runs(tmp_path / "runs.xlsx")
    assert str(e.value) == (f"reading the Excel workbook '{tmp_path / 'runs.xlsx'}' needs the optional package openpyxl, "
                            "which is not installed: pip install 'bayes_scaling[excel]' (or pip install openpyxl); or "
                            "save the table as CSV.")


@pytest.mark.parametrize(("head", "kind"), [(b"PK\x03\x04", "an Excel workbook (.xlsx) or another zip archive"),
                                            (b"PAR1", "a Parquet file"), (b"\xff\xfe", "UTF-16 text")])
def test_a_binary_file_is_named_not_called_empty(write, head, kind):
    """Issue 14: a binary file was reported as 'a header but no data rows'."""
    path = write(head + b"params\x00\x01\x02" * 40)
    with pytest.raises(RunsTableError, match=re.escape(f"runs table file '{path}' is {kind}")) as e:
        read_runs(path)
    assert "no data rows" not in str(e.value)
    path = write(b"params,tokens,loss\n\x00\x00\x00\x00")
    with pytest.raises(RunsTableError, match="is a binary file \\(it contains NUL bytes\\)"):
        read_runs(path)


def test_headers_that_contain_the_columns_word_are_all_offered_the_likeliest_first():
    # a fresh user's routing table: six evaluation losses (offered 'loss_c4' only), two parameter counts (none
    # offered), and compute as 'train_flops_approx' beside 'flop_increase' and 'flops_per_step'
    cols = ["hyper_id", "flop_increase", "total_parameter_count", "dense_parameter_count", "flops_per_step",
            "loss_c4", "step_c4", "loss_curation_corpus", "loss_validation", "tokens_seen", "train_flops_approx"]
    with pytest.raises(RunsTableError) as e:
        validate_runs(pd.DataFrame({c: [1.0, 2.0] for c in cols}))
    assert str(e.value).startswith(
        "runs table lacks 3 columns: 'params'; did you mean one of 'total_parameter_count', 'dense_parameter_count'? "
        "Rename the one you mean to 'params'; 'tokens'; did you mean 'tokens_seen'? Rename it to 'tokens' (or give "
        "'flops' and tokens are derived as flops / (6 params): rename 'train_flops_approx' to 'flops' if it holds "
        "training compute in FLOPs); 'loss'; did you mean one of 'loss_validation', 'loss_c4', "
        "'loss_curation_corpus'? Rename the one you mean to 'loss' (each evaluation set is a domain of its own: fit "
        "one, or stack them with a domain column). Columns found: ")


def test_a_wide_table_without_loss_lists_the_columns_like_loss_not_all_of_them():
    # a fresh user's table of 86 logged metrics gave one error line of 3,080 characters, the loss columns lost among
    # them; the wide table's columns like 'loss' are listed instead, the shortest names first
    cols = (["id", "params", "tokens", "train/CrossEntropyLoss", "val_loss"]
            + [f"eval/downstream/task_{i:02d}_acc" for i in range(40)]
            + [f"eval/downstream/task_{i:02d}_ce_loss" for i in range(20)])
    with pytest.raises(RunsTableError) as e:
        validate_runs(pd.DataFrame({c: [1e9, 2e9] for c in cols}))
    assert str(e.value) == (
        "runs table has no column 'loss'; did you mean 'val_loss'? Rename it to 'loss'. Columns found: 65, those like "
        "'loss': val_loss, train/CrossEntropyLoss, eval/downstream/task_00_ce_loss, eval/downstream/task_01_ce_loss, "
        + ", ".join(f"eval/downstream/task_{i:02d}_ce_loss" for i in range(2, 13)) + " and 7 more.")
    from bayes_scaling.data import missing_domain_column
    assert missing_domain_column("mix", "runs.csv", cols) == (
        "--domain-col 'mix' is not a column of 'runs.csv' (columns: 65, the first: id, params, tokens, "
        "train/CrossEntropyLoss, val_loss, " + ", ".join(f"eval/downstream/task_{i:02d}_acc" for i in range(10))
        + " and 50 more); name the column that holds each run's domain, or leave --domain-col out to fit the runs "
        "as one domain.")


def test_a_table_of_one_size_column_is_pointed_to_the_one_variable_law():
    # a fresh user's compute-only and params-only tables were told only which columns were missing
    df = runs()
    with pytest.raises(RunsTableError) as e:
        validate_runs(df.assign(flops=6 * df["params"] * df["tokens"])[["flops", "loss"]])
    assert str(e.value) == ("runs table has no column 'params'. Columns found: flops, loss. A table of compute and "
                            "loss only fits the one-variable law power_flops (--law power_flops; "
                            "ScalingLaw(law='power_flops') in Python).")
    with pytest.raises(RunsTableError) as e:
        validate_runs(df[["params", "loss"]])
    assert str(e.value).endswith("Columns found: params, loss. A table of parameters and loss only (every run on the "
                                 "same number of tokens) fits the one-variable law power_params (--law power_params; "
                                 "ScalingLaw(law='power_params') in Python).")


def test_a_one_variable_law_on_runs_that_vary_in_another_size_is_warned_about():
    # a fresh user's Chinchilla runs (D over three decades) were fitted with the law of N alone, and with the law of C
    # alone as if every run were compute-optimal, without a word
    df = runs(6).assign(tokens=lambda d: d["params"] * np.array([1, 300, 5, 40, 2, 100]))
    with pytest.warns(RunsTableWarning, match=r"^column 'tokens' varies .*x across the runs, but the law reads N alone"):
        validate_runs(df, needs=("params",), informative_prior=True)
    with pytest.warns(RunsTableWarning, match=r"^the runs span 1-300 tokens per parameter, but the law reads C alone"):
        validate_runs(df, needs=("flops",), informative_prior=True)
    with warnings.catch_warnings(record=True) as rec:  # runs of one token budget (the routing runs): nothing
        warnings.simplefilter("always")
        validate_runs(runs(6).assign(tokens=1.3e11), needs=("params",), informative_prior=True)
    assert not [w for w in rec if "reads N alone" in str(w.message)]


def test_a_gzip_compressed_csv_is_read_and_a_damaged_one_named(tmp_path):
    # a fresh user's curves.csv.gz was called "a binary file (NUL bytes)"
    import gzip

    text = csv_text(runs())
    (tmp_path / "runs.csv").write_text(text)
    (tmp_path / "runs.csv.gz").write_bytes(gzip.compress(text.encode()))
    pd.testing.assert_frame_equal(read_runs(tmp_path / "runs.csv.gz"), read_runs(tmp_path / "runs.csv"),
                                  check_like=False)
    (tmp_path / "cut.csv.gz").write_bytes(gzip.compress(text.encode())[:20])
    with pytest.raises(RunsTableError, match=r"^runs table file '.*cut.csv.gz' is a damaged gzip file \("):
        read_runs(tmp_path / "cut.csv.gz")


def test_epoch_headers_are_recognised_in_one_round():
    epoch = pd.DataFrame({"Model Size": N6, "Training FLOP": 6 * N6 * 20 * N6,
                          "loss": chinchilla_loss(N6, 20 * N6, E=1.82, A=482.0, B=2085.0, alpha=0.348, beta=0.366)})
    with pytest.warns(RunsTableWarning, match=r"read the columns 'Model Size' as 'params', 'Training FLOP' as 'flops' "
                                              r"\(the names of Epoch AI's Chinchilla table"):
        out = validate_runs(epoch)
    np.testing.assert_allclose(out["tokens"], 20 * N6, rtol=1e-12)
    # other spellings: every missing column named in one message
    with pytest.raises(RunsTableError) as e:
        validate_runs(pd.DataFrame({"n_params": N6, "train_tokens": N6, "val_loss": N6}))
    assert str(e.value).startswith("runs table lacks 3 columns: 'params'; did you mean 'n_params'? Rename it to 'params'; "
                                   "'tokens'; did you mean 'train_tokens'? Rename it to 'tokens' (or give 'flops'")
    assert "'loss'; did you mean 'val_loss'? Rename it to 'loss'. Columns found: n_params, train_tokens, val_loss." in str(e.value)


def test_losses_in_bits_are_flagged_and_converted():
    """Issue 14: loss in bits (4.3-7.8 on OpenLM runs) was accepted as nats."""
    import bayes_scaling as bs

    d = bs.datasets.load_openlm()
    five = d[(d["domain"] == "rpj/c4_val") & np.isclose(d["tokens"] / d["params"], 20)].head(5)
    bits = five[["params", "tokens"]].assign(loss=five["loss"] / np.log(2))
    with pytest.warns(RunsTableWarning, match=r"^the losses are 1.6x what the published Chinchilla laws give at the "
                                              r"same N and D .* are they in bits \(log2\)\? If so, pass loss_unit='bits'"):
        validate_runs(bits, informative_prior=True)
    # the 24 OpenLM domains in nats: only the C4-trained model on PTB (1.56x) is asked about
    with pytest.warns(RunsTableWarning, match=r"^the losses of domain\(s\) 'c4_original/paloma_ptb' are 1.6x"):
        validate_runs(bs.datasets.load_openlm().drop(columns=["flops"]), informative_prior=True)
    # the published laws' own data in bits (1.44x; a fresh user's runs went through without a word at 1.5)
    chin = bs.datasets.load_chinchilla()
    with pytest.warns(RunsTableWarning, match=r"^the losses are 1.4x what the published Chinchilla laws give"):
        validate_runs(chin.assign(loss=chin["loss"] / np.log(2)), informative_prior=True)
    with warnings.catch_warnings():
        warnings.filterwarnings("error", "the losses", RunsTableWarning)
        warnings.filterwarnings("ignore", ".*tokens per parameter", RunsTableWarning)  # its run at 0.036
        validate_runs(chin, informative_prior=True)  # and in nats: none
    with warnings.catch_warnings():
        warnings.simplefilter("error", RunsTableWarning)
        out = validate_runs(bits, informative_prior=True, loss_unit="bits")  # converted: no warning
        validate_runs(five[["params", "tokens", "loss"]], informative_prior=True)  # the same runs in nats: none
    np.testing.assert_allclose(out["loss"], five["loss"], rtol=1e-12)


def test_rows_of_reference_runs_are_called_so():
    ref = runs().assign(domain="ref")
    ref.loc[0, "tokens"] = ref.loc[0, "params"] * 0.03
    ref.attrs["what"] = "reference runs (embedded Chinchilla data)"
    with pytest.warns(RunsTableWarning, match=r"\(row 0 of the reference runs \(embedded Chinchilla data\)\) have as few as 0.03"):
        validate_runs(ref)


def test_runs_at_one_n_and_d_but_other_unique_tokens_are_not_seeds():
    # a data-constrained fit's summary called 60 runs "seeds" (19 configurations "trained more than once"): they
    # differed in unique tokens (a fresh user)
    from bayes_scaling.data import repeated_configurations

    runs = pd.DataFrame({"params": [8.27e7] * 4, "tokens": [2e10] * 4, "unique_tokens": [1e8, 4e8, 4e8, 2e10],
                         "domain": ["d"] * 4})
    rep = repeated_configurations(runs)
    assert rep.to_dict() == {(8.27e7, 2e10, 4e8, "d"): 2}
    assert repeated_configurations(runs.drop(columns="unique_tokens")).to_dict() == {(8.27e7, 2e10, "d"): 4}
    # a compute-only table: its budgets (nine runs at nine budgets were "one configuration trained 9 times")
    c = pd.DataFrame({"flops": [1e18, 1e19, 1e19, 1e20], "loss": [3.0, 2.7, 2.71, 2.5], "domain": "d"})
    assert repeated_configurations(c).to_dict() == {(1e19, "d"): 2}
    assert repeated_configurations(c.drop(columns="domain")).to_dict() == {1e19: 2}
    from bayes_scaling.data import configuration_words

    assert configuration_words(repeated_configurations(c)) == "C and domain"
    assert configuration_words(repeated_configurations(runs)) == "N, D, U and domain"


def test_targets_with_a_misspelt_domain_column_are_warned_about():
    # a fresh user's 'Corpus' column was ignored and every domain forecast, without a word
    t = pd.DataFrame({"params": [1e9], "tokens": [2e10], "Corpus": ["c4"]})
    with pytest.warns(RunsTableWarning) as rec:
        validate_targets(t, domain_col="corpus")
    assert [str(r.message) for r in rec] == [
        "targets table has no column 'corpus' (the fit's domain column); did you mean 'Corpus'? Without it every row "
        "is taken as having no domain. Rename the column to 'corpus'."]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        validate_targets(t.rename(columns={"Corpus": "label"}), domain_col="corpus")  # nothing close: silent


def test_tokens_in_billions_are_named_as_such():
    """A fresh user's Chinchilla runs with tokens in billions were told only "looks like tokens per parameter"."""
    from bayes_scaling.datasets import load_chinchilla

    df = load_chinchilla()[["params", "tokens", "loss"]].copy()
    df["tokens"] = df["tokens"] / 1e9
    with pytest.raises(RunsTableError) as e:
        validate_runs(df)
    row = int(df["tokens"].to_numpy().argmax())
    assert str(e.value) == (
        f"column 'tokens' looks like tokens per parameter or billions of tokens (largest value "
        f"{df['tokens'].max():g}, row {row}); give total training tokens D as a raw count: tokens = tokens_per_param "
        "* params, or tokens * 1e9 for billions.")


def test_a_loss_far_below_every_other_is_warned_about():
    """A fresh user's loss of 0.05 among losses of 2-8 was fitted without a word."""
    df = runs()
    df.loc[3, "loss"] = 0.05
    with pytest.warns(RunsTableWarning) as rec:
        validate_runs(df)
    msgs = [str(w.message) for w in rec if "less than 1/3" in str(w.message)]
    second = df["loss"].drop(3).min()
    assert msgs == [f"column 'loss', row 3: 0.05 is less than 1/3 of every other loss (the next lowest is {second:g}); "
                    "a scaling law does not fall that far between runs: check its value and unit (nats per token), or "
                    "drop the row."]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        validate_runs(runs())  # the clean table is quiet


def test_a_loss_that_rises_with_compute_is_refused_or_warned_about():
    """A fresh user's accuracies (0.3-0.7, rising with N) were fitted as losses: "reaches 0.451 nats/token"; after
    the warning they still were (another fresh user): a steady rise is refused, a looser one warned about."""
    from scipy import stats

    df = runs(8)
    df["loss"] = np.linspace(0.3, 0.7, 8)
    with pytest.raises(RunsTableError) as e:
        validate_runs(df)
    rho, p = stats.spearmanr(df["params"] * df["tokens"], df["loss"])
    assert str(e.value) == (
        f"column 'loss' rises with compute (Spearman correlation {rho:.2f} over 8 runs, p = {p:.2g}), where a loss "
        "falls: is it an accuracy or a score (higher is better)? Give the loss in nats per token.")
    df = runs(20)
    df["loss"] = 2.0 + 0.05 * (np.arange(20) + np.random.default_rng(0).normal(0, 6, 20))  # rising, not steadily
    rho, p = stats.spearmanr(df["params"] * df["tokens"], df["loss"])
    assert 0.6 < rho < 0.8 and p < 0.01  # the case this part tests
    with pytest.warns(RunsTableWarning, match=r"^column 'loss' rises with compute \(Spearman correlation 0.68 over 20"):
        validate_runs(df)


def _sweep(tpp=(5.0, 10.0, 20.0, 40.0), sizes=(1e8, 4e8)) -> pd.DataFrame:
    """Runs of a known law at a few sizes, each on several token counts (index 0..n-1)."""
    params = np.repeat(np.array(sizes), len(tpp))
    tokens = params * np.tile(np.array(tpp), len(sizes))
    loss = chinchilla_loss(params, tokens, E=1.82, A=482.0, B=2085.0, alpha=0.348, beta=0.366)
    return pd.DataFrame({"params": params, "tokens": tokens, "loss": loss})


def test_a_loss_that_rises_with_tokens_at_one_size_is_named():
    """A fresh user's code evaluation of models trained on C4 rose from 3.60 to 3.81 nats between 25B and 50B tokens
    at 79M parameters; the fit read it as noise and forecast the larger runs 5-27 % too low, without a word."""
    df = _sweep()
    df.loc[3, "loss"] = df.loc[1, "loss"] * 1.08  # N = 100M on 4B tokens: 8 % above the run on 1B, more above 2B's
    with pytest.warns(RunsTableWarning) as rec:
        validate_runs(df)
    msgs = [str(w.message) for w in rec if "rises with more tokens" in str(w.message)]
    assert msgs == [
        f"column 'loss': at a fixed model size the loss rises with more tokens, by more than 5% (three times the "
        f"typical run-to-run noise of two runs), at 1 model size: N = 100M: {df.loc[2, 'loss']:.4g} at 2B tokens in row 2 -> {df.loc[3, 'loss']:.4g} at "
        "4B in row 3. No law of the package lets the loss rise with data (over-training on data unlike the evaluated "
        "text, or repeated data); the fit reads those runs as noise, so forecasts on more tokens per parameter there "
        "may be too low: check those runs, or leave the rising ones out of the fit."]
    # a rise within run-to-run noise (3 %), and the clean sweep, are quiet
    df.loc[3, "loss"] = df.loc[2, "loss"] * 1.03
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        validate_runs(df)
        validate_runs(_sweep())


def test_a_rise_with_tokens_is_judged_within_one_unique_token_budget():
    """With unique tokens, more tokens on more unique data is a different run (its loss may be higher on a smaller
    budget); the rise that matters is with repetition, within one budget (datablations' runs at hundreds of epochs)."""
    df = _sweep(tpp=(5.0, 10.0, 20.0, 40.0), sizes=(1e8,))
    df["unique_tokens"] = [5e8, 5e8, 2e8, 2e8]
    df["domain"] = "c4"
    df.loc[1, "loss"] = df.loc[0, "loss"] * 1.2  # repeated: 2 epochs of 5e8, above 1 epoch
    df.loc[2, "loss"] = df.loc[0, "loss"] * 1.1  # another budget: not compared with rows 0-1
    df.loc[3, "loss"] = df.loc[2, "loss"] * 0.99
    with pytest.warns(RunsTableWarning) as rec:
        validate_runs(df, informative_prior=True)
    msgs = [str(w.message) for w in rec if "rises with more tokens" in str(w.message)]
    assert len(msgs) == 1 and "at 1 model size: N = 100M: " in msgs[0] and "in row 0 -> " in msgs[0]
    assert "in row 1." in msgs[0] and "row 2" not in msgs[0]
    assert "(repeated data beyond the point where it stops helping)" in msgs[0]


def test_the_rise_margin_is_three_sds_of_two_runs_at_the_learned_noise():
    from bayes_scaling.data import RISE_WITH_TOKENS
    from bayes_scaling.model import NOISE_PRIOR

    assert RISE_WITH_TOKENS == pytest.approx(3.0 * np.sqrt(2.0) * np.exp(NOISE_PRIOR[0]))


def test_a_table_that_is_neither_a_frame_nor_a_path_is_named():
    # fit.predict([[1e9, 2e10]]) raised "argument should be a str or an os.PathLike object ..." (a fresh user)
    import bayes_scaling as bs

    with pytest.raises(bs.RunsTableError) as exc:
        bs.validate_runs([[1e9, 2e10, 3.0]])
    assert str(exc.value) == ("the runs table must be a pandas DataFrame or a path to a CSV file, not a list; e.g. "
                              "pd.DataFrame({'params': [7e9], 'tokens': [1.4e11]}).")


def _three_mixes() -> pd.DataFrame:
    """An isoFLOP-like table of three data mixes at the same six sizes, the mix in a column 'mix'."""
    parts = [runs(loss_shift=0.0).assign(mix=m, loss=lambda d, k=k: d["loss"] * (1 + 0.03 * k))
             for k, m in enumerate(["c4", "rpj", "rw"])]
    return pd.concat(parts, ignore_index=True).drop(columns="loss_shift")


def test_a_text_column_that_tells_apart_runs_of_one_size_is_named_when_unused():
    # a fresh user's three data mixes in a column 'mix', without --domain-col, were fitted as one domain silently
    with pytest.warns(RunsTableWarning) as rec:
        out = validate_runs(_three_mixes())
    assert (out["domain"] == "default").all()
    assert [str(w.message) for w in rec if "not used" in str(w.message)] == [
        "column 'mix' holds 3 names ('c4', 'rpj', 'rw') and tells apart runs of the same size, but it is not used: "
        "every run is fitted as one domain. If it names each run's domain (a data mix, a corpus, a training recipe), "
        "pass --domain-col mix (domain_col='mix' in Python); else drop the column."]


def test_two_text_columns_that_tell_apart_runs_are_named_together():
    # OpenLM's long table (training corpus x evaluation set) named only 'train_dataset', and each run's 8 evaluation
    # sets were fitted as 8 seeds of one domain (a fresh user)
    both = pd.concat([_three_mixes().assign(eval_set=e) for e in ("c4_val", "ptb")], ignore_index=True)
    with pytest.warns(RunsTableWarning) as rec:
        validate_runs(both)
    assert [str(w.message) for w in rec if "not used" in str(w.message)] == [
        "columns 'mix' (3 names: 'c4', 'rpj', 'rw') and 'eval_set' (2 names: 'c4_val', 'ptb') tell apart runs of the "
        "same size, but they are not used: every run is fitted as one domain, and rows that differ only in them count "
        "as seeds. If together they name each run's domain (a training corpus and an evaluation set), add a column "
        "such as domain = mix + '/' + eval_set and pass --domain-col domain; else drop them."]


def test_a_size_label_a_run_name_or_the_domain_column_in_use_is_not_named():
    mixes = _three_mixes()
    quiet = [
        (mixes.assign(size=[f"{p:.0e}" for p in mixes["params"]]).drop(columns="mix"), {}),  # a label of the sizes
        (mixes.assign(run_name=[f"run{i}" for i in range(len(mixes))]).drop(columns="mix"), {}),  # identifiers
        (mixes, {"domain_col": "mix"}),  # the column is the domain column
    ]
    for table, kw in quiet:
        with warnings.catch_warnings(record=True) as rec:
            warnings.simplefilter("always")
            validate_runs(table, **kw)
        assert not [w for w in rec if "not used" in str(w.message)], (list(table.columns), kw)


def _curves(n_sizes: int = 3, n_ckpt: int = 10, step_tokens: float = 5.24288e9) -> pd.DataFrame:
    """Loss curves: ``n_ckpt`` checkpoints in equal steps of tokens of each of ``n_sizes`` runs (the shape of the
    DeepMind routing curves), with the run's id and step."""
    rows = []
    for i, n in enumerate(np.geomspace(1.6e7, 1.3e8, n_sizes)):
        for k in range(1, n_ckpt + 1):
            d = k * step_tokens
            rows.append({"hyper_id": str(10 + i), "step": k * 10_000, "params": n, "tokens": d,
                         "loss": float(chinchilla_loss(n, d, E=1.82, A=482.0, B=2085.0, alpha=0.348, beta=0.366))})
    return pd.DataFrame(rows)


def test_checkpoints_of_loss_curves_are_named_and_their_run_id_is_not_offered_as_a_domain():
    # a fresh user's routing curves (25 checkpoints of 6 runs, 'hyper_id' and 'step' columns) were fitted as 150
    # independent runs, and the run id was offered as the domain column
    with pytest.warns(RunsTableWarning) as rec:
        validate_runs(_curves(), informative_prior=True)
    msgs = [str(w.message) for w in rec]
    assert [m for m in msgs if "checkpoints" in m] == [
        "the runs look like checkpoints of training runs (loss curves), not separate runs: 3 model size(s) have token "
        "counts in equal steps, e.g. N = 16M: 10 values from D = 5.24B to 52.4B, 5.24B apart, and column 'step' counts "
        "training steps. A checkpoint before the end of its learning-rate schedule lies above the loss of a run "
        "trained to that D, and the points of one curve are not independent, so the fit is over-confident and the D "
        "exponent and the compute-optimal tokens per parameter are biased. Keep one row per run (its final "
        "checkpoint), or only checkpoints whose schedule ended there."]
    assert not [m for m in msgs if "--domain-col" in m]
    # the step column alone names them (checkpoints saved at doubling steps make no ladder)
    geometric = _curves().assign(tokens=lambda d: d["tokens"] * 2.0 ** (d["step"] / 10_000))
    with pytest.warns(RunsTableWarning, match=r"^the runs look like checkpoints .* not separate runs: column 'step' "
                                              r"counts training steps\. A checkpoint"):
        validate_runs(geometric, informative_prior=True)
    # an isoFLOP sweep at five evenly spaced budgets is not a loss curve (five D in equal steps at each N)
    n = np.geomspace(5e7, 5e8, 6)
    sweep = pd.DataFrame([{"params": p, "tokens": c / (6 * p), "loss": 3.0 - 0.1 * k - 1e-9 * p}
                          for k, c in enumerate(np.arange(1, 6) * 1e18) for p in n])
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        validate_runs(sweep, informative_prior=True)
    assert not [w for w in rec if "checkpoints" in str(w.message)]
    # and the final checkpoints are runs: no word
    final = _curves().groupby("hyper_id").tail(1).drop(columns="step")
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        validate_runs(final, informative_prior=True)
    assert not [w for w in rec if "checkpoints" in str(w.message)]


def test_tokens_missing_or_given_as_steps_beside_a_step_column_get_the_formula():
    curves = _curves()
    with pytest.raises(RunsTableError) as e:
        validate_runs(curves.drop(columns="tokens"))
    assert ("has no column 'tokens' (or give 'flops' and tokens are derived as flops / (6 params)); column 'step' "
            "counts training steps: tokens = step x batch size (sequences) x sequence length. Columns found:") in str(e.value)
    with pytest.raises(RunsTableError) as e:
        validate_runs(curves.assign(tokens=curves["step"]))
    assert str(e.value).endswith("give raw counts, e.g. 7e9 for 7B; if 'tokens' holds training steps (the table has a "
                                 "'step' column), give tokens = steps x batch size (sequences) x sequence length.")


@pytest.mark.parametrize("name", ["chinchilla", "openlm", "datablations", "routing"])
def test_no_embedded_data_set_reads_as_checkpoints(name):
    """Runs planned at several D are spaced by factors, or by whole epochs of one unique-token budget (datablations'
    4.25B model at D = 12B, 24B, ..., 84B of U = 12B)."""
    import bayes_scaling as bs

    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        validate_runs(getattr(bs.datasets, f"load_{name}")(), informative_prior=True)
    assert not [w for w in rec if "checkpoints" in str(w.message)]


def test_targets_with_the_fits_domain_names_under_another_header_are_told_to_rename_it():
    # a fresh user's targets had the mixes in 'mix' while the fit's column was 'domain': every target was forecast
    # for every domain and a new one (116 rows for 29), silently
    t = pd.DataFrame({"params": [1e9, 1e9], "tokens": [2e10, 2e10], "mix": ["code", "web"]})
    with pytest.warns(RunsTableWarning) as rec:
        validate_targets(t, domains=["books", "code", "web"])
    assert [str(w.message) for w in rec] == [
        "targets table column 'mix' holds domain names of the fit ('code', 'web') but the fit's domain column is "
        "'domain': without it every row is taken as having no domain. Rename 'mix' to 'domain'."]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        validate_targets(t.assign(mix=["other", "names"]), domains=["books", "code", "web"])  # not the fit's names


def test_many_tokens_per_parameter_from_repeated_data_are_not_a_unit_slip():
    # datablations' 14M model on 900B tokens of 100M unique tokens warned "check raw counts" on every fit
    df = runs(n=6)
    df.loc[0, "tokens"] = 9e5 * df.loc[0, "params"]
    df["unique_tokens"] = df["tokens"]
    df.loc[0, "unique_tokens"] = 7 * df.loc[0, "params"]
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        validate_runs(df)
    assert not [w for w in rec if "tokens per parameter" in str(w.message)]
    with pytest.warns(RunsTableWarning, match=r"1 run\(s\) \(row 0\) have as many as 9e\+05 tokens per parameter, "
                                              r"outside 0.1-10,000"):
        validate_runs(df.assign(unique_tokens=df["tokens"]))  # one epoch: a unit slip is the likelier reading


def test_flops_typed_into_tokens_are_refused_and_tokens_under_flops_are_named():
    # a fresh user's FLOPs under a 'tokens' header were fitted ("a 66.6T-parameter model on 523T tokens") with a
    # warning only, and token counts under a 'flops' header were told only about PF-days
    n = np.array([7.9e7, 7.9e7, 1.5e8, 1.5e8])
    d = n * np.array([20.0, 80.0, 10.0, 160.0])
    loss = [3.2, 3.0, 3.1, 2.9]
    with pytest.raises(RunsTableError) as e:
        validate_runs(pd.DataFrame({"params": n, "tokens": 6 * n * d, "loss": loss}), informative_prior=True)
    assert str(e.value) == ("column 'tokens' looks like training compute (FLOPs), not a token count: every row has "
                            "9e+09-1.44e+11 tokens per parameter, while tokens / (6 params) would give 10-160; if "
                            "it holds FLOPs, rename it 'flops' (tokens are then derived as flops / (6 params)).")
    with pytest.raises(RunsTableError, match=r"^targets: column 'tokens' looks like training compute"):
        validate_targets(pd.DataFrame({"params": [7e9], "tokens": [6 * 7e9 * 1.4e11]}))
    # an isoFLOP sweep's FLOPs in 'tokens': its small-data end reads back below 0.1 tokens per parameter, and such a
    # table was fitted for nine minutes before a later step refused it (a fresh user)
    sweep = pd.DataFrame({"params": n, "tokens": 6 * n * n * np.array([0.01, 20.0, 0.05, 160.0]), "loss": loss})
    with pytest.raises(RunsTableError) as e:
        validate_runs(sweep, informative_prior=True)
    assert str(e.value) == ("column 'tokens' looks like training compute (FLOPs), not a token count: every row has "
                            "4.74e+06-1.44e+11 tokens per parameter, while tokens / (6 params) would give 0.01-160; if "
                            "it holds FLOPs, rename it 'flops' (tokens are then derived as flops / (6 params)); if not, "
                            "give the number of tokens each run was trained on.")
    with pytest.raises(RunsTableError, match=r"give FLOPs, not PF-days \(1 PF-day = 8\.64e19 FLOPs, Kaplan et al\. "
                                             r"2020 §2\.1\); if it holds token counts \(flops / params gives a "
                                             r"plausible 10-160 tokens per parameter\), rename it 'tokens'\.$"):
        validate_runs(pd.DataFrame({"params": n, "flops": d, "loss": loss}), informative_prior=True)
    # a real over-trained run (a 10M model on 100B tokens: 10,000 per parameter) is not refused
    ok = pd.DataFrame({"params": [1e7, 1e8, 1e9], "tokens": [1e11, 2e11, 4e11], "loss": [4.0, 3.5, 3.0]})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RunsTableWarning)
        assert len(validate_runs(ok, informative_prior=True)) == 3


def test_swapped_params_and_tokens_are_refused():
    # a fresh user's swapped columns were fitted, with a warning, into "a 9.49B-parameter model on 3.98B tokens"
    n = np.array([1e7, 8e7, 1.5e8, 1.5e8, 4e8])
    d = n * np.array([20.0, 20.0, 20.0, 160.0, 20.0])
    with pytest.raises(RunsTableError) as e:
        validate_runs(pd.DataFrame({"params": d, "tokens": n, "loss": [5.4, 4.0, 3.7, 3.3, 3.2]}), informative_prior=True)
    assert str(e.value) == ("columns 'params' and 'tokens': every row has fewer tokens than parameters (0.00625-0.05 "
                            "tokens per parameter), while the columns read the other way round give 20-160: are "
                            "'params' and 'tokens' swapped? Swap the two column names.")
    with pytest.raises(RunsTableError, match=r"^targets: columns 'params' and 'tokens': every row has fewer tokens"):
        validate_targets(pd.DataFrame({"params": [1.4e12, 2.8e11], "tokens": [7e10, 1.4e10]}))
    with pytest.warns(RunsTableWarning, match=r"have as few as 0\.05 tokens per parameter"):  # one target: a question
        validate_targets(pd.DataFrame({"params": [1.4e12], "tokens": [7e10]}))


def test_a_file_that_is_not_a_table_is_named_as_such(tmp_path):
    # `predict DIR --at DIR/report.md` said "row 4 has 2 values but the header names 1 columns" (a fresh user)
    md = tmp_path / "report.md"
    md.write_text("# Scaling-law forecast\n\n- a, b\n")
    with pytest.raises(RunsTableError) as e:
        read_runs(md, what="targets table")
    assert str(e.value) == (f"targets table '{md}' is a Markdown document (.md), not a table; give a table file (CSV or "
                            "TSV, optionally gzip-compressed, .xlsx, .parquet or .json).")


def test_runs_of_several_domains_at_one_token_count_within_a_few_percent_are_said():
    # 28 routing recipes at 1.300e11-1.311e11 tokens: the D exponent comes from the prior, without a word (a fresh user)
    df = pd.concat([runs().assign(domain=d) for d in ("a", "b")], ignore_index=True)
    df["tokens"] = 1.305e11 * np.linspace(0.996, 1.0046, len(df))
    with pytest.warns(RunsTableWarning) as rec:
        validate_runs(df, informative_prior=True)
    assert [str(w.message) for w in rec if "not identified" in str(w.message)] == [
        "all runs have the same 'tokens' to within 0.9% (1.29978e+11-1.311e+11), so the D exponent is not identified; "
        "it comes from the prior alone."]


def test_domains_each_at_its_own_single_token_count_are_said():
    # three domains at 1e10, 3e10 and 1e11 tokens (each within 6 %): no word, and R-hat 1.024 (a fresh user)
    df = pd.concat([runs().assign(domain=d, tokens=t) for d, t in (("a", 1e10), ("b", 3e10), ("c", 1e11))],
                   ignore_index=True)
    df.loc[df["domain"] == "b", "tokens"] *= np.linspace(1, 1.06, int((df["domain"] == "b").sum()))
    with pytest.warns(RunsTableWarning) as rec:
        validate_runs(df, informative_prior=True)
    assert [str(w.message) for w in rec if "not identified" in str(w.message)] == [
        "the runs of each domain have one 'tokens' (to within 6.0%), so the D exponent is not identified within any "
        "domain; it comes from the prior alone."]


def test_runs_of_one_size_far_apart_in_loss_are_warned_about():
    """A copy of a run with a loss 15 % higher was kept as a seed without a word (a fresh user); seeds 2 % apart
    are seeds."""
    df = runs()
    far = pd.concat([df, df.iloc[[2]].assign(loss=df["loss"].iloc[2] * 1.15)], ignore_index=True)
    with pytest.warns(RunsTableWarning) as rec:
        validate_runs(far)
    assert [str(w.message) for w in rec if "same size" in str(w.message)] == [
        f"column 'loss': runs of the same size differ by more than 5% at 1 size, far more than seeds of one "
        f"configuration do (about 1 %): e.g. {df['loss'].iloc[2]:.4g} in row 2 and {df['loss'].iloc[2] * 1.15:.4g} in "
        "row 6. They are kept as seeds and widen every interval; check that they are the same configuration, "
        "evaluated the same way (a failed run, another evaluation set or a mis-logged loss?)."]
    near = pd.concat([df, df.iloc[[2]].assign(loss=df["loss"].iloc[2] * 1.02)], ignore_index=True)
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        validate_runs(near)
    assert not [w for w in rec if "same size" in str(w.message)]
