"""The provider factories of `Coordinates` put every provider's points in the one PitchLens frame."""

from __future__ import annotations

import pytest

from pitchlens.domain.model import Coordinates

pytestmark = pytest.mark.unit

# StatsBomb: 120 x 80, origin top-left, y down, the acting team attacking left to right.
STATSBOMB_CASES = [
    # (sb x, sb y, flip, expected x, expected y, what)
    (60.0, 40.0, False, 0.0, 0.0, "centre spot"),
    (0.0, 0.0, False, -52.5, 34.0, "top-left corner: own goal line, left touchline"),
    (120.0, 0.0, False, 52.5, 34.0, "top-right corner"),
    (0.0, 80.0, False, -52.5, -34.0, "bottom-left corner"),
    (120.0, 80.0, False, 52.5, -34.0, "bottom-right corner"),
    (120.0, 40.0, False, 52.5, 0.0, "centre of the goal attacked"),
    (0.0, 40.0, False, -52.5, 0.0, "centre of the own goal"),
    (108.0, 40.0, False, 42.0, 0.0, "penalty spot attacked (12 yd out)"),
    (60.0, 40.0, True, 0.0, 0.0, "centre spot, away team"),
    (120.0, 40.0, True, -52.5, 0.0, "away team's target goal is at -x"),
    (0.0, 0.0, True, 52.5, -34.0, "away team's top-left corner"),
    (120.0, 80.0, True, -52.5, 34.0, "away team's bottom-right corner"),
    (90.0, 20.0, True, -26.25, -17.0, "away team, attacking half, its left"),
]

# Metrica: 0..1 both axes, origin top-left, y down, fixed to the pitch.
METRICA_CASES = [
    (0.5, 0.5, False, 0.0, 0.0, "centre spot"),
    (0.0, 0.0, False, -52.5, 34.0, "top-left corner"),
    (1.0, 0.0, False, 52.5, 34.0, "top-right corner"),
    (0.0, 1.0, False, -52.5, -34.0, "bottom-left corner"),
    (1.0, 1.0, False, 52.5, -34.0, "bottom-right corner"),
    (1.0, 0.5, False, 52.5, 0.0, "goal at x=1, home attacking it"),
    (0.0, 0.5, True, 52.5, 0.0, "goal at x=0 when the home team attacks it"),
    (1.0, 0.5, True, -52.5, 0.0, "goal at x=1 when the home team defends it"),
    (0.25, 0.75, False, -26.25, -17.0, "quarter point"),
    (0.25, 0.75, True, 26.25, 17.0, "quarter point, flipped"),
]


@pytest.mark.parametrize(
    ("x", "y", "flip", "expected_x", "expected_y"),
    [case[:5] for case in STATSBOMB_CASES],
    ids=[case[5] for case in STATSBOMB_CASES],
)
def test_from_statsbomb(x: float, y: float, flip: bool, expected_x: float, expected_y: float) -> None:
    point = Coordinates.from_statsbomb(x, y, flip=flip)
    assert point.x == pytest.approx(expected_x, abs=1e-9)
    assert point.y == pytest.approx(expected_y, abs=1e-9)


@pytest.mark.parametrize(
    ("x", "y", "flip", "expected_x", "expected_y"),
    [case[:5] for case in METRICA_CASES],
    ids=[case[5] for case in METRICA_CASES],
)
def test_from_metrica(x: float, y: float, flip: bool, expected_x: float, expected_y: float) -> None:
    point = Coordinates.from_metrica(x, y, flip=flip)
    assert point.x == pytest.approx(expected_x, abs=1e-9)
    assert point.y == pytest.approx(expected_y, abs=1e-9)


@pytest.mark.parametrize(
    ("x", "y"), [(0.0, 0.0), (13.7, 71.2), (120.0, 80.0), (61.3, 12.9)], ids=["origin", "a", "far", "b"]
)
def test_statsbomb_flip_is_the_point_seen_from_the_other_end(x: float, y: float) -> None:
    flipped = Coordinates.from_statsbomb(x, y, flip=True)
    assert flipped == Coordinates.from_statsbomb(x, y).flipped()
    assert flipped.flipped().x == pytest.approx(Coordinates.from_statsbomb(x, y).x)
    assert flipped.flipped().y == pytest.approx(Coordinates.from_statsbomb(x, y).y)


@pytest.mark.parametrize(("x", "y"), [(0.0, 0.0), (0.31, 0.77), (1.0, 1.0)], ids=["origin", "inside", "far"])
def test_metrica_and_statsbomb_agree_on_the_same_physical_point(x: float, y: float) -> None:
    # Metrica's (x, y) fraction and StatsBomb's (120x, 80y) name the same spot for a team attacking +x.
    metrica = Coordinates.from_metrica(x, y)
    statsbomb = Coordinates.from_statsbomb(120 * x, 80 * y)
    assert metrica.x == pytest.approx(statsbomb.x)
    assert metrica.y == pytest.approx(statsbomb.y)
