"""bayes_scaling.inputs: FitInputs from runs (and reference runs) — domains, reference scales, the prior in sampling
coordinates, discrepancy bases, varying effects, reference summaries — and the errors of bad combinations."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from conftest import synthetic_runs

import bayes_scaling as bs
from bayes_scaling.inputs import REFERENCE_DOMAIN, FitInputs, build_inputs, pinned_coordinates, resolve_reference


def test_one_domain_inputs(fake_fit):
    spec = bs.ScalingLaw(prior="weak", discrepancy="none")
    inputs = build_inputs(spec, synthetic_runs())
    assert isinstance(inputs, FitInputs)
    assert inputs.domains == ["default"] and inputs.reference_domains == [] and not inputs.hierarchical
    assert inputs.varying == () and inputs.bases == {}
    assert inputs.refs == fake_fit.refs and inputs.structure == fake_fit.structure
    assert inputs.arrays["log_loss"].shape == (24,) and inputs.centre is None
    assert inputs.arrays["prior_chol"].shape == (5, 5) and "centre" not in inputs.arrays
    assert inputs.runs["is_reference"].eq(False).all() and {"flops", "domain"} <= set(inputs.runs)
    np.testing.assert_allclose(inputs.refs["params"], np.mean(np.log(inputs.runs["params"])), atol=1e-6)


def test_published_prior_is_widened_by_the_between_domain_spread():
    runs = synthetic_runs()
    weak = build_inputs(bs.ScalingLaw(prior="besiroglu2024", discrepancy="none"), runs)
    law = bs.get_law("chinchilla")
    mean, cov = bs.get_prior("besiroglu2024").z_prior(law, weak.refs, weak.runs)
    np.testing.assert_allclose(weak.prior_mean, mean)
    np.testing.assert_allclose(weak.prior_cov, cov + np.diag([0.5, 0.7, 0.7, 0.5, 0.16]) ** 2)  # between studies
    # the published centre in sampling coordinates is the published law: back-transformed, Besiroglu et al.
    nat = law.natural(dict(zip(law.theta_names, law.theta_matrix(mean))), weak.refs)
    np.testing.assert_allclose([nat["E"], nat["alpha"], nat["beta"]], [1.81686, 0.34781, 0.36585], rtol=2e-4)


def test_hierarchical_inputs_centre_what_the_runs_pin():
    runs = pd.concat([synthetic_runs(n_sizes=8, ratios=(5, 10, 20, 40, 80), domain="rich"),
                      synthetic_runs(n_sizes=2, ratios=(10, 40), domain="sparse", seed=1)], ignore_index=True)
    inputs = build_inputs(bs.ScalingLaw(prior="weak", discrepancy="none"), runs)
    assert inputs.structure.rich == (0,)
    # typical domain: (40 + 4) / 2 = 22 runs > 5 parameters, so every coordinate varies
    assert inputs.varying == ("ell", "uN", "uD", "ls", "la")
    # 40 runs over two decades pin every coordinate; 4 runs at two sizes two decades apart pin all but the
    # allocation (pinned_coordinates)
    np.testing.assert_array_equal(inputs.centre, [[1, 1, 1, 1, 1], [1, 1, 1, 1, 0]])
    np.testing.assert_array_equal(inputs.arrays["centre"], inputs.centre)
    np.testing.assert_allclose(inputs.arrays["spread_scale"], [0.3, 0.3, 0.3, 0.3, 0.16])
    # two domains of one's own cannot tell a spread (one degree of freedom): every spread is fixed
    assert not inputs.structure.learn_spread
    three = pd.concat([runs, synthetic_runs(n_sizes=2, ratios=(10, 40), domain="third", seed=2)], ignore_index=True)
    assert build_inputs(bs.ScalingLaw(prior="weak", discrepancy="none"), three).structure.learn_spread


def test_domains_whose_runs_pin_every_coordinate_get_the_between_study_share_spread():
    # three domains of 40 runs over two decades in N and 16x in tokens per parameter pin every coordinate
    rich = pd.concat([synthetic_runs(n_sizes=8, ratios=(5, 10, 20, 40, 80), domain=f"d{i}", seed=i) for i in range(3)],
                     ignore_index=True)
    inputs = build_inputs(bs.ScalingLaw(prior="weak", discrepancy="none"), rich)
    assert inputs.varying == ("ell", "uN", "uD", "ls", "la")
    np.testing.assert_array_equal(inputs.centre, np.ones((3, 5)))
    # the shares (uN, uD) get the between-study 0.7 instead of 0.3; the other spreads stay
    np.testing.assert_allclose(inputs.arrays["spread_scale"], [0.3, 0.7, 0.7, 0.3, 0.16])
    # domains of 4 runs at two sizes cannot pin the allocation: with two of four domains pinning it (not
    # most), the shares keep the between-domain spread
    sparse = pd.concat([rich[rich["domain"] != "d2"]] + [synthetic_runs(n_sizes=2, ratios=(10, 40), domain=f"s{i}",
                                                                        seed=5 + i) for i in range(2)], ignore_index=True)
    np.testing.assert_allclose(build_inputs(bs.ScalingLaw(prior="weak", discrepancy="none"), sparse)
                               .arrays["spread_scale"], [0.3, 0.3, 0.3, 0.3, 0.16])


def test_the_rich_domains_can_be_given():
    # leave_future_out_errors gives its smaller fit the full fit's: OpenLM's domains of 31 runs fell to 21 with their
    # top third held out, below RICH_RUNS (normal noise instead of Student-t), and the update measured another model's
    # error beyond the runs (kappa 0.050 per decade; 0.015 with the full fit's noise model)
    runs = pd.concat([synthetic_runs(n_sizes=8, ratios=(5, 10, 20, 40, 80), domain="many"),
                      synthetic_runs(n_sizes=2, ratios=(10, 40), domain="few", seed=1)], ignore_index=True)
    plain = build_inputs(bs.ScalingLaw(prior="weak", discrepancy="none"), runs)
    assert plain.structure.rich == (0,)
    given = build_inputs(bs.ScalingLaw(prior="weak", discrepancy="none", rich_domains=("few",)), runs)
    assert given.structure.rich == (1,) and given.structure.n_domains == 2
    assert build_inputs(bs.ScalingLaw(prior="weak", discrepancy="none", rich_domains=()), runs).structure.rich == ()


def test_warnings_about_embedded_reference_runs_are_not_the_users(monkeypatch):
    # Chinchilla's run at 0.036 tokens per parameter warned on every --reference chinchilla fit, naming a row the user
    # cannot fix, and the report's summary said "the runs raised 1 warning" (a fresh user)
    runs = synthetic_runs(n_sizes=3, ratios=(10, 40), domain="mine")
    summarize = lambda table, refs: (np.zeros(5), np.eye(5) * 0.01, 0.01, 1e6)  # noqa: E731
    spec = bs.ScalingLaw(prior="besiroglu2024", discrepancy="none")
    with warnings.catch_warnings():
        warnings.simplefilter("error", bs.RunsTableWarning)
        inputs = build_inputs(spec, runs, reference="chinchilla", summarize=summarize)
    assert inputs.reference_domains == ["chinchilla"]
    mine = bs.datasets.load_chinchilla()
    mine.attrs.clear()  # the same runs as a user's own table: its warnings are the user's to read
    with pytest.warns(bs.RunsTableWarning, match=r"have as few as 0.0361 tokens per parameter"):
        build_inputs(spec, runs, reference=mine, summarize=summarize)


def test_reference_runs_enter_as_a_summary(monkeypatch):
    runs = synthetic_runs(n_sizes=3, ratios=(10, 40), domain="mine")
    reference = synthetic_runs(seed=5)  # no domain column: named 'reference'
    seen = []

    def summarize(table, refs):
        seen.append((len(table), refs))
        return np.zeros(5), np.eye(5) * 0.01, 0.01, 1e6

    inputs = build_inputs(bs.ScalingLaw(prior="besiroglu2024", discrepancy="none"), runs, reference=reference,
                          summarize=summarize)
    assert inputs.domains == ["mine", REFERENCE_DOMAIN] and inputs.reference_domains == [REFERENCE_DOMAIN]
    assert inputs.hierarchical and inputs.structure.summarized == (1,)
    assert seen == [(24, inputs.refs)]  # the reference runs, at the joint fit's reference scales
    np.testing.assert_allclose(inputs.arrays["ref_chol"][0], np.eye(5) * 0.1)
    # the reference scales come from the domain's own runs
    assert inputs.refs["params"] == pytest.approx(np.mean(np.log(runs["params"])), abs=1e-6)
    with pytest.raises(ValueError, match="reference runs entered as a summary need summarize="):
        build_inputs(bs.ScalingLaw(prior="besiroglu2024"), runs, reference=reference)


@pytest.mark.filterwarnings("ignore::bayes_scaling.RunsTableWarning")
def test_bad_combinations_are_named():
    runs = synthetic_runs(domain="chinchilla")
    with pytest.raises(bs.RunsTableError, match=r"reference domain\(s\) \['chinchilla'\] have the same name"):
        build_inputs(bs.ScalingLaw(prior="besiroglu2024"), runs,
                     reference=bs.datasets.load_chinchilla().assign(domain="chinchilla"), summarize=lambda t, r: None)
    with pytest.raises(bs.RunsTableError) as e:
        build_inputs(bs.ScalingLaw(law="data_constrained", prior="weak"), synthetic_runs().assign(unique=1e9))
    assert str(e.value) == (
        "runs table has no column 'unique_tokens'; did you mean 'unique'? Rename it to 'unique_tokens' (U, the unique "
        "tokens in each run's training data, which the data-constrained law needs; U = D for a run that never "
        "repeats its data). Columns found: params, tokens, loss, unique.")
    with pytest.raises(bs.RunsTableError) as e:  # a fresh user's table had epochs, not U
        build_inputs(bs.ScalingLaw(law="data_constrained", prior="weak"), synthetic_runs().assign(epochs=4.0))
    assert str(e.value) == (
        "runs table has no column 'unique_tokens' (U, the unique tokens in each run's training data, which the "
        "data-constrained law needs; U = D for a run that never repeats its data; from column 'epochs', U = tokens / "
        "epochs). Columns found: params, tokens, loss, epochs.")
    with pytest.raises(bs.RunsTableError, match="reference must be 'chinchilla', a CSV path or a DataFrame of runs"):
        resolve_reference(42)
    assert len(resolve_reference("chinchilla")) == 245 and resolve_reference(None) is None


def test_pinned_coordinates_follow_what_the_runs_measure():
    """A coordinate is sampled centred when the runs carry more than half of what is known about it (conditional
    variance below half the spread's): runs all at one size measure the loss level there and nothing of the
    exponent or of the E/size-term split (their Jacobian is zero at the reference scale); eight runs over three
    decades measure all three."""
    law = bs.get_law("power_params")
    spread = np.array([0.3, 0.3, 0.3])
    one_size = pd.DataFrame({"params": [1e8] * 4, "loss": [3.0, 3.01, 2.99, 3.0]})
    z0, _ = law.weak_prior_z(one_size)
    x = law.inputs(one_size, law.reference(one_size))
    np.testing.assert_array_equal(pinned_coordinates(law, x, np.zeros(4, int), 1, z0, spread), [[1, 0, 0]])
    wide = pd.DataFrame({"params": np.geomspace(1e7, 1e10, 8), "loss": np.geomspace(4.0, 2.5, 8)})
    x = law.inputs(wide, law.reference(wide))
    np.testing.assert_array_equal(pinned_coordinates(law, x, np.zeros(8, int), 1, z0, spread), [[1, 1, 1]])
    # noisier runs measure less: at 30 % noise the eight runs no longer pin the split or the exponent
    np.testing.assert_array_equal(pinned_coordinates(law, x, np.zeros(8, int), 1, z0, spread, sigma=0.3),
                                  [[1, 0, 0]])
    # a domain without runs here (a reference summary) is left to the caller
    np.testing.assert_array_equal(pinned_coordinates(law, x, np.zeros(8, int), 2, z0, spread)[1], [0, 0, 0])


def test_repeated_data_under_a_law_that_does_not_see_it_is_named():
    # datablations through the default Chinchilla law: unique_tokens was ignored without a word (a fresh user's
    # backtest forecast 12.6 % off, against 3.5 % with law='data_constrained')
    runs = synthetic_runs()
    runs["unique_tokens"] = runs["tokens"] / np.where(np.arange(len(runs)) < 3, 40.0, 2.0)  # 3 runs at 40 epochs
    with pytest.warns(bs.RunsTableWarning) as rec:
        build_inputs(bs.ScalingLaw(prior="weak"), runs)
    assert [str(r.message) for r in rec] == [
        "3 run(s) repeat their data more than 4 times (up to 40 epochs by tokens / unique_tokens), but the chinchilla "
        "law does not see repeated data: unique_tokens is ignored. Fit law='data_constrained' (--law "
        "data_constrained) to model the repeats."]
    with warnings.catch_warnings():
        warnings.simplefilter("error", bs.RunsTableWarning)
        build_inputs(bs.ScalingLaw(prior="weak"), runs.assign(unique_tokens=runs["tokens"] / 2))  # 2 epochs: fine


def test_runs_the_prior_was_fitted_on_are_said_to_count_twice():
    # a fresh user fitted the embedded Chinchilla runs under the default prior (fitted on those runs) without a word
    from bayes_scaling.inputs import validate_own_runs

    chin = bs.datasets.load_chinchilla()[["params", "flops", "loss"]]  # D derived from C, as a user's table may have it
    with pytest.warns(bs.RunsTableWarning) as rec:
        validate_own_runs(bs.ScalingLaw(), chin.head(60))
    assert [str(w.message) for w in rec if "embedded" in str(w.message)] == [
        "60 of the 60 runs are runs of the embedded 'chinchilla' data set, which the prior 'besiroglu2024' was fitted "
        "on: the fit counts them twice, so its intervals are too narrow. Fit them with prior='weak' (as the demo does), "
        "or leave them out."]
    db = bs.datasets.load_datablations()
    with pytest.warns(bs.RunsTableWarning, match=r"^229 of the 229 runs are runs of the embedded 'datablations' data "
                                                 r"set, which the prior 'muennighoff2023'"):
        validate_own_runs(bs.ScalingLaw(law="data_constrained"), db)
    with warnings.catch_warnings():  # the weak prior, two runs only, or other runs: nothing to say
        warnings.simplefilter("ignore")
        warnings.filterwarnings("error", message=".*embedded", category=bs.RunsTableWarning)
        validate_own_runs(bs.ScalingLaw(prior="weak"), chin.head(60))
        validate_own_runs(bs.ScalingLaw(), pd.concat([synthetic_runs(), bs.datasets.load_chinchilla()[["params", "tokens", "loss"]].iloc[50:52]],
                                                     ignore_index=True))
        validate_own_runs(bs.ScalingLaw(), chin.head(60).assign(loss=chin["loss"].head(60) * 1.01))
    # a copy rounded to 3 significant digits is the same runs (the backtest's matcher had missed it)
    rounded = chin.head(60).apply(lambda c: c.map(lambda v: float(f"{v:.3g}")))
    with pytest.warns(bs.RunsTableWarning, match=r"^60 of the 60 runs are runs of the embedded 'chinchilla' data set"):
        validate_own_runs(bs.ScalingLaw(), rounded)
    prior = bs.get_prior("hoffmann2022")
    assert prior.fitted_on == "chinchilla" and type(prior).from_dict(prior.to_dict()).fitted_on == "chinchilla"


@pytest.mark.filterwarnings("ignore::bayes_scaling.RunsTableWarning")
def test_runs_trained_on_fewer_tokens_than_parameters_are_left_out_with_a_note():
    from bayes_scaling.inputs import MIN_TOKENS_PER_PARAM, undertrained_runs

    assert MIN_TOKENS_PER_PARAM == 1.0
    a = synthetic_runs(ratios=(0.05, 0.5, 5, 20, 60), domain="a")  # 12 of 30 runs below 1 token per parameter
    b = synthetic_runs(n_sizes=2, ratios=(0.3, 0.6, 20), domain="b")  # 4 of 6: leaving them out keeps 2 < 3
    runs = pd.concat([a, b], ignore_index=True)
    inputs = build_inputs(bs.ScalingLaw(prior="weak", discrepancy="none"), runs)
    assert len(inputs.runs) == 18 + 6
    mine = inputs.runs[inputs.runs["domain"] == "a"]
    assert len(mine) == 18 and (mine["tokens"] >= mine["params"]).all()
    assert (inputs.runs["domain"] == "b").sum() == 6  # kept: too few runs would be left
    assert inputs.arrays["log_loss"].shape == (24,)
    assert inputs.runs_left_out == 12
    assert inputs.notes == [
        "12 of 36 runs were left out of the fit (in 1 domain(s): 'a' 12): they were trained on fewer than 1 token per "
        "parameter (as few as 0.05), where the loss reflects a warm-up and schedule cut short more than the model's size "
        "and data, and they pull the law away from the runs near compute-optimal training that forecasts are about. To "
        "fit them too, set min_tokens_per_param=0. 4 run(s) trained on fewer than 1 token per parameter were fitted all "
        "the same (in 1 domain(s): 'b' 4): leaving them out would have left their domain fewer than 3 runs or under "
        "half of its runs (are 'params' and 'tokens' the right columns?)."]
    # a bound that would leave out nearly everything leaves out nothing, and says so (it was silent: a fresh user)
    huge = build_inputs(bs.ScalingLaw(prior="weak", discrepancy="none", min_tokens_per_param=1e9), runs)
    assert huge.runs_left_out == 0 and huge.notes[0].startswith("36 run(s) trained on fewer than 1e+09 tokens per "
                                                                "parameter were fitted all the same (in 2 domain(s)")
    # reference runs enter as given (the prior's study fitted them all)
    def summarize(table, refs):
        summarize.n = len(table)
        return np.zeros(5), np.eye(5) * 0.01, 0.01, 1e6

    ref = synthetic_runs(ratios=(0.5, 20, 60))
    with_ref = build_inputs(bs.ScalingLaw(prior="besiroglu2024", discrepancy="none"), a.iloc[:10], reference=ref,
                            summarize=summarize)
    assert summarize.n == 18 and with_ref.runs_left_out == 4 and with_ref.notes[0].startswith("4 of 10 runs were left")
    # 0 fits every run; a table without tokens (a one-variable law of compute) has nothing to leave out
    every = build_inputs(bs.ScalingLaw(prior="weak", discrepancy="none", min_tokens_per_param=0), runs)
    assert len(every.runs) == 36 and every.notes == []
    assert not undertrained_runs(runs.drop(columns="tokens").assign(domain="a")).any()
    # a domain of mostly such runs (a table with the columns swapped?) keeps them: 2 of 5 would be kept
    swapped = synthetic_runs(n_sizes=1, ratios=(0.1, 0.2, 0.4, 2, 4), domain="s")
    assert undertrained_runs(swapped).sum() == 0
    assert undertrained_runs(pd.concat([swapped] * 2)).sum() == 0  # 4 of 10 kept: under half
    assert undertrained_runs(synthetic_runs(n_sizes=1, ratios=(0.5, 2, 4, 8), domain="s")).tolist() == [
        True, False, False, False]
    with pytest.raises(ValueError, match=r"min_tokens_per_param must be a finite number >= 0 \(0 fits every run\), not -1"):
        bs.ScalingLaw(min_tokens_per_param=-1)


def test_a_misspelt_embedded_reference_is_named(tmp_path, monkeypatch):
    # '--reference chinchila' was told only "file 'chinchila' does not exist; check the path" (a fresh user)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(bs.RunsTableError) as err:
        resolve_reference("chinchila")
    assert str(err.value) == ("reference runs file 'chinchila' does not exist; did you mean the embedded 'chinchilla' "
                              "(reference='chinchilla')?")
    with pytest.raises(bs.RunsTableError, match=r"^reference runs file 'runs/ref.csv' does not exist; check the path\."):
        resolve_reference("runs/ref.csv")


@pytest.mark.parametrize("bound, kind, says_left_out", [(1.0, bs.LeftOutRunsWarning, True),
                                                        (0.0, bs.RunsTableWarning, False)])
def test_the_runs_warning_says_the_fit_leaves_runs_out_only_when_it_does(bound, kind, says_left_out):
    # a fresh user's fit with --min-tokens-per-param 0 was told "a fit leaves them out by default ... so its numbers do
    # not rest on them", next to a fit that rested on them
    runs = synthetic_runs()
    runs.loc[0, "tokens"] = 0.05 * runs.loc[0, "params"]
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        build_inputs(bs.ScalingLaw(prior="weak", discrepancy="none", min_tokens_per_param=bound), runs)
    said = [w for w in rec if "tokens per parameter" in str(w.message)]
    assert [w.category for w in said] == [kind]
    assert ("a fit leaves them out by default" in str(said[0].message)) is says_left_out
    if not says_left_out:
        assert str(said[0].message) == ("1 run(s) (row 0) have as few as 0.05 tokens per parameter, outside "
                                        "0.1-10,000; check that 'params' and 'tokens' are raw counts of the same run.")
