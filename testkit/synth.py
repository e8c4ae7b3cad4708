"""Synthesise two-channel test calls whose every timing is known exactly.

A scenario (TOML, see ``scenarios/``) lists speech events, clicks and an optional ringback.
The synthesiser places recorded Mandarin clips (``../shared/audio/zh``) or espeak-ng English
lines by their *audible* speech start (optionally louder, ``gain_db``, or slower or faster,
``tempo``), mixes ringback, clicks and noise, and writes

- ``NAME.wav``: stereo 16-bit PCM at the scenario's rate, left = agent, right = customer;
- ``NAME_8k_ulaw.wav``: the same call as a PBX would record it (8 kHz, G.711 mu-law);
- ``NAME.truth.json``: the ground truth the pipeline tests compare against.

Because the truth is computed from the same sample positions the audio is written at, a test
never has to guess what the "right" answer is. Identical inputs give byte-identical files.

A scenario may also say what the rules must report (``scenarios/rules/``), so the evaluation
(``scripts/evaluate.py``) can score them; times tied to events follow any re-timing of the call:

- ``[[expect]]``: ``rule`` must fire at ``t`` (audio seconds), or at ``at = "start"|"end"`` of
  the speech of event ``at_event`` (an index into ``[[events]]``), or at ``at = "call_end"``,
  plus ``offset_s``; ``at = "during"``: anywhere from the start of that speech to its end (a
  phrase rule that acts on words as they are said: a taboo is caught where its words end,
  inside the clip). ``severity`` optionally pins the severity. Resolved into truth ``expect``
  as ``[{"rule", "t"(, "earliest")(, "severity")}]``.
- ``[[expect_none]]``: ``rule`` must not fire at all (a near miss); truth ``expect_none``.
- ``[expect_summary]``: summary keys and their expected values; truth ``expect_summary``.

The three truth keys are written only for scenarios that declare expectations, so the truth of
the older scenarios stays byte-identical.

A scenario may also state the limits its call is built around (``[limits]``, copied into truth
``limits``): ``dead_air_s`` (both sides silent longer than this after pickup is dead air),
``hangover_s`` (a pause longer than this ends a speech segment), ``turn_gap_s`` (a speaker's
clips closer than this, with no clip of the other side between them, are one turn) and
``rate_min_turn_s`` (shorter agent turns do not count for the speaking rate). The tests derive
their expected dead air, segments and pace from these and the placed clips, never from
``monitor``'s configuration, so a changed threshold there is noticed.

CLI (``main``, run through ``scripts/synth_calls.py``): ``synth_calls.py SCENARIO.toml [...]
--out DIR``; ``synth_calls.py --demo`` rebuilds ``demo/demo_call.wav`` and
``demo/demo_call.truth.json``.
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import os
import re
import shutil
import struct
import subprocess
import tempfile
import tomllib
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import soxr

REPO_DIR = Path(__file__).resolve().parent.parent
# The checkout this copy of testkit belongs to: mutmut (``make mutants``) runs the tests on a copy
# of the code in the checkout's mutants/, which holds no scenarios and has no shared folder beside
# it, so the test data are read from the checkout itself.
CHECKOUT_DIR = REPO_DIR.parent if REPO_DIR.name == "mutants" else REPO_DIR
SCENARIOS_DIR = CHECKOUT_DIR / "scenarios"
DEMO_DIR = CHECKOUT_DIR / "demo"
SHARED_DIR = CHECKOUT_DIR.parent / "shared"
"""The clip library and the design notes, next to the checkout."""
# CALLMONITOR_ZH_CLIPS points elsewhere if needed.
ZH_CLIPS_DIR = Path(os.environ.get("CALLMONITOR_ZH_CLIPS", SHARED_DIR / "audio/zh"))

CHANNELS = ("agent", "customer")
FULL_SCALE = 32768.0
ULAW_RATE_HZ = 8000

# Ground-truth speech islands: what a perfect energy VAD on the clean speech would report.
ISLAND_FRAME_S = 0.01
ISLAND_THRESHOLD_DBFS = -45.0
ISLAND_MIN_GAP_S = 0.1

# espeak-ng writes digital silence around speech; anything above -50 dBFS is speech.
ESPEAK_SPEECH_FLOOR_DBFS = -50.0
ESPEAK_DEFAULT_WPM = 175
# ``tempo`` range: sox's WSOLA stretch stays natural within it, and espeak-ng's -s (80-450 wpm)
# covers it.
TEMPO_RANGE = (0.5, 2.0)
# Two distinct voices so the channels do not sound like one speaker (voice, pitch 0-99).
ESPEAK_VOICES = {"agent": ("en-us", 50), "customer": ("en-us+m3", 30)}

CLICK_S = 0.01
CLICK_PEAK_DBFS = -6.0
CLICK_DECAY_S = 0.002
TONE_RAMP_S = 0.005

# Ringback: tone frequencies and the on/off pattern of one cadence (seconds, starting "on").
RINGBACK = {
    "CN": ((450.0,), (1.0, 4.0)),
    "US": ((440.0, 480.0), (2.0, 4.0)),
    "EU": ((425.0,), (1.0, 4.0)),
    "UK": ((400.0, 450.0), (0.4, 0.2, 0.4, 2.0)),
}

# The rule ids of DESIGN.md's table: the only rules a scenario can expect anything of.
RULE_IDS = ("ring.late_pickup", "greeting.incomplete", "hold.too_long", "hold.unannounced",
            "hold.no_thanks", "rate.too_fast", "rate.too_slow", "filler.excess", "interruption",
            "backchannel.missing", "forbidden_phrase", "dead_air", "closing.incomplete",
            "volume.too_loud")
SEVERITIES = ("info", "warn", "violation")
# DESIGN.md's summary keys with a single value, the ones ``[expect_summary]`` may pin.
SUMMARY_KEYS = ("rings_before_pickup", "pickup_t", "greeting_ok", "apology_ok",
                "agent_rate_cpm", "filler_count", "closing_ok", "talk_ratio_agent",
                "longest_customer_turn_s", "score")
# Where an expected alert is anchored: an event's speech start or end, or the end of the audio.
EVENT_ANCHORS = ("start", "end", "during")
CALL_END = "call_end"

_TOP_KEYS = {"name", "description", "language", "sample_rate_hz", "seed", "noise_dbfs",
             "tail_s", "ringback", "events", "expect", "expect_none", "expect_summary",
             "limits"}
_RING_KEYS = {"country", "rings", "start_s", "answer_after_s", "level_dbfs"}
_EVENT_KEYS = {"channel", "clip", "say", "click", "at", "after", "gain_db", "tempo"}
_EXPECT_KEYS = {"rule", "t", "at_event", "at", "offset_s", "severity"}
LIMIT_KEYS = ("dead_air_s", "hangover_s", "turn_gap_s", "rate_min_turn_s")


@dataclass(frozen=True)
class SynthResult:
    """Where one synthesised call was written, and its ground truth."""

    wav: Path
    ulaw_8k: Path
    truth: dict[str, Any]


@dataclass(frozen=True)
class Line:
    """Speech audio ready to place: samples in int16 units, speech span as sample indices."""

    samples: np.ndarray
    speech_start: int
    speech_end: int
    text: str
    chars: int
    clip: str | None


@dataclass(frozen=True)
class Placed:
    """One event on the call timeline, positioned in samples of the call."""

    channel: str
    offset: int  # where the event's audio begins (after trimming, never negative)
    audio: np.ndarray
    start: int  # speech start (the click itself for a click)
    end: int
    line: Line | None  # None for a click


# --------------------------------------------------------------------------- scenario


def load_scenario(path: str | Path) -> dict[str, Any]:
    """Read and validate a scenario TOML file; the result has every default filled in."""
    with open(path, "rb") as f:
        return validate_scenario(tomllib.load(f))


def validate_scenario(raw: dict[str, Any]) -> dict[str, Any]:
    """Check a scenario and fill defaults, so a typo fails loudly instead of a silent mis-mix.

    Idempotent (None means "not given"), so ``synthesize`` can take a loaded or a raw dict.
    """
    raw = _given(raw)
    _check_keys("scenario", raw, _TOP_KEYS, {"name", "language", "events"})
    if not re.fullmatch(r"[A-Za-z0-9_-]+", raw["name"]):
        raise ValueError(f"scenario name {raw['name']!r} must be a plain file name")
    if raw["language"] not in ("zh", "en"):
        raise ValueError(f"language must be zh or en, not {raw['language']!r}")
    scenario = {
        "name": raw["name"],
        "description": raw.get("description", ""),
        "language": raw["language"],
        "sample_rate_hz": int(raw.get("sample_rate_hz", 16000)),
        "seed": int(raw.get("seed", 0)),
        "noise_dbfs": _opt_float(raw.get("noise_dbfs")),
        "tail_s": float(raw.get("tail_s", 2.0)),
        "ringback": _validate_ringback(raw["ringback"]) if "ringback" in raw else None,
        "events": [_validate_event(i, e, raw["language"]) for i, e in enumerate(raw["events"])],
    }
    scenario["expect"] = [_validate_expect(i, e, len(scenario["events"]))
                          for i, e in enumerate(raw.get("expect", []))]
    scenario["expect_none"] = _validate_expect_none(raw.get("expect_none", []),
                                                    scenario["expect"])
    scenario["expect_summary"] = _validate_expect_summary(raw.get("expect_summary", {}))
    scenario["limits"] = _validate_limits(raw.get("limits", {}))
    if scenario["sample_rate_hz"] % 100:
        raise ValueError("sample_rate_hz must be a multiple of 100 (10 ms island frames)")
    if scenario["ringback"] and not any(e["channel"] == "agent" and not e["click"]
                                        for e in scenario["events"]):
        raise ValueError("a ringback needs an agent speech event to pick up the call")
    return scenario


def _validate_ringback(raw: dict[str, Any]) -> dict[str, Any]:
    _check_keys("ringback", raw, _RING_KEYS, {"country", "rings"})
    country = raw["country"]
    if country not in RINGBACK:
        raise ValueError(f"ringback country {country!r} not one of {sorted(RINGBACK)}")
    ring = {"country": country, "rings": int(raw["rings"]),
            "start_s": float(raw.get("start_s", 0.5)),
            "answer_after_s": float(raw.get("answer_after_s", 1.0)),
            "level_dbfs": float(raw.get("level_dbfs", -20.0))}
    last_off = RINGBACK[country][1][-1]
    if ring["rings"] < 1 or not 0 <= ring["answer_after_s"] < last_off:
        # Answering later than the off period would mean another ring the truth does not list.
        raise ValueError(f"ringback needs rings >= 1 and 0 <= answer_after_s < {last_off}")
    return ring


def _validate_event(index: int, raw: dict[str, Any], language: str) -> dict[str, Any]:
    where = f"event {index}"
    raw = _given(raw)
    _check_keys(where, raw, _EVENT_KEYS, {"channel"})
    if raw["channel"] not in CHANNELS:
        raise ValueError(f"{where}: channel must be agent or customer")
    kinds = [k for k in ("clip", "say", "click") if k in raw]
    if len(kinds) != 1:
        raise ValueError(f"{where}: give exactly one of clip, say, click")
    if "at" in raw and "after" in raw:
        raise ValueError(f"{where}: give at or after, not both")
    if "say" in raw and language != "en":
        raise ValueError(f"{where}: espeak-ng Mandarin is unintelligible; use clips for zh")
    if "clip" in raw and language != "zh":
        raise ValueError(f"{where}: clips are Mandarin; use say for en")
    if raw.get("click", True) is not True:
        raise ValueError(f"{where}: click must be true")
    tempo = float(raw.get("tempo", 1.0))
    if "click" in raw and tempo != 1.0:
        raise ValueError(f"{where}: a click has no tempo")
    if not TEMPO_RANGE[0] <= tempo <= TEMPO_RANGE[1]:
        raise ValueError(f"{where}: tempo must be within {TEMPO_RANGE}")
    return {"channel": raw["channel"], "clip": raw.get("clip"), "say": raw.get("say"),
            "click": "click" in raw, "at": _opt_float(raw.get("at")),
            "after": _opt_float(raw.get("after")), "gain_db": float(raw.get("gain_db", 0.0)),
            "tempo": tempo}


def _validate_expect(index: int, raw: dict[str, Any], n_events: int) -> dict[str, Any]:
    """One ``[[expect]]``: a rule and exactly one way to say when it fires."""
    where = f"expect {index}"
    raw = _given(raw)
    _check_keys(where, raw, _EXPECT_KEYS, {"rule"})
    _check_rule(where, raw["rule"])
    if ("t" in raw) == ("at" in raw):
        raise ValueError(f"{where}: give t (absolute seconds) or at, not both or neither")
    if "t" in raw and ("at_event" in raw or "offset_s" in raw):
        raise ValueError(f"{where}: t is absolute; at_event and offset_s go with at")
    if "at" in raw:
        _check_anchor(where, raw.get("at"), raw.get("at_event"), n_events)
    if raw.get("severity", SEVERITIES[0]) not in SEVERITIES:
        raise ValueError(f"{where}: severity must be one of {SEVERITIES}")
    return {"rule": raw["rule"], "t": _opt_float(raw.get("t")), "at_event": raw.get("at_event"),
            "at": raw.get("at"), "offset_s": _opt_float(raw.get("offset_s")),
            "severity": raw.get("severity")}


def _check_anchor(where: str, at: Any, at_event: Any, n_events: int) -> None:
    if at == CALL_END:
        if at_event is not None:
            raise ValueError(f"{where}: at = {CALL_END!r} takes no at_event")
        return
    if at not in EVENT_ANCHORS:
        raise ValueError(f"{where}: at must be one of {[*EVENT_ANCHORS, CALL_END]}")
    if at_event is None:
        raise ValueError(f"{where}: at = {at!r} needs at_event (the index of an event)")
    if not isinstance(at_event, int) or isinstance(at_event, bool) \
            or not 0 <= at_event < n_events:
        raise ValueError(f"{where}: at_event must be an event index 0-{n_events - 1}")


def _validate_expect_none(raw: list[dict[str, Any]],
                          expect: list[dict[str, Any]]) -> list[dict[str, str]]:
    """``[[expect_none]]``: rules that must stay silent; one cannot also be expected to fire."""
    out = []
    for index, entry in enumerate(raw):
        where = f"expect_none {index}"
        _check_keys(where, entry, {"rule"}, {"rule"})
        _check_rule(where, entry["rule"])
        if any(e["rule"] == entry["rule"] for e in expect):
            raise ValueError(f"{where}: {entry['rule']} is also expected to fire")
        if entry["rule"] in (o["rule"] for o in out):
            raise ValueError(f"{where}: {entry['rule']} is listed twice")
        out.append({"rule": entry["rule"]})
    return out


def _validate_expect_summary(raw: dict[str, Any]) -> dict[str, Any]:
    """``[expect_summary]``: summary keys of DESIGN.md's contract with a plain value each."""
    _check_keys("expect_summary", raw, set(SUMMARY_KEYS), set())
    for key, value in raw.items():
        if not isinstance(value, bool | int | float | str):
            raise ValueError(f"expect_summary: {key} must be a plain value, not {value!r}")
    return dict(raw)


