"""The ``local`` backend: a Spark standalone cluster made of processes on this host.

A cluster is one standalone master, N workers (each with the spec's cores and memory)
and a Spark Connect server as its driver (``--master spark://…``), launched in the
cluster's place (its studio's sandbox and network namespace, or the host). The driver
authenticates clients with a per-cluster token passed in its environment, never on a
command line; only the platform's Connect front and warm-up use it. The master, workers,
driver and executors authenticate each other with a per-cluster secret
(``spark.authenticate``, from a properties file only the cluster's identity reads), so
that no other process of the namespace can join the cluster. Every listener binds to
the place's loopback; the UIs' kill links are off.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sparkstudio.backends.base import (
    Backend,
    Endpoints,
    Health,
    LaunchRequest,
    Observation,
    State,
    Worker,
)
from sparkstudio.processes.places import Place
from sparkstudio.processes.reach import get_json
from sparkstudio.spark import processes
from sparkstudio.spark.driver import read_activity
from sparkstudio.spark.home import SparkHome, find_spark_home
from sparkstudio.spark.java import check_java
from sparkstudio.spark.processes import ProcessRecord

HOST = "127.0.0.1"
MASTER_CLASS = "org.apache.spark.deploy.master.Master"
WORKER_CLASS = "org.apache.spark.deploy.worker.Worker"
CONNECT_CLASS = "org.apache.spark.sql.connect.service.SparkConnectServer"
TOKEN_ENV = "SPARK_CONNECT_AUTHENTICATE_TOKEN"  # noqa: S105 (a variable name)
DAEMON_MEMORY = "256m"  # heap of the master and worker daemons (not of the driver)
LAUNCHES = ".launches"  # beside the clusters' folders, which their identities own
SECRETS_FILE = "secrets.conf"  # spark.authenticate's secret, for the cluster's processes only
# Set for every process of a cluster: the UIs cannot end applications or executors.
NO_KILL = "-Dspark.ui.killEnabled=false"
WARMUP_URL_ENV = "SPARKSTUDIO_WARMUP_URL"
WARMUP_TIMEOUT_SECONDS = 120.0
WARMUP_CODE = """
import os
from pyspark.sql import SparkSession

