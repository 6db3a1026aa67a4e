"""A targeting run: score a customer file with a registered model, choose whom to contact,
write every customer with the decision, and draw the campaign's charts.

The model is reached through a :class:`~modelry.serving.dataplane.DataPlane` of its own,
as ``modelry predict`` reaches it, so any kind whose outputs carry a per-customer
probability of the effect can drive a campaign. Unlike scoring, the output is ordered by
score, so the whole file is held in memory (as Arrow columns: a million customers with a
few dozen columns is a few hundred MB at most).
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from modelry.apps.marketing.charts import gains_chart, lift_chart, profit_chart
from modelry.apps.marketing.curves import (
    cumulative_gains,
    lift_by_decile,
    profit_curve,
    ranking,
    realised_profit,
)
from modelry.apps.marketing.targeting import Selection, check_economics, choose, effect_output
from modelry.data.columns import Coded
from modelry.data.sources import iter_batches
from modelry.errors import ConfigError, SchemaError, SourceError
from modelry.serving.dataplane import DataPlane, RegistryView
from modelry.serving.pool import Served
from modelry.serving.scoring import arrow_column, with_model

ADDED_COLUMNS = ("score", "expected_profit", "contacted")
"""The columns a targeting run appends to the customers' own (and ``reasons`` on request)."""

CHART_FILES = {"gains": "gains.png", "lift": "lift.png", "profit": "profit.png"}


@dataclass(frozen=True)
class Scored:
    """A customer file read whole, with each customer's score."""

    table: Any  # pyarrow.Table of the input columns, as read
    effect: NDArray[np.float64]
    effect_name: str
    numbers: dict[str, NDArray[np.float64]]  # the numeric columns asked for, e.g. a value
    kind: str = ""  # the model's kind
    inputs: dict[str, np.ndarray] = field(default_factory=dict)  # the model's, when kept
    outcome: NDArray[np.float64] | None = None  # 0/1 per customer, where it is known


@dataclass(frozen=True)
class TargetReport:
    """What a targeting run did."""

    model: str
    version: int
    effect: str
    selection: Selection
    output: Path
    seconds: float
    charts: dict[str, Path] = field(default_factory=dict)
    realised: dict[str, Any] | None = None  # with a known outcome: what the selection earned

    def to_dict(self) -> dict[str, Any]:
        doc = {
            "model": self.model,
            "version": self.version,
            "score": self.effect,
            **self.selection.summary(),
            "output": str(self.output),
            "charts": {name: str(path) for name, path in self.charts.items()},
            "seconds": round(self.seconds, 3),
        }
        if self.realised is not None:
            doc["realised"] = self.realised
        return doc


def score_customers(
    registry: RegistryView,
    name: str,
    version: int,
    source: Path,
    *,
    numbers: Sequence[str] = (),
    keep_inputs: bool = False,
    outcome: str | None = None,
    batch_rows: int = 65536,
) -> Scored:
    """Read ``source`` whole and score it with ``name`` at ``version``.

    Args:
        numbers: Further numeric columns to hand back (e.g. a value column).
        keep_inputs: Hand back the model's input columns too (to explain rows later).
        outcome: A column of known outcomes (a test split, last campaign): 0/1, or the
            model's classes (the positive one is a conversion).

    Raises:
        ConfigError: The model is not a binary classifier.
        SchemaError: A column the model (or ``numbers``) needs is missing, or a column of
            ``numbers`` holds text.
        SourceError: The file cannot be read.
    """
    import pyarrow as pa

    async def work(plane: DataPlane, served: Served) -> Scored:
        runtime = served.runtime
        effect = effect_output(runtime)
        kinds = runtime.input_kinds()
        numeric = [c for c, kind in kinds.items() if kind == "number"] + list(numbers)
        batches: list[Any] = []
        scores: list[NDArray[np.float64]] = []
        extra: dict[str, list[NDArray[np.float64]]] = {c: [] for c in numbers}
        kept: dict[str, list[np.ndarray]] = {c: [] for c in kinds} if keep_inputs else {}
        if outcome is not None and runtime.kind == "uplift":
            raise ConfigError(
                "--outcome needs a response model: an uplift model's incremental conversions "
                "cannot be read off one customer's outcome"
            )
        outcomes: list[NDArray[np.float64]] = []
        classes = runtime.parameters().get("classes")
        for columns in _batches(source, batch_rows, numeric, numbers):
            if not batches:
                added = [*ADDED_COLUMNS, "reasons"] if keep_inputs else ADDED_COLUMNS
                needed = [*kinds, *numbers, *([outcome] if outcome else [])]
                _check_columns(source, columns, needed, added)
            if outcome is not None:
                outcomes.append(_outcome(source, outcome, columns[outcome], classes))
            n = len(next(iter(columns.values())))
            outputs = await plane.outputs(served, columns, n)
            scores.append(np.asarray(outputs[effect], dtype=np.float64).reshape(-1))
            for c in numbers:
                extra[c].append(_numbers(source, c, columns[c]))
            for c, parts in kept.items():
                values = columns[c]
                parts.append(values.decode() if isinstance(values, Coded) else values)
            batches.append(
                pa.RecordBatch.from_pydict({c: arrow_column(v) for c, v in columns.items()})
            )
        return Scored(
            table=pa.Table.from_batches(batches),
            effect=np.concatenate(scores),
            effect_name=effect,
            numbers={c: np.concatenate(parts) for c, parts in extra.items()},
            kind=runtime.kind,
            inputs={c: np.concatenate(parts) for c, parts in kept.items()},
            outcome=np.concatenate(outcomes) if outcome is not None else None,
        )

    return with_model(registry, name, version, work)


