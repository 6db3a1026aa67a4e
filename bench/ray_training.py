"""``--engine ray`` against the local trainer: bank marketing, same seeds, same epochs.

For each seed, trains the default network on ``bank-additional-full.csv`` (target ``y``,
``duration`` dropped, ``--model network`` so the network is what is compared) locally and on
Ray Train with N workers (one local Ray instance for the whole run, started first and timed
apart), interleaved, each into a temporary MODELRY_HOME. Reports per run the network's test
and validation ROC-AUC, epochs run and best epoch, the fit stage's seconds (from "training the
network" to "evaluating": the network's fit beside the baseline's) and the call's wall time.

Run from the repository root:

    .venv/bin/python bench/ray_training.py                       # seeds 0,1,2, 2 workers
    .venv/bin/python bench/ray_training.py --seeds 0 --workers 2 --out /tmp/ray-train.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from context import BANK, cpu_model, loadavg, train_seed, versions


def run_one(engine: str, workers: int, seed: int, home: Path) -> dict[str, Any]:
    marks: dict[str, float] = {}

    def stage(text: str) -> None:
        marks[text.split(" on ")[0]] = time.perf_counter()

    out, wall = train_seed(
        f"bank-{engine}-s{seed}",
        {"target": "y", "drop": ["duration"]},
        BANK,
        seed,
        home,
        on_stage=stage,
        engine={"name": engine, "workers": workers},
        serve="network",
    )
    fit = marks["evaluating beside the baseline"] - marks["training the network"]
    return {
        "engine": engine,
        "workers": workers if engine == "ray" else 1,
        "seed": seed,
        "test_auc": out.metrics["test"]["roc_auc"],
        "valid_auc": out.metrics["valid"]["roc_auc"],
        "test_log_loss": out.metrics["test"]["log_loss"],
        "epochs_run": out.epochs_run,
        "best_epoch": out.best_epoch,
        "fit_seconds": fit,
        "train_seconds": out.train_seconds,
        "wall_seconds": wall,
    }


def _mean_sd(xs: list[float]) -> str:
    if len(xs) == 1:
        return f"{xs[0]:.4f}"
    return f"{statistics.mean(xs):.4f} ± {statistics.stdev(xs):.4f}"


def table(runs: list[dict[str, Any]], ray_init: float) -> str:
    lines = [
        "| engine | seed | test ROC-AUC | valid ROC-AUC | epochs (best) | fit s "
        "| train_seconds | wall s |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in runs:
        name = r["engine"] if r["engine"] == "local" else f"ray ×{r['workers']}"
        lines.append(
            f"| {name} | {r['seed']} | {r['test_auc']:.4f} | {r['valid_auc']:.4f} | "
            f"{r['epochs_run']} ({r['best_epoch']}) | {r['fit_seconds']:.1f} | "
            f"{r['train_seconds']:.1f} | {r['wall_seconds']:.1f} |"
        )
    for engine in ("local", "ray"):
        mine = [r for r in runs if r["engine"] == engine]
        lines.append(
            f"\n{engine}: test ROC-AUC {_mean_sd([r['test_auc'] for r in mine])}, "
            f"fit {_mean_sd([r['fit_seconds'] for r in mine])} s"
        )
    lines.append(f"\nlocal Ray start (once): {ray_init:.1f} s; CPU {cpu_model()}; load {loadavg()}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    if not BANK.exists():
        sys.exit(f"bank data not found at {BANK}")
    import ray

    t0 = time.perf_counter()
    ray.init(num_cpus=args.workers, include_dashboard=False, log_to_driver=False)
    ray_init = time.perf_counter() - t0
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in [int(s) for s in args.seeds.split(",")]:
            for engine in ("local", "ray"):
                run = run_one(engine, args.workers, seed, Path(tmp) / "home")
                print(json.dumps(run), flush=True)
                runs.append(run)
    ray.shutdown()
    print(table(runs, ray_init))
    if args.out:
        doc = {"runs": runs, "ray_init_seconds": ray_init, "versions": versions()}
        args.out.write_text(json.dumps(doc, indent=2))


if __name__ == "__main__":
    main()
