"""Records and tensors to columns: the request path's validation.

This is the request path's validation: hand-written, driven by the model's
input kinds (``"number"`` or ``"string"`` per column), and one pass over the
data. A few clean V1 records stay records; other record lists become one Python
list per column, checked; a request of a few rows keeps those lists as its
columns (the preprocessor's row path reads them directly), a larger one gets one
numpy array per column: float64 for numbers (``null`` is missing, NaN), object
for strings (``null`` is missing, None). The common V2 request is read by a
loop over the model's inputs (:class:`PlainReader`), anything else by the general
tensor path; a few rows of binary tensors become lists as JSON ones
do. Every mistake is an :class:`InvalidInputError` naming the field and the
instance index (``instances[3].age``).

JSON parsed by orjson never holds NaN or infinities (orjson refuses them), so
finiteness is only checked where values can carry them: binary tensors and
bodies parsed by the lenient fallback.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from dataclasses import dataclass, field
from itertools import chain
from math import isfinite
from typing import Any, TypeAlias, cast

import numpy as np

from modelry.data.columns import InputColumn, Records, as_array
from modelry.data.privacy import mask_value
from modelry.errors import InvalidInputError, ModelryError
from modelry.features.rows import MAX_ROWS
from modelry.protocol.v2 import (
    NUMPY_DTYPES,
    InputTensor,
    ParsedInferRequest,
)
from modelry.protocol.v2_wire import decode_bytes_tensor, input_tensors

NUMBER, STRING = "number", "string"
_NUMBER_TYPES = frozenset({int, float})
_STRING_TYPES = frozenset({str})
_LOOSE_STRING_TYPES = frozenset({str, int, float, bool, type(None)})
_NUMERIC_DATATYPES = frozenset(NUMPY_DTYPES)


@dataclass(frozen=True, slots=True)
class InputSpec:
    """What a model takes: its input columns in order and the JSON kind of each."""

    kinds: Mapping[str, str]
    names: tuple[str, ...] = field(init=False)
    numbers: tuple[str, ...] = field(init=False)
    strings: tuple[str, ...] = field(init=False)
    key_set: frozenset[str] = field(init=False)
    datatypes: dict[str, frozenset[str]] = field(init=False)  # V2 datatypes each accepts
    _readers: dict[bool, PlainReader] = field(
        init=False, default_factory=dict, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        for name, kind in self.kinds.items():
            if kind not in (NUMBER, STRING):
                raise ValueError(f"input {name!r} has unknown kind {kind!r}")
        object.__setattr__(self, "names", tuple(self.kinds))
        object.__setattr__(self, "numbers", tuple(n for n, k in self.kinds.items() if k == NUMBER))
        object.__setattr__(self, "strings", tuple(n for n, k in self.kinds.items() if k == STRING))
        object.__setattr__(self, "key_set", frozenset(self.kinds))
        accepted = {NUMBER: _NUMERIC_DATATYPES, STRING: frozenset({"BYTES"})}
        object.__setattr__(self, "datatypes", {n: accepted[k] for n, k in self.kinds.items()})

    def plain_reader(self, *, binary: bool = False) -> PlainReader:
        """The spec's reader of plain V2 inputs, JSON or ``binary`` (see :class:`PlainReader`),
        made on first use and kept: the model pool makes both when it loads a model."""
        reader = self._readers.get(binary)
        if reader is None:
            reader = self._readers[binary] = PlainReader(self, binary=binary)
        return reader


def _shown(value: Any) -> str:
    return mask_value(value)  # a bad value is named, but never an e-mail or phone number


def _literal(name: str) -> str:
    """A column name inside a path template: its braces doubled, so ``format`` keeps them."""
    return name.replace("{", "{{").replace("}", "}}")


def _bad(path: str, expected: str, value: Any) -> InvalidInputError:
    return InvalidInputError(f"{path}: expected {expected}, got {_shown(value)}", field=path)


# -- columns ------------------------------------------------------------------------------


def number_values(values: list[Any], where: str, *, check_finite: bool) -> list[Any]:
    """JSON numbers as a list of ints and floats (booleans as 0/1, null as NaN).

    ``where`` formats a path from a row index, e.g. ``"instances[{}].age"``. The
    list itself comes back when it needs no change (the common case).
    """
    if check_finite:  # a lenient parse: NaN, infinities and huge integers may be there
        for row, value in enumerate(values):
            kind = type(value)
            if (kind is float and not isfinite(value)) or (kind is int and not _fits(value)):
                raise _bad(where.format(row), "a finite number", value)
    if set(map(type, values)) <= _NUMBER_TYPES:
        return values
    clean: list[Any] = []
    for row, value in enumerate(values):
        kind = type(value)
        if kind is float or kind is int:
            clean.append(value)
        elif kind is bool:
            clean.append(float(value))
        elif value is None:
            clean.append(np.nan)
        else:
            raise _bad(where.format(row), "a number", value)
    return clean


def number_column(values: list[Any], where: str, *, check_finite: bool) -> np.ndarray:
    """float64 array of JSON numbers (booleans as 0/1, null as NaN); see :func:`number_values`."""
    return np.array(number_values(values, where, check_finite=check_finite), dtype=np.float64)


def _fits(value: int) -> bool:
    try:
        float(value)
    except OverflowError:
        return False
    return True


def string_values(values: list[Any], where: str) -> list[Any]:
    """Strings, checked; numbers, booleans and null pass through (categories accept them)."""
    if not set(map(type, values)) <= _STRING_TYPES:
        for row, value in enumerate(values):
            if type(value) not in _LOOSE_STRING_TYPES or (
                type(value) is float and not isfinite(value)
            ):
                raise _bad(where.format(row), "a string", value)
    return values


def string_column(values: list[Any], where: str) -> np.ndarray:
    """object array of :func:`string_values`."""
    array = np.empty(len(values), dtype=object)
    array[:] = string_values(values, where)
    return array


def build_columns(
    spec: InputSpec, values: dict[str, list[Any]], where: str, *, check_finite: bool
) -> dict[str, InputColumn]:
    """Columns from per-column value lists of equal length, every value checked.

    Up to :data:`~modelry.features.rows.MAX_ROWS` rows (a request the preprocessor
    encodes row by row) the checked lists themselves are the columns: numpy arrays
    would only be read back value by value. Larger batches get arrays, float64 for
    numbers and object for strings. The common case (every number an int or float,
    every string a str) is one type check over all columns of a kind, and for arrays
    one numpy call per kind: a matrix, one row per column, each column a row view,
    built from one flat list. Anything else goes column by column, which finds the
    offending value. ``where`` is a path with ``{row}`` and ``{col}``.
    """
    rows = len(next(iter(values.values()))) if values else 0
    small = rows <= MAX_ROWS
    if small and not check_finite and _clean(spec, values):  # the usual request
        return cast(dict[str, InputColumn], values)  # the checked lists themselves
    columns: dict[str, InputColumn] = {}
    if spec.numbers:
        flat = list(chain.from_iterable(values[name] for name in spec.numbers))
        if not check_finite and set(map(type, flat)) <= _NUMBER_TYPES:
            if small:
                columns.update((name, values[name]) for name in spec.numbers)
            else:
                matrix = np.array(flat, dtype=np.float64).reshape(len(spec.numbers), rows)
                columns.update(zip(spec.numbers, matrix, strict=False))  # rows by construction
        else:
            for name in spec.numbers:
                path = where.replace("{col}", _literal(name)).replace("{row}", "{}")
                checked = number_values(values[name], path, check_finite=check_finite)
                columns[name] = checked if small else np.array(checked, dtype=np.float64)
    if spec.strings:
        flat = list(chain.from_iterable(values[name] for name in spec.strings))
        if set(map(type, flat)) <= _STRING_TYPES:
            if small:
                columns.update((name, values[name]) for name in spec.strings)
            else:
                matrix = np.array(flat, dtype=object).reshape(len(spec.strings), rows)
                columns.update(zip(spec.strings, matrix, strict=False))
        else:
            for name in spec.strings:
                path = where.replace("{col}", _literal(name)).replace("{row}", "{}")
                checked = string_values(values[name], path)
                columns[name] = checked if small else as_array(checked)
    return columns


def _clean(spec: InputSpec, values: Mapping[str, list[Any]]) -> bool:
    """Whether every number is an int or float and every string a str (one pass per kind)."""
    numbers = chain.from_iterable(map(values.__getitem__, spec.numbers))
    strings = chain.from_iterable(map(values.__getitem__, spec.strings))
    return set(map(type, numbers)) <= _NUMBER_TYPES and set(map(type, strings)) <= _STRING_TYPES


def _clean_records(spec: InputSpec, records: list[dict[str, Any]]) -> bool:
    """Whether every number is an int or float and every string a str, record by record."""
    numbers, strings = spec.numbers, spec.strings
    for record in records:
        get = record.__getitem__
        if not (
            set(map(type, map(get, numbers))) <= _NUMBER_TYPES
            and set(map(type, map(get, strings))) <= _STRING_TYPES
        ):
            return False
    return True


def records_to_columns(
    instances: Any, spec: InputSpec, *, check_finite: bool = False
) -> tuple[Mapping[str, InputColumn], int]:
    """``{"instances": [...]}``'s records as columns, and the row count.

    A request of up to :data:`~modelry.features.rows.MAX_ROWS` records whose values
    are all of their column's kind (int or float numbers, str strings) stays records
    (:class:`~modelry.data.columns.Records`), which the row path reads as they are;
    anything else becomes checked columns (:func:`build_columns`).

    Raises:
        InvalidInputError: not a non-empty list of objects, or a field is missing, extra
            or of the wrong type; the message names ``instances[i].field``.
    """
    if type(instances) is not list:
        raise _bad("instances", "a list of objects", instances)
    if not instances:
        raise InvalidInputError("instances: expected at least one instance", field="instances")
    key_set = spec.key_set
    for row, record in enumerate(instances):
        if type(record) is not dict:
            raise _bad(f"instances[{row}]", "an object", record)
        if record.keys() != key_set:
            raise _record_keys_error(row, record, spec)
    if len(instances) <= MAX_ROWS and not check_finite and _clean_records(spec, instances):
        return Records(instances, spec.names), len(instances)
    values = {name: [record[name] for record in instances] for name in spec.names}
    columns = build_columns(spec, values, "instances[{row}].{col}", check_finite=check_finite)
    return columns, len(instances)


def _record_keys_error(row: int, record: dict[str, Any], spec: InputSpec) -> InvalidInputError:
    missing = [n for n in spec.names if n not in record]
    if missing:
        return InvalidInputError(
            f"instances[{row}].{missing[0]}: missing field"
            + (f" (also missing: {', '.join(missing[1:])})" if len(missing) > 1 else ""),
            field=f"instances[{row}].{missing[0]}",
            missing=missing,
        )
    extra = sorted(set(record) - spec.key_set)
    return InvalidInputError(
        f"instances[{row}].{extra[0]}: unknown field; the model takes {', '.join(spec.names)}",
        field=f"instances[{row}].{extra[0]}",
        extra=extra,
    )


def request_columns(
    request: ParsedInferRequest, spec: InputSpec
) -> tuple[Mapping[str, InputColumn], int]:
    """A V2 request's inputs as columns, and the row count (see :func:`tensors_to_columns`).

    The common request (every input a tensor of shape ``[n]``, its data in JSON or in
    the binary extension, a few rows of clean values) is read by the spec's plain
    reader (:meth:`InputSpec.plain_reader`), in the model's order (JSON inputs are put
    in it first); anything else, errors included, goes the general way through
    :func:`~modelry.protocol.v2_wire.input_tensors`.
    """
    if not request.lenient:
        read = spec.plain_reader(binary=bool(request.tail))
        plain = read(request.raw_inputs, request.tail)
        if plain is None and not request.tail:
            # Another order? (Clients send inputs as their users add them.) Not for binary
            # data: its parts follow the inputs' own order.
            ordered = _in_order(request.raw_inputs, spec)
            plain = read(ordered, request.tail) if ordered is not None else None
        if plain is not None:
            return plain
    inputs = input_tensors(request)
    return tensors_to_columns(inputs, spec, check_finite=request.lenient)


def _in_order(raw_inputs: list[Any], spec: InputSpec) -> list[Any] | None:
    """The inputs in the spec's order, or None when their names are not the spec's
    (missing, extra, repeated or not strings: the general path names the mistake)."""
    try:
        by_name = {item["name"]: item for item in raw_inputs}
        if not len(by_name) == len(raw_inputs) == len(spec.names):
            return None
        return [by_name[name] for name in spec.names]
    except (KeyError, TypeError):
        return None


_Read: TypeAlias = tuple[dict[str, list[Any]], list[Any], list[Any]]
"""Plain inputs read: the columns by name, and all the values of number and of string columns."""


class PlainReader:
    """Reads the common V2 request in one loop over the spec's inputs, or says it is not one.

    Plain inputs come in the spec's order (:func:`request_columns` puts JSON ones in it
    first when they come in another); each has exactly ``name``, ``datatype``, ``shape``
    (``[n]``, n an int) and either ``data`` (a list of n values) or, when ``binary``,
    ``parameters`` holding only ``binary_data_size`` (the parts must add up to the
    request's binary data; BYTES parts are decoded by
    :func:`~modelry.protocol.v2_wire.decode_bytes_tensor`, numbers by their :mod:`struct`
    code, and must be finite). Its name is the spec's and its datatype one the column
    takes; every value is of its column's kind (int or float numbers, str strings; a
    binary BOOL goes the general way, which reads it as 0/1) and 0 < n <= :data:`MAX_ROWS`.
    One row becomes one :class:`~modelry.data.columns.Records` record (it joins a batch as
    V1's records do); more rows are the value lists themselves. Anything else (a missing
    key, an unhashable datatype, a float shape, a bad binary part) gives None, and the
    general path reads the request and names the mistake.

    Args:
        spec: The model's inputs.
        binary: Read the binary tensor extension (data after the JSON header), not JSON data.
    """

    __slots__ = ("binary", "inputs", "names")

    def __init__(self, spec: InputSpec, *, binary: bool) -> None:
        self.binary = binary
        self.names = spec.names
        self.inputs = tuple(
            (name, spec.datatypes[name], spec.kinds[name] == NUMBER) for name in spec.names
        )

    def __call__(
        self, raw_inputs: list[Any], tail: bytes
    ) -> tuple[Mapping[str, InputColumn], int] | None:
        """The inputs' columns and row count, or None when they are not plain."""
        if len(raw_inputs) != len(self.inputs) or not self.inputs or bool(tail) != self.binary:
            return None
        try:
            read = self._binary(raw_inputs, tail) if self.binary else self._json(raw_inputs)
        except (KeyError, TypeError, ValueError, IndexError, struct.error, ModelryError):
            return None  # not a dict, a key missing, an unhashable datatype, a bad part...
        if read is None:
            return None
        columns, numbers, strings = read
        # One type check per kind over all the values (JSON as orjson parses it holds
        # no NaN or infinity; binary data may).
        if not set(map(type, numbers)) <= _NUMBER_TYPES or (
            self.binary and not all(map(isfinite, numbers))
        ):
            return None
        if not set(map(type, strings)) <= _STRING_TYPES:
            return None
        n = len(columns[self.names[0]])
        if n == 1:
            return Records([{name: values[0] for name, values in columns.items()}], self.names), 1
        return columns, n

    def _json(self, raw_inputs: list[Any]) -> _Read | None:
        """Each input's data, its fields checked."""
        columns: dict[str, list[Any]] = {}
        numbers: list[Any] = []
        strings: list[Any] = []
        n = len(raw_inputs[0]["data"])
        if not 0 < n <= MAX_ROWS:
            return None
        shape = [n]
        for item, (name, datatypes, number) in zip(raw_inputs, self.inputs, strict=True):
            data = item["data"]
            if (
                len(item) != 4
                or type(data) is not list
                or len(data) != n
                or item["shape"] != shape
                or type(item["shape"][0]) is not int
                or item["name"] != name
                or item["datatype"] not in datatypes
            ):
                return None
            columns[name] = data
            (numbers if number else strings).extend(data)
        return columns, numbers, strings

    def _binary(self, raw_inputs: list[Any], tail: bytes) -> _Read | None:
        """Each input's part of the binary data, decoded, its fields checked."""
        columns: dict[str, list[Any]] = {}
        numbers: list[Any] = []
        strings: list[Any] = []
        shape = raw_inputs[0]["shape"]
        if len(shape) != 1 or type(shape[0]) is not int or not 0 < shape[0] <= MAX_ROWS:
            return None  # a batch, too: the general path decodes it into arrays
        n = shape[0]
        offset = 0
        for item, (name, datatypes, number) in zip(raw_inputs, self.inputs, strict=True):
            parameters = item["parameters"]
            size = parameters["binary_data_size"]
            datatype = item["datatype"]
            if (
                len(item) != 4
                or len(parameters) != 1
                or type(size) is not int
                or not 0 <= size <= len(tail) - offset
                or item["shape"] != shape
                or type(item["shape"][0]) is not int
                or item["name"] != name
                or datatype not in datatypes
            ):
                return None
            if number:  # by its struct code, little-endian as sent
                if size != n * NUMPY_DTYPES[datatype].itemsize:
                    return None
                code = f"<{n}{_STRUCT_CODES[datatype]}"
                values = list(struct.unpack_from(code, tail, offset))
                numbers.extend(values)
            else:  # BYTES: the one datatype a string column takes
                values = decode_bytes_tensor(tail[offset : offset + size], name)
                if len(values) != n:
                    return None
                strings.extend(values)
            columns[name] = values
            offset += size
        if offset != len(tail):
            return None
        return columns, numbers, strings


