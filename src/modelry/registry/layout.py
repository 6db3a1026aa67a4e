"""What a model version's directory holds: its file names and its typed specs.

Every module that reads or writes a version (the training pipeline, the runtimes,
explanations, the audit, the CLI) takes file names from here and reads the JSON specs
through the pydantic models here, so that one change of the layout is one change.

A version directory of the tabular kind::

    manifest.json          sha256 of every file, and the kind (``"kind": "tabular"``)
    model.onnx             the network, for serving
    weights.safetensors    the same network, for explaining and fine-tuning
    network.json           :class:`NetworkSpec`
    preprocessor.json      the fitted preprocessing
    schema.json            column types and roles
    config.json            the training configuration
    metrics.json, lineage.json, warnings.json, card.md, card.json
    importance.json, plots/*.png

Other kinds write their own spec files beside the manifest (see ``docs/architecture.md``).
This module is on the predict path: pydantic and the data layer only.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal, TypeVar

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from modelry.data.schema import Task
from modelry.errors import ArtifactError

MANIFEST_FILE = "manifest.json"
MODEL_FILE = "model.onnx"
WEIGHTS_FILE = "weights.safetensors"
NETWORK_FILE = "network.json"
PREPROCESSOR_FILE = "preprocessor.json"
SCHEMA_FILE = "schema.json"
CONFIG_FILE = "config.json"
METRICS_FILE = "metrics.json"
LINEAGE_FILE = "lineage.json"
WARNINGS_FILE = "warnings.json"
CARD_FILE = "card.md"
CARD_JSON_FILE = "card.json"
IMPORTANCE_FILE = "importance.json"
PLOTS_DIR = "plots"

M = TypeVar("M", bound=BaseModel)

TABULAR_KIND = "tabular"
"""The kind of every version written before kinds were named in the manifest."""
LINEAR_KIND = "linear"
"""The linear baseline served in place of a network (same files as tabular)."""


class Calibration(BaseModel):
    """How the served P(positive) of a binary model is calibrated (``network.json``).

    Fitted on the validation split by ``modelry marketing train``
    (:mod:`modelry.training.calibration`); applied to the network's probability by the
    runtime, so every route (V1, V2, ``modelry predict``, targeting) serves the calibrated one.

    Attributes:
        method: ``temperature``: ``sigmoid(logit(p) / temperature)``; ``isotonic``:
            ``p`` mapped through the knots ``(x, y)`` by linear interpolation.
        temperature: The temperature ``T``.
        x: The isotonic knots' input probabilities, increasing.
        y: The calibrated probability at each knot, non-decreasing.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    method: Literal["temperature", "isotonic"]
    temperature: float = Field(default=1.0, gt=0)
    x: list[float] = []
    y: list[float] = []

    def apply(self, p: np.ndarray) -> np.ndarray:
        """Calibrated probabilities (float32) of the probabilities ``p``."""
        return self.mapping()(p)

    def mapping(self) -> Callable[[np.ndarray], np.ndarray]:
        """:meth:`apply` with the isotonic knots made arrays once, for the runtime to call
        per request: ``np.interp`` converting the lists on every call costs more than the
        prediction (≈60 µs a row with 300 knots, against ≈6 µs)."""
        if self.method == "isotonic":
            if not self.x:
                return lambda p: np.asarray(p, dtype=np.float32)
            xs, ys = np.asarray(self.x, dtype=np.float64), np.asarray(self.y, dtype=np.float64)
            return lambda p: np.interp(np.asarray(p, dtype=np.float64), xs, ys).astype(np.float32)
        temperature = self.temperature

        def scaled(p: np.ndarray) -> np.ndarray:
            q = np.clip(np.asarray(p, dtype=np.float64), 1e-7, 1 - 1e-7)
            z = (np.log(q) - np.log1p(-q)) / temperature
            return np.exp(-np.logaddexp(0.0, -z)).astype(np.float32)

        return scaled


class NetworkSpec(BaseModel):
    """``network.json``: the trained network's shape and how its output is decided.

    Attributes:
        task: What the network predicts.
        n_dense: Width of the dense input matrix.
        embeddings: ``(cardinality, dimension)`` of each embedded column.
        n_outputs: 1, or the number of classes.
        model: The network's hyper-parameters (``modelry.nn.modules.ModelSpec``).
        threshold: The binary decision threshold on P(positive).
        inputs: The ONNX graph's input names (``dense``, and ``codes`` with embeddings).
        redacted_text: Text columns whose e-mails, phones and URLs are redacted.
        dense_mean: The explanation baseline: the mean training row, encoded.
        embedding_mean: The mean embedding vector of each embedded column.
        group_thresholds: Per-group thresholds on a sensitive column (``--fairness``).
        calibration: The map applied to P(positive) before it is served, if any.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    task: Task
    n_dense: int = Field(ge=0)
    embeddings: list[tuple[int, int]] = []
    n_outputs: int = Field(ge=1)
    model: dict[str, Any] = {}
    threshold: float = 0.5
    inputs: list[str] = ["dense"]
    redacted_text: list[str] = []
    dense_mean: list[float] | None = None
    embedding_mean: list[list[float]] = []
    group_thresholds: dict[str, dict[str, float]] | None = None
    calibration: Calibration | None = None

    def to_json(self) -> dict[str, Any]:
        """The document to write (``None`` fields left out)."""
        return self.model_dump(mode="json", exclude_none=True)


def read_spec(model: type[M], document: Any, where: str) -> M:
    """``document`` validated as ``model``; a mismatch names the file and the field.

    Raises:
        ArtifactError: the document does not fit the model.
    """
    try:
        return model.model_validate(document)
    except ValidationError as exc:
        first = exc.errors()[0]
        at = ".".join(str(p) for p in first["loc"]) or "(top)"
        raise ArtifactError(f"{where}: {at}: {first['msg']}") from exc
