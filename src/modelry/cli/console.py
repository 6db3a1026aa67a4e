"""Shared terminal output: Rich consoles, one-line errors, JSON printing."""

from __future__ import annotations

import sys
from typing import Any

import orjson
from rich.console import Console

out = Console()
err = Console(stderr=True)


def error(message: str) -> None:
    """One line, no traceback: what went wrong and, where possible, what to do."""
    err.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)


def warn(message: str) -> None:
    err.print(f"[yellow]warning:[/] {message}", highlight=False, soft_wrap=True)


def print_json(obj: Any) -> None:
    """Exactly one JSON object on stdout, for machines (``--json``)."""
    sys.stdout.write(
        orjson.dumps(obj, option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS).decode()
    )
    sys.stdout.write("\n")
    sys.stdout.flush()
