"""Explanations over HTTP: one explainer per loaded model version, built on first use.

``POST /v1/models/{name}:explain`` and a V2 inference request with
``"parameters": {"explain": true}`` both come here. Building an explainer means
importing torch and Captum and rebuilding the network from its safetensors weights
(a second or so), so it happens once per loaded version, on the first explain request,
and is cached on the pool entry (:attr:`modelry.serving.pool.Served.explainer`); the pool
drops it with the version on unload or hot swap.

Torch is imported inside :func:`_build` only: serving predictions never loads it (the
import-linter contract on the predict path ignores this one lazy edge, by name). Both
building and explaining run in Starlette's thread pool, off the event loop, and torch
is held to one intra-op thread in the process, since requests already run in parallel
threads.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool

from modelry.errors import InvalidInputError
from modelry.protocol.predictions import relabel_row_error
from modelry.serving.pool import Served

if TYPE_CHECKING:
    from modelry.explain import Explainer
    from modelry.serving.runtime import TabularRuntime

_threads_limited = False


def _build(runtime: TabularRuntime) -> Explainer:
    global _threads_limited
    from modelry.explain import Explainer, use_one_thread

    explainer = Explainer.from_artifact(runtime)  # MissingExtraError names the extra
    if not _threads_limited:
        use_one_thread()
        _threads_limited = True
    return explainer


async def explainer_for(served: Served) -> Explainer:
    """The version's explainer, built (off the event loop) by the first caller."""
    if served.explainer is None:
        async with served.explain_lock():
            if served.explainer is None:
                served.explainer = await run_in_threadpool(_build, served.runtime)
    explainer: Explainer = served.explainer
    return explainer


async def explain_rows(
    served: Served, columns: Mapping[str, Any], prefix: str
) -> list[dict[str, Any]]:
    """One ``Explanation.to_dict()`` per row of ``columns`` (already validated).

    Args:
        served: The model version that predicted the rows.
        columns: The request's columns, as for ``predict``.
        prefix: How the request names rows in errors: ``"instances"`` or ``"inputs"``.

    Raises:
        InvalidInputError: An encoder refused a value (named as ``prefix[row].column``).
        ArtifactError: The version has no weights to explain.
        MissingExtraError: Captum is not installed.
    """
    with served.hold():  # a hot swap mid-request must not unload the runtime under us
        explainer = await explainer_for(served)
        try:
            explanations = await run_in_threadpool(explainer.explain, columns)
        except InvalidInputError as exc:
            raise relabel_row_error(exc, prefix) from exc
    return [e.to_dict() for e in explanations]
