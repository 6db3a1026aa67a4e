# ruff: noqa: E501  (markdown text for history.md reads better unwrapped)
"""The founding document's network, trained by modelry and by Keras, side by side.

Network (both systems): Dense 64 relu → Dense 32 relu → Dense 1 sigmoid, Adam lr 1e-3, binary
cross-entropy, 10 epochs, batch 32, no dropout, no early stopping. Data: bank-additional-full
without ``duration``.

Same split for both: a stratified 80/20 split of the raw rows (sklearn ``train_test_split``,
``random_state=42``, ``stratify=y``; the anchors' split). The train part goes to a temporary CSV.

* modelry: a fresh process (this script with ``--worker``) runs ``train_model`` on the train CSV
  with the config below (valid 10 % / test 5 % of it, for early-stopping bookkeeping only),
  then loads the registered version with ``TabularRuntime`` and scores the held-out 20 %.
  Equivalent CLI: ``modelry train TRAIN.csv --target y --drop duration --valid-fraction 0.1
  --test-fraction 0.05 --hidden 64,32 --activation relu --dropout 0 --optimizer adam --lr 0.001
  --loss bce --epochs 10 --batch-size 32 --no-early-stopping --seed 0``.
* Keras: a fresh process of /tmp/venv-tf/bin/python runs bench/seed_keras.py (the seed's pandas
  preprocessing fitted on the train part, keras.Sequential, ``model.fit(epochs=10, batch_size=32)``).

The two alternate (modelry, keras, modelry, keras, …) for ``--rounds`` rounds, unpinned, on all
cores, and each prints its test ROC-AUC on the same 8,238 held-out rows and its times.

Run from the repository root:

    .venv/bin/python bench/seed_network.py [--rounds 2] [--out /tmp/seed.json] [--write-results]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from context import (
    BANK,
    BENCH,
    append_results,
    command_line,
    cpu_model,
    cpu_snapshot,
    foreign_cpu,
    loadavg,
    versions,
)

KERAS_PY = "/tmp/venv-tf/bin/python"

CONFIG: dict[str, Any] = {
    "name": "seed-network",
    "data": {"target": "y", "drop": ["duration"], "valid_fraction": 0.1, "test_fraction": 0.05},
    "model": {"hidden": [64, 32], "activation": "relu", "dropout": 0, "batch_norm": False},
    "training": {
        "optimizer": "adam",
        "lr": 0.001,
        "loss": "bce",
        "epochs": 10,
        "batch_size": 32,
        "early_stopping": False,
        "seed": 0,
    },
}


def columns_of(frame: Any, names: list[str]) -> dict[str, Any]:
    """Request-like columns: numeric → float64 (NaN missing), everything else → object str."""
    import numpy as np
    import pandas as pd

    out: dict[str, Any] = {}
    for name in names:
        col = frame[name]
        if pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col):
            out[name] = col.to_numpy(dtype=np.float64, na_value=np.nan)
        else:
            values = col.to_numpy(dtype=object)
            missing = pd.isna(values)
            strings = values.astype(str).astype(object)
            strings[missing] = None
            out[name] = strings
    return out


def worker(train_csv: Path, test_csv: Path, home: Path) -> dict[str, Any]:
    t_proc = time.perf_counter()
    import numpy as np
    import pandas as pd
    import torch
    from sklearn.metrics import roc_auc_score

    from modelry.pipeline import train_model
    from modelry.serving.tabular import TabularRuntime
    from modelry.settings import Settings
    from modelry.training.config import TrainConfig

    t_import = time.perf_counter() - t_proc
    config = TrainConfig.from_dict(CONFIG)
    marks: list[tuple[str, float]] = []
    t0 = time.perf_counter()
    out = train_model(
        config,
        train_csv,
        Settings(home=home),
        on_stage=lambda text: marks.append((text, time.perf_counter())),
    )
    end = time.perf_counter()
    wall = end - t0
    # Seconds per pipeline stage (from the pipeline's own stage callbacks); the last one runs
    # to the end of the call (export, verification, registration).
    stages = {
        name: round(((marks[i + 1][1] if i + 1 < len(marks) else end) - start), 3)
        for i, (name, start) in enumerate(marks)
    }

    t0 = time.perf_counter()
    runtime = TabularRuntime(out.artifact, out.name, out.version)
    runtime.load()
    test = pd.read_csv(test_csv, sep=";")
    classes = runtime.schema_classes or []
    if classes[-1:] != ["yes"]:
        raise SystemExit(f"expected the positive class 'yes' last, got classes {classes}")
    y = (test["y"] == "yes").to_numpy()
    scores = runtime.scores(columns_of(test, runtime.input_columns))
    auc = float(roc_auc_score(y, np.asarray(scores)))
    t_score = time.perf_counter() - t0
    return {
        "auc": auc,
        "train_seconds": out.train_seconds,
        "call_seconds": wall,
        "score_seconds": t_score,
        "import_seconds": t_import,
        "process_seconds": time.perf_counter() - t_proc,
        "epochs_run": out.epochs_run,
        "stages": stages,
        "internal_test_auc": out.metrics["test"].get("roc_auc"),
        "baseline_internal_test_auc": out.baseline["test"].get("roc_auc"),
        "n_test": len(y),
        "torch_threads": torch.get_num_threads(),
        "cpu_affinity": sorted(os.sched_getaffinity(0)),
    }


# ---------------------------------------------------------------- orchestration


def run_json(cmd: list[str], env: dict[str, str] | None = None) -> tuple[dict[str, Any], float]:
    c0 = cpu_snapshot()
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t0
    other = foreign_cpu(c0, cpu_snapshot(), wall)
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout + proc.stderr)
        raise SystemExit(f"failed ({proc.returncode}): {' '.join(cmd)}")
    last = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")][-1]
    res = json.loads(last)
    res["foreign_cpu"] = other
    return res, wall


def split(workdir: Path, seed: int) -> tuple[Path, Path, dict[str, Any]]:
    import pandas as pd
    from sklearn.model_selection import train_test_split

    df = pd.read_csv(BANK, sep=";")
    train, test = train_test_split(df, test_size=0.2, random_state=seed, stratify=df["y"])
    train_csv, test_csv = workdir / "bank-train.csv", workdir / "bank-test.csv"
    train.to_csv(train_csv, sep=";", index=False)
    test.to_csv(test_csv, sep=";", index=False)
    info = {
        "rows": len(df),
        "train": len(train),
        "test": len(test),
        "test_positive_rate": float((test["y"] == "yes").mean()),
    }
    return train_csv, test_csv, info


def med(xs: list[float]) -> float:
    return statistics.median(xs)


def report(runs: list[dict[str, Any]]) -> tuple[str, list[str]]:
    m = [r for r in runs if r["system"] == "modelry"]
    k = [r for r in runs if r["system"] == "keras"]
    lines = [
        "| round | system | test ROC-AUC (same 20 % rows) | training loop s | fit s | whole call s | process wall s | other processes' CPU |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in runs:
        lines.append(
            f"| {r['round']} | {r['system']} | {r['auc']:.4f} | {r['loop_s']:.1f} | {r['fit_s']:.1f} | "
            f"{r['call_s']:.1f} | {r['process_s']:.1f} | {r['raw']['foreign_cpu']} |"
        )
    lines.append(
        f"| median | modelry | {med([r['auc'] for r in m]):.4f} | {med([r['loop_s'] for r in m]):.1f} | "
        f"{med([r['fit_s'] for r in m]):.1f} | "
        f"{med([r['call_s'] for r in m]):.1f} | {med([r['process_s'] for r in m]):.1f} | |"
    )
    lines.append(
        f"| median | keras | {med([r['auc'] for r in k]):.4f} | {med([r['loop_s'] for r in k]):.1f} | "
        f"{med([r['fit_s'] for r in k]):.1f} | "
        f"{med([r['call_s'] for r in k]):.1f} | {med([r['process_s'] for r in k]):.1f} | |"
    )
    loop_ratio = med([r["loop_s"] for r in k]) / med([r["loop_s"] for r in m])
    fit_ratio = med([r["fit_s"] for r in k]) / med([r["fit_s"] for r in m])
    call_ratio = med([r["call_s"] for r in k]) / med([r["call_s"] for r in m])
    proc_ratio = med([r["process_s"] for r in k]) / med([r["process_s"] for r in m])
    d_auc = med([r["auc"] for r in m]) - med([r["auc"] for r in k])
    # Per round, each modelry run against the keras run right after it.
    per_round = [kr["fit_s"] / mr["fit_s"] for mr, kr in zip(m, k, strict=False)]
    loop_rounds = [kr["loop_s"] / mr["loop_s"] for mr, kr in zip(m, k, strict=False)]
    notes = [
        f"- keras_time / modelry_time, training like for like (keras `model.fit` vs modelry's "
        f"training loop, the pipeline's 'training the network' stage: the same 10 epochs of "
        f"batch 32): **{loop_ratio:.2f}×** (per round: {', '.join(f'{x:.2f}×' for x in loop_rounds)})",
        f"- keras_time / modelry_time, keras `model.fit` vs modelry's whole pipeline `train_seconds` "
        f"(which adds reading, schema inference, the logistic baseline, evaluation, plots, "
        f"permutation importance, ONNX export and the served-runtime check): "
        f"**{fit_ratio:.2f}×** (per round: {', '.join(f'{x:.2f}×' for x in per_round)})",
        f"- keras_time / modelry_time, whole call (keras read→preprocess→fit→predict→AUC vs modelry "
        f"`train_model` call): {call_ratio:.2f}×; whole process incl. imports and scoring: "
        f"{proc_ratio:.2f}×",
        f"- test ROC-AUC, modelry − keras (medians): {d_auc:+.4f}",
        "- goal (modelry >= 2× faster at equal or better AUC): "
        + ("met" if loop_ratio >= 2 and d_auc >= -0.002 else "NOT met")
        + " on the like-for-like training time (AUC tolerance 0.002)",
    ]
    return "\n".join(lines), notes


def main() -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--split-seed", type=int, default=42)
    p.add_argument("--keras-python", default=KERAS_PY)
    p.add_argument("--out", type=Path, default=None, help="write all runs as JSON here")
    p.add_argument("--write-results", action="store_true", help="append to bench/history.md")
    p.add_argument("--worker", nargs=3, metavar=("TRAIN", "TEST", "HOME"), help=argparse.SUPPRESS)
    args = p.parse_args()

    if args.worker:
        train_csv, test_csv, home = (Path(a) for a in args.worker)
        print(json.dumps(worker(train_csv, test_csv, home)))
        return 0

    started = dt.datetime.now().astimezone().isoformat(timespec="seconds")
    load_before = loadavg()
    runs: list[dict[str, Any]] = []
    loads: list[str] = []
    with tempfile.TemporaryDirectory(prefix="modelry-seed-bench-") as tmp:
        work = Path(tmp)
        train_csv, test_csv, split_info = split(work, args.split_seed)
        for rnd in range(1, args.rounds + 1):
            home = work / f"home-{rnd}"
            res, wall = run_json(
                [sys.executable, __file__, "--worker", str(train_csv), str(test_csv), str(home)]
            )
            runs.append(
                {
                    "round": rnd,
                    "system": "modelry",
                    "auc": res["auc"],
                    "loop_s": res["stages"]["training the network"],
                    "fit_s": res["train_seconds"],
                    "call_s": res["call_seconds"],
                    "process_s": wall,
                    "raw": res,
                }
            )
            loads.append(loadavg())
            print(
                f"[round {rnd}] modelry {json.dumps(res)} wall {wall:.1f}s load {loads[-1]}",
                file=sys.stderr,
                flush=True,
            )
            res, wall = run_json(
                [
                    args.keras_python,
                    str(BENCH / "seed_keras.py"),
                    "--train",
                    str(train_csv),
                    "--test",
                    str(test_csv),
                ]
            )
            runs.append(
                {
                    "round": rnd,
                    "system": "keras",
                    "auc": res["auc"],
                    "loop_s": res["fit_seconds"],
                    "fit_s": res["fit_seconds"],
                    "call_s": res["total_seconds"],
                    "process_s": wall,
                    "raw": res,
                }
            )
            loads.append(loadavg())
            print(
                f"[round {rnd}] keras {json.dumps(res)} wall {wall:.1f}s load {loads[-1]}",
                file=sys.stderr,
                flush=True,
            )
    load_after = loadavg()

    md, notes = report(runs)
    print(md)
    print()
    print("\n".join(notes))

    keras_raw = next(r["raw"] for r in runs if r["system"] == "keras")
    modelry_raw = next(r["raw"] for r in runs if r["system"] == "modelry")
    info = {
        "date": started,
        "command": command_line(),
        "nproc": os.cpu_count(),
        "cpu": cpu_model(),
        "platform": platform.platform(),
        "loadavg_before": load_before,
        "loadavg_after_each_run": loads,
        "loadavg_after": load_after,
        "split": split_info,
        "config": CONFIG,
        "versions": {
            **versions(),
            "tensorflow (keras side)": keras_raw["tensorflow"],
            "keras": keras_raw["keras"],
        },
    }
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"machine": info, "runs": runs}, indent=1, default=str))
    if args.write_results:
        v = info["versions"]
        section = "\n".join(
            [
                f"## Training: the founding document's network, modelry vs Keras "
                f"(bench/seed_network.py, {started[:10]})",
                "",
                f"Command (repo root): `{info['command']}`",
                "",
                f"- date {started}; machine: {info['nproc']} CPUs ({info['cpu']}), "
                f"{info['platform']}; both systems unpinned (affinity "
                f"{modelry_raw['cpu_affinity']}), torch threads {modelry_raw['torch_threads']}, "
                f"TF intra/inter-op threads {keras_raw['threads']['intra_op']}/"
                f"{keras_raw['threads']['inter_op']} (0 = TF default: all cores)",
                f"- load average (1/5/15 min) before: {load_before}; after each run: "
                f"{'; '.join(loads)}",
                "- versions: " + ", ".join(f"{k} {val}" for k, val in v.items()),
                f"- split: stratified 80/20 of the {split_info['rows']} raw rows, random_state "
                f"{args.split_seed} → {split_info['train']} train / {split_info['test']} test "
                f"({split_info['test_positive_rate']:.1%} positive); both score the same test rows",
                "- network: Dense 64 relu → 32 relu → 1 sigmoid, Adam 1e-3, BCE, 10 epochs, batch "
                "32. modelry config: `" + json.dumps(CONFIG) + "` (modelry trains on 85 % of the "
                "train part, keeps 10 % for validation and 5 % as its own test; Keras fits all of it)",
                "- *fit s*: Keras `model.fit` only; modelry `TrainOutcome.train_seconds` (read, "
                "infer, clean, split, preprocessing, training, logistic baseline, plots, ONNX "
                "export). *whole call s*: Keras read CSVs → preprocess → fit → predict → AUC (TF "
                "import excluded); modelry the whole `train_model` call (adds artifact write, "
                "served-runtime check, registration). *process wall s*: each fresh process as the "
                "parent timed it: imports + the call + scoring the 20 % test rows",
                "- modelry seconds per pipeline stage (round 1): "
                + ", ".join(f"{k} {v:.1f}" for k, v in modelry_raw["stages"].items()),
                "- *other processes' CPU*: busy CPU of the whole machine (/proc/stat) minus the "
                "measured process's, over its run, in cores on average (the machine is shared; "
                "0 = quiet)",
                f"- import: TF+Keras {keras_raw['import_seconds']:.1f} s; torch+modelry "
                f"{modelry_raw['import_seconds']:.1f} s",
                "",
                md,
                "",
                *notes,
                "",
            ]
        )
        append_results(section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