def _validate_limits(raw: dict[str, Any]) -> dict[str, float]:
    """``[limits]``: the scenario's own thresholds, each a positive number of seconds."""
    _check_keys("limits", raw, set(LIMIT_KEYS), set())
    for key, value in raw.items():
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            raise ValueError(f"limits: {key} must be a positive number of seconds, not {value!r}")
    return {key: float(value) for key, value in raw.items()}


def _check_rule(where: str, rule: Any) -> None:
    if rule not in RULE_IDS:
        raise ValueError(f"{where}: rule {rule!r} is not a DESIGN.md rule id")


def _check_keys(where: str, raw: dict[str, Any], allowed: set[str], required: set[str]) -> None:
    if unknown := set(raw) - allowed:
        raise ValueError(f"{where}: unknown keys {sorted(unknown)}")
    if missing := required - set(raw):
        raise ValueError(f"{where}: missing keys {sorted(missing)}")


def _given(raw: dict[str, Any]) -> dict[str, Any]:
    """The keys actually given: None and ``click = false`` mean the key is absent."""
    return {k: v for k, v in raw.items() if v is not None and not (k == "click" and v is False)}


def _opt_float(value: Any) -> float | None:
    return None if value is None else float(value)


# --------------------------------------------------------------------------- sources


@functools.cache
def _manifest(clips_dir: Path) -> dict[str, Any]:
    return json.loads((clips_dir / "manifest.json").read_text(encoding="utf-8"))


