"""Converge one workspace: start its server, watch it, follow its cluster, stop it when idle.

``WorkspaceController.handle`` is the reconciler's handler for workspaces. It reads the
workspace, talks to the spawner and the server outside any transaction, then writes
what it saw in one short transaction. Only this code moves a workspace between
STOPPED, STARTING, the running states and STOPPING; attaching (the API) moves it
between READY and ATTACHED.
"""

from __future__ import annotations

import logging
import os
import secrets
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from sparkstudio import lifecycle
from sparkstudio.db.base import utcnow
from sparkstudio.db.models import Cluster, Studio, Workspace
from sparkstudio.db.session import Database
from sparkstudio.jupyter.agent import API_URL_ENV, WORKSPACE_ENV
from sparkstudio.jupyter.attachment import Attachment
from sparkstudio.lifecycle import WORKSPACE, Reason, WorkspaceStatus
from sparkstudio.processes.isolation import Isolation
from sparkstudio.processes.places import Place
from sparkstudio.services import workspace_servers as servers
from sparkstudio.services.clusters import USABLE
from sparkstudio.settings import Settings
from sparkstudio.spawners.base import Spawner, SpawnRequest, State
from sparkstudio.workspaces import server_api

log = logging.getLogger("sparkstudio.workspaces")

ACTOR = "sparkstudio"
# A starting server is looked at often: the proxy lets the user in only once it answers,
# and a refused connection costs next to nothing.
STARTING_POLL_SECONDS = 0.05
# Nobody connected and no kernel message for this long (or half the idle timeout, if
# shorter): IDLE, and stopped at the timeout.
IDLE_AFTER_SECONDS = 60.0
_W = WorkspaceStatus


@dataclass(frozen=True)
class _Snapshot:
    id: str
    studio_id: str
    owner_id: str
    status: str
    target: str
    server_state: State | None
    cluster_id: str | None
    cluster_status: str | None
    cluster_reason: str
    cluster_name: str
    storage_location: str
    idle_timeout_seconds: int
    started_at: datetime | None
    last_activity_at: datetime
    reason: Reason

    @classmethod
    def read(cls, db: Session, workspace: Workspace) -> _Snapshot:
        cluster = db.get(Cluster, workspace.cluster_id) if workspace.cluster_id else None
        studio = db.get(Studio, workspace.studio_id)
        assert studio is not None
        return cls(
            id=workspace.id,
            studio_id=workspace.studio_id,
            owner_id=workspace.owner_id,
            status=workspace.status,
            target=workspace.target,
            server_state=dict(workspace.server_state) if workspace.server_state else None,
            cluster_id=workspace.cluster_id,
            cluster_status=cluster.status if cluster else None,
            cluster_reason=(
                f"{cluster.status_reason_code}: {cluster.status_reason_message}" if cluster else ""
            ),
            cluster_name=cluster.name if cluster else "",
            storage_location=studio.storage_location,
            idle_timeout_seconds=workspace.idle_timeout_seconds,
            started_at=workspace.started_at,
            last_activity_at=workspace.last_activity_at,
            reason=Reason(workspace.status_reason_code, workspace.status_reason_message),
        )


