"""From a table on disk to a registered model version: the one way modelry trains.

read → pseudonymise → infer schema → clean → split → fit preprocessing
→ train (beside a baseline) → evaluate → export → verify the served runtime reproduces
the network → register. Nothing reaches the registry unless every step succeeded.

Privacy: ``data.pseudonymise`` columns are replaced by keyed HMAC pseudonyms
(``Settings.pseudonymise_key``) before anything else reads them; they become identifiers
(joins, group splits), never features, so serving never needs the key. Personal columns
are never features (:mod:`modelry.data.infer`), and free-text features are redacted
(e-mails, phone numbers, URLs: :func:`~modelry.data.privacy.redact_text`) by the text
encoder itself, at training and at every prediction; ``network.json`` lists them under
``redacted_text`` for the reader.
"""

from __future__ import annotations

import getpass
import json
import platform
import re
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

import modelry
from modelry.audit.mitigation import training_fairness
from modelry.data.clean import CleanReport, clean, encode_target, normalise_missing
from modelry.data.columns import Columns
from modelry.data.infer import infer_schema, leakage_warnings
from modelry.data.privacy import pseudonymise_table
from modelry.data.schema import Role, Schema, Task
from modelry.data.sources import fingerprint, read_table, to_columns
from modelry.data.split import Split, split_rows
from modelry.errors import ConfigError
from modelry.explain.attributions import reference_inputs
from modelry.explain.importance import importance_files
from modelry.features.feature_config import TextFeature
from modelry.features.preprocessor import Encoded, Preprocessor, default_features
from modelry.nn.modules import TabularNet
from modelry.registry.card import build_card
from modelry.registry.layout import (
    CARD_FILE,
    CARD_JSON_FILE,
    CONFIG_FILE,
    LINEAGE_FILE,
    METRICS_FILE,
    MODEL_FILE,
    NETWORK_FILE,
    PLOTS_DIR,
    PREPROCESSOR_FILE,
    SCHEMA_FILE,
    TABULAR_KIND,
    WARNINGS_FILE,
    WEIGHTS_FILE,
    NetworkSpec,
)
from modelry.registry.store import ModelVersion, Registry
from modelry.serving.tabular import TabularRuntime
from modelry.settings import Settings
from modelry.training.baseline import Baseline, fit_baseline
from modelry.training.config import TrainConfig
from modelry.training.export import check_parity, to_onnx, to_safetensors
from modelry.training.metrics import evaluate, primary_metric
from modelry.training.plots import evaluation_plots
from modelry.training.private import privacy_record, train_private
from modelry.training.trainer import EpochLog, TrainData, predict_output, seed_everything, train

Stage = Callable[[str], None]


@dataclass
class TrainOutcome:
    """What a training run produced, as ``modelry train --json`` reports it."""

    name: str
    version: int
    task: Task
    metrics: dict[str, dict[str, float | None]]
    baseline: dict[str, Any]
    train_seconds: float
    epochs_run: int
    best_epoch: int
    artifact: Path
    schema: Schema
    warnings: list[str] = field(default_factory=list)
    fairness: dict[str, Any] | None = None  # group thresholds: before/after on test

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "task": self.task.value,
            "metrics": self.metrics,
            "baseline": self.baseline,
            "train_seconds": round(self.train_seconds, 3),
            "epochs_run": self.epochs_run,
            "best_epoch": self.best_epoch,
            "artifact": str(self.artifact),
            "warnings": self.warnings,
            "fairness": self.fairness,
        }


