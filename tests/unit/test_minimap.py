"""The minimap drawn into I420 frames: where it goes, dots at the right place in their team's colour,
the followed player highlighted, no dots (and a note) without metres, the rest of the frame untouched."""

from __future__ import annotations

import numpy as np
import pytest

from pitchlens.domain.rendering import PitchPositions, pitch_positions
from pitchlens.domain.teams import KIT_RGB
from pitchlens.domain.vision import BoundingBox, FrameTracks, TrackingFrame
from pitchlens.infrastructure.vision.indicators import ACCENT_RGB, I420Frame, from_bgr, to_bgr
from pitchlens.infrastructure.vision.minimap import (
    GRASS_OPACITY,
    GRASS_RGB,
    OTHER_RGB,
    Minimap,
    team_rgb,
)

pytestmark = pytest.mark.unit

WIDTH, HEIGHT = 1920, 1080
UNDER_RGB = (90, 60, 40)
"""The picture under the minimap: a brown no dot or grass colour is near."""
PEOPLE = (((0.0, 0.0), "white"), ((30.0, -20.0), "green"), ((-45.0, 25.0), "other"), ((20.0, 30.0), "red"))
FOLLOWED_AT = (-20.0, -10.0)


def frame() -> np.ndarray:
    picture = np.empty((HEIGHT, WIDTH, 3), np.uint8)
    picture[:] = UNDER_RGB[::-1]
    return from_bgr(picture)


def drawn(positions: PitchPositions | None) -> tuple[Minimap, np.ndarray, np.ndarray]:
    """(minimap, the frame before, after) as RGB images."""
    image = frame()
    before = to_bgr(image)[:, :, ::-1].astype(int)
    minimap = Minimap(WIDTH, HEIGHT)
    minimap.draw(I420Frame(image, WIDTH, HEIGHT), positions)
    return minimap, before, to_bgr(image)[:, :, ::-1].astype(int)


def colour_at(image: np.ndarray, minimap: Minimap, x: float, y: float, radius: int = 1) -> np.ndarray:
    column, row = (round(v) for v in minimap.pixel(x, y))
    return (
        image[row - radius : row + radius + 1, column - radius : column + radius + 1].reshape(-1, 3).mean(0)
    )


def near(pixel: np.ndarray, rgb: tuple[int, int, int], tolerance: float = 30) -> bool:
    return bool(np.all(np.abs(pixel - np.array(rgb)) <= tolerance))


def grass_over_the_picture() -> tuple[int, int, int]:
    r, g, b = (
        round(k * GRASS_OPACITY + u * (1 - GRASS_OPACITY)) for k, u in zip(GRASS_RGB, UNDER_RGB, strict=True)
    )
    return r, g, b


def positions(followed: bool = True) -> PitchPositions:
    xy = tuple(at for at, _ in PEOPLE) + ((FOLLOWED_AT,) if followed else ())
    teams = tuple(team for _, team in PEOPLE) + (("white",) if followed else ())
    return PitchPositions(7, xy, teams, len(PEOPLE) if followed else None, True)


def test_the_minimap_sits_in_the_bottom_right_corner_a_quarter_of_the_width_wide() -> None:
    minimap = Minimap(WIDTH, HEIGHT)
    region = minimap.region
    assert region.x1 - region.x0 == WIDTH // 4
    assert WIDTH - region.x1 == HEIGHT - region.y1 == pytest.approx(0.02 * WIDTH, abs=2)
    left, top = minimap.pixel(-52.5, 34.0)
    right, bottom = minimap.pixel(52.5, -34.0)
    assert region.x0 < left < right < region.x1 and region.y0 < top < bottom < region.y1
    assert (right - left) / (bottom - top) == pytest.approx(105 / 68)
    centre = ((region.x0 + region.x1) / 2, (region.y0 + region.y1) / 2)
    assert minimap.pixel(0.0, 0.0) == pytest.approx(centre, abs=1.0)  # the centre spot in the middle
    assert left - region.x0 == pytest.approx(3.0 * minimap.scale)  # 3 m of grass around the lines
    # the lines are drawn where the same metres put the dots: bright on them, grass 4 m away
    _, _, empty = drawn(None)
    for x, y in ((0.0, 20.0), (20.0, -34.0), (-52.5, -25.0), (-36.0, 10.0), (41.5, 0.0), (0.0, 9.15)):
        column, row = (round(v) for v in minimap.pixel(x, y))
        assert empty[row - 1 : row + 2, column - 1 : column + 2].min(axis=2).max() > 120, (x, y)
        assert near(colour_at(empty, minimap, x + 4.0, y + 2.0, 0), grass_over_the_picture(), 12), (x, y)
    for size in [(1280, 720), (848, 478), (3840, 2160), (160, 90)]:
        small = Minimap(*size).region
        assert small.x0 >= 0 and small.y0 >= 0 and small.x1 <= size[0] and small.y1 <= size[1]
        assert small.x0 % 2 == small.y0 % 2 == small.x1 % 2 == small.y1 % 2 == 0


