import numpy as np
import pytest

from modelry.data.columns import Coded
from modelry.errors import InvalidInputError, NotFittedError
from modelry.features.categorical import CategoricalEncoder, default_embedding_dim
from modelry.features.feature_config import CategoricalFeature


def objects(*values: object) -> np.ndarray:
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


TRAIN = objects(*(["b"] * 5 + ["a"] * 5 + ["c"] * 7 + ["rare"] * 1 + [None] * 2))


def fitted(**options: object) -> CategoricalEncoder:
    cfg = CategoricalFeature(name="job", min_frequency=2, **options)  # type: ignore[arg-type]
    return CategoricalEncoder(cfg).fit(TRAIN)


def test_vocabulary_by_frequency_then_name_and_slots() -> None:
    enc = fitted()
    assert enc.vocabulary_ == ["c", "a", "b"]
    assert enc.output_names == ["job=c", "job=a", "job=b", "job=__other__", "job=__missing__"]
    assert enc.cardinality_ == 5 and enc.n_codes == 0


def test_onehot_layout() -> None:
    out = fitted().transform(objects("a", "c", "b", "rare", "never-seen", None))
    assert out.dtype == np.float32
    np.testing.assert_array_equal(
        out,
        [
            [0, 1, 0, 0, 0],
            [1, 0, 0, 0, 0],
            [0, 0, 1, 0, 0],
            [0, 0, 0, 1, 0],  # rare at fit -> other
            [0, 0, 0, 1, 0],  # unseen -> other, never an error
            [0, 0, 0, 0, 1],  # missing slot
        ],
    )


def test_missing_most_frequent() -> None:
    enc = fitted(missing="most_frequent")
    assert enc.output_names[-1] == "job=__other__"
    assert enc.indices(objects(None, float("nan"), "")).tolist() == [0, 0, 0]


def test_values_are_normalised_to_strings() -> None:
    cfg = CategoricalFeature(name="n", min_frequency=1)
    enc = CategoricalEncoder(cfg).fit(objects("1", "2", "true"))
    assert enc.indices(objects(1, 1.0, "1", True, np.int64(2), 2.5)).tolist() == [
        enc.index_["1"],
        enc.index_["1"],
        enc.index_["1"],
        enc.index_["true"],
        enc.index_["2"],
        enc.other_index_,
    ]
    floats = np.array([1.0, 2.0, np.nan])
    assert enc.indices(floats).tolist() == [enc.index_["1"], enc.index_["2"], enc.missing_index_]


def test_embedding_when_above_max_onehot() -> None:
    values = objects(*[f"c{i}" for i in range(40) for _ in range(3)])
    cfg = CategoricalFeature(name="city", min_frequency=1, max_onehot=32)
    enc = CategoricalEncoder(cfg).fit(values)
    assert not enc.onehot_ and enc.n_codes == 1
    assert enc.cardinality_ == 42
    assert enc.embedding_dim_ == default_embedding_dim(42) == min(16, round(1.6 * 42**0.56))
    assert enc.output_names == ["city"]
    codes = enc.transform(objects("c0", "zzz", None))
    assert codes.dtype == np.int64
    assert codes.tolist() == [enc.index_["c0"], 40, 41]
    small = CategoricalEncoder(CategoricalFeature(name="x", min_frequency=1)).fit(values[:30])
    assert small.onehot_


def test_forced_encodings_and_embedding_dim() -> None:
    assert not fitted(encoding="embedding").onehot_
    assert fitted(encoding="embedding", embedding_dim=3).embedding_dim_ == 3
    values = objects(*[f"c{i}" for i in range(40)])
    cfg = CategoricalFeature(name="x", min_frequency=1, encoding="onehot")
    assert CategoricalEncoder(cfg).fit(values).transform(values).shape == (40, 42)


def test_coded_input_equals_object_input() -> None:
    enc = fitted()
    categories = objects("rare", "c", "zzz", "a", "b")
    codes = np.array([1, 0, -1, 2, 3, 4, 4, 1], dtype=np.int32)
    coded = Coded(codes=codes, categories=categories)
    np.testing.assert_array_equal(enc.transform(coded), enc.transform(coded.decode()))
    # The lookup table is cached per categories array, and reused for another batch.
    second = Coded(codes=np.array([3]), categories=categories)
    assert enc.transform(second).tolist() == enc.transform(objects("a")).tolist()


def test_fit_on_coded_equals_fit_on_objects() -> None:
    codes = np.array([0, 0, 1, 1, 1, -1, 2])
    coded = Coded(codes=codes, categories=objects("x", "y", "z"))
    cfg = CategoricalFeature(name="v", min_frequency=2)
    a = CategoricalEncoder(cfg).fit(coded)
    b = CategoricalEncoder(cfg).fit(coded.decode())
    assert a.to_dict() == b.to_dict()
    assert a.vocabulary_ == ["y", "x"]


def test_bad_codes_are_refused_with_the_column_named() -> None:
    coded = Coded(codes=np.array([0, 5]), categories=objects("a", "b"))
    with pytest.raises(InvalidInputError, match="'job'"):
        fitted().transform(coded)


def test_unhashable_value_names_column() -> None:
    with pytest.raises(InvalidInputError, match="'job'"):
        CategoricalEncoder(CategoricalFeature(name="job")).fit(objects("a", ["b"]))


def test_round_trip_and_single_row() -> None:
    enc = fitted()
    again = CategoricalEncoder.from_dict(enc.to_dict())
    rows = objects("a", "rare", None, "b", "new")
    np.testing.assert_array_equal(enc.transform(rows), again.transform(rows))
    assert again.transform(objects("c")).tolist() == [[1, 0, 0, 0, 0]]


def test_not_fitted() -> None:
    with pytest.raises(NotFittedError):
        CategoricalEncoder(CategoricalFeature(name="job")).transform(objects("a"))
    with pytest.raises(NotFittedError):
        _ = CategoricalEncoder(CategoricalFeature(name="job")).output_names
