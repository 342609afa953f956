"""PostgreSQL implementations of the repository ports. Each works on the connection (and so inside
the transaction) of the unit of work that created it; none of them commits."""

from __future__ import annotations

import builtins
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import orjson
import psycopg
from psycopg.adapt import Dumper
from psycopg.pq import Format
from psycopg.types.string import StrBinaryDumper
from sqlalchemy import Connection, Row, and_, delete, exists, func, or_, select
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects.postgresql import insert

from pitchlens.domain.errors import InvalidMatchData, JobNotFound, MatchNotFound
from pitchlens.domain.jobs import Job, JobKind, JobStage, JobStatus
from pitchlens.domain.model import Coordinates, Event, EventType, Match, Player, Team
from pitchlens.domain.ports import (
    EventPage,
    EventQuery,
    JobRepository,
    MatchRepository,
    MatchSummary,
    ProcessedMessages,
    TrackingRef,
)
from pitchlens.infrastructure.postgres.engine import connection_errors_as_unavailable
from pitchlens.infrastructure.postgres.tables import (
    EVENT_COPY_COLUMNS,
    events,
    jobs,
    match_players,
    matches,
    processed_messages,
    storable_json,
    storable_text,
)

# Binary COPY sends each value in its column type's wire format, with no casts on the server,
# so the types are declared up front (same order as EVENT_COPY_COLUMNS).
EVENT_COPY_TYPES = (
    "text",  # match_id
    "text",  # event_id
    "int4",  # seq
    "int2",  # period
    "float8",  # timestamp_s
    "text",  # type
    "text",  # raw_type
    "text",  # outcome
    "text",  # team_id
    "text",  # player_id
    "text",  # player_name
    "float8",  # start_x
    "float8",  # start_y
    "float8",  # end_x
    "float8",  # end_y
    "json",  # attributes
)
EVENT_COPY_SQL = f"COPY events ({', '.join(EVENT_COPY_COLUMNS)}) FROM STDIN (FORMAT BINARY)"

# Keys of the advisory locks that serialise concurrent persists of one match. A hash collision
# between two match ids only makes their persists take turns, it never mixes their data.
MATCH_LOCK_NAMESPACE = "pitchlens.match:"

# Errors saying this match's data cannot be stored (duplicate event ids, a number out of range):
# the same data will always fail, so retrying is pointless. Text always stores (see tables.py).
REJECTED_DATA_ERRORS: tuple[type[BaseException], ...] = (
    sa_exc.IntegrityError,
    sa_exc.DataError,
    psycopg.IntegrityError,
    psycopg.DataError,
)


class OrjsonJsonBinaryDumper(Dumper):
    """Dumps a dict as binary json (the JSON text) with orjson, several times faster than the json
    module psycopg uses by default; strings PostgreSQL cannot hold are made storable (tables.py)."""

    format = Format.BINARY
    oid = psycopg.postgres.types["json"].oid  # registering it also makes it *the* json dumper (set_types)

    def dump(self, obj: Any) -> bytes:
        try:
            dumped = orjson.dumps(obj, option=orjson.OPT_NON_STR_KEYS)
        except orjson.JSONEncodeError:
            dumped = None  # a lone surrogate, say; or not JSON at all, which the retry raises again
        if dumped is None or b"\\u0000" in dumped:
            dumped = orjson.dumps(storable_json(obj), option=orjson.OPT_NON_STR_KEYS)
        return dumped


class StorableTextBinaryDumper(StrBinaryDumper):
    """Dumps a str as binary text, made storable (tables.py): the events COPY's StorableText."""

    def dump(self, obj: str) -> bytes:
        if "\x00" in obj:
            obj = storable_text(obj)
        try:
            return obj.encode(self._encoding)
        except UnicodeEncodeError:  # a lone surrogate
            return storable_text(obj).encode(self._encoding)


