"""``tune_model``: a small hyper-parameter search on Ray Tune, then the best trial registered.

The table is prepared and preprocessed once, as :func:`modelry.pipeline.train.train_model`
does (:func:`~modelry.pipeline.train.encode`: text embedded by the registered encoder when
``data.text_encoder`` is set); each Ray Tune trial fits the network with one draw of
:data:`SPACE_TEXT` on those training rows (the local loop, early stopping included) and
reports the task's primary metric on the validation rows. The best trial's settings are then
trained again by ``train_model`` (which evaluates on the test rows, chooses, audits and
registers as always) and the search — space, every trial, the best — goes into
``metrics.json`` and the model card. The test rows never take part in the choice.

Ray is imported inside functions only (the ``ray`` extra).
"""

from __future__ import annotations

import contextlib
import math
import shutil
import sys
import uuid
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modelry.data.schema import Task
from modelry.errors import ConfigError
from modelry.nn.modules import TabularNet
from modelry.pipeline.stages import network_shape, prepare
from modelry.pipeline.train import TrainOutcome, encode, train_model
from modelry.registry.store import Registry
from modelry.settings import Settings
from modelry.training.config import EngineConfig, TrainConfig
from modelry.training.metrics import primary_metric, score
from modelry.training.ray_train import connected
from modelry.training.trainer import TrainData, predict_output, seed_everything, train

SPACE_TEXT = {
    "lr": "log-uniform 1e-4 … 3e-2",
    "width": "one of 32, 64, 128 (hidden layers [width, width/2])",
    "weight_decay": "one of 0, 1e-5, 1e-4, 1e-3",
}
"""The search space, as the card states it."""


def space() -> dict[str, Any]:
    """The Ray Tune search space of :data:`SPACE_TEXT`."""
    from ray import tune

    return {
        "lr": tune.loguniform(1e-4, 3e-2),
        "width": tune.choice([32, 64, 128]),
        "weight_decay": tune.choice([0.0, 1e-5, 1e-4, 1e-3]),
    }


def apply(config: TrainConfig, params: dict[str, Any]) -> TrainConfig:
    """``config`` with a trial's learning rate, widths and weight decay."""
    width = int(params["width"])
    model = config.model.model_copy(update={"hidden": [width, max(1, width // 2)]})
    training = config.training.model_copy(
        update={"lr": float(params["lr"]), "weight_decay": float(params["weight_decay"])}
    )
    return config.model_copy(update={"model": model, "training": training})


@dataclass(frozen=True)
class _Problem:
    """What every trial shares (put in Ray's object store once by ``tune.with_parameters``)."""

    task: Task
    shape: tuple[int, list[tuple[int, int]], int]  # stages.network_shape
    train: TrainData
    valid: TrainData
    config: TrainConfig


def _trial(params: dict[str, Any], problem: _Problem) -> None:
    """One trial: fit with ``params``, report the primary metric on the validation rows."""
    from ray import tune

    cfg = apply(problem.config, params)
    seed_everything(cfg.training.seed)
    n_dense, embeddings, n_outputs = problem.shape
    net = TabularNet(n_dense, embeddings, cfg.model, n_outputs)
    with warnings.catch_warnings():
        # The object store's arrays are read-only views; training never writes to them.
        warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
        result = train(net, problem.task, problem.train, problem.valid, cfg.training)
    valid = problem.valid
    value = score(
        problem.task, valid.y, predict_output(net, problem.task, valid.dense, valid.codes)
    )
    tune.report(
        {
            "valid_metric": math.nan if value is None else value,
            "epochs_run": result.epochs_run,
            "best_epoch": result.best_epoch,
        }
    )


def tune_model(
    config: TrainConfig,
    data_path: Path,
    settings: Settings,
    *,
    samples: int = 8,
    engine: EngineConfig | None = None,
    on_stage: Callable[[str], None] | None = None,
) -> tuple[TrainOutcome, dict[str, Any]]:
    """Search :data:`SPACE_TEXT` with ``samples`` random trials; train and register the best.

    Args:
        config: The run's configuration; the search replaces its learning rate, hidden
            widths and weight decay.
        data_path: A CSV or Parquet file.
        settings: The registry's home (Ray Tune's run directory goes under ``home/ray``).
        samples: How many trials.
        engine: ``workers`` trials at a time with ``cpus_per_worker`` CPUs each, on a local
            Ray or the cluster at ``address``.
        on_stage: Called with a short description as each stage begins.

    Returns:
        The registered version's outcome, and the search's record (also in ``metrics.json``
        and the model card).

    Raises:
        ConfigError: ``samples`` below 1, or every trial failed.
    """
    from ray import tune

    if samples < 1:
        raise ConfigError("--samples must be at least 1")
    engine = engine or EngineConfig(name="ray")
    stage = on_stage or (lambda _: None)
    stage("reading the table")
    prepared = prepare(config, data_path, settings)
    # As train_model reads it (text embedded when asked): the trials tune the network that
    # is registered.
    prepared, data, _ = encode(config, prepared, Registry(settings), stage)
    task = prepared.task
    shape = network_shape(prepared, data)
    problem = _Problem(task, shape, data.train, data.valid, config)
    metric, higher = primary_metric(task)
    mode = "max" if higher else "min"
    root = (settings.home / "ray").resolve()
    run = f"tune-{uuid.uuid4().hex[:12]}"
    stage(f"searching: {samples} trials on Ray Tune")
    import ray

    try:
        with connected(ray, engine):
            trainable = tune.with_resources(
                tune.with_parameters(_trial, problem=problem), {"cpu": engine.cpus_per_worker}
            )
            tuner = tune.Tuner(
                trainable,
                param_space=space(),
                tune_config=tune.TuneConfig(
                    metric="valid_metric",
                    mode=mode,
                    num_samples=samples,
                    # Trials draw their settings from a seeded search: the same seed, the
                    # same trials.
                    search_alg=_seeded_search(config.training.seed, engine.workers),
                ),
                run_config=tune.RunConfig(name=run, storage_path=str(root), verbose=1),
            )
            # Tune's progress tables go to stdout; stdout is for modelry's own output.
            with contextlib.redirect_stdout(sys.stderr):
                results = tuner.fit()
    finally:
        shutil.rmtree(root / run, ignore_errors=True)
    trials: list[dict[str, Any]] = [
        {
            **{k: (result.config or {}).get(k) for k in SPACE_TEXT},
            "valid": (result.metrics or {}).get("valid_metric"),
            "epochs_run": (result.metrics or {}).get("epochs_run"),
            "error": None if result.error is None else str(result.error).strip().splitlines()[-1],
        }
        for result in (results[i] for i in range(len(results)))
    ]
    done = [t for t in trials if t["valid"] is not None and math.isfinite(t["valid"])]
    if not done:
        raise ConfigError(f"every one of the {samples} trials failed: {trials[0]['error']}")
    best = (max if higher else min)(done, key=lambda t: t["valid"])
    record = {
        "method": "Ray Tune, random search",
        "samples": samples,
        "space": SPACE_TEXT,
        "metric": f"{metric} on the validation split",
        "best": {k: best[k] for k in (*SPACE_TEXT, "valid")},
        "trials": trials,
    }
    stage("training the best trial's settings")
    outcome = train_model(apply(config, best), data_path, settings, tuning=record)
    return outcome, record


def _seeded_search(seed: int, at_once: int) -> Any:
    from ray.tune.search.basic_variant import BasicVariantGenerator

    return BasicVariantGenerator(random_state=seed, max_concurrent=at_once)
