"""The fitted preprocessing of a model: columns in, one float32 matrix and codes out.

A :class:`Preprocessor` holds one encoder per feature column. ``transform`` fills
one preallocated float32 matrix (one-hot blocks, scaled numbers, hashed text) and
one int64 matrix of embedding codes, vectorised over the batch; its fitted state
is JSON, stored in the model artifact and loaded by serving processes, which is
why this package imports numpy and never pandas or torch.

Example:
    >>> import numpy as np
    >>> from modelry.features.feature_config import CategoricalFeature, NumericFeature
    >>> pre = Preprocessor(features=[NumericFeature(name="age", bins=0),
    ...                              CategoricalFeature(name="job", min_frequency=1)])
    >>> columns = {"age": np.array([30.0, 50.0]), "job": np.array(["a", "b"], dtype=object)}
    >>> encoded = pre.fit(columns).transform(columns)
    >>> encoded.dense.shape, pre.dense_names_[:3]
    ((2, 5), ['age', 'job=a', 'job=b'])
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Self

import numpy as np
from pydantic import TypeAdapter, ValidationError

from modelry.data.columns import Coded, ColumnArray, InputColumn, Records, as_array
from modelry.data.schema import ColumnType, Schema
from modelry.errors import ArtifactError, ConfigError, InvalidInputError, NotFittedError
from modelry.features.categorical import CategoricalEncoder
from modelry.features.embedding import EmbeddingEncoder
from modelry.features.encoders import ENCODERS, AnyEncoder, encoder_from_dict, make_encoder
from modelry.features.feature_config import (
    BooleanFeature,
    CategoricalFeature,
    DatetimeFeature,
    EmbeddingFeature,
    Feature,
    NumericFeature,
    TextFeature,
)
from modelry.features.rows import MAX_ROWS, RowPlan
from modelry.features.values import column_length

FORMAT = "modelry.preprocessor"
FORMAT_VERSION = 1
"""Bumped when the stored state changes incompatibly; older states are refused."""

CHUNK_BYTES = 1 << 20
"""Output bytes encoded per row chunk: small enough to stay in a core's cache."""

_FEATURE: TypeAdapter[Feature] = TypeAdapter(Feature)
_CONFIG_TYPES = (
    NumericFeature,
    CategoricalFeature,
    BooleanFeature,
    TextFeature,
    DatetimeFeature,
    EmbeddingFeature,
)
_DEFAULTS: dict[ColumnType, type[Any]] = {
    ColumnType.NUMERIC: NumericFeature,
    ColumnType.CATEGORICAL: CategoricalFeature,
    ColumnType.BOOLEAN: BooleanFeature,
    ColumnType.TEXT: TextFeature,
    ColumnType.DATETIME: DatetimeFeature,
}


@dataclass
class Encoded:
    """A transformed batch: the network's dense input and its embedding codes.

    Attributes:
        dense: float32, C-contiguous, ``[n, len(dense_names_)]``.
        codes: int64, ``[n, len(embeddings_)]`` (``[n, 0]`` when nothing is embedded).
    """

    dense: np.ndarray
    codes: np.ndarray

    def __len__(self) -> int:
        return int(self.dense.shape[0])


