"""The runtime contract: what every kind of served model is.

A *kind* (a tabular network, a linear baseline, a text encoder, an uplift model, …) is
a :class:`Runtime` subclass. It declares its inputs and outputs as
:class:`~modelry.protocol.predictions.TensorSpec`, loads itself from a registry
version directory, and predicts a batch of columns into named outputs. HTTP (V1 and
V2), batch scoring, explanations and Ray reach every kind through the same
:class:`~modelry.serving.dataplane.DataPlane`, which derives V1 records, V2 tensors,
metadata and scored-file columns from the declaration; nothing above this module
branches on what a model predicts.

A kind may take an input from another served model first (:attr:`Runtime.upstream`):
e.g. a task head whose ``resume`` column is embedded by the shared ``text-encoder``
model. The data plane resolves that before :meth:`Runtime.predict` sees the column.

New kinds plug in through :mod:`modelry.serving.kinds` (the ``modelry.kinds``
entry-point group). This module is on the predict path: it imports neither pandas nor
torch.

Example:
    >>> class Doubler(Runtime):
    ...     kind = "doubler"
    ...     inputs = (TensorSpec("x", "FP64"),)
    ...     outputs = (TensorSpec("y", "FP64"),)
    ...     def load(self) -> None: pass
    ...     def predict(self, columns): return {"y": 2 * np.asarray(columns["x"], float)}
    >>> rt = Doubler(Path("."), name="double", version=1)
    >>> rt.predict({"x": [1.0, 2.5]})
    {'y': array([2., 5.])}
"""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from modelry.errors import ArtifactError
from modelry.protocol.predictions import (
    Outputs,
    TensorSpec,
    output_columns,
    output_records,
)

__all__ = ["Outputs", "Runtime", "TensorSpec", "Upstream", "make_session", "session_runner"]


@dataclass(frozen=True, slots=True)
class Upstream:
    """An input column that another served model turns into what this model takes.

    Attributes:
        model: The served model's name (e.g. ``"text-encoder"``).
        input: The served model's input the column is sent as (e.g. ``"text"``).
        output: The served model's output that replaces the column (e.g. ``"embedding"``).
        required: Refuse a missing, empty or non-text value (naming its column and row)
            instead of sending it: e.g. a résumé to screen, where an empty text would
            still embed, as the empty string, and be scored.
    """

    model: str
    input: str
    output: str
    required: bool = False


class Runtime(abc.ABC):
    """A loadable model of one kind: the one contract every transport reaches models through.

    Subclasses set :attr:`kind`, declare :attr:`inputs` and :attr:`outputs` (class
    attributes, or set by :meth:`load`), and implement :meth:`load` and :meth:`predict`.
    Everything else has a default derived from those declarations.

    Args:
        path: The registry version directory.
        name: The model's name.
        version: The version number (0 for a version not yet registered).
    """

    kind: ClassVar[str] = ""
    platform: ClassVar[str] = "modelry"
    """What ``GET /v2/models/{name}`` reports as the model's platform."""

    inputs: Sequence[TensorSpec] = ()
    """The columns a request carries, in order (valid once loaded)."""
    outputs: Sequence[TensorSpec] = ()
    """What :meth:`predict` returns, in order (valid once loaded)."""

    def __init__(self, path: Path, name: str, version: int) -> None:
        self.path = path
        self.name = name
        self.version = version
        self._loaded = False

    # -- to implement --------------------------------------------------------------------

    @abc.abstractmethod
    def load(self) -> None:
        """Read the version directory and make :meth:`predict` ready.

        Raises:
            ArtifactError: the directory is not a sound version of this kind.
        """

    @abc.abstractmethod
    def predict(self, columns: Mapping[str, Any]) -> Outputs:
        """One array per declared output for the rows of ``columns``.

        Args:
            columns: One column per input, all of one length. A column may be a numpy
                array, a list (a few rows), or dictionary-encoded text
                (:class:`~modelry.data.columns.Coded`, from files);
                :func:`~modelry.data.columns.plain_array` turns any of them into an array.

        Raises:
            InvalidInputError: a value the model refuses, naming its column and row.
        """

    # -- with defaults ------------------------------------------------------------------

    @property
    def ready(self) -> bool:
        """Whether :meth:`predict` may be called (set by :meth:`mark_loaded`)."""
        return self._loaded

    def mark_loaded(self, loaded: bool = True) -> None:
        """Record that :meth:`load` succeeded (or, with False, that the model is gone)."""
        self._loaded = loaded

    def unload(self) -> None:
        """Release what :meth:`load` acquired."""
        self._loaded = False

    @property
    def upstream(self) -> Mapping[str, Upstream]:
        """Input columns another served model computes first (none by default)."""
        return {}

    def input_kinds(self) -> dict[str, str]:
        """Each input column and the JSON type it expects: ``"number"`` or ``"string"``.

        Raises:
            ArtifactError: an input that is not one value per row.
        """
        kinds: dict[str, str] = {}
        for spec in self.inputs:
            kind = spec.column_kind
            if kind is None:
                raise ArtifactError(
                    f"{self.kind} model {self.name}: input {spec.name!r} of shape "
                    f"{list(spec.shape)} is not a column; declare it as an upstream output"
                )
            kinds[spec.name] = kind
        return kinds

    def parameters(self) -> dict[str, Any]:
        """Extra facts for the model's metadata (``GET /v2/models/{name}``, ``/v1/models``)."""
        return {"kind": self.kind}

    def records(self, outputs: Outputs) -> list[dict[str, Any]]:
        """The simple protocol's record per row (each output by name, by default)."""
        return output_records(outputs, self.outputs)

    def table_columns(self, outputs: Outputs) -> dict[str, np.ndarray]:
        """The columns a scored file gains (one per output or vector element, by default)."""
        return output_columns(outputs, self.outputs)

    def example(self) -> dict[str, list[Any]]:
        """One row the model must accept: checked at load against the declared outputs."""
        return {
            name: [0.0 if kind == "number" else ""] for name, kind in self.input_kinds().items()
        }


def make_session(model: bytes, threads: int = 1) -> Any:
    """An onnxruntime session tuned for small, latency-bound batches on few cores."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    try:
        return ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own untyped errors
        raise ArtifactError(f"cannot load the ONNX network: {exc}") from exc


def session_runner(session: Any) -> Any:
    """The session's ``run(output_names, feeds, run_options)``, without the Python wrapper.

    ``InferenceSession.run`` checks the feed names, the ownership of OrtValues and a
    WebGPU capture setting before it calls the compiled session (``_sess.run``), which
    checks the feeds again itself. Those checks cost 7–10 µs per call, half of what a
    one-row prediction costs onnxruntime (bench/history.md); modelry builds the feeds from
    the session's own input names, so the compiled call is all it needs. The wrapper's
    ``run`` remains the fallback where the compiled session is not exposed.
    """
    return getattr(getattr(session, "_sess", None), "run", None) or session.run
