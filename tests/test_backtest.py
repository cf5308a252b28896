"""bayes_scaling.backtest (splits, runner, command): splits, scoring of each method's forecasts, the Chinchilla
split, determinism across backends, the CLI. The scores themselves are test_scoring.py."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import bayes_scaling as bs
from bayes_scaling.backtest import (
    METHODS,
    BacktestResult,
    Split,
    backtest,
    backtest_cli,
    calibration_table,
)
from bayes_scaling.backtest.runner import normalise_methods, score_points
from bayes_scaling.baselines import Forecast
from bayes_scaling.scoring import crps_from_draws

# Fast configuration of the baselines for tests: every 31st grid start, 40 bootstrap resamples.
FAST = {
    "huber_ls": {"grid_stride": 31},
    "huber_ls_bootstrap": {"grid_stride": 31, "n_boot": 40},
    "published": {},
    "published_offset": {},
}
SPLITS = [Split.cutoff("flops", 1e21), Split.cutoff("flops", 3e20)]


@pytest.fixture(scope="module")
def chinchilla():
    return bs.datasets.load_chinchilla()


@pytest.fixture(scope="module")
def local_result(chinchilla):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bs.RunsTableWarning)
        return backtest(chinchilla, SPLITS, FAST, random_seed=7, n_jobs=1)


# ---------------------------------------------------------------- scoring of forecasts


def test_crps_is_scored_on_log_loss_and_finite_for_heavy_tailed_draws():
    # A new-run forecast with Cauchy-like noise on log L: its far-tail draws overflow exp(),
    # where a loss-scale CRPS was NaN (benchmarks/results.md before this change). On log loss
    # the score is finite and equals the closed form of the draws' empirical distribution.
    rng = np.random.default_rng(0)
    y = np.array([2.0, 2.5])
    draws = np.log(y)[None, :] + 0.01 * rng.standard_t(0.8, size=(4000, 2))
    draws[0, 0] = 800.0  # exp(800) overflows
    te = pd.DataFrame({"domain": ["d", "d"], "params": [1e9, 2e9], "tokens": [2e10, 4e10], "flops": [1.2e20, 4.8e20]})
    fc = Forecast(point_log=np.log(y), draws_log=draws)
    pts = score_points(te, y, (0.9,), None, {None: fc}, [])
    np.testing.assert_allclose(pts["crps"], crps_from_draws(draws, np.log(y)), rtol=1e-6)
    assert np.isfinite(pts["crps"]).all() and np.isfinite(pts["loss_median"]).all()


# ---------------------------------------------------------------- splits


def test_cutoff_split_of_chinchilla(chinchilla):
    tr, te = Split.cutoff("flops", 1e21).apply(chinchilla)
    assert (len(tr), len(te)) == (222, 23)
    assert tr["flops"].max() < 1e21 <= te["flops"].min()
    with pytest.raises(bs.RunsTableError, match="no runs to fit"):
        Split.cutoff("flops", 1e15).apply(chinchilla)
    with pytest.raises(bs.RunsTableError, match="no runs to score"):
        Split.cutoff("params", 1e12).apply(chinchilla)
    with pytest.raises(ValueError, match="split by"):
        Split.cutoff("loss", 2.0)


def test_k_smallest_per_domain_split():
    runs = pd.DataFrame({
        "params": [4e8, 1e8, 2e8, 3e8, 1e8, 5e8, 2e8],
        "tokens": [2e9] * 7,
        "loss": [2.0, 2.9, 2.6, 2.3, 3.0, 2.1, 2.7],
        "domain": ["a", "a", "a", "a", "b", "b", "b"],
    })
    tr, te = Split.smallest(2, by="params").apply(runs.assign(flops=6 * runs["params"] * runs["tokens"]))
    assert sorted(tr.index) == [1, 2, 4, 6] and sorted(te.index) == [0, 3, 5]
    with pytest.raises(bs.RunsTableError, match="no runs to score"):
        Split.smallest(4, by="params").apply(runs.assign(flops=1.0))


# ---------------------------------------------------------------- the Chinchilla backtest


def test_chinchilla_split_baselines(local_result):
    assert isinstance(local_result, BacktestResult)
    summary, points = local_result
    s = summary[summary["split"] == "flops<1e+21"].set_index("method")
    assert list(s.index) == list(FAST)
    assert (s["n_heldout"] == 23).all() and (s["n_scored"] == 23).all() and (s["n_train"] == 222).all()
    required = ["method", "n_heldout", "mape", "rmsle", "r2", "coverage_50", "coverage_80", "coverage_90",
                "coverage_95", "width_90", "crps", "log_pred_density", "fit_seconds"]
    assert set(required) <= set(summary.columns)
    # published law: a point forecast
    assert s.loc["published", ["coverage_50", "coverage_90", "width_90", "log_pred_density"]].isna().all()
    p_pub = points[(points["method"] == "published") & (points["split"] == "flops<1e+21")]
    # CRPS is scored on log loss: for a point forecast, the absolute log error
    np.testing.assert_allclose(p_pub["crps"], np.abs(np.log(p_pub["loss_median"]) - np.log(p_pub["loss"])))
    for m in ("huber_ls", "huber_ls_bootstrap", "published_offset"):
        cov = s.loc[m, ["coverage_50", "coverage_80", "coverage_90", "coverage_95"]].to_numpy(float)
        assert np.all(np.diff(cov) >= 0), m
        assert np.isfinite(s.loc[m, ["crps", "log_pred_density", "width_90"]].astype(float)).all()
    for m in FAST:
        assert 0 < s.loc[m, "mape"] < 3 and 0 < s.loc[m, "rmsle"] < 0.05 and s.loc[m, "r2"] > 0.5
    # the bootstrap adds parameter uncertainty to the plug-in residual interval
    assert s.loc["huber_ls_bootstrap", "width_90"] > s.loc["huber_ls", "width_90"]
    assert s.loc["huber_ls_bootstrap", "coverage_95"] >= s.loc["huber_ls", "coverage_95"]
    # per-point table: one row per method and held-out run of each split
    assert len(points) == len(FAST) * (23 + 63)
    row = points.iloc[0]
    assert row["loss_lower_90"] <= row["loss_median"] <= row["loss_upper_90"]


def test_calibration_table(local_result):
    cal = calibration_table(local_result)
    assert list(cal.columns[:3]) == ["method", "nominal", "empirical"]
    assert "published" not in set(cal["method"])  # no intervals
    assert set(cal["nominal"]) == {0.5, 0.8, 0.9, 0.95}
    assert (cal["n"] == 23 + 63).all()
    by = local_result.calibration_table(by_split=True)
    one = by[(by["split"] == "flops<1e+21") & (by["method"] == "huber_ls") & (by["nominal"] == 0.9)]
    s = local_result.summary.set_index(["split", "method"])
    assert one["empirical"].iloc[0] == pytest.approx(s.loc[("flops<1e+21", "huber_ls"), "coverage_90"])
    from bayes_scaling.plots import plot_calibration

    fig, ax = plot_calibration(cal)
    assert len(ax.lines) == 1 + cal["method"].nunique()


@pytest.mark.slow  # two worker processes (the point: the same numbers across processes); ~3.5 s to start them
def test_same_numbers_with_two_local_workers(chinchilla, local_result):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bs.RunsTableWarning)
        other = backtest(chinchilla, SPLITS, FAST, random_seed=7, n_jobs=2)
    pd.testing.assert_frame_equal(local_result.points, other.points, check_exact=True)
    cols = [c for c in local_result.summary.columns if c != "fit_seconds"]
    pd.testing.assert_frame_equal(local_result.summary[cols], other.summary[cols], check_exact=True)


@pytest.mark.slow
def test_dask_cluster_gives_the_same_numbers(chinchilla, local_result):
    distributed = pytest.importorskip("dask.distributed")
    with (
        distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) as cluster,
        distributed.Client(cluster) as client,
        warnings.catch_warnings(),
    ):
        warnings.simplefilter("ignore", bs.RunsTableWarning)
        other = backtest(chinchilla, SPLITS, FAST, random_seed=7, client=client)
    pd.testing.assert_frame_equal(local_result.points, other.points, check_exact=True)
    cols = [c for c in local_result.summary.columns if c != "fit_seconds"]
    pd.testing.assert_frame_equal(local_result.summary[cols], other.summary[cols], check_exact=True)


def test_seed_changes_only_the_random_parts(chinchilla, local_result):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bs.RunsTableWarning)
        other = backtest(chinchilla, SPLITS[0], {"huber_ls_bootstrap": FAST["huber_ls_bootstrap"],
                                                 "published": {}}, random_seed=8)
    a = local_result.summary.set_index(["split", "method"])
    b = other.summary.set_index(["split", "method"])
    k = ("flops<1e+21", "published")
    assert a.loc[k, "mape"] == b.loc[k, "mape"]
    k = ("flops<1e+21", "huber_ls_bootstrap")
    assert a.loc[k, "width_90"] != b.loc[k, "width_90"]


def test_domains_without_fitting_runs_are_not_scored_by_per_domain_baselines():
    rng = np.random.default_rng(0)
    n = np.repeat(np.geomspace(1e8, 3e9, 5), 2)
    d = n * np.tile([20, 60], 5)
    base = bs.laws.chinchilla_loss(n, d, E=1.8, A=480, B=2000, alpha=0.35, beta=0.37)
    a = pd.DataFrame({"params": n, "tokens": d, "loss": base * np.exp(rng.normal(0, 0.003, 10)), "domain": "a"})
    b = a.assign(domain="b", loss=a["loss"] * 1.1, params=a["params"] * 40)  # domain b only above the cutoff
    runs = pd.concat([a, b], ignore_index=True)
    res = backtest(runs, Split.cutoff("params", 1e9), ["published_offset", "published"])
    s = res.summary.set_index("method")
    assert s.loc["published_offset", "n_scored"] < s.loc["published_offset", "n_heldout"]
    assert "without fitting runs" in s.loc["published_offset", "notes"]
    assert s.loc["published", "n_scored"] == s.loc["published", "n_heldout"]


@pytest.mark.filterwarnings("ignore::bayes_scaling.RunsTableWarning")
def test_bad_arguments():
    runs = bs.datasets.load_chinchilla()
    with pytest.raises(ValueError, match="unknown method 'magic'"):
        backtest(runs, Split.cutoff("flops", 1e21), ["magic"])
    with pytest.raises(ValueError, match="does not take n_boot"):
        backtest(runs, Split.cutoff("flops", 1e21), {"huber_ls": {"n_boot": 3}})
    with pytest.raises(ValueError, match="between 0 and 1"):
        backtest(runs, Split.cutoff("flops", 1e21), ["published"], prob_levels=(0.9, 1.5))
    with pytest.raises(ValueError, match="split must be"):
        backtest(runs, 1e21, ["published"])
    with pytest.raises(bs.RunsTableError, match="no runs to fit"):
        backtest(runs, ("flops", 1.0), ["published"])
    with pytest.raises(bs.RunsTableError, match="runs is None"):
        backtest(None, Split.cutoff("flops", 1e21), ["published"])
    assert set(METHODS) == {"bayes", "huber_ls", "huber_ls_bootstrap", "published", "published_offset"}


def test_given_train_heldout_pair_without_runs_table():
    train, heldout = bs.datasets.openlm_transfer_split()
    res = backtest(None, (train, heldout), ["published", "published_offset"])
    s = res.summary.set_index("method")
    assert (s["split"] == "given").all()
    assert (s["n_heldout"] == len(heldout)).all() and (s["n_train"] == len(train)).all()
    assert s.loc["published_offset", "n_scored"] == len(heldout)  # every held-out domain has fitting runs
    # published_offset is deterministic (the published law plus a least-squares offset per domain): its scores are
    # known numbers, 58 of the 72 held-out runs inside the 90 % interval and a MAPE of 5.625 %
    points = res.points[res.points["method"] == "published_offset"]
    inside = ((points["loss"] >= points["loss_lower_90"]) & (points["loss"] <= points["loss_upper_90"])).sum()
    assert inside == 58 and s.loc["published_offset", "coverage_90"] == 58 / 72
    assert s.loc["published_offset", "mape"] == pytest.approx(5.6249, abs=1e-4)


# ---------------------------------------------------------------- CLI


@pytest.mark.filterwarnings("ignore::bayes_scaling.RunsTableWarning")
def test_backtest_cli_prints_and_writes(tmp_path, capsys):
    csv = tmp_path / "runs.csv"
    bs.datasets.load_chinchilla().to_csv(csv, index=False)
    out = tmp_path / "scores.csv"
    pts = tmp_path / "points.csv"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bs.RunsTableWarning)
        code = backtest_cli([str(csv), "--split-by", "flops", "--cutoff", "1e21", "--methods",
                             "published,published_offset", "--prob", "0.5,0.9", "--out", str(out),
                             "--points-out", str(pts)])
    assert code == 0
    printed = capsys.readouterr().out
    assert "published_offset" in printed and "coverage_90" in printed
    # 'mape' is a median, and min_ess the smaller of bulk and tail ESS (both puzzled a fresh user)
    lines = printed.splitlines()
    assert ("  mape: MEDIAN (not mean) absolute percentage error of the median forecast over the held-out runs, in "
            "percent (the name is kept for scripts)") in lines
    # every column is explained, each coverage level by its own number (a fresh user found 4 of ~20 explained)
    assert "  coverage_50: share of held-out runs inside the method's 50 % interval (a calibrated method: about 0.5; " \
           "NaN for methods without intervals)" in lines
    legend = lines[lines.index("Columns:") + 1:]
    shown = [c for c in pd.read_csv(out).columns if c != "density"]
    assert [ln.split(":")[0].strip() for ln in legend] == shown
    table = pd.read_csv(out)
    assert list(table["method"]) == ["published", "published_offset"]
    assert (table["n_heldout"] == 23).all()
    assert len(pd.read_csv(pts)) == 46
    with pytest.raises(FileExistsError, match="--force"):
        backtest_cli([str(csv), "--cutoff", "1e21", "--methods", "published", "--out", str(out), "--quiet"])
    with pytest.raises(ValueError, match="exactly one of --cutoff"):
        backtest_cli([str(csv), "--methods", "published", "--quiet"])
    with pytest.raises(ValueError, match="exactly one of --cutoff"):
        backtest_cli([str(csv), "--split-by", "smallest", "--cutoff", "1e21", "--k", "3", "--quiet"])
    with pytest.raises(ValueError, match="--k goes with --split-by smallest"):
        backtest_cli([str(csv), "--cutoff", "1e21", "--k", "3", "--quiet"])
    # without --k, the message still names the --cutoff that does not go with smallest (not only the missing --k)
    with pytest.raises(ValueError, match=r"--cutoff 1e\+21 goes with --split-by params, tokens or flops, not with "
                                         "smallest"):
        backtest_cli([str(csv), "--split-by", "smallest", "--cutoff", "1e21", "--quiet"])
    with pytest.raises(ValueError, match="--split-by smallest needs --k"):
        backtest_cli([str(csv), "--split-by", "smallest", "--quiet"])
    with pytest.raises(bs.RunsTableError, match="no runs to score"):
        backtest_cli([str(csv), "--cutoff", "1e30", "--methods", "published", "--quiet"])
    with pytest.raises(ValueError, match="--prob"):
        backtest_cli([str(csv), "--cutoff", "1e21", "--prob", "0.9,2", "--quiet"])
    with pytest.raises(ValueError, match="unknown method"):
        backtest_cli([str(csv), "--cutoff", "1e21", "--methods", "published,nope", "--quiet"])


@pytest.mark.filterwarnings("ignore::bayes_scaling.RunsTableWarning")
def test_backtest_cli_scores_a_heldout_file(tmp_path, capsys):
    """A published split no cutoff expresses (N < 4.2B and D < 600B) needed two files and two runs (a fresh user):
    --heldout scores a file with methods fitted on every run of RUNS, the same numbers as the cutoff's split."""
    chin = bs.datasets.load_chinchilla()
    train, held = tmp_path / "train.csv", tmp_path / "held.csv"
    chin[chin["flops"] < 1e21].to_csv(train, index=False)
    chin[chin["flops"] >= 1e21].to_csv(held, index=False)
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    assert backtest_cli([str(train), "--heldout", str(held), "--methods", "published_offset", "--out", str(a),
                         "--quiet"]) == 0
    chin.to_csv(tmp_path / "all.csv", index=False)
    assert backtest_cli([str(tmp_path / "all.csv"), "--cutoff", "1e21", "--methods", "published_offset", "--out",
                         str(b), "--quiet"]) == 0
    x, y = pd.read_csv(a), pd.read_csv(b)
    assert int(x["n_train"].iloc[0]) == 222 and int(x["n_heldout"].iloc[0]) == 23
    for c in ("mape", "coverage_90", "crps"):
        assert x[c].iloc[0] == pytest.approx(y[c].iloc[0])
    with pytest.raises(ValueError, match=r"^give --heldout \(a file of runs to score, fitted on all of RUNS\) or a "
                                         r"split of RUNS"):
        backtest_cli([str(train), "--heldout", str(held), "--cutoff", "1e21", "--quiet"])


