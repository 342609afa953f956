"""Player trajectories of one clip as Parquet in the `tracking-data` bucket.

Schema, version 2 (`TRAJECTORY_SCHEMA`): one row per track per frame, in pixels of the source video
(origin top-left, x right, y down), sorted by (track_id, frame) so each track is one contiguous run.
The version-1 columns are required (no nulls):

    match_id    string   the match the clip belongs to (dictionary-encoded, one value per file)
    clip_id     string   the clip (dictionary-encoded, one value per file)
    frame       int32    frame index in the clip, from 0
    t_seconds   float64  frame / fps: seconds from the start of the clip
    track_id    int32    the tracker's id, unique within the clip only
    x1, y1      float32  top-left corner of the box
    x2, y2      float32  bottom-right corner of the box
    confidence  float32  detector confidence of the box, 0..1
    foot_x      float32  (x1 + x2) / 2: bottom centre of the box, where the player touches the pitch
    foot_y      float32  y2

Version 2 keeps every version-1 column (a reader of version 1 that selects its columns by name
still works) and adds the players' placement on the pitch, null where it is unknown:

    pitch_x     float32  foot point in metres of the event data's frame (README "Coordinates"):
    pitch_y     float32  105 x 68 pitch, origin the centre spot, +x towards the goal the home team
                         attacks (by default the goal on the right of the main camera's picture),
                         +y to the left of that direction; null where the frame has no homography
    team        string   the team by kit colour ("white", "green" ...), "other" (goalkeepers,
                         referees), null where the kit was never seen
    on_pitch    bool     the foot point on the playing area (with a throw-in's margin); null for
                         an unplaced clip
    shot        int32    the first frame of the camera shot the frame is in (a cut or dissolve to
                         another view starts a new one; tracks never continue across); null for
                         an unplaced clip

When the pitch columns are null the metadata key `pitchlens.pitch_reason` says why (not
calibrated, no pitch in view ...); where they are not, `pitchlens.pitch_source` says where the
homographies come from (`manual` points, `automatic` fit to the pitch lines, or per shot).

The file's key-value metadata carries `pitchlens.schema_version` ("2"), `pitchlens.units` ("pixels"),
`pitchlens.sorted_by` ("track_id,frame") and the clip's `pitchlens.fps`; the footer also declares
the sort order (sorting_columns). Readers check the version (`load_tracks` does).

Layout: `s3://tracking-data/tracking/{match_id}/{clip_id}/trajectories.parquet`. One key per clip,
so clips never overwrite each other; a re-run of the same clip replaces its own file. The clip id is
a column, not a Hive `clip_id=...` folder name, so every file is self-describing and one match reads
as one dataset with no partitioning options:
`pyarrow.dataset.dataset("s3://tracking-data/tracking/<match_id>/", format="parquet")`
(`match_prefix` gives that URI).

Atomicity: the file is encoded in memory and sent with one PUT. S3 (like MinIO and moto) makes an
object visible only once its PUT has completed, so a reader sees the whole new file, the previous
one, or none, never a partial one. A temporary key plus a copy would send the bytes twice and add
nothing (S3 has no rename, and a copy is atomic the same way); a multipart upload measured slower.
A 90-minute match is ~60 MB, far below the 5 GB single-PUT limit.

The TrajectoryStore port between the track and persist functions: `stage` writes this same file as
a claim check in the artifacts bucket, `publish` copies it server-side to the clip's key (a copy
is atomic like a PUT), with the same retries as `save`. `tracks(uri, track_ids=...)` reads a few
tracks without the rest of the file (range requests: the footer, then the row groups whose
track_id statistics can hold them), and `pitch_reason` the footer alone.
"""

from __future__ import annotations

import bisect
import itertools
import logging
import tempfile
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from operator import attrgetter
from typing import Any, TypeVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from botocore.exceptions import BotoCoreError, ClientError
from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from pitchlens.domain.errors import InvalidTrackingData, ObjectNotFound, ServiceUnavailable
from pitchlens.domain.vision import FrameTracks, Note, TrajectoryRef, TrajectoryStore, noted
from pitchlens.infrastructure.storage.s3 import split_uri

logger = logging.getLogger(__name__)
T = TypeVar("T")

SCHEMA_VERSION = 2
PITCH_REASON_KEY = "pitchlens.pitch_reason"
PITCH_SOURCE_KEY = "pitchlens.pitch_source"
SCHEMA_VERSION_KEY = "pitchlens.schema_version"
TRAJECTORIES_BUCKET = "tracking-data"
STAGING_BUCKET = "artifacts"
TRAJECTORIES_FILE = "trajectories.parquet"
PARQUET_CONTENT_TYPE = "application/vnd.apache.parquet"

