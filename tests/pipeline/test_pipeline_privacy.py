"""No raw personal data in artifacts, the registry, responses, errors or logs.

A generated table plants names, e-mail addresses and phone numbers (whole columns, and
e-mails and phones inside a free-text column), trains through the real pipeline, scans
every file the registry holds for them, then serves the model in process and sends
them back in wrong fields and in the text field.
"""

from __future__ import annotations

import csv
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from modelry.api.app import create_app
from modelry.data.schema import Role
from modelry.pipeline import TrainOutcome, prepare, train_model
from modelry.settings import Settings
from modelry.training.config import TrainConfig

FIRST = ["Ingrid", "Tomasz", "Aurelie", "Kwame", "Sunniva", "Dmitri", "Leocadia", "Oyelaran"]
LAST = ["Vasquez-Holm", "Brannigan", "Okonkwo", "Lindqvist", "Marchetti", "Szymanska"]
TOPICS = ["billing", "upgrade", "cancellation", "outage", "renewal", "discount"]
N = 360


def _rows() -> list[dict[str, Any]]:
    rng = np.random.default_rng(3)
    rows = []
    for i in range(N):
        first, last = FIRST[i % len(FIRST)], LAST[(i // len(FIRST)) % len(LAST)]
        topic = TOPICS[int(rng.integers(len(TOPICS)))]
        age = int(rng.integers(18, 80))
        plan = str(rng.choice(["basic", "plus", "pro"]))
        signal = (age - 45) / 15 + (topic in ("upgrade", "renewal")) - (plan == "basic")
        rows.append(
            {
                "customer_ref": f"CREF{i:05d}X",
                "full_name": f"{first} {last}",
                "email": f"{first.lower()}.{i}@mailhost-{i % 7}.example",
                "phone": f"+44 20 7946 {i:04d}",
                "age": age,
                "plan": plan,
                "notes": (
                    f"Called about {topic} of the {plan} plan; asked to be contacted at "
                    f"{first.lower()}{i}@inbox.example or on +1 415 555 {i:04d} after {i % 12} pm"
                ),
                "target": "yes" if signal + rng.logistic() * 0.5 > 0 else "no",
            }
        )
    return rows


ROWS = _rows()


def planted() -> set[str]:
    """Every raw personal value in the table (whole values and those inside the notes)."""
    values: set[str] = set()
    for i, row in enumerate(ROWS):
        values |= {row["customer_ref"], row["full_name"], row["email"], row["phone"]}
        first = row["full_name"].split()[0].lower()
        values |= {f"{first}{i}@inbox.example", f"+1 415 555 {i:04d}", f"415 555 {i:04d}"}
    return values


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[TrainOutcome, Settings, Path]:
    folder = tmp_path_factory.mktemp("privacy")
    data = folder / "contacts.csv"
    with data.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(ROWS[0]))
        writer.writeheader()
        writer.writerows(ROWS)
    settings = Settings(home=folder / "home")
    config = TrainConfig.from_dict(
        {
            "name": "contacts",
            "data": {"target": "target", "pseudonymise": ["customer_ref"]},
            "training": {"epochs": 3, "seed": 0},
        }
    )
    return train_model(config, data, settings), settings, data


def test_roles_keep_personal_data_out_of_the_features(
    trained: tuple[TrainOutcome, Settings, Path],
) -> None:
    outcome, _, _ = trained
    schema = outcome.schema
    roles = {c.name: c.role for c in schema.columns}
    assert roles["full_name"] == roles["email"] == roles["phone"] == Role.PERSONAL
    assert roles["customer_ref"] == Role.IDENTIFIER
    assert roles["notes"] == Role.FEATURE
    ref = next(c for c in schema.columns if c.name == "customer_ref")
    assert "pseudonymised (HMAC)" in ref.reason
    network = json.loads((outcome.artifact / "network.json").read_text())
    assert network["redacted_text"] == ["notes"]


def test_no_file_of_the_registry_holds_a_planted_value(
    trained: tuple[TrainOutcome, Settings, Path],
) -> None:
    outcome, settings, _ = trained
    files = [p for p in settings.home.rglob("*") if p.is_file()]
    assert outcome.artifact / "schema.json" in files
    assert any(p.suffix in (".db", ".sqlite", ".sqlite3") for p in files), files
    values = [v.encode() for v in planted()]
    for path in files:
        content = path.read_bytes()
        found = [v.decode() for v in values if v in content]
        assert not found, f"{path.relative_to(settings.home)} holds {found[:3]}"


def test_pseudonymised_columns_are_identifiers_not_personal(tmp_path: Path) -> None:
    data = tmp_path / "contacts.csv"
    with data.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(ROWS[0]))
        writer.writeheader()
        writer.writerows(ROWS)
    raw = {"data": {"target": "target", "pseudonymise": ["email", "phone"]}}
    key = Settings(pseudonymise_key="k1")  # type: ignore[arg-type]
    prepared = prepare(TrainConfig.from_dict(raw), data, key)
    for name in ("email", "phone"):
        column = next(c for c in prepared.schema.columns if c.name == name)
        assert column.role == Role.IDENTIFIER and "pseudonymised (HMAC)" in column.reason
        assert name not in prepared.columns
    hashed = prepared.frame["email"].tolist()
    assert not set(hashed) & {r["email"] for r in ROWS}
    assert len(set(hashed)) == N and all(len(h) == 16 for h in hashed)
    # the same key gives the same pseudonyms (joins work); another key, other ones
    again = prepare(TrainConfig.from_dict(raw), data, key).frame["email"].tolist()
    other = Settings(pseudonymise_key="k2")  # type: ignore[arg-type]
    assert again == hashed
    assert not set(prepare(TrainConfig.from_dict(raw), data, other).frame["email"]) & set(hashed)


