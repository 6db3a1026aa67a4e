"""The stage that decides what a version serves: the network, or its baseline.

:func:`choose` compares the trained network with the linear baseline fitted beside it,
by the rule of :mod:`modelry.training.selection`, on the validation rows, or, when the
training split is small (under :data:`~modelry.training.selection.SMALL_TRAIN_ROWS`
rows), on out-of-fold predictions over the training and validation rows: each of
:data:`~modelry.training.selection.FOLDS` folds trains a network (for the epochs early
stopping chose on the validation split, with the same settings) and a baseline on the
other folds. The preprocessing stays the one fitted on the training split.

When the baseline wins, it becomes the served model: as an exact network without hidden
layers (``LinearBaseline.as_network``), of the ``linear`` kind, explained and audited like
any network. Under differential privacy the network is always served: the baseline is
not trained privately.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from sklearn.model_selection import KFold, StratifiedKFold

from modelry.data.schema import Task
from modelry.errors import ConfigError
from modelry.explain.attributions import reference_inputs
from modelry.nn.modules import TabularNet
from modelry.pipeline.stages import Evaluated, Fitted, Prepared, Preprocessed
from modelry.registry.layout import LINEAR_KIND, TABULAR_KIND
from modelry.training.baseline import LINEAR_MODEL, LinearBaseline, fit_baseline
from modelry.training.config import TrainConfig
from modelry.training.metrics import Metrics
from modelry.training.selection import FOLDS, SMALL_TRAIN_ROWS, Selection, select_model
from modelry.training.trainer import TrainData, predict_output, seed_everything, train


@dataclass(frozen=True)
class Chosen:
    """What the version serves, and the comparison that chose it.

    Attributes:
        selection: The comparison and its outcome (``selection.served``).
        kind: The version's kind: ``tabular`` (the network) or ``linear`` (the baseline).
        fitted: The served model as a network (the trained one, or the baseline's).
        evaluated: The served model's outputs and metrics (``baseline`` unchanged).
        network: The network's metrics by split, whichever model is served.
    """

    selection: Selection
    kind: str
    fitted: Fitted
    evaluated: Evaluated
    network: dict[str, Metrics]


def choose(
    prepared: Prepared,
    data: Preprocessed,
    fitted: Fitted,
    evaluated: Evaluated,
    config: TrainConfig,
) -> Chosen:
    """Compare the network with its baseline and make the winner the served model.

    Raises:
        ConfigError: ``serve: baseline`` together with differential privacy.
    """
    task, private = prepared.task, fitted.privacy is not None
    if private and config.serve == "baseline":
        raise ConfigError(
            "--model baseline cannot be combined with --dp-epsilon: the baseline is not "
            "trained with differential privacy",
            field="serve",
        )
    name = fitted.baseline.name.replace("_", " ")
    if len(data.train) < SMALL_TRAIN_ROWS and not private:
        y, net_out, base_out = _out_of_fold(prepared, data, fitted, config)
        method = f"{FOLDS}-fold"
    else:
        y, method = data.valid.y, "validation"
        net_out, base_out = evaluated.outputs["valid"], evaluated.baseline_outputs["valid"]
    selection = select_model(
        task,
        y,
        net_out,
        base_out,
        method=method,
        choice=config.serve,
        baseline_name=name,
        seed=config.training.seed,
    )
    if private and selection.served == "baseline":
        selection = replace(
            selection,
            served="network",
            reason=f"serving the network: trained with differential privacy, unlike the "
            f"{name}, which scores better ({selection.reason})",
        )
    if selection.served == "network":
        return Chosen(selection, TABULAR_KIND, fitted, evaluated, evaluated.metrics)
    baseline = fitted.baseline
    assert isinstance(baseline, LinearBaseline)
    cards = [card for card, _ in fitted.network.embeddings]
    net = baseline.as_network(cards)
    width = net.n_outputs
    network = fitted.network.model_copy(
        update={
            "embeddings": [(card, width) for card in cards],
            "n_outputs": width,
            "model": LINEAR_MODEL,
            **reference_inputs(net, data.train.dense, data.train.codes),
        }
    )
    served = replace(evaluated, outputs=evaluated.baseline_outputs, metrics=_baseline(evaluated))
    return Chosen(
        selection, LINEAR_KIND, replace(fitted, net=net, network=network), served, evaluated.metrics
    )


def _baseline(evaluated: Evaluated) -> dict[str, Metrics]:
    return {split: evaluated.baseline[split] for split in evaluated.metrics}


def _out_of_fold(
    prepared: Prepared, data: Preprocessed, fitted: Fitted, config: TrainConfig
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Targets, network and baseline outputs over training + validation rows, out of fold."""
    task, seed = prepared.task, config.training.seed
    rows = TrainData(
        dense=np.concatenate([data.train.dense, data.valid.dense]),
        codes=np.concatenate([data.train.codes, data.valid.codes]),
        y=np.concatenate([data.train.y, data.valid.y]),
    )
    n_outputs = fitted.network.n_outputs
    n_classes = n_outputs if task is Task.MULTICLASS else None
    shape = (len(rows), n_outputs) if task is Task.MULTICLASS else (len(rows),)
    net_out, base_out = np.zeros(shape), np.zeros(shape)
    settings = config.training.model_copy(
        update={"epochs": max(1, fitted.result.best_epoch), "early_stopping": False}
    )
    for fit_rows, held_out in _folds(task, rows.y, seed):
        part, out = _rows(rows, fit_rows), _rows(rows, held_out)
        seed_everything(seed)
        net = TabularNet(fitted.network.n_dense, fitted.network.embeddings, config.model, n_outputs)
        train(net, task, part, out, settings)
        net_out[held_out] = predict_output(net, task, out.dense, out.codes)
        baseline = fit_baseline(task, part, seed, n_classes=n_classes)
        base_out[held_out] = baseline.predict_output(out.dense, out.codes)
    return rows.y, net_out, base_out


def _folds(task: Task, y: np.ndarray, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Stratified folds for a classifier whose classes allow them, plain ones otherwise."""
    if task is not Task.REGRESSION:
        counts = np.bincount(np.asarray(y).astype(np.int64))
        if counts[counts > 0].min() >= FOLDS:
            stratified = StratifiedKFold(FOLDS, shuffle=True, random_state=seed)
            return list(stratified.split(np.zeros(len(y)), y))
    return list(KFold(FOLDS, shuffle=True, random_state=seed).split(np.zeros(len(y))))


def _rows(data: TrainData, rows: np.ndarray) -> TrainData:
    return TrainData(dense=data.dense[rows], codes=data.codes[rows], y=data.y[rows])
