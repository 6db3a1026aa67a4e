"""Reading tables from CSV and Parquet files: whole (pandas) or streamed in batches (Arrow).

Both readers agree on the dialect: the delimiter is sniffed among ``, ; TAB |``, the
encoding is UTF-8 (with or without BOM) or else Latin-1, and the same tokens read as
missing. Every failure is a :class:`~modelry.errors.SourceError` naming the file.

Importing this module loads neither pandas nor pyarrow; :func:`iter_batches` streams with
Arrow alone (pyarrow may still load an installed pandas for itself).
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from modelry.data.columns import Coded, ColumnArray
from modelry.errors import SchemaError, SourceError

if TYPE_CHECKING:
    import pandas as pd  # type: ignore[import-untyped]

CSV_SUFFIXES = frozenset({".csv", ".txt", ".tsv"})
PARQUET_SUFFIXES = frozenset({".parquet", ".pq"})
DELIMITERS = (",", ";", "\t", "|")
SNIFF_BYTES = 1 << 16

NA_TOKENS = (
    "", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN",
    "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null",
)  # fmt: skip
"""pandas' default missing-value tokens; the Arrow reader uses the same so both agree."""


@dataclass(frozen=True, slots=True)
class Dialect:
    delimiter: str
    encoding: str  # a Python codec name: "utf-8", "utf-8-sig" or "latin-1"


def _checked(path: str | Path) -> Path:
    """The path, after the checks every reader needs; raises SourceError otherwise."""
    path = Path(path)
    if not path.exists():
        raise SourceError(f"{path}: no such file; check the path", file=str(path))
    if path.is_dir():
        raise SourceError(f"{path} is a directory: give a CSV or Parquet file", file=str(path))
    suffix = path.suffix.lower()
    if suffix not in CSV_SUFFIXES | PARQUET_SUFFIXES:
        kinds = ", ".join(sorted(CSV_SUFFIXES | PARQUET_SUFFIXES))
        raise SourceError(f"{path}: unsupported file type; use {kinds}", file=str(path))
    if path.stat().st_size == 0:
        raise SourceError(f"{path} is empty: it has no header and no rows", file=str(path))
    return path


def _is_parquet(path: Path) -> bool:
    return path.suffix.lower() in PARQUET_SUFFIXES


def _decode(head: bytes, path: Path) -> tuple[str, str]:
    """(text, codec) of the file's first bytes; raises SourceError for binary content."""
    control = sum(1 for b in head if b < 32 and b not in (9, 10, 13))
    if b"\x00" in head or control > len(head) // 100:
        raise SourceError(
            f"{path} looks binary, not text: give a CSV file (or rename a Parquet file .parquet)",
            file=str(path),
        )
    if head.startswith(b"\xef\xbb\xbf"):
        return head[3:].decode("utf-8", errors="ignore"), "utf-8-sig"
    try:
        return head.decode("utf-8"), "utf-8"
    except UnicodeDecodeError as exc:
        if exc.start >= len(head) - 3 and len(head) == SNIFF_BYTES:
            # The sample ends inside a multi-byte character; the file itself is fine.
            return head[: exc.start].decode("utf-8"), "utf-8"
        return head.decode("latin-1"), "latin-1"


