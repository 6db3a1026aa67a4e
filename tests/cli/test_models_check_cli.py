"""``modelry models check [--repair] [--json]`` over a real registry left in crash states."""

from __future__ import annotations

import json
import os
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import insert

from modelry.registry.artifact import commit_dir
from modelry.registry.db import engine_for, versions_t
from modelry.registry.store import Registry
from modelry.settings import Settings


def _registry() -> Registry:
    return Registry(Settings())  # MODELRY_HOME is the test's home (the cli fixture sets it)


def _stage(registry: Registry, payload: bytes) -> Path:
    with registry.new_artifact() as writer:
        writer.write_bytes("model.onnx", payload)
        return writer.finish({"name": "c", "task": "binary"})


def _register(registry: Registry) -> int:
    staged = _stage(registry, b"net")
    return registry.register("c", staged, task="binary", metrics={}, lineage={}).version


def _crash_states(registry: Registry) -> None:
    """c:1 ready but changed by hand, c:2 killed before marking ready, c/3 without a row."""
    _register(registry)
    (registry.models_dir / "c" / "1" / "model.onnx").write_bytes(b"edited")
    with engine_for(registry.settings.registry_url).begin() as conn:
        conn.execute(
            insert(versions_t).values(
                name="c",
                version=2,
                status="pending",
                path="c/2",
                created_at=datetime.now(UTC).isoformat(),
                created_by="killed",
                task="binary",
                metrics={},
                lineage={},
                description="",
            )
        )
    commit_dir(_stage(registry, b"two"), registry.models_dir / "c" / "2")
    commit_dir(_stage(registry, b"three"), registry.models_dir / "c" / "3")
    stale = registry.new_artifact()
    stale.write_bytes("model.onnx", b"half")
    then = time.time() - 7200
    for item in (stale.path, stale.path / "model.onnx"):
        os.utime(item, (then, then))


def test_a_sound_registry_checks_clean(cli: Any, home: Path) -> None:
    _register(_registry())
    result = cli("models", "check")
    assert result.code == 0, result.err
    assert result.out.strip() == "consistent: 1 ready version, every file verified"
    assert json.loads(cli("models", "check", "--json").out) == {
        "ok": True,
        "versions": 1,
        "problems": [],
    }


def test_check_reports_one_line_per_problem_and_changes_nothing(cli: Any, home: Path) -> None:
    registry = _registry()
    _crash_states(registry)
    result = cli("models", "check")
    assert result.code == 1 and result.err == ""
    lines = result.out.splitlines()
    assert [line.split()[:2] for line in lines[:-1]] == [
        ["corrupt", "c:1"],
        ["unfinished", "c:2"],
        ["orphan", "c/3"],
        ["staging", lines[3].split()[1]],
    ]
    assert "model.onnx does not match its manifest" in lines[0] and "left as is" in lines[0]
    assert lines[1].endswith("--repair adopts it as ready")
    assert lines[-1] == "4 problems; `modelry models check --repair` fixes the safe ones"
    assert cli("models", "check").out == result.out  # reporting repaired nothing


def test_repair_fixes_the_safe_ones_and_leaves_the_corrupt_version(cli: Any, home: Path) -> None:
    registry = _registry()
    _crash_states(registry)
    result = cli("models", "check", "--repair", "--json")
    assert result.code == 1  # c:1 still stands
    doc = json.loads(result.out)
    assert doc["ok"] is False
    outcome = {p["kind"]: p["repaired"] for p in doc["problems"]}
    assert outcome["corrupt"] is None
    assert outcome["unfinished"] == "adopted as ready"
    assert outcome["orphan"].startswith("moved to .orphans/c-3-")
    assert outcome["staging"] == "removed"
    assert (registry.models_dir / "c" / "1").is_dir()  # reported, never deleted
    assert [v.version for v in registry.versions("c")] == [1, 2]
    # What is left is a person's call; once made, the registry checks clean.
    assert cli("models", "delete", "c:1", "--force").code == 0
    clean = cli("models", "check", "--repair")
    assert clean.code == 0 and clean.out.startswith("consistent: 1 ready version")
    assert _register(registry) == 3  # the quarantined orphan no longer holds its number


def test_repair_that_fixes_everything_exits_zero(cli: Any, home: Path) -> None:
    registry = _registry()
    _register(registry)
    commit_dir(_stage(registry, b"two"), registry.models_dir / "c" / "2")
    result = cli("models", "check", "--repair")
    assert result.code == 0, result.err
    first, summary = result.out.splitlines()
    assert first.startswith("orphan     c/2  ") and "repaired: moved to .orphans/c-2-" in first
    assert summary == "1 problem, all repaired"


def test_brackets_in_a_problem_are_printed_as_written(cli: Any, home: Path) -> None:
    registry = _registry()
    _register(registry)
    (registry.models_dir / "c" / "1" / "notes[fairness].txt").write_text("by hand")
    result = cli("models", "check")
    assert result.code == 1
    assert "model file notes[fairness].txt is not listed in its manifest" in result.out


def test_an_unreadable_models_directory_is_one_line_on_stderr(cli: Any, home: Path) -> None:
    _registry()
    (home / "models").write_text("not a directory")
    result = cli("models", "check")
    assert result.code == 1 and result.out == ""
    assert result.err.count("\n") == 1 and "cannot check" in result.err
    assert "Traceback" not in result.err
