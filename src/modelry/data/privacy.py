"""Personal data: find it in columns and free text, redact it, pseudonymise it.

A column is personal data when its name says so (``email``, ``phone``, ``last_name``) or
when its values look like e-mail addresses, phone numbers, IP addresses or national IDs.
Free text (a resume, a note) is checked separately: it may *contain* personal data while
still being the signal a model needs, so the caller decides what to do with it
(:func:`redact_text` before use is the usual answer).

Example:
    >>> detect_personal("contact_email", ["ann@example.com"])
    "name 'contact_email' suggests an e-mail address"
    >>> redact_text("mail ann@example.com or call +44 20 7946 0958")
    'mail [EMAIL] or call [PHONE]'
"""

from __future__ import annotations

import hashlib
import hmac
import math
import re
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from modelry.errors import SchemaError

SAMPLE_SIZE = 200
"""Whole-value checks look at this many non-missing values."""

TEXT_SAMPLE_SIZE = 5000
"""Free-text checks scan this many values: one e-mail in a thousand resumes matters."""

MATCH_FRACTION = 0.3

_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
_URL = re.compile(r"\b(?:https?://|www\.)[^\s<>\"']+", re.IGNORECASE)
# Whole values: a phone is digit groups with separators or a leading '+'; plain digit runs
# are left alone, since numeric codes (pdays=999, years, zip codes) look the same.
_PHONE_VALUE = re.compile(r"\+?\(?\d{1,4}\)?(?:[\s.\-/]?\(?\d{1,5}\)?){1,6}")
_SSN = re.compile(r"\d{3}-\d{2}-\d{4}")
_IPV4 = re.compile(r"(?:\d{1,3}\.){3}\d{1,3}")
_THOUSANDS = re.compile(r"\d{1,3}(?:[.,' ]\d{3})+(?:[.,]\d+)?")  # 12.345.678 is an amount
_DATE_LIKE = re.compile(r"\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}(?:[ T].*)?")
# Inside free text, year ranges ("2014-2016") and dates abound, so only unambiguous
# shapes count: an international number with '+', or a 3-3-4 grouped number.
_PHONE_TEXT = re.compile(
    r"(?<![\w+])(?:\+\d{1,3}[\s.-]?(?:\(\d{1,4}\)[\s.-]?)?\d[\d\s.-]{6,14}\d"
    r"|\(?\d{3}\)?[\s.-]\d{3}[\s.-]\d{4})(?!\w)"
)
# ...or any digit run right after a label: "Phone: 09876971076".
_PHONE_LABELLED = re.compile(
    r"(\b(?:phone|mobile|mob|tel|cell|contact)(?:\s*(?:no|number|#))?\.?\s*[:-]?\s*)"
    r"(\+?\d[\d\s-]{6,14}\d)(?!\d)",
    re.IGNORECASE,
)

_NAME_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"(^|_)e_?mail(_?(address|addr))?$"), "an e-mail address"),
    (
        re.compile(r"(^|_)(phone|telephone|tel|mobile|cell|cellphone)(_?(number|no|nr))?$"),
        "a phone number",
    ),
    (
        re.compile(
            r"(^|_)(first|last|full|given|family|middle|maiden|user|customer|candidate"
            r"|applicant|employee|person|contact)_?name$|^name$|(^|_)surname$"
        ),
        "a person's name",
    ),
    (re.compile(r"(^|_)ip(_?(address|addr))?$"), "an IP address"),
    (
        re.compile(r"(^|_)(street|home|postal|mailing|billing|shipping)?_?address$|(^|_)street$"),
        "a postal address",
    ),
    (
        re.compile(
            r"(^|_)(ssn|social_security(_number)?|passport(_?(number|no))?|national_?id"
            r"|tax_?id|driver_?licen[cs]e)$"
        ),
        "a national identity number",
    ),
    (re.compile(r"(^|_)(dob|date_of_birth|birth_?date|birthday)$"), "a date of birth"),
)


