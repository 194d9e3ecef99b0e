"""Every setting of the control plane, declared once (environment prefix ``SPARKSTUDIO_``)."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from sparkstudio.auth.providers import OidcProvider

ENV_PREFIX = "SPARKSTUDIO_"


def without_settings(environ: Mapping[str, str]) -> dict[str, str]:
    """``environ`` without the control plane's settings variables (its database URL,
    admin password, client secrets...) nor a CLI token: the environment of processes
    that run users' code, which can read it. Names compare case-insensitively, as the
    settings are read."""
    return {
        name: value for name, value in environ.items() if not name.upper().startswith(ENV_PREFIX)
    }


class Settings(BaseSettings):
    """Control-plane settings; ``SPARKSTUDIO_<NAME>`` in the environment overrides each."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore")

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
    login_failures_before_delay: int = Field(
        default=5,
        ge=1,
        le=100,
        description="Failed logins for one user name before further attempts are refused "
        "for a delay (429 with Retry-After), whatever the password.",
    )
    login_failures_per_address_before_delay: int = Field(
        default=20,
        ge=1,
        le=10_000,
        description="Failed logins from one client address (an IPv6 /64), whatever the "
        "user names, before further attempts from it are refused for a delay. Higher than "
        "the per-user count: many users may share an address.",
    )
    login_delay_seconds: float = Field(
        default=5.0,
        ge=0.1,
        le=3600,
        description="The first delay; each further failure doubles it.",
    )
    login_delay_max_seconds: float = Field(
        default=900.0,
        ge=1,
        le=86400,
        description="The longest delay. A user name or address with no failure for this "
        "long after its delay ended starts afresh.",
    )
    trusted_proxies: str = Field(
        default="127.0.0.1,::1",
        description="Comma-separated addresses or networks of reverse proxies whose "
        "X-Forwarded-Proto and X-Forwarded-For headers are believed: they decide whether "
        "the login cookie is Secure and which address failed logins count against. "
        "'*' believes every peer (only when nothing but the proxy reaches the port); "
        "empty believes none.",
    )
    default_networks: list[str] = Field(
        default=["default"], description="Networks a studio allows when none are given."
    )

    cluster_backend: str = Field(
        default="local",
        description="Backend that runs clusters launched from templates or specs "
        "(an entry point of group sparkstudio.backends).",
    )
    cluster_poll_seconds: float = Field(
        default=2.0,
        ge=0.2,
        le=60,
        description="How often a ready cluster is observed (activity, scaling, idleness).",
    )
    cluster_start_timeout_seconds: int = Field(
        default=600,
        ge=30,
        le=3600,
        description="A cluster not usable this long after launch ends with errors.",
    )
    scale_in_idle_seconds: int = Field(
        default=60,
        ge=5,
        le=86400,
        description="Managed scaling stops a worker that has run no executor for this long.",
    )
    schedule_grace_seconds: int = Field(
        default=300,
        ge=0,
        le=86400,
        description="A notebook schedule's due time this old (the control plane was down "
        "or busy) is still run; older ones are missed and handled by the schedule's policy.",
    )
    serverless_warm_runners: int = Field(
        default=2,
        ge=0,
        le=64,
        description="Job runners each started application keeps warm (PySpark imported, "
        "a Spark Connect query run), so that a job run starts in milliseconds.",
    )
    job_log_max_bytes: int = Field(
        default=10 * 1024 * 1024,
        ge=1024,
        le=10 * 1024**3,
        description="The most kept of each job run attempt's stdout and of its stderr in "
        "its log location: a longer log keeps its last lines, after a first line saying "
        "how many bytes were dropped.",
    )
    history_server: bool = Field(
        default=True,
        description="Run a Spark history server for the event logs of every cluster.",
    )
    isolation: Literal["auto", "sandbox", "single-user"] = Field(
        default="auto",
        description="How users' code is kept apart: 'sandbox' runs it under OS identities "
        "of its studio in bubblewrap sandboxes and studio network namespaces (needs root, "
        "bwrap, setpriv, nsenter and ip); 'single-user' runs everything as the control "
        "plane's own user (one person's machine); 'auto' picks sandbox when it can.",
    )
    single_user_acknowledged: bool = Field(
        default=False,
        description="In single-user mode, allow more than one person into the platform's "
        "studios although their code runs as the same OS user and can read each other's data.",
    )
    connect_port: int = Field(
        default=0,
        ge=0,
        le=65535,
        description="Port of the Spark Connect front on the control plane's host (clients "
        "outside the platform connect there with a per-user token); 0 picks a free one.",
    )
    connect_token_minutes: int = Field(
        default=60,
        ge=1,
        le=24 * 60,
        description="Lifetime of a per-user Spark Connect token for new sessions (a session "
        "opened with it goes on; a revoked user's sessions end within a minute).",
    )

    workspace_spawner: str = Field(
        default="local",
        description="Spawner that runs workspace servers "
        "(an entry point of group sparkstudio.spawners).",
    )
    workspace_idle_timeout_seconds: int = Field(
        default=3600,
        ge=60,
        le=7 * 86400,
        description="A workspace server with no open connection and no kernel activity "
        "this long stops itself (the default of new workspaces).",
    )
    workspace_start_timeout_seconds: int = Field(
        default=120,
        ge=10,
        le=3600,
        description="A workspace server not answering this long after it started is stopped.",
    )
    workspace_poll_seconds: float = Field(
        default=5.0,
        ge=0.2,
        le=300,
        description="How often a running workspace server is looked at (activity, idleness).",
    )
    s3_endpoint_url: str | None = Field(
        default=None,
        description="Endpoint of an S3-compatible object store for s3:// storage locations "
        "(AWS when unset); credentials come from the usual AWS_* variables.",
    )
    public_url: str | None = Field(
        default=None,
        description="The control plane's address as users and kernels reach it; "
        "http://<host>:<port> when unset.",
    )
    oidc_providers: list[OidcProvider] = Field(
        default=[],
        max_length=20,
        description="OpenID Connect providers users may sign in with, as a JSON list of "
        "objects (name, display_name, issuer, client_id, client_secret, scopes, "
        "username_claim, groups_claim); see docs/sso.md.",
    )

    @field_validator("trusted_proxies")
    @classmethod
    def _check_proxies(cls, value: str) -> str:
        if value.strip() == "*":
            return "*"
        items = [item.strip() for item in value.split(",") if item.strip()]  # none: no proxy
        for item in items:
            ipaddress.ip_network(item)  # a ValueError names the bad item
        return ",".join(items)

    @field_validator("oidc_providers")
    @classmethod
    def _unique_provider_names(cls, value: list[OidcProvider]) -> list[OidcProvider]:
        names = [provider.name for provider in value]
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise ValueError(f"provider names must be unique; repeated: {', '.join(repeated)}")
        return value

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

    @property
    def event_log_dir(self) -> Path:
        """Where every cluster's Spark event logs go (what the history server reads)."""
        return self.store_root / "spark-events"

    @property
    def clusters_dir(self) -> Path:
        return self.home / "clusters"

    @property
    def workspaces_dir(self) -> Path:
        """Each running workspace server's own directory (config, kernel specs, logs)."""
        return self.home / "workspaces"

    def ensure_home(self) -> None:
        run, logs = self.home / "run", self.home / "logs"
        for directory in (self.home, self.store_root, logs, run, self.event_log_dir):
            directory.mkdir(parents=True, exist_ok=True)
        self.close_home()

    def close_home(self) -> None:
        """The home and its secrets (the embedded database, the key) for the platform's
        eyes only, whatever the umask they were made with."""
        self.home.chmod(0o700)
        for name in ("sparkstudio.db", "sparkstudio.db-wal", "sparkstudio.db-shm", "secret.key"):
            path = self.home / name
            if path.exists():
                path.chmod(0o600)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