def tensors_to_columns(
    inputs: list[InputTensor], spec: InputSpec, *, check_finite: bool = False
) -> tuple[dict[str, InputColumn], int]:
    """V2 input tensors (one per column, shape ``[n]`` or ``[n, 1]``) as columns.

    Raises:
        InvalidInputError: a tensor is missing, extra, duplicated, of the wrong datatype
            or shape, or its rows disagree with the others'.
    """
    by_name = {item.name: item for item in inputs}
    if len(by_name) != len(inputs) or by_name.keys() != spec.key_set:
        raise _inputs_error(inputs, spec)
    n_rows = -1
    json_values: dict[str, list[Any]] = {}
    binary: dict[str, np.ndarray] = {}
    allowed = spec.datatypes
    for name, item in by_name.items():
        shape = item.shape
        rows = shape[0] if len(shape) == 1 else _rows_of(item)
        if rows != n_rows:
            if n_rows != -1:
                raise InvalidInputError(
                    f"{name}: shape {shape} has {rows} rows, other inputs have {n_rows}",
                    field=name,
                )
            n_rows = _rows_of(item)
        if item.datatype not in allowed[name]:
            raise _datatype_error(item, spec.kinds[name])
        if item.binary is not None:
            if rows <= MAX_ROWS:  # a request: values as JSON would have sent them
                json_values[name] = _binary_values(item, rows)
            else:
                binary[name] = _binary_column(item, rows)
            continue
        data = item.data or []
        if len(shape) == 2 and data and type(data[0]) is list:  # nested [[v], [v], ...]
            data = _flatten(item, data)
        if len(data) != rows:
            raise InvalidInputError(
                f"{name}: shape {shape} needs {rows} values, got {len(data)}", field=name
            )
        json_values[name] = data
    if n_rows <= 0:
        raise InvalidInputError("inputs: expected at least one row", field="inputs")
    json_spec = InputSpec({n: spec.kinds[n] for n in json_values}) if binary else spec
    columns = build_columns(json_spec, json_values, "{col}[{row}]", check_finite=check_finite)
    columns.update(binary)
    return columns, n_rows


