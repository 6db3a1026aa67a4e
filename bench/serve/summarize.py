"""Markdown table of a run of bench/serve/run.sh.

    python summarize.py RESULTS.jsonl --command "bench/serve/run.sh ..."

One row per system and round (req/s, p50, p99, errors, ratio to the floor of the same round, and
the server's CPU time per request with the same ratio taken by CPU time), then the median over
rounds of each system's ratios to the floor, and, when the peers were measured, modelry V1 req/s
divided by each peer's req/s of the same round (median over rounds).

The two ratios estimate the same thing. A server saturating its core answers 1 / (CPU time per
request) requests per second, so floor CPU µs ÷ system CPU µs is the throughput ratio with the
time the hypervisor took away (steal, which the kernel does not charge to the process) left out:
on this shared VM the floor's own req/s swings by a third between rounds, its CPU time per request
far less.
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
    "seed": "seed: founding doc's Flask + Keras app",
    "mlserver": "MLServer 1.7.1 V2, sklearn MLP",
}
PEER_NAMES = {"seed": "seed", "mlserver": "MLServer"}
PEER_NOTES = {
    "seed": "seed = the founding document's app as ../shared/anchors/seed_app.py serves it (Flask "
    "`app.run()` dev server, Keras 64-32-1 `model.predict` per request), body `[[62 floats]]`",
    "mlserver": "MLServer = Seldon MLServer 1.7.1 with `mlserver_sklearn` serving "
    "`MLPClassifier((64,32))` on the same 62 features (anchors' mlserver/ settings), V2 body with "
    "one FP32 [1,62] tensor, output `predict_proba`",
}


def _errors(r: dict[str, float]) -> int:
    keys = ("err_connect", "err_read", "err_write", "err_timeout", "non2xx3xx")
    return int(sum(r.get(k, 0) for k in keys))


def _num(x: float) -> str:
    """Two decimals below 100 (two significant digits below 0.1: the seed's ratio to the floor),
    thousands separators and no decimals above."""
    if x >= 100:
        return f"{x:,.0f}"
    return f"{x:.2f}" if x >= 0.1 or x == 0 else f"{x:.2g}"


def _cpu_us(r: dict) -> float | None:
    """The server's CPU µs per answered request in this measurement (None: not recorded)."""
    w, cpu = r["wrk"], r.get("server_cpu_s")
    if not w or cpu is None or not w.get("requests"):
        return None
    return float(cpu) / w["requests"] * 1e6


def _rps_by_round(rows: list[dict], system: str) -> dict[int, float]:
    return {r["round"]: r["wrk"]["rps"] for r in rows if r["system"] == system and r["wrk"]}


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
        "| system | round | req/s | p50 ms | p99 ms | errors | ratio to floor "
        "| server CPU µs/request | ratio to floor by CPU |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    cpu_floors = {r["round"]: _cpu_us(r) for r in rows if r["system"] == "floor"}
    ratios: dict[str, list[float]] = {}
    cpu_ratios: dict[str, list[float]] = {}
    for r in rows:
        w, label = r["wrk"], LABELS.get(r["system"], r["system"])
        if not w:
            out.append(f"| {label} | {r['round']} | wrk failed | | | | | | |")
            continue
        ratio = w["rps"] / floors[r["round"]] if r["round"] in floors else float("nan")
        ratios.setdefault(r["system"], []).append(ratio)
        cpu, cpu_floor = _cpu_us(r), cpu_floors.get(r["round"])
        cpu_cells = "| |"
        if cpu is not None:
            cpu_cells = f"| {cpu:.0f} | |"
            if cpu_floor is not None:
                cpu_ratios.setdefault(r["system"], []).append(cpu_floor / cpu)
                cpu_cells = f"| {cpu:.0f} | {_num(cpu_floor / cpu)} |"
        out.append(
            f"| {label} | {r['round']} | {_num(w['rps'])} | {w['lat_p50_ms']:.2f} "
            f"| {w['lat_p99_ms']:.2f} | {_errors(w)} | {_num(ratio)} {cpu_cells}"
        )
    out += [
        "",
        "Median ratio to the floor: "
        + ", ".join(f"{s} {_num(statistics.median(v))}" for s, v in ratios.items()),
    ]
    if cpu_ratios:
        out[-1] += "; by CPU time per request: " + ", ".join(
            f"{s} {_num(statistics.median(v))}" for s, v in cpu_ratios.items()
        )
    v1_by_round = _rps_by_round(rows, "v1")
    v2_by_round = _rps_by_round(rows, "v2")
    v2_to_v1 = [v2_by_round[rnd] / rps for rnd, rps in v1_by_round.items() if rnd in v2_by_round]
    if v2_to_v1:  # measured one after the other in each round: the median of the rounds' ratios
        out[-1] += f"; V2 / V1 {statistics.median(v2_to_v1):.2f} (median of the rounds' ratios"
        out[-1] += ", " + " / ".join(f"{x:.2f}" for x in v2_to_v1) + ")"
    out[-1] += "."
    peers = [p for p in PEER_NAMES if any(r["system"] == p for r in rows)]
    for peer in peers:
        by_round = _rps_by_round(rows, peer)
        per_round = [
            (rnd, v1_by_round[rnd] / rps)
            for rnd, rps in by_round.items()
            if rnd in v1_by_round and rps
        ]
        if not per_round:
            out.append(
                f"modelry V1 ÷ {PEER_NAMES[peer]}: not measured (wrk failed, or no request "
                "completed within the measured time)."
            )
            continue
        rounds = ", ".join(f"round {rnd} {_num(x)}" for rnd, x in per_round)
        median = statistics.median(x for _, x in per_round)
        out.append(
            f"modelry V1 ÷ {PEER_NAMES[peer]} (req/s, same round): **{_num(median)}** ({rounds})."
        )
    if peers:
        out += [
            "",
            "Notes: the requests differ. modelry (V1/V2) is sent one raw bank-marketing row (19 "
            "columns, strings and numbers, `duration` dropped) and does its own preprocessing; "
            "the peers are sent the anchors' 62 already-preprocessed floats (one-hot, log1p, "
            "standardised: the first test row, `$ART/payloads/`), so their preprocessing cost is "
            "not in their figures. The floor returns a constant. "
            + "; ".join(PEER_NOTES[p] for p in peers)
            + ". All servers are started once and stay up for the whole run, each pinned to the "
            "server core, with their defaults (access logging on for the peers, as a user starts "
            "them).",
        ]
    print("\n".join(out))


if __name__ == "__main__":
    main()
