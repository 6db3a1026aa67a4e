"""One conformance suite for every encoder, after scikit-learn's ``check_estimator``.

Each case is an encoder with its config, a training column, a column to encode (its
values of every kind the encoder reads, missing ones included) and the values it must
refuse. Every check runs on every case, so a new encoder gets them all by adding a case.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest

from modelry.data.columns import Coded, ColumnArray
from modelry.errors import InvalidInputError, NotFittedError
from modelry.features.encoders import ENCODERS, AnyEncoder, encoder_from_dict
from modelry.features.feature_config import (
    BooleanFeature,
    CategoricalFeature,
    DatetimeFeature,
    EmbeddingFeature,
    Feature,
    NumericFeature,
    TextFeature,
)

# Numbers near float64's limits overflow float32 in both paths alike (inf in the output).
pytestmark = pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")


def objects(values: list[Any]) -> np.ndarray:
    out = np.empty(len(values), dtype=object)
    for i, value in enumerate(values):  # one by one: equal-length lists stay items
        out[i] = value
    return out


@dataclass(frozen=True)
class Case:
    config: Feature
    train: ColumnArray
    sample: ColumnArray
    bad: list[Any] = field(default_factory=list)  # values transform must refuse
    general: list[Any] = field(default_factory=list)  # taken by the vectorised path alone

    @property
    def id(self) -> str:
        return f"{self.config.type}-{self.config.name}"


rng = np.random.default_rng(0)
AGES = rng.normal(40, 12, 300)
AGES[::17] = np.nan
DATES = [f"{1950 + y}-{1 + y % 12:02d}-{1 + y % 28:02d}" for y in range(100)]

CASES = [
    Case(
        NumericFeature(name="age"),
        AGES,
        objects([41, 30.5, None, float("nan"), -1e300, 5e-324, 2**60 + 1]),
        ["abc", float("inf"), [1], 10**400],
        ["7.5", " 12 ", True, np.float32(2.5)],
    ),
    Case(
        NumericFeature(name="balance", transform="log1p", bins=4),
        np.abs(AGES) * 100,
        np.array([0.0, 12.5, 1e6, -3.0, np.nan]),
        [float("-inf")],
    ),
    Case(
        NumericFeature(name="rate", bins=0, scale="none", missing_indicator=False),
        AGES / 10,
        objects([1, -2.25, None]),
        ["x"],
    ),
    Case(
        CategoricalFeature(name="job", min_frequency=2),
        objects(["admin.", "blue", "admin.", None, "tech", "blue", 1.0] * 10),
        objects(["admin.", "blue", "unseen", None, "", 1, 1.0, True, ["a"], "ünïcode"]),
    ),
    Case(
        CategoricalFeature(name="city", encoding="embedding", min_frequency=1),
        objects([f"c{i % 30}" for i in range(300)]),
        objects(["c1", "c29", "elsewhere", None, 3.5]),
    ),
    Case(
        BooleanFeature(name="default"),
        objects(["yes", "no", None, "YES", True, 0] * 10),
        objects(["yes", " No ", "t", True, False, 1, 0.0, None, "", float("nan")]),
        ["maybe", 2, [1]],
    ),
    Case(
        BooleanFeature(name="flag"),
        np.array([0.0, 1.0, 1.0]),
        np.array([1.0, 0.0]),
        [0.5],
    ),
    Case(
        TextFeature(name="note", n_features=16),
        objects(["call me back", "not interested", None] * 10),
        objects(["call me back", "NOT interested!", "", None, "über café", 42, "a a a b"]),
    ),
    Case(
        DatetimeFeature(name="signed"),
        objects([*DATES, None]),
        objects(["2024-01-05", "2023-06-30T10:00:00Z", "1969-12-31T23:00+01:00", None, ""]),
        ["not a date", 20240105, [2024]],
    ),
    Case(
        EmbeddingFeature(name="resume", dimension=4),
        rng.normal(0, 1, (30, 4)),
        objects([[0.1, -2.0, 3, 1e-3], (0.0, 0.0, 0.0, 0.0), np.array([1.0, 2.0, 3.0, 4.0])]),
        ["a text to embed first", [1.0, 2.0], [1.0, 2.0, 3.0, float("nan")], None],
    ),
]
ALL_TYPES = {"numeric", "categorical", "boolean", "text", "datetime", "embedding"}
assert {case.config.type for case in CASES} == ALL_TYPES == set(ENCODERS)


def fresh(case: Case) -> AnyEncoder:
    return ENCODERS[case.config.type](case.config)  # type: ignore[arg-type]


@pytest.fixture(params=CASES, ids=[case.id for case in CASES])
def case(request: pytest.FixtureRequest) -> Case:
    return request.param  # type: ignore[no-any-return]


def encode(encoder: AnyEncoder, values: ColumnArray) -> np.ndarray:
    return encoder.transform(values)


def bits(out: np.ndarray) -> np.ndarray:
    return out.view(np.uint32) if out.dtype == np.float32 else out


def row_path(encoder: AnyEncoder, values: list[Any]) -> np.ndarray | None:
    """The column through ``write_value``, row by row, as the preprocessor's row plan runs it;
    None when a value is not taken."""
    width = encoder.n_dense
    cells = array("f", [0.0]) * (len(values) * width)
    codes = [0] * len(values)
    for row, value in enumerate(values):
        if not encoder.write_value(value, cells, row * width, codes, row):
            return None
    if encoder.n_codes:
        return np.array(codes, dtype=np.int64)
    return np.frombuffer(cells, dtype=np.float32).reshape(len(values), width)


def test_init_stores_the_config_untouched(case: Case) -> None:
    before = case.config.model_dump()
    encoder = fresh(case)
    assert vars(encoder) == {"config": case.config} and encoder.config is case.config
    assert not encoder.is_fitted
    encoder.fit(case.train)
    assert case.config.model_dump() == before  # fit learns into attributes, not the config


def test_fit_returns_self(case: Case) -> None:
    encoder = fresh(case)
    assert encoder.fit(case.train) is encoder and encoder.is_fitted


def test_transform_before_fit_raises_not_fitted(case: Case) -> None:
    encoder = fresh(case)
    for call in (
        lambda: encoder.transform(case.sample),
        lambda: encoder.to_dict(),
        lambda: encoder.output_names,
        lambda: encoder.n_dense,
    ):
        with pytest.raises(NotFittedError) as info:
            call()
        message = str(info.value)
        assert type(encoder).__name__ in message and repr(case.config.name) in message
        assert "call fit first" in message


def test_output_width_and_dtype_as_declared(case: Case) -> None:
    encoder = fresh(case).fit(case.train)
    out = encode(encoder, case.sample)
    n = len(case.sample)
    if encoder.n_codes:
        assert out.dtype == np.int64 and out.shape == (n,) and encoder.n_dense == 0
        assert len(encoder.output_names) == 1
        assert ((out >= 0) & (out < encoder.cardinality_)).all()  # type: ignore[union-attr]
    else:
        assert out.dtype == np.float32 and out.shape == (n, encoder.n_dense)
        assert len(encoder.output_names) == encoder.n_dense


def test_to_dict_from_dict_round_trip_gives_identical_output(case: Case) -> None:
    import json

    encoder = fresh(case).fit(case.train)
    stored = json.loads(json.dumps(encoder.to_dict(), allow_nan=False))  # as an artifact holds it
    loaded = encoder_from_dict(stored)
    assert type(loaded) is type(encoder) and loaded.to_dict() == encoder.to_dict()
    np.testing.assert_array_equal(
        bits(encode(loaded, case.sample)), bits(encode(encoder, case.sample))
    )
    loaded_rows = row_path(loaded, case.sample.tolist())  # type: ignore[union-attr]
    assert loaded_rows is not None
    np.testing.assert_array_equal(bits(loaded_rows), bits(encode(encoder, case.sample)))


def test_fit_is_deterministic(case: Case) -> None:
    once, twice = fresh(case).fit(case.train), fresh(case).fit(case.train)
    assert once.to_dict() == twice.to_dict()


def test_row_path_equals_the_vectorised_path(case: Case) -> None:
    encoder = fresh(case).fit(case.train)
    values = case.sample.tolist()  # type: ignore[union-attr]
    want = encode(encoder, case.sample)
    rows = row_path(encoder, values)
    assert rows is not None  # every sample value is one the row path takes
    np.testing.assert_array_equal(bits(rows), bits(want))
    for row, value in enumerate(values):  # one row alone, anywhere in the output
        alone = row_path(encoder, [value])
        assert alone is not None
        np.testing.assert_array_equal(bits(alone[0]), bits(want[row]))


def test_bad_values_are_refused_naming_the_column(case: Case) -> None:
    encoder = fresh(case).fit(case.train)
    name = case.config.name
    for value in case.bad:
        column = objects([*case.sample.tolist()[:2], value])  # type: ignore[union-attr]
        if case.sample.dtype == np.float64 and isinstance(value, float):  # type: ignore[union-attr]
            column = np.array([*case.sample.tolist()[:2], value])  # type: ignore[union-attr]
        with pytest.raises(InvalidInputError) as info:
            encode(encoder, column)
        assert info.value.details["column"] == name and repr(name) in str(info.value)
        assert info.value.details.get("row") == 2
        assert row_path(encoder, [value]) is None  # the row path leaves it to the general one


def test_values_only_the_vectorised_path_reads_are_left_to_it(case: Case) -> None:
    encoder = fresh(case).fit(case.train)
    for value in case.general:
        assert row_path(encoder, [value]) is None
        encode(encoder, objects([value]))  # read, not refused


def test_a_code_outside_the_categories_is_refused_naming_the_column(case: Case) -> None:
    encoder = fresh(case).fit(case.train)
    coded = Coded(codes=np.array([0, 5]), categories=objects(["1"]))
    with pytest.raises(InvalidInputError) as info:
        encode(encoder, coded)
    assert repr(case.config.name) in str(info.value)


SCALAR_CASES = [case for case in CASES if case.config.type != "embedding"]
"""The cases whose values can come dictionary-encoded (a vector column cannot)."""


@pytest.mark.parametrize("case", SCALAR_CASES, ids=[case.id for case in SCALAR_CASES])
def test_dictionary_encoded_input_equals_the_plain_column(case: Case) -> None:
    encoder = fresh(case).fit(case.train)
    plain = objects(["1", None, "0", "1"])
    coded = Coded(codes=np.array([0, -1, 1, 0]), categories=objects(["1", "0"]))
    if case.config.type == "datetime":
        plain = objects(["2024-01-05", None, "1999-12-31", "2024-01-05"])
        coded = Coded(
            codes=np.array([0, -1, 1, 0]), categories=objects(["2024-01-05", "1999-12-31"])
        )
    np.testing.assert_array_equal(bits(encode(encoder, coded)), bits(encode(encoder, plain)))
