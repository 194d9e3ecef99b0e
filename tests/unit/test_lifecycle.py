"""Unit tests of the status transition tables and of ``transition`` / ``initialize``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, cast

import pytest
from sqlalchemy.orm import Session

from sparkstudio import lifecycle
from sparkstudio.db.models import Event
from sparkstudio.errors import Conflict
from sparkstudio.lifecycle import WORKSPACE, Reason, TransitionTable, WorkspaceStatus

W = WorkspaceStatus

ALLOWED = {
    (W.STOPPED, W.STARTING),
    (W.STOPPED, W.DELETING),
    (W.STARTING, W.READY),
    (W.STARTING, W.ATTACHED),
    (W.STARTING, W.STOPPING),
    (W.STARTING, W.STOPPED),
    (W.READY, W.ATTACHED),
    (W.READY, W.IDLE),
    (W.READY, W.STOPPING),
    (W.READY, W.STOPPED),
    (W.ATTACHED, W.READY),
    (W.ATTACHED, W.IDLE),
    (W.ATTACHED, W.STOPPING),
    (W.ATTACHED, W.STOPPED),
    (W.IDLE, W.READY),
    (W.IDLE, W.ATTACHED),
    (W.IDLE, W.STOPPING),
    (W.IDLE, W.STOPPED),
    (W.STOPPING, W.STOPPED),
}


@dataclass
class FakeResource:
    id: str = "ws-0123456789abcdef"
    studio_id: str = "st-0123456789abcdef"
    status: str = ""
    target: str = ""
    status_reason_code: str = ""
    status_reason_message: str = ""


@dataclass
class FakeSession:
    added: list[Any] = field(default_factory=list)

    def add(self, instance: Any) -> None:
        self.added.append(instance)


def session(fake: FakeSession) -> Session:
    return cast(Session, fake)


def test_the_workspace_table_is_complete_and_closed() -> None:
    assert set(WORKSPACE.moves) == set(W)
    for targets in WORKSPACE.moves.values():
        assert targets <= set(W)
    assert WORKSPACE.initial == W.STOPPED
    for terminal in WORKSPACE.terminal:
        assert WORKSPACE.moves[terminal] == frozenset()


@pytest.mark.parametrize("current", list(W))
@pytest.mark.parametrize("to", list(W))
def test_workspace_moves(current: W, to: W) -> None:
    assert WORKSPACE.allowed(current, to) is ((current, to) in ALLOWED)


def test_deleting_is_reachable_only_from_stopped() -> None:
    assert [s for s in W if WORKSPACE.allowed(s, W.DELETING)] == [W.STOPPED]


def test_initialize_sets_the_initial_status_and_records_creation() -> None:
    db, resource = FakeSession(), FakeResource()
    event = lifecycle.initialize(
        session(db), WORKSPACE, resource, Reason("CREATED", "workspace created"), "alice"
    )
    assert (resource.status, resource.target) == (W.STOPPED, W.STOPPED)
    assert (resource.status_reason_code, resource.status_reason_message) == (
        "CREATED",
        "workspace created",
    )
    assert db.added == [event]
    assert isinstance(event, Event)
    assert (event.resource_kind, event.resource_id, event.studio_id) == (
        "workspace",
        resource.id,
        resource.studio_id,
    )
    assert (event.from_status, event.to_status) == (None, W.STOPPED)
    assert (event.reason_code, event.reason_message, event.actor) == (
        "CREATED",
        "workspace created",
        "alice",
    )


@pytest.mark.parametrize(("current", "to"), sorted(ALLOWED))
def test_an_allowed_transition_moves_and_records(current: W, to: W) -> None:
    db, resource = FakeSession(), FakeResource(status=current, target=W.READY)
    event = lifecycle.transition(
        session(db), WORKSPACE, resource, to, Reason("WHY", "because"), "bob"
    )
    assert resource.status == to
    assert resource.target == W.READY  # the target is the caller's business
    assert (resource.status_reason_code, resource.status_reason_message) == ("WHY", "because")
    assert db.added == [event]
    assert (event.from_status, event.to_status) == (current, to)
    assert (event.reason_code, event.reason_message, event.actor) == ("WHY", "because", "bob")


@pytest.mark.parametrize(
    ("current", "to"), sorted((c, t) for c in W for t in W if (c, t) not in ALLOWED)
)
def test_a_refused_transition_raises_conflict_and_changes_nothing(current: W, to: W) -> None:
    db = FakeSession()
    resource = FakeResource(status=current, status_reason_code="OLD", status_reason_message="old")
    with pytest.raises(Conflict) as raised:
        lifecycle.transition(session(db), WORKSPACE, resource, to, Reason("WHY"), "bob")
    assert raised.value.status == 409
    assert raised.value.reason == "InvalidState"
    assert f"is {current} and cannot become {to}" in raised.value.message
    assert resource.id in raised.value.message
    assert (resource.status, resource.status_reason_code) == (current, "OLD")
    assert db.added == []


def test_a_table_without_a_row_allows_nothing_from_there() -> None:
    table = TransitionTable(kind="thing", initial="A", moves={"A": frozenset({"B"})})
    assert table.allowed("A", "B")
    assert not table.allowed("B", "A")
    assert not table.allowed("C", "A")
