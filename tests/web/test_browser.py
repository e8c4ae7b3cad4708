"""The review app as a supervisor and an agent use it: `callmonitor serve` in its own process,
Debian's headless Chromium, sessions made by real replays (Whisper for the words).

The truth is what the store holds for each session: the alerts and utterances the page must
show, and the audio position a click on the timeline must seek to (the timeline maps its x
linearly onto the call's seconds between ``data-x0`` and ``data-x1``).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from monitor.config import load_config
from monitor.sinks.audio import AudioKeeper, kept_audio_name
from monitor.sinks.store import StoreSink
from monitor.storage.sessions import default_audio_dir, get_session, session_records
from monitor.storage.users import add_user
from monitor.storage.writer import SessionWriter
from testkit.replay import replay_records
from testkit.review_app import PASSWORD, Floor, serving, sign_in

pytestmark = pytest.mark.slow

def _replay(db: str, wav: Path, agent: str, recognizer: object | None) -> int:
    """What `callmonitor replay --keep-audio` does, with the test session's loaded model."""
    cfg = load_config("zh-CN", {"company": "诚美", "agent_name": agent})
    writer = SessionWriter(db, mode="replay", source=wav.name, profile="zh-CN", agent=agent,
                           company="诚美", asr_backend=writer_backend(recognizer))
    audio_format = cfg.store.audio_format  # Opus in Ogg: what a site keeps by default
    name = kept_audio_name(writer.session_id, audio_format)
    keeper = AudioKeeper(default_audio_dir(db) / name, audio_format, cfg.store.audio_bitrate_kbps)
    writer.keep_audio(name)
    replay_records(wav, cfg, recognizer, sinks=[keeper, StoreSink(writer)],  # type: ignore[arg-type]
                   summary_extra={"session_id": writer.session_id,
                                  "asr_backend": writer_backend(recognizer)})
    return writer.session_id


def writer_backend(recognizer: object | None) -> str | None:
    return "whisper" if recognizer else None


@pytest.fixture(scope="module")
def floor(tmp_path_factory, synth_call, whisper_zh) -> Iterator[Floor]:
    db = str(tmp_path_factory.mktemp("floor") / "calls.sqlite3")
    own = _replay(db, synth_call("rules/interruption").wav, "小王", whisper_zh)
    other = _replay(db, synth_call("rules/dead_air_near").wav, "小李", None)
    add_user(db, "zhang", "supervisor", PASSWORD)
    add_user(db, "wang", "agent", PASSWORD, agent="小王")
    add_user(db, "li", "agent", PASSWORD, agent="小李")
    with serving(db) as url:
        yield Floor(url, db, own, other)


def _screenshot(page, name: str) -> None:
    """For a person to look at: $CALLMONITOR_SCREENSHOTS/NAME when that folder is given."""
    folder = os.environ.get("CALLMONITOR_SCREENSHOTS")
    if folder:
        page.screenshot(path=str(Path(folder) / name), full_page=True)


def _click_at(page, t: float) -> None:
    """Click the timeline where it draws second ``t`` of the call."""
    svg = page.locator("[data-testid=timeline]")
    box = svg.bounding_box()
    x0, x1, t0, t1 = (float(svg.get_attribute(a)) for a in ("data-x0", "data-x1", "data-t0",
                                                             "data-t1"))
    x = box["x"] + x0 + (t - t0) / (t1 - t0) * (x1 - x0)
    page.mouse.click(x, box["y"] + box["height"] / 2)


def test_a_supervisor_reviews_a_replayed_session_and_the_timeline_seeks_the_audio(
        browser, floor):
    records = list(session_records(floor.db, floor.own))
    alerts = [r for r in records if r["type"] == "alert"]
    utterances = [r for r in records if r["type"] == "utterance"]
    assert {a["rule"] for a in alerts} >= {"interruption"} and utterances
    with browser.page(viewport={"width": 1440, "height": 1000}) as page:
        sign_in(page, floor.url, "zhang")
        rows = page.locator("[data-testid=session-row]")
        assert sorted(int(r.get_attribute("data-id")) for r in rows.all()) == sorted(
            [floor.own, floor.other])
        _screenshot(page, "sessions.png")
        page.click(f"[data-testid=session-row][data-id='{floor.own}'] a")
        page.wait_for_selector("[data-testid=timeline]")

        markers = page.locator("[data-testid=alert-marker]").all()
        assert sorted((m.get_attribute("data-rule"), round(float(m.get_attribute("data-t")), 2))
                      for m in markers) == sorted((a["rule"], round(a["t"], 2)) for a in alerts)
        lines = page.locator("[data-testid=transcript-line][data-kind=line]")
        assert lines.count() == len(utterances)
        shown = lines.all_inner_texts()
        for utterance, text in zip(utterances, shown, strict=True):
            assert utterance["text"] in text

        audio = page.locator("[data-testid=audio]")
        page.wait_for_function("document.querySelector('[data-testid=audio]').readyState >= 1")
        duration = audio.evaluate("a => a.duration")
        summary = records[-1]
        assert abs(duration - summary["duration_s"]) < 0.05
        for t in (4.0, 0.6 * duration):
            _click_at(page, t)
            page.wait_for_function(
                f"Math.abs(document.querySelector('[data-testid=audio]').currentTime - {t})"
                " < 0.25", timeout=5000)
        _screenshot(page, "session.png")


