"""``modelry recruit``: candidate indexes, job matching with reasons, and the decision log.

``modelry recruit index candidates.csv --name pool`` redacts, deduplicates, extracts skills,
embeds and stores the candidates; ``modelry recruit match job.txt --index pool`` ranks them
and logs the shortlist; ``modelry recruit log verify`` checks the log's hash chain.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from modelry.cli import console
from modelry.errors import InvalidInputError, SourceError
from modelry.settings import Settings

if TYPE_CHECKING:
    from modelry.apps.recruitment.shortlist import JobText

recruit_app = typer.Typer(
    help="Recruitment: index candidates, match them to jobs, audit the decisions.",
    no_args_is_help=True,
)
log_app = typer.Typer(help="The decision log of every shortlist.", no_args_is_help=True)
recruit_app.add_typer(log_app, name="log")


@recruit_app.command("index")
def index_command(
    candidates: Annotated[
        Path, typer.Argument(help="CSV file, one candidate a row; or a folder of résumés.")
    ],
    text_column: Annotated[
        str | None, typer.Option(help="Column of résumé text (default: the longest text).")
    ] = None,
    id_column: Annotated[
        str | None, typer.Option(help="Column of candidate ids (default: row numbers from 1).")
    ] = None,
    name: Annotated[
        str | None, typer.Option(help="The index's name (default: the file's name).")
    ] = None,
    encoder: Annotated[str, typer.Option(help="The registered text encoder.")] = "text-encoder",
    sensitive: Annotated[
        list[str] | None,
        typer.Option(
            help="A protected attribute column (repeatable): stored for the fairness record of "
            "every shortlist, never embedded or matched on."
        ),
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Redact, deduplicate, find skills, embed and store candidates as an index version.

    A folder's .txt, .pdf and .docx files are one candidate each (id: the file's stem); a
    file that cannot be read, or holds no text, is skipped and named.
    """
    from modelry.apps.recruitment.encoding import open_encoder
    from modelry.apps.recruitment.index import build_index
    from modelry.apps.recruitment.sources import read_folder, read_rows

    settings = Settings()
    index_name = name or re.sub(r"[^A-Za-z0-9_.-]", "-", candidates.stem).lstrip("._-") or "pool"
    other_files: list[str] = []
    if candidates.is_dir():
        if text_column is not None or id_column is not None or sensitive:
            raise InvalidInputError(
                f"{candidates} is a folder: --text-column, --id-column and --sensitive are "
                "for a CSV file"
            )
        folder = read_folder(candidates)
        rows, other_files = folder.rows, folder.other_files
    else:
        rows = read_rows(candidates, text_column, id_column, sensitive or ())
    loaded = open_encoder(settings, encoder)
    try:
        built = build_index(settings, rows, loaded, name=index_name, source=candidates)
    finally:
        loaded.close()
    spec = built.spec
    skipped = {k: len(v) for k, v in spec.skipped.items()}
    duplicate_rows = sum(len(v) for v in spec.duplicates.values())
    if json_output:
        console.print_json(
            {
                "name": spec.name,
                "version": spec.version,
                "path": str(built.path),
                "text_column": spec.text_column,
                "candidates": len(spec.candidates),
                "duplicates": spec.duplicates,
                "skipped": spec.skipped,
                "sensitive": spec.sensitive,
                "problems": rows.problems,
                "other_files": other_files,
            }
        )
        return
    console.out.print(
        f"indexed {len(spec.candidates)} candidates as {spec.name}:{spec.version} "
        f"(text column {spec.text_column!r}"
        + (f"; protected attributes {', '.join(spec.sensitive)}" if spec.sensitive else "")
        + f")\npath {built.path}",
        highlight=False,
    )
    if duplicate_rows:
        groups = "; ".join(f"{k} = {', '.join(v)}" for k, v in list(spec.duplicates.items())[:5])
        more = " …" if len(spec.duplicates) > 5 else ""
        console.warn(f"{duplicate_rows} duplicate rows not indexed (same text as: {groups}{more})")
    what = "files" if candidates.is_dir() else "rows"
    for reason, count in skipped.items():
        if count and reason == "unreadable":
            for row_id in spec.skipped[reason]:
                console.warn(f"skipped {rows.problems[row_id]}")
        elif count:
            console.warn(f"{count} {what} skipped: {reason} ({_listed(spec.skipped[reason])})")
    if other_files:
        console.warn(
            f"{len(other_files)} files left out, not .txt/.pdf/.docx ({_listed(other_files)})"
        )


def _listed(names: list[str], most: int = 10) -> str:
    return ", ".join(names[:most]) + (" …" if len(names) > most else "")


def _read_job(path: Path) -> str:
    try:
        data = path.read_bytes()
    except FileNotFoundError as exc:
        raise SourceError(f"{path}: no such file") from exc
    except OSError as exc:
        raise SourceError(f"{path}: cannot read ({exc.strerror})") from exc
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInputError(f"{path}: not UTF-8 text (is it a text file?)") from exc


