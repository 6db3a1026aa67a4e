"""Ranking candidates for a job: semantic similarity, BM25 and skill coverage, with reasons.

For a job description and a :class:`~modelry.apps.recruitment.index.CandidateIndex`:

- **semantic**: cosine of the job's embedding (the unit mean of its passages' embeddings, as
  a candidate's) and each candidate's;
- **lexical**: BM25 of the candidate's redacted text for the job's words;
- **skills**: the share of the job's skills (from the shipped vocabulary) the candidate has,
  each skill weighed by its IDF over the index (a rare skill says more than "git").

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
from modelry.apps.recruitment.lexical import Lexical
from modelry.apps.recruitment.skills import vocabulary
from modelry.data.privacy import redact_text
from modelry.errors import InvalidInputError, NotFoundError

MAX_JOB_PASSAGES = 64
"""Job passages embedded: a job's first 3,840 words or so. The rest still counts for BM25 and
skills; a longer text is rarely one job."""
DECIMALS = 6
"""Decimals of the reported scores."""
PASSAGE_CHARS = 300
"""Most characters of the strongest passage shown in reasons."""


@dataclass(frozen=True)
class Weights:
    """How much each component counts in the combined score (``semantic``, ``lexical`` and
    ``skills`` are normalised to sum 1), and how the semantic and skill terms are formed.

    Attributes:
        skill_idf: Weigh each of the job's skills by its IDF over the index's candidates, so
            having the rare skill the job is about counts for more than having "agile" or
            "git", which most candidates list.
    """

    semantic: float = 0.6
    lexical: float = 0.3
    skills: float = 0.1
    skill_idf: bool = True

    def effective(self, job_has_skills: bool) -> tuple[float, float, float]:
        skills = self.skills if job_has_skills else 0.0
        total = self.semantic + self.lexical + skills
        if total <= 0:
            raise InvalidInputError("the combination weights must not all be zero")
        return self.semantic / total, self.lexical / total, skills / total


DEFAULT_WEIGHTS = Weights()
"""Chosen on the retrieval benchmark's five tuning categories only (``bench/recruit_retrieval.py``;
``bench/history.md`` has the figures, on the twenty others)."""


@dataclass(frozen=True)
class Components:
    """A job's scores for every candidate of an index, before they are combined."""

    job_skills: list[str]
    semantic: np.ndarray  # cosine [n]
    lexical: np.ndarray  # BM25 [n]
    coverage: np.ndarray  # share of the job's skills [n]
    passage_cosines: np.ndarray  # [passages]
    skill_hits: np.ndarray | None = None  # bool [n, job skills]: who has which
    skill_idf: np.ndarray | None = None  # [job skills]: IDF over the index's candidates


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


@dataclass(frozen=True)
class Job:
    """A job description ready to score: redacted, with its passages and skills."""

    text: str  # redacted, whitespace folded
    chunks: list[str]  # the passages that are embedded (at most MAX_JOB_PASSAGES)
    skills: list[str]


def prepare_job(text: str) -> Job:
    """``text`` checked, redacted and cut into the passages the encoder embeds.

    Raises:
        InvalidInputError: it is empty or holds no words.
    """
    redacted = " ".join(redact_text(check_job(text)).split())
    return Job(redacted, passages(redacted)[:MAX_JOB_PASSAGES], vocabulary().extract(redacted))


def score(job: Job, chunk_vectors: np.ndarray, index: CandidateIndex) -> Components:
    """Score every candidate of ``index`` for ``job``, whose passages embed as
    ``chunk_vectors`` (by whichever path: in process or through the served encoder)."""
    job_vector = unit(np.asarray(chunk_vectors, dtype=np.float32).mean(axis=0))
    hits = np.array(
        [[s in have for s in job.skills] for have in index.skill_sets], dtype=bool
    ).reshape(len(index.skill_sets), len(job.skills))
    coverage = hits.mean(axis=1) if job.skills else np.zeros(len(hits))
    cosines = index.passage_embeddings.astype(np.float64) @ job_vector.astype(np.float64)
    return Components(
        job_skills=job.skills,
        semantic=index.embeddings.astype(np.float64) @ job_vector.astype(np.float64),
        lexical=index.lexical.scores(job.text),
        coverage=coverage,
        passage_cosines=cosines,
        skill_hits=hits,
        skill_idf=np.array([index.skill_idf(s) for s in job.skills]),
    )


