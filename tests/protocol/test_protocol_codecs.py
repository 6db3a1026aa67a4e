"""Records and tensors to columns; predictions to records and tensors."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import orjson
import pytest

from modelry.data.columns import Records
from modelry.errors import InvalidInputError
from modelry.features.rows import MAX_ROWS
from modelry.protocol.codecs import (
    InputSpec,
    records_to_columns,
    request_columns,
    tensors_to_columns,
)
from modelry.protocol.predictions import (
    relabel_row_error,
)
from modelry.protocol.v2 import NUMPY_DTYPES, InputTensor

SPEC = InputSpec({"age": "number", "job": "string", "score": "number"})


MIXED = [
    {"age": 41, "job": "admin.", "score": 0.5},
    {"age": 30.5, "job": None, "score": None},
    {"age": True, "job": 7, "score": 2},
]


def test_a_few_records_become_checked_lists() -> None:
    """Up to MAX_ROWS rows the columns are lists, as the row path reads them."""
    columns, n = records_to_columns(MIXED, SPEC)
    assert n == 3 and all(type(c) is list for c in columns.values())
    assert columns["age"] == [41, 30.5, 1.0] and columns["job"] == ["admin.", None, 7]
    assert columns["score"][:1] == [0.5] and np.isnan(columns["score"][1])


def test_clean_records_stay_records() -> None:
    """Every value of its column's kind: the records themselves, read as columns."""
    rows = [{"age": 1, "job": "a", "score": 2.5}, {"score": 3, "job": "b", "age": 2.0}]
    columns, n = records_to_columns(rows, SPEC)
    assert type(columns) is Records and columns.rows is rows and n == 2
    assert dict(columns) == {"age": [1, 2.0], "job": ["a", "b"], "score": [2.5, 3]}
    for loose in ({"age": None}, {"job": 7}, {"score": True}):  # accepted, but not clean
        columns, _ = records_to_columns([rows[0], {**rows[1], **loose}], SPEC)
        assert type(columns) is dict and all(type(c) is list for c in columns.values())
    columns, _ = records_to_columns(rows, SPEC, check_finite=True)  # NaN tokens were sent
    assert type(columns) is dict
    columns, _ = records_to_columns(rows * MAX_ROWS, SPEC)  # beyond the row path: arrays
    assert type(columns) is dict and isinstance(columns["age"], np.ndarray)


def test_many_records_become_typed_arrays() -> None:
    rows = MIXED * (MAX_ROWS // 3 + 1)
    columns, n = records_to_columns(rows, SPEC)
    assert n == len(rows) > MAX_ROWS
    age, job, score = columns["age"], columns["job"], columns["score"]
    assert isinstance(age, np.ndarray) and isinstance(job, np.ndarray)
    assert isinstance(score, np.ndarray)
    assert age.dtype == np.float64 and age.tolist()[:3] == [41, 30.5, 1.0]
    assert job.dtype == object and job.tolist()[:3] == ["admin.", None, 7]
    assert np.isnan(score[1])
    assert all(c.flags.c_contiguous and c.shape == (n,) for c in (age, job, score))


def test_the_fast_path_gives_contiguous_views() -> None:
    rows = [{"age": 1, "job": "a", "score": 2}] * (MAX_ROWS + 1)
    columns, _ = records_to_columns(rows, SPEC)
    assert all(isinstance(c, np.ndarray) and c.flags.c_contiguous for c in columns.values())
    assert columns["age"].tolist() == [1.0] * 17 and columns["score"].tolist() == [2.0] * 17  # type: ignore[union-attr]
    assert columns["job"].tolist() == ["a"] * 17  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        (
            [{"age": "abc", "job": "a", "score": 1}],
            "instances[0].age: expected a number, got 'abc'",
        ),
        (
            [{"age": 1, "job": "a", "score": 1}, {"age": 1, "job": {}, "score": 1}],
            "instances[1].job",
        ),
        ([{"age": 1, "job": "a"}], "instances[0].score: missing field"),
        ([{"age": 1, "job": "a", "score": 1, "x": 0}], "instances[0].x: unknown field"),
        ([], "instances: expected at least one instance"),
        ("rows", "instances: expected a list of objects"),
        ([[1, 2, 3]], "instances[0]: expected an object"),
    ],
)
def test_record_errors(rows: Any, message: str) -> None:
    with pytest.raises(InvalidInputError) as info:
        records_to_columns(rows, SPEC)
    assert info.value.message.startswith(message)
    assert info.value.status_code == 422


