"""The per-request row path must equal the vectorised path bit for bit, errors included."""

from typing import Any

import numpy as np
import pytest

from modelry.data.columns import Coded, Records, as_array
from modelry.errors import InvalidInputError
from modelry.features import preprocessor as preprocessor_module
from modelry.features.feature_config import (
    BooleanFeature,
    CategoricalFeature,
    DatetimeFeature,
    Feature,
    NumericFeature,
    TextFeature,
)
from modelry.features.preprocessor import Encoded, Preprocessor
from modelry.features.rows import MAX_ROWS, RowPlan

Columns = dict[str, Any]


def objects(values: list[Any]) -> np.ndarray:
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


FEATURES: list[Feature] = [
    NumericFeature(name="age"),  # bins, standardised, NaN → indicator
    NumericFeature(name="balance", transform="log1p", impute="mean"),
    NumericFeature(name="calls", transform="auto", bins=4),  # skewed counts: auto log1p
    NumericFeature(name="rate", bins=0, scale="none", missing_indicator=False),
    NumericFeature(name="parsed"),  # arrives as strings, numbers and None
    CategoricalFeature(name="job", min_frequency=5),  # one-hot with rare → other
    CategoricalFeature(name="city", encoding="embedding", min_frequency=2),
    CategoricalFeature(name="level", missing="most_frequent", min_frequency=1),
    CategoricalFeature(name="coded", min_frequency=1),  # dictionary-encoded input
    CategoricalFeature(name="flag_cat", min_frequency=1),  # numbers and bools as categories
    BooleanFeature(name="default"),
    BooleanFeature(name="numeric_bool"),
    TextFeature(name="note", n_features=8),
    DatetimeFeature(name="signed"),
]


def pick(rng: np.random.Generator, options: list[Any]) -> Any:
    """One of ``options``, as the Python object itself (a JSON-decoded value)."""
    return options[int(rng.integers(len(options)))]


def make_table(n: int, seed: int) -> Columns:
    rng = np.random.default_rng(seed)
    age = rng.normal(40, 12, n)
    age[rng.random(n) < 0.1] = np.nan
    balance = rng.lognormal(4, 2, n) * rng.choice([1.0, 1.0, 1.0, 0.0, -0.5], n)
    if seed == 0:  # training: log1p needs non-negative values; requests get clamped
        balance = np.abs(balance)
    balance[rng.random(n) < 0.1] = np.nan
    calls = rng.poisson(1.5, n).astype(np.float64) * rng.choice([1, 1, 1, 7], n)
    rate = rng.uniform(-3, 3, n).round(rng.integers(0, 6))
    rate[rng.random(n) < 0.05] = np.nan
    parsed = [
        pick(
            rng, [f" {rng.normal():.3f} ", int(rng.integers(-5, 5)), rng.normal(), None, "", "nan"]
        )
        for _ in range(n)
    ]
    jobs = ["admin.", "technician", "services", "unknown", "blue-collar"]
    job = [
        jobs[i] if rng.random() < 0.85 else pick(rng, [None, "", f"rare{i}", "unseen", 1.0])
        for i in rng.integers(0, len(jobs), n)
    ]
    city = [f"city{int(i)}" if i < 40 else None for i in rng.integers(0, 44, n)]
    level = [pick(rng, ["low", "mid", "high", "unknown", None, "N/A"]) for _ in range(n)]
    codes = rng.integers(-1, 4, n)
    flag_cat = [pick(rng, [1, 1.0, 2.5, True, False, "1", "x", None, np.nan]) for _ in range(n)]
    default = [
        pick(rng, ["yes", "no", "YES", " No ", True, False, 1, 0.0, None, ""]) for _ in range(n)
    ]
    numeric_bool = rng.choice([0.0, 1.0, np.nan], n)
    note = [pick(rng, ["call me back", "NOT interested!", "", None, "über café"]) for _ in range(n)]
    signed = [pick(rng, ["2024-01-05", "2023-06-30T10:00", None, "2020-02-29"]) for _ in range(n)]
    return {
        "age": age,
        "balance": balance,
        "calls": calls,
        "rate": rate,
        "parsed": objects(parsed),
        "job": objects(job),
        "city": objects(city),
        "level": objects(level),
        "coded": Coded(codes=codes, categories=objects(["a", "b", "unknown", "c"])),
        "flag_cat": objects(flag_cat),
        "default": objects(default),
        "numeric_bool": numeric_bool,
        "note": objects(note),
        "signed": objects(signed),
    }


def rows_of(columns: Columns, rows: slice | np.ndarray) -> Columns:
    out: Columns = {}
    for name, values in columns.items():
        if isinstance(values, Coded):
            out[name] = Coded(codes=values.codes[rows], categories=values.categories)
        else:
            out[name] = values[rows].copy()
    return out