@pytest.mark.filterwarnings("ignore::bayes_scaling.RunsTableWarning")
def test_bayes_scaling_cli_backtest_command(tmp_path, capsys):
    from bayes_scaling.cli import main

    csv = tmp_path / "runs.csv"
    bs.datasets.load_chinchilla().to_csv(csv, index=False)
    out = tmp_path / "scores.csv"
    code = main(["backtest", str(csv), "--split-by", "smallest", "--k", "200", "--methods",
                 "published,published_offset", "--out", str(out), "--quiet"])
    assert code == 0
    table = pd.read_csv(out)
    assert (table["n_heldout"] == 45).all()
    assert {"coverage_50", "coverage_80", "coverage_90", "coverage_95"} <= set(table.columns)
    assert main(["backtest", str(csv), "--cutoff", "1e15", "--methods", "published", "--quiet"]) == 2
    assert "no runs to fit" in capsys.readouterr().err
    assert main(["backtest", str(csv), "--split-by", "smallest", "--methods", "published", "--quiet"]) == 2


@pytest.mark.filterwarnings("ignore::bayes_scaling.RunsTableWarning")
def test_backtest_cli_reads_the_domains_from_domain_col(tmp_path, capsys):
    # without --domain-col a 'mix' column was ignored and three data mixes were scored as one domain, their runs at
    # the same (N, D) taken for repeated seeds (a fresh user's trial)
    chin = bs.datasets.load_chinchilla()
    two = pd.concat([chin.assign(mix="a"), chin.assign(mix="b", loss=chin["loss"] * 1.1)], ignore_index=True)
    csv = tmp_path / "runs.csv"
    two.drop(columns="domain", errors="ignore").to_csv(csv, index=False)
    pts = tmp_path / "points.csv"
    assert backtest_cli([str(csv), "--domain-col", "mix", "--cutoff", "1e21", "--methods", "published_offset",
                         "--points-out", str(pts), "--quiet"]) == 0
    points = pd.read_csv(pts)
    assert points.groupby("domain").size().to_dict() == {"a": 23, "b": 23}
    capsys.readouterr()
    with pytest.raises(bs.RunsTableError) as e:
        backtest_cli([str(csv), "--domain-col", "corpus", "--cutoff", "1e21", "--methods", "published", "--quiet"])
    assert str(e.value).startswith(f"--domain-col 'corpus' is not a column of '{csv}' (columns: params, tokens, ")


