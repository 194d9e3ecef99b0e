"""Tables of the metadata store."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from sparkstudio.db.base import Base, UTCDateTime, utcnow


class Timestamped:
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class User(Timestamped, Base):
    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(24), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(128), default="")
    email: Mapped[str | None] = mapped_column(String(254), default=None)
    # NULL for users who may not log in with a password (e.g. provisioned by SSO).
    password_hash: Mapped[str | None] = mapped_column(String(256), default=None)
    is_platform_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)

    groups: Mapped[list[Group]] = relationship(
        secondary="group_members", back_populates="members", order_by="Group.name"
    )


class Group(Timestamped, Base):
    __tablename__ = "groups"

    id: Mapped[str] = mapped_column(String(24), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    description: Mapped[str] = mapped_column(String(1024), default="")

    members: Mapped[list[User]] = relationship(
        secondary="group_members", back_populates="groups", order_by="User.name"
    )


class GroupMember(Base):
    __tablename__ = "group_members"

    group_id: Mapped[str] = mapped_column(
        ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class Studio(Timestamped, Base):
    __tablename__ = "studios"

    id: Mapped[str] = mapped_column(String(24), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    description: Mapped[str] = mapped_column(String(1024), default="")
    storage_location: Mapped[str] = mapped_column(String(1024))
    networks: Mapped[list[str]] = mapped_column(JSON)


class Membership(Base):
    """A user or a group mapped to a studio with a role and an optional session policy."""

    __tablename__ = "memberships"
    __table_args__ = (
        UniqueConstraint("studio_id", "user_id", name="uq_memberships_studio_user"),
        UniqueConstraint("studio_id", "group_id", name="uq_memberships_studio_group"),
        Index("ix_memberships_studio_page", "studio_id", "id"),
    )

    id: Mapped[str] = mapped_column(String(24), primary_key=True)
    studio_id: Mapped[str] = mapped_column(ForeignKey("studios.id", ondelete="CASCADE"))
    user_id: Mapped[str | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True, default=None
    )
    group_id: Mapped[str | None] = mapped_column(
        ForeignKey("groups.id", ondelete="CASCADE"), index=True, default=None
    )
    role: Mapped[str] = mapped_column(String(16))
    session_policy: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    user: Mapped[User | None] = relationship(lazy="joined")
    group: Mapped[Group | None] = relationship(lazy="joined")


class ApiToken(Base):
    """A login session or a personal API token; only a hash of its secret is kept."""

    __tablename__ = "api_tokens"

    id: Mapped[str] = mapped_column(String(24), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(64))
    secret_hash: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)


class Workspace(Timestamped, Base):
    __tablename__ = "workspaces"
    __table_args__ = (
        UniqueConstraint("studio_id", "name", name="uq_workspaces_studio_name"),
        # Keyset pages of a studio's workspaces, in id order, without sorting the studio.
        Index("ix_workspaces_studio_page", "studio_id", "id"),
    )

    id: Mapped[str] = mapped_column(String(24), primary_key=True)
    studio_id: Mapped[str] = mapped_column(ForeignKey("studios.id", ondelete="RESTRICT"))
    name: Mapped[str] = mapped_column(String(64))
    description: Mapped[str] = mapped_column(String(1024), default="")
    owner_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"), index=True)
    network: Mapped[str] = mapped_column(String(64))
    tags: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16))
    target: Mapped[str] = mapped_column(String(16))
    status_reason_code: Mapped[str] = mapped_column(String(64), default="")
    status_reason_message: Mapped[str] = mapped_column(Text, default="")
    cluster_id: Mapped[str | None] = mapped_column(String(24), default=None)

    owner: Mapped[User] = relationship(lazy="joined")


class Event(Base):
    """One status change of one resource: the audit trail and the timeline in the UI.

    Not foreign-keyed to the resource so that history outlives deletion.
    """

    __tablename__ = "events"
    __table_args__ = (Index("ix_events_resource", "resource_kind", "resource_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    resource_kind: Mapped[str] = mapped_column(String(32))
    resource_id: Mapped[str] = mapped_column(String(24))
    studio_id: Mapped[str | None] = mapped_column(String(24), index=True, default=None)
    from_status: Mapped[str | None] = mapped_column(String(32), default=None)
    to_status: Mapped[str] = mapped_column(String(32))
    reason_code: Mapped[str] = mapped_column(String(64))
    reason_message: Mapped[str] = mapped_column(Text, default="")
    actor: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
