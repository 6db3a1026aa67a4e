"""The V2 wire format: parsing requests, rendering responses, binary tensors.

The binary tensor extension (what ``tritonclient.http`` sends by default) is
supported both ways: a request whose ``Inference-Header-Content-Length`` header
says how long its JSON part is carries raw tensors after it, each input naming its
``binary_data_size``; an output asked for with ``"binary_data": true`` (or every
output under ``"binary_data_output": true``) comes back the same way.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import orjson

from modelry.data.privacy import mask_value
from modelry.errors import InvalidInputError, RequestError
from modelry.protocol.v2 import (
    NUMPY_DTYPES,
    InferenceResponse,
    InputTensor,
    OutputTensor,
    ParsedInferRequest,
    ResponseOutput,
)


def _field_error(path: str, expected: str, got: Any) -> InvalidInputError:
    return InvalidInputError(f"{path}: expected {expected}, got {mask_value(got)}", field=path)


def _want(obj: Any, kind: type, path: str, expected: str) -> Any:
    if not isinstance(obj, kind):
        raise _field_error(path, expected, obj)
    return obj


def loads(body: bytes) -> tuple[Any, bool]:
    """Parse JSON, and say whether the lenient fallback parsed it.

    orjson refuses NaN, Infinity and overflowing numbers; those bodies are parsed
    again by the standard library so that validation can name the field (a 422),
    and the flag tells the codecs to check finiteness. Anything else that orjson
    refuses is malformed (a 400).
    """
    try:
        return orjson.loads(body), False
    except orjson.JSONDecodeError as exc:
        try:
            return json.loads(body), True
        except (ValueError, RecursionError):
            raise RequestError(f"malformed JSON: {exc}") from exc


def split_binary(body: bytes, header_length: str | None) -> tuple[bytes, bytes]:
    """The JSON part and the binary part of a body under the binary tensor extension."""
    if header_length is None:
        return body, b""
    try:
        size = int(header_length)
    except ValueError as exc:
        raise RequestError(f"bad Inference-Header-Content-Length {header_length!r}") from exc
    if not 0 <= size <= len(body):
        raise RequestError(
            f"Inference-Header-Content-Length {size} does not fit a body of {len(body)} bytes"
        )
    return body[:size], body[size:]


def parse_infer_request(body: bytes, header_length: str | None = None) -> ParsedInferRequest:
    """Check the envelope of an ``InferenceRequest``; keep its inputs as sent.

    The inputs are read by the codecs (:func:`~modelry.protocol.codecs.request_columns`),
    which take the common all-JSON request in one pass and call :func:`input_tensors`
    for anything else.

    Raises:
        RequestError: the body is not JSON, or the binary part does not add up (400).
        InvalidInputError: a field is missing or of the wrong type (422, names the field).
    """
    head, tail = split_binary(body, header_length)
    parsed, lenient = loads(head)
    doc = _want(parsed, dict, "body", "an object with 'inputs'")
    raw_inputs = _want(doc.get("inputs"), list, "inputs", "a list of tensors")
    request_id = doc.get("id")
    if request_id is not None:
        _want(request_id, str, "id", "a string")
    params = doc.get("parameters")
    if params is not None:
        _want(params, dict, "parameters", "an object")
    all_binary = bool(params and params.get("binary_data_output"))
    outputs: list[str] | None = None
    binary: set[str] | bool = all_binary
    raw_outputs = doc.get("outputs")
    if raw_outputs is not None:
        outputs, binary = [], set()
        for i, item in enumerate(_want(raw_outputs, list, "outputs", "a list")):
            _want(item, dict, f"outputs[{i}]", "an object with 'name'")
            name = _want(item.get("name"), str, f"outputs[{i}].name", "a string")
            outputs.append(name)
            out_params = item.get("parameters")
            wanted = all_binary
            if type(out_params) is dict:
                wanted = bool(out_params.get("binary_data", all_binary))
            if wanted:
                binary.add(name)
    return ParsedInferRequest(request_id, params, raw_inputs, tail, outputs, binary, lenient)


def input_tensors(request: ParsedInferRequest) -> list[InputTensor]:
    """The request's inputs, each checked for shape, with its binary data cut out.

    Raises:
        RequestError: the binary data sizes do not add up to the binary part (400).
        InvalidInputError: a tensor field is missing or of the wrong type (422).
    """
    tail = request.tail
    offset = 0
    inputs: list[InputTensor] = []
    for i, item in enumerate(request.raw_inputs):
        tensor, size = _parse_input(i, item)
        if size is not None:
            if offset + size > len(tail):
                raise RequestError(
                    f"inputs[{i}].parameters.binary_data_size {size} exceeds the binary data"
                )
            tensor.binary = tail[offset : offset + size]
            offset += size
        inputs.append(tensor)
    if offset != len(tail):
        raise RequestError(f"{len(tail) - offset} bytes of binary data belong to no input")
    return inputs


def _parse_input(i: int, item: Any) -> tuple[InputTensor, int | None]:
    """One input tensor, checked field by field; the binary data size if it has one.

    The fields are checked together and a path is only formatted for a mistake:
    a request of many inputs pays no string building for valid ones.
    """
    if not isinstance(item, dict):
        raise _field_error(f"inputs[{i}]", "a tensor object", item)
    fields: Any = item  # each field is checked below
    name, datatype, shape = fields.get("name"), fields.get("datatype"), fields.get("shape")
    params = fields.get("parameters") or {}
    if not (
        isinstance(name, str)
        and isinstance(datatype, str)
        and isinstance(shape, list)
        and isinstance(params, dict)
    ):
        path = f"inputs[{i}]"
        _want(name, str, f"{path}.name", "a string")
        _want(datatype, str, f"{path}.datatype", "a datatype string")
        _want(shape, list, f"{path}.shape", "a list of integers")
        _want(params, dict, f"{path}.parameters", "an object")
    size = params.get("binary_data_size")
    if size is not None:
        if type(size) is not int or size < 0:
            raise _field_error(f"inputs[{i}].parameters.binary_data_size", "a byte count", size)
        return InputTensor(name, datatype, shape, None), size
    data = fields.get("data")
    if not isinstance(data, list):
        raise _field_error(f"inputs[{i}].data", "a list", data)
    return InputTensor(name, datatype, shape, data), None


# -- BYTES tensors on the wire ----------------------------------------------------------


def decode_bytes_tensor(raw: bytes, path: str) -> list[str]:
    """Elements of a binary BYTES tensor: each a 4-byte little-endian length, then UTF-8."""
    out: list[str] = []
    pos, end = 0, len(raw)
    while pos < end:
        if pos + 4 > end:
            raise RequestError(f"{path}: truncated BYTES element length")
        size = int.from_bytes(raw[pos : pos + 4], "little")
        pos += 4
        if pos + size > end:
            raise RequestError(f"{path}: BYTES element overruns the binary data")
        try:
            out.append(raw[pos : pos + size].decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise InvalidInputError(f"{path}: BYTES element is not UTF-8", field=path) from exc
        pos += size
    return out


def encode_bytes_tensor(values: np.ndarray) -> bytes:
    """The binary BYTES form of an array of strings."""
    parts: list[bytes] = []
    for value in values.ravel().tolist():
        data = value.encode("utf-8") if isinstance(value, str) else bytes(value)
        parts.append(len(data).to_bytes(4, "little"))
        parts.append(data)
    return b"".join(parts)


# -- responses ----------------------------------------------------------------------------

_NUMPY_OPT = orjson.OPT_SERIALIZE_NUMPY


def render_infer_response(
    model_name: str,
    model_version: str,
    outputs: list[OutputTensor],
    *,
    request_id: str | None = None,
    binary: set[str] | bool = False,
    parameters: dict[str, Any] | None = None,
) -> tuple[bytes, int | None]:
    """The response body, and the JSON header length when binary outputs follow it.

    ``binary`` is the set of output names sent as raw bytes, or ``True`` for all.
    """
    rendered: list[ResponseOutput] = []
    blobs: list[bytes] = []
    for out in outputs:
        shape = out.dims()
        if binary is True or (binary and out.name in binary):
            array = out.as_array()
            if out.datatype == "BYTES":
                blob = encode_bytes_tensor(array)
            else:
                blob = np.ascontiguousarray(array, NUMPY_DTYPES[out.datatype]).tobytes()
            blobs.append(blob)
            rendered.append(
                ResponseOutput(
                    name=out.name,
                    shape=shape,
                    datatype=out.datatype,
                    parameters={"binary_data_size": len(blob)},
                )
            )
        else:
            values = out.array
            if not isinstance(values, list):
                flat = values.ravel()
                values = flat.tolist() if out.datatype == "BYTES" else flat
            rendered.append(
                {"name": out.name, "shape": shape, "datatype": out.datatype, "data": values}
            )
    response: InferenceResponse = {
        "model_name": model_name,
        "model_version": model_version,
        "outputs": rendered,
    }
    if request_id is not None:
        response["id"] = request_id
    if parameters:
        response["parameters"] = parameters
    head = orjson.dumps(response, option=_NUMPY_OPT)
    if not blobs:
        return head, None
    return b"".join([head, *blobs]), len(head)
