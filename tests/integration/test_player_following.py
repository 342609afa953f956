"""Following one player through the shared clips: YOLO detection + BoT-SORT + PlayerFollower,
scored against hand-annotated positions (tests/data/follow_ground_truth.json).

Per annotated frame (every 10th frame of each player's range):
- success: the followed box overlaps the true one by IoU >= 0.5, or the frame is marked lost
  where the player is truly out of sight;
- miss: lost while the player is visible, a box while the player is out of sight, or IoU < 0.5;
- wrong player: a box (not lost) with IoU < 0.1 with the truth: we show somebody else.

Measured (OpenVINO YOLO11n INT8; 2 tiles, the tracking default; BoT-SORT): success 160/166 = 0.96
over 7 players, no wrong-player frame. The misses are honest ones: a player merged with another in
one box at frame 0, one not detected on his last frame before leaving the picture, a box covering
two players in an occlusion, and a player marked lost for four annotated frames while a duplicate
track covered him (with whole-frame inference on the broadcast clip that player scores 1.00, but
most small players of the wide DFL shot are not tracked at all). With ByteTrack instead: 0.93-0.97,
also no wrong-player frame. Asserted: >= 0.95 overall, >= 0.85 per player, no wrong-player frame.
"""

from __future__ import annotations

import itertools
import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from pitchlens.application.player_follower import PlayerFollower
from pitchlens.domain.errors import PlayerNotTracked
from pitchlens.domain.vision import BoundingBox, FrameTracks, TrackingFrame

pytestmark = pytest.mark.integration

GROUND_TRUTH = Path(__file__).resolve().parents[1] / "data" / "follow_ground_truth.json"
TILES = {"dfl_08fd33_4_848x478.mp4": 2, "laliga_rma_sev_broadcast_720p.mp4": 2}
"""Detector tiles per clip, as the track function runs by default (PITCHLENS_TRACKING_TILES=2): the
wide DFL shot needs tiles for its 10-30 px players."""
BATCH = 8
MIN_SUCCESS = 0.95
MIN_PLAYER_SUCCESS = 0.85


@dataclass(frozen=True, slots=True)
class Score:
    player: str
    annotated: int
    successes: int
    wrong: int
    lost_visible: int

    @property
    def success(self) -> float:
        return self.successes / self.annotated


TracksOf = Callable[[str, int, int], list[FrameTracks]]


@pytest.fixture(scope="session")
def ground_truth() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(GROUND_TRUTH.read_text())
    return data


@pytest.fixture(scope="session")
def clip_tracks(shared_data: Path) -> Iterator[TracksOf]:
    """Tracks of a clip's frame range (detection + BoT-SORT), computed once per test session."""
    pytest.importorskip("openvino", reason="needs the `vision` extra")
    pytest.importorskip("ultralytics", reason="needs the `vision` extra")
    model = shared_data.parent / "models" / "yolo11n_int8_openvino_model"
    if not model.is_dir():
        pytest.skip(f"the shared YOLO model is not at {model}")
    os.environ.setdefault("YOLO_OFFLINE", "1")
    from pitchlens.application.clip_tracker import track_frames
    from pitchlens.infrastructure.vision.detection import YoloDetectionModel
    from pitchlens.infrastructure.vision.tracking import create_tracker
    from pitchlens.infrastructure.vision.video import PyAVVideoReader

    reader = PyAVVideoReader()
    models: dict[int, YoloDetectionModel] = {}
    cache: dict[tuple[str, int, int], list[FrameTracks]] = {}

    def tracks(clip: str, first: int, last: int) -> list[FrameTracks]:
        if (clip, first, last) in cache:
            return cache[(clip, first, last)]
        tiles = TILES[clip]
        detector = models.setdefault(tiles, YoloDetectionModel(str(model), device="cpu", tiles=tiles))
        path = str(shared_data / "video" / clip)
        tracker = create_tracker("botsort", reader.probe(path).fps)
        began = time.perf_counter()
        in_range = itertools.takewhile(
            lambda frame: frame[0] <= last,
            itertools.dropwhile(lambda frame: frame[0] < first, reader.frames(path)),
        )
        found = track_frames(in_range, detector, tracker, BATCH)
        print(f"\n{clip} frames {first}-{last}: detected and tracked in {time.perf_counter() - began:.1f} s")
        cache[(clip, first, last)] = found
        return found

    yield tracks


def score(player: dict[str, Any], followed: list[TrackingFrame]) -> Score:
    by_frame = {frame.frame_index: frame for frame in followed}
    successes = wrong = lost_visible = 0
    for frame, truth in player["truth"].items():
        ours = by_frame[int(frame)]
        if truth is None:
            successes += ours.lost
            continue
        if ours.lost or ours.box is None:
            lost_visible += 1
            continue
        overlap = ours.box.iou(BoundingBox(*truth))
        successes += overlap >= 0.5
        wrong += overlap < 0.1
    return Score(player["player"], len(player["truth"]), successes, wrong, lost_visible)


