"""API read throughput and latency with 10,000 workspaces in the store, SQLite and PostgreSQL.

The control plane runs in its own process (``sparkstudio up`` when it exists, else
``python -c`` around ``ControlPlane``); the load generator (``wrk``, or a small asyncio
client when ``wrk`` is missing) runs beside it on the same machine, so both share its
cores: on a 2-core machine the numbers include that contention, as they would in
production with a client on the same host.

Cases, per backend, all against the same server and store:

- ``health``: ``GET /api/v1/health`` (no auth, no database): the baseline of the run;
- ``describe``: ``GET /studios/{sid}/workspaces/{wid}`` as a DEVELOPER member and as admin;
- ``list``: ``GET /studios/{sid}/workspaces?limit=100``, first page and a deep page;
- ``seq``: the same requests one at a time on one keep-alive connection (latency alone).

Knobs (environment): ``BENCH_API_BACKENDS`` (``sqlite,postgres``), ``BENCH_API_WORKSPACES``
(10000), ``BENCH_API_DURATION`` (10 s), ``BENCH_API_WARMUP`` (2 s), ``BENCH_API_CONNECTIONS``
(16), ``BENCH_API_SEQUENTIAL`` (300 requests), ``BENCH_API_CLIENT`` (``wrk`` or ``asyncio``;
default: wrk when installed), ``BENCH_PG_URL`` (``postgresql+psycopg://postgres@127.0.0.1:5432``),
``BENCH_API_VARIANTS`` (``as-is``; what-if servers such as ``uvloop`` or ``uvloop+workers2``
patch the server process at start, see ``PATCHES``; they never touch ``src/``),
``BENCH_API_MAX_OTHER`` (0.25: a case is measured again, up to 3 times, when other processes
used more than this share of a core meanwhile), ``BENCH_API_QUIET_WAIT`` (30 s: how long to
wait for an idle machine before each case).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import httpx

from common import (
    Row,
    env_int,
    skipped,
    with_baseline,
)
from loadgen import (
    CONNECTIONS,
    DURATION,
    SEQUENTIAL,
    _cpu_note,
    _quietly,
    load_asyncio,
    load_wrk,
    sequential,
)

NAME = "api"
WORKSPACES = env_int("BENCH_API_WORKSPACES", 10_000)
BACKENDS = os.environ.get("BENCH_API_BACKENDS", "sqlite,postgres").split(",")
PG_URL = os.environ.get("BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432")
ADMIN_PASSWORD = "bench-" + secrets.token_hex(8)
DEVELOPER_PASSWORD = "bench-" + secrets.token_hex(8)
PAGE = 100
# The targets for a list page of 100 on the 2-core machine.
TARGET_P50_MS = 20.0
TARGET_RPS = 1000.0

VARIANTS = os.environ.get("BENCH_API_VARIANTS", "as-is").split(",")
# What-if patches a variant may combine with "+" (applied by the server script, not src/):
PATCHES = {
    "uvloop": "serve on uvloop (what uvicorn.run picks) instead of asyncio.run's loop",
    "noaccesslog": "no uvicorn access log",
    "pagecache": "list pages cached as JSON bytes in the server, dropped on every write commit",
    "workers2": "two server processes, each with its own SO_REUSEPORT listening socket",
}

# The server for a variant other than "as-is", or when `sparkstudio up` does not exist.
# Like `sparkstudio up`, it logs each request unless told otherwise.
SERVER_SCRIPT = """
import asyncio, os, signal, socket, sys, threading
import sparkstudio.server as server_module
from sparkstudio.server import ControlPlane
from sparkstudio.settings import Settings

patches = set(filter(None, os.environ.get("BENCH_SERVER_PATCHES", "").split("+")))
def bind(host, port):  # server.bind, plus SO_REUSEPORT
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock
if "workers2" in patches:  # one listening socket per process; the kernel spreads connections
    server_module.bind = bind
if "uvloop" in patches:
    import uvloop
    def _run(self):
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            runner.run(self.server.serve(sockets=[self.socket]))
    ControlPlane._run = _run

