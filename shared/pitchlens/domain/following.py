"""Follow one player through a clip, given every person's tracks and the player the user chose.

Multi-object trackers break a player's track into pieces (occlusions, players leaving the frame,
missed detections) and each piece gets a new id; in a crowd they also hand an id over to another
player. `PlayerFollower` first cuts every track where its kit colours change for good (an id
handed over to a player of another team or to the referee), then picks the piece under the
user's box and, each time the followed piece ends, stitches it to the new piece that best
continues it: one whose first box lies where the player's constant-velocity foot point predicts
(a gate that widens with the gap) and whose kit colours match the player's; where the tracks
carry teams (trajectories of schema version 2), never a piece of another team, and never across
a cut to another camera view (the player is marked lost from the cut on: by position and kit
alone, a player of the same team standing where he stood is another player). A weak, too distant
or ambiguous continuation is never taken: those frames are marked lost instead, because showing
another player is worse than showing none. The clip is followed forwards and backwards from the
chosen frame.

Plain Python over the per-frame columns (a clip has ~1,000 frames of ~25 boxes): a pure algorithm
of the domain, used by the render use cases.
"""

from __future__ import annotations

import dataclasses
import math
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from pitchlens.domain.appearance import Appearance, AppearanceEncoder, Sighting
from pitchlens.domain.errors import PlayerNotTracked
from pitchlens.domain.geometry import Box, as_box, cover, foot, iou
from pitchlens.domain.vision import BoundingBox, FrameTracks, TrackingFrame


@dataclass(frozen=True, slots=True)
class FollowSettings:
    """Thresholds of `PlayerFollower`; distances are in heights of the player's box, times in frames."""

    min_selection_iou: float = 0.3
    """A track must overlap the chosen box at least this much to be the chosen player's."""
    selection_window: int = 5
    """Frames either side of the chosen one searched when no track is there yet (tracks start
    one frame after their first detection)."""
    max_gap: int = 45
    """The longest a player may go unseen and still be picked up again."""
    interpolate_gap: int = 20
    """Gaps up to this many frames between two sightings are filled by interpolation (not lost)."""
    max_inner_gap: int = 5
    """A track the tracker lost for longer than this and found again is cut there too: its
    re-identification is checked like a stitch (trackers re-find the wrong player in crowds)."""
    max_overlap: int = 3
    """A continuation may start this many frames before the followed piece ends..."""
    shadow_cover: float = 0.8
    """...or earlier, when it was on the player all along: wherever it was seen, its box and the
    followed one (at most `shadow_frames` apart) cover each other this much on average
    (intersection over the smaller box: a second track on him, or the tracker alternating
    between his box and a wider one that holds him and a neighbour)..."""
    shadow_frames: int = 1
    shadow_height_ratio: float = 1.25
    """...and the two boxes are about as tall (the same depth in the picture)."""
    gate_base: float = 0.6
    """Motion gate radius one frame after the end, around the predicted foot point..."""
    gate_growth: float = 0.06
    """...widening by this much per frame of gap (the player may have turned or stopped)..."""
    max_gate: float = 2.5
    """...up to this radius."""
    max_speed: float = 0.15
    """Fastest plausible foot-point speed (heights per frame) in the velocity estimate."""
    velocity_window: int = 8
    """Frames of the followed history the velocity is estimated over."""
    max_height_ratio: float = 1.6
    """A continuation's box may be at most this much taller or shorter."""
    min_similarity: float = 0.5
    """Continuations must look at least this alike to the player (encoder similarity)."""
    split_similarity: float = 0.4
    """A track is cut where two looks in a row are this unlike its first ones (and alike)."""
    ambiguity_margin: float = 0.15
    """Two acceptable continuations closer than this in score: neither is taken..."""
    rival_window: int = 5
    """...unless the weaker one first shows up more than this many frames after the best one,
    while the best one is still being seen."""
    appearance_stride: int = 5
    """Every this-many-th sighting of a track is described (plus each track's first and last)."""
    edge_samples: int = 6
    """Sightings at either end of a track described, and looked at when stitching."""
    max_clutter_iou: float = 0.1
    """Sightings overlapping another box more than this are not described (mixed colours)..."""
    max_widening: float = 1.35
    """...nor boxes this much wider (for their height) than their track's usual: in a crowd one
    box often holds two players."""
    anchor_looks: int = 5
    """A track's first looks, which its later looks are compared with to cut it (not its recent
    ones: through an occlusion the look drifts from one player to the other via mixtures)."""
    reference_size: int = 30
    """Most recent looks of the player kept as reference (plus the chosen piece's first ones)."""

    def at_rate(self, fps: float) -> FollowSettings:
        """These settings for a clip of `fps` frames per second. They are counted in frames and were
        tuned on 25 and 30 fps clips; at 50 or 60 fps a frame is half as long, so every span of time
        (gaps, windows, strides) takes twice the frames and every speed per frame is halved. At up
        to TUNED_FPS they are as they are."""
        factor = fps / TUNED_FPS
        if factor <= 1.0:
            return self

        def frames(value: int) -> int:
            return max(value, round(value * factor))

        return dataclasses.replace(
            self,
            selection_window=frames(self.selection_window),
            max_gap=frames(self.max_gap),
            interpolate_gap=frames(self.interpolate_gap),
            max_inner_gap=frames(self.max_inner_gap),
            max_overlap=frames(self.max_overlap),
            shadow_frames=frames(self.shadow_frames),
            gate_growth=self.gate_growth / factor,
            max_speed=self.max_speed / factor,
            velocity_window=frames(self.velocity_window),
            rival_window=frames(self.rival_window),
            appearance_stride=frames(self.appearance_stride),
            edge_samples=frames(self.edge_samples),
        )


