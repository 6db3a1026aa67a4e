"""Per-model serving settings: replicas, autoscaling, CPUs per replica and batching.

One JSON file per model, ``MODELRY_HOME/serving/NAME.json``, beside the version
directories: every node of a cluster already reads that directory (the artifacts live
there), so the settings travel with the models without a table of their own, and both
engines read the same record. A model without a file serves with the defaults.

``modelry models scale NAME --replicas N`` (or ``--min/--max``) writes it; the Ray
engine deploys each version with it; the embedded engine takes its batching from it.

Example:
    >>> cfg = ModelServing(min_replicas=1, max_replicas=4)
    >>> cfg.autoscaling
    True
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from modelry.errors import ConfigError
from modelry.registry.records import validate_name

SERVING_DIR = "serving"


class ModelServing(BaseModel):
    """How one model's versions are served.

    Attributes:
        num_replicas: Fixed replica count (ignored when autoscaling).
        min_replicas: Autoscaling floor; set with ``max_replicas`` to autoscale.
        max_replicas: Autoscaling ceiling.
        target_ongoing_requests: Requests per replica the autoscaler aims for.
        num_cpus: CPUs each replica reserves (fractional: several share a core).
        max_ongoing_requests: Requests one replica takes at once (so its batcher has
            company to batch).
        batching: Join concurrent requests into one predict call.
        batcher: Whose batcher a Ray replica runs: modelry's adaptive one or Ray
            Serve's ``@serve.batch`` (the embedded engine always runs modelry's).
        max_batch_size: Most rows per predict call.
        max_wait_ms: Longest a request waits for company (0: no timer, see
            :class:`~modelry.serving.batching.Batcher`; ``@serve.batch`` needs a timeout
            and takes 1 ms then).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    num_replicas: int = Field(default=1, ge=1)
    min_replicas: int | None = Field(default=None, ge=0)
    max_replicas: int | None = Field(default=None, ge=1)
    target_ongoing_requests: float = Field(default=2.0, gt=0)
    num_cpus: float = Field(default=0.25, gt=0)
    max_ongoing_requests: int = Field(default=64, ge=1)
    batching: bool = True
    batcher: Literal["modelry", "ray"] = "modelry"
    max_batch_size: int = Field(default=64, ge=1)
    max_wait_ms: float = Field(default=0.0, ge=0, le=1000)

    @model_validator(mode="after")
    def _check_bounds(self) -> ModelServing:
        if (self.min_replicas is None) != (self.max_replicas is None):
            raise ValueError("set min_replicas and max_replicas together (or neither)")
        if self.min_replicas is not None and self.max_replicas is not None:  # noqa: SIM102
            if self.min_replicas > self.max_replicas:  # (mypy narrows through the outer if)
                raise ValueError("min_replicas is above max_replicas")
        return self

    @property
    def autoscaling(self) -> bool:
        return self.max_replicas is not None


def serving_path(home: Path, name: str) -> Path:
    return home / SERVING_DIR / f"{validate_name(name)}.json"


def stored_names(home: Path) -> list[str]:
    """The models that have stored serving settings."""
    return sorted(path.stem for path in (home / SERVING_DIR).glob("*.json"))


def read_serving(home: Path, name: str) -> ModelServing:
    """The model's serving settings (the defaults when none were stored).

    Raises:
        ConfigError: the stored file is not valid settings.
    """
    path = serving_path(home, name)
    try:
        text = path.read_text()
    except FileNotFoundError:
        return ModelServing()
    try:
        return ModelServing.model_validate_json(text)
    except ValidationError as exc:
        raise ConfigError(f"{path}: not valid serving settings: {exc}") from exc


def write_serving(home: Path, name: str, settings: ModelServing) -> Path:
    """Store the model's serving settings (replaced whole, atomically)."""
    path = serving_path(home, name)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{name}.", suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        f.write(settings.model_dump_json(indent=2, exclude_defaults=True) + "\n")
    os.replace(temp, path)
    return path


def update_serving(home: Path, name: str, **changes: object) -> ModelServing:
    """Merge ``changes`` into the stored settings and store them.

    Setting ``num_replicas`` turns autoscaling off; setting the bounds turns it on.

    Raises:
        ConfigError: the result is not valid settings.
    """
    data = read_serving(home, name).model_dump()
    if changes.get("num_replicas") is not None:
        data["min_replicas"] = data["max_replicas"] = None
    data.update({k: v for k, v in changes.items() if v is not None})
    try:
        merged = ModelServing.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"serving settings of {name}: {exc.errors()[0]['msg']}") from exc
    write_serving(home, name, merged)
    return merged
