"""Generated hiring-like data where a proxy feature carries a bias against one gender."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from modelry.pipeline import TrainOutcome, train_model
from modelry.settings import Settings
from modelry.training.config import TrainConfig


def biased_table(n: int = 1500, seed: int = 0) -> dict[str, np.ndarray]:
    """``hours`` is higher for men and drives the outcome: a model learns the gap."""
    rng = np.random.default_rng(seed)
    gender = rng.choice(["F", "M"], n, p=[0.45, 0.55]).astype(object)
    gender[rng.random(n) < 0.03] = ""  # blanks: the group "unknown"
    skill = rng.normal(size=n)
    hours = rng.normal(size=n) + 1.2 * (gender == "M")
    team = rng.choice(["a", "b", "c"], n)
    logit = 1.2 * skill + 1.0 * hours - 0.6
    hired = np.where(logit + rng.logistic(size=n) * 0.6 > 0, "yes", "no")
    return {"gender": gender, "skill": skill, "hours": hours, "team": team, "hired": hired}


def write_csv(table: dict[str, np.ndarray], path: Path) -> Path:
    names = list(table)
    rows = zip(*table.values(), strict=True)
    lines = [",".join(names)] + [",".join(str(v) for v in row) for row in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="session")
def biased_model(tmp_path_factory: pytest.TempPathFactory) -> tuple[TrainOutcome, Path, Path]:
    """One model trained with --fairness demographic_parity: (outcome, home, data.csv)."""
    root = tmp_path_factory.mktemp("biased")
    data = write_csv(biased_table(), root / "hiring.csv")
    home = root / "home"
    raw = {
        "name": "hiring",
        "data": {"target": "hired", "sensitive": ["gender"], "fairness": "demographic_parity"},
        "training": {"epochs": 12, "lr": 0.01},
    }
    outcome = train_model(TrainConfig.from_dict(raw), data, Settings(home=home))
    return outcome, home, data
