"""The model pool: routes, lazy loading, hot swap and retirement, with stand-in models."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest

from modelry.errors import NotFoundError
from modelry.serving.kinds import check_runtime
from modelry.serving.pool import ModelPool
from modelry.serving.runtime import Outputs, Runtime, TensorSpec

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@dataclass
class Entry:
    name: str
    version: int
    path: Path = Path("/nowhere")


class Source:
    """A registry stand-in: versions per name, aliases, a revision counter."""

    def __init__(self) -> None:
        self.versions = {"m": [1, 2]}
        self.aliases: dict[str, dict[str, int]] = {"m": {}}
        self.rev = 0

    def get(self, name: str, ref: str | int | None = None) -> Entry:
        if name not in self.versions:
            raise NotFoundError(f"no model named {name!r}")
        if ref is None:
            ref = self.aliases[name].get("production", "latest")
        if ref == "latest":
            return Entry(name, self.versions[name][-1])
        if isinstance(ref, int) or ref.isdigit():
            if int(ref) not in self.versions[name]:
                raise NotFoundError(f"no version {ref}")
            return Entry(name, int(ref))
        if ref not in self.aliases[name]:
            raise NotFoundError(f"no alias {ref}")
        return Entry(name, self.aliases[name][ref])

    def revision(self) -> int:
        return self.rev

    def list_models(self) -> list[Entry]:
        return [Entry(name, versions[-1]) for name, versions in self.versions.items()]

    def promote(self, version: int) -> None:
        self.aliases["m"]["production"] = version
        self.rev += 1


class Versioned(Runtime):
    """A small kind: predicts its own version number for every row."""

    kind = "versioned"
    inputs = (TensorSpec("x", "FP64"),)
    outputs = (TensorSpec("v", "FP64"),)
    loads: ClassVar[list[tuple[str, int]]] = []

    def load(self) -> None:
        Versioned.loads.append((self.name, self.version))
        self.unloaded = False

    def unload(self) -> None:
        super().unload()
        self.unloaded = True

    def predict(self, columns: Mapping[str, Any]) -> Outputs:
        assert not self.unloaded, "predict on an unloaded runtime"
        return {"v": np.full(len(columns["x"]), float(self.version))}


def versioned(entry: Entry) -> Versioned:
    runtime = Versioned(entry.path, entry.name, entry.version)
    runtime.load()
    check_runtime(runtime)
    runtime.mark_loaded()
    return runtime


def pool(source: Source, **options: Any) -> ModelPool:
    return ModelPool(source, factory=versioned, **options)  # type: ignore[arg-type]


async def test_routes_resolve_once_and_load_once() -> None:
    Versioned.loads = []
    p = pool(Source())
    await p.start(eager=True)
    assert p.lookup("m", None) is not None and p.lookup("m", None).version == 2  # type: ignore[union-attr]
    same = await asyncio.gather(*(p.get("m", "2") for _ in range(5)))
    assert all(s is same[0] for s in same) and Versioned.loads == [("m", 2)]
    assert set(same[0].spec._readers) == {False, True}  # V2 readers built at load
    assert (await p.get("m", "1")).version == 1
    with pytest.raises(NotFoundError):
        await p.get("m", "9")
    with pytest.raises(NotFoundError, match="no model named"):
        await p.get("bad name!", None)


async def test_hot_swap_loads_first_and_retires_after_in_flight_requests() -> None:
    source = Source()
    source.promote(1)
    p = pool(source)
    await p.start(eager=True)
    old = p.lookup("m", None)
    assert old is not None and old.version == 1
    old.inflight += 1  # a request is predicting on version 1
    source.promote(2)
    assert await p.refresh()
    new = p.lookup("m", None)
    assert new is not None and new.version == 2 and new.runtime.ready
    assert old.retired and old.runtime.ready  # still serving its in-flight request
    out = await old.predict({"x": np.ones(1)}, 1)
    assert out["v"].tolist() == [1]
    old.inflight -= 1
    await old.predict({"x": np.ones(1)}, 1)  # the last one out unloads it
    assert not old.runtime.ready
    assert not await p.refresh()  # nothing changed since


async def test_pinned_versions_survive_a_swap() -> None:
    source = Source()
    p = pool(source)
    await p.start(eager=True)
    pinned = await p.get("m", "2")
    source.promote(1)
    await p.refresh()
    assert p.lookup("m", None).version == 1  # type: ignore[union-attr]
    assert p.lookup("m", "2") is pinned and not pinned.retired


async def test_unload_and_load() -> None:
    p = pool(Source(), names=["m"])
    await p.start(eager=True)
    served = p.lookup("m", None)
    assert await p.unload("m") == [2]
    assert served is not None and not served.runtime.ready
    with pytest.raises(NotFoundError, match="unloaded"):
        await p.get("m", None)
    assert (await p.load("m")).version == 2
    with pytest.raises(NotFoundError, match="not served here"):
        await p.get("other", None)