plane = ControlPlane(
    Settings(
        home=sys.argv[1],
        port=0,
        admin_password=os.environ["SPARKSTUDIO_ADMIN_PASSWORD"],
        database_url=os.environ.get("SPARKSTUDIO_DATABASE_URL") or None,
    ),
    # As `sparkstudio up` does: a log line per request (uvicorn.access logs at INFO).
    access_log="noaccesslog" not in patches,
    log_level="warning" if "noaccesslog" in patches else "info",
)
if "pagecache" in patches:  # what-if only: one process; workers would need shared invalidation
    from fastapi.responses import Response
    from pydantic import TypeAdapter
    import sparkstudio.services.workspaces as workspace_service
    from sparkstudio.schemas.common import Page
    from sparkstudio.schemas.workspaces import WorkspacePublic
    _pages, _json = {}, TypeAdapter(Page[WorkspacePublic])
    _list_workspaces = workspace_service.list_workspaces
    def list_workspaces(db, studio, **query):
        key = (studio.id, *sorted(query.items()))
        body = _pages.get(key)
        if body is None:
            body = _pages[key] = _json.dump_json(_list_workspaces(db, studio, **query))
        return Response(body, media_type="application/json")  # FastAPI sends it as it is
    workspace_service.list_workspaces = list_workspaces
    plane.prepared.database.on_write_commit(_pages.clear)
children = []
for _ in range(1 if "workers2" in patches else 0):
    pid = os.fork()
    if pid == 0:
        children = None
        plane.prepared.database.engine.dispose(close=False)
        host, port = plane.socket.getsockname()[:2]
        plane.socket.close()
        plane.socket = bind(host, port)
        # A Thread object made before fork() does not start in the child: make a new one.
        plane._thread = threading.Thread(target=plane._run, name="sparkstudio-server", daemon=True)
        break
    children.append(pid)

def _stop(*_):
    plane.server.should_exit = True

signal.signal(signal.SIGTERM, _stop)
signal.signal(signal.SIGINT, _stop)
plane.start()
if children is not None:
    print(plane.url, flush=True)
    print("pids", os.getpid(), *children, flush=True)
plane.wait()
plane.stop()
for pid in children or ():
    os.kill(pid, signal.SIGTERM)
    os.waitpid(pid, 0)
