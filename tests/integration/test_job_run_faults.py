"""Job runs under faults, without Spark: an entry point whose store cannot be read, and
a run that ends while the control plane is down.

Each test drives a job run controller of its own on the shared control plane's
database (that control plane is never woken for these runs), so that it can look at a
run exactly when a fault calls for it.
"""

from __future__ import annotations

import logging
import os
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from sparkstudio import runners
from sparkstudio.db.base import utcnow
from sparkstudio.db.models import Application, Event, JobRun, JobRunAttempt, Studio
from sparkstudio.db.session import Database
from sparkstudio.runners import ExitWatcher
from sparkstudio.server import ControlPlane
from sparkstudio.serverless import job_logs
from sparkstudio.serverless.capacity import Size
from sparkstudio.serverless.jobs import JobRunController
from sparkstudio.serverless.metering import Held
from sparkstudio.serverless.warm_pool import WarmPool, launch_runner
from sparkstudio.settings import Settings
from sparkstudio.storage import stores
from sparkstudio.storage.stores import StoreRetries
from tests.integration.test_job_runs_api import create_application, insert_job_run, run_body
from tests.support import BOTH_DATABASES, UserClient

pytestmark = BOTH_DATABASES  # it exercises the database layer: on both


def controller(
    plane: ControlPlane, settings: Settings, database: Database, tmp_path: Path, **options: Any
) -> JobRunController:
    """A job-run controller beside the control plane's, in its places (whose OS accounts
    and namespaces it removes at its end)."""
    return JobRunController(
        settings,
        database,
        WarmPool(tmp_path / "pool", 0, tmp_path / "logs"),
        ExitWatcher(lambda _: None),
        lambda _: None,
        plane.isolation,
        **options,
    )


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def look_until_it_rests(jobs: JobRunController, job_run_id: str) -> list[float]:
    """Look at the run as the reconciler would, at once each time; the delays asked for."""
    delays: list[float] = []
    while (delay := jobs.handle(job_run_id)) is not None:
        delays.append(delay)
        assert len(delays) < 20, f"still asks to be looked at again: {delays}"
    return delays


def run_row(database: Database, job_run_id: str) -> JobRun:
    with database.session(write=False) as db:
        row = db.get(JobRun, job_run_id)
        assert row is not None
        db.expunge(row)
        return row


def event_reasons(database: Database, job_run_id: str) -> list[tuple[str, str]]:
    with database.session(write=False) as db:
        events = db.scalars(
            select(Event).where(Event.resource_id == job_run_id).order_by(Event.id)
        ).all()
        return [(e.reason_code, e.reason_message) for e in events]


@pytest.fixture
def application(admin: UserClient, lake_studio: dict[str, Any]) -> dict[str, Any]:
    return create_application(admin, lake_studio["id"])


@pytest.fixture
def one_try_per_request(monkeypatch: pytest.MonkeyPatch) -> None:
    """A store that does not answer says so at once (no botocore retries between)."""
    monkeypatch.setattr(stores, "S3_RETRIES", {"max_attempts": 1, "mode": "standard"})


# --- an entry point that cannot be read ---------------------------------------------------


def test_an_entry_point_on_a_store_that_does_not_answer_fails_the_run_after_a_few_tries(
    control_plane: ControlPlane,
    lake: str,
    lake_studio: dict[str, Any],
    database: Database,
    application: dict[str, Any],
    tmp_path: Path,
    one_try_per_request: None,
    caplog: pytest.LogCaptureFixture,
) -> None:
    unreachable = f"http://127.0.0.1:{closed_port()}"
    settings = control_plane.settings.model_copy(update={"s3_endpoint_url": unreachable})
    entry_point = f"{lake}/daily.py"
    body = run_body(lake_studio, job_driver={"spark_submit": {"entry_point": entry_point}})
    job_run_id = insert_job_run(database, settings, application["id"], body=body)
    jobs = controller(
        control_plane, settings, database, tmp_path, store_retries=StoreRetries(3, 2.0)
    )

    with caplog.at_level(logging.INFO, logger="sparkstudio"):
        delays = look_until_it_rests(jobs, job_run_id)

    assert delays == [2.0, 4.0]  # tried three times in all, waiting longer each time
    run = run_row(database, job_run_id)
    assert (run.status, run.status_reason_code) == ("FAILED", "ENTRY_POINT_UNREACHABLE")
    assert entry_point in run.status_reason_message
    assert "does not answer" in run.status_reason_message and "3 tries" in run.status_reason_message
    notes = [
        m for code, m in event_reasons(database, job_run_id) if code == "ENTRY_POINT_UNREACHABLE"
    ]
    assert [("try 1 of 3" in m, "try 2 of 3" in m) for m in notes[:2]] == [
        (True, False),
        (False, True),
    ]
    # One line per try, no traceback.
    ours = [r for r in caplog.records if r.name.startswith("sparkstudio")]
    assert all(record.exc_info is None for record in ours), caplog.text
    assert len([r for r in caplog.records if job_run_id in r.getMessage()]) <= 3


