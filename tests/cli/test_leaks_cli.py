"""Leaks caught before training: `inspect` names them, `train --strict-leaks` refuses."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest


@pytest.fixture(scope="module")
def houses(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A regression table with a planted ``log(target)`` column."""
    rng = np.random.default_rng(1)
    n = 400
    rooms = rng.integers(1, 7, n)
    price = np.round(np.exp(11 + 0.2 * rooms + rng.normal(0, 0.6, n)), 2)
    df = pd.DataFrame({"rooms": rooms, "log_price": np.log(price), "price": price})
    path = tmp_path_factory.mktemp("d") / "houses.csv"
    df.to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def customers(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A binary table whose ``outcome_code`` is the label with 1 % of it flipped."""
    rng = np.random.default_rng(2)
    n = 600
    age = rng.integers(18, 80, n)
    bought = rng.random(n) < 1 / (1 + np.exp(-0.04 * (age - 45)))
    code = np.where(bought ^ (rng.random(n) < 0.01), "Y", "N")
    df = pd.DataFrame({"age": age, "outcome_code": code, "bought": np.where(bought, "yes", "no")})
    path = tmp_path_factory.mktemp("d") / "customers.csv"
    df.to_csv(path, index=False)
    return path


def _versions(home: Path) -> list[Path]:
    return [p for p in (home / "models").glob("*/*") if p.is_dir() and not p.name.startswith(".")]


def test_inspect_names_the_leak_and_its_figure(cli, houses: Path) -> None:  # type: ignore[no-untyped-def]
    result = cli("inspect", str(houses), "--target", "price")
    assert result.code == 0, result.err
    assert "possible target leak: log_price alone predicts price with rank R²" in result.err
    assert "1.000" in result.err and "--drop log_price" in result.err
    doc = json.loads(cli("inspect", str(houses), "--target", "price", "--json").out)
    [leak] = doc["leaks"]
    assert leak["column"] == "log_price" and leak["figure"] == pytest.approx(1.0)
    assert leak["message"] in doc["warnings"]


def test_inspect_of_a_clean_table_reports_no_leak(cli, houses: Path) -> None:  # type: ignore[no-untyped-def]
    result = cli("inspect", str(houses), "--target", "price", "--drop", "log_price", "--json")
    assert result.code == 0, result.err
    assert json.loads(result.out)["leaks"] == []


@pytest.mark.parametrize(
    ("table", "target", "column"),
    [("houses", "price", "log_price"), ("customers", "bought", "outcome_code")],
)
def test_strict_leaks_refuses_in_one_line(  # type: ignore[no-untyped-def]
    cli, home: Path, request: pytest.FixtureRequest, table: str, target: str, column: str
) -> None:
    path = request.getfixturevalue(table)
    result = cli("train", str(path), "--target", target, "--strict-leaks", "--epochs", "2")
    assert result.code != 0
    [line] = result.err.strip().splitlines()
    assert line.startswith("error: possible target leak (--strict-leaks):")
    assert f"{column} alone predicts {target} with" in line and f"--drop {column}" in line
    assert "Traceback" not in result.err and not _versions(home)


def test_train_warns_before_training_and_reports_leaks_in_json(  # type: ignore[no-untyped-def]
    cli, customers: Path
) -> None:
    result = cli("train", str(customers), "--target", "bought", "--epochs", "2", "--json")
    assert result.code == 0, result.err
    [leak] = json.loads(result.out)["leaks"]
    assert leak["column"] == "outcome_code" and leak["metric"] == "ROC-AUC"
    assert 0.95 <= leak["figure"] < 1.0


def test_strict_leaks_trains_once_the_column_is_dropped(cli, customers: Path) -> None:  # type: ignore[no-untyped-def]
    result = cli(
        "train", str(customers), "--target", "bought", "--drop", "outcome_code",
        "--strict-leaks", "--epochs", "2",
    )  # fmt: skip
    assert result.code == 0, result.err
    assert "possible target leak" not in result.err
