"""Group thresholds as the runtime applies them."""

from __future__ import annotations

import numpy as np

from modelry.data.columns import Coded
from modelry.serving.thresholds import UNKNOWN, apply_group_thresholds, group_key, group_keys


def test_group_keys_normalise_missing_and_numbers() -> None:
    assert [group_key(v) for v in (None, float("nan"), "", " F ", 1.0, 2.5, True)] == [
        UNKNOWN,
        UNKNOWN,
        UNKNOWN,
        "F",
        "1",
        "2.5",
        "true",
    ]
    plain = np.array(["F", None, "M", "F"], dtype=object)
    coded = Coded(codes=np.array([0, -1, 1, 0]), categories=np.array(["F", "M"], dtype=object))
    assert group_keys(plain).tolist() == group_keys(coded).tolist() == ["F", UNKNOWN, "M", "F"]
    assert group_keys(np.array([1.0, np.nan])).tolist() == ["1", UNKNOWN]


def test_apply_group_thresholds() -> None:
    scores = np.array([0.45, 0.45, 0.45, 0.55])
    gender = np.array(["F", "M", None, "X"], dtype=object)
    table = {"gender": {"F": 0.4, "M": 0.5, UNKNOWN: 0.3, "Z": 0.9}}
    got = apply_group_thresholds(scores, {"gender": gender}, table, 0.5)
    assert got.tolist() == [True, False, True, True]  # X is unknown to the table: base 0.5
    # Without the column in the request, or without a table: the base threshold.
    assert apply_group_thresholds(scores, {}, table, 0.5).tolist() == [False, False, False, True]
    assert apply_group_thresholds(scores, {"gender": gender}, None, 0.4).all()
