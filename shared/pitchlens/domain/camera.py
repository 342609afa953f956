"""Following a broadcast camera through a clip: shots, camera motion, and an image-to-pitch
homography for every frame. Standard library only; the image work is behind `PitchCamera`.

A clip is cut into shots where the picture changes in a way no camera motion explains (a cut or
a dissolve to another camera, a replay). Within a shot the camera pans and zooms about a fixed
point, so consecutive frames are related by a homography (the adapter's motion estimate). A shot
gets its homography from an anchor (the frame the user calibrated, or else the automatic fit
of the line model on one of its frames) and carries it to every other frame of the shot, forwards
and backwards, by the camera motion, re-anchoring it on the pitch lines each frame where enough
of them are in view (so errors do not accumulate). A shot without an anchor has no homography:
its frames get none, and the reason says why. Nothing is carried across a cut.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from bisect import bisect_left
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pitchlens.domain.pitch import Homography, InvalidCalibration, check_unfolded


@dataclass(frozen=True, slots=True)
class CameraView:
    """What the camera adapter saw in one frame."""

    frame_index: int
    width: int
    height: int
    motion: Homography | None
    """Maps this frame's pixels onto the previous frame's; None on the first frame or when the
    motion could not be estimated."""
    lines: Any
    """The adapter's own record of the pitch lines in view (only it reads it)."""


class PitchCamera(ABC):
    """Follows one clip's camera, frame by frame, in order (stateful: one instance per clip)."""

    @abstractmethod
    def observe(self, frame_index: int, image: Any, boxes: Sequence[Sequence[float]]) -> CameraView:
        """The view of the next frame; `boxes` (x1, y1, x2, y2) are people, whose motion and white
        kits are not the camera's or the pitch's."""

    @abstractmethod
    def cuts(self) -> list[int]:
        """After the last frame: the first frame of every shot but the first (cuts and dissolves)."""

    @abstractmethod
    def reanchor(self, view: CameraView, guess: Homography) -> Homography | None:
        """`guess` (image to camera-frame metres) fitted to the pitch lines in view; None when too
        few lines are in view to fit."""

    @abstractmethod
    def calibrate(self, view: CameraView) -> Homography | None:
        """An automatic homography from the lines in view alone (fit of the 105 x 68 line model);
        None when they do not determine one."""


class PitchArea(ABC):
    """Says who stands on the playing area of a frame, from the picture alone (no calibration)."""

    @abstractmethod
    def on_pitch(self, image: Any, boxes: Sequence[Sequence[float]]) -> list[bool]:
        """Per box (x1, y1, x2, y2): whether its foot point is on the pitch (with a small margin)."""


@dataclass(frozen=True, slots=True)
class Shot:
    first: int
    last: int
    anchor: int | None = None
    """The frame its homography comes from (None: the shot has none)."""
    source: str | None = None
    """`manual` or `automatic`."""
    reason: str | None = None
    """Why the shot has no homography."""


@dataclass(frozen=True, slots=True)
class CameraPath:
    """Per frame of a clip (by index from its first frame): the image-to-pitch homography, or None."""

    homographies: tuple[Homography | None, ...]
    shots: tuple[Shot, ...]

    def shot_of(self, frame: int) -> Shot:
        for shot in self.shots:
            if shot.first <= frame <= shot.last:
                return shot
        raise LookupError(f"frame {frame} is outside the clip")

    @property
    def reason(self) -> str | None:
        """Why some frames have no homography, one sentence per shot without one."""
        reasons = [f"frames {s.first}-{s.last}: {s.reason}" for s in self.shots if s.reason]
        return "; ".join(reasons) or None

    @property
    def source(self) -> str | None:
        """Where the homographies come from: `manual` or `automatic` when every shot that has one
        agrees, else per shot (`frames 0-131: automatic; frames 132-469: manual`); None when no
        shot has one."""
        anchored = [s for s in self.shots if s.source]
        kinds = {s.source for s in anchored}
        if len(kinds) <= 1:
            return kinds.pop() if kinds else None
        return "; ".join(f"frames {s.first}-{s.last}: {s.source}" for s in anchored)


REANCHOR_EVERY = 1
"""Frames between two re-anchorings on the pitch lines (the camera motion carries the homography in
between). Measured on the shared clips' hand-marked landmarks (median error, DFL / LaLiga): every
frame 0.14 / 0.12 m, every 2nd 0.23 / 0.14 m, every 3rd 0.22 / 0.65 m, every 5th 0.19 / 0.75 m
(the zooming LaLiga shot drifts between fits), for 100 / 53 / 43 / 28 % of the line-fitting time."""
AUTO_CALIBRATION_STRIDE = 25
"""Frames seen of a shot tried for automatic calibration: every this many (and the middle one first)."""
AUTO_CALIBRATION_TRIES = 4


