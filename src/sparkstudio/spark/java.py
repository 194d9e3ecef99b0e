"""Find the host's Java and check that Spark can run on it (Java 17 or 21)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

SUPPORTED_MAJORS = (17, 21)
_VERSION = re.compile(r'version "(?P<version>[^"]+)"')


@dataclass(frozen=True)
class JavaCheck:
    """What was found; ``problem`` is empty when Spark can use this Java."""

    path: Path | None
    version: str
    major: int | None
    problem: str

    @property
    def ok(self) -> bool:
        return not self.problem


def find_java() -> Path | None:
    """``$JAVA_HOME/bin/java`` when JAVA_HOME is set, else ``java`` on the PATH."""
    java_home = os.environ.get("JAVA_HOME")
    if java_home:
        candidate = Path(java_home) / "bin" / "java"
        return candidate if candidate.is_file() else None
    found = shutil.which("java")
    return Path(found) if found else None


def parse_major(version: str) -> int | None:
    """``17.0.15`` → 17; the old ``1.8.0_392`` scheme → 8."""
    parts = version.split(".")
    try:
        first = int(re.sub(r"\D.*", "", parts[0]))
        return int(parts[1]) if first == 1 and len(parts) > 1 else first
    except ValueError:
        return None


def check_java(java: Path | None = None) -> JavaCheck:
    java = java or find_java()
    wanted = " or ".join(str(major) for major in SUPPORTED_MAJORS)
    if java is None:
        where = "JAVA_HOME" if os.environ.get("JAVA_HOME") else "the PATH"
        return JavaCheck(None, "", None, f"no java found on {where}; install Java {wanted}")
    try:
        # `java -version` writes to stderr.
        result = subprocess.run(  # noqa: S603
            [str(java), "-version"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        return JavaCheck(java, "", None, f"{java} -version failed: {error}")
    match = _VERSION.search(result.stderr + result.stdout)
    if match is None:
        return JavaCheck(java, "", None, f"{java} -version printed no version")
    version = match.group("version")
    major = parse_major(version)
    if major not in SUPPORTED_MAJORS:
        problem = f"Java {version} at {java} is not supported by Spark 4; install Java {wanted}"
        return JavaCheck(java, version, major, problem)
    return JavaCheck(java, version, major, "")
