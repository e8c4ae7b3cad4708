"""Who may review which sessions: users with a role, Argon2 password hashes, sign-in tokens.

A supervisor sees every session; an agent sees only the sessions that carry their agent name
(the name the greeting rule checks), which is why a user has one. Sign-ins are random tokens
kept in the database only as SHA-256 hashes, so a copy of the database signs nobody in, and
signing out (or removing the user) ends the sign-in at once on every server of the floor.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal, cast

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from monitor.config.checks import is_time_zone
from monitor.errors import CallmonitorError
from monitor.storage.database import Database, open_database
from monitor.storage.sessions import Location

Role = Literal["supervisor", "agent"]
ROLES: tuple[Role, ...] = ("supervisor", "agent")
MIN_PASSWORD_CHARS = 8
MAX_NAME_CHARS = 64

_HASHER = PasswordHasher()
# Verified when the name is unknown, so a wrong name costs as long as a wrong password.
_DUMMY_HASH = _HASHER.hash("callmonitor: no such user")


@dataclass(frozen=True, slots=True)
class User:
    name: str
    role: Role
    agent: str
    """The agent name on this user's sessions (for an agent, the only sessions they see)."""
    time_zone: str | None = None
    """The IANA zone the review app shows this user's times and days in; None: the site's."""

    @property
    def sees_all(self) -> bool:
        return self.role == "supervisor"

    @property
    def sees_any(self) -> bool:
        """False for an agent without an agent name (an older store let ``users add`` make
        one): such a user sees no call, not every call recorded without a name."""
        return self.sees_all or bool(self.agent)


def add_user(location: Location, name: str, role: str, password: str,
             agent: str | None = None, time_zone: str | None = None) -> User:
    """Create a user; ``agent`` defaults to the user name, ``time_zone`` to the site's. An
    agent's agent name must be neither empty (it would match every call recorded without a
    name) nor another agent's (both would see each other's calls)."""
    _check_name(name)
    _check_role(role)
    _check_password(password)
    _check_time_zone(time_zone)
    user = User(name, cast(Role, role), agent if agent is not None else name, time_zone)
    with open_database(location, create=True) as db:
        if _find(db, name) is not None:
            raise CallmonitorError(f"user {name!r} already exists",
                                   "pick another name or `callmonitor users passwd` to reset")
        if role == "agent":
            _check_agent_name(db, user.agent)
        db.execute("INSERT INTO users (name, role, agent, password_hash, created_at, time_zone)"
                   " VALUES (?, ?, ?, ?, ?, ?)",
                   (name, role, user.agent, _HASHER.hash(password), _now().isoformat(),
                    time_zone))
    return user


def set_password(location: Location, name: str, password: str) -> None:
    """Replace a password; every sign-in of the user ends."""
    _check_password(password)
    with open_database(location) as db, db.transaction():
        _require(db, name)
        db.execute("UPDATE users SET password_hash = ? WHERE name = ?",
                   (_HASHER.hash(password), name))
        db.execute("DELETE FROM logins WHERE user_name = ?", (name,))


def set_time_zone(location: Location, name: str, time_zone: str | None) -> None:
    """Show the user's times in ``time_zone`` (an IANA name); None: the site's."""
    _check_time_zone(time_zone)
    with open_database(location) as db:
        _require(db, name)
        db.execute("UPDATE users SET time_zone = ? WHERE name = ?", (time_zone, name))


def remove_user(location: Location, name: str) -> None:
    with open_database(location) as db, db.transaction():
        _require(db, name)
        db.execute("DELETE FROM logins WHERE user_name = ?", (name,))
        db.execute("DELETE FROM users WHERE name = ?", (name,))


def list_users(location: Location) -> list[User]:
    with open_database(location) as db:
        return [User(*row) for row in db.rows("SELECT name, role, agent, time_zone FROM users"
                                              " ORDER BY name")]


def authenticate(location: Location, name: str, password: str) -> User | None:
    """The user if the password is theirs, else ``None`` (the same for an unknown name)."""
    with open_database(location) as db:
        row = db.one("SELECT name, role, agent, password_hash FROM users WHERE name = ?",
                     (name,))
        try:
            _HASHER.verify(row[3] if row else _DUMMY_HASH, password)
        except (VerificationError, InvalidHashError):
            return None
        if row is None:
            return None
        if _HASHER.check_needs_rehash(row[3]):
            db.execute("UPDATE users SET password_hash = ? WHERE name = ?",
                       (_HASHER.hash(password), name))
        return User(row[0], row[1], row[2])


def sign_in(location: Location, user: User, lifetime: timedelta) -> str:
    """A new sign-in token for ``user``, valid for ``lifetime``; only its hash is stored."""
    token = secrets.token_urlsafe(32)
    now = _now()
    with open_database(location) as db:
        db.execute("DELETE FROM logins WHERE expires_at < ?", (now.isoformat(),))
        db.execute("INSERT INTO logins (token_hash, user_name, created_at, expires_at)"
                   " VALUES (?, ?, ?, ?)",
                   (_digest(token), user.name, now.isoformat(), (now + lifetime).isoformat()))
    return token


def signed_in_user(location: Location, token: str) -> User | None:
    """The user a token belongs to while it is valid."""
    with open_database(location) as db:
        row = db.one("SELECT u.name, u.role, u.agent, u.time_zone FROM logins l JOIN users u"
                     " ON u.name = l.user_name WHERE l.token_hash = ? AND l.expires_at > ?",
                     (_digest(token), _now().isoformat()))
    return User(*row) if row else None


def sign_out(location: Location, token: str) -> None:
    with open_database(location) as db:
        db.execute("DELETE FROM logins WHERE token_hash = ?", (_digest(token),))


def _find(db: Database, name: str) -> tuple[object, ...] | None:
    return db.one("SELECT name FROM users WHERE name = ?", (name,))


def _require(db: Database, name: str) -> None:
    if _find(db, name) is None:
        raise CallmonitorError(f"no user {name!r}", "list the users with `callmonitor users list`")


def _check_name(name: str) -> None:
    if not name or name != name.strip() or len(name) > MAX_NAME_CHARS:
        raise CallmonitorError(f"invalid user name {name!r}",
                               f"use 1 to {MAX_NAME_CHARS} characters without leading or "
                               "trailing spaces")


def _check_agent_name(db: Database, agent: str) -> None:
    if not agent.strip():
        raise CallmonitorError("an agent needs an agent name",
                               "give the name their calls are recorded with in --agent-name")
    other = db.one("SELECT name FROM users WHERE role = 'agent' AND agent = ?", (agent,))
    if other is not None:
        raise CallmonitorError(f"the agent name {agent!r} is taken by the agent {other[0]}",
                               "give this agent the name on their own calls in --agent-name")


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise CallmonitorError(f"unknown role {role!r}", f"use one of {', '.join(ROLES)}")


def _check_time_zone(time_zone: str | None) -> None:
    if time_zone is not None and not is_time_zone(time_zone):
        raise CallmonitorError(f"unknown time zone {time_zone!r}",
                               'use an IANA name, e.g. "Asia/Shanghai" or "UTC"')


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_CHARS:
        raise CallmonitorError("the password is too short",
                               f"use at least {MIN_PASSWORD_CHARS} characters")


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _now() -> datetime:
    return datetime.now(UTC)