# ---------------------------------------------------------------- every law against its own least-squares fit


def test_huber_methods_take_the_law_of_the_bayes_method_unless_told():
    spec = normalise_methods({"bayes": {"law": "data_constrained"}, "huber_ls": {}, "huber_ls_bootstrap": {},
                              "huber_chin": {"method": "huber_ls", "law": "chinchilla"}, "published": {}})
    laws = {label: kw.get("law") for label, _, kw in spec}
    assert laws == {"bayes": "data_constrained", "huber_ls": "data_constrained", "huber_ls_bootstrap": "data_constrained",
                    "huber_chin": "chinchilla", "published": "data_constrained"}
    assert dict((lb, kw.get("law")) for lb, _, kw in normalise_methods(["huber_ls", "published"])) == {
        "huber_ls": "chinchilla", "published": None}
    assert normalise_methods({"bayes": {"law": bs.laws.LAWS["kaplan"]}, "huber_ls": {}})[1][2]["law"] == "kaplan"
    # no published Kaplan-law fit in the catalog: the published baseline stays the Chinchilla law's
    assert normalise_methods({"bayes": {"law": "kaplan"}, "published": {}})[1][2].get("law") is None
    with pytest.raises(ValueError, match="the bayes methods fit different laws \\(chinchilla, power_params\\); say "
                                         "which law 'huber_ls' fits"):
        normalise_methods({"bayes": {}, "b2": {"method": "bayes", "law": "power_params"}, "huber_ls": {}})
    with pytest.raises(ValueError, match="unknown law 'kaplan2020'"):
        normalise_methods({"huber_ls": {"law": "kaplan2020"}})


