"""The ingress's side of a model version that runs in a deployment of its own.

The ingress runs modelry's own app (:func:`~modelry.api.app.create_app`: one data plane,
the same routes, payloads, errors, auth and metrics as the embedded server) with a pool
whose loader is :class:`RayVersions`: loading a version deploys its application
(``NAME-vVERSION``, see :mod:`modelry.rayserve.replica`), waits until it is running, and
asks one replica for the runtime's declaration. The pool then holds a
:class:`RemoteServed`, whose predict awaits the deployment's handle instead of running
the runtime in process. Composition is unchanged: the data plane resolves an upstream
column through the upstream model's ``Served``, here the encoder deployment's handle.

Hot swap: the pool loads the new version (deployed and running) before it moves the
route, and retires the old one once its in-flight requests are done; only then, after
a grace period, is the old application deleted (its replicas finish what they hold).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from typing import Any

from ray import serve

from modelry.errors import ModelryError
from modelry.protocol.codecs import InputSpec
from modelry.protocol.predictions import Outputs
from modelry.rayserve.replica import (
    MODEL_DEPLOYMENT,
    QUIET,
    Declaration,
    Failure,
    app_name,
    model_application,
)
from modelry.registry.serving_config import read_serving
from modelry.serving.batching import BatchObserver, BatchPolicy, Finish
from modelry.serving.pool import Served, VersionInfo
from modelry.serving.runtime import Runtime, Upstream

log = logging.getLogger(__name__)

DELETE_GRACE_S = 2.0
"""How long a retired version's application outlives its last in-flight request (a
request that looked the route up just before the swap still reaches it)."""


def unwrap(result: Any) -> Any:
    """A replica's answer, or the ModelryError it returned, raised here."""
    if isinstance(result, Failure):
        raise result.error
    return result


def replica_error(app: str) -> str | None:
    """The error a failed application's replicas raised, from Serve's status (its last
    ``modelry.errors.…: message`` line), or None."""
    try:
        status: Any = serve.status().applications[app]
        messages = [d.message for d in status.deployments.values()]
    except Exception:  # gone already, or Serve unreachable
        return None
    for message in messages:
        lines = [ln.strip() for ln in str(message).splitlines() if "modelry.errors." in ln]
        if lines:
            return lines[-1].split("modelry.errors.", 1)[1]
    return None


class RemoteRuntime(Runtime):
    """A version's declaration on the ingress; its predictions run in the deployment."""

    def __init__(self, entry: VersionInfo, declaration: Declaration, handle: Any) -> None:
        super().__init__(entry.path, entry.name, entry.version)
        self.kind = declaration.kind  # type: ignore[misc]
        self.platform = declaration.platform  # type: ignore[misc]
        self.inputs = declaration.inputs
        self.outputs = declaration.outputs
        self.declaration = declaration
        self.handle = handle
        self.mark_loaded()

    def load(self) -> None:
        """Loaded by the deployment's replicas."""

    def predict(self, columns: Mapping[str, Any]) -> Outputs:
        """Blocking predict through the handle (for callers off the event loop)."""
        result: Outputs = unwrap(self.handle.predict.remote(dict(columns), 0).result())
        return result

    @property
    def upstream(self) -> Mapping[str, Upstream]:
        return self.declaration.upstream

    def input_kinds(self) -> dict[str, str]:
        return dict(self.declaration.input_kinds)

    def parameters(self) -> dict[str, Any]:
        return dict(self.declaration.parameters)

    def records(self, outputs: Outputs) -> list[dict[str, Any]]:
        """Never run here: :class:`RemoteServed` asks the replica for records instead."""
        raise NotImplementedError("records are made by the replica")


