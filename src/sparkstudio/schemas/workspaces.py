from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field, SecretStr, Strict

from sparkstudio.schemas.common import (
    ID_PATTERN,
    Description,
    Name,
    PublicModel,
    StatusReason,
    StrictModel,
    Tags,
    UserName,
)

IdleTimeout = Annotated[
    int,
    Strict(),
    Field(
        ge=60,
        le=7 * 86400,
        description="Stop the server after this many seconds with no open connection and no "
        "kernel activity (60 s to 7 days).",
    ),
]


class WorkspaceCreate(StrictModel):
    name: Name
    description: Description = ""
    network: Name | None = Field(
        default=None, description="One of the studio's networks; its first one when omitted."
    )
    tags: Tags = Field(default_factory=dict)
    idle_timeout_seconds: IdleTimeout | None = Field(
        default=None, description="The platform's default (one hour) when omitted."
    )


class WorkspaceUpdate(StrictModel):
    name: Name | None = None
    description: Description | None = None
    tags: Tags | None = Field(default=None, description="Replaces all tags.")
    idle_timeout_seconds: IdleTimeout | None = None


class WorkspaceAttach(StrictModel):
    cluster_id: Annotated[
        str,
        Field(
            min_length=1,
            max_length=64,
            description="The id or the name of a RUNNING or WAITING cluster of the studio, "
            "in the workspace's network.",
        ),
    ]


class WorkspaceShare(StrictModel):
    user: UserName = Field(description="A member of the studio.")


class SharePublic(PublicModel):
    user_id: str
    user: str


class LeftoverFiles(PublicModel):
    workspace_id: str = Field(description="The id of the deleted workspace the files were of.")
    url: str


class AgentAttach(StrictModel):
    """A kernel's %attach / %detach (authenticated by the workspace server's secret)."""

    cluster: Annotated[str, Field(min_length=1, max_length=64)] | None
    user: UserName


class AgentConnectToken(StrictModel):
    """A kernel asks for a Spark Connect token of one of the workspace's users."""

    cluster_id: Annotated[str, Field(pattern=ID_PATTERN)]
    user: UserName


class ConnectTokenPublic(BaseModel):
    token: str
    expires_at: datetime


class WorkspacePublic(PublicModel):
    id: str
    studio_id: str
    name: str
    description: str
    owner_id: str
    owner: str = Field(description="Name of the owner.")
    network: str
    tags: dict[str, str]
    status: str
    target: str
    status_reason: StatusReason
    cluster_id: str | None
    url: str = Field(description="Where JupyterLab opens (through the control plane).")
    idle_timeout_seconds: int
    last_activity_at: datetime
    created_at: datetime
    updated_at: datetime


GIT_URL_RULE = "an https://, http://, ssh://, git:// or file:// URL, or user@host:path"
GIT_URL_PATTERN = r"^((https?|ssh|git|file)://[^\s]+|[\w.-]+@[\w.-]+:[^\s]+)$"
BRANCH_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,254}$"
MAX_REPOS = 3


class RepoCreate(StrictModel):
    url: Annotated[str, Field(max_length=1024, pattern=GIT_URL_PATTERN, description=GIT_URL_RULE)]
    branch: Annotated[
        str,
        Field(pattern=BRANCH_PATTERN, description="A branch name; the default branch if omitted."),
    ] = ""
    name: Name | None = Field(
        default=None,
        description="The folder it is cloned into; the repository's name when omitted.",
    )
    username: Annotated[str, Field(max_length=256)] = ""
    password: SecretStr | None = Field(
        default=None, description="A password or access token; stored encrypted, never shown."
    )


class RepoPublic(PublicModel):
    id: str
    name: str
    url: str
    branch: str
    has_credentials: bool
    created_at: datetime


class GitOutput(PublicModel):
    repo: str
    output: str = Field(description="What git printed.")
