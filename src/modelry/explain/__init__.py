"""Explanations: global permutation importance, local attributions, reason codes.

Everything is keyed by the user's own column names, never by encoded ones. Torch and
Captum are imported only when an :class:`Explainer` is built, so importing this
package costs no more than the serving runtime does.
"""

from modelry.explain.attributions import (
    Explainer,
    Explanation,
    reference_inputs,
    use_one_thread,
)
from modelry.explain.importance import (
    OnnxScorer,
    importance_files,
    importance_png,
    permutation_importance,
)
from modelry.explain.kinds import explainer_for
from modelry.explain.reasons import Reason, format_number, format_value, reasons
from modelry.explain.uplift import UpliftExplainer

__all__ = [
    "Explainer",
    "Explanation",
    "OnnxScorer",
    "Reason",
    "UpliftExplainer",
    "explainer_for",
    "format_number",
    "format_value",
    "importance_files",
    "importance_png",
    "permutation_importance",
    "reasons",
    "reference_inputs",
    "use_one_thread",
]