def test_non_finite_values_only_from_the_lenient_parser() -> None:
    rows = [{"age": 1.0, "job": "a", "score": float("inf")}]
    with pytest.raises(InvalidInputError, match=r"instances\[0\].score: expected a finite"):
        records_to_columns(rows, SPEC, check_finite=True)
    rows = [{"age": 1.0, "job": float("nan"), "score": 1}]
    with pytest.raises(InvalidInputError, match=r"instances\[0\].job"):
        records_to_columns(rows, SPEC, check_finite=True)
    rows = [{"age": 10**400, "job": "a", "score": 1}]  # only the lenient parser reads these
    with pytest.raises(InvalidInputError, match=r"instances\[0\].age: expected a finite"):
        records_to_columns(rows, SPEC, check_finite=True)


def tensor(
    name: str, datatype: str, data: list[Any], shape: list[int] | None = None
) -> InputTensor:
    return InputTensor(name, datatype, shape or [len(data)], data)


def test_tensors_become_columns() -> None:
    inputs = [
        tensor("job", "BYTES", ["a", "b"]),
        tensor("age", "INT64", [[1], [2]], [2, 1]),
        InputTensor("score", "FP32", [2], None, np.array([0.5, 1.5], np.float32).tobytes()),
    ]
    columns, n = tensors_to_columns(inputs, SPEC)
    assert n == 2
    assert columns["age"] == [1, 2] and columns["job"] == ["a", "b"]  # JSON data: lists
    assert columns["score"] == [0.5, 1.5]  # binary, a few rows: a list as JSON would give


def binary_tensor(name: str, datatype: str, values: list[Any]) -> InputTensor:
    if datatype == "BYTES":
        raw = b"".join(len(v.encode()).to_bytes(4, "little") + v.encode() for v in values)
    else:
        raw = np.array(values, dtype=NUMPY_DTYPES[datatype]).tobytes()
    return InputTensor(name, datatype, [len(values)], None, raw)


