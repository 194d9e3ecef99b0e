"""Shared fixtures: one control plane per metadata database, and signed-in clients.

``control_plane`` is session-scoped and runs on the metadata database ``metadata_db``
names. A test runs on SQLite unless it (or its module, with ``pytestmark``) is marked
``@pytest.mark.databases("sqlite", "postgresql")`` — what exercises the database layer
(queries, locks, transactions, restarts) runs on both; what only goes through it
(authorization decisions, validation, clients, real Spark, JupyterLab, the browser) once.
The control plane is shared by all tests of a session: give every object a unique name
(``tests.support.unique``).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from sparkstudio.db.session import Database
from sparkstudio.server import ControlPlane
from tests.oidc import (  # noqa: F401 (fixtures of the single sign-on tests)
    browser,
    oidc_provider,
    sso_admin,
    sso_plane,
    stale_oidc_provider,
)
from tests.s3 import S3Server, s3_server  # noqa: F401 (a fixture, for the whole suite)
from tests.support import (
    ADMIN_NAME,
    ADMIN_PASSWORD,
    BACKENDS,
    DEFAULT_DATABASES,
    PASSWORD,
    NewUser,
    UserClient,
    anonymous,
    create_studio,
    create_user,
    expect,
    login,
    running_control_plane,
    unique,
    wait_for_cluster,
)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Every test that needs a metadata database runs on the ones its marker names."""
    if "metadata_db" in metafunc.fixturenames:
        marker = metafunc.definition.get_closest_marker("databases")
        names = marker.args if marker is not None else DEFAULT_DATABASES
        unknown = set(names) - set(BACKENDS)
        if unknown:
            raise pytest.UsageError(f"databases({', '.join(names)}): not one of {list(BACKENDS)}")
        params = [BACKENDS[name] for name in names]
        metafunc.parametrize("metadata_db", params, indirect=True, scope="session")


# Parallel workers (``-n``, ``--dist loadgroup``): each has its own session, so its own
# control planes and shared clusters. Tests that share a session's real Spark say so with
# ``SHARES_THE_SPARK_CLUSTER`` (tests.support) and run in one worker; the others run
# module by module (a module's control planes and applications start once).


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the groups
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if item.get_closest_marker("xdist_group") is None:
            item.add_marker(pytest.mark.xdist_group(item.nodeid.split("::")[0]))


@pytest.fixture(scope="session")
def metadata_db(request: pytest.FixtureRequest) -> str:
    """``sqlite`` or ``postgresql``: the metadata database of this test's control planes."""
    name: str = request.param
    return name


@pytest.fixture(scope="session")
def control_plane(
    metadata_db: str,
    tmp_path_factory: pytest.TempPathFactory,
    s3_server: S3Server,  # noqa: F811
) -> Iterator[ControlPlane]:
    """A running control plane (SQLite or a throwaway PostgreSQL database).

    ``s3://`` storage locations reach the tests' S3-compatible server.
    """
    home = tmp_path_factory.mktemp(f"home-{metadata_db}")
    with running_control_plane(home, metadata_db, s3=s3_server) as plane:
        yield plane


@pytest.fixture(scope="session")
def database(control_plane: ControlPlane) -> Database:
    """The control plane's own metadata database, for checks the API cannot make."""
    return control_plane.prepared.database


@pytest.fixture(scope="session")
def admin(control_plane: ControlPlane) -> Iterator[UserClient]:
    """The bootstrap platform admin, signed in."""
    with login(control_plane.api_url, ADMIN_NAME, ADMIN_PASSWORD) as client:
        yield client


@pytest.fixture(scope="session")
def anon(control_plane: ControlPlane) -> Iterator[httpx.Client]:
    """A client sending no token."""
    with anonymous(control_plane.api_url) as client:
        yield client


@pytest.fixture
def new_user(control_plane: ControlPlane, admin: UserClient) -> Iterator[NewUser]:
    """Factory: create a user with a password (the admin does it) and return them signed in.

    Each call costs two argon2 operations (hash, then verify at login): ~0.2-0.4 s.
    """
    clients: list[UserClient] = []

    def make(
        name: str | None = None, *, password: str = PASSWORD, platform_admin: bool = False
    ) -> UserClient:
        user_name = name or unique("user")
        create_user(admin, user_name, password=password, is_platform_admin=platform_admin)
        client = login(control_plane.api_url, user_name, password)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def studio(admin: UserClient) -> dict[str, Any]:
    """A fresh studio (no members, network ``default``)."""
    return create_studio(admin)


@pytest.fixture
def lake() -> str:
    """A place in an object store, in a bucket of its own."""
    return f"s3://{unique('lake')}/team"


@pytest.fixture
def lake_studio(admin: UserClient, lake: str) -> dict[str, Any]:
    """A fresh studio that a platform admin allowed ``lake``."""
    return create_studio(admin, allowed_locations=[lake])


@dataclass(frozen=True)
class SparkCluster:
    """A real local cluster, launched from the single-node template, shared by many tests."""

    studio: dict[str, Any]
    cluster: dict[str, Any]

    @property
    def path(self) -> str:
        return f"/studios/{self.studio['id']}/clusters/{self.cluster['id']}"


@pytest.fixture(scope="session")
def spark_cluster(control_plane: ControlPlane, admin: UserClient) -> SparkCluster:
    """One running Spark cluster per control plane (ended with the control plane)."""
    studio = create_studio(admin)
    expect(admin.put(f"/templates/single-node/shares/{studio['id']}"), 204)
    body = {"name": unique("shared"), "template": "single-node"}
    created = expect(admin.post(f"/studios/{studio['id']}/clusters", json=body), 201)
    cluster = wait_for_cluster(admin, studio["id"], created["id"], {"WAITING", "RUNNING"})
    deadline = time.monotonic() + 60
    while not cluster["app_id"] and time.monotonic() < deadline:  # read from the driver's UI
        time.sleep(0.5)
        cluster = expect(admin.get(f"/studios/{studio['id']}/clusters/{created['id']}"), 200)
    assert cluster["app_id"], cluster
    return SparkCluster(studio, cluster)
