"""What every encoder is: one input column in, a block of dense columns or a code out.

An encoder follows the scikit-learn contract: its config is stored untouched by
``__init__``, ``fit`` learns the state (attributes ending in ``_``) and returns
``self``, and ``transform`` refuses to run before ``fit``. Its fitted state
round-trips through JSON (``to_dict``/``from_dict``), never pickle, because it is
part of a model artifact that a serving process loads.

Each encoder encodes a column two ways that give the same float32 bits: vectorised
(``prepare`` then ``write``, for batches) and one value at a time (``write_value``,
for the few rows of a request, where numpy's fixed cost per call would dominate).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from array import array
from typing import Any, ClassVar, Generic, Literal, Self, TypeAlias, TypeVar

import numpy as np

from modelry.data.columns import ColumnArray
from modelry.errors import ArtifactError, NotFittedError
from modelry.features.feature_config import (
    BooleanFeature,
    CategoricalFeature,
    DatetimeFeature,
    EmbeddingFeature,
    NumericFeature,
    TextFeature,
)

Cells: TypeAlias = "array[float]"
"""A request's dense output, flat (cell ``row * width + column``), zeroed: a C float array.
Assigning a Python float to a cell is a plain C cast, as numpy's float64 → float32 cast,
without numpy's per-call machinery; numpy then views the same memory as the matrix."""

InputKind = Literal["number", "string"]
"""The JSON type a column's values are expected as in a request."""

ConfigT = TypeVar(
    "ConfigT",
    bound=NumericFeature
    | CategoricalFeature
    | BooleanFeature
    | TextFeature
    | DatetimeFeature
    | EmbeddingFeature,
)


class Encoder(ABC, Generic[ConfigT]):
    """Fits to one column and encodes it as float32 columns or as one int64 code.

    Args:
        config: The feature's config; its ``name`` is the column encoded.
    """

    config_type: ClassVar[type[Any]]
    input_kind: ClassVar[InputKind] = "string"

    def __init__(self, config: ConfigT) -> None:
        self.config: ConfigT = config

    @property
    def name(self) -> str:
        """The input column."""
        return self.config.name

    # -- the contract ---------------------------------------------------------------

    @abstractmethod
    def fit(self, values: ColumnArray) -> Self:
        """Learn the encoding from a training column."""

    @abstractmethod
    def prepare(self, values: ColumnArray) -> np.ndarray:
        """Parse and check a whole column; the only step that rejects a value.

        Returns an array whose first axis is the rows (float64 values, int64 slots,
        ...), which :meth:`write` encodes any row range of. Splitting the two lets a
        caller encode a large batch in cache-sized row chunks while errors still
        name the row of the whole column.
        """

    @abstractmethod
    def write(self, prepared: np.ndarray, out: np.ndarray, start: int, codes: np.ndarray) -> None:
        """Encode prepared rows into preallocated outputs (the caller checked ``is_fitted``).

        Args:
            prepared: Rows of :meth:`prepare` output.
            out: A C-contiguous float32 ``[rows, width]`` matrix whose columns
                ``start:start + n_dense`` belong to this encoder and hold zeros.
            start: The first column of this encoder in ``out``.
            codes: An int64 ``[rows]`` view to fill when ``n_codes`` is 1.
        """

    @abstractmethod
    def write_value(
        self, value: Any, cells: Cells, at: int, codes: list[int], code_at: int
    ) -> bool:
        """Encode one plain request value into a row; False when it is not plain.

        The result is bit for bit what :meth:`write` gives the same value in a column.
        A value this method does not take (an unusual type, a bad value) returns False,
        perhaps after writing some cells; the caller then encodes the rows the
        vectorised way, which reads every value and names the bad ones.

        Args:
            value: One row's value of the column, as a request carries it.
            cells: The flat, zeroed dense output; this encoder's cells are
                ``cells[at : at + n_dense]`` (the caller checked ``is_fitted``).
            at: This row's first cell of this encoder.
            codes: The flat code output, written when ``n_codes`` is 1.
            code_at: This row's code cell of this encoder.
        """

    @abstractmethod
    def _names(self) -> list[str]:
        """The dense output names, or the code column's name."""

    @abstractmethod
    def _state(self) -> dict[str, Any]:
        """The fitted state as JSON-able values."""

    @abstractmethod
    def _load_state(self, state: dict[str, Any]) -> None:
        """Restore what ``_state`` returned."""

    # -- shared behaviour ---------------------------------------------------------------

    @property
    def is_fitted(self) -> bool:
        return hasattr(self, "n_dense_")

    def check_fitted(self) -> None:
        """Raise :class:`NotFittedError` unless ``fit`` (or ``from_dict``) ran."""
        if not self.is_fitted:
            raise NotFittedError(
                f"{type(self).__name__} for column {self.name!r} is not fitted; call fit first",
                column=self.name,
            )

    @property
    def n_dense(self) -> int:
        """How many float32 columns the encoder writes."""
        self.check_fitted()
        return int(getattr(self, "n_dense_"))  # noqa: B009 - set by fit in each subclass

    @property
    def n_codes(self) -> int:
        """1 when the encoder outputs an embedding code instead of dense columns."""
        return 0

    @property
    def output_names(self) -> list[str]:
        """Names of the dense columns (e.g. ``'job=admin.'``), or of the code column."""
        self.check_fitted()
        return self._names()

    def transform(self, values: ColumnArray) -> np.ndarray:
        """Encode a column: float32 ``[n, n_dense]``, or int64 ``[n]`` codes when embedded."""
        self.check_fitted()
        prepared = self.prepare(values)
        n = len(prepared)
        dense = np.zeros((n, self.n_dense), dtype=np.float32)
        codes = np.zeros(n, dtype=np.int64)
        self.write(prepared, dense, 0, codes)
        return codes if self.n_codes else dense

    def to_dict(self) -> dict[str, Any]:
        """The fitted encoder as JSON-able data: its config and learned state."""
        self.check_fitted()
        return {"config": self.config.model_dump(mode="json"), "state": self._state()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        """Rebuild a fitted encoder from :meth:`to_dict` output."""
        try:
            encoder = cls(cls.config_type.model_validate(data["config"]))
            encoder._load_state(data["state"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ArtifactError(f"{cls.__name__}: stored state is unreadable: {exc}") from exc
        return encoder

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.config!r})"
