"""A fairness audit on disk: ``report.md`` to read, ``report.json`` to process, PNG charts.

One chart per attribute: the selection rate of each group, with the line at 0.8 times the
reference group's rate; a bar under the line is a group the four-fifths rule flags.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from modelry.audit.fairness import FOUR_FIFTHS, AttributeResult, FairnessAudit, audit_scores
from modelry.data.clean import encode_target, normalise_missing
from modelry.data.schema import Role, Task
from modelry.data.sources import to_columns
from modelry.errors import ConfigError, SchemaError
from modelry.serving.tabular import TabularRuntime
from modelry.serving.thresholds import apply_group_thresholds


def audit_model(
    runtime: TabularRuntime,
    frame: Any,
    *,
    sensitive: Sequence[str] | None = None,
    threshold: float | None = None,
    data_name: str = "",
) -> FairnessAudit:
    """Score ``frame`` with a loaded binary model and audit its decisions.

    Args:
        runtime: A loaded :class:`~modelry.serving.tabular.TabularRuntime`.
        frame: The table (a pandas DataFrame) with the model's inputs, the sensitive
            columns and, if known, the target column.
        sensitive: The attributes to audit; by default the schema's sensitive columns.
        threshold: One decision threshold for every row; by default the model's own
            (with its group thresholds, when it was trained with ``--fairness``).
        data_name: The data file's name, for the report.

    Raises:
        ConfigError: Not a binary model, or no sensitive attribute to audit.
        SchemaError: A sensitive or input column is not in the data; a target label is unknown.
    """
    schema = runtime.schema
    if schema is None:
        raise ConfigError(f"model {runtime.name}:{runtime.version} is not loaded")
    if runtime.task is not Task.BINARY:
        raise ConfigError(
            f"model {runtime.name}:{runtime.version} is {runtime.task.value}: "
            "a fairness audit needs a binary classifier (who is selected, who is not)"
        )
    names = list(sensitive or [c.name for c in schema.by_role(Role.SENSITIVE)])
    if not names:
        raise ConfigError(
            f"model {runtime.name}:{runtime.version} has no sensitive columns: "
            "name them with --sensitive COLUMN"
        )
    absent = [n for n in names if n not in frame.columns]
    if absent:
        raise SchemaError(
            f"sensitive column(s) {', '.join(map(repr, absent))} not in {data_name or 'the data'}; "
            f"columns are: {', '.join(map(str, frame.columns))}",
            columns=absent,
        )
    frame = normalise_missing(frame, schema.missing_values)
    notes: list[str] = []
    y_true = None
    if schema.target and schema.target in frame.columns:
        labelled = frame[schema.target].notna().to_numpy()
        if not labelled.all():
            notes.append(f"{int((~labelled).sum())} row(s) without {schema.target!r} left out")
            frame = frame.loc[labelled].reset_index(drop=True)
        y_true = encode_target(frame[schema.target].to_numpy(), schema).astype(np.float64)
    else:
        notes.append(
            f"no {schema.target!r} column in the data: outcome-based metrics "
            "(TPR, FPR, ROC-AUC) are skipped"
        )
    wanted = list(dict.fromkeys([*runtime.input_columns, *names]))
    columns = to_columns(frame, wanted)
    scores = np.asarray(runtime.scores(columns), dtype=np.float64)
    groups = runtime.network.group_thresholds if threshold is None else None
    base = runtime.network.threshold if threshold is None else threshold
    decisions = apply_group_thresholds(scores, columns, groups, base)
    audit = audit_scores(
        scores, {n: columns[n] for n in names}, y_true=y_true, threshold=base, decisions=decisions
    )
    audit.notes = notes + [n for n in audit.notes if "no true outcome" not in n]
    audit.model = {
        "name": runtime.name,
        "version": runtime.version,
        "data": data_name,
        "group_thresholds": groups or None,
    }
    return audit


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.1%}"


def _num(value: float | None, digits: int = 3) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def chart_name(attribute: str) -> str:
    """The PNG file of an attribute: ``gender & race`` → ``selection-gender-race.png``."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", attribute).strip("-") or "attribute"
    return f"selection-{slug}.png"


def _title(audit: FairnessAudit) -> str:
    model = audit.model
    if model.get("name"):
        return f"Fairness audit of {model['name']}:{model.get('version', '?')}"
    return "Fairness audit"


