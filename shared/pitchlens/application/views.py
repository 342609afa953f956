"""The read side (cosmicpython's views.py): plain functions that return what a route or a command
needs, each in one read-only transaction. Missing things raise the domain's not-found errors
(JobNotFound, MatchNotFound, ClipNotFound, TrackNotFound, SessionNotFound), which the edges map to 404.

`unit_of_work` is the factory the composition root holds (`Container.unit_of_work`)."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar

from pitchlens.application.followable_players import FollowablePlayers, followable_players
from pitchlens.domain.errors import ClipNotFound, NotCalibrated, StateConflict, TrackNotFound
from pitchlens.domain.jobs import Job, JobKind
from pitchlens.domain.model import Event, Team
from pitchlens.domain.motion import TrackMotion, track_motion
from pitchlens.domain.ports import EventQuery, MatchSummary, ObjectStorage, UnitOfWork
from pitchlens.domain.rendering import ClipNotReady
from pitchlens.domain.sessions import HighlightSession, SessionClip
from pitchlens.domain.vision import Clip, ClipStatus, FrameTracks, TrajectoryStore

UnitOfWorkFactory = Callable[[], UnitOfWork]
T = TypeVar("T")


# --- Jobs ------------------------------------------------------------------------------------------
def job(unit_of_work: UnitOfWorkFactory, job_id: str) -> Job:
    with unit_of_work() as uow:
        return uow.jobs.get(job_id)


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """A page of a list: `items` from `offset` on, and how many there are in all (`total`)."""

    total: int
    items: list[T]


def jobs(
    unit_of_work: UnitOfWorkFactory,
    *,
    correlation_id: str | None = None,
    match_id: str | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> Page[Job]:
    """A page of the jobs of one correlation id and/or match (every job when neither is given),
    oldest first."""
    with unit_of_work() as uow:
        found = uow.jobs.find(correlation_id=correlation_id, match_id=match_id)
    end = None if limit is None else offset + limit
    return Page(len(found), found[offset:end])


# --- Matches and events ----------------------------------------------------------------------------
def match(unit_of_work: UnitOfWorkFactory, match_id: str) -> MatchSummary:
    with unit_of_work() as uow:
        return uow.matches.summary(match_id)


def matches(unit_of_work: UnitOfWorkFactory, *, limit: int = 50, offset: int = 0) -> Page[MatchSummary]:
    """A page of the stored matches, newest first."""
    with unit_of_work() as uow:
        return Page(uow.matches.count(), uow.matches.list(limit=limit, offset=offset))


@dataclass(frozen=True, slots=True)
class NamedEvents:
    """A page of a match's events with the names of the players and teams they refer to."""

    total: int
    events: tuple[Event, ...]
    player_names: Mapping[str, str]
    team_names: Mapping[str, str]


def events(unit_of_work: UnitOfWorkFactory, query: EventQuery) -> NamedEvents:
    """A filtered page of one match's events in match order, with the total that match the filter
    and the names of their players and teams."""
    with unit_of_work() as uow:
        page = uow.matches.events(query)
        teams = uow.matches.lineup(query.match_id)
    return NamedEvents(
        page.total,
        page.events,
        {player.player_id: player.name for team in teams for player in team.players},
        {team.team_id: team.name for team in teams},
    )


ALL_EVENTS = 10_000_000
"""A limit no match reaches: every event of the selection in one read."""


def selected_events(
    unit_of_work: UnitOfWorkFactory,
    match_id: str,
    *,
    type: str | None = None,
    player: str | None = None,
    team: str | None = None,
) -> tuple[NamedEvents, tuple[Team, Team]]:
    """Every event of a match of one type (all types when None), of one player (id or part of a
    name) and of one team (id or part of a name, case-insensitive), with the teams.
    MatchNotFound when the match is unknown."""
    with unit_of_work() as uow:
        page = uow.matches.events(EventQuery(match_id, type, player, ALL_EVENTS, 0))
        teams = uow.matches.lineup(match_id)
    chosen = page.events
    if team is not None:
        wanted = {t.team_id for t in teams if t.team_id == team or team.casefold() in t.name.casefold()}
        chosen = tuple(event for event in chosen if event.team_id in wanted)
    named = NamedEvents(
        len(chosen),
        chosen,
        {p.player_id: p.name for t in teams for p in t.players},
        {t.team_id: t.name for t in teams},
    )
    return named, teams


