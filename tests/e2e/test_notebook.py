"""The analysts' way in, on a real embedded stack: the notebook API's example (the docstring of
`pitchlens.notebook`, run as doctests), the match handed to kloppy and compared with kloppy reading
the same StatsBomb files, and the CLI's exports, pictures and `status --env`.

One StatsBomb match is ingested; the clips' trajectories are written by the real trajectory store and
registered in the real database (processing a video would cost minutes and prove nothing more here)."""

from __future__ import annotations

import collections
import doctest
import io
import json
import re
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from pitchlens.domain.vision import Clip, ClipStatus, FrameTracks, VideoInfo
from pitchlens.infrastructure.bootstrap import Container
from pitchlens.infrastructure.storage.trajectories import trajectory_table
from tests.e2e.conftest import RunningStack

pytestmark = pytest.mark.e2e

MATCH = "3788741"
CLIPS = ("clip-notebook-a", "clip-notebook-b")
FRAMES = 50


@pytest.fixture(scope="module")
def ingested(running: RunningStack) -> dict[str, Any]:
    accepted = running.api.post("/api/v1/ingest", json={"source": "statsbomb", "match_id": MATCH}).json()
    job = running.job(job_id=accepted["job_id"])
    assert job["status"] == "SUCCEEDED", job
    return job


@pytest.fixture(scope="module")
def clips(running: RunningStack, ingested: dict[str, Any]) -> tuple[str, ...]:
    """Two clips of the match with three tracks over 50 frames each."""
    container = Container(running.settings)
    tracks = [
        FrameTracks(
            frame,
            [1, 2, 3],
            [[10.0 + frame, 20, 30 + frame, 80], [100, 20, 130, 90], [200, 40, 220, 100]],
            [0.9] * 3,
        )
        for frame in range(FRAMES)
    ]
    for clip_id in CLIPS:
        stored = container.trajectories.save(MATCH, clip_id, trajectory_table(MATCH, clip_id, 25.0, tracks))
        now = datetime.now(UTC)
        with container.unit_of_work() as uow:
            uow.clips.add(
                Clip(
                    clip_id,
                    MATCH,
                    f"s3://videos/{MATCH}/{clip_id}.mp4",
                    ClipStatus.PERSISTED,
                    now,
                    now,
                    trajectories_uri=stored.uri,
                    trajectory_rows=stored.rows,
                    schema_version=stored.schema_version,
                )
            )
            uow.commit()
    return CLIPS


def test_the_notebook_example_runs(clips: tuple[str, ...]) -> None:
    import pitchlens.notebook

    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    for test in doctest.DocTestFinder().find(pitchlens.notebook, globs={"CLIP": clips[0]}):
        runner.run(test)
    results = runner.summarize(verbose=False)
    assert results.failed == 0 and results.attempted >= 8, results


def test_three_lines_to_events_and_trajectories(clips: tuple[str, ...]) -> None:
    import polars as pl

    import pitchlens

    lens = pitchlens.connect()
    events = lens.events(MATCH)
    tracks = lens.trajectories(MATCH)
    assert events.height == 3803 and events["player_name"].null_count() < events.height
    assert tracks.height == len(CLIPS) * FRAMES * 3 and set(tracks["clip_id"]) == set(CLIPS)
    # Lazily: the filter goes into the scan.
    one_track = lens.trajectories(clip_id=clips[1], lazy=True).filter(pl.col("track_id") == 2).collect()
    assert one_track.height == FRAMES and set(one_track["clip_id"]) == {clips[1]}
    assert events.to_pandas().shape == events.shape
    players = lens.players(MATCH)
    assert players.height == 46 and players.filter(pl.col("starting")).height == 22
    assert lens.matches()["match_id"].to_list() == [MATCH]
    shots = lens.events(MATCH, types="shot", team="ital")
    assert shots.height > 0 and set(shots["team_name"]) == {"Italy"}
    figure = lens.plot(MATCH, "shots", team="Italy")
    assert figure.axes and shots.height == len(figure.axes[0].collections[-1].get_offsets())


# kloppy adds events of its own next to the ones they derive from, and reads some types its own way:
# these types' counts differ by design (see tests/integration/test_peer_kloppy.py for why).
KLOPPY_OWN_COUNTS = {"BALL_OUT", "CARD", "DUEL", "FORMATION_CHANGE", "GENERIC", "GOALKEEPER", "INTERCEPTION"}
KLOPPY_OWN_COUNTS |= {"RECOVERY", "CLEARANCE", "FOUL_COMMITTED"}
AXIS_TOLERANCE_M = 2.0  # kloppy bends StatsBomb's pitch through its markings; PitchLens scales it linearly


