"""A model's outputs, as its kind declares them, in the simple protocol and in V2.

Every model kind declares its outputs as :class:`TensorSpec` (name, datatype, shape,
and optionally the labels of the last axis) and predicts a batch into
:data:`Outputs`: one array per declared output, rows first. V2 output tensors, V2
metadata, the simple protocol's records and a scored file's columns are all derived
from that declaration here, whatever the kind; a kind may render its own records
(the tabular kind keeps its ``label`` / ``score`` / ``probabilities`` records).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson

from modelry.errors import ArtifactError, InvalidInputError
from modelry.protocol.v2 import NUMPY_DTYPES, Datatype, OutputTensor, TensorMetadata, tensor

Outputs = Mapping[str, np.ndarray]
"""A batch's predictions: one array per declared output, its first axis the rows."""

NUMBER, STRING = "number", "string"


@dataclass(frozen=True, slots=True)
class TensorSpec:
    """One input or output of a model kind.

    Attributes:
        name: The name clients use (a column name for inputs).
        datatype: The V2 datatype: ``BYTES`` for text, ``FP32``/``FP64``/``INT64``… for
            numbers.
        shape: ``(-1,)`` for one value per row, ``(-1, k)`` for a vector per row.
        labels: Names along the last axis of a vector (e.g. class names), if any.

    Example:
        >>> TensorSpec("embedding", "FP32", (-1, 384)).metadata()
        {'name': 'embedding', 'datatype': 'FP32', 'shape': [-1, 384]}
    """

    name: str
    datatype: Datatype
    shape: tuple[int, ...] = (-1,)
    labels: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if not self.name or not isinstance(self.name, str):
            raise ArtifactError(f"a tensor needs a name, got {self.name!r}")
        if self.datatype != "BYTES" and self.datatype not in NUMPY_DTYPES:
            raise ArtifactError(f"{self.name}: unknown datatype {self.datatype!r}")
        shape = tuple(self.shape)
        if not shape or shape[0] != -1 or any(d < 1 for d in shape[1:]):
            raise ArtifactError(
                f"{self.name}: shape {list(shape)} must be [-1] or [-1, k…] (rows first)"
            )
        if self.labels is not None and len(self.labels) != shape[-1]:
            raise ArtifactError(
                f"{self.name}: {len(self.labels)} labels for a last axis of {shape[-1]}"
            )

    def metadata(self) -> TensorMetadata:
        """The V2 tensor metadata."""
        return tensor(self.name, self.datatype, list(self.shape))

    @property
    def column_kind(self) -> str | None:
        """``"number"`` or ``"string"`` for a one-value-per-row input, else None."""
        if len(self.shape) != 1:
            return None
        return STRING if self.datatype == "BYTES" else NUMBER

    def check(self, values: Any, rows: int) -> None:
        """Refuse an output array that does not match this spec (a kind's bug).

        Raises:
            ArtifactError: not an array, wrong number of rows, wrong shape or dtype.
        """
        if not isinstance(values, np.ndarray):
            raise ArtifactError(
                f"output {self.name!r}: expected a numpy array, got {type(values).__name__}"
            )
        want = (rows, *self.shape[1:])
        if values.shape != want:
            raise ArtifactError(
                f"output {self.name!r}: shape {list(values.shape)} does not match the "
                f"declared {list(self.shape)} for {rows} row(s)"
            )
        if self.datatype == "BYTES":
            if values.dtype != object:
                raise ArtifactError(
                    f"output {self.name!r}: BYTES needs an object array of str, got {values.dtype}"
                )
        elif values.dtype != NUMPY_DTYPES[self.datatype]:
            raise ArtifactError(
                f"output {self.name!r}: dtype {values.dtype} does not match the declared "
                f"{self.datatype}"
            )


def check_outputs(outputs: Outputs, specs: Sequence[TensorSpec], rows: int) -> None:
    """Refuse outputs that are not exactly the declared ones (names, shapes, dtypes).

    Raises:
        ArtifactError: a missing, undeclared or mis-shaped output.
    """
    declared = [s.name for s in specs]
    if set(outputs) != set(declared):
        missing = [n for n in declared if n not in outputs]
        extra = [n for n in outputs if n not in declared]
        what = f"missing {missing}" if missing else f"undeclared {extra}"
        raise ArtifactError(f"outputs do not match the declared {declared}: {what}")
    for spec in specs:
        spec.check(outputs[spec.name], rows)


