"""Recruitment without the encoder: skills, passages, ties, CSV rows and the decision log."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from modelry.apps.recruitment import decisions
from modelry.apps.recruitment.encoding import passages
from modelry.apps.recruitment.matching import Components, Weights, check_job, combine, ranking
from modelry.apps.recruitment.skills import parse_vocabulary, vocabulary
from modelry.apps.recruitment.sources import read_rows
from modelry.errors import DataError, InvalidInputError


def test_the_shipped_vocabulary_has_about_150_skills() -> None:
    words = vocabulary()
    assert 140 <= len(words.skills) <= 200
    assert len(set(words.skills)) == len(words.skills)


def test_skills_are_found_as_whole_words_with_their_aliases() -> None:
    text = "Senior JavaScript dev: React.js, Node.js, PostgreSQL, C++, C# and .NET; REST APIs."
    assert vocabulary().extract(text) == [
        ".net",
        "c#",
        "c++",
        "javascript",
        "node.js",
        "react",
        "rest api",
        "sql",
    ]
    assert "java" not in vocabulary().extract("javascript only")
    assert vocabulary().extract("") == []


def test_the_longest_spelling_wins() -> None:
    words = parse_vocabulary("spring | spring boot\nboot camp\n")
    assert words.extract("Spring Boot services") == ["spring"]
    assert words.extract("a boot camp") == ["boot camp"]


def test_passages_cut_at_sentences_and_at_the_word_limit() -> None:
    text = "One two three. Four five.\nSix " + "w " * 25
    chunks = passages(text, words=10)
    assert all(len(c.split()) <= 10 for c in chunks)
    assert " ".join(chunks).split() == text.split()
    assert passages("   \n ") == []


def test_ties_are_broken_by_id_numbers_in_numeric_order() -> None:
    ids = ["10", "9", "b", "a", "2"]
    scores = np.array([0.5, 0.5, 0.5, 0.9, 0.5 + 1e-9])
    assert [ids[i] for i in ranking(scores, ids)] == ["a", "2", "9", "10", "b"]


def test_a_job_without_skills_weighs_semantic_and_lexical_only() -> None:
    parts = Components(
        job_skills=[],
        semantic=np.array([0.2, 0.8]),
        lexical=np.array([3.0, 1.0]),
        coverage=np.zeros(2),
        passage_cosines=np.zeros(2),
    )
    np.testing.assert_allclose(combine(parts, Weights(1, 1, 5)), [0.5, 0.5])
    np.testing.assert_allclose(combine(parts, Weights(3, 1, 0)), [0.25, 0.75])


@pytest.mark.parametrize("job", ["", "  \n\t ", "12345 678 -- ##", "\x00\x01abc"])
def test_an_empty_or_non_text_job_is_refused(job: str) -> None:
    with pytest.raises(InvalidInputError, match="job description"):
        check_job(job)


def test_rows_detect_the_text_column_and_number_rows(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_text("name,years,cv\nAnn,3,Python developer with SQL\nBob,4,Nurse\n")
    rows = read_rows(path)
    assert rows.text_column == "cv" and rows.ids == ["1", "2"]
    assert rows.texts == ["Python developer with SQL", "Nurse"]
    with pytest.raises(DataError, match="no column 'resume'"):
        read_rows(path, text_column="resume")
    path.write_text("id,cv\n7,a b\n7,c d\n")
    with pytest.raises(DataError, match="repeated id"):
        read_rows(path, id_column="id")


def _log(tmp_path: Path, n: int) -> Path:
    path = tmp_path / "decisions.jsonl"
    for i in range(n):
        decisions.append(path, {"action": "match", "ranked": [str(i), "x"], "input_sha256": "h"})
    return path


def test_the_log_chains_every_entry_to_the_one_before(tmp_path: Path) -> None:
    path = _log(tmp_path, 3)
    entries = list(decisions.read(path))
    assert [e["seq"] for e in entries] == [1, 2, 3]
    assert entries[0]["prev"] == decisions.GENESIS
    assert entries[1]["prev"] == entries[0]["sha256"]
    assert decisions.verify(path).entries == 3
    assert decisions.verify(path).head == entries[2]["sha256"]
    assert decisions.verify(tmp_path / "none.jsonl").entries == 0


@pytest.mark.parametrize("rehash", [False, True])
def test_an_edited_entry_is_detected_and_named(tmp_path: Path, rehash: bool) -> None:
    path = _log(tmp_path, 3)
    lines = path.read_text().splitlines()
    entry = json.loads(lines[1])
    entry["ranked"] = ["x", "1"]  # a shortlist reordered after the fact
    if rehash:
        entry["sha256"] = decisions.entry_hash(entry)
    lines[1] = json.dumps(entry)
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match="entry 2 was altered"):
        decisions.verify(path)


def test_a_removed_entry_is_detected(tmp_path: Path) -> None:
    path = _log(tmp_path, 3)
    lines = path.read_text().splitlines()
    path.write_text(lines[0] + "\n" + lines[2] + "\n")
    with pytest.raises(DataError, match="entry 2 does not chain"):
        decisions.verify(path)


def test_a_rare_skill_counts_for_more_than_a_common_one() -> None:
    # Candidate 0 has the job's rare skill ("kafka", idf 2.0), candidate 1 its common one
    # ("git", idf 0.5): plain coverage ties them, IDF-weighted coverage does not.
    parts = Components(
        job_skills=["git", "kafka"],
        semantic=np.zeros(2),
        lexical=np.zeros(2),
        coverage=np.array([0.5, 0.5]),
        passage_cosines=np.zeros(2),
        skill_hits=np.array([[False, True], [True, False]]),
        skill_idf=np.array([0.5, 2.0]),
    )
    only_skills = Weights(0, 0, 1, skill_idf=True)
    np.testing.assert_allclose(combine(parts, only_skills), [0.8, 0.2])
    np.testing.assert_allclose(combine(parts, Weights(0, 0, 1, skill_idf=False)), [0.5, 0.5])
