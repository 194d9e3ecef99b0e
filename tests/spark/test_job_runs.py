"""Job runs on a real application: warm Connect runs, spark-submit runs, failures, retries,
cancel, timeouts, queueing, and auto-start/auto-stop, through the native API.

One application (a driver and one executor worker of 1 vCPU, room for one more worker
for spark-submit runs, one run at a time) serves the whole module; the first submission
starts it (auto-start) and the last test lets it stop itself (auto-stop).
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import textwrap
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from sparkstudio.backends.local import LocalBackend
from sparkstudio.db.base import utcnow
from sparkstudio.db.models import Application, JobRun
from sparkstudio.db.session import Database
from sparkstudio.server import ControlPlane
from sparkstudio.serverless.releases import supported_release_labels
from sparkstudio.spark import processes
from sparkstudio.spark.processes import ProcessRecord
from tests.cli.test_cli import run as run_cli
from tests.cli.test_cluster_cli import _env
from tests.spark.job_scripts import FAILS, SLEEPS
from tests.support import (
    UserClient,
    create_studio,
    expect,
    studio_dir,
    studio_file,
    unique,
    wait_for_application,
)

# Row locks between the API and the controllers: the one real-Spark module on PostgreSQL.
pytestmark = [pytest.mark.spark, pytest.mark.databases("postgresql")]
TINY_WORKER = {"cpu": "1 vCPU", "memory": "1 GB"}
ENDED = {"SUCCESS", "FAILED", "CANCELLED"}
T = TypeVar("T")
STATE_LINE = re.compile(r"^\s*\d+s\s+([A-Z]+)\s")

WORD_COUNT = """
import sys
from pyspark.sql import SparkSession, functions as F

spark = SparkSession.builder.appName("word count").getOrCreate()
lines = spark.read.text(sys.argv[1])
words = lines.select(F.explode(F.split(F.col("value"), r"\\s+")).alias("word"))
counts = words.where(F.col("word") != "").groupBy("word").count().orderBy("word")
for row in counts.collect():
    print(f"{row['word']}={row['count']}")