@pytest.mark.parametrize("rows", [2, MAX_ROWS + 1])
def test_binary_tensors_read_as_json_ones(rows: int) -> None:
    ages, jobs = [41, 30] * rows, ["a", "b"] * rows
    inputs = [
        binary_tensor("age", "INT32", ages[:rows]),
        binary_tensor("job", "BYTES", jobs[:rows]),
        binary_tensor("score", "BOOL", [True, False] * (rows // 2) + [True] * (rows % 2)),
    ]
    columns, n = tensors_to_columns(inputs, SPEC)
    as_json, m = tensors_to_columns(
        [tensor("age", "INT64", ages[:rows]), tensor("job", "BYTES", jobs[:rows]),
         tensor("score", "BOOL", [True, False] * (rows // 2) + [True] * (rows % 2))],
        SPEC,
    )  # fmt: skip
    assert n == m == rows
    for name in ("age", "job", "score"):
        assert type(columns[name]) is type(as_json[name])  # lists up to MAX_ROWS, then arrays
        assert list(columns[name]) == list(as_json[name])
    assert list(columns["score"])[:2] == [1.0, 0.0]  # booleans as 0/1


@pytest.mark.parametrize("rows", [1, MAX_ROWS + 1])
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_binary_numbers_must_be_finite(rows: int, bad: float) -> None:
    inputs = [
        binary_tensor("age", "FP64", [41.0] * (rows - 1) + [bad]),
        tensor("job", "BYTES", ["a"] * rows),
        tensor("score", "FP64", [0.5] * rows),
    ]
    with pytest.raises(InvalidInputError, match=rf"age\[{rows - 1}\]: expected a finite number"):
        tensors_to_columns(inputs, SPEC)


def test_empty_tensors_are_refused() -> None:
    inputs = [tensor("job", "BYTES", []), tensor("age", "FP64", []), tensor("score", "FP64", [])]
    with pytest.raises(InvalidInputError, match="at least one row"):
        tensors_to_columns(inputs, SPEC)


def test_encoder_errors_are_relabelled() -> None:
    exc = InvalidInputError("column 'job', row 3: 'x' is not a category", column="job", row=3)
    assert relabel_row_error(exc, "instances").message == "instances[3].job: 'x' is not a category"
    other = InvalidInputError("something else")
    assert relabel_row_error(other, "instances") is other


def test_unknown_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown kind"):
        InputSpec({"a": "date"})


def v2_request(inputs: list[Any], **fields: Any) -> Any:
    from modelry.protocol import v2_wire

    return v2_wire.parse_infer_request(orjson.dumps({"inputs": inputs, **fields}))


PLAIN = [
    {"name": "age", "datatype": "INT64", "shape": [2], "data": [41, 30]},
    {"name": "job", "datatype": "BYTES", "shape": [2], "data": ["a", "b"]},
    {"name": "score", "datatype": "FP64", "shape": [2], "data": [0.5, 1.5]},
]


def test_a_plain_v2_request_is_read_by_the_plain_reader_as_the_general_path_reads_it() -> None:
    from modelry.protocol.codecs import tensors_to_columns
    from modelry.protocol.v2_wire import input_tensors

    request = v2_request(PLAIN)
    fast = SPEC.plain_reader()(request.raw_inputs, b"")
    assert fast is not None  # taken
    general = tensors_to_columns(input_tensors(request), SPEC)
    assert (
        fast
        == general
        == (
            {"age": [41, 30], "job": ["a", "b"], "score": [0.5, 1.5]},
            2,
        )
    )
    assert request_columns(request, SPEC) == fast
    assert SPEC.plain_reader() is SPEC.plain_reader()  # made once per spec


def test_inputs_in_another_order_are_put_in_order_and_read_the_same() -> None:
    shuffled = [PLAIN[2], PLAIN[0], PLAIN[1]]
    assert SPEC.plain_reader()(v2_request(shuffled).raw_inputs, b"") is None  # the reader's order
    columns, n = request_columns(v2_request(shuffled), SPEC)
    assert n == 2 and dict(columns) == {"age": [41, 30], "job": ["a", "b"], "score": [0.5, 1.5]}
    one = [{**item, "shape": [1], "data": item["data"][:1]} for item in shuffled]
    columns, n = request_columns(v2_request(one), SPEC)
    assert type(columns) is Records and n == 1  # the plain reader read it, once in order
    assert columns.rows == [{"age": 41, "job": "a", "score": 0.5}]


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        ([PLAIN[2], PLAIN[0], PLAIN[0]], "inputs[2].name: duplicate input 'age'"),
        ([PLAIN[2], PLAIN[0]], "inputs: missing input 'job'"),
        ([PLAIN[2], PLAIN[0], PLAIN[1], {**PLAIN[1], "name": "x"}], "inputs[3].name: unknown"),
        ([PLAIN[2], PLAIN[0], {**PLAIN[1], "name": ["job"]}], "inputs[2].name: expected a string"),
    ],
)
def test_names_that_cannot_be_put_in_order_are_named_by_the_general_path(
    inputs: list[Any], message: str
) -> None:
    with pytest.raises(InvalidInputError) as info:
        request_columns(v2_request(inputs), SPEC)
    assert info.value.message.startswith(message), info.value.message


@pytest.mark.parametrize("rows", [MAX_ROWS, MAX_ROWS + 1])
def test_the_plain_reader_takes_up_to_max_rows(rows: int) -> None:
    inputs = [{**item, "shape": [rows], "data": (item["data"] * rows)[:rows]} for item in PLAIN]
    plain = SPEC.plain_reader()(v2_request(inputs).raw_inputs, b"")
    assert (plain is not None) == (rows <= MAX_ROWS)
    columns, n = request_columns(v2_request(inputs), SPEC)
    assert n == rows and list(columns["age"]) == [41, 30] * (rows // 2) + [41] * (rows % 2)


def test_a_plain_one_row_v2_request_becomes_one_record() -> None:
    one = [{**item, "shape": [1], "data": item["data"][:1]} for item in PLAIN]
    columns, n = request_columns(v2_request(one), SPEC)
    assert type(columns) is Records and n == 1
    assert columns.rows == [{"age": 41, "job": "a", "score": 0.5}]
    assert dict(columns) == {"age": [41], "job": ["a"], "score": [0.5]}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"datatype": "BYTES"}, "age: expected a numeric datatype"),
        ({"shape": [3]}, "age: shape [3] needs 3 values"),
        ({"shape": [True]}, "age.shape: expected [n] or [n, 1]"),
        ({"data": ["x", "y"]}, "age[0]: expected a number, got 'x'"),
        ({"name": "agе"}, "inputs[0].name: unknown input"),
        ({"name": ["age"]}, "inputs[0].name: expected a string"),
        ({"datatype": ["INT64"]}, "inputs[0].datatype: expected a datatype string"),
        ({"data": None}, "inputs[0].data: expected a list"),
        ({"shape": [2], "data": [41]}, "age: shape [2] needs 2 values"),
        ({"parameters": {"x": 1}}, None),  # not plain, but valid: the general path reads it
        ({"data": [[41], [30]], "shape": [2, 1]}, None),
    ],
)
def test_anything_but_a_plain_v2_request_takes_the_general_path(
    change: dict[str, Any], message: str | None
) -> None:
    inputs = [{**PLAIN[0], **change}, *PLAIN[1:]]
    if "data" in change and change["data"] is None:  # four keys, one of them not "data"
        inputs[0] = {k: v for k, v in inputs[0].items() if k != "data"} | {"parameters": {}}
    if message is None:
        columns, n = request_columns(v2_request(inputs), SPEC)
        assert n == 2 and columns["age"] == [41, 30]
        return
    with pytest.raises(InvalidInputError) as info:
        request_columns(v2_request(inputs), SPEC)
    assert info.value.message.startswith(message), info.value.message


