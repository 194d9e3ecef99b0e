"""Workspaces through the real control plane: JupyterLab start, first Spark result, kernel messages.

One control plane runs in this process (``ControlPlane(Settings(home=<tmp>, port=0, …))``)
with the ``local`` backend and the ``local`` spawner: the cluster's JVMs and every
workspace server (``python -m sparkstudio.jupyter.launch``) run on this machine. The admin logs in,
creates studio ``bench``, shares the built-in ``single-node`` template with it, launches one
cluster from it and creates one workspace attached to that cluster.

Cases, in this order:

1. ``workspace start → JupyterLab page``: ``POST …/workspaces/{id}/start`` until
   ``GET /workspaces/{id}/lab`` through the control plane's proxy answers 200 with
   JupyterLab's page (polled every 20 ms). ``BENCH_WORKSPACES_STARTS`` start/stop cycles of
   the same workspace. The baseline of the same cycles is the server alone: from the
   start of its process (``/proc/<pid>/stat``) until it first answers ``GET <server>/lab``
   directly (with its secret, polled every 20 ms by a thread that reads the server's
   address and secret from the metadata database).
2. ``pyspark kernel → first Spark result``: on the attached cluster, ``POST …/api/kernels``
   ``{"name": "pyspark"}``, open the kernel's WebSocket, execute ``spark.range(10).count()``
   until its ``execute_result`` arrives. A new kernel each time, deleted afterwards.
3. ``kernel round trip``: one ``python3`` kernel executes ``1`` (execute_request →
   execute_reply and status idle) ``BENCH_WORKSPACES_MESSAGES`` times through the proxy
   and as many times directly on the workspace server, in interleaved rounds. The client
   runs in a process of its own (this file, ``roundtrips`` mode) so that it does not share
   a GIL with the control plane running in this process.
The cluster is terminated through the API and waited for, the workspace is stopped, and
kernels are deleted, whatever happened.

Knobs (environment): ``BENCH_WORKSPACES_STARTS`` (5), ``BENCH_WORKSPACES_KERNELS`` (5),
``BENCH_WORKSPACES_MESSAGES`` (200 per side), ``BENCH_WORKSPACES_ROUNDS`` (10),
``BENCH_WORKSPACES_QUIET_WAIT`` (15 s to wait for a quiet machine before each case).
"""

from __future__ import annotations

import json
import math
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
from websockets.sync.client import ClientConnection, connect

from bench_clusters import READY, Studio
from common import Row, env_int, guard, percentile, settle, skipped, with_baseline

if TYPE_CHECKING:
    from sparkstudio.server import ControlPlane

NAME = "workspaces"
STARTS = env_int("BENCH_WORKSPACES_STARTS", 5)
KERNELS = env_int("BENCH_WORKSPACES_KERNELS", 5)
MESSAGES = env_int("BENCH_WORKSPACES_MESSAGES", 200)
ROUNDS = env_int("BENCH_WORKSPACES_ROUNDS", 10)
QUIET_WAIT = env_int("BENCH_WORKSPACES_QUIET_WAIT", 15)
WARMUP_MESSAGES = 3  # per connection, before timing (the server nudges a new connection)
ADMIN = "admin"
ADMIN_PASSWORD = "bench-" + secrets.token_hex(8)
PAGE_POLL = 0.02  # seconds between two looks at JupyterLab's page
RUNNING = ("READY", "ATTACHED")
TARGET_START = 3.0  # s, start → page
TARGET_KERNEL = 2.0  # s, kernel start → first Spark result
TARGET_RATIO = 1.2  # proxied ÷ direct round trip
SPARK_CELL = "spark.range(10).count()"


# --- the kernel protocol (JSON messages over the kernel's WebSocket) --------------------


