"""A long video tracked as segments, in parallel, and stitched back into one clip. Standard library.

A 90-minute match is 135,000 frames at 25 fps: one worker would take hours on a CPU. So the video
is split into segments of about `segment_seconds`, each tracked by whichever worker takes its
message; the last segment to finish fires the stitch, which joins each track across the segment
boundaries into one clip-wide id.

Boundaries sit on keyframes when one is near (a worker then decodes from its boundary without
decoding frames before it); elsewhere a worker seeks to the keyframe before its span and drops the
frames it does not need. Each segment after the first is also tracked over `overlap` frames before
its boundary, so that its tracker has confirmed the players by the boundary, and so that the
stitch can match tracks on frames both segments saw (`stitch_ids`).
"""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from itertools import pairwise
from typing import Any, cast

from pitchlens.domain.geometry import Box, as_box, iou
from pitchlens.domain.teams import OTHER
from pitchlens.domain.vision import FrameTracks

SNAP_SHARE = 0.25
"""A keyframe within this share of a segment's length from a nominal boundary becomes the boundary."""


@dataclass(frozen=True, slots=True)
class SegmentPlan:
    """Segment `index`: frames [start, stop) are its own; it is tracked from `track_from` (up to
    `overlap` frames before `start`) so its tracks are confirmed by `start`."""

    index: int
    start: int
    stop: int
    track_from: int

    @property
    def frames(self) -> int:
        return self.stop - self.track_from


def plan_segments(
    frames: int,
    fps: float,
    keyframes: Sequence[int],
    segment_seconds: float,
    overlap: int,
) -> list[SegmentPlan]:
    """Segments of about `segment_seconds` covering frames [0, frames): one when the video is no
    longer than that; boundaries moved to a keyframe within SNAP_SHARE of a segment when one is."""
    if frames <= 0:
        raise ValueError(f"a video of {frames} frames has no segments")
    if fps <= 0 or segment_seconds <= 0 or overlap < 0:
        raise ValueError(
            f"fps {fps}, segment_seconds {segment_seconds}, overlap {overlap}: all must be positive"
        )
    length = max(1, round(segment_seconds * fps))
    count = max(1, round(frames / length))
    if count == 1:
        return [SegmentPlan(0, 0, frames, 0)]
    sorted_keys = sorted(k for k in keyframes if 0 < k < frames)
    tolerance = SNAP_SHARE * frames / count
    boundaries = [0]
    for number in range(1, count):
        nominal = round(number * frames / count)
        nearest = _nearest(sorted_keys, nominal)
        boundary = nearest if nearest is not None and abs(nearest - nominal) <= tolerance else nominal
        if boundary > boundaries[-1] + overlap:  # never a segment shorter than its own overlap
            boundaries.append(boundary)
    boundaries.append(frames)
    return [
        SegmentPlan(index, start, stop, max(0, start - overlap) if index else 0)
        for index, (start, stop) in enumerate(pairwise(boundaries))
    ]


def overlap_frames(seconds: float, fps: float) -> int:
    """An overlap of `seconds` in frames of a `fps` video (at least one)."""
    return max(1, round(seconds * fps))


def _nearest(sorted_values: Sequence[int], target: int) -> int | None:
    if not sorted_values:
        return None
    position = bisect_left(sorted_values, target)
    candidates = sorted_values[max(0, position - 1) : position + 1]
    return min(candidates, key=lambda value: (abs(value - target), value))


class SegmentStatus(StrEnum):
    PENDING = "PENDING"
    DONE = "DONE"
    FAILED = "FAILED"


@dataclass(frozen=True, slots=True)
class Segment:
    """One segment of a clip being tracked by one job: its plan, status and staged tracks. A clip
    processed again (the same video uploaded again) gets new segments under the new job."""

    clip_id: str
    job_id: str
    plan: SegmentPlan
    status: SegmentStatus
    updated_at: datetime
    frames_done: int = 0
    tracks_uri: str | None = None
    reason: str | None = None

    @property
    def index(self) -> int:
        return self.plan.index


# --- Stitching --------------------------------------------------------------------------------------
MIN_COMMON_FRAMES = 2
"""Frames a track of each segment must share at a boundary to be matched on MIN_MEAN_IOU..."""
MIN_MEAN_IOU = 0.5
"""...the mean IoU of the two tracks' boxes on their common frames (both segments saw the same
detections there, so the same player's boxes nearly coincide)."""
STRONG_IOU = 0.7
"""On a single common frame (a track born on the overlap's last frame) the IoU must be this high."""
MIN_GAP_IOU = 0.3
"""A track lost shortly before a boundary continues in one born shortly after it when its box,
carried on at its last velocity to the later track's first frame, overlaps that one this much."""
MIN_LOOK = 0.2
"""Kit-colour similarity below which a pair is never joined. Kits are weak evidence (teammates
look alike, a 20-px player's colours are noisy: on the shared clips true pairs scored 0.25-0.8,
others 0.1-0.75), so appearance only vetoes pairs that look plainly different."""
VELOCITY_FRAMES = 5
"""Frames at a track's end its velocity is measured over."""