def sniff(path: str | Path) -> Dialect:
    """The delimiter and encoding of a CSV file, from its first 64 KiB.

    The delimiter that splits the header into the most fields, and every sampled record
    into as many, wins; a file with no delimiter at all is one column (``,``).
    """
    path = Path(path)
    with path.open("rb") as fh:
        head = fh.read(SNIFF_BYTES)
    text, encoding = _decode(head, path)
    complete = len(head) < SNIFF_BYTES
    best, best_score = ",", (0, 0.0)
    for delimiter in DELIMITERS:
        try:
            rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
        except csv.Error:
            continue
        # Drop the record the sample may have cut short, and blank lines.
        rows = [r for r in (rows if complete else rows[:-1]) if r][:50]
        if not rows or len(rows[0]) < 2:
            continue
        width = len(rows[0])
        consistent = sum(1 for r in rows if len(r) == width) / len(rows)
        score = (int(consistent >= 0.9), consistent * width)
        if score > best_score:
            best, best_score = delimiter, score
    return Dialect(delimiter=best, encoding=encoding)


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a whole CSV or Parquet file into a DataFrame.

    Strings stay strings: only blanks and pandas' default tokens (``NA``, ``null``...) read
    as missing, never words like ``unknown``. Column names are stripped of whitespace, and
    ``df.attrs["source"]`` holds the file name for messages further down.

    Raises:
        SourceError: The file is missing, a directory, empty, header-only, malformed,
            binary, or of an unsupported type.
    """
    import pandas as pd

    path = _checked(path)
    try:
        if _is_parquet(path):
            df = pd.read_parquet(path)
        else:
            dialect = sniff(path)
            df = pd.read_csv(
                path, sep=dialect.delimiter, encoding=dialect.encoding, low_memory=False
            )
    except pd.errors.EmptyDataError as exc:
        raise SourceError(f"{path} has no columns: is it empty?", file=str(path)) from exc
    except pd.errors.ParserError as exc:
        detail = str(exc).strip().splitlines()[-1]
        raise SourceError(
            f"{path} is malformed ({detail}): fix the row, or check the delimiter and quoting",
            file=str(path),
        ) from exc
    except (OSError, ValueError, UnicodeError) as exc:
        kind = "Parquet" if _is_parquet(path) else "CSV"
        raise SourceError(
            f"{path} cannot be read as {kind} ({exc}): check the file", file=str(path)
        ) from exc
    if len(df) == 0:
        raise SourceError(f"{path} has a header but no rows: nothing to learn from", file=str(path))
    df.columns = [str(c).strip() for c in df.columns]
    df.attrs["source"] = path.name
    return df


def to_columns(df: pd.DataFrame, names: Sequence[str]) -> dict[str, np.ndarray]:
    """The named columns as numpy arrays, the form features consume.

    Numeric and boolean columns become float64 (NaN = missing); all others object arrays of
    str (None = missing).

    Raises:
        SchemaError: A name is not a column of ``df``.
    """
    import pandas as pd

    absent = [n for n in names if n not in df.columns]
    if absent:
        raise SchemaError(
            f"column(s) {', '.join(map(repr, absent))} not in the data; columns are: "
            f"{', '.join(map(str, df.columns))}",
            columns=absent,
        )
    out: dict[str, np.ndarray] = {}
    for name in names:
        col = df[name]
        if pd.api.types.is_bool_dtype(col) or pd.api.types.is_numeric_dtype(col):
            out[name] = col.to_numpy(dtype=np.float64, na_value=np.nan)
            continue
        values = col.to_numpy(dtype=object)
        missing = pd.isna(values)
        if pd.api.types.infer_dtype(values, skipna=True) == "boolean":
            # An object column of True/False with blanks: the same as a bool column.
            nums = np.where(missing, np.nan, values == True)  # noqa: E712 - elementwise
            out[name] = nums.astype(np.float64)
            continue
        strings = values.astype(str).astype(object)
        strings[missing] = None
        out[name] = strings
    return out


def fingerprint(path: str | Path) -> dict[str, Any]:
    """Lineage of a data file: sha256, size, format, and its shape where that is cheap.

    Parquet's footer gives rows and columns; a CSV gives columns and dialect, not rows.
    """
    path = _checked(path)
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    info: dict[str, Any] = {
        "file": path.name,
        "sha256": digest.hexdigest(),
        "bytes": path.stat().st_size,
        "format": "parquet" if _is_parquet(path) else "csv",
    }
    if _is_parquet(path):
        import pyarrow.parquet as pq

        try:
            meta = pq.ParquetFile(path).metadata
        except Exception as exc:  # pyarrow raises several types for a bad footer
            raise SourceError(f"{path} is not a valid Parquet file: {exc}", file=str(path)) from exc
        info.update(rows=meta.num_rows, columns=meta.num_columns)
    else:
        dialect = sniff(path)
        with path.open(encoding=dialect.encoding, newline="") as fh:
            header = next(csv.reader(fh, delimiter=dialect.delimiter), [])
        info.update(columns=len(header), delimiter=dialect.delimiter, encoding=dialect.encoding)
    return info


def iter_batches(
    path: str | Path, batch_rows: int = 65536, *, numeric: Sequence[str] | None = None
) -> Iterator[dict[str, ColumnArray]]:
    """Stream a CSV or Parquet file as column batches, with Arrow and without pandas.

    Numbers, integers and booleans become float64 (NaN = missing); strings become
    :class:`~modelry.data.columns.Coded`. A CSV is read as text and each column's kind is
    fixed once, from the first batch (or from ``numeric``), so every batch agrees.

    Args:
        path: The file.
        batch_rows: Rows per batch (the last one may be shorter).
        numeric: CSV columns to read as numbers, all others as strings, e.g. from a stored
            schema. When omitted, a CSV column is numeric if its first batch is.

    Raises:
        SourceError: As :func:`read_table`, or a column found numeric holds text later on.
    """
    if batch_rows < 1:
        raise ValueError("batch_rows must be positive")
    path = _checked(path)
    import pyarrow as pa

    rows = 0
    try:
        if _is_parquet(path):
            import pyarrow.parquet as pq

            for batch in pq.ParquetFile(path).iter_batches(batch_size=batch_rows):
                rows += batch.num_rows
                yield {
                    name: _typed(col)
                    for name, col in zip(_names(batch), batch.columns, strict=True)
                }
        else:
            kinds: dict[str, str] | None = None
            for batch in _csv_batches(path, batch_rows):
                if kinds is None:
                    kinds = {
                        n: _kind(c, n, numeric)
                        for n, c in zip(_names(batch), batch.columns, strict=True)
                    }
                yield {
                    name: _as_kind(col, kinds[name], name, path, rows)
                    for name, col in zip(_names(batch), batch.columns, strict=True)
                }
                rows += batch.num_rows
    except pa.ArrowException as exc:
        detail = str(exc).strip().splitlines()[0]
        raise SourceError(
            f"{path} is malformed ({detail}): check the file", file=str(path)
        ) from exc
    if rows == 0:
        raise SourceError(f"{path} has a header but no rows: nothing to score", file=str(path))


def _names(batch: Any) -> list[str]:
    return [str(n).strip() for n in batch.schema.names]  # as read_table strips them


def _csv_batches(path: Path, batch_rows: int) -> Iterator[Any]:
    """Record batches of exactly ``batch_rows`` rows, every column read as text."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    dialect = sniff(path)
    read = pacsv.ReadOptions(
        encoding="latin1" if dialect.encoding == "latin-1" else "utf8", block_size=4 << 20
    )
    parse = pacsv.ParseOptions(delimiter=dialect.delimiter, newlines_in_values=True)
    with pacsv.open_csv(path, read_options=read, parse_options=parse) as probe:
        names = probe.schema.names
    convert = pacsv.ConvertOptions(
        column_types={n: pa.string() for n in names},
        null_values=list(NA_TOKENS),
        strings_can_be_null=True,
    )
    pending: list[Any] = []
    count = 0
    options = {"read_options": read, "parse_options": parse, "convert_options": convert}
    with pacsv.open_csv(path, **options) as reader:
        for block in reader:
            pending.append(block)
            count += block.num_rows
            while count >= batch_rows:
                table = pa.Table.from_batches(pending)
                yield table.slice(0, batch_rows).combine_chunks().to_batches()[0]
                rest = table.slice(batch_rows)
                pending, count = rest.to_batches(), rest.num_rows
    if count:
        yield pa.Table.from_batches(pending).combine_chunks().to_batches()[0]