def execute(socket: ClientConnection, code: str, timeout: float = 120.0) -> dict[str, Any]:
    """Execute ``code``; returns when both its execute_reply and the idle status arrived.

    ``result_at`` is the ``perf_counter`` of the execute_result (None without one).
    """
    msg_id = uuid.uuid4().hex
    request = {
        "header": {
            "msg_id": msg_id,
            "msg_type": "execute_request",
            "username": ADMIN,
            "session": uuid.uuid4().hex,
            "version": "5.3",
            "date": "",
        },
        "parent_header": {},
        "metadata": {},
        "content": {"code": code, "silent": False, "store_history": False},
        "channel": "shell",
        "buffers": [],
    }
    socket.send(json.dumps(request))
    done: dict[str, Any] = {"result_at": None, "results": [], "errors": [], "reply": None}
    idle = False
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        message = json.loads(socket.recv(timeout=deadline - time.monotonic()))
        if message.get("parent_header", {}).get("msg_id") != msg_id:
            continue  # another request's (the server's nudge of a new connection)
        kind, content = message["msg_type"], message["content"]
        if kind == "execute_result":
            done["result_at"] = time.perf_counter()
            done["results"].append(content["data"].get("text/plain"))
        elif kind == "error":
            done["errors"].append(f"{content['ename']}: {content['evalue']}")
        elif kind == "execute_reply":
            done["reply"] = content["status"]
        elif kind == "status" and content["execution_state"] == "idle":
            idle = True
        if done["reply"] is not None and idle:
            return done
    raise RuntimeError(f"no answer to {code!r} in {timeout} s: {done}")


def _ws(http_base: str) -> str:
    return "ws" + http_base.removeprefix("http")


def roundtrips(args: dict[str, Any]) -> dict[str, list[float]]:
    """The round-trip client (in its own process): interleaved rounds on both sides."""
    samples: dict[str, list[float]] = {side: [] for side in args["sides"]}
    order = list(args["sides"])
    for round_ in range(args["rounds"]):
        for side in order if round_ % 2 == 0 else reversed(order):
            target = args["sides"][side]
            with connect(
                target["url"], additional_headers=target["headers"], open_timeout=30
            ) as socket:
                for _ in range(args["warmup"]):
                    execute(socket, "1", timeout=30)
                for _ in range(args["per_round"]):
                    started = time.perf_counter()
                    answer = execute(socket, "1", timeout=30)
                    samples[side].append(time.perf_counter() - started)
                    if answer["reply"] != "ok" or answer["results"] != ["1"]:
                        raise RuntimeError(f"{side}: unexpected answer {answer}")
    return samples


# --- the control plane, its cluster and the workspace -----------------------------------


@dataclass
class Bench:
    plane: ControlPlane
    studio: Studio  # the API client (admin), and the clusters to terminate
    token: str
    workspace_id: str = ""
    kernels: list[str] = field(default_factory=list)  # created and not deleted yet
    problems: list[str] = field(default_factory=list)  # what the clean-up could not do

    @property
    def api(self) -> httpx.Client:
        return self.studio.client

    @property
    def ws_path(self) -> str:
        return f"/studios/{self.studio.studio_id}/workspaces/{self.workspace_id}"

    @property
    def lab_base(self) -> str:
        return f"{self.plane.url}/workspaces/{self.workspace_id}/"

    def lab(self) -> httpx.Client:
        """JupyterLab of the workspace through the control plane's proxy."""
        return httpx.Client(
            base_url=self.lab_base,
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=60,
        )

    def proxied_socket(self, kernel_id: str) -> ClientConnection:
        return connect(
            _ws(self.lab_base) + f"api/kernels/{kernel_id}/channels",
            additional_headers=self.proxy_headers(),
            open_timeout=60,
        )

    def proxy_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def server(self) -> tuple[str, str, dict[str, Any]] | None:
        """The server's own URL, its secret and its process, from the metadata database."""
        from sparkstudio.db.models import Workspace

        with self.plane.prepared.database.session(write=False) as db:
            row = db.get(Workspace, self.workspace_id)
            if row is None or not row.server_state or not row.server_url:
                return None
            state = dict(row.server_state)
            return row.server_url, str(state["secret"]), dict(state["process"])

    def direct_headers(self, secret: str) -> dict[str, str]:
        from sparkstudio.jupyter.identity import SECRET_HEADER, USER_HEADER

        return {SECRET_HEADER: secret, USER_HEADER: ADMIN}

    def workspace(self) -> dict[str, Any]:
        answer = self.api.get(self.ws_path)
        answer.raise_for_status()
        return dict(answer.json())

    def wait_workspace(self, statuses: tuple[str, ...], timeout: float = 120) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            workspace = self.workspace()
            if workspace["status"] in statuses:
                return workspace
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"workspace still {workspace['status']} ({workspace['status_reason']}) "
                    f"after {timeout} s, waiting for {statuses}"
                )
            time.sleep(0.1)

    def start(self) -> None:
        answer = self.api.post(f"{self.ws_path}/start")
        if answer.status_code != 202:
            raise RuntimeError(f"start: {answer.status_code} {answer.text[:500]}")

    def stop(self) -> float:
        """Stop the server and wait until STOPPED; the seconds it took."""
        started = time.perf_counter()
        answer = self.api.post(f"{self.ws_path}/stop")
        if answer.status_code != 202:
            raise RuntimeError(f"stop: {answer.status_code} {answer.text[:500]}")
        self.wait_workspace(("STOPPED",), timeout=120)
        return time.perf_counter() - started

    def delete_kernel(self, lab: httpx.Client, kernel_id: str) -> None:
        answer = lab.delete(f"api/kernels/{kernel_id}")
        if answer.status_code not in (204, 404):
            raise RuntimeError(f"DELETE kernel: {answer.status_code} {answer.text[:300]}")
        self.kernels.remove(kernel_id)


