"""How fast transcript search (``/search``, monitor/storage/search.py) answers on a SQLite
store, with the trigram index (queries of three or more characters) and without (shorter
queries scan every line with LIKE).

    .venv/bin/python scripts/bench_search.py [--sessions 2000] [--lines 40] [--repeats 9]

The store (a temporary SQLite file) gets ``--sessions`` sessions of ``--lines`` utterances
each, written with the writer's own ``store_rows`` (so the index is filled as in a real run).
The texts are the 58 sentences of the Chinese test clips (/work/shared/audio/zh/manifest.json),
each line one of them with its number after it, so no two lines are alike (the last query is
the end of line 777 and its number: a rare one). Printed: the store's
size and build time, then per query its path (index or scan), the hits (capped at the review
app's page size, 50) and the median time of ``--repeats`` runs after one warm-up; last, the
same long query run as a LIKE scan, for comparison, and the load average (other busy
processes slow every figure).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

from monitor.storage.database import open_database
from monitor.storage.search import MIN_INDEXED_CHARS, search_transcripts
from monitor.storage.spool import Row, store_rows

MANIFEST = Path("/work/shared/audio/zh/manifest.json")
QUERIES = ("退款", "您好", "很高兴为您服务", "没有这样的话")
LIMIT = 50


def _texts() -> list[str]:
    return [clip["text"] for clip in json.loads(MANIFEST.read_text(encoding="utf-8")).values()]


def build(db: Path, sessions: int, lines: int) -> None:
    texts = _texts()
    with open_database(db, create=True) as conn, conn.transaction():
        for n in range(sessions):
            row = conn.one("INSERT INTO sessions (started_at, mode, source, profile, agent,"
                           " status) VALUES (?, 'replay', 'bench.wav', 'zh-CN', ?, 'done')"
                           " RETURNING id", (f"2025-03-01T{n % 24:02d}:00:00+00:00",
                                             f"agent{n % 10}"))
            assert row is not None
            records = [{"type": "utterance", "t": 3.0 * i, "start": 3.0 * i,
                        "channel": "agent" if i % 2 else "customer",
                        "text": f"{texts[(n * lines + i) % len(texts)]}{n * lines + i}"}
                       for i in range(lines)]
            store_rows(conn, int(row[0]), [Row.of(i, r) for i, r in enumerate(records)])


def timed(call, repeats: int) -> tuple[float, int]:
    hits = len(call())  # warm-up: pages into the cache
    runs = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        runs.append(time.perf_counter() - start)
    return statistics.median(runs) * 1000.0, hits


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sessions", type=int, default=2000)
    parser.add_argument("--lines", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=9)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        db = Path(folder) / "search.sqlite3"
        start = time.perf_counter()
        build(db, args.sessions, args.lines)
        print(f"store: {args.sessions} sessions x {args.lines} lines = "
              f"{args.sessions * args.lines} lines, built in {time.perf_counter() - start:.1f} s,"
              f" {db.stat().st_size / 1e6:.1f} MB (with the WAL: "
              f"{sum(p.stat().st_size for p in Path(folder).iterdir()) / 1e6:.1f} MB)")
        rare = f"{_texts()[777 % 58][-2:]}777"  # one line of the store: its words and number
        print(f"{'query':<16} {'path':<6} {'hits':>5} {'median ms':>10}")
        for query in (*QUERIES, rare):
            ms, hits = timed(lambda q=query: search_transcripts(db, q, agent=None,
                                                                limit=LIMIT), args.repeats)
            path = "index" if len(query) >= MIN_INDEXED_CHARS else "scan"
            print(f"{query:<16} {path:<6} {hits:>5} {ms:>10.1f}")
        with open_database(db) as conn:
            for query in (QUERIES[2], rare):
                ms, hits = timed(lambda q=query: conn.rows(
                    "SELECT session_id, seq FROM transcript_lines WHERE text LIKE ?"
                    " ORDER BY session_id DESC, seq LIMIT ?", (f"%{q}%", LIMIT)), args.repeats)
                print(f"{query:<16} {'LIKE':<6} {hits:>5} {ms:>10.1f}   (the same query, scanned)")
    print("load average (1, 5, 15 min): " + ", ".join(f"{x:.1f}" for x in os.getloadavg()))


if __name__ == "__main__":
    main()
