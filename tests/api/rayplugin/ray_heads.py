"""A task head over the shared text encoder, plugged in as a kind (for the Ray tests).

``embedding-head`` takes a ``resume`` column that the served ``text-encoder`` embeds first
(an upstream column) and scores it against a direction stored in its version directory
(``head.json``), the way a recruitment head takes the shared encoder's embeddings.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from modelry.registry.artifact import load_artifact
from modelry.serving.runtime import Outputs, Runtime, TensorSpec, Upstream


class EmbeddingHead(Runtime):
    kind = "embedding-head"
    inputs = (TensorSpec("resume", "BYTES"),)
    outputs = (TensorSpec("score", "FP32"),)
    upstream = {"resume": Upstream(model="text-encoder", input="text", output="embedding")}  # noqa: RUF012

    def load(self) -> None:
        spec = load_artifact(self.path).read_json("head.json")
        self.direction = np.asarray(spec["direction"], dtype=np.float32)

    def predict(self, columns: Mapping[str, Any]) -> Outputs:
        embedded = np.asarray(columns["resume"], dtype=np.float32)  # [n, 384] from the encoder
        return {"score": embedded @ self.direction}
