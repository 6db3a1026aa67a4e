"""``modelry marketing``: campaigns from registered models.

``modelry marketing train DATA.csv --target y`` trains a response model (``modelry train``
with calibrated probabilities, call-outcome columns flagged).

``modelry marketing target NAME customers.csv --cost-per-contact 5 --value-per-conversion 60``
chooses whom to contact to maximise expected profit (under ``--budget`` or
``--capacity``) and writes every customer with the decision; on an uplift model the profit
and the conversions are incremental.

``modelry marketing uplift DATA.csv --treatment segment --control "No E-Mail" --outcome visit``
trains and registers an uplift model on a randomised campaign.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from modelry.cli import console
from modelry.settings import Settings

marketing_app = typer.Typer(
    help="Campaigns: whom to contact, what it costs and earns.", no_args_is_help=True
)
ECON = "Economics"
LIMIT = "Limit (at most one)"


@marketing_app.command("train")
def train_command(
    data: Annotated[Path, typer.Argument(help="CSV or Parquet file of last campaign.")],
    target: Annotated[str, typer.Option(help="The response column (e.g. y).")],
    name: Annotated[
        str | None, typer.Option(help="Registry name (default: the file's name).")
    ] = None,
    calibration: Annotated[
        str,
        typer.Option(
            help="How P(response) is calibrated on the validation split: temperature "
            "(one parameter on the logit), isotonic (a monotone step map) or none.",
        ),
    ] = "temperature",
    drop: Annotated[str | None, typer.Option(help="Columns to leave out, comma-separated.")] = None,
    model: Annotated[
        str | None,
        typer.Option(help="auto (default), network or baseline: as modelry train --model."),
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Random seed [0].")] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Train a response model on a campaign table: ``modelry train`` with calibrated
    probabilities and call-outcome columns flagged.

    The calibration is fitted on the validation split and served with the model (V1, V2,
    modelry predict and targeting all see calibrated probabilities); the expected
    calibration error (15 bins) and the Brier score before and after are reported, and
    plots/reliability.png is written with the version. A column recorded by the call
    (e.g. duration) is flagged with its one-column score and the advice to --drop it.

    Example: modelry marketing train bank-additional-full.csv --target y --drop duration
    """
    from modelry.apps.marketing.response import call_outcome_columns
    from modelry.cli.train import report, resolve_config
    from modelry.errors import ConfigError
    from modelry.pipeline import train_model

    if calibration not in ("temperature", "isotonic", "none"):
        raise ConfigError(f"--calibration takes temperature, isotonic or none; got {calibration!r}")
    overrides = {
        "name": name,
        "data.target": target,
        "data.drop": [c.strip() for c in drop.split(",") if c.strip()] if drop else None,
        "training.seed": seed,
        "serve": model,
        "calibration": calibration,
    }
    resolved = resolve_config(None, overrides)
    settings = Settings()
    flags = call_outcome_columns(resolved, data, settings)
    if json_output:
        outcome = train_model(resolved, data, settings)
        doc = outcome.to_dict()
        doc["call_outcome_columns"] = [flag.to_dict() for flag in flags]
        console.print_json(doc)
        return
    for flag in flags:
        console.warn(flag.message)
    shown: list[str] = []

    def warn(message: str) -> None:
        shown.append(message)
        console.warn(message)

    outcome = train_model(resolved, data, settings, on_warning=warn)
    report(outcome, shown=shown)
    _report_calibration(outcome.calibration, outcome.artifact)


def _report_calibration(calibration: dict[str, object] | None, artifact: Path) -> None:
    if not calibration:
        console.out.print("probabilities not calibrated (--calibration none)", highlight=False)
        return
    from modelry.pipeline.calibration import CALIBRATION_PLOT

    how = (
        f"temperature T = {calibration['temperature']:.4g}"
        if "temperature" in calibration
        else f"isotonic, {calibration.get('knots')} knots"
    )
    table = Table(title=f"calibration on the validation split ({how})")
    for column in ("split", "ECE before", "ECE after", "Brier before", "Brier after"):
        table.add_column(column, justify="left" if column == "split" else "right")
    for split in ("valid", "test"):
        figures = calibration[split]
        assert isinstance(figures, dict)
        e, b = figures["ece"], figures["brier"]
        table.add_row(
            split,
            f"{e['before']:.4f}",
            f"{e['after']:.4f}",
            f"{b['before']:.4f}",
            f"{b['after']:.4f}",
        )
    console.out.print(table)
    console.out.print(
        f"ECE: expected calibration error, {calibration['bins']} equal-width bins of P(positive)",
        highlight=False,
    )
    console.out.print(
        f"reliability chart  {artifact / 'plots' / CALIBRATION_PLOT}", highlight=False
    )


