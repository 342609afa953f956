"""The real clock."""

from __future__ import annotations

from datetime import UTC, datetime

from pitchlens.domain.ports import Clock


class SystemClock(Clock):
    """Timezone-aware UTC now."""

    def now(self) -> datetime:
        return datetime.now(UTC)
