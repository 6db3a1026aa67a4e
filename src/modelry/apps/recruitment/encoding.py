"""The text encoder a recruitment index embeds with: a registered ``text-encoder`` version.

It is opened through its kind (:func:`~modelry.serving.kinds.open_runtime`), the path the
server takes, so redaction and the ONNX model are the served ones. Long texts are cut into
passages first (:func:`passages`): the encoder reads at most 256 word pieces of a text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from modelry.errors import NotFoundError
from modelry.registry.store import Registry
from modelry.serving.kinds import open_runtime
from modelry.serving.runtime import Runtime
from modelry.serving.text_encoder import TEXT_ENCODER_KIND
from modelry.settings import Settings

PASSAGE_WORDS = 60
"""Most words in a passage: short enough to name the part of a résumé that matched, and well
under the encoder's 256 word pieces."""
BATCH = 64

_SENTENCE_END = re.compile(r"(?<=[.!?;])\s+|\s*\n\s*")


def passages(text: str, words: int = PASSAGE_WORDS) -> list[str]:
    """``text`` cut at sentence ends and line breaks, then packed into passages of at most
    ``words`` words (a longer sentence is cut every ``words`` words). Never empty for a text
    with a word in it."""
    out: list[str] = []
    current: list[str] = []
    for sentence in _SENTENCE_END.split(text):
        tokens = sentence.split()
        if not tokens:
            continue
        if current and len(current) + len(tokens) > words:
            out.append(" ".join(current))
            current = []
        while len(tokens) > words:
            out.append(" ".join(tokens[:words]))
            tokens = tokens[words:]
        current.extend(tokens)
    if current:
        out.append(" ".join(current))
    return out


@dataclass
class Encoder:
    """A loaded text-encoder version."""

    runtime: Runtime
    name: str
    version: int

    def embed(self, texts: list[str]) -> np.ndarray:
        """Unit-length embeddings of ``texts``: float32 ``[n, d]``."""
        parts = [
            self.runtime.predict({"text": texts[i : i + BATCH]})["embedding"]
            for i in range(0, len(texts), BATCH)
        ]
        if not parts:
            return np.zeros((0, self.runtime.outputs[0].shape[-1]), dtype=np.float32)
        return np.concatenate(parts).astype(np.float32, copy=False)

    def embed_document(self, chunks: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """A document's passage embeddings and its own: the unit-length mean of theirs."""
        vectors = self.embed(chunks)
        return vectors, unit(vectors.mean(axis=0))

    def close(self) -> None:
        self.runtime.unload()


def unit(vector: np.ndarray) -> np.ndarray:
    """``vector`` scaled to unit length (the zero vector stays zero)."""
    norm = float(np.linalg.norm(vector))
    return (vector / norm if norm > 0 else vector).astype(np.float32)


def open_encoder(settings: Settings, name: str = "text-encoder") -> Encoder:
    """Load the default version of the registered encoder ``name``.

    Raises:
        NotFoundError: no such model, or it is not a text encoder.
    """
    try:
        version = Registry(settings).get(name)
    except NotFoundError as exc:
        raise NotFoundError(
            f"no text encoder {name!r} in {settings.home}: register one with `modelry encoder add`"
        ) from exc
    runtime = open_runtime(version.path, version.name, version.version)
    if runtime.kind != TEXT_ENCODER_KIND:
        runtime.unload()
        raise NotFoundError(f"model {name!r} is of kind {runtime.kind!r}, not a text encoder")
    return Encoder(runtime, version.name, version.version)
