"""Serverless job runs through the real control plane: warm latency, spark-submit baseline,
throughput.

The control plane runs in its own process (``sparkstudio up --port 0 --home <tmp>``, as in
``bench_api``), so the client below, which polls every 10 ms, does not share a GIL with
it. Its history server is off (``SPARKSTUDIO_HISTORY_SERVER=false``): nothing here reads
it, and it would be one more JVM on the same cores. Everything else is as shipped,
including ``serverless_warm_runners`` and ``cluster_poll_seconds`` (how often a started
application is looked at, which is when its pool of warm runners is topped up).

The admin logs in, creates studio ``bench`` and one application (DRIVER 1 x 1 vCPU / 1 GB,
EXECUTOR 1 x 1 vCPU / 1 GB, at most 3 vCPU / 4 GB, ``max_concurrent_runs`` 20), starts it
and waits until it is ``STARTED`` and its warm runners have written their ``ready`` file.

Cases, in this order:

1. ``warm run``: ``BENCH_JOB_RUNS_WARM`` runs one after the other of a trivial DataFrame
   script (``spark.range(10).count()``). The next one is submitted ``BENCH_JOB_RUNS_GAP``
   seconds after the previous ended, so that the pool can refill; the note says how many
   runners were ready at each submission. For each run, on the client's clock:
   ``POST`` → first ``GET`` showing ``RUNNING`` (or later) and ``POST`` → ``SUCCESS``,
   polled every 10 ms; and the server's own ``started_at - created_at`` and
   ``ended_at - created_at``. The split of the median comes from the run's events and
   from time stamps the script prints.
2. ``spark-submit --master local[1]``: the same script, run directly
   ``BENCH_JOB_RUNS_BASELINE`` times (a new JVM each time), wall clock.
   ``ratio`` = spark-submit ÷ warm run (target ≥ 8x); the warm run's target is < 1 s.
3. ``burst``: ``BENCH_JOB_RUNS_BURST`` runs submitted at once from
   ``BENCH_JOB_RUNS_THREADS`` threads; runs/s from the first submission to the last
   ``SUCCESS`` (the runs' ``ended_at``).

At the end the application is stopped through the API (and waited for), then the control
plane gets SIGTERM. The benchmark then looks in ``/proc`` for any process whose command
line or working directory is under its temporary directory (the application's JVMs, job
runners): each one is reported as an ``error`` row, and ended.

Knobs (environment): ``BENCH_JOB_RUNS_WARM`` (15), ``BENCH_JOB_RUNS_GAP`` (1.5 s),
``BENCH_JOB_RUNS_BASELINE`` (3), ``BENCH_JOB_RUNS_BURST`` (20), ``BENCH_JOB_RUNS_THREADS``
(4), ``BENCH_JOB_RUNS_QUIET_WAIT`` (15 s to wait for a quiet machine before each case).
"""

from __future__ import annotations

import contextlib
import itertools
import os
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from bench_api import _log_text, _sparkstudio_up, _wait_for_url
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

NAME = "job_runs"
WARM = env_int("BENCH_JOB_RUNS_WARM", 15)
GAP = env_float("BENCH_JOB_RUNS_GAP", 1.5)
BASELINE = env_int("BENCH_JOB_RUNS_BASELINE", 3)
BURST = env_int("BENCH_JOB_RUNS_BURST", 20)
THREADS = env_int("BENCH_JOB_RUNS_THREADS", 4)
QUIET_WAIT = env_int("BENCH_JOB_RUNS_QUIET_WAIT", 15)
ADMIN_PASSWORD = "bench-" + secrets.token_hex(8)
POLL = 0.01  # seconds between two GETs of a run
ENDED = {"SUCCESS", "FAILED", "CANCELLED"}
TARGET_SECONDS = 1.0  # warm run, submission → SUCCESS, p50
TARGET_RATIO = 8.0  # spark-submit local[1] ÷ warm run
SIZE = {"cpu": "1 vCPU", "memory": "1 GB"}
APPLICATION = {
    "name": "bench-jobs",
    "initial_capacity": {
        "DRIVER": {"worker_count": 1, "worker_configuration": SIZE},
        "EXECUTOR": {"worker_count": 1, "worker_configuration": SIZE},
    },
    "maximum_capacity": {"cpu": "3 vCPU", "memory": "4 GB"},
    "scheduler_configuration": {"max_concurrent_runs": 20},
}
# The trivial job, with time stamps (epoch seconds) around it for the split.
SCRIPT = """\
import time
print("BENCH began", time.time(), flush=True)
from pyspark.sql import SparkSession
spark = SparkSession.builder.getOrCreate()
print("BENCH session", time.time(), flush=True)
print(spark.range(10).count())
print("BENCH counted", time.time(), flush=True)
"""


