"""Clusters through the API on a real Spark cluster (one per control plane, shared).

A studio member launches nothing here: the shared cluster (single-node template) is
launched by the platform admin; members connect, query, open the UIs and read usage.
"""

from __future__ import annotations

import re
import time
from typing import Any

import httpx
import pytest

from sparkstudio.server import ControlPlane
from tests.conftest import SparkCluster
from tests.support import (
    SHARES_THE_SPARK_CLUSTER,
    NewUser,
    UserClient,
    add_member,
    cluster_events,
    expect,
    expect_error,
    unique,
)

pytestmark = [pytest.mark.spark, SHARES_THE_SPARK_CLUSTER]

SLOW_QUERY = "java_method('java.lang.Thread', 'sleep', cast(1500 as bigint)) AS slept"


def developer_of(admin: UserClient, new_user: NewUser, studio: dict[str, Any]) -> UserClient:
    developer = new_user()
    add_member(admin, studio["id"], user=developer.name)
    return developer


def test_a_member_connects_with_their_connect_token_and_runs_spark(
    admin: UserClient, new_user: NewUser, spark_cluster: SparkCluster
) -> None:
    from pyspark.sql import SparkSession

    developer = developer_of(admin, new_user, spark_cluster.studio)
    connection = expect(developer.get(f"{spark_cluster.path}/connection"), 200)
    assert f"user_id={developer.name}" in connection["url"]
    # The platform's Connect front, with a token of the member's own (signed: dots too).
    assert re.search(r";token=[\w.-]{20,};", connection["url"])
    session = SparkSession.builder.remote(connection["url"]).create()
    try:
        total = session.range(10_000).selectExpr("sum(id) AS total").collect()[0]["total"]
        assert total == 49_995_000
        # A job ran: the cluster recorded the activity (RUNNING, then WAITING again).
        session.range(0, 4, 1, 4).selectExpr(SLOW_QUERY).collect()
    finally:
        session.stop()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        codes = [e["reason"]["code"] for e in cluster_events(admin, **_ids(spark_cluster))]
        if "SPARK_JOBS_RUNNING" in codes:
            break
        time.sleep(0.5)
    assert "SPARK_JOBS_RUNNING" in codes


def test_a_wrong_token_is_refused_by_the_cluster(
    admin: UserClient, spark_cluster: SparkCluster
) -> None:
    from pyspark.sql import SparkSession

    url = expect(admin.get(f"{spark_cluster.path}/connection"), 200)["url"]
    forged = re.sub(r"token=[^;]+", "token=not-the-token", url)
    session = SparkSession.builder.remote(forged).create()
    try:
        with pytest.raises(Exception, match=r"(?i)unauthenticated|token"):
            session.range(1).collect()
    finally:
        session.stop()


def test_the_spark_ui_is_served_through_the_control_plane(
    control_plane: ControlPlane,
    admin: UserClient,
    new_user: NewUser,
    spark_cluster: SparkCluster,
) -> None:
    developer = developer_of(admin, new_user, spark_cluster.studio)
    cluster = expect(developer.get(spark_cluster.path), 200)
    assert cluster["ui_path"] == f"/api/v1{spark_cluster.path}/ui/"
    page = developer.get(f"{spark_cluster.path}/ui/jobs/")
    assert page.status_code == 200, page.text
    # Spark's own links point back through the proxy, not at the driver's port.
    assert f'href="{cluster["ui_path"]}' in page.text
    assert cluster["connect_url"].split(":")[-1] not in re.findall(r'href="([^"]+)"', page.text)
    root = developer.get(f"{spark_cluster.path}/ui/")
    assert root.status_code == 302
    assert root.headers["location"].startswith(cluster["ui_path"])

    # A browser signs in with the cookie the login sets, and sends no bearer token.
    with httpx.Client(base_url=control_plane.url, timeout=30) as browser:
        login = browser.post(
            "/api/v1/auth/login",
            json={
                "username": developer.name,
                "password": developer.password,
                "session_cookie": True,
            },
        )
        assert login.status_code == 200
        assert browser.get(cluster["ui_path"] + "jobs/").status_code == 200
        # The cookie is honoured on reads only: no write with it.
        expect_error(browser.delete(f"/api/v1{spark_cluster.path}"), 401, "Unauthenticated")
    # Without a token or cookie: 401; from another studio: the cluster does not exist.
    with httpx.Client(base_url=control_plane.url, timeout=30) as stranger:
        assert stranger.get(cluster["ui_path"] + "jobs/").status_code == 401
    outsider = new_user()
    expect_error(outsider.get(f"{spark_cluster.path}/ui/jobs/"), 404, "NotFound")