counts.write.mode("overwrite").json(sys.argv[2])
"""


RDD_JOB = """
import sys
from pyspark.sql import SparkSession
spark = SparkSession.builder.getOrCreate()
total = spark.sparkContext.parallelize(range(int(sys.argv[1])), 2).map(lambda x: x * 2).sum()
print(f"total={total}")
spark.stop()
"""


def eventually(look: Callable[[], T], timeout: float = 30) -> T:
    """What ``look`` gives once it is truthy (logs are kept just after a run ends)."""
    deadline = time.monotonic() + timeout
    while not (seen := look()) and time.monotonic() < deadline:
        time.sleep(0.2)
    return seen


@dataclass(frozen=True)
class Serverless:
    client: UserClient
    database: Database
    studio: dict[str, Any]
    application: dict[str, Any]
    plane: ControlPlane

    @property
    def path(self) -> str:
        return f"/studios/{self.studio['id']}/applications/{self.application['id']}"

    def script(self, name: str, text: str) -> str:
        """A script in the studio's storage, where a member's job may be started from."""
        return str(studio_file(self.plane, self.studio, f"scripts/{name}", textwrap.dedent(text)))

    def folder(self, name: str) -> Path:
        """A folder of the studio's storage for a job's input and output."""
        return studio_dir(self.plane, self.studio, "data", unique(name))

    def submit(self, entry_point: str, *args: str, **fields: Any) -> dict[str, Any]:
        body = {
            "job_driver": {
                "spark_submit": {"entry_point": entry_point, "entry_point_arguments": list(args)}
            },
            **fields,
        }
        run: dict[str, Any] = expect(self.client.post(f"{self.path}/job-runs", json=body), 201)
        return run

    def run_path(self, run: dict[str, Any]) -> str:
        return f"{self.path}/job-runs/{run['id']}"

    def wait(self, run: dict[str, Any], statuses: set[str], timeout: float = 240) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            seen: dict[str, Any] = expect(self.client.get(self.run_path(run)), 200)
            if seen["status"] in statuses:
                return seen
            assert seen["status"] not in ENDED - statuses, (seen["status"], seen["status_reason"])
            assert time.monotonic() < deadline, f"still {seen['status']}: {seen}"
            time.sleep(0.1)

    def log(self, run: dict[str, Any], stream: str = "stdout", attempt: int | None = None) -> str:
        params: dict[str, Any] = {"stream": stream}
        if attempt is not None:
            params["attempt"] = attempt
        response = self.client.get(f"{self.run_path(run)}/logs", params=params)
        assert response.status_code == 200, response.text
        return response.text

    def row(self, run: dict[str, Any]) -> JobRun:
        with self.database.session(write=False) as db:
            row = db.get(JobRun, run["id"])
            assert row is not None
            db.expunge(row)
            return row

    def runner(self, run: dict[str, Any]) -> ProcessRecord:
        with self.database.session(write=False) as db:
            row = db.get(JobRun, run["id"])
            assert row is not None and row.state is not None
            return ProcessRecord.from_json(row.state["runner"])


@pytest.fixture(scope="module")
def serverless(admin: UserClient, database: Database, control_plane: ControlPlane) -> Serverless:
    if database.is_sqlite:
        # One metadata database is enough for these; the EMR Serverless wire tests
        # (test_aws_job_runs.py) run their jobs on SQLite.
        pytest.skip("run on PostgreSQL (row locks between the API and the controllers)")
    studio = create_studio(admin)
    body = {
        "name": unique("jobs"),
        "release_label": next(iter(supported_release_labels())),
        "initial_capacity": {
            "DRIVER": {"worker_count": 1, "worker_configuration": TINY_WORKER},
            "EXECUTOR": {"worker_count": 1, "worker_configuration": TINY_WORKER},
        },
        # The driver, the warm executor worker and one more for a spark-submit run.
        "maximum_capacity": {"cpu": "3 vCPU", "memory": "3 GB"},
        "scheduler_configuration": {"max_concurrent_runs": 1, "queue_timeout_minutes": 15},
    }
    created = expect(admin.post(f"/studios/{studio['id']}/applications", json=body), 201)
    wait_for_application(admin, studio["id"], created["id"], {"CREATED"})
    return Serverless(admin, database, studio, created, control_plane)


def test_a_dataframe_job_starts_the_application_and_runs_on_its_warm_driver(
    serverless: Serverless,
) -> None:
    folder = serverless.folder("words")
    data = folder / "words.txt"
    data.write_text("to be or not to be\nthat is the question\n")
    output = folder / "counts"
    script = serverless.script("word_count.py", WORD_COUNT)
    run = serverless.submit(
        f"file://{script}", str(data), str(output), name="word count", tags={"team": "search"}
    )
    assert run["status"] == "SUBMITTED"
    app = expect(serverless.client.get(serverless.path), 200)
    assert app["target"] == "STARTED"  # auto-start

    ended = serverless.wait(run, {"SUCCESS"})
    assert ended["runtime"] == "CONNECT", ended
    assert ended["attempt"] == 1 and ended["running_seconds"] > 0
    stdout = serverless.log(run)
    assert "be=2" in stdout and "to=2" in stdout and "question=1" in stdout
    assert list(output.glob("part-*.json")), "the job wrote its output"
    # Kept in the log location (the studio's storage by default) once it ended.
    kept = Path(ended["log_uri"].removeprefix("file://")) / "applications"
    assert eventually(lambda: list(kept.rglob(f"{run['id']}/attempts/1/SPARK_DRIVER/stdout")))
    # Metered from what it held while it ran: one driver and the one executor worker
    # (1 vCPU, 1 GB each), billed for at least a minute each.
    used, billed = ended["total_resource_utilization"], ended["billed_resource_utilization"]
    assert used["vcpu_hours"] == pytest.approx(2 * ended["running_seconds"] / 3600, rel=0.01)
    billed_seconds = 2 * max(ended["running_seconds"], 60)
    assert billed["vcpu_hours"] == pytest.approx(billed_seconds / 3600, abs=1e-5)
    assert billed["memory_gb_hours"] == pytest.approx(billed_seconds / 3600, abs=1e-5)
    studio_path = f"/studios/{serverless.studio['id']}/applications/usage"
    report = expect(serverless.client.get(studio_path, params={"group_by": "tag:team"}), 200)
    search = next(row for row in report["rows"] if row["key"] == "search")
    assert search["job_runs"] == 1
    assert search["billed_resource_utilization"] == billed
    assert search["execution_seconds"] == pytest.approx(ended["running_seconds"], abs=0.01)
    events = expect(serverless.client.get(f"{serverless.run_path(run)}/events"), 200)["items"]
    statuses = [e["to_status"] for e in events]
    assert statuses[:1] == ["SUBMITTED"] and statuses[-1] == "SUCCESS"
    assert {"PENDING", "SCHEDULED", "RUNNING"} <= set(statuses)


def test_a_failing_job_shows_its_error_and_retries_as_its_policy_allows(
    serverless: Serverless,
) -> None:
    script = serverless.script("fails.py", FAILS)
    run = serverless.submit(script, retry_policy={"max_attempts": 2})
    ended = serverless.wait(run, {"FAILED"})
    assert ended["status_reason"]["code"] == "JOB_FAILED"
    assert "ValueError: the input has no header row" in ended["status_reason"]["message"]
    assert ended["attempt"] == 2
    attempts = expect(serverless.client.get(f"{serverless.run_path(run)}/attempts"), 200)["items"]
    assert [(a["attempt"], a["status"]) for a in attempts] == [(1, "FAILED"), (2, "FAILED")]
    assert "the input has no header row" in serverless.log(run, "stderr", attempt=1)


def test_a_classic_job_runs_with_spark_submit_on_the_applications_workers(
    serverless: Serverless,
) -> None:
    script = serverless.script("rdd_job.py", RDD_JOB)
    run = serverless.submit(script, "1000")
    ended = serverless.wait(run, {"SUCCESS"}, timeout=300)
    assert ended["runtime"] == "CLASSIC" and "sparkContext" in ended["runtime_reason"]
    assert "total=999000" in serverless.log(run)
    # Its own Spark application: its event log is kept with its logs, and its
    # dashboard is its page on the history server.
    spark_app_id = eventually(lambda: serverless.row(run).spark_app_id)  # recorded as it ends
    assert spark_app_id.startswith("app-"), "read from spark-submit's log"
    kept = Path(ended["log_uri"].removeprefix("file://")) / "applications"
    assert eventually(lambda: list(kept.rglob(f"attempts/1/sparklogs/*{spark_app_id}*")))
    dashboard = expect(serverless.client.get(f"{serverless.run_path(run)}/dashboard"), 200)
    # A presigned address of the control plane: it leads to that page (no sign-in needed).
    page = httpx.get(dashboard["url"], follow_redirects=True, timeout=60)
    assert page.status_code == 200, page.text
    assert page.url.path.endswith(f"/history/{spark_app_id}/jobs/"), page.url


def test_a_run_whose_warm_runner_ends_before_taking_it_is_placed_again(
    serverless: Serverless,
) -> None:
    """The pool's runners are held still (alive, as the pool sees them) while a run is
    handed to one, which is then killed before it could read its job: the job never
    ran, so the run is placed on another runner (same attempt) and succeeds."""
    warm = serverless.submit(serverless.script("quick.py", "print('quick')\n"))
    serverless.wait(warm, {"SUCCESS"})  # the application runs and its pool is warm
    pool, app_id = serverless.plane.applications.pool, serverless.application["id"]
    deadline = time.monotonic() + 60
    while not any(r.ready() for r in pool.idle_runners(app_id)):
        assert time.monotonic() < deadline, "no warm runner became ready"
        time.sleep(0.1)
    held = pool.idle_runners(app_id)
    for runner in held:
        os.kill(runner.record.pid, signal.SIGSTOP)  # bwrap: its child keeps running...
        for member in processes.group_members(runner.record):
            os.kill(member, signal.SIGSTOP)  # ...unless the whole group is held
    try:
        run = serverless.submit(serverless.script("lost.py", "print('placed again')\n"))
        deadline = time.monotonic() + 60
        while serverless.row(run).status not in ("SCHEDULED", "RUNNING"):
            assert time.monotonic() < deadline, serverless.row(run).status
            time.sleep(0.05)
        taken = Path(serverless.row(run).state["runner_folder"])
        assert taken in {r.folder for r in held}
    finally:
        for runner in held:
            if runner.folder == taken:
                processes.stop(runner.record, grace=0.0)  # it never read its job
            for member in [runner.record.pid, *processes.group_members(runner.record)]:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(member, signal.SIGCONT)
    done = serverless.wait(run, {"SUCCESS"})
    assert done["attempt"] == 1, done
    assert "placed again" in serverless.log(run)
    history = expect(serverless.client.get(f"{serverless.run_path(run)}/attempts"), 200)
    assert [a["status"] for a in history["items"]] == ["SUCCESS"], history


def test_cancel_ends_a_running_job_and_its_process(serverless: Serverless) -> None:
    run = serverless.submit(serverless.script("sleeps.py", SLEEPS))
    serverless.wait(run, {"RUNNING"})
    deadline = time.monotonic() + 60
    while "sleeping" not in serverless.log(run) and time.monotonic() < deadline:
        time.sleep(0.2)
    runner = serverless.runner(run)
    assert processes.is_alive(runner)
    # A running Connect run's dashboard is the live UI of the driver it runs on, through
    # a presigned address of the control plane (the driver's UI is not reachable else).
    dashboard = expect(serverless.client.get(f"{serverless.run_path(run)}/dashboard"), 200)
    assert dashboard["url"].startswith(str(serverless.client.base_url.join("/dashboards/")))
    environment = httpx.get(f"{dashboard['url']}environment/", timeout=60)
    assert environment.status_code == 200, environment.text
    # The application's own driver (its Spark application is named after it), a Connect server.
    assert f"sparkstudio {serverless.application['id']}" in environment.text
    assert "spark.connect.grpc.binding.port" in environment.text
    expect(serverless.client.post(f"{serverless.run_path(run)}/cancel"), 202)
    ended = serverless.wait(run, {"CANCELLED"}, timeout=60)
    assert ended["status_reason"]["code"] == "USER_REQUEST"
    assert not processes.is_alive(runner)
    again = serverless.client.post(f"{serverless.run_path(run)}/cancel")
    assert again.status_code == 409 and "CANCELLED" in again.text


def test_runs_queue_beyond_the_concurrency_limit_and_time_out(serverless: Serverless) -> None:
    """One run at a time: the second waits QUEUED, then runs; a run past its execution
    timeout is cancelled with the reason; a queued one past the queue timeout fails."""
    first = serverless.submit(serverless.script("sleeps.py", SLEEPS))
    serverless.wait(first, {"RUNNING"})
    second = serverless.submit(serverless.script("quick.py", "print('quick')\n"))
    third = serverless.submit(serverless.script("quick.py", "print('quick')\n"))
    assert serverless.wait(second, {"QUEUED"})["status_reason"]["code"] == "CONCURRENCY_LIMIT"
    serverless.wait(third, {"QUEUED"})
    with serverless.database.transaction() as db:  # the third has waited for too long
        row = db.get(JobRun, third["id"])
        assert row is not None
        row.created_at = utcnow() - timedelta(minutes=16)
    failed = serverless.wait(third, {"FAILED"}, timeout=30)
    assert failed["status_reason"]["code"] == "QUEUE_TIMEOUT"
    with serverless.database.transaction() as db:  # the first has run past its timeout
        row = db.get(JobRun, first["id"])
        assert row is not None and row.started_at is not None
        row.started_at = utcnow() - timedelta(minutes=721)
    timed_out = serverless.wait(first, {"CANCELLED"}, timeout=60)
    assert timed_out["status_reason"]["code"] == "EXECUTION_TIMEOUT"
    done = serverless.wait(second, {"SUCCESS"})
    assert done["queued_seconds"] > 0
    assert "quick" in serverless.log(second)


def test_job_submit_wait_shows_the_states_then_the_log_tail(
    serverless: Serverless, control_plane: ControlPlane, tmp_path: Path
) -> None:
    """As a user runs it: `sparkstudio job submit … --wait` on the real application."""
    env = _env(control_plane, serverless.client.token, tmp_path / "cli.json")
    studio, app = serverless.studio["name"], serverless.application["name"]
    script = serverless.script("hello.py", "import sys\nprint('hello', sys.argv[1])\n")
    done = run_cli(["job", "submit", app, script, "world", "--studio", studio, "--wait"], env)
    lines = done.stdout.splitlines()
    # One line per state change ("  0s  RUNNING  why"), then the end of its stdout.
    states = [(i, m[1]) for i, line in enumerate(lines) if (m := STATE_LINE.match(line))]
    order = [state for _, state in states]
    assert order[0] == "SUBMITTED" and order.index("RUNNING") < order.index("SUCCESS")
    assert "hello world" in lines[states[-1][0] :]
    failing = serverless.script("boom.py", "raise SystemExit('boom: no input')\n")
    failed = run_cli(
        ["job", "submit", app, failing, "--studio", studio, "--wait"], env, check=False
    )
    assert failed.returncode == 1
    assert "FAILED" in failed.stdout and "boom: no input" in failed.stdout + failed.stderr


def test_the_same_client_token_gives_the_same_run(serverless: Serverless) -> None:
    script = serverless.script("quick.py", "print('quick')\n")
    body = {"job_driver": {"spark_submit": {"entry_point": script}}}
    path = f"{serverless.path}/job-runs"
    first = expect(serverless.client.post(path, json=body, params={"client_token": "t-1"}), 201)
    again = expect(serverless.client.post(path, json=body, params={"client_token": "t-1"}), 201)
    assert again["id"] == first["id"]
    other = {"job_driver": {"spark_submit": {"entry_point": script + ".other"}}}
    conflict = serverless.client.post(path, json=other, params={"client_token": "t-1"})
    assert conflict.status_code == 409
    serverless.wait(first, {"SUCCESS"})


def test_an_idle_application_stops_itself_and_leaves_no_process(serverless: Serverless) -> None:
    """Last in the module: auto-stop after the idle timeout ends the driver, the workers and
    the warm runners."""
    with serverless.database.session(write=False) as db:
        app = db.get(Application, serverless.application["id"])
        assert app is not None and app.state is not None
        state = dict(app.state)
    # Warm runners live in the platform's folder of the application's runners.
    pool = serverless.plane.settings.home / "job-runners" / serverless.application["id"]
    runners = list(pool.glob("*"))
    # The warm runners' warm-up queries are Spark jobs: let the controller see the last
    # of them before the application is made to look idle.
    deadline = time.monotonic() + 60
    while not all((r / "ready").exists() for r in runners) and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(2)  # a few of the controller's looks (every 0.5 s here)
    with serverless.database.transaction() as db:
        app = db.get(Application, serverless.application["id"])
        assert app is not None
        app.last_activity_at = utcnow() - timedelta(minutes=16)
    stopped = wait_for_application(
        serverless.client, serverless.studio["id"], serverless.application["id"], {"STOPPED"}, 120
    )
    assert stopped["status_reason"]["code"] == "IDLE_TIMEOUT"
    assert not [r for r in LocalBackend.processes(state) if processes.is_alive(r)]
    assert runners, "the application kept warm runners"
    assert not list(pool.glob("*"))
