"""The analysts' routes in-process (FastAPI's TestClient over the fake system holding a real parsed
StatsBomb match): lineups, names on events, totals and paging, enums in the schema, and the
pictures: a PNG that shows the pitch and draws as many markers as events were selected. Then the
pictures of a calibrated clip's tracked players, their trajectories in a real S3 server: as many
positions as the player has on the pitch, and a 409 naming why for a clip without metres."""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from pitchlens.domain.model import Match
from pitchlens.domain.ports import RawMatchData
from pitchlens.domain.vision import Clip, ClipStatus, FrameTracks, VideoInfo
from pitchlens.infrastructure.http.app import create_app
from pitchlens.infrastructure.providers import StatsBombParser
from tests.fakes.system import FakeSystem

pytestmark = pytest.mark.integration

MATCH = "3788741"


@pytest.fixture(scope="module")
def match(statsbomb_dir: Path) -> Match:
    files = {
        name: (statsbomb_dir / "data" / folder / f"{MATCH}.json").read_bytes()
        for name, folder in (("events.json", "events"), ("lineups.json", "lineups"))
    }
    return StatsBombParser().parse(RawMatchData("statsbomb", MATCH, files))


@pytest.fixture(scope="module")
def client(match: Match) -> Iterator[TestClient]:
    system = FakeSystem()
    with system.unit_of_work() as uow:
        uow.matches.save(match, ingested_at=datetime(2026, 12, 1, tzinfo=UTC))
        uow.commit()
    with TestClient(create_app(lambda: system), raise_server_exceptions=False) as test_client:
        yield test_client


def test_lineups_list_both_teams_with_names(client: TestClient, match: Match) -> None:
    lineup = client.get(f"/api/v1/matches/{MATCH}/players").json()
    assert lineup["total"] == len(match.players) == len(lineup["players"])
    assert [(t["name"], t["side"]) for t in lineup["teams"]] == [
        (match.home_team.name, "home"),
        (match.away_team.name, "away"),
    ]
    starters = [p for p in lineup["players"] if p["starting"]]
    assert len(starters) == 22
    assert {p["team_name"] for p in starters} == {match.home_team.name, match.away_team.name}
    assert client.get("/api/v1/matches/nope/players").status_code == 404


def test_events_carry_player_and_team_names(client: TestClient, match: Match) -> None:
    page = client.get(f"/api/v1/matches/{MATCH}/events", params={"type": "shot", "limit": 3}).json()
    names = {p.player_id: p.name for p in match.players}
    teams = {t.team_id: t.name for t in match.teams}
    for event in page["events"]:
        assert event["player_name"] == names[event["player_id"]]
        assert event["team_name"] == teams[event["team_id"]]
    refused = client.get(f"/api/v1/matches/{MATCH}/events", params={"type": "goal"})
    assert refused.status_code == 422 and "shot" in refused.json()["detail"]


def test_list_routes_have_totals_and_paging(client: TestClient) -> None:
    page = client.get("/api/v1/matches", params={"limit": 1}).json()
    assert (page["total"], page["limit"], page["offset"], len(page["matches"])) == (1, 1, 0, 1)
    assert client.get("/api/v1/matches", params={"offset": 1}).json()["matches"] == []
    jobs = client.get("/api/v1/jobs").json()
    assert (jobs["total"], jobs["jobs"]) == (0, [])


def test_the_schema_names_the_choices(client: TestClient) -> None:
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    assert schemas["Provider"]["enum"] == ["statsbomb", "metrica"]
    assert "shot" in schemas["EventType"]["enum"]
    assert schemas["Preset"]["enum"] == ["preview", "final"]
    assert schemas["Indicator"]["enum"] == ["dot", "circle", "glow"]
    assert schemas["PlotKind"]["enum"] == ["shots", "passes", "heatmap"]


