"""The tabular kind: a network trained by modelry on a table.

Fitted preprocessing (vectorised numpy), then one onnxruntime call. Its outputs are
``label`` (BYTES) and ``probability`` (FP32, ``[-1]`` = P(positive) for a binary target,
``[-1, K]`` for K classes), or ``score`` (FP32) for a regression; its simple-protocol
records keep the form clients know: ``label``, ``score`` and ``probabilities``. This
module is on the predict path: it imports neither pandas nor torch.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from modelry.data.columns import InputColumn
from modelry.data.schema import Schema, Task
from modelry.errors import ArtifactError, NotFittedError
from modelry.features.preprocessor import Preprocessor
from modelry.protocol.predictions import Outputs, TensorSpec
from modelry.registry.artifact import Artifact, load_artifact
from modelry.registry.layout import (
    MODEL_FILE,
    NETWORK_FILE,
    PREPROCESSOR_FILE,
    SCHEMA_FILE,
    TABULAR_KIND,
    NetworkSpec,
    read_spec,
)
from modelry.serving.runtime import Runtime, Upstream, make_session, session_runner
from modelry.serving.thresholds import apply_group_thresholds


class TabularRuntime(Runtime):
    """A network trained by modelry on a table.

    Example:
        >>> rt = TabularRuntime(Path("models/bank/1"), name="bank", version=1)  # doctest: +SKIP
        >>> rt.load()  # doctest: +SKIP
        >>> rt.predict({"age": [41.0], "job": ["admin."], ...})["label"]  # doctest: +SKIP
        array(['no'], dtype=object)
    """

    kind = TABULAR_KIND
    platform = "onnxruntime"

    def __init__(self, path: Path, name: str, version: int, *, threads: int = 1) -> None:
        super().__init__(path, name, version)
        self.threads = threads
        self._session: Any = None
        self._group_thresholds: dict[str, dict[str, float]] | None = None
        self._calibrate: Callable[[np.ndarray], np.ndarray] | None = None
        self.artifact: Artifact | None = None
        self.preprocessor: Preprocessor | None = None
        self.schema: Schema | None = None
        self.network = NetworkSpec(task=Task.BINARY, n_dense=0, n_outputs=1)  # until loaded
        self._upstream: dict[str, Upstream] = {}

    @property
    def ready(self) -> bool:
        return self._session is not None

    def load(self) -> None:
        artifact = load_artifact(self.path)
        self.network = read_spec(
            NetworkSpec, artifact.read_json(NETWORK_FILE), f"{self.path}/{NETWORK_FILE}"
        )
        self.schema = read_spec(
            Schema, artifact.read_json(SCHEMA_FILE), f"{self.path}/{SCHEMA_FILE}"
        )
        self.preprocessor = Preprocessor.from_dict(artifact.read_json(PREPROCESSOR_FILE))
        self._session = make_session(artifact.read_bytes(MODEL_FILE), self.threads)
        self._inputs = [i.name for i in self._session.get_inputs()]
        self._outputs = [o.name for o in self._session.get_outputs()]  # not per call
        self._run = session_runner(self._session)
        self._threshold = self.network.threshold
        self._task = self.network.task  # once, not per request
        calibration = self.network.calibration
        self._calibrate = calibration.mapping() if calibration is not None else None
        # Fairness mitigation: per-group decision thresholds on a sensitive column, which
        # then becomes a required input of the decision (never of the network).
        self._group_thresholds = self.network.group_thresholds or None
        classes = self.schema.classes
        self._classes = np.asarray(classes, dtype=object) if classes else None
        self.inputs = [
            TensorSpec(name, "FP64" if kind == "number" else "BYTES")
            for name, kind in self._kinds().items()
        ]
        self.outputs = self._output_specs()
        self._upstream = _upstream(artifact.manifest.get("upstream"), self.path)
        self.artifact = artifact

    def unload(self) -> None:
        self._session = None

    # -- the declaration -----------------------------------------------------------------

    @property
    def upstream(self) -> dict[str, Upstream]:
        """Text columns the served text encoder embeds first (``--text-encoder``)."""
        return self._upstream

    def _kinds(self) -> dict[str, str]:
        kinds = self._require_preprocessor().input_kinds()
        for column in self._group_thresholds or {}:
            kinds[column] = "string"
        return kinds

    def _output_specs(self) -> list[TensorSpec]:
        if self._task is Task.REGRESSION:
            return [TensorSpec("score", "FP32")]
        classes = tuple(self.schema_classes or ())
        if self._task is Task.BINARY:
            return [TensorSpec("label", "BYTES"), TensorSpec("probability", "FP32")]
        return [
            TensorSpec("label", "BYTES"),
            TensorSpec("probability", "FP32", (-1, len(classes)), labels=classes),
        ]

    @property
    def task(self) -> Task:
        return self.network.task

    @property
    def input_columns(self) -> list[str]:
        return self._require_preprocessor().input_columns

    @property
    def schema_classes(self) -> list[str] | None:
        return self.schema.classes if self.schema else None

    def parameters(self) -> dict[str, Any]:
        return {"kind": self.kind, "task": self.task.value, "classes": self.schema_classes}

    def _require_preprocessor(self) -> Preprocessor:
        if self.preprocessor is None:
            raise NotFittedError(f"model {self.name}:{self.version} is not loaded")
        return self.preprocessor

    # -- predicting ---------------------------------------------------------------------

    def raw_output(self, dense: np.ndarray, codes: np.ndarray) -> np.ndarray:
        """The network's output on encoded inputs (used by explanations too)."""
        feeds = {"dense": dense} if len(self._inputs) == 1 else {"dense": dense, "codes": codes}
        out: np.ndarray = self._run(self._outputs, feeds, None)[0]
        return out

    def scores(self, columns: Mapping[str, InputColumn]) -> np.ndarray:
        """The served score: P(positive) ``[n]``, class probabilities ``[n, K]``, or the
        predicted value ``[n]`` (what explanations and the audit read)."""
        if self._session is None:
            raise NotFittedError(f"model {self.name}:{self.version} is not loaded")
        encoded = self._require_preprocessor().transform(columns)
        out = self.raw_output(encoded.dense, encoded.codes)
        if self._task is Task.MULTICLASS:
            return out
        if self._calibrate is not None:  # fitted on the validation split (binary only)
            return self._calibrate(out[:, 0])
        return out[:, 0]

    def predict(self, columns: Mapping[str, InputColumn]) -> Outputs:
        scores = self.scores(columns)
        task = self._task
        if task is Task.REGRESSION:
            return {"score": scores}
        assert self._classes is not None
        if task is Task.BINARY:
            decided = apply_group_thresholds(
                scores, columns, self._group_thresholds, self._threshold
            )
            return {"label": self._classes[decided.astype(np.intp)], "probability": scores}
        return {"label": self._classes[scores.argmax(axis=1)], "probability": scores}

    # -- rendering ----------------------------------------------------------------------

    def records(self, outputs: Outputs) -> list[dict[str, Any]]:
        """``label``, ``score`` and every class's probability per row (``score`` alone for
        a regression). Scores stay numpy scalars so that orjson prints float32 values
        short (0.83, not 0.8299999833106995).

        Binary: ``score`` = P(positive class). Multi-class: ``score`` = the label's
        probability.
        """
        if self._task is Task.REGRESSION:
            return [{"score": value} for value in outputs["score"]]
        labels, scores = outputs["label"], outputs["probability"]
        classes = self.schema_classes
        assert classes is not None
        if self._task is Task.BINARY:
            negative, positive = classes[0], classes[-1]
            return [
                {"label": label, "score": p, "probabilities": {negative: 1 - p, positive: p}}
                for label, p in zip(labels.tolist(), scores, strict=True)
            ]
        top = scores.max(axis=1)
        return [
            {"label": label, "score": best, "probabilities": dict(zip(classes, row, strict=True))}
            for label, best, row in zip(labels.tolist(), top, scores, strict=True)
        ]

    def table_columns(self, outputs: Outputs) -> dict[str, np.ndarray]:
        """``prediction`` (the label) and ``score``, or ``probability_<class>`` per class."""
        if self._task is Task.REGRESSION:
            return {"score": outputs["score"]}
        out = {"prediction": outputs["label"]}
        scores = outputs["probability"]
        if scores.ndim == 2:
            for i, label in enumerate(self.schema_classes or ()):
                out[f"probability_{label}"] = scores[:, i]
        else:
            out["score"] = scores
        return out


def _upstream(declared: Any, path: Path) -> dict[str, Upstream]:
    """The manifest's ``upstream`` entry: ``{column: {model, input, output, required}}``.

    Raises:
        ArtifactError: the entry is not of that form.
    """
    if declared is None:
        return {}
    try:
        return {
            str(column): Upstream(
                model=str(u["model"]),
                input=str(u["input"]),
                output=str(u["output"]),
                required=bool(u.get("required", False)),
            )
            for column, u in dict(declared).items()
        }
    except (KeyError, TypeError, ValueError) as exc:
        raise ArtifactError(f"{path}/manifest.json: 'upstream' is not readable: {exc}") from exc
