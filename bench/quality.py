# ruff: noqa: E501  (markdown text reads better unwrapped)
"""Model quality: modelry's DEFAULT network beside standard references, on modelry's own split.

For each table and seed, modelry trains through ``modelry.pipeline.train_model`` with no tuning
options (its test metric and ``train_seconds``). The references then see exactly the same rows:
the split is recomputed with ``modelry.data.split.split_rows`` from the pipeline's own inputs
(same fractions, same seed, same cleaned rows and encoded target; checked equal to the
pipeline's), each reference is fitted on the train + valid rows (modelry trains on train and
stops early on valid) and scored on the same test rows, from the same feature columns modelry
inferred (identifiers, sensitive and dropped columns excluded):

* ``linear``: logistic regression (binary) or ridge (regression) after median imputation +
  standardisation of numbers and one-hot encoding of the other columns;
* ``hgb``: scikit-learn's ``HistGradientBoosting*`` with default settings, categorical columns
  as native categories;
* ``realmlp``: RealMLP-TD from ``pytabkit`` (Holzmüller et al. 2024) with its tuned defaults,
  when ``pytabkit`` is importable (it is not a modelry dependency; ``--no-realmlp`` skips it).

Tables: bank marketing (``duration`` dropped), HR job change (``gender`` sensitive), campus
placement (``salary`` a leak and ``sl_no`` dropped, ``gender`` sensitive), and scikit-learn's
bundled breast cancer (569 rows, binary), diabetes (442 rows, regression) and digits (1,797
rows, 10 classes), written to a temporary CSV (nothing is downloaded).
Metric: test ROC-AUC (binary) or accuracy (multiclass), higher is better; test RMSE
(regression), lower is better.

Run from the repository root (~15-30 min on 2 shared cores with RealMLP):

    .venv/bin/python bench/quality.py --out /tmp/quality.json --md /tmp/quality.md
    .venv/bin/python bench/quality.py --only campus,cancer --seeds 0 --no-realmlp   # quick
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from context import SHARED_DATA, command_line, cpu_model, loadavg, train_seed, versions

# ---------------------------------------------------------------- the tables


def tables(tmp: Path) -> list[dict[str, Any]]:
    return [
        {
            "key": "bank",
            "label": "Bank marketing (41,188 rows, `duration` dropped)",
            "path": SHARED_DATA / "bank_marketing_additional" / "bank-additional-full.csv",
            "data": {"target": "y", "drop": ["duration"]},
        },
        {
            "key": "hr",
            "label": "HR job change (19,158 rows, `gender` sensitive)",
            "path": SHARED_DATA / "hr_job_change" / "aug_train.csv",
            "data": {"target": "target", "sensitive": ["gender"]},
        },
        {
            "key": "campus",
            "label": "Campus placement (215 rows; `salary`, `sl_no` dropped; `gender` sensitive)",
            "path": SHARED_DATA / "campus_placement" / "Placement_Data_Full_Class.csv",
            "data": {"target": "status", "drop": ["salary", "sl_no"], "sensitive": ["gender"]},
        },
        {
            "key": "cancer",
            "label": "Breast cancer, sklearn (569 rows)",
            "sklearn": "load_breast_cancer",
            "path": tmp / "breast_cancer.csv",
            "data": {"target": "target"},
        },
        {
            "key": "diabetes",
            "label": "Diabetes, sklearn (442 rows, regression)",
            "sklearn": "load_diabetes",
            "path": tmp / "diabetes.csv",
            "data": {"target": "target", "task": "regression"},
        },
        {
            "key": "digits",
            "label": "Digits, sklearn (1,797 rows, 64 pixels, 10 classes)",
            "sklearn": "load_digits",
            "path": tmp / "digits.csv",
            "data": {"target": "target", "task": "multiclass"},
        },
    ]


def materialise(table: dict[str, Any]) -> None:
    """Write a table bundled with scikit-learn to CSV (``load_*`` read files in the wheel;
    California housing is left out: ``fetch_*`` would download it)."""
    if "sklearn" not in table or table["path"].exists():
        return
    from sklearn import datasets

    getattr(datasets, table["sklearn"])(as_frame=True).frame.to_csv(table["path"], index=False)


# ---------------------------------------------------------------- modelry and the split


def metric_for(task: str) -> str:
    return {"binary": "roc_auc", "multiclass": "accuracy", "regression": "rmse"}[task]


def run_modelry(table: dict[str, Any], seed: int, home: Path) -> dict[str, Any]:
    out, wall = train_seed(f"{table['key']}-s{seed}", table["data"], table["path"], seed, home)
    test = out.metrics["test"]
    metric = metric_for(out.task.value)
    return {
        "method": "modelry",
        "metric": metric,
        "test": test[metric],
        "seconds": out.train_seconds,
        "wall_seconds": wall,
        "served": out.served,  # the served model's figure is "test"; the network's beside it
        "network_test": (out.network or out.metrics)["test"][metric],
        "pipeline_baseline": out.baseline["name"],
        "pipeline_baseline_test": out.baseline["test"].get(metric),
        "epochs_run": out.epochs_run,
        "best_epoch": out.best_epoch,
    }


def reference_data(table: dict[str, Any], seed: int) -> dict[str, Any]:
    """The cleaned feature frame, the encoded target and modelry's split, rebuilt."""
    from modelry.data.schema import Task
    from modelry.data.split import split_rows
    from modelry.pipeline import prepare
    from modelry.training.config import TrainConfig

    config = TrainConfig.from_dict({"data": table["data"], "training": {"seed": seed}})
    prepared = prepare(config, table["path"])
    schema, y, split, frame = prepared.schema, prepared.y, prepared.split, prepared.frame
    d = config.data
    again = split_rows(
        len(frame),
        y=y if schema.task is not Task.REGRESSION else None,
        valid=d.valid_fraction,
        test=d.test_fraction,
        seed=config.training.seed,
        time_order=d.time_order,
    )
    for part in ("train", "valid", "test"):
        if not np.array_equal(getattr(again, part), getattr(split, part)):
            raise SystemExit(f"{table['key']}: split_rows does not reproduce the pipeline's split")
    x = frame[schema.feature_names].reset_index(drop=True)
    numeric = [
        c
        for c in x.columns
        if pd.api.types.is_numeric_dtype(x[c]) and not pd.api.types.is_bool_dtype(x[c])
    ]
    other = [c for c in x.columns if c not in numeric]
    for c in other:
        x[c] = x[c].astype("string").fillna("__missing__").astype("category")
    for c in numeric:
        x[c] = x[c].astype("float64")
    fit_rows = np.concatenate([again.train, again.valid])
    assert schema.task is not None
    return {
        "task": schema.task.value,
        "regression": schema.task is Task.REGRESSION,
        "x": x,
        "y": np.asarray(y),
        "fit": fit_rows,
        "test": again.test,
        "numeric": numeric,
        "other": other,
    }


