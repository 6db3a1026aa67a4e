"""A shortlist: candidates matched to a job, and the decision-log entry that records it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from modelry.apps.recruitment import decisions
from modelry.apps.recruitment.encoding import open_encoder
from modelry.apps.recruitment.index import load_index
from modelry.apps.recruitment.matching import (
    DEFAULT_WEIGHTS,
    Match,
    Weights,
    check_job,
    job_sha256,
    match,
)
from modelry.settings import Settings


@dataclass(frozen=True)
class Shortlist:
    """The ranked matches and the log entry written for them."""

    matches: list[Match]
    entry: dict[str, Any]


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
    check_job(job)  # before loading anything
    index = load_index(settings, index_name)
    encoder = open_encoder(settings, encoder_name or str(index.spec.encoder["name"]))
    try:
        matches = match(job, index, encoder, top, weights)
    finally:
        encoder.close()
    entry = decisions.append(
        decisions.log_path(settings),
        {
            "action": "match",
            "index": {
                "name": index.spec.name,
                "version": index.spec.version,
                "built_with": index.spec.encoder,
            },
            "encoder": {"name": encoder.name, "version": encoder.version},
            "weights": {
                "semantic": weights.semantic,
                "lexical": weights.lexical,
                "skills": weights.skills,
            },
            "input_sha256": job_sha256(job),
            "top": top,
            "ranked": [m.id for m in matches],
            "scores": [m.score for m in matches],
            "reasons": [m.reasons for m in matches],
        },
    )
    return Shortlist(matches, entry)