def test_backtest_compares_the_data_constrained_law_with_its_own_least_squares_fit(fake_fit, monkeypatch):
    """Repeated-data runs (Muennighoff et al. 2023 law): huber_ls fits the bayes method's data-constrained law, and
    its forecasts of the held-out 3B runs differ from (and beat) the Chinchilla-law fit that ignores repetition.

    The Bayesian fit is replaced by a stand-in posterior (no sampler): only the baselines' law is under test."""
    import bayes_scaling.fit as fit_module

    monkeypatch.setattr(fit_module.ScalingLaw, "fit", lambda self, runs, **kw: fake_fit)
    rng = np.random.default_rng(4)
    n = np.repeat(np.geomspace(1e8, 3e9, 5), 6)
    u = np.tile(np.repeat([1e9, 4e9], 3), 5)
    d = u * np.tile([1.0, 4.0, 16.0], 10)
    dc = {"E": np.exp(0.6254804), "A": np.exp(6.255414), "B": np.exp(7.3049974), "alpha": 0.3526596,
          "beta": 0.3526596, "rd_star": 15.387756, "rn_star": 5.309743}
    loss = bs.laws.data_constrained_loss(n, d, u, **dc) * np.exp(rng.normal(0, 0.002, n.size))
    runs = pd.DataFrame({"params": n, "tokens": d, "unique_tokens": u, "loss": loss})
    methods = {"bayes": {"law": "data_constrained"}, "huber_ls": {"grid_stride": 1013},
               "huber_chinchilla": {"method": "huber_ls", "law": "chinchilla", "grid_stride": 31}, "published": {},
               "published_offset": {}}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bs.RunsTableWarning)
        res = backtest(runs, Split.cutoff("params", 2e9), methods, random_seed=1)
    s = res.summary.set_index("method")
    # the published baselines are Muennighoff et al.'s fit of the same law (they were the Chinchilla law's)
    assert s["law"].to_dict() == {"bayes": "data_constrained", "huber_ls": "data_constrained",
                                  "huber_chinchilla": "chinchilla", "published": "data_constrained",
                                  "published_offset": "data_constrained"}
    assert list(res.summary.columns[:4]) == ["split", "method", "law", "n_train"]
    assert s.loc["huber_ls", "n_scored"] == 6
    assert ("the published data_constrained law (muennighoff2023), not the chinchilla law of the other methods"
            in s.loc["published", "notes"])
    assert s.loc["published", "mape"] < 0.5 and s.loc["published_offset", "mape"] < 0.5  # the runs' own law
    pts = res.points.pivot(index="run", columns="method", values="loss_median")
    assert (np.abs(pts["huber_ls"] / pts["huber_chinchilla"] - 1) > 0.005).any()
    assert s.loc["huber_ls", "mape"] < 0.5 < s.loc["huber_chinchilla", "mape"]
    # the points say how often each held-out run repeated its data (where the law is least sure)
    p = res.points[res.points["method"] == "huber_ls"]
    assert list(p.columns[5:10]) == ["tokens", "flops", "unique_tokens", "epochs", "loss"]
    np.testing.assert_allclose(p["epochs"], p["tokens"] / p["unique_tokens"])
    assert sorted(set(np.round(p["epochs"], 6))) == [1.0, 4.0, 16.0]
    with pytest.raises(bs.RunsTableError, match="needs column\\(s\\) 'unique_tokens'"):
        backtest(runs.drop(columns="unique_tokens"), Split.cutoff("params", 2e9), methods)


