"""Engine and session factory for SQLite (embedded default) and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

# Execution option naming how a SQLite transaction begins. Writers take the write lock
# up front (BEGIN IMMEDIATE) so that concurrent writers queue on the busy timeout
# instead of failing when a read transaction cannot be upgraded.
_SQLITE_BEGIN = "sparkstudio_sqlite_begin"


def make_engine(url: str, **kwargs: Any) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30}, **kwargs
        )
        _configure_sqlite(engine)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20, **kwargs)


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide when transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        mode = connection.get_execution_options().get(_SQLITE_BEGIN, "DEFERRED")
        connection.exec_driver_sql(f"BEGIN {mode}")


class Database:
    """Owns the engine; hands out read sessions and write sessions."""

    def __init__(self, url: str, **engine_kwargs: Any) -> None:
        self.url = url
        self.engine = make_engine(url, **engine_kwargs)
        self.is_sqlite = self.engine.dialect.name == "sqlite"
        self._read = sessionmaker(self.engine, expire_on_commit=False)
        writer = self.engine.execution_options(**{_SQLITE_BEGIN: "IMMEDIATE"})
        self._write = sessionmaker(writer, expire_on_commit=False)
        # Writers of rows that nothing caches (the audit trail): no commit callbacks.
        self._append = sessionmaker(writer, expire_on_commit=False)

    def on_write_commit(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` right after every commit of a write session."""
        event.listen(self._write, "after_commit", lambda _session: callback())

    def session(self, *, write: bool) -> Session:
        return (self._write if write else self._read)()

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A write session committed on success and rolled back on error."""
        with self.session(write=True) as session, session.begin():
            yield session

    @contextmanager
    def append_transaction(self) -> Iterator[Session]:
        """Like :meth:`transaction`, without the ``on_write_commit`` callbacks.

        For rows that are only ever added and that no cache depends on (audit records):
        writing them must not empty the caches that every request reads.
        """
        with self._append() as session, session.begin():
            yield session

    def dispose(self) -> None:
        self.engine.dispose()