ONE = [{**item, "shape": [1], "data": item["data"][:1]} for item in PLAIN]


@pytest.mark.parametrize(
    ("index", "change", "message"),
    [
        (0, {"data": ["41"]}, "age[0]: expected a number, got '41'"),
        (0, {"data": [True]}, None),  # a boolean is a number (1.0) the general way
        (1, {"data": [7]}, None),  # a number in a string column: categories take it
        (2, {"data": [None]}, None),  # null: a missing value
        (0, {"shape": [1.0]}, "age.shape: expected [n] or [n, 1]"),
        (2, {"datatype": "BYTES"}, "score: expected a numeric datatype"),
        (1, {"name": "jobs"}, "inputs[1].name: unknown input"),
    ],
)
def test_one_row_that_is_not_plain_takes_the_general_path(
    index: int, change: dict[str, Any], message: str | None
) -> None:
    inputs = [dict(item) for item in ONE]
    inputs[index].update(change)
    assert SPEC.plain_reader()(v2_request(inputs).raw_inputs, b"") is None
    if message is None:
        columns, n = request_columns(v2_request(inputs), SPEC)
        assert n == 1 and type(columns) is not Records
        return
    with pytest.raises(InvalidInputError) as info:
        request_columns(v2_request(inputs), SPEC)
    assert info.value.message.startswith(message), info.value.message


def test_the_plain_reader_takes_any_column_name() -> None:
    odd = InputSpec({'it\'s "odd"\n': "number", "__import__('os').system('false')": "string"})
    inputs = [
        {"name": name, "datatype": "FP64" if kind == "number" else "BYTES", "shape": [1],
         "data": [1.5] if kind == "number" else ["x"]}
        for name, kind in odd.kinds.items()
    ]  # fmt: skip
    columns, n = request_columns(v2_request(inputs), odd)
    assert type(columns) is Records  # the plain reader read it
    assert n == 1 and dict(columns) == {
        'it\'s "odd"\n': [1.5],
        "__import__('os').system('false')": ["x"],
    }


def binary_request(
    tensors: list[InputTensor], json_inputs: list[dict[str, Any]] | None = None
) -> Any:
    """A V2 request whose ``tensors`` travel in the binary extension, as tritonclient sends them."""
    from modelry.protocol import v2_wire

    assert all(t.binary is not None for t in tensors)
    head = [
        {"name": t.name, "datatype": t.datatype, "shape": t.shape,
         "parameters": {"binary_data_size": len(t.binary or b"")}}
        for t in tensors
    ]  # fmt: skip
    header = orjson.dumps({"inputs": head + (json_inputs or [])})
    tail = b"".join(t.binary or b"" for t in tensors)
    return v2_wire.parse_infer_request(header + tail, str(len(header)))


BINARY_ROWS = {
    "age": ("INT64", [41, 30]),
    "job": ("BYTES", ["a", "b"]),
    "score": ("FP64", [0.5, 1.5]),
}


@pytest.mark.parametrize("rows", [1, 2, MAX_ROWS + 1])
@pytest.mark.parametrize("order", [("age", "job", "score"), ("score", "age", "job")])
def test_binary_requests_are_read_by_the_plain_binary_reader_as_json_ones(
    rows: int, order: tuple[str, ...]
) -> None:
    tensors = []
    for name in order:
        datatype, values = BINARY_ROWS[name]
        tensors.append(binary_tensor(name, datatype, (values * rows)[:rows]))
    request = binary_request(tensors)
    taken = SPEC.plain_reader(binary=True)(request.raw_inputs, request.tail)
    assert (taken is not None) == (rows <= MAX_ROWS and order == SPEC.names)
    columns, n = request_columns(request, SPEC)
    as_json, m = request_columns(
        v2_request([{"name": t.name, "datatype": "FP64" if t.datatype != "BYTES" else "BYTES",
                     "shape": [rows], "data": (BINARY_ROWS[t.name][1] * rows)[:rows]}
                    for t in tensors]),
        SPEC,
    )  # fmt: skip
    assert n == m == rows
    if taken:  # one row: a record, as JSON's
        assert type(columns) is type(as_json)
    # In another order the general path reads it: the binary parts follow the inputs' order
    # (two numbers of one width swapped by name would otherwise swap their values).
    assert {k: list(columns[k]) for k in SPEC.names} == {k: list(as_json[k]) for k in SPEC.names}


