"""Ranking candidates for a job: semantic similarity, BM25 and skill coverage, with reasons.

For a job description and a :class:`~modelry.apps.recruitment.index.CandidateIndex`:

- **semantic**: cosine of the job's embedding (the unit mean of its passages' embeddings, as
  a candidate's) and each candidate's;
- **lexical**: BM25 of the candidate's redacted text for the job's words;
- **skills**: the share of the job's skills (from the shipped vocabulary) the candidate has.

Semantic and lexical scores are min-max scaled over the index, so each spans [0, 1] for every
job; the combined score is their weighted sum with skill coverage (:class:`Weights`; a job
naming no skill drops that term and the others are re-weighed). Ties are broken by id (numbers
in numeric order). Every match carries its reasons: matched and missing skills, the three
component scores and the strongest passage, the candidate's passage closest to the job.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from modelry.apps.recruitment.encoding import Encoder, passages, unit
from modelry.apps.recruitment.index import CandidateIndex, has_words
from modelry.apps.recruitment.skills import vocabulary
from modelry.data.privacy import redact_text
from modelry.errors import InvalidInputError

MAX_JOB_PASSAGES = 64
"""Job passages embedded: a job's first 3,840 words or so. The rest still counts for BM25 and
skills; a longer text is rarely one job."""
DECIMALS = 6
"""Decimals of the reported scores."""
PASSAGE_CHARS = 300
"""Most characters of the strongest passage shown in reasons."""


@dataclass(frozen=True)
class Weights:
    """How much each component counts in the combined score (they are normalised to sum 1)."""

    semantic: float = 0.4
    lexical: float = 0.4
    skills: float = 0.2

    def effective(self, job_has_skills: bool) -> tuple[float, float, float]:
        skills = self.skills if job_has_skills else 0.0
        total = self.semantic + self.lexical + skills
        if total <= 0:
            raise InvalidInputError("the combination weights must not all be zero")
        return self.semantic / total, self.lexical / total, skills / total


DEFAULT_WEIGHTS = Weights()


@dataclass(frozen=True)
class Components:
    """A job's scores for every candidate of an index, before they are combined."""

    job_skills: list[str]
    semantic: np.ndarray  # cosine [n]
    lexical: np.ndarray  # BM25 [n]
    coverage: np.ndarray  # share of the job's skills [n]
    passage_cosines: np.ndarray  # [passages]


@dataclass(frozen=True)
class Match:
    """One ranked candidate."""

    id: str
    score: float
    reasons: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "score": self.score, "reasons": self.reasons}


def check_job(text: str) -> str:
    """``text`` if it is a job description worth ranking for.

    Raises:
        InvalidInputError: it is empty, or holds no word.
    """
    if not text.strip():
        raise InvalidInputError("the job description is empty")
    if "\x00" in text or not has_words(text):
        raise InvalidInputError("the job description holds no words (is it a text file?)")
    return text


def job_sha256(text: str) -> str:
    """The hash the decision log records for a job description (of its UTF-8 bytes)."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def components(job: str, index: CandidateIndex, encoder: Encoder) -> Components:
    """Score every candidate of ``index`` for ``job`` on each component."""
    text = " ".join(redact_text(check_job(job)).split())
    chunks = passages(text)[:MAX_JOB_PASSAGES]
    _, job_vector = encoder.embed_document(chunks)
    skills = vocabulary().extract(text)
    wanted = set(skills)
    coverage = np.array(
        [
            len(wanted.intersection(c.skills)) / len(wanted) if wanted else 0.0
            for c in index.spec.candidates
        ]
    )
    return Components(
        job_skills=skills,
        semantic=index.embeddings.astype(np.float64) @ unit(job_vector).astype(np.float64),
        lexical=index.lexical.scores(text),
        coverage=coverage,
        passage_cosines=index.passage_embeddings.astype(np.float64) @ job_vector,
    )


def scaled(values: np.ndarray) -> np.ndarray:
    """``values`` min-max scaled to [0, 1] (all zeros when they are all equal)."""
    low, high = float(values.min()), float(values.max())
    if high <= low:
        return np.zeros_like(values, dtype=np.float64)
    return (values - low) / (high - low)


def combine(parts: Components, weights: Weights = DEFAULT_WEIGHTS) -> np.ndarray:
    """The combined score of every candidate: float64 ``[n]`` in [0, 1]."""
    w_semantic, w_lexical, w_skills = weights.effective(bool(parts.job_skills))
    return (
        w_semantic * scaled(parts.semantic)
        + w_lexical * scaled(parts.lexical)
        + w_skills * parts.coverage
    )


_DIGITS = re.compile(r"^\d+$")


def id_key(value: str) -> tuple[int, int, str]:
    """Sort key of an id: numbers in numeric order, before other ids in text order."""
    return (0, int(value), "") if _DIGITS.match(value) else (1, 0, value)


def ranking(scores: np.ndarray, ids: list[str]) -> list[int]:
    """Candidate positions by descending score, ties by id. Scores are compared at the
    :data:`DECIMALS` they are reported with, so an order the reader sees as a tie is by id."""
    rounded = np.round(scores, DECIMALS)
    return sorted(range(len(ids)), key=lambda i: (-rounded[i], id_key(ids[i])))


def match(
    job: str,
    index: CandidateIndex,
    encoder: Encoder,
    top: int = 20,
    weights: Weights = DEFAULT_WEIGHTS,
) -> list[Match]:
    """The ``top`` candidates of ``index`` for ``job``, best first, with their reasons.

    Raises:
        InvalidInputError: the job is empty or holds no words, or ``top`` < 1.
    """
    if top < 1:
        raise InvalidInputError(f"top must be at least 1, not {top}")
    parts = components(job, index, encoder)
    scores = combine(parts, weights)
    semantic, lexical = scaled(parts.semantic), scaled(parts.lexical)
    ids = index.ids
    out: list[Match] = []
    for i in ranking(scores, ids)[:top]:
        candidate = index.spec.candidates[i]
        start, end = candidate.passages
        best = start + int(np.argmax(parts.passage_cosines[start:end]))
        have = set(candidate.skills)
        reasons = {
            "matched_skills": [s for s in parts.job_skills if s in have],
            "missing_skills": [s for s in parts.job_skills if s not in have],
            "semantic": round(float(semantic[i]), 6),
            "lexical": round(float(lexical[i]), 6),
            "skill_coverage": round(float(parts.coverage[i]), 6),
            "passage": index.passages[best][:PASSAGE_CHARS],
            "passage_similarity": round(float(parts.passage_cosines[best]), 6),
        }
        out.append(Match(candidate.id, round(float(scores[i]), DECIMALS), reasons))
    return out
