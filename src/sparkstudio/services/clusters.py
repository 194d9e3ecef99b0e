"""Clusters: launch requests (template, raw spec, external), quotas, scaling limits, ending.

The API only writes what is wanted (a new cluster, a target, worker bounds); the
reconciler (``sparkstudio.clusters.controller``) starts, watches, scales and stops.
"""

from __future__ import annotations

import ipaddress
import socket
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from pydantic import TypeAdapter
from sqlalchemy import Row, select
from sqlalchemy.orm import Session

from sparkstudio import lifecycle
from sparkstudio.auth.identity import Principal
from sparkstudio.db.models import Cluster, Studio
from sparkstudio.errors import Conflict, Invalid, NotFound
from sparkstudio.ids import new_id
from sparkstudio.lifecycle import CLUSTER, CLUSTER_ENDED, ClusterStatus, Reason
from sparkstudio.schemas.clusters import (
    ClusterConnection,
    ClusterCreate,
    ClusterCreateFromSpec,
    ClusterPublic,
    ClusterRegister,
    ClusterScale,
    QuotasPublic,
    QuotasUpdate,
)
from sparkstudio.schemas.common import Page
from sparkstudio.services.common import page_rows
from sparkstudio.services.templates import load_version, shared_template_or_error
from sparkstudio.templates import FunctionRegistry, resolve

TARGET_RUNNING = "RUNNING"
TARGET_TERMINATED = "TERMINATED"
EXTERNAL_BACKEND = "external"


def _network(studio: Studio, wanted: str | None) -> str:
    network = wanted or studio.networks[0]
    if network not in studio.networks:
        raise Invalid.field(
            "network", f"must be one of the studio's networks: {', '.join(studio.networks)}"
        )
    return network


def _lock_studio(db: Session, studio: Studio) -> None:
    """Serialize launches of one studio so that two cannot both pass the quota check.

    (SQLite write transactions are serialized already; PostgreSQL locks the studio row.)
    """
    if db.get_bind().dialect.name != "sqlite":
        db.execute(select(Studio.id).where(Studio.id == studio.id).with_for_update())


def usage_in_studio(db: Session, studio: Studio) -> tuple[int, int, int]:
    """Clusters not terminated, and their cores and memory at their most workers."""
    rows = db.execute(
        select(Cluster.workers_max, Cluster.spec).where(
            Cluster.studio_id == studio.id, Cluster.status.not_in(CLUSTER_ENDED)
        )
    ).all()
    cores = sum(m * int(spec.get("worker_cores", 0)) for m, spec in rows)
    memory = sum(m * int(spec.get("worker_memory_mib", 0)) for m, spec in rows)
    return len(rows), cores, memory


def check_quotas(
    db: Session, studio: Studio, *, clusters: int, cores: int, memory_mib: int
) -> None:
    """Refuse, before anything starts, what would take the studio over a quota."""
    used_clusters, used_cores, used_memory = usage_in_studio(db, studio)
    checks = (
        ("max_clusters", studio.max_clusters, used_clusters, clusters, "clusters"),
        ("max_cores", studio.max_cores, used_cores, cores, "cores"),
        ("max_memory_mib", studio.max_memory_mib, used_memory, memory_mib, "MiB of memory"),
    )
    for name, limit, used, more, unit in checks:
        if limit is not None and more > 0 and used + more > limit:
            raise Conflict(
                f"studio '{studio.name}' quota {name} is {limit} {unit}; its clusters use "
                f"{used} and this needs {more} more. Terminate a cluster, ask for fewer "
                "workers, or ask a platform admin to raise the quota.",
                reason="QuotaExceeded",
            )


def _new_cluster(
    db: Session,
    studio: Studio,
    principal: Principal,
    *,
    name: str,
    network: str | None,
    backend: str,
    spec: dict[str, Any],
    tags: dict[str, str],
    workers_max: int,
    idle_timeout_seconds: int,
    template_name: str = "",
    template_version: int | None = None,
    parameters: dict[str, Any] | None = None,
    state: dict[str, Any] | None = None,
) -> Cluster:
    cluster = Cluster(
        id=new_id("cl"),
        studio_id=studio.id,
        name=name,
        owner_id=principal.user_id,
        owner_name=principal.name,
        network=_network(studio, network),
        backend=backend,
        template_name=template_name,
        template_version=template_version,
        parameters=parameters or {},
        spec=spec,
        tags=tags,
        workers_min=int(spec.get("workers_min", 0)),
        workers_max=workers_max,
        idle_timeout_seconds=idle_timeout_seconds,
        state=state,
    )
    _lock_studio(db, studio)
    check_quotas(
        db,
        studio,
        clusters=1,
        cores=workers_max * int(spec.get("worker_cores", 0)),
        memory_mib=workers_max * int(spec.get("worker_memory_mib", 0)),
    )
    lifecycle.initialize(
        db,
        CLUSTER,
        cluster,
        Reason("USER_REQUEST", f"launched by {principal.name}"),
        principal.name,
    )
    cluster.target = TARGET_RUNNING
    db.add(cluster)
    db.flush()
    return cluster


