"""A candidate index: the résumés of a CSV file, redacted, with skills, embeddings and BM25.

Stored as plain files in a sealed version directory (``registry.artifact``: staged, sealed by
a sha256 manifest, renamed into place) under ``MODELRY_HOME/recruitment/indexes/NAME/N``,
not as a registry model: an index is not something a server predicts with, so a model kind
(whose example row must predict its declared outputs) would be a pretence. JSON and ``.npy``
only, no pickle::

    manifest.json               sha256 of every file
    index.json                  IndexSpec: ids, text hashes, skills, passage spans, report
    passages.json               each candidate's redacted passages, in order
    sensitive.json              protected attributes, one value per candidate (when given)
    embeddings.npy              float32 [candidates, d]: the unit mean of a candidate's passages
    passage_embeddings.npy      float32 [passages, d]
    bm25/…                      bm25s state (.npy + JSON) over the redacted texts

Redaction (:func:`~modelry.data.privacy.redact_text`) comes before anything else, so contact
data reaches neither the encoder nor a file. Rows whose text is empty or holds no word are
skipped and counted; a text seen before (exactly, after redaction and whitespace folding) is a
duplicate: the first row is kept and the others are reported with it.

Protected attributes (``Rows.sensitive``) go to ``sensitive.json`` and nowhere else: only the
text is redacted, embedded and indexed for BM25, so they cannot be matched on; they are read
back for the fairness record of every shortlist (:mod:`~modelry.apps.recruitment.fairness`).
"""

from __future__ import annotations

import hashlib
import io
import re
import threading
import time
from collections import Counter, OrderedDict
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict

from modelry.apps.recruitment.encoding import Encoder, passages
from modelry.apps.recruitment.lexical import Lexical, saved_files
from modelry.apps.recruitment.skills import vocabulary
from modelry.data.privacy import redact_text
from modelry.errors import ConfigError, DataError, NotFoundError
from modelry.registry.artifact import ArtifactWriter, commit_dir, load_artifact
from modelry.settings import Settings

INDEX_FILE = "index.json"
PASSAGES_FILE = "passages.json"
EMBEDDINGS_FILE = "embeddings.npy"
PASSAGE_EMBEDDINGS_FILE = "passage_embeddings.npy"
SENSITIVE_FILE = "sensitive.json"
BM25_DIR = "bm25"
INDEX_KIND = "recruitment-index"

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_WORD = re.compile(r"[^\W\d_]{2,}")


class Candidate(BaseModel):
    """One indexed candidate."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    text_sha256: str  # of the redacted text
    skills: list[str]
    passages: tuple[int, int]  # [start, end) in passages.json and passage_embeddings.npy


class IndexSpec(BaseModel):
    """``index.json``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    version: int
    created: float
    source: str
    source_sha256: str
    text_column: str
    id_column: str | None
    encoder: dict[str, Any]  # name, version
    candidates: list[Candidate]
    duplicates: dict[str, list[str]]  # kept id -> ids of the same text, not indexed
    skipped: dict[str, list[str]]  # reason ("empty", "no words", "unreadable") -> row ids
    sensitive: list[str] = []  # protected attributes in sensitive.json


@dataclass
class CandidateIndex:
    """An index read back: its spec, passages and vectors, and its BM25 state."""

    path: Path
    spec: IndexSpec
    passages: list[str]
    embeddings: np.ndarray
    passage_embeddings: np.ndarray
    lexical: Lexical
    sensitive: dict[str, list[str | None]] = field(default_factory=dict)
    """Protected attributes: each a value per candidate (None where missing)."""

    @property
    def ids(self) -> list[str]:
        return [c.id for c in self.spec.candidates]

    @cached_property
    def skill_sets(self) -> list[frozenset[str]]:
        """Each candidate's skills, as a set."""
        return [frozenset(c.skills) for c in self.spec.candidates]

    @cached_property
    def _skill_counts(self) -> Counter[str]:
        return Counter(s for skills in self.skill_sets for s in skills)

    def skill_idf(self, skill: str) -> float:
        """A skill's IDF over the candidates: ``log(1 + (n - df + 0.5) / (df + 0.5))``, the
        BM25 form (positive, highest for a skill nobody has)."""
        n, df = len(self.spec.candidates), self._skill_counts.get(skill, 0)
        return float(np.log1p((n - df + 0.5) / (df + 0.5)))


