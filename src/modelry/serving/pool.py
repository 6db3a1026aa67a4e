"""Loaded models by name, version and alias, swapped in as the registry changes.

The pool answers one question on the request path, cheaply: which loaded model
serves ``name`` at ``ref`` (``None`` for the default: the ``production`` alias if
set, else the newest version; a number; or an alias)? That is one dict lookup.
Everything slow (asking the registry, building an onnxruntime session) happens
off the event loop in a thread, and only the event loop thread mutates the pool,
so its maps need no locks.

Hot swap: :meth:`ModelPool.refresh` runs about once a second; when the registry's
revision moved, it resolves every route again, loads the versions it now needs
*first*, then replaces the route map in one assignment. A version no route
points at any more is retired: unloaded as soon as its last in-flight request
finishes, so no request ever meets an unloaded model.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from modelry.errors import ConfigError, ModelryError, NotFoundError
from modelry.protocol.codecs import InputSpec
from modelry.protocol.predictions import OutputRow, Outputs, output_rows
from modelry.registry.store import validate_name
from modelry.serving.batching import Batcher, BatchObserver, BatchPolicy, Finish, predict_alone
from modelry.serving.kinds import open_runtime
from modelry.serving.runtime import Runtime

log = logging.getLogger(__name__)

T = TypeVar("T")


Route = tuple[str, str | None]
"""(model name, version reference as the client wrote it; None for the default)."""


class VersionInfo(Protocol):
    """What the pool reads of a registry version (``modelry.registry.store.ModelVersion``)."""

    @property
    def name(self) -> str: ...
    @property
    def version(self) -> int: ...
    @property
    def path(self) -> Any: ...


class ModelSource(Protocol):
    """The registry as the pool uses it (``modelry.registry.store.Registry``)."""

    def get(self, name: str, ref: str | int | None = None) -> Any: ...
    def revision(self) -> int: ...


RuntimeFactory = Callable[[VersionInfo], Runtime]
"""Builds the loaded, checked runtime of a registry version."""


ServedLoader = Callable[[VersionInfo, BatchPolicy, BatchObserver | None], "Served"]
"""Builds the :class:`Served` of a registry version itself (in the loading thread): how
the Ray engine's ingress serves versions that run in deployments of their own."""


def registry_runtime(entry: VersionInfo) -> Runtime:
    """The default factory: the version's kind (its manifest says which), loaded and checked."""
    return open_runtime(entry.path, entry.name, entry.version)


@dataclass(eq=False)
class Served:
    """One loaded model version and what the request path needs of it."""

    runtime: Runtime
    spec: InputSpec
    batcher: Batcher | None
    policy: BatchPolicy
    observer: BatchObserver | None
    inflight: int = 0
    retired: bool = field(default=False)
    # Built by the API on the first explain request (torch stays out of the predict path);
    # one per loaded version, dropped with it on unload or hot swap.
    explainer: Any = None
    _explain_lock: asyncio.Lock | None = field(default=None, repr=False)

    @property
    def name(self) -> str:
        return self.runtime.name

    @property
    def version(self) -> int:
        return self.runtime.version

    async def predict(self, columns: Mapping[str, Any], n_rows: int) -> Outputs:
        """Predict through the batcher (when batching) or alone; retire-safe."""
        outputs: Outputs = await self._predict(columns, n_rows, None)
        return outputs

    async def predict_rows(
        self, columns: Mapping[str, Any], n_rows: int, finish: Callable[[Outputs], list[T]]
    ) -> list[T]:
        """``finish`` of the prediction, one item per row; run once per batch when batching."""
        items: list[T] = await self._predict(columns, n_rows, finish)
        return items

    async def _predict(self, columns: Mapping[str, Any], n_rows: int, finish: Finish | None) -> Any:
        self.inflight += 1
        try:
            if self.batcher is not None and n_rows < self.policy.max_batch_size:
                return await self.batcher.enqueue(columns, n_rows, finish)
            prediction = await predict_alone(self.run, columns, n_rows, self.policy, self._observe)
            return prediction if finish is None else finish(prediction)
        finally:
            self.inflight -= 1
            if self.retired and self.inflight == 0:
                self._release()

    def output_rows(self, outputs: Outputs) -> list[OutputRow]:
        """Each row's outputs in declared order: the V2 finish (one bound method per
        version, so the requests of one batch share one conversion)."""
        return output_rows(outputs, self.runtime.outputs)

    def run(self, columns: Mapping[str, Any]) -> Outputs:
        """One predict call on the runtime (looked up per call: a swapped-in stub applies)."""
        return self.runtime.predict(columns)

    @contextmanager
    def hold(self) -> Iterator[None]:
        """Keep this version loaded while work other than ``predict`` uses its runtime."""
        self.inflight += 1
        try:
            yield
        finally:
            self.inflight -= 1
            if self.retired and self.inflight == 0:
                self._release()

    def explain_lock(self) -> asyncio.Lock:
        """Serialises building :attr:`explainer` (created on the event loop, on first use)."""
        if self._explain_lock is None:
            self._explain_lock = asyncio.Lock()
        return self._explain_lock

    def _observe(self, rows: int, requests: int) -> None:
        if self.observer is not None:
            self.observer.observe_batch(self.name, self.version, rows, requests)

    def retire(self) -> None:
        """Stop taking new requests; unload once the in-flight ones are done."""
        self.retired = True
        if self.inflight == 0:
            self._release()

    def _release(self) -> None:
        self.explainer = None
        if not self.runtime.ready:
            return  # released already
        if self.batcher is not None:
            self.batcher.close()
        self.runtime.unload()
        log.info("unloaded %s:%s", self.name, self.version)


