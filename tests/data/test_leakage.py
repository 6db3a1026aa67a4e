"""The leakage report: planted leaks are named with their figure; clean tables stay quiet."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from modelry.data.clean import clean
from modelry.data.infer import infer_schema
from modelry.data.leakage import LEAK_SCORE, Evidence, Leak, find_leaks
from modelry.data.sources import read_table


def _report(df: pd.DataFrame, target: str, **options: object) -> list[Leak]:
    schema = infer_schema(df, target=target, **options)  # type: ignore[arg-type]
    cleaned, _ = clean(df, schema)
    return find_leaks(cleaned, schema)


def _houses(n: int = 400, seed: int = 1) -> pd.DataFrame:
    """Prices from two honest features and heavy-tailed noise."""
    rng = np.random.default_rng(seed)
    rooms = rng.integers(1, 7, n)
    area = rng.choice(["north", "south", "east"], n)
    price = np.exp(11 + 0.2 * rooms + 0.3 * (area == "north") + rng.normal(0, 0.6, n))
    return pd.DataFrame({"rooms": rooms, "area": area, "price": np.round(price, 2)})


def _customers(n: int = 600, seed: int = 2) -> pd.DataFrame:
    """A binary target from a logistic rule on two honest features."""
    rng = np.random.default_rng(seed)
    age = rng.integers(18, 80, n)
    channel = rng.choice(["phone", "mail", "web"], n)
    logit = -1.0 + 0.04 * (age - 45) + 1.2 * (channel == "phone")
    bought = np.where(rng.random(n) < 1 / (1 + np.exp(-logit)), "yes", "no")
    return pd.DataFrame({"age": age, "channel": channel, "bought": bought})


def test_a_log_of_the_target_is_named_with_its_figure() -> None:
    df = _houses()
    df.insert(0, "log_price", np.log(df["price"]))
    [leak] = _report(df, "price")
    assert leak.column == "log_price" and leak.evidence is Evidence.SCORE
    assert leak.figure == pytest.approx(1.0) and leak.metric.startswith("rank R²")
    assert "log_price alone predicts price with rank R² (Spearman ρ²) 1.000" in leak.message
    assert "--drop log_price" in leak.message


def test_a_near_copy_of_the_labels_is_named_with_its_roc_auc() -> None:
    df = _customers()
    rng = np.random.default_rng(5)
    flipped = rng.random(len(df)) < 0.01  # 1 % of the labels disagree
    copy = np.where(df["bought"] == "yes", "Y", "N")
    df["outcome_code"] = np.where(flipped, np.where(copy == "Y", "N", "Y"), copy)
    [leak] = _report(df, "bought")
    assert leak.column == "outcome_code" and leak.evidence is Evidence.SCORE
    assert leak.metric == "ROC-AUC" and LEAK_SCORE <= leak.figure < 1.0
    assert f"outcome_code alone predicts bought with ROC-AUC {leak.figure:.3f}" in leak.message


def test_a_near_copy_of_multiclass_labels_and_a_coarser_relabelling() -> None:
    rng = np.random.default_rng(3)
    n = 500
    species = rng.choice(["setosa", "versicolor", "virginica", "arctica"], n)
    noisy = np.where(rng.random(n) < 0.01, rng.choice(["s", "v", "g", "a"], n), species)
    df = pd.DataFrame(
        {
            "width": rng.normal(size=n),
            "label_copy": noisy,
            "is_setosa": np.where(species == "setosa", "yes", "no"),
            "species": species,
        }
    )
    leaks = {leak.column: leak for leak in _report(df, "species")}
    assert set(leaks) == {"label_copy", "is_setosa"}
    assert leaks["label_copy"].metric == "macro ROC-AUC (one-vs-rest)"
    assert leaks["label_copy"].figure >= LEAK_SCORE
    # One class given away exactly: the target determines it, though not the other way.
    assert leaks["is_setosa"].evidence is Evidence.FUNCTION and leaks["is_setosa"].figure == 1.0


def test_a_band_cut_from_the_target_is_a_function_of_it() -> None:
    df = _houses(600)
    df["band"] = pd.cut(df["price"], [0, 60_000, 120_000, np.inf], labels=["lo", "mid", "hi"])
    df["band"] = df["band"].astype(str)
    [leak] = _report(df, "price")
    assert leak.column == "band" and leak.evidence is Evidence.FUNCTION
    assert leak.metric == "κ" and leak.figure >= LEAK_SCORE
    assert "band is a function of price" in leak.message


def test_missing_exactly_when_is_part_of_the_report() -> None:
    df = _customers()
    df["refund"] = np.where(df["bought"] == "yes", np.arange(len(df)) % 7 + 20.0, np.nan)
    [leak] = _report(df, "bought")
    assert leak.evidence is Evidence.MISSING and leak.column == "refund"
    assert leak.message == (
        "possible target leak: refund is missing exactly when bought is 'no'; "
        "drop it (--drop refund) unless its value is known before the outcome"
    )


def test_clean_tables_give_no_findings() -> None:
    assert _report(_houses(), "price") == []
    df = _customers()
    # A code per customer, repeated a little: group means learned on one half of the rows
    # say nothing about the other half, so a near-identifier earns nothing.
    df["customer"] = [f"c{i // 2}" for i in range(len(df))]
    assert _report(df, "bought") == []


def test_dropped_and_identifier_columns_are_not_judged() -> None:
    df = _houses()
    df["log_price"] = np.log(df["price"])
    assert _report(df, "price", drop=["log_price"]) == []


def test_rows_restrict_the_report_to_the_training_split() -> None:
    df = _customers()
    leaky = np.where(df["bought"] == "yes", 1.0, 0.0)
    df["late"] = np.where(np.arange(len(df)) < 300, np.random.default_rng(0).random(len(df)), leaky)
    schema = infer_schema(df, target="bought")
    cleaned, _ = clean(df, schema)
    assert [leak.column for leak in find_leaks(cleaned, schema)] == []
    assert [leak.column for leak in find_leaks(cleaned, schema, rows=np.arange(300, 600))] == [
        "late"
    ]


def test_a_leak_reads_as_json() -> None:
    df = _houses()
    df["log_price"] = np.log(df["price"])
    doc = _report(df, "price")[0].to_dict()
    assert doc["column"] == "log_price" and doc["evidence"] == "predicts the target alone"
    assert set(doc) == {"column", "evidence", "metric", "figure", "detail", "advice", "message"}


@pytest.mark.realdata
def test_bank_columns_raise_no_false_alarm(shared_data: Path) -> None:
    df = read_table(shared_data / "bank_marketing_additional" / "bank-additional-full.csv")
    schema = infer_schema(df, target="y")
    cleaned, _ = clean(df, schema)
    started = time.perf_counter()
    leaks = find_leaks(cleaned, schema)
    seconds = time.perf_counter() - started
    # duration is known only after the call (ROC-AUC ≈ 0.82 alone): a leak in spirit,
    # but below the bar of a column that gives the outcome away.
    assert leaks == []
    assert seconds < 5  # ≈ 0.2 s on 41k rows × 20 columns; loose for a busy machine


@pytest.mark.realdata
def test_campus_salary_is_the_one_finding(shared_data: Path) -> None:
    df = read_table(shared_data / "campus_placement" / "Placement_Data_Full_Class.csv")
    leaks = _report(df, "status", sensitive=["gender"])
    assert [(leak.column, leak.evidence) for leak in leaks] == [("salary", Evidence.MISSING)]


def test_a_date_written_after_the_outcome_is_scored_as_a_number() -> None:
    df = _customers()
    days = np.where(df["bought"] == "yes", 200, 0) + np.arange(len(df)) % 90
    when = pd.Timestamp("2024-01-01") + pd.to_timedelta(days, unit="D")
    df["closed_on"] = when.strftime("%Y-%m-%d")
    [leak] = _report(df, "bought")
    assert leak.column == "closed_on" and leak.metric == "ROC-AUC" and leak.figure == 1.0
