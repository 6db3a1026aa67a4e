"""Candidates from a folder of résumés: .txt, .pdf and .docx files, the bad ones named."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from modelry.apps.recruitment.sources import read_document, read_folder
from modelry.errors import DataError, SourceError

pytest.importorskip("pypdf", reason="needs the text extra: modelry[text]")
docx = pytest.importorskip("docx", reason="needs the text extra: modelry[text]")


def write_docx(path: Path, paragraphs: list[str], cells: tuple[str, ...] = ()) -> None:
    document = docx.Document()
    for text in paragraphs:
        document.add_paragraph(text)
    if cells:
        table = document.add_table(rows=1, cols=len(cells))
        for cell, text in zip(table.rows[0].cells, cells, strict=True):
            cell.text = text
    document.save(str(path))


def test_each_format_is_read(tmp_path: Path, minimal_pdf: Callable[[list[str]], bytes]) -> None:
    (tmp_path / "ann.pdf").write_bytes(minimal_pdf(["Python developer", "Django and SQL"]))
    write_docx(tmp_path / "bob.docx", ["Registered nurse.", "Intensive care."], ("Skills", "ICU"))
    (tmp_path / "cy.txt").write_text("Accountant: GST returns.", encoding="utf-8-sig")  # a BOM
    assert read_document(tmp_path / "ann.pdf").split() == [
        "Python",
        "developer",
        "Django",
        "and",
        "SQL",
    ]
    assert (
        read_document(tmp_path / "bob.docx") == "Registered nurse.\nIntensive care.\nSkills | ICU"
    )
    assert read_document(tmp_path / "cy.txt") == "Accountant: GST returns."


def test_a_folder_is_one_candidate_a_file_and_bad_files_are_named(
    tmp_path: Path, minimal_pdf: Callable[[list[str]], bytes]
) -> None:
    (tmp_path / "ann.pdf").write_bytes(minimal_pdf(["Python developer"]))
    (tmp_path / "broken.pdf").write_bytes(b"%PDF-1.4\nnot really a pdf")
    (tmp_path / "fake.docx").write_text("I am plain text in disguise")
    (tmp_path / "latin.txt").write_bytes("Ingénieur".encode("latin-1"))
    (tmp_path / "scan.pdf").write_bytes(minimal_pdf([]))  # a page without text
    (tmp_path / "photo.jpg").write_bytes(b"\xff\xd8\xff")
    (tmp_path / ".DS_Store").write_bytes(b"\0")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "dan.txt").write_text("not read: subfolders are not")
    folder = read_folder(tmp_path)
    rows = folder.rows
    assert rows.ids == ["ann", "broken", "fake", "latin", "scan"]
    assert rows.texts[0].strip() == "Python developer" and rows.texts[4].strip() == ""
    assert set(rows.problems) == {"broken", "fake", "latin"}
    assert rows.problems["broken"].startswith("broken.pdf: not a readable PDF file")
    assert rows.problems["fake"] == "fake.docx: not a DOCX file (not a zip package)"
    assert rows.problems["latin"] == "latin.txt: not UTF-8 text"
    assert folder.other_files == ["photo.jpg"]


def test_two_files_of_one_stem_and_a_missing_folder_are_refused(tmp_path: Path) -> None:
    (tmp_path / "ann.txt").write_text("Nurse")
    (tmp_path / "ann.docx").write_text("Nurse")
    with pytest.raises(DataError, match=r"ann\.docx and ann\.txt would both be candidate 'ann'"):
        read_folder(tmp_path)
    with pytest.raises(SourceError, match="not a folder"):
        read_folder(tmp_path / "none")