# ---------------------------------------------------------------- the Bayesian method (one real fit)


@pytest.mark.slow
def test_bayes_method_on_synthetic_runs():
    rng = np.random.default_rng(0)
    n = np.repeat(np.geomspace(5e7, 5e9, 6), 4)
    d = n * np.tile([5, 20, 60, 200], 6)
    law = bs.laws.chinchilla_loss(n, d, E=1.8, A=480.0, B=2000.0, alpha=0.35, beta=0.37)
    runs = pd.DataFrame({"params": n, "tokens": d, "loss": law * np.exp(rng.normal(0, 0.004, n.size))})
    cfg = bs.SamplerConfig(draws=500, tune=500, chains=4)
    methods = {"bayes": {"prior": "weak", "discrepancy": "none", "sampler": cfg}, "published_offset": {}}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bs.RunsTableWarning)
        res = backtest(runs, Split.cutoff("params", 2e9), methods, random_seed=3)
    s = res.summary.set_index("method")
    assert s.loc["bayes", "n_heldout"] == 4
    assert s.loc["bayes", "mape"] < 1.5
    assert s.loc["bayes", "coverage_95"] >= 0.75
    assert np.isfinite(s.loc["bayes", ["crps", "log_pred_density", "width_90"]].astype(float)).all()
    assert s.loc["bayes", "log_pred_density"] > 1  # a density of log loss with sd ~ 0.005
    assert s.loc["bayes", "density"] == "exact"
    assert s.loc["bayes", "fit_seconds"] > 0


def test_bayes_method_is_scored_without_a_sampler(fake_fit, monkeypatch):
    """The bayes branch of the runner (exact predictive density, diagnostics in the notes) with a fake posterior
    of the simulated law in place of the fit (the real fit is the slow test above)."""
    import bayes_scaling.fit as fit_module

    monkeypatch.setattr(fit_module.ScalingLaw, "fit", lambda self, runs, **kw: fake_fit)
    runs = fake_fit.runs[["params", "tokens", "loss"]]
    res = backtest(runs, Split.cutoff("params", 2e9), {"bayes": {"prior": "weak"}}, random_seed=3)
    s = res.summary.set_index("method").loc["bayes"]
    assert s["n_heldout"] == s["n_scored"] == 4 and s["density"] == "exact"
    assert s["mape"] < 1.5 and s["coverage_95"] >= 0.75 and s["log_pred_density"] > 1
    assert s["notes"].startswith("max R-hat")
    pts = res.points
    assert (pts["loss_lower_90"] < pts["loss_median"]).all() and (pts["loss_median"] < pts["loss_upper_90"]).all()


def test_held_out_runs_below_the_fits_bound_are_said_to_be_scored_with_the_others(fake_fit, monkeypatch):
    # a fresh user's isoFLOP backtest reported coverage 0.84 where 90 of its 361 held-out runs were below 1 token per
    # parameter (the regime the fit leaves out, covered 0.42-0.64) without a word
    import bayes_scaling.fit as fit_module

    monkeypatch.setattr(fit_module.ScalingLaw, "fit", lambda self, runs, **kw: fake_fit)
    runs = fake_fit.runs[["params", "tokens", "loss"]].copy()
    big = runs["params"] >= 2e9
    runs.loc[big[big].index[:2], "tokens"] = 0.5 * runs.loc[big[big].index[:2], "params"]
    with pytest.warns(UserWarning) as rec:
        backtest(runs, Split.cutoff("params", 2e9), {"bayes": {"prior": "weak"}}, random_seed=3)
    said = [str(r.message) for r in rec if "held-out runs are trained on fewer" in str(r.message)]
    assert said == [
        f"2 of the {int(big.sum())} held-out runs are trained on fewer than 1 token(s) per parameter (down to 0.5), the "
        "regime the bayes fit leaves its own runs out of (min_tokens_per_param=1); their forecasts extrapolate the law "
        "of better-trained runs with an error for that regime and still fall outside the interval more often than "
        "others, and the summary scores them with the others. The "
        "points table (BacktestResult.points, --points-out) has each run's params and tokens to score them apart."]
    with warnings.catch_warnings(record=True) as rec:  # the fit's own bound: none below 0.1
        warnings.simplefilter("always")
        backtest(runs, Split.cutoff("params", 2e9), {"bayes": {"prior": "weak", "min_tokens_per_param": 0.1}},
                 random_seed=3)
    assert not [r for r in rec if "held-out runs are trained on fewer" in str(r.message)]


