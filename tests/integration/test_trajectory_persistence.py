"""Trajectory persistence against real services: Parquet on an S3-compatible server (moto's, started
in this process on a free port) and the clips table in the embedded PostgreSQL."""

from __future__ import annotations

import dataclasses
import itertools
import logging
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import httpx
import numpy as np
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import pytest
from alembic import command
from botocore.config import Config
from botocore.exceptions import ClientError
from moto.server import ThreadedMotoServer
from sqlalchemy import Connection, inspect, text

from pitchlens.domain.errors import ClipNotFound, ObjectNotFound, ServiceUnavailable
from pitchlens.domain.vision import Clip, ClipStatus, FrameTracks, VideoInfo
from pitchlens.infrastructure.postgres.clip_repository import PostgresClipRepository
from pitchlens.infrastructure.postgres.engine import create_engine
from pitchlens.infrastructure.postgres.migrate import alembic_config, current_revision, migrate
from pitchlens.infrastructure.storage import trajectories as trajectories_module
from pitchlens.infrastructure.storage.trajectories import (
    SCHEMA_VERSION,
    TRAJECTORY_SCHEMA,
    S3TrajectoryStore,
    trajectories_key,
    trajectory_table,
)
from pitchlens.runtime.embedded.postgres import EmbeddedPostgres

pytestmark = pytest.mark.integration

REGION = "us-east-1"
BUCKET = "tracking-data"
T0 = datetime(2024, 6, 14, 19, 0, tzinfo=UTC)


# --- an S3 server that a test can stop and start again ----------------------------------------


class MotoS3:
    """moto's S3 server in this process. Its state lives in module globals, so objects survive a
    stop and start on the same port (like a real store coming back after an outage)."""

    def __init__(self) -> None:
        self.port = 0
        self._server: ThreadedMotoServer | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self._server.start()
        self.port = self._server.get_host_and_port()[1]

    @property
    def running(self) -> bool:
        return self._server is not None

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    def reset(self) -> None:
        httpx.post(f"{self.endpoint}/moto-api/reset", timeout=10).raise_for_status()

    def client(self) -> Any:
        # One HTTP attempt per call, so the attempts counted are the store's own retries.
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id="pitchlens",
            aws_secret_access_key="pitchlens",
            config=Config(
                connect_timeout=1,
                read_timeout=10,
                retries={"total_max_attempts": 1},
                s3={"addressing_style": "path"},
            ),
        )

    def filesystem(self) -> pafs.S3FileSystem:
        return pafs.S3FileSystem(
            access_key="pitchlens",
            secret_key="pitchlens",
            region=REGION,
            endpoint_override=self.endpoint,
            scheme="http",
        )


@pytest.fixture(scope="module")
def moto_s3() -> Iterator[MotoS3]:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # an access-log line per request otherwise
    server = MotoS3()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def s3(moto_s3: MotoS3) -> MotoS3:
    """The server, running (a previous test may have stopped it) and emptied."""
    if not moto_s3.running:
        moto_s3.start()
    moto_s3.reset()
    return moto_s3


@pytest.fixture
def store(s3: MotoS3) -> S3TrajectoryStore:
    trajectories = S3TrajectoryStore(s3.client(), BUCKET, backoff_s=0.05, max_backoff_s=0.2)
    trajectories.ensure_bucket()
    return trajectories


def frames(count: int, *, first_track: int = 1, tracks: int = 3, seed: int = 0) -> list[FrameTracks]:
    """`count` frames of `tracks` players moving a little each frame (numpy columns)."""
    rng = np.random.default_rng(seed)
    ids = np.arange(first_track, first_track + tracks)
    origin = rng.uniform(100, 800, size=(tracks, 2))
    half = np.array([10.0, 30.0])
    result = []
    for index in range(count):
        centre = origin + index * 1.5
        boxes = np.concatenate([centre - half, centre + half], axis=1).astype(np.float32)
        result.append(FrameTracks(index, ids[::-1].copy(), boxes, rng.uniform(0.3, 1.0, tracks)))
    return result


