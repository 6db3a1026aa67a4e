"""The artifact bundle: written atomically, refused when anything changed."""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

import orjson
import pytest

from modelry.errors import ArtifactError, ConflictError, NotFoundError
from modelry.registry.artifact import (
    MANIFEST,
    ArtifactWriter,
    commit_dir,
    load_artifact,
)

WEIGHTS = bytes(range(256)) * 10


def _build(staging: Path) -> Path:
    with ArtifactWriter(staging) as writer:
        writer.write_bytes("weights.safetensors", WEIGHTS)
        writer.write_json("config.json", {"b": [1, 2.5], "a": "é", "nan": float("nan")})
        writer.write_text("card.md", "# Churn\n\nŁódź ✓\n")
        src = staging.parent / "roc.png"
        src.write_bytes(b"\x89PNG fake")
        writer.copy_file("plots/roc.png", src)
        return writer.finish({"name": "churn", "task": "binary"})


@pytest.fixture
def committed(tmp_path: Path) -> Path:
    staged = _build(tmp_path / "staging")
    final = tmp_path / "models" / "churn" / "1"
    commit_dir(staged, final)
    return final


def test_round_trip(committed: Path, tmp_path: Path) -> None:
    artifact = load_artifact(committed)
    assert artifact.path == committed
    assert artifact.files == ["card.md", "config.json", "plots/roc.png", "weights.safetensors"]
    assert artifact.read_bytes("weights.safetensors") == WEIGHTS
    assert artifact.read_json("config.json") == {"a": "é", "b": [1, 2.5], "nan": None}
    assert artifact.read_text("card.md") == "# Churn\n\nŁódź ✓\n"
    assert artifact.read_bytes("plots/roc.png") == b"\x89PNG fake"
    assert artifact.file("plots/roc.png") == committed / "plots" / "roc.png"
    assert "card.md" in artifact and "nope" not in artifact
    manifest = artifact.manifest
    assert manifest["format"] == 1
    assert manifest["name"] == "churn" and manifest["task"] == "binary"
    entry = manifest["files"]["weights.safetensors"]
    assert entry == {"sha256": hashlib.sha256(WEIGHTS).hexdigest(), "bytes": len(WEIGHTS)}
    # JSON on disk is stable: sorted keys, indented, UTF-8.
    text = (committed / "config.json").read_text("utf-8")
    assert text.index('"a"') < text.index('"b"') and "\n  " in text and "é" in text
    assert not list((tmp_path / "staging").iterdir()), "staging dir left behind"


def test_unknown_file_is_refused(committed: Path) -> None:
    with pytest.raises(ArtifactError, match=re.escape("no file 'missing.json'")):
        load_artifact(committed).file("missing.json")


def test_changed_byte_is_named(committed: Path) -> None:
    target = committed / "weights.safetensors"
    data = bytearray(target.read_bytes())
    data[100] ^= 0x01
    target.write_bytes(bytes(data))
    with pytest.raises(ArtifactError) as info:
        load_artifact(committed)
    assert info.value.message == (
        "model file weights.safetensors does not match its manifest (changed after it was written)"
    )
    # Without verification it opens (the caller asked for speed over safety).
    assert load_artifact(committed, verify=False).files


def test_truncated_file_is_named(committed: Path) -> None:
    (committed / "plots" / "roc.png").write_bytes(b"")
    with pytest.raises(ArtifactError, match=re.escape("plots/roc.png does not match")):
        load_artifact(committed)


def test_extra_file_is_refused(committed: Path) -> None:
    (committed / "plots" / "evil.py").write_text("import os")
    with pytest.raises(ArtifactError, match=re.escape("plots/evil.py is not listed")):
        load_artifact(committed)


def test_symlink_is_refused(committed: Path, tmp_path: Path) -> None:
    (tmp_path / "outside").write_text("x")
    os.symlink(tmp_path / "outside", committed / "link")
    with pytest.raises(ArtifactError, match="link is not a regular file"):
        load_artifact(committed)


