"""The response-model preset: ``modelry train`` for last campaign's table.

``modelry marketing train DATA.csv --target y`` trains through the ordinary pipeline
(:func:`modelry.pipeline.train_model`) with two things a campaign needs:

* **calibrated probabilities** (``--calibration``, default ``temperature``: chosen by
  measurement on bank marketing, see ``bench/history.md``, 2026-12-04):
  expected profit is ``P(conversion) × value − cost``, so the probabilities themselves,
  not only their order, decide whom targeting contacts;
* **call-outcome columns flagged** before training (:func:`call_outcome_columns`): a
  column recorded during or after the call (bank marketing's ``duration``: a call that
  lasted ten minutes was a sale) makes the model look excellent in evaluation and is
  unknown for the customers a campaign is planned for. Such columns are flagged by name
  (:data:`CALL_OUTCOME_NAMES`) whatever their score, and by score: a column that alone
  predicts the response with ROC-AUC :data:`CALL_OUTCOME_SCORE` or more. Each flag carries
  the column's one-column score (:func:`modelry.data.leakage.column_scores`, judged on the
  training split) and the advice to drop it; nothing is dropped without being asked.

Why 0.80: on bank marketing ``duration`` alone scores 0.82; the best attributes known
before a call (the economic indicators ``euribor3m``, ``cons.price.idx``,
``nr.employed``) score 0.76–0.78. A single customer attribute that predicts the response
that well is rare in campaign data, so a column above it is worth a look; the margin on
bank is narrow, which is why the names are checked too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modelry.data.leakage import column_scores
from modelry.pipeline.calibration import check_calibration_target
from modelry.pipeline.stages import prepare
from modelry.settings import Settings
from modelry.training.config import TrainConfig

CALL_OUTCOME_NAMES = frozenset(
    {
        "duration",
        "call_duration",
        "call_length",
        "call_time",
        "talk_time",
        "outcome",
        "call_outcome",
        "call_result",
        "result",
    }
)
"""Column names (lower case, separators as ``_``) that campaign tables use for what the
call itself recorded. ``poutcome`` (the previous campaign's outcome) is known beforehand."""

CALL_OUTCOME_SCORE = 0.80


def _normalised(name: str) -> str:
    return re.sub(r"[^0-9a-z]+", "_", name.lower()).strip("_")


@dataclass(frozen=True)
class CallOutcome:
    """A column that may have been recorded during or after the call.

    Attributes:
        column: The column's name.
        metric: What ``score`` measures (``ROC-AUC`` for a binary response).
        score: How well the column alone predicts the response, on the training split.
        by: ``"name"`` (a known call-outcome name) or ``"score"`` (at least
            :data:`CALL_OUTCOME_SCORE`).
    """

    column: str
    metric: str
    score: float | None
    by: str

    @property
    def advice(self) -> str:
        return f"--drop {self.column}"

    @property
    def message(self) -> str:
        """One line for the terminal."""
        figure = "" if self.score is None else " alone predicts the response with "
        figure += "" if self.score is None else f"{self.metric} {self.score:.3f}"
        why = (
            "its name is a call-outcome name"
            if self.by == "name"
            else f"a customer attribute known before a call rarely scores {CALL_OUTCOME_SCORE:.2f}"
        )
        return (
            f"possible call-outcome column: {self.column}{figure} ({why}); it is not known "
            f"before the call: drop it ({self.advice}) unless it is"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "column": self.column,
            "metric": self.metric,
            "score": self.score,
            "by": self.by,
            "advice": self.advice,
            "message": self.message,
        }


def call_outcome_columns(
    config: TrainConfig, data: Path, settings: Settings | None = None
) -> list[CallOutcome]:
    """The feature columns of ``data`` that look recorded by the call, judged on the
    training split the run will use (same seed, same split).

    Raises:
        ConfigError: a calibration asked of a target that is not binary.
        ConfigError, DataError, SourceError: as :func:`modelry.pipeline.stages.prepare`.
    """
    prepared = prepare(config, data, settings)
    check_calibration_target(config.calibration, prepared.schema)  # before any warning
    scores = column_scores(prepared.frame, prepared.schema, rows=prepared.split.train)
    found = []
    for column in prepared.schema.feature_names:
        metric, score = scores.get(column, ("ROC-AUC", None))
        if _normalised(column) in CALL_OUTCOME_NAMES:
            found.append(CallOutcome(column, metric, score, "name"))
        elif score is not None and score >= CALL_OUTCOME_SCORE:
            found.append(CallOutcome(column, metric, score, "score"))
    return found
