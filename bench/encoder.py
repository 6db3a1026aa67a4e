"""Text-encoder throughput: the served ONNX path against sentence-transformers (torch).

Texts per second at batch 1 and batch 64 for three sides:

* ``onnx``: the served kind's ``predict`` with its cache off (redaction, the Rust
  tokenizer, onnxruntime with one intra-op thread, pooling and normalisation in the graph);
* ``torch``: ``SentenceTransformer.encode`` on the same packaged weights
  (``torch.set_num_threads(1)``; its default batch size 32, over texts it sorts by length);
* ``cache``: the served ``predict`` on texts it has already embedded (hash look-ups only).

The machine is shared: the sides run interleaved, their order rotating each round, and
each figure is the median over rounds. Pin it to one core to measure one core::

    taskset -c 1 .venv/bin/python bench/encoder.py [--rounds 5] [--texts 64] [--words 8,200]
        [--home DIR]

``--home`` reuses a registry that already holds ``text-encoder`` (else one is made in a
temporary directory by ``modelry encoder add``'s code, ~30 s). The texts are made up,
résumé-like, 8 to 200 words by default (``--words 1,6`` for short ones; the mean
number of word pieces is printed).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("RAYON_NUM_THREADS", "1")  # the tokenizer's pool: one core measured
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from context import command_line, cpu_model, cpu_snapshot, foreign_cpu, loadavg

WORDS = (  # noqa: SIM905  (a list literal of 49 words reads worse)
    "managed team python sql customer service warehouse logistics nurse patient care "
    "projects budget forecasting sales retail shifts weekend driving licence english "
    "french german fluent degree university engineering maintenance electrician welding "
    "marketing campaigns social media accounting payroll reports clients quality safety "
    "training mentoring agile scrum cloud infrastructure kubernetes data analysis"
).split()


def make_texts(n: int, seed: int, words_range: tuple[int, int] = (8, 200)) -> list[str]:
    rng = np.random.default_rng(seed)
    texts = []
    low, high = words_range
    for i in range(n):
        words = rng.choice(WORDS, int(rng.integers(low, high + 1)))
        texts.append(f"Candidate {seed}-{i}: " + " ".join(words) + ".")
    return texts


def timed(run: Callable[[list[str]], object], texts: list[str], batch: int) -> float:
    """Texts per second of ``run`` over ``texts`` in batches of ``batch``."""
    started = time.perf_counter()
    for start in range(0, len(texts), batch):
        run(texts[start : start + batch])
    return len(texts) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--texts", type=int, default=64, help="texts per side per round")
    parser.add_argument("--home", type=Path, help="a registry holding text-encoder")
    parser.add_argument("--words", default="8,200", help="LO,HI: words per text (default 8,200)")
    args = parser.parse_args()
    low, high = (int(w) for w in args.words.split(","))

    import torch

    torch.set_num_threads(1)
    from modelry.cli.encoder import add_encoder
    from modelry.registry.store import Registry
    from modelry.serving.kinds import open_runtime
    from modelry.serving.text_encoder import EmbeddingCache, TextEncoderRuntime
    from modelry.settings import Settings
    from modelry.training.text_encoder import model_dir

    home = args.home or Path(tempfile.mkdtemp(prefix="bench-encoder-"))
    settings = Settings(home=home)
    if args.home is None:
        add_encoder(settings)
    version = Registry(settings).get("text-encoder")
    runtime = open_runtime(version.path, version.name, version.version)
    assert isinstance(runtime, TextEncoderRuntime)

    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()

    reference = SentenceTransformer(str(model_dir()), device="cpu")

    def onnx(texts: list[str]) -> object:
        runtime.cache = EmbeddingCache(0)  # every text through the network
        return runtime.predict({"text": texts})

    def cached(texts: list[str]) -> object:
        return runtime.predict({"text": texts})

    def st(texts: list[str]) -> object:
        with torch.inference_mode():
            return reference.encode(texts, batch_size=32, convert_to_numpy=True)

    warm = make_texts(8, 999)
    for side in (onnx, st):
        side(warm)
    sides: dict[str, Callable[[list[str]], object]] = {"onnx": onnx, "torch": st}
    figures: dict[tuple[str, int], list[float]] = {}
    pieces: list[int] = []
    before, wall = cpu_snapshot(), time.perf_counter()
    for r in range(args.rounds):
        texts = make_texts(args.texts, r, (low, high))  # new each round: nothing cached
        pieces += [len(runtime._tokenizer.encode(t).ids) for t in texts]
        names = list(sides)
        names = names[r % 2 :] + names[: r % 2]
        for batch in (1, 64):
            for name in names:
                figures.setdefault((name, batch), []).append(timed(sides[name], texts, batch))
            runtime.cache = EmbeddingCache(len(texts))
            cached(texts)  # warm: the cache side only looks up
            figures.setdefault(("cache", batch), []).append(timed(cached, texts, batch))
    wall = time.perf_counter() - wall
    print(f"command: {command_line()}")
    cores = sorted(os.sched_getaffinity(0))
    print(f"machine: {os.cpu_count()} CPUs ({cpu_model()}), pinned to {cores}")
    other = foreign_cpu(before, cpu_snapshot(), wall)
    print(f"load average after: {loadavg()}; other processes took {other}")
    print(
        f"{args.rounds} rounds × {args.texts} texts per side; word pieces per text: mean "
        f"{statistics.mean(pieces):.0f}, max {max(pieces)} (cut at 256)\n"
    )
    print("| side | batch 1 (texts/s) | batch 64 (texts/s) |")
    print("|---|---:|---:|")
    for name in ("onnx", "torch", "cache"):
        cells = []
        for batch in (1, 64):
            values = figures[(name, batch)]
            cells.append(
                f"{statistics.median(values):,.1f} ({min(values):,.1f}–{max(values):,.1f})"
            )
        print(f"| {name} | {cells[0]} | {cells[1]} |")
    print("\nmedian over rounds (min–max).")


if __name__ == "__main__":
    main()
