"""Every setting of the control plane, declared once (environment prefix ``SPARKSTUDIO_``)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Control-plane settings; ``SPARKSTUDIO_<NAME>`` in the environment overrides each."""

    model_config = SettingsConfigDict(env_prefix="SPARKSTUDIO_", extra="ignore")

    home: Path = Field(
        default=Path("~/.sparkstudio"),
        description="Directory holding the embedded database, object store, logs and pids.",
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the metadata database; SQLite under the home when unset.",
    )
    host: str = Field(default="127.0.0.1", description="Address the control plane listens on.")
    port: int = Field(default=8780, ge=0, le=65535, description="Port; 0 picks a free one.")
    admin_password: SecretStr | None = Field(
        default=None,
        description="Password of the bootstrap admin created on first start; generated if unset.",
    )
    session_ttl_hours: int = Field(
        default=12, ge=1, le=24 * 30, description="Lifetime of a login session token."
    )
    token_max_days: int = Field(
        default=365, ge=1, le=3650, description="Longest lifetime a personal API token may ask for."
    )
    auth_cache_seconds: float = Field(
        default=5.0,
        ge=0,
        le=300,
        description="How long a resolved token and studio grants are reused (0: never). "
        "Every write served by this process drops the cache at once; the bound matters "
        "only across several control-plane processes.",
    )
    default_networks: list[str] = Field(
        default=["default"], description="Networks a studio allows when none are given."
    )

    @field_validator("home")
    @classmethod
    def _expand_home(cls, value: Path) -> Path:
        return value.expanduser().resolve()

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.home / 'sparkstudio.db'}"

    @property
    def store_root(self) -> Path:
        """Root of the embedded ``file://`` object store."""
        return self.home / "store"

    def ensure_home(self) -> None:
        for directory in (self.home, self.store_root, self.home / "logs", self.home / "run"):
            directory.mkdir(parents=True, exist_ok=True)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
