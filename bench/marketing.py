# ruff: noqa: E501  (markdown text reads better unwrapped)
"""Marketing benchmark (issue 12, must-show figure 1): the profit of modelry's targeting on
bank marketing, against contacting everyone, random contact, and two scikit-learn policies.

Bank marketing (``bank-additional-full.csv``, target ``y``, ``duration`` dropped because it is
only known after the call), a stratified 80/20 split with ``random_state=42``. modelry is used
as an analyst would: ``modelry train`` on the 80 % written to a CSV, then ``modelry marketing
target`` on the 20 % (without ``y``) at cost 5 per contact and value 60 per conversion, no
limit (everyone with a positive expected profit). The realised profit on the 20 % is
``Σ_contacted (60·y − 5)``. The references on the same split, by the same rule (contact when
``60·p − 5 > 0``):

* contacting everyone;
* random contact at modelry's volume (the expectation: volume × (60 · base rate − 5));
* logistic regression (one-hot categoricals, standardised numbers) and
  HistGradientBoosting (native categoricals), both scikit-learn defaults otherwise.

Top-decile lift (conversion rate of the 10 % highest-scored over the overall rate) for each.

Run from the repository root (a few minutes; each seed trains one network):

    .venv/bin/python bench/marketing.py                 # seed 0
    .venv/bin/python bench/marketing.py --seeds 0 1 2   # modelry over three training seeds
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from context import BANK, command_line, cpu_model, loadavg, versions

COST, VALUE = 5.0, 60.0
SPLIT_SEED = 42


def split() -> tuple[Any, Any]:
    import pandas as pd
    from sklearn.model_selection import train_test_split

    table = pd.read_csv(BANK, sep=";").drop(columns=["duration"])
    train, test = train_test_split(
        table, test_size=0.2, stratify=table["y"], random_state=SPLIT_SEED
    )
    return train.reset_index(drop=True), test.reset_index(drop=True)


def realised(y: np.ndarray, contacted: np.ndarray) -> float:
    from modelry.apps.marketing.curves import realised_profit

    return realised_profit(y, contacted, cost=COST, value=VALUE)


def top_decile_lift(y: np.ndarray, score: np.ndarray) -> float:
    from modelry.apps.marketing.curves import lift_by_decile

    return lift_by_decile(y, score)[0].lift


def paired_bootstrap(
    y: np.ndarray, a: np.ndarray, b: np.ndarray, draws: int = 2000
) -> tuple[float, float, float]:
    """Realised profit of selection ``a`` minus ``b``, and its 95 % interval over test sets
    resampled with replacement (both policies judged on the same resampled customers)."""
    gain = y * VALUE - COST
    diff = gain * a - gain * b
    rng = np.random.default_rng(0)
    sums = np.array([diff[rng.integers(0, y.size, y.size)].sum() for _ in range(draws)])
    return float(diff.sum()), float(np.percentile(sums, 2.5)), float(np.percentile(sums, 97.5))


def sklearn_policies(train: Any, test: Any) -> dict[str, np.ndarray]:
    """P(y = yes) on the test split from two scikit-learn models fitted on the train split."""
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    X, y = train.drop(columns=["y"]), (train["y"] == "yes").to_numpy()
    X_test = test.drop(columns=["y"])
    from pandas.api.types import is_numeric_dtype

    categorical = [c for c in X.columns if not is_numeric_dtype(X[c])]
    numeric = [c for c in X.columns if c not in categorical]
    logistic = make_pipeline(
        ColumnTransformer(
            [
                ("cat", OneHotEncoder(handle_unknown="ignore"), categorical),
                ("num", StandardScaler(), numeric),
            ]
        ),
        LogisticRegression(max_iter=2000),
    ).fit(X, y)
    X_cat = X.copy()
    X_test_cat = X_test.copy()
    for c in categorical:
        X_cat[c] = X_cat[c].astype("category")
        X_test_cat[c] = X_test_cat[c].astype(X_cat[c].dtype)
    boosting = HistGradientBoostingClassifier(
        categorical_features="from_dtype", random_state=SPLIT_SEED
    ).fit(X_cat, y)
    return {
        "logistic regression": logistic.predict_proba(X_test)[:, 1],
        "HistGradientBoosting": boosting.predict_proba(X_test_cat)[:, 1],
    }


def modelry_run(train: Any, test: Any, seed: int, work: Path) -> dict[str, Any]:
    """``modelry train`` on the 80 %, ``modelry marketing target`` on the 20 %."""
    env = {**os.environ, "MODELRY_HOME": str(work / "home")}
    data = work / "bank_train.csv"
    customers = work / "bank_customers.csv"
    train.to_csv(data, index=False)
    test.drop(columns=["y"]).assign(row=np.arange(len(test))).to_csv(customers, index=False)
    modelry = [sys.executable, "-m", "modelry.cli.main"]
    started = time.perf_counter()
    trained = subprocess.run(
        [*modelry, "train", str(data), "--target", "y", "--name", "bank", "--seed", str(seed), "--json"],
        env=env, check=True, capture_output=True, text=True,
    )  # fmt: skip
    train_seconds = time.perf_counter() - started
    version = json.loads(trained.stdout)["version"]
    contacts = work / f"contacts_{seed}.csv"
    targeted = subprocess.run(
        [*modelry, "marketing", "target", f"bank:{version}", str(customers),
         "--cost-per-contact", str(COST), "--value-per-conversion", str(VALUE),
         "-o", str(contacts), "--charts", str(work / f"charts_{seed}"), "--json"],
        env=env, check=True, capture_output=True, text=True,
    )  # fmt: skip
    import pandas as pd

    out = pd.read_csv(contacts).sort_values("row")
    y = (test["y"] == "yes").to_numpy()
    contacted = out["contacted"].to_numpy(dtype=bool)
    score = out["score"].to_numpy()
    return {
        "seed": seed,
        "summary": json.loads(targeted.stdout),
        "train_seconds": train_seconds,
        "contacted": int(contacted.sum()),
        "profit": realised(y, contacted),
        "top_decile_lift": top_decile_lift(y, score),
        "score": score,
        "selected": contacted,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--out", type=Path, help="Also write the figures as JSON here.")
    args = parser.parse_args()
    train, test = split()
    y = (test["y"] == "yes").to_numpy()
    base_rate = float(y.mean())
    rows: list[tuple[str, int, float, float | None]] = []
    rows.append(("contact everyone", y.size, realised(y, np.ones(y.size, bool)), 1.0))
    runs = []
    with tempfile.TemporaryDirectory(prefix="modelry-bench-marketing-") as tmp:
        for seed in args.seeds:
            run = modelry_run(train, test, seed, Path(tmp))
            runs.append(run)
            rows.append(
                (f"modelry (seed {seed})", run["contacted"], run["profit"], run["top_decile_lift"])
            )
    volume = round(float(np.mean([r["contacted"] for r in runs])))
    rows.append(
        (f"random, same volume ({volume:,})", volume, volume * (VALUE * base_rate - COST), 1.0)
    )
    references = {}
    for name, p in sklearn_policies(train, test).items():
        contacted = p * VALUE - COST > 0
        references[name] = contacted
        rows.append((name, int(contacted.sum()), realised(y, contacted), top_decile_lift(y, p)))
    rows.append(
        (
            "oracle (every converter, nobody else)",
            int(y.sum()),
            float(y.sum()) * (VALUE - COST),
            None,
        )
    )

    print(
        f"Bank marketing test split: {y.size:,} customers, {int(y.sum()):,} conversions ({base_rate:.2%}); cost {COST:g}, value {VALUE:g}\n"
    )
    print("| policy | contacted | realised profit | top-decile lift |")
    print("| --- | ---: | ---: | ---: |")
    for name, n, profit, lift in rows:
        shown = "—" if lift is None else f"{lift:.2f}"
        print(f"| {name} | {n:,} | {profit:,.0f} | {shown} |")
    if len(runs) > 1:
        profits = [r["profit"] for r in runs]
        print(
            f"\nmodelry over seeds {args.seeds}: profit {np.mean(profits):,.0f} ± {np.std(profits, ddof=1):,.0f} (mean ± sd)"
        )
    print("\nmodelry minus each reference, paired bootstrap of the test split (2,000 draws):\n")
    print("| modelry | reference | profit difference | 95 % interval |")
    print("| --- | --- | ---: | ---: |")
    for r in runs:
        for name, contacted in references.items():
            diff, low, high = paired_bootstrap(y, r["selected"], contacted)
            print(f"| seed {r['seed']} | {name} | {diff:+,.0f} | {low:+,.0f} … {high:+,.0f} |")
    for r in runs:
        s = r["summary"]
        print(
            f"\nseed {r['seed']}: trained in {r['train_seconds']:.0f} s; targeting expected "
            f"{s['expected_conversions']:.0f} conversions and {s['expected_profit']:,.0f} profit "
            f"(realised {r['profit']:,.0f}); break-even score {s['break_even_score']:.4f}"
        )
    print(f"\n`{command_line()}` on {cpu_model()}, load {loadavg()}; {versions()}")
    if args.out:
        payload = {
            "rows": rows,
            "runs": [{k: v for k, v in r.items() if k not in ("score", "selected")} for r in runs],
        }
        args.out.write_text(json.dumps(payload, indent=2, default=float), encoding="utf-8")


if __name__ == "__main__":
    main()
