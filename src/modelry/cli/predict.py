"""``modelry predict``: score a file with a registered model, streamed in chunks."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from modelry.cli import console
from modelry.settings import Settings


def predict_command(
    model: Annotated[str, typer.Argument(help="NAME, NAME:VERSION or NAME:ALIAS.")],
    data: Annotated[Path, typer.Argument(help="CSV or Parquet file to score.")],
    output: Annotated[
        Path, typer.Option("-o", "--output", help="Where to write the scored CSV.")
    ] = Path("scored.csv"),
    batch_rows: Annotated[int, typer.Option(help="Rows per chunk.", min=1)] = 65536,
    json_output: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Score DATA with MODEL and write every row with its prediction to --output."""
    from modelry.registry.store import Registry
    from modelry.serving.scoring import score_file

    registry = Registry(Settings())
    version = registry.resolve(model)
    if json_output:
        report = score_file(
            registry, version.name, version.version, data, output, batch_rows=batch_rows
        )
        console.print_json(
            {
                "model": version.name,
                "version": version.version,
                "rows": report.rows,
                "seconds": round(report.seconds, 3),
                "rows_per_second": round(report.rows_per_second),
                "output": str(report.output),
            }
        )
        return
    columns = (SpinnerColumn(), TextColumn("scoring {task.completed:,} rows"), TimeElapsedColumn())
    with Progress(*columns, console=console.err) as progress:
        bar = progress.add_task("scoring", total=None)
        report = score_file(
            registry,
            version.name,
            version.version,
            data,
            output,
            batch_rows=batch_rows,
            on_batch=lambda n: progress.advance(bar, n),
        )
    console.out.print(
        f"scored {report.rows:,} rows with {version.name}:{version.version} in "
        f"{report.seconds:.2f} s ({report.rows_per_second:,.0f} rows/s) → {report.output}",
        highlight=False,
        markup=False,
    )
