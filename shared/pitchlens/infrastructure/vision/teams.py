"""`KitColourTeams`: the two teams of a clip by the colours of shirts and shorts.

Kit description (`kit_colours`): the shirt-and-shorts part of a box (as the follower's
`ColorHistogramAppearance` crops it), the grass showing through removed (pixels of the frame's
grass hue no brighter than the grass: a lime shirt is brighter and yellower than the pitch), the
rest as a histogram of hue for coloured pixels (brightness ignored, so shadow and sun give one
colour) and of four grey levels for unsaturated ones (black ... white kits).

Grouping (`teams`): every track's kit is averaged over stretches of `PIECE_FRAMES` frames
(trackers hand ids over between players, so a whole track can hold two kits); the pieces are
clustered into two groups (k-means on the square roots of the histograms, i.e. Hellinger
geometry, twice: the second time without the pieces furthest from their centre, which are
goalkeepers, referees and boxes holding two players). A piece far from both centres, or not
clearly nearer one of them, is OTHER. Each group is named after its kit's colour.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import cv2
import numpy as np

from pitchlens.domain.teams import OTHER, TeamClassifier, TeamRun, Teams

HUE_BINS = 16
GREY_BINS = 4
MIN_SATURATION = 60
SHIRT_X = (0.2, 0.8)
SHIRT_Y = (0.15, 0.62)
MIN_BOX_HEIGHT = 12
MIN_KIT_PIXELS = 6
SAMPLE_EVERY = 3
"""Frames between two kit samples of a track."""
PIECE_FRAMES = 15
MAX_DISTANCE = 0.55
"""A piece further than this from its team's centre (Hellinger-type distance) is OTHER..."""
MAX_RATIO = 1.0
"""...and so is one not clearly nearer one team (distance ratio above this)."""
GREY_NAMES = ("black", "dark grey", "light grey", "white")
_NO_LABELS: Any = None
"""OpenCV computes the labels itself (its typing stubs want an array)."""


def grass_colour(image: np.ndarray) -> tuple[int, float, float] | None:
    """(hue, brightest value, lowest saturation) of the frame's grass, or None without grass."""
    height, width = image.shape[:2]
    factor = min(1.0, 320 / width)
    small = cv2.resize(
        image, (max(1, round(width * factor)), max(1, round(height * factor))), interpolation=cv2.INTER_AREA
    )
    hsv = cv2.cvtColor(small, cv2.COLOR_BGR2HSV).reshape(-1, 3).astype(np.int16)
    candidates = (hsv[:, 1] > 50) & (hsv[:, 2] > 40) & (hsv[:, 0] > 25) & (hsv[:, 0] < 95)
    if candidates.sum() < 0.05 * len(hsv):
        return None
    hue = int(np.median(hsv[candidates, 0]))
    grass = candidates & (np.abs(hsv[:, 0] - hue) < 10)
    return hue, float(np.percentile(hsv[grass, 2], 97)), float(np.percentile(hsv[grass, 1], 3))


