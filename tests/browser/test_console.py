"""The console end to end, in a real browser, as a new user would use it.

A user signs in, creates a workspace, launches a cluster from the analytics template
through its form, opens JupyterLab and runs a PySpark cell on that cluster, creates a
serverless application, submits a job and sees it succeed; a user of another studio
sees none of it. Every step leaves a screenshot in test-artifacts/console/.
"""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from sparkstudio.db.base import utcnow
from sparkstudio.db.models import Cluster, WorkerUsage
from sparkstudio.db.session import Database
from sparkstudio.ids import new_id
from sparkstudio.server import ControlPlane
from sparkstudio.serverless.releases import supported_release_labels
from tests.browser.conftest import BrowserErrors, Screens, new_context
from tests.integration.test_clusters_api import register_external
from tests.support import (
    PASSWORD,
    UserClient,
    add_member,
    create_studio,
    create_user,
    studio_file,
    unique,
)
from tests.support import (
    expect as expect_status,
)

pytestmark = [pytest.mark.browser, pytest.mark.spark]

CLUSTER_READY = re.compile(r"^(WAITING|RUNNING)$")
JOB = """\
from pyspark.sql import SparkSession

spark = SparkSession.builder.getOrCreate()
print("rows:", spark.range(1000).filter("id % 7 = 0").count())
"""


@pytest.fixture(scope="module")
def sqlite_only(database: Database) -> None:
    if not database.is_sqlite:
        pytest.skip("the console is the same on either database: SQLite only")


def member_of_new_studio(admin: UserClient, who: str) -> tuple[dict[str, Any], str]:
    """A new studio and a new DEVELOPER of it (a password user): the studio and their name."""
    studio = create_studio(admin, unique("team"))
    name: str = create_user(admin, unique(who))["name"]
    add_member(admin, studio["id"], user=name)
    return studio, name


def sign_in(page: Page, plane: ControlPlane, name: str, screens: Screens) -> None:
    page.goto(plane.url + "/console")
    expect(page).to_have_url(re.compile(r"/console/login\?next=/console$"))
    page.get_by_label("User name").fill(name)
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#login .form-error")).to_be_visible()
    screens.shoot(page, "wrong password")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#user-name")).to_have_text(name)