def test_dots_are_drawn_where_the_people_stand_in_their_team_colour() -> None:
    minimap, _, after = drawn(positions(followed=False))
    for (x, y), team in PEOPLE:
        expected = KIT_RGB.get(team, OTHER_RGB)
        assert near(colour_at(after, minimap, x, y), expected), (team, colour_at(after, minimap, x, y))
    # +y is up (the far touchline), +x right (the goal the home team attacks)
    white, green = minimap.pixel(0.0, 0.0), minimap.pixel(30.0, -20.0)
    assert green[0] > white[0] and green[1] > white[1]
    # grass where nobody stands, semi-transparent over the picture
    assert near(colour_at(after, minimap, 25.0, 15.0, 2), grass_over_the_picture(), 12)
    assert not near(colour_at(after, minimap, 25.0, 15.0, 2), GRASS_RGB, 12)


def test_the_followed_player_is_bigger_and_in_the_indicator_yellow() -> None:
    minimap, _, after = drawn(positions())
    x, y = FOLLOWED_AT
    assert near(colour_at(after, minimap, x, y), ACCENT_RGB)
    reach = minimap.dot_radius * 1.3 / minimap.scale  # metres beyond an ordinary dot's edge
    assert near(colour_at(after, minimap, x + reach, y, 0), ACCENT_RGB, 45)
    white_edge = colour_at(after, minimap, PEOPLE[0][0][0] + reach, PEOPLE[0][0][1], 0)
    assert not near(white_edge, KIT_RGB["white"], 45)  # the ordinary dot ends before that
    assert not near(colour_at(after, minimap, x, y), KIT_RGB["white"], 60)  # yellow, not his team's


def coloured(image: np.ndarray, minimap: Minimap, rgb: tuple[int, int, int]) -> int:
    """Pixels of the minimap within 30 of `rgb` in every channel (a line's edge is no dot)."""
    region = image[minimap.region.y0 : minimap.region.y1, minimap.region.x0 : minimap.region.x1]
    return int(np.all(np.abs(region - np.array(rgb)) <= 30, axis=2).sum())


def test_no_dots_without_metres_and_a_note_when_the_frame_is_not_calibrated() -> None:
    """The same people with and without metres (a frame without a homography has NaN metres)."""
    teams = [team for _, team in PEOPLE]
    boxes = [[10.0 * k, 0.0, 10.0 * k + 5, 10.0] for k in range(len(PEOPLE))]
    lit = {}
    for calibrated in (True, False):
        xy = [at if calibrated else (float("nan"), float("nan")) for at, _ in PEOPLE]
        tracks = FrameTracks(0, [1, 2, 3, 4], boxes, [0.9] * 4, [True] * 4, teams, xy, 0)
        [shown] = pitch_positions([tracks], [TrackingFrame(0, BoundingBox(0, 0, 5, 10), 0.9, track_id=1)])
        assert shown.calibrated is calibrated
        minimap, _, after = drawn(shown)
        for team in ("green", "red"):
            dots = coloured(after, minimap, KIT_RGB[team])
            assert (dots > 20) if calibrated else (dots == 0), (team, calibrated, dots)
        assert (coloured(after, minimap, ACCENT_RGB) > 40) is calibrated  # the followed white player
        region = after[minimap.region.y0 : minimap.region.y1, minimap.region.x0 : minimap.region.x1]
        assert (region.min(axis=2) > 200).mean() > 0.01  # the lines
        band = region[region.shape[0] * 2 // 5 : region.shape[0] * 3 // 5]  # where the note goes
        lit[calibrated] = (band.min(axis=2) > 200).mean()
    assert lit[False] > lit[True] + 0.02, lit  # "not calibrated" written across the middle


def test_nothing_outside_the_minimap_changes() -> None:
    minimap, before, after = drawn(positions())
    region = minimap.region
    outside = np.ones(before.shape[:2], bool)
    outside[region.y0 : region.y1, region.x0 : region.x1] = False
    assert np.array_equal(before[outside], after[outside])
    assert not np.array_equal(before[~outside], after[~outside])


@pytest.mark.parametrize(
    ("team", "rgb"),
    [
        ("white", KIT_RGB["white"]),
        ("green", KIT_RGB["green"]),
        ("other", OTHER_RGB),
        (None, OTHER_RGB),
        ("teal", OTHER_RGB),
        ("light blue", tuple(round(c + (255 - c) * 0.45) for c in KIT_RGB["blue"])),
        ("dark red", tuple(round(c * 0.55) for c in KIT_RGB["red"])),
    ],
)
def test_team_colours(team: str | None, rgb: tuple[int, int, int]) -> None:
    assert team_rgb(team) == rgb
