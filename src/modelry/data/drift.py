"""How the target moves between the splits: the base-rate shift a chronological split shows.

With ``--time-order`` the test rows are the latest ones, and what they hold may differ from
what the model learnt on: bank marketing's positive rate moves from about 6 % in the earliest
70 % of rows to about 31 % in the latest 15 %. :func:`target_drift` measures the target per
split (a binary target's positive rate, each class's share, a number's mean) and says, in
one sentence, when the training and test rows differ enough to matter.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from modelry.data.schema import Task

RATE_RATIO = 1.5
"""A binary positive rate that moves by this factor or more (either way) has drifted..."""
RATE_POINTS = 0.02
"""...if it also moves by at least this many points (0.02 = 2 points)."""
CLASS_DISTANCE = 0.1
"""Total variation distance between class shares beyond which a multi-class target drifted."""
MEAN_SHIFT = 0.5
"""Shift of a numeric target's mean, in training standard deviations, beyond which it drifted."""


@dataclass(frozen=True)
class TargetDrift:
    """The target per split and whether it moved between training and test.

    Attributes:
        statistic: ``positive_rate``, ``class_shares`` or ``mean``.
        by_split: The statistic per split (``train``, ``valid``, ``test``).
        shift: The positive rate's ratio test/train, the classes' total variation
            distance, or the mean's shift in training standard deviations.
        drifted: Whether the shift is beyond the thresholds above.
        message: One sentence for a person (empty when nothing drifted).
    """

    statistic: str
    by_split: dict[str, Any]
    shift: float | None
    drifted: bool
    message: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def target_drift(
    task: Task, y: np.ndarray, splits: dict[str, np.ndarray], *, time_order: bool = False
) -> TargetDrift:
    """The target's statistic per split, and the training → test shift.

    Args:
        task: The task.
        y: The encoded target (binary 0/1, class indices, or numbers), every row.
        splits: Row positions of ``train``, ``valid`` and ``test``.
        time_order: The split is chronological (the message then speaks of time).

    Example:
        >>> y = np.array([0] * 95 + [1] * 5 + [0] * 7 + [1] * 3)
        >>> drift = target_drift(Task.BINARY, y, {"train": np.arange(100),
        ...     "valid": np.arange(0), "test": np.arange(100, 110)})
        >>> drift.drifted, drift.by_split["test"]
        (True, 0.3)
    """
    parts = {name: np.asarray(y)[rows] for name, rows in splits.items()}
    when = "over time" if time_order else "between the splits"
    if task is Task.BINARY:
        return _binary(parts, when, time_order)
    if task is Task.MULTICLASS:
        return _classes(parts, when)
    return _numbers(parts, when)


def _binary(parts: dict[str, np.ndarray], when: str, time_order: bool) -> TargetDrift:
    rates = {k: _mean(v) for k, v in parts.items()}
    a, b = rates.get("train"), rates.get("test")
    if not a or b is None:
        return TargetDrift("positive_rate", dict(rates), None, False, "")
    ratio = b / a
    drifted = abs(b - a) >= RATE_POINTS and (ratio >= RATE_RATIO or ratio <= 1 / RATE_RATIO)
    message = (
        f"the target drifts {when}: its positive rate is {a:.1%} in the training rows and "
        f"{b:.1%} in the test rows (×{ratio:.2f}); test figures may not hold for new rows, "
        "and scores are calibrated to the training rate"
        + ("; --recency-half-life weighs recent rows more" if time_order else "")
    )
    return TargetDrift("positive_rate", dict(rates), _round(ratio), drifted, _if(drifted, message))


def _classes(parts: dict[str, np.ndarray], when: str) -> TargetDrift:
    k = max((int(v.max()) for v in parts.values() if len(v)), default=-1) + 1
    shares: dict[str, list[float] | None] = {
        name: [_round(x) for x in np.bincount(v.astype(np.int64), minlength=k) / len(v)]
        if len(v)
        else None
        for name, v in parts.items()
    }
    a, b = shares.get("train"), shares.get("test")
    if a is None or b is None:
        return TargetDrift("class_shares", dict(shares), None, False, "")
    distance = 0.5 * float(np.abs(np.asarray(a) - np.asarray(b)).sum())
    drifted = distance > CLASS_DISTANCE
    message = (
        f"the target drifts {when}: the class shares of the training and test rows differ "
        f"by a total variation distance of {distance:.2f}"
    )
    return TargetDrift(
        "class_shares", dict(shares), _round(distance), drifted, _if(drifted, message)
    )


def _numbers(parts: dict[str, np.ndarray], when: str) -> TargetDrift:
    means = {k: _mean(v) for k, v in parts.items()}
    train = parts.get("train", np.empty(0))
    sd = float(np.std(train.astype(np.float64))) if len(train) > 1 else 0.0
    a, b = means.get("train"), means.get("test")
    if a is None or b is None or sd == 0:
        return TargetDrift("mean", dict(means), None, False, "")
    shift = (b - a) / sd
    drifted = abs(shift) > MEAN_SHIFT
    message = (
        f"the target drifts {when}: its mean is {a:.4g} in the training rows and {b:.4g} in "
        f"the test rows ({shift:+.2f} training standard deviations)"
    )
    return TargetDrift("mean", dict(means), _round(shift), drifted, _if(drifted, message))


def _mean(values: np.ndarray) -> float | None:
    return _round(values.astype(np.float64).mean()) if len(values) else None


def _if(drifted: bool, message: str) -> str:
    return message if drifted else ""


def _round(value: float) -> float:
    return round(float(value), 4)
