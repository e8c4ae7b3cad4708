"""The ``session`` blueprint, one session: its review page, its JSON export and its kept
audio. Only the sessions the signed-in user may see; any other is "not found"."""

from __future__ import annotations

import json
import mimetypes
from dataclasses import asdict
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, Response, abort, render_template, request, send_file, url_for

from monitor.config import AsrConfig, Config
from monitor.sinks.audio_formats import MIMETYPE
from monitor.storage.coaching import continued_view, record, record_play
from monitor.storage.sessions import SessionInfo, audio_file, audio_missing, session_records
from monitor.web.auth import safe_next
from monitor.web.coaching import coaching_of, moment
from monitor.web.context import plain_text, settings, user, visible_session
from monitor.web.labels import RULE_LABELS, clock, pieces, shown_message
from monitor.web.timeline import timeline_data

bp = Blueprint("session", __name__)
MISSING_AUDIO = ("The recording file of this session is missing: its audio was kept, but the "
                 "file is no longer in the audio folder (deleted or moved).")


@bp.get("/sessions/<int:session_id>")
def page(session_id: int) -> str:
    cfg = settings()
    info = visible_session(session_id)
    view = (continued_view(cfg.location, user().name, session_id, request.args.get("v", ""))
            or record(cfg.location, user().name, "view", session_id))
    records = list(session_records(cfg.location, session_id))
    data = timeline_data(info, records, cfg.rate_band(info.profile))
    data["labels"] = RULE_LABELS
    data["start_at"] = moment(request.args.get("t"), data["duration"])
    for alert in data["alerts"]:
        alert["message"] = shown_message(alert, cfg.profile(info.profile))
    has_audio = kept_audio(info) is not None
    return render_template("session.html", info=info, summary=info.summary or {},
                           back=list_link(),
                           data=data, has_audio=has_audio, view=view,
                           audio_missing=audio_missing(settings().audio_dir, info),
                           facts=facts(info, data, cfg.profile(info.profile)),
                           scorecard=scorecard(info, cfg.profile(info.profile)),
                           transcript=transcript(data, cfg.profile(info.profile).asr),
                           severity=cfg.severity, refresh_s=cfg.cfg.web.live_page_refresh_s,
                           **coaching_of(info))


@bp.get("/sessions/<int:session_id>.json", endpoint="json")
def export_json(session_id: int) -> Response:
    cfg = settings()
    info = visible_session(session_id)
    record(cfg.location, user().name, "download", session_id, "json")
    body = {"session": asdict(info), "records": list(session_records(cfg.location, session_id))}
    return Response(json.dumps(body, ensure_ascii=False, indent=1),
                    mimetype="application/json",
                    headers={"Content-Disposition":
                             f'attachment; filename="session-{session_id}.json"'})


@bp.get("/sessions/<int:session_id>/audio")
def audio(session_id: int) -> Response:
    """The kept audio: played from the page (``?v=`` the page view's audit id: one "play" row
    per view, however many range requests the player makes) or, with ``?download=1``, saved
    as a file (a "download" row)."""
    info = visible_session(session_id)
    path = kept_audio(info)
    if path is None:
        if audio_missing(settings().audio_dir, info):
            return plain_text(404, MISSING_AUDIO)
        abort(404)
    cfg = settings()
    download = request.args.get("download") == "1"
    if download:
        record(cfg.location, user().name, "download", session_id, "audio")
    else:
        view = request.args.get("v", "")
        record_play(cfg.location, user().name, session_id,
                    view if view.isdigit() and len(view) < 19 else "",
                    cfg.cfg.web.audit_play_window_s)
    mimetype = MIMETYPE.get(path.suffix.lower()) or (
        mimetypes.guess_type(path.name)[0] or "application/octet-stream")
    # Range requests (206) are what lets a browser seek in it: conditional=True.
    response = send_file(path, mimetype=mimetype, conditional=True, etag=True, max_age=0,
                         as_attachment=download,
                         download_name=f"session-{session_id}{path.suffix}")
    # A recording of a call is kept by no cache, not even the browser's (no-cache would store
    # it and only ask before reuse).
    response.headers["Cache-Control"] = "no-store"
    return response


def list_link() -> str:
    """The sessions list the user came from, filters and page kept; else the plain list."""
    plain = url_for("sessions.index")
    referrer = urlsplit(request.referrer or "")
    if referrer.netloc != request.host or referrer.path != plain:
        return plain
    return safe_next(referrer.path + (f"?{referrer.query}" if referrer.query else ""), plain)


def kept_audio(info: SessionInfo) -> Path | None:
    return audio_file(settings().audio_dir, info)


def transcript(data: dict[str, Any], asr: AsrConfig) -> list[dict[str, Any]]:
    """What was said, in time order, with the alerts between the lines; each line's text in
    ``pieces`` (text, highlighted) with the words of the alerts about it highlighted.
    Without recognition (no utterances) the speech segments stand in, so a click still finds
    its moment."""
    lines: list[dict[str, Any]] = [
        {"kind": "line", **u, "pieces": highlight(u, data["alerts"], asr)}
        for u in data["utterances"]]
    if not lines:
        lines = [{"kind": "speech", "channel": channel, "start": start, "end": end, "text": ""}
                 for channel, spans in data["speech"].items() for start, end in spans]
    lines += [{"kind": "alert", "start": a["t"], **a} for a in data["alerts"]]
    lines.sort(key=lambda item: (item["start"], item["kind"] == "alert"))
    return lines