@contextmanager
def control_plane(home: Path) -> Iterator[Bench]:
    from sparkstudio.server import ControlPlane
    from sparkstudio.settings import Settings

    settings = Settings(
        home=home,
        port=0,
        admin_password=ADMIN_PASSWORD,
        cluster_poll_seconds=0.5,
        workspace_poll_seconds=0.5,
        history_server=False,  # a JVM of its own that nothing here uses
    )
    with (
        ControlPlane(settings) as plane,
        httpx.Client(base_url=plane.api_url, timeout=60) as client,
    ):
        login = client.post("/auth/login", json={"username": ADMIN, "password": ADMIN_PASSWORD})
        login.raise_for_status()
        token = str(login.json()["token"])
        client.headers["Authorization"] = f"Bearer {token}"
        created = client.post("/studios", json={"name": "bench"})
        created.raise_for_status()
        studio = Studio(client, created.json()["id"])
        client.put(f"/templates/single-node/shares/{studio.studio_id}").raise_for_status()
        bench = Bench(plane, studio, token)
        try:
            yield bench
        finally:
            bench.problems = _clean_up(bench)


def _clean_up(bench: Bench) -> list[str]:
    """Kernels, the workspace server, then every cluster (waited for until it has ended)."""
    problems: list[str] = []
    if bench.workspace_id:
        with bench.lab() as lab:
            for kernel_id in list(bench.kernels):
                try:
                    bench.delete_kernel(lab, kernel_id)
                except Exception as error:
                    problems.append(f"kernel {kernel_id}: {error}")
        try:
            if bench.workspace()["status"] != "STOPPED":
                bench.stop()
        except Exception as error:
            problems.append(f"workspace {bench.workspace_id}: {error}")
    for cluster_id in bench.studio.clusters:
        try:
            status = bench.studio.terminate(cluster_id)
            if status != "TERMINATED":
                problems.append(f"{cluster_id} ended {status}")
        except Exception as error:
            problems.append(f"{cluster_id}: {error}")
    if problems:
        print(f"bench_workspaces: clean-up problems: {problems}", file=sys.stderr)
    return problems


def _busy_note() -> str:
    return f"machine {settle(QUIET_WAIT):.0%} busy just before"


def _process_started(process: dict[str, Any]) -> float:
    """When the server's process started, as a ``perf_counter`` value (10 ms ticks)."""
    uptime = float(Path("/proc/uptime").read_text().split()[0])
    now = time.perf_counter()
    return now - (uptime - int(process["start_ticks"]) / os.sysconf("SC_CLK_TCK"))


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


