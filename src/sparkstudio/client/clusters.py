"""Accessors for cluster templates and clusters (split from ``resources`` for size)."""

from __future__ import annotations

import builtins
import time
from collections.abc import Callable, Collection
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from sparkstudio.client.resources import _given, _Resource
from sparkstudio.errors import NotFound, StudioError
from sparkstudio.schemas.clusters import (
    ClusterConnection,
    ClusterPublic,
    QuotasPublic,
    UsageReport,
)
from sparkstudio.schemas.events import EventPublic
from sparkstudio.schemas.templates import TemplateDetail, TemplatePublic, TemplateSummary

CLUSTER_USABLE = frozenset({"RUNNING", "WAITING"})
CLUSTER_ENDED = frozenset({"TERMINATED", "TERMINATED_WITH_ERRORS"})


def _segment(name: str) -> str:
    """A name as one URL path segment (names come from users: never let them add a path)."""
    return quote(name, safe="")


def _iso(moment: datetime | None) -> str | None:
    """ISO 8601 with an offset; a naive time is taken as UTC."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.isoformat()


class Templates(_Resource):
    """Cluster templates: platform admins publish and share; studio members browse shared ones."""

    def publish(self, body_text: str) -> TemplateDetail:
        """Publish a template, or the next version of the template its text names."""
        return self._client.send_model(TemplateDetail, "POST", "/templates", {"body": body_text})

    def list(self) -> list[TemplateSummary]:
        return list(self._client.iterate(TemplateSummary, "/templates"))

    def get(self, name: str, *, version: int | None = None) -> TemplateDetail:
        path = f"/templates/{_segment(name)}"
        return self._client.get_model(TemplateDetail, path, params={"version": version})

    def delete(self, name: str) -> None:
        self._client.request("DELETE", f"/templates/{_segment(name)}")

    def share(self, name: str, studio_id: str) -> None:
        self._client.request("PUT", f"/templates/{_segment(name)}/shares/{studio_id}")

    def unshare(self, name: str, studio_id: str) -> None:
        self._client.request("DELETE", f"/templates/{_segment(name)}/shares/{studio_id}")

    def list_shared(self, studio_id: str) -> builtins.list[TemplatePublic]:
        """The templates the studio's members may launch clusters from."""
        items = self._client.request("GET", f"/studios/{studio_id}/templates")
        return [TemplatePublic.model_validate(item) for item in items]

    def get_shared(
        self, studio_id: str, name: str, *, version: int | None = None
    ) -> TemplatePublic:
        path = f"/studios/{studio_id}/templates/{_segment(name)}"
        return self._client.get_model(TemplatePublic, path, params={"version": version})


