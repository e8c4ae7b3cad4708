"""Inject real faults into the session store under real replays, and count what is lost.

For each fault, the same call (the demo call's first 30 s: two rings, the pickup at 7.5 s,
the greeting) is replayed through the real command with a real fault injected once the call
is under way; where the command fails, ``callmonitor recover`` loads its spool. The records
then in the store are compared with a clean replay's. Prints one row per fault: the exit
status, the session's status as ``sessions`` reads it, the records of a clean run, those
stored before recovery, those in the spool, those after ``recover``, and how many are
unaccounted for.

    .venv/bin/python scripts/fault_injection.py

Faults: a write lock held 2 s (waited out) and held to the end (past [store] retry_s); a
corrupt page of the records table; a full disk (a 2 MB tmpfs; needs root); PostgreSQL
stopped for 2 s, and stopped to the end; the process killed (``kill -9``), where the records
printed before the kill must all be stored.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from monitor.storage.sessions import get_session, session_records
from testkit.faults import fill_disk, lock_held
from testkit.postgres import PostgresServer
from testkit.postgres import available as postgres_available

REPO = Path(__file__).resolve().parent.parent
DEMO = REPO / "demo" / "demo_call.wav"
CLI = [sys.executable, "-m", "monitor"]


@dataclass
class Outcome:
    exit: int
    status: str
    clean: int
    stored: int
    spooled: int
    recovered: int
    expected: int

    @property
    def unaccounted(self) -> int:
        return self.expected - self.recovered


class Run:
    """One replay of the call into ``db`` with ``site`` settings, its stdout read line by
    line so a fault can be injected once the call is under way."""

    def __init__(self, call: Path, db: str, site: Path, env: dict[str, str],
                 realtime: bool) -> None:
        self.proc = subprocess.Popen(
            [*CLI, "replay", str(call), "--asr", "none", "--json", "--db", db, "--config",
             str(site), *(["--realtime"] if realtime else [])],
            cwd=REPO, env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.lines: list[str] = []

    def under_way(self) -> None:
        assert self.proc.stdout is not None
        self.lines.append(self.proc.stdout.readline())

    def finish(self) -> tuple[int, list[str], str]:
        out, err = self.proc.communicate(timeout=120)
        self.lines += out.splitlines(keepends=True)
        return self.proc.returncode, [x for x in self.lines if x.strip()], err


def spool_named(stderr: str) -> Path | None:
    for line in stderr.splitlines():
        if line.startswith("callmonitor: error:") and "`callmonitor recover " in line:
            return Path(line.rsplit("`callmonitor recover ", 1)[1].rstrip("`"))
    return None


def count(db: str, session_id: int) -> int:
    return sum(1 for _ in session_records(db, session_id))


def run_fault(call: Path, db: str, site: Path, env: dict[str, str], clean: int,
              inject: Callable[[Run], None], *, realtime: bool = True,
              recover_into: str | None = None) -> Outcome:
    run = Run(call, db, site, env, realtime)
    run.under_way()
    inject(run)
    code, lines, err = run.finish()
    records = [json.loads(x) for x in lines]
    session_id = records[0]["session_id"] if records and "session_id" in records[0] else None
    session_id = session_id or _last_session(db)
    stored = count(db, session_id) if _readable(db) else 0
    spool = spool_named(err)
    spooled = 0
    recovered = stored
    target = recover_into or db
    if spool is not None:
        spooled = sum(1 for line in spool.read_text().splitlines() if '"seq"' in line)
        done = subprocess.run([*CLI, "recover", str(spool), "--db", target], cwd=REPO, env=env,
                              capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stderr
        session_id = int(done.stdout.split()[1])
        recovered = count(target, session_id)
    if code == -signal.SIGKILL:
        time.sleep(1.2)  # its heartbeat is older than lost_after_s (site.toml) now
    status = get_session(target, session_id).status
    # A killed run never made the records after its kill: it owes those it printed.
    expected = clean if code != -signal.SIGKILL else len(records)
    return Outcome(code, status, clean, stored, spooled, recovered, expected)


def _readable(db: str) -> bool:
    try:
        _last_session(db)
    except Exception:
        return False
    return True


def _last_session(db: str) -> int:
    from monitor.storage.sessions import list_sessions

    return list_sessions(db, 1)[0].id


def corrupt_records_table(db: Path) -> None:
    with sqlite3.connect(db) as conn:
        root, = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'records'"
                             ).fetchone()
        page, = conn.execute("PRAGMA page_size").fetchone()
    with db.open("r+b") as f:
        f.seek((root - 1) * page)
        f.write(b"\xa5" * page)


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="cm-faults-"))
    env = {**os.environ, "XDG_CACHE_HOME": str(work / "cache")}
    call = work / "call.wav"
    subprocess.run(["sox", str(DEMO), str(call), "trim", "0", "30"], check=True)
    site = work / "site.toml"
    site.write_text("[store]\nlock_wait_s = 0.2\nretry_s = 5.0\nheartbeat_s = 0.2\n"
                    "lost_after_s = 1.0\n")
    results: list[tuple[str, Outcome | str]] = []

    def sqlite_case(name: str, inject: Callable[[Run], None], prepare=None, **kw) -> None:
        db = work / f"{name}.sqlite3"
        clean = _clean(call, str(db), site, env)
        if prepare is not None:
            prepare(db)
        results.append((name, run_fault(call, str(db), site, env, clean, inject, **kw)))

    def hold_lock(db: Path, seconds: float) -> Callable[[Run], None]:
        def inject(run: Run) -> None:
            with lock_held(db):
                time.sleep(seconds)
        return inject

    sqlite_case("lock held 2 s", hold_lock(work / "lock held 2 s.sqlite3", 2.0))
    sqlite_case("lock held to the end", _holding_to_end(work / "lock held to the end.sqlite3"))
    sqlite_case("corrupt page", lambda run: None, prepare=corrupt_records_table,
                realtime=False, recover_into=str(work / "fresh.sqlite3"))
    sqlite_case("kill -9", lambda run: (time.sleep(10.0), run.proc.kill()))
    results.append(("disk full (tmpfs)", _disk_full(call, work, site, env)))
    ok, reason = postgres_available()
    if not ok:
        results.append(("PostgreSQL", f"not run: {reason}"))
    else:
        with PostgresServer() as server:
            for name, down_s in (("PostgreSQL down 2 s", 2.0),
                                 ("PostgreSQL down to the end", None)):
                url = server.create_database(f"f{uuid.uuid4().hex[:12]}")
                clean = _clean(call, url, site, env)
                results.append((name, run_fault(call, url, site, env, clean,
                                                _pg_down(server, down_s))))
    _print(results)


def _holding_to_end(db: Path) -> Callable[[Run], None]:
    """Hold the lock until the replay has ended (it fails into a spool meanwhile)."""
    def inject(run: Run) -> None:
        with lock_held(db):
            run.proc.wait(timeout=120)
    return inject


def _pg_down(server: PostgresServer, seconds: float | None) -> Callable[[Run], None]:
    def inject(run: Run) -> None:
        server.pause()
        try:
            if seconds is None:
                run.proc.wait(timeout=120)
            else:
                time.sleep(seconds)
        finally:
            server.resume()
    return inject


def _clean(call: Path, db: str, site: Path, env: dict[str, str]) -> int:
    out = subprocess.run([*CLI, "replay", str(call), "--asr", "none", "--json", "--db", db,
                          "--config", str(site)], cwd=REPO, env=env, capture_output=True,
                         text=True, check=True)
    return len(out.stdout.splitlines())


def _disk_full(call: Path, work: Path, site: Path, env: dict[str, str]) -> Outcome | str:
    disk = work / "disk"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(disk)],
                             capture_output=True, text=True, check=False)
    if mounted.returncode != 0:
        return f"not run: cannot mount a tmpfs ({mounted.stderr.strip()})"
    with ExitStack() as stack:
        stack.callback(subprocess.run, ["umount", "-l", str(disk)], check=False)
        db = disk / "calls.sqlite3"
        clean = _clean(call, str(db), site, env)
        filler = fill_disk(disk, leave=96 * 1024)

        def free_after(run: Run) -> None:
            run.proc.wait(timeout=120)
            filler.unlink()
        return run_fault(call, str(db), site, env, clean, free_after, realtime=False)


def _print(results: list[tuple[str, Outcome | str]]) -> None:
    head = ("fault", "exit", "status", "clean", "stored", "spooled", "after recover",
            "unaccounted")
    print(f"{head[0]:<28}" + "".join(f"{h:>14}" for h in head[1:]))
    total = 0
    for name, outcome in results:
        if isinstance(outcome, str):
            print(f"{name:<28}{outcome}")
            continue
        total += outcome.unaccounted
        cells = (outcome.exit, outcome.status, outcome.clean, outcome.stored, outcome.spooled,
                 outcome.recovered, outcome.unaccounted)
        print(f"{name:<28}" + "".join(f"{c!s:>14}" for c in cells))
    print(f"records unaccounted for, all faults: {total}")


if __name__ == "__main__":
    main()
