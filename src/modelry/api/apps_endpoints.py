"""The applications over HTTP: thin endpoints over the apps' decisions and the data plane.

``POST /v1/apps/marketing/{name}:target`` scores ``instances`` with the response model
``name`` (through the data plane, batched with everyone else's requests to it) and
chooses whom to contact for the most expected profit (:mod:`modelry.apps.marketing.targeting`),
under a budget or a capacity. The model itself stays on the standard V1 and V2 routes.

``POST /v1/apps/recruitment:match`` ranks the candidates of an index for a job, and
``POST /v1/apps/recruitment:jobs`` ranks jobs for a candidate of an index
(:mod:`modelry.apps.recruitment`). Texts are embedded by the served text encoder the index
was built with, through its own pool entry and batcher (the encoder is loaded once, for these
routes and its own V1/V2 routes alike); indexes are read once per version
(:class:`~modelry.apps.recruitment.index.IndexCache`); every answer is written to the
decision log first, as the CLI does, and carries its entry's number.
"""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import numpy as np
from starlette.requests import Request
from starlette.responses import Response

from modelry.api.bodies import json_response, read_body, served_for
from modelry.apps.marketing.targeting import choose, effect_output
from modelry.apps.recruitment.index import CandidateIndex, IndexCache
from modelry.apps.recruitment.matching import (
    Job,
    candidate_position,
    check_top,
    prepare_job,
    rank,
    rank_jobs,
    score,
)
from modelry.apps.recruitment.shortlist import (
    JobText,
    Shortlist,
    log_jobs,
    log_match,
    prepare_jobs,
)
from modelry.errors import InvalidInputError, NotFoundError
from modelry.protocol import v1
from modelry.protocol.codecs import records_to_columns
from modelry.protocol.predictions import relabel_row_error
from modelry.protocol.v2_wire import loads
from modelry.serving.dataplane import DataPlane
from modelry.serving.text_encoder import TEXT_ENCODER_KIND
from modelry.settings import Settings

_FIELDS = {"instances", "cost_per_contact", "value_per_conversion", "budget", "capacity"}


class AppsAPI:
    """``/v1/apps/...``: the applications' decisions."""

    def __init__(self, plane: DataPlane, max_body_bytes: int) -> None:
        self.plane = plane
        self.limit = max_body_bytes

    async def target(self, request: Request, labels: list[str]) -> Response:
        body = await read_body(request, self.limit)
        served = await served_for(self.plane, request, labels)
        doc, lenient = loads(body)
        required = ("instances", "cost_per_contact", "value_per_conversion")
        doc = _object(doc, _FIELDS, required, "'instances'")
        effect = effect_output(served.runtime)  # 422 unless it is a binary classifier
        columns, n_rows = records_to_columns(doc["instances"], served.spec, check_finite=lenient)
        cost = _economics(doc["cost_per_contact"], "cost_per_contact", n_rows)
        value = _economics(doc["value_per_conversion"], "value_per_conversion", n_rows)
        budget = _limit(doc.get("budget"), "budget", float)
        capacity = _limit(doc.get("capacity"), "capacity", int)
        try:
            outputs = await self.plane.outputs(served, columns, n_rows)
        except InvalidInputError as exc:
            raise relabel_row_error(exc, "instances") from exc
        selection = choose(
            outputs[effect], cost=cost, value=value, budget=budget, capacity=capacity
        )
        order = np.argsort(-selection.effect, kind="stable")
        ranked = [
            v1.TargetedCustomer(
                index=int(i),
                score=float(selection.effect[i]),
                expected_profit=float(selection.expected_profit[i]),
                contacted=bool(selection.contacted[i]),
            )
            for i in order
        ]
        answer = {"model": labels[0], "version": served.version, **selection.summary()}
        return json_response({**answer, "ranked": ranked})


def _object(doc: Any, fields: set[str], required: tuple[str, ...], named: str) -> dict[str, Any]:
    """``doc`` if it is an object of ``fields`` holding the ``required`` ones; else the error
    names the first field at fault (``named``: what an object was expected with)."""
    if type(doc) is not dict:
        raise InvalidInputError(f"body: expected an object with {named}", field="body")
    unknown = sorted(doc.keys() - fields)
    if unknown:
        raise InvalidInputError(f"{unknown[0]}: unknown field", field=unknown[0])
    for name in required:
        if name not in doc:
            raise InvalidInputError(f"{name}: missing field", field=name)
    return doc


def _economics(value: Any, name: str, rows: int) -> float | list[float]:
    """A number, or a list of one number per instance (the optimiser checks their signs)."""
    if type(value) in (int, float):
        return float(value)
    if type(value) is list and len(value) == rows and all(type(v) in (int, float) for v in value):
        return [float(v) for v in value]
    raise InvalidInputError(
        f"{name}: expected a number, or a list of {rows} numbers (one per instance)", field=name
    )