spark = SparkSession.builder.remote(os.environ["SPARKSTUDIO_WARMUP_URL"]).create()
rows = spark.range(100_000).selectExpr("id % 10 AS k", "id AS v").groupBy("k").sum("v")
rows.collect()
spark.stop()
"""


class LocalBackend(Backend):
    name = "local"

    def __init__(self, spark_home: SparkHome | None = None) -> None:
        self.spark = spark_home or find_spark_home()

    # -- launch -------------------------------------------------------------------------

    def start(self, request: LaunchRequest) -> State:
        # A launch the control plane never recorded (it stopped mid-launch) is stopped
        # before a new one starts: no orphaned JVMs.
        launched = _launch_file(request.workdir)
        if launched.exists():
            with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
                self.stop(json.loads(launched.read_text()), request.place)
        place = request.place
        logs = request.log_dir
        place.own(request.workdir, request.workdir / "work", request.workdir / "scratch")
        secrets_file = _write_secrets(request.workdir, place)
        master_port, master_ui = place.free_port(), place.free_port()
        master = place.launch(
            "master",
            [
                str(self.spark.bin("spark-class")),
                MASTER_CLASS,
                "--host",
                HOST,
                "--port",
                str(master_port),
                "--webui-port",
                str(master_ui),
                "--properties-file",
                str(secrets_file),
            ],
            self.spark.environment(
                SPARK_DAEMON_MEMORY=DAEMON_MEMORY,
                # Every cluster has its own master, and masters number their applications
                # from 0 with a one-second timestamp: without the cluster's id, two
                # clusters started together would write the same event log.
                SPARK_MASTER_OPTS=(
                    f"-Dspark.deploy.appIdPattern=app-%s-%04d-{request.cluster_id} {NO_KILL}"
                ),
            ),
            logs / "master.log",
            writable=self._writable(request),
            cwd=request.workdir,
        )
        state: State = {
            "master": master.to_json(),
            "master_url": f"spark://{HOST}:{master_port}",
            "master_ui_port": master_ui,
            "worker_cores": request.spec.worker_cores,
            "worker_memory_mib": request.spec.worker_memory_mib,
            "workdir": str(request.workdir),
            "workers": [],
            "token": secrets.token_urlsafe(32),
            "next_worker": 0,
            "cluster_id": request.cluster_id,
            "secrets_file": str(secrets_file),
            "log_dir": str(logs),
            "writable": [str(path) for path in self._writable(request)],
        }
        try:
            _remember(launched, state)
            state = self.scale(state, max(request.spec.workers_min, 1), place)
            _remember(launched, state)
            state["driver"] = self._start_driver(request, state).to_json()
            _remember(launched, state)
        except Exception:
            self.stop(state, place)
            launched.unlink(missing_ok=True)
            raise
        return state

    @staticmethod
    def _writable(request: LaunchRequest) -> list[Path]:
        """What the cluster's processes may write: its folder, the event logs, the
        studio's file storage."""
        paths = [request.workdir]
        if request.event_log_dir.startswith("file://"):
            paths.append(Path(request.event_log_dir.removeprefix("file://")))
        if request.storage is not None:
            paths.append(request.storage)
        return paths

    def _start_worker(self, state: State, place: Place) -> dict[str, Any]:
        index = state["next_worker"]
        state["next_worker"] = index + 1
        workdir = Path(state["workdir"])
        ui_port = place.free_port()
        record = place.launch(
            f"worker-{index}",
            [
                str(self.spark.bin("spark-class")),
                WORKER_CLASS,
                "--host",
                HOST,
                "--cores",
                str(state["worker_cores"]),
                "--memory",
                f"{state['worker_memory_mib']}m",
                "--webui-port",
                str(ui_port),
                "--work-dir",
                str(workdir / "work"),
                "--properties-file",
                state["secrets_file"],
                state["master_url"],
            ],
            self.spark.environment(
                SPARK_DAEMON_MEMORY=DAEMON_MEMORY,
                SPARK_WORKER_OPTS=NO_KILL,
                SPARK_LOCAL_DIRS=str(workdir / "scratch"),
            ),
            Path(state["log_dir"]) / f"worker-{index}.log",
            writable=[Path(path) for path in state["writable"]],
            cwd=workdir,
        )
        return {**record.to_json(), "ui_port": ui_port}

    def _start_driver(self, request: LaunchRequest, state: State) -> ProcessRecord:
        spec = request.spec
        place = request.place
        connect_port, ui_port = place.free_port(), place.free_port()
        state["connect_port"], state["driver_ui_port"] = connect_port, ui_port
        conf = {
            **spec.spark_conf,
            "spark.executor.cores": str(spec.executor_cores),
            "spark.executor.memory": f"{spec.executor_memory_mib}m",
            "spark.connect.grpc.binding.address": HOST,
            "spark.connect.grpc.binding.port": str(connect_port),
            "spark.driver.host": HOST,
            "spark.driver.bindAddress": HOST,
            "spark.ui.port": str(ui_port),
            "spark.ui.killEnabled": "false",
            "spark.eventLog.enabled": "true",
            "spark.eventLog.dir": request.event_log_dir,
            "spark.local.dir": str(request.workdir / "scratch"),
        }
        argv = [
            str(self.spark.bin("spark-submit")),
            "--properties-file",
            state["secrets_file"],
            "--class",
            CONNECT_CLASS,
            "--name",
            f"sparkstudio {request.cluster_id}",
            "--master",
            state["master_url"],
            "--driver-memory",
            f"{spec.driver_memory_mib}m",
        ]
        for key, value in conf.items():
            argv += ["--conf", f"{key}={value}"]
        argv.append("spark-internal")
        env = self.spark.environment(**{TOKEN_ENV: state["token"]})
        return place.launch(
            "driver",
            argv,
            env,
            request.log_dir / "driver.log",
            writable=self._writable(request),
            cwd=request.workdir,
        )

    # -- observe ------------------------------------------------------------------------

    def _master_json(self, state: State, place: Place) -> dict[str, Any] | None:
        try:
            data: dict[str, Any] = get_json(
                place.reach(state["master_ui_port"]).http_url, "/json/", 2.0
            )
        except (OSError, ValueError):
            return None
        # Only our master counts (not another process that took the port).
        return data if data.get("url") == state["master_url"] else None

    def observe(self, state: State, place: Place) -> Observation:
        master = ProcessRecord.from_json(state["master"])
        driver = ProcessRecord.from_json(state["driver"]) if "driver" in state else None
        if not processes.is_alive(master):
            return self._failed(
                state,
                "MASTER_LOST",
                "the cluster's master process is gone; its workers and driver cannot go on",
                master,
            )
        if driver is not None and not processes.is_alive(driver):
            return self._failed(
                state,
                "DRIVER_LOST",
                "the cluster's Spark driver (the Connect server) is gone, and its sessions with it",
                driver,
            )
        lost = [w["role"] for w in state["workers"] if not processes.is_alive(_worker_record(w))]
        endpoints = self.endpoints(state, place)
        master_json = self._master_json(state, place)
        if master_json is None:
            return Observation(Health.STARTING, state, endpoints, 0, lost_workers=lost)
        registered = [w for w in master_json.get("workers", []) if w.get("state") == "ALIVE"]
        by_ui_port = {w["ui_port"]: w["role"] for w in state["workers"]}
        idle = [
            by_ui_port[port]
            for w in registered
            if (port := _port_of(str(w.get("webuiaddress", "")))) in by_ui_port
            and int(w.get("coresused", 0)) == 0
        ]
        answering = len(registered) >= 1 and place.port_open(state["connect_port"])
        if answering and not self._warmed(state):
            state = self._warm_up(state, place)
            answering = False
        ready = answering
        health = Health.READY if ready else Health.BOOTSTRAPPING
        activity = read_activity(endpoints.ui_url) if ready else None
        if activity is not None and not activity.app_id.endswith(state.get("cluster_id", "")):
            activity = None  # another driver's UI took the port: not ours to read
        return Observation(
            health,
            state,
            endpoints,
            len(registered),
            lost_workers=lost,
            idle_workers=[name for name in idle if name not in lost],
            activity=activity,
        )

    # -- warm-up ------------------------------------------------------------------------

    def _warmed(self, state: State) -> bool:
        """The warm-up query has run (or given up): the cluster's first user need not wait."""
        if "warmup" not in state:
            return False
        record = ProcessRecord.from_json(state["warmup"])
        if not processes.is_alive(record):
            processes.stop(record)  # reaps it: it was our child
            return True
        if time.time() - state["warmup_started"] > WARMUP_TIMEOUT_SECONDS:
            processes.stop(record)  # best effort: a slow warm-up must not hold the cluster
            return True
        return False

    def _warm_up(self, state: State, place: Place) -> State:
        """Run a small shuffle query through Spark Connect once, in a process of its own.

        Without it the first user's first query pays for class loading and JIT in the
        driver and the executor (measured: 12 s instead of 1 s).
        """
        if "warmup" in state:
            return state
        state = dict(state)
        port = state["connect_port"]
        url = f"sc://localhost:{port}/;token={state['token']};user_id=sparkstudio"
        env = {WARMUP_URL_ENV: url}
        workdir = Path(state["workdir"])
        record = place.launch(
            "warmup",
            [sys.executable, "-c", WARMUP_CODE],
            env,
            Path(state["log_dir"]) / "warmup.log",
            cwd=workdir,
        )
        state["warmup"], state["warmup_started"] = record.to_json(), time.time()
        return state

    def _failed(self, state: State, code: str, what: str, record: ProcessRecord) -> Observation:
        message = f"{what} (pid {record.pid}); its log is {record.log}"
        return Observation(Health.FAILED, state, reason_code=code, reason_message=message)

    def endpoints(self, state: State, place: Place) -> Endpoints:
        connect = place.reach(int(state.get("connect_port", 0))).grpc_target
        ui = place.reach(int(state.get("driver_ui_port", 0))).http_url
        return Endpoints(
            connect_url=connect,
            ui_url=ui,
            master_ui_url=place.reach(int(state["master_ui_port"])).http_url,
        )

    # -- scale and stop -----------------------------------------------------------------

    def scale(
        self, state: State, workers: int, place: Place, *, remove_first: Sequence[str] = ()
    ) -> State:
        state = dict(state)
        live = [w for w in state["workers"] if processes.is_alive(_worker_record(w))]
        while len(live) < workers:
            live.append(self._start_worker(state, place))
        # Named workers first, then the newest: the oldest ones hold the most cached work.
        order = sorted(live, key=lambda w: (w["role"] in remove_first, live.index(w)))
        while len(order) > workers:
            processes.stop(_worker_record(order.pop()))
        state["workers"] = [w for w in live if w in order]
        return state

    def workers(self, state: State) -> list[Worker]:
        return [
            Worker(w["role"], state["worker_cores"], state["worker_memory_mib"])
            for w in state.get("workers", [])
        ]

    def check(self) -> str:
        problem = check_java().problem
        if problem:
            return f"clusters cannot start: {problem}"
        return ""

    def stop(self, state: State, place: Place) -> None:
        # Reverse start order: the driver first, so it does not report lost executors.
        for record in reversed(self.processes(state)):
            processes.stop(record)
        if "workdir" in state:
            _launch_file(Path(state["workdir"])).unlink(missing_ok=True)

    @staticmethod
    def processes(state: State) -> list[ProcessRecord]:
        """Every process of the cluster (for checks that none survives)."""
        records = [ProcessRecord.from_json(state["master"])]
        records += [_worker_record(w) for w in state.get("workers", [])]
        if "driver" in state:
            records.append(ProcessRecord.from_json(state["driver"]))
        if "warmup" in state:
            records.append(ProcessRecord.from_json(state["warmup"]))
        return records


def _write_secrets(workdir: Path, place: Place) -> Path:
    """The cluster's spark.authenticate secret, readable by its identity only."""
    path = workdir / SECRETS_FILE
    lines = ["spark.authenticate true", f"spark.authenticate.secret {secrets.token_hex(32)}"]
    path.unlink(missing_ok=True)  # the folder is the cluster's: never write through a link
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(descriptor, "w") as out:
        out.write("\n".join(lines) + "\n")
    place.give(path)
    return path


def _launch_file(workdir: Path) -> Path:
    """Where a launch is remembered: out of the cluster's own folder, which its processes
    own (they could otherwise plant pids for the next launch to stop)."""
    return workdir.parent / LAUNCHES / f"{workdir.name}.json"


def _remember(path: Path, state: State) -> None:
    """What has been launched so far, for the next launch to clean up if it is lost."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(state))
    path.chmod(0o600)  # it holds the cluster's token


def _port_of(address: str) -> int:
    _, _, port = address.rpartition(":")
    return int(port) if port.isdigit() else -1


def _worker_record(worker: dict[str, Any]) -> ProcessRecord:
    return ProcessRecord.from_json({k: v for k, v in worker.items() if k != "ui_port"})
