"""One model version as a Ray Serve deployment: its replicas load the runtime and predict.

Every served version is an application of its own on the cluster, named
``NAME-vVERSION`` (:func:`app_name`) with one deployment, :class:`ModelReplica`, reached by
handle only (no HTTP route): the ingress calls :meth:`ModelReplica.predict` with the
request's columns, already validated. Each replica opens the version through its kind
(:func:`~modelry.serving.kinds.open_runtime`, from the version directory every node
reads) and batches the calls it receives concurrently, with modelry's adaptive
:class:`~modelry.serving.batching.Batcher` or Ray Serve's ``@serve.batch``, as the
model's serving settings say.

A client mistake (a :class:`~modelry.errors.ModelryError`) travels back as a value
(:class:`Failure`), not as a Ray task error, so the ingress raises the very error the
embedded engine would, with its status and details.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ray import serve

from modelry.errors import ModelryError
from modelry.protocol.predictions import Outputs, TensorSpec
from modelry.registry.serving_config import ModelServing
from modelry.serving.batching import (
    Batcher,
    BatchPolicy,
    concat_columns,
    model_policy,
    slice_outputs,
)
from modelry.serving.kinds import open_runtime
from modelry.serving.runtime import Runtime, Upstream

MODEL_DEPLOYMENT = "model"
QUIET = {"log_level": "WARNING", "enable_access_log": False}
"""Serve's logging for modelry's applications: no line per request (the ingress counts
requests in ``/metrics``), warnings and errors kept."""


def app_name(name: str, version: int) -> str:
    """The Ray Serve application of one model version."""
    return f"{name}-v{version}"


@dataclass(frozen=True)
class Failure:
    """A ModelryError raised by the replica, returned as a value."""

    error: ModelryError


@dataclass(frozen=True)
class Declaration:
    """What the ingress needs of a version without loading it: its runtime's declaration."""

    kind: str
    platform: str
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    input_kinds: dict[str, str]
    parameters: dict[str, Any]
    upstream: dict[str, Upstream] = field(default_factory=dict)


def declare(runtime: Runtime) -> Declaration:
    return Declaration(
        kind=runtime.kind,
        platform=runtime.platform,
        inputs=tuple(runtime.inputs),
        outputs=tuple(runtime.outputs),
        input_kinds=runtime.input_kinds(),
        parameters=runtime.parameters(),
        upstream=dict(runtime.upstream),
    )


def deployment_options(cfg: ModelServing) -> dict[str, Any]:
    """Ray Serve deployment options from a model's serving settings."""
    options: dict[str, Any] = {
        "name": MODEL_DEPLOYMENT,
        "ray_actor_options": {"num_cpus": cfg.num_cpus},
        "max_ongoing_requests": cfg.max_ongoing_requests,
        # a replica stops taking requests, then waits for those it has before it goes
        "graceful_shutdown_wait_loop_s": 0.5,
        "graceful_shutdown_timeout_s": 30.0,
        "health_check_period_s": 2.0,
    }
    if cfg.autoscaling:
        options["autoscaling_config"] = {
            "min_replicas": cfg.min_replicas,
            "max_replicas": cfg.max_replicas,
            "target_ongoing_requests": cfg.target_ongoing_requests,
        }
    else:
        options["num_replicas"] = cfg.num_replicas
    return options


class ModelReplica:
    """A replica of one model version (made a deployment by :func:`model_application`).

    Args:
        path: The version directory (on storage every node reads).
        name: The model's name.
        version: The version number.
        serving: The model's serving settings, as a dict.
    """

    def __init__(self, path: str, name: str, version: int, serving: dict[str, Any]) -> None:
        self.cfg = ModelServing.model_validate(serving)
        self.runtime = open_runtime(Path(path), name, version)
        self.batcher: Batcher | None = None
        self.policy = model_policy(self.cfg, BatchPolicy())
        self.batches = 0
        self.explainer: Any = None
        batched: Any = self._ray_batch  # Ray's batch wrapper, typed as the plain method
        batched.set_max_batch_size(self.cfg.max_batch_size)
        batched.set_batch_wait_timeout_s(max(self.cfg.max_wait_ms, 1.0) / 1000)

    def declaration(self) -> Declaration:
        return declare(self.runtime)

    def stats(self) -> dict[str, Any]:
        """What the tests and the benchmark read: batches run, encodes, the replica's actor."""
        return {
            "batches": self.batches,
            "encoded": getattr(self.runtime, "encoded", None),
            "actor": serve.get_replica_context().replica_id.unique_id,
        }

    async def predict(
        self, columns: Mapping[str, Any], n_rows: int, records: bool = False
    ) -> Outputs | list[Any] | Failure:
        """The outputs of ``columns`` (or, with ``records``, the kind's record per row)."""
        try:
            if not self.policy.enabled or n_rows >= self.policy.max_batch_size:
                return self._run_alone(columns, records)
            if self.cfg.batcher == "ray":
                result: Any = await self._ray_batch((columns, n_rows, records))
                if isinstance(result, ModelryError):
                    raise result
                return result  # type: ignore[no-any-return]
            if self.batcher is None:  # made on the replica's own event loop
                self.batcher = Batcher(self.runtime.predict, self.policy, self._observe)
            finish = self.runtime.records if records else None
            return await self.batcher.enqueue(columns, n_rows, finish)  # type: ignore[no-any-return]
        except ModelryError as exc:
            return Failure(exc)

    def _run_alone(self, columns: Mapping[str, Any], records: bool) -> Outputs | list[Any]:
        self.batches += 1
        outputs = self.runtime.predict(columns)
        return self.runtime.records(outputs) if records else outputs

    def _observe(self, rows: int, requests: int) -> None:
        self.batches += 1

    @serve.batch(max_batch_size=64, batch_wait_timeout_s=0.001)
    async def _ray_batch(self, requests: list[tuple[Mapping[str, Any], int, bool]]) -> list[Any]:
        """Ray Serve's batcher: one predict for the batch, each request its own rows;
        a batch that fails on a client's value is predicted request by request."""
        self.batches += 1
        try:
            outputs = self.runtime.predict(concat_columns([r[0] for r in requests]))
        except ModelryError:
            answers: list[Any] = []
            for columns, _, records in requests:
                try:
                    answers.append(self._run_alone(columns, records))
                except ModelryError as exc:
                    answers.append(exc)
            return answers
        answers, start = [], 0
        for _, n_rows, records in requests:
            part = slice_outputs(outputs, start, start + n_rows)
            answers.append(self.runtime.records(part) if records else part)
            start += n_rows
        return answers

    async def explain(
        self, columns: Mapping[str, Any], shown: Mapping[str, Any] | None = None
    ) -> list[dict[str, Any]] | Failure:
        """Each row's explanation as its ``to_dict()`` (torch stays out of the ingress);
        the explainer is built on the first call."""
        from modelry.api.explaining import build_explainer

        try:
            if self.explainer is None:
                self.explainer = await asyncio.to_thread(build_explainer, self.runtime)
            explained = await asyncio.to_thread(self.explainer.explain, columns, shown)
            return [e.to_dict() for e in explained]
        except ModelryError as exc:
            return Failure(exc)

    def __del__(self) -> None:
        batcher = getattr(self, "batcher", None)  # None too when __init__ failed
        if batcher is not None:
            batcher.close()


def model_application(path: Path, name: str, version: int, cfg: ModelServing) -> Any:
    """The bound Ray Serve application of one model version."""
    deployment: Any = serve.deployment(ModelReplica)
    deployment = deployment.options(**deployment_options(cfg))
    return deployment.bind(str(path), name, version, cfg.model_dump())
