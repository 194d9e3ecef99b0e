"""Calls from inside a workspace server: a kernel's ``%attach`` and ``%detach``.

They are authenticated by the server's secret (kernels inherit it), not by a user's
token, and they can only change the attachment of that one workspace, on behalf of
one of its users (the owner or a member it is shared with), with the same checks as
``PUT /studios/{id}/workspaces/{id}/attachment``.
"""

from __future__ import annotations

import hmac
import time
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Header
from sqlalchemy import select
from sqlalchemy.orm import Session

from sparkstudio.api.deps import AppSettings, Db, Workspaces
from sparkstudio.api.errors import ERROR_RESPONSES
from sparkstudio.auth.identity import principal_of
from sparkstudio.db.models import Cluster, Studio, User, Workspace
from sparkstudio.errors import Conflict, Forbidden, NotFound, Unauthenticated
from sparkstudio.jupyter.identity import SECRET_HEADER
from sparkstudio.lifecycle import Reason
from sparkstudio.schemas.workspaces import (
    AgentAttach,
    AgentConnectToken,
    ConnectTokenPublic,
    WorkspacePublic,
)
from sparkstudio.services import workspace_servers as servers
from sparkstudio.services import workspaces as service
from sparkstudio.services.connect_access import may_connect, mint_for_user

router = APIRouter(prefix="/workspace-agent", tags=["workspaces"], responses=ERROR_RESPONSES)


def _caller(db: Session, workspace_id: str, secret: str, user_name: str) -> tuple[Workspace, User]:
    """The workspace whose server presents ``secret``, and the user of it a kernel speaks
    for (its owner or a member it is shared with)."""
    workspace = db.get(Workspace, workspace_id)
    state = workspace.server_state if workspace is not None else None
    expected = str(state.get("secret", "")) if state else ""
    if (
        workspace is None
        or not expected
        or not hmac.compare_digest(secret.encode(), expected.encode())
    ):
        raise Unauthenticated("only a running workspace server may call this")
    user = db.scalars(select(User).where(User.name == user_name)).first()
    if user is None or user.disabled:
        raise NotFound(f"no user {user_name}")
    if not servers.may_open(db, workspace, principal_of(user)):
        raise Forbidden(f"{user_name} may not use workspace {workspace.name}")
    return workspace, user


@router.post("/{workspace_id}/connect-token")
def agent_connect_token(
    workspace_id: str,
    body: AgentConnectToken,
    db: Db,
    settings: AppSettings,
    secret: Annotated[str, Header(alias=SECRET_HEADER)] = "",
) -> ConnectTokenPublic:
    """A Spark Connect token of a user of the workspace for its attached cluster, if that
    user may perform cluster:Connect on it (the front checks again at every new session)."""
    workspace, user = _caller(db, workspace_id, secret, body.user)
    if workspace.cluster_id != body.cluster_id:
        raise Conflict(
            f"workspace {workspace.name} is not attached to cluster {body.cluster_id}",
            reason="InvalidState",
        )
    cluster = db.get(Cluster, body.cluster_id)
    if cluster is None:
        raise NotFound(f"no cluster {body.cluster_id}")
    refused = may_connect(db, user, cluster)
    if refused is not None:
        raise Forbidden(refused)
    now = time.time()
    token = mint_for_user(settings, user.name, user.id, cluster.id, now=now)
    expires = datetime.fromtimestamp(now + settings.connect_token_minutes * 60, tz=UTC)
    return ConnectTokenPublic(token=token, expires_at=expires)


@router.put("/{workspace_id}/attachment")
def agent_attach(
    workspace_id: str,
    body: AgentAttach,
    db: Db,
    runtime: Workspaces,
    secret: Annotated[str, Header(alias=SECRET_HEADER)] = "",
) -> WorkspacePublic:
    """Attach (``cluster``: a name or an id) or detach (``cluster``: null) from a kernel."""
    workspace, user = _caller(db, workspace_id, secret, body.user)
    studio = db.get(Studio, workspace.studio_id)
    assert studio is not None
    actor = f"{user.name} (from a kernel)"
    if body.cluster is None:
        servers.detach(db, workspace, Reason("DETACHED", f"detached by {actor}"), actor)
    else:
        cluster = servers.find_cluster(db, studio, body.cluster)
        servers.attach(db, studio, workspace, cluster, actor)
    attachment = servers.attachment_of(db, workspace)
    db.commit()
    runtime.push(workspace.id, attachment)
    return service.workspace_public(workspace)
