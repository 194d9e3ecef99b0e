"""What tenant isolation costs: the same operations with ``isolation`` = ``single-user``
(the baseline: every process runs as the control plane's user, on the host) and
``sandbox`` (each studio's processes run as its OS account in a bubblewrap sandbox, in the
studio's network namespace), side by side in one run.

For each mode in turn a control plane is started in its own process, as in
``bench_job_runs`` (``sparkstudio up --port 0 --home <tmp>/<mode>/home`` with
``SPARKSTUDIO_ISOLATION=<mode>`` and ``SPARKSTUDIO_HISTORY_SERVER=false``). The admin logs
in and creates studio ``bench`` with one application (``bench_job_runs``' sizes), which
is started and waited for until its warm runners are ready.

Cases, in this order, for each mode:

1. ``warm job run``: a tiny PySpark script (``spark.range(10).count()``) written into the
   studio's storage (``<home>/store/studios/<id>/bench/``, owned by the studio's account
   in sandbox mode, as a member's file would be); ``BENCH_ISOLATION_RUNS`` runs one
   after the other, each ``BENCH_ISOLATION_GAP`` s after the previous ended so that the
   pool refills; POST job-runs → a GET showing ``SUCCESS``, polled every 10 ms. The
   application is then stopped (and waited for).
2. ``workspace start``: one workspace (no cluster attached) started and stopped
   ``BENCH_ISOLATION_STARTS`` times: POST …/start → ``GET /workspaces/<id>/lab`` through
   the control plane's proxy answers 200 with JupyterLab's page, polled every 20 ms. The
   first start of a mode also makes the user's OS account in sandbox mode; the samples
   are all listed.

Each sandbox row carries the single-user p50 of the same case as its baseline
(ratio = sandbox ÷ single-user). When sandboxes cannot be made here (not root, bwrap or
the network-namespace tools missing), the sandbox rows are ``skipped`` with the reason.

Clean-up, whatever happened: the workspace is stopped, the application stopped, the
control plane gets SIGTERM; then any process left under the mode's temporary folder is
reported as an ``error`` row and ended, and the studio's network namespace and the OS
accounts made for the studio and the admin are removed (sandbox mode).

Knobs (environment): ``BENCH_ISOLATION_STARTS`` (3), ``BENCH_ISOLATION_RUNS`` (5),
``BENCH_ISOLATION_GAP`` (1.5 s), ``BENCH_ISOLATION_MODES`` (``single-user,sandbox``),
``BENCH_ISOLATION_QUIET_WAIT`` (15 s to wait for a quiet machine before each case).
"""

from __future__ import annotations

import contextlib
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

import bench_job_runs as jobs
from common import Row, env_float, env_int, guard, settle, skipped, with_baseline

NAME = "isolation"
STARTS = env_int("BENCH_ISOLATION_STARTS", 3)
RUNS = env_int("BENCH_ISOLATION_RUNS", 5)
GAP = env_float("BENCH_ISOLATION_GAP", 1.5)
QUIET_WAIT = env_int("BENCH_ISOLATION_QUIET_WAIT", 15)
MODES = [m for m in os.environ.get("BENCH_ISOLATION_MODES", "single-user,sandbox").split(",") if m]
BASELINE_MODE = "single-user"
PAGE_POLL = 0.02  # seconds between two looks at JupyterLab's page
RUNNING = ("READY", "ATTACHED")
START_CASE = "workspace start → JupyterLab page via proxy"
RUN_CASE = "warm job run: submission → SUCCESS"


@dataclass
class Measured:
    """One mode's samples (seconds) and what to say about them."""

    samples: dict[str, list[float]] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)
    rows: list[Row] = field(default_factory=list)  # setup, errors, clean-up


def _samples(values: list[float]) -> str:
    return ", ".join(f"{v:.2f}" for v in values)


# --- the cases ---------------------------------------------------------------------------


