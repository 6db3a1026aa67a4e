"""Text columns embedded by a registered text-encoder model, at training as at serving.

With ``data.text_encoder`` (``modelry train --text-encoder text-encoder``) the chosen text
columns (``data.text_columns``, or every text feature column) are not hashed into words:
the registered encoder model embeds them, through its own runtime (batched, cached by
content hash, contact data redacted first), and the network and its baseline train on
the vectors. The version records the declaration in its manifest (``upstream``), so the
served tabular runtime asks the data plane for the same encoder's output on each request:
clients send text, the served encoder (loaded once for every model using it) embeds it.

Only feature columns reach the encoder: a column the data layer found personal, sensitive
or an identifier is refused, whatever ``text_columns`` says.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from modelry.data.columns import plain_array
from modelry.data.schema import ColumnType, Role, Schema
from modelry.errors import ConfigError
from modelry.features.feature_config import EmbeddingFeature, Feature
from modelry.pipeline.stages import Prepared
from modelry.registry.store import Registry
from modelry.serving.kinds import open_runtime
from modelry.serving.runtime import Runtime

BATCH_ROWS = 256
"""Texts per call to the encoder: its own calls are cut by word pieces within one."""


@dataclass(frozen=True)
class TextEncoding:
    """Which encoder embedded which columns, as the manifest and the card record it.

    Attributes:
        model: The encoder's registry name (what the served runtime asks the data plane for).
        version: The version that embedded the training rows.
        columns: The embedded columns, in schema order.
        dimension: Width of its vectors.
        input: The encoder's input a column is sent as.
        output: The encoder's output that replaces the column.
        details: The encoder's own parameters (its published model, width, ...).
    """

    model: str
    version: int
    columns: list[str]
    dimension: int
    input: str
    output: str
    details: dict[str, Any]

    def upstream(self) -> dict[str, dict[str, str | bool]]:
        """``{column: {model, input, output, required}}``: the manifest's ``upstream`` entry
        (required: a missing or empty text is refused when served, not scored)."""
        link: dict[str, str | bool] = {
            "model": self.model,
            "input": self.input,
            "output": self.output,
            "required": True,
        }
        return {column: dict(link) for column in self.columns}

    def features(self) -> list[Feature]:
        """The embedded columns' feature configs: the vectors, as they are."""
        return [EmbeddingFeature(name=c, dimension=self.dimension) for c in self.columns]

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "version": self.version,
            "columns": self.columns,
            "dimension": self.dimension,
            "input": self.input,
            "output": self.output,
            "encoder": self.details,
            "explanations": "each embedded column is one feature: the sum of the "
            f"attributions of its {self.dimension} dimensions",
        }


def text_columns(schema: Schema, chosen: list[str]) -> list[str]:
    """The columns to embed: ``chosen``, or the text feature columns.

    Raises:
        ConfigError: a chosen column is not in the table or not a feature (personal data,
            a protected attribute, an identifier, the target: never sent to the encoder),
            or there is no text column to embed.
    """
    by_name = {c.name: c for c in schema.columns}
    if not chosen:
        found = [c.name for c in schema.features if c.type is ColumnType.TEXT]
        if not found:
            raise ConfigError(
                "--text-encoder: no text feature column found; name them with --text-columns"
            )
        return found
    for name in chosen:
        column = by_name.get(name)
        if column is None:
            raise ConfigError(f"--text-columns: {name!r} is not a column of the table")
        if column.role is not Role.FEATURE:
            reason = f": {column.reason}" if column.reason else ""
            raise ConfigError(
                f"--text-columns: {name!r} is {column.role.value}{reason}; personal data, "
                "protected attributes, identifiers and the target never reach the encoder",
                column=name,
            )
    return [c.name for c in schema.features if c.name in chosen]


def embed_text(
    prepared: Prepared, model: str, chosen: list[str], registry: Registry
) -> tuple[Prepared, TextEncoding]:
    """``prepared`` with its text columns replaced by the encoder's vectors.

    Args:
        prepared: The prepared table (its feature columns are read).
        model: The registered encoder model's name (its default version embeds).
        chosen: The columns to embed (empty: every text feature column).
        registry: Where the encoder is registered.

    Raises:
        NotFoundError: no such model is registered (``modelry encoder add`` registers one).
        ConfigError: the columns are not embeddable (see :func:`text_columns`), or the
            model does not take one text and give one vector per row.
    """
    columns = text_columns(prepared.schema, chosen)
    version = registry.get(model)
    runtime = open_runtime(version.path, version.name, version.version)
    try:
        source, target, dimension = _declaration(runtime)
        embedded = dict(prepared.columns)
        for column in columns:
            texts = plain_array(prepared.columns[column])
            vectors = np.empty((len(texts), dimension), dtype=np.float32)
            for start in range(0, len(texts), BATCH_ROWS):
                part = texts[start : start + BATCH_ROWS]
                vectors[start : start + len(part)] = runtime.predict({source: part})[target]
            embedded[column] = vectors
    finally:
        runtime.unload()
    encoding = TextEncoding(
        model=version.name,
        version=version.version,
        columns=columns,
        dimension=dimension,
        input=source,
        output=target,
        details=runtime.parameters(),
    )
    return replace(prepared, columns=embedded), encoding


def _declaration(runtime: Runtime) -> tuple[str, str, int]:
    """The encoder's one text input, one vector output and its width."""
    inputs, outputs = list(runtime.inputs), list(runtime.outputs)
    vector = [o for o in outputs if o.datatype == "FP32" and len(o.shape) == 2 and o.shape[1] > 0]
    if len(inputs) != 1 or inputs[0].datatype != "BYTES" or len(vector) != 1:
        raise ConfigError(
            f"--text-encoder: model {runtime.name!r} (kind {runtime.kind!r}) does not turn one "
            "text into one vector per row"
        )
    return inputs[0].name, vector[0].name, int(vector[0].shape[1])
