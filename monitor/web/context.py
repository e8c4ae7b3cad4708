"""What every view needs: the app's settings, the signed-in user, the sessions that user may
see (anything else is "not found", exactly like a session that does not exist), and the plain
text answer given where a page would not do."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from flask import Response, abort, current_app, g

from monitor.config import PROFILES, Config, load_config
from monitor.errors import CallmonitorError
from monitor.storage.sessions import Location, SessionInfo, SessionNotFound, get_session
from monitor.storage.users import User
from monitor.web.timeline import RateBand

MAX_SESSION_ID = 2**63 - 1
"""The largest id a session can have (SQLite's INTEGER, PostgreSQL's BIGINT)."""
SETTINGS = "callmonitor"
"""The key of the app's ``Settings`` in ``app.extensions`` (``create_app`` puts them there)."""


@dataclass(frozen=True, slots=True)
class Settings:
    location: Location
    audio_dir: Path
    cfg: Config
    profiles: dict[str, Config]
    """The settings of each profile, by name (``cfg``'s own among them), with the same site
    file: a session is shown against the standard it was checked with."""

    @classmethod
    def build(cls, location: Location, audio_dir: Path, cfg: Config) -> Settings:
        profiles = {}
        for profile in PROFILES:
            if profile != cfg.profile:
                try:
                    profiles[profile] = load_config(profile, site=cfg.site or None)
                except CallmonitorError:
                    continue
        profiles[cfg.profile] = cfg
        return cls(location, Path(audio_dir), cfg, profiles)

    def profile(self, name: str) -> Config:
        """The settings of the profile a session was checked with (else the app's own)."""
        return self.profiles.get(name) or self.cfg

    def rate_band(self, profile: str) -> RateBand:
        """The speaking-rate band of the profile a session was checked with."""
        other = self.profile(profile)
        return RateBand.from_rules(other.rules, other.rate_unit)

    def severity(self, rule: str) -> str:
        """The severity the profile gives a rule's alerts (colours its chips in the list)."""
        message = self.cfg.messages.get(rule)
        return message.severity if message else "info"


def settings() -> Settings:
    return current_app.extensions[SETTINGS]


def user() -> User:
    """The signed-in user (the app's gate has made sure there is one)."""
    return g.user


def time_zone() -> str:
    """The zone the signed-in user reads times in: their own, else the site's ``[web]``."""
    who = g.get("user")
    return (who.time_zone if who is not None and who.time_zone else None) or (
        settings().cfg.web.time_zone)


def may_see(who: User, info: SessionInfo) -> bool:
    return sees_agent(who, info.agent)


def sees_agent(who: User, agent: str) -> bool:
    """Whether ``who`` may see the calls recorded under ``agent`` (an agent without an agent
    name sees none, not every call recorded without one)."""
    return who.sees_all or (who.sees_any and agent == who.agent)


def visible_session(session_id: int) -> SessionInfo:
    """The session if the signed-in user may see it; otherwise 404, the same as for a session
    that does not exist, so an agent cannot learn which other sessions there are."""
    if not 0 < session_id <= MAX_SESSION_ID:
        abort(404)  # no database integer holds it: no such session
    try:
        info = get_session(settings().location, session_id)
    except SessionNotFound:
        abort(404)
    if not may_see(user(), info):
        abort(404)
    return info


def plain_text(code: int, text: str) -> Response:
    """A bare answer for a script, or for a browser not signed in: no page, no hints."""
    return Response(text + "\n", status=code, mimetype="text/plain")
