import datetime as dt
import math

import numpy as np
import pytest

from modelry.data.columns import Coded
from modelry.errors import InvalidInputError
from modelry.features.dates import DatetimeEncoder, parse_seconds
from modelry.features.feature_config import DatetimeFeature


def objects(*values: object) -> np.ndarray:
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


TRAIN = objects("2024-01-01", "2024-03-15T12:00:00", "2023-12-31 06:30", None)


def test_outputs_and_cycles() -> None:
    enc = DatetimeEncoder(DatetimeFeature(name="at")).fit(TRAIN)
    assert enc.output_names == [
        "at:days",
        "at:month_sin",
        "at:month_cos",
        "at:weekday_sin",
        "at:weekday_cos",
        "at=__missing__",
    ]
    # 2024-01-01 was a Monday: month 0 and weekday 0 sit at angle 0.
    out = enc.transform(objects("2024-01-01", "2024-07-04"))
    np.testing.assert_allclose(out[0, 1:5], [0, 1, 0, 1], atol=1e-6)
    jul, thu = 6 * 2 * math.pi / 12, 3 * 2 * math.pi / 7
    np.testing.assert_allclose(
        out[1, 1:5], [math.sin(jul), math.cos(jul), math.sin(thu), math.cos(thu)], atol=1e-6
    )


def test_days_standardised_on_train_and_missing_gets_median() -> None:
    values = objects("2024-01-01", "2024-01-03", "2024-01-05")
    enc = DatetimeEncoder(DatetimeFeature(name="at")).fit(values)
    days = enc.transform(values)[:, 0]
    assert abs(days.mean()) < 1e-6 and abs(days.std() - 1) < 1e-6
    assert enc.output_names[-1] == "at:weekday_cos"  # no missing in training: no indicator
    enc = DatetimeEncoder(DatetimeFeature(name="at")).fit(TRAIN)
    missing, median = enc.transform(objects(None, "2024-01-01"))
    np.testing.assert_array_equal(missing[:5], median[:5])
    assert missing[5] == 1.0 and median[5] == 0.0


def test_parsing_forms() -> None:
    base = parse_seconds("2024-01-02T10:00:00")
    assert base == dt.datetime(2024, 1, 2, 10, tzinfo=dt.UTC).timestamp()
    assert parse_seconds("2024-01-02T10:00:00Z") == base
    assert parse_seconds("2024-01-02T11:00:00+01:00") == base
    assert parse_seconds("2024-01-02T05:00:00-0500") == base
    assert parse_seconds(dt.datetime(2024, 1, 2, 10)) == base
    assert parse_seconds(np.datetime64("2024-01-02T10:00")) == base
    assert parse_seconds(dt.date(2024, 1, 2)) == base - 10 * 3600
    assert math.isnan(parse_seconds(None) or 0.0)
    assert parse_seconds("20240102") is None
    assert parse_seconds("tomorrow") is None


def test_datetime64_and_coded_inputs_equal_strings() -> None:
    enc = DatetimeEncoder(DatetimeFeature(name="at")).fit(TRAIN)
    strings = objects("2024-02-01", "2024-05-06T07:08:09", None)
    stamps = np.array(["2024-02-01", "2024-05-06T07:08:09", "NaT"], dtype="datetime64[s]")
    coded = Coded(
        codes=np.array([0, 1, -1]), categories=objects("2024-02-01", "2024-05-06T07:08:09")
    )
    np.testing.assert_array_equal(enc.transform(strings), enc.transform(stamps))
    np.testing.assert_array_equal(enc.transform(strings), enc.transform(coded))


@pytest.mark.parametrize(
    "values",
    [
        objects("2024-01-01", "not a date"),
        objects("2024-01-01", 17),
        Coded(codes=np.array([0, 1]), categories=objects("2024-01-01", "2024-13-45")),
    ],
)
def test_unparseable_values_name_column_and_row(values: object) -> None:
    enc = DatetimeEncoder(DatetimeFeature(name="signed_at")).fit(TRAIN)
    with pytest.raises(InvalidInputError, match="'signed_at', row 1"):
        enc.transform(values)  # type: ignore[arg-type]


def test_round_trip() -> None:
    enc = DatetimeEncoder(DatetimeFeature(name="at")).fit(TRAIN)
    again = DatetimeEncoder.from_dict(enc.to_dict())
    np.testing.assert_array_equal(enc.transform(TRAIN), again.transform(TRAIN))
