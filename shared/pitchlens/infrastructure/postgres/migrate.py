"""Schema migrations, run from code: no alembic.ini, the scripts ship inside the package."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection

from pitchlens.infrastructure.postgres.engine import connection_errors_as_unavailable, create_engine

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"

# alembic keeps the running migration's context in a module global, so threads of one process take
# turns here; processes take turns on the advisory lock env.py holds.
_IN_PROCESS_LOCK = threading.Lock()


def alembic_config(connection: Connection | None = None) -> Config:
    """An alembic Config pointing at the packaged migrations, migrating on `connection`."""
    config = Config()
    # ConfigParser interpolates '%': escape it in case the install path contains one.
    config.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def migrate(url: str, password: Callable[[], str] | None = None) -> None:
    """Upgrades the database at `url` to the newest schema; a no-op when it is already there.

    Safe to call from several processes at once (env.py serialises them with an advisory lock).
    Raises ServiceUnavailable when PostgreSQL cannot be reached. `password`: see create_engine.
    """
    engine = create_engine(url, pool_size=1, max_overflow=0, password=password)
    try:
        with _IN_PROCESS_LOCK, connection_errors_as_unavailable(), engine.begin() as connection:
            command.upgrade(alembic_config(connection), "head")
    finally:
        engine.dispose()


def current_revision(url: str, password: Callable[[], str] | None = None) -> str | None:
    """The revision the database at `url` is at (None before the first migration)."""
    engine = create_engine(url, pool_size=1, max_overflow=0, password=password)
    try:
        with connection_errors_as_unavailable(), engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()


def head_revision() -> str | None:
    """The newest revision the packaged migrations define."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()
