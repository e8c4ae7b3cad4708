"""The live floor in the browser: two `callmonitor replay --realtime` calls into one store while a
supervisor watches `/live` in Debian's headless Chromium, served by `callmonitor serve`.

The truth is the store: a thread reads each session's stored live state every 20 ms and notes
the wall time at which each phase, each alert and the end was first stored (the writer's own
stamp, ``live_at``, of the state it reads); the page notes
(MutationObserver, ``Date.now()``, the same clock) when its rows first showed each. Every change
must reach the page within 1 s of being stored, and the ended calls must leave it.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import subprocess
import sys
import threading
import time
from datetime import datetime

import pytest

from monitor.config import load_config
from monitor.storage.users import add_user
from testkit import synth
from testkit.review_app import PASSWORD, REPO, serving, sign_in

pytestmark = pytest.mark.slow

# Two short calls (7 s and 10 s, short clips: --asr none judges no words): one rings before the
# agent answers; in the other both sides stay silent for 5.8 s after the agent's first words
# (dead air after [rules."dead_air"] limit_s, 5 s).
RINGING = """
name = "live_ringing"
language = "zh"
seed = 201
noise_dbfs = -60.0
tail_s = 1.0
[ringback]
country = "CN"
rings = 1
[[events]]
channel = "agent"
clip = "a_greet_bad_short"
[[events]]
channel = "customer"
clip = "c_last_week"
after = 0.6
"""
SILENT = """
name = "live_silent"
language = "zh"
seed = 202
noise_dbfs = -60.0
tail_s = 1.0
[[events]]
channel = "agent"
clip = "a_greet_bad_short"
at = 0.5
[[events]]
channel = "customer"
clip = "c_expensive"
after = 5.8
"""
# The page's first sight of each row's phase and alerts, and of a row gone.
WATCH_ROWS = """() => {
  window.__seen = {};
  const note = (key) => { if (!(key in window.__seen)) window.__seen[key] = Date.now(); };
  const shown = new Set();
  const look = () => {
    const now = new Set();
    for (const row of document.querySelectorAll('[data-testid=live-row]')) {
      now.add(row.dataset.id);
      note(row.dataset.id + ':phase:' + row.dataset.phase);
      for (const chip of row.querySelectorAll('[data-testid=live-alerts] [data-rule]'))
        note(row.dataset.id + ':alert:' + chip.dataset.rule);
    }
    for (const id of shown) if (!now.has(id)) note(id + ':gone');
    if (now.size >= 2) note('both');
    now.forEach((id) => shown.add(id));
  };
  new MutationObserver(look).observe(document.body, {subtree: true, childList: true,
                                                       attributes: true});
  look();
}"""


class StoreWatch(threading.Thread):
    """Notes the wall time each session's phase, alert and end was first seen stored."""

    def __init__(self, db: str) -> None:
        super().__init__(daemon=True)
        self.db, self.seen, self.stop = db, {}, threading.Event()

    def run(self) -> None:
        conn = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True)
        while not self.stop.wait(0.02):
            now = time.time()
            for sid, status, live, live_at in conn.execute(
                    "SELECT id, status, live, live_at FROM sessions"):
                state = json.loads(live) if live else {"phase": "ringing"}  # just started
                # The writer's stamp of the state read, unless a poll came late (load).
                stamp = min(now, datetime.fromisoformat(live_at).timestamp()) if live_at else now
                keys = [f"{sid}:phase:{state.get('phase')}"] if status == "running" else [
                    f"{sid}:gone"]
                keys += [f"{sid}:alert:{rule}" for rule in state.get("alerts_by_rule", {})]
                for key in keys:
                    self.seen.setdefault(key, stamp)
        conn.close()


