"""The `pitchlens` command line, by area: the stack (`stack`), match data (`ingest`), video
(`video`), analysis (`analysis`: exports, pictures, lineups) and operations (`ops`). Commands on the
running system go through its HTTP API; local commands (detect, indicators, replay, the roles a
container runs) through the composition root."""

from __future__ import annotations

# isort: off
# Each area registers its commands on the app; imported in the order `pitchlens --help` lists them.
from pitchlens.runtime.cli import stack  # noqa: F401
from pitchlens.runtime.cli import ingest  # noqa: F401
from pitchlens.runtime.cli import video  # noqa: F401
from pitchlens.runtime.cli import analysis  # noqa: F401
from pitchlens.runtime.cli import ops  # noqa: F401
from pitchlens.runtime.cli.app import app

# isort: on


def main() -> None:
    app()


if __name__ == "__main__":
    main()
