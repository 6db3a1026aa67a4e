"""One config class per feature type, a discriminated union on ``type``.

These are the declarative knobs of preprocessing; :mod:`modelry.features.preprocessor`
fits them to data. They serialise to JSON and appear in the YAML training config
under ``features:`` (only the columns a user wants to override need listing).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

ROWS_PER_BIN = 200
AUTO_BINS = 32


class _Feature(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str


class NumericFeature(_Feature):
    type: Literal["numeric"] = "numeric"
    impute: Literal["median", "mean", "zero"] = "median"
    transform: Literal["auto", "none", "log1p"] = Field(
        default="auto",
        description="auto: log1p when the column is non-negative and strongly right-skewed.",
    )
    scale: Literal["standard", "none"] = "standard"
    missing_indicator: bool = Field(
        default=True, description="Add a 0/1 input saying the value was missing (if any was)."
    )
    bins: int | None = Field(
        default=None,
        ge=0,
        le=64,
        description=(
            "Also one-hot the value's quantile bin (fewer when values repeat), so the network"
            " sees thresholds and non-monotonic effects directly. None (auto): up to 32 bins"
            f" with at least {ROWS_PER_BIN} training rows each; 0 turns it off."
        ),
    )


class CategoricalFeature(_Feature):
    type: Literal["categorical"] = "categorical"
    encoding: Literal["auto", "onehot", "embedding"] = Field(
        default="auto", description="auto: one-hot up to max_onehot categories, else embedding."
    )
    max_onehot: int = Field(default=32, ge=2)
    min_frequency: int = Field(default=10, ge=1, description="Rarer categories share one slot.")
    missing: Literal["category", "most_frequent"] = "category"
    embedding_dim: int | None = Field(default=None, ge=1, description="Default: min(16, ~n^0.5).")


class BooleanFeature(_Feature):
    type: Literal["boolean"] = "boolean"


class TextFeature(_Feature):
    type: Literal["text"] = "text"
    n_features: int = Field(default=256, ge=8, description="Hashed bag-of-words width.")


class DatetimeFeature(_Feature):
    type: Literal["datetime"] = "datetime"


class EmbeddingFeature(_Feature):
    """A column that reaches the preprocessing as vectors another model computed (a text
    column embedded by the served text encoder): written into the dense input as it is."""

    type: Literal["embedding"] = "embedding"
    dimension: int = Field(default=384, ge=1, description="Width of each vector.")


Feature = Annotated[
    NumericFeature
    | CategoricalFeature
    | BooleanFeature
    | TextFeature
    | DatetimeFeature
    | EmbeddingFeature,
    Field(discriminator="type"),
]
