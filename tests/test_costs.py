"""Cost and value models (bayes_scaling.costs): formulas against hand-computed numbers, TOML errors."""

from __future__ import annotations

import numpy as np
import pytest

from bayes_scaling.costs import CostModel, CostsFileError, ValueModel, load_costs, load_value


def _write(tmp_path, text, name="costs.toml"):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_price_per_flop_from_gpu_hours_by_hand():
    # 2.0 USD per GPU-hour, 1e15 FLOP/s peak, 50 % utilisation -> 2 / (3600 * 5e14) USD per FLOP
    c = CostModel.from_gpu_hours(2.0, 1e15, 0.5)
    assert c.price_per_flop == pytest.approx(2.0 / 1.8e18, rel=1e-12)
    # 1B parameters x 20B tokens = 1.2e20 FLOPs -> 1.2e20 * 2 / 1.8e18 = 133.33 USD
    assert c.training_cost(1e9, 2e10) == pytest.approx(133.3333333, rel=1e-9)


def test_cost_components_by_hand():
    c = CostModel(price_per_flop=1e-18, price_per_unique_token=1e-9, tokens_served=1e12, fixed_cost_per_run=1000.0,
                  inference_price_per_flop=2e-18, currency="EUR")
    n, d = 7e9, 1.4e11
    train = 6 * 7e9 * 1.4e11 * 1e-18  # 5880
    data = 1.4e11 * 1e-9  # 140
    inf = 1e12 * 2 * 7e9 * 2e-18  # 28000
    assert c.training_cost(n, d) == pytest.approx(5880.0)
    assert c.data_cost(d) == pytest.approx(140.0)
    assert c.data_cost(d, unique_tokens=3.5e10) == pytest.approx(35.0)  # 4 epochs: only unique tokens are bought
    assert c.inference_cost(n) == pytest.approx(28000.0)
    assert c.total_cost(n, d) == pytest.approx(train + data + inf + 1000.0)
    assert c.run_cost(n, d) == pytest.approx(train + data + 1000.0)  # a pilot is not served


def test_costs_are_vectorised():
    c = CostModel(price_per_flop=1e-18)
    out = c.total_cost(np.array([1e9, 2e9]), np.array([[1e10], [2e10]]))
    assert out.shape == (2, 2)
    assert out[1, 1] == pytest.approx(6 * 2e9 * 2e10 * 1e-18)


def test_unique_tokens_above_tokens_is_an_error():
    with pytest.raises(ValueError, match=r"unique_tokens cannot exceed tokens"):
        CostModel(price_per_flop=1e-18).data_cost(1e9, unique_tokens=2e9)


def test_tokens_for_budget_inverts_total_cost():
    c = CostModel(price_per_flop=1e-18, price_per_unique_token=1e-9, tokens_served=1e11, fixed_cost_per_run=50.0)
    n = np.array([1e8, 1e9, 1e10])
    d = c.tokens_for_budget(n, 1e4)
    assert np.allclose(c.total_cost(n, d), 1e4, rtol=1e-12)
    # with a unique-token limit the extra tokens are repeats: data cost stops at the limit
    u = 1e9
    d2 = c.tokens_for_budget(n, 1e4, unique_tokens=u)
    assert np.allclose(c.total_cost(n, d2, np.minimum(d2, u)), 1e4, rtol=1e-12)
    # a budget that does not cover the fixed cost buys nothing
    assert np.isnan(c.tokens_for_budget(1e9, 10.0))


def test_formulas_text_names_the_numbers():
    txt = CostModel(price_per_flop=1.5e-18, tokens_served=1e12, currency="EUR").formulas_text()
    assert "6 x N x D FLOPs x 1.5e-18 EUR/FLOP" in txt
    assert "1e+12 tokens served x 2 x N FLOPs" in txt


