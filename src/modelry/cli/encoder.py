"""``modelry encoder add``: register the shared text encoder as a model of kind ``text-encoder``.

The packaged all-MiniLM-L6-v2 (the ``text`` extra) is exported to ONNX, staged as a
version directory, loaded through the served kind itself, and compared with
sentence-transformers on varied texts (cosine ≥ :data:`MIN_COSINE` on every one) before
it is registered. Serve it with ``modelry serve`` like any model; task heads take its
``embedding`` through composition.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated

import typer

from modelry.cli import console
from modelry.settings import Settings

if TYPE_CHECKING:
    from modelry.registry.records import ModelVersion

MIN_COSINE = 0.999
"""The least cosine similarity to the original's embedding a registered encoder reaches."""

encoder_app = typer.Typer(
    help="The shared text encoder (all-MiniLM-L6-v2), served as a model.", no_args_is_help=True
)


@dataclass(frozen=True)
class AddedEncoder:
    """A registered encoder version and how closely it reproduces the original."""

    version: ModelVersion
    min_cosine: float


def add_encoder(
    settings: Settings, name: str = "text-encoder", cache_size: int = 4096
) -> AddedEncoder:
    """Export, check and register the encoder as the next version of ``name``.

    Raises:
        MissingExtraError: the ``text`` extra is not installed.
        ArtifactError: the export's embeddings differ from the original's.
    """
    from modelry.errors import ArtifactError
    from modelry.registry.layout import MODEL_FILE
    from modelry.registry.store import Registry
    from modelry.serving.kinds import check_runtime
    from modelry.serving.text_encoder import (
        ENCODER_FILE,
        TEXT_ENCODER_KIND,
        TOKENIZER_FILE,
        EncoderSpec,
        TextEncoderRuntime,
    )
    from modelry.training.text_encoder import (
        MODEL_NAME,
        PACKAGE,
        PARITY_TEXTS,
        cosines,
        export_encoder,
        reference_embeddings,
    )

    exported = export_encoder()
    spec = EncoderSpec(
        model=MODEL_NAME,
        package=PACKAGE,
        package_version=exported.package_version,
        dimension=exported.dimension,
        max_tokens=exported.max_tokens,
        cache_size=cache_size,
    )
    registry = Registry(settings)
    with registry.new_artifact() as writer:
        writer.write_bytes(MODEL_FILE, exported.onnx)
        writer.write_text(TOKENIZER_FILE, exported.tokenizer)
        writer.write_json(ENCODER_FILE, spec.model_dump())
        staged = writer.finish({"name": name, "kind": TEXT_ENCODER_KIND})
        # The served path itself (tokenizer, redaction, ONNX), not a copy of it.
        runtime = TextEncoderRuntime(staged, name, 0)
        runtime.load()
        check_runtime(runtime)
        served = runtime.predict({"text": list(PARITY_TEXTS)})["embedding"]
        similarity = cosines(served, reference_embeddings(PARITY_TEXTS))
        worst = float(similarity.min())
        if not worst >= MIN_COSINE:
            text = PARITY_TEXTS[int(similarity.argmin())]
            raise ArtifactError(
                f"the exported encoder's embedding of {text[:40]!r} has cosine {worst:.6f} "
                f"to the original's (at least {MIN_COSINE} expected)"
            )
        runtime.unload()
        version = registry.register(
            name,
            staged,
            task="embedding",
            metrics={"parity": {"min_cosine": worst, "texts": len(PARITY_TEXTS)}},
            lineage={"model": MODEL_NAME, "package": f"{PACKAGE}=={exported.package_version}"},
            description=f"{MODEL_NAME}: {spec.dimension}-d sentence embeddings",
        )
    return AddedEncoder(version, worst)


@encoder_app.command("add")
def add(
    name: Annotated[str, typer.Option(help="The model's name.")] = "text-encoder",
    cache_size: Annotated[
        int, typer.Option(min=0, help="Embeddings the served model caches (0: none).")
    ] = 4096,
    json_output: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Export all-MiniLM-L6-v2 to ONNX, check it against the original, register it."""
    added = add_encoder(Settings(), name, cache_size)
    version = added.version
    if json_output:
        console.print_json(
            {
                "name": version.name,
                "version": version.version,
                "kind": "text-encoder",
                "path": str(version.path),
                "min_cosine": added.min_cosine,
            }
        )
        return
    console.out.print(
        f"registered {version.name}:{version.version} (text-encoder; cosine to the original "
        f"≥ {added.min_cosine:.6f})\npath {version.path}",
        highlight=False,
    )