def case_runs(plane: jobs.Plane, out: Measured) -> list[Row]:
    script = jobs.studio_script(plane, "bench/trivial.py", jobs.SCRIPT)
    busy = settle(QUIET_WAIT)
    runs: list[jobs.Warm] = []
    for index in range(RUNS):
        time.sleep(GAP)
        runs.append(jobs.one_warm(plane, script, index))
    out.samples[RUN_CASE] = [r.to_success for r in runs]
    server = [r.server_success for r in runs]
    out.notes[RUN_CASE] = (
        f"{RUNS} runs of spark.range(10).count() from the studio's storage, one at a time, "
        f"{GAP:g} s apart; POST → GET at SUCCESS, polled every 10 ms; samples "
        f"{_samples(out.samples[RUN_CASE])}; server's ended_at - created_at p50 "
        f"{statistics.median(server):.2f} s; warm runners ready at each submission "
        f"{[r.ready for r in runs]}; machine {busy:.0%} busy before"
    )
    return []


@dataclass
class Workspace:
    client: httpx.Client  # the API, as the admin
    lab: httpx.Client  # the workspace's pages through the control plane's proxy
    path: str  # …/studios/<sid>/workspaces/<wid>

    def status(self) -> dict[str, Any]:
        answer = self.client.get(self.path)
        answer.raise_for_status()
        found: dict[str, Any] = answer.json()
        return found

    def wait(self, statuses: tuple[str, ...], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while (found := self.status())["status"] not in statuses:
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"workspace still {found['status']} ({found['status_reason']}) after "
                    f"{timeout} s, waiting for {statuses}"
                )
            time.sleep(0.1)

    def stop(self) -> None:
        if self.status()["status"] == "STOPPED":
            return
        answer = self.client.post(f"{self.path}/stop")
        if answer.status_code != 202:
            raise RuntimeError(f"stop: {answer.status_code} {answer.text[:300]}")
        self.wait(("STOPPED",), timeout=120)

    def start_to_page(self) -> float:
        began = time.perf_counter()
        answer = self.client.post(f"{self.path}/start")
        if answer.status_code != 202:
            raise RuntimeError(f"start: {answer.status_code} {answer.text[:300]}")
        deadline = time.monotonic() + 180
        while True:
            page = self.lab.get("lab", headers={"Accept": "text/html"})
            if page.status_code == 200:
                if "JupyterLab" not in page.text:
                    raise RuntimeError(f"200 without JupyterLab's page: {page.text[:300]}")
                return time.perf_counter() - began
            if page.status_code != 503:
                raise RuntimeError(f"GET lab: {page.status_code} {page.text[:300]}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"no JupyterLab page 180 s after start: {self.status()}")
            time.sleep(PAGE_POLL)


@contextlib.contextmanager
def workspace(plane: jobs.Plane, url: str) -> Iterator[Workspace]:
    created = plane.client.post(f"/studios/{plane.studio_id}/workspaces", json={"name": "lab"})
    created.raise_for_status()
    path = f"/studios/{plane.studio_id}/workspaces/{created.json()['id']}"
    headers = {"Authorization": str(plane.client.headers["Authorization"])}
    base = f"{url}/workspaces/{created.json()['id']}/"
    with httpx.Client(base_url=base, headers=headers, timeout=60) as lab:
        ws = Workspace(plane.client, lab, path)
        try:
            yield ws
        finally:
            ws.stop()


def case_starts(plane: jobs.Plane, url: str, out: Measured) -> list[Row]:
    samples: list[float] = []
    busy: list[str] = []
    with workspace(plane, url) as ws:
        for _ in range(STARTS):
            busy.append(f"{settle(QUIET_WAIT):.0%}")
            samples.append(ws.start_to_page())
            if ws.status()["status"] not in RUNNING:
                raise RuntimeError(f"page served but workspace {ws.status()['status']}")
            time.sleep(1)  # let the new server finish what it does after answering
            ws.stop()
    out.samples[START_CASE] = samples
    out.notes[START_CASE] = (
        f"{STARTS} start/stop cycles of one workspace without a cluster; POST …/start → "
        f"GET /workspaces/<id>/lab via the proxy answers 200 with JupyterLab's page, "
        f"polled every {PAGE_POLL * 1000:.0f} ms; samples {_samples(samples)}; machine busy "
        f"before each start: {', '.join(busy)}"
    )
    return []


# --- one mode ----------------------------------------------------------------------------


def _owner_ids(plane: jobs.Plane) -> list[str]:
    """The studio and the admin: whose OS accounts a sandboxed control plane made."""
    me = plane.get("/me")
    user = me.get("user", me) if isinstance(me, dict) else {}
    return [i for i in (plane.studio_id, str(user.get("id", ""))) if i]


def _remove_made(owners: list[str], studio_id: str) -> tuple[list[str], list[str]]:
    """The studio's namespace and the accounts of ``owners``, if they exist: (what was
    removed, problems)."""
    from sparkstudio.processes import identities, netns
    from sparkstudio.processes.isolation import namespace_of

    removed: list[str] = []
    problems: list[str] = []
    if studio_id:
        name = namespace_of(studio_id)
        try:
            if netns.exists(name):
                netns.delete(name)
                removed.append(f"namespace {name}")
        except Exception as error:
            problems.append(f"namespace {name}: {error}")
    for owner in owners:
        name = identities.account_name(owner)
        try:
            if identities.lookup(name) is not None:
                identities.remove(owner)
                removed.append(f"account {name}")
        except Exception as error:
            problems.append(f"account {name}: {error}")
    return removed, problems


def measure(mode: str, work: Path) -> Measured:
    out = Measured()
    owners: list[str] = []
    studio_id = ""
    try:
        with jobs.control_plane(work / "home", {"SPARKSTUDIO_ISOLATION": mode}) as plane:
            url = str(plane.client.base_url).removesuffix("/").removesuffix("/api/v1")
            if guard(
                NAME, f"{mode}: application", out.rows, lambda: [jobs.start_application(plane)]
            ):
                studio_id = plane.studio_id
                with contextlib.suppress(Exception):
                    owners = _owner_ids(plane)
                guard(NAME, f"{mode}: {RUN_CASE}", out.rows, lambda: case_runs(plane, out))
                jobs.stop_application(plane)
                guard(NAME, f"{mode}: {START_CASE}", out.rows, lambda: case_starts(plane, url, out))
    finally:
        time.sleep(1.0)  # the runners see their parent gone within milliseconds
        found = jobs.leftovers(work)
        if found:
            note = "left behind: " + "; ".join(found)
            out.rows.append(Row(NAME, f"{mode}: clean-up", "error", None, note=note))
            jobs._end(found)
        removed: list[str] = []
        if mode == "sandbox":
            removed, problems = _remove_made(owners, studio_id)
            for problem in problems:
                out.rows.append(Row(NAME, f"{mode}: clean-up", "error", None, note=problem))
        if not found:
            note = "workspace STOPPED, application STOPPED, control plane ended; no process "
            note += "under the mode's folder (JVMs, runners, servers)"
            if removed:
                note += "; removed " + ", ".join(removed)
            out.rows.append(Row(NAME, f"{mode}: clean-up", "processes left", 0, note=note))
    # Setup rows of bench_job_runs are named for it; keep only this benchmark's name.
    out.rows = [
        Row(NAME, f"{mode}: {r.case}", r.metric, r.value, r.unit, note=r.note)
        if r.benchmark != NAME
        else r
        for r in out.rows
    ]
    return out


# --- the benchmark ----------------------------------------------------------------------


def run() -> list[Row]:
    from sparkstudio.backends.local import LocalBackend
    from sparkstudio.processes.isolation import sandbox_problem

    problem = LocalBackend().check()
    if problem:
        return [skipped(NAME, "all", problem)]
    rows: list[Row] = []
    measured: dict[str, Measured] = {}
    with tempfile.TemporaryDirectory(prefix="sparkstudio-bench-isolation-") as tmp:
        for mode in MODES:
            if mode == "sandbox" and sandbox_problem():
                rows.append(skipped(NAME, f"{mode}: all", sandbox_problem()))
                continue
            work = Path(tmp) / mode
            work.mkdir()
            try:
                measured[mode] = measure(mode, work)
            except Exception as error:
                rows.append(Row(NAME, f"{mode}: all", "error", None, note=f"{error}"))
                print(f"bench_isolation: {mode}: {error}", file=sys.stderr)
    base = measured.get(BASELINE_MODE)
    for case in (RUN_CASE, START_CASE):
        for mode, found in measured.items():
            values = found.samples.get(case)
            if not values:
                continue
            row = Row(
                NAME,
                f"{case} [{mode}]",
                "p50",
                statistics.median(values),
                "s",
                note=found.notes.get(case, ""),
            )
            reference = base.samples.get(case) if base is not None else None
            if mode != BASELINE_MODE and reference:
                row = with_baseline(row, statistics.median(reference))
            rows.append(row)
    for found in measured.values():
        rows.extend(found.rows)
    return rows
