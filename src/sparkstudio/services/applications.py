"""Serverless applications: create, update by EMR's rules, start, stop, delete, tags.

The API (and the AWS wire adapter) only write what is wanted: a new application, its
fields, a target. The reconciler (``sparkstudio.serverless.controller``) moves statuses.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pydantic import TypeAdapter
from sqlalchemy import select
from sqlalchemy.orm import Session

from sparkstudio import lifecycle
from sparkstudio.auth.identity import Principal
from sparkstudio.db.models import Application, Studio
from sparkstudio.errors import Conflict, Invalid, NotFound
from sparkstudio.ids import new_id
from sparkstudio.lifecycle import APPLICATION, ApplicationStatus, Reason
from sparkstudio.schemas.applications import (
    ApplicationCreate,
    ApplicationPublic,
    ApplicationUpdate,
)
from sparkstudio.schemas.common import Page
from sparkstudio.serverless import capacity
from sparkstudio.serverless.releases import check_release_label, supported_release_labels
from sparkstudio.services.common import flush_or_conflict, page

TARGET_STARTED = "STARTED"
TARGET_STOPPED = "STOPPED"
TARGET_TERMINATED = "TERMINATED"
_S = ApplicationStatus
# EMR's rule: an application is reconfigured only while nothing of it runs.
EDITABLE = frozenset({_S.CREATING, _S.CREATED, _S.STOPPED})
# Beyond EMR's rule, these may change while it runs (the reconciler applies them).
EDITABLE_WHILE_RUNNING = frozenset({"tags", "auto_stop_configuration", "maximum_capacity"})
RUNNING = frozenset({_S.STARTING, _S.STARTED})
DELETABLE = frozenset({_S.CREATED, _S.STOPPED})


def _network(studio: Studio, wanted: str | None) -> str:
    network = wanted or studio.networks[0]
    if network not in studio.networks:
        raise Invalid.field(
            "network", f"must be one of the studio's networks: {', '.join(studio.networks)}"
        )
    return network


def _dump(value: Any) -> Any:
    return value.model_dump(mode="json") if value is not None else None


def create_application(
    db: Session,
    studio: Studio,
    data: ApplicationCreate,
    principal: Principal,
    *,
    backend: str,
    client_token: str | None = None,
) -> Application:
    """Create an application; with ``client_token``, once: a retry of the same request
    (the same token and name) gets the application it created, a different request with
    the same token a 409."""
    if client_token is not None:
        earlier = db.scalars(
            select(Application).where(
                Application.studio_id == studio.id, Application.client_token == client_token
            )
        ).first()
        if earlier is not None:
            if earlier.name != data.name:
                raise Conflict(
                    f"client token {client_token!r} was used to create application "
                    f"{earlier.id} named {earlier.name}, not {data.name}",
                    reason="IdempotencyMismatch",
                )
            return earlier
    check_release_label(data.release_label)
    capacity.resolve(data.initial_capacity, data.maximum_capacity)
    application = Application(
        id=new_id("app"),
        studio_id=studio.id,
        name=data.name,
        type=data.type,
        release_label=data.release_label,
        network=_network(studio, data.network),
        backend=backend,
        created_by=principal.name,
        initial_capacity={k: _dump(v) for k, v in data.initial_capacity.items()},
        maximum_capacity=_dump(data.maximum_capacity),
        auto_start_enabled=data.auto_start_configuration.enabled,
        auto_stop_enabled=data.auto_stop_configuration.enabled,
        auto_stop_idle_timeout_minutes=data.auto_stop_configuration.idle_timeout_minutes,
        scheduler_configuration=_dump(data.scheduler_configuration),
        tags=dict(data.tags),
        client_token=client_token,
    )
    lifecycle.initialize(
        db,
        APPLICATION,
        application,
        Reason("USER_REQUEST", f"created by {principal.name}"),
        principal.name,
    )
    application.target = TARGET_STOPPED
    db.add(application)
    flush_or_conflict(db, f"studio '{studio.name}' already has an application named {data.name}")
    return application


def get_application_or_404(db: Session, studio: Studio, application_id: str) -> Application:
    application = db.get(Application, application_id)
    if application is None or application.studio_id != studio.id:
        raise NotFound(f"no application {application_id} in studio '{studio.name}'")
    return application


def list_applications(
    db: Session,
    studio: Studio,
    *,
    limit: int,
    next_token: str | None,
    states: Iterable[ApplicationStatus] = (),
) -> Page[ApplicationPublic]:
    statement = select(Application).where(Application.studio_id == studio.id)
    wanted = [state.value for state in states]
    if wanted:
        statement = statement.where(Application.status.in_(wanted))
    rows, token = page(db, statement, Application.id, limit, next_token)
    return _PAGE.validate_python(
        {"items": [application_public(a) for a in rows], "next_token": token}
    )


_PAGE = TypeAdapter(Page[ApplicationPublic])


def application_public(application: Application) -> ApplicationPublic:
    plan = capacity.capacity_of(application.initial_capacity, application.maximum_capacity)
    return ApplicationPublic.model_validate(
        {
            **{c.name: getattr(application, c.name) for c in Application.__table__.columns},
            "spark_version": supported_release_labels().get(application.release_label, ""),
            "auto_start_configuration": {"enabled": application.auto_start_enabled},
            "auto_stop_configuration": {
                "enabled": application.auto_stop_enabled,
                "idle_timeout_minutes": application.auto_stop_idle_timeout_minutes,
            },
            "status_reason": {
                "code": application.status_reason_code,
                "message": application.status_reason_message,
            },
            "workers": {
                "min": plan.executors_initial,
                "max": plan.executors_max,
                "running": application.workers_running,
            },
        }
    )


def update_application(
    db: Session,
    studio: Studio,
    application: Application,
    data: ApplicationUpdate,
    principal: Principal,
) -> Application:
    changed = data.model_fields_set
    _check_editable(application, changed)
    if data.release_label is not None:
        application.release_label = check_release_label(data.release_label)
    if data.network is not None:
        application.network = _network(studio, data.network)
    if data.initial_capacity is not None or "maximum_capacity" in changed:
        initial = (
            {k: _dump(v) for k, v in data.initial_capacity.items()}
            if data.initial_capacity is not None
            else application.initial_capacity
        )
        # An explicit null removes the cap; leaving the field out keeps it.
        maximum = (
            _dump(data.maximum_capacity)
            if "maximum_capacity" in changed
            else application.maximum_capacity
        )
        capacity.capacity_of(initial, maximum)  # the pair must fit together
        application.initial_capacity, application.maximum_capacity = initial, maximum
    if data.auto_start_configuration is not None:
        application.auto_start_enabled = data.auto_start_configuration.enabled
    if data.auto_stop_configuration is not None:
        application.auto_stop_enabled = data.auto_stop_configuration.enabled
        minutes = data.auto_stop_configuration.idle_timeout_minutes
        application.auto_stop_idle_timeout_minutes = minutes
    if data.scheduler_configuration is not None:
        application.scheduler_configuration = _dump(data.scheduler_configuration)
    if data.tags is not None:
        application.tags = dict(data.tags)
    fields = ", ".join(sorted(changed)) or "nothing"
    lifecycle.note(
        db,
        APPLICATION,
        application,
        Reason("UPDATED", f"{fields} changed by {principal.name}"),
        principal.name,
    )
    db.flush()
    return application


def _check_editable(application: Application, changed: set[str]) -> None:
    """EMR's rule (CREATED or STOPPED), widened for a few fields while it runs."""
    if application.status in EDITABLE:
        return
    fixed = sorted(changed - EDITABLE_WHILE_RUNNING)
    if application.status in RUNNING and not fixed:
        return
    also = ""
    if application.status in RUNNING:
        also = (
            "; while it runs only tags, auto_stop_configuration and maximum_capacity "
            f"may change (not {', '.join(fixed)})"
        )
    raise Conflict(
        f"application {application.id} is {application.status}: it can be updated "
        f"when CREATED or STOPPED{also}",
        reason="InvalidState",
    )


