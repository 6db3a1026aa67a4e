"""Markdown table of a run of bench/serve/run.sh.

    python summarize.py RESULTS.jsonl --command "bench/serve/run.sh ..."

One row per system and round (req/s, p50, p99, errors, ratio to the floor of the same round),
then the median over rounds of each system.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
from datetime import UTC, datetime
from pathlib import Path

LABELS = {
    "floor": "floor: bare Starlette, constant JSON",
    "v1": "modelry V1 `:predict`, 1 instance",
    "v2": "modelry V2 `/infer`, 1 instance",
}


def _errors(r: dict[str, float]) -> int:
    keys = ("err_connect", "err_read", "err_write", "err_timeout", "non2xx3xx")
    return int(sum(r.get(k, 0) for k in keys))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("results", type=Path)
    parser.add_argument("--command", default="bench/serve/run.sh")
    args = parser.parse_args()
    rows = [json.loads(line) for line in args.results.read_text().splitlines() if line.strip()]
    floors = {r["round"]: r["wrk"]["rps"] for r in rows if r["system"] == "floor" and r["wrk"]}
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    out = [
        f"## HTTP serving, single-instance requests — {when}",
        "",
        f"Command: `{args.command}` on {platform.node()} ({platform.machine()}, "
        f"Python {platform.python_version()}). Server on one core, wrk on another, "
        "1 thread, 8 connections unless the command says otherwise.",
        "",
        "| system | round | req/s | p50 ms | p99 ms | errors | ratio to floor |",
        "|---|---|---|---|---|---|---|",
    ]
    ratios: dict[str, list[float]] = {}
    for r in rows:
        w = r["wrk"]
        if not w:
            out.append(f"| {LABELS[r['system']]} | {r['round']} | wrk failed | | | | |")
            continue
        ratio = w["rps"] / floors[r["round"]] if r["round"] in floors else float("nan")
        ratios.setdefault(r["system"], []).append(ratio)
        out.append(
            f"| {LABELS[r['system']]} | {r['round']} | {w['rps']:,.0f} | {w['lat_p50_ms']:.2f} "
            f"| {w['lat_p99_ms']:.2f} | {_errors(w)} | {ratio:.2f} |"
        )
    out += [
        "",
        "Median ratio to the floor: "
        + ", ".join(f"{s} {statistics.median(v):.2f}" for s, v in ratios.items()),
    ]
    v1 = [r["wrk"]["rps"] for r in rows if r["system"] == "v1" and r["wrk"]]
    v2 = [r["wrk"]["rps"] for r in rows if r["system"] == "v2" and r["wrk"]]
    if v1 and v2:
        out[-1] += f"; V2 / V1 {statistics.median(v2) / statistics.median(v1):.2f}."
    print("\n".join(out))


if __name__ == "__main__":
    main()