def test_deleted_file_is_refused(committed: Path) -> None:
    (committed / "card.md").unlink()
    with pytest.raises(
        ArtifactError, match=re.escape("card.md is listed in its manifest but missing")
    ):
        load_artifact(committed)


def test_missing_or_bad_manifest(committed: Path) -> None:
    manifest = committed / MANIFEST
    body = orjson.loads(manifest.read_bytes())
    manifest.write_bytes(orjson.dumps({**body, "format": 99}))
    with pytest.raises(ArtifactError, match="format 99"):
        load_artifact(committed)
    manifest.write_text("{not json")
    with pytest.raises(ArtifactError, match="not valid JSON"):
        load_artifact(committed)
    manifest.write_bytes(orjson.dumps({**body, "files": {"../x": {"sha256": "", "bytes": 0}}}))
    with pytest.raises(ArtifactError, match="bad path"):
        load_artifact(committed)
    manifest.unlink()
    with pytest.raises(ArtifactError, match=re.escape("has no manifest.json")):
        load_artifact(committed)


def test_missing_dir_is_not_found(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match="no model artifact"):
        load_artifact(tmp_path / "nothing")


def test_abort_leaves_nothing(tmp_path: Path) -> None:
    staging = tmp_path / "staging"
    writer = ArtifactWriter(staging)
    writer.write_bytes("a.bin", b"1")
    writer.abort()
    assert list(staging.iterdir()) == []
    with pytest.raises(ArtifactError, match="already finished"):
        writer.write_bytes("b.bin", b"2")


def test_exception_in_block_aborts(tmp_path: Path) -> None:
    staging = tmp_path / "staging"
    with pytest.raises(RuntimeError), ArtifactWriter(staging) as writer:
        writer.write_bytes("a.bin", b"1")
        raise RuntimeError("training crashed")
    assert list(staging.iterdir()) == []


def test_block_without_finish_aborts(tmp_path: Path) -> None:
    staging = tmp_path / "staging"
    with ArtifactWriter(staging) as writer:
        writer.write_bytes("a.bin", b"1")
    assert list(staging.iterdir()) == []


@pytest.mark.parametrize(
    "relpath",
    ["", "/etc/passwd", "../x", "a/../../x", "a/b/c", "./a", "a//b", "a\\b", "manifest.json", ".."],
)
def test_bad_relpaths_are_refused(tmp_path: Path, relpath: str) -> None:
    with ArtifactWriter(tmp_path / "staging") as writer, pytest.raises(ArtifactError):
        writer.write_bytes(relpath, b"x")
    assert not (tmp_path / "etc").exists()


def test_duplicate_file_and_reserved_meta_are_refused(tmp_path: Path) -> None:
    with ArtifactWriter(tmp_path / "staging") as writer:
        writer.write_bytes("a.bin", b"1")
        with pytest.raises(ArtifactError, match="already written"):
            writer.write_bytes("a.bin", b"2")
        with pytest.raises(ArtifactError, match="reserved"):
            writer.finish({"files": {}})
        with pytest.raises(ArtifactError, match="as JSON"):
            writer.write_json("bad.json", {"x": object()})


def test_commit_refuses_existing_target(tmp_path: Path, committed: Path) -> None:
    staged = _build(tmp_path / "staging")
    with pytest.raises(ConflictError, match="already exists"):
        commit_dir(staged, committed)
    # An empty directory in the way is refused too (os.rename would replace it).
    empty = tmp_path / "models" / "churn" / "2"
    empty.mkdir()
    with pytest.raises(ConflictError):
        commit_dir(staged, empty)
    assert staged.is_dir()


def test_commit_of_missing_stage_fails(tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match="does not exist"):
        commit_dir(tmp_path / "gone", tmp_path / "models" / "x" / "1")
    assert not (tmp_path / "models" / "x" / "1").exists()


def test_committed_dir_is_readable_by_others(committed: Path) -> None:
    assert committed.stat().st_mode & 0o055 == 0o055
