"""callmonitor: checks telephone service calls against the service standard, live or replayed.

``monitor.analyse(path, ...)`` (``monitor.api``) analyses one recorded call for a notebook; it
is imported on first use, so ``import monitor`` stays light for the live monitor.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    if name in ("analyse", "Analysis"):
        from monitor import api

        return getattr(api, name)
    raise AttributeError(f"module 'monitor' has no attribute {name!r}")
