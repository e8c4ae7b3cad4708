"""Free ports for the servers tests start (PostgreSQL, baresip, Ray, the review app, the tap)."""

from __future__ import annotations

import socket


def free_port(kind: int = socket.SOCK_STREAM, host: str = "127.0.0.1") -> int:
    """A port nobody is bound to on ``host`` right now (``""``: on every interface, for a
    server that binds them all, as Ray's GCS does)."""
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])
