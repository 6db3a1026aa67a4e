"""The model card has every section, from plain dicts alone."""

from __future__ import annotations

from typing import Any

from modelry.registry.card import SECTIONS, USE_PLACEHOLDER, build_card


def _meta() -> dict[str, Any]:
    return {
        "name": "hiring",
        "version": 3,
        "task": "binary",
        "target": "hired",
        "classes": ["no", "yes"],
        "data": {"file": "hiring.csv", "sha256": "ab" * 32},
        "rows": {"train": 700, "valid": 150, "test": 150},
        "schema": {
            "columns": [
                {"name": "skill", "type": "numeric", "role": "feature", "reason": "numbers"},
                {"name": "email", "type": "text", "role": "personal", "reason": "e-mail address"},
                {
                    "name": "gender",
                    "type": "categorical",
                    "role": "sensitive",
                    "reason": "declared",
                },
                {"name": "salary", "type": "numeric", "role": "dropped", "reason": "--drop"},
                {"name": "hired", "type": "categorical", "role": "target", "reason": "target"},
            ]
        },
        "primary_metric": "roc_auc",
        "metrics": {"valid": {"roc_auc": 0.81}, "test": {"roc_auc": 0.79}},
        "baseline": {
            "name": "logistic_regression",
            "valid": {"roc_auc": 0.75},
            "test": {"roc_auc": 0.74},
        },
        "importance": {"columns": [{"column": "skill", "importance": 0.2, "std": 0.01}]},
        "fairness": {
            "split": "test",
            "rows": 150,
            "threshold": 0.5,
            "attributes": {
                "gender": {
                    "min_impact_ratio": 0.62,
                    "four_fifths_violations": ["F"],
                    "small_groups": ["X"],
                    "tpr_gap": 0.2,
                    "fpr_gap": 0.1,
                }
            },
            "notes": [],
        },
        "warnings": ["column 'salary' is missing exactly when 'hired' is 'no'"],
        "time_order": False,
    }


def test_card_has_every_section_in_both_forms() -> None:
    markdown, doc = build_card(_meta())
    assert list(doc) == list(SECTIONS)
    for heading in (
        "# Model card: hiring v3",
        "## Model details",
        "## Intended use",
        "## Data",
        "## Metrics",
        "## Feature importance",
        "## Fairness",
        "## Privacy",
        "## Limitations",
    ):
        assert heading in markdown
    assert "probability that `hired` is `yes`" in markdown and USE_PLACEHOLDER in markdown
    assert "| roc_auc | 0.8100 | 0.7900 | 0.7500 | 0.7400 |" in markdown
    assert "| skill | 0.2000 |" in markdown and doc["importance"] == {"skill": 0.2}
    assert "| gender | 0.6200 | F |" in markdown
    assert [c["name"] for c in doc["privacy"]["excluded"]] == ["email", "gender"]
    assert "`email` (personal): e-mail address" in markdown
    limits = " ".join(doc["limitations"])
    assert "salary" in limits and "chronological drift" in limits and "X" in limits
    assert "Dropped columns: `salary` (--drop)" in markdown


def test_card_without_optional_parts() -> None:
    meta = {"name": "prices", "task": "regression", "target": "price", "time_order": True}
    markdown, doc = build_card(meta)
    assert doc["fairness"] is None and doc["importance"] is None
    assert "No sensitive columns" in markdown and "Not computed" in markdown
    assert doc["limitations"] == [] and "- None recorded." in markdown
    assert "Estimates the value of `price`" in markdown
    assert (
        build_card({"intended_use": "Ranks leads."})[1]["intended_use"]["user_notes"]
        == "Ranks leads."
    )
