"""The registry index: which model versions exist, where they live, and their aliases.

Rows live in SQL through SQLAlchemy Core: SQLite under ``Settings.home`` by
default, PostgreSQL when ``MODELRY_REGISTRY_URL`` says ``postgresql://…``. The
artifact directories live under ``Settings.models_dir/<name>/<version>``.

A version becomes visible in two steps: a ``pending`` row claims the number,
the staged artifact is renamed into place, and only then is the row marked
``ready``. Readers only ever see ``ready`` rows, so a crash at any point leaves
no half-visible model. Deleted versions keep a ``deleted`` row so that their
number is never handed out again: a server that cached ``churn:3`` must never
meet a different ``churn:3``. What a crash does leave (a pending row, a
directory without its row, a stale staging directory) is put right on the next
:meth:`Registry.register` of that model, and reported by :meth:`Registry.check`
(see :mod:`modelry.registry.reconcile`).

Example:
    >>> registry = Registry(Settings(home=tmp_home))  # doctest: +SKIP
    >>> with registry.new_artifact() as writer:  # doctest: +SKIP
    ...     writer.write_bytes("model.onnx", onnx_bytes)
    ...     staged = writer.finish({"name": "churn"})
    >>> registry.register("churn", staged, task="binary", metrics={}, lineage={})  # doctest: +SKIP
    >>> registry.resolve("churn:production").path  # doctest: +SKIP
"""

from __future__ import annotations

import getpass
import os
import random
import shutil
import time
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection, Row, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from modelry.errors import ArtifactError, ConfigError, ConflictError, NotFoundError
from modelry.registry.artifact import ArtifactWriter, commit_dir, dumps_json, load_artifact
from modelry.registry.db import (
    DELETED,
    PENDING,
    READY,
    aliases_t,
    engine_for,
    ensure_schema,
    revision_t,
    versions_t,
)
from modelry.registry.reconcile import (
    QUARANTINE_DIR,
    STAGING_DIR,
    STALE_AFTER,
    Finding,
    IndexRow,
    Trouble,
    diagnose,
    discard,
    quarantine,
    version_dirs,
)
from modelry.registry.records import (
    ModelSummary,
    ModelVersion,
    validate_alias,
    validate_name,
)
from modelry.settings import Settings

T = TypeVar("T")

DEFAULT_ALIAS = "production"
LATEST = "latest"  # resolves to the newest ready version; cannot be set by hand
_MAX_ATTEMPTS = 50
_SHOWN_NAMES = 20


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _current_user() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name in some containers
        return "unknown"


def _versions_word(versions: list[int]) -> str:
    return ", ".join(map(str, versions)) or "(none)"


@dataclass(frozen=True)
class CheckReport:
    """What :meth:`Registry.check` found, and what it repaired.

    Attributes:
        findings: Every inconsistency, each with what a repair did (if repaired).
        versions: How many ready versions the check looked at.
    """

    findings: list[Finding]
    versions: int

    @property
    def unresolved(self) -> list[Finding]:
        """The findings still standing (not repaired)."""
        return [f for f in self.findings if f.repaired is None]


