"""The data plane: every transport's one way to the models.

HTTP handlers (V2 and simple JSON), and later gRPC or Ray, parse their own
wire format into columns and call this; it knows nothing of HTTP. It answers in
the protocol types of :mod:`modelry.protocol`, as MLServer's data plane does.

Example:
    >>> registry = Registry(settings)  # doctest: +SKIP
    >>> plane = DataPlane(ModelPool(registry), registry)  # doctest: +SKIP
    >>> await plane.infer("bank", None, {"age": np.array([41.0]), ...})  # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any, Protocol

import numpy as np

from modelry import __version__
from modelry.protocol import v1, v2
from modelry.protocol.predictions import output_tensors
from modelry.serving.pool import ModelPool, Served
from modelry.serving.runtime import Prediction

log = logging.getLogger(__name__)

SERVER_NAME = "modelry"


class RegistryView(Protocol):
    """The registry reads and writes the data plane needs (``Registry``)."""

    def get(self, name: str, ref: str | int | None = None) -> Any: ...
    def list_models(self) -> list[Any]: ...
    def versions(self, name: str) -> list[Any]: ...
    def aliases(self, name: str) -> dict[str, int]: ...
    def set_alias(self, name: str, alias: str, version: int) -> None: ...
    def revision(self) -> int: ...


class DataPlane:
    """Inference, metadata, readiness and model loading, transport-agnostic.

    Args:
        pool: The loaded models.
        registry: Where versions and aliases are listed and changed.
        watch_interval: Seconds between two looks at the registry's revision.
    """

    def __init__(
        self, pool: ModelPool, registry: RegistryView, *, watch_interval: float = 1.0
    ) -> None:
        self.pool = pool
        self.registry = registry
        self.watch_interval = watch_interval
        self.started = False
        self.is_ready = False
        self._watcher: asyncio.Task[None] | None = None

    # -- life cycle -------------------------------------------------------------------

    async def start(self, *, eager: bool = True) -> None:
        """Load the served models (``eager``) and start watching the registry."""
        if self.started:
            return
        self.started = True
        await self.pool.start(eager=eager)
        self._watcher = asyncio.get_running_loop().create_task(self._watch(), name="modelry-watch")
        self.is_ready = True

    async def stop(self) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
            self._watcher = None
        self.pool.close()
        self.started = self.is_ready = False

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self.watch_interval)
            try:
                if await self.pool.refresh():
                    log.info("registry changed; routes now %s", self.routes_summary())
            except Exception:  # a registry hiccup must not stop the watcher
                log.exception("registry refresh failed; retrying")

    def routes_summary(self) -> dict[str, int]:
        return {f"{n}:{r or 'default'}": s.version for (n, r), s in self.pool.routes.items()}

    # -- inference --------------------------------------------------------------------

    async def model(self, name: str, ref: str | None) -> Served:
        """The loaded model serving ``name`` at ``ref`` (loading it if needed)."""
        served = self.pool.routes.get((name, ref))
        if served is None:
            if not self.started:  # mounted without lifespan events: start on first use
                await self.start(eager=False)
            served = await self.pool.get(name, ref)
        return served

    async def infer(
        self, name: str, ref: str | None, columns: Mapping[str, np.ndarray]
    ) -> Prediction:
        """Predict ``columns`` (one array per input column) with ``name`` at ``ref``."""
        served = await self.model(name, ref)
        rows = len(next(iter(columns.values()))) if columns else 0
        return await served.predict(columns, rows)

    # -- metadata ---------------------------------------------------------------------

    def live(self) -> bool:
        return True

    def ready(self) -> bool:
        return self.is_ready

    def server_metadata(self) -> v2.ServerMetadataResponse:
        return v2.server_metadata(SERVER_NAME, __version__)

    async def model_metadata(self, name: str, ref: str | None) -> v2.ModelMetadataResponse:
        served = await self.model(name, ref)
        versions = await asyncio.to_thread(self.registry.versions, name)
        n_classes = len(served.classes or [])
        return v2.model_metadata(
            name,
            [str(v.version) for v in versions],
            served.spec.tensors(),
            output_tensors(served.task, n_classes),
            parameters={
                "version": served.version,
                "task": str(served.task),
                "classes": served.classes,
            },
        )

    async def model_ready(self, name: str, ref: str | None) -> v2.ModelReadyResponse:
        """Whether the route is served by a loaded model; never loads one."""
        served = self.pool.lookup(name, ref)
        if served is not None:
            return v2.model_ready(name, served.runtime.ready)
        self.pool.check_served(name)
        entry = await asyncio.to_thread(self.registry.get, name, ref)  # 404 when unknown
        loaded = self.pool.loaded.get((name, entry.version))
        return v2.model_ready(name, loaded is not None and loaded.runtime.ready)

    async def list_models(self) -> v1.ModelList:
        summaries = await asyncio.to_thread(self.registry.list_models)
        out: list[v1.ModelSummary] = []
        for s in summaries:
            if self.pool.names is not None and s.name not in self.pool.names:
                continue
            out.append(self._summary(s.name, s.latest_version, dict(s.aliases)))
        return v1.ModelList(models=out)

    def _summary(self, name: str, latest: int, aliases: dict[str, int]) -> v1.ModelSummary:
        default = self.pool.lookup(name, None)
        served = default.version if default is not None else aliases.get("production", latest)
        return v1.ModelSummary(
            name=name,
            served_version=None if name in self.pool.held else served,
            latest_version=latest,
            aliases=aliases,
            loaded_versions=sorted(v for (n, v) in self.pool.loaded if n == name),
        )

    async def describe_model(self, name: str) -> v1.ModelDetail:
        self.pool.check_served(name)
        versions = await asyncio.to_thread(self.registry.versions, name)
        aliases = await asyncio.to_thread(self.registry.aliases, name)
        summary = self._summary(name, versions[-1].version, aliases)
        detail = v1.ModelDetail(
            name=name,
            served_version=summary["served_version"],
            aliases=aliases,
            versions=[
                v1.ModelVersionInfo(
                    version=v.version,
                    aliases=list(v.aliases),
                    task=str(v.task),
                    loaded=(name, v.version) in self.pool.loaded,
                )
                for v in versions
            ],
        )
        served = self.pool.lookup(name, None)
        if served is not None:
            detail["task"] = str(served.task)
            detail["classes"] = served.classes
            detail["inputs"] = dict(served.spec.kinds)
        return detail

    # -- operator actions -------------------------------------------------------------

    async def load(self, name: str) -> Served:
        return await self.pool.load(name)

    async def unload(self, name: str) -> list[int]:
        return await self.pool.unload(name)

    async def set_alias(self, name: str, alias: str, version: int) -> v1.AliasResponse:
        """Point ``name:alias`` at ``version`` in the registry and swap it in now."""
        self.pool.check_served(name)
        previous = (await asyncio.to_thread(self.registry.aliases, name)).get(alias)
        await asyncio.to_thread(self.registry.set_alias, name, alias, version)
        await self.pool.refresh(force=True)
        return v1.AliasResponse(name=name, alias=alias, version=version, previous=previous)

    async def repository_index(self) -> list[v2.RepositoryIndexEntry]:
        summaries = await asyncio.to_thread(self.registry.list_models)
        entries: list[v2.RepositoryIndexEntry] = []
        for s in summaries:
            if self.pool.names is not None and s.name not in self.pool.names:
                continue
            served = self.pool.lookup(s.name, None)
            if served is not None:
                entries.append(v2.repository_entry(s.name, str(served.version), True))
            else:
                reason = "unloaded" if s.name in self.pool.held else "not loaded yet"
                entries.append(v2.repository_entry(s.name, "", False, reason))
        return entries
