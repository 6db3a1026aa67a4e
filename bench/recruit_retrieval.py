"""Retrieval on real résumés: BM25, embeddings alone, and modelry's combined score.

``resume_dataset`` (962 rows, 25 categories) holds 167 distinct résumés; exact duplicates are
dropped (the index drops any left after redaction and whitespace folding). For each category a
job query written as a recruiter would (``bench/recruit_queries.json``) ranks every distinct
résumé; the résumés of that category are the relevant ones (binary gains). Reported: mean
NDCG@10 and recall@10 (relevant résumés in the top 10 over all relevant ones) of

* (a) BM25 alone (``bm25s``, Lucene BM25, k1 1.5, b 0.75, English stopwords),
* (b) embeddings alone (cosine of the unit mean of MiniLM passage embeddings),
* (c) the combined score (``apps/recruitment/matching``): min-max scaled semantic and BM25
  plus IDF-weighted skill coverage, with the default weights (chosen on :data:`TUNE` only),
* (c') the combined score with weights tuned on five categories (:data:`TUNE`, picked before
  looking at any result), reported on the other twenty only,
* (r) a plain reciprocal rank fusion of (a) and (b) (k = 60), for reference,
* (x) the first combination (semantic 0.4, BM25 0.4, plain skill coverage) and the same with
  skills weighed by IDF over the index, beside the defaults (weights tuned on :data:`TUNE`,
  IDF on); ideas that did not help are in ``bench/history.md``,

and a bootstrap 95% interval over queries (10,000 resamples) of the NDCG@10 difference
(c) − (a). Run::

    .venv/bin/python bench/recruit_retrieval.py [--home DIR_WITH_TEXT_ENCODER]

Without ``--home`` the encoder is registered in a temporary directory first (~30 s).
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from context import SHARED_DATA, command_line, cpu_model
from recruit_setup import encoder_home, interval

from modelry.apps.recruitment.encoding import open_encoder
from modelry.apps.recruitment.index import Rows, build_index
from modelry.apps.recruitment.matching import DEFAULT_WEIGHTS, Weights, combine, components, ranking
from modelry.settings import Settings

DATA = SHARED_DATA / "resume_dataset" / "UpdatedResumeDataSet.csv"
QUERIES = Path(__file__).resolve().parent / "recruit_queries.json"
TUNE = ("Advocate", "Data Science", "Hadoop", "Sales", "Testing")
K = 10


def ndcg(order: list[int], relevant: set[int], k: int = K) -> float:
    gains = [1.0 / np.log2(rank + 2) for rank, i in enumerate(order[:k]) if i in relevant]
    ideal = sum(1.0 / np.log2(rank + 2) for rank in range(min(k, len(relevant))))
    return float(sum(gains) / ideal)


def recall(order: list[int], relevant: set[int], k: int = K) -> float:
    return len(relevant.intersection(order[:k])) / len(relevant)


def rrf(*orders: list[int], k: int = 60) -> np.ndarray:
    scores = np.zeros(len(orders[0]))
    for order in orders:
        for rank, i in enumerate(order):
            scores[i] += 1.0 / (k + rank + 1)
    return scores


def main() -> None:
    import pandas as pd

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--home", type=Path, help="a MODELRY_HOME holding text-encoder")
    args = parser.parse_args()
    tmp = tempfile.TemporaryDirectory()
    home = encoder_home(args.home, Path(tmp.name))

    frame = pd.read_csv(DATA).drop_duplicates("Resume").reset_index(drop=True)
    queries: dict[str, str] = json.loads(QUERIES.read_text())["queries"]
    assert set(queries) == set(frame["Category"]), "one query per category"
    ids = [str(i) for i in range(len(frame))]
    encoder = open_encoder(Settings(home=home))
    started = time.perf_counter()
    index = build_index(
        Settings(home=Path(tmp.name) / "index"),
        Rows(ids, list(frame["Resume"]), "Resume", None),
        encoder,
        name="resumes",
        source=DATA,
    )
    built = time.perf_counter() - started
    kept = [int(i) for i in index.ids]
    labels = [frame["Category"][i] for i in kept]
    docs = len(kept)

    started = time.perf_counter()
    parts = {q: components(text, index, encoder) for q, text in queries.items()}
    scored = (time.perf_counter() - started) / len(queries)
    relevant = {q: {i for i in range(docs) if labels[i] == q} for q in queries}

    def per_query(order_of: dict[str, list[int]], names: list[str]) -> tuple[np.ndarray, ...]:
        n = np.array([ndcg(order_of[q], relevant[q]) for q in names])
        r = np.array([recall(order_of[q], relevant[q]) for q in names])
        return n, r

    def order(scores: np.ndarray) -> list[int]:
        return ranking(scores, index.ids)

    bm25 = {q: order(p.lexical) for q, p in parts.items()}
    embed = {q: order(p.semantic) for q, p in parts.items()}
    fused = {q: order(rrf(bm25[q], embed[q])) for q, p in parts.items()}

    def combined(weights: Weights) -> dict[str, list[int]]:
        return {q: order(combine(p, weights)) for q, p in parts.items()}

    first = Weights(0.4, 0.4, 0.2, skill_idf=False)
    ablations = {
        "first combination (0.4/0.4/0.2, plain coverage)": first,
        "+ skills weighed by IDF": dataclasses.replace(first, skill_idf=True),
    }
    grid = [
        dataclasses.replace(
            DEFAULT_WEIGHTS, semantic=s / 10, lexical=b / 10, skills=(10 - s - b) / 10
        )
        for s, b in itertools.product(range(11), range(11))
        if s + b <= 10 and (s + b) > 0
    ]
    tune = list(TUNE)
    held = sorted(set(queries) - set(TUNE))
    best = max(grid, key=lambda w: per_query(combined(w), tune)[0].mean())

    rows = []
    for label, names in (("all 25", sorted(queries)), ("held-out 20", held)):
        a_n, a_r = per_query(bm25, names)
        b_n, b_r = per_query(embed, names)
        c_n, c_r = per_query(combined(DEFAULT_WEIGHTS), names)
        f_n, f_r = per_query(fused, names)
        line = {
            "queries": label,
            "(a) BM25": (a_n.mean(), a_r.mean()),
            "(b) embeddings": (b_n.mean(), b_r.mean()),
            "(c) combined, default weights": (c_n.mean(), c_r.mean()),
            "(r) RRF of (a), (b)": (f_n.mean(), f_r.mean()),
            "(c)-(a) NDCG@10": (float((c_n - a_n).mean()), *interval(c_n - a_n)),
        }
        for name, weights in ablations.items():
            x_n, x_r = per_query(combined(weights), names)
            line[f"(x) {name}"] = (x_n.mean(), x_r.mean())
            line[f"(x) {name} -(a) NDCG@10"] = (float((x_n - a_n).mean()), *interval(x_n - a_n))
        if label != "all 25":
            t_n, t_r = per_query(combined(best), names)
            line["(c') combined, tuned weights"] = (t_n.mean(), t_r.mean())
            line["(c')-(a) NDCG@10"] = (float((t_n - a_n).mean()), *interval(t_n - a_n))
        rows.append(line)

    print(f"# recruit retrieval  ({cpu_model()})\n\n`{command_line()}`\n")
    print(
        f"{len(frame)} distinct résumés read, {docs} indexed "
        f"({len(frame) - docs} more duplicates after redaction/whitespace folding); "
        f"{len(queries)} queries; index built in {built:.1f} s, {scored * 1000:.0f} ms/query "
        f"for all components\n"
    )
    print(
        f"tuned on {', '.join(TUNE)}: semantic {best.semantic:.1f}, lexical "
        f"{best.lexical:.1f}, skills {best.skills:.1f}; default {DEFAULT_WEIGHTS}\n"
    )
    for line in rows:
        print(
            f"## {line.pop('queries')}\n\n| ranking | NDCG@10 | recall@10 |\n| --- | ---: | ---: |"
        )
        for name, value in line.items():
            if "-(a)" in name:
                continue
            print(f"| {name} | {value[0]:.3f} | {value[1]:.3f} |")
        for name, value in line.items():
            if "-(a)" in name:
                print(
                    f"\n{name}: {value[0]:+.3f}, 95% bootstrap interval "
                    f"[{value[1]:+.3f}, {value[2]:+.3f}]"
                )
        print()
    per = combined(DEFAULT_WEIGHTS)
    print("| category | relevant | BM25 | embeddings | combined |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for q in sorted(queries):
        print(
            f"| {q}{' (tune)' if q in TUNE else ''} | {len(relevant[q])} | "
            f"{ndcg(bm25[q], relevant[q]):.3f} | {ndcg(embed[q], relevant[q]):.3f} | "
            f"{ndcg(per[q], relevant[q]):.3f} |"
        )
    encoder.close()


if __name__ == "__main__":
    main()
