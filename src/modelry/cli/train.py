"""``modelry train``: a table in, a registered, evaluated model version out."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from modelry.cli import console
from modelry.errors import ConfigError
from modelry.settings import Settings

Opt = typer.Option
DATA = "Data"
NET = "Network"
OPT = "Optimisation and regularisation"
OUT = "Output"
ENGINE = "Engine"


def _csv(text: str | None, what: str) -> list[str] | None:
    if text is None:
        return None
    return [part.strip() for part in text.split(",") if part.strip()]


def _hidden(text: str | None) -> list[int] | None:
    parts = _csv(text, "hidden")
    if parts is None:
        return None
    if parts == ["none"] or parts == []:
        return []
    try:
        return [int(p) for p in parts]
    except ValueError as exc:
        raise ConfigError(f"--hidden takes widths like 64,32; got {text!r}") from exc


def _types(pairs: list[str] | None) -> dict[str, str] | None:
    if not pairs:
        return None
    out = {}
    for pair in pairs:
        column, sep, kind = pair.partition("=")
        if not sep or not column or not kind:
            raise ConfigError(f"--type takes COLUMN=TYPE (e.g. zip=categorical); got {pair!r}")
        out[column] = kind
    return out


def _set(tree: dict[str, Any], path: str, value: Any) -> None:
    if value is None:
        return
    section, _, key = path.partition(".")
    if not key:  # a top-level setting (name, serve, calibration)
        tree[section] = value
        return
    tree.setdefault(section, {})[key] = value


def resolve_config(config_file: Path | None, overrides: dict[str, Any]) -> Any:
    """Defaults ← YAML file ← flags given on the command line."""
    from modelry.training.config import TrainConfig

    raw: dict[str, Any] = {}
    if config_file is not None:
        raw = TrainConfig.from_yaml(config_file).model_dump(mode="json", exclude_defaults=True)
    for path, value in overrides.items():
        _set(raw, path, value)
    return TrainConfig.from_dict(raw, source="options")


def train_command(
    data: Annotated[Path, typer.Argument(help="CSV or Parquet file to learn from.")],
    target: Annotated[str | None, Opt(help="Column to predict.", rich_help_panel=DATA)] = None,
    name: Annotated[str | None, Opt(help="Registry name (default: the file's name).")] = None,
    config: Annotated[Path | None, Opt(help="YAML config; flags override it.")] = None,
    drop: Annotated[
        str | None, Opt(help="Columns to leave out, comma-separated.", rich_help_panel=DATA)
    ] = None,
    sensitive: Annotated[
        str | None,
        Opt(help="Protected attributes: never features, kept for audits.", rich_help_panel=DATA),
    ] = None,
    identifier: Annotated[
        str | None, Opt(help="Identifier columns (dropped).", rich_help_panel=DATA)
    ] = None,
    pseudonymise: Annotated[
        list[str] | None,
        Opt(
            help="Replace COLUMN's values with keyed HMAC pseudonyms before training (kept "
            "for joins, never a feature); repeat it or separate columns with commas.",
            rich_help_panel=DATA,
        ),
    ] = None,
    column_type: Annotated[
        list[str] | None,
        Opt(
            "--type",
            help="Override a column's type: COLUMN=numeric|categorical|boolean|text|datetime.",
            rich_help_panel=DATA,
        ),
    ] = None,
    missing_values: Annotated[
        str | None, Opt(help="Extra tokens read as missing, e.g. unknown.", rich_help_panel=DATA)
    ] = None,
    drop_missing_rows: Annotated[
        bool | None,
        Opt(
            "--drop-missing-rows",
            help="Drop rows with a missing feature instead of imputing.",
            rich_help_panel=DATA,
        ),
    ] = None,
    fairness: Annotated[
        str | None,
        Opt(
            help="Group decision thresholds on the first --sensitive column: none, "
            "demographic_parity or equalized_odds (fitted on the validation split).",
            rich_help_panel=DATA,
        ),
    ] = None,
    task: Annotated[
        str | None,
        Opt(help="binary, multiclass or regression (inferred by default).", rich_help_panel=DATA),
    ] = None,
    positive: Annotated[
        str | None, Opt(help="Positive class of a binary target.", rich_help_panel=DATA)
    ] = None,
    valid_fraction: Annotated[
        float | None, Opt(help="Share of rows for validation [0.15].", rich_help_panel=DATA)
    ] = None,
    test_fraction: Annotated[
        float | None, Opt(help="Share of rows held out for test [0.15].", rich_help_panel=DATA)
    ] = None,
    time_order: Annotated[
        bool | None,
        Opt(
            "--time-order",
            help="Hold out the last rows in file order (chronological).",
            rich_help_panel=DATA,
        ),
    ] = None,
    split_by: Annotated[
        str | None,
        Opt(help="Keep all rows of each value of COLUMN in one split.", rich_help_panel=DATA),
    ] = None,
    text_encoder: Annotated[
        str | None,
        Opt(
            help="Embed the text columns with this registered text-encoder model (e.g. "
            "text-encoder, added by 'modelry encoder add'), at training and, served, through "
            "the served encoder; the network trains on the vectors.",
            rich_help_panel=DATA,
        ),
    ] = None,
    text_columns: Annotated[
        str | None,
        Opt(
            help="The columns --text-encoder embeds, comma-separated (default: the text "
            "feature columns). Personal, sensitive and identifier columns are refused.",
            rich_help_panel=DATA,
        ),
    ] = None,
    dedup: Annotated[
        bool | None,
        Opt(
            "--dedup/--no-dedup",
            help="Drop exact duplicate rows (features and target) before splitting [on with "
            "--text-encoder, else off; held-out rows repeating a training row are reported].",
            rich_help_panel=DATA,
        ),
    ] = None,
    strict_leaks: Annotated[
        bool,
        Opt(
            "--strict-leaks",
            help="Refuse to train when a column looks like a target leak: it alone predicts "
            "the target with ROC-AUC or R² of 0.95 or more on the training split, is a "
            "function of the target, or is missing exactly when the target is one class.",
            rich_help_panel=DATA,
        ),
    ] = False,
    serve: Annotated[
        str | None,
        Opt(
            "--model",
            help="What the version serves: 'auto' (default) serves the linear baseline when it "
            "beats the network by more than twice the noise of the comparison (the sd of a "
            "paired bootstrap), on the validation split, or on 5-fold out-of-fold predictions when "
            "the training split has under 1,000 rows; 'network' or 'baseline' forces it.",
            rich_help_panel=NET,
        ),
    ] = None,
    hidden: Annotated[
        str | None,
        Opt(help="Hidden layer widths [64,32]; 'none' for a linear model.", rich_help_panel=NET),
    ] = None,
    activation: Annotated[
        str | None, Opt(help="relu, gelu, tanh, silu, leaky_relu [relu].", rich_help_panel=NET)
    ] = None,
    dropout: Annotated[float | None, Opt(help="Dropout rate [0.1].", rich_help_panel=NET)] = None,
    batch_norm: Annotated[
        bool | None,
        Opt("--batch-norm/--no-batch-norm", help="Batch normalisation [off].", rich_help_panel=NET),
    ] = None,
    loss: Annotated[
        str | None, Opt(help="auto, bce, cross_entropy, mse, huber [auto].", rich_help_panel=OPT)
    ] = None,
    optimizer: Annotated[
        str | None,
        Opt(help="gd, sgd, momentum, nesterov, adam, adamw [adam].", rich_help_panel=OPT),
    ] = None,
    lr: Annotated[float | None, Opt(help="Learning rate [0.001].", rich_help_panel=OPT)] = None,
    momentum: Annotated[
        float | None, Opt(help="Momentum for momentum/nesterov [0.9].", rich_help_panel=OPT)
    ] = None,
    weight_decay: Annotated[
        float | None, Opt(help="Decoupled weight decay (adamw) [0].", rich_help_panel=OPT)
    ] = None,
    schedule: Annotated[
        str | None,
        Opt(help="Learning-rate schedule: none, step, cosine, plateau.", rich_help_panel=OPT),
    ] = None,
    clip_norm: Annotated[
        float | None, Opt(help="Clip the gradient norm to this value.", rich_help_panel=OPT)
    ] = None,
    l1: Annotated[
        float | None, Opt(help="L1 penalty l1·Σ|w| added to the loss [0].", rich_help_panel=OPT)
    ] = None,
    l2: Annotated[
        float | None, Opt(help="L2 penalty l2·Σw² added to the loss [0].", rich_help_panel=OPT)
    ] = None,
    epochs: Annotated[int | None, Opt(help="Most epochs [40].", rich_help_panel=OPT)] = None,
    batch_size: Annotated[
        int | None,
        Opt(help="Mini-batch size [auto: ~32 steps per epoch, 32 to 256].", rich_help_panel=OPT),
    ] = None,
    early_stopping: Annotated[
        bool | None,
        Opt(
            "--early-stopping/--no-early-stopping",
            help="Stop when the validation metric stops improving [on].",
            rich_help_panel=OPT,
        ),
    ] = None,
    patience: Annotated[
        int | None, Opt(help="Epochs without improvement before stopping [5].", rich_help_panel=OPT)
    ] = None,
    balance: Annotated[
        str | None, Opt(help="Class imbalance: none, weights, oversample.", rich_help_panel=OPT)
    ] = None,
    noise: Annotated[
        float | None,
        Opt(help="Gaussian noise std on numeric inputs while training [0].", rich_help_panel=OPT),
    ] = None,
    recency_half_life: Annotated[
        float | None,
        Opt(
            help="Weigh training rows by recency in file order (data that drifts over time, "
            "with --time-order): a row's weight halves for every this fraction of the training "
            "rows between it and the latest, e.g. 0.25.",
            rich_help_panel=OPT,
        ),
    ] = None,
    seed: Annotated[
        int | None, Opt(help="Random seed; same seed, same model [0].", rich_help_panel=OPT)
    ] = None,
    dp_epsilon: Annotated[
        float | None,
        Opt(
            help="Differentially private training (DP-SGD; the privacy extra) to this "
            "privacy budget ε, e.g. 1; the ε spent is recorded in the model card.",
            rich_help_panel=OPT,
        ),
    ] = None,
    dp_delta: Annotated[
        float | None,
        Opt(help="δ of (ε, δ)-DP; default min(1e-5, 1/n_train²).", rich_help_panel=OPT),
    ] = None,
    dp_max_grad_norm: Annotated[
        float | None,
        Opt(help="DP-SGD per-row gradient clipping norm [1.0].", rich_help_panel=OPT),
    ] = None,
    engine: Annotated[
        str | None,
        Opt(
            help="Where the network's fit runs: local (this process) or ray: data-parallel on "
            "Ray Train (DDP on CPU; the ray extra) [local].",
            rich_help_panel=ENGINE,
        ),
    ] = None,
    workers: Annotated[
        int | None, Opt(help="Ray Train workers for --engine ray [2].", rich_help_panel=ENGINE)
    ] = None,
    cpus_per_worker: Annotated[
        float | None, Opt(help="CPUs each Ray worker reserves [1].", rich_help_panel=ENGINE)
    ] = None,
    address: Annotated[
        str | None,
        Opt(
            help="Ray cluster to join: auto or ray://HOST:10001 (default: start a local Ray). "
            "Every node must then read MODELRY_HOME at the same path, and the registry be "
            "PostgreSQL (MODELRY_REGISTRY_URL).",
            rich_help_panel=ENGINE,
        ),
    ] = None,
    print_config: Annotated[
        bool,
        Opt(
            "--print-config",
            help="Print the resolved config as YAML and exit.",
            rich_help_panel=OUT,
        ),
    ] = False,
    json_output: Annotated[
        bool, Opt("--json", help="Print one JSON object instead of tables.", rich_help_panel=OUT)
    ] = False,
) -> None:
    """Train a neural network on DATA, beside a simple baseline, and register it.

    Example: modelry train bank-additional-full.csv --target y --drop duration

    On Ray: modelry train bank-additional-full.csv --target y --engine ray --workers 2
    """
    overrides: dict[str, Any] = {
        "name": name,
        "data.target": target,
        "data.drop": _csv(drop, "drop"),
        "data.sensitive": _csv(sensitive, "sensitive"),
        "data.identifiers": _csv(identifier, "identifier"),
        "data.pseudonymise": _csv(",".join(pseudonymise), "pseudonymise") if pseudonymise else None,
        "data.types": _types(column_type),
        "data.missing_values": _csv(missing_values, "missing-values"),
        "data.drop_missing_rows": drop_missing_rows,
        "data.task": task,
        "data.fairness": fairness,
        "data.positive": positive,
        "data.valid_fraction": valid_fraction,
        "data.test_fraction": test_fraction,
        "data.time_order": time_order,
        "data.split_by": split_by,
        "data.strict_leaks": True if strict_leaks else None,
        "data.text_encoder": text_encoder,
        "data.text_columns": _csv(text_columns, "text-columns"),
        "data.deduplicate": dedup,
        "serve": serve,
        "model.hidden": _hidden(hidden),
        "model.activation": activation,
        "model.dropout": dropout,
        "model.batch_norm": batch_norm,
        "training.loss": loss,
        "training.optimizer": optimizer,
        "training.lr": lr,
        "training.momentum": momentum,
        "training.weight_decay": weight_decay,
        "training.schedule": schedule,
        "training.clip_norm": clip_norm,
        "training.l1": l1,
        "training.l2": l2,
        "training.epochs": epochs,
        "training.batch_size": batch_size,
        "training.early_stopping": early_stopping,
        "training.patience": patience,
        "training.balance": balance,
        "training.noise": noise,
        "training.recency_half_life": recency_half_life,
        "training.seed": seed,
        "training.dp_epsilon": dp_epsilon,
        "training.dp_delta": dp_delta,
        "training.dp_max_grad_norm": dp_max_grad_norm,
        "engine.name": engine,
        "engine.workers": workers,
        "engine.cpus_per_worker": cpus_per_worker,
        "engine.address": address,
    }
    resolved = resolve_config(config, overrides)
    if print_config:
        typer.echo(resolved.to_yaml(), nl=False)
        return
    run_training(resolved, data, json_output=json_output)


def run_training(resolved: Any, data: Path, *, json_output: bool) -> Any:
    """Train with a live progress bar (or silently for ``--json``) and report.

    Leakage warnings are printed as soon as they are known, before training starts.
    """
    from modelry.pipeline import train_model

    settings = Settings()
    shown: list[str] = []

    def warn(message: str) -> None:
        shown.append(message)
        console.warn(message)

    if json_output:
        outcome = train_model(resolved, data, settings)
    elif not console.err.is_terminal:  # a pipe or a log: no progress bar
        outcome = train_model(resolved, data, settings, on_warning=warn)
    else:
        outcome = _train_with_progress(resolved, data, settings, warn)
    if json_output:
        console.print_json(outcome.to_dict())
    else:
        report(outcome, shown=shown)
    return outcome


def _train_with_progress(
    resolved: Any, data: Path, settings: Settings, warn: Callable[[str], None]
) -> Any:
    from modelry.pipeline import train_model

    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} epochs"),
        TextColumn("{task.fields[metric]}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console.err, transient=False) as progress:
        bar = progress.add_task("training", total=resolved.training.epochs, metric="")

        def on_epoch(log: Any) -> None:
            mark = " *" if log.improved else ""
            text = f"valid {log.metric_name} {log.valid_metric:.4f}{mark}"
            progress.update(bar, completed=log.epoch, metric=text)

        def on_stage(text: str) -> None:
            progress.update(bar, description=console.escape(text))

        outcome = train_model(
            resolved, data, settings, on_epoch=on_epoch, on_stage=on_stage, on_warning=warn
        )
        progress.update(
            bar, description="done", total=outcome.epochs_run, completed=outcome.epochs_run
        )
    return outcome


def report(outcome: Any, shown: list[str] | None = None) -> None:
    """Network vs. baseline on the held-out splits, then where things are.

    Warnings in ``shown`` (printed before training) are not repeated.
    """
    for message in outcome.warnings:
        if message not in (shown or []):
            console.warn(message)
    table = Table(title=f"{console.escape(outcome.name)} v{outcome.version} ({outcome.task.value})")
    table.add_column("metric")
    table.add_column("network (test)", justify="right")
    table.add_column(f"{outcome.baseline['name']} (test)", justify="right")
    table.add_column("network (valid)", justify="right")
    network = outcome.network or outcome.metrics
    for metric, value in network["test"].items():
        base = outcome.baseline["test"].get(metric)
        valid = network["valid"].get(metric)
        table.add_row(metric, _fmt(value), _fmt(base), _fmt(valid))
    console.out.print(table)
    drift = outcome.target_drift or {}
    if drift.get("statistic") in ("positive_rate", "mean"):
        per_split = ", ".join(
            f"{split} {value:.4g}"
            for split, value in drift["by_split"].items()
            if value is not None
        )
        console.out.print(f"target {drift['statistic']}: {per_split}", highlight=False)
    encoding = outcome.text_encoder
    if encoding:
        console.out.print(
            f"text: {', '.join(encoding['columns'])} embedded by {encoding['model']} "
            f"v{encoding['version']} ({encoding['dimension']}-d); served through that model",
            markup=False,
            highlight=False,
        )
    if outcome.selection:
        reason = outcome.selection["reason"]
        console.out.print(f"served: the {outcome.served} — {reason}", markup=False, highlight=False)
    if outcome.fairness:
        _report_fairness(outcome.fairness)
    console.out.print(
        f"epochs run {outcome.epochs_run} (best {outcome.best_epoch}), "
        f"{outcome.train_seconds:.1f} s\n"
        f"artifact  {outcome.artifact}\n"
        f"plots     {outcome.artifact / 'plots'}\n"
        f"serve it  modelry serve --models {outcome.name}",
        highlight=False,
        markup=False,
    )


def _report_fairness(fairness: dict[str, Any]) -> None:
    """The mitigation's price beside its gain, on the test split."""
    before, after = fairness["test"]["before"], fairness["test"]["after"]
    if fairness.get("skipped"):
        console.warn(f"fairness: {fairness['skipped']}")
    console.out.print(
        f"fairness ({fairness['constraint']} on {fairness['column']}, test): "
        f"min impact ratio {_fmt(before['min_impact_ratio'])} → {_fmt(after['min_impact_ratio'])}, "
        f"accuracy {_fmt(before['accuracy'])} → {_fmt(after['accuracy'])}",
        highlight=False,
        markup=False,
    )


def _fmt(value: float | None) -> str:
    return "–" if value is None else f"{value:.4f}"