def kit_colours(
    image: np.ndarray, box: Sequence[float], grass: tuple[int, float, float] | None
) -> np.ndarray | None:
    """The normalised kit histogram (HUE_BINS + GREY_BINS) of `box` in a BGR image; None when too
    little of the kit shows."""
    x1, y1, x2, y2 = (float(v) for v in box[:4])
    height, width = image.shape[:2]
    left = int(max(0, round(x1 + SHIRT_X[0] * (x2 - x1))))
    right = int(min(width, round(x1 + SHIRT_X[1] * (x2 - x1))))
    top = int(max(0, round(y1 + SHIRT_Y[0] * (y2 - y1))))
    bottom = int(min(height, round(y1 + SHIRT_Y[1] * (y2 - y1))))
    if right <= left or bottom <= top:
        return None
    hsv = cv2.cvtColor(image[top:bottom, left:right], cv2.COLOR_BGR2HSV).reshape(-1, 3).astype(np.int16)
    hue, saturation, value = hsv[:, 0], hsv[:, 1], hsv[:, 2]
    if grass is not None:
        grass_hue, grass_value, grass_saturation = grass
        kit = ~((np.abs(hue - grass_hue) <= 8) & (value <= grass_value) & (saturation >= grass_saturation))
        hue, saturation, value = hue[kit], saturation[kit], value[kit]
    if len(hue) < MIN_KIT_PIXELS:
        return None
    bins = np.where(
        saturation >= MIN_SATURATION,
        hue * HUE_BINS // 180,
        HUE_BINS + np.minimum(value * GREY_BINS // 256, GREY_BINS - 1),
    )
    histogram = np.bincount(bins, minlength=HUE_BINS + GREY_BINS).astype(np.float32)
    # Hue is circular and a kit's hue sits on a bin edge as often as not (light, compression): each
    # coloured bin shares a quarter with each neighbour, so one kit gives one histogram.
    hues = histogram[:HUE_BINS]
    histogram[:HUE_BINS] = 0.5 * hues + 0.25 * np.roll(hues, 1) + 0.25 * np.roll(hues, -1)
    return histogram / histogram.sum()


def colour_name(histogram: np.ndarray) -> str:
    """A kit's everyday colour name from its histogram."""
    coloured, grey = histogram[:HUE_BINS], histogram[HUE_BINS:]
    if grey.sum() >= coloured.sum():
        return GREY_NAMES[int(np.argmax(grey))]
    hue = (int(np.argmax(coloured)) + 0.5) * 180 / HUE_BINS
    for name, upper in (
        ("red", 10),
        ("orange", 20),
        ("yellow", 33),
        ("green", 85),
        ("cyan", 100),
        ("blue", 130),
        ("purple", 145),
        ("pink", 160),
    ):
        if hue < upper:
            return name
    return "red"


class KitColourTeams(TeamClassifier):
    def __init__(self, sample_every: int = SAMPLE_EVERY, piece_frames: int = PIECE_FRAMES) -> None:
        self._sample_every = sample_every
        self._piece_frames = piece_frames
        self._samples: dict[int, list[tuple[int, np.ndarray]]] = defaultdict(list)
        self._last: dict[int, int] = {}

    def observe(
        self,
        frame_index: int,
        image: Any,
        track_ids: Sequence[int],
        boxes: Sequence[Sequence[float]],
        on_pitch: Sequence[bool],
    ) -> None:
        frame = np.asarray(image)
        grass: tuple[int, float, float] | None = None
        looked = False
        for track_id, box, inside in zip(track_ids, boxes, on_pitch, strict=True):
            track = int(track_id)
            if not inside or float(box[3]) - float(box[1]) < MIN_BOX_HEIGHT:
                continue
            if frame_index - self._last.get(track, -(10**9)) < self._sample_every:
                continue
            if not looked:
                grass, looked = grass_colour(frame), True
            kit = kit_colours(frame, box, grass)
            if kit is not None:
                self._samples[track].append((frame_index, kit))
                self._last[track] = frame_index

    def teams(self) -> Teams:
        pieces: list[tuple[int, int, int, np.ndarray]] = []  # track, first, last, mean kit
        for track, samples in self._samples.items():
            start = 0
            while start < len(samples):
                end = start
                while end + 1 < len(samples) and samples[end + 1][0] - samples[start][0] < self._piece_frames:
                    end += 1
                kit = np.mean([s[1] for s in samples[start : end + 1]], axis=0)
                pieces.append((track, samples[start][0], samples[end][0], kit))
                start = end + 1
        if len(pieces) < 2:
            return Teams(names=())
        features = np.sqrt(np.array([p[3] for p in pieces], np.float32))
        weights = np.array([p[2] - p[1] + 1 for p in pieces], np.float64)
        centres = _two_centres(features, weights)
        distances = np.linalg.norm(features[:, None, :] - centres[None], axis=2)
        nearest = distances.argmin(1)
        own = distances.min(1)
        other = distances.max(1)
        names = _names(centres)
        runs: dict[int, list[TeamRun]] = defaultdict(list)
        order = sorted(range(len(pieces)), key=lambda i: (pieces[i][0], pieces[i][1]))
        for i in order:
            track, first, last, _ = pieces[i]
            team = OTHER if own[i] > MAX_DISTANCE or own[i] > MAX_RATIO * other[i] else names[int(nearest[i])]
            previous = runs[track][-1] if runs[track] else None
            if previous is not None and previous.team == team:
                runs[track][-1] = TeamRun(previous.first, last, team)
            else:
                runs[track].append(TeamRun(first, last, team))
        return Teams(names=tuple(names), runs={track: tuple(r) for track, r in runs.items()})


def _two_centres(features: np.ndarray, weights: np.ndarray) -> np.ndarray:
    criteria = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 100, 1e-4)
    cv2.setRNGSeed(0)
    _, _, centres = cv2.kmeans(features, 2, _NO_LABELS, criteria, 8, cv2.KMEANS_PP_CENTERS)
    distances = np.linalg.norm(features[:, None, :] - centres[None], axis=2).min(1)
    kept = distances <= np.percentile(distances, 80)
    if kept.sum() >= 2:
        cv2.setRNGSeed(0)
        _, _, centres = cv2.kmeans(features[kept], 2, _NO_LABELS, criteria, 8, cv2.KMEANS_PP_CENTERS)
    # The weights decide which centre is listed first only: the team seen longer.
    sides = np.linalg.norm(features[:, None, :] - centres[None], axis=2).argmin(1)
    if weights[sides == 1].sum() > weights[sides == 0].sum():
        centres = centres[::-1]
    return np.asarray(centres, np.float32)


def _names(centres: np.ndarray) -> list[str]:
    names = [colour_name(centre**2) for centre in centres]
    if names[0] == names[1]:
        light = [float((c**2)[HUE_BINS + GREY_BINS - 1] + (c**2)[HUE_BINS + GREY_BINS - 2]) for c in centres]
        brighter = int(np.argmax(light))
        names = [f"light {n}" if i == brighter else f"dark {n}" for i, n in enumerate(names)]
    return names
