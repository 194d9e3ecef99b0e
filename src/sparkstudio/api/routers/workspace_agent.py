"""Calls from inside a workspace server: a kernel's ``%attach`` and ``%detach``.

They are authenticated by the server's secret (kernels inherit it), not by a user's
token, and they can only change the attachment of that one workspace, on behalf of
one of its users (the owner or a member it is shared with), with the same checks as
``PUT /studios/{id}/workspaces/{id}/attachment``.
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import APIRouter, Header
from sqlalchemy import select

from sparkstudio.api.deps import Db, Workspaces
from sparkstudio.api.errors import ERROR_RESPONSES
from sparkstudio.auth.identity import principal_of
from sparkstudio.db.models import Studio, User, Workspace
from sparkstudio.errors import Forbidden, NotFound, Unauthenticated
from sparkstudio.jupyter.identity import SECRET_HEADER
from sparkstudio.lifecycle import Reason
from sparkstudio.schemas.workspaces import AgentAttach, WorkspacePublic
from sparkstudio.services import workspace_servers as servers
from sparkstudio.services import workspaces as service

router = APIRouter(prefix="/workspace-agent", tags=["workspaces"], responses=ERROR_RESPONSES)


@router.put("/{workspace_id}/attachment")
def agent_attach(
    workspace_id: str,
    body: AgentAttach,
    db: Db,
    runtime: Workspaces,
    secret: Annotated[str, Header(alias=SECRET_HEADER)] = "",
) -> WorkspacePublic:
    """Attach (``cluster``: a name or an id) or detach (``cluster``: null) from a kernel."""
    workspace = db.get(Workspace, workspace_id)
    state = workspace.server_state if workspace is not None else None
    expected = str(state.get("secret", "")) if state else ""
    if (
        workspace is None
        or not expected
        or not hmac.compare_digest(secret.encode(), expected.encode())
    ):
        raise Unauthenticated("only a running workspace server may call this")
    user = db.scalars(select(User).where(User.name == body.user)).first()
    if user is None or user.disabled:
        raise NotFound(f"no user {body.user}")
    principal = principal_of(user)
    if not servers.may_open(db, workspace, principal):
        raise Forbidden(f"{body.user} may not use workspace {workspace.name}")
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