def table(scores: list[Score]) -> str:
    lines = [f"{'player':28} {'frames':>6} {'success':>8} {'lost*':>6} {'wrong':>6}"]
    for s in scores:
        lines.append(f"{s.player:28} {s.annotated:6d} {s.success:8.2f} {s.lost_visible:6d} {s.wrong:6d}")
    annotated = sum(s.annotated for s in scores)
    successes = sum(s.successes for s in scores)
    lines.append(
        f"{'all':28} {annotated:6d} {successes / annotated:8.2f} "
        f"{sum(s.lost_visible for s in scores):6d} {sum(s.wrong for s in scores):6d}"
    )
    lines.append("lost* = marked lost while visible; wrong = a box on somebody else (IoU < 0.1)")
    return "\n".join(lines)


def test_following_the_annotated_players(
    ground_truth: dict[str, Any], clip_tracks: TracksOf, shared_data: Path
) -> None:
    from pitchlens.infrastructure.vision.appearance import ColorHistogramAppearance
    from pitchlens.infrastructure.vision.video import PyAVVideoReader

    reader = PyAVVideoReader()
    encoders: dict[str, ColorHistogramAppearance] = {}
    scores = []
    for player in ground_truth["players"]:
        clip = player["clip"]
        tracks = clip_tracks(clip, *player["frames"])
        appearance = encoders.setdefault(
            clip, ColorHistogramAppearance(reader, str(shared_data / "video" / clip))
        )
        followed = PlayerFollower().execute(
            tracks, appearance, BoundingBox(*player["chosen_box"]), player["chosen_frame"]
        )
        assert [f.frame_index for f in followed] == [t.frame_index for t in tracks]
        scores.append(score(player, followed))

    report = table(scores)
    print("\n" + report)
    overall = sum(s.successes for s in scores) / sum(s.annotated for s in scores)
    assert sum(s.wrong for s in scores) == 0, report
    assert overall >= MIN_SUCCESS, report
    assert all(s.success >= MIN_PLAYER_SUCCESS for s in scores), report


def test_a_box_on_empty_grass_is_refused(ground_truth: dict[str, Any], clip_tracks: TracksOf) -> None:
    from pitchlens.infrastructure.vision.appearance import ColorHistogramAppearance
    from pitchlens.infrastructure.vision.video import PyAVVideoReader

    player = ground_truth["players"][0]
    tracks = clip_tracks(player["clip"], *player["frames"])
    grass = BoundingBox(200, 380, 220, 420)  # empty pitch in the first frames of the DFL clip

    with pytest.raises(PlayerNotTracked):
        PlayerFollower().execute(tracks, ColorHistogramAppearance(PyAVVideoReader(), "unused"), grass, 0)


@pytest.mark.parametrize("name", ["botsort", "bytetrack"])
def test_the_tracker_links_our_detections_into_stable_tracks(name: str) -> None:
    np = pytest.importorskip("numpy")
    pytest.importorskip("ultralytics", reason="needs the `vision` extra")
    from pitchlens.domain.vision import FrameDetections
    from pitchlens.infrastructure.vision.tracking import create_tracker

    tracker = create_tracker(name, fps=25.0)
    image = np.full((240, 320, 3), (40, 140, 60), np.uint8)
    frames = []
    for index in range(20):
        x = 20.0 + 3 * index
        people = [[x, 50, x + 12, 80], [x + 100, 120, x + 112, 150]]
        ball = [[200, 200, 206, 206]]
        frames.append(
            tracker.update(FrameDetections(index, people + ball, [0.9, 0.8, 0.9], [0, 0, 32]), image)
        )
    empty = tracker.update(FrameDetections(20, [], [], []), image)

    ids = [tuple(int(i) for i in frame.track_ids) for frame in frames[1:]]
    assert len(set(ids)) == 1 and len(ids[0]) == 2  # two people, same ids throughout, no ball
    last = frames[-1]
    assert [frame.frame_index for frame in frames] == list(range(20))
    assert np.allclose(sorted(np.asarray(last.boxes)[:, 0]), [77, 177], atol=1.5)
    assert len(empty) == 0 and empty.frame_index == 20


def test_an_unknown_tracker_is_refused() -> None:
    pytest.importorskip("ultralytics", reason="needs the `vision` extra")
    from pitchlens.infrastructure.vision.tracking import create_tracker

    with pytest.raises(ValueError, match="unknown tracker"):
        create_tracker("deepsort", fps=25.0)
