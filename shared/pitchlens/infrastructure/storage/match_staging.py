"""Claim checks for normalised matches: events as gzip'd JSON, tracking as Parquet, both in the
artifacts bucket under `staging/matches/<job_id>/`; persisted tracking goes to
`tracking-data/provider/<source>/<match_id>/tracking.parquet`.

Provider tracking schema, version 1 (`TRACKING_SCHEMA`): one row per object per frame, sorted by
(frame, object_id), zstd.

    match_id    string   the match
    period      int8     1, 2 (3, 4 in extra time)
    frame       int64    the provider's frame number
    t_seconds   float64  seconds since the start of the period
    object_id   string   a player_id of the match's lineups, or "ball"
    team_id     string   the player's team; null for the ball
    x, y        float64  metres in the pitch frame of the events (domain/model.py: centre origin,
                         home attacking +x in every period, +y to its left); NaN when unknown

Key-value metadata: `pitchlens.schema_version` ("1"), `pitchlens.units` ("metres")."""

from __future__ import annotations

import dataclasses
import gzip
import io

import msgspec
import pyarrow as pa
import pyarrow.parquet as pq

from pitchlens.domain.errors import InvalidMessage
from pitchlens.domain.model import Match, TrackingData
from pitchlens.domain.ports import MatchStaging, ObjectStorage, StagedMatch
from pitchlens.infrastructure.storage.s3 import split_uri

TRACKING_SCHEMA_VERSION = 1
TRACKING_SCHEMA = pa.schema(
    [
        ("match_id", pa.string()),
        ("period", pa.int8()),
        ("frame", pa.int64()),
        ("t_seconds", pa.float64()),
        ("object_id", pa.string()),
        ("team_id", pa.string()),
        ("x", pa.float64()),
        ("y", pa.float64()),
    ],
    metadata={"pitchlens.schema_version": str(TRACKING_SCHEMA_VERSION), "pitchlens.units": "metres"},
)

_decoder = msgspec.json.Decoder(Match)


def tracking_table(match_id: str, tracking: TrackingData) -> pa.Table:
    rows = tracking.rows
    return pa.table(
        {
            "match_id": pa.array([match_id] * rows, pa.string()),
            "period": pa.array(tracking.period, pa.int8()),
            "frame": pa.array(tracking.frame, pa.int64()),
            "t_seconds": pa.array(tracking.timestamp, pa.float64()),
            "object_id": pa.array(tracking.object_id, pa.string()),
            "team_id": pa.array(tracking.team_id, pa.string()),
            "x": pa.array(tracking.x, pa.float64()),
            "y": pa.array(tracking.y, pa.float64()),
        },
        schema=TRACKING_SCHEMA,
    ).sort_by([("frame", "ascending"), ("object_id", "ascending")])


class S3MatchStaging(MatchStaging):
    """Stages matches in object storage so messages carry only their URIs."""

    def __init__(self, storage: ObjectStorage, artifacts_bucket: str, tracking_bucket: str) -> None:
        self._storage = storage
        self._artifacts = artifacts_bucket
        self._tracking = tracking_bucket

    def stage(self, match: Match, job_id: str) -> StagedMatch:
        prefix = f"staging/matches/{job_id}"
        body = gzip.compress(msgspec.json.encode(dataclasses.replace(match, tracking=None)), compresslevel=1)
        match_uri = self._storage.put(self._artifacts, f"{prefix}/match.json.gz", body).uri
        tracking_uri = None
        if match.tracking is not None:
            sink = io.BytesIO()
            pq.write_table(tracking_table(match.match_id, match.tracking), sink, compression="zstd")
            tracking_uri = self._storage.put(
                self._artifacts, f"{prefix}/tracking.parquet", sink.getvalue()
            ).uri
        return StagedMatch(match_uri, tracking_uri)

    def load(self, uri: str) -> Match:
        bucket, key = split_uri(uri)
        data = self._storage.get(bucket, key)
        try:
            return _decoder.decode(gzip.decompress(data))
        except (OSError, EOFError, msgspec.DecodeError) as error:
            raise InvalidMessage(f"staged match {uri} is unreadable: {error}") from error

    def publish_tracking(self, staged_uri: str, source: str, match_id: str) -> str:
        key = f"provider/{source}/{match_id}/tracking.parquet"
        return self._storage.copy(staged_uri, self._tracking, key).uri
