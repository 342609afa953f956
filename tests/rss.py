"""Peak resident memory of other processes, sampled (psutil) while they run: what a user's `top`
would have shown at its worst, for the CLI and the embedded stack measured from outside."""

from __future__ import annotations

import threading
from types import TracebackType

import psutil

MB = 1_000_000


class PeakRss:
    """Samples a process's RSS every `interval_s` from `with` to its end (or the process's exit):
    `peak` and `first` (the RSS when sampling began), in bytes."""

    def __init__(self, pid: int, interval_s: float = 0.05) -> None:
        self._process = psutil.Process(pid)
        self._interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, name=f"rss-{pid}", daemon=True)
        self.first = 0
        self.peak = 0

    def __enter__(self) -> PeakRss:
        self.first = self.peak = self._rss()
        self._thread.start()
        return self

    def __exit__(self, *_: type[BaseException] | BaseException | TracebackType | None) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._rss())

    @property
    def growth(self) -> int:
        return self.peak - self.first

    def _rss(self) -> int:
        try:
            rss: int = self._process.memory_info().rss
        except psutil.Error:  # it has exited
            return 0
        return rss

    def _sample(self) -> None:
        while not self._stop.wait(self._interval_s):
            self.peak = max(self.peak, self._rss())
