"""Reason codes: plain sentences with the user's column names and values."""

from __future__ import annotations

import numpy as np
import pytest

from modelry.data.columns import Coded
from modelry.explain.reasons import format_number, format_value, reasons, row_value


@pytest.mark.parametrize(
    ("x", "text"),
    [
        (999.0, "999"),
        (-3.0, "-3"),
        (0.0612, "0.0612"),
        (0.12, "0.12"),
        (1234.56, "1235"),
        (12.345, "12.3"),
        (25_000.0, "25,000"),
        (2.5e-07, "2.50e-07"),
        (float("nan"), "missing"),
    ],
)
def test_numbers_read_as_a_person_writes_them(x: float, text: str) -> None:
    assert format_number(x) == text


def test_values_are_shown_as_sent() -> None:
    assert format_value(93.994) == "93.994"
    assert format_value(61.0) == "61"
    assert format_value("admin.") == "admin."
    assert format_value(None) == "missing"
    assert format_value(True) == "true"


def test_row_values_are_plain_json() -> None:
    coded = Coded(codes=np.array([1, -1]), categories=np.array(["a", "b"], dtype=object))
    assert row_value(coded, 0) == "b" and row_value(coded, 1) is None
    numbers = np.array([41.0, np.nan])
    assert row_value(numbers, 0) == 41.0 and type(row_value(numbers, 0)) is float
    assert row_value(numbers, 1) is None


def test_top_factors_each_way_largest_first() -> None:
    row = {"age": 61.0, "pdays": 999.0, "job": "retired", "loan": "no", "x": 1.0}
    effects = {"age": 0.12, "pdays": -0.061, "job": 0.2, "loan": -0.3, "x": 1e-9}
    found = reasons(row, effects, top=1)
    assert [r.column for r in found] == ["loan", "job"]
    texts = [r.text for r in reasons(row, effects, top=3)]
    assert texts == [
        "loan=no lowered the score by 0.3",
        "job=retired raised the score by 0.2",
        "age=61 raised the score by 0.12",
        "pdays=999 lowered the score by 0.061",
    ]  # x's effect is negligible: no sentence
    assert reasons(row, effects, subject="the prediction")[0].text.endswith("the prediction by 0.3")
    assert found[0].to_dict() == {
        "column": "loan",
        "value": "no",
        "effect": -0.3,
        "text": found[0].text,
    }