def components(job: str, index: CandidateIndex, encoder: Encoder) -> Components:
    """Score every candidate of ``index`` for ``job`` on each component."""
    prepared = prepare_job(job)
    return score(prepared, encoder.embed(prepared.chunks), index)


def scaled(values: np.ndarray) -> np.ndarray:
    """``values`` min-max scaled to [0, 1] (all zeros when they are all equal)."""
    low, high = float(values.min()), float(values.max())
    if high <= low:
        return np.zeros_like(values, dtype=np.float64)
    return (values - low) / (high - low)


@dataclass(frozen=True)
class Terms:
    """The three terms of the combined score, each in [0, 1], for every candidate."""

    semantic: np.ndarray  # min-max scaled
    lexical: np.ndarray  # min-max scaled
    skills: np.ndarray  # (weighted) coverage of the job's skills


def skill_coverage(hits: np.ndarray, idf: np.ndarray | None) -> np.ndarray:
    """Each row's share of a job's skills (``hits``: bool ``[rows, skills]``, who has which),
    each skill weighed by ``idf`` where given, else equally; 0 for a job without skills."""
    weight = np.ones(hits.shape[1]) if idf is None else idf
    total = float(weight.sum())
    if total <= 0:
        return np.zeros(len(hits))
    covered: np.ndarray = hits.astype(np.float64) @ weight / total
    return covered


def terms(parts: Components, weights: Weights = DEFAULT_WEIGHTS) -> Terms:
    """The terms ``weights`` combines: semantic and BM25 scaled, and skill coverage
    (weighed by IDF where asked)."""
    coverage = parts.coverage
    if weights.skill_idf and parts.skill_idf is not None and parts.skill_hits is not None:
        coverage = skill_coverage(parts.skill_hits, parts.skill_idf)
    return Terms(scaled(parts.semantic), scaled(parts.lexical), coverage)


def _combined(t: Terms, weights: Weights, job_has_skills: bool) -> np.ndarray:
    w_semantic, w_lexical, w_skills = weights.effective(job_has_skills)
    combined: np.ndarray = w_semantic * t.semantic + w_lexical * t.lexical + w_skills * t.skills
    return combined


def combine(parts: Components, weights: Weights = DEFAULT_WEIGHTS) -> np.ndarray:
    """The combined score of every candidate: float64 ``[n]`` in [0, 1]."""
    return _combined(terms(parts, weights), weights, bool(parts.job_skills))


_DIGITS = re.compile(r"^\d+$")


def id_key(value: str) -> tuple[int, int, str]:
    """Sort key of an id: numbers in numeric order, before other ids in text order."""
    return (0, int(value), "") if _DIGITS.match(value) else (1, 0, value)


def ranking(scores: np.ndarray, ids: list[str]) -> list[int]:
    """Candidate positions by descending score, ties by id. Scores are compared at the
    :data:`DECIMALS` they are reported with, so an order the reader sees as a tie is by id."""
    rounded = np.round(scores, DECIMALS)
    return sorted(range(len(ids)), key=lambda i: (-rounded[i], id_key(ids[i])))


def _why(
    job_skills: list[str],
    have: set[str],
    t: Terms,
    at: int,
    passage: str,
    similarity: float,
) -> dict[str, Any]:
    """A match's reasons: the job's skills the candidate has and lacks, the terms at ``at``
    and the candidate's passage closest to the job."""
    return {
        "matched_skills": [s for s in job_skills if s in have],
        "missing_skills": [s for s in job_skills if s not in have],
        "semantic": round(float(t.semantic[at]), DECIMALS),
        "lexical": round(float(t.lexical[at]), DECIMALS),
        "skill_coverage": round(float(t.skills[at]), DECIMALS),
        "passage": passage[:PASSAGE_CHARS],
        "passage_similarity": round(similarity, DECIMALS),
    }


def reasons(parts: Components, index: CandidateIndex, i: int, t: Terms) -> dict[str, Any]:
    """Why candidate ``i`` scored as it did for the job ``parts`` were computed for, whose
    terms are ``t``."""
    candidate = index.spec.candidates[i]
    start, end = candidate.passages
    best = start + int(np.argmax(parts.passage_cosines[start:end]))
    similarity = float(parts.passage_cosines[best])
    return _why(parts.job_skills, set(candidate.skills), t, i, index.passages[best], similarity)