_FLOAT_COLUMNS = ("x1", "y1", "x2", "y2", "confidence", "foot_x", "foot_y")
_ID_COLUMNS = ("match_id", "clip_id")

TRAJECTORY_SCHEMA = pa.schema(
    [
        pa.field("match_id", pa.string(), nullable=False),
        pa.field("clip_id", pa.string(), nullable=False),
        pa.field("frame", pa.int32(), nullable=False),
        pa.field("t_seconds", pa.float64(), nullable=False),
        pa.field("track_id", pa.int32(), nullable=False),
        *(pa.field(name, pa.float32(), nullable=False) for name in _FLOAT_COLUMNS),
        pa.field("pitch_x", pa.float32()),
        pa.field("pitch_y", pa.float32()),
        pa.field("team", pa.string()),
        pa.field("on_pitch", pa.bool_()),
        pa.field("shot", pa.int32()),
    ],
    metadata={
        SCHEMA_VERSION_KEY: str(SCHEMA_VERSION),
        "pitchlens.units": "pixels",
        "pitchlens.sorted_by": "track_id,frame",
    },
)

# Parquet settings, chosen by measurement on a 2,970,000-row match (tests/benchmarks/trajectories.py):
# - BYTE_STREAM_SPLIT groups the bytes of each float, so zstd finds the slowly changing exponents and
#   high mantissa bytes of a random walk (81 -> 64 MB, and faster than plain); DELTA_BINARY_PACKED
#   stores the frame runs of each track and the track ids in a few bits.
# - Dictionaries only for the two ids: trying them on millions of distinct floats costs time and is
#   then abandoned. The ids reach the writer as one-entry dictionary arrays (`encode_parquet`), so it
#   writes that dictionary as it is instead of hashing millions of equal strings (a third of the
#   encoding time). The Arrow schema is therefore not stored (it would say "dictionary"): readers
#   see Parquet's STRING, as in TRAJECTORY_SCHEMA, and the metadata goes in as key-value pairs.
# - zstd level -1 (a "fast" level): faster than level 1 and here no larger; higher levels take
#   longer for ~2% less.
# - Statistics (min/max) only where readers filter (ids, frame, time): on the float columns they
#   cost a third of the encoding time. 512Ki-row row groups (~10 MB) keep them selective.
ROW_GROUP_ROWS = 512 * 1024
PARQUET_OPTIONS: dict[str, Any] = {
    "compression": "zstd",
    "compression_level": -1,
    "use_dictionary": ["match_id", "clip_id", "team"],
    "column_encoding": {
        "frame": "DELTA_BINARY_PACKED",
        "track_id": "DELTA_BINARY_PACKED",
        "t_seconds": "BYTE_STREAM_SPLIT",
        **dict.fromkeys(_FLOAT_COLUMNS, "BYTE_STREAM_SPLIT"),
        "pitch_x": "BYTE_STREAM_SPLIT",
        "pitch_y": "BYTE_STREAM_SPLIT",
        "shot": "DELTA_BINARY_PACKED",
    },
    "write_statistics": ["match_id", "clip_id", "frame", "t_seconds", "track_id"],
    "store_schema": False,
    "sorting_columns": [
        pq.SortingColumn(TRAJECTORY_SCHEMA.get_field_index("track_id")),
        pq.SortingColumn(TRAJECTORY_SCHEMA.get_field_index("frame")),
    ],
}

_INT32_MIN, _INT32_MAX = int(np.iinfo(np.int32).min), int(np.iinfo(np.int32).max)
_SCHEMA_METADATA = dict(TRAJECTORY_SCHEMA.metadata or {})


def trajectories_key(match_id: str, clip_id: str) -> str:
    """`tracking/{match_id}/{clip_id}/trajectories.parquet`; raises ValueError for an id that is not
    one path segment."""
    return f"tracking/{_segment(match_id, 'match_id')}/{_segment(clip_id, 'clip_id')}/{TRAJECTORIES_FILE}"


def _segment(value: str, name: str) -> str:
    if not value or value in (".", "..") or "/" in value or not value.isprintable():
        raise ValueError(f"{name} {value!r} cannot be a storage path segment")
    return value


