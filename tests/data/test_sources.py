from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from modelry.data.columns import Coded
from modelry.data.sources import fingerprint, iter_batches, read_table, sniff, to_columns
from modelry.errors import SchemaError, SourceError


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


@pytest.mark.parametrize("sep", [",", ";", "\t", "|"])
def test_sniffs_delimiter(tmp_path: Path, sep: str) -> None:
    path = write(tmp_path / "d.csv", f'a{sep}b{sep}c\n1{sep}"x{sep}y"{sep}3.5\n2{sep}z{sep}4\n')
    df = read_table(path)
    assert list(df.columns) == ["a", "b", "c"]
    assert df["b"].tolist() == [f"x{sep}y", "z"]
    assert sniff(path).delimiter == sep


def test_semicolon_quoted_crlf_with_bom(tmp_path: Path) -> None:
    text = '"age";"job";"y"\r\n56;"housemaid";"no"\r\n57;"unknown";"yes"\r\n'
    path = write(tmp_path / "bank.csv", "\ufeff" + text)
    df = read_table(path)
    assert list(df.columns) == ["age", "job", "y"]
    assert df["age"].tolist() == [56, 57]
    assert df["job"].tolist() == ["housemaid", "unknown"]  # 'unknown' is a value, not NaN
    assert sniff(path).encoding == "utf-8-sig"


def test_latin1_fallback(tmp_path: Path) -> None:
    path = write(tmp_path / "l.csv", "city,n\nZürich,1\nMálaga,2\n", encoding="latin-1")
    assert read_table(path)["city"].tolist() == ["Zürich", "Málaga"]
    assert sniff(path).encoding == "latin-1"


def test_default_na_tokens_read_as_missing(tmp_path: Path) -> None:
    df = read_table(write(tmp_path / "n.csv", "a,b\n1,NA\n,x\n3,\n"))
    assert df["a"].isna().tolist() == [False, True, False]
    assert df["b"].isna().tolist() == [True, False, True]


def test_parquet_round_trip(tmp_path: Path) -> None:
    src = pd.DataFrame({"x": [1.5, None, 3.0], "s": ["a", None, "c"], "b": [True, False, True]})
    src.to_parquet(tmp_path / "t.parquet")
    df = read_table(tmp_path / "t.parquet")
    pd.testing.assert_frame_equal(df, src, check_dtype=False)
    assert df.attrs["source"] == "t.parquet"


@pytest.mark.parametrize(
    ("name", "content", "needle"),
    [
        ("empty.csv", b"", "empty"),
        ("header.csv", b"a,b,c\n", "no rows"),
        ("ragged.csv", b"a,b\n1,2\n3,4,5,6\n", "malformed"),
        ("garbage.csv", bytes(range(256)) * 8, "binary"),
        ("data.xlsx", b"a,b\n1,2\n", "unsupported"),
        ("bad.parquet", b"not parquet at all", "Parquet"),
    ],
)
def test_read_errors_name_the_file(tmp_path: Path, name: str, content: bytes, needle: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(SourceError, match=needle) as info:
        read_table(path)
    assert name in info.value.message
    assert "\n" not in info.value.message


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match=r"nope\.csv: no such file"):
        read_table(tmp_path / "nope.csv")
    with pytest.raises(SourceError, match="is a directory"):
        read_table(tmp_path)


def test_third_party_errors_are_chained(tmp_path: Path) -> None:
    path = write(tmp_path / "ragged.csv", "a,b\n1,2\n3,4,5\n")
    with pytest.raises(SourceError) as info:
        read_table(path)
    assert isinstance(info.value.__cause__, pd.errors.ParserError)


def test_to_columns(tmp_path: Path) -> None:
    df = pd.DataFrame(
        {
            "n": [1, 2, 3],
            "f": [0.5, None, 2.0],
            "s": ["a", None, "c"],
            "b": [True, False, True],
            "ob": pd.Series([True, None, False], dtype=object),
        }
    )
    cols = to_columns(df, ["n", "f", "s", "b", "ob"])
    assert cols["n"].dtype == np.float64
    assert np.isnan(cols["f"][1])
    assert cols["s"].dtype == object and cols["s"].tolist() == ["a", None, "c"]
    assert cols["b"].tolist() == [1.0, 0.0, 1.0]
    assert cols["ob"][0] == 1.0 and np.isnan(cols["ob"][1]) and cols["ob"][2] == 0.0
    with pytest.raises(SchemaError, match="'zz' not in the data"):
        to_columns(df, ["n", "zz"])