def assert_identical(got: Encoded, want: Encoded) -> None:
    assert got.dense.dtype == np.float32 and got.codes.dtype == np.int64
    assert got.dense.shape == want.dense.shape and got.codes.shape == want.codes.shape
    assert got.dense.flags.c_contiguous
    np.testing.assert_array_equal(got.dense.view(np.uint32), want.dense.view(np.uint32))
    np.testing.assert_array_equal(got.codes, want.codes)


def vectorised(pre: Preprocessor, columns: Columns, monkeypatch: pytest.MonkeyPatch) -> Any:
    with monkeypatch.context() as patch:
        patch.setattr(preprocessor_module, "MAX_ROWS", 0)
        return pre.transform(columns)


@pytest.fixture(scope="module", params=[(), ("unknown", "N/A")], ids=["no-tokens", "tokens"])
def fitted(request: pytest.FixtureRequest) -> Preprocessor:
    return Preprocessor(features=FEATURES, missing_values=request.param).fit(make_table(600, 0))


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_every_row_alone_equals_the_vectorised_rows(fitted: Preprocessor, seed: int) -> None:
    columns = make_table(120, seed)
    assert MAX_ROWS < 120
    whole = fitted.transform(columns)  # vectorised: more rows than the row path takes
    for row in range(120):
        got = fitted.transform(rows_of(columns, slice(row, row + 1)))
        assert_identical(got, Encoded(whole.dense[row : row + 1], whole.codes[row : row + 1]))


@pytest.mark.parametrize("seed", [4, 5])
def test_every_small_batch_equals_the_vectorised_rows(fitted: Preprocessor, seed: int) -> None:
    columns = make_table(200, seed)
    whole = fitted.transform(columns)
    rng = np.random.default_rng(seed)
    for n in range(1, MAX_ROWS + 1):
        for _ in range(4):
            rows = rng.choice(200, n, replace=False)
            got = fitted.transform(rows_of(columns, rows))
            assert_identical(got, Encoded(whole.dense[rows], whole.codes[rows]))


def test_round_trip_preprocessor_takes_the_same_row_path(fitted: Preprocessor) -> None:
    loaded = Preprocessor.from_json(fitted.to_json())
    columns = make_table(40, 9)
    whole = fitted.transform(columns)
    for row in range(40):
        got = loaded.transform(rows_of(columns, slice(row, row + 1)))
        assert_identical(got, Encoded(whole.dense[row : row + 1], whole.codes[row : row + 1]))


def test_log1p_values_are_memoised_identically(monkeypatch: pytest.MonkeyPatch) -> None:
    pre = Preprocessor(features=[NumericFeature(name="x", transform="log1p", bins=0)])
    pre.fit({"x": np.arange(100.0)})
    values = np.array([0.0, 3.0, 3.0, 1e-300, 7.5, 1e30, -2.0, np.nan, 3.0])
    want = vectorised(pre, {"x": values}, monkeypatch)
    for _ in range(2):  # cold, then memoised
        assert_identical(pre.transform({"x": values}), want)


def test_other_dtypes_fall_back_to_the_vectorised_parsers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    features: list[Feature] = [
        NumericFeature(name="n"),
        CategoricalFeature(name="c", min_frequency=1),
        BooleanFeature(name="b"),
    ]
    train = {
        "n": np.array([1.0, 2.0, 3.0, np.nan]),
        "c": objects(["a", "b", "1", None]),
        "b": objects(["yes", "no", None, "yes"]),
    }
    pre = Preprocessor(features=features).fit(train)
    variants: list[Columns] = [
        {"n": np.array([1, 5], dtype=np.int32), "c": np.array(["a", "z"]), "b": np.array([1, 0])},
        {"n": np.array(["2.5", "7"]), "c": np.array([1.0, np.nan]), "b": np.array([True, False])},
        {
            "n": np.array([2.0, 3.0], dtype=np.float32),
            "c": np.array([1, 2]),
            "b": np.array([1.0, 0.0]),
        },
    ]
    for columns in variants:
        assert_identical(pre.transform(columns), vectorised(pre, columns, monkeypatch))


BAD: list[tuple[str, Any, str]] = [
    ("age", np.inf, "a finite number"),
    ("age", -np.inf, "a finite number"),
    ("parsed", "abc", "a number"),
    ("parsed", [1], "a number"),
    ("default", "maybe", "a boolean"),
    ("default", 2, "a boolean"),
    ("numeric_bool", 0.5, "a boolean"),
    ("signed", "not a date", "an ISO date"),
]


