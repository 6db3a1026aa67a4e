from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from modelry.data.infer import describe, infer_schema, leakage_warnings
from modelry.data.schema import ColumnType, Role, Task
from modelry.data.sources import read_table
from modelry.errors import SchemaError


@pytest.fixture
def frame() -> pd.DataFrame:
    n = 60
    rng = np.random.default_rng(0)
    df = pd.DataFrame(
        {
            "customer_id": np.arange(1000, 1000 + n),
            "age": rng.integers(18, 80, n),
            "income": rng.normal(5e4, 1e4, n),
            "job": rng.choice(["admin", "tech", "unknown"], n),
            "member": rng.choice(["Yes", "No"], n),
            "active": rng.choice([True, False], n),
            "signup": pd.date_range("2020-01-01", periods=n).strftime("%Y-%m-%d"),
            "notes": [f"customer note number {i}: " + "long free text " * 4 for i in range(n)],
            "email": [f"user{i}@example.com" for i in range(n)],
            "country": ["NL"] * n,
            "gender": rng.choice(["F", "M"], n),
            "y": rng.choice(["yes", "no"], n, p=[0.3, 0.7]),
        }
    )
    df.attrs["source"] = "data.csv"
    return df


def test_every_type_and_role(frame: pd.DataFrame) -> None:
    schema = infer_schema(frame, target="y", sensitive=["gender"], missing_values=["unknown"])
    got = {c.name: (c.type, c.role) for c in schema.columns}
    assert got == {
        "customer_id": (ColumnType.IDENTIFIER, Role.IDENTIFIER),
        "age": (ColumnType.NUMERIC, Role.FEATURE),
        "income": (ColumnType.NUMERIC, Role.FEATURE),
        "job": (ColumnType.CATEGORICAL, Role.FEATURE),
        "member": (ColumnType.BOOLEAN, Role.FEATURE),
        "active": (ColumnType.BOOLEAN, Role.FEATURE),
        "signup": (ColumnType.DATETIME, Role.FEATURE),
        "notes": (ColumnType.TEXT, Role.FEATURE),
        "email": (ColumnType.IDENTIFIER, Role.PERSONAL),
        "country": (ColumnType.CATEGORICAL, Role.DROPPED),
        "gender": (ColumnType.CATEGORICAL, Role.SENSITIVE),
        "y": (ColumnType.CATEGORICAL, Role.TARGET),
    }
    assert schema.task == Task.BINARY and schema.classes == ["no", "yes"]
    assert schema.missing_values == ["unknown"]
    assert all(c.reason for c in schema.columns)
    job = schema.column("job")
    assert job.n_unique == 2 and 0 < job.missing_fraction < 1 and len(job.examples) == 2
    assert schema.column("country").reason.endswith("constant")
    assert any(line.startswith("country: dropped") for line in describe(schema))


def test_overrides_and_drop(frame: pd.DataFrame) -> None:
    schema = infer_schema(
        frame,
        target="y",
        drop=["notes"],
        identifiers=["email"],
        types={"age": ColumnType.CATEGORICAL},
    )
    assert schema.column("notes").role == Role.DROPPED and "--drop" in schema.column("notes").reason
    assert schema.column("email").role == Role.IDENTIFIER
    assert schema.column("age").type == ColumnType.CATEGORICAL


@pytest.mark.parametrize("option", ["target", "drop", "sensitive", "identifiers", "types"])
def test_unknown_column_lists_the_columns(frame: pd.DataFrame, option: str) -> None:
    kwargs: dict[str, object] = {"target": "y"}
    kwargs[option] = (
        "yy" if option == "target" else {"yy": ColumnType.NUMERIC} if option == "types" else ["yy"]
    )
    with pytest.raises(SchemaError, match=r"'yy' not in data\.csv; columns are: customer_id, age"):
        infer_schema(frame, **kwargs)  # type: ignore[arg-type]


def test_target_tasks() -> None:
    def task(values: list[object], **kw: object) -> tuple[Task | None, list[str] | None]:
        s = infer_schema(pd.DataFrame({"x": range(len(values)), "t": values}), target="t", **kw)  # type: ignore[arg-type]
        return s.task, s.classes

    assert task([1.0, 0.0, 1.0, 0.0]) == (Task.BINARY, ["0", "1"])
    assert task([True, False, False]) == (Task.BINARY, ["false", "true"])
    assert task([" Placed", "Not Placed", "Not Placed", "Placed"]) == (
        Task.BINARY,
        ["Not Placed", "Placed"],
    )
    assert task(["a", "b", "b", "b"]) == (Task.BINARY, ["b", "a"])  # minority is positive
    assert task(["a", "b", "b"], positive="b") == (Task.BINARY, ["a", "b"])
    assert task([1, 2, 3, 1, 2]) == (Task.MULTICLASS, ["1", "2", "3"])
    assert task([0.5, 1.25, 3.0]) == (Task.REGRESSION, None)
    assert task(list(range(30))) == (Task.REGRESSION, None)
    assert task([1, 2, 1], task=Task.REGRESSION) == (Task.REGRESSION, None)