def _limit(value: Any, name: str, kind: type[int] | type[float]) -> Any:
    """A budget (any number) or a capacity (a whole number), or None when not given."""
    if value is None:
        return None
    if type(value) is not kind and not (kind is float and type(value) is int):
        expected = "a whole number" if kind is int else "a number"
        raise InvalidInputError(f"{name}: expected {expected}, got {value!r}", field=name)
    return kind(value)


class RecruitmentAPI:
    """``/v1/apps/recruitment:...``: candidates for a job, jobs for a candidate."""

    def __init__(self, plane: DataPlane, settings: Settings) -> None:
        self.plane = plane
        self.settings = settings
        self.limit = settings.max_body_bytes
        self.indexes = IndexCache(settings)

    async def match(self, request: Request, labels: list[str]) -> Response:
        doc = await self._read(request, {"job", "index", "top"}, ("job", "index"))
        text = _text(doc["job"], "job")
        top = check_top(_whole(doc.get("top", 10), "top"))
        job = await asyncio.to_thread(_prepared, text)
        index = await self._index(doc["index"])
        vectors, encoder = await self._embed([job], index, labels)
        # Scoring the whole index is CPU work: off the event loop, like reading it.
        ranked = await asyncio.to_thread(lambda: rank(score(job, vectors[0], index), index, top))
        entry = await asyncio.to_thread(log_match, self.settings, text, index, encoder, ranked, top)
        return json_response(Shortlist(ranked.matches, entry).answer())

    async def jobs(self, request: Request, labels: list[str]) -> Response:
        doc = await self._read(
            request, {"candidate", "jobs", "index", "top"}, ("candidate", "jobs", "index")
        )
        candidate = _text(doc["candidate"], "candidate")
        top = check_top(_whole(doc.get("top", 5), "top"))
        jobs = _jobs(doc["jobs"])
        prepared = await asyncio.to_thread(prepare_jobs, jobs)
        index = await self._index(doc["index"])
        candidate_position(index, candidate)
        vectors, encoder = await self._embed(prepared, index, labels)
        ids = [j.id for j in jobs]
        matches = await asyncio.to_thread(rank_jobs, candidate, ids, prepared, vectors, index, top)
        entry = await asyncio.to_thread(
            log_jobs, self.settings, candidate, jobs, index, encoder, matches, top
        )
        return json_response(Shortlist(matches, entry).answer(candidate))

    async def _read(
        self, request: Request, fields: set[str], required: tuple[str, ...]
    ) -> dict[str, Any]:
        doc, _ = loads(await read_body(request, self.limit))
        return _object(doc, fields, required, ", ".join(required))

    async def _index(self, name: Any) -> CandidateIndex:
        return await asyncio.to_thread(self.indexes.get, _text(name, "index"))

    async def _embed(
        self, jobs: list[Job], index: CandidateIndex, labels: list[str]
    ) -> tuple[list[np.ndarray], dict[str, Any]]:
        """Each job's passage embeddings, by the served encoder ``index`` was built with;
        that encoder's name and version.

        All the jobs' passages go to the served encoder in one call, so the batcher sees
        them together."""
        name = str(index.spec.encoder["name"])
        try:
            served = await self.plane.model(name, None)
        except NotFoundError as exc:
            raise NotFoundError(
                f"index {index.spec.name!r} was built with the text encoder {name!r}, "
                "which this server does not serve"
            ) from exc
        if served.runtime.kind != TEXT_ENCODER_KIND:
            raise InvalidInputError(f"model {name!r} is not a text encoder", field="index")
        labels[0], labels[1] = name, str(served.version)
        texts = [chunk for job in jobs for chunk in job.chunks]
        outputs = await self.plane.outputs(served, {"text": texts}, len(texts))
        vectors = np.asarray(outputs["embedding"])
        bounds = np.cumsum([0] + [len(job.chunks) for job in jobs])
        parts = [vectors[a:b] for a, b in itertools.pairwise(bounds)]
        return parts, {"name": served.name, "version": served.version}


def _prepared(text: str) -> Job:
    try:
        return prepare_job(text)
    except InvalidInputError as exc:
        raise InvalidInputError(f"job: {exc}", field="job") from exc


def _text(value: Any, name: str) -> str:
    if type(value) is not str or not value:
        raise InvalidInputError(f"{name}: expected a non-empty string", field=name)
    return value


def _whole(value: Any, name: str) -> int:
    if type(value) is not int:
        raise InvalidInputError(f"{name}: expected a whole number, got {value!r}", field=name)
    return value


def _jobs(value: Any) -> list[JobText]:
    if type(value) is not list:
        raise InvalidInputError('jobs: expected a list of {"id": ..., "text": ...}', field="jobs")
    jobs = []
    for n, item in enumerate(value):
        if type(item) is not dict or set(item) != {"id", "text"}:
            raise InvalidInputError(f'jobs[{n}]: expected {{"id": ..., "text": ...}}', field="jobs")
        job_id = item["id"]
        if type(job_id) is int:
            job_id = str(job_id)
        if type(job_id) is not str or type(item["text"]) is not str:
            raise InvalidInputError(f"jobs[{n}]: id and text must be strings", field="jobs")
        jobs.append(JobText(job_id, item["text"]))
    return jobs