def test_a_new_user_works_in_the_console_and_another_studio_sees_none_of_it(
    sqlite_only: None,
    browser: Browser,
    control_plane: ControlPlane,
    admin: UserClient,
    screens: Screens,
) -> None:
    studio, alice = member_of_new_studio(admin, "alice")
    for template in ("analytics", "single-node"):
        expect_status(admin.put(f"/templates/{template}/shares/{studio['id']}"), 204)
    other, bob = member_of_new_studio(admin, "bob")
    errors = BrowserErrors()
    context = new_context(browser, errors)
    page = context.new_page()

    # Sign in: one studio, so its workspaces open at once.
    sign_in(page, control_plane, alice, screens)
    expect(page.locator("#studio-name")).to_have_text(studio["name"])
    expect(page.locator("#workspaces, #workspace-list .empty")).to_be_visible()
    screens.shoot(page, "signed in")

    # A workspace: a bad name is refused next to its field, then one is created and runs.
    page.get_by_label("Name", exact=True).fill("not a name")
    page.get_by_role("button", name="Create and start").click()
    expect(page.locator("#field-new-workspace-name-error")).to_contain_text("letters, digits")
    screens.shoot(page, "workspace name refused")
    page.get_by_label("Name", exact=True).fill("lab")
    page.get_by_role("button", name="Create and start").click()
    row = page.locator("#workspaces tbody tr", has_text="lab")
    expect(row.locator(".badge")).to_have_text("READY", timeout=60_000)
    screens.shoot(page, "workspace ready")

    # A cluster from the analytics template, through the form made from its parameters.
    page.get_by_role("link", name="Clusters").click()
    page.get_by_role("link", name="Launch a cluster").click()
    page.locator("[data-template=analytics]").click()
    concurrency = page.get_by_label("Concurrent users")
    expect(concurrency).to_have_value("1")  # the template's default
    concurrency.fill("50")
    page.get_by_label("Name", exact=True).fill("shared")
    page.get_by_role("button", name="Launch").click()
    expect(page.locator("#field-launch-parameters-UserConcurrency-error")).to_contain_text("20")
    screens.shoot(page, "cluster parameter refused")
    concurrency.fill("1")
    page.get_by_role("button", name="Launch").click()
    expect(page).to_have_url(re.compile(r"/clusters/cl-[0-9a-z]{16}$"))
    cluster_id = page.url.rsplit("/", 1)[-1]
    screens.shoot(page, "cluster starting")
    expect(page.locator("#cluster-state .badge").first).to_have_text(CLUSTER_READY, timeout=300_000)
    expect(page.locator("#events li").first).to_be_visible()
    screens.shoot(page, "cluster ready")

    # Attach the workspace and run a PySpark cell in JupyterLab, through the proxy.
    page.get_by_role("link", name="Workspaces").click()
    page.locator("[data-workspace=lab]").click()
    page.get_by_label("Attach to cluster").select_option(cluster_id)
    page.locator("#attach").get_by_role("button", name="Attach").click()
    expect(row.locator(".badge")).to_have_text("ATTACHED", timeout=60_000)
    screens.shoot(page, "workspace attached")
    with context.expect_page() as opened:
        row.get_by_role("link", name="Open JupyterLab").click()
    lab = opened.value
    lab.locator(".jp-LauncherCard", has_text="PySpark").first.click(timeout=120_000)
    # The kernel first: keys typed while the notebook is still opening are lost.
    expect(lab.get_by_role("button", name="PySpark | Idle")).to_be_visible(timeout=120_000)
    editor = lab.locator(".jp-Notebook .jp-Cell .cm-content").first
    editor.click()
    lab.keyboard.type("print('sum =', spark.range(10).selectExpr('sum(id) AS s').first().s)")
    expect(editor).to_contain_text("selectExpr")
    lab.keyboard.press("Shift+Enter")
    expect(lab.locator(".jp-OutputArea-output", has_text="sum = 45")).to_be_visible(timeout=120_000)
    expect(lab.locator(".jp-OutputArea-output[data-mime-type*=stderr]")).to_have_count(0)
    screens.shoot(lab, "pyspark cell in jupyterlab")
    lab.close()

    application_id = run_serverless_job(page, screens, control_plane, studio)
    assert errors.seen == [], errors.seen

    # Another studio's user sees none of it, even at its addresses.
    outsider = new_context(browser, errors)
    other_page = outsider.new_page()
    sign_in(other_page, control_plane, bob, screens)
    expect(other_page.locator("#studio-name")).to_have_text(other["name"])
    expect(other_page.locator("main")).not_to_contain_text("lab")
    screens.shoot(other_page, "other studio")
    for path in ("workspaces", f"clusters/{cluster_id}", "serverless"):
        other_page.goto(f"{control_plane.url}/console/studios/{studio['id']}/{path}")
        expect(other_page.locator("main h1")).to_have_text("Not found")
        expect(other_page.locator("main")).not_to_contain_text("shared")
    screens.shoot(other_page, "other studio refused")
    outsider.close()
    context.close()
    expect_status(admin.delete(f"/studios/{studio['id']}/clusters/{cluster_id}"), 202)
    expect_status(admin.post(f"/studios/{studio['id']}/applications/{application_id}/stop"), 202)


