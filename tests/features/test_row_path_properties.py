"""Property: the row path and the vectorised path agree on any rows, errors included.

Hypothesis draws a few rows of values of every kind a request or a Python caller may
hand over (NaN, None, infinities, huge and tiny numbers, unseen categories, unicode,
unhashable values) in each form the preprocessor takes (lists, records, arrays). Both
paths must give the same float32 bits and codes, or the same error.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from typing import Any
from unittest.mock import patch

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from modelry.data.columns import Records, as_array
from modelry.errors import InvalidInputError
from modelry.features import preprocessor as preprocessor_module
from modelry.features.feature_config import (
    BooleanFeature,
    CategoricalFeature,
    DatetimeFeature,
    NumericFeature,
    TextFeature,
)
from modelry.features.preprocessor import Encoded, Preprocessor
from modelry.features.rows import MAX_ROWS

# Numbers near float64's limits overflow float32 in both paths alike (inf in the output).
pytestmark = pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")


FEATURES = [
    NumericFeature(name="age"),  # bins, missing indicator
    NumericFeature(name="balance", transform="log1p", impute="median"),
    NumericFeature(name="rate", bins=0, scale="none", missing_indicator=False),
    CategoricalFeature(name="job", min_frequency=2),
    CategoricalFeature(name="city", encoding="embedding", min_frequency=1),
    BooleanFeature(name="default"),
    TextFeature(name="note", n_features=8),
    DatetimeFeature(name="signed"),
]
JOBS = ["admin.", "blue-collar", "technician", "unknown", "1", "true"]


def objects(values: list[Any]) -> np.ndarray:
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


@cache
def fitted(tokens: tuple[str, ...]) -> Preprocessor:
    rng = np.random.default_rng(0)
    n = 400
    age = rng.normal(40, 12, n)
    age[::9] = np.nan
    train = {
        "age": age,
        "balance": np.abs(rng.lognormal(4, 2, n)),
        "rate": rng.uniform(-3, 3, n),
        "job": objects([JOBS[i % len(JOBS)] if i % 13 else None for i in range(n)]),
        "city": objects([f"city{i % 25}" for i in range(n)]),
        "default": objects([["yes", "no", None][i % 3] for i in range(n)]),
        "note": objects(["call me back", "not interested", None] * (n // 3) + ["x"]),
        "signed": objects([f"20{i % 30:02d}-0{i % 9 + 1}-1{i % 9}" for i in range(n)] + []),
    }
    return Preprocessor(features=FEATURES, missing_values=tokens).fit(train)


# -- values ---------------------------------------------------------------------------

finite = st.floats(allow_nan=False, allow_infinity=False)
numbers = st.one_of(
    finite,
    st.sampled_from([0.0, -0.0, 5e-324, -1e-310, 1e308, -1e308, 2.0**53 + 1, 1e16]),
    st.integers(min_value=-(2**64), max_value=2**64),
    st.sampled_from([2**53 + 1, 2**54 + 3, -(2**63), 10**300]),
)
missing = st.sampled_from([None, float("nan")])
unusual = st.one_of(
    st.floats(),  # NaN and infinities
    st.integers(min_value=-(10**400), max_value=10**400),  # beyond float's range too
    st.booleans(),
    st.text(max_size=8),
    st.sampled_from(["3.5", " 12 ", "nan", "unknown", "", "inf"]),
    st.lists(st.integers(), max_size=2),  # unhashable
)
texts = st.text(max_size=12)  # any unicode, surrogates excluded (JSON cannot carry them)
dates = st.one_of(
    st.dates(min_value=dt.date(1000, 1, 1)).map(dt.date.isoformat),
    st.datetimes(min_value=dt.datetime(1000, 1, 1)).map(lambda d: d.isoformat()),
    st.datetimes().map(lambda d: d.isoformat(timespec="minutes") + "Z"),
    st.dates(),
    st.datetimes(),
)
booleans = st.sampled_from(["yes", "no", "YES", " No ", "t", "F", "1", "0", True, False, 1, 0, 1.0])

PLAIN: dict[str, st.SearchStrategy[Any]] = {
    "age": st.one_of(numbers, missing),
    "balance": st.one_of(numbers.map(abs), numbers, missing),
    "rate": st.one_of(numbers, missing),
    "job": st.one_of(st.sampled_from(JOBS), texts, numbers, missing, st.booleans()),
    "city": st.one_of(st.sampled_from([f"city{i}" for i in range(30)]), texts, missing),
    "default": st.one_of(booleans, missing, st.just("")),
    "note": st.one_of(texts, st.just("call me back"), missing),
    "signed": st.one_of(dates, missing),
}
"""Values a request carries and the row path takes (except beyond-float ints, infinities)."""

ANY: dict[str, st.SearchStrategy[Any]] = {
    name: st.one_of(strategy, unusual) for name, strategy in PLAIN.items()
}


def rows_of(values: dict[str, st.SearchStrategy[Any]]) -> st.SearchStrategy[dict[str, list[Any]]]:
    return st.integers(1, MAX_ROWS).flatmap(
        lambda n: st.fixed_dictionaries(
            {name: st.lists(strategy, min_size=n, max_size=n) for name, strategy in values.items()}
        )
    )


# -- the two paths ------------------------------------------------------------------------


@contextmanager
def vectorised_only() -> Iterator[None]:
    with patch.object(preprocessor_module, "MAX_ROWS", 0):
        yield


def outcome(pre: Preprocessor, columns: Any) -> Encoded | str:
    """The encoded rows, or the error's message."""
    try:
        return pre.transform(columns)
    except InvalidInputError as exc:
        return f"InvalidInputError: {exc}"


