"""What a crash can leave in the registry, and which of it is safe to put right.

A version is written in three steps (a ``pending`` row claims the number, the
staged directory is renamed into place, the row is marked ``ready``) and deleted
in two (the row is marked ``deleted``, the directory is renamed into ``.trash``
and removed). Readers only see ``ready`` rows, so a process killed between steps
never shows a half model, but it can leave one of these behind:

============  ==============================================  ================================
kind          state                                           repair
============  ==============================================  ================================
unfinished    ``pending`` row, its directory in place         adopt (mark ``ready``) when the
              (killed between the rename and the commit)      directory verifies and its
                                                              manifest agrees with the row;
                                                              otherwise quarantine it and
                                                              retire the number
abandoned     ``pending`` row, no directory, claimed longer   retire the number (the row
              ago than the grace period                       becomes ``deleted``)
orphan        a version directory with no row at all          quarantine in ``.orphans``
leftover      the directory of a ``deleted`` row              remove
staging       a ``.staging`` directory untouched for the      remove
              grace period
trash         a ``.trash`` entry untouched for the grace      remove
              period
missing       a ``ready`` row whose directory is gone         none: reported for a person
corrupt       a ``ready`` row whose files fail the manifest   none: reported for a person
============  ==============================================  ================================

An orphan is quarantined, not adopted: its manifest names the model, task and
kind, but not the metrics, lineage or creator an index row holds, so adopting it
would invent them. Its number was never visible (no ``ready`` row), so moving it
aside hides nothing anyone has seen, and nothing is deleted.

Staging directories and pending rows without a directory look the same whether
their writer died or is still at work, so they are touched only after the grace
period (:data:`STALE_AFTER`; an artifact takes seconds from staging to ready).
Adopting needs no grace period: a writer marks its row ready only while it is
still pending, and takes a row someone else adopted as its own success.

Directories are listed before the rows are read. A writer commits its pending row
before it renames the directory into place, so every directory the listing saw
has its row visible to the read that follows: a directory without a row really
is an orphan, not a writer half-way through.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

from modelry.errors import ArtifactError, NotFoundError
from modelry.registry.artifact import load_artifact
from modelry.registry.db import DELETED, PENDING, READY

STALE_AFTER = timedelta(hours=1)
"""How long a staging directory or a pending claim must lie untouched to count as dead."""

STAGING_DIR = ".staging"
TRASH_DIR = ".trash"
QUARANTINE_DIR = ".orphans"


class Trouble(StrEnum):
    """The kinds of inconsistency (see the table in the module docstring)."""

    UNFINISHED = "unfinished"
    ABANDONED = "abandoned"
    ORPHAN = "orphan"
    LEFTOVER = "leftover"
    STAGING = "staging"
    TRASH = "trash"
    MISSING = "missing"
    CORRUPT = "corrupt"


@dataclass(frozen=True)
class Finding:
    """One inconsistency, what a repair does about it, and what it did.

    Attributes:
        kind: What is wrong.
        where: ``name:version`` for an indexed version, else the path under ``models_dir``.
        path: The directory concerned (absolute).
        detail: What is wrong, in words.
        remedy: What a repair does; ``None`` when it is left for a person.
        repaired: What the repair did; ``None`` while not repaired.
        name: The model, where the finding concerns one version.
        version: The version number, where the finding concerns one version.
    """

    kind: Trouble
    where: str
    path: Path
    detail: str
    remedy: str | None
    repaired: str | None = None
    name: str | None = None
    version: int | None = None
    adoptable: bool = field(default=False, repr=False)

    def line(self) -> str:
        """One line for a terminal."""
        if self.repaired is not None:
            outcome = f"repaired: {self.repaired}"
        elif self.remedy is not None:
            outcome = f"--repair {self.remedy}"
        else:
            outcome = "left as is"
        return f"{self.kind.value:<10} {self.where}  {self.detail}; {outcome}"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view for ``--json``."""
        return {
            "kind": self.kind.value,
            "where": self.where,
            "path": str(self.path),
            "name": self.name,
            "version": self.version,
            "detail": self.detail,
            "remedy": self.remedy,
            "repaired": self.repaired,
        }


