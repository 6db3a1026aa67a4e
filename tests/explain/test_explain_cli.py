"""``modelry explain``, run through the real entry point as a shell would."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from explainkit import FEATURES, Trained

NAME = "known-binary"
RECORD = {"x1": 2.5, "x2": 0.0, "x3": 0.1, "c_noise": "red", "city": "city07"}


@pytest.fixture
def cli(binary: Trained, run_cli: Any):  # type: ignore[no-untyped-def]
    def run(*args: str) -> Any:
        return run_cli(*args, home=binary.home)

    return run


def test_global_importance_table_and_json(cli) -> None:  # type: ignore[no-untyped-def]
    result = cli("explain", NAME)
    assert result.code == 0, result.err
    lines = [line for line in result.out.splitlines() if "│" in line]
    assert "x1" in lines[0] and "x2" in lines[1]
    assert "roc_auc" in result.out
    doc = json.loads(cli("explain", f"{NAME}:1", "--json").out)
    assert doc["model"] == NAME and doc["version"] == 1
    assert [row["column"] for row in doc["columns"]][:2] == ["x1", "x2"]


def test_a_record_is_explained_in_words(cli) -> None:  # type: ignore[no-untyped-def]
    result = cli("explain", NAME, "--record", json.dumps(RECORD))
    assert result.code == 0, result.err
    assert "x1=2.5 raised the score by" in result.out and "P(yes)" in result.out
    doc = json.loads(cli("explain", NAME, "--record", json.dumps(RECORD), "--json").out)
    (explanation,) = doc["explanations"]
    assert set(explanation["attributions"]) == set(FEATURES)
    assert explanation["reasons"][0]["column"] == "x1"


def test_rows_of_a_file_are_explained_up_to_the_limit(cli, binary: Trained) -> None:  # type: ignore[no-untyped-def]
    result = cli("explain", NAME, str(binary.data), "--limit", "3", "--json")
    assert result.code == 0, result.err
    explanations = json.loads(result.out)["explanations"]
    assert len(explanations) == 3
    assert all(abs(e["delta"]) <= 1e-3 for e in explanations)
    assert cli("explain", NAME, str(binary.data), "--limit", "2").out.count("row ") == 2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("explain", "no-such-model"), "no model named 'no-such-model'"),
        (("explain", NAME, "--record", '{"x1": 2.5,'), "--record is not valid JSON"),
        (("explain", NAME, "--record", '{"x1": 2.5}'), "missing column(s) 'x2'"),
        (("explain", NAME, "--record", '["x1"]'), "must be a JSON object"),
        (("explain", NAME, "--record", json.dumps({**RECORD, "x1": "high"})), "x1"),
        (("explain", NAME, "DATA.csv", "--record", "{}"), "either DATA or --record"),
    ],
)
def test_bad_input_is_one_line_of_error(cli, args: tuple[str, ...], message: str) -> None:  # type: ignore[no-untyped-def]
    result = cli(*args)
    assert result.code == 1
    assert message in result.err and result.err.count("\n") == 1, result.err
    assert "Traceback" not in result.err


def test_a_file_without_a_model_column_names_it(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    data = tmp_path / "partial.csv"
    data.write_text("x1,x2\n1.0,2.0\n")
    result = cli("explain", NAME, str(data))
    assert result.code == 1 and "'x3'" in result.err