"""


# --- the control plane under test -------------------------------------------------------


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    url: str
    pids: list[int]  # the server processes, for their CPU time
    how: str

    @property
    def api(self) -> str:
        return self.url + "/api/v1"


def _sparkstudio_up() -> list[str] | None:
    """``[sparkstudio, up]`` when this checkout's CLI has ``up --port --home``; else None."""
    cli = Path(sys.executable).with_name("sparkstudio")
    if not cli.exists():
        return None
    try:
        probe = subprocess.run(
            [str(cli), "up", "--help"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if probe.returncode != 0 or "--port" not in probe.stdout or "--home" not in probe.stdout:
        return None
    return [str(cli), "up"]


def _log_text(log: Path, tail: bool = True) -> str:
    with suppress(OSError):
        text = log.read_text(errors="replace")
        return text[-3000:] if tail else text[:3000]
    return ""


@contextmanager
def control_plane(home: Path, database_url: str | None, variant: str) -> Iterator[Server]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPARKSTUDIO_")}
    env["SPARKSTUDIO_ADMIN_PASSWORD"] = ADMIN_PASSWORD
    if database_url:
        env["SPARKSTUDIO_DATABASE_URL"] = database_url
    up = _sparkstudio_up() if variant == "as-is" else None
    if up:
        command = [*up, "--port", "0", "--home", str(home)]
        how = "sparkstudio up"
    else:
        unknown = set(variant.split("+")) - set(PATCHES) - {"as-is"}
        if unknown:
            raise ValueError(f"unknown patches {sorted(unknown)}; known: {sorted(PATCHES)}")
        env["BENCH_SERVER_PATCHES"] = "" if variant == "as-is" else variant
        command = [sys.executable, "-c", SERVER_SCRIPT, str(home)]
        how = "python -c ControlPlane(...)" + ("" if variant == "as-is" else f" [{variant}]")
    log = home.parent / "server.log"
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
    try:
        url, pids = _wait_for_url(process, home, log, via_runtime_file=bool(up))
        yield Server(process, url, pids, how)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_for_url(
    process: subprocess.Popen[bytes], home: Path, log: Path, *, via_runtime_file: bool
) -> tuple[str, list[int]]:
    runtime = home / "run" / "server.json"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"the control plane exited ({process.returncode}):\n{_log_text(log)}"
            )
        if via_runtime_file:
            with suppress(OSError, ValueError, KeyError):
                info = json.loads(runtime.read_text())
                return str(info["url"]), [int(info.get("pid", process.pid))]
        else:
            lines = _log_text(log, tail=False).splitlines()
            urls = [line.strip() for line in lines if line.startswith("http://")]
            pids = [line.split()[1:] for line in lines if line.startswith("pids ")]
            if urls and pids:
                return urls[0], [int(pid) for pid in pids[0]]
        time.sleep(0.05)
    raise RuntimeError(f"the control plane did not start in 120 s:\n{_log_text(log)}")


# --- seeding ----------------------------------------------------------------------------


@dataclass
class Fixture:
    studio_id: str
    admin_token: str
    developer_token: str
    workspace_id: str  # one in the middle of the list
    deep_token: str  # next_token after the first ``deep_after`` workspaces
    deep_after: int
    seed_seconds: float
    list_bytes: int = 0


def _login(client: httpx.Client, username: str, password: str) -> dict[str, object]:
    response = client.post("/auth/login", json={"username": username, "password": password})
    response.raise_for_status()
    return dict(response.json())


def seed(server: Server, database_url: str) -> Fixture:
    """Admin creates a studio and a DEVELOPER member; the workspaces go straight to the DB."""
    with httpx.Client(base_url=server.api, timeout=60) as client:
        admin = _login(client, "admin", ADMIN_PASSWORD)
        admin_token = str(admin["token"])
        admin_id = str(admin["user"]["id"])  # type: ignore[index]
        client.headers["Authorization"] = f"Bearer {admin_token}"
        studio = client.post("/studios", json={"name": "bench"})
        studio.raise_for_status()
        studio_id = studio.json()["id"]
        created = client.post("/users", json={"name": "dev", "password": DEVELOPER_PASSWORD})
        created.raise_for_status()
        member = client.post(
            f"/studios/{studio_id}/members", json={"user": "dev", "role": "DEVELOPER"}
        )
        member.raise_for_status()
        # One workspace through the API: proves the schema the bulk insert below mimics.
        first = client.post(f"/studios/{studio_id}/workspaces", json={"name": "ws-api"})
        first.raise_for_status()
        developer_token = str(_login(client, "dev", DEVELOPER_PASSWORD)["token"])

        started = time.perf_counter()
        _bulk_insert(database_url, studio_id, admin_id, WORKSPACES - 1)
        seed_seconds = time.perf_counter() - started

        client.headers["Authorization"] = f"Bearer {developer_token}"
        # Walk the whole list once as the developer, the way a client pages: checks the
        # count and keeps the cursor of a page deep in the list.
        deep_after = WORKSPACES * 9 // 10 // PAGE * PAGE
        ids: list[str] = []
        token: str | None = None
        deep_token = ""
        while True:
            params: dict[str, str | int] = {"limit": PAGE}
            if token:
                params["next_token"] = token
            page = client.get(f"/studios/{studio_id}/workspaces", params=params)
            page.raise_for_status()
            body = page.json()
            ids.extend(item["id"] for item in body["items"])
            token = body["next_token"]
            if len(ids) == deep_after and token:
                deep_token = token
            if not token:
                break
        if len(ids) != WORKSPACES or len(set(ids)) != WORKSPACES or ids != sorted(ids):
            raise RuntimeError(f"expected {WORKSPACES} workspaces by id, the API lists {len(ids)}")
        first_page = client.get(f"/studios/{studio_id}/workspaces", params={"limit": PAGE})
        return Fixture(
            studio_id=studio_id,
            admin_token=admin_token,
            developer_token=developer_token,
            workspace_id=ids[len(ids) // 2],
            deep_token=deep_token,
            deep_after=deep_after,
            seed_seconds=seed_seconds,
            list_bytes=len(first_page.content),
        )


def _bulk_insert(database_url: str, studio_id: str, owner_id: str, count: int) -> None:
    from sqlalchemy import insert, text

    from sparkstudio.db.base import utcnow
    from sparkstudio.db.models import Workspace
    from sparkstudio.db.session import Database
    from sparkstudio.ids import new_id

    now = utcnow()
    rows = [
        {
            "id": new_id("ws"),
            "studio_id": studio_id,
            "name": f"ws-{i:06d}",
            "description": f"benchmark workspace {i}",
            "owner_id": owner_id,
            "network": "default",
            "tags": {"team": "bench", "index": str(i)},
            "status": "STOPPED",
            "target": "STOPPED",
            "status_reason_code": "CREATED",
            "status_reason_message": "workspace created",
            "cluster_id": None,
            "created_at": now,
            "updated_at": now,
        }
        for i in range(count)
    ]
    database = Database(database_url)
    try:
        with database.transaction() as db:
            for start in range(0, len(rows), 2000):
                db.execute(insert(Workspace), rows[start : start + 2000])
        if not database.is_sqlite:
            # Autovacuum would do this within a minute of the load; do it now, not mid-run.
            with database.engine.connect() as connection:
                connection.execute(text("ANALYZE"))
                connection.commit()
    finally:
        database.dispose()


# --- the benchmark ----------------------------------------------------------------------


@contextmanager
def postgres_database() -> Iterator[str]:
    """A throwaway database ``sparkstudio_bench_<hex>``, dropped afterwards."""
    import psycopg

    name = f"sparkstudio_bench_{secrets.token_hex(4)}"
    conninfo = PG_URL.replace("postgresql+psycopg://", "postgresql://") + "/postgres"
    with psycopg.connect(conninfo, autocommit=True, connect_timeout=5) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    try:
        yield f"{PG_URL}/{name}"
    finally:
        with psycopg.connect(conninfo, autocommit=True, connect_timeout=5) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _check(url: str, token: str | None, items: int | None) -> None:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = httpx.get(url, headers=headers, timeout=30)
    if response.status_code != 200:
        raise RuntimeError(f"GET {url}: {response.status_code} {response.text[:300]}")
    if items is not None and len(response.json()["items"]) != items:
        raise RuntimeError(f"GET {url}: expected {items} items")


def run_backend(backend: str, variant: str, database_url: str | None, home: Path) -> list[Row]:
    rows: list[Row] = []
    tag = backend if variant == "as-is" else f"{backend} [{variant}]"
    with control_plane(home, database_url, variant) as server:
        fixture = seed(server, database_url or f"sqlite:///{home / 'sparkstudio.db'}")
        workspaces = f"{server.api}/studios/{fixture.studio_id}/workspaces"
        cases: list[tuple[str, str, str | None, int | None]] = [
            ("health (baseline, no auth, no DB)", f"{server.api}/health", None, None),
            (
                "describe workspace (developer)",
                f"{workspaces}/{fixture.workspace_id}",
                fixture.developer_token,
                None,
            ),
            (
                "describe workspace (admin)",
                f"{workspaces}/{fixture.workspace_id}",
                fixture.admin_token,
                None,
            ),
            (
                f"list {PAGE}, first page (developer)",
                f"{workspaces}?limit={PAGE}",
                fixture.developer_token,
                PAGE,
            ),
            (
                f"list {PAGE}, deep page after {fixture.deep_after:,} (developer)",
                f"{workspaces}?limit={PAGE}&next_token={fixture.deep_token}",
                fixture.developer_token,
                PAGE,
            ),
        ]
        for _, url, token, items in cases:
            _check(url, token, items)

        setup = (
            f"{server.how}, pids {' '.join(map(str, server.pids))}; {WORKSPACES:,} workspaces "
            f"({WORKSPACES - 1:,} bulk-inserted in {fixture.seed_seconds:.1f} s); "
            f"list page of {PAGE} = {fixture.list_bytes / 1024:.0f} KiB"
        )
        rows.append(Row(NAME, f"{tag}: setup", "workspaces", WORKSPACES, "rows", note=setup))

        use_wrk = os.environ.get("BENCH_API_CLIENT", "wrk" if shutil.which("wrk") else "asyncio")
        load = load_wrk if use_wrk == "wrk" else load_asyncio
        client = "wrk -t1" if use_wrk == "wrk" else "asyncio"
        with_postgres = database_url is not None
        baseline: float | None = None
        for label, url, token, _ in cases:
            result, tries = _quietly(load, url, token, server.pids, with_postgres)
            baseline = baseline or result.rps
            case = f"{tag}: {label}"
            note = [
                f"{client} c={CONNECTIONS} {DURATION:g}s, {result.requests:,} req",
                _cpu_note(result.cpu, tries),
                *result.notes,
            ]
            if result.errors:
                note.append(f"{result.errors} ERRORS")
            if label.startswith("list"):
                met = "met" if result.rps >= TARGET_RPS else "MISSED"
                note.append(f"target >= {TARGET_RPS:,.0f} req/s: {met}")
            rows.append(
                with_baseline(
                    Row(NAME, case, "throughput", result.rps, "req/s", note="; ".join(note)),
                    baseline,
                )
            )
            rows.append(Row(NAME, case, "p50", result.p50_ms, "ms", note="under load"))
            rows.append(Row(NAME, case, "p99", result.p99_ms, "ms", note="under load"))

        seq_baseline: float | None = None
        for label, url, token, _ in cases:
            if "admin" in label:
                continue
            seq, tries = _quietly(sequential, url, token, server.pids, with_postgres)
            seq_baseline = seq_baseline or seq.rps
            case = f"{tag}: seq 1 conn, {label.split(' (')[0]}"
            note = f"{SEQUENTIAL} requests one at a time; {_cpu_note(seq.cpu, tries)}"
            if label.startswith("list"):
                met = "met" if seq.p50_ms < TARGET_P50_MS else "MISSED"
                note += f"; target p50 < {TARGET_P50_MS:g} ms: {met}"
            rows.append(Row(NAME, case, "p50", seq.p50_ms, "ms", note=note))
            rows.append(Row(NAME, case, "p99", seq.p99_ms, "ms"))
            rows.append(
                with_baseline(Row(NAME, case, "throughput", seq.rps, "req/s"), seq_baseline)
            )
    return rows


def _postgres_unreachable() -> str | None:
    import psycopg

    conninfo = PG_URL.replace("postgresql+psycopg://", "postgresql://") + "/postgres"
    try:
        with psycopg.connect(conninfo, connect_timeout=5) as connection:
            connection.execute("SELECT 1")
    except Exception as error:
        return f"PostgreSQL not reachable at {PG_URL}: {error}"
    return None


def run() -> list[Row]:
    rows: list[Row] = []
    for variant in VARIANTS:
        for backend in BACKENDS:
            rows.extend(_run_one(backend, variant))
    return rows


def _run_one(backend: str, variant: str) -> list[Row]:
    tag = backend if variant == "as-is" else f"{backend} [{variant}]"
    with tempfile.TemporaryDirectory(prefix=f"sparkstudio-bench-{backend}-") as tmp:
        home = Path(tmp) / "home"
        try:
            if backend == "sqlite":
                return run_backend(backend, variant, None, home)
            if backend == "postgres":
                if reason := _postgres_unreachable():
                    return [skipped(NAME, tag, reason)]
                with postgres_database() as url:
                    return run_backend(backend, variant, url, home)
            return [skipped(NAME, tag, f"unknown backend {backend!r}")]
        except Exception as error:  # keep the other backends' rows
            traceback.print_exc()
            return [Row(NAME, tag, "error", None, note=f"{type(error).__name__}: {error}")]
