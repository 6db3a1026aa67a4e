"""A model version on disk: a directory of plain files and a manifest of their hashes.

An artifact is written into a private staging directory by :class:`ArtifactWriter`,
sealed with ``manifest.json`` (every file's sha256 and size), and renamed into its
final place by :func:`commit_dir` — one ``rename``, so readers see either no model
or the whole model. :func:`load_artifact` checks the manifest before anything in
the directory is trusted. Nothing here unpickles: files are bytes, JSON or text.

Example:
    >>> import tempfile
    >>> root = Path(tempfile.mkdtemp())
    >>> with ArtifactWriter(root / "staging") as writer:
    ...     writer.write_json("config.json", {"layers": [8, 1]})
    ...     staged = writer.finish({"name": "churn"})
    >>> commit_dir(staged, root / "churn" / "1")
    >>> load_artifact(root / "churn" / "1").read_json("config.json")
    {'layers': [8, 1]}
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path, PurePosixPath
from types import TracebackType
from typing import Any

import orjson

from modelry.errors import ArtifactError, ConflictError, NotFoundError
from modelry.registry.layout import MANIFEST_FILE

MANIFEST = MANIFEST_FILE
FORMAT = 1

# NaN and numpy scalars become JSON without importing numpy here (orjson knows them).
_JSON_OPTIONS = (
    orjson.OPT_INDENT_2
    | orjson.OPT_SORT_KEYS
    | orjson.OPT_APPEND_NEWLINE
    | orjson.OPT_SERIALIZE_NUMPY
    | orjson.OPT_NON_STR_KEYS
)


def dumps_json(obj: Any) -> bytes:
    """Serialise ``obj`` the way every JSON file of an artifact is written.

    Raises:
        TypeError: ``obj`` holds something JSON cannot represent.
    """
    return orjson.dumps(obj, option=_JSON_OPTIONS)


def check_relpath(relpath: str) -> str:
    """Return ``relpath`` in canonical POSIX form, or refuse it.

    A file of an artifact lives at the top level or one folder down
    (``plots/roc.png``); anything that could escape the directory is refused.

    Raises:
        ArtifactError: the path is absolute, empty, deeper than one folder,
            contains ``..``/``.``/backslashes, or is the reserved ``manifest.json``.
    """
    if not relpath or "\\" in relpath or "\x00" in relpath:
        raise ArtifactError(f"bad artifact file path {relpath!r}: use 'file' or 'folder/file'")
    pure = PurePosixPath(relpath)
    parts = relpath.split("/")
    if pure.is_absolute() or any(part in ("", ".", "..") for part in parts) or len(parts) > 2:
        raise ArtifactError(
            f"bad artifact file path {relpath!r}: must be relative, without '..', "
            "and at most one folder deep ('folder/file')"
        )
    if relpath == MANIFEST:
        raise ArtifactError(f"{MANIFEST} is written by finish(); pick another file name")
    return relpath


def _sha256_file(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


class ArtifactWriter:
    """Builds one artifact in a fresh staging directory.

    Args:
        staging_root: Where the staging directory is created. Put it on the same
            filesystem as the final location so :func:`commit_dir` is one atomic rename.

    Used as a context manager, the staging directory is removed when the block
    raises, or when it ends without :meth:`finish`.
    """

    def __init__(self, staging_root: Path) -> None:
        staging_root.mkdir(parents=True, exist_ok=True)
        self._dir = Path(tempfile.mkdtemp(prefix="staging-", dir=staging_root))
        # mkdtemp makes it private (0700); a served model must be readable by the server's user.
        self._dir.chmod(0o755)
        self._files: dict[str, dict[str, Any]] = {}
        self._finished = False

    @property
    def path(self) -> Path:
        """The staging directory."""
        return self._dir

    def _target(self, relpath: str) -> tuple[str, Path]:
        if self._finished:
            raise ArtifactError("this artifact is already finished (or aborted); start a new one")
        relpath = check_relpath(relpath)
        if relpath in self._files:
            raise ArtifactError(f"artifact file {relpath} was already written")
        target = self._dir / relpath
        target.parent.mkdir(exist_ok=True)
        return relpath, target

    def write_bytes(self, relpath: str, data: bytes) -> Path:
        """Write ``data`` as ``relpath``; returns the file's path."""
        relpath, target = self._target(relpath)
        target.write_bytes(data)
        self._files[relpath] = {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
        return target

    def write_json(self, relpath: str, obj: Any) -> Path:
        """Write ``obj`` as indented JSON with sorted keys (UTF-8)."""
        try:
            data = dumps_json(obj)
        except TypeError as exc:
            raise ArtifactError(f"cannot write {relpath} as JSON: {exc}") from exc
        return self.write_bytes(relpath, data)

    def write_text(self, relpath: str, text: str) -> Path:
        """Write ``text`` encoded as UTF-8."""
        return self.write_bytes(relpath, text.encode("utf-8"))

    def copy_file(self, relpath: str, src: Path) -> Path:
        """Copy the file ``src`` into the artifact as ``relpath``."""
        relpath, target = self._target(relpath)
        try:
            shutil.copyfile(src, target)
        except OSError as exc:
            raise ArtifactError(f"cannot copy {src} into the artifact as {relpath}: {exc}") from exc
        # Hash what landed, not the source, which another process may still be writing.
        self._files[relpath] = {"sha256": _sha256_file(target), "bytes": target.stat().st_size}
        return target

    def finish(self, meta: dict[str, Any]) -> Path:
        """Seal the artifact with its manifest and return the staged directory.

        Args:
            meta: Extra top-level manifest entries (name, task, …); may not use
                the keys ``format`` or ``files``.
        """
        reserved = {"format", "files"} & meta.keys()
        if reserved:
            raise ArtifactError(f"manifest keys {sorted(reserved)} are reserved")
        if self._finished:
            raise ArtifactError("this artifact is already finished (or aborted)")
        manifest = {"format": FORMAT, "files": dict(sorted(self._files.items())), **meta}
        try:
            data = dumps_json(manifest)
        except TypeError as exc:
            raise ArtifactError(f"cannot write the manifest: {exc}") from exc
        (self._dir / MANIFEST).write_bytes(data)
        self._finished = True
        return self._dir

    def abort(self) -> None:
        """Remove the staging directory and everything written to it."""
        self._finished = True
        shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self) -> ArtifactWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is not None or not self._finished:
            self.abort()


