"""How fast the review app (``callmonitor serve``) answers over HTTP, on SQLite and PostgreSQL.

    .venv/bin/python scripts/bench_web.py [--sessions 5000] [--repeats 20] [--no-postgres]

A store of ``--sessions`` made-up sessions is written straight into the tables (one
transaction through monitor.storage.database, no pipeline): 10 agents, calls over the last 60 days,
summaries shaped like ``callmonitor replay --json`` output with alerts of the 14 rules, the
score the real weights give them and ``session_alerts`` rows to match; about 3 % of the
sessions have no summary (a run killed before its end: no score, no duration), and 20 calls
carry about 300 records each (speech, recognised utterances with their words, rate metrics,
alerts, the summary). The store is a SQLite file in a temporary folder, then (with
``--postgres``, the default where the server programs are installed) a database on a private
PostgreSQL server started through testkit/postgres.py, ANALYZEd as autovacuum would have done
by then (the app never runs ANALYZE on SQLite, so neither does this).

The app runs in this process under waitress (8 threads, as ``callmonitor serve``) on a free
port of 127.0.0.1; a supervisor and an agent are added with monitor.storage.users and sign in with
POST /login. Each request goes over one keep-alive connection and is timed to the last byte
of its body. Printed: the versions, the core count and the load average (1, 5, 15 min); per
engine (with its version) the store (build time, rows, size on disk) and a table of requests:
median and p95 (nearest rank) in milliseconds over n requests after one warm-up, the body
size, and for the lists how many sessions match. The first row, /healthz (one connection to
the store, ``SELECT 1``), is the floor under every other request; the CSV export of every
session is one request, the sign-in POST (an Argon2 verification) a few. Last, the load
average again: other busy processes on the machine slow every figure here.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import math
import os
import platform
import random
import sqlite3
import statistics
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.cookies import SimpleCookie
from importlib.metadata import version
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import waitress
from waitress import wasyncore

from monitor.config import Config, load_config
from monitor.storage.database import open_database
from monitor.storage.sessions import SessionFilter, query_sessions
from monitor.storage.users import add_user
from monitor.web.app import create_app
from monitor.web.auth import COOKIE
from testkit.postgres import PostgresServer  # the tests' private PostgreSQL server
from testkit.postgres import available as postgres_available

AGENTS = ("小王", "小李", "张敏", "刘洋", "陈静", "杨帆", "赵磊", "黄丽", "周婷", "吴昊")
SUPERVISOR = ("zhang", "supervisor", None)
AGENT_USER = ("wang", "agent", "小王")
PASSWORD = "bench-password-1"
DAYS = 60
RICH_SESSIONS = 20
RICH_TURNS = 48  # customer + agent turns: 6 records a pair, about 300 records a call
SIGN_IN_REPEATS = 5
# How often each rule fires in a call (the rest of the calls pass its check).
RULE_ODDS = {"ring.late_pickup": 0.08, "greeting.incomplete": 0.12, "hold.too_long": 0.05,
             "hold.unannounced": 0.07, "hold.no_thanks": 0.08, "dead_air": 0.25,
             "interruption": 0.2, "backchannel.missing": 0.18, "volume.too_loud": 0.04,
             "forbidden_phrase": 0.05, "filler.excess": 0.15, "rate.too_fast": 0.12,
             "rate.too_slow": 0.05, "closing.incomplete": 0.15}
AGENT_LINES = ("您好，诚美客服{agent}为您服务，请问有什么可以帮您", "好的，我帮您查一下这个订单",
               "请您稍等，我这边看一下", "感谢您的耐心等待", "这个问题我们会在三个工作日内处理",
               "嗯，对，我明白您的意思", "您的快递已经在派送中了", "还有其他可以帮您的吗",
               "那个，我再确认一下您的手机号码", "感谢您的来电，祝您生活愉快")
CUSTOMER_LINES = ("你好，我想查一下我的订单", "我上周买的东西到现在还没收到", "对，是这个号码",
                  "哦，是这样", "那什么时候能到", "好的，谢谢", "我要退货怎么办", "没有了，再见")


# --------------------------------------------------------------------------- the store


@dataclass
class Rows:
    sessions: list[tuple[Any, ...]] = field(default_factory=list)
    alerts: list[tuple[Any, ...]] = field(default_factory=list)
    records: list[tuple[Any, ...]] = field(default_factory=list)
    rich: dict[int, int] = field(default_factory=dict)
    """Record count of each session that has its records."""


def make_rows(count: int, cfg: Config, seed: int = 7) -> Rows:
    """``count`` sessions, oldest first, the same on every engine."""
    rng = random.Random(seed)
    first_day = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) \
        - timedelta(days=DAYS)
    # Office hours in Beijing: 00:00-12:00 UTC.
    starts = sorted(first_day + timedelta(days=rng.randrange(DAYS),
                                          seconds=rng.randrange(12 * 3600))
                    for _ in range(count))
    killed = set(rng.sample(range(1, count + 1), max(1, count * 3 // 100)))
    rich = set(rng.sample(sorted(set(range(1, count + 1)) - killed), min(RICH_SESSIONS, count)))
    rows = Rows()
    for sid, started in enumerate(starts, start=1):
        agent = rng.choice(AGENTS)
        profile = "zh-CN" if rng.random() < 0.95 else "en-US"
        live = rng.random() < 0.92
        source = ("live: agent from pulse:alsa_input.usb-Jabra_Link_380-00.mono-fallback; "
                  "customer from pulse:alsa_output.pci-0000_00_1f.3.analog-stereo.monitor"
                  if live else f"/srv/calls/{started:%Y%m%d}/call-{sid}.wav")
        asr = "whisper" if sid in rich else rng.choices(("vosk", "whisper", None),
                                                        (0.6, 0.3, 0.1))[0]
        base = (sid, started.isoformat(timespec="seconds"), "live" if live else "replay",
                source, profile, agent, "诚美", asr)
        if sid in killed:
            rows.sessions.append((*base, "running", None, None, None))
            continue
        fired = {rule: 1 + min(int(rng.expovariate(1.2)), 5)
                 for rule, odds in RULE_ODDS.items() if rng.random() < odds}
        status = "interrupted" if rng.random() < 0.03 else "complete"
        records = call_records(rng, cfg, fired, agent) if sid in rich else []
        duration = records[-1]["end"] + 2.0 if records else round(
            max(25.0, rng.lognormvariate(5.3, 0.5)), 2)
        summary = make_summary(rng, cfg, dict(sorted(fired.items())), duration, asr,
                               (sid, source, profile, agent, status))
        rows.sessions.append((*base, status, duration, summary["score"],
                              json.dumps(summary, ensure_ascii=False)))
        rows.alerts += [(sid, rule, n) for rule, n in fired.items()]
        if records:
            records.append(summary)
            rows.records += [(sid, seq, r["type"], r["t"], json.dumps(r, ensure_ascii=False))
                             for seq, r in enumerate(records)]
            rows.rich[sid] = len(records)
    return rows


def make_summary(rng: random.Random, cfg: Config, fired: dict[str, int], duration: float,
                 asr: str | None, who: tuple[int, str, str, str, str]) -> dict[str, Any]:
    sid, source, profile, agent, status = who
    checks = [{"rule": rule, "weight": weight, "passed": rule not in fired}
              for rule, weight in cfg.score_weights.items()]
    total = sum(c["weight"] for c in checks)
    score = round(100.0 * sum(c["weight"] for c in checks if c["passed"]) / total, 1)
    rings = rng.randint(1, 3) + (2 if "ring.late_pickup" in fired else 0)
    pickup = round(rings * 4.0 + rng.uniform(0.3, 3.0), 2)
    talk_agent = round((duration - pickup) * rng.uniform(0.35, 0.6), 2)
    talk_customer = round((duration - pickup) * rng.uniform(0.2, 0.4), 2)
    rate = round(rng.gauss(165.0, 22.0), 1) if asr else None

    def spans(rule: str, length: float) -> list[dict[str, float]]:
        out = []
        for _ in range(fired.get(rule, 0)):
            start = round(rng.uniform(pickup, max(pickup, duration - length)), 3)
            out.append({"start": start, "end": round(start + length, 3),
                        "duration_s": round(length, 3)})
        return out

    heard = asr is not None
    return {
        "type": "summary", "t": duration, "rings_before_pickup": rings, "pickup_t": pickup,
        "agent_rate_cpm": rate, "rate_unit": "cpm",
        "talk_s": {"agent": talk_agent, "customer": talk_customer},
        "talk_ratio_agent": round(talk_agent / (talk_agent + talk_customer), 3),
        "longest_customer_turn_s": round(rng.uniform(3.0, 25.0), 2),
        "greeting_ok": "greeting.incomplete" not in fired if heard else None,
        "greeting": {"greeting": True, "company": "greeting.incomplete" not in fired,
                     "agent_name": True, "bad_opening": None} if heard else None,
        "apology_ok": ("ring.late_pickup" not in fired) if heard and rings > 3 else None,
        "holds": [{"start": h["start"], "end": h["end"], "duration": h["duration_s"],
                   "announced": True, "thanked": "hold.no_thanks" not in fired,
                   "transfer": False} for h in spans("hold.too_long", 42.0)],
        "dead_air": spans("dead_air", 7.5),
        "interruptions": [{"t": s["start"], "overlap_s": round(rng.uniform(0.5, 2.0), 3)}
                          for s in spans("interruption", 1.0)],
        "backchannel_gaps": [{"start": s["start"], "end": s["end"]}
                             for s in spans("backchannel.missing", 18.0)],
        "agent_loudest_dbfs": round(rng.uniform(-22.0, -8.0), 1),
        "forbidden": [{"t": s["start"], "phrase": "我不知道", "suggestion": "我帮您确认一下"}
                      for s in spans("forbidden_phrase", 1.0)],
        "filler_count": rng.randint(0, 12) + 10 * fired.get("filler.excess", 0) if heard
        else None,
        "agent_rate_window_max": round(rate + rng.uniform(5, 40), 1) if rate else None,
        "agent_rate_window_min": round(rate - rng.uniform(5, 40), 1) if rate else None,
        "agent_rate_est_cpm": round(rng.gauss(170.0, 20.0), 1),
        "closing_ok": "closing.incomplete" not in fired if heard else None,
        "closing": {"asked_anything_else": "closing.incomplete" not in fired, "thanked": True,
                    "caller_spoke_last": False, "caller_hung_up_first": None} if heard else None,
        "score": score, "checks": checks, "alerts_by_rule": fired, "rules_skipped": [],
        "duration_s": duration, "session_id": sid, "source": source, "profile": profile,
        "language": profile[:2], "company": "诚美", "agent_name": agent, "asr_backend": asr,
        "asr_model": {"whisper": "faster-whisper-base", "vosk": "vosk-model-cn-0.22"}.get(
            asr or ""), "kept_audio": None, "status": status,
    }


def call_records(rng: random.Random, cfg: Config, fired: dict[str, int],
                 agent: str) -> list[dict[str, Any]]:
    """A recognised call's records up to its summary, in the order live writes them."""
    out: list[dict[str, Any]] = []
    t = 0.5
    for _ in range(rng.randint(2, 3)):
        out.append({"type": "ring", "t": t, "start": t, "end": t + 1.0, "freq_hz": 450.0})
        t += 4.0
    out.append({"type": "pickup", "t": t, "rings": sum(r["type"] == "ring" for r in out)})
    for turn in range(RICH_TURNS * 2):
        channel = "agent" if turn % 2 == 0 else "customer"
        text = rng.choice(AGENT_LINES if channel == "agent" else CUSTOMER_LINES)
        text = text.format(agent=agent)
        start, end = round(t, 3), round(t + len(text) * rng.uniform(0.2, 0.3), 3)
        out.append({"type": "speech", "t": start, "channel": channel, "start": start,
                    "end": end, "level_dbfs": round(rng.uniform(-26.0, -14.0), 1)})
        step = (end - start) / len(text)
        words = [{"start": round(start + i * step, 3), "end": round(start + (i + 1) * step, 3),
                  "text": ch, "prob": round(rng.uniform(0.6, 1.0), 3)}
                 for i, ch in enumerate(text) if ch not in "，。"]
        out.append({"type": "utterance", "t": start, "channel": channel, "start": start,
                    "end": end, "text": text, "words": words})
        if channel == "agent":
            rate = round(rng.gauss(165.0, 20.0), 3)
            out.append({"type": "metric", "t": end, "name": "agent_rate_window", "value": rate,
                        "unit": "cpm", "estimated": round(rate + rng.uniform(-15, 15))})
            out.append({"type": "metric", "t": end, "name": "agent_rate",
                        "value": round(rng.gauss(165.0, 10.0), 3), "unit": "cpm"})
        t = end + rng.uniform(0.2, 1.5)
    alerts = []
    for rule, n in fired.items():
        message = cfg.messages[rule]
        for _ in range(n):
            at = round(rng.uniform(out[0]["t"], t), 3)
            evidence = {"start": round(at - 5.0, 3), "limit_s": 5.0}
            alerts.append({"type": "alert", "t": at, "rule": rule,
                           "severity": message.severity, "message": _fill(message.message),
                           "say": _fill(message.say), "evidence": evidence})
    return sorted(out + alerts, key=lambda r: r["t"])


