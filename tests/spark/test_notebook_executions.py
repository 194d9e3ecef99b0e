"""Notebook executions on real Spark: a parameterized notebook on the shared cluster and
on a serverless application, a failing notebook's error, and a stop.

The notebooks run in the PySpark kernel (``spark`` and ``%%sql`` as in a workspace).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import nbformat
import pytest

from sparkstudio.db.models import NotebookExecution
from sparkstudio.db.session import Database
from sparkstudio.serverless.releases import supported_release_labels
from sparkstudio.services.workspace_servers import contents_url
from sparkstudio.spark import processes
from sparkstudio.spark.processes import ProcessRecord
from tests.conftest import SparkCluster
from tests.support import (
    SHARES_THE_SPARK_CLUSTER,
    UserClient,
    create_workspace,
    expect,
    unique,
    wait_for_application,
)

pytestmark = [pytest.mark.spark, SHARES_THE_SPARK_CLUSTER]

ENDED = {"FINISHED", "FAILED", "STOPPED"}
TINY_WORKER = {"cpu": "1 vCPU", "memory": "1 GB"}


def notebook(*cells: tuple[str, str, list[str]]) -> str:
    """A notebook of (kind, source, tags) cells, as JupyterLab writes it."""
    book = nbformat.v4.new_notebook()
    for kind, source, tags in cells:
        cell = (
            nbformat.v4.new_code_cell(source)
            if kind == "code"
            else nbformat.v4.new_markdown_cell(source)
        )
        cell.metadata["tags"] = tags
        book.cells.append(cell)
    book.metadata["kernelspec"] = {
        "name": "pyspark",
        "display_name": "PySpark",
        "language": "python",
    }
    return str(nbformat.writes(book))


REPORT = notebook(
    ("markdown", "# Daily totals", []),
    ("code", "n = 10\nlabel = 'default'", ["parameters"]),
    ("code", "total = spark.range(n).selectExpr('sum(id) AS total').collect()[0][0]\n"
     "print(f'{label}: total={total}')", []),
    ("code", "%%sql\nSELECT id, id * id AS square FROM range(3)", []),
)  # fmt: skip
FAILING = notebook(
    ("code", "rows = spark.range(5).count()", []),
    ("code", "raise ValueError(f'expected 10 rows, got {rows}')", []),
    ("code", "print('never runs')", []),
)
SLEEPING = notebook(("code", "import time\nspark.range(1).collect()\ntime.sleep(600)", []))


@pytest.fixture(scope="module")
def source(admin: UserClient, spark_cluster: SparkCluster, database: Database) -> dict[str, Any]:
    """A workspace of the cluster's studio holding the notebooks (never started: an
    execution reads its files from the studio's storage)."""
    if not database.is_sqlite:
        pytest.skip("the metadata database plays no part in running a notebook: SQLite only")
    studio = spark_cluster.studio
    workspace = create_workspace(admin, studio["id"])
    root = Path(contents_url(studio["storage_location"], workspace["id"]).removeprefix("file://"))
    (root / "reports").mkdir(parents=True, exist_ok=True)
    for name, text in (("daily", REPORT), ("failing", FAILING), ("sleeping", SLEEPING)):
        (root / "reports" / f"{name}.ipynb").write_text(text)
    return workspace


def start(
    admin: UserClient, studio_id: str, workspace_id: str, name: str, target: dict[str, str],
    **fields: Any,
) -> dict[str, Any]:  # fmt: skip
    body = {
        "notebook": {"workspace_id": workspace_id, "path": f"reports/{name}.ipynb"},
        "target": target,
        **fields,
    }
    started: dict[str, Any] = expect(
        admin.post(f"/studios/{studio_id}/notebook-executions", json=body), 201
    )
    return started


def wait(
    admin: UserClient, execution: dict[str, Any], statuses: set[str], timeout: float = 240
) -> dict[str, Any]:
    path = f"/studios/{execution['studio_id']}/notebook-executions/{execution['id']}"
    deadline = time.monotonic() + timeout
    while True:
        seen: dict[str, Any] = expect(admin.get(path), 200)
        if seen["status"] in statuses:
            return seen
        assert seen["status"] not in ENDED - statuses, seen
        assert time.monotonic() < deadline, f"still {seen['status']}: {seen}"
        time.sleep(0.2)


def executed(execution: dict[str, Any]) -> nbformat.NotebookNode:
    path = Path(execution["output_notebook_uri"].removeprefix("file://"))
    return nbformat.reads(path.read_text(), as_version=4)


def outputs_text(book: nbformat.NotebookNode) -> str:
    return json.dumps([cell.get("outputs", []) for cell in book.cells])