@pytest.mark.parametrize(
    ("values", "kw", "message"),
    [
        (["no", "no", "no"], {}, r"target 't' has a single value 'no': nothing to learn"),
        ([None, None, None], {}, "entirely missing"),
        ([f"c{i}" for i in range(60)], {}, "too many classes"),
        (["a", "b", "a"], {"positive": "z"}, r"positive class 'z' .* classes are: a, b"),
        (["a", "b", "c"], {"task": Task.BINARY}, "3 classes, not 2"),
        (["a", "b", "c"], {"task": Task.REGRESSION}, "not numeric"),
    ],
)
def test_target_errors(values: list[object], kw: dict[str, object], message: str) -> None:
    df = pd.DataFrame({"x": range(len(values)), "t": values})
    with pytest.raises(SchemaError, match=message):
        infer_schema(df, target="t", **kw)  # type: ignore[arg-type]


def test_column_errors() -> None:
    ages = [str(i) for i in range(40)] + ["abc"]
    df = pd.DataFrame({"age": ages, "y": ["a", "b"] * 20 + ["a"]})
    with pytest.raises(
        SchemaError, match=r"column 'age' of data\.csv looks numeric but holds 'abc' \(row 41\)"
    ):
        infer_schema(df, target="y", source="data.csv")
    assert infer_schema(df, target="y", types={"age": ColumnType.CATEGORICAL}).column(
        "age"
    ).type == (ColumnType.CATEGORICAL)
    blank = pd.DataFrame({"empty": [None, None, None], "y": ["a", "b", "a"]})
    with pytest.raises(SchemaError, match=r"column 'empty' .* entirely missing: .*--drop empty"):
        infer_schema(blank, target="y")
    with pytest.raises(SchemaError, match="also listed"):
        infer_schema(blank, target="y", drop=["y"])


def test_missing_tokens_make_a_numeric_column(frame: pd.DataFrame) -> None:
    df = pd.DataFrame({"age": ["30", "?", "41", "52"], "y": ["a", "b", "a", "b"]})
    col = infer_schema(df, target="y", missing_values=["?"]).column("age")
    assert col.type == ColumnType.NUMERIC and col.missing_fraction == 0.25


def test_no_target() -> None:
    schema = infer_schema(pd.DataFrame({"a": [1, 2], "b": ["x", "y"]}), target=None)
    assert schema.target is None and schema.task is None and len(schema.features) == 2


def test_leakage_warning() -> None:
    df = pd.DataFrame(
        {
            "salary": [1.0, None, 3.0, None, 2.0],
            "other": [1.0, None, 3.0, 4.0, 2.0],
            "status": ["Placed", "Not Placed", "Placed", "Not Placed", "Placed"],
        }
    )
    schema = infer_schema(df, target="status")
    assert leakage_warnings(df, schema) == [
        "possible target leak: salary is missing exactly when status is 'Not Placed'; "
        "drop it (--drop salary) unless its value is known before the outcome"
    ]


@pytest.mark.realdata
def test_bank(shared_data: Path) -> None:
    df = read_table(shared_data / "bank_marketing_additional" / "bank-additional-full.csv")
    schema = infer_schema(df, target="y", drop=["duration"])
    assert schema.task == Task.BINARY and schema.classes == ["no", "yes"]
    assert schema.column("duration").role == Role.DROPPED
    assert len(schema.features) == 19
    assert not schema.by_role(Role.PERSONAL)


@pytest.mark.realdata
def test_hr(shared_data: Path) -> None:
    df = read_table(shared_data / "hr_job_change" / "aug_train.csv")
    schema = infer_schema(df, target="target")
    assert schema.classes == ["0", "1"] and schema.task == Task.BINARY
    assert schema.column("enrollee_id").role == Role.IDENTIFIER
    assert schema.column("experience").type == ColumnType.CATEGORICAL


@pytest.mark.realdata
def test_campus_leakage(shared_data: Path) -> None:
    df = read_table(shared_data / "campus_placement" / "Placement_Data_Full_Class.csv")
    schema = infer_schema(df, target="status", sensitive=["gender"])
    assert schema.classes == ["Not Placed", "Placed"]
    assert leakage_warnings(df, schema) == [
        "possible target leak: salary is missing exactly when status is 'Not Placed'; "
        "drop it (--drop salary) unless its value is known before the outcome"
    ]


@pytest.mark.realdata
def test_resume_text_with_personal_data(shared_data: Path) -> None:
    df = read_table(shared_data / "resume_dataset" / "UpdatedResumeDataSet.csv")
    schema = infer_schema(df, target="Category")
    resume = schema.column("Resume")
    assert schema.task == Task.MULTICLASS and len(schema.classes or []) == 25
    assert resume.type == ColumnType.TEXT and resume.role == Role.FEATURE
    assert "e-mail" in resume.reason