def _med(samples: list[float]) -> float:
    return statistics.median(samples) if samples else math.nan


# --- the cases --------------------------------------------------------------------------


def case_cluster(bench: Bench) -> tuple[list[Row], str]:
    busy = _busy_note()
    started = time.perf_counter()
    cluster = bench.studio.create("clusters", {"name": "bench-single", "template": "single-node"})
    cluster = bench.studio.wait_for(cluster["id"], READY, timeout=900)
    usable = time.perf_counter() - started
    row = Row(
        NAME,
        "single-node cluster: create → usable (setup)",
        "seconds",
        usable,
        "s",
        note=f"not a target: the cluster the cases below use ({cluster['status']}); {busy}",
    )
    return [row], str(cluster["id"])


def create_workspace(bench: Bench, cluster_id: str) -> None:
    created = bench.api.post(
        f"/studios/{bench.studio.studio_id}/workspaces", json={"name": "bench-lab"}
    )
    created.raise_for_status()
    bench.workspace_id = str(created.json()["id"])
    attached = bench.api.put(f"{bench.ws_path}/attachment", json={"cluster_id": cluster_id})
    attached.raise_for_status()


@dataclass
class StartSample:
    ready: float  # POST → the page through the proxy
    process: float  # POST → the server's process started
    direct: float  # POST → the server's first direct answer


def _watch_direct(bench: Bench, t0: float, out: dict[str, float], stop: threading.Event) -> None:
    """Beside the proxy poll: the process start and the first direct answer of the server."""
    server = None
    while server is None and not stop.is_set():
        server = bench.server()
        if server is None:
            time.sleep(PAGE_POLL)
    if server is None:
        return
    url, secret, process = server
    out["process"] = _process_started(process) - t0
    with httpx.Client(headers=bench.direct_headers(secret), timeout=5) as client:
        while not stop.is_set():
            with suppress(httpx.HTTPError):
                if client.get(url + "lab").status_code == 200:
                    out["direct"] = time.perf_counter() - t0
                    return
            time.sleep(PAGE_POLL)