def stitch_ids(
    earlier: Mapping[int, Mapping[int, Box]],
    later: Mapping[int, Mapping[int, Box]],
    alike: Mapping[tuple[int, int], float] | None = None,
    max_gap: int = 0,
) -> dict[int, int]:
    """Which track of the later segment continues which track of the earlier one, from their boxes
    around the boundary (`earlier[id][frame] = box`, likewise `later`). Returns {later: earlier}.

    1. Tracks both segments followed over the overlap: pairs whose boxes agree on their common
       frames (a mean IoU of at least MIN_MEAN_IOU on MIN_COMMON_FRAMES or more, or STRONG_IOU on
       one), the pair agreeing on the most frames first (the sum of its IoUs): where a player's
       track broke inside the overlap in either segment, the pieces that share the most frames
       (those alive at the boundary) are the ones paired, not a short piece that agrees a little
       better.
    2. Tracks left over, as the one tracker of an unsplit run would have kept a briefly lost
       player: an earlier track that ends before a later one begins, at most `max_gap` frames
       before, pairs with it when its box carried on at its last velocity overlaps the later
       track's first box by MIN_GAP_IOU, best first.
    One partner each; `alike[(earlier, later)]` (appearance similarity, when known) below
    MIN_LOOK vetoes a pair."""

    def looks_alike(first: int, second: int) -> bool:
        return alike is None or alike.get((first, second), 1.0) >= MIN_LOOK

    pairs = []
    for first, first_boxes in earlier.items():
        for second, second_boxes in later.items():
            common = first_boxes.keys() & second_boxes.keys()
            if not common:
                continue
            mean = sum(iou(first_boxes[f], second_boxes[f]) for f in common) / len(common)
            needed = MIN_MEAN_IOU if len(common) >= MIN_COMMON_FRAMES else STRONG_IOU
            if mean >= needed and looks_alike(first, second):
                pairs.append((mean * len(common), len(common), first, second))
    matched = _best_first(pairs, {})
    if max_gap > 0:
        gaps = []
        for first, first_boxes in earlier.items():
            if first in matched.values():
                continue
            end = max(first_boxes)
            for second, second_boxes in later.items():
                begin = min(second_boxes)
                if second in matched or not 0 < begin - end <= max_gap or not looks_alike(first, second):
                    continue
                overlap = iou(_carried_on(first_boxes, begin), second_boxes[begin])
                if overlap >= MIN_GAP_IOU:
                    gaps.append((overlap, -(begin - end), first, second))
        matched = _best_first(gaps, matched)
    return matched


def _best_first(pairs: list[tuple[float, int, int, int]], matched: dict[int, int]) -> dict[int, int]:
    """`matched` plus the pairs, best score first, each track taken once."""
    matched = dict(matched)
    taken = set(matched.values())
    for _, _, first, second in sorted(pairs, key=lambda pair: (-pair[0], -pair[1], pair[2], pair[3])):
        if second in matched or first in taken:
            continue
        matched[second] = first
        taken.add(first)
    return matched


def _carried_on(boxes: Mapping[int, Box], frame: int) -> Box:
    """The track's last box moved on to `frame` at its velocity over its last VELOCITY_FRAMES."""
    frames = sorted(boxes)[-VELOCITY_FRAMES:]
    last = boxes[frames[-1]]
    if len(frames) < 2:
        return last
    span = frames[-1] - frames[0]
    first = boxes[frames[0]]
    steps = (frame - frames[-1]) / span
    return cast(Box, tuple(a + (a - b) * steps for a, b in zip(last, first, strict=True)))


@dataclass(frozen=True, slots=True)
class TrackedSegment:
    """A segment's tracks (frames [plan.track_from, plan.stop)), and how its tracks look just after
    its start (`head`) and just before the next segment's overlap (`tail`), by track id."""

    plan: SegmentPlan
    tracks: Sequence[FrameTracks]
    head: Mapping[int, Any]
    tail: Mapping[int, Any]


def stitch_segments(
    segments: Iterable[TrackedSegment],
    similarity: Callable[[Any, Any], float] | None = None,
    max_gap: int | None = None,
) -> list[FrameTracks]:
    """One clip's tracks from its segments' (`stitched_frames`, all in a list)."""
    return list(stitched_frames(segments, similarity, max_gap))