def default_name(path: Path) -> str:
    """A registry name from a file name: ``bank-additional-full.csv`` → ``bank-additional-full``."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", path.stem).strip("-._") or "model"
    return stem[:64]


def _take(columns: Columns, rows: np.ndarray) -> Columns:
    return {k: v[rows] for k, v in columns.items()}  # type: ignore[index]


def _data(encoded: Encoded, y: np.ndarray, rows: np.ndarray) -> TrainData:
    return TrainData(dense=encoded.dense[rows], codes=encoded.codes[rows], y=y[rows])


def prepare(
    config: TrainConfig, data_path: Path, settings: Settings | None = None
) -> tuple[Schema, Columns, np.ndarray, Split, CleanReport, list[str], Any]:
    """Read, infer, clean and split; everything before the first fitted parameter.

    ``settings`` supplies the pseudonymisation key (default: ``Settings()``).
    """
    d = config.data
    if not d.target:
        raise ConfigError("no target column: pass --target COLUMN (or data.target in the config)")
    frame = read_table(data_path)
    if d.pseudonymise:
        key = (settings or Settings()).pseudonymise_key.get_secret_value().encode()
        frame = normalise_missing(frame, d.missing_values)  # a missing token stays missing
        frame = pseudonymise_table(frame, d.pseudonymise, key)
    schema = infer_schema(
        frame,
        target=d.target,
        task=d.task,
        positive=d.positive,
        drop=d.drop,
        sensitive=d.sensitive,
        identifiers=d.identifiers,
        types=d.types,
        missing_values=d.missing_values,
        pseudonymised=d.pseudonymise,
    )
    frame, report = clean(frame, schema, drop_missing_rows=d.drop_missing_rows)
    warnings = list(report.warnings) + leakage_warnings(frame, schema)
    if not schema.features:
        raise ConfigError(f"{data_path}: no feature columns left after dropping and inference")
    assert schema.target is not None and schema.task is not None
    y = encode_target(frame[schema.target].to_numpy(), schema)
    classification = schema.task is not Task.REGRESSION
    groups = None
    if d.split_by:
        if d.split_by not in frame.columns:
            raise ConfigError(f"--split-by column {d.split_by!r} is not in {data_path.name}")
        groups = frame[d.split_by].astype(str).to_numpy()
    split = split_rows(
        len(frame),
        y=y if classification else None,
        valid=d.valid_fraction,
        test=d.test_fraction,
        seed=config.training.seed,
        time_order=d.time_order,
        groups=groups,
    )
    columns: Columns = dict(to_columns(frame, schema.feature_names))
    return schema, columns, y, split, report, warnings, frame


def train_model(
    config: TrainConfig,
    data_path: Path,
    settings: Settings,
    *,
    on_epoch: Callable[[EpochLog], None] | None = None,
    on_stage: Stage | None = None,
) -> TrainOutcome:
    """Train, evaluate and register one model version from the table at ``data_path``."""
    stage = on_stage or (lambda _: None)
    registry = Registry(settings)
    name = registry.validate_name(config.name or default_name(data_path))
    config = config.model_copy(update={"name": name})
    started = time.perf_counter()

    stage("reading and inferring the schema")
    schema, columns, y, split, report, warnings, frame = prepare(config, data_path, settings)
    task = schema.task
    assert task is not None
    if config.data.fairness != "none" and task is not Task.BINARY:  # fairness hook
        raise ConfigError(f"--fairness needs a binary target; {schema.target!r} is {task.value}")

    stage("fitting the preprocessing")
    features = default_features(schema, config.features)
    redacted = [f.name for f in features if isinstance(f, TextFeature)]
    preprocessor = Preprocessor(features=features, missing_values=schema.missing_values).fit(
        _take(columns, split.train)
    )
    encoded = preprocessor.transform(columns)
    train_data = _data(encoded, y, split.train)
    valid_data = _data(encoded, y, split.valid)
    test_data = _data(encoded, y, split.test)

    stage("training the network")
    seed_everything(config.training.seed)
    n_outputs = len(schema.classes or []) if task is Task.MULTICLASS else 1
    embeddings = [(card, dim) for _, card, dim in preprocessor.embeddings_]
    net = TabularNet(encoded.dense.shape[1], embeddings, config.model, n_outputs)
    # The network trains on one core; the baseline fits on the other meanwhile (both
    # spend their time in native code that releases the GIL).
    with ThreadPoolExecutor(max_workers=1) as background:
        fitting = background.submit(_fit_baseline_alone, task, train_data, config.training.seed)
        fit = train if config.training.dp_epsilon is None else train_private
        result = fit(net, task, train_data, valid_data, config.training, on_epoch=on_epoch)
        baseline = fitting.result()
    dp = privacy_record(result, config.training)
    # The explanation baseline is a mean row: under DP, of rows that DP-SGD does not protect.
    reference = valid_data if dp else train_data

    stage("evaluating beside the baseline")
    outputs = {
        split_name: predict_output(net, task, part.dense, part.codes)
        for split_name, part in (("valid", valid_data), ("test", test_data))
    }
    metrics = {
        k: evaluate(task, part.y, outputs[k])
        for k, part in (("valid", valid_data), ("test", test_data))
    }
    base_out = {
        k: baseline.predict_output(p.dense, p.codes)
        for k, p in (("valid", valid_data), ("test", test_data))
    }
    base_metrics: dict[str, Any] = {
        "name": baseline.name,
        "valid": evaluate(task, valid_data.y, base_out["valid"]),
        "test": evaluate(task, test_data.y, base_out["test"]),
    }
    metric_name, _ = primary_metric(task)
    history = {
        "train_loss": [e.train_loss for e in result.history],
        "valid_loss": [e.valid_loss for e in result.history],
        "valid_metric": [e.valid_metric for e in result.history],
    }
    plots = evaluation_plots(
        task,
        test_data.y,
        {"network": outputs["test"], baseline.name: base_out["test"]},
        history,
        metric_name,
    )

    stage("exporting and verifying the artifact")
    onnx_bytes = to_onnx(net.eval(), task, encoded.dense.shape[1], encoded.codes.shape[1])
    train_seconds = time.perf_counter() - started
    test_columns = _take(columns, split.test)
    explained = importance_files(onnx_bytes, preprocessor, task, test_columns, test_data.y)
    network = NetworkSpec(
        task=task,
        n_dense=int(encoded.dense.shape[1]),
        embeddings=embeddings,
        n_outputs=n_outputs,
        model=config.model.model_dump(mode="json"),
        threshold=0.5,
        inputs=["dense", "codes"] if encoded.codes.shape[1] else ["dense"],
        redacted_text=redacted,
        **reference_inputs(net, reference.dense, reference.codes),
    )
    metrics_doc = {
        "task": task.value,
        "primary_metric": metric_name,
        "network": metrics,
        "baseline": base_metrics,
        "history": history,
        "best_epoch": result.best_epoch,
        "epochs_run": result.epochs_run,
        "stopped_early": result.stopped_early,
        "train_seconds": round(train_seconds, 3),
        "rows": {"train": len(split.train), "valid": len(split.valid), "test": len(split.test)},
        "cleaning": report.model_dump(mode="json"),
    }
    if dp:
        metrics_doc["privacy"] = dp
    lineage = {
        "data": fingerprint(data_path),
        "config": config.model_dump(mode="json"),
        "versions": _library_versions(),
        "created_by": getpass.getuser(),
        "platform": platform.platform(),
    }
    # -- fairness hook: audit the test rows, group thresholds if asked; the model card --------
    fair = None
    if task is Task.BINARY:
        sensitive: Columns = {**to_columns(frame, [c.name for c in schema.by_role(Role.SENSITIVE)])}
        fair = training_fairness(
            config.data.fairness,
            valid=(outputs["valid"], valid_data.y, _take(sensitive, split.valid)),
            test=(outputs["test"], test_data.y, _take(sensitive, split.test)),
        )
        if fair.group_thresholds:
            network = network.model_copy(update={"group_thresholds": fair.group_thresholds})
        if fair.metrics:
            metrics_doc["fairness"] = fair.metrics
    card_md, card_doc = build_card(
        {
            "name": name,
            "task": task.value,
            "target": schema.target,
            "classes": schema.classes,
            "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "created_by": lineage["created_by"],
            "data": lineage["data"],
            "rows": metrics_doc["rows"],
            "schema": schema.model_dump(mode="json"),
            "primary_metric": metric_name,
            "metrics": metrics,
            "baseline": base_metrics,
            "importance": json.loads(explained.get("importance.json", b"null")),
            "fairness": fair.audit if fair else None,
            "mitigation": fair.metrics if fair else None,
            "warnings": warnings,
            "time_order": config.data.time_order,
            "differential_privacy": dp,
        }
    )
    # -- end of the fairness hook --------------------------------------------------------------
    with registry.new_artifact() as writer:
        writer.write_bytes(MODEL_FILE, onnx_bytes)
        writer.write_bytes(WEIGHTS_FILE, to_safetensors(net))
        writer.write_json(NETWORK_FILE, network.to_json())
        writer.write_json(PREPROCESSOR_FILE, preprocessor.to_dict())
        writer.write_json(SCHEMA_FILE, schema.model_dump(mode="json"))
        writer.write_json(CONFIG_FILE, config.model_dump(mode="json"))
        writer.write_json(METRICS_FILE, metrics_doc)
        writer.write_json(LINEAGE_FILE, lineage)
        writer.write_json(WARNINGS_FILE, warnings)
        writer.write_text(CARD_FILE, card_md)
        writer.write_json(CARD_JSON_FILE, card_doc)
        for file_name, png in plots.items():
            writer.write_bytes(f"{PLOTS_DIR}/{file_name}", png)
        for file_name, data in explained.items():
            writer.write_bytes(file_name, data)
        staged = writer.finish({"name": name, "task": task.value, "kind": TABULAR_KIND})
        _verify_served(staged, name, columns, split.test, outputs["test"])
        version = registry.register(
            name,
            staged,
            task=task.value,
            metrics={"test": metrics["test"], "valid": metrics["valid"], "baseline": base_metrics},
            lineage=lineage,
        )
    outcome = _outcome(
        version, task, metrics, base_metrics, train_seconds, result, schema, warnings
    )
    outcome.fairness = fair.metrics if fair else None
    return outcome


def _fit_baseline_alone(task: Task, data: TrainData, seed: int) -> Baseline:
    """The baseline on one BLAS thread, so it does not crowd the network off its core."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        return fit_baseline(task, data, seed)


