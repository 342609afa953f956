from __future__ import annotations

from collections.abc import Callable

from pitchlens.domain.ports import UnitOfWork
from pitchlens.domain.vision import Clip


class ClipFinder:
    """One clip by id (ClipNotFound if absent), or every clip of a match."""

    def __init__(self, unit_of_work: Callable[[], UnitOfWork]) -> None:
        self._uow = unit_of_work

    def execute(self, clip_id: str | None = None, *, match_id: str | None = None) -> list[Clip]:
        with self._uow() as uow:
            if clip_id is not None:
                return [uow.clips.get(clip_id)]
            return uow.clips.list(match_id or "")