def _snake(name: str) -> str:
    """``FirstName`` and ``first-name`` both become ``first_name``."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name.strip())
    return re.sub(r"[^a-z0-9]+", "_", spaced.lower()).strip("_")


def _is_missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _strings(sample: Sequence[object], limit: int) -> list[str]:
    """Non-missing string values, stripped; numbers are skipped (they are not contact data)."""
    out: list[str] = []
    for value in sample:
        if isinstance(value, str) and value.strip():
            out.append(value.strip())
            if len(out) >= limit:
                break
    return out


def _is_phone(value: str) -> bool:
    if not _PHONE_VALUE.fullmatch(value) or _is_ipv4(value):
        return False
    if _DATE_LIKE.fullmatch(value) or _THOUSANDS.fullmatch(value):
        return False
    groups = re.findall(r"\d+", value)
    digits = sum(len(g) for g in groups)
    # Two groups read as a range ("1000-4999", "2014-2016"); a phone has a '+', an area
    # code in parentheses, or three groups and more.
    shaped = value.startswith("+") or "(" in value or len(groups) >= 3
    return shaped and 7 <= digits <= 15


def _is_ipv4(value: str) -> bool:
    return bool(_IPV4.fullmatch(value)) and all(int(p) <= 255 for p in value.split("."))


def personal_by_name(name: str) -> str | None:
    """Why the column *name* marks personal data, or ``None``."""
    snake = _snake(name)
    for pattern, what in _NAME_RULES:
        if pattern.search(snake):
            return f"name {name!r} suggests {what}"
    return None


def personal_by_values(sample: Sequence[object]) -> str | None:
    """Why the values themselves are personal data (≥ 30 % look like it), or ``None``."""
    values = _strings(sample, SAMPLE_SIZE)
    if not values:
        return None
    checks: tuple[tuple[str, Callable[[str], bool]], ...] = (
        ("e-mail addresses", lambda v: bool(_EMAIL.fullmatch(v))),
        ("national ID numbers", lambda v: bool(_SSN.fullmatch(v))),
        ("IP addresses", _is_ipv4),
        ("phone numbers", _is_phone),
    )
    for what, check in checks:
        hits = sum(1 for v in values if check(v))
        if hits >= MATCH_FRACTION * len(values):
            return f"values look like {what} ({hits} of {len(values)} sampled)"
    return None


def personal_in_text(sample: Sequence[object]) -> str | None:
    """Why free text *contains* personal data (any e-mail or phone number), or ``None``."""
    values = _strings(sample, TEXT_SAMPLE_SIZE)
    found: list[str] = []
    checks: tuple[tuple[str, Callable[[str], bool]], ...] = (
        ("e-mail addresses", lambda v: bool(_EMAIL.search(v))),
        ("phone numbers", lambda v: bool(_PHONE_TEXT.search(v) or _PHONE_LABELLED.search(v))),
    )
    for what, check in checks:
        hits = sum(1 for v in values if check(v))
        if hits:
            found.append(f"{what} in {hits} of {len(values)} values")
    return "free text containing " + " and ".join(found) if found else None


def detect_personal(name: str, sample: Sequence[object]) -> str | None:
    """Why a column is (or contains) personal data, or ``None`` when it looks clean.

    Checks the name first, then whole values, then e-mails and phone numbers inside text.

    Args:
        name: The column name.
        sample: Some of its values (missing ones are skipped; numbers never match).

    Returns:
        A short reason, e.g. ``"values look like e-mail addresses (57 of 60 sampled)"``.
    """
    return personal_by_name(name) or personal_by_values(sample) or personal_in_text(sample)


def redact_text(text: str) -> str:
    """Replace URLs, e-mail addresses and phone numbers with ``[URL]``, ``[EMAIL]``, ``[PHONE]``.

    URLs go first: a URL may hold an '@' or a digit run that would otherwise be mistaken.
    """
    text = _URL.sub("[URL]", text)
    text = _EMAIL.sub("[EMAIL]", text)
    text = _PHONE_LABELLED.sub(lambda m: m.group(1) + "[PHONE]", text)
    return _PHONE_TEXT.sub("[PHONE]", text)


def mask_value(value: object, limit: int = 60) -> str:
    """``repr(value)`` fit for an error message or a log: contact data masked, long text cut.

    Strings go through :func:`redact_text` first, so a request that puts an e-mail address
    in the wrong field never gets it echoed back (or logged) in the 422 that names the field.
    """
    shown = repr(redact_text(value) if isinstance(value, str) else value)
    return shown if len(shown) <= limit else shown[: limit - 3] + "..."


def pseudonymise(values: np.ndarray, key: bytes) -> np.ndarray:
    """Keyed pseudonyms: HMAC-SHA256 of each value's text, first 16 hex characters.

    The same value and key always give the same pseudonym, so joins and group splits still
    work; without the key the mapping cannot be rebuilt by hashing guesses.

    Args:
        values: Any 1-d array; missing values (None, NaN) stay ``None``.
        key: The secret key.

    Returns:
        An object array of str (or ``None``), same length as ``values``.
    """
    if not key:
        raise ValueError("pseudonymise needs a non-empty key")
    cache: dict[str, str] = {}
    out = np.empty(len(values), dtype=object)
    for i, value in enumerate(values.tolist()):
        if _is_missing(value):
            out[i] = None
            continue
        text = str(value)
        if text not in cache:
            digest = hmac.new(key, text.encode("utf-8"), hashlib.sha256).hexdigest()
            cache[text] = digest[:16]
        out[i] = cache[text]
    return out


def pseudonymise_table(frame: Any, names: Sequence[str], key: bytes) -> Any:
    """A copy of a DataFrame with the named columns' values replaced by their pseudonyms.

    Raises:
        SchemaError: A named column is not in the table.
    """
    absent = [n for n in names if n not in frame.columns]
    if absent:
        raise SchemaError(
            f"pseudonymised column {absent[0]!r} is not in the data; "
            f"columns are: {', '.join(map(str, frame.columns))}",
            column=absent[0],
        )
    out = frame.copy()
    for name in names:
        out[name] = pseudonymise(out[name].to_numpy(dtype=object), key)
    return out