def _read_mono_wav(path: Path) -> tuple[np.ndarray, int]:
    with wave.open(str(path), "rb") as w:
        if w.getnchannels() != 1 or w.getsampwidth() != 2:
            raise ValueError(f"{path}: expected mono 16-bit PCM")
        pcm = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
        return pcm.astype(np.float64), w.getframerate()


def _to_rate(samples: np.ndarray, rate: int, target: int) -> np.ndarray:
    """Resample to the call's rate, rounded to int16 values like any recorded source."""
    if rate == target:
        return samples
    return np.rint(soxr.resample(samples, rate, target))


@functools.cache
def load_clip(name: str, rate: int, tempo: float = 1.0) -> Line:
    """A manifest clip; its speech span comes from the manifest, so placement is audible speech.

    ``tempo`` != 1 stretches the clip in time at the same pitch; the stretch is linear, so the
    manifest's speech span scales with it (within 20 ms, checked by the tests).
    """
    entry = _manifest(ZH_CLIPS_DIR).get(name)
    if entry is None:
        raise ValueError(f"clip {name!r} is not in {ZH_CLIPS_DIR / 'manifest.json'}")
    samples, clip_rate = _read_mono_wav(ZH_CLIPS_DIR / f"{name}.wav")
    samples = _to_rate(samples, clip_rate, rate)
    if tempo != 1.0:
        samples = stretch(samples, rate, tempo)
    return Line(samples, round(entry["speech_start"] / tempo * rate),
                round(entry["speech_end"] / tempo * rate), entry["text"], int(entry["chars"]),
                name)