def one_start(bench: Bench, lab: httpx.Client) -> StartSample:
    seen: dict[str, float] = {}
    stop = threading.Event()
    t0 = time.perf_counter()
    bench.start()
    watcher = threading.Thread(target=_watch_direct, args=(bench, t0, seen, stop), daemon=True)
    watcher.start()
    deadline = time.monotonic() + 180
    try:
        while True:
            page = lab.get("lab", headers={"Accept": "text/html"})
            if page.status_code == 200:
                if "JupyterLab" not in page.text:
                    raise RuntimeError(f"200 without JupyterLab's page: {page.text[:300]}")
                ready = time.perf_counter() - t0
                break
            if page.status_code != 503:
                raise RuntimeError(f"GET lab: {page.status_code} {page.text[:300]}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"no JupyterLab page 180 s after start: {bench.workspace()}")
            time.sleep(PAGE_POLL)
        watcher.join(timeout=10)
    finally:
        stop.set()
    if "direct" not in seen:
        raise RuntimeError(f"the server's first direct answer was not seen: {seen}")
    return StartSample(ready, seen["process"], seen["direct"])


def case_start(bench: Bench) -> list[Row]:
    samples: list[StartSample] = []
    stops: list[float] = []
    busy = []
    with bench.lab() as lab:
        for i in range(STARTS):
            busy.append(f"{settle(QUIET_WAIT):.0%}")
            samples.append(one_start(bench, lab))
            if bench.workspace()["status"] not in RUNNING:
                raise RuntimeError(f"page served but workspace {bench.workspace()['status']}")
            if i < STARTS - 1:  # the last start stays up for the kernel cases
                time.sleep(1)  # let the new server finish what it does after answering
                stops.append(bench.stop())
    ready = [s.ready for s in samples]
    alone = [s.direct - s.process for s in samples]
    spawn = [s.process for s in samples]
    noticed = [s.ready - s.direct for s in samples]
    target = "met" if _med(ready) < TARGET_START else "MISSED"
    worst = "met" if max(ready) < TARGET_START else "MISSED"
    case = "workspace start → JupyterLab page via proxy"
    baseline = "JupyterLab server alone: process start → first answer, direct (baseline)"
    parts = (
        f"medians: POST → server process started {_ms(_med(spawn))}, process → first direct "
        f"answer {_ms(_med(alone))}, direct answer → page via proxy {_ms(_med(noticed))}"
    )
    return [
        Row(
            NAME,
            baseline,
            "p50",
            _med(alone),
            "s",
            note=f"the same {STARTS} starts: start of the spawned workspace server process "
            "(/proc/<pid>/stat) until GET <server>/lab with the secret answers 200, polled "
            f"every {_ms(PAGE_POLL)}; samples " + ", ".join(f"{s:.2f}" for s in alone),
        ),
        with_baseline(
            Row(
                NAME,
                case,
                "p50",
                _med(ready),
                "s",
                note=f"POST …/start → GET /workspaces/<id>/lab via the proxy answers 200 with "
                f"JupyterLab's page, polled every {_ms(PAGE_POLL)}; {STARTS} start/stop cycles "
                f"of one workspace; samples {', '.join(f'{s:.2f}' for s in ready)}; {parts}; "
                f"target < {TARGET_START:g} s: {target}; machine busy before each start: "
                f"{', '.join(busy)}",
            ),
            _med(alone),
        ),
        with_baseline(
            Row(
                NAME,
                case,
                "max",
                max(ready),
                "s",
                note=f"target < {TARGET_START:g} s: {worst}; stop → STOPPED median "
                f"{_med(stops):.2f} s",
            ),
            max(alone),
        ),
    ]


def case_kernel(bench: Bench) -> list[Row]:
    to_result: list[float] = []
    posted: list[float] = []
    opened: list[float] = []
    cells: list[float] = []
    busy = _busy_note()
    with bench.lab() as lab:
        for _ in range(KERNELS):
            started = time.perf_counter()
            answer = lab.post("api/kernels", json={"name": "pyspark"})
            if answer.status_code != 201:
                raise RuntimeError(f"POST api/kernels: {answer.status_code} {answer.text[:300]}")
            kernel_id = str(answer.json()["id"])
            bench.kernels.append(kernel_id)
            posted.append(time.perf_counter() - started)
            with bench.proxied_socket(kernel_id) as socket:
                opened.append(time.perf_counter() - started)
                done = execute(socket, SPARK_CELL)
            if done["reply"] != "ok" or done["results"] != ["10"] or done["result_at"] is None:
                raise RuntimeError(f"{SPARK_CELL}: {done}")
            to_result.append(done["result_at"] - started)
            cells.append(to_result[-1] - opened[-1])
            bench.delete_kernel(lab, kernel_id)
    target = "met" if _med(to_result) < TARGET_KERNEL else "MISSED"
    case = "pyspark kernel: start → first Spark result via proxy"
    return [
        Row(
            NAME,
            case,
            "p50",
            _med(to_result),
            "s",
            note=f"POST …/api/kernels {{name: pyspark}} → kernel WebSocket opened → "
            f"{SPARK_CELL} → its execute_result, on the attached single-node cluster; "
            f"{KERNELS} new kernels, each deleted after; samples "
            + ", ".join(f"{s:.2f}" for s in to_result)
            + f"; medians: POST answered {_ms(_med(posted))}, WebSocket open (the kernel "
            f"answers) {_ms(_med(opened))}, the cell (Connect session + query) "
            f"{_ms(_med(cells))}; target < {TARGET_KERNEL:g} s: {target}; {busy}",
        ),
        Row(NAME, case, "max", max(to_result), "s"),
    ]


def case_roundtrip(bench: Bench) -> list[Row]:
    server = bench.server()
    if server is None:
        raise RuntimeError("the workspace server is not running")
    url, secret, _ = server
    with bench.lab() as lab:
        answer = lab.post("api/kernels", json={"name": "python3"})
        if answer.status_code != 201:
            raise RuntimeError(f"POST api/kernels: {answer.status_code} {answer.text[:300]}")
        kernel_id = str(answer.json()["id"])
        bench.kernels.append(kernel_id)
        channels = f"api/kernels/{kernel_id}/channels"
        per_round = max(1, math.ceil(MESSAGES / ROUNDS))
        args = {
            "sides": {
                "direct": {"url": _ws(url) + channels, "headers": bench.direct_headers(secret)},
                "proxy": {"url": _ws(bench.lab_base) + channels, "headers": bench.proxy_headers()},
            },
            "rounds": ROUNDS,
            "per_round": per_round,
            "warmup": WARMUP_MESSAGES,
        }
        busy = _busy_note()
        done = subprocess.run(  # the secret goes over stdin, not on a command line
            [sys.executable, str(Path(__file__).resolve()), "roundtrips"],
            input=json.dumps(args),
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
        bench.delete_kernel(lab, kernel_id)
    if done.returncode != 0:
        raise RuntimeError(f"round-trip client exited {done.returncode}: {done.stderr[-2000:]}")
    samples: dict[str, list[float]] = json.loads(done.stdout.strip().splitlines()[-1])
    count = len(samples["direct"])
    p50 = {side: percentile(s, 50) * 1000 for side, s in samples.items()}
    p99 = {side: percentile(s, 99) * 1000 for side, s in samples.items()}
    ratio = p50["proxy"] / p50["direct"]
    target = "met" if ratio < TARGET_RATIO else "MISSED"
    how = (
        f"one python3 kernel executes `1` (execute_request → execute_reply + idle: 1 message "
        f"up, 5 down), {count} times per side in {ROUNDS} interleaved rounds of "
        f"{per_round} on a new WebSocket each (after {WARMUP_MESSAGES} untimed), client in "
        f"its own process"
    )
    direct_case = "python3 kernel round trip, direct to the server (baseline)"
    proxy_case = "python3 kernel round trip, via the control plane proxy"
    low = {side: min(s) * 1000 for side, s in samples.items()}
    return [
        Row(NAME, direct_case, "p50", p50["direct"], "ms", note=f"{how}; {busy}"),
        Row(NAME, direct_case, "p99", p99["direct"], "ms"),
        with_baseline(
            Row(
                NAME,
                proxy_case,
                "p50",
                p50["proxy"],
                "ms",
                note=f"+{p50['proxy'] - p50['direct']:.2f} ms per round trip; min "
                f"{low['proxy']:.2f} ms via proxy, {low['direct']:.2f} ms direct; ratio = proxy "
                f"÷ direct, target < {TARGET_RATIO:g}: {target}",
            ),
            p50["direct"],
        ),
        with_baseline(Row(NAME, proxy_case, "p99", p99["proxy"], "ms"), p99["direct"]),
    ]


# --- the benchmark ----------------------------------------------------------------------


def run() -> list[Row]:
    from sparkstudio.backends.local import LocalBackend

    problem = LocalBackend().check()
    if problem:
        return [skipped(NAME, "all", problem)]
    rows: list[Row] = []
    with (
        tempfile.TemporaryDirectory(prefix="sparkstudio-bench-workspaces-") as tmp,
        control_plane(Path(tmp) / "home") as bench,
    ):

        def cluster() -> list[Row]:
            made, cluster_id = case_cluster(bench)
            create_workspace(bench, cluster_id)
            return made

        if guard(NAME, "single-node cluster", rows, cluster) and guard(
            NAME, "workspace start", rows, lambda: case_start(bench)
        ):
            guard(NAME, "pyspark kernel", rows, lambda: case_kernel(bench))
            guard(NAME, "kernel round trip", rows, lambda: case_roundtrip(bench))
    # The clean-up (kernels, workspace, cluster terminated and waited for) ran on leaving.
    rows.extend(Row(NAME, "clean-up", "error", None, note=p) for p in bench.problems)
    return rows


if __name__ == "__main__" and sys.argv[1:] == ["roundtrips"]:
    print(json.dumps(roundtrips(json.load(sys.stdin))), flush=True)
