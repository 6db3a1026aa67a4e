"""Where candidates come from: a CSV file (one a row) or a folder of résumé files.

Kept apart from :mod:`~modelry.apps.recruitment.index` so that serving an index never
imports pandas (the predict path's contract in ``pyproject.toml``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from modelry.apps.recruitment.index import Rows
from modelry.errors import DataError, SourceError


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


def read_rows(path: Path, text_column: str | None = None, id_column: str | None = None) -> Rows:
    """The candidates of a CSV file: ids (the id column, or row numbers from 1) and texts.

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
    for column in (text_column, id_column):
        if column is not None and column not in frame.columns:
            raise DataError(f"{path}: no column {column!r} (columns: {list(frame.columns)})")
    if text_column is None:
        text_column = detect_text_column(frame.drop(columns=[id_column] if id_column else []))
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
    return Rows(ids, texts, text_column, id_column)
