"""``sparkstudio template`` and ``sparkstudio cluster``, run as a user runs them.

The commands run as processes against the shared control plane (SQLite and PostgreSQL).
No test here starts Spark: launches from a template are refused before anything starts
(a bad parameter, a quota), and the cluster that does run is an external Spark Connect
endpoint, the control plane's own port, which the external backend only checks answers.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import textwrap
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from sparkstudio.server import ControlPlane
from tests.cli.test_cli import run
from tests.support import NewUser, UserClient, add_member, create_studio, unique

Env = dict[str, str]
WAIT = "30"  # seconds a command may wait for a cluster (the reconciler looks every 0.5 s)


def _env(control_plane: ControlPlane, token: str, config: Path) -> Env:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SPARKSTUDIO_")}
    clean.update(
        SPARKSTUDIO_CONFIG=str(config),
        SPARKSTUDIO_URL=control_plane.url,
        SPARKSTUDIO_TOKEN=token,
        COLUMNS="200",
    )
    return clean


@pytest.fixture
def admin_env(control_plane: ControlPlane, admin: UserClient, tmp_path: Path) -> Env:
    """The environment of a platform admin's shell (a token, as scripts use)."""
    return _env(control_plane, admin.token, tmp_path / "admin.json")


@pytest.fixture
def target(admin: UserClient) -> dict[str, Any]:
    """A fresh studio."""
    return create_studio(admin)


def _json(args: list[str], env: Env, stdin: str | None = None) -> Any:
    return json.loads(run([*args, "--json"], env, stdin).stdout)


def _fails(
    args: list[str], env: Env, *expected: str, code: int = 1
) -> subprocess.CompletedProcess[str]:
    """Run a command that must fail with ``code`` and say each of ``expected``."""
    result = run(args, env, check=False)
    assert result.returncode == code, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    # Rich wraps long lines: compare the words, not the line breaks.
    words = " ".join(result.stderr.replace("│", " ").split())
    for text in expected:
        assert text in words, result.stderr
    return result


def _template_text(name: str, description: str = "A test template.") -> str:
    return textwrap.dedent(
        f"""\
        name: {name}
        description: {description}
        parameters:
          Workers:
            type: Number
            description: How many workers the cluster may scale out to.
            default: 2
            min: 1
            max: 8
          Flavor:
            type: String
            description: Lean or rich executors.
            default: lean
            allowed_values: [lean, rich]
        cluster:
          workers_min: 1
          workers_max: {{Ref: Workers}}
          worker_cores: 2
          worker_memory_mib: 2048
          executor_cores: 1
          executor_memory_mib: 1024
          tags:
            flavor: {{Ref: Flavor}}
        """
    )


def _port(control_plane: ControlPlane) -> int:
    port = urlsplit(control_plane.url).port
    assert port is not None
    return port


