"""Adaptive batching: concurrent requests to one model share one predict call.

A :class:`Batcher` queues requests; its worker takes what has queued, waits up
to ``max_wait`` for more while the batch is below ``max_batch_size`` rows,
concatenates the columns, predicts once and hands each request its own slice.
Under light load a batch is one request (plus at most ``max_wait``); under heavy
load batches grow by themselves, because requests queue while a predict runs.

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
from typing import Any, Protocol

import numpy as np

from modelry.errors import InvalidInputError
from modelry.serving.runtime import Prediction

log = logging.getLogger(__name__)

PredictFn = Callable[[Mapping[str, Any]], Prediction]
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
        max_wait_ms: Longest a request waits for company.
        offload_rows: Predicts of this many rows or more run in a worker thread.
    """

    enabled: bool = False
    max_batch_size: int = 64
    max_wait_ms: float = 2.0
    offload_rows: int = 512


async def predict_alone(
    predict: PredictFn,
    columns: Mapping[str, Any],
    n_rows: int,
    policy: BatchPolicy,
    observe: Observe,
) -> Prediction:
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
    future: asyncio.Future[Prediction]
    arrived: float


def concat_columns(parts: list[Mapping[str, Any]]) -> dict[str, np.ndarray]:
    """Column-wise concatenation of several requests' columns (same names)."""
    return {name: np.concatenate([p[name] for p in parts]) for name in parts[0]}


def slice_prediction(prediction: Prediction, start: int, stop: int) -> Prediction:
    """Rows ``[start, stop)`` of a batch's prediction."""
    labels = prediction.labels
    return Prediction(
        task=prediction.task,
        scores=prediction.scores[start:stop],
        labels=None if labels is None else labels[start:stop],
        classes=prediction.classes,
    )


class Batcher:
    """Joins concurrent requests to one model into batched predict calls.

    Example:
        >>> batcher = Batcher(runtime.predict, BatchPolicy(enabled=True), observe)  # doctest: +SKIP
        >>> prediction = await batcher.submit({"age": np.array([41.0])}, 1)  # doctest: +SKIP
    """

    def __init__(self, predict: PredictFn, policy: BatchPolicy, observe: Observe) -> None:
        self.predict = predict
        self.policy = policy
        self.observe = observe
        self._queue: list[_Request] = []
        self._rows = 0
        self._wakeup: asyncio.Event | None = None
        self._worker: asyncio.Task[None] | None = None

    async def submit(self, columns: Mapping[str, Any], rows: int) -> Prediction:
        """Queue one request's columns; returns its own rows' prediction."""
        loop = asyncio.get_running_loop()
        if self._worker is None or self._worker.done():
            self._wakeup = asyncio.Event()
            self._worker = loop.create_task(self._run(), name="modelry-batcher")
        assert self._wakeup is not None
        request = _Request(columns, rows, loop.create_future(), loop.time())
        self._queue.append(request)
        self._rows += rows
        self._wakeup.set()
        return await request.future

    def close(self) -> None:
        """Stop the worker (nothing is queued when the pool calls this)."""
        if self._worker is not None:
            self._worker.cancel()
            self._worker = None
        for request in self._queue:
            if not request.future.done():
                request.future.set_exception(RuntimeError("batcher closed"))
        self._queue.clear()

    async def _run(self) -> None:
        assert self._wakeup is not None
        wakeup = self._wakeup
        loop = asyncio.get_running_loop()
        limit = self.policy.max_batch_size
        max_wait = self.policy.max_wait_ms / 1000.0
        while True:
            await wakeup.wait()
            wakeup.clear()
            if not self._queue:
                continue
            deadline = self._queue[0].arrived + max_wait
            while self._rows < limit:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                wakeup.clear()
                try:
                    async with asyncio.timeout(remaining):
                        await wakeup.wait()
                except TimeoutError:
                    break
            batch = self._take(limit)
            try:
                await self._predict_batch(batch)
            except Exception:  # never let one batch kill the worker
                log.exception("batch of %d requests failed", len(batch))
            if self._queue:
                wakeup.set()

    def _take(self, limit: int) -> list[_Request]:
        batch: list[_Request] = []
        rows = 0
        while self._queue and (not batch or rows + self._queue[0].rows <= limit):
            request = self._queue.pop(0)
            rows += request.rows
            batch.append(request)
        self._rows -= rows
        return batch

    async def _predict_batch(self, batch: list[_Request]) -> None:
        batch = [r for r in batch if not r.future.done()]  # senders that gave up
        if not batch:
            return
        rows = sum(r.rows for r in batch)
        try:
            columns = (
                batch[0].columns if len(batch) == 1 else concat_columns([r.columns for r in batch])
            )
            if rows >= self.policy.offload_rows:
                prediction = await asyncio.to_thread(self.predict, columns)
            else:
                prediction = self.predict(columns)
        except InvalidInputError as exc:
            if len(batch) == 1:
                _fail(batch[0], exc)
            else:  # find whose rows the encoder refused: each request alone
                for request in batch:
                    await self._predict_batch([request])
            return
        except Exception as exc:
            for request in batch:
                _fail(request, exc)
            return
        self.observe(rows, len(batch))
        start = 0
        for request in batch:
            stop = start + request.rows
            if not request.future.done():
                request.future.set_result(slice_prediction(prediction, start, stop))
            start = stop


def _fail(request: _Request, exc: BaseException) -> None:
    if not request.future.done():
        request.future.set_exception(exc)
