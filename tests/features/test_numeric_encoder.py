import numpy as np
import pytest

from modelry.data.columns import Coded
from modelry.errors import ConfigError, InvalidInputError, NotFittedError
from modelry.features.feature_config import NumericFeature
from modelry.features.numeric import NumericEncoder


def test_standardises_to_mean_zero_std_one_on_train() -> None:
    x = np.array([1.0, 2.0, 3.0, 4.0, 10.0, -5.0])
    out = NumericEncoder(NumericFeature(bins=0, name="x")).fit(x).transform(x)
    assert out.dtype == np.float32 and out.shape == (6, 1)
    assert abs(out.mean()) < 1e-6
    assert abs(out.std() - 1) < 1e-6


def test_log1p_chosen_for_skewed_non_negative_column() -> None:
    x = np.random.default_rng(0).lognormal(sigma=1.5, size=2000)
    enc = NumericEncoder(NumericFeature(bins=0, name="amount")).fit(x)
    assert enc.log1p_
    out = enc.transform(x)[:, 0]
    expected = (np.log1p(x) - np.log1p(x).mean()) / np.log1p(x).std()
    np.testing.assert_allclose(out, expected, atol=1e-5)


def test_log1p_not_chosen_with_negatives_or_symmetric() -> None:
    skewed = np.random.default_rng(0).lognormal(sigma=1.5, size=2000)
    assert not NumericEncoder(NumericFeature(bins=0, name="x")).fit(skewed - 1.0).log1p_
    normal = np.random.default_rng(1).normal(size=2000) + 10
    assert not NumericEncoder(NumericFeature(bins=0, name="x")).fit(normal).log1p_


def test_explicit_log1p_refuses_negatives() -> None:
    with pytest.raises(ConfigError, match="'x'"):
        NumericEncoder(NumericFeature(bins=0, name="x", transform="log1p")).fit(
            np.array([-1.0, 2.0])
        )


def test_log1p_clamps_values_below_the_training_range() -> None:
    enc = NumericEncoder(NumericFeature(bins=0, name="x", transform="log1p")).fit(
        np.array([0.0, 9.0])
    )
    out = enc.transform(np.array([-3.0, 0.0]))
    assert np.isfinite(out).all()
    assert out[0, 0] == out[1, 0]


@pytest.mark.parametrize(("impute", "fill"), [("median", 2.0), ("mean", 11 / 3), ("zero", 0.0)])
def test_impute_and_missing_indicator(impute: str, fill: float) -> None:
    cfg = NumericFeature(bins=0, name="x", impute=impute, scale="none", transform="none")  # type: ignore[arg-type]
    enc = NumericEncoder(cfg).fit(np.array([1.0, 2.0, 8.0, np.nan]))
    assert enc.output_names == ["x", "x=__missing__"]
    out = enc.transform(np.array([np.nan, 5.0]))
    np.testing.assert_allclose(out, [[fill, 1.0], [5.0, 0.0]], rtol=1e-6)


def test_no_indicator_without_missing_in_training_or_when_disabled() -> None:
    enc = NumericEncoder(NumericFeature(bins=0, name="x")).fit(np.array([1.0, 2.0]))
    assert enc.output_names == ["x"]
    assert enc.transform(np.array([np.nan])).shape == (1, 1)
    cfg = NumericFeature(bins=0, name="x", missing_indicator=False)
    assert NumericEncoder(cfg).fit(np.array([1.0, np.nan])).output_names == ["x"]


def test_constant_column_has_std_one() -> None:
    enc = NumericEncoder(NumericFeature(bins=0, name="x")).fit(np.full(5, 3.0))
    assert enc.std_ == 1.0
    assert enc.transform(np.array([3.0, 4.0]))[:, 0].tolist() == [0.0, 1.0]


def test_object_input_with_ints_strings_bools_and_none() -> None:
    enc = NumericEncoder(NumericFeature(bins=0, name="x", scale="none", transform="none"))
    enc.fit(np.array([1.0, 2.0, 3.0]))
    values = np.array([1, "2.5", True, None, " 4 "], dtype=object)
    out = enc.transform(values)[:, 0]
    np.testing.assert_allclose(out, [1.0, 2.5, 1.0, 2.0, 4.0])


