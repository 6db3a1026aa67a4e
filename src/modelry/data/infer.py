"""Inferring a :class:`~modelry.data.schema.Schema` from a table: types, roles, the task.

Each column gets a type and a role with a short reason, so ``modelry train`` can show
why a column was used or set aside. Inference refuses to guess where a guess would
silently cost accuracy: a numeric column with one stray word, a target with one class.

Example:
    >>> schema = infer_schema(df, target="y", drop=["duration"], missing_values=["unknown"])
    >>> schema.task, schema.classes
    (<Task.BINARY: 'binary'>, ['no', 'yes'])
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd  # type: ignore[import-untyped]

from modelry.data.clean import normalise_label, normalise_missing
from modelry.data.leakage import find_leaks
from modelry.data.privacy import (
    personal_by_name,
    personal_by_values,
    personal_in_text,
    redact_text,
)
from modelry.data.schema import Column, ColumnType, Role, Schema, Task
from modelry.errors import SchemaError

MAX_CLASSES = 50
MAX_INTEGER_CLASSES = 20
NUMERIC_SHARE = 0.95
DATE_SHARE = 0.95
TEXT_MEAN_CHARS = 40

_ID_NAME = re.compile(r"(^|_)(id|uuid|guid|key)$|^[a-z]+id$|^(sl|serial|row)_?(no|nr|num)$")
_DATE = re.compile(r"\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}([ T]\d{1,2}:\d{2}.*)?")
_BOOL_WORDS = frozenset({"yes", "no", "true", "false", "y", "n", "t", "f"})
_NEGATIVE = frozenset({
    "no", "n", "false", "f", "0", "-1", "negative", "neg", "fail", "failed", "failure",
    "reject", "rejected", "absent", "off", "none", "not", "never", "bad", "lost",
})  # fmt: skip
_OPTION_LABELS = {
    "target": "target column",
    "drop": "column to drop",
    "sensitive": "sensitive column",
    "identifiers": "identifier column",
    "pseudonymised": "pseudonymised column",
    "types": "column with a declared type",
}
_NEGATION_PREFIX = re.compile(r"^(not|non|no|un)[\s_-]*")


def infer_schema(
    df: pd.DataFrame,
    *,
    target: str | None,
    task: Task | None = None,
    positive: str | None = None,
    drop: Sequence[str] = (),
    sensitive: Sequence[str] = (),
    identifiers: Sequence[str] = (),
    types: Mapping[str, ColumnType] | None = None,
    missing_values: Sequence[str] = (),
    source: str | None = None,
    pseudonymised: Sequence[str] = (),
) -> Schema:
    """Infer each column's type and role, and the task from the target.

    Args:
        df: The table, as :func:`~modelry.data.sources.read_table` returns it.
        target: The column to predict, or ``None`` for a table without one (scoring).
        task: Overrides the task inferred from the target.
        positive: The positive class of a binary target (made ``classes[-1]``).
        drop: Columns to leave out.
        sensitive: Protected attributes: never features, kept for fairness audits.
        identifiers: Row keys: never features.
        types: Per-column type overrides.
        missing_values: Extra tokens that mean missing, e.g. ``["unknown"]``.
        source: The data's name in messages; defaults to ``df.attrs["source"]``.
        pseudonymised: Columns whose values the caller replaced with keyed hashes
            (:func:`~modelry.data.privacy.pseudonymise`): identifiers, kept for joins and
            group splits, never features (a request would have to hash them the same way).

    A personal column's example values are never kept, and a free-text column's are
    redacted: the schema is stored with the model and shown in its card.

    Raises:
        SchemaError: A named column does not exist, the target is unusable, a feature is
            entirely missing, or a text column is numeric but for a few stray values.
    """
    where = source or str(df.attrs.get("source", "the data"))
    types = dict(types or {})
    _check_names(
        df,
        where,
        target=[target] if target else [],
        drop=drop,
        sensitive=sensitive,
        identifiers=identifiers,
        types=list(types),
        pseudonymised=pseudonymised,
    )
    if target is not None and target in {*drop, *sensitive, *identifiers, *pseudonymised}:
        raise SchemaError(
            f"target {target!r} is also listed in drop, sensitive, identifiers or pseudonymise"
        )
    frame = normalise_missing(df, missing_values)
    columns: list[Column] = []
    classes: list[str] | None = None
    for name in map(str, frame.columns):
        series = frame[name]
        present = series.dropna()
        n_unique = int(present.nunique())
        stats: dict[str, Any] = {
            "missing_fraction": round(1.0 - len(present) / max(len(series), 1), 6),
            "n_unique": n_unique,
        }
        if name == target:
            task, classes, ctype, reason = _infer_target(series, name, task, positive)
            role = Role.TARGET
        else:
            if name in types:
                ctype, reason = types[name], "declared type"
            elif name in pseudonymised:  # hex digests: never read them as numbers or dates
                unique = len(series) > 1 and n_unique == len(series)
                ctype = ColumnType.IDENTIFIER if unique else ColumnType.CATEGORICAL
                reason = "pseudonymised (HMAC)"
            else:
                ctype, reason = _infer_type(name, series, where)
            role, why = _infer_role(
                name, present, ctype, drop, sensitive, identifiers, pseudonymised
            )
            if role == Role.FEATURE and n_unique == 0:
                raise SchemaError(
                    f"column {name!r} of {where} is entirely missing: drop it (--drop {name})",
                    column=name,
                )
            reason = f"{reason}; {why}" if why else reason
        stats["examples"] = _examples(present, role, ctype)
        fields = {"name": name, "type": ctype, "role": role, "reason": reason, **stats}
        columns.append(Column.model_validate(fields))
    return Schema(
        columns=columns,
        target=target,
        task=task if target else None,
        classes=classes,
        missing_values=list(missing_values),
    )


def _examples(present: pd.Series, role: Role, ctype: ColumnType) -> list[str]:
    """Up to three values to show: none of personal data, free text redacted."""
    if role == Role.PERSONAL:
        return []
    examples = [str(v) for v in present.unique()[:3]]
    return [redact_text(v) for v in examples] if ctype == ColumnType.TEXT else examples


def _check_names(df: pd.DataFrame, where: str, **named: Sequence[str]) -> None:
    available = [str(c) for c in df.columns]
    for what, names in named.items():
        for name in names:
            if name not in available:
                label = _OPTION_LABELS[what]
                raise SchemaError(
                    f"{label} {name!r} not in {where}; columns are: {', '.join(available)}",
                    column=name,
                )


def _infer_type(name: str, series: pd.Series, where: str) -> tuple[ColumnType, str]:
    present = series.dropna()
    n = len(series)
    snake = re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")
    unique_per_row = n > 1 and present.nunique() == n
    if pd.api.types.is_bool_dtype(series):
        return ColumnType.BOOLEAN, "true/false values"
    if pd.api.types.is_numeric_dtype(series):
        integral = bool(np.all(np.mod(present.to_numpy(dtype=np.float64), 1) == 0))
        if integral and unique_per_row and _ID_NAME.search(snake):
            return ColumnType.IDENTIFIER, "id-like name, unique per row"
        return ColumnType.NUMERIC, "numbers"
    if pd.api.types.is_datetime64_any_dtype(series):
        return ColumnType.DATETIME, "dates"
    text = present.astype(str)
    if text.str.strip().str.lower().isin(_BOOL_WORDS).all() and text.nunique() == 2:
        return ColumnType.BOOLEAN, "two values: " + "/".join(sorted(text.unique()))
    numbers = pd.to_numeric(text, errors="coerce")
    share = numbers.notna().mean() if len(text) else 0.0
    if share == 1.0:
        return ColumnType.NUMERIC, "numbers written as text"
    if share >= NUMERIC_SHARE:
        pos = int(np.argmax(numbers.isna().to_numpy()))
        row = int(np.flatnonzero(series.index == text.index[pos])[0]) + 1
        raise SchemaError(
            f"column {name!r} of {where} looks numeric but holds {text.iloc[pos]!r} (row {row}): "
            f"fix the value, or declare its type (types: {{{name}: categorical}})",
            column=name,
        )
    if len(text) and text.head(1000).str.fullmatch(_DATE.pattern).mean() >= DATE_SHARE:
        parsed = pd.to_datetime(text.head(1000), errors="coerce", format="mixed")
        if parsed.notna().mean() >= DATE_SHARE:
            return ColumnType.DATETIME, "dates"
    lengths = text.str.len()
    if len(text) and lengths.mean() > TEXT_MEAN_CHARS and text.nunique() >= min(10, len(text)):
        return ColumnType.TEXT, f"free text (mean {lengths.mean():.0f} characters)"
    if unique_per_row and (_ID_NAME.search(snake) or n >= 20):
        return ColumnType.IDENTIFIER, "unique per row"
    return ColumnType.CATEGORICAL, f"{text.nunique()} distinct values"


def _infer_role(
    name: str,
    present: pd.Series,
    ctype: ColumnType,
    drop: Sequence[str],
    sensitive: Sequence[str],
    identifiers: Sequence[str],
    pseudonymised: Sequence[str] = (),
) -> tuple[Role, str]:
    """The role and, when it is not plainly a feature, why."""
    if name in drop:
        return Role.DROPPED, "--drop"
    if name in pseudonymised:
        return Role.IDENTIFIER, "kept for joins and group splits, never a feature"
    if name in sensitive:
        return Role.SENSITIVE, "declared sensitive: kept for audits, never a feature"
    if name in identifiers:
        return Role.IDENTIFIER, "declared identifier"
    sample = present.unique()[:2000].tolist()
    personal = personal_by_name(name) or personal_by_values(sample)
    if personal:
        return Role.PERSONAL, f"personal data: {personal}"
    if ctype == ColumnType.IDENTIFIER:
        return Role.IDENTIFIER, "not a feature"
    if present.nunique() == 1:
        return Role.DROPPED, "constant"
    if ctype == ColumnType.TEXT:
        # Free text stays a feature (it is often the signal); its personal data is flagged
        # here, and redacted before encoding (modelry.pipeline, and at predict time).
        inside = personal_in_text(sample)
        return Role.FEATURE, f"{inside}: redact before use" if inside else ""
    return Role.FEATURE, ""


def _infer_target(
    series: pd.Series, name: str, task: Task | None, positive: str | None
) -> tuple[Task, list[str] | None, ColumnType, str]:
    present = series.dropna()
    if present.empty:
        raise SchemaError(f"target {name!r} is entirely missing: nothing to learn", column=name)
    numeric = pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)
    labels = sorted({normalise_label(v) for v in present.unique().tolist()})
    if len(labels) == 1:
        raise SchemaError(
            f"target {name!r} has a single value {labels[0]!r}: nothing to learn", column=name
        )
    if task is None:
        integral = numeric and bool(np.all(np.mod(present.to_numpy(dtype=np.float64), 1) == 0))
        if len(labels) == 2:
            task = Task.BINARY
        elif numeric and (not integral or len(labels) > MAX_INTEGER_CLASSES):
            task = Task.REGRESSION
        elif len(labels) <= MAX_CLASSES:
            task = Task.MULTICLASS
        else:
            raise SchemaError(
                f"target {name!r} has {len(labels)} distinct non-numeric values: too many "
                f"classes (at most {MAX_CLASSES}); group them, or choose another target",
                column=name,
            )
    if task == Task.REGRESSION:
        if not numeric:
            raise SchemaError(f"target {name!r} is not numeric: it cannot be a regression target")
        return task, None, ColumnType.NUMERIC, "target: regression"
    if task == Task.BINARY and len(labels) != 2:
        raise SchemaError(
            f"target {name!r} has {len(labels)} classes, not 2: use task multiclass",
            column=name,
        )
    ctype = ColumnType.CATEGORICAL
    if task == Task.MULTICLASS:
        return task, labels, ctype, f"target: multiclass ({len(labels)} classes)"
    pos = _positive(name, labels, present, positive)
    classes = [c for c in labels if c != pos] + [pos]
    return task, classes, ctype, f"target: binary (positive class {pos!r})"


def _positive(name: str, labels: list[str], present: pd.Series, positive: str | None) -> str:
    """The positive class: as given, else the one that is not a negation, else the minority."""
    if positive is not None:
        pos = normalise_label(positive)
        if pos not in labels:
            raise SchemaError(
                f"positive class {pos!r} is not a value of target {name!r}; classes are: "
                f"{', '.join(labels)}",
                column=name,
            )
        return pos
    a, b = labels
    low_a, low_b = a.lower(), b.lower()
    if (low_a in _NEGATIVE) != (low_b in _NEGATIVE):
        return b if low_a in _NEGATIVE else a
    if _NEGATION_PREFIX.sub("", low_a) == low_b and low_a != low_b:
        return b
    if _NEGATION_PREFIX.sub("", low_b) == low_a and low_a != low_b:
        return a
    counts = present.map(normalise_label).value_counts()
    return str(min(labels, key=lambda c: (int(counts.get(c, 0)), c)))


def leakage_warnings(df: pd.DataFrame, schema: Schema) -> list[str]:
    """Columns whose missingness gives the class away, as warning lines.

    A column missing exactly when the target is one class (``salary`` is blank for every
    student not placed) is the outcome written down after the fact: a model would learn
    the blank, not the student. This is the cheap part of the leakage report
    (:func:`~modelry.data.leakage.find_leaks`), which also scores every column alone.
    """
    return [leak.message for leak in find_leaks(df, schema, scores=False)]


def describe(schema: Schema) -> list[str]:
    """One line per column that is not a plain feature, or whose data needs a look."""
    lines = []
    for col in schema.columns:
        if col.role not in (Role.FEATURE, Role.TARGET) or "free text containing" in col.reason:
            lines.append(f"{col.name}: {col.role.value} ({col.reason})")
    return lines