def _datatype_error(item: InputTensor, kind: str) -> InvalidInputError:
    if kind == STRING:
        expected = "datatype BYTES (a string column)"
    else:
        expected = "a numeric datatype (FP64, FP32, INT64, INT32, BOOL)"
    return InvalidInputError(
        f"{item.name}: expected {expected}, got {item.datatype}", field=item.name
    )


def _inputs_error(inputs: list[InputTensor], spec: InputSpec) -> InvalidInputError:
    seen: set[str] = set()
    for i, item in enumerate(inputs):
        if item.name in seen:
            return InvalidInputError(
                f"inputs[{i}].name: duplicate input {item.name!r}", field=f"inputs[{i}].name"
            )
        seen.add(item.name)
        if item.name not in spec.kinds:
            return InvalidInputError(
                f"inputs[{i}].name: unknown input {item.name!r}; "
                f"the model takes {', '.join(spec.names)}",
                field=f"inputs[{i}].name",
            )
    missing = [n for n in spec.names if n not in seen]
    return InvalidInputError(
        f"inputs: missing input {missing[0]!r}"
        + (f" (also missing: {', '.join(missing[1:])})" if len(missing) > 1 else ""),
        field=f"inputs.{missing[0]}",
        missing=missing,
    )


def _rows_of(item: InputTensor) -> int:
    shape = item.shape
    if len(shape) in (1, 2) and type(shape[0]) is int and shape[0] >= 0 and shape[1:] in ([], [1]):
        return shape[0]
    raise InvalidInputError(
        f"{item.name}.shape: expected [n] or [n, 1], got {_shown(shape)}",
        field=f"{item.name}.shape",
    )