def test_the_kept_opus_plays_from_where_the_page_seeks(browser, floor):
    """Chromium seeks in the kept Ogg Opus: the whole call is seekable (which needs the
    server's Range answers), and after currentTime = t it plays on from t."""
    summary = list(session_records(floor.db, floor.own))[-1]
    assert get_session(floor.db, floor.own).audio == f"session-{floor.own}.opus"
    with browser.page() as page:
        sign_in(page, floor.url, "zhang")
        ranged = []
        page.on("request", lambda r: ranged.append(r.headers.get("range"))
                if urlsplit(r.url).path.endswith("/audio") else None)
        page.goto(f"{floor.url}/sessions/{floor.own}")
        page.wait_for_function("document.querySelector('[data-testid=audio]').readyState >= 1")
        audio = page.locator("[data-testid=audio]")
        duration = audio.evaluate("a => a.duration")
        assert abs(duration - summary["duration_s"]) < 0.05
        assert audio.evaluate("a => a.seekable.length ? a.seekable.end(0) : 0") >= duration - 0.05
        t = round(0.6 * duration, 1)
        seeked_at = audio.evaluate(
            """(a, t) => new Promise(done => {
                 a.muted = true;
                 a.addEventListener("seeked", () => done(a.currentTime), {once: true});
                 a.currentTime = t;
               })""", t)
        assert abs(seeked_at - t) < 0.05
        now = audio.evaluate(
            """(a, until) => new Promise(done => {
                 const stop = setTimeout(() => done(a.currentTime), 5000);
                 a.addEventListener("timeupdate", () => {
                   if (a.currentTime > until) { clearTimeout(stop); done(a.currentTime); }
                 });
                 a.play();
               })""", t + 0.5)
        assert t + 0.5 < now < t + 3
        played_from = audio.evaluate("a => a.played.length ? a.played.start(0) : -1")
        assert abs(played_from - t) < 0.1
        assert any(r and r.startswith("bytes=") for r in ranged), ranged


def test_an_agent_sees_only_their_own_sessions(browser, floor):
    own_text = next(r["text"] for r in session_records(floor.db, floor.own)
                    if r["type"] == "utterance")
    with browser.page() as page:
        sign_in(page, floor.url, "li")
        ids = [int(r.get_attribute("data-id"))
               for r in page.locator("[data-testid=session-row]").all()]
        assert ids == [floor.other]
        response = page.goto(f"{floor.url}/sessions/{floor.own}")
        assert response is not None and response.status == 404
        assert own_text not in page.content()
        for path in (f"/sessions/{floor.own}.json", f"/sessions/{floor.own}/audio"):
            assert page.request.get(f"{floor.url}{path}").status == 404
        assert page.request.get(f"{floor.url}/sessions/{floor.other}.json").status == 200


def test_a_request_without_a_sign_in_is_refused(browser, floor):
    own_text = next(r["text"] for r in session_records(floor.db, floor.own)
                    if r["type"] == "utterance")
    with browser.page() as page:
        page.goto(f"{floor.url}/sessions/{floor.own}")
        assert page.url.startswith(f"{floor.url}/login")
        assert own_text not in page.content()
    for path in (f"/sessions/{floor.own}.json", f"/sessions/{floor.own}/audio",
                 "/sessions.csv"):
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"{floor.url}{path}", timeout=5)
        assert refused.value.code == 401
        assert own_text.encode() not in refused.value.read()


def _audio_near(page, t: float, within: float = 0.25) -> None:
    page.wait_for_function(
        f"Math.abs(document.querySelector('[data-testid=audio]').currentTime - {t}) < {within}",
        timeout=5000)