# ---------------------------------------------------------------- the references


def linear(ref: dict[str, Any], seed: int) -> Any:
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression, RidgeCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    pre = ColumnTransformer(
        [
            (
                "num",
                make_pipeline(SimpleImputer(strategy="median"), StandardScaler()),
                ref["numeric"],
            ),
            ("cat", OneHotEncoder(handle_unknown="ignore"), ref["other"]),
        ]
    )
    if ref["regression"]:
        return make_pipeline(pre, RidgeCV(alphas=np.logspace(-3, 3, 13)))
    return make_pipeline(pre, LogisticRegression(max_iter=5000, random_state=seed))


def hgb(ref: dict[str, Any], seed: int) -> Any:
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    cls = HistGradientBoostingRegressor if ref["regression"] else HistGradientBoostingClassifier
    # Native categories need at most 255 levels; wider columns go in as their codes.
    cats = [c for c in ref["other"] if ref["x"][c].cat.categories.size <= 255]
    return cls(random_state=seed, categorical_features=cats or None)


def realmlp(ref: dict[str, Any], seed: int) -> Any:
    from pytabkit import RealMLP_TD_Classifier, RealMLP_TD_Regressor

    cls = RealMLP_TD_Regressor if ref["regression"] else RealMLP_TD_Classifier
    return cls(random_state=seed, n_threads=1, device="cpu", verbosity=0)


def run_reference(
    name: str, make: Callable[[dict[str, Any], int], Any], ref: dict[str, Any], seed: int
) -> dict[str, Any]:
    from sklearn.metrics import roc_auc_score

    x, y = ref["x"], ref["y"]
    if name == "hgb":
        x = x.copy()
        for c in ref["other"]:
            if x[c].cat.categories.size > 255:
                x[c] = x[c].cat.codes.astype("float64")
    model = make(ref, seed)
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(x.iloc[ref["fit"]], y[ref["fit"]])
    seconds = time.perf_counter() - t0
    xt, yt = x.iloc[ref["test"]], y[ref["test"]]
    if ref["regression"]:
        pred = np.asarray(model.predict(xt), dtype=np.float64).ravel()
        return {
            "method": name,
            "metric": "rmse",
            "test": float(np.sqrt(np.mean((pred - yt) ** 2))),
            "seconds": seconds,
        }
    proba = np.asarray(model.predict_proba(xt))
    if ref["task"] == "multiclass":
        acc = float(np.mean(np.asarray(model.classes_)[proba.argmax(axis=1)] == yt))
        return {"method": name, "metric": "accuracy", "test": acc, "seconds": seconds}
    return {
        "method": name,
        "metric": "roc_auc",
        "test": float(roc_auc_score(yt, proba[:, 1])),
        "seconds": seconds,
    }


