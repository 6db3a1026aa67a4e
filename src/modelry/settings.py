"""Process-wide settings, read from the environment (prefix ``MODELRY_``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Where models live and how the service behaves.

    Example:
        >>> Settings(home="/tmp/m").registry_url
        'sqlite:////tmp/m/registry.db'
    """

    model_config = SettingsConfigDict(env_prefix="MODELRY_", extra="ignore")

    home: Path = Field(default=Path(".modelry"), description="Registry root directory.")
    registry_url_override: str | None = Field(
        default=None,
        validation_alias="MODELRY_REGISTRY_URL",
        description="SQLAlchemy URL of the registry index; SQLite under home by default.",
    )
    api_keys: list[str] = Field(default_factory=list, description="Keys allowed to predict.")
    admin_keys: list[str] = Field(default_factory=list, description="Keys allowed to administer.")
    max_body_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    pseudonymise_key: SecretStr = Field(
        default=SecretStr("modelry-default-key-change-me"),
        description="HMAC key for pseudonymised columns.",
    )
    batching: bool = Field(
        default=True, description="Join concurrent requests to one model into one predict call."
    )
    max_batch_size: int = Field(default=64, ge=1, description="Most rows per predict call.")
    max_batch_wait_ms: float = Field(
        default=0.0,
        ge=0,
        le=1000,
        description=(
            "How long a request may wait for company; 0: no timer, a batch goes once "
            "requests stop arriving (a few event-loop turns at most)."
        ),
    )

    @property
    def registry_url(self) -> str:
        if self.registry_url_override:
            return self.registry_url_override
        return f"sqlite:///{self.home.resolve()}/registry.db"

    @property
    def models_dir(self) -> Path:
        return self.home / "models"
