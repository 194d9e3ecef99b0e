"""Tables of the metadata store."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from sparkstudio.db.base import Base, UTCDateTime, utcnow
from sparkstudio.db.sealed import SealedJSON


class Timestamped:
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class User(Timestamped, Base):
    __tablename__ = "users"
    __table_args__ = (
        # A single sign-on maps to its user by the provider's subject, never by name.
        UniqueConstraint("identity_provider", "subject", name="uq_users_identity_provider_subject"),
    )

    id: Mapped[str] = mapped_column(String(24), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(128), default="")
    email: Mapped[str | None] = mapped_column(String(254), default=None)
    # NULL for users who may not log in with a password (e.g. provisioned by SSO).
    password_hash: Mapped[str | None] = mapped_column(String(256), default=None)
    is_platform_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    # Set for users created by a single sign-on: the provider's name and its subject.
    identity_provider: Mapped[str | None] = mapped_column(String(64), default=None)
    subject: Mapped[str | None] = mapped_column(String(255), default=None)

    groups: Mapped[list[Group]] = relationship(
        secondary="group_members", back_populates="members", order_by="Group.name"
    )


class Group(Timestamped, Base):
    __tablename__ = "groups"

    id: Mapped[str] = mapped_column(String(24), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    description: Mapped[str] = mapped_column(String(1024), default="")
    # NULL for a local group; a provider's name for a directory group, whose members
    # follow that provider's groups claim at every sign-in.
    source: Mapped[str | None] = mapped_column(String(64), default=None)

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
    # Further locations a platform admin let the studio's users name (sources, outputs,
    # entry points, log locations, Git repositories on the host).
    allowed_locations: Mapped[list[str]] = mapped_column(JSON, default=list)
    networks: Mapped[list[str]] = mapped_column(JSON)
    # Quotas on the clusters of the studio that are not terminated (NULL: no limit).
    # Cores and memory count every cluster at its most workers (workers_max).
    max_clusters: Mapped[int | None] = mapped_column(Integer, default=None)
    max_cores: Mapped[int | None] = mapped_column(Integer, default=None)
    max_memory_mib: Mapped[int | None] = mapped_column(Integer, default=None)
    # PASSWORD_OR_SSO, or SSO_ONLY: members may not log in with a password.
    auth_mode: Mapped[str] = mapped_column(String(16), default="PASSWORD_OR_SSO")


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


class PendingLogin(Base):
    """A single sign-on between the redirect to the provider and its callback.

    Used once, within ten minutes. A CLI sign-in then holds a one-time code for the CLI
    to exchange for a session token (only a hash of the code is kept).
    """

    __tablename__ = "pending_logins"

    state: Mapped[str] = mapped_column(String(64), primary_key=True)
    provider: Mapped[str] = mapped_column(String(64))
    nonce: Mapped[str] = mapped_column(String(64))
    code_verifier: Mapped[str] = mapped_column(String(128))
    # Where the browser goes once signed in: a path on this server.
    next_path: Mapped[str] = mapped_column(String(1024), default="")
    # A CLI sign-in: its loopback listener's port and the S256 challenge of its verifier.
    cli_port: Mapped[int | None] = mapped_column(Integer, default=None)
    cli_challenge: Mapped[str | None] = mapped_column(String(64), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    # When the provider's callback came: the state cannot be used again.
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    user_id: Mapped[str | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), default=None
    )
    cli_code_hash: Mapped[str | None] = mapped_column(String(64), unique=True, default=None)
    cli_code_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    # The login session the browser held when it started signing in (its cookie, checked
    # then): the callback ends it. Remembered here because the SameSite=Strict cookie is
    # not sent on the provider's cross-site redirect to the callback. An id, no secret.
    previous_token_id: Mapped[str | None] = mapped_column(String(24), default=None)


class ApiToken(Base):
    """A login session, a personal API token or an AWS access key pair.

    Of a session or an API token only a hash of the secret is kept. An AWS access key
    pair (kind AWS_KEY) acts in one studio only; SigV4 needs its secret itself, so the
    secret is kept encrypted with the home's key (``secret_encrypted``) and
    ``secret_hash`` is empty.
    """

    __tablename__ = "api_tokens"

    id: Mapped[str] = mapped_column(String(24), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(64))
    secret_hash: Mapped[str] = mapped_column(String(128))
    # AWS access key pairs only.
    studio_id: Mapped[str | None] = mapped_column(
        ForeignKey("studios.id", ondelete="CASCADE"), index=True, default=None
    )
    access_key_id: Mapped[str | None] = mapped_column(String(20), unique=True, default=None)
    secret_encrypted: Mapped[str | None] = mapped_column(Text, default=None)
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
    # The workspace server: the spawner's opaque state (pid, port, the secret the proxy
    # presents); NULL while stopped. Never shown.
    server_state: Mapped[dict[str, Any] | None] = mapped_column(SealedJSON, default=None)
    server_url: Mapped[str] = mapped_column(String(512), default="")
    idle_timeout_seconds: Mapped[int] = mapped_column(Integer, default=3600)
    last_activity_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)

    owner: Mapped[User] = relationship(lazy="joined")


class WorkspaceShare(Base):
    """A studio member the owner shared a workspace with: they may open it."""

    __tablename__ = "workspace_shares"

    workspace_id: Mapped[str] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class WorkspaceRepo(Timestamped, Base):
    """A Git repository linked to a workspace, cloned into it when the server starts."""

    __tablename__ = "workspace_repos"
    __table_args__ = (
        UniqueConstraint("workspace_id", "name", name="uq_workspace_repos_workspace_name"),
    )

    id: Mapped[str] = mapped_column(String(24), primary_key=True)
    workspace_id: Mapped[str] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(64))
    url: Mapped[str] = mapped_column(String(1024))
    branch: Mapped[str] = mapped_column(String(255), default="")
    # Credentials (user name and password or token), encrypted with the home's key.
    credentials_encrypted: Mapped[str] = mapped_column(Text, default="")


class ClusterTemplate(Timestamped, Base):
    """A published template; its text lives in numbered, immutable versions."""

    __tablename__ = "cluster_templates"

    id: Mapped[str] = mapped_column(String(24), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    description: Mapped[str] = mapped_column(String(1024), default="")
    latest_version: Mapped[int] = mapped_column(Integer, default=1)

    versions: Mapped[list[TemplateVersion]] = relationship(
        back_populates="template",
        order_by="TemplateVersion.version",
        cascade="all, delete-orphan",
        passive_deletes=True,
    )


class TemplateVersion(Base):
    __tablename__ = "template_versions"
    __table_args__ = (
        UniqueConstraint("template_id", "version", name="uq_template_versions_version"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    template_id: Mapped[str] = mapped_column(ForeignKey("cluster_templates.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    body: Mapped[str] = mapped_column(Text)
    published_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    template: Mapped[ClusterTemplate] = relationship(back_populates="versions")


class TemplateShare(Base):
    """A template a studio's members may launch clusters from."""

    __tablename__ = "template_shares"

    template_id: Mapped[str] = mapped_column(
        ForeignKey("cluster_templates.id", ondelete="CASCADE"), primary_key=True
    )
    studio_id: Mapped[str] = mapped_column(
        ForeignKey("studios.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Cluster(Timestamped, Base):
    """A Spark cluster: what was asked (spec, target) and what is (status, backend state)."""

    __tablename__ = "clusters"
    __table_args__ = (
        Index("ix_clusters_studio_page", "studio_id", "id"),
        Index("ix_clusters_status", "status"),
    )

    id: Mapped[str] = mapped_column(String(24), primary_key=True)
    studio_id: Mapped[str] = mapped_column(ForeignKey("studios.id", ondelete="RESTRICT"))
    name: Mapped[str] = mapped_column(String(64))
    # The owner's name is kept for history: a user who launched clusters may be deleted.
    owner_id: Mapped[str | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    owner_name: Mapped[str] = mapped_column(String(64))
    network: Mapped[str] = mapped_column(String(64))
    backend: Mapped[str] = mapped_column(String(32))
    # Where the spec came from: a template version, or "" for a raw spec / external cluster.
    template_name: Mapped[str] = mapped_column(String(64), default="")
    template_version: Mapped[int | None] = mapped_column(Integer, default=None)
    parameters: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    tags: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    workers_min: Mapped[int] = mapped_column(Integer)
    workers_max: Mapped[int] = mapped_column(Integer)
    workers_running: Mapped[int] = mapped_column(Integer, default=0)
    idle_timeout_seconds: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(32))
    target: Mapped[str] = mapped_column(String(32))
    status_reason_code: Mapped[str] = mapped_column(String(64), default="")
    status_reason_message: Mapped[str] = mapped_column(Text, default="")
    # Why the cluster was asked to end (kept until the termination is recorded).
    termination_code: Mapped[str] = mapped_column(String(64), default="")
    termination_message: Mapped[str] = mapped_column(Text, default="")
    # The backend's opaque state (process ids, ports, the Connect token); never shown.
    state: Mapped[dict[str, Any] | None] = mapped_column(SealedJSON, default=None)
    connect_url: Mapped[str] = mapped_column(String(512), default="")
    ui_url: Mapped[str] = mapped_column(String(512), default="")
    app_id: Mapped[str] = mapped_column(String(128), default="")
    last_activity_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    ready_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)


class Application(Timestamped, Base):
    """A serverless application: warm Spark capacity that job runs are submitted to.

    Field names follow EMR Serverless's so that its wire protocol maps onto them.
    """

    __tablename__ = "applications"
    __table_args__ = (
        UniqueConstraint("studio_id", "name", name="uq_applications_studio_name"),
        UniqueConstraint("studio_id", "client_token", name="uq_applications_studio_client_token"),
        Index("ix_applications_studio_page", "studio_id", "id"),
        Index("ix_applications_status", "status"),
    )

    id: Mapped[str] = mapped_column(String(24), primary_key=True)
    studio_id: Mapped[str] = mapped_column(ForeignKey("studios.id", ondelete="RESTRICT"))
    name: Mapped[str] = mapped_column(String(64))
    type: Mapped[str] = mapped_column(String(16))
    release_label: Mapped[str] = mapped_column(String(64))
    network: Mapped[str] = mapped_column(String(64))
    backend: Mapped[str] = mapped_column(String(32))
    # Kept by name for history: the user who created it may be deleted.
    created_by: Mapped[str] = mapped_column(String(64))
    # Worker type ("DRIVER", "EXECUTOR") → worker count and configuration.
    initial_capacity: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # cpu / memory / disk caps; NULL: no cap beyond what the backend can run.
    maximum_capacity: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    auto_start_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    auto_stop_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    auto_stop_idle_timeout_minutes: Mapped[int] = mapped_column(Integer, default=15)
    scheduler_configuration: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    tags: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    # The idempotency token of the EMR Serverless request that created it, if any.
    client_token: Mapped[str | None] = mapped_column(String(64), default=None)
    status: Mapped[str] = mapped_column(String(32))
    target: Mapped[str] = mapped_column(String(32))
    status_reason_code: Mapped[str] = mapped_column(String(64), default="")
    status_reason_message: Mapped[str] = mapped_column(Text, default="")
    # The backend's opaque state (process ids, ports, the Connect token); never shown.
    state: Mapped[dict[str, Any] | None] = mapped_column(SealedJSON, default=None)
    connect_url: Mapped[str] = mapped_column(String(512), default="")
    ui_url: Mapped[str] = mapped_column(String(512), default="")
    workers_running: Mapped[int] = mapped_column(Integer, default=0)
    last_activity_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    stopped_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)


