"""Reason codes: the few factors that moved one prediction most, in plain words.

A reason names the user's own column and the value they sent, and says which way it
moved the score and by how much, e.g. ``age=61 raised the score by 0.12``. Effects
come from :mod:`modelry.explain.attributions` (Integrated Gradients against the
average training row), so "raised" means "compared with a typical row".

Example:
    >>> [r.text for r in reasons({"age": 61.0, "pdays": 999.0},
    ...                          {"age": 0.12, "pdays": -0.061})]
    ['age=61 raised the score by 0.12', 'pdays=999 lowered the score by 0.061']
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from modelry.data.columns import Coded, ColumnArray
from modelry.data.privacy import redact_text

NEGLIGIBLE = 1e-6
"""Effects smaller than this (in score units) are not worth a sentence."""

JSONValue = str | float | int | bool | None


@dataclass(frozen=True, slots=True)
class Reason:
    """One factor of one prediction.

    Attributes:
        column: The input column, as the user named it.
        value: The value the user sent (JSON-able; ``None`` when missing).
        effect: Its contribution to the score (positive raises it).
        text: The sentence, e.g. ``"age=61 raised the score by 0.12"``.
    """

    column: str
    value: JSONValue
    effect: float
    text: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "column": self.column,
            "value": self.value,
            "effect": self.effect,
            "text": self.text,
        }


def format_number(x: float, digits: int = 3) -> str:
    """A number as a person writes it: ``999``, ``0.061``, ``1,234.5``, ``2.5e-07``.

    Integral values print without a decimal point; others with ``digits`` significant
    digits, without trailing zeros, and in scientific notation only when tiny or huge.
    """
    if not math.isfinite(x):
        return "missing" if math.isnan(x) else str(x)
    if x == round(x) and abs(x) < 1e15:
        whole = int(x)
        return f"{whole:,}" if abs(whole) >= 10_000 else str(whole)
    size = abs(x)
    if size < 1e-4 or size >= 1e9:
        return f"{x:.{digits - 1}e}"
    decimals = max(0, digits - 1 - math.floor(math.log10(size)))
    text = f"{x:,.{decimals}f}" if size >= 10_000 else f"{x:.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def format_value(value: Any) -> str:
    """The value a user sent, for a sentence, unrounded: ``999``, ``93.994``, ``admin.``.

    Integral numbers lose the ``.0`` a float column gives them; other numbers print as
    the shortest text that reads back to them (as the user most likely typed them).
    """
    if value is None:
        return "missing"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        x = float(value)
        if not math.isfinite(x) or (x == round(x) and abs(x) < 1e15):
            return format_number(x)
        text = repr(x)
        return text if len(text) <= 12 else format_number(x, 6)
    return str(value)


def row_value(values: ColumnArray, row: int) -> JSONValue:
    """Row ``row`` of a column as a plain JSON value (NaN and missing become ``None``).

    Text is redacted (e-mails, phones, URLs): a reason never echoes contact data back.
    """
    if isinstance(values, Coded):
        code = int(values.codes[row])
        return None if code < 0 else redact_text(str(values.categories[code]))
    item = values[row]
    if isinstance(item, np.generic):
        item = item.item()
    if isinstance(item, float) and math.isnan(item):
        return None
    if isinstance(item, str):
        return redact_text(item)
    if item is None or isinstance(item, bool | int | float):
        return item
    return str(item)


def _sentence(column: str, value: JSONValue, effect: float, subject: str) -> str:
    verb = "raised" if effect > 0 else "lowered"
    return f"{column}={format_value(value)} {verb} {subject} by {format_number(abs(effect), 2)}"


def reasons(
    row: Mapping[str, JSONValue],
    attributions: Mapping[str, float],
    top: int = 3,
    *,
    subject: str = "the score",
) -> list[Reason]:
    """The ``top`` factors that raised the score most and the ``top`` that lowered it most.

    Args:
        row: The user's values of one row, by column.
        attributions: Each column's contribution to the score.
        top: How many factors of each direction to keep.
        subject: What the effects move, for the sentence ("the score", "the prediction").

    Returns:
        Reasons ordered by the size of their effect, largest first; columns whose effect
        is negligible are left out.
    """
    ranked = sorted(attributions.items(), key=lambda item: -abs(item[1]))
    raised = [item for item in ranked if item[1] > NEGLIGIBLE][:top]
    lowered = [item for item in ranked if item[1] < -NEGLIGIBLE][:top]
    chosen = sorted(raised + lowered, key=lambda item: -abs(item[1]))
    return [
        Reason(column, row.get(column), effect, _sentence(column, row.get(column), effect, subject))
        for column, effect in chosen
    ]