def test_the_supervisors_live_floor_follows_two_calls_within_a_second(browser, tmp_path):
    db = str(tmp_path / "calls.sqlite3")
    add_user(db, "zhang", "supervisor", PASSWORD)
    calls = []
    for text in (RINGING, SILENT):
        scenario = tmp_path / (text.split('"')[1] + ".toml")
        scenario.write_text(text, encoding="utf-8")
        calls.append(synth.synthesize_file(scenario, tmp_path).wav)
    watch = StoreWatch(db)
    replays: list[subprocess.Popen] = []
    with serving(db) as url, contextlib.ExitStack() as ending:
        ending.callback(_stop, watch, replays)
        with browser.page(viewport={"width": 1280, "height": 800}) as page:
            sign_in(page, url, "zhang")
            page.goto(f"{url}/live")
            page.wait_for_selector("[data-testid=live-link][data-state=live]")
            page.evaluate(WATCH_ROWS)
            watch.start()
            for wav, agent in zip(calls, ("小王", "小李"), strict=True):
                replays.append(subprocess.Popen(
                    [sys.executable, "-m", "monitor", "replay", str(wav), "--realtime",
                     "--asr", "none", "--db", db, "--agent-name", agent], cwd=REPO,
                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True))
            call = _follow_the_silent_call(page, url)
            for replay in replays:
                assert replay.wait(timeout=60) == 0, replay.stderr.read() if replay.stderr else ""
            call.wait_for_selector("[data-testid=status]:text('complete')", timeout=3000)
            grown = call.evaluate("window.__seen")
            markers = call.locator("[data-testid=alert-marker][data-rule=dead_air]").count()
            page.wait_for_function("document.querySelectorAll('[data-testid=live-row]')"
                                   ".length === 0", timeout=3000)
            time.sleep(0.1)
            shown = page.evaluate("window.__seen")
    stored = watch.seen
    ringing, silent = _session_ids(db)
    assert "both" in shown, "the two calls were never on the floor together"
    expected = [f"{ringing}:phase:ringing", f"{ringing}:phase:talking",
                f"{silent}:phase:talking", f"{silent}:alert:dead_air",
                f"{ringing}:gone", f"{silent}:gone"]
    # The session page, opened while the call ran, grew its alert (within its refresh period,
    # [web] live_page_refresh_s, of the store) and its timeline marker, and ended complete.
    assert markers == 1
    delay = grown["dead_air"] / 1000 - stored[f"{silent}:alert:dead_air"]
    print(f"session page: dead_air shown {delay:+.3f} s after stored")
    assert 0 < delay < load_config("zh-CN").web.live_page_refresh_s + 1.0
    for key in expected:
        assert key in stored, f"{key} never stored"
        assert key in shown, f"{key} never shown"
        delay = shown[key] / 1000 - stored[key]
        print(f"{key}: shown {delay:+.3f} s after stored")
        assert -0.1 < delay < 1.0, f"{key}: shown {delay:.2f} s after it was stored"


def _follow_the_silent_call(page, url: str):
    """The running silent call's own page, in a second tab, noting when its alert appears."""
    row = page.wait_for_selector("[data-testid=live-row]:has(td:text('小李'))")
    call = page.context.new_page()
    call.goto(f"{url}/sessions/{row.get_attribute('data-id')}")
    call.wait_for_selector("[data-testid=running]")
    call.evaluate("""() => {
      window.__seen = {};
      new MutationObserver(() => {
        if (!window.__seen.dead_air
            && document.querySelector('[data-testid=alert-item][data-rule=dead_air]'))
          window.__seen.dead_air = Date.now();
      }).observe(document.body, {subtree: true, childList: true});
    }""")
    return call


def _stop(watch: StoreWatch, replays: list[subprocess.Popen]) -> None:
    watch.stop.set()
    for process in replays:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=10)


def _session_ids(db: str) -> tuple[int, int]:
    with sqlite3.connect(db) as conn:
        rows = dict(conn.execute("SELECT agent, id FROM sessions").fetchall())
    return rows["小王"], rows["小李"]