def object_exists(client: Any, bucket: str, key: str) -> bool:
    try:
        client.head_object(Bucket=bucket, Key=key)
    except ClientError as error:
        if error.response["Error"]["Code"] in ("404", "NoSuchKey", "NotFound"):
            return False
        raise
    return True


# --- the Parquet file ---------------------------------------------------------------------------


def test_a_saved_table_reads_back_with_its_schema_order_metadata_and_foot_points(
    store: S3TrajectoryStore, s3: MotoS3
) -> None:
    tracks = [
        FrameTracks(0, [7, 2], [[10.0, 20.0, 30.0, 80.0], [100.0, 50.0, 140.0, 150.0]], [0.9, 0.5]),
        FrameTracks(
            1, np.array([2, 7]), np.array([[102, 51, 142, 151], [11, 21, 31, 81]]), np.array([0.6, 0.8])
        ),
        FrameTracks(2, [], [], []),  # nobody tracked in this frame
        FrameTracks(3, [7], np.array([[12.5, 22.0, 33.5, 83.0]], np.float32), [0.7]),
    ]
    table = trajectory_table("m-1", "clip-a", 25.0, tracks)
    ref = store.save("m-1", "clip-a", table)

    assert ref.uri == "s3://tracking-data/tracking/m-1/clip-a/trajectories.parquet"
    assert (ref.rows, ref.schema_version) == (5, SCHEMA_VERSION) == (5, 2)
    loaded = store.load_tracks(ref.uri)
    assert loaded.schema.equals(TRAJECTORY_SCHEMA, check_metadata=False)
    assert loaded.schema.metadata[b"pitchlens.schema_version"] == b"2"
    assert loaded.schema.metadata[b"pitchlens.fps"] == b"25.0"
    rows = loaded.to_pylist()
    assert [(row["track_id"], row["frame"]) for row in rows] == [(2, 0), (2, 1), (7, 0), (7, 1), (7, 3)]
    assert {row["match_id"] for row in rows} == {"m-1"} and {row["clip_id"] for row in rows} == {"clip-a"}
    assert [row["t_seconds"] for row in rows] == [0.0, 0.04, 0.0, 0.04, 0.12]
    last = rows[-1]
    assert (last["x1"], last["y1"], last["x2"], last["y2"]) == (12.5, 22.0, 33.5, 83.0)
    assert last["confidence"] == pytest.approx(0.7)
    for row in rows:
        assert row["foot_x"] == pytest.approx((row["x1"] + row["x2"]) / 2)
        assert row["foot_y"] == row["y2"]

    # The file itself: footer metadata, zstd, declared sort order, dictionary-encoded ids.
    body = store._client.get_object(Bucket=BUCKET, Key="tracking/m-1/clip-a/trajectories.parquet")["Body"]
    parquet = pq.ParquetFile(pa.BufferReader(body.read()))
    assert parquet.metadata.metadata[b"pitchlens.schema_version"] == b"2"
    group = parquet.metadata.row_group(0)
    columns = {group.column(i).path_in_schema: group.column(i) for i in range(group.num_columns)}
    assert {column.compression for column in columns.values()} == {"ZSTD"}
    assert [parquet.schema_arrow.names[c.column_index] for c in group.sorting_columns] == [
        "track_id",
        "frame",
    ]
    for name in ("match_id", "clip_id"):
        assert parquet.schema.column(parquet.schema_arrow.get_field_index(name)).logical_type.type == "STRING"
        assert columns[name].has_dictionary_page
    head = store._client.head_object(Bucket=BUCKET, Key="tracking/m-1/clip-a/trajectories.parquet")
    assert head["Metadata"] == {"schema-version": "2", "rows": "5"}
    # Not placed on the pitch: the version-2 columns are there, all null.
    assert {(row["pitch_x"], row["pitch_y"], row["team"], row["on_pitch"]) for row in rows} == {
        (None, None, None, None)
    }