def as_utc(moment: datetime) -> datetime:
    """Naive datetimes are taken to be UTC (the session time zone), never the host's local time."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


@contextmanager
def rejected_data_as_invalid(match_id: str) -> Iterator[None]:
    try:
        yield
    except REJECTED_DATA_ERRORS as error:
        cause = getattr(error, "orig", None) or error
        detail = str(cause).strip().splitlines()[0] if str(cause).strip() else type(cause).__name__
        raise InvalidMatchData(f"match {match_id!r} cannot be stored: {detail}") from error
    except orjson.JSONEncodeError as error:
        raise InvalidMatchData(
            f"match {match_id!r} has event attributes that are not JSON: {error}"
        ) from error


def _coordinates(x: float | None, y: float | None) -> Coordinates | None:
    return None if x is None or y is None else Coordinates(x=x, y=y)


def _summary(row: Row[Any]) -> MatchSummary:
    return MatchSummary(
        match_id=row.match_id,
        source=row.source,
        home_team=row.home_team_name,
        away_team=row.away_team_name,
        competition=row.competition,
        kickoff=row.kickoff,
        event_count=row.event_count,
        player_count=row.player_count,
        ingested_at=row.ingested_at,
    )


def _event(row: Row[Any]) -> Event:
    return Event(
        event_id=row.event_id,
        type=EventType(row.type),
        period=row.period,
        timestamp=row.timestamp_s,
        team_id=row.team_id,
        player_id=row.player_id,
        start=_coordinates(row.start_x, row.start_y),
        end=_coordinates(row.end_x, row.end_y),
        outcome=row.outcome,
        raw_type=row.raw_type,
        attributes=dict(row.attributes or {}),
    )


def event_rows(match: Match) -> Iterator[tuple[object, ...]]:
    """The events of `match` as rows in EVENT_COPY_COLUMNS order; `seq` is the provider order.

    A generator on purpose: COPY sends rows while later ones are still being built, so building
    them overlaps with the server inserting the earlier ones."""
    match_id = match.match_id
    names = {player.player_id: player.name for player in match.players}
    for seq, event in enumerate(match.events):
        start = event.start
        end = event.end
        yield (
            match_id,
            event.event_id,
            seq,
            event.period,
            event.timestamp,
            event.type.value,
            event.raw_type,
            event.outcome,
            event.team_id,
            event.player_id,
            names.get(event.player_id) if event.player_id is not None else None,
            None if start is None else start.x,
            None if start is None else start.y,
            None if end is None else end.x,
            None if end is None else end.y,
            event.attributes,
        )


class PostgresMatchRepository(MatchRepository):
    """Matches, their players and events; `save` replaces a match's rows in the caller's transaction,
    refusing (returning False) an ingestion older than the stored one."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def save(self, match: Match, *, ingested_at: datetime, tracking: TrackingRef | None = None) -> bool:
        """See MatchRepository.save. Data PostgreSQL rejects (say, two events with one id) raises
        InvalidMatchData having written nothing, and the unit of work stays usable (to record the
        failed job in the same transaction, for instance): the writes run inside a savepoint."""
        ingested_at = as_utc(ingested_at)
        connection = self._connection
        with (
            connection_errors_as_unavailable(),
            rejected_data_as_invalid(match.match_id),
            connection.begin_nested(),
        ):
            # Two deliveries of the same match (at-least-once queues, a replay) may be persisted at
            # once; the lock makes the second wait for the first to commit, then compare ingestion
            # times against what the first stored. It is released when the transaction ends.
            lock_key = func.hashtextextended(storable_text(MATCH_LOCK_NAMESPACE + match.match_id), 0)
            connection.execute(select(func.pg_advisory_xact_lock(lock_key)))
            stored_at = connection.execute(
                select(matches.c.ingested_at).where(matches.c.match_id == match.match_id)
            ).scalar_one_or_none()
            if stored_at is not None and stored_at > ingested_at:
                return False  # a newer ingestion is stored: this delivery is out of date

            self._upsert_match(match, ingested_at=ingested_at, tracking=tracking)
            connection.execute(delete(match_players).where(match_players.c.match_id == match.match_id))
            players = [
                {
                    "match_id": match.match_id,
                    "player_id": player.player_id,
                    "team_id": player.team_id,
                    "name": player.name,
                    "jersey_number": player.jersey_number,
                    "position": player.position,
                    "starting": player.starting,
                }
                for player in match.players
            ]
            if players:
                connection.execute(insert(match_players), players)
            connection.execute(delete(events).where(events.c.match_id == match.match_id))
            self._copy_events(match)
        return True

    def _upsert_match(self, match: Match, *, ingested_at: datetime, tracking: TrackingRef | None) -> None:
        values = {
            "match_id": match.match_id,
            "source": match.source,
            "home_team_id": match.home_team.team_id,
            "home_team_name": match.home_team.name,
            "away_team_id": match.away_team.team_id,
            "away_team_name": match.away_team.name,
            "competition": match.competition,
            "kickoff": match.kickoff,
            "event_count": len(match.events),
            "player_count": len(match.players),
            "tracking_uri": tracking.uri if tracking else None,
            "tracking_rows": tracking.rows if tracking else None,
            "ingested_at": ingested_at,
            "updated_at": func.now(),
        }
        statement = insert(matches).values(values)
        statement = statement.on_conflict_do_update(
            index_elements=[matches.c.match_id],
            set_={name: statement.excluded[name] for name in values if name != "match_id"},
        )
        self._connection.execute(statement)

    def _copy_events(self, match: Match) -> None:
        """Bulk-loads the match's events with binary COPY on the connection's own psycopg
        connection, so the rows join the transaction SQLAlchemy has open."""
        driver_connection = self._connection.connection.driver_connection
        assert isinstance(driver_connection, psycopg.Connection)
        with driver_connection.cursor() as cursor:
            # Scoped to this cursor: dicts become binary json through orjson, and text and json
            # are made storable as the tables' column types do for bound parameters.
            cursor.adapters.register_dumper(dict, OrjsonJsonBinaryDumper)
            cursor.adapters.register_dumper(str, StorableTextBinaryDumper)
            with cursor.copy(EVENT_COPY_SQL) as copy:
                copy.set_types(EVENT_COPY_TYPES)
                write_row = copy.write_row
                for row in event_rows(match):
                    write_row(row)

    def summary(self, match_id: str) -> MatchSummary:
        with connection_errors_as_unavailable():
            row = self._connection.execute(select(matches).where(matches.c.match_id == match_id)).first()
        if row is None:
            raise MatchNotFound(f"no match {match_id!r} in the database")
        return _summary(row)

    def list(self, *, limit: int, offset: int) -> builtins.list[MatchSummary]:
        statement = (
            select(matches)
            .order_by(matches.c.ingested_at.desc(), matches.c.match_id)
            .limit(limit)
            .offset(offset)
        )
        with connection_errors_as_unavailable():
            return [_summary(row) for row in self._connection.execute(statement)]

    def count(self) -> int:
        with connection_errors_as_unavailable():
            return int(self._connection.execute(select(func.count()).select_from(matches)).scalar_one())

    def lineup(self, match_id: str) -> tuple[Team, Team]:
        with connection_errors_as_unavailable():
            match = self._connection.execute(select(matches).where(matches.c.match_id == match_id)).first()
            if match is None:
                raise MatchNotFound(f"no match {match_id!r} in the database")
            rows = self._connection.execute(
                select(match_players)
                .where(match_players.c.match_id == match_id)
                .order_by(
                    match_players.c.starting.desc(),
                    match_players.c.jersey_number.nulls_last(),
                    match_players.c.name,
                )
            ).all()
        players = [
            Player(row.player_id, row.name, row.team_id, row.jersey_number, row.position, row.starting)
            for row in rows
        ]
        return (
            Team(
                match.home_team_id,
                match.home_team_name,
                tuple(p for p in players if p.team_id == match.home_team_id),
            ),
            Team(
                match.away_team_id,
                match.away_team_name,
                tuple(p for p in players if p.team_id == match.away_team_id),
            ),
        )

    def events(self, query: EventQuery) -> EventPage:
        conditions = [events.c.match_id == query.match_id]
        if query.type is not None:
            conditions.append(events.c.type == query.type)
        if query.player is not None:
            conditions.append(
                or_(
                    events.c.player_id == query.player,
                    events.c.player_name.icontains(query.player, autoescape=True),
                )
            )
        where = and_(*conditions)
        with connection_errors_as_unavailable():
            known = self._connection.execute(
                select(exists().where(matches.c.match_id == query.match_id))
            ).scalar_one()
            if not known:
                raise MatchNotFound(f"no match {query.match_id!r} in the database")
            total = self._connection.execute(
                select(func.count()).select_from(events).where(where)
            ).scalar_one()
            rows = self._connection.execute(
                select(events).where(where).order_by(events.c.seq).limit(query.limit).offset(query.offset)
            ).all()
        return EventPage(total=total, events=tuple(_event(row) for row in rows))


