"""Local explanations: how much each input column moved one prediction.

:class:`Explainer` runs Integrated Gradients (Captum) on the :class:`TabularNet` rebuilt
from ``weights.safetensors`` and ``network.json``, on the served score: P(positive)
for a binary task (the sigmoid output, through the version's calibration if it has one),
the predicted class's probability for a multi-class task, the value for regression.

**Baseline.** The average training row as the network sees it: the mean of the encoded
dense inputs (standardised numbers near zero, one-hot blocks at their training
frequencies) and, for embedded columns, the mean embedding vector over the training
rows. Training stores both in ``network.json`` (``dense_mean``, ``embedding_mean``, see
:func:`reference_inputs`). An average is not a real row, but it is the one reference
that treats every encoding alike and needs no choice per column; "raised the score"
then reads "compared with a typical customer". Artifacts without these keys fall back
to zeros for the dense inputs and the mean of each embedding table.

**Embeddings.** Integer codes have no gradient, so the path runs through the network's
input layer: each code is looked up once and IG interpolates between embedding
vectors. The attributions of the encoded inputs (one-hot slots, bins, missing flags,
embedding dimensions) are summed per original column with ``Preprocessor.groups_``:
callers only ever see their own column names.

**Completeness.** The attributions of a row sum to ``score - baseline_score``: the
path is cut where ReLU units switch and each smooth piece is integrated with a few
Gauss–Legendre nodes in float64 (:mod:`modelry.explain.integration`); the gap Captum
reports as its convergence delta is typically below 1e-7, and a row above the
tolerance is redone with more nodes.

Torch and Captum are imported inside functions: serving and API modules may import
this module without pulling either in.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from modelry.data.columns import ColumnArray
from modelry.data.schema import Task
from modelry.errors import ArtifactError
from modelry.explain.integration import integrate
from modelry.explain.reasons import Reason, reasons, row_value
from modelry.registry.layout import WEIGHTS_FILE
from modelry.serving.tabular import TabularRuntime

if TYPE_CHECKING:
    from torch import Tensor

    from modelry.nn.modules import TabularNet

MAX_STEPS = 256


def reference_inputs(net: Any, dense: np.ndarray, codes: np.ndarray) -> dict[str, Any]:
    """The explanation baseline to store in ``network.json``: the mean training row.

    Args:
        net: The trained :class:`~modelry.nn.modules.TabularNet`.
        dense: The encoded training rows' dense matrix ``[n, D]``.
        codes: Their embedding codes ``[n, E]``.

    Returns:
        ``{"dense_mean": [D floats], "embedding_mean": [[dim floats] per code column]}``.
    """
    dense_mean = np.asarray(dense, dtype=np.float64).mean(axis=0) if len(dense) else None
    embedding_mean = []
    for i, embedding in enumerate(net.embeddings):
        table = embedding.weight.detach().cpu().numpy().astype(np.float64)
        rows = table[codes[:, i]] if len(codes) else table
        embedding_mean.append(rows.mean(axis=0).tolist())
    return {
        "dense_mean": dense_mean.tolist() if dense_mean is not None else [0.0] * dense.shape[1],
        "embedding_mean": embedding_mean,
    }


@dataclass(frozen=True, slots=True)
class Explanation:
    """Why the model scored one row as it did.

    Attributes:
        score: The explained score: P(positive), the predicted class's probability, or
            the predicted value.
        baseline_score: The same output at the baseline (the average training row).
        attributions: Each input column's contribution; they sum to
            ``score - baseline_score``. Largest magnitude first.
        reasons: The top factors in words (see :func:`modelry.explain.reasons.reasons`).
        target: The class whose probability is explained (``None`` for regression).
        delta: The completeness gap ``sum(attributions) - (score - baseline_score)``.
        quantity: What ``score`` is, when it is not the model's probability or value
            (an uplift model: ``"uplift of P(visit) with 'Mens E-Mail' over 'No E-Mail'"``).
    """

    score: float
    baseline_score: float
    attributions: dict[str, float]
    reasons: list[Reason]
    target: str | None = None
    delta: float = 0.0
    quantity: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-able: what HTTP and ``modelry explain --json`` return per row."""
        return {
            "score": self.score,
            "baseline_score": self.baseline_score,
            "target": self.target,
            "attributions": dict(self.attributions),
            "reasons": [r.to_dict() for r in self.reasons],
            "delta": self.delta,
        } | ({"quantity": self.quantity} if self.quantity else {})


@dataclass(frozen=True, slots=True)
class _Spec:
    """The :class:`~modelry.nn.modules.ModelSpec` stored in ``network.json``."""

    hidden: list[int]
    activation: str
    dropout: float
    batch_norm: bool