class JobRun(Timestamped, Base):
    """One job run of a serverless application (EMR Serverless's fields).

    ``created_at`` is when it was submitted; each try is a :class:`JobRunAttempt`.
    """

    __tablename__ = "job_runs"
    __table_args__ = (
        UniqueConstraint("application_id", "client_token", name="uq_job_runs_app_client_token"),
        Index("ix_job_runs_application_page", "application_id", "id"),
        Index("ix_job_runs_status", "status"),
    )

    id: Mapped[str] = mapped_column(String(24), primary_key=True)
    application_id: Mapped[str] = mapped_column(ForeignKey("applications.id", ondelete="RESTRICT"))
    studio_id: Mapped[str] = mapped_column(ForeignKey("studios.id", ondelete="RESTRICT"))
    name: Mapped[str] = mapped_column(String(256), default="")
    created_by: Mapped[str] = mapped_column(String(64))
    execution_role_arn: Mapped[str] = mapped_column(String(2048), default="")
    release_label: Mapped[str] = mapped_column(String(64))
    # sparkSubmit: entry point (a path or an object-store URI), its arguments, parameters.
    entry_point: Mapped[str] = mapped_column(Text)
    entry_point_arguments: Mapped[list[str]] = mapped_column(JSON, default=list)
    spark_submit_parameters: Mapped[str] = mapped_column(Text, default="")
    configuration_overrides: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    tags: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    execution_timeout_minutes: Mapped[int] = mapped_column(Integer, default=720)  # 0: none
    max_attempts: Mapped[int] = mapped_column(Integer, default=1)
    attempt: Mapped[int] = mapped_column(Integer, default=1)
    client_token: Mapped[str | None] = mapped_column(String(64), default=None)
    # CONNECT (on the warm driver) or CLASSIC (spark-submit on the application's workers).
    runtime: Mapped[str] = mapped_column(String(16), default="")
    runtime_reason: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(32))
    target: Mapped[str] = mapped_column(String(32))
    status_reason_code: Mapped[str] = mapped_column(String(64), default="")
    status_reason_message: Mapped[str] = mapped_column(Text, default="")
    # Where the logs go: the monitoring log URI, or the studio's storage.
    log_uri: Mapped[str] = mapped_column(String(1024), default="")
    # The running attempt's process (pid, paths); never shown.
    state: Mapped[dict[str, Any] | None] = mapped_column(SealedJSON, default=None)
    ui_url: Mapped[str] = mapped_column(String(512), default="")
    spark_app_id: Mapped[str] = mapped_column(String(128), default="")
    queued_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    running_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    # Metered from the workers its attempts held (see serverless/metering.py).
    vcpu_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    memory_gb_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    storage_gb_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    billed_vcpu_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    billed_memory_gb_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    billed_storage_gb_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)