@recruit_app.command("match")
def match_command(
    index: Annotated[str, typer.Option(help="The candidate index's name.")],
    job: Annotated[
        Path | None, typer.Argument(help="Text file of the job description.", show_default=False)
    ] = None,
    candidate: Annotated[
        str | None, typer.Option(help="Rank jobs for this candidate instead (needs --jobs).")
    ] = None,
    jobs: Annotated[
        Path | None, typer.Option(help="CSV of jobs for --candidate: an id column and a text.")
    ] = None,
    top: Annotated[
        int | None,
        typer.Option(
            min=1, help="How many to list (20 candidates, or 5 jobs).", show_default=False
        ),
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Rank an index's candidates for a job, or jobs for a candidate, with reasons; the
    answer is logged."""
    from modelry.apps.recruitment.shortlist import Shortlist, job_list, shortlist

    result: Shortlist
    if candidate is not None or jobs is not None:
        if candidate is None or jobs is None or job is not None:
            raise InvalidInputError("ranking jobs needs --candidate and --jobs, and no JOB file")
        result = job_list(Settings(), candidate, _read_jobs(jobs), index, top=top or 5)
    elif job is None:
        raise InvalidInputError("give a JOB file, or --candidate ID --jobs JOBS.csv")
    else:
        result = shortlist(Settings(), _read_job(job), index, top=top or 20)
    if json_output:
        console.print_json(result.answer(candidate))
        return
    fairness = result.entry.get("fairness")
    what = "jobs" if candidate is not None else "candidates"
    for rank, m in enumerate(result.matches, start=1):
        r = m.reasons
        console.out.print(
            f"{rank:>3}. {m.id}  score {m.score:.3f}  (semantic {r['semantic']:.2f}, "
            f"BM25 {r['lexical']:.2f}, skills {r['skill_coverage']:.2f})\n"
            f"     matched: {', '.join(r['matched_skills']) or '-'}; "
            f"missing: {', '.join(r['missing_skills']) or '-'}\n"
            f"     passage: {r['passage'][:160]}",
            highlight=False,
            markup=False,
            soft_wrap=True,
        )
    if fairness:
        _print_fairness(fairness)
    console.out.print(
        f"{len(result.matches)} {what}; logged as decision {result.entry['seq']}", highlight=False
    )


def _print_fairness(fairness: dict[str, Any]) -> None:
    """Per attribute and group: selected, selection rate, impact ratio, exposure."""
    for attribute, audit in fairness["attributes"].items():
        console.out.print(f"fairness by {attribute}:", highlight=False, markup=False)
        for group, g in audit["groups"].items():
            ratio = "-" if g["impact_ratio"] is None else f"{g['impact_ratio']:.2f}"
            exposure = "-" if g["exposure_ratio"] is None else f"{g['exposure_ratio']:.2f}"
            console.out.print(
                f"  {group}: {g['selected']}/{g['size']} selected (rate {g['selection_rate']:.2f}, "
                f"impact ratio {ratio}); exposure {g['exposure_share']:.0%} of the list for "
                f"{g['pool_share']:.0%} of the pool (ratio {exposure})"
                + (" [small group]" if g["small"] else ""),
                highlight=False,
                markup=False,
            )
    for warning in fairness["warnings"]:
        console.warn(warning)


def _read_jobs(path: Path) -> list[JobText]:
    """The jobs of a CSV file: its ``id`` (or ``job_id``) column, else row numbers from 1,
    and its longest text column."""
    from modelry.apps.recruitment.shortlist import JobText
    from modelry.apps.recruitment.sources import read_rows

    header = _header(path)
    id_column = next((c for c in ("id", "job_id") if c in header), None)
    rows = read_rows(path, None, id_column)
    return [
        JobText(i, t if isinstance(t, str) else "")
        for i, t in zip(rows.ids, rows.texts, strict=True)
    ]


def _header(path: Path) -> list[str]:
    import csv

    try:
        with path.open(newline="", encoding="utf-8") as f:
            return next(csv.reader(f), [])
    except FileNotFoundError as exc:
        raise SourceError(f"{path}: no such file") from exc
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise SourceError(f"{path}: not a readable CSV file ({exc})") from exc


@log_app.command("verify")
def verify_command() -> None:
    """Check the hash chain of the decision log (exit 1 naming the first bad entry)."""
    from modelry.apps.recruitment.decisions import log_path, verify

    path = log_path(Settings())
    checked = verify(path)
    typer.echo(f"{checked.entries} entries, chain intact; head {checked.head}")


@log_app.command("show")
def show_command(
    last: Annotated[int | None, typer.Option(min=1, help="Only the newest N entries.")] = None,
) -> None:
    """Print the decision log's entries (JSON lines), oldest first."""
    import json

    from modelry.apps.recruitment.decisions import log_path, read

    entries = list(read(log_path(Settings())))
    for entry in entries[-last:] if last else entries:
        typer.echo(json.dumps(entry, ensure_ascii=False))
