"""A shortlist: candidates matched to a job (or jobs to a candidate), and the decision-log
entry that records it.

The scoring is in :mod:`~modelry.apps.recruitment.matching`, the embedding wherever the caller
runs the encoder: :func:`shortlist` and :func:`job_list` open it in process (the CLI), the HTTP
endpoints go through the served encoder; both log through :func:`log_match` and
:func:`log_jobs`, so an entry says the same whichever path made it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from modelry.apps.recruitment import decisions
from modelry.apps.recruitment.encoding import open_encoder
from modelry.apps.recruitment.fairness import shortlist_fairness
from modelry.apps.recruitment.index import CandidateIndex, load_index
from modelry.apps.recruitment.matching import (
    DEFAULT_WEIGHTS,
    Job,
    Match,
    Ranked,
    Weights,
    candidate_position,
    check_top,
    job_sha256,
    prepare_job,
    rank,
    rank_jobs,
    score,
)
from modelry.errors import InvalidInputError
from modelry.settings import Settings

MAX_JOBS = 100
"""Most jobs ranked for a candidate in one call: each is embedded (up to 64 passages)."""


@dataclass(frozen=True)
class Shortlist:
    """The ranked matches and the log entry written for them."""

    matches: list[Match]
    entry: dict[str, Any]

    def answer(self, candidate: str | None = None) -> dict[str, Any]:
        """The answer as ``modelry recruit match --json`` prints it and the HTTP routes send
        it (:class:`~modelry.protocol.v1.RecruitResponse`): ``candidate`` for ranked jobs,
        ``fairness`` where the entry has it."""
        fairness = self.entry.get("fairness")
        return {
            **({"candidate": candidate} if candidate is not None else {}),
            "index": self.entry["index"],
            "encoder": self.entry["encoder"],
            "log_entry": self.entry["seq"],
            "matches": [m.as_dict() for m in self.matches],
            **({"fairness": fairness} if fairness is not None else {}),
        }


@dataclass(frozen=True)
class JobText:
    """A job offered to a candidate: its id and description."""

    id: str
    text: str


def _ranking_record(
    index: CandidateIndex,
    encoder: dict[str, Any],
    weights: Weights,
    input_sha256: str,
    top: int,
    matches: list[Match],
) -> dict[str, Any]:
    """What every ranking's log entry records, whichever way it ranked."""
    return {
        "index": {
            "name": index.spec.name,
            "version": index.spec.version,
            "built_with": index.spec.encoder,
        },
        "encoder": encoder,
        "weights": {
            "semantic": weights.semantic,
            "lexical": weights.lexical,
            "skills": weights.skills,
            "skill_idf": weights.skill_idf,
        },
        "input_sha256": input_sha256,
        "top": top,
        "ranked": [m.id for m in matches],
        "scores": [m.score for m in matches],
        "reasons": [m.reasons for m in matches],
    }


def log_match(
    settings: Settings,
    job: str,
    index: CandidateIndex,
    encoder: dict[str, Any],
    ranked: Ranked,
    top: int,
    weights: Weights = DEFAULT_WEIGHTS,
) -> dict[str, Any]:
    """Append a job's shortlist to the decision log; the entry written. Where the index
    holds protected attributes, the entry carries the shortlist's ``fairness`` record.

    Args:
        encoder: The encoder that embedded the job: ``{"name", "version"}``.
    """
    matches = ranked.matches
    fairness = shortlist_fairness(index.sensitive, ranked.order, len(matches))
    return decisions.append(
        decisions.log_path(settings),
        {
            "action": "match",
            **_ranking_record(index, encoder, weights, job_sha256(job), top, matches),
            **({"fairness": fairness} if fairness is not None else {}),
        },
    )


def jobs_sha256(candidate: str, jobs: list[JobText]) -> str:
    """The hash the decision log records for a candidate's job list (ids and texts)."""
    doc = {"candidate": candidate, "jobs": [[j.id, j.text] for j in jobs]}
    return hashlib.sha256(
        json.dumps(doc, ensure_ascii=False).encode("utf-8", "surrogatepass")
    ).hexdigest()


