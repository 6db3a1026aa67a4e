"""Which explainer explains a served kind: the one place that maps a runtime to it.

The tabular and linear kinds (a network on a table) get Integrated Gradients
(:class:`~modelry.explain.attributions.Explainer`, torch imported when it is built);
the uplift kind gets its exact, closed-form attributions
(:class:`~modelry.explain.uplift.UpliftExplainer`, no torch). HTTP, ``modelry explain``
and ``marketing target --reasons`` all ask here, so a kind made explainable is so
everywhere at once.
"""

from __future__ import annotations

from modelry.errors import ConfigError
from modelry.explain.attributions import Explainer
from modelry.explain.uplift import UpliftExplainer
from modelry.serving.runtime import Runtime
from modelry.serving.tabular import TabularRuntime
from modelry.serving.uplift import UpliftRuntime


def explainer_for(runtime: Runtime, *, top: int = 3) -> Explainer | UpliftExplainer:
    """The explainer of ``runtime``'s kind (the runtime is loaded if it is not yet).

    Args:
        top: Reasons kept per direction.

    Raises:
        ConfigError: The kind has no explainer.
        ArtifactError: The version lacks what its explainer reads (weights, coefficients).
    """
    if isinstance(runtime, UpliftRuntime):
        return UpliftExplainer(runtime, top=top)
    if isinstance(runtime, TabularRuntime):
        return Explainer(runtime, top=top)
    raise ConfigError(f"models of kind {runtime.kind!r} cannot be explained yet")
