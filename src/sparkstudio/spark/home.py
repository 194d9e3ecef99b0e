"""Locate the Spark distribution: ``$SPARK_HOME``, else the one inside the pyspark wheel.

The wheel carries ``bin/``, ``sbin/`` and ``jars/`` (the Connect server and the history
server included), so installing sparkstudio installs Spark.
"""

from __future__ import annotations

import importlib.util
import os
import re
from dataclasses import dataclass
from pathlib import Path

from sparkstudio.errors import StudioError

_CORE_JAR = re.compile(r"^spark-core_(?P<scala>[\d.]+)-(?P<version>[\w.\-]+)\.jar$")


class SparkNotFound(StudioError):
    status = 503
    default_reason = "SparkNotFound"


@dataclass(frozen=True)
class SparkHome:
    path: Path
    version: str
    scala_version: str

    def bin(self, name: str) -> Path:
        return self.path / "bin" / name

    def sbin(self, name: str) -> Path:
        return self.path / "sbin" / name

    @property
    def jars(self) -> Path:
        return self.path / "jars"

    def environment(self, **extra: str) -> dict[str, str]:
        """What a Spark process needs to be told: our SPARK_HOME (and ``extra``). The place
        that launches it adds PATH, the locale and nothing of the control plane's own
        environment (no SPARK_* setting of the caller's leaks into a cluster)."""
        return {"SPARK_HOME": str(self.path), "SPARK_LOCAL_IP": "127.0.0.1", **extra}

    def connect_jar(self) -> Path:
        found = sorted(self.jars.glob("spark-connect_*.jar"))
        if not found:
            raise SparkNotFound(f"no Spark Connect server jar in {self.jars}")
        return found[-1]


def _candidates() -> list[Path]:
    paths = []
    if os.environ.get("SPARK_HOME"):
        paths.append(Path(os.environ["SPARK_HOME"]))
    spec = importlib.util.find_spec("pyspark")  # found without importing pyspark
    if spec is not None and spec.origin is not None:
        paths.append(Path(spec.origin).parent)
    return paths


def inspect(path: Path) -> SparkHome | None:
    """A SparkHome if ``path`` holds a runnable Spark distribution."""
    if not (path / "bin" / "spark-class").is_file() or not (path / "jars").is_dir():
        return None
    for jar in (path / "jars").glob("spark-core_*.jar"):
        match = _CORE_JAR.match(jar.name)
        if match:
            return SparkHome(path.resolve(), match["version"], match["scala"])
    return None


def find_spark_home() -> SparkHome:
    tried = []
    for path in _candidates():
        found = inspect(path)
        if found is not None:
            return found
        tried.append(str(path))
    where = ", ".join(tried) or "no SPARK_HOME and no pyspark package"
    raise SparkNotFound(
        f"no Spark distribution found (looked at: {where}); "
        "install sparkstudio's dependencies (they include pyspark) or set SPARK_HOME"
    )