@marketing_app.command("target")
def target_command(
    model: Annotated[str, typer.Argument(help="NAME, NAME:VERSION or NAME:ALIAS.")],
    data: Annotated[Path, typer.Argument(help="CSV or Parquet file of customers.")],
    cost_per_contact: Annotated[
        float, typer.Option(help="Cost of contacting one customer.", rich_help_panel=ECON)
    ],
    value_per_conversion: Annotated[
        float | None,
        typer.Option(help="Value of one conversion.", rich_help_panel=ECON),
    ] = None,
    value_column: Annotated[
        str | None,
        typer.Option(
            help="Numeric column of DATA with each customer's value of a conversion "
            "(instead of --value-per-conversion).",
            rich_help_panel=ECON,
        ),
    ] = None,
    budget: Annotated[
        float | None,
        typer.Option(help="The most the contacts may cost in total.", rich_help_panel=LIMIT),
    ] = None,
    capacity: Annotated[
        int | None,
        typer.Option(help="The most customers to contact.", rich_help_panel=LIMIT),
    ] = None,
    output: Annotated[
        Path, typer.Option("-o", "--output", help="Where to write the customers, by score.")
    ] = Path("contacts.csv"),
    charts: Annotated[
        Path | None,
        typer.Option(help="Directory for gains.png, lift.png and profit.png."),
    ] = None,
    reasons: Annotated[
        int,
        typer.Option(
            help="Add a reasons column: for each contacted customer, this many factors that "
            "raised and that lowered the score most (slower: one explanation per contact).",
            min=0,
        ),
    ] = 0,
    outcome: Annotated[
        str | None,
        typer.Option(
            help="Column of DATA with each customer's known outcome (a test split, or last "
            "campaign after the fact): report the realised profit, and chart the realised "
            "gains, lift and profit beside the expected profit.",
        ),
    ] = None,
    batch_rows: Annotated[int, typer.Option(help="Rows per scoring chunk.", min=1)] = 65536,
    json_output: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Choose whom in DATA to contact to maximise expected profit.

    Expected profit = P(conversion) × value − cost per customer. Without --budget or
    --capacity everyone with a positive expected profit is contacted. The output keeps
    every column of DATA and adds score, expected_profit and contacted (and reasons, with
    --reasons), highest score first.
    """
    from modelry.apps.marketing.campaign import target_file
    from modelry.registry.store import Registry

    registry = Registry(Settings())
    version = registry.resolve(model)
    report = target_file(
        registry,
        version.name,
        version.version,
        data,
        output,
        cost=cost_per_contact,
        value=value_per_conversion,
        value_column=value_column,
        budget=budget,
        capacity=capacity,
        charts=charts,
        reasons=reasons,
        outcome=outcome,
        batch_rows=batch_rows,
    )
    incremental = report.effect == "uplift"  # an uplift model: conversions it causes
    if charts is not None and not report.charts:
        console.warn(
            "--charts: none drawn: gains, lift and profit curves need scores that are "
            "non-negative and not all zero (an uplift model's scores are often negative)"
        )
    if json_output:
        doc = report.to_dict()
        if incremental:
            doc["incremental_conversions"] = doc["expected_conversions"]
        console.print_json(doc)
        return
    summary = report.selection.summary()
    table = Table(title=f"campaign with {version.name}:{version.version}", show_header=False)
    table.add_column("", style="bold")
    table.add_column("", justify="right")
    table.add_row("customers", f"{summary['customers']:,}")
    table.add_row("contacted", f"{summary['contacted']:,}")
    conversions = "incremental conversions" if incremental else "expected conversions"
    table.add_row(conversions, f"{summary['expected_conversions']:,.1f}")
    table.add_row("cost", f"{summary['cost']:,.2f}")
    profit = "incremental profit" if incremental else "expected profit"
    table.add_row(profit, f"{summary['expected_profit']:,.2f}")
    break_even = summary["break_even_score"]
    table.add_row("break-even score", "per customer" if break_even is None else f"{break_even:.4f}")
    cutoff = summary["cutoff_score"]
    table.add_row("lowest score contacted", "—" if cutoff is None else f"{cutoff:.4f}")
    table.add_row("method", summary["method"])
    if summary["method"] == "greedy-ratio":
        table.add_row("profit upper bound", f"{summary['upper_bound']:,.2f}")
    if report.realised is not None:
        realised = report.realised
        table.add_row(f"realised conversions ({outcome})", f"{realised['conversions']:,}")
        table.add_row("realised profit", f"{realised['profit']:,.2f}")
        table.add_row("calibration error (ECE)", f"{realised['ece']:.4f}")
    console.out.print(table)
    console.out.print(f"→ {report.output}", highlight=False)
    for path in report.charts.values():
        console.out.print(f"→ {path}", highlight=False)


@marketing_app.command("uplift")
def uplift_command(
    data: Annotated[Path, typer.Argument(help="CSV or Parquet file of a randomised campaign.")],
    treatment: Annotated[
        str, typer.Option(help="Column naming the arm each customer got (e.g. segment).")
    ],
    control: Annotated[str, typer.Option(help="The treatment value of the control group.")],
    outcome: Annotated[str, typer.Option(help="Binary (0/1) outcome column, e.g. visit.")],
    name: Annotated[
        str | None, typer.Option(help="Registry name (default: the file's name + -uplift).")
    ] = None,
    drop: Annotated[
        list[str] | None, typer.Option(help="Column to leave out (repeatable).")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the held-out split and the solver.")] = 0,
    test_fraction: Annotated[
        float, typer.Option(help="Share of rows held out for the Qini and AUUC.")
    ] = 0.3,
    json_output: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Train an uplift model on a randomised campaign and register it (kind ``uplift``).

    Per arm against the control: a T-learner (served), an X-learner and a class-transformation
    model,
    compared on a held-out split (Qini, AUUC) with ranking by a response model; the
    average treatment effect with its confidence interval; uplift by decile; and a check
    that the arms look randomised. Columns recorded after the outcome (non-zero only
    where it is 1) are dropped.
    """
    from modelry.apps.marketing.uplift import train_uplift
    from modelry.registry.store import Registry

    report = train_uplift(
        data,
        treatment=treatment,
        control=control,
        outcome=outcome,
        drop=drop or (),
        seed=seed,
        test_fraction=test_fraction,
        registry=Registry(Settings()),
        name=name,
    )
    if json_output:
        console.print_json(report.to_dict())
        return
    for warning in report.warnings:
        console.warn(warning)
    table = Table(title=f"uplift of {outcome!r} against {control!r} (held-out split)")
    for column in ("arm", "ATE observed [95% CI]", "ATE predicted", "Qini T", "Qini X", "Qini CT"):
        table.add_column(column, justify="left" if column == "arm" else "right")
    table.add_column("Qini response", justify="right")
    for arm in report.arms:
        e = arm.observed
        table.add_row(
            arm.arm,
            f"{e.estimate:+.4f} [{e.low:+.4f}, {e.high:+.4f}]",
            f"{arm.predicted_ate:+.4f}",
            f"{arm.qini['t_learner']:.4f}",
            f"{arm.qini['x_learner']:.4f}",
            f"{arm.qini['class_transformation']:.4f}",
            f"{arm.qini['response']:.4f}",
        )
    console.out.print(table)
    for arm in report.arms:
        console.out.print(arm.verdict, highlight=False)
    shares = ", ".join(f"{arm}: {n:,}" for arm, n in report.recommended.items())
    console.out.print(f"recommended arm on the held-out rows: {shares}", highlight=False)
    console.out.print(
        f"→ {report.model}:{report.version} (kind uplift, T-learner)", highlight=False
    )