def _fsync_path(path: Path, *, directory: bool = False) -> None:
    # Directories cannot be opened for fsync on every platform (Windows); there
    # the rename's durability is the filesystem's business.
    flags = os.O_RDONLY | (getattr(os, "O_DIRECTORY", 0) if directory else 0)
    try:
        fd = os.open(path, flags)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def commit_dir(staged: Path, final: Path) -> None:
    """Move a finished staging directory to ``final`` in one atomic rename.

    Files are flushed to disk first, and the parent directory after, so that a
    power cut leaves either no model or a complete one.

    Raises:
        ConflictError: ``final`` already exists.
        ArtifactError: ``staged`` is missing, or lies on another filesystem.
    """
    if not staged.is_dir():
        raise ArtifactError(f"staged artifact {staged} does not exist (was it aborted?)")
    final.parent.mkdir(parents=True, exist_ok=True)
    # os.rename silently replaces an empty directory on POSIX, so look first.
    if final.exists():
        raise ConflictError(f"{final} already exists; a model version is never overwritten")
    for file in staged.rglob("*"):
        if file.is_file():
            _fsync_path(file)
    _fsync_path(staged, directory=True)
    try:
        os.rename(staged, final)
    except FileNotFoundError as exc:
        raise ArtifactError(f"staged artifact {staged} vanished before commit") from exc
    except OSError as exc:
        if final.exists():
            raise ConflictError(
                f"{final} already exists; a model version is never overwritten"
            ) from exc
        raise ArtifactError(
            f"cannot move {staged} to {final}: {exc.strerror} "
            "(stage artifacts on the same filesystem as the models directory)"
        ) from exc
    _fsync_path(final.parent, directory=True)
    if staged.parent != final.parent:
        _fsync_path(staged.parent, directory=True)


