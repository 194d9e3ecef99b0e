"""Notebook schedules through the API and the CLI, and the scheduler on a test clock.

The scheduler tests run their own control plane whose clock the test moves on, with its
cluster reconciler stopped: a registered cluster stays STARTING, so the runs a schedule
starts wait for it (in progress) and nothing runs Spark. Restarts are real: the control
plane is stopped and another one started on the same home and database.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from sparkstudio.db.models import NotebookExecution, NotebookSchedule
from sparkstudio.db.session import Database
from sparkstudio.notebooks.scheduler import ScheduleController
from sparkstudio.server import ControlPlane
from sparkstudio.settings import Settings
from tests.cli.test_cli import run as run_cli
from tests.cli.test_cluster_cli import Env, _env, _fails, _json
from tests.integration.test_clusters_api import register_external
from tests.integration.test_job_runs_api import create_application
from tests.support import (
    ADMIN_NAME,
    ADMIN_PASSWORD,
    BOTH_DATABASES,
    UserClient,
    add_member,
    create_studio,
    expect,
    expect_error,
    field_names,
    in_storage,
    login,
    plane_settings,
    throwaway_postgres_database,
    unique,
)

pytestmark = BOTH_DATABASES  # it exercises the database layer: on both

NOTEBOOK = "reports/daily.ipynb"  # in the studio's storage: where its members name sources
NEW_YEAR = "0 0 1 1 *"  # due once a year: never during a test on the real clock


def schedules_path(studio_id: str) -> str:
    return f"/studios/{studio_id}/notebook-schedules"


def schedule_body(
    studio: dict[str, Any], target_id: str, kind: str = "CLUSTER", **fields: Any
) -> dict[str, Any]:
    return {
        "name": unique("sched"),
        "cron": NEW_YEAR,
        "notebook": {"uri": in_storage(studio, NOTEBOOK)},
        "parameters": {"day": "monday"},
        "target": {"kind": kind, "id": target_id},
        **fields,
    }


def event_codes(client: UserClient, studio_id: str, schedule_id: str) -> list[str]:
    page = expect(client.get(f"{schedules_path(studio_id)}/{schedule_id}/events"), 200)
    return [event["reason"]["code"] for event in page["items"]]


def event_messages(client: UserClient, studio_id: str, schedule_id: str, code: str) -> list[str]:
    page = expect(client.get(f"{schedules_path(studio_id)}/{schedule_id}/events"), 200)
    return [e["reason"]["message"] for e in page["items"] if e["reason"]["code"] == code]


# --- the API on the shared control plane (the real clock) -------------------------------


@pytest.fixture
def cluster(admin: UserClient, control_plane: ControlPlane, studio: dict[str, Any]) -> str:
    cluster_id: str = register_external(admin, control_plane, studio["id"])["id"]
    return cluster_id


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        pytest.param({"cron": "61 * * * *"}, "cron", id="minute-out-of-range"),
        pytest.param({"cron": "0 0 6 * * *"}, "cron", id="six-fields"),
        pytest.param({"cron": "@often"}, "cron", id="unknown-macro"),
        pytest.param({"time_zone": "Mars/Olympus"}, "time_zone", id="unknown-zone"),
        pytest.param({"max_concurrent_runs": 0}, "max_concurrent_runs", id="no-runs"),
        pytest.param({"max_concurrent_runs": "2"}, "max_concurrent_runs", id="string-count"),
        pytest.param({"missed_run_policy": "ALL"}, "missed_run_policy", id="unknown-policy"),
        pytest.param({"name": "no spaces"}, "name", id="bad-name"),
        pytest.param({"notebook": {"uri": "s3://notebooks/x.py"}}, "notebook", id="not-a-notebook"),
        pytest.param({"schedule": "daily"}, "schedule", id="unknown-field"),
    ],
)
def test_bad_input_is_refused_naming_the_field_and_nothing_is_recorded(
    admin: UserClient, studio: dict[str, Any], cluster: str, fields: dict[str, Any], field: str
) -> None:
    body = expect_error(admin.post(schedules_path(studio["id"]), json={
        **schedule_body(studio, cluster), **fields}), 422)  # fmt: skip
    assert field in field_names(body), body
    assert expect(admin.get(schedules_path(studio["id"])), 200)["items"] == []


def test_targets_are_checked_and_a_stopped_application_is_not_started(
    admin: UserClient, studio: dict[str, Any], cluster: str
) -> None:
    path = schedules_path(studio["id"])
    expect_error(
        admin.post(path, json=schedule_body(studio, "cl-0000000000000000")), 404, "NotFound"
    )
    manual = create_application(admin, studio["id"])  # auto-start off: runs could not start
    refused = expect_error(
        admin.post(path, json=schedule_body(studio, manual["id"], "APPLICATION")), 409
    )
    assert "auto-start is off" in refused["message"]
    application = create_application(
        admin, studio["id"], auto_start_configuration={"enabled": True}
    )
    created = expect(
        admin.post(path, json=schedule_body(studio, application["id"], "APPLICATION")), 201
    )
    assert created["target"] == {"kind": "APPLICATION", "id": application["id"]}
    app_path = f"/studios/{studio['id']}/applications/{application['id']}"
    described = expect(admin.get(app_path), 200)
    assert (described["status"], described["target"]) == ("CREATED", "STOPPED"), described
    again = schedule_body(studio, cluster, name=created["name"])
    expect_error(admin.post(path, json=again), 409, "AlreadyExists")


def test_a_schedule_is_described_paused_resumed_changed_and_deleted(
    admin: UserClient, studio: dict[str, Any], cluster: str
) -> None:
    path = schedules_path(studio["id"])
    body = schedule_body(
        studio, cluster, environment_variables={"TOKEN": "s3cret"}, time_zone="Asia/Tokyo"
    )
    created = expect(admin.post(path, json=body), 201)
    one = f"{path}/{created['id']}"
    assert created["status"] == "ACTIVE" and created["created_by"] == ADMIN_NAME
    assert created["environment_variable_names"] == ["TOKEN"]
    assert "s3cret" not in str(created) and "environment_variables" not in created
    # 1 January 00:00 in Tokyo is 31 December 15:00 UTC.
    due = datetime.fromisoformat(created["next_due_at"])
    assert (due.month, due.day, due.hour, due.minute) == (12, 31, 15, 0)
    assert due > datetime.now(UTC)

    paused = expect(admin.post(f"{one}/pause"), 200)
    assert (paused["status"], paused["next_due_at"]) == ("PAUSED", None)
    expect(admin.post(f"{one}/pause"), 200)  # pausing twice changes nothing
    listed = expect(admin.get(path, params={"status": "PAUSED"}), 200)["items"]
    assert [s["id"] for s in listed] == [created["id"]]
    assert expect(admin.get(path, params={"status": "ACTIVE"}), 200)["items"] == []
    resumed = expect(admin.post(f"{one}/resume"), 200)
    assert resumed["status"] == "ACTIVE" and resumed["next_due_at"] == created["next_due_at"]

    changed = expect(
        admin.patch(one, json={"cron": "30 7 * * *", "time_zone": "UTC", "parameters": {"n": 2}}),
        200,
    )
    assert (changed["cron"], changed["parameters"]) == ("30 7 * * *", {"n": 2})
    next_due = datetime.fromisoformat(changed["next_due_at"])
    assert (next_due.hour, next_due.minute) == (7, 30)
    assert next_due - datetime.now(UTC) <= timedelta(days=1)
    error = expect_error(admin.patch(one, json={"cron": "daily"}), 422)
    assert field_names(error) == ["cron"]

    assert event_codes(admin, studio["id"], created["id"]) == [
        "USER_REQUEST", "USER_REQUEST", "USER_REQUEST", "UPDATED"
    ]  # fmt: skip
    expect(admin.delete(one), 204)
    expect_error(admin.get(one), 404, "NotFound")
    expect_error(admin.post(f"{one}/run"), 404, "NotFound")


def test_members_of_other_studios_see_nothing(
    admin: UserClient, studio: dict[str, Any], cluster: str, new_user: Callable[..., UserClient]
) -> None:
    created = expect(
        admin.post(schedules_path(studio["id"]), json=schedule_body(studio, cluster)), 201
    )
    outsider = new_user()
    other = create_studio(admin)
    add_member(admin, other["id"], user=outsider.name)
    expect_error(outsider.get(f"{schedules_path(studio['id'])}/{created['id']}"), 404)
    expect_error(outsider.get(f"{schedules_path(other['id'])}/{created['id']}"), 404)


# --- the CLI ------------------------------------------------------------------------------


def test_the_cli_creates_lists_pauses_resumes_runs_and_deletes(
    control_plane: ControlPlane, admin: UserClient, tmp_path: Path
) -> None:
    env: Env = _env(control_plane, admin.token, tmp_path / "admin.json")
    studio = create_studio(admin)
    cluster = register_external(admin, control_plane, studio["id"])
    name = unique("nightly")
    where = ["--studio", studio["name"]]
    notebook = in_storage(studio, NOTEBOOK)
    created = _json(["schedule", "create", name, "--notebook", notebook, "--cron",
                     "0 2 * * *", "--time-zone", "Europe/Paris", "--cluster", cluster["id"],
                     "-p", "limit=10", "--max-concurrent-runs", "2", "--missed",
                     "catch-up-one", *where], env)  # fmt: skip
    assert created["parameters"] == {"limit": 10} and created["max_concurrent_runs"] == 2
    assert created["missed_run_policy"] == "CATCH_UP_ONE"
    listed = run_cli(["schedule", "list", *where], env).stdout
    assert name in listed and "0 2 * * *" in listed and "Europe/Paris" in listed
    assert _json(["schedule", "pause", name, *where], env)["status"] == "PAUSED"
    assert _json(["schedule", "resume", name, *where], env)["status"] == "ACTIVE"
    changed = _json(["schedule", "update", name, "--cron", "0 3 * * *", *where], env)
    assert changed["cron"] == "0 3 * * *" and changed["parameters"] == {"limit": 10}
    run = _json(["schedule", "run", name, *where], env)
    assert run["schedule_id"] == created["id"] and run["parameters"] == {"limit": 10}
    history = run_cli(["schedule", "history", name, *where], env).stdout
    assert run["id"] in history
    described = run_cli(["schedule", "describe", name, *where], env).stdout
    assert "RUN_NOW" in described and "CATCH_UP_ONE" in described
    bad = ["schedule", "create", unique("bad"), "--notebook", notebook, "--cron",
           "every day", "--cluster", cluster["id"], *where]  # fmt: skip
    _fails(bad, env, "cron", "five fields")
    run_cli(["schedule", "delete", name, *where], env)
    _fails(["schedule", "describe", name, *where], env, f"no notebook schedule named '{name}'")


# --- the scheduler, on a test clock ------------------------------------------------------


class MovableClock:
    """A clock that moves only when told to."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def set(self, now: datetime) -> None:
        self.now = now


