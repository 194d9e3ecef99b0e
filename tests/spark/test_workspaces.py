"""A workspace attached to a real Spark cluster: PySpark and SQL cells, switching, detaching.

The shared cluster serves as the first attachment; a second "cluster" is the same
Spark Connect endpoint registered as an external cluster, so that switching and a
cluster ending under a workspace are tested without another JVM.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from websockets.sync.client import ClientConnection

from sparkstudio.db.base import utcnow
from sparkstudio.db.models import Cluster
from sparkstudio.db.session import Database
from sparkstudio.server import ControlPlane
from tests.conftest import SparkCluster
from tests.integration.test_workspace_servers import Lab, run_code, start_and_wait
from tests.support import (
    SHARES_THE_SPARK_CLUSTER,
    UserClient,
    create_workspace,
    expect,
    expect_error,
    unique,
    wait_for_cluster,
    wait_for_workspace,
)

pytestmark = [pytest.mark.spark, SHARES_THE_SPARK_CLUSTER]


def register_same_endpoint(
    admin: UserClient, spark_cluster: SparkCluster, network: str | None = None
) -> dict[str, Any]:
    """The shared cluster's Connect endpoint registered again as an external cluster."""
    url = expect(admin.get(f"{spark_cluster.path}/connection"), 200)["url"]
    base, _, params = url.partition("/;")
    token = dict(p.split("=", 1) for p in params.split(";"))["token"]
    body: dict[str, Any] = {"name": unique("ext"), "connect_url": base, "token": token}
    if network:
        body["network"] = network
    studio_id = spark_cluster.studio["id"]
    created = expect(admin.post(f"/studios/{studio_id}/clusters/external", json=body), 201)
    return wait_for_cluster(admin, studio_id, created["id"], {"WAITING", "RUNNING"}, 60)


@pytest.fixture(scope="module")
def attached(
    control_plane: ControlPlane, admin: UserClient, spark_cluster: SparkCluster
) -> dict[str, Any]:
    studio_id = spark_cluster.studio["id"]
    created = create_workspace(admin, studio_id)
    start_and_wait(admin, studio_id, created["id"])
    path = f"/studios/{studio_id}/workspaces/{created['id']}/attachment"
    workspace = expect(admin.put(path, json={"cluster_id": spark_cluster.cluster["name"]}), 200)
    assert workspace["status"] == "ATTACHED"
    assert workspace["cluster_id"] == spark_cluster.cluster["id"]
    return workspace


@pytest.fixture(scope="module")
def kernel(
    control_plane: ControlPlane, admin: UserClient, attached: dict[str, Any]
) -> Iterator[ClientConnection]:
    lab = Lab(control_plane, admin, attached["id"])
    started = expect(lab.http.post("api/kernels", json={"name": "pyspark"}), 201)
    with lab.kernel_socket(started["id"]) as socket:
        yield socket
    expect(lab.http.delete(f"api/kernels/{started['id']}"), 204)


def test_a_pyspark_cell_runs_on_the_attached_cluster(kernel: ClientConnection) -> None:
    answer = run_code(kernel, "spark.range(10).selectExpr('sum(id) AS total').collect()[0][0]")
    assert answer["reply"]["status"] == "ok", answer
    assert answer["results"][0]["text/plain"] == "45"
    # The session is the user's own on the cluster.
    answer = run_code(kernel, "spark.client._user_id")
    assert answer["results"][0]["text/plain"] == "'admin'"


def test_a_connected_notebook_keeps_its_cluster_from_idling_out(
    database: Database, spark_cluster: SparkCluster, kernel: ClientConnection
) -> None:
    """As on EMR: an open notebook connection counts as cluster activity (no job needed)."""
    cluster_id = spark_cluster.cluster["id"]
    with database.transaction() as db:  # pretend it has been quiet for most of its timeout
        row = db.get(Cluster, cluster_id)
        assert row is not None
        # Not the whole timeout: the cluster controller may look before the workspace's does,
        # and a cluster quiet for its whole timeout ends (the other tests share it).
        row.last_activity_at = utcnow() - timedelta(seconds=row.idle_timeout_seconds - 60)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with database.session(write=False) as db:
            row = db.get(Cluster, cluster_id)
            assert row is not None
            if utcnow() - row.last_activity_at < timedelta(minutes=1):
                return
        time.sleep(0.5)
    raise AssertionError("the open kernel connection did not count as cluster activity")


def test_a_sql_cell_shows_its_result_as_a_table(kernel: ClientConnection) -> None:
    answer = run_code(kernel, "%%sql\nSELECT id, id * id AS square FROM range(4) ORDER BY id")
    assert answer["reply"]["status"] == "ok", answer
    html = answer["displays"][0]["text/html"]
    assert "<table" in html and "square" in html and "<td>9</td>" in html


