"""``modelry models`` and ``modelry predict`` over a real registry."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from modelry.cli.demo import campaign_table, write_csv


@pytest.fixture
def trained(cli, tmp_path: Path) -> Path:  # type: ignore[no-untyped-def]
    data = write_csv(campaign_table(800, seed=5), tmp_path / "c.csv")
    for _ in range(2):
        result = cli("train", str(data), "--target", "responded", "--epochs", "2", "--json")
        assert result.code == 0, result.err
    return data


def test_list_show_promote_delete(cli, trained: Path) -> None:  # type: ignore[no-untyped-def]
    listed = json.loads(cli("models", "list", "--json").out)
    assert listed["models"][0]["name"] == "c" and listed["models"][0]["latest_version"] == 2
    shown = json.loads(cli("models", "show", "c", "--json").out)
    assert shown["version"] == 2  # no production alias yet: the latest
    assert cli("models", "promote", "c", "1", "--alias", "production").code == 0
    assert json.loads(cli("models", "show", "c", "--json").out)["version"] == 1
    assert json.loads(cli("models", "show", "c:2", "--json").out)["lineage"]["data"]["sha256"]
    refused = cli("models", "delete", "c:1")
    assert refused.code != 0 and "production" in refused.err
    assert cli("models", "delete", "c:2").code == 0
    missing = cli("models", "show", "c:2")
    assert missing.code != 0 and "2" in missing.err


def test_unknown_model_is_a_clear_error(cli, home: Path) -> None:  # type: ignore[no-untyped-def]
    result = cli("models", "show", "nothing")
    assert result.code != 0 and "nothing" in result.err and "Traceback" not in result.err


def test_predict_scores_every_row_like_the_runtime(cli, trained: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from modelry.registry.store import Registry
    from modelry.serving.tabular import TabularRuntime
    from modelry.settings import Settings

    out = tmp_path / "scored.csv"
    result = cli("predict", "c", str(trained), "-o", str(out), "--batch-rows", "300", "--json")
    assert result.code == 0, result.err
    assert json.loads(result.out)["rows"] == 800
    with out.open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 800 and {"prediction", "score", "age", "job"} <= set(rows[0])
    version = Registry(Settings()).resolve("c")
    runtime = TabularRuntime(version.path, name="c", version=version.version)
    runtime.load()
    columns = {
        "age": np.array([float(r["age"]) for r in rows]),
        "job": np.array([r["job"] for r in rows], dtype=object),
        "balance": np.array([float(r["balance"]) for r in rows]),
        "contacts": np.array([float(r["contacts"]) for r in rows]),
        "channel": np.array([r["channel"] for r in rows], dtype=object),
        "purchased_before": np.array([r["purchased_before"] for r in rows], dtype=object),
    }
    expected = runtime.scores(columns)
    np.testing.assert_allclose([float(r["score"]) for r in rows], expected, atol=1e-6)
    assert rows[0]["age"] == str(int(float(rows[0]["age"])))  # integers stay integers
