"""Shared terminal output: Rich consoles, one-line errors, JSON printing.

Rich reads ``[word]`` in a string as a style tag and drops it, so text that is not
ours — messages, column names, values, paths — goes through :func:`escape` (or
``markup=False``) before it is printed: ``pip install 'modelry[privacy]'`` must print
as written.
"""

from __future__ import annotations

import sys
from typing import Any

import orjson
from rich.console import Console
from rich.markup import escape

out = Console()
err = Console(stderr=True)

__all__ = ["err", "error", "escape", "out", "print_json", "warn"]


def error(message: str) -> None:
    """One line, no traceback: what went wrong and, where possible, what to do."""
    err.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)


def warn(message: str) -> None:
    err.print(f"[yellow]warning:[/] {escape(message)}", highlight=False, soft_wrap=True)


def print_json(obj: Any) -> None:
    """Exactly one JSON object on stdout, for machines (``--json``)."""
    sys.stdout.write(
        orjson.dumps(obj, option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS).decode()
    )
    sys.stdout.write("\n")
    sys.stdout.flush()
