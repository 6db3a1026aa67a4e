"""Cleaning a training table: missing-value tokens, rows without a target, target encoding.

Cleaning never guesses silently: what it drops it counts in a :class:`CleanReport`, and
duplicates are only reported, since whether they are real repeats is the user's call.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd  # type: ignore[import-untyped]
from pydantic import BaseModel, Field

from modelry.data.schema import Schema, Task
from modelry.errors import SchemaError

_INTEGRAL_TEXT = re.compile(r"[+-]?\d+\.0*")
_BOOL_TEXT = {"true": "true", "false": "false"}


class CleanReport(BaseModel):
    """What :func:`clean` did to the rows."""

    rows_in: int
    rows_out: int
    dropped_missing_target: int = 0
    duplicates: int = Field(default=0, description="Rows repeating an earlier row (kept).")
    dropped_missing_features: int = 0
    warnings: list[str] = Field(default_factory=list)


def is_missing(value: object) -> bool:
    """True for None, NaN and pandas' NA/NaT."""
    if value is None:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):  # array-likes are values, not missing markers
        return False


def normalise_label(value: object) -> str:
    """The canonical string form of a class label.

    Labels arrive as bools, floats (a CSV column with a blank reads as float), ints or
    strings, and must compare equal however they were read: ``1.0`` and ``"1"`` give ``"1"``,
    ``True`` and ``"TRUE"`` give ``"true"``, whitespace is stripped.

    Raises:
        SchemaError: ``value`` is missing; a missing label is no label.
    """
    if is_missing(value):
        raise SchemaError("a missing value is not a class label")
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, float | np.floating):
        number = float(value)
        return str(int(number)) if number.is_integer() else repr(number)
    if isinstance(value, int | np.integer):
        return str(int(value))
    text = str(value).strip()
    if _INTEGRAL_TEXT.fullmatch(text):
        return str(int(float(text)))
    return _BOOL_TEXT.get(text.lower(), text)


def normalise_missing(df: pd.DataFrame, tokens: Iterable[str] = ()) -> pd.DataFrame:
    """A copy of ``df`` with missing-value tokens and blank strings turned into missing.

    A text column that becomes all-numeric once its tokens are gone (``age`` holding
    ``'?'`` for unknown) is converted to float64, as if the file had left those cells empty.

    Args:
        df: The table.
        tokens: Strings that mean "missing" here, e.g. ``["unknown", "?"]``; compared after
            stripping whitespace.
    """
    out = df.copy()
    missing = {t.strip() for t in tokens} | {""}
    for name in out.columns:
        col = out[name]
        if pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col):
            continue
        if not (pd.api.types.is_object_dtype(col) or pd.api.types.is_string_dtype(col)):
            continue
        # .str.strip() leaves non-strings (numbers in an object column) as NaN: never a token.
        try:
            blank = col.str.strip().isin(missing).to_numpy(dtype=bool)
        except AttributeError:  # an object column holding no strings at all
            continue
        if not blank.any():
            continue
        values = col.to_numpy(dtype=object).copy()
        values[blank] = None
        present = ~pd.isna(values)
        numbers = pd.to_numeric(pd.Series(values[present], dtype=object), errors="coerce")
        if present.any() and not numbers.isna().any():
            out[name] = pd.to_numeric(pd.Series(values, index=out.index), errors="coerce")
        else:
            out[name] = pd.Series(values, index=out.index, dtype=col.dtype)
    return out


def clean(
    df: pd.DataFrame, schema: Schema, *, drop_missing_rows: bool = False
) -> tuple[pd.DataFrame, CleanReport]:
    """Prepare a table for training under ``schema``.

    Reads the schema's missing-value tokens as missing, drops rows without a target,
    counts duplicate rows and, when asked, drops rows missing any feature. The index of
    the result is reset, so positions from :func:`~modelry.data.split.split_rows` apply.

    Raises:
        SchemaError: A schema column is not in ``df``, or no rows are left.
    """
    absent = [c.name for c in schema.columns if c.name not in df.columns]
    if absent:
        raise SchemaError(
            f"column(s) {', '.join(absent)} of the schema are not in the data",
            columns=absent,
        )
    rows_in = len(df)
    out = normalise_missing(df, schema.missing_values)
    report = CleanReport(rows_in=rows_in, rows_out=rows_in)
    if schema.target is not None:
        keep = out[schema.target].notna().to_numpy()
        report.dropped_missing_target = int((~keep).sum())
        out = out.loc[keep]
        if report.dropped_missing_target:
            report.warnings.append(
                f"dropped {report.dropped_missing_target} row(s) without a value for "
                f"{schema.target!r}"
            )
    report.duplicates = int(out.duplicated().sum())
    if report.duplicates:
        share = report.duplicates / max(len(out), 1)
        report.warnings.append(
            f"{report.duplicates} row(s) ({share:.1%}) repeat an earlier row: group the split "
            "by a key, or deduplicate, if they are not real repeats"
        )
    if drop_missing_rows and schema.feature_names:
        keep = out[schema.feature_names].notna().all(axis=1).to_numpy()
        report.dropped_missing_features = int((~keep).sum())
        out = out.loc[keep]
    if len(out) == 0:
        raise SchemaError(f"no rows left after cleaning ({rows_in} read): see the missing values")
    report.rows_out = len(out)
    return out.reset_index(drop=True), report


def encode_target(values: Sequence[object] | np.ndarray | pd.Series, schema: Schema) -> np.ndarray:
    """The target as the network's loss wants it.

    Binary: float32 0/1 (1 = ``classes[-1]``, the positive class); multiclass: int64 index
    into ``classes``; regression: float32.

    Raises:
        SchemaError: The schema has no target, a value is missing, or a label is not one of
            the schema's classes.
    """
    if schema.target is None or schema.task is None:
        raise SchemaError("the schema has no target: set one before encoding it")
    raw = np.asarray(values, dtype=object)
    missing = np.array([is_missing(v) for v in raw.tolist()], dtype=bool)
    if missing.any():
        raise SchemaError(
            f"target {schema.target!r} is missing in {int(missing.sum())} row(s) "
            f"(first: row {int(np.argmax(missing)) + 1}): clean() drops them",
            column=schema.target,
        )
    if schema.task == Task.REGRESSION:
        try:
            return np.asarray(raw, dtype=np.float32)
        except (TypeError, ValueError) as exc:
            raise SchemaError(
                f"target {schema.target!r} of a regression must be numeric: {exc}",
                column=schema.target,
            ) from exc
    classes = schema.classes or []
    index = {label: i for i, label in enumerate(classes)}
    # Keyed by type too: True == 1 in Python, but they are different labels.
    cache: dict[tuple[type, object], int] = {}
    codes = np.empty(len(raw), dtype=np.int64)
    for i, value in enumerate(raw.tolist()):
        code = cache.get((type(value), value))
        if code is None:
            label = normalise_label(value)
            if label not in index:
                raise SchemaError(
                    f"target {schema.target!r} has label {label!r} (row {i + 1}) that is not "
                    f"a known class; classes are: {', '.join(classes)}",
                    column=schema.target,
                    label=label,
                )
            code = cache[(type(value), value)] = index[label]
        codes[i] = code
    return codes.astype(np.float32) if schema.task == Task.BINARY else codes
