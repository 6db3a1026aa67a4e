# ruff: noqa: E501  (markdown text reads better unwrapped)
"""Marketing benchmark (issue 12, must-show figure 1): the profit of modelry's targeting on
bank marketing, against contacting everyone, random contact, and two scikit-learn policies.

Bank marketing (``bank-additional-full.csv``, target ``y``, ``duration`` dropped because it is
only known after the call), a stratified 80/20 split with ``random_state=42``. modelry is used
as an analyst would: ``modelry marketing train`` on the 80 % written to a CSV (``modelry train``
with probabilities calibrated on its validation split, temperature scaling by default), then
``modelry marketing target`` on the 20 % (without ``y``) at cost 5 per contact and value 60 per conversion, no
limit (everyone with a positive expected profit). The realised profit on the 20 % is
``Σ_contacted (60·y − 5)``. The references on the same split, by the same rule (contact when
``60·p − 5 > 0``):

* contacting everyone;
* random contact at modelry's volume (the expectation: volume × (60 · base rate − 5));
* logistic regression (one-hot categoricals, standardised numbers) and
  HistGradientBoosting (native categoricals), both scikit-learn defaults otherwise.

Top-decile lift (conversion rate of the 10 % highest-scored over the overall rate) for each,
and the expected calibration error (15 bins) on the test split. With temperature scaling the
network's own probabilities are recovered exactly (``σ(T · logit(p))``), so the same run also
reports the policy the uncalibrated network would have chosen.

``--charts DIR`` writes, per seed, the profit curve realised on the test split beside the
expected one (``profit_seed<s>.png``), the realised gains and lift, and the reliability chart
of the test split before and after calibration.

Run from the repository root (a few minutes; each seed trains one network):

    .venv/bin/python bench/marketing.py                 # seed 0
    .venv/bin/python bench/marketing.py --seeds 0 1 2   # modelry over three training seeds
    .venv/bin/python bench/marketing.py --seeds 0 1 2 --charts /tmp/marketing-charts
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


def ece(y: np.ndarray, p: np.ndarray) -> float:
    from modelry.training.calibration import ece as expected_calibration_error

    return expected_calibration_error(y, p)


def uncalibrated(p: np.ndarray, temperature: float) -> np.ndarray:
    """The network's own probabilities back from temperature-scaled ones: σ(T · logit(p))."""
    from modelry.training.calibration import logit, sigmoid

    return sigmoid(temperature * logit(p))


def modelry_run(train: Any, test: Any, seed: int, work: Path) -> dict[str, Any]:
    """``modelry marketing train`` on the 80 %, ``modelry marketing target`` on the 20 %."""
    env = {**os.environ, "MODELRY_HOME": str(work / "home")}
    data = work / "bank_train.csv"
    customers = work / "bank_customers.csv"
    train.to_csv(data, index=False)
    test.drop(columns=["y"]).assign(row=np.arange(len(test))).to_csv(customers, index=False)
    modelry = [sys.executable, "-m", "modelry.cli.main"]
    started = time.perf_counter()
    trained = subprocess.run(
        [*modelry, "marketing", "train", str(data), "--target", "y", "--name", "bank", "--seed", str(seed), "--json"],
        env=env, check=True, capture_output=True, text=True,
    )  # fmt: skip
    train_seconds = time.perf_counter() - started
    trained_doc = json.loads(trained.stdout)
    version = trained_doc["version"]
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
        "calibration": trained_doc["calibration"],
        "served": trained_doc["served"],
        "ece": ece(y, score),
    }


