"""Clusters through the real control plane: launch time, session start, query overhead, scaling.

One control plane runs in this process (``ControlPlane(Settings(home=<tmp>, port=0, …))``)
with the ``local`` backend, so every cluster is a Spark standalone master, its workers and
a Spark Connect driver on this machine. Every Spark client runs in a subprocess of its own:
pyspark's classic and Connect sessions cannot share a process, and a fresh process makes
both sides pay the same Python imports.

Cases, in this order:

1. ``create → usable``: ``POST /studios/{sid}/clusters`` from the built-in ``analytics``
   template (``UserConcurrency=1``, ``ExecutorsPerUser=2``: one worker of 2 cores, executors
   of 1 core, dynamic allocation from 1 to 2 executors) until ``GET`` of the cluster shows
   ``WAITING`` or ``RUNNING``; then the first query of a first Connect session on it.
2. ``new session → first result``: a fresh process that opens a new Spark Connect session on
   the running cluster and runs ``spark.range(1_000_000).selectExpr("sum(id)").collect()``,
   against a fresh process that starts a cold classic ``local[2]`` session (a new JVM) and
   runs the same query. Both are timed from the spawn of the process to the result, and to
   the end of the process. ``ratio`` = cold local ÷ cluster (the target is ≥ 10x).
3. ``TPC-H-like queries``: a ``lineitem``-like table (``BENCH_CLUSTERS_ROWS`` rows, Parquet
   in the run's temporary directory) queried by Q1 (group by flag and status), Q6
   (filtered revenue) and a top-10 of orders by revenue, once through the cluster (Connect)
   and once through a warm classic ``local[2]`` session. Both sides have 2 cores and 2 GiB
   for tasks: the cluster's worker has 2 cores and runs up to 2 executors of 1 core and
   1 GiB; the local driver gets ``spark.driver.memory=2g``. After one warm-up round,
   the queries are timed in turns (local, then cluster). ``ratio`` = cluster ÷ local (the
   target is ≤ 1.1x).
4. ``managed scaling``: a cluster from a raw spec (1 to 2 workers of 1 core, dynamic
   allocation) runs a query of many sleeping tasks; measured from the start of the query
   until ``GET …/events`` shows ``SCALED_OUT``, until ``workers.running`` is 2, and until
   the driver's REST API (through the control plane's UI proxy) lists a second executor.

Every cluster is terminated (and waited for) at the end, whatever happened.

Knobs (environment): ``BENCH_CLUSTERS_ROWS`` (6,000,000, TPC-H scale factor 1),
``BENCH_CLUSTERS_REPEAT`` (3 fresh processes per side in case 2),
``BENCH_CLUSTERS_QUERY_REPS`` (3 timed rounds in case 3), ``BENCH_CLUSTERS_SCALING``
(1; 0 skips case 4), ``BENCH_CLUSTERS_SLOW_TASKS`` (32), ``BENCH_CLUSTERS_TASK_MS`` (2000).
"""

from __future__ import annotations

import hashlib
import json
import os
import queue
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from common import Row, env_int, guard, machine_busy, skipped, with_baseline

NAME = "clusters"
ROWS = env_int("BENCH_CLUSTERS_ROWS", 6_000_000)
REPEAT = env_int("BENCH_CLUSTERS_REPEAT", 3)
QUERY_REPS = env_int("BENCH_CLUSTERS_QUERY_REPS", 3)
SCALING = env_int("BENCH_CLUSTERS_SCALING", 1)
SLOW_TASKS = env_int("BENCH_CLUSTERS_SLOW_TASKS", 32)
TASK_MS = env_int("BENCH_CLUSTERS_TASK_MS", 2000)
ADMIN_PASSWORD = "bench-" + secrets.token_hex(8)
POLL = 0.2  # seconds between two looks of this benchmark at the API
READY = ("WAITING", "RUNNING")
ENDED = ("TERMINATED", "TERMINATED_WITH_ERRORS")
TARGET_SESSION_RATIO = 10.0
TARGET_QUERY_RATIO = 1.1
TEMPLATE_PARAMETERS = {"UserConcurrency": 1, "ExecutorsPerUser": 2}
SCALING_SPEC = {
    "workers_min": 1,
    "workers_max": 2,
    "worker_cores": 1,
    "worker_memory_mib": 1024,
    "executor_cores": 1,
    "executor_memory_mib": 512,
    "spark_conf": {
        "spark.dynamicAllocation.enabled": "true",
        "spark.dynamicAllocation.shuffleTracking.enabled": "true",
        "spark.dynamicAllocation.minExecutors": "1",
    },
    "idle_timeout_seconds": 600,
}
# The same split size on both sides: the cluster's default parallelism changes with the
# number of executors that dynamic allocation keeps, and with it how files are split.
MAX_PARTITION_BYTES = str(16 * 1024 * 1024)
LOCAL_DRIVER_MEMORY = "2g"  # the cluster's 2 executors have 1 GiB each
SIMPLE_QUERY = 'spark.range(1_000_000).selectExpr("sum(id)").collect()'
SIMPLE_ANSWER = 499_999_500_000