class _Anything(dict):
    def __missing__(self, key: str) -> float:
        return 5.0


def _fill(template: str) -> str:
    try:
        return template.format_map(_Anything())
    except (ValueError, KeyError, IndexError, AttributeError):
        return template


def build_store(location: str, rows: Rows) -> float:
    """Write ``rows`` into an empty store; the seconds it took."""
    started = time.perf_counter()
    with open_database(location, create=True) as db:
        with db.transaction():
            db.executemany("INSERT INTO sessions (id, started_at, mode, source, profile, agent,"
                           " company, asr_backend, status, duration_s, score, summary)"
                           " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows.sessions)
            db.executemany("INSERT INTO session_alerts (session_id, rule, count)"
                           " VALUES (?, ?, ?)", rows.alerts)
            db.executemany("INSERT INTO records (session_id, seq, type, t, body)"
                           " VALUES (?, ?, ?, ?, ?)", rows.records)
        if db.dialect == "postgresql":
            db.execute("SELECT setval(pg_get_serial_sequence('sessions', 'id'),"
                       " (SELECT max(id) FROM sessions))")
            db.execute("ANALYZE")
        else:
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return time.perf_counter() - started


def store_size(location: str) -> int:
    with open_database(location) as db:
        if db.dialect == "postgresql":
            row = db.one("SELECT pg_database_size(current_database())")
            return int(row[0]) if row else 0
    return sum(p.stat().st_size for p in Path(location).parent.glob(Path(location).name + "*"))


# --------------------------------------------------------------------------- HTTP


@contextlib.contextmanager
def serving(location: str, cfg: Config, audio_dir: Path) -> Iterator[int]:
    """The review app under waitress in a thread; yields its port, stops it on exit."""
    app = create_app(location, audio_dir, cfg)
    server = waitress.create_server(app, host="127.0.0.1", port=0, threads=8,
                                    ident="callmonitor")
    thread = threading.Thread(target=server.run, name="waitress", daemon=True)
    thread.start()
    try:
        yield int(server.effective_port)
    finally:
        # Closed from the loop's own thread, the loop ends with an empty map; then the
        # worker threads are stopped.
        server.trigger.pull_trigger(lambda: wasyncore.close_all(server._map))
        thread.join(15)
        server.task_dispatcher.shutdown()


class Client:
    """One keep-alive connection, signed in as one user."""

    def __init__(self, port: int) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        self.cookie = ""

    def send(self, method: str, path: str, body: str | None = None,
             expect: int = 200) -> tuple[http.client.HTTPResponse, bytes]:
        headers = {"Cookie": f"{COOKIE}={self.cookie}"} if self.cookie else {}
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        self.conn.request(method, path, body, headers)
        response = self.conn.getresponse()
        data = response.read()
        if response.status != expect:
            raise RuntimeError(f"{method} {path} answered {response.status}, not {expect}: "
                               f"{data[:200]!r}")
        return response, data

    def sign_in(self, name: str) -> None:
        response, _ = self.send("POST", "/login", urlencode({"name": name,
                                                             "password": PASSWORD}), 303)
        cookie = SimpleCookie(response.getheader("Set-Cookie") or "")
        self.cookie = cookie[COOKIE].value

    def close(self) -> None:
        self.conn.close()


@dataclass
class Figure:
    label: str
    times_ms: list[float]
    size: int
    matches: int | None = None

    def row(self) -> str:
        ordered = sorted(self.times_ms)
        p95 = ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]
        matches = "" if self.matches is None else str(self.matches)
        return (f"{self.label:<36} {statistics.median(ordered):>9.1f} {p95:>8.1f} "
                f"{len(ordered):>4} {self.size / 1024:>9.1f} {matches:>8}").rstrip()