class Clusters(_Resource):
    """Clusters of a studio: launch, watch, scale, connect, terminate; usage and quotas."""

    def _path(self, studio_id: str, cluster_id: str = "") -> str:
        base = f"/studios/{studio_id}/clusters"
        return f"{base}/{cluster_id}" if cluster_id else base

    def create(
        self,
        studio_id: str,
        name: str,
        template: str,
        *,
        parameters: dict[str, Any] | None = None,
        template_version: int | None = None,
        network: str | None = None,
        tags: dict[str, str] | None = None,
        idle_timeout_seconds: int | None = None,
    ) -> ClusterPublic:
        """Launch from a template shared with the studio; answers at once (STARTING).

        Parameter values may be given as strings ("3" for a Number): the server reads
        them as the parameter's type. Use :meth:`wait` to wait until it is usable.
        """
        body = _given(
            name=name,
            template=template,
            parameters=parameters,
            template_version=template_version,
            network=network,
            tags=tags,
            idle_timeout_seconds=idle_timeout_seconds,
        )
        return self._client.send_model(ClusterPublic, "POST", self._path(studio_id), body)

    def create_from_spec(
        self,
        studio_id: str,
        name: str,
        spec: dict[str, Any],
        *,
        network: str | None = None,
        tags: dict[str, str] | None = None,
    ) -> ClusterPublic:
        """Launch from a raw cluster spec, without a template (studio admins)."""
        body = _given(name=name, spec=spec, network=network, tags=tags)
        path = self._path(studio_id) + "/from-spec"
        return self._client.send_model(ClusterPublic, "POST", path, body)

    def register_external(
        self,
        studio_id: str,
        name: str,
        connect_url: str,
        *,
        token: str | None = None,
        ui_url: str | None = None,
        network: str | None = None,
        tags: dict[str, str] | None = None,
    ) -> ClusterPublic:
        """Register a Spark Connect endpoint that runs elsewhere (``sc://host:port``)."""
        body = _given(
            name=name,
            connect_url=connect_url,
            token=token,
            ui_url=ui_url,
            network=network,
            tags=tags,
        )
        path = self._path(studio_id) + "/external"
        return self._client.send_model(ClusterPublic, "POST", path, body)

    def list(
        self,
        studio_id: str,
        *,
        status: str | Collection[str] | None = None,
        name: str | None = None,
        active: bool | None = None,
    ) -> builtins.list[ClusterPublic]:
        """The studio's clusters; ``active=True``: only those not terminated (False: only those)."""
        statuses = [status] if isinstance(status, str) else status
        flag = None if active is None else str(active).lower()
        return list(
            self._client.iterate(
                ClusterPublic,
                self._path(studio_id),
                status=list(statuses) if statuses else None,
                name=name,
                active=flag,
            )
        )

    def get(self, studio_id: str, cluster_id: str) -> ClusterPublic:
        return self._client.get_model(ClusterPublic, self._path(studio_id, cluster_id))

    def get_by_name(self, studio_id: str, name: str) -> ClusterPublic:
        """The cluster with this name that is not terminated, else the latest one that was."""
        found = self.list(studio_id, name=name)
        for cluster in found:
            if cluster.status not in CLUSTER_ENDED:
                return cluster
        if found:
            return max(found, key=lambda cluster: cluster.created_at)
        raise NotFound(f"no cluster named '{name}' in studio {studio_id}")

    def terminate(self, studio_id: str, cluster_id: str) -> ClusterPublic:
        """Ask for termination; the cluster is TERMINATED once every process stopped."""
        path = self._path(studio_id, cluster_id)
        return self._client.send_model(ClusterPublic, "DELETE", path)

    def scale(
        self, studio_id: str, cluster_id: str, workers_min: int, workers_max: int
    ) -> ClusterPublic:
        """Set the bounds of managed scaling; equal bounds pin the number of workers."""
        path = self._path(studio_id, cluster_id) + "/scaling"
        body = {"workers_min": workers_min, "workers_max": workers_max}
        return self._client.send_model(ClusterPublic, "PUT", path, body)

    def connection(self, studio_id: str, cluster_id: str) -> ClusterConnection:
        """The URL for ``SparkSession.builder.remote(url)`` (RUNNING or WAITING clusters)."""
        path = self._path(studio_id, cluster_id) + "/connection"
        return self._client.get_model(ClusterConnection, path)

    def events(self, studio_id: str, cluster_id: str) -> builtins.list[EventPublic]:
        path = self._path(studio_id, cluster_id) + "/events"
        return list(self._client.iterate(EventPublic, path))

    def usage(
        self,
        studio_id: str,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        group_by: str = "cluster",
    ) -> UsageReport:
        """Core-seconds and memory-GB-seconds, by cluster, template, owner or ``tag:KEY``.

        ``since`` defaults to 30 days ago and ``until`` to now; naive times are UTC.
        """
        params = {"since": _iso(since), "until": _iso(until), "group_by": group_by}
        return self._client.get_model(UsageReport, f"/studios/{studio_id}/usage", params)

    def quotas(self, studio_id: str) -> QuotasPublic:
        return self._client.get_model(QuotasPublic, f"/studios/{studio_id}/quotas")

    def set_quotas(
        self,
        studio_id: str,
        *,
        max_clusters: int | None = None,
        max_cores: int | None = None,
        max_memory_mib: int | None = None,
    ) -> QuotasPublic:
        """Replace the studio's quotas (platform admins); a limit left out means none."""
        body = {
            "max_clusters": max_clusters,
            "max_cores": max_cores,
            "max_memory_mib": max_memory_mib,
        }
        path = f"/studios/{studio_id}/quotas"
        return self._client.send_model(QuotasPublic, "PUT", path, body)

    def wait(
        self,
        studio_id: str,
        cluster_id: str,
        *,
        timeout: float = 600,
        poll: float = 1.0,
        on_change: Callable[[ClusterPublic], None] | None = None,
    ) -> ClusterPublic:
        """Poll until the cluster is usable (RUNNING or WAITING) and return it.

        Raises :class:`StudioError` with the status reason when it ends instead, or when
        ``timeout`` seconds pass. ``on_change(cluster)`` is called on every status seen.
        """
        until = CLUSTER_USABLE | CLUSTER_ENDED
        cluster = self._poll(studio_id, cluster_id, until, timeout, poll, on_change)
        if cluster.status in CLUSTER_ENDED:
            raise StudioError(
                f"cluster {cluster.name} ({cluster.id}) is {cluster.status}: "
                f"{cluster.status_reason.message or cluster.status_reason.code}",
                reason=cluster.status_reason.code or cluster.status,
                status=409,
            )
        return cluster

    def wait_terminated(
        self,
        studio_id: str,
        cluster_id: str,
        *,
        timeout: float = 600,
        poll: float = 1.0,
        on_change: Callable[[ClusterPublic], None] | None = None,
    ) -> ClusterPublic:
        """Poll until the cluster is TERMINATED or TERMINATED_WITH_ERRORS and return it."""
        return self._poll(studio_id, cluster_id, CLUSTER_ENDED, timeout, poll, on_change)

    def _poll(
        self,
        studio_id: str,
        cluster_id: str,
        until: frozenset[str],
        timeout: float,
        poll: float,
        on_change: Callable[[ClusterPublic], None] | None,
    ) -> ClusterPublic:
        deadline = time.monotonic() + timeout
        seen: str | None = None
        while True:
            cluster = self.get(studio_id, cluster_id)
            if cluster.status != seen and on_change is not None:
                on_change(cluster)
            seen = cluster.status
            if cluster.status in until:
                return cluster
            if time.monotonic() >= deadline:
                raise StudioError(
                    f"cluster {cluster.name} ({cluster.id}) is still {cluster.status} after "
                    f"{timeout:g} s; 'sparkstudio cluster describe {cluster.id}' shows why",
                    reason="WaitTimeout",
                    status=408,
                )
            time.sleep(poll)
