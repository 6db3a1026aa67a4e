"""The text-encoder kind: the shared sentence encoder (all-MiniLM-L6-v2) as a served model.

One input, ``text`` (BYTES), one output, ``embedding`` (FP32 ``[-1, 384]``): the
L2-normalised mean of the transformer's token states over the text's word pieces, as
sentence-transformers computes it. Task heads take it through composition
(``Upstream(model="text-encoder", input="text", output="embedding")``), so every model
that reads a résumé shares one loaded encoder.

On the predict path this is onnxruntime, the ``tokenizers`` Rust tokenizer and numpy;
torch is used once, when ``modelry encoder add`` exports the network.

What a prediction does, in order:

1. A missing text (``null``, an empty CSV cell) is the empty text; the empty text is
   embedded as sentence-transformers embeds ``""`` (its ``[CLS] [SEP]`` states), not refused.
2. Texts already embedded are taken from an LRU cache keyed by the BLAKE2b hash of the
   text as sent (:attr:`EncoderSpec.cache_size` entries, 4096 by default: 6 MiB of vectors).
   The cache holds hashes and vectors, never the text. Repeated texts in one batch are
   embedded once.
3. The rest are redacted (e-mail addresses, phone numbers and URLs become ``[EMAIL]``,
   ``[PHONE]``, ``[URL]``: :func:`~modelry.data.privacy.redact_text`), so no path into
   the encoder sees them, then tokenised (lower-cased BERT word pieces, truncated to
   :attr:`EncoderSpec.max_tokens` = 256 pieces including ``[CLS]`` and ``[SEP]``, as the
   original's ``max_seq_length``), sorted by length and run in calls of at most
   :data:`TOKENS_PER_CALL` word pieces, each padded to its own longest text and cut so
   that padding stays under :data:`MAX_PADDING`.

A version directory of this kind::

    manifest.json     {"kind": "text-encoder", ...}
    model.onnx        input_ids, attention_mask [n, t] int64 → embedding [n, d] (pooled, normalised)
    tokenizer.json    the model's tokenizer (truncation at max_tokens, no padding)
    encoder.json      :class:`EncoderSpec`
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from modelry.data.columns import plain_array
from modelry.data.privacy import redact_text
from modelry.errors import ArtifactError, MissingExtraError, NotFittedError
from modelry.protocol.predictions import Outputs, TensorSpec
from modelry.registry.artifact import load_artifact
from modelry.registry.layout import MODEL_FILE, read_spec
from modelry.serving.runtime import Runtime, make_session, session_runner

TEXT_ENCODER_KIND = "text-encoder"
ENCODER_FILE = "encoder.json"
TOKENIZER_FILE = "tokenizer.json"
ONNX_INPUTS = ("input_ids", "attention_mask")
ONNX_OUTPUT = "embedding"

TOKENS_PER_CALL = 512
"""Most word pieces (padding included) per onnxruntime call. On one CPU thread a call
over many long texts is slower per text than the texts one by one (its activations,
e.g. 32 × 200 × 1536 floats in the feed-forward layers, leave the caches), while short
texts gain about 4× from sharing a call (bench/encoder.py measured both)."""
MAX_PADDING = 1.1
"""Most padded word pieces per real one in a call: texts go in sorted by length, and a
new call starts where the next text would pad the call past this."""


class EncoderSpec(BaseModel):
    """``encoder.json``: which encoder a version holds and how it is run.

    Attributes:
        model: The model's name where it was published.
        package: The Python package its weights were read from.
        package_version: That package's version.
        dimension: Width of the embedding.
        max_tokens: Word pieces per text, ``[CLS]`` and ``[SEP]`` included; the rest is cut.
        pooling: How token states become one vector (mean over the attention mask).
        normalized: Whether embeddings have unit L2 norm.
        cache_size: Embeddings kept in the runtime's LRU cache (0: no cache).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str
    package: str
    package_version: str
    dimension: int = Field(ge=1)
    max_tokens: int = Field(ge=2)
    pooling: Literal["mean"] = "mean"
    normalized: bool = True
    cache_size: int = Field(default=4096, ge=0)


class EmbeddingCache:
    """A bounded LRU of embeddings by text hash; safe to share between threads.

    Args:
        size: Most entries kept (0: keep none).
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self._entries: OrderedDict[bytes, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    @staticmethod
    def key(text: str) -> bytes:
        """The text's content hash (16 bytes of BLAKE2b)."""
        return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()

    def get(self, key: bytes) -> np.ndarray | None:
        with self._lock:
            vector = self._entries.get(key)
            if vector is None:
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return vector

    def put(self, key: bytes, vector: np.ndarray) -> None:
        if self.size == 0:
            return
        with self._lock:
            self._entries[key] = vector
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)


def _chunks(order: np.ndarray, lengths: np.ndarray) -> list[np.ndarray]:
    """``order`` (rows by ascending length) cut into calls of at most
    :data:`TOKENS_PER_CALL` padded word pieces whose padding stays within
    :data:`MAX_PADDING`."""
    chunks: list[np.ndarray] = []
    if not len(order):
        return chunks
    start, real = 0, 0
    for i, row in enumerate(order):
        length = int(lengths[row])
        rows = i - start
        padded = (rows + 1) * length
        if rows and (padded > TOKENS_PER_CALL or padded > MAX_PADDING * (real + length)):
            chunks.append(order[start:i])
            start, real = i, 0
        real += length
    chunks.append(order[start:])
    return chunks


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value if isinstance(value, str) else str(value)