def forms(lists: dict[str, list[Any]]) -> list[Any]:
    """The rows in each form the preprocessor takes: lists, records, object arrays."""
    n = len(next(iter(lists.values())))
    records = [{name: values[row] for name, values in lists.items()} for row in range(n)]
    return [lists, Records(records, tuple(lists)), {k: objects(v) for k, v in lists.items()}]


def assert_same(got: Encoded | str, want: Encoded | str) -> None:
    if isinstance(want, str) or isinstance(got, str):
        assert got == want
        return
    assert got.dense.dtype == np.float32 and got.codes.dtype == np.int64
    assert got.dense.shape == want.dense.shape and got.codes.shape == want.codes.shape
    np.testing.assert_array_equal(got.dense.view(np.uint32), want.dense.view(np.uint32))
    np.testing.assert_array_equal(got.codes, want.codes)


def same_on_every_form(tokens: tuple[str, ...], lists: dict[str, list[Any]]) -> tuple[Any, Any]:
    """The fitted preprocessor and its vectorised outcome, which every column form must equal."""
    pre = fitted(tokens)
    with vectorised_only():
        want = outcome(pre, {name: as_array(values) for name, values in lists.items()})
    for columns in forms(lists):
        assert_same(outcome(pre, columns), want)
    return pre, want


FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.parametrize("tokens", [(), ("unknown",)], ids=["no-tokens", "tokens"])
@FAST
@given(lists=rows_of(PLAIN))
def test_plain_rows_take_the_row_path_and_equal_the_vectorised_path(
    tokens: tuple[str, ...], lists: dict[str, list[Any]]
) -> None:
    pre, want = same_on_every_form(tokens, lists)
    taken = pre._rows.transform(pre._blank_tokens(lists, pre.input_columns), len(lists["age"]))
    if not isinstance(want, str) and not _beyond_plain(lists):
        assert taken is not None  # the values a request carries stay on the row path


def _beyond_plain(lists: dict[str, list[Any]]) -> bool:
    """Whether a number is infinite or beyond float (named by the vectorised path), or a date
    beyond Python's calendar (numpy's reaches further)."""
    numbers = [v for name in ("age", "balance", "rate") for v in lists[name]]
    return any(
        (type(v) is int and abs(v) >= 2**1024) or (type(v) is float and abs(v) == float("inf"))
        for v in numbers
    )


@pytest.mark.parametrize("tokens", [(), ("unknown",)], ids=["no-tokens", "tokens"])
@FAST
@given(lists=rows_of(ANY))
def test_any_rows_give_the_vectorised_output_or_error(
    tokens: tuple[str, ...], lists: dict[str, list[Any]]
) -> None:
    same_on_every_form(tokens, lists)


@FAST
@given(
    n=st.integers(1, MAX_ROWS),
    data=st.data(),
)
def test_float_arrays_equal_the_vectorised_path(n: int, data: st.DataObject) -> None:
    pre = fitted(())
    floats = st.lists(st.floats(width=64), min_size=n, max_size=n)
    columns: dict[str, Any] = {name: np.array(data.draw(floats)) for name in ("age", "rate")}
    columns["balance"] = np.abs(np.array(data.draw(floats)))
    for name in ("job", "city", "default", "note", "signed"):
        columns[name] = objects(data.draw(st.lists(PLAIN[name], min_size=n, max_size=n)))
    with vectorised_only():
        want = outcome(pre, columns)
    assert_same(outcome(pre, columns), want)
