# ruff: noqa: E501  (markdown text reads better unwrapped)
"""Résumé screening: modelry through the shared text encoder beside TF-IDF + logistic regression.

``resume_dataset`` (text → 25 categories) holds 167 distinct résumés among 962 rows. The
exact duplicates are dropped first (as ``modelry train --text-encoder`` does), then both
sides see the same grouped, stratified 5 folds (``StratifiedGroupKFold``, group = the
BLAKE2b hash of the text, so a text is never on both sides of a fold even were it repeated):

* ``modelry``: the training stages of ``modelry train --text-encoder text-encoder`` with no
  tuning option: ``prepare`` on the deduplicated table, ``embed_text`` through the registered
  encoder (all-MiniLM-L6-v2 over ONNX, its first 256 word pieces), then per fold
  ``preprocess`` (fitted on the fold's training rows), ``fit`` (network beside its logistic
  regression), ``evaluate`` and ``choose`` (the served one: network, or the baseline when it
  wins beyond noise), with the fold's test rows as the test split and 15 % of its training
  rows (stratified, seed 0) as the validation split early stopping watches. Figures for the
  served model, the network and the baseline;
* ``tfidf``: ``TfidfVectorizer(sublinear_tf=True, min_df=2)`` + ``LogisticRegression(C=10)``
  fitted on all the fold's training rows (one fixed setting, not tuned on these folds).

Metrics: accuracy and macro-F1 of the out-of-fold predictions over all 167 résumés, and the
mean ± sd over folds; the paired per-fold difference of accuracy (modelry − tfidf).

Run from the repository root (~5 min on 2 shared cores):

    .venv/bin/python bench/screening.py [--home DIR] [--seed 0] [--no-history]

``--home`` reuses a registry holding ``text-encoder`` (else one is made in a temporary
directory by ``modelry encoder add``'s code, ~30 s).
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from context import SHARED_DATA, append_results, command_line, cpu_model, loadavg, versions

DATA = SHARED_DATA / "resume_dataset" / "UpdatedResumeDataSet.csv"
FOLDS = 5


def text_hash(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).hexdigest()


def modelry_fold(
    prepared: Any, config: Any, fold_train: np.ndarray, fold_test: np.ndarray, features: list[Any]
) -> dict[str, np.ndarray]:
    """Class predictions on the fold's test rows: the served model, the network, the baseline."""
    from modelry.data.split import Split, split_rows
    from modelry.pipeline.choice import choose
    from modelry.pipeline.stages import evaluate, fit, preprocess

    inner = split_rows(
        len(fold_train), y=prepared.y[fold_train], valid=0.15, test=0.0, seed=config.training.seed
    )
    split = Split(
        train=np.sort(fold_train[inner.train]),
        valid=np.sort(fold_train[inner.valid]),
        test=np.sort(fold_test),
    )
    fold = replace(prepared, split=split)
    data = preprocess(fold, features)
    fitted = fit(fold, data, config)
    evaluated = evaluate(data, fitted)
    chosen = choose(fold, data, fitted, evaluated, config)
    order = np.argsort(np.argsort(fold_test))  # split.test is sorted; back to fold order
    return {
        "served": chosen.evaluated.outputs["test"].argmax(axis=1)[order],
        "network": evaluated.outputs["test"].argmax(axis=1)[order],
        "baseline": evaluated.baseline_outputs["test"].argmax(axis=1)[order],
        "which": np.array([chosen.selection.served]),
    }