# --- the control plane ------------------------------------------------------------------


@dataclass
class Plane:
    process: subprocess.Popen[bytes]
    client: httpx.Client
    home: Path
    studio_id: str = ""
    application_id: str = ""

    @property
    def app_path(self) -> str:
        return f"/studios/{self.studio_id}/applications/{self.application_id}"

    def get(self, path: str, **params: Any) -> Any:
        response = self.client.get(path, params=params or None)
        response.raise_for_status()
        return response.json()

    def application(self) -> dict[str, Any]:
        found: dict[str, Any] = self.get(self.app_path)
        return found

    def wait_application(self, statuses: set[str], timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            app = self.application()
            if app["status"] in statuses:
                return app
            if app["status"] == "TERMINATED" or time.monotonic() > deadline:
                raise RuntimeError(f"application still {app['status']}: {app['status_reason']}")
            time.sleep(0.2)

    def runners(self) -> tuple[int, int]:
        """(ready, all) warm runner folders of the application."""
        folders = list((self.home / "job-runners" / self.application_id).glob("*"))
        return sum(1 for f in folders if (f / "ready").exists()), len(folders)

    def wait_pool(self, size: int, timeout: float) -> float:
        """Wait until ``size`` runners are ready; seconds waited."""
        started = time.monotonic()
        while self.runners()[0] < size and time.monotonic() - started < timeout:
            time.sleep(0.05)
        return time.monotonic() - started

    def submit(self, client: httpx.Client, script: Path, name: str) -> dict[str, Any]:
        body = {
            "job_driver": {"spark_submit": {"entry_point": str(script)}},
            "name": name,
        }
        response = client.post(f"{self.app_path}/job-runs", json=body)
        if response.status_code != 201:
            raise RuntimeError(f"submit: {response.status_code} {response.text[:500]}")
        run: dict[str, Any] = response.json()
        return run

    def run(self, run_id: str) -> dict[str, Any]:
        found: dict[str, Any] = self.get(f"{self.app_path}/job-runs/{run_id}")
        return found

    def events(self, run_id: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self.get(f"{self.app_path}/job-runs/{run_id}/events")["items"]
        return found

    def stdout(self, run_id: str) -> str:
        response = self.client.get(
            f"{self.app_path}/job-runs/{run_id}/logs", params={"stream": "stdout"}
        )
        response.raise_for_status()
        return response.text


@contextlib.contextmanager
def control_plane(home: Path, settings: dict[str, str] | None = None) -> Iterator[Plane]:
    """``settings``: more ``SPARKSTUDIO_*`` variables for the control plane."""
    up = _sparkstudio_up()
    if up is None:
        raise RuntimeError("this checkout's CLI has no `sparkstudio up --port --home`")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPARKSTUDIO_")}
    env["SPARKSTUDIO_ADMIN_PASSWORD"] = ADMIN_PASSWORD
    env["SPARKSTUDIO_HISTORY_SERVER"] = "false"
    env.update(settings or {})
    log = home.parent / "server.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*up, "--port", "0", "--home", str(home)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    try:
        url, _ = _wait_for_url(process, home, log, via_runtime_file=True)
        with httpx.Client(base_url=url + "/api/v1", timeout=60) as client:
            login = client.post(
                "/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD}
            )
            login.raise_for_status()
            client.headers["Authorization"] = f"Bearer {login.json()['token']}"
            plane = Plane(process, client, home)
            try:
                yield plane
            finally:
                if plane.application_id:
                    stop_application(plane)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            print(f"bench_job_runs: control plane hung:\n{_log_text(log)}", file=sys.stderr)
            process.kill()  # this benchmark's own child, by its handle
            process.wait()


def stop_application(plane: Plane) -> None:
    try:
        app = plane.application()
        if app["status"] not in ("STOPPED", "CREATED", "TERMINATED"):
            plane.client.post(f"{plane.app_path}/stop").raise_for_status()
            plane.wait_application({"STOPPED"}, timeout=180)
    except Exception as error:
        print(f"bench_job_runs: stopping the application: {error}", file=sys.stderr)


def start_application(plane: Plane) -> Row:
    from sparkstudio.serverless.releases import supported_release_labels

    created = plane.client.post("/studios", json={"name": "bench"})
    created.raise_for_status()
    plane.studio_id = created.json()["id"]
    body = {**APPLICATION, "release_label": next(iter(supported_release_labels()))}
    made = plane.client.post(f"/studios/{plane.studio_id}/applications", json=body)
    if made.status_code != 201:
        raise RuntimeError(f"create application: {made.status_code} {made.text[:500]}")
    plane.application_id = made.json()["id"]
    plane.wait_application({"CREATED"}, timeout=60)
    began = time.monotonic()
    plane.client.post(f"{plane.app_path}/start").raise_for_status()
    plane.wait_application({"STARTED"}, timeout=600)
    started = time.monotonic() - began
    pool = pool_size()
    waited = plane.wait_pool(pool, timeout=120)
    time.sleep(2.0)  # let the runners' warm-up settle before timing anything
    ready, folders = plane.runners()
    return Row(
        NAME,
        "application: start → STARTED",
        "seconds",
        started,
        "s",
        note=f"then {waited:.1f} s until {ready}/{folders} warm runners were ready "
        f"(serverless_warm_runners={pool}); DRIVER 1 x 1 vCPU/1 GB, EXECUTOR 1 x 1 vCPU/1 GB, "
        "max 3 vCPU/4 GB, max_concurrent_runs 20",
    )


def studio_script(plane: Plane, relative: str, text: str) -> Path:
    """A script in the studio's file storage (job entry points must lie there), owned by
    the studio's OS account in sandbox mode as a member's file would be, so that its
    sandboxed runners can read it. The storage exists once the application started."""
    from sparkstudio.processes import identities
    from sparkstudio.processes.isolation import local_path

    studio = plane.get(f"/studios/{plane.studio_id}")
    root = local_path(str(studio["storage_location"]))
    if root is None:
        raise RuntimeError(f"the studio's storage is not a folder: {studio['storage_location']}")
    account = identities.lookup(identities.account_name(plane.studio_id))
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    if account is not None and os.geteuid() == 0:
        for made in (path.parent, path):
            os.chown(made, account.uid, account.gid, follow_symlinks=False)
    return path


def pool_size() -> int:
    """``serverless_warm_runners`` as shipped (the control plane runs with its defaults)."""
    from sparkstudio.settings import Settings

    return int(Settings.model_fields["serverless_warm_runners"].default)


def poll_seconds() -> float:
    from sparkstudio.settings import Settings

    return float(Settings.model_fields["cluster_poll_seconds"].default)


# --- helpers ------------------------------------------------------------------------------


def _epoch(iso: str | None) -> float | None:
    return None if iso is None else datetime.fromisoformat(iso).timestamp()


def _stamps(stdout: str) -> dict[str, float]:
    found: dict[str, float] = {}
    for line in stdout.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0] == "BENCH":
            found[parts[1]] = float(parts[2])
    return found


def _ms(samples: list[float], q: float = 50) -> str:
    return f"{percentile(samples, q) * 1000:.0f} ms"


# --- case 1: warm runs, one at a time ---------------------------------------------------------


@dataclass
class Warm:
    to_running: float  # client: POST → first GET at RUNNING or later
    to_success: float  # client: POST → first GET at SUCCESS
    post: float  # client: the POST's answer
    server_running: float  # started_at - created_at
    server_success: float  # ended_at - created_at
    steps: dict[str, float]  # status (or script mark) → seconds after created_at
    ready: int  # warm runners ready at submission
    jumped: bool  # RUNNING was never seen: already SUCCESS at the first look after it


def one_warm(plane: Plane, script: Path, index: int) -> Warm:
    ready, _ = plane.runners()
    client = plane.client
    path = f"{plane.app_path}/job-runs/"
    began = time.perf_counter()
    run = plane.submit(client, script, f"warm-{index}")
    posted = time.perf_counter() - began
    to_running: float | None = None
    jumped = False
    deadline = time.monotonic() + 300
    while True:
        response = client.get(path + run["id"])
        now = time.perf_counter() - began
        response.raise_for_status()
        status = response.json()["status"]
        if to_running is None and status in ("RUNNING", *ENDED):
            to_running, jumped = now, status != "RUNNING"
        if status in ENDED:
            break
        if time.monotonic() > deadline:
            raise RuntimeError(f"run {run['id']} still {status} after 300 s")
        time.sleep(POLL)
    if status != "SUCCESS":
        raise RuntimeError(f"run {run['id']} ended {status}: {response.json()['status_reason']}")
    seen = plane.run(run["id"])
    created = _epoch(seen["created_at"]) or 0.0
    steps: dict[str, float] = {}
    for event in plane.events(run["id"]):
        at = _epoch(event["created_at"])
        if at is not None:
            steps.setdefault(event["to_status"], at - created)
    stdout = plane.stdout(run["id"])
    if "\n10\n" not in "\n" + stdout:
        raise RuntimeError(f"run {run['id']} printed no 10: {stdout[-500:]!r}")
    for mark, at in _stamps(stdout).items():
        steps[f"script {mark}"] = at - created
    return Warm(
        to_running=to_running if to_running is not None else now,
        to_success=now,
        post=posted,
        server_running=(_epoch(seen["started_at"]) or created) - created,
        server_success=(_epoch(seen["ended_at"]) or created) - created,
        steps=steps,
        ready=ready,
        jumped=jumped,
    )


def case_warm(plane: Plane, script: Path) -> tuple[list[Row], float]:
    busy = settle(QUIET_WAIT)
    runs: list[Warm] = []
    for index in range(WARM):
        time.sleep(GAP)
        runs.append(one_warm(plane, script, index))
    busy_after = machine_busy()
    to_running = [r.to_running for r in runs]
    to_success = [r.to_success for r in runs]
    server_running = [r.server_running for r in runs]
    server_success = [r.server_success for r in runs]
    order = [
        "SUBMITTED",
        "PENDING",
        "SCHEDULED",
        "RUNNING",
        "script began",
        "script session",
        "script counted",
        "SUCCESS",
    ]
    split = []
    for step in order:
        values = [r.steps[step] for r in runs if step in r.steps]
        if values:
            split.append(f"{step} +{statistics.median(values) * 1000:.0f} ms")
    # Per-interval medians: how long each step took.
    intervals = []
    for a, b in itertools.pairwise(order):
        spans = [r.steps[b] - r.steps[a] for r in runs if a in r.steps and b in r.steps]
        if spans:
            intervals.append(f"{a}→{b} {statistics.median(spans) * 1000:.0f} ms")
    ready = [r.ready for r in runs]
    cold = sum(1 for r in ready if r == 0)
    conditions = (
        f"{WARM} runs one at a time, the next {GAP:g} s after the previous ended; ready warm "
        f"runners at each submission: {ready} ({cold} with none ready); GET every "
        f"{POLL * 1000:.0f} ms; machine {busy:.0%} busy before, {busy_after:.0%} after"
    )
    warm_p50 = percentile(to_success, 50)
    met = "met" if warm_p50 < TARGET_SECONDS else "NOT MET"
    jumped = sum(1 for r in runs if r.jumped)
    rows = [
        Row(
            NAME,
            "warm run: submission → SUCCESS (client)",
            "p50",
            warm_p50,
            "s",
            note=f"{conditions}; target < {TARGET_SECONDS:g} s p50: {met}; samples "
            + ", ".join(f"{t:.2f}" for t in to_success),
        ),
        Row(
            NAME, "warm run: submission → SUCCESS (client)", "p90", percentile(to_success, 90), "s"
        ),
        Row(
            NAME,
            "warm run: submission → RUNNING seen (client)",
            "p50",
            percentile(to_running, 50),
            "s",
            note=f"p90 {_ms(to_running, 90)}; POST answered in {_ms([r.post for r in runs])} "
            f"p50; RUNNING never seen (already ended) in {jumped} run(s)",
        ),
        Row(
            NAME,
            "warm run: submission → RUNNING seen (client)",
            "p90",
            percentile(to_running, 90),
            "s",
        ),
        Row(
            NAME,
            "warm run: started_at - created_at (server)",
            "p50",
            percentile(server_running, 50),
            "s",
            note=f"p90 {_ms(server_running, 90)}; the run's queued_seconds",
        ),
        Row(
            NAME,
            "warm run: ended_at - created_at (server)",
            "p50",
            percentile(server_success, 50),
            "s",
            note=f"p90 {_ms(server_success, 90)}; median time after created_at: "
            + ", ".join(split)
            + "; median steps: "
            + ", ".join(intervals),
        ),
    ]
    return rows, warm_p50


# --- case 2: spark-submit --master local[1] -----------------------------------------------------


def case_baseline(script: Path, work: Path, warm_p50: float) -> list[Row]:
    from sparkstudio.spark.home import find_spark_home

    home = find_spark_home()
    submit = home.bin("spark-submit")
    env = {
        k: v
        for k, v in home.environment().items()
        if k != "SPARK_REMOTE" and not k.startswith("SPARK_CONNECT")
    }
    busy = settle(QUIET_WAIT)
    samples: list[float] = []
    for _ in range(BASELINE):
        began = time.perf_counter()
        done = subprocess.run(
            [str(submit), "--master", "local[1]", str(script)],
            capture_output=True,
            text=True,
            env=env,
            cwd=work,
            timeout=600,
            check=False,
        )
        samples.append(time.perf_counter() - began)
        if done.returncode != 0 or "\n10\n" not in "\n" + done.stdout:
            raise RuntimeError(f"spark-submit failed ({done.returncode}): {done.stderr[-2000:]}")
    p50 = statistics.median(samples)
    ratio = p50 / warm_p50 if warm_p50 else float("nan")
    met = "met" if ratio >= TARGET_RATIO else "NOT MET"
    return [
        with_baseline(
            Row(
                NAME,
                "spark-submit --master local[1] (new JVM)",
                "p50",
                p50,
                "s",
                note=f"{BASELINE} runs, wall clock of the whole spark-submit; samples "
                + ", ".join(f"{t:.2f}" for t in samples)
                + f"; baseline = warm run submission → SUCCESS p50; ratio = spark-submit ÷ "
                f"warm run, target ≥ {TARGET_RATIO:g}x: {met}; machine {busy:.0%} busy before",
            ),
            warm_p50,
        )
    ]


# --- case 3: a burst ---------------------------------------------------------------------------


def case_burst(plane: Plane, script: Path) -> list[Row]:
    pool = pool_size()
    plane.wait_pool(pool, timeout=120)
    ready, _ = plane.runners()
    busy = settle(QUIET_WAIT)
    first = time.time()
    base = str(plane.client.base_url)
    headers = dict(plane.client.headers)
    local = threading.local()

    def submit(index: int) -> str:
        client = getattr(local, "client", None)
        if client is None:
            client = local.client = httpx.Client(base_url=base, headers=headers, timeout=60)
        run = plane.submit(client, script, f"burst-{index}")
        return str(run["id"])

    with ThreadPoolExecutor(THREADS) as threads:
        ids = list(threads.map(submit, range(BURST)))
    submitted = time.time() - first
    deadline = time.monotonic() + 900
    runs: dict[str, dict[str, Any]] = {}
    while True:
        page = plane.get(f"{plane.app_path}/job-runs", limit=100, created_after=_iso(first - 1))
        runs = {r["id"]: r for r in page["items"] if r["id"] in ids}
        if len(runs) == len(ids) and all(r["status"] in ENDED for r in runs.values()):
            break
        if time.monotonic() > deadline:
            raise RuntimeError("the burst did not end in 900 s")
        time.sleep(0.2)
    statuses = statistics.multimode(r["status"] for r in runs.values())
    failed = [r for r in runs.values() if r["status"] != "SUCCESS"]
    last = max(_epoch(r["ended_at"]) or first for r in runs.values())
    span = last - first
    queued = [float(r["queued_seconds"]) for r in runs.values()]
    total = [(_epoch(r["ended_at"]) or 0) - (_epoch(r["created_at"]) or 0) for r in runs.values()]
    note = (
        f"{BURST} runs from {THREADS} threads, all submitted in {submitted:.2f} s; first "
        f"submission → last SUCCESS {span:.1f} s; {ready} warm runners ready before "
        f"(serverless_warm_runners={pool}, topped up every look at the application, "
        f"cluster_poll_seconds={poll_seconds():g}), the rest start cold; per run "
        f"created → RUNNING p50 {_ms(queued)} / max {max(queued):.1f} s, created → ended "
        f"p50 {percentile(total, 50):.1f} s / max {max(total):.1f} s; machine {busy:.0%} "
        "busy before"
    )
    if failed:
        note += f"; NOT ALL SUCCEEDED: {len(failed)} ended {statuses}"
    return [
        Row(NAME, "burst: runs submitted at once", "throughput", BURST / span, "runs/s", note=note)
    ]


def _iso(epoch: float) -> str:
    from datetime import UTC

    return datetime.fromtimestamp(epoch, UTC).isoformat()


# --- what is left behind ------------------------------------------------------------------------


def leftovers(root: Path) -> list[str]:
    """Processes (other than this one) whose command line or cwd is under ``root``."""
    mark = str(root)
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        with contextlib.suppress(OSError):
            args = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            cwd = ""
            with contextlib.suppress(OSError):
                cwd = os.readlink(proc / "cwd")
            if mark in args or cwd.startswith(mark):
                found.append(f"{proc.name}: {args[:160]}")
    return found


def _end(found: list[str]) -> None:
    for entry in found:
        pid = int(entry.split(":", 1)[0])
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)  # started by this benchmark's control plane


