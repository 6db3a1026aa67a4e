"""``modelry marketing target`` as an analyst meets it: a model trained by ``modelry
train``, a file of customers, the selection written back, the totals, the charts, and
bad input refused in one line."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from modelry.cli.demo import campaign_table, write_csv

ADDED = ["score", "expected_profit", "contacted"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A home with ``campaign`` (binary: responded) and ``channels`` (three classes), and
    a file of 300 new customers (no outcome, each with a basket value)."""
    root = tmp_path_factory.mktemp("marketing")
    home = root / "home"
    env = {**os.environ, "MODELRY_HOME": str(home)}
    env.pop("MODELRY_REGISTRY_URL", None)
    campaign = write_csv(campaign_table(1500, seed=3), root / "campaign.csv")
    channels = write_csv(campaign_table(600, seed=4), root / "channels.csv")
    for data, target, epochs in ((campaign, "responded", "8"), (channels, "channel", "2")):
        subprocess.run(
            [sys.executable, "-m", "modelry.cli.main", "train", str(data), "--target", target,
             "--epochs", epochs, "--lr", "0.01", "--json"],
            env=env, check=True, capture_output=True,
        )  # fmt: skip
    customers = campaign_table(300, seed=11)
    del customers["responded"]
    customers["basket"] = np.round(np.random.default_rng(0).uniform(10, 200, 300), 2)
    return {"home": home, "root": root, "customers": write_csv(customers, root / "new.csv")}


@pytest.fixture
def mkt(trained: dict[str, Path], run_cli: Any):  # type: ignore[no-untyped-def]
    def run(*args: str) -> Any:
        return run_cli("marketing", *args, home=trained["home"])

    return run


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


def test_help_documents_every_option(mkt) -> None:  # type: ignore[no-untyped-def]
    result = mkt("target", "--help")
    assert result.code == 0
    for option in (
        "--cost-per-contact",
        "--value-per-conversion",
        "--value-column",
        "--budget",
        "--capacity",
        "--output",
        "--charts",
        "--json",
    ):
        assert option in result.out, option


