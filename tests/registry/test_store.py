"""The registry index, on SQLite and (when configured) PostgreSQL."""

from __future__ import annotations

import multiprocessing
import queue
import re
from datetime import UTC
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert

import modelry.registry.store as store_module
from modelry.errors import ArtifactError, ConfigError, ConflictError, NotFoundError
from modelry.registry.artifact import load_artifact
from modelry.registry.db import engine_for, versions_t
from modelry.registry.store import ModelVersion, Registry
from modelry.settings import Settings


def stage(registry: Registry, payload: bytes = b"weights") -> Path:
    with registry.new_artifact() as writer:
        writer.write_bytes("model.onnx", payload)
        writer.write_json("config.json", {"payload": payload.decode()})
        return writer.finish({"kind": "test"})


def register(registry: Registry, name: str = "churn", payload: bytes = b"w") -> ModelVersion:
    return registry.register(
        name,
        stage(registry, payload),
        task="binary",
        metrics={"auc": 0.91, "undefined": float("nan")},
        lineage={"data": "sha256:abc", "libs": {"torch": "2.13"}},
        description="first try",
    )


def test_register_allocates_versions(registry: Registry) -> None:
    first = register(registry, payload=b"one")
    second = register(registry, payload=b"two")
    assert (first.version, second.version) == (1, 2)
    assert first.ref == "churn:1"
    assert first.path == registry.models_dir / "churn" / "1"
    assert load_artifact(second.path).read_bytes("model.onnx") == b"two"
    assert first.task == "binary" and first.description == "first try"
    assert first.metrics == {"auc": 0.91, "undefined": None}
    assert first.lineage["libs"] == {"torch": "2.13"}
    assert first.created_at.tzinfo is not None
    assert first.created_at.utcoffset() == UTC.utcoffset(None)
    assert first.created_by
    assert first.aliases == []
    assert first.to_dict()["ref"] == "churn:1"
    # Nothing is left in the staging area once committed.
    assert list((registry.models_dir / ".staging").iterdir()) == []


def test_get_resolution_rules(registry: Registry) -> None:
    for payload in (b"1", b"2", b"3"):
        register(registry, payload=payload)
    assert registry.get("churn").version == 3  # latest without a production alias
    registry.set_alias("churn", "production", 2)
    registry.set_alias("churn", "staging", 3)
    assert registry.get("churn").version == 2  # production wins over latest
    assert registry.get("churn", "latest").version == 3
    assert registry.get("churn", 1).version == 1
    assert registry.get("churn", "1").version == 1
    assert registry.get("churn", "staging").version == 3
    assert registry.get("churn", 2).aliases == ["production"]
    assert registry.resolve("churn").version == 2
    assert registry.resolve("churn:3").version == 3
    assert registry.resolve("churn:staging").aliases == ["staging"]
    assert registry.aliases("churn") == {"production": 2, "staging": 3}
    # Moving an alias is an upsert.
    registry.set_alias("churn", "production", 3)
    assert registry.get("churn").version == 3
    assert sorted(registry.get("churn", 3).aliases) == ["production", "staging"]
    registry.remove_alias("churn", "production")
    assert registry.aliases("churn") == {"staging": 3}
    with pytest.raises(NotFoundError, match="has no alias 'production'"):
        registry.remove_alias("churn", "production")


def test_not_found_messages(registry: Registry) -> None:
    with pytest.raises(NotFoundError) as info:
        registry.get("x")
    assert info.value.message == "no model named 'x'; registered models: (none)"
    register(registry, "b")
    register(registry, "a")
    register(registry, "a")
    with pytest.raises(NotFoundError) as info:
        registry.get("x")
    assert info.value.message == "no model named 'x'; registered models: a, b"
    with pytest.raises(NotFoundError) as info:
        registry.get("a", 7)
    assert info.value.message == "model 'a' has no version 7; versions: 1, 2"
    assert info.value.status_code == 404
    with pytest.raises(NotFoundError, match="model 'a' has no alias 'staging'"):
        registry.get("a", "staging")
    with pytest.raises(NotFoundError, match="no version 9"):
        registry.set_alias("a", "production", 9)
    with pytest.raises(NotFoundError, match="no model named 'zzz'"):
        registry.versions("zzz")
    with pytest.raises(NotFoundError, match="no model named 'zzz'"):
        registry.resolve("zzz:1")


