"""A private, real PostgreSQL server for tests of the database code: no mocks, no shared state.

    with PostgresServer() as pg:
        url = pg.create_database("store_test")   # postgresql://postgres@127.0.0.1:PORT/store_test
        with psycopg.connect(url) as conn:
            ...
        pg.url                                   # the default ``postgres`` database

How it is wired, and why:

* Everything lives in a fresh temporary folder under /tmp: the cluster (``data``), the unix
  socket (``sock``, a short path because socket paths are limited to ~107 bytes), the server
  log (``postgres.log``, its tail is in every start error) and ``initdb.log``. :meth:`stop`
  removes it.
* ``initdb`` refuses to run as root, and we are root in the containers: when the effective uid
  is 0, initdb, postgres and pg_ctl run as the ``postgres`` system user (made by the Debian
  package) through ``runuser -u postgres --``, and the folder is chowned to that user.
  Otherwise they run as the calling user.
* The cluster: ``--auth=trust`` (no passwords: the server only listens on 127.0.0.1 and a
  private socket), locale C.UTF-8 and UTF8 so sorting and text behave the same on every
  machine, ``--no-sync`` and ``fsync``/``synchronous_commit``/``full_page_writes`` off because
  a test cluster is thrown away, so durability only costs time.
* The postmaster runs in the foreground as our child (not daemonised by ``pg_ctl start``), with
  PR_SET_PDEATHSIG: if the test process is killed, it (or runuser, which passes the signal on)
  gets SIGTERM and shuts down instead of running forever. The signal follows the *thread* that
  started the server, so start it from the main thread (pytest fixtures do).
* The TCP port is a free one the kernel picked; if another process takes it before the
  server binds it, the start is retried on a new port.
* :meth:`stop` uses ``pg_ctl stop -m immediate``: no checkpoint, the data is discarded anyway.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import pwd
import re
import shutil
import signal
import subprocess
import tempfile
import time
import weakref
from pathlib import Path
from typing import Any, NamedTuple

import psycopg
from psycopg import sql

from testkit.harness import Harness, end_process
from testkit.ports import free_port

SERVER_USER = "postgres"  # the system user of Debian's postgresql package, and the superuser
SERVER_PROGRAMS = ("initdb", "pg_ctl", "postgres")
SPEED_SETTINGS = ("fsync=off", "synchronous_commit=off", "full_page_writes=off")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}\Z")  # safe in SQL and in a URL unquoted
_PR_SET_PDEATHSIG = 1


class PostgresError(RuntimeError):
    pass


class Availability(NamedTuple):
    """Whether the server can be run here, and if not why; false in ``if`` when it cannot."""

    ok: bool
    reason: str

    def __bool__(self) -> bool:  # a two-item tuple would always be true
        return self.ok


def _as_root() -> bool:
    return os.geteuid() == 0


def find_bindir() -> Path | None:
    """The folder with initdb, pg_ctl and postgres: ``$POSTGRES_BINDIR`` if set, and then only
    it (a server chosen on purpose that is not there is reported missing, not replaced by
    another one); else ``pg_config --bindir``, else the newest /usr/lib/postgresql/*/bin. On
    Debian pg_config also comes with libpq-dev alone, without a server, so each candidate must
    really hold the three programs."""
    chosen = os.environ.get("POSTGRES_BINDIR")
    if chosen:
        return Path(chosen) if _holds_server(Path(chosen)) else None
    candidates: list[Path] = []
    pg_config = shutil.which("pg_config")
    if pg_config:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True,
                                 timeout=10, check=True).stdout.strip()
            if out:
                candidates.append(Path(out))

    def version(path: Path) -> tuple[int, ...]:
        return tuple(int(p) for p in re.findall(r"\d+", path.parent.name)) or (0,)

    candidates += sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=version, reverse=True)
    return next((bindir for bindir in candidates if _holds_server(bindir)), None)


def _holds_server(bindir: Path) -> bool:
    return all(os.access(bindir / prog, os.X_OK) for prog in SERVER_PROGRAMS)


def available() -> Availability:
    """Can a private server be started here? The reason says what is missing, for pytest.skip."""
    bindir = find_bindir()
    if bindir is None:
        chosen = os.environ.get("POSTGRES_BINDIR")
        where = f"in {chosen}" if chosen else "via pg_config --bindir or /usr/lib/postgresql/*/bin"
        return Availability(False, f"PostgreSQL server programs (initdb, pg_ctl, postgres) not "
                                   f"found {where}; install the Debian package postgresql")
    if _as_root():
        if shutil.which("runuser") is None:
            return Availability(False, "running as root needs runuser (util-linux) to start "
                                       "PostgreSQL as another user")
        try:
            pwd.getpwnam(SERVER_USER)
        except KeyError:
            return Availability(False, f"running as root, and PostgreSQL refuses root, but there "
                                       f"is no {SERVER_USER!r} system user to run it as")
    return Availability(True, f"PostgreSQL programs in {bindir}")


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    # SIGTERM rather than SIGKILL: runuser forwards it to the postmaster, which then shuts down
    # its backends too (a SIGKILLed runuser would leave the postmaster running).
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


