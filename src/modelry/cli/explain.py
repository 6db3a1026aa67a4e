"""``modelry explain``: what a model relies on overall, and why it scored given rows.

``modelry explain NAME`` prints the permutation importance stored with the version;
``--record '{...}'`` or a DATA file prints per-row attributions and reasons.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import numpy as np
import typer
from rich.table import Table

from modelry.cli import console
from modelry.errors import ConfigError, InvalidInputError, NotFoundError
from modelry.settings import Settings

if TYPE_CHECKING:
    from modelry.explain.attributions import Explanation
    from modelry.registry.records import ModelVersion


def explain_command(
    model: Annotated[str, typer.Argument(help="NAME, NAME:VERSION or NAME:ALIAS.")],
    data: Annotated[
        Path | None, typer.Argument(help="CSV or Parquet file whose first rows to explain.")
    ] = None,
    record: Annotated[
        str | None, typer.Option("--record", help="One row (or a list of rows) as JSON.")
    ] = None,
    limit: Annotated[int, typer.Option(help="Rows of DATA to explain.", min=1)] = 5,
    top: Annotated[int, typer.Option(help="Reasons kept per direction.", min=1)] = 3,
    json_output: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Global importance of MODEL's columns, or why it scored --record / the rows of DATA."""
    from modelry.registry.store import Registry

    if data is not None and record is not None:
        raise ConfigError("give either DATA or --record, not both")
    version = Registry(Settings()).resolve(model)
    if data is None and record is None:
        _global(version, json_output)
        return
    explainer, runtime = _explainer(version, top)
    kinds = runtime.input_kinds()
    if record is not None:
        columns = record_columns(record, kinds)
    else:
        assert data is not None
        columns = _file_rows(data, kinds, limit)
    explanations = explainer.explain(_resolved(version, runtime, columns), columns)
    if json_output:
        console.print_json(
            {
                "model": version.name,
                "version": version.version,
                "explanations": [e.to_dict() for e in explanations],
            }
        )
        return
    for i, explanation in enumerate(explanations):
        _print_local(i, explanation, columns)


def _explainer(version: ModelVersion, top: int) -> tuple[Any, Any]:
    """The explainer of the version's kind, and its loaded runtime."""
    from modelry.explain.kinds import explainer_for
    from modelry.serving.kinds import open_runtime

    runtime = open_runtime(version.path, version.name, version.version)
    return explainer_for(runtime, top=top), runtime


def _resolved(version: ModelVersion, runtime: Any, columns: dict[str, Any]) -> Any:
    """``columns`` with any column another served model computes first (a text the
    ``text-encoder`` embeds) computed by it, through a data plane of this command's own."""
    if not runtime.upstream:
        return columns
    from modelry.registry.store import Registry
    from modelry.serving.scoring import with_model

    n_rows = len(next(iter(columns.values()), []))

    async def work(plane: Any, served: Any) -> Any:
        return await plane.resolve(served, columns, n_rows)

    return with_model(Registry(Settings()), version.name, version.version, work)


# -- global -----------------------------------------------------------------------------------


def _global(version: ModelVersion, json_output: bool) -> None:
    from modelry.registry.artifact import load_artifact
    from modelry.registry.layout import IMPORTANCE_FILE

    artifact = load_artifact(version.path)
    if IMPORTANCE_FILE not in artifact and artifact.manifest.get("kind") == "uplift":
        raise NotFoundError(
            f"{version.name}:{version.version} is an uplift model: it has no global "
            "importance; explain rows with --record or DATA",
            model=version.name,
        )
    if IMPORTANCE_FILE not in artifact:
        raise NotFoundError(
            f"{version.name}:{version.version} has no {IMPORTANCE_FILE} (trained before "
            "explanations existed): train it again, or explain rows with --record or DATA",
            model=version.name,
        )
    doc: dict[str, Any] = artifact.read_json(IMPORTANCE_FILE)
    if json_output:
        console.print_json({"model": version.name, "version": version.version, **doc})
        return
    metric = doc.get("metric", "metric")
    if not doc.get("columns"):
        console.out.print(
            f"no importance for {version.name}:{version.version}: {doc.get('note', '')}",
            markup=False,
        )
        return
    value = doc.get("value")
    table = Table(
        title=f"permutation importance of {console.escape(version.name)}:{version.version}"
    )
    for header, justify in (
        ("#", "right"),
        ("column", "left"),
        ("importance", "right"),
        ("± std", "right"),
    ):
        table.add_column(header, justify=justify)  # type: ignore[arg-type]
    for rank, row in enumerate(doc["columns"], start=1):
        table.add_row(
            str(rank),
            console.escape(row["column"]),
            f"{row['importance']:.4f}",
            f"{row['std']:.4f}",
        )
    console.out.print(table)
    measured = f"{value:.4f} on " if isinstance(value, float) else ""
    console.out.print(
        f"importance: how much {metric} ({measured}{doc.get('rows')} test rows) worsens when "
        f"the column is shuffled; mean ± std of {doc.get('repeats')} shuffles",
        highlight=False,
        markup=False,
    )