def start_application(db: Session, application: Application, principal: Principal) -> Application:
    """Ask for the application to run (idempotent while starting or started)."""
    if application.status in (_S.STOPPING, _S.TERMINATED) or application.target == (
        TARGET_TERMINATED
    ):
        raise Conflict(
            f"application {application.id} is {application.status}; it can be started when "
            "CREATED, STOPPED or already starting",
            reason="InvalidState",
        )
    if application.target != TARGET_STARTED:
        # The host's Spark may have changed since the application was created.
        check_release_label(application.release_label)
        application.target = TARGET_STARTED
        _requested(db, application, "START_REQUESTED", principal)
    return application


def stop_application(db: Session, application: Application, principal: Principal) -> Application:
    """Ask for every process to stop (idempotent; nothing to do when not running)."""
    if application.status == _S.TERMINATED or application.target == TARGET_TERMINATED:
        raise Conflict(
            f"application {application.id} is {application.status}", reason="InvalidState"
        )
    if application.target != TARGET_STOPPED:
        application.target = TARGET_STOPPED
        _requested(db, application, "STOP_REQUESTED", principal)
    return application


def delete_application(db: Session, application: Application, principal: Principal) -> Application:
    """Delete: only CREATED or STOPPED applications, as EMR; the record stays TERMINATED."""
    if application.status not in DELETABLE or application.target == TARGET_STARTED:
        raise Conflict(
            f"application {application.id} is {application.status}: stop it first; "
            "only CREATED or STOPPED applications can be deleted",
            reason="InvalidState",
        )
    application.target = TARGET_TERMINATED
    _requested(db, application, "DELETE_REQUESTED", principal)
    return application


def tag_application(db: Session, application: Application, tags: dict[str, str]) -> Application:
    """Add or replace tags (any state but TERMINATED)."""
    _require_not_terminated(application)
    merged = {**application.tags, **tags}
    if len(merged) > 50:
        raise Invalid.field("tags", f"at most 50 tags (this would make {len(merged)})")
    application.tags = merged
    db.flush()
    return application


def untag_application(db: Session, application: Application, keys: Iterable[str]) -> Application:
    _require_not_terminated(application)
    removed = set(keys)
    application.tags = {k: v for k, v in application.tags.items() if k not in removed}
    db.flush()
    return application


def _require_not_terminated(application: Application) -> None:
    if application.status == _S.TERMINATED:
        raise Conflict(f"application {application.id} is TERMINATED", reason="InvalidState")


def _requested(db: Session, application: Application, code: str, principal: Principal) -> None:
    verb = {"START": "start requested", "STOP": "stop requested", "DELETE": "deleted"}
    message = f"{verb[code.split('_')[0]]} by {principal.name}"
    lifecycle.note(db, APPLICATION, application, Reason(code, message), principal.name)
    db.flush()


def live_application_ids(db: Session) -> list[str]:
    """Applications the reconciler may have work on (every one not terminated)."""
    return list(db.scalars(select(Application.id).where(Application.status != _S.TERMINATED.value)))