@pytest.mark.parametrize(("column", "value", "expected"), BAD)
@pytest.mark.parametrize("n", [1, 3, MAX_ROWS])
def test_bad_values_raise_the_vectorised_error(
    fitted: Preprocessor,
    monkeypatch: pytest.MonkeyPatch,
    column: str,
    value: Any,
    expected: str,
    n: int,
) -> None:
    columns = rows_of(make_table(n, 7), slice(None))
    row = n - 1
    columns[column][row] = value
    with pytest.raises(InvalidInputError) as want:
        vectorised(fitted, columns, monkeypatch)
    with pytest.raises(InvalidInputError) as got:
        fitted.transform(columns)
    assert str(got.value) == str(want.value)
    assert expected in str(got.value) and repr(column) in str(got.value)
    assert f"row {row}" in str(got.value)
    assert got.value.__dict__ == want.value.__dict__


def test_the_first_bad_column_in_encoder_order_is_named(
    fitted: Preprocessor, monkeypatch: pytest.MonkeyPatch
) -> None:
    columns = rows_of(make_table(4, 8), slice(None))
    columns["default"][0] = "maybe"  # a later column, an earlier row
    columns["age"][3] = np.inf
    with pytest.raises(InvalidInputError) as want:
        vectorised(fitted, columns, monkeypatch)
    with pytest.raises(InvalidInputError) as got:
        fitted.transform(columns)
    assert str(got.value) == str(want.value)
    assert "'age'" in str(got.value)


def test_shape_errors_come_before_value_errors(fitted: Preprocessor) -> None:
    columns = rows_of(make_table(2, 8), slice(None))
    columns["age"][0] = np.inf
    columns["signed"] = columns["signed"][:1]
    with pytest.raises(InvalidInputError, match="'signed' has 1 rows"):
        fitted.transform(columns)
    del columns["note"]
    with pytest.raises(InvalidInputError, match="missing column 'note'"):
        fitted.transform(columns)


def test_tokens_blank_values_in_the_row_path() -> None:
    pre = Preprocessor(
        features=[CategoricalFeature(name="c", min_frequency=1), NumericFeature(name="x")],
        missing_values=["unknown"],
    ).fit({"c": objects(["a", "b", None, "unknown"]), "x": objects([1.0, "unknown", 3.0, 4.0])})
    got = pre.transform({"c": objects(["unknown"]), "x": objects(["unknown"])})
    want = pre.transform({"c": objects([None]), "x": np.array([np.nan])})
    assert_identical(got, want)
    assert got.dense[0, pre.dense_names_.index("c=__missing__")] == 1.0


