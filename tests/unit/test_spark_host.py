"""Finding Spark and Java on the host, and `sparkstudio doctor`."""

from __future__ import annotations

import socket
import stat
from pathlib import Path

import pytest

from sparkstudio.doctor import check_port, check_store, run_checks
from sparkstudio.settings import Settings
from sparkstudio.spark.home import SparkNotFound, find_spark_home, inspect
from sparkstudio.spark.java import check_java, parse_major


@pytest.mark.parametrize(
    ("version", "major"),
    [("17.0.15", 17), ("21", 21), ("21.0.2-ea", 21), ("1.8.0_392", 8), ("junk", None)],
)
def test_java_major_versions(version: str, major: int | None) -> None:
    assert parse_major(version) == major


def _fake_java(tmp_path: Path, version: str) -> Path:
    java = tmp_path / "bin" / "java"
    java.parent.mkdir(parents=True)
    java.write_text(f"#!/bin/sh\necho 'openjdk version \"{version}\" 2020-01-01' >&2\n")
    java.chmod(java.stat().st_mode | stat.S_IXUSR)
    return java


def test_an_old_java_is_refused_with_what_to_install(tmp_path: Path) -> None:
    check = check_java(_fake_java(tmp_path, "11.0.20"))
    assert not check.ok
    assert check.major == 11
    assert "17 or 21" in check.problem


def test_missing_java_home_is_reported(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "nowhere"))
    check = check_java()
    assert not check.ok
    assert "JAVA_HOME" in check.problem


def test_the_host_java_runs_spark() -> None:
    check = check_java()
    assert check.ok, check.problem
    assert check.major in (17, 21)


def test_spark_home_comes_from_the_pyspark_wheel(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SPARK_HOME", raising=False)
    home = find_spark_home()
    assert home.bin("spark-class").is_file()
    assert home.sbin("start-connect-server.sh").is_file()
    assert home.connect_jar().name.startswith("spark-connect_")
    assert home.version.split(".")[0] == "4"


def test_a_directory_without_spark_is_not_a_spark_home(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    assert inspect(tmp_path) is None
    monkeypatch.setenv("SPARK_HOME", str(tmp_path))
    monkeypatch.setattr("importlib.util.find_spec", lambda name: None)
    with pytest.raises(SparkNotFound, match=str(tmp_path)):
        find_spark_home()


def test_doctor_reports_a_taken_port(tmp_path: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        check = check_port(Settings(home=tmp_path, port=port))
    assert not check.ok
    assert "--port" in check.detail


def test_doctor_passes_on_this_host(tmp_path: Path) -> None:
    checks = run_checks(Settings(home=tmp_path, port=0))
    assert [c.name for c in checks] == ["java", "spark", "port", "store", "isolation"]
    assert all(c.ok for c in checks), checks
    assert check_store(Settings(home=tmp_path)).ok
