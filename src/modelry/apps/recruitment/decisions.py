"""The decision log: every shortlist, append-only and tamper-evident.

``MODELRY_HOME/recruitment/decisions.jsonl`` holds one JSON object a line. Each entry carries
``prev``, the ``sha256`` of the entry before it (64 zeros for the first), and its own
``sha256``, the hash of its canonical JSON without that field. Editing an entry breaks its own
hash; editing it and recomputing its hash breaks the next entry's ``prev``; either way
:func:`verify` names the entry. Removing the newest entries leaves a valid shorter chain: keep
the newest hash elsewhere (``modelry recruit log show --last 1``) to detect that too.

Appends hold an exclusive ``flock`` on the file, so concurrent matches chain correctly.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modelry.errors import DataError
from modelry.settings import Settings

LOG_FILE = "decisions.jsonl"
GENESIS = "0" * 64


def log_path(settings: Settings) -> Path:
    """``MODELRY_HOME/recruitment/decisions.jsonl``."""
    return settings.home / "recruitment" / LOG_FILE


def _canonical(entry: dict[str, Any]) -> bytes:
    body = {k: v for k, v in entry.items() if k != "sha256"}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def entry_hash(entry: dict[str, Any]) -> str:
    """The sha256 of an entry's canonical JSON, its own ``sha256`` field left out."""
    return hashlib.sha256(_canonical(entry)).hexdigest()


def _last_hash(lines: list[bytes]) -> tuple[int, str]:
    for line in reversed(lines):
        if line.strip():
            last = json.loads(line)
            return int(last["seq"]), str(last["sha256"])
    return 0, GENESIS


def append(path: Path, record: dict[str, Any]) -> dict[str, Any]:
    """Append ``record`` as the next entry, chained to the last; the entry written.

    Raises:
        DataError: the log's last entry cannot be read (verify it).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a+b") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        f.seek(0)
        try:
            seq, prev = _last_hash(f.read().splitlines())
        except (ValueError, KeyError, TypeError) as exc:
            raise DataError(
                f"{path}: the last entry is unreadable; run `modelry recruit log verify` ({exc})"
            ) from exc
        entry = {"seq": seq + 1, "time": time.time(), **record, "prev": prev}
        entry["sha256"] = entry_hash(entry)
        f.write(json.dumps(entry, ensure_ascii=False).encode() + b"\n")
        f.flush()
    return entry


def read(path: Path) -> Iterator[dict[str, Any]]:
    """The entries, oldest first.

    Raises:
        DataError: a line is not a JSON object.
    """
    if not path.exists():
        return
    with path.open("rb") as f:
        for number, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
            except ValueError as exc:
                raise DataError(f"{path}: entry {number} is not JSON") from exc
            if not isinstance(entry, dict):
                raise DataError(f"{path}: entry {number} is not a JSON object")
            yield entry


@dataclass(frozen=True)
class Verified:
    """A chain checked: how many entries, and the newest hash."""

    entries: int
    head: str


def verify(path: Path) -> Verified:
    """Check every entry's hash and link.

    Raises:
        DataError: naming the first entry (1-based line) that was altered, removed or
            reordered.
    """
    prev, count = GENESIS, 0
    for number, entry in enumerate(read(path), start=1):
        if entry.get("sha256") != entry_hash(entry):
            raise DataError(f"{path}: entry {number} was altered (its hash does not match)")
        if entry.get("prev") != prev:
            raise DataError(
                f"{path}: entry {number - 1 if number > 1 else 1} was altered or an entry "
                f"before {number} removed (entry {number} does not chain to it)"
            )
        prev, count = str(entry["sha256"]), number
    return Verified(count, prev)
