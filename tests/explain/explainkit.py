"""Data whose effects are known, and a model trained on it through the real pipeline.

``y`` depends strongly on ``x1``, weakly on ``x2``, and not at all on ``x3``, on the
one-hot category ``c_noise`` or on the embedded high-cardinality ``city``: a correct
explanation must find exactly that.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from modelry.data.schema import Task
from modelry.pipeline import TrainOutcome, train_model
from modelry.settings import Settings
from modelry.training.config import TrainConfig

NOISE = ["x3", "c_noise", "city"]
FEATURES = ["x1", "x2", "x3", "c_noise", "city"]


def known_effects(task: Task, n: int, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    x1, x2, x3 = rng.normal(size=(3, n))
    c_noise = rng.choice(["red", "green", "blue"], n)
    city = rng.choice([f"city{i:02d}" for i in range(40)], n)  # > 32 levels: an embedding
    signal = 2.5 * x1 + 1.0 * x2
    if task is Task.BINARY:
        target = np.where(rng.random(n) < 1 / (1 + np.exp(-signal)), "yes", "no")
    elif task is Task.MULTICLASS:
        target = np.digitize(signal + rng.normal(scale=0.5, size=n), [-1.0, 1.0]).astype(str)
    else:
        target = 5.0 + 2.0 * signal + rng.normal(scale=0.3, size=n)
    return {"x1": x1, "x2": x2, "x3": x3, "c_noise": c_noise, "city": city, "target": target}


def write_csv(table: dict[str, np.ndarray], path: Path) -> Path:
    lines = [",".join(table)]
    lines += [",".join(str(v) for v in row) for row in zip(*table.values(), strict=True)]
    path.write_text("\n".join(lines) + "\n")
    return path


def columns_of(table: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The feature columns as ``predict`` takes them."""
    return {
        name: table[name].astype(float if name.startswith("x") else object) for name in FEATURES
    }


@dataclass
class Trained:
    outcome: TrainOutcome
    home: Path
    data: Path
    table: dict[str, np.ndarray]


def train_known(
    root: Path, task: Task, n: int, epochs: int, model: dict[str, object] | None = None
) -> Trained:
    table = known_effects(task, n)
    data = write_csv(table, root / f"{task.value}.csv")
    home = root / "home"
    raw = {
        "name": f"known-{task.value}",
        "data": {"target": "target"},
        "training": {"epochs": epochs, "lr": 0.01},
        "model": model or {},
    }
    outcome = train_model(TrainConfig.from_dict(raw), data, Settings(home=home))
    return Trained(outcome, home, data, table)
