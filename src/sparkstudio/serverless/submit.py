"""What a job run asks of spark-submit, and where it runs: CONNECT or CLASSIC.

A ``.py`` entry point runs on the application's warm Spark Connect driver (CONNECT),
unless a static look at the script finds the classic API (``sparkContext``,
``SparkContext``, ``.rdd``, ``RDD``, ``SQLContext``, ``pyspark.rdd``), it needs files
shipped to the executors (``--jars``, ``--py-files``, ``--packages``, ``--files``,
``--archives``), or ``spark.sparkstudio.runtime`` says otherwise. A ``.jar`` entry point
and ``--class`` always run CLASSIC: ``spark-submit`` on the application's workers.
"""

from __future__ import annotations

import ast
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sparkstudio.errors import Invalid
from sparkstudio.storage.stores import fetch_file

CONNECT = "CONNECT"
CLASSIC = "CLASSIC"
RUNTIME_KEY = "spark.sparkstudio.runtime"
FIELD = "job_driver.spark_submit.spark_submit_parameters"
# spark-submit options a run may give, and the Spark property each one sets.
PROPERTY_OPTIONS = {
    "--name": "spark.app.name",
    "--driver-memory": "spark.driver.memory",
    "--driver-cores": "spark.driver.cores",
    "--executor-memory": "spark.executor.memory",
    "--executor-cores": "spark.executor.cores",
    "--num-executors": "spark.executor.instances",
}
# Options that ship files with the job: only spark-submit does that.
SHIPPING_OPTIONS = frozenset({"--jars", "--py-files", "--packages", "--files", "--archives"})
PLATFORM_OPTIONS = frozenset({"--master", "--deploy-mode", "--supervise", "--kill", "--status"})
CLASSIC_NAMES = frozenset({"sparkContext", "SparkContext", "rdd", "RDD", "SQLContext"})


@dataclass(frozen=True)
class SubmitParameters:
    conf: dict[str, str] = field(default_factory=dict)
    main_class: str = ""
    shipped: list[tuple[str, str]] = field(default_factory=list)  # (option, value)


def parse_parameters(text: str) -> SubmitParameters:
    """spark-submit parameters, checked; each problem is a 422 naming the option."""
    try:
        words = shlex.split(text)
    except ValueError as error:
        raise Invalid.field(FIELD, f"cannot be split into words: {error}") from None
    conf: dict[str, str] = {}
    main_class = ""
    shipped: list[tuple[str, str]] = []
    allowed = ", ".join(["--conf", "--class", *PROPERTY_OPTIONS, *sorted(SHIPPING_OPTIONS)])
    index = 0
    while index < len(words):
        option = words[index]
        name, _, inline = option.partition("=")
        if name in PLATFORM_OPTIONS:
            raise Invalid.field(FIELD, f"{name} is set by the platform; remove it")
        known = name == "--conf" or name == "--class" or name in PROPERTY_OPTIONS
        if not known and name not in SHIPPING_OPTIONS:
            raise Invalid.field(FIELD, f"unknown option {option!r}; the options are {allowed}")
        if inline and name != "--conf":
            value = inline
        elif index + 1 < len(words):
            index += 1
            value = words[index]
        else:
            raise Invalid.field(FIELD, f"{name} needs a value")
        if name == "--conf":
            value = inline or value
            key, sep, setting = value.partition("=")
            if not sep or not key.startswith("spark."):
                raise Invalid.field(FIELD, f"--conf takes spark.<key>=<value> (got {value!r})")
            conf[key] = setting
        elif name == "--class":
            main_class = value
        elif name in PROPERTY_OPTIONS:
            conf[PROPERTY_OPTIONS[name]] = value
        else:
            shipped.append((name, value))
        index += 1
    runtime = conf.get(RUNTIME_KEY, "").lower()
    if runtime not in ("", "connect", "classic"):
        raise Invalid.field(FIELD, f"{RUNTIME_KEY} is 'connect' or 'classic' (got {runtime!r})")
    return SubmitParameters(conf, main_class, shipped)


def choose_runtime(script: Path, params: SubmitParameters, conf: dict[str, str]) -> tuple[str, str]:
    """CONNECT or CLASSIC, and why (shown to the user as the run's runtime_reason)."""
    wanted = conf.get(RUNTIME_KEY, "").lower()
    if script.suffix == ".jar" or params.main_class:
        return CLASSIC, "a JVM entry point (jar or --class) runs with spark-submit"
    if wanted == "classic":
        return CLASSIC, f"{RUNTIME_KEY}=classic"
    if wanted == "connect":
        return CONNECT, f"{RUNTIME_KEY}=connect"
    if params.shipped:
        options = ", ".join(sorted({option for option, _ in params.shipped}))
        return CLASSIC, f"{options} ship files to the executors: only spark-submit does that"
    used = classic_api_in(script)
    if used:
        return CLASSIC, f"the script uses the classic API ({used}): it runs with spark-submit"
    return CONNECT, "a DataFrame API script runs on the warm Spark Connect driver"


def classic_api_in(script: Path) -> str:
    """The first classic-API name the script mentions, or '' (a script that does not
    parse is left to fail in the run itself, with Python's message)."""
    try:
        tree = ast.parse(script.read_bytes(), filename=str(script))
    except (SyntaxError, ValueError, OSError):
        return ""
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in CLASSIC_NAMES:
            return node.attr
        if isinstance(node, ast.Name) and node.id in CLASSIC_NAMES:
            return node.id
        if isinstance(node, ast.ImportFrom) and node.module == "pyspark.rdd":
            return "pyspark.rdd"
        if isinstance(node, ast.ImportFrom | ast.Import):
            for alias in node.names:
                if alias.name in CLASSIC_NAMES or alias.name == "pyspark.rdd":
                    return alias.name
    return ""


def spark_conf(
    overrides: dict[str, Any], params: SubmitParameters, *, for_the_run: bool = False
) -> dict[str, str]:
    """spark-defaults overrides, then spark-submit's --conf (which wins, as in Spark);
    ``for_the_run``: without the platform's own key (it chose the runtime already)."""
    conf: dict[str, str] = {}
    for configuration in overrides.get("application_configuration", []):
        conf.update(configuration.get("properties", {}))
    conf.update(params.conf)
    if for_the_run:
        conf.pop(RUNTIME_KEY, None)
    return conf


def fetch_entry_point(entry: str, folder: Path, storage_options: dict[str, Any]) -> Path:
    """The script on this host: a local path as is, an object-store one copied here."""
    if entry.startswith("/"):
        path = Path(entry)
        if not path.is_file():
            raise FileNotFoundError("no such file on this host")
        return path
    if not entry.startswith(("file:///", "s3://")):
        raise ValueError("an entry point is an absolute path, a file:/// or an s3:// URI")
    local = folder / entry.rstrip("/").rsplit("/", 1)[-1]
    fetch_file(entry, local, storage_options)
    return local