# A lineitem-like table: TPC-H's columns and value ranges, derived from the row number.
LINEITEM = [
    "cast(id div 4 + 1 as bigint) as l_orderkey",
    "cast(id % 4 + 1 as int) as l_linenumber",
    "cast(pmod(hash(id, 1), 50) + 1 as decimal(12,2)) as l_quantity",
    "cast((pmod(hash(id, 1), 50) + 1) * (900 + pmod(hash(id, 2), 100000) / 100.0)"
    " as decimal(12,2)) as l_extendedprice",
    "cast(pmod(hash(id, 3), 11) / 100.0 as decimal(12,2)) as l_discount",
    "cast(pmod(hash(id, 4), 9) / 100.0 as decimal(12,2)) as l_tax",
    "date_add(date'1992-01-02', pmod(hash(id, 6), 2526)) as l_shipdate",
]
LINEITEM_FLAGS = [
    "*",
    "case when l_shipdate > date'1995-06-17' then 'N'"
    " else element_at(array('A', 'R'), pmod(hash(id, 5), 2) + 1) end as l_returnflag",
    "case when l_shipdate > date'1995-06-17' then 'O' else 'F' end as l_linestatus",
]
QUERIES = {
    "Q1 pricing summary": """
        select l_returnflag, l_linestatus,
               sum(l_quantity) as sum_qty,
               sum(l_extendedprice) as sum_base_price,
               sum(l_extendedprice * (1 - l_discount)) as sum_disc_price,
               sum(l_extendedprice * (1 - l_discount) * (1 + l_tax)) as sum_charge,
               avg(l_quantity) as avg_qty,
               avg(l_extendedprice) as avg_price,
               avg(l_discount) as avg_disc,
               count(*) as count_order
        from lineitem
        where l_shipdate <= date_sub(date'1998-12-01', 90)
        group by l_returnflag, l_linestatus
        order by l_returnflag, l_linestatus""",
    "Q6 forecast revenue": """
        select sum(l_extendedprice * l_discount) as revenue
        from lineitem
        where l_shipdate >= date'1994-01-01' and l_shipdate < date'1995-01-01'
          and l_discount between 0.05 and 0.07 and l_quantity < 24""",
    "top-10 orders by revenue": """
        select l_orderkey, sum(l_extendedprice * (1 - l_discount)) as revenue
        from lineitem
        group by l_orderkey
        order by revenue desc, l_orderkey
        limit 10""",
}

# What every Spark client subprocess runs: ``python -c CLIENT <mode> <json arguments>``.
# Only json, sys and time are imported before the clock starts; pyspark after.
CLIENT = """
import json, sys, time
began = time.time()
mode, args = sys.argv[1], json.loads(sys.argv[2])

def say(**fields):
    print("BENCH " + json.dumps(fields), flush=True)

from pyspark.sql import SparkSession
imported = time.time()

def session(url):
    if url:
        return SparkSession.builder.remote(url).create()
    builder = SparkSession.builder.master("local[2]").appName("bench-" + mode)
    for key, value in args.get("conf", {}).items():
        builder = builder.config(key, value)
    return builder.getOrCreate()

spark = session(args.get("url"))
opened = time.time()
if mode == "first":
    rows = spark.range(1_000_000).selectExpr("sum(id)").collect()
    say(began=began, imported=imported, opened=opened, result_at=time.time(), value=rows[0][0])
elif mode == "generate":
    data = spark.range(0, args["rows"], 1, args["files"]).selectExpr(*args["columns"])
    data.selectExpr(*args["flags"]).drop("id").write.mode("overwrite").parquet(args["path"])
    say(seconds=time.time() - opened)
elif mode == "serve":
    for key, value in args.get("sql_conf", {}).items():
        spark.conf.set(key, value)
    spark.read.parquet(args["path"]).createOrReplaceTempView("lineitem")
    say(ready=True)
    for line in sys.stdin:
        name = line.strip()
        if not name or name == "quit":
            break
        started = time.perf_counter()
        rows = spark.sql(args["queries"][name]).collect()
        seconds = time.perf_counter() - started
        say(query=name, seconds=seconds, rows=len(rows), result=repr([tuple(r) for r in rows]))
elif mode == "slow":
    spark.range(1).collect()  # the session is open and an executor answers
    say(start=time.time())
    n, ms = args["tasks"], args["task_ms"]
    spark.range(0, n, 1, n).selectExpr(
        f"reflect('java.lang.Thread', 'sleep', cast({ms} as bigint)) as slept"
    ).collect()
    say(done=time.time())
spark.stop()
"""


