"""The stages of a training run up to the artifact, each returning a small frozen record.

:func:`prepare` → :class:`Prepared` (the table read, typed, cleaned and split),
:func:`preprocess` → :class:`Preprocessed` (the fitted preprocessing and the encoded splits),
:func:`fit` → :class:`Fitted` (the network beside its baseline),
:func:`evaluate` → :class:`Evaluated` (both on the validation and test rows),
:func:`fairness` → :class:`FairnessResult` (the test rows audited, group thresholds if asked).

A stage reads only the records of the stages before it, so a model kind with its own fit
(an uplift model, a matcher, a baseline served in place of a weak network) reuses
:func:`prepare` and :func:`preprocess`, fits its own way, and ends with
:func:`modelry.pipeline.artifact.register`.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd  # type: ignore[import-untyped]

from modelry.audit.mitigation import training_fairness
from modelry.data.clean import CleanReport, clean, encode_target, normalise_missing
from modelry.data.columns import Columns
from modelry.data.drift import TargetDrift, target_drift
from modelry.data.duplicates import drop_duplicates, repeated_in_training, row_keys
from modelry.data.infer import infer_schema
from modelry.data.leakage import Leak, find_leaks
from modelry.data.privacy import pseudonymise_table
from modelry.data.schema import Role, Schema, Task
from modelry.data.sources import read_table, to_columns
from modelry.data.split import Split, split_rows
from modelry.errors import ConfigError
from modelry.explain.attributions import reference_inputs
from modelry.features.feature_config import Feature, TextFeature
from modelry.features.preprocessor import Encoded, Preprocessor, default_features
from modelry.nn.modules import TabularNet
from modelry.registry.layout import NetworkSpec
from modelry.settings import Settings
from modelry.training.baseline import Baseline, fit_baseline
from modelry.training.config import Fairness, TrainConfig
from modelry.training.export import to_onnx
from modelry.training.metrics import Metrics, primary_metric
from modelry.training.metrics import evaluate as score
from modelry.training.plots import evaluation_plots
from modelry.training.private import privacy_record, train_private
from modelry.training.trainer import (
    EpochLog,
    TrainData,
    TrainResult,
    predict_output,
    seed_everything,
    train,
)

SPLITS = ("valid", "test")
"""The held-out splits every stage after the fit reports on."""


def take(columns: Columns, rows: np.ndarray) -> Columns:
    """The given rows of every column."""
    return {k: v[rows] for k, v in columns.items()}  # type: ignore[index]


# -- prepare ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Prepared:
    """The table read, pseudonymised, typed, cleaned and split: nothing fitted yet.

    Attributes:
        schema: Column types and roles; its target and task are set.
        columns: The feature columns, every row.
        y: The encoded target, every row.
        split: The rows of each split.
        report: What cleaning did.
        warnings: Cleaning and leakage warnings, for ``warnings.json`` and the card.
        frame: The cleaned table, identifiers and sensitive columns included.
        leaks: Columns that may leak the target, judged on the training rows.
        drift: The target per split, and whether it moved from training to test.
        duplicates: Exact duplicate rows: ``dropped`` before splitting (with
            ``data.deduplicate``), ``kept`` (the rows left), and the held-out rows whose
            features repeat a training row's, by split (``repeats``).
    """

    schema: Schema
    columns: Columns
    y: np.ndarray
    split: Split
    report: CleanReport
    warnings: list[str]
    frame: pd.DataFrame
    leaks: list[Leak] = field(default_factory=list)
    drift: TargetDrift | None = None
    duplicates: dict[str, Any] = field(default_factory=dict)

    @property
    def task(self) -> Task:
        """The schema's task (always set once the schema is inferred)."""
        assert self.schema.task is not None
        return self.schema.task


