"""Property: the plain V2 reader and the general tensor path read any request alike.

Hypothesis draws a model's inputs and V2 requests for it, JSON or with binary tensors,
in the model's order or another, clean or not (values of the other kind, null, NaN,
unusual datatypes and shapes, a field too many, an input missing or repeated).
:func:`request_columns` (the plain reader first) must give what the general path gives,
the same columns or the same error; and a clean request of a few rows must be read by
the plain reader.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from modelry.errors import ModelryError
from modelry.features.rows import MAX_ROWS
from modelry.protocol import v2_wire
from modelry.protocol.codecs import InputSpec, request_columns, tensors_to_columns
from modelry.protocol.v2 import NUMPY_DTYPES

NUMBER_DATATYPES = sorted(NUMPY_DTYPES)
FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

specs = st.dictionaries(
    st.text(min_size=1, max_size=6),
    st.sampled_from(["number", "string"]),
    min_size=1,
    max_size=5,
).map(InputSpec)
json_numbers = st.one_of(
    st.integers(-(2**63), 2**64 - 1), st.floats(allow_nan=False, allow_infinity=False)
)
strings = st.text(max_size=8)
loose = st.one_of(st.none(), st.booleans(), json_numbers, strings)  # accepted or not: general


def outcome(read: Any) -> Any:
    """The columns as plain lists (NaN comparable) and the row count, or the error."""
    try:
        columns, n = read()
    except ModelryError as exc:
        return f"{type(exc).__name__}: {exc}"
    return {
        name: [repr(v) for v in (values.tolist() if isinstance(values, np.ndarray) else values)]
        for name, values in dict(columns).items()
    }, n


def general(request: Any, spec: InputSpec) -> Any:
    return tensors_to_columns(v2_wire.input_tensors(request), spec, check_finite=request.lenient)


@st.composite
def json_requests(draw: st.DrawFn) -> tuple[InputSpec, bytes, bool]:
    """A spec, a JSON V2 body for it, and whether the body is plain (the reader must take it)."""
    spec = draw(specs)
    n = draw(st.integers(0, MAX_ROWS + 2))
    plain = 0 < n <= MAX_ROWS
    inputs = []
    for name, kind in spec.kinds.items():
        clean = json_numbers if kind == "number" else strings
        values = draw(st.lists(st.one_of(clean, loose) if draw(st.booleans()) else clean,
                               min_size=n, max_size=n))  # fmt: skip
        ok = all(type(v) in ((int, float) if kind == "number" else (str,)) for v in values)
        datatype = "BYTES" if kind == "string" else draw(st.sampled_from(["FP64", "INT64", "FP32"]))
        if draw(st.integers(0, 9)) == 0:  # a datatype the column may not take
            datatype, ok = draw(st.sampled_from([*NUMBER_DATATYPES, "BYTES", "STRING"])), False
        item: dict[str, Any] = {"name": name, "datatype": datatype, "shape": [n], "data": values}
        change = draw(st.integers(0, 14))
        if change == 0:
            item["shape"] = [n, 1]
            item["data"] = [[v] for v in values]
        elif change == 1:
            item["shape"] = [n + 1]
        elif change == 2:
            item["parameters"] = {}
        elif change == 3:
            item["name"] = name + "x"
        plain = plain and ok and change > 3
        inputs.append(item)
    if draw(st.integers(0, 14)) == 0 and inputs:  # one input too few, or twice
        inputs = inputs[1:] if draw(st.booleans()) else [*inputs, inputs[0]]
        plain = False
    inputs = draw(st.permutations(inputs))  # clients send them in any order
    return spec, orjson.dumps({"inputs": inputs}), plain


@FAST
@given(case=json_requests())
def test_json_requests_are_read_as_the_general_path_reads_them(
    case: tuple[InputSpec, bytes, bool],
) -> None:
    spec, body, plain = case
    request = v2_wire.parse_infer_request(body)
    assert outcome(lambda: request_columns(request, spec)) == outcome(
        lambda: general(request, spec)
    )
    if plain:  # clean and in any order: the plain reader reads it
        reordered = sorted(request.raw_inputs, key=lambda item: spec.names.index(item["name"]))
        assert spec.plain_reader()(reordered, b"") is not None


def binary_part(datatype: str, values: list[Any]) -> bytes:
    if datatype == "BYTES":
        return b"".join(len(v.encode()).to_bytes(4, "little") + v.encode() for v in values)
    return np.array(values, dtype=NUMPY_DTYPES[datatype]).tobytes()


@st.composite
def binary_requests(draw: st.DrawFn) -> tuple[InputSpec, bytes, str, bool]:
    """A spec, a V2 body with binary tensors for it, its header length, and whether plain."""
    spec = draw(specs)
    n = draw(st.integers(1, MAX_ROWS + 2))
    plain = n <= MAX_ROWS
    head, parts = [], []
    for name, kind in spec.kinds.items():
        if kind == "string":
            datatype = "BYTES"
            values: list[Any] = draw(st.lists(strings, min_size=n, max_size=n))
        else:
            datatype = draw(st.sampled_from(["FP64", "FP32", "INT64", "INT32", "UINT8", "BOOL"]))
            dtype = NUMPY_DTYPES[datatype]
            if dtype.kind == "f":
                values = draw(st.lists(st.floats(width=8 * dtype.itemsize), min_size=n, max_size=n))
                plain = plain and all(map(math.isfinite, values))
            elif dtype.kind == "b":
                values = draw(st.lists(st.booleans(), min_size=n, max_size=n))
                plain = False  # booleans are read as 0/1 by the general path
            else:
                info = np.iinfo(dtype)
                values = draw(
                    st.lists(st.integers(int(info.min), int(info.max)), min_size=n, max_size=n)
                )
        part = binary_part(datatype, values)
        if draw(st.integers(0, 19)) == 0:  # a part a byte short: the sizes do not add up
            part, plain = part[:-1], False
        head.append({"name": name, "datatype": datatype, "shape": [n],
                     "parameters": {"binary_data_size": len(part)}})  # fmt: skip
        parts.append(part)
    order = draw(st.permutations(range(len(head))))
    if list(order) != sorted(order):
        plain = False  # binary parts follow the inputs' own order: never reordered
    header = orjson.dumps({"inputs": [head[i] for i in order]})
    tail = b"".join(parts[i] for i in order)
    return spec, header + tail, str(len(header)), plain


@FAST
@given(case=binary_requests())
def test_binary_requests_are_read_as_the_general_path_reads_them(
    case: tuple[InputSpec, bytes, str, bool],
) -> None:
    spec, body, header_length, plain = case
    try:
        request = v2_wire.parse_infer_request(body, header_length)
    except ModelryError:
        return  # a part that does not add up may be refused while parsing: no reader runs
    assert outcome(lambda: request_columns(request, spec)) == outcome(
        lambda: general(request, spec)
    )
    taken = spec.plain_reader(binary=True)(request.raw_inputs, request.tail)
    assert (taken is not None) == plain