def _png(response_content: bytes) -> tuple[dict[str, str], float, int]:
    """The PNG's text metadata, the share of pitch-green pixels and the number of white ones."""
    from PIL import Image

    image = Image.open(io.BytesIO(response_content))
    rgb = image.convert("RGB")
    pixels = list(rgb.getdata())
    green = sum(1 for r, g, b in pixels if (r, g, b) == (0x2E, 0x7D, 0x32))
    white = sum(1 for r, g, b in pixels if min(r, g, b) > 240)
    return dict(image.text), green / len(pixels), white


def _busiest_player(match: Match) -> str:
    counts: dict[str, int] = {}
    for event in match.events:
        if event.player_id:
            counts[event.player_id] = counts.get(event.player_id, 0) + 1
    return max(counts, key=lambda player: counts[player])


@pytest.mark.parametrize(
    ("kind", "team", "by_player"),
    [
        ("shots", None, False),
        ("shots", "nobody's", False),
        ("passes", "home", False),
        ("heatmap", None, True),
    ],
)
def test_pictures_show_the_pitch_and_every_selected_event(
    client: TestClient, match: Match, kind: str, team: str | None, by_player: bool
) -> None:
    player = _busiest_player(match) if by_player else None
    team_id = match.home_team.team_id if team == "home" else team
    params = {"player": player, "team": match.home_team.name if team == "home" else team}
    event_type = {"shots": "shot", "passes": "pass"}.get(kind)
    selected = [
        e
        for e in match.events
        if e.start is not None
        and (event_type is None or e.type.value == event_type)
        and (kind != "passes" or e.end is not None)
        and (player is None or e.player_id == player)
        and (team is None or e.team_id == team_id)
    ]
    response = client.get(
        f"/api/v1/matches/{MATCH}/plots/{kind}.png", params={k: v for k, v in params.items() if v}
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/png"
    metadata, green, white = _png(response.content)
    assert int(response.headers["x-pitchlens-markers"]) == int(metadata["pitchlens.markers"]) == len(selected)
    assert metadata["pitchlens.kind"] == kind
    assert green > 0.3 and white > 2000  # the pitch and its lines


def test_an_unknown_picture_or_match_is_a_problem(client: TestClient) -> None:
    assert client.get(f"/api/v1/matches/{MATCH}/plots/radar.png").status_code == 422
    missing = client.get("/api/v1/matches/nope/plots/shots.png")
    assert missing.status_code == 404 and missing.headers["content-type"] == "application/problem+json"


# --- Pictures of a calibrated clip's tracked players -------------------------------------------------
# The clips' trajectories are real Parquet files in a real S3 server (moto's, in this process), read
# by the real trajectory store: one player's rows by range requests.
FPS = 25.0
RUNNER, STANDING = 3, 4
LOST = range(20, 25)
OFF_PITCH = range(50, 55)


def placed_frames(frames: int, metres: bool) -> list[FrameTracks]:
    """The runner (white) goes 0.25 m a frame along +x, lost on frames 20-24 and off the pitch on
    50-54; a green player stands at (-10, 5). Without metres: the same people, pitch columns null."""
    found = []
    for f in range(frames):
        ids = [STANDING] if f in LOST else [RUNNER, STANDING]
        xy = [[-30.0 + 0.25 * f, -4.0], [-10.0, 5.0]][-len(ids) :]
        found.append(
            FrameTracks(
                f,
                ids,
                [[10.0, 10.0, 20.0, 40.0], [50.0, 10.0, 60.0, 40.0]][-len(ids) :],
                [0.9, 0.8][-len(ids) :],
                on_pitch=[f not in OFF_PITCH, True][-len(ids) :] if metres else None,
                teams=["white", "green"][-len(ids) :] if metres else None,
                pitch_xy=xy if metres else None,
            )
        )
    return found


@pytest.fixture(scope="module")
def clips_client() -> Iterator[TestClient]:
    """The real app over fakes, but the trajectories in moto's S3: clip `placed` (80 frames in
    metres), `raw` (processed, never calibrated) and `pending` (not processed yet)."""
    from pitchlens.application.player_placer import NOT_CALIBRATED
    from pitchlens.infrastructure.storage.trajectories import S3TrajectoryStore, trajectory_table
    from tests.moto_s3 import moto_s3

    with moto_s3() as (client, _):
        system = FakeSystem()
        store = S3TrajectoryStore(client, f"tracking-{uuid.uuid4().hex[:8]}")
        store.ensure_bucket()
        system.trajectories = store  # type: ignore[assignment]
        now = datetime(2026, 12, 2, tzinfo=UTC)
        info = VideoInfo(100, 60, FPS, 80, 80 / FPS, "h264")
        for clip_id, metres in (("placed", True), ("raw", False)):
            table = trajectory_table(
                "m", clip_id, FPS, placed_frames(80, metres), None if metres else NOT_CALIBRATED
            )
            ref = store.save("m", clip_id, table)
            system.database.clips[clip_id] = Clip(
                clip_id, "m", f"s3://videos/m/{clip_id}.mp4", ClipStatus.PERSISTED, now, now, info,
                trajectories_uri=ref.uri, trajectory_rows=ref.rows, schema_version=ref.schema_version,
            )  # fmt: skip
        system.database.clips["pending"] = Clip(
            "pending", "m", "s3://videos/m/pending.mp4", ClipStatus.DETECTED, now, now, info
        )
        with TestClient(create_app(lambda: system), raise_server_exceptions=False) as test_client:
            yield test_client


@pytest.mark.parametrize("kind", ["path", "heatmap"])
def test_a_players_picture_draws_every_position_he_has_on_the_pitch(
    clips_client: TestClient, kind: str
) -> None:
    pytest.importorskip("mplsoccer", reason="pictures need the `plots` extra")
    shown = [f for f in range(80) if f not in LOST and f not in OFF_PITCH]  # 70 positions

    response = clips_client.get(f"/api/v1/clips/placed/players/{RUNNER}/plots/{kind}.png")

    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/png"
    metadata, green, white = _png(response.content)
    assert int(response.headers["x-pitchlens-markers"]) == int(metadata["pitchlens.markers"]) == len(shown)
    assert metadata["pitchlens.kind"] == kind
    assert green > 0.3 and white > 2000  # the pitch and its lines


def test_a_clips_positions_show_each_player_once(clips_client: TestClient) -> None:
    pytest.importorskip("mplsoccer", reason="pictures need the `plots` extra")
    response = clips_client.get("/api/v1/clips/placed/plots/positions.png")
    assert response.status_code == 200, response.text
    metadata, _, _ = _png(response.content)
    assert response.headers["x-pitchlens-markers"] == metadata["pitchlens.markers"] == "2"
    assert metadata["pitchlens.kind"] == "positions"


@pytest.mark.parametrize(
    ("path", "status", "detail"),
    [
        (
            "/clips/raw/players/3/plots/path.png",
            409,
            "track 3 of clip raw has no positions in metres: not calibrated",
        ),
        ("/clips/raw/plots/positions.png", 409, "clip raw has no positions in metres: not calibrated"),
        ("/clips/pending/players/3/plots/heatmap.png", 409, "clip pending is DETECTED"),
        ("/clips/placed/players/99/plots/path.png", 404, "clip placed has no track 99"),
        ("/clips/nope/players/3/plots/path.png", 404, "nope"),
        ("/clips/placed/players/3/plots/positions.png", 422, None),
        ("/clips/placed/players/three/plots/path.png", 422, None),
    ],
)
def test_a_players_picture_is_refused_with_the_reason(
    clips_client: TestClient, path: str, status: int, detail: str | None
) -> None:
    response = clips_client.get(f"/api/v1{path}")
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    if detail:
        assert detail in response.json()["detail"]


def test_the_player_picture_routes_are_in_the_schema(clips_client: TestClient) -> None:
    paths = clips_client.get("/openapi.json").json()["paths"]
    route = paths["/api/v1/clips/{clip_id}/players/{track_id}/plots/{kind}.png"]["get"]
    [kind] = [p for p in route["parameters"] if p["name"] == "kind"]
    assert kind["schema"]["enum"] == ["path", "heatmap"]
    assert {"200", "404", "409", "503"} <= set(route["responses"])
    assert "/api/v1/clips/{clip_id}/plots/positions.png" in paths