@pytest.mark.parametrize("bad", ["../evil", "a/b", "", "-x", "a" * 65, "has space", "/etc", ".x"])
def test_bad_names_are_config_errors(registry: Registry, bad: str) -> None:
    with pytest.raises(ConfigError, match="invalid model name") as info:
        registry.get(bad)
    assert repr(bad) in info.value.message and "1–64 characters" in info.value.message
    with pytest.raises(ConfigError):
        registry.register(bad, stage(registry), task="t", metrics={}, lineage={})
    assert not (registry.models_dir.parent / "evil").exists()


def test_name_rules(registry: Registry) -> None:
    assert registry.validate_name("a" * 64) == "a" * 64
    assert registry.validate_name("Churn_v2.1-beta") == "Churn_v2.1-beta"
    assert registry.validate_alias("v2") == "v2"
    register(registry)
    with pytest.raises(ConfigError, match="all digits"):
        registry.set_alias("churn", "123", 1)
    with pytest.raises(ConfigError, match="reserved"):
        registry.set_alias("churn", "latest", 1)
    with pytest.raises(ConfigError, match="invalid alias"):
        registry.set_alias("churn", "../prod", 1)
    with pytest.raises(ConfigError, match="bad model reference"):
        registry.resolve("churn:")


def test_list_models_and_versions(registry: Registry) -> None:
    assert registry.list_models() == []
    register(registry, "churn")
    register(registry, "churn")
    register(registry, "attrition")
    registry.set_alias("churn", "production", 1)
    summaries = registry.list_models()
    assert [(s.name, s.latest_version, s.n_versions, s.aliases) for s in summaries] == [
        ("attrition", 1, 1, {}),
        ("churn", 2, 2, {"production": 1}),
    ]
    assert [v.version for v in registry.versions("churn")] == [1, 2]
    assert registry.aliases("attrition") == {}


def test_delete(registry: Registry) -> None:
    one = register(registry)
    register(registry)
    registry.set_alias("churn", "production", 1)
    with pytest.raises(ConflictError, match="aliased as production"):
        registry.delete("churn", 1)
    assert one.path.is_dir()
    registry.delete("churn", 1, force=True)
    assert not one.path.exists()
    assert registry.aliases("churn") == {}
    assert [v.version for v in registry.versions("churn")] == [2]
    with pytest.raises(NotFoundError, match="no version 1"):
        registry.get("churn", 1)
    registry.delete("churn", 2)
    with pytest.raises(NotFoundError, match="no model named 'churn'"):
        registry.get("churn")
    # A deleted number is never handed out again.
    assert register(registry).version == 3
    assert list((registry.models_dir / ".trash").iterdir()) == []


def test_revision_moves_on_visible_changes(registry: Registry, settings: Settings) -> None:
    token = registry.revision()
    assert not registry.changed_since(token)
    register(registry)
    other = Registry(settings)  # another process would see the same counter
    assert other.changed_since(token)
    token = other.revision()
    registry.set_alias("churn", "production", 1)
    assert other.changed_since(token)
    token = other.revision()
    registry.get("churn")
    assert not other.changed_since(token)


def test_bad_metrics_are_refused(registry: Registry) -> None:
    with pytest.raises(ConfigError, match="metrics of 'churn' must be JSON"):
        registry.register("churn", stage(registry), task="t", metrics={"x": object()}, lineage={})


def test_tampered_stage_is_refused(registry: Registry) -> None:
    staged = stage(registry)
    (staged / "model.onnx").write_bytes(b"evil")
    with pytest.raises(ArtifactError, match=re.escape("model.onnx does not match")):
        registry.register("churn", staged, task="t", metrics={}, lineage={})
    with pytest.raises(NotFoundError):
        registry.get("churn")


