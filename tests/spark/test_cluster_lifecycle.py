"""Cluster lifecycle on real processes: restart re-adoption, lost processes, scaling, idling.

This module runs its own control plane (SQLite) so that it can stop and restart it on
the same home. Three clusters are launched together at the start:

- ``idle``: one worker, 120 s idle timeout; re-adopted after the restart, then ends idle;
- ``doomed``: its master is killed while the control plane is down;
- ``elastic``: 1 to 2 one-core workers with dynamic allocation, for managed scaling,
  worker replacement and, at last, the loss of its driver.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sparkstudio.backends.local import LocalBackend
from sparkstudio.db.models import Cluster
from sparkstudio.processes.places import Place
from sparkstudio.server import ControlPlane
from sparkstudio.settings import Settings
from sparkstudio.spark import processes
from sparkstudio.spark.driver import read_activity
from sparkstudio.spark.processes import ProcessRecord
from tests.support import (
    ADMIN_NAME,
    ADMIN_PASSWORD,
    UserClient,
    cluster_events,
    create_studio,
    end_every_cluster,
    expect,
    login,
    unique,
    wait_for_cluster,
)

pytestmark = pytest.mark.spark

ONE_CORE = {
    "worker_cores": 1,
    "worker_memory_mib": 1024,
    "executor_cores": 1,
    "executor_memory_mib": 512,
}
# Launched in this order, one after the other: "idle" last, so that its idle clock starts
# just before the tests (its timeout covers the restart test, not all of them).
SPECS: dict[str, dict[str, Any]] = {
    "doomed": {**ONE_CORE, "workers_min": 1, "workers_max": 1},
    "elastic": {
        **ONE_CORE,
        "workers_min": 1,
        "workers_max": 2,
        "spark_conf": {
            "spark.dynamicAllocation.enabled": "true",
            "spark.dynamicAllocation.shuffleTracking.enabled": "true",
            "spark.dynamicAllocation.minExecutors": "0",
            "spark.dynamicAllocation.executorIdleTimeout": "3s",
        },
    },
    "idle": {**ONE_CORE, "workers_min": 1, "workers_max": 1, "idle_timeout_seconds": 120},
}
READY = {"WAITING", "RUNNING"}


class Lab:
    def __init__(self, home: Path) -> None:
        self.home = home
        self.plane: ControlPlane | None = None
        self.admin: UserClient | None = None
        self.studio: dict[str, Any] = {}
        self.clusters: dict[str, dict[str, Any]] = {}

    def start(self) -> None:
        settings = Settings(
            home=self.home,
            port=0,
            admin_password=ADMIN_PASSWORD,
            cluster_poll_seconds=0.5,
            scale_in_idle_seconds=10,
        )
        self.plane = ControlPlane(settings).start()
        self.admin = login(self.plane.api_url, ADMIN_NAME, ADMIN_PASSWORD)

    def stop(self) -> None:
        """Stop the control plane; its clusters keep running."""
        if self.admin is not None:
            self.admin.close()
            self.admin = None
        if self.plane is not None:
            self.plane.stop()
            self.plane = None

    def client(self) -> UserClient:
        assert self.admin is not None
        return self.admin

    def path(self, role: str) -> str:
        return f"/studios/{self.studio['id']}/clusters/{self.clusters[role]['id']}"

    def get(self, role: str) -> dict[str, Any]:
        result: dict[str, Any] = expect(self.client().get(self.path(role)), 200)
        return result

    def wait(self, role: str, statuses: set[str], timeout: float = 240) -> dict[str, Any]:
        cluster_id = self.clusters[role]["id"]
        return wait_for_cluster(self.client(), self.studio["id"], cluster_id, statuses, timeout)

    def events(self, role: str) -> list[dict[str, Any]]:
        return cluster_events(self.client(), self.studio["id"], self.clusters[role]["id"])

    def codes(self, role: str) -> list[str]:
        return [e["reason"]["code"] for e in self.events(role)]

    def state(self, role: str) -> dict[str, Any]:
        assert self.plane is not None
        with self.plane.prepared.database.session(write=False) as db:
            cluster = db.get(Cluster, self.clusters[role]["id"])
            assert cluster is not None and cluster.state is not None
            return dict(cluster.state)

    def place(self) -> Place:
        """Where the studio's clusters run (its sandbox, or the host in single-user mode)."""
        assert self.plane is not None
        return self.plane.isolation.studio_place(self.studio["id"])

    def wait_for_event(self, role: str, code: str, timeout: float = 120) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for event in self.events(role):
                if event["reason"]["code"] == code:
                    return event
            time.sleep(0.5)
        raise AssertionError(f"no {code} event for {role}: {self.codes(role)}")


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    lab = Lab(tmp_path_factory.mktemp("lifecycle"))
    lab.start()
    try:
        lab.studio = create_studio(lab.client())
        # One after the other: a 2-core host starting nine JVMs at once crawls.
        for role, spec in SPECS.items():
            body = {"name": unique(role), "spec": spec}
            path = f"/studios/{lab.studio['id']}/clusters/from-spec"
            lab.clusters[role] = expect(lab.client().post(path, json=body), 201)
            lab.wait(role, READY)
        yield lab
    finally:
        if lab.plane is None:  # a test failed while the control plane was stopped
            lab.start()
        assert lab.plane is not None
        end_every_cluster(lab.plane)
        isolation = lab.plane.isolation
        lab.stop()
        isolation.remove_everything_made()  # the studio's OS account and network namespace


