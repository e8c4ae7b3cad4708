"""The live console view: fed records of known values, it must show the facts they imply.

Records are built with the frame types' own ``to_json``, so the view is tested against the
contract the pipeline really writes. Colour is checked in the exported ANSI text, because a
highlight the agent cannot see is the bug this view exists to avoid.
"""

from __future__ import annotations

import dataclasses
import io
import time

import pytest
from rich.console import Console

from monitor.config import load_config
from monitor.frames import (
    Alert,
    DeviceNotice,
    Hint,
    HoldEnd,
    HoldStart,
    Metric,
    Pickup,
    Ring,
    Speech,
    Summary,
)
from monitor.sinks.console import LiveConsole
from monitor.storage.writer import SessionWriter
from testkit.faults import lock_held

HEADER = "callmonitor live: test line; profile zh-CN"
RED = "\x1b[1;31m"
YELLOW = "\x1b[33m"
NOBODY = {"agent": False, "customer": False}


@pytest.fixture(scope="module")
def zh():
    return load_config("zh-CN")


@pytest.fixture(scope="module")
def en():
    return load_config("en-US")


def make(cfg, overruns=lambda: 0, **kw):
    console = Console(record=True, width=100, file=io.StringIO(), force_terminal=False)
    return LiveConsole(cfg, HEADER, overruns, console=console, **kw), console


def shown(view, console, styles=False):
    console.print(view.render())
    return console.export_text(styles=styles)


def line_with(text, needle):
    """The one exported line holding ``needle`` (with its ANSI codes when styles were kept)."""
    (line,) = [ln for ln in text.splitlines() if needle in ln]
    return line


def test_time_and_who_is_speaking(zh):
    view, console = make(zh)
    view.step(83.0, {"agent": True, "customer": True})
    text = shown(view, console)
    assert HEADER in text
    assert "01:23   speaking: both" in text
    view.step(83.02, {"agent": False, "customer": True})
    assert "speaking: customer" in shown(view, console)
    view.step(83.04, NOBODY)
    assert "speaking: nobody" in shown(view, console)
    view.close("complete")


def test_uk_double_rings_merge_and_a_late_pickup_is_highlighted(zh):
    view, console = make(zh)
    for start, end in [(0.5, 0.9), (1.1, 1.5), (3.5, 3.9), (4.1, 4.5)]:
        view.write(Ring(start, end, 400.0).to_json())
    text = shown(view, console, styles=True)
    assert "ringing (2 rings)" in text
    assert RED not in line_with(text, "ringing")

    max_rings = zh.rules.ring_late_pickup.max_rings
    view.write(Pickup(20.0, max_rings + 1).to_json())
    text = shown(view, console, styles=True)
    line = line_with(text, "answered after")
    assert f"answered after {max_rings + 1} rings at 00:20 (max {max_rings})" in line
    assert RED in line


def test_pickup_within_the_standard_is_plain(zh):
    view, console = make(zh)
    view.write(Pickup(7.0, 1).to_json())
    line = line_with(shown(view, console, styles=True), "answered after")
    assert "answered after 1 ring at 00:07" in line
    assert RED not in line


def test_hold_timer_counts_audio_time_against_its_limit(zh):
    view, console = make(zh)
    view.write(HoldStart(10.0, announced=True, transfer=False).to_json())
    view.step(25.0, NOBODY)
    line = line_with(shown(view, console, styles=True), "on hold")
    assert "on hold 00:15 / 00:30" in line
    assert YELLOW not in line and RED not in line

    rule = zh.rules.hold_too_long
    view.step(10.0 + rule.limit_s - rule.warn_before_s + 1.0, NOBODY)
    assert YELLOW in line_with(shown(view, console, styles=True), "on hold")
    view.step(10.0 + rule.limit_s + 1.0, NOBODY)
    assert RED in line_with(shown(view, console, styles=True), "on hold")

    view.write(HoldEnd(45.0, 10.0).to_json())
    text = shown(view, console)
    assert "not on hold" in text and "on hold 00" not in text
    view.close("complete")


