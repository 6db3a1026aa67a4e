"""The encoders, one per feature type, and the factory that picks one for a config.

Each encoder lives in its own module (:mod:`~modelry.features.numeric`,
:mod:`~modelry.features.categorical`, ...); this module is the one place that
knows which encoder serves which config, and how a stored encoder is rebuilt.
"""

from __future__ import annotations

from typing import Any

from modelry.errors import ArtifactError, ConfigError
from modelry.features.base import Encoder, InputKind
from modelry.features.boolean import BooleanEncoder
from modelry.features.categorical import CategoricalEncoder
from modelry.features.dates import DatetimeEncoder
from modelry.features.embedding import EmbeddingEncoder
from modelry.features.feature_config import (
    BooleanFeature,
    CategoricalFeature,
    DatetimeFeature,
    EmbeddingFeature,
    Feature,
    NumericFeature,
    TextFeature,
)
from modelry.features.numeric import NumericEncoder
from modelry.features.text import TextEncoder

AnyEncoder = (
    NumericEncoder
    | CategoricalEncoder
    | BooleanEncoder
    | TextEncoder
    | DatetimeEncoder
    | EmbeddingEncoder
)

ENCODERS: dict[str, type[AnyEncoder]] = {
    "numeric": NumericEncoder,
    "categorical": CategoricalEncoder,
    "boolean": BooleanEncoder,
    "text": TextEncoder,
    "datetime": DatetimeEncoder,
    "embedding": EmbeddingEncoder,
}
"""The encoder class of each feature ``type``."""


def make_encoder(config: Feature) -> AnyEncoder:
    """A new, unfitted encoder for a feature config."""
    if isinstance(config, NumericFeature):
        return NumericEncoder(config)
    if isinstance(config, CategoricalFeature):
        return CategoricalEncoder(config)
    if isinstance(config, BooleanFeature):
        return BooleanEncoder(config)
    if isinstance(config, TextFeature):
        return TextEncoder(config)
    if isinstance(config, DatetimeFeature):
        return DatetimeEncoder(config)
    if isinstance(config, EmbeddingFeature):
        return EmbeddingEncoder(config)
    raise ConfigError(f"not a feature config: {config!r}")


def encoder_from_dict(data: dict[str, Any]) -> AnyEncoder:
    """Rebuild a fitted encoder of any type from its ``to_dict()`` output."""
    try:
        kind = data["config"]["type"]
        cls = ENCODERS[kind]
    except (KeyError, TypeError) as exc:
        raise ArtifactError(f"stored encoder has no known feature type: {exc}") from exc
    return cls.from_dict(data)


__all__ = [
    "ENCODERS",
    "AnyEncoder",
    "BooleanEncoder",
    "CategoricalEncoder",
    "DatetimeEncoder",
    "EmbeddingEncoder",
    "Encoder",
    "InputKind",
    "NumericEncoder",
    "TextEncoder",
    "encoder_from_dict",
    "make_encoder",
]