# -- serving --------------------------------------------------------------------------------

LEAK = "ivy.leak@secret-domain.example"
LEAK_PHONE = "+1 212 555 0147"


@pytest.fixture
def client(
    trained: tuple[TrainOutcome, Settings, Path],
) -> Iterator[httpx.AsyncClient]:
    _, settings, _ = trained
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app)
    yield httpx.AsyncClient(transport=transport, base_url="http://modelry")


def instance(**changes: Any) -> dict[str, Any]:
    row = {"age": 40, "plan": "plus", "notes": "Called about upgrade of the plus plan"}
    return {**row, **changes}


@pytest.mark.anyio
async def test_served_answers_and_logs_never_echo_personal_data(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with_leak = f"Called about upgrade; mail {LEAK} or call {LEAK_PHONE}"
    requests: list[tuple[str, Any, int]] = [
        (":predict", {"instances": [instance(email=LEAK)]}, 422),  # an extra field
        (":predict", {"instances": [instance(**{LEAK: 1})]}, 422),  # ...named like one
        (":predict", {"instances": [instance(age=LEAK)]}, 422),  # a wrong-typed value
        (":predict", {"instances": [instance(notes=with_leak)]}, 200),
        (":explain", {"instances": [instance(notes=with_leak)]}, 200),
        (":explain", {"instances": [instance(age=LEAK_PHONE)]}, 422),
    ]
    async with client:
        for suffix, body, status in requests:
            r = await client.post(f"/v1/models/contacts{suffix}", json=body)
            assert r.status_code == status, r.text
            assert LEAK not in r.text and LEAK_PHONE not in r.text, r.text
        v2 = {
            "inputs": [
                {"name": "age", "datatype": "BYTES", "shape": [1], "data": [LEAK]},
                {"name": "plan", "datatype": "BYTES", "shape": [1], "data": ["plus"]},
                {"name": "notes", "datatype": "BYTES", "shape": [1], "data": [with_leak]},
            ],
            "parameters": {"explain": True},
        }
        r = await client.post("/v2/models/contacts/infer", json=v2)
        assert r.status_code == 422 and LEAK not in r.text
        v2["inputs"][0] = {"name": "age", "datatype": "FP64", "shape": [1], "data": [40]}
        r = await client.post("/v2/models/contacts/infer", json=v2)
        assert r.status_code == 200 and LEAK not in r.text and LEAK_PHONE not in r.text
    assert caplog.records  # the service did log (model loading): nothing of the requests
    assert LEAK not in caplog.text and LEAK_PHONE not in caplog.text


@pytest.mark.anyio
async def test_text_is_redacted_at_predict_time_as_in_training(
    client: httpx.AsyncClient,
) -> None:
    notes = f"Called about renewal; write to {LEAK}, call {LEAK_PHONE}, see https://x.example/a"
    redacted = "Called about renewal; write to [EMAIL], call [PHONE], see [URL]"
    async with client:
        for suffix, key in ((":predict", "predictions"), (":explain", "explanations")):
            answers = []
            for text in (notes, redacted):
                body = {"instances": [instance(notes=text)]}
                r = await client.post(f"/v1/models/contacts{suffix}", json=body)
                assert r.status_code == 200, r.text
                answers.append(r.json()[key][0])
            assert answers[0]["score"] == pytest.approx(answers[1]["score"], abs=1e-6)
        reasons = {r["column"]: r["value"] for r in answers[0]["reasons"]}
        assert reasons.get("notes") in (None, redacted)
