"""Trends, transcript search, time zones and the wording of alerts in the review app, through
Flask's test client over real stores (SQLite, and PostgreSQL for search) written by the real
``SessionWriter``. Each session's summary, start and utterances are chosen here, so the truth
(weekly means, alerts per hour, which lines hold a query, which day a session falls on in
Shanghai) is computed by hand in the tests."""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
from dataclasses import fields
from functools import cache
from html import unescape
from typing import Any

import pytest
from click.testing import CliRunner

from monitor.cli import main
from monitor.config import ALERT_EVIDENCE, RULE_IDS, LabelConfig, load_config
from monitor.errors import CallmonitorError
from monitor.storage.database import open_database
from monitor.storage.search import search_transcripts
from monitor.storage.users import add_user, set_time_zone
from monitor.storage.writer import SessionWriter
from testkit.review_app import client_with_token, review_app

PASSWORD = "trend-password"


@cache
def profile(name: str = "zh-CN"):
    """A profile's settings, read once for the module (reading them costs a tenth of a second)."""
    return load_config(name)


def store_call(db: Any, agent: str, started_at: str, summary: dict[str, Any], *,
               records: list[dict[str, Any]] = (), language: str = "zh-CN") -> int:
    """One finished session as the writer stores it, then moved to ``started_at`` (UTC)."""
    writer = SessionWriter(db, mode="replay", source="call.wav", profile=language, agent=agent,
                           company="", asr_backend=None, store=profile().store)
    for record in records:
        writer.add(record)
    writer.add({"type": "summary", "t": summary.get("duration_s", 0.0), **summary})
    writer.close("done")
    with open_database(db) as conn:
        conn.execute("UPDATE sessions SET started_at = ? WHERE id = ?",
                     (started_at, writer.session_id))
    return writer.session_id


def utterance(t: float, text: str, channel: str = "agent") -> dict[str, Any]:
    return {"type": "utterance", "t": t, "channel": channel, "start": t, "end": t + 1.0,
            "text": text, "words": []}


def signed_in(app, name):
    return client_with_token(app, name)


def app_for(db, **web):
    return review_app(db, db.parent / "audio", **web)


def summary(duration_s, score, rate, share, alerts):
    return {"duration_s": duration_s, "score": score, "agent_rate_cpm": rate,
            "talk_ratio_agent": share, "alerts_by_rule": alerts}


# ---- trends -----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def trend_store(tmp_path_factory):
    """Two agents over two weeks; one call of 王 is on Sunday evening UTC, which is already
    Monday of the next week in Shanghai."""
    db = tmp_path_factory.mktemp("trends") / "calls.sqlite3"
    store_call(db, "王", "2025-03-03T09:00:00+00:00", summary(600.0, 80.0, 150.0, 0.5,
                                                             {"dead_air": 2}))
    store_call(db, "王", "2025-03-09T17:00:00+00:00",
               summary(1200.0, 90.0, 170.0, 0.6, {"dead_air": 1, "interruption": 3}))
    store_call(db, "王", "2025-03-12T10:00:00+00:00", summary(1800.0, 70.0, None, None,
                                                             {"dead_air": 1}))
    store_call(db, "李", "2025-03-04T10:00:00+00:00", summary(3600.0, 100.0, 140.0, 0.4, {}))
    add_user(db, "boss", "supervisor", PASSWORD)
    add_user(db, "wang", "agent", PASSWORD, agent="王")
    add_user(db, "boss-sh", "supervisor", PASSWORD, time_zone="Asia/Shanghai")
    return db


def weeks_of(client, query=""):
    response = client.get(f"/trends.json{query}")
    assert response.status_code == 200, response.text
    return {w["week"]: w for w in response.get_json()["weeks"]}


