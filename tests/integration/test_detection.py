"""`YoloDetectionModel` against the shared YOLO11n INT8 OpenVINO model, the shared broadcast clips and
the labelled football-players-detection frames; and the torchvision stand-in under ultralytics."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("cv2", reason="needs the `vision` extra (opencv-python-headless)")
pytest.importorskip("openvino", reason="needs the `vision` extra (openvino)")

import cv2

from pitchlens.infrastructure.settings import Settings
from pitchlens.infrastructure.vision.boxes import box_iou
from pitchlens.infrastructure.vision.detection import (
    DEFAULT_CONFIDENCE,
    DEFAULT_TILES,
    PERSON_CLASS_ID,
    YoloDetectionModel,
)
from pitchlens.infrastructure.vision.detection_evaluation import evaluate_detection

pytestmark = pytest.mark.integration

CLIPS = ("dfl_08fd33_4_848x478.mp4", "laliga_rma_sev_broadcast_720p.mp4")
LABELLED_FRAMES = Path("detection_gt/football-players-detection-1/valid")
MIN_RECALL = 0.80
MIN_PRECISION = 0.75


@pytest.fixture(scope="module", autouse=True)
def _offline_ultralytics() -> None:
    # ultralytics must never try to download (weights, fonts, settings sync) in tests.
    os.environ.setdefault("YOLO_OFFLINE", "1")


@pytest.fixture(scope="module")
def model_path(shared_data: Path) -> Path:
    path = shared_data.parent / "models" / "yolo11n_int8_openvino_model"
    if not (path / "yolo11n.xml").is_file():
        pytest.skip(f"shared YOLO model not found at {path}; see shared/data/SOURCES.md section 1")
    return path


@pytest.fixture(scope="module")
def detector(model_path: Path) -> YoloDetectionModel:
    """The detector with the defaults the platform ships (settings `detection_*`)."""
    return YoloDetectionModel(
        str(model_path), device="auto", confidence=DEFAULT_CONFIDENCE, tiles=DEFAULT_TILES
    )


def middle_frame(video: Path) -> np.ndarray:
    capture = cv2.VideoCapture(str(video))
    try:
        capture.set(cv2.CAP_PROP_POS_FRAMES, int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) // 2)
        ok, frame = capture.read()
    finally:
        capture.release()
    assert ok, f"could not decode a frame of {video}"
    return frame


@pytest.fixture(scope="module")
def clip_frames(shared_data: Path) -> dict[str, np.ndarray]:
    videos = {name: shared_data / "video" / name for name in CLIPS}
    missing = [str(path) for path in videos.values() if not path.is_file()]
    if missing:
        pytest.skip(f"shared clips not found: {', '.join(missing)}")
    return {name: middle_frame(path) for name, path in videos.items()}


@pytest.mark.parametrize("clip", CLIPS)
def test_finds_people_inside_a_frame_of_each_clip(
    detector: YoloDetectionModel, clip_frames: dict[str, np.ndarray], clip: str
) -> None:
    frame = clip_frames[clip]
    height, width = frame.shape[:2]

    [found] = detector.detect([frame], first_index=7)

    boxes = np.asarray(found.boxes)
    assert found.frame_index == 7
    assert isinstance(found.boxes, np.ndarray) and isinstance(found.confidences, np.ndarray)
    assert boxes.shape == (len(found), 4)
    assert len(found) >= 8, f"only {len(found)} people on a wide shot of {clip}"
    assert (boxes[:, 0] >= 0).all() and (boxes[:, 1] >= 0).all()
    assert (boxes[:, 2] <= width).all() and (boxes[:, 3] <= height).all()
    assert (boxes[:, 2] > boxes[:, 0]).all() and (boxes[:, 3] > boxes[:, 1]).all()
    assert set(np.asarray(found.class_ids).tolist()) == {PERSON_CLASS_ID}
    assert (np.asarray(found.confidences) >= DEFAULT_CONFIDENCE).all()


def test_recall_and_precision_on_labelled_frames(detector: YoloDetectionModel, shared_data: Path) -> None:
    """Goalkeepers, players and referees (not the ball) of 49 frames, as Roboflow exported them:
    stretched from 16:9 to 1280x1280. The detector sees the stretched frames as they are."""
    folder = shared_data / LABELLED_FRAMES
    if not (folder / "images").is_dir():
        pytest.skip(f"labelled frames not found at {folder}")

    score = evaluate_detection(detector, folder)

    print(f"\ntiles={detector.tiles} conf={detector.confidence}: {score}")
    assert score.images == 49
    assert score.recall >= MIN_RECALL, str(score)
    assert score.precision >= MIN_PRECISION, str(score)


def test_one_view_at_1152_px_sees_more_of_the_labelled_people_than_the_tiles(
    detector: YoloDetectionModel, model_path: Path, shared_data: Path
) -> None:
    """The track function's detector (`for_tracking`) with the whole frame in one view at 1152 px
    (PITCHLENS_TRACKING_TILES=1, PITCHLENS_TRACKING_INPUT_SIZE=1152) on the labelled frames
    unstretched to 16:9 at 1152 x 648, the size the track function decodes a 1080p broadcast at:
    at least the recall of 2 tiles + the whole frame at 640 px (measured 0.855 against 0.815,
    precision 0.773 against 0.781), at a quarter fewer network pixels per frame."""
    folder = shared_data / LABELLED_FRAMES
    if not (folder / "images").is_dir():
        pytest.skip(f"labelled frames not found at {folder}")
    settings = Settings(model=str(model_path), device="cpu", tracking_tiles=1, tracking_input_size=1152)
    tracking = YoloDetectionModel.for_tracking(settings)
    assert (tracking.tiles, tracking.frame_size(1920, 1080)) == (1, (1152, 648))

    one_view = evaluate_detection(tracking, folder, resize=(1152, 648))
    tiled = evaluate_detection(detector, folder, resize=(1152, 648))

    print(f"\none view at 1152: {one_view}\n2 tiles + whole frame at 640: {tiled}")
    assert tracking.input_shapes == [(704, 1152)]
    assert one_view.recall >= max(MIN_RECALL, tiled.recall), f"{one_view} against {tiled}"
    assert one_view.precision >= MIN_PRECISION, str(one_view)


def test_an_input_size_off_the_stride_is_refused(model_path: Path) -> None:
    with pytest.raises(ValueError, match="multiple of 32"):
        YoloDetectionModel(str(model_path), device="cpu", input_size=1000)


def test_a_frame_without_people_has_no_detections(detector: YoloDetectionModel) -> None:
    grass = np.zeros((720, 1280, 3), np.uint8)
    grass[:] = (40, 140, 50)  # BGR pitch green

    [found] = detector.detect([grass])

    assert len(found) == 0
    assert np.asarray(found.boxes).shape == (0, 4)
    assert len(found.class_ids) == 0


def test_a_batch_gives_one_result_per_frame_in_order(
    model_path: Path, detector: YoloDetectionModel, clip_frames: dict[str, np.ndarray]
) -> None:
    small, wide = clip_frames[CLIPS[0]], clip_frames[CLIPS[1]]
    empty = np.full((300, 400, 3), 128, np.uint8)
    frames = [small, empty, wide, small, wide]
    # batch=2 splits the 5 frames over three runtime calls, the last one short.
    batched = YoloDetectionModel(
        str(model_path), device="cpu", confidence=DEFAULT_CONFIDENCE, tiles=2, batch=2
    )

    results = batched.detect(frames, first_index=40)
    one_by_one = [detector.detect([frame], first_index=40 + i)[0] for i, frame in enumerate(frames)]

    assert [r.frame_index for r in results] == [40, 41, 42, 43, 44]
    assert len(results[1]) == 0
    for got, alone in zip(results, one_by_one, strict=True):
        assert got.frame_index == alone.frame_index
        np.testing.assert_allclose(np.asarray(got.boxes), np.asarray(alone.boxes), atol=1e-3)
    assert batched.detect([]) == []


def test_from_settings_on_auto_device_without_gpu_warns_once(
    model_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import openvino

    from pitchlens.infrastructure.settings import Settings

    if any(name.startswith("GPU") for name in openvino.Core().available_devices):
        pytest.skip("OpenVINO sees a GPU here")
    settings = Settings(
        model=str(model_path), device="auto", detection_confidence=0.4, detection_tiles=3, detection_batch=4
    )
    with caplog.at_level(logging.WARNING, logger="pitchlens.infrastructure.vision.detection"):
        model = YoloDetectionModel.from_settings(settings)
        model.detect([np.zeros((64, 64, 3), np.uint8)] * 3)

    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "no GPU" in warnings[0].getMessage()
    assert (model.runtime_name, model.device, model.confidence, model.tiles, model.batch) == (
        "openvino",
        "CPU",
        0.4,
        3,
        4,
    )


def test_missing_model_folder_is_named(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="nowhere"):
        YoloDetectionModel(str(tmp_path / "nowhere.onnx"))


def test_torchvision_stand_in_lets_ultralytics_predict(
    model_path: Path, clip_frames: dict[str, np.ndarray]
) -> None:
    """The path the tracking baseline takes: ultralytics' own predictor over the OpenVINO export."""
    pytest.importorskip("ultralytics", reason="needs the `vision` extra (ultralytics)")
    from pitchlens.infrastructure.vision.torchvision_compat import ensure_torchvision, is_stand_in_installed

    real = ensure_torchvision()
    import torchvision
    from ultralytics import YOLO

    assert real != is_stand_in_installed()
    assert callable(torchvision.ops.nms)
    [result] = YOLO(str(model_path), task="detect").predict(
        clip_frames[CLIPS[1]], classes=[PERSON_CLASS_ID], verbose=False
    )
    assert len(result.boxes) >= 5
    assert set(result.boxes.cls.tolist()) == {float(PERSON_CLASS_ID)}