class WorkspaceController:
    def __init__(
        self,
        settings: Settings,
        database: Database,
        spawners: Callable[[str], Spawner],
        isolation: Isolation,
    ) -> None:
        self.settings, self.database = settings, database
        self.spawners, self.isolation = spawners, isolation
        self._unpushed: set[str] = set()  # servers that missed an attachment change
        # Servers this process has told their attachment: one started by an earlier control
        # plane is told again (the Connect front's address may have changed with it).
        self._told: set[str] = set()

    @property
    def spawner(self) -> Spawner:
        return self.spawners(self.settings.workspace_spawner)

    def handle(self, workspace_id: str) -> float | None:
        """Take one step towards the workspace's target; returns when to look again."""
        with self.database.session(write=False) as db:
            workspace = db.get(Workspace, workspace_id)
            if workspace is None:
                return None
            snap = _Snapshot.read(db, workspace)
        if snap.target == servers.TARGET_STOPPED or snap.status == _W.STOPPING:
            if snap.server_state is not None or snap.status != _W.STOPPED:
                self._stop(snap)
            # Opened again while it was stopping: start it afresh.
            return 0.0 if snap.target == servers.TARGET_RUNNING else None
        if snap.server_state is None:
            return self._start(snap)
        return self._observe(snap)

    @contextmanager
    def _write(self, workspace_id: str) -> Iterator[tuple[Session, Workspace]]:
        with self.database.transaction() as db:
            workspace = db.scalars(
                select(Workspace).where(Workspace.id == workspace_id).with_for_update(of=Workspace)
            ).one()
            yield db, workspace

    # -- start --------------------------------------------------------------------------

    def _start(self, snap: _Snapshot) -> float | None:
        spawner = self.spawner
        problem = spawner.check()
        if problem:
            return self._fail(snap, "SPAWN_FAILED", problem)
        with self._write(snap.id) as (db, workspace):
            if workspace.status == _W.STOPPED:
                lifecycle.transition(
                    db, WORKSPACE, workspace, _W.STARTING, Reason("STARTING", "starting"), ACTOR
                )
            attachment = servers.attachment_of(db, workspace)
        try:
            place = self.isolation.user_place(snap.studio_id, snap.owner_id)
            self.isolation.workspace_storage(
                snap.studio_id, snap.owner_id, snap.storage_location, snap.id
            )
            request = SpawnRequest(
                workspace_id=snap.id,
                base_url=f"/workspaces/{snap.id}/",
                secret=secrets.token_urlsafe(32),
                workdir=self.settings.workspaces_dir / snap.id,
                contents_url=servers.contents_url(snap.storage_location, snap.id),
                place=place,
                log_dir=self.settings.home / "logs" / "workspaces" / snap.id,
                storage_options=servers.storage_options(self.settings, snap.storage_location),
                environment=self._environment(snap, place),
                attachment=_for_place(attachment, place),
            )
            state = spawner.start(request)
        except Exception as error:
            log.warning("workspace %s failed to start: %s", snap.id, error)
            return self._fail(snap, "SPAWN_FAILED", f"the server did not start: {error}")
        self._told.add(snap.id)  # its attachment was written before it started
        with self._write(snap.id) as (_, workspace):
            workspace.server_state = state
            workspace.server_url = spawner.url(state)
            workspace.started_at = utcnow()
        return STARTING_POLL_SECONDS

    @staticmethod
    def _environment(snap: _Snapshot, place: Place) -> dict[str, str]:
        """What the server and its kernels are told: where the platform is for them, and,
        for an object store, the credentials its contents manager uses."""
        env = {API_URL_ENV: place.egress.api_url, WORKSPACE_ENV: snap.id}
        if snap.storage_location.startswith("s3://"):
            env.update({k: v for k, v in os.environ.items() if k.startswith("AWS_")})
        return env

    def _fail(self, snap: _Snapshot, code: str, message: str) -> float | None:
        """Give up starting: stopped, with the reason (the next open tries again)."""
        with self._write(snap.id) as (db, workspace):
            workspace.target = servers.TARGET_STOPPED
            if workspace.status != _W.STOPPED:
                self._to(db, workspace, _W.STOPPED, Reason(code, message))
            else:
                lifecycle.note(db, WORKSPACE, workspace, Reason(code, message), ACTOR)
        return None

    # -- observe ------------------------------------------------------------------------

    def _observe(self, snap: _Snapshot) -> float | None:
        assert snap.server_state is not None
        spawner, state = self.spawner, snap.server_state
        if not spawner.alive(state):
            self._gone(
                snap, "SERVER_LOST", "the workspace server exited; opening it starts it again"
            )
            return None
        if "port" in state:  # its bridge, again after a restart of the control plane
            self.isolation.user_place(snap.studio_id, snap.owner_id).reach(int(state["port"]))
        activity = server_api.activity(spawner.url(state), state["secret"])
        now = utcnow()
        if activity is None:
            if snap.status == _W.STARTING:
                waited = (now - (snap.started_at or now)).total_seconds()
                if waited > self.settings.workspace_start_timeout_seconds:
                    spawner.stop(state)
                    self._gone(snap, "START_TIMEOUT", f"no answer {int(waited)} s after start")
                    return None
                return STARTING_POLL_SECONDS
            return self.settings.workspace_poll_seconds  # busy or restarting: look again
        if snap.cluster_id and snap.cluster_status not in USABLE:
            self._detach_ended_cluster(snap)
        elif snap.id in self._unpushed or snap.id not in self._told:
            with self.database.session(write=False) as db:
                workspace = db.get(Workspace, snap.id)
                attachment = servers.attachment_of(db, workspace) if workspace else None
            if attachment is not None:
                self.push(snap.id, attachment)
        last = max(activity.last_activity, snap.last_activity_at)
        if activity.connections > 0:
            last = now
        quiet = (now - last).total_seconds()
        idle_after = min(IDLE_AFTER_SECONDS, snap.idle_timeout_seconds / 2)
        with self._write(snap.id) as (db, workspace):
            workspace.last_activity_at = last
            if workspace.cluster_id and activity.connections > 0:
                # As on EMR, a notebook connected to a cluster keeps it from idling out.
                db.execute(
                    update(Cluster)
                    .where(Cluster.id == workspace.cluster_id, Cluster.last_activity_at < now)
                    .values(last_activity_at=now)
                )
            if workspace.status == _W.STARTING:
                attached = workspace.cluster_id is not None
                ready = _W.ATTACHED if attached else _W.READY
                message = f"JupyterLab answers at /workspaces/{snap.id}/"
                self._to(db, workspace, ready, Reason("READY", message))
            elif workspace.status in (_W.READY, _W.ATTACHED) and quiet >= idle_after:
                self._to(db, workspace, _W.IDLE, Reason("IDLE", f"no activity for {int(quiet)} s"))
            elif workspace.status == _W.IDLE and quiet < idle_after:
                back = _W.ATTACHED if workspace.cluster_id else _W.READY
                self._to(db, workspace, back, Reason("ACTIVE", "in use again"))
            timeout = workspace.idle_timeout_seconds
            if workspace.status == _W.IDLE and quiet >= timeout:
                message = f"idle for {int(quiet)} s (idle timeout {timeout} s)"
                servers.request_stop(db, workspace, Reason("IDLE_TIMEOUT", message), ACTOR)
                return 0.0
        return self.settings.workspace_poll_seconds

    def _detach_ended_cluster(self, snap: _Snapshot) -> None:
        name = snap.cluster_name or snap.cluster_id
        status = snap.cluster_status or "gone"
        reason = Reason("DETACHED", f"cluster {name} is {status} ({snap.cluster_reason})")
        # The server hears it first: whoever sees the workspace detached in the studio
        # must find its kernels detached too.
        self.push(snap.id, Attachment(generation=time.time_ns(), reason=reason.message))
        attached_elsewhere: Attachment | None = None
        with self._write(snap.id) as (db, workspace):
            if workspace.cluster_id != snap.cluster_id:  # meanwhile: that attachment stands
                attached_elsewhere = servers.attachment_of(db, workspace)
            else:
                servers.detach(db, workspace, reason, ACTOR)
        if attached_elsewhere is not None:
            self.push(snap.id, attached_elsewhere)

    def push(self, workspace_id: str, attachment: Attachment) -> bool:
        """Tell a running server its attachment; False when it could not be told."""
        with self.database.session(write=False) as db:
            workspace = db.get(Workspace, workspace_id)
            state = dict(workspace.server_state) if workspace and workspace.server_state else None
            studio_id = workspace.studio_id if workspace else ""
            owner_id = workspace.owner_id if workspace else ""
        if state is None:
            return False
        try:
            place = self.isolation.user_place(studio_id, owner_id)
            server_api.push_attachment(
                self.spawner.url(state), state["secret"], _for_place(attachment, place)
            )
        except Exception as error:
            log.warning("could not tell workspace %s its attachment: %s", workspace_id, error)
            self._unpushed.add(workspace_id)
            return False
        self._unpushed.discard(workspace_id)
        self._told.add(workspace_id)
        return True

    # -- stop ---------------------------------------------------------------------------

    def _stop(self, snap: _Snapshot) -> None:
        if snap.server_state is not None:
            self.spawner.stop(snap.server_state)  # raises if something survives: retried
        with self._write(snap.id) as (db, workspace):
            workspace.server_state = None
            workspace.server_url = ""
            if workspace.status != _W.STOPPED:
                reason = snap.reason if snap.status == _W.STOPPING else Reason("STOPPED")
                self._to(db, workspace, _W.STOPPED, reason)

    def server_lost(self, workspace_id: str) -> bool:
        """The proxy could not reach the workspace's server. If its process is gone, record
        that (SERVER_LOST) and start it again, since someone is opening it; False while
        the process lives (busy, or its answer failed: not a restart)."""
        with self.database.session(write=False) as db:
            workspace = db.get(Workspace, workspace_id)
            if workspace is None:
                return False
            state = dict(workspace.server_state) if workspace.server_state else None
        if state is not None and self.spawner.alive(state):
            return False
        with self._write(workspace_id) as (db, workspace):
            if state is not None and workspace.server_state == state:  # not recorded yet
                workspace.server_state = None
                workspace.server_url = ""
                message = "the workspace server exited; it is starting again"
                self._to(db, workspace, _W.STOPPED, Reason("SERVER_LOST", message))
            servers.request_start(workspace)
        return True

    def _gone(self, snap: _Snapshot, code: str, message: str) -> None:
        with self._write(snap.id) as (db, workspace):
            if workspace.server_state != snap.server_state:
                return  # recorded meanwhile (the proxy found it gone and started it again)
            workspace.server_state = None
            workspace.server_url = ""
            workspace.target = servers.TARGET_STOPPED
            if workspace.status != _W.STOPPED:
                self._to(db, workspace, _W.STOPPED, Reason(code, message))

    @staticmethod
    def _to(db: Session, workspace: Workspace, status: str, reason: Reason) -> None:
        if status != workspace.status:
            lifecycle.transition(db, WORKSPACE, workspace, status, reason, ACTOR)


def _for_place(attachment: Attachment, place: Place) -> Attachment:
    """The attachment as kernels in ``place`` use it: through the platform's Connect front
    (each kernel asks for a token of its own user)."""
    if not attachment.attached:
        return attachment
    return replace(attachment, connect_url=place.egress.connect_url)
