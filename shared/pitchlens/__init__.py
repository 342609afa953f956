"""PitchLens: football match data and video into analytics, as event-driven functions.

`pitchlens.connect()` opens the notebook API on a running stack (see `pitchlens.notebook`); it is
imported on first use, so `import pitchlens` stays light."""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"
__all__ = ["Lens", "__version__", "connect"]


def __getattr__(name: str) -> Any:
    # Loaded by name, not by an import statement (not even a TYPE_CHECKING one): every layer imports
    # `pitchlens` for its version, and the notebook sits above them all (import-linter would see a
    # layer breach). Typed access: `from pitchlens.notebook import connect`.
    if name in ("connect", "Lens"):
        return getattr(importlib.import_module("pitchlens.notebook"), name)
    raise AttributeError(f"module 'pitchlens' has no attribute {name!r}")
