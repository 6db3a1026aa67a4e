"""Adaptive batching: concurrent requests to one model share one predict call.

A :class:`Batcher` queues requests and flushes the queue once it stops growing
(``max_wait_ms`` = 0, the default: the flush looks at the queue on the event loop's
next turn, and waits one more turn only while the last turn added requests, at most
:data:`STILL_TURNS` turns) or ``max_wait_ms`` after the first request; a queue of
``max_batch_size`` rows goes at once. The flush concatenates the columns, predicts
once and hands each request its own slice (or, with a finish, its rows of the
batch's converted output). A lone request waits one loop turn;
under load, requests whose bytes arrive a few turns apart (the responses of the
last batch reach their clients one by one, and so do their next requests) join
one batch instead of forming several small ones. With 8 connections that doubled
the requests per predict call (3.7 → 7.9) against flushing on the next turn
(bench/history.md, second session's A/B checks). This is Triton's dynamic batcher
with its default queue delay of 0, made to wait for requests that are visibly on
their way.

Isolation: a request only ever receives rows ``[start, start + n)`` of the batch
it joined. When a batch fails on a client mistake (a value an encoder refuses),
each request of it is predicted alone, so the mistake is reported to its sender,
with its own row numbers, and nobody else fails.

Small predicts run inline on the event loop (a thread hop costs more than an
onnxruntime call on a few rows); predicts of ``offload_rows`` rows or more run
in a thread, so that one large request does not stall the others.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from itertools import chain
from typing import Any, Protocol, cast

import numpy as np

from modelry.data.columns import Coded, InputColumn, Records, as_array
from modelry.errors import InvalidInputError
from modelry.protocol.predictions import Outputs
from modelry.registry.serving_config import ModelServing

log = logging.getLogger(__name__)

STILL_TURNS = 8
"""Loop turns a zero-wait flush waits at most for a still-growing queue (bounds the
latency a steady trickle of requests could add to the first one)."""

PredictFn = Callable[[Mapping[str, Any]], Outputs]
Finish = Callable[[Outputs], list[Any]]
"""Turns a prediction into one item per row (e.g. the V1 JSON records): run once per
batch, each request then gets its own rows' items."""
Observe = Callable[[int, int], None]
"""Called with (rows, requests) of every predict call."""


class BatchObserver(Protocol):
    """Told the size of every predict call (the batch-size histogram)."""

    def observe_batch(self, name: str, version: int, rows: int, requests: int) -> None: ...


@dataclass(frozen=True, slots=True)
class BatchPolicy:
    """Whether and how one model batches.

    Args:
        enabled: Batch concurrent requests.
        max_batch_size: Most rows per predict call (a larger request runs alone).
        max_wait_ms: Longest a request waits for company; 0 (the default) sets no
            timer: a batch goes on the next loop turn, or a few turns later while
            requests keep arriving (see :class:`Batcher`).
        offload_rows: Predicts of this many rows or more run in a worker thread.
    """

    enabled: bool = True
    max_batch_size: int = 64
    max_wait_ms: float = 0.0
    offload_rows: int = 512


def model_policy(serving: ModelServing, default: BatchPolicy) -> BatchPolicy:
    """The batching a model's stored serving settings give: each field its record sets,
    ``default``'s for the others (the embedded service's flags, or the defaults on Ray)."""
    given = serving.model_fields_set
    return BatchPolicy(
        enabled=serving.batching if "batching" in given else default.enabled,
        max_batch_size=serving.max_batch_size
        if "max_batch_size" in given
        else default.max_batch_size,
        max_wait_ms=serving.max_wait_ms if "max_wait_ms" in given else default.max_wait_ms,
        offload_rows=default.offload_rows,
    )


async def predict_alone(
    predict: PredictFn,
    columns: Mapping[str, Any],
    n_rows: int,
    policy: BatchPolicy,
    observe: Observe,
) -> Outputs:
    """One request, one predict call: inline if small, in a thread if large."""
    if n_rows >= policy.offload_rows:
        prediction = await asyncio.to_thread(predict, columns)
    else:
        prediction = predict(columns)
    observe(n_rows, 1)
    return prediction