def test_trend_figures_equal_the_hand_computed_weekly_ones(trend_store):
    app = app_for(trend_store)
    boss = signed_in(app, "boss")
    wang = weeks_of(boss, "?agent=王")
    assert list(wang) == ["2025-03-03", "2025-03-10"]
    first = wang["2025-03-03"]  # 600 s + 1200 s = half an hour of calls
    assert first["calls"] == 2 and first["score"] == pytest.approx(85.0)
    assert first["handle_time_s"] == pytest.approx(900.0)
    assert first["pace"] == pytest.approx(160.0) and first["talk_share"] == pytest.approx(0.55)
    assert first["alerts_per_hour"] == pytest.approx({"dead_air": 6.0, "interruption": 6.0})
    second = wang["2025-03-10"]
    assert second["calls"] == 1 and second["pace"] is None and second["talk_share"] is None
    assert second["alerts_per_hour"] == pytest.approx({"dead_air": 2.0})

    team = weeks_of(boss)
    week = team["2025-03-03"]  # 王's two calls and 李's hour: 1.5 h
    assert week["calls"] == 3 and week["score"] == pytest.approx(90.0)
    assert week["handle_time_s"] == pytest.approx(1800.0)
    assert week["pace"] == pytest.approx(460.0 / 3) and week["talk_share"] == pytest.approx(0.5)
    assert week["alerts_per_hour"] == pytest.approx({"dead_air": 2.0, "interruption": 2.0})

    # Weeks run Monday to Sunday on the user's clock: in Shanghai the Sunday 17:00 UTC call
    # is Monday 01:00, the next week.
    shanghai = weeks_of(signed_in(app, "boss-sh"), "?agent=王")
    assert {w: v["calls"] for w, v in shanghai.items()} == {"2025-03-03": 1, "2025-03-10": 2}
    assert shanghai["2025-03-10"]["alerts_per_hour"] == pytest.approx(
        {"dead_air": 2 * 3600 / 3000, "interruption": 3 * 3600 / 3000})

    # Only [web] trend_weeks weeks back from the latest.
    assert list(weeks_of(signed_in(app_for(trend_store, trend_weeks=1), "boss"), "?agent=王")) \
        == ["2025-03-10"]


def test_the_trend_page_draws_a_chart_per_figure_and_shows_the_json_numbers(trend_store):
    boss = signed_in(app_for(trend_store), "boss")
    html = boss.get("/trends?agent=王").text
    charts = re.findall(r'data-testid="chart" data-key="([^"]+)"', html)
    assert charts == ["score", "pace", "talk_share", "handle_time", "rule-dead_air",
                      "rule-interruption"]
    for chart in re.findall(r"<svg viewBox.*?</svg>", html, re.DOTALL):
        assert chart.count("<circle") in (1, 2)  # a point per week that has the figure
    rows = re.findall(r'data-testid="trend-week" data-week="([^"]+)">(.*?)</tr>', html,
                      re.DOTALL)
    cells = {week: [unescape(re.sub(r"<[^>]+>", "", c)).strip()
                    for c in re.findall(r"<td[^>]*>(.*?)</td>", body, re.DOTALL)]
             for week, body in rows}
    assert cells["2025-03-03"] == ["2025-03-03", "2", "85", "160", "55%", "15:00", "6.0", "6.0"]
    assert cells["2025-03-10"] == ["2025-03-10", "1", "70", "", "", "30:00", "2.0", "0.0"]
    assert "<script" not in html.split("</main>")[0]


def test_an_agent_sees_only_their_own_trends(trend_store):
    app = app_for(trend_store)
    wang = signed_in(app, "wang")
    assert wang.get("/trends.json").get_json()["agent"] == "王"
    assert list(weeks_of(wang)) == ["2025-03-03", "2025-03-10"]
    for path in ("/trends?agent=李", "/trends.json?agent=李", "/trends.json?agent="):
        assert wang.get(path).status_code == 404
    assert 'data-testid="agent-picker"' not in wang.get("/trends").text
    assert app.test_client().get("/trends.json").status_code == 401


# ---- search -----------------------------------------------------------------------------

LINES = {"王": ["您好，请问有什么可以帮您", "我帮您办理退款", "Your REFUND is on its way"],
         "李": ["退款已经到账了", "<b>不是标签</b> 100% 好_的"]}


def fill_search_store(db) -> dict[str, int]:
    ids = {}
    for n, (agent, texts) in enumerate(LINES.items()):
        ids[agent] = store_call(db, agent, f"2025-03-0{n + 1}T09:00:00+00:00",
                                summary(60.0, 90.0, 150.0, 0.5, {}),
                                records=[utterance(2.0 + 3 * i, text)
                                         for i, text in enumerate(texts)])
    return ids


def found(db, query, agent=None):
    return sorted((hit.agent, hit.text) for hit in
                  search_transcripts(db, query, agent=agent, limit=50))


def truth(query, agent=None):
    return sorted((a, text) for a, texts in LINES.items() for text in texts
                  if query.lower() in text.lower() and agent in (None, a))


QUERIES = ["退款", "有什么可以", "refund", "Refund is on", "100%", "_", "好_的", "<b>",
           "帮", "没有这句话"]


def check_search(db) -> None:
    for query in QUERIES:
        assert found(db, query) == truth(query), query
        assert found(db, query, agent="李") == truth(query, "李"), query
    assert truth("退款") and truth("refund") and truth("_") == truth("好_的")