def test_crash_in_commit_leaves_nothing(
    registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    def crash(staged: Path, final: Path) -> None:
        raise OSError("disk on fire")

    monkeypatch.setattr(store_module, "commit_dir", crash)
    token = registry.revision()
    with pytest.raises(OSError, match="disk on fire"):
        register(registry)
    with pytest.raises(NotFoundError):
        registry.get("churn")
    assert registry.list_models() == []
    assert not (registry.models_dir / "churn" / "1").exists()
    assert not registry.changed_since(token)
    monkeypatch.undo()
    assert register(registry).version == 1


def test_crash_when_marking_ready_hands_the_stage_back(
    registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    def crash(conn: Any) -> None:
        raise RuntimeError("database went away")

    monkeypatch.setattr(Registry, "_bump", staticmethod(crash))
    staged = stage(registry)
    with pytest.raises(RuntimeError, match="went away"):
        registry.register("churn", staged, task="t", metrics={}, lineage={})
    monkeypatch.undo()
    assert staged.is_dir() and not (registry.models_dir / "churn" / "1").exists()
    assert registry.register("churn", staged, task="t", metrics={}, lineage={}).version == 1


def test_staged_dir_removed_before_commit(registry: Registry) -> None:
    staged = stage(registry)
    load_artifact(staged)
    for item in staged.iterdir():
        item.unlink()
    staged.rmdir()
    with pytest.raises(NotFoundError):
        registry.register("churn", staged, task="t", metrics={}, lineage={})
    assert registry.list_models() == []
    assert register(registry).version == 1


def test_pending_row_of_a_killed_process_is_invisible(
    registry: Registry, settings: Settings
) -> None:
    register(registry)
    with engine_for(settings.registry_url).begin() as conn:
        conn.execute(
            insert(versions_t).values(
                name="churn",
                version=2,
                status="pending",
                path="churn/2",
                created_at="x",
                created_by="x",
                task="t",
                metrics={},
                lineage={},
                description="",
            )
        )
    assert [v.version for v in registry.versions("churn")] == [1]
    assert registry.get("churn").version == 1
    with pytest.raises(NotFoundError):
        registry.set_alias("churn", "production", 2)
    assert register(registry).version == 3


def _register_in_child(home: str, url: str, barrier: Any, results: Any, index: int) -> None:
    registry = Registry(Settings.model_validate({"home": home, "MODELRY_REGISTRY_URL": url}))
    staged = stage(registry, payload=f"worker-{index}".encode())
    barrier.wait(timeout=60)
    try:
        version = registry.register("shared", staged, task="t", metrics={}, lineage={"i": index})
        results.put((index, version.version))
    except BaseException as exc:  # report, so the parent fails with the cause
        results.put((index, repr(exc)))


@pytest.mark.slow
def test_concurrent_registers_get_distinct_versions(registry: Registry, settings: Settings) -> None:
    n = 8
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(n)
    results = ctx.Queue()
    procs = [
        ctx.Process(
            target=_register_in_child,
            args=(str(settings.home), settings.registry_url, barrier, results, i),
        )
        for i in range(n)
    ]
    for proc in procs:
        proc.start()
    outcomes: dict[int, Any] = {}
    try:
        for _ in range(n):
            index, outcome = results.get(timeout=120)
            outcomes[index] = outcome
    except queue.Empty:
        pytest.fail(f"workers did not all report: {outcomes}")
    finally:
        for proc in procs:
            proc.join(timeout=30)
    assert all(isinstance(v, int) for v in outcomes.values()), outcomes
    assert sorted(outcomes.values()) == list(range(1, n + 1))
    versions = registry.versions("shared")
    assert [v.version for v in versions] == list(range(1, n + 1))
    for v in versions:
        index = v.lineage["i"]
        assert outcomes[index] == v.version
        assert load_artifact(v.path).read_bytes("model.onnx") == f"worker-{index}".encode()
    dirs = sorted(int(p.name) for p in (registry.models_dir / "shared").iterdir())
    assert dirs == list(range(1, n + 1))