@dataclass(frozen=True)
class Rows:
    """Candidate texts with their ids, as read from a table or a folder of files."""

    ids: list[str]
    texts: list[Any]
    text_column: str
    id_column: str | None
    problems: dict[str, str] = field(default_factory=dict)
    """Why a row has no text, where it is known (a file that could not be read): id -> reason."""
    sensitive: dict[str, list[Any]] = field(default_factory=dict)
    """Protected attributes, each a column of values aligned with ``ids``: stored for
    fairness audits, never embedded or matched on."""


def indexes_dir(settings: Settings) -> Path:
    """Where indexes live: ``MODELRY_HOME/recruitment/indexes``."""
    return settings.home / "recruitment" / "indexes"


def check_name(name: str) -> str:
    if not _NAME.match(name):
        raise ConfigError(
            f"index name {name!r}: use letters, digits, '_', '.', '-' (64 at most), "
            "starting with a letter or digit"
        )
    return name


def has_words(text: str) -> bool:
    """Whether ``text`` holds a word (two letters or more)."""
    return _WORD.search(text) is not None


def text_sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def _normal(text: str) -> str:
    return " ".join(text.split())


def build_index(
    settings: Settings,
    rows: Rows,
    encoder: Encoder,
    *,
    name: str,
    source: Path,
) -> CandidateIndex:
    """Redact, deduplicate, extract skills, embed and store ``rows`` as the next version of
    the index ``name``.

    Raises:
        DataError: no row holds text.
    """
    check_name(name)
    skipped: dict[str, list[str]] = {"empty": [], "no words": []}
    if rows.problems:
        skipped["unreadable"] = []
    duplicates: dict[str, list[str]] = {}
    first_by_hash: dict[str, str] = {}
    kept: list[tuple[str, str, str]] = []  # id, redacted text, its hash
    for row_id, value in zip(rows.ids, rows.texts, strict=True):
        text = _normal(redact_text(value if isinstance(value, str) else ""))
        if row_id in rows.problems:
            skipped["unreadable"].append(row_id)
            continue
        if not text:
            skipped["empty"].append(row_id)
            continue
        if not has_words(text):
            skipped["no words"].append(row_id)
            continue
        digest = text_sha256(text)
        first = first_by_hash.get(digest)
        if first is not None:
            duplicates.setdefault(first, []).append(row_id)
            continue
        first_by_hash[digest] = row_id
        kept.append((row_id, text, digest))
    if not kept:
        counts = ", ".join(f"{len(v)} {k}" for k, v in skipped.items() if v)
        raise DataError(f"{source}: no row holds text to index ({counts or 'no rows'})")

    words = vocabulary()
    all_passages: list[str] = []
    candidates: list[Candidate] = []
    for row_id, text, digest in kept:
        chunks = passages(text)
        start = len(all_passages)
        all_passages.extend(chunks)
        candidates.append(
            Candidate(
                id=row_id,
                text_sha256=digest,
                skills=words.extract(text),
                passages=(start, len(all_passages)),
            )
        )
    passage_vectors = encoder.embed(all_passages)
    means = np.stack(
        [passage_vectors[c.passages[0] : c.passages[1]].mean(axis=0) for c in candidates]
    )
    norms = np.linalg.norm(means, axis=1, keepdims=True)
    embeddings = (means / np.where(norms > 0, norms, 1.0)).astype(np.float32)

    root = indexes_dir(settings) / name
    version = 1 + max((int(p.name) for p in _versions(root)), default=0)
    spec = IndexSpec(
        name=name,
        version=version,
        created=time.time(),
        source=str(source),
        source_sha256=_file_sha256(source),
        text_column=rows.text_column,
        id_column=rows.id_column,
        encoder={"name": encoder.name, "version": encoder.version},
        candidates=candidates,
        duplicates=duplicates,
        skipped=skipped,
        sensitive=sorted(rows.sensitive),
    )
    position = {row_id: n for n, row_id in enumerate(rows.ids)}
    sensitive = {
        name: [_attribute_value(values[position[c.id]]) for c in candidates]
        for name, values in sorted(rows.sensitive.items())
    }
    with ArtifactWriter(indexes_dir(settings) / ".staging") as writer:
        writer.write_json(INDEX_FILE, spec.model_dump(mode="json"))
        writer.write_json(PASSAGES_FILE, all_passages)
        if sensitive:
            writer.write_json(SENSITIVE_FILE, sensitive)
        writer.write_bytes(EMBEDDINGS_FILE, _npy(embeddings))
        writer.write_bytes(PASSAGE_EMBEDDINGS_FILE, _npy(passage_vectors))
        for file, data in saved_files([t for _, t, _ in kept]).items():
            writer.write_bytes(f"{BM25_DIR}/{file}", data)
        staged = writer.finish({"kind": INDEX_KIND, "name": name, "version": version})
        commit_dir(staged, root / str(version))
    return load_index(settings, name, version)