TUNED_FPS = 30.0
"""The frame rate `FollowSettings` are counted at (the shared clips run at 25 and 29.97 fps)."""


@dataclass(slots=True)
class _Piece:
    """A track, or the part of one between two changes of look, through (local) time."""

    key: int
    track_id: int
    times: list[int] = field(default_factory=list)
    boxes: list[Box] = field(default_factory=list)
    confidences: list[float] = field(default_factory=list)
    looks: dict[int, Appearance] = field(default_factory=dict)
    """Descriptions by (local) time."""
    teams: list[str | None] = field(default_factory=list)
    """The team by kit of each sighting (None: unknown)."""

    @property
    def team(self) -> str | None:
        """The team most of its sightings with a known team are in."""
        counts: dict[str, int] = {}
        for team in self.teams:
            if team is not None:
                counts[team] = counts.get(team, 0) + 1
        return max(counts, key=lambda team: counts[team]) if counts else None

    def position_after(self, time: int) -> int | None:
        position = bisect_right(self.times, time)
        return position if position < len(self.times) else None

    def reversed(self, last: int) -> _Piece:
        """The same piece with time running backwards (time t becomes `last` - t)."""
        return _Piece(
            self.key,
            self.track_id,
            [last - t for t in reversed(self.times)],
            list(reversed(self.boxes)),
            list(reversed(self.confidences)),
            {last - t: look for t, look in self.looks.items()},
            list(reversed(self.teams)),
        )


@dataclass(frozen=True, slots=True)
class _Sighting:
    time: int
    box: Box
    confidence: float
    track_id: int
    piece: int


