"""Local attributions: right on known effects, complete, keyed by the user's columns."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from explainkit import FEATURES, NOISE, Trained, columns_of, known_effects, train_known

from modelry.data.schema import Task
from modelry.explain import Explainer, Explanation
from modelry.serving.tabular import TabularRuntime

TOLERANCE = 1e-3


def _check_complete(explanations: list[Explanation]) -> None:
    for e in explanations:
        gap = sum(e.attributions.values()) - (e.score - e.baseline_score)
        assert abs(gap) <= TOLERANCE and abs(e.delta) <= TOLERANCE, (gap, e.delta)
        assert abs(gap - e.delta) < 1e-9  # Captum's convergence delta is this very gap


@pytest.fixture(scope="module")
def explainer(binary: Trained) -> Explainer:
    return Explainer.from_artifact(binary.outcome.artifact)


@pytest.fixture(scope="module")
def explained(explainer: Explainer) -> list[Explanation]:
    return explainer.explain(columns_of(known_effects(Task.BINARY, 400, seed=5)))


def test_attributions_recover_the_known_effects(explained: list[Explanation]) -> None:
    mean_abs = {c: float(np.mean([abs(e.attributions[c]) for e in explained])) for c in FEATURES}
    assert mean_abs["x1"] > mean_abs["x2"] > max(mean_abs[c] for c in NOISE)
    for column in NOISE:
        assert mean_abs[column] < 0.5 * mean_abs["x2"], (column, mean_abs)
        assert mean_abs[column] < 0.25 * mean_abs["x1"], (column, mean_abs)
    # The direction is right too: a larger x1 raises P(yes) on average.
    x1 = known_effects(Task.BINARY, 400, seed=5)["x1"]
    effects = np.array([e.attributions["x1"] for e in explained])
    assert np.corrcoef(x1, effects)[0, 1] > 0.9


def test_attributions_are_complete_and_explain_the_served_score(
    binary: Trained, explained: list[Explanation]
) -> None:
    _check_complete(explained)
    runtime = TabularRuntime(binary.outcome.artifact, name="known", version=1)
    runtime.load()
    served = runtime.scores(columns_of(known_effects(Task.BINARY, 400, seed=5)))
    np.testing.assert_allclose([e.score for e in explained], served, atol=1e-5)
    assert len({e.baseline_score for e in explained}) == 1 and 0 < explained[0].baseline_score < 1
    assert all(e.target == "yes" for e in explained)


def test_attributions_are_keyed_by_the_users_columns_only(explained: list[Explanation]) -> None:
    for e in explained[:20]:
        assert set(e.attributions) == set(FEATURES)
        magnitudes = [abs(v) for v in e.attributions.values()]
        assert magnitudes == sorted(magnitudes, reverse=True)
    doc = explained[0].to_dict()
    assert set(doc) == {"score", "baseline_score", "target", "attributions", "reasons", "delta"}
    assert json.loads(json.dumps(doc)) == doc


def test_reasons_name_the_column_and_the_value_sent(explainer: Explainer) -> None:
    row = {"x1": [2.5], "x2": [0.0], "x3": [0.1], "c_noise": ["red"], "city": ["city07"]}
    columns = {k: np.array(v, dtype=float if k.startswith("x") else object) for k, v in row.items()}
    (e,) = explainer.explain(columns)
    assert e.score > 0.9 and e.reasons[0].column == "x1"
    assert e.reasons[0].text.startswith("x1=2.5 raised the score by ")
    assert e.reasons[0].value == 2.5
    assert all(r.text.startswith(f"{r.column}=") for r in e.reasons)
    _check_complete([e])


@pytest.mark.parametrize(
    ("task", "model"),
    [
        (Task.MULTICLASS, {}),
        # Smooth activations have no kinks: the path is one piece, integrated more finely.
        (Task.REGRESSION, {"activation": "gelu", "batch_norm": True, "hidden": [32, 16]}),
    ],
)
def test_every_task_is_explained_completely(
    tmp_path: Path, task: Task, model: dict[str, object]
) -> None:
    trained = train_known(tmp_path, task, 1200, 6, model)
    runtime = TabularRuntime(trained.outcome.artifact, name="known", version=1)
    explainer = Explainer.from_artifact(runtime)
    columns = columns_of(known_effects(task, 60, seed=8))
    explanations = explainer.explain(columns)
    _check_complete(explanations)
    outputs = runtime.predict(columns)
    if task is Task.MULTICLASS:
        assert [e.target for e in explanations] == list(outputs["label"])
        np.testing.assert_allclose(
            [e.score for e in explanations], outputs["probability"].max(axis=1), atol=1e-5
        )
    else:
        assert all(e.target is None for e in explanations)
        np.testing.assert_allclose([e.score for e in explanations], outputs["score"], atol=1e-4)
        assert "the prediction" in explanations[0].reasons[0].text


def test_importing_explanations_pulls_in_neither_torch_nor_captum() -> None:
    code = (
        "import sys, modelry.explain\n"
        "heavy = {'torch', 'captum', 'sklearn', 'matplotlib'} & set(sys.modules)\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
