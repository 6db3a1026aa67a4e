"""The ingress deployment: modelry's own app behind Ray Serve's HTTP proxy.

Ray Serve wraps an ASGI app with ``@serve.ingress``; with no app given, the class's
``__serve_build_asgi_app__`` builds it on the replica (Ray 2.60), which is where the
settings, passed as the deployment's arguments, are known. The app is
:func:`~modelry.api.app.create_app` unchanged but for its pool's loader
(:class:`~modelry.rayserve.remote.RayVersions`) and explainer factory: one data plane,
so routes, payloads, errors, auth, metrics and ``/docs`` are the embedded server's own.
"""

from __future__ import annotations

from typing import Any

from ray import serve

from modelry.api.app import create_app, settings_from_json, tune_gc
from modelry.rayserve.remote import RayVersions, RemoteExplainer

INGRESS_APP = "modelry"
INGRESS_DEPLOYMENT = "ingress"


class Ingress:
    """The HTTP entry point (made a deployment by :func:`ingress_application`).

    Args:
        settings_json: The service's settings (``settings_to_json``).
        models: Serve only these model names (None: every registered model).
        watch_interval: Seconds between looks at the registry's revision (hot swap).
    """

    def __init__(self, settings_json: str, models: list[str] | None, watch_interval: float) -> None:
        self.settings = settings_from_json(settings_json)
        self.models = models
        self.watch_interval = watch_interval

    def __serve_build_asgi_app__(self) -> Any:
        tune_gc()
        return create_app(
            self.settings,
            self.models,
            eager=True,
            watch_interval=self.watch_interval,
            loader=RayVersions(self.settings.home),
            explainers=RemoteExplainer,
        )


def ingress_application(
    settings_json: str,
    models: list[str] | None,
    *,
    watch_interval: float = 1.0,
    num_cpus: float = 0.5,
) -> Any:
    """The bound ingress application (one replica: it owns the versions' life cycle)."""
    deployment: Any = serve.deployment(serve.ingress()(Ingress))
    deployment = deployment.options(
        name=INGRESS_DEPLOYMENT,
        num_replicas=1,
        ray_actor_options={"num_cpus": num_cpus},
        max_ongoing_requests=256,
    )
    return deployment.bind(settings_json, models, watch_interval)