class Preprocessor:
    """Encodes the feature columns of a table or a request for the network.

    Args:
        features: One config per input column, in the order the columns are encoded.

    Attributes (after ``fit``):
        encoders_: The fitted encoder of each feature, in order.
        dense_names_: The name of each column of ``Encoded.dense``.
        embeddings_: ``(column, cardinality, embedding_dim)`` per column of ``Encoded.codes``.
        groups_: For each input column, the indices of its ``"dense"`` columns and of
            its ``"codes"`` columns: how explanations regroup encoded features.
    """

    def __init__(self, *, features: Sequence[Feature], missing_values: Sequence[str] = ()) -> None:
        self.features = features
        self.missing_values = missing_values

    # -- fitting ----------------------------------------------------------------------

    def fit(self, columns: Mapping[str, ColumnArray]) -> Self:
        """Fit every encoder to its training column.

        Raises:
            ConfigError: No features, a duplicate name, or a config that is invalid.
            InvalidInputError: A feature column is absent or holds an unusable value.
        """
        configs = _validate(self.features)
        vectors = frozenset(c.name for c in configs if isinstance(c, EmbeddingFeature))
        _row_count(columns, [c.name for c in configs], vectors)
        self._tokens = frozenset(self.missing_values)
        blanked = self._blank_tokens(columns, [c.name for c in configs])
        self._set_encoders([make_encoder(c).fit(as_array(blanked[c.name])) for c in configs])
        return self

    def _blank_tokens(
        self, columns: Mapping[str, InputColumn], names: Sequence[str]
    ) -> Mapping[str, InputColumn]:
        """Read the configured tokens (e.g. ``unknown``) as missing, at fit and at predict."""
        if not self._tokens:
            return columns
        out = dict(columns)
        for name in names:
            values = columns[name]
            if isinstance(values, list):
                if self._any_token(values):
                    out[name] = [None if self._is_token(v) else v for v in values]
            elif isinstance(values, Coded):
                hit = np.fromiter((c in self._tokens for c in values.categories), bool)
                if hit.any():
                    codes = values.codes.copy()
                    codes[(codes >= 0) & hit[np.maximum(codes, 0)]] = -1
                    out[name] = Coded(codes=codes, categories=values.categories)
            elif values.dtype == object and self._any_token(items := values.tolist()):
                mask = np.fromiter(map(self._is_token, items), bool, len(items))
                if mask.any():
                    blanked = values.copy()
                    blanked[mask] = None
                    out[name] = blanked
        return out

    def _any_token(self, items: list[Any]) -> bool:
        try:
            return not self._tokens.isdisjoint(items)  # in C: the common, cheap case
        except TypeError:  # an unhashable value (a list): no token, the encoder judges it
            return any(map(self._is_token, items))

    def _is_token(self, value: Any) -> bool:
        try:
            return value in self._tokens
        except TypeError:
            return False

    def _set_encoders(self, encoders: list[AnyEncoder]) -> None:
        dense_names: list[str] = []
        embeddings: list[tuple[str, int, int]] = []
        groups: dict[str, dict[str, list[int]]] = {}
        plan: list[tuple[AnyEncoder, int, int]] = []
        for encoder in encoders:
            start = len(dense_names)
            code = -1
            if isinstance(encoder, CategoricalEncoder) and encoder.n_codes:
                code = len(embeddings)
                embeddings.append((encoder.name, encoder.cardinality_, encoder.embedding_dim_))
            else:
                dense_names.extend(encoder.output_names)
            groups[encoder.name] = {
                "dense": list(range(start, len(dense_names))),
                "codes": [code] if code >= 0 else [],
            }
            plan.append((encoder, start, code))
        self.encoders_ = encoders
        self.dense_names_ = dense_names
        self.embeddings_ = embeddings
        self.groups_ = groups
        self._plan = plan
        self._names = [encoder.name for encoder in encoders]
        self._vectors = frozenset(e.name for e in encoders if isinstance(e, EmbeddingEncoder))
        self._rows = RowPlan(plan, len(dense_names), len(embeddings))

    # -- transforming ---------------------------------------------------------------------

    def _check_fitted(self) -> None:
        if not hasattr(self, "encoders_"):
            raise NotFittedError("Preprocessor is not fitted; call fit first")

    def transform(self, columns: Mapping[str, InputColumn]) -> Encoded:
        """Encode a batch; columns not among the features are ignored.

        Columns are arrays (or :class:`~modelry.data.columns.Coded`), or for a few rows
        plain lists of values (see :data:`~modelry.data.columns.InputColumn`).

        Raises:
            NotFittedError: Before ``fit``.
            InvalidInputError: A feature column is absent, the columns' row counts
                differ, or a value is unusable; the message names the column.
        """
        self._check_fitted()
        n = _row_count(columns, self._names, self._vectors)
        columns = self._blank_tokens(columns, self._names)
        if 0 < n <= MAX_ROWS:
            # A request: plain Python beats the fixed cost of numpy calls on tiny arrays.
            # A value it does not take goes the vectorised way, which names a bad one.
            encoded = self._rows.transform(columns, n)
            if encoded is not None:
                return Encoded(dense=encoded[0], codes=encoded[1])
        # Parse and check every column first, so that an error names its row in the
        # batch; then encode in row chunks whose output stays in the CPU cache.
        prepared = [encoder.prepare(as_array(columns[encoder.name])) for encoder in self.encoders_]
        width = len(self.dense_names_)
        dense = np.empty((n, width), dtype=np.float32)
        codes = np.empty((n, len(self.embeddings_)), dtype=np.int64)
        step = max(1, CHUNK_BYTES // (4 * width + 8 * codes.shape[1] + 1))
        if n <= step:  # every request: one chunk, nothing to slice
            self._write(prepared, dense, codes)
        else:
            for first in range(0, n, step):
                rows = slice(first, first + step)
                self._write([p[rows] for p in prepared], dense[rows], codes[rows])
        return Encoded(dense=dense, codes=codes)

    def _write(self, prepared: list[np.ndarray], dense: np.ndarray, codes: np.ndarray) -> None:
        dense.fill(0.0)  # one-hot blocks and absent missing indicators stay zero
        unused = codes[:, :0]
        for (encoder, start, code), rows in zip(self._plan, prepared, strict=True):
            encoder.write(rows, dense, start, codes[:, code] if code >= 0 else unused)

    def fit_transform(self, columns: Mapping[str, ColumnArray]) -> Encoded:
        """``fit(columns).transform(columns)``."""
        return self.fit(columns).transform(columns)

    # -- what a caller needs to know ---------------------------------------------------------

    @property
    def input_columns(self) -> list[str]:
        """The feature columns a batch must hold, in order."""
        if hasattr(self, "encoders_"):
            return list(self._names)
        return [c.name for c in _validate(self.features)]

    def input_kinds(self) -> dict[str, str]:
        """The JSON type each input column expects: ``"number"`` or ``"string"``.

        Only numeric features are ``"number"``. Booleans are ``"string"``: a string
        column also admits JSON numbers and booleans, so "yes", true and 1 all arrive.
        """
        configs = (
            [e.config for e in self.encoders_]
            if hasattr(self, "encoders_")
            else _validate(self.features)
        )
        return {c.name: ENCODERS[c.type].input_kind for c in configs}

    # -- storing ----------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """The fitted state as JSON-able data, with a format version."""
        self._check_fitted()
        return {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "missing_values": sorted(self._tokens),
            "encoders": [e.to_dict() for e in self.encoders_],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        """Rebuild a fitted preprocessor from :meth:`to_dict` output.

        Raises:
            ArtifactError: Not a preprocessor state, or of an unknown format version.
        """
        if data.get("format") != FORMAT or data.get("version") != FORMAT_VERSION:
            raise ArtifactError(
                f"not a {FORMAT} state of version {FORMAT_VERSION} "
                f"(format={data.get('format')!r}, version={data.get('version')!r})"
            )
        encoders = [encoder_from_dict(e) for e in data.get("encoders", [])]
        tokens = [str(t) for t in data.get("missing_values", [])]
        preprocessor = cls(features=[e.config for e in encoders], missing_values=tokens)
        preprocessor._tokens = frozenset(tokens)
        preprocessor._set_encoders(encoders)
        return preprocessor

    def to_json(self) -> str:
        """:meth:`to_dict` as a JSON string."""
        return json.dumps(self.to_dict(), ensure_ascii=False, allow_nan=False)

    @classmethod
    def from_json(cls, text: str | bytes) -> Self:
        """Rebuild a fitted preprocessor from :meth:`to_json` output."""
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise ArtifactError(f"preprocessor state is not JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise ArtifactError("preprocessor state is not a JSON object")
        return cls.from_dict(data)

    def __repr__(self) -> str:
        return f"Preprocessor(features=[{', '.join(map(repr, self.input_columns))}])"


def default_features(schema: Schema, overrides: Sequence[Feature] = ()) -> list[Feature]:
    """One feature config per feature column of ``schema``, by its column type.

    Args:
        schema: The table's schema; only columns with role ``feature`` are used.
        overrides: Configs that replace the default of the column they name.

    Raises:
        ConfigError: An override names a column that is not a feature, or two
            overrides name one column, or a feature column's type has no encoder.
    """
    feature_names = set(schema.feature_names)
    by_name: dict[str, Feature] = {}
    for override in _validate(overrides, allow_empty=True):
        if override.name not in feature_names:
            raise ConfigError(
                f"feature config for {override.name!r}, which is not a feature column",
                column=override.name,
            )
        by_name[override.name] = override
    features: list[Feature] = []
    for column in schema.features:
        if column.name in by_name:
            features.append(by_name[column.name])
        elif column.type in _DEFAULTS:
            features.append(_DEFAULTS[column.type](name=column.name))
        else:
            raise ConfigError(
                f"column {column.name!r} is of type {column.type.value}, which is not "
                "a feature type; give it another role, or a feature config",
                column=column.name,
            )
    return features


def _validate(features: Sequence[Any], *, allow_empty: bool = False) -> list[Feature]:
    """Feature configs (from models or plain dicts) with distinct names."""
    if isinstance(features, str | bytes) or not isinstance(features, Sequence):
        raise ConfigError("features must be a sequence of feature configs")
    if not features and not allow_empty:
        raise ConfigError("a preprocessor needs at least one feature")
    configs: list[Feature] = []
    seen: set[str] = set()
    for feature in features:
        if isinstance(feature, _CONFIG_TYPES):
            config = feature
        else:
            try:
                config = _FEATURE.validate_python(feature)
            except ValidationError as exc:
                raise ConfigError(f"invalid feature config {feature!r}: {exc}") from exc
        if config.name in seen:
            raise ConfigError(f"two feature configs for column {config.name!r}", column=config.name)
        seen.add(config.name)
        configs.append(config)
    return configs


def _row_count(
    columns: Mapping[str, InputColumn], names: Sequence[str], vectors: frozenset[str] = frozenset()
) -> int:
    """The common row count of the named columns; InvalidInputError names the culprit.

    Columns named in ``vectors`` may be 2-D arrays (one vector per row).
    """
    if type(columns) is Records:  # every record holds every name it lists
        for name in names:
            if name not in columns:
                raise InvalidInputError(f"missing column {name!r}", column=name)
        return len(columns.rows)
    n: int | None = None
    first = ""
    for name in names:
        if name not in columns:
            raise InvalidInputError(f"missing column {name!r}", column=name)
        values = columns[name]
        if (type(values) is np.ndarray and values.ndim == 1) or isinstance(values, list):
            rows = len(values)
        elif type(values) is np.ndarray and values.ndim == 2 and name in vectors:
            rows = len(values)  # an upstream model's vectors, one row each
        else:  # Coded, or what column_length refuses
            rows = column_length(values, name)
        if n is None:
            n, first = rows, name
        elif rows != n:
            raise InvalidInputError(
                f"column {name!r} has {rows} rows but column {first!r} has {n}", column=name
            )
    return n or 0