def highlight(line: dict[str, Any], alerts: list[dict[str, Any]],
              asr: AsrConfig) -> list[tuple[str, bool]]:
    """The line's text as (piece, highlighted): the words of every alert that starts in the
    line (its words may start up to ``pad_s`` before the phrase or end ``whisper_tail_s``
    after it, as the recogniser heard them)."""
    first, last = round(line["start"] - asr.pad_s, 3), round(line["end"] + asr.whisper_tail_s, 3)
    about = [alert["mark"] for alert in alerts if alert["mark"] and first <= alert["seek"] <= last]
    return pieces(line["text"], [span for mark in about
                                 for span in find_words(line["text"], mark)])


def find_words(text: str, words: str) -> list[tuple[int, int]]:
    """Where ``words`` are in ``text``, as (start, end) spans: whole, or (a filler alert's
    tokens are its fillers run together, 嗯那个) the longest runs of them in turn; nothing if
    some of them are not there (never a stray character of a phrase heard otherwise)."""
    spans: list[tuple[int, int]] = []
    at, rest = 0, words
    while rest:
        for size in range(len(rest), 0, -1):
            found = text.find(rest[:size], at)
            if found >= 0:
                spans.append((found, found + size))
                at, rest = found + size, rest[size:]
                break
        else:
            return []
    return spans


def scorecard(info: SessionInfo, profile: Config) -> dict[str, Any] | None:
    """The QA checks as the score counted them (failed first), and the rules not checked.
    A check stored without its weight (an older session) shows the profile's."""
    summary = info.summary or {}
    checks = summary.get("checks")
    if checks is None:
        return None
    by_rule = info.alerts_by_rule
    weights = profile.score_weights
    rows = [{"rule": c["rule"], "weight": c.get("weight", weights.get(c["rule"], 0.0)),
             "passed": bool(c["passed"]),
             "alerts": by_rule.get(c["rule"], 0)} for c in checks]
    rows.sort(key=lambda r: (r["passed"], -r["weight"], r["rule"]))
    total = sum(r["weight"] for r in rows)
    earned = sum(r["weight"] for r in rows if r["passed"])
    return {"rows": rows, "total": total, "earned": earned, "score": summary.get("score"),
            "skipped": summary.get("rules_skipped") or []}


def facts(info: SessionInfo, data: dict[str, Any],
          profile: Config) -> list[tuple[str, str, str]]:
    """The call in numbers, as (label, value, state) with state "" / "good" / "bad"."""
    s = info.summary or {}
    out: list[tuple[str, str, str]] = []
    if s.get("rings_before_pickup") is not None:
        out.append(("Rings before pickup", str(s["rings_before_pickup"]),
                    "bad" if s["rings_before_pickup"] > profile.rules.ring_late_pickup.max_rings
                    else "good"))
    if s.get("pickup_t") is not None:
        out.append(("Picked up at", clock(s["pickup_t"]), ""))
    rate = s.get("agent_rate_cpm")
    band = data["rate_band"]
    if rate is not None:
        ok = band["slow_below"] <= rate <= band["fast_above"]
        out.append(("Agent pace", f"{rate:.0f} {_unit(band['unit'])}", "good" if ok else "bad"))
    if s.get("talk_ratio_agent") is not None:
        out.append(("Agent share of talk", f"{s['talk_ratio_agent']:.0%}", ""))
    if s.get("longest_customer_turn_s") is not None:
        out.append(("Longest customer turn", f"{s['longest_customer_turn_s']:.1f} s", ""))
    holds = data["holds"]
    if s or holds:
        held = sum(h["end"] - h["start"] for h in holds)
        out.append(("Holds", f"{len(holds)}" + (f" · {held:.0f} s" if holds else ""), ""))
    if s.get("dead_air") is not None:
        quiet = sum(d["end"] - d["start"] for d in s["dead_air"])
        out.append(("Dead air", f"{len(s['dead_air'])}" + (
            f" · {quiet:.0f} s" if s["dead_air"] else ""), "bad" if s["dead_air"] else "good"))
    if s.get("interruptions") is not None:
        out.append(("Interruptions", str(len(s["interruptions"])),
                    "bad" if s["interruptions"] else "good"))
    if s.get("filler_count") is not None:
        out.append(("Fillers", str(s["filler_count"]), ""))
    for key, label in (("greeting_ok", "Greeting"), ("apology_ok", "Apology"),
                       ("closing_ok", "Closing")):
        if s.get(key) is not None:
            out.append((label, "complete" if s[key] else "incomplete",
                        "good" if s[key] else "bad"))
    if s.get("asr_backend"):
        out.append(("Recognition", f"{s['asr_backend']} ({s.get('asr_model') or '?'})", ""))
    elif s:
        out.append(("Recognition", "off (timing only)", ""))
    for key, label in (("overruns", "Overruns"), ("device_overflows", "Device overflows")):
        if s.get(key):
            out.append((label, str(s[key]), "bad"))
    return out


def _unit(unit: str) -> str:
    return {"cpm": "chars/min", "wpm": "words/min"}.get(unit, unit)