def test_to_kloppy_agrees_with_kloppy_reading_the_same_files(
    ingested: dict[str, Any], statsbomb_dir: Path
) -> None:
    from kloppy import statsbomb
    from kloppy.domain import Orientation, Provider

    import pitchlens

    ours = pitchlens.connect().to_kloppy(MATCH)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = statsbomb.load(
            event_data=str(statsbomb_dir / "data" / "events" / f"{MATCH}.json"),
            lineup_data=str(statsbomb_dir / "data" / "lineups" / f"{MATCH}.json"),
        )
    # kloppy's own conventions: its coordinate system and orientation.
    assert ours.metadata.coordinate_system.provider is Provider.KLOPPY
    assert ours.metadata.orientation is theirs.metadata.orientation is Orientation.ACTION_EXECUTING_TEAM
    assert [(t.team_id, t.name, t.ground) for t in ours.metadata.teams] == [
        (t.team_id, t.name, t.ground) for t in theirs.metadata.teams
    ]
    for mine, kloppys in zip(ours.metadata.teams, theirs.metadata.teams, strict=True):
        assert {(p.player_id, p.name, p.jersey_no, p.starting) for p in mine.players} == {
            (p.player_id, p.name, p.jersey_no, p.starting) for p in kloppys.players
        }
    assert [(p.id, p.start_timestamp, p.end_timestamp) for p in ours.metadata.periods] == [
        (p.id, p.start_timestamp, p.end_timestamp) for p in theirs.metadata.periods
    ]

    counts = collections.Counter(e.event_type.name for e in ours.events)
    kloppy_counts = collections.Counter(e.event_type.name for e in theirs.events)
    compared = (set(counts) | set(kloppy_counts)) - KLOPPY_OWN_COUNTS
    assert {t: counts[t] for t in compared} == {t: kloppy_counts[t] for t in compared}

    by_id = {e.event_id: e for e in theirs.events}
    pairs = [(e, by_id[e.event_id]) for e in ours.events if e.event_id in by_id]
    same_type = [(e, k) for e, k in pairs if e.event_type == k.event_type]
    assert len(same_type) > 3000
    # Results agree, except take-ons kloppy calls OUT when a ball-out follows (we keep INCOMPLETE).
    differing = [
        (e.event_type.name, e.result, k.result)
        for e, k in same_type
        if getattr(e, "result", None) != getattr(k, "result", None)
        and not (e.event_type.name == "TAKE_ON" and k.result is not None and k.result.name == "OUT")
    ]
    assert not differing
    far = [
        (e.event_id, e.coordinates, k.coordinates)
        for e, k in same_type
        if e.coordinates is not None
        and k.coordinates is not None
        and (
            abs(e.coordinates.x - k.coordinates.x) * 105 > AXIS_TOLERANCE_M
            or abs(e.coordinates.y - k.coordinates.y) * 68 > AXIS_TOLERANCE_M
        )
    ]
    assert not far, far[:5]


@pytest.fixture
def cli(running: RunningStack) -> Iterator[Any]:
    from pitchlens.runtime.cli import app

    runner = CliRunner()

    def invoke(*arguments: str) -> Any:
        result = runner.invoke(app, [*arguments, "--data-dir", running.info.data_dir])
        assert result.exit_code == 0, result.output
        return result

    yield invoke


def test_exports_write_every_row_in_each_format(cli: Any, clips: tuple[str, ...], tmp_path: Path) -> None:
    import pyarrow.csv as pa_csv

    parquet = tmp_path / "events.parquet"
    cli("export", "events", MATCH, "--format", "parquet", "--out", str(parquet))
    table = pq.read_table(parquet)
    assert table.num_rows == 3803 and "player_name" in table.column_names
    csv = tmp_path / "shots.csv"
    cli("export", "events", MATCH, "--format", "csv", "--type", "shot", "--out", str(csv))
    assert pa_csv.read_csv(csv).num_rows == table["type"].to_pylist().count("shot") > 0
    lines = tmp_path / "tracks.jsonl"
    cli("export", "trajectories", MATCH, "--format", "json", "--out", str(lines))
    rows = [json.loads(line) for line in lines.read_text().splitlines()]
    assert len(rows) == len(CLIPS) * FRAMES * 3 and {r["clip_id"] for r in rows} == set(CLIPS)
    one = tmp_path / "one.parquet"
    cli("export", "trajectories", MATCH, "--clip-id", clips[0], "--out", str(one), "--json")
    assert pq.read_table(one).num_rows == FRAMES * 3


def test_plot_command_writes_the_png_the_api_draws(cli: Any, tmp_path: Path) -> None:
    from PIL import Image

    target = tmp_path / "shots.png"
    result = cli("plot", "shots", MATCH, "--team", "Turkey", "--out", str(target), "--json")
    summary = json.loads(result.stdout)
    image = Image.open(io.BytesIO(target.read_bytes()))
    assert image.format == "PNG" and summary["markers"] == int(image.text["pitchlens.markers"]) > 0


PLACED_CLIP = "clip-notebook-placed"
PLACED_MATCH = "cli-plots"
"""Its own match: the exports above count the rows of MATCH's clips."""


