"""Provider adapters: each turns one provider's raw files into the domain `Match`."""

from __future__ import annotations

from collections.abc import Callable

from pitchlens.domain.errors import UnsupportedSource
from pitchlens.domain.ports import MatchParser
from pitchlens.infrastructure.providers.metrica import MetricaParser
from pitchlens.infrastructure.providers.statsbomb import (
    StatsBombOnlineSource,
    StatsBombOpenDataSource,
    StatsBombParser,
    StatsBombPyClient,
)

PARSERS: dict[str, Callable[[], MatchParser]] = {
    "metrica": MetricaParser,
    "statsbomb": StatsBombParser,
}


def parser_for(source: str) -> MatchParser:
    """The parser for a source name (case-insensitive); unknown names raise UnsupportedSource."""
    factory = PARSERS.get(source.strip().lower())
    if factory is None:
        supported = ", ".join(sorted(PARSERS))
        raise UnsupportedSource(f"no parser for source {source!r}; supported sources: {supported}")
    return factory()


__all__ = [
    "PARSERS",
    "MetricaParser",
    "StatsBombOnlineSource",
    "StatsBombOpenDataSource",
    "StatsBombParser",
    "StatsBombPyClient",
    "parser_for",
]
