"""``train_model``: the training stages in sequence, from a table on disk to a version."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from modelry.data.columns import Columns
from modelry.data.leakage import Leak, refuse_leaks
from modelry.data.schema import Schema, Task
from modelry.errors import ArtifactError
from modelry.pipeline.artifact import bundle, default_name, register
from modelry.pipeline.calibration import calibrate, check_calibration_target
from modelry.pipeline.choice import choose
from modelry.pipeline.encoding import TextEncoding, embed_text
from modelry.pipeline.stages import (
    Prepared,
    Preprocessed,
    check_fairness_target,
    evaluate,
    fairness,
    fit,
    prepare,
    preprocess,
    take,
)
from modelry.registry.store import Registry
from modelry.serving.kinds import open_runtime
from modelry.serving.tabular import TabularRuntime
from modelry.settings import Settings
from modelry.training.config import TrainConfig
from modelry.training.export import check_parity
from modelry.training.trainer import EpochLog

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
    served: str = "network"  # or "baseline": what the version serves
    network: dict[str, dict[str, float | None]] = field(default_factory=dict)
    selection: dict[str, Any] = field(default_factory=dict)
    leaks: list[Leak] = field(default_factory=list)
    target_drift: dict[str, Any] | None = None
    calibration: dict[str, Any] | None = None  # ECE and Brier before/after, per split
    text_encoder: dict[str, Any] | None = None  # which encoder embedded which columns
    duplicates: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """``metrics`` are the served model's; ``network`` and ``baseline`` are always both."""
        return {
            "name": self.name,
            "version": self.version,
            "task": self.task.value,
            "served": self.served,
            "metrics": self.metrics,
            "network": self.network,
            "baseline": self.baseline,
            "selection": self.selection,
            "leaks": [leak.to_dict() for leak in self.leaks],
            "target_drift": self.target_drift,
            "text_encoder": self.text_encoder,
            "duplicates": self.duplicates,
            "train_seconds": round(self.train_seconds, 3),
            "epochs_run": self.epochs_run,
            "best_epoch": self.best_epoch,
            "artifact": str(self.artifact),
            "warnings": self.warnings,
            "fairness": self.fairness,
            "calibration": self.calibration,
        }