@dataclass(slots=True)
class _Request:
    columns: Mapping[str, Any]
    rows: int
    future: asyncio.Future[Any]  # its Outputs, or its rows' items when finish is set
    finish: Finish | None


def concat_columns(parts: list[Mapping[str, InputColumn]]) -> Mapping[str, InputColumn]:
    """Column-wise concatenation of several requests' columns (same names).

    Requests of a few JSON records carry them as :class:`~modelry.data.columns.Records`:
    they join as records. Requests of a few rows carry plain lists (see
    :mod:`modelry.protocol.codecs`): when every column of every part is one (records
    read as columns are lists too), they join as lists. Otherwise (a V2 request with
    binary tensors beside JSON ones) a column with any list joins as the object array
    of its values, and arrays alone join as one array.
    """
    first = parts[0]
    if type(first) is Records and all(type(p) is Records and p.names == first.names for p in parts):
        records = cast(list[Records], parts)  # as just checked
        return Records(list(chain.from_iterable(p.rows for p in records)), first.names)
    if set(map(type, chain.from_iterable(p.values() for p in parts))) == _JUST_LISTS:
        lists = cast(list[Mapping[str, list[Any]]], parts)  # as just checked
        joined_lists = {name: list(values) for name, values in lists[0].items()}
        for part in lists[1:]:
            for name, values in joined_lists.items():
                values += part[name]
        return cast(dict[str, InputColumn], joined_lists)
    joined: dict[str, InputColumn] = {}
    for name in parts[0]:
        values = [p[name] for p in parts]
        if any(isinstance(v, list) for v in values):
            joined[name] = np.concatenate([_objects(v) for v in values])
        else:
            joined[name] = np.concatenate(values)
    return joined


_JUST_LISTS = {list}


def _objects(values: InputColumn) -> np.ndarray:
    if isinstance(values, Coded):
        return values.decode()
    return np.asarray(as_array(values), dtype=object)


def slice_outputs(outputs: Outputs, start: int, stop: int) -> Outputs:
    """Rows ``[start, stop)`` of a batch's outputs."""
    return {name: values[start:stop] for name, values in outputs.items()}


