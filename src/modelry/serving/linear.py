"""The linear kind: the baseline served in place of a network it beat.

``modelry train`` fits a logistic regression (ridge for a regression) beside every
network; when it is the better model on held-out data, that model is what the version
serves. It is stored as a network without hidden layers (its one-hot coefficients as
embedding tables, see ``LinearBaseline.as_network``), so it is predicted, explained
(attributions of a linear model, through the same integrated gradients) and audited
exactly as a trained network is; only its kind, and so its metadata and model card,
say what it is.
"""

from __future__ import annotations

from modelry.registry.layout import LINEAR_KIND
from modelry.serving.tabular import TabularRuntime


class LinearRuntime(TabularRuntime):
    """A linear model on the fitted preprocessing: the same files and outputs as tabular."""

    kind = LINEAR_KIND
