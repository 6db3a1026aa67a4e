"""The data plane: every transport's one way to the models.

HTTP handlers (V2 and simple JSON), batch scoring, explanations and Ray parse their
own formats into columns and call this; it knows nothing of HTTP. It answers in the
protocol types of :mod:`modelry.protocol`, as MLServer's data plane does, derived from
each model kind's declared outputs.

Composition lives here: a model whose kind declares an upstream column
(:attr:`~modelry.serving.runtime.Runtime.upstream`, e.g. ``resume`` embedded by the
``text-encoder`` model) has that column predicted by the upstream model first, through
the same pool and its batching, so a shared encoder is loaded once for every model
that uses it.

Example:
    >>> registry = Registry(settings)  # doctest: +SKIP
    >>> plane = DataPlane(ModelPool(registry), registry)  # doctest: +SKIP
    >>> served = await plane.model("bank", None)  # doctest: +SKIP
    >>> await plane.outputs(served, {"age": [41.0], ...}, 1)  # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from typing import Any, Protocol, TypeVar

from modelry import __version__
from modelry.data.columns import plain_array
from modelry.errors import ArtifactError, ConfigError, InvalidInputError
from modelry.protocol import v1, v2
from modelry.protocol.predictions import Outputs
from modelry.serving.pool import ModelPool, Served
from modelry.serving.runtime import Runtime

log = logging.getLogger(__name__)

SERVER_NAME = "modelry"
MAX_UPSTREAM_DEPTH = 4
"""How many models deep a chain of upstream models may go (a loop is refused)."""

T = TypeVar("T")


class RegistryView(Protocol):
    """The registry reads and writes the data plane needs (``Registry``)."""

    def get(self, name: str, ref: str | int | None = None) -> Any: ...
    def list_models(self) -> list[Any]: ...
    def versions(self, name: str) -> list[Any]: ...
    def aliases(self, name: str) -> dict[str, int]: ...
    def set_alias(self, name: str, alias: str, version: int) -> None: ...
    def revision(self) -> int: ...


class Explainer(Protocol):
    """What the data plane asks of an explainer (``modelry.explain.Explainer``)."""

    def explain(
        self, columns: Mapping[str, Any], shown: Mapping[str, Any] | None = None
    ) -> list[Any]: ...


ExplainerFactory = Callable[[Runtime], Explainer]
"""Builds the explainer of a loaded model (slow: run once per version, in a thread)."""


class DataPlane:
    """Inference, metadata, readiness and model loading, transport-agnostic.

    Args:
        pool: The loaded models.
        registry: Where versions and aliases are listed and changed.
        watch_interval: Seconds between two looks at the registry's revision.
        explainers: Builds a model's explainer (the layers above serving pass one: torch
            and Captum stay out of the predict path); None: explaining is refused.
    """

    def __init__(
        self,
        pool: ModelPool,
        registry: RegistryView,
        *,
        watch_interval: float = 1.0,
        explainers: ExplainerFactory | None = None,
    ) -> None:
        self.pool = pool
        self.registry = registry
        self.watch_interval = watch_interval
        self.explainers = explainers
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

    def lookup(self, name: str, ref: str | None) -> Served | None:
        """The loaded model serving ``name`` at ``ref`` if it is routed already (no await)."""
        return self.pool.routes.get((name, ref))

    async def model(self, name: str, ref: str | None) -> Served:
        """The loaded model serving ``name`` at ``ref`` (loading it if needed)."""
        served = self.pool.routes.get((name, ref))
        if served is None:
            if not self.started:  # mounted without lifespan events: start on first use
                await self.start(eager=False)
            served = await self.pool.get(name, ref)
        return served

    async def predict(
        self,
        served: Served,
        columns: Mapping[str, Any],
        n_rows: int,
        finish: Callable[[Outputs], list[T]],
    ) -> list[T]:
        """``finish`` of ``served``'s outputs on ``columns``, one item per row.

        Upstream columns are resolved first; with batching on, ``finish`` runs once per
        batch and each caller gets its own rows.
        """
        if served.runtime.upstream:
            columns = await self._resolve_upstream(served, columns, n_rows, 0)
        return await served.predict_rows(columns, n_rows, finish)

    async def outputs(self, served: Served, columns: Mapping[str, Any], n_rows: int) -> Outputs:
        """``served``'s outputs for ``columns``, upstream columns resolved first."""
        if served.runtime.upstream:
            columns = await self._resolve_upstream(served, columns, n_rows, 0)
        return await served.predict(columns, n_rows)

    async def resolve(
        self, served: Served, columns: Mapping[str, Any], n_rows: int
    ) -> Mapping[str, Any]:
        """``columns`` as ``served``'s runtime takes them: upstream columns resolved (the
        columns themselves when it has none)."""
        if not served.runtime.upstream:
            return columns
        return await self._resolve_upstream(served, columns, n_rows, 0)

    async def _resolve_upstream(
        self, served: Served, columns: Mapping[str, Any], n_rows: int, depth: int
    ) -> Mapping[str, Any]:
        """``columns`` with each upstream column replaced by its upstream model's output."""
        if depth >= MAX_UPSTREAM_DEPTH:
            raise ArtifactError(
                f"model {served.name}: upstream models nest deeper than {MAX_UPSTREAM_DEPTH} "
                "(a loop?)"
            )
        resolved = dict(columns)
        for column, upstream in served.runtime.upstream.items():
            if upstream.required:
                _refuse_blank(column, columns[column], upstream.model)
            source = await self.model(upstream.model, None)
            feed = {upstream.input: columns[column]}
            if source.runtime.upstream:
                feed = dict(await self._resolve_upstream(source, feed, n_rows, depth + 1))
            outputs = await source.predict(feed, n_rows)
            resolved[column] = outputs[upstream.output]
        return resolved

    async def explain(self, served: Served, columns: Mapping[str, Any]) -> list[Any]:
        """One explanation per row of ``columns`` (already validated), by the version's
        explainer: built off the event loop by the first caller, kept until the version
        is unloaded or swapped out.

        Raises:
            ConfigError: this plane has no explainer factory, or the kind cannot be explained.
        """
        if self.explainers is None:
            raise ConfigError("explanations are not available in this service")
        shown = columns  # what the client sent: reasons quote the text, not its vector
        columns = await self.resolve(served, columns, len(next(iter(columns.values()), [])))
        with served.hold():  # a hot swap mid-request must not unload the runtime under us
            if served.explainer is None:
                async with served.explain_lock():
                    if served.explainer is None:
                        served.explainer = await asyncio.to_thread(self.explainers, served.runtime)
            explainer: Explainer = served.explainer
            explanations: list[Any] = await asyncio.to_thread(explainer.explain, columns, shown)
        return explanations

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
        runtime = served.runtime
        return v2.model_metadata(
            name,
            [str(v.version) for v in versions],
            [spec.metadata() for spec in runtime.inputs],
            [spec.metadata() for spec in runtime.outputs],
            platform=runtime.platform,
            parameters={"version": served.version, **runtime.parameters()},
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
            parameters = served.runtime.parameters()
            detail["kind"] = served.runtime.kind
            if "task" in parameters:
                detail["task"] = parameters["task"]
            if "classes" in parameters:
                detail["classes"] = parameters["classes"]
            detail["inputs"] = dict(served.spec.kinds)
            detail["outputs"] = [spec.metadata() for spec in served.runtime.outputs]
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


def _refuse_blank(column: str, values: Any, model: str) -> None:
    """Refuse a missing, empty or non-text value of a required upstream column.

    Raises:
        InvalidInputError: naming the column and the first bad row.
    """
    for row, value in enumerate(plain_array(values).tolist()):
        if isinstance(value, str) and value.strip():
            continue
        if value is None:
            what = "missing"
        elif isinstance(value, str):
            what = "an empty text"
        else:
            what = f"{value!r} is not a text"
        raise InvalidInputError(
            f"column {column!r}, row {row}: {what}; it must be a text for the {model} model "
            "to embed",
            column=column,
            row=row,
        )
