import json
from typing import Any

import numpy as np
import pytest

from modelry.data.columns import Coded
from modelry.data.schema import Column, ColumnType, Role, Schema
from modelry.errors import ArtifactError, ConfigError, InvalidInputError, NotFittedError
from modelry.features.feature_config import (
    BooleanFeature,
    CategoricalFeature,
    DatetimeFeature,
    Feature,
    NumericFeature,
    TextFeature,
)
from modelry.features.preprocessor import Encoded, Preprocessor, default_features


def objects(*values: object) -> np.ndarray:
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


def table(n: int = 300, seed: int = 0) -> dict[str, np.ndarray | Coded]:
    rng = np.random.default_rng(seed)
    age = rng.normal(40, 10, n)
    age[::17] = np.nan
    jobs = objects("admin.", "technician", "services", "rare")
    job_codes = rng.choice(3, n)
    job_codes[::50] = 3
    job_codes[::31] = -1
    cities = objects(*[f"city{i}" for i in range(60)])
    balance = rng.lognormal(5, 1.5, n)
    balance[::23] = np.nan
    return {
        "age": age,
        "balance": balance,
        "job": Coded(codes=job_codes, categories=jobs),
        "city": cities[rng.choice(60, n)],
        "default": objects(*rng.choice(["yes", "no"], n)),
        "note": objects("call me back", "not interested", None)[rng.choice(3, n)],
        "signed": objects("2024-01-05", "2023-06-30T10:00", None)[rng.choice(3, n)],
    }


FEATURES: list[Feature] = [
    NumericFeature(name="age", bins=0),
    NumericFeature(name="balance"),
    CategoricalFeature(name="job"),
    CategoricalFeature(name="city", min_frequency=1),
    BooleanFeature(name="default"),
    TextFeature(name="note", n_features=16),
    DatetimeFeature(name="signed"),
]


@pytest.fixture(scope="module")
def fitted() -> Preprocessor:
    return Preprocessor(features=FEATURES).fit(table())


def test_layout(fitted: Preprocessor) -> None:
    encoded = fitted.transform(table())
    assert isinstance(encoded, Encoded)
    assert encoded.dense.dtype == np.float32 and encoded.dense.flags.c_contiguous
    assert encoded.codes.dtype == np.int64
    assert encoded.dense.shape == (300, len(fitted.dense_names_))
    assert encoded.codes.shape == (300, 1)
    assert fitted.embeddings_ == [("city", 62, fitted.encoders_[3].embedding_dim_)]  # type: ignore[union-attr]
    assert fitted.input_columns == ["age", "balance", "job", "city", "default", "note", "signed"]
    assert fitted.dense_names_[:2] == ["age", "age=__missing__"]
    # groups_ partitions the encoded columns by input column, in order.
    dense = [i for g in fitted.groups_.values() for i in g["dense"]]
    assert dense == list(range(len(fitted.dense_names_)))
    assert fitted.groups_["city"] == {"dense": [], "codes": [0]}
    assert [fitted.dense_names_[i] for i in fitted.groups_["age"]["dense"]] == [
        "age",
        "age=__missing__",
    ]
    assert all(
        name.startswith("job=")
        for name in (fitted.dense_names_[i] for i in fitted.groups_["job"]["dense"])
    )


def test_blocks_equal_each_encoder_alone(fitted: Preprocessor) -> None:
    columns = table(seed=1)
    encoded = fitted.transform(columns)
    for encoder in fitted.encoders_:
        group = fitted.groups_[encoder.name]
        alone = encoder.transform(columns[encoder.name])
        if group["codes"]:
            np.testing.assert_array_equal(encoded.codes[:, group["codes"][0]], alone)
        else:
            np.testing.assert_array_equal(encoded.dense[:, group["dense"]], alone)


def test_chunked_transform_equals_unchunked(
    fitted: Preprocessor, monkeypatch: pytest.MonkeyPatch
) -> None:
    import modelry.features.preprocessor as module

    columns = table(n=1000, seed=2)
    whole = fitted.transform(columns)
    monkeypatch.setattr(module, "CHUNK_BYTES", 1000)  # a handful of rows per chunk
    chunked = fitted.transform(columns)
    np.testing.assert_array_equal(whole.dense, chunked.dense)
    np.testing.assert_array_equal(whole.codes, chunked.codes)


