from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from modelry.data.privacy import (
    detect_personal,
    mask_value,
    pseudonymise,
    pseudonymise_table,
    redact_text,
)
from modelry.data.sources import read_table
from modelry.errors import SchemaError


@pytest.mark.parametrize(
    "name",
    ["email", "E-Mail", "contact_email", "phone", "mobile_number", "first_name", "LastName",
     "surname", "full_name", "name", "home_address", "street", "ssn", "passport_no",
     "national_id", "ip_address", "dob", "birth_date"],
)  # fmt: skip
def test_personal_by_name(name: str) -> None:
    reason = detect_personal(name, [])
    assert reason is not None and name in reason


@pytest.mark.parametrize(
    ("values", "what"),
    [
        ([f"user{i}@mail.example.org" for i in range(10)], "e-mail"),
        (["+31 20 123 4567", "(555) 123-4567", "555.123.4567", "n/a"], "phone"),
        (["10.0.0.1", "192.168.1.20"], "IP"),
        (["123-45-6789", "987-65-4321"], "national ID"),
    ],
)
def test_personal_by_values(values: list[object], what: str) -> None:
    reason = detect_personal("col", values)
    assert reason is not None and what in reason


@pytest.mark.parametrize(
    ("name", "values"),
    [
        ("euribor3m", [4.857, 4.856, 1.313]),
        ("pdays", [999, 999, 6]),
        ("year", [2014, 2015, 2016]),
        ("period", ["2014-2016", "2015-2017"]),
        ("company_size", ["50-99", "1000-4999", "10/49", "10000+"]),
        ("signup", ["2020-01-01", "2021/03/04"]),
        ("code", ["12345678", "87654321"]),
        ("amount", ["12.345.678", "1,234,567"]),
        ("contact", ["telephone", "cellular"]),
        ("segment", ["Womens E-Mail", "No E-Mail"]),
        ("job_title", ["Software Developer", "Analyst"]),
    ],
)
def test_ordinary_columns_are_not_personal(name: str, values: list[object]) -> None:
    assert detect_personal(name, values) is None


def test_personal_inside_free_text() -> None:
    texts = ["Experienced engineer. Reach me at jo@corp.io for details."] + ["plain text"] * 50
    reason = detect_personal("summary", texts)
    assert reason is not None and "free text containing e-mail" in reason


def test_redact_text() -> None:
    text = (
        "Call +1 (555) 123-4567 or mail a.b@x.com, see https://x.org/p?u=me@x.com. "
        "Phone: 09876971076. Worked 2014-2016, scored 93.994 on 20/07/2015."
    )
    assert redact_text(text) == (
        "Call [PHONE] or mail [EMAIL], see [URL] Phone: [PHONE]. "
        "Worked 2014-2016, scored 93.994 on 20/07/2015."
    )


def test_pseudonymise() -> None:
    values = np.array(["ann", None, "bob", "ann", float("nan")], dtype=object)
    out = pseudonymise(values, b"k1")
    assert out[0] == out[3] and out[0] != out[2] and len(out[0]) == 16
    assert out[1] is None and out[4] is None
    assert pseudonymise(values, b"k2")[0] != out[0]
    with pytest.raises(ValueError, match="key"):
        pseudonymise(values, b"")


def test_mask_value() -> None:
    assert mask_value("ann@example.com") == "'[EMAIL]'"
    assert mask_value(3.5) == "3.5"
    assert mask_value("x" * 100).endswith("...") and len(mask_value("x" * 100)) == 60


def test_pseudonymise_table() -> None:
    import pandas as pd

    frame = pd.DataFrame({"email": ["a@x.com", "b@x.com", "a@x.com"], "n": [1, 2, 3]})
    out = pseudonymise_table(frame, ["email"], b"k")
    assert out["email"][0] == out["email"][2] != out["email"][1]
    assert frame["email"][0] == "a@x.com" and out["n"].tolist() == [1, 2, 3]
    with pytest.raises(SchemaError, match="'mail' is not in the data"):
        pseudonymise_table(frame, ["mail"], b"k")


@pytest.mark.realdata
def test_resume_emails_found_and_redacted(shared_data: Path) -> None:
    df = read_table(shared_data / "resume_dataset" / "UpdatedResumeDataSet.csv")
    texts = df["Resume"].tolist()
    reason = detect_personal("Resume", texts)
    assert reason is not None and "e-mail" in reason
    with_email = [t for t in texts if "@gmail.com" in t]
    assert with_email
    assert all(
        "@gmail.com" not in redact_text(t) and "[EMAIL]" in redact_text(t) for t in with_email
    )


@pytest.mark.realdata
def test_bank_columns_are_not_personal(shared_data: Path) -> None:
    df = read_table(shared_data / "bank_marketing_additional" / "bank-additional-full.csv")
    flagged = {c: r for c in df.columns if (r := detect_personal(c, df[c].head(2000).tolist()))}
    assert flagged == {}
