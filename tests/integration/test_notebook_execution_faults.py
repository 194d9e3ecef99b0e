"""A notebook execution whose notebook's store does not answer ends, without Spark.

The test drives an execution controller of its own on the shared control plane's
database (that control plane is never woken for the execution), on an application
written as started.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from sparkstudio.db.models import Application, Event, NotebookExecution
from sparkstudio.db.session import Database
from sparkstudio.notebooks.controller import ExecutionController
from sparkstudio.runners import ExitWatcher
from sparkstudio.server import ControlPlane
from sparkstudio.storage import stores
from sparkstudio.storage.stores import StoreRetries
from tests.integration.test_job_run_faults import closed_port
from tests.integration.test_job_runs_api import create_application
from tests.integration.test_notebook_executions_api import execution_body, insert_execution
from tests.support import BOTH_DATABASES, UserClient

pytestmark = BOTH_DATABASES  # it exercises the database layer: on both


@pytest.fixture
def started_application(
    admin: UserClient, lake_studio: dict[str, Any], database: Database
) -> Iterator[str]:
    """An application written as started (nothing runs: its controller is not woken)."""
    application_id: str = create_application(admin, lake_studio["id"])["id"]
    with database.transaction() as db:
        row = db.get(Application, application_id)
        assert row is not None
        row.status, row.target, row.state = "STARTED", "STARTED", {"token": "t"}
        row.connect_url = "sc://127.0.0.1:1"
    yield application_id
    with database.transaction() as db:  # as it was: nothing to stop at the session's end
        row = db.get(Application, application_id)
        assert row is not None
        row.status, row.target, row.state, row.connect_url = "CREATED", "STOPPED", None, ""


def test_a_notebook_on_a_store_that_does_not_answer_fails_the_execution_after_a_few_tries(
    control_plane: ControlPlane,
    database: Database,
    lake_studio: dict[str, Any],
    lake: str,
    started_application: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setattr(stores, "S3_RETRIES", {"max_attempts": 1, "mode": "standard"})
    unreachable = f"http://127.0.0.1:{closed_port()}"
    settings = control_plane.settings.model_copy(update={"s3_endpoint_url": unreachable})
    notebook = {"uri": f"{lake}/daily.ipynb"}
    body = execution_body(lake_studio, started_application, notebook=notebook)
    execution_id = insert_execution(database, started_application, body=body)
    executions = ExecutionController(
        settings,
        database,
        ExitWatcher(lambda _: None),
        control_plane.isolation,
        StoreRetries(3, 2.0),
    )

    delays: list[float] = []
    with caplog.at_level(logging.INFO, logger="sparkstudio"):
        while (delay := executions.handle(execution_id)) is not None:
            delays.append(delay)
            assert len(delays) < 20, delays

    assert delays == [2.0, 4.0]
    with database.session(write=False) as db:
        execution = db.get(NotebookExecution, execution_id)
        assert execution is not None
        assert (execution.status, execution.status_reason_code) == (
            "FAILED",
            "NOTEBOOK_UNREACHABLE",
        )
        assert "does not answer" in execution.status_reason_message
        assert "3 tries" in execution.status_reason_message
        codes = db.scalars(
            select(Event.reason_code).where(Event.resource_id == execution_id).order_by(Event.id)
        ).all()
    assert codes.count("NOTEBOOK_UNREACHABLE") == 4  # two tries noted, then FAILING, FAILED
    ours = [r for r in caplog.records if r.name.startswith("sparkstudio")]
    assert all(record.exc_info is None for record in ours), caplog.text
