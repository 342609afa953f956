"""Alembic environment: migrates on the connection `migrate()` passes in
`config.attributes["connection"]` (or, for the `alembic` CLI, on `sqlalchemy.url`)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, text

from pitchlens.infrastructure.postgres.engine import create_engine
from pitchlens.infrastructure.postgres.tables import metadata

# Every starter (API, each worker, the local stack) migrates on start-up. A transaction-level
# advisory lock makes them take turns: the first upgrades and commits, the others then see the
# schema at head and do nothing. It is released by the commit (or by a crash), never leaked.
MIGRATION_LOCK_SQL = text("SELECT pg_advisory_xact_lock(hashtextextended('pitchlens.migrations', 0))")


def run_migrations(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=metadata, compare_type=True)
    with context.begin_transaction():
        connection.execute(MIGRATION_LOCK_SQL)
        context.run_migrations()


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        # The caller owns the transaction (and commits it); alembic joins it.
        run_migrations(connection)
        return
    url = context.config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no connection in config.attributes and no sqlalchemy.url to migrate")
    engine = create_engine(url)
    try:
        with engine.begin() as own_connection:
            run_migrations(own_connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise RuntimeError("PitchLens migrations run online only (use pitchlens.infrastructure.postgres.migrate)")
run_migrations_online()
