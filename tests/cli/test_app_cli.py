"""``sparkstudio app``, run as a user runs it, against the shared control plane.

No test here starts Spark: applications are created, listed, updated, stopped while
nothing runs, and deleted.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sparkstudio.server import ControlPlane
from sparkstudio.serverless.releases import supported_release_labels
from tests.cli.test_cli import run
from tests.cli.test_cluster_cli import WAIT, Env, _env, _fails, _json
from tests.support import UserClient, create_studio

LABEL = next(iter(supported_release_labels()))


@pytest.fixture
def admin_env(control_plane: ControlPlane, admin: UserClient, tmp_path: Path) -> Env:
    return _env(control_plane, admin.token, tmp_path / "admin.json")


@pytest.fixture
def target(admin: UserClient) -> dict[str, Any]:
    return create_studio(admin)


def test_app_create_list_update_stop_delete(admin_env: Env, target: dict[str, Any]) -> None:
    studio = target["name"]
    created = _json(
        [
            "app",
            "create",
            "etl",
            "--release-label",
            LABEL,
            "--executors",
            "2",
            "--executor-cpu",
            "1 vCPU",
            "--executor-memory",
            "2 GB",
            "--max-cpu",
            "8 vCPU",
            "--max-memory",
            "16 GB",
            "--idle-timeout",
            "30",
            "--tag",
            "team=data",
            "--wait",
            "--timeout",
            WAIT,
            "-s",
            studio,
        ],
        admin_env,
    )
    assert created["status"] == "CREATED"
    assert created["initial_capacity"]["EXECUTOR"]["worker_count"] == 2
    assert created["auto_stop_configuration"] == {"enabled": True, "idle_timeout_minutes": 30}
    assert created["workers"] == {"min": 2, "max": 7, "running": 0}

    table = run(["app", "list", "-s", studio], admin_env).stdout
    assert "etl" in table and "CREATED" in table and "30 min" in table and "team=data" in table
    assert _json(["app", "list", "--state", "STOPPED", "-s", studio], admin_env) == []
    described = run(["app", "describe", created["id"], "-s", studio], admin_env).stdout
    assert LABEL in described and "release_label" in described

    updated = _json(
        ["app", "update", "etl", "--no-auto-stop", "--tag", "team=ml", "-s", studio], admin_env
    )
    assert updated["auto_stop_configuration"]["enabled"] is False
    assert updated["tags"] == {"team": "ml"}
    _fails(
        ["app", "update", "etl", "--max-cpu", "2", "--max-memory", "16 GB", "-s", studio],
        admin_env,
        "maximum_capacity.cpu",
        "must fit within the maximum capacity",
    )

    stopped = run(["app", "stop", "etl", "--wait", "--timeout", WAIT, "-s", studio], admin_env)
    assert f"Application etl ({created['id']}) is CREATED." in stopped.stdout
    deleted = run(["app", "delete", "etl", "--wait", "--timeout", WAIT, "-s", studio], admin_env)
    assert f"Application etl ({created['id']}) is TERMINATED." in deleted.stdout
    statuses = [e["to_status"] for e in _json(["app", "events", "etl", "-s", studio], admin_env)]
    assert statuses[0] == "CREATING" and statuses[-1] == "TERMINATED"
    _fails(["app", "start", "etl", "-s", studio], admin_env, "TERMINATED")


def test_app_create_names_what_is_not_supported(admin_env: Env, target: dict[str, Any]) -> None:
    studio = target["name"]
    create = ["app", "create", "bad", "-s", studio, "--release-label"]
    _fails([*create, LABEL, "--type", "HIVE"], admin_env, "type", "HIVE applications")
    _fails([*create, "emr-7.0.0"], admin_env, "release_label", LABEL)
    _fails(
        [*create, LABEL, "--executor-cpu", "lots", "--executor-memory", "1 GB"],
        admin_env,
        "initial_capacity.EXECUTOR.worker_configuration.cpu",
    )
    _fails([*create, LABEL, "--executors", "1"], admin_env, "--executor-cpu", code=2)
