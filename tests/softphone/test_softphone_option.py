"""``live --softphone``: which softphone and where, checked before anything is opened."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from monitor.cli import _softphone_address, main
from monitor.config import load_config


@pytest.mark.parametrize(("value", "address"), [
    ("baresip", ("127.0.0.1", 4444)),  # [softphone] host and port
    ("baresip:10.0.0.7:5555", ("10.0.0.7", 5555)),
    ("baresip:[::1]:4444", ("::1", 4444)),
])
def test_the_softphone_and_its_address(value, address):
    assert _softphone_address(value, load_config("zh-CN")) == address


@pytest.mark.parametrize(("value", "problem"), [
    ("linphone", "unknown softphone 'linphone'"),
    ("baresip:127.0.0.1", "no HOST:PORT"),
    ("baresip:127.0.0.1:0", "no HOST:PORT"),
    ("baresip:127.0.0.1:port", "no HOST:PORT"),
])
def test_a_bad_softphone_is_one_line_and_status_2(value, problem, tmp_path):
    result = CliRunner().invoke(main, ["live", "--softphone", value, "--agent-device", "x",
                                       "--no-whisper", "--db", str(tmp_path / "s.sqlite3")])
    assert result.exit_code == 2
    assert result.output.startswith("callmonitor: error: ") and problem in result.output
    assert result.output.count("\n") == 1
    assert not (tmp_path / "s.sqlite3").exists()
