"""Notebook executions: start, list, describe, stop, events, outputs."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from typing import IO, Annotated, Literal

from fastapi import APIRouter, Query, status
from fastapi.responses import Response, StreamingResponse
from sqlalchemy.orm import Session

from sparkstudio.api.deps import (
    Access,
    Applications,
    AppSettings,
    Authorized,
    Db,
    Notebooks,
    requires,
)
from sparkstudio.api.errors import ERROR_RESPONSES
from sparkstudio.auth.actions import Action
from sparkstudio.db.models import NotebookExecution
from sparkstudio.errors import Conflict
from sparkstudio.lifecycle import NOTEBOOK_EXECUTION, NotebookExecutionStatus
from sparkstudio.schemas.common import Limit, Page, PageToken
from sparkstudio.schemas.events import EventPublic
from sparkstudio.schemas.notebook_executions import (
    NotebookExecutionCreate,
    NotebookExecutionPublic,
)
from sparkstudio.services import events as event_service
from sparkstudio.services import notebook_executions as service
from sparkstudio.services import user_locations
from sparkstudio.settings import Settings

router = APIRouter(
    prefix="/studios/{studio_id}/notebook-executions",
    tags=["notebook executions"],
    responses=ERROR_RESPONSES,
)

# A tag filter: KEY=VALUE, split at the first '=' (a key with '=' cannot be filtered on).
TAG_FILTER_PATTERN = r"^[^=]+="
OUTPUT_TYPES = {"ipynb": "application/x-ipynb+json", "html": "text/html; charset=utf-8"}
_CHUNK_BYTES = 1 << 16
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]")


def _execution(db: Session, access: Access, notebook_execution_id: str) -> NotebookExecution:
    return service.get_execution_or_404(db, access.require_studio(), notebook_execution_id)


def _wake(execution: NotebookExecution, notebooks: Notebooks, applications: Applications) -> None:
    notebooks.wake(execution.id)
    if execution.target_kind == "APPLICATION":  # the controller may start it (auto-start)
        applications.wake(execution.target_id)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    openapi_extra=requires(Action.NOTEBOOK_EXECUTION_START),
)
def start_notebook_execution(
    studio_id: str,
    body: NotebookExecutionCreate,
    access: Authorized,
    db: Db,
    notebooks: Notebooks,
    applications: Applications,
) -> NotebookExecutionPublic:
    """Run a notebook headless (START_PENDING) on a cluster (STARTING, RUNNING or WAITING)
    or an application (started first when it is stopped and auto-start is on). A cluster
    that has ended, a deleted application, or a stopped one with auto-start off: a 409."""
    studio = access.require_studio()
    execution = service.start_execution(db, studio, body, access.principal)
    db.commit()
    _wake(execution, notebooks, applications)
    return service.execution_public(execution)


@router.get("", openapi_extra=requires(Action.NOTEBOOK_EXECUTION_LIST))
def list_notebook_executions(
    studio_id: str,
    access: Authorized,
    db: Db,
    limit: Limit = 100,
    next_token: PageToken = None,
    states: Annotated[
        list[NotebookExecutionStatus] | None, Query(description="Only executions in these states.")
    ] = None,
    notebook: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=1024,
            description="Only executions of this notebook: its path in a workspace, or its URI.",
        ),
    ] = None,
    target_id: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=24,
            description="Only executions on this cluster or application (its id).",
        ),
    ] = None,
    tag: Annotated[
        str | None,
        Query(
            max_length=400,
            pattern=TAG_FILTER_PATTERN,
            description="Only executions with this tag, as KEY=VALUE (split at the first '=').",
        ),
    ] = None,
    created_after: Annotated[
        datetime | None, Query(description="Only executions started at or after this time.")
    ] = None,
    created_before: Annotated[
        datetime | None, Query(description="Only executions started at or before this time.")
    ] = None,
    schedule_id: Annotated[
        str | None,
        Query(min_length=1, max_length=24, description="Only runs of this notebook schedule."),
    ] = None,
) -> Page[NotebookExecutionPublic]:
    """The studio's notebook executions, oldest first."""
    wanted_tag = None
    if tag is not None:
        key, _, value = tag.partition("=")
        wanted_tag = (key, value)
    return service.list_executions(
        db,
        access.require_studio(),
        limit=limit,
        next_token=next_token,
        statuses=states or (),
        notebook=notebook,
        target_id=target_id,
        tag=wanted_tag,
        created_after=created_after,
        created_before=created_before,
        schedule_id=schedule_id,
    )


