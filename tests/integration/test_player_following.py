"""Following one player through the shared clips: YOLO detection + BoT-SORT + PlayerFollower,
scored against hand-annotated positions (tests/data/follow_ground_truth.json).

Per annotated frame (every 10th frame of each player's range):
- success: the followed box overlaps the true one by IoU >= 0.5, or the frame is marked lost
  where the player is truly out of sight;
- miss: lost while the player is visible, a box while the player is out of sight, or IoU < 0.5;
- wrong player: a box (not lost) with IoU < 0.1 with the truth: we show somebody else.

The INT8 kernels OpenVINO picks differ by CPU family (AVX-512 VNNI / AMX on recent Intel, AVX2 on
AMD), so detections move slightly from one machine to another. The tracks are therefore computed
under two instruction sets, in child processes (`tests/clip_tracks.py`): the machine's own and
oneDNN capped at AVX2 (`ONEDNN_MAX_CPU_ISA=AVX2`, what an AVX2-only CPU runs), and every threshold
is asserted under each. Measured (OpenVINO 2026.4 YOLO11n INT8, f32 for its floating-point layers;
the tracking default since December 2026: the whole frame in one view at 1152 px, every second
frame of these 25/30 fps clips detected and tracked, the rest interpolated; BoT-SORT), identical on
both (AMD EPYC with AVX-512 VNNI natively, and AVX2), whole and split into 2.5-s and 3-s segments:

    player                      frames  native (AMD EPYC)  AVX2     lost while visible  wrong
    dfl-white-left                  18  1.00               1.00     0 / 0               0 / 0
    dfl-white-centre-occluded       18  0.94               0.94     0 / 0               0 / 0
    dfl-green-right-cluster         18  0.89               0.89     2 / 2               0 / 0
    dfl-dark-left-exit              19  0.95               0.95     1 / 1               0 / 0
    laliga-white-10                 31  1.00               1.00     0 / 0               0 / 0
    laliga-red-17-exit              31  1.00               1.00     0 / 0               0 / 0
    laliga-red-8-crossing           31  1.00               1.00     0 / 0               0 / 0
    all                            166  0.98               0.98     3 / 3               0 / 0

With the previous default (2 tiles + the whole frame at 640 px on every frame), identical on both
(and again, player for player, with tiles only where people are small and frames decoded at the
network's size):

    player                      frames  native (AMX Xeon)  AVX2     lost while visible  wrong
    dfl-white-left                  18  1.00               1.00     0 / 0               0 / 0
    dfl-white-centre-occluded       18  0.94               0.94     0 / 0               0 / 0
    dfl-green-right-cluster         18  0.94               0.94     1 / 1               0 / 0
    dfl-dark-left-exit              19  0.95               0.95     1 / 1               0 / 0
    laliga-white-10                 31  1.00               1.00     0 / 0               0 / 0
    laliga-red-17-exit              31  1.00               1.00     0 / 0               0 / 0
    laliga-red-8-crossing           31  1.00               1.00     0 / 0               0 / 0
    all                            166  0.98               0.98     2 / 2               0 / 0

AVX512_CORE (no VNNI), AVX512_CORE_VNNI and SSE41 give the same 0.98; so do detection thresholds
of 0.27 and 0.33 under both instruction sets (0.99 at 0.27 under AVX2). Before the follower's fix
(December 2026) AVX2 scored 0.93: the green player was marked lost for 5 annotated frames
because a 3-frame track of somebody else, 34 frames later, scored within the ambiguity margin of
the true continuation (a weaker candidate that only turns up while the best one is still seen no
longer vetoes it); and red 17 scored 0.87 everywhere because the detector alternated between a box
on him and a wider one on him and a teammate (a track that was on him all along may now take
over). The misses left are honest ones: a player merged with another in one box at frame 0, one
not detected on his last frame before leaving the picture, a box covering two players in an
occlusion. With ByteTrack instead: 0.93 under both, also no wrong-player frame.
Asserted under each instruction set: >= 0.95 overall, >= 0.85 per player, no wrong-player frame;
and the same clip tracked twice gives the same tracks and the same Parquet bytes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from pitchlens.domain.errors import PlayerNotTracked
from pitchlens.domain.following import PlayerFollower
from pitchlens.domain.vision import BoundingBox, TrackingFrame
from tests.clip_tracks import INSTRUCTION_SETS, SEGMENT_SECONDS, TracksOf

# The first test of each instruction set tracks every annotated range in a child process, whole
# and split into segments (minutes on 2 cores): the timeout covers that set-up, not one test.
pytestmark = [pytest.mark.integration, pytest.mark.timeout(1200)]

GROUND_TRUTH = Path(__file__).resolve().parents[1] / "data" / "follow_ground_truth.json"
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


@pytest.fixture(scope="session")
def ground_truth() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(GROUND_TRUTH.read_text())
    return data


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


def follow_all(
    isa: str,
    ground_truth: dict[str, Any],
    clip_tracks: TracksOf,
    shared_data: Path,
    seconds: float | None = None,
) -> list[Score]:
    """Every annotated player followed from the chosen box through the range's tracks (whole, or
    split into segments of `seconds` and stitched), scored against the truth."""
    from pitchlens.infrastructure.vision.appearance import ColorHistogramAppearance
    from pitchlens.infrastructure.vision.video import PyAVVideoReader

    reader = PyAVVideoReader()
    encoders: dict[str, ColorHistogramAppearance] = {}
    scores = []
    for player in ground_truth["players"]:
        clip = player["clip"]
        tracks = clip_tracks(isa, clip, *player["frames"], seconds=seconds)
        appearance = encoders.setdefault(
            clip, ColorHistogramAppearance(reader, str(shared_data / "video" / clip))
        )
        followed = PlayerFollower().execute(
            tracks, appearance, BoundingBox(*player["chosen_box"]), player["chosen_frame"]
        )
        assert [f.frame_index for f in followed] == [t.frame_index for t in tracks]
        scores.append(score(player, followed))
    return scores


def overall(scores: list[Score]) -> float:
    return sum(s.successes for s in scores) / sum(s.annotated for s in scores)


@pytest.mark.parametrize("isa", list(INSTRUCTION_SETS))
def test_following_the_annotated_players(
    isa: str, ground_truth: dict[str, Any], clip_tracks: TracksOf, shared_data: Path
) -> None:
    scores = follow_all(isa, ground_truth, clip_tracks, shared_data)
    report = f"instruction set: {isa}\n" + table(scores)
    print("\n" + report)
    assert sum(s.wrong for s in scores) == 0, report
    assert overall(scores) >= MIN_SUCCESS, report
    assert all(s.success >= MIN_PLAYER_SUCCESS for s in scores), report


@pytest.mark.parametrize("seconds", SEGMENT_SECONDS)
@pytest.mark.parametrize("isa", list(INSTRUCTION_SETS))
def test_identity_holds_across_segment_boundaries(
    isa: str, seconds: float, ground_truth: dict[str, Any], clip_tracks: TracksOf, shared_data: Path
) -> None:
    """The ranges split into segments of 2.5 or 3 s (3-5 boundaries each), tracked apart and
    stitched: following succeeds within 0.02 of the whole range's, the clip has within 10 % of
    the whole range's track ids, and no frame shows somebody else."""
    whole = follow_all(isa, ground_truth, clip_tracks, shared_data)
    split = follow_all(isa, ground_truth, clip_tracks, shared_data, seconds)
    report = f"instruction set: {isa}, segments of {seconds} s\n{table(split)}\nwhole:\n{table(whole)}"
    ids = {}
    for clip, first, last in sorted({(p["clip"], *p["frames"]) for p in ground_truth["players"]}):
        counts = [
            len({int(i) for f in clip_tracks(isa, clip, first, last, seconds=s) for i in f.track_ids})
            for s in (None, seconds)
        ]
        ids[clip] = counts
        report += f"\n{clip} {first}..{last}: {counts[0]} track ids whole, {counts[1]} split"
    print("\n" + report)
    assert sum(s.wrong for s in split) == 0, report
    assert overall(split) >= overall(whole) - 0.02, report
    assert all(abs(split_ids - whole_ids) <= 0.10 * whole_ids for whole_ids, split_ids in ids.values()), (
        report
    )


def test_the_same_clip_tracks_the_same_twice(ground_truth: dict[str, Any], clip_tracks: TracksOf) -> None:
    """Same input, same machine: the same tracks, and the same trajectories Parquet, byte for byte."""
    from pitchlens.infrastructure.storage.trajectories import encode_parquet, trajectory_table

    clip, first, last = ground_truth["players"][0]["clip"], *ground_truth["players"][0]["frames"]
    once = clip_tracks("native", clip, first, last)
    again = clip_tracks("native", clip, first, last, fresh=True)

    assert again == once
    files = [encode_parquet(trajectory_table("m", "c", 25.0, t)).to_pybytes() for t in (once, again)]
    assert files[0] == files[1]


def test_a_box_on_empty_grass_is_refused(ground_truth: dict[str, Any], clip_tracks: TracksOf) -> None:
    from pitchlens.infrastructure.vision.appearance import ColorHistogramAppearance
    from pitchlens.infrastructure.vision.video import PyAVVideoReader

    player = ground_truth["players"][0]
    tracks = clip_tracks("native", player["clip"], *player["frames"])
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
