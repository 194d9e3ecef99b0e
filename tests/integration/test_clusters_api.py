"""Templates, guardrails and cluster records through the API, without starting Spark.

External clusters (a Spark Connect endpoint that runs elsewhere) stand in for running ones:
the control plane's own port is an endpoint that answers. Launches that must be refused
are refused before anything starts, so they start nothing either.
"""

from __future__ import annotations

from typing import Any

from sparkstudio.server import ControlPlane
from tests.support import (
    BOTH_DATABASES,
    NewUser,
    UserClient,
    add_member,
    cluster_events,
    create_studio,
    expect,
    expect_error,
    unique,
    wait_for_cluster,
)

pytestmark = BOTH_DATABASES  # it exercises the database layer: on both

SMALL = (
    "cluster: {workers_min: 1, workers_max: 2, worker_cores: 1, worker_memory_mib: 1024,"
    " executor_cores: 1, executor_memory_mib: 512}\n"
)


def template_text(name: str, extra: str = "") -> str:
    return f"name: {name}\ndescription: test template\n{extra}{SMALL}"


def register_external(
    client: UserClient, plane: ControlPlane, studio_id: str, **fields: Any
) -> dict[str, Any]:
    port = plane.url.rsplit(":", 1)[1]
    body = {"name": unique("ext"), "connect_url": f"sc://127.0.0.1:{port}", **fields}
    result: dict[str, Any] = expect(
        client.post(f"/studios/{studio_id}/clusters/external", json=body), 201
    )
    return result


def test_publishing_again_makes_a_new_version_and_shares_decide_who_sees_it(
    admin: UserClient, new_user: NewUser
) -> None:
    name = unique("tpl")
    first = expect(admin.post("/templates", json={"body": template_text(name)}), 201)
    assert (first["version"], first["versions"], first["shared_with"]) == (1, [1], [])
    params = "parameters:\n  Size: {type: Number, default: 1, min: 1, max: 4}\n"
    second = expect(admin.post("/templates", json={"body": template_text(name, params)}), 201)
    assert (second["version"], second["versions"]) == (2, [1, 2])
    old = expect(admin.get(f"/templates/{name}", params={"version": 1}), 200)
    assert old["parameters"] == [] and "Size" not in old["body"]

    studio = create_studio(admin)
    developer = new_user()
    add_member(admin, studio["id"], user=developer.name)
    shared = f"/studios/{studio['id']}/templates"
    assert name not in {t["name"] for t in expect(developer.get(shared), 200)}
    expect_error(developer.get(f"{shared}/{name}"), 404, "NotFound")
    expect_error(developer.post("/templates", json={"body": template_text(unique("t"))}), 403)

    expect(admin.put(f"/templates/{name}/shares/{studio['id']}"), 204)
    expect(admin.put(f"/templates/{name}/shares/{studio['id']}"), 204)  # idempotent
    seen = expect(developer.get(f"{shared}/{name}"), 200)
    assert seen["version"] == 2 and seen["parameters"][0]["name"] == "Size"
    assert "body" not in seen  # members see the questions, not how they resolve
    expect(admin.delete(f"/templates/{name}/shares/{studio['id']}"), 204)
    expect_error(developer.get(f"{shared}/{name}"), 404)


def test_an_invalid_template_is_refused_naming_the_problem(admin: UserClient) -> None:
    text = template_text(unique("tpl")).replace("workers_max: 2", "workers_max: {Ref: Missing}")
    error = expect_error(admin.post("/templates", json={"body": text}), 422, "ValidationError")
    assert "Missing" in error["message"]


def test_launch_guardrails_refuse_before_anything_starts(
    admin: UserClient, new_user: NewUser
) -> None:
    studio = create_studio(admin)
    developer = new_user()
    add_member(admin, studio["id"], user=developer.name)
    clusters = f"/studios/{studio['id']}/clusters"

    # Not shared with the studio: no such template, and the shared ones are named.
    error = expect_error(developer.post(clusters, json={"name": "c", "template": "analytics"}), 422)
    assert error["fields"][0]["field"] == "template"
    assert "shared: none" in error["message"]
    expect(admin.put(f"/templates/analytics/shares/{studio['id']}"), 204)

    # A bad parameter value names the parameter and what it allows.
    body = {"name": "c", "template": "analytics", "parameters": {"MemoryProfile": "huge"}}
    error = expect_error(developer.post(clusters, json=body), 422, "ValidationError")
    assert error["fields"] == [
        {
            "field": "parameters.MemoryProfile",
            "message": "must be one of small, medium, large (got 'huge')",
        }
    ]
    body = {"name": "c", "template": "analytics", "parameters": {"UserConcurrency": 99}}
    error = expect_error(developer.post(clusters, json=body), 422)
    assert error["fields"][0]["field"] == "parameters.UserConcurrency"
    body = {"name": "c", "template": "analytics", "template_version": 9}
    assert expect_error(developer.post(clusters, json=body), 422)["fields"][0]["field"] == (
        "template_version"
    )

    # A raw spec is a stronger permission than a template.
    spec = {"name": "c", "spec": {"workers_min": 1, "workers_max": 1, "worker_cores": 1,
                                  "worker_memory_mib": 1024, "executor_cores": 1,
                                  "executor_memory_mib": 512}}  # fmt: skip
    expect_error(developer.post(f"{clusters}/from-spec", json=spec), 403, "AccessDenied")

    # Quotas: cores are counted at the cluster's most workers.
    expect(admin.put(f"/studios/{studio['id']}/quotas", json={"max_cores": 3}), 200)
    body = {"name": "c", "template": "analytics", "parameters": {"UserConcurrency": 2}}
    error = expect_error(developer.post(clusters, json=body), 409, "QuotaExceeded")
    assert "max_cores is 3 cores" in error["message"]
    assert "needs 20 more" in error["message"]  # 2 users x 10 executors / 2 per node x 2 cores
    expect(admin.put(f"/studios/{studio['id']}/quotas", json={"max_clusters": 0}), 200)
    error = expect_error(developer.post(clusters, json=body), 409, "QuotaExceeded")
    assert "max_clusters" in error["message"]
    # Nothing was recorded by the refused launches.
    assert expect(admin.get(clusters), 200)["items"] == []
    quotas = expect(admin.get(f"/studios/{studio['id']}/quotas"), 200)
    assert quotas == {
        "max_clusters": 0,
        "max_cores": None,
        "max_memory_mib": None,
        "clusters": 0,
        "cores": 0,
        "memory_mib": 0,
    }
    expect_error(developer.put(f"/studios/{studio['id']}/quotas", json={"max_clusters": 9}), 403)


