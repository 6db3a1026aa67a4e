"""Exact duplicate rows: dropped before splitting on request, reported across splits always."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd

from modelry.data.duplicates import drop_duplicates, repeated_in_training, row_keys
from modelry.pipeline.stages import prepare
from modelry.training.config import TrainConfig


def test_rows_equal_in_every_column_are_duplicates() -> None:
    frame = pd.DataFrame(
        {"text": ["a", "b", "a", "a"], "n": [1.0, 2.0, 1.0, 3.0], "y": list("xyxx")}
    )
    kept, dropped = drop_duplicates(frame, ["text", "n", "y"])
    assert dropped == 1 and kept["n"].tolist() == [1.0, 2.0, 3.0]  # first kept, in order
    assert kept.index.tolist() == [0, 1, 2]
    same, none = drop_duplicates(frame, ["n"])
    assert none == 1 and len(same) == 3
    keys = row_keys(frame, ["text"])
    parts = {"train": np.array([0]), "valid": np.array([1, 2]), "test": np.array([3])}
    assert repeated_in_training(keys, parts) == {"valid": 1, "test": 1}


def write(path: Path, rows: list[list[object]]) -> Path:
    with path.open("w", newline="") as f:
        csv.writer(f).writerows([["x", "note", "y"], *rows])
    return path


def test_prepare_reports_or_drops_duplicates(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    rows: list[list[object]] = [
        [int(rng.integers(0, 1000)), f"note {i}", "ab"[i % 2]] for i in range(200)
    ]
    table = write(tmp_path / "t.csv", rows + rows[:100])  # 100 rows twice
    reported = prepare(TrainConfig.from_dict({"data": {"target": "y"}}), table)
    repeats = reported.duplicates["repeats"]
    assert reported.duplicates["dropped"] == 0 and reported.duplicates["kept"] == 300
    assert sum(repeats.values()) > 0
    (message,) = [w for w in reported.warnings if "repeat a training row" in w]
    assert f"valid {repeats['valid']}" in message and "--dedup" in message

    config = TrainConfig.from_dict({"data": {"target": "y", "deduplicate": True}})
    dropped = prepare(config, table)
    assert dropped.duplicates == {"dropped": 100, "kept": 200, "repeats": {"valid": 0, "test": 0}}
    assert len(dropped.y) == 200 and len(dropped.columns["x"]) == 200
    assert any("100 exact duplicate rows" in w for w in dropped.warnings)
    assert not any("repeat a training row" in w for w in dropped.warnings)
    assert TrainConfig.from_dict({"data": {"text_encoder": "text-encoder"}}).data.dedup