@dataclass(frozen=True)
class Ranked:
    """A job's shortlist, and the order of the whole index it was cut from."""

    matches: list[Match]
    order: list[int]  # every candidate's position in the index, best first


def check_top(top: int) -> int:
    if top < 1:
        raise InvalidInputError(f"top must be at least 1, not {top}", field="top")
    return top


def rank(
    parts: Components, index: CandidateIndex, top: int, weights: Weights = DEFAULT_WEIGHTS
) -> Ranked:
    """The ``top`` candidates for the job ``parts`` score, best first, with their reasons."""
    t = terms(parts, weights)
    scores = _combined(t, weights, bool(parts.job_skills))
    order = ranking(scores, index.ids)
    matches = [
        Match(
            index.spec.candidates[i].id,
            round(float(scores[i]), DECIMALS),
            reasons(parts, index, i, t),
        )
        for i in order[: check_top(top)]
    ]
    return Ranked(matches, order)


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
    return rank(components(job, index, encoder), index, check_top(top), weights).matches


def candidate_position(index: CandidateIndex, candidate: str) -> int:
    """Where candidate ``candidate`` is in ``index``.

    Raises:
        NotFoundError: the index holds no such candidate (or holds it as a duplicate).
    """
    for i, c in enumerate(index.spec.candidates):
        if c.id == candidate:
            return i
    for kept, copies in index.spec.duplicates.items():
        if candidate in copies:
            raise NotFoundError(
                f"candidate {candidate!r} is indexed as {kept!r} (the same résumé) in "
                f"index {index.spec.name!r}"
            )
    raise NotFoundError(f"no candidate {candidate!r} in index {index.spec.name!r}")


def rank_jobs(
    candidate: str,
    job_ids: list[str],
    jobs: list[Job],
    job_vectors: list[np.ndarray],
    index: CandidateIndex,
    top: int,
    weights: Weights = DEFAULT_WEIGHTS,
) -> list[Match]:
    """The ``top`` jobs for ``candidate``, best first: matching turned around.

    The candidate is the query and the jobs are the documents, with the same three terms and
    weights: the cosine of the candidate's embedding and each job's (the unit mean of its
    passages, ``job_vectors[j]``), BM25 of each job's text for the candidate's redacted text
    (over these jobs), both min-max scaled over the jobs, and the share of each job's skills
    the candidate has (IDF over the index where the weights say so). Reasons are each job's
    matched and missing skills and the candidate's passage closest to it. Ties go by job id.

    Raises:
        NotFoundError: no such candidate in ``index``.
    """
    i = candidate_position(index, candidate)
    person = index.spec.candidates[i]
    start, end = person.passages
    vectors = np.stack([unit(np.asarray(v, dtype=np.float32).mean(axis=0)) for v in job_vectors])
    semantic = scaled(vectors.astype(np.float64) @ index.embeddings[i].astype(np.float64))
    lexical = scaled(
        Lexical.fit([job.text for job in jobs]).scores(" ".join(index.passages[start:end]))
    )
    cosines = index.passage_embeddings[start:end].astype(np.float64) @ vectors.T.astype(np.float64)
    have = set(person.skills)
    coverage = np.array(
        [
            skill_coverage(
                np.array([[s in have for s in job.skills]], dtype=bool).reshape(1, -1),
                np.array([index.skill_idf(s) for s in job.skills]) if weights.skill_idf else None,
            )[0]
            for job in jobs
        ]
    )
    t = Terms(semantic, lexical, coverage)
    # A job naming no skill re-weighs its own terms (as a job does in :func:`combine`).
    named = np.array([bool(job.skills) for job in jobs])
    combined = np.where(named, _combined(t, weights, True), _combined(t, weights, False))
    best = np.argmax(cosines, axis=0)  # the candidate's passage closest to each job
    return [
        Match(
            job_ids[j],
            round(float(combined[j]), DECIMALS),
            _why(
                jobs[j].skills,
                have,
                t,
                j,
                index.passages[start + int(best[j])],
                float(cosines[best[j], j]),
            ),
        )
        for j in ranking(combined, job_ids)[: check_top(top)]
    ]