def test_a_parameterized_notebook_runs_on_a_cluster_and_keeps_its_outputs(
    admin: UserClient, spark_cluster: SparkCluster, source: dict[str, Any]
) -> None:
    studio_id = spark_cluster.studio["id"]
    target = {"kind": "CLUSTER", "id": spark_cluster.cluster["id"]}
    execution = start(
        admin, studio_id, source["id"], "daily", target,
        parameters={"n": 100, "label": "run"}, tags={"team": "finance"},
    )  # fmt: skip
    assert execution["status"] == "START_PENDING"
    done = wait(admin, execution, {"FINISHED"})
    book = executed(done)
    text = outputs_text(book)
    assert "run: total=4950" in text  # the parameters, injected after the tagged cell
    assert any("injected-parameters" in cell.metadata.get("tags", []) for cell in book.cells)
    assert "square" in text and "<table" in text  # the %%sql cell's table
    html = Path(done["output_html_uri"].removeprefix("file://")).read_text()
    assert "run: total=4950" in html
    events = expect(
        admin.get(f"/studios/{studio_id}/notebook-executions/{execution['id']}/events"), 200
    )["items"]
    statuses = [e["to_status"] for e in events]
    assert statuses[0] == "START_PENDING" and statuses[-1] == "FINISHED"
    assert {"STARTING", "RUNNING", "FINISHING"} <= set(statuses)


def test_a_schedule_runs_the_notebook_with_its_fixed_parameters(
    admin: UserClient, spark_cluster: SparkCluster, source: dict[str, Any]
) -> None:
    studio_id = spark_cluster.studio["id"]
    body = {
        "name": unique("daily"),
        "cron": "0 6 * * *",
        "time_zone": "Europe/Paris",
        "notebook": {"workspace_id": source["id"], "path": "reports/daily.ipynb"},
        "parameters": {"n": 10, "label": "scheduled"},
        "target": {"kind": "CLUSTER", "id": spark_cluster.cluster["id"]},
    }
    path = f"/studios/{studio_id}/notebook-schedules"
    schedule = expect(admin.post(path, json=body), 201)
    run = expect(admin.post(f"{path}/{schedule['id']}/run"), 201)
    assert run["schedule_id"] == schedule["id"]
    done = wait(admin, run, {"FINISHED"})
    assert "scheduled: total=45" in outputs_text(executed(done))
    history = expect(admin.get(f"{path}/{schedule['id']}/runs"), 200)["items"]
    assert [(h["id"], h["status"]) for h in history] == [(run["id"], "FINISHED")]
    expect(admin.delete(f"{path}/{schedule['id']}"), 204)


def test_a_failing_cell_fails_the_execution_with_its_error_marked(
    admin: UserClient, spark_cluster: SparkCluster, source: dict[str, Any]
) -> None:
    target = {"kind": "CLUSTER", "id": spark_cluster.cluster["id"]}
    execution = start(admin, spark_cluster.studio["id"], source["id"], "failing", target)
    failed = wait(admin, execution, {"FAILED"})
    assert failed["status_reason"]["code"] == "CELL_FAILED"
    assert "ValueError: expected 10 rows, got 5" in failed["status_reason"]["message"]
    text = outputs_text(executed(failed))
    assert "expected 10 rows, got 5" in text and "never runs" not in text
    assert Path(failed["output_html_uri"].removeprefix("file://")).is_file()


def test_stop_ends_a_running_notebook_and_its_kernel(
    admin: UserClient, spark_cluster: SparkCluster, source: dict[str, Any], database: Database
) -> None:
    target = {"kind": "CLUSTER", "id": spark_cluster.cluster["id"]}
    execution = start(admin, spark_cluster.studio["id"], source["id"], "sleeping", target)
    wait(admin, execution, {"RUNNING"})
    with database.session(write=False) as db:
        row = db.get(NotebookExecution, execution["id"])
        assert row is not None and row.state is not None
        runner = ProcessRecord.from_json(row.state["runner"])
    assert processes.is_alive(runner)
    path = f"/studios/{execution['studio_id']}/notebook-executions/{execution['id']}/stop"
    expect(admin.post(path), 202)
    stopped = wait(admin, execution, {"STOPPED"}, timeout=60)
    assert stopped["status_reason"]["code"] == "USER_REQUEST"
    assert not processes.is_alive(runner)


def test_a_notebook_runs_on_a_serverless_application(
    admin: UserClient, spark_cluster: SparkCluster, source: dict[str, Any], database: Database
) -> None:
    """The application starts for it (auto-start), and its warm driver runs the notebook."""
    studio_id = spark_cluster.studio["id"]
    body = {
        "name": unique("notebooks"),
        "release_label": next(iter(supported_release_labels())),
        "initial_capacity": {
            "DRIVER": {"worker_count": 1, "worker_configuration": TINY_WORKER},
            "EXECUTOR": {"worker_count": 1, "worker_configuration": TINY_WORKER},
        },
        "maximum_capacity": {"cpu": "2 vCPU", "memory": "2 GB"},
    }
    app = expect(admin.post(f"/studios/{studio_id}/applications", json=body), 201)
    wait_for_application(admin, studio_id, app["id"], {"CREATED"})
    target = {"kind": "APPLICATION", "id": app["id"]}
    execution = start(admin, studio_id, source["id"], "daily", target, parameters={"n": 4})
    done = wait(admin, execution, {"FINISHED"}, timeout=300)
    assert "default: total=6" in outputs_text(executed(done))
    expect(admin.post(f"/studios/{studio_id}/applications/{app['id']}/stop"), 202)
    wait_for_application(admin, studio_id, app["id"], {"STOPPED"}, 120)
