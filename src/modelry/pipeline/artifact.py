"""The last stages of a training run: the version's files in memory, then in the registry.

:func:`bundle` → :class:`Bundle` (every file of a tabular version, its lineage and the
figures the registry index keeps); :func:`register` writes a bundle into a staging
directory, lets the caller check it as it will be served, and only then gives it a
version. File names come from :mod:`modelry.registry.layout`.
"""

from __future__ import annotations

import getpass
import json
import platform
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

import modelry
from modelry.data.sources import fingerprint
from modelry.explain.importance import importance_files
from modelry.pipeline.choice import Chosen
from modelry.pipeline.encoding import TextEncoding
from modelry.pipeline.stages import Evaluated, FairnessResult, Fitted, Prepared, Preprocessed, take
from modelry.registry.artifact import ArtifactWriter
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
)
from modelry.registry.records import ModelVersion
from modelry.registry.store import Registry
from modelry.training.config import TrainConfig
from modelry.training.export import to_safetensors


@dataclass(frozen=True)
class Bundle:
    """A model version's files in memory, ready to be written and registered.

    Attributes:
        name: The registry name.
        task: The task's value, as the manifest and the index record it.
        kind: The kind the manifest names.
        documents: JSON files by their path in the version directory.
        blobs: The other files (ONNX, weights, Markdown, plots) by path.
        metrics: What the registry index keeps: ``valid``, ``test`` and ``baseline``.
        lineage: Where the version came from (also ``lineage.json``).
        manifest: Extra manifest entries (``upstream``: columns another served model
            computes first, and ``text_encoder``: the encoder that embedded them).
    """

    name: str
    task: str
    kind: str
    documents: Mapping[str, Any]
    blobs: Mapping[str, bytes]
    metrics: Mapping[str, Any]
    lineage: Mapping[str, Any]
    manifest: Mapping[str, Any] = field(default_factory=dict)

    def write(self, writer: ArtifactWriter) -> Path:
        """Write every file into ``writer`` and seal it with the manifest; the staged path."""
        for relpath, document in self.documents.items():
            writer.write_json(relpath, document)
        for relpath, data in self.blobs.items():
            writer.write_bytes(relpath, data)
        meta = {"name": self.name, "task": self.task, "kind": self.kind, **self.manifest}
        return writer.finish(meta)


