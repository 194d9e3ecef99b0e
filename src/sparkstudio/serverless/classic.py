"""A CLASSIC run: spark-submit on the application's workers, within what it reserved."""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sparkstudio.serverless.capacity import Capacity
from sparkstudio.serverless.job_logs import open_log
from sparkstudio.serverless.submit import SubmitParameters
from sparkstudio.spark.home import find_spark_home
from sparkstudio.storage.confined import copy_out_beneath

HOST = "127.0.0.1"
_APP_ID = re.compile(r"app ID (app-[\w-]+)")
_APP_NAME = re.compile(r"^app-[\w-]+$")


@dataclass(frozen=True)
class SubmitRequest:
    name: str
    master_url: str  # the application's standalone master
    capacity: Capacity
    params: SubmitParameters
    conf: dict[str, str]  # spark-defaults overrides and --conf, merged
    script: str
    arguments: Sequence[str]
    executors: int  # executor workers reserved for the run
    ui_port: int
    event_log_dir: Path  # what the history server reads
    properties_file: str = ""  # the application's secret (spark.authenticate)


def spark_submit_argv(request: SubmitRequest) -> list[str]:
    executor = request.capacity.executor
    settings = {
        "spark.executor.cores": str(executor.cpu),
        "spark.executor.memory": f"{executor.memory_mib}m",
        "spark.driver.memory": f"{request.capacity.driver.memory_mib}m",
        **request.conf,
        # Set last: the platform's, so that a run stays within what was reserved.
        "spark.cores.max": str(executor.cpu * request.executors),
        "spark.driver.host": HOST,
        "spark.driver.bindAddress": HOST,
        "spark.ui.port": str(request.ui_port),
        "spark.ui.killEnabled": "false",
        "spark.eventLog.enabled": "true",
        # Where the history server reads; a copy goes to the run's log location.
        "spark.eventLog.dir": request.event_log_dir.as_uri(),
    }
    argv = [str(find_spark_home().bin("spark-submit")), "--master", request.master_url]
    if request.properties_file:
        argv += ["--properties-file", request.properties_file]
    argv += ["--deploy-mode", "client", "--name", request.name]
    if request.params.main_class:
        argv += ["--class", request.params.main_class]
    for option, value in request.params.shipped:
        argv += [option, value]
    for key, value in settings.items():
        argv += ["--conf", f"{key}={value}"]
    return [*argv, request.script, *request.arguments]


def spark_app_id_in(stderr: Path) -> str:
    """The application id spark-submit's driver logs when the master accepts it (read
    without following a link: the run owns its folder)."""
    try:
        with open_log(stderr) as file:
            head = file.read(1 << 20).decode("utf-8", "replace")
    except OSError:
        return ""
    match = _APP_ID.search(head)
    return match[1] if match else ""


def copy_event_log(event_log_dir: Path, spark_app_id: str, into: Path) -> None:
    """Copy a run's event log into ``into`` (the platform's), to be kept with its logs.

    The event log folder is written by every studio's drivers: nothing there is followed
    through a link, and only this run's application is copied."""
    if not spark_app_id or not _APP_NAME.match(spark_app_id):
        return
    # A rolling event log is a folder (Spark's default), a single one a file.
    rolling = f"eventlog_v2_{spark_app_id}"
    with contextlib.suppress(OSError):
        descriptor = os.open(event_log_dir / rolling, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        try:
            names = os.listdir(descriptor)
        finally:
            os.close(descriptor)
        into.mkdir(parents=True, exist_ok=True)
        (into / rolling).mkdir(exist_ok=True)
        for name in names:
            with contextlib.suppress(OSError, ValueError):
                copy_out_beneath(event_log_dir, f"{rolling}/{name}", into / rolling / name)
        return
    with contextlib.suppress(OSError, ValueError):
        into.mkdir(parents=True, exist_ok=True)
        copy_out_beneath(event_log_dir, spark_app_id, into / spark_app_id)
