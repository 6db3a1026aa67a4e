"""``modelry audit`` end to end on a model trained by the pipeline on biased data."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from modelry.pipeline import TrainOutcome


@pytest.fixture
def run(biased_model: tuple[TrainOutcome, Path, Path], run_cli: Any):  # type: ignore[no-untyped-def]
    _, home, _ = biased_model

    def invoke(*args: str) -> Any:
        return run_cli(*args, home=home)

    return invoke


def test_audit_writes_the_report_and_prints_json(
    run, biased_model: tuple[TrainOutcome, Path, Path], tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    _, _, data = biased_model
    out = tmp_path / "report"
    result = run("audit", "hiring", str(data), "-o", str(out), "--json")
    assert result.code == 0, result.err
    doc = json.loads(result.out)
    gender = next(a for a in doc["attributes"] if a["attribute"] == "gender")
    groups = {g["group"]: g for g in gender["groups"]}
    assert {"F", "M", "unknown"} <= set(groups)
    assert all("impact_ratio" in g for g in groups.values())
    assert groups["unknown"]["size"] > 0 and groups["F"]["tpr"] is not None
    # Trained with demographic parity; the data carries gender: group thresholds apply.
    assert doc["model"]["group_thresholds"]["gender"]
    # F has its own threshold; "unknown" had too few validation rows and keeps the base one.
    assert groups["F"]["impact_ratio"] > 0.8 and not groups["F"]["below_four_fifths"]
    assert {p.name for p in out.iterdir()} == {"report.md", "report.json", "selection-gender.png"}
    markdown = (out / "report.md").read_text()
    assert "| group |" in markdown and "impact ratio" in markdown
    assert (out / "selection-gender.png").read_bytes()[:4] == b"\x89PNG"


def test_one_threshold_for_all_shows_the_unmitigated_bias(
    run,
    biased_model: tuple[TrainOutcome, Path, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # type: ignore[no-untyped-def]
    _, _, data = biased_model
    monkeypatch.chdir(tmp_path)
    result = run("audit", "hiring:1", str(data), "--threshold", "0.5", "--sensitive", "gender")
    assert result.code == 0, result.err
    assert "impact ratio" in result.out and "< 0.8" in result.out
    report = json.loads((tmp_path / "audit-hiring-v1" / "report.json").read_text())
    gender = report["attributes"][0]
    assert "F" in gender["four_fifths_violations"]
    assert report["model"]["group_thresholds"] is None


def test_without_the_target_outcome_metrics_are_skipped(
    run, biased_model: tuple[TrainOutcome, Path, Path], tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    _, _, data = biased_model
    lines = data.read_text().splitlines()
    unlabelled = tmp_path / "unlabelled.csv"
    unlabelled.write_text("\n".join(line.rsplit(",", 1)[0] for line in lines) + "\n")
    result = run("audit", "hiring", str(unlabelled), "-o", str(tmp_path / "r"), "--json")
    assert result.code == 0, result.err
    doc = json.loads(result.out)
    assert not doc["outcome"] and any("hired" in note for note in doc["notes"])
    assert doc["attributes"][0]["groups"][0]["tpr"] is None


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("audit", "nobody", "DATA"), "no model named 'nobody'"),
        (("audit", "hiring", "DATA", "--sensitive", "race"), "'race' not in"),
        (("audit", "hiring", "missing.csv"), "missing.csv"),
    ],
)
def test_bad_input_is_one_line(
    run, biased_model: tuple[TrainOutcome, Path, Path], args: tuple[str, ...], message: str
) -> None:  # type: ignore[no-untyped-def]
    _, _, data = biased_model
    result = run(*[str(data) if a == "DATA" else a for a in args])
    assert result.code == 1
    assert message in result.err and "Traceback" not in result.err
    assert len(result.err.strip().splitlines()) == 1


def test_models_show_card(run) -> None:  # type: ignore[no-untyped-def]
    result = run("models", "show", "hiring", "--card")
    assert result.code == 0, result.err
    assert "# Model card: hiring" in result.out and "## Fairness" in result.out
    doc = json.loads(run("models", "show", "hiring", "--card", "--json").out)
    assert doc["fairness"]["mitigation"]["constraint"] == "demographic_parity"