class ModelPool:
    """Loaded runtimes by (name, version) and the routes that pick them.

    Args:
        source: The registry.
        names: Serve only these models (None: every model in the registry).
        policy: Batching policy by default; ``policies`` overrides it per model name.
        observer: Told every predict call's row and request count (for metrics).
        factory: Builds the loaded runtime of a registry version.
        loader: Builds the whole :class:`Served` of a version instead (``factory`` is
            then unused): e.g. one whose predict calls a remote deployment.
    """

    def __init__(
        self,
        source: ModelSource,
        *,
        names: Iterable[str] | None = None,
        policy: BatchPolicy | None = None,
        policies: Mapping[str, BatchPolicy] | None = None,
        observer: BatchObserver | None = None,
        factory: RuntimeFactory = registry_runtime,
        loader: ServedLoader | None = None,
    ) -> None:
        self.source = source
        self.names = sorted(set(names)) if names is not None else None
        self.policy = policy or BatchPolicy()
        self.policies = dict(policies or {})
        self.observer = observer
        self.factory = factory
        self.loader = loader
        self.routes: dict[Route, Served] = {}
        self.loaded: dict[tuple[str, int], Served] = {}
        self.held: set[str] = set()  # unloaded by an operator: not served until loaded again
        self.revision: int | None = None
        self._locks: dict[tuple[str, int], asyncio.Lock] = {}
        self._refresh_lock: asyncio.Lock | None = None

    # -- the request path -----------------------------------------------------------

    def lookup(self, name: str, ref: str | None) -> Served | None:
        """The model serving this route if it is loaded: one dict lookup."""
        return self.routes.get((name, ref))

    async def get(self, name: str, ref: str | None) -> Served:
        """The model serving this route, resolving and loading it if needed.

        Raises:
            NotFoundError: unknown or unserved model, version or alias (names what exists).
        """
        served = self.routes.get((name, ref))
        if served is not None:
            return served
        self.check_served(name)
        try:
            entry = await asyncio.to_thread(self.source.get, name, ref)
        except ConfigError as exc:  # a reference no version could ever have
            raise NotFoundError(exc.message, model=name) from exc
        served = await self._ensure_loaded(entry)
        if name not in self.held:
            self.routes = {**self.routes, (name, ref): served}
        return served

    def check_served(self, name: str) -> None:
        """Raise NotFoundError unless ``name`` is a name this pool may serve."""
        try:
            validate_name(name)
        except ConfigError as exc:
            raise NotFoundError(f"no model named {name!r}: {exc.message}", model=name) from exc
        if self.names is not None and name not in self.names:
            raise NotFoundError(
                f"model {name!r} is not served here; served: {', '.join(self.names)}",
                model=name,
            )
        if name in self.held:
            raise NotFoundError(
                f"model {name!r} is unloaded; POST /v2/repository/models/{name}/load to serve it",
                model=name,
            )

    async def _ensure_loaded(self, entry: VersionInfo) -> Served:
        key = (entry.name, entry.version)
        served = self.loaded.get(key)
        if served is not None:
            return served
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            served = self.loaded.get(key)
            if served is None:
                served = await asyncio.to_thread(self._load, entry)
                self.loaded = {**self.loaded, key: served}
        return served

    def _load(self, entry: VersionInfo) -> Served:
        policy = self.policies.get(entry.name, self.policy)
        build = self.loader if self.loader is not None else self._load_here
        served = build(entry, policy, self.observer)
        for binary in (False, True):  # built here, in the loading thread, not by a request
            served.spec.plain_reader(binary=binary)
        log.info("loaded %s:%s", entry.name, entry.version)
        return served

    def _load_here(
        self, entry: VersionInfo, policy: BatchPolicy, observer: BatchObserver | None
    ) -> Served:
        """The default loader: the version's runtime in this process, batched here."""
        runtime = self.factory(entry)
        served = Served(
            runtime=runtime,
            spec=InputSpec(runtime.input_kinds()),
            batcher=None,
            policy=policy,
            observer=observer,
        )
        if policy.enabled:
            served.batcher = Batcher(served.run, policy, served._observe)
        return served

    # -- keeping up with the registry -----------------------------------------------

    async def start(self, *, eager: bool) -> None:
        """Note the registry's revision; with ``eager``, load every served model now."""
        self.revision = await asyncio.to_thread(self.source.revision)
        if eager:
            for name in self.names if self.names is not None else await self._all_names():
                try:
                    await self.get(name, None)
                except ModelryError as exc:
                    log.warning("cannot load %s at start: %s", name, exc)

    async def _all_names(self) -> list[str]:
        list_models = getattr(self.source, "list_models", None)
        if list_models is None:
            return []
        summaries = await asyncio.to_thread(list_models)
        return [s.name for s in summaries]

    async def refresh(self, *, force: bool = False) -> bool:
        """Re-resolve every route if the registry changed; True when something moved.

        New versions are loaded before the route map is replaced, in one
        assignment; versions no route uses any more are retired.
        """
        async with self._lock_refresh():
            revision = await asyncio.to_thread(self.source.revision)
            if not force and revision == self.revision:
                return False
            self.revision = revision
            routes: dict[Route, Served] = {}
            for route, current in list(self.routes.items()):
                try:
                    entry = await asyncio.to_thread(self.source.get, *route)
                except NotFoundError:
                    continue  # deleted: the route goes, a later request gets a 404
                except ModelryError as exc:
                    log.warning("keeping %s:%s after a registry error: %s", *route, exc)
                    routes[route] = current
                    continue
                if (entry.name, entry.version) == (current.name, current.version):
                    routes[route] = current
                    continue
                try:
                    routes[route] = await self._ensure_loaded(entry)
                except ModelryError as exc:  # e.g. a bad kind: keep serving what works
                    log.error("keeping %s:%s on version %s: %s", *route, current.version, exc)
                    routes[route] = current
            # A request may have added a route while we awaited; keep those too.
            for route, served in self.routes.items():
                routes.setdefault(route, served)
            changed = routes != self.routes
            self.routes = routes
            self._retire_unrouted()
            return changed

    def _lock_refresh(self) -> asyncio.Lock:
        if self._refresh_lock is None:
            self._refresh_lock = asyncio.Lock()
        return self._refresh_lock

    def _retire_unrouted(self) -> None:
        used = {id(s) for s in self.routes.values()}
        keep: dict[tuple[str, int], Served] = {}
        for key, served in self.loaded.items():
            if id(served) in used:
                keep[key] = served
            else:
                served.retire()
        self.loaded = keep

    # -- operator actions -----------------------------------------------------------

    async def load(self, name: str) -> Served:
        """Serve ``name`` again (after :meth:`unload`) and load its default version."""
        self.held.discard(name)
        return await self.get(name, None)

    async def unload(self, name: str) -> list[int]:
        """Stop serving ``name``: drop its routes, retire its versions; returns them."""
        self.check_served(name)
        async with self._lock_refresh():  # never retire what a refresh is about to route
            self.held.add(name)
            self.routes = {r: s for r, s in self.routes.items() if r[0] != name}
            versions = sorted(v for (n, v) in self.loaded if n == name)
            self._retire_unrouted()
        return versions

    def close(self) -> None:
        """Unload everything (at shutdown)."""
        self.routes = {}
        self._retire_unrouted()
