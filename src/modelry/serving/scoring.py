"""Offline batch scoring: a file in, the same rows with predictions out, in chunks.

It reaches the model through the same :class:`~modelry.serving.dataplane.DataPlane`
as HTTP does (so upstream models are resolved the same way, and any kind can score
a file); Arrow streams the file so memory stays flat however large it is.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from modelry.data.columns import Coded, ColumnArray
from modelry.data.sources import iter_batches
from modelry.errors import SourceError
from modelry.serving.batching import BatchPolicy
from modelry.serving.dataplane import DataPlane, RegistryView
from modelry.serving.pool import ModelPool, Served

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class ScoreReport:
    rows: int
    seconds: float
    output: Path

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else float("inf")


def arrow_column(values: ColumnArray) -> Any:
    """A column as read by :func:`~modelry.data.sources.iter_batches`, as an Arrow array
    that writes back to CSV as it was read."""
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
    registry: RegistryView,
    name: str,
    version: int,
    source: Path,
    destination: Path,
    *,
    batch_rows: int = 65536,
    on_batch: Callable[[int], None] | None = None,
) -> ScoreReport:
    """Score every row of ``source`` with ``name`` at ``version``; write it with its
    predictions to ``destination``.

    The model is loaded through its kind by a data plane of its own (no batching:
    each chunk is one predict call, in a worker thread). The output is written next to
    the destination and renamed into place at the end, so an interrupted run never
    leaves a half-written file under the final name.
    """

    async def work(plane: DataPlane, served: Served) -> ScoreReport:
        return await score_with(plane, served, source, destination, batch_rows, on_batch)

    return with_model(registry, name, version, work)


def with_model(
    registry: RegistryView,
    name: str,
    version: int,
    work: Callable[[DataPlane, Served], Awaitable[T]],
) -> T:
    """Run ``work`` on ``name`` at ``version``, loaded by a data plane of its own: a batch
    job's way to a model (no batching: each chunk is one predict call, in a worker thread)."""
    # Every model may be loaded, not just ``name``: one that takes a column from another
    # served model (a text encoder) loads that one too, once, through this same pool.
    plane = DataPlane(ModelPool(registry, policy=BatchPolicy(enabled=False)), registry)

    async def run() -> T:
        await plane.start(eager=False)
        try:
            return await work(plane, await plane.model(name, str(version)))
        finally:
            await plane.stop()

    return asyncio.run(run())


async def score_with(
    plane: DataPlane,
    served: Served,
    source: Path,
    destination: Path,
    batch_rows: int,
    on_batch: Callable[[int], None] | None,
) -> ScoreReport:
    """:func:`score_file` with a loaded model of a running data plane."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    runtime = served.runtime
    numeric = [name for name, kind in runtime.input_kinds().items() if kind == "number"]
    started = time.perf_counter()
    rows = 0
    partial = destination.with_name(f".{destination.name}.partial")
    writer: Any = None
    try:
        for columns in iter_batches(source, batch_rows, numeric=numeric):
            n = len(next(iter(columns.values()))) if columns else 0
            outputs = await plane.outputs(served, columns, n)
            table = {name: arrow_column(values) for name, values in columns.items()}
            for name, values in runtime.table_columns(outputs).items():
                table[name] = pa.array(values if values.ndim == 1 else list(values))
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