def trajectory_table(
    match_id: str,
    clip_id: str,
    fps: float,
    tracks: Iterable[FrameTracks],
    pitch_reason: str | None = None,
    pitch_source: str | None = None,
) -> pa.Table:
    """The rows of `tracks` in TRAJECTORY_SCHEMA, sorted by (track_id, frame), with the clip's fps in
    the metadata. Works on whole columns: one numpy concatenation per FrameTracks field, one sort,
    one gather per column, never a Python object per row. Raises ValueError when fps is not positive,
    the columns differ in length, boxes are not (x1, y1, x2, y2), or a frame index or track id does not
    fit int32 (frame indexes must also be >= 0)."""
    if not fps > 0:
        raise ValueError(f"fps must be positive, not {fps!r}")
    frames = tracks if isinstance(tracks, list) else list(tracks)
    ids_per_frame = list(map(attrgetter("track_ids"), frames))
    counts = np.fromiter(map(len, ids_per_frame), np.int64, len(ids_per_frame))
    if not counts.all():  # drop empty frames: their empty boxes may lack the (0, 4) shape
        kept = counts.nonzero()[0].tolist()
        frames = [frames[index] for index in kept]
        ids_per_frame = [ids_per_frame[index] for index in kept]
        counts = counts[kept]
    if frames:
        frame_indexes = np.fromiter(map(attrgetter("frame_index"), frames), np.int64, len(frames))
        track_ids = np.concatenate(ids_per_frame).astype(np.int64, copy=False)
        boxes = np.concatenate(list(map(attrgetter("boxes"), frames))).astype(np.float32, copy=False)
        confidences = np.concatenate(list(map(attrgetter("confidences"), frames))).astype(
            np.float32, copy=False
        )
    else:
        frame_indexes = track_ids = np.empty(0, np.int64)
        boxes = np.empty((0, 4), np.float32)
        confidences = np.empty(0, np.float32)
    # Totals, not frame by frame: one length per frame and column costs a tenth of the build.
    if not len(boxes) == len(confidences) == len(track_ids):
        raise ValueError("the frames hold different numbers of track ids, boxes and confidences")
    if boxes.ndim != 2 or boxes.shape[1] != 4:
        raise ValueError(f"boxes must be rows of (x1, y1, x2, y2), got shape {boxes.shape}")
    if frame_indexes.size and (frame_indexes.min() < 0 or frame_indexes.max() > _INT32_MAX):
        raise ValueError(f"a frame index is outside 0..{_INT32_MAX}")
    if track_ids.size and (track_ids.min() < _INT32_MIN or track_ids.max() > _INT32_MAX):
        raise ValueError("a track id is outside int32")

    order = _track_then_frame_order(track_ids, frame_indexes, counts)
    frame = np.take(np.repeat(frame_indexes.astype(np.int32), counts), order)
    x1, y1, x2, y2 = (np.take(boxes[:, column], order) for column in range(4))
    rows = len(order)
    columns = [
        pa.repeat(pa.scalar(match_id, pa.string()), rows),
        pa.repeat(pa.scalar(clip_id, pa.string()), rows),
        pa.array(frame),
        pa.array(frame / float(fps)),
        pa.array(np.take(track_ids.astype(np.int32), order)),
        pa.array(x1),
        pa.array(y1),
        pa.array(x2),
        pa.array(y2),
        pa.array(np.take(confidences, order)),
        pa.array((x1 + x2) * np.float32(0.5)),
        pa.array(y2),
        *_placement_columns(frames, counts, order),
    ]
    metadata = _file_metadata(fps, pitch_reason, pitch_source)
    return pa.Table.from_arrays(columns, schema=TRAJECTORY_SCHEMA.with_metadata(metadata))


STAGE_FRAMES = 3000
"""Frames turned into columns at a time by `write_streamed` (2 minutes at 25 fps)."""