class Registry:
    """Versions, aliases and artifact directories of every model.

    Args:
        settings: ``registry_url`` picks the database, ``models_dir`` the artifact root.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.models_dir = settings.models_dir.absolute()
        self._engine = engine_for(settings.registry_url)
        self._ensure_schema()

    # -- transactions ---------------------------------------------------------------

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        with self._engine.connect() as conn:
            conn.execution_options(modelry_write=True)
            with conn.begin():
                yield conn

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        with self._engine.connect() as conn, conn.begin():
            yield conn

    def _retry_write(self, action: Callable[[Connection], T]) -> T:
        # On PostgreSQL two writers may both compute the same next version or
        # insert the same alias; the loser gets IntegrityError and tries again.
        for attempt in range(_MAX_ATTEMPTS):
            try:
                with self._write() as conn:
                    return action(conn)
            except IntegrityError:
                if attempt == _MAX_ATTEMPTS - 1:
                    raise
                time.sleep(random.uniform(0, 0.005 * (attempt + 1)))
        raise AssertionError("unreachable")

    def _ensure_schema(self) -> None:
        with self._write() as conn:
            ensure_schema(conn)

    @staticmethod
    def _bump(conn: Connection) -> None:
        conn.execute(update(revision_t).values(counter=revision_t.c.counter + 1))

    # -- names ----------------------------------------------------------------------

    validate_name = staticmethod(validate_name)
    validate_alias = staticmethod(validate_alias)

    def _ready_versions(self, conn: Connection, name: str) -> list[int]:
        query = select(versions_t.c.version).where(
            versions_t.c.name == name, versions_t.c.status == READY
        )
        return sorted(conn.scalars(query))

    def _require_model(self, conn: Connection, name: str) -> list[int]:
        versions = self._ready_versions(conn, name)
        if not versions:
            names = list(
                conn.scalars(
                    select(versions_t.c.name)
                    .where(versions_t.c.status == READY)
                    .distinct()
                    .order_by(versions_t.c.name)
                )
            )
            shown = ", ".join(names[:_SHOWN_NAMES]) or "(none)"
            if len(names) > _SHOWN_NAMES:
                shown += f", … ({len(names)} in all)"
            raise NotFoundError(f"no model named {name!r}; registered models: {shown}", model=name)
        return versions

    def _aliases(self, conn: Connection, name: str) -> dict[str, int]:
        rows = conn.execute(
            select(aliases_t.c.alias, aliases_t.c.version)
            .where(aliases_t.c.name == name)
            .order_by(aliases_t.c.alias)
        )
        return {alias: version for alias, version in rows}

    def _model_version(self, conn: Connection, row: Row[Any]) -> ModelVersion:
        aliases = [a for a, v in self._aliases(conn, row.name).items() if v == row.version]
        return ModelVersion(
            name=row.name,
            version=row.version,
            path=self.models_dir / row.path,
            created_at=datetime.fromisoformat(row.created_at),
            created_by=row.created_by,
            task=row.task,
            metrics=row.metrics,
            lineage=row.lineage,
            description=row.description,
            aliases=aliases,
        )

    def _fetch(self, conn: Connection, name: str, version: int) -> ModelVersion:
        versions = self._require_model(conn, name)
        row = conn.execute(
            select(versions_t).where(
                versions_t.c.name == name,
                versions_t.c.version == version,
                versions_t.c.status == READY,
            )
        ).first()
        if row is None:
            raise NotFoundError(
                f"model {name!r} has no version {version}; versions: {_versions_word(versions)}",
                model=name,
                version=version,
            )
        return self._model_version(conn, row)

    # -- writing --------------------------------------------------------------------

    def new_artifact(self) -> ArtifactWriter:
        """A writer staging under ``models_dir``, so :meth:`register` can rename it."""
        return ArtifactWriter(self.models_dir / STAGING_DIR)

    def register(
        self,
        name: str,
        staged: Path,
        *,
        task: str,
        metrics: dict[str, Any],
        lineage: dict[str, Any],
        description: str = "",
    ) -> ModelVersion:
        """Give the finished artifact ``staged`` the next version of ``name``.

        The directory is verified against its manifest, then renamed to
        ``models_dir/<name>/<version>``; the version is visible only once that worked.
        First, what a crash left of ``name`` (and stale staging directories) is
        put right, as ``check(repair=True)`` would.

        Raises:
            ConfigError: a bad name, or metrics/lineage that are not JSON.
            ArtifactError: ``staged`` is not a sound artifact.
            ConflictError: the target directory exists though the index lacks it.
        """
        validate_name(name)
        for label, value in (("metrics", metrics), ("lineage", lineage)):
            try:
                dumps_json(value)
            except TypeError as exc:
                raise ConfigError(f"{label} of {name!r} must be JSON: {exc}", field=label) from exc
        load_artifact(staged)
        # An orphan directory would block the number it sits on: clear the way first.
        # Best effort: what cannot be tidied now is for `modelry models check`.
        with suppress(OSError):
            self._reconcile(
                [name],
                verify=False,
                stale_after=STALE_AFTER,
                repair=True,
                quiet=True,
                spare=staged.absolute(),
            )
        created_at, created_by = _now(), _current_user()

        def claim(conn: Connection) -> int:
            # Pending and deleted rows count: a number is never reused.
            latest = conn.scalar(
                select(func.coalesce(func.max(versions_t.c.version), 0)).where(
                    versions_t.c.name == name
                )
            )
            version = int(latest or 0) + 1
            conn.execute(
                insert(versions_t).values(
                    name=name,
                    version=version,
                    status=PENDING,
                    path=f"{name}/{version}",
                    created_at=created_at,
                    created_by=created_by,
                    task=task,
                    metrics=metrics,
                    lineage=lineage,
                    description=description,
                )
            )
            return version

        version = self._retry_write(claim)
        key = (versions_t.c.name == name) & (versions_t.c.version == version)
        pending = key & (versions_t.c.status == PENDING)
        final = self.models_dir / name / str(version)
        try:
            commit_dir(staged, final)
        except BaseException:
            with self._write() as conn:
                conn.execute(delete(versions_t).where(pending))
            raise
        try:
            with self._write() as conn:
                # Only while still pending: a reconciler may have adopted the
                # directory (then it is ready, and ours) or retired a claim it
                # took for dead (then the number is no longer ours).
                if conn.execute(update(versions_t).where(pending).values(status=READY)).rowcount:
                    self._bump(conn)
                elif conn.scalar(select(versions_t.c.status).where(key)) != READY:
                    raise ConflictError(
                        f"the claim on {name!r} version {version} was retired as stale "
                        "before it could be committed; register again",
                        model=name,
                        version=version,
                    )
        except BaseException:
            self._release(key, final, staged)
            raise
        return self.get(name, version)

    def _release(self, key: Any, final: Path, staged: Path) -> None:
        # Drop the claim first and hand the directory back only then: the other
        # order lets a reconciler adopt a row whose directory has just left.
        try:
            with self._write() as conn:
                conn.execute(delete(versions_t).where(key & (versions_t.c.status == PENDING)))
                status = conn.scalar(select(versions_t.c.status).where(key))
        except Exception:
            return  # the pending row stays with its directory: the next write adopts it
        if status != READY:
            with suppress(OSError):
                os.rename(final, staged)

    def set_alias(self, name: str, alias: str, version: int) -> None:
        """Point ``name:alias`` at ``version`` (creating or moving the alias)."""
        validate_name(name)
        validate_alias(alias)
        if alias == LATEST:
            raise ConfigError(f"alias {LATEST!r} is reserved: it always means the newest version")

        def upsert(conn: Connection) -> None:
            self._fetch(conn, name, version)
            key = (aliases_t.c.name == name) & (aliases_t.c.alias == alias)
            moved = conn.execute(update(aliases_t).where(key).values(version=version))
            if moved.rowcount == 0:
                conn.execute(insert(aliases_t).values(name=name, alias=alias, version=version))
            self._bump(conn)

        self._retry_write(upsert)

    def remove_alias(self, name: str, alias: str) -> None:
        """Remove ``name:alias``; NotFoundError when it is not set."""
        validate_name(name)
        validate_alias(alias)
        with self._write() as conn:
            self._require_model(conn, name)
            key = (aliases_t.c.name == name) & (aliases_t.c.alias == alias)
            if conn.execute(delete(aliases_t).where(key)).rowcount == 0:
                raise NotFoundError(f"model {name!r} has no alias {alias!r}", model=name)
            self._bump(conn)

    def delete(self, name: str, version: int, *, force: bool = False) -> None:
        """Remove a version and its directory.

        Args:
            force: Also remove aliases that point at it; without it, such
                aliases make the delete a ConflictError.
        """
        validate_name(name)
        with self._write() as conn:
            model_version = self._fetch(conn, name, version)
            if model_version.aliases and not force:
                raise ConflictError(
                    f"model {name!r} version {version} is aliased as "
                    f"{', '.join(model_version.aliases)}; move the aliases or use force",
                    model=name,
                    version=version,
                )
            conn.execute(
                delete(aliases_t).where(aliases_t.c.name == name, aliases_t.c.version == version)
            )
            conn.execute(
                update(versions_t)
                .where(versions_t.c.name == name, versions_t.c.version == version)
                .values(status=DELETED)
            )
            self._bump(conn)
        # The row is gone from view; now the directory (a reconciler may get there first).
        with suppress(FileNotFoundError):
            discard(self.models_dir, model_version.path, f"{name}-{version}")

    # -- reconciling ----------------------------------------------------------------

    def check(
        self,
        *,
        repair: bool = False,
        verify: bool = True,
        stale_after: timedelta = STALE_AFTER,
    ) -> CheckReport:
        """Find what a crash (or a hand) left inconsistent, and repair what is safe.

        Args:
            repair: Adopt, quarantine, retire and remove as
                :mod:`modelry.registry.reconcile` describes; ready versions that
                are missing or corrupt are only reported.
            verify: Hash the files of every ready version against its manifest.
            stale_after: How long a staging directory or a pending claim without
                a directory must lie untouched before it counts as dead.

        Raises:
            ArtifactError: the models directory cannot be read.
        """
        try:
            return self._reconcile(
                None, verify=verify, stale_after=stale_after, repair=repair, quiet=False
            )
        except OSError as exc:
            raise ArtifactError(f"cannot check {self.models_dir}: {exc}") from exc

    def _reconcile(
        self,
        names: Collection[str] | None,
        *,
        verify: bool,
        stale_after: timedelta,
        repair: bool,
        quiet: bool,
        spare: Path | None = None,
    ) -> CheckReport:
        dirs = version_dirs(self.models_dir, names)  # before the rows: see reconcile's docstring
        query = select(
            versions_t.c.name,
            versions_t.c.version,
            versions_t.c.status,
            versions_t.c.path,
            versions_t.c.created_at,
            versions_t.c.task,
        )
        if names is not None:
            query = query.where(versions_t.c.name.in_(list(names)))
        with self._read() as conn:
            rows = [IndexRow(*row) for row in conn.execute(query)]
        findings = diagnose(
            self.models_dir,
            dirs,
            rows,
            now=datetime.now(UTC),
            stale_after=stale_after,
            verify_ready=verify,
        )
        # The caller's own staged artifact, however long it waited, is not stale.
        findings = [f for f in findings if f.path != spare]
        if repair:
            findings = [self._repair(finding, quiet=quiet) for finding in findings]
        return CheckReport(findings, sum(row.status == READY for row in rows))

    def _repair(self, finding: Finding, *, quiet: bool) -> Finding:
        try:
            done = self._fix(finding)
        except FileNotFoundError:
            done = "already gone (another process got there first)"
        except OSError as exc:
            if not quiet:
                return replace(finding, detail=f"{finding.detail}; repair failed: {exc}")
            return finding
        return finding if done is None else replace(finding, repaired=done)

    def _fix(self, finding: Finding) -> str | None:
        label = f"{finding.name}-{finding.version}"
        key = (
            (versions_t.c.name == finding.name)
            & (versions_t.c.version == finding.version)
            & (versions_t.c.status == PENDING)
        )
        if finding.kind is Trouble.UNFINISHED and finding.adoptable:
            with self._write() as conn:
                if not finding.path.is_dir():
                    return "nothing to adopt: its directory went away"
                if not conn.execute(update(versions_t).where(key).values(status=READY)).rowcount:
                    return "its writer marked it first"
                self._bump(conn)
            return "adopted as ready"
        if finding.kind is Trouble.UNFINISHED:
            moved = quarantine(self.models_dir, finding.path, label)
            with self._write() as conn:
                conn.execute(update(versions_t).where(key).values(status=DELETED))
            return f"moved to {moved.relative_to(self.models_dir)}; number retired"
        if finding.kind is Trouble.ABANDONED:
            with self._write() as conn:
                if not conn.execute(update(versions_t).where(key).values(status=DELETED)).rowcount:
                    return "its writer settled it first"
            return "number retired"
        if finding.kind is Trouble.ORPHAN:
            moved = quarantine(self.models_dir, finding.path, label)
            return f"moved to {moved.relative_to(self.models_dir)}"
        if finding.kind is Trouble.LEFTOVER:
            discard(self.models_dir, finding.path, label)
            return "removed"
        if finding.kind is Trouble.STAGING:
            discard(self.models_dir, finding.path, finding.path.name)
            return "removed"
        if finding.kind is Trouble.TRASH:
            shutil.rmtree(finding.path)
            return "removed"
        return None  # missing and corrupt versions are a person's call

    # -- reading --------------------------------------------------------------------

    def get(self, name: str, ref: str | int | None = None) -> ModelVersion:
        """Find a version by number, alias, or the default.

        Args:
            name: The model.
            ref: ``None`` for the ``production`` alias if set, else the newest
                version; an int or digit string for that version; ``latest`` for
                the newest; any other string for an alias.

        Raises:
            NotFoundError: unknown model, version or alias (the message lists what exists).
        """
        validate_name(name)
        with self._read() as conn:
            versions = self._require_model(conn, name)
            if isinstance(ref, bool):
                raise ConfigError(f"bad version {ref!r} of {name!r}: use a number or an alias")
            if isinstance(ref, int):
                return self._fetch(conn, name, ref)
            if isinstance(ref, str) and ref.isdigit():
                return self._fetch(conn, name, int(ref))
            if ref is None or ref == LATEST:
                default = self._aliases(conn, name).get(DEFAULT_ALIAS) if ref is None else None
                return self._fetch(conn, name, default if default is not None else versions[-1])
            validate_alias(ref)
            aliases = self._aliases(conn, name)
            if ref not in aliases:
                shown = ", ".join(aliases) or "(none)"
                raise NotFoundError(
                    f"model {name!r} has no alias {ref!r}; aliases: {shown}", model=name
                )
            return self._fetch(conn, name, aliases[ref])

    def resolve(self, spec: str) -> ModelVersion:
        """Find a version from ``NAME``, ``NAME:VERSION`` or ``NAME:ALIAS``."""
        name, colon, ref = spec.partition(":")
        if colon and not ref:
            raise ConfigError(f"bad model reference {spec!r}: use NAME, NAME:VERSION or NAME:ALIAS")
        return self.get(name, ref if colon else None)

    def versions(self, name: str) -> list[ModelVersion]:
        """Every ready version of ``name``, oldest first."""
        validate_name(name)
        with self._read() as conn:
            self._require_model(conn, name)
            rows = conn.execute(
                select(versions_t)
                .where(versions_t.c.name == name, versions_t.c.status == READY)
                .order_by(versions_t.c.version)
            ).all()
            return [self._model_version(conn, row) for row in rows]

    def list_models(self) -> list[ModelSummary]:
        """One summary per model that has a ready version, sorted by name."""
        with self._read() as conn:
            rows = conn.execute(
                select(versions_t.c.name, func.max(versions_t.c.version), func.count())
                .where(versions_t.c.status == READY)
                .group_by(versions_t.c.name)
                .order_by(versions_t.c.name)
            ).all()
            all_aliases: dict[str, dict[str, int]] = {}
            for alias_row in conn.execute(select(aliases_t).order_by(aliases_t.c.alias)):
                all_aliases.setdefault(alias_row.name, {})[alias_row.alias] = alias_row.version
        return [
            ModelSummary(name, int(latest), int(count), all_aliases.get(name, {}))
            for name, latest, count in rows
        ]

    def aliases(self, name: str) -> dict[str, int]:
        """``{alias: version}`` of ``name``, sorted by alias."""
        validate_name(name)
        with self._read() as conn:
            self._require_model(conn, name)
            return self._aliases(conn, name)

    def revision(self) -> int:
        """A counter that moves whenever a version or alias becomes visible or goes away."""
        with self._read() as conn:
            return int(conn.scalar(select(revision_t.c.counter)) or 0)

    def changed_since(self, token: int) -> bool:
        """Whether anything visible changed since :meth:`revision` returned ``token``."""
        return self.revision() != token


__all__ = [
    "DEFAULT_ALIAS",
    "LATEST",
    "QUARANTINE_DIR",
    "CheckReport",
    "Finding",
    "ModelSummary",
    "ModelVersion",
    "Registry",
    "validate_alias",
    "validate_name",
]
