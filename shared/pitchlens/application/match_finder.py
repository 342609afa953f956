from __future__ import annotations

from collections.abc import Callable

from pitchlens.domain.ports import MatchSummary, UnitOfWork


class MatchFinder:
    """Stored matches: one by id (MatchNotFound if absent), or a page of all, newest first."""

    def __init__(self, unit_of_work: Callable[[], UnitOfWork]) -> None:
        self._uow = unit_of_work

    def execute(self, match_id: str | None = None, *, limit: int = 50, offset: int = 0) -> list[MatchSummary]:
        with self._uow() as uow:
            if match_id is not None:
                return [uow.matches.summary(match_id)]
            return uow.matches.list(limit=limit, offset=offset)