def test_backtest_cli_names_an_embedded_data_set_and_a_law(tmp_path, capsys, monkeypatch):
    # 'backtest chinchilla' failed with "file 'chinchilla' does not exist" though '--reference chinchilla' works, and
    # there was no --law: datablations was scored with the Chinchilla law, its unique_tokens ignored (a fresh user)
    from bayes_scaling.backtest import command
    from bayes_scaling.cli import main

    monkeypatch.chdir(tmp_path)  # no file named 'chinchilla' here
    out = tmp_path / "s.csv"
    assert main(["backtest", "chinchilla", "--split-by", "smallest", "--k", "200", "--methods", "published",
                 "--out", str(out), "--quiet"]) == 0
    assert pd.read_csv(out)["n_heldout"].tolist() == [45]
    # with --quiet: the table alone on stdout, and no warning about a row of our own data (the run at 0.036 tokens
    # per parameter warned on every 'backtest chinchilla'); the published fit's leak is said
    captured = capsys.readouterr()
    assert captured.out.splitlines()[0].startswith("split,method,law,"), captured.out  # CSV, as --out writes it
    assert len(captured.out.splitlines()) == 2
    assert captured.err == ("warning: 45 of the 45 held-out runs are runs of the embedded 'chinchilla' data, on which "
                            "the published fit 'besiroglu2024' of the 'published' and 'published_offset' baselines was "
                            "made: they have seen these runs, so their scores are not forecasts; leave them out of the "
                            "comparison.\n")
    seen = {}

    def fake_backtest(runs, split, methods, *a, **k):  # what the command hands the runner, without the fits
        seen.update(runs=runs, methods=methods)
        raise RuntimeError("stop here")

    monkeypatch.setattr(command, "backtest", fake_backtest)
    assert main(["backtest", "datablations", "--law", "data_constrained", "--split-by", "params", "--cutoff", "2e9",
                 "--methods", "bayes,huber_ls,published", "--quiet"]) == 1
    assert len(seen["runs"]) == len(bs.datasets.load_datablations())
    assert {k: v.get("law") for k, v in seen["methods"].items()} == {
        "bayes": "data_constrained", "huber_ls": "data_constrained", "published": "data_constrained"}
    # an embedded data set named on the command line is scored out of sample by default, as `fit datablations` fits
    # it (a fresh user's `backtest chinchilla` ran with the prior and the extrapolation prior that had seen its runs)
    assert seen["methods"]["bayes"]["prior"] == "weak"  # muennighoff2023 was fitted on these runs
    assert seen["methods"]["bayes"]["extrapolation"] == "learned_without_datablations"
    assert "prior" not in seen["methods"]["huber_ls"] and "extrapolation" not in seen["methods"]["huber_ls"]
    assert main(["backtest", "openlm", "--split-by", "params", "--cutoff", "5e8", "--methods", "bayes"]) == 1
    assert "prior" not in seen["methods"]["bayes"]  # besiroglu2024 never saw the OpenLM runs
    assert seen["methods"]["bayes"]["extrapolation"] == "learned_without_openlm"
    assert ("[bayes-scaling] embedded 'openlm' runs, scored out of sample: bayes with extrapolation "
            "learned_without_openlm (the default was learned from these runs' backtest errors); name --prior or "
            "--extrapolation to choose otherwise\n") in capsys.readouterr().err
    assert main(["backtest", "datablations", "--law", "data_constrained", "--split-by", "params", "--cutoff", "2e9",
                 "--methods", "bayes", "--prior", "muennighoff2023", "--extrapolation", "learned", "--quiet"]) == 1
    assert (seen["methods"]["bayes"]["prior"], seen["methods"]["bayes"]["extrapolation"]) == ("muennighoff2023",
                                                                                              "learned")
    # a leave-one-data-set-out score from the command line (a fresh user could not exclude the set's own errors)
    assert main(["backtest", "datablations", "--law", "data_constrained", "--split-by", "params", "--cutoff", "2e9",
                 "--methods", "bayes,huber_ls", "--extrapolation", "learned_without_datablations", "--quiet"]) == 1
    assert seen["methods"]["bayes"]["extrapolation"] == "learned_without_datablations"
    assert "extrapolation" not in seen["methods"]["huber_ls"]


def test_a_compute_only_table_is_backtested_with_the_law_of_c(tmp_path, monkeypatch):
    # a fresh user's isoFLOP minima (flops, loss) were refused: "runs table has no column 'params'"
    from bayes_scaling.backtest import command
    from bayes_scaling.cli import main

    chin = bs.datasets.load_chinchilla()
    c = np.geomspace(6e18, 3e21, 9)
    best = pd.DataFrame({"flops": c, "loss": [chin.loc[(np.abs(np.log10(chin["flops"] / b)) < 0.05), "loss"].min()
                                             for b in c]})
    res = backtest(best, Split.cutoff("flops", 1e21), methods={"huber_ls": {"law": "power_flops"}})
    row = res.summary.iloc[0]
    assert (row["law"], row["n_train"], row["n_heldout"], row["n_scored"]) == ("power_flops", 7, 2, 2)
    assert 0 < row["mape"] < 3
    assert res.points[["params", "tokens"]].isna().all().all() and (res.points["flops"] > 1e21).all()
    # the command leaves out the published baselines, which have no fit of that law
    seen = {}

    def fake_backtest(runs, split, methods, *a, **k):
        seen.update(methods=methods)
        raise RuntimeError("stop here")

    monkeypatch.setattr(command, "backtest", fake_backtest)
    path = tmp_path / "best.csv"
    best.to_csv(path, index=False)
    assert main(["backtest", str(path), "--law", "power_flops", "--split-by", "flops", "--cutoff", "1e21",
                 "--quiet"]) == 1
    assert sorted(seen["methods"]) == ["bayes", "huber_ls", "huber_ls_bootstrap"]


