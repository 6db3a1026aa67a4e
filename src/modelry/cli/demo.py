"""``modelry demo``: make data, train on it, serve it, ask it — in one command."""

from __future__ import annotations

import csv
import json
import socket
import threading
import time
import urllib.request
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer

from modelry.cli import console
from modelry.settings import Settings

JOBS = ["admin", "blue-collar", "technician", "services", "management", "retired", "student"]
CHANNELS = ["email", "phone", "letter"]


def campaign_table(rows: int = 6000, seed: int = 7) -> dict[str, Any]:
    """A past marketing campaign: who was contacted, and who responded.

    The response follows a known logistic rule (young and retired people, high
    balances, the phone channel and a previous purchase respond more; many
    contacts annoy), so a good model must find it.
    """
    rng = np.random.default_rng(seed)
    age = rng.integers(18, 80, rows)
    job = rng.choice(JOBS, rows, p=[0.2, 0.2, 0.15, 0.15, 0.15, 0.1, 0.05])
    job = np.where((age > 64) & (rng.random(rows) < 0.7), "retired", job)
    balance = np.round(rng.lognormal(7.0, 1.2, rows), 2)
    contacts = rng.poisson(2.0, rows) + 1
    channel = rng.choice(CHANNELS, rows, p=[0.5, 0.3, 0.2])
    purchased_before = rng.random(rows) < 0.25
    logit = (
        -3.0
        + 1.6 * np.isin(job, ["retired", "student"])
        + 0.9 * np.log1p(balance / 1000.0)
        + 1.5 * (channel == "phone")
        + 2.0 * purchased_before
        - 0.5 * (contacts - 1)
        - 0.03 * np.abs(age - 45)
    )
    responded = rng.random(rows) < 1.0 / (1.0 + np.exp(-logit))
    ids = [f"C{100000 + i}" for i in range(rows)]
    emails = [f"customer{i}@example.com" for i in range(rows)]
    return {
        "customer_id": ids,
        "email": emails,
        "age": age,
        "job": job,
        "balance": balance,
        "contacts": contacts,
        "channel": channel,
        "purchased_before": np.where(purchased_before, "yes", "no"),
        "responded": np.where(responded, "yes", "no"),
    }


