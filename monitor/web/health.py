"""``/healthz``: whether the review app can reach its session database, for a load balancer or
a monitoring probe. Public, and answered before any sign-in is looked up."""

from __future__ import annotations

import logging

from flask import Blueprint, Response, jsonify

from monitor.errors import CallmonitorError
from monitor.storage.database import open_database
from monitor.web.context import settings

log = logging.getLogger("monitor.web")

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def check() -> tuple[Response, int]:
    try:
        with open_database(settings().location) as db:
            db.one("SELECT 1")
    except CallmonitorError as exc:
        log.error("health check: %s", exc)
        return jsonify(status="database unavailable"), 503
    return jsonify(status="ok"), 200