@pytest.fixture(scope="module")
def placed_clip(running: RunningStack) -> str:
    """A calibrated clip: two players in metres over 50 frames (player 1, the left one, runs)."""
    container = Container(running.settings)
    tracks = [
        FrameTracks(
            frame,
            [5, 6],
            [[10.0, 20, 30, 80], [100, 20, 130, 90]],
            [0.9, 0.8],
            on_pitch=[True, True],
            teams=["white", "green"],
            pitch_xy=[[-20.0 + 0.3 * frame, 4.0], [10.0, -6.0]],
        )
        for frame in range(FRAMES)
    ]
    table = trajectory_table(PLACED_MATCH, PLACED_CLIP, 25.0, tracks)
    stored = container.trajectories.save(PLACED_MATCH, PLACED_CLIP, table)
    now = datetime.now(UTC)
    with container.unit_of_work() as uow:
        uow.clips.add(
            Clip(
                PLACED_CLIP, PLACED_MATCH, f"s3://videos/{PLACED_MATCH}/{PLACED_CLIP}.mp4",
                ClipStatus.PERSISTED, now, now,
                VideoInfo(200, 100, 25.0, FRAMES, FRAMES / 25.0, "h264"), trajectories_uri=stored.uri,
                trajectory_rows=stored.rows, schema_version=stored.schema_version,
            )
        )  # fmt: skip
        uow.commit()
    return PLACED_CLIP


def test_plot_command_draws_a_tracked_players_path_and_heatmap(
    cli: Any, running: RunningStack, clips: tuple[str, ...], placed_clip: str, tmp_path: Path
) -> None:
    from PIL import Image

    from pitchlens.runtime.cli import app

    path = tmp_path / "path.png"
    summary = json.loads(
        cli("plot", "path", "--clip-id", placed_clip, "--player", "1", "-o", str(path), "--json").stdout
    )
    image = Image.open(io.BytesIO(path.read_bytes()))
    assert (
        image.text["pitchlens.kind"] == "path"
        and summary["markers"] == int(image.text["pitchlens.markers"]) == FRAMES
    )
    heat = tmp_path / "heat.png"
    summary = json.loads(
        cli("plot", "heatmap", "--clip-id", placed_clip, "--track-id", "6", "-o", str(heat), "--json").stdout
    )
    assert summary["markers"] == int(Image.open(heat).text["pitchlens.markers"]) == FRAMES
    everyone = tmp_path / "positions.png"
    summary = json.loads(
        cli("plot", "positions", "--clip-id", placed_clip, "-o", str(everyone), "--json").stdout
    )
    assert summary["markers"] == 2

    runner = CliRunner()
    for arguments, problem in (
        (["plot", "path", "--clip-id", placed_clip, "--track-id", "99"], "no track 99"),
        (["plot", "path", "--clip-id", clips[0], "--track-id", "1"], "no video information"),
        (["plot", "path", "--clip-id", placed_clip], "give --player N"),
        (["plot", "shots", "--clip-id", placed_clip], "a clip's pictures are path, heatmap, positions"),
        (["plot", "path", MATCH], "a match's pictures are shots, passes, heatmap"),
    ):
        failed = runner.invoke(app, [*arguments, "--data-dir", running.info.data_dir])
        assert failed.exit_code == 1 and problem in " ".join(failed.output.split()), failed.output


def test_status_env_points_the_tools_at_the_stack(cli: Any, running: RunningStack) -> None:
    lines = cli("status", "--env").stdout.splitlines()
    exports = dict(line.removeprefix("export ").split("=", 1) for line in lines)
    assert exports["AWS_ENDPOINT_URL"] == running.info.s3_endpoint
    assert exports["AWS_ALLOW_HTTP"] == "true" and exports["AWS_ACCESS_KEY_ID"]
    assert exports["PITCHLENS_DATA_DIR"] == running.info.data_dir


def test_the_web_page_shows_a_stored_matchs_shot_map(running: RunningStack, ingested: dict[str, Any]) -> None:
    chromium = Path("/usr/bin/chromium")
    sync_api = pytest.importorskip("playwright.sync_api")
    if not chromium.is_file():
        pytest.skip(f"Chromium not found at {chromium}: apt-get install -y chromium")
    arguments = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]
    # The API's first picture imports matplotlib and mplsoccer (seconds on a busy machine): not the page's.
    warm = running.api.get(f"/api/v1/matches/{MATCH}/plots/shots.png", timeout=180)
    assert warm.status_code == 200, warm.text
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(chromium), args=arguments)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1400})
            page.goto(running.info.api_url + "/")
            shot_map = page.get_by_test_id("shot-map")
            sync_api.expect(page.get_by_test_id("matches-card")).to_be_visible(timeout=30_000)
            sync_api.expect(page.get_by_test_id("match-select")).to_contain_text("Turkey v Italy")
            page.wait_for_function(
                "() => { const i = document.querySelector('[data-testid=shot-map]');"
                " return i && i.complete && i.naturalWidth > 0; }",
                timeout=60_000,
            )
            assert shot_map.evaluate("image => image.naturalWidth") == 1050
            page.get_by_test_id("shot-team").select_option("Italy")
            sync_api.expect(shot_map).to_have_attribute("src", re.compile(r"team=Italy"))
            artifacts = Path(__file__).resolve().parents[2] / "test-artifacts" / "web"
            artifacts.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(artifacts / "match-shot-map.png"), full_page=True)
        finally:
            browser.close()