def test_version_2_keeps_the_version_1_columns_and_carries_the_placement_back(
    store: S3TrajectoryStore, s3: MotoS3
) -> None:
    nan = float("nan")
    tracks = [
        FrameTracks(
            0,
            [7, 2],
            [[10.0, 20.0, 30.0, 80.0], [100.0, 50.0, 140.0, 150.0]],
            [0.9, 0.5],
            on_pitch=[True, False],
            teams=["white", None],
            pitch_xy=[(-12.5, 3.25), (nan, nan)],
        ),
        FrameTracks(1, [7], [[11.0, 21.0, 31.0, 81.0]], [0.8], [True], ["white"], [(-12.0, 3.5)], shot=1),
    ]
    table = trajectory_table(
        "m-1", "clip-b", 25.0, tracks, pitch_reason="frames 0-0: not calibrated", pitch_source="automatic"
    )
    ref = store.save("m-1", "clip-b", table)

    loaded = store.load_tracks(ref.uri)
    v1 = ["match_id", "clip_id", "frame", "t_seconds", "track_id", "x1", "y1", "x2", "y2", "confidence"]
    assert loaded.column_names[: len(v1)] == v1 and loaded.column_names[-5:] == [
        "pitch_x",
        "pitch_y",
        "team",
        "on_pitch",
        "shot",
    ]
    rows = [
        (r["track_id"], r["frame"], r["pitch_x"], r["pitch_y"], r["team"], r["on_pitch"])
        for r in loaded.to_pylist()
    ]
    assert rows == [
        (2, 0, None, None, None, False),
        (7, 0, -12.5, 3.25, "white", True),
        (7, 1, -12.0, 3.5, "white", True),
    ]
    back = store.tracks(ref.uri)
    assert [frame.shot for frame in back] == [None, 1]  # a cut on frame 1
    assert [[bool(f) for f in frame.on_pitch] for frame in back if frame.on_pitch is not None] == [
        [False, True],
        [True],
    ]
    assert [list(frame.teams) for frame in back if frame.teams is not None] == [[None, "white"], ["white"]]
    assert back[1].pitch_xy is not None and list(back[1].pitch_xy[0]) == [-12.0, 3.5]
    unplaced = store.save(
        "m-1", "clip-c", trajectory_table("m-1", "clip-c", 25.0, tracks[:0], "not calibrated")
    )
    assert store.pitch_reason(unplaced.uri) == "not calibrated"
    assert store.pitch_reason(ref.uri) == "frames 0-0: not calibrated"
    assert store.pitch_source(ref.uri) == "automatic" and store.pitch_source(unplaced.uri) is None


@pytest.mark.parametrize(
    ("name", "ids", "frame_order"),
    [
        ("small ids, frames in order (radix sort)", [3, 1, 2], [0, 1, 2, 3]),
        ("ids beyond uint16", [70_000, 5, 65_536], [0, 1, 2, 3]),
        ("negative ids", [-1, 4, 0], [0, 1, 2, 3]),
        ("frames out of order", [3, 1, 2], [2, 0, 3, 1]),
    ],
)
def test_rows_are_sorted_by_track_then_frame(name: str, ids: list[int], frame_order: list[int]) -> None:
    tracks = [
        FrameTracks(index, ids, [[index, 0.0, index + 1.0, 2.0]] * len(ids), [0.5] * len(ids))
        for index in frame_order
    ]
    table = trajectory_table("m", "c", 10.0, tracks)
    pairs = list(zip(table.column("track_id").to_pylist(), table.column("frame").to_pylist(), strict=True))
    assert pairs == sorted((track, frame) for track in ids for frame in frame_order)
    assert table.column("x1").to_pylist() == [float(frame) for _, frame in pairs]