def test_an_external_cluster_is_checked_listed_connected_and_forgotten(
    control_plane: ControlPlane, admin: UserClient, new_user: NewUser
) -> None:
    studio = create_studio(admin)
    developer = new_user()
    add_member(admin, studio["id"], user=developer.name)
    cluster = register_external(admin, control_plane, studio["id"], token="s3cret-token")
    assert cluster["backend"] == "external" and cluster["template"] is None
    ready = wait_for_cluster(developer, studio["id"], cluster["id"], {"WAITING"}, 30)
    assert ready["status_reason"]["code"] == "READY"
    assert "token" not in str(ready)  # the token is never shown, only given to connect
    connection = expect(
        developer.get(f"/studios/{studio['id']}/clusters/{cluster['id']}/connection"), 200
    )
    # Through the platform's Connect front, with a token of the member's own: the
    # endpoint's own token stays inside the platform.
    front = control_plane.isolation.public_connect_url
    url = connection["url"]
    assert url.startswith(f"{front}/;token=ssc1.") and url.endswith(f";user_id={developer.name}")
    assert "s3cret-token" not in url and connection["expires_at"]
    codes = [e["reason"]["code"] for e in cluster_events(admin, studio["id"], cluster["id"])]
    assert "READOPTED" not in codes

    listing = f"/studios/{studio['id']}/clusters"
    assert [c["id"] for c in expect(admin.get(listing, params={"active": "true"}), 200)[
        "items"
    ]] == [cluster["id"]]  # fmt: skip
    assert expect(admin.get(listing, params={"active": "false"}), 200)["items"] == []
    scale = {"workers_min": 0, "workers_max": 0}
    error = expect_error(
        admin.put(f"{listing}/{cluster['id']}/scaling", json=scale), 409, "NotSupported"
    )
    assert "external" in error["message"]

    # A studio with a live cluster cannot be deleted, nor can its owner.
    expect_error(admin.delete(f"/studios/{studio['id']}"), 409, "InUse")
    # (A platform admin: only they may register an endpoint on this host's own addresses.)
    ended_owner = new_user(platform_admin=True)
    add_member(admin, studio["id"], user=ended_owner.name, role="ADMIN")
    owned = register_external(ended_owner, control_plane, studio["id"])
    expect_error(admin.delete(f"/users/{ended_owner.user_id}"), 409, "InUse")

    for target in (cluster, owned):
        expect(developer.delete(f"{listing}/{target['id']}"), 202)
        ended = wait_for_cluster(admin, studio["id"], target["id"], {"TERMINATED"}, 30)
        assert ended["status_reason"]["code"] == "USER_REQUEST"
        assert developer.name in ended["status_reason"]["message"]
    assert expect(admin.get(listing, params={"active": "true"}), 200)["items"] == []
    # Its owner may go now; the cluster keeps the name of who launched it.
    expect(admin.delete(f"/users/{ended_owner.user_id}"), 204)
    kept = expect(admin.get(f"{listing}/{owned['id']}"), 200)
    assert (kept["owner"], kept["owner_id"]) == (ended_owner.name, None)
    expect(admin.delete(f"/studios/{studio['id']}"), 204)


def test_an_endpoint_that_does_not_answer_ends_with_errors(
    admin: UserClient, studio: dict[str, Any]
) -> None:
    body = {"name": unique("ext"), "connect_url": "sc://127.0.0.1:1"}
    cluster = expect(admin.post(f"/studios/{studio['id']}/clusters/external", json=body), 201)
    ended = wait_for_cluster(admin, studio["id"], cluster["id"], {"TERMINATED_WITH_ERRORS"}, 30)
    assert ended["status_reason"]["code"] == "ENDPOINT_UNREACHABLE"
    assert "127.0.0.1:1" in ended["status_reason"]["message"]


def test_usage_reports_check_their_window_and_grouping(
    admin: UserClient, studio: dict[str, Any]
) -> None:
    usage = f"/studios/{studio['id']}/usage"
    report = expect(admin.get(usage, params={"since": "2026-01-01T00:00:00"}), 200)
    assert report["since"].startswith("2026-01-01T00:00:00")  # no offset: UTC
    assert report["rows"] == [] and report["total"]["core_seconds"] == 0
    error = expect_error(admin.get(usage, params={"group_by": "colour"}), 422)
    assert error["fields"][0]["field"] == "group_by"
    error = expect_error(
        admin.get(usage, params={"since": "2026-02-01T00:00:00Z", "until": "2026-01-01T00:00:00Z"}),
        422,
    )
    assert error["fields"][0]["field"] == "until"
