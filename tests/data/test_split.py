from __future__ import annotations

import numpy as np
import pytest

from modelry.data.split import Split, split_rows
from modelry.errors import ConfigError, DataError


def parts(split: Split) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return split.train, split.valid, split.test


def covers(split: Split, n: int) -> bool:
    joined = np.concatenate(parts(split))
    return len(joined) == n and bool((np.sort(joined) == np.arange(n)).all())


def test_plain_split_is_deterministic() -> None:
    a, b = split_rows(1000, seed=1), split_rows(1000, seed=1)
    assert a.sizes == {"train": 700, "valid": 150, "test": 150}
    assert all((x == y).all() for x, y in zip(parts(a), parts(b), strict=True))
    assert covers(a, 1000) and a.train.dtype == np.int64
    assert not (split_rows(1000, seed=2).test == a.test).all()


def test_stratified() -> None:
    y = np.array(["a"] * 900 + ["b"] * 100)
    split = split_rows(1000, y=y, seed=0)
    assert covers(split, 1000)
    assert [int((y[p] == "b").sum()) for p in parts(split)] == [70, 15, 15]


def test_stratified_pools_tiny_classes() -> None:
    y = np.array([0] * 95 + [1] * 3 + [2] * 2)
    split = split_rows(100, y=y, seed=0)
    assert covers(split, 100) and min(split.sizes.values()) > 0


def test_time_order() -> None:
    split = split_rows(20, time_order=True, valid=0.2, test=0.1)
    assert split.train.tolist() == list(range(14))
    assert split.valid.tolist() == list(range(14, 18))
    assert split.test.tolist() == [18, 19]


def test_groups_stay_together() -> None:
    groups = np.array([f"g{i // 5}" for i in range(500)], dtype=object)
    split = split_rows(500, groups=groups, seed=4)
    assert covers(split, 500)
    sets = [set(groups[p]) for p in parts(split)]
    assert not (sets[0] & sets[1] or sets[0] & sets[2] or sets[1] & sets[2])
    assert 0.1 < len(split.test) / 500 < 0.2


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n": 100, "valid": 0.6, "test": 0.5}, "nothing to train on"),
        ({"n": 100, "valid": -0.1}, r"valid fraction must be in \[0, 1\)"),
        ({"n": 3, "test": 0.1}, "test set empty"),
        ({"n": 10, "groups": np.zeros(10)}, "too few groups"),
        ({"n": 10, "groups": np.zeros(10), "time_order": True}, "not both"),
    ],
)
def test_errors(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        split_rows(**kwargs)  # type: ignore[arg-type]


def test_length_mismatch() -> None:
    with pytest.raises(DataError, match="y has 3 entries for 10 rows"):
        split_rows(10, y=np.zeros(3))


def test_zero_valid_is_allowed() -> None:
    split = split_rows(100, valid=0.0, test=0.2)
    assert split.sizes == {"train": 80, "valid": 0, "test": 20}