def test_a_note_pinned_at_a_moment_seeks_there_for_the_agent_as_an_alert_to_its_start(
        browser, floor, synth_call):
    """The supervisor pins a note where the timeline was clicked; the agent follows the note's
    link and the audio stands at that moment. An interruption alert's link seeks to where the
    agent started talking over the customer (the synthesised truth), not 0.5 s later when the
    rule decided."""
    moment = 5.0
    with browser.page(viewport={"width": 1440, "height": 1000}) as page:
        sign_in(page, floor.url, "zhang")
        page.goto(f"{floor.url}/sessions/{floor.own}")
        page.wait_for_selector("[data-testid=timeline][data-x1]")
        _click_at(page, moment)
        assert page.input_value("[data-testid=note-t]") == f"{moment:.1f}"
        page.fill("[data-testid=note-body]", "这里先让客户说完")
        page.click("[data-testid=note-submit]")
        page.wait_for_selector("[data-testid=note]")
    [(note_id, t)] = _rows(floor.db, "SELECT id, t FROM notes WHERE session_id = ?", floor.own)
    assert t == moment
    alerts = [r for r in session_records(floor.db, floor.own)
              if r["type"] == "alert" and r["rule"] == "interruption"]
    agent = [u for u in synth_call("rules/interruption").truth["utterances"]
             if u["channel"] == "agent"]
    with browser.page(viewport={"width": 1440, "height": 1000}) as page:
        sign_in(page, floor.url, "wang")
        page.goto(f"{floor.url}/notes")
        page.click(f"[data-testid=note-row][data-id='{note_id}'] [data-testid=note-link]")
        page.wait_for_selector("[data-testid=timeline]")
        _audio_near(page, moment)
        for index, (alert, said) in enumerate(zip(alerts, agent[1:], strict=True)):
            page.locator("[data-testid=alert-item][data-rule=interruption]").nth(index).click()
            start = alert["evidence"]["start"]
            assert start == pytest.approx(said["start"], abs=0.3)
            assert alert["t"] - start > 0.3
            _audio_near(page, start, 0.1)
        page.click("[data-testid=note-acknowledge]")
        page.wait_for_selector("[data-testid=note-ack]")
        _screenshot(page, "coaching.png")
    assert _rows(floor.db, "SELECT acknowledged_by FROM notes WHERE id = ?", note_id) == [
        ("wang",)]


def _rows(db: str, sql: str, *params: object) -> list[tuple[object, ...]]:
    with contextlib.closing(sqlite3.connect(db)) as conn:
        return conn.execute(sql, params).fetchall()


NARROW = {"width": 390, "height": 844}


def test_every_page_fits_a_phone_390_px_wide(browser, floor):
    """No sideways scrolling on the list, a session and the trends, and the list's score and
    alerts inside the screen."""
    with browser.page(viewport=NARROW) as page:
        sign_in(page, floor.url, "zhang")
        for path in ("/", f"/sessions/{floor.own}", "/trends", "/search?q=的"):
            page.goto(f"{floor.url}{path}")
            page.wait_for_load_state("load")
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= NARROW["width"], f"{path} is {width} px wide"
            if path == "/":
                cells = page.locator("[data-testid=score-cell], [data-testid=alerts-cell]")
                assert cells.count() == 4
                for cell in cells.all():
                    box = cell.bounding_box()
                    assert box and box["x"] >= 0 and box["x"] + box["width"] <= NARROW["width"]
                    assert box["width"] > 0 and box["height"] > 0
                assert page.locator("[data-testid=nav-trends]").is_visible()
            _screenshot(page, f"narrow{path.replace('/', '-').split('?')[0] or '-list'}.png")


def test_a_search_hit_opens_its_session_at_the_line(browser, floor):
    """Search for words Whisper heard in the call; the hit's link seeks the audio to the line
    that holds them, and the transcript marks the line spoken at that moment (in this call of
    interruptions, the other side's line may have begun first and still run)."""
    lines = [r for r in session_records(floor.db, floor.own) if r["type"] == "utterance"]
    target = next(u for u in reversed(lines) if len(u["text"]) >= 4)
    words = target["text"][:4]
    with browser.page(viewport={"width": 1280, "height": 900}) as page:
        sign_in(page, floor.url, "wang")
        page.goto(f"{floor.url}/search?q={words}")
        hit = page.locator(f"[data-testid=hit][data-session='{floor.own}']").first
        assert words in hit.locator("mark").first.inner_text()
        hit.locator("a").click()
        page.wait_for_selector("[data-testid=timeline]")
        page.wait_for_function(
            f"Math.abs(document.querySelector('[data-testid=audio]').currentTime"
            f" - {target['start']}) < 0.25", timeout=5000)
        current = page.locator("[data-testid=transcript-line][aria-current=true]")
        start, end = (float(current.get_attribute(a)) for a in ("data-t", "data-end"))
        assert start <= target["start"] + 0.01 and target["start"] <= end