# -- local ------------------------------------------------------------------------------------


def record_columns(text: str, kinds: dict[str, str]) -> dict[str, np.ndarray]:
    """``--record``'s JSON object (or list of objects) as input columns.

    Raises:
        InvalidInputError: Not JSON, not an object, a column missing, or a wrong-typed value.
    """
    from modelry.protocol.codecs import number_column, string_column

    try:
        parsed = json.loads(text)
    except ValueError as exc:
        raise InvalidInputError(f"--record is not valid JSON: {exc}", field="record") from exc
    rows = parsed if isinstance(parsed, list) else [parsed]
    if not rows or not all(isinstance(row, dict) for row in rows):
        raise InvalidInputError(
            "--record must be a JSON object, or a list of objects", field="record"
        )
    for i, row in enumerate(rows):
        missing = [name for name in kinds if name not in row]
        if missing:
            raise InvalidInputError(
                f"--record{f'[{i}]' if len(rows) > 1 else ''} is missing column(s) "
                f"{_listed(missing)}",
                column=missing[0],
            )
    columns: dict[str, np.ndarray] = {}
    for name, kind in kinds.items():
        values = [row[name] for row in rows]
        where = f"--record[{{}}].{name}"
        if kind == "number":
            columns[name] = number_column(values, where, check_finite=True)
        else:
            columns[name] = string_column(values, where)
    return columns


def _listed(names: list[str], most: int = 6) -> str:
    shown = ", ".join(map(repr, names[:most]))
    return shown + (f" and {len(names) - most} more" if len(names) > most else "")


def _file_rows(path: Path, kinds: dict[str, str], limit: int) -> dict[str, Any]:
    from modelry.data.sources import iter_batches

    numeric = [name for name, kind in kinds.items() if kind == "number"]
    batch = next(iter_batches(path, limit, numeric=numeric))
    missing = [name for name in kinds if name not in batch]
    if missing:
        raise InvalidInputError(f"{path} has no column(s) {_listed(missing)}", column=missing[0])
    return batch


def _print_local(i: int, explanation: Explanation, columns: dict[str, Any]) -> None:
    from modelry.explain.reasons import format_number, format_value, row_value

    if explanation.quantity:
        target = console.escape(explanation.quantity)
    elif explanation.target:
        target = f"P({console.escape(str(explanation.target))})"
    else:
        target = "prediction"
    console.out.print(
        f"[bold]row {i}[/]: {target} = {format_number(explanation.score, 4)} "
        f"(average row: {format_number(explanation.baseline_score, 4)})",
        highlight=False,
    )
    for reason in explanation.reasons:
        console.out.print(f"  • {reason.text}", highlight=False, markup=False)
    table = Table(show_edge=False, box=None, padding=(0, 2))
    for header, justify in (("column", "left"), ("value", "left"), ("effect", "right")):
        table.add_column(header, justify=justify, style="dim" if header == "column" else None)  # type: ignore[arg-type]
    for column, effect in explanation.attributions.items():
        style = "green" if effect > 0 else "red" if effect < 0 else None
        table.add_row(
            console.escape(column),
            console.escape(format_value(row_value(columns[column], i))),
            f"[{style}]{effect:+.4f}[/]" if style else f"{effect:+.4f}",
        )
    console.out.print(table)
    console.out.print()