class JobRunAttempt(Base):
    """One try of a job run; a retry policy may allow several."""

    __tablename__ = "job_run_attempts"

    job_run_id: Mapped[str] = mapped_column(
        ForeignKey("job_runs.id", ondelete="CASCADE"), primary_key=True
    )
    attempt: Mapped[int] = mapped_column(Integer, primary_key=True)
    status: Mapped[str] = mapped_column(String(32))
    status_reason_code: Mapped[str] = mapped_column(String(64), default="")
    status_reason_message: Mapped[str] = mapped_column(Text, default="")
    log_uri: Mapped[str] = mapped_column(String(1024), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class NotebookExecution(Timestamped, Base):
    """A headless, parameterized run of a notebook on a cluster or an application."""

    __tablename__ = "notebook_executions"
    __table_args__ = (
        Index("ix_notebook_executions_studio_page", "studio_id", "id"),
        Index("ix_notebook_executions_status", "status"),
        UniqueConstraint(
            "schedule_id", "scheduled_for", name="uq_notebook_executions_schedule_due"
        ),
    )

    id: Mapped[str] = mapped_column(String(24), primary_key=True)
    studio_id: Mapped[str] = mapped_column(ForeignKey("studios.id", ondelete="RESTRICT"))
    name: Mapped[str] = mapped_column(String(256), default="")
    created_by: Mapped[str] = mapped_column(String(64))
    # The notebook: a path in a workspace's files, or an object-store URI.
    workspace_id: Mapped[str | None] = mapped_column(String(24), default=None)
    notebook_path: Mapped[str] = mapped_column(Text, default="")
    notebook_uri: Mapped[str] = mapped_column(Text, default="")
    parameters: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Values may be secrets: never shown, only their names.
    environment: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    tags: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    target_kind: Mapped[str] = mapped_column(String(16))  # CLUSTER or APPLICATION
    target_id: Mapped[str] = mapped_column(String(24))
    output_location: Mapped[str] = mapped_column(String(1024))
    timeout_minutes: Mapped[int] = mapped_column(Integer, default=0)  # 0: none
    status: Mapped[str] = mapped_column(String(32))
    target: Mapped[str] = mapped_column(String(32))
    status_reason_code: Mapped[str] = mapped_column(String(64), default="")
    status_reason_message: Mapped[str] = mapped_column(Text, default="")
    state: Mapped[dict[str, Any] | None] = mapped_column(SealedJSON, default=None)
    output_notebook_uri: Mapped[str] = mapped_column(String(1024), default="")
    output_html_uri: Mapped[str] = mapped_column(String(1024), default="")
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    # Started by a schedule: for which due time (or, run now, when it was asked for).
    schedule_id: Mapped[str | None] = mapped_column(String(24), default=None)
    scheduled_for: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)


