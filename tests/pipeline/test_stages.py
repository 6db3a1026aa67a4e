"""Each training stage on its own, on small tables the tests write: what it returns."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import onnx
import pytest

from modelry.data.schema import Role, Task
from modelry.errors import ConfigError, DataError
from modelry.pipeline import (
    Bundle,
    Evaluated,
    FairnessResult,
    Fitted,
    Prepared,
    Preprocessed,
    bundle,
    evaluate,
    fairness,
    fit,
    prepare,
    preprocess,
    register,
    train_model,
)
from modelry.pipeline.stages import check_fairness_target
from modelry.registry import layout
from modelry.registry.artifact import ArtifactWriter, load_artifact
from modelry.registry.store import Registry
from modelry.settings import Settings
from modelry.training.config import TrainConfig

N = 400


def _write_table(path: Path, task: Task, n: int = N, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    x1 = rng.normal(size=n)
    x2 = rng.exponential(2.0, n)
    city = rng.choice([f"c{i}" for i in range(30)], n)
    sex = rng.choice(["f", "m"], n)
    signal = 1.5 * x1 - 0.5 * np.log1p(x2) + 0.3 * (sex == "m")
    if task is Task.REGRESSION:
        target = (10.0 + 3.0 * signal + rng.normal(scale=0.3, size=n)).round(4).astype(str)
    elif task is Task.BINARY:
        target = np.where(signal + rng.logistic(size=n) * 0.5 > 0.4, "yes", "no")
    else:
        target = np.digitize(signal + rng.normal(scale=0.3, size=n), [-0.5, 0.8]).astype(str)
    rows = zip(x1.round(4), x2.round(4), city, sex, target, strict=True)
    lines = ["x1,x2,city,sex,target"] + [",".join(str(v) for v in row) for row in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


def _config(**data: object) -> TrainConfig:
    raw = {
        "data": {"target": "target", "sensitive": ["sex"], **data},
        "training": {"epochs": 3, "lr": 0.01},
        "features": [{"name": "city", "type": "categorical", "encoding": "embedding"}],
    }
    return TrainConfig.from_dict(raw)


@pytest.fixture(scope="module")
def table(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _write_table(tmp_path_factory.mktemp("stages") / "people.csv", Task.BINARY)


@pytest.fixture(scope="module")
def config() -> TrainConfig:
    return _config(fairness="demographic_parity").model_copy(update={"name": "people"})


@pytest.fixture(scope="module")
def stages(
    table: Path, config: TrainConfig
) -> tuple[Prepared, Preprocessed, Fitted, Evaluated, FairnessResult]:
    prepared = prepare(config, table, Settings())
    data = preprocess(prepared, config.features)
    fitted = fit(prepared, data, config)
    evaluated = evaluate(data, fitted)
    return prepared, data, fitted, evaluated, fairness(prepared, data, evaluated, "none")


# -- prepare ---------------------------------------------------------------------------------


def test_prepare_returns_the_schema_and_the_split_sizes(
    stages: tuple[Prepared, Preprocessed, Fitted, Evaluated, FairnessResult],
) -> None:
    prepared = stages[0]
    assert prepared.task is Task.BINARY and prepared.schema.target == "target"
    roles = {c.name: c.role for c in prepared.schema.columns}
    assert roles == {
        "x1": Role.FEATURE,
        "x2": Role.FEATURE,
        "city": Role.FEATURE,
        "sex": Role.SENSITIVE,
        "target": Role.TARGET,
    }
    assert set(prepared.columns) == {"x1", "x2", "city"}  # the sensitive column is no feature
    assert all(len(values) == N for values in prepared.columns.values())
    assert prepared.split.sizes == {"train": 280, "valid": 60, "test": 60}
    every_row = np.concatenate([prepared.split.train, prepared.split.valid, prepared.split.test])
    assert sorted(every_row.tolist()) == list(range(N))
    assert sorted(np.unique(prepared.y).tolist()) == [0, 1] and len(prepared.y) == N
    assert "sex" in prepared.frame.columns
    with pytest.raises(dataclasses.FrozenInstanceError):
        prepared.warnings = []  # type: ignore[misc]


def test_prepare_refuses_a_table_without_a_target_or_with_an_unknown_split_column(
    table: Path,
) -> None:
    with pytest.raises(ConfigError, match="no target column"):
        prepare(TrainConfig(), table)
    with pytest.raises(ConfigError, match=r"--split-by column 'branch' is not in people\.csv"):
        prepare(_config(split_by="branch"), table)


# -- preprocess and fit ----------------------------------------------------------------------


def test_preprocess_encodes_each_split_with_what_the_training_rows_taught(
    stages: tuple[Prepared, Preprocessed, Fitted, Evaluated, FairnessResult],
) -> None:
    prepared, data = stages[0], stages[1]
    for name, rows in (("train", 280), ("valid", 60), ("test", 60)):
        part = data.part(name)
        assert len(part.dense) == len(part.codes) == len(part.y) == rows
    np.testing.assert_array_equal(data.test.y, prepared.y[prepared.split.test])
    assert [name for name, _, _ in data.preprocessor.embeddings_] == ["city"]
    assert data.encoded.dense.shape == (N, data.train.dense.shape[1])
    assert data.redacted == []


def test_fit_returns_the_network_its_baseline_and_its_spec(
    stages: tuple[Prepared, Preprocessed, Fitted, Evaluated, FairnessResult],
) -> None:
    data, fitted = stages[1], stages[2]
    spec = fitted.network
    assert spec.task is Task.BINARY and spec.n_outputs == 1 and spec.threshold == 0.5
    assert spec.n_dense == data.train.dense.shape[1] and spec.inputs == ["dense", "codes"]
    assert len(spec.embeddings) == 1 and spec.group_thresholds is None
    assert spec.dense_mean is not None and len(spec.dense_mean) == spec.n_dense
    assert fitted.result.epochs_run == 3 and fitted.privacy is None
    assert fitted.baseline.name == "logistic_regression"
    graph = onnx.load_from_string(fitted.to_onnx())
    assert [i.name for i in graph.graph.input] == spec.inputs


# -- evaluate --------------------------------------------------------------------------------


def test_evaluate_returns_the_network_and_the_baseline_metrics_on_both_splits(
    stages: tuple[Prepared, Preprocessed, Fitted, Evaluated, FairnessResult],
) -> None:
    evaluated = stages[3]
    assert evaluated.primary_metric == "roc_auc"
    assert set(evaluated.metrics) == {"valid", "test"}
    assert evaluated.baseline["name"] == "logistic_regression"
    for split in ("valid", "test"):
        network, base = evaluated.metrics[split], evaluated.baseline[split]
        assert set(network) == set(base)
        for figures in (network, base):
            assert figures["roc_auc"] is not None and 0.7 < figures["roc_auc"] <= 1.0
        assert evaluated.outputs[split].shape == (60,)
        assert ((evaluated.outputs[split] >= 0) & (evaluated.outputs[split] <= 1)).all()
    assert set(evaluated.history) == {"train_loss", "valid_loss", "valid_metric"}
    assert all(len(v) == 3 for v in evaluated.history.values())
    assert {"roc.png", "precision_recall.png", "calibration.png", "learning_curves.png"} <= set(
        evaluated.plots
    )
    assert all(png.startswith(b"\x89PNG") for png in evaluated.plots.values())


# -- fairness --------------------------------------------------------------------------------


def test_fairness_audits_the_test_rows_and_fits_thresholds_only_when_asked(
    stages: tuple[Prepared, Preprocessed, Fitted, Evaluated, FairnessResult],
) -> None:
    prepared, data, _, evaluated, audited = stages
    assert audited.audit is not None and audited.audit["split"] == "test"
    assert audited.audit["rows"] == 60 and "sex" in audited.audit["attributes"]
    assert audited.metrics is None and audited.group_thresholds is None
    mitigated = fairness(prepared, data, evaluated, "demographic_parity")
    assert mitigated.metrics is not None and mitigated.metrics["column"] == "sex"
    assert mitigated.metrics["fitted_on"] == "valid"


def test_fairness_is_empty_for_a_task_that_is_not_binary(tmp_path: Path) -> None:
    config = _config()
    prepared = prepare(config, _write_table(tmp_path / "r.csv", Task.REGRESSION), Settings())
    assert prepared.task is Task.REGRESSION
    with pytest.raises(ConfigError, match="--fairness needs a binary target; 'target' is reg"):
        check_fairness_target("equalized_odds", prepared.schema)
    check_fairness_target("none", prepared.schema)
    data = preprocess(prepared, config.features)
    fitted = fit(prepared, data, config)
    evaluated = evaluate(data, fitted)
    assert set(evaluated.metrics["test"]) >= {"r2", "rmse"}
    assert fairness(prepared, data, evaluated, "none") == FairnessResult()


# -- bundle and register ---------------------------------------------------------------------


def _bundle(
    stages: tuple[Prepared, Preprocessed, Fitted, Evaluated, FairnessResult],
    fair: FairnessResult,
    config: TrainConfig,
    table: Path,
) -> Bundle:
    prepared, data, fitted, evaluated, _ = stages
    return bundle(
        prepared,
        data,
        fitted,
        evaluated,
        fair,
        config=config,
        data_path=table,
        onnx=fitted.to_onnx(),
        train_seconds=1.23456,
    )


def test_bundle_writes_every_file_the_layout_names_and_a_manifest_with_the_kind(
    tmp_path: Path,
    stages: tuple[Prepared, Preprocessed, Fitted, Evaluated, FairnessResult],
    config: TrainConfig,
    table: Path,
) -> None:
    fair = FairnessResult(group_thresholds={"sex": {"f": 0.4, "m": 0.6}})
    made = _bundle(stages, fair, config, table)
    assert made.name == "people" and made.task == "binary" and made.kind == "tabular"
    staged = made.write(ArtifactWriter(tmp_path))
    files = {p.relative_to(staged).as_posix() for p in staged.rglob("*") if p.is_file()}
    named = {
        layout.MODEL_FILE,
        layout.WEIGHTS_FILE,
        layout.NETWORK_FILE,
        layout.PREPROCESSOR_FILE,
        layout.SCHEMA_FILE,
        layout.CONFIG_FILE,
        layout.METRICS_FILE,
        layout.LINEAGE_FILE,
        layout.WARNINGS_FILE,
        layout.CARD_FILE,
        layout.CARD_JSON_FILE,
        layout.IMPORTANCE_FILE,
        layout.MANIFEST_FILE,
    }
    assert named <= files
    assert any(f.startswith(f"{layout.PLOTS_DIR}/") for f in files)
    manifest = json.loads((staged / layout.MANIFEST_FILE).read_text())
    assert manifest["kind"] == layout.TABULAR_KIND
    assert manifest["name"] == "people" and manifest["task"] == "binary"
    assert set(manifest["files"]) == files - {layout.MANIFEST_FILE}
    load_artifact(staged)  # every file matches its sha256
    spec = layout.read_spec(
        layout.NetworkSpec, json.loads((staged / layout.NETWORK_FILE).read_text()), "network"
    )
    assert spec.group_thresholds == {"sex": {"f": 0.4, "m": 0.6}}
    metrics = json.loads((staged / layout.METRICS_FILE).read_text())
    assert metrics["train_seconds"] == 1.235 and metrics["rows"]["test"] == 60
    assert metrics["network"] == json.loads(json.dumps(stages[3].metrics))
    assert metrics["baseline"]["name"] == "logistic_regression"
    assert "fairness" not in metrics  # no mitigation figures in this result
    lineage = json.loads((staged / layout.LINEAGE_FILE).read_text())
    assert lineage["data"]["file"] == "people.csv" and lineage["config"]["name"] == "people"


def test_register_gives_a_version_only_to_a_bundle_that_passes_its_check(
    tmp_path: Path,
    stages: tuple[Prepared, Preprocessed, Fitted, Evaluated, FairnessResult],
    config: TrainConfig,
    table: Path,
) -> None:
    registry = Registry(Settings(home=tmp_path / "home"))
    made = _bundle(stages, stages[4], config, table)

    def refuse(staged: Path) -> None:
        assert (staged / layout.MODEL_FILE).is_file()
        raise DataError("the served model disagrees")

    with pytest.raises(DataError, match="disagrees"):
        register(registry, made, verify=refuse)
    assert registry.list_models() == []
    assert not any((registry.models_dir / ".staging").iterdir())
    version = register(registry, made)
    assert version.version == 1 and (version.path / layout.MODEL_FILE).is_file()
    assert registry.resolve("people").path == version.path


# -- the whole sequence ----------------------------------------------------------------------


def test_train_model_is_the_stages_in_sequence(
    tmp_path: Path,
    stages: tuple[Prepared, Preprocessed, Fitted, Evaluated, FairnessResult],
    config: TrainConfig,
    table: Path,
) -> None:
    said: list[str] = []
    outcome = train_model(config, table, Settings(home=tmp_path / "home"), on_stage=said.append)
    assert said == [
        "reading and inferring the schema",
        "fitting the preprocessing",
        "training the network",
        "evaluating beside the baseline",
        "exporting and verifying the artifact",
    ]
    evaluated = stages[3]
    assert outcome.network == evaluated.metrics and outcome.baseline == evaluated.baseline
    served = {k: evaluated.baseline[k] for k in ("valid", "test")}
    assert outcome.metrics == (evaluated.metrics if outcome.served == "network" else served)
    assert outcome.selection["method"] == "5-fold"  # 280 training rows: a small table
    assert outcome.fairness is not None and outcome.fairness["constraint"] == "demographic_parity"
    assert outcome.epochs_run == 3 and outcome.schema == stages[0].schema