def test_coded_input_gives_the_same_output_as_objects(fitted: Preprocessor) -> None:
    columns = table(seed=3)
    plain = {k: v.decode() if isinstance(v, Coded) else v for k, v in columns.items()}
    city = columns["city"]
    assert isinstance(city, np.ndarray)
    categories, codes = np.unique(city.astype(str), return_inverse=True)
    coded = {**columns, "city": Coded(codes=codes, categories=categories.astype(object))}
    a, b, c = (fitted.transform(x) for x in (columns, plain, coded))
    np.testing.assert_array_equal(a.dense, b.dense)
    np.testing.assert_array_equal(a.dense, c.dense)
    np.testing.assert_array_equal(a.codes, c.codes)


def test_json_round_trip_gives_identical_output(fitted: Preprocessor) -> None:
    text = fitted.to_json()
    data = json.loads(text)
    assert data["format"] == "modelry.preprocessor" and data["version"] == 1
    again = Preprocessor.from_json(text)
    columns = table(seed=4)
    a, b = fitted.transform(columns), again.transform(columns)
    np.testing.assert_array_equal(a.dense, b.dense)
    np.testing.assert_array_equal(a.codes, b.codes)
    assert again.dense_names_ == fitted.dense_names_
    assert again.embeddings_ == fitted.embeddings_
    assert again.groups_ == fitted.groups_
    assert Preprocessor.from_dict(fitted.to_dict()).to_dict() == fitted.to_dict()


@pytest.mark.parametrize(
    "state",
    [{"format": "other", "version": 1}, {"format": "modelry.preprocessor", "version": 99}],
)
def test_unknown_state_is_refused(state: dict[str, object]) -> None:
    with pytest.raises(ArtifactError):
        Preprocessor.from_dict(state)
    with pytest.raises(ArtifactError):
        Preprocessor.from_json("[1, 2")


def test_single_row(fitted: Preprocessor) -> None:
    row = {
        "age": objects(41),
        "balance": objects("1200.5"),
        "job": objects("services"),
        "city": objects("nowhere"),
        "default": objects(True),
        "note": objects("Call me"),
        "signed": objects("2024-02-02"),
    }
    encoded = fitted.transform(row)
    assert encoded.dense.shape == (1, len(fitted.dense_names_))
    assert encoded.codes.tolist() == [[60]]  # the other slot


def test_each_row_alone_equals_its_row_in_the_batch(fitted: Preprocessor) -> None:
    assert fitted.encoders_[1].log1p_  # type: ignore[union-attr]
    columns = table(n=60, seed=5)
    batch = fitted.transform(columns)
    for i in range(60):
        row = {
            k: Coded(v.codes[i : i + 1], v.categories) if isinstance(v, Coded) else v[i : i + 1]
            for k, v in columns.items()
        }
        alone = fitted.transform(row)
        np.testing.assert_array_equal(alone.dense[0], batch.dense[i])
        np.testing.assert_array_equal(alone.codes[0], batch.codes[i])


def test_zero_rows(fitted: Preprocessor) -> None:
    empty = {name: np.empty(0, dtype=object) for name in fitted.input_columns}
    encoded = fitted.transform(empty)
    assert encoded.dense.shape == (0, len(fitted.dense_names_))
    assert encoded.codes.shape == (0, 1)


def test_missing_column_extra_column_and_row_counts(fitted: Preprocessor) -> None:
    columns = table()
    del columns["age"]
    with pytest.raises(InvalidInputError, match="missing column 'age'") as info:
        fitted.transform(columns)
    assert info.value.details == {"column": "age"}
    columns = {**table(), "unused": np.zeros(300)}
    fitted.transform(columns)  # extras are ignored
    columns = {**table(), "note": objects("a", "b")}
    with pytest.raises(InvalidInputError, match="'note'"):
        fitted.transform(columns)
    with pytest.raises(InvalidInputError, match="'age'"):
        fitted.transform({**table(), "age": np.zeros((300, 2))})


def test_invalid_values_name_the_column(fitted: Preprocessor) -> None:
    for column, bad in [("age", "old"), ("default", "perhaps"), ("signed", "soon")]:
        columns = table()
        values = np.asarray(columns[column], dtype=object).copy()
        values[7] = bad
        with pytest.raises(InvalidInputError, match=f"'{column}', row 7"):
            fitted.transform({**columns, column: values})


def test_not_fitted() -> None:
    pre = Preprocessor(features=FEATURES)
    with pytest.raises(NotFittedError):
        pre.transform(table())
    with pytest.raises(NotFittedError):
        pre.to_dict()