def stretch(samples: np.ndarray, rate: int, tempo: float) -> np.ndarray:
    """Speed speech up (tempo > 1) or slow it down without changing its pitch (sox WSOLA).

    Float in and out, so sox neither dithers nor rounds; the result is rounded to int16 values
    like any recorded source.
    """
    raw = ["-t", "raw", "-e", "floating-point", "-b", "32", "-r", str(rate), "-c", "1"]
    out = subprocess.run(["sox", *raw, "-", *raw, "-", "tempo", "-s", f"{tempo:g}"],
                         input=(samples / FULL_SCALE).astype("<f4").tobytes(),
                         check=True, capture_output=True).stdout
    return np.rint(np.frombuffer(out, dtype="<f4").astype(np.float64) * FULL_SCALE)


def espeak_samples(text: str, voice: str, pitch: int, rate: int, tempo: float = 1.0
                   ) -> np.ndarray:
    """``text`` spoken by espeak-ng ``voice`` at ``pitch`` (0-99), resampled to ``rate``.

    ``tempo`` scales espeak-ng's own speaking rate (175 words per minute at 1.0).
    """
    speed = [] if tempo == 1.0 else ["-s", str(round(ESPEAK_DEFAULT_WPM * tempo))]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "line.wav"
        subprocess.run(["espeak-ng", "-v", voice, "-p", str(pitch), *speed, "-w", str(path),
                        text], check=True, capture_output=True)
        samples, es_rate = _read_mono_wav(path)
    return _to_rate(samples, es_rate, rate)