class Site:
    """One home and one database, served by one control plane at a time."""

    def __init__(self, settings: Settings, clock: MovableClock) -> None:
        self.settings, self.clock = settings, clock
        self.plane: ControlPlane | None = None
        self.admin: UserClient | None = None
        self.planes: list[ControlPlane] = []  # every one started, to remove what they made

    def start(self) -> ControlPlane:
        plane = ControlPlane(self.settings, clock=self.clock).start()
        self.planes.append(plane)
        plane.clusters.stop()  # clusters stay as registered: runs wait for them
        self.plane = plane
        self.admin = login(plane.api_url, ADMIN_NAME, ADMIN_PASSWORD)
        return plane

    def stop(self) -> None:
        if self.admin is not None:
            self.admin.close()
        if self.plane is not None:
            self.plane.stop()
        self.plane = self.admin = None

    def restart(self) -> None:
        self.stop()
        self.start()

    @property
    def client(self) -> UserClient:
        assert self.admin is not None
        return self.admin

    @property
    def database(self) -> Database:
        assert self.plane is not None
        return self.plane.prepared.database

    def look(self, schedule_id: str) -> None:
        """Look at the schedule now, as the control plane's scheduler does when it is due
        (a look of its own at the same time waits for this one's row lock)."""
        assert self.plane is not None
        self.plane.notebooks.scheduler.handle(schedule_id)

    def started_because(self, execution: NotebookExecution) -> str:
        """The reason code its first event (START_PENDING) gives."""
        path = f"/studios/{execution.studio_id}/notebook-executions/{execution.id}/events"
        code: str = expect(self.client.get(path), 200)["items"][0]["reason"]["code"]
        return code

    def runs(self, schedule_id: str) -> list[NotebookExecution]:
        with self.database.session(write=False) as db:
            rows = db.scalars(
                select(NotebookExecution)
                .where(NotebookExecution.schedule_id == schedule_id)
                .order_by(NotebookExecution.scheduled_for)
            ).all()
            for row in rows:
                db.expunge(row)
            return list(rows)


