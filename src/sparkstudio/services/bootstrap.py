"""First start: the bootstrap platform admin."""

from __future__ import annotations

import secrets

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from sparkstudio.auth.passwords import hash_password
from sparkstudio.db.models import User
from sparkstudio.ids import new_id
from sparkstudio.settings import Settings

ADMIN_NAME = "admin"


def ensure_admin(db: Session, settings: Settings) -> str | None:
    """Create user ``admin`` when the platform has no user yet.

    Returns the generated password (to print once) when none was configured; None when the
    admin already existed or its password came from ``SPARKSTUDIO_ADMIN_PASSWORD``.
    """
    if db.scalar(select(exists().select_from(User))):
        return None
    configured = settings.admin_password.get_secret_value() if settings.admin_password else None
    password = configured or secrets.token_urlsafe(15)
    db.add(
        User(
            id=new_id("usr"),
            name=ADMIN_NAME,
            display_name="Platform admin",
            password_hash=hash_password(password),
            is_platform_admin=True,
        )
    )
    db.flush()
    return None if configured else password
