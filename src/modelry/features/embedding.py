"""Vectors another model computed (a text embedded by the served encoder), taken as they are.

The column a client sends is text; the data plane has the upstream model embed it
(:attr:`~modelry.serving.runtime.Runtime.upstream`) before the preprocessing sees it, so
this encoder reads a ``[n, dimension]`` float array, or a column of equal-length number
sequences, and writes it into the dense input standardised per dimension (the training
rows' mean and standard deviation). Unit-length sentence embeddings have elements of
about 0.04: unscaled, a regularised linear model barely moves off its prior (the 167
distinct résumés of ``resume_dataset``, 5 stratified folds, three fold seeds, scikit-learn's
``LogisticRegression(max_iter=1000)``: accuracy 0.44-0.47 unscaled, 0.78-0.81 standardised).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, ClassVar, Self

import numpy as np

from modelry.data.columns import Coded, ColumnArray
from modelry.errors import InvalidInputError
from modelry.features.base import Cells, Encoder, InputKind
from modelry.features.feature_config import EmbeddingFeature
from modelry.features.values import invalid_value


class EmbeddingEncoder(Encoder[EmbeddingFeature]):
    """``dimension`` float32 columns, one per element of the column's vectors, standardised.

    Attributes (after ``fit``):
        mean_: Each dimension's training mean.
        scale_: Each dimension's training standard deviation (1 where it is 0).

    Example:
        >>> enc = EmbeddingEncoder(EmbeddingFeature(name="resume", dimension=2))
        >>> enc = enc.fit(np.array([[0.6, 0.8], [0.8, 0.6]]))
        >>> enc.transform(np.array([[0.8, 0.8]])).tolist()
        [[1.0, 1.0]]
    """

    config_type = EmbeddingFeature
    # A client sends the text; the upstream model turns it into the vector read here.
    input_kind: ClassVar[InputKind] = "string"

    def fit(self, values: ColumnArray) -> Self:
        self.n_dense_ = self.config.dimension
        vectors = self.prepare(values)
        if len(vectors):
            mean, scale = vectors.mean(axis=0), vectors.std(axis=0)
        else:
            mean, scale = np.zeros(self.n_dense_), np.ones(self.n_dense_)
        self.mean_: list[float] = mean.tolist()
        self.scale_: list[float] = np.where(scale > 0, scale, 1.0).tolist()
        self._set_arrays()
        return self

    def _set_arrays(self) -> None:
        self._mean = np.asarray(self.mean_, dtype=np.float64)
        self._scale = np.asarray(self.scale_, dtype=np.float64)

    def prepare(self, values: ColumnArray) -> np.ndarray:
        """The vectors as float64 ``[n, dimension]``; text or a wrong width is refused."""
        width = self.config.dimension
        if isinstance(values, Coded):
            raise InvalidInputError(
                f"column {self.name!r} holds text where {width}-d vectors were expected: it "
                "must go through its encoder model first",
                column=self.name,
            )
        if not isinstance(values, np.ndarray) or values.ndim not in (1, 2):
            raise InvalidInputError(
                f"column {self.name!r} must be a column of {width}-d vectors", column=self.name
            )
        if values.ndim == 2 and values.dtype != object:
            if values.shape[1] != width or not np.issubdtype(values.dtype, np.number):
                raise InvalidInputError(
                    f"column {self.name!r} holds vectors of shape {list(values.shape[1:])} "
                    f"({values.dtype}), not {width} numbers",
                    column=self.name,
                )
            out = values.astype(np.float64)
            bad = ~np.isfinite(out).all(axis=1)
            if bad.any():
                row = int(np.flatnonzero(bad)[0])
                raise invalid_value(self.name, row, values[row].tolist(), "a finite vector")
            return out
        out = np.empty((len(values), width), dtype=np.float64)
        for row, value in enumerate(values.tolist()):
            vector = _vector(value, width)
            if vector is None:
                raise invalid_value(self.name, row, _short(value), f"a vector of {width} numbers")
            out[row] = vector
        return out

    def write(self, prepared: np.ndarray, out: np.ndarray, start: int, codes: np.ndarray) -> None:
        out[:, start : start + self.n_dense_] = (prepared - self._mean) / self._scale

    def write_value(
        self, value: Any, cells: Cells, at: int, codes: list[int], code_at: int
    ) -> bool:
        vector = _vector(value, self.n_dense_)
        if vector is None:
            return False
        mean, scale = self.mean_, self.scale_
        for i, x in enumerate(vector):  # float64 arithmetic, then a C cast, as numpy's
            cells[at + i] = (x - mean[i]) / scale[i]
        return True

    def _names(self) -> list[str]:
        return [f"{self.name}#{i}" for i in range(self.n_dense_)]

    def _state(self) -> dict[str, Any]:
        return {"mean": self.mean_, "scale": self.scale_}

    def _load_state(self, state: dict[str, Any]) -> None:
        self.n_dense_ = self.config.dimension
        self.mean_ = [float(x) for x in state["mean"]]
        self.scale_ = [float(x) for x in state["scale"]]
        if len(self.mean_) != self.n_dense_ or len(self.scale_) != self.n_dense_:
            raise ValueError(f"{len(self.mean_)} means for {self.n_dense_} dimensions")
        self._set_arrays()


def _vector(value: Any, width: int) -> list[float] | None:
    """``value`` as ``width`` finite floats, or None when it is not such a vector."""
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, str | bytes) or not isinstance(value, Sequence) or len(value) != width:
        return None
    out: list[float] = []
    for x in value:
        if isinstance(x, bool) or not isinstance(x, int | float) or not math.isfinite(x):
            return None
        out.append(float(x))
    return out


def _short(value: Any) -> Any:
    """A refused value as an error message may quote it (long texts and vectors cut)."""
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
