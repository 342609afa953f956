"""How players look in video: a port to describe sightings and compare them. Standard library only."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pitchlens.domain.vision import BoundingBox

Appearance = Any
"""An encoder's own description of a sighting; only the encoder that made it can compare it."""


@dataclass(frozen=True, slots=True)
class Sighting:
    """A person seen in one frame of the clip an encoder reads."""

    frame_index: int
    box: BoundingBox


class AppearanceEncoder(ABC):
    """Describes how people look in one clip (e.g. shirt colours) and says how alike two looks are."""

    @abstractmethod
    def describe(self, sightings: Sequence[Sighting]) -> list[Appearance | None]:
        """One description per sighting, in order; None where the box shows too little to describe.
        Reads each frame at most once per call, so callers ask for everything in one call."""

    @abstractmethod
    def similarity(self, first: Appearance, second: Appearance) -> float:
        """In [0, 1]: 1 for the same look, 0 for nothing in common."""


class BoxAppearance(ABC):
    """Describes people in a frame already decoded (while tracking: no video read again)."""

    @abstractmethod
    def describe_boxes(self, image: Any, boxes: Sequence[BoundingBox]) -> list[Appearance | None]:
        """One description per box of `image`; None where a box shows too little."""

    @abstractmethod
    def similarity(self, first: Appearance, second: Appearance) -> float:
        """In [0, 1], as AppearanceEncoder.similarity."""

    @abstractmethod
    def mean(self, looks: Sequence[Appearance]) -> Appearance:
        """One description standing for several of the same person (a track over a few frames)."""

    @abstractmethod
    def encode(self, look: Appearance) -> list[float]:
        """A description as plain numbers (to store it); `decode` reverses it."""

    @abstractmethod
    def decode(self, numbers: Sequence[float]) -> Appearance: ...
