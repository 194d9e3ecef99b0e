"""Where the server spends its CPU on one API read: py-spy on the server process under wrk.

    python bench/profile_api.py [describe|describe-admin|list|list-deep|health] [backend]

Starts the control plane like ``bench_api`` does (same seeding, same ``BENCH_API_*`` knobs,
``BENCH_API_VARIANTS``' first entry as the variant), drives one case with ``wrk`` and samples
every server thread with ``py-spy`` (``PY_SPY`` or ``py-spy`` on the PATH; install it with
``pip install py-spy`` anywhere, it is not a project dependency). Prints the share of samples
per library (leaf frame), the top functions by self and by inclusive time, and writes the
raw stacks (``bench/results/profile-<case>-<backend>.txt``, flamegraph.pl / speedscope input).
Not a benchmark: ``run.py`` does not pick it up.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_api as api
from common import BENCH_DIR

SECONDS = api.env_float("BENCH_PROFILE_SECONDS", 10.0)
# Sample only the thread holding the GIL (default): where the server's one effective core
# goes. BENCH_PROFILE_GIL=0 samples every active thread, including native DB calls.
GIL_ONLY = os.environ.get("BENCH_PROFILE_GIL", "1") != "0"
_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^:()]+)(?::\d+)?\)$")
LIBRARIES = (
    "sparkstudio",
    "sqlalchemy",
    "pydantic",
    "fastapi",
    "starlette",
    "uvicorn",
    "anyio",
    "httptools",
    "psycopg",
    "logging",
    "json",
    "asyncio",
    "concurrent",
    "threading",
    "sqlite3",
    "hashlib",
    "hmac",
)


def library(file: str) -> str:
    for name in LIBRARIES:
        if f"/{name}/" in file or file.endswith(f"/{name}.py") or f"/{name}." in file:
            return name
    return Path(file).name or "?"


def parse(raw: Path) -> tuple[Counter[str], Counter[str], Counter[str], int]:
    """Self samples per function and per library, inclusive samples per function, total."""
    self_fn: Counter[str] = Counter()
    self_lib: Counter[str] = Counter()
    incl_fn: Counter[str] = Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [frame for frame in stack.split(";") if frame]
        total += count
        names = []
        for frame in frames:
            match = _FRAME.match(frame)
            func, file = (match["func"], match["file"]) if match else (frame, "?")
            names.append((f"{func} [{library(file)}]", library(file)))
        if names:
            self_fn[names[-1][0]] += count
            self_lib[names[-1][1]] += count
        for name in {name for name, _ in names}:
            incl_fn[name] += count
    return self_fn, self_lib, incl_fn, total


def main(argv: list[str]) -> int:
    case = argv[0] if argv else "list"
    backend = argv[1] if len(argv) > 1 else "sqlite"
    variant = api.VARIANTS[0]
    py_spy = os.environ.get("PY_SPY") or shutil.which("py-spy")
    if not py_spy or not shutil.which("wrk"):
        print("needs py-spy (PY_SPY=/path/to/py-spy) and wrk")
        return 2
    with tempfile.TemporaryDirectory(prefix="sparkstudio-profile-") as tmp:
        home = Path(tmp) / "home"
        if backend == "postgres":
            with api.postgres_database() as url:
                return profile(case, backend, variant, url, home, py_spy)
        return profile(case, backend, variant, None, home, py_spy)


def profile(
    case: str, backend: str, variant: str, database_url: str | None, home: Path, py_spy: str
) -> int:
    with api.control_plane(home, database_url, variant) as server:
        fixture = api.seed(server, database_url or f"sqlite:///{home / 'sparkstudio.db'}")
        workspaces = f"{server.api}/studios/{fixture.studio_id}/workspaces"
        urls = {
            "health": (f"{server.api}/health", None),
            "describe": (f"{workspaces}/{fixture.workspace_id}", fixture.developer_token),
            "describe-admin": (f"{workspaces}/{fixture.workspace_id}", fixture.admin_token),
            "list": (f"{workspaces}?limit={api.PAGE}", fixture.developer_token),
            "list-deep": (
                f"{workspaces}?limit={api.PAGE}&next_token={fixture.deep_token}",
                fixture.developer_token,
            ),
        }
        url, token = urls[case]
        raw = BENCH_DIR / "results" / f"profile-{case}-{backend}.txt"
        raw.parent.mkdir(parents=True, exist_ok=True)
        header = ["-H", f"Authorization: Bearer {token}"] if token else []
        load = subprocess.Popen(
            ["wrk", "-t1", f"-c{api.CONNECTIONS}", f"-d{SECONDS + 3:g}s", *header, url],
            stdout=subprocess.PIPE,
            text=True,
        )
        time.sleep(1.5)
        subprocess.run(
            [
                *(py_spy, "record", "--pid", str(server.pids[0]), "--duration", f"{SECONDS:g}"),
                *("--rate", "250", "--format", "raw", "--output", str(raw)),
                *("--nonblocking", "--full-filenames"),
                *(("--gil",) if GIL_ONLY else ()),
            ],
            check=True,
            capture_output=True,
        )
        out, _ = load.communicate()
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out or "")
    self_fn, self_lib, incl_fn, total = parse(raw)
    print(f"{case} on {backend} [{variant}]: {rps[1] if rps else '?'} req/s under py-spy")
    what = "the GIL-holding thread" if GIL_ONLY else "busy server threads"
    print(f"{total} samples of {what}; raw stacks in {raw}\n")
    print("self time by library (leaf frame):")
    for name, count in self_lib.most_common(14):
        print(f"  {count / total:6.1%}  {name}")
    print("\ntop functions by self time:")
    for name, count in self_fn.most_common(20):
        print(f"  {count / total:6.1%}  {name}")
    print("\ntop functions by inclusive time:")
    for name, count in incl_fn.most_common(45):
        print(f"  {count / total:6.1%}  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
