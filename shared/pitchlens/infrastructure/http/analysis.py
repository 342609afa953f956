"""Routes for analysts: a match's lineups, pictures of its events, and pictures of a calibrated
clip's tracked players (PNG, drawn with mplsoccer: the optional `plots` extra; without it the
picture routes answer 503 saying so)."""

from __future__ import annotations

import math
from enum import StrEnum
from typing import Annotated, Any, Literal

import numpy as np
from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, Field

from pitchlens.application import views
from pitchlens.domain.model import EventType, Team
from pitchlens.infrastructure.http.cv import cv_token
from pitchlens.infrastructure.http.dependencies import Wired
from pitchlens.infrastructure.plots import (
    ClipTracks,
    Picture,
    PitchEvents,
    PlayerTrack,
    PlotKind,
    TrackPlotKind,
    draw,
    draw_player,
    draw_positions,
)

API = "/api/v1"
MARKERS_HEADER = "X-PitchLens-Markers"


class Side(StrEnum):
    HOME = "home"
    AWAY = "away"


class LineupPlayerView(BaseModel):
    player_id: str
    name: str
    team_id: str
    team_name: str
    side: Side
    jersey_number: int | None
    position: str | None
    starting: bool


class TeamView(BaseModel):
    team_id: str
    name: str
    side: Side


class LineupView(BaseModel):
    match_id: str
    total: int = Field(description="Players of both teams")
    teams: list[TeamView]
    players: list[LineupPlayerView] = Field(description="Home team first; starters first, by jersey number")

    @classmethod
    def of(cls, match_id: str, teams: tuple[Team, Team]) -> LineupView:
        sides = tuple(zip((Side.HOME, Side.AWAY), teams, strict=True))
        players = [
            LineupPlayerView(
                player_id=player.player_id,
                name=player.name,
                team_id=team.team_id,
                team_name=team.name,
                side=side,
                jersey_number=player.jersey_number,
                position=player.position,
                starting=player.starting,
            )
            for side, team in sides
            for player in team.players
        ]
        return cls(
            match_id=match_id,
            total=len(players),
            teams=[TeamView(team_id=team.team_id, name=team.name, side=side) for side, team in sides],
            players=players,
        )


def pitch_events(
    kind: PlotKind, selected: views.NamedEvents, teams: tuple[Team, Team], title: str
) -> PitchEvents:
    """The selected events as the columns a picture draws."""
    events = selected.events
    home = teams[0].team_id
    return PitchEvents(
        x=[e.start.x if e.start else None for e in events],
        y=[e.start.y if e.start else None for e in events],
        end_x=[e.end.x if e.end else None for e in events],
        end_y=[e.end.y if e.end else None for e in events],
        home=[e.team_id == home for e in events],
        outcome=[e.outcome for e in events],
        xg=[_number(e.attributes.get("statsbomb_xg")) for e in events],
        home_team=teams[0].name,
        away_team=teams[1].name,
        title=title,
    ).drawable(kind)


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) else None


def player_track(tracked: views.TrackedPlayer) -> PlayerTrack:
    """One tracked player's rows as the columns a picture draws."""
    frames = tracked.frames
    nowhere = (math.nan, math.nan)
    xy = [frame.pitch_xy[0] if frame.pitch_xy is not None else nowhere for frame in frames]
    return PlayerTrack(
        frame=[frame.frame_index for frame in frames],
        x=[float(x) for x, _ in xy],
        y=[float(y) for _, y in xy],
        on_pitch=[None if frame.on_pitch is None else bool(frame.on_pitch[0]) for frame in frames],
        fps=tracked.fps,
        label=f"Track {tracked.track_id}",
        team=tracked.motion.team,
        distance_m=tracked.motion.distance_m,
        top_speed_kmh=tracked.motion.top_speed_kmh,
        seconds=tracked.motion.seconds,
    )


def clip_tracks(placed: views.PlacedClip) -> ClipTracks:
    """Every row of a clip as the columns a picture draws (whole arrays, not a Python object per row)."""
    frames = placed.frames
    if not frames:
        return ClipTracks([], [], [], [], [], placed.fps, f"Clip {placed.clip.clip_id}")
    xy: Any = np.concatenate(
        [
            np.full((len(frame), 2), np.nan)
            if frame.pitch_xy is None
            else np.asarray(frame.pitch_xy, np.float64).reshape(-1, 2)
            for frame in frames
        ]
    )
    ids: Any = np.concatenate([np.asarray(frame.track_ids, np.int64) for frame in frames])
    return ClipTracks(
        track_id=ids,
        x=xy[:, 0],
        y=xy[:, 1],
        team=[
            t for frame in frames for t in (frame.teams if frame.teams is not None else [None] * len(frame))
        ],
        on_pitch=[
            None if on is None else bool(on)
            for frame in frames
            for on in (frame.on_pitch if frame.on_pitch is not None else [None] * len(frame))
        ],
        fps=placed.fps,
        title=f"Clip {placed.clip.clip_id}",
    )


