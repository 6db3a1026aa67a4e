"""The model card: what a model is, what it was trained on, how good and how fair it is.

Written by the training pipeline into every artifact as ``card.md`` (to read:
``modelry models show NAME --card``) and ``card.json`` (the same content, to process).
The card is built from plain dicts — the registry layer knows nothing of the audit or
explanation code that computed some of them.

Example:
    >>> markdown, doc = build_card({"name": "churn", "task": "binary", "target": "left"})
    >>> doc["model"]["name"], markdown.splitlines()[0]
    ('churn', '# Model card: churn')
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

SECTIONS = (
    "model",
    "intended_use",
    "data",
    "metrics",
    "importance",
    "fairness",
    "privacy",
    "limitations",
)
USE_PLACEHOLDER = (
    "<Edit: who uses the predictions, for which decision, and which uses are out of scope.>"
)
_TASK_USE = {
    "binary": "Scores each row with the probability that {target} is {positive}, "
    "to rank or select rows for a decision a person remains accountable for.",
    "multiclass": "Predicts which of {n} classes of {target} a row belongs to.",
    "regression": "Estimates the value of {target} for each row.",
}


def _fmt(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)


def _intended_use(meta: Mapping[str, Any]) -> dict[str, str]:
    task = str(meta.get("task") or "")
    classes = list(meta.get("classes") or [])
    sentence = _TASK_USE.get(task, "Predicts {target}.").format(
        target=f"`{meta.get('target') or 'the target'}`",
        positive=f"`{classes[-1]}`" if classes else "the positive class",
        n=len(classes),
    )
    return {"summary": sentence, "user_notes": str(meta.get("intended_use") or USE_PLACEHOLDER)}


def _columns(meta: Mapping[str, Any]) -> list[dict[str, Any]]:
    schema = meta.get("schema") or {}
    return [
        {k: c.get(k) for k in ("name", "type", "role", "reason")} for c in schema.get("columns", [])
    ]


def _importance(raw: Any) -> dict[str, float] | None:
    """``{feature: value}`` from a dict, or from rows like ``{"feature": .., "importance": ..}``."""
    if not raw:
        return None
    if isinstance(raw, Mapping):  # importance.json: {"columns": [...]} (or "features")
        raw = raw.get("columns", raw.get("features", raw))
    if isinstance(raw, Mapping):
        items = [(str(k), v) for k, v in raw.items() if isinstance(v, int | float)]
    else:
        items = []
        for row in raw:
            if not isinstance(row, Mapping):
                continue
            name = row.get("column", row.get("feature", row.get("name")))
            value = row.get("importance", row.get("value"))
            if name is not None and isinstance(value, int | float):
                items.append((str(name), value))
    return {k: float(v) for k, v in items} or None


def _limitations(meta: Mapping[str, Any], fairness: Mapping[str, Any] | None) -> list[str]:
    out = [str(w) for w in meta.get("warnings") or []]
    if not meta.get("time_order"):
        out.append(
            "Rows were split at random, not by time: test figures assume tomorrow's rows look "
            "like the training rows. Re-check on recent data (chronological drift)."
        )
    for attribute, info in ((fairness or {}).get("attributes") or {}).items():
        small = info.get("small_groups") or []
        if small:
            out.append(
                f"Groups of {attribute} with under 2 % of test rows ({', '.join(small)}): "
                "their fairness figures are too uncertain to judge."
            )
    return out


def build_card(meta: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """The model card as Markdown and as JSON, from what the training run knows.

    Args:
        meta: Plain data. Keys used (all optional): ``name``, ``version``, ``task``,
            ``target``, ``classes``, ``created_at``, ``created_by``, ``data`` (the file's
            fingerprint), ``rows`` (per split), ``schema`` (the schema as JSON),
            ``primary_metric``, ``metrics`` (``{"valid": {...}, "test": {...}}``),
            ``baseline`` (``{"name", "valid", "test"}``), ``importance``
            (``{feature: value}``), ``fairness`` (the test-split audit summary),
            ``mitigation`` (``metrics.json["fairness"]``), ``warnings``, ``time_order``,
            ``intended_use`` (the user's own text), ``differential_privacy``
            (``metrics.json["privacy"]``: the ε spent by DP-SGD, its δ, ...), ``tuning``
            (``metrics.json["tuning"]``: the hyper-parameter search, ``modelry tune``),
            ``text_encoder`` (the encoder model and version that embeds text columns),
            ``duplicates`` (exact duplicate rows dropped before splitting, and held-out
            rows repeating a training row).

    Returns:
        ``(markdown, doc)``; ``doc`` has one key per section of :data:`SECTIONS`.
    """
    columns = _columns(meta)
    fairness = meta.get("fairness")
    doc: dict[str, Any] = {
        "model": {
            "name": meta.get("name"),
            "version": meta.get("version"),
            "task": meta.get("task"),
            "target": meta.get("target"),
            "classes": meta.get("classes"),
            "created_at": meta.get("created_at"),
            "created_by": meta.get("created_by"),
            "text_encoder": meta.get("text_encoder"),
        },
        "intended_use": _intended_use(meta),
        "data": {
            "source": meta.get("data") or {},
            "rows": meta.get("rows") or {},
            "target_by_split": meta.get("target_drift"),
            "duplicates": meta.get("duplicates") or None,
            "columns": columns,
        },
        "metrics": {
            "primary": meta.get("primary_metric"),
            "served": (meta.get("selection") or {}).get("served", "network"),
            "selection": meta.get("selection"),
            "network": meta.get("metrics") or {},
            "baseline": meta.get("baseline") or {},
            "calibration": meta.get("calibration"),
            "tuning": meta.get("tuning"),
        },
        "importance": _importance(meta.get("importance")),
        "fairness": {"audit": fairness, "mitigation": meta.get("mitigation")} if fairness else None,
        "privacy": {
            "excluded": [
                {"name": c["name"], "role": c["role"], "reason": c["reason"]}
                for c in columns
                if c["role"] in ("personal", "sensitive", "identifier")
            ],
            "differential_privacy": meta.get("differential_privacy"),
        },
        "limitations": _limitations(meta, fairness),
    }
    return _markdown(doc), doc


def _metrics_md(metrics: Mapping[str, Any]) -> list[str]:
    network, baseline = metrics.get("network") or {}, metrics.get("baseline") or {}
    names = list(dict.fromkeys([*(network.get("test") or {}), *(network.get("valid") or {})]))
    if not names:
        return ["No metrics recorded."]
    base_name = baseline.get("name", "baseline")
    lines = [
        f"Primary metric: **{metrics.get('primary') or names[0]}**. Baseline: {base_name}.",
        "",
    ]
    selection = metrics.get("selection")
    if selection:
        lines += [
            f"Served model: **the {selection['served']}** — {selection['reason']} "
            f"(compared on {selection['rows']} rows, {selection['method']}).",
            "",
        ]
    lines += [
        "| metric | network valid | network test | baseline valid | baseline test |",
        "|---|---|---|---|---|",
    ]
    for m in names:
        cells = [_fmt((network.get(split) or {}).get(m)) for split in ("valid", "test")] + [
            _fmt((baseline.get(split) or {}).get(m)) for split in ("valid", "test")
        ]
        lines.append(f"| {m} | " + " | ".join(cells) + " |")
    return lines + _tuning_md(metrics.get("tuning"))


def _tuning_md(tuning: Mapping[str, Any] | None) -> list[str]:
    """The search that chose the settings: space, best trial, every trial."""
    if not tuning:
        return []
    best = tuning["best"]
    knobs = [k for k in best if k != "valid"]

    def knob(value: Any) -> str:  # learning rates and decays span decades: 3 significant digits
        return f"{value:.3g}" if isinstance(value, float) else _fmt(value)

    lines = [
        "",
        f"Settings chosen by hyper-parameter search ({tuning['method']}, {tuning['samples']} "
        f"trials, best by {tuning['metric']}): "
        + ", ".join(f"{k} = {knob(best[k])}" for k in knobs)
        + f" ({_fmt(best['valid'])}). Space: "
        + "; ".join(f"{k}: {v}" for k, v in tuning["space"].items())
        + ".",
        "",
        "| " + " | ".join([*knobs, "valid", "epochs"]) + " |",
        "|" + "---|" * (len(knobs) + 2),
    ]
    for t in tuning["trials"]:
        cells = [knob(t.get(k)) for k in knobs] + [_fmt(t.get("valid")), _fmt(t.get("epochs_run"))]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _fairness_md(fairness: Mapping[str, Any] | None) -> list[str]:
    if not fairness:
        return [
            "No sensitive columns were declared: no fairness audit (declare them with "
            "`--sensitive` and run `modelry audit`)."
        ]
    audit, mitigation = fairness.get("audit") or {}, fairness.get("mitigation")
    lines = [
        f"Audited on the {audit.get('split', 'test')} split ({audit.get('rows', '?')} rows) "
        f"at threshold {audit.get('threshold', 0.5)}. Impact ratio = a group's selection "
        "rate over the most-selected group's (NYC LL144); under 0.8 fails the four-fifths rule.",
        "",
        "| attribute | min impact ratio | below 0.8 | TPR gap | FPR gap |",
        "|---|---|---|---|---|",
    ]
    for name, a in (audit.get("attributes") or {}).items():
        below = ", ".join(a.get("four_fifths_violations") or []) or "none"
        lines.append(
            f"| {name} | {_fmt(a.get('min_impact_ratio'))} | {below} | "
            f"{_fmt(a.get('tpr_gap'))} | {_fmt(a.get('fpr_gap'))} |"
        )
    if mitigation and mitigation.get("skipped"):
        lines += ["", f"Mitigation ({mitigation['constraint']}) skipped: {mitigation['skipped']}."]
    elif mitigation:
        before, after = mitigation["test"]["before"], mitigation["test"]["after"]
        lines += [
            "",
            f"Mitigation: **{mitigation['constraint']}** thresholds per group of "
            f"`{mitigation['column']}`, fitted on the validation split and applied when a "
            "request carries that column (the attribute enters the decision, not the network).",
            f"Test accuracy {before['accuracy']:.4f} → {after['accuracy']:.4f}; minimum impact "
            f"ratio {_fmt(before['min_impact_ratio'])} → {_fmt(after['min_impact_ratio'])}.",
        ]
    for note in audit.get("notes") or []:
        lines.append(f"\n> {note}")
    return lines


def _calibration_md(calibration: Mapping[str, Any] | None) -> list[str]:
    """ECE and Brier score of the served probabilities before and after calibration."""
    if not calibration:
        return []
    method = calibration.get("method")
    how = (
        f"temperature {calibration['temperature']:.4g}"
        if "temperature" in calibration
        else f"{calibration.get('knots', '?')} knots"
    )
    lines = [
        "",
        f"Probabilities calibrated on the validation split ({method}, {how}); "
        f"expected calibration error ({calibration.get('bins', 15)} bins) and Brier score:",
        "",
        "| split | ECE before | ECE after | Brier before | Brier after |",
        "|---|---|---|---|---|",
    ]
    for split in ("valid", "test"):
        figures = calibration.get(split)
        if figures:
            e, b = figures["ece"], figures["brier"]
            lines.append(
                f"| {split} | {_fmt(e['before'])} | {_fmt(e['after'])} | "
                f"{_fmt(b['before'])} | {_fmt(b['after'])} |"
            )
    return lines


def _dp_md(dp: Mapping[str, Any] | None) -> list[str]:
    if not dp:
        return ["Not trained with differential privacy (see `modelry train --dp-epsilon`)."]
    return [
        f"Trained with differential privacy, {dp.get('mechanism', 'DP-SGD')}: "
        f"**ε = {_fmt(dp.get('dp_epsilon_spent'))} spent** (target {dp.get('dp_epsilon_target')}), "
        f"δ = {float(dp.get('dp_delta') or 0):.3g}; each row's gradient clipped to norm "
        f"{dp.get('max_grad_norm')}, noise multiplier {_fmt(dp.get('noise_multiplier'))}, "
        f"{dp.get('accountant', 'rdp').upper()} accountant.",
        "The guarantee covers the network's weights with respect to the training rows. It does "
        "not cover the fitted preprocessing (numeric means and scales, category vocabularies), "
        "nor the validation rows that chose the epoch.",
    ]


def _encoder_md(encoding: Mapping[str, Any] | None) -> list[str]:
    if not encoding:
        return []
    columns = ", ".join(f"`{c}`" for c in encoding.get("columns") or [])
    published = (encoding.get("encoder") or {}).get("model")
    return [
        f"- Text: {columns} embedded by the model `{encoding.get('model')}` "
        f"v{encoding.get('version')}"
        + (f" ({published}" if published else " (")
        + f", {encoding.get('dimension')}-d); served, the request's text goes through the "
        "served encoder first",
        f"- Explanations: {encoding.get('explanations')}",
    ]


def _duplicates_md(duplicates: Mapping[str, Any] | None) -> list[str]:
    if not duplicates:
        return []
    repeats = sum((duplicates.get("repeats") or {}).values())
    dropped = duplicates.get("dropped") or 0
    text = (
        f"- Duplicates: {dropped:,} exact duplicate rows dropped before splitting "
        f"({duplicates.get('kept', 0):,} distinct rows kept)"
        if dropped
        else "- Duplicates: none dropped"
    )
    return [text + f"; held-out rows repeating a training row: {repeats:,}"]


def _target_md(drift: Mapping[str, Any] | None) -> list[str]:
    """The target's rate or mean per split (a chronological split's drift shows here)."""
    if not drift or drift.get("statistic") not in ("positive_rate", "mean"):
        return []
    values = ", ".join(
        f"{split} {value:.4g}" for split, value in drift["by_split"].items() if value is not None
    )
    label = "Positive rate" if drift["statistic"] == "positive_rate" else "Target mean"
    return [f"- {label} by split: {values}" + (" (drifted)" if drift.get("drifted") else "")]


def _markdown(doc: Mapping[str, Any]) -> str:
    model, data = doc["model"], doc["data"]
    version = f" v{model['version']}" if model.get("version") is not None else ""
    source = data["source"]
    lines = [
        f"# Model card: {model.get('name') or 'model'}{version}",
        "",
        "## Model details",
        "",
        f"- Task: {_fmt(model.get('task'))}, target `{_fmt(model.get('target'))}`"
        + (f", classes {', '.join(map(str, model['classes']))}" if model.get("classes") else ""),
        f"- Created: {_fmt(model.get('created_at'))} by {_fmt(model.get('created_by'))}",
        *_encoder_md(model.get("text_encoder")),
        "",
        "## Intended use",
        "",
        doc["intended_use"]["summary"],
        "",
        doc["intended_use"]["user_notes"],
        "",
        "## Data",
        "",
        f"- File: `{_fmt(source.get('file'))}` (sha256 `{str(source.get('sha256', '–'))[:16]}…`)",
        "- Rows: " + (", ".join(f"{k} {v:,}" for k, v in data["rows"].items()) or "–"),
        *_target_md(data.get("target_by_split")),
        *_duplicates_md(data.get("duplicates")),
        "",
        "| column | type | role | why |",
        "|---|---|---|---|",
        *[
            f"| {c['name']} | {c['type']} | {c['role']} | {c['reason'] or ''} |"
            for c in data["columns"]
        ],
        "",
        "## Metrics",
        "",
        *_metrics_md(doc["metrics"]),
        *_calibration_md(doc["metrics"].get("calibration")),
        "",
        "## Feature importance",
        "",
    ]
    importance = doc.get("importance")
    if importance:
        ranked = sorted(importance.items(), key=lambda kv: -abs(float(kv[1])))
        lines += ["| feature | importance |", "|---|---|"]
        lines += [f"| {k} | {float(v):.4f} |" for k, v in ranked]
    else:
        lines.append("Not computed for this version.")
    lines += ["", "## Fairness", "", *_fairness_md(doc.get("fairness")), "", "## Privacy", ""]
    excluded = doc["privacy"]["excluded"]
    if excluded:
        lines.append("These columns were kept out of the network's inputs:")
        lines += [f"- `{c['name']}` ({c['role']}): {c['reason']}" for c in excluded]
    else:
        lines.append("No personal, sensitive or identifier columns were found or declared.")
    lines += ["", *_dp_md(doc["privacy"].get("differential_privacy"))]
    lines += ["", "## Limitations", ""]
    lines += [f"- {item}" for item in doc["limitations"]] or ["- None recorded."]
    dropped = [c for c in data["columns"] if c["role"] == "dropped"]
    if dropped:
        lines.append(
            "- Dropped columns: " + ", ".join(f"`{c['name']}` ({c['reason']})" for c in dropped)
        )
    return "\n".join(lines) + "\n"


__all__ = ["SECTIONS", "USE_PLACEHOLDER", "build_card"]
