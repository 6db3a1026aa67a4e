"""A model kind defined outside modelry, plugged in through the ``modelry.kinds`` entry points.

``wordcount`` counts the words of a text and describes it with a small vector; its version
directory holds ``wordcount.json`` (``{"scale": …}``, multiplying the characters count).
``liar`` declares an INT64 output but returns floats: modelry must refuse it at load.
``longtext`` takes its ``text`` column from the served ``words`` model first (its ``shape``
vector), the way a task head takes a shared text encoder's embeddings.
Nothing here is imported by modelry itself; the dist-info folder beside this file is what
``pip install`` would have written for a package declaring::

    [project.entry-points."modelry.kinds"]
    wordcount = "wordcount_kind:WordCount"
    liar = "wordcount_kind:Liar"
    longtext = "wordcount_kind:LongText"
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from modelry.data.columns import plain_array
from modelry.registry.artifact import load_artifact
from modelry.serving.runtime import Outputs, Runtime, TensorSpec, Upstream


class WordCount(Runtime):
    kind = "wordcount"
    inputs = (TensorSpec("text", "BYTES"),)
    outputs = (
        TensorSpec("words", "INT64"),
        TensorSpec("shape", "FP32", (-1, 2), labels=("characters", "mean_word")),
    )

    def load(self) -> None:
        self.scale = float(load_artifact(self.path).read_json("wordcount.json")["scale"])

    def predict(self, columns: Mapping[str, Any]) -> Outputs:
        texts = ["" if t is None else str(t) for t in plain_array(columns["text"])]
        words = np.array([len(t.split()) for t in texts], dtype=np.int64)
        characters = np.array([len(t) for t in texts], dtype=np.float32) * self.scale
        mean = np.array(
            [np.mean([len(w) for w in t.split()]) if t.split() else 0.0 for t in texts],
            dtype=np.float32,
        )
        return {"words": words, "shape": np.stack([characters, mean], axis=1)}


class Liar(WordCount):
    kind = "liar"

    def predict(self, columns: Mapping[str, Any]) -> Outputs:
        outputs = dict(super().predict(columns))
        outputs["words"] = outputs["words"].astype(np.float64)  # not the declared INT64
        return outputs


class LongText(Runtime):
    kind = "longtext"
    inputs = (TensorSpec("text", "BYTES"),)
    outputs = (TensorSpec("long", "BOOL"),)
    upstream = {"text": Upstream(model="words", input="text", output="shape")}  # noqa: RUF012
    calls: list[int] = []  # noqa: RUF012  (rows seen, for the test)

    def load(self) -> None:
        self.limit = float(load_artifact(self.path).read_json("wordcount.json")["scale"])

    def predict(self, columns: Mapping[str, Any]) -> Outputs:
        shape = columns["text"]  # [n, 2]: what the words model made of the text
        LongText.calls.append(len(shape))
        return {"long": shape[:, 0] > self.limit}
