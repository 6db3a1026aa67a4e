"""The registry of model kinds: which :class:`~modelry.serving.runtime.Runtime` serves a version.

A version's ``manifest.json`` names its kind (``"kind": "tabular"``; versions written
before kinds were named are tabular). The kind's class comes from :data:`BUILTIN`, or
from the ``modelry.kinds`` entry-point group, so a package outside modelry adds a kind
without editing it::

    # pyproject.toml of the package that ships the kind
    [project.entry-points."modelry.kinds"]
    echo = "my_package.echo:EchoRuntime"

:func:`open_runtime` loads a version through its kind and checks that the kind keeps
its own declaration: its specs are well formed, its inputs are columns (or come from
an upstream model), and one example row predicts exactly the declared outputs. A kind
that fails is refused with an :class:`~modelry.errors.ArtifactError` naming the model,
the kind and what is wrong; the server goes on serving the other models.
"""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points
from pathlib import Path

import orjson

from modelry.errors import ArtifactError, InvalidInputError, ModelryError
from modelry.protocol.predictions import check_outputs
from modelry.registry.layout import LINEAR_KIND, MANIFEST_FILE, TABULAR_KIND
from modelry.serving.runtime import Runtime

ENTRY_POINT_GROUP = "modelry.kinds"

BUILTIN: dict[str, str] = {
    TABULAR_KIND: "modelry.serving.tabular:TabularRuntime",
    LINEAR_KIND: "modelry.serving.linear:LinearRuntime",
    "text-encoder": "modelry.serving.text_encoder:TextEncoderRuntime",
    "uplift": "modelry.serving.uplift:UpliftRuntime",
}
"""The kinds modelry ships, as ``module:Class`` (imported on first use)."""


def _import(target: str, kind: str) -> type[Runtime]:
    module_name, _, class_name = target.partition(":")
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError) as exc:
        raise ArtifactError(f"kind {kind!r}: cannot import {target}: {exc}") from exc
    if not (isinstance(cls, type) and issubclass(cls, Runtime)):
        raise ArtifactError(f"kind {kind!r}: {target} is not a modelry Runtime subclass")
    return cls


def kind_names() -> list[str]:
    """Every kind this installation can serve: built in, then from entry points."""
    plugged = [ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)]
    return sorted({*BUILTIN, *plugged})


def runtime_class(kind: str) -> type[Runtime]:
    """The Runtime subclass of ``kind``.

    Raises:
        ArtifactError: no such kind (the message lists the known ones), or its entry
            point does not name a Runtime subclass.
    """
    target = BUILTIN.get(kind)
    if target is None:
        found = [ep for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.name == kind]
        if not found:
            raise ArtifactError(
                f"unknown model kind {kind!r}; this installation serves "
                f"{', '.join(kind_names())} (a plug-in adds kinds through the "
                f"{ENTRY_POINT_GROUP!r} entry-point group)"
            )
        target = found[0].value
    return _import(target, kind)


def manifest_kind(path: Path) -> str:
    """The kind a version directory's manifest names (``tabular`` when it names none).

    Raises:
        ArtifactError: the manifest is missing, unreadable, or its kind is not a string.
    """
    try:
        manifest = orjson.loads((path / MANIFEST_FILE).read_bytes())
    except FileNotFoundError as exc:
        raise ArtifactError(f"model artifact {path} has no {MANIFEST_FILE}") from exc
    except orjson.JSONDecodeError as exc:
        raise ArtifactError(f"{path / MANIFEST_FILE} is not valid JSON: {exc}") from exc
    kind = manifest.get("kind", TABULAR_KIND) if isinstance(manifest, dict) else None
    if not isinstance(kind, str) or not kind:
        raise ArtifactError(f"{path / MANIFEST_FILE}: 'kind' must be a kind's name, got {kind!r}")
    return kind


def open_runtime(path: Path, name: str, version: int) -> Runtime:
    """Load the version at ``path`` through its kind, and check the kind's declaration.

    Raises:
        ArtifactError: unknown kind, a failed load, or outputs that break the declaration.
    """
    kind = manifest_kind(path)
    runtime = runtime_class(kind)(path, name=name, version=version)
    runtime.load()
    check_runtime(runtime)
    runtime.mark_loaded()
    return runtime


def check_runtime(runtime: Runtime) -> None:
    """Refuse a loaded runtime that does not keep its own declaration.

    Its input and output names are unique, its inputs are columns or come from an
    upstream model, and an example row (:meth:`Runtime.example`) predicts exactly the
    declared outputs, one row each.

    Raises:
        ArtifactError: what is wrong, naming the model and its kind.
    """
    where = f"model {runtime.name}:{runtime.version} (kind {runtime.kind!r})"
    try:
        for side, specs in (("inputs", runtime.inputs), ("outputs", runtime.outputs)):
            names = [s.name for s in specs]
            if len(set(names)) != len(names):
                raise ArtifactError(f"{side} {names} repeat a name")
        if not runtime.outputs:
            raise ArtifactError("declares no outputs")
        upstream = runtime.upstream
        columns = {s.name for s in runtime.inputs}
        for column in upstream:
            if column not in columns:
                raise ArtifactError(f"upstream column {column!r} is not one of its inputs")
        runtime.input_kinds()  # every input a client sends is a column
        if not upstream:  # (a composed model's example needs its upstream: checked in use)
            example = runtime.example()
            try:
                outputs = runtime.predict(example)
            except InvalidInputError as exc:
                raise ArtifactError(f"refuses its own example row: {exc.message}") from exc
            check_outputs(outputs, runtime.outputs, 1)
    except ModelryError as exc:
        raise ArtifactError(f"{where}: {exc.message}") from exc
    except Exception as exc:  # a kind's own bug: refuse the model, keep the server
        raise ArtifactError(f"{where}: {type(exc).__name__}: {exc}") from exc
