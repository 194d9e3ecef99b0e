"""Load generation and CPU metering for the benchmarks.

wrk (or a stdlib asyncio client) keeps connections busy for a fixed time; ``sequential``
measures single-request latency on one connection; every measurement records how much
CPU the server, the client, PostgreSQL and everything else used meanwhile.
"""

from __future__ import annotations

import asyncio
import http.client
import os
import re
import resource
import subprocess
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from common import cpu_times, env_float, env_int, machine_busy, percentile

DURATION = env_float("BENCH_API_DURATION", 10.0)
WARMUP = env_float("BENCH_API_WARMUP", 2.0)
CONNECTIONS = env_int("BENCH_API_CONNECTIONS", 16)
SEQUENTIAL = env_int("BENCH_API_SEQUENTIAL", 300)
# A case is measured again when other processes used more than this share of a core.
MAX_OTHER = env_float("BENCH_API_MAX_OTHER", 0.25)
# Before each case, wait up to this long (s) for the machine to be idle.
QUIET_WAIT = env_float("BENCH_API_QUIET_WAIT", 30.0)


@dataclass
class Load:
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int  # non-2xx responses and socket errors
    cpu: dict[str, float]  # share of one core used during the run: server, client, db, other
    notes: list[str] = field(default_factory=list)


def _cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of the processes ``pids`` (all their threads) from /proc."""
    total = 0.0
    for pid in pids:
        with suppress(OSError, IndexError, ValueError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def _postgres_pids() -> list[int]:
    """The PostgreSQL server's processes, when it runs on this machine."""
    pids = []
    for comm in Path("/proc").glob("[0-9]*/comm"):
        with suppress(OSError):
            if comm.read_text().strip() == "postgres":
                pids.append(int(comm.parent.name))
    return pids


def _own_cpu() -> float:
    """CPU time of this process and of its waited-for children (wrk)."""
    mine = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return mine.ru_utime + mine.ru_stime + children.ru_utime + children.ru_stime


class CpuMeter:
    """Who used the machine's CPU between ``__init__`` and ``shares``."""

    def __init__(self, server_pids: list[int], with_postgres: bool) -> None:
        self.server_pids = server_pids
        # Backends are forked per connection: take those alive now (after the warm-up).
        self.db_pids = _postgres_pids() if with_postgres else []
        self.start = self._sample(self.db_pids)

    def _sample(self, db_pids: list[int]) -> tuple[float, float, dict[int, float], float]:
        return (
            _cpu_seconds(self.server_pids),
            _own_cpu(),
            {pid: _cpu_seconds([pid]) for pid in db_pids},
            cpu_times()[0],
        )

    def shares(self, wall: float) -> dict[str, float]:
        server0, client0, db0, busy0 = self.start
        server1, client1, db1, busy1 = self._sample(_postgres_pids() if self.db_pids else [])
        server, client = server1 - server0, client1 - client0
        # Backends alive at both ends count their difference, those forked meanwhile (the
        # pool opens connections beyond its size under load) all of theirs; those that also
        # exited meanwhile are lost to "other".
        db = sum(max(0.0, used - db0.get(pid, 0.0)) for pid, used in db1.items())
        shares = {"server": server / wall, "client": client / wall}
        if self.db_pids:
            shares["postgres"] = db / wall
        shares["other"] = max(0.0, busy1 - busy0 - server - client - db) / wall
        return shares


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3}


def _wrk_ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", text)
    if not match:
        raise ValueError(f"cannot read wrk latency {text!r}")
    return float(match.group(1)) * _UNITS[match.group(2)]


def parse_wrk(output: str) -> tuple[float, float, float, int, int]:
    """(req/s, p50 ms, p99 ms, requests, errors) from ``wrk --latency`` output."""
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    p50 = _wrk_ms(re.search(r"^\s+50%\s+(\S+)", output, re.M).group(1))  # type: ignore[union-attr]
    p99 = _wrk_ms(re.search(r"^\s+99%\s+(\S+)", output, re.M).group(1))  # type: ignore[union-attr]
    requests = int(re.search(r"(\d+) requests in", output).group(1))  # type: ignore[union-attr]
    errors = 0
    if non2xx := re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output):
        errors += int(non2xx.group(1))
    if sock := re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    ):
        errors += sum(int(n) for n in sock.groups())
    return rps, p50, p99, requests, errors


def _wrk(command: list[str]) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:  # wrk takes whole seconds, and says why on stderr
        raise RuntimeError(f"{' '.join(command)}: {done.stderr or done.stdout}")
    return done


