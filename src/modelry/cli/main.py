"""The ``modelry`` command: one Typer app, one error boundary.

Every :class:`~modelry.errors.ModelryError` becomes one line on stderr and exit
status 1; ``--debug`` (or ``MODELRY_DEBUG=1``) shows the traceback instead.
"""

from __future__ import annotations

import os
import sys

import typer

from modelry import __version__
from modelry.cli import console
from modelry.cli.audit import audit_command
from modelry.cli.data import inspect_command
from modelry.cli.demo import demo_command
from modelry.cli.encoder import encoder_app
from modelry.cli.explain import explain_command
from modelry.cli.marketing import marketing_app
from modelry.cli.models import models_app
from modelry.cli.predict import predict_command
from modelry.cli.recruit import recruit_app
from modelry.cli.serve import serve_command
from modelry.cli.train import train_command
from modelry.cli.tune import tune_command
from modelry.errors import ModelryError

app = typer.Typer(
    name="modelry",
    help="Business data in, explained and audited prediction services out.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Help texts give defaults as "[relu]", which Rich markup (Typer's default) would drop.
    rich_markup_mode="markdown",
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"modelry {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks on errors."),
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version."
    ),
) -> None:
    if debug:
        os.environ["MODELRY_DEBUG"] = "1"


app.command("train")(train_command)
app.command("tune")(tune_command)
app.command("inspect")(inspect_command)
app.command("predict")(predict_command)
app.command("serve")(serve_command)
app.command("demo")(demo_command)
app.command("audit")(audit_command)
app.command("explain")(explain_command)
app.add_typer(models_app, name="models")
app.add_typer(marketing_app, name="marketing")
app.add_typer(encoder_app, name="encoder")
app.add_typer(recruit_app, name="recruit")


def main() -> None:
    """Entry point of the console script."""
    try:
        app()
    except ModelryError as exc:
        if os.environ.get("MODELRY_DEBUG"):
            raise
        console.error(exc.message)
        sys.exit(1)
    except KeyboardInterrupt:
        console.error("interrupted")
        sys.exit(130)


if __name__ == "__main__":
    main()
