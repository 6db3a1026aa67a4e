"""Jobs ranked for a candidate vs human rankings: Kendall's τ on ``vacancy_resume_matching``.

``../shared/data/vacancy_resume_matching`` (Vanetik & Kogan, 2023; read its README): 65
software-developer CVs (``CV/*.docx``) and 5 software-developer vacancies; annotator 1 ranked
the 5 vacancies for CVs 1–30, annotator 2 for CVs 1–20. The CV folder is indexed the way
``modelry recruit index FOLDER`` does (python-docx, redaction, skills, MiniLM passages, BM25),
and for each annotated CV modelry ranks the 5 vacancies as ``modelry recruit match --candidate
CV --jobs …`` does (:func:`~modelry.apps.recruitment.matching.rank_jobs`: the CV as the query,
the vacancies as the documents, default weights). Reported, per annotator, over the CVs whose
array is a permutation: mean Kendall's τ-b (``scipy.stats.kendalltau``) of

* modelry's ranking of the vacancies for the CV,
* the CV's standing in each vacancy's ranking of the 65 CVs (its combined score there; the
  first design of ``rank_jobs``, kept for comparison),
* the plain cosine of CV and vacancy embeddings,

against the annotator's ranking, with a bootstrap 95 % interval over CVs (10,000 resamples), and
the annotators' agreement with each other on the CVs both ranked. The annotation file does not
say whether an array lists vacancies best first (the README's reading, used here) or gives each
vacancy's rank (the inverted reading); both are shown. A smoke test, as the README says: 5 items,
30 and 20 CVs, annotators who barely agree.

Run::

    .venv/bin/python bench/recruit_kendall.py [--home DIR_WITH_TEXT_ENCODER]
"""

from __future__ import annotations

import argparse
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
from modelry.apps.recruitment.index import build_index
from modelry.apps.recruitment.matching import combine, prepare_job, rank_jobs, score
from modelry.apps.recruitment.sources import read_folder
from modelry.settings import Settings

DATA = SHARED_DATA / "vacancy_resume_matching"


def annotations() -> dict[int, dict[int, list[int]]]:
    """annotator -> cv -> the array as written (positions 1..5), permutations only."""
    import pandas as pd

    long = pd.read_csv(DATA / "derived" / "annotations_long.csv")
    out: dict[int, dict[int, list[int]]] = {}
    for (annotator, cv), rows in long.groupby(["annotator", "cv_id"]):
        if int(rows["array_is_permutation"].iloc[0]) != 1:
            continue
        array = [int(v) for v in rows.sort_values("array_position")["array_value"]]
        out.setdefault(int(annotator), {})[int(cv)] = array
    return out


def ranks(array: list[int], inverted: bool) -> np.ndarray:
    """The rank (1 = best) of vacancies 1..5 under a reading of an annotation array."""
    if inverted:  # element j is the rank of vacancy j
        return np.array(array, dtype=float)
    out = np.zeros(5)
    for place, vacancy in enumerate(array, start=1):  # vacancies listed best first
        out[vacancy - 1] = place
    return out


def tau(a: np.ndarray, b: np.ndarray) -> float:
    from scipy.stats import kendalltau

    return float(kendalltau(a, b).statistic)


def main() -> None:
    import pandas as pd

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--home", type=Path, help="a MODELRY_HOME holding text-encoder")
    args = parser.parse_args()
    tmp = tempfile.TemporaryDirectory()
    home = encoder_home(args.home, Path(tmp.name))

    folder = read_folder(DATA / "CV")
    encoder = open_encoder(Settings(home=home))
    started = time.perf_counter()
    index = build_index(
        Settings(home=Path(tmp.name) / "index"),
        folder.rows,
        encoder,
        name="cvs",
        source=DATA / "CV",
    )
    built = time.perf_counter() - started
    vacancies = pd.read_csv(DATA / "5_vacancies.csv")
    jobs = [prepare_job(text) for text in vacancies["job_description"]]
    chunk_vectors = [encoder.embed(job.chunks) for job in jobs]
    encoder.close()
    parts = [score(job, v, index) for job, v in zip(jobs, chunk_vectors, strict=True)]
    standing = np.stack([combine(p) for p in parts], axis=1)  # [cvs, 5]
    vectors = np.stack([v.mean(axis=0) / np.linalg.norm(v.mean(axis=0)) for v in chunk_vectors])
    cosine = index.embeddings @ vectors.T  # [cvs, 5]
    numbers = [str(n) for n in range(1, 6)]
    turned = np.zeros_like(standing)  # [cvs, 5]: 5 for the best vacancy, 1 for the worst
    for i, cv in enumerate(index.ids):
        for place, m in enumerate(rank_jobs(cv, numbers, jobs, chunk_vectors, index, top=5)):
            turned[i, int(m.id) - 1] = 5 - place
    position = {cv: i for i, cv in enumerate(index.ids)}
    human = annotations()

    def model_ranks(scores: np.ndarray, cv: int) -> np.ndarray:
        row = scores[position[str(cv)]]
        return (-row).argsort(kind="stable").argsort() + 1.0

    print(f"# recruit kendall  ({cpu_model()})\n\n`{command_line()}`\n")
    skipped = {k: v for k, v in index.spec.skipped.items() if v}
    print(
        f"{len(folder.rows.ids)} CV files read, {len(index.ids)} indexed "
        f"(duplicates {index.spec.duplicates or 'none'}, skipped {skipped or 'none'}); "
        f"index built in {built:.1f} s; 5 vacancies\n"
    )
    for inverted in (False, True):
        reading = (
            "inverted reading (element j = rank of vacancy j)"
            if inverted
            else ("README's reading (arrays list vacancies best first)")
        )
        print(f"## {reading}\n")
        print("| ranking | annotator | CVs | mean τ | 95% interval |")
        print("| --- | --- | ---: | ---: | --- |")
        rankings = (
            ("modelry: vacancies for the CV", turned),
            ("the CV's standing per vacancy", standing),
            ("embedding cosine", cosine),
        )
        for name, scores in rankings:
            for annotator, arrays in sorted(human.items()):
                cvs = [cv for cv in sorted(arrays) if str(cv) in position]
                taus = np.array(
                    [tau(model_ranks(scores, cv), ranks(arrays[cv], inverted)) for cv in cvs]
                )
                low, high = interval(taus)
                print(
                    f"| {name} | {annotator} | {len(cvs)} | {taus.mean():+.3f} | "
                    f"[{low:+.3f}, {high:+.3f}] |"
                )
        both = sorted(set(human[1]) & set(human[2]))
        agree = np.array(
            [tau(ranks(human[1][cv], inverted), ranks(human[2][cv], inverted)) for cv in both]
        )
        low, high = interval(agree)
        print(
            f"| annotator 1 vs annotator 2 | — | {len(both)} | {agree.mean():+.3f} | "
            f"[{low:+.3f}, {high:+.3f}] |\n"
        )
    top = {
        a: sum(
            int(np.argmin(ranks(arr[cv], False)) == np.argmax(turned[position[str(cv)]]))
            for cv in arr
            if str(cv) in position
        )
        for a, arr in human.items()
    }
    print(
        "modelry's top vacancy is the annotator's (README's reading): "
        + ", ".join(f"annotator {a}: {n}/{len(human[a])}" for a, n in sorted(top.items()))
    )


if __name__ == "__main__":
    main()
