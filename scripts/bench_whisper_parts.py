"""Where a Whisper replay's CPU goes, per part of each phrase's decode.

    .venv/bin/python scripts/bench_whisper_parts.py [--minutes 10]

The call is ``scripts/bench_replay.py``'s (the demo conversation repeated), replayed through
the real pipeline with the zh-CN profile and faster-whisper on one thread, in this process
pinned to one core. Each part of a decode is timed in process CPU seconds by wrapping the
loaded model's own methods (nothing in the pipeline changes): the log-mel features
(faster-whisper's numpy STFT), the encoder (CTranslate2 ``encode``), greedy decoding
(``generate``), the word-time pass (``add_word_timestamps``: CTranslate2's ``align`` and
faster-whisper's Python around it), the rest of faster-whisper's Python (``transcribe``'s
setup, the tokenizer, segment building), our own decoder code (``WhisperRecognizer`` and
``WhisperDecoder``: text normalising, word units) and the rest of the pipeline (VAD, tones,
rules). Prints each part's seconds, share and seconds per decode, and the whole replay's
times real time.
"""

from __future__ import annotations

import argparse
import collections
import functools
import os
import time
from collections.abc import Callable
from typing import Any

from bench_replay import REPO_DIR, long_call

from monitor.asr import load_whisper
from monitor.asr.whisper import WhisperRecognizer
from monitor.config import load_config
from testkit.replay import replay_records

SPENT: collections.Counter[str] = collections.Counter()
CALLS: collections.Counter[str] = collections.Counter()


def timed(name: str, method: Callable[..., Any]) -> Callable[..., Any]:
    """``method``, adding its CPU seconds to ``SPENT[name]`` (inclusive of what it calls)."""
    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = time.process_time()
        try:
            return method(*args, **kwargs)
        finally:
            SPENT[name] += time.process_time() - started
            CALLS[name] += 1
    return wrapper


def timed_generator(name: str, method: Callable[..., Any]) -> Callable[..., Any]:
    """``method`` (a generator function), adding the CPU seconds of each step to
    ``SPENT[name]``: faster-whisper decodes lazily, as its segments are taken."""
    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        steps = method(*args, **kwargs)
        CALLS[name] += 1
        while True:
            started = time.process_time()
            try:
                item = next(steps)
            except StopIteration:
                return
            finally:
                SPENT[name] += time.process_time() - started
            yield item
    return wrapper


class _TimedCall:
    """A callable object (the feature extractor) whose calls are timed; attributes pass on."""

    def __init__(self, name: str, target: Any) -> None:
        self.__dict__["_target"] = target
        self.__dict__["_call"] = timed(name, target.__call__)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._call(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._target, name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._target, name, value)


class _TimedModel:
    """CTranslate2's Whisper with ``encode``, ``generate`` and ``align`` timed."""

    def __init__(self, target: Any) -> None:
        self._target = target
        self.encode = timed("encode", target.encode)
        self.generate = timed("generate", target.generate)
        self.align = timed("align", target.align)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._target, name)


def instrument(recognizer: WhisperRecognizer) -> None:
    """Wrap the parts of ``recognizer``'s model (and its own entry) in timers."""
    model = recognizer._model
    model.feature_extractor = _TimedCall("features", model.feature_extractor)
    model.model = _TimedModel(model.model)
    model.add_word_timestamps = timed("word_pass", model.add_word_timestamps)
    model.transcribe = timed("fw_setup", model.transcribe)
    model.generate_segments = timed_generator("fw_segments", model.generate_segments)
    recognizer.transcribe = timed("ours", recognizer.transcribe)  # type: ignore[method-assign]


def parts(total_s: float) -> dict[str, float]:
    """Exclusive CPU seconds of each part, from the inclusive timers."""
    fw = SPENT["fw_setup"] + SPENT["fw_segments"]
    return {
        "features (numpy STFT)": SPENT["features"],
        "encode (CTranslate2)": SPENT["encode"],
        "generate (greedy)": SPENT["generate"],
        "word pass: align (CTranslate2)": SPENT["align"],
        "word pass: Python": SPENT["word_pass"] - SPENT["align"],
        "faster-whisper other Python": fw - SPENT["features"] - SPENT["encode"]
        - SPENT["generate"] - SPENT["word_pass"],
        "our decoder code": SPENT["ours"] - fw,
        "pipeline without ASR": total_s - SPENT["ours"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    args = parser.parse_args()
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    out_dir = REPO_DIR / "var" / "bench"
    out_dir.mkdir(parents=True, exist_ok=True)
    wav = long_call(args.minutes, out_dir)
    cfg = load_config("zh-CN", {"asr": {"whisper_threads": 1}})
    recognizer = load_whisper(cfg.asr, cfg.language)
    instrument(recognizer)
    started = time.process_time()
    records = replay_records(wav, cfg, recognizer)
    total_s = time.process_time() - started
    audio_s = records[-1]["duration_s"]
    decodes = CALLS["fw_setup"]
    print(f"call: {wav.name} ({audio_s:.0f} s, two channels), {cfg.asr.whisper_model}, "
          f"one thread; {CALLS['ours']} phrases, {decodes} decodes, {CALLS['encode']} "
          f"encodes, {CALLS['generate']} generates, {CALLS['align']} aligns")
    for name, spent in parts(total_s).items():
        print(f"{name:<32} {spent:7.2f} s CPU {spent / total_s:6.1%} "
              f"{1000 * spent / max(decodes, 1):7.1f} ms/decode")
    print(f"{'whole replay':<32} {total_s:7.2f} s CPU ({audio_s / total_s:.1f}x real time)")


if __name__ == "__main__":
    main()