def bundle(
    prepared: Prepared,
    data: Preprocessed,
    fitted: Fitted,
    evaluated: Evaluated,
    fair: FairnessResult,
    *,
    config: TrainConfig,
    data_path: Path,
    onnx: bytes,
    train_seconds: float,
    chosen: Chosen | None = None,
    calibration: Mapping[str, Any] | None = None,
    tuning: dict[str, Any] | None = None,
    encoding: TextEncoding | None = None,
) -> Bundle:
    """Every file of a tabular network's version: the model, its specs, figures and card.

    Args:
        prepared: The prepared table.
        data: The fitted preprocessing and the encoded splits.
        fitted: The network and its baseline.
        evaluated: Their figures on the held-out splits.
        fair: The fairness audit (group thresholds go into ``network.json``).
        config: The run's configuration (``config.name`` is the registry name).
        data_path: The table trained on, fingerprinted for the lineage.
        onnx: The served graph (:meth:`Fitted.to_onnx`).
        train_seconds: Wall time from the start of the run to the exported graph.
        chosen: What the version serves and why (``None``: the network, uncompared).
        calibration: The calibration stage's report (``None``: not calibrated).
        tuning: The hyper-parameter search that chose the settings (``modelry tune``).
        encoding: The text encoder that embedded columns, if any: the served version takes
            them from the served encoder (``upstream`` in the manifest).
    """
    schema, split, task = prepared.schema, prepared.split, prepared.task
    name = config.name or default_name(data_path)
    explained = importance_files(
        onnx, data.preprocessor, task, take(prepared.columns, split.test), data.test.y
    )
    network = fitted.network
    if fair.group_thresholds:
        network = network.model_copy(update={"group_thresholds": fair.group_thresholds})
    result = fitted.result
    network_metrics = chosen.network if chosen else evaluated.metrics
    selection = chosen.selection.to_dict() if chosen else None
    metrics_doc: dict[str, Any] = {
        "task": task.value,
        "primary_metric": evaluated.primary_metric,
        "served": selection["served"] if selection else "network",
        "selection": selection,
        "served_metrics": evaluated.metrics,
        "network": network_metrics,
        "baseline": evaluated.baseline,
        "history": evaluated.history,
        "best_epoch": result.best_epoch,
        "epochs_run": result.epochs_run,
        "stopped_early": result.stopped_early,
        "train_seconds": round(train_seconds, 3),
        "rows": split.sizes,
        "target_drift": prepared.drift.to_dict() if prepared.drift else None,
        "cleaning": prepared.report.model_dump(mode="json"),
    }
    if result.engine != "local":
        metrics_doc["engine"] = {"name": result.engine, "workers": result.workers}
    if tuning:
        metrics_doc["tuning"] = tuning
    if encoding:
        metrics_doc["text_encoder"] = encoding.to_dict()
    if prepared.duplicates:
        metrics_doc["duplicates"] = prepared.duplicates
    if fitted.privacy:
        metrics_doc["privacy"] = fitted.privacy
    if fair.metrics:
        metrics_doc["fairness"] = fair.metrics
    if calibration:
        metrics_doc["calibration"] = dict(calibration)
    lineage = {
        "data": fingerprint(data_path),
        "config": config.model_dump(mode="json"),
        "versions": _library_versions(),
        "created_by": getpass.getuser(),
        "platform": platform.platform(),
    }
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
            "target_drift": metrics_doc["target_drift"],
            "schema": schema.model_dump(mode="json"),
            "primary_metric": evaluated.primary_metric,
            "metrics": network_metrics,
            "baseline": evaluated.baseline,
            "selection": selection,
            "importance": json.loads(explained.get("importance.json", b"null")),
            "fairness": fair.audit,
            "mitigation": fair.metrics,
            "warnings": prepared.warnings,
            "time_order": config.data.time_order,
            "differential_privacy": fitted.privacy,
            "calibration": metrics_doc.get("calibration"),
            "tuning": tuning,
            "text_encoder": encoding.to_dict() if encoding else None,
            "duplicates": prepared.duplicates,
        }
    )
    documents = {
        NETWORK_FILE: network.to_json(),
        PREPROCESSOR_FILE: data.preprocessor.to_dict(),
        SCHEMA_FILE: schema.model_dump(mode="json"),
        CONFIG_FILE: config.model_dump(mode="json"),
        METRICS_FILE: metrics_doc,
        LINEAGE_FILE: lineage,
        WARNINGS_FILE: prepared.warnings,
        CARD_JSON_FILE: card_doc,
    }
    blobs = {
        MODEL_FILE: onnx,
        WEIGHTS_FILE: to_safetensors(fitted.net),
        CARD_FILE: card_md.encode("utf-8"),
        **{f"{PLOTS_DIR}/{file_name}": png for file_name, png in evaluated.plots.items()},
        **explained,
    }
    return Bundle(
        name=name,
        task=task.value,
        kind=chosen.kind if chosen else TABULAR_KIND,
        documents=documents,
        blobs=blobs,
        metrics={
            "served": metrics_doc["served"],
            "test": evaluated.metrics["test"],
            "valid": evaluated.metrics["valid"],
            "network": network_metrics,
            "baseline": evaluated.baseline,
        },
        lineage=lineage,
        manifest=(
            {"upstream": encoding.upstream(), "text_encoder": encoding.to_dict()}
            if encoding
            else {}
        ),
    )


def default_name(path: Path) -> str:
    """A registry name from a file name: ``bank-additional-full.csv`` → ``bank-additional-full``."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", path.stem).strip("-._") or "model"
    return stem[:64]


def register(
    registry: Registry, made: Bundle, *, verify: Callable[[Path], None] | None = None
) -> ModelVersion:
    """Write ``made`` into a staging directory, check it, and give it the next version.

    Nothing reaches the registry when writing or ``verify`` raises: the staging directory
    is removed.

    Args:
        registry: Where the version goes.
        made: The version's files.
        verify: Called with the sealed staging directory before it is registered,
            e.g. to check that it serves what was trained.
    """
    with registry.new_artifact() as writer:
        staged = made.write(writer)
        if verify is not None:
            verify(staged)
        return registry.register(
            made.name,
            staged,
            task=made.task,
            metrics=dict(made.metrics),
            lineage=dict(made.lineage),
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