def test_a_restarted_control_plane_readopts_live_clusters_and_ends_dead_ones(lab: Lab) -> None:
    before = {role: lab.state(role) for role in SPECS}
    lab.stop()  # clusters keep running without the control plane
    try:
        for state in before.values():
            daemons = [r for r in LocalBackend.processes(state) if r.role != "warmup"]
            assert all(processes.is_alive(r) for r in daemons)  # (the warm-up has ended)
        doomed_master = ProcessRecord.from_json(before["doomed"]["master"])
        processes.stop(doomed_master)
    finally:
        lab.start()

    ended = lab.wait("doomed", {"TERMINATED_WITH_ERRORS"}, timeout=60)
    assert ended["status_reason"]["code"] == "MASTER_LOST"
    assert "master" in ended["status_reason"]["message"]
    assert [r.pid for r in LocalBackend.processes(before["doomed"]) if processes.is_alive(r)] == []

    for role in ("idle", "elastic"):
        lab.wait_for_event(role, "READOPTED", timeout=30)
        assert lab.get(role)["status"] in READY
        # The same processes, not new ones.
        assert lab.state(role)["master"] == before[role]["master"]


def test_a_worker_lost_mid_query_is_replaced_and_the_query_completes(lab: Lab) -> None:
    from pyspark.sql import SparkSession

    state = lab.state("elastic")
    worker = state["workers"][0]
    url = expect(lab.client().get(lab.path("elastic") + "/connection"), 200)["url"]
    session = SparkSession.builder.remote(url).create()
    results: list[Any] = []
    errors: list[BaseException] = []

    def query() -> None:
        try:
            sleepy = "java_method('java.lang.Thread', 'sleep', cast(1500 as bigint)) AS slept"
            results.extend(session.range(0, 6, 1, 6).selectExpr("id", sleepy).collect())
        except BaseException as error:  # reported below, in the test's thread
            errors.append(error)

    running = threading.Thread(target=query)
    running.start()
    try:
        # The driver's UI listens in the studio's sandbox: reached the platform's way.
        ui_url = lab.place().reach(state["driver_ui_port"]).http_url
        deadline = time.monotonic() + 180  # an executor is asked for when tasks wait
        while not ((seen := read_activity(ui_url)) and seen.running_tasks > 0):
            assert time.monotonic() < deadline and not errors, (seen, errors)
            time.sleep(0.2)
        os.killpg(worker["pid"], signal.SIGKILL)  # with the executor running its tasks
        lab.wait_for_event("elastic", "WORKER_LOST")
        replaced = lab.wait_for_event("elastic", "WORKER_REPLACED")
        assert "in its place" in replaced["reason"]["message"]
    finally:
        running.join(timeout=180)
        session.stop()
    # The tasks lost with the worker ran again on the one in its place.
    assert errors == [] and sorted(row["id"] for row in results) == list(range(6))
    after = lab.state("elastic")
    assert [w["role"] for w in after["workers"]] != [worker["role"]]
    assert all(processes.is_alive(ProcessRecord.from_json(_record(w))) for w in after["workers"])
    assert lab.get("elastic")["status"] in READY


