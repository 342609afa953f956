"""The SQLAlchemy engine for PitchLens, and the one place that decides which database errors mean
"PostgreSQL cannot be reached" (a `ServiceUnavailable`, so queue messages are retried)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
import sqlalchemy
from sqlalchemy import Engine, event, make_url
from sqlalchemy import exc as sa_exc

from pitchlens.domain.errors import InvalidInput, ServiceUnavailable

DRIVER_SCHEME = "postgresql+psycopg"

# Errors that say the connection (or the server) failed, rather than that a statement is wrong.
# psycopg.OperationalError covers lost connections, the server shutting down (AdminShutdown,
# CannotConnectNow) and transaction-level failures a retry can fix (deadlocks, serialisation).
# sqlalchemy.exc.TimeoutError is the pool running out of connections.
CONNECTION_ERRORS: tuple[type[BaseException], ...] = (
    sa_exc.OperationalError,
    sa_exc.InterfaceError,
    sa_exc.TimeoutError,
    psycopg.OperationalError,
    psycopg.InterfaceError,
)


def driver_url(url: str) -> str:
    """The same URL with SQLAlchemy's psycopg 3 driver named (libpq `postgresql://` URLs also work)."""
    for scheme in ("postgresql://", "postgres://", "postgresql+psycopg2://"):
        if url.startswith(scheme):
            return DRIVER_SCHEME + "://" + url[len(scheme) :]
    return url


def create_engine(
    url: str,
    *,
    pool_size: int = 5,
    max_overflow: int = 10,
    password: Callable[[], str] | None = None,
) -> Engine:
    """An engine on psycopg 3. Nothing connects until the first use.

    `pool_pre_ping` lets a process survive a database restart: stale pooled connections are
    replaced instead of failing the next unit of work. Sessions run in UTC so every timestamptz
    comes back as an aware UTC datetime, whatever the server's default time zone. `password`, when
    given, is asked for each new connection (a secret that may rotate), overriding the URL's.
    """
    normalised = make_url(driver_url(url))
    # Keep libpq `options` given in the URL; a later `-c timezone` would override ours.
    given = normalised.query.get("options")
    given_options = [given] if isinstance(given, str) else list(given or ())
    options = " ".join(["-c timezone=UTC", *given_options])
    engine = sqlalchemy.create_engine(
        normalised,
        pool_pre_ping=True,
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_timeout=10,
        connect_args={"connect_timeout": 5, "options": options, "application_name": "pitchlens"},
    )
    if password is not None:

        @event.listens_for(engine, "do_connect")
        def _current_password(dialect: Any, record: Any, cargs: Any, cparams: dict[str, Any]) -> None:
            cparams["password"] = password()

    return engine


def is_connection_error(error: BaseException) -> bool:
    if isinstance(error, CONNECTION_ERRORS):
        return True
    # A statement on a connection SQLAlchemy has already invalidated (the server went away).
    return isinstance(error, sa_exc.DBAPIError) and error.connection_invalidated


def unavailable_error(error: BaseException) -> ServiceUnavailable:
    cause = getattr(error, "orig", None) or error
    detail = str(cause).strip().splitlines()[0] if str(cause).strip() else type(cause).__name__
    return ServiceUnavailable(f"PostgreSQL is unavailable: {detail}")


@contextmanager
def connection_errors_as_unavailable() -> Iterator[None]:
    """Re-raises connection failures (from SQLAlchemy or straight from psycopg) as ServiceUnavailable,
    and values PostgreSQL refuses (a number out of range) as InvalidInput. Text is never refused:
    the tables' column types make it storable (see tables.py)."""
    try:
        yield
    except ServiceUnavailable:
        raise
    except Exception as error:
        if is_connection_error(error):
            raise unavailable_error(error) from error
        if isinstance(error, sa_exc.DataError | psycopg.DataError):
            detail = str(getattr(error, "orig", None) or error).splitlines()[0]
            raise InvalidInput(f"a value cannot be used: {detail}") from error
        raise