def png_response(picture: Picture) -> Response:
    return Response(picture.png(), media_type="image/png", headers={MARKERS_HEADER: str(picture.markers)})


def create_router() -> APIRouter:
    router = APIRouter(prefix=API, dependencies=[Depends(cv_token)])

    @router.get(
        "/matches/{match_id}/players",
        response_model=LineupView,
        tags=["matches"],
        responses={404: {"description": "Unknown match"}},
    )
    def lineup(match_id: str, app_container: Wired) -> LineupView:
        """The match's lineups: both teams and their players (names, jersey numbers, positions,
        starters)."""
        return LineupView.of(match_id, views.lineup(app_container.unit_of_work, match_id))

    @router.get(
        "/matches/{match_id}/plots/{kind}.png",
        tags=["matches"],
        response_class=Response,
        responses={
            200: {
                "content": {"image/png": {}},
                "description": f"The picture; `{MARKERS_HEADER}` says how many events it draws",
            },
            404: {"description": "Unknown match"},
            503: {"description": "The server has no mplsoccer (the plots extra)"},
        },
    )
    def plot(
        match_id: str,
        kind: PlotKind,
        app_container: Wired,
        player: Annotated[
            str | None, Query(max_length=128, description="player id or part of a name")
        ] = None,
        team: Annotated[str | None, Query(max_length=128, description="team id or part of a name")] = None,
        type: Annotated[
            EventType | None, Query(description="heatmap only: the event type (default: every event)")
        ] = None,
    ) -> Response:
        """A picture of the match's events on the pitch (home attacking right): `shots` (sized by
        xG, goals filled), `passes` (arrows; failed ones red) or `heatmap` (where the events were),
        for one player and/or team. Events without the coordinates the picture needs are left out."""
        event_type = kind.event_type or (type.value if type else None)
        selected, teams = views.selected_events(
            app_container.unit_of_work, match_id, type=event_type, player=player, team=team
        )
        who = " ".join(part for part in (player, team) if part)
        title = f"{teams[0].name} v {teams[1].name}: {who + ' ' if who else ''}{kind.value}"
        return png_response(draw(kind, pitch_events(kind, selected, teams, title)))

    picture_answers: dict[int | str, dict[str, Any]] = {
        200: {
            "content": {"image/png": {}},
            "description": f"The picture; `{MARKERS_HEADER}` says how many positions (players) it draws",
        },
        404: {"description": "Unknown clip or track"},
        409: {
            "description": "The clip is not processed yet, or has no positions in metres (not "
            "calibrated: the detail says why, as stored with its trajectories)"
        },
        503: {"description": "The server has no mplsoccer (the plots extra)"},
    }

    @router.get(
        "/clips/{clip_id}/players/{track_id}/plots/{kind}.png",
        tags=["video"],
        response_class=Response,
        responses=picture_answers,
    )
    def player_plot(
        clip_id: str, track_id: int, kind: Literal["path", "heatmap"], app_container: Wired
    ) -> Response:
        """One tracked player of a calibrated clip on the pitch (metres, home attacking right):
        `path` (where they went; lost and off-pitch stretches are not joined; start circled, end
        squared) or `heatmap` (time spent per 5 m square), titled with distance covered and top
        speed. Only this player's rows are read (`track_id` as `GET /clips/{id}/players` lists)."""
        tracked = views.tracked_player(
            app_container.unit_of_work, app_container.trajectories, clip_id, track_id
        )
        return png_response(draw_player(TrackPlotKind(kind), player_track(tracked)))

    @router.get(
        "/clips/{clip_id}/plots/positions.png",
        tags=["video"],
        response_class=Response,
        responses=picture_answers,
    )
    def positions_plot(clip_id: str, app_container: Wired) -> Response:
        """Every on-pitch player's mean position in a calibrated clip (at least a second on the
        pitch with metres), coloured by team, sized by time, labelled by track id."""
        placed = views.placed_clip(app_container.unit_of_work, app_container.trajectories, clip_id)
        return png_response(draw_positions(clip_tracks(placed)))

    return router
