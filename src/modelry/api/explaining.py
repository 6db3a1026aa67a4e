"""Explanations over HTTP: the explainer factory the data plane builds explainers with.

``POST /v1/models/{name}:explain`` and a V2 inference request with
``"parameters": {"explain": true}`` both come here. Building an explainer means
importing torch and Captum and rebuilding the network from its safetensors weights
(a second or so), so the data plane does it once per loaded version, on the first
explain request, and keeps it until the version is unloaded or swapped out.

Torch is imported inside :func:`build_explainer` only: serving predictions never loads
it (the import-linter contract on the predict path ignores this one lazy edge, by
name). Both building and explaining run in a worker thread, off the event loop, and
torch is held to one intra-op thread in the process, since requests already run in
parallel threads.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from modelry.errors import InvalidInputError
from modelry.protocol.predictions import relabel_row_error
from modelry.serving.dataplane import DataPlane, Explainer
from modelry.serving.pool import Served
from modelry.serving.runtime import Runtime

_threads_limited = False


def build_explainer(runtime: Runtime) -> Explainer:
    """The explainer of a loaded model (torch and Captum imported here, on first use).

    Raises:
        ConfigError: the model's kind has no explainer.
        ArtifactError: the version has no weights to explain.
    """
    global _threads_limited
    from modelry.explain import Explainer as ModelExplainer
    from modelry.explain import explainer_for, use_one_thread

    explainer = explainer_for(runtime)
    if isinstance(explainer, ModelExplainer) and not _threads_limited:  # the uplift's: no torch
        use_one_thread()
        _threads_limited = True
    return explainer


async def explain_rows(
    plane: DataPlane, served: Served, columns: Mapping[str, Any], prefix: str
) -> list[dict[str, Any]]:
    """One ``Explanation.to_dict()`` per row of ``columns`` (already validated).

    Args:
        plane: The data plane that serves the model.
        served: The model version that predicted the rows.
        columns: The request's columns, as for ``predict``.
        prefix: How the request names rows in errors: ``"instances"`` or ``"inputs"``.

    Raises:
        InvalidInputError: An encoder refused a value (named as ``prefix[row].column``).
        ArtifactError: The version has no weights to explain.
    """
    try:
        explanations = await plane.explain(served, columns)
    except InvalidInputError as exc:
        raise relabel_row_error(exc, prefix) from exc
    return [e.to_dict() for e in explanations]