@dataclass(frozen=True)
class IndexRow:
    """What reconciling needs of one ``model_versions`` row."""

    name: str
    version: int
    status: str
    path: str
    created_at: str
    task: str


def version_dirs(models_dir: Path, names: Collection[str] | None = None) -> dict[str, Path]:
    """Every ``<name>/<digits>`` entry under ``models_dir``, keyed by its relative path.

    Args:
        models_dir: The artifact root.
        names: Only these models; ``None`` for every model.
    """
    found: dict[str, Path] = {}
    if names is None:
        try:
            model_dirs = [p for p in models_dir.iterdir() if not p.name.startswith(".")]
        except FileNotFoundError:
            return found
    else:
        model_dirs = [models_dir / name for name in names]
    for model_dir in model_dirs:
        try:
            entries = list(model_dir.iterdir())
        except (FileNotFoundError, NotADirectoryError):
            continue
        for entry in entries:
            if entry.name.isdigit():
                found[f"{model_dir.name}/{entry.name}"] = entry
    return found


def _newest_change(path: Path) -> float | None:
    # A live writer keeps adding files, so the newest mtime anywhere below says it is alive.
    try:
        newest = path.lstat().st_mtime
    except FileNotFoundError:
        return None
    for root, dirs, files in os.walk(path):
        for entry in (*dirs, *files):
            try:
                newest = max(newest, os.lstat(os.path.join(root, entry)).st_mtime)
            except FileNotFoundError:
                continue
    return newest


def _age_words(seconds: float) -> str:
    if seconds >= 2 * 86400:
        return f"{seconds / 86400:.0f} days"
    if seconds >= 7200:
        return f"{seconds / 3600:.0f} hours"
    if seconds >= 120:
        return f"{seconds / 60:.0f} minutes"
    return f"{seconds:.0f} seconds"


def stale_scratch(models_dir: Path, now: datetime, stale_after: timedelta) -> list[Finding]:
    """Staging directories and trash entries nobody has touched for ``stale_after``."""
    findings: list[Finding] = []
    for folder, kind, remedy in (
        (STAGING_DIR, Trouble.STAGING, "removes it"),
        (TRASH_DIR, Trouble.TRASH, "removes it"),
    ):
        try:
            entries = sorted((models_dir / folder).iterdir())
        except FileNotFoundError:
            continue
        for entry in entries:
            changed = _newest_change(entry)
            if changed is None:
                continue
            age = now.timestamp() - changed
            if age < stale_after.total_seconds():
                continue
            what = "staged artifact" if kind is Trouble.STAGING else "remains of a deleted version"
            findings.append(
                Finding(
                    kind=kind,
                    where=f"{folder}/{entry.name}",
                    path=entry,
                    detail=f"{what}, untouched for {_age_words(age)}",
                    remedy=remedy,
                )
            )
    return findings


def _claimed_at(row: IndexRow) -> datetime | None:
    try:
        claimed = datetime.fromisoformat(row.created_at)
    except ValueError:
        return None
    return claimed if claimed.tzinfo else claimed.replace(tzinfo=UTC)


def _adoptable(row: IndexRow, path: Path) -> str | None:
    """Why the directory of a pending row cannot be adopted; ``None`` when it can."""
    try:
        artifact = load_artifact(path)
    except ArtifactError as exc:
        return exc.message
    except NotFoundError:
        raise
    except OSError as exc:
        return f"cannot read it: {exc}"
    for key, expected in (("name", row.name), ("task", row.task)):
        value = artifact.manifest.get(key)
        if value is not None and value != expected:
            return f"its manifest says {key} {value!r}, the index {expected!r}"
    return None


