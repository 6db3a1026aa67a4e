"""The stage that calibrates the served probabilities on the validation split.

:func:`calibrate` → :class:`Calibrated`: after :func:`~modelry.pipeline.choice.choose` has
decided what the version serves, a map from its P(positive) to a calibrated probability
is fitted on the validation rows (:mod:`modelry.training.calibration`: temperature or
isotonic), stored in ``network.json`` (:class:`~modelry.registry.layout.Calibration`) and
applied by the runtime, so everything after this stage (fairness thresholds, the served
outputs checked at registration, the metrics) sees the calibrated probabilities. The
report compares the expected calibration error and the Brier score before and after on
both held-out splits; the test split is only measured, never fitted on.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from modelry.data.schema import Schema, Task
from modelry.errors import ConfigError
from modelry.pipeline.stages import SPLITS, Evaluated, Fitted, Preprocessed
from modelry.registry.layout import Calibration
from modelry.training.calibration import (
    ECE_BINS,
    brier,
    ece,
    fit_isotonic,
    fit_temperature,
    reliability_png,
)
from modelry.training.metrics import evaluate as score

CALIBRATION_PLOT = "reliability.png"
"""The reliability chart's file name under ``plots/``."""


@dataclass(frozen=True)
class Calibrated:
    """The served model with its calibration, and what the calibration changed.

    Attributes:
        fitted: The served model, ``network.calibration`` set.
        evaluated: Its outputs and metrics on the held-out splits, calibrated.
        report: ``method``, the fitted parameter, and per split ``ece``/``brier``
            ``before``/``after`` (also in ``metrics.json`` and the model card).
    """

    fitted: Fitted
    evaluated: Evaluated
    report: dict[str, Any]


def check_calibration_target(method: str, schema: Schema) -> None:
    """Refuse a calibration of a target that is not binary, before any training.

    Raises:
        ConfigError: ``method`` is not ``none`` and the task is not binary.
    """
    if method != "none" and schema.task is not Task.BINARY:
        task = schema.task.value if schema.task else None
        raise ConfigError(f"--calibration needs a binary target; {schema.target!r} is {task}")


def calibrate(data: Preprocessed, fitted: Fitted, evaluated: Evaluated, method: str) -> Calibrated:
    """Fit ``method`` on the validation split's served probabilities and apply it.

    Args:
        data: The encoded splits (their labels).
        fitted: The served model (what :func:`~modelry.pipeline.choice.choose` returned).
        evaluated: Its outputs on the held-out splits, uncalibrated.
        method: ``temperature`` or ``isotonic``.

    Raises:
        ConfigError: the task is not binary, or the validation split lacks a class.
    """
    if fitted.network.task is not Task.BINARY:
        raise ConfigError(
            f"calibration needs a binary target; this one is {fitted.network.task.value}"
        )
    y_valid = data.valid.y
    if len(np.unique(y_valid)) < 2:
        raise ConfigError("calibration needs both classes in the validation split")
    p_valid = evaluated.outputs["valid"]
    if method == "temperature":
        temperature = fit_temperature(p_valid, y_valid)
        calibration = Calibration(method="temperature", temperature=temperature)
        parameter: dict[str, Any] = {"temperature": round(calibration.temperature, 6)}
    elif method == "isotonic":
        knots_x, knots_y = fit_isotonic(p_valid, y_valid)
        calibration = Calibration(method="isotonic", x=knots_x, y=knots_y)
        parameter = {"knots": len(knots_x)}
    else:
        raise ConfigError(f"unknown calibration {method!r}: temperature, isotonic or none")
    task = fitted.network.task
    outputs = {k: calibration.apply(v) for k, v in evaluated.outputs.items()}
    metrics = {k: score(task, data.part(k).y, outputs[k]) for k in SPLITS}
    report: dict[str, Any] = {"method": method, **parameter, "bins": ECE_BINS}
    for split in SPLITS:
        y = data.part(split).y
        before, after = evaluated.outputs[split], outputs[split]
        report[split] = {
            "ece": {"before": ece(y, before), "after": ece(y, after)},
            "brier": {"before": brier(y, before), "after": brier(y, after)},
        }
    plots = dict(evaluated.plots)
    if len(np.unique(data.test.y)) == 2:
        curves = {"before": evaluated.outputs["test"], f"after ({method})": outputs["test"]}
        plots[CALIBRATION_PLOT] = reliability_png(data.test.y, curves)
    network = fitted.network.model_copy(update={"calibration": calibration})
    return Calibrated(
        fitted=replace(fitted, network=network),
        evaluated=replace(evaluated, outputs=outputs, metrics=metrics, plots=plots),
        report=report,
    )