def log_jobs(
    settings: Settings,
    candidate: str,
    jobs: list[JobText],
    index: CandidateIndex,
    encoder: dict[str, Any],
    matches: list[Match],
    top: int,
    weights: Weights = DEFAULT_WEIGHTS,
) -> dict[str, Any]:
    """Append a candidate's ranked jobs to the decision log; the entry written."""
    return decisions.append(
        decisions.log_path(settings),
        {
            "action": "jobs",
            "candidate": candidate,
            **_ranking_record(index, encoder, weights, jobs_sha256(candidate, jobs), top, matches),
        },
    )


def prepare_jobs(jobs: list[JobText]) -> list[Job]:
    """``jobs`` ready to score (:func:`~modelry.apps.recruitment.matching.prepare_job`), if
    they can be ranked: 1 to :data:`MAX_JOBS`, unique ids, each a text.

    Raises:
        InvalidInputError: naming the job at fault.
    """
    if not jobs:
        raise InvalidInputError("no jobs to rank", field="jobs")
    if len(jobs) > MAX_JOBS:
        raise InvalidInputError(f"{len(jobs)} jobs: at most {MAX_JOBS} a call", field="jobs")
    seen: set[str] = set()
    prepared: list[Job] = []
    for n, job in enumerate(jobs):
        if not job.id or job.id in seen:
            raise InvalidInputError(f"jobs[{n}]: a missing or repeated id {job.id!r}", field="jobs")
        seen.add(job.id)
        try:
            prepared.append(prepare_job(job.text))
        except InvalidInputError as exc:
            raise InvalidInputError(f"job {job.id!r}: {exc}", field="jobs") from exc
    return prepared


def shortlist(
    settings: Settings,
    job: str,
    index_name: str,
    *,
    top: int = 20,
    encoder_name: str | None = None,
    weights: Weights = DEFAULT_WEIGHTS,
) -> Shortlist:
    """Rank the candidates of ``index_name`` for ``job`` and log the decision.

    The encoder is the one the index was built with (by name, its default version) unless
    ``encoder_name`` is given.

    Raises:
        InvalidInputError: the job is empty or holds no words.
        NotFoundError: no such index or encoder.
    """
    prepared = prepare_job(job)  # before loading anything
    check_top(top)
    index = load_index(settings, index_name)
    encoder = open_encoder(settings, encoder_name or str(index.spec.encoder["name"]))
    try:
        parts = score(prepared, encoder.embed(prepared.chunks), index)
    finally:
        encoder.close()
    ranked = rank(parts, index, top, weights)
    used = {"name": encoder.name, "version": encoder.version}
    entry = log_match(settings, job, index, used, ranked, top, weights)
    return Shortlist(ranked.matches, entry)


def job_list(
    settings: Settings,
    candidate: str,
    jobs: list[JobText],
    index_name: str,
    *,
    top: int = 5,
    encoder_name: str | None = None,
    weights: Weights = DEFAULT_WEIGHTS,
) -> Shortlist:
    """Rank ``jobs`` for ``candidate`` of ``index_name`` and log the decision.

    Raises:
        InvalidInputError: no jobs, too many, a repeated id or an empty description.
        NotFoundError: no such index, candidate or encoder.
    """
    prepared = prepare_jobs(jobs)  # before loading anything
    check_top(top)
    index = load_index(settings, index_name)
    candidate_position(index, candidate)
    encoder = open_encoder(settings, encoder_name or str(index.spec.encoder["name"]))
    try:
        vectors = [encoder.embed(p.chunks) for p in prepared]
    finally:
        encoder.close()
    ids = [j.id for j in jobs]
    matches = rank_jobs(candidate, ids, prepared, vectors, index, top, weights)
    used = {"name": encoder.name, "version": encoder.version}
    entry = log_jobs(settings, candidate, jobs, index, used, matches, top, weights)
    return Shortlist(matches, entry)