@functools.cache
def espeak_line(text: str, channel: str, rate: int, tempo: float = 1.0) -> Line:
    """An English line spoken by espeak-ng; its speech span is measured, as no manifest exists.

    ``tempo`` scales espeak-ng's own speaking rate (175 words per minute at 1.0).
    """
    voice, pitch = ESPEAK_VOICES[channel]
    samples = espeak_samples(text, voice, pitch, rate, tempo)
    loud = np.flatnonzero(np.abs(samples) > _amplitude(ESPEAK_SPEECH_FLOOR_DBFS))
    if loud.size == 0:
        raise ValueError(f"espeak-ng produced no speech for {text!r}")
    words = len(re.findall(r"[A-Za-z0-9]+(?:'[A-Za-z]+)?", text))
    return Line(samples, int(loud[0]), int(loud[-1]) + 1, text, words, None)


def _amplitude(dbfs: float) -> float:
    return FULL_SCALE * 10 ** (dbfs / 20)


def click_samples(rate: int, rng: np.random.Generator) -> np.ndarray:
    """A 10 ms decaying noise burst: broadband and loud, but not speech."""
    n = round(CLICK_S * rate)
    burst = rng.standard_normal(n) * np.exp(-np.arange(n) / (CLICK_DECAY_S * rate))
    return burst / np.max(np.abs(burst)) * _amplitude(CLICK_PEAK_DBFS)


# --------------------------------------------------------------------------- placement


def ring_bursts(ring: dict[str, Any], rate: int) -> list[tuple[int, int, int]]:
    """Every ringback burst as (start, end, cadence number) in samples of the call."""
    pattern = RINGBACK[ring["country"]][1]
    bursts = []
    t = ring["start_s"]
    for cadence in range(1, ring["rings"] + 1):
        for i, length in enumerate(pattern):
            if i % 2 == 0:
                bursts.append((round(t * rate), round((t + length) * rate), cadence))
            t += length
    return bursts


def place_events(scenario: dict[str, Any], bursts: list[tuple[int, int, int]]) -> list[Placed]:
    """Position every event in samples.

    ``after`` counts from the latest end of anything placed so far (for sequential turns that is
    the previous event's speech end), so a backchannel placed inside a long turn does not pull
    the next turn back into that turn. With a ringback the first agent speech is the pickup and
    starts ``answer_after_s`` after the last burst ends.
    """
    rate = scenario["sample_rate_hz"]
    click_rng = np.random.default_rng([scenario["seed"], 1])
    pickup_pending = scenario["ringback"] is not None
    cursor = 0
    placed = []
    for i, event in enumerate(scenario["events"]):
        is_pickup = pickup_pending and event["channel"] == "agent" and not event["click"]
        if is_pickup:
            pickup_pending = False
            if event["at"] is not None or event["after"] is not None:
                raise ValueError(f"event {i}: the pickup is timed by the ringback; drop at/after")
            start = bursts[-1][1] + round(scenario["ringback"]["answer_after_s"] * rate)
        elif event["at"] is not None:
            start = round(event["at"] * rate)
        elif event["after"] is not None:
            start = cursor + round(event["after"] * rate)
        else:
            raise ValueError(f"event {i}: give at or after")
        if start < 0:
            raise ValueError(f"event {i}: starts before the call does")
        item = _place_one(event, start, rate, click_rng)
        placed.append(item)
        cursor = max(cursor, item.end)
    return placed


