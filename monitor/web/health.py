"""``/healthz``: whether the review app can use its session database, for a load balancer or a
monitoring probe. Public, and answered before any sign-in is looked up.

Reaching the server is not enough: a database whose tables were dropped (or a URL that names
the wrong database) answers ``SELECT 1`` but no page, so the probe asks for the tables."""

from __future__ import annotations

import logging

from flask import Blueprint, Response, jsonify

from monitor.errors import CallmonitorError
from monitor.storage.database import StoreNotCreated, open_database
from monitor.web.context import settings

log = logging.getLogger("monitor.web")

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def check() -> tuple[Response, int]:
    try:
        with open_database(settings().location) as db:
            db.require_schema()
    except StoreNotCreated as exc:
        log.error("health check: %s", exc)
        return jsonify(status="database has no schema", missing_tables=list(exc.missing)), 503
    except CallmonitorError as exc:
        log.error("health check: %s", exc)
        return jsonify(status="database unavailable"), 503
    return jsonify(status="ok"), 200