def lineup(unit_of_work: UnitOfWorkFactory, match_id: str) -> tuple[Team, Team]:
    """The home and away teams of a match with their players; MatchNotFound when unknown."""
    with unit_of_work() as uow:
        return uow.matches.lineup(match_id)


# --- Clips -----------------------------------------------------------------------------------------
def clip(unit_of_work: UnitOfWorkFactory, clip_id: str) -> Clip:
    with unit_of_work() as uow:
        return uow.clips.get(clip_id)


def match_clips(unit_of_work: UnitOfWorkFactory, match_id: str) -> list[Clip]:
    with unit_of_work() as uow:
        return uow.clips.list(match_id)


def players(
    unit_of_work: UnitOfWorkFactory, trajectories: TrajectoryStore, clip_id: str, include_all: bool = False
) -> FollowablePlayers:
    """The players a person can choose to follow in a processed clip (see `followable_players`)."""
    return followable_players(clip(unit_of_work, clip_id), trajectories, include_all)


@dataclass(frozen=True, slots=True)
class TrackedPlayer:
    """One tracked person of a clip with positions in metres: their rows frame by frame, and their
    distance covered and top speed (`track_motion`)."""

    clip: Clip
    fps: float
    track_id: int
    frames: list[FrameTracks]
    """Only this track's rows, in frame order."""
    motion: TrackMotion


@dataclass(frozen=True, slots=True)
class PlacedClip:
    """Every tracked person of a clip with positions in metres (some frames may have none)."""

    clip: Clip
    fps: float
    frames: list[FrameTracks]


def tracked_player(
    unit_of_work: UnitOfWorkFactory, trajectories: TrajectoryStore, clip_id: str, track_id: int
) -> TrackedPlayer:
    """One track of a processed clip, read alone (not the whole clip), with its motion.
    ClipNotFound / TrackNotFound when unknown, ClipNotReady while the clip has no trajectories,
    NotCalibrated (with the reason stored with the trajectories) when the track has no metres."""
    found = clip(unit_of_work, clip_id)
    uri, fps = _trajectories_of(found)
    frames = trajectories.tracks(uri, track_ids=(track_id,))
    if not frames:
        raise TrackNotFound(f"clip {clip_id} has no track {track_id}")
    motion = track_motion(frames, fps)
    if not motion:
        why = trajectories.pitch_reason(uri) or "its frames were never placed in metres"
        raise NotCalibrated(f"track {track_id} of clip {clip_id} has no positions in metres: {why}")
    return TrackedPlayer(found, fps, track_id, frames, motion[0])


def placed_clip(unit_of_work: UnitOfWorkFactory, trajectories: TrajectoryStore, clip_id: str) -> PlacedClip:
    """Every track of a processed clip; NotCalibrated (with the stored reason) when no frame has
    metres, errors otherwise as `tracked_player`."""
    found = clip(unit_of_work, clip_id)
    uri, fps = _trajectories_of(found)
    frames = trajectories.tracks(uri)
    if not any(_has_metres(frame) for frame in frames):
        why = trajectories.pitch_reason(uri) or "its frames were never placed in metres"
        raise NotCalibrated(f"clip {clip_id} has no positions in metres: {why}")
    return PlacedClip(found, fps, frames)


def _has_metres(frame: FrameTracks) -> bool:
    return frame.pitch_xy is not None and any(not math.isnan(float(x)) for x, _ in frame.pitch_xy)


def _trajectories_of(found: Clip) -> tuple[str, float]:
    if found.trajectories_uri is None:
        raise ClipNotReady(f"clip {found.clip_id} is {found.status.value}: it has no trajectories yet")
    if found.info is None:
        raise ClipNotReady(f"clip {found.clip_id} has no video information (frame rate) yet")
    return found.trajectories_uri, found.info.fps


# --- Highlight sessions ----------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class SessionClipState:
    """One video of a session, as a person sees it: processing, choice, preview, approval."""

    name: str
    clip: Clip | None
    """None while the upload waits for the detect function."""
    process_job: Job | None
    decision: SessionClip | None
    preview_job: Job | None