def create_from_template(
    db: Session,
    studio: Studio,
    data: ClusterCreate,
    principal: Principal,
    *,
    backend: str,
    registry: FunctionRegistry | None = None,
) -> Cluster:
    row = shared_template_or_error(db, studio, data.template, field="template")
    loaded = load_version(db, row, data.template_version, registry, field="template_version")
    spec = resolve(loaded.template, data.parameters, registry=registry)
    if data.idle_timeout_seconds is not None:
        spec = spec.model_copy(update={"idle_timeout_seconds": data.idle_timeout_seconds})
    return _new_cluster(
        db,
        studio,
        principal,
        name=data.name,
        network=data.network,
        backend=backend,
        spec=spec.model_dump(mode="json"),
        tags={**spec.tags, **data.tags},
        workers_max=spec.workers_max,
        idle_timeout_seconds=spec.idle_timeout_seconds,
        template_name=row.name,
        template_version=loaded.version.version,
        parameters=dict(data.parameters),
    )


def create_from_spec(
    db: Session, studio: Studio, data: ClusterCreateFromSpec, principal: Principal, *, backend: str
) -> Cluster:
    spec = data.spec
    return _new_cluster(
        db,
        studio,
        principal,
        name=data.name,
        network=data.network,
        backend=backend,
        spec=spec.model_dump(mode="json"),
        tags={**spec.tags, **data.tags},
        workers_max=spec.workers_max,
        idle_timeout_seconds=spec.idle_timeout_seconds,
    )


def _host_problem(url: str) -> str:
    """Why the platform may not connect to ``url``'s host on a studio admin's word: the
    host's own loopback and link-local addresses are the platform's (its database, the
    history server of every studio)."""
    host = urlsplit(url.replace("sc://", "http://", 1)).hostname or ""
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        return ""  # it does not resolve: observing it will say so
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        if address.is_loopback or address.is_link_local or address.is_unspecified:
            return f"{host} is this host's own address ({address})"
    return ""


def register_external(
    db: Session, studio: Studio, data: ClusterRegister, principal: Principal
) -> Cluster:
    if not principal.is_platform_admin:
        for field, url in (("connect_url", data.connect_url), ("ui_url", str(data.ui_url or ""))):
            problem = _host_problem(url) if url else ""
            if problem:
                raise Invalid.field(
                    field,
                    f"{problem}: only a platform admin may register an endpoint on this host",
                )
    state = {
        "connect_url": data.connect_url,
        "token": data.token.get_secret_value() if data.token else "",
        "ui_url": str(data.ui_url).rstrip("/") if data.ui_url else "",
    }
    return _new_cluster(
        db,
        studio,
        principal,
        name=data.name,
        network=data.network,
        backend=EXTERNAL_BACKEND,
        spec={},
        tags=dict(data.tags),
        workers_max=0,
        # Not ours to stop: an external cluster is never ended for being idle.
        idle_timeout_seconds=0,
        state=state,
    )


def get_cluster_or_404(db: Session, studio: Studio, cluster_id: str) -> Cluster:
    cluster = db.get(Cluster, cluster_id)
    if cluster is None or cluster.studio_id != studio.id:
        raise NotFound(f"no cluster {cluster_id} in studio '{studio.name}'")
    return cluster


def list_clusters(
    db: Session,
    studio: Studio,
    *,
    limit: int,
    next_token: str | None,
    status: list[ClusterStatus] | None = None,
    name: str | None = None,
    active: bool | None = None,
) -> Page[ClusterPublic]:
    statement = select(*Cluster.__table__.columns).where(Cluster.studio_id == studio.id)
    if status:
        statement = statement.where(Cluster.status.in_([s.value for s in status]))
    if name is not None:
        statement = statement.where(Cluster.name == name)
    if active is not None:
        ended = Cluster.status.in_(CLUSTER_ENDED)
        statement = statement.where(~ended if active else ended)
    rows, token = page_rows(db, statement, Cluster.id, limit, next_token)
    return _PAGE.validate_python({"items": [_row_fields(r) for r in rows], "next_token": token})


_PAGE = TypeAdapter(Page[ClusterPublic])


def _row_fields(row: Row[Any]) -> dict[str, Any]:
    return _public_fields(dict(row._mapping))


