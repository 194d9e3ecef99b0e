"""The Alembic migrations produce exactly the schema the models declare."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, create_engine

from sparkstudio.db import models  # noqa: F401  (registers the tables)
from sparkstudio.db.base import Base
from sparkstudio.db.migrate import current_revision, head_revision, upgrade
from sparkstudio.db.session import make_engine
from tests.support import BACKENDS, throwaway_postgres_database


@pytest.fixture(params=BACKENDS.values())  # migrations are the database layer
def fresh_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An engine on an empty database (a SQLite file, or a throwaway PostgreSQL one)."""
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'fresh.db'}")
        yield engine
        engine.dispose()
    else:
        with throwaway_postgres_database() as url:
            engine = create_engine(url)
            yield engine
            engine.dispose()


def test_migrations_produce_the_models_schema(fresh_engine: Engine) -> None:
    upgrade(fresh_engine)
    assert current_revision(fresh_engine) == head_revision(fresh_engine)
    with fresh_engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "compare_server_default": True}
        )
        differences = compare_metadata(context, Base.metadata)
    assert differences == []


def test_upgrading_twice_changes_nothing(fresh_engine: Engine) -> None:
    upgrade(fresh_engine)
    upgrade(fresh_engine)
    assert current_revision(fresh_engine) == head_revision(fresh_engine)