class TextEncoderRuntime(Runtime):
    """all-MiniLM-L6-v2 over onnxruntime: text in, a unit-length 384-d embedding out.

    Example:
        >>> rt = TextEncoderRuntime(Path("models/encoder/1"), "encoder", 1)  # doctest: +SKIP
        >>> rt.load()  # doctest: +SKIP
        >>> rt.predict({"text": ["ten years of Python"]})["embedding"].shape  # doctest: +SKIP
        (1, 384)
    """

    kind = TEXT_ENCODER_KIND
    platform = "onnxruntime"
    inputs = (TensorSpec("text", "BYTES"),)
    outputs = (TensorSpec("embedding", "FP32", (-1, 384)),)

    def __init__(self, path: Path, name: str, version: int, *, threads: int = 1) -> None:
        super().__init__(path, name, version)
        self.threads = threads
        self.spec: EncoderSpec | None = None
        self.cache = EmbeddingCache(0)
        self.encoded = 0
        """Texts run through the network since load (cache and batch repeats excluded)."""
        self._session: Any = None
        self._tokenizer: Any = None

    def load(self) -> None:
        try:
            from tokenizers import Tokenizer
        except ImportError as exc:
            raise MissingExtraError("tokenizers", "text") from exc
        artifact = load_artifact(self.path)
        spec = read_spec(
            EncoderSpec, artifact.read_json(ENCODER_FILE), f"{self.path}/{ENCODER_FILE}"
        )
        try:
            tokenizer = Tokenizer.from_str(artifact.read_text(TOKENIZER_FILE))
        except Exception as exc:  # tokenizers raises its own untyped errors
            raise ArtifactError(f"{self.path}/{TOKENIZER_FILE}: {exc}") from exc
        # The spec decides, whatever the file says: the shipped file pads to 128 and cuts
        # at 128, where the model was trained and is used with 256.
        tokenizer.enable_truncation(max_length=spec.max_tokens)
        tokenizer.no_padding()
        session = make_session(artifact.read_bytes(MODEL_FILE), self.threads)
        names = tuple(i.name for i in session.get_inputs())
        if sorted(names) != sorted(ONNX_INPUTS):
            raise ArtifactError(f"{self.path}/{MODEL_FILE}: inputs {names}, not {ONNX_INPUTS}")
        self._output_names = [ONNX_OUTPUT]
        self._run = session_runner(session)
        self._session, self._tokenizer, self.spec = session, tokenizer, spec
        self.cache = EmbeddingCache(spec.cache_size)
        self.encoded = 0
        self.outputs = (TensorSpec("embedding", "FP32", (-1, spec.dimension)),)

    def unload(self) -> None:
        super().unload()
        self._session = None
        self.cache = EmbeddingCache(0)

    def parameters(self) -> dict[str, Any]:
        spec = self.spec
        if spec is None:
            return {"kind": self.kind}
        return {
            "kind": self.kind,
            "model": spec.model,
            "dimension": spec.dimension,
            "max_tokens": spec.max_tokens,
            "pooling": spec.pooling,
            "cache_size": spec.cache_size,
        }

    def predict(self, columns: Mapping[str, Any]) -> Outputs:
        if self._session is None or self.spec is None:
            raise NotFittedError(f"model {self.name}:{self.version} is not loaded")
        texts = [_text(v) for v in plain_array(columns["text"])]
        out = np.empty((len(texts), self.spec.dimension), dtype=np.float32)
        todo: dict[bytes, list[int]] = {}  # each text not cached, and the rows that carry it
        first: dict[bytes, str] = {}
        for row, text in enumerate(texts):
            key = EmbeddingCache.key(text)
            rows = todo.get(key)
            if rows is not None:
                rows.append(row)
                continue
            vector = self.cache.get(key)
            if vector is None:
                todo[key] = [row]
                first[key] = text
            else:
                out[row] = vector
        if todo:
            keys = list(todo)
            vectors = self.embed([first[k] for k in keys])
            for key, vector in zip(keys, vectors, strict=True):
                out[todo[key]] = vector
                self.cache.put(key, vector.copy())  # not a view pinning the batch
        return {"embedding": out}

    def embed(self, texts: list[str]) -> np.ndarray:
        """The embeddings of ``texts`` (redacted first), uncached: ``[n, dimension]`` FP32."""
        encodings = self._tokenizer.encode_batch([redact_text(t) for t in texts])
        lengths = np.array([len(e.ids) for e in encodings])
        order = np.argsort(lengths, kind="stable")
        out = np.empty((len(texts), self._dimension), dtype=np.float32)
        for rows in _chunks(order, lengths):
            width = int(lengths[rows[-1]])  # sorted: the last is the longest
            ids = np.zeros((len(rows), width), dtype=np.int64)
            mask = np.zeros((len(rows), width), dtype=np.int64)
            for i, row in enumerate(rows):
                piece = encodings[row].ids
                ids[i, : len(piece)] = piece
                mask[i, : len(piece)] = 1
            feeds = {"input_ids": ids, "attention_mask": mask}
            out[rows] = self._run(self._output_names, feeds, None)[0]
        self.encoded += len(texts)
        return out

    @property
    def _dimension(self) -> int:
        return self.spec.dimension if self.spec else 0