def test_stand_in_nms_matches_ultralytics_own() -> None:
    torch = pytest.importorskip("torch")
    pytest.importorskip("ultralytics")
    from ultralytics.utils.nms import TorchNMS

    from pitchlens.infrastructure.vision import torchvision_compat

    generator = torch.Generator().manual_seed(0)
    corners = torch.rand(200, 2, generator=generator) * 500
    boxes = torch.cat([corners, corners + 20 + torch.rand(200, 2, generator=generator) * 60], dim=1)
    scores = torch.rand(200, generator=generator)
    categories = torch.randint(0, 3, (200,), generator=generator)

    kept = torchvision_compat._nms(boxes, scores, 0.5)
    per_category = torchvision_compat._batched_nms(boxes, scores, categories, 0.5)

    assert torch.equal(kept, TorchNMS.nms(boxes, scores, 0.5))
    for category in range(3):
        mine = per_category[categories[per_category] == category]
        indexes = torch.nonzero(categories == category).squeeze(1)
        expected = indexes[TorchNMS.nms(boxes[indexes], scores[indexes], 0.5)]
        assert sorted(mine.tolist()) == sorted(expected.tolist())


def test_a_pt_model_runs_through_ultralytics(tmp_path: Path, clip_frames: dict[str, np.ndarray]) -> None:
    """No real `.pt` weights are available offline: a randomly initialised YOLO11n (built from the yaml
    ultralytics ships) checks the ultralytics path end to end; it finds nobody, but in order."""
    pytest.importorskip("ultralytics", reason="needs the `vision` extra (ultralytics)")
    from pitchlens.infrastructure.vision.torchvision_compat import ensure_torchvision

    ensure_torchvision()
    from ultralytics import YOLO

    weights = tmp_path / "random_yolo11n.pt"
    YOLO("yolo11n.yaml", task="detect").save(str(weights))

    model = YoloDetectionModel(str(weights), device="cpu", tiles=2, batch=3)
    results = model.detect([clip_frames[CLIPS[0]], clip_frames[CLIPS[1]]], first_index=3)

    assert model.runtime_name == "ultralytics"
    assert [r.frame_index for r in results] == [3, 4]
    for found in results:
        assert np.asarray(found.boxes).reshape(-1, 4).shape[0] == len(found) == len(found.class_ids)