def test_search_finds_chinese_and_english_substrings_of_any_length(tmp_path):
    db = tmp_path / "calls.sqlite3"
    fill_search_store(db)
    check_search(db)
    with sqlite3.connect(db) as conn:  # the trigram index itself answers a long query
        rows = conn.execute("SELECT COUNT(*) FROM transcript_fts WHERE transcript_fts MATCH"
                            " '\"有什么可以\"'").fetchone()
    assert rows == (1,)
    with open_database(db) as conn:  # a session removed (prune) leaves the index with it
        conn.execute("DELETE FROM sessions WHERE agent = ?", ("李",))
    assert found(db, "退款") == truth("退款", "王") and found(db, "_") == []
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT COUNT(*) FROM transcript_fts WHERE transcript_fts MATCH"
                            " '\"已经到账\"'").fetchone() == (0,)


def test_an_older_store_gets_its_transcripts_indexed_when_opened(tmp_path):
    db = tmp_path / "calls.sqlite3"
    fill_search_store(db)
    older = tmp_path / "older.sqlite3"  # a new location: this process has not prepared it
    shutil.copy(db, older)
    with sqlite3.connect(older) as conn:
        conn.execute("DROP TABLE transcript_fts")
        conn.execute("DROP TABLE transcript_lines")
    check_search(older)


def test_search_in_postgresql_uses_pg_trgm(postgres_server):
    url = postgres_server.create_database("search")
    fill_search_store(url)
    check_search(url)
    with open_database(url) as db:
        assert db.rows("SELECT indexname FROM pg_indexes WHERE tablename = 'transcript_lines'"
                       " AND indexdef LIKE '%gin_trgm_ops%'") == [("transcript_lines_trgm",)]
        db.execute("DROP TABLE transcript_lines")
    # An older store: the same database under a URL this process has not prepared yet.
    older = url + ("&" if "?" in url else "?") + "application_name=older"
    check_search(older)


def test_the_search_page_marks_hits_safely_and_links_to_the_moment(tmp_path):
    db = tmp_path / "calls.sqlite3"
    ids = fill_search_store(db)
    add_user(db, "boss", "supervisor", PASSWORD)
    add_user(db, "wang", "agent", PASSWORD, agent="王")
    app = app_for(db)
    boss = signed_in(app, "boss")
    html = boss.get("/search?q=退款").text
    hits = re.findall(r'data-testid="hit" data-session="(\d+)" data-t="([\d.]+)">\s*'
                      r'<a class="hit-link" href="([^"]+)"', html)
    assert sorted(hits) == sorted([(str(ids["王"]), "5.0", f"/sessions/{ids['王']}?t=5.0"),
                                   (str(ids["李"]), "2.0", f"/sessions/{ids['李']}?t=2.0")])
    assert "我帮您办理<mark>退款</mark>" in html and "<mark>退款</mark>已经到账了" in html
    html = boss.get("/search?q=<b>").text
    assert "<b>不是标签" not in html and "<mark>&lt;b&gt;</mark>不是标签" in html
    assert "<mark>REFUND</mark>" in boss.get("/search?q=refund").text
    own = signed_in(app, "wang").get("/search?q=退款").text  # an agent: own calls only
    assert "已经到账" not in own and "办理<mark>退款</mark>" in own


# ---- time zones ---------------------------------------------------------------------------

# (started_at UTC, the day it is in Shanghai)
EDGES = [("2025-03-01T15:59:59+00:00", "2025-03-01"), ("2025-03-01T16:00:00+00:00", "2025-03-02"),
         ("2025-03-02T15:59:59+00:00", "2025-03-02"), ("2025-03-02T16:00:00+00:00", "2025-03-03")]


@pytest.fixture(scope="module")
def edge_store(tmp_path_factory):
    db = tmp_path_factory.mktemp("zones") / "calls.sqlite3"
    ids = [store_call(db, "王", started, summary(60.0, 90.0, 150.0, 0.5, {}))
           for started, _ in EDGES]
    add_user(db, "boss", "supervisor", PASSWORD)
    add_user(db, "sh", "supervisor", PASSWORD, time_zone="Asia/Shanghai")
    return db, ids


def listed(client, query):
    response = client.get(f"/{query}")
    assert response.status_code == 200
    return [int(i) for i in re.findall(r'data-testid="session-row" data-id="(\d+)"',
                                       response.text)]