def stitched_frames(
    segments: Iterable[TrackedSegment],
    similarity: Callable[[Any, Any], float] | None = None,
    max_gap: int | None = None,
) -> Iterator[FrameTracks]:
    """One clip's tracks from its segments', frame by frame. Each segment is taken from `segments`
    when its frames are due and let go once the next one is stitched to it: from a lazy iterable,
    two segments are in memory at a time, whatever the match's length.

    Each segment keeps its own frames [start, stop) (the overlap before its start belongs to the
    segment before); a track continues a track of the segment before when `stitch_ids` pairs them
    on the overlap (appearance compared between the earlier track's `tail` and the later one's
    `head`, when `similarity` is given), or across a gap of up to `max_gap` frames (default: the
    overlap's length) around the boundary; every track gets a clip-wide id, numbered from 1 in
    order of first appearance.

    Each segment names its teams by their kits on its own (`KitColourTeams` clusters per segment),
    so the same team may be "white" in one and "light grey" in the next: its names are carried over
    from the segment before by the tracks that continue across the boundary (`team_renaming`)."""
    clip_ids: dict[tuple[int, int], int] = {}
    next_id = 1
    previous: TrackedSegment | None = None
    previous_teams: dict[int, str] = {}
    for segment in segments:
        links: dict[int, int] = {}
        teams = _majority_teams(segment.tracks)
        if previous is not None:
            overlap = range(segment.plan.track_from, segment.plan.start)
            alike = None
            if similarity is not None:
                alike = {
                    (first, second): similarity(previous.tail[first], segment.head[second])
                    for first in previous.tail
                    for second in segment.head
                }
            gap = max_gap if max_gap is not None else len(overlap)
            before = range(
                max(previous.plan.start, segment.plan.start - len(overlap) - gap), segment.plan.start
            )
            after = range(segment.plan.track_from, min(segment.plan.stop, segment.plan.start + gap))
            links = stitch_ids(
                _boxes_on(previous.tracks, before), _boxes_on(segment.tracks, after), alike, gap
            )
        renaming = team_renaming(
            [(teams.get(later), previous_teams.get(earlier)) for later, earlier in links.items()],
            set(teams.values()),
            set(previous_teams.values()),
        )
        teams = {track: renaming.get(team, team) for track, team in teams.items()}
        for frame in segment.tracks:
            if not segment.plan.start <= frame.frame_index < segment.plan.stop:
                continue
            ids = []
            for track_id in frame.track_ids:
                key = (segment.plan.index, int(track_id))
                if key not in clip_ids:
                    earlier = links.get(int(track_id))
                    if earlier is not None and (segment.plan.index - 1, earlier) in clip_ids:
                        clip_ids[key] = clip_ids[(segment.plan.index - 1, earlier)]
                    else:
                        clip_ids[key] = next_id
                        next_id += 1
                ids.append(clip_ids[key])
            renumbered = frame.renumbered(ids)
            if renaming and frame.teams is not None:
                renumbered = replace(renumbered, teams=[renaming.get(t, t) if t else t for t in frame.teams])
            yield renumbered
        # Tracks of the earlier segment seen only in the overlap still continue through `links`.
        for later, earlier in links.items():
            key, source = (segment.plan.index, later), (segment.plan.index - 1, earlier)
            if key not in clip_ids and source in clip_ids:
                clip_ids[key] = clip_ids[source]
        previous, previous_teams = segment, teams


def team_renaming(
    continued: Sequence[tuple[str | None, str | None]], names: set[str], earlier_names: set[str]
) -> dict[str, str]:
    """How a segment's team names become the clip's: `continued` holds, for each track that
    continues one of the segment before, (its team here, the earlier track's clip-wide team). Each
    name here takes the earlier name most of its continuing tracks had (one name each, most votes
    first); a name left over takes the one earlier name left over (two teams, one of them voted);
    a name nobody voted on keeps its own. OTHER and unknown teams neither vote nor get renamed.
    Returns only the names that change."""
    votes = Counter(
        (mine, theirs) for mine, theirs in continued if mine and theirs and OTHER not in (mine, theirs)
    )
    mapping: dict[str, str] = {}
    for (mine, theirs), _ in sorted(votes.items(), key=lambda vote: (-vote[1], vote[0])):
        if mine not in mapping and theirs not in mapping.values():
            mapping[mine] = theirs
    left = sorted(names - mapping.keys() - {OTHER})
    left_earlier = sorted(earlier_names - set(mapping.values()) - {OTHER})
    if mapping and len(left) == 1 and len(left_earlier) == 1:
        mapping[left[0]] = left_earlier[0]
    return {mine: theirs for mine, theirs in mapping.items() if mine != theirs}


def _majority_teams(tracks: Sequence[FrameTracks]) -> dict[int, str]:
    """Each track's team in most of its frames (tracks whose kit was never seen left out)."""
    counts: dict[int, Counter[str]] = {}
    for frame in tracks:
        if frame.teams is None:
            continue
        for track_id, team in zip(frame.track_ids, frame.teams, strict=True):
            if team:
                counts.setdefault(int(track_id), Counter())[team] += 1
    return {track: count.most_common(1)[0][0] for track, count in counts.items()}


def _boxes_on(tracks: Sequence[FrameTracks], frames: range) -> dict[int, dict[int, Box]]:
    found: dict[int, dict[int, Box]] = {}
    for frame in tracks:
        if frame.frame_index in frames:
            for track_id, box in zip(frame.track_ids, frame.boxes, strict=True):
                found.setdefault(int(track_id), {})[frame.frame_index] = as_box(box)
    return found