# --- the control plane and its clusters -------------------------------------------------


@dataclass
class Studio:
    client: httpx.Client
    studio_id: str
    clusters: list[str] = field(default_factory=list)  # every cluster created, to terminate

    def path(self, cluster_id: str, suffix: str = "") -> str:
        return f"/studios/{self.studio_id}/clusters/{cluster_id}{suffix}"

    def get(self, cluster_id: str, suffix: str = "") -> Any:
        response = self.client.get(self.path(cluster_id, suffix))
        response.raise_for_status()
        return response.json()

    def create(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = self.client.post(f"/studios/{self.studio_id}/{path}", json=body)
        if response.status_code != 201:
            raise RuntimeError(f"POST {path}: {response.status_code} {response.text[:500]}")
        cluster: dict[str, Any] = response.json()
        self.clusters.append(cluster["id"])
        return cluster

    def wait_for(self, cluster_id: str, statuses: tuple[str, ...], timeout: float) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            cluster = self.get(cluster_id)
            if cluster["status"] in statuses:
                return cluster
            if cluster["status"] in ENDED:
                raise RuntimeError(
                    f"cluster {cluster_id} ended: {cluster['status']} {cluster['status_reason']}"
                )
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"cluster {cluster_id} still {cluster['status']} after {timeout} s"
                )
            time.sleep(POLL)

    def connect_url(self, cluster_id: str, user_id: str | None = None) -> str:
        url = str(self.get(cluster_id, "/connection")["url"])
        if user_id is None:
            return url
        base, _, params = url.partition("/;")
        kept = [p for p in params.split(";") if p and not p.startswith("user_id=")]
        return f"{base}/;{';'.join([*kept, f'user_id={user_id}'])}"

    def executors(self, cluster: dict[str, Any]) -> int | None:
        """Active executors, from the driver's REST API through the control plane's UI proxy."""
        ui = str(cluster["ui_path"]).removeprefix("/api/v1")
        with suppress(httpx.HTTPError, ValueError, KeyError, IndexError):
            apps = self.client.get(f"{ui}api/v1/applications", timeout=10).json()
            app = apps[0]["id"]
            found = self.client.get(f"{ui}api/v1/applications/{app}/executors", timeout=10).json()
            return sum(1 for e in found if e["id"] != "driver" and e.get("isActive", True))
        return None

    def terminate(self, cluster_id: str, timeout: float = 180) -> str:
        """DELETE the cluster and wait until it has ended; its final status."""
        cluster = self.get(cluster_id)
        if cluster["status"] not in ENDED:
            response = self.client.delete(self.path(cluster_id))
            if response.status_code != 202:
                raise RuntimeError(f"DELETE {cluster_id}: {response.status_code} {response.text}")
            cluster = self.wait_for(cluster_id, ENDED, timeout)
        return str(cluster["status"])


