"""The PostgreSQL unit of work: one connection, one transaction, three repositories on it."""

from __future__ import annotations

import logging
from types import TracebackType

from sqlalchemy import Connection, Engine

from pitchlens.domain.errors import ServiceUnavailable
from pitchlens.domain.ports import UnitOfWork
from pitchlens.infrastructure.postgres.clip_repository import PostgresClipRepository
from pitchlens.infrastructure.postgres.engine import (
    connection_errors_as_unavailable,
    create_engine,
    is_connection_error,
)
from pitchlens.infrastructure.postgres.repositories import (
    PostgresJobRepository,
    PostgresMatchRepository,
    PostgresProcessedMessages,
)
from pitchlens.infrastructure.postgres.session_repository import PostgresSessionRepository

logger = logging.getLogger(__name__)


class PostgresUnitOfWork(UnitOfWork):
    """`with uow:` opens a connection and a transaction shared by `matches`, `jobs` and `inbox`;
    `commit()` makes their writes durable together; leaving the block rolls back whatever was not
    committed and returns the connection to the pool. Connection failures raise ServiceUnavailable."""

    matches: PostgresMatchRepository
    jobs: PostgresJobRepository
    inbox: PostgresProcessedMessages
    clips: PostgresClipRepository
    sessions: PostgresSessionRepository

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._connection: Connection | None = None

    def __enter__(self) -> PostgresUnitOfWork:
        if self._connection is not None:
            raise RuntimeError("this unit of work is already in use; make a new one per transaction")
        with connection_errors_as_unavailable():
            connection = self._engine.connect()
            try:
                connection.begin()
            except BaseException:
                connection.close()
                raise
        self._connection = connection
        self.matches = PostgresMatchRepository(connection)
        self.jobs = PostgresJobRepository(connection)
        self.inbox = PostgresProcessedMessages(connection)
        self.clips = PostgresClipRepository(connection)
        self.sessions = PostgresSessionRepository(connection)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            self.rollback()
        finally:
            self._close()

    def commit(self) -> None:
        connection = self._active_connection()
        if connection.invalidated:
            raise ServiceUnavailable("PostgreSQL is unavailable: the connection was lost in this transaction")
        with connection_errors_as_unavailable():
            connection.commit()

    def rollback(self) -> None:
        """Discards uncommitted writes. Never fails for a lost connection: the server has already
        rolled that transaction back, and raising here would hide the error that caused it."""
        if self._connection is None:
            return
        try:
            self._connection.rollback()
        except Exception as error:
            if not is_connection_error(error):
                raise
            logger.warning("rollback on a lost PostgreSQL connection: %s", error)

    def _active_connection(self) -> Connection:
        if self._connection is None:
            raise RuntimeError("use the unit of work inside a `with` block")
        return self._connection

    def _close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is None:
            return
        try:
            connection.close()
        except Exception as error:
            if not is_connection_error(error):
                raise
            logger.warning("closing a lost PostgreSQL connection: %s", error)


class PostgresUnitOfWorkFactory:
    """Callable making a fresh PostgresUnitOfWork per call; all share one engine (one pool).
    This is the `Callable[[], UnitOfWork]` the application takes."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @classmethod
    def from_url(cls, url: str) -> PostgresUnitOfWorkFactory:
        return cls(create_engine(url))

    def __call__(self) -> PostgresUnitOfWork:
        return PostgresUnitOfWork(self.engine)

    def dispose(self) -> None:
        """Closes the pooled connections (at shutdown, or after the database was restarted)."""
        self.engine.dispose()
