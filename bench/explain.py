# ruff: noqa: E501  (markdown text for history.md reads better unwrapped)
"""Explanation benchmark: latency of one local explanation on one core, bank model.

Trains the default bank model (``bank-additional-full.csv``, target ``y``) through
``train_model`` into a temporary MODELRY_HOME (or reuses ``--model NAME`` from the
current ``MODELRY_HOME``), then pins the process to one core (``sched_setaffinity``,
``torch.set_num_threads(1)``, onnxruntime at one thread) and times
``Explainer.explain`` on single rows drawn at random from the file: preprocessing,
the embedding look-up, Integrated Gradients (Captum, Gauss–Legendre, 64 steps, more
for a row whose completeness gap exceeds 1e-3), grouping per column and the reason
codes. ``runtime.predict`` on the same rows is timed beside it. Goal: p95 < 50 ms.
Before pinning, it also times what training adds for ``importance.json`` (permutation
importance on the test split, capped at 5,000 rows).

Run from the repository root:

    .venv/bin/python bench/explain.py                      # prints a markdown table
    .venv/bin/python bench/explain.py --rows 500 --write-results
    MODELRY_HOME=~/.modelry .venv/bin/python bench/explain.py --model bank   # reuse a model
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from training import BANK, append_results, command_line, cpu_model, loadavg, versions

GOAL_MS = 50.0


def train_bank(home: Path) -> Path:
    from modelry.pipeline import train_model
    from modelry.settings import Settings
    from modelry.training.config import TrainConfig

    config = TrainConfig.from_dict({"name": "bank", "data": {"target": "y"}})
    return train_model(config, BANK, Settings(home=home)).artifact


def registered(name: str) -> Path:
    from modelry.registry.store import Registry
    from modelry.settings import Settings

    return Registry(Settings()).resolve(name).path


def importance_seconds(artifact: Path) -> float:
    """What training spends on ``importance_files`` for the bank test split (warm)."""
    from modelry.explain.importance import importance_files
    from modelry.pipeline import prepare
    from modelry.serving.tabular import TabularRuntime
    from modelry.training.config import TrainConfig

    runtime = TabularRuntime(artifact, name="bank", version=1)
    runtime.load()
    assert runtime.artifact is not None and runtime.preprocessor is not None
    prepared = prepare(TrainConfig.from_dict({"data": {"target": "y"}}), BANK)
    columns, y, split = prepared.columns, prepared.y, prepared.split
    test = {name: values[split.test] for name, values in columns.items()}
    args = (
        runtime.artifact.read_bytes("model.onnx"),
        runtime.preprocessor,
        runtime.task,
        test,
        y[split.test],
    )
    importance_files(*args)  # the pipeline has imported matplotlib by then
    started = time.perf_counter()
    importance_files(*args)
    return time.perf_counter() - started


def single_rows(columns: dict[str, Any], rows: np.ndarray) -> list[dict[str, Any]]:
    from modelry.data.columns import Coded

    def one(values: Any, i: int) -> Any:
        if isinstance(values, Coded):
            return Coded(codes=values.codes[i : i + 1], categories=values.categories)
        return values[i : i + 1]

    return [{k: one(v, int(i)) for k, v in columns.items()} for i in rows]


def percentiles(ms: list[float]) -> dict[str, float]:
    return {
        "p50": float(np.percentile(ms, 50)),
        "p95": float(np.percentile(ms, 95)),
        "p99": float(np.percentile(ms, 99)),
        "mean": statistics.fmean(ms),
    }


def measure(artifact: Path, n_rows: int, core: int, seed: int) -> dict[str, Any]:
    import torch

    from modelry.data.sources import iter_batches
    from modelry.explain import Explainer

    os.sched_setaffinity(0, {core})
    torch.set_num_threads(1)
    explainer = Explainer.from_artifact(artifact)
    runtime = explainer.runtime
    numeric = [n for n, k in runtime.input_kinds().items() if k == "number"]
    columns = next(iter_batches(BANK, 1 << 20, numeric=numeric))
    total = len(next(iter(columns.values())))
    picked = np.random.default_rng(seed).choice(total, n_rows + 20, replace=False)
    rows = single_rows(columns, picked)
    for row in rows[:20]:  # warm-up: first calls allocate and build Captum's helpers
        explainer.explain(row)
    explain_ms, predict_ms, gaps = [], [], []
    for row in rows[20:]:
        started = time.perf_counter()
        (explanation,) = explainer.explain(row)
        explain_ms.append((time.perf_counter() - started) * 1e3)
        gaps.append(abs(explanation.delta))
        started = time.perf_counter()
        runtime.predict(row)
        predict_ms.append((time.perf_counter() - started) * 1e3)
    return {
        "explain": percentiles(explain_ms),
        "predict": percentiles(predict_ms),
        "max_gap": max(gaps),
        "rows": n_rows,
        "core": core,
    }


def captum_version() -> str:
    import captum

    return str(captum.__version__)


def table(result: dict[str, Any]) -> str:
    lines = [
        "| call (one row, one core) | p50 ms | p95 ms | p99 ms | mean ms |",
        "|---|---:|---:|---:|---:|",
    ]
    for label, key in (("`Explainer.explain`", "explain"), ("`runtime.predict`", "predict")):
        p = result[key]
        lines.append(
            f"| {label} | {p['p50']:.2f} | {p['p95']:.2f} | {p['p99']:.2f} | {p['mean']:.2f} |"
        )
    return "\n".join(lines)


def main() -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--rows", type=int, default=300, help="single rows timed [300]")
    p.add_argument("--core", type=int, default=0, help="the CPU core to pin to [0]")
    p.add_argument("--seed", type=int, default=0, help="which rows [0]")
    p.add_argument(
        "--model", default=None, help="reuse this model of MODELRY_HOME instead of training"
    )
    p.add_argument(
        "--write-results", action="store_true", help="append the table to bench/history.md"
    )
    args = p.parse_args()
    if not BANK.exists():
        print(f"bank data not found at {BANK} (set MODELRY_BENCH_DATA)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="modelry-bench-explain-") as tmp:
        if args.model:
            artifact = registered(args.model)
        else:
            started = time.perf_counter()
            artifact = train_bank(Path(tmp))
            print(
                f"trained the bank model in {time.perf_counter() - started:.1f} s", file=sys.stderr
            )
        importance_s = importance_seconds(artifact)
        result = measure(artifact, args.rows, args.core, args.seed)
    verdict = "met" if result["explain"]["p95"] < GOAL_MS else "NOT met"
    body = (
        f"{table(result)}\n\n{result['rows']} random rows of bank-additional-full.csv, default bank "
        f"model, after 20 warm-up rows; largest completeness gap {result['max_gap']:.1e}. "
        f"Goal p95 < {GOAL_MS:.0f} ms: {verdict}. Permutation importance as training computes it "
        f"(5,000 test rows, 20 columns × 5 shuffles, unpinned): {importance_s:.2f} s.\n"
    )
    print(body)
    if args.write_results:
        v = versions()
        section = (
            f"## Explanations: one row on one core ({dt.date.today().isoformat()})\n\n"
            f"`{command_line()}`; machine: {os.cpu_count()} CPUs, {cpu_model()}, load {loadavg()}; "
            f"pinned to core {result['core']}, torch threads 1; "
            + ", ".join(f"{k} {val}" for k, val in v.items())
            + f", captum {captum_version()}"
            + "\n\n"
            + body
        )
        append_results(section)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