class NotebookSchedule(Timestamped, Base):
    """A notebook execution started on a cron expression in a time zone.

    ``next_due_at`` is the first due time not yet dealt with; the scheduler moves it on in
    the same transaction that starts the run, and the unique (schedule_id, scheduled_for)
    pair of executions makes a due time run at most once whatever happens in between.
    """

    __tablename__ = "notebook_schedules"
    __table_args__ = (
        UniqueConstraint("studio_id", "name", name="uq_notebook_schedules_studio_name"),
        Index("ix_notebook_schedules_studio_page", "studio_id", "id"),
    )

    id: Mapped[str] = mapped_column(String(24), primary_key=True)
    studio_id: Mapped[str] = mapped_column(ForeignKey("studios.id", ondelete="RESTRICT"))
    name: Mapped[str] = mapped_column(String(64))
    description: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(64))
    cron: Mapped[str] = mapped_column(String(128))
    time_zone: Mapped[str] = mapped_column(String(64))
    max_concurrent_runs: Mapped[int] = mapped_column(Integer, default=1)
    missed_run_policy: Mapped[str] = mapped_column(String(16))
    # What each run is: the fields of a notebook execution (environment values included).
    execution: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16))  # ACTIVE or PAUSED
    target: Mapped[str] = mapped_column(String(16))
    status_reason_code: Mapped[str] = mapped_column(String(64), default="")
    status_reason_message: Mapped[str] = mapped_column(Text, default="")
    next_due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)


