"""Stops an embedded PostgreSQL server once the process that started it has died.

`pg_ctl start` detaches the postmaster into a session of its own, so a stack killed with SIGKILL
(or by the OOM killer) leaves it running. `EmbeddedPostgres.start` therefore starts this guard,
in a session of its own too (a kill of the stack's process group spares it):

    python -m pitchlens.runtime.embedded.postgres_guard OWNER_PID PGDATA PG_CTL [SYSTEM_USER]

It waits for OWNER_PID to exit (a pidfd: no polling), then runs `pg_ctl stop -m fast` when a
postmaster still runs in PGDATA, and exits. A clean stop terminates the guard first. The guard
inherits the owner's lock on the cluster (see EmbeddedPostgres) and holds it until postgres is
down, so a stack started right after a crash waits for that instead of adopting a server about
to be stopped.
"""

from __future__ import annotations

import os
import select
import subprocess
import sys
import time
from pathlib import Path

STOP_TIMEOUT_S = 60


def wait_for_exit(pid: int) -> None:
    try:
        descriptor = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    except OSError:  # no pidfd (old kernel): poll
        while _alive(pid):
            time.sleep(0.2)
        return
    try:
        select.select([descriptor], [], [])
    finally:
        os.close(descriptor)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def main(argv: list[str]) -> int:
    owner, pgdata, pg_ctl = int(argv[0]), Path(argv[1]), argv[2]
    user = argv[3] if len(argv) > 3 else None
    wait_for_exit(owner)
    if (pgdata / "postmaster.pid").exists():
        subprocess.run(
            [pg_ctl, "-D", str(pgdata), "-m", "fast", "-w", "-t", str(STOP_TIMEOUT_S), "stop"],
            user=user,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            check=False,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
