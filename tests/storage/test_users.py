"""Users of the review app on both engines: real Argon2 hashes, sign-in tokens that end."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from monitor.errors import CallmonitorError
from monitor.storage.database import open_database
from monitor.storage.users import (
    add_user,
    authenticate,
    list_users,
    remove_user,
    set_password,
    sign_in,
    sign_out,
    signed_in_user,
)

HOUR = timedelta(hours=1)
REPO = Path(__file__).resolve().parents[2]


def test_passwords_are_stored_as_argon2_hashes_and_checked(store_location):
    add_user(store_location, "zhang", "supervisor", "correct horse")
    add_user(store_location, "li", "agent", "battery staple", agent="李娜")
    with open_database(store_location) as db:
        hashes = [h for (h,) in db.rows("SELECT password_hash FROM users")]
    assert all(h.startswith("$argon2id$") for h in hashes)
    assert not any("correct horse" in h or "battery staple" in h for h in hashes)
    li = authenticate(store_location, "li", "battery staple")
    assert li is not None and (li.role, li.agent, li.sees_all) == ("agent", "李娜", False)
    assert authenticate(store_location, "li", "correct horse") is None
    assert authenticate(store_location, "nobody", "battery staple") is None
    assert [u.name for u in list_users(store_location)] == ["li", "zhang"]


def test_sign_in_tokens_end_on_sign_out_expiry_new_password_and_removal(store_location):
    user = add_user(store_location, "li", "agent", "battery staple")
    token = sign_in(store_location, user, HOUR)
    assert signed_in_user(store_location, token) == user
    assert signed_in_user(store_location, token + "x") is None
    sign_out(store_location, token)
    assert signed_in_user(store_location, token) is None
    assert signed_in_user(store_location, sign_in(store_location, user, -HOUR)) is None
    token = sign_in(store_location, user, HOUR)
    set_password(store_location, "li", "a new passphrase")
    assert signed_in_user(store_location, token) is None
    assert authenticate(store_location, "li", "battery staple") is None
    token = sign_in(store_location, user, HOUR)
    remove_user(store_location, "li")
    assert signed_in_user(store_location, token) is None
    with open_database(store_location) as db:
        assert db.one("SELECT COUNT(*) FROM logins")[0] == 0


def test_bad_users_are_refused_with_the_fix(store_location):
    add_user(store_location, "li", "agent", "battery staple")
    for args, message in [(("li", "agent", "another one"), "already exists"),
                          (("wu", "admin", "battery staple"), "unknown role"),
                          (("wu", "agent", "short"), "too short"),
                          ((" wu", "agent", "battery staple"), "invalid user name")]:
        with pytest.raises(CallmonitorError, match=message):
            add_user(store_location, *args)
    with pytest.raises(CallmonitorError, match="no user 'wu'"):
        remove_user(store_location, "wu")


def test_users_command_adds_and_lists_users_with_a_password_from_stdin(tmp_path):
    db = str(tmp_path / "u.sqlite3")
    exe = [sys.executable, "-m", "monitor"]
    added = subprocess.run([*exe, "users", "add", "li", "--role", "agent", "--agent-name", "李娜",
                            "--password-stdin", "--db", db], input="battery staple\n",
                           capture_output=True, text=True, check=True, cwd=REPO)
    assert "li added" in added.stdout
    assert authenticate(db, "li", "battery staple") is not None
    listed = subprocess.run([*exe, "users", "list", "--db", db], capture_output=True, text=True,
                            check=True)
    assert listed.stdout.split() == ["li", "agent", "李娜"]
    refused = subprocess.run([*exe, "users", "add", "wu", "--role", "agent", "--password-stdin",
                              "--db", db], input="short\n", capture_output=True, text=True)
    assert refused.returncode == 2
    assert refused.stderr.strip().splitlines() == [
        "callmonitor: error: the password is too short; use at least 8 characters"]
