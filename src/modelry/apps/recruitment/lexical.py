"""Lexical relevance: BM25 over the candidates' redacted texts, through ``bm25s``.

``bm25s`` (the ``text`` extra) keeps its state as a sparse score matrix in ``.npy`` files and
its vocabulary and parameters in JSON (``allow_pickle=False``), so an index directory holds
no pickle. Its defaults are kept: Lucene's BM25 with k1 = 1.5, b = 0.75, English stopwords,
no stemming (a stemmer would be one more dependency for a small gain on résumé text).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from modelry.errors import MissingExtraError

STOPWORDS = "en"


def _bm25s() -> Any:
    try:
        import bm25s  # type: ignore[import-untyped]
    except ImportError as exc:
        raise MissingExtraError("bm25s", "text") from exc
    return bm25s


def tokenize(texts: list[str]) -> list[list[str]]:
    """Each text as BM25 terms (lower-cased words of two or more characters, no stopwords)."""
    tokens: list[list[str]] = _bm25s().tokenize(
        texts, stopwords=STOPWORDS, return_ids=False, show_progress=False
    )
    return tokens


class Lexical:
    """A BM25 index over documents, scored for one query at a time.

    Args:
        retriever: A ``bm25s.BM25`` that indexed the documents.
        size: How many documents it indexed.
    """

    def __init__(self, retriever: Any, size: int) -> None:
        self._retriever = retriever
        self.size = size

    @classmethod
    def fit(cls, texts: list[str]) -> Lexical:
        """Index ``texts``."""
        retriever = _bm25s().BM25()
        retriever.index(tokenize(texts), show_progress=False)
        return cls(retriever, len(texts))

    def save(self, directory: Path) -> list[Path]:
        """Write the state into ``directory``; the files written."""
        self._retriever.save(str(directory), show_progress=False)
        return sorted(p for p in directory.iterdir() if p.is_file())

    @classmethod
    def load(cls, directory: Path, size: int) -> Lexical:
        """The index :meth:`save` wrote into ``directory``."""
        return cls(_bm25s().BM25.load(str(directory)), size)

    def scores(self, query: str) -> np.ndarray:
        """BM25 of every document for ``query``: float64 ``[size]``; 0 where no term matches."""
        terms = tokenize([query])[0]
        if not terms:
            return np.zeros(self.size)
        return np.asarray(self._retriever.get_scores(terms), dtype=np.float64)


def saved_files(texts: list[str]) -> dict[str, bytes]:
    """The files of a BM25 index over ``texts``, by name (for writing into an artifact)."""
    with tempfile.TemporaryDirectory() as tmp:
        paths = Lexical.fit(texts).save(Path(tmp))
        return {p.name: p.read_bytes() for p in paths}
