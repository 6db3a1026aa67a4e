"""``modelry models``: list, show, promote, delete and check registered model versions."""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from modelry.cli import console
from modelry.registry.layout import CARD_FILE, CARD_JSON_FILE
from modelry.settings import Settings

if TYPE_CHECKING:
    from modelry.registry.store import Registry

models_app = typer.Typer(
    help="The model registry: versions, aliases, lineage.",
    no_args_is_help=True,
    rich_markup_mode="markdown",  # as the root app: brackets in help are text
)
JSON = typer.Option("--json", help="Print one JSON object.")


def _registry() -> Registry:
    from modelry.registry.store import Registry

    return Registry(Settings())


@models_app.command("list")
def list_models(json_output: Annotated[bool, JSON] = False) -> None:
    """Every registered model with its latest version and aliases."""
    models = _registry().list_models()
    if json_output:
        console.print_json({"models": [asdict(m) for m in models]})
        return
    table = Table(title="models")
    for header in ("name", "latest", "versions", "aliases"):
        table.add_column(header)
    for m in models:
        aliases = ", ".join(f"{a}→{v}" for a, v in sorted(m.aliases.items()))
        name, aliases = console.escape(m.name), console.escape(aliases)
        table.add_row(name, str(m.latest_version), str(m.n_versions), aliases)
    console.out.print(table)


@models_app.command("show")
def show(
    ref: Annotated[str, typer.Argument(help="NAME, NAME:VERSION or NAME:ALIAS.")],
    card: Annotated[bool, typer.Option("--card", help="Print the model card.")] = False,
    json_output: Annotated[bool, JSON] = False,
) -> None:
    """One version: metrics, lineage, aliases, files."""
    from modelry.registry.artifact import load_artifact

    version = _registry().resolve(ref)
    if card:
        artifact = load_artifact(version.path)
        if json_output:
            console.print_json(artifact.read_json(CARD_JSON_FILE))
        else:
            typer.echo(artifact.read_text(CARD_FILE))
        return
    doc = {
        "name": version.name,
        "version": version.version,
        "aliases": version.aliases,
        "task": version.task,
        "created_at": version.created_at,
        "created_by": version.created_by,
        "path": str(version.path),
        "metrics": version.metrics,
        "lineage": version.lineage,
    }
    if json_output:
        console.print_json(doc)
        return
    aliases = ", ".join(version.aliases) or "–"
    console.out.print(
        f"[bold]{console.escape(version.name)}:{version.version}[/]  {version.task}  "
        f"aliases: {console.escape(aliases)}"
    )
    console.out.print(
        f"created {version.created_at} by {version.created_by}\npath    {version.path}",
        highlight=False,
        markup=False,
    )
    served = version.metrics.get("served", "network")
    console.out.print(f"serves  the {served}", highlight=False, markup=False)
    table = Table(title="test metrics")
    table.add_column("metric")
    table.add_column("network", justify="right")
    table.add_column("baseline", justify="right")
    # Versions from before the choice between the two recorded the network's figures as "test".
    network = (version.metrics.get("network") or {}).get("test") or version.metrics.get("test", {})
    base = version.metrics.get("baseline", {}).get("test", {})
    for metric, value in network.items():
        b = base.get(metric)
        table.add_row(
            metric, "–" if value is None else f"{value:.4f}", "–" if b is None else f"{b:.4f}"
        )
    console.out.print(table)


@models_app.command("promote")
def promote(
    name: Annotated[str, typer.Argument(help="Model name.")],
    version: Annotated[int, typer.Argument(help="Version number to point the alias at.")],
    alias: Annotated[str, typer.Option(help="Alias to set.")] = "production",
    json_output: Annotated[bool, JSON] = False,
) -> None:
    """Point ALIAS (default: production) at VERSION; running servers swap it in."""
    registry = _registry()
    registry.set_alias(name, alias, version)
    if json_output:
        console.print_json({"name": name, "alias": alias, "version": version})
    else:
        console.out.print(f"{name}:{alias} → version {version}", highlight=False, markup=False)


@models_app.command("delete")
def delete(
    ref: Annotated[str, typer.Argument(help="NAME:VERSION to delete.")],
    force: Annotated[
        bool, typer.Option("--force", help="Also drop aliases pointing at it.")
    ] = False,
    json_output: Annotated[bool, JSON] = False,
) -> None:
    """Delete one version (refused while an alias points at it, unless --force)."""
    from modelry.errors import ConfigError

    name, sep, number = ref.partition(":")
    if not sep or not number.isdigit():
        raise ConfigError(f"delete takes NAME:VERSION with a version number; got {ref!r}")
    _registry().delete(name, int(number), force=force)
    if json_output:
        console.print_json({"deleted": f"{name}:{number}"})
    else:
        console.out.print(f"deleted {name}:{number}", highlight=False, markup=False)


