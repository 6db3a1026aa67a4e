"""``modelry inspect``: the schema modelry infers, and why."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from modelry.cli import console
from modelry.cli.train import _csv, _types

Opt = typer.Option


def inspect_command(
    data: Annotated[Path, typer.Argument(help="CSV or Parquet file.")],
    target: Annotated[str | None, Opt(help="Column to predict.")] = None,
    drop: Annotated[str | None, Opt(help="Columns to leave out, comma-separated.")] = None,
    sensitive: Annotated[str | None, Opt(help="Protected attributes, comma-separated.")] = None,
    identifier: Annotated[str | None, Opt(help="Identifier columns, comma-separated.")] = None,
    column_type: Annotated[list[str] | None, Opt("--type", help="COLUMN=TYPE override.")] = None,
    missing_values: Annotated[str | None, Opt(help="Extra tokens read as missing.")] = None,
    json_output: Annotated[bool, Opt("--json", help="Print one JSON object.")] = False,
) -> None:
    """Show each column's inferred type and role, with reasons for what is dropped.

    With a target, also the leakage report: columns that alone predict the target almost
    perfectly (ROC-AUC or R² of 0.95 or more), are a function of it, or are missing exactly
    when it is one class. Scored on every labelled row; ``modelry train`` scores the
    training split.
    """
    from modelry.data.clean import clean
    from modelry.data.infer import infer_schema
    from modelry.data.leakage import find_leaks
    from modelry.data.sources import read_table

    frame = read_table(data)
    schema = infer_schema(
        frame,
        target=target,
        drop=_csv(drop, "drop") or (),
        sensitive=_csv(sensitive, "sensitive") or (),
        identifiers=_csv(identifier, "identifier") or (),
        types=_types(column_type) or {},  # type: ignore[arg-type]
        missing_values=_csv(missing_values, "missing-values") or (),
    )
    warnings: list[str] = []
    leaks = []
    if schema.target:
        cleaned, report = clean(frame, schema)
        leaks = find_leaks(cleaned, schema)
        warnings = list(report.warnings) + [leak.message for leak in leaks]
    if json_output:
        doc = schema.model_dump(mode="json")
        leak_docs = [leak.to_dict() for leak in leaks]
        doc.update(rows=len(frame), file=str(data), warnings=warnings, leaks=leak_docs)
        console.print_json(doc)
        return
    table = Table(
        title=f"{console.escape(data.name)}: {len(frame):,} rows × {len(frame.columns)} columns"
    )
    for header in ("column", "type", "role", "missing", "unique", "examples", "why"):
        table.add_column(header, overflow="fold")
    for col in schema.columns:
        style = "" if col.role.value in ("feature", "target") else "dim"
        table.add_row(
            console.escape(col.name),
            col.type.value,
            col.role.value,
            f"{col.missing_fraction:.1%}",
            f"{col.n_unique:,}",
            console.escape(", ".join(col.examples[:3])),
            console.escape(col.reason),
            style=style,
        )
    console.out.print(table)
    if schema.task:
        classes = f", classes {schema.classes}" if schema.classes else ""
        console.out.print(f"task: {schema.task.value}{classes}", highlight=False, markup=False)
    for message in warnings:
        console.warn(message)
