"""Reading one TOML settings file, with one-line errors that name it and the fix."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from monitor.errors import CallmonitorError


def read_toml(path: Path, is_site: bool) -> dict[str, Any]:
    """The file's tables; ``is_site``: the user named it (the fix differs)."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        fix = ("give an existing file to --config / $CALLMONITOR_CONFIG" if is_site
               else "restore it from the repository or set CALLMONITOR_CONFIG_DIR")
        raise CallmonitorError(f"config file {path} is missing", fix) from None
    except OSError as exc:
        raise CallmonitorError(f"config file {path} cannot be read ({exc.strerror})",
                               "check the path and its permissions") from None
    try:
        return tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise CallmonitorError(f"config file {path} is not UTF-8 (byte {exc.start})",
                               "save it as UTF-8") from None
    except tomllib.TOMLDecodeError as exc:
        raise CallmonitorError(f"config file {path} is not valid TOML ({exc})",
                               "fix the syntax at the position named") from None
