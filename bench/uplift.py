# ruff: noqa: E501  (markdown text reads better unwrapped)
"""Uplift benchmark (issue 12, must-show figure 2): Hillstrom, outcome ``visit``, each e-mail
against ``No E-Mail``, over several random held-out splits.

For each split (``train_uplift`` with ``seed``: 70/30, stratified by arm × visit) and arm:
the difference-in-means ATE on every row with its 95 % interval, the model's estimate (the
mean T-learner uplift over the held-out rows) and whether it lies inside the held-out
difference-in-means interval, and the Qini coefficient of the T-learner, the X-learner, the
class-transformation model and the ranking by the response model P(visit | e-mail) on
the same held-out rows. ``conversion`` and ``spend`` are dropped (recorded after the visit).

Run from the repository root (about 10 s a split on two cores):

    .venv/bin/python bench/uplift.py --seeds 0 1 2
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from context import SHARED_DATA, command_line, cpu_model, loadavg, versions

from modelry.apps.marketing.uplift import train_uplift

HILLSTROM = SHARED_DATA / "hillstrom_email" / "hillstrom.csv"
METHODS = ("t_learner", "x_learner", "class_transformation", "response")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--out", type=Path, help="Also write the figures as JSON here.")
    args = parser.parse_args()
    runs = []
    for seed in args.seeds:
        start = time.perf_counter()
        report = train_uplift(
            HILLSTROM, treatment="segment", control="No E-Mail", outcome="visit", seed=seed
        )
        runs.append((seed, report, time.perf_counter() - start))

    print(
        "| split | arm | ATE, all rows [95 % CI] | ATE held out [95 % CI] | model's ATE | inside | Qini T-learner | Qini X-learner | Qini class-transf. | Qini response | uplift beats response |"
    )
    print("| ---: | --- | ---: | ---: | ---: | :---: | ---: | ---: | ---: | ---: | :---: |")
    for seed, report, _ in runs:
        for arm in report.arms:
            a, o = arm.observed_all, arm.observed
            inside = o.low <= arm.predicted_ate <= o.high
            q = arm.qini
            print(
                f"| {seed} | {arm.arm} | {a.estimate:+.4f} [{a.low:+.4f}, {a.high:+.4f}] "
                f"| {o.estimate:+.4f} [{o.low:+.4f}, {o.high:+.4f}] | {arm.predicted_ate:+.4f} "
                f"| {'yes' if inside else 'NO'} | {q['t_learner']:.4f} | {q['x_learner']:.4f} | {q['class_transformation']:.4f} "
                f"| {q['response']:.4f} | {'yes' if arm.beats_response else 'no'} |"
            )
    print("\nMean Qini over the splits (± sd):\n")
    print("| arm | " + " | ".join(METHODS) + " |")
    print("| --- | ---: | ---: | ---: | ---: |")
    arms = [arm.arm for arm in runs[0][1].arms]
    summary: dict[str, dict[str, list[float]]] = {}
    for name in arms:
        per = {
            m: [next(a for a in r.arms if a.arm == name).qini[m] for _, r, _ in runs]
            for m in METHODS
        }
        summary[name] = per
        cells = [
            f"{np.mean(v):.4f} ± {np.std(v, ddof=1) if len(v) > 1 else 0:.4f}" for v in per.values()
        ]
        print(f"| {name} | " + " | ".join(cells) + " |")
    for seed, report, seconds in runs:
        print(f"\nsplit {seed}: {seconds:.1f} s; " + "; ".join(arm.verdict for arm in report.arms))
    print(f"\n`{command_line()}` on {cpu_model()}, load {loadavg()}; {versions()}")
    if args.out:
        payload = {"runs": [{"seed": s, **r.to_dict()} for s, r, _ in runs], "qini": summary}
        args.out.write_text(json.dumps(payload, indent=2, default=float), encoding="utf-8")


if __name__ == "__main__":
    main()
