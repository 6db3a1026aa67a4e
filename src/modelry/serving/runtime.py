"""The runtime contract, and the runtime of a trained tabular model.

Every model, whatever it is, is reached through a :class:`Runtime`: ``load``,
``predict``, ``unload``, ``ready``, ``name``, ``version``. HTTP, the CLI's batch
scoring and Ray all call the same object. This module is on the predict path: it
imports neither pandas nor torch.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from modelry.data.columns import InputColumn
from modelry.data.schema import Schema, Task
from modelry.errors import ArtifactError, NotFittedError
from modelry.features.preprocessor import Preprocessor
from modelry.registry.artifact import Artifact, load_artifact
from modelry.registry.layout import (
    MODEL_FILE,
    NETWORK_FILE,
    PREPROCESSOR_FILE,
    SCHEMA_FILE,
    NetworkSpec,
    read_spec,
)
from modelry.serving.thresholds import apply_group_thresholds


@dataclass(frozen=True, slots=True)
class Prediction:
    """What a model says about a batch of rows.

    ``scores`` is P(positive class) ``[n]`` for a binary task, class probabilities
    ``[n, K]`` for a multi-class task, and the predicted value ``[n]`` for regression.
    ``labels`` is the predicted class label per row (``None`` for regression).
    """

    task: Task
    scores: np.ndarray
    labels: np.ndarray | None
    classes: list[str] | None


class Runtime(abc.ABC):
    """A loadable model: the one contract every transport reaches models through."""

    def __init__(self, name: str, version: int) -> None:
        self.name = name
        self.version = version

    @property
    @abc.abstractmethod
    def ready(self) -> bool: ...

    @abc.abstractmethod
    def load(self) -> None: ...

    @abc.abstractmethod
    def predict(self, columns: Mapping[str, InputColumn]) -> Prediction: ...

    @abc.abstractmethod
    def unload(self) -> None:
        """Release what ``load`` acquired."""

    def metadata(self) -> dict[str, Any]:
        """Name, version and the inputs and outputs, for ``GET /v2/models/{name}``."""
        return {"name": self.name, "version": self.version}


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
    one-row prediction costs onnxruntime (bench/RESULTS.md); modelry builds the feeds from
    the session's own input names, so the compiled call is all it needs. The wrapper's
    ``run`` remains the fallback where the compiled session is not exposed.
    """
    return getattr(getattr(session, "_sess", None), "run", None) or session.run


class TabularRuntime(Runtime):
    """A network trained by modelry on a table: fitted preprocessing, then one ONNX call.

    Example:
        >>> rt = TabularRuntime(Path("models/bank/1"), name="bank", version=1)  # doctest: +SKIP
        >>> rt.load()  # doctest: +SKIP
        >>> rt.predict({"age": np.array([41.0]), "job": np.array(["admin."], dtype=object)})
    """

    def __init__(self, path: Path, name: str, version: int, *, threads: int = 1) -> None:
        super().__init__(name, version)
        self.path = path
        self.threads = threads
        self._session: Any = None
        self._group_thresholds: dict[str, dict[str, float]] | None = None
        self.artifact: Artifact | None = None
        self.preprocessor: Preprocessor | None = None
        self.schema: Schema | None = None
        self.network = NetworkSpec(task=Task.BINARY, n_dense=0, n_outputs=1)  # until loaded

    @property
    def ready(self) -> bool:
        return self._session is not None

    def load(self) -> None:
        artifact = load_artifact(self.path)
        self.network = read_spec(
            NetworkSpec, artifact.read_json(NETWORK_FILE), f"{self.path}/{NETWORK_FILE}"
        )
        self.schema = Schema.model_validate(artifact.read_json(SCHEMA_FILE))
        self.preprocessor = Preprocessor.from_dict(artifact.read_json(PREPROCESSOR_FILE))
        self._session = make_session(artifact.read_bytes(MODEL_FILE), self.threads)
        self._inputs = [i.name for i in self._session.get_inputs()]
        self._outputs = [o.name for o in self._session.get_outputs()]  # not per call
        self._run = session_runner(self._session)
        self._threshold = self.network.threshold
        self._task = self.network.task
        # Fairness mitigation: per-group decision thresholds on a sensitive column, which
        # then becomes a required input of the decision (never of the network).
        self._group_thresholds = self.network.group_thresholds or None
        classes = self.schema.classes
        self._classes = np.asarray(classes, dtype=object) if classes else None
        self.artifact = artifact

    def unload(self) -> None:
        self._session = None

    @property
    def task(self) -> Task:
        return self.network.task

    @property
    def input_columns(self) -> list[str]:
        return self._require_preprocessor().input_columns

    def input_kinds(self) -> dict[str, str]:
        """Each input column and the JSON type it expects: ``"number"`` or ``"string"``."""
        kinds = self._require_preprocessor().input_kinds()
        for column in self._group_thresholds or {}:
            kinds[column] = "string"
        return kinds

    def _require_preprocessor(self) -> Preprocessor:
        if self.preprocessor is None:
            raise NotFittedError(f"model {self.name}:{self.version} is not loaded")
        return self.preprocessor

    def raw_output(self, dense: np.ndarray, codes: np.ndarray) -> np.ndarray:
        """The network's output on encoded inputs (used by explanations too)."""
        feeds = {"dense": dense} if len(self._inputs) == 1 else {"dense": dense, "codes": codes}
        out: np.ndarray = self._run(self._outputs, feeds, None)[0]
        return out

    def predict(self, columns: Mapping[str, InputColumn]) -> Prediction:
        if self._session is None:
            raise NotFittedError(f"model {self.name}:{self.version} is not loaded")
        encoded = self._require_preprocessor().transform(columns)
        out = self.raw_output(encoded.dense, encoded.codes)
        task = self._task
        if task is Task.BINARY:
            scores = out[:, 0]
            assert self._classes is not None
            decided = apply_group_thresholds(
                scores, columns, self._group_thresholds, self._threshold
            )
            labels = self._classes[decided.astype(np.intp)]
        elif task is Task.MULTICLASS:
            scores = out
            assert self._classes is not None
            labels = self._classes[out.argmax(axis=1)]
        else:
            scores, labels = out[:, 0], None
        return Prediction(task=task, scores=scores, labels=labels, classes=self.schema_classes)

    @property
    def schema_classes(self) -> list[str] | None:
        return self.schema.classes if self.schema else None

    def metadata(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "task": self.network.task.value,
            "classes": self.schema_classes,
            "inputs": self.input_kinds() if self.preprocessor else {},
        }
