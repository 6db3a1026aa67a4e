import numpy as np
import pytest

from modelry.data.columns import Coded
from modelry.errors import InvalidInputError
from modelry.features.boolean import BooleanEncoder
from modelry.features.feature_config import BooleanFeature


def objects(*values: object) -> np.ndarray:
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


def test_mapping_of_spellings_bools_and_numbers() -> None:
    enc = BooleanEncoder(BooleanFeature(name="ok")).fit(np.array([0.0, 1.0]))
    values = objects(
        "true", "FALSE", "Yes", "no", " Y ", "n", "1", "0", True, False, 1, 0, 1.0, np.True_, "T"
    )
    out = enc.transform(values)[:, 0].tolist()
    assert out == [1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 1, 1]
    assert enc.output_names == ["ok"]


def test_missing_becomes_training_mean_with_indicator() -> None:
    enc = BooleanEncoder(BooleanFeature(name="ok")).fit(objects("yes", "yes", "no", "yes", None))
    assert enc.mean_ == 0.75
    assert enc.output_names == ["ok", "ok=__missing__"]
    out = enc.transform(objects(None, "", float("nan"), "no"))
    np.testing.assert_array_equal(out, [[0.75, 1], [0.75, 1], [0.75, 1], [0, 0]])


def test_numeric_and_bool_arrays() -> None:
    enc = BooleanEncoder(BooleanFeature(name="ok")).fit(np.array([True, False]))
    assert enc.transform(np.array([1.0, 0.0]))[:, 0].tolist() == [1.0, 0.0]
    assert enc.transform(np.array([1, 0]))[:, 0].tolist() == [1.0, 0.0]


def test_coded_equals_objects() -> None:
    enc = BooleanEncoder(BooleanFeature(name="ok")).fit(objects("y", "n", None))
    coded = Coded(codes=np.array([0, 1, -1, 1]), categories=objects("Yes", "no", "maybe"))
    np.testing.assert_array_equal(enc.transform(coded), enc.transform(coded.decode()))


@pytest.mark.parametrize(
    ("values", "row"),
    [
        (objects("yes", "maybe"), 1),
        (np.array([0.0, 1.0, 2.0]), 2),
        (objects(3), 0),
        (Coded(codes=np.array([0, 1]), categories=objects("no", "maybe")), 1),
    ],
)
def test_other_values_are_refused_naming_the_column(values: object, row: int) -> None:
    enc = BooleanEncoder(BooleanFeature(name="subscribed")).fit(np.array([0.0, 1.0]))
    with pytest.raises(InvalidInputError, match="'subscribed'") as info:
        enc.transform(values)  # type: ignore[arg-type]
    assert info.value.details["row"] == row


def test_round_trip() -> None:
    enc = BooleanEncoder(BooleanFeature(name="ok")).fit(objects("y", None, "n"))
    again = BooleanEncoder.from_dict(enc.to_dict())
    rows = objects("y", None)
    np.testing.assert_array_equal(enc.transform(rows), again.transform(rows))