def _row_finding(
    models_dir: Path,
    row: IndexRow,
    here: bool,
    *,
    now: datetime,
    stale_after: timedelta,
    verify_ready: bool,
) -> Finding | None:
    """What is wrong with one index row and its directory, if anything."""
    ref = f"{row.name}:{row.version}"
    path = models_dir / row.path

    def found(kind: Trouble, detail: str, remedy: str | None, adoptable: bool = False) -> Finding:
        return Finding(
            kind,
            ref,
            path,
            detail,
            remedy,
            name=row.name,
            version=row.version,
            adoptable=adoptable,
        )

    if row.status == READY and verify_ready:
        try:
            load_artifact(path)
        except NotFoundError:
            return found(
                Trouble.MISSING,
                "ready in the index, but its directory is missing; "
                f"restore {row.path} or `modelry models delete {ref} --force`",
                None,
            )
        except (ArtifactError, OSError) as exc:
            what = exc.message if isinstance(exc, ArtifactError) else f"cannot read it: {exc}"
            return found(
                Trouble.CORRUPT,
                f"{what}; restore its files or `modelry models delete {ref} --force`",
                None,
            )
    elif row.status == PENDING and here:
        try:
            why_not = _adoptable(row, path)
        except NotFoundError:
            return None  # its writer handed it back since the listing
        if why_not is None:
            return found(
                Trouble.UNFINISHED,
                "pending, its directory in place and verified "
                "(the writer stopped before marking it ready)",
                "adopts it as ready",
                adoptable=True,
            )
        return found(
            Trouble.UNFINISHED,
            f"pending, its directory in place but unsound: {why_not}",
            f"moves it to {QUARANTINE_DIR}/ and retires the number",
        )
    elif row.status == PENDING:
        claimed = _claimed_at(row)
        if claimed is not None and now - claimed >= stale_after:
            return found(
                Trouble.ABANDONED,
                f"pending since {row.created_at} with no directory (its writer died)",
                "retires the number",
            )
    elif row.status == DELETED and here:
        return found(Trouble.LEFTOVER, "the directory of a deleted version", "removes it")
    return None


def diagnose(
    models_dir: Path,
    dirs: dict[str, Path],
    rows: Iterable[IndexRow],
    *,
    now: datetime,
    stale_after: timedelta,
    verify_ready: bool,
) -> list[Finding]:
    """The inconsistencies between version directories and index rows, and stale scratch.

    Args:
        models_dir: The artifact root.
        dirs: :func:`version_dirs`, listed before ``rows`` were read.
        rows: The index rows of the same models.
        now: The time to measure the grace period from.
        stale_after: The grace period of pending claims and scratch directories.
        verify_ready: Also hash the files of every ready version (slow on big models).
    """
    findings: list[Finding] = []
    indexed: set[str] = set()
    for row in sorted(rows, key=lambda r: (r.name, r.version)):
        indexed.add(row.path)
        finding = _row_finding(
            models_dir,
            row,
            row.path in dirs,
            now=now,
            stale_after=stale_after,
            verify_ready=verify_ready,
        )
        if finding is not None:
            findings.append(finding)
    for rel, path in sorted(dirs.items()):
        if rel in indexed:
            continue
        name, _, number = rel.partition("/")
        findings.append(
            Finding(
                Trouble.ORPHAN,
                where=rel,
                path=path,
                name=name,
                version=int(number),
                detail="a version directory with no index row (never visible)",
                remedy=f"moves it to {QUARANTINE_DIR}/",
            )
        )
    findings.extend(stale_scratch(models_dir, now, stale_after))
    return findings


def quarantine(models_dir: Path, path: Path, label: str) -> Path:
    """Move ``path`` under ``.orphans`` (kept for a person to inspect); returns where it went."""
    target = models_dir / QUARANTINE_DIR / f"{label}-{uuid.uuid4().hex[:8]}"
    target.parent.mkdir(parents=True, exist_ok=True)
    os.rename(path, target)
    return target


def discard(models_dir: Path, path: Path, label: str) -> None:
    """Remove the directory ``path``.

    Renaming it into ``.trash`` first means a crash mid-removal leaves junk in
    ``.trash`` (cleaned later), never a half directory where a version or a
    staged artifact is looked for.

    Raises:
        FileNotFoundError: ``path`` is already gone.
    """
    trash = models_dir / TRASH_DIR / f"{label}-{uuid.uuid4().hex}"
    trash.parent.mkdir(parents=True, exist_ok=True)
    os.rename(path, trash)
    shutil.rmtree(trash, ignore_errors=True)


__all__ = [
    "QUARANTINE_DIR",
    "STAGING_DIR",
    "STALE_AFTER",
    "TRASH_DIR",
    "Finding",
    "IndexRow",
    "Trouble",
    "diagnose",
    "discard",
    "quarantine",
    "stale_scratch",
    "version_dirs",
]