def _spec(model: Mapping[str, Any]) -> _Spec:
    return _Spec(
        hidden=[int(h) for h in model.get("hidden", [])],
        activation=str(model.get("activation", "relu")),
        dropout=float(model.get("dropout", 0.0)),
        batch_norm=bool(model.get("batch_norm", False)),
    )


def use_one_thread() -> None:
    """Limit torch to one intra-op thread (a server explains requests in parallel threads)."""
    _torch().set_num_threads(1)


def _torch() -> Any:
    # Imported on first use: the API imports this module, and predictions never load torch.
    import torch

    return torch


class Explainer:
    """Per-row attributions of a trained tabular model, keyed by its input columns.

    Args:
        runtime: The model's runtime (loaded here if it is not yet).
        n_steps: Gauss–Legendre nodes per smooth piece of the path to start with (raised
            for a row whose completeness gap exceeds ``tolerance``).
        tolerance: Largest accepted completeness gap, in score units.
        top: Reasons kept per direction (raising and lowering).

    Example:
        >>> explainer = Explainer.from_artifact(Path("models/bank/1"))  # doctest: +SKIP
        >>> [e.to_dict() for e in explainer.explain(columns)]  # doctest: +SKIP
    """

    def __init__(
        self, runtime: TabularRuntime, *, n_steps: int = 8, tolerance: float = 1e-3, top: int = 3
    ) -> None:
        if not runtime.ready:
            runtime.load()
        torch = _torch()
        self.runtime = runtime
        self.n_steps = n_steps
        self.tolerance = tolerance
        self.top = top
        self.task = runtime.task
        self.columns = runtime.input_columns
        self._classes = runtime.schema_classes
        self._net = self._rebuild(runtime)
        network = runtime.network
        n_dense = network.n_dense
        dense_ref = network.dense_mean or [0.0] * n_dense
        embedding_ref = network.embedding_mean or [
            table.detach().mean(dim=0).tolist() for table in self._net.embeddings.parameters()
        ]
        flat = [float(v) for v in dense_ref] + [v for vector in embedding_ref for v in vector]
        self._reference = torch.tensor([flat], dtype=torch.float64)
        self._groups = self._group_matrix(n_dense, len(flat) - n_dense)
        with torch.no_grad():
            self._reference_out = self._forward(self._reference)[0].numpy()

    @classmethod
    def from_artifact(cls, source: str | Path | TabularRuntime, **options: Any) -> Explainer:
        """An explainer of the model version at a directory, or of a runtime.

        Raises:
            ArtifactError: The version is corrupt or has no ``weights.safetensors``.
        """
        if isinstance(source, TabularRuntime):
            return cls(source, **options)
        path = Path(source)
        version = int(path.name) if path.name.isdigit() else 0
        return cls(
            TabularRuntime(path, name=path.parent.name or "model", version=version), **options
        )

    # -- building ---------------------------------------------------------------------------

    def _rebuild(self, runtime: TabularRuntime) -> TabularNet:
        from safetensors import SafetensorError
        from safetensors.torch import load

        from modelry.nn.modules import TabularNet

        assert runtime.artifact is not None
        if WEIGHTS_FILE not in runtime.artifact:
            raise ArtifactError(f"{runtime.path} has no {WEIGHTS_FILE}: it cannot be explained")
        network = runtime.network
        net = TabularNet(
            network.n_dense, list(network.embeddings), _spec(network.model), network.n_outputs
        )
        try:
            net.load_state_dict(load(runtime.artifact.read_bytes(WEIGHTS_FILE)))
        except (RuntimeError, SafetensorError) as exc:
            raise ArtifactError(f"{runtime.path}: weights do not fit network.json: {exc}") from exc
        net = net.double().eval()
        for parameter in net.parameters():
            parameter.requires_grad_(False)
        return net

    def _group_matrix(self, n_dense: int, n_embedded: int) -> np.ndarray:
        """``[D + E, C]`` 0/1 matrix: encoded input → the user's column it came from."""
        preprocessor = self.runtime.preprocessor
        assert preprocessor is not None
        offsets = np.cumsum([0] + [dim for _, _, dim in preprocessor.embeddings_])
        groups = np.zeros((n_dense + n_embedded, len(self.columns)))
        for j, column in enumerate(self.columns):
            group = preprocessor.groups_[column]
            groups[group["dense"], j] = 1.0
            for code in group["codes"]:
                groups[n_dense + offsets[code] : n_dense + offsets[code + 1], j] = 1.0
        return groups

    def _forward(self, inputs: Tensor) -> Tensor:
        """Served outputs from the network's input layer (dense ‖ embedding vectors)."""
        return self._head(self._net.mlp(inputs))

    def _head(self, raw: Tensor) -> Tensor:
        torch = _torch()
        if self.task is Task.BINARY:
            return self._calibrated(raw)
        if self.task is Task.MULTICLASS:
            return torch.softmax(raw, dim=1)  # type: ignore[no-any-return]
        return raw

    def _calibrated(self, raw: Tensor) -> Tensor:
        """The served P(positive): the sigmoid, through the version's calibration if any,
        so that the attributions add up to the probability clients are served."""
        torch = _torch()
        calibration = self.runtime.network.calibration
        if calibration is None:
            return torch.sigmoid(raw)  # type: ignore[no-any-return]
        if calibration.method == "temperature":
            return torch.sigmoid(raw / calibration.temperature)  # type: ignore[no-any-return]
        p = torch.sigmoid(raw)
        if not calibration.x:
            return p  # type: ignore[no-any-return]
        # np.interp in torch (differentiable almost everywhere): the isotonic knots.
        xs = torch.tensor(calibration.x, dtype=raw.dtype)
        ys = torch.tensor(calibration.y, dtype=raw.dtype)
        if xs.numel() == 1:
            return torch.full_like(p, float(ys[0]))  # type: ignore[no-any-return]
        right = torch.searchsorted(xs, p.clamp(xs[0], xs[-1]).contiguous()).clamp(1, xs.numel() - 1)
        x0, x1, y0, y1 = xs[right - 1], xs[right], ys[right - 1], ys[right]
        share = (p.clamp(xs[0], xs[-1]) - x0) / torch.where(x1 > x0, x1 - x0, torch.ones_like(x0))
        return y0 + share * (y1 - y0)  # type: ignore[no-any-return]

    # -- explaining -------------------------------------------------------------------------

    def explain(
        self, columns: Mapping[str, ColumnArray], shown: Mapping[str, Any] | None = None
    ) -> list[Explanation]:
        """One explanation per row of ``columns`` (the same columns ``predict`` takes).

        A column embedded by an upstream model is one feature: its vector's attributions
        are summed (``Preprocessor.groups_``), and reasons quote the text from ``shown``
        (the columns as the client sent them; default: ``columns``).

        Raises:
            InvalidInputError: A column is missing or holds an unusable value.
        """
        torch = _torch()
        preprocessor = self.runtime.preprocessor
        assert preprocessor is not None
        encoded = preprocessor.transform(columns)
        with torch.no_grad():
            codes = torch.from_numpy(encoded.codes)
            parts = [torch.from_numpy(encoded.dense).double()]
            parts += [emb(codes[:, i]) for i, emb in enumerate(self._net.embeddings)]
            inputs = torch.cat(parts, dim=1)
            scores = self._forward(inputs).numpy()
        multiclass = self.task is Task.MULTICLASS
        targets = scores.argmax(axis=1) if multiclass else np.zeros(len(scores), dtype=np.int64)
        encoded_attr, deltas = integrate(
            self._forward,
            self._net.mlp,
            inputs,
            self._reference,
            torch.from_numpy(targets),
            steps=self.n_steps,
            tolerance=self.tolerance,
            max_steps=MAX_STEPS,
        )
        by_column = encoded_attr @ self._groups
        return [
            self._explanation(shown or columns, i, scores, targets, by_column, deltas)
            for i in range(len(scores))
        ]

    def _explanation(
        self,
        columns: Mapping[str, Any],
        i: int,
        scores: np.ndarray,
        targets: np.ndarray,
        by_column: np.ndarray,
        deltas: np.ndarray,
    ) -> Explanation:
        k = int(targets[i])
        attributions = {c: float(v) for c, v in zip(self.columns, by_column[i], strict=True)}
        attributions = dict(sorted(attributions.items(), key=lambda item: -abs(item[1])))
        row = {c: row_value(columns[c], i) for c in self.columns}
        subject = "the prediction" if self.task is Task.REGRESSION else "the score"
        return Explanation(
            score=float(scores[i, k]),
            baseline_score=float(self._reference_out[k]),
            attributions=attributions,
            reasons=reasons(row, attributions, self.top, subject=subject),
            target=self._target_label(k),
            delta=float(deltas[i]),
        )

    def _target_label(self, k: int) -> str | None:
        if self.task is Task.REGRESSION or not self._classes:
            return None
        return self._classes[-1] if self.task is Task.BINARY else self._classes[k]