@contextmanager
def control_plane(home: Path) -> Iterator[Studio]:
    from sparkstudio.server import ControlPlane
    from sparkstudio.settings import Settings

    settings = Settings(home=home, port=0, admin_password=ADMIN_PASSWORD, cluster_poll_seconds=1.0)
    with (
        ControlPlane(settings) as plane,
        httpx.Client(base_url=plane.api_url, timeout=60) as client,
    ):
        login = client.post("/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD})
        login.raise_for_status()
        client.headers["Authorization"] = f"Bearer {login.json()['token']}"
        created = client.post("/studios", json={"name": "bench"})
        created.raise_for_status()
        studio = Studio(client, created.json()["id"])
        shared = client.put(f"/templates/analytics/shares/{studio.studio_id}")
        shared.raise_for_status()
        try:
            yield studio
        finally:
            problems = []
            for cluster_id in studio.clusters:
                try:
                    status = studio.terminate(cluster_id)
                    if status != "TERMINATED":
                        problems.append(f"{cluster_id} ended {status}")
                except Exception as error:
                    problems.append(f"{cluster_id}: {error}")
            if problems:
                print(f"bench_clusters: termination problems: {problems}", file=sys.stderr)


# --- Spark clients in subprocesses ------------------------------------------------------


def _client_command(mode: str, args: dict[str, Any]) -> list[str]:
    return [sys.executable, "-c", CLIENT, mode, json.dumps(args)]


def _client_env() -> dict[str, str]:
    # A Spark Connect setting in the environment would turn the classic session into Connect.
    return {
        k: v
        for k, v in os.environ.items()
        if k != "SPARK_REMOTE" and not k.startswith("SPARK_CONNECT")
    }


def _reports(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(line[6:]) for line in stdout.splitlines() if line.startswith("BENCH ")]


@dataclass
class FirstResult:
    to_result: float  # spawn of the process → first result
    whole: float  # spawn → process exited (session stopped, JVM gone for classic)
    imports: float  # in the child: pyspark import
    session: float  # in the child: session created
    query: float  # in the child: the query


def first_result(url: str | None, conf: dict[str, str] | None = None) -> FirstResult:
    """A fresh process: new session (Connect when ``url``, else cold ``local[2]``) → result."""
    args: dict[str, Any] = {"url": url, "conf": conf or {}}
    spawned, started = time.time(), time.perf_counter()
    done = subprocess.run(
        _client_command("first", args),
        capture_output=True,
        text=True,
        env=_client_env(),
        timeout=600,
        check=False,
    )
    whole = time.perf_counter() - started
    reports = _reports(done.stdout)
    if done.returncode != 0 or not reports:
        raise RuntimeError(f"client exited {done.returncode}: {done.stderr[-2000:]}")
    report = reports[0]
    if report["value"] != SIMPLE_ANSWER:
        raise RuntimeError(f"sum(id) = {report['value']}, expected {SIMPLE_ANSWER}")
    return FirstResult(
        to_result=report["result_at"] - spawned,
        whole=whole,
        imports=report["imported"] - report["began"],
        session=report["opened"] - report["imported"],
        query=report["result_at"] - report["opened"],
    )


class Child:
    """A long-lived client process speaking ``BENCH {json}`` lines on stdout."""

    def __init__(self, mode: str, args: dict[str, Any], log: Path) -> None:
        self.log = log
        self._err = log.open("w")
        self.process = subprocess.Popen(
            _client_command(mode, args),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._err,
            text=True,
            env=_client_env(),
        )
        self.lines: queue.Queue[dict[str, Any] | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            if line.startswith("BENCH "):
                self.lines.put(json.loads(line[6:]))
        self.lines.put(None)

    def next(self, timeout: float) -> dict[str, Any]:
        try:
            report = self.lines.get(timeout=timeout)
        except queue.Empty:
            raise RuntimeError(f"no answer in {timeout} s; see {self.log}") from None
        if report is None:
            tail = self.log.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"client exited {self.process.wait()}: {tail}")
        return report

    def send(self, line: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()

    def close(self) -> None:
        with suppress(OSError, ValueError):
            self.send("quit")
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()  # this benchmark's own child, by its handle
            self.process.wait()
        self._err.close()


# --- the cases --------------------------------------------------------------------------


def _seconds_between(start_epoch: float, iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp() - start_epoch


def _busy_note() -> str:
    return f"machine {machine_busy():.0%} busy just before"


def case_create(studio: Studio) -> tuple[list[Row], str]:
    rows: list[Row] = []
    busy = _busy_note()
    started = time.perf_counter()
    cluster = studio.create(
        "clusters",
        {"name": "bench-analytics", "template": "analytics", "parameters": TEMPLATE_PARAMETERS},
    )
    created = time.perf_counter() - started
    cluster = studio.wait_for(cluster["id"], READY, timeout=900)
    usable = time.perf_counter() - started
    executors = studio.executors(cluster)
    spec = cluster["spec"]
    created_at = datetime.fromisoformat(cluster["created_at"]).timestamp()
    steps = ", ".join(
        f"{e['to_status']} +{_seconds_between(created_at, e['created_at']):.1f} s"
        for e in studio.get(cluster["id"], "/events")["items"]
        if e["to_status"] != e["from_status"]
    )
    shape = (
        f"{cluster['workers']['max']} worker(s) of {spec['worker_cores']} cores, executors of "
        f"{spec['executor_cores']} core / {spec['executor_memory_mib']} MiB, dynamic "
        f"allocation up to {spec['spark_conf'].get('spark.dynamicAllocation.maxExecutors')}"
    )
    rows.append(
        Row(
            NAME,
            "analytics cluster: create → usable",
            "seconds",
            usable,
            "s",
            note=f"POST answered in {created * 1000:.0f} ms; GET every {POLL} s until "
            f"{cluster['status']}; events after the record was made: {steps}; {shape}; "
            f"active executors when usable: {executors}; {busy}",
        )
    )
    url = studio.connect_url(cluster["id"], "bench-first")
    first = first_result(url)
    rows.append(
        Row(
            NAME,
            "analytics cluster: first query on the fresh cluster",
            "to first result",
            first.session + first.query,
            "s",
            note=f"new Connect session {first.session:.2f} s + {SIMPLE_QUERY} "
            f"{first.query:.2f} s, in a fresh process; with the process start and pyspark "
            f"import: {first.to_result:.2f} s",
        )
    )
    return rows, str(cluster["id"])


def case_sessions(studio: Studio, cluster_id: str) -> list[Row]:
    busy = _busy_note()
    cold: list[FirstResult] = []
    connect: list[FirstResult] = []
    for i in range(REPEAT):
        # Alternate which side goes first, so that drifting load hits both alike.
        order: list[Callable[[], None]] = [
            lambda: cold.append(first_result(None)),
            lambda i=i: connect.append(first_result(studio.connect_url(cluster_id, f"b{i}"))),
        ]
        for step in order if i % 2 == 0 else reversed(order):
            step()

    def med(samples: list[FirstResult], attr: str) -> float:
        return statistics.median(getattr(s, attr) for s in samples)

    def parts(samples: list[FirstResult]) -> str:
        return (
            f"medians in the child: import {med(samples, 'imports'):.2f} s, session "
            f"{med(samples, 'session'):.2f} s, query {med(samples, 'query'):.2f} s; samples "
            + ", ".join(f"{s.to_result:.2f}" for s in samples)
        )

    cluster_result, cold_result = med(connect, "to_result"), med(cold, "to_result")
    ratio = cold_result / cluster_result
    met = "met" if ratio >= TARGET_SESSION_RATIO else "MISSED"
    what = f"fresh process → {SIMPLE_QUERY}, median of {REPEAT}"
    return [
        Row(
            NAME,
            "new Connect session on the running cluster (baseline)",
            "to first result",
            cluster_result,
            "s",
            note=f"{what}; {parts(connect)}; {busy}",
        ),
        with_baseline(
            Row(
                NAME,
                "cold classic local[2] session (new JVM)",
                "to first result",
                cold_result,
                "s",
                note=f"{what}; {parts(cold)}; ratio = cold ÷ cluster, "
                f"target ≥ {TARGET_SESSION_RATIO:g}x: {met}",
            ),
            cluster_result,
        ),
        Row(
            NAME,
            "new Connect session on the running cluster (baseline)",
            "whole process",
            med(connect, "whole"),
            "s",
            note="spawn → session stopped and process exited",
        ),
        with_baseline(
            Row(
                NAME,
                "cold classic local[2] session (new JVM)",
                "whole process",
                med(cold, "whole"),
                "s",
                note="spawn → session stopped, JVM and process exited",
            ),
            med(connect, "whole"),
        ),
    ]


def generate(path: Path) -> float:
    args = {
        "url": None,
        "conf": {"spark.driver.memory": LOCAL_DRIVER_MEMORY},
        "rows": ROWS,
        "files": 8,
        "columns": ["id", *LINEITEM],
        "flags": LINEITEM_FLAGS,
        "path": str(path),
    }
    done = subprocess.run(
        _client_command("generate", args),
        capture_output=True,
        text=True,
        env=_client_env(),
        timeout=1800,
        check=False,
    )
    reports = _reports(done.stdout)
    if done.returncode != 0 or not reports:
        raise RuntimeError(f"generating lineitem failed ({done.returncode}): {done.stderr[-2000:]}")
    return float(reports[0]["seconds"])


def case_queries(studio: Studio, cluster_id: str, work: Path) -> list[Row]:
    path = work / "lineitem"
    generated = generate(path)
    size = sum(f.stat().st_size for f in path.glob("*.parquet"))
    common_args = {
        "path": path.as_uri(),
        "queries": QUERIES,
        "sql_conf": {"spark.sql.files.maxPartitionBytes": MAX_PARTITION_BYTES},
    }
    local_args = {**common_args, "conf": {"spark.driver.memory": LOCAL_DRIVER_MEMORY}}
    cluster_args = {**common_args, "url": studio.connect_url(cluster_id, "bench-queries")}
    sides = {
        "local": Child("serve", local_args, work / "serve-local.log"),
        "cluster": Child("serve", cluster_args, work / "serve-cluster.log"),
    }
    times: dict[tuple[str, str], list[float]] = {}
    results: dict[tuple[str, str], str] = {}
    try:
        for child in sides.values():
            child.next(timeout=600)  # ready
        busy = _busy_note()
        executors_before = studio.executors(studio.get(cluster_id))
        for round_ in range(QUERY_REPS + 1):  # round 0 warms up
            for name in QUERIES:
                for side, child in sides.items():
                    child.send(name)
                    report = child.next(timeout=1800)
                    results[side, name] = report["result"]
                    if round_:
                        times.setdefault((side, name), []).append(report["seconds"])
        executors_after = studio.executors(studio.get(cluster_id))
    finally:
        for child in sides.values():
            child.close()
    rows = [
        Row(
            NAME,
            "TPC-H-like: data",
            "rows",
            ROWS,
            "rows",
            note=f"lineitem-like Parquet, {size / 2**20:.0f} MiB in 8 files, written by local[2] "
            f"in {generated:.1f} s; files split at {int(MAX_PARTITION_BYTES) // 2**20} MiB on "
            f"both sides; cluster executors active before/after the timed rounds: "
            f"{executors_before}/{executors_after}; {busy}",
        )
    ]
    totals = {"local": 0.0, "cluster": 0.0}
    for name in QUERIES:
        local, cluster = (statistics.median(times[side, name]) for side in ("local", "cluster"))
        totals["local"] += local
        totals["cluster"] += cluster
        same = results["local", name] == results["cluster", name]
        digest = hashlib.sha256(results["local", name].encode()).hexdigest()[:8]
        check = f"same result on both sides ({digest})" if same else "RESULTS DIFFER"
        samples = ", ".join(f"{t:.2f}" for t in times["cluster", name])
        rows.append(
            Row(
                NAME,
                f"TPC-H-like {name}: local[2], warm (baseline)",
                "median",
                local,
                "s",
                note="samples " + ", ".join(f"{t:.2f}" for t in times["local", name]),
            )
        )
        rows.append(
            with_baseline(
                Row(
                    NAME,
                    f"TPC-H-like {name}: cluster via Connect",
                    "median",
                    cluster,
                    "s",
                    note=f"samples {samples}; {check}; {_target(cluster / local)}",
                ),
                local,
            )
        )
    rows.append(
        Row(NAME, "TPC-H-like all 3: local[2], warm (baseline)", "sum", totals["local"], "s")
    )
    rows.append(
        with_baseline(
            Row(
                NAME,
                "TPC-H-like all 3: cluster via Connect",
                "sum",
                totals["cluster"],
                "s",
                note=f"sum of the medians over {QUERY_REPS} rounds after a warm-up; "
                f"{_target(totals['cluster'] / totals['local'])}",
            ),
            totals["local"],
        )
    )
    return rows


def _target(ratio: float) -> str:
    met = "met" if ratio <= TARGET_QUERY_RATIO else "MISSED"
    return f"ratio = cluster ÷ local, target ≤ {TARGET_QUERY_RATIO:g}x: {met}"


def case_scaling(studio: Studio, work: Path) -> list[Row]:
    cluster = studio.create("clusters/from-spec", {"name": "bench-scaling", "spec": SCALING_SPEC})
    cluster_id = cluster["id"]
    started = time.perf_counter()
    cluster = studio.wait_for(cluster_id, READY, timeout=900)
    usable = time.perf_counter() - started
    args = {
        "url": studio.connect_url(cluster_id, "bench-scaling"),
        "tasks": SLOW_TASKS,
        "task_ms": TASK_MS,
    }
    busy = _busy_note()
    child = Child("slow", args, work / "slow.log")
    seen: dict[str, float] = {}  # what was seen, seconds after the query started
    message = "no SCALED_OUT event"
    done: float | None = None
    try:
        start = float(child.next(timeout=600)["start"])
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            with suppress(queue.Empty):
                report = child.lines.get_nowait()
                if report is None:
                    raise RuntimeError(f"the slow query's client exited; see {child.log}")
                done = float(report["done"]) - start
            now = time.time() - start
            if "event" not in seen:
                events = studio.get(cluster_id, "/events?limit=100")["items"]
                scaled = [e for e in events if e["reason"]["code"] == "SCALED_OUT"]
                if scaled:
                    seen["event"] = _seconds_between(start, scaled[0]["created_at"])
                    seen["event seen"] = now
                    message = scaled[0]["reason"]["message"]
            current = studio.get(cluster_id)
            if "workers" not in seen and current["workers"]["running"] >= 2:
                seen["workers"] = now
            if "executors" not in seen and (studio.executors(current) or 0) >= 2:
                seen["executors"] = now
            if done is not None and (
                {"event", "workers", "executors"} <= seen.keys() or now > done + 30
            ):
                break
            time.sleep(POLL)
        if done is None:
            done = float(child.next(timeout=600)["done"]) - start
    finally:
        child.close()
    serial = SLOW_TASKS * TASK_MS / 1000
    query = f"{SLOW_TASKS} tasks sleeping {TASK_MS} ms each (reflect Thread.sleep)"
    rows = [
        Row(
            NAME,
            "managed scaling: raw spec 1-2 workers x 1 core, create → usable",
            "seconds",
            usable,
            "s",
            note=f"{busy}",
        ),
        _scaling_row(
            "query start → SCALED_OUT event",
            seen.get("event"),
            f"the event's time stamp (seen by polling at +{seen.get('event seen', 0):.1f} s): "
            f"{message}; {query}",
        ),
        _scaling_row(
            "query start → workers.running = 2",
            seen.get("workers"),
            f"GET of the cluster every {POLL} s (or more, with the other look-ups)",
        ),
        _scaling_row(
            "query start → 2nd executor active",
            seen.get("executors"),
            "driver REST API through the UI proxy: the new worker registered and runs an executor",
        ),
        Row(
            NAME,
            "managed scaling: the slow query",
            "seconds",
            done,
            "s",
            note=f"{query}: {serial:.0f} s on 1 core, {serial / 2:.0f} s on 2",
        ),
    ]
    status = studio.terminate(cluster_id)
    if status != "TERMINATED":
        rows.append(Row(NAME, "managed scaling: terminate", "error", None, note=status))
    return rows


def _scaling_row(what: str, value: float | None, note: str) -> Row:
    if value is None:
        return Row(NAME, f"managed scaling: {what}", "error", None, note="not seen; " + note)
    return Row(NAME, f"managed scaling: {what}", "seconds", value, "s", note=note)


# --- the benchmark ----------------------------------------------------------------------


def run() -> list[Row]:
    from sparkstudio.backends.local import LocalBackend

    problem = LocalBackend().check()
    if problem:
        return [skipped(NAME, "all", problem)]
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="sparkstudio-bench-clusters-") as tmp:
        work = Path(tmp)
        with control_plane(work / "home") as studio:
            cluster_id = ""

            def create() -> list[Row]:
                nonlocal cluster_id
                made, cluster_id = case_create(studio)
                return made

            if guard(NAME, "analytics cluster", rows, create):
                guard(NAME, "sessions", rows, lambda: case_sessions(studio, cluster_id))
                guard(NAME, "TPC-H-like", rows, lambda: case_queries(studio, cluster_id, work))
                status = studio.terminate(cluster_id)
                if status != "TERMINATED":
                    rows.append(
                        Row(NAME, "analytics cluster: terminate", "error", None, note=status)
                    )
            if SCALING:
                guard(NAME, "managed scaling", rows, lambda: case_scaling(studio, work))
            else:
                rows.append(skipped(NAME, "managed scaling", "BENCH_CLUSTERS_SCALING=0"))
    return rows
