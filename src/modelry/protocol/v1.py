"""The simple JSON protocol (KServe v1 style): ``instances`` in, ``predictions`` out.

As with :mod:`modelry.protocol.v2`, the types are ``TypedDict``: free at run time,
checked by mypy, and the source of the OpenAPI components.

Example:
    >>> PredictResponse(predictions=[{"label": "yes", "score": 0.83}], model="bank", version=3)
    {'predictions': [{'label': 'yes', 'score': 0.83}], 'model': 'bank', 'version': 3}
"""

from __future__ import annotations

from typing import Any, NotRequired

from typing_extensions import TypedDict

from modelry.protocol.v2 import TensorMetadata


class PredictRequest(TypedDict):
    instances: list[dict[str, Any]]


class RecordPrediction(TypedDict):
    label: NotRequired[str]
    score: float
    probabilities: NotRequired[dict[str, float]]


class PredictResponse(TypedDict):
    """``predictions``: one record per instance, each of the model's outputs by name; a
    tabular model's records are :class:`RecordPrediction`."""

    predictions: list[dict[str, Any]]
    model: str
    version: int


class Reason(TypedDict):
    column: str
    value: str | float | int | bool | None
    effect: float
    text: str


class RowExplanation(TypedDict):
    """Why one row scored as it did; ``sum(attributions) == score - baseline_score``."""

    score: float
    baseline_score: float
    target: str | None
    attributions: dict[str, float]
    reasons: list[Reason]
    delta: float


class ExplainResponse(TypedDict):
    explanations: list[RowExplanation]
    model: str
    version: int


class ModelVersionInfo(TypedDict):
    version: int
    aliases: list[str]
    task: str
    loaded: bool


class ModelSummary(TypedDict):
    name: str
    served_version: int | None
    latest_version: int
    aliases: dict[str, int]
    loaded_versions: list[int]


class ModelList(TypedDict):
    models: list[ModelSummary]


class ModelDetail(TypedDict):
    name: str
    served_version: int | None
    aliases: dict[str, int]
    versions: list[ModelVersionInfo]
    kind: NotRequired[str]
    task: NotRequired[str]
    classes: NotRequired[list[str] | None]
    inputs: NotRequired[dict[str, str]]
    outputs: NotRequired[list[TensorMetadata]]


class AliasRequest(TypedDict):
    version: int


class AliasResponse(TypedDict):
    name: str
    alias: str
    version: int
    previous: int | None


class ErrorResponse(TypedDict):
    error: str


class TargetRequest(TypedDict):
    """Whom of ``instances`` to contact. Costs and values: one number for everyone, or a
    list with one per instance; at most one of ``budget`` (total cost) and ``capacity``
    (number of contacts)."""

    instances: list[dict[str, Any]]
    cost_per_contact: float | list[float]
    value_per_conversion: float | list[float]
    budget: NotRequired[float]
    capacity: NotRequired[int]


class TargetedCustomer(TypedDict):
    index: int
    score: float
    expected_profit: float
    contacted: bool


class TargetResponse(TypedDict):
    """The totals of the selection, and every instance by score (``index`` into the request)."""

    model: str
    version: int
    customers: int
    contacted: int
    expected_conversions: float
    cost: float
    expected_profit: float
    break_even_score: float | None
    cutoff_score: float | None
    method: str
    upper_bound: float
    ranked: list[TargetedCustomer]


class RecruitMatchRequest(TypedDict):
    """A job description to rank the candidates of ``index`` for (``top``: 10 by default)."""

    job: str
    index: str
    top: NotRequired[int]


class RecruitJob(TypedDict):
    id: str
    text: str


class RecruitJobsRequest(TypedDict):
    """Jobs (at most 100) to rank for the candidate ``candidate`` of ``index`` (``top``: 5)."""

    candidate: str
    jobs: list[RecruitJob]
    index: str
    top: NotRequired[int]


class RecruitMatch(TypedDict):
    """A candidate (or a job) and its score, with the reasons: matched and missing skills,
    the component scores and the candidate's strongest passage."""

    id: str
    score: float
    reasons: dict[str, Any]


class RecruitResponse(TypedDict):
    """Best first; ``log_entry`` is the decision-log entry that records the answer;
    ``fairness`` (where the index holds protected attributes): per attribute and group, the
    selection rate, impact ratio and position-discounted exposure of the shortlist."""

    candidate: NotRequired[str]
    index: dict[str, Any]
    encoder: dict[str, Any]
    log_entry: int
    matches: list[RecruitMatch]
    fairness: NotRequired[dict[str, Any]]


SCHEMA_TYPES: dict[str, Any] = {
    "PredictRequest": PredictRequest,
    "PredictResponse": PredictResponse,
    "RecordPrediction": RecordPrediction,
    "ExplainResponse": ExplainResponse,
    "ModelList": ModelList,
    "ModelDetail": ModelDetail,
    "AliasRequest": AliasRequest,
    "AliasResponse": AliasResponse,
    "ErrorResponse": ErrorResponse,
    "TargetRequest": TargetRequest,
    "TargetResponse": TargetResponse,
    "RecruitMatchRequest": RecruitMatchRequest,
    "RecruitJobsRequest": RecruitJobsRequest,
    "RecruitResponse": RecruitResponse,
}
"""The messages the OpenAPI document describes (see :mod:`modelry.protocol.schemas`)."""
