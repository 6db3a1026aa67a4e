"""Explanations of an uplift model: why the campaign is expected to change this customer.

The served uplift is ``p_treated − p_control`` of the row's recommended arm (the arm of
the largest uplift), where each response model is a logistic regression on the fitted
preprocessing: ``p = σ(z)``, ``z = b + w·x`` linear in the encoded inputs ``x`` (dense
values, and one coefficient per category of each code column).

**Scale: probability.** The explained quantity is the served ``uplift`` itself, in
probability points, against the uplift of the average training row (the reference: the
mean of the dense inputs, and each code column's categories at their training
frequencies). Each response model's attributions are its Integrated Gradients along the
straight path from the reference to the row, which for ``σ`` of a linear function are
exact in closed form: a column's share of the logit change times the probability change,
``a_j = c_j · (σ(z_x) − σ(z_ref)) / (z_x − z_ref)`` with ``c_j = Σ_{k ∈ j} w_k (x_k −
ref_k)``. IG is linear in the function explained, so the uplift's attributions are the
treated model's minus the control's, and they add up exactly (to float64 rounding) to
``uplift − baseline uplift``. Nothing is sampled or integrated numerically; no torch.

The coefficients and the reference are written with the version (``uplift/linear.json``,
by :func:`modelry.apps.marketing.uplift.train_uplift`); a version trained before then
cannot be explained (train it again).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from modelry.data.columns import ColumnArray
from modelry.errors import ArtifactError, NotFittedError
from modelry.explain.attributions import Explanation
from modelry.explain.reasons import reasons, row_value
from modelry.registry.artifact import load_artifact
from modelry.serving.uplift import LINEAR_FILE, UpliftRuntime

TINY = 1e-12
"""Below this logit change, the path's slope is the sigmoid's derivative at the reference."""


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return np.asarray(np.exp(-np.logaddexp(0.0, -z)))


class _Linear:
    """One response model's logit, split per user column against the reference."""

    def __init__(self, doc: Mapping[str, Any], reference: _Reference) -> None:
        self.bias = float(doc["bias"])
        self.dense = np.asarray(doc["dense"], dtype=np.float64)
        self.tables = [np.asarray(t, dtype=np.float64) for t in doc["codes"]]
        if self.dense.size != reference.dense.size or len(self.tables) != len(reference.codes):
            raise ArtifactError(f"{LINEAR_FILE}: a model's coefficients do not fit its inputs")
        self.reference_codes = [
            float(t @ f) for t, f in zip(self.tables, reference.codes, strict=True)
        ]
        self.z_reference = (
            self.bias + float(self.dense @ reference.dense) + sum(self.reference_codes)
        )

    def contributions(
        self, dense: np.ndarray, codes: np.ndarray, reference: _Reference
    ) -> tuple[np.ndarray, np.ndarray]:
        """``(c, z)``: each user column's logit contribution ``[n, C]`` and the logit ``[n]``."""
        by_dense = (dense - reference.dense) * self.dense
        by_code = np.stack(
            [t[codes[:, e]] - self.reference_codes[e] for e, t in enumerate(self.tables)], axis=1
        ) if self.tables else np.zeros((dense.shape[0], 0))  # fmt: skip
        c = by_dense @ reference.dense_groups + by_code @ reference.code_groups
        return c, self.z_reference + by_dense.sum(axis=1) + by_code.sum(axis=1)

    def attributions(
        self, dense: np.ndarray, codes: np.ndarray, reference: _Reference
    ) -> tuple[np.ndarray, np.ndarray]:
        """Integrated Gradients of ``σ(z)`` per user column ``[n, C]``, and ``σ(z)`` ``[n]``."""
        c, z = self.contributions(dense, codes, reference)
        p, p_reference = _sigmoid(z), float(_sigmoid(np.array(self.z_reference)))
        dz = z - self.z_reference
        flat = np.abs(dz) < TINY
        slope = np.where(flat, p_reference * (1 - p_reference), (p - p_reference) / np.where(
            flat, 1.0, dz
        ))  # fmt: skip
        return c * slope[:, None], p