def write_csv(table: dict[str, Any], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    names = list(table)
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(names)
        writer.writerows(zip(*(table[n] for n in names), strict=True))
    return path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _post(url: str, body: dict[str, Any]) -> Any:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def serve_and_ask(settings: Settings, name: str, instances: list[dict[str, Any]]) -> Any:
    """Start the real HTTP server on a free loopback port, ask it once, stop it."""
    import uvicorn

    from modelry.api.app import create_app

    port = _free_port()
    config = uvicorn.Config(
        create_app(settings, models=[name]), host="127.0.0.1", port=port, log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        url = f"http://127.0.0.1:{port}/v1/models/{name}:predict"
        return url, _post(url, {"instances": instances})
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def target_prospects(settings: Settings, rows: int) -> None:
    """Score a fresh list of prospects and choose whom to contact under a budget."""
    from modelry.apps.marketing.campaign import target_file
    from modelry.registry.store import Registry

    table = campaign_table(max(rows // 3, 200), seed=8)
    del table["responded"]  # prospects: nobody knows yet
    prospects = write_csv(table, settings.home / "demo" / "prospects.csv")
    output = settings.home / "demo" / "contacts.csv"
    console.out.print(
        "[bold]3. target[/] modelry marketing target campaign",
        console.escape(str(prospects)),
        "--cost-per-contact 5 --value-per-conversion 60 --budget 2000",
    )
    registry = Registry(settings)
    version = registry.get("campaign")
    done = target_file(
        registry,
        version.name,
        version.version,
        prospects,
        output,
        cost=5.0,
        value=60.0,
        budget=2000.0,
        charts=settings.home / "demo" / "charts",
    )
    summary = done.selection.summary()
    console.out.print(
        f"contact {summary['contacted']:,} of {summary['customers']:,} prospects for "
        f"{summary['cost']:,.0f}: {summary['expected_conversions']:,.1f} expected conversions, "
        f"expected profit {summary['expected_profit']:,.0f} → {done.output}",
        highlight=False,
        markup=False,
    )


ROLES = {
    "data scientist": ["python", "machine learning", "sql", "statistics", "pandas"],
    "backend engineer": ["java", "spring", "sql", "docker", "kubernetes"],
    "frontend developer": ["javascript", "react", "css", "html", "typescript"],
    "accountant": ["accounting", "excel", "financial reporting", "audit", "tax"],
    "nurse": ["patient care", "nursing", "medication administration", "first aid", "teamwork"],
}


def resumes_table(rows: int = 40, seed: int = 9) -> dict[str, Any]:
    """Candidates with short résumés drawn from a few roles' skills (one has an e-mail in it)."""
    rng = np.random.default_rng(seed)
    roles = list(ROLES)
    ids, texts = [], []
    for i in range(rows):
        role = roles[i % len(roles)]
        skills = rng.choice(ROLES[role], size=3, replace=False)
        years = int(rng.integers(1, 15))
        texts.append(
            f"{role.capitalize()} with {years} years of experience. Skilled in "
            f"{', '.join(skills)}. Worked on projects for clients in retail and finance."
            + (" Contact: jane.doe@example.com" if i == 0 else "")
        )
        ids.append(f"R{1000 + i}")
    return {"candidate_id": ids, "resume": texts}


def match_candidates(settings: Settings) -> None:
    """Register the shared text encoder, index synthetic résumés and shortlist them for a job."""
    from modelry.apps.recruitment.encoding import open_encoder
    from modelry.apps.recruitment.index import build_index
    from modelry.apps.recruitment.shortlist import shortlist
    from modelry.apps.recruitment.sources import read_rows
    from modelry.cli.encoder import add_encoder
    from modelry.registry.store import Registry

    names = {m.name for m in Registry(settings).list_models()}
    console.out.print("[bold]4. encoder[/] modelry encoder add  (all-MiniLM-L6-v2 → ONNX, once)")
    if "text-encoder" not in names:
        add_encoder(settings)
    candidates = write_csv(resumes_table(), settings.home / "demo" / "candidates.csv")
    console.out.print(
        "[bold]5. recruit[/] modelry recruit index",
        console.escape(str(candidates)),
        "--name demo-pool; modelry recruit match job.txt --index demo-pool --top 3",
    )
    encoder = open_encoder(settings)
    try:
        build_index(
            settings,
            read_rows(candidates, "resume", "candidate_id"),
            encoder,
            name="demo-pool",
            source=candidates,
        )
    finally:
        encoder.close()
    job = "We are hiring a data scientist: Python, SQL and machine learning; statistics a plus."
    result = shortlist(settings, job, "demo-pool", top=3)
    for match in result.matches:
        skills = ", ".join(match.reasons.get("matched_skills", [])) or "none"
        console.out.print(
            f"  {match.id}  score {match.score:.3f}  matched skills: {skills}",
            highlight=False,
            markup=False,
        )
    console.out.print(
        "  logged; check the chain with: modelry recruit log verify", highlight=False, markup=False
    )


def demo_command(
    rows: Annotated[int, typer.Option(help="Rows of campaign data to generate.")] = 6000,
    serve: Annotated[
        bool, typer.Option("--serve/--no-serve", help="Serve the model and query it.")
    ] = True,
    recruit: Annotated[
        bool,
        typer.Option(
            "--recruit/--no-recruit",
            help="Register the text encoder (about 30 s the first time), index synthetic "
            "résumés and shortlist them for a job.",
        ),
    ] = True,
) -> None:
    """Generate a marketing campaign, train a response model on it, target new prospects with
    it under a budget, then serve it and query it."""
    from modelry.cli.train import report
    from modelry.pipeline import train_model
    from modelry.training.config import TrainConfig

    settings = Settings()
    data = write_csv(campaign_table(rows), settings.home / "demo" / "campaign.csv")
    console.out.print(
        f"[bold]1. data[/]  {rows:,} customers of a past campaign → {console.escape(str(data))}"
    )
    config = TrainConfig.from_dict(
        {"name": "campaign", "data": {"target": "responded"}, "training": {"epochs": 30}}
    )
    console.out.print("[bold]2. train[/] modelry train", data, "--target responded --name campaign")
    outcome = train_model(config, data, settings)
    report(outcome)
    target_prospects(settings, rows)
    if recruit:
        match_candidates(settings)
    if not serve:
        return
    instances = [
        {
            "age": 70,
            "job": "retired",
            "balance": 25000.0,
            "contacts": 1,
            "channel": "phone",
            "purchased_before": "yes",
        },
        {
            "age": 40,
            "job": "blue-collar",
            "balance": 300.0,
            "contacts": 6,
            "channel": "letter",
            "purchased_before": "no",
        },
    ]
    url, answer = serve_and_ask(settings, "campaign", instances)
    console.out.print(f"[bold]6. serve[/] POST {console.escape(url)}")
    console.out.print_json(data=answer)
    console.out.print(
        "\nServe it yourself:  modelry serve --models campaign\n"
        "Then:  curl -s localhost:8080/v1/models/campaign:predict "
        "-H 'Content-Type: application/json' "
        '-d \'{"instances": [{"age": 70, "job": "retired", "balance": 25000, "contacts": 1, '
        '"channel": "phone", "purchased_before": "yes"}]}\'',
        highlight=False,
        markup=False,
    )