START = datetime(2026, 6, 1, 5, 59, 30, tzinfo=UTC)
DUE = datetime(2026, 6, 1, 6, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def site(metadata_db: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    with throwaway_or_none(metadata_db) as database_url:
        home = tmp_path_factory.mktemp(f"schedules-{metadata_db}")
        site = Site(plane_settings(home, database_url), MovableClock(START))
        site.start()
        try:
            yield site
        finally:
            site.stop()
            for plane in site.planes:  # the OS accounts and namespaces its studios were given
                plane.isolation.remove_everything_made()


class throwaway_or_none:  # noqa: N801 (used as a context manager, like the one it wraps)
    def __init__(self, backend: str) -> None:
        self.backend = backend
        self._context = throwaway_postgres_database() if backend == "postgresql" else None

    def __enter__(self) -> str | None:
        return self._context.__enter__() if self._context is not None else None

    def __exit__(self, *exc: object) -> None:
        if self._context is not None:
            self._context.__exit__(*exc)  # type: ignore[arg-type]


@pytest.fixture
def daily(site: Site) -> Callable[..., dict[str, Any]]:
    """Factory: a schedule due every day at 06:00 UTC on a cluster that stays STARTING."""
    site.clock.set(START)
    studio = create_studio(site.client)
    assert site.plane is not None
    cluster = register_external(site.client, site.plane, studio["id"])
    assert cluster["status"] == "STARTING"

    def make(**fields: Any) -> dict[str, Any]:
        body = schedule_body(studio, cluster["id"], cron="0 6 * * *", **fields)
        created: dict[str, Any] = expect(
            site.client.post(schedules_path(studio["id"]), json=body), 201
        )
        assert datetime.fromisoformat(created["next_due_at"]) == DUE
        return created

    return make


def test_a_run_starts_when_due_and_not_before(site: Site, daily: Callable[..., Any]) -> None:
    schedule = daily()
    site.look(schedule["id"])
    assert site.runs(schedule["id"]) == []
    site.clock.set(DUE + timedelta(seconds=20))
    site.look(schedule["id"])
    site.look(schedule["id"])  # a second look at the same time starts nothing more
    runs = site.runs(schedule["id"])
    assert [r.scheduled_for for r in runs] == [DUE]
    assert site.started_because(runs[0]) == "SCHEDULED"
    assert runs[0].parameters == {"day": "monday"} and runs[0].created_by == ADMIN_NAME
    path = f"{schedules_path(schedule['studio_id'])}/{schedule['id']}"
    described = expect(site.client.get(path), 200)
    assert datetime.fromisoformat(described["next_due_at"]) == DUE + timedelta(days=1)
    assert datetime.fromisoformat(described["last_due_at"]) == DUE
    history = expect(site.client.get(f"{path}/runs"), 200)["items"]
    assert [h["id"] for h in history] == [runs[0].id]
    assert datetime.fromisoformat(history[0]["scheduled_for"]) == DUE


def test_a_due_run_is_skipped_while_the_maximum_is_in_progress(
    site: Site, daily: Callable[..., Any]
) -> None:
    schedule = daily()
    path = f"{schedules_path(schedule['studio_id'])}/{schedule['id']}"
    site.clock.set(DUE)
    site.look(schedule["id"])
    [first] = site.runs(schedule["id"])
    assert first.status in {"START_PENDING", "STARTING"}  # waits for its cluster

    site.clock.set(DUE + timedelta(days=1))
    site.look(schedule["id"])
    assert [r.id for r in site.runs(schedule["id"])] == [first.id]
    [skipped] = event_messages(site.client, schedule["studio_id"], schedule["id"], "SKIPPED")
    assert "1 run(s) in progress" in skipped and "max_concurrent_runs 1" in skipped
    refused = expect_error(site.client.post(f"{path}/run"), 409, "TooManyRuns")
    assert "max_concurrent_runs 1" in refused["message"]

    executions = f"/studios/{schedule['studio_id']}/notebook-executions"
    expect(site.client.post(f"{executions}/{first.id}/stop"), 202)
    deadline = time.monotonic() + 20
    while site.runs(schedule["id"])[0].status != "STOPPED":
        assert time.monotonic() < deadline, site.runs(schedule["id"])[0].status
        time.sleep(0.1)
    site.clock.set(DUE + timedelta(days=2, seconds=5))
    site.look(schedule["id"])
    due_times = [r.scheduled_for for r in site.runs(schedule["id"])]
    assert due_times == [DUE, DUE + timedelta(days=2)]
    now = expect(site.client.post(f"{path}/run"), 409)  # the new one is in progress
    assert now["reason"] == "TooManyRuns"


def test_a_restart_neither_loses_a_due_run_nor_runs_it_twice(
    site: Site, daily: Callable[..., Any]
) -> None:
    schedule = daily(missed_run_policy="SKIP")
    site.stop()  # down over the due time, back within the grace period
    site.clock.set(DUE + timedelta(minutes=2))
    site.start()  # the start looks at every active schedule
    deadline = time.monotonic() + 10
    while not site.runs(schedule["id"]):
        assert time.monotonic() < deadline, "the due run was lost over the restart"
        time.sleep(0.05)
    site.restart()
    site.look(schedule["id"])
    assert [r.scheduled_for for r in site.runs(schedule["id"])] == [DUE]

    # As if a control plane had stopped after starting the run but before moving the
    # schedule on: the due time is looked at again, and still runs once.
    with site.database.transaction() as db:
        db.execute(
            update(NotebookSchedule)
            .where(NotebookSchedule.id == schedule["id"])
            .values(next_due_at=DUE)
        )
    site.look(schedule["id"])
    assert [r.scheduled_for for r in site.runs(schedule["id"])] == [DUE]
    with site.database.session(write=False) as db:
        row = db.get(NotebookSchedule, schedule["id"])
        assert row is not None and row.next_due_at == DUE + timedelta(days=1)


def test_a_minute_schedule_runs_every_due_time_within_the_grace_after_a_crash(
    site: Site,
) -> None:
    """The control plane goes down with a run in progress and comes back 122 s later: the
    two due times that passed meanwhile, within the grace period, each get their run."""
    site.clock.set(START)
    studio = create_studio(site.client)
    assert site.plane is not None
    cluster = register_external(site.client, site.plane, studio["id"])
    body = schedule_body(studio, cluster["id"], cron="* * * * *", max_concurrent_runs=5)
    schedule = expect(site.client.post(schedules_path(studio["id"]), json=body), 201)
    site.clock.set(DUE + timedelta(seconds=10))
    site.look(schedule["id"])
    [running] = site.runs(schedule["id"])
    assert running.status in {"START_PENDING", "STARTING"}  # in progress when it goes down

    site.stop()
    site.clock.set(DUE + timedelta(seconds=132))
    site.start()  # the start looks at every active schedule
    wanted = [DUE, DUE + timedelta(minutes=1), DUE + timedelta(minutes=2)]
    deadline = time.monotonic() + 10
    while [r.scheduled_for for r in site.runs(schedule["id"])] != wanted:
        assert time.monotonic() < deadline, [r.scheduled_for for r in site.runs(schedule["id"])]
        time.sleep(0.05)
    site.look(schedule["id"])  # and nothing more
    runs = site.runs(schedule["id"])
    assert [r.scheduled_for for r in runs] == wanted
    assert [site.started_because(r) for r in runs] == ["SCHEDULED"] * 3
    assert "MISSED" not in event_codes(site.client, studio["id"], schedule["id"])
    described = expect(site.client.get(f"{schedules_path(studio['id'])}/{schedule['id']}"), 200)
    assert datetime.fromisoformat(described["next_due_at"]) == DUE + timedelta(minutes=3)
    assert datetime.fromisoformat(described["last_due_at"]) == DUE + timedelta(minutes=2)


def test_two_schedulers_on_one_database_run_a_due_time_once(
    site: Site, daily: Callable[..., Any]
) -> None:
    schedule = daily()
    site.clock.set(DUE + timedelta(seconds=1))
    started: list[str] = []
    assert site.plane is not None
    grace = timedelta(seconds=site.settings.schedule_grace_seconds)
    others = [
        ScheduleController(site.database, site.clock, grace, lambda i, *_: started.append(i))
        for _ in range(4)
    ]
    threads = [threading.Thread(target=o.handle, args=(schedule["id"],)) for o in others]
    for thread in threads:
        thread.start()
    site.plane.notebooks.wake_schedule(schedule["id"])
    for thread in threads:
        thread.join(30)
    site.look(schedule["id"])
    runs = site.runs(schedule["id"])
    assert [r.scheduled_for for r in runs] == [DUE]
    assert len(started) <= 1


@pytest.mark.parametrize(
    ("policy", "expected_runs", "code"),
    [("SKIP", 0, "MISSED"), ("CATCH_UP_ONE", 1, "CAUGHT_UP")],
)
def test_runs_missed_while_the_control_plane_was_down_follow_the_policy(
    site: Site, daily: Callable[..., Any], policy: str, expected_runs: int, code: str
) -> None:
    schedule = daily(missed_run_policy=policy)
    site.stop()
    site.clock.set(DUE + timedelta(days=2, hours=3))  # due three times; the last 3 h ago
    site.start()
    site.look(schedule["id"])
    runs = site.runs(schedule["id"])
    assert len(runs) == expected_runs
    if runs:
        assert runs[0].scheduled_for == DUE + timedelta(days=2)
        assert site.started_because(runs[0]) == "CAUGHT_UP"
    codes = event_codes(site.client, schedule["studio_id"], schedule["id"])
    assert code in codes
    [missed] = event_messages(site.client, schedule["studio_id"], schedule["id"], "MISSED")
    assert ("3 run(s)" if policy == "SKIP" else "2 run(s)") in missed
    path = f"{schedules_path(schedule['studio_id'])}/{schedule['id']}"
    described = expect(site.client.get(path), 200)
    assert datetime.fromisoformat(described["next_due_at"]) == DUE + timedelta(days=3)


def test_a_paused_schedule_starts_nothing_and_resumes_from_now(
    site: Site, daily: Callable[..., Any]
) -> None:
    schedule = daily(missed_run_policy="CATCH_UP_ONE")
    path = f"{schedules_path(schedule['studio_id'])}/{schedule['id']}"
    expect(site.client.post(f"{path}/pause"), 200)
    site.clock.set(DUE + timedelta(days=1, minutes=1))
    site.look(schedule["id"])
    assert site.runs(schedule["id"]) == []
    resumed = expect(site.client.post(f"{path}/resume"), 200)
    assert datetime.fromisoformat(resumed["next_due_at"]) == DUE + timedelta(days=2)
    site.look(schedule["id"])
    assert site.runs(schedule["id"]) == []  # nothing of the paused time is caught up
    run = expect(site.client.post(f"{path}/run"), 201)  # run now works paused or not
    assert run["schedule_id"] == schedule["id"]
    assert datetime.fromisoformat(run["scheduled_for"]) == site.clock.now
