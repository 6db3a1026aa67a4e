"""Categories: a learned vocabulary, one-hot or as an embedding code.

Rare categories at fit and unseen ones at transform share the ``__other__`` slot, so
a request never fails for a category the model has not met; a missing value gets
its own ``__missing__`` slot (or the most frequent category, if configured).
"""

from __future__ import annotations

import math
from typing import Any, Self

import numpy as np

from modelry.data.columns import Coded, ColumnArray
from modelry.features.base import Cells, Encoder
from modelry.features.feature_config import CategoricalFeature
from modelry.features.values import SMALL, category_counts, category_key, coded_lookup, lookup

OTHER = "__other__"
MISSING = "__missing__"


def default_embedding_dim(cardinality: int) -> int:
    """A common rule of thumb: about 1.6·n^0.56, at most 16."""
    return max(1, min(16, round(1.6 * math.pow(cardinality, 0.56))))


class CategoricalEncoder(Encoder[CategoricalFeature]):
    """A category as a one-hot float32 block, or as an int64 index for an embedding.

    Slots are laid out as the vocabulary (most frequent first, ties by name), then
    ``__other__``, then ``__missing__`` when ``config.missing == 'category'``.

    Attributes (after ``fit``):
        vocabulary_: The categories seen at least ``min_frequency`` times.
        slots_: ``vocabulary_`` followed by the special slots: index = code.
        cardinality_: ``len(slots_)``.
        onehot_: True for one-hot output, False for an embedding code.
        embedding_dim_: The embedding width (also set when one-hot, for reference).

    Example:
        >>> cfg = CategoricalFeature(name="job", min_frequency=1)
        >>> enc = CategoricalEncoder(cfg).fit(np.array(["a", "b", "a"], dtype=object))
        >>> enc.output_names
        ['job=a', 'job=b', 'job=__other__', 'job=__missing__']
    """

    config_type = CategoricalFeature

    def fit(self, values: ColumnArray) -> Self:
        cfg = self.config
        counts, _ = category_counts(values, self.name)
        kept = [(c, k) for k, c in counts.items() if c >= cfg.min_frequency]
        vocabulary = [k for _, k in sorted(kept, key=lambda ck: (-ck[0], ck[1]))]
        self._set_vocabulary(vocabulary)
        if cfg.encoding == "auto":
            self.onehot_ = self.cardinality_ <= cfg.max_onehot
        else:
            self.onehot_ = cfg.encoding == "onehot"
        self.embedding_dim_ = cfg.embedding_dim or default_embedding_dim(self.cardinality_)
        self.n_dense_ = self.cardinality_ if self.onehot_ else 0
        return self

    def _set_vocabulary(self, vocabulary: list[str]) -> None:
        self.vocabulary_ = vocabulary
        missing_slot = self.config.missing == "category"
        self.slots_ = [*vocabulary, OTHER, *([MISSING] if missing_slot else [])]
        self.cardinality_ = len(self.slots_)
        self.index_ = {category: i for i, category in enumerate(vocabulary)}
        self.other_index_ = len(vocabulary)
        if missing_slot:
            self.missing_index_ = len(vocabulary) + 1
        else:  # the most frequent category; with an empty vocabulary, other
            self.missing_index_ = 0 if vocabulary else self.other_index_
        # The last Coded column seen and its lookup table: Arrow batches of one table
        # share one dictionary, so the categories are mapped once, not once per batch.
        self._coded_cache: tuple[np.ndarray, np.ndarray] | None = None

    @property
    def n_codes(self) -> int:
        self.check_fitted()
        return 0 if self.onehot_ else 1

    def indices(self, values: ColumnArray) -> np.ndarray:
        """The slot index of every row: the embedding code, or the hot column."""
        self.check_fitted()
        return self.prepare(values)

    def prepare(self, values: ColumnArray) -> np.ndarray:
        if isinstance(values, Coded):
            return coded_lookup(values.codes, self._coded_lut(values.categories), self.name)
        if values.dtype.kind in "fiub":
            uniques, inverse = np.unique(values, return_inverse=True)
            lut = np.array([self._slot(v) for v in uniques.tolist()], dtype=np.int64)
            return lut[inverse.reshape(-1)]
        return lookup(values, self.index_, lambda _row, value: self._slot(value))

    def _slot(self, value: Any) -> int:
        key = category_key(value)
        if key is None:
            return self.missing_index_
        return self.index_.get(key, self.other_index_)

    def _coded_lut(self, categories: np.ndarray) -> np.ndarray:
        cached = self._coded_cache
        if cached is not None and cached[0] is categories:
            return cached[1]
        slots = [self._slot(c) for c in categories.tolist()]
        # int32 halves the memory traffic of the per-row lookup; slots never come near 2**31.
        lut = np.array([*slots, self.missing_index_], dtype=np.int32)
        self._coded_cache = (categories, lut)
        return lut

    def write(self, prepared: np.ndarray, out: np.ndarray, start: int, codes: np.ndarray) -> None:
        if not self.onehot_:
            codes[:] = prepared
            return
        # One scatter into the flat matrix: row r's hot cell is r * width + start + slot.
        if len(prepared) <= SMALL:
            for row, slot in enumerate(prepared.tolist()):
                out[row, start + slot] = 1.0
            return
        if not out.flags.c_contiguous:  # reshape would copy, and the ones be lost
            raise ValueError("out must be C-contiguous")
        width = out.shape[1]
        cells = np.arange(start, start + len(prepared) * width, width, dtype=np.int64)
        cells += prepared
        out.reshape(-1)[cells] = 1.0

    def write_value(
        self, value: Any, cells: Cells, at: int, codes: list[int], code_at: int
    ) -> bool:
        """Any value: a known category, else what :meth:`_slot` makes of it (never refused)."""
        try:
            slot = self.index_.get(value, -1)  # the verbatim key: the common case
        except TypeError:  # unhashable: _slot reads it by its text
            slot = -1
        if slot < 0:
            slot = self._slot(value)
        if self.onehot_:
            cells[at + slot] = 1.0
        else:
            codes[code_at] = slot
        return True

    def _names(self) -> list[str]:
        if self.onehot_:
            return [f"{self.name}={slot}" for slot in self.slots_]
        return [self.name]

    def _state(self) -> dict[str, Any]:
        return {
            "vocabulary": list(self.vocabulary_),
            "onehot": self.onehot_,
            "embedding_dim": self.embedding_dim_,
        }

    def _load_state(self, state: dict[str, Any]) -> None:
        self._set_vocabulary([str(c) for c in state["vocabulary"]])
        self.onehot_ = bool(state["onehot"])
        self.embedding_dim_ = int(state["embedding_dim"])
        self.n_dense_ = self.cardinality_ if self.onehot_ else 0