class WorkerUsage(Base):
    """One worker's lifetime: what usage (core-seconds, memory-GB-seconds) is metered from.

    Kept after its cluster ends; ``ended_at`` is NULL while the worker runs.
    """

    __tablename__ = "worker_usage"
    __table_args__ = (Index("ix_worker_usage_studio_started", "studio_id", "started_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    cluster_id: Mapped[str] = mapped_column(String(24), index=True)
    studio_id: Mapped[str] = mapped_column(String(24))
    worker: Mapped[str] = mapped_column(String(32))
    cores: Mapped[int] = mapped_column(Integer)
    memory_mib: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)


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


class AuditRecord(Base):
    """One attempt to change something, or any denied attempt: who, what, where, outcome.

    Written once and never updated; not foreign-keyed so that it outlives its subjects.
    Request bodies, passwords and tokens are never stored.
    """

    __tablename__ = "audit_records"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    # NULL when the caller was not authenticated; the name is then the one they claimed.
    actor_id: Mapped[str | None] = mapped_column(String(24), default=None)
    actor_name: Mapped[str] = mapped_column(String(64), default="")
    action: Mapped[str] = mapped_column(String(64))
    resource: Mapped[str] = mapped_column(String(1024))
    studio_id: Mapped[str | None] = mapped_column(String(24), index=True, default=None)
    method: Mapped[str] = mapped_column(String(8))
    path: Mapped[str] = mapped_column(String(1024))
    source_address: Mapped[str] = mapped_column(String(64), default="")
    outcome: Mapped[str] = mapped_column(String(16))
    status_code: Mapped[int] = mapped_column(Integer)
    message: Mapped[str] = mapped_column(String(1024), default="")