def timed(client: Client, label: str, path: str, repeats: int, warm_up: bool = True,
          matches: int | None = None) -> Figure:
    if warm_up:
        client.send("GET", path)
    times, size = [], 0
    for _ in range(repeats):
        started = time.perf_counter()
        _, data = client.send("GET", path)
        times.append((time.perf_counter() - started) * 1000.0)
        size = len(data)
    return Figure(label, times, size, matches)


def timed_sign_in(port: int, repeats: int) -> Figure:
    client = Client(port)
    body = urlencode({"name": SUPERVISOR[0], "password": PASSWORD})
    times, size = [], 0
    for i in range(repeats + 1):
        started = time.perf_counter()
        _, data = client.send("POST", "/login", body, 303)
        if i:
            times.append((time.perf_counter() - started) * 1000.0)
        size = len(data)
    client.close()
    return Figure("sign-in POST (Argon2)", times, size)


def measure(location: str, cfg: Config, rows: Rows, repeats: int, audio_dir: Path) -> list[Figure]:
    for name, role, agent in (SUPERVISOR, AGENT_USER):
        add_user(location, name, role, PASSWORD, agent)
    today = datetime.now(UTC).date()
    page_size = cfg.web.page_size
    deep = max(1, min(50, math.ceil(len(rows.sessions) / page_size)))
    since, until = today - timedelta(days=39), today - timedelta(days=10)
    narrow = {"agent": "小李", "since": since.isoformat(), "until": until.isoformat(),
              "min_score": "80"}
    rich_id, rich_n = max(rows.rich.items(), key=lambda item: item[1])

    def total(**kw: Any) -> int:
        return query_sessions(location, SessionFilter(**kw), limit=1)[1]

    with serving(location, cfg, audio_dir) as port:
        supervisor, agent = Client(port), Client(port)
        supervisor.sign_in(SUPERVISOR[0])
        agent.sign_in(AGENT_USER[0])
        everything = total()
        figures = [
            timed(supervisor, "health check (one SELECT 1)", "/healthz", repeats),
            timed(supervisor, "list, page 1", "/", repeats, matches=everything),
            timed(supervisor, f"list, page {deep} by score asc",
                  f"/?sort=score&order=asc&page={deep}", repeats, matches=everything),
            timed(supervisor, f"list, page {deep} by duration",
                  f"/?sort=duration_s&page={deep}", repeats, matches=everything),
            timed(supervisor, "list, rule interruption", "/?rule=interruption", repeats,
                  matches=total(rule="interruption")),
            timed(supervisor, "list, agent + 30 days + score>=80",
                  "/?" + urlencode(narrow), repeats,
                  matches=total(agent="小李", since=since, until=until, min_score=80.0)),
            timed(agent, "list, page 1 as agent", "/", repeats, matches=total(agent="小王")),
            timed(supervisor, f"session page ({rich_n} records)", f"/sessions/{rich_id}",
                  repeats),
            timed(supervisor, f"session JSON ({rich_n} records)", f"/sessions/{rich_id}.json",
                  repeats),
            timed(supervisor, "CSV export, all sessions", "/sessions.csv", 1, warm_up=False,
                  matches=everything),
        ]
        supervisor.close()
        agent.close()
        figures.append(timed_sign_in(port, SIGN_IN_REPEATS))
    return figures


