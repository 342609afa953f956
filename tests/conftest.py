"""Shared fixtures. Real football data lives in ../shared/data (or $PITCHLENS_SHARED_DIR);
tests that need it skip with a clear message when it is absent."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


def _shared_dir() -> Path:
    return Path(os.environ.get("PITCHLENS_SHARED_DIR", REPO_ROOT.parent / "shared")).resolve()


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The shared football data folder (StatsBomb, Metrica, video)."""
    data = _shared_dir() / "data"
    if not data.is_dir():
        pytest.skip(
            f"shared test data not found at {data}; set PITCHLENS_SHARED_DIR to the folder holding data/"
        )
    return data


@pytest.fixture(scope="session")
def statsbomb_dir(shared_data: Path) -> Path:
    return shared_data / "statsbomb"


@pytest.fixture(scope="session")
def metrica_dir(shared_data: Path) -> Path:
    return shared_data / "metrica"


@contextmanager
def service_dir(name: str) -> Iterator[Path]:
    """A data folder for a real service (PostgreSQL runs as its own system user when we are root).

    Not under pytest's tmp_path: pytest keeps /tmp/pytest-of-<user> private (0700) and re-applies
    that whenever a session starts, which would lock the database's user out mid-run."""
    folder = Path(tempfile.mkdtemp(prefix=f"pitchlens-{name}-"))
    folder.chmod(0o755)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)
