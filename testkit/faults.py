"""Real faults for the store's tests: another process holding a SQLite database's write lock,
a disk filled up. Nothing here imitates the database; it only gets in its way."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

_HOLD_LOCK = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
sys.stdin.readline()
conn.execute("ROLLBACK")
"""


@contextmanager
def lock_held(db: Path) -> Iterator[subprocess.Popen]:
    """Another process holds the database's write lock until the block ends."""
    proc = subprocess.Popen([sys.executable, "-c", _HOLD_LOCK, str(db)], text=True,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
        yield proc
    finally:
        if proc.poll() is None:
            proc.communicate("\n", timeout=10)


def fill_disk(folder: Path, leave: int) -> Path:
    """Fill the file system of ``folder`` up, then give back ``leave`` bytes; returns the
    filler file (remove it to free the space)."""
    filler = folder / "filler"
    with filler.open("wb", buffering=0) as f:
        try:
            while True:
                f.write(b"\0" * 65536)
        except OSError:
            pass
    with filler.open("r+b") as f:
        f.truncate(max(0, filler.stat().st_size - leave))
    return filler
