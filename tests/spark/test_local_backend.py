"""The local backend with real Spark processes: one cluster serves the whole module."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from sparkstudio.backends.base import Health, LaunchRequest, Observation, State
from sparkstudio.backends.local import LocalBackend
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
    backend: LocalBackend, state: State, wanted: set[Health], timeout: float
) -> Observation:
    """Observe until ``wanted``, passing each observation's state on (as the control plane
    stores it): observing may start things, e.g. the warm-up query, recorded in the state."""
    deadline = time.monotonic() + timeout
    while True:
        observation = backend.observe(state)
        state = observation.state
        if observation.health in wanted or time.monotonic() > deadline:
            return observation
        time.sleep(0.5)


@pytest.fixture(scope="module")
def backend() -> LocalBackend:
    return LocalBackend()


@pytest.fixture(scope="module")
def cluster(backend: LocalBackend, tmp_path_factory: pytest.TempPathFactory) -> Iterator[State]:
    work = tmp_path_factory.mktemp("cluster")
    events = work / "events"
    events.mkdir()
    state = backend.start(LaunchRequest("cl-test", SPEC, work, events.as_uri()))
    try:
        observation = wait_until(backend, state, {Health.READY, Health.FAILED}, 180)
        state = observation.state
        assert observation.health is Health.READY, observation
        assert "warmup" in state  # usable only once the warm-up query has run
        yield state
    finally:
        backend.stop(state)


def test_a_query_runs_through_spark_connect_with_the_cluster_token(
    backend: LocalBackend, cluster: State
) -> None:
    from pyspark.sql import SparkSession

    endpoints = backend.endpoints(cluster)
    url = f"{endpoints.connect_url}/;token={cluster['token']};user_id=alice"
    session = SparkSession.builder.remote(url).create()
    try:
        total = session.range(1000).selectExpr("sum(id) AS total").collect()[0]["total"]
        assert total == 499500
        # Executors run on the standalone workers, not inside the driver.
        assert session.conf.get("spark.master") == cluster["master_url"]
    finally:
        session.stop()


def test_a_wrong_token_is_refused(backend: LocalBackend, cluster: State) -> None:
    from pyspark.errors.exceptions.connect import SparkConnectGrpcException
    from pyspark.sql import SparkSession

    url = f"{backend.endpoints(cluster).connect_url}/;token=not-the-token"
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
    backend: LocalBackend, cluster: State
) -> None:
    worker = cluster["workers"][0]
    os.kill(worker["pid"], signal.SIGKILL)
    # SIGKILL is delivered asynchronously: observe until the death is visible.
    deadline = time.monotonic() + 20
    observation = backend.observe(cluster)
    while not observation.lost_workers and time.monotonic() < deadline:
        time.sleep(0.2)
        observation = backend.observe(cluster)
    assert observation.lost_workers == [worker["role"]]
    scaled = backend.scale(cluster, 2)
    cluster.update(scaled)
    assert len(cluster["workers"]) == 2
    assert worker["pid"] not in [w["pid"] for w in cluster["workers"]]
    ready = wait_until(backend, cluster, {Health.READY}, 120)
    # The master may list the killed worker until it notices the lost connection.
    deadline = time.monotonic() + 90
    while ready.workers_alive != 2 and time.monotonic() < deadline:
        time.sleep(1)
        ready = backend.observe(cluster)
    assert ready.workers_alive == 2


def test_a_launch_that_was_never_recorded_is_stopped_by_the_next_one(
    backend: LocalBackend, tmp_path: Path
) -> None:
    """The control plane stopped between launching and storing the state: no orphan."""
    events = tmp_path / "events"
    events.mkdir()
    request = LaunchRequest("cl-lost", SPEC, tmp_path, events.as_uri())
    lost = backend.start(request)  # never stored anywhere but the launch file
    again = backend.start(request)
    try:
        assert [r.pid for r in backend.processes(lost) if processes.is_alive(r)] == []
        assert all(processes.is_alive(r) for r in backend.processes(again))
    finally:
        backend.stop(again)
    assert not (tmp_path / "launch.json").exists()
