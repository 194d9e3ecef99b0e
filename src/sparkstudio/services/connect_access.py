"""Who may open a Spark Connect session on which compute, and where that compute answers.

The platform's Connect front (:mod:`sparkstudio.connect_front`) asks this module twice:
``admit`` for every new session (the token's user still exists, is enabled and may
perform ``cluster:Connect`` on the cluster — or, on an application, is still a member of
its studio), and ``upstream`` for where the resource's driver answers and with which
secret. Tokens are minted here for users (kernels, notebook runs, the API's
``…/connection``) and for the platform's job runners.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from sqlalchemy.orm import Session

from sparkstudio import secrets_box
from sparkstudio.auth.actions import Action, studio_resource
from sparkstudio.auth.identity import grants_in_studio, principal_of
from sparkstudio.auth.policy import Decision, decide
from sparkstudio.backends.base import Backend
from sparkstudio.backends.external import connect_address
from sparkstudio.connect_front import ConnectClaims, Upstream, mint
from sparkstudio.db.models import Application, Cluster, User
from sparkstudio.db.session import Database
from sparkstudio.lifecycle import ApplicationStatus, ClusterStatus
from sparkstudio.processes.isolation import Isolation
from sparkstudio.settings import Settings

JOBS_SUBJECT = "sparkstudio-jobs"  # the Connect user of job runners' sessions
_USABLE_CLUSTER = frozenset({ClusterStatus.RUNNING, ClusterStatus.WAITING})
_KEY_PURPOSE = "spark-connect-front"


def front_key(settings: Settings) -> bytes:
    return secrets_box.derived_key(settings.home, _KEY_PURPOSE)


def mint_for_user(
    settings: Settings, name: str, user_id: str, resource_id: str, *, now: float | None = None
) -> str:
    """A token for ``name``'s new sessions on ``resource_id`` (checked again by the front)."""
    expires = int((now or time.time()) + settings.connect_token_minutes * 60)
    return mint(front_key(settings), ConnectClaims(name, user_id, resource_id, expires))


def mint_for_jobs(settings: Settings, application_id: str, *, now: float | None = None) -> str:
    expires = int((now or time.time()) + settings.connect_token_minutes * 60)
    claims = ConnectClaims(JOBS_SUBJECT, None, application_id, expires)
    return mint(front_key(settings), claims)


def may_connect(db: Session, user: User, cluster: Cluster) -> str | None:
    """Why ``user`` may not open a session on ``cluster`` now (None: they may)."""
    if user.disabled:
        return f"user {user.name} is disabled"
    principal = principal_of(user)
    decision = decide(
        Action.CLUSTER_CONNECT,
        is_platform_admin=principal.is_platform_admin,
        grants=grants_in_studio(db, principal, cluster.studio_id),
        resource=studio_resource(cluster.studio_id, "cluster", cluster.id),
    )
    if decision is not Decision.ALLOW:
        return f"{user.name} is not allowed to perform cluster:Connect on cluster {cluster.id}"
    return None


class ConnectAccess:
    """The control plane's side of the Connect front."""

    def __init__(
        self,
        database: Database,
        isolation: Isolation,
        backends: Callable[[str], Backend],
    ) -> None:
        self.database, self.isolation, self.backends = database, isolation, backends

    def admit(self, claims: ConnectClaims) -> str | None:
        with self.database.session(write=False) as db:
            cluster = db.get(Cluster, claims.resource_id)
            application = None if cluster is not None else db.get(Application, claims.resource_id)
            if cluster is None and application is None:
                return f"no cluster or application {claims.resource_id}"
            if claims.user_id is None:
                # The platform's own runners: only on an application, as the job user.
                if application is None or claims.subject != JOBS_SUBJECT:
                    return "this token is not good for a session here"
                return None
            user = db.get(User, claims.user_id)
            if user is None or user.name != claims.subject:
                return f"no user {claims.subject}"
            if cluster is not None:
                return may_connect(db, user, cluster)
            assert application is not None
            if user.disabled:
                return f"user {user.name} is disabled"
            principal = principal_of(user)
            member = principal.is_platform_admin or grants_in_studio(
                db, principal, application.studio_id
            )
            if not member:
                return f"{user.name} is not a member of the application's studio"
            return None

    def upstream(self, resource_id: str) -> Upstream | None:
        with self.database.session(write=False) as db:
            cluster = db.get(Cluster, resource_id)
            if cluster is not None:
                if cluster.status not in _USABLE_CLUSTER or not cluster.state:
                    return None
                studio_id, backend, state = cluster.studio_id, cluster.backend, dict(cluster.state)
            else:
                application = db.get(Application, resource_id)
                if application is None or application.status != ApplicationStatus.STARTED:
                    return None
                if not application.state:
                    return None
                studio_id, backend = application.studio_id, application.backend
                state = dict(application.state)
        token = self.backends(backend).token(state)
        if "connect_url" in state:  # an endpoint that is not ours (external)
            host, port = connect_address(str(state["connect_url"]))
            return Upstream(f"{host}:{port}", token)
        if "connect_port" not in state:
            return None
        place = self.isolation.studio_place(studio_id)
        return Upstream(place.reach(int(state["connect_port"])).grpc_target, token)