def test_a_transfer_hold_uses_the_transfer_limit(zh):
    view, console = make(zh)
    view.write(HoldStart(100.0, announced=False, transfer=True).to_json())
    view.step(108.0, NOBODY)
    line = line_with(shown(view, console, styles=True), "on hold")
    assert "on hold 00:08 / 00:10 (transfer, unannounced)" in line
    assert YELLOW in line
    view.close("complete")


def test_rate_against_target_in_characters_for_mandarin(zh):
    view, console = make(zh)
    assert "-- 字/分   target 150 (100-190)" in shown(view, console)
    view.write(Metric(30.0, "agent_rate", 162.4, {"unit": "cpm"}).to_json())
    line = line_with(shown(view, console, styles=True), "字/分")
    assert "162 字/分   target 150 (100-190)" in line
    assert RED not in line
    view.write(Metric(60.0, "agent_rate", 201.0, {"unit": "cpm"}).to_json())
    assert RED in line_with(shown(view, console, styles=True), "201 字/分")


def test_rate_in_words_for_english(en):
    view, console = make(en)
    view.write(Metric(30.0, "agent_rate", 90.0, {"unit": "wpm"}).to_json())
    line = line_with(shown(view, console, styles=True), "words/min")
    assert "90 words/min   target 150 (100-190)" in line
    assert RED in line


def test_talk_ratio_from_speech_segments(zh):
    view, console = make(zh)
    assert "agent -- of talk" in shown(view, console)
    for record in [Speech("agent", 0.0, 4.0), Speech("customer", 4.5, 6.5),
                   Speech("agent", 7.0, 9.0)]:
        view.write(record.to_json())
    assert "agent 75% of talk   agent 6.0 s, customer 2.0 s" in shown(view, console)


def test_latest_five_alerts_newest_first(zh):
    view, console = make(zh)
    assert "no alerts" in shown(view, console)
    severities = ["info", "warn", "violation"]
    for i in range(1, 8):
        view.write(Alert(f"rule{i}", float(i), severities[i % 3], f"message {i}", "say").to_json())
    text = shown(view, console, styles=True)
    assert "message 1" not in text and "message 2" not in text
    at = [text.index(f"message {i}") for i in (7, 6, 5, 4, 3)]
    assert at == sorted(at)
    assert "00:07" in line_with(text, "message 7") and "rule7" in line_with(text, "message 7")
    assert RED in line_with(text, "message 5")  # 5 % 3 == 2: violation


def test_overruns_are_read_live_and_highlighted(zh):
    count = [0]
    view, console = make(zh, overruns=lambda: count[0])
    line = line_with(shown(view, console, styles=True), "overruns")
    assert line.strip("│ ").endswith("0") and RED not in line
    count[0] = 3
    line = line_with(shown(view, console, styles=True), "overruns")
    assert "3" in line and RED in line


def test_device_lost_line_shows_until_it_is_back(zh):
    view, console = make(zh)
    view.write(DeviceNotice(12.0, "USB headset", ("agent",), "lost", "no audio for 1.0 s")
               .to_json())
    line = line_with(shown(view, console, styles=True), "LOST")
    assert "LOST USB headset (agent) since 00:12: no audio for 1.0 s" in line
    assert RED in line
    view.write(DeviceNotice(15.0, "USB headset", ("agent",), "back", "").to_json())
    assert "LOST" not in shown(view, console)


def test_hints_whispered(zh):
    view, console = make(zh)
    assert "0 whispered" in shown(view, console)
    view.write(Hint(5.0, "rate.too_fast", "请放慢语速", 4.5, True).to_json())
    view.write(Hint(40.0, "interruption", "请让客户说完", 39.8, True).to_json())
    assert "2 whispered, last: 请让客户说完" in shown(view, console)


