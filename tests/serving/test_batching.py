"""Adaptive batching: joined predict calls, answers kept apart, errors kept to their sender."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import numpy as np
import pytest

from modelry.data.columns import Records
from modelry.errors import InvalidInputError
from modelry.serving.batching import (
    STILL_TURNS,
    Batcher,
    BatchPolicy,
    concat_columns,
    predict_alone,
)
from modelry.serving.runtime import Outputs

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class Model:
    """score = 2·x; refuses x < 0 the way an encoder refuses a value (row-numbered)."""

    def __init__(self) -> None:
        self.calls: list[int] = []

    def predict(self, columns: Mapping[str, Any]) -> Outputs:
        x = np.asarray(columns["x"], dtype=np.float64)
        if (x < 0).any():
            row = int(np.flatnonzero(x < 0)[0])
            raise InvalidInputError(f"column 'x', row {row}: negative", column="x", row=row)
        self.calls.append(len(x))
        labels = np.where(x > 0, "pos", "neg").astype(object)
        return {"score": 2 * x, "label": labels}


async def test_concurrent_requests_share_calls_and_get_their_own_rows() -> None:
    model, seen = Model(), []
    batcher = Batcher(model.predict, BatchPolicy(True, 8, 5.0), lambda r, q: seen.append((r, q)))

    async def one(i: int) -> None:
        rows = 1 + i % 3
        x = np.arange(rows, dtype=np.float64) + 100 * i
        prediction = await batcher.enqueue({"x": x}, rows)
        assert prediction["score"].tolist() == (2 * x).tolist()
        assert len(prediction["label"]) == rows

    await asyncio.gather(*(one(i) for i in range(30)))
    assert sum(model.calls) == sum(1 + i % 3 for i in range(30))
    assert len(model.calls) < 30 and max(model.calls) <= 8
    assert sum(q for _, q in seen) == 30
    batcher.close()


async def test_a_refused_value_fails_only_its_sender_with_its_own_row() -> None:
    model = Model()
    batcher = Batcher(model.predict, BatchPolicy(True, 64, 5.0), lambda r, q: None)
    good = [batcher.enqueue({"x": np.array([1.0, 2.0])}, 2) for _ in range(3)]
    bad = batcher.enqueue({"x": np.array([3.0, -1.0])}, 2)
    results = await asyncio.gather(*good, bad, return_exceptions=True)
    assert [r["score"].tolist() for r in results[:3]] == [[2.0, 4.0]] * 3  # type: ignore[union-attr]
    error = results[3]
    assert isinstance(error, InvalidInputError) and error.details["row"] == 1
    batcher.close()


async def test_an_unexpected_error_reaches_every_sender_and_the_worker_survives() -> None:
    calls = 0

    def flaky(columns: Mapping[str, Any]) -> Outputs:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("boom")
        return Model().predict(columns)

    batcher = Batcher(flaky, BatchPolicy(True, 64, 1.0), lambda r, q: None)
    first = await asyncio.gather(
        *(batcher.enqueue({"x": np.array([1.0])}, 1) for _ in range(2)), return_exceptions=True
    )
    assert all(isinstance(r, RuntimeError) for r in first)
    again = await batcher.enqueue({"x": np.array([1.0])}, 1)
    assert again["score"].tolist() == [2.0]
    batcher.close()


async def test_zero_wait_still_batches_what_queued_together() -> None:
    model = Model()
    batcher = Batcher(model.predict, BatchPolicy(True, 64, 0.0), lambda r, q: None)
    await asyncio.gather(*(batcher.enqueue({"x": np.array([float(i)])}, 1) for i in range(10)))
    assert model.calls == [10]
    batcher.close()


async def after_turns(turns: int, batcher: Batcher, x: float) -> Outputs:
    """Submit ``x`` once the event loop has turned ``turns`` times."""
    for _ in range(turns):
        await asyncio.sleep(0)
    return await batcher.enqueue({"x": np.array([x])}, 1)


async def test_zero_wait_waits_while_the_queue_still_grows() -> None:
    model = Model()
    batcher = Batcher(model.predict, BatchPolicy(True, 64, 0.0), lambda r, q: None)
    # Two requests in one turn, then one more on each of the next three turns: one batch.
    turns = [0, 0, 1, 2, 3]
    answers = await asyncio.gather(*(after_turns(t, batcher, i) for i, t in enumerate(turns)))
    assert model.calls == [5]
    assert [a["score"].tolist() for a in answers] == [[0.0], [2.0], [4.0], [6.0], [8.0]]
    # A lone request is answered after one turn: nothing grew.
    await batcher.enqueue({"x": np.array([1.0])}, 1)
    assert model.calls == [5, 1]
    batcher.close()


async def test_a_steady_trickle_waits_at_most_still_turns() -> None:
    model = Model()
    batcher = Batcher(model.predict, BatchPolicy(True, 64, 0.0), lambda r, q: None)
    turns = [0, 0, *range(1, 3 * STILL_TURNS)]  # a new request on every turn
    await asyncio.gather(*(after_turns(t, batcher, 1.0) for t in turns))
    assert sum(model.calls) == len(turns) and len(model.calls) > 1
    assert model.calls[0] <= STILL_TURNS + 1


async def test_zero_wait_does_not_wait_past_a_full_batch() -> None:
    model = Model()
    batcher = Batcher(model.predict, BatchPolicy(True, 3, 0.0), lambda r, q: None)
    turns = [0, 0, 0, 1, 2]  # full after the first turn: those three go at once
    await asyncio.gather(*(after_turns(t, batcher, 1.0) for t in turns))
    assert model.calls[0] == 3 and sum(model.calls) == 5
    batcher.close()


async def test_large_predicts_run_in_a_thread() -> None:
    model, seen = Model(), []
    policy = BatchPolicy(offload_rows=4)
    out = await predict_alone(
        model.predict, {"x": np.ones(5)}, 5, policy, lambda r, q: seen.append(r)
    )
    assert out["score"].tolist() == [2.0] * 5 and seen == [5]


async def test_a_full_batch_goes_at_once_without_waiting_for_max_wait() -> None:
    model = Model()
    batcher = Batcher(model.predict, BatchPolicy(True, 4, 10_000.0), lambda r, q: None)
    loop = asyncio.get_running_loop()
    start = loop.time()
    await asyncio.gather(*(batcher.enqueue({"x": np.array([float(i)])}, 1) for i in range(4)))
    assert loop.time() - start < 5.0 and model.calls == [4]
    batcher.close()


async def test_max_wait_lets_later_requests_join() -> None:
    model = Model()
    batcher = Batcher(model.predict, BatchPolicy(True, 64, 500.0), lambda r, q: None)

    async def late(i: int) -> Outputs:
        await asyncio.sleep(0.005 * i)  # arrive over 15 ms, well inside the 500 ms wait
        return await batcher.enqueue({"x": np.array([float(i)])}, 1)

    answers = await asyncio.gather(*(late(i) for i in range(4)))
    assert model.calls == [4]
    assert [a["score"].tolist() for a in answers] == [[0.0], [2.0], [4.0], [6.0]]
    batcher.close()


async def test_closing_fails_what_is_queued_and_refuses_more() -> None:
    model = Model()
    batcher = Batcher(model.predict, BatchPolicy(True, 64, 10_000.0), lambda r, q: None)
    queued = asyncio.ensure_future(batcher.enqueue({"x": np.array([1.0])}, 1))
    await asyncio.sleep(0)
    batcher.close()
    with pytest.raises(RuntimeError, match="closed"):
        await queued
    with pytest.raises(RuntimeError, match="closed"):
        await batcher.enqueue({"x": np.array([1.0])}, 1)
    assert model.calls == []


async def test_a_batch_of_offload_size_runs_in_a_thread_and_answers_everyone() -> None:
    model = Model()
    threads: list[str] = []

    def predict(columns: Mapping[str, Any]) -> Outputs:
        import threading

        threads.append(threading.current_thread().name)
        return model.predict(columns)

    batcher = Batcher(predict, BatchPolicy(True, 64, 0.0, offload_rows=4), lambda r, q: None)
    answers = await asyncio.gather(
        *(batcher.enqueue({"x": np.array([float(i), 1.0])}, 2) for i in range(3))
    )
    assert [a["score"].tolist() for a in answers] == [[0.0, 2.0], [2.0, 2.0], [4.0, 2.0]]
    assert model.calls == [6] and threads and threads[0] != "MainThread"
    batcher.close()


def test_list_columns_join_as_lists_and_mixed_ones_as_object_arrays() -> None:
    joined = concat_columns([{"x": [1.0, 2], "s": ["a"]}, {"x": [3.5], "s": ["b", None]}])
    assert joined == {"x": [1.0, 2, 3.5], "s": ["a", "b", None]}
    mixed = concat_columns(
        [{"s": ["a"], "x": [1.0]}, {"s": np.array(["b"], dtype=object), "x": [2.5]}]
    )
    assert isinstance(mixed["s"], np.ndarray) and mixed["s"].dtype == object
    assert mixed["s"].tolist() == ["a", "b"] and mixed["x"].tolist() == [1.0, 2.5]
    arrays = concat_columns([{"x": np.array([1.0])}, {"x": np.array([2.0])}])
    assert isinstance(arrays["x"], np.ndarray) and arrays["x"].dtype == np.float64


def test_records_join_as_records_and_with_lists_as_lists() -> None:
    names = ("x", "s")
    first, second = Records([{"x": 1, "s": "a"}], names), Records([{"s": "b", "x": 2.5}], names)
    joined = concat_columns([first, second])
    assert type(joined) is Records and joined.rows == [*first.rows, *second.rows]
    assert dict(joined) == {"x": [1, 2.5], "s": ["a", "b"]}
    mixed = concat_columns([first, {"x": [3.0], "s": [None]}])
    assert dict(mixed) == {"x": [1, 3.0], "s": ["a", None]}


async def test_finish_runs_once_per_batch_and_each_request_gets_its_rows() -> None:
    model, calls = Model(), []

    def scores(prediction: Outputs) -> list[float]:
        calls.append(len(prediction["score"]))
        return prediction["score"].tolist()

    def broken(prediction: Outputs) -> list[Any]:
        raise ValueError("broken finish")

    batcher = Batcher(model.predict, BatchPolicy(True, 64, 0.0), lambda r, q: None)
    futures = [
        batcher.enqueue({"x": np.array([1.0, 2.0])}, 2, scores),
        batcher.enqueue({"x": np.array([3.0])}, 1),  # no finish: its Outputs
        batcher.enqueue({"x": np.array([4.0])}, 1, scores),
        batcher.enqueue({"x": np.array([5.0])}, 1, broken),
    ]
    first, plain, last, failed = await asyncio.gather(*futures, return_exceptions=True)
    assert model.calls == [5] and calls == [5]  # one predict, one conversion
    assert first == [2.0, 4.0] and last == [8.0]
    assert isinstance(plain, dict) and plain["score"].tolist() == [6.0]
    assert isinstance(failed, ValueError)
    assert await batcher.enqueue({"x": np.array([1.5])}, 1, scores) == [3.0]  # alone
    batcher.close()