def test_switching_clusters_recreates_the_session_in_running_kernels(
    admin: UserClient,
    spark_cluster: SparkCluster,
    attached: dict[str, Any],
    kernel: ClientConnection,
) -> None:
    studio_id = spark_cluster.studio["id"]
    path = f"/studios/{studio_id}/workspaces/{attached['id']}"
    other = register_same_endpoint(admin, spark_cluster)
    switched = expect(admin.put(f"{path}/attachment", json={"cluster_id": other["id"]}), 200)
    assert switched["cluster_id"] == other["id"]
    answer = run_code(kernel, "spark.range(5).count()")
    assert answer["reply"]["status"] == "ok", answer
    assert f"Switched to cluster {other['name']} ({other['id']})" in answer["stdout"]
    assert "re-created" in answer["stdout"]
    assert answer["results"][0]["text/plain"] == "5"
    # The cluster ends under the workspace: it shows up detached, with the reason.
    expect(admin.delete(f"/studios/{studio_id}/clusters/{other['id']}"), 202)
    detached = wait_for_workspace(admin, studio_id, attached["id"], {"READY"}, timeout=60)
    assert detached["cluster_id"] is None
    assert detached["status_reason"]["code"] == "DETACHED"
    assert other["name"] in detached["status_reason"]["message"]
    answer = run_code(kernel, "spark.range(1).count()")
    assert f"Detached from cluster {other['name']}" in answer["stdout"]
    assert answer["errors"] and "not attached to a cluster" in answer["errors"][0]["evalue"]
    # Attach again from the notebook itself (the kernel asks the control plane).
    name = spark_cluster.cluster["name"]
    answer = run_code(kernel, f"%attach {name}")
    assert answer["reply"]["status"] == "ok", answer
    assert f"Attached to cluster {name}" in answer["stdout"]
    answer = run_code(kernel, "%cluster")
    assert f"attached to cluster {name}" in answer["stdout"]
    assert expect(admin.get(path), 200)["status"] == "ATTACHED"
    assert run_code(kernel, "spark.range(7).count()")["results"][0]["text/plain"] == "7"


def test_a_cluster_of_another_network_cannot_be_attached(
    admin: UserClient, spark_cluster: SparkCluster, attached: dict[str, Any]
) -> None:
    studio_id = spark_cluster.studio["id"]
    networks = expect(admin.get(f"/studios/{studio_id}"), 200)["networks"]
    if "analytics" not in networks:
        expect(
            admin.patch(f"/studios/{studio_id}", json={"networks": [*networks, "analytics"]}), 200
        )
    elsewhere = register_same_endpoint(admin, spark_cluster, network="analytics")
    path = f"/studios/{studio_id}/workspaces/{attached['id']}/attachment"
    body = expect_error(admin.put(path, json={"cluster_id": elsewhere["id"]}), 422)
    assert body["fields"][0]["field"] == "cluster_id"
    assert "network 'analytics'" in body["message"]
    expect(admin.delete(f"/studios/{studio_id}/clusters/{elsewhere['id']}"), 202)
    missing = expect_error(admin.put(path, json={"cluster_id": "no-such-cluster"}), 404)
    assert "no-such-cluster" in missing["message"]


def test_a_scala_cell_runs_through_the_proxy_and_the_notebook_changes_the_attachment(
    control_plane: ControlPlane,
    admin: UserClient,
    spark_cluster: SparkCluster,
    attached: dict[str, Any],
) -> None:
    """Last in the module: it detaches the workspace from the notebook, then attaches it again."""
    studio_id = spark_cluster.studio["id"]
    path = f"/studios/{studio_id}/workspaces/{attached['id']}"
    name = spark_cluster.cluster["name"]
    lab = Lab(control_plane, admin, attached["id"])
    started = expect(lab.http.post("api/kernels", json={"name": "spark-scala"}), 201)
    try:
        with lab.kernel_socket(started["id"]) as socket:
            answer = run_code(socket, 'spark.range(6).filter("id % 2 = 0").count()', 300)
            assert answer["reply"]["status"] == "ok", answer
            assert re.search(r"res\d+: Long = 3L?\b", answer["stdout"]), answer["stdout"]
            answer = run_code(socket, "%cluster")
            assert f"attached to cluster {name}" in answer["stdout"]
            answer = run_code(socket, "%detach")
            assert answer["reply"]["status"] == "ok", answer
            assert "This workspace is detached" in answer["stdout"]
            assert expect(admin.get(path), 200)["cluster_id"] is None
            answer = run_code(socket, "spark.range(1).count()")
            assert answer["errors"], answer
            assert "%attach <cluster name or id>" in answer["errors"][0]["evalue"]
            refused = run_code(socket, "%attach no-such-cluster")
            assert "the studio refused" in refused["errors"][0]["evalue"]
            answer = run_code(socket, f"%attach {name}")
            assert answer["reply"]["status"] == "ok", answer
            assert f"attached to cluster {name}" in answer["stdout"]
            assert expect(admin.get(path), 200)["status"] == "ATTACHED"
    finally:
        expect(lab.http.delete(f"api/kernels/{started['id']}"), 204)
