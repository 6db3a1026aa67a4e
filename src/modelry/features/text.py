"""Free text as a hashed bag of words: fixed width, no vocabulary to store or drift.

Tokens are hashed with CRC-32, not Python's ``hash()``, whose per-process salt would
send a word to a different column in the serving process than in training.
"""

from __future__ import annotations

import re
import zlib
from array import array
from typing import Any, Self

import numpy as np

from modelry.data.columns import Coded, ColumnArray
from modelry.data.privacy import redact_text
from modelry.features.base import Cells, Encoder
from modelry.features.feature_config import TextFeature
from modelry.features.values import category_key, coded_lookup, column_length

TOKEN = re.compile(r"\w+")
"""A token: a run of Unicode letters, digits or underscores, after lowercasing."""

_CHUNK = 8192  # rows hashed per bincount: bounds the count matrix to a few MiB
_CACHE_LIMIT = 200_000


def bucket(token: str, n_features: int) -> int:
    """The column a token counts in, the same in every process and on every machine."""
    return zlib.crc32(token.encode("utf-8")) % n_features


class TextEncoder(Encoder[TextFeature]):
    """log1p token counts in ``n_features`` hashed columns, each row L2-normalised.

    A missing or token-less text encodes as all zeros.

    Example:
        >>> enc = TextEncoder(TextFeature(name="note", n_features=8))
        >>> enc = enc.fit(np.array(["a b"], dtype=object))
        >>> row = enc.transform(np.array(["B A"], dtype=object))
        >>> round(float((row**2).sum()), 6)
        1.0
    """

    config_type = TextFeature

    def fit(self, values: ColumnArray) -> Self:
        column_length(values, self.name)
        self.n_dense_ = self.config.n_features
        self._buckets: dict[str, int] = {}
        return self

    def prepare(self, values: ColumnArray) -> np.ndarray:
        """The encoded rows themselves: hashing is per row, there is no cheaper middle."""
        column_length(values, self.name)
        if isinstance(values, Coded):
            # Hash each distinct text once; the last row (code -1, missing) stays zero.
            table = np.zeros((len(values.categories) + 1, self.n_dense_), dtype=np.float32)
            self._hash_into(values.categories.tolist(), table)
            rows: np.ndarray = table[coded_lookup(values.codes, np.arange(len(table)), self.name)]
            return rows
        dense = np.empty((len(values), self.n_dense_), dtype=np.float32)
        self._hash_into(values.tolist(), dense)
        return dense

    def write(self, prepared: np.ndarray, out: np.ndarray, start: int, codes: np.ndarray) -> None:
        out[:, start : start + self.n_dense_] = prepared

    def write_value(
        self, value: Any, cells: Cells, at: int, codes: list[int], code_at: int
    ) -> bool:
        """Any value (a text, or one read as text); hashed as a one-row column."""
        row = np.zeros((1, self.n_dense_), dtype=np.float32)
        self._hash_into([value], row)  # float32 log1p and norm: numpy's, as in a batch
        cells[at : at + self.n_dense_] = array("f", row.tobytes())
        return True

    def _hash_into(self, texts: list[Any], dense: np.ndarray) -> None:
        width = self.n_dense_
        for start in range(0, len(texts), _CHUNK):
            chunk = texts[start : start + _CHUNK]
            flat: list[int] = []
            for row, text in enumerate(chunk):
                # Redacted at training and at every prediction alike: the network never
                # sees e-mails, phones or URLs, only their placeholders.
                key = redact_text(text) if isinstance(text, str) else category_key(text)
                if key:
                    offset = row * width
                    flat.extend(offset + self._bucket(t) for t in TOKEN.findall(key.lower()))
            counts = np.bincount(np.asarray(flat, dtype=np.int64), minlength=len(chunk) * width)
            block = np.log1p(counts.reshape(len(chunk), width).astype(np.float32))
            norms = np.sqrt(np.einsum("ij,ij->i", block, block))
            np.divide(block, norms[:, None], out=block, where=norms[:, None] > 0)
            dense[start : start + len(chunk)] = block

    def _bucket(self, token: str) -> int:
        column = self._buckets.get(token)
        if column is None:
            if len(self._buckets) > _CACHE_LIMIT:
                self._buckets.clear()
            column = self._buckets[token] = bucket(token, self.n_dense_)
        return column

    def _names(self) -> list[str]:
        return [f"{self.name}#{i}" for i in range(self.n_dense_)]

    def _state(self) -> dict[str, Any]:
        return {}

    def _load_state(self, state: dict[str, Any]) -> None:
        self.n_dense_ = self.config.n_features
        self._buckets = {}
