"""The audit and the mitigation on real data: hr_job_change and campus_placement."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from modelry.audit.report import audit_model
from modelry.data.sources import read_table
from modelry.pipeline import train_model
from modelry.serving.tabular import TabularRuntime
from modelry.settings import Settings
from modelry.training.config import TrainConfig

pytestmark = pytest.mark.realdata

CASES = {
    "hr_job_change": ("hr_job_change/aug_train.csv", {"target": "target"}),
    "campus_placement": (
        "campus_placement/Placement_Data_Full_Class.csv",
        {"target": "status", "drop": ["salary"], "identifiers": ["sl_no"]},
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_audit_and_demographic_parity_on_real_data(
    case: str, shared_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    relative, data_config = CASES[case]
    path = shared_data / relative
    raw: dict[str, Any] = {
        "name": case.replace("_", "-"),
        "data": {**data_config, "sensitive": ["gender"], "fairness": "demographic_parity"},
        "training": {"epochs": 30, "lr": 0.003, "batch_size": 32},
    }
    outcome = train_model(TrainConfig.from_dict(raw), path, Settings(home=tmp_path / "home"))
    fairness = json.loads((outcome.artifact / "metrics.json").read_text())["fairness"]
    before, after = fairness["test"]["before"], fairness["test"]["after"]
    assert after["min_impact_ratio"] >= before["min_impact_ratio"]
    card = (outcome.artifact / "card.md").read_text()
    assert "## Fairness" in card and "demographic_parity" in card

    runtime = TabularRuntime(outcome.artifact, name=outcome.name, version=outcome.version)
    runtime.load()
    frame = read_table(path)
    audit = audit_model(runtime, frame, threshold=0.5, data_name=path.name)
    gender = audit.attribute("gender")
    assert len(gender.groups) >= 2 and all(g.impact_ratio is not None for g in gender.groups)
    if case == "campus_placement":  # ~11 women among 32 validation rows: too few to fit
        assert fairness["group_thresholds"] == {} and "30+" in fairness["skipped"]
    low, high = before["min_impact_ratio"], after["min_impact_ratio"]
    with capsys.disabled():
        print(
            f"\n{case}: test accuracy {before['accuracy']:.4f} -> {after['accuracy']:.4f}, "
            f"min impact ratio {low:.3f} -> {high:.3f}, "
            f"thresholds {fairness['group_thresholds']} {fairness.get('skipped', '')}; "
            "whole-file audit at 0.5: "
            + ", ".join(f"{g.group}={g.impact_ratio:.3f} (n={g.size})" for g in gender.groups)
        )