def test_the_history_server_shows_only_this_clusters_application(
    admin: UserClient, spark_cluster: SparkCluster
) -> None:
    cluster = expect(admin.get(spark_cluster.path), 200)
    app = cluster["app_id"]
    page = admin.get(f"{spark_cluster.path}/history/history/{app}/jobs/")
    assert page.status_code == 200, page.text
    assert f'href="{cluster["history_path"]}history/{app}/' in page.text
    first = admin.get(f"{spark_cluster.path}/history/", follow_redirects=False)
    assert first.status_code == 307
    other = "app-20000101000000-0000"
    expect_error(admin.get(f"{spark_cluster.path}/history/history/{other}/jobs/"), 404)
    expect_error(admin.get(f"{spark_cluster.path}/history/api/v1/applications"), 404)


def test_usage_is_metered_from_worker_lifetimes_by_cluster_and_tag(
    admin: UserClient, spark_cluster: SparkCluster
) -> None:
    usage_path = f"/studios/{spark_cluster.studio['id']}/usage"
    by_cluster = expect(admin.get(usage_path), 200)
    rows = {row["key"]: row for row in by_cluster["rows"]}
    row = rows[spark_cluster.cluster["id"]]
    cores = spark_cluster.cluster["spec"]["worker_cores"]
    memory_gb = spark_cluster.cluster["spec"]["worker_memory_mib"] / 1024
    assert row["core_seconds"] > 0
    assert row["memory_gb_seconds"] == pytest.approx(row["core_seconds"] * memory_gb / cores)
    # The worker is running: a later report counts more.
    time.sleep(1.0)
    later = expect(admin.get(usage_path), 200)
    assert {r["key"]: r for r in later["rows"]}[row["key"]]["core_seconds"] > row["core_seconds"]

    by_tag = expect(admin.get(usage_path, params={"group_by": "tag:template"}), 200)
    assert "single-node" in {r["key"] for r in by_tag["rows"]}
    expect_error(admin.get(usage_path, params={"group_by": "colour"}), 422, "ValidationError")


def test_scaling_cannot_exceed_the_templates_ceiling(
    admin: UserClient, spark_cluster: SparkCluster
) -> None:
    error = expect_error(
        admin.put(f"{spark_cluster.path}/scaling", json={"workers_min": 1, "workers_max": 3}),
        422,
        "ValidationError",
    )
    assert error["fields"][0]["field"] == "workers_max"
    assert "at most 1" in error["message"]


def test_a_terminated_cluster_leaves_no_process(
    admin: UserClient, spark_cluster: SparkCluster, control_plane: ControlPlane
) -> None:
    """Launched, used and terminated by a developer: every PID of it is gone afterwards."""
    from sparkstudio.backends.local import LocalBackend
    from sparkstudio.db.models import Cluster
    from sparkstudio.spark import processes
    from tests.support import wait_for_cluster

    studio_id = spark_cluster.studio["id"]
    body = {
        "name": unique("short"),
        "template": "single-node",
        "parameters": {"IdleTimeoutMinutes": 5},
    }
    created = expect(admin.post(f"/studios/{studio_id}/clusters", json=body), 201)
    assert created["status"] == "STARTING"
    assert created["idle_timeout_seconds"] == 300
    wait_for_cluster(admin, studio_id, created["id"], {"WAITING", "RUNNING"})
    with control_plane.prepared.database.session(write=False) as db:
        state = db.get(Cluster, created["id"]).state  # type: ignore[union-attr]
    assert state is not None
    records = LocalBackend.processes(state)
    daemons = [r for r in records if r.role != "warmup"]
    assert {r.role for r in daemons} == {"master", "worker-0", "driver"}
    assert all(processes.is_alive(r) for r in daemons)
    # The warm-up query ran before the cluster was declared usable, and is gone.
    assert [r.role for r in records if r.role == "warmup" and processes.is_alive(r)] == []

    expect(admin.delete(f"/studios/{studio_id}/clusters/{created['id']}"), 202)
    ended = wait_for_cluster(admin, studio_id, created["id"], {"TERMINATED"})
    assert ended["status_reason"]["code"] == "USER_REQUEST"
    assert ended["ended_at"] and ended["workers"]["running"] == 0
    assert [r.pid for r in records if processes.is_alive(r)] == []
    statuses = [e["to_status"] for e in cluster_events(admin, studio_id, created["id"])]
    assert statuses[0] == "STARTING" and statuses[-2:] == ["TERMINATING", "TERMINATED"]
    # Terminating again changes nothing; the ended cluster cannot be connected to.
    expect(admin.delete(f"/studios/{studio_id}/clusters/{created['id']}"), 202)
    expect_error(admin.get(f"/studios/{studio_id}/clusters/{created['id']}/connection"), 409)


def _ids(spark_cluster: SparkCluster) -> dict[str, str]:
    return {"studio_id": spark_cluster.studio["id"], "cluster_id": spark_cluster.cluster["id"]}
