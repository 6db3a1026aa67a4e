"""``modelry demo``: the README's first command, end to end on data it makes itself."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any


def test_the_demo_trains_targets_matches_serves_and_answers(cli: Any, home: Path) -> None:
    result = cli("demo", "--rows", "1500")
    assert result.code == 0, result.err
    out = result.out
    assert "served: the" in out and "contact " in out and '"predictions"' in out
    assert "matched skills:" in out  # the recruitment shortlist, through the text encoder
    verified = cli("recruit", "log", "verify")
    assert verified.code == 0, verified.err
    contacts = list(csv.DictReader((home / "demo" / "contacts.csv").open()))
    chosen = [row for row in contacts if row["contacted"] == "true"]
    assert 0 < len(chosen) <= 400  # a budget of 2,000 at 5 per contact
    assert all(float(row["expected_profit"]) > 0 for row in chosen)
    assert float(chosen[-1]["score"]) >= max(
        float(row["score"]) for row in contacts if row["contacted"] == "false"
    )
    assert {p.name for p in (home / "demo" / "charts").iterdir()} == {
        "gains.png",
        "lift.png",
        "profit.png",
    }