def test_a_day_filter_runs_midnight_to_midnight_in_the_users_time_zone(edge_store):
    db, ids = edge_store
    site_utc = app_for(db)
    site_sh = app_for(db, time_zone="Asia/Shanghai")
    for client in (signed_in(site_utc, "sh"), signed_in(site_sh, "boss")):
        for day in ("2025-03-01", "2025-03-02", "2025-03-03"):
            want = [i for i, (_, local) in zip(ids, EDGES, strict=True) if local == day]
            assert sorted(listed(client, f"?since={day}&until={day}")) == want, day
        page = client.get(f"/sessions/{ids[1]}").text
        assert "2025-03-02 00:00:00" in page and "Asia/Shanghai" in page
    utc = signed_in(site_utc, "boss")  # the site's UTC: days are UTC days
    assert sorted(listed(utc, "?since=2025-03-01&until=2025-03-01")) == ids[:2]
    assert "2025-03-01 16:00:00" in utc.get(f"/sessions/{ids[1]}").text
    set_time_zone(db, "boss", "Asia/Shanghai")  # a user's own zone wins over the site's
    try:
        assert listed(signed_in(site_utc, "boss"), "?since=2025-03-03&until=2025-03-03") == \
            [ids[3]]
    finally:
        set_time_zone(db, "boss", None)


def test_time_zones_are_checked_where_they_are_given(tmp_path):
    with pytest.raises(CallmonitorError, match="time_zone"):
        load_config("zh-CN", {"web": {"time_zone": "Asia/Beijing"}})
    db = tmp_path / "calls.sqlite3"
    with pytest.raises(CallmonitorError, match="unknown time zone"):
        add_user(db, "x", "agent", PASSWORD, time_zone="UTC+8")
    runner = CliRunner()
    result = runner.invoke(main, ["users", "add", "sh", "--role", "agent", "--time-zone",
                                  "Asia/Shanghai", "--password-stdin", "--db", str(db)],
                           input=PASSWORD + "\n")
    assert result.exit_code == 0, result.output
    result = runner.invoke(main, ["users", "list", "--db", str(db)])
    assert result.output.split() == ["sh", "agent", "sh", "Asia/Shanghai"]


# ---- alert wording --------------------------------------------------------------------------

PART_KEYS = [f.name for f in fields(LabelConfig) if f.name != "separator"]


@pytest.mark.parametrize("language", ["zh-CN", "en-US"])
def test_no_alert_message_on_the_page_shows_an_internal_key(tmp_path, language):
    """Every rule's alert, its evidence listing every part key there is (as the engine
    words it: with the keys), shown on a session page in the profile's words."""
    cfg = profile(language)
    alerts = []
    for n, rule in enumerate(RULE_IDS):
        evidence = {**ALERT_EVIDENCE[rule], **(
            {"missing": ", ".join(PART_KEYS)} if "missing" in ALERT_EVIDENCE[rule] else {})}
        wording = cfg.messages[rule]
        alerts.append({"type": "alert", "t": 1.0 + n, "rule": rule,
                       "severity": wording.severity, "evidence": evidence,
                       "message": wording.message.format(**evidence),
                       "say": wording.say.format(**evidence)})
    db = tmp_path / "calls.sqlite3"
    session = store_call(db, "王", "2025-03-01T09:00:00+00:00",
                         summary(60.0, 50.0, 150.0, 0.5, {}), records=alerts, language=language)
    assert any("agent_name" in a["message"] for a in alerts)  # what the page must not show
    add_user(db, "boss", "supervisor", PASSWORD)
    html = signed_in(app_for(db), "boss").get(f"/sessions/{session}").text
    shown = [unescape(m) for m in re.findall(r'<span class="alert-message">(.*?)</span>', html)]
    data = json.loads(unescape(re.search(r'id="timeline-data">(.*?)</script>', html).group(1)))
    assert len(shown) == len(RULE_IDS) == len(data["alerts"])
    labels = cfg.labels.separator.join(getattr(cfg.labels, k) for k in PART_KEYS)
    for alert, text, drawn in zip(sorted(alerts, key=lambda a: a["t"]), shown, data["alerts"],
                                  strict=True):
        evidence = dict(alert["evidence"])
        if "missing" in evidence:
            evidence["missing"] = labels
            assert labels in text
        assert text == drawn["message"] == cfg.messages[alert["rule"]].message.format(**evidence)
        words = set(re.findall(r"[a-z_]+", text))
        assert not words & {k for k in PART_KEYS if "_" in k}, text
        if language == "zh-CN":
            assert not words & set(PART_KEYS), text
