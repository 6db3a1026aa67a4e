"""Outputs as a kind declares them: V2 tensors, simple records and scored-file columns."""

from __future__ import annotations

import numpy as np
import pytest

from modelry.errors import ArtifactError, InvalidInputError
from modelry.protocol.predictions import (
    TensorSpec,
    check_outputs,
    output_columns,
    output_records,
    output_rows,
    rows_to_tensors,
)

BINARY = (TensorSpec("label", "BYTES"), TensorSpec("probability", "FP32"))
VECTOR = (TensorSpec("embedding", "FP32", (-1, 3)),)
CLASSES = (TensorSpec("p", "FP64", (-1, 2), labels=("a", "b")),)


def test_rows_become_the_declared_tensors() -> None:
    outputs = {
        "label": np.array(["yes", "no"], dtype=object),
        "probability": np.array([0.83, 0.1], np.float32),
    }
    rows = output_rows(outputs, BINARY)
    assert rows == [("yes", np.float32(0.83)), ("no", np.float32(0.1))]
    label, probability = rows_to_tensors(rows, BINARY, None)
    assert (label.name, label.datatype, label.array, label.dims()) == (
        "label",
        "BYTES",
        ["yes", "no"],
        [2],
    )
    assert probability.as_array().dtype == np.float32 and probability.dims() == [2]
    [only] = rows_to_tensors(rows[1:], BINARY, ["probability"])
    assert only.datatype == "FP32" and only.array == [np.float32(0.1)] and only.dims() == [1]
    with pytest.raises(InvalidInputError, match=r"outputs\[0\].name: unknown output 'score'"):
        rows_to_tensors(rows, BINARY, ["score"])


def test_vector_outputs_are_first_class() -> None:
    outputs = {"embedding": np.arange(6, dtype=np.float32).reshape(2, 3)}
    [embedding] = rows_to_tensors(output_rows(outputs, VECTOR), VECTOR, None)
    assert embedding.dims() == [2, 3] and embedding.datatype == "FP32"
    np.testing.assert_array_equal(embedding.as_array(), outputs["embedding"])
    assert output_records(outputs, VECTOR) == [
        {"embedding": [0.0, 1.0, 2.0]},
        {"embedding": [3.0, 4.0, 5.0]},
    ]
    assert list(output_columns(outputs, VECTOR)) == ["embedding_0", "embedding_1", "embedding_2"]


def test_labelled_vectors_become_named_values() -> None:
    outputs = {"p": np.array([[0.25, 0.75]])}
    assert output_records(outputs, CLASSES) == [{"p": {"a": 0.25, "b": 0.75}}]
    columns = output_columns(outputs, CLASSES)
    assert columns["p_b"].tolist() == [0.75]


def test_outputs_that_break_the_declaration_are_refused() -> None:
    good = {"label": np.array(["x"], dtype=object), "probability": np.array([0.5], np.float32)}
    check_outputs(good, BINARY, 1)
    with pytest.raises(ArtifactError, match="missing \\['probability'\\]"):
        check_outputs({"label": good["label"]}, BINARY, 1)
    with pytest.raises(ArtifactError, match="undeclared \\['extra'\\]"):
        check_outputs({**good, "extra": good["probability"]}, BINARY, 1)
    with pytest.raises(ArtifactError, match="dtype float64 does not match the declared FP32"):
        check_outputs({**good, "probability": np.array([0.5])}, BINARY, 1)
    with pytest.raises(ArtifactError, match="shape \\[2\\] does not match"):
        check_outputs({**good, "probability": np.zeros(2, np.float32)}, BINARY, 1)
    with pytest.raises(ArtifactError, match="BYTES needs an object array"):
        check_outputs({**good, "label": np.array(["x"])}, BINARY, 1)


def test_specs_are_checked_when_declared() -> None:
    with pytest.raises(ArtifactError, match="unknown datatype"):
        TensorSpec("x", "FLOAT")  # type: ignore[arg-type]
    with pytest.raises(ArtifactError, match="rows first"):
        TensorSpec("x", "FP32", (3,))
    with pytest.raises(ArtifactError, match="2 labels for a last axis of 3"):
        TensorSpec("x", "FP32", (-1, 3), labels=("a", "b"))
    assert TensorSpec("x", "FP32", (-1, 4)).column_kind is None
    assert TensorSpec("t", "BYTES").column_kind == "string"
    assert TensorSpec("x", "INT64").metadata() == {"name": "x", "datatype": "INT64", "shape": [-1]}
