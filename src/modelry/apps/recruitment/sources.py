"""Where candidates come from: a CSV file (one a row) or a folder of résumé files.

A folder's ``.txt`` (UTF-8), ``.pdf`` (``pypdf``) and ``.docx`` (``python-docx``) files are
read, not its subfolders; a candidate's id is the file's stem. A file that cannot be read (a
damaged PDF, a ``.txt`` that is not UTF-8) or holds no text (a scanned PDF without a text
layer) is skipped and named, with the reason, rather than failing the whole folder: one bad
file among hundreds of CVs should not stop the others being indexed, and the index records
it (``skipped``) so nobody is dropped silently. Other files are left out and named too. Only a
folder without one readable résumé is an error (from
:func:`~modelry.apps.recruitment.index.build_index`).

Kept apart from :mod:`~modelry.apps.recruitment.index` so that serving an index never
imports pandas (the predict path's contract in ``pyproject.toml``).
"""

from __future__ import annotations

import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modelry.apps.recruitment.index import Rows
from modelry.errors import DataError, MissingExtraError, SourceError

FORMATS = (".txt", ".pdf", ".docx")
FILE_COLUMN = "file"
"""The ``text_column`` a folder's rows record: the text is the whole file."""


@dataclass(frozen=True)
class Folder:
    """A folder's résumés as rows, and the files that are not résumés (left out)."""

    rows: Rows
    other_files: list[str]


def read_folder(folder: Path) -> Folder:
    """The résumés of ``folder``: one row per ``.txt``/``.pdf``/``.docx`` file, id = stem.

    A file that cannot be read has no text and its reason in ``rows.problems``.

    Raises:
        SourceError: ``folder`` is not a folder.
        DataError: two files share a stem (``ann.pdf`` and ``ann.docx``: whose id?).
    """
    if not folder.is_dir():
        raise SourceError(f"{folder}: not a folder")
    files = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
    resumes = [p for p in files if p.suffix.lower() in FORMATS]
    other = [p.name for p in files if p.suffix.lower() not in FORMATS]
    by_stem: dict[str, Path] = {}
    for path in resumes:
        if path.stem in by_stem:
            raise DataError(
                f"{folder}: {by_stem[path.stem].name} and {path.name} would both be candidate "
                f"{path.stem!r}; rename one"
            )
        by_stem[path.stem] = path
    ids: list[str] = []
    texts: list[str | None] = []
    problems: dict[str, str] = {}
    for stem, path in by_stem.items():
        ids.append(stem)
        try:
            texts.append(read_document(path))
        except SourceError as exc:
            texts.append(None)
            problems[stem] = str(exc)
    return Folder(Rows(ids, texts, FILE_COLUMN, None, problems), other)


def read_document(path: Path) -> str:
    """The text of a ``.txt``, ``.pdf`` or ``.docx`` file.

    Raises:
        SourceError: it cannot be read, naming the file and why.
        MissingExtraError: pypdf or python-docx is not installed (the ``text`` extra).
    """
    suffix = path.suffix.lower()
    try:
        if suffix == ".pdf":
            return _pdf_text(path)
        if suffix == ".docx":
            return _docx_text(path)
        return path.read_bytes().decode("utf-8-sig")
    except (SourceError, MissingExtraError):
        raise
    except UnicodeDecodeError as exc:
        raise SourceError(f"{path.name}: not UTF-8 text") from exc
    except OSError as exc:
        raise SourceError(f"{path.name}: cannot read ({exc.strerror or exc})") from exc
    except Exception as exc:  # the readers raise many kinds on a damaged file
        raise SourceError(f"{path.name}: not a readable {suffix[1:].upper()} file ({exc})") from exc


def _pdf_text(path: Path) -> str:
    try:
        from pypdf import PdfReader
    except ImportError as exc:
        raise MissingExtraError("pypdf", "text") from exc
    reader = PdfReader(path)
    if reader.is_encrypted:
        raise SourceError(f"{path.name}: the PDF is encrypted")
    return "\n".join(page.extract_text() or "" for page in reader.pages)


def _docx_text(path: Path) -> str:
    try:
        import docx
    except ImportError as exc:
        raise MissingExtraError("python-docx", "text") from exc
    if not zipfile.is_zipfile(path):
        raise SourceError(f"{path.name}: not a DOCX file (not a zip package)")
    document = docx.Document(str(path))
    parts = [p.text for p in document.paragraphs]
    for table in document.tables:  # skills are often laid out in tables
        for row in table.rows:
            parts.append(" | ".join(cell.text for cell in row.cells))
    return "\n".join(parts)


def detect_text_column(frame: Any) -> str:
    """The column of free text: among the string columns, the longest on average.

    Raises:
        SchemaError: no column holds text.
    """
    best, best_length = None, 0.0
    for column in frame.columns:
        values = frame[column].dropna()
        strings = values[values.map(lambda v: isinstance(v, str))]
        if len(strings) < max(1, len(values) // 2):
            continue
        length = float(strings.str.len().mean())
        if length > best_length:
            best, best_length = column, length
    if best is None:
        raise DataError("no column of text found; name it with --text-column")
    return str(best)


def read_rows(
    path: Path,
    text_column: str | None = None,
    id_column: str | None = None,
    sensitive: Sequence[str] = (),
) -> Rows:
    """The candidates of a CSV file: ids (the id column, or row numbers from 1), texts, and
    the protected attributes named in ``sensitive`` (never the text column).

    Raises:
        SourceError: the file cannot be read.
        DataError: a named column is missing, ids repeat, or no column holds text.
    """
    import pandas as pd  # type: ignore[import-untyped]

    try:
        frame = pd.read_csv(path, dtype=object, keep_default_na=False, na_values=[""])
    except FileNotFoundError as exc:
        raise SourceError(f"{path}: no such file") from exc
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise SourceError(f"{path}: not a readable CSV file ({exc})") from exc
    for column in (text_column, id_column, *sensitive):
        if column is not None and column not in frame.columns:
            raise DataError(f"{path}: no column {column!r} (columns: {list(frame.columns)})")
    if text_column is None:
        others = [c for c in (id_column, *sensitive) if c is not None]
        text_column = detect_text_column(frame.drop(columns=others))
    if text_column in sensitive or (id_column is not None and id_column in sensitive):
        raise DataError(f"{path}: a protected attribute cannot be the text or the id column")
    if id_column is None:
        ids = [str(i) for i in range(1, len(frame) + 1)]
    else:
        ids = ["" if v is None or v != v else str(v) for v in frame[id_column]]
        seen: set[str] = set()
        for value in ids:
            if value in seen or not value:
                raise DataError(f"{path}: column {id_column!r} has a missing or repeated id")
            seen.add(value)
    texts = [None if v != v else v for v in frame[text_column]]  # NaN -> None
    attributes = {name: [None if v != v else v for v in frame[name]] for name in sensitive}
    return Rows(ids, texts, text_column, id_column, sensitive=attributes)
