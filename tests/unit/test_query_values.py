"""A scalar query parameter given twice is a 422 naming it; list parameters take all."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, FastAPI, Query
from fastapi.testclient import TestClient

from sparkstudio.api import errors
from sparkstudio.api.query_values import reject_repeated_query_values


def _filters(actor: Annotated[str | None, Query()] = None) -> str | None:
    return actor


def make_app() -> FastAPI:
    app = FastAPI(dependencies=[Depends(reject_repeated_query_values)])
    errors.install(app)

    @app.get("/records")
    def records(
        actor: Annotated[str | None, Depends(_filters)],
        states: Annotated[list[str] | None, Query()] = None,
    ) -> dict[str, object]:
        return {"actor": actor, "states": states}

    return app


def test_a_scalar_given_twice_is_refused_naming_it() -> None:
    client = TestClient(make_app())
    response = client.get("/records", params=[("actor", "a"), ("actor", "b")])
    assert response.status_code == 422
    assert response.json()["fields"][0]["field"] == "actor"


def test_lists_and_single_values_pass() -> None:
    client = TestClient(make_app())
    response = client.get("/records", params=[("actor", "a"), ("states", "X"), ("states", "Y")])
    assert response.json() == {"actor": "a", "states": ["X", "Y"]}
