"""What the registry hands out, and the rule every model name and alias follows.

Names become directory names and URL segments, so they are checked before they
touch either: 1–64 characters of ``[A-Za-z0-9._-]``, starting alphanumeric.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from modelry.errors import ConfigError

_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_NAME_RULE = "1–64 characters of A-Z a-z 0-9 . _ -, starting with a letter or digit"


def validate_name(name: str, *, what: str = "model name") -> str:
    """Return ``name`` if it is a valid model name, else raise ConfigError.

    Names become directory names and URL segments, so they are 1–64 characters
    of ``[A-Za-z0-9._-]`` starting alphanumeric: no ``..``, slashes or spaces.
    """
    if not isinstance(name, str) or not _NAME_RE.fullmatch(name):
        raise ConfigError(f"invalid {what} {name!r}: use {_NAME_RULE}", field=what)
    return name


def validate_alias(alias: str) -> str:
    """Like :func:`validate_name`, and not all digits (a number means a version)."""
    validate_name(alias, what="alias")
    if alias.isdigit():
        raise ConfigError(f"invalid alias {alias!r}: all digits would read as a version")
    return alias


@dataclass(frozen=True)
class ModelVersion:
    """One ready version of a model, as the registry knows it."""

    name: str
    version: int
    path: Path
    created_at: datetime
    created_by: str
    task: str
    metrics: dict[str, Any] = field(hash=False)
    lineage: dict[str, Any] = field(hash=False)
    description: str = ""
    aliases: list[str] = field(default_factory=list, hash=False)

    @property
    def ref(self) -> str:
        """``name:version``, the spelling :meth:`Registry.resolve` accepts."""
        return f"{self.name}:{self.version}"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view for APIs and the CLI."""
        return {
            "name": self.name,
            "version": self.version,
            "ref": self.ref,
            "path": str(self.path),
            "created_at": self.created_at.isoformat(),
            "created_by": self.created_by,
            "task": self.task,
            "metrics": self.metrics,
            "lineage": self.lineage,
            "description": self.description,
            "aliases": list(self.aliases),
        }


@dataclass(frozen=True)
class ModelSummary:
    """A model name with its newest version, version count and aliases."""

    name: str
    latest_version: int
    n_versions: int
    aliases: dict[str, int] = field(hash=False)


__all__ = ["ModelSummary", "ModelVersion", "validate_alias", "validate_name"]
