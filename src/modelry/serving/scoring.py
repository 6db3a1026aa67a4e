"""Offline batch scoring: a file in, the same rows with predictions out, in chunks.

It reaches the model through the same :class:`~modelry.serving.runtime.Runtime` as
HTTP does; Arrow streams the file so memory stays flat however large it is.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from modelry.data.columns import Coded, ColumnArray
from modelry.data.sources import iter_batches
from modelry.errors import SourceError
from modelry.serving.runtime import Prediction, TabularRuntime


@dataclass(frozen=True, slots=True)
class ScoreReport:
    rows: int
    seconds: float
    output: Path

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else float("inf")


def prediction_columns(prediction: Prediction) -> dict[str, np.ndarray]:
    """The columns a scored file gains: ``prediction`` and ``score`` or one per class."""
    out: dict[str, np.ndarray] = {}
    if prediction.labels is not None:
        out["prediction"] = prediction.labels
    if prediction.scores.ndim == 2 and prediction.classes:
        for i, label in enumerate(prediction.classes):
            out[f"probability_{label}"] = prediction.scores[:, i]
    else:
        out["score"] = prediction.scores
    return out


def _arrow(values: ColumnArray) -> Any:
    import pyarrow as pa

    if isinstance(values, Coded):
        codes = pa.array(values.codes, mask=values.codes < 0)
        return pa.DictionaryArray.from_arrays(codes, pa.array(values.categories, pa.string()))
    if values.dtype == np.float64:
        finite = values[~np.isnan(values)]
        # Integers were read as float64; write them back without a trailing ".0".
        if finite.size and np.all(finite == np.round(finite)) and np.all(np.abs(finite) < 2**53):
            return pa.array(values, mask=np.isnan(values)).cast(pa.int64())
        return pa.array(values, mask=np.isnan(values))
    return pa.array(values)


def score_file(
    runtime: TabularRuntime,
    source: Path,
    destination: Path,
    *,
    batch_rows: int = 65536,
    on_batch: Callable[[int], None] | None = None,
) -> ScoreReport:
    """Score every row of ``source`` and write it, with its predictions, to ``destination``.

    The output is written next to the destination and renamed into place at the end,
    so an interrupted run never leaves a half-written file under the final name.
    """
    import pyarrow as pa
    import pyarrow.csv as pacsv

    kinds = runtime.input_kinds()
    numeric = [name for name, kind in kinds.items() if kind == "number"]
    started = time.perf_counter()
    rows = 0
    partial = destination.with_name(f".{destination.name}.partial")
    writer: Any = None
    try:
        for columns in iter_batches(source, batch_rows, numeric=numeric):
            prediction = runtime.predict(columns)
            table = {name: _arrow(values) for name, values in columns.items()}
            for name, values in prediction_columns(prediction).items():
                table[name] = pa.array(values)
            batch = pa.RecordBatch.from_pydict(table)
            if writer is None:
                writer = pacsv.CSVWriter(str(partial), batch.schema)
            writer.write_batch(batch)
            rows += batch.num_rows
            if on_batch:
                on_batch(batch.num_rows)
        if writer is not None:
            writer.close()
            writer = None
        partial.replace(destination)
    except OSError as exc:
        raise SourceError(
            f"cannot write {destination}: {exc.strerror}", file=str(destination)
        ) from exc
    finally:
        if writer is not None:
            writer.close()
        partial.unlink(missing_ok=True)
    return ScoreReport(rows=rows, seconds=time.perf_counter() - started, output=destination)