def _kind(col: Any, name: str, numeric: Sequence[str] | None) -> str:
    """'numeric', 'boolean' or 'string' for a text column, decided once per file."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if numeric is not None:
        return "numeric" if name in numeric else "string"
    if col.null_count == len(col):
        return "string"  # nothing to go by; text never fails on later batches
    try:
        # The head first: a failed cast of a long text column is slow (and common).
        pc.cast(col.drop_null().slice(0, 256), pa.float64())
        pc.cast(col, pa.float64())
        return "numeric"
    except pa.ArrowInvalid:
        pass
    lowered = pc.utf8_lower(col.drop_null())
    return "boolean" if pc.all(pc.is_in(lowered, pa.array(["true", "false"]))).as_py() else "string"


def _as_kind(col: Any, kind: str, name: str, path: Path, offset: int) -> ColumnArray:
    import pyarrow as pa
    import pyarrow.compute as pc

    if kind == "string":
        return _coded(col)
    if kind == "numeric":
        try:
            return np.asarray(pc.cast(col, pa.float64()).to_numpy(zero_copy_only=False))
        except pa.ArrowInvalid:
            pass  # fall through to name the offending value
    else:
        lowered = pc.utf8_lower(col)
        ok = pc.or_(pc.is_null(col), pc.is_in(lowered, pa.array(["true", "false"])))
        if pc.all(ok).as_py():
            flags = pc.cast(pc.equal(lowered, "true"), pa.float64())
            return np.asarray(flags.to_numpy(zero_copy_only=False))
    bad = _first_bad(col, kind)
    raise SourceError(
        f"{path}: column {name!r} is {kind} in the first rows but holds {col[bad].as_py()!r} "
        f"(row {offset + bad + 1}): fix the value, or pass its type from the schema",
        file=str(path),
        column=name,
    )


def _first_bad(col: Any, kind: str) -> int:
    values = col.to_pylist()
    return next((i for i, v in enumerate(values) if v is not None and not _fits(v, kind)), 0)


def _fits(value: str, kind: str) -> bool:
    if kind == "boolean":
        return value.lower() in ("true", "false")
    try:
        float(value)
    except ValueError:
        return False
    return True


def _typed(col: Any) -> ColumnArray:
    """A Parquet column (already typed) as float64 or Coded."""
    import pyarrow as pa

    kind = col.type
    if pa.types.is_dictionary(kind):
        col, kind = col.dictionary_decode(), kind.value_type
    numeric = (pa.types.is_integer, pa.types.is_floating, pa.types.is_decimal, pa.types.is_boolean)
    if any(is_(kind) for is_ in numeric):
        return np.asarray(col.cast(pa.float64()).to_numpy(zero_copy_only=False))
    if not (pa.types.is_string(kind) or pa.types.is_large_string(kind)):
        col = col.cast(pa.string())  # dates and times as ISO text
    return _coded(col)


def _coded(col: Any) -> Coded:
    encoded = col.dictionary_encode()
    codes = encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int32)
    categories = np.array(encoded.dictionary.to_pylist(), dtype=object)
    return Coded(codes=codes, categories=categories)
