"""The training config: one pydantic model, the schema of ``train.yaml``.

CLI flags override the YAML file, which overrides these defaults;
``modelry train --print-config`` prints the resolved result so a run can be repeated.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from modelry.data.schema import ColumnType, Task
from modelry.errors import ConfigError
from modelry.features.feature_config import Feature

Activation = Literal["relu", "gelu", "tanh", "silu", "leaky_relu"]
LossName = Literal["auto", "mse", "huber", "bce", "cross_entropy"]
OptimizerName = Literal["gd", "sgd", "momentum", "nesterov", "adam", "adamw"]
Schedule = Literal["none", "step", "cosine", "plateau"]
Balance = Literal["none", "weights", "oversample"]
MonitorName = Literal["auto", "metric", "loss"]
Fairness = Literal["none", "demographic_parity", "equalized_odds"]
CalibrationName = Literal["none", "temperature", "isotonic"]
EngineName = Literal["local", "ray"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DataConfig(_Strict):
    """Which columns play which role, how missing values look, how rows are split."""

    target: str | None = None
    task: Task | None = Field(default=None, description="Inferred from the target if not set.")
    positive: str | None = Field(default=None, description="Positive class of a binary target.")
    drop: list[str] = Field(default_factory=list)
    sensitive: list[str] = Field(default_factory=list)
    identifiers: list[str] = Field(default_factory=list)
    pseudonymise: list[str] = Field(
        default_factory=list,
        description="Columns replaced by keyed HMAC pseudonyms (MODELRY_PSEUDONYMISE_KEY) "
        "before anything else reads them: identifiers for joins and group splits, never "
        "features.",
    )
    types: dict[str, ColumnType] = Field(default_factory=dict, description="Type overrides.")
    missing_values: list[str] = Field(default_factory=list, description="e.g. ['unknown']")
    drop_missing_rows: bool = False
    valid_fraction: float = Field(default=0.15, gt=0, lt=0.5)
    test_fraction: float = Field(default=0.15, gt=0, lt=0.5)
    time_order: bool = Field(default=False, description="Hold out the last rows, in file order.")
    split_by: str | None = Field(default=None, description="Keep each value's rows in one split.")
    strict_leaks: bool = Field(
        default=False,
        description="Refuse to train when a column may leak the target (see modelry.data.leakage).",
    )
    fairness: Fairness = Field(
        default="none",
        description="Group thresholds on the first sensitive column, fitted on the validation "
        "split; applied when a request carries that column (see modelry.audit.mitigation).",
    )
    text_encoder: str | None = Field(
        default=None,
        description="A registered text-encoder model (e.g. 'text-encoder'): text feature columns "
        "are embedded by it at training, and by the served encoder at every prediction.",
    )
    text_columns: list[str] = Field(
        default_factory=list,
        description="The columns the text encoder embeds (default: the text feature columns).",
    )
    deduplicate: bool | None = Field(
        default=None,
        description="Drop exact duplicate rows (features and target) before splitting, so that "
        "no row is both trained on and held out. None (auto): on with a text encoder.",
    )

    @model_validator(mode="after")
    def _fairness_needs_sensitive(self) -> DataConfig:
        if self.fairness != "none" and not self.sensitive:
            raise ValueError(f"fairness {self.fairness!r} needs a sensitive column (--sensitive)")
        if self.text_columns and not self.text_encoder:
            raise ValueError("text_columns needs a text encoder (--text-encoder NAME)")
        return self

    @property
    def dedup(self) -> bool:
        """Whether exact duplicate rows are dropped before splitting."""
        return self.deduplicate if self.deduplicate is not None else bool(self.text_encoder)


class ModelConfig(_Strict):
    """The network."""

    hidden: list[int] = Field(default_factory=lambda: [64, 32])
    activation: Activation = "relu"
    dropout: float = Field(default=0.1, ge=0, lt=1)
    batch_norm: bool = False

    @field_validator("hidden")
    @classmethod
    def _positive_widths(cls, v: list[int]) -> list[int]:
        if any(w < 1 for w in v):
            raise ValueError("hidden layer widths must be positive")
        return v


class OptimConfig(_Strict):
    """Loss, optimiser, regularisation and the loop."""

    loss: LossName = "auto"
    optimizer: OptimizerName = "adam"
    lr: float = Field(default=1e-3, gt=0)
    momentum: float = Field(default=0.9, ge=0, lt=1)
    weight_decay: float = Field(default=0.0, ge=0)
    schedule: Schedule = "none"
    clip_norm: float | None = Field(default=None, gt=0)
    l1: float = Field(default=0.0, ge=0, description="Penalty l1·Σ|w| added to the loss.")
    l2: float = Field(default=0.0, ge=0, description="Penalty l2·Σw² added to the loss.")
    epochs: int = Field(default=40, ge=1)
    batch_size: int | None = Field(
        default=None,
        ge=1,
        description="Rows per step; None (auto): about 32 steps per epoch, within 32..256.",
    )

    def batch_for(self, n_rows: int) -> int:
        """The batch size used on ``n_rows`` training rows (all of them for ``gd``)."""
        if self.optimizer == "gd":
            return n_rows
        size = self.batch_size or max(32, min(256, n_rows // 32))
        return min(size, n_rows)

    early_stopping: bool = True
    patience: int = Field(default=5, ge=1)
    monitor: MonitorName = Field(
        default="auto",
        description="What early stopping watches: the task's primary metric ('metric'), the "
        "validation loss ('loss'), or 'auto': the loss when the validation split has fewer "
        "than 1,000 rows (a metric such as ROC-AUC on a few dozen rows is too noisy to pick "
        "an epoch by), the metric otherwise.",
    )
    balance: Balance = "none"
    noise: float = Field(default=0.0, ge=0, description="Std of Gaussian noise on inputs.")
    recency_half_life: float | None = Field(
        default=None,
        gt=0,
        description="Weigh training rows by recency, in file order: a row's weight halves for "
        "every this fraction of the training rows between it and the latest (e.g. 0.25); for "
        "data that drifts over time (with data.time_order).",
    )
    seed: int = 0
    dp_epsilon: float | None = Field(
        default=None,
        gt=0,
        description="Train with DP-SGD (Opacus, the 'privacy' extra) to this privacy budget ε "
        "over the planned epochs; the ε actually spent goes into metrics.json and the card.",
    )
    dp_delta: float | None = Field(
        default=None,
        gt=0,
        lt=1,
        description="The δ of (ε, δ)-DP; default min(1e-5, 1/n_train²), well below 1/n_train.",
    )
    dp_max_grad_norm: float = Field(
        default=1.0, gt=0, description="DP-SGD: each row's gradient is clipped to this norm."
    )


class EngineConfig(_Strict):
    """Where the network's fit runs: in this process, or data-parallel on Ray Train."""

    name: EngineName = Field(
        default="local",
        description="'local': this process; 'ray': data-parallel on Ray Train (DDP on CPU, "
        "gloo; the ray extra), every other stage in this process.",
    )
    workers: int = Field(default=2, ge=1, description="Ray Train workers (DDP ranks).")
    cpus_per_worker: float = Field(default=1.0, gt=0, description="CPUs each worker reserves.")
    address: str | None = Field(
        default=None,
        description="Ray cluster to join ('auto', 'ray://HOST:10001'); None starts a local "
        "Ray with workers × cpus_per_worker CPUs. On a cluster MODELRY_HOME must be a "
        "directory every node mounts at the same path, the registry PostgreSQL.",
    )

    @model_validator(mode="after")
    def _ray_options_need_ray(self) -> EngineConfig:
        if self.name == "local" and self.address is not None:
            raise ConfigError("--address needs --engine ray", field="engine.address")
        return self


