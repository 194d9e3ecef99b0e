"""The local backend with real Spark processes: one cluster serves the whole module.

The backend is driven directly, in the host's place (single-user mode: processes run as
the tests' own user on the host's loopback); how places sandbox a studio's processes is
tested with a control plane (tests/spark/test_isolation.py).
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from sparkstudio.backends.base import Health, LaunchRequest, Observation, State
from sparkstudio.backends.local import LAUNCHES, LocalBackend
from sparkstudio.processes import identities
from sparkstudio.processes.places import Egress, HostPlace, Place
from sparkstudio.spark import processes
from sparkstudio.templates.spec import ClusterSpec

pytestmark = pytest.mark.spark

SPEC = ClusterSpec(
    workers_min=1,
    workers_max=2,
    worker_cores=1,
    worker_memory_mib=1024,
    executor_cores=1,
    executor_memory_mib=512,
    spark_conf={"spark.sql.shuffle.partitions": "4"},
    capacity_type="ON_DEMAND",
    idle_timeout_seconds=600,
    tags={},
)


def wait_until(
    backend: LocalBackend, state: State, place: Place, wanted: set[Health], timeout: float
) -> Observation:
    """Observe until ``wanted``, passing each observation's state on (as the control plane
    stores it): observing may start things, e.g. the warm-up query, recorded in the state."""
    deadline = time.monotonic() + timeout
    while True:
        observation = backend.observe(state, place)
        state = observation.state
        if observation.health in wanted or time.monotonic() > deadline:
            return observation
        time.sleep(0.5)


@pytest.fixture(scope="module")
def backend() -> LocalBackend:
    return LocalBackend()


@pytest.fixture(scope="module")
def place() -> Place:
    """The host's place; nothing here goes out to a platform (no Connect front, no API)."""
    return HostPlace(identities.current(), Egress(connect_url="", api_url=""))


def launch_request(cluster_id: str, root: Path, place: Place) -> LaunchRequest:
    """The launch of a cluster whose folder, event logs and process logs are under ``root``
    (its folder is its own; its logs are the platform's, beside it)."""
    events = root / "events"
    events.mkdir(exist_ok=True)
    return LaunchRequest(
        cluster_id, SPEC, root / cluster_id, events.as_uri(), place, root / "logs" / cluster_id
    )


def connect_url(backend: LocalBackend, state: State, place: Place, token: str) -> str:
    """A Spark Connect URL straight to the cluster's driver (no front in between)."""
    _, _, port = backend.endpoints(state, place).connect_url.rpartition(":")
    # pyspark sends a token without TLS to "localhost" only.
    return f"sc://localhost:{port}/;token={token};user_id=alice"


@pytest.fixture(scope="module")
def cluster(
    backend: LocalBackend, place: Place, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[State]:
    request = launch_request("cl-test", tmp_path_factory.mktemp("cluster"), place)
    state = backend.start(request)
    try:
        observation = wait_until(backend, state, place, {Health.READY, Health.FAILED}, 180)
        state = observation.state
        assert observation.health is Health.READY, observation
        assert "warmup" in state  # usable only once the warm-up query has run
        assert (request.log_dir / "driver.log").is_file()  # the platform's, not the cluster's
        yield state
    finally:
        backend.stop(state, place)


def test_a_query_runs_through_spark_connect_with_the_cluster_token(
    backend: LocalBackend, place: Place, cluster: State
) -> None:
    from pyspark.sql import SparkSession

    url = connect_url(backend, cluster, place, cluster["token"])
    session = SparkSession.builder.remote(url).create()
    try:
        total = session.range(1000).selectExpr("sum(id) AS total").collect()[0]["total"]
        assert total == 499500
        # Executors run on the standalone workers, not inside the driver.
        assert session.conf.get("spark.master") == cluster["master_url"]
    finally:
        session.stop()


def test_a_wrong_token_is_refused(backend: LocalBackend, place: Place, cluster: State) -> None:
    from pyspark.errors.exceptions.connect import SparkConnectGrpcException
    from pyspark.sql import SparkSession

    url = connect_url(backend, cluster, place, "not-the-token")
    session = SparkSession.builder.remote(url).create()
    try:
        with pytest.raises(SparkConnectGrpcException, match=r"UNAUTHENTICATED|authenticat"):
            session.range(1).collect()
    finally:
        # An unclosed client retries cleanup calls at interpreter exit, against a cluster
        # that is gone by then: the test process would hang.
        session.client.close()


def test_the_token_is_not_on_any_command_line(cluster: State) -> None:
    live = [r for r in LocalBackend.processes(cluster) if processes.is_alive(r)]
    assert {r.role for r in live} >= {"master", "worker-0", "driver"}
    for record in live:  # (the warm-up query gets its URL from its environment too)
        cmdline = Path(f"/proc/{record.pid}/cmdline").read_bytes()
        assert cluster["token"].encode() not in cmdline, record.role


def test_a_killed_worker_is_reported_and_scale_replaces_it(
    backend: LocalBackend, place: Place, cluster: State
) -> None:
    worker = cluster["workers"][0]
    os.kill(worker["pid"], signal.SIGKILL)
    # SIGKILL is delivered asynchronously: observe until the death is visible.
    deadline = time.monotonic() + 20
    observation = backend.observe(cluster, place)
    while not observation.lost_workers and time.monotonic() < deadline:
        time.sleep(0.2)
        observation = backend.observe(cluster, place)
    assert observation.lost_workers == [worker["role"]]
    scaled = backend.scale(cluster, 2, place)
    cluster.update(scaled)
    assert len(cluster["workers"]) == 2
    assert worker["pid"] not in [w["pid"] for w in cluster["workers"]]
    ready = wait_until(backend, cluster, place, {Health.READY}, 120)
    # The master may list the killed worker until it notices the lost connection.
    deadline = time.monotonic() + 90
    while ready.workers_alive != 2 and time.monotonic() < deadline:
        time.sleep(1)
        ready = backend.observe(cluster, place)
    assert ready.workers_alive == 2


def test_a_launch_that_was_never_recorded_is_stopped_by_the_next_one(
    backend: LocalBackend, place: Place, tmp_path: Path
) -> None:
    """The control plane stopped between launching and storing the state: no orphan."""
    request = launch_request("cl-lost", tmp_path, place)
    launch_file = tmp_path / LAUNCHES / "cl-lost.json"  # beside the cluster's own folder
    lost = backend.start(request)  # never stored anywhere but the launch file
    assert launch_file.is_file()
    again = backend.start(request)
    try:
        assert [r.pid for r in backend.processes(lost) if processes.is_alive(r)] == []
        assert all(processes.is_alive(r) for r in backend.processes(again))
    finally:
        backend.stop(again, place)
    assert not launch_file.exists()