@router.get("/{notebook_execution_id}", openapi_extra=requires(Action.NOTEBOOK_EXECUTION_DESCRIBE))
def describe_notebook_execution(
    studio_id: str, notebook_execution_id: str, access: Authorized, db: Db
) -> NotebookExecutionPublic:
    return service.execution_public(_execution(db, access, notebook_execution_id))


@router.post(
    "/{notebook_execution_id}/stop",
    status_code=status.HTTP_202_ACCEPTED,
    openapi_extra=requires(Action.NOTEBOOK_EXECUTION_STOP),
)
def stop_notebook_execution(
    studio_id: str,
    notebook_execution_id: str,
    access: Authorized,
    db: Db,
    notebooks: Notebooks,
    applications: Applications,
) -> NotebookExecutionPublic:
    """Stop an execution that has not ended (STOP_PENDING, STOPPING, then STOPPED); a 409
    once it has ended."""
    execution = _execution(db, access, notebook_execution_id)
    service.stop_execution(db, execution, access.principal)
    db.commit()
    _wake(execution, notebooks, applications)
    return service.execution_public(execution)


@router.get(
    "/{notebook_execution_id}/events", openapi_extra=requires(Action.NOTEBOOK_EXECUTION_DESCRIBE)
)
def list_notebook_execution_events(
    studio_id: str,
    notebook_execution_id: str,
    access: Authorized,
    db: Db,
    limit: Limit = 100,
    next_token: PageToken = None,
) -> Page[EventPublic]:
    """State changes of the execution, oldest first, with reasons."""
    execution = _execution(db, access, notebook_execution_id)
    rows, token = event_service.list_events(
        db, NOTEBOOK_EXECUTION.kind, execution.id, limit=limit, next_token=next_token
    )
    return Page(items=[event_service.event_public(e) for e in rows], next_token=token)


def _chunks(file: IO[bytes]) -> Iterator[bytes]:
    with file:
        while chunk := file.read(_CHUNK_BYTES):
            yield chunk


def _open_output(
    settings: Settings, execution: NotebookExecution, kind: str, roots: list[str]
) -> tuple[IO[bytes], int | None]:
    url = execution.output_notebook_uri if kind == "ipynb" else execution.output_html_uri
    missing = Conflict(
        f"notebook execution {execution.id} has no {kind} output (yet): it is "
        f"{execution.status}; its outputs are written when it ends",
        reason="InvalidState",
    )
    if not url:
        raise missing
    try:
        return user_locations.open_file(settings, url, roots)
    except (FileNotFoundError, IsADirectoryError):
        raise missing from None


@router.get(
    "/{notebook_execution_id}/output",
    # The base class has no media type of its own: errors stay documented as JSON.
    response_class=Response,
    responses={
        200: {
            "content": {
                "application/x-ipynb+json": {"schema": {"type": "string", "format": "binary"}},
                "text/html": {"schema": {"type": "string"}},
            }
        }
    },
    openapi_extra=requires(Action.NOTEBOOK_EXECUTION_DESCRIBE),
)
def download_notebook_execution_output(
    studio_id: str,
    notebook_execution_id: str,
    access: Authorized,
    db: Db,
    settings: AppSettings,
    format: Annotated[
        Literal["ipynb", "html"],
        Query(description="The executed notebook (ipynb) or its HTML rendering (html)."),
    ] = "ipynb",
) -> StreamingResponse:
    """The executed notebook, with its outputs (or its HTML); a 409 until it is written."""
    execution = _execution(db, access, notebook_execution_id)
    roots = user_locations.studio_roots(access.require_studio())
    file, size = _open_output(settings, execution, format, roots)
    url = execution.output_notebook_uri if format == "ipynb" else execution.output_html_uri
    filename = _SAFE_NAME.sub("_", url.rstrip("/").rsplit("/", 1)[-1]) or f"{execution.id}.{format}"
    headers = {"Content-Disposition": f'attachment; filename="{filename}"'}
    if size is not None:
        headers["Content-Length"] = str(size)
    return StreamingResponse(_chunks(file), media_type=OUTPUT_TYPES[format], headers=headers)
