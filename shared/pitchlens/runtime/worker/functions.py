"""Finds and loads the deployable handlers in `functions/<name>/handler.py`.

The runtime loads them by path, as Lambda does from its task root, so `pitchlens` never imports
`functions` as a package (the dependency points from functions to pitchlens only)."""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import pitchlens
from pitchlens.infrastructure.settings import FUNCTIONS

Handler = Callable[[dict[str, Any], Any], Any]


def functions_dir() -> Path:
    """`$PITCHLENS_FUNCTIONS_DIR`, else `functions/` beside the source checkout."""
    configured = os.environ.get("PITCHLENS_FUNCTIONS_DIR")
    if configured:
        return Path(configured)
    return Path(pitchlens.__file__).resolve().parents[2] / "functions"


def available_functions() -> list[str]:
    """Queue-driven functions that have a handler in this deployment."""
    root = functions_dir()
    return [name for name in FUNCTIONS if (root / name / "handler.py").is_file()]


@cache
def load_handler(name: str) -> Handler:
    path = functions_dir() / name / "handler.py"
    if not path.is_file():
        raise LookupError(f"no handler for function {name!r} at {path}")
    spec = importlib.util.spec_from_file_location(f"pitchlens_functions.{name}.handler", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    handler: Handler = module.handler
    return handler