class PlayerFollower:
    """Follows the player chosen by a box on one frame through a whole clip of tracks: one
    `TrackingFrame` per frame (box, confidence, track id), `lost` where the player cannot be told
    apart with confidence."""

    def __init__(self, settings: FollowSettings | None = None) -> None:
        self._settings = settings or FollowSettings()

    def at_rate(self, fps: float) -> PlayerFollower:
        """This follower for a clip of `fps` frames per second (`FollowSettings.at_rate`)."""
        settings = self._settings.at_rate(fps)
        return self if settings is self._settings else PlayerFollower(settings)

    def execute(
        self,
        tracks: Sequence[FrameTracks],
        appearance: AppearanceEncoder,
        selection: BoundingBox,
        frame_index: int,
    ) -> list[TrackingFrame]:
        """Raises PlayerNotTracked when no track lies under `selection` near `frame_index`."""
        if not tracks:
            return []
        frame_indexes = [frame.frame_index for frame in tracks]
        positions = {index: position for position, index in enumerate(frame_indexes)}
        if frame_index not in positions:
            raise PlayerNotTracked(
                f"frame {frame_index} is not in the tracks ({frame_indexes[0]}..{frame_indexes[-1]})"
            )
        selected_time, selected_id = self._select(tracks, positions[frame_index], selection)
        whole_tracks = _whole_tracks(tracks)
        self._describe(tracks, whole_tracks, appearance)
        pieces = self._cut(whole_tracks, appearance)
        start, start_time = _nearest_piece(pieces, selected_id, selected_time)
        reference = [start.looks[t] for t in sorted(start.looks, key=lambda t: abs(t - start_time))][:5]
        last = len(tracks) - 1
        shots = [frame.shot for frame in tracks]
        ahead = self._follow(pieces, start.key, start_time, reference, appearance, shots)
        backward = {key: piece.reversed(last) for key, piece in pieces.items()}
        behind = self._follow(backward, start.key, last - start_time, reference, appearance, shots[::-1])
        sightings = {seen.time: seen for seen in ahead}
        for seen in behind:
            time = last - seen.time
            sightings.setdefault(time, _Sighting(time, seen.box, seen.confidence, seen.track_id, seen.piece))
        return self._frames(frame_indexes, sightings, start_time)

    # ---------------------------------------------------------------------------------------
    # Selection, appearance, pieces
    # ---------------------------------------------------------------------------------------

    def _select(
        self, tracks: Sequence[FrameTracks], position: int, selection: BoundingBox
    ) -> tuple[int, int]:
        chosen = (selection.x1, selection.y1, selection.x2, selection.y2)
        window = self._settings.selection_window
        for offset in sorted(range(-window, window + 1), key=abs):
            time = position + offset
            if not 0 <= time < len(tracks):
                continue
            overlaps = [(iou(chosen, as_box(box)), track_id) for track_id, box in _rows(tracks[time])]
            if overlaps:
                best, track_id = max(overlaps)
                if best >= self._settings.min_selection_iou:
                    return time, track_id
        raise PlayerNotTracked(
            f"no tracked player under the chosen box: no track overlaps it by IoU >= "
            f"{self._settings.min_selection_iou} within {window} frames of frame "
            f"{tracks[position].frame_index}. Players too small or too hidden to detect over the clip "
            f"are not tracked: choose one of the tracked players (GET /api/v1/clips/<id>/players), or "
            f"process the clip again with a larger PITCHLENS_TRACKING_INPUT_SIZE"
        )

    def _describe(
        self, tracks: Sequence[FrameTracks], whole_tracks: dict[int, _Piece], appearance: AppearanceEncoder
    ) -> None:
        """Describes a sample of every track's sightings, in one pass of the encoder."""
        settings = self._settings
        wanted: list[tuple[_Piece, int, Box]] = []
        for track in whole_tracks.values():
            count = len(track.times)
            shapes = sorted((b[2] - b[0]) / (b[3] - b[1]) for b in track.boxes if b[3] > b[1])
            usual = shapes[len(shapes) // 2] if shapes else 0.0
            for position in range(count):
                if not (
                    position % settings.appearance_stride == 0
                    or position < settings.edge_samples
                    or position >= count - settings.edge_samples
                ):
                    continue
                time, box = track.times[position], track.boxes[position]
                if box[2] <= box[0] or box[3] <= box[1]:
                    continue
                if (box[2] - box[0]) / (box[3] - box[1]) > settings.max_widening * usual:
                    continue  # wider than this track's usual: two people in one box
                if _clutter(tracks[time], track.track_id, box) > settings.max_clutter_iou:
                    continue
                wanted.append((track, time, box))
        requests = [Sighting(tracks[time].frame_index, BoundingBox(*box)) for _, time, box in wanted]
        for (track, time, _), look in zip(wanted, appearance.describe(requests), strict=True):
            if look is not None:
                track.looks[time] = look

    def _cut(self, whole_tracks: dict[int, _Piece], appearance: AppearanceEncoder) -> dict[int, _Piece]:
        """Every track cut where its look changes for good (two looks in a row unlike the track's
        first ones and alike each other) and where it was lost for a while. Sightings between the
        last look before a change and the first one after it belong to neither piece (the id was
        handed over there)."""
        settings = self._settings
        pieces: dict[int, _Piece] = {}
        for track in whole_tracks.values():
            cuts: list[tuple[int, int]] = []  # (last time of a piece, first time of the next)
            anchor: list[Appearance] = []
            last_good = -1
            pending: tuple[int, Appearance] | None = None
            for time in sorted(track.looks):
                look = track.looks[time]
                if len(anchor) < settings.anchor_looks and pending is None:
                    anchor.append(look)
                    last_good = time
                elif _likeness(appearance, look, anchor) >= settings.split_similarity:
                    last_good, pending = time, None
                elif (
                    pending is not None and appearance.similarity(pending[1], look) >= settings.min_similarity
                ):
                    cuts.append((last_good, pending[0]))
                    anchor, last_good, pending = [pending[1], look], time, None
                else:
                    pending = (time, look)
            starts = [-1] + [start for _, start in cuts]
            ends = [end for end, _ in cuts] + [track.times[-1]]
            for first, final in zip(starts, ends, strict=True):
                piece: _Piece | None = None
                previous = -1
                for position, time in enumerate(track.times):
                    if not first <= time <= final:
                        continue
                    if piece is None or time - previous > settings.max_inner_gap:
                        # Lost and found again by the tracker: judged like any other stitch.
                        piece = _Piece(len(pieces), track.track_id)
                        pieces[piece.key] = piece
                    piece.times.append(time)
                    piece.boxes.append(track.boxes[position])
                    piece.confidences.append(track.confidences[position])
                    piece.teams.append(track.teams[position])
                    if time in track.looks:
                        piece.looks[time] = track.looks[time]
                    previous = time
        return pieces

    # ---------------------------------------------------------------------------------------
    # Following (in local time: forwards, or backwards with time reversed)
    # ---------------------------------------------------------------------------------------

    def _follow(
        self,
        pieces: dict[int, _Piece],
        start_key: int,
        start_time: int,
        reference: list[Appearance],
        appearance: AppearanceEncoder,
        shots: Sequence[int | None],
    ) -> list[_Sighting]:
        settings = self._settings
        reference = list(reference)
        anchors = len(reference)
        followed: list[_Sighting] = []
        current = pieces[start_key]
        position: int | None = current.times.index(start_time)
        visited = {start_key}
        while position is not None:
            for step in range(position, len(current.times)):
                time = current.times[step]
                followed.append(
                    _Sighting(
                        time, current.boxes[step], current.confidences[step], current.track_id, current.key
                    )
                )
                look = current.looks.get(time)
                if look is not None:
                    reference.append(look)
                    del reference[anchors : max(anchors, len(reference) - settings.reference_size)]
            following = self._continuation(pieces, followed, visited, reference, appearance, shots)
            if following is None:
                break
            current = following
            visited.add(current.key)
            position = current.position_after(followed[-1].time)
        return followed

    def _continuation(
        self,
        pieces: dict[int, _Piece],
        followed: list[_Sighting],
        visited: set[int],
        reference: list[Appearance],
        appearance: AppearanceEncoder,
        shots: Sequence[int | None],
    ) -> _Piece | None:
        """The piece that continues the followed player after its last sighting: of the pieces
        starting then close to the predicted position and looking alike, the best one, unless a
        piece that cannot be the same player scores nearly as well (then none); of pieces that
        chain with the best one (the player again, later), the earliest."""
        settings = self._settings
        end = followed[-1]
        height = end.box[3] - end.box[1]
        if height <= 0:
            return None
        velocity = self._velocity(followed, height)
        end_foot = foot(end.box)
        team = pieces[followed[0].piece].team  # the chosen player's
        seen = {sighting.time: sighting.box for sighting in followed}
        scored: list[tuple[float, _Piece, int]] = []  # (score, piece, position after the end)
        for piece in pieces.values():
            if piece.key in visited:
                continue
            if piece.times[0] > end.time + settings.max_gap:
                continue
            if team is not None and piece.team is not None and piece.team != team:
                continue  # never the other team's player (nor a referee for a player)
            if piece.times[0] < end.time - settings.max_overlap and not self._shadow(piece, seen):
                continue
            position = piece.position_after(end.time)
            if position is None:
                continue
            if shots[piece.times[position]] != shots[end.time]:
                continue  # another shot: where a player stood says nothing about the next view
            time, box = piece.times[position], piece.boxes[position]
            gap = time - end.time
            if gap > settings.max_gap:
                continue
            ratio = (box[3] - box[1]) / height
            if not 1 / settings.max_height_ratio <= ratio <= settings.max_height_ratio:
                continue
            predicted = (end_foot[0] + velocity[0] * gap, end_foot[1] + velocity[1] * gap)
            scale = (height + box[3] - box[1]) / 2
            distance = math.dist(predicted, foot(box)) / scale
            gate = self._gate(gap)
            if distance > gate:
                continue
            motion = 1 - distance / gate
            looks = [piece.looks[t] for t in piece.times[position:] if t in piece.looks][
                : settings.edge_samples
            ]
            if looks and reference:
                alike = sorted(_likeness(appearance, look, reference) for look in looks)[len(looks) // 2]
                if alike < settings.min_similarity:
                    continue
                look_score = (alike - settings.min_similarity) / (1 - settings.min_similarity)
            elif gap <= settings.interpolate_gap and motion >= 0.5:
                look_score = 0.0  # too small or crowded to describe: only a short, close hop
            else:
                continue
            scored.append((0.5 * motion + 0.5 * look_score, piece, position))
        if not scored:
            return None
        best, piece, position = max(scored, key=lambda item: item[0])
        # Candidates compete unless one can be the other's continuation (the same player seen
        # again after a short break, which the next stitch will pick up), or unless the weaker one
        # only turns up later, while the best one is still seen (which already says where the
        # player is then: the late one is somebody else, not a second reading of the hand-over).
        compatible = [(piece, position)]
        rivals = []
        for score, other, other_position in scored:
            if other is piece:
                continue
            if self._chainable(piece, position, other, other_position):
                compatible.append((other, other_position))
            elif not _seen_through(piece, position, other.times[other_position], settings.rival_window):
                rivals.append(score)
        if rivals and best - max(rivals) < settings.ambiguity_margin:
            return None
        return min(compatible, key=lambda found: found[0].times[found[1]])[0]

    def _chainable(self, first: _Piece, first_position: int, second: _Piece, second_position: int) -> bool:
        """Whether one piece (from the given positions on) could continue the other: it starts
        after the other ends, close enough to where it ended, or it is the same track again."""
        if first.times[first_position] > second.times[second_position]:
            first, first_position, second, second_position = second, second_position, first, first_position
        gap = second.times[second_position] - first.times[-1]
        if first.track_id == second.track_id and gap > 0:
            return True  # one track, lost and found again: each piece is judged against the player
        if not 0 < gap <= self._settings.max_gap:
            return False
        end, start = first.boxes[-1], second.boxes[second_position]
        scale = (end[3] - end[1] + start[3] - start[1]) / 2
        return math.dist(foot(end), foot(start)) / scale <= self._gate(gap)

    def _gate(self, gap: int) -> float:
        """Motion gate radius (player heights) after `gap` frames unseen."""
        return min(self._settings.max_gate, self._settings.gate_base + self._settings.gate_growth * gap)

    def _shadow(self, piece: _Piece, seen: dict[int, Box]) -> bool:
        """Whether a piece that began well before the followed one ended was on the same player
        all along: each of its boxes covers, or is covered by, the followed box nearest in time."""
        settings = self._settings
        covers = []
        for time, box in zip(piece.times, piece.boxes, strict=True):
            near = [seen[t] for t in _around(time, settings.shadow_frames) if t in seen]
            if not near:
                continue
            other = near[0]
            heights = sorted((box[3] - box[1], other[3] - other[1]))
            if heights[0] <= 0 or heights[1] / heights[0] > settings.shadow_height_ratio:
                covers.append(0.0)
                continue
            covers.append(cover(box, other))
        return len(covers) >= 3 and sum(covers) / len(covers) >= settings.shadow_cover

    def _velocity(self, followed: list[_Sighting], height: float) -> tuple[float, float]:
        """Foot-point velocity (pixels per frame) over the end of the followed history."""
        end = followed[-1]
        window = [s for s in followed[-(self._settings.velocity_window + 1) :] if s.time < end.time]
        window = [s for s in window if end.time - s.time <= self._settings.velocity_window]
        if len(window) < 2:
            return (0.0, 0.0)
        start = window[0]
        elapsed = end.time - start.time
        (x0, y0), (x1, y1) = foot(start.box), foot(end.box)
        vx, vy = (x1 - x0) / elapsed, (y1 - y0) / elapsed
        speed = math.hypot(vx, vy)
        limit = self._settings.max_speed * height
        if speed > limit:
            vx, vy = vx * limit / speed, vy * limit / speed
        return (vx, vy)

    # ---------------------------------------------------------------------------------------
    # Output
    # ---------------------------------------------------------------------------------------

    def _bridged(self, before: _Sighting, after: _Sighting) -> bool:
        """Whether the frames between two sightings are filled in rather than lost."""
        return after.time - before.time - 1 <= self._settings.interpolate_gap

    def _frames(
        self, frame_indexes: list[int], sightings: dict[int, _Sighting], start_time: int
    ) -> list[TrackingFrame]:
        times = sorted(sightings)
        frames: list[TrackingFrame] = []
        following = 0  # index into `times` of the first sighting at or after the current time
        for time, frame_index in enumerate(frame_indexes):
            while following < len(times) and times[following] < time:
                following += 1
            seen = sightings.get(time)
            if seen is not None:
                frames.append(
                    TrackingFrame(frame_index, _bounding(seen.box), seen.confidence, False, seen.track_id)
                )
                continue
            before = sightings[times[following - 1]] if following > 0 else None
            after = sightings[times[following]] if following < len(times) else None
            if before is not None and after is not None and self._bridged(before, after):
                share = (time - before.time) / (after.time - before.time)
                box = tuple(b + (a - b) * share for b, a in zip(before.box, after.box, strict=True))
                frames.append(TrackingFrame(frame_index, _bounding(box), 0.0, False, None))
                continue
            # Lost: carry the last sighting in the direction of following (towards the chosen frame).
            known = before if time > start_time else after
            box_known = _bounding(known.box) if known is not None else None
            frames.append(TrackingFrame(frame_index, box_known, 0.0, True, None))
        return frames


# -------------------------------------------------------------------------------------------
# Bookkeeping over the columns
# -------------------------------------------------------------------------------------------


def _around(time: int, frames: int) -> list[int]:
    """`time`, then the times up to `frames` either side, nearest first."""
    return sorted(range(time - frames, time + frames + 1), key=lambda t: (abs(t - time), t))


def _bounding(box: Sequence[float]) -> BoundingBox | None:
    x1, y1, x2, y2 = box
    return BoundingBox(x1, y1, x2, y2) if x2 > x1 and y2 > y1 else None


def _rows(frame: FrameTracks) -> Iterable[tuple[int, Sequence[float]]]:
    return zip((int(i) for i in frame.track_ids), frame.boxes, strict=True)


def _clutter(frame: FrameTracks, track_id: int, box: Box) -> float:
    """The largest overlap of `box` with another box of its frame."""
    return max(
        (iou(box, as_box(other)) for other_id, other in _rows(frame) if other_id != track_id), default=0.0
    )


def _whole_tracks(tracks: Sequence[FrameTracks]) -> dict[int, _Piece]:
    """Every track id's sightings, by position in the clip."""
    whole: dict[int, _Piece] = {}
    for time, frame in enumerate(tracks):
        teams = frame.teams if frame.teams is not None else [None] * len(frame)
        for (track_id, box), confidence, team in zip(_rows(frame), frame.confidences, teams, strict=True):
            track = whole.setdefault(track_id, _Piece(track_id, track_id))
            track.times.append(time)
            track.boxes.append(as_box(box))
            track.confidences.append(float(confidence))
            track.teams.append(None if team is None else str(team))
    return whole


def _seen_through(piece: _Piece, position: int, time: int, window: int) -> bool:
    """Whether `piece`, from `position` on, is seen from more than `window` frames before `time`
    until `time` (pieces have no inner gaps longer than `max_inner_gap`)."""
    return piece.times[position] < time - window and piece.times[-1] >= time


def _nearest_piece(pieces: dict[int, _Piece], track_id: int, time: int) -> tuple[_Piece, int]:
    """The piece of track `track_id` seen closest to `time`, and its sighting time closest to it."""
    return min(
        ((piece, seen) for piece in pieces.values() if piece.track_id == track_id for seen in piece.times),
        key=lambda found: (abs(found[1] - time), found[1]),
    )


def _likeness(appearance: AppearanceEncoder, look: Appearance, reference: list[Appearance]) -> float:
    """How alike `look` is to the player: the mean of its three best matches in the reference."""
    best = sorted((appearance.similarity(look, known) for known in reference), reverse=True)[:3]
    return sum(best) / len(best) if best else 0.0
