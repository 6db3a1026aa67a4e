"""Predictions as the simple protocol's records and as V2 output tensors."""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np
import orjson

from modelry.data.schema import Task
from modelry.errors import InvalidInputError
from modelry.protocol.v1 import RecordPrediction
from modelry.protocol.v2 import Datatype, OutputTensor, TensorMetadata, tensor


class Prediction(Protocol):
    """What the codecs read of :class:`modelry.serving.runtime.Prediction`.

    (Serving sits above the protocol layer, so the codecs name its shape, not its class.)
    """

    @property
    def task(self) -> Task: ...
    @property
    def scores(self) -> np.ndarray: ...
    @property
    def labels(self) -> np.ndarray | None: ...
    @property
    def classes(self) -> list[str] | None: ...


def output_tensors(
    task: Task, n_classes: int, float_type: Datatype = "FP32"
) -> list[TensorMetadata]:
    """The V2 output signature of a model of ``task``."""
    if task is Task.REGRESSION:
        return [tensor("score", float_type, [-1])]
    shape = [-1] if task is Task.BINARY else [-1, n_classes]
    return [tensor("label", "BYTES", [-1]), tensor("probability", float_type, shape)]


OutputRow = tuple[Any, ...]
"""One row's V2 outputs in order: ``(label, probability)`` for a classifier (the
probability a numpy scalar, or for multi-class the row's numpy array), ``(score,)`` for a
regression."""


def prediction_rows(prediction: Prediction) -> list[OutputRow]:
    """Each row's V2 outputs (:data:`OutputRow`); numpy values stay numpy, so that
    orjson writes float32 values short. The finish V2 hands ``Served.predict_rows``: one
    conversion per batch, each request then takes its own rows."""
    if prediction.task is Task.REGRESSION:
        return [(score,) for score in prediction.scores]
    assert prediction.labels is not None
    return list(zip(prediction.labels.tolist(), prediction.scores, strict=True))


def rows_to_tensors(rows: list[OutputRow], wanted: list[str] | None) -> list[OutputTensor]:
    """The named output tensors of a request's rows, those in ``wanted`` (all when None).

    Raises:
        InvalidInputError: ``wanted`` names an output the model does not have.
    """
    available = ("score",) if rows and len(rows[0]) == 1 else ("label", "probability")
    if wanted is None:
        wanted = list(available)
    else:
        for i, name in enumerate(wanted):
            if name not in available:
                raise InvalidInputError(
                    f"outputs[{i}].name: unknown output {name!r}; the model has "
                    + ", ".join(available),
                    field=f"outputs[{i}].name",
                )
    n = len(rows)
    tensors: list[OutputTensor] = []
    for name in wanted:
        at = available.index(name)
        values = [row[at] for row in rows]
        if name == "label":
            tensors.append(OutputTensor(name, "BYTES", values, (n,)))
            continue
        kind = type(values[0]) if values else np.float32
        shape: tuple[int, ...] = (n,)
        if kind is np.ndarray:  # multi-class: a row of probabilities
            shape = (n, len(values[0]))
            kind = values[0].dtype.type
            values = [p for row in values for p in row]
        datatype: Datatype = "FP32" if kind is np.float32 else "FP64"
        tensors.append(OutputTensor(name, datatype, values, shape))
    return tensors


EXPLANATION = "explanation"
"""The extra V2 output of ``"parameters": {"explain": true}``: one JSON string per row."""


def explain_requested(parameters: dict[str, Any] | None) -> bool:
    """Whether an inference request's ``parameters`` ask for explanations.

    Raises:
        InvalidInputError: ``parameters.explain`` is not a boolean.
    """
    if not parameters or "explain" not in parameters:
        return False
    flag = parameters["explain"]
    if type(flag) is not bool:
        raise InvalidInputError(
            f"parameters.explain: expected true or false, got {type(flag).__name__}",
            field="parameters.explain",
        )
    return flag


def explanation_tensor(explanations: list[dict[str, Any]]) -> OutputTensor:
    """The ``explanation`` output: BYTES, shape ``[n]``, each row's explanation as JSON.

    A BYTES tensor rather than a response parameter: every V2 client (tritonclient's
    ``as_numpy("explanation")`` included) reads it per row, in JSON or binary form.
    """
    array = np.empty(len(explanations), dtype=object)
    array[:] = [orjson.dumps(e, option=orjson.OPT_SERIALIZE_NUMPY).decode() for e in explanations]
    return OutputTensor(EXPLANATION, "BYTES", array)


def prediction_to_records(prediction: Prediction) -> list[RecordPrediction]:
    """One JSON record per row.

    Binary: ``label``, ``score`` = P(positive class) and both class probabilities.
    Multi-class: ``label``, ``score`` = the label's probability, every class's.
    Regression: ``score`` = the predicted value. Scores stay numpy scalars so that
    orjson prints float32 values short (0.83, not 0.8299999833106995).
    """
    scores = prediction.scores
    if prediction.task is Task.REGRESSION:
        return [RecordPrediction(score=value) for value in scores]
    labels = prediction.labels
    classes = prediction.classes
    assert labels is not None and classes is not None
    if prediction.task is Task.BINARY:
        negative, positive = classes[0], classes[-1]
        return [
            RecordPrediction(label=label, score=p, probabilities={negative: 1 - p, positive: p})
            for label, p in zip(labels.tolist(), scores, strict=True)
        ]
    top = scores.max(axis=1)
    return [
        RecordPrediction(
            label=label, score=best, probabilities=dict(zip(classes, row, strict=True))
        )
        for label, best, row in zip(labels.tolist(), top, scores, strict=True)
    ]


def relabel_row_error(exc: InvalidInputError, prefix: str) -> InvalidInputError:
    """An encoder's "column 'age', row 3" error as ``instances[3].age`` (for V1 clients)."""
    column, row = exc.details.get("column"), exc.details.get("row")
    if not isinstance(column, str) or not isinstance(row, int):
        return exc
    path = f"{prefix}[{row}].{column}"
    _, _, reason = exc.message.partition(": ")
    return InvalidInputError(f"{path}: {reason or exc.message}", field=path)
