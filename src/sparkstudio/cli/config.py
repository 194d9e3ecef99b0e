"""The CLI's per-user config: where the control plane is and the token to use.

Stored as JSON at ``$SPARKSTUDIO_CONFIG`` or ``$XDG_CONFIG_HOME/sparkstudio/config.json``
(``~/.config/…``), readable by its owner only since it holds a token.
"""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path

from pydantic import BaseModel


class CliConfig(BaseModel):
    url: str | None = None
    token: str | None = None
    user: str | None = None
    studio: str | None = None
    # When the saved session token stops working (a login's; None: unknown).
    expires_at: datetime | None = None


def config_path() -> Path:
    explicit = os.environ.get("SPARKSTUDIO_CONFIG")
    if explicit:
        return Path(explicit).expanduser()
    base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "sparkstudio" / "config.json"


def load() -> CliConfig:
    path = config_path()
    if not path.exists():
        return CliConfig()
    return CliConfig.model_validate_json(path.read_text())


def save(config: CliConfig) -> Path:
    path = config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    # Created owner-only before the token is written into it.
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(json.dumps(config.model_dump(mode="json"), indent=2))
    temporary.replace(path)
    return path