def _verify_served(
    staged: Path, name: str, columns: Columns, rows: np.ndarray, expected: np.ndarray
) -> None:
    """The runtime that will serve the model must reproduce the trained network on raw rows."""
    runtime = TabularRuntime(staged, name=name, version=0)
    runtime.load()
    sample = rows[:2048]
    served = runtime.scores(_take(columns, sample))
    check_parity(expected[: len(sample)], served)


def _outcome(
    version: ModelVersion,
    task: Task,
    metrics: dict[str, dict[str, float | None]],
    baseline: dict[str, Any],
    seconds: float,
    result: Any,
    schema: Schema,
    warnings: list[str],
) -> TrainOutcome:
    return TrainOutcome(
        name=version.name,
        version=version.version,
        task=task,
        metrics=metrics,
        baseline=baseline,
        train_seconds=seconds,
        epochs_run=result.epochs_run,
        best_epoch=result.best_epoch,
        artifact=version.path,
        schema=schema,
        warnings=warnings,
    )


def _library_versions() -> dict[str, str]:
    import onnx
    import onnxruntime
    import sklearn
    import torch

    return {
        "modelry": modelry.__version__,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "onnx": onnx.__version__,
        "onnxruntime": onnxruntime.__version__,
        "numpy": np.__version__,
        "scikit-learn": sklearn.__version__,
    }


__all__ = ["Role", "TrainOutcome", "default_name", "prepare", "train_model"]
