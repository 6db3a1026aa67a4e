"""What a crash leaves in the registry, found, reported and put right (real SQLite, real files).

Each state is built the way a killed process leaves it: a directory committed
without its row, a pending row with or without its directory, a staging
directory nobody touched for hours. One test kills a real registering process
with SIGKILL between the rename and the commit.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import insert, select, update

import modelry.registry.store as store_module
from modelry.errors import ConflictError, NotFoundError
from modelry.registry.artifact import commit_dir, load_artifact
from modelry.registry.db import engine_for, versions_t
from modelry.registry.reconcile import Trouble
from modelry.registry.store import ModelVersion, Registry
from modelry.settings import Settings

HOUR = 3600


def stage(registry: Registry, payload: bytes = b"weights", **meta: str) -> Path:
    with registry.new_artifact() as writer:
        writer.write_bytes("model.onnx", payload)
        writer.write_json("config.json", {"payload": payload.decode()})
        return writer.finish({"kind": "test", **meta})


def register(registry: Registry, name: str = "churn", payload: bytes = b"w") -> ModelVersion:
    return registry.register(
        name, stage(registry, payload), task="binary", metrics={"auc": 0.9}, lineage={"n": 1}
    )


def claim(settings: Settings, version: int, *, name: str = "churn", age: float = 0.0) -> None:
    """The row a writer commits before it renames its directory into place."""
    created = datetime.now(UTC) - timedelta(seconds=age)
    with engine_for(settings.registry_url).begin() as conn:
        conn.execute(
            insert(versions_t).values(
                name=name,
                version=version,
                status="pending",
                path=f"{name}/{version}",
                created_at=created.isoformat(),
                created_by="killed",
                task="binary",
                metrics={"auc": 0.5},
                lineage={"killed": True},
                description="",
            )
        )


def status_of(settings: Settings, version: int, name: str = "churn") -> str | None:
    with engine_for(settings.registry_url).connect() as conn:
        return conn.scalar(
            select(versions_t.c.status).where(
                versions_t.c.name == name, versions_t.c.version == version
            )
        )


def age(path: Path, seconds: float) -> None:
    """Make ``path`` and everything below it look untouched for ``seconds``."""
    then = time.time() - seconds
    for item in [path, *path.rglob("*")]:
        os.utime(item, (then, then), follow_symlinks=False)


def kinds(registry: Registry, **options: bool) -> list[tuple[Trouble, str]]:
    return [(f.kind, f.where) for f in registry.check(**options).findings]


def test_a_sound_registry_has_nothing_to_report(registry: Registry) -> None:
    register(registry)
    register(registry, "other")
    report = registry.check()
    assert report.findings == [] and report.versions == 2
    assert registry.check(repair=True).findings == []


def test_pending_row_with_its_directory_is_adopted_by_the_next_register(
    registry: Registry, settings: Settings
) -> None:
    register(registry)
    claim(settings, 2)
    commit_dir(stage(registry, b"two"), registry.models_dir / "churn" / "2")
    assert [v.version for v in registry.versions("churn")] == [1]  # invisible until adopted
    (finding,) = registry.check().findings
    assert (finding.kind, finding.where, finding.remedy) == (
        Trouble.UNFINISHED,
        "churn:2",
        "adopts it as ready",
    )
    token = registry.revision()
    assert register(registry, payload=b"three").version == 3
    adopted = registry.get("churn", 2)
    assert adopted.metrics == {"auc": 0.5} and adopted.lineage == {"killed": True}
    assert load_artifact(adopted.path).read_bytes("model.onnx") == b"two"
    assert registry.changed_since(token)
    assert registry.check().findings == []


def test_unsound_pending_directory_is_quarantined_and_its_number_retired(
    registry: Registry, settings: Settings
) -> None:
    register(registry)
    claim(settings, 2)
    final = registry.models_dir / "churn" / "2"
    commit_dir(stage(registry, b"two"), final)
    (final / "model.onnx").write_bytes(b"torn")
    (finding,) = registry.check().findings
    assert finding.kind is Trouble.UNFINISHED and "model.onnx does not match" in finding.detail
    (repaired,) = registry.check(repair=True).findings
    (kept,) = (registry.models_dir / ".orphans").iterdir()
    assert repaired.repaired == f"moved to .orphans/{kept.name}; number retired"
    assert (kept / "model.onnx").read_bytes() == b"torn"  # moved aside, not deleted
    assert not final.exists() and status_of(settings, 2) == "deleted"
    assert register(registry).version == 3  # 2 is never handed out again


def test_pending_directory_whose_manifest_names_another_model_is_not_adopted(
    registry: Registry, settings: Settings
) -> None:
    claim(settings, 1)
    commit_dir(stage(registry, name="fraud"), registry.models_dir / "churn" / "1")
    (finding,) = registry.check().findings
    assert "its manifest says name 'fraud', the index 'churn'" in finding.detail
    assert "retires the number" in (finding.remedy or "")


def test_orphan_directory_is_quarantined_and_no_longer_blocks_its_number(
    registry: Registry,
) -> None:
    register(registry)
    orphan = registry.models_dir / "churn" / "2"
    commit_dir(stage(registry, b"orphan"), orphan)
    assert kinds(registry) == [(Trouble.ORPHAN, "churn/2")]
    # Before reconciling, the next register claimed 2 and met this directory.
    version = register(registry, payload=b"two")
    assert version.version == 2
    assert load_artifact(version.path).read_bytes("model.onnx") == b"two"
    (kept,) = (registry.models_dir / ".orphans").iterdir()
    assert kept.name.startswith("churn-2-")
    assert load_artifact(kept).read_bytes("model.onnx") == b"orphan"
    assert registry.check().findings == []


def test_directory_of_a_deleted_version_is_removed(registry: Registry, settings: Settings) -> None:
    register(registry)
    register(registry)
    # A delete killed after its commit and before it moved the directory away.
    with engine_for(settings.registry_url).begin() as conn:
        conn.execute(update(versions_t).where(versions_t.c.version == 2).values(status="deleted"))
    assert kinds(registry) == [(Trouble.LEFTOVER, "churn:2")]
    (finding,) = registry.check(repair=True).findings
    assert finding.repaired == "removed"
    assert not (registry.models_dir / "churn" / "2").exists()
    assert list((registry.models_dir / ".trash").iterdir()) == []
    assert register(registry).version == 3


def test_only_stale_staging_and_trash_are_removed(registry: Registry) -> None:
    old = registry.new_artifact()
    old.write_bytes("model.onnx", b"x")
    age(old.path, 2 * HOUR)
    live = registry.new_artifact()  # a writer at work right now
    live.write_bytes("model.onnx", b"y")
    half = registry.models_dir / ".trash" / "churn-9-abc"
    (half / "plots").mkdir(parents=True)
    (half / "plots" / "roc.png").write_bytes(b"png")
    age(half, 3 * HOUR)
    found = kinds(registry)
    assert found == [
        (Trouble.STAGING, f".staging/{old.path.name}"),
        (Trouble.TRASH, ".trash/churn-9-abc"),
    ]
    # A file written a minute ago inside an old directory keeps it alive.
    age(old.path, 2 * HOUR)
    (old.path / "late.json").write_bytes(b"{}")
    assert kinds(registry) == [(Trouble.TRASH, ".trash/churn-9-abc")]
    age(old.path, 2 * HOUR)
    register(registry)  # the next write cleans up
    assert not old.path.exists() and not half.exists()
    assert live.path.is_dir() and (live.path / "model.onnx").read_bytes() == b"y"
    assert registry.check().findings == []
    live.abort()


def test_an_old_staged_artifact_can_still_be_registered(registry: Registry) -> None:
    staged = stage(registry)
    age(staged, 2 * HOUR)
    assert registry.register("churn", staged, task="t", metrics={}, lineage={}).version == 1


def test_only_old_pending_rows_without_a_directory_are_retired(
    registry: Registry, settings: Settings
) -> None:
    register(registry)
    claim(settings, 2, age=2 * HOUR)
    claim(settings, 3)  # a writer between its claim and its rename
    assert kinds(registry) == [(Trouble.ABANDONED, "churn:2")]
    (finding,) = registry.check(repair=True).findings
    assert finding.repaired == "number retired"
    assert (status_of(settings, 2), status_of(settings, 3)) == ("deleted", "pending")
    assert register(registry).version == 4


def test_a_claim_with_an_unreadable_date_is_left_alone(
    registry: Registry, settings: Settings
) -> None:
    claim(settings, 1)
    with engine_for(settings.registry_url).begin() as conn:
        conn.execute(update(versions_t).values(created_at="x"))
    assert registry.check().findings == []


def test_ready_versions_missing_or_changed_are_reported_never_removed(
    registry: Registry,
) -> None:
    gone = register(registry)
    changed = register(registry)
    extra = register(registry)
    shutil.rmtree(gone.path)
    (changed.path / "config.json").write_bytes(b"{}")
    (extra.path / "notes[fairness].txt").write_text("added by hand")
    for repair in (False, True):
        report = registry.check(repair=repair)
        assert [(f.kind, f.where, f.remedy, f.repaired) for f in report.findings] == [
            (Trouble.MISSING, "churn:1", None, None),
            (Trouble.CORRUPT, "churn:2", None, None),
            (Trouble.CORRUPT, "churn:3", None, None),
        ]
        assert report.unresolved == report.findings
    details = [f.detail for f in registry.check().findings]
    assert "directory is missing" in details[0] and "churn:1 --force" in details[0]
    assert "config.json does not match its manifest" in details[1]
    assert "notes[fairness].txt is not listed in its manifest" in details[2]
    assert changed.path.is_dir() and extra.path.is_dir()
    assert [v.version for v in registry.versions("churn")] == [1, 2, 3]
    # Hashing every ready version is check's job, not every register's.
    assert registry.check(verify=False).findings == []
    assert register(registry).version == 4


def test_writer_whose_directory_was_adopted_meanwhile_succeeds(
    registry: Registry, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    def commit_then_reconcile(staged: Path, final: Path) -> None:
        commit_dir(staged, final)
        (adopted,) = Registry(settings).check(repair=True).findings
        assert adopted.repaired == "adopted as ready"

    monkeypatch.setattr(store_module, "commit_dir", commit_then_reconcile)
    token = registry.revision()
    version = register(registry)
    assert version.version == 1 and registry.get("churn").version == 1
    assert registry.revision() == token + 1  # one visible change, counted once


def test_writer_whose_claim_was_retired_meanwhile_hands_the_stage_back(
    registry: Registry, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    def retire_then_commit(staged: Path, final: Path) -> None:
        with engine_for(settings.registry_url).begin() as conn:
            conn.execute(update(versions_t).values(status="deleted"))
        commit_dir(staged, final)

    monkeypatch.setattr(store_module, "commit_dir", retire_then_commit)
    staged = stage(registry)
    with pytest.raises(ConflictError, match="retired as stale"):
        registry.register("churn", staged, task="t", metrics={}, lineage={})
    monkeypatch.undo()
    assert staged.is_dir() and not (registry.models_dir / "churn" / "1").exists()
    with pytest.raises(NotFoundError):
        registry.get("churn")
    assert registry.register("churn", staged, task="t", metrics={}, lineage={}).version == 2


_CHILD = textwrap.dedent(
    """
    import sys, time
    import modelry.registry.store as store
    from modelry.settings import Settings

    home, url, point = sys.argv[1:4]
    real = store.commit_dir

    def commit_dir(staged, final):
        if point == "after-rename":
            real(staged, final)
        print("ready", flush=True)
        time.sleep(600)  # the parent kills us here

    store.commit_dir = commit_dir
    registry = store.Registry(Settings.model_validate({"home": home, "MODELRY_REGISTRY_URL": url}))
    with registry.new_artifact() as writer:
        writer.write_bytes("model.onnx", b"killed")
        staged = writer.finish({"name": "churn", "task": "binary"})
        registry.register("churn", staged, task="binary", metrics={"auc": 0.7}, lineage={})
    """
)


@pytest.mark.parametrize("point", ["after-rename", "before-rename"])
def test_register_killed_with_sigkill_is_reconciled(
    registry: Registry, settings: Settings, point: str
) -> None:
    register(registry)
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(settings.home), settings.registry_url, point],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None and child.stdout.readline() == "ready\n"
        child.send_signal(signal.SIGKILL)
    finally:
        child.wait(timeout=60)
    assert child.returncode == -signal.SIGKILL
    assert [v.version for v in registry.versions("churn")] == [1]  # nothing half-visible
    assert status_of(settings, 2) == "pending"
    if point == "after-rename":
        assert kinds(registry) == [(Trouble.UNFINISHED, "churn:2")]
        assert register(registry).version == 3
        assert load_artifact(registry.get("churn", 2).path).read_bytes("model.onnx") == b"killed"
    else:
        # A writer between claim and rename looks alive until the grace period is over.
        assert registry.check().findings == []
        old = timedelta(0)
        found = [(f.kind, f.where.split("/")[0]) for f in registry.check(stale_after=old).findings]
        assert found == [(Trouble.ABANDONED, "churn:2"), (Trouble.STAGING, ".staging")]
        assert all(f.repaired for f in registry.check(repair=True, stale_after=old).findings)
        assert list((registry.models_dir / ".staging").iterdir()) == []
        assert status_of(settings, 2) == "deleted"
        assert register(registry).version == 3
    assert registry.check().findings == []