def test_load_costs_from_toml(tmp_path):
    p = _write(tmp_path, """
currency = "EUR"
fixed_cost_per_run = 100
[training]
price_per_gpu_hour = 3.6
gpu = "h100"
utilization = 0.5
[data]
price_per_unique_token = 2e-9
[inference]
tokens_served = 1e12
price_per_flop = 1e-18
""")
    c = load_costs(p)
    assert c.currency == "EUR"
    assert c.price_per_flop == pytest.approx(3.6 / (3600 * 989e12 * 0.5))
    assert c.inference_flop_price == 1e-18
    assert c.price_per_unique_token == 2e-9
    assert c.fixed_cost_per_run == 100


def test_costs_file_without_currency_warns_and_reads_usd(tmp_path):
    # a fresh user's EUR prices were labelled USD in the report without a word
    p = _write(tmp_path, "[training]\nprice_per_flop = 1e-18\n")
    with pytest.warns(UserWarning) as rec:
        c = load_costs(p)
    assert c.currency == "USD"
    assert str(rec[0].message) == (f"costs file '{p}' names no currency: its prices are read as USD and the report "
                                   "says USD; add currency = \"EUR\" (or yours) at the top of the file.")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[data]\nprice_per_unique_token = 1e-9\n",
         "missing [training] section: add [training] with price_per_flop = 1.5e-18, or price_per_gpu_hour = 2.0, "
         "gpu_peak_flops = 989e12 and utilization = 0.4."),
        ("[training]\nprice_per_gpu_hour = 2.0\n",
         "[training] price_per_gpu_hour needs gpu_peak_flops and utilization: add e.g. gpu_peak_flops = 989e12 "
         "(H100 BF16 dense, or gpu = \"h100\") and utilization = 0.4 (model FLOP utilisation)."),
        ("[training]\nprice_per_flop = \"1e-18\"\n",
         "[training] price_per_flop must be a number, got '1e-18'; write e.g. price_per_flop = 2.5 (no quotes, no "
         "units)."),
        ("[training]\nprice_per_flop = -1e-18\n", "[training] price_per_flop must be zero or positive, got -1e-18."),
        ("[training]\nprice_per_gpu_hour = 2.0\ngpu_peak_flops = 1e15\nutilization = 40\n",
         "[training] utilization must be at most 1, got 40; give a fraction (0.4 for 40 %)."),
        ("[training]\nprice_per_flop = 1e-18\nprice_per_gpu_hour = 2.0\n",
         "[training] price_per_flop and price_per_gpu_hour are both given; keep one."),
        ("[training]\nprice_per_flops = 1e-18\n",
         "unknown key 'price_per_flops' (did you mean 'price_per_flop'?) in [training]; known keys: ['gpu', "
         "'gpu_peak_flops', 'price_per_flop', 'price_per_gpu_hour', 'utilization']."),
        ("[training]\ngpu = \"v100\"\nprice_per_gpu_hour = 2.0\nutilization = 0.4\n",
         "[training] gpu must be one of ['a100', 'h100'], got 'v100'; or give gpu_peak_flops (FLOP/s) instead."),
        # a unit slip priced a 1.4B run at 4e16 EUR without a word (a fresh user)
        ("[training]\nprice_per_gpu_hour = 1.5\ngpu_peak_flops = 312\nutilization = 0.45\n",
         "[training] gpu_peak_flops is the peak FLOP/s of one GPU, between 1e+11 and 1e+17; got 312 (did you mean "
         "312e12, in TFLOP/s?): e.g. 312e12 for an A100, 989e12 for an H100 (BF16 dense)."),
        ("[training]\nprice_per_gpu_hour = 1.5\ngpu = \"h100\"\ngpu_peak_flops = 312e12\nutilization = 0.45\n",
         "[training] gpu and gpu_peak_flops are both given; keep one (gpu = \"h100\" means 9.89e+14 FLOP/s)."),
        ("[training]\n", "[training] needs a compute price: add price_per_flop = 1.5e-18, or price_per_gpu_hour = 2.0 "
                         "with gpu_peak_flops = 989e12 and utilization = 0.4."),
    ],
)
def test_costs_file_errors_name_the_key_and_the_fix(tmp_path, text, message):
    path = _write(tmp_path, text)
    with pytest.raises(CostsFileError) as err:
        load_costs(path)
    assert str(err.value) == f"costs file '{path}': {message}"  # which file: a decision reads two (a fresh user)