def charts(y: np.ndarray, run: dict[str, Any], directory: Path) -> list[Path]:
    """The seed's realised-outcome charts: profit realised beside expected, gains, lift,
    reliability before and after calibration (all on the test split)."""
    from modelry.apps.marketing.charts import gains_chart, lift_chart, profit_chart
    from modelry.apps.marketing.curves import cumulative_gains, lift_by_decile, profit_curve
    from modelry.training.calibration import reliability_png

    seed, p = run["seed"], run["score"]
    order = np.argsort(-p, kind="stable")  # constant economics: the optimiser's order
    expected = profit_curve(p, p, cost=COST, value=VALUE, order=order)
    outcome = profit_curve(y, p, cost=COST, value=VALUE, order=order)
    paths = [
        profit_chart(
            expected,
            directory / f"profit_seed{seed}.png",
            cutoff=run["contacted"],
            realised=outcome,
        ),
        gains_chart(cumulative_gains(y, p), directory / f"gains_seed{seed}.png"),
        lift_chart(lift_by_decile(y, p), directory / f"lift_seed{seed}.png"),
    ]
    curves = {"calibrated": p}
    if "temperature" in run["calibration"]:
        curves = {"network": uncalibrated(p, run["calibration"]["temperature"]), **curves}
    reliability = directory / f"reliability_seed{seed}.png"
    reliability.write_bytes(reliability_png(y, curves))
    return [*paths, reliability]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--out", type=Path, help="Also write the figures as JSON here.")
    parser.add_argument("--charts", type=Path, help="Write the realised-outcome charts here.")
    args = parser.parse_args()
    train, test = split()
    y = (test["y"] == "yes").to_numpy()
    base_rate = float(y.mean())
    rows: list[tuple[str, int, float, float | None, float | None]] = []
    rows.append(("contact everyone", y.size, realised(y, np.ones(y.size, bool)), 1.0, None))
    runs = []
    with tempfile.TemporaryDirectory(prefix="modelry-bench-marketing-") as tmp:
        for seed in args.seeds:
            run = modelry_run(train, test, seed, Path(tmp))
            runs.append(run)
            rows.append(
                (f"modelry (seed {seed})", run["contacted"], run["profit"], run["top_decile_lift"],
                 run["ece"])
            )  # fmt: skip
            temperature = run["calibration"].get("temperature")
            if temperature is not None:
                raw = uncalibrated(run["score"], temperature)
                chosen = raw * VALUE - COST > 0
                run["uncalibrated"] = {
                    "contacted": int(chosen.sum()),
                    "profit": realised(y, chosen),
                    "ece": ece(y, raw),
                }
                rows.append(
                    (f"modelry (seed {seed}), uncalibrated", int(chosen.sum()), realised(y, chosen),
                     top_decile_lift(y, raw), ece(y, raw))
                )  # fmt: skip
            if args.charts:
                run["charts"] = charts(y, run, args.charts)
    volume = round(float(np.mean([r["contacted"] for r in runs])))
    rows.append(
        (
            f"random, same volume ({volume:,})",
            volume,
            volume * (VALUE * base_rate - COST),
            1.0,
            None,
        )
    )
    references = {}
    for name, p in sklearn_policies(train, test).items():
        contacted = p * VALUE - COST > 0
        references[name] = contacted
        rows.append(
            (name, int(contacted.sum()), realised(y, contacted), top_decile_lift(y, p), ece(y, p))
        )
    rows.append(
        (
            "oracle (every converter, nobody else)",
            int(y.sum()),
            float(y.sum()) * (VALUE - COST),
            None,
            None,
        )
    )

    print(
        f"Bank marketing test split: {y.size:,} customers, {int(y.sum()):,} conversions ({base_rate:.2%}); cost {COST:g}, value {VALUE:g}\n"
    )
    print("| policy | contacted | realised profit | top-decile lift | ECE (test, 15 bins) |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for name, n, profit, lift, error in rows:
        shown = "—" if lift is None else f"{lift:.2f}"
        calib = "—" if error is None else f"{error:.4f}"
        print(f"| {name} | {n:,} | {profit:,.0f} | {shown} | {calib} |")
    if len(runs) > 1:
        profits = [r["profit"] for r in runs]
        print(
            f"\nmodelry over seeds {args.seeds}: profit {np.mean(profits):,.0f} ± {np.std(profits, ddof=1):,.0f} (mean ± sd)"
        )
        raw = [r["uncalibrated"]["profit"] for r in runs if "uncalibrated" in r]
        if len(raw) > 1:
            print(
                f"the same networks uncalibrated: {np.mean(raw):,.0f} ± {np.std(raw, ddof=1):,.0f}"
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
        c = r["calibration"]
        how = f"T = {c['temperature']:.4f}" if "temperature" in c else f"{c.get('knots')} knots"
        print(
            f"  served {r['served']}, calibration {c['method']} ({how}) on modelry's validation "
            f"split; ECE on modelry's own test split {c['test']['ece']['before']:.4f} → "
            f"{c['test']['ece']['after']:.4f}, Brier {c['test']['brier']['before']:.5f} → "
            f"{c['test']['brier']['after']:.5f}"
        )
        for path in r.get("charts", []):
            print(f"  chart: {path}")
    print(f"\n`{command_line()}` on {cpu_model()}, load {loadavg()}; {versions()}")
    if args.out:
        payload = {
            "rows": rows,
            "runs": [
                {k: v for k, v in r.items() if k not in ("score", "selected", "charts")}
                for r in runs
            ],
        }
        args.out.write_text(json.dumps(payload, indent=2, default=float), encoding="utf-8")


if __name__ == "__main__":
    main()