_STRUCT_CODES = {
    "BOOL": "?", "UINT8": "B", "UINT16": "H", "UINT32": "I", "UINT64": "Q", "INT8": "b",
    "INT16": "h", "INT32": "i", "INT64": "q", "FP16": "e", "FP32": "f", "FP64": "d",
}  # fmt: skip
"""The :mod:`struct` code of each fixed-width datatype (with ``<``: little-endian, as sent)."""


def _binary_data(item: InputTensor, rows: int) -> list[str] | bytes:
    """A binary tensor's elements, sizes checked: a BYTES tensor's strings, else its bytes
    (``rows`` values of the datatype's width)."""
    name, raw = item.name, item.binary
    assert raw is not None
    if item.datatype == "BYTES":
        values = decode_bytes_tensor(raw, name)
        if len(values) != rows:
            raise InvalidInputError(
                f"{name}: shape {item.shape} needs {rows} values, got {len(values)}", field=name
            )
        return values
    if len(raw) != rows * NUMPY_DTYPES[item.datatype].itemsize:
        raise InvalidInputError(
            f"{name}: {len(raw)} bytes of binary data for {rows} {item.datatype} values",
            field=name,
        )
    return raw


def _binary_values(item: InputTensor, rows: int) -> list[Any]:
    """A few rows of a binary tensor as a list, checked as JSON values are checked
    (numbers finite, booleans as 0/1): they then go the way of a JSON request's values,
    row path included. Larger tensors stay arrays (:func:`_binary_column`)."""
    data, where = _binary_data(item, rows), _literal(item.name) + "[{}]"
    if isinstance(data, list):
        return string_values(data, where)
    values = list(struct.unpack(f"<{rows}{_STRUCT_CODES[item.datatype]}", data))
    return number_values(values, where, check_finite=True)


def _binary_column(item: InputTensor, rows: int) -> np.ndarray:
    """A binary tensor as a column: object strings, or float64 numbers, all finite."""
    data, name = _binary_data(item, rows), item.name
    if isinstance(data, list):
        return string_column(data, _literal(name) + "[{}]")
    wire_type = NUMPY_DTYPES[item.datatype].newbyteorder("<")
    array = np.frombuffer(data, dtype=wire_type).astype(np.float64)
    if not np.isfinite(array).all():
        row = int(np.flatnonzero(~np.isfinite(array))[0])
        raise _bad(f"{name}[{row}]", "a finite number", float(array[row]))
    return array


def _flatten(item: InputTensor, data: list[Any]) -> list[Any]:
    flat: list[Any] = []
    for row in data:
        if type(row) is not list or len(row) != 1:
            raise _bad(f"{item.name}.data", "rows of one value each", row)
        flat.extend(row)
    return flat
