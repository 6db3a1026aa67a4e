"""``modelry marketing uplift`` as an analyst meets it: train on a campaign, score a file
with ``modelry predict``, target on incremental profit, and bad input refused in one line."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd  # type: ignore[import-untyped]

UPLIFT = ("--treatment", "arm", "--control", "none", "--outcome", "visit")


def campaign(n: int, seed: int = 0) -> pd.DataFrame:
    """A randomised campaign of known uplift (as in ``tests/apps/test_uplift.py``):
    ``Offer A`` helps where x > 0, ``Offer B`` helps group ``b``."""
    rng = np.random.default_rng(seed)
    x, base = rng.normal(size=n), rng.normal(size=n)
    group = rng.choice(["a", "b", "c"], size=n)
    arm = rng.choice(["Offer A", "Offer B", "none"], size=n)
    p = 0.1 + 0.3 * (base > 0)
    p = p + np.where(arm == "Offer A", np.where(x > 0, 0.3, -0.1), 0.0)
    p = p + np.where(arm == "Offer B", np.where(group == "b", 0.25, -0.05), 0.0)
    visit = (rng.uniform(size=n) < p).astype(int)
    spend = np.where(visit == 1, 20.0, 0.0)
    return pd.DataFrame(
        {"x": x, "base": base, "group": group, "arm": arm, "visit": visit, "spend": spend}
    )


def write(frame: pd.DataFrame, path: Path) -> Path:
    frame.to_csv(path, index=False)
    return path


def test_uplift_trains_registers_and_serves_scored_files(cli: Any, tmp_path: Path) -> None:
    data = write(campaign(2400, seed=5), tmp_path / "offers.csv")
    result = cli("marketing", "uplift", str(data), *UPLIFT, "--name", "offers", "--json")
    assert result.code == 0, result.err
    doc = json.loads(result.out)
    assert {"qini", "auuc", "ate"} <= doc.keys()
    assert doc["model"] == "offers" and doc["version"] == 1 and doc["kind"] == "uplift"
    assert doc["qini"]["Offer A"]["t_learner"] > 0
    assert doc["ate"]["Offer A"]["observed"]["low"] < doc["ate"]["Offer A"]["predicted"]

    table = cli("marketing", "uplift", str(data), *UPLIFT, "--name", "offers")
    assert table.code == 0, table.err
    assert "Qini" in table.out and "offers:2" in table.out
    assert "Offer A:" in table.out  # the verdict per arm, said plainly
    assert "dropped spend" in table.err
    shown = cli("models", "show", "offers")
    assert "T-learner" in shown.out and "qini_offer_a" in shown.out

    customers = campaign(200, seed=9).drop(columns=["arm", "visit", "spend"])
    new = write(customers, tmp_path / "new.csv")
    scored = tmp_path / "scored.csv"
    assert cli("predict", "offers", str(new), "-o", str(scored)).code == 0
    with scored.open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 200
    assert {"uplift_offer_a", "p_treated_offer_b", "p_control", "recommended_arm"} <= set(rows[0])
    assert {r["recommended_arm"] for r in rows} <= {"Offer A", "Offer B", ""}

    out = tmp_path / "contacts.csv"
    target = cli(
        "marketing", "target", "offers", str(new), "--cost-per-contact", "1",
        "--value-per-conversion", "10", "-o", str(out), "--charts", str(tmp_path / "charts"),
    )  # fmt: skip
    assert target.code == 0, target.err
    assert "incremental conversions" in target.out and "incremental profit" in target.out
    with out.open() as f:
        negative = any(float(r["score"]) < 0 for r in csv.DictReader(f))
    # charts are drawn, or their absence is said (never silently left out)
    assert ("--charts: none drawn" in target.err) == negative
    assert (tmp_path / "charts" / "gains.png").exists() != negative
    js = cli(
        "marketing", "target", "offers", str(new), "--cost-per-contact", "1",
        "--value-per-conversion", "10", "-o", str(out), "--json",
    )  # fmt: skip
    summary = json.loads(js.out)
    assert summary["score"] == "uplift"
    assert summary["incremental_conversions"] == summary["expected_conversions"] > 0
    # only customers whose best uplift pays for the contact (uplift × 10 > 1)
    with out.open() as f:
        contacted = [r for r in csv.DictReader(f) if r["contacted"] == "true"]
    assert contacted and all(float(r["score"]) > 0.1 for r in contacted)


def test_bad_campaigns_are_refused_in_one_line(cli: Any, tmp_path: Path) -> None:
    data = write(campaign(600), tmp_path / "c.csv")
    frame = campaign(600)
    frame["visit"] = frame["visit"] * 2 + 1
    counted = write(frame, tmp_path / "counted.csv")
    small = campaign(600)
    small.loc[small.index[:560], "arm"] = "none"
    few = write(small, tmp_path / "few.csv")
    cases = [
        ((str(data), "--treatment", "segment", "--control", "none", "--outcome", "visit"),
         "no treatment column 'segment'"),
        ((str(data), "--treatment", "arm", "--control", "No E-Mail", "--outcome", "visit"),
         "control value 'No E-Mail' does not occur in 'arm'; its values: 'Offer A', 'Offer B'"),
        ((str(counted), *UPLIFT), "must be binary"),
        ((str(few), *UPLIFT), "need at least 100"),
    ]  # fmt: skip
    for args, message in cases:
        result = cli("marketing", "uplift", *args)
        assert result.code != 0
        assert message in result.err
        assert len(result.err.strip().splitlines()) == 1, result.err
