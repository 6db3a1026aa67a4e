"""Group thresholds fitted on validation rows raise the impact ratio on test rows."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from modelry.audit.mitigation import fit_thresholds, training_fairness
from modelry.errors import ConfigError
from modelry.pipeline import TrainOutcome
from modelry.serving.tabular import TabularRuntime


def _scored(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    gender = rng.choice(["F", "M"], n).astype(object)
    x = rng.normal(size=n) + 0.9 * (gender == "M")
    scores = 1 / (1 + np.exp(-x))
    y = (rng.random(n) < scores).astype(float)
    return scores, y, {"gender": gender}


@pytest.mark.parametrize("constraint", ["demographic_parity", "equalized_odds"])
def test_thresholds_close_the_gap_they_target(constraint: str) -> None:
    result = training_fairness(constraint, valid=_scored(3000, 1), test=_scored(3000, 2))  # type: ignore[arg-type]
    assert result.metrics is not None and result.group_thresholds is not None
    before, after = result.metrics["test"]["before"], result.metrics["test"]["after"]
    thresholds = result.group_thresholds["gender"]
    assert thresholds["F"] < thresholds["M"]  # the disadvantaged group gets the lower bar
    assert after["min_impact_ratio"] > before["min_impact_ratio"]
    assert result.metrics["impact_ratio_gain"] > 0
    assert result.metrics["accuracy_cost"] == pytest.approx(before["accuracy"] - after["accuracy"])
    if constraint == "demographic_parity":
        assert after["min_impact_ratio"] > 0.9
    else:
        assert after["tpr_gap"] < before["tpr_gap"] / 2
    assert result.audit is not None and result.audit["split"] == "test"


def test_small_or_single_groups_get_no_threshold() -> None:
    scores, y, groups = _scored(200, 3)
    gender = groups["gender"].copy()
    gender[:5] = "tiny"
    fitted = fit_thresholds(scores, y, gender, "demographic_parity")
    assert set(fitted) == {"F", "M"}
    only = np.array(["F"] * 200, dtype=object)
    assert fit_thresholds(scores, y, only, "demographic_parity") == {}
    with pytest.raises(ConfigError):
        fit_thresholds(scores, y, gender, "equal_luck")  # type: ignore[arg-type]


def test_too_few_validation_rows_skip_mitigation_with_a_reason() -> None:
    result = training_fairness("demographic_parity", valid=_scored(40, 4), test=_scored(500, 5))
    assert result.group_thresholds is None and result.metrics is not None
    assert "30+ validation rows" in result.metrics["skipped"]
    assert result.metrics["test"]["before"] == result.metrics["test"]["after"]
    assert result.audit is not None and any("30+" in n for n in result.audit["notes"])


def test_pipeline_stores_thresholds_and_the_runtime_contract(
    biased_model: tuple[TrainOutcome, Path, Path],
) -> None:
    outcome, _, _ = biased_model
    network = json.loads((outcome.artifact / "network.json").read_text())
    metrics = json.loads((outcome.artifact / "metrics.json").read_text())
    table = network["group_thresholds"]["gender"]
    assert {"F", "M"} <= set(table)
    fairness = metrics["fairness"]
    assert fairness["constraint"] == "demographic_parity" and fairness["fitted_on"] == "valid"
    assert (
        fairness["test"]["after"]["min_impact_ratio"]
        >= fairness["test"]["before"]["min_impact_ratio"]
    )
    assert outcome.to_dict()["fairness"] == fairness  # what `modelry train --json` prints
    runtime = TabularRuntime(outcome.artifact, name=outcome.name, version=outcome.version)
    runtime.load()
    assert "gender" not in runtime.input_columns  # an input to the decision, not the network


def test_fairness_needs_a_sensitive_column() -> None:
    from modelry.training.config import TrainConfig

    with pytest.raises(ConfigError, match="sensitive"):
        TrainConfig.from_dict({"data": {"target": "y", "fairness": "equalized_odds"}})