def test_managed_scaling_adds_a_worker_for_a_backlog_and_removes_it_when_idle(
    lab: Lab,
) -> None:
    from pyspark.sql import SparkSession

    url = expect(lab.client().get(lab.path("elastic") + "/connection"), 200)["url"]
    session = SparkSession.builder.remote(url).create()
    errors: list[BaseException] = []

    def backlog() -> None:
        try:
            sleepy = "java_method('java.lang.Thread', 'sleep', cast(2000 as bigint)) AS slept"
            session.range(0, 16, 1, 16).selectExpr(sleepy).collect()
        except BaseException as error:  # reported below, in the test's thread
            errors.append(error)

    started = time.monotonic()
    query = threading.Thread(target=backlog)
    query.start()
    try:
        scaled = lab.wait_for_event("elastic", "SCALED_OUT", timeout=90)
        reaction = time.monotonic() - started
        assert "waiting for a free core" in scaled["reason"]["message"]
        assert "1 -> 2" in scaled["reason"]["message"]
        deadline = time.monotonic() + 60
        while lab.get("elastic")["workers"]["running"] < 2 and time.monotonic() < deadline:
            time.sleep(0.5)
        assert lab.get("elastic")["workers"]["running"] == 2
    finally:
        query.join(timeout=120)
        session.stop()
    assert errors == []
    print(f"scale-out reaction: {reaction:.1f} s from query start")
    # Executors idle 3 s are released; a worker without executors for 10 s is stopped.
    scaled_in = lab.wait_for_event("elastic", "SCALED_IN", timeout=120)
    assert "2 -> 1" in scaled_in["reason"]["message"]
    assert lab.get("elastic")["workers"]["running"] == 1
    assert len(lab.state("elastic")["workers"]) == 1


def test_scaling_bounds_set_through_the_api_are_applied(lab: Lab) -> None:
    path = lab.path("elastic") + "/scaling"
    expect(lab.client().put(path, json={"workers_min": 2, "workers_max": 2}), 200)
    deadline = time.monotonic() + 60
    while lab.get("elastic")["workers"]["running"] != 2 and time.monotonic() < deadline:
        time.sleep(0.5)
    assert lab.get("elastic")["workers"]["running"] == 2
    messages = [e["reason"]["message"] for e in lab.events("elastic")]
    assert any("below the minimum of 2" in m for m in messages)
    expect(lab.client().put(path, json={"workers_min": 1, "workers_max": 1}), 200)
    deadline = time.monotonic() + 60
    while lab.get("elastic")["workers"]["running"] != 1 and time.monotonic() < deadline:
        time.sleep(0.5)
    assert lab.get("elastic")["workers"]["running"] == 1


def test_usage_counts_each_worker_lifetime(lab: Lab) -> None:
    usage = expect(lab.client().get(f"/studios/{lab.studio['id']}/usage"), 200)
    rows = {row["key"]: row for row in usage["rows"]}
    elastic = rows[lab.clusters["elastic"]["id"]]
    assert elastic["core_seconds"] > 0
    assert elastic["memory_gb_seconds"] == pytest.approx(elastic["core_seconds"], rel=1e-6)
    assert usage["total"]["clusters"] == 3


def test_a_lost_driver_ends_the_cluster_with_errors(lab: Lab) -> None:
    state = lab.state("elastic")
    driver = ProcessRecord.from_json(state["driver"])
    os.killpg(driver.pid, signal.SIGKILL)
    ended = lab.wait("elastic", {"TERMINATED_WITH_ERRORS"}, timeout=60)
    assert ended["status_reason"]["code"] == "DRIVER_LOST"
    assert "driver" in ended["status_reason"]["message"]
    assert [r.pid for r in LocalBackend.processes(state) if processes.is_alive(r)] == []


def test_an_idle_cluster_terminates_itself(lab: Lab) -> None:
    ended = lab.wait("idle", {"TERMINATED"}, timeout=180)
    assert ended["status_reason"]["code"] == "IDLE_TIMEOUT"
    assert "idle timeout 120 s" in ended["status_reason"]["message"]
    assert ended["workers"]["running"] == 0


def _record(worker: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in worker.items() if k != "ui_port"}