class Artifact:
    """A loaded (and, by default, verified) artifact directory.

    Build one with :func:`load_artifact`.
    """

    def __init__(self, path: Path, manifest: dict[str, Any]) -> None:
        self._path = path
        self._manifest = manifest
        self._files: dict[str, dict[str, Any]] = manifest["files"]

    def __repr__(self) -> str:
        return f"Artifact({str(self._path)!r}, files={len(self._files)})"

    @property
    def path(self) -> Path:
        """The artifact directory."""
        return self._path

    @property
    def manifest(self) -> dict[str, Any]:
        """The parsed ``manifest.json`` (format, files and the writer's metadata)."""
        return self._manifest

    @property
    def files(self) -> list[str]:
        """Relative paths of the artifact's files, sorted; the manifest excluded."""
        return sorted(self._files)

    def __contains__(self, relpath: object) -> bool:
        return relpath in self._files

    def file(self, relpath: str) -> Path:
        """Absolute path of a file the manifest lists.

        Raises:
            ArtifactError: the artifact has no such file.
        """
        if relpath not in self._files:
            raise ArtifactError(
                f"model artifact {self._path} has no file {relpath!r}; "
                f"files: {', '.join(self.files) or '(none)'}"
            )
        return self._path / relpath

    def read_bytes(self, relpath: str) -> bytes:
        """The contents of ``relpath``."""
        return self.file(relpath).read_bytes()

    def read_text(self, relpath: str) -> str:
        """The contents of ``relpath`` decoded as UTF-8."""
        return self.read_bytes(relpath).decode("utf-8")

    def read_json(self, relpath: str) -> Any:
        """The contents of ``relpath`` parsed as JSON."""
        try:
            return orjson.loads(self.read_bytes(relpath))
        except orjson.JSONDecodeError as exc:
            raise ArtifactError(f"model file {relpath} is not valid JSON: {exc}") from exc

    def verify(self) -> None:
        """Check every file against the manifest, and that no other file exists.

        Raises:
            ArtifactError: naming the first file that is changed, missing or extra.
        """
        present: set[str] = set()
        for item in self._path.rglob("*"):
            if item.is_dir() and not item.is_symlink():
                continue
            relpath = item.relative_to(self._path).as_posix()
            if item.is_symlink() or not item.is_file():
                raise ArtifactError(
                    f"model file {relpath} is not a regular file; links are refused"
                )
            present.add(relpath)
        present.discard(MANIFEST)
        extra = sorted(present - self._files.keys())
        if extra:
            raise ArtifactError(
                f"model file {extra[0]} is not listed in its manifest (added after it was written)"
            )
        for relpath, entry in sorted(self._files.items()):
            if relpath not in present:
                raise ArtifactError(f"model file {relpath} is listed in its manifest but missing")
            target = self._path / relpath
            # The size check is free and catches truncation without reading the file.
            if target.stat().st_size != entry["bytes"] or _sha256_file(target) != entry["sha256"]:
                raise ArtifactError(
                    f"model file {relpath} does not match its manifest "
                    "(changed after it was written)"
                )


def _parse_manifest(path: Path) -> dict[str, Any]:
    manifest_path = path / MANIFEST
    try:
        manifest = orjson.loads(manifest_path.read_bytes())
    except FileNotFoundError as exc:
        raise ArtifactError(f"model artifact {path} has no {MANIFEST}") from exc
    except orjson.JSONDecodeError as exc:
        raise ArtifactError(f"{manifest_path} is not valid JSON: {exc}") from exc
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), dict):
        raise ArtifactError(f"{manifest_path} has no 'files' table")
    if manifest.get("format") != FORMAT:
        raise ArtifactError(
            f"{manifest_path} has format {manifest.get('format')!r}; this modelry reads {FORMAT}"
        )
    for relpath, entry in manifest["files"].items():
        try:
            check_relpath(relpath)
        except ArtifactError as exc:
            raise ArtifactError(f"{manifest_path} lists a bad path: {exc.message}") from exc
        if not isinstance(entry, dict) or not {"sha256", "bytes"} <= entry.keys():
            raise ArtifactError(f"{manifest_path} entry for {relpath} lacks sha256 or bytes")
    return manifest


def load_artifact(path: Path, *, verify: bool = True) -> Artifact:
    """Open the artifact directory ``path``, checking it against its manifest.

    Args:
        path: The artifact directory.
        verify: Hash every file and refuse unlisted ones. Turn off only where the
            directory was verified moments ago by the same process.

    Raises:
        NotFoundError: ``path`` is not a directory.
        ArtifactError: the manifest is missing or malformed, or a file does not match it.
    """
    if not path.is_dir():
        raise NotFoundError(f"no model artifact at {path}")
    artifact = Artifact(path, _parse_manifest(path))
    if verify:
        artifact.verify()
    return artifact


__all__ = [
    "MANIFEST",
    "Artifact",
    "ArtifactWriter",
    "check_relpath",
    "commit_dir",
    "dumps_json",
    "load_artifact",
]