@dataclass(frozen=True, slots=True)
class DetectionView:
    clip: Clip
    frame_jpeg: bytes
    players: FollowablePlayers


def session(unit_of_work: UnitOfWorkFactory, session_id: str) -> HighlightSession:
    with unit_of_work() as uow:
        return uow.sessions.get(session_id)


def session_clips(
    unit_of_work: UnitOfWorkFactory, session_id: str
) -> tuple[HighlightSession, list[SessionClipState]]:
    """The session's videos in order (then any other clip of it), each with its clip (once
    registered), processing job, decision and preview job."""
    with unit_of_work() as uow:
        found = uow.sessions.get(session_id)
        clips = {c.video_uri.rsplit("/", 1)[-1]: c for c in uow.clips.list(session_id)}
        session_jobs = uow.jobs.find(match_id=session_id)
        decisions = {decision.clip_id: decision for decision in uow.sessions.clips(session_id)}
    by_id = {j.job_id: j for j in session_jobs}
    # A video's processing job, from its upload on (by file name), or from its clip's registration.
    processing: dict[str, Job] = {}
    for j in session_jobs:
        if j.kind is JobKind.PROCESS:
            for key in (j.outputs.get("video_uri", "").rsplit("/", 1)[-1], j.outputs.get("clip_id")):
                if key:
                    processing[key] = j
    names = list(found.video_names) + sorted(set(clips) - set(found.video_names))
    states = []
    for name in names:
        video = clips.get(name)
        decision = decisions.get(video.clip_id) if video else None
        preview = by_id.get(decision.preview_job_id or "") if decision else None
        process = processing.get(video.clip_id if video else name) or processing.get(name)
        states.append(SessionClipState(name, video, process, decision, preview))
    return found, states


def session_clip(unit_of_work: UnitOfWorkFactory, session_id: str, clip_id: str) -> Clip:
    """A processed clip of the session: ClipNotFound when it is not the session's, StateConflict
    while it is still being processed."""
    with unit_of_work() as uow:
        uow.sessions.get(session_id)
        found = uow.clips.get(clip_id)
    if found.match_id != session_id:
        raise ClipNotFound(f"clip {clip_id} is not in session {session_id}")
    if found.status is not ClipStatus.PERSISTED:
        raise StateConflict(f"clip {clip_id} is {found.status.value}: wait until it is processed")
    return found


def decision(unit_of_work: UnitOfWorkFactory, session_id: str, clip_id: str) -> SessionClip | None:
    """What was decided about one clip of the session (None: nothing yet)."""
    with unit_of_work() as uow:
        uow.sessions.get(session_id)
        for chosen in uow.sessions.clips(session_id):
            if chosen.clip_id == clip_id:
                return chosen
    return None


def detection(
    unit_of_work: UnitOfWorkFactory,
    storage: ObjectStorage,
    trajectories: TrajectoryStore,
    session_id: str,
    clip_id: str,
    include_all: bool = False,
) -> DetectionView:
    """The clip's detection frame (JPEG) and the players that can be followed on it."""
    found = session_clip(unit_of_work, session_id, clip_id)
    offered = followable_players(found, trajectories, include_all)
    if found.frame_uri is None:
        raise StateConflict(f"clip {clip_id} has no detection frame yet")
    bucket, _, key = found.frame_uri.removeprefix("s3://").partition("/")
    return DetectionView(found, storage.get(bucket, key), offered)


def preview_job(unit_of_work: UnitOfWorkFactory, session_id: str, clip_id: str) -> Job:
    """The clip's latest preview job; ClipNotFound when it has none."""
    chosen = decision(unit_of_work, session_id, clip_id)
    if chosen is None or chosen.preview_job_id is None:
        raise ClipNotFound(f"clip {clip_id} of session {session_id} has no preview yet")
    return job(unit_of_work, chosen.preview_job_id)


def finalize_job(unit_of_work: UnitOfWorkFactory, session_id: str) -> Job:
    """The session's latest finalize job; ClipNotFound when it was never finalized."""
    found = session(unit_of_work, session_id)
    if found.final_job_id is None:
        raise ClipNotFound(f"session {session_id} has not been finalized yet")
    return job(unit_of_work, found.final_job_id)