def test_scoring_a_catalog_data_set_with_the_prior_learned_from_it_warns():
    """A fresh user's datablations backtest with the default prior covered 0.787, the README's 0.754 needed
    learned_without_datablations: the prior had seen the errors it was scored on, without a word."""
    from bayes_scaling.backtest.runner import warn_if_learned_from

    dc = bs.datasets.load_datablations()
    held = dc[dc["params"] >= 2e9]
    with pytest.warns(UserWarning) as rec:
        warn_if_learned_from(held)
    assert [str(r.message) for r in rec] == [
        "61 of the 61 held-out runs are runs of the embedded 'datablations' data, from whose backtest errors the bayes "
        "method's extrapolation prior ('learned') was learned: its intervals have seen these errors. For a fair score "
        "pass extrapolation='learned_without_datablations' (--extrapolation learned_without_datablations)."]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warn_if_learned_from(held, "learned_without_datablations")
        warn_if_learned_from(held.assign(params=held["params"] * 1.01))  # other runs
        warn_if_learned_from(held.iloc[:4])  # too few to tell
    chin = bs.datasets.load_chinchilla()
    with pytest.warns(UserWarning, match="are runs of the embedded 'chinchilla' data"):
        warn_if_learned_from(chin[chin["flops"] >= 1e21], None)
    # a flops,loss copy of the same runs (the compute-only law) is matched on C (a fresh user's was not)
    with pytest.warns(UserWarning, match="^23 of the 23 held-out runs are runs of the embedded 'chinchilla' data"):
        warn_if_learned_from(chin.loc[chin["flops"] >= 1e21, ["flops", "loss"]], None)
    # and a copy rounded to 3 significant digits (the prior's check of a fit's runs matched it, this one did not)
    rounded = chin.loc[chin["flops"] >= 1e21, ["params", "tokens", "loss"]].apply(lambda c: c.map(lambda v: float(f"{v:.3g}")))
    with pytest.warns(UserWarning, match="^23 of the 23 held-out runs are runs of the embedded 'chinchilla' data"):
        warn_if_learned_from(rounded, None)


def test_published_baselines_scored_on_the_runs_they_were_fitted_on_are_warned_about():
    # a fresh user's backtest of the datablations runs showed published_offset at 1.93 % against the Bayesian 3.41 %
    # without a word: Muennighoff et al. (2023) fitted those held-out runs
    runs = bs.datasets.load_chinchilla()
    runs.attrs = {}  # as a user's own file of the same runs
    with pytest.warns(UserWarning) as rec:
        backtest(runs, Split.cutoff("flops", 1e21), methods={"published": {}})
    assert [str(w.message) for w in rec if "published fit" in str(w.message)] == [
        "23 of the 23 held-out runs are runs of the embedded 'chinchilla' data, on which the published fit "
        "'besiroglu2024' of the 'published' and 'published_offset' baselines was made: they have seen these runs, so "
        "their scores are not forecasts; leave them out of the comparison."]
    other = runs.assign(params=runs["params"] * 1.1)  # other runs: no warning
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        backtest(other, Split.cutoff("flops", 1e21), methods={"published": {}})
    assert not [w for w in rec if "published fit" in str(w.message)]
    # the bayes method's prior fitted on them (another fresh user was told only about the baselines)
    from bayes_scaling.backtest.runner import warn_if_published_saw

    held = runs[runs["flops"] >= 1e21]
    with pytest.warns(UserWarning) as rec:
        warn_if_published_saw(held, ["besiroglu2024", "weak"], prior=True)
    assert [str(w.message) for w in rec] == [
        "23 of the 23 held-out runs are runs of the embedded 'chinchilla' data, on which the bayes method's prior "
        "'besiroglu2024' was fitted: its scores are not out of sample; give it prior='weak' to score it fairly."]


def test_a_cutoff_that_leaves_nothing_to_fit_names_the_size_it_would_split():
    # `backtest chinchilla --cutoff 2e9` (split by flops, the default) meant parameters: the message said only
    # "raise the cutoff" (a fresh user)
    chin = bs.datasets.load_chinchilla()
    with pytest.raises(bs.RunsTableError) as e:
        Split.cutoff("flops", 2e9).apply(chin)
    lo, hi = chin["params"].min(), chin["params"].max()
    assert str(e.value) == (f"cutoff flops < 2e+09 leaves no runs to fit (the smallest run has flops = "
                            f"{chin['flops'].min():g}); raise the cutoff, or split by 'params' (--split-by params), "
                            f"whose runs ({lo:.3g} to {hi:.3g}) the cutoff would split.")
    with pytest.raises(bs.RunsTableError, match=r"leaves no runs to score \(the largest run has flops = [^)]*\); lower the "
                                             r"cutoff\.$"):
        Split.cutoff("flops", 1e30).apply(chin)


def test_backtest_command_warns_when_a_method_scores_fewer_runs_than_held_out(tmp_path, capsys):
    from bayes_scaling.cli import main

    n = np.geomspace(1e7, 1e9, 8)
    a = pd.DataFrame({"params": n, "tokens": 20 * n, "domain": "a"})
    b = a[a["params"] > 2e8].assign(domain="b")  # held-out runs only: no per-domain fit for them
    runs = pd.concat([a, b], ignore_index=True)
    runs["loss"] = bs.laws.chinchilla_loss(runs["params"], runs["tokens"], E=1.8, A=480, B=2000, alpha=0.35, beta=0.37) + (
        runs["domain"] == "b") * 0.1
    path = tmp_path / "runs.csv"
    runs.to_csv(path, index=False)
    assert main(["backtest", str(path), "--split-by", "params", "--cutoff", "2e8", "--methods", "huber_ls",
                 "--quiet"]) == 0
    assert capsys.readouterr().err == (
        "warning: huber_ls scored 3 of the 6 held-out runs, so its scores are not comparable with the others' (see its "
        "notes: e.g. a domain without fitting runs).\n")