# ---------------------------------------------------------------- the table


def mean_sd(xs: list[float], digits: int = 4) -> str:
    if len(xs) == 1:
        return f"{xs[0]:.{digits}f}"
    return f"{statistics.mean(xs):.{digits}f} ± {statistics.stdev(xs):.{digits}f}"


def table_md(runs: list[dict[str, Any]], labels: dict[str, str], methods: list[str]) -> str:
    head = "| table | metric | " + " | ".join(methods) + " | seeds |"
    lines = [head, "|" + "---|" * (len(methods) + 3)]
    for key, label in labels.items():
        rs = [r for r in runs if r["table"] == key]
        if not rs:
            continue
        metric = rs[0]["metric"]
        cells, times = [], []
        for m in methods:
            mr = [r for r in rs if r["method"] == m]
            cells.append(mean_sd([r["test"] for r in mr]) if mr else "—")
            times.append(f"{statistics.mean(r['seconds'] for r in mr):.1f}" if mr else "—")
        seeds = sorted({r["seed"] for r in rs})
        name = {"roc_auc": "ROC-AUC ↑", "accuracy": "accuracy ↑", "rmse": "RMSE ↓"}[metric]
        lines.append(
            f"| {label} | {name} | " + " | ".join(cells) + f" | {','.join(map(str, seeds))} |"
        )
        lines.append("| ↳ training s | | " + " | ".join(times) + " | |")
    return "\n".join(lines)


def main() -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--seeds", default="0,1,2", help="comma-separated seeds [0,1,2]")
    p.add_argument("--only", default=None, help="subset of: bank,hr,campus,cancer,diabetes,digits")
    p.add_argument("--no-realmlp", action="store_true", help="skip RealMLP-TD (pytabkit)")
    p.add_argument("--out", type=Path, default=None, help="write every run as JSON here")
    p.add_argument("--md", type=Path, default=None, help="append the markdown section here")
    args = p.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    only = set(args.only.split(",")) if args.only else None

    methods: dict[str, Callable[[dict[str, Any], int], Any]] = {"linear": linear, "hgb": hgb}
    if not args.no_realmlp:
        try:
            import pytabkit  # noqa: F401
        except ImportError:
            print("pytabkit is not installed: RealMLP-TD skipped", file=sys.stderr)
        else:
            methods["realmlp"] = realmlp

    started = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    load_before = loadavg()
    runs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="modelry-quality-") as tmp_name:
        tmp = Path(tmp_name)
        todo = [t for t in tables(tmp) if only is None or t["key"] in only]
        for table in todo:
            materialise(table)
            for seed in seeds:
                results = [run_modelry(table, seed, tmp / "home")]
                ref = reference_data(table, seed)
                results += [run_reference(name, make, ref, seed) for name, make in methods.items()]
                for r in results:
                    r.update(table=table["key"], seed=seed)
                    runs.append(r)
                print(
                    f"[{table['key']} seed {seed}] "
                    + ", ".join(
                        f"{r['method']} {r['test']:.4f} ({r['seconds']:.1f} s)" for r in results
                    )
                    + f"; load {loadavg()}",
                    file=sys.stderr,
                    flush=True,
                )
        labels = {t["key"]: t["label"] for t in todo}
    cols = ["modelry", *methods]
    md = table_md(runs, labels, cols)
    v = versions()
    section = "\n".join(
        [
            f"## Model quality: modelry's default network beside references (bench/quality.py, {started})",
            "",
            f"Command (repo root): `{command_line()}`",
            "",
            f"- machine: {cpu_model()}; load average before {load_before}, after {loadavg()} (shared, noisy: "
            "AUC/RMSE do not depend on it, training seconds do)",
            "- versions: " + ", ".join(f"{k} {val}" for k, val in v.items()),
            "- every method on modelry's own stratified 70/15/15 split (seed = the row's seed); "
            "references fitted on train+valid, all scored on the same test rows; mean ± sample sd over seeds",
            "- *modelry* seconds = `train_seconds` (read … ONNX export, beside the pipeline's own "
            "baseline); references: `fit` alone on already-read data",
            "",
            md,
            "",
        ]
    )
    print(section)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(
            json.dumps({"date": started, "versions": v, "runs": runs}, indent=1, default=str)
        )
    if args.md:
        with args.md.open("a", encoding="utf-8") as f:
            f.write(section + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
