"""A background thread that runs one action every few seconds until stopped."""

from __future__ import annotations

import threading
from collections.abc import Callable

from pitchlens.infrastructure.logging import get_logger

log = get_logger("pitchlens.runtime")


class PeriodicTask(threading.Thread):
    """Calls `action` every `interval_s` (first call after one interval); errors are logged."""

    def __init__(self, name: str, interval_s: float, action: Callable[[], object]) -> None:
        super().__init__(name=name, daemon=True)
        self._interval_s = interval_s
        self._action = action
        self._stopping = threading.Event()

    def stop(self) -> None:
        self._stopping.set()

    def run(self) -> None:
        while not self._stopping.wait(self._interval_s):
            try:
                self._action()
            except Exception:
                log.exception("periodic task failed", task=self.name)