def _three_domains(seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = np.repeat(np.geomspace(1e8, 3e9, 5), 2)
    d = n * np.tile([20, 60], 5)
    base = bs.laws.chinchilla_loss(n, d, E=1.8, A=480, B=2000, alpha=0.35, beta=0.37)
    parts = [pd.DataFrame({"params": n, "tokens": d, "loss": base * k * np.exp(rng.normal(0, 0.003, 10)), "domain": name})
             for name, k in (("a", 1.0), ("b", 1.05), ("c", 0.95))]
    return pd.concat(parts, ignore_index=True)


def test_scores_do_not_move_with_the_rows_order():
    # a fresh user's shuffled table moved the deterministic least-squares MAPE (1.4765 -> 1.4793) and the bootstrap's
    runs = _three_domains()
    methods = {"huber_ls": FAST["huber_ls"], "huber_ls_bootstrap": FAST["huber_ls_bootstrap"], "published_offset": {}}
    first = backtest(runs, Split.cutoff("params", 1e9), methods, random_seed=3).summary
    shuffled = backtest(runs.sample(frac=1, random_state=1), Split.cutoff("params", 1e9), methods, random_seed=3).summary
    pd.testing.assert_frame_equal(first.drop(columns="fit_seconds"), shuffled.drop(columns="fit_seconds"))


def test_coverage_is_scored_over_the_runs_with_intervals_and_the_notes_say_so():
    # one domain of 3 fitting runs (no least-squares intervals) made huber_ls's whole coverage NaN (a fresh user)
    runs = _three_domains()
    runs = runs[~((runs["domain"] == "c") & (runs["params"] < 1e9) & (runs["tokens"] > 20 * runs["params"]))]
    res = backtest(runs, Split.cutoff("params", 1e9), {"huber_ls": FAST["huber_ls"]}, random_seed=3)
    s = res.summary.set_index("method").loc["huber_ls"]
    pts = res.points
    have = pts["loss_lower_90"].notna()
    assert 0 < have.sum() < len(pts)
    inside = (pts["loss"] >= pts["loss_lower_90"]) & (pts["loss"] <= pts["loss_upper_90"])
    assert s["coverage_90"] == pytest.approx(inside[have].mean())
    assert f"intervals for {int(have.sum())} of the {len(pts)} scored runs, coverage and width over those" in s["notes"]
    # the domain is named once, by the baseline's own note (a fresh user read the list twice)
    assert "no intervals for domain(s) with fewer than 6 fitting runs: c" in s["notes"]
    assert "none in domain(s)" not in s["notes"]


def test_the_runs_a_split_fits_are_checked_as_the_fit_checks_them():
    # 4 fitting runs for a law of 5 parameters, or a domain of one run, went without a word: the fit runs with its
    # runs warnings off (a fresh user)
    from bayes_scaling.backtest import runner

    runs = _three_domains()
    splits = [("params<3e8", runs[runs["domain"] == "a"].drop(columns="domain").head(4), runs)]
    with pytest.warns(bs.RunsTableWarning) as rec:
        runner._warn_fitting_runs(splits, normalise_methods(["bayes"]), set())
    assert [str(w.message) for w in rec] == [
        "split 'params<3e8', the runs it fits: 4 runs cannot determine the 5 parameters of the law; what the runs "
        "leave open comes from the prior. Add runs at other sizes to learn the domain."]
    # the same check on fewer runs says nothing new, whatever its rows and counts (nested ones too)
    assert runner._gist("1 run(s) (row 1 (file line 2)) have as few as 0.0361 tokens") == runner._gist(
        "2 run(s) (row 1, row 5) have as few as 0.0356 tokens")
    # a file's row ends with its line, a split's does not: the same warning was said twice (a fresh user)
    assert runner._gist("N = 281M: 3.728 at 2.7B tokens in row 65 (file line 66) -> 3.993 at 7.5B in row 67 (file "
                        "line 68). No law of the package") == runner._gist(
        "N = 281M: 3.728 at 2.7B tokens in row 65 -> 3.993 at 7.5B in row 67. No law of the package")
    with warnings.catch_warnings():  # what the whole table's check said already is not said again
        warnings.simplefilter("error")
        runner._warn_fitting_runs(splits, normalise_methods(["bayes"]), {
            "5 runs cannot determine the 5 parameters of the law; what the runs leave open comes from the prior. Add "
            "runs at other sizes to learn the domain."})


def test_the_bayes_methods_intervals_are_predicts(fake_fit, monkeypatch):
    """The backtest drew its forecasts from one generator run through the split's domains, predict from generators
    keyed by seed, domain and row: the same fit and seed gave two sets of intervals (a user checking one with the
    other saw them differ). The stand-in posterior replaces the sampler."""
    import bayes_scaling.fit as fit_module

    monkeypatch.setattr(fit_module.ScalingLaw, "fit", lambda self, runs, **kw: fake_fit)
    runs = bs.datasets.load_chinchilla()[["params", "tokens", "loss"]]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = backtest(runs, Split.cutoff("flops", 1e21), {"bayes": {"prior": "weak"}}, random_seed=3)
        p = res.points
        pred = fake_fit.predict(p[["params", "tokens"]], random_seed=3)
    np.testing.assert_allclose(p["loss_median"], pred["loss_median"], rtol=1e-6)
    np.testing.assert_allclose(p["loss_lower_90"], pred["loss_lower"], rtol=1e-6)
    np.testing.assert_allclose(p["loss_upper_90"], pred["loss_upper"], rtol=1e-6)
