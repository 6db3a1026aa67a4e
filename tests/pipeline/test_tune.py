"""``modelry tune``: a small search on Ray Tune, the best settings registered and carded."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from modelry.training.config import TrainConfig


def _write_table(path: Path, n: int = 1000) -> Path:
    rng = np.random.default_rng(3)
    x1, x2 = rng.normal(size=n), rng.normal(size=n)
    color = rng.choice(["red", "green", "blue"], n)
    target = np.where(x1 - 0.5 * x2 + (color == "red") + rng.logistic(size=n) * 0.5 > 0.3, 1, 0)
    rows = zip(x1, x2, color, target, strict=True)
    path.write_text("x1,x2,color,target\n" + "\n".join(",".join(map(str, r)) for r in rows))
    return path


def test_a_trials_settings_replace_the_rate_widths_and_decay_only() -> None:
    from modelry.pipeline.tune import apply

    base = TrainConfig.from_dict({"training": {"epochs": 7, "lr": 0.1}, "model": {"dropout": 0.2}})
    tuned = apply(base, {"lr": 0.003, "width": 128, "weight_decay": 1e-4})
    assert tuned.model.hidden == [128, 64]
    assert (tuned.training.lr, tuned.training.weight_decay) == (0.003, 1e-4)
    assert (tuned.training.epochs, tuned.model.dropout) == (7, 0.2)  # the rest is kept


@pytest.mark.ray
def test_tune_registers_the_best_trial_and_records_the_search(
    local_ray: None, run_cli: Any, tmp_path: Path
) -> None:
    data = _write_table(tmp_path / "t.csv")
    home = tmp_path / "home"
    args = ["--target", "target", "--samples", "3", "--epochs", "5", "--seed", "2", "--json"]
    done = run_cli("tune", str(data), *args, home=home)
    assert done.code == 0, done.err
    out = json.loads(done.out)
    record = out["tuning"]
    trials = record["trials"]
    assert len(trials) == 3 and all(t["error"] is None for t in trials)
    assert record["best"]["valid"] == max(t["valid"] for t in trials)  # roc_auc: higher wins
    assert 1e-4 <= record["best"]["lr"] <= 3e-2
    version = Path(out["artifact"])
    config = json.loads((version / "config.json").read_text())
    width = record["best"]["width"]
    assert config["model"]["hidden"] == [width, width // 2]
    assert config["training"]["lr"] == record["best"]["lr"]
    assert json.loads((version / "metrics.json").read_text())["tuning"] == record
    card = (version / "card.md").read_text()
    assert "Settings chosen by hyper-parameter search (Ray Tune, random search, 3 trials" in card
    assert json.loads((version / "card.json").read_text())["metrics"]["tuning"] == record
    assert list((home / "ray").iterdir()) == []  # Ray Tune's run directory is tidied
