"""Shared fixtures. Real models load once per test session through the production search order."""
from fixtures_asr import *  # noqa: F403 - the speech model fixtures
from fixtures_synth import *  # noqa: F403
