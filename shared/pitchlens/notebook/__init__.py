"""PitchLens from a notebook: a match's events, lineups and trajectories as polars DataFrames (pandas
through `.to_pandas()`), pictures of them, and the match as a kloppy dataset.

    >>> import pitchlens
    >>> lens = pitchlens.connect()                        # the running `pitchlens up`
    >>> shots = lens.events("3788741", types=["shot"])    # one row per shot, names included
    >>> shots.select("player_name", "team_name", "outcome").row(0)
    ('Ciro Immobile', 'Italy', 'Off T')
    >>> lens.trajectories(clip_id=CLIP).columns[:5]       # a processed clip's tracks, read from the bucket
    ['match_id', 'clip_id', 'frame', 't_seconds', 'track_id']
    >>> figure = lens.plot("3788741", "shots")            # a matplotlib Figure (mplsoccer)
    >>> dataset = lens.to_kloppy("3788741")               # a kloppy EventDataset
    >>> dataset.metadata.teams[0].name
    'Turkey'

`connect()` reaches a stack through its HTTP API (the running embedded stack, or a deployed one:
`connect(api_url=..., s3_endpoint=...)` or `PITCHLENS_API_URL`, `PITCHLENS_S3_ENDPOINT`,
`PITCHLENS_API_TOKEN`). Events and lineups come from the API; trajectories are Parquet in the
bucket, scanned lazily by polars straight from object storage (only the columns and rows a query
needs are read, nothing is downloaded whole): `lens.trajectories(match_id, lazy=True)` gives the
`LazyFrame` to filter first. Credentials for the bucket are the usual AWS ones from the environment
(the embedded stack accepts any).

Coordinates are PitchLens's: metres on a 105 x 68 pitch, origin at the centre spot, +x the
direction the home team attacks in every period, +y to its left. Trajectories are in pixels of their
video (see the README's Storage section).

Needs the `notebook` extra (polars, kloppy, mplsoccer): `pip install 'pitchlens[notebook]'`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pitchlens.domain.model import EventType

if TYPE_CHECKING:
    import polars as pl
    from matplotlib.figure import Figure

__all__ = ["Lens", "StackNotFound", "connect"]


class StackNotFound(RuntimeError):
    """No PitchLens stack to connect to: none is configured and no embedded stack runs."""


def connect(
    api_url: str | None = None,
    *,
    s3_endpoint: str | None = None,
    token: str | None = None,
    data_dir: str | Path | None = None,
) -> Lens:
    """A Lens on a running PitchLens: the one at `api_url` (with its object storage at
    `s3_endpoint`, AWS's own when None), else the one the environment configures
    (`PITCHLENS_API_URL`, `PITCHLENS_S3_ENDPOINT`), else the embedded stack that `pitchlens up`
    runs on `data_dir` (default `PITCHLENS_DATA_DIR` or the platform's data folder).
    StackNotFound when there is none."""
    from pitchlens.infrastructure.settings import Settings

    settings = Settings() if data_dir is None else Settings(data_dir=Path(data_dir))
    token = token or settings.api_token
    if api_url is None and settings.api_url:
        api_url, s3_endpoint = settings.api_url, s3_endpoint or settings.s3_endpoint
    if api_url is not None:
        return Lens(api_url, s3_endpoint=s3_endpoint, token=token, region=settings.aws_region)
    from pitchlens.runtime.embedded.stack import StackInfo

    folder = settings.data_dir.expanduser().resolve()
    info = StackInfo.read(folder)
    if info is None or not info.alive():
        raise StackNotFound(f"no PitchLens stack runs on {folder}: start one with `pitchlens up`")
    return Lens(
        info.api_url, s3_endpoint=s3_endpoint or info.s3_endpoint, token=token, region=info.aws_region
    )


class Lens:
    """Reads one PitchLens stack: its API for matches, events and lineups, its bucket for
    trajectories. Made by `connect()`."""

    def __init__(
        self,
        api_url: str,
        *,
        s3_endpoint: str | None = None,
        token: str | None = None,
        region: str = "us-east-1",
    ) -> None:
        import importlib.util

        from pitchlens.runtime.cli.api_client import ApiClient

        missing = [
            name for name in ("polars", "kloppy", "mplsoccer") if importlib.util.find_spec(name) is None
        ]
        if missing:
            raise ImportError(
                f"the notebook API needs {', '.join(missing)}: pip install 'pitchlens[notebook]'"
            )
        self.api_url = api_url.rstrip("/")
        self.s3_endpoint = s3_endpoint
        self.region = region
        self._api = ApiClient(self.api_url, token)

    def __repr__(self) -> str:
        return f"Lens(api_url={self.api_url!r}, s3_endpoint={self.s3_endpoint!r})"

    # --- Matches, events, lineups ------------------------------------------------------------------
    def matches(self) -> pl.DataFrame:
        """Every stored match, newest first: ids, teams, competition, kick-off, counts."""
        import polars as pl

        rows = self._api.items("/api/v1/matches", "matches")
        return pl.DataFrame(
            rows,
            schema={
                "match_id": pl.String,
                "source": pl.String,
                "home_team": pl.String,
                "away_team": pl.String,
                "competition": pl.String,
                "kickoff": pl.String,
                "event_count": pl.Int64,
                "player_count": pl.Int64,
                "ingested_at": pl.String,
            },
        ).with_columns(pl.col("kickoff", "ingested_at").str.to_datetime(time_zone="UTC"))

    def events(
        self,
        match_id: str,
        types: Iterable[str | EventType] | str | EventType | None = None,
        *,
        player: str | None = None,
        team: str | None = None,
    ) -> pl.DataFrame:
        """One row per event of the match, in match order: of the given types (normalised names:
        "pass", "shot", ...; all when None), of one player (id or part of a name) and of one team (id
        or part of a name). Columns: `pitchlens.runtime.cli.api_client.EVENT_COLUMNS` (`attributes`
        is JSON text: `pl.col("attributes").str.json_decode()`)."""
        import polars as pl

        wanted: list[str | None] = (
            [str(types)] if isinstance(types, str) else [str(t) for t in types] if types else [None]
        )
        known = {t.value for t in EventType}
        unknown = [t for t in wanted if t is not None and t not in known]
        if unknown:
            raise ValueError(f"unknown event type {unknown[0]!r}; one of: {', '.join(sorted(known))}")
        from pitchlens.runtime.cli.api_client import events_table

        rows: list[dict[str, Any]] = []
        for event_type in wanted:
            rows.extend(self._api.event_rows(match_id, type=event_type, player=player))
        frame = pl.from_arrow(events_table(rows))
        assert isinstance(frame, pl.DataFrame)
        if team is not None:
            frame = frame.filter(
                (pl.col("team_id") == team)
                | pl.col("team_name").str.to_lowercase().str.contains(team.lower(), literal=True)
            )
        if len(wanted) > 1:
            frame = frame.sort("period", "timestamp", maintain_order=True)
        return frame

    def players(self, match_id: str) -> pl.DataFrame:
        """The match's lineups: one row per player, home team first, starters first."""
        import polars as pl

        lineup = self._api.request("GET", f"/api/v1/matches/{match_id}/players")
        return pl.DataFrame(
            lineup["players"],
            schema={
                "player_id": pl.String,
                "name": pl.String,
                "team_id": pl.String,
                "team_name": pl.String,
                "side": pl.String,
                "jersey_number": pl.Int32,
                "position": pl.String,
                "starting": pl.Boolean,
            },
        )

    def clips(self, match_id: str) -> pl.DataFrame:
        """The match's video clips: status, frames, where their trajectories are."""
        import polars as pl

        clips = self._api.request("GET", f"/api/v1/matches/{match_id}/clips")
        return pl.DataFrame(
            [
                {
                    "clip_id": c["clip_id"],
                    "status": c["status"],
                    "fps": (c.get("info") or {}).get("fps"),
                    "frames": (c.get("info") or {}).get("frames"),
                    "trajectory_rows": c["trajectory_rows"],
                    "trajectories_uri": c["trajectories_uri"],
                    "video_uri": c["video_uri"],
                }
                for c in clips
            ],
            schema={
                "clip_id": pl.String,
                "status": pl.String,
                "fps": pl.Float64,
                "frames": pl.Int64,
                "trajectory_rows": pl.Int64,
                "trajectories_uri": pl.String,
                "video_uri": pl.String,
            },
        )

    # --- Trajectories ------------------------------------------------------------------------------
    def trajectory_uris(self, match_id: str | None = None, *, clip_id: str | None = None) -> list[str]:
        """The `s3://` URIs of the trajectories of one clip, or of every processed clip of a match."""
        if (match_id is None) == (clip_id is None):
            raise ValueError("give a match_id or a clip_id")
        if clip_id is not None:
            clip = self._api.request("GET", f"/api/v1/clips/{clip_id}")
            if not clip["trajectories_uri"]:
                raise ValueError(f"clip {clip_id} has no trajectories yet (it is {clip['status']})")
            return [clip["trajectories_uri"]]
        clips = self._api.request("GET", f"/api/v1/matches/{match_id}/clips")
        return [c["trajectories_uri"] for c in clips if c["trajectories_uri"]]

    def trajectories(
        self, match_id: str | None = None, *, clip_id: str | None = None, lazy: bool = False
    ) -> pl.DataFrame | pl.LazyFrame:
        """The trajectories of one clip, or of every processed clip of a match (one row per track per
        frame, in pixels of the video; columns as the README's Storage section says), scanned from
        the bucket. `lazy=True`: a LazyFrame, so filters and column choices are pushed into the scan."""
        import polars as pl

        from pitchlens.infrastructure.storage.trajectories import TRAJECTORY_SCHEMA

        uris = self.trajectory_uris(match_id, clip_id=clip_id)
        if not uris:
            scan = pl.from_arrow(TRAJECTORY_SCHEMA.empty_table()).lazy()  # type: ignore[union-attr]
        else:
            scan = pl.scan_parquet(uris, storage_options=self.storage_options())
        return scan if lazy else scan.collect()

    def storage_options(self) -> dict[str, str]:
        """Options for polars / object_store to reach this stack's bucket (`pl.scan_parquet(uri,
        storage_options=lens.storage_options())`). Credentials are the environment's; the embedded
        stack takes any."""
        options = {"aws_region": self.region}
        if self.s3_endpoint:
            options["aws_endpoint_url"] = self.s3_endpoint
            if self.s3_endpoint.startswith("http://"):
                options["aws_allow_http"] = "true"
            options["aws_access_key_id"] = os.environ.get("AWS_ACCESS_KEY_ID", "pitchlens")
            options["aws_secret_access_key"] = os.environ.get("AWS_SECRET_ACCESS_KEY", "pitchlens")
        return options

    # --- Pictures and kloppy -----------------------------------------------------------------------
    def plot(
        self,
        match_id: str,
        kind: str = "shots",
        *,
        player: str | None = None,
        team: str | None = None,
        event_type: str | None = None,
    ) -> Figure:
        """A picture of the match's events on the pitch as a matplotlib Figure (mplsoccer): "shots",
        "passes" or "heatmap" (of `event_type`, every event by default), of one player and/or
        team. The same picture as `GET /api/v1/matches/{id}/plots/{kind}.png`."""
        from pitchlens.infrastructure.plots import PitchEvents, PlotKind, draw

        chosen = PlotKind(kind)
        wanted = chosen.event_type or event_type
        events = self.events(match_id, [wanted] if wanted else None, player=player, team=team)
        summary = self._api.request("GET", f"/api/v1/matches/{match_id}")
        lineup = self._api.request("GET", f"/api/v1/matches/{match_id}/players")
        [home] = [t for t in lineup["teams"] if t["side"] == "home"]
        xg = [json.loads(a or "{}").get("statsbomb_xg") for a in events["attributes"]]
        who = " ".join(part for part in (player, team) if part)
        points = PitchEvents(
            x=events["start_x"].to_list(),
            y=events["start_y"].to_list(),
            end_x=events["end_x"].to_list(),
            end_y=events["end_y"].to_list(),
            home=[team_id == home["team_id"] for team_id in events["team_id"]],
            outcome=events["outcome"].to_list(),
            xg=[float(v) if isinstance(v, int | float) else None for v in xg],
            home_team=summary["home_team"],
            away_team=summary["away_team"],
            title=f"{summary['home_team']} v {summary['away_team']}: {who} {chosen.value}".replace(
                ":  ", ": "
            ),
        )
        return draw(chosen, points).figure

    def to_kloppy(self, match_id: str, *, orientation: Any = None) -> Any:
        """The match as a kloppy `EventDataset`, in kloppy's coordinate system and the given kloppy
        `Orientation` (ACTION_EXECUTING_TEAM, as kloppy loads StatsBomb, by default); see
        `pitchlens.notebook.kloppy` for how types and outcomes map."""
        from pitchlens.notebook.kloppy import event_dataset

        match = self._api.request("GET", f"/api/v1/matches/{match_id}")
        lineup = self._api.request("GET", f"/api/v1/matches/{match_id}/players")
        return event_dataset(
            match, lineup, self.events(match_id).iter_rows(named=True), orientation=orientation
        )
