"""The ``callmonitor`` command: thin commands over the pipeline and the store.

A ``CallmonitorError`` (bad input, a missing model, a bad flag value) becomes one line on
stderr and exit status 2; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import click

from monitor.config import PROFILES, Config, load_config
from monitor.errors import CallmonitorError
from monitor.sinks.base import Sink
from monitor.sinks.jsonl import JsonlSink
from monitor.sinks.store import StoreSink
from monitor.sinks.timeline import TimelineSink, clock, render
from monitor.store import SessionWriter, get_session, list_sessions, session_records

EXIT_USAGE = 2


class CallmonitorGroup(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except CallmonitorError as exc:
            click.echo(f"callmonitor: error: {exc}", err=True)
            ctx.exit(EXIT_USAGE)


def _db_path(db: str | None, cfg: Config | None = None) -> Path:
    chosen = db or os.environ.get("CALLMONITOR_DB") or (cfg or load_config()).store.path
    return Path(chosen).expanduser()


db_option = click.option("--db", type=click.Path(dir_okay=False),
                         help="SQLite session database (default: config [store] path).")


@click.group(cls=CallmonitorGroup)
@click.version_option(package_name="callmonitor")
def main() -> None:
    """Check telephone service calls against the service standard."""


@main.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--profile", type=click.Choice(PROFILES), default="zh-CN", show_default=True)
@click.option("--company", default=None, help="Company name the greeting must contain.")
@click.option("--agent-name", default=None, help="Agent name the greeting must contain.")
@click.option("--asr", "asr_backend", type=click.Choice(["auto", "vosk", "whisper", "none"]),
              default=None, help="Speech recogniser (default: config; none = timing only).")
@click.option("--swap-channels", is_flag=True, help="Agent on the right channel.")
@click.option("--realtime", is_flag=True, help="Pace the replay at the recording's speed.")
@click.option("--json", "as_json", is_flag=True, help="JSON lines (DESIGN.md contract).")
@db_option
def replay(file: Path, profile: str, company: str | None, agent_name: str | None,
           asr_backend: str | None, swap_channels: bool, realtime: bool, as_json: bool,
           db: str | None) -> None:
    """Replay a recorded call (WAV) and print its timeline."""
    from monitor.pipeline import Session
    from monitor.sources.pacing import Paced
    from monitor.sources.wavfile import WavSource

    overrides: dict[str, Any] = {}
    if company is not None:
        overrides["company"] = company
    if agent_name is not None:
        overrides["agent_name"] = agent_name
    if asr_backend not in (None, "none"):
        overrides["asr"] = {"backend": asr_backend}
    cfg = load_config(profile, overrides)
    source = WavSource(file, agent_side=cfg.audio.agent_side, swap_channels=swap_channels)
    recognizer = None
    if asr_backend != "none":
        from monitor.asr import load_recognizer

        recognizer = load_recognizer(cfg.asr, cfg.language, cfg.asr.backend)
    writer = SessionWriter(_db_path(db, cfg), mode="replay", source=str(file), profile=profile,
                           agent=cfg.agent_name, company=cfg.company,
                           asr_backend=recognizer.backend if recognizer else None)
    header = (f"callmonitor replay: {source.describe()}; profile {profile}; speech recognition "
              + (f"{recognizer.backend} ({recognizer.model_name})" if recognizer else "off")
              + f"; session {writer.session_id}")
    out: Sink = (JsonlSink(sys.stdout) if as_json
                 else TimelineSink(sys.stdout, header, show_speech=recognizer is None))
    extra = {
        "session_id": writer.session_id, "source": str(file), "profile": profile,
        "language": cfg.language, "company": cfg.company, "agent_name": cfg.agent_name,
        "asr_backend": recognizer.backend if recognizer else None,
        "asr_model": recognizer.model_name if recognizer else None,
    }
    session = Session(cfg, Paced(source) if realtime else source, recognizer,
                      [StoreSink(writer), out])
    summary = session.run(extra)
    if summary["status"] == "interrupted":
        sys.exit(130)


@main.command()
@click.option("--limit", default=50, show_default=True, help="How many, newest first.")
@db_option
def sessions(limit: int, db: str | None) -> None:
    """List stored sessions, newest first."""
    rows = list_sessions(_db_path(db), limit)
    if not rows:
        click.echo("no sessions stored yet")
    for s in rows:
        duration = "-" if s.duration_s is None else f"{s.duration_s:7.1f} s"
        alerts = sum((s.summary or {}).get("alerts_by_rule", {}).values())
        click.echo(f"{s.id:5d}  {s.started_at}  {s.mode:<6}  {s.status:<11}  {duration:>9}  "
                   f"{s.profile}  alerts {alerts:<3d}  {s.source}")


@main.command()
@click.argument("session_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="JSON lines, as replay --json printed.")
@db_option
def show(session_id: int, as_json: bool, db: str | None) -> None:
    """Print one stored session's timeline again."""
    path = _db_path(db)
    info = get_session(path, session_id)
    records = session_records(path, session_id)
    if as_json:
        for record in records:
            click.echo(json.dumps(record, ensure_ascii=False))
        return
    click.echo(f"session {info.id}: {info.mode} of {info.source}, {info.started_at}, "
               f"profile {info.profile}, {info.status}")
    for line in render(records, show_speech=info.asr_backend is None):
        click.echo(line)
    if info.status == "running":
        click.echo(f"(no summary: the session was cut off at {clock(_last_t(path, info.id))})")


def _last_t(path: Path, session_id: int) -> float | None:
    last = None
    for record in session_records(path, session_id):
        last = record["t"]
    return last