def prepare(config: TrainConfig, data_path: Path, settings: Settings | None = None) -> Prepared:
    """Read, infer, clean and split; everything before the first fitted parameter.

    Args:
        config: The run's configuration (``config.data`` and the seed are read).
        data_path: A CSV or Parquet file.
        settings: Supplies the pseudonymisation key (default: ``Settings()``).

    Raises:
        ConfigError: no target, no feature left, or a ``split_by`` column not in the table.
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
    if not schema.features:
        raise ConfigError(f"{data_path}: no feature columns left after dropping and inference")
    assert schema.target is not None and schema.task is not None
    notes: list[str] = []
    dropped = 0
    if d.dedup:
        frame, dropped = drop_duplicates(frame, [*schema.feature_names, schema.target])
        if dropped:
            notes.append(
                f"{dropped:,} exact duplicate rows (features and target) were dropped before "
                f"splitting; {len(frame):,} distinct rows remain"
            )
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
    leaks = find_leaks(frame, schema, rows=split.train)  # judged on the training rows only
    parts = {"train": split.train, "valid": split.valid, "test": split.test}
    drift = target_drift(schema.task, y, parts, time_order=d.time_order)
    repeats = repeated_in_training(row_keys(frame, schema.feature_names), parts)
    if sum(repeats.values()):
        held = ", ".join(f"{k} {v:,}" for k, v in repeats.items() if v)
        notes.append(
            f"held-out rows whose features repeat a training row exactly ({held}): their "
            "figures flatter the model"
            + ("" if d.dedup else "; --dedup drops exact duplicates before splitting")
        )
    duplicates = {"dropped": dropped, "kept": len(frame), "repeats": repeats}
    warnings = list(report.warnings) + notes + [leak.message for leak in leaks]
    if drift.message:
        warnings.append(drift.message)
    return Prepared(schema, columns, y, split, report, warnings, frame, leaks, drift, duplicates)


# -- preprocess ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Preprocessed:
    """The preprocessing fitted on the training rows, and every split encoded by it.

    Attributes:
        preprocessor: The fitted preprocessing.
        encoded: Every row, encoded.
        train: The training rows, as the network takes them.
        valid: The validation rows.
        test: The test rows.
        redacted: Text features whose e-mails, phones and URLs the encoder redacts.
    """

    preprocessor: Preprocessor
    encoded: Encoded
    train: TrainData
    valid: TrainData
    test: TrainData
    redacted: list[str]

    def part(self, split: str) -> TrainData:
        """``train``, ``valid`` or ``test`` by name."""
        parts = {"train": self.train, "valid": self.valid, "test": self.test}
        return parts[split]


def preprocess(
    prepared: Prepared, overrides: list[Feature], *, recency_half_life: float | None = None
) -> Preprocessed:
    """Fit the preprocessing on the training rows and encode every split.

    Args:
        prepared: The prepared table.
        overrides: Per-column feature settings (``config.features``).
        recency_half_life: Weigh the training rows by recency in file order: a row's weight
            halves for every this fraction of the training rows before the latest one.
    """
    features = default_features(prepared.schema, overrides)
    preprocessor = Preprocessor(
        features=features, missing_values=prepared.schema.missing_values
    ).fit(take(prepared.columns, prepared.split.train))
    encoded = preprocessor.transform(prepared.columns)

    def rows(part: np.ndarray) -> TrainData:
        return TrainData(dense=encoded.dense[part], codes=encoded.codes[part], y=prepared.y[part])

    split = prepared.split
    train_rows = rows(split.train)
    if recency_half_life is not None and len(split.train):
        behind = (split.train.max() - split.train) / (recency_half_life * len(split.train))
        train_rows.weight = 0.5**behind
    return Preprocessed(
        preprocessor=preprocessor,
        encoded=encoded,
        train=train_rows,
        valid=rows(split.valid),
        test=rows(split.test),
        redacted=[f.name for f in features if isinstance(f, TextFeature)],
    )


# -- fit -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Fitted:
    """The trained network beside the baseline fitted on the same rows.

    Attributes:
        net: The trained network.
        result: Its training history and early-stopping outcome.
        baseline: The baseline (a linear model) it is judged against.
        network: ``network.json`` as training leaves it (group thresholds come later).
        privacy: The differential-privacy record, or ``None`` without DP.
    """

    net: TabularNet
    result: TrainResult
    baseline: Baseline
    network: NetworkSpec
    privacy: dict[str, Any] | None

    def to_onnx(self) -> bytes:
        """The network with its head, as the served ONNX graph."""
        spec = self.network
        return to_onnx(self.net.eval(), spec.task, spec.n_dense, len(spec.embeddings))


def fit(
    prepared: Prepared,
    data: Preprocessed,
    config: TrainConfig,
    *,
    on_epoch: Callable[[EpochLog], None] | None = None,
    ray_storage: Path | None = None,
) -> Fitted:
    """Train the network (with DP-SGD when ``config.training.dp_epsilon`` is set, on Ray
    Train workers when ``config.engine.name`` is ``ray``) and the baseline.

    Args:
        prepared: The prepared table (its schema gives the task and classes).
        data: The encoded splits.
        config: The model and training settings.
        on_epoch: Called after every epoch.
        ray_storage: Where Ray Train writes its run directory (``--engine ray``): a
            directory every node can read; a temporary one when None.
    """
    task = prepared.task
    seed_everything(config.training.seed)
    n_dense, embeddings, n_outputs = network_shape(prepared, data)
    net = TabularNet(n_dense, embeddings, config.model, n_outputs)
    # The network trains on one core; the baseline fits on the other meanwhile (both
    # spend their time in native code that releases the GIL).
    with ThreadPoolExecutor(max_workers=1) as background:
        fitting = background.submit(
            _fit_baseline_alone, task, data.train, config.training.seed, n_outputs
        )
        run = _network_fit(config, ray_storage)
        result = run(net, task, data.train, data.valid, config.training, on_epoch=on_epoch)
        baseline = fitting.result()
    privacy = privacy_record(result, config.training)
    # The explanation baseline is a mean row: under DP, of rows that DP-SGD does not protect.
    reference = data.valid if privacy else data.train
    network = NetworkSpec(
        task=task,
        n_dense=n_dense,
        embeddings=embeddings,
        n_outputs=n_outputs,
        model=config.model.model_dump(mode="json"),
        threshold=0.5,
        inputs=["dense", "codes"] if data.encoded.codes.shape[1] else ["dense"],
        redacted_text=data.redacted,
        **reference_inputs(net, reference.dense, reference.codes),
    )
    return Fitted(net=net, result=result, baseline=baseline, network=network, privacy=privacy)


def network_shape(prepared: Prepared, data: Preprocessed) -> tuple[int, list[tuple[int, int]], int]:
    """What a network for this table takes and gives: dense width, ``(cardinality,
    dimension)`` per embedded column, and outputs (the classes, or 1)."""
    n_outputs = len(prepared.schema.classes or []) if prepared.task is Task.MULTICLASS else 1
    embeddings = [(card, dim) for _, card, dim in data.preprocessor.embeddings_]
    return int(data.encoded.dense.shape[1]), embeddings, n_outputs


def _network_fit(config: TrainConfig, ray_storage: Path | None) -> Callable[..., TrainResult]:
    """The loop that fits the network: local, differentially private, or on Ray Train."""
    if config.engine.name == "ray":
        # Imported here only: the embedded path never loads Ray (an import-linter contract).
        from modelry.training.ray_train import train_on_ray

        return partial(train_on_ray, engine=config.engine, storage=ray_storage)
    return train if config.training.dp_epsilon is None else train_private


def _fit_baseline_alone(task: Task, data: TrainData, seed: int, n_outputs: int) -> Baseline:
    """The baseline on one BLAS thread, so it does not crowd the network off its core."""
    from threadpoolctl import threadpool_limits

    n_classes = n_outputs if task is Task.MULTICLASS else None
    with threadpool_limits(limits=1):
        return fit_baseline(task, data, seed, n_classes=n_classes)


# -- evaluate --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Evaluated:
    """The network and its baseline, measured on the validation and test rows.

    Attributes:
        outputs: The network's served outputs by split (``valid``, ``test``).
        baseline_outputs: The baseline's outputs on the same rows.
        metrics: The network's metrics by split.
        baseline: ``{"name": ..., "valid": metrics, "test": metrics}`` of the baseline.
        primary_metric: The task's primary metric's name.
        history: Per-epoch ``train_loss``, ``valid_loss`` and ``valid_metric``.
        plots: The evaluation plots by file name (under ``plots/``).
    """

    outputs: dict[str, np.ndarray]
    baseline_outputs: dict[str, np.ndarray]
    metrics: dict[str, Metrics]
    baseline: dict[str, Any]
    primary_metric: str
    history: dict[str, list[float]]
    plots: dict[str, bytes]


def evaluate(data: Preprocessed, fitted: Fitted) -> Evaluated:
    """Score the network and the baseline on the held-out splits; draw the plots.

    Args:
        data: The encoded splits.
        fitted: The network and the baseline.
    """
    task, net, baseline = fitted.network.task, fitted.net, fitted.baseline
    parts = {name: data.part(name) for name in SPLITS}
    outputs = {k: predict_output(net, task, p.dense, p.codes) for k, p in parts.items()}
    metrics = {k: score(task, p.y, outputs[k]) for k, p in parts.items()}
    base_out = {k: baseline.predict_output(p.dense, p.codes) for k, p in parts.items()}
    base_metrics: dict[str, Any] = {
        "name": baseline.name,
        **{k: score(task, p.y, base_out[k]) for k, p in parts.items()},
    }
    metric_name, _ = primary_metric(task)
    history = fitted.result.history
    curves = {
        "train_loss": [e.train_loss for e in history],
        "valid_loss": [e.valid_loss for e in history],
        "valid_metric": [e.valid_metric for e in history],
    }
    plots = evaluation_plots(
        task,
        data.test.y,
        {"network": outputs["test"], baseline.name: base_out["test"]},
        curves,
        metric_name,
    )
    return Evaluated(outputs, base_out, metrics, base_metrics, metric_name, curves, plots)


# -- fairness --------------------------------------------------------------------------------


@dataclass(frozen=True)
class FairnessResult:
    """The test rows audited by sensitive column, and group thresholds if asked.

    Every field is ``None`` when the task is not binary or no column is sensitive.

    Attributes:
        group_thresholds: Per-group decision thresholds for ``network.json``.
        metrics: Before/after figures of the mitigation, for ``metrics.json``.
        audit: The test-split audit summary, for the model card.
    """

    group_thresholds: dict[str, dict[str, float]] | None = None
    metrics: dict[str, Any] | None = None
    audit: dict[str, Any] | None = None


def check_fairness_target(constraint: Fairness, schema: Schema) -> None:
    """Refuse a fairness constraint on a target that is not binary, before any training.

    Raises:
        ConfigError: ``constraint`` is not ``none`` and the task is not binary.
    """
    if constraint != "none" and schema.task is not Task.BINARY:
        task = schema.task.value if schema.task else None
        raise ConfigError(f"--fairness needs a binary target; {schema.target!r} is {task}")


def fairness(
    prepared: Prepared, data: Preprocessed, evaluated: Evaluated, constraint: Fairness
) -> FairnessResult:
    """Audit the network's test decisions by sensitive column; mitigate on validation if asked.

    Args:
        prepared: The prepared table (its sensitive columns).
        data: The encoded splits (their labels).
        evaluated: The network's outputs.
        constraint: ``none`` audits only; otherwise the constraint the group thresholds meet.
    """
    if prepared.task is not Task.BINARY:
        return FairnessResult()
    schema, split, outputs = prepared.schema, prepared.split, evaluated.outputs
    names = [c.name for c in schema.by_role(Role.SENSITIVE)]
    sensitive: Columns = {**to_columns(prepared.frame, names)}
    fair = training_fairness(
        constraint,
        valid=(outputs["valid"], data.valid.y, take(sensitive, split.valid)),
        test=(outputs["test"], data.test.y, take(sensitive, split.test)),
    )
    return FairnessResult(fair.group_thresholds, fair.metrics, fair.audit)
