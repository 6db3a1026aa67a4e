"""The V2 envelope, binary tensors and responses."""

from __future__ import annotations

import json

import numpy as np
import orjson
import pytest

from modelry.errors import InvalidInputError, RequestError
from modelry.protocol import v2, v2_wire
from modelry.protocol.schemas import json_schemas


def body(**fields: object) -> bytes:
    doc = {"inputs": [{"name": "a", "datatype": "FP64", "shape": [1], "data": [1.0]}], **fields}
    return json.dumps(doc).encode()


def test_parse_plain_request() -> None:
    parsed = v2_wire.parse_infer_request(body(id="r1", parameters={"x": 1}))
    assert parsed.id == "r1" and parsed.parameters == {"x": 1}
    inputs = v2_wire.input_tensors(parsed)
    assert inputs[0].name == "a" and inputs[0].data == [1.0]
    assert parsed.outputs is None and parsed.binary is False and parsed.lenient is False


def test_parse_outputs_and_binary_flags() -> None:
    outputs = [{"name": "p", "parameters": {"binary_data": True}}, {"name": "l"}]
    parsed = v2_wire.parse_infer_request(body(outputs=outputs))
    assert parsed.outputs == ["p", "l"] and parsed.binary == {"p"}
    parsed = v2_wire.parse_infer_request(body(parameters={"binary_data_output": True}))
    assert parsed.binary is True
    outputs = [{"name": "p", "parameters": {"binary_data": False}}, {"name": "l"}]
    flags = {"binary_data_output": True}
    parsed = v2_wire.parse_infer_request(body(outputs=outputs, parameters=flags))
    assert parsed.binary == {"l"}


def test_binary_inputs_are_cut_from_the_tail() -> None:
    raw = np.array([1.5, 2.5]).tobytes()
    words = v2_wire.encode_bytes_tensor(np.array(["hé", ""], dtype=object))
    head = json.dumps(
        {
            "inputs": [
                {
                    "name": "a",
                    "datatype": "FP64",
                    "shape": [2],
                    "parameters": {"binary_data_size": 16},
                },
                {
                    "name": "b",
                    "datatype": "BYTES",
                    "shape": [2],
                    "parameters": {"binary_data_size": len(words)},
                },
            ]
        }
    ).encode()
    inputs = v2_wire.input_tensors(v2_wire.parse_infer_request(head + raw + words, str(len(head))))
    assert inputs[0].binary == raw
    assert v2_wire.decode_bytes_tensor(inputs[1].binary or b"", "b") == ["hé", ""]
    with pytest.raises(RequestError, match="belong to no input"):
        v2_wire.input_tensors(
            v2_wire.parse_infer_request(head + raw + words + b"x", str(len(head)))
        )
    with pytest.raises(RequestError, match="exceeds"):
        v2_wire.input_tensors(v2_wire.parse_infer_request(head + raw, str(len(head))))


@pytest.mark.parametrize("raw", [b"\x05\x00\x00\x00ab", b"\x01\x00"])
def test_truncated_bytes_tensor(raw: bytes) -> None:
    with pytest.raises(RequestError):
        v2_wire.decode_bytes_tensor(raw, "b")


def test_lenient_parse_flags_nan() -> None:
    value, lenient = v2_wire.loads(b'{"a": NaN}')
    assert lenient and value["a"] != value["a"]
    assert v2_wire.loads(b'{"a": 1}') == ({"a": 1}, False)
    with pytest.raises(RequestError, match="malformed JSON"):
        v2_wire.loads(b"{")


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        (
            {"inputs": [{"name": 1, "datatype": "FP64", "shape": [1], "data": [1]}]},
            "inputs[0].name",
        ),
        (
            {"inputs": [{"name": "a", "datatype": "FP64", "shape": 1, "data": [1]}]},
            "inputs[0].shape",
        ),
        (
            {"inputs": [{"name": "a", "datatype": "FP64", "shape": [1], "parameters": 3}]},
            "inputs[0].parameters",
        ),
        ({"inputs": [1]}, "inputs[0]: expected a tensor object"),
        ({"inputs": [], "outputs": [{"nom": "p"}]}, "outputs[0].name"),
        ({"inputs": [], "parameters": []}, "parameters: expected an object"),
    ],
)
def test_envelope_errors_name_the_field(doc: object, message: str) -> None:
    with pytest.raises(InvalidInputError) as info:
        v2_wire.input_tensors(v2_wire.parse_infer_request(json.dumps(doc).encode()))
    assert info.value.message.startswith(message)


def test_render_json_and_binary() -> None:
    outputs = [
        v2.OutputTensor("label", "BYTES", np.array(["yes"], dtype=object)),
        v2.OutputTensor("probability", "FP32", np.array([0.25], dtype=np.float32)),
    ]
    content, size = v2_wire.render_infer_response("m", "3", outputs, request_id="r")
    assert size is None
    doc = orjson.loads(content)
    assert doc["id"] == "r" and doc["outputs"][1]["data"] == [0.25]
    content, size = v2_wire.render_infer_response("m", "3", outputs, binary={"probability"})
    assert size is not None
    doc = orjson.loads(content[:size])
    assert doc["outputs"][1]["parameters"] == {"binary_data_size": 4}
    assert np.frombuffer(content[size:], np.float32).tolist() == [0.25]
    content, size = v2_wire.render_infer_response("m", "3", outputs, binary=True)
    assert size is not None
    assert content[size:].startswith(b"\x03\x00\x00\x00yes")


@pytest.mark.parametrize("binary", [False, {"probability"}, True])
def test_list_tensors_render_as_the_arrays_they_stand_for(binary: set[str] | bool) -> None:
    probabilities = np.array([[0.25, 0.75], [0.5, 0.5]], dtype=np.float32)
    arrays = [
        v2.OutputTensor("label", "BYTES", np.array(["yes", "no"], dtype=object)),
        v2.OutputTensor("probability", "FP32", probabilities),
    ]
    lists = [
        v2.OutputTensor("label", "BYTES", ["yes", "no"], (2,)),
        v2.OutputTensor("probability", "FP32", list(probabilities.ravel()), (2, 2)),
    ]
    assert v2_wire.render_infer_response("m", "1", lists, binary=binary) == (
        v2_wire.render_infer_response("m", "1", arrays, binary=binary)
    )


def test_json_schemas_for_openapi() -> None:
    schemas = json_schemas()
    assert schemas["InferenceRequest"]["required"] == ["inputs"]
    assert "instances" in schemas["PredictRequest"]["properties"]
