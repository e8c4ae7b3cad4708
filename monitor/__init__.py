"""callmonitor: checks telephone service calls against the service standard, live or replayed."""

__version__ = "0.1.0"