def tfidf_fold(texts: np.ndarray, y: np.ndarray, train: np.ndarray, test: np.ndarray) -> np.ndarray:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    vectorizer = TfidfVectorizer(sublinear_tf=True, min_df=2)
    x_train = vectorizer.fit_transform(texts[train])
    model = LogisticRegression(C=10, max_iter=5000).fit(x_train, y[train])
    predicted: np.ndarray = model.predict(vectorizer.transform(texts[test]))
    return predicted


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--home", type=Path, help="a registry holding text-encoder")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-history", action="store_true", help="do not append to history.md")
    args = parser.parse_args()

    import pandas as pd
    from sklearn.metrics import accuracy_score, f1_score
    from sklearn.model_selection import StratifiedGroupKFold

    from modelry.cli.encoder import add_encoder
    from modelry.pipeline.encoding import embed_text
    from modelry.pipeline.stages import prepare
    from modelry.registry.store import Registry
    from modelry.settings import Settings
    from modelry.training.config import TrainConfig

    started = time.perf_counter()
    home = args.home or Path(tempfile.mkdtemp(prefix="bench-screening-"))
    settings = Settings(home=home)
    if args.home is None:
        add_encoder(settings)
    registry = Registry(settings)

    raw = pd.read_csv(DATA)
    config = TrainConfig.from_dict(
        {
            "data": {"target": "Category", "text_encoder": "text-encoder"},
            "training": {"seed": args.seed},
        }
    )
    prepared = prepare(config, DATA, settings)  # drops the exact duplicates first
    kept = prepared.duplicates["kept"]
    embedding_started = time.perf_counter()
    prepared, encoding = embed_text(prepared, "text-encoder", [], registry)
    embed_seconds = time.perf_counter() - embedding_started
    features = encoding.features()
    texts = prepared.frame["Resume"].astype(str).to_numpy()
    y = prepared.y
    classes = prepared.schema.classes or []
    groups = np.array([text_hash(t) for t in texts])
    assert len(set(groups)) == len(texts) == kept, "distinct texts after deduplication"

    folds = list(
        StratifiedGroupKFold(FOLDS, shuffle=True, random_state=args.seed).split(texts, y, groups)
    )
    sides = ("served", "network", "baseline", "tfidf")
    oof = {side: np.full(len(y), -1) for side in sides}
    per_fold: dict[str, list[float]] = {side: [] for side in sides}
    served_by_fold: list[str] = []
    for k, (train, test) in enumerate(folds):
        assert not set(groups[train]) & set(groups[test])
        t0 = time.perf_counter()
        ours = modelry_fold(prepared, config, train, test, features)
        served_by_fold.append(str(ours.pop("which")[0]))
        predicted = {**ours, "tfidf": tfidf_fold(texts, y, train, test)}
        for side in sides:
            oof[side][test] = predicted[side]
            per_fold[side].append(float(accuracy_score(y[test], predicted[side])))
        print(
            f"fold {k + 1}: {len(train)} train / {len(test)} test, served {served_by_fold[-1]}, "
            + ", ".join(f"{s} {per_fold[s][-1]:.3f}" for s in sides)
            + f" ({time.perf_counter() - t0:.0f} s)",
            flush=True,
        )

    rows = []
    for side in sides:
        accuracy = float(accuracy_score(y, oof[side]))
        macro = float(f1_score(y, oof[side], average="macro"))
        mean, sd = statistics.mean(per_fold[side]), statistics.stdev(per_fold[side])
        rows.append((side, accuracy, macro, mean, sd))
    diff = [a - b for a, b in zip(per_fold["served"], per_fold["tfidf"], strict=True)]
    worst = sorted(
        ((classes[c], float((oof["served"][y == c] == c).mean())) for c in np.unique(y)),
        key=lambda item: item[1],
    )[:5]
    seconds = time.perf_counter() - started

    labels = {
        "served": "modelry, served model (through the encoder)",
        "network": "modelry network",
        "baseline": "modelry logistic regression on the embeddings",
        "tfidf": "TF-IDF + logistic regression (C=10)",
    }
    lines = [
        f"## Résumé screening through the encoder — {dt.date.today().isoformat()} (bench/screening.py)",
        "",
        f"Command: `{command_line()}` (seed {args.seed}). CPU: {cpu_model()}, load {loadavg()}; "
        f"{seconds:.0f} s in all, embedding the {kept} résumés {embed_seconds:.0f} s. "
        + ", ".join(f"{k} {v}" for k, v in versions().items())
        + ".",
        "",
        f"`resume_dataset`: {len(raw)} rows, {prepared.duplicates['dropped']} exact duplicates "
        f"dropped, {kept} distinct résumés, {len(classes)} categories; {FOLDS} stratified folds "
        "grouped by text hash, the same folds for every side. Encoder: "
        f"`{encoding.model}` v{encoding.version} ({encoding.details.get('model')}, "
        f"{encoding.dimension}-d, first {encoding.details.get('max_tokens')} word pieces).",
        "",
        "| model | accuracy (out-of-fold) | macro-F1 | accuracy per fold, mean ± sd |",
        "| --- | ---: | ---: | ---: |",
        *[
            f"| {labels[s]} | {a:.3f} | {m:.3f} | {mean:.3f} ± {sd:.3f} |"
            for s, a, m, mean, sd in rows
        ],
        "",
        f"- Served per fold: {', '.join(served_by_fold)}.",
        f"- Paired per-fold accuracy difference, served − TF-IDF: {statistics.mean(diff):+.3f} "
        f"± {statistics.stdev(diff):.3f} (sd over folds; {', '.join(f'{d:+.3f}' for d in diff)}).",
        "- Hardest categories for the served model (out-of-fold recall): "
        + ", ".join(f"{name} {recall:.2f}" for name, recall in worst)
        + ".",
    ]
    section = "\n".join(lines) + "\n"
    print(section)
    if not args.no_history:
        append_results(section)


if __name__ == "__main__":
    main()