def test_close_after_steps_prints_the_final_state_once(zh):
    view, console = make(zh)
    for i in range(100):
        view.step(i * 0.02, NOBODY)
    view.write(Summary(2.0, {"score": 85.0}).to_json())
    view.close("complete")
    text = console.export_text()
    assert text.count(HEADER) == 1
    assert "session complete; QA score 85/100" in text


def test_close_without_steps_still_prints_once(zh):
    view, console = make(zh)
    view.close("failed")
    text = console.export_text()
    assert text.count(HEADER) == 1
    assert "session failed" in text and "QA score" not in text


def redraws(zh, wall_times: list[float], rate: float) -> tuple[int, str]:
    """Frames really drawn on a terminal by one step (20 ms of audio) at each wall time."""
    out = io.StringIO()
    console = Console(width=100, file=out, force_terminal=True)
    clock = iter(wall_times)
    view = LiveConsole(zh, HEADER, lambda: 0, console=console, refresh_per_s=rate,
                       wall_clock=lambda: next(clock))
    for step in range(len(wall_times)):
        view.step(step * 0.02, NOBODY)
    drawn = out.getvalue()
    view.close("complete")
    return drawn.count(HEADER), drawn


@pytest.mark.parametrize(("steps_per_s", "wall_s", "rate", "frames"), [
    (64, 4.0, 16.0, 64),  # four steps a frame: one frame every 1/16 s
    (64, 4.0, 64.0, 256),  # as many frames as steps, never more
    (8, 4.0, 16.0, 32),  # a slow pipeline: every step is drawn
])
def test_redraws_follow_the_wall_clock_not_the_steps(zh, steps_per_s, wall_s, rate, frames):
    """Steps at known wall times (binary fractions, so the sums are exact): at most
    ``rate`` redraws per wall-clock second, and at least one per step when steps are rarer."""
    times = [k / steps_per_s for k in range(int(wall_s * steps_per_s))]
    assert redraws(zh, times, rate)[0] == frames


def test_a_fast_pipeline_draws_once_until_the_wall_clock_moves_and_then_the_latest_state(zh):
    count, drawn = redraws(zh, [5.0] * 500 + [5.25], rate=4.0)
    assert count == 2
    assert drawn.rindex("00:10   speaking") > drawn.rindex(HEADER)  # 500 steps of 20 ms: 00:10
    assert drawn.count("00:00   speaking") == 1


def test_text_from_records_is_shown_verbatim_not_as_markup(en):
    view, console = make(en)
    view.write(Alert("forbidden_phrase", 3.0, "violation", 'Taboo "[/]" [bold]x', "say").to_json())
    view.write(Hint(4.0, "forbidden_phrase", "say [red]this[/red]", 3.0, True).to_json())
    text = shown(view, console)
    assert 'Taboo "[/]" [bold]x' in text and "last: say [red]this[/red]" in text


def test_the_console_says_while_the_store_is_away_and_when_it_is_back(zh, tmp_path):
    """A real writer meets a lock another process holds: the console shows its trouble in red
    for as long as it lasts, and ``ok`` once the records are stored again."""
    db = tmp_path / "s.sqlite3"
    store = dataclasses.replace(zh.store, lock_wait_s=0.1, retry_s=30.0)
    writer = SessionWriter(db, mode="live", source="pulse:mic", profile="zh-CN", agent="a",
                           company="c", asr_backend=None, store=store)
    view, console = make(zh, store_trouble=lambda: writer.trouble)
    assert line_with(shown(view, console), "store").split()[1:3] == ["store", "ok"]
    with lock_held(db):
        writer.add({"type": "pickup", "t": 1.0, "rings": 1})
        deadline = time.monotonic() + 10
        while writer.trouble is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert RED in line_with(shown(view, console, styles=True), "store")
        text = shown(view, console)
        said = " ".join(text[text.index("store"):text.index("alerts")].replace("│", " ").split())
        assert said.startswith("store AWAY: session database error") and "locked" in said
    writer.close("complete")
    assert writer.failure is None
    assert line_with(shown(view, console), "store").split()[1:3] == ["store", "ok"]
    view.close("complete")