class RemoteServed(Served):
    """A served version whose predictions await its deployment's handle."""

    runtime: RemoteRuntime
    on_release: Callable[[], None] | None = None

    async def _predict(self, columns: Mapping[str, Any], n_rows: int, finish: Finish | None) -> Any:
        self.inflight += 1
        try:
            records = finish is not None and finish == self.runtime.records
            result = unwrap(
                await self.runtime.handle.predict.remote(dict(columns), n_rows, records)
            )
            if finish is not None and not records:
                return finish(result)
            return result
        finally:
            self.inflight -= 1
            if self.retired and self.inflight == 0:
                self._release()

    def _release(self) -> None:
        self.explainer = None
        if not self.runtime.ready:
            return
        self.runtime.unload()
        if self.on_release is not None:
            self.on_release()


class RemoteExplainer:
    """Explains through the deployment (called in a worker thread by the data plane)."""

    def __init__(self, runtime: Runtime) -> None:
        if not isinstance(runtime, RemoteRuntime):
            raise TypeError(f"not a remote runtime: {runtime!r}")
        self.handle = runtime.handle

    def explain(
        self, columns: Mapping[str, Any], shown: Mapping[str, Any] | None = None
    ) -> list[Any]:
        """``shown``: what the client sent, where upstream columns were resolved (reasons
        quote it)."""
        request = self.handle.explain.remote(dict(columns), None if shown is None else dict(shown))
        rows: list[dict[str, Any]] = unwrap(request.result())
        return [_Explanation(r) for r in rows]


class _Explanation:
    """An explanation as the replica returned it (its ``to_dict()``)."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data

    def to_dict(self) -> dict[str, Any]:
        return self.data


class RayVersions:
    """The ingress pool's loader: deploys versions, and deletes them once retired.

    Args:
        home: The registry home (serving settings are read from it per model).
    """

    def __init__(self, home: Any) -> None:
        self.home = home
        self._lock = threading.Lock()
        self._users: dict[str, int] = {}  # application → versions served from it

    def __call__(
        self, entry: VersionInfo, policy: BatchPolicy, observer: BatchObserver | None
    ) -> Served:
        app = app_name(entry.name, entry.version)
        cfg = read_serving(self.home, entry.name)
        with self._lock:
            self._users[app] = self._users.get(app, 0) + 1
        deployed_here = False
        try:
            deployed = set(serve.status().applications)
            if app not in deployed:
                deployed_here = True
                log.info("deploying %s", app)
                serve.run(
                    model_application(entry.path, entry.name, entry.version, cfg),
                    name=app,
                    route_prefix=None,
                    logging_config=QUIET,
                )
            handle = serve.get_deployment_handle(MODEL_DEPLOYMENT, app_name=app)
            declaration: Declaration = handle.declaration.remote().result()
        except Exception as exc:  # e.g. the kind refused the version: keep serving the others
            self._drop(app)
            reason = replica_error(app) if deployed_here else None
            if deployed_here:  # a failed application would linger, retrying its replicas
                serve.delete(app, _blocking=False)
            if isinstance(exc, ModelryError):
                raise
            raise ModelryError(f"cannot deploy {app} on Ray: {reason or exc}") from exc
        runtime = RemoteRuntime(entry, declaration, handle)
        served = RemoteServed(
            runtime=runtime,
            spec=InputSpec(runtime.input_kinds()),
            batcher=None,  # the replicas batch
            policy=policy,
            observer=observer,
        )
        served.on_release = lambda: self._release(app)
        return served

    def _drop(self, app: str) -> None:
        with self._lock:
            self._users[app] -= 1

    def _release(self, app: str) -> None:
        self._drop(app)
        timer = threading.Timer(DELETE_GRACE_S, self._delete_unused, args=(app,))
        timer.daemon = True
        timer.start()

    def _delete_unused(self, app: str) -> None:
        with self._lock:
            if self._users.get(app, 0) > 0:
                return  # loaded again meanwhile
            self._users.pop(app, None)
        log.info("deleting %s", app)
        try:
            serve.delete(app, _blocking=False)
        except Exception:  # the cluster may be going down with us
            log.exception("could not delete %s", app)
