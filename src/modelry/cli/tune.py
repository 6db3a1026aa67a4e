"""``modelry tune``: a search on Ray Tune; the best settings trained and registered."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from modelry.cli import console
from modelry.cli.train import _csv, report, resolve_config
from modelry.settings import Settings

Opt = typer.Option


def tune_command(
    data: Annotated[Path, typer.Argument(help="CSV or Parquet file to learn from.")],
    target: Annotated[str | None, Opt(help="Column to predict.")] = None,
    name: Annotated[str | None, Opt(help="Registry name (default: the file's name).")] = None,
    config: Annotated[
        Path | None, Opt(help="YAML config (as for train); flags override it.")
    ] = None,
    drop: Annotated[str | None, Opt(help="Columns to leave out, comma-separated.")] = None,
    sensitive: Annotated[str | None, Opt(help="Protected attributes, comma-separated.")] = None,
    epochs: Annotated[int | None, Opt(help="Most epochs per trial [40].")] = None,
    seed: Annotated[
        int | None, Opt(help="Seed of the split, the trials and the draws [0].")
    ] = None,
    samples: Annotated[int, Opt(help="Trials: random draws of lr, width, weight decay.")] = 8,
    workers: Annotated[int, Opt(help="Trials run at a time.")] = 2,
    cpus_per_trial: Annotated[float, Opt(help="CPUs each trial reserves.")] = 1.0,
    address: Annotated[
        str | None,
        Opt(help="Ray cluster to join (auto, ray://HOST:10001); default: a local Ray."),
    ] = None,
    json_output: Annotated[bool, Opt("--json", help="Print one JSON object.")] = False,
) -> None:
    """Search learning rate, hidden width and weight decay on Ray Tune (the ray extra), on the
    validation split; train the best settings, register them, and record the search in the card.

    Example: modelry tune bank-additional-full.csv --target y --drop duration --samples 8
    """
    from modelry.pipeline.tune import SPACE_TEXT, tune_model
    from modelry.training.config import EngineConfig

    overrides: dict[str, Any] = {
        "name": name,
        "data.target": target,
        "data.drop": _csv(drop, "drop"),
        "data.sensitive": _csv(sensitive, "sensitive"),
        "training.epochs": epochs,
        "training.seed": seed,
    }
    resolved = resolve_config(config, overrides)
    engine = EngineConfig(
        name="ray", workers=workers, cpus_per_worker=cpus_per_trial, address=address
    )

    def stage(text: str) -> None:
        if not json_output:
            console.err.print(f"[bold]{console.escape(text)}[/bold]")

    outcome, record = tune_model(
        resolved, data, Settings(), samples=samples, engine=engine, on_stage=stage
    )
    if json_output:
        console.print_json({**outcome.to_dict(), "tuning": record})
        return
    best = record["best"]
    chosen = ", ".join(f"{k} {best[k]:.3g}" for k in SPACE_TEXT)
    console.out.print(
        f"best of {record['samples']} trials ({record['metric']} {best['valid']:.4f}): {chosen}",
        highlight=False,
        markup=False,
    )
    report(outcome)
