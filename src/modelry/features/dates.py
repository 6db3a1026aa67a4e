"""Dates and times: where in time (standardised days) and where in the cycles.

Month and day of week are encoded as points on a circle (sin, cos), so December
sits next to January and Sunday next to Monday.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from typing import Any, Self

import numpy as np

from modelry.data.columns import Coded, ColumnArray
from modelry.features.base import Cells, Encoder
from modelry.features.feature_config import DatetimeFeature
from modelry.features.values import coded_lookup, invalid_value

SECONDS_PER_DAY = 86_400.0
_ISO = re.compile(r"\d{4}-\d{2}")
# numpy warns on, and will drop, UTC offsets in strings: they are applied here instead.
_OFFSET = re.compile(r"(?:Z|([+-])(\d{2}):?(\d{2}))$")
_NAMES = ("days", "month_sin", "month_cos", "weekday_sin", "weekday_cos")
_EPOCH = dt.date(1970, 1, 1)
# The cycles as tables, read by both paths: a month (weekday) is one of 12 (7) points.
_MONTH_ANGLES = np.arange(12) * (2 * math.pi / 12)
_WEEKDAY_ANGLES = np.arange(7) * (2 * math.pi / 7)
_MONTH_SIN, _MONTH_COS = np.sin(_MONTH_ANGLES), np.cos(_MONTH_ANGLES)
_WEEKDAY_SIN, _WEEKDAY_COS = np.sin(_WEEKDAY_ANGLES), np.cos(_WEEKDAY_ANGLES)
_MONTHS = list(zip(_MONTH_SIN.tolist(), _MONTH_COS.tolist(), strict=True))  # (sin, cos)
_WEEKDAYS = list(zip(_WEEKDAY_SIN.tolist(), _WEEKDAY_COS.tolist(), strict=True))


def parse_seconds(value: Any) -> float | None:
    """Seconds since 1970-01-01 UTC (NaN when missing); None when not a date or time.

    Accepts ISO 8601 strings (a date, or a date and time, optionally with ``Z`` or a
    UTC offset), :class:`datetime.date`/:class:`datetime.datetime` and numpy datetime64.
    """
    if value is None:
        return math.nan
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return math.nan
        if not _ISO.match(text):
            return None
        shift = 0.0
        offset = _OFFSET.search(text)
        if offset and len(text) > 10:  # "2024-01-02" ends in digits, not an offset
            text = text[: offset.start()]
            if offset.group(1):
                sign = 1.0 if offset.group(1) == "+" else -1.0
                shift = sign * (int(offset.group(2)) * 3600 + int(offset.group(3)) * 60)
        try:
            stamp = np.datetime64(text, "ms")
        except ValueError:
            return None
        return float(stamp.astype(np.int64)) / 1000.0 - shift
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return float(value.timestamp())
    if isinstance(value, dt.date):
        return float((value - dt.date(1970, 1, 1)).days) * SECONDS_PER_DAY
    if isinstance(value, np.datetime64):
        if np.isnat(value):
            return math.nan
        return float(value.astype("datetime64[ms]").astype(np.int64)) / 1000.0
    if isinstance(value, float) and math.isnan(value):
        return math.nan
    return None


class DatetimeEncoder(Encoder[DatetimeFeature]):
    """A timestamp as standardised days since the epoch and sin/cos of month and weekday.

    A missing value becomes the training median, and a 0/1 missing indicator is
    output when training had missing values.

    Attributes (after ``fit``):
        median_: The median timestamp, in days since the epoch (the fill value).
        mean_, std_: Standardisation of the days.
        indicator_: Whether the missing indicator is output.
    """

    config_type = DatetimeFeature

    def days(self, values: ColumnArray) -> np.ndarray:
        """float64 days since 1970-01-01 UTC, NaN where missing."""
        if isinstance(values, Coded):
            categories = values.categories.tolist()
            parsed = [parse_seconds(c) for c in categories]
            lut = np.array([math.nan if p is None else p for p in parsed] + [math.nan])
            seconds = coded_lookup(values.codes, lut, self.name)
            bad = [i for i, p in enumerate(parsed) if p is None]
            used = np.flatnonzero(np.isin(values.codes, bad)) if bad else np.empty(0, np.intp)
            if len(used):
                row = int(used[0])
                raise invalid_value(self.name, row, values.decode()[row], "an ISO date or time")
        elif values.dtype.kind == "M":
            stamps = values.astype("datetime64[ms]")
            seconds = stamps.astype(np.int64) / 1000.0
            seconds[np.isnat(stamps)] = np.nan
        else:
            seconds = np.empty(len(values), dtype=np.float64)
            cache: dict[Any, float | None] = {}
            for row, value in enumerate(values.tolist()):
                try:
                    parsed_value = cache[value] if value in cache else parse_seconds(value)
                except TypeError:  # unhashable
                    parsed_value = None
                if parsed_value is None:
                    raise invalid_value(self.name, row, value, "an ISO date or time")
                if isinstance(value, str):
                    cache[value] = parsed_value
                seconds[row] = parsed_value
        return seconds / SECONDS_PER_DAY

    def fit(self, values: ColumnArray) -> Self:
        days = self.days(values)
        missing = np.isnan(days)
        present = days[~missing]
        self.median_ = float(np.median(present)) if len(present) else 0.0
        filled = np.where(missing, self.median_, days)
        self.mean_ = float(filled.mean()) if len(filled) else 0.0
        std = float(filled.std()) if len(filled) else 0.0
        self.std_ = std if std > 0.0 else 1.0
        self.indicator_ = bool(missing.any())
        self.n_dense_ = 6 if self.indicator_ else 5
        return self

    def prepare(self, values: ColumnArray) -> np.ndarray:
        return self.days(values)

    def write(self, prepared: np.ndarray, out: np.ndarray, start: int, codes: np.ndarray) -> None:
        days = prepared
        dense = out[:, start : start + self.n_dense_]
        missing = np.isnan(days)
        days = np.where(missing, self.median_, days)
        dense[:, 0] = (days - self.mean_) / self.std_
        whole_days = np.floor(days).astype(np.int64)
        month = whole_days.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64) % 12
        weekday = (whole_days + 3) % 7  # 1970-01-01 was a Thursday; Monday is 0
        dense[:, 1] = _MONTH_SIN[month]
        dense[:, 2] = _MONTH_COS[month]
        dense[:, 3] = _WEEKDAY_SIN[weekday]
        dense[:, 4] = _WEEKDAY_COS[weekday]
        if self.indicator_:
            dense[:, 5] = missing

    def write_value(
        self, value: Any, cells: Cells, at: int, codes: list[int], code_at: int
    ) -> bool:
        """What :func:`parse_seconds` reads, in Python's range of dates (years 1 to 9999)."""
        seconds = parse_seconds(value)
        if seconds is None:
            return False
        days = seconds / SECONDS_PER_DAY
        if days != days:  # missing
            days = self.median_
            if self.indicator_:
                cells[at + 5] = 1.0
        try:
            whole_days = math.floor(days)
            month = (_EPOCH + dt.timedelta(days=whole_days)).month - 1
        except OverflowError:  # beyond Python's dates: numpy's calendar reaches further
            return False
        cells[at] = (days - self.mean_) / self.std_
        cells[at + 1], cells[at + 2] = _MONTHS[month]
        cells[at + 3], cells[at + 4] = _WEEKDAYS[(whole_days + 3) % 7]
        return True

    def _names(self) -> list[str]:
        names = [f"{self.name}:{part}" for part in _NAMES]
        return [*names, f"{self.name}=__missing__"][: self.n_dense_]

    def _state(self) -> dict[str, Any]:
        return {
            "median": self.median_,
            "mean": self.mean_,
            "std": self.std_,
            "indicator": self.indicator_,
        }

    def _load_state(self, state: dict[str, Any]) -> None:
        self.median_ = float(state["median"])
        self.mean_ = float(state["mean"])
        self.std_ = float(state["std"])
        self.indicator_ = bool(state["indicator"])
        self.n_dense_ = 6 if self.indicator_ else 5