def _place_one(event: dict[str, Any], start: int, rate: int, rng: np.random.Generator) -> Placed:
    gain = 10 ** (event["gain_db"] / 20)
    if event["click"]:
        audio = click_samples(rate, rng) * gain
        return Placed(event["channel"], start, audio, start, start + audio.size, None)
    if event["clip"] is not None:
        line = load_clip(event["clip"], rate, event["tempo"])
    else:
        line = espeak_line(event["say"], event["channel"], rate, event["tempo"])
    audio = line.samples * gain  # gain_db = 0 multiplies by exactly 1.0: the clip stays bit-exact
    offset = start - line.speech_start
    if offset < 0:  # placed near t=0: only leading silence before the speech is cut
        audio, offset = audio[-offset:], 0
    return Placed(event["channel"], offset, audio, start,
                  start + line.speech_end - line.speech_start, line)


# --------------------------------------------------------------------------- rendering


def _call_length(scenario: dict[str, Any], placed: list[Placed],
                 bursts: list[tuple[int, int, int]]) -> int:
    rate = scenario["sample_rate_hz"]
    last = max([p.end for p in placed] + [b[1] for b in bursts])
    # Clip files may carry a little silence past their speech end; never cut it off.
    file_ends = [p.offset + p.audio.size for p in placed]
    return max([last + round(scenario["tail_s"] * rate), *file_ends])


def render_speech(placed: list[Placed], n: int) -> np.ndarray:
    """The clean speech of both channels (2, n), int16 units: the basis of the islands."""
    clean = np.zeros((2, n))
    for p in placed:
        if p.line is not None:
            clean[CHANNELS.index(p.channel), p.offset:p.offset + p.audio.size] += p.audio
    return clean


def ringback_signal(ring: dict[str, Any], bursts: list[tuple[int, int, int]], n: int,
                    rate: int) -> np.ndarray:
    """The ringback tone, ``level_dbfs`` RMS per burst, with 5 ms ramps so bursts do not click."""
    freqs = RINGBACK[ring["country"]][0]
    amp = _amplitude(ring["level_dbfs"]) * math.sqrt(2 / len(freqs))
    out = np.zeros(n)
    ramp_n = round(TONE_RAMP_S * rate)
    ramp = 0.5 - 0.5 * np.cos(np.pi * (np.arange(ramp_n) + 0.5) / ramp_n)
    for start, end, _ in bursts:
        t = np.arange(end - start) / rate
        tone = amp * sum(np.sin(2 * np.pi * f * t) for f in freqs)
        tone[:ramp_n] *= ramp
        tone[-ramp_n:] *= ramp[::-1]
        out[start:end] += tone
    return out


def mix(scenario: dict[str, Any], placed: list[Placed], bursts: list[tuple[int, int, int]],
        clean: np.ndarray) -> np.ndarray:
    """Speech + ringback (customer side) + clicks + noise, as int16 frames (n, 2)."""
    rate = scenario["sample_rate_hz"]
    n = clean.shape[1]
    call = clean.copy()
    if scenario["ringback"]:
        call[CHANNELS.index("customer")] += ringback_signal(scenario["ringback"], bursts, n, rate)
    for p in placed:
        if p.line is None:
            call[CHANNELS.index(p.channel), p.offset:p.offset + p.audio.size] += p.audio
    if scenario["noise_dbfs"] is not None:
        rng = np.random.default_rng([scenario["seed"], 0])
        call += rng.standard_normal(call.shape) * _amplitude(scenario["noise_dbfs"])
    return to_int16(call.T)


def to_int16(x: np.ndarray) -> np.ndarray:
    """Round and clip to int16 without wrap-around.

    A loud agent (``gain_db`` +12) drives the peaks far past full scale; they must saturate
    like an overdriven microphone, never wrap to the opposite sign.
    """
    return np.clip(np.rint(x), -32768, 32767).astype("<i2")


# --------------------------------------------------------------------------- truth


