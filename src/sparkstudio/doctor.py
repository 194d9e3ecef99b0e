"""``sparkstudio doctor``: can this host run the platform and its Spark clusters?"""

from __future__ import annotations

import json
import os
import shutil
import socket
from dataclasses import dataclass
from pathlib import Path

from sparkstudio.errors import StudioError
from sparkstudio.settings import Settings
from sparkstudio.spark.home import find_spark_home
from sparkstudio.spark.java import check_java

MIN_FREE_DISK = 2 * 1024**3  # event logs, notebooks and Spark's scratch space


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


def check_spark() -> Check:
    try:
        home = find_spark_home()
    except StudioError as error:
        return Check("spark", False, error.message)
    try:
        jar = home.connect_jar().name
    except StudioError as error:
        return Check("spark", False, error.message)
    return Check("spark", True, f"Spark {home.version} at {home.path} ({jar})")


def check_java_for_spark() -> Check:
    java = check_java()
    if not java.ok:
        return Check("java", False, java.problem)
    return Check("java", True, f"Java {java.version} at {java.path}")


def _running_url(settings: Settings) -> str | None:
    runtime = settings.home / "run" / "server.json"
    try:
        info = json.loads(runtime.read_text())
        os.kill(int(info["pid"]), 0)
    except (OSError, ValueError, KeyError):
        return None
    return str(info["url"])


def check_port(settings: Settings) -> Check:
    if settings.port == 0:
        return Check("port", True, "port 0: a free port is picked at start")
    running = _running_url(settings)
    if running:
        return Check("port", True, f"in use by this home's control plane at {running}")
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((settings.host, settings.port))
        except OSError as error:
            return Check(
                "port",
                False,
                f"{settings.host}:{settings.port} is taken ({error.strerror}); "
                "pass --port or set SPARKSTUDIO_PORT",
            )
    return Check("port", True, f"{settings.host}:{settings.port} is free")


def check_store(settings: Settings) -> Check:
    try:
        settings.ensure_home()
        probe = settings.store_root / ".doctor-probe"
        probe.write_text("ok")
        probe.unlink()
    except OSError as error:
        return Check("store", False, f"cannot write under {settings.home}: {error}")
    free = shutil.disk_usage(settings.home).free
    detail = f"{settings.store_root} writable, {free / 1024**3:.1f} GiB free"
    if free < MIN_FREE_DISK:
        return Check("store", False, detail + f" (need at least {MIN_FREE_DISK // 1024**3} GiB)")
    return Check("store", True, detail)


def check_isolation(settings: Settings) -> Check:
    """How users' code will be kept apart; single-user mode passes, saying what it means."""
    from sparkstudio.processes.isolation import choose_mode

    try:
        choice = choose_mode(settings)
    except RuntimeError as error:
        return Check("isolation", False, str(error))
    if choice.mode == "sandbox":
        return Check("isolation", True, f"sandboxed per studio ({choice.why})")
    return Check(
        "isolation",
        True,
        f"SINGLE-USER mode ({choice.why}): every member's code runs as this OS user and can "
        "read what it can; fit for one person (run as root with bubblewrap to sandbox studios)",
    )


def run_checks(settings: Settings) -> list[Check]:
    return [
        check_java_for_spark(),
        check_spark(),
        check_port(settings),
        check_store(settings),
        check_isolation(settings),
    ]


def home_of(path: Path | None) -> Settings:
    return Settings(home=path) if path is not None else Settings()
