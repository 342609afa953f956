"""`BroadcastPitchCamera`: the `PitchCamera` of broadcast football, with OpenCV.

Per frame (`observe`), on a greyscale copy at most `MOTION_WIDTH` wide:
- camera motion: corners of the previous frame away from the people (`goodFeaturesToTrack`,
  people's boxes masked), followed into this frame by pyramidal Lucas-Kanade optical flow, and the
  homography between the two point sets by RANSAC. A broadcast camera pans and zooms about a
  fixed point, so one homography relates two frames whatever the depth (stands included);
  players move on their own, which is why their boxes are masked;
- shot changes: the frame `WINDOW` frames back, warped by the chained motion since, compared with
  this one (normalised cross-correlation of the greyscale pictures). Within a shot the motion
  explains the change (measured on the shared clips: >= 0.78); across a cut or a dissolve it
  cannot (the LaLiga clip's dissolve: 0.20). `cuts` puts a cut in every run of frames below
  `CUT_CORRELATION`, at the frame whose own step correlates worst;
- the pitch lines in view (`pitch_lines.line_pixels`), kept for `reanchor` and `calibrate`
  (which hands them to the `calibrator` given, e.g. `auto_calibration.calibrate_from_lines`).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from typing import Any

import cv2
import numpy as np

from pitchlens.domain.camera import CameraView, PitchCamera
from pitchlens.domain.pitch import Homography
from pitchlens.infrastructure.vision import pitch_lines

MOTION_WIDTH = 640
MAX_CORNERS = 300
RANSAC_PX = 1.0
MIN_TRACKED = 12
WINDOW = 10
"""Frames between the two pictures compared for a shot change (a dissolve lasts ~10 frames)."""
CUT_CORRELATION = 0.5
CORRELATION_WIDTH = 320
MAX_REANCHOR_ERROR_PX = 3.0
"""A re-anchored fit whose matched points lie further than this from their lines (median) is
not taken: the lines matched are probably not the ones the model says."""


class BroadcastPitchCamera(PitchCamera):
    def __init__(self, calibrator: Any | None = None, lines: bool = True) -> None:
        """`lines=False` keeps no pitch lines (cuts and motion only, a third of the cost): nothing
        can then be re-anchored or calibrated automatically."""
        self._lines = lines
        self._previous: np.ndarray | None = None
        self._previous_boxes: np.ndarray = np.zeros((0, 4), np.float32)
        self._history: deque[tuple[np.ndarray, np.ndarray | None]] = deque(maxlen=WINDOW + 1)
        self._frames: list[int] = []
        self._step_correlation: list[float] = []
        self._window_correlation: list[float] = []
        self._calibrator = calibrator

    def observe(self, frame_index: int, image: Any, boxes: Sequence[Sequence[float]]) -> CameraView:
        frame = np.asarray(image)
        height, width = frame.shape[:2]
        people = np.asarray(boxes, np.float32).reshape(-1, 4)
        scale = min(1.0, MOTION_WIDTH / width)
        grey = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
        if scale < 1.0:
            grey = cv2.resize(grey, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        small_motion = None
        if self._previous is not None:
            small_motion = _motion(self._previous, grey, self._previous_boxes * scale)
        self._history.append((grey, small_motion))
        self._record_continuity(frame_index)
        self._previous, self._previous_boxes = grey, people
        motion = None
        if small_motion is not None:
            to_small = np.diag([scale, scale, 1.0])
            full = np.linalg.inv(to_small) @ small_motion @ to_small
            motion = Homography.of(full.ravel().tolist())
        lines = np.zeros((0, 3), np.int16)
        if self._lines:
            region = pitch_lines.grass_region(frame)
            lines = pitch_lines.line_pixels(frame, people, region).astype(np.int16)
        return CameraView(frame_index, width, height, motion, lines)

    def _record_continuity(self, frame_index: int) -> None:
        self._frames.append(frame_index)
        history = list(self._history)
        self._step_correlation.append(_compensated_correlation(history[-2:]) if len(history) > 1 else 1.0)
        self._window_correlation.append(_compensated_correlation(history) if len(history) > WINDOW else 1.0)

    def cuts(self) -> list[int]:
        window = np.asarray(self._window_correlation)
        step = np.asarray(self._step_correlation)
        low = window < CUT_CORRELATION
        cuts: list[int] = []
        position = 0
        while position < len(low):
            if not low[position]:
                position += 1
                continue
            end = position
            while end + 1 < len(low) and low[end + 1]:
                end += 1
            start = max(1, position - WINDOW + 1)
            worst = start + int(np.argmin(step[start : end + 1]))
            if not cuts or self._frames[worst] > cuts[-1]:
                cuts.append(self._frames[worst])
            position = end + 1
        return cuts

    def reanchor(self, view: CameraView, guess: Homography) -> Homography | None:
        points = np.asarray(view.lines, np.int32).reshape(-1, 3)
        if len(points) < pitch_lines.MIN_MATCHED_POINTS:
            return None
        field = pitch_lines.LineField.of(points, view.width, view.height)
        fit = pitch_lines.refine(pitch_lines.as_array(guess.matrix), field)
        if fit is None or fit.error_px > MAX_REANCHOR_ERROR_PX:
            return None
        return Homography.of(fit.homography.ravel().tolist())

    def calibrate(self, view: CameraView) -> Homography | None:
        if self._calibrator is None:
            return None
        found = self._calibrator(view)
        return None if found is None else Homography.of(np.asarray(found).ravel().tolist())


def _motion(previous: np.ndarray, current: np.ndarray, boxes: np.ndarray) -> np.ndarray | None:
    """Homography mapping `current`'s pixels onto `previous`'s; None when too little was tracked."""
    mask = np.full(previous.shape, 255, np.uint8)
    for x1, y1, x2, y2 in boxes:
        cv2.rectangle(mask, (int(x1) - 3, int(y1) - 3), (int(x2) + 3, int(y2) + 3), 0, -1)
    corners = cv2.goodFeaturesToTrack(previous, MAX_CORNERS, 0.01, 6, mask=mask)
    if corners is None or len(corners) < MIN_TRACKED:
        return None
    unset: Any = None  # OpenCV allocates the output (its typing stubs want an array)
    found, status, _ = cv2.calcOpticalFlowPyrLK(
        previous, current, corners, unset, winSize=(15, 15), maxLevel=2
    )
    tracked = status.ravel() == 1
    if tracked.sum() < MIN_TRACKED:
        return None
    homography, _ = cv2.findHomography(found[tracked], corners[tracked], cv2.RANSAC, RANSAC_PX)
    if homography is None or not np.all(np.isfinite(homography)):
        return None
    return np.asarray(homography / homography[2, 2], np.float64)


def _compensated_correlation(history: list[tuple[np.ndarray, np.ndarray | None]]) -> float:
    """Normalised cross-correlation of the newest picture with the oldest, warped onto it by the
    motion chained between them; 0 when a motion in between is unknown."""
    chain = np.eye(3)
    for _, motion in history[1:]:
        if motion is None:
            return 0.0
        chain = chain @ motion  # newest -> oldest
    oldest, newest = history[0][0], history[-1][0]
    factor = CORRELATION_WIDTH / oldest.shape[1]
    if factor < 1.0:
        oldest = cv2.resize(oldest, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA)
        newest = cv2.resize(newest, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA)
        scale = np.diag([factor, factor, 1.0])
        chain = scale @ chain @ np.linalg.inv(scale)
    size = (newest.shape[1], newest.shape[0])
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    warped = cv2.warpPerspective(oldest, chain, size, flags=flags)
    valid = cv2.warpPerspective(np.ones_like(oldest), chain, size, flags=flags) > 0
    if valid.sum() < 0.2 * valid.size:
        return 0.0
    a = warped[valid].astype(np.float64)
    b = newest[valid].astype(np.float64)
    a -= a.mean()
    b -= b.mean()
    denominator = np.sqrt((a * a).sum() * (b * b).sum())
    return float((a * b).sum() / denominator) if denominator > 0 else 0.0
