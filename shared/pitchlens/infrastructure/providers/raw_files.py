"""Reading provider files: every failure becomes `InvalidMatchData` naming the file and the problem."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import orjson

from pitchlens.domain.errors import InvalidMatchData


def require_content(file_name: str, data: bytes) -> None:
    """Raises InvalidMatchData when the file holds nothing but whitespace."""
    if not data.strip():
        raise InvalidMatchData(f"{file_name}: the file is empty")


def decode_json(file_name: str, data: bytes) -> object:
    """The parsed JSON document; truncated and malformed documents raise InvalidMatchData."""
    require_content(file_name, data)
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        # A document cut short (an interrupted download or upload) fails at its very end; say so,
        # because "unexpected end of data" alone sends people looking for a syntax error.
        if exc.pos >= len(data.rstrip()) or "end of data" in exc.msg:
            raise InvalidMatchData(
                f"{file_name}: truncated JSON, the document ends unexpectedly at line {exc.lineno}, "
                f"column {exc.colno} (char {exc.pos})"
            ) from None
        raise InvalidMatchData(
            f"{file_name}: not valid JSON: {exc.msg} "
            f"at line {exc.lineno}, column {exc.colno} (char {exc.pos})"
        ) from None


def decode_text(file_name: str, data: bytes) -> str:
    """The file as text (UTF-8, a leading byte-order mark dropped)."""
    require_content(file_name, data)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidMatchData(f"{file_name}: not UTF-8 text (invalid byte at offset {exc.start})") from None


_pause_lock = threading.Lock()
_pauses = 0
_collector_was_enabled = False


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pauses Python's cyclic garbage collector while a parse turns megabytes into ~10^5 objects.

    None of them can become garbage before the parse returns, so the collections the allocations
    would trigger are pure cost (~15% of a StatsBomb parse). Nested and concurrent pauses share
    one pause; the collector comes back, if it was on, when the last one ends.
    """
    global _pauses, _collector_was_enabled
    with _pause_lock:
        if _pauses == 0:
            _collector_was_enabled = gc.isenabled()
            gc.disable()
        _pauses += 1
    try:
        yield
    finally:
        with _pause_lock:
            _pauses -= 1
            if _pauses == 0 and _collector_was_enabled:
                gc.enable()