class Batcher:
    """Joins concurrent requests to one model into batched predict calls.

    The first request to arrive schedules a flush: when ``max_wait_ms`` is 0, on
    the event loop's next turn, put off one turn at a time while the queue still
    grows (up to :data:`STILL_TURNS`); else ``max_wait_ms`` later. Either way a
    queue of ``max_batch_size`` rows goes at once. The flush predicts everything
    queued by then, in batches of at most ``max_batch_size`` rows. There is no
    worker task: a flush is a loop callback, and a request costs one future.

    Example:
        >>> batcher = Batcher(runtime.predict, BatchPolicy(enabled=True), observe)  # doctest: +SKIP
        >>> prediction = await batcher.enqueue({"age": np.array([41.0])}, 1)  # doctest: +SKIP
    """

    def __init__(self, predict: PredictFn, policy: BatchPolicy, observe: Observe) -> None:
        self.predict = predict
        self.policy = policy
        self.observe = observe
        self._queue: list[_Request] = []
        self._rows = 0
        self._flush_at: asyncio.Handle | None = None
        self._offloaded: set[asyncio.Task[None]] = set()  # held: the loop keeps weak refs
        self._closed = False
        self._seen = 0  # requests queued when the zero-wait flush last looked
        self._turns = 0  # turns the zero-wait flush has waited

    def enqueue(
        self, columns: Mapping[str, Any], rows: int, finish: Finish | None = None
    ) -> asyncio.Future[Any]:
        """Queue one request's columns; the future gets its rows' prediction, or with
        ``finish`` its rows' items: ``finish`` runs once on the whole batch's prediction
        (for every request of the batch that asked for it), and each request receives
        its slice of the items (one conversion per batch instead of one per request).
        """
        if self._closed:
            raise RuntimeError("batcher closed")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._queue.append(_Request(columns, rows, future, finish))
        self._rows += rows
        full = self._rows >= self.policy.max_batch_size
        if full and isinstance(self._flush_at, asyncio.TimerHandle):
            self._flush_at.cancel()  # enough rows: no reason to wait longer
            self._flush_at = None
        if self._flush_at is None:
            wait = 0.0 if full else self.policy.max_wait_ms / 1000.0
            if wait > 0:
                self._flush_at = loop.call_later(wait, self._flush)
            else:
                self._seen, self._turns = len(self._queue), 0
                self._flush_at = loop.call_soon(self._flush_when_still)
        return future

    def _flush_when_still(self) -> None:
        """The zero-wait flush: now, unless the last turn queued more (and may again)."""
        queued = len(self._queue)
        self._turns += 1
        if (
            queued > self._seen
            and self._turns < STILL_TURNS
            and self._rows < self.policy.max_batch_size
        ):
            self._seen = queued
            self._flush_at = asyncio.get_running_loop().call_soon(self._flush_when_still)
            return
        self._flush()

    def close(self) -> None:
        """Fail whatever is still queued and stop scheduling flushes."""
        self._closed = True
        if self._flush_at is not None:
            self._flush_at.cancel()
            self._flush_at = None
        # A batch already in a thread finishes and answers its requests (or fails them,
        # the runtime being unloaded): cancelling its task would leave them unanswered.
        for request in self._queue:
            _fail(request, RuntimeError("batcher closed"))
        self._queue.clear()
        self._rows = 0

    def _flush(self) -> None:
        self._flush_at = None
        limit = self.policy.max_batch_size
        while self._queue:
            batch = self._take(limit)
            rows = sum(r.rows for r in batch)
            if rows >= self.policy.offload_rows:
                task = asyncio.get_running_loop().create_task(self._predict_offloaded(batch))
                self._offloaded.add(task)
                task.add_done_callback(self._offloaded.discard)
                continue
            try:
                self._answer([r for r in batch if not r.future.done()])  # some gave up
            except Exception:  # never let one batch stop the others
                log.exception("batch of %d requests failed", len(batch))

    def _take(self, limit: int) -> list[_Request]:
        """The oldest requests, up to ``limit`` rows (at least one request)."""
        queue = self._queue
        rows, count = 0, 0
        for request in queue:
            if count and rows + request.rows > limit:
                break
            rows += request.rows
            count += 1
        batch = queue[:count]
        del queue[:count]
        self._rows -= rows
        return batch

    async def _predict_offloaded(self, batch: list[_Request]) -> None:
        batch = [r for r in batch if not r.future.done()]
        if not batch:
            return
        columns = _joined(batch)
        try:
            prediction = await asyncio.to_thread(self.predict, columns)
        except Exception as exc:
            self._failed(batch, exc)
            return
        self._deliver(batch, prediction)

    def _answer(self, batch: list[_Request]) -> None:
        if not batch:
            return
        try:
            prediction = self.predict(_joined(batch))
        except Exception as exc:
            self._failed(batch, exc)
            return
        self._deliver(batch, prediction)

    def _failed(self, batch: list[_Request], exc: Exception) -> None:
        """A client mistake in a batch of several: find whose, each request alone."""
        if isinstance(exc, InvalidInputError) and len(batch) > 1:
            for request in batch:
                self._answer([request])
            return
        for request in batch:
            _fail(request, exc)

    def _deliver(self, batch: list[_Request], prediction: Outputs) -> None:
        rows = sum(r.rows for r in batch)
        self.observe(rows, len(batch))
        alone = len(batch) == 1
        finished: dict[Finish, list[Any] | BaseException] = {}
        start = 0
        for request in batch:
            stop = start + request.rows
            future, finish = request.future, request.finish
            if future.done():
                pass
            elif finish is None:
                future.set_result(prediction if alone else slice_outputs(prediction, start, stop))
            else:
                items = finished.get(finish)
                if items is None:
                    try:
                        items = finished[finish] = finish(prediction)
                    except Exception as exc:  # a bug in finish: its requests fail, no others
                        items = finished[finish] = exc
                if isinstance(items, BaseException):
                    future.set_exception(items)
                else:
                    future.set_result(items if alone else items[start:stop])
            start = stop


def _joined(batch: list[_Request]) -> Mapping[str, Any]:
    return batch[0].columns if len(batch) == 1 else concat_columns([r.columns for r in batch])


def _fail(request: _Request, exc: BaseException) -> None:
    if not request.future.done():
        request.future.set_exception(exc)