def _attribute_value(value: Any) -> str | None:
    """A protected attribute's value as text (None where missing)."""
    if value is None or (isinstance(value, float) and value != value):
        return None
    text = str(value).strip()
    return text or None


def _npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def _file_sha256(path: Path) -> str:
    """A file's sha256; a folder's is that of its files' names and hashes, in name order."""
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file())
        listing = "".join(f"{p.relative_to(path)}\0{_file_sha256(p)}\n" for p in files)
        return hashlib.sha256(listing.encode("utf-8", "surrogatepass")).hexdigest()
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _versions(root: Path) -> list[Path]:
    if not root.is_dir():
        return []
    return [p for p in root.iterdir() if p.is_dir() and p.name.isdigit()]


def newest_version(settings: Settings, name: str) -> int:
    """The newest version of the index ``name``.

    Raises:
        NotFoundError: no such index.
    """
    check_name(name)
    versions = [int(p.name) for p in _versions(indexes_dir(settings) / name)]
    if not versions:
        raise NotFoundError(f"no candidate index {name!r}: build one with `modelry recruit index`")
    return max(versions)


def load_index(settings: Settings, name: str, version: int | None = None) -> CandidateIndex:
    """The index ``name`` (its newest version unless ``version``), checked against its
    manifest.

    Raises:
        NotFoundError: no such index or version.
        ArtifactError: its files do not match their manifest.
    """
    chosen = newest_version(settings, name) if version is None else version
    root = indexes_dir(settings) / check_name(name)
    if not (root / str(chosen)).is_dir():
        raise NotFoundError(f"candidate index {name!r} has no version {chosen}")
    artifact = load_artifact(root / str(chosen))
    spec = IndexSpec.model_validate(artifact.read_json(INDEX_FILE))
    return CandidateIndex(
        path=artifact.path,
        spec=spec,
        passages=list(artifact.read_json(PASSAGES_FILE)),
        embeddings=np.load(artifact.file(EMBEDDINGS_FILE), allow_pickle=False),
        passage_embeddings=np.load(artifact.file(PASSAGE_EMBEDDINGS_FILE), allow_pickle=False),
        lexical=Lexical.load(artifact.path / BM25_DIR, len(spec.candidates)),
        sensitive=dict(artifact.read_json(SENSITIVE_FILE)) if spec.sensitive else {},
    )


class IndexCache:
    """Indexes read once and kept, for a server: a request finds the newest version of an
    index by one directory listing, and reads its files (checked against their manifest)
    only when that version is new. Holds the ``size`` most recently used."""

    def __init__(self, settings: Settings, size: int = 8) -> None:
        self.settings = settings
        self.size = size
        self._loaded: OrderedDict[tuple[str, int], CandidateIndex] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, name: str) -> CandidateIndex:
        """The newest version of the index ``name`` (blocking: call it off the event loop).

        Raises:
            NotFoundError: no such index.
        """
        key = (name, newest_version(self.settings, name))
        with self._lock:
            index = self._loaded.get(key)
            if index is not None:
                self._loaded.move_to_end(key)
                return index
        index = load_index(self.settings, *key)
        with self._lock:
            self._loaded[key] = index
            while len(self._loaded) > self.size:
                self._loaded.popitem(last=False)
        return index
