"""``modelry audit``: a fairness audit of a registered model's decisions on a table."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from modelry.cli import console
from modelry.settings import Settings


def _names(values: list[str] | None) -> list[str] | None:
    """``--sensitive a --sensitive b`` and ``--sensitive a,b`` alike."""
    if not values:
        return None
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


def audit_command(
    model: Annotated[str, typer.Argument(help="NAME, NAME:VERSION or NAME:ALIAS.")],
    data: Annotated[
        Path, typer.Argument(help="CSV or Parquet file to audit on (with the target, if known).")
    ],
    sensitive: Annotated[
        list[str] | None,
        typer.Option(
            "--sensitive",
            help="Attribute to audit (repeat or comma-separate) [the model's sensitive columns].",
        ),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option("-o", "--output", help="Report directory [./audit-NAME-vVERSION]."),
    ] = None,
    threshold: Annotated[
        float | None,
        typer.Option(
            help="Decision threshold for every row; default: the model's own.", min=0.0, max=1.0
        ),
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Audit MODEL's decisions on DATA: selection rates, impact ratios (NYC LL144), equalised odds.

    Example: modelry audit hr-model aug_train.csv --sensitive gender
    """
    from modelry.audit.report import audit_model, write_report
    from modelry.data.sources import read_table
    from modelry.registry.store import Registry
    from modelry.serving.tabular import TabularRuntime

    version = Registry(Settings()).resolve(model)
    runtime = TabularRuntime(version.path, name=version.name, version=version.version)
    runtime.load()
    frame = read_table(data)
    audit = audit_model(
        runtime, frame, sensitive=_names(sensitive), threshold=threshold, data_name=data.name
    )
    directory = output or Path(f"audit-{version.name}-v{version.version}")
    written = write_report(audit, directory)
    if json_output:
        console.print_json(audit.to_dict())
        return
    for attribute in audit.attributes:
        table = Table(
            title=f"{console.escape(attribute.attribute)}  (min impact ratio "
            f"{'–' if attribute.min_impact_ratio is None else f'{attribute.min_impact_ratio:.3f}'})"
        )
        for head in ("group", "rows", "selection", "impact ratio", "TPR", "FPR", "ROC-AUC"):
            table.add_column(head, justify="left" if head == "group" else "right")
        for g in attribute.groups:
            flag = " [red]< 0.8[/]" if g.below_four_fifths else ""
            small = " [dim](small)[/]" if g.small else ""
            table.add_row(
                console.escape(g.group) + small,
                f"{g.size:,}",
                f"{g.selection_rate:.1%}",
                ("–" if g.impact_ratio is None else f"{g.impact_ratio:.3f}") + flag,
                "–" if g.tpr is None else f"{g.tpr:.1%}",
                "–" if g.fpr is None else f"{g.fpr:.1%}",
                "–" if g.roc_auc is None else f"{g.roc_auc:.3f}",
            )
        console.out.print(table)
    for note in audit.notes:
        console.warn(note)
    console.out.print(f"report → {written[0]}", highlight=False, markup=False)
