from __future__ import annotations

from collections.abc import Callable

from pitchlens.domain.ports import EventPage, EventQuery, UnitOfWork


class EventFinder:
    """A filtered, paginated page of one match's events in match order."""

    def __init__(self, unit_of_work: Callable[[], UnitOfWork]) -> None:
        self._uow = unit_of_work

    def execute(self, query: EventQuery) -> EventPage:
        with self._uow() as uow:
            return uow.matches.events(query)
