"""Spoken hints in the agent's headset: which alert to say when, the voice, and the playback."""