def run_serverless_job(
    page: Page, screens: Screens, plane: ControlPlane, studio: dict[str, Any]
) -> str:
    """Create an application, submit a job to it (which starts it) and see it succeed;
    the application's id. The script is in the studio's storage, where a member leaves it."""
    script = studio_file(plane, studio, "jobs/count.py", JOB)
    page.get_by_role("link", name="Serverless").click()
    expect(page.locator("#application-list .empty")).to_be_visible()
    screens.shoot(page, "serverless empty")
    release = page.get_by_label("Release")
    expect(release).to_have_value(next(iter(supported_release_labels())))  # offered, chosen
    page.get_by_label("Name", exact=True).fill("etl")
    page.get_by_role("button", name="Create application").click()
    page.locator("[data-application=etl]").click()
    expect(page).to_have_url(re.compile(r"/serverless/app-[0-9a-z]{16}$"))
    application_id = page.url.rsplit("/", 1)[-1]
    entry_point = page.get_by_label("Entry point")
    storage = studio["storage_location"].rstrip("/")
    expect(entry_point).to_have_attribute("placeholder", f"{storage}/jobs/daily.py")
    entry_point.fill(script.as_uri())
    page.get_by_role("button", name="Submit job").click()
    expect(page).to_have_url(re.compile(r"/runs/jr-[0-9a-z]{16}$"))
    screens.shoot(page, "job submitted")
    expect(page.locator("#run-state .badge")).to_have_text("SUCCESS", timeout=300_000)
    expect(page.locator("#run-stdout")).to_contain_text("rows: 143", timeout=30_000)
    screens.shoot(page, "job succeeded")
    return application_id


def test_schedules_are_created_paused_and_resumed_from_the_console(
    sqlite_only: None,
    browser: Browser,
    control_plane: ControlPlane,
    admin: UserClient,
    screens: Screens,
) -> None:
    studio, carol = member_of_new_studio(admin, "carol")
    cluster = register_external(admin, control_plane, studio["id"])  # starts nothing
    errors = BrowserErrors()
    context = new_context(browser, errors)
    page = context.new_page()
    sign_in(page, control_plane, carol, screens)
    page.get_by_role("link", name="Schedules").click()
    expect(page.locator("#schedule-list .empty")).to_be_visible()
    screens.shoot(page, "no schedules")

    page.get_by_label("Name", exact=True).fill("nightly")
    page.get_by_label("Cron expression").fill("every night")
    storage = studio["storage_location"].rstrip("/")
    uri = page.get_by_label("…or notebook URI")
    expect(uri).to_have_attribute("placeholder", f"{storage}/reports/daily.ipynb")
    uri.fill("s3://notebooks/reports/nightly.ipynb")
    page.get_by_label("Run on").select_option(value=f"CLUSTER:{cluster['id']}")
    page.get_by_label("Time zone").select_option("Europe/Paris")
    page.get_by_role("button", name="Create schedule").click()
    expect(page.locator("#field-new-schedule-cron-error")).to_contain_text("five fields")
    screens.shoot(page, "cron refused")
    page.get_by_label("Cron expression").fill("0 2 * * 1-5")
    page.get_by_role("button", name="Create schedule").click()
    # A notebook is read from the studio's storage: one elsewhere is refused at its field.
    expect(page.locator("#field-new-schedule-notebook-uri-error")).to_contain_text(storage)
    screens.shoot(page, "notebook outside the studio refused")
    page.get_by_label("…or notebook URI").fill(f"{storage}/reports/nightly.ipynb")
    page.get_by_role("button", name="Create schedule").click()
    expect(page.locator("main h1")).to_have_text("Schedule nightly")
    expect(page.locator("#schedule-state .badge")).to_have_text("ACTIVE")
    expect(page.locator("#schedule-when")).to_contain_text("Europe/Paris")
    page.get_by_role("button", name="Pause").click()
    expect(page.locator("#schedule-state .badge")).to_have_text("PAUSED")
    expect(page.locator("#schedule-next")).to_have_text("none while paused")
    page.get_by_role("button", name="Resume").click()
    expect(page.locator("#schedule-state .badge")).to_have_text("ACTIVE")
    expect(page.locator("#schedule-timeline")).to_contain_text("paused by")
    screens.shoot(page, "schedule resumed")
    page.get_by_role("link", name="Schedules", exact=True).click()
    row = page.locator("#schedules tbody tr", has_text="nightly")
    expect(row.locator(".badge")).to_have_text("ACTIVE")
    screens.shoot(page, "schedules")
    schedules = expect_status(admin.get(f"/studios/{studio['id']}/notebook-schedules"), 200)
    [created] = schedules["items"]
    assert (created["cron"], created["time_zone"], created["status"]) == (
        "0 2 * * 1-5", "Europe/Paris", "ACTIVE"
    )  # fmt: skip
    assert errors.seen == [], errors.seen
    context.close()