def load_wrk(url: str, token: str | None, server_pids: list[int], with_postgres: bool) -> Load:
    header = ["-H", f"Authorization: Bearer {token}"] if token else []
    base = ["wrk", "-t1", f"-c{CONNECTIONS}", "--timeout", "10s", *header]
    if WARMUP > 0:
        _wrk([*base, f"-d{max(1, round(WARMUP))}s", url])
    meter, wall0 = CpuMeter(server_pids, with_postgres), time.perf_counter()
    done = _wrk([*base, f"-d{max(1, round(DURATION))}s", "--latency", url])
    cpu = meter.shares(time.perf_counter() - wall0)
    rps, p50, p99, requests, errors = parse_wrk(done.stdout)
    return Load(rps, p50, p99, requests, errors, cpu)


def _request_bytes(url: str, token: str | None) -> tuple[str, int, bytes]:
    parts = urlsplit(url)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    lines = [f"GET {target} HTTP/1.1", f"Host: {parts.netloc}", "Accept: application/json"]
    if token:
        lines.append(f"Authorization: Bearer {token}")
    raw = ("\r\n".join(lines) + "\r\n\r\n").encode()
    return parts.hostname or "127.0.0.1", parts.port or 80, raw


async def _connection(
    host: str, port: int, raw: bytes, stop_at: float, measure_from: float, out: list[float]
) -> int:
    """One keep-alive connection issuing requests back to back; returns its error count."""
    reader, writer = await asyncio.open_connection(host, port)
    errors = 0
    loop = asyncio.get_running_loop()
    try:
        while (start := loop.time()) < stop_at:
            writer.write(raw)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            await reader.readexactly(length)
            if start >= measure_from:
                out.append((loop.time() - start) * 1000)
                errors += status >= 400
    finally:
        writer.close()
        with suppress(OSError):
            await writer.wait_closed()
    return errors


async def _asyncio_load(url: str, token: str | None) -> tuple[list[float], int, float]:
    host, port, raw = _request_bytes(url, token)
    loop = asyncio.get_running_loop()
    begin = loop.time()
    measure_from, stop_at = begin + WARMUP, begin + WARMUP + DURATION
    samples: list[float] = []
    errors = await asyncio.gather(
        *(_connection(host, port, raw, stop_at, measure_from, samples) for _ in range(CONNECTIONS))
    )
    return samples, sum(errors), loop.time() - measure_from


def load_asyncio(url: str, token: str | None, server_pids: list[int], with_postgres: bool) -> Load:
    meter, wall0 = CpuMeter(server_pids, with_postgres), time.perf_counter()
    samples, errors, wall = asyncio.run(_asyncio_load(url, token))
    cpu = meter.shares(time.perf_counter() - wall0)  # spans the warm-up too
    return Load(
        len(samples) / wall,
        percentile(samples, 50),
        percentile(samples, 99),
        len(samples),
        errors,
        cpu,
        ["asyncio client: in Python, it competes with the server for the cores"],
    )


def sequential(url: str, token: str | None, server_pids: list[int], with_postgres: bool) -> Load:
    """``SEQUENTIAL`` requests in a row on one keep-alive connection: latency alone."""
    parts = urlsplit(url)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=30)
    samples: list[float] = []
    try:
        for i in range(SEQUENTIAL + 20):  # the first 20 warm the connection and the caches
            if i == 20:
                meter, wall0 = CpuMeter(server_pids, with_postgres), time.perf_counter()
            start = time.perf_counter()
            connection.request("GET", target, headers=headers)
            response = connection.getresponse()
            response.read()
            if response.status != 200:
                raise RuntimeError(f"GET {target}: {response.status}")
            if i >= 20:
                samples.append((time.perf_counter() - start) * 1000)
        cpu = meter.shares(time.perf_counter() - wall0)
    finally:
        connection.close()
    rps = 1000 * len(samples) / sum(samples)
    return Load(rps, percentile(samples, 50), percentile(samples, 99), len(samples), 0, cpu)


def _quietly(measure: Callable[..., Load], *args: object) -> tuple[Load, int]:
    """``measure(*args)`` when the machine is otherwise idle; again (3 tries in all) if other
    processes used more than ``MAX_OTHER`` of a core meanwhile. Returns the last result and
    the number of tries.
    """
    tries = 0
    while True:
        tries += 1
        deadline = time.monotonic() + QUIET_WAIT
        while machine_busy(1.0) > 0.1 and time.monotonic() < deadline:
            pass  # wait for a test suite or a build next door to finish
        result = measure(*args)
        if result.cpu.get("other", 0.0) <= MAX_OTHER or tries == 3:
            return result, tries


def _cpu_note(cpu: dict[str, float], tries: int) -> str:
    note = "CPU " + ", ".join(f"{name} {share:.0%}" for name, share in cpu.items())
    if tries > 1:
        note += f" ({tries} tries)"
    if cpu.get("other", 0.0) > MAX_OTHER:
        note += " OTHER LOAD: numbers too low"
    return note
