"""The supervisor review web app (``callmonitor serve``): see ``monitor.web.app``."""

from monitor.web.app import create_app

__all__ = ["create_app"]