def test_hyperparameters_are_stored_untouched_and_validated_in_fit() -> None:
    features: list[Any] = [{"type": "numeric", "name": "age"}]
    pre = Preprocessor(features=features)
    assert pre.features is features
    assert pre.fit({"age": np.array([1.0, 2.0])}).dense_names_ == ["age"]  # too few rows to bin
    with pytest.raises(ConfigError):
        Preprocessor(features=[]).fit({})
    with pytest.raises(ConfigError, match="'age'"):
        Preprocessor(features=[FEATURES[0], FEATURES[0]]).fit(table())
    with pytest.raises(ConfigError):
        Preprocessor(features=[{"type": "numeric"}]).fit(table())  # type: ignore[list-item]


def test_input_kinds(fitted: Preprocessor) -> None:
    expected = {
        "age": "number",
        "balance": "number",
        "job": "string",
        "city": "string",
        "default": "string",
        "note": "string",
        "signed": "string",
    }
    assert fitted.input_kinds() == expected
    assert Preprocessor(features=FEATURES).input_kinds() == expected


def schema() -> Schema:
    return Schema(
        columns=[
            Column(name="id", type=ColumnType.IDENTIFIER, role=Role.IDENTIFIER),
            Column(name="age", type=ColumnType.NUMERIC, role=Role.FEATURE),
            Column(name="job", type=ColumnType.CATEGORICAL, role=Role.FEATURE),
            Column(name="default", type=ColumnType.BOOLEAN, role=Role.FEATURE),
            Column(name="note", type=ColumnType.TEXT, role=Role.FEATURE),
            Column(name="signed", type=ColumnType.DATETIME, role=Role.FEATURE),
            Column(name="gender", type=ColumnType.CATEGORICAL, role=Role.SENSITIVE),
            Column(name="y", type=ColumnType.BOOLEAN, role=Role.TARGET),
        ],
        target="y",
    )


def test_default_features_follow_the_schema() -> None:
    features = default_features(schema())
    assert [(f.name, type(f)) for f in features] == [
        ("age", NumericFeature),
        ("job", CategoricalFeature),
        ("default", BooleanFeature),
        ("note", TextFeature),
        ("signed", DatetimeFeature),
    ]


def test_default_features_overrides() -> None:
    override = CategoricalFeature(name="job", encoding="embedding")
    features = default_features(schema(), [override, NumericFeature(name="default")])
    assert features[1] is override
    assert isinstance(features[2], NumericFeature)
    for name in ("gender", "y", "nope"):
        with pytest.raises(ConfigError, match=f"'{name}'"):
            default_features(schema(), [NumericFeature(name=name)])


def test_configured_missing_tokens_are_missing_at_fit_and_at_predict() -> None:
    from modelry.data.columns import Coded

    job = np.array(["a", "unknown", "b", "a", "unknown", "b"] * 5, dtype=object)
    pre = Preprocessor(
        features=[CategoricalFeature(name="job", min_frequency=1)], missing_values=["unknown"]
    ).fit({"job": job})
    assert "job=unknown" not in pre.dense_names_ and "job=__missing__" in pre.dense_names_
    again = Preprocessor.from_dict(pre.to_dict())
    plain = again.transform({"job": np.array(["unknown", None], dtype=object)}).dense
    assert plain[0].tolist() == plain[1].tolist()
    coded = Coded(codes=np.array([1, -1, 0]), categories=np.array(["a", "unknown"], dtype=object))
    out = again.transform({"job": coded}).dense
    assert out[0].tolist() == out[1].tolist() == plain[0].tolist()


def test_quantile_bins_land_in_their_block_of_the_whole_matrix(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import modelry.features.preprocessor as module

    features = [FEATURES[0], NumericFeature(name="balance", bins=4), *FEATURES[2:5]]
    pre = Preprocessor(features=features).fit(table())
    balance = next(e for e in pre.encoders_ if e.name == "balance")
    assert len(balance.edges_) == 3  # type: ignore[union-attr]  # four bins, after other columns
    columns = table(n=1000, seed=3)
    whole = pre.transform(columns)
    block = whole.dense[:, pre.groups_["balance"]["dense"]]
    np.testing.assert_array_equal(block, balance.transform(columns["balance"]))
    assert (block[:, -4:].sum(axis=1) == 1.0).all()  # one bin per row
    monkeypatch.setattr(module, "CHUNK_BYTES", 1000)  # chunks: row slices of the matrix
    np.testing.assert_array_equal(pre.transform(columns).dense, whole.dense)