def test_a_platform_admin_creates_a_user_and_reads_it_in_the_audit_trail(
    sqlite_only: None,
    browser: Browser,
    control_plane: ControlPlane,
    admin: UserClient,
    screens: Screens,
) -> None:
    boss = create_user(admin, unique("boss"), is_platform_admin=True)["name"]
    errors = BrowserErrors()
    context = new_context(browser, errors)
    page = context.new_page()
    sign_in(page, control_plane, boss, screens)
    page.get_by_role("link", name="Admin").click()
    newcomer = unique("dana")
    form = page.locator("#new-user")
    form.get_by_label("User name").fill("Dana Smith")
    form.get_by_role("button", name="Create user").click()
    expect(page.locator("#field-new-user-name-error")).to_be_visible()
    screens.shoot(page, "user name refused")
    form.get_by_label("User name").fill(newcomer)
    form.get_by_label("Password").fill(PASSWORD)
    form.get_by_role("button", name="Create user").click()
    expect(page.locator("#admin-body table")).to_contain_text(newcomer)
    screens.shoot(page, "user created")

    page.get_by_role("link", name="Audit trail").click()
    page.get_by_label("Who (user name)").fill(boss)
    page.get_by_label("Action").fill("user:Create")
    page.get_by_role("button", name="Filter").click()
    records = page.locator("#audit-records tbody tr")
    expect(records).to_have_count(2)  # the refused name, then the user
    expect(records.first).to_contain_text("SUCCEEDED")
    expect(records.last).to_contain_text("FAILED")
    screens.shoot(page, "audit trail")
    with page.expect_download() as download:
        page.locator("#audit-export").click()
    lines = Path(download.value.path()).read_text().splitlines()
    assert [json.loads(line)["status_code"] for line in lines] == [422, 201]
    assert errors.seen == [], errors.seen
    context.close()


def test_usage_is_drawn_as_charts_and_downloads_as_csv(
    sqlite_only: None,
    browser: Browser,
    control_plane: ControlPlane,
    admin: UserClient,
    database: Database,
    screens: Screens,
) -> None:
    studio, erin = member_of_new_studio(admin, "erin")
    # Two workers of a cluster that ran earlier today: 2 cores and 4 GiB for 2 hours each.
    now = utcnow()
    with database.transaction() as db:
        cluster = Cluster(
            id=new_id("cl"), studio_id=studio["id"], name="nightly", owner_name=erin,
            network="default", backend="local", template_name="analytics", template_version=1,
            parameters={}, spec={}, tags={"team": "bi"}, workers_min=1, workers_max=2,
            idle_timeout_seconds=3600, status="TERMINATED", target="TERMINATED",
            ended_at=now - timedelta(hours=1),
        )  # fmt: skip
        db.add(cluster)
        for worker in ("worker-1", "worker-2"):
            db.add(
                WorkerUsage(
                    cluster_id=cluster.id, studio_id=studio["id"], worker=worker, cores=2,
                    memory_mib=4096, started_at=now - timedelta(hours=3),
                    ended_at=now - timedelta(hours=1),
                )
            )  # fmt: skip
    errors = BrowserErrors()
    context = new_context(browser, errors)
    page = context.new_page()
    sign_in(page, control_plane, erin, screens)
    page.get_by_role("link", name="Usage").click()
    page.get_by_role("link", name="Last 24 hours").click()
    expect(page.locator("svg.chart rect").first).to_be_visible()
    expect(page.locator("main")).to_contain_text("nightly")
    screens.shoot(page, "usage charts")
    with page.expect_download() as download:
        page.get_by_role("button", name="Download CSV").first.click()
    rows = Path(download.value.path()).read_text().splitlines()
    assert rows[0].startswith("cluster,clusters,core_hours,memory_gb_hours")
    [nightly] = [row.split(",") for row in rows if row.startswith("nightly")]
    assert [float(value) for value in nightly[2:4]] == [8.0, 16.0]  # core-h, memory-GB-h
    assert errors.seen == [], errors.seen
    context.close()