class PostgresServer(Harness):
    """A private PostgreSQL cluster and server; :meth:`stop` leaves no process and no files."""

    host = "127.0.0.1"

    def __init__(self, bindir: str | os.PathLike | None = None, *,
                 settings: dict[str, str] | None = None) -> None:
        """``settings`` are extra ``-c name=value`` server settings (e.g. log_statement)."""
        self.bindir = Path(bindir) if bindir is not None else None
        self.settings = dict(settings or {})
        self.port: int | None = None
        self.dir: Path | None = None
        self.process: subprocess.Popen | None = None  # postgres, or runuser around it
        self._finalizer: weakref.finalize | None = None
        self._reap: list[subprocess.Popen | None] = [None]  # what the finalizer must end

    # -- life cycle -------------------------------------------------------------------------

    def start(self, timeout: float = 30.0, attempts: int = 3) -> None:
        """initdb a fresh cluster, start the server and wait until it accepts connections."""
        if self.dir is not None:
            raise PostgresError("server already started")
        if self.bindir is None:
            self.bindir = find_bindir()
        if self.bindir is None:
            raise PostgresError(available().reason)
        self.dir = Path(tempfile.mkdtemp(prefix="cm-pg-", dir="/tmp"))
        # Registered at once, so that a start that fails half-way is still cleaned up.
        self._finalizer = weakref.finalize(self, _cleanup, self._pg_ctl_stop_args(), self.dir,
                                           self._reap)
        (self.dir / "sock").mkdir()
        if _as_root():  # the server user must own the folders it writes into
            user = pwd.getpwnam(SERVER_USER)
            for folder in (self.dir, self.dir / "sock"):
                os.chown(folder, user.pw_uid, user.pw_gid)
        self._initdb()
        for attempt in range(attempts):
            self.port = free_port()
            self._spawn_postgres()
            try:
                self._wait_ready(timeout)
                return
            except PostgresError:
                if attempt + 1 < attempts and self._port_taken():
                    self._end_process()
                    continue
                raise

    def stop(self) -> None:
        """Stop the server (immediate mode) and remove the folder; safe to call at any stage."""
        if self._finalizer is not None:
            self._finalizer()  # idempotent: pg_ctl stop, end the process, remove the folder
            self._finalizer = None
        self.process = None
        self.dir = None

    def pause(self) -> None:
        """Shut the server down as an administrator would (``pg_ctl stop -m fast``: every
        session is ended), keeping its data for :meth:`resume`."""
        assert self.process is not None, "server not running"
        subprocess.run(self._command("pg_ctl", "stop", "-D", str(self.data_dir), "-m", "fast",
                                     "-w", "-t", "30", "-s"),
                       env=self._env(), stdin=subprocess.DEVNULL, timeout=60, check=True)
        self.process.wait(timeout=30)
        self.process = self._reap[0] = None

    def resume(self, timeout: float = 30.0) -> None:
        """Start the paused server again, on the same port, with the same data."""
        self._spawn_postgres()
        self._wait_ready(timeout)

    def log(self, tail: int | None = None) -> str:
        """The server's log, or its last ``tail`` lines (initdb's output is in initdb.log)."""
        path = self.dir / "postgres.log" if self.dir else None
        text = path.read_text(errors="replace") if path and path.exists() else ""
        return "\n".join(text.splitlines()[-tail:]) if tail else text

    @property
    def pid(self) -> int | None:
        """The postmaster's pid, from postmaster.pid (the child is runuser when we are root)."""
        pidfile = self.data_dir / "postmaster.pid" if self.dir else None
        with contextlib.suppress(OSError, ValueError, IndexError):
            return int(pidfile.read_text().split()[0]) if pidfile else None
        return None

    # -- connecting --------------------------------------------------------------------------

    @property
    def data_dir(self) -> Path:
        assert self.dir is not None, "server not started"
        return self.dir / "data"

    @property
    def socket_dir(self) -> Path:
        assert self.dir is not None, "server not started"
        return self.dir / "sock"

    @property
    def url(self) -> str:
        """Connection URL of the default ``postgres`` database."""
        return self.url_for("postgres")

    def url_for(self, dbname: str) -> str:
        assert self.port is not None, "server not started"
        return f"postgresql://{SERVER_USER}@{self.host}:{self.port}/{_check_name(dbname)}"

    def connect(self, dbname: str = "postgres", **kwargs: Any) -> psycopg.Connection:
        """A psycopg connection to ``dbname`` (the caller closes it; ``with`` works)."""
        return psycopg.connect(self.url_for(dbname), **kwargs)

    def create_database(self, name: str) -> str:
        """Create an empty database ``name`` (letters, digits, _) and return its URL.

        Each test or test module takes its own database, so they cannot see each other's
        tables; an existing name raises psycopg.errors.DuplicateDatabase.
        """
        with self.connect(autocommit=True) as conn:  # CREATE DATABASE refuses transactions
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(_check_name(name))))
        return self.url_for(name)

    def drop_database(self, name: str) -> None:
        """Drop database ``name``, ending its sessions first (``WITH (FORCE)``)."""
        with self.connect(autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(_check_name(name))))

    # -- internals ---------------------------------------------------------------------------

    def _command(self, program: str, *args: str) -> list[str]:
        assert self.bindir is not None
        cmd = [str(self.bindir / program), *args]
        return ["runuser", "-u", SERVER_USER, "--", *cmd] if _as_root() else cmd

    def _env(self) -> dict[str, str]:
        """Our environment without PG* variables (a PGDATA or PGPORT of the caller must not
        steer the private server), with the locale the cluster uses, and TZ=UTC unless the
        caller set TZ: initdb makes it the server's default TimeZone, so timestamps print
        the same on every machine."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env.update(LC_ALL="C.UTF-8", LANG="C.UTF-8", TZ=env.get("TZ", "UTC"))
        return env

    def _pg_ctl_stop_args(self) -> list[str]:
        assert self.dir is not None
        return self._command("pg_ctl", "stop", "-D", str(self.dir / "data"), "-m", "immediate",
                             "-w", "-t", "10", "-s")

    def _initdb(self) -> None:
        assert self.dir is not None
        with open(self.dir / "initdb.log", "ab") as log:
            proc = subprocess.run(
                self._command("initdb", "-D", str(self.data_dir), "-U", SERVER_USER,
                              "--auth=trust", "--no-instructions", "--no-sync",
                              "--locale=C.UTF-8", "--encoding=UTF8"),
                env=self._env(), stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                timeout=120, check=False)
        if proc.returncode != 0:
            text = (self.dir / "initdb.log").read_text(errors="replace")
            raise PostgresError(f"initdb failed ({proc.returncode}):\n{text[-3000:]}")

    def _spawn_postgres(self) -> None:
        assert self.dir is not None and self.port is not None
        settings = {
            "listen_addresses": self.host,
            "port": str(self.port),
            "unix_socket_directories": str(self.socket_dir),
            **dict(s.split("=", 1) for s in SPEED_SETTINGS),
            **self.settings,
        }
        args = [a for k, v in settings.items() for a in ("-c", f"{k}={v}")]
        with open(self.dir / "postgres.log", "ab") as log:
            self.process = subprocess.Popen(
                self._command("postgres", "-D", str(self.data_dir), *args),
                env=self._env(), stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                preexec_fn=_die_with_parent)
        self._reap[0] = self.process

    def _wait_ready(self, timeout: float) -> None:
        assert self.process is not None
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise PostgresError(f"postgres exited with {self.process.returncode}:\n"
                                    f"{self.log(tail=30)}")
            try:
                with psycopg.connect(self.url, connect_timeout=2):
                    return
            except psycopg.OperationalError as e:
                if time.monotonic() > deadline:
                    raise PostgresError(f"postgres did not accept connections on {self.url} "
                                        f"within {timeout} s ({e}):\n{self.log(tail=30)}"
                                        ) from None
            time.sleep(0.05)

    def _port_taken(self) -> bool:
        text = self.log(tail=30)
        return "could not bind" in text or "could not create any TCP/IP sockets" in text

    def _end_process(self) -> None:
        if self.process is not None:
            _end(self.process)
            self.process = self._reap[0] = None


def _check_name(name: str) -> str:
    if not _NAME.match(name):
        raise ValueError(f"database names here are 1-63 letters, digits and _, not starting "
                         f"with a digit: {name!r}")
    return name


def _end(proc: subprocess.Popen, timeout: float = 10.0) -> None:
    """SIGQUIT is PostgreSQL's immediate shutdown; runuser only forwards TERM, so it gets that
    and passes it on (a smart shutdown, immediate once no session is left)."""
    end_process(proc, signal.SIGTERM if proc.args[0] == "runuser" else signal.SIGQUIT, timeout)


def _cleanup(stop_args: list[str], folder: Path,
             process: list[subprocess.Popen | None]) -> None:
    proc = process[0]
    if (folder / "data" / "postmaster.pid").exists():
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            subprocess.run(stop_args, stdin=subprocess.DEVNULL, capture_output=True,
                           timeout=20, check=False)
    if proc is not None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(5)  # runuser exits as soon as the postmaster has
        _end(proc)
    shutil.rmtree(folder, ignore_errors=True)
