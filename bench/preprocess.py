"""Micro-benchmark of the per-request preprocessing (and predict) of the bank model.

    MODELRY_HOME=/tmp/pp-home modelry train \
        /work/shared/data/bank_marketing_additional/bank-additional-full.csv \
        --target y --drop duration --name bank
    taskset -c 0 python bench/preprocess.py /tmp/pp-home/models/bank/1 \
        /work/shared/data/bank_marketing_additional/bank-additional-full.csv

Rows are handed over as the V1 codec hands a request over
(``protocol.codecs.records_to_columns``): up to ``rows.MAX_ROWS`` clean records stay
records, which the row path reads; more rows become float64 and object arrays.
Prints the median µs per call of ``Preprocessor.transform`` for 1 to 4096 rows, of the
same rows through the vectorised path (``--vectorised``), and of ``TabularRuntime.predict``
for 1 row.
"""

from __future__ import annotations

import argparse
import csv
import statistics
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from modelry.features import preprocessor as preprocessor_module
from modelry.protocol.codecs import InputSpec, records_to_columns
from modelry.serving.tabular import TabularRuntime

DROP = {"y", "duration"}


def _value(text: str) -> float | str:
    try:
        return float(text)
    except ValueError:
        return text


def read_rows(path: Path, count: int) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as handle:
        first = handle.readline()
        handle.seek(0)
        reader = csv.DictReader(handle, delimiter=";" if ";" in first else ",")
        rows = []
        for record in reader:
            rows.append({k: _value(v) for k, v in record.items() if k not in DROP})
            if len(rows) == count:
                break
    return rows


def columns_of(spec: InputSpec, rows: list[dict[str, Any]]) -> Any:
    return records_to_columns(rows, spec)[0]


def per_call_us(fn: Callable[[], object], seconds: float = 1.0, repeats: int = 31) -> float:
    """Median µs per call over ``repeats`` timed batches (each ~``seconds / repeats``)."""
    return statistics.median(samples_us(fn, seconds, repeats))


def samples_us(fn: Callable[[], object], seconds: float = 1.0, repeats: int = 31) -> list[float]:
    fn()
    start = time.perf_counter()
    calls = 0
    while time.perf_counter() - start < 0.05:
        fn()
        calls += 1
    batch = max(1, int(calls * seconds / repeats / 0.05))
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(batch):
            fn()
        samples.append((time.perf_counter() - t0) / batch * 1e6)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("model", type=Path, help="a trained bank artifact, e.g. MODELS/bank/1")
    parser.add_argument("csv", type=Path)
    parser.add_argument("--seconds", type=float, default=1.0, help="timing per case")
    parser.add_argument(
        "--vectorised", action="store_true", help="no row path: every batch vectorised"
    )
    args = parser.parse_args()
    if args.vectorised:
        preprocessor_module.MAX_ROWS = 0
    runtime = TabularRuntime(args.model, name="bank", version=1)
    runtime.load()
    pre = runtime.preprocessor
    assert pre is not None
    spec = InputSpec(runtime.input_kinds())
    rows = read_rows(args.csv, 4096)
    one = columns_of(spec, rows[:1])
    encoded = pre.transform(one)
    cases: list[tuple[str, Callable[[], object]]] = []
    for n in (1, 4, 8, 16, 17, 32, 4096):  # the row path takes up to rows.MAX_ROWS (16)
        columns = columns_of(spec, rows[:n])
        cases.append((f"transform {n:>4} rows", partial(pre.transform, columns)))
    cases.append(("predict      1 row ", lambda: runtime.predict(one)))
    cases.append(("onnx only    1 row ", lambda: runtime.raw_output(encoded.dense, encoded.codes)))
    print(f"{'':22}{'median':>9} {'min':>9}  (µs per call)")
    for label, fn in cases:
        samples = samples_us(fn, args.seconds)
        print(f"{label:22}{statistics.median(samples):9.2f} {min(samples):9.2f}")


if __name__ == "__main__":
    main()
