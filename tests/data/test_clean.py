from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from modelry.data.clean import clean, encode_target, normalise_label, normalise_missing
from modelry.data.schema import Column, ColumnType, Role, Schema, Task
from modelry.errors import SchemaError


@pytest.mark.parametrize(
    ("value", "label"),
    [(1.0, "1"), (0, "0"), (np.int64(3), "3"), (True, "true"), (np.bool_(False), "false"),
     (" yes ", "yes"), ("1.0", "1"), ("TRUE", "true"), (0.5, "0.5"), ("Not Placed", "Not Placed")],
)  # fmt: skip
def test_normalise_label(value: object, label: str) -> None:
    assert normalise_label(value) == label


def test_normalise_label_refuses_missing() -> None:
    with pytest.raises(SchemaError):
        normalise_label(float("nan"))


def test_normalise_missing() -> None:
    df = pd.DataFrame({"a": ["x", "unknown", "  ", None], "n": [1.0, 2.0, None, 4.0]})
    out = normalise_missing(df, ["unknown"])
    assert out["a"].isna().tolist() == [False, True, True, True]
    assert df["a"].tolist()[1] == "unknown"  # the input is untouched
    pd.testing.assert_series_equal(out["n"], df["n"])


def schema(task: Task, classes: list[str] | None) -> Schema:
    return Schema(
        columns=[
            Column(name="f", type=ColumnType.NUMERIC, role=Role.FEATURE),
            Column(name="g", type=ColumnType.CATEGORICAL, role=Role.FEATURE),
            Column(name="y", type=ColumnType.CATEGORICAL, role=Role.TARGET),
        ],
        target="y",
        task=task,
        classes=classes,
        missing_values=["unknown"],
    )


def test_clean_report() -> None:
    df = pd.DataFrame(
        {
            "f": [1.0, 1.0, 2.0, None, 5.0],
            "g": ["a", "a", "unknown", "b", "c"],
            "y": ["yes", "yes", "no", "no", None],
        }
    )
    out, report = clean(df, schema(Task.BINARY, ["no", "yes"]))
    assert (report.rows_in, report.rows_out) == (5, 4)
    assert report.dropped_missing_target == 1 and report.duplicates == 1
    assert len(report.warnings) == 2
    assert out.index.tolist() == [0, 1, 2, 3]
    out, report = clean(df, schema(Task.BINARY, ["no", "yes"]), drop_missing_rows=True)
    assert report.dropped_missing_features == 2 and report.rows_out == 2


def test_clean_errors() -> None:
    with pytest.raises(SchemaError, match=r"column.* g"):
        clean(pd.DataFrame({"f": [1.0], "y": ["a"]}), schema(Task.BINARY, ["a", "b"]))
    with pytest.raises(SchemaError, match="no rows left"):
        clean(pd.DataFrame({"f": [1.0], "g": ["a"], "y": [None]}), schema(Task.BINARY, ["a", "b"]))


def test_encode_target() -> None:
    binary = encode_target(np.array([1.0, 0.0, 1.0]), schema(Task.BINARY, ["0", "1"]))
    assert binary.dtype == np.float32 and binary.tolist() == [1.0, 0.0, 1.0]
    multi = encode_target(["b", "c", " a"], schema(Task.MULTICLASS, ["a", "b", "c"]))
    assert multi.dtype == np.int64 and multi.tolist() == [1, 2, 0]
    reg = encode_target(pd.Series([1, 2.5]), schema(Task.REGRESSION, None))
    assert reg.dtype == np.float32 and reg.tolist() == [1.0, 2.5]
    bools = encode_target([True, False], schema(Task.BINARY, ["false", "true"]))
    assert bools.tolist() == [1.0, 0.0]


def test_encode_target_errors() -> None:
    with pytest.raises(SchemaError, match=r"label 'maybe' .* classes are: no, yes"):
        encode_target(["yes", "maybe"], schema(Task.BINARY, ["no", "yes"]))
    with pytest.raises(SchemaError, match="missing in 1 row"):
        encode_target(["yes", None], schema(Task.BINARY, ["no", "yes"]))
    with pytest.raises(SchemaError, match="must be numeric"):
        encode_target(["x"], schema(Task.REGRESSION, None))
