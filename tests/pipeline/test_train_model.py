"""The whole training path on generated data: artifact, parity, tamper detection, imports."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from safetensors.torch import load as load_safetensors

from modelry.data.schema import Task
from modelry.errors import ArtifactError
from modelry.nn.modules import TabularNet
from modelry.pipeline import TrainOutcome, train_model
from modelry.serving.runtime import session_runner
from modelry.serving.tabular import TabularRuntime
from modelry.settings import Settings
from modelry.training.config import ModelConfig, TrainConfig


def _table(task: Task, n: int = 900, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    x1 = rng.normal(size=n)
    x2 = rng.exponential(2.0, n)
    city = rng.choice([f"c{i}" for i in range(60)], n)  # many levels: an embedding
    color = rng.choice(["red", "green", "blue"], n)
    signal = 1.5 * x1 - 0.5 * np.log1p(x2) + 1.0 * (color == "red") + 0.02 * np.char.str_len(city)
    if task is Task.REGRESSION:
        target = 10.0 + 3.0 * signal + rng.normal(scale=0.3, size=n)
    elif task is Task.BINARY:
        target = np.where(signal + rng.logistic(size=n) * 0.5 > 0.4, "yes", "no")
    else:
        target = np.digitize(signal + rng.normal(scale=0.3, size=n), [-0.5, 0.8]).astype(str)
    return {"x1": x1, "x2": x2, "city": city, "color": color, "target": target}


def _write(table: dict[str, np.ndarray], path: Path) -> Path:
    names = list(table)
    lines = [",".join(names)] + [
        ",".join(str(v) for v in row) for row in zip(*table.values(), strict=True)
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def _train(tmp_path: Path, task: Task, **training: object) -> tuple[TrainOutcome, Settings, Path]:
    tmp_path.mkdir(parents=True, exist_ok=True)
    data = _write(_table(task), tmp_path / f"{task.value}.csv")
    settings = Settings(home=tmp_path / "home")
    raw = {"data": {"target": "target"}, "training": {"epochs": 15, "lr": 0.01, **training}}
    return train_model(TrainConfig.from_dict(raw), data, settings), settings, data


@pytest.fixture(scope="module")
def binary(tmp_path_factory: pytest.TempPathFactory) -> tuple[TrainOutcome, Settings, Path]:
    return _train(tmp_path_factory.mktemp("binary"), Task.BINARY)


def _columns(table: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {
        "x1": table["x1"].astype(float),
        "x2": table["x2"].astype(float),
        "city": table["city"].astype(object),
        "color": table["color"].astype(object),
    }


@pytest.mark.parametrize("task", [Task.BINARY, Task.MULTICLASS, Task.REGRESSION])
def test_each_task_trains_beats_chance_and_serves_what_torch_computes(
    tmp_path: Path, task: Task
) -> None:
    outcome, _, _ = _train(tmp_path, task)
    assert outcome.task is task
    test = outcome.metrics["test"]
    if task is Task.BINARY:
        assert test["roc_auc"] is not None and test["roc_auc"] > 0.8
    elif task is Task.MULTICLASS:
        assert test["accuracy"] is not None and test["accuracy"] > 0.6
    else:
        assert test["r2"] is not None and test["r2"] > 0.8
    # Rebuild the torch network from the safetensors weights and compare with ONNX serving.
    runtime = TabularRuntime(outcome.artifact, name=outcome.name, version=outcome.version)
    runtime.load()
    network = json.loads((outcome.artifact / "network.json").read_text())
    net = TabularNet(
        network["n_dense"],
        [tuple(e) for e in network["embeddings"]],
        ModelConfig.model_validate(network["model"]),
        network["n_outputs"],
    )
    net.load_state_dict(load_safetensors((outcome.artifact / "weights.safetensors").read_bytes()))
    net.eval()
    columns = _columns(_table(task, n=300, seed=9))  # fresh rows, unseen cities included
    assert runtime.preprocessor is not None
    encoded = runtime.preprocessor.transform(columns)
    with torch.no_grad():
        raw = net(torch.from_numpy(encoded.dense), torch.from_numpy(encoded.codes))
    expected = {
        Task.BINARY: lambda r: torch.sigmoid(r)[:, 0],
        Task.MULTICLASS: lambda r: torch.softmax(r, dim=1),
        Task.REGRESSION: lambda r: r[:, 0],
    }[task](raw).numpy()
    np.testing.assert_allclose(runtime.scores(columns), expected, atol=1e-5, rtol=0)
    # The compiled session's run, called directly, answers exactly as the wrapper does.
    session = runtime._session
    assert session_runner(session) == session._sess.run
    arrays = {"dense": encoded.dense, "codes": encoded.codes}
    feeds = {i.name: arrays[i.name] for i in session.get_inputs()}
    outputs = [o.name for o in session.get_outputs()]
    direct, wrapped = session_runner(session)(outputs, feeds, None), session.run(outputs, feeds)
    np.testing.assert_array_equal(direct[0], wrapped[0])


def test_the_artifact_holds_no_pickle_and_every_promised_file(
    binary: tuple[TrainOutcome, Settings, Path],
) -> None:
    outcome, _, _ = binary
    files = {
        p.relative_to(outcome.artifact).as_posix()
        for p in outcome.artifact.rglob("*")
        if p.is_file()
    }
    assert {
        "model.onnx",
        "weights.safetensors",
        "preprocessor.json",
        "schema.json",
        "config.json",
        "metrics.json",
        "lineage.json",
        "network.json",
        "manifest.json",
        "plots/roc.png",
        "plots/precision_recall.png",
        "plots/calibration.png",
        "plots/learning_curves.png",
    } <= files
    for name in files:
        data = (outcome.artifact / name).read_bytes()
        assert not name.endswith((".pkl", ".pickle", ".pt", ".joblib"))
        assert not data.startswith(b"\x80\x04") and not data.startswith(b"\x80\x05"), name
    lineage = json.loads((outcome.artifact / "lineage.json").read_text())
    assert len(lineage["data"]["sha256"]) == 64 and lineage["versions"]["torch"].startswith("2.13")


def test_a_changed_file_is_refused_at_load(
    tmp_path: Path, binary: tuple[TrainOutcome, Settings, Path]
) -> None:
    import shutil

    outcome, _, _ = binary
    copy = tmp_path / "copy"
    shutil.copytree(outcome.artifact, copy)
    blob = bytearray((copy / "preprocessor.json").read_bytes())
    blob[-3] ^= 1
    (copy / "preprocessor.json").write_bytes(bytes(blob))
    with pytest.raises(ArtifactError, match=r"preprocessor\.json"):
        TabularRuntime(copy, name="x", version=1).load()


def test_the_predict_path_imports_neither_pandas_nor_torch(
    binary: tuple[TrainOutcome, Settings, Path],
) -> None:
    outcome, _, _ = binary
    code = f"""
import sys, numpy as np
from pathlib import Path
from modelry.serving.tabular import TabularRuntime
rt = TabularRuntime(Path({str(outcome.artifact)!r}), name="m", version=1)
rt.load()
p = rt.predict({{"x1": np.array([0.1]), "x2": np.array([1.0]),
                "city": np.array(["c1"], dtype=object), "color": np.array(["red"], dtype=object)}})
assert p["label"][0] in ("yes", "no")
print(sorted(m for m in ("pandas", "torch", "sklearn") if m in sys.modules))
"""
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def test_same_seed_same_model(tmp_path: Path) -> None:
    first, _, _ = _train(tmp_path / "a", Task.BINARY, epochs=3)
    second, _, _ = _train(tmp_path / "b", Task.BINARY, epochs=3)
    assert (first.artifact / "weights.safetensors").read_bytes() == (
        second.artifact / "weights.safetensors"
    ).read_bytes()


def test_a_session_without_a_compiled_core_is_run_through_its_own_run() -> None:
    class Plain:
        def run(self, outputs: Any, feeds: Any, options: Any = None) -> list[int]:
            return [1]

    plain = Plain()
    assert session_runner(plain) == plain.run
