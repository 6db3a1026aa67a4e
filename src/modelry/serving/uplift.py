"""The uplift kind: how much a contact changes each customer's chance of converting.

A version holds the fitted preprocessing (``preprocessor.json``), one response model for
the control group (``uplift/control.onnx``: P(outcome | not contacted)) and, per treatment
arm, one for the customers who got that arm (``uplift/treated_<arm>.onnx``): a T-learner.
``uplift/spec.json`` names the arms, their sanitised output names and their files;
``uplift/linear.json`` keeps the same models' coefficients for explanations. The
response models are the linear baseline exported as a network without hidden layers
(``LinearBaseline.as_network``), so they are exact and served by onnxruntime alone.

Outputs, per row:

- ``p_control``: P(outcome) without contact;
- per arm ``p_treated_<arm>`` and ``uplift_<arm> = p_treated_<arm> − p_control``;
- ``uplift``: the largest arm uplift (what targeting ranks on: incremental conversions);
- ``recommended_arm``: the arm of that uplift, or ``""`` when no arm's uplift is positive.

Like every kind on the predict path, it imports neither pandas nor torch.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from modelry.errors import ArtifactError, NotFittedError
from modelry.features.preprocessor import Preprocessor
from modelry.protocol.predictions import Outputs, TensorSpec
from modelry.registry.artifact import load_artifact
from modelry.registry.layout import PREPROCESSOR_FILE
from modelry.serving.runtime import Runtime, make_session, session_runner

UPLIFT_KIND = "uplift"
SPEC_FILE = "uplift/spec.json"
CONTROL_FILE = "uplift/control.onnx"
LINEAR_FILE = "uplift/linear.json"
"""Each response model's coefficients and the average training row: what explanations read
(``modelry.explain.uplift``); serving needs only the ONNX files."""
NO_ARM = ""
"""``recommended_arm`` when no arm is expected to raise the customer's conversion."""


def sanitise(name: str) -> str:
    """An arm's name as it appears in output names: lower case, ``[a-z0-9_]``.

    Example:
        >>> sanitise("Mens E-Mail")
        'mens_e_mail'
    """
    return re.sub(r"[^0-9a-z]+", "_", name.lower()).strip("_") or "arm"


def output_names(arms: Sequence[str]) -> list[str]:
    """Unique sanitised names for ``arms`` (a suffix where two would collide)."""
    names: list[str] = []
    for arm in arms:
        base = candidate = sanitise(arm)
        i = 2
        while candidate in names:
            candidate = f"{base}_{i}"
            i += 1
        names.append(candidate)
    return names


def treated_file(output: str) -> str:
    """The file of an arm's treated-response model."""
    return f"uplift/treated_{output}.onnx"


class _Onnx:
    """One exported binary response model: encoded rows → P(outcome)."""

    def __init__(self, model: bytes) -> None:
        session = make_session(model)
        self._inputs = [i.name for i in session.get_inputs()]
        self._outputs = [o.name for o in session.get_outputs()]
        self._run = session_runner(session)
        self.session = session

    def __call__(self, dense: np.ndarray, codes: np.ndarray) -> np.ndarray:
        feeds = {"dense": dense} if len(self._inputs) == 1 else {"dense": dense, "codes": codes}
        out: np.ndarray = self._run(self._outputs, feeds, None)[0]
        return np.asarray(out[:, 0], dtype=np.float32)


class UpliftRuntime(Runtime):
    """A T-learner per treatment arm on the fitted preprocessing (see the module)."""

    kind = UPLIFT_KIND

    def load(self) -> None:
        artifact = load_artifact(self.path)
        spec = artifact.read_json(SPEC_FILE)
        try:
            self.arms: list[str] = [str(a["arm"]) for a in spec["arms"]]
            self.arm_outputs: list[str] = [str(a["output"]) for a in spec["arms"]]
            self.control: str = str(spec["control"])
            files = [str(a["model"]) for a in spec["arms"]]
        except (KeyError, TypeError) as exc:
            raise ArtifactError(f"{self.path}/{SPEC_FILE} is malformed: {exc}") from exc
        if not self.arms:
            raise ArtifactError(f"{self.path}/{SPEC_FILE} names no treatment arm")
        self.spec: dict[str, Any] = spec
        self.preprocessor: Preprocessor | None = Preprocessor.from_dict(
            artifact.read_json(PREPROCESSOR_FILE)
        )
        self._control: _Onnx | None = _Onnx(artifact.read_bytes(CONTROL_FILE))
        self._treated = [_Onnx(artifact.read_bytes(f)) for f in files]
        self._labels = np.asarray([NO_ARM, *self.arms], dtype=object)
        self.inputs = [
            TensorSpec(name, "FP64" if kind == "number" else "BYTES")
            for name, kind in self.preprocessor.input_kinds().items()
        ]
        self.outputs = [
            TensorSpec("uplift", "FP32"),
            TensorSpec("recommended_arm", "BYTES"),
            TensorSpec("p_control", "FP32"),
            *(TensorSpec(f"uplift_{o}", "FP32") for o in self.arm_outputs),
            *(TensorSpec(f"p_treated_{o}", "FP32") for o in self.arm_outputs),
        ]

    def unload(self) -> None:
        # The onnxruntime sessions too, as the tabular kind does: an unloaded version that
        # the pool still references would otherwise hold one session per arm.
        self.preprocessor = None
        self._control, self._treated = None, []
        super().unload()

    def parameters(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "arms": dict(zip(self.arm_outputs, self.arms, strict=True)),
            "control": self.control,
            "treatment": self.spec.get("treatment"),
            "outcome": self.spec.get("outcome"),
        }

    def predict(self, columns: Mapping[str, Any]) -> Outputs:
        if self.preprocessor is None or self._control is None:
            raise NotFittedError(f"model {self.name}:{self.version} is not loaded")
        encoded = self.preprocessor.transform(columns)
        dense, codes = encoded.dense, encoded.codes
        p_control = self._control(dense, codes)
        treated = [model(dense, codes) for model in self._treated]
        uplifts = np.stack([p - p_control for p in treated], axis=1)
        best = uplifts.argmax(axis=1)
        top = uplifts[np.arange(uplifts.shape[0]), best]
        # Index 0 of the labels is "no arm": taken where even the best arm does not help.
        chosen = np.where(top > 0, best + 1, 0)
        out: dict[str, np.ndarray] = {
            "uplift": top.astype(np.float32),
            "recommended_arm": self._labels[chosen],
            "p_control": p_control,
        }
        for i, name in enumerate(self.arm_outputs):
            out[f"uplift_{name}"] = uplifts[:, i].astype(np.float32)
        for name, p in zip(self.arm_outputs, treated, strict=True):
            out[f"p_treated_{name}"] = p
        return out