OutputRow = tuple[Any, ...]
"""One row's outputs in declared order: ``str`` for BYTES, a numpy scalar for a number,
a numpy array for a vector (numpy values stay numpy, so orjson writes float32 short)."""


def output_rows(outputs: Outputs, specs: Sequence[TensorSpec]) -> list[OutputRow]:
    """Each row's outputs (:data:`OutputRow`). The V2 finish: one conversion per batch,
    each request then takes its own rows."""
    columns = [
        outputs[s.name].tolist() if s.datatype == "BYTES" else outputs[s.name] for s in specs
    ]
    return list(zip(*columns, strict=True))


def rows_to_tensors(
    rows: list[OutputRow], specs: Sequence[TensorSpec], wanted: list[str] | None
) -> list[OutputTensor]:
    """The named output tensors of a request's rows, those in ``wanted`` (all when None).

    Raises:
        InvalidInputError: ``wanted`` names an output the model does not have.
    """
    names = [s.name for s in specs]
    if wanted is None:
        wanted = names
    else:
        for i, name in enumerate(wanted):
            if name not in names:
                raise InvalidInputError(
                    f"outputs[{i}].name: unknown output {name!r}; the model has "
                    + ", ".join(names),
                    field=f"outputs[{i}].name",
                )
    n = len(rows)
    tensors: list[OutputTensor] = []
    for name in wanted:
        at = names.index(name)
        spec = specs[at]
        values = [row[at] for row in rows]
        if len(spec.shape) == 1:
            tensors.append(OutputTensor(name, spec.datatype, values, (n,)))
            continue
        flat = [v for row in values for v in np.asarray(row).reshape(-1)]
        tensors.append(OutputTensor(name, spec.datatype, flat, (n, *spec.shape[1:])))
    return tensors


def output_records(outputs: Outputs, specs: Sequence[TensorSpec]) -> list[dict[str, Any]]:
    """One simple-protocol record per row: each output by name.

    A value per row stays a scalar; a vector with labels becomes ``{label: value}``,
    one without a list.
    """
    columns: list[tuple[str, Any]] = []
    for spec in specs:
        values = outputs[spec.name]
        if spec.datatype == "BYTES":
            columns.append((spec.name, values.tolist()))
        elif len(spec.shape) == 1:
            columns.append((spec.name, values))
        elif spec.labels is not None:
            labels = spec.labels
            columns.append((spec.name, [dict(zip(labels, row, strict=True)) for row in values]))
        else:
            columns.append((spec.name, values.tolist()))
    names = [name for name, _ in columns]
    rows = zip(*(values for _, values in columns), strict=True)
    return [dict(zip(names, row, strict=True)) for row in rows]


def output_columns(outputs: Outputs, specs: Sequence[TensorSpec]) -> dict[str, np.ndarray]:
    """The columns a scored file gains: one per output, or one per element of a vector
    (``name_label``, or ``name_i`` without labels)."""
    out: dict[str, np.ndarray] = {}
    for spec in specs:
        values = outputs[spec.name]
        if len(spec.shape) == 1:
            out[spec.name] = values
            continue
        flat = values.reshape(len(values), -1)
        names = spec.labels or tuple(str(i) for i in range(flat.shape[1]))
        for i, label in enumerate(names):
            out[f"{spec.name}_{label}"] = flat[:, i]
    return out


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


def relabel_row_error(exc: InvalidInputError, prefix: str) -> InvalidInputError:
    """An encoder's "column 'age', row 3" error as ``instances[3].age`` (for V1 clients)."""
    column, row = exc.details.get("column"), exc.details.get("row")
    if not isinstance(column, str) or not isinstance(row, int):
        return exc
    path = f"{prefix}[{row}].{column}"
    _, _, reason = exc.message.partition(": ")
    return InvalidInputError(f"{path}: {reason or exc.message}", field=path)