def test_an_entry_point_without_credentials_fails_the_run_at_once(
    control_plane: ControlPlane,
    lake: str,
    lake_studio: dict[str, Any],
    database: Database,
    application: dict[str, Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    # A new filesystem and client: not one that found credentials earlier in the session.
    settings = control_plane.settings.model_copy(
        update={"s3_endpoint_url": f"http://127.0.0.1:{closed_port()}"}
    )
    entry_point = f"{lake}/daily.py"
    body = run_body(lake_studio, job_driver={"spark_submit": {"entry_point": entry_point}})
    job_run_id = insert_job_run(database, settings, application["id"], body=body)

    assert (
        look_until_it_rests(controller(control_plane, settings, database, tmp_path), job_run_id)
        == []
    )
    run = run_row(database, job_run_id)
    assert (run.status, run.status_reason_code) == ("FAILED", "ENTRY_POINT_UNREADABLE")
    assert "no credentials" in run.status_reason_message


# --- a run that ends while the control plane is down --------------------------------------


@pytest.fixture
def started_application(database: Database, application: dict[str, Any]) -> Iterator[str]:
    """The application as if started (its controller is not woken: nothing starts)."""
    with database.transaction() as db:
        row = db.get(Application, application["id"])
        assert row is not None
        row.target = "STARTED"
    yield application["id"]
    with database.transaction() as db:
        row = db.get(Application, application["id"])
        assert row is not None
        row.target = "STOPPED"


def place_runner(plane: ControlPlane, database: Database, job_run_id: str, code: str) -> Path:
    """Start a spark-submit runner whose "spark-submit" runs ``code`` in Python, where and
    as placing it does (in the attempt's folder, in the studio's place), and write the run
    RUNNING on it; the runner's folder."""
    run = run_row(database, job_run_id)
    with database.session(write=False) as db:
        application = db.get(Application, run.application_id)
        assert application is not None
        studio = db.get(Studio, application.studio_id)
        assert studio is not None
        place = plane.isolation.studio_place(studio.id)
        # Made as starting the application makes it: the run's logs are kept there.
        plane.isolation.studio_storage(studio.id, studio.storage_location)
    logs = job_logs.attempt_dir(plane.settings, run, 1)
    place.own(logs)
    folder = logs / "runner"
    place.own(folder)
    job = {
        "argv": [sys.executable, "-c", code],
        "env": {"PATH": os.environ["PATH"]},
        "stdout": str(logs / "stdout"),
        "stderr": str(logs / "stderr"),
    }
    runners.write_json(folder / runners.JOB_FILE, job)
    place.give(folder / runners.JOB_FILE)
    placed = utcnow()
    log = plane.settings.home / "logs" / "job-runs" / f"{job_run_id}-1.log"
    runner = launch_runner(place, folder, "classic", {}, log, writable=[logs])
    held = Held(Size(cpu=1, memory_mib=1024, disk_gb=20), 1.0)
    with database.transaction() as db:
        row = db.get(JobRun, job_run_id)
        attempt = db.get(JobRunAttempt, (job_run_id, 1))
        assert row is not None and attempt is not None
        row.status = attempt.status = "RUNNING"
        row.runtime = "CLASSIC"
        row.started_at = attempt.started_at = placed
        row.state = {
            "runner_folder": str(folder),
            "runner": runner.record.to_json(),
            "held": [held.to_json()],
        }
    return folder


def test_a_run_that_ends_while_the_control_plane_is_down_is_metered_from_its_runner(
    control_plane: ControlPlane,
    database: Database,
    started_application: str,
    tmp_path: Path,
) -> None:
    settings = control_plane.settings
    job_run_id = insert_job_run(database, settings, started_application)
    code = "import time; time.sleep(0.5)"
    folder = place_runner(control_plane, database, job_run_id, code)

    # The control plane is down: the run ends, and nobody looks for two seconds more.
    deadline = time.monotonic() + 30
    while not (folder / runners.EXIT_FILE).exists():
        assert time.monotonic() < deadline, "the runner never ended"
        time.sleep(0.05)
    time.sleep(2.0)
    back = utcnow()
    look_until_it_rests(controller(control_plane, settings, database, tmp_path), job_run_id)

    ended = run_row(database, job_run_id)
    assert ended.status == "SUCCESS"
    assert 0.4 < ended.running_seconds < 1.5, ended.running_seconds  # not 2.5 s and more
    assert ended.vcpu_seconds == pytest.approx(ended.running_seconds)
    assert ended.billed_vcpu_seconds == pytest.approx(60.0)  # the one-minute minimum
    assert ended.ended_at is not None and (back - ended.ended_at).total_seconds() > 1.5
    with database.session(write=False) as db:
        attempt = db.get(JobRunAttempt, (job_run_id, 1))
        assert attempt is not None and attempt.started_at and attempt.ended_at
        assert attempt.ended_at == ended.ended_at
        ran = (attempt.ended_at - attempt.started_at).total_seconds()
        assert ran == pytest.approx(ended.running_seconds, abs=0.01)


# --- a run that floods its stdout -------------------------------------------------------

FLOOD = """
import sys, time
line = b"x" * 99 + b"\\n"
for second in range(4):  # 48 MB over about two seconds
    for _ in range(12):
        sys.stdout.buffer.write(line * 10_000)
    sys.stdout.flush()
    time.sleep(0.5)
sys.stdout.buffer.write(b"the last line\\n")
"""


def test_a_flooding_run_keeps_the_tail_of_its_log_and_the_api_answers_meanwhile(
    control_plane: ControlPlane,
    admin: UserClient,
    database: Database,
    started_application: str,
    application: dict[str, Any],
    tmp_path: Path,
) -> None:
    settings = control_plane.settings
    job_run_id = insert_job_run(database, settings, started_application)
    path = (
        f"/studios/{application['studio_id']}/applications/{application['id']}"
        f"/job-runs/{job_run_id}"
    )

    def latency() -> float:
        started = time.perf_counter()
        response = admin.get(path)
        assert response.status_code == 200, response.text
        return time.perf_counter() - started

    baseline = sorted(latency() for _ in range(30))
    place_runner(control_plane, database, job_run_id, FLOOD)
    control_plane.applications.wake_job(job_run_id)  # the control plane follows it
    during: list[float] = []
    deadline = time.monotonic() + 60
    while run_row(database, job_run_id).status == "RUNNING":
        assert time.monotonic() < deadline, "the flooding run never ended"
        during.append(latency())
    during += [latency() for _ in range(10)]  # while its log is kept
    during.sort()
    print(
        f"API latency p50 {baseline[15] * 1000:.1f} ms before, "
        f"{during[len(during) // 2] * 1000:.1f} ms while flooding "
        f"(max {during[-1] * 1000:.0f} ms, {len(during)} requests)"
    )
    assert during[-1] < 5.0  # every request answered within seconds

    ended = run_row(database, job_run_id)
    assert ended.status == "SUCCESS", ended.status_reason_message
    kept = Path(ended.log_uri.removeprefix("file://")) / "applications" / application["id"]
    pattern = f"{job_run_id}/attempts/1/SPARK_DRIVER/stdout"
    deadline = time.monotonic() + 30
    while not (found := list(kept.rglob(pattern))):  # kept just after the run ends
        assert time.monotonic() < deadline, f"no {pattern} under {kept}"
        time.sleep(0.1)
    [stdout] = found
    with stdout.open("rb") as file:
        note = file.readline()
    assert b"bytes of this log were dropped" in note
    assert stdout.stat().st_size <= settings.job_log_max_bytes + len(note)
    assert stdout.read_bytes().endswith(b"the last line\n")