# --------------------------------------------------------------------------- report


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def run_engine(title: str, location: str, cfg: Config, rows: Rows, repeats: int,
               audio_dir: Path) -> None:
    built_s = build_store(location, rows)
    size = store_size(location)
    print(f"\n{title}: built in {built_s:.1f} s; {len(rows.sessions)} sessions, "
          f"{len(rows.alerts)} session_alerts rows, {len(rows.records)} records; "
          f"{size / 2**20:.1f} MiB")
    figures = measure(location, cfg, rows, repeats, audio_dir)
    print(f"{'request':<36} {'median ms':>9} {'p95 ms':>8} {'n':>4} {'KiB':>9} {'matches':>8}")
    for figure in figures:
        print(figure.row())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=5000)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--postgres", action=argparse.BooleanOptionalAction,
                        default=bool(postgres_available()))
    args = parser.parse_args()
    started = time.monotonic()
    cfg = load_config("zh-CN")
    rows = make_rows(max(1, args.sessions), cfg)
    print(f"callmonitor review app: {len(rows.sessions)} sessions ({len(rows.rich)} with "
          f"their records), {args.repeats} requests per figure after one warm-up")
    print(f"Python {platform.python_version()}, psycopg {version('psycopg')}, "
          f"Flask {version('flask')}, waitress {version('waitress')}; {os.cpu_count()} cores")
    load_before = loadavg()
    print(f"load average (1, 5, 15 min) before: {load_before}")
    with tempfile.TemporaryDirectory(prefix="cm-bench-web-") as tmp:
        audio_dir = Path(tmp) / "audio"
        run_engine(f"SQLite {sqlite3.sqlite_version}", str(Path(tmp) / "calls.sqlite3"), cfg,
                   rows, args.repeats, audio_dir)
        if args.postgres:
            with PostgresServer() as pg:
                url = pg.create_database("bench_web")
                with open_database(url, create=True) as db:
                    row = db.one("SHOW server_version")
                run_engine(f"PostgreSQL {row[0] if row else '?'}", url, cfg, rows,
                           args.repeats, audio_dir)
        elif not postgres_available():
            print(f"\nPostgreSQL: skipped ({postgres_available().reason})")
    print(f"\nload average (1, 5, 15 min) after: {loadavg()} (before: {load_before}); "
          f"{time.monotonic() - started:.0f} s in all")


if __name__ == "__main__":
    main()