class _Reference:
    """The average training row and the encoded-input → user-column maps."""

    def __init__(self, doc: Mapping[str, Any], columns: list[str], groups: Mapping[str, Any]):
        self.dense = np.asarray(doc["dense"], dtype=np.float64)
        self.codes = [np.asarray(f, dtype=np.float64) for f in doc["codes"]]
        self.dense_groups = np.zeros((self.dense.size, len(columns)))
        self.code_groups = np.zeros((len(self.codes), len(columns)))
        for j, column in enumerate(columns):
            self.dense_groups[groups[column]["dense"], j] = 1.0
            self.code_groups[groups[column]["codes"], j] = 1.0


class UpliftExplainer:
    """Per-row attributions of an uplift model's served ``uplift`` (see the module).

    Args:
        runtime: The uplift model's runtime (loaded here if it is not yet).
        top: Reasons kept per direction (raising and lowering the uplift).

    Raises:
        ArtifactError: the version has no ``uplift/linear.json`` (trained before uplift
            explanations) or it does not fit the version.
    """

    def __init__(self, runtime: UpliftRuntime, *, top: int = 3) -> None:
        if runtime.preprocessor is None:
            runtime.load()
        preprocessor = runtime.preprocessor
        if preprocessor is None:
            raise NotFittedError(f"model {runtime.name}:{runtime.version} is not loaded")
        artifact = load_artifact(runtime.path)
        if LINEAR_FILE not in artifact:
            raise ArtifactError(
                f"{runtime.name}:{runtime.version} has no {LINEAR_FILE} (trained before uplift "
                "explanations existed): train it again with modelry marketing uplift"
            )
        doc = artifact.read_json(LINEAR_FILE)
        self.runtime = runtime
        self.top = top
        self.preprocessor = preprocessor
        self.columns = list(preprocessor.input_columns)
        try:
            self._reference = _Reference(doc["reference"], self.columns, preprocessor.groups_)
            models = doc["models"]
            self._control = _Linear(models["control"], self._reference)
            self._treated = [_Linear(models[o], self._reference) for o in runtime.arm_outputs]
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise ArtifactError(f"{runtime.path}/{LINEAR_FILE} is malformed: {exc}") from exc
        outcome = runtime.spec.get("outcome") or "outcome"
        self._quantity = [
            f"uplift of P({outcome}) with {arm!r} over {runtime.control!r}" for arm in runtime.arms
        ]

    def explain(
        self, columns: Mapping[str, ColumnArray], shown: Mapping[str, Any] | None = None
    ) -> list[Explanation]:
        """One explanation per row of the served ``uplift`` (the recommended arm's).

        ``shown`` (the columns as sent, where an upstream model replaced some) is unused:
        the uplift kind takes no column from another model.

        Raises:
            InvalidInputError: A column is missing or holds an unusable value.
        """
        encoded = self.preprocessor.transform(columns)
        dense = np.asarray(encoded.dense, dtype=np.float64)
        codes, reference = encoded.codes, self._reference
        control, p_control = self._control.attributions(dense, codes, reference)
        control_reference = float(_sigmoid(np.array(self._control.z_reference)))
        per_arm = [model.attributions(dense, codes, reference) for model in self._treated]
        uplift = np.stack([p - p_control for _, p in per_arm], axis=1)
        best = uplift.argmax(axis=1)  # as the runtime chooses the served uplift
        out = []
        for i, k in enumerate(best.tolist()):
            treated, _ = per_arm[k]
            effects = treated[i] - control[i]
            baseline = float(_sigmoid(np.array(self._treated[k].z_reference))) - control_reference
            score = float(uplift[i, k])
            attributions = {c: float(v) for c, v in zip(self.columns, effects, strict=True)}
            attributions = dict(sorted(attributions.items(), key=lambda item: -abs(item[1])))
            row = {c: row_value(columns[c], i) for c in self.columns}
            out.append(
                Explanation(
                    score=score,
                    baseline_score=baseline,
                    attributions=attributions,
                    reasons=reasons(row, attributions, self.top, subject="the uplift"),
                    target=self.runtime.arms[k],
                    delta=float(effects.sum() - (score - baseline)),
                    quantity=self._quantity[k],
                )
            )
        return out