def _job(row: Row[Any]) -> Job:
    return Job(
        job_id=row.job_id,
        kind=JobKind(row.kind),
        source=row.source,
        match_id=row.match_id,
        correlation_id=row.correlation_id,
        created_at=row.created_at,
        updated_at=row.updated_at,
        status=JobStatus(row.status),
        stage=JobStage(row.stage),
        reason=row.reason,
        counts=dict(row.counts or {}),
        outputs=dict(row.outputs or {}),
    )


def _job_values(job: Job) -> Mapping[str, object]:
    return {
        "job_id": job.job_id,
        "kind": job.kind,
        "source": job.source,
        "match_id": job.match_id,
        "correlation_id": job.correlation_id,
        "status": job.status.value,
        "stage": job.stage.value,
        "reason": job.reason,
        "counts": dict(job.counts),
        "outputs": dict(job.outputs),
        "created_at": as_utc(job.created_at),
        "updated_at": as_utc(job.updated_at),
    }


class PostgresJobRepository(JobRepository):
    """Jobs by id; `add` is idempotent (an existing id is left untouched and reported as False)."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def add(self, job: Job) -> bool:
        statement = (
            insert(jobs)
            .values(_job_values(job))
            .on_conflict_do_nothing(index_elements=[jobs.c.job_id])
            .returning(jobs.c.job_id)
        )
        with connection_errors_as_unavailable():
            return self._connection.execute(statement).first() is not None

    def get(self, job_id: str, *, lock: bool = False) -> Job:
        statement = select(jobs).where(jobs.c.job_id == job_id)
        if lock:
            statement = statement.with_for_update()
        with connection_errors_as_unavailable():
            row = self._connection.execute(statement).first()
        if row is None:
            raise JobNotFound(f"no job {job_id!r}")
        return _job(row)

    def update(self, job: Job) -> None:
        """Overwrites the stored job. Raises JobNotFound when it was never added."""
        values = {name: value for name, value in _job_values(job).items() if name != "job_id"}
        with connection_errors_as_unavailable():
            result = self._connection.execute(jobs.update().where(jobs.c.job_id == job.job_id).values(values))
        if result.rowcount == 0:
            raise JobNotFound(f"no job {job.job_id!r}")

    def find(self, *, correlation_id: str | None = None, match_id: str | None = None) -> builtins.list[Job]:
        """Jobs matching every given filter (all jobs when none is given), oldest first."""
        statement = select(jobs).order_by(jobs.c.created_at, jobs.c.job_id)
        if correlation_id is not None:
            statement = statement.where(jobs.c.correlation_id == correlation_id)
        if match_id is not None:
            statement = statement.where(jobs.c.match_id == match_id)
        with connection_errors_as_unavailable():
            return [_job(row) for row in self._connection.execute(statement)]


class PostgresProcessedMessages(ProcessedMessages):
    """The inbox table: a key recorded in a transaction is seen only once that transaction commits."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def seen(self, consumer: str, key: str) -> bool:
        statement = select(
            exists().where(
                processed_messages.c.consumer == consumer, processed_messages.c.idempotency_key == key
            )
        )
        with connection_errors_as_unavailable():
            return bool(self._connection.execute(statement).scalar_one())

    def record(self, consumer: str, key: str) -> None:
        statement = (
            insert(processed_messages)
            .values(consumer=consumer, idempotency_key=key)
            .on_conflict_do_nothing(
                index_elements=[processed_messages.c.consumer, processed_messages.c.idempotency_key]
            )
        )
        with connection_errors_as_unavailable():
            self._connection.execute(statement)
