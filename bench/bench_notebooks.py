"""Notebook executions through the real control plane, on a cluster and on an application,
against papermill with a local Spark session.

The control plane runs in its own process (``sparkstudio up --port 0 --home <tmp>``, as in
``bench_job_runs``, history server off). The admin logs in, creates studio ``bench``,
shares the built-in ``single-node`` template with it and starts one cluster from it
(waited until ``RUNNING`` or ``WAITING`` and until the driver's application id is known),
then creates and starts one application (DRIVER 1 x 1 vCPU / 1 GB, EXECUTOR 1 x 1 vCPU /
1 GB, at most 2 vCPU / 2 GB), waited until ``STARTED`` and until its warm job runners
are ready (they import PySpark while they start, which would skew the first executions).

The notebook (written to a file, run by ``notebook: {"uri": "file://…"}``) has a cell
tagged ``parameters`` (``n = 10``) and a cell that computes
``spark.range(n).selectExpr('sum(id)').collect()[0][0]`` and prints it.

Cases, in this order:

1. ``cluster``: ``BENCH_NOTEBOOKS_RUNS`` executions one after the other with parameters
   ``{"n": 1000}`` on the cluster, the next ``BENCH_NOTEBOOKS_GAP`` seconds after the
   previous ended. For each: ``POST`` → first ``GET`` showing ``FINISHED`` (polled every
   50 ms) on the client's clock; the time of each state change from ``GET …/events``;
   and, from the executed notebook (``output_notebook_uri``), papermill's time stamps:
   when it began (after the runner's imports), when each cell began and ended, when it
   ended (after the kernel was shut down).
2. ``application``: the same on the started application.
3. ``papermill local[1]``: a copy of the notebook whose first cell creates
   ``SparkSession.builder.master("local[1]").getOrCreate()`` (classic PySpark, a new JVM
   each time), run ``BENCH_NOTEBOOKS_BASELINE`` times with
   ``python -m papermill in.ipynb out.ipynb -p n 1000 -k python3``, wall clock of the
   process. ``ratio`` = papermill local ÷ execution p50, one row per target.

At the end the application is stopped (and waited for), the cluster is terminated
(``DELETE``, waited for), the control plane gets SIGTERM, and any process left whose
command line or working directory is under the benchmark's temporary directory is an
``error`` row (and is ended).

Knobs (environment): ``BENCH_NOTEBOOKS_RUNS`` (5), ``BENCH_NOTEBOOKS_BASELINE`` (3),
``BENCH_NOTEBOOKS_GAP`` (1.0 s), ``BENCH_NOTEBOOKS_QUIET_WAIT`` (30 s to wait for a quiet
machine before each case).
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench_clusters import Studio
from bench_job_runs import Plane, _end, _epoch, control_plane, leftovers
from common import (
    Row,
    env_float,
    env_int,
    guard,
    machine_busy,
    percentile,
    settle,
    skipped,
    with_baseline,
)

NAME = "notebooks"
RUNS = env_int("BENCH_NOTEBOOKS_RUNS", 5)
BASELINE = env_int("BENCH_NOTEBOOKS_BASELINE", 3)
GAP = env_float("BENCH_NOTEBOOKS_GAP", 1.0)
QUIET_WAIT = env_int("BENCH_NOTEBOOKS_QUIET_WAIT", 30)
POLL = 0.05  # seconds between two GETs of an execution
N = 1000
ANSWER = str(N * (N - 1) // 2)  # sum(id) over range(1000): 499500
ENDED = {"FINISHED", "FAILED", "STOPPED"}
READY = ("WAITING", "RUNNING")
SIZE = {"cpu": "1 vCPU", "memory": "1 GB"}
APPLICATION = {
    "name": "bench-notebooks",
    "initial_capacity": {
        "DRIVER": {"worker_count": 1, "worker_configuration": SIZE},
        "EXECUTOR": {"worker_count": 1, "worker_configuration": SIZE},
    },
    "maximum_capacity": {"cpu": "2 vCPU", "memory": "2 GB"},
}
PARAMETERS_CELL = "n = 10"
COMPUTE_CELL = "total = spark.range(n).selectExpr('sum(id)').collect()[0][0]\nprint(total)"
LOCAL_SESSION_CELL = (
    "from pyspark.sql import SparkSession\n"
    'spark = SparkSession.builder.master("local[1]").getOrCreate()'
)
PAPERMILL = [sys.executable, "-m", "papermill", "--no-progress-bar"]


def notebook(kernel: str, *cells: tuple[str, list[str]]) -> str:
    import nbformat

    book = nbformat.v4.new_notebook()  # type: ignore[no-untyped-call]
    for source, tags in cells:
        cell = nbformat.v4.new_code_cell(source)  # type: ignore[no-untyped-call]
        cell.metadata["tags"] = tags
        book.cells.append(cell)
    display = {"pyspark": "PySpark", "python3": "Python 3 (ipykernel)"}[kernel]
    book.metadata["kernelspec"] = {"name": kernel, "display_name": display, "language": "python"}
    return str(nbformat.writes(book))  # type: ignore[no-untyped-call]


def _median_ms(values: list[float]) -> str:
    return f"{statistics.median(values) * 1000:,.0f} ms" if values else "-"


def _samples(values: list[float]) -> str:
    return ", ".join(f"{v:.2f}" for v in values)


# --- what an executed notebook says about its own run --------------------------------------


def papermill_marks(path: Path) -> dict[str, float]:
    """Epoch seconds of papermill's marks in an executed notebook: ``papermill began``
    (before the kernel is started), ``kernel ready`` (the first cell began), ``<cell>
    began`` / ``<cell> ended`` per code cell, ``papermill ended`` (after the kernel was
    shut down). Checks that the compute cell printed the answer."""
    book = json.loads(path.read_text())
    meta = book["metadata"].get("papermill", {})
    marks: dict[str, float] = {}
    if meta.get("start_time"):
        marks["papermill began"] = _epoch(meta["start_time"]) or 0.0
    printed = ""
    for cell in book["cells"]:
        if cell["cell_type"] != "code":
            continue
        tags = cell["metadata"].get("tags", [])
        source = "".join(cell["source"])
        if "injected-parameters" in tags:
            label = "injected"
        elif "parameters" in tags:
            label = "parameters"
        elif "selectExpr" in source:
            label = "compute"
            printed = json.dumps(cell.get("outputs", []))
        elif "SparkSession" in source:
            label = "session"
        else:
            label = "other"
        timing = cell["metadata"].get("papermill", {})
        if timing.get("start_time"):
            began = _epoch(timing["start_time"]) or 0.0
            marks.setdefault("kernel ready", began)
            marks[f"{label} began"] = began
        if timing.get("end_time"):
            marks[f"{label} ended"] = _epoch(timing["end_time"]) or 0.0
    if meta.get("end_time"):
        marks["papermill ended"] = _epoch(meta["end_time"]) or 0.0
    if ANSWER not in printed:
        raise RuntimeError(f"{path.name}: the compute cell did not print {ANSWER}: {printed!r}")
    return marks


def _steps(marks: list[dict[str, float]], order: list[tuple[str, str, str]]) -> list[str]:
    """``label median`` for each (from, to, label) step found in the marks."""
    found = []
    for start, end, label in order:
        spans = [m[end] - m[start] for m in marks if start in m and end in m]
        if spans:
            found.append(f"{label} {_median_ms(spans)}")
    return found


# --- the targets --------------------------------------------------------------------------------


@dataclass
class Targets:
    plane: Plane
    studio: Studio
    cluster_id: str = ""

    @property
    def studio_id(self) -> str:
        return self.plane.studio_id


def make_studio(plane: Plane) -> Targets:
    created = plane.client.post("/studios", json={"name": "bench"})
    created.raise_for_status()
    plane.studio_id = created.json()["id"]
    shared = plane.client.put(f"/templates/single-node/shares/{plane.studio_id}")
    shared.raise_for_status()
    return Targets(plane, Studio(plane.client, plane.studio_id))


def start_cluster(targets: Targets) -> list[Row]:
    busy = settle(QUIET_WAIT)
    began = time.monotonic()
    cluster = targets.studio.create(
        "clusters", {"name": "bench-notebooks", "template": "single-node"}
    )
    targets.cluster_id = cluster["id"]
    cluster = targets.studio.wait_for(cluster["id"], READY, timeout=600)
    ready = time.monotonic() - began
    deadline = time.monotonic() + 60
    while not cluster["app_id"] and time.monotonic() < deadline:  # read from the driver's UI
        time.sleep(0.2)
        cluster = targets.studio.get(cluster["id"])
    return [
        Row(
            NAME,
            "cluster (single-node): create → RUNNING/WAITING",
            "seconds",
            ready,
            "s",
            note=f"{cluster['status']}; driver application id after "
            f"{time.monotonic() - began:.1f} s; one worker of 2 cores, executors of 1 core "
            f"/ 1 GiB; machine {busy:.0%} busy before",
        )
    ]


def start_application(targets: Targets) -> list[Row]:
    from bench_job_runs import pool_size
    from sparkstudio.serverless.releases import supported_release_labels

    plane = targets.plane
    body = {**APPLICATION, "release_label": next(iter(supported_release_labels()))}
    made = plane.client.post(f"/studios/{plane.studio_id}/applications", json=body)
    if made.status_code != 201:
        raise RuntimeError(f"create application: {made.status_code} {made.text[:500]}")
    plane.application_id = made.json()["id"]
    plane.wait_application({"CREATED"}, timeout=60)
    busy = settle(QUIET_WAIT)
    began = time.monotonic()
    plane.client.post(f"{plane.app_path}/start").raise_for_status()
    plane.wait_application({"STARTED"}, timeout=600)
    started = time.monotonic() - began
    pool = pool_size()
    waited = plane.wait_pool(pool, timeout=120)
    ready, folders = plane.runners()
    return [
        Row(
            NAME,
            "application: start → STARTED",
            "seconds",
            started,
            "s",
            note=f"then {waited:.1f} s until {ready}/{folders} warm job runners were ready; "
            "DRIVER 1 x 1 vCPU/1 GB, EXECUTOR 1 x 1 vCPU/1 GB, max 2 vCPU/2 GB; the cluster "
            f"was running beside it; machine {busy:.0%} busy before",
        )
    ]


def stop_targets(targets: Targets) -> list[str]:
    """Stop the application and terminate the cluster; what went wrong, if anything."""
    problems = []
    plane = targets.plane
    if plane.application_id:
        try:
            app = plane.application()
            if app["status"] not in ("STOPPED", "CREATED", "TERMINATED"):
                plane.client.post(f"{plane.app_path}/stop").raise_for_status()
                app = plane.wait_application({"STOPPED"}, timeout=180)
            if app["status"] not in ("STOPPED", "CREATED"):
                problems.append(f"application {app['status']}")
        except Exception as error:
            problems.append(f"application: {error}")
    if targets.cluster_id:
        try:
            status = targets.studio.terminate(targets.cluster_id)
            if status != "TERMINATED":
                problems.append(f"cluster {status}")
        except Exception as error:
            problems.append(f"cluster: {error}")
    return problems


# --- cases 1 and 2: executions on a target ---------------------------------------------------


@dataclass
class Execution:
    client: float  # POST → first GET showing FINISHED
    post: float  # the POST's answer
    marks: dict[str, float]  # state or papermill mark → epoch seconds


def one_execution(targets: Targets, uri: str, kind: str, target_id: str, index: int) -> Execution:
    client = targets.plane.client
    base = f"/studios/{targets.studio_id}/notebook-executions"
    body = {
        "name": f"{kind.lower()}-{index}",
        "notebook": {"uri": uri},
        "parameters": {"n": N},
        "target": {"kind": kind, "id": target_id},
    }
    began = time.perf_counter()
    response = client.post(base, json=body)
    posted = time.perf_counter() - began
    if response.status_code != 201:
        raise RuntimeError(f"start: {response.status_code} {response.text[:500]}")
    execution_id = response.json()["id"]
    deadline = time.monotonic() + 300
    while True:
        seen = client.get(f"{base}/{execution_id}")
        now = time.perf_counter() - began
        seen.raise_for_status()
        execution = seen.json()
        if execution["status"] in ENDED:
            break
        if time.monotonic() > deadline:
            raise RuntimeError(f"execution {execution_id} still {execution['status']} after 300 s")
        time.sleep(POLL)
    if execution["status"] != "FINISHED":
        raise RuntimeError(
            f"execution {execution_id} ended {execution['status']}: {execution['status_reason']}"
        )
    events = client.get(f"{base}/{execution_id}/events")
    events.raise_for_status()
    marks: dict[str, float] = {}
    for event in events.json()["items"]:
        at = _epoch(event["created_at"])
        if at is not None:
            marks.setdefault(event["to_status"], at)
    marks["created"] = _epoch(execution["created_at"]) or marks.get("START_PENDING", 0.0)
    marks.update(papermill_marks(Path(execution["output_notebook_uri"].removeprefix("file://"))))
    return Execution(client=now, post=posted, marks=marks)


EXECUTION_STEPS = [
    ("START_PENDING", "STARTING", "START_PENDING→STARTING"),
    ("STARTING", "RUNNING", "STARTING→RUNNING (target checked, notebook fetched, runner spawned)"),
    ("RUNNING", "FINISHING", "RUNNING→FINISHING"),
    ("FINISHING", "FINISHED", "FINISHING→FINISHED (outputs copied)"),
]
RUNNER_STEPS = [
    ("RUNNING", "papermill began", "runner start + imports"),
    ("papermill began", "kernel ready", "PySpark kernel start"),
    ("kernel ready", "compute began", "parameter cells"),
    ("compute began", "compute ended", "compute cell (Connect session opened + query)"),
    ("compute ended", "papermill ended", "kernel shutdown"),
    ("papermill ended", "FINISHING", "HTML + runner exit + noticed"),
]


def case_target(targets: Targets, uri: str, kind: str, target_id: str) -> tuple[list[Row], float]:
    label = "cluster" if kind == "CLUSTER" else "application"
    busy = settle(QUIET_WAIT)
    runs: list[Execution] = []
    for index in range(RUNS):
        time.sleep(GAP)
        runs.append(one_execution(targets, uri, kind, target_id, index))
    busy_after = machine_busy()
    client = [r.client for r in runs]
    server = [r.marks["FINISHED"] - r.marks["created"] for r in runs if "FINISHED" in r.marks]
    marks = [r.marks for r in runs]
    p50 = percentile(client, 50)
    case = f"{label}: submission → FINISHED (client)"
    rows = [
        Row(
            NAME,
            case,
            "p50",
            p50,
            "s",
            note=f"{RUNS} executions of the notebook with n={N}, one at a time, the next "
            f"{GAP:g} s after the previous ended; GET every {POLL * 1000:.0f} ms; samples "
            f"{_samples(client)}; POST answered in {_median_ms([r.post for r in runs])} p50; "
            f"machine {busy:.0%} busy before, {busy_after:.0%} after",
        ),
        Row(NAME, case, "p90", percentile(client, 90), "s"),
        Row(
            NAME,
            f"{label}: created_at → FINISHED event (server)",
            "p50",
            percentile(server, 50),
            "s",
            note="median steps: " + ", ".join(_steps(marks, EXECUTION_STEPS)),
        ),
        Row(
            NAME,
            f"{label}: RUNNING → FINISHING (server + runner)",
            "p50",
            statistics.median(r["FINISHING"] - r["RUNNING"] for r in marks),
            "s",
            note="median steps from papermill's time stamps: "
            + ", ".join(_steps(marks, RUNNER_STEPS)),
        ),
    ]
    return rows, p50


# --- case 3: papermill with a local session ------------------------------------------------------


BASELINE_STEPS = [
    ("spawned", "papermill began", "interpreter + papermill imports"),
    ("papermill began", "kernel ready", "python3 kernel start"),
    ("session began", "session ended", "local[1] session (new JVM)"),
    ("compute began", "compute ended", "compute cell"),
    ("compute ended", "papermill ended", "kernel shutdown"),
    ("papermill ended", "exited", "process exit"),
]


def case_baseline(work: Path, book: Path) -> tuple[list[Row], float]:
    from sparkstudio.spark.home import find_spark_home

    env = {k: v for k, v in find_spark_home().environment().items() if k != "SPARK_REMOTE"}
    busy = settle(QUIET_WAIT)
    samples: list[float] = []
    marks: list[dict[str, float]] = []
    for index in range(BASELINE):
        out = work / f"local-out-{index}.ipynb"
        spawned = time.time()
        began = time.perf_counter()
        done = subprocess.run(
            [*PAPERMILL, str(book), str(out), "-p", "n", str(N), "-k", "python3"],
            capture_output=True,
            text=True,
            env=env,
            cwd=work,
            timeout=600,
            check=False,
        )
        samples.append(time.perf_counter() - began)
        if done.returncode != 0:
            raise RuntimeError(f"papermill failed ({done.returncode}): {done.stderr[-2000:]}")
        found = papermill_marks(out)
        found.update(spawned=spawned, exited=spawned + samples[-1])
        marks.append(found)
    p50 = statistics.median(samples)
    rows = [
        Row(
            NAME,
            "papermill local[1] (new JVM)",
            "p50",
            p50,
            "s",
            note=f"{BASELINE} runs of python -m papermill -p n {N} -k python3, the first cell "
            "creating a classic local[1] session; wall clock of the process; samples "
            f"{_samples(samples)}; median steps: "
            + ", ".join(_steps(marks, BASELINE_STEPS))
            + f"; machine {busy:.0%} busy before",
        )
    ]
    return rows, p50


def ratio_row(local_p50: float, label: str, target_p50: float) -> Row:
    return with_baseline(
        Row(
            NAME,
            f"papermill local[1] ÷ {label}",
            "p50",
            local_p50,
            "s",
            note=f"baseline = {label} submission → FINISHED p50; ratio = papermill local ÷ "
            f"{label} (> 1: the execution is faster)",
        ),
        target_p50,
    )


# --- the benchmark ------------------------------------------------------------------------------


def run() -> list[Row]:
    from sparkstudio.backends.local import LocalBackend

    problem = LocalBackend().check()
    if problem:
        return [skipped(NAME, "all", problem)]
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="sparkstudio-bench-notebooks-") as tmp:
        work = Path(tmp)
        book = work / "sum.ipynb"
        book.write_text(notebook("pyspark", (PARAMETERS_CELL, ["parameters"]), (COMPUTE_CELL, [])))
        local = work / "sum-local.ipynb"
        local.write_text(
            notebook(
                "python3",
                (LOCAL_SESSION_CELL, []),
                (PARAMETERS_CELL, ["parameters"]),
                (COMPUTE_CELL, []),
            )
        )
        p50: dict[str, float] = {}
        problems: list[str] = []
        with control_plane(work / "home") as plane:
            targets = make_studio(plane)
            try:
                cluster_up = guard(NAME, "cluster", rows, lambda: start_cluster(targets))
                app_up = guard(NAME, "application", rows, lambda: start_application(targets))
                cases: list[tuple[bool, str, Callable[[], str]]] = [
                    (cluster_up, "CLUSTER", lambda: targets.cluster_id),
                    (app_up, "APPLICATION", lambda: plane.application_id),
                ]
                for up, kind, target_id in cases:
                    if not up:
                        continue

                    def measure(
                        kind: str = kind, target_id: Callable[[], str] = target_id
                    ) -> list[Row]:
                        made, p50[kind] = case_target(targets, book.as_uri(), kind, target_id())
                        return made

                    guard(NAME, kind.lower(), rows, measure)

                def baseline() -> list[Row]:
                    made, local_p50 = case_baseline(work, local)
                    for kind, label in (("CLUSTER", "cluster"), ("APPLICATION", "application")):
                        if kind in p50:
                            made.append(ratio_row(local_p50, label, p50[kind]))
                    return made

                guard(NAME, "papermill local[1]", rows, baseline)
            finally:
                problems = stop_targets(targets)
        time.sleep(1.0)  # the runners see their parent gone within milliseconds
        found = leftovers(work)
        if problems:
            rows.append(Row(NAME, "clean-up", "error", None, note="; ".join(problems)))
        if found:
            rows.append(
                Row(NAME, "clean-up", "error", None, note="left behind: " + "; ".join(found))
            )
            _end(found)
        elif not problems:
            rows.append(
                Row(
                    NAME,
                    "clean-up",
                    "processes left",
                    0,
                    note="application STOPPED, cluster TERMINATED, control plane ended; no "
                    "process under the bench's directory (JVMs, runners, kernels)",
                )
            )
    return rows