def test_target_under_a_capacity_writes_every_customer_ranked_with_the_decision(  # type: ignore[no-untyped-def]
    mkt, trained: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "contacts.csv"
    result = mkt(
        "target", "campaign", str(trained["customers"]), "--cost-per-contact", "5",
        "--value-per-conversion", "60", "--capacity", "40", "-o", str(out), "--json",
        "--charts", str(tmp_path / "charts"),
    )  # fmt: skip
    assert result.code == 0, result.err
    doc = json.loads(result.out)
    rows = _rows(out)
    with trained["customers"].open(newline="") as fh:
        inputs = list(csv.DictReader(fh))
    # Every input column (identifiers join back) and every customer, highest score first.
    assert list(rows[0]) == [*inputs[0], *ADDED]
    assert len(rows) == 300
    assert sorted(r["customer_id"] for r in rows) == sorted(r["customer_id"] for r in inputs)
    by_id = {r["customer_id"]: r for r in inputs}
    assert all(r["job"] == by_id[r["customer_id"]]["job"] for r in rows)
    scores = [float(r["score"]) for r in rows]
    assert scores == sorted(scores, reverse=True)
    # Exactly the capacity, and the 40 best (constant economics: the 40 highest scores).
    contacted = [r["contacted"] == "true" for r in rows]
    assert contacted == [True] * 40 + [False] * 260
    profits = [float(r["expected_profit"]) for r in rows]
    assert profits == pytest.approx([s * 60 - 5 for s in scores], abs=1e-4)
    assert doc["contacted"] == 40 and doc["cost"] == 200.0
    assert doc["expected_conversions"] == pytest.approx(sum(scores[:40]), rel=1e-5)
    assert doc["expected_profit"] == pytest.approx(sum(profits[:40]), rel=1e-5)
    assert doc["break_even_score"] == pytest.approx(5 / 60)
    assert doc["cutoff_score"] == pytest.approx(scores[39], rel=1e-5)
    assert doc["model"] == "campaign" and doc["version"] == 1 and doc["score"] == "probability"
    for name in ("gains", "lift", "profit"):
        png = Path(doc["charts"][name])
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000


def test_without_a_limit_everyone_above_break_even_is_contacted(  # type: ignore[no-untyped-def]
    mkt, trained: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "all.csv"
    result = mkt(
        "target", "campaign", str(trained["customers"]), "--cost-per-contact", "5",
        "--value-per-conversion", "60", "-o", str(out), "--json",
    )  # fmt: skip
    assert result.code == 0, result.err
    rows = _rows(out)
    above = [float(r["score"]) * 60 - 5 > 0 for r in rows]
    assert [r["contacted"] == "true" for r in rows] == above
    assert json.loads(result.out)["contacted"] == sum(above) > 0


def test_a_budget_is_respected_and_the_table_names_the_totals(  # type: ignore[no-untyped-def]
    mkt, trained: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "budget.csv"
    result = mkt(
        "target", "campaign", str(trained["customers"]), "--cost-per-contact", "5",
        "--value-per-conversion", "60", "--budget", "123", "-o", str(out),
    )  # fmt: skip
    assert result.code == 0, result.err
    assert sum(r["contacted"] == "true" for r in _rows(out)) == 24  # ⌊123 / 5⌋
    for label in ("contacted", "expected conversions", "cost", "expected profit", "break-even"):
        assert label in result.out, label
    assert "0.0833" in result.out and "120.00" in result.out


def test_a_value_column_gives_per_customer_economics(  # type: ignore[no-untyped-def]
    mkt, trained: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "basket.csv"
    result = mkt(
        "target", "campaign", str(trained["customers"]), "--cost-per-contact", "5",
        "--value-column", "basket", "--capacity", "30", "-o", str(out), "--json",
    )  # fmt: skip
    assert result.code == 0, result.err
    rows = _rows(out)
    profit = {r["customer_id"]: float(r["score"]) * float(r["basket"]) - 5 for r in rows}
    for r in rows:
        assert float(r["expected_profit"]) == pytest.approx(profit[r["customer_id"]], abs=1e-3)
    chosen = {r["customer_id"] for r in rows if r["contacted"] == "true"}
    best = sorted(profit, key=lambda c: -profit[c])[:30]
    assert chosen == set(best)
    assert json.loads(result.out)["break_even_score"] is None


def _one_line_error(result: Any, *needles: str) -> None:
    assert result.code == 1
    assert result.out == ""
    assert result.err.count("\n") == 1 and "Traceback" not in result.err
    for needle in needles:
        assert needle in result.err, result.err


def test_a_model_that_is_not_a_binary_classifier_is_refused(  # type: ignore[no-untyped-def]
    mkt, trained: dict[str, Path], tmp_path: Path
) -> None:
    result = mkt(
        "target", "channels", str(trained["customers"]), "--cost-per-contact", "5",
        "--value-per-conversion", "60", "-o", str(tmp_path / "x.csv"),
    )  # fmt: skip
    _one_line_error(result, "channels:1 is not a binary classifier", "probability[-1, 3]")
    assert not (tmp_path / "x.csv").exists()


def test_missing_columns_are_named(mkt, trained: dict[str, Path], tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    table = campaign_table(50, seed=12)
    del table["balance"], table["responded"]
    data = write_csv(table, tmp_path / "partial.csv")
    result = mkt(
        "target", "campaign", str(data), "--cost-per-contact", "5",
        "--value-per-conversion", "60", "-o", str(tmp_path / "x.csv"),
    )  # fmt: skip
    _one_line_error(result, "has no column(s) 'balance'")
    result = mkt(
        "target", "campaign", str(trained["customers"]), "--cost-per-contact", "5",
        "--value-column", "spend", "-o", str(tmp_path / "x.csv"),
    )  # fmt: skip
    _one_line_error(result, "has no column(s) 'spend'")


def test_a_column_named_like_an_added_one_is_refused(mkt, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    table = campaign_table(50, seed=13)
    table["score"] = np.arange(50)
    data = write_csv(table, tmp_path / "scored.csv")
    result = mkt(
        "target", "campaign", str(data), "--cost-per-contact", "5",
        "--value-per-conversion", "60", "-o", str(tmp_path / "x.csv"),
    )  # fmt: skip
    _one_line_error(result, "already has a column 'score'")


@pytest.mark.parametrize(
    ("options", "needle"),
    [
        (["--cost-per-contact", "0", "--value-per-conversion", "60"], "cost per contact"),
        (["--cost-per-contact", "-5", "--value-per-conversion", "60"], "cost per contact"),
        (["--cost-per-contact", "5", "--value-per-conversion", "0"], "value per conversion"),
        (["--cost-per-contact", "5"], "value per conversion or a value column"),
        (
            ["--cost-per-contact", "5", "--value-per-conversion", "60", "--value-column", "basket"],
            "value per conversion or a value column",
        ),
        (
            [
                "--cost-per-contact",
                "5",
                "--value-per-conversion",
                "60",
                "--budget",
                "10",
                "--capacity",
                "2",
            ],
            "not both",
        ),
        (["--cost-per-contact", "5", "--value-per-conversion", "60", "--budget", "-1"], "budget"),
        (["--cost-per-contact", "5", "--value-column", "job"], "'job' must hold numbers"),
    ],
)
def test_bad_economics_are_refused_in_one_line(  # type: ignore[no-untyped-def]
    mkt, trained: dict[str, Path], tmp_path: Path, options: list[str], needle: str
) -> None:
    result = mkt(
        "target", "campaign", str(trained["customers"]), *options, "-o", str(tmp_path / "x.csv")
    )
    _one_line_error(result, needle)


def test_an_unknown_model_is_refused(mkt, trained: dict[str, Path]) -> None:  # type: ignore[no-untyped-def]
    result = mkt(
        "target", "nope", str(trained["customers"]), "--cost-per-contact", "5",
        "--value-per-conversion", "60",
    )  # fmt: skip
    _one_line_error(result, "nope")


def test_reasons_explain_each_contacted_customer(  # type: ignore[no-untyped-def]
    mkt, trained: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "reasons.csv"
    result = mkt(
        "target", "campaign", str(trained["customers"]), "--cost-per-contact", "5",
        "--value-per-conversion", "60", "--capacity", "5", "--reasons", "2", "-o", str(out),
    )  # fmt: skip
    assert result.code == 0, result.err
    rows = _rows(out)
    assert list(rows[0])[-4:] == [*ADDED, "reasons"]
    for row in rows[:5]:
        texts = row["reasons"].split("; ")
        assert 1 <= len(texts) <= 4
        assert all(" raised the score by " in t or " lowered the score by " in t for t in texts)
        named = {t.split("=", 1)[0] for t in texts}
        assert named <= {"age", "job", "balance", "contacts", "channel", "purchased_before"}
    assert all(row["reasons"] == "" for row in rows[5:])