def test_the_row_path_is_taken_only_for_small_batches(
    fitted: Preprocessor, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []
    original = RowPlan.transform

    def spy(self: RowPlan, columns: Any, n: int) -> Any:
        calls.append(n)
        return original(self, columns, n)

    monkeypatch.setattr(RowPlan, "transform", spy)
    columns = make_table(MAX_ROWS + 1, 3)
    fitted.transform(rows_of(columns, slice(0, 1)))
    fitted.transform(rows_of(columns, slice(0, MAX_ROWS)))
    fitted.transform(columns)
    fitted.transform(rows_of(columns, slice(0, 0)))
    assert calls == [1, MAX_ROWS]


def test_wide_blocks_and_embedding_only_models(monkeypatch: pytest.MonkeyPatch) -> None:
    wide = Preprocessor(features=[TextFeature(name="t", n_features=1024)])
    wide.fit({"t": objects(["a b", "c"])})
    texts = {"t": objects(["a b", "c d", None, "b b b"])}
    assert_identical(wide.transform(texts), vectorised(wide, texts, monkeypatch))
    codes_only = Preprocessor(
        features=[CategoricalFeature(name="c", encoding="embedding", min_frequency=1)]
    ).fit({"c": objects(["a", "b"])})
    columns = {"c": objects(["b", None, "z"])}
    got = codes_only.transform(columns)
    assert got.dense.shape == (3, 0)
    assert_identical(got, vectorised(codes_only, columns, monkeypatch))


def as_lists(columns: Columns) -> Columns:
    """The columns as the HTTP codecs hand a request over: one plain list each."""
    return {
        name: (values.decode() if isinstance(values, Coded) else values).tolist()
        for name, values in columns.items()
    }


@pytest.mark.parametrize("seed", [11, 12])
def test_list_columns_equal_the_arrays_they_stand_for(
    fitted: Preprocessor, monkeypatch: pytest.MonkeyPatch, seed: int
) -> None:
    columns = make_table(3 * MAX_ROWS, seed)
    whole = vectorised(fitted, columns, monkeypatch)
    for n in (1, 2, MAX_ROWS):  # the row path
        for first in range(0, 2 * MAX_ROWS, n):
            got = fitted.transform(as_lists(rows_of(columns, slice(first, first + n))))
            rows = slice(first, first + n)
            assert_identical(got, Encoded(whole.dense[rows], whole.codes[rows]))
    assert_identical(fitted.transform(as_lists(columns)), whole)  # the vectorised path


@pytest.mark.parametrize(("column", "value", "expected"), BAD)
def test_bad_values_in_list_columns_raise_the_same_error(
    fitted: Preprocessor,
    monkeypatch: pytest.MonkeyPatch,
    column: str,
    value: Any,
    expected: str,
) -> None:
    columns = rows_of(make_table(3, 7), slice(None))
    columns[column][2] = value
    lists = as_lists(columns)
    with pytest.raises(InvalidInputError) as want:  # the arrays the lists stand for
        vectorised(fitted, {name: as_array(values) for name, values in lists.items()}, monkeypatch)
    with pytest.raises(InvalidInputError) as got:
        fitted.transform(lists)
    assert str(got.value) == str(want.value) and expected in str(got.value)


def test_tokens_blank_values_in_list_columns() -> None:
    pre = Preprocessor(
        features=[CategoricalFeature(name="c", min_frequency=1), NumericFeature(name="x")],
        missing_values=["unknown"],
    ).fit({"c": objects(["a", "b", None, "unknown"]), "x": objects([1.0, "unknown", 3.0, 4.0])})
    got = pre.transform({"c": ["unknown", "a"], "x": ["unknown", 2]})
    want = pre.transform({"c": objects([None, "a"]), "x": np.array([np.nan, 2.0])})
    assert_identical(got, want)


def plain_table(n: int, seed: int) -> Columns:
    """Rows as a JSON request sends them, every value one the row path takes."""
    rng = np.random.default_rng(seed)

    def draw(options: list[Any]) -> list[Any]:
        return [pick(rng, options) for _ in range(n)]

    return {
        "age": rng.normal(40, 12, n).tolist(),
        "balance": [int(x) for x in rng.integers(0, 50_000, n)],  # ints
        "calls": draw([0, 1, 2, 3.0, 14]),
        "rate": rng.uniform(-3, 3, n).round(2).tolist(),
        "parsed": rng.normal(size=n).tolist(),
        "job": draw(["admin.", "technician", "services", "unknown", "unseen", None, "", 1.0]),
        "city": draw(["city1", "city7", "elsewhere", None]),
        "level": draw(["low", "mid", "high", "unknown", None, "N/A"]),
        "coded": draw(["a", "b", "unknown", "c", None]),
        "flag_cat": draw([1, 1.0, 2.5, True, False, "1", "x", None]),
        "default": draw(["yes", "no", "YES", " No ", True, False, 1, 0.0, None, ""]),
        "numeric_bool": draw([0.0, 1.0, None]),
        "note": draw(["call me back", "NOT interested!", "", None]),
        "signed": draw(["2024-01-05", "2023-06-30T10:00", None]),
    }


def test_plain_rows_take_the_row_path_and_equal_the_vectorised_rows(
    fitted: Preprocessor, monkeypatch: pytest.MonkeyPatch
) -> None:
    taken: list[bool] = []
    original = RowPlan.transform

    def spy(self: RowPlan, columns: Any, n: int) -> Any:
        encoded = original(self, columns, n)
        taken.append(encoded is not None)
        return encoded

    monkeypatch.setattr(RowPlan, "transform", spy)
    for seed, n in enumerate((1, 3, MAX_ROWS)):
        lists = plain_table(n, 20 + seed)
        want = vectorised(fitted, {k: as_array(v) for k, v in lists.items()}, monkeypatch)
        assert_identical(fitted.transform(lists), want)
        records = [dict(zip(lists, row, strict=True)) for row in zip(*lists.values(), strict=True)]
        assert_identical(fitted.transform(Records(records, tuple(lists))), want)
    assert taken == [True] * 6
    lists = plain_table(4, 30)
    lists["age"][3] = float("nan")  # a missing number: the row path fills it
    want = vectorised(fitted, {k: as_array(v) for k, v in lists.items()}, monkeypatch)
    assert_identical(fitted.transform(lists), want)
    lists["calls"][0] = "many"  # a bad value: the vectorised path names it
    with pytest.raises(InvalidInputError, match="calls"):
        fitted.transform(lists)
    assert taken == [True] * 7 + [False]


def test_records_missing_a_column_are_refused_by_name(fitted: Preprocessor) -> None:
    lists = plain_table(2, 40)
    del lists["job"]
    records = [dict(zip(lists, row, strict=True)) for row in zip(*lists.values(), strict=True)]
    with pytest.raises(InvalidInputError, match="missing column 'job'"):
        fitted.transform(Records(records, tuple(lists)))