def _batches(
    source: Path, batch_rows: int, numeric: list[str], numbers: Sequence[str]
) -> Iterator[dict[str, Any]]:
    """:func:`iter_batches`, with a text value in one of ``numbers`` reported as such."""
    try:
        yield from iter_batches(source, batch_rows, numeric=numeric)
    except SourceError as exc:
        column = exc.details.get("column")
        if column in numbers:
            raise SchemaError(
                f"{source}: column {column!r} must hold numbers, not text", column=column
            ) from exc
        raise


def _numbers(source: Path, name: str, values: Any) -> NDArray[np.float64]:
    if not (isinstance(values, np.ndarray) and values.dtype.kind in "fiub"):
        raise SchemaError(f"{source}: column {name!r} must hold numbers, not text", column=name)
    return np.asarray(values, dtype=np.float64)


def _outcome(source: Path, name: str, values: Any, classes: Any) -> NDArray[np.float64]:
    """A known outcome as 0/1: numbers that are 0 or 1, or the model's two classes (the
    second, e.g. ``yes``, is a conversion)."""
    if isinstance(values, Coded):
        values = values.decode()
    array = np.asarray(values)
    if array.dtype.kind in "fiub":
        y = array.astype(np.float64)
        if np.all((y == 0) | (y == 1)):
            return y
    elif classes and len(classes) == 2:
        labels = array.astype(str)
        if set(np.unique(labels)) <= {str(c) for c in classes}:
            return np.asarray(labels == str(classes[-1]), dtype=np.float64)
    shown = f" or {classes[0]!r}/{classes[-1]!r}" if classes and len(classes) == 2 else ""
    raise SchemaError(f"{source}: outcome column {name!r} must be binary (0/1{shown})", column=name)


def _check_columns(
    source: Path, columns: dict[str, Any], needed: Sequence[str], added: Sequence[str]
) -> None:
    missing = [c for c in dict.fromkeys(needed) if c not in columns]
    if missing:
        shown = ", ".join(map(repr, missing[:6])) + (
            f" and {len(missing) - 6} more" if len(missing) > 6 else ""
        )
        raise SchemaError(f"{source} has no column(s) {shown}", column=missing[0])
    taken = [c for c in added if c in columns]
    if taken:
        raise SchemaError(
            f"{source} already has a column {taken[0]!r}, which targeting adds: rename it",
            column=taken[0],
        )


def target_file(
    registry: RegistryView,
    name: str,
    version: int,
    source: Path,
    destination: Path,
    *,
    cost: float,
    value: float | None = None,
    value_column: str | None = None,
    budget: float | None = None,
    capacity: int | None = None,
    charts: Path | None = None,
    reasons: int = 0,
    outcome: str | None = None,
    batch_rows: int = 65536,
) -> TargetReport:
    """Score ``source``, choose whom to contact, write the customers ordered by score.

    The output keeps every input column and adds ``score``, ``expected_profit`` and
    ``contacted``. With ``charts``, the expected cumulative gains, lift by decile and
    profit curve (the scores standing in for the unknown outcomes) are drawn there.

    Args:
        cost: The cost of one contact.
        value: The value of one conversion, unless ``value_column`` gives it per customer.
        value_column: A numeric column of ``source`` holding each customer's value.
        reasons: With more than 0, a ``reasons`` column too: for each contacted customer,
            the factors that raised and lowered their score most (that many of each, by
            :mod:`modelry.explain`; tabular models only, and slower: integrated gradients
            per contacted row).
        budget, capacity: At most one limit (see
            :func:`~modelry.apps.marketing.targeting.choose`).
        outcome: A column of ``source`` with each customer's known outcome (a test split,
            or last campaign scored after the fact): the report adds what the selection
            realised, and the charts draw the realised gains, lift and profit (the profit
            beside the expected one).

    Raises:
        ConfigError: Bad economics, a model that is not a binary classifier, both or
            neither of ``value`` and ``value_column``.
        SchemaError, SourceError: As :func:`score_customers`, or the output cannot be
            written.
    """
    if (value is None) == (value_column is None):
        raise ConfigError("give a value per conversion or a value column (one of them)")
    check_economics(cost, value, budget, capacity)  # before the file is read and scored
    started = time.perf_counter()
    numbers = [value_column] if value_column else []
    if reasons < 0:
        raise ConfigError(f"the number of reasons must be zero or more, got {reasons}")
    scored = score_customers(
        registry,
        name,
        version,
        source,
        numbers=numbers,
        keep_inputs=reasons > 0,
        outcome=outcome,
        batch_rows=batch_rows,
    )
    values: Any = scored.numbers[value_column] if value_column else value
    selection = choose(scored.effect, cost=cost, value=values, budget=budget, capacity=capacity)
    texts = _reasons(registry, name, version, scored, selection, reasons) if reasons else None
    _write(scored.table, selection, destination, texts)
    drawn = _charts(selection, charts, scored.outcome) if charts is not None else {}
    realised = None
    if scored.outcome is not None:
        realised = _realised(selection, scored.outcome, outcome or "")
    return TargetReport(
        model=name,
        version=version,
        effect=scored.effect_name,
        selection=selection,
        output=destination,
        seconds=time.perf_counter() - started,
        charts=drawn,
        realised=realised,
    )


