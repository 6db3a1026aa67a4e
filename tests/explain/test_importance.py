"""Permutation importance: stored with every version, and right on known effects."""

from __future__ import annotations

import json

import numpy as np
import pytest
from explainkit import NOISE, Trained, columns_of, known_effects
from sklearn.metrics import roc_auc_score

from modelry.data.schema import Task
from modelry.explain.importance import (
    importance_files,
    importance_png,
    permutation_importance,
    roc_auc,
)
from modelry.serving.tabular import TabularRuntime


def _runtime(trained: Trained) -> TabularRuntime:
    runtime = TabularRuntime(trained.outcome.artifact, name="known", version=1)
    runtime.load()
    return runtime


def test_training_stores_the_importance_the_true_effects_explain(binary: Trained) -> None:
    artifact = binary.outcome.artifact
    doc = json.loads((artifact / "importance.json").read_text())
    assert doc["metric"] == "roc_auc" and doc["repeats"] == 5 and doc["value"] > 0.85
    assert (artifact / "plots" / "importance.png").read_bytes().startswith(b"\x89PNG")
    ranked = {row["column"]: row["importance"] for row in doc["columns"]}
    assert set(ranked) == {"x1", "x2", *NOISE}  # the user's columns, never encoded names
    assert list(ranked)[:2] == ["x1", "x2"]
    assert ranked["x1"] > 3 * ranked["x2"] > 0
    for column in NOISE:
        assert abs(ranked[column]) < 0.2 * ranked["x2"], column
    network = json.loads((artifact / "network.json").read_text())
    assert len(network["dense_mean"]) == network["n_dense"]
    assert [len(v) for v in network["embedding_mean"]] == [d for _, d in network["embeddings"]]


def test_permutation_importance_on_a_runtime_is_seeded_and_grouped(binary: Trained) -> None:
    runtime = _runtime(binary)
    table = known_effects(Task.BINARY, 600, seed=3)
    y = (table["target"] == "yes").astype(np.int64)
    columns = columns_of(table)
    first = permutation_importance(runtime, columns, y, repeats=2, seed=7)
    assert first == permutation_importance(runtime, columns, y, repeats=2, seed=7)
    assert [row["column"] for row in first][:2] == ["x1", "x2"]
    assert all(set(row) == {"column", "importance", "std"} for row in first)
    assert len(first) == 5  # c_noise's one-hot block and city's embedding count once each


def test_fast_auc_equals_scikit_learn_with_ties() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 700)
    scores = np.round(rng.random(700), 1)  # many ties
    assert roc_auc(y, scores) == pytest.approx(roc_auc_score(y, scores), abs=1e-12)
    assert roc_auc(np.ones(5), np.arange(5.0)) is None


def test_an_undefined_metric_leaves_a_note_not_a_failure(binary: Trained) -> None:
    runtime = _runtime(binary)
    assert runtime.preprocessor is not None and runtime.artifact is not None
    table = known_effects(Task.BINARY, 50, seed=4)
    files = importance_files(
        runtime.artifact.read_bytes("model.onnx"),
        runtime.preprocessor,
        Task.BINARY,
        columns_of(table),
        np.zeros(50, dtype=np.int64),  # one class only: no ROC-AUC
    )
    doc = json.loads(files["importance.json"])
    assert doc["columns"] == [] and "undefined" in doc["note"] and len(files) == 1


def test_the_chart_is_a_png() -> None:
    rows = [
        {"column": "a", "importance": 0.2, "std": 0.01},
        {"column": "b", "importance": -0.001, "std": 0.0},
    ]
    assert importance_png(rows, "roc_auc").startswith(b"\x89PNG")