def speech_islands(speech: np.ndarray, rate: int) -> list[list[float]]:
    """10 ms frames above -45 dBFS, gaps under 0.1 s merged: the VAD ground truth."""
    frame = round(ISLAND_FRAME_S * rate)
    n_frames = -(-speech.size // frame)
    padded = np.zeros(n_frames * frame)
    padded[:speech.size] = speech
    rms = np.sqrt(np.mean(padded.reshape(n_frames, frame) ** 2, axis=1))
    active = np.flatnonzero(rms > _amplitude(ISLAND_THRESHOLD_DBFS))
    islands: list[list[int]] = []
    min_gap = round(ISLAND_MIN_GAP_S / ISLAND_FRAME_S)
    for f in active.tolist():
        if islands and f - islands[-1][1] < min_gap:
            islands[-1][1] = f + 1
        else:
            islands.append([f, f + 1])
    return [[round(s * ISLAND_FRAME_S, 2), round(e * ISLAND_FRAME_S, 2)] for s, e in islands]


def build_truth(scenario: dict[str, Any], placed: list[Placed],
                bursts: list[tuple[int, int, int]], clean: np.ndarray) -> dict[str, Any]:
    """The ground-truth record of a call, in the field layout the pipeline tests expect."""
    rate = scenario["sample_rate_hz"]

    def sec(samples: int) -> float:
        return round(samples / rate, 3)

    speech = [p for p in placed if p.line is not None]
    agent = [p for p in speech if p.channel == "agent"]
    ring = scenario["ringback"]
    truth = {
        "name": scenario["name"],
        "language": scenario["language"],
        "duration_s": sec(clean.shape[1]),
        "sample_rate_hz": rate,
        "islands": {ch: speech_islands(clean[i], rate) for i, ch in enumerate(CHANNELS)},
        "utterances": [{"channel": p.channel, "clip": p.line.clip, "text": p.line.text,
                        "start": sec(p.start), "end": sec(p.end), "chars": p.line.chars}
                       for p in speech],
        "rings": [{"start": sec(s), "end": sec(e), "cadence": c} for s, e, c in bursts],
        "ringback": None if ring is None else {
            "country": ring["country"], "freq_hz": list(RINGBACK[ring["country"]][0]),
            "on_s": RINGBACK[ring["country"]][1][0], "off_s": RINGBACK[ring["country"]][1][-1],
            "pattern_s": list(RINGBACK[ring["country"]][1]), "level_dbfs": ring["level_dbfs"]},
        "pickup_t": sec(min(p.start for p in agent)) if agent else None,
        "clicks": [{"channel": p.channel, "t": sec(p.start)} for p in placed if p.line is None],
        "noise_dbfs": scenario["noise_dbfs"],
    }
    if scenario["expect"] or scenario["expect_none"] or scenario["expect_summary"]:
        truth["expect"] = resolve_expectations(scenario, placed, clean.shape[1])
        truth["expect_none"] = [e["rule"] for e in scenario["expect_none"]]
        truth["expect_summary"] = dict(scenario["expect_summary"])
    if scenario["limits"]:
        truth["limits"] = dict(scenario["limits"])
    return truth


def resolve_expectations(scenario: dict[str, Any], placed: list[Placed],
                         n: int) -> list[dict[str, Any]]:
    """Every ``[[expect]]`` as an absolute time in the audio, from where its event was placed."""
    rate = scenario["sample_rate_hz"]
    out = []
    for index, e in enumerate(scenario["expect"]):
        t = e["t"]
        if t is None:
            t = _anchor(e, placed, n) / rate + (e["offset_s"] or 0.0)
        if not 0.0 <= t <= n / rate:
            raise ValueError(f"expect {index}: {e['rule']} at {t:.3f} s falls outside the call "
                             f"(0-{n / rate:.3f} s)")
        item = {"rule": e["rule"], "t": round(t, 3)}
        if e["at"] == "during":  # anywhere in the event's speech, up to its end
            item["earliest"] = round(placed[e["at_event"]].start / rate, 3)
        if e["severity"] is not None:
            item["severity"] = e["severity"]
        out.append(item)
    return out


def _anchor(expect: dict[str, Any], placed: list[Placed], n: int) -> int:
    """The sample an expectation counts from: its event's speech start or end, or the call end."""
    if expect["at"] == CALL_END:
        return n
    event = placed[expect["at_event"]]
    return event.start if expect["at"] == "start" else event.end  # "during": by the end


# --------------------------------------------------------------------------- files


def write_pcm_wav(path: Path, frames: np.ndarray, rate: int) -> None:
    """Stereo 16-bit PCM WAV, left = agent, right = customer."""
    with wave.open(str(path), "wb") as w:
        w.setnchannels(frames.shape[1])
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(frames.astype("<i2").tobytes())


def mulaw_encode(pcm: np.ndarray) -> np.ndarray:
    """G.711 mu-law from 16-bit linear PCM, as the ITU-T G.191 reference encoder does it.

    The top 14 bits are used, negative samples through their one's complement so the decision
    levels are symmetric about zero, the mu-law bias 33 is added, and the segment and mantissa
    are packed into the inverted 8-bit code (0xFF and 0x7F are +0 and -0).
    """
    x = pcm.astype(np.int32)
    magnitude = np.where(x < 0, ~x, x) >> 2
    biased = np.minimum(magnitude + 33, 0x1FFF)
    segment = 1 + np.frexp((biased >> 6).astype(np.float64))[1]  # 1 + bit length: 1..8
    code = ((8 - segment) << 4) | (15 - ((biased >> segment) & 0x0F))
    return (code | np.where(x >= 0, 0x80, 0)).astype(np.uint8)


def write_ulaw_wav(path: Path, codes: np.ndarray, rate: int) -> None:
    """A mu-law WAV (format tag 7, 8 bits, with the fact chunk non-PCM formats require)."""
    channels = codes.shape[1]
    data = codes.astype(np.uint8).tobytes()
    fmt = struct.pack("<HHIIHHH", 7, channels, rate, rate * channels, channels, 8, 0)
    fact = struct.pack("<I", codes.shape[0])
    pad = b"\0" * (len(data) % 2)
    body = (b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
            + b"fact" + struct.pack("<I", len(fact)) + fact
            + b"data" + struct.pack("<I", len(data)) + data + pad)
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)