@pytest.mark.parametrize("clip", CLIPS)
def test_a_rectangular_input_finds_what_the_square_one_finds(
    model_path: Path, clip_frames: dict[str, np.ndarray], clip: str
) -> None:
    """The 16:9 frame letterboxed into 640 x 416 (the static export reshaped) instead of 640 x 640:
    the same people, the same boxes, for 35 % less network input."""
    frame = clip_frames[clip]
    rectangular = YoloDetectionModel(str(model_path), device="cpu", tiles=1)
    square = YoloDetectionModel(str(model_path), device="cpu", tiles=1, rectangular=False)

    [found] = rectangular.detect([frame])
    [reference] = square.detect([frame])

    assert rectangular.input_shapes == [(416, 640)]
    assert square.input_shapes == [(640, 640)]
    assert abs(len(found) - len(reference)) <= 1, (len(found), len(reference))
    confident = np.asarray(reference.confidences) >= 0.4
    overlaps = box_iou(np.asarray(reference.boxes)[confident], np.asarray(found.boxes)).max(axis=1)
    assert confident.sum() >= 5
    assert (overlaps >= 0.85).all(), overlaps


def test_a_static_model_that_is_not_a_yolo_graph_keeps_its_own_input(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import openvino as ov
    from openvino import opset13 as ops

    image = ops.parameter([1, 3, 128, 128], np.float32, name="images")
    weights = ops.constant(np.zeros((84, 3, 1, 1), np.float32))
    features = ops.convolution(image, weights, [1, 1], [0, 0], [0, 0], [1, 1])
    output = ops.reshape(features, ops.constant(np.array([1, 84, 128 * 128], np.int64)), special_zero=False)
    path = tmp_path / "not_yolo.xml"
    ov.save_model(ov.Model([output], [image], "not_yolo"), path)
    detector = YoloDetectionModel(str(path), device="cpu", tiles=1)

    with caplog.at_level(logging.WARNING, logger="pitchlens.infrastructure.vision.detection"):
        [found] = detector.detect([np.zeros((72, 256, 3), np.uint8)])  # would be 128 x 96

    assert len(found) == 0
    assert detector.input_shapes == [(128, 128)]
    assert "keeps its 128x128 input" in caplog.text and "not a YOLO detect head" in caplog.text


def test_a_model_with_dynamic_spatial_axes_is_reshaped_directly() -> None:
    import openvino as ov
    from openvino import opset13 as ops

    from pitchlens.infrastructure.vision.input_shapes import reshape_yolo

    image = ops.parameter([-1, 3, -1, -1], np.float32, name="images")
    weights = ops.constant(np.zeros((84, 3, 1, 1), np.float32))
    model = ov.Model([ops.convolution(image, weights, [1, 1], [0, 0], [0, 0], [1, 1])], [image], "dynamic")

    reshape_yolo(model, 416, 640, batch=4)

    assert model.input(0).get_partial_shape() == ov.PartialShape([4, 3, 416, 640])
    assert model.output(0).get_partial_shape() == ov.PartialShape([4, 84, 416, 640])