def _table(a: AttributeResult, outcome: bool) -> list[str]:
    head = [
        "group",
        "rows",
        "share",
        "selection rate",
        "impact ratio",
        "scoring rate",
        "scoring impact ratio",
    ]
    if outcome:
        head += ["base rate", "TPR", "FPR", "ROC-AUC"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for g in a.groups:
        marks = []
        if g.below_four_fifths:
            marks.append("**< 0.8**")
        if g.small:
            marks.append("*small*")
        if g.group == a.reference_group:
            marks.append("(reference)")
        ratio = _num(g.impact_ratio) + (" " + " ".join(marks) if marks else "")
        cells = [
            g.group,
            f"{g.size:,}",
            _pct(g.share),
            _pct(g.selection_rate),
            ratio,
            _pct(g.scoring_rate),
            _num(g.scoring_impact_ratio),
        ]
        if outcome:
            cells += [_pct(g.base_rate), _pct(g.tpr), _pct(g.fpr), _num(g.roc_auc)]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def render_markdown(audit: FairnessAudit) -> str:
    """The readable report: a verdict per attribute, then its table and chart."""
    lines = [f"# {_title(audit)}", ""]
    data = audit.model.get("data")
    per_group = " (per-group thresholds applied)" if audit.model.get("group_thresholds") else ""
    lines.append(
        f"{audit.rows:,} rows{f' of `{data}`' if data else ''}; decision threshold "
        f"{audit.threshold:g}{per_group}; median score {audit.median_score:.3f}."
    )
    lines += [
        "",
        "*Selection rate*: share of the group the model selects (score ≥ threshold). "
        "*Impact ratio*: a group's selection rate over the most-selected group's "
        "(NYC Local Law 144); under 0.8 fails the four-fifths rule. *Scoring rate*: share "
        "above the sample's median score. Groups under 2 % of rows are *small*: shown, "
        "but left out of the reference, the minimum and the gaps.",
        "",
    ]
    for note in audit.notes:
        lines.append(f"> Note: {note}")
    if audit.notes:
        lines.append("")
    for a in audit.attributes:
        lines += [f"## {a.attribute}", ""]
        if a.four_fifths_violations:
            verdict = (
                f"**Four-fifths rule failed** for {', '.join(a.four_fifths_violations)} "
                f"(minimum impact ratio {_num(a.min_impact_ratio)})."
            )
        elif a.min_impact_ratio is None:
            verdict = "No group is selected at this threshold: impact ratios are undefined."
        else:
            verdict = (
                f"Every group passes the four-fifths rule (minimum {_num(a.min_impact_ratio)})."
            )
        lines += [verdict, ""]
        if audit.outcome:
            lines += [
                f"Equalised odds: TPR gap {_num(a.tpr_gap)}, FPR gap {_num(a.fpr_gap)}; "
                f"selection-rate gap {_num(a.selection_rate_gap)}.",
                "",
            ]
        lines += _table(a, audit.outcome)
        lines += ["", f"![selection rate by {a.attribute}]({chart_name(a.attribute)})", ""]
    return "\n".join(lines)


def _chart(a: AttributeResult) -> bytes:
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = a.groups
    rates = [g.selection_rate for g in groups]
    reference = max(
        (g.selection_rate for g in groups if g.group == a.reference_group), default=max(rates)
    )
    line = FOUR_FIFTHS * reference
    fig, ax = plt.subplots(figsize=(max(4.0, 0.7 * len(groups) + 2), 3.6), dpi=100)
    colors = ["#c0392b" if g.below_four_fifths else "#2e86c1" for g in groups]
    bars = ax.bar([g.group for g in groups], rates, color=colors)
    for bar, g in zip(bars, groups, strict=True):
        bar.set_alpha(0.45 if g.small else 1.0)  # small groups: shown, not judged
    ax.axhline(line, color="black", linestyle="--", linewidth=1, label=f"0.8 × max = {line:.1%}")
    ax.set_ylabel("selection rate")
    ax.set_title(f"Selection rate by {a.attribute}")
    ax.legend(loc="upper right", fontsize=8)
    ax.tick_params(axis="x", labelrotation=30 if len(groups) > 4 else 0, labelsize=8)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return buffer.getvalue()


def write_report(audit: FairnessAudit, directory: Path) -> list[Path]:
    """Write ``report.md``, ``report.json`` and one chart per attribute into ``directory``.

    Returns:
        The files written.

    Raises:
        ConfigError: ``directory`` cannot be created or written.
    """
    try:
        directory.mkdir(parents=True, exist_ok=True)
        written = [directory / "report.md", directory / "report.json"]
        written[0].write_text(render_markdown(audit) + "\n", encoding="utf-8")
        written[1].write_bytes(
            orjson.dumps(audit.to_dict(), option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY)
        )
        for a in audit.attributes:
            path = directory / chart_name(a.attribute)
            path.write_bytes(_chart(a))
            written.append(path)
    except OSError as exc:
        raise ConfigError(f"cannot write the audit report to {directory}: {exc}") from exc
    return written


__all__ = ["audit_model", "chart_name", "render_markdown", "write_report"]