# --- the benchmark ------------------------------------------------------------------------------


def run() -> list[Row]:
    from sparkstudio.backends.local import LocalBackend

    problem = LocalBackend().check()
    if problem:
        return [skipped(NAME, "all", problem)]
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="sparkstudio-bench-jobs-") as tmp:
        work = Path(tmp)
        script = work / "trivial.py"
        warm_p50 = 0.0
        with control_plane(work / "home") as plane:
            if guard(NAME, "application", rows, lambda: [start_application(plane)]):
                script = studio_script(plane, "bench/trivial.py", SCRIPT)

                def warm() -> list[Row]:
                    nonlocal warm_p50
                    made, warm_p50 = case_warm(plane, script)
                    return made

                if guard(NAME, "warm run", rows, warm):
                    guard(NAME, "spark-submit", rows, lambda: case_baseline(script, work, warm_p50))
                guard(NAME, "burst", rows, lambda: case_burst(plane, script))
        time.sleep(1.0)  # the runners see their parent gone within milliseconds
        found = leftovers(work)
        if found:
            rows.append(
                Row(NAME, "clean-up", "error", None, note="left behind: " + "; ".join(found))
            )
            _end(found)
        else:
            rows.append(
                Row(
                    NAME,
                    "clean-up",
                    "processes left",
                    0,
                    note="application STOPPED, control plane ended; no process under the "
                    "bench's directory (JVMs, job runners)",
                )
            )
    return rows