def telephone_copy(frames: np.ndarray, rate: int) -> np.ndarray:
    """The call as an 8 kHz mu-law PBX recording: soxr resampling, then G.711 encoding."""
    x = frames.astype(np.float64)
    if rate != ULAW_RATE_HZ:
        x = soxr.resample(x, rate, ULAW_RATE_HZ)
    return mulaw_encode(to_int16(x))


def truth_json(truth: dict[str, Any]) -> str:
    """Indented JSON with number lists on one line, so an island reads as ``[7.5, 8.3]``."""
    text = json.dumps(truth, ensure_ascii=False, indent=2)
    return re.sub(r"\[\s*([-+0-9.e]+(?:,\s*[-+0-9.e]+)*)\s*\]",
                  lambda m: "[" + re.sub(r",\s*", ", ", m.group(1)) + "]", text) + "\n"


def synthesize(scenario: dict[str, Any], out_dir: Path) -> SynthResult:
    """Render one scenario into ``out_dir``: the PCM call, its 8 kHz mu-law copy and truth."""
    scenario = validate_scenario(scenario)
    rate = scenario["sample_rate_hz"]
    bursts = ring_bursts(scenario["ringback"], rate) if scenario["ringback"] else []
    placed = place_events(scenario, bursts)
    clean = render_speech(placed, _call_length(scenario, placed, bursts))
    frames = mix(scenario, placed, bursts, clean)
    truth = build_truth(scenario, placed, bursts, clean)

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    name = scenario["name"]
    wav, ulaw, truth_path = (out_dir / f"{name}.wav", out_dir / f"{name}_8k_ulaw.wav",
                             out_dir / f"{name}.truth.json")
    write_pcm_wav(wav, frames, rate)
    write_ulaw_wav(ulaw, telephone_copy(frames, rate), ULAW_RATE_HZ)
    truth_path.write_text(truth_json(truth), encoding="utf-8")
    return SynthResult(wav, ulaw, truth)


def synthesize_file(path: str | Path, out_dir: Path) -> SynthResult:
    """Load a scenario file and synthesise it."""
    return synthesize(load_scenario(path), out_dir)


def build_demo(demo_dir: Path = DEMO_DIR) -> tuple[Path, Path]:
    """Rebuild the committed demo: the mu-law copy of ``demo_call`` and its truth."""
    demo_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        result = synthesize_file(SCENARIOS_DIR / "demo_call.toml", Path(tmp))
        wav = Path(shutil.copyfile(result.ulaw_8k, demo_dir / "demo_call.wav"))
        truth = Path(shutil.copyfile(Path(tmp) / "demo_call.truth.json",
                                     demo_dir / "demo_call.truth.json"))
    return wav, truth


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenarios", nargs="*", type=Path, help="scenario TOML files")
    parser.add_argument("--out", type=Path, help="output directory")
    parser.add_argument("--demo", action="store_true",
                        help="rebuild demo/demo_call.wav and demo/demo_call.truth.json")
    args = parser.parse_args(argv)
    if (args.out is None) != (not args.scenarios) or not (args.scenarios or args.demo):
        parser.error("give scenario files with --out DIR, and/or --demo")
    if args.scenarios:
        for path in args.scenarios:
            result = synthesize_file(path, args.out)
            print(f"{result.wav}  {result.ulaw_8k}  {result.truth['duration_s']:.1f} s")
    if args.demo:
        for path in build_demo():
            print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