def test_costs_file_missing_and_invalid(tmp_path):
    with pytest.raises(CostsFileError, match=r"^costs file '.*nope.toml' does not exist; check the path.$"):
        load_costs(tmp_path / "nope.toml")
    with pytest.raises(CostsFileError, match=r"is not valid TOML"):
        load_costs(_write(tmp_path, "[training\nprice_per_flop = 1"))


def test_linear_value_by_hand():
    v = ValueModel(metric="accuracy", baseline=0.60, money_per_unit=2e6, unit=0.01)  # 2 M per accuracy point
    assert v.value(0.65) == pytest.approx(10e6)
    assert v.value(0.55) == 0.0  # keep_current: a worse model is not shipped
    assert ValueModel(baseline=0.60, money_per_unit=2e6, unit=0.01, keep_current=False).value(0.55) == pytest.approx(-10e6)
    loss = ValueModel(metric="loss", higher_is_better=False, baseline=2.0, money_per_unit=1e6, unit=0.01)
    assert loss.value(1.95) == pytest.approx(5e6)
    assert v.formula_text() == ("Value: 2e+06 USD per 0.01 of accuracy x (accuracy - 0.6) / 0.01; a plan worse than "
                                "the current product earns 0 (the current one is kept).")


def test_table_value_interpolates_and_is_flat_beyond_its_ends():
    v = ValueModel(table=((0.60, 0.0), (0.70, 5e6), (0.80, 6e6)))
    assert v.value(np.array([0.5, 0.65, 0.75, 0.9])) == pytest.approx([0.0, 2.5e6, 5.5e6, 6e6])


def test_value_errors():
    with pytest.raises(CostsFileError, match=r"^give the value either as money_per_unit"):
        ValueModel(baseline=0.6)
    with pytest.raises(CostsFileError, match=r"^a linear value needs baseline"):
        ValueModel(money_per_unit=1.0)
    with pytest.raises(CostsFileError, match=r"money must not decrease as the metric improves"):
        ValueModel(table=((0.6, 5.0), (0.7, 1.0)))


def test_load_value_from_toml(tmp_path):
    p = _write(tmp_path, """
currency = "EUR"
[training]
price_per_flop = 1e-18
[value]
metric = "hellaswag"
baseline = 0.6
money_per_unit = 1e6
unit = 0.01
""")
    v = load_value(p)
    assert v.currency == "EUR" and v.metric == "hellaswag"
    assert v.value(0.61) == pytest.approx(1e6)
    load_costs(p)  # the [value] section is allowed in a costs file
    with pytest.raises(CostsFileError, match=r"has no \[value\] section"):
        load_value(_write(tmp_path, "[training]\nprice_per_flop = 1e-18\n", "c2.toml"))
    with pytest.raises(CostsFileError, match=r"unknown key 'money_per_units' \(did you mean 'money_per_unit'\?\)"):
        load_value(_write(tmp_path, "[value]\nbaseline = 0.6\nmoney_per_units = 1\n", "c3.toml"))


def test_a_value_file_without_currency_takes_the_costs_currency(tmp_path):
    """A value file that names no currency beside EUR costs was read as USD and refused as 'in USD' (a fresh user)."""
    from bayes_scaling.costs import load_value

    f = tmp_path / "value.toml"
    f.write_text("[value]\nmetric = \"loss\"\nhigher_is_better = false\nbaseline = 2.0\nmoney_per_unit = 1e5\n")
    assert load_value(f, currency="EUR").currency == "EUR"
    assert load_value(f).currency == "USD"
    f.write_text("currency = \"GBP\"\n" + f.read_text())
    assert load_value(f, currency="EUR").currency == "GBP"  # a currency the file names wins (and is checked later)


def test_a_missing_value_file_is_called_a_value_file(tmp_path):
    from bayes_scaling.costs import CostsFileError, load_value

    with pytest.raises(CostsFileError) as err:
        load_value(tmp_path / "nope.toml")
    assert str(err.value) == f"value file '{tmp_path / 'nope.toml'}' does not exist; check the path."
