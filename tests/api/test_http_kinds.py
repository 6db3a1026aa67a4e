"""A model kind from outside modelry, served over V1, V2 and batch scoring; bad kinds refused.

The kind lives in ``tests/serving/plugin`` (a module and the dist-info folder that
``pip install`` would write for it, declaring ``modelry.kinds`` entry points): nothing in
``src/`` names it. The server is a real uvicorn process on loopback with that folder on
its ``PYTHONPATH``, as an installed plug-in would be.
"""

from __future__ import annotations

import asyncio
import csv
import importlib
import os
import subprocess
import sys
from pathlib import Path

import httpx
import numpy as np
import pytest
import tritonclient.http as triton
from servekit import live_server, serving

from modelry.errors import ArtifactError
from modelry.registry.store import Registry
from modelry.serving.kinds import kind_names, open_runtime, runtime_class
from modelry.settings import Settings

PLUGIN = Path(__file__).resolve().parents[1] / "serving" / "plugin"


@pytest.fixture
def plugin(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(PLUGIN))
    importlib.invalidate_caches()


def register(home: Path, name: str, kind: str, scale: float = 1.0) -> Path:
    """A version of ``kind`` written and registered as any kind's would be."""
    registry = Registry(Settings(home=home))
    with registry.new_artifact() as writer:
        writer.write_json("wordcount.json", {"scale": scale})
        staged = writer.finish({"name": name, "kind": kind})
        version = registry.register(name, staged, task=kind, metrics={}, lineage={})
    return Path(version.path)


def test_plugged_kinds_are_found_by_name(plugin: None, tmp_path: Path) -> None:
    assert {"tabular", "wordcount", "liar"} <= set(kind_names())
    assert runtime_class("wordcount").__module__ == "wordcount_kind"
    with pytest.raises(ArtifactError, match=r"unknown model kind 'nonesuch'; .*tabular"):
        runtime_class("nonesuch")
    runtime = open_runtime(register(tmp_path, "words", "wordcount", 2.0), "words", 1)
    assert runtime.ready and runtime.predict({"text": ["to be"]})["words"].tolist() == [2]
    with pytest.raises(ArtifactError, match=r"kind 'liar'.*dtype float64 .* declared INT64"):
        open_runtime(register(tmp_path, "broken", "liar"), "broken", 1)


def test_plugged_kind_over_v1_and_v2_while_bad_kinds_are_refused(tmp_path: Path) -> None:
    register(tmp_path, "words", "wordcount", 2.0)
    register(tmp_path, "broken", "liar")
    ghost = register(tmp_path, "ghost", "wordcount")
    manifest = ghost / "manifest.json"  # a manifest naming a kind nobody installed
    manifest.write_text(manifest.read_text().replace('"wordcount"', '"nonesuch"'))
    pythonpath = os.pathsep.join([str(PLUGIN), os.environ.get("PYTHONPATH", "")])
    with live_server(tmp_path, PYTHONPATH=pythonpath) as url:
        v1 = httpx.post(
            f"{url}/v1/models/words:predict", json={"instances": [{"text": "to be or not"}]}
        )
        assert v1.status_code == 200, v1.text
        assert v1.json()["predictions"] == [
            {"words": 4, "shape": {"characters": 24.0, "mean_word": 2.25}}
        ]
        meta = httpx.get(f"{url}/v2/models/words").json()
        assert meta["inputs"] == [{"name": "text", "datatype": "BYTES", "shape": [-1]}]
        assert meta["outputs"][1] == {"name": "shape", "datatype": "FP32", "shape": [-1, 2]}
        assert meta["parameters"]["kind"] == "wordcount"

        client = triton.InferenceServerClient(url.removeprefix("http://"))
        text = triton.InferInput("text", [2], "BYTES")
        text.set_data_from_numpy(np.array(["a bc", "hello"], dtype=object))
        result = client.infer("words", [text])
        assert result.as_numpy("words").tolist() == [2, 1]
        assert result.as_numpy("shape").shape == (2, 2)
        assert result.as_numpy("shape")[:, 1].tolist() == [1.5, 5.0]

        for name, message in (
            ("broken", "dtype float64 does not match the declared INT64"),
            ("ghost", "unknown model kind 'nonesuch'"),
        ):
            bad = httpx.post(f"{url}/v1/models/{name}:predict", json={"instances": []})
            assert bad.status_code == 500 and message in bad.json()["error"], bad.text
        # the bad kinds cost nothing to the others
        again = httpx.post(f"{url}/v1/models/words:predict", json={"instances": [{"text": "x"}]})
        assert again.status_code == 200 and again.json()["predictions"][0]["words"] == 1


@pytest.mark.anyio
async def test_a_model_takes_a_column_from_another_served_model(
    plugin: None, tmp_path: Path
) -> None:
    register(tmp_path, "words", "wordcount")
    register(tmp_path, "long", "longtext", 10.0)  # long: more than 10 characters
    texts = ["a short one", "tiny", "a rather longer text", ""]
    async with serving(Settings(home=tmp_path), batching={}) as client:
        answers = await asyncio.gather(
            *(
                client.post("/v1/models/long:predict", json={"instances": [{"text": t}]})
                for t in texts
            )
        )
        assert [a.json()["predictions"][0]["long"] for a in answers] == [
            True,
            False,
            True,
            False,
        ]
        v2 = await client.post(
            "/v2/models/long/infer",
            json={
                "inputs": [{"name": "text", "datatype": "BYTES", "shape": [2], "data": texts[:2]}]
            },
        )
        assert v2.status_code == 200, v2.text
        assert v2.json()["outputs"] == [
            {"name": "long", "datatype": "BOOL", "shape": [2], "data": [True, False]}
        ]
        listed = (await client.get("/v1/models")).json()["models"]
        loaded = {m["name"]: m["loaded_versions"] for m in listed}
        assert loaded == {"words": [1], "long": [1]}  # the upstream model, loaded once
    with pytest.raises(ArtifactError, match="upstream column 'nope'"):
        from wordcount_kind import LongText  # type: ignore[import-not-found]

        class Misdeclared(LongText):  # type: ignore[misc]
            upstream = {"nope": LongText.upstream["text"]}  # noqa: RUF012

        from modelry.serving.kinds import check_runtime

        check_runtime(Misdeclared(tmp_path, "bad", 1))


def test_plugged_kind_scores_a_file(tmp_path: Path) -> None:
    register(tmp_path, "words", "wordcount")
    source, scored = tmp_path / "texts.csv", tmp_path / "scored.csv"
    with source.open("w", newline="") as f:
        csv.writer(f).writerows([["id", "text"], [1, "one two three"], [2, ""]])
    env = {
        **os.environ,
        "MODELRY_HOME": str(tmp_path),
        "PYTHONPATH": os.pathsep.join([str(PLUGIN), os.environ.get("PYTHONPATH", "")]),
    }
    command = [sys.executable, "-m", "modelry.cli.main", "predict", "words", str(source)]
    done = subprocess.run(
        [*command, "-o", str(scored)], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    rows = list(csv.DictReader(scored.open()))
    assert [r["words"] for r in rows] == ["3", "0"]
    assert rows[0]["id"] == "1" and rows[0]["shape_characters"] == "13"
    assert set(rows[0]) == {"id", "text", "words", "shape_characters", "shape_mean_word"}