@pytest.mark.parametrize("rows", [1, 2])
@pytest.mark.parametrize("bad", [np.nan, -np.inf])
def test_a_non_finite_binary_number_is_named_by_the_general_path(rows: int, bad: float) -> None:
    tensors = [
        binary_tensor("age", "FP32", [41.0] * (rows - 1) + [bad]),
        binary_tensor("job", "BYTES", ["a"] * rows),
        binary_tensor("score", "FP64", [0.5] * rows),
    ]
    request = binary_request(tensors)
    assert SPEC.plain_reader(binary=True)(request.raw_inputs, request.tail) is None
    with pytest.raises(InvalidInputError, match=rf"age\[{rows - 1}\]: expected a finite number"):
        request_columns(request, SPEC)


def test_binary_booleans_and_mixed_requests_take_the_general_path() -> None:
    flags = binary_request(
        [binary_tensor("age", "BOOL", [True]), binary_tensor("job", "BYTES", ["a"]),
         binary_tensor("score", "FP64", [0.5])]
    )  # fmt: skip
    assert SPEC.plain_reader(binary=True)(flags.raw_inputs, flags.tail) is None
    assert request_columns(flags, SPEC)[0]["age"] == [1.0]  # a boolean is 0/1
    mixed = binary_request(
        [binary_tensor("age", "INT64", [41]), binary_tensor("job", "BYTES", ["a"])],
        [{"name": "score", "datatype": "FP64", "shape": [1], "data": [0.5]}],
    )
    assert SPEC.plain_reader(binary=True)(mixed.raw_inputs, mixed.tail) is None
    assert dict(request_columns(mixed, SPEC)[0]) == {"age": [41], "job": ["a"], "score": [0.5]}


def test_binary_parts_that_do_not_add_up_are_named_by_the_general_path() -> None:
    from modelry.errors import RequestError

    request = binary_request(
        [binary_tensor("age", "INT64", [41]), binary_tensor("job", "BYTES", ["a"]),
         binary_tensor("score", "FP64", [0.5])]
    )  # fmt: skip
    short = replace(request, tail=request.tail[:-1])  # one byte of the last part missing
    assert SPEC.plain_reader(binary=True)(short.raw_inputs, short.tail) is None
    with pytest.raises(RequestError, match="exceeds the binary data"):
        request_columns(short, SPEC)


def test_binary_parts_in_another_order_keep_their_own_names() -> None:
    numbers = InputSpec({"a": "number", "b": "number"})  # one width: a swap would go unseen
    request = binary_request([binary_tensor("b", "FP64", [2.0]), binary_tensor("a", "FP64", [1.0])])
    columns, n = request_columns(request, numbers)
    assert n == 1 and dict(columns) == {"a": [1.0], "b": [2.0]}


def test_a_binary_string_that_is_not_utf8_is_named_by_the_general_path() -> None:
    job = InputTensor("job", "BYTES", [1], None, (2).to_bytes(4, "little") + b"\xff\xfe")
    request = binary_request(
        [binary_tensor("age", "INT64", [41]), job, binary_tensor("score", "FP64", [0.5])]
    )
    assert SPEC.plain_reader(binary=True)(request.raw_inputs, request.tail) is None
    with pytest.raises(InvalidInputError, match="job: BYTES element is not UTF-8"):
        request_columns(request, SPEC)


def test_a_column_name_with_braces_is_named_as_it_is() -> None:
    """Found by Hypothesis: the path templates formatted the row into the column's own braces."""
    odd = InputSpec({"{x}": "number", "{": "string"})
    with pytest.raises(InvalidInputError, match=r"instances\[0\]\.\{x\}: expected a number"):
        records_to_columns([{"{x}": "a", "{": "b"}], odd)
    with pytest.raises(InvalidInputError, match=r"\{\[1\]: expected a string"):
        tensors_to_columns(
            [tensor("{x}", "FP64", [1.0, 2.0]), tensor("{", "BYTES", ["a", [1]])], odd
        )
    binary = InputTensor("{x}", "FP64", [1], None, np.array([np.inf]).tobytes())
    with pytest.raises(InvalidInputError, match=r"\{x\}\[0\]: expected a finite number"):
        tensors_to_columns([binary, tensor("{", "BYTES", ["a"])], odd)