def follow_camera(
    views: Sequence[CameraView],
    cuts: Sequence[int],
    camera: PitchCamera,
    anchors: Mapping[int, Homography] | None = None,
    automatic: bool = True,
) -> CameraPath:
    """The camera path of a clip from its views (one per frame seen, in order: every frame, or
    every other one of a 50/60 fps source tracked at 30), the first frames of its shots after the
    first (`cuts`), and manual anchors (frame index -> image-to-pitch homography, e.g. from
    `pitch.calibrate`; an anchor on a frame not seen is taken for the nearest seen frame). A shot
    with a manual anchor takes it (the first, if several); another one is calibrated automatically
    when `automatic`. The path has one homography per view."""
    if not views:
        return CameraPath((), ())
    frames = [view.frame_index for view in views]
    # Shots as positions in `views`: a cut between two seen frames starts at the later one.
    starts = sorted({0, *(bisect_left(frames, cut) for cut in cuts if frames[0] < cut <= frames[-1])})
    bounds = list(zip(starts, [*(s - 1 for s in starts[1:]), len(views) - 1], strict=True))
    homographies: list[Homography | None] = [None] * len(views)
    shots: list[Shot] = []
    for first, last in bounds:
        manual = sorted(f for f in (anchors or {}) if frames[first] <= f <= frames[last])
        anchor: tuple[int, Homography] | None = None
        source = reason = None
        if manual:
            anchor, source = (_nearest(frames, manual[0], first, last), (anchors or {})[manual[0]]), "manual"
        elif automatic:
            anchor = _automatic_anchor(views, first, last, camera)
            source = "automatic" if anchor else None
            reason = None if anchor else "no pitch lines fitted the pitch model and no manual calibration"
        else:
            reason = "not calibrated"
        if anchor is None:
            shots.append(Shot(frames[first], frames[last], reason=reason))
            continue
        start = anchor[0]
        homographies[start] = anchor[1]
        _carry(views, homographies, start, last, camera, forwards=True)
        _carry(views, homographies, start, first, camera, forwards=False)
        shots.append(Shot(frames[first], frames[last], anchor=frames[start], source=source))
    return CameraPath(tuple(homographies), tuple(shots))


def _nearest(frames: Sequence[int], frame: int, first: int, last: int) -> int:
    """The position in `frames[first..last]` of the frame nearest `frame`."""
    return min(range(first, last + 1), key=lambda position: abs(frames[position] - frame))


def _automatic_anchor(
    views: Sequence[CameraView], start: int, end: int, camera: PitchCamera
) -> tuple[int, Homography] | None:
    """The first of a few views of positions `start..end` the camera calibrates on its own, as
    (position, homography)."""
    middle = (start + end) // 2
    candidates = [middle, *range(start, end + 1, AUTO_CALIBRATION_STRIDE)]
    for position in list(dict.fromkeys(candidates))[:AUTO_CALIBRATION_TRIES]:
        view = views[position]
        found = camera.calibrate(view)
        if found is not None and _plausible(found, view):
            return position, found
    return None


def _carry(
    views: Sequence[CameraView],
    homographies: list[Homography | None],
    start: int,
    stop: int,
    camera: PitchCamera,
    forwards: bool,
) -> None:
    step = 1 if forwards else -1
    current = homographies[start]
    for position in range(start + step, stop + step, step):
        if current is None:
            return
        # motion of frame t maps t onto t-1: forwards H_t = H_(t-1) after M_t; backwards the inverse
        motion = views[position].motion if forwards else views[position - step].motion
        if motion is None:
            return
        try:
            guess = motion.then(current) if forwards else motion.inverse().then(current)
        except ValueError:
            return
        view = views[position]
        fitted = camera.reanchor(view, guess) if abs(position - start) % REANCHOR_EVERY == 0 else None
        candidate = fitted if fitted is not None and _plausible(fitted, view) else guess
        if not _plausible(candidate, view):
            return
        homographies[position] = current = candidate


def _plausible(homography: Homography, view: CameraView) -> bool:
    try:
        check_unfolded(homography, view.width, view.height)
    except (InvalidCalibration, ValueError, ZeroDivisionError):
        return False
    return True