def train_model(
    config: TrainConfig,
    data_path: Path,
    settings: Settings,
    *,
    on_epoch: Callable[[EpochLog], None] | None = None,
    on_stage: Stage | None = None,
    on_warning: Stage | None = None,
    tuning: dict[str, Any] | None = None,
) -> TrainOutcome:
    """Train, evaluate and register one model version from the table at ``data_path``.

    Args:
        config: The run's configuration; ``config.name`` defaults to the file's name.
        data_path: A CSV or Parquet file.
        settings: The registry's home and the pseudonymisation key.
        on_epoch: Called after every epoch.
        on_stage: Called with a short description as each stage begins.
        on_warning: Called with each leakage warning as soon as it is known, before training.
        tuning: The search that chose ``config``'s settings (``modelry tune``), for
            ``metrics.json`` and the card.

    Raises:
        DataError: ``config.data.strict_leaks`` and a column may leak the target.
    """
    stage = on_stage or (lambda _: None)
    registry = Registry(settings)
    name = registry.validate_name(config.name or default_name(data_path))
    config = config.model_copy(update={"name": name})
    started = time.perf_counter()

    stage("reading and inferring the schema")
    prepared = prepare(config, data_path, settings)
    if config.data.strict_leaks:
        refuse_leaks(prepared.leaks)
    for leak in prepared.leaks:
        (on_warning or (lambda _: None))(leak.message)
    check_fairness_target(config.data.fairness, prepared.schema)
    check_calibration_target(config.calibration, prepared.schema)
    prepared, data, encoding = encode(config, prepared, registry, stage)
    on_ray = config.engine.name == "ray"
    stage(
        f"training the network on {config.engine.workers} Ray workers"
        if on_ray
        else "training the network"
    )
    fitted = fit(prepared, data, config, on_epoch=on_epoch, ray_storage=settings.home / "ray")
    stage("evaluating beside the baseline")
    evaluated = evaluate(data, fitted)
    chosen = choose(prepared, data, fitted, evaluated, config)
    fitted, evaluated = chosen.fitted, chosen.evaluated  # what the version serves from here
    calibration = None
    if config.calibration != "none":
        stage("calibrating on the validation split")
        calibrated = calibrate(data, fitted, evaluated, config.calibration)
        fitted, evaluated, calibration = calibrated.fitted, calibrated.evaluated, calibrated.report
    stage("exporting and verifying the artifact")
    onnx = fitted.to_onnx()
    train_seconds = time.perf_counter() - started
    fair = fairness(prepared, data, evaluated, config.data.fairness)
    made = bundle(
        prepared,
        data,
        fitted,
        evaluated,
        fair,
        config=config,
        data_path=data_path,
        onnx=onnx,
        train_seconds=train_seconds,
        chosen=chosen,
        calibration=calibration,
        tuning=tuning,
        encoding=encoding,
    )
    served = partial(
        _verify_served,
        name=name,
        columns=prepared.columns,
        rows=prepared.split.test,
        expected=chosen.evaluated.outputs["test"],  # before calibration: checked apart
    )
    version = register(registry, made, verify=served)
    return TrainOutcome(
        name=version.name,
        version=version.version,
        task=prepared.task,
        metrics=evaluated.metrics,
        baseline=evaluated.baseline,
        train_seconds=train_seconds,
        epochs_run=fitted.result.epochs_run,
        best_epoch=fitted.result.best_epoch,
        artifact=version.path,
        schema=prepared.schema,
        warnings=prepared.warnings,
        fairness=fair.metrics,
        served=chosen.selection.served,
        network=chosen.network,
        selection=chosen.selection.to_dict(),
        leaks=prepared.leaks,
        target_drift=prepared.drift.to_dict() if prepared.drift else None,
        calibration=calibration,
        text_encoder=encoding.to_dict() if encoding else None,
        duplicates=prepared.duplicates,
    )


def encode(
    config: TrainConfig, prepared: Prepared, registry: Registry, stage: Stage
) -> tuple[Prepared, Preprocessed, TextEncoding | None]:
    """The table as the network reads it: the text columns embedded by the registered encoder
    (``data.text_encoder``), if asked, then the preprocessing fitted on the training rows.

    Returns:
        The prepared table (text columns now vectors), its encoded splits, and the encoder
        that embedded them (None without one).
    """
    encoding = None
    features = list(config.features)
    if config.data.text_encoder:
        stage(f"embedding text with {config.data.text_encoder}")
        prepared, encoding = embed_text(
            prepared, config.data.text_encoder, config.data.text_columns, registry
        )
        features += encoding.features()
    stage("fitting the preprocessing")
    data = preprocess(prepared, features, recency_half_life=config.training.recency_half_life)
    return prepared, data, encoding


def _verify_served(
    staged: Path, *, name: str, columns: Columns, rows: np.ndarray, expected: np.ndarray
) -> None:
    """The runtime that will serve the model must reproduce it on raw rows.

    The network is compared before calibration: a steep stretch of an isotonic map would
    magnify float32 rounding past any useful tolerance; the calibration must then be
    exactly what the runtime applies to the network's output.
    """
    runtime = open_runtime(staged, name, 0)  # through its kind, with the kind's own checks
    assert isinstance(runtime, TabularRuntime)
    sample = take(columns, rows[:2048])
    served = runtime.scores(sample)
    calibration = runtime.network.calibration
    if calibration is None:
        check_parity(expected[: len(served)], served)
        return
    assert runtime.preprocessor is not None
    encoded = runtime.preprocessor.transform(sample)
    network = runtime.raw_output(encoded.dense, encoded.codes)[:, 0]
    check_parity(expected[: len(served)], network)
    if not np.array_equal(calibration.apply(network), served):
        raise ArtifactError("the served probabilities are not the calibrated network's")