def test_coded_input_matches_plain() -> None:
    enc = NumericEncoder(NumericFeature(bins=0, name="x")).fit(np.array([1.0, 2.0, 3.0, np.nan]))
    coded = Coded(codes=np.array([0, 1, -1, 0]), categories=np.array(["1.5", "3"], dtype=object))
    np.testing.assert_array_equal(
        enc.transform(coded), enc.transform(np.array([1.5, 3.0, np.nan, 1.5]))
    )


@pytest.mark.parametrize(
    ("values", "row", "shown"),
    [
        (np.array([1.0, "abc"], dtype=object), 1, "'abc'"),
        (np.array([1.0, np.inf]), 1, "inf"),
        (np.array([-np.inf, 1.0]), 0, "-inf"),
        (np.array([1, [2]], dtype=object), 1, "[2]"),
    ],
)
def test_invalid_values_name_column_row_and_value(values: np.ndarray, row: int, shown: str) -> None:
    enc = NumericEncoder(NumericFeature(bins=0, name="age")).fit(np.array([1.0, 2.0]))
    with pytest.raises(InvalidInputError, match="'age'") as info:
        enc.transform(values)
    assert info.value.details["row"] == row
    assert shown in info.value.message
    assert info.value.status_code == 422


def test_invalid_category_of_coded_input_names_its_row() -> None:
    enc = NumericEncoder(NumericFeature(bins=0, name="age")).fit(np.array([1.0, 2.0]))
    coded = Coded(codes=np.array([0, 0, 1]), categories=np.array(["1", "x"], dtype=object))
    with pytest.raises(InvalidInputError, match="'age', row 2"):
        enc.transform(coded)
    unused = Coded(codes=np.array([0]), categories=np.array(["1", "x"], dtype=object))
    assert enc.transform(unused).shape == (1, 1)


def test_not_fitted() -> None:
    with pytest.raises(NotFittedError, match="'x'"):
        NumericEncoder(NumericFeature(bins=0, name="x")).transform(np.array([1.0]))


def test_round_trip_gives_identical_output() -> None:
    x = np.random.default_rng(0).lognormal(size=100)
    x[::7] = np.nan
    enc = NumericEncoder(NumericFeature(bins=0, name="x")).fit(x)
    again = NumericEncoder.from_dict(enc.to_dict())
    np.testing.assert_array_equal(enc.transform(x), again.transform(x))
    assert again.output_names == enc.output_names


def test_single_row() -> None:
    enc = NumericEncoder(NumericFeature(bins=0, name="x")).fit(np.array([1.0, 3.0]))
    assert enc.transform(np.array([2.0])).tolist() == [[0.0]]


def test_input_is_not_written() -> None:
    x = np.array([1.0, np.nan, 3.0])
    enc = NumericEncoder(NumericFeature(bins=0, name="x")).fit(x)
    enc.transform(x)
    assert np.isnan(x[1]) and x[0] == 1.0


def test_quantile_bins_one_hot_each_value_beside_its_scaled_value() -> None:
    x = np.arange(100, dtype=np.float64)
    enc = NumericEncoder(NumericFeature(name="x", bins=4, transform="none")).fit(x)
    assert enc.edges_ == [25.0, 50.0, 75.0]
    out = enc.transform(np.array([0.0, 30.0, 99.0, 1000.0]))
    assert out.shape == (4, 5)
    assert out[:, 1:].tolist() == [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 0, 1], [0, 0, 0, 1]]
    assert enc.output_names == ["x", "x#bin0", "x#bin1", "x#bin2", "x#bin3"]


def test_repeated_values_share_a_bin_and_a_missing_value_takes_the_fill_bin() -> None:
    x = np.array([999.0] * 90 + [1.0, 2.0, 3.0] * 3 + [np.nan])
    enc = NumericEncoder(NumericFeature(name="pdays", bins=8)).fit(x)
    assert len(enc.edges_) >= 1  # the sentinel 999 gets a bin of its own
    out = enc.transform(np.array([999.0, 2.0, np.nan]))
    bins = out[:, 2:]
    assert bins.sum(axis=1).tolist() == [1, 1, 1]
    assert bins[0].argmax() != bins[1].argmax()
    assert bins[2].argmax() == bins[0].argmax()  # the median fill is 999
    again = NumericEncoder.from_dict(enc.to_dict())
    np.testing.assert_array_equal(again.transform(x), enc.transform(x))
