"""Column types and roles: what each column of a table is, and what modelry does with it.

Pure data (pydantic), no pandas: the serving path reads a stored schema to validate
requests. Inference of a schema from a table lives in :mod:`modelry.data.infer`.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, Field

from modelry.errors import SchemaError


class ColumnType(StrEnum):
    NUMERIC = "numeric"
    CATEGORICAL = "categorical"
    BOOLEAN = "boolean"
    TEXT = "text"
    DATETIME = "datetime"
    IDENTIFIER = "identifier"


class Role(StrEnum):
    FEATURE = "feature"
    TARGET = "target"
    IDENTIFIER = "identifier"  # dropped: unique per row, carries no signal
    PERSONAL = "personal"  # personal data: never a feature
    SENSITIVE = "sensitive"  # protected attribute: never a feature, kept for audits
    DROPPED = "dropped"  # by the user (--drop), constant, or leaking


class Task(StrEnum):
    BINARY = "binary"
    MULTICLASS = "multiclass"
    REGRESSION = "regression"


class Column(BaseModel):
    """One column as inferred (or declared) and what modelry does with it."""

    name: str
    type: ColumnType
    role: Role
    reason: str = Field(default="", description="Why this type and role, in a few words.")
    missing_fraction: float = 0.0
    n_unique: int = 0
    examples: list[str] = Field(default_factory=list)


class Schema(BaseModel):
    """The columns of a training table, the target and the task."""

    columns: list[Column]
    target: str | None = None
    task: Task | None = None
    classes: list[str] | None = Field(
        default=None,
        description="Class labels as strings; for a binary task the positive class is last.",
    )
    missing_values: list[str] = Field(
        default_factory=list, description="Extra tokens read as missing (e.g. 'unknown')."
    )

    def column(self, name: str) -> Column:
        for col in self.columns:
            if col.name == name:
                return col
        raise SchemaError(f"unknown column {name!r}", column=name)

    def by_role(self, role: Role) -> list[Column]:
        return [c for c in self.columns if c.role == role]

    @property
    def features(self) -> list[Column]:
        return self.by_role(Role.FEATURE)

    @property
    def feature_names(self) -> list[str]:
        return [c.name for c in self.features]