@models_app.command("check")
def check(
    repair: Annotated[
        bool, typer.Option("--repair", help="Fix what can be fixed safely, and say what was done.")
    ] = False,
    json_output: Annotated[bool, JSON] = False,
) -> None:
    """Find what a crash left: orphan directories, stale staging and claims, damaged versions.

    Exits 1 while a problem stands (not found, or found and repaired, exits 0).
    """
    report = _registry().check(repair=repair)
    unresolved = report.unresolved
    if json_output:
        console.print_json(
            {
                "ok": not unresolved,
                "versions": report.versions,
                "problems": [finding.to_dict() for finding in report.findings],
            }
        )
    else:
        for finding in report.findings:
            console.out.print(console.escape(finding.line()), highlight=False, soft_wrap=True)
        repaired = len(report.findings) - len(unresolved)
        problems = f"{len(report.findings)} problem{'s' * (len(report.findings) != 1)}"
        if not report.findings:
            versions = f"{report.versions} ready version{'s' * (report.versions != 1)}"
            summary = f"consistent: {versions}, every file verified"
        elif not unresolved:
            summary = f"{problems}, all repaired"
        elif repair:
            summary = f"{problems}, {repaired} repaired, {len(unresolved)} left"
        else:
            summary = f"{problems}; `modelry models check --repair` fixes the safe ones"
        console.out.print(console.escape(summary), highlight=False, soft_wrap=True)
    if unresolved:
        raise typer.Exit(1)


@models_app.command("scale")
def scale(
    name: Annotated[str, typer.Argument(help="Model name.")],
    replicas: Annotated[
        int | None, typer.Option("--replicas", min=1, help="A fixed number of replicas.")
    ] = None,
    min_replicas: Annotated[
        int | None, typer.Option("--min", min=0, help="Autoscale from this many replicas…")
    ] = None,
    max_replicas: Annotated[
        int | None, typer.Option("--max", min=1, help="…up to this many.")
    ] = None,
    target: Annotated[
        float | None,
        typer.Option("--target", min=0.1, help="Ongoing requests per replica to aim for."),
    ] = None,
    cpus: Annotated[
        float | None, typer.Option("--cpus", min=0.01, help="CPUs each replica reserves.")
    ] = None,
    batcher: Annotated[
        str | None, typer.Option(help="Whose batcher a Ray replica runs: modelry or ray.")
    ] = None,
    address: Annotated[
        str | None,
        typer.Option(
            help="Also apply it now to the versions running on this Ray cluster "
            "(auto, HOST:6379, ray://HOST:10001)."
        ),
    ] = None,
    json_output: Annotated[bool, JSON] = False,
) -> None:
    """Store NAME's serving settings (replicas, autoscaling, CPUs); with --address, apply them
    to its running Ray Serve deployments."""
    from modelry.errors import ConfigError, MissingExtraError
    from modelry.registry.serving_config import serving_path, update_serving

    settings = Settings()
    registry = _registry()
    registry.get(name)  # a model that exists (NotFoundError names what does)
    if replicas is not None and (min_replicas is not None or max_replicas is not None):
        raise ConfigError("use --replicas, or --min and --max, not both")
    cfg = update_serving(
        settings.home,
        name,
        num_replicas=replicas,
        min_replicas=min_replicas,
        max_replicas=max_replicas,
        target_ongoing_requests=target,
        num_cpus=cpus,
        batcher=batcher,
    )
    applied: list[int] = []
    if address:
        try:
            from modelry.rayserve.launch import check_address, connect, scale_model
        except ImportError as exc:
            raise MissingExtraError("ray", "ray") from exc
        check_address(address)
        connect(address)
        applied = scale_model(settings, name, cfg)
    stored = cfg.model_dump(exclude_defaults=True)
    if json_output:
        console.print_json(
            {"name": name, "serving": cfg.model_dump(), "applied_to_versions": applied}
        )
        return
    where = serving_path(settings.home, name)
    console.out.print(
        f"{name}: {stored or 'defaults'} stored in {where}"
        + (f"; applied to running versions {applied}" if applied else ""),
        highlight=False,
        markup=False,
        soft_wrap=True,
    )