def write_streamed(
    match_id: str,
    clip_id: str,
    fps: float,
    tracks: Iterable[FrameTracks],
    pitch_reason: Note = None,
    pitch_source: Note = None,
) -> tuple[pa.Buffer, int]:
    """The Parquet file `encode_parquet(trajectory_table(...))` makes of `tracks`, and its rows,
    in memory bounded whatever the match's length: STAGE_FRAMES frames at a time become columns
    (`trajectory_table`: sorted by (track_id, frame) within the batch) spilled to a temporary
    Arrow file, keeping only their track ids; then each row group gathers its range of track ids
    from every batch (a contiguous slice of each), in batch order (so by frame within a track).
    A 90-minute match's frames as Python objects grew the worker stitching it by 0.5 GB. The
    notes are asked once every frame has been read."""
    with tempfile.TemporaryDirectory(prefix="pitchlens-stage-") as spill:
        paths: list[str] = []
        ids: list[np.ndarray] = []
        frames = iter(tracks)
        while batch := list(itertools.islice(frames, STAGE_FRAMES)):
            table = trajectory_table(match_id, clip_id, fps, batch).drop_columns(list(_ID_COLUMNS))
            del batch
            paths.append(f"{spill}/{len(paths)}.arrow")
            with pa.OSFile(paths[-1], "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
                writer.write_table(table)
            ids.append(table.column("track_id").to_numpy())
        metadata = _file_metadata(fps, noted(pitch_reason), noted(pitch_source))
        if not paths:
            nobody = trajectory_table(match_id, clip_id, fps, []).replace_schema_metadata(metadata)
            return encode_parquet(nobody), 0
        groups = _row_groups(np.concatenate(ids))
        with _parquet_writer(match_id, clip_id, metadata) as (write, sink):
            for low, high in groups:
                parts = []
                for path, batch_ids in zip(paths, ids, strict=True):
                    first, stop = np.searchsorted(batch_ids, [low, high]).tolist()
                    if first < stop:
                        parts.append(_read_arrow(path).slice(first, stop - first))
                rows = pa.concat_tables(parts)
                write(rows.take(pc.sort_indices(rows, [("track_id", "ascending")])))  # stable
        return sink.getvalue(), sum(len(i) for i in ids)


def _row_groups(track_ids: np.ndarray) -> list[tuple[int, int]]:
    """[low, high) ranges of track ids for row groups: each closed once it holds ROW_GROUP_ROWS
    rows, so a track is whole in one (a track is at most a clip's frames, far fewer rows)."""
    values, counts = np.unique(track_ids, return_counts=True)
    groups, low, rows = [], None, 0
    for value, count in zip(values.tolist(), counts.tolist(), strict=True):
        if low is None:
            low = value
        rows += count
        if rows >= ROW_GROUP_ROWS:
            groups.append((low, value + 1))
            low, rows = None, 0
    if low is not None:
        groups.append((low, int(values[-1]) + 1))
    return groups


def _read_arrow(path: str) -> pa.Table:
    with pa.OSFile(path, "rb") as source:
        return pa.ipc.open_file(source).read_all()


def _file_metadata(fps: float, pitch_reason: str | None, pitch_source: str | None) -> dict[bytes, bytes]:
    metadata = {**_SCHEMA_METADATA, b"pitchlens.fps": repr(float(fps)).encode()}
    if pitch_reason:
        metadata[PITCH_REASON_KEY.encode()] = pitch_reason.encode()
    if pitch_source:
        metadata[PITCH_SOURCE_KEY.encode()] = pitch_source.encode()
    return metadata


def _placement_columns(frames: Sequence[FrameTracks], counts: Any, order: Any) -> list[pa.Array]:
    """pitch_x, pitch_y, team, on_pitch, shot in row order; null where a frame was not placed
    (whole null columns when none was, without a Python object per row)."""
    rows = len(order)
    shots = np.repeat(
        np.fromiter((-1 if f.shot is None else f.shot for f in frames), np.int64, len(frames)), counts
    )
    shot_column = pa.array(np.take(shots, order).astype(np.int32), mask=np.take(shots, order) < 0)
    if not any(frame.on_pitch is not None or frame.pitch_xy is not None for frame in frames):
        return [
            pa.nulls(rows, pa.float32()),
            pa.nulls(rows, pa.float32()),
            pa.nulls(rows, pa.string()),
            pa.nulls(rows, pa.bool_()),
            shot_column,
        ]
    xy = np.concatenate(
        [
            np.full((count, 2), np.nan, np.float32)
            if frame.pitch_xy is None
            else np.asarray(frame.pitch_xy, np.float32).reshape(-1, 2)
            for frame, count in zip(frames, counts.tolist(), strict=True)
        ]
    )
    teams: list[str | None] = []
    flags: list[bool | None] = []
    for frame, count in zip(frames, counts.tolist(), strict=True):
        teams.extend(frame.teams if frame.teams is not None else [None] * count)
        flags.extend(bool(f) for f in frame.on_pitch) if frame.on_pitch is not None else flags.extend(
            [None] * count
        )
    x, y = np.take(xy[:, 0], order), np.take(xy[:, 1], order)
    team = pa.array(teams, pa.string()).take(pa.array(order))
    on_pitch = pa.array(flags, pa.bool_()).take(pa.array(order))
    return [pa.array(x, mask=np.isnan(x)), pa.array(y, mask=np.isnan(y)), team, on_pitch, shot_column]


def _track_then_frame_order(track_ids: Any, frame_indexes: Any, counts: Any) -> Any:
    """Row order sorting by (track_id, frame). Trackers emit frames in order and small ids, so the
    usual case is a stable radix sort of the ids as uint16 (several times faster than a lexsort)."""
    if len(frame_indexes) == 0:
        return np.empty(0, np.intp)
    in_frame_order = bool(np.all(frame_indexes[1:] >= frame_indexes[:-1]))
    if in_frame_order and track_ids.min() >= 0 and track_ids.max() <= np.iinfo(np.uint16).max:
        return np.argsort(track_ids.astype(np.uint16), kind="stable")
    return np.lexsort((np.repeat(frame_indexes, counts), track_ids))


def encode_parquet(table: pa.Table) -> pa.Buffer:
    """A TRAJECTORY_SCHEMA table as a Parquet file in memory (PARQUET_OPTIONS), its schema metadata
    and version as the file's key-value metadata. Raises ValueError when the table holds more than
    one match or clip: one file is one clip."""
    if table.num_rows:
        for name in _ID_COLUMNS:
            column = table.column(name)
            if not pc.all(pc.equal(column, column[0])).as_py():
                raise ValueError(f"a trajectory file holds one clip, but {name} takes several values")
    match_id, clip_id = (table.column(n)[0].as_py() if table.num_rows else "" for n in _ID_COLUMNS)
    with _parquet_writer(match_id, clip_id, table.schema.metadata or {}) as (write, sink):
        write(table.drop_columns(list(_ID_COLUMNS)), ROW_GROUP_ROWS)
    return sink.getvalue()


@contextmanager
def _parquet_writer(
    match_id: str, clip_id: str, metadata: Mapping[bytes, bytes]
) -> Iterator[tuple[Callable[..., None], pa.BufferOutputStream]]:
    """A Parquet file of one clip in memory: `write(rows)` adds rows without their id columns,
    which are written as one-value dictionaries; the schema metadata and version go in as the
    file's key-value metadata."""
    one_value = pa.dictionary(pa.int32(), pa.string())
    schema = pa.schema([f.with_type(one_value) if f.name in _ID_COLUMNS else f for f in TRAJECTORY_SCHEMA])
    values = [pa.array([match_id], pa.string()), pa.array([clip_id], pa.string())]

    sink = pa.BufferOutputStream()
    with pq.ParquetWriter(sink, schema, **PARQUET_OPTIONS) as writer:
        writer.add_key_value_metadata(
            {k.decode(): v.decode() for k, v in {**metadata, **_SCHEMA_METADATA}.items()}
        )

        def write(rows: pa.Table, row_group_size: int | None = None) -> None:
            zeros = pa.array(np.zeros(rows.num_rows, np.int32))
            columns = [pa.DictionaryArray.from_arrays(zeros, value) for value in values]
            writer.write_table(
                pa.Table.from_arrays(columns + rows.columns, schema=schema), row_group_size=row_group_size
            )

        yield write, sink


def _error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


@contextmanager
def _storage_errors(uri: str) -> Iterator[None]:
    try:
        yield
    except ClientError as error:
        code = _error_code(error)
        if code in {"NoSuchKey", "404", "NotFound"}:
            raise ObjectNotFound(f"{uri} does not exist") from error
        raise ServiceUnavailable(f"object storage refused {uri}: {code}") from error
    except BotoCoreError as error:
        raise ServiceUnavailable(f"object storage unreachable for {uri}: {error}") from error


def _placement(table: pa.Table, order: Any) -> tuple[Any, Any, Any]:
    """(on_pitch, teams, pitch_xy) columns in `order`, each None when the file has none (version 1,
    or a clip never placed)."""
    if "on_pitch" not in table.column_names or table["on_pitch"].null_count == table.num_rows:
        on_pitch = None
    else:
        on_pitch = np.asarray(table["on_pitch"].fill_null(False).to_numpy(zero_copy_only=False))[order]
    if "team" not in table.column_names or table["team"].null_count == table.num_rows:
        teams = None
    else:
        teams = np.asarray(table["team"].to_pylist(), dtype=object)[order]
    if "pitch_x" not in table.column_names or table["pitch_x"].null_count == table.num_rows:
        xy = None
    else:
        xy = np.column_stack(
            [
                np.asarray(table[name].to_numpy(zero_copy_only=False), np.float32)[order]
                for name in ("pitch_x", "pitch_y")
            ]
        )
    return on_pitch, teams, xy


def _check_version(uri: str, metadata: Mapping[bytes, bytes]) -> None:
    version = metadata.get(SCHEMA_VERSION_KEY.encode(), b"")
    if not version.isdigit() or int(version) > SCHEMA_VERSION:
        raise ValueError(f"{uri} is not a trajectory file of schema version <= {SCHEMA_VERSION}")


def _may_hold(statistics: Any, wanted: Sequence[int]) -> bool:
    """Whether a row group whose track_id column has these statistics may hold a wanted id (sorted)."""
    if statistics is None or not statistics.has_min_max:
        return True
    first = bisect.bisect_left(wanted, int(statistics.min))
    return first < len(wanted) and wanted[first] <= int(statistics.max)


FOOTER_READ_BYTES = 64 * 1024
"""The end of a file fetched first: a trajectory file's footer is a few KB."""


class _RangedParquet:
    """A Parquet object read by HTTP range requests into a buffer of its size (pages never written
    cost no memory): the footer first, then only the row groups asked for, each in one request."""

    def __init__(self, client: Any, bucket: str, key: str) -> None:
        self._client, self._bucket, self._key = client, bucket, key
        size = int(client.head_object(Bucket=bucket, Key=key)["ContentLength"])
        self._buffer = bytearray(size)
        tail = max(0, size - FOOTER_READ_BYTES)
        self._fetch(tail, size)
        footer = int.from_bytes(self._buffer[-8:-4], "little") + 8 if size >= 8 else 0
        if size - footer < tail:
            self._fetch(max(0, size - footer), tail)
        self.file = pq.ParquetFile(pa.BufferReader(pa.py_buffer(self._buffer)))

    def row_groups(self, indexes: Sequence[int]) -> pa.Table:
        """The row groups `indexes`, fetched (one request each) and decoded."""
        metadata = self.file.metadata
        for index in indexes:
            group = metadata.row_group(index)
            chunks = [group.column(column) for column in range(group.num_columns)]
            starts = [
                chunk.dictionary_page_offset if chunk.has_dictionary_page else chunk.data_page_offset
                for chunk in chunks
            ]
            ends = [start + chunk.total_compressed_size for start, chunk in zip(starts, chunks, strict=True)]
            self._fetch(min(starts), max(ends))
        return self.file.read_row_groups(list(indexes))

    def _fetch(self, start: int, stop: int) -> None:
        if stop <= start:
            return
        answer = self._client.get_object(
            Bucket=self._bucket, Key=self._key, Range=f"bytes={start}-{stop - 1}"
        )
        data = answer["Body"].read()
        self._buffer[start : start + len(data)] = data


class S3TrajectoryStore(TrajectoryStore):
    """Clip trajectories as Parquet on an S3-compatible server (AWS S3, MinIO, moto).

    `save` (and `publish`) try `upload_attempts` times in all, with exponential backoff from
    `backoff_s`, while storage is unavailable, then raise ServiceUnavailable: the caller fails the
    job. Each failed attempt is logged at WARNING with `extra={"attempt": n, "attempts": total}`."""

    def __init__(
        self,
        client: Any,
        bucket: str = TRAJECTORIES_BUCKET,
        *,
        staging_bucket: str = STAGING_BUCKET,
        upload_attempts: int = 3,
        backoff_s: float = 0.5,
        max_backoff_s: float = 8.0,
    ) -> None:
        if upload_attempts < 1:
            raise ValueError("upload_attempts must be at least 1")
        self._client = client
        self.bucket = bucket
        self.staging_bucket = staging_bucket
        self._attempts = upload_attempts
        self._backoff_s = backoff_s
        self._max_backoff_s = max_backoff_s

    def ensure_bucket(self) -> None:
        """Creates the trajectories bucket unless it exists (call once at startup).
        Raises ServiceUnavailable when storage cannot be reached."""
        with _storage_errors(f"s3://{self.bucket}"):
            try:
                self._client.head_bucket(Bucket=self.bucket)
                return
            except ClientError as error:
                if _error_code(error) not in {"404", "NoSuchBucket", "NotFound"}:
                    raise
            region = self._client.meta.region_name
            location = {} if region in (None, "us-east-1") else {"LocationConstraint": region}
            try:
                if location:
                    self._client.create_bucket(Bucket=self.bucket, CreateBucketConfiguration=location)
                else:
                    self._client.create_bucket(Bucket=self.bucket)
            except ClientError as error:
                if _error_code(error) != "BucketAlreadyOwnedByYou":  # else another process was first
                    raise

    def uri(self, match_id: str, clip_id: str) -> str:
        return f"s3://{self.bucket}/{trajectories_key(match_id, clip_id)}"

    def match_prefix(self, match_id: str) -> str:
        """`s3://<bucket>/tracking/<match_id>/`: every clip of the match, readable as one dataset."""
        return f"s3://{self.bucket}/tracking/{_segment(match_id, 'match_id')}/"

    def save(self, match_id: str, clip_id: str, table: pa.Table) -> TrajectoryRef:
        """Writes `table` (from `trajectory_table`) to the clip's key in one PUT, replacing an earlier
        save of the same clip. Raises ValueError for a table not in TRAJECTORY_SCHEMA or of another
        clip, and ServiceUnavailable once every attempt has failed: the key then holds what it held
        before."""
        if not table.schema.equals(TRAJECTORY_SCHEMA, check_metadata=False):
            raise ValueError(f"not a trajectory table (schema version {SCHEMA_VERSION}): {table.schema}")
        key = trajectories_key(match_id, clip_id)
        first = (table["match_id"][0].as_py(), table["clip_id"][0].as_py()) if table.num_rows else None
        if first not in (None, (match_id, clip_id)):
            raise ValueError(f"the table holds the rows of another clip than {match_id}/{clip_id}")
        body = encode_parquet(table)  # checks that every row has those ids
        uri = f"s3://{self.bucket}/{key}"
        self._retrying(uri, lambda: self._put(self.bucket, key, body, table.num_rows))
        return TrajectoryRef(uri=uri, rows=table.num_rows, schema_version=SCHEMA_VERSION)

    def stage(
        self,
        job_id: str,
        match_id: str,
        clip_id: str,
        fps: float,
        tracks: Iterable[FrameTracks],
        name: str = "tracks",
        pitch_reason: Note = None,
        pitch_source: Note = None,
    ) -> str:
        """The TrajectoryStore port: the clip's (or a segment's) trajectory file, already in its
        final form, as a claim check at `s3://<staging bucket>/staging/tracks/<job_id>/<name>.parquet`
        (one attempt: the queue retries the message). `tracks` is read STAGE_FRAMES frames at a
        time into columns (`write_streamed`), so a whole match never exists as Python objects."""
        body, rows = write_streamed(match_id, clip_id, fps, tracks, pitch_reason, pitch_source)
        key = f"staging/tracks/{_segment(job_id, 'job_id')}/{_segment(name, 'name')}.parquet"
        uri = f"s3://{self.staging_bucket}/{key}"
        with _storage_errors(uri):
            self._put(self.staging_bucket, key, body, rows)
        return uri

    def publish(self, staged_uri: str, match_id: str, clip_id: str) -> TrajectoryRef:
        """The TrajectoryStore port: a server-side copy of the staged file to the clip's key (atomic
        like a PUT), retried like `save`. Raises ObjectNotFound when the staged file is gone."""
        staged_bucket, staged_key = split_uri(staged_uri)
        key = trajectories_key(match_id, clip_id)
        uri = f"s3://{self.bucket}/{key}"

        def copy() -> TrajectoryRef:
            with _storage_errors(staged_uri):
                stored = self._client.head_object(Bucket=staged_bucket, Key=staged_key).get("Metadata", {})
            self._client.copy_object(
                Bucket=self.bucket, Key=key, CopySource={"Bucket": staged_bucket, "Key": staged_key}
            )
            return TrajectoryRef(
                uri=uri,
                rows=int(stored.get("rows", 0)),
                schema_version=int(stored.get("schema-version", SCHEMA_VERSION)),
            )

        return self._retrying(uri, copy)

    def load_tracks(self, uri: str) -> pa.Table:
        """The table stored at `uri`, schema metadata included. Raises ObjectNotFound when absent,
        ServiceUnavailable when storage cannot be reached, and ValueError for a file that is not a
        trajectory file of a schema version this code reads."""
        bucket, key = split_uri(uri)
        with _storage_errors(uri):
            data = self._client.get_object(Bucket=bucket, Key=key)["Body"].read()
        table = pq.read_table(pa.BufferReader(data))
        _check_version(uri, table.schema.metadata or {})
        return table

    def load_track_rows(self, uri: str, track_ids: Collection[int]) -> pa.Table:
        """Only the rows of `track_ids` of the file at `uri`, read by range requests: the footer, then
        the row groups whose track_id statistics can hold them (the file is sorted by track, so one
        player of a 90-minute match is one or two of its ~6 row groups), never the whole file.
        Errors as `load_tracks`."""
        wanted = sorted({int(t) for t in track_ids if _INT32_MIN <= int(t) <= _INT32_MAX})
        parquet = self._ranged(uri)
        metadata = parquet.file.metadata.metadata or {}
        _check_version(uri, metadata)
        column = parquet.file.schema_arrow.get_field_index("track_id")
        groups = [
            index
            for index in range(parquet.file.metadata.num_row_groups)
            if _may_hold(parquet.file.metadata.row_group(index).column(column).statistics, wanted)
        ]
        with _storage_errors(uri):
            table = parquet.row_groups(groups) if groups else parquet.file.schema_arrow.empty_table()
        kept = table.filter(pc.is_in(table["track_id"], value_set=pa.array(wanted, pa.int32())))
        return kept.replace_schema_metadata(metadata)

    def tracks(self, uri: str, track_ids: Collection[int] | None = None) -> list[FrameTracks]:
        """The TrajectoryStore port: the file at `uri` back as one FrameTracks per frame that has tracks,
        in frame order (columns as numpy arrays); with `track_ids` only theirs (`load_track_rows`).
        InvalidTrackingData for a file that is not a trajectory file this code reads."""
        try:
            table = self.load_tracks(uri) if track_ids is None else self.load_track_rows(uri, track_ids)
        except (ValueError, pa.ArrowInvalid) as error:
            raise InvalidTrackingData(str(error)) from error
        frame = table["frame"].to_numpy()
        if not len(frame):
            return []  # a segment or clip where nobody was tracked
        order = np.argsort(frame, kind="stable")
        frame = frame[order]
        ids = table["track_id"].to_numpy()[order]
        boxes: Any = np.column_stack([table[name].to_numpy()[order] for name in ("x1", "y1", "x2", "y2")])
        confidences = table["confidence"].to_numpy()[order]
        placed = _placement(table, order)
        shots = (
            table["shot"].to_numpy(zero_copy_only=False)[order]
            if "shot" in table.column_names and table["shot"].null_count < table.num_rows
            else None
        )
        starts = np.flatnonzero(np.r_[True, frame[1:] != frame[:-1]])
        ends = np.r_[starts[1:], len(frame)]
        return [
            FrameTracks(
                int(frame[start]),
                ids[start:end],
                boxes[start:end],
                confidences[start:end],
                on_pitch=None if placed[0] is None else placed[0][start:end],
                teams=None if placed[1] is None else placed[1][start:end],
                pitch_xy=None if placed[2] is None else placed[2][start:end],
                shot=None if shots is None or np.isnan(shots[start]) else int(shots[start]),
            )
            for start, end in zip(starts.tolist(), ends.tolist(), strict=True)
        ]

    def pitch_reason(self, uri: str) -> str | None:
        """The TrajectoryStore port: why the clip's trajectories at `uri` have no pitch coordinates
        (None: they have some, or the file predates version 2), from the file's footer alone."""
        return self._footer_value(uri, PITCH_REASON_KEY)

    def pitch_source(self, uri: str) -> str | None:
        """Where the pitch coordinates of the clip's trajectories at `uri` come from (`manual`,
        `automatic`, or per shot); None when they have none. From the file's footer alone."""
        return self._footer_value(uri, PITCH_SOURCE_KEY)

    def _footer_value(self, uri: str, key: str) -> str | None:
        try:
            metadata = self._ranged(uri).file.metadata.metadata or {}
        except pa.ArrowInvalid as error:
            raise InvalidTrackingData(f"{uri} is not a trajectory file: {error}") from error
        value = metadata.get(key.encode())
        return value.decode() if value else None

    def _ranged(self, uri: str) -> _RangedParquet:
        """The Parquet file at `uri`, its footer read (by range requests)."""
        bucket, key = split_uri(uri)
        with _storage_errors(uri):
            return _RangedParquet(self._client, bucket, key)

    def _put(self, bucket: str, key: str, body: pa.Buffer, rows: int) -> None:
        self._client.put_object(
            Bucket=bucket,
            Key=key,
            Body=pa.BufferReader(body),  # a fresh reader per attempt: a failed one was partly read
            ContentLength=body.size,
            ContentType=PARQUET_CONTENT_TYPE,
            Metadata={"schema-version": str(SCHEMA_VERSION), "rows": str(rows)},
        )

    def _retrying(self, uri: str, upload: Callable[[], T]) -> T:
        """`upload()`, tried again while it raises ServiceUnavailable (storage errors become domain
        errors first); after the last attempt, ServiceUnavailable naming `uri` and the attempts."""

        def attempt() -> T:
            with _storage_errors(uri):
                return upload()

        retrying = Retrying(
            stop=stop_after_attempt(self._attempts),
            wait=wait_exponential(multiplier=self._backoff_s, max=self._max_backoff_s),
            retry=retry_if_exception_type(ServiceUnavailable),
            after=self._log_failed_attempt,
            reraise=True,
        )
        try:
            return retrying(attempt)
        except ServiceUnavailable as error:
            raise ServiceUnavailable(
                f"could not store {uri} after {self._attempts} attempts: {error}"
            ) from error

    def _log_failed_attempt(self, state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome is not None else None
        logger.warning(
            "trajectory upload attempt %d of %d failed: %s",
            state.attempt_number,
            self._attempts,
            error,
            extra={"attempt": state.attempt_number, "attempts": self._attempts},
        )
