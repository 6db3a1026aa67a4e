"""Batch scoring throughput: preprocessing + inference in-process, and ``modelry predict``.

In-process: the bank file is streamed once into Arrow-decoded column batches of
``--batch`` rows (dictionary-encoded strings, as ``modelry predict`` reads them), then
``TabularRuntime.predict`` runs over all of them, pinned to one core with one
onnxruntime thread; the best of ``--repeats`` passes is reported as rows/s. End to end:
``modelry predict MODEL FILE -o OUT`` as a user runs it (CSV read and write included).

Usage:
    MODELRY_HOME=/tmp/modelry-bench-home taskset -c 0 .venv/bin/python bench/scoring.py \\
        --model bank [--write-results]   # --write-results: append to bench/history.md
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from context import BANK as CSV
from context import append_results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="bank")
    parser.add_argument("--csv", type=Path, default=CSV)
    parser.add_argument("--batch", type=int, default=4096)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument(
        "--write-results", action="store_true", help="append the table to bench/history.md"
    )
    args = parser.parse_args()

    from modelry.data.sources import iter_batches
    from modelry.registry.store import Registry
    from modelry.serving.tabular import TabularRuntime
    from modelry.settings import Settings

    version = Registry(Settings()).resolve(args.model)
    runtime = TabularRuntime(version.path, name=version.name, version=version.version, threads=1)
    runtime.load()
    numeric = [n for n, k in runtime.input_kinds().items() if k == "number"]
    batches = list(iter_batches(args.csv, args.batch, numeric=numeric))
    rows = sum(len(next(iter(b.values()))) for b in batches)
    best = float("inf")
    for _ in range(args.repeats):
        started = time.perf_counter()
        for batch in batches:
            runtime.predict(batch)
        best = min(best, time.perf_counter() - started)
    inproc = rows / best

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "scored.csv"
        modelry = str(Path(sys.executable).with_name("modelry"))
        command = [modelry, "predict", args.model, str(args.csv), "-o", str(out), "--json"]
        started = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        end_to_end = time.perf_counter() - started

    affinity = sorted(os.sched_getaffinity(0))
    table = (
        "| what | rows | seconds | rows/s |\n|---|---|---|---|\n"
        f"| in-process `TabularRuntime.predict` (preprocessing + ONNX), batches of "
        f"{args.batch}, best of {args.repeats} | {rows:,} | {best:.3f} | {inproc:,.0f} |\n"
        f"| `modelry predict {args.model} bank-additional-full.csv -o scored.csv` (whole "
        f"process: start-up, CSV read, scoring, CSV write) | {rows:,} | {end_to_end:.2f} | "
        f"{rows / end_to_end:,.0f} |\n"
    )
    print(table)
    if args.write_results:
        heading = (
            f"## Batch scoring — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC\n\n"
            f"Command: `MODELRY_HOME=$MODELRY_HOME taskset -c {','.join(map(str, affinity))} "
            f".venv/bin/python bench/scoring.py --model {args.model} --write-results` "
            f"(model {version.ref}; cores {affinity}; load {os.getloadavg()[0]:.2f}).\n\n"
        )
        append_results(heading + table)


if __name__ == "__main__":
    main()
