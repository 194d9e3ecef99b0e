"""Notebook executions: start, list and filter, describe, stop.

The API writes a new execution or a stop target; the execution controller
(``sparkstudio.notebooks.controller``) moves its states.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from pydantic import TypeAdapter
from sqlalchemy import select
from sqlalchemy.orm import Session

from sparkstudio import lifecycle
from sparkstudio.auth.identity import Principal
from sparkstudio.db.models import Application, Cluster, NotebookExecution, Studio
from sparkstudio.errors import Conflict, Invalid, NotFound
from sparkstudio.ids import new_id
from sparkstudio.lifecycle import (
    CLUSTER_ENDED,
    NOTEBOOK_EXECUTION,
    NOTEBOOK_EXECUTION_ENDED,
    NotebookExecutionStatus,
    Reason,
)
from sparkstudio.rules.locations import parse_location
from sparkstudio.rules.spark_conf import check_environment_variables
from sparkstudio.schemas.common import Page, decode_page_token, encode_page_token
from sparkstudio.schemas.notebook_executions import (
    ExecutionSpec,
    ExecutionTarget,
    NotebookExecutionCreate,
    NotebookExecutionPublic,
)
from sparkstudio.services import workspace_servers
from sparkstudio.services.common import page
from sparkstudio.services.job_runs import auto_start, check_startable
from sparkstudio.services.user_locations import check_output, check_source
from sparkstudio.services.workspaces import get_workspace_or_404

TARGET_RUN = "RUN"
TARGET_STOPPED = "STOPPED"
OUTPUT_FOLDER = "notebook-executions"
_N = NotebookExecutionStatus


def _checked_path(path: str) -> str:
    """A path inside the workspace: relative, without '..' or empty parts."""
    parts = path.split("/")
    if path.startswith("/") or any(part in ("", ".", "..") for part in parts):
        raise Invalid.field(
            "notebook.path",
            f"must be a path inside the workspace, without '..' or empty parts (got {path!r})",
        )
    return path


def _check_target(
    db: Session, studio: Studio, target: ExecutionTarget, actor: str, *, start: bool
) -> None:
    if target.kind == "CLUSTER":
        cluster = db.get(Cluster, target.id)
        if cluster is None or cluster.studio_id != studio.id:
            raise NotFound(f"no cluster {target.id} in studio '{studio.name}'")
        if cluster.status in CLUSTER_ENDED or cluster.target == "TERMINATED":
            raise Conflict(
                f"cluster {cluster.name} is {cluster.status}: a notebook runs on a cluster "
                "that is STARTING, RUNNING or WAITING",
                reason="InvalidState",
            )
        return
    application = db.get(Application, target.id)
    if application is None or application.studio_id != studio.id:
        raise NotFound(f"no application {target.id} in studio '{studio.name}'")
    if start:
        auto_start(db, application, actor, "a notebook execution was started")
    else:
        check_startable(application)


def check_spec(
    db: Session, studio: Studio, spec: ExecutionSpec, principal: Principal, *, start: bool = True
) -> None:
    """Refuse what ``principal`` cannot run: a workspace they may not use, a path out of
    it, an unknown target, a target that cannot run a notebook. With ``start``, a stopped
    application is auto-started."""
    source = spec.notebook
    if source.workspace_id is not None and source.path is not None:
        workspace = get_workspace_or_404(db, studio, source.workspace_id)
        workspace_servers.require_user_of(db, workspace, principal)
        _checked_path(source.path)
    if source.uri is not None:
        check_source(db, studio, principal, source.uri, "notebook.uri")
    if spec.output_location is not None:
        check_output(studio, spec.output_location, "output_location")
    check_environment_variables(spec.environment_variables, "environment_variables")
    _check_target(db, studio, spec.target, principal.name, start=start)


def start_execution(
    db: Session, studio: Studio, data: NotebookExecutionCreate, principal: Principal
) -> NotebookExecution:
    check_spec(db, studio, data, principal)
    reason = Reason("USER_REQUEST", f"started by {principal.name}")
    name = data.name or ""
    return new_execution(db, studio, data, name=name, actor=principal.name, reason=reason)


def new_execution(
    db: Session,
    studio: Studio,
    spec: ExecutionSpec,
    *,
    name: str,
    actor: str,
    reason: Reason,
    schedule_id: str | None = None,
    scheduled_for: datetime | None = None,
) -> NotebookExecution:
    """A START_PENDING execution of ``spec`` (checked already), run as ``actor``."""
    source = spec.notebook
    execution = NotebookExecution(
        id=new_id("ne"),
        studio_id=studio.id,
        name=name,
        created_by=actor,
        workspace_id=source.workspace_id,
        notebook_path=source.path or "",
        notebook_uri=parse_location(source.uri, "notebook.uri").url if source.uri else "",
        parameters=dict(spec.parameters),
        environment=dict(spec.environment_variables),
        tags=dict(spec.tags),
        target_kind=spec.target.kind,
        target_id=spec.target.id,
        output_location=parse_location(
            spec.output_location or f"{studio.storage_location.rstrip('/')}/{OUTPUT_FOLDER}",
            "output_location",
        ).url,
        timeout_minutes=spec.timeout_minutes,
        schedule_id=schedule_id,
        scheduled_for=scheduled_for,
    )
    lifecycle.initialize(db, NOTEBOOK_EXECUTION, execution, reason, actor)
    execution.target = TARGET_RUN
    db.add(execution)
    db.flush()
    return execution


def notebook_source_url(studio: Studio, execution: NotebookExecution) -> str:
    """Where the notebook is read from."""
    if execution.workspace_id is not None:
        root = workspace_servers.contents_url(studio.storage_location, execution.workspace_id)
        return f"{root}/{execution.notebook_path}"
    return execution.notebook_uri


def get_execution_or_404(db: Session, studio: Studio, execution_id: str) -> NotebookExecution:
    execution = db.get(NotebookExecution, execution_id)
    if execution is None or execution.studio_id != studio.id:
        raise NotFound(f"no notebook execution {execution_id} in studio '{studio.name}'")
    return execution


def list_executions(
    db: Session,
    studio: Studio,
    *,
    limit: int,
    next_token: str | None,
    statuses: Iterable[NotebookExecutionStatus] = (),
    notebook: str | None = None,
    target_id: str | None = None,
    tag: tuple[str, str] | None = None,
    created_after: datetime | None = None,
    created_before: datetime | None = None,
    schedule_id: str | None = None,
) -> Page[NotebookExecutionPublic]:
    """Executions of the studio, oldest first, filtered (``notebook``: a path or a URI)."""
    statement = select(NotebookExecution).where(NotebookExecution.studio_id == studio.id)
    if schedule_id is not None:
        statement = statement.where(NotebookExecution.schedule_id == schedule_id)
    wanted = [status.value for status in statuses]
    if wanted:
        statement = statement.where(NotebookExecution.status.in_(wanted))
    if notebook:
        statement = statement.where(
            (NotebookExecution.notebook_path == notebook)
            | (NotebookExecution.notebook_uri == notebook)
        )
    if target_id:
        statement = statement.where(NotebookExecution.target_id == target_id)
    if created_after is not None:
        statement = statement.where(NotebookExecution.created_at >= created_after)
    if created_before is not None:
        statement = statement.where(NotebookExecution.created_at <= created_before)
    if tag is None:
        rows, token = page(db, statement, NotebookExecution.id, limit, next_token)
    else:  # tags are JSON: filtered here, over the studio's executions in id order
        key, value = tag
        rows, token = [], None
        candidates = db.scalars(statement.order_by(NotebookExecution.id)).all()
        matching = [e for e in candidates if e.tags.get(key) == value]
        after = decode_page_token(next_token)
        matching = [e for e in matching if after is None or e.id > after]
        rows = matching[:limit]
        token = encode_page_token(rows[-1].id) if len(matching) > limit else None
    return _PAGE.validate_python(
        {"items": [execution_public(e) for e in rows], "next_token": token}
    )


_PAGE = TypeAdapter(Page[NotebookExecutionPublic])


def execution_public(execution: NotebookExecution) -> NotebookExecutionPublic:
    notebook: dict[str, Any] = (
        {"workspace_id": execution.workspace_id, "path": execution.notebook_path}
        if execution.workspace_id is not None
        else {"uri": execution.notebook_uri}
    )
    return NotebookExecutionPublic.model_validate(
        {
            **{c.name: getattr(execution, c.name) for c in NotebookExecution.__table__.columns},
            "notebook": notebook,
            "environment_variable_names": sorted(execution.environment),
            "target": {"kind": execution.target_kind, "id": execution.target_id},
            "status_reason": {
                "code": execution.status_reason_code,
                "message": execution.status_reason_message,
            },
        }
    )


def stop_execution(
    db: Session, execution: NotebookExecution, principal: Principal
) -> NotebookExecution:
    """Ask it to stop (STOP_PENDING, then STOPPING and STOPPED); a 409 once it has ended."""
    if execution.status in NOTEBOOK_EXECUTION_ENDED:
        raise Conflict(
            f"notebook execution {execution.id} is {execution.status}: it has ended",
            reason="InvalidState",
        )
    if execution.target != TARGET_STOPPED:
        execution.target = TARGET_STOPPED
        if NOTEBOOK_EXECUTION.allowed(execution.status, _N.STOP_PENDING):
            lifecycle.transition(
                db,
                NOTEBOOK_EXECUTION,
                execution,
                _N.STOP_PENDING,
                Reason("USER_REQUEST", f"stop requested by {principal.name}"),
                principal.name,
            )
        db.flush()
    return execution


def live_execution_ids(db: Session) -> list[str]:
    ended = [status.value for status in NOTEBOOK_EXECUTION_ENDED]
    return list(
        db.scalars(select(NotebookExecution.id).where(NotebookExecution.status.not_in(ended)))
    )
