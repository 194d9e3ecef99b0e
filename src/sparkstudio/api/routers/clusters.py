"""Clusters of a studio: launch (template, raw spec, external), watch, scale, terminate."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query, status

from sparkstudio.api.deps import AppSettings, Authorized, Db, Runtime, requires
from sparkstudio.api.errors import ERROR_RESPONSES
from sparkstudio.auth.actions import Action
from sparkstudio.db.base import utcnow
from sparkstudio.lifecycle import CLUSTER, ClusterStatus
from sparkstudio.schemas.clusters import (
    ClusterConnection,
    ClusterCreate,
    ClusterCreateFromSpec,
    ClusterPublic,
    ClusterRegister,
    ClusterScale,
    QuotasPublic,
    QuotasUpdate,
    UsageReport,
)
from sparkstudio.schemas.common import Limit, Name, Page, PageToken
from sparkstudio.schemas.events import EventPublic
from sparkstudio.services import clusters as service
from sparkstudio.services import events as event_service
from sparkstudio.services.connect_access import mint_for_user
from sparkstudio.services.usage import usage_report

router = APIRouter(prefix="/studios/{studio_id}", tags=["clusters"], responses=ERROR_RESPONSES)


@router.post(
    "/clusters", status_code=status.HTTP_201_CREATED, openapi_extra=requires(Action.CLUSTER_CREATE)
)
def create_cluster(
    studio_id: str,
    body: ClusterCreate,
    access: Authorized,
    db: Db,
    runtime: Runtime,
    settings: AppSettings,
) -> ClusterPublic:
    """Launch a cluster from a template shared with the studio.

    Every parameter is checked against the template (422 names the parameter and what
    it allows) and the studio's quotas are checked before anything starts. The answer
    comes at once, with status STARTING; poll the cluster until it is WAITING.
    """
    backend = runtime.require_backend(settings.cluster_backend)
    cluster = service.create_from_template(
        db, access.require_studio(), body, access.principal, backend=backend
    )
    db.commit()
    runtime.wake(cluster.id)
    return service.cluster_public(cluster)


@router.post(
    "/clusters/from-spec",
    status_code=status.HTTP_201_CREATED,
    openapi_extra=requires(Action.CLUSTER_CREATE_FROM_SPEC),
)
def create_cluster_from_spec(
    studio_id: str,
    body: ClusterCreateFromSpec,
    access: Authorized,
    db: Db,
    runtime: Runtime,
    settings: AppSettings,
) -> ClusterPublic:
    """Launch a cluster from a raw spec, without a template (studio admins)."""
    backend = runtime.require_backend(settings.cluster_backend)
    cluster = service.create_from_spec(
        db, access.require_studio(), body, access.principal, backend=backend
    )
    db.commit()
    runtime.wake(cluster.id)
    return service.cluster_public(cluster)


@router.post(
    "/clusters/external",
    status_code=status.HTTP_201_CREATED,
    openapi_extra=requires(Action.CLUSTER_REGISTER),
)
def register_external_cluster(
    studio_id: str, body: ClusterRegister, access: Authorized, db: Db, runtime: Runtime
) -> ClusterPublic:
    """Register a Spark Connect endpoint that runs elsewhere (bring your own Spark)."""
    cluster = service.register_external(db, access.require_studio(), body, access.principal)
    db.commit()
    runtime.wake(cluster.id)
    return service.cluster_public(cluster)


@router.get("/clusters", openapi_extra=requires(Action.CLUSTER_LIST))
def list_clusters(
    studio_id: str,
    access: Authorized,
    db: Db,
    limit: Limit = 100,
    next_token: PageToken = None,
    status: Annotated[list[ClusterStatus] | None, Query()] = None,
    name: Annotated[Name | None, Query()] = None,
    active: Annotated[
        bool | None,
        Query(description="true: only clusters not terminated; false: only terminated ones."),
    ] = None,
) -> Page[ClusterPublic]:
    return service.list_clusters(
        db,
        access.require_studio(),
        limit=limit,
        next_token=next_token,
        status=status,
        name=name,
        active=active,
    )


@router.get("/clusters/{cluster_id}", openapi_extra=requires(Action.CLUSTER_DESCRIBE))
def describe_cluster(studio_id: str, cluster_id: str, access: Authorized, db: Db) -> ClusterPublic:
    cluster = service.get_cluster_or_404(db, access.require_studio(), cluster_id)
    return service.cluster_public(cluster)


@router.delete(
    "/clusters/{cluster_id}",
    status_code=status.HTTP_202_ACCEPTED,
    openapi_extra=requires(Action.CLUSTER_TERMINATE),
)
def terminate_cluster(
    studio_id: str, cluster_id: str, access: Authorized, db: Db, runtime: Runtime
) -> ClusterPublic:
    """Terminate: every process of the cluster is stopped; the record stays (TERMINATED)."""
    cluster = service.get_cluster_or_404(db, access.require_studio(), cluster_id)
    service.terminate(db, cluster, access.principal)
    db.commit()
    runtime.wake(cluster.id)
    return service.cluster_public(cluster)


@router.put("/clusters/{cluster_id}/scaling", openapi_extra=requires(Action.CLUSTER_SCALE))
def scale_cluster(
    studio_id: str,
    cluster_id: str,
    body: ClusterScale,
    access: Authorized,
    db: Db,
    runtime: Runtime,
) -> ClusterPublic:
    """Set the bounds of managed scaling; workers_min = workers_max pins the size."""
    studio = access.require_studio()
    cluster = service.get_cluster_or_404(db, studio, cluster_id)
    service.set_scaling(db, studio, cluster, body, access.principal)
    db.commit()
    runtime.wake(cluster.id)
    return service.cluster_public(cluster)


@router.get("/clusters/{cluster_id}/connection", openapi_extra=requires(Action.CLUSTER_CONNECT))
def cluster_connection(
    studio_id: str,
    cluster_id: str,
    access: Authorized,
    db: Db,
    settings: AppSettings,
    runtime: Runtime,
) -> ClusterConnection:
    """A Spark Connect URL for ``SparkSession.builder.remote``: the platform's front, with
    a short-lived token of yours (the session it opens is yours and goes on)."""
    cluster = service.get_cluster_or_404(db, access.require_studio(), cluster_id)
    principal = access.principal
    now = time.time()
    token = mint_for_user(settings, principal.name, principal.user_id, cluster.id, now=now)
    expires = datetime.fromtimestamp(now + settings.connect_token_minutes * 60, tz=UTC)
    front = runtime.isolation.public_connect_url
    return service.connection(cluster, principal, front, token, expires)


@router.get("/clusters/{cluster_id}/events", openapi_extra=requires(Action.CLUSTER_DESCRIBE))
def list_cluster_events(
    studio_id: str,
    cluster_id: str,
    access: Authorized,
    db: Db,
    limit: Limit = 100,
    next_token: PageToken = None,
) -> Page[EventPublic]:
    """Status changes, scaling and worker replacements, oldest first, with reasons."""
    cluster = service.get_cluster_or_404(db, access.require_studio(), cluster_id)
    rows, token = event_service.list_events(
        db, CLUSTER.kind, cluster.id, limit=limit, next_token=next_token
    )
    return Page(items=[event_service.event_public(e) for e in rows], next_token=token)


@router.get("/usage", openapi_extra=requires(Action.USAGE_DESCRIBE))
def describe_usage(
    studio_id: str,
    access: Authorized,
    db: Db,
    since: Annotated[
        datetime | None, Query(description="Start (UTC unless an offset is given); 30 days ago.")
    ] = None,
    until: Annotated[datetime | None, Query(description="End; now when omitted.")] = None,
    group_by: Annotated[
        str, Query(max_length=132, description="cluster, template, owner or tag:<key>.")
    ] = "cluster",
) -> UsageReport:
    """Core-seconds and memory-GB-seconds of the studio's workers, by cluster, owner or tag."""
    start = _utc(since) if since else utcnow() - timedelta(days=30)
    end = _utc(until) if until else None
    return usage_report(db, access.require_studio(), since=start, until=end, group_by=group_by)


def _utc(moment: datetime) -> datetime:
    """A time without an offset is taken as UTC, like every time this API writes."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@router.get("/quotas", openapi_extra=requires(Action.STUDIO_DESCRIBE))
def describe_quotas(studio_id: str, access: Authorized, db: Db) -> QuotasPublic:
    """The studio's cluster quotas and what its clusters that are not terminated use."""
    return service.quotas_public(db, access.require_studio())


@router.put("/quotas", openapi_extra=requires(Action.STUDIO_SET_QUOTAS))
def set_quotas(studio_id: str, body: QuotasUpdate, access: Authorized, db: Db) -> QuotasPublic:
    """Replace the studio's quotas (platform admins); an omitted limit means none."""
    quotas = service.set_quotas(db, access.require_studio(), body)
    db.commit()
    return quotas