def _realised(selection: Selection, y: NDArray[np.float64], column: str) -> dict[str, Any]:
    """What the selection earned on customers whose outcome is known."""
    from modelry.training.calibration import ece

    chosen = selection.contacted
    return {
        "outcome": column,
        "conversions": int(y[chosen].sum()),
        "profit": realised_profit(y, chosen, cost=selection.cost, value=selection.value),
        "conversion_rate": float(y.mean()) if y.size else 0.0,
        "ece": ece(y, selection.effect),
    }


EXPLAIN_ROWS = 1024
"""Contacted customers explained per call (bounds the explainer's memory)."""


def _reasons(
    registry: RegistryView,
    name: str,
    version: int,
    scored: Scored,
    selection: Selection,
    top: int,
) -> NDArray[np.object_]:
    """Each contacted customer's reasons as one text ("" for the others)."""
    from modelry.explain.kinds import explainer_for
    from modelry.serving.kinds import open_runtime

    runtime = open_runtime(registry.get(name, version).path, name, version)
    try:  # on an uplift model, the reasons say why the contact helps
        explainer = explainer_for(runtime, top=top)
    except ConfigError as exc:
        raise ConfigError(f"{exc} (the {scored.kind!r} kind): leave out --reasons") from exc
    texts = np.full(selection.effect.size, "", dtype=object)
    chosen = np.flatnonzero(selection.contacted)
    for start in range(0, chosen.size, EXPLAIN_ROWS):
        rows = chosen[start : start + EXPLAIN_ROWS]
        columns = {c: values[rows] for c, values in scored.inputs.items()}
        for row, explanation in zip(rows, explainer.explain(columns), strict=True):
            texts[row] = "; ".join(reason.text for reason in explanation.reasons)
    return texts


def _write(
    table: Any, selection: Selection, destination: Path, reasons: NDArray[np.object_] | None
) -> None:
    import pyarrow as pa
    import pyarrow.csv as pacsv

    table = table.append_column("score", pa.array(selection.effect))
    table = table.append_column("expected_profit", pa.array(selection.expected_profit))
    table = table.append_column("contacted", pa.array(selection.contacted))
    if reasons is not None:
        table = table.append_column("reasons", pa.array(reasons.tolist(), pa.string()))
    table = table.take(pa.array(ranking(selection.effect)))
    partial = destination.with_name(f".{destination.name}.partial")
    try:
        destination.parent.mkdir(parents=True, exist_ok=True)
        pacsv.write_csv(table, str(partial))
        partial.replace(destination)
    except OSError as exc:
        raise SourceError(
            f"cannot write {destination}: {exc.strerror}", file=str(destination)
        ) from exc
    finally:
        partial.unlink(missing_ok=True)


def _charts(
    selection: Selection, directory: Path, outcome: NDArray[np.float64] | None = None
) -> dict[str, Path]:
    """The gains, lift and profit curve of the selection's ranking: expected (the scores
    standing in for the outcomes), or realised where ``outcome`` is known (the profit then
    beside the expected one)."""
    p = selection.effect
    if p.size == 0 or p.min() < 0 or p.sum() <= 0:
        return {}  # no expected conversions to chart (e.g. every score zero)
    paths = {name: directory / file for name, file in CHART_FILES.items()}
    known = outcome is not None and outcome.sum() > 0
    y = outcome if known and outcome is not None else p
    gains_chart(cumulative_gains(y, p), paths["gains"], expected=not known)
    lift_chart(lift_by_decile(y, p, bins=min(10, p.size)), paths["lift"], expected=not known)
    # Down the order of expected profit: the order in which the optimiser takes customers
    # (exactly so for a capacity, a constant cost, or no limit).
    order = np.argsort(-selection.expected_profit, kind="stable")
    curve = profit_curve(p, p, cost=selection.cost, value=selection.value, order=order)
    realised = (
        profit_curve(y, p, cost=selection.cost, value=selection.value, order=order)
        if known
        else None
    )
    profit_chart(
        curve, paths["profit"], cutoff=selection.n_contacted, expected=True, realised=realised
    )
    return paths