@pytest.mark.parametrize(
    ("fps", "tracks", "problem"),
    [
        (0.0, [FrameTracks(0, [1], [[0, 0, 1, 1]], [0.5])], "fps"),
        (25.0, [FrameTracks(0, [1, 2], [[0, 0, 1, 1]], [0.5, 0.5])], "different numbers"),
        (25.0, [FrameTracks(0, [1], [[0, 0, 1]], [0.5])], "boxes must be rows"),
        (25.0, [FrameTracks(0, [2**31], [[0, 0, 1, 1]], [0.5])], "track id"),
        (25.0, [FrameTracks(-1, [1], [[0, 0, 1, 1]], [0.5])], "frame index"),
    ],
)
def test_malformed_tracks_are_rejected(fps: float, tracks: list[FrameTracks], problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        trajectory_table("m", "c", fps, tracks)


def test_an_empty_clip_is_an_empty_file(store: S3TrajectoryStore) -> None:
    ref = store.save("m", "empty", trajectory_table("m", "empty", 25.0, []))
    assert ref.rows == 0
    assert store.load_tracks(ref.uri).num_rows == 0
    assert store.tracks(ref.uri) == []  # a segment where nobody was tracked stitches as nothing


def test_ids_that_are_not_one_path_segment_and_foreign_tables_are_refused(store: S3TrajectoryStore) -> None:
    table = trajectory_table("m", "c", 25.0, frames(2))
    for match_id, clip_id in (("a/b", "c"), ("m", ".."), ("", "c"), ("m", "c\n")):
        with pytest.raises(ValueError, match="path segment"):
            store.save(match_id, clip_id, table)
    with pytest.raises(ValueError, match="not a trajectory table"):
        store.save("m", "c", pa.table({"frame": [1, 2]}))
    with pytest.raises(ValueError, match="another clip"):
        store.save("m", "other", table)
    two_clips = pa.concat_tables([table, trajectory_table("m", "d", 25.0, frames(2))])
    with pytest.raises(ValueError, match="one clip"):
        store.save("m", "c", two_clips)


def test_loading_a_missing_or_foreign_file_fails_clearly(store: S3TrajectoryStore) -> None:
    with pytest.raises(ObjectNotFound):
        store.load_tracks("s3://tracking-data/tracking/m/nothing/trajectories.parquet")
    sink = pa.BufferOutputStream()
    pq.write_table(pa.table({"x": [1]}), sink)
    store._client.put_object(Bucket=BUCKET, Key="other.parquet", Body=sink.getvalue().to_pybytes())
    with pytest.raises(ValueError, match="schema version"):
        store.load_tracks("s3://tracking-data/other.parquet")


def test_ensure_bucket_creates_it_once(s3: MotoS3) -> None:
    client = s3.client()
    store = S3TrajectoryStore(client, "fresh-bucket")
    assert "fresh-bucket" not in {b["Name"] for b in client.list_buckets()["Buckets"]}
    store.ensure_bucket()
    store.ensure_bucket()
    assert "fresh-bucket" in {b["Name"] for b in client.list_buckets()["Buckets"]}


# --- layout: clips side by side -----------------------------------------------------------------


def test_clips_of_a_match_never_overwrite_each_other_and_read_together(
    store: S3TrajectoryStore, s3: MotoS3
) -> None:
    first = store.save("m-7", "clip-a", trajectory_table("m-7", "clip-a", 25.0, frames(40, tracks=3)))
    second = store.save(
        "m-7", "clip-b", trajectory_table("m-7", "clip-b", 30.0, frames(25, first_track=1, tracks=2, seed=1))
    )
    store.save("m-8", "clip-a", trajectory_table("m-8", "clip-a", 25.0, frames(10)))  # another match
    assert first.uri != second.uri
    assert store.load_tracks(first.uri).num_rows == 120
    assert store.load_tracks(second.uri).num_rows == 50

    prefix = store.match_prefix("m-7")
    assert prefix == "s3://tracking-data/tracking/m-7/"
    dataset = ds.dataset(prefix.removeprefix("s3://"), format="parquet", filesystem=s3.filesystem())
    together = dataset.to_table()
    assert together.num_rows == 170
    assert set(together.column("match_id").to_pylist()) == {"m-7"}
    per_clip = together.group_by("clip_id").aggregate([("frame", "count")]).to_pylist()
    assert {row["clip_id"]: row["frame_count"] for row in per_clip} == {"clip-a": 120, "clip-b": 50}
    # Track 1 exists in both clips: the clip id is what tells their rows apart.
    only_b = dataset.to_table(filter=(ds.field("clip_id") == "clip-b") & (ds.field("track_id") == 1))
    assert only_b.num_rows == 25

    # Saving a clip again replaces that clip only.
    store.save("m-7", "clip-b", trajectory_table("m-7", "clip-b", 30.0, frames(5, tracks=2)))
    assert store.load_tracks(second.uri).num_rows == 10
    assert store.load_tracks(first.uri).num_rows == 120


# --- object storage down ------------------------------------------------------------------------


def test_storage_down_retries_three_times_then_raises_and_leaves_nothing_partial(
    store: S3TrajectoryStore, s3: MotoS3, caplog: pytest.LogCaptureFixture
) -> None:
    saved = store.save("m-9", "clip-a", trajectory_table("m-9", "clip-a", 25.0, frames(30)))
    new_clip = trajectory_table("m-9", "clip-b", 25.0, frames(500, tracks=22))
    replacement = trajectory_table("m-9", "clip-a", 25.0, frames(3))
    s3.stop()

    caplog.set_level(logging.WARNING, logger="pitchlens.infrastructure.storage.trajectories")
    started = time.monotonic()
    with pytest.raises(ServiceUnavailable, match="after 3 attempts"):
        store.save("m-9", "clip-b", new_clip)
    elapsed = time.monotonic() - started
    attempts = [record.attempt for record in caplog.records if hasattr(record, "attempt")]
    assert attempts == [1, 2, 3]
    assert elapsed >= 0.05 + 0.1  # exponential backoff between the attempts
    caplog.clear()
    with pytest.raises(ServiceUnavailable):
        store.save("m-9", "clip-a", replacement)
    assert len([record for record in caplog.records if hasattr(record, "attempt")]) == 3

    s3.start()  # the store comes back on the same port, with the objects it had
    client = s3.client()
    assert not object_exists(client, BUCKET, "tracking/m-9/clip-b/trajectories.parquet")
    assert [o["Key"] for o in client.list_objects_v2(Bucket=BUCKET)["Contents"]] == [
        "tracking/m-9/clip-a/trajectories.parquet"
    ]
    assert store.load_tracks(saved.uri).num_rows == 90  # the earlier save, whole
    assert store.save("m-9", "clip-b", new_clip).rows == 11_000  # and the next attempt succeeds


def test_ensure_bucket_with_storage_down_raises_service_unavailable(s3: MotoS3) -> None:
    store = S3TrajectoryStore(s3.client(), BUCKET)
    s3.stop()
    with pytest.raises(ServiceUnavailable):
        store.ensure_bucket()


# --- the TrajectoryStore port: stage, then publish ----------------------------------------------


def test_staged_tracks_publish_to_the_clip_key(store: S3TrajectoryStore) -> None:
    store._client.create_bucket(Bucket="artifacts")
    tracks = frames(20, tracks=4)
    staged = store.stage("job-1", "m-3", "clip-z", 25.0, tracks)
    assert staged == "s3://artifacts/staging/tracks/job-1/tracks.parquet"

    ref = store.publish(staged, "m-3", "clip-z")
    assert ref.uri == store.uri("m-3", "clip-z")
    assert (ref.rows, ref.schema_version) == (80, 2)
    assert store.load_tracks(ref.uri).equals(store.load_tracks(staged))
    with pytest.raises(ObjectNotFound):
        store.publish("s3://artifacts/staging/tracks/job-404/tracks.parquet", "m-3", "clip-z")


def test_tracks_staged_lazily_in_batches_give_the_file_one_pass_gives(
    store: S3TrajectoryStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A whole match is staged from a generator, a few frames at a time: the file is the one a list
    of all its frames makes (rows sorted by track, then frame, across batches), and the notes learnt
    while the frames passed are asked only once they all have."""
    store._client.create_bucket(Bucket="artifacts")
    # Tracks that outlive a batch and ids that do not come in order: the batches must be merged.
    tracks = [
        dataclasses.replace(frame, track_ids=np.array([9, 2, 5]) + 10 * (frame.frame_index // 40))
        for frame in frames(100, tracks=3)
    ]
    whole = store.load_tracks(store.stage("job-3", "m-3", "clip-x", 25.0, tracks, "whole", "why"))
    read: list[int] = []
    asked_after: list[int] = []

    def lazily() -> Iterator[FrameTracks]:
        for frame in tracks:
            read.append(frame.frame_index)
            yield frame

    monkeypatch.setattr(trajectories_module, "STAGE_FRAMES", 7)
    monkeypatch.setattr(trajectories_module, "ROW_GROUP_ROWS", 50)
    staged = store.stage(
        "job-3", "m-3", "clip-x", 25.0, lazily(), "batched", lambda: asked_after.append(len(read)) or "why"
    )
    batched = store.load_tracks(staged)
    assert asked_after == [100]
    assert batched.equals(whole) and batched.schema.metadata == whole.schema.metadata
    assert batched.num_rows == 300
    ordered = list(zip(batched["track_id"].to_pylist(), batched["frame"].to_pylist(), strict=True))
    assert ordered == sorted(ordered)
    assert store.pitch_reason(staged) == "why"
    # Row groups of whole tracks, closed once they hold ROW_GROUP_ROWS rows (tracks of 40 rows, then 20).
    bucket, key = staged.removeprefix("s3://").split("/", 1)
    body = store._client.get_object(Bucket=bucket, Key=key)["Body"].read()
    parquet = pq.ParquetFile(pa.BufferReader(body))
    groups = [parquet.read_row_group(i).column("track_id").to_pylist() for i in range(parquet.num_row_groups)]
    assert [len(g) for g in groups] == [80, 80, 80, 60]
    assert all(not set(a) & set(b) for a, b in itertools.pairwise(groups))
    assert [f.frame_index for f in store.tracks(staged, track_ids=[12])] == list(range(40, 80))


def test_publishing_with_storage_down_retries_then_raises(
    store: S3TrajectoryStore, s3: MotoS3, caplog: pytest.LogCaptureFixture
) -> None:
    store._client.create_bucket(Bucket="artifacts")
    staged = store.stage("job-2", "m-3", "clip-y", 25.0, frames(5))
    s3.stop()
    caplog.set_level(logging.WARNING, logger="pitchlens.infrastructure.storage.trajectories")
    with pytest.raises(ServiceUnavailable, match="after 3 attempts"):
        store.publish(staged, "m-3", "clip-y")
    assert [record.attempt for record in caplog.records if hasattr(record, "attempt")] == [1, 2, 3]
    s3.start()
    assert not object_exists(s3.client(), BUCKET, "tracking/m-3/clip-y/trajectories.parquet")


class CountingClient:
    """A boto3 S3 client that counts the bytes its GETs bring back."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.meta = client.meta
        self.fetched = 0
        self.whole_gets = 0

    def get_object(self, **request: Any) -> Any:
        answer = self._client.get_object(**request)
        self.fetched += int(answer["ContentLength"])
        self.whole_gets += "Range" not in request
        return answer

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


def test_one_track_is_read_by_ranges_without_the_rest_of_the_file(
    store: S3TrajectoryStore, s3: MotoS3, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The file is sorted by track; with small row groups one track is a few of them, and only they
    (and the footer) are fetched. The pitch reason comes from the footer alone."""
    monkeypatch.setattr(trajectories_module, "ROW_GROUP_ROWS", 5_000)
    tracks = frames(5_000, tracks=10, seed=3)  # 50,000 rows: 10 row groups, one track each
    ref = store.save("m-4", "clip-r", trajectory_table("m-4", "clip-r", 25.0, tracks, "not calibrated"))
    size = int(s3.client().head_object(Bucket=BUCKET, Key=trajectories_key("m-4", "clip-r"))["ContentLength"])
    counting = CountingClient(s3.client())
    reader = S3TrajectoryStore(counting, BUCKET)

    one = reader.tracks(ref.uri, track_ids=[7])

    assert [frame.frame_index for frame in one] == list(range(5_000))
    assert {int(t) for frame in one for t in frame.track_ids} == {7}
    whole = {f.frame_index: f for f in store.tracks(ref.uri)}
    for frame in one[::500]:
        row = list(whole[frame.frame_index].track_ids).index(7)
        assert np.asarray(frame.boxes)[0].tolist() == np.asarray(whole[frame.frame_index].boxes)[row].tolist()
    assert counting.whole_gets == 0 and 0 < counting.fetched < size / 3, (counting.fetched, size)
    assert reader.tracks(ref.uri, track_ids=[99]) == []
    counting.fetched = 0
    assert reader.pitch_reason(ref.uri) == "not calibrated"
    assert counting.fetched <= 64 * 1024 < size / 4  # the footer (pyarrow reads its last 64 KiB)
    with pytest.raises(ObjectNotFound):
        reader.tracks(store.uri("m-4", "nope"), track_ids=[1])


# --- clips in PostgreSQL ------------------------------------------------------------------------


@pytest.fixture
def connection(database_url: str) -> Iterator[Connection]:
    """A connection to the migrated test database, `clips` emptied, inside a transaction that the
    test commits or rolls back."""
    engine = create_engine(database_url)
    try:
        with engine.begin() as setup:
            setup.execute(text("TRUNCATE clips CASCADE"))
        with engine.connect() as open_connection:
            open_connection.begin()
            yield open_connection
    finally:
        engine.dispose()


def clip(clip_id: str, *, match_id: str = "m-1", minutes: int = 0, **changes: object) -> Clip:
    values: dict[str, object] = {
        "clip_id": clip_id,
        "match_id": match_id,
        "video_uri": f"s3://videos/{match_id}/{clip_id}.mp4",
        "status": ClipStatus.UPLOADED,
        "created_at": T0 + timedelta(minutes=minutes),
        "updated_at": T0 + timedelta(minutes=minutes),
    }
    return Clip(**{**values, **changes})  # type: ignore[arg-type]


def test_clips_round_trip_through_postgres(connection: Connection) -> None:
    clips = PostgresClipRepository(connection)
    uploaded = clip("c-1")
    assert clips.add(uploaded)
    assert not clips.add(clip("c-1", video_uri="s3://videos/other.mp4"))  # the first one stays
    assert clips.get("c-1") == uploaded

    persisted = clip(
        "c-1",
        status=ClipStatus.PERSISTED,
        updated_at=T0 + timedelta(minutes=5),
        info=VideoInfo(1920, 1080, 25.0, 2250, 90.0, "h264", has_audio=True, variable_frame_rate=False),
        detection_frame=12,
        frame_uri="s3://artifacts/m-1/c-1/frame_12.jpg",
        detections_uri="s3://artifacts/m-1/c-1/detections.json",
        tracks_uri="s3://artifacts/staging/tracks/j/tracks.parquet",
        trajectories_uri="s3://tracking-data/tracking/m-1/c-1/trajectories.parquet",
        trajectory_rows=49_500,
        schema_version=1,
        counts={"frames": 2250, "tracks": 25},
    )
    clips.update(persisted)
    assert clips.get("c-1") == persisted
    failed = clip("c-2", minutes=1, status=ClipStatus.FAILED, reason="not a video: no stream")
    clips.add(failed)
    clips.add(clip("c-3", match_id="m-2"))
    assert clips.list("m-1") == [persisted, failed]
    assert clips.list("nobody") == []
    connection.commit()

    # Naive datetimes are UTC; a video not probed yet has no info.
    naive = clip("c-4", created_at=datetime(2024, 1, 1, 12), updated_at=datetime(2024, 1, 1, 12))
    clips.add(naive)
    stored = clips.get("c-4")
    assert stored.created_at == datetime(2024, 1, 1, 12, tzinfo=UTC) and stored.info is None
    connection.rollback()
    with pytest.raises(ClipNotFound):
        clips.get("c-4")  # rolled back with its transaction
    with pytest.raises(ClipNotFound):
        clips.update(clip("c-404"))


def test_migration_0002_applies_on_top_of_0001_and_reverts(embedded_postgres: EmbeddedPostgres) -> None:
    name = f"scratch_{uuid.uuid4().hex[:12]}"
    url = embedded_postgres.create_database(name)
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            command.upgrade(alembic_config(connection), "0001")
        assert current_revision(url) == "0001"
        assert "clips" not in inspect(engine).get_table_names()
        with engine.begin() as connection:
            command.upgrade(alembic_config(connection), "0002")
        assert current_revision(url) == "0002"
        inspector = inspect(engine)
        assert "clips" in inspector.get_table_names()
        assert {index["name"] for index in inspector.get_indexes("clips")} == {"ix_clips_match_id"}
        collations = {
            c["name"]: getattr(c["type"], "collation", None) for c in inspector.get_columns("clips")
        }
        assert collations["clip_id"] == collations["match_id"] == "C"
        with engine.begin() as connection:
            command.downgrade(alembic_config(connection), "0001")
        assert current_revision(url) == "0001"
        assert "clips" not in inspect(engine).get_table_names()
        assert "matches" in inspect(engine).get_table_names()
    finally:
        engine.dispose()
        embedded_postgres.drop_database(name)


def test_migrations_0003_to_0005_add_sessions_segments_and_the_minimap_option_and_revert(
    embedded_postgres: EmbeddedPostgres,
) -> None:
    name = f"scratch_{uuid.uuid4().hex[:12]}"
    url = embedded_postgres.create_database(name)
    engine = create_engine(url)
    try:
        migrate(url)
        assert current_revision(url) == "0005"
        inspector = inspect(engine)
        assert "minimap" in {column["name"] for column in inspector.get_columns("session_clips")}
        assert {"sessions", "session_clips", "clip_segments"} <= set(inspector.get_table_names())
        assert inspector.get_pk_constraint("session_clips")["constrained_columns"] == [
            "session_id",
            "clip_id",
        ]
        assert inspector.get_pk_constraint("clip_segments")["constrained_columns"] == [
            "clip_id",
            "job_id",
            "segment",
        ]
        with engine.begin() as connection:
            command.downgrade(alembic_config(connection), "0004")
        assert current_revision(url) == "0004"
        assert "minimap" not in {column["name"] for column in inspect(engine).get_columns("session_clips")}
        with engine.begin() as connection:
            command.downgrade(alembic_config(connection), "0003")
        assert current_revision(url) == "0003"
        assert "clip_segments" not in inspect(engine).get_table_names()
        assert {"sessions", "session_clips"} <= set(inspect(engine).get_table_names())
        with engine.begin() as connection:
            command.downgrade(alembic_config(connection), "0002")
        assert current_revision(url) == "0002"
        assert not {"sessions", "session_clips"} & set(inspect(engine).get_table_names())
        assert "clips" in inspect(engine).get_table_names()
    finally:
        engine.dispose()
        embedded_postgres.drop_database(name)


# --- the benchmark still runs -------------------------------------------------------------------


def test_the_trajectory_benchmark_runs_on_a_small_match(s3: MotoS3) -> None:
    from tests.benchmarks.trajectories import run

    rows = run(s3.client(), "bench-bucket", minutes=0.2, repeats=1)
    assert [len(row) for row in rows] == [5, 5, 5, 5]
    assert rows[0][0].startswith("trajectories, 6,600 rows")
