"""Starting modelry on Ray Serve, and scaling a model that runs there.

``modelry serve --engine ray`` calls :func:`serve_on_ray`: it joins the cluster at
``address`` (``auto``, ``ray://HOST:10001``) or starts a local Ray instance, starts Serve's
HTTP proxy on ``host:port``, deploys the ingress (which deploys each served model version
as it loads it), and blocks until interrupted. ``modelry models scale`` calls
:func:`scale_model`: it stores the model's serving settings and, given a cluster, redeploys
the model's running versions with them. ``serve.run`` gives every deploy a new code version
(Ray Serve manages versions itself; the ``version`` option is removed), so the replicas are
replaced one by one, a rolling update, not resized in place (measured in the scale test).
"""

from __future__ import annotations

import logging
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import ray
from ray import serve

from modelry.api.app import settings_to_json
from modelry.errors import ConfigError, MissingExtraError, NotFoundError
from modelry.rayserve.ingress import INGRESS_APP, ingress_application
from modelry.rayserve.replica import QUIET, app_name, model_application
from modelry.registry.serving_config import ModelServing
from modelry.registry.store import Registry
from modelry.settings import Settings

__all__ = ["MissingExtraError", "connect", "deploy", "scale_model", "serve_on_ray", "shutdown"]

log = logging.getLogger(__name__)


def connect(address: str | None, *, num_cpus: int | None = None) -> None:
    """Join the Ray cluster at ``address``, or start a local instance (no dashboard)."""
    if ray.is_initialized():
        return
    if address:
        ray.init(address=address, logging_level=logging.WARNING)
    else:
        ray.init(num_cpus=num_cpus, include_dashboard=False, logging_level=logging.WARNING)


def deploy(
    settings: Settings,
    models: list[str] | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    watch_interval: float = 1.0,
) -> str:
    """Start Serve's proxy and deploy the ingress (which deploys the models); its URL."""
    serve.start(http_options={"host": host, "port": port})
    serve.run(
        ingress_application(settings_to_json(settings), models, watch_interval=watch_interval),
        name=INGRESS_APP,
        route_prefix="/",
        logging_config=QUIET,
    )
    return f"http://{host}:{port}"


def shutdown() -> None:
    """Delete every Serve application and stop Serve (the Ray instance stays)."""
    serve.shutdown()  # type: ignore[no-untyped-call]


def serve_on_ray(
    settings: Settings,
    *,
    address: str | None,
    host: str,
    port: int,
    models: list[str] | None,
    num_cpus: int | None,
    announce: Callable[[str], None],
) -> None:
    """Serve on Ray until interrupted (Ctrl-C or SIGTERM), then take the applications down
    (and, without ``address``, the local Ray instance)."""
    connect(address, num_cpus=num_cpus)
    # After ray.init, which installs its own SIGTERM handler (it exits without tidying up):
    # a background job may start with SIGINT ignored; a service manager stops with SIGTERM.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _interrupt)
    url = deploy(settings, models, host=host, port=port)
    announce(url)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        shutdown()
        if not address:
            ray.shutdown()


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def running_versions(name: str) -> list[int]:
    """The versions of ``name`` deployed on the connected cluster."""
    prefix = f"{name}-v"
    versions = []
    for app in serve.status().applications:
        tail = app[len(prefix) :] if app.startswith(prefix) else ""
        if tail.isdigit():
            versions.append(int(tail))
    return sorted(versions)


def scale_model(settings: Settings, name: str, cfg: ModelServing) -> list[int]:
    """Redeploy the running versions of ``name`` with ``cfg``; the versions it changed.

    Raises:
        NotFoundError: no version of ``name`` runs on the cluster.
    """
    registry = Registry(settings)
    versions = running_versions(name)
    if not versions:
        raise NotFoundError(f"no version of {name!r} runs on this Ray cluster", model=name)
    for version in versions:
        entry = registry.get(name, version)
        serve.run(
            model_application(Path(entry.path), name, version, cfg),
            name=app_name(name, version),
            route_prefix=None,
            logging_config=QUIET,
        )
    return versions


def replica_count(name: str, version: int) -> int:
    """Running replicas of one deployed version (for ``scale``'s report and the tests)."""
    status: Any = serve.status().applications[app_name(name, version)]
    counts = {
        str(state): n for d in status.deployments.values() for state, n in d.replica_states.items()
    }
    return int(counts.get("RUNNING", counts.get("ReplicaState.RUNNING", 0)))


def check_address(address: str | None) -> None:
    """Refuse an address Ray would misread (a bare host without scheme or ``auto``)."""
    if address and address != "auto" and "://" not in address and ":" not in address:
        raise ConfigError(f"--address {address!r}: use auto, HOST:6379 or ray://HOST:10001")