class TrainConfig(_Strict):
    """Everything that defines a training run."""

    name: str | None = None
    data: DataConfig = Field(default_factory=DataConfig)
    features: list[Feature] = Field(default_factory=list, description="Per-column overrides.")
    model: ModelConfig = Field(default_factory=ModelConfig)
    training: OptimConfig = Field(default_factory=OptimConfig)
    engine: EngineConfig = Field(default_factory=EngineConfig)
    serve: Literal["auto", "network", "baseline"] = Field(
        default="auto",
        description="What the version serves: 'auto' serves the baseline when it beats the "
        "network beyond noise (see modelry.training.selection), else the network.",
    )
    calibration: CalibrationName = Field(
        default="none",
        description="Calibrate the served P(positive) of a binary model on the validation "
        "split: 'temperature' (one parameter on the logit) or 'isotonic' (a monotone step "
        "map); see modelry.training.calibration. 'modelry marketing train' sets it.",
    )

    @model_validator(mode="after")
    def _private_training_fits(self) -> TrainConfig:
        # ConfigError, not ValueError: pydantic lets it through, so the CLI prints this line.
        if self.training.dp_epsilon is not None:
            if self.model.batch_norm:
                raise ConfigError(
                    "--batch-norm cannot be combined with --dp-epsilon (batch statistics mix "
                    "rows, which per-row gradient clipping cannot bound)",
                    field="model.batch_norm",
                )
            if self.training.balance == "oversample":
                raise ConfigError(
                    "--balance oversample cannot be combined with --dp-epsilon (DP-SGD needs "
                    "uniform Poisson sampling); use --balance weights",
                    field="training.balance",
                )
            if self.engine.name == "ray":
                raise ConfigError(
                    "--dp-epsilon cannot be combined with --engine ray (DP-SGD's accounting "
                    "is per process; train it locally)",
                    field="engine.name",
                )
        return self

    @classmethod
    def from_yaml(cls, path: Path) -> TrainConfig:
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"cannot read config {path}: {exc}", file=str(path)) from exc
        return cls.from_dict(raw, source=str(path))

    @classmethod
    def from_dict(cls, raw: dict[str, Any], source: str = "config") -> TrainConfig:
        try:
            return cls.model_validate(raw)
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"])
            raise ConfigError(
                f"{source}: {where}: {err['msg']} (got {err.get('input')!r})", field=where
            ) from exc

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False)