def decoded(col: np.ndarray | Coded) -> list[object]:
    values = col.decode() if isinstance(col, Coded) else col
    return [None if isinstance(v, float) and np.isnan(v) else v for v in values.tolist()]


def test_iter_batches_matches_read_table(tmp_path: Path) -> None:
    rows = ["num,int,txt,mixed,flag"]
    for i in range(10):
        num = "" if i == 3 else str(i * 0.5)
        txt = "NA" if i == 4 else f"t{i % 3}"
        mixed = "abc" if i == 2 else str(i)
        rows.append(f"{num},{i},{txt},{mixed},{'True' if i % 2 else 'False'}")
    path = write(tmp_path / "m.csv", "\n".join(rows) + "\n")
    df = read_table(path)
    expected = to_columns(df, list(df.columns))
    batches = list(iter_batches(path, batch_rows=4))
    assert [len(b["num"]) for b in batches] == [4, 4, 2]
    for name, want in expected.items():
        got = [v for b in batches for v in decoded(b[name])]
        assert got == decoded(want), name
    assert isinstance(batches[0]["txt"], Coded)
    assert batches[0]["txt"].codes.dtype == np.int32
    assert batches[1]["txt"].codes[0] == -1  # 'NA' is missing in both readers
    assert batches[0]["int"].dtype == np.float64


def test_iter_batches_keeps_column_kind_across_batches(tmp_path: Path) -> None:
    path = write(tmp_path / "k.csv", "a,b\n1,x\n2,y\n3,z\noops,w\n")
    with pytest.raises(
        SourceError, match=r"column 'a' is numeric in the first rows but holds 'oops'"
    ):
        list(iter_batches(path, batch_rows=2))
    batches = list(iter_batches(path, batch_rows=2, numeric=[]))
    assert all(isinstance(b["a"], Coded) for b in batches)


def test_iter_batches_parquet(tmp_path: Path) -> None:
    src = pd.DataFrame({"i": [1, 2, 3], "s": ["a", None, "a"], "b": [True, False, True]})
    src.to_parquet(tmp_path / "t.parquet")
    (batch,) = list(iter_batches(tmp_path / "t.parquet"))
    assert batch["i"].dtype == np.float64
    assert isinstance(batch["s"], Coded) and batch["s"].decode().tolist() == ["a", None, "a"]
    assert batch["b"].tolist() == [1.0, 0.0, 1.0]


def test_iter_batches_errors(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="no rows"):
        list(iter_batches(write(tmp_path / "h.csv", "a,b\n")))
    with pytest.raises(SourceError, match=r"ragged\.csv is malformed"):
        list(iter_batches(write(tmp_path / "ragged.csv", "a,b\n1,2\n3,4,5\n")))


def test_sources_module_does_not_import_pandas() -> None:
    code = "import sys, modelry.data.sources; print('pandas' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_fingerprint(tmp_path: Path) -> None:
    path = write(tmp_path / "f.csv", "a;b\n1;2\n")
    info = fingerprint(path)
    assert info["columns"] == 2 and info["bytes"] == 8 and info["delimiter"] == ";"
    assert len(info["sha256"]) == 64
    pd.DataFrame({"x": [1, 2, 3]}).to_parquet(tmp_path / "f.parquet")
    assert fingerprint(tmp_path / "f.parquet")["rows"] == 3


@pytest.mark.realdata
def test_bank_file(shared_data: Path) -> None:
    path = shared_data / "bank_marketing_additional" / "bank-additional-full.csv"
    df = read_table(path)
    assert df.shape == (41188, 21)
    assert (df["default"] == "unknown").sum() > 0
    assert sum(len(b["age"]) for b in iter_batches(path)) == 41188


@pytest.mark.realdata
def test_resume_file_with_newlines_in_quotes(shared_data: Path) -> None:
    path = shared_data / "resume_dataset" / "UpdatedResumeDataSet.csv"
    assert read_table(path).shape == (962, 2)
    assert sum(len(b["Category"]) for b in iter_batches(path, batch_rows=100)) == 962
