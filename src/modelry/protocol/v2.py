"""Open Inference Protocol v2 (REST): the message types and their wire format.

Every V2 body the service reads or writes is one of the ``TypedDict`` types below:
they cost nothing at run time (a request is the ``dict`` orjson made), mypy checks
every response built from them, and :mod:`modelry.protocol.schemas` turns them into
the OpenAPI components. Handlers never spell V2 dicts themselves: they call the
constructors here and :mod:`modelry.protocol.v2_wire` (parsing and rendering).

"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, NotRequired

import numpy as np
from typing_extensions import TypedDict

Datatype = Literal[
    "BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32", "INT64",
    "FP16", "FP32", "FP64", "BYTES",
]  # fmt: skip

NUMPY_DTYPES: dict[str, np.dtype[Any]] = {
    "BOOL": np.dtype(np.bool_),
    "UINT8": np.dtype(np.uint8),
    "UINT16": np.dtype(np.uint16),
    "UINT32": np.dtype(np.uint32),
    "UINT64": np.dtype(np.uint64),
    "INT8": np.dtype(np.int8),
    "INT16": np.dtype(np.int16),
    "INT32": np.dtype(np.int32),
    "INT64": np.dtype(np.int64),
    "FP16": np.dtype(np.float16),
    "FP32": np.dtype(np.float32),
    "FP64": np.dtype(np.float64),
}
"""Fixed-width datatypes and their little-endian numpy dtype (BYTES is variable-width)."""

HEADER_LENGTH = "inference-header-content-length"
EXTENSIONS = ["model_repository", "binary_tensor_data"]


class TensorMetadata(TypedDict):
    name: str
    datatype: Datatype
    shape: list[int]


class ServerMetadataResponse(TypedDict):
    name: str
    version: str
    extensions: list[str]


class ModelMetadataResponse(TypedDict):
    name: str
    versions: list[str]
    platform: str
    inputs: list[TensorMetadata]
    outputs: list[TensorMetadata]
    parameters: NotRequired[dict[str, Any]]


class ModelReadyResponse(TypedDict):
    name: str
    ready: bool


class RequestInput(TypedDict):
    name: str
    shape: list[int]
    datatype: Datatype
    data: NotRequired[list[Any]]
    parameters: NotRequired[dict[str, Any]]


class RequestOutput(TypedDict):
    name: str
    parameters: NotRequired[dict[str, Any]]


class InferenceRequest(TypedDict):
    id: NotRequired[str]
    parameters: NotRequired[dict[str, Any]]
    inputs: list[RequestInput]
    outputs: NotRequired[list[RequestOutput]]


class ResponseOutput(TypedDict):
    name: str
    shape: list[int]
    datatype: Datatype
    data: NotRequired[Any]
    parameters: NotRequired[dict[str, Any]]


class InferenceResponse(TypedDict):
    model_name: str
    model_version: str
    id: NotRequired[str]
    parameters: NotRequired[dict[str, Any]]
    outputs: list[ResponseOutput]


class RepositoryIndexEntry(TypedDict):
    name: str
    version: str
    state: Literal["READY", "UNAVAILABLE"]
    reason: str


class RepositoryIndexRequest(TypedDict):
    ready: NotRequired[bool]


class RepositoryLoadRequest(TypedDict):
    parameters: NotRequired[dict[str, Any]]


# -- parsed request ---------------------------------------------------------------------


@dataclass(slots=True)
class InputTensor:
    """One request input: JSON ``data`` (a list) or raw ``binary`` bytes, never both."""

    name: str
    datatype: str
    shape: list[int]
    data: list[Any] | None
    binary: bytes | None = None


@dataclass(slots=True)
class OutputTensor:
    """One response output before encoding: a name, a datatype and its values.

    The values are an array, or a flat list in row-major order with its ``shape``
    (what a request's rows of a batch's outputs become without a numpy call).
    """

    name: str
    datatype: Datatype
    array: np.ndarray | list[Any]
    shape: tuple[int, ...] | None = None  # of a list

    def dims(self) -> list[int]:
        """The tensor's shape."""
        if isinstance(self.array, list):
            assert self.shape is not None, "a list of values needs its shape"
            return list(self.shape)
        return list(self.array.shape)

    def as_array(self) -> np.ndarray:
        """The values as an array of the tensor's shape (object for BYTES)."""
        if not isinstance(self.array, list):
            return self.array
        dtype = object if self.datatype == "BYTES" else NUMPY_DTYPES[self.datatype]
        out = np.empty(len(self.array), dtype=dtype)
        out[:] = self.array
        return out.reshape(self.dims())


@dataclass(slots=True)
class ParsedInferRequest:
    """An ``InferenceRequest`` with its envelope checked; its inputs are read by the codecs."""

    id: str | None
    parameters: dict[str, Any] | None
    raw_inputs: list[Any]  # the ``inputs`` list as sent (see wire.input_tensors)
    tail: bytes  # the binary part after the JSON header (binary tensor extension)
    outputs: list[str] | None  # None: every output
    binary: set[str] | bool  # outputs sent as raw bytes; True: all of them
    lenient: bool = False  # parsed by the fallback: values may be NaN or infinite


def server_metadata(name: str, version: str) -> ServerMetadataResponse:
    return ServerMetadataResponse(name=name, version=version, extensions=list(EXTENSIONS))


def model_ready(name: str, ready: bool) -> ModelReadyResponse:
    return ModelReadyResponse(name=name, ready=ready)


def tensor(name: str, datatype: Datatype, shape: list[int]) -> TensorMetadata:
    return TensorMetadata(name=name, datatype=datatype, shape=shape)


def model_metadata(
    name: str,
    versions: list[str],
    inputs: list[TensorMetadata],
    outputs: list[TensorMetadata],
    *,
    platform: str = "onnxruntime",
    parameters: dict[str, Any] | None = None,
) -> ModelMetadataResponse:
    meta = ModelMetadataResponse(
        name=name, versions=versions, platform=platform, inputs=inputs, outputs=outputs
    )
    if parameters:
        meta["parameters"] = parameters
    return meta


def repository_entry(
    name: str, version: str, ready: bool, reason: str = ""
) -> RepositoryIndexEntry:
    return RepositoryIndexEntry(
        name=name, version=version, state="READY" if ready else "UNAVAILABLE", reason=reason
    )


SCHEMA_TYPES: dict[str, Any] = {
    "InferenceRequest": InferenceRequest,
    "InferenceResponse": InferenceResponse,
    "ServerMetadataResponse": ServerMetadataResponse,
    "ModelMetadataResponse": ModelMetadataResponse,
    "ModelReadyResponse": ModelReadyResponse,
    "RepositoryIndexEntry": RepositoryIndexEntry,
    "RepositoryLoadRequest": RepositoryLoadRequest,
}
"""The messages the OpenAPI document describes (see :mod:`modelry.protocol.schemas`)."""