def _closed_port() -> int:
    """A local port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


# -- templates --------------------------------------------------------------------------


def test_template_publish_list_describe_share_delete(
    admin_env: Env, target: dict[str, Any], tmp_path: Path
) -> None:
    name = unique("tpl")
    path = tmp_path / "template.yaml"
    path.write_text(_template_text(name))

    published = run(["template", "publish", str(path)], admin_env).stdout
    assert f"Published template {name} version 1." in published
    assert "Workers" in published and "Flavor" in published
    path.write_text(_template_text(name, "Second version."))
    again = _json(["template", "publish", str(path)], admin_env)
    assert again["version"] == 2 and again["versions"] == [1, 2]

    # Platform admins without a studio chosen see every template.
    listed = _json(["template", "list"], admin_env)
    mine = next(t for t in listed if t["name"] == name)
    assert mine["latest_version"] == 2 and mine["description"] == "Second version."
    assert name in run(["template", "list"], admin_env).stdout

    shown = run(["template", "describe", name], admin_env).stdout
    for text in ("NAME", "TYPE", "DEFAULT", "ALLOWED", "DESCRIPTION"):
        assert text in shown
    workers = next(line for line in shown.splitlines() if line.strip().startswith("Workers"))
    assert "Number" in workers and "2" in workers and "1..8" in workers
    assert "How many workers" in workers
    flavor = next(line for line in shown.splitlines() if line.strip().startswith("Flavor"))
    assert "String" in flavor and "lean, rich" in flavor
    first = _json(["template", "describe", name, "--version", "1"], admin_env)
    assert first["version"] == 1 and "description: A test template." in first["body"]
    assert first["shared_with"] == []

    # Shared with a studio: its members see it, with its parameters.
    shared = run(["template", "share", name, "--studio", target["name"]], admin_env)
    assert f"Shared template {name}" in shared.stdout
    detail = _json(["template", "describe", name], admin_env)
    assert detail["shared_with"] == [target["id"]]
    in_studio = _json(["template", "list", "--studio", target["name"]], admin_env)
    assert [t["name"] for t in in_studio] == [name]
    assert [p["name"] for p in in_studio[0]["parameters"]] == ["Workers", "Flavor"]

    # The current studio ('studio use') chooses the studio's view too.
    run(["studio", "use", target["name"]], admin_env)
    table = run(["template", "list"], admin_env).stdout
    assert name in table and "PARAMETERS" in table
    public = _json(["template", "describe", name], admin_env)
    assert public["version"] == 2 and "body" not in public and "shared_with" not in public
    assert "1..8" in run(["template", "describe", name], admin_env).stdout

    run(["template", "unshare", name, "--studio", target["name"]], admin_env)
    assert _json(["template", "list", "--studio", target["name"]], admin_env) == []
    _fails(
        ["template", "unshare", name, "--studio", target["name"]],
        admin_env,
        "is not shared with studio",
        "[NotFound]",
    )

    run(["template", "delete", name], admin_env)
    _fails(
        ["template", "describe", name, "--studio", target["id"]],
        admin_env,
        f"no template '{name}' is shared",
    )
    admin_only = {**admin_env, "SPARKSTUDIO_CONFIG": str(tmp_path / "no-default-studio.json")}
    _fails(["template", "describe", name], admin_only, f"no template '{name}'", "[NotFound]")


def test_publishing_an_invalid_template_names_the_problem(admin_env: Env, tmp_path: Path) -> None:
    name = unique("bad")
    bad_default = tmp_path / "bad-default.yaml"
    bad_default.write_text(
        _template_text(name).replace("default: lean", "default: heavy"),
    )
    _fails(
        ["template", "publish", str(bad_default)],
        admin_env,
        "parameters.Flavor.default",
        "lean, rich",
        "[ValidationError]",
    )
    unknown_ref = tmp_path / "unknown-ref.yaml"
    unknown_ref.write_text(_template_text(name).replace("{Ref: Workers}", "{Ref: Nodes}"))
    _fails(["template", "publish", str(unknown_ref)], admin_env, "Nodes", "[ValidationError]")
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: [unclosed\n")
    _fails(["template", "publish", str(broken)], admin_env, "template: line 2", "[ValidationError]")
    _fails(
        ["template", "publish", str(tmp_path / "missing.yaml")],
        admin_env,
        "does not exist",
        code=2,
    )
    # Nothing was stored.
    assert name not in [t["name"] for t in _json(["template", "list"], admin_env)]


# -- clusters refused before anything starts ----------------------------------------------


def test_cluster_create_refuses_bad_parameters(admin_env: Env, target: dict[str, Any]) -> None:
    studio = target["name"]
    run(["template", "share", "analytics", "--studio", studio], admin_env)
    create = ["cluster", "create", unique("c"), "--template", "analytics", "-s", studio]

    _fails(
        [*create, "-p", "UserConcurrency=3", "-p", "MemoryProfile=huge"],
        admin_env,
        "parameters.MemoryProfile",
        "must be one of small, medium, large (got 'huge')",
        "[ValidationError]",
    )
    _fails(
        [*create, "-p", "UserConcurrency=many"],
        admin_env,
        "parameters.UserConcurrency",
        "from 1 to 20",
    )
    _fails([*create, "-p", "Colour=red"], admin_env, "parameters.Colour", "unknown parameter")
    _fails([*create, "-p", "UserConcurrency"], admin_env, "NAME=VALUE", code=2)
    _fails(
        ["cluster", "create", unique("c"), "--template", "single-node", "-s", studio],
        admin_env,
        "no template 'single-node' is shared",
        "shared: analytics",
    )
    assert _json(["cluster", "list", "--all", "-s", studio], admin_env) == []


def test_quota_exceeded_is_refused_with_the_quota(
    admin_env: Env,
    control_plane: ControlPlane,
    admin: UserClient,
    new_user: NewUser,
    target: dict[str, Any],
    tmp_path: Path,
) -> None:
    studio = target["name"]
    run(["template", "share", "analytics", "--studio", studio], admin_env)
    quotas = _json(["studio", "set-quotas", studio, "--max-clusters", "0"], admin_env)
    assert quotas["max_clusters"] == 0 and quotas["max_cores"] is None
    shown = run(["studio", "quotas", studio], admin_env).stdout
    clusters = next(line for line in shown.splitlines() if line.strip().startswith("clusters"))
    assert [cell.strip() for cell in clusters.split("│")] == ["clusters", "0", "0"]

    developer = new_user()
    add_member(admin, target["id"], user=developer.name)
    dev_env = _env(control_plane, developer.token, tmp_path / "developer.json")
    _fails(
        [
            "cluster",
            "create",
            "team-cluster",
            "--template",
            "analytics",
            "-p",
            "UserConcurrency=3",
            "-s",
            studio,
        ],
        dev_env,
        f"studio '{studio}' quota max_clusters is 0 clusters",
        "[QuotaExceeded]",
    )
    assert _json(["studio", "quotas", studio], dev_env)["clusters"] == 0
    _fails(["studio", "set-quotas", studio, "--max-clusters", "5"], dev_env, "[AccessDenied]")


# -- an external endpoint: a cluster that runs without Spark -----------------------------


def test_register_an_external_endpoint_and_use_it(
    admin_env: Env, control_plane: ControlPlane, target: dict[str, Any]
) -> None:
    studio = target["name"]
    endpoint = f"sc://127.0.0.1:{_port(control_plane)}"
    registered = run(
        [
            "cluster",
            "register",
            "byo",
            "--connect-url",
            endpoint,
            "--token-stdin",
            "--tag",
            "team=data",
            "--timeout",
            WAIT,
            "-s",
            studio,
        ],
        admin_env,
        "secret-token\n",
    ).stdout
    assert "WAITING" in registered and "usable: Spark Connect answers" in registered
    assert f"sparkstudio cluster connect byo --studio {studio}" in registered
    assert "secret-token" not in registered

    listed = _json(["cluster", "list", "-s", studio], admin_env)
    assert [(c["name"], c["status"], c["backend"]) for c in listed] == [
        ("byo", "WAITING", "external")
    ]
    cluster_id = listed[0]["id"]
    table = run(["cluster", "list", "-s", studio], admin_env).stdout
    assert "byo" in table and "WAITING" in table and "team=data" in table
    assert _json(["cluster", "describe", "byo", "-s", studio], admin_env)["id"] == cluster_id
    described = run(["cluster", "describe", cluster_id, "-s", studio], admin_env).stdout
    assert "byo" in described and "secret-token" not in described

    # Members connect through the platform's Connect front, with a token of their own.
    url = run(["cluster", "connect", "byo", "-s", studio], admin_env).stdout.strip()
    front = control_plane.isolation.public_connect_url
    assert url.startswith(f"{front}/;token=ssc1.") and url.endswith(";user_id=admin")
    assert "secret-token" not in url
    again = _json(["cluster", "connect", cluster_id, "-s", studio], admin_env)["url"]
    assert again.startswith(f"{front}/;token=ssc1.")

    _fails(["cluster", "ui", "byo", "-s", studio], admin_env, "registered without --ui-url")
    _fails(["cluster", "scale", "byo", "-s", studio, "--workers", "2"], admin_env, "external")
    _fails(
        ["cluster", "scale", "byo", "-s", studio, "--workers", "2", "--max", "3"],
        admin_env,
        "not both",
        code=2,
    )
    report = _json(["cluster", "usage", "-s", studio, "--group-by", "tag:team"], admin_env)
    assert report["group_by"] == "tag:team" and report["studio_id"] == target["id"]
    assert "CORE-HOURS" in run(["cluster", "usage", "-s", studio], admin_env).stdout
    _fails(["cluster", "usage", "-s", studio, "--group-by", "colour"], admin_env, "group_by")

    terminate = ["cluster", "terminate", "byo", "-s", studio, "--wait", "--timeout", WAIT]
    terminated = run(terminate, admin_env).stdout
    assert f"Cluster byo ({cluster_id}) is terminated." in terminated
    assert _json(["cluster", "list", "-s", studio], admin_env) == []
    every = _json(["cluster", "list", "--all", "-s", studio], admin_env)
    assert [(c["id"], c["status"]) for c in every] == [(cluster_id, "TERMINATED")]
    _fails(
        ["cluster", "connect", "byo", "-s", studio],
        admin_env,
        "it takes connections when RUNNING or WAITING",
    )
    statuses = [
        e["to_status"] for e in _json(["cluster", "events", "byo", "-s", studio], admin_env)
    ]
    assert statuses[0] == "STARTING" and statuses[-1] == "TERMINATED" and "WAITING" in statuses
    assert "TERMINATED" in run(["cluster", "events", cluster_id, "-s", studio], admin_env).stdout


def test_register_with_a_ui_prints_the_proxied_ui_url(
    admin_env: Env, control_plane: ControlPlane, target: dict[str, Any]
) -> None:
    studio = target["name"]
    port = _port(control_plane)
    cluster = _json(
        [
            "cluster",
            "register",
            "with-ui",
            "--connect-url",
            f"sc://127.0.0.1:{port}",
            "--ui-url",
            f"http://127.0.0.1:{port}",
            "--timeout",
            WAIT,
            "-s",
            studio,
        ],
        admin_env,
    )
    assert cluster["status"] == "WAITING" and cluster["ui_path"]
    url = run(["cluster", "ui", "with-ui", "-s", studio], admin_env).stdout.strip()
    assert url == control_plane.url + cluster["ui_path"]
    assert url.endswith(f"/studios/{target['id']}/clusters/{cluster['id']}/ui/")
    run(["cluster", "terminate", cluster["id"], "-s", studio], admin_env)


def test_register_an_endpoint_that_does_not_answer(admin_env: Env, target: dict[str, Any]) -> None:
    studio = target["name"]
    address = f"127.0.0.1:{_closed_port()}"
    result = _fails(
        [
            *("cluster", "register", "gone", "--connect-url", f"sc://{address}"),
            *("--timeout", WAIT, "-s", studio),
        ],
        admin_env,
        "TERMINATED_WITH_ERRORS",
        f"the Spark Connect endpoint {address} does not answer",
        "[ENDPOINT_UNREACHABLE]",
    )
    assert "Connect with" not in result.stdout
    _fails(
        ["cluster", "register", "bad", "--connect-url", "http://example.com", "-s", studio],
        admin_env,
        "connect_url",
        "[ValidationError]",
    )
    every = _json(["cluster", "list", "--all", "-s", studio], admin_env)
    assert [c["status"] for c in every] == ["TERMINATED_WITH_ERRORS"]