def _public_fields(fields: dict[str, Any]) -> dict[str, Any]:
    base = f"/api/v1/studios/{fields['studio_id']}/clusters/{fields['id']}"
    version = fields["template_version"]
    return {
        **fields,
        "owner": fields["owner_name"],
        "template": {"name": fields["template_name"], "version": version} if version else None,
        "workers": {
            "min": fields["workers_min"],
            "max": fields["workers_max"],
            "running": fields["workers_running"],
        },
        "status_reason": {
            "code": fields["status_reason_code"],
            "message": fields["status_reason_message"],
        },
        "ui_path": f"{base}/ui/" if fields["ui_url"] else "",
        "history_path": f"{base}/history/" if fields["app_id"] else "",
    }


def cluster_public(cluster: Cluster) -> ClusterPublic:
    fields = {column.name: getattr(cluster, column.name) for column in Cluster.__table__.columns}
    return ClusterPublic.model_validate(_public_fields(fields))


def request_termination(cluster: Cluster, code: str, message: str) -> None:
    """Ask the reconciler to end the cluster (idempotent; the first reason is kept)."""
    if cluster.status in CLUSTER_ENDED or cluster.target == TARGET_TERMINATED:
        return
    cluster.target = TARGET_TERMINATED
    cluster.termination_code, cluster.termination_message = code, message


def terminate(db: Session, cluster: Cluster, principal: Principal) -> Cluster:
    request_termination(cluster, "USER_REQUEST", f"terminated by {principal.name}")
    db.flush()
    return cluster


def set_scaling(
    db: Session, studio: Studio, cluster: Cluster, data: ClusterScale, principal: Principal
) -> Cluster:
    if cluster.status in CLUSTER_ENDED or cluster.target == TARGET_TERMINATED:
        raise Conflict(f"cluster {cluster.id} is {cluster.status}", reason="InvalidState")
    if cluster.backend == EXTERNAL_BACKEND:
        raise Conflict(
            f"cluster {cluster.id} is external: its workers are not managed here",
            reason="NotSupported",
        )
    ceiling = int(cluster.spec["workers_max"])
    if data.workers_max > ceiling:
        raise Invalid.field(
            "workers_max",
            f"must be at most {ceiling}, the most workers this cluster's "
            f"{'template' if cluster.template_name else 'spec'} allows (got {data.workers_max})",
        )
    if data.workers_min > data.workers_max:
        raise Invalid.field(
            "workers_min",
            f"must be at most workers_max ({data.workers_max}) (got {data.workers_min})",
        )
    extra = data.workers_max - cluster.workers_max
    if extra > 0:
        _lock_studio(db, studio)
        check_quotas(
            db,
            studio,
            clusters=0,
            cores=extra * int(cluster.spec["worker_cores"]),
            memory_mib=extra * int(cluster.spec["worker_memory_mib"]),
        )
    before = f"{cluster.workers_min}-{cluster.workers_max}"
    cluster.workers_min, cluster.workers_max = data.workers_min, data.workers_max
    lifecycle.note(
        db,
        CLUSTER,
        cluster,
        Reason(
            "SCALING_LIMITS_CHANGED",
            f"workers {before} -> {data.workers_min}-{data.workers_max} by {principal.name}",
        ),
        principal.name,
    )
    db.flush()
    return cluster


def quotas_public(db: Session, studio: Studio) -> QuotasPublic:
    clusters, cores, memory = usage_in_studio(db, studio)
    return QuotasPublic(
        max_clusters=studio.max_clusters,
        max_cores=studio.max_cores,
        max_memory_mib=studio.max_memory_mib,
        clusters=clusters,
        cores=cores,
        memory_mib=memory,
    )


def set_quotas(db: Session, studio: Studio, data: QuotasUpdate) -> QuotasPublic:
    """Replace the studio's quotas (an omitted or null limit means none)."""
    studio.max_clusters = data.max_clusters
    studio.max_cores = data.max_cores
    studio.max_memory_mib = data.max_memory_mib
    db.flush()
    return quotas_public(db, studio)


def live_cluster_ids(db: Session) -> list[str]:
    return list(db.scalars(select(Cluster.id).where(Cluster.status.not_in(CLUSTER_ENDED))))


USABLE = frozenset({ClusterStatus.RUNNING, ClusterStatus.WAITING})


def require_usable(cluster: Cluster) -> None:
    if cluster.status not in USABLE:
        raise Conflict(
            f"cluster {cluster.id} is {cluster.status}; it takes connections when "
            "RUNNING or WAITING",
            reason="InvalidState",
        )


def connection(
    cluster: Cluster, principal: Principal, front_url: str, token: str, expires_at: datetime
) -> ClusterConnection:
    """Where a client opens its session: the platform's Connect front, with a token of
    the caller's own (the front gives the session the caller's user, whatever user_id
    the client sends)."""
    require_usable(cluster)
    url = f"{front_url}/;token={token};user_id={principal.name}"
    return ClusterConnection(
        cluster_id=cluster.id, url=url, user_id=principal.name, expires_at=expires_at
    )
